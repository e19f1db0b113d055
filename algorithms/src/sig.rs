//! Host key and user key signatures: verifying (by algorithm) kept apart from
//! signing (by key), because one key serves several algorithms (an RSA key
//! signs as `ssh-rsa`, `rsa-sha2-256` and `rsa-sha2-512`).

use crate::{Algorithm, AlgorithmError};
use alloc::string::ToString;
use alloc::vec::Vec;
use rand_core::CryptoRng;
use sekura_proto::{Reader, Writer};

/// A public-key signature algorithm as negotiated in KEXINIT
/// (`server_host_key_algorithms`) or named in a publickey request.
pub trait SignatureAlgorithm: Algorithm {
    /// The key format it verifies with, as named inside key blobs
    /// (`ssh-rsa` for `rsa-sha2-256`; the same as the algorithm name for most).
    fn key_type(&self) -> &str;
    /// Verifies `signature` (the encoded `string name, string blob` of RFC
    /// 4253 §6.6) over `message` with the public key blob `public_key`.
    fn verify(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AlgorithmError>;
}

/// A private key that can sign: a host key on a server, a user key on a
/// client, or a key held elsewhere (an agent) behind this trait.
pub trait SigningKey: Send + Sync {
    /// The key format name, e.g. `ssh-ed25519`, `ssh-rsa`.
    fn key_type(&self) -> &str;
    /// The public key blob (RFC 4253 §6.6 encoding).
    fn public_key_blob(&self) -> Vec<u8>;
    /// The signature algorithms this key can sign with, most preferred first.
    fn signature_algorithms(&self) -> Vec<&str>;
    /// Signs `message` with `algorithm`, returning the encoded signature
    /// (`string name, string blob`).
    fn sign(
        &self,
        algorithm: &str,
        message: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, AlgorithmError>;
}

/// Encodes a signature: `string algorithm, string blob`.
#[must_use]
pub fn encode_signature(algorithm: &str, blob: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + algorithm.len() + blob.len());
    out.put_str(algorithm);
    out.put_string(blob);
    out
}

/// Splits an encoded signature into its algorithm name and blob, checking
/// the name is `expected`.
pub fn decode_signature<'a>(
    signature: &'a [u8],
    expected: &str,
) -> Result<&'a [u8], AlgorithmError> {
    let mut r = Reader::new(signature);
    let name = r.utf8("signature algorithm")?;
    let blob = r.string()?;
    r.finish_with("signature")?;
    if name != expected {
        return Err(AlgorithmError::Signature(alloc::format!(
            "signature is {name}, expected {expected}"
        )));
    }
    Ok(blob)
}

/// The SHA-256 fingerprint of a public key blob as OpenSSH prints it:
/// `SHA256:` followed by unpadded standard base64 of the digest.
#[must_use]
pub fn fingerprint_sha256(public_key: &[u8]) -> alloc::string::String {
    use crate::HashFunction;
    use ssh_key::encoding::base64::{Base64Unpadded, Encoding};
    let digest = crate::hash::SHA256.digest(&[public_key]);
    alloc::format!("SHA256:{}", Base64Unpadded::encode_string(&digest))
}

/// Reads the key type name at the start of a public key blob.
pub fn key_type_of(public_key: &[u8]) -> Result<&str, AlgorithmError> {
    Reader::new(public_key)
        .utf8("key type")
        .map_err(|e| AlgorithmError::Signature(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_openssh_shaped() {
        // python3 -c "import hashlib,base64;print(base64.b64encode(
        //   hashlib.sha256(b'x').digest()).decode().rstrip('='))"
        let fp = fingerprint_sha256(b"x");
        assert_eq!(fp, "SHA256:LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE");
    }

    #[test]
    fn signature_envelope() {
        let sig = encode_signature("ssh-ed25519", &[1, 2, 3]);
        assert_eq!(decode_signature(&sig, "ssh-ed25519").unwrap(), [1, 2, 3]);
        assert!(decode_signature(&sig, "ssh-rsa").is_err());
        assert!(decode_signature(&sig[..sig.len() - 1], "ssh-ed25519").is_err());
        let mut blob = Vec::new();
        blob.put_str("ssh-ed25519");
        blob.put_string(&[0; 32]);
        assert_eq!(key_type_of(&blob).unwrap(), "ssh-ed25519");
    }
}
