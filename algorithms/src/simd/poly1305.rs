//! Poly1305 (RFC 8439 §2.5) with AVX-512 IFMA: sixteen blocks at a time,
//! one per 64-bit lane of two zmm registers, multiplied with the 52-bit
//! multiply-add instructions `vpmadd52luq` / `vpmadd52huq`.
//!
//! The idea is Goll and Gueron's ("Vectorization of Poly1305 message
//! authentication code", ITNG 2015), in the radix-2^44 form OpenSSL's
//! `poly1305-x86_64.pl` uses for IFMA (`poly1305_blocks_vpmadd52`): the
//! accumulator `h` and the key `r` are split into limbs of 44, 44 and 42
//! bits, which fit the 52-bit multiplier inputs with room for the carries.
//! This is our own code; only the technique is theirs.
//!
//! # Why eight lanes give the same tag
//!
//! Poly1305 of blocks `m_1 .. m_n` (each with its 2^128 bit, the last padded
//! one without) is `h = Σ m_i · r^(n-i+1) mod p`, `p = 2^130 - 5`. Split the
//! first `8k` blocks into groups of eight. Lane `j` (block `j` of each group)
//! runs Horner's rule with `r^8` over the blocks `j, j+8, j+16, ..`: after
//! the last group it holds `Σ_g m_(8g+j) · r^(8(k-1-g))`. Multiplying the
//! last step by `r^(8-j)` instead of `r^8` gives every block the power
//! `r^(8k-i+1)` it has in the serial sum, so adding the lanes gives `h` after
//! `8k` blocks; the remaining blocks (fewer than eight, and a partial one)
//! go on serially with `r`.
//!
//! The code runs two such chains side by side (the groups of each pair
//! split between them, stepping with `r^16`, the last pair's lanes
//! multiplied by `r^16 .. r^9` and `r^8 .. r^1`): the same sum as one
//! 16-lane chain, and two independent dependency chains keep the
//! multipliers busier (about 18% faster on 16 KiB than one chain, on the
//! AMD Zen 4 it was measured on). See [`blocks_ifma`].
//!
//! # Limbs and bounds (radix 2^44)
//!
//! A value is `x0 + x1·2^44 + x2·2^88`. The clamped `r < 2^124`, and every
//! power of it comes out of [`mul`] with `r0 < 2^44`, `r1 < 2^44 + 2^22`,
//! `r2 < 2^42`. With `s1 = 20·r1 < 2^48.4` and `s2 = 20·r2 < 2^46.4`
//! (`2^132 = 4·2^130 ≡ 4·5 = 20 mod p`: a product term landing at
//! `2^(44+88)` folds down to limb 0 times 20), the product `a·r` is
//!
//! ```text
//! d0 = a0·r0 + a1·s2 + a2·s1      (at 2^0)
//! d1 = a0·r1 + a1·r0 + a2·s2      (at 2^44; a2·r2 sits at 2^176 = 2^132·2^44)
//! d2 = a0·r2 + a1·r1 + a2·r0      (at 2^88)
//! ```
//!
//! In the vector step `a = h + m`, with `h0 < 2^44`, `h1 < 2^44 + 2^7`,
//! `h2 < 2^42` (what the previous step leaves, see below; the accumulator
//! that enters lane 0 from scalar code may have `h0 < 2^44 + 2^10`, which
//! changes none of the bounds below at the precision given) and the block
//! `m0, m1 < 2^44`, `m2 < 2^41` (40 bits plus the 2^128 bit at bit 40 of
//! limb 2): `a0 < 2^45`, `a1 < 2^45 + 2^7`, `a2 < 2^43`. All multiplier
//! inputs are under 2^52, so `vpmadd52` sees them whole.
//!
//! Each 104-bit product splits into `lo` (bits 0..52) and `hi` (bits
//! 52..104). The three `lo` halves of a `dk` add up to under `3·2^52`; the
//! `hi` halves: products of `d0` are under `2^45·2^44`, `2^45.01·2^46.4`,
//! `2^43·2^48.4`, so `d0hi < 3·2^39.5 < 2^41.1`; likewise `d1hi < 2^39`,
//! `d2hi < 2^37.6`. `hi` of `dk` weighs `2^52` relative to limb `k`, which is
//! limb `k+1` shifted left by 8 (limbs 0 and 1), or `2^140 = 2^130·2^10` for
//! `d2` (folded into limb 0 times 5). The carry chain, with bounds:
//!
//! ```text
//! t0 = (d0hi << 8) + (d0lo >> 44)    < 2^49.1 + 2^10
//! d1lo += t0                         < 3·2^52 + 2^50 < 2^54
//! t1 = (d1hi << 8) + (d1lo >> 44)    < 2^47 + 2^10
//! d2lo += t1                         < 2^54
//! t2 = (d2hi << 10) + (d2lo >> 42)   < 2^47.6 + 2^12     (the part at 2^130)
//! h0 = (d0lo & M44) + 5·t2           < 2^44 + 2^50.1 < 2^51
//! h1 = (d1lo & M44) + (h0 >> 44)     < 2^44 + 2^7
//! h0 &= M44                          < 2^44
//! h2 = d2lo & M42                    < 2^42
//! ```
//!
//! which are the bounds assumed for `h` above, so they hold for every step,
//! and no 64-bit lane ever comes near overflowing. After the last group
//! the two chains are added (limbs under 2^46) and the lanes summed (under
//! 2^49) and carried in scalar code ([`fold`]); the scalar step and the final reduction are in [`mul`] and
//! [`finish`], with their own bounds.
//!
//! # Side channels
//!
//! No branch or memory index depends on the key or the data, only on the
//! length. The final reduction mod p selects with masks.
//!
//! Key-derived values in memory (the powers of `r`, `s`, the accumulator)
//! are wiped on drop. Vector registers and spilled copies of them cannot be
//! reached from Rust; like the RustCrypto backends, this does not try.

use core::arch::x86_64::{
    __m512i, _mm512_add_epi64, _mm512_and_si512, _mm512_loadu_si512, _mm512_madd52hi_epu64,
    _mm512_madd52lo_epu64, _mm512_or_si512, _mm512_reduce_add_epi64, _mm512_set_epi64,
    _mm512_set1_epi64, _mm512_setzero_si512, _mm512_slli_epi64, _mm512_srli_epi64,
    _mm512_unpackhi_epi64, _mm512_unpacklo_epi64,
};
use zeroize::Zeroize;

cpu_proof!(
    /// Proof that this CPU runs the IFMA kernel: AVX-512F and the 52-bit
    /// multiply-adds of AVX-512 IFMA.
    Ifma, avx512_ifma, "avx512f", "avx512ifma"
);

/// Low 44 bits: limbs 0 and 1.
const M44: u64 = (1 << 44) - 1;
/// Low 42 bits: limb 2 (bits 88..130).
const M42: u64 = (1 << 42) - 1;
/// The 2^128 bit of a whole block, as bit 40 of limb 2 (128 = 88 + 40).
const HIBIT: u64 = 1 << 40;
/// RFC 8439 §2.5.1's clamp of `r`: the top four bits of bytes 3, 7, 11 and
/// 15 and the bottom two bits of bytes 4, 8 and 12 cleared.
const CLAMP: u128 = 0x0fff_fffc_0fff_fffc_0fff_fffc_0fff_ffff;
/// Blocks per vector step: one per 64-bit lane of a zmm register.
const LANES: usize = 8;
/// Bytes per vector step.
const GROUP: usize = 16 * LANES;
/// The power of `r` each lane multiplies by in the last group. Lane `k`
/// holds block `[0, 4, 1, 5, 2, 6, 3, 7][k]` of a group (the order
/// `vpunpck{l,h}qdq` leaves them in, see [`load_group`]), and block `j` of
/// the last group needs `r^(8-j)`.
const LAST_POWERS: [usize; LANES] = [8, 4, 7, 3, 6, 2, 5, 1];

/// The kernel's tag where this CPU has it, else `None` (tests).
#[cfg(test)]
pub(crate) fn poly1305_tag(key: &[u8; 32], data: &[u8]) -> Option<[u8; 16]> {
    Ifma::detect(true).map(|cpu| cpu.tag(key, data))
}

impl Ifma {
    /// Poly1305 of `data` under the one-time `key` (`r || s`, RFC 8439
    /// §2.5). `data` is the whole, unpadded message: the last partial block
    /// is padded with 0x01 and zeros and gets no 2^128 bit.
    pub(crate) fn tag(self, key: &[u8; 32], data: &[u8]) -> [u8; 16] {
        tag_ifma(self, key, data)
    }
}

/// [`Ifma::tag`]'s body: the vector steps over whole groups of eight
/// blocks, the scalar ones over the rest.
fn tag_ifma(_cpu: Ifma, key: &[u8; 32], data: &[u8]) -> [u8; 16] {
    let state = Key::new(key);
    let (groups, rest) = data.as_chunks::<GROUP>();
    let mut h = Acc([0; 3]);
    if !groups.is_empty() {
        let powers = Powers::new(&state.r, groups.len() >= 2);
        // SAFETY: `_cpu` proves the CPU has AVX-512F and AVX-512 IFMA, all
        // `blocks_ifma` enables (cpufeatures also checks that the OS saves
        // the zmm state).
        unsafe { blocks_ifma(&mut h.0, &powers, groups) };
    }
    let (blocks, tail) = rest.as_chunks::<16>();
    for block in blocks {
        h.0 = mul(add_block(h.0, block, HIBIT), state.r);
    }
    if !tail.is_empty() {
        // RFC 8439 §2.5.1: a short last block gets a 0x01 byte after its
        // data instead of the 2^128 bit.
        let mut last = crate::builtin::ciphers::zero_padded(tail);
        if let Some(one) = last.get_mut(tail.len()) {
            *one = 1;
        }
        h.0 = mul(add_block(h.0, &last, 0), state.r);
        last.zeroize();
    }
    finish(h.0, state.s)
}

/// The accumulator, wiped on drop: it is a polynomial in the secret `r`.
struct Acc([u64; 3]);

impl Drop for Acc {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The one-time key: `r` clamped and in limbs, and `s`. Wiped on drop.
struct Key {
    /// Clamped `r` in radix 2^44 (`r2 < 2^36` since `r < 2^124`).
    r: [u64; 3],
    /// `s`, added to the reduced accumulator at the end.
    s: u128,
}

impl Key {
    /// Splits a 32-byte one-time key into clamped `r` and `s`
    /// (little-endian, RFC 8439 §2.5).
    fn new(key: &[u8; 32]) -> Self {
        let mut r_bytes = [0u8; 16];
        let mut s_bytes = [0u8; 16];
        let (r_half, s_half) = key.split_at(16);
        for (d, k) in r_bytes.iter_mut().zip(r_half) {
            *d = *k;
        }
        for (d, k) in s_bytes.iter_mut().zip(s_half) {
            *d = *k;
        }
        let mut r = u128::from_le_bytes(r_bytes) & CLAMP;
        let key = Self {
            r: split(r),
            s: u128::from_le_bytes(s_bytes),
        };
        r.zeroize();
        r_bytes.zeroize();
        s_bytes.zeroize();
        key
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.r.zeroize();
        self.s.zeroize();
    }
}

/// A 128-bit number in radix-2^44 limbs (the last one 40 bits).
fn split(x: u128) -> [u64; 3] {
    [(x as u64) & M44, ((x >> 44) as u64) & M44, (x >> 88) as u64]
}

/// `h + block + hibit·2^88`, the block read little-endian. With `h` as
/// [`mul`] leaves it, the sum's limbs stay under 2^45 + 2^22 (limbs 0, 1)
/// and 2^43 (limb 2).
fn add_block(h: [u64; 3], block: &[u8; 16], hibit: u64) -> [u64; 3] {
    let [m0, m1, m2] = split(u128::from_le_bytes(*block));
    let [h0, h1, h2] = h;
    [h0 + m0, h1 + m1, h2 + (m2 | hibit)]
}

/// `a·b mod p`, partly reduced, in scalar code (the 64-bit
/// `poly1305-donna` scheme: u128 products of 44-bit limbs).
///
/// Inputs: every limb under 2^49 (callers pass at most an accumulator plus
/// a block, under 2^45 + 2^22, or powers of `r` under 2^45). Then `b·20`
/// is under 2^54, every product under 2^103 and each `dk` under 2^105, far
/// from u128's limit. The part of `d2` at 2^130 and above is under 2^63,
/// times 5 under 2^66, so `h0 >> 44` is under 2^22. Output: `h0 < 2^44`,
/// `h1 < 2^44 + 2^22`, `h2 < 2^42`, which is what [`add_block`], the
/// vector step (limbs under 2^52) and [`finish`] (under 2^50) accept.
fn mul(a: [u64; 3], b: [u64; 3]) -> [u64; 3] {
    let [a0, a1, a2] = a.map(u128::from);
    let [b0, b1, b2] = b.map(u128::from);
    // 2^132 ≡ 20 (mod 2^130 - 5): terms at 2^132 and 2^176 fold down.
    let (s1, s2) = (b1 * 20, b2 * 20);
    let d0 = a0 * b0 + a1 * s2 + a2 * s1;
    let mut d1 = a0 * b1 + a1 * b0 + a2 * s2;
    let mut d2 = a0 * b2 + a1 * b1 + a2 * b0;
    d1 += d0 >> 44;
    d2 += d1 >> 44;
    // The part of d2 at 2^130 and above, times 5 (2^130 ≡ 5), back into
    // limb 0; held in u128, so nothing can overflow here.
    let h0 = (d0 & u128::from(M44)) + (d2 >> 42) * 5;
    let h1 = (d1 & u128::from(M44)) + (h0 >> 44);
    [(h0 as u64) & M44, h1 as u64, (d2 as u64) & M42]
}

/// Fully reduces `h` mod `p = 2^130 - 5` and returns `(h + s) mod 2^128`
/// as 16 little-endian bytes, in constant time.
///
/// Input limbs under 2^50. Two carry rounds: the first leaves `h1 < 2^44`,
/// `h2 < 2^42` and `h0 < 2^44 + 5·2^9`; in the second each carry is 0 or
/// 1, and a carry out of `h2` can only happen when `h1` and `h2` wrapped to
/// 0 and `h0` was small, so afterwards every limb is strictly in range and
/// `h < 2^130 < 2p`. Then one conditional subtraction of `p`, done as
/// `g = h + 5` and taking `g - 2^130` when `g` reaches 2^130.
fn finish(h: [u64; 3], s: u128) -> [u8; 16] {
    let [mut h0, mut h1, mut h2] = h;
    for _ in 0..2 {
        h1 += h0 >> 44;
        h0 &= M44;
        h2 += h1 >> 44;
        h1 &= M44;
        h0 += (h2 >> 42) * 5;
        h2 &= M42;
    }
    let mut g0 = h0 + 5;
    let mut g1 = h1 + (g0 >> 44);
    g0 &= M44;
    let mut g2 = h2 + (g1 >> 44);
    g1 &= M44;
    // All ones when h + 5 >= 2^130, that is h >= p: take g - 2^130.
    let take_g = 0u64.wrapping_sub(g2 >> 42);
    g2 &= M42;
    let h0 = (h0 & !take_g) | (g0 & take_g);
    let h1 = (h1 & !take_g) | (g1 & take_g);
    let h2 = (h2 & !take_g) | (g2 & take_g);
    // h < p < 2^130 now; keep its low 128 bits and add s (RFC 8439 §2.5.1).
    let mut v = u128::from(h0) | (u128::from(h1) << 44) | (u128::from(h2) << 88);
    v = v.wrapping_add(s);
    let tag = v.to_le_bytes();
    v.zeroize();
    tag
}

/// The powers of `r` laid out for the vector code, wiped on drop.
struct Powers {
    /// `r^8` limbs and their times-20 multiples: `[r0, r1, r2, s1, s2]`,
    /// to be broadcast to every lane.
    step8: [u64; 5],
    /// `r^16` likewise, the step of the two chains (zero, and unused, when
    /// there are fewer than two groups).
    step16: [u64; 5],
    /// Per lane, the power the chain of the second group of a pair needs
    /// in the last pair, `r^(8-j)` for block `j` ([`LAST_POWERS`]): the
    /// same five values, one row each, lane `k` in column `k`. A lone
    /// first group uses them too; `r^(16-j)` for the first chain is this
    /// times `r^8`, computed in the vector code.
    low: [[u64; LANES]; 5],
}

impl Powers {
    /// Computes `r^1 .. r^8`, and `r^16` if `pairs`, with [`mul`]; each has
    /// the limb bounds the vector step assumes (`r0 < 2^44`,
    /// `r1 < 2^44 + 2^22`, `r2 < 2^42`, so `s1 = 20·r1 < 2^49` and all are
    /// under 2^52).
    fn new(r: &[u64; 3], pairs: bool) -> Self {
        let mut pow = [[0u64; 3]; LANES + 1];
        let mut acc = *r;
        for (i, p) in pow.iter_mut().enumerate().skip(1) {
            *p = acc;
            if i < LANES {
                acc = mul(acc, *r);
            }
        }
        let row = |x: &[u64; 3]| {
            let [r0, r1, r2] = *x;
            [r0, r1, r2, 20 * r1, 20 * r2]
        };
        let step8 = row(&acc);
        let step16 = if pairs {
            let mut r16 = mul(acc, acc);
            let step16 = row(&r16);
            r16.zeroize();
            step16
        } else {
            [0; 5]
        };
        acc.zeroize();
        let mut low = [[0u64; LANES]; 5];
        for (lane, &k) in LAST_POWERS.iter().enumerate() {
            let values = pow.get(k).map(row).unwrap_or_default();
            for (dst, v) in low.iter_mut().zip(values) {
                if let Some(d) = dst.get_mut(lane) {
                    *d = v;
                }
            }
        }
        pow.zeroize();
        Self { step8, step16, low }
    }
}

impl Drop for Powers {
    fn drop(&mut self) {
        self.step8.zeroize();
        self.step16.zeroize();
        self.low.zeroize();
    }
}

/// Runs the whole groups through the vector code, starting from the
/// accumulator `h`, and leaves the result, summed over the lanes and
/// carried, in `h`.
///
/// Two independent chains of eight lanes, the groups of each pair split
/// between them, each stepping with `r^16`: the same as one 16-lane Horner
/// loop, and two dependency chains keep the multipliers busier than one.
/// In the last pair the first chain multiplies by `r^16 .. r^9` and the
/// second by `r^8 .. r^1` (per block, [`Powers`]), so each block gets the
/// power it has in the serial sum, as the module documentation explains
/// for one chain. An odd first group is done alone, with `r^8 .. r^1`,
/// and summed into `h` before the pairs.
#[target_feature(enable = "avx512f,avx512ifma")]
fn blocks_ifma(h: &mut [u64; 3], powers: &Powers, groups: &[[u8; GROUP]]) {
    let mut groups = groups;
    if groups.len() % 2 == 1
        && let Some((first, rest)) = groups.split_first()
    {
        let acc = add3(lane0(h), load_group(first));
        *h = fold(mul_reduce(acc, &table(&powers.low)));
        groups = rest;
    }
    let (pairs, _) = groups.as_chunks::<2>();
    let Some(([last_a, last_b], body)) = pairs.split_last() else {
        return;
    };
    let step = broadcast(&powers.step16);
    // `h` goes into lane 0 of the first chain: the lane of the first block.
    let mut a = lane0(h);
    let z = _mm512_setzero_si512();
    let mut b = [z, z, z];
    for [group_a, group_b] in body {
        a = mul_reduce(add3(a, load_group(group_a)), &step);
        b = mul_reduce(add3(b, load_group(group_b)), &step);
    }
    // r^(16-j) = r^(8-j) · r^8, a vector product of the `low` table (its
    // limbs are within the bounds of an `a` operand) with the same bounds
    // on the result as every Horner step, then the times-20 rows.
    let low = table(&powers.low);
    let [l0, l1, l2, _, _] = low;
    let [h0, h1, h2] = mul_reduce([l0, l1, l2], &broadcast(&powers.step8));
    let high = [h0, h1, h2, times20(h1), times20(h2)];
    let a = mul_reduce(add3(a, load_group(last_a)), &high);
    let b = mul_reduce(add3(b, load_group(last_b)), &low);
    // Lane limbs under 2^44 + 2^7 (2^42) each, so under 2^46 after this.
    *h = fold(add3(a, b));
}

/// `h` in lane 0, zeros elsewhere.
#[inline]
#[target_feature(enable = "avx512f")]
fn lane0(h: &[u64; 3]) -> [__m512i; 3] {
    let [h0, h1, h2] = h.map(|x| x as i64);
    [
        _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, h0),
        _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, h1),
        _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, h2),
    ]
}

/// `[r0, r1, r2, s1, s2]` in every lane.
#[inline]
#[target_feature(enable = "avx512f")]
fn broadcast(x: &[u64; 5]) -> [__m512i; 5] {
    let [r0, r1, r2, s1, s2] = x.map(|v| v as i64);
    [
        _mm512_set1_epi64(r0),
        _mm512_set1_epi64(r1),
        _mm512_set1_epi64(r2),
        _mm512_set1_epi64(s1),
        _mm512_set1_epi64(s2),
    ]
}

/// `20·x` per lane as `16x + 4x` (a 64-bit lane multiply would need
/// AVX-512DQ); `x < 2^45` here, so no overflow.
#[inline]
#[target_feature(enable = "avx512f")]
fn times20(x: __m512i) -> __m512i {
    _mm512_add_epi64(_mm512_slli_epi64::<4>(x), _mm512_slli_epi64::<2>(x))
}

/// The five rows of a per-lane power table as vectors.
#[inline]
#[target_feature(enable = "avx512f")]
fn table(t: &[[u64; LANES]; 5]) -> [__m512i; 5] {
    let [r0, r1, r2, s1, s2] = t;
    [lanes(r0), lanes(r1), lanes(r2), lanes(s1), lanes(s2)]
}

/// The sum of the eight lanes, carried once so [`mul`] and [`finish`] get
/// limbs in their ranges. Lane limbs are under 2^46, so each sum is under
/// 2^49: nothing is lost going through i64.
#[inline]
#[target_feature(enable = "avx512f")]
fn fold(acc: [__m512i; 3]) -> [u64; 3] {
    let [a0, a1, a2] = acc;
    let s0 = _mm512_reduce_add_epi64(a0) as u64;
    let s1 = _mm512_reduce_add_epi64(a1) as u64;
    let s2 = _mm512_reduce_add_epi64(a2) as u64;
    let s1 = s1 + (s0 >> 44);
    let s2 = s2 + (s1 >> 44);
    [(s0 & M44) + (s2 >> 42) * 5, s1 & M44, s2 & M42]
}

/// Eight u64 values as a vector, `x[k]` in lane `k`.
#[inline]
#[target_feature(enable = "avx512f")]
fn lanes(x: &[u64; LANES]) -> __m512i {
    let [a, b, c, d, e, f, g, h] = x.map(|v| v as i64);
    _mm512_set_epi64(h, g, f, e, d, c, b, a)
}

/// Limb-wise sum of two vectors of limbs.
#[inline]
#[target_feature(enable = "avx512f")]
fn add3(a: [__m512i; 3], b: [__m512i; 3]) -> [__m512i; 3] {
    let [a0, a1, a2] = a;
    let [b0, b1, b2] = b;
    [
        _mm512_add_epi64(a0, b0),
        _mm512_add_epi64(a1, b1),
        _mm512_add_epi64(a2, b2),
    ]
}

/// Eight 16-byte blocks as radix-2^44 limbs with the 2^128 bit, lane `k`
/// holding block `[0, 4, 1, 5, 2, 6, 3, 7][k]`.
///
/// Two 64-byte loads hold blocks 0..4 and 4..8 as (low, high) u64 pairs;
/// `vpunpcklqdq` / `vpunpckhqdq` pair the low (high) halves of the two
/// registers within each 128-bit lane, which interleaves the blocks but
/// costs one instruction each. The order only matters for the last group,
/// whose powers ([`LAST_POWERS`]) follow it.
#[inline]
#[target_feature(enable = "avx512f")]
fn load_group(group: &[u8; GROUP]) -> [__m512i; 3] {
    let (first, second) = group.split_at(GROUP / 2);
    // SAFETY: `first` and `second` are the two 64-byte halves of a 128-byte
    // array, so each pointer has 64 readable bytes, as large as the
    // `__m512i` read; `loadu` needs no alignment.
    let (x, y) = unsafe {
        (
            _mm512_loadu_si512(first.as_ptr().cast()),
            _mm512_loadu_si512(second.as_ptr().cast()),
        )
    };
    let lo = _mm512_unpacklo_epi64(x, y);
    let hi = _mm512_unpackhi_epi64(x, y);
    let m44 = _mm512_set1_epi64(M44 as i64);
    let m0 = _mm512_and_si512(lo, m44);
    let m1 = _mm512_and_si512(
        _mm512_or_si512(_mm512_srli_epi64::<44>(lo), _mm512_slli_epi64::<20>(hi)),
        m44,
    );
    let m2 = _mm512_or_si512(_mm512_srli_epi64::<24>(hi), _mm512_set1_epi64(HIBIT as i64));
    [m0, m1, m2]
}

/// `a·r mod p` in every lane, partly reduced: `r = [r0, r1, r2, s1, s2]`
/// with `s = 20·r`. The bounds of every intermediate are worked out in the
/// module documentation; outputs are `h0 < 2^44`, `h1 < 2^44 + 2^7`,
/// `h2 < 2^42`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn mul_reduce(a: [__m512i; 3], r: &[__m512i; 5]) -> [__m512i; 3] {
    let [a0, a1, a2] = a;
    let [r0, r1, r2, s1, s2] = *r;
    let z = _mm512_setzero_si512();
    // lo / hi 52-bit halves of d0 = a0·r0 + a1·s2 + a2·s1, and so on.
    let d0lo = _mm512_madd52lo_epu64(z, a0, r0);
    let d0hi = _mm512_madd52hi_epu64(z, a0, r0);
    let d1lo = _mm512_madd52lo_epu64(z, a0, r1);
    let d1hi = _mm512_madd52hi_epu64(z, a0, r1);
    let d2lo = _mm512_madd52lo_epu64(z, a0, r2);
    let d2hi = _mm512_madd52hi_epu64(z, a0, r2);
    let d0lo = _mm512_madd52lo_epu64(d0lo, a1, s2);
    let d0hi = _mm512_madd52hi_epu64(d0hi, a1, s2);
    let d1lo = _mm512_madd52lo_epu64(d1lo, a1, r0);
    let d1hi = _mm512_madd52hi_epu64(d1hi, a1, r0);
    let d2lo = _mm512_madd52lo_epu64(d2lo, a1, r1);
    let d2hi = _mm512_madd52hi_epu64(d2hi, a1, r1);
    let d0lo = _mm512_madd52lo_epu64(d0lo, a2, s1);
    let d0hi = _mm512_madd52hi_epu64(d0hi, a2, s1);
    let d1lo = _mm512_madd52lo_epu64(d1lo, a2, s2);
    let d1hi = _mm512_madd52hi_epu64(d1hi, a2, s2);
    let d2lo = _mm512_madd52lo_epu64(d2lo, a2, r0);
    let d2hi = _mm512_madd52hi_epu64(d2hi, a2, r0);

    let m44 = _mm512_set1_epi64(M44 as i64);
    let m42 = _mm512_set1_epi64(M42 as i64);
    // hi of d0 weighs 2^52 = limb 1 · 2^8; carry d0's overflow with it.
    let t0 = _mm512_add_epi64(_mm512_slli_epi64::<8>(d0hi), _mm512_srli_epi64::<44>(d0lo));
    let d1lo = _mm512_add_epi64(d1lo, t0);
    let t1 = _mm512_add_epi64(_mm512_slli_epi64::<8>(d1hi), _mm512_srli_epi64::<44>(d1lo));
    let d2lo = _mm512_add_epi64(d2lo, t1);
    // Everything at 2^130 and above: d2's hi (2^140 = 2^130 · 2^10) and
    // d2lo past bit 42; times 5 into limb 0 (2^130 ≡ 5 mod p).
    let t2 = _mm512_add_epi64(_mm512_slli_epi64::<10>(d2hi), _mm512_srli_epi64::<42>(d2lo));
    let t2x5 = _mm512_add_epi64(t2, _mm512_slli_epi64::<2>(t2));
    let h0 = _mm512_add_epi64(_mm512_and_si512(d0lo, m44), t2x5);
    let h1 = _mm512_add_epi64(_mm512_and_si512(d1lo, m44), _mm512_srli_epi64::<44>(h0));
    let h0 = _mm512_and_si512(h0, m44);
    let h2 = _mm512_and_si512(d2lo, m42);
    [h0, h1, h2]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::hash::tests::hex;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;
    use poly1305::Poly1305;
    use poly1305::universal_hash::KeyInit;

    /// Whether this CPU runs the kernel. The machine these tests were
    /// written on (AMD Zen 4) has AVX-512F and IFMA, so there the kernel
    /// is what gets tested; elsewhere the tests check the `None` fallback.
    fn have_kernel() -> bool {
        let have = Ifma::detect(true).is_some();
        assert_eq!(have, crate::simd::std_detects(&["avx512f", "avx512ifma"]));
        have
    }

    /// The `poly1305` crate's tag, the reference.
    fn reference(key: &[u8; 32], data: &[u8]) -> [u8; 16] {
        Poly1305::new(key.into()).compute_unpadded(data).into()
    }

    /// Asserts that the kernel agrees with the crate (or, without the CPU
    /// features, that it declines).
    fn check(key: &[u8; 32], data: &[u8]) {
        let got = poly1305_tag(key, data);
        if have_kernel() {
            assert_eq!(got, Some(reference(key, data)), "length {}", data.len());
        } else {
            assert_eq!(got, None);
        }
        assert!(Ifma::detect(false).is_none());
    }

    use crate::simd::TestRng as Rng;

    #[test]
    fn every_length_up_to_1100_random_keys() {
        let mut rng = Rng(1);
        for len in 0..=1100 {
            let key = rng.key();
            let data = rng.bytes(len);
            check(&key, &data);
        }
    }

    #[test]
    fn large_and_odd_lengths() {
        let mut rng = Rng(2);
        for len in [
            32 * 1024,
            32 * 1024 + 1,
            32 * 1024 + 15,
            32 * 1024 + 127,
            65_536 - 3,
            100_003,
            256 * 1024,
            256 * 1024 - 1,
            256 * 1024 + 129,
        ] {
            let key = rng.key();
            let data = rng.bytes(len);
            check(&key, &data);
        }
    }

    #[test]
    fn all_ones_keys_and_data() {
        // r is the largest clamped value, s = 2^128 - 1, and every block is
        // 2^129 - 1: the accumulator's limbs sit at their bounds.
        let key = [0xff; 32];
        let data = vec![0xff; 4096 + 200];
        for len in (0..=1100).chain([2048, 2049, 4095, 4096, 4096 + 200]) {
            check(&key, &data[..len]);
        }
        let mut rng = Rng(3);
        for len in [0, 15, 16, 127, 128, 129, 1024, 16_384 + 7] {
            check(&rng.key(), &data[..len.min(data.len())]);
            check(&key, &rng.bytes(len));
        }
    }

    /// Key with `r = 1` and `s = 0`: the tag is then `h mod p`, truncated.
    fn r_one() -> [u8; 32] {
        let mut key = [0; 32];
        key[0] = 1;
        key
    }

    /// `n` blocks (`n` = 2, or a multiple of 8) whose Poly1305 sum with
    /// `r = 1` is exactly `p - k` (with `k` negative: `p + |k|`, which the
    /// polynomial sum is before the final reduction):
    /// blocks `2^128 - 1` then a last block `m`. With `n = 8q` the sum is
    /// `(16q - 1)·2^128 - (8q - 1) + m ≡ 3·2^128 + 12q - 4 + m` (as
    /// `2^130 ≡ 5`), so `m = 2^128 - 1 - 12q - k`; with `n = 2` it is
    /// `3·2^128 - 1 + m`, so `m = 2^128 - 4 - k`.
    fn near_p(n: usize, k: i32) -> Vec<u8> {
        let sub = if n == 2 { 4 } else { 1 + 12 * (n as u128 / 8) };
        let m = if k >= 0 {
            u128::MAX - (sub - 1) - k as u128
        } else {
            u128::MAX - (sub - 1) + (-k) as u128
        };
        let mut data = vec![0xff; 16 * (n - 1)];
        data.extend_from_slice(&m.to_le_bytes());
        data
    }

    #[test]
    fn accumulator_at_and_around_p() {
        // RFC 8439 A.3 #8 and #9 probe h = p and h = p - 1 with two or one
        // blocks; these do the same through the vector path too.
        for n in [2, 8, 16, 24, 64] {
            for k in -3..=5 {
                let data = near_p(n, k);
                check(&r_one(), &data);
                if have_kernel() {
                    // h mod p is p - k for k > 0, 0 for k = 0, |k| for k < 0.
                    let expected = if k > 0 {
                        (u128::MAX - 4 - k as u128).to_le_bytes()
                    } else {
                        u128::from((-k) as u32).to_le_bytes()
                    };
                    assert_eq!(poly1305_tag(&r_one(), &data), Some(expected), "{n} {k}");
                }
            }
        }
    }

    #[test]
    fn rfc8439_vectors() {
        // RFC 8439 §2.5.2, then Appendix A.3 test vectors #1 and #5..#11
        // (key, text, tag). #2..#4 are left out for their long texts (the
        // 375-byte IETF notice, a verse of Jabberwocky); they test ordinary
        // keys and lengths, which the comparisons with the crate cover.
        let ff = "ff".repeat(16);
        let r1 = format!("01{}", "00".repeat(31));
        let r2 = format!("02{}", "00".repeat(31));
        let r10 = format!("0100000000000000{}{}", "0400000000000000", "00".repeat(16));
        let m10 = "e33594d7505e43b900000000000000003394d7505e4379cd0100000000000000\
                   00000000000000000000000000000000";
        let cases: Vec<(String, String, String)> = vec![
            (
                "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b".into(),
                hex_of(b"Cryptographic Forum Research Group"),
                "a8061dc1305136c6c22b8baf0c0127a9".into(),
            ),
            ("00".repeat(32), "00".repeat(64), "00".repeat(16)),
            (r2.clone(), ff.clone(), format!("03{}", "00".repeat(15))),
            (
                format!("02{}{}", "00".repeat(15), ff),
                format!("02{}", "00".repeat(15)),
                format!("03{}", "00".repeat(15)),
            ),
            (
                r1.clone(),
                format!("{ff}f0{}11{}", "ff".repeat(15), "00".repeat(15)),
                format!("05{}", "00".repeat(15)),
            ),
            (
                r1.clone(),
                format!("{ff}fb{}{}", "fe".repeat(15), "01".repeat(16)),
                "00".repeat(16),
            ),
            (
                r2.clone(),
                format!("fd{}", "ff".repeat(15)),
                format!("fa{}", "ff".repeat(15)),
            ),
            (
                r10.clone(),
                format!("{m10}01{}", "00".repeat(15)),
                "14000000000000005500000000000000".into(),
            ),
            (
                r10.clone(),
                m10.into(),
                "13000000000000000000000000000000".into(),
            ),
        ];
        for (key, text, tag) in cases {
            let key: [u8; 32] = hex(&key).try_into().unwrap();
            let text = hex(&text);
            let tag: [u8; 16] = hex(&tag).try_into().unwrap();
            assert_eq!(reference(&key, &text), tag, "the reference itself");
            if have_kernel() {
                assert_eq!(poly1305_tag(&key, &text), Some(tag));
            }
            check(&key, &text);
        }
    }

    #[test]
    fn sshm_draft_worked_example_tag() {
        // The tag of the worked example of draft-ietf-sshm-chacha20-poly1305-02,
        // Appendix A (the same vector `chacha20_poly1305.rs` tests through
        // the cipher): the Poly1305 key is the first 32 bytes of ChaCha20
        // block 0 under K_2 (the first half of the key material) with the
        // sequence number 7 as big-endian nonce, and the MAC covers the
        // encrypted length and payload as they go on the wire.
        use chacha20::{ChaCha20LegacyCore, LegacyNonce};
        use cipher::{KeyIvInit, StreamCipherCore};
        let material = hex(
            "8bbff6855fc102338c373e73aac0c914f076a905b2444a32eecaffeae22becc5\
             e9b7a7a5825a8249346ec1c28301cf394543fc7569887d76e168f37562ac0740",
        );
        let k2: [u8; 32] = material[..32].try_into().unwrap();
        let nonce = LegacyNonce::from(7u64.to_be_bytes());
        let mut core = ChaCha20LegacyCore::new((&k2).into(), &nonce);
        let mut block0 = [0u8; 64];
        core.write_keystream_block((&mut block0).into());
        let key: [u8; 32] = block0[..32].try_into().unwrap();
        let wire = hex("2c3ecce4\
             a5bc05895bf07a7ba956b6c68829ac7c83b780b7000ecde745afc705bbc378ce\
             03a280236b87b53bed5839662302b164b6286a48cd1e097138e3cb909b8b2b82\
             9dd18d2a35ff82d9");
        let tag: [u8; 16] = hex("95349e855bf02c298ef775f2d1a7e8b8").try_into().unwrap();
        assert_eq!(reference(&key, &wire), tag, "the reference itself");
        if have_kernel() {
            assert_eq!(poly1305_tag(&key, &wire), Some(tag));
        }
        check(&key, &wire);
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn powers_match_scalar_horner() {
        // The lane split is only right if the last pair's powers are:
        // check the scalar-made ones against repeated multiplication, fully
        // reduced (r^9 .. r^16 are made in the vector code, and only the
        // tags of two or more groups check them).
        let mut rng = Rng(4);
        for _ in 0..50 {
            let key = Key::new(&rng.key());
            let powers = Powers::new(&key.r, true);
            let mut expected = [0u64; 3];
            expected[0] = 1;
            let mut pow = vec![];
            for _ in 0..=2 * LANES {
                pow.push(finish(expected, 0));
                expected = mul(expected, key.r);
            }
            let table = &powers.low;
            for (lane, &k) in LAST_POWERS.iter().enumerate() {
                let got = [table[0][lane], table[1][lane], table[2][lane]];
                assert_eq!(finish(got, 0), pow[k]);
                assert_eq!(table[3][lane], 20 * got[1]);
                assert_eq!(table[4][lane], 20 * got[2]);
                assert!(got[0] < 1 << 44 && got[1] < (1 << 44) + (1 << 22) && got[2] < 1 << 42);
            }
            for (step, k) in [(powers.step8, 8), (powers.step16, 16)] {
                assert_eq!(finish(step[..3].try_into().unwrap(), 0), pow[k]);
                assert_eq!(step[3], 20 * step[1]);
                assert_eq!(step[4], 20 * step[2]);
            }
            // Without pairs r^16 is not made.
            let small = Powers::new(&key.r, false);
            assert_eq!((small.low, small.step8), (powers.low, powers.step8));
            assert_eq!(small.step16, [0; 5]);
        }
    }
}
