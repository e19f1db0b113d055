//! Why a key could not be loaded, parsed, generated or saved.

use alloc::string::String;

/// Why a key file, key blob or key line could not be used.
///
/// A wrong passphrase is its own variant, apart from a damaged file, so an
/// application can ask the user again instead of reporting corruption.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The input is not a well-formed key of the format it claims.
    #[error("malformed {format}: {reason}")]
    Malformed {
        /// The format being read, such as "OpenSSH private key".
        format: &'static str,
        /// What was expected and what was found.
        reason: String,
    },
    /// The key is encrypted and no passphrase was given.
    #[error("the key is encrypted: a passphrase is required")]
    Encrypted,
    /// The key is encrypted and the passphrase given does not open it.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The input is well-formed but uses something sekura does not support
    /// (a key type, curve, cipher or file format).
    #[error("unsupported {what}: {found}")]
    Unsupported {
        /// What kind of thing is unsupported, such as "key type".
        what: &'static str,
        /// The name that was found.
        found: String,
    },
    /// An RSA key is below the minimum size.
    #[error("{bits}-bit RSA key is too small: at least {minimum} bits are required")]
    TooSmall {
        /// The key's modulus size in bits.
        bits: usize,
        /// The smallest size accepted.
        minimum: usize,
    },
    /// A cryptographic operation on a well-formed key failed (key
    /// generation, encryption of a key file).
    #[error("{operation} failed: {reason}")]
    Crypto {
        /// What was being done.
        operation: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A key file could not be read.
    #[cfg(feature = "std")]
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The kind of I/O error.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
}

impl KeyError {
    /// A [`KeyError::Malformed`] for `format`.
    pub(crate) fn malformed(format: &'static str, reason: impl Into<String>) -> Self {
        KeyError::Malformed {
            format,
            reason: reason.into(),
        }
    }

    /// A [`KeyError::Unsupported`].
    pub(crate) fn unsupported(what: &'static str, found: impl Into<String>) -> Self {
        KeyError::Unsupported {
            what,
            found: found.into(),
        }
    }
}
