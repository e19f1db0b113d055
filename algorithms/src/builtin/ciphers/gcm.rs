//! AES-GCM as OpenSSH runs it: `aes128-gcm@openssh.com` and
//! `aes256-gcm@openssh.com` (RFC 5647, with OpenSSH's naming and
//! negotiation, PROTOCOL §1.6).
//!
//! - The 12-byte nonce is the IV from the key exchange, read as a 4-byte
//!   fixed field followed by a 64-bit big-endian invocation counter that is
//!   incremented after every packet (RFC 5647 §7.1).
//! - The 4-byte packet length is sent in the clear and authenticated as the
//!   additional data; everything after it is encrypted (§7.3). So padding
//!   aligns the packet without its length, and the opener reads the length
//!   from the first 4 bytes as they are.
//! - The 16-byte tag follows the packet; no MAC is negotiated (§5.1 and
//!   OpenSSH's PROTOCOL §1.6).

use super::check_len;
use crate::{
    Algorithm, AlgorithmError, Cipher, CryptoError, DirectionKeys, Mac, PacketOpener, PacketSealer,
};
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Nonce, Tag};
use alloc::boxed::Box;
use cipher::{BlockCipherEncrypt, BlockSizeUser, consts::U16};

/// Bytes of GCM tag, the only length RFC 5647 §7.3 allows.
const TAG_LEN: usize = 16;
/// Bytes of nonce (RFC 5647 §7.1: 4 fixed + 8 invocation counter).
const IV_LEN: usize = 12;
/// Bytes of the length field sent in the clear as additional data.
const LENGTH_LEN: usize = 4;

/// AES in Galois/Counter Mode, as OpenSSH's `aes*-gcm@openssh.com`.
#[derive(Debug)]
pub struct AesGcm {
    name: &'static str,
    key_len: usize,
}

/// `aes128-gcm@openssh.com`.
pub static AES128_GCM: AesGcm = AesGcm {
    name: "aes128-gcm@openssh.com",
    key_len: 16,
};
/// `aes256-gcm@openssh.com`.
pub static AES256_GCM: AesGcm = AesGcm {
    name: "aes256-gcm@openssh.com",
    key_len: 32,
};

impl Algorithm for AesGcm {
    fn name(&self) -> &str {
        self.name
    }
}

impl AesGcm {
    fn state(&self, keys: &DirectionKeys) -> Result<Box<Gcm>, AlgorithmError> {
        check_len(self.name, "key", self.key_len, keys.key.len())?;
        check_len(self.name, "IV", IV_LEN, keys.iv.len())?;
        let invalid_iv = || AlgorithmError::InvalidLength {
            algorithm: self.name,
            what: "IV",
            expected: IV_LEN,
            found: keys.iv.len(),
        };
        let (fixed, counter) = keys.iv.split_first_chunk::<4>().ok_or_else(invalid_iv)?;
        let counter = <[u8; 8]>::try_from(counter).map_err(|_| invalid_iv())?;
        let aead = if self.key_len == 16 {
            Aead::Aes128(aead::<aes::Aes128Enc>(self.name, &keys.key)?)
        } else {
            Aead::Aes256(aead::<aes::Aes256Enc>(self.name, &keys.key)?)
        };
        Ok(Box::new(Gcm {
            aead,
            fixed: *fixed,
            invocation: u64::from_be_bytes(counter),
        }))
    }
}

fn aead<A>(name: &'static str, key: &[u8]) -> Result<aes_gcm::AesGcm<A, U12>, AlgorithmError>
where
    A: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit,
{
    A::new_from_slice(key)
        .map(aes_gcm::AesGcm::from)
        .map_err(|_| AlgorithmError::InvalidLength {
            algorithm: name,
            what: "key",
            expected: A::key_size(),
            found: key.len(),
        })
}

impl Cipher for AesGcm {
    fn key_len(&self) -> usize {
        self.key_len
    }
    fn iv_len(&self) -> usize {
        IV_LEN
    }
    fn block_len(&self) -> usize {
        16
    }
    fn aead_tag_len(&self) -> Option<usize> {
        Some(TAG_LEN)
    }
    fn new_sealer(
        &self,
        keys: &DirectionKeys,
        _mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketSealer>, AlgorithmError> {
        Ok(self.state(keys)?)
    }
    fn new_opener(
        &self,
        keys: &DirectionKeys,
        _mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketOpener>, AlgorithmError> {
        Ok(self.state(keys)?)
    }
}

/// The keyed AEAD; only the encrypting key schedule is kept, GCM never
/// runs AES backwards. Both wipe themselves on drop.
enum Aead {
    Aes128(aes_gcm::AesGcm<aes::Aes128Enc, U12>),
    Aes256(aes_gcm::AesGcm<aes::Aes256Enc, U12>),
}

impl Aead {
    fn encrypt(&self, nonce: &Nonce<U12>, aad: &[u8], body: &mut [u8]) -> Option<Tag> {
        match self {
            Self::Aes128(a) => a.encrypt_inout_detached(nonce, aad, body.into()).ok(),
            Self::Aes256(a) => a.encrypt_inout_detached(nonce, aad, body.into()).ok(),
        }
    }

    /// Checks the tag over `aad` and the ciphertext first, and decrypts
    /// only if it matches (the crate compares in constant time).
    fn decrypt(&self, nonce: &Nonce<U12>, aad: &[u8], body: &mut [u8], tag: &Tag) -> bool {
        match self {
            Self::Aes128(a) => a
                .decrypt_inout_detached(nonce, aad, body.into(), tag)
                .is_ok(),
            Self::Aes256(a) => a
                .decrypt_inout_detached(nonce, aad, body.into(), tag)
                .is_ok(),
        }
    }
}

/// One direction: the AEAD and where its nonce stands.
struct Gcm {
    aead: Aead,
    fixed: [u8; 4],
    invocation: u64,
}

impl Gcm {
    /// The nonce for this packet, and the counter moved on for the next
    /// one. The counter wraps modulo 2^64 as OpenSSL's GCM IV generation
    /// does; it starts at a key-exchange-derived value, so wrapping is
    /// possible in principle, while a repeat would need 2^64 packets under
    /// one key, far beyond any rekey limit.
    fn next_nonce(&mut self) -> Nonce<U12> {
        let mut nonce = Nonce::<U12>::default();
        let (fixed, counter) = nonce.split_at_mut(4);
        fixed.copy_from_slice(&self.fixed);
        counter.copy_from_slice(&self.invocation.to_be_bytes());
        self.invocation = self.invocation.wrapping_add(1);
        nonce
    }
}

impl PacketSealer for Gcm {
    fn block_len(&self) -> usize {
        16
    }
    fn separate_length(&self) -> bool {
        true
    }
    fn tag_len(&self) -> usize {
        TAG_LEN
    }
    fn seal(&mut self, _sequence_number: u32, packet: &mut [u8], tag: &mut [u8]) {
        let nonce = self.next_nonce();
        let sealed = match packet.split_at_mut_checked(LENGTH_LEN) {
            Some((aad, body)) => self.aead.encrypt(&nonce, aad, body),
            None => None,
        };
        match sealed {
            Some(t) => {
                for (out, t) in tag.iter_mut().zip(t.iter()) {
                    *out = *t;
                }
            }
            // Unreachable for any packet the transport builds (shorter
            // than the length field, or beyond GCM's 2^36-byte limit).
            // Nothing readable may leave: wipe packet and tag, and the
            // peer's tag check fails.
            None => {
                packet.fill(0);
                tag.fill(0);
            }
        }
    }
}

impl PacketOpener for Gcm {
    fn block_len(&self) -> usize {
        16
    }
    fn separate_length(&self) -> bool {
        true
    }
    fn tag_len(&self) -> usize {
        TAG_LEN
    }
    fn length_bytes_needed(&self) -> usize {
        LENGTH_LEN
    }
    fn decrypt_length(&mut self, _sequence_number: u32, head: &mut [u8]) -> u32 {
        head.first_chunk::<4>()
            .map_or(0, |l| u32::from_be_bytes(*l))
    }
    fn open(
        &mut self,
        _sequence_number: u32,
        packet: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        // Every packet uses up a nonce, even one that fails: the
        // connection is over then anyway.
        let nonce = self.next_nonce();
        let tag = <&Tag>::try_from(tag).map_err(|_| CryptoError)?;
        let (aad, body) = packet.split_at_mut_checked(LENGTH_LEN).ok_or(CryptoError)?;
        if self.aead.decrypt(&nonce, aad, body, tag) {
            Ok(())
        } else {
            Err(CryptoError)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::hash::tests::hex;
    use alloc::vec;
    use alloc::vec::Vec;
    use zeroize::Zeroizing;

    fn keys(key: &str, iv: &str) -> DirectionKeys {
        DirectionKeys {
            iv: Zeroizing::new(hex(iv)),
            key: Zeroizing::new(hex(key)),
            mac_key: Zeroizing::new(Vec::new()),
        }
    }

    // McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", the
    // NIST submission, Appendix B: test cases 4 (AES-128) and 16 (AES-256)
    // share IV, additional data and plaintext.
    const IV: &str = "cafebabefacedbaddecaf888";
    const AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    const PLAIN: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                         1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    const CASES: [(&AesGcm, &str, &str, &str); 2] = [
        (
            &AES128_GCM,
            "feffe9928665731c6d6a8f9467308308",
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
            "5bc94fbc3221a5db94fae95ae7121a47",
        ),
        (
            &AES256_GCM,
            "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b",
        ),
    ];

    #[test]
    fn gcm_spec_test_cases_4_and_16() {
        // Through the same state and calls the sealer and opener use: the
        // additional data in front of the encrypted part of one buffer,
        // the nonce from the IV as fixed field + invocation counter.
        for (cipher, key, ct, tag) in CASES {
            let aad = hex(AAD);
            let k = keys(key, IV);
            let mut st = cipher.state(&k).unwrap();
            let nonce = st.next_nonce();
            assert_eq!(nonce.as_slice(), hex(IV));
            let mut buf = [aad.clone(), hex(PLAIN)].concat();
            let (a, body) = buf.split_at_mut(aad.len());
            let t = st.aead.encrypt(&nonce, a, body).unwrap();
            assert_eq!(body, hex(ct), "{}", cipher.name);
            assert_eq!(t.as_slice(), hex(tag), "{}", cipher.name);
            assert!(st.aead.decrypt(&nonce, a, body, &t));
            assert_eq!(body, hex(PLAIN));
        }
    }

    #[test]
    fn invocation_counter_counts_and_wraps() {
        let k = keys(&"00".repeat(16), "0102030400000000fffffffe");
        let mut st = AES128_GCM.state(&k).unwrap();
        assert_eq!(st.next_nonce().as_slice(), hex("0102030400000000fffffffe"));
        assert_eq!(st.next_nonce().as_slice(), hex("0102030400000000ffffffff"));
        // The carry crosses into the upper half of the 64-bit counter...
        assert_eq!(st.next_nonce().as_slice(), hex("010203040000000100000000"));
        // ...and the counter wraps without touching the fixed field.
        let k = keys(&"00".repeat(16), "01020304ffffffffffffffff");
        let mut st = AES128_GCM.state(&k).unwrap();
        st.next_nonce();
        assert_eq!(st.next_nonce().as_slice(), hex("010203040000000000000000"));
    }

    #[test]
    fn packets_use_consecutive_nonces_and_the_length_as_aad() {
        // Packet n is GCM under IV + n with the clear length as AAD: checked
        // against the GCM primitive directly (test case 4's key).
        let (cipher, key, ..) = CASES[0];
        let k = keys(key, IV);
        let mut sealer = cipher.new_sealer(&k, None).unwrap();
        let reference = aes_gcm::Aes128Gcm::new_from_slice(&hex(key)).unwrap();
        for n in 0..3u8 {
            let plain = super::super::tests::packet(&[n; 20], 16, true);
            let mut wire = plain.clone();
            let mut tag = vec![0; 16];
            sealer.seal(u32::from(n) + 100, &mut wire, &mut tag);
            assert_eq!(wire[..4], plain[..4], "length travels in the clear");

            let mut iv = hex(IV);
            iv[11] += n;
            let mut expected = plain[4..].to_vec();
            let t = reference
                .encrypt_inout_detached(
                    iv.as_slice().try_into().unwrap(),
                    &plain[..4],
                    expected.as_mut_slice().into(),
                )
                .unwrap();
            assert_eq!(wire[4..], expected[..]);
            assert_eq!(tag, t.as_slice());
        }
    }

    #[test]
    fn opener_reads_the_length_without_changing_it() {
        let k = keys(&"11".repeat(32), IV);
        let mut opener = AES256_GCM.new_opener(&k, None).unwrap();
        let mut head = [0, 0, 1, 0x2c];
        assert_eq!(opener.decrypt_length(0, &mut head), 300);
        assert_eq!(head, [0, 0, 1, 0x2c]);
    }
}
