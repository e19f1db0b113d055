//! Public keys: blobs, `.pub` files, `authorized_keys` lines, fingerprints.

use super::ecdsa::{self, EcdsaCurve};
use super::{KeyError, RSA_MIN_BITS, dsa, ed25519, rsa};
use crate::sig::key_type_of;
use crate::{AlgorithmError, SignatureAlgorithm};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use digest::Digest;
use ssh_key::encoding::base64::{Base64, Encoding};

/// The kind of a public key, with what tells keys of one type apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// `ssh-ed25519`.
    Ed25519,
    /// `ecdsa-sha2-*` on a curve.
    Ecdsa(EcdsaCurve),
    /// `ssh-rsa`, with its modulus size in bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// `ssh-dss` (always 1024 bits).
    Dsa,
}

impl KeyKind {
    /// The key type name as in key blobs and `.pub` files.
    #[must_use]
    pub const fn key_type(self) -> &'static str {
        match self {
            KeyKind::Ed25519 => ed25519::NAME,
            KeyKind::Ecdsa(curve) => curve.algorithm_name(),
            KeyKind::Rsa { .. } => rsa::KEY_TYPE,
            KeyKind::Dsa => dsa::NAME,
        }
    }

    /// The signature algorithms a key of this kind signs with, most
    /// preferred first.
    #[must_use]
    pub const fn signature_algorithms(self) -> &'static [&'static str] {
        match self {
            KeyKind::Ed25519 => &[ed25519::NAME],
            KeyKind::Ecdsa(EcdsaCurve::NistP256) => &["ecdsa-sha2-nistp256"],
            KeyKind::Ecdsa(EcdsaCurve::NistP384) => &["ecdsa-sha2-nistp384"],
            KeyKind::Ecdsa(EcdsaCurve::NistP521) => &["ecdsa-sha2-nistp521"],
            KeyKind::Rsa { .. } => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
            KeyKind::Dsa => &[dsa::NAME],
        }
    }

    /// The key size in bits as `ssh-keygen -l` reports it.
    #[must_use]
    pub const fn bits(self) -> usize {
        match self {
            KeyKind::Ed25519 => 256,
            KeyKind::Ecdsa(EcdsaCurve::NistP256) => 256,
            KeyKind::Ecdsa(EcdsaCurve::NistP384) => 384,
            KeyKind::Ecdsa(EcdsaCurve::NistP521) => 521,
            KeyKind::Rsa { bits } => bits,
            KeyKind::Dsa => 1024,
        }
    }
}

/// The signature algorithm object named `name`, if it is built in.
pub(super) fn algorithm_by_name(name: &str) -> Option<&'static dyn SignatureAlgorithm> {
    super::DEFAULT
        .iter()
        .chain(super::LEGACY)
        .copied()
        .find(|a| a.name() == name)
}

/// Why a blob is not a key, as a [`KeyError`].
fn blob_error(e: AlgorithmError) -> KeyError {
    match e {
        AlgorithmError::Signature(reason) => KeyError::malformed("public key blob", reason),
        other => KeyError::malformed("public key blob", other.to_string()),
    }
}

/// Checks a public key blob strictly and says what kind of key it holds.
pub(super) fn inspect(blob: &[u8]) -> Result<KeyKind, KeyError> {
    let key_type = key_type_of(blob).map_err(blob_error)?;
    let kind = match key_type {
        ed25519::NAME => {
            ed25519::parse_public(blob).map_err(blob_error)?;
            KeyKind::Ed25519
        }
        rsa::KEY_TYPE => {
            let bits = rsa::modulus_bits(blob).map_err(blob_error)?;
            if bits < RSA_MIN_BITS {
                return Err(KeyError::TooSmall {
                    bits,
                    minimum: RSA_MIN_BITS,
                });
            }
            rsa::parse_public(blob).map_err(blob_error)?;
            KeyKind::Rsa { bits }
        }
        dsa::NAME => {
            dsa::parse_public(blob).map(drop).map_err(blob_error)?;
            KeyKind::Dsa
        }
        other => {
            let curve = EcdsaCurve::from_algorithm_name(other)
                .ok_or_else(|| KeyError::unsupported("key type", other))?;
            ecdsa::parse_public(blob, curve).map_err(blob_error)?;
            KeyKind::Ecdsa(curve)
        }
    };
    Ok(kind)
}

/// A public key: its RFC 4253 §6.6 blob, checked on construction, and the
/// comment it came with.
///
/// Two keys are equal when their blobs are; comments do not count.
#[derive(Clone)]
pub struct PublicKey {
    blob: Vec<u8>,
    kind: KeyKind,
    comment: String,
}

impl PublicKey {
    /// Reads a public key blob (as found in key exchange replies, publickey
    /// requests and `.pub` files), checking it strictly.
    pub fn from_blob(blob: &[u8]) -> Result<Self, KeyError> {
        let kind = inspect(blob)?;
        Ok(PublicKey {
            blob: blob.to_vec(),
            kind,
            comment: String::new(),
        })
    }

    /// A key whose blob the caller built from a checked key.
    pub(super) fn from_trusted_blob(blob: Vec<u8>, kind: KeyKind, comment: String) -> Self {
        PublicKey {
            blob,
            kind,
            comment,
        }
    }

    /// Reads a key in OpenSSH's one-line format, as in `.pub` files and
    /// `known_hosts`-style listings: `type base64 [comment]`.
    pub fn from_openssh(line: &str) -> Result<Self, KeyError> {
        let line = line.trim();
        let parsed = ssh_key::PublicKey::from_openssh(line).map_err(|e| match e {
            ssh_key::Error::AlgorithmUnknown => KeyError::unsupported(
                "key type",
                line.split_whitespace().next().unwrap_or_default(),
            ),
            other => KeyError::malformed("OpenSSH public key", other.to_string()),
        })?;
        let blob = parsed
            .to_bytes()
            .map_err(|e| KeyError::malformed("OpenSSH public key", e.to_string()))?;
        let mut key = PublicKey::from_blob(&blob)?;
        key.comment = parsed.comment().as_str_lossy().to_string();
        Ok(key)
    }

    /// Reads the contents of a `.pub` file: one key line, surrounding
    /// blank lines allowed.
    pub fn from_pub_file(contents: &str) -> Result<Self, KeyError> {
        let mut lines = contents
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let line = lines.next().ok_or_else(|| {
            KeyError::malformed("public key file", "expected a key line, found none")
        })?;
        if lines.next().is_some() {
            return Err(KeyError::malformed(
                "public key file",
                "expected one key line, found several",
            ));
        }
        PublicKey::from_openssh(line)
    }

    /// Reads a `.pub` file (see [`PublicKey::from_pub_file`]).
    #[cfg(feature = "std")]
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let contents = std::fs::read_to_string(path).map_err(|e| KeyError::Io {
            path: path.display().to_string(),
            kind: e.kind(),
            message: e.to_string(),
        })?;
        PublicKey::from_pub_file(&contents)
    }

    /// Reads one `authorized_keys` line, with or without an options prefix
    /// such as `command="uptime",no-pty`.
    pub fn from_authorized_keys_line(line: &str) -> Result<AuthorizedKey, KeyError> {
        let line = line.trim();
        let first = line.split_whitespace().next().unwrap_or_default();
        if looks_like_key_type(first) {
            return Ok(AuthorizedKey {
                options: String::new(),
                key: PublicKey::from_openssh(line)?,
            });
        }
        let (options, rest) = split_options(line)?;
        Ok(AuthorizedKey {
            options: options.to_string(),
            key: PublicKey::from_openssh(rest)?,
        })
    }

    /// The public key blob (RFC 4253 §6.6).
    #[must_use]
    pub fn as_blob(&self) -> &[u8] {
        &self.blob
    }

    /// A copy of the public key blob.
    #[must_use]
    pub fn to_blob(&self) -> Vec<u8> {
        self.blob.clone()
    }

    /// The key as one OpenSSH line: `type base64 [comment]`.
    #[must_use]
    pub fn to_openssh(&self) -> String {
        let mut out = format!("{} {}", self.key_type(), Base64::encode_string(&self.blob));
        if !self.comment.is_empty() {
            out.push(' ');
            out.push_str(&self.comment);
        }
        out
    }

    /// The SHA-256 fingerprint as `ssh-keygen -l` prints it:
    /// `SHA256:` and the unpadded base64 of the blob's digest.
    #[must_use]
    pub fn fingerprint_sha256(&self) -> String {
        crate::sig::fingerprint_sha256(&self.blob)
    }

    /// The MD5 fingerprint as `ssh-keygen -l -E md5` prints it:
    /// `MD5:` and colon-separated hex pairs.
    #[must_use]
    pub fn fingerprint_md5(&self) -> String {
        let digest = md5::Md5::digest(&self.blob);
        let mut out = String::with_capacity(4 + 3 * digest.len());
        out.push_str("MD5");
        for byte in digest {
            out.push(':');
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }

    /// What kind of key this is.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The key type name, e.g. `ssh-ed25519` or `ssh-rsa`.
    #[must_use]
    pub fn key_type(&self) -> &'static str {
        self.kind.key_type()
    }

    /// The signature algorithms this key verifies, most preferred first
    /// (for RSA: `rsa-sha2-512`, `rsa-sha2-256`, `ssh-rsa`).
    #[must_use]
    pub fn signature_algorithms(&self) -> &'static [&'static str] {
        self.kind.signature_algorithms()
    }

    /// The key size in bits.
    #[must_use]
    pub fn bits(&self) -> usize {
        self.kind.bits()
    }

    /// The comment (often `user@host`), empty if none.
    #[must_use]
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// Replaces the comment.
    pub fn set_comment(&mut self, comment: impl Into<String>) {
        self.comment = comment.into();
    }

    /// Verifies an encoded signature (`string algorithm, string blob`) over
    /// `message` with this key, with whichever of the key's algorithms the
    /// signature names.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), AlgorithmError> {
        let name = sekura_proto::Reader::new(signature)
            .utf8("signature algorithm")
            .map_err(|e| AlgorithmError::Signature(e.to_string()))?;
        if !self.signature_algorithms().contains(&name) {
            return Err(AlgorithmError::Signature(format!(
                "a {} key cannot verify a {name} signature",
                self.key_type()
            )));
        }
        let algorithm = algorithm_by_name(name).ok_or_else(|| {
            AlgorithmError::Signature(format!("signature algorithm {name} is not built in"))
        })?;
        algorithm.verify(&self.blob, message, signature)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.blob == other.blob
    }
}

impl Eq for PublicKey {}

impl core::hash::Hash for PublicKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.blob.hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_type", &self.key_type())
            .field("bits", &self.bits())
            .field("fingerprint", &self.fingerprint_sha256())
            .field("comment", &self.comment)
            .finish()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_openssh())
    }
}

impl core::str::FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        PublicKey::from_openssh(s)
    }
}

/// One key of an `authorized_keys` file with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKey {
    options: String,
    key: PublicKey,
}

impl AuthorizedKey {
    /// The options prefix exactly as written (`command="…",no-pty`), empty
    /// if there is none. Interpreting them is the server's business.
    #[must_use]
    pub fn options(&self) -> &str {
        &self.options
    }

    /// The key.
    #[must_use]
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Takes the key.
    #[must_use]
    pub fn into_key(self) -> PublicKey {
        self.key
    }
}

/// Reads an `authorized_keys` file: one item per key line, with its line
/// number (from 1), skipping blank and `#` comment lines. A bad line is an
/// error item and does not stop the others, as in OpenSSH.
pub fn parse_authorized_keys(
    contents: &str,
) -> impl Iterator<Item = (usize, Result<AuthorizedKey, KeyError>)> + '_ {
    contents
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| (n, PublicKey::from_authorized_keys_line(line)))
}

/// Whether the first word of a line is a key type rather than options:
/// key type names never contain `=` or `"`, and options never begin with
/// these prefixes.
fn looks_like_key_type(word: &str) -> bool {
    !word.contains(['=', '"', ','])
        && (word.starts_with("ssh-")
            || word.starts_with("ecdsa-")
            || word.starts_with("sk-")
            || word.contains("@openssh.com"))
}

/// Splits `options rest` where options end at the first whitespace that is
/// not inside double quotes; a backslash escapes a quote within them
/// (sshd(8), AUTHORIZED_KEYS FILE FORMAT).
fn split_options(line: &str) -> Result<(&str, &str), KeyError> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            c if c.is_whitespace() && !in_quotes => {
                let (options, rest) = line.split_at(i);
                return Ok((options, rest.trim_start()));
            }
            _ => {}
        }
    }
    Err(KeyError::malformed(
        "authorized_keys line",
        if in_quotes {
            "expected a closing quote in the options, found the end of the line"
        } else {
            "expected a key after the options, found the end of the line"
        },
    ))
}
