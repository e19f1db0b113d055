//! The `none` algorithms: the state of a connection before its first
//! NEWKEYS (no cipher, no MAC) and the `none` compression.
//!
//! [`NONE_CIPHER`] and [`NONE_MAC`] protect nothing. They exist for the
//! unencrypted start of every connection and are in no registry: they can
//! never be negotiated unless a user adds them on purpose.

use crate::cipher::{CipherStream, StreamPacket, stream_opener, stream_sealer};
use crate::{
    Algorithm, AlgorithmError, Cipher, Compression, Compressor, Decompressor, DirectionKeys, Mac,
    MacInstance, PacketOpener, PacketSealer,
};
use alloc::boxed::Box;

/// The `none` cipher: packets travel in the clear, padded to 8 bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoneCipher;

/// The `none` cipher.
pub static NONE_CIPHER: NoneCipher = NoneCipher;

struct Identity;

impl CipherStream for Identity {
    fn apply(&mut self, _data: &mut [u8]) {}
}

impl Algorithm for NoneCipher {
    fn name(&self) -> &str {
        "none"
    }
}

impl Cipher for NoneCipher {
    fn key_len(&self) -> usize {
        0
    }
    fn iv_len(&self) -> usize {
        0
    }
    fn block_len(&self) -> usize {
        8
    }
    fn rekey_limit_bytes(&self) -> u64 {
        u64::MAX
    }
    fn new_sealer(
        &self,
        keys: &DirectionKeys,
        mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketSealer>, AlgorithmError> {
        stream_sealer(Identity, 8, mac, keys)
    }
    fn new_opener(
        &self,
        keys: &DirectionKeys,
        mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketOpener>, AlgorithmError> {
        stream_opener(Identity, 8, mac, keys)
    }
}

/// The plaintext packet protection every connection starts with (the
/// `none` cipher and MAC), built without any way to fail.
#[must_use]
pub fn plaintext_sealer() -> Box<dyn PacketSealer> {
    Box::new(StreamPacket::new(Identity, 8, None, false))
}

/// The opening twin of [`plaintext_sealer`].
#[must_use]
pub fn plaintext_opener() -> Box<dyn PacketOpener> {
    Box::new(StreamPacket::new(Identity, 8, None, false))
}

/// The `none` MAC: no tag at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoneMac;

/// The `none` MAC.
pub static NONE_MAC: NoneMac = NoneMac;

struct NoTag;

impl MacInstance for NoTag {
    fn tag_len(&self) -> usize {
        0
    }
    fn compute(&mut self, _sequence_number: u32, _packet: &[u8], _tag: &mut [u8]) {}
}

impl Algorithm for NoneMac {
    fn name(&self) -> &str {
        "none"
    }
}

impl Mac for NoneMac {
    fn key_len(&self) -> usize {
        0
    }
    fn tag_len(&self) -> usize {
        0
    }
    fn is_etm(&self) -> bool {
        false
    }
    fn new_instance(&self, _key: &[u8]) -> Result<Box<dyn MacInstance>, AlgorithmError> {
        Ok(Box::new(NoTag))
    }
}

/// The `none` compression: payloads unchanged. Offered by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoneCompression;

/// The `none` compression.
pub static NONE_COMPRESSION: NoneCompression = NoneCompression;

impl Algorithm for NoneCompression {
    fn name(&self) -> &str {
        "none"
    }
}

impl Compression for NoneCompression {
    fn new_compressor(&self) -> Option<Box<dyn Compressor>> {
        None
    }
    fn new_decompressor(&self) -> Option<Box<dyn Decompressor>> {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn none_cipher_and_mac_leave_packets_as_they_are() {
        let keys = DirectionKeys::default();
        let mut sealer = NONE_CIPHER.new_sealer(&keys, Some(&NONE_MAC)).unwrap();
        let mut opener = NONE_CIPHER.new_opener(&keys, Some(&NONE_MAC)).unwrap();
        assert_eq!(sealer.tag_len(), 0);
        assert_eq!(sealer.block_len(), 8);
        assert!(!sealer.separate_length());
        // packet_length 12, padding 6, payload "hello".
        let mut packet = vec![
            0, 0, 0, 12, 6, b'h', b'e', b'l', b'l', b'o', 0, 0, 0, 0, 0, 0,
        ];
        let plain = packet.clone();
        sealer.seal(0, &mut packet, &mut []);
        assert_eq!(packet, plain);
        assert_eq!(opener.length_bytes_needed(), 8);
        assert_eq!(opener.decrypt_length(0, &mut packet[..8]), 12);
        opener.open(0, &mut packet, &[]).unwrap();
        assert_eq!(packet, plain);
    }

    #[test]
    fn none_compression_is_identity() {
        assert!(NONE_COMPRESSION.new_compressor().is_none());
        assert!(NONE_COMPRESSION.new_decompressor().is_none());
        assert!(!NONE_COMPRESSION.delayed());
        assert_eq!(NONE_COMPRESSION.name(), "none");
    }
}
