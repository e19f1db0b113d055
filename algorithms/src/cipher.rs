//! Ciphers: the factory trait, the per-direction packet protection the
//! transport calls, and the composition of a non-AEAD cipher with a MAC in
//! both orders (encrypt-and-MAC, RFC 4253 §6.4, and encrypt-then-MAC,
//! OpenSSH's `-etm@openssh.com` MACs).
//!
//! A packet as the transport builds it, before protection:
//!
//! ```text
//! uint32 packet_length | byte padding_length | payload | random padding
//! ```
//!
//! [`PacketSealer::seal`] protects it in place and writes the tag (MAC or
//! AEAD) into a separate slice that follows it on the wire;
//! [`PacketOpener`] does the reverse in two steps, because the length must be
//! known before the rest of the packet can be read.

use crate::{Algorithm, AlgorithmError, CryptoError, Mac, MacInstance};
use alloc::boxed::Box;

pub use crate::kdf::DirectionKeys;

/// A cipher as negotiated in KEXINIT: a factory of per-direction state.
pub trait Cipher: Algorithm {
    /// Key length in bytes.
    fn key_len(&self) -> usize;
    /// IV (or nonce) length in bytes.
    fn iv_len(&self) -> usize;
    /// Block length in bytes: packets are padded to a multiple of it (at
    /// least 8, RFC 4253 §6).
    fn block_len(&self) -> usize;
    /// For an AEAD cipher the tag length; `None` otherwise. An AEAD cipher
    /// replaces the MAC, which is then not negotiated.
    fn aead_tag_len(&self) -> Option<usize> {
        None
    }
    /// How many bytes may be protected under one key before a rekey.
    ///
    /// The default follows RFC 4344 §3.2: 2^(L/4) blocks for an L-bit block
    /// (2^32 blocks for 128-bit blocks, only 2^16 blocks, 512 KiB, for the
    /// 64-bit blocks of 3DES and Blowfish).
    fn rekey_limit_bytes(&self) -> u64 {
        rfc4344_rekey_limit(self.block_len())
    }
    /// Makes the sealing (sending) side. `mac` is the negotiated MAC for a
    /// non-AEAD cipher and `None` for an AEAD one.
    fn new_sealer(
        &self,
        keys: &DirectionKeys,
        mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketSealer>, AlgorithmError>;
    /// Makes the opening (receiving) side.
    fn new_opener(
        &self,
        keys: &DirectionKeys,
        mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketOpener>, AlgorithmError>;
}

/// RFC 4344 §3.2's rekey limit, in bytes, for a cipher with `block_len`-byte
/// blocks: 2^(L/4) blocks where L = 8 * block_len.
#[must_use]
pub const fn rfc4344_rekey_limit(block_len: usize) -> u64 {
    let bits = block_len as u64 * 8;
    let exponent = bits / 4;
    if exponent >= 57 {
        return u64::MAX;
    }
    (1u64 << exponent).saturating_mul(block_len as u64)
}

/// Protects outgoing packets of one direction, in place.
pub trait PacketSealer: Send {
    /// Packets are padded to a multiple of this.
    fn block_len(&self) -> usize;
    /// Whether the length field is handled apart from the rest of the packet
    /// (encrypt-then-MAC, AEAD ciphers): padding then aligns the packet
    /// without its 4-byte length.
    fn separate_length(&self) -> bool;
    /// Bytes of tag (MAC or AEAD) sent after each packet.
    fn tag_len(&self) -> usize;
    /// Protects `packet` (length field included) in place and writes the tag
    /// into `tag`, which is exactly `tag_len()` bytes.
    fn seal(&mut self, sequence_number: u32, packet: &mut [u8], tag: &mut [u8]);
}

/// Opens incoming packets of one direction, in place.
pub trait PacketOpener: Send {
    /// Packets are a multiple of this (without the length field when
    /// [`separate_length`](Self::separate_length) is true).
    fn block_len(&self) -> usize;
    /// See [`PacketSealer::separate_length`].
    fn separate_length(&self) -> bool;
    /// Bytes of tag after each packet.
    fn tag_len(&self) -> usize;
    /// How many leading bytes must have arrived before
    /// [`decrypt_length`](Self::decrypt_length) can tell the length: the
    /// first cipher block when the length is encrypted with it, else 4.
    fn length_bytes_needed(&self) -> usize;
    /// Returns `packet_length` from the first `length_bytes_needed()` bytes.
    /// It may decrypt them in place; [`open`](Self::open) is then given them
    /// as they were left. Nothing from the length is trusted yet: the
    /// transport bounds it before reading on.
    fn decrypt_length(&mut self, sequence_number: u32, head: &mut [u8]) -> u32;
    /// Checks the tag and decrypts the rest of `packet` (the whole packet,
    /// length field included) in place.
    fn open(
        &mut self,
        sequence_number: u32,
        packet: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError>;
}

/// The keystream or block-chaining core of a non-AEAD cipher, for one
/// direction: it encrypts or decrypts (as it was made) consecutive chunks of
/// a multiple of the block length, carrying its state (counter, chaining
/// value) from one call to the next.
pub trait CipherStream: Send {
    /// Transforms `data` in place.
    fn apply(&mut self, data: &mut [u8]);
}

/// Combines a non-AEAD cipher core with a MAC into a [`PacketSealer`],
/// choosing encrypt-and-MAC or encrypt-then-MAC from the MAC.
///
/// Built-in non-AEAD ciphers use this, and so can a user's own cipher: only
/// [`CipherStream`] needs writing.
pub fn stream_sealer<S: CipherStream + 'static>(
    stream: S,
    block_len: usize,
    mac: Option<&dyn Mac>,
    keys: &DirectionKeys,
) -> Result<Box<dyn PacketSealer>, AlgorithmError> {
    let (mac, etm) = keyed_mac(mac, keys)?;
    Ok(Box::new(StreamPacket {
        stream,
        block_len,
        mac,
        etm,
    }))
}

/// The opening twin of [`stream_sealer`].
pub fn stream_opener<S: CipherStream + 'static>(
    stream: S,
    block_len: usize,
    mac: Option<&dyn Mac>,
    keys: &DirectionKeys,
) -> Result<Box<dyn PacketOpener>, AlgorithmError> {
    let (mac, etm) = keyed_mac(mac, keys)?;
    Ok(Box::new(StreamPacket {
        stream,
        block_len,
        mac,
        etm,
    }))
}

fn keyed_mac(
    mac: Option<&dyn Mac>,
    keys: &DirectionKeys,
) -> Result<(Option<Box<dyn MacInstance>>, bool), AlgorithmError> {
    match mac {
        Some(mac) => Ok((Some(mac.new_instance(&keys.mac_key)?), mac.is_etm())),
        None => Ok((None, false)),
    }
}

/// A non-AEAD cipher core plus an optional MAC.
pub(crate) struct StreamPacket<S> {
    stream: S,
    block_len: usize,
    mac: Option<Box<dyn MacInstance>>,
    etm: bool,
}

impl<S> StreamPacket<S> {
    pub(crate) fn new(
        stream: S,
        block_len: usize,
        mac: Option<Box<dyn MacInstance>>,
        etm: bool,
    ) -> Self {
        StreamPacket {
            stream,
            block_len,
            mac,
            etm,
        }
    }

    fn tag_len(&self) -> usize {
        self.mac.as_ref().map_or(0, |m| m.tag_len())
    }
}

impl<S: CipherStream> PacketSealer for StreamPacket<S> {
    fn block_len(&self) -> usize {
        self.block_len
    }
    fn separate_length(&self) -> bool {
        self.etm
    }
    fn tag_len(&self) -> usize {
        StreamPacket::tag_len(self)
    }
    fn seal(&mut self, sequence_number: u32, packet: &mut [u8], tag: &mut [u8]) {
        if self.etm {
            if let Some(body) = packet.get_mut(4..) {
                self.stream.apply(body);
            }
            if let Some(mac) = &mut self.mac {
                mac.compute(sequence_number, packet, tag);
            }
        } else {
            // Encrypt-and-MAC: the MAC covers the plaintext.
            if let Some(mac) = &mut self.mac {
                mac.compute(sequence_number, packet, tag);
            }
            self.stream.apply(packet);
        }
    }
}

impl<S: CipherStream> PacketOpener for StreamPacket<S> {
    fn block_len(&self) -> usize {
        self.block_len
    }
    fn separate_length(&self) -> bool {
        self.etm
    }
    fn tag_len(&self) -> usize {
        StreamPacket::tag_len(self)
    }
    fn length_bytes_needed(&self) -> usize {
        if self.etm { 4 } else { self.block_len.max(4) }
    }
    fn decrypt_length(&mut self, _sequence_number: u32, head: &mut [u8]) -> u32 {
        if !self.etm {
            self.stream.apply(head);
        }
        match head.first_chunk::<4>() {
            Some(len) => u32::from_be_bytes(*len),
            None => 0,
        }
    }
    fn open(
        &mut self,
        sequence_number: u32,
        packet: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        if self.etm {
            // Encrypt-then-MAC: nothing is decrypted before the MAC passed.
            if let Some(mac) = &mut self.mac
                && !mac.verify(sequence_number, packet, tag)
            {
                return Err(CryptoError);
            }
            if let Some(body) = packet.get_mut(4..) {
                self.stream.apply(body);
            }
            Ok(())
        } else {
            let head = self.length_bytes_needed();
            if let Some(rest) = packet.get_mut(head..) {
                self.stream.apply(rest);
            }
            if let Some(mac) = &mut self.mac
                && !mac.verify(sequence_number, packet, tag)
            {
                return Err(CryptoError);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use crate::mac::tests::{TOY_ETM_MAC, TOY_MAC};
    use alloc::vec;
    use alloc::vec::Vec;
    use zeroize::Zeroizing;

    /// A test double: XOR with a running counter, so it is stateful like CTR
    /// and a wrong call order shows up as garbage.
    pub(crate) struct ToyStream(u8);
    impl CipherStream for ToyStream {
        fn apply(&mut self, data: &mut [u8]) {
            for b in data {
                *b ^= self.0;
                self.0 = self.0.wrapping_add(1);
            }
        }
    }

    fn keys() -> DirectionKeys {
        DirectionKeys {
            iv: Zeroizing::new(vec![]),
            key: Zeroizing::new(vec![]),
            mac_key: Zeroizing::new(vec![9; 16]),
        }
    }

    fn packet(payload: &[u8], block: usize, separate: bool) -> Vec<u8> {
        let covered = if separate { 1 } else { 5 } + payload.len();
        let mut pad = block - covered % block;
        if pad < 4 {
            pad += block;
        }
        let len = (1 + payload.len() + pad) as u32;
        let mut p = len.to_be_bytes().to_vec();
        p.push(pad as u8);
        p.extend_from_slice(payload);
        p.extend(core::iter::repeat_n(0xaa, pad));
        p
    }

    fn roundtrip(mac: &dyn Mac) {
        let k = keys();
        let mut sealer = stream_sealer(ToyStream(1), 8, Some(mac), &k).unwrap();
        let mut opener = stream_opener(ToyStream(1), 8, Some(mac), &k).unwrap();
        assert_eq!(sealer.separate_length(), mac.is_etm());
        for (seq, size) in [0usize, 1, 7, 8, 100, 1000].into_iter().enumerate() {
            let seq = seq as u32;
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let plain = packet(&payload, 8, sealer.separate_length());
            let mut wire = plain.clone();
            let mut tag = vec![0; sealer.tag_len()];
            sealer.seal(seq, &mut wire, &mut tag);
            assert_ne!(wire[4..], plain[4..], "body must be transformed");

            let need = opener.length_bytes_needed();
            let len = opener.decrypt_length(seq, &mut wire[..need]);
            assert_eq!(len as usize + 4, plain.len());
            opener.open(seq, &mut wire, &tag).unwrap();
            assert_eq!(wire, plain);
        }
    }

    #[test]
    fn encrypt_and_mac_roundtrip() {
        roundtrip(&TOY_MAC);
    }

    #[test]
    fn encrypt_then_mac_roundtrip() {
        roundtrip(&TOY_ETM_MAC);
    }

    #[test]
    fn any_flipped_bit_fails_the_mac() {
        for mac in [&TOY_MAC as &dyn Mac, &TOY_ETM_MAC] {
            let k = keys();
            let mut sealer = stream_sealer(ToyStream(3), 8, Some(mac), &k).unwrap();
            let plain = packet(b"hello, world", 8, sealer.separate_length());
            let mut wire = plain.clone();
            let mut tag = vec![0; sealer.tag_len()];
            sealer.seal(0, &mut wire, &mut tag);
            let need = 8.min(wire.len());
            for bit in 4 * 8..(wire.len() + tag.len()) * 8 {
                let mut w = wire.clone();
                let mut t = tag.clone();
                let i = bit / 8;
                if i < w.len() {
                    w[i] ^= 1 << (bit % 8);
                } else {
                    t[i - w.len()] ^= 1 << (bit % 8);
                }
                let mut opener = stream_opener(ToyStream(3), 8, Some(mac), &k).unwrap();
                let n = opener.length_bytes_needed().min(need);
                opener.decrypt_length(0, &mut w[..n]);
                assert_eq!(opener.open(0, &mut w, &t), Err(CryptoError), "bit {bit}");
            }
        }
    }

    #[test]
    fn rekey_limits_follow_rfc4344() {
        // 64-bit blocks: 2^16 blocks of 8 bytes.
        assert_eq!(rfc4344_rekey_limit(8), 512 * 1024);
        // 128-bit blocks: 2^32 blocks of 16 bytes.
        assert_eq!(rfc4344_rekey_limit(16), 1 << 36);
        assert_eq!(rfc4344_rekey_limit(64), u64::MAX);
    }
}
