//! GHASH over 16 blocks per reduction with VPCLMULQDQ on 512-bit registers,
//! or over 8 on 256-bit registers where the CPU has VPCLMULQDQ and AVX2 but
//! not AVX-512 (Intel Alder Lake and later client cores, AMD Zen 3).
//!
//! Computed as POLYVAL, like the portable path in `gcm.rs` (RFC 8452
//! Appendix A): the caller turns the GHASH key H into POLYVAL's key
//! mulX(ByteReverse(H)), every data block is byte-reversed on load (one
//! `vpshufb` per four blocks), and the result is reversed again by the
//! caller. POLYVAL suits carry-less multiplication because its elements are
//! little-endian: bit i of the 128-bit word is the coefficient of x^i.
//!
//! POLYVAL's step is `dot(a, b) = a * b * x^-128 mod P`, with
//! `P = x^128 + x^127 + x^126 + x^121 + 1`. With the key's powers kept as
//! `H_1 = H`, `H_k = dot(H_(k-1), H)`, sixteen steps over blocks `X_1..X_16`
//! collapse into one: multiply `(acc ^ X_1)` by `H_16`, `X_2` by `H_15`, ...,
//! `X_16` by `H_1`, add the 256-bit products without reducing them, and
//! reduce once. Each lane of a 512-bit register holds one block, so four
//! registers take the sixteen blocks and four multiplications per lane
//! (schoolbook) cover them all. The 256-bit loop is the same sum over eight
//! blocks with `H_8..H_1`; both leave fewer than their width to one
//! 128-bit tail.
//!
//! The reduction is Gueron's Montgomery folding ("AES-GCM-SIV:
//! Specification and Analysis", 2017, and the Intel white paper "Intel
//! Carry-Less Multiplication Instruction and its Usage for Computing the
//! GCM Mode", §4): for a product `T1 * x^128 + T0`, twice cancel the low 64
//! bits `A` of T0 by adding `A * P`, whose middle part is the carry-less
//! product of `A` and `x^63 + x^62 + x^57` (0xC200000000000000), then
//! divide by x^64; what remains is `T1` plus the folded T0.

use crate::builtin::ciphers::zero_padded;
use core::arch::x86_64::*;
use zeroize::Zeroizing;

cpu_proof!(
    /// Proof that this CPU runs the 512-bit GHASH: carry-less
    /// multiplication on 512-bit registers (AVX-512F, VPCLMULQDQ), byte
    /// shuffles on them (AVX-512BW), and the 128/256-bit steps of the tail
    /// and the lane folding (PCLMULQDQ, AVX2).
    Clmul512, wide_clmul, "avx512f", "avx512bw", "vpclmulqdq", "pclmulqdq", "avx2"
);

cpu_proof!(
    /// Proof that this CPU runs the 256-bit GHASH: VPCLMULQDQ with AVX2 but
    /// without AVX-512 (Intel Alder Lake and later client cores, AMD Zen 3).
    Clmul256, ymm_clmul, "vpclmulqdq", "pclmulqdq", "avx2"
);

/// Which wide loop this CPU runs.
#[derive(Clone, Copy, Debug)]
enum Width {
    /// Sixteen blocks per reduction, four per 512-bit register.
    Zmm(Clmul512),
    /// Eight blocks per reduction, two per 256-bit register.
    Ymm(Clmul256),
}

/// Blocks hashed per reduction in the wide loop.
const WIDE: usize = 16;
/// `x^63 + x^62 + x^57`: P's middle terms, shifted down by 64 bits.
const POLY_MIDDLE: i64 = 0xC200_0000_0000_0000_u64 as i64;

/// POLYVAL's key and its first sixteen powers, for a CPU with VPCLMULQDQ
/// (on 512-bit registers with AVX-512BW, else on 256-bit ones with AVX2).
pub(crate) struct WideGhash {
    /// `H_16, H_15, ..., H_1`: the power for block i of sixteen is at i.
    powers: Zeroizing<[[u8; 16]; WIDE]>,
    width: Width,
}

impl WideGhash {
    /// The hasher for POLYVAL key `key` (already mulX(ByteReverse(H))), or
    /// `None` when this CPU lacks the instructions.
    pub(crate) fn new(key: &[u8; 16]) -> Option<Self> {
        Self::with_widths(key, true)
    }

    /// [`WideGhash::new`], with the 512-bit loop only if `allow_zmm` (tests
    /// pass `false` to run the 256-bit one on a CPU that has both).
    fn with_widths(key: &[u8; 16], allow_zmm: bool) -> Option<Self> {
        let width = match Clmul512::detect(allow_zmm) {
            Some(cpu) => Width::Zmm(cpu),
            None => Width::Ymm(Clmul256::detect(true)?),
        };
        let mut powers = Zeroizing::new([[0u8; 16]; WIDE]);
        // SAFETY: either proof means PCLMULQDQ and AVX2, all `expand`
        // enables.
        unsafe { expand(key, &mut powers) };
        Some(Self { powers, width })
    }

    /// Hashes `data` into the POLYVAL accumulator `acc`, zero-padding a
    /// final partial block (GCM's padding of the AAD and the ciphertext).
    pub(crate) fn update(&self, acc: &mut [u8; 16], data: &[u8]) {
        match self.width {
            // SAFETY: the proof says the CPU has every feature `update_zmm`
            // enables.
            Width::Zmm(_) => unsafe { update_zmm(&self.powers, acc, data) },
            // SAFETY: the proof says the CPU has every feature `update_ymm`
            // enables.
            Width::Ymm(_) => unsafe { update_ymm(&self.powers, acc, data) },
        }
    }
}

/// Fills `powers` with `H_16, ..., H_1` for key `H_1 = key`.
#[target_feature(enable = "pclmulqdq,avx2")]
fn expand(key: &[u8; 16], powers: &mut [[u8; 16]; WIDE]) {
    let h = load128(key);
    let mut power = h;
    for slot in powers.iter_mut().rev() {
        store128(slot, power);
        power = dot(power, h);
    }
}

/// Hashes `data` (zero-padded to whole blocks) into `acc`.
#[target_feature(enable = "avx512f,avx512bw,vpclmulqdq,pclmulqdq,avx2")]
fn update_zmm(powers: &[[u8; 16]; WIDE], acc_bytes: &mut [u8; 16], data: &[u8]) {
    let mut acc = load128(acc_bytes);
    let mut chunks = data.chunks_exact(16 * WIDE);
    if chunks.len() > 0 {
        let [p0, p1, p2, p3] = wide_powers(powers);
        let reverse = _mm512_broadcast_i32x4(byte_reverse_mask());
        for chunk in &mut chunks {
            let Some([c0, c1, c2, c3]) = split_four(chunk) else {
                continue;
            };
            let x0 = _mm512_shuffle_epi8(load512(c0), reverse);
            let x1 = _mm512_shuffle_epi8(load512(c1), reverse);
            let x2 = _mm512_shuffle_epi8(load512(c2), reverse);
            let x3 = _mm512_shuffle_epi8(load512(c3), reverse);
            // The running value joins the first block of the sixteen.
            let x0 = _mm512_xor_si512(x0, _mm512_zextsi128_si512(acc));
            let lo = xor4(
                _mm512_clmulepi64_epi128(x0, p0, 0x00),
                _mm512_clmulepi64_epi128(x1, p1, 0x00),
                _mm512_clmulepi64_epi128(x2, p2, 0x00),
                _mm512_clmulepi64_epi128(x3, p3, 0x00),
            );
            let hi = xor4(
                _mm512_clmulepi64_epi128(x0, p0, 0x11),
                _mm512_clmulepi64_epi128(x1, p1, 0x11),
                _mm512_clmulepi64_epi128(x2, p2, 0x11),
                _mm512_clmulepi64_epi128(x3, p3, 0x11),
            );
            let mid = _mm512_xor_si512(
                xor4(
                    _mm512_clmulepi64_epi128(x0, p0, 0x01),
                    _mm512_clmulepi64_epi128(x1, p1, 0x01),
                    _mm512_clmulepi64_epi128(x2, p2, 0x01),
                    _mm512_clmulepi64_epi128(x3, p3, 0x01),
                ),
                xor4(
                    _mm512_clmulepi64_epi128(x0, p0, 0x10),
                    _mm512_clmulepi64_epi128(x1, p1, 0x10),
                    _mm512_clmulepi64_epi128(x2, p2, 0x10),
                    _mm512_clmulepi64_epi128(x3, p3, 0x10),
                ),
            );
            acc = reduce(fold_lanes(lo), fold_lanes(mid), fold_lanes(hi));
        }
    }
    store128(acc_bytes, update_tail(powers, acc, chunks.remainder()));
}

/// Hashes `data` (zero-padded to whole blocks) into `acc`, eight blocks per
/// reduction: the 512-bit loop's sum on 256-bit registers, two blocks per
/// register, with the powers `H_8 .. H_1`.
#[target_feature(enable = "vpclmulqdq,pclmulqdq,avx2")]
fn update_ymm(powers: &[[u8; 16]; WIDE], acc_bytes: &mut [u8; 16], data: &[u8]) {
    const BLOCKS: usize = WIDE / 2;
    let mut acc = load128(acc_bytes);
    let mut chunks = data.chunks_exact(16 * BLOCKS);
    let last_eight = powers.as_flattened().get(16 * BLOCKS..).unwrap_or_default();
    let mut p = [_mm256_setzero_si256(); 4];
    for (reg, two) in p.iter_mut().zip(last_eight.chunks_exact(32)) {
        if let Some(two) = two.first_chunk::<32>() {
            *reg = load256(two);
        }
    }
    let reverse = _mm256_broadcastsi128_si256(byte_reverse_mask());
    for chunk in &mut chunks {
        let mut x = [_mm256_setzero_si256(); 4];
        for (reg, two) in x.iter_mut().zip(chunk.chunks_exact(32)) {
            if let Some(two) = two.first_chunk::<32>() {
                *reg = _mm256_shuffle_epi8(load256(two), reverse);
            }
        }
        // The running value joins the first block of the eight.
        let [x0, x1, x2, x3] = x;
        let x0 = _mm256_xor_si256(x0, _mm256_zextsi128_si256(acc));
        let x = [x0, x1, x2, x3];
        let (mut lo, mut mid, mut hi) = (
            _mm256_setzero_si256(),
            _mm256_setzero_si256(),
            _mm256_setzero_si256(),
        );
        for (x, h) in x.iter().zip(&p) {
            lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128(*x, *h, 0x00));
            hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128(*x, *h, 0x11));
            mid = _mm256_xor_si256(mid, _mm256_clmulepi64_epi128(*x, *h, 0x01));
            mid = _mm256_xor_si256(mid, _mm256_clmulepi64_epi128(*x, *h, 0x10));
        }
        acc = reduce(fold256(lo), fold256(mid), fold256(hi));
    }
    store128(acc_bytes, update_tail(powers, acc, chunks.remainder()));
}

/// The XOR of a 256-bit register's two 128-bit lanes.
#[target_feature(enable = "pclmulqdq,avx2")]
fn fold256(x: __m256i) -> __m128i {
    _mm_xor_si128(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1))
}

/// Fewer than sixteen blocks (`rest`, zero-padded to whole blocks) into
/// `acc`: the same sum as the wide loops over the last powers, one block
/// at a time; returns the new value.
#[target_feature(enable = "pclmulqdq,avx2")]
fn update_tail(powers: &[[u8; 16]; WIDE], mut acc: __m128i, rest: &[u8]) -> __m128i {
    let mut blocks = rest.chunks(16);
    let count = blocks.len();
    if count > 0 {
        let first = powers.len().saturating_sub(count);
        let (mut lo, mut mid, mut hi) = (zero128(), zero128(), zero128());
        for (i, (block, power)) in (&mut blocks).zip(powers.iter().skip(first)).enumerate() {
            let mut x = reverse128(&zero_padded(block));
            if i == 0 {
                x = _mm_xor_si128(x, acc);
            }
            let h = load128(power);
            lo = _mm_xor_si128(lo, _mm_clmulepi64_si128(x, h, 0x00));
            hi = _mm_xor_si128(hi, _mm_clmulepi64_si128(x, h, 0x11));
            mid = _mm_xor_si128(mid, _mm_clmulepi64_si128(x, h, 0x01));
            mid = _mm_xor_si128(mid, _mm_clmulepi64_si128(x, h, 0x10));
        }
        acc = reduce(lo, mid, hi);
    }
    acc
}

/// The sixteen powers as four registers of four lanes, in block order.
#[target_feature(enable = "avx512f,avx512bw,vpclmulqdq,pclmulqdq,avx2")]
fn wide_powers(powers: &[[u8; 16]; WIDE]) -> [__m512i; 4] {
    let bytes = powers.as_flattened();
    let mut out = [_mm512_setzero_si512(); 4];
    for (reg, four) in out.iter_mut().zip(bytes.chunks_exact(64)) {
        if let Some(four) = four.first_chunk::<64>() {
            *reg = load512(four);
        }
    }
    out
}

/// `dot(a, b)`: one POLYVAL multiplication, reduced.
#[target_feature(enable = "pclmulqdq,avx2")]
fn dot(a: __m128i, b: __m128i) -> __m128i {
    let lo = _mm_clmulepi64_si128(a, b, 0x00);
    let hi = _mm_clmulepi64_si128(a, b, 0x11);
    let mid = _mm_xor_si128(
        _mm_clmulepi64_si128(a, b, 0x01),
        _mm_clmulepi64_si128(a, b, 0x10),
    );
    reduce(lo, mid, hi)
}

/// `(hi * x^128 + mid * x^64 + lo) * x^-128 mod P`.
#[target_feature(enable = "pclmulqdq,avx2")]
fn reduce(lo: __m128i, mid: __m128i, hi: __m128i) -> __m128i {
    let t0 = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
    let t1 = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
    let poly = _mm_set_epi64x(POLY_MIDDLE, 1);
    // Cancel the low 64 bits A: add A * x^64 (the halves swapped) and
    // A * (x^63 + x^62 + x^57), now that the whole is divided by x^64.
    let t0 = _mm_xor_si128(
        _mm_shuffle_epi32(t0, 0b01_00_11_10),
        _mm_clmulepi64_si128(t0, poly, 0x10),
    );
    let t0 = _mm_xor_si128(
        _mm_shuffle_epi32(t0, 0b01_00_11_10),
        _mm_clmulepi64_si128(t0, poly, 0x10),
    );
    _mm_xor_si128(t0, t1)
}

/// The XOR of a register's four 128-bit lanes.
#[target_feature(enable = "avx512f,avx512bw,vpclmulqdq,pclmulqdq,avx2")]
fn fold_lanes(x: __m512i) -> __m128i {
    let half = _mm256_xor_si256(_mm512_castsi512_si256(x), _mm512_extracti64x4_epi64(x, 1));
    _mm_xor_si128(
        _mm256_castsi256_si128(half),
        _mm256_extracti128_si256(half, 1),
    )
}

/// `a ^ b ^ c ^ d`, in two three-way XORs.
#[target_feature(enable = "avx512f,avx512bw,vpclmulqdq,pclmulqdq,avx2")]
fn xor4(a: __m512i, b: __m512i, c: __m512i, d: __m512i) -> __m512i {
    _mm512_xor_si512(_mm512_ternarylogic_epi64(a, b, c, 0x96), d)
}

/// `vpshufb` indices reversing the 16 bytes of a lane (GHASH's big-endian
/// blocks into POLYVAL's little-endian ones).
#[target_feature(enable = "pclmulqdq,avx2")]
fn byte_reverse_mask() -> __m128i {
    _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
}

/// A block byte-reversed.
#[target_feature(enable = "pclmulqdq,avx2")]
fn reverse128(block: &[u8; 16]) -> __m128i {
    _mm_shuffle_epi8(load128(block), byte_reverse_mask())
}

/// The zero element.
#[target_feature(enable = "pclmulqdq,avx2")]
fn zero128() -> __m128i {
    _mm_setzero_si128()
}

/// 256 bytes as four 64-byte arrays.
fn split_four(chunk: &[u8]) -> Option<[&[u8; 64]; 4]> {
    let (c0, rest) = chunk.split_first_chunk::<64>()?;
    let (c1, rest) = rest.split_first_chunk::<64>()?;
    let (c2, rest) = rest.split_first_chunk::<64>()?;
    let (c3, _) = rest.split_first_chunk::<64>()?;
    Some([c0, c1, c2, c3])
}

/// Four blocks from memory, as they are.
#[target_feature(enable = "avx512f,avx512bw,vpclmulqdq,pclmulqdq,avx2")]
fn load512(bytes: &[u8; 64]) -> __m512i {
    // SAFETY: `bytes` is 64 readable bytes; the load is unaligned.
    unsafe { _mm512_loadu_si512(bytes.as_ptr().cast()) }
}

/// Two blocks from memory, as they are.
#[target_feature(enable = "pclmulqdq,avx2")]
fn load256(bytes: &[u8; 32]) -> __m256i {
    // SAFETY: `bytes` is 32 readable bytes; the load is unaligned.
    unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) }
}

/// One block from memory, as it is.
#[target_feature(enable = "pclmulqdq,avx2")]
fn load128(bytes: &[u8; 16]) -> __m128i {
    // SAFETY: `bytes` is 16 readable bytes; the load is unaligned.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

/// One block to memory.
#[target_feature(enable = "pclmulqdq,avx2")]
fn store128(bytes: &mut [u8; 16], value: __m128i) {
    // SAFETY: `bytes` is 16 writable bytes; the store is unaligned.
    unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), value) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use polyval::Polyval;
    use polyval::universal_hash::UniversalHash;

    /// POLYVAL of GHASH-ordered `data` by the `polyval` crate: the reference.
    fn reference(key: &[u8; 16], data: &[u8]) -> [u8; 16] {
        let mut mac = Polyval::new(key.into());
        for block in data.chunks(16) {
            let mut b = zero_padded(block);
            b.reverse();
            mac.update(&[b.into()]);
        }
        mac.finalize().into()
    }

    /// `len` reproducible pseudo-random bytes.
    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        crate::simd::TestRng(seed).bytes(len)
    }

    /// The kernel in each width this CPU runs: none where the caller uses
    /// `polyval` and these tests have nothing to compare; both the 512-bit
    /// and the 256-bit loop on the CI and development machines (AMD Zen 4).
    /// std's own detection must agree with `cpufeatures` on each.
    fn hashers(key: &[u8; 16]) -> Vec<WideGhash> {
        let zmm = WideGhash::with_widths(key, true);
        let ymm = WideGhash::with_widths(key, false);
        assert!(matches!(
            zmm,
            None | Some(WideGhash {
                width: Width::Zmm(_),
                ..
            })
        ));
        assert!(matches!(
            ymm,
            None | Some(WideGhash {
                width: Width::Ymm(_),
                ..
            })
        ));
        let std = crate::simd::std_detects;
        assert_eq!(
            zmm.is_some(),
            std(&["avx512f", "avx512bw", "vpclmulqdq", "pclmulqdq", "avx2"])
        );
        assert_eq!(ymm.is_some(), std(&["vpclmulqdq", "pclmulqdq", "avx2"]));
        zmm.into_iter().chain(ymm).collect()
    }

    #[test]
    fn rfc8452_polyval_example() {
        // RFC 8452 Appendix A: POLYVAL(H, X_1, X_2) with
        // H = 25629347589242761d31f826ba4b757b,
        // X_1 = 4f4f95668c83dfb6401762bb2d01a262,
        // X_2 = d1a24ddd2721d006bbe45f20d3c9f362,
        // result f7a3b47b846119fae5b7866cf5e5b77e. Our blocks are
        // GHASH-ordered, so the X's go in byte-reversed.
        let h: [u8; 16] = hex("25629347589242761d31f826ba4b757b");
        for ghash in hashers(&h) {
            let mut data = Vec::new();
            for x in [
                "4f4f95668c83dfb6401762bb2d01a262",
                "d1a24ddd2721d006bbe45f20d3c9f362",
            ] {
                let mut b: [u8; 16] = hex(x);
                b.reverse();
                data.extend_from_slice(&b);
            }
            let mut acc = [0u8; 16];
            ghash.update(&mut acc, &data);
            assert_eq!(acc, hex::<16>("f7a3b47b846119fae5b7866cf5e5b77e"));
        }
    }

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        crate::hash::tests::hex(s).try_into().unwrap()
    }

    #[test]
    fn same_as_polyval_for_every_length_up_to_1100_and_large_ones() {
        for seed in 1..4u64 {
            let key: [u8; 16] = bytes(seed * 7919, 16).try_into().unwrap();
            for ghash in hashers(&key) {
                let data = bytes(seed, 300_000);
                let lengths = (0..=1100).chain([4096, 32 * 1024, 32 * 1024 + 5, 262_144, 299_999]);
                for len in lengths {
                    let mut acc = [0u8; 16];
                    ghash.update(&mut acc, &data[..len]);
                    assert_eq!(
                        acc,
                        reference(&key, &data[..len]),
                        "seed {seed}, length {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn updates_in_steps_chain_like_one_update() {
        let key: [u8; 16] = bytes(99, 16).try_into().unwrap();
        for ghash in hashers(&key) {
            let data = bytes(5, 10_000);
            // Steps of whole blocks, as gcm.rs feeds the AAD and 4 KiB steps.
            for step in [16, 48, 256, 272, 4096] {
                let mut acc = [0u8; 16];
                for part in data[..9984].chunks(step) {
                    ghash.update(&mut acc, part);
                }
                assert_eq!(acc, reference(&key, &data[..9984]), "step {step}");
            }
        }
    }

    #[test]
    fn all_ones_key_and_data() {
        let key = [0xff; 16];
        for ghash in hashers(&key) {
            let data = [0xff; 5000];
            for len in [16, 256, 4096, 5000] {
                let mut acc = [0xff; 16];
                ghash.update(&mut acc, &data[..len]);
                // POLYVAL's state cannot be set, so the reference starts from
                // zero with the start value XORed into the first block.
                let reference_acc: [u8; 16] = {
                    let mut m = Polyval::new(&key.into());
                    let mut blocks = Vec::new();
                    for (i, b) in data[..len].chunks(16).enumerate() {
                        let mut b = zero_padded(b);
                        b.reverse();
                        if i == 0 {
                            for x in b.iter_mut() {
                                *x ^= 0xff;
                            }
                        }
                        blocks.push(b.into());
                    }
                    m.update(&blocks);
                    m.finalize().into()
                };
                assert_eq!(acc, reference_acc, "length {len}");
            }
        }
    }
}
