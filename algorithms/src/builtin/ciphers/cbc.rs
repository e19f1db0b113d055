//! Cipher block chaining, the seed era's modes (RFC 4253 §6.3):
//! `aes{128,192,256}-cbc`, `3des-cbc` and `blowfish-cbc`.
//!
//! The whole packet stream of one direction is a single CBC message: the IV
//! of a packet is the last ciphertext block of the one before it. That
//! predictable IV is what makes these modes weak (chosen-plaintext attacks
//! on the first block), which is why they are only in the legacy list.

use super::{BlockCipher, check_len};
use crate::cipher::{CipherStream, stream_opener, stream_sealer};
use crate::{Algorithm, AlgorithmError, Cipher, DirectionKeys, Mac, PacketOpener, PacketSealer};
use alloc::boxed::Box;
use cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit,
    KeyInit,
};

/// A block cipher in CBC mode, as RFC 4253 §6.3 uses it.
#[derive(Debug)]
pub struct CbcCipher {
    name: &'static str,
    block: BlockCipher,
    key_len: usize,
}

/// `aes128-cbc` (RFC 4253 §6.3).
pub static AES128_CBC: CbcCipher = CbcCipher::new("aes128-cbc", BlockCipher::Aes128, 16);
/// `aes192-cbc` (RFC 4253 §6.3).
pub static AES192_CBC: CbcCipher = CbcCipher::new("aes192-cbc", BlockCipher::Aes192, 24);
/// `aes256-cbc` (RFC 4253 §6.3).
pub static AES256_CBC: CbcCipher = CbcCipher::new("aes256-cbc", BlockCipher::Aes256, 32);
/// `3des-cbc`: three-key EDE triple DES, the one cipher RFC 4253 §6.3
/// made mandatory.
pub static TRIPLE_DES_CBC: CbcCipher = CbcCipher::new("3des-cbc", BlockCipher::TripleDes, 24);
/// `blowfish-cbc`: Blowfish with a 128-bit key (RFC 4253 §6.3).
pub static BLOWFISH_CBC: CbcCipher = CbcCipher::new("blowfish-cbc", BlockCipher::Blowfish, 16);

/// Runs `$then(state)` on the `$mode` state (`Enc` or `Dec`) of `$self`'s
/// block cipher keyed from `$keys`, one monomorphic sealer or opener per
/// block cipher. AES keeps only the key schedule of the direction it needs.
macro_rules! with_cbc {
    ($self:ident, $keys:ident, Enc, $then:expr) => {
        match $self.block {
            BlockCipher::Aes128 => $then(Enc::<aes::Aes128Enc>::new($self.name, $keys)?),
            BlockCipher::Aes192 => $then(Enc::<aes::Aes192Enc>::new($self.name, $keys)?),
            BlockCipher::Aes256 => $then(Enc::<aes::Aes256Enc>::new($self.name, $keys)?),
            BlockCipher::TripleDes => $then(Enc::<des::TdesEde3>::new($self.name, $keys)?),
            BlockCipher::Blowfish => $then(Enc::<blowfish::Blowfish>::new($self.name, $keys)?),
        }
    };
    ($self:ident, $keys:ident, Dec, $then:expr) => {
        match $self.block {
            BlockCipher::Aes128 => $then(Dec::<aes::Aes128Dec>::new($self.name, $keys)?),
            BlockCipher::Aes192 => $then(Dec::<aes::Aes192Dec>::new($self.name, $keys)?),
            BlockCipher::Aes256 => $then(Dec::<aes::Aes256Dec>::new($self.name, $keys)?),
            BlockCipher::TripleDes => $then(Dec::<des::TdesEde3>::new($self.name, $keys)?),
            BlockCipher::Blowfish => $then(Dec::<blowfish::Blowfish>::new($self.name, $keys)?),
        }
    };
}

impl CbcCipher {
    const fn new(name: &'static str, block: BlockCipher, key_len: usize) -> Self {
        Self {
            name,
            block,
            key_len,
        }
    }

    /// Checks the key and IV lengths. Blowfish itself takes any key of 4
    /// to 56 bytes, so this is what holds it to the negotiated length.
    fn check(&self, keys: &DirectionKeys) -> Result<(), AlgorithmError> {
        check_len(self.name, "key", self.key_len, keys.key.len())?;
        check_len(self.name, "IV", self.block.block_len(), keys.iv.len())
    }

    /// One direction's chaining state, boxed for tests that drive it.
    #[cfg(test)]
    fn stream(
        &self,
        keys: &DirectionKeys,
        encrypt: bool,
    ) -> Result<Box<dyn CipherStream>, AlgorithmError> {
        fn boxed<S: CipherStream + 'static>(s: S) -> Box<dyn CipherStream> {
            Box::new(s)
        }
        self.check(keys)?;
        Ok(if encrypt {
            with_cbc!(self, keys, Enc, boxed)
        } else {
            with_cbc!(self, keys, Dec, boxed)
        })
    }
}

fn invalid_key(name: &'static str, expected: usize, found: usize) -> AlgorithmError {
    AlgorithmError::InvalidLength {
        algorithm: name,
        what: "key",
        expected,
        found,
    }
}

/// The encrypting side: `cbc::Encryptor` keeps the last ciphertext block as
/// its IV between calls, which is the chaining across packets SSH wants.
struct Enc<C: BlockCipherEncrypt>(::cbc::Encryptor<C>);

impl<C: BlockCipherEncrypt + KeyInit> Enc<C> {
    fn new(name: &'static str, keys: &DirectionKeys) -> Result<Self, AlgorithmError> {
        let cipher = C::new_from_slice(&keys.key)
            .map_err(|_| invalid_key(name, C::key_size(), keys.key.len()))?;
        ::cbc::Encryptor::inner_iv_slice_init(cipher, &keys.iv)
            .map(Self)
            .map_err(|_| AlgorithmError::InvalidLength {
                algorithm: name,
                what: "IV",
                expected: C::block_size(),
                found: keys.iv.len(),
            })
    }
}

/// The decrypting side, chaining the same way.
struct Dec<C: BlockCipherDecrypt>(::cbc::Decryptor<C>);

impl<C: BlockCipherDecrypt + KeyInit> Dec<C> {
    fn new(name: &'static str, keys: &DirectionKeys) -> Result<Self, AlgorithmError> {
        let cipher = C::new_from_slice(&keys.key)
            .map_err(|_| invalid_key(name, C::key_size(), keys.key.len()))?;
        ::cbc::Decryptor::inner_iv_slice_init(cipher, &keys.iv)
            .map(Self)
            .map_err(|_| AlgorithmError::InvalidLength {
                algorithm: name,
                what: "IV",
                expected: C::block_size(),
                found: keys.iv.len(),
            })
    }
}

// Only whole blocks are transformed: a trailing partial block cannot be
// chained, and a packet that has one is malformed and rejected by the
// transport anyway. Leaving it alone (rather than panicking) is all that is
// asked here.

impl<C: BlockCipherEncrypt + Send> CipherStream for Enc<C> {
    fn apply(&mut self, data: &mut [u8]) {
        let (blocks, _partial) = Array::slice_as_chunks_mut(data);
        self.0.encrypt_blocks(blocks);
    }
}

impl<C: BlockCipherDecrypt + Send> CipherStream for Dec<C> {
    fn apply(&mut self, data: &mut [u8]) {
        let (blocks, _partial) = Array::slice_as_chunks_mut(data);
        self.0.decrypt_blocks(blocks);
    }
}

impl Algorithm for CbcCipher {
    fn name(&self) -> &str {
        self.name
    }
}

impl Cipher for CbcCipher {
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
        with_cbc!(self, keys, Enc, |s| stream_sealer(s, bl, mac, keys))
    }
    fn new_opener(
        &self,
        keys: &DirectionKeys,
        mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketOpener>, AlgorithmError> {
        self.check(keys)?;
        let bl = self.block.block_len();
        with_cbc!(self, keys, Dec, |s| stream_opener(s, bl, mac, keys))
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

    /// Runs `data` through a fresh chaining state in the given chunks.
    fn through(
        cipher: &CbcCipher,
        k: &DirectionKeys,
        encrypt: bool,
        data: &[u8],
        chunks: &[usize],
    ) -> Vec<u8> {
        let mut s = cipher.stream(k, encrypt).unwrap();
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

    fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
        a.iter().zip(b).map(|(x, y)| x ^ y).collect()
    }

    #[test]
    fn nist_sp800_38a_f2() {
        // NIST SP 800-38A Appendix F.2: plaintext and IV shared by F.2.1,
        // F.2.3 and F.2.5.
        let plain = hex(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
             30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
        );
        let iv = "000102030405060708090a0b0c0d0e0f";
        let cases = [
            // F.2.1 CBC-AES128.Encrypt
            (
                &AES128_CBC,
                "2b7e151628aed2a6abf7158809cf4f3c",
                "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
                 73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
            ),
            // F.2.3 CBC-AES192.Encrypt
            (
                &AES192_CBC,
                "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
                "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a\
                 571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd",
            ),
            // F.2.5 CBC-AES256.Encrypt
            (
                &AES256_CBC,
                "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
                "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d\
                 39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
            ),
        ];
        for (cipher, key, ct) in cases {
            let k = keys(key, iv);
            let ct = hex(ct);
            // One call, and one block per call: the chaining value must
            // carry over between calls exactly as between packets.
            for chunks in [&[][..], &[16, 16, 16], &[32]] {
                assert_eq!(
                    through(cipher, &k, true, &plain, chunks),
                    ct,
                    "{}",
                    cipher.name
                );
                // F.2.2/F.2.4/F.2.6: CBC-AES*.Decrypt.
                assert_eq!(
                    through(cipher, &k, false, &ct, chunks),
                    plain,
                    "{}",
                    cipher.name
                );
            }
        }
    }

    #[test]
    fn triple_des_cbc_known_answer() {
        // NIST SP 800-67 Rev. 1, Appendix B.1, three-key TDEA in ECB:
        // "The qufck brown fox jump" under K1 = 0123456789ABCDEF,
        // K2 = 23456789ABCDEF01, K3 = 456789ABCDEF0123.
        let key = "0123456789abcdef23456789abcdef01456789abcdef0123";
        let p = hex("54686520717566636b2062726f776e20666f78206a756d70");
        let c = hex("a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900");
        // CBC with a zero IV turns P1 into C1; feeding P2 ^ C1 and P3 ^ C2
        // makes the chained encryptions E(P2) and E(P3), so the ECB answers
        // hold only if the chaining value is the previous ciphertext block.
        let chained: Vec<u8> = [
            p[..8].to_vec(),
            xor(&p[8..16], &c[..8]),
            xor(&p[16..], &c[8..16]),
        ]
        .concat();
        let k = keys(key, "0000000000000000");
        for chunks in [&[][..], &[8, 8]] {
            assert_eq!(through(&TRIPLE_DES_CBC, &k, true, &chained, chunks), c);
            assert_eq!(through(&TRIPLE_DES_CBC, &k, false, &c, chunks), chained);
        }
    }

    #[test]
    fn blowfish_cbc_known_answer() {
        // Schneier's Blowfish vectors (Eric Young's "chaining mode test
        // data"): a 128-bit key, exactly blowfish-cbc's, IV
        // FEDCBA9876543210, the 29 bytes "7654321 Now is the time for \0"
        // zero-padded to 32.
        let k = keys("0123456789abcdeff0e1d2c3b4a59687", "fedcba9876543210");
        let mut plain = hex("37363534333231204e6f77206973207468652074696d6520666f722000");
        plain.resize(32, 0);
        let ct = hex("6b77b4d63006dee605b156e27403979358deb9e7154616d959f1652bd5ff92cc");
        for chunks in [&[][..], &[8, 16]] {
            assert_eq!(through(&BLOWFISH_CBC, &k, true, &plain, chunks), ct);
            assert_eq!(through(&BLOWFISH_CBC, &k, false, &ct, chunks), plain);
        }
    }

    #[test]
    fn partial_blocks_are_left_alone() {
        let k = keys(
            "2b7e151628aed2a6abf7158809cf4f3c",
            "000102030405060708090a0b0c0d0e0f",
        );
        for encrypt in [true, false] {
            let data: Vec<u8> = (0..37).collect();
            let out = through(&AES128_CBC, &k, encrypt, &data, &[]);
            assert_ne!(out[..32], data[..32]);
            assert_eq!(out[32..], data[32..]);
            // Shorter than a block: untouched, and the chain not advanced.
            let mut s = AES128_CBC.stream(&k, encrypt).unwrap();
            let mut short = [7u8; 15];
            s.apply(&mut short);
            assert_eq!(short, [7; 15]);
            let mut whole = data[..32].to_vec();
            s.apply(&mut whole);
            assert_eq!(whole, out[..32]);
        }
    }
}
