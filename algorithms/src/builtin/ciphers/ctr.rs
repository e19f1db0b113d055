//! Counter mode (RFC 4344 §4): `aes{128,192,256}-ctr`, `3des-ctr` and
//! `blowfish-ctr`.
//!
//! The IV from the key exchange is the initial counter X, an L-bit
//! big-endian integer for an L-bit block; block i of keystream is
//! E(K, X + i mod 2^L). The counter runs on from packet to packet and is
//! never reset, so the [`CipherStream`] here keeps one RustCrypto CTR state
//! for the whole life of the keys.

use super::aes_ctr::AesCtr;
use super::{BlockCipher, check_len};
use crate::cipher::{CipherStream, stream_opener, stream_sealer};
use crate::{Algorithm, AlgorithmError, Cipher, DirectionKeys, Mac, PacketOpener, PacketSealer};
use ::ctr::CtrCore;
use ::ctr::flavors::{Ctr64BE, CtrFlavor};
use alloc::boxed::Box;
use cipher::consts::U16;
use cipher::{
    BlockCipherEncrypt, BlockSizeUser, InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper,
};

/// A block cipher in counter mode, as RFC 4344 defines it for SSH.
#[derive(Debug)]
pub struct CtrCipher {
    name: &'static str,
    block: BlockCipher,
    key_len: usize,
}

/// `aes128-ctr` (RFC 4344 §4).
pub static AES128_CTR: CtrCipher = CtrCipher::new("aes128-ctr", BlockCipher::Aes128, 16);
/// `aes192-ctr` (RFC 4344 §4).
pub static AES192_CTR: CtrCipher = CtrCipher::new("aes192-ctr", BlockCipher::Aes192, 24);
/// `aes256-ctr` (RFC 4344 §4).
pub static AES256_CTR: CtrCipher = CtrCipher::new("aes256-ctr", BlockCipher::Aes256, 32);
/// `3des-ctr`: three-key EDE triple DES with a 192-bit key (RFC 4344 §4).
pub static TRIPLE_DES_CTR: CtrCipher = CtrCipher::new("3des-ctr", BlockCipher::TripleDes, 24);
/// `blowfish-ctr`: Blowfish with a 256-bit key (RFC 4344 §4).
pub static BLOWFISH_CTR: CtrCipher = CtrCipher::new("blowfish-ctr", BlockCipher::Blowfish, 32);

/// Runs `$then(state)` on the CTR state of `$self`'s block cipher keyed from
/// `$keys`: one monomorphic sealer or opener per block cipher, so a packet
/// costs no dynamic dispatch beyond the transport's own.
macro_rules! with_ctr {
    ($self:ident, $keys:ident, $then:expr) => {
        match $self.block {
            BlockCipher::Aes128 => $then(aes_ctr::<aes::Aes128Enc>($self.name, $keys)?),
            BlockCipher::Aes192 => $then(aes_ctr::<aes::Aes192Enc>($self.name, $keys)?),
            BlockCipher::Aes256 => $then(aes_ctr::<aes::Aes256Enc>($self.name, $keys)?),
            BlockCipher::TripleDes => $then(Ctr(StreamCipherCoreWrapper::from_core(ctr_core::<
                des::TdesEde3,
                Ctr64BE,
            >(
                $self.name, $keys,
            )?))),
            BlockCipher::Blowfish => $then(Ctr(StreamCipherCoreWrapper::from_core(ctr_core::<
                blowfish::Blowfish,
                Ctr64BE,
            >(
                $self.name, $keys,
            )?))),
        }
    };
}

impl CtrCipher {
    const fn new(name: &'static str, block: BlockCipher, key_len: usize) -> Self {
        Self {
            name,
            block,
            key_len,
        }
    }

    /// Checks the key and IV lengths, so that a wrong one is reported
    /// with what was expected rather than as the block cipher's bare error.
    fn check(&self, keys: &DirectionKeys) -> Result<(), AlgorithmError> {
        check_len(self.name, "key", self.key_len, keys.key.len())?;
        check_len(self.name, "IV", self.block.block_len(), keys.iv.len())
    }

    /// One direction's keystream, boxed for tests that drive it directly.
    #[cfg(test)]
    fn stream(&self, keys: &DirectionKeys) -> Result<Box<dyn CipherStream>, AlgorithmError> {
        fn boxed<S: CipherStream + 'static>(s: S) -> Box<dyn CipherStream> {
            Box::new(s)
        }
        self.check(keys)?;
        Ok(with_ctr!(self, keys, boxed))
    }
}

/// One direction's CTR state.
///
/// The counter flavors count in full L-bit words (`Ctr128BE` for 128-bit
/// blocks, `Ctr64BE` for 64-bit ones) and add the IV with wrapping, which is
/// RFC 4344's "X + i mod 2^L". The buffering wrapper around the core keeps
/// the unused rest of a keystream block, should a caller ever hand over a
/// partial block.
struct Ctr<S>(S);

/// Keys the block cipher and sets the initial counter. Keyed through the
/// block cipher's own `new_from_slice` because Blowfish takes keys of many
/// lengths (the 32 bytes of `blowfish-ctr` among them) while its nominal
/// key size is 56.
fn ctr_core<C, F>(name: &'static str, keys: &DirectionKeys) -> Result<CtrCore<C, F>, AlgorithmError>
where
    C: BlockCipherEncrypt + KeyInit,
    F: CtrFlavor<C::BlockSize>,
{
    let cipher = C::new_from_slice(&keys.key).map_err(|_| AlgorithmError::InvalidLength {
        algorithm: name,
        what: "key",
        expected: C::key_size(),
        found: keys.key.len(),
    })?;
    CtrCore::inner_iv_slice_init(cipher, &keys.iv).map_err(|_| AlgorithmError::InvalidLength {
        algorithm: name,
        what: "IV",
        expected: C::block_size(),
        found: keys.iv.len(),
    })
}

/// AES in CTR mode through sekura's own keystream loop (see `aes_ctr`),
/// which the `aes` crate runs inside its runtime-selected backend.
fn aes_ctr<C>(name: &'static str, keys: &DirectionKeys) -> Result<AesCtr<C, true>, AlgorithmError>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit,
{
    let cipher = C::new_from_slice(&keys.key).map_err(|_| AlgorithmError::InvalidLength {
        algorithm: name,
        what: "key",
        expected: C::key_size(),
        found: keys.key.len(),
    })?;
    let iv =
        <[u8; 16]>::try_from(keys.iv.as_slice()).map_err(|_| AlgorithmError::InvalidLength {
            algorithm: name,
            what: "IV",
            expected: 16,
            found: keys.iv.len(),
        })?;
    Ok(AesCtr::new(cipher, iv))
}

impl<C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + Send> CipherStream
    for AesCtr<C, true>
{
    fn apply(&mut self, data: &mut [u8]) {
        // The 128-bit counter wraps modulo 2^128 (RFC 4344 §4), so there is
        // no end of keystream to report.
        AesCtr::apply(self, data);
    }
}

impl<S: StreamCipher + Send> CipherStream for Ctr<S> {
    fn apply(&mut self, data: &mut [u8]) {
        // Only fails once 2^64 blocks (2^128 for AES) have gone by under
        // one key, far past every rekey limit. Should it ever happen the
        // data must not leave in the clear nor be trusted: wipe it.
        if self.0.try_apply_keystream(data).is_err() {
            data.fill(0);
        }
    }
}

impl Algorithm for CtrCipher {
    fn name(&self) -> &str {
        self.name
    }
}

impl Cipher for CtrCipher {
    fn key_len(&self) -> usize {
        self.key_len
    }
    fn iv_len(&self) -> usize {
        self.block.block_len()
    }
    fn block_len(&self) -> usize {
        self.block.block_len()
    }
    fn new_sealer(
        &self,
        keys: &DirectionKeys,
        mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketSealer>, AlgorithmError> {
        self.check(keys)?;
        let bl = self.block.block_len();
        with_ctr!(self, keys, |s| stream_sealer(s, bl, mac, keys))
    }
    fn new_opener(
        &self,
        keys: &DirectionKeys,
        mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketOpener>, AlgorithmError> {
        self.check(keys)?;
        let bl = self.block.block_len();
        with_ctr!(self, keys, |s| stream_opener(s, bl, mac, keys))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::hash::tests::hex;
    use alloc::vec::Vec;
    use zeroize::Zeroizing;

    fn keys(key: &str, iv: &str) -> DirectionKeys {
        DirectionKeys {
            iv: Zeroizing::new(hex(iv)),
            key: Zeroizing::new(hex(key)),
            mac_key: Zeroizing::new(Vec::new()),
        }
    }

    /// Runs `data` through a fresh keystream in the given chunk sizes.
    fn through(cipher: &CtrCipher, k: &DirectionKeys, data: &[u8], chunks: &[usize]) -> Vec<u8> {
        let mut s = cipher.stream(k).unwrap();
        let mut out = data.to_vec();
        let mut rest = out.as_mut_slice();
        for &n in chunks {
            let (now, later) = rest.split_at_mut(n);
            s.apply(now);
            rest = later;
        }
        s.apply(rest);
        out
    }

    // NIST SP 800-38A Appendix F.5: the four plaintext blocks and the
    // initial counter block shared by F.5.1, F.5.3 and F.5.5.
    const SP800_38A_PLAIN: &str = "6bc1bee22e409f96e93d7e117393172a\
                                   ae2d8a571e03ac9c9eb76fac45af8e51\
                                   30c81c46a35ce411e5fbc1191a0a52ef\
                                   f69f2445df4f9b17ad2b417be66c3710";
    const SP800_38A_COUNTER: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

    #[test]
    fn nist_sp800_38a_f5() {
        let cases = [
            // F.5.1 CTR-AES128.Encrypt
            (
                &AES128_CTR,
                "2b7e151628aed2a6abf7158809cf4f3c",
                "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
                 5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
            ),
            // F.5.3 CTR-AES192.Encrypt
            (
                &AES192_CTR,
                "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
                "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94\
                 1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050",
            ),
            // F.5.5 CTR-AES256.Encrypt
            (
                &AES256_CTR,
                "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
                "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5\
                 2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
            ),
        ];
        let plain = hex(SP800_38A_PLAIN);
        for (cipher, key, ct) in cases {
            let k = keys(key, SP800_38A_COUNTER);
            // In one go, block by block (as packets would come), and split
            // mid-block: the keystream position carries over every time.
            for chunks in [&[][..], &[16, 16, 16], &[5, 27, 20]] {
                assert_eq!(
                    through(cipher, &k, &plain, chunks),
                    hex(ct),
                    "{}",
                    cipher.name
                );
            }
            // F.5.2/F.5.4/F.5.6: decryption is the same transform.
            assert_eq!(through(cipher, &k, &hex(ct), &[32]), plain);
        }
    }

    #[test]
    fn counter_wraps_modulo_the_block() {
        // RFC 4344 §4: X + i mod 2^L. From the all-ones counter the second
        // block of keystream is E(K, 0), the first is E(K, 2^L - 1).
        let ecb_zero = |c: &CtrCipher, key: &str, bl: usize| {
            let zeros = Vec::from_iter(core::iter::repeat_n(0u8, bl));
            through(c, &keys(key, &"00".repeat(bl)), &zeros, &[])
        };
        for (c, key) in [
            (&AES128_CTR, "2b7e151628aed2a6abf7158809cf4f3c"),
            (
                &TRIPLE_DES_CTR,
                "0123456789abcdef23456789abcdef01456789abcdef0123",
            ),
            (&BLOWFISH_CTR, &"00".repeat(32)),
        ] {
            let bl = c.block.block_len();
            let out = through(
                c,
                &keys(key, &"ff".repeat(bl)),
                &alloc::vec![0; 2 * bl],
                &[],
            );
            assert_eq!(out[bl..], ecb_zero(c, key, bl)[..], "{}", c.name);
        }
        // The carry runs through the whole word, not just a low part.
        let k = "2b7e151628aed2a6abf7158809cf4f3c";
        let next = through(
            &AES128_CTR,
            &keys(k, "00ffffffffffffffffffffffffffffff"),
            &[0; 32],
            &[],
        );
        let expected = through(
            &AES128_CTR,
            &keys(k, "01000000000000000000000000000000"),
            &[0; 16],
            &[],
        );
        assert_eq!(next[16..], expected[..]);
    }

    #[test]
    fn triple_des_ctr_known_answer() {
        // NIST SP 800-67 Rev. 1, Appendix B.1: three-key TDEA with
        // K1 = 0123456789ABCDEF, K2 = 23456789ABCDEF01, K3 = 456789ABCDEF0123
        // encrypts the block 5468652071756663 ("The qufc") to
        // A826FD8CE53B855F. With that block as the initial counter, the first
        // keystream block is exactly that encryption.
        let k = keys(
            "0123456789abcdef23456789abcdef01456789abcdef0123",
            "5468652071756663",
        );
        let ks = through(&TRIPLE_DES_CTR, &k, &[0; 8], &[]);
        assert_eq!(ks, hex("a826fd8ce53b855f"));
    }

    #[test]
    fn blowfish_ctr_known_answer() {
        // Schneier's Blowfish vectors (Eric Young's set, "set_key test
        // data"): the 128-bit key F0E1D2C3B4A5968778695A4B3C2D1E0F encrypts
        // FEDCBA9876543210 to 93142887EE3BE15C. Blowfish cycles the key over
        // its 72 bytes of P-array, so the 256-bit key K || K schedules
        // exactly as K does: a genuine 32-byte blowfish-ctr key with a
        // known answer.
        let k16 = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
        let k = keys(&[k16, k16].concat(), "fedcba9876543210");
        assert_eq!(
            through(&BLOWFISH_CTR, &k, &[0; 8], &[]),
            hex("93142887ee3be15c")
        );
        // And the all-zero key on the all-zero block: 4EF997456198DD78.
        let k = keys(&"00".repeat(32), "0000000000000000");
        assert_eq!(
            through(&BLOWFISH_CTR, &k, &[0; 8], &[]),
            hex("4ef997456198dd78")
        );
    }
}
