//! The data types of RFC 4251 §5: reading them from a borrowed buffer and
//! writing them to anything that accepts bytes.

use crate::{DecodeError, Mpint, NameList, Result};
use alloc::vec::Vec;

/// A cursor over a received payload that decodes RFC 4251 §5 data types.
///
/// Strings are returned as borrows of the input: nothing is copied and
/// nothing is allocated while reading.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    #[must_use]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// How many bytes are left to read.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether everything has been read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes exactly `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated {
                what,
                needed: n,
                remaining: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes a fixed-size array, such as the KEXINIT cookie.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let bytes = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Takes everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Reads a `byte`.
    pub fn u8(&mut self) -> Result<u8> {
        let [b] = self.array::<1>("byte")?;
        Ok(b)
    }

    /// Reads a `boolean`: zero is false, any other value true (RFC 4251 §5).
    pub fn bool(&mut self) -> Result<bool> {
        Ok(self.u8()? != 0)
    }

    /// Reads a `uint32` (big-endian).
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array("uint32")?))
    }

    /// Reads a `uint64` (big-endian).
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array("uint64")?))
    }

    /// Reads a `string`: a uint32 length, then that many bytes, borrowed.
    ///
    /// The length is checked against what remains before anything else
    /// happens, so a hostile length cannot cause an allocation.
    pub fn string(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated {
            what: "string",
            needed: usize::MAX,
            remaining: self.buf.len(),
        })?;
        self.bytes(len, "string")
    }

    /// Reads a `string` that must be UTF-8 (user names, descriptions,
    /// commands, ...).
    pub fn utf8(&mut self, what: &'static str) -> Result<&'a str> {
        let bytes = self.string()?;
        core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidText {
            what,
            expected: "UTF-8",
        })
    }

    /// Reads a `name-list`, validated per RFC 4251 §5.
    pub fn name_list(&mut self) -> Result<NameList<'a>> {
        let bytes = self.string()?;
        NameList::parse(bytes)
    }

    /// Reads an `mpint` (two's complement, big-endian), borrowed.
    pub fn mpint(&mut self) -> Result<Mpint<'a>> {
        Ok(Mpint::from_wire(self.string()?))
    }

    /// Ends decoding of `what`: it is an error if bytes are left over.
    pub fn finish_with(self, what: &'static str) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingData {
                what,
                count: self.buf.len(),
            })
        }
    }

    /// Ends decoding: it is an error if bytes are left over.
    pub fn finish(self) -> Result<()> {
        self.finish_with("value")
    }
}

/// Anything the RFC 4251 §5 data types can be written to.
///
/// Implemented for `Vec<u8>`; the algorithms crate implements it for hash
/// functions too, so an exchange hash is computed without building its input
/// in memory first. Only [`Writer::put_raw`] must be provided.
pub trait Writer {
    /// Appends raw bytes.
    fn put_raw(&mut self, bytes: &[u8]);

    /// Writes a `byte`.
    fn put_u8(&mut self, v: u8) {
        self.put_raw(&[v]);
    }

    /// Writes a `boolean` as 0 or 1.
    fn put_bool(&mut self, v: bool) {
        self.put_u8(u8::from(v));
    }

    /// Writes a `uint32`.
    fn put_u32(&mut self, v: u32) {
        self.put_raw(&v.to_be_bytes());
    }

    /// Writes a `uint64`.
    fn put_u64(&mut self, v: u64) {
        self.put_raw(&v.to_be_bytes());
    }

    /// Writes a `string`.
    ///
    /// # Panics
    /// Only if `bytes` is 4 GiB or longer, which no SSH value can be.
    fn put_string(&mut self, bytes: &[u8]) {
        let len = u32::try_from(bytes.len()).expect("SSH strings are shorter than 4 GiB");
        self.put_u32(len);
        self.put_raw(bytes);
    }

    /// Writes a UTF-8 `string`.
    fn put_str(&mut self, s: &str) {
        self.put_string(s.as_bytes());
    }

    /// Writes a `name-list`.
    fn put_name_list(&mut self, list: &NameList<'_>) {
        self.put_str(list.as_str());
    }

    /// Writes an `mpint`.
    fn put_mpint(&mut self, m: &Mpint<'_>) {
        self.put_string(m.as_twos_complement());
    }

    /// Writes a non-negative integer given as unsigned big-endian bytes as an
    /// `mpint`: leading zeros dropped, a zero byte added when the top bit is
    /// set. Allocates nothing (the exchange hash writes the shared secret
    /// this way).
    fn put_mpint_unsigned(&mut self, magnitude: &[u8]) {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let digits = magnitude.get(start..).unwrap_or_default();
        let needs_pad = digits.first().is_some_and(|&b| b & 0x80 != 0);
        let len = digits.len() + usize::from(needs_pad);
        let len = u32::try_from(len).expect("SSH mpints are shorter than 4 GiB");
        self.put_u32(len);
        if needs_pad {
            self.put_u8(0);
        }
        self.put_raw(digits);
    }
}

impl Writer for Vec<u8> {
    fn put_raw(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl<W: Writer + ?Sized> Writer for &mut W {
    fn put_raw(&mut self, bytes: &[u8]) {
        (**self).put_raw(bytes);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn integers_are_big_endian() {
        // RFC 4251 §5: "the value 699921578 (0x29b7f4aa) is stored as 29 b7 f4 aa".
        let mut out = Vec::new();
        out.put_u32(699_921_578);
        assert_eq!(out, [0x29, 0xb7, 0xf4, 0xaa]);
        out.clear();
        out.put_u64(0x0102_0304_0506_0708);
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8]);
        let mut r = Reader::new(&out);
        assert_eq!(r.u64().unwrap(), 0x0102_0304_0506_0708);
    }

    #[test]
    fn string_testing() {
        // RFC 4251 §5: "the US-ASCII string "testing" is represented as
        // 00 00 00 07 t e s t i n g".
        let mut out = Vec::new();
        out.put_str("testing");
        assert_eq!(out, b"\x00\x00\x00\x07testing");
        let mut r = Reader::new(&out);
        assert_eq!(r.utf8("s").unwrap(), "testing");
        assert!(r.is_empty());
    }

    #[test]
    fn hostile_string_length_is_truncation_not_allocation() {
        let buf = [0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        let err = Reader::new(&buf).string().unwrap_err();
        assert_eq!(
            err,
            DecodeError::Truncated {
                what: "string",
                needed: 0xffff_ffff,
                remaining: 3
            }
        );
    }

    #[test]
    fn booleans_accept_any_nonzero_as_true() {
        let buf = [0, 1, 0x80];
        let mut r = Reader::new(&buf);
        assert!(!r.bool().unwrap());
        assert!(r.bool().unwrap());
        assert!(r.bool().unwrap());
        assert!(r.bool().is_err());
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let buf = vec![0, 0, 0, 1, 9];
        let mut r = Reader::new(&buf);
        r.u32().unwrap();
        assert_eq!(
            r.finish_with("test"),
            Err(DecodeError::TrailingData {
                what: "test",
                count: 1
            })
        );
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut out = Vec::new();
        out.put_string(&[0xff, 0xfe]);
        assert!(matches!(
            Reader::new(&out).utf8("user name"),
            Err(DecodeError::InvalidText { .. })
        ));
    }
}
