//! The built-in algorithms, as prioritized lists.
//!
//! `DEFAULT_*` lists are what sekura offers out of the box, most preferred
//! first (OpenSSH's order where OpenSSH has the algorithm). `ALL_*` lists are
//! every algorithm compiled in, the defaults first and then the legacy ones
//! that a caller must ask for by name (`sekura-negotiation` turns these into
//! editable registries).

use crate::{Cipher, Compression, Kex, Mac, SignatureAlgorithm};

pub mod ciphers;
pub mod compression;
pub mod kex;
pub mod keys;
pub mod macs;

use ciphers::{
    AES128_CBC, AES128_CTR, AES128_GCM, AES192_CBC, AES192_CTR, AES256_CBC, AES256_CTR, AES256_GCM,
    BLOWFISH_CBC, BLOWFISH_CTR, CHACHA20_POLY1305, TRIPLE_DES_CBC, TRIPLE_DES_CTR,
};
use kex::curve25519::{CURVE25519_SHA256, CURVE25519_SHA256_LIBSSH};
use kex::dh::{
    DH_GROUP1_SHA1, DH_GROUP14_SHA1, DH_GROUP14_SHA256, DH_GROUP16_SHA512, DH_GROUP18_SHA512,
};
use kex::ecdh::{ECDH_SHA2_NISTP256, ECDH_SHA2_NISTP384, ECDH_SHA2_NISTP521};
use kex::gex::{DH_GEX_SHA1, DH_GEX_SHA256};
use kex::hybrid::{MLKEM768X25519_SHA256, SNTRUP761X25519_SHA512, SNTRUP761X25519_SHA512_OPENSSH};
use keys::{
    ECDSA_SHA2_NISTP256, ECDSA_SHA2_NISTP384, ECDSA_SHA2_NISTP521, RSA_SHA2_256, RSA_SHA2_512,
    SSH_DSS, SSH_ED25519, SSH_RSA,
};
use macs::{
    HMAC_MD5, HMAC_MD5_96, HMAC_MD5_96_ETM, HMAC_MD5_ETM, HMAC_SHA1, HMAC_SHA1_96,
    HMAC_SHA1_96_ETM, HMAC_SHA1_ETM, HMAC_SHA2_256, HMAC_SHA2_256_ETM, HMAC_SHA2_512,
    HMAC_SHA2_512_ETM, UMAC_64, UMAC_64_ETM, UMAC_128, UMAC_128_ETM,
};

/// Key-exchange methods offered by default, in OpenSSH 10's order: the
/// post-quantum hybrids, then X25519, then the NIST curves, then
/// finite-field Diffie-Hellman.
pub static DEFAULT_KEX: &[&dyn Kex] = &[
    &MLKEM768X25519_SHA256,
    &SNTRUP761X25519_SHA512,
    &SNTRUP761X25519_SHA512_OPENSSH,
    &CURVE25519_SHA256,
    &CURVE25519_SHA256_LIBSSH,
    &ECDH_SHA2_NISTP256,
    &ECDH_SHA2_NISTP384,
    &ECDH_SHA2_NISTP521,
    &DH_GEX_SHA256,
    &DH_GROUP16_SHA512,
    &DH_GROUP18_SHA512,
    &DH_GROUP14_SHA256,
];
/// Every key-exchange method compiled in: the defaults, then the SHA-1
/// ones of the seed era (diffie-hellman-group1-sha1 among them).
pub static ALL_KEX: &[&dyn Kex] = &[
    &MLKEM768X25519_SHA256,
    &SNTRUP761X25519_SHA512,
    &SNTRUP761X25519_SHA512_OPENSSH,
    &CURVE25519_SHA256,
    &CURVE25519_SHA256_LIBSSH,
    &ECDH_SHA2_NISTP256,
    &ECDH_SHA2_NISTP384,
    &ECDH_SHA2_NISTP521,
    &DH_GEX_SHA256,
    &DH_GROUP16_SHA512,
    &DH_GROUP18_SHA512,
    &DH_GROUP14_SHA256,
    &DH_GROUP14_SHA1,
    &DH_GEX_SHA1,
    &DH_GROUP1_SHA1,
];

/// Host key signature algorithms offered by default, in OpenSSH 10's order.
pub static DEFAULT_HOST_KEY: &[&dyn SignatureAlgorithm] = &[
    &SSH_ED25519,
    &ECDSA_SHA2_NISTP256,
    &ECDSA_SHA2_NISTP384,
    &ECDSA_SHA2_NISTP521,
    &RSA_SHA2_512,
    &RSA_SHA2_256,
];
/// Every host key signature algorithm compiled in: the defaults, then
/// SHA-1 `ssh-rsa` and `ssh-dss`.
pub static ALL_HOST_KEY: &[&dyn SignatureAlgorithm] = &[
    &SSH_ED25519,
    &ECDSA_SHA2_NISTP256,
    &ECDSA_SHA2_NISTP384,
    &ECDSA_SHA2_NISTP521,
    &RSA_SHA2_512,
    &RSA_SHA2_256,
    &SSH_RSA,
    &SSH_DSS,
];

/// Ciphers offered by default, in OpenSSH 10's order.
pub static DEFAULT_CIPHERS: &[&dyn Cipher] = &[
    &CHACHA20_POLY1305,
    &AES128_GCM,
    &AES256_GCM,
    &AES128_CTR,
    &AES192_CTR,
    &AES256_CTR,
];
/// Every cipher compiled in: the defaults, then the CBC modes, 3DES and
/// Blowfish of the seed era and RFC 4344's blowfish-ctr and 3des-ctr.
pub static ALL_CIPHERS: &[&dyn Cipher] = &[
    &CHACHA20_POLY1305,
    &AES128_GCM,
    &AES256_GCM,
    &AES128_CTR,
    &AES192_CTR,
    &AES256_CTR,
    &AES128_CBC,
    &AES192_CBC,
    &AES256_CBC,
    &TRIPLE_DES_CBC,
    &BLOWFISH_CBC,
    &BLOWFISH_CTR,
    &TRIPLE_DES_CTR,
];

/// MACs offered by default, in OpenSSH 10's order (encrypt-then-MAC
/// first).
pub static DEFAULT_MACS: &[&dyn Mac] = &[
    &UMAC_64_ETM,
    &UMAC_128_ETM,
    &HMAC_SHA2_256_ETM,
    &HMAC_SHA2_512_ETM,
    &HMAC_SHA1_ETM,
    &UMAC_64,
    &UMAC_128,
    &HMAC_SHA2_256,
    &HMAC_SHA2_512,
    &HMAC_SHA1,
];
/// Every MAC compiled in: the defaults, then the truncated and MD5 ones.
pub static ALL_MACS: &[&dyn Mac] = &[
    &UMAC_64_ETM,
    &UMAC_128_ETM,
    &HMAC_SHA2_256_ETM,
    &HMAC_SHA2_512_ETM,
    &HMAC_SHA1_ETM,
    &UMAC_64,
    &UMAC_128,
    &HMAC_SHA2_256,
    &HMAC_SHA2_512,
    &HMAC_SHA1,
    &HMAC_SHA1_96,
    &HMAC_MD5,
    &HMAC_MD5_96,
    &HMAC_MD5_ETM,
    &HMAC_SHA1_96_ETM,
    &HMAC_MD5_96_ETM,
];

/// Compression methods offered by default: `none`, then (with `std`)
/// `zlib@openssh.com`, which starts after authentication.
pub static DEFAULT_COMPRESSION: &[&dyn Compression] = compression::DEFAULT;
/// Every compression method compiled in: the defaults, then (with `std`)
/// RFC 4253's `zlib`.
#[cfg(feature = "std")]
pub static ALL_COMPRESSION: &[&dyn Compression] = &[
    &crate::none::NONE_COMPRESSION,
    &compression::ZLIB_OPENSSH,
    &compression::ZLIB,
];
/// Every compression method compiled in (`none` only without `std`).
#[cfg(not(feature = "std"))]
pub static ALL_COMPRESSION: &[&dyn Compression] = &[&crate::none::NONE_COMPRESSION];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    fn names<T: Algorithm + ?Sized>(list: &[&T]) -> alloc::vec::Vec<alloc::string::String> {
        list.iter()
            .map(|a| alloc::string::String::from(a.name()))
            .collect()
    }

    fn check<T: Algorithm + ?Sized>(defaults: &[&T], all: &[&T]) {
        let d = names(defaults);
        let a = names(all);
        // Defaults come first in ALL, in the same order; no name twice.
        assert_eq!(a.get(..d.len()), Some(d.as_slice()));
        for (i, n) in a.iter().enumerate() {
            assert!(!a.iter().skip(i + 1).any(|m| m == n), "{n} listed twice");
        }
    }

    #[test]
    fn defaults_lead_all_and_names_are_unique() {
        check(DEFAULT_KEX, ALL_KEX);
        check(DEFAULT_HOST_KEY, ALL_HOST_KEY);
        check(DEFAULT_CIPHERS, ALL_CIPHERS);
        check(DEFAULT_MACS, ALL_MACS);
        check(DEFAULT_COMPRESSION, ALL_COMPRESSION);
    }

    /// The lists here are the concatenation of each family's own DEFAULT and
    /// LEGACY lists (kept by the family's module), in this order.
    #[test]
    fn lists_agree_with_the_families() {
        fn joined<T: Algorithm + ?Sized>(
            parts: &[&[&T]],
        ) -> alloc::vec::Vec<alloc::string::String> {
            parts.iter().flat_map(|p| names(p)).collect()
        }
        assert_eq!(
            names(DEFAULT_KEX),
            joined(&[kex::hybrid::EC_DEFAULT, kex::dh::DH_DEFAULT])
        );
        assert_eq!(
            names(ALL_KEX),
            joined(&[
                kex::hybrid::EC_DEFAULT,
                kex::dh::DH_DEFAULT,
                kex::dh::DH_LEGACY
            ])
        );
        assert_eq!(names(DEFAULT_HOST_KEY), names(keys::DEFAULT));
        assert_eq!(names(ALL_HOST_KEY), joined(&[keys::DEFAULT, keys::LEGACY]));
        assert_eq!(names(DEFAULT_CIPHERS), names(ciphers::DEFAULT));
        assert_eq!(
            names(ALL_CIPHERS),
            joined(&[ciphers::DEFAULT, ciphers::LEGACY])
        );
        assert_eq!(names(DEFAULT_MACS), names(macs::DEFAULT));
        assert_eq!(names(ALL_MACS), joined(&[macs::DEFAULT, macs::LEGACY]));
        assert_eq!(
            names(ALL_COMPRESSION),
            joined(&[compression::DEFAULT, compression::LEGACY])
        );
    }
}
