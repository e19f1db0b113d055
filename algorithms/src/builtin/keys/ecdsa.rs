//! `ecdsa-sha2-nistp256/384/521` (RFC 5656 §3).
//!
//! Key blob: `string name, string curve identifier, string Q` with Q an
//! uncompressed SEC1 point. Signature blob: `mpint r, mpint s`. The hash
//! follows the curve size (RFC 5656 §6.2.1): SHA-256, SHA-384, SHA-512.

use super::{blob_reader, decode_error, finish, positive_mpint, sig_error};
use crate::sig::decode_signature;
use crate::{Algorithm, AlgorithmError, SignatureAlgorithm};
use alloc::format;
use alloc::vec::Vec;
use sekura_proto::{Reader, Writer};
use signature::{Signer, Verifier};

/// A NIST curve that SSH uses for ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcdsaCurve {
    /// NIST P-256 (secp256r1), `nistp256`.
    NistP256,
    /// NIST P-384 (secp384r1), `nistp384`.
    NistP384,
    /// NIST P-521 (secp521r1), `nistp521`.
    NistP521,
}

impl EcdsaCurve {
    /// The signature algorithm and key type name, e.g. `ecdsa-sha2-nistp256`.
    #[must_use]
    pub const fn algorithm_name(self) -> &'static str {
        match self {
            EcdsaCurve::NistP256 => "ecdsa-sha2-nistp256",
            EcdsaCurve::NistP384 => "ecdsa-sha2-nistp384",
            EcdsaCurve::NistP521 => "ecdsa-sha2-nistp521",
        }
    }

    /// The curve identifier inside key blobs (RFC 5656 §6.1), e.g. `nistp256`.
    #[must_use]
    pub const fn identifier(self) -> &'static str {
        match self {
            EcdsaCurve::NistP256 => "nistp256",
            EcdsaCurve::NistP384 => "nistp384",
            EcdsaCurve::NistP521 => "nistp521",
        }
    }

    /// Length of a field element (and of a scalar) in bytes.
    #[must_use]
    pub const fn field_len(self) -> usize {
        match self {
            EcdsaCurve::NistP256 => 32,
            EcdsaCurve::NistP384 => 48,
            EcdsaCurve::NistP521 => 66,
        }
    }

    /// The curve of a key type name, if it is an ECDSA one.
    #[must_use]
    pub fn from_algorithm_name(name: &str) -> Option<Self> {
        [
            EcdsaCurve::NistP256,
            EcdsaCurve::NistP384,
            EcdsaCurve::NistP521,
        ]
        .into_iter()
        .find(|c| c.algorithm_name() == name)
    }
}

/// An `ecdsa-sha2-*` signature algorithm.
#[derive(Debug, Clone, Copy)]
pub struct Ecdsa {
    curve: EcdsaCurve,
}

impl Ecdsa {
    /// The algorithm over `curve`.
    #[must_use]
    pub const fn new(curve: EcdsaCurve) -> Self {
        Ecdsa { curve }
    }

    /// The curve.
    #[must_use]
    pub const fn curve(&self) -> EcdsaCurve {
        self.curve
    }
}

/// `ecdsa-sha2-nistp256` (RFC 5656).
pub static ECDSA_SHA2_NISTP256: Ecdsa = Ecdsa::new(EcdsaCurve::NistP256);
/// `ecdsa-sha2-nistp384` (RFC 5656).
pub static ECDSA_SHA2_NISTP384: Ecdsa = Ecdsa::new(EcdsaCurve::NistP384);
/// `ecdsa-sha2-nistp521` (RFC 5656).
pub static ECDSA_SHA2_NISTP521: Ecdsa = Ecdsa::new(EcdsaCurve::NistP521);

impl Algorithm for Ecdsa {
    fn name(&self) -> &str {
        self.curve.algorithm_name()
    }
}

impl SignatureAlgorithm for Ecdsa {
    fn key_type(&self) -> &str {
        self.curve.algorithm_name()
    }

    fn verify(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AlgorithmError> {
        let key = parse_public(public_key, self.curve)?;
        let blob = decode_signature(signature, self.curve.algorithm_name())?;
        let mut r = Reader::new(blob);
        let sig_r = positive_mpint(&mut r, "ECDSA signature r")?;
        let sig_s = positive_mpint(&mut r, "ECDSA signature s")?;
        finish(r, "ECDSA signature blob")?;
        key.verify(message, sig_r, sig_s)
    }
}

/// A parsed ECDSA public key of any supported curve.
#[derive(Debug, Clone)]
pub(super) enum EcdsaPublic {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

/// Copies a big-endian magnitude into a zeroed fixed-size field, right
/// aligned; a magnitude longer than the field is out of range.
fn left_pad(field: &mut [u8], magnitude: &[u8], what: &str) -> Result<(), AlgorithmError> {
    let start = field.len().checked_sub(magnitude.len()).ok_or_else(|| {
        sig_error(format!(
            "ECDSA signature {what} is {} bytes, longer than the {}-byte group order",
            magnitude.len(),
            field.len()
        ))
    })?;
    field
        .get_mut(start..)
        .ok_or_else(|| sig_error("ECDSA scalar does not fit"))?
        .copy_from_slice(magnitude);
    Ok(())
}

macro_rules! verify_curve {
    ($krate:ident, $key:expr, $message:expr, $r:expr, $s:expr) => {{
        let mut r = $krate::FieldBytes::default();
        let mut s = $krate::FieldBytes::default();
        left_pad(&mut r, $r, "r")?;
        left_pad(&mut s, $s, "s")?;
        // from_scalars refuses r or s of zero or at least the group order.
        let sig = $krate::ecdsa::Signature::from_scalars(r, s)
            .map_err(|_| sig_error("ECDSA signature r or s is not below the group order"))?;
        $key.verify($message, &sig)
            .map_err(|_| sig_error("ECDSA signature does not verify"))
    }};
}

impl EcdsaPublic {
    /// Verifies the signature (r, s) over `message`, hashing by curve size.
    fn verify(&self, message: &[u8], r: &[u8], s: &[u8]) -> Result<(), AlgorithmError> {
        match self {
            EcdsaPublic::P256(key) => verify_curve!(p256, key, message, r, s),
            EcdsaPublic::P384(key) => verify_curve!(p384, key, message, r, s),
            EcdsaPublic::P521(key) => verify_curve!(p521, key, message, r, s),
        }
    }

    /// The curve.
    pub(super) fn curve(&self) -> EcdsaCurve {
        match self {
            EcdsaPublic::P256(_) => EcdsaCurve::NistP256,
            EcdsaPublic::P384(_) => EcdsaCurve::NistP384,
            EcdsaPublic::P521(_) => EcdsaCurve::NistP521,
        }
    }

    /// Q as an uncompressed SEC1 point.
    fn point(&self) -> Vec<u8> {
        match self {
            EcdsaPublic::P256(key) => key.to_sec1_point(false).as_bytes().to_vec(),
            EcdsaPublic::P384(key) => key.to_sec1_point(false).as_bytes().to_vec(),
            EcdsaPublic::P521(key) => key.to_sec1_point(false).as_bytes().to_vec(),
        }
    }

    /// The key blob (RFC 5656 §3.1).
    pub(super) fn to_blob(&self) -> Vec<u8> {
        let curve = self.curve();
        let point = self.point();
        let mut out = Vec::with_capacity(12 + 19 + 8 + point.len());
        out.put_str(curve.algorithm_name());
        out.put_str(curve.identifier());
        out.put_string(&point);
        out
    }
}

/// Parses the key blob of an `ecdsa-sha2-*` key of `curve`.
pub(super) fn parse_public(blob: &[u8], curve: EcdsaCurve) -> Result<EcdsaPublic, AlgorithmError> {
    let mut r = blob_reader(blob, curve.algorithm_name())?;
    let id = r
        .string()
        .map_err(|e| decode_error("ECDSA curve identifier", &e))?;
    if id != curve.identifier().as_bytes() {
        return Err(sig_error(format!(
            "{} key names curve {}, expected {}",
            curve.algorithm_name(),
            alloc::string::String::from_utf8_lossy(id),
            curve.identifier()
        )));
    }
    let point = r.string().map_err(|e| decode_error("ECDSA point", &e))?;
    finish(r, "ECDSA public key blob")?;
    // OpenSSH accepts only uncompressed points (0x04 || x || y).
    let expected = 1 + 2 * curve.field_len();
    if point.len() != expected || point.first() != Some(&0x04) {
        return Err(sig_error(format!(
            "{} point must be uncompressed ({expected} bytes starting 04), found {} bytes",
            curve.identifier(),
            point.len()
        )));
    }
    let invalid = |_| sig_error(format!("{} point is not on the curve", curve.identifier()));
    Ok(match curve {
        EcdsaCurve::NistP256 => {
            EcdsaPublic::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(invalid)?)
        }
        EcdsaCurve::NistP384 => {
            EcdsaPublic::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(invalid)?)
        }
        EcdsaCurve::NistP521 => {
            EcdsaPublic::P521(p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(invalid)?)
        }
    })
}

/// An ECDSA private key of any supported curve.
#[derive(Clone)]
pub(super) enum EcdsaPrivate {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

macro_rules! sign_curve {
    ($krate:ident, $key:expr, $message:expr) => {{
        // Deterministic (RFC 6979): no nonce from a possibly weak RNG.
        let sig: $krate::ecdsa::Signature = $key.sign($message);
        let (r, s) = sig.split_bytes();
        let mut out = Vec::with_capacity(2 * (4 + 1 + r.len()));
        out.put_mpint_unsigned(&r);
        out.put_mpint_unsigned(&s);
        out
    }};
}

impl EcdsaPrivate {
    /// The matching public key.
    pub(super) fn public(&self) -> EcdsaPublic {
        match self {
            EcdsaPrivate::P256(k) => EcdsaPublic::P256(*k.verifying_key()),
            EcdsaPrivate::P384(k) => EcdsaPublic::P384(*k.verifying_key()),
            EcdsaPrivate::P521(k) => EcdsaPublic::P521(*k.verifying_key()),
        }
    }

    /// The curve.
    pub(super) fn curve(&self) -> EcdsaCurve {
        self.public().curve()
    }

    /// Signs `message`, returning the signature blob `mpint r, mpint s`.
    pub(super) fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            EcdsaPrivate::P256(k) => sign_curve!(p256, k, message),
            EcdsaPrivate::P384(k) => sign_curve!(p384, k, message),
            EcdsaPrivate::P521(k) => sign_curve!(p521, k, message),
        }
    }

    /// A key from its big-endian scalar: field-length, or down to 24 bytes
    /// (left-padded with zeros), non-zero and below the group order.
    pub(super) fn from_scalar(curve: EcdsaCurve, scalar: &[u8]) -> Option<Self> {
        Some(match curve {
            EcdsaCurve::NistP256 => {
                EcdsaPrivate::P256(p256::ecdsa::SigningKey::from_slice(scalar).ok()?)
            }
            EcdsaCurve::NistP384 => {
                EcdsaPrivate::P384(p384::ecdsa::SigningKey::from_slice(scalar).ok()?)
            }
            EcdsaCurve::NistP521 => {
                EcdsaPrivate::P521(p521::ecdsa::SigningKey::from_slice(scalar).ok()?)
            }
        })
    }

    /// Q as an uncompressed SEC1 point.
    pub(super) fn point(&self) -> Vec<u8> {
        self.public().point()
    }
}
