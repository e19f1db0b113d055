//! Built-in signature algorithms, signing keys and key files.
//!
//! | wire name | static | key type | hash | spec |
//! |---|---|---|---|---|
//! | `ssh-ed25519` | [`SSH_ED25519`] | `ssh-ed25519` | (SHA-512 inside Ed25519) | RFC 8709 |
//! | `ecdsa-sha2-nistp256` | [`ECDSA_SHA2_NISTP256`] | same | SHA-256 | RFC 5656 §3 |
//! | `ecdsa-sha2-nistp384` | [`ECDSA_SHA2_NISTP384`] | same | SHA-384 | RFC 5656 §3 |
//! | `ecdsa-sha2-nistp521` | [`ECDSA_SHA2_NISTP521`] | same | SHA-512 | RFC 5656 §3 |
//! | `rsa-sha2-512` | [`RSA_SHA2_512`] | `ssh-rsa` | SHA-512 | RFC 8332 |
//! | `rsa-sha2-256` | [`RSA_SHA2_256`] | `ssh-rsa` | SHA-256 | RFC 8332 |
//! | `ssh-rsa` | [`SSH_RSA`] | `ssh-rsa` | SHA-1 | RFC 4253 §6.6 |
//! | `ssh-dss` | [`SSH_DSS`] | `ssh-dss` | SHA-1 | RFC 4253 §6.6 |
//!
//! [`DEFAULT`] is OpenSSH's `HostKeyAlgorithms` default order without the
//! certificate and security-key types; [`LEGACY`] holds the SHA-1 algorithms
//! a caller must ask for by name (SHA-1 signatures are forgeable with chosen
//! prefixes, and DSA is fixed at 1024 bits).
//!
//! Keys: [`PrivateKey`] loads OpenSSH, PKCS#1, SEC1, PKCS#8 and legacy
//! encrypted PEM files, generates new keys and signs (it is a
//! [`SigningKey`](crate::SigningKey)); [`PublicKey`] reads `.pub` files and
//! `authorized_keys` lines and computes fingerprints as `ssh-keygen -l` does.
//!
//! Verification treats the key blob and the signature as hostile: both are
//! parsed strictly (RFC 4253 §6.6 layouts, minimal non-negative mpints, no
//! trailing bytes), every length is checked against the bytes that are
//! really there, and RSA moduli outside 1024..=16384 bits are refused before
//! any arithmetic.

use crate::{AlgorithmError, SignatureAlgorithm};
use alloc::format;
use alloc::string::String;
use sekura_proto::{DecodeError, Reader};

mod dsa;
mod ecdsa;
mod ed25519;
mod error;
mod pem;
mod private_key;
mod public_key;
mod rsa;

#[cfg(test)]
mod tests;

pub use self::dsa::{Dss, SSH_DSS};
pub use self::ecdsa::{
    ECDSA_SHA2_NISTP256, ECDSA_SHA2_NISTP384, ECDSA_SHA2_NISTP521, Ecdsa, EcdsaCurve,
};
pub use self::ed25519::{Ed25519, SSH_ED25519};
pub use self::error::KeyError;
pub use self::private_key::PrivateKey;
pub use self::public_key::{AuthorizedKey, KeyKind, PublicKey, parse_authorized_keys};
pub use self::rsa::{RSA_SHA2_256, RSA_SHA2_512, Rsa, RsaHash, SSH_RSA};

/// Signature algorithms offered by default, in OpenSSH's `HostKeyAlgorithms`
/// order (`KEX_DEFAULT_PK_ALG` in OpenSSH's `myproposal.h`, as of 9.6)
/// without the certificate and `sk-` types.
pub static DEFAULT: &[&dyn SignatureAlgorithm] = &[
    &SSH_ED25519,
    &ECDSA_SHA2_NISTP256,
    &ECDSA_SHA2_NISTP384,
    &ECDSA_SHA2_NISTP521,
    &RSA_SHA2_512,
    &RSA_SHA2_256,
];

/// SHA-1 signature algorithms, for peers that know nothing newer.
pub static LEGACY: &[&dyn SignatureAlgorithm] = &[&SSH_RSA, &SSH_DSS];

/// The smallest RSA modulus accepted anywhere (loading, verifying,
/// generating), in bits. OpenSSH's `SSH_RSA_MINIMUM_MODULUS_SIZE` is the same.
pub const RSA_MIN_BITS: usize = 1024;

/// The largest RSA modulus accepted, in bits, as OpenSSH
/// (`SSH_RSA_MAXIMUM_MODULUS_SIZE`): a bound on the work a hostile key can
/// cause.
pub const RSA_MAX_BITS: usize = 16384;

/// A verification failure with a reason.
fn sig_error(reason: impl Into<String>) -> AlgorithmError {
    AlgorithmError::Signature(reason.into())
}

/// Wraps a decoding error of `what` (a key blob, a signature blob).
fn decode_error(what: &str, e: &DecodeError) -> AlgorithmError {
    sig_error(format!("{what}: {e}"))
}

/// Starts reading a public key blob, checking its key type is `key_type`.
fn blob_reader<'a>(blob: &'a [u8], key_type: &str) -> Result<Reader<'a>, AlgorithmError> {
    let mut r = Reader::new(blob);
    let found = r
        .string()
        .map_err(|e| decode_error("public key blob", &e))?;
    if found != key_type.as_bytes() {
        return Err(sig_error(format!(
            "public key blob is of type {}, expected {key_type}",
            String::from_utf8_lossy(found)
        )));
    }
    Ok(r)
}

/// Reads an `mpint` that must be a positive integer in the minimal encoding
/// RFC 4251 §5 requires, and returns its magnitude without leading zeros.
///
/// Negative values, zero and redundant leading zero bytes are errors: none
/// of the integers in keys and signatures can be zero or negative, and a
/// lenient reader would accept several encodings of one signature.
fn positive_mpint<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], AlgorithmError> {
    let bytes = r.string().map_err(|e| decode_error(what, &e))?;
    match bytes {
        [] => Err(sig_error(format!(
            "{what}: expected a positive mpint, found zero"
        ))),
        [first, ..] if first & 0x80 != 0 => Err(sig_error(format!(
            "{what}: expected a positive mpint, found a negative one"
        ))),
        [0] | [0, 0..=0x7f, ..] => Err(sig_error(format!(
            "{what}: mpint has a redundant leading zero byte"
        ))),
        [0, rest @ ..] => Ok(rest),
        _ => Ok(bytes),
    }
}

/// The number of significant bits of a big-endian magnitude (leading zero
/// bytes allowed).
fn bit_length(magnitude: &[u8]) -> usize {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    match magnitude.get(start..).unwrap_or_default() {
        [] => 0,
        digits @ [top, ..] => (digits.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

/// Ends reading a blob: nothing may follow.
fn finish(r: Reader<'_>, what: &'static str) -> Result<(), AlgorithmError> {
    r.finish_with(what).map_err(|e| decode_error(what, &e))
}
