//! ChaCha20 keystream with AVX-512, sixteen blocks (1024 bytes) at a time.
//!
//! This is Bernstein's original ChaCha20 ("ChaCha, a variant of Salsa20",
//! 2008), as `chacha20-poly1305@openssh.com` uses it: state words 12 and 13
//! are a 64-bit block counter, words 14 and 15 a 64-bit nonce; 20 rounds.
//! The quarter round and the "expand 32-byte k" constants are those of
//! RFC 8439 §2.1-2.3, which differs from this variant only in how words
//! 12-15 are split between counter and nonce.
//!
//! The vectorization is the "word-sliced" one of OpenSSL's `ChaCha20_16x`
//! (crypto/chacha/asm/chacha-x86_64.pl, after Goll and Gueron, "Vectorization
//! on ChaCha stream cipher", ITNG 2014): register `i` holds state word `i` of
//! sixteen consecutive blocks, one block per 32-bit lane, so a round is the
//! scalar round done on sixteen blocks at once with no shuffles between
//! rounds; the lanes differ only in the counter. A 16x16 transpose of 32-bit
//! words at the end turns the sixteen word registers into sixteen block
//! registers, which are XORed straight into the data.
//!
//! Whole 1024-byte passes go from registers straight into the data. A
//! tail under 1024 bytes costs one more sixteen-block pass: its whole blocks
//! are XORed the same way and the last partial block with byte-masked loads
//! and stores (AVX-512BW), so no buffer is needed for it. Keystream that
//! this code does keep in memory (a tail pass picked by a run-time count,
//! and a packet's first pass, held while its tag is checked) is in
//! `Zeroizing` and wiped; what the compiler spills from registers is beyond
//! reach, as in every software implementation.
//!
//! Rounds are bound by vector throughput: 960 512-bit adds, XORs and
//! rotates per pass, which Zen 4 runs as two 256-bit halves on its four
//! vector pipes, so about 480 cycles per 1024 bytes, 2 bytes per cycle.
//! The kernel runs near that (5.2 GB/s on the 2.6 GHz Zen 4 VM, against
//! 2.3 GB/s for the `chacha20` crate's AVX2 backend and 5.1-5.3 GB/s for
//! `openssl speed -evp chacha20`).

use core::arch::x86_64::{
    __m512i, _mm256_storeu_si256, _mm512_add_epi32, _mm512_castsi512_si256,
    _mm512_cmplt_epu32_mask, _mm512_loadu_si512, _mm512_mask_add_epi32, _mm512_mask_storeu_epi8,
    _mm512_maskz_loadu_epi8, _mm512_rol_epi32, _mm512_set1_epi32, _mm512_setr_epi32,
    _mm512_setzero_si512, _mm512_shuffle_i32x4, _mm512_storeu_si512, _mm512_unpackhi_epi32,
    _mm512_unpackhi_epi64, _mm512_unpacklo_epi32, _mm512_unpacklo_epi64, _mm512_xor_si512,
};
use zeroize::{Zeroize, Zeroizing};

/// Bytes of keystream one pass of the kernel makes: sixteen 64-byte blocks.
const PASS: usize = 1024;

/// ChaCha's first four state words, "expand 32-byte k" read as
/// little-endian words (the ChaCha paper §2; RFC 8439 §2.3).
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

cpu_proof!(
    /// Proof that this CPU runs the AVX-512 kernel (F for the 512-bit
    /// integer operations and rotates, BW for the byte-masked loads and
    /// stores of the last partial block; VL is not used by these
    /// 512-bit-only kernels but is on every CPU with F and BW, and lets a
    /// narrower 256/128-bit variant for short packets be added under the
    /// same proof).
    Avx512, avx512_chacha, "avx512f", "avx512vl", "avx512bw"
);

impl Avx512 {
    /// XORs ChaCha20's keystream for `key` and `nonce` (8 bytes, read as
    /// state words 14 and 15), starting at 64-byte block `counter`, into
    /// `data`. The counter wraps at 2^64 blocks (2^70 bytes, beyond any
    /// slice), where the `chacha20` crate would refuse instead.
    ///
    /// The general entry point, for checking the kernel against the crate
    /// at any counter; the cipher goes through [`Avx512::packet`].
    #[cfg(test)]
    pub(crate) fn xor_keystream(
        self,
        key: &[u8; 32],
        nonce: &[u8; 8],
        counter: u64,
        data: &mut [u8],
    ) {
        // SAFETY: `self` exists only if `detect` found avx512f, avx512vl and
        // avx512bw on this CPU, the features `xor_keystream_16x` enables.
        unsafe { xor_keystream_16x(key, nonce, counter, data) }
    }
}

/// One round: the quarter round of RFC 8439 §2.1 on four columns (or
/// diagonals) at once, each of its add / xor-rotate steps done for all four
/// before the next, so that the CPU always has four independent
/// operations in flight (each on sixteen blocks).
macro_rules! quarter_rounds {
    ($x:ident; $($a:literal, $b:literal, $c:literal, $d:literal);+) => {
        $( $x[$a] = _mm512_add_epi32($x[$a], $x[$b]); )+
        $( $x[$d] = _mm512_rol_epi32::<16>(_mm512_xor_si512($x[$d], $x[$a])); )+
        $( $x[$c] = _mm512_add_epi32($x[$c], $x[$d]); )+
        $( $x[$b] = _mm512_rol_epi32::<12>(_mm512_xor_si512($x[$b], $x[$c])); )+
        $( $x[$a] = _mm512_add_epi32($x[$a], $x[$b]); )+
        $( $x[$d] = _mm512_rol_epi32::<8>(_mm512_xor_si512($x[$d], $x[$a])); )+
        $( $x[$c] = _mm512_add_epi32($x[$c], $x[$d]); )+
        $( $x[$b] = _mm512_rol_epi32::<7>(_mm512_xor_si512($x[$b], $x[$c])); )+
    };
}

/// The input state of sixteen blocks, word-sliced: entry `i` holds state
/// word `i` of blocks `counter .. counter + 16`, one block per lane.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
#[inline]
fn initial_state(key: &[u8; 32], nonce: &[u8; 8], counter: u64) -> [__m512i; 16] {
    let zero = _mm512_setzero_si512();
    let mut s = [zero; 16];
    // Words 0-3: the constants; 4-11: the key; 14-15: the nonce, all as
    // little-endian words (the ChaCha paper §2).
    let (key_words, _) = key.as_chunks::<4>();
    let (nonce_words, _) = nonce.as_chunks::<4>();
    let words = SIGMA
        .iter()
        .copied()
        .chain(key_words.iter().map(|w| u32::from_le_bytes(*w)));
    for (v, w) in s.iter_mut().zip(words) {
        *v = _mm512_set1_epi32(w as i32);
    }
    for (v, w) in s.iter_mut().skip(14).zip(nonce_words) {
        *v = _mm512_set1_epi32(u32::from_le_bytes(*w) as i32);
    }
    // Words 12-13: the 64-bit counter plus the lane number. A lane whose
    // low word wrapped (came out below the lane number it was given)
    // carries one into its high word.
    let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let low = _mm512_add_epi32(_mm512_set1_epi32(counter as u32 as i32), lane);
    let carried = _mm512_cmplt_epu32_mask(low, lane);
    let high = _mm512_set1_epi32((counter >> 32) as u32 as i32);
    s[12] = low;
    s[13] = _mm512_mask_add_epi32(high, carried, high, _mm512_set1_epi32(1));
    s
}

/// Transposes four word registers within each 128-bit lane: in the
/// result, register `k`'s lane `l` holds words `a, b, c, d` of block
/// `4l + k` (standard 4x4 transpose by 32- then 64-bit unpacks).
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
#[inline]
fn transpose4(a: __m512i, b: __m512i, c: __m512i, d: __m512i) -> [__m512i; 4] {
    let ab_lo = _mm512_unpacklo_epi32(a, b);
    let ab_hi = _mm512_unpackhi_epi32(a, b);
    let cd_lo = _mm512_unpacklo_epi32(c, d);
    let cd_hi = _mm512_unpackhi_epi32(c, d);
    [
        _mm512_unpacklo_epi64(ab_lo, cd_lo),
        _mm512_unpackhi_epi64(ab_lo, cd_lo),
        _mm512_unpacklo_epi64(ab_hi, cd_hi),
        _mm512_unpackhi_epi64(ab_hi, cd_hi),
    ]
}

/// Gathers whole blocks from four [`transpose4`] outputs of the same
/// index `k`, which hold words 0-3, 4-7, 8-11 and 12-15: returns blocks
/// `k`, `4 + k`, `8 + k` and `12 + k`, each one register in memory order.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
#[inline]
fn gather_blocks(w0: __m512i, w1: __m512i, w2: __m512i, w3: __m512i) -> [__m512i; 4] {
    // 0x88 picks 128-bit lanes 0 and 2 of each source, 0xdd lanes 1 and 3.
    let even01 = _mm512_shuffle_i32x4::<0x88>(w0, w1);
    let odd01 = _mm512_shuffle_i32x4::<0xdd>(w0, w1);
    let even23 = _mm512_shuffle_i32x4::<0x88>(w2, w3);
    let odd23 = _mm512_shuffle_i32x4::<0xdd>(w2, w3);
    [
        _mm512_shuffle_i32x4::<0x88>(even01, even23),
        _mm512_shuffle_i32x4::<0x88>(odd01, odd23),
        _mm512_shuffle_i32x4::<0xdd>(even01, even23),
        _mm512_shuffle_i32x4::<0xdd>(odd01, odd23),
    ]
}

/// Sixteen keystream blocks from block `counter` on, as a `[__m512i; 16]`
/// with block `j` in entry `j`, its 64 bytes in memory order. A macro, not
/// a function, so that each use is inlined into its (target-feature)
/// caller and whole passes stay in registers: `#[inline(always)]` is not
/// allowed on `#[target_feature]` functions, and with two call sites LLVM
/// would keep this one out of line and return the blocks through memory.
macro_rules! keystream_16 {
    ($key:expr, $nonce:expr, $counter:expr) => {{
        let s = initial_state($key, $nonce, $counter);
        let mut x = s;
        // 20 rounds: ten double rounds of columns then diagonals (RFC 8439
        // §2.3, "inner_block").
        for _ in 0..10 {
            quarter_rounds!(x; 0, 4, 8, 12; 1, 5, 9, 13; 2, 6, 10, 14; 3, 7, 11, 15);
            quarter_rounds!(x; 0, 5, 10, 15; 1, 6, 11, 12; 2, 7, 8, 13; 3, 4, 9, 14);
        }
        // Add the input state back (the feed-forward of RFC 8439 §2.3).
        for (v, s) in x.iter_mut().zip(s) {
            *v = _mm512_add_epi32(*v, s);
        }
        let [a0, a1, a2, a3] = transpose4(x[0], x[1], x[2], x[3]);
        let [b0, b1, b2, b3] = transpose4(x[4], x[5], x[6], x[7]);
        let [c0, c1, c2, c3] = transpose4(x[8], x[9], x[10], x[11]);
        let [d0, d1, d2, d3] = transpose4(x[12], x[13], x[14], x[15]);
        let k0 = gather_blocks(a0, b0, c0, d0);
        let k1 = gather_blocks(a1, b1, c1, d1);
        let k2 = gather_blocks(a2, b2, c2, d2);
        let k3 = gather_blocks(a3, b3, c3, d3);
        [
            k0[0], k1[0], k2[0], k3[0], k0[1], k1[1], k2[1], k3[1], k0[2], k1[2], k2[2], k3[2],
            k0[3], k1[3], k2[3], k3[3],
        ]
    }};
}

/// XORs one keystream block into 64 bytes of data.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
#[inline]
fn xor_block(out: &mut [u8; 64], keystream: __m512i) {
    // SAFETY: `out` is 64 bytes, exactly one __m512i, readable and
    // writable; the unaligned load and store need no alignment.
    unsafe {
        let data = _mm512_loadu_si512(out.as_ptr().cast());
        _mm512_storeu_si512(out.as_mut_ptr().cast(), _mm512_xor_si512(data, keystream));
    }
}

/// XORs the first `out.len()` bytes of a keystream block into `out`,
/// which must be shorter than a block; an empty one costs nothing. A
/// longer one (the callers never pass one) is wiped rather than left
/// readable.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
#[inline]
fn xor_partial_block(out: &mut [u8], keystream: __m512i) {
    if out.len() >= 64 {
        out.fill(0);
        return;
    }
    if out.is_empty() {
        return;
    }
    // The low `out.len()` bits: one per byte to touch.
    let mask = (1u64 << out.len()) - 1;
    // SAFETY: the mask has exactly the low `out.len()` bits set and
    // `out.len() < 64`, so only the bytes of `out` are read and written;
    // masked-off bytes are not accessed (nor can they fault), per the
    // semantics of vmovdqu8 with a mask.
    unsafe {
        let data = _mm512_maskz_loadu_epi8(mask, out.as_ptr().cast());
        _mm512_mask_storeu_epi8(
            out.as_mut_ptr().cast(),
            mask,
            _mm512_xor_si512(data, keystream),
        );
    }
}

/// The kernel: XORs the keystream from block `counter` on into `data`
/// (the counter wrapping at 2^64 blocks, 2^70 bytes, beyond any slice).
///
/// One loop for whole passes and the tail alike. The sixteen blocks of a
/// whole pass go from registers straight into the data (a fixed count of
/// 64-byte blocks, unrolled). The tail's blocks are picked by a run-time
/// count, which puts them in memory; that copy is wiped afterwards.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
fn xor_keystream_16x(key: &[u8; 32], nonce: &[u8; 8], mut counter: u64, data: &mut [u8]) {
    let mut rest = data;
    while !rest.is_empty() {
        let (pass, later) = rest.split_at_mut(rest.len().min(PASS));
        let mut keystream: [__m512i; 16] = keystream_16!(key, nonce, counter);
        if let Ok(pass) = <&mut [u8; PASS]>::try_from(&mut *pass) {
            let (blocks, _) = pass.as_chunks_mut::<64>();
            for (block, ks) in blocks.iter_mut().zip(keystream) {
                xor_block(block, ks);
            }
        } else {
            xor_blocks(&keystream, pass);
            // Wipe the copy in memory where it was read from (a move into
            // `Zeroizing` would leave this one behind).
            keystream.zeroize();
        }
        counter = counter.wrapping_add(16);
        rest = later;
    }
}

/// XORs `keystream`, block after block, into `data`: whole blocks
/// directly, a last partial one with a masked load and store. Data past
/// the keystream (the callers never pass any) is wiped, never left as
/// plaintext.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
fn xor_blocks(keystream: &[__m512i], data: &mut [u8]) {
    let (blocks, last) = data.as_chunks_mut::<64>();
    let mut keystream = keystream.iter();
    for block in blocks.iter_mut() {
        match keystream.next() {
            Some(ks) => xor_block(block, *ks),
            None => block.fill(0),
        }
    }
    match keystream.next() {
        Some(ks) => xor_partial_block(last, *ks),
        None => last.fill(0),
    }
}

/// Keystream blocks 0-15 of one packet (one pass at counter 0), wiped on
/// drop.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
fn first_pass(key: &[u8; 32], nonce: &[u8; 8]) -> Zeroizing<[__m512i; 16]> {
    Zeroizing::new(keystream_16!(key, nonce, 0))
}

/// The first 32 bytes of `block`.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
fn first_half(block: &__m512i, out: &mut [u8; 32]) {
    // SAFETY: `out` is 32 bytes, one __m256i, writable; the unaligned
    // store needs no alignment.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), _mm512_castsi512_si256(*block)) }
}

/// The body of a packet: blocks 1-15 from `first`, then block 16 on.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
fn xor_packet_body(first: &[__m512i; 16], key: &[u8; 32], nonce: &[u8; 8], body: &mut [u8]) {
    let (_, blocks_1_to_15) = first.split_at(1);
    let (head, rest) = body.split_at_mut(body.len().min(PASS - 64));
    xor_blocks(blocks_1_to_15, head);
    xor_keystream_16x(key, nonce, 16, rest);
}

/// The ChaCha20 keystream of one `chacha20-poly1305@openssh.com` packet
/// under K_2 (PROTOCOL.chacha20poly1305): block 0 keys Poly1305, blocks 1
/// on encrypt the packet after its length. One pass makes blocks 0-15, so
/// a packet of up to 960 bytes after the length costs a single pass, and
/// the Poly1305 key no separate one. The pass is kept (and wiped on drop)
/// because opening needs the key to check the tag before it decrypts.
pub(crate) struct PacketKeystream<'a> {
    /// The key K_2, for the blocks past the first pass (borrowed: a copy
    /// per packet would leave the direction's key on the stack).
    key: &'a [u8; 32],
    /// The packet's nonce, its sequence number as 8 big-endian bytes.
    nonce: [u8; 8],
    /// Blocks 0-15.
    first: Zeroizing<[__m512i; 16]>,
    /// Keeps the type from being built without detection.
    _kernel: Avx512,
}

impl Avx512 {
    /// The keystream of the packet with this `nonce` under `key`.
    pub(crate) fn packet(self, key: &[u8; 32], nonce: [u8; 8]) -> PacketKeystream<'_> {
        // SAFETY: `self` exists only if `detect` found the features
        // `first_pass` enables.
        let first = unsafe { first_pass(key, &nonce) };
        PacketKeystream {
            key,
            nonce,
            first,
            _kernel: self,
        }
    }
}

impl PacketKeystream<'_> {
    /// The Poly1305 key: the first 32 bytes of block 0.
    pub(crate) fn poly1305_key(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0; 32]);
        if let Some(block0) = self.first.first() {
            // SAFETY: the kernel token in `self` says the CPU has the
            // features `first_half` enables.
            unsafe { first_half(block0, &mut out) }
        }
        out
    }

    /// XORs keystream blocks 1 on into `body`, the packet after its
    /// length field.
    pub(crate) fn xor_body(self, body: &mut [u8]) {
        // SAFETY: the kernel token in `self` says the CPU has the features
        // `xor_packet_body` enables.
        unsafe { xor_packet_body(&self.first, self.key, &self.nonce, body) }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use chacha20::{ChaCha20Legacy, LegacyNonce};
    use cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};

    use crate::simd::TestRng as Rng;

    /// The `chacha20` crate's result, the reference.
    fn reference(key: &[u8; 32], nonce: &[u8; 8], counter: u64, data: &mut [u8]) {
        let mut c = ChaCha20Legacy::new(key.into(), &LegacyNonce::from(*nonce));
        c.seek(u128::from(counter) * 64);
        c.apply_keystream(data);
    }

    /// The kernel, or `None` where the CPU lacks AVX-512 (then the test
    /// checks only that detection agrees). The CI machine and the
    /// benchmark VM (AMD Zen 4) have it, so these tests do run there.
    fn kernel() -> Option<Avx512> {
        assert!(Avx512::detect(false).is_none(), "forcing the fallback");
        let kernel = Avx512::detect(true);
        let detected = crate::simd::std_detects(&["avx512f", "avx512vl", "avx512bw"]);
        assert_eq!(kernel.is_some(), detected);
        kernel
    }

    fn check(k: Avx512, key: &[u8; 32], nonce: &[u8; 8], counter: u64, data: &[u8]) {
        let mut expected = data.to_vec();
        reference(key, nonce, counter, &mut expected);
        let mut got = data.to_vec();
        k.xor_keystream(key, nonce, counter, &mut got);
        assert!(
            got == expected,
            "length {}, counter {counter:#x}",
            data.len()
        );
    }

    #[test]
    fn every_length_up_to_1100_on_random_inputs() {
        let Some(k) = kernel() else { return };
        let mut rng = Rng(1);
        for len in 0..=1100 {
            let mut key = [0; 32];
            let mut nonce = [0; 8];
            rng.fill(&mut key);
            rng.fill(&mut nonce);
            // Small counters like the cipher's, and random ones below the
            // end of the 64-bit counter (where the crate would refuse).
            let counter = match len % 3 {
                0 => len as u64 % 5,
                _ => rng.next() >> 1,
            };
            let mut data = vec![0; len];
            rng.fill(&mut data);
            check(k, &key, &nonce, counter, &data);
        }
    }

    #[test]
    fn big_and_odd_lengths() {
        let Some(k) = kernel() else { return };
        let mut rng = Rng(2);
        for len in [
            32 * 1024,
            256 * 1024,
            32 * 1024 + 13,
            35_000,
            16 * 1024 - 1,
            1023,
            1024,
            1025,
            2047,
            2048,
            4097,
            65_537,
        ] {
            let mut key = [0; 32];
            let mut nonce = [0; 8];
            rng.fill(&mut key);
            rng.fill(&mut nonce);
            let mut data = vec![0; len];
            rng.fill(&mut data);
            check(k, &key, &nonce, 1, &data);
            check(k, &key, &nonce, rng.next() >> 2, &data);
        }
    }

    #[test]
    fn counter_carries_into_the_high_word() {
        // Lanes that cross 2^32 blocks inside one pass, and passes that
        // start exactly there.
        let Some(k) = kernel() else { return };
        let mut rng = Rng(3);
        let mut data = vec![0; 5000];
        rng.fill(&mut data);
        for counter in [
            0xffff_fff0,
            0xffff_fff1,
            0xffff_ffff,
            0x1_0000_0000,
            0x7_ffff_fff8,
            0xffff_fffe_ffff_fffa,
        ] {
            for len in [64, 100, 1024, 2000, 5000] {
                check(k, &[9; 32], &[3; 8], counter, &data[..len]);
            }
        }
    }

    #[test]
    fn all_ones_inputs() {
        let Some(k) = kernel() else { return };
        for len in [0, 1, 63, 64, 65, 1000, 1024, 3000] {
            let data = vec![0xff; len];
            check(k, &[0xff; 32], &[0xff; 8], 0, &data);
            check(k, &[0xff; 32], &[0xff; 8], 0xffff_ffff, &data);
            check(k, &[0; 32], &[0; 8], 0, &data);
        }
    }

    #[test]
    fn packet_keystream_is_block_0_then_block_1_on() {
        // The Poly1305 key is the first half of block 0 and the body is
        // encrypted from block 1, across the end of the first pass (960
        // bytes of body) and beyond.
        let Some(k) = kernel() else { return };
        let mut rng = Rng(4);
        let lengths = (0..=1100).chain([1983, 1984, 1985, 32 * 1024 + 16, 256 * 1024 + 7]);
        for len in lengths {
            let mut key = [0; 32];
            rng.fill(&mut key);
            let nonce = (rng.next() as u32 as u64).to_be_bytes();
            let mut block0 = [0; 64];
            reference(&key, &nonce, 0, &mut block0);
            let mut body = vec![0; len];
            rng.fill(&mut body);
            let mut expected = body.clone();
            reference(&key, &nonce, 1, &mut expected);

            let packet = k.packet(&key, nonce);
            assert_eq!(*packet.poly1305_key(), block0[..32], "length {len}");
            packet.xor_body(&mut body);
            assert!(body == expected, "length {len}");
        }
    }

    #[test]
    fn djb_keystream_vector() {
        // draft-agl-tls-chacha20poly1305-04 §7, all-zero key and nonce:
        // the first 64 bytes of keystream (also RFC 8439 A.1 #1).
        let Some(k) = kernel() else { return };
        let mut out = [0u8; 64];
        k.xor_keystream(&[0; 32], &[0; 8], 0, &mut out);
        let expected: Vec<u8> = crate::hash::tests::hex(
            "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
             da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586",
        );
        assert_eq!(out.as_slice(), expected);
    }
}
