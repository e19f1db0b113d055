//! Errors of the algorithms.

use alloc::string::String;
use sekura_proto::DecodeError;

/// A MAC or AEAD tag did not verify, or a ciphertext could not be opened.
///
/// Deliberately carries no detail: which byte was wrong is nobody's business
/// but an attacker's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, thiserror::Error)]
#[error("message authentication failed")]
pub struct CryptoError;

/// Why an algorithm could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlgorithmError {
    /// A key, IV or other input had the wrong length.
    #[error("{algorithm}: {what} must be {expected} bytes, got {found}")]
    InvalidLength {
        /// The algorithm's name.
        algorithm: &'static str,
        /// Which input.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A MAC or AEAD tag did not verify.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A peer's message could not be decoded.
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    /// A key-exchange message arrived that the method did not expect now.
    #[error("{algorithm}: unexpected message {found}, expected {expected}")]
    UnexpectedMessage {
        /// The key-exchange method.
        algorithm: &'static str,
        /// What it was waiting for.
        expected: &'static str,
        /// The message number received.
        found: u8,
    },
    /// A peer's public value, point or group was unacceptable (out of
    /// range, not on the curve, too small, an all-zero shared secret, ...).
    #[error("{algorithm}: invalid peer value: {reason}")]
    InvalidPeerValue {
        /// The key-exchange method.
        algorithm: &'static str,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A signature did not verify, or a key or signature blob was malformed.
    #[error("signature check failed: {0}")]
    Signature(String),
    /// A key cannot make signatures with the requested algorithm.
    #[error("key of type {key_type} cannot sign with {algorithm}")]
    UnsupportedSignature {
        /// The key's type.
        key_type: String,
        /// The algorithm asked for.
        algorithm: String,
    },
    /// Compressed data was corrupt or inflated past the allowed size.
    #[error("compression: {0}")]
    Compression(&'static str),
    /// The role needs something the caller did not supply (for example a
    /// server key exchange without a host key).
    #[error("missing input: {0}")]
    MissingInput(&'static str),
}
