//! Key derivation from the shared secret (RFC 4253 §7.2).

use crate::HashFunction;
use crate::kex::SharedSecret;
use alloc::vec::Vec;
use zeroize::Zeroizing;

/// How many bytes of each key one direction needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyLengths {
    /// Initial IV (or nonce) length.
    pub iv: usize,
    /// Encryption key length.
    pub key: usize,
    /// Integrity (MAC) key length; 0 for AEAD ciphers.
    pub mac: usize,
}

/// The keys of one direction, zeroized on drop.
#[derive(Clone, Default)]
pub struct DirectionKeys {
    /// Initial IV: letter A (client to server) or B (server to client).
    pub iv: Zeroizing<Vec<u8>>,
    /// Encryption key: letter C or D.
    pub key: Zeroizing<Vec<u8>>,
    /// Integrity key: letter E or F.
    pub mac_key: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Lengths only: keys never reach a log.
        f.debug_struct("DirectionKeys")
            .field("iv_len", &self.iv.len())
            .field("key_len", &self.key.len())
            .field("mac_key_len", &self.mac_key.len())
            .finish()
    }
}

/// Derives one key: `HASH(K || H || letter || session_id)`, extended with
/// `HASH(K || H || K1 || ...)` until `len` bytes are there (RFC 4253 §7.2).
///
/// `shared_secret` is K already encoded (as mpint or string, as the method
/// says).
#[must_use]
pub fn derive_key(
    hash: &dyn HashFunction,
    shared_secret: &SharedSecret,
    exchange_hash: &[u8],
    letter: u8,
    session_id: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let k = shared_secret.encoded();
    let mut out = Zeroizing::new(hash.digest(&[k, exchange_hash, &[letter], session_id]));
    while out.len() < len {
        let next = Zeroizing::new(hash.digest(&[k, exchange_hash, &out]));
        out.extend_from_slice(&next);
    }
    out.truncate(len);
    out
}

/// Derives the keys of both directions after a key exchange.
///
/// Returns `(client_to_server, server_to_client)`.
#[must_use]
pub fn derive_session_keys(
    hash: &dyn HashFunction,
    shared_secret: &SharedSecret,
    exchange_hash: &[u8],
    session_id: &[u8],
    client_to_server: KeyLengths,
    server_to_client: KeyLengths,
) -> (DirectionKeys, DirectionKeys) {
    let derive = |letter: u8, len: usize| {
        derive_key(hash, shared_secret, exchange_hash, letter, session_id, len)
    };
    (
        DirectionKeys {
            iv: derive(b'A', client_to_server.iv),
            key: derive(b'C', client_to_server.key),
            mac_key: derive(b'E', client_to_server.mac),
        },
        DirectionKeys {
            iv: derive(b'B', server_to_client.iv),
            key: derive(b'D', server_to_client.key),
            mac_key: derive(b'F', server_to_client.mac),
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::hash::tests::hex;
    use crate::hash::{SHA1, SHA256};

    // NIST CAVS 14.1 SSH KDF test vectors (SP 800-135 component test), as
    // carried in OpenSSL's test/recipes/30-test_evp_data/evpkdf_ssh.txt,
    // first SHA-1 case. K is given already encoded as an mpint. Letters C and
    // D ask for 24 bytes, more than SHA-1's 20, so the extension rule of
    // §7.2 is exercised.
    const K1: &str = "0000008055bae931c07fd824bf10add1902b6fbc7c665347383498a686929ff5a25f8e40cb6645ea814fb1a5e0a11f852f86255641e5ed986e83a78bc8269480eac0b0dfd770cab92e7a28dd87ff452466d6ae867cead63b366b1c286e6c4811a9f14c27aea14c5171d49b78c06e3735d36e6a3be321dd5fc82308f34ee1cb17fba94a59";
    const H1: &str = "a4ebd45934f56792b5112dcd75a1075fdc889245";

    #[test]
    fn cavs_sha1_every_letter() {
        let k = SharedSecret::from_encoded(hex(K1));
        let h = hex(H1);
        let (c2s, s2c) = derive_session_keys(
            &SHA1,
            &k,
            &h,
            &h,
            KeyLengths {
                iv: 8,
                key: 24,
                mac: 20,
            },
            KeyLengths {
                iv: 8,
                key: 24,
                mac: 20,
            },
        );
        assert_eq!(*c2s.iv, hex("e2f627c0b43f1ac1"));
        assert_eq!(*s2c.iv, hex("58471445f342b181"));
        assert_eq!(
            *c2s.key,
            hex("1ca9d310f86d51f6cb8e7007cb2b220d55c5281ce680b533")
        );
        assert_eq!(
            *s2c.key,
            hex("2c60df8603d34cc1dbb03c11f725a44b44008851c73d6844")
        );
        assert_eq!(
            *c2s.mac_key,
            hex("472eb8a26166ae6aa8e06868e45c3b26e6eeed06")
        );
        assert_eq!(
            *s2c.mac_key,
            hex("e3e2fdb9d7bc21165a3dbe47e1eceb7764390bab")
        );
    }

    #[test]
    fn cavs_sha256_iv() {
        // Same source, first SHA-256 case, letter A.
        let k = SharedSecret::from_encoded(hex(
            "0000008100875c551cef526a4a8be1a7df27e9ed354bac9afb71f53dbae905679d14f9faf2469c53457cf80a366be278965ba6255276ca2d9f4a97d271f71e50d8a9ec46253a6a906ac2c5e4f48b27a63ce08d80390a492aa43bad9d882ccac23dac88bcada4b4d426a362083dab6569c54c224dd2d87643aa227693e141ad1630ce13144e",
        ));
        let h = hex("0e683fc8a9ed7c2ff02def23b2745ebc99b267daa86a4aa7697239088253f642");
        let iv = derive_key(&SHA256, &k, &h, b'A', &h, 8);
        assert_eq!(*iv, hex("41ff2ead1683f1e6"));
    }

    #[test]
    fn long_keys_extend_and_prefix_is_stable() {
        let k = SharedSecret::from_encoded(hex(K1));
        let h = hex(H1);
        let short = derive_key(&SHA1, &k, &h, b'C', &h, 24);
        let long = derive_key(&SHA1, &k, &h, b'C', &h, 64);
        assert_eq!(long.len(), 64);
        assert_eq!(&long[..24], &short[..]);
        assert!(derive_key(&SHA1, &k, &h, b'C', &h, 0).is_empty());
    }
}
