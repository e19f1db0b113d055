//! HMAC-based SSH MACs (RFC 4253 §6.4, RFC 6668, OpenSSH's `-etm`
//! variants), generic over the hash.

use crate::{Algorithm, AlgorithmError, Mac, MacInstance};
use ::hmac::digest::block_api::EagerHash;
use ::hmac::digest::typenum::Unsigned;
use ::hmac::digest::{KeyInit, Mac as _, OutputSizeUser};
use alloc::boxed::Box;
use core::fmt;
use core::marker::PhantomData;
use zeroize::ZeroizeOnDrop;

/// An HMAC over the RustCrypto hash `D`, as SSH negotiates it: a wire
/// name, a tag that may be a truncation of the full HMAC output (the `-96`
/// MACs keep its first 12 bytes, RFC 2104 §5), and whether it is used
/// encrypt-then-MAC.
///
/// The key is always as long as the hash output (RFC 4253 §6.4 for
/// `hmac-sha1`/`hmac-md5`, RFC 6668 §2 for the SHA-2 MACs), truncated MAC or
/// not.
///
/// The built-in statics in [`super`] cover every HMAC that SSH
/// implementations deploy; the type is public so that an application can
/// name another hash (for instance `hmac-sha2-384@example.com`) with
/// [`HmacMac::new`].
pub struct HmacMac<D> {
    name: &'static str,
    tag_len: usize,
    etm: bool,
    _hash: PhantomData<fn() -> D>,
}

impl<D: OutputSizeUser> HmacMac<D> {
    /// An HMAC called `name` whose tags are the first `tag_len` bytes of the
    /// HMAC output.
    ///
    /// # Panics
    ///
    /// If `tag_len` is zero or longer than the hash output; in a `static`
    /// that is a compile-time error.
    #[must_use]
    pub const fn new(name: &'static str, tag_len: usize, etm: bool) -> Self {
        assert!(
            tag_len > 0 && tag_len <= D::OutputSize::USIZE,
            "an HMAC tag is 1 to output-size bytes long"
        );
        HmacMac {
            name,
            tag_len,
            etm,
            _hash: PhantomData,
        }
    }
}

impl<D> fmt::Debug for HmacMac<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacMac")
            .field("name", &self.name)
            .field("tag_len", &self.tag_len)
            .field("etm", &self.etm)
            .finish()
    }
}

impl<D> Algorithm for HmacMac<D> {
    fn name(&self) -> &str {
        self.name
    }
}

// The keyed HMAC state (the hash states after absorbing key ^ ipad and
// key ^ opad) is as good as the key for forging tags, so the hash cores must
// wipe themselves on drop: the `ZeroizeOnDrop` bound turns a missing
// `zeroize` feature of the hash crate into a compile error.
impl<D> Mac for HmacMac<D>
where
    D: EagerHash + Send + 'static,
    D::Core: ZeroizeOnDrop + Send,
{
    fn key_len(&self) -> usize {
        D::OutputSize::USIZE
    }

    fn tag_len(&self) -> usize {
        self.tag_len
    }

    fn is_etm(&self) -> bool {
        self.etm
    }

    fn new_instance(&self, key: &[u8]) -> Result<Box<dyn MacInstance>, AlgorithmError> {
        let wrong_length = AlgorithmError::InvalidLength {
            algorithm: self.name,
            what: "MAC key",
            expected: self.key_len(),
            found: key.len(),
        };
        // HMAC itself takes keys of any length, but SSH derives exactly
        // key_len() bytes (RFC 4253 §7.2); any other length is a bug in the
        // caller's key schedule that would otherwise only show as a peer
        // rejecting every packet.
        if key.len() != self.key_len() {
            return Err(wrong_length);
        }
        let instance = HmacInstance::<D>::with_key(key, self.tag_len).ok_or(wrong_length)?;
        Ok(Box::new(instance))
    }
}

/// A keyed HMAC. The state after absorbing the key is computed once and
/// cloned for every packet, so a packet costs no key schedule and no
/// allocation.
pub(super) struct HmacInstance<D: EagerHash> {
    keyed: ::hmac::Hmac<D>,
    tag_len: usize,
}

impl<D: EagerHash> HmacInstance<D> {
    /// Keys an instance with a key of any length (HMAC hashes long keys and
    /// pads short ones, RFC 2104 §2). The SSH path checks the length first;
    /// the RFC 2202/4231 vectors use other lengths. `None` only if the
    /// `hmac` crate ever refused a key length.
    pub(super) fn with_key(key: &[u8], tag_len: usize) -> Option<Self> {
        let keyed = <::hmac::Hmac<D> as KeyInit>::new_from_slice(key).ok()?;
        Some(HmacInstance { keyed, tag_len })
    }
}

impl<D> MacInstance for HmacInstance<D>
where
    D: EagerHash,
    D::Core: Send,
{
    fn tag_len(&self) -> usize {
        self.tag_len
    }

    fn compute(&mut self, sequence_number: u32, packet: &[u8], tag: &mut [u8]) {
        debug_assert_eq!(tag.len(), self.tag_len, "tag buffer of the wrong size");
        let mut mac = self.keyed.clone();
        mac.update(&sequence_number.to_be_bytes());
        mac.update(packet);
        let full = mac.finalize().into_bytes();
        for (out, byte) in tag.iter_mut().zip(full.iter()) {
            *out = *byte;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use md5::Md5;
    use sha1::Sha1;
    use sha2::{Sha256, Sha512};

    fn unhex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// Runs a known-answer vector through `MacInstance::compute`, which MACs
    /// `uint32 seq || packet`: the vector's first four data bytes become the
    /// sequence number and the rest the packet, so the bytes hashed are
    /// exactly the vector's data.
    fn check<D>(key: &[u8], data: &[u8], expected_hex: &str)
    where
        D: EagerHash,
        D::Core: Send,
    {
        let expected = unhex(expected_hex);
        let (seq, packet) = data.split_at(4);
        let seq = u32::from_be_bytes(seq.try_into().unwrap());
        let mut mac = HmacInstance::<D>::with_key(key, expected.len()).unwrap();
        let mut tag = vec![0; expected.len()];
        mac.compute(seq, packet, &mut tag);
        assert_eq!(tag, expected, "key {key:02x?}");
        assert!(mac.verify(seq, packet, &expected));
        // The keyed state is reused, not consumed: a second packet gets the
        // same answer.
        mac.compute(seq, packet, &mut tag);
        assert_eq!(tag, expected);
    }

    // RFC 2202 §2 (HMAC-MD5) and §3 (HMAC-SHA-1), test cases 1-7. Test case 5
    // also gives the "digest-96" truncation, checked through the `-96`
    // statics in `super::tests`.
    const TC6_DATA: &[u8] = b"Test Using Larger Than Block-Size Key - Hash Key First";
    const TC7_DATA: &[u8] =
        b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";

    fn rfc2202_tc4_key() -> Vec<u8> {
        (1..=25).collect()
    }

    #[test]
    fn rfc2202_hmac_md5() {
        // RFC 2202 §2, test cases 1-7.
        check::<Md5>(&[0x0b; 16], b"Hi There", "9294727a3638bb1c13f48ef8158bfc9d");
        check::<Md5>(
            b"Jefe",
            b"what do ya want for nothing?",
            "750c783e6ab0b503eaa86e310a5db738",
        );
        check::<Md5>(&[0xaa; 16], &[0xdd; 50], "56be34521d144c88dbb8c733f0e8b3f6");
        check::<Md5>(
            &rfc2202_tc4_key(),
            &[0xcd; 50],
            "697eaf0aca3a3aea3a75164746ffaa79",
        );
        check::<Md5>(
            &[0x0c; 16],
            b"Test With Truncation",
            "56461ef2342edc00f9bab995690efd4c",
        );
        // Test case 5, digest-96.
        check::<Md5>(
            &[0x0c; 16],
            b"Test With Truncation",
            "56461ef2342edc00f9bab995",
        );
        check::<Md5>(&[0xaa; 80], TC6_DATA, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
        check::<Md5>(&[0xaa; 80], TC7_DATA, "6f630fad67cda0ee1fb1f562db3aa53e");
    }

    #[test]
    fn rfc2202_hmac_sha1() {
        // RFC 2202 §3, test cases 1-7.
        check::<Sha1>(
            &[0x0b; 20],
            b"Hi There",
            "b617318655057264e28bc0b6fb378c8ef146be00",
        );
        check::<Sha1>(
            b"Jefe",
            b"what do ya want for nothing?",
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
        );
        check::<Sha1>(
            &[0xaa; 20],
            &[0xdd; 50],
            "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
        );
        check::<Sha1>(
            &rfc2202_tc4_key(),
            &[0xcd; 50],
            "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
        );
        check::<Sha1>(
            &[0x0c; 20],
            b"Test With Truncation",
            "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
        );
        // Test case 5, digest-96.
        check::<Sha1>(
            &[0x0c; 20],
            b"Test With Truncation",
            "4c1a03424b55e07fe7f27be1",
        );
        check::<Sha1>(
            &[0xaa; 80],
            TC6_DATA,
            "aa4ae5e15272d00e95705637ce8a3b55ed402112",
        );
        check::<Sha1>(
            &[0xaa; 80],
            TC7_DATA,
            "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
        );
    }

    /// RFC 4231 §4.2-4.8: (key, data, HMAC-SHA-256, HMAC-SHA-512). Test
    /// case 5 (§4.6) gives only the first 128 bits of the output.
    fn rfc4231_vectors() -> Vec<(Vec<u8>, Vec<u8>, &'static str, &'static str)> {
        vec![
            // §4.2, test case 1.
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde
                 daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            ),
            // §4.3, test case 2.
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
            // §4.4, test case 3.
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39
                 bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
            ),
            // §4.5, test case 4.
            (
                (1..=25).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
                "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db
                 a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
            ),
            // §4.6, test case 5 (truncated to 128 bits).
            (
                vec![0x0c; 20],
                b"Test With Truncation".to_vec(),
                "a3b6167473100ee06e0c796c2955552b",
                "415fad6271580a531d4179bc891d87a6",
            ),
            // §4.7, test case 6.
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352
                 6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ),
            // §4.8, test case 7.
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger \
                  than block-size data. The key needs to be hashed before being \
                  used by the HMAC algorithm."
                    .to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
                "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944
                 b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
            ),
        ]
    }

    #[test]
    fn rfc4231_hmac_sha256() {
        for (key, data, sha256, _) in rfc4231_vectors() {
            check::<Sha256>(&key, &data, sha256);
        }
    }

    #[test]
    fn rfc4231_hmac_sha512() {
        for (key, data, _, sha512) in rfc4231_vectors() {
            check::<Sha512>(&key, &data, sha512);
        }
    }

    #[test]
    fn rfc4231_test_case_7_is_the_data_the_rfc_gives() {
        // The long data string above is spelled out in ASCII; make sure it
        // is byte for byte the hex of RFC 4231 §4.8.
        let (_, data, _, _) = &rfc4231_vectors()[6];
        assert_eq!(
            *data,
            unhex(
                "5468697320697320612074657374207573696e672061206c6172676572207468
                 616e20626c6f636b2d73697a65206b657920616e642061206c61726765722074
                 68616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565
                 647320746f20626520686173686564206265666f7265206265696e6720757365
                 642062792074686520484d414320616c676f726974686d2e"
            )
        );
    }

    #[test]
    fn tag_is_over_sequence_number_then_packet() {
        // The same 8 bytes split differently between seq and packet give the
        // same tag, and a different sequence number a different one.
        let mut mac = HmacInstance::<Sha256>::with_key(&[7; 32], 32).unwrap();
        let (mut a, mut b, mut c) = ([0; 32], [0; 32], [0; 32]);
        mac.compute(0x0102_0304, &[5, 6, 7, 8], &mut a);
        let mut whole = HmacInstance::<Sha256>::with_key(&[7; 32], 32).unwrap();
        let mut direct = ::hmac::Hmac::<Sha256>::new_from_slice(&[7; 32]).unwrap();
        direct.update(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(a[..], direct.finalize().into_bytes()[..]);
        whole.compute(0x0102_0305, &[5, 6, 7, 8], &mut b);
        assert_ne!(a, b);
        whole.compute(0x0102_0304, &[5, 6, 7, 8], &mut c);
        assert_eq!(a, c);
    }
}
