//! Hash functions behind exchange hashes and key derivation.

use alloc::boxed::Box;
use alloc::vec::Vec;
use digest::Digest;
use sekura_proto::Writer;

/// A hash function a key-exchange method is defined over (RFC 4253 §7.2 and
/// §8 call it HASH).
pub trait HashFunction: Send + Sync {
    /// A short name for logs, such as `sha256`.
    fn name(&self) -> &str;
    /// Length of a digest in bytes.
    fn output_len(&self) -> usize;
    /// Starts a new hash computation.
    fn start(&self) -> Box<dyn Hasher>;

    /// Hashes the concatenation of `parts`.
    fn digest(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut h = self.start();
        for part in parts {
            h.update(part);
        }
        h.finish()
    }
}

/// A hash computation in progress. It is also a [`Writer`], so SSH values
/// (strings, mpints) are hashed as they are encoded, without a buffer.
pub trait Hasher: Send {
    /// Adds bytes.
    fn update(&mut self, data: &[u8]);
    /// Ends the computation and returns the digest.
    fn finish(self: Box<Self>) -> Vec<u8>;
}

impl Writer for dyn Hasher + '_ {
    fn put_raw(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Writer for Box<dyn Hasher + '_> {
    fn put_raw(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// A [`HashFunction`] made from any RustCrypto [`Digest`].
pub struct DigestHash<D> {
    name: &'static str,
    _digest: core::marker::PhantomData<fn() -> D>,
}

impl<D> DigestHash<D> {
    /// Names a RustCrypto digest for use as a [`HashFunction`].
    #[must_use]
    pub const fn new(name: &'static str) -> Self {
        DigestHash {
            name,
            _digest: core::marker::PhantomData,
        }
    }
}

struct DigestHasher<D>(D);

impl<D: Digest + Send + 'static> Hasher for DigestHasher<D> {
    fn update(&mut self, data: &[u8]) {
        Digest::update(&mut self.0, data);
    }
    fn finish(self: Box<Self>) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
}

impl<D: Digest + Send + 'static> HashFunction for DigestHash<D> {
    fn name(&self) -> &str {
        self.name
    }
    fn output_len(&self) -> usize {
        <D as Digest>::output_size()
    }
    fn start(&self) -> Box<dyn Hasher> {
        Box::new(DigestHasher(D::new()))
    }
}

/// SHA-1 (legacy key exchanges only).
pub static SHA1: DigestHash<sha1::Sha1> = DigestHash::new("sha1");
/// SHA-256.
pub static SHA256: DigestHash<sha2::Sha256> = DigestHash::new("sha256");
/// SHA-384.
pub static SHA384: DigestHash<sha2::Sha384> = DigestHash::new("sha384");
/// SHA-512.
pub static SHA512: DigestHash<sha2::Sha512> = DigestHash::new("sha512");

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn fips180_abc() {
        // FIPS 180-2 Appendix A/B: SHA-1 and SHA-256 of "abc".
        assert_eq!(
            SHA1.digest(&[b"a", b"bc"]),
            hex("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            SHA256.digest(&[b"abc"]),
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(SHA384.output_len(), 48);
        assert_eq!(SHA512.output_len(), 64);
    }

    #[test]
    fn hasher_is_a_writer() {
        let mut h = SHA256.start();
        h.put_string(b"abc");
        let direct = SHA256.digest(&[b"\x00\x00\x00\x03abc"]);
        assert_eq!(h.finish(), direct);
    }

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap(), 16).unwrap())
            .collect()
    }
}
