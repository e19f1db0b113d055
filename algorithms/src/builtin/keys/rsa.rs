//! RSA signatures: `rsa-sha2-512`, `rsa-sha2-256` (RFC 8332) and the SHA-1
//! `ssh-rsa` (RFC 4253 §6.6), all RSASSA-PKCS1-v1_5 with one key type,
//! `ssh-rsa`.

use super::{
    RSA_MAX_BITS, RSA_MIN_BITS, bit_length, blob_reader, finish, positive_mpint, sig_error,
};
use crate::sig::decode_signature;
use crate::{Algorithm, AlgorithmError, SignatureAlgorithm};
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use crypto_bigint::BoxedUint;
use digest::Digest;
use rand_core::CryptoRng;
use rsa::Pkcs1v15Sign;
use rsa::traits::PublicKeyParts;
use sekura_proto::Writer;

/// The key type of every RSA signature algorithm.
pub(super) const KEY_TYPE: &str = "ssh-rsa";

/// The hash an RSA signature algorithm signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RsaHash {
    /// SHA-1: `ssh-rsa`.
    Sha1,
    /// SHA-256: `rsa-sha2-256`.
    Sha256,
    /// SHA-512: `rsa-sha2-512`.
    Sha512,
}

impl RsaHash {
    /// The signature algorithm name.
    #[must_use]
    pub const fn algorithm_name(self) -> &'static str {
        match self {
            RsaHash::Sha1 => "ssh-rsa",
            RsaHash::Sha256 => "rsa-sha2-256",
            RsaHash::Sha512 => "rsa-sha2-512",
        }
    }

    /// The hash of a signature algorithm name, if it is an RSA one.
    #[must_use]
    pub fn from_algorithm_name(name: &str) -> Option<Self> {
        [RsaHash::Sha512, RsaHash::Sha256, RsaHash::Sha1]
            .into_iter()
            .find(|h| h.algorithm_name() == name)
    }

    /// The digest of `message` and the PKCS#1 v1.5 padding scheme whose
    /// DigestInfo prefix names the hash.
    fn digest(self, message: &[u8]) -> (Vec<u8>, Pkcs1v15Sign) {
        match self {
            RsaHash::Sha1 => (
                sha1::Sha1::digest(message).to_vec(),
                Pkcs1v15Sign::new::<sha1::Sha1>(),
            ),
            RsaHash::Sha256 => (
                sha2::Sha256::digest(message).to_vec(),
                Pkcs1v15Sign::new::<sha2::Sha256>(),
            ),
            RsaHash::Sha512 => (
                sha2::Sha512::digest(message).to_vec(),
                Pkcs1v15Sign::new::<sha2::Sha512>(),
            ),
        }
    }
}

/// An RSA signature algorithm.
#[derive(Debug, Clone, Copy)]
pub struct Rsa {
    hash: RsaHash,
}

impl Rsa {
    /// The algorithm signing with `hash`.
    #[must_use]
    pub const fn new(hash: RsaHash) -> Self {
        Rsa { hash }
    }

    /// The hash.
    #[must_use]
    pub const fn hash(&self) -> RsaHash {
        self.hash
    }
}

/// `rsa-sha2-512` (RFC 8332).
pub static RSA_SHA2_512: Rsa = Rsa::new(RsaHash::Sha512);
/// `rsa-sha2-256` (RFC 8332).
pub static RSA_SHA2_256: Rsa = Rsa::new(RsaHash::Sha256);
/// `ssh-rsa` with SHA-1 (RFC 4253 §6.6): legacy.
pub static SSH_RSA: Rsa = Rsa::new(RsaHash::Sha1);

impl Algorithm for Rsa {
    fn name(&self) -> &str {
        self.hash.algorithm_name()
    }
}

impl SignatureAlgorithm for Rsa {
    fn key_type(&self) -> &str {
        KEY_TYPE
    }

    fn verify(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AlgorithmError> {
        let key = parse_public(public_key)?;
        let blob = decode_signature(signature, self.hash.algorithm_name())?;
        verify(&key, self.hash, message, blob)
    }
}

/// Verifies a PKCS#1 v1.5 signature blob.
fn verify(
    key: &rsa::PublicKey,
    hash: RsaHash,
    message: &[u8],
    blob: &[u8],
) -> Result<(), AlgorithmError> {
    let size = key.size();
    // Some signers drop leading zero bytes of the signature; OpenSSH pads
    // them back (ssh-rsa.c), so do we. A longer blob cannot be a signature.
    if blob.len() > size {
        return Err(sig_error(format!(
            "{} signature is {} bytes, longer than the {size}-byte modulus",
            hash.algorithm_name(),
            blob.len()
        )));
    }
    let mut padded = vec![0u8; size];
    padded
        .get_mut(size - blob.len()..)
        .ok_or_else(|| sig_error("RSA signature does not fit"))?
        .copy_from_slice(blob);
    let (digest, scheme) = hash.digest(message);
    key.verify(scheme, &digest, &padded).map_err(|_| {
        sig_error(format!(
            "{} signature does not verify",
            hash.algorithm_name()
        ))
    })
}

/// Reads e and n from the key blob `string "ssh-rsa", mpint e, mpint n`
/// (RFC 4253 §6.6).
fn read_public(blob: &[u8]) -> Result<(&[u8], &[u8]), AlgorithmError> {
    let mut r = blob_reader(blob, KEY_TYPE)?;
    let e = positive_mpint(&mut r, "RSA public exponent")?;
    let n = positive_mpint(&mut r, "RSA modulus")?;
    finish(r, "ssh-rsa public key blob")?;
    Ok((e, n))
}

/// The modulus size of an RSA key blob in bits.
pub(super) fn modulus_bits(blob: &[u8]) -> Result<usize, AlgorithmError> {
    read_public(blob).map(|(_, n)| bit_length(n))
}

/// Parses an RSA key blob, refusing moduli outside 1024..=16384 bits before
/// any arithmetic.
pub(super) fn parse_public(blob: &[u8]) -> Result<rsa::PublicKey, AlgorithmError> {
    let (e, n) = read_public(blob)?;
    // The rsa crate refuses e >= 2^33; refuse a long one before copying it.
    if e.len() > 8 {
        return Err(sig_error(format!(
            "RSA public exponent is {} bytes, expected at most 8",
            e.len()
        )));
    }
    let bits = bit_length(n);
    if bits < RSA_MIN_BITS {
        return Err(sig_error(format!(
            "{bits}-bit RSA key is below the {RSA_MIN_BITS}-bit minimum"
        )));
    }
    if bits > RSA_MAX_BITS {
        return Err(sig_error(format!(
            "{bits}-bit RSA key is above the {RSA_MAX_BITS}-bit maximum"
        )));
    }
    // The rsa crate bounds e (odd, 2 < e < 2^33) against slow-exponent keys.
    rsa::PublicKey::new_with_size_limits(
        BoxedUint::from_be_slice_vartime(n),
        BoxedUint::from_be_slice_vartime(e),
        RSA_MIN_BITS..=RSA_MAX_BITS,
    )
    .map_err(|err| sig_error(format!("invalid RSA public key: {err}")))
}

/// The key blob of `key`.
pub(super) fn public_blob(key: &rsa::PublicKey) -> Vec<u8> {
    let e = key.e().to_be_bytes_trimmed_vartime();
    let n = key.n().to_be_bytes_trimmed_vartime();
    let mut out = Vec::with_capacity(4 + KEY_TYPE.len() + 2 * 5 + e.len() + n.len());
    out.put_str(KEY_TYPE);
    out.put_mpint_unsigned(&e);
    out.put_mpint_unsigned(&n);
    out
}

/// Signs `message` with `hash`; the blob is the signature as an unsigned
/// integer as long as the modulus (RFC 8332 §3). The RNG blinds the private
/// operation against timing attacks; the signature itself is deterministic.
pub(super) fn sign(
    key: &rsa::PrivateKey,
    hash: RsaHash,
    message: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<Vec<u8>, AlgorithmError> {
    let (digest, scheme) = hash.digest(message);
    key.sign_with_rng(rng, scheme, &digest)
        .map_err(|e| sig_error(format!("RSA signing failed: {e}")))
}
