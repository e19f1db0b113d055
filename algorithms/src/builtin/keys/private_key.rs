//! Private keys: loading (OpenSSH, PEM, PKCS#8), generating, saving, signing.

use super::ecdsa::{EcdsaCurve, EcdsaPrivate};
use super::public_key::{KeyKind, PublicKey};
use super::rsa::RsaHash;
use super::{KeyError, RSA_MAX_BITS, RSA_MIN_BITS, dsa, ed25519, pem, rsa};
use crate::{AlgorithmError, SigningKey};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use ::rsa::pkcs1::DecodeRsaPrivateKey as _;
use ::rsa::pkcs8::der::asn1::{OctetStringRef, UintRef};
use ::rsa::pkcs8::der::{Decode as _, Reader as _, SliceReader};
use ::rsa::pkcs8::{DecodePrivateKey as _, ObjectIdentifier, PrivateKeyInfoRef};
use ::rsa::traits::PublicKeyParts as _;
use ssh_key::private::{
    DsaKeypair, EcdsaKeypair, EcdsaPrivateKey, Ed25519Keypair, KeypairData, RsaKeypair,
};

/// The key material, each kind in its crate's type; every one of them
/// zeroizes its secret on drop.
#[derive(Clone)]
enum Inner {
    Ed25519(ed25519_dalek::SigningKey),
    Ecdsa(EcdsaPrivate),
    Rsa(Box<::rsa::PrivateKey>),
    Dsa(Box<::dsa::SigningKey>),
}

/// A private key that signs: a server's host key or a client's user key.
///
/// Loads the key files OpenSSH and OpenSSL write — OpenSSH's own format
/// (plain or passphrase-protected), PEM PKCS#1 (`RSA PRIVATE KEY`), SEC1
/// (`EC PRIVATE KEY`), OpenSSL DSA (`DSA PRIVATE KEY`), unencrypted PKCS#8
/// (`PRIVATE KEY`) and the legacy `Proc-Type: 4,ENCRYPTED` PEM encryption —
/// and writes OpenSSH's format. The secret is zeroized when the key is
/// dropped.
///
/// The example's RNG is a stand-in; real code passes a CSPRNG such as
/// `getrandom::SysRng`.
///
/// ```
/// use sekura_algorithms::builtin::keys::{PrivateKey, SSH_ED25519};
/// use sekura_algorithms::{SignatureAlgorithm, SigningKey};
/// # struct Rng(u64);
/// # impl rand_core::TryRng for Rng {
/// #     type Error = core::convert::Infallible;
/// #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.try_next_u64()? as u32) }
/// #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
/// #         self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
/// #         Ok(self.0)
/// #     }
/// #     fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
/// #         for b in dst { *b = self.try_next_u64()? as u8; }
/// #         Ok(())
/// #     }
/// # }
/// # impl rand_core::TryCryptoRng for Rng {}
/// # let mut rng = Rng(7);
/// let key = PrivateKey::generate_ed25519(&mut rng);
/// let signature = key.sign("ssh-ed25519", b"data", &mut rng).unwrap();
/// SSH_ED25519
///     .verify(&key.public_key_blob(), b"data", &signature)
///     .unwrap();
///
/// let saved = key.to_openssh(Some(b"passphrase"), &mut rng).unwrap();
/// let loaded = PrivateKey::from_openssh(&saved, Some(b"passphrase")).unwrap();
/// assert_eq!(loaded.public_key(), key.public_key());
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    inner: Inner,
    public: PublicKey,
}

const OPENSSH: &str = "OpenSSH private key";
const PKCS1: &str = "PKCS#1 RSA private key";
const SEC1: &str = "SEC1 EC private key";
const DSA_PEM: &str = "OpenSSL DSA private key";
const PKCS8: &str = "PKCS#8 private key";

/// id-ecPublicKey (RFC 5480 §2.1.1).
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// id-Ed25519 (RFC 8410 §3).
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// id-dsa (RFC 3279 §2.3.2).
const OID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

impl PrivateKey {
    fn new(inner: Inner, comment: String) -> Self {
        let (blob, kind) = match &inner {
            Inner::Ed25519(k) => (ed25519::public_blob(&k.verifying_key()), KeyKind::Ed25519),
            Inner::Ecdsa(k) => (k.public().to_blob(), KeyKind::Ecdsa(k.curve())),
            Inner::Rsa(k) => (
                rsa::public_blob(k.as_public_key()),
                KeyKind::Rsa {
                    bits: rsa_bits(k.as_public_key()),
                },
            ),
            Inner::Dsa(k) => (dsa::public_blob(k.verifying_key()), KeyKind::Dsa),
        };
        PrivateKey {
            inner,
            public: PublicKey::from_trusted_blob(blob, kind, comment),
        }
    }

    // ----- construction from raw material -------------------------------

    /// The Ed25519 key with this 32-byte secret seed (RFC 8032 §5.1.5).
    #[must_use]
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Self {
        Self::new(
            Inner::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed)),
            String::new(),
        )
    }

    /// The ECDSA key on `curve` with this private scalar: big-endian,
    /// field-length (32, 48 or 66 bytes) or shorter down to 24 bytes.
    pub fn from_ecdsa_scalar(curve: EcdsaCurve, scalar: &[u8]) -> Result<Self, KeyError> {
        let key = EcdsaPrivate::from_scalar(curve, scalar).ok_or_else(|| {
            KeyError::malformed(
                "ECDSA private key",
                format!(
                    "expected a non-zero scalar below the {} group order, found {} bytes",
                    curve.identifier(),
                    scalar.len()
                ),
            )
        })?;
        Ok(Self::new(Inner::Ecdsa(key), String::new()))
    }

    // ----- generation ---------------------------------------------------

    /// Generates an Ed25519 key, the default kind of new key.
    #[must_use]
    pub fn generate_ed25519<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut_slice());
        Self::from_ed25519_seed(&seed)
    }

    /// Generates an ECDSA key on `curve`.
    #[must_use]
    pub fn generate_ecdsa<R: CryptoRng + ?Sized>(curve: EcdsaCurve, rng: &mut R) -> Self {
        use p256::elliptic_curve::Generate as _;
        let key = match curve {
            EcdsaCurve::NistP256 => {
                EcdsaPrivate::P256(p256::ecdsa::SigningKey::generate_from_rng(rng))
            }
            EcdsaCurve::NistP384 => {
                EcdsaPrivate::P384(p384::ecdsa::SigningKey::generate_from_rng(rng))
            }
            EcdsaCurve::NistP521 => {
                EcdsaPrivate::P521(p521::ecdsa::SigningKey::generate_from_rng(rng))
            }
        };
        Self::new(Inner::Ecdsa(key), String::new())
    }

    /// Generates an RSA key of `bits` bits (public exponent 65537).
    /// Fewer than 1024 bits is [`KeyError::TooSmall`]; 3072 is what
    /// `ssh-keygen` makes by default. Slow: seconds for 4096 bits.
    pub fn generate_rsa<R: CryptoRng + ?Sized>(bits: usize, rng: &mut R) -> Result<Self, KeyError> {
        check_rsa_bits(bits)?;
        let key = ::rsa::PrivateKey::new(rng, bits).map_err(|e| KeyError::Crypto {
            operation: "RSA key generation",
            reason: e.to_string(),
        })?;
        Ok(Self::new(Inner::Rsa(Box::new(key)), String::new()))
    }

    // ----- loading ------------------------------------------------------

    /// Loads a key file of any supported format, telling OpenSSH's format
    /// from PEM by its armor. `passphrase` is used only if the key is
    /// encrypted.
    pub fn decode(data: &[u8], passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        let text = core::str::from_utf8(data).map_err(|_| {
            KeyError::malformed(
                "private key file",
                "expected PEM or OpenSSH text, found bytes that are not UTF-8",
            )
        })?;
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            Self::from_openssh(text, passphrase)
        } else if text.contains("-----BEGIN ") {
            Self::from_pem(text, passphrase)
        } else if text.trim_start().starts_with("PuTTY-User-Key-File-") {
            Err(KeyError::unsupported(
                "key file format",
                "PuTTY .ppk (convert it with `puttygen key.ppk -O private-openssh`)",
            ))
        } else if text.contains("---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----") {
            Err(KeyError::unsupported(
                "key file format",
                "SSH.com private key (convert it with `ssh-keygen -i`)",
            ))
        } else {
            Err(KeyError::malformed(
                "private key file",
                "expected a -----BEGIN line, found none",
            ))
        }
    }

    /// Loads a key in OpenSSH's format (`-----BEGIN OPENSSH PRIVATE
    /// KEY-----`, PROTOCOL.key), decrypting it with `passphrase` if it is
    /// encrypted (bcrypt-pbkdf with any cipher `ssh-keygen` uses).
    pub fn from_openssh(text: &str, passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        let key = ssh_key::PrivateKey::from_openssh(text.trim())
            .map_err(|e| KeyError::malformed(OPENSSH, e.to_string()))?;
        let key = if key.is_encrypted() {
            let passphrase = passphrase.ok_or(KeyError::Encrypted)?;
            // The checkints (or the AEAD tag) are the only thing that tells
            // a wrong passphrase; ssh-key reports both as Error::Crypto.
            key.decrypt(passphrase).map_err(|e| match e {
                ssh_key::Error::Crypto => KeyError::WrongPassphrase,
                other => KeyError::malformed(OPENSSH, other.to_string()),
            })?
        } else {
            key
        };
        let comment = key.comment().as_str_lossy().to_string();
        let inner = from_keypair(key.key_data())?;
        Ok(Self::new(inner, comment))
    }

    /// Loads a PEM key: PKCS#1 RSA, SEC1 EC, OpenSSL DSA or unencrypted
    /// PKCS#8, each possibly with legacy `Proc-Type: 4,ENCRYPTED`
    /// encryption (AES-128/192/256-CBC or DES-EDE3-CBC), or an OpenSSH key.
    pub fn from_pem(text: &str, passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        let pem = pem::parse(text)?;
        if pem.label == "OPENSSH PRIVATE KEY" {
            return Self::from_openssh(text, passphrase);
        }
        if pem.label == "ENCRYPTED PRIVATE KEY" {
            return Err(KeyError::unsupported(
                "key file format",
                "encrypted PKCS#8 (re-encrypt it with `ssh-keygen -p`)",
            ));
        }
        let inner = if pem.is_encrypted() {
            let passphrase = passphrase.ok_or(KeyError::Encrypted)?;
            let der = pem::decrypt_legacy(&pem, passphrase)?;
            // Garbage out of a wrong key that happens to end in valid
            // padding fails to parse as DER.
            match from_der(pem.label, &der) {
                Err(KeyError::Malformed { .. }) => Err(KeyError::WrongPassphrase),
                other => other,
            }?
        } else {
            from_der(pem.label, &pem.body)?
        };
        Ok(Self::new(inner, String::new()))
    }

    /// Reads and loads a key file (see [`PrivateKey::decode`]).
    #[cfg(feature = "std")]
    pub fn from_file(
        path: impl AsRef<std::path::Path>,
        passphrase: Option<&[u8]>,
    ) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let data = Zeroizing::new(std::fs::read(path).map_err(|e| KeyError::Io {
            path: path.display().to_string(),
            kind: e.kind(),
            message: e.to_string(),
        })?);
        Self::decode(&data, passphrase)
    }

    // ----- saving -------------------------------------------------------

    /// Writes the key in OpenSSH's format, encrypted with `passphrase`
    /// (bcrypt-pbkdf, 16 rounds, aes256-ctr, as `ssh-keygen` does) if one is
    /// given. The RNG makes the salt and check values.
    pub fn to_openssh<R: CryptoRng + ?Sized>(
        &self,
        passphrase: Option<&[u8]>,
        rng: &mut R,
    ) -> Result<Zeroizing<String>, KeyError> {
        let failed = |e: ssh_key::Error| KeyError::Crypto {
            operation: "writing an OpenSSH private key",
            reason: e.to_string(),
        };
        let mut key =
            ssh_key::PrivateKey::new(self.to_keypair()?, self.public.comment()).map_err(failed)?;
        if let Some(passphrase) = passphrase {
            key = key.encrypt(rng, passphrase).map_err(failed)?;
        }
        key.to_openssh(ssh_key::LineEnding::LF).map_err(failed)
    }

    fn to_keypair(&self) -> Result<KeypairData, KeyError> {
        Ok(match &self.inner {
            Inner::Ed25519(k) => KeypairData::from(Ed25519Keypair::from(k)),
            Inner::Ecdsa(k) => KeypairData::from(ecdsa_keypair(k)),
            Inner::Rsa(k) => {
                KeypairData::from(RsaKeypair::try_from(&**k).map_err(|e| KeyError::Crypto {
                    operation: "encoding an RSA key",
                    reason: e.to_string(),
                })?)
            }
            Inner::Dsa(k) => KeypairData::from(DsaKeypair::from(&**k)),
        })
    }

    // ----- accessors ----------------------------------------------------

    /// The public half, with this key's comment.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// What kind of key this is.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.public.kind()
    }

    /// The comment stored with the key (OpenSSH format only), often
    /// `user@host`.
    #[must_use]
    pub fn comment(&self) -> &str {
        self.public.comment()
    }

    /// Replaces the comment.
    pub fn set_comment(&mut self, comment: impl Into<String>) {
        self.public.set_comment(comment);
    }

    /// The SHA-256 fingerprint of the public key, as `ssh-keygen -l`.
    #[must_use]
    pub fn fingerprint_sha256(&self) -> String {
        self.public.fingerprint_sha256()
    }
}

impl SigningKey for PrivateKey {
    fn key_type(&self) -> &str {
        self.public.key_type()
    }

    fn public_key_blob(&self) -> Vec<u8> {
        self.public.to_blob()
    }

    fn signature_algorithms(&self) -> Vec<&str> {
        self.public.signature_algorithms().to_vec()
    }

    fn sign(
        &self,
        algorithm: &str,
        message: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, AlgorithmError> {
        if !self.public.signature_algorithms().contains(&algorithm) {
            return Err(AlgorithmError::UnsupportedSignature {
                key_type: self.public.key_type().into(),
                algorithm: algorithm.into(),
            });
        }
        let blob = match &self.inner {
            Inner::Ed25519(k) => ed25519::sign(k, message),
            Inner::Ecdsa(k) => k.sign(message),
            Inner::Rsa(k) => {
                let hash = RsaHash::from_algorithm_name(algorithm).ok_or_else(|| {
                    AlgorithmError::UnsupportedSignature {
                        key_type: rsa::KEY_TYPE.into(),
                        algorithm: algorithm.into(),
                    }
                })?;
                rsa::sign(k, hash, message, rng)?
            }
            Inner::Dsa(k) => dsa::sign(k, message)?,
        };
        Ok(crate::sig::encode_signature(algorithm, &blob))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret: only what identifies the key.
        f.debug_struct("PrivateKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

// ----- helpers ----------------------------------------------------------

/// The modulus size in bits.
fn rsa_bits(key: &::rsa::PublicKey) -> usize {
    key.n().as_ref().bit_width_vartime() as usize
}

/// An RSA key, checked once more on its parsed modulus (the checks before
/// parsing only spare the work of parsing a hopeless key).
fn rsa_inner(key: ::rsa::PrivateKey) -> Result<Inner, KeyError> {
    check_rsa_bits(rsa_bits(key.as_public_key()))?;
    Ok(Inner::Rsa(Box::new(key)))
}

/// Refuses RSA sizes outside what sekura accepts.
fn check_rsa_bits(bits: usize) -> Result<(), KeyError> {
    if bits < RSA_MIN_BITS {
        return Err(KeyError::TooSmall {
            bits,
            minimum: RSA_MIN_BITS,
        });
    }
    if bits > RSA_MAX_BITS {
        return Err(KeyError::unsupported(
            "RSA key size",
            format!("{bits} bits (at most {RSA_MAX_BITS})"),
        ));
    }
    Ok(())
}

/// The key material of a decrypted OpenSSH key.
fn from_keypair(data: &KeypairData) -> Result<Inner, KeyError> {
    let mismatch = || KeyError::malformed(OPENSSH, "the public key does not match the private key");
    Ok(match data {
        KeypairData::Ed25519(kp) => {
            Inner::Ed25519(ed25519_dalek::SigningKey::try_from(kp).map_err(|_| mismatch())?)
        }
        KeypairData::Ecdsa(kp) => {
            let key = EcdsaPrivate::from_scalar(ecdsa_curve(kp.curve()), kp.private_key_bytes())
                .ok_or_else(|| KeyError::malformed(OPENSSH, "invalid ECDSA private scalar"))?;
            if key.point() != kp.public_key_bytes() {
                return Err(mismatch());
            }
            Inner::Ecdsa(key)
        }
        KeypairData::Rsa(kp) => {
            // Not kp.key_size(): that counts bytes, so a 1020-bit modulus
            // would pass as 1024.
            let n = kp.public().n().as_positive_bytes().unwrap_or_default();
            check_rsa_bits(super::bit_length(n))?;
            let key = ::rsa::PrivateKey::try_from(kp)
                .map_err(|e| KeyError::malformed(OPENSSH, format!("invalid RSA key: {e}")))?;
            rsa_inner(key)?
        }
        KeypairData::Dsa(kp) => {
            let key = ::dsa::SigningKey::try_from(kp).map_err(|_| {
                KeyError::unsupported(
                    "DSA key",
                    "parameters other than a 1024-bit p and 160-bit q, or invalid ones",
                )
            })?;
            Inner::Dsa(Box::new(check_dsa_pair(key, OPENSSH)?))
        }
        KeypairData::Encrypted(_) => return Err(KeyError::Encrypted),
        other => {
            let name = other
                .algorithm()
                .map(|a| a.as_str().to_string())
                .unwrap_or_else(|_| "unknown".into());
            return Err(KeyError::unsupported("key type", name));
        }
    })
}

fn ecdsa_curve(curve: ssh_key::EcdsaCurve) -> EcdsaCurve {
    match curve {
        ssh_key::EcdsaCurve::NistP256 => EcdsaCurve::NistP256,
        ssh_key::EcdsaCurve::NistP384 => EcdsaCurve::NistP384,
        ssh_key::EcdsaCurve::NistP521 => EcdsaCurve::NistP521,
    }
}

fn ecdsa_keypair(key: &EcdsaPrivate) -> EcdsaKeypair {
    match key {
        EcdsaPrivate::P256(k) => EcdsaKeypair::NistP256 {
            public: k.verifying_key().to_sec1_point(false),
            private: EcdsaPrivateKey::from(p256::SecretKey::from(k)),
        },
        EcdsaPrivate::P384(k) => EcdsaKeypair::NistP384 {
            public: k.verifying_key().to_sec1_point(false),
            private: EcdsaPrivateKey::from(p384::SecretKey::from(k)),
        },
        EcdsaPrivate::P521(k) => EcdsaKeypair::NistP521 {
            public: k.verifying_key().to_sec1_point(false),
            private: EcdsaPrivateKey::from(p521::SecretKey::from(k)),
        },
    }
}

/// A DSA key whose x and y belong together: nothing else in the formats
/// ties them, so sign and verify once (cheap next to a file load).
fn check_dsa_pair(
    key: ::dsa::SigningKey,
    format: &'static str,
) -> Result<::dsa::SigningKey, KeyError> {
    use crate::SignatureAlgorithm as _;
    const PROBE: &[u8] = b"sekura DSA key pair check";
    let blob = dsa::public_blob(key.verifying_key());
    let consistent = dsa::sign(&key, PROBE)
        .map(|sig| crate::sig::encode_signature(dsa::NAME, &sig))
        .and_then(|sig| dsa::SSH_DSS.verify(&blob, PROBE, &sig));
    match consistent {
        Ok(()) => Ok(key),
        Err(_) => Err(KeyError::malformed(
            format,
            "the DSA public key y does not match the private key x",
        )),
    }
}

/// The key material of a DER document of PEM type `label`.
fn from_der(label: &str, der: &[u8]) -> Result<Inner, KeyError> {
    match label {
        "RSA PRIVATE KEY" => {
            let parsed = ::rsa::pkcs1::RsaPrivateKeyRef::from_der(der)
                .map_err(|e| KeyError::malformed(PKCS1, e.to_string()))?;
            check_rsa_bits(super::bit_length(parsed.modulus.as_bytes()))?;
            let key = ::rsa::PrivateKey::from_pkcs1_der(der)
                .map_err(|e| KeyError::malformed(PKCS1, e.to_string()))?;
            rsa_inner(key)
        }
        "EC PRIVATE KEY" => sec1_key(der),
        "DSA PRIVATE KEY" => dsa_traditional(der),
        "PRIVATE KEY" => pkcs8_key(der),
        other => Err(KeyError::unsupported("PEM type", other)),
    }
}

fn sec1_key(der: &[u8]) -> Result<Inner, KeyError> {
    // The curve OID inside tells the curves apart: each crate refuses a
    // document for another curve.
    let key = if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
        EcdsaPrivate::P256(k.into())
    } else if let Ok(k) = p384::SecretKey::from_sec1_der(der) {
        EcdsaPrivate::P384(k.into())
    } else if let Ok(k) = p521::SecretKey::from_sec1_der(der) {
        EcdsaPrivate::P521(k.into())
    } else {
        return Err(KeyError::malformed(
            SEC1,
            "expected an ECPrivateKey on P-256, P-384 or P-521 with a matching public key",
        ));
    };
    Ok(Inner::Ecdsa(key))
}

/// OpenSSL's traditional DSA key: `SEQUENCE { version 0, p, q, g, y, x }`.
fn dsa_traditional(der: &[u8]) -> Result<Inner, KeyError> {
    let bad = |e: ::rsa::pkcs8::der::Error| KeyError::malformed(DSA_PEM, e.to_string());
    let mut reader = SliceReader::new(der).map_err(bad)?;
    let (version, p, q, g, y, x) = reader
        .sequence(|r| {
            Ok::<_, ::rsa::pkcs8::der::Error>((
                UintRef::decode(r)?,
                UintRef::decode(r)?,
                UintRef::decode(r)?,
                UintRef::decode(r)?,
                UintRef::decode(r)?,
                UintRef::decode(r)?,
            ))
        })
        .map_err(bad)?;
    reader.finish().map_err(bad)?;
    if version.as_bytes().iter().any(|&b| b != 0) {
        return Err(KeyError::malformed(DSA_PEM, "expected version 0"));
    }
    let uint = |v: UintRef<'_>| crypto_bigint::BoxedUint::from_be_slice_vartime(v.as_bytes());
    let unsupported = || {
        KeyError::unsupported(
            "DSA key",
            "parameters other than a 1024-bit p and 160-bit q, or invalid ones",
        )
    };
    let components =
        ::dsa::Components::from_components(uint(p), uint(q), uint(g)).map_err(|_| unsupported())?;
    let public =
        ::dsa::VerifyingKey::from_components(components, uint(y)).map_err(|_| unsupported())?;
    let key = ::dsa::SigningKey::from_components(public, uint(x))
        .map_err(|_| KeyError::malformed(DSA_PEM, "x is zero or not below q"))?;
    Ok(Inner::Dsa(Box::new(check_dsa_pair(key, DSA_PEM)?)))
}

fn pkcs8_key(der: &[u8]) -> Result<Inner, KeyError> {
    let info =
        PrivateKeyInfoRef::from_der(der).map_err(|e| KeyError::malformed(PKCS8, e.to_string()))?;
    let bad = |e: &dyn fmt::Display| KeyError::malformed(PKCS8, e.to_string());
    let oid = info.algorithm.oid;
    if oid == ::rsa::pkcs1::ALGORITHM_OID {
        let parsed = ::rsa::pkcs1::RsaPrivateKeyRef::from_der(info.private_key.as_bytes())
            .map_err(|e| bad(&e))?;
        check_rsa_bits(super::bit_length(parsed.modulus.as_bytes()))?;
        let key = ::rsa::PrivateKey::from_pkcs8_der(der).map_err(|e| bad(&e))?;
        rsa_inner(key)
    } else if oid == OID_EC_PUBLIC_KEY {
        let curve = info.algorithm.parameters_oid().map_err(|e| bad(&e))?;
        let key = match curve.to_string().as_str() {
            "1.2.840.10045.3.1.7" => EcdsaPrivate::P256(
                p256::SecretKey::from_pkcs8_der(der)
                    .map_err(|e| bad(&e))?
                    .into(),
            ),
            "1.3.132.0.34" => EcdsaPrivate::P384(
                p384::SecretKey::from_pkcs8_der(der)
                    .map_err(|e| bad(&e))?
                    .into(),
            ),
            "1.3.132.0.35" => EcdsaPrivate::P521(
                p521::SecretKey::from_pkcs8_der(der)
                    .map_err(|e| bad(&e))?
                    .into(),
            ),
            other => return Err(KeyError::unsupported("elliptic curve", other)),
        };
        Ok(Inner::Ecdsa(key))
    } else if oid == OID_ED25519 {
        // RFC 8410 §7: the private key is an OCTET STRING holding the seed.
        let seed = <&OctetStringRef>::from_der(info.private_key.as_bytes()).map_err(|e| bad(&e))?;
        let seed: &[u8; 32] = seed.as_bytes().try_into().map_err(|_| {
            KeyError::malformed(
                PKCS8,
                format!(
                    "expected a 32-byte Ed25519 seed, found {} bytes",
                    seed.as_bytes().len()
                ),
            )
        })?;
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        if let Some(public) = info.public_key.as_ref().and_then(|p| p.as_bytes())
            && public != key.verifying_key().as_bytes()
        {
            return Err(KeyError::malformed(
                PKCS8,
                "the public key does not match the private key",
            ));
        }
        Ok(Inner::Ed25519(key))
    } else if oid == OID_DSA {
        let key = ::dsa::SigningKey::try_from(info).map_err(|e| bad(&e))?;
        Ok(Inner::Dsa(Box::new(check_dsa_pair(key, PKCS8)?)))
    } else {
        Err(KeyError::unsupported(
            "PKCS#8 key algorithm",
            oid.to_string(),
        ))
    }
}
