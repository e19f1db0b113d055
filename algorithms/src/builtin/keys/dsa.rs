//! `ssh-dss` (RFC 4253 §6.6): DSA with 1024-bit p, 160-bit q and SHA-1.
//!
//! Key blob: `string "ssh-dss", mpint p, mpint q, mpint g, mpint y`.
//! Signature blob: r and s as two 20-byte unsigned integers, 40 bytes.

use super::{bit_length, blob_reader, finish, positive_mpint, sig_error};
use crate::sig::decode_signature;
use crate::{Algorithm, AlgorithmError, SignatureAlgorithm};
use alloc::format;
use alloc::vec::Vec;
use crypto_bigint::BoxedUint;
use digest::Digest;
use sekura_proto::Writer;
use signature::hazmat::PrehashVerifier;

/// The key type and signature algorithm name.
pub(super) const NAME: &str = "ssh-dss";

/// Bytes of each of r and s in a signature blob.
const COMPONENT_LEN: usize = 20;

/// The only modulus size of `ssh-dss` keys that OpenSSH makes or accepts.
const P_BITS: usize = 1024;

/// The `ssh-dss` signature algorithm.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dss;

/// `ssh-dss` (RFC 4253 §6.6): legacy.
pub static SSH_DSS: Dss = Dss;

impl Algorithm for Dss {
    fn name(&self) -> &str {
        NAME
    }
}

impl SignatureAlgorithm for Dss {
    fn key_type(&self) -> &str {
        NAME
    }

    fn verify(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AlgorithmError> {
        let key = parse_public(public_key)?;
        let blob = decode_signature(signature, NAME)?;
        if blob.len() != 2 * COMPONENT_LEN {
            return Err(sig_error(format!(
                "ssh-dss signature must be 40 bytes, found {}",
                blob.len()
            )));
        }
        let (r, s) = blob.split_at(COMPONENT_LEN);
        let precision = key.components().q().bits_precision();
        let component = |bytes: &[u8]| {
            BoxedUint::from_be_slice(bytes, precision)
                .map_err(|_| sig_error("ssh-dss signature component does not fit q"))
        };
        // from_components refuses zero; verification refuses r, s >= q.
        let sig = ::dsa::Signature::from_components(component(r)?, component(s)?)
            .ok_or_else(|| sig_error("ssh-dss signature r or s is zero"))?;
        key.verify_prehash(&sha1::Sha1::digest(message), &sig)
            .map_err(|_| sig_error("ssh-dss signature does not verify"))
    }
}

/// Parses an `ssh-dss` key blob. Only 1024-bit p with 160-bit q is
/// accepted: the 40-byte signature format has room for nothing else.
pub(super) fn parse_public(blob: &[u8]) -> Result<::dsa::VerifyingKey, AlgorithmError> {
    let mut r = blob_reader(blob, NAME)?;
    let p = positive_mpint(&mut r, "DSA p")?;
    let q = positive_mpint(&mut r, "DSA q")?;
    let g = positive_mpint(&mut r, "DSA g")?;
    let y = positive_mpint(&mut r, "DSA y")?;
    finish(r, "ssh-dss public key blob")?;
    let (p_bits, q_bits) = (bit_length(p), bit_length(q));
    if p_bits != P_BITS || q_bits != 8 * COMPONENT_LEN {
        return Err(sig_error(format!(
            "ssh-dss key must have a 1024-bit p and a 160-bit q, found {p_bits} and {q_bits} bits"
        )));
    }
    // g and y are below p; anything longer is refused before it is copied.
    if bit_length(g) > P_BITS || bit_length(y) > P_BITS {
        return Err(sig_error("ssh-dss key has g or y longer than p"));
    }
    let components = ::dsa::Components::from_components(
        BoxedUint::from_be_slice_vartime(p),
        BoxedUint::from_be_slice_vartime(q),
        BoxedUint::from_be_slice_vartime(g),
    )
    .map_err(|_| sig_error("invalid DSA parameters"))?;
    // from_components checks 1 < y and y^q = 1 (mod p).
    ::dsa::VerifyingKey::from_components(components, BoxedUint::from_be_slice_vartime(y))
        .map_err(|_| sig_error("invalid DSA public key y"))
}

/// The key blob of `key`.
pub(super) fn public_blob(key: &::dsa::VerifyingKey) -> Vec<u8> {
    let c = key.components();
    let mut out = Vec::with_capacity(4 + NAME.len() + 4 * 5 + 3 * 128 + 20);
    out.put_str(NAME);
    for value in [
        c.p().as_ref(),
        c.q().as_ref(),
        c.g().as_ref(),
        key.y().as_ref(),
    ] {
        out.put_mpint_unsigned(&value.to_be_bytes_trimmed_vartime());
    }
    out
}

/// Signs `message`: SHA-1, then DSA with the nonce of RFC 6979 (never a
/// nonce from the RNG: a repeated or biased DSA nonce gives the key away).
pub(super) fn sign(key: &::dsa::SigningKey, message: &[u8]) -> Result<Vec<u8>, AlgorithmError> {
    let digest = sha1::Sha1::digest(message);
    let sig = key
        .sign_prehashed_rfc6979::<sha1::Sha1>(&digest)
        .map_err(|_| sig_error("ssh-dss signing failed"))?;
    let mut out = Vec::with_capacity(2 * COMPONENT_LEN);
    for component in [sig.r(), sig.s()] {
        let bytes = component.to_be_bytes_trimmed_vartime();
        let pad = COMPONENT_LEN
            .checked_sub(bytes.len())
            .ok_or_else(|| sig_error("ssh-dss signature component exceeds 160 bits"))?;
        out.resize(out.len() + pad, 0);
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}
