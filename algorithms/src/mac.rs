//! Message authentication codes.

use crate::{Algorithm, AlgorithmError};
use alloc::boxed::Box;
use alloc::vec;
use subtle::ConstantTimeEq;

/// A MAC as negotiated in KEXINIT: a factory of keyed instances.
pub trait Mac: Algorithm {
    /// Key length in bytes.
    fn key_len(&self) -> usize;
    /// Tag length in bytes (after any truncation, e.g. 12 for `-96` MACs).
    fn tag_len(&self) -> usize;
    /// Whether the MAC is computed over the encrypted packet
    /// (`-etm@openssh.com`) rather than the plaintext.
    fn is_etm(&self) -> bool;
    /// Makes a keyed instance.
    fn new_instance(&self, key: &[u8]) -> Result<Box<dyn MacInstance>, AlgorithmError>;
}

/// A keyed MAC for one direction.
pub trait MacInstance: Send {
    /// Tag length in bytes.
    fn tag_len(&self) -> usize;
    /// Computes the tag of `uint32 sequence_number || packet` (RFC 4253
    /// §6.4) into `tag`, which is `tag_len()` bytes.
    fn compute(&mut self, sequence_number: u32, packet: &[u8], tag: &mut [u8]);
    /// Checks a received tag in constant time.
    fn verify(&mut self, sequence_number: u32, packet: &[u8], tag: &[u8]) -> bool {
        let len = self.tag_len();
        if tag.len() != len {
            return false;
        }
        let mut stack = [0u8; 64];
        let mut heap;
        let expected: &mut [u8] = match stack.get_mut(..len) {
            Some(buf) => buf,
            None => {
                heap = vec![0u8; len];
                &mut heap
            }
        };
        self.compute(sequence_number, packet, expected);
        bool::from(expected.ct_eq(tag))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use crate::HashFunction;
    use crate::hash::SHA256;
    use alloc::vec::Vec;

    /// A test double: SHA-256 of key || seq || packet, truncated to 12
    /// bytes. Not a real MAC; it only has to detect changes.
    pub(crate) struct ToyMac {
        etm: bool,
    }
    pub(crate) static TOY_MAC: ToyMac = ToyMac { etm: false };
    pub(crate) static TOY_ETM_MAC: ToyMac = ToyMac { etm: true };

    struct ToyInstance(Vec<u8>);

    impl Algorithm for ToyMac {
        fn name(&self) -> &str {
            if self.etm {
                "toy-etm@sekura.invalid"
            } else {
                "toy@sekura.invalid"
            }
        }
    }
    impl Mac for ToyMac {
        fn key_len(&self) -> usize {
            16
        }
        fn tag_len(&self) -> usize {
            12
        }
        fn is_etm(&self) -> bool {
            self.etm
        }
        fn new_instance(&self, key: &[u8]) -> Result<Box<dyn MacInstance>, AlgorithmError> {
            Ok(Box::new(ToyInstance(key.to_vec())))
        }
    }
    impl MacInstance for ToyInstance {
        fn tag_len(&self) -> usize {
            12
        }
        fn compute(&mut self, seq: u32, packet: &[u8], tag: &mut [u8]) {
            let d = SHA256.digest(&[&self.0, &seq.to_be_bytes(), packet]);
            tag.copy_from_slice(&d[..12]);
        }
    }

    #[test]
    fn default_verify_is_exact() {
        let mut m = TOY_MAC.new_instance(&[1; 16]).unwrap();
        let mut tag = [0; 12];
        m.compute(5, b"data", &mut tag);
        assert!(m.verify(5, b"data", &tag));
        assert!(!m.verify(6, b"data", &tag));
        assert!(!m.verify(5, b"datA", &tag));
        assert!(!m.verify(5, b"data", &tag[..11]));
        let mut bad = tag;
        bad[11] ^= 0x80;
        assert!(!m.verify(5, b"data", &bad));
    }
}
