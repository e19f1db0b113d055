//! `ssh-ed25519` (RFC 8709): Ed25519 (RFC 8032) over the raw message.

use super::{blob_reader, decode_error, finish, sig_error};
use crate::sig::decode_signature;
use crate::{Algorithm, AlgorithmError, SignatureAlgorithm};
use alloc::vec::Vec;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sekura_proto::Writer;
use signature::Signer;

/// The key type and signature algorithm name (RFC 8709 §4).
pub(super) const NAME: &str = "ssh-ed25519";

/// The `ssh-ed25519` signature algorithm.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ed25519;

/// `ssh-ed25519` (RFC 8709).
pub static SSH_ED25519: Ed25519 = Ed25519;

impl Algorithm for Ed25519 {
    fn name(&self) -> &str {
        NAME
    }
}

impl SignatureAlgorithm for Ed25519 {
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
        let bytes: &[u8; 64] = blob.try_into().map_err(|_| {
            sig_error(alloc::format!(
                "ssh-ed25519 signature must be 64 bytes, found {}",
                blob.len()
            ))
        })?;
        // verify_strict also refuses small-order keys and non-canonical
        // encodings, so one message has exactly one valid signature.
        key.verify_strict(message, &Signature::from_bytes(bytes))
            .map_err(|_| sig_error("ssh-ed25519 signature does not verify"))
    }
}

/// Parses the key blob `string "ssh-ed25519", string key` (RFC 8709 §4).
pub(super) fn parse_public(blob: &[u8]) -> Result<VerifyingKey, AlgorithmError> {
    let mut r = blob_reader(blob, NAME)?;
    let key = r
        .string()
        .map_err(|e| decode_error("ssh-ed25519 public key", &e))?;
    finish(r, "ssh-ed25519 public key blob")?;
    let bytes: &[u8; 32] = key.try_into().map_err(|_| {
        sig_error(alloc::format!(
            "ssh-ed25519 public key must be 32 bytes, found {}",
            key.len()
        ))
    })?;
    VerifyingKey::from_bytes(bytes)
        .map_err(|_| sig_error("ssh-ed25519 public key is not a valid curve point"))
}

/// The public key blob of `key`.
pub(super) fn public_blob(key: &VerifyingKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + NAME.len() + 4 + 32);
    out.put_str(NAME);
    out.put_string(key.as_bytes());
    out
}

/// Signs `message`: the signature blob is the 64-byte Ed25519 signature
/// (RFC 8709 §6).
pub(super) fn sign(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    key.sign(message).to_bytes().to_vec()
}
