//! `chacha20-poly1305@openssh.com` (OpenSSH's PROTOCOL.chacha20poly1305).
//!
//! The 64-byte key is two ChaCha20 keys: "The first 256 bits constitute K_2
//! and the second 256 bits become K_1." K_1 only encrypts the 4-byte packet
//! length; K_2 makes the Poly1305 key (the first 32 bytes of its keystream
//! block 0) and encrypts the rest of the packet from block 1 on. Both use
//! the packet sequence number as a 64-bit big-endian nonce, so there is no
//! state between packets besides the keys.
//!
//! ChaCha20 here is Bernstein's original: 64-bit nonce and 64-bit block
//! counter, not RFC 8439's 96/32 split.
//!
//! The tag is Poly1305 over the *encrypted* length and the encrypted
//! payload, and it is checked before anything past the length is decrypted.
//! The length itself is decrypted from a copy, so [`PacketOpener::open`]
//! still sees (and authenticates) the bytes that came off the wire.

use super::check_len;
use crate::{
    Algorithm, AlgorithmError, Cipher, CryptoError, DirectionKeys, Mac, PacketOpener, PacketSealer,
};
use alloc::boxed::Box;
use chacha20::{ChaCha20LegacyCore, LegacyNonce};
use cipher::{InOutBuf, KeyIvInit, StreamCipherCore};
use poly1305::Poly1305;
use poly1305::universal_hash::{KeyInit, UniversalHash};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Poly1305 of `data` (unpadded, as the construction requires) by the
/// `poly1305` crate, the same tag as `compute_unpadded`: the whole 16-byte
/// blocks go through `update_padded`, which reaches the crate's 4-way SIMD
/// backend, and only the short tail through `compute_unpadded`, which
/// handles one block at a time.
fn poly1305_tag(key: &[u8; 32], data: &[u8]) -> [u8; 16] {
    let mut mac = Poly1305::new(key.into());
    let whole = data.len() - data.len() % 16;
    let (blocks, tail) = data.split_at(whole);
    mac.update_padded(blocks);
    mac.compute_unpadded(tail).into()
}

const KEY_LEN: usize = 64;
const TAG_LEN: usize = 16;
const LENGTH_LEN: usize = 4;

/// OpenSSH's ChaCha20-Poly1305 AEAD.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChaCha20Poly1305;

/// `chacha20-poly1305@openssh.com`.
pub static CHACHA20_POLY1305: ChaCha20Poly1305 = ChaCha20Poly1305;

const NAME: &str = "chacha20-poly1305@openssh.com";

impl Algorithm for ChaCha20Poly1305 {
    fn name(&self) -> &str {
        NAME
    }
}

impl Cipher for ChaCha20Poly1305 {
    fn key_len(&self) -> usize {
        KEY_LEN
    }
    fn iv_len(&self) -> usize {
        0
    }
    /// Packets are padded to 8 bytes, as OpenSSH does (its cipher table
    /// gives this cipher a block size of 8).
    fn block_len(&self) -> usize {
        8
    }
    fn aead_tag_len(&self) -> Option<usize> {
        Some(TAG_LEN)
    }
    /// 2^30 bytes. The RFC 4344 default would follow from the 8-byte block
    /// length and mean 512 KiB, which belongs to 64-bit block ciphers, not
    /// to a stream cipher whose nonce is fresh per packet. OpenSSH takes
    /// 2^30 / block size "blocks" of 8 bytes for ciphers with blocks under
    /// 16 bytes, which is 1 GiB, also RFC 4253 §9's recommendation.
    fn rekey_limit_bytes(&self) -> u64 {
        1 << 30
    }
    fn new_sealer(
        &self,
        keys: &DirectionKeys,
        _mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketSealer>, AlgorithmError> {
        Ok(Box::new(State::new(keys)?))
    }
    fn new_opener(
        &self,
        keys: &DirectionKeys,
        _mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketOpener>, AlgorithmError> {
        Ok(Box::new(State::new(keys)?))
    }
}

/// Both keys of one direction, wiped on drop, and the keystream kernel
/// chosen for them.
struct State {
    /// K_1, the length key: the second half of the key material.
    header: Zeroizing<[u8; 32]>,
    /// K_2, the main key: the first half.
    main: Zeroizing<[u8; 32]>,
    /// The AVX-512 ChaCha20 kernel for K_2's keystream (Poly1305 key and
    /// payload), if this CPU has it; detected once per key here rather
    /// than per packet. `None` means the `chacha20` crate.
    #[cfg(target_arch = "x86_64")]
    avx512: Option<crate::simd::chacha20::Avx512>,
    /// The AVX-512 IFMA Poly1305 kernel, if this CPU has it; `None` means
    /// the `poly1305` crate.
    #[cfg(target_arch = "x86_64")]
    ifma: Option<crate::simd::poly1305::Ifma>,
}

impl State {
    fn new(keys: &DirectionKeys) -> Result<Self, AlgorithmError> {
        Self::with_simd(keys, true)
    }

    /// [`State::new`], using the AVX-512 kernels only if `allow_simd` (and
    /// the CPU has them): tests pass `false` to check the crates' fallback
    /// against the kernels on a CPU that has both.
    pub(crate) fn with_simd(
        keys: &DirectionKeys,
        allow_simd: bool,
    ) -> Result<Self, AlgorithmError> {
        check_len(NAME, "key", KEY_LEN, keys.key.len())?;
        check_len(NAME, "IV", 0, keys.iv.len())?;
        let invalid = || AlgorithmError::InvalidLength {
            algorithm: NAME,
            what: "key",
            expected: KEY_LEN,
            found: keys.key.len(),
        };
        let (k2, k1) = keys.key.split_first_chunk::<32>().ok_or_else(invalid)?;
        let main = Zeroizing::new(*k2);
        let header = Zeroizing::new(<[u8; 32]>::try_from(k1).map_err(|_| invalid())?);
        #[cfg(not(target_arch = "x86_64"))]
        let _ = allow_simd;
        Ok(Self {
            header,
            main,
            #[cfg(target_arch = "x86_64")]
            avx512: crate::simd::chacha20::Avx512::detect(allow_simd),
            #[cfg(target_arch = "x86_64")]
            ifma: crate::simd::poly1305::Ifma::detect(allow_simd),
        })
    }

    /// The 64-bit nonce of a packet: its sequence number, big-endian.
    fn nonce(sequence_number: u32) -> [u8; 8] {
        u64::from(sequence_number).to_be_bytes()
    }

    /// ChaCha20 under `key` with the sequence number as nonce, at block 0.
    fn chacha(key: &[u8; 32], sequence_number: u32) -> ChaCha20LegacyCore {
        let nonce = LegacyNonce::from(Self::nonce(sequence_number));
        ChaCha20LegacyCore::new(key.into(), &nonce)
    }

    /// K_2's keystream for this packet, positioned at block 1, and the
    /// packet's Poly1305 key: the first half of block 0.
    fn main_cipher(&self, sequence_number: u32) -> (MainKeystream<'_>, Zeroizing<[u8; 32]>) {
        #[cfg(target_arch = "x86_64")]
        if let Some(kernel) = self.avx512 {
            let keystream = kernel.packet(&self.main, Self::nonce(sequence_number));
            let poly_key = keystream.poly1305_key();
            return (MainKeystream::Avx512(keystream), poly_key);
        }
        let mut main = Self::chacha(&self.main, sequence_number);
        let mut block0 = Zeroizing::new([0u8; 64]);
        main.write_keystream_block((&mut *block0).into());
        let mut poly_key = Zeroizing::new([0u8; 32]);
        for (k, b) in poly_key.iter_mut().zip(block0.iter()) {
            *k = *b;
        }
        (MainKeystream::Crate(main), poly_key)
    }

    /// The Poly1305 tag of `data` under the packet's `poly_key`.
    fn tag(&self, poly_key: &[u8; 32], data: &[u8]) -> [u8; 16] {
        #[cfg(target_arch = "x86_64")]
        if let Some(ifma) = self.ifma {
            return ifma.tag(poly_key, data);
        }
        poly1305_tag(poly_key, data)
    }

    /// XORs the length key's keystream into `length` (4 bytes).
    fn crypt_length(&self, sequence_number: u32, length: &mut [u8]) {
        apply(Self::chacha(&self.header, sequence_number), length);
    }
}

/// K_2's keystream for one packet, from block 1 on: the AVX-512 kernel's
/// or the `chacha20` crate's.
// The kernel's variant is 1 KiB: it lives on the stack for one packet,
// and boxing it would allocate per packet.
#[allow(clippy::large_enum_variant)]
enum MainKeystream<'a> {
    /// The portable crate, moved on to block 1.
    Crate(ChaCha20LegacyCore),
    /// The AVX-512 kernel, which already holds blocks 0-15.
    #[cfg(target_arch = "x86_64")]
    Avx512(crate::simd::chacha20::PacketKeystream<'a>),
}

impl MainKeystream<'_> {
    /// XORs the keystream into `body`, the packet after its length.
    fn apply(self, body: &mut [u8]) {
        match self {
            Self::Crate(core) => apply(core, body),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512(keystream) => keystream.xor_body(body),
        }
    }
}

/// Applies the rest of `core`'s keystream to `data`, from where it stands.
fn apply(core: ChaCha20LegacyCore, data: &mut [u8]) {
    // Fails only if the 64-bit block counter would run out, which takes
    // 2^70 bytes in one packet. Never leave such data readable.
    if core
        .try_apply_keystream_partial(InOutBuf::from(&mut *data))
        .is_err()
    {
        data.fill(0);
    }
}

impl PacketSealer for State {
    fn block_len(&self) -> usize {
        8
    }
    fn separate_length(&self) -> bool {
        true
    }
    fn tag_len(&self) -> usize {
        TAG_LEN
    }
    fn seal(&mut self, sequence_number: u32, packet: &mut [u8], tag: &mut [u8]) {
        let (main, poly_key) = self.main_cipher(sequence_number);
        match packet.split_at_mut_checked(LENGTH_LEN) {
            Some((length, body)) => {
                self.crypt_length(sequence_number, length);
                main.apply(body);
            }
            // Shorter than a length field: not a packet, never built by the
            // transport. Send nothing readable.
            None => packet.fill(0),
        }
        let t = self.tag(&poly_key, packet);
        for (out, t) in tag.iter_mut().zip(t) {
            *out = t;
        }
    }
}

impl PacketOpener for State {
    fn block_len(&self) -> usize {
        8
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
    fn decrypt_length(&mut self, sequence_number: u32, head: &mut [u8]) -> u32 {
        // A copy: the tag covers the encrypted length, and `open` is given
        // `head` as left here.
        let Some(encrypted) = head.first_chunk::<LENGTH_LEN>() else {
            return 0;
        };
        let mut length = *encrypted;
        self.crypt_length(sequence_number, &mut length);
        u32::from_be_bytes(length)
    }
    fn open(
        &mut self,
        sequence_number: u32,
        packet: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        let (main, poly_key) = self.main_cipher(sequence_number);
        let expected = self.tag(&poly_key, packet);
        // ct_eq of slices of different lengths is false, in constant time
        // with respect to the contents.
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return Err(CryptoError);
        }
        let (length, body) = packet.split_at_mut_checked(LENGTH_LEN).ok_or(CryptoError)?;
        main.apply(body);
        self.crypt_length(sequence_number, length);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    #[test]
    fn split_poly1305_equals_the_one_pass_tag() {
        let key = [7u8; 32];
        let data: alloc::vec::Vec<u8> = (0..300u32).map(|i| (i * 13) as u8).collect();
        for len in 0..data.len() {
            let mac = Poly1305::new((&key).into());
            assert_eq!(
                poly1305_tag(&key, &data[..len]),
                <[u8; 16]>::from(mac.compute_unpadded(&data[..len])),
                "length {len}"
            );
        }
    }

    use super::*;
    use crate::hash::tests::hex;
    use alloc::vec;
    use alloc::vec::Vec;

    fn keystream(key: &str, nonce: &str, len: usize) -> Vec<u8> {
        let key: [u8; 32] = hex(key).try_into().unwrap();
        let nonce: [u8; 8] = hex(nonce).try_into().unwrap();
        let core = ChaCha20LegacyCore::new((&key).into(), &nonce.into());
        let mut out = vec![0; len];
        apply(core, &mut out);
        out
    }

    #[test]
    fn chacha20_djb_keystream_vectors() {
        // draft-agl-tls-chacha20poly1305-04 §7 (the 64-bit-nonce ChaCha20
        // this cipher uses): key, nonce, keystream.
        let zero = "00".repeat(32);
        let one = ["00".repeat(31), "01".into()].concat();
        let cases = [
            (
                zero.as_str(),
                "0000000000000000",
                // Two blocks: the second is the same key and nonce at block
                // counter 1 (also RFC 8439 A.1 #2, all inputs being zero).
                "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
                 da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586\
                 9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed\
                 29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f",
            ),
            (
                one.as_str(),
                "0000000000000000",
                "4540f05a9f1fb296d7736e7b208e3c96eb4fe1834688d2604f450952ed432d41\
                 bbe2a0b6ea7566d2a5d1e7e20d42af2c53d792b1c43fea817e9ad275ae546963",
            ),
            // The nonce's byte order: its last byte, then its first.
            (
                zero.as_str(),
                "0000000000000001",
                "de9cba7bf3d69ef5e786dc63973f653a0b49e015adbff7134fcb7df137821031\
                 e85a050278a7084527214f73efc7fa5b5277062eb7a0433e445f41e3",
            ),
            (
                zero.as_str(),
                "0100000000000000",
                "ef3fdfd6c61578fbf5cf35bd3dd33b8009631634d21e42ac33960bd138e50d32\
                 111e4caf237ee53ca8ad6426194a88545ddc497a0b466e7d6bbdb0041b2f586b",
            ),
            (
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                "0001020304050607",
                "f798a189f195e66982105ffb640bb7757f579da31602fc93ec01ac56f85ac3c1",
            ),
        ];
        for (key, nonce, expected) in cases {
            let expected = hex(expected);
            assert_eq!(keystream(key, nonce, expected.len()), expected, "{nonce}");
            // The same vectors through the AVX-512 kernel, which this
            // machine (AMD Zen 4) has; elsewhere only the crate is checked.
            #[cfg(target_arch = "x86_64")]
            if let Some(kernel) = crate::simd::chacha20::Avx512::detect(true) {
                let key: [u8; 32] = hex(key).try_into().unwrap();
                let nonce: [u8; 8] = hex(nonce).try_into().unwrap();
                let mut out = vec![0; expected.len()];
                kernel.xor_keystream(&key, &nonce, 0, &mut out);
                assert_eq!(out, expected, "kernel, {nonce:?}");
            }
        }
    }

    #[test]
    fn poly1305_rfc8439_2_5_2() {
        // RFC 8439 §2.5.2: Poly1305 is the same in both ChaCha variants.
        let key: [u8; 32] = hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
            .try_into()
            .unwrap();
        let tag =
            Poly1305::new((&key).into()).compute_unpadded(b"Cryptographic Forum Research Group");
        assert_eq!(tag.as_slice(), hex("a8061dc1305136c6c22b8baf0c0127a9"));
    }

    // The worked example of draft-ietf-sshm-chacha20-poly1305-02, Appendix
    // A (the IETF write-up of chacha20-poly1305@openssh.com), as carried in
    // connectbot/sshlib's ChaCha20Poly1305Test: 64 bytes of key material
    // (Figure 5), sequence number 7, a 72-byte SSH_MSG_CHANNEL_DATA packet
    // (Figure 4), its encrypted length (Figure 8), ciphertext (Figure 11)
    // and tag (Figure 17).
    const SSHM_KEY: &str = "8bbff6855fc102338c373e73aac0c914f076a905b2444a32eecaffeae22becc5\
                            e9b7a7a5825a8249346ec1c28301cf394543fc7569887d76e168f37562ac0740";
    const SSHM_SEQ: u32 = 7;
    const SSHM_PLAIN: &str = "00000048\
                              065e00000000000000384c6f72656d20697073756d20646f6c6f722073697420\
                              616d65742c20636f6e7365637465747572206164697069736963696e6720656c\
                              69744e43e804dc6c";
    const SSHM_WIRE: &str = "2c3ecce4\
                             a5bc05895bf07a7ba956b6c68829ac7c83b780b7000ecde745afc705bbc378ce\
                             03a280236b87b53bed5839662302b164b6286a48cd1e097138e3cb909b8b2b82\
                             9dd18d2a35ff82d9";
    const SSHM_TAG: &str = "95349e855bf02c298ef775f2d1a7e8b8";

    fn sshm_keys() -> DirectionKeys {
        DirectionKeys {
            iv: Zeroizing::new(Vec::new()),
            key: Zeroizing::new(hex(SSHM_KEY)),
            mac_key: Zeroizing::new(Vec::new()),
        }
    }

    #[test]
    fn sshm_draft_worked_example_seal() {
        let mut sealer = CHACHA20_POLY1305.new_sealer(&sshm_keys(), None).unwrap();
        let mut packet = hex(SSHM_PLAIN);
        let mut tag = [0; 16];
        sealer.seal(SSHM_SEQ, &mut packet, &mut tag);
        assert_eq!(packet, hex(SSHM_WIRE));
        assert_eq!(tag.as_slice(), hex(SSHM_TAG));
    }

    #[test]
    fn sshm_draft_worked_example_open() {
        let mut opener = CHACHA20_POLY1305.new_opener(&sshm_keys(), None).unwrap();
        let mut packet = hex(SSHM_WIRE);
        assert_eq!(opener.length_bytes_needed(), 4);
        assert_eq!(opener.decrypt_length(SSHM_SEQ, &mut packet[..4]), 72);
        assert_eq!(
            packet,
            hex(SSHM_WIRE),
            "the length is decrypted from a copy"
        );
        opener.open(SSHM_SEQ, &mut packet, &hex(SSHM_TAG)).unwrap();
        assert_eq!(packet, hex(SSHM_PLAIN));
    }

    /// Both keystream paths: the crate (forced) and the default, which is
    /// the AVX-512 kernel on a CPU that has it (this machine, AMD Zen 4,
    /// does; elsewhere both are the crate and the tests still pass).
    fn both_paths(keys: &DirectionKeys) -> [State; 2] {
        [
            State::with_simd(keys, false).unwrap(),
            State::with_simd(keys, true).unwrap(),
        ]
    }

    #[test]
    fn the_forced_fallback_uses_the_crate() {
        let [fallback, default] = both_paths(&sshm_keys());
        #[cfg(target_arch = "x86_64")]
        {
            assert!(fallback.avx512.is_none());
            assert!(fallback.ifma.is_none());
            assert_eq!(
                default.ifma.is_some(),
                crate::simd::std_detects(&["avx512f", "avx512ifma"])
            );
            assert_eq!(
                default.avx512.is_some(),
                crate::simd::std_detects(&["avx512f", "avx512vl", "avx512bw"])
            );
        }
        let _ = (fallback, default);
    }

    #[test]
    fn sshm_draft_worked_example_on_both_paths() {
        for mut state in both_paths(&sshm_keys()) {
            let mut packet = hex(SSHM_PLAIN);
            let mut tag = [0; 16];
            state.seal(SSHM_SEQ, &mut packet, &mut tag);
            assert_eq!(packet, hex(SSHM_WIRE));
            assert_eq!(tag.as_slice(), hex(SSHM_TAG));
            assert_eq!(state.decrypt_length(SSHM_SEQ, &mut packet[..4]), 72);
            state.open(SSHM_SEQ, &mut packet, &tag).unwrap();
            assert_eq!(packet, hex(SSHM_PLAIN));
        }
    }

    #[test]
    fn kernel_and_fallback_agree_on_random_packets() {
        // Seal with one path, open with the other, both ways, on random
        // keys, sequence numbers and packet lengths (every length to 1100
        // bytes, then big ones), and compare the ciphertexts and tags.
        let mut x = 0x0123_4567_89ab_cdefu64;
        let mut next = move || {
            // xorshift64: varied, reproducible test inputs.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let lengths = (4..=1100).chain([16 * 1024 + 12, 32 * 1024 + 20, 35_005, 256 * 1024 + 4]);
        for len in lengths {
            let key: Vec<u8> = (0..KEY_LEN).map(|_| next() as u8).collect();
            let keys = DirectionKeys {
                key: Zeroizing::new(key),
                ..sshm_keys()
            };
            let seq = match len % 4 {
                0 => u32::MAX,
                1 => 0,
                _ => next() as u32,
            };
            let plain: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let [mut fallback, mut kernel] = both_paths(&keys);
            let mut sealed = [plain.clone(), plain.clone()];
            let mut tags = [[0u8; 16]; 2];
            fallback.seal(seq, &mut sealed[0], &mut tags[0]);
            kernel.seal(seq, &mut sealed[1], &mut tags[1]);
            assert!(sealed[0] == sealed[1], "ciphertext, length {len}");
            assert_eq!(tags[0], tags[1], "tag, length {len}");
            for (opener, (packet, tag)) in [&mut kernel, &mut fallback]
                .into_iter()
                .zip(sealed.iter_mut().zip(tags))
            {
                let length = opener.decrypt_length(seq, &mut packet[..4]);
                assert_eq!(length.to_be_bytes(), plain[..4], "length {len}");
                opener.open(seq, packet, &tag).unwrap();
                assert!(*packet == plain, "plaintext, length {len}");
            }
        }
    }

    #[test]
    fn halves_of_the_key_are_not_interchangeable() {
        // K_2 is the first half: swapping the halves must change both the
        // encrypted length and the tag.
        let k = hex(SSHM_KEY);
        let swapped = DirectionKeys {
            key: Zeroizing::new([&k[32..], &k[..32]].concat()),
            ..sshm_keys()
        };
        let mut sealer = CHACHA20_POLY1305.new_sealer(&swapped, None).unwrap();
        let mut packet = hex(SSHM_PLAIN);
        let mut tag = [0; 16];
        sealer.seal(SSHM_SEQ, &mut packet, &mut tag);
        assert_ne!(packet[..4], hex(SSHM_WIRE)[..4]);
        assert_ne!(tag.as_slice(), hex(SSHM_TAG));
    }

    #[test]
    fn a_bad_tag_leaves_the_payload_encrypted() {
        // Verify-then-decrypt: a forgery must not turn the opener into a
        // decryption oracle for the payload.
        let mut opener = CHACHA20_POLY1305.new_opener(&sshm_keys(), None).unwrap();
        let mut packet = hex(SSHM_WIRE);
        let mut tag = hex(SSHM_TAG);
        tag[15] ^= 1;
        assert_eq!(opener.open(SSHM_SEQ, &mut packet, &tag), Err(CryptoError));
        assert_eq!(packet, hex(SSHM_WIRE));
    }
}
