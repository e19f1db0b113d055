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

use super::aes_ctr::AesCtr;
use super::check_len;
use crate::{
    Algorithm, AlgorithmError, Cipher, CryptoError, DirectionKeys, Mac, PacketOpener, PacketSealer,
};
use alloc::boxed::Box;
use cipher::{BlockCipherEncrypt, BlockSizeUser, KeyInit, consts::U16};
use polyval::Polyval;
use polyval::universal_hash::UniversalHash;
use subtle::ConstantTimeEq;

/// Bytes of GCM tag, the only length RFC 5647 §7.3 allows.
const TAG_LEN: usize = 16;
/// Bytes of nonce (RFC 5647 §7.1: 4 fixed + 8 invocation counter).
const IV_LEN: usize = 12;
/// Bytes of the length field sent in the clear as additional data.
const LENGTH_LEN: usize = 4;
/// Bytes encrypted, then hashed, per step: small enough that GHASH reads
/// what CTR just wrote from L1, large enough for GHASH's 8-block batches.
/// A multiple of 16, so only the last step can need GHASH's zero padding.
const STEP: usize = 4096;

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
    fn state(&self, keys: &DirectionKeys) -> Result<Box<dyn GcmState>, AlgorithmError> {
        self.state_with(keys, true)
    }

    /// The state for `keys`, with the wide GHASH kernel if `wide` and the
    /// CPU has it, else the `polyval` crate (tests force either).
    fn state_with(
        &self,
        keys: &DirectionKeys,
        wide: bool,
    ) -> Result<Box<dyn GcmState>, AlgorithmError> {
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
        let invocation = u64::from_be_bytes(counter);
        if self.key_len == 16 {
            boxed::<aes::Aes128Enc>(self.name, &keys.key, *fixed, invocation, wide)
        } else {
            boxed::<aes::Aes256Enc>(self.name, &keys.key, *fixed, invocation, wide)
        }
    }
}

/// A [`Gcm`] with AES `C` under `key`, its GHASH picked as
/// [`AesGcm::state_with`] says.
fn boxed<C>(
    name: &'static str,
    key: &[u8],
    fixed: [u8; 4],
    invocation: u64,
    wide: bool,
) -> Result<Box<dyn GcmState>, AlgorithmError>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit + Send + 'static,
{
    let aes = C::new_from_slice(key).map_err(|_| AlgorithmError::InvalidLength {
        algorithm: name,
        what: "key",
        expected: C::key_size(),
        found: key.len(),
    })?;
    // H = E(K, 0^128): the keystream block of the all-zero counter.
    let mut keystream = AesCtr::new(aes, [0; 16]);
    let mut h = zeroize::Zeroizing::new([0u8; 16]);
    keystream.apply(&mut *h);
    let hash_key = polyval_key(&h);
    #[cfg(target_arch = "x86_64")]
    if let Some(ghash) = wide
        .then(|| crate::simd::ghash::WideGhash::new(&hash_key))
        .flatten()
    {
        return Ok(Box::new(Gcm {
            keystream,
            ghash,
            fixed,
            invocation,
        }));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = wide;
    Ok(Box::new(Gcm {
        keystream,
        ghash: Polyval::new(&(*hash_key).into()),
        fixed,
        invocation,
    }))
}

/// GHASH, computed as POLYVAL (see [`Gcm`]), by whichever implementation
/// this CPU runs fastest.
trait Ghash: Send + 'static {
    /// A hash in progress.
    type Running;
    /// A hash of nothing yet.
    fn start(&self) -> Self::Running;
    /// Hashes `data`, zero-padded to whole blocks, GHASH's byte order.
    fn update(&self, running: &mut Self::Running, data: &[u8]);
    /// The POLYVAL value (the tag before its byte reversal and mask).
    fn finalize(&self, running: Self::Running) -> [u8; 16];
}

/// The `polyval` crate: four blocks per reduction, any CPU.
impl Ghash for Polyval {
    type Running = Polyval;
    fn start(&self) -> Polyval {
        self.clone()
    }
    fn update(&self, running: &mut Polyval, data: &[u8]) {
        ghash_update(running, data);
    }
    fn finalize(&self, running: Polyval) -> [u8; 16] {
        running.finalize().into()
    }
}

/// Sixteen blocks per reduction on 512-bit registers (`simd::ghash`).
#[cfg(target_arch = "x86_64")]
impl Ghash for crate::simd::ghash::WideGhash {
    type Running = zeroize::Zeroizing<[u8; 16]>;
    fn start(&self) -> Self::Running {
        zeroize::Zeroizing::new([0; 16])
    }
    fn update(&self, running: &mut Self::Running, data: &[u8]) {
        crate::simd::ghash::WideGhash::update(self, running, data);
    }
    fn finalize(&self, running: Self::Running) -> [u8; 16] {
        *running
    }
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

/// What a sealer or opener needs from a [`Gcm`] of either key size.
trait GcmState: PacketSealer + PacketOpener {
    /// Takes the next nonce (tests).
    #[cfg(test)]
    fn take_nonce(&mut self) -> [u8; IV_LEN];
    /// Encrypts `body` under the next nonce and returns the tag over `aad`
    /// and it (tests).
    #[cfg(test)]
    fn encrypt(&mut self, aad: &[u8], body: &mut [u8]) -> [u8; TAG_LEN];
    /// Checks and decrypts `body` under the next nonce (tests).
    #[cfg(test)]
    fn decrypt(&mut self, aad: &[u8], body: &mut [u8], tag: &[u8]) -> bool;
}

/// One direction: AES, the hash key, and where the nonce stands. AES and
/// POLYVAL wipe their keys on drop; `keystream` keeps the expanded AES key.
///
/// GHASH is computed as POLYVAL over byte-reversed blocks with the key
/// mulX(reverse(H)), and the result reversed (RFC 8452 Appendix A), as the
/// `ghash` crate does; the reversal is done on whole buffers of blocks
/// (in `ghash_update` for `polyval`, one `vpshufb` per four blocks in the
/// wide kernel), rather than copied and reversed four blocks at a time.
struct Gcm<C, G> {
    keystream: AesCtr<C, false>,
    ghash: G,
    fixed: [u8; 4],
    invocation: u64,
}

impl<C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit, G: Ghash> Gcm<C, G> {
    /// The nonce for this packet, and the counter moved on for the next
    /// one. The counter wraps modulo 2^64 as OpenSSL's GCM IV generation
    /// does; it starts at a key-exchange-derived value, so wrapping is
    /// possible in principle, while a repeat would need 2^64 packets under
    /// one key, far beyond any rekey limit.
    fn next_nonce(&mut self) -> [u8; IV_LEN] {
        let mut nonce = [0u8; IV_LEN];
        let (fixed, counter) = nonce.split_at_mut(4);
        fixed.copy_from_slice(&self.fixed);
        counter.copy_from_slice(&self.invocation.to_be_bytes());
        self.invocation = self.invocation.wrapping_add(1);
        nonce
    }

    /// Starts a packet: the keystream at J0 = nonce || 1, whose block
    /// (E(K, J0), returned) masks the tag, leaving the keystream at
    /// inc32(J0) for the body (also returned); and the hash over the
    /// additional data.
    fn start(&mut self, aad: &[u8]) -> ([u8; 16], [u8; 16], G::Running) {
        let nonce = self.next_nonce();
        let mut j0 = [0u8; 16];
        for (j, n) in j0.iter_mut().zip(nonce) {
            *j = n;
        }
        j0[15] = 1;
        self.keystream.seek(j0);
        let mut mask = [0u8; 16];
        self.keystream.apply(&mut mask);
        let mut running = self.ghash.start();
        self.ghash.update(&mut running, aad);
        j0[15] = 2;
        (mask, j0, running)
    }

    /// The tag: the hash closed with the bit lengths of the additional data
    /// and the ciphertext, masked with E(K, J0).
    fn finish(
        &self,
        mut running: G::Running,
        mask: [u8; 16],
        aad_len: usize,
        body_len: usize,
    ) -> [u8; 16] {
        // The lengths block, in GHASH's byte order: big-endian bit counts.
        let lengths = (u128::from(aad_len as u64).wrapping_mul(8) << 64)
            | u128::from(body_len as u64).wrapping_mul(8);
        self.ghash.update(&mut running, &lengths.to_be_bytes());
        let mut tag = self.ghash.finalize(running);
        tag.reverse();
        for (t, m) in tag.iter_mut().zip(mask) {
            *t ^= m;
        }
        tag
    }

    /// Encrypts `body` in place, hashing each step of ciphertext while it
    /// is still in L1, and returns the tag.
    fn seal_parts(&mut self, aad: &[u8], body: &mut [u8]) -> [u8; 16] {
        let (mask, _, mut running) = self.start(aad);
        for step in body.chunks_mut(STEP) {
            self.keystream.apply(step);
            self.ghash.update(&mut running, step);
        }
        self.finish(running, mask, aad.len(), body.len())
    }

    /// Hashes and decrypts `body` step by step; if the tag does not match,
    /// encrypts it back, so that a forgery leaves the ciphertext as it came
    /// and no plaintext of it is ever handed out.
    fn open_parts(&mut self, aad: &[u8], body: &mut [u8], tag: &[u8]) -> bool {
        let (mask, restart, mut running) = self.start(aad);
        for step in body.chunks_mut(STEP) {
            self.ghash.update(&mut running, step);
            self.keystream.apply(step);
        }
        let expected = self.finish(running, mask, aad.len(), body.len());
        // ct_eq of slices of different lengths is false, in constant time
        // with respect to the contents.
        if bool::from(expected.as_slice().ct_eq(tag)) {
            true
        } else {
            self.keystream.seek(restart);
            self.keystream.apply(body);
            false
        }
    }
}

/// POLYVAL's key for GHASH key `h`: mulX_POLYVAL(ByteReverse(H)) (RFC 8452
/// Appendix A). Read little-endian, ByteReverse(H) is H read big-endian.
fn polyval_key(h: &[u8; 16]) -> zeroize::Zeroizing<[u8; 16]> {
    let v = u128::from_be_bytes(*h);
    let hi = v >> 127;
    let x = (v << 1) ^ hi ^ (hi << 127) ^ (hi << 126) ^ (hi << 121);
    zeroize::Zeroizing::new(x.to_le_bytes())
}

/// Blocks byte-reversed per call to POLYVAL.
const HASH_BATCH: usize = 64;

/// GHASH's update over `data`, zero-padded to whole blocks: POLYVAL over
/// each block byte-reversed.
fn ghash_update(ghash: &mut Polyval, data: &[u8]) {
    let mut buf = [polyval::Block::default(); HASH_BATCH];
    let mut batches = data.chunks_exact(16 * HASH_BATCH);
    for batch in &mut batches {
        for (b, x) in buf.iter_mut().zip(batch.chunks_exact(16)) {
            *b = reversed(x).into();
        }
        ghash.update(&buf);
    }
    let rest = batches.remainder();
    let n = rest.len().div_ceil(16);
    for (b, x) in buf.iter_mut().zip(rest.chunks(16)) {
        *b = reversed(x).into();
    }
    ghash.update(buf.get(..n).unwrap_or_default());
}

/// Up to 16 bytes, zero-padded to 16 and byte-reversed.
#[inline(always)]
fn reversed(x: &[u8]) -> [u8; 16] {
    u128::from_be_bytes(super::zero_padded(x)).to_le_bytes()
}

impl<C, G: Ghash> GcmState for Gcm<C, G>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit + Send + 'static,
{
    #[cfg(test)]
    fn take_nonce(&mut self) -> [u8; IV_LEN] {
        self.next_nonce()
    }
    #[cfg(test)]
    fn encrypt(&mut self, aad: &[u8], body: &mut [u8]) -> [u8; TAG_LEN] {
        self.seal_parts(aad, body)
    }
    #[cfg(test)]
    fn decrypt(&mut self, aad: &[u8], body: &mut [u8], tag: &[u8]) -> bool {
        self.open_parts(aad, body, tag)
    }
}

impl<C, G: Ghash> PacketSealer for Gcm<C, G>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit + Send,
{
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
        match packet.split_at_mut_checked(LENGTH_LEN) {
            Some((aad, body)) => {
                let t = self.seal_parts(aad, body);
                for (out, t) in tag.iter_mut().zip(t) {
                    *out = t;
                }
            }
            // Unreachable for any packet the transport builds (shorter
            // than the length field). Nothing readable may leave: wipe
            // packet and tag, and the peer's tag check fails. The nonce is
            // used up all the same.
            None => {
                self.next_nonce();
                packet.fill(0);
                tag.fill(0);
            }
        }
    }
}

impl<C, G: Ghash> PacketOpener for Gcm<C, G>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit + Send,
{
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
        let (Some((aad, body)), TAG_LEN) = (packet.split_at_mut_checked(LENGTH_LEN), tag.len())
        else {
            self.next_nonce();
            return Err(CryptoError);
        };
        if self.open_parts(aad, body, tag) {
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
    use aes_gcm::aead::AeadInOut;
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
        // Both GHASH implementations (the wide one where the CPU has it).
        for ((cipher, key, ct, tag), wide) in
            CASES.into_iter().flat_map(|c| [(c, true), (c, false)])
        {
            let aad = hex(AAD);
            let k = keys(key, IV);
            assert_eq!(cipher.state(&k).unwrap().take_nonce(), hex(IV)[..]);
            let mut st = cipher.state_with(&k, wide).unwrap();
            let mut buf = [aad.clone(), hex(PLAIN)].concat();
            let (a, body) = buf.split_at_mut(aad.len());
            let t = st.encrypt(a, body);
            assert_eq!(body, hex(ct), "{}", cipher.name);
            assert_eq!(t.as_slice(), hex(tag), "{}", cipher.name);
            let mut st = cipher.state_with(&k, wide).unwrap();
            let mut bad = t;
            bad[3] ^= 0x10;
            assert!(!st.decrypt(a, body, &bad));
            assert_eq!(body, hex(ct), "a forgery leaves the ciphertext");
            let mut st = cipher.state_with(&k, wide).unwrap();
            assert!(st.decrypt(a, body, &t));
            assert_eq!(body, hex(PLAIN));
        }
    }

    #[test]
    fn invocation_counter_counts_and_wraps() {
        let k = keys(&"00".repeat(16), "0102030400000000fffffffe");
        let mut st = AES128_GCM.state(&k).unwrap();
        assert_eq!(st.take_nonce().as_slice(), hex("0102030400000000fffffffe"));
        assert_eq!(st.take_nonce().as_slice(), hex("0102030400000000ffffffff"));
        // The carry crosses into the upper half of the 64-bit counter...
        assert_eq!(st.take_nonce().as_slice(), hex("010203040000000100000000"));
        // ...and the counter wraps without touching the fixed field.
        let k = keys(&"00".repeat(16), "01020304ffffffffffffffff");
        let mut st = AES128_GCM.state(&k).unwrap();
        st.take_nonce();
        assert_eq!(st.take_nonce().as_slice(), hex("010203040000000000000000"));
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

    #[test]
    fn same_as_the_aes_gcm_crate_on_many_sizes() {
        // Packets of many lengths (whole steps, partial steps, partial
        // blocks) against RustCrypto's `aes-gcm`, sealed and opened in turn
        // so the invocation counters stay in step. The sealer and the opener
        // use different GHASH implementations (the wide kernel where the
        // CPU has it, the `polyval` crate), one way and then the other.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let cases = [(&AES128_GCM, 16), (&AES256_GCM, 32)];
        for ((cipher, key_len), seal_wide) in
            cases.into_iter().flat_map(|c| [(c, true), (c, false)])
        {
            let key: Vec<u8> = (0..key_len).map(|_| next() as u8).collect();
            let iv: Vec<u8> = (0..12).map(|_| next() as u8).collect();
            let k = DirectionKeys {
                iv: Zeroizing::new(iv.clone()),
                key: Zeroizing::new(key.clone()),
                mac_key: Zeroizing::new(Vec::new()),
            };
            let mut sealer = cipher.state_with(&k, seal_wide).unwrap();
            let mut opener = cipher.state_with(&k, !seal_wide).unwrap();
            let mut sizes: Vec<usize> = vec![4, 5, 19, 20, 21, 4100, 4116, 8196, 32788, 35004];
            sizes.extend((0..40).map(|_| 4 + (next() % 20000) as usize));
            for (n, size) in sizes.into_iter().enumerate() {
                let plain: Vec<u8> = (0..size).map(|_| next() as u8).collect();
                let mut wire = plain.clone();
                let mut tag = vec![0; 16];
                sealer.seal(0, &mut wire, &mut tag);

                let mut nonce = iv.clone();
                let c = u64::from_be_bytes(nonce[4..].try_into().unwrap()) + n as u64;
                nonce[4..].copy_from_slice(&c.to_be_bytes());
                let mut expected = plain[4..].to_vec();
                let t = if key_len == 16 {
                    aes_gcm::Aes128Gcm::new_from_slice(&key)
                        .unwrap()
                        .encrypt_inout_detached(
                            nonce.as_slice().try_into().unwrap(),
                            &plain[..4],
                            expected.as_mut_slice().into(),
                        )
                        .unwrap()
                } else {
                    aes_gcm::Aes256Gcm::new_from_slice(&key)
                        .unwrap()
                        .encrypt_inout_detached(
                            nonce.as_slice().try_into().unwrap(),
                            &plain[..4],
                            expected.as_mut_slice().into(),
                        )
                        .unwrap()
                };
                assert_eq!(wire[4..], expected[..], "{} size {size}", cipher.name);
                assert_eq!(tag, t.as_slice(), "{} size {size}", cipher.name);
                if n % 3 == 1 {
                    // A forgery fails and leaves the ciphertext as it was
                    // (and uses up its nonce, as the sealer did).
                    let mut w = wire.clone();
                    let last = w.len() - 1;
                    w[last] ^= 0x80;
                    let copy = w.clone();
                    assert_eq!(opener.open(0, &mut w, &tag), Err(CryptoError));
                    assert_eq!(w, copy);
                    continue;
                }
                opener.open(0, &mut wire, &tag).unwrap();
                assert_eq!(wire, plain);
            }
        }
    }
}
