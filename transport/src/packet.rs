//! The binary packet protocol (RFC 4253 §6): framing, padding, sequence
//! numbers, and the hand-off to the negotiated [`PacketSealer`] /
//! [`PacketOpener`].
//!
//! Both directions work in place in buffers that are reused: a payload is
//! written straight into the outgoing buffer after a reserved header and
//! sealed there; incoming bytes are decrypted where they landed and the
//! payload handed out as a borrow of that buffer. The steady state allocates
//! nothing per packet.

use alloc::boxed::Box;
use alloc::vec::Vec;
use rand_core::CryptoRng;
use sekura_algorithms::{CryptoError, PacketOpener, PacketSealer};

/// The largest `packet_length` accepted. RFC 4253 §6.1 asks for at least
/// 35000; OpenSSH refuses more than 256 KiB, and so do we, before reading or
/// allocating anything for the packet.
pub const MAX_PACKET_LEN: usize = 256 * 1024;

/// RFC 4253 §6: at least four bytes of random padding.
pub const MIN_PADDING: usize = 4;

/// Why an incoming packet was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// `packet_length` is larger than [`MAX_PACKET_LEN`].
    #[error("packet length {len} exceeds the maximum of {max}")]
    TooLarge {
        /// The length announced.
        len: u32,
        /// The limit.
        max: usize,
    },
    /// `packet_length` is too small or not a multiple of the block length.
    #[error("packet length {len} is not valid for block length {block}")]
    BadLength {
        /// The length announced.
        len: u32,
        /// The cipher's block length.
        block: usize,
    },
    /// `padding_length` is under 4 or leaves no room for the payload.
    #[error("padding length {padding} is not valid in a packet of length {len}")]
    BadPadding {
        /// The padding length announced.
        padding: u8,
        /// The packet length.
        len: u32,
    },
    /// The MAC or AEAD tag did not verify.
    #[error(transparent)]
    Mac(#[from] CryptoError),
}

/// Traffic counted since the keys of a direction were last changed, for the
/// rekey limits of RFC 4253 §9 and RFC 4344.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Packets.
    pub packets: u64,
    /// Bytes on the wire (packet and tag).
    pub bytes: u64,
}

/// How many random bytes for padding are fetched at once: one call of the
/// random number generator (a system call for the OS's) serves many packets.
const PADDING_POOL: usize = 512;

/// The sending half of the packet layer.
pub struct PacketSender {
    sealer: Box<dyn PacketSealer>,
    sequence: u32,
    traffic: Traffic,
    /// Random bytes fetched ahead for padding; each is used once.
    padding_pool: [u8; PADDING_POOL],
    /// How many bytes at the front of `padding_pool` are used up.
    padding_used: usize,
}

/// Where a packet under construction starts in the output buffer.
#[derive(Debug, Clone, Copy)]
#[must_use = "a started packet must be finished"]
pub struct PacketStart(usize);

impl PacketStart {
    /// Where the packet starts in the output buffer (truncating the buffer
    /// there abandons it).
    #[must_use]
    pub fn offset(self) -> usize {
        self.0
    }
}

impl PacketSender {
    /// Starts sending with `sealer` (the `none` cipher at first).
    #[must_use]
    pub fn new(sealer: Box<dyn PacketSealer>) -> Self {
        PacketSender {
            sealer,
            sequence: 0,
            traffic: Traffic::default(),
            padding_pool: [0; PADDING_POOL],
            // Empty: filled on first use, from the caller's generator.
            padding_used: PADDING_POOL,
        }
    }

    /// Switches to new keys (after sending NEWKEYS). The sequence number
    /// carries on unless [`reset_sequence`](Self::reset_sequence) is called.
    pub fn set_sealer(&mut self, sealer: Box<dyn PacketSealer>) {
        self.sealer = sealer;
        self.traffic = Traffic::default();
    }

    /// Resets the sequence number to 0 (strict kex, at each NEWKEYS).
    pub fn reset_sequence(&mut self) {
        self.sequence = 0;
    }

    /// The sequence number of the next packet.
    #[must_use]
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Traffic sent under the current keys.
    #[must_use]
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Reserves the packet header in `out`; the payload is then written
    /// straight after it, and [`finish`](Self::finish) seals the packet.
    pub fn start(&self, out: &mut Vec<u8>) -> PacketStart {
        let start = out.len();
        out.extend_from_slice(&[0; 5]);
        PacketStart(start)
    }

    /// Pads, seals and tags the packet begun at `start`, whose payload is
    /// everything after the header in `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>, start: PacketStart, rng: &mut dyn CryptoRng) {
        let PacketStart(start) = start;
        let payload_len = out.len().saturating_sub(start + 5);
        let block = self.sealer.block_len().max(8);
        // With the length outside the encryption (EtM, AEAD) padding aligns
        // the packet without its 4-byte length field (as OpenSSH does).
        let covered = if self.sealer.separate_length() { 1 } else { 5 } + payload_len;
        let mut padding = block - covered % block;
        if padding < MIN_PADDING {
            padding += block;
        }
        let packet_len = 1 + payload_len + padding;
        let pad_start = out.len();
        out.resize(pad_start + padding, 0);
        if let Some(pad) = out.get_mut(pad_start..) {
            self.random_padding(pad, rng);
        }
        let tag_len = self.sealer.tag_len();
        out.resize(out.len() + tag_len, 0);
        let Some(region) = out.get_mut(start..) else {
            return;
        };
        let (packet, tag) = region.split_at_mut(4 + packet_len);
        if let Some(header) = packet.first_chunk_mut::<5>() {
            // packet_len < MAX_PACKET_LEN + 2 * block, always fits a u32.
            let len = u32::try_from(packet_len).unwrap_or(u32::MAX);
            header[..4].copy_from_slice(&len.to_be_bytes());
            header[4] = padding as u8;
        }
        self.sealer.seal(self.sequence, packet, tag);
        self.sequence = self.sequence.wrapping_add(1);
        self.traffic.packets += 1;
        self.traffic.bytes += (4 + packet_len + tag_len) as u64;
    }

    /// Fills `pad` with random bytes, from the pool (refilled from `rng` when
    /// it runs short) or, for padding larger than the pool, from `rng`.
    fn random_padding(&mut self, pad: &mut [u8], rng: &mut dyn CryptoRng) {
        if pad.len() > PADDING_POOL {
            rng.fill_bytes(pad);
            return;
        }
        if PADDING_POOL - self.padding_used < pad.len() {
            rng.fill_bytes(&mut self.padding_pool);
            self.padding_used = 0;
        }
        let end = self.padding_used + pad.len();
        if let Some(random) = self.padding_pool.get_mut(self.padding_used..end) {
            pad.copy_from_slice(random);
            // Used once: the pool keeps no copy of what was sent.
            random.fill(0);
        }
        self.padding_used = end;
    }

    /// Sends a whole payload (a convenience over start, copy, finish).
    pub fn send(&mut self, payload: &[u8], out: &mut Vec<u8>, rng: &mut dyn CryptoRng) {
        let start = self.start(out);
        out.extend_from_slice(payload);
        self.finish(out, start, rng);
    }
}

/// The receiving half of the packet layer.
pub struct PacketReceiver {
    opener: Box<dyn PacketOpener>,
    sequence: u32,
    traffic: Traffic,
    buf: Vec<u8>,
    /// Bytes at the front of `buf` that belong to packets already handed out.
    consumed: usize,
    /// The length of the packet being read, once its length is decrypted.
    pending_len: Option<usize>,
}

/// One opened packet.
#[derive(Debug)]
pub struct Packet<'a> {
    /// The payload, a borrow of the receive buffer.
    pub payload: &'a [u8],
    /// The packet's sequence number.
    pub sequence: u32,
}

impl PacketReceiver {
    /// Starts receiving with `opener` (the `none` cipher at first).
    #[must_use]
    pub fn new(opener: Box<dyn PacketOpener>) -> Self {
        PacketReceiver {
            opener,
            sequence: 0,
            traffic: Traffic::default(),
            buf: Vec::new(),
            consumed: 0,
            pending_len: None,
        }
    }

    /// Switches to new keys (after receiving NEWKEYS).
    pub fn set_opener(&mut self, opener: Box<dyn PacketOpener>) {
        self.opener = opener;
        self.traffic = Traffic::default();
    }

    /// Resets the sequence number to 0 (strict kex, at each NEWKEYS).
    pub fn reset_sequence(&mut self) {
        self.sequence = 0;
    }

    /// The sequence number of the next packet.
    #[must_use]
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Traffic received under the current keys.
    #[must_use]
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Bytes buffered but not yet handed out as packets.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.consumed
    }

    /// Appends bytes received from the peer.
    pub fn buffer_input(&mut self, data: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(data);
    }

    /// Drops bytes of packets already handed out. Only moves memory when
    /// they are the larger part of the buffer, so a burst of many packets
    /// is not shifted once per packet.
    fn compact(&mut self) {
        if self.consumed == 0 {
            return;
        }
        if self.consumed == self.buf.len() {
            self.buf.clear();
            self.consumed = 0;
        } else if self.consumed * 2 >= self.buf.len() {
            self.buf.drain(..self.consumed);
            self.consumed = 0;
        }
    }

    /// Opens the next complete packet, if one has fully arrived.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, PacketError> {
        let start = self.consumed;
        let available = self.buf.len() - start;
        let packet_len = match self.pending_len {
            Some(len) => len,
            None => {
                let need = self.opener.length_bytes_needed().max(4);
                let Some(head) = self.buf.get_mut(start..start + need) else {
                    return Ok(None);
                };
                let len = self.opener.decrypt_length(self.sequence, head);
                let len = self.check_length(len)?;
                self.pending_len = Some(len);
                len
            }
        };
        let tag_len = self.opener.tag_len();
        let total = 4 + packet_len + tag_len;
        if available < total {
            return Ok(None);
        }
        let sequence = self.sequence;
        let Some(region) = self.buf.get_mut(start..start + total) else {
            return Ok(None);
        };
        let (packet, tag) = region.split_at_mut(4 + packet_len);
        self.opener.open(sequence, packet, tag)?;
        self.pending_len = None;
        self.sequence = self.sequence.wrapping_add(1);
        self.traffic.packets += 1;
        self.traffic.bytes += total as u64;
        self.consumed = start + total;

        let padding = packet.get(4).copied().unwrap_or(0);
        let len32 = packet_len as u32;
        let payload_end = packet_len
            .checked_sub(usize::from(padding))
            .filter(|_| usize::from(padding) >= MIN_PADDING)
            .filter(|&end| end >= 1)
            .ok_or(PacketError::BadPadding {
                padding,
                len: len32,
            })?;
        let payload = packet
            .get(5..4 + payload_end)
            .ok_or(PacketError::BadPadding {
                padding,
                len: len32,
            })?;
        Ok(Some(Packet { payload, sequence }))
    }

    fn check_length(&self, len: u32) -> Result<usize, PacketError> {
        let block = self.opener.block_len().max(8);
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        if len_usize > MAX_PACKET_LEN {
            return Err(PacketError::TooLarge {
                len,
                max: MAX_PACKET_LEN,
            });
        }
        let aligned = if self.opener.separate_length() {
            len_usize % block == 0
        } else {
            (len_usize + 4) % block == 0
        };
        // padding_length byte + at least 4 bytes of padding.
        if len_usize < 1 + MIN_PADDING || !aligned {
            return Err(PacketError::BadLength { len, block });
        }
        Ok(len_usize)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;
    use sekura_algorithms::none::{NONE_CIPHER, NONE_MAC};
    use sekura_algorithms::{Cipher, DirectionKeys};

    /// A deterministic RNG for tests (xorshift); not for real use.
    pub(crate) struct TestRng(pub u64);
    impl rand_core::TryRng for TestRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            Ok(self.0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for b in dst {
                *b = self.try_next_u64()? as u8;
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for TestRng {}

    fn none_pair() -> (PacketSender, PacketReceiver) {
        let keys = DirectionKeys::default();
        (
            PacketSender::new(NONE_CIPHER.new_sealer(&keys, Some(&NONE_MAC)).unwrap()),
            PacketReceiver::new(NONE_CIPHER.new_opener(&keys, Some(&NONE_MAC)).unwrap()),
        )
    }

    #[test]
    fn frames_pad_and_number_packets() {
        let (mut tx, mut rx) = none_pair();
        let mut rng = TestRng(1);
        let mut wire = Vec::new();
        for size in [0usize, 1, 2, 3, 4, 11, 12, 100, 35000] {
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            wire.clear();
            tx.send(&payload, &mut wire, &mut rng);
            let padding = wire[4] as usize;
            assert!(padding >= MIN_PADDING, "size {size}");
            assert_eq!(wire.len() % 8, 0, "size {size}");
            assert_eq!(
                u32::from_be_bytes(wire[..4].try_into().unwrap()) as usize,
                wire.len() - 4
            );
            rx.buffer_input(&wire);
            let p = rx.next_packet().unwrap().unwrap();
            assert_eq!(p.payload, payload.as_slice());
        }
        assert_eq!(tx.sequence(), 9);
        assert_eq!(rx.sequence(), 9);
        assert_eq!(rx.buffered(), 0);
    }

    #[test]
    fn byte_by_byte_and_bursts() {
        let (mut tx, mut rx) = none_pair();
        let mut rng = TestRng(7);
        let mut wire = Vec::new();
        for i in 0..50u8 {
            tx.send(&[i; 37], &mut wire, &mut rng);
        }
        // Half the stream one byte at a time, the rest in one burst.
        let half = wire.len() / 2;
        let mut got = Vec::new();
        for b in &wire[..half] {
            rx.buffer_input(core::slice::from_ref(b));
            while let Some(p) = rx.next_packet().unwrap() {
                got.push(p.payload.to_vec());
            }
        }
        rx.buffer_input(&wire[half..]);
        while let Some(p) = rx.next_packet().unwrap() {
            got.push(p.payload.to_vec());
        }
        assert_eq!(got.len(), 50);
        for (i, p) in got.iter().enumerate() {
            assert_eq!(p, &vec![i as u8; 37]);
        }
    }

    #[test]
    fn hostile_lengths_are_refused_before_buffering() {
        let (_, mut rx) = none_pair();
        rx.buffer_input(&[0xff, 0xff, 0xff, 0xf0, 4, 0, 0, 0]);
        assert!(matches!(
            rx.next_packet(),
            Err(PacketError::TooLarge { .. })
        ));

        let (_, mut rx) = none_pair();
        rx.buffer_input(&[0, 0, 0, 3, 1, 0, 0, 0]);
        assert!(matches!(
            rx.next_packet(),
            Err(PacketError::BadLength { .. })
        ));

        // Not a multiple of the block length.
        let (_, mut rx) = none_pair();
        rx.buffer_input(&[0, 0, 0, 13, 4, 0, 0, 0]);
        assert!(matches!(
            rx.next_packet(),
            Err(PacketError::BadLength { .. })
        ));

        // Padding larger than the packet.
        let (_, mut rx) = none_pair();
        rx.buffer_input(&[0, 0, 0, 12, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            rx.next_packet(),
            Err(PacketError::BadPadding { .. })
        ));

        // Padding under 4 bytes.
        let (_, mut rx) = none_pair();
        rx.buffer_input(&[0, 0, 0, 12, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            rx.next_packet(),
            Err(PacketError::BadPadding { .. })
        ));
    }

    #[test]
    fn sequence_numbers_wrap_and_reset() {
        let (mut tx, mut rx) = none_pair();
        tx.sequence = u32::MAX;
        rx.sequence = u32::MAX;
        let mut rng = TestRng(3);
        let mut wire = Vec::new();
        tx.send(b"a", &mut wire, &mut rng);
        tx.send(b"b", &mut wire, &mut rng);
        rx.buffer_input(&wire);
        assert_eq!(rx.next_packet().unwrap().unwrap().sequence, u32::MAX);
        assert_eq!(rx.next_packet().unwrap().unwrap().sequence, 0);
        tx.reset_sequence();
        assert_eq!(tx.sequence(), 0);
        assert_eq!(rx.traffic().packets, 2);
    }
}
