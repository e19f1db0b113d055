//! `mpint`: multiple precision integers in two's complement (RFC 4251 §5).

use alloc::borrow::Cow;
use alloc::vec::Vec;

/// A multiple precision integer as SSH puts it on the wire: two's complement,
/// big-endian, most significant byte first; zero is the empty string.
///
/// `Mpint` keeps the wire bytes (borrowed when decoded) and converts on
/// request, so decoding never does arithmetic on hostile input.
///
/// ```
/// use sekura_proto::Mpint;
///
/// // The RFC 4251 §5 examples.
/// assert_eq!(Mpint::from_i64(0).as_twos_complement(), b"");
/// assert_eq!(Mpint::from_i64(0x80).as_twos_complement(), [0x00, 0x80]);
/// assert_eq!(Mpint::from_i64(-0x1234).as_twos_complement(), [0xed, 0xcc]);
/// assert_eq!(Mpint::from_i64(-0xdeadbeef).as_twos_complement(), [0xff, 0x21, 0x52, 0x41, 0x11]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mpint<'a> {
    bytes: Cow<'a, [u8]>,
}

impl<'a> Mpint<'a> {
    /// Wraps bytes exactly as they were received. Non-minimal encodings
    /// (redundant leading 0x00 or 0xff bytes) are kept as they are; the
    /// accessors below interpret them correctly.
    #[must_use]
    pub fn from_wire(bytes: &'a [u8]) -> Self {
        Mpint {
            bytes: Cow::Borrowed(bytes),
        }
    }

    /// Makes the minimal encoding of a non-negative integer given as
    /// unsigned big-endian bytes (leading zeros allowed).
    #[must_use]
    pub fn from_unsigned(magnitude: &[u8]) -> Mpint<'static> {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let digits = magnitude.get(start..).unwrap_or_default();
        let mut bytes = Vec::with_capacity(digits.len() + 1);
        if digits.first().is_some_and(|&b| b & 0x80 != 0) {
            bytes.push(0);
        }
        bytes.extend_from_slice(digits);
        Mpint {
            bytes: Cow::Owned(bytes),
        }
    }

    /// Makes the minimal encoding of a signed 64-bit integer.
    #[must_use]
    pub fn from_i64(v: i64) -> Mpint<'static> {
        let full = v.to_be_bytes();
        // Drop leading bytes that only repeat the sign: 0x00 followed by a
        // byte with the top bit clear, or 0xff followed by one with it set.
        let mut start = 0;
        while let (Some(&b), Some(&next)) = (full.get(start), full.get(start + 1)) {
            let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
            if !redundant {
                break;
            }
            start += 1;
        }
        let bytes = if v == 0 {
            Vec::new()
        } else {
            full.get(start..).unwrap_or_default().to_vec()
        };
        Mpint {
            bytes: Cow::Owned(bytes),
        }
    }

    /// The two's complement bytes, as they go on the wire.
    #[must_use]
    pub fn as_twos_complement(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the value is below zero.
    #[must_use]
    pub fn is_negative(&self) -> bool {
        self.bytes.first().is_some_and(|&b| b & 0x80 != 0)
    }

    /// Whether the value is zero.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0)
    }

    /// The magnitude of a non-negative value as unsigned big-endian bytes
    /// without leading zeros (empty for zero), or `None` for a negative
    /// value. Key-exchange values and RSA/DSA parameters are read this way.
    #[must_use]
    pub fn as_unsigned(&self) -> Option<&[u8]> {
        if self.is_negative() {
            return None;
        }
        let start = self
            .bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(self.bytes.len());
        self.bytes.get(start..)
    }

    /// The value as an `i64`, or `None` when it does not fit.
    #[must_use]
    pub fn to_i64(&self) -> Option<i64> {
        let negative = self.is_negative();
        let fill = if negative { 0xff } else { 0x00 };
        // Skip redundant sign bytes, then at most 8 bytes may remain.
        let start = self
            .bytes
            .iter()
            .position(|&b| b != fill)
            .unwrap_or(self.bytes.len());
        let significant = self.bytes.get(start..)?;
        // Keep one sign byte when the significant part would read with the
        // wrong sign.
        let needs_sign = significant
            .first()
            .is_some_and(|&b| (b & 0x80 != 0) != negative);
        if significant.len() + usize::from(needs_sign) > 8 {
            return None;
        }
        let mut buf = [fill; 8];
        let offset = 8 - significant.len();
        buf.get_mut(offset..)?.copy_from_slice(significant);
        Some(i64::from_be_bytes(buf))
    }

    /// Copies borrowed bytes so the value outlives its input.
    #[must_use]
    pub fn into_owned(self) -> Mpint<'static> {
        Mpint {
            bytes: Cow::Owned(self.bytes.into_owned()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::{Reader, Writer};

    /// Every example of RFC 4251 §5, both directions.
    const RFC4251_EXAMPLES: &[(i64, &[u8])] = &[
        (0, b"\x00\x00\x00\x00"),
        (
            0x9a378f9b2e332a7,
            b"\x00\x00\x00\x08\x09\xa3\x78\xf9\xb2\xe3\x32\xa7",
        ),
        (0x80, b"\x00\x00\x00\x02\x00\x80"),
        (-0x1234, b"\x00\x00\x00\x02\xed\xcc"),
        (-0xdeadbeef, b"\x00\x00\x00\x05\xff\x21\x52\x41\x11"),
    ];

    #[test]
    fn rfc4251_examples_encode() {
        for &(value, wire) in RFC4251_EXAMPLES {
            let mut out = Vec::new();
            out.put_mpint(&Mpint::from_i64(value));
            assert_eq!(out, wire, "encoding {value:#x}");
        }
    }

    #[test]
    fn rfc4251_examples_decode() {
        for &(value, wire) in RFC4251_EXAMPLES {
            let mut r = Reader::new(wire);
            let m = r.mpint().unwrap();
            r.finish().unwrap();
            assert_eq!(m.to_i64(), Some(value), "decoding {value:#x}");
            assert_eq!(m.is_negative(), value < 0);
            assert_eq!(m.is_zero(), value == 0);
        }
    }

    #[test]
    fn unsigned_writer_matches_owned_encoding() {
        let cases: &[&[u8]] = &[
            b"",
            b"\x00",
            b"\x00\x00\x80",
            b"\x7f",
            b"\xff\x01",
            b"\x00\x01\x00",
        ];
        for &magnitude in cases {
            let mut direct = Vec::new();
            direct.put_mpint_unsigned(magnitude);
            let mut via = Vec::new();
            via.put_mpint(&Mpint::from_unsigned(magnitude));
            assert_eq!(direct, via, "{magnitude:02x?}");
            let mut r = Reader::new(&direct);
            let m = r.mpint().unwrap();
            let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
            assert_eq!(m.as_unsigned(), Some(trimmed.as_slice()));
        }
    }

    #[test]
    fn non_minimal_wire_forms_read_correctly() {
        assert_eq!(Mpint::from_wire(b"\x00\x00\x05").to_i64(), Some(5));
        assert_eq!(Mpint::from_wire(b"\xff\xff\xfe").to_i64(), Some(-2));
        assert_eq!(
            Mpint::from_wire(b"\x00\x00\x05").as_unsigned(),
            Some(&b"\x05"[..])
        );
        assert_eq!(Mpint::from_wire(b"\xff").as_unsigned(), None);
    }

    #[test]
    fn extremes_of_i64() {
        for v in [
            i64::MIN,
            i64::MIN + 1,
            -1,
            1,
            i64::MAX,
            127,
            128,
            -128,
            -129,
        ] {
            assert_eq!(Mpint::from_i64(v).to_i64(), Some(v), "{v}");
        }
        assert_eq!(
            Mpint::from_wire(b"\x00\x80\x00\x00\x00\x00\x00\x00\x00").to_i64(),
            None
        );
        assert_eq!(
            Mpint::from_wire(b"\x01\x00\x00\x00\x00\x00\x00\x00\x00").to_i64(),
            None
        );
    }

    proptest::proptest! {
        #[test]
        fn i64_roundtrip(v: i64) {
            let m = Mpint::from_i64(v);
            let mut out = Vec::new();
            out.put_mpint(&m);
            let mut r = Reader::new(&out);
            let back = r.mpint().unwrap();
            proptest::prop_assert_eq!(back.to_i64(), Some(v));
            proptest::prop_assert_eq!(back, m);
        }
    }
}
