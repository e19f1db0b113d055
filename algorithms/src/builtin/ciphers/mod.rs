//! Built-in ciphers.
//!
//! | wire name | static | kind | key | IV | block | tag |
//! |---|---|---|---|---|---|---|
//! | `chacha20-poly1305@openssh.com` | [`CHACHA20_POLY1305`] | AEAD | 64 | 0 | 8 | 16 |
//! | `aes128-gcm@openssh.com` | [`AES128_GCM`] | AEAD | 16 | 12 | 16 | 16 |
//! | `aes256-gcm@openssh.com` | [`AES256_GCM`] | AEAD | 32 | 12 | 16 | 16 |
//! | `aes128-ctr` | [`AES128_CTR`] | stream | 16 | 16 | 16 | MAC |
//! | `aes192-ctr` | [`AES192_CTR`] | stream | 24 | 16 | 16 | MAC |
//! | `aes256-ctr` | [`AES256_CTR`] | stream | 32 | 16 | 16 | MAC |
//! | `aes128-cbc` | [`AES128_CBC`] | chaining | 16 | 16 | 16 | MAC |
//! | `aes192-cbc` | [`AES192_CBC`] | chaining | 24 | 16 | 16 | MAC |
//! | `aes256-cbc` | [`AES256_CBC`] | chaining | 32 | 16 | 16 | MAC |
//! | `3des-cbc` | [`TRIPLE_DES_CBC`] | chaining | 24 | 8 | 8 | MAC |
//! | `blowfish-cbc` | [`BLOWFISH_CBC`] | chaining | 16 | 8 | 8 | MAC |
//! | `blowfish-ctr` | [`BLOWFISH_CTR`] | stream | 32 | 8 | 8 | MAC |
//! | `3des-ctr` | [`TRIPLE_DES_CTR`] | stream | 24 | 8 | 8 | MAC |
//!
//! [`DEFAULT`] is OpenSSH's own default order; [`LEGACY`] holds the ciphers
//! of the seed era that a caller has to ask for by name: CBC modes leak
//! through padding and MAC-then-encrypt oracles, and the 64-bit block
//! ciphers must rekey every 512 KiB (RFC 4344 §3.2).

use crate::{AlgorithmError, Cipher};

mod aes_ctr;
mod cbc;
mod chacha20_poly1305;
mod ctr;
mod gcm;

pub use self::cbc::{AES128_CBC, AES192_CBC, AES256_CBC, BLOWFISH_CBC, CbcCipher, TRIPLE_DES_CBC};
pub use self::chacha20_poly1305::{CHACHA20_POLY1305, ChaCha20Poly1305};
pub use self::ctr::{AES128_CTR, AES192_CTR, AES256_CTR, BLOWFISH_CTR, CtrCipher, TRIPLE_DES_CTR};
pub use self::gcm::{AES128_GCM, AES256_GCM, AesGcm};

/// The ciphers offered by default, most preferred first: OpenSSH 10's
/// `KEX_SERVER_ENCRYPT` (myproposal.h 1.77), which puts AES-GCM ahead of
/// AES-CTR.
pub static DEFAULT: &[&dyn Cipher] = &[
    &CHACHA20_POLY1305,
    &AES128_GCM,
    &AES256_GCM,
    &AES128_CTR,
    &AES192_CTR,
    &AES256_CTR,
];

/// Ciphers kept for old peers only; never offered unless asked for.
pub static LEGACY: &[&dyn Cipher] = &[
    &AES128_CBC,
    &AES192_CBC,
    &AES256_CBC,
    &TRIPLE_DES_CBC,
    &BLOWFISH_CBC,
    &BLOWFISH_CTR,
    &TRIPLE_DES_CTR,
];

/// The block ciphers under the CTR and CBC modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockCipher {
    Aes128,
    Aes192,
    Aes256,
    /// Three-key EDE triple DES (RFC 4253 §6.3: "three-key 3DES
    /// (encrypt-decrypt-encrypt), where the first 8 bytes of the key are
    /// used for the first encryption, etc.").
    TripleDes,
    Blowfish,
}

impl BlockCipher {
    const fn block_len(self) -> usize {
        match self {
            Self::Aes128 | Self::Aes192 | Self::Aes256 => 16,
            Self::TripleDes | Self::Blowfish => 8,
        }
    }
}

/// Up to 16 bytes as a block, zero-padded: the last partial block of
/// GHASH (both implementations) and of Poly1305 (which then adds its 0x01).
#[inline(always)]
pub(crate) fn zero_padded(bytes: &[u8]) -> [u8; 16] {
    let mut block = [0u8; 16];
    for (b, x) in block.iter_mut().zip(bytes) {
        *b = *x;
    }
    block
}

/// Checks that `found` bytes is what `algorithm` needs for `what`.
fn check_len(
    algorithm: &'static str,
    what: &'static str,
    expected: usize,
    found: usize,
) -> Result<(), AlgorithmError> {
    if expected == found {
        Ok(())
    } else {
        Err(AlgorithmError::InvalidLength {
            algorithm,
            what,
            expected,
            found,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::kdf::DirectionKeys;
    use crate::mac::tests::{TOY_ETM_MAC, TOY_MAC};
    use crate::none::NONE_MAC;
    use crate::{CryptoError, Mac, PacketOpener, PacketSealer};
    use alloc::boxed::Box;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;
    use zeroize::Zeroizing;

    pub(super) fn all() -> Vec<&'static dyn Cipher> {
        DEFAULT.iter().chain(LEGACY.iter()).copied().collect()
    }

    /// Distinct, non-trivial keys of the lengths `cipher` asks for.
    pub(super) fn keys_for(cipher: &dyn Cipher, salt: u8) -> DirectionKeys {
        let fill = |len: usize, base: u8| -> Zeroizing<Vec<u8>> {
            Zeroizing::new(
                (0..len)
                    .map(|i| (i as u8).wrapping_mul(31).wrapping_add(base))
                    .collect(),
            )
        };
        DirectionKeys {
            iv: fill(cipher.iv_len(), salt.wrapping_add(0x40)),
            key: fill(cipher.key_len(), salt.wrapping_add(0x80)),
            mac_key: fill(16, salt.wrapping_add(0xc0)),
        }
    }

    /// A well-formed unprotected packet for a sealer with these properties:
    /// at least 4 bytes of padding, the covered part a multiple of `block`.
    pub(super) fn packet(payload: &[u8], block: usize, separate_length: bool) -> Vec<u8> {
        let covered = if separate_length { 1 } else { 5 } + payload.len();
        let mut pad = block - covered % block;
        if pad < 4 {
            pad += block;
        }
        let len = (1 + payload.len() + pad) as u32;
        let mut p = len.to_be_bytes().to_vec();
        p.push(pad as u8);
        p.extend_from_slice(payload);
        p.extend((0..pad).map(|i| 0xa0 ^ i as u8));
        p
    }

    /// The MACs a cipher is tried with: none for an AEAD, else the none MAC
    /// and a real-shaped MAC in both orders.
    fn macs_for(cipher: &dyn Cipher) -> Vec<Option<&'static dyn Mac>> {
        if cipher.aead_tag_len().is_some() {
            vec![None]
        } else {
            vec![Some(&NONE_MAC), Some(&TOY_MAC), Some(&TOY_ETM_MAC)]
        }
    }

    fn pair(
        cipher: &dyn Cipher,
        mac: Option<&dyn Mac>,
    ) -> (Box<dyn PacketSealer>, Box<dyn PacketOpener>) {
        let k = keys_for(cipher, 1);
        (
            cipher.new_sealer(&k, mac).unwrap(),
            cipher.new_opener(&k, mac).unwrap(),
        )
    }

    /// Seals `plain` as packet `seq` and returns (wire bytes, tag).
    fn seal(sealer: &mut dyn PacketSealer, seq: u32, plain: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut wire = plain.to_vec();
        let mut tag = vec![0; sealer.tag_len()];
        sealer.seal(seq, &mut wire, &mut tag);
        (wire, tag)
    }

    /// Opens as the transport does: the length first, then the rest.
    fn open(
        opener: &mut dyn PacketOpener,
        seq: u32,
        wire: &mut [u8],
        tag: &[u8],
    ) -> Result<u32, CryptoError> {
        let need = opener.length_bytes_needed();
        let len = opener.decrypt_length(seq, &mut wire[..need]);
        opener.open(seq, wire, tag).map(|()| len)
    }

    #[test]
    fn names_and_lists() {
        fn names(l: &[&dyn Cipher]) -> Vec<String> {
            l.iter().map(|c| String::from(c.name())).collect()
        }
        // OpenSSH 10.0's KEX_SERVER_ENCRYPT, myproposal.h v1.77.
        assert_eq!(
            names(DEFAULT),
            [
                "chacha20-poly1305@openssh.com",
                "aes128-gcm@openssh.com",
                "aes256-gcm@openssh.com",
                "aes128-ctr",
                "aes192-ctr",
                "aes256-ctr",
            ]
        );
        assert_eq!(
            names(LEGACY),
            [
                "aes128-cbc",
                "aes192-cbc",
                "aes256-cbc",
                "3des-cbc",
                "blowfish-cbc",
                "blowfish-ctr",
                "3des-ctr",
            ]
        );
    }

    #[test]
    fn parameters_match_the_specs() {
        // (name, key, iv, block, AEAD tag)
        let expected: &[(&str, usize, usize, usize, Option<usize>)] = &[
            ("chacha20-poly1305@openssh.com", 64, 0, 8, Some(16)),
            ("aes128-gcm@openssh.com", 16, 12, 16, Some(16)),
            ("aes256-gcm@openssh.com", 32, 12, 16, Some(16)),
            ("aes128-ctr", 16, 16, 16, None),
            ("aes192-ctr", 24, 16, 16, None),
            ("aes256-ctr", 32, 16, 16, None),
            ("aes128-cbc", 16, 16, 16, None),
            ("aes192-cbc", 24, 16, 16, None),
            ("aes256-cbc", 32, 16, 16, None),
            ("3des-cbc", 24, 8, 8, None),
            // RFC 4253 §6.3: "blowfish-cbc ... with a 128-bit key".
            ("blowfish-cbc", 16, 8, 8, None),
            // RFC 4344 §4: blowfish-ctr with a 256-bit key, 3des-ctr 192.
            ("blowfish-ctr", 32, 8, 8, None),
            ("3des-ctr", 24, 8, 8, None),
        ];
        let all = all();
        assert_eq!(all.len(), expected.len());
        for (c, &(name, key, iv, block, tag)) in all.iter().zip(expected) {
            assert_eq!(
                (
                    c.name(),
                    c.key_len(),
                    c.iv_len(),
                    c.block_len(),
                    c.aead_tag_len()
                ),
                (name, key, iv, block, tag)
            );
        }
    }

    #[test]
    fn rekey_limits() {
        for c in all() {
            let expected = match c.name() {
                // OpenSSH's 2^30 bytes for its 8-byte "block".
                "chacha20-poly1305@openssh.com" => 1 << 30,
                // 2^16 blocks of 8 bytes (RFC 4344 §3.2).
                "3des-cbc" | "blowfish-cbc" | "blowfish-ctr" | "3des-ctr" => 512 * 1024,
                // 2^32 blocks of 16 bytes.
                _ => 1 << 36,
            };
            assert_eq!(c.rekey_limit_bytes(), expected, "{}", c.name());
        }
    }

    #[test]
    fn wrong_key_or_iv_length_is_an_error() {
        for c in all() {
            for mac in macs_for(c) {
                let good = keys_for(c, 0);
                let mut short_key = good.clone();
                short_key.key.pop();
                let mut long_key = good.clone();
                long_key.key.push(0);
                let mut bad_iv = good.clone();
                bad_iv.iv.push(0);
                for (bad, what, found) in [
                    (&short_key, "key", c.key_len() - 1),
                    (&long_key, "key", c.key_len() + 1),
                    (&bad_iv, "IV", c.iv_len() + 1),
                ] {
                    let expected = if what == "key" {
                        c.key_len()
                    } else {
                        c.iv_len()
                    };
                    let err = |e: AlgorithmError| match e {
                        AlgorithmError::InvalidLength {
                            algorithm,
                            what: w,
                            expected: x,
                            found: f,
                        } => {
                            assert_eq!(algorithm, c.name());
                            assert_eq!((w, x, f), (what, expected, found), "{}", c.name());
                        }
                        other => panic!("{}: {other:?}", c.name()),
                    };
                    err(c.new_sealer(bad, mac).err().unwrap());
                    err(c.new_opener(bad, mac).err().unwrap());
                }
            }
        }
    }

    #[test]
    fn every_cipher_roundtrips_packets_of_many_sizes() {
        for c in all() {
            for mac in macs_for(c) {
                let (mut sealer, mut opener) = pair(c, mac);
                assert_eq!(sealer.block_len(), c.block_len());
                assert_eq!(opener.block_len(), c.block_len());
                assert_eq!(sealer.tag_len(), opener.tag_len());
                assert_eq!(sealer.separate_length(), opener.separate_length());
                if let Some(t) = c.aead_tag_len() {
                    assert_eq!(sealer.tag_len(), t);
                    assert!(sealer.separate_length());
                    assert_eq!(opener.length_bytes_needed(), 4);
                }
                let sizes = (0..=300).chain([32 * 1024]);
                for (seq, size) in sizes.enumerate() {
                    // Sequence numbers wrap; start near the top to cross it.
                    let seq = (seq as u32).wrapping_add(u32::MAX - 100);
                    let payload: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
                    let plain = packet(&payload, c.block_len(), sealer.separate_length());
                    let (mut wire, tag) = seal(&mut *sealer, seq, &plain);
                    assert_ne!(wire[4..], plain[4..], "{} did not encrypt", c.name());
                    let len = open(&mut *opener, seq, &mut wire, &tag)
                        .unwrap_or_else(|_| panic!("{} size {size}", c.name()));
                    assert_eq!(len as usize + 4, plain.len(), "{}", c.name());
                    assert_eq!(wire, plain, "{} size {size}", c.name());
                }
            }
        }
    }

    #[test]
    fn state_continues_across_packets() {
        for c in all() {
            for mac in macs_for(c) {
                let (mut sealer, _) = pair(c, mac);
                let plain = packet(
                    b"same plaintext twice",
                    c.block_len(),
                    sealer.separate_length(),
                );
                let (first, tag1) = seal(&mut *sealer, 3, &plain);
                // Same sequence number on purpose: only the cipher's own
                // state (counter, chaining value, invocation counter) may
                // tell the two apart. ChaCha20-Poly1305 has no state but
                // the sequence number, so it gets the next one.
                let seq = if c.iv_len() == 0 { 4 } else { 3 };
                let (second, tag2) = seal(&mut *sealer, seq, &plain);
                assert_ne!(first[4..], second[4..], "{}", c.name());
                if c.aead_tag_len().is_some() {
                    assert_ne!(tag1, tag2, "{}", c.name());
                }
            }
        }
    }

    #[test]
    fn aead_rejects_any_flipped_bit() {
        for c in all().into_iter().filter(|c| c.aead_tag_len().is_some()) {
            let plain = packet(b"attack at dawn", c.block_len(), true);
            let (mut sealer, _) = pair(c, None);
            let (wire, tag) = seal(&mut *sealer, 9, &plain);
            for bit in 0..(wire.len() + tag.len()) * 8 {
                let (mut w, mut t) = (wire.clone(), tag.clone());
                let i = bit / 8;
                if i < w.len() {
                    w[i] ^= 1 << (bit % 8);
                } else {
                    t[i - w.len()] ^= 1 << (bit % 8);
                }
                let (_, mut opener) = pair(c, None);
                let got = open(&mut *opener, 9, &mut w, &t);
                assert_eq!(got, Err(CryptoError), "{} bit {bit}", c.name());
            }
            // And the untouched packet opens, under the right number only.
            let (_, mut opener) = pair(c, None);
            let mut w = wire.clone();
            assert!(open(&mut *opener, 9, &mut w, &tag).is_ok());
            let (_, mut opener) = pair(c, None);
            let mut w = wire.clone();
            if c.iv_len() == 0 {
                assert_eq!(open(&mut *opener, 10, &mut w, &tag), Err(CryptoError));
            }
            // A tag of the wrong length is a failure, not a panic.
            let (_, mut opener) = pair(c, None);
            let mut w = wire.clone();
            assert_eq!(open(&mut *opener, 9, &mut w, &tag[1..]), Err(CryptoError));
        }
    }

    #[test]
    fn stream_ciphers_carry_tampering_into_the_plaintext() {
        // With the none MAC nothing detects tampering; the point here is
        // that the opener really decrypts what it is given.
        for c in all().into_iter().filter(|c| c.aead_tag_len().is_none()) {
            let plain = packet(&[0x55; 40], c.block_len(), false);
            let (mut sealer, _) = pair(c, Some(&NONE_MAC));
            let (wire, tag) = seal(&mut *sealer, 0, &plain);
            let last = wire.len() - 1;
            let mut w = wire.clone();
            w[last] ^= 0x01;
            let (_, mut opener) = pair(c, Some(&NONE_MAC));
            open(&mut *opener, 0, &mut w, &tag).unwrap();
            // CTR flips just that bit; CBC garbles the last block.
            let last_block = wire.len() - c.block_len();
            assert_eq!(w[..last_block], plain[..last_block], "{}", c.name());
            assert_ne!(w[last_block..], plain[last_block..], "{}", c.name());
            if c.name().ends_with("-ctr") {
                assert_eq!(w[last] ^ plain[last], 0x01, "{}", c.name());
            }
        }
    }

    #[test]
    fn stream_ciphers_with_a_mac_reject_tampering() {
        for c in all().into_iter().filter(|c| c.aead_tag_len().is_none()) {
            for mac in [&TOY_MAC as &dyn Mac, &TOY_ETM_MAC] {
                let (mut sealer, _) = pair(c, Some(mac));
                let plain = packet(b"integrity", c.block_len(), sealer.separate_length());
                let (wire, tag) = seal(&mut *sealer, 5, &plain);
                // Past the length field: a changed length would only make
                // the transport wait for a different amount of data.
                for i in [4, wire.len() / 2, wire.len() - 1] {
                    let mut w = wire.clone();
                    w[i] ^= 0x80;
                    let (_, mut opener) = pair(c, Some(mac));
                    assert_eq!(open(&mut *opener, 5, &mut w, &tag), Err(CryptoError));
                }
            }
        }
    }

    #[test]
    fn hostile_lengths_do_not_panic() {
        // Buffers shorter than a block, not a multiple of the block, and
        // empty: the transport never passes these, but nothing may panic.
        for c in all() {
            for mac in macs_for(c) {
                let (mut sealer, mut opener) = pair(c, mac);
                for len in [0, 1, 3, 4, 5, 9, 17, 33] {
                    let mut p = vec![0x11; len];
                    let mut tag = vec![0; sealer.tag_len()];
                    sealer.seal(0, &mut p, &mut tag);
                    let mut head = vec![0x22; len.min(opener.length_bytes_needed())];
                    opener.decrypt_length(0, &mut head);
                    let mut p = vec![0x33; len];
                    let _ = opener.open(0, &mut p, &tag);
                    let _ = opener.open(0, &mut p, &[]);
                }
            }
        }
    }

    #[test]
    fn cipher_state_is_zeroized_on_drop() {
        // Compile-time: the RustCrypto types we keep keys in wipe
        // themselves (their "zeroize" features are on).
        fn wiped<T: zeroize::ZeroizeOnDrop>() {}
        wiped::<::ctr::Ctr128BE<aes::Aes128Enc>>();
        wiped::<::ctr::Ctr128BE<aes::Aes256Enc>>();
        wiped::<::ctr::Ctr64BE<des::TdesEde3>>();
        wiped::<::ctr::Ctr64BE<blowfish::Blowfish>>();
        wiped::<::cbc::Encryptor<aes::Aes192Enc>>();
        wiped::<::cbc::Decryptor<aes::Aes192Dec>>();
        wiped::<::cbc::Encryptor<des::TdesEde3>>();
        wiped::<::cbc::Decryptor<blowfish::Blowfish>>();
        wiped::<aes::Aes128Enc>();
        wiped::<aes::Aes256Enc>();
        wiped::<chacha20::ChaCha20LegacyCore>();
        // poly1305::Poly1305 and polyval::Polyval wipe
        // themselves in Drop under their "zeroize" features but do not
        // carry the marker trait.
    }
}
