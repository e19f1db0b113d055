//! Test doubles: algorithms under realistic names whose only working parts
//! are their names and flags, lists of them shaped like sekura's built-in
//! ones, and a deterministic RNG.

use crate::{AlgorithmLists, Preferences};
use alloc::boxed::Box;
use core::convert::Infallible;
use sekura_algorithms::{
    Algorithm, AlgorithmError, Cipher, Compression, Compressor, Decompressor, DirectionKeys,
    HashFunction, Kex, KexContext, KexStart, Mac, MacInstance, PacketOpener, PacketSealer, Role,
    SignatureAlgorithm,
};

const NOT_REAL: AlgorithmError = AlgorithmError::MissingInput("test double");

pub(crate) struct TestKex {
    pub(crate) name: &'static str,
    pub(crate) signing: bool,
}
impl Algorithm for TestKex {
    fn name(&self) -> &str {
        self.name
    }
}
impl Kex for TestKex {
    fn hash(&self) -> &'static dyn HashFunction {
        &sekura_algorithms::hash::SHA256
    }
    fn needs_signing_host_key(&self) -> bool {
        self.signing
    }
    fn start(&self, _role: Role, _ctx: &mut KexContext<'_>) -> Result<KexStart, AlgorithmError> {
        Err(NOT_REAL)
    }
}

pub(crate) struct TestSig {
    pub(crate) name: &'static str,
}
impl Algorithm for TestSig {
    fn name(&self) -> &str {
        self.name
    }
}
impl SignatureAlgorithm for TestSig {
    fn key_type(&self) -> &str {
        self.name
    }
    fn verify(&self, _: &[u8], _: &[u8], _: &[u8]) -> Result<(), AlgorithmError> {
        Err(NOT_REAL)
    }
}

pub(crate) struct TestCipher {
    pub(crate) name: &'static str,
    pub(crate) aead: Option<usize>,
}
impl Algorithm for TestCipher {
    fn name(&self) -> &str {
        self.name
    }
}
impl Cipher for TestCipher {
    fn key_len(&self) -> usize {
        16
    }
    fn iv_len(&self) -> usize {
        16
    }
    fn block_len(&self) -> usize {
        16
    }
    fn aead_tag_len(&self) -> Option<usize> {
        self.aead
    }
    fn new_sealer(
        &self,
        _: &DirectionKeys,
        _: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketSealer>, AlgorithmError> {
        Err(NOT_REAL)
    }
    fn new_opener(
        &self,
        _: &DirectionKeys,
        _: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketOpener>, AlgorithmError> {
        Err(NOT_REAL)
    }
}

pub(crate) struct TestMac {
    pub(crate) name: &'static str,
}
impl Algorithm for TestMac {
    fn name(&self) -> &str {
        self.name
    }
}
impl Mac for TestMac {
    fn key_len(&self) -> usize {
        32
    }
    fn tag_len(&self) -> usize {
        32
    }
    fn is_etm(&self) -> bool {
        self.name.ends_with("-etm@openssh.com")
    }
    fn new_instance(&self, _: &[u8]) -> Result<Box<dyn MacInstance>, AlgorithmError> {
        Err(NOT_REAL)
    }
}

pub(crate) struct TestCompression {
    pub(crate) name: &'static str,
}
impl Algorithm for TestCompression {
    fn name(&self) -> &str {
        self.name
    }
}
impl Compression for TestCompression {
    fn new_compressor(&self) -> Option<Box<dyn Compressor>> {
        None
    }
    fn new_decompressor(&self) -> Option<Box<dyn Decompressor>> {
        None
    }
}

macro_rules! kex {
    ($id:ident, $name:literal) => {
        pub(crate) static $id: TestKex = TestKex {
            name: $name,
            signing: true,
        };
    };
}
macro_rules! sig {
    ($id:ident, $name:literal) => {
        pub(crate) static $id: TestSig = TestSig { name: $name };
    };
}
macro_rules! cipher {
    ($id:ident, $name:literal) => {
        pub(crate) static $id: TestCipher = TestCipher {
            name: $name,
            aead: None,
        };
    };
    ($id:ident, $name:literal, aead) => {
        pub(crate) static $id: TestCipher = TestCipher {
            name: $name,
            aead: Some(16),
        };
    };
}
macro_rules! mac {
    ($id:ident, $name:literal) => {
        pub(crate) static $id: TestMac = TestMac { name: $name };
    };
}
macro_rules! compression {
    ($id:ident, $name:literal) => {
        pub(crate) static $id: TestCompression = TestCompression { name: $name };
    };
}

kex!(MLKEM, "mlkem768x25519-sha256");
kex!(CURVE25519, "curve25519-sha256");
kex!(ECDH_P256, "ecdh-sha2-nistp256");
kex!(DH14, "diffie-hellman-group14-sha256");
kex!(DH1, "diffie-hellman-group1-sha1");
/// A method that needs no signing host key (like RFC 4462's GSS-API ones).
pub(crate) static NOSIG_KEX: TestKex = TestKex {
    name: "gss-test@example.com",
    signing: false,
};

sig!(ED25519, "ssh-ed25519");
sig!(ECDSA_P256, "ecdsa-sha2-nistp256");
sig!(RSA_SHA512, "rsa-sha2-512");
sig!(RSA_SHA256, "rsa-sha2-256");
sig!(SSH_RSA, "ssh-rsa");
sig!(SSH_DSS, "ssh-dss");

cipher!(CHACHA, "chacha20-poly1305@openssh.com", aead);
cipher!(AES128_CTR, "aes128-ctr");
cipher!(AES192_CTR, "aes192-ctr");
cipher!(AES256_CTR, "aes256-ctr");
cipher!(AES128_GCM, "aes128-gcm@openssh.com", aead);
cipher!(AES256_GCM, "aes256-gcm@openssh.com", aead);
cipher!(AES128_CBC, "aes128-cbc");
cipher!(AES192_CBC, "aes192-cbc");
cipher!(AES256_CBC, "aes256-cbc");
cipher!(TDES_CBC, "3des-cbc");

mac!(SHA256_ETM, "hmac-sha2-256-etm@openssh.com");
mac!(SHA512_ETM, "hmac-sha2-512-etm@openssh.com");
mac!(SHA1_ETM, "hmac-sha1-etm@openssh.com");
mac!(SHA256, "hmac-sha2-256");
mac!(SHA512, "hmac-sha2-512");
mac!(SHA1, "hmac-sha1");
mac!(MD5, "hmac-md5");

compression!(NONE, "none");
compression!(ZLIB_OPENSSH, "zlib@openssh.com");
compression!(ZLIB, "zlib");

pub(crate) static DEFAULT_KEX: &[&dyn Kex] = &[&MLKEM, &CURVE25519, &ECDH_P256, &DH14];
pub(crate) static ALL_KEX: &[&dyn Kex] = &[&MLKEM, &CURVE25519, &ECDH_P256, &DH14, &DH1];
pub(crate) static DEFAULT_HOST_KEY: &[&dyn SignatureAlgorithm] =
    &[&ED25519, &ECDSA_P256, &RSA_SHA512, &RSA_SHA256];
pub(crate) static ALL_HOST_KEY: &[&dyn SignatureAlgorithm] = &[
    &ED25519,
    &ECDSA_P256,
    &RSA_SHA512,
    &RSA_SHA256,
    &SSH_RSA,
    &SSH_DSS,
];
pub(crate) static DEFAULT_CIPHERS: &[&dyn Cipher] = &[
    &CHACHA,
    &AES128_CTR,
    &AES192_CTR,
    &AES256_CTR,
    &AES128_GCM,
    &AES256_GCM,
];
pub(crate) static ALL_CIPHERS: &[&dyn Cipher] = &[
    &CHACHA,
    &AES128_CTR,
    &AES192_CTR,
    &AES256_CTR,
    &AES128_GCM,
    &AES256_GCM,
    &AES128_CBC,
    &AES192_CBC,
    &AES256_CBC,
    &TDES_CBC,
];
pub(crate) static DEFAULT_MACS: &[&dyn Mac] =
    &[&SHA256_ETM, &SHA512_ETM, &SHA1_ETM, &SHA256, &SHA512, &SHA1];
pub(crate) static ALL_MACS: &[&dyn Mac] = &[
    &SHA256_ETM,
    &SHA512_ETM,
    &SHA1_ETM,
    &SHA256,
    &SHA512,
    &SHA1,
    &MD5,
];
pub(crate) static DEFAULT_COMPRESSION: &[&dyn Compression] = &[&NONE];
pub(crate) static ALL_COMPRESSION: &[&dyn Compression] = &[&NONE, &ZLIB_OPENSSH, &ZLIB];

pub(crate) fn test_lists_default() -> AlgorithmLists<'static> {
    AlgorithmLists {
        kex: DEFAULT_KEX,
        host_key: DEFAULT_HOST_KEY,
        ciphers: DEFAULT_CIPHERS,
        macs: DEFAULT_MACS,
        compression: DEFAULT_COMPRESSION,
    }
}

pub(crate) fn test_lists_all() -> AlgorithmLists<'static> {
    AlgorithmLists {
        kex: ALL_KEX,
        host_key: ALL_HOST_KEY,
        ciphers: ALL_CIPHERS,
        macs: ALL_MACS,
        compression: ALL_COMPRESSION,
    }
}

/// Like `Preferences::default()`, over the doubles.
#[allow(clippy::unwrap_used)]
pub(crate) fn test_prefs() -> Preferences {
    Preferences::from_lists(test_lists_all(), test_lists_default()).unwrap()
}

/// Like `Preferences::all()`, over the doubles.
#[allow(clippy::unwrap_used)]
pub(crate) fn test_prefs_all() -> Preferences {
    Preferences::from_lists(test_lists_all(), test_lists_all()).unwrap()
}

/// A deterministic RNG (a 64-bit LCG, high bits out). Not for real use.
pub(crate) struct TestRng(u64);

impl TestRng {
    pub(crate) fn new(seed: u64) -> Self {
        TestRng(seed)
    }
}

impl rand_core::TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for b in dst {
            *b = (self.try_next_u64()? >> 56) as u8;
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for TestRng {}
