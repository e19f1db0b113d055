//! Built-in MACs: the HMACs of RFC 4253 §6.4 and RFC 6668, OpenSSH's UMAC
//! MACs, and the encrypt-then-MAC (`-etm@openssh.com`) form of each.
//!
//! An `-etm` MAC computes exactly what its plain twin computes; only the
//! input differs. The cipher layer ([`crate::cipher::stream_sealer`]) passes
//! the encrypted packet instead of the plaintext and leaves the length field
//! unencrypted, as OpenSSH's PROTOCOL §1.5 specifies, when
//! [`Mac::is_etm`] says so.
//!
//! [`DEFAULT`] is OpenSSH 10's `KEX_SERVER_MAC` order (`myproposal.h`);
//! [`LEGACY`] holds the truncated and MD5-based MACs that only old peers
//! need.

mod hmac;
pub mod umac;

pub use self::hmac::HmacMac;

use crate::{Algorithm, AlgorithmError, Mac, MacInstance};
use alloc::boxed::Box;
use md5::Md5;
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use umac::{Umac64, Umac128};

/// `hmac-sha2-256` (RFC 6668 §2): 32-byte key and tag.
pub static HMAC_SHA2_256: HmacMac<Sha256> = HmacMac::new("hmac-sha2-256", 32, false);
/// `hmac-sha2-512` (RFC 6668 §2): 64-byte key and tag.
pub static HMAC_SHA2_512: HmacMac<Sha512> = HmacMac::new("hmac-sha2-512", 64, false);
/// `hmac-sha1` (RFC 4253 §6.4): 20-byte key and tag.
pub static HMAC_SHA1: HmacMac<Sha1> = HmacMac::new("hmac-sha1", 20, false);
/// `hmac-sha1-96` (RFC 4253 §6.4): 20-byte key, the first 12 bytes of the
/// HMAC-SHA1 output as tag.
pub static HMAC_SHA1_96: HmacMac<Sha1> = HmacMac::new("hmac-sha1-96", 12, false);
/// `hmac-md5` (RFC 4253 §6.4): 16-byte key and tag.
pub static HMAC_MD5: HmacMac<Md5> = HmacMac::new("hmac-md5", 16, false);
/// `hmac-md5-96` (RFC 4253 §6.4): 16-byte key, the first 12 bytes of the
/// HMAC-MD5 output as tag.
pub static HMAC_MD5_96: HmacMac<Md5> = HmacMac::new("hmac-md5-96", 12, false);

/// `hmac-sha2-256-etm@openssh.com`: [`HMAC_SHA2_256`], encrypt-then-MAC.
pub static HMAC_SHA2_256_ETM: HmacMac<Sha256> =
    HmacMac::new("hmac-sha2-256-etm@openssh.com", 32, true);
/// `hmac-sha2-512-etm@openssh.com`: [`HMAC_SHA2_512`], encrypt-then-MAC.
pub static HMAC_SHA2_512_ETM: HmacMac<Sha512> =
    HmacMac::new("hmac-sha2-512-etm@openssh.com", 64, true);
/// `hmac-sha1-etm@openssh.com`: [`HMAC_SHA1`], encrypt-then-MAC.
pub static HMAC_SHA1_ETM: HmacMac<Sha1> = HmacMac::new("hmac-sha1-etm@openssh.com", 20, true);
/// `hmac-sha1-96-etm@openssh.com`: [`HMAC_SHA1_96`], encrypt-then-MAC.
pub static HMAC_SHA1_96_ETM: HmacMac<Sha1> = HmacMac::new("hmac-sha1-96-etm@openssh.com", 12, true);
/// `hmac-md5-etm@openssh.com`: [`HMAC_MD5`], encrypt-then-MAC.
pub static HMAC_MD5_ETM: HmacMac<Md5> = HmacMac::new("hmac-md5-etm@openssh.com", 16, true);
/// `hmac-md5-96-etm@openssh.com`: [`HMAC_MD5_96`], encrypt-then-MAC.
pub static HMAC_MD5_96_ETM: HmacMac<Md5> = HmacMac::new("hmac-md5-96-etm@openssh.com", 12, true);

/// `umac-64@openssh.com`: UMAC-64 (RFC 4418), 16-byte key, 8-byte tag.
pub static UMAC_64: UmacMac = UmacMac::new("umac-64@openssh.com", UmacWidth::Bits64, false);
/// `umac-128@openssh.com`: UMAC-128 (RFC 4418), 16-byte key, 16-byte tag.
pub static UMAC_128: UmacMac = UmacMac::new("umac-128@openssh.com", UmacWidth::Bits128, false);
/// `umac-64-etm@openssh.com`: [`UMAC_64`], encrypt-then-MAC.
pub static UMAC_64_ETM: UmacMac = UmacMac::new("umac-64-etm@openssh.com", UmacWidth::Bits64, true);
/// `umac-128-etm@openssh.com`: [`UMAC_128`], encrypt-then-MAC.
pub static UMAC_128_ETM: UmacMac =
    UmacMac::new("umac-128-etm@openssh.com", UmacWidth::Bits128, true);

/// The MACs offered by default, most preferred first: OpenSSH 10's
/// `KEX_SERVER_MAC` (= `KEX_CLIENT_MAC`) from `myproposal.h` v1.77.
pub static DEFAULT: &[&dyn Mac] = &[
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

/// MACs compiled in but offered only on request: the 96-bit truncations
/// and the MD5-based ones, which OpenSSH dropped from its defaults.
pub static LEGACY: &[&dyn Mac] = &[
    &HMAC_SHA1_96,
    &HMAC_MD5,
    &HMAC_MD5_96,
    &HMAC_MD5_ETM,
    &HMAC_SHA1_96_ETM,
    &HMAC_MD5_96_ETM,
];

/// Which UMAC of RFC 4418: the tag width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UmacWidth {
    /// UMAC-64: two UHASH iterations, 8-byte tags.
    Bits64,
    /// UMAC-128: four UHASH iterations, 16-byte tags.
    Bits128,
}

/// UMAC as OpenSSH uses it (`umac-64@openssh.com`, `umac-128@openssh.com`
/// and their `-etm` forms), over [`umac`].
///
/// Unlike the HMACs, OpenSSH's UMAC MACs keep the sequence number out of
/// the hashed data: it becomes the 8-byte big-endian UMAC nonce, and only
/// the packet is hashed (OpenSSH `mac.c`, `mac_compute`). The key is 16
/// bytes (a 128-bit AES key, RFC 4418 §4.1).
#[derive(Debug)]
pub struct UmacMac {
    name: &'static str,
    width: UmacWidth,
    etm: bool,
}

impl UmacMac {
    /// A UMAC MAC called `name`.
    #[must_use]
    pub const fn new(name: &'static str, width: UmacWidth, etm: bool) -> Self {
        UmacMac { name, width, etm }
    }
}

impl Algorithm for UmacMac {
    fn name(&self) -> &str {
        self.name
    }
}

impl Mac for UmacMac {
    fn key_len(&self) -> usize {
        Umac64::KEY_LEN
    }

    fn tag_len(&self) -> usize {
        match self.width {
            UmacWidth::Bits64 => Umac64::TAG_LEN,
            UmacWidth::Bits128 => Umac128::TAG_LEN,
        }
    }

    fn is_etm(&self) -> bool {
        self.etm
    }

    fn new_instance(&self, key: &[u8]) -> Result<Box<dyn MacInstance>, AlgorithmError> {
        let key: &[u8; 16] = key.try_into().map_err(|_| AlgorithmError::InvalidLength {
            algorithm: self.name,
            what: "MAC key",
            expected: Umac64::KEY_LEN,
            found: key.len(),
        })?;
        // All subkeys are derived here, once per key exchange; a packet
        // then costs only the hash and one AES block at most.
        Ok(match self.width {
            UmacWidth::Bits64 => Box::new(Umac64Instance(Umac64::new(key))),
            UmacWidth::Bits128 => Box::new(Umac128Instance(Umac128::new(key))),
        })
    }
}

/// OpenSSH's nonce for packet `sequence_number`: the number as a 64-bit
/// big-endian integer (`put_u64(nonce, seqno)` in `mac.c`).
fn umac_nonce(sequence_number: u32) -> [u8; 8] {
    u64::from(sequence_number).to_be_bytes()
}

struct Umac64Instance(Umac64);

impl MacInstance for Umac64Instance {
    fn tag_len(&self) -> usize {
        Umac64::TAG_LEN
    }

    fn compute(&mut self, sequence_number: u32, packet: &[u8], tag: &mut [u8]) {
        debug_assert_eq!(tag.len(), Umac64::TAG_LEN, "tag buffer of the wrong size");
        let computed = self.0.tag(packet, &umac_nonce(sequence_number));
        for (out, byte) in tag.iter_mut().zip(computed) {
            *out = byte;
        }
    }
}

struct Umac128Instance(Umac128);

impl MacInstance for Umac128Instance {
    fn tag_len(&self) -> usize {
        Umac128::TAG_LEN
    }

    fn compute(&mut self, sequence_number: u32, packet: &[u8], tag: &mut [u8]) {
        debug_assert_eq!(tag.len(), Umac128::TAG_LEN, "tag buffer of the wrong size");
        let computed = self.0.tag(packet, &umac_nonce(sequence_number));
        for (out, byte) in tag.iter_mut().zip(computed) {
            *out = byte;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    fn all() -> impl Iterator<Item = &'static dyn Mac> {
        DEFAULT.iter().chain(LEGACY).copied()
    }

    fn names(list: &[&dyn Mac]) -> Vec<String> {
        list.iter().map(|m| String::from(m.name())).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A key of the right length that is not all one byte.
    fn key_for(mac: &dyn Mac) -> Vec<u8> {
        (0..mac.key_len())
            .map(|i| (i as u8).wrapping_mul(37) ^ 0x5a)
            .collect()
    }

    #[test]
    fn default_is_openssh_10_order() {
        // OpenSSH myproposal.h v1.77 (2024/12/02), KEX_SERVER_MAC.
        assert_eq!(
            names(DEFAULT),
            [
                "umac-64-etm@openssh.com",
                "umac-128-etm@openssh.com",
                "hmac-sha2-256-etm@openssh.com",
                "hmac-sha2-512-etm@openssh.com",
                "hmac-sha1-etm@openssh.com",
                "umac-64@openssh.com",
                "umac-128@openssh.com",
                "hmac-sha2-256",
                "hmac-sha2-512",
                "hmac-sha1",
            ]
        );
        assert_eq!(
            names(LEGACY),
            [
                "hmac-sha1-96",
                "hmac-md5",
                "hmac-md5-96",
                "hmac-md5-etm@openssh.com",
                "hmac-sha1-96-etm@openssh.com",
                "hmac-md5-96-etm@openssh.com",
            ]
        );
        let every = names(&all().collect::<Vec<_>>());
        for (i, n) in every.iter().enumerate() {
            assert!(!every[i + 1..].contains(n), "{n} listed twice");
        }
    }

    #[test]
    fn parameters() {
        // (MAC, key length, tag length): RFC 4253 §6.4, RFC 6668 §2,
        // OpenSSH mac.c (UMAC keys are 128 bits).
        let table: [(&dyn Mac, usize, usize); 16] = [
            (&HMAC_SHA2_256, 32, 32),
            (&HMAC_SHA2_256_ETM, 32, 32),
            (&HMAC_SHA2_512, 64, 64),
            (&HMAC_SHA2_512_ETM, 64, 64),
            (&HMAC_SHA1, 20, 20),
            (&HMAC_SHA1_ETM, 20, 20),
            (&HMAC_SHA1_96, 20, 12),
            (&HMAC_SHA1_96_ETM, 20, 12),
            (&HMAC_MD5, 16, 16),
            (&HMAC_MD5_ETM, 16, 16),
            (&HMAC_MD5_96, 16, 12),
            (&HMAC_MD5_96_ETM, 16, 12),
            (&UMAC_64, 16, 8),
            (&UMAC_64_ETM, 16, 8),
            (&UMAC_128, 16, 16),
            (&UMAC_128_ETM, 16, 16),
        ];
        assert_eq!(table.len(), all().count());
        for (mac, key_len, tag_len) in table {
            let name = mac.name();
            assert!(all().any(|m| m.name() == name), "{name} in no list");
            assert_eq!(mac.key_len(), key_len, "{name}");
            assert_eq!(mac.tag_len(), tag_len, "{name}");
            assert_eq!(mac.is_etm(), name.contains("-etm@openssh.com"), "{name}");
            let instance = mac.new_instance(&key_for(mac)).unwrap();
            assert_eq!(instance.tag_len(), tag_len, "{name}");
        }
    }

    #[test]
    fn wrong_key_length_is_refused() {
        for mac in all() {
            let len = mac.key_len();
            for bad in [0, len - 1, len + 1, 2 * len] {
                let err = mac.new_instance(&vec![1; bad]).err().unwrap();
                match &err {
                    AlgorithmError::InvalidLength {
                        algorithm,
                        what,
                        expected,
                        found,
                    } => {
                        assert_eq!(*algorithm, mac.name());
                        assert_eq!(*what, "MAC key");
                        assert_eq!((*expected, *found), (len, bad), "{}", mac.name());
                    }
                    other => panic!("{}: {other:?}", mac.name()),
                }
                assert!(alloc::format!("{err}").contains(mac.name()));
            }
        }
    }

    /// For every MAC: the computed tag verifies, and flipping any single bit
    /// of the packet, the sequence number or the tag, or giving a tag of the
    /// wrong length, makes verification fail.
    #[test]
    fn every_mac_rejects_any_single_bit_change() {
        let packet: Vec<u8> = (0u8..37).map(|i| i.wrapping_mul(11)).collect();
        let seq = 0x8000_0003;
        for mac in all() {
            let name = mac.name();
            let mut m = mac.new_instance(&key_for(mac)).unwrap();
            let mut tag = vec![0; m.tag_len()];
            m.compute(seq, &packet, &mut tag);
            assert!(m.verify(seq, &packet, &tag), "{name}");
            assert_ne!(tag, vec![0; tag.len()], "{name}");

            for bit in 0..packet.len() * 8 {
                let mut p = packet.clone();
                p[bit / 8] ^= 1 << (bit % 8);
                assert!(!m.verify(seq, &p, &tag), "{name}: packet bit {bit}");
            }
            for bit in 0..32 {
                assert!(
                    !m.verify(seq ^ (1 << bit), &packet, &tag),
                    "{name}: seq bit {bit}"
                );
            }
            for bit in 0..tag.len() * 8 {
                let mut t = tag.clone();
                t[bit / 8] ^= 1 << (bit % 8);
                assert!(!m.verify(seq, &packet, &t), "{name}: tag bit {bit}");
            }
            assert!(!m.verify(seq, &packet, &tag[..tag.len() - 1]), "{name}");
            assert!(!m.verify(seq, &packet, &[]), "{name}");
            let mut longer = tag.clone();
            longer.push(0);
            assert!(!m.verify(seq, &packet, &longer), "{name}");
            // Shorter and longer packets too (a truncation attack).
            assert!(!m.verify(seq, &packet[..36], &tag), "{name}");
            assert!(
                !m.verify(seq, &[&packet[..], &[0]].concat(), &tag),
                "{name}"
            );
            // And the instance still works after all those failures.
            assert!(m.verify(seq, &packet, &tag), "{name}");
        }
    }

    #[test]
    fn tags_depend_on_the_key() {
        for mac in all() {
            let key = key_for(mac);
            let mut other = key.clone();
            other[0] ^= 1;
            let mut a = mac.new_instance(&key).unwrap();
            let mut b = mac.new_instance(&key).unwrap();
            let mut c = mac.new_instance(&other).unwrap();
            let (mut ta, mut tb, mut tc) = (
                vec![0; a.tag_len()],
                vec![0; a.tag_len()],
                vec![0; a.tag_len()],
            );
            a.compute(9, b"payload", &mut ta);
            b.compute(9, b"payload", &mut tb);
            c.compute(9, b"payload", &mut tc);
            assert_eq!(ta, tb, "{}", mac.name());
            assert_ne!(ta, tc, "{}", mac.name());
        }
    }

    #[test]
    fn etm_forms_compute_what_their_plain_twins_compute() {
        let pairs: [(&dyn Mac, &dyn Mac); 8] = [
            (&HMAC_SHA2_256, &HMAC_SHA2_256_ETM),
            (&HMAC_SHA2_512, &HMAC_SHA2_512_ETM),
            (&HMAC_SHA1, &HMAC_SHA1_ETM),
            (&HMAC_SHA1_96, &HMAC_SHA1_96_ETM),
            (&HMAC_MD5, &HMAC_MD5_ETM),
            (&HMAC_MD5_96, &HMAC_MD5_96_ETM),
            (&UMAC_64, &UMAC_64_ETM),
            (&UMAC_128, &UMAC_128_ETM),
        ];
        for (plain, etm) in pairs {
            assert!(!plain.is_etm() && etm.is_etm());
            let key = key_for(plain);
            let (mut p, mut e) = (
                plain.new_instance(&key).unwrap(),
                etm.new_instance(&key).unwrap(),
            );
            let (mut tp, mut te) = (vec![0; p.tag_len()], vec![0; e.tag_len()]);
            p.compute(77, b"some encrypted bytes", &mut tp);
            e.compute(77, b"some encrypted bytes", &mut te);
            assert_eq!(tp, te, "{}", etm.name());
        }
    }

    #[test]
    fn truncated_hmacs_are_prefixes_of_the_full_ones() {
        for (full, short) in [
            (&HMAC_SHA1 as &dyn Mac, &HMAC_SHA1_96 as &dyn Mac),
            (&HMAC_MD5, &HMAC_MD5_96),
        ] {
            let key = key_for(full);
            let mut f = full.new_instance(&key).unwrap();
            let mut s = short.new_instance(&key).unwrap();
            let (mut tf, mut ts) = (vec![0; f.tag_len()], vec![0; 12]);
            f.compute(5, b"packet", &mut tf);
            s.compute(5, b"packet", &mut ts);
            assert_eq!(tf[..12], ts[..], "{}", short.name());
        }
    }

    /// RFC 2202 vectors whose key has the SSH key length, through the
    /// statics: the vector's first four data bytes are the sequence number.
    #[test]
    fn rfc2202_through_the_statics() {
        fn check(mac: &dyn Mac, key: &[u8], data: &[u8], expected_hex: &str) {
            let expected = unhex(expected_hex);
            let mut m = mac.new_instance(key).unwrap();
            let seq = u32::from_be_bytes(data[..4].try_into().unwrap());
            let mut tag = vec![0; m.tag_len()];
            m.compute(seq, &data[4..], &mut tag);
            assert_eq!(tag, expected, "{}", mac.name());
            assert!(m.verify(seq, &data[4..], &expected), "{}", mac.name());
        }
        for sha1 in [&HMAC_SHA1, &HMAC_SHA1_ETM] {
            // RFC 2202 §3, test cases 1, 3 and 5.
            check(
                sha1,
                &[0x0b; 20],
                b"Hi There",
                "b617318655057264e28bc0b6fb378c8ef146be00",
            );
            check(
                sha1,
                &[0xaa; 20],
                &[0xdd; 50],
                "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
            );
            check(
                sha1,
                &[0x0c; 20],
                b"Test With Truncation",
                "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
            );
        }
        for sha1_96 in [&HMAC_SHA1_96, &HMAC_SHA1_96_ETM] {
            // RFC 2202 §3, test case 5, digest-96.
            check(
                sha1_96,
                &[0x0c; 20],
                b"Test With Truncation",
                "4c1a03424b55e07fe7f27be1",
            );
        }
        for md5 in [&HMAC_MD5, &HMAC_MD5_ETM] {
            // RFC 2202 §2, test cases 1, 3 and 5.
            check(
                md5,
                &[0x0b; 16],
                b"Hi There",
                "9294727a3638bb1c13f48ef8158bfc9d",
            );
            check(
                md5,
                &[0xaa; 16],
                &[0xdd; 50],
                "56be34521d144c88dbb8c733f0e8b3f6",
            );
            check(
                md5,
                &[0x0c; 16],
                b"Test With Truncation",
                "56461ef2342edc00f9bab995690efd4c",
            );
        }
        for md5_96 in [&HMAC_MD5_96, &HMAC_MD5_96_ETM] {
            // RFC 2202 §2, test case 5, digest-96.
            check(
                md5_96,
                &[0x0c; 16],
                b"Test With Truncation",
                "56461ef2342edc00f9bab995",
            );
        }
    }

    /// The SSH UMAC MACs are the RFC 4418 primitive with nonce = the
    /// sequence number as 8 big-endian bytes, over the packet alone.
    #[test]
    fn umac_through_mac_instance_matches_the_primitive() {
        let key = *b"abcdefghijklmnop";
        let umac64 = Umac64::new(&key);
        let umac128 = Umac128::new(&key);
        let mut m64 = UMAC_64.new_instance(&key).unwrap();
        let mut m128 = UMAC_128_ETM.new_instance(&key).unwrap();
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 + 3) as u8).collect();
        for seq in [0u32, 1, 2, 3, 255, 256, 0x0102_0304, u32::MAX] {
            let nonce = u64::from(seq).to_be_bytes();
            for len in [0usize, 1, 31, 32, 33, 1024, 1025, 3000] {
                let packet = &data[..len];
                let (mut t64, mut t128) = ([0; 8], [0; 16]);
                m64.compute(seq, packet, &mut t64);
                m128.compute(seq, packet, &mut t128);
                assert_eq!(t64, umac64.tag(packet, &nonce), "seq {seq} len {len}");
                assert_eq!(t128, umac128.tag(packet, &nonce), "seq {seq} len {len}");
                // The sequence number is not hashed as data: MACing
                // seq || packet with any nonce gives something else.
                let mut with_seq = seq.to_be_bytes().to_vec();
                with_seq.extend_from_slice(packet);
                assert_ne!(t64, umac64.tag(&with_seq, &nonce));
            }
        }
        // The RFC 4418 "abc" vector has nonce "bcdefghi", which no 32-bit
        // sequence number produces; nonce 0x0000000062636465 is the closest
        // an SSH packet gets, and it must not collide with it.
        let mut t = [0; 8];
        m64.compute(0x6263_6465, b"abc", &mut t);
        assert_ne!(t, unhex("d4d7b9f6bd4fbfcf")[..]);
    }
}
