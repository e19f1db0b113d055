//! AES counter-mode keystream, shared by `aes*-ctr` and AES-GCM.
//!
//! The whole loop (counter blocks, AES, XOR into the data) runs inside a
//! [`BlockCipherEncClosure`]: the `aes` crate calls it from its
//! runtime-selected backend (VAES-512, VAES-256, AES-NI or software), whose
//! `#[target_feature]` function the closure is inlined into, so it is
//! compiled with the instructions the backend was chosen for. No `unsafe` is
//! involved on our side.
//!
//! Blocks are encrypted 8 at a time with the backend's single-block path
//! (eight independent AES chains, which the core overlaps) rather than its
//! batch path: in the default build the VAES-512 batch path of `aes` 0.9
//! loads its 64 blocks through a non-inlined `from_fn` and a 1 KiB copy,
//! which cost a third of the time and made the `ctr` crate (which uses it)
//! half as fast as OpenSSL. Each 16-byte block of keystream is XORed into
//! the data on its own: one wide load of keystream just stored as 16-byte
//! blocks stalls on store forwarding.
//!
//! Two counter flavours: the full 128-bit big-endian counter of RFC 4344
//! (`FULL`), and GCM's `inc32`, which counts in the low 32 bits only and
//! leaves the 96-bit nonce alone (NIST SP 800-38D §6.2).

use cipher::{
    Block, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser,
    consts::U16,
};
use zeroize::Zeroizing;

/// Blocks of keystream made per round of the loop.
const GROUP: usize = 8;

/// Counter block `i` blocks after `base`.
#[inline(always)]
fn counter_at<const FULL: bool>(base: u128, i: usize) -> u128 {
    if FULL {
        base.wrapping_add(i as u128)
    } else {
        // inc32: only the low 32 bits count, modulo 2^32.
        let low = (base as u32).wrapping_add(i as u32);
        (base & !u128::from(u32::MAX)) | u128::from(low)
    }
}

/// AES keystream state: the keyed cipher, the next counter block, and the
/// unused end of a keystream block that a caller cut short.
pub(super) struct AesCtr<C, const FULL: bool> {
    cipher: C,
    counter: u128,
    /// `spare[16 - spare_len..]` is keystream not used yet.
    spare: Zeroizing<[u8; 16]>,
    spare_len: usize,
}

impl<C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>, const FULL: bool> AesCtr<C, FULL> {
    /// Keystream from the counter block `counter` on.
    pub(super) fn new(cipher: C, counter: [u8; 16]) -> Self {
        Self {
            cipher,
            counter: u128::from_be_bytes(counter),
            spare: Zeroizing::new([0; 16]),
            spare_len: 0,
        }
    }

    /// Restarts the keystream at counter block `counter`.
    pub(super) fn seek(&mut self, counter: [u8; 16]) {
        self.counter = u128::from_be_bytes(counter);
        self.spare_len = 0;
    }

    /// XORs the next `data.len()` bytes of keystream into `data`.
    pub(super) fn apply(&mut self, data: &mut [u8]) {
        let mut data = data;
        if self.spare_len > 0 {
            let start = 16 - self.spare_len;
            let spare = self.spare.get(start..).unwrap_or_default();
            let used = spare.len().min(data.len());
            let (now, later) = data.split_at_mut(used);
            xor(now, spare);
            self.spare_len -= used;
            data = later;
        }
        if data.is_empty() {
            return;
        }
        self.cipher.encrypt_with_backend(Apply::<FULL> {
            counter: &mut self.counter,
            data,
            spare: &mut self.spare,
            spare_len: &mut self.spare_len,
        });
    }
}

/// XORs `ks` into `data`, as far as the shorter goes.
///
/// Whole blocks go as `u128`s: left to itself, LLVM vectorizes the
/// byte loop in some builds and not in others (a byte at a time made the
/// keystream 4x slower in the benchmark binary while the tests' build of
/// the same code was fast).
#[inline(always)]
fn xor(data: &mut [u8], ks: &[u8]) {
    let whole = data.len().min(ks.len()) / 16 * 16;
    let (Some((data_blocks, data_rest)), Some((ks_blocks, ks_rest))) =
        (data.split_at_mut_checked(whole), ks.split_at_checked(whole))
    else {
        return;
    };
    for (d, k) in data_blocks
        .chunks_exact_mut(16)
        .zip(ks_blocks.chunks_exact(16))
    {
        if let (Ok(d), Ok(k)) = (<&mut [u8; 16]>::try_from(d), <&[u8; 16]>::try_from(k)) {
            *d = (u128::from_ne_bytes(*d) ^ u128::from_ne_bytes(*k)).to_ne_bytes();
        }
    }
    for (d, k) in data_rest.iter_mut().zip(ks_rest) {
        *d ^= *k;
    }
}

/// The closure run inside the AES backend.
struct Apply<'a, const FULL: bool> {
    counter: &'a mut u128,
    data: &'a mut [u8],
    spare: &'a mut [u8; 16],
    spare_len: &'a mut usize,
}

impl<const FULL: bool> BlockSizeUser for Apply<'_, FULL> {
    type BlockSize = U16;
}

impl<const FULL: bool> BlockCipherEncClosure for Apply<'_, FULL> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
        let mut counter = *self.counter;
        let mut ks = [Block::<B>::default(); GROUP];
        let mut chunks = self.data.chunks_exact_mut(16 * GROUP);
        for chunk in &mut chunks {
            for (i, b) in ks.iter_mut().enumerate() {
                *b = Block::<B>::from(counter_at::<FULL>(counter, i).to_be_bytes());
                backend.encrypt_block_inplace(b);
            }
            counter = counter_at::<FULL>(counter, GROUP);
            // Block by block: one wide load of keystream written as 16-byte
            // blocks would stall on store forwarding.
            for (d, k) in chunk.chunks_exact_mut(16).zip(&ks) {
                xor(d, k);
            }
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let blocks = rest.len().div_ceil(16);
            for (i, b) in ks.iter_mut().enumerate().take(blocks) {
                *b = Block::<B>::from(counter_at::<FULL>(counter, i).to_be_bytes());
                backend.encrypt_block_inplace(b);
            }
            counter = counter_at::<FULL>(counter, blocks);
            let ks = Block::<B>::slice_as_flattened(&ks);
            xor(rest, ks);
            if !rest.len().is_multiple_of(16) {
                // Keep the rest of the last keystream block for the next call.
                let tail = ks.get(rest.len()..blocks * 16).unwrap_or_default();
                let start = 16 - tail.len();
                for (s, k) in self.spare.iter_mut().skip(start).zip(tail) {
                    *s = *k;
                }
                *self.spare_len = tail.len();
            }
        }
        // Like the `ctr` crate, the last keystream blocks are left on the
        // stack (a volatile wipe would cost more than it protects).
        *self.counter = counter;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use cipher::{InnerIvInit, KeyInit, StreamCipher};

    /// A deterministic byte stream (xorshift), for data and split points.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// Ours against the `ctr` crate over sizes that exercise whole
    /// batches, the serial and batched remainders and partial blocks, with
    /// the data cut at arbitrary points, and counters about to wrap.
    fn against_ctr_crate<C, F, const FULL: bool>()
    where
        C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit + Clone,
        F: ::ctr::flavors::CtrFlavor<U16>,
    {
        let key = bytes(1, C::key_size());
        let cipher = C::new_from_slice(&key).unwrap();
        let mut ivs = [[0u8; 16], [0xff; 16], [0u8; 16]];
        ivs[2][15] = 0xf0;
        ivs[2][11] = 0xff;
        ivs[2][12] = 0xff;
        ivs[2][13] = 0xff;
        ivs[2][14] = 0xff;
        let sizes = [
            0, 1, 15, 16, 17, 63, 64, 65, 100, 1023, 1024, 1025, 4096, 33000,
        ];
        for (n, iv) in ivs.iter().enumerate() {
            for (m, &size) in sizes.iter().enumerate() {
                let data = bytes((n * 100 + m) as u64 + 7, size);
                let mut expected = data.clone();
                let mut reference =
                    cipher::StreamCipherCoreWrapper::from_core(
                        ::ctr::CtrCore::<C, F>::inner_iv_init(cipher.clone(), iv.into()),
                    );
                reference.apply_keystream(&mut expected);

                let mut ours = AesCtr::<C, FULL>::new(cipher.clone(), *iv);
                let mut got = data.clone();
                let cuts = bytes(size as u64 + 3, 8);
                let mut rest = got.as_mut_slice();
                for c in cuts {
                    let k = (usize::from(c) * 7) % (rest.len() + 1);
                    let (now, later) = rest.split_at_mut(k);
                    ours.apply(now);
                    rest = later;
                }
                ours.apply(rest);
                assert_eq!(got, expected, "iv {n} size {size}");
            }
        }
    }

    #[test]
    fn same_keystream_as_the_ctr_crate() {
        use ::ctr::flavors::{Ctr32BE, Ctr128BE};
        against_ctr_crate::<aes::Aes128Enc, Ctr128BE, true>();
        against_ctr_crate::<aes::Aes192Enc, Ctr128BE, true>();
        against_ctr_crate::<aes::Aes256Enc, Ctr128BE, true>();
        against_ctr_crate::<aes::Aes128Enc, Ctr32BE, false>();
        against_ctr_crate::<aes::Aes256Enc, Ctr32BE, false>();
    }
}
