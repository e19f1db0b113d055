//! Built-in compression methods: `zlib` (RFC 4253 §6.2) and OpenSSH's
//! delayed `zlib@openssh.com`, besides [`none`](crate::none::NONE_COMPRESSION).
//!
//! Both zlib methods are one zlib stream (RFC 1950/1951) per direction that
//! lives as long as the keys do: every payload is compressed and ended with a
//! partial flush (`Z_PARTIAL_FLUSH`, as OpenSSH does) so the peer can
//! inflate it on arrival, while the dictionary carries over to the next
//! payload. They differ only in when they start: `zlib` at NEWKEYS,
//! `zlib@openssh.com` after user authentication succeeds (OpenSSH's
//! PROTOCOL §1.2), so that no unauthenticated peer reaches the inflater.
//!
//! zlib comes from `flate2`, which needs `std`: without the `std` feature
//! only `none` is built in.

use crate::Compression;
use crate::none::NONE_COMPRESSION;

#[cfg(feature = "std")]
pub use self::zlib::{ZLIB, ZLIB_OPENSSH, Zlib};

/// Compression methods offered by default, most preferred first: OpenSSH's
/// `KEX_DEFAULT_COMP`, `none,zlib@openssh.com`.
#[cfg(feature = "std")]
pub static DEFAULT: &[&dyn Compression] = &[&NONE_COMPRESSION, &ZLIB_OPENSSH];
/// Compression methods offered by default: only `none` without `std`.
#[cfg(not(feature = "std"))]
pub static DEFAULT: &[&dyn Compression] = &[&NONE_COMPRESSION];

/// Compression methods offered only on request: plain `zlib`, which
/// inflates data from a peer that has not authenticated yet.
#[cfg(feature = "std")]
pub static LEGACY: &[&dyn Compression] = &[&ZLIB];
/// Compression methods offered only on request: none without `std`.
#[cfg(not(feature = "std"))]
pub static LEGACY: &[&dyn Compression] = &[];

#[cfg(feature = "std")]
mod zlib {
    use crate::{Algorithm, AlgorithmError, Compression, Compressor, Decompressor};
    use alloc::boxed::Box;
    use alloc::vec::Vec;
    use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

    /// `zlib` (RFC 4253 §6.2): compression from NEWKEYS on.
    pub static ZLIB: Zlib = Zlib::new("zlib", false);
    /// `zlib@openssh.com`: compression from the end of user authentication
    /// on.
    pub static ZLIB_OPENSSH: Zlib = Zlib::new("zlib@openssh.com", true);

    /// OpenSSH compresses at zlib's default level (`packet.c`,
    /// `start_compression_out(ssh, 6)`).
    const LEVEL: u32 = 6;

    /// Output is inflated in pieces of at most this many bytes, each checked
    /// against the limit before the next is made.
    const INFLATE_CHUNK: usize = 8 * 1024;

    /// A zlib compression method.
    #[derive(Debug, Clone, Copy)]
    pub struct Zlib {
        name: &'static str,
        delayed: bool,
    }

    impl Zlib {
        /// A zlib method called `name`, starting after user authentication
        /// when `delayed`.
        #[must_use]
        pub const fn new(name: &'static str, delayed: bool) -> Self {
            Zlib { name, delayed }
        }
    }

    impl Algorithm for Zlib {
        fn name(&self) -> &str {
            self.name
        }
    }

    impl Compression for Zlib {
        fn delayed(&self) -> bool {
            self.delayed
        }

        fn new_compressor(&self) -> Option<Box<dyn Compressor>> {
            Some(Box::new(ZlibCompressor {
                stream: Compress::new(flate2::Compression::new(LEVEL), true),
            }))
        }

        fn new_decompressor(&self) -> Option<Box<dyn Decompressor>> {
            Some(Box::new(ZlibDecompressor {
                stream: Decompress::new(true),
            }))
        }
    }

    struct ZlibCompressor {
        stream: Compress,
    }

    /// How far a stream counter moved, as a length. It moved by at most the
    /// length of a slice, so the conversion cannot fail in practice; a
    /// failure reads as "everything", which ends the caller's loop.
    fn advanced(before: u64, after: u64) -> usize {
        usize::try_from(after.wrapping_sub(before)).unwrap_or(usize::MAX)
    }

    impl Compressor for ZlibCompressor {
        fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), AlgorithmError> {
            let start = out.len();
            let mut rest = input;
            loop {
                // Deflate grows incompressible data by a few bytes per
                // stored block; this room is enough for one pass nearly
                // always, and the loop handles the rest.
                let room = rest.len() + rest.len() / 8 + 64;
                out.reserve(room);
                let spare = out.capacity() - out.len();
                let in_before = self.stream.total_in();
                let out_before = self.stream.total_out();
                let status = self.stream.compress_vec(rest, out, FlushCompress::Partial);
                let consumed = advanced(in_before, self.stream.total_in());
                let written = advanced(out_before, self.stream.total_out());
                match status {
                    Ok(Status::Ok | Status::BufError) => {}
                    Ok(Status::StreamEnd) | Err(_) => {
                        out.truncate(start);
                        return Err(AlgorithmError::Compression(
                            "deflate failed: the zlib stream is no longer usable",
                        ));
                    }
                }
                rest = rest.get(consumed..).unwrap_or_default();
                // Done once all input is in and the flush fitted with room
                // to spare (a full buffer may hide more pending output).
                if rest.is_empty() && written < spare {
                    return Ok(());
                }
                if consumed == 0 && written == 0 {
                    out.truncate(start);
                    return Err(AlgorithmError::Compression(
                        "deflate made no progress with input and output room left",
                    ));
                }
            }
        }
    }

    struct ZlibDecompressor {
        stream: Decompress,
    }

    impl Decompressor for ZlibDecompressor {
        /// Inflates `input` onto `out`. `max_len` bounds the bytes this call
        /// appends; the output grows in small steps, each checked, so `out`
        /// never holds (or reserves) more than `max_len + 1` new bytes
        /// whatever the input claims. On error `out` is left as it was.
        fn decompress(
            &mut self,
            input: &[u8],
            out: &mut Vec<u8>,
            max_len: usize,
        ) -> Result<(), AlgorithmError> {
            let start = out.len();
            // One byte past the limit is allowed in so that "exactly
            // max_len" and "more than max_len" can be told apart.
            let ceiling = start.saturating_add(max_len).saturating_add(1);
            let mut rest = input;
            loop {
                let at = out.len();
                let chunk = ceiling.saturating_sub(at).min(INFLATE_CHUNK);
                grow_within(out, at + chunk, ceiling);
                out.resize(at + chunk, 0);
                let in_before = self.stream.total_in();
                let out_before = self.stream.total_out();
                let buf = out.get_mut(at..).unwrap_or_default();
                // The flush mode is only a hint to inflate; OpenSSH passes
                // Z_PARTIAL_FLUSH, which zlib treats as no flush at all.
                let status = self.stream.decompress(rest, buf, FlushDecompress::None);
                let consumed = advanced(in_before, self.stream.total_in());
                let written = advanced(out_before, self.stream.total_out()).min(chunk);
                out.truncate(at + written);

                let failure = match status {
                    // BufError: nothing more can be done with this input.
                    Ok(Status::Ok | Status::BufError) => None,
                    // OpenSSH, too, refuses a stream that ends: the peer
                    // can never send anything compressed again.
                    Ok(Status::StreamEnd) => Some("the peer ended its zlib stream"),
                    Err(_) => Some("corrupt zlib data"),
                };
                let failure = failure.or_else(|| {
                    (out.len() - start > max_len)
                        .then_some("payload inflates to more than the packet size limit")
                });
                if let Some(reason) = failure {
                    out.truncate(start);
                    return Err(AlgorithmError::Compression(reason));
                }

                rest = rest.get(consumed..).unwrap_or_default();
                if rest.is_empty() && written < chunk {
                    return Ok(());
                }
                if consumed == 0 && written == 0 {
                    if rest.is_empty() {
                        return Ok(());
                    }
                    out.truncate(start);
                    return Err(AlgorithmError::Compression(
                        "inflate made no progress with input and output room left",
                    ));
                }
            }
        }
    }

    /// Makes room for `needed` bytes in `out`, growing geometrically (so a
    /// large payload costs few reallocations) but never past `ceiling`, which
    /// `Vec`'s own doubling could otherwise overshoot by nearly 2x.
    fn grow_within(out: &mut Vec<u8>, needed: usize, ceiling: usize) {
        if out.capacity() >= needed {
            return;
        }
        let target = out
            .capacity()
            .saturating_mul(2)
            .max(needed)
            .min(ceiling.max(needed));
        out.reserve_exact(target - out.len());
    }

    #[cfg(test)]
    #[allow(clippy::unwrap_used, clippy::indexing_slicing)]
    mod tests {
        use super::*;
        use alloc::vec;

        /// RFC 4253 §6.1: 32768 bytes of uncompressed payload, 35000 bytes
        /// of packet; a transport allows a little over that.
        const MAX: usize = 35_000 + 5_000;

        fn pair() -> (Box<dyn Compressor>, Box<dyn Decompressor>) {
            (
                ZLIB.new_compressor().unwrap(),
                ZLIB.new_decompressor().unwrap(),
            )
        }

        /// Small xorshift generator: reproducible test data.
        struct Rng(u64);
        impl Rng {
            fn next(&mut self) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0
            }
            fn bytes(&mut self, n: usize) -> Vec<u8> {
                (0..n).map(|_| self.next() as u8).collect()
            }
        }

        #[test]
        fn names_and_timing() {
            assert_eq!(ZLIB.name(), "zlib");
            assert!(!ZLIB.delayed());
            assert_eq!(ZLIB_OPENSSH.name(), "zlib@openssh.com");
            assert!(ZLIB_OPENSSH.delayed());
            fn names(list: &[&'static dyn Compression]) -> Vec<&'static str> {
                list.iter().map(|c| c.name()).collect()
            }
            assert_eq!(names(super::super::DEFAULT), ["none", "zlib@openssh.com"]);
            assert_eq!(names(super::super::LEGACY), ["zlib"]);
        }

        #[test]
        fn packets_round_trip_through_one_stream() {
            let (mut c, mut d) = pair();
            let mut rng = Rng(0x5eed);
            let text = b"SSH_MSG_CHANNEL_DATA: the quick brown fox jumps over the lazy dog\n";
            let mut wire = Vec::new();
            let mut plain = Vec::new();
            for i in 0..300usize {
                let payload = match i % 5 {
                    0 => text.repeat(1 + i % 7),
                    1 => rng.bytes(i * 3 % 1500 + 1),
                    2 => vec![94; i + 1],
                    3 => rng.bytes(32_768),
                    _ => text[..1 + i % text.len()].to_vec(),
                };
                wire.clear();
                c.compress(&payload, &mut wire).unwrap();
                // Each packet inflates completely on its own, at once.
                plain.clear();
                d.decompress(&wire, &mut plain, MAX).unwrap();
                assert_eq!(plain, payload, "packet {i}");
            }
        }

        #[test]
        fn the_dictionary_spans_packets() {
            let (mut c, mut d) = pair();
            let payload = b"\x5e\x00\x00\x00\x00\x00\x00\x00\x2dhello, sekura! hello, sekura! \
                            hello, sekura! and something less repetitive 0123456789";
            let (mut first, mut second) = (Vec::new(), Vec::new());
            c.compress(payload, &mut first).unwrap();
            c.compress(payload, &mut second).unwrap();
            // The second copy is a back-reference into the first.
            assert!(
                second.len() * 3 < first.len(),
                "{} vs {}",
                second.len(),
                first.len()
            );
            let mut out = Vec::new();
            d.decompress(&first, &mut out, MAX).unwrap();
            d.decompress(&second, &mut out, MAX).unwrap();
            assert_eq!(out, [&payload[..], &payload[..]].concat());
            // A fresh decompressor cannot make sense of the second packet
            // alone: it lacks the zlib header and the dictionary.
            let mut fresh = ZLIB.new_decompressor().unwrap();
            assert!(fresh.decompress(&second, &mut Vec::new(), MAX).is_err());
        }

        #[test]
        fn appends_after_what_out_already_holds() {
            let (mut c, mut d) = pair();
            let mut wire = b"prefix".to_vec();
            c.compress(b"payload payload payload", &mut wire).unwrap();
            let mut out = b"kept".to_vec();
            d.decompress(&wire[6..], &mut out, 23).unwrap();
            assert_eq!(out, b"keptpayload payload payload");
            assert_eq!(&wire[..6], b"prefix");
        }

        #[test]
        fn exactly_max_len_is_allowed_one_more_is_not() {
            let payload = vec![b'x'; 1000];
            let (mut c, mut d) = pair();
            let mut wire = Vec::new();
            c.compress(&payload, &mut wire).unwrap();
            let mut out = Vec::new();
            d.decompress(&wire, &mut out, 1000).unwrap();
            assert_eq!(out, payload);

            let (mut c, mut d) = pair();
            let mut wire = Vec::new();
            c.compress(&payload, &mut wire).unwrap();
            let mut out = b"old".to_vec();
            let err = d.decompress(&wire, &mut out, 999).unwrap_err();
            assert!(matches!(err, AlgorithmError::Compression(_)), "{err:?}");
            assert_eq!(out, b"old", "output restored on error");
        }

        #[test]
        fn decompression_bomb_is_stopped_at_max_len() {
            // 10 MiB of zeros deflates to about 10 KiB: one packet's worth.
            let bomb_plain = vec![0u8; 10 << 20];
            let mut c = ZLIB.new_compressor().unwrap();
            let mut bomb = Vec::new();
            c.compress(&bomb_plain, &mut bomb).unwrap();
            drop(bomb_plain);
            assert!(bomb.len() < 35_000, "bomb is {} bytes", bomb.len());

            let mut d = ZLIB.new_decompressor().unwrap();
            let mut out = Vec::new();
            let err = d.decompress(&bomb, &mut out, MAX).unwrap_err();
            assert_eq!(
                err,
                AlgorithmError::Compression("payload inflates to more than the packet size limit")
            );
            assert!(out.is_empty());
            // Never more than the limit (plus the one-byte probe) was
            // reserved, let alone 10 MiB.
            assert!(out.capacity() <= MAX + 1, "capacity {}", out.capacity());
        }

        #[test]
        fn garbage_is_an_error_not_a_panic() {
            let mut d = ZLIB.new_decompressor().unwrap();
            // Not a zlib header (CM must be 8, the header a multiple of 31).
            let err = d.decompress(&[0xff; 64], &mut Vec::new(), MAX).unwrap_err();
            assert!(matches!(err, AlgorithmError::Compression(_)));

            // A valid header, then a block of the reserved type 3.
            let mut d = ZLIB.new_decompressor().unwrap();
            let err = d
                .decompress(&[0x78, 0x9c, 0xff, 0xff, 0xff], &mut Vec::new(), MAX)
                .unwrap_err();
            assert!(matches!(err, AlgorithmError::Compression(_)));

            // A stored block whose LEN and NLEN disagree.
            let mut d = ZLIB.new_decompressor().unwrap();
            let bad_stored = [0x78, 0x9c, 0x00, 0x05, 0x00, 0x05, 0x00, b'a'];
            assert!(d.decompress(&bad_stored, &mut Vec::new(), MAX).is_err());

            // Random bytes after a valid header, and random corruption of a
            // valid stream: any outcome but a panic or an oversized output.
            let mut rng = Rng(7);
            for round in 0..500 {
                let mut d = ZLIB.new_decompressor().unwrap();
                let mut input = vec![0x78, 0x9c];
                input.extend(rng.bytes(round % 200 + 1));
                let mut out = Vec::new();
                if d.decompress(&input, &mut out, 4096).is_ok() {
                    assert!(out.len() <= 4096);
                }
            }
            let (mut c, _) = pair();
            let mut good = Vec::new();
            c.compress(
                &b"some text to corrupt, some text to corrupt".repeat(20),
                &mut good,
            )
            .unwrap();
            for round in 0..500 {
                let mut d = ZLIB.new_decompressor().unwrap();
                let mut input = good.clone();
                let at = (rng.next() as usize) % input.len();
                input[at] ^= 1 << (round % 8);
                let mut out = Vec::new();
                if d.decompress(&input, &mut out, 4096).is_ok() {
                    assert!(out.len() <= 4096);
                }
            }
        }

        #[test]
        fn a_broken_stream_stays_broken() {
            let mut d = ZLIB.new_decompressor().unwrap();
            assert!(d.decompress(&[0xff; 8], &mut Vec::new(), MAX).is_err());
            // Even a valid stream is refused afterwards: the state is gone.
            let (mut c, _) = pair();
            let mut good = Vec::new();
            c.compress(b"hello", &mut good).unwrap();
            assert!(d.decompress(&good, &mut Vec::new(), MAX).is_err());
        }

        #[test]
        fn a_stream_end_is_refused() {
            // zlib.compress(b"hello") in Python: a complete, finished stream.
            let finished = [
                0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x06, 0x2c, 0x02, 0x15,
            ];
            let mut d = ZLIB.new_decompressor().unwrap();
            let err = d.decompress(&finished, &mut Vec::new(), MAX).unwrap_err();
            assert_eq!(
                err,
                AlgorithmError::Compression("the peer ended its zlib stream")
            );
        }

        /// Three payloads compressed by the reference zlib (1.2.13) the way
        /// OpenSSH does it: one stream at level 6, each payload followed by
        /// Z_PARTIAL_FLUSH. Made with
        ///
        /// ```text
        /// python3 -c "import zlib; c = zlib.compressobj(6)
        /// p1 = b'\x5e' + bytes(4) + bytes([0, 0, 0, 0x2d]) + b'hello, sekura! ' * 2 + b'hello, sekura!\n'
        /// for p in (p1, p1, b'\x02\x00\x00\x00\x40' + b'z' * 64):
        ///     print((c.compress(p) + c.flush(zlib.Z_PARTIAL_FLUSH)).hex())"
        /// ```
        const ZLIB_PACKETS: [&str; 3] = [
            "789c8a638000dd8cd49c9c7c1d85e2d4ecd2a2444505bc5c2e8000",
            "8a234b1740",
            "00310175385451080002",
        ];

        fn unhex(s: &str) -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        }

        #[test]
        fn inflates_what_reference_zlib_deflates_with_partial_flush() {
            let p1 = [
                &[0x5e, 0, 0, 0, 0, 0, 0, 0, 0x2d][..],
                b"hello, sekura! hello, sekura! hello, sekura!\n",
            ]
            .concat();
            let p3 = [&[0x02, 0, 0, 0, 0x40][..], &[b'z'; 64]].concat();
            let mut d = ZLIB_OPENSSH.new_decompressor().unwrap();
            for (packet, expected) in ZLIB_PACKETS.iter().zip([&p1, &p1, &p3]) {
                let mut out = Vec::new();
                d.decompress(&unhex(packet), &mut out, MAX).unwrap();
                assert_eq!(&out, expected);
            }
        }

        #[test]
        fn empty_payload_round_trips() {
            let (mut c, mut d) = pair();
            let mut wire = Vec::new();
            c.compress(b"", &mut wire).unwrap();
            let mut out = Vec::new();
            d.decompress(&wire, &mut out, MAX).unwrap();
            assert!(out.is_empty());
            wire.clear();
            c.compress(b"after", &mut wire).unwrap();
            d.decompress(&wire, &mut out, MAX).unwrap();
            assert_eq!(out, b"after");
        }
    }
}

#[cfg(all(test, not(feature = "std")))]
mod tests {
    use super::*;
    use crate::Algorithm;

    #[test]
    fn only_none_without_std() {
        assert_eq!(DEFAULT.len(), 1);
        assert_eq!(DEFAULT[0].name(), "none");
        assert!(LEGACY.is_empty());
    }
}
