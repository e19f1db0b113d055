//! `curve25519-sha256` and `curve25519-sha256@libssh.org` (RFC 8731):
//! X25519 (RFC 7748) in the message flow of RFC 5656 §4, with SHA-256.
//!
//! Q_C and Q_S are 32-byte X25519 public keys; K is the 32-byte X25519
//! output read as an unsigned big-endian integer and encoded as an mpint
//! (RFC 8731 §3.1). An all-zero output, which a peer forces by sending a
//! point of small order, is refused (RFC 8731 §3, RFC 7748 §6.1).

use super::ecdh::{KemMethod, start};
use crate::hash::SHA256;
use crate::{
    Algorithm, AlgorithmError, HashFunction, Kex, KexContext, KexStart, Role, SharedSecret,
};
use alloc::vec::Vec;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// Length of an X25519 public key and of its output.
pub(crate) const X25519_LEN: usize = 32;

/// `curve25519-sha256` (RFC 8731), under either of its two names.
#[derive(Debug, Clone, Copy)]
pub struct Curve25519Sha256 {
    name: &'static str,
}

/// `curve25519-sha256` (RFC 8731).
pub static CURVE25519_SHA256: Curve25519Sha256 = Curve25519Sha256 {
    name: "curve25519-sha256",
};

/// `curve25519-sha256@libssh.org`: the same method under the name libssh
/// and OpenSSH used before RFC 8731.
pub static CURVE25519_SHA256_LIBSSH: Curve25519Sha256 = Curve25519Sha256 {
    name: "curve25519-sha256@libssh.org",
};

impl Algorithm for Curve25519Sha256 {
    fn name(&self) -> &str {
        self.name
    }
}

impl Kex for Curve25519Sha256 {
    fn hash(&self) -> &'static dyn HashFunction {
        &SHA256
    }

    fn start(&self, role: Role, ctx: &mut KexContext<'_>) -> Result<KexStart, AlgorithmError> {
        start(*self, role, ctx)
    }
}

impl KemMethod for Curve25519Sha256 {
    type ClientSecret = StaticSecret;

    fn method_name(&self) -> &'static str {
        self.name
    }

    fn method_hash(&self) -> &'static dyn HashFunction {
        &SHA256
    }

    fn client_init(
        &self,
        rng: &mut dyn CryptoRng,
    ) -> Result<(StaticSecret, Vec<u8>), AlgorithmError> {
        let secret = StaticSecret::random_from_rng(rng);
        let public = PublicKey::from(&secret).as_bytes().to_vec();
        Ok((secret, public))
    }

    fn server_reply(
        &self,
        client_public: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<(Vec<u8>, SharedSecret), AlgorithmError> {
        let peer = x25519_public(self.name, client_public)?;
        let secret = StaticSecret::random_from_rng(rng);
        let shared = x25519_agree(self.name, &secret, &peer)?;
        let public = PublicKey::from(&secret).as_bytes().to_vec();
        Ok((public, SharedSecret::from_mpint_unsigned(&*shared)))
    }

    fn client_finish(
        &self,
        secret: StaticSecret,
        server_public: &[u8],
    ) -> Result<SharedSecret, AlgorithmError> {
        let peer = x25519_public(self.name, server_public)?;
        let shared = x25519_agree(self.name, &secret, &peer)?;
        Ok(SharedSecret::from_mpint_unsigned(&*shared))
    }
}

/// Reads a peer's X25519 public key, which must be exactly 32 bytes.
pub(crate) fn x25519_public(
    algorithm: &'static str,
    bytes: &[u8],
) -> Result<PublicKey, AlgorithmError> {
    let array: [u8; X25519_LEN] = bytes
        .try_into()
        .map_err(|_| AlgorithmError::InvalidLength {
            algorithm,
            what: "X25519 public key",
            expected: X25519_LEN,
            found: bytes.len(),
        })?;
    Ok(PublicKey::from(array))
}

/// X25519 with a peer's key, refusing the all-zero output of a small-order
/// point (checked in constant time, as the output is secret otherwise).
pub(crate) fn x25519_agree(
    algorithm: &'static str,
    secret: &StaticSecret,
    peer: &PublicKey,
) -> Result<Zeroizing<[u8; X25519_LEN]>, AlgorithmError> {
    let shared = secret.diffie_hellman(peer);
    if bool::from(shared.as_bytes().ct_eq(&[0; X25519_LEN])) {
        return Err(AlgorithmError::InvalidPeerValue {
            algorithm,
            reason: "X25519 shared secret is all zeros (a small-order public key)",
        });
    }
    Ok(Zeroizing::new(*shared.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::builtin::kex::ecdh::tests::{
        check_exchange, check_framing_rejections, client_error, h, init_with, reply_with,
        server_error,
    };
    use sekura_proto::msg::{KexEcdhInit, KexEcdhReply};

    fn x25519(k: &[u8], u: &[u8]) -> [u8; 32] {
        let secret = StaticSecret::from(<[u8; 32]>::try_from(k).unwrap());
        let peer = x25519_public("test", u).unwrap();
        *x25519_agree("test", &secret, &peer).unwrap()
    }

    #[test]
    fn rfc7748_section_5_2_vectors() {
        // RFC 7748 §5.2: scalar, u-coordinate, output.
        assert_eq!(
            x25519(
                &h("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                &h("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
            )[..],
            h("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
        );
        assert_eq!(
            x25519(
                &h("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                &h("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
            )[..],
            h("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957")
        );
    }

    #[test]
    fn rfc7748_section_5_2_iterated() {
        // RFC 7748 §5.2: k = u = 9; repeat (k, u) = (X25519(k, u), k).
        let mut k = [0u8; 32];
        k[0] = 9;
        let mut u = k;
        for i in 1..=1000 {
            let next = x25519(&k, &u);
            u = k;
            k = next;
            if i == 1 {
                assert_eq!(
                    k[..],
                    h("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
                );
            }
        }
        assert_eq!(
            k[..],
            h("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
        );
    }

    #[test]
    fn rfc7748_section_6_1_alice_and_bob() {
        // RFC 7748 §6.1.
        let a = StaticSecret::from(
            <[u8; 32]>::try_from(h(
                "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
            ))
            .unwrap(),
        );
        let b = StaticSecret::from(
            <[u8; 32]>::try_from(h(
                "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
            ))
            .unwrap(),
        );
        let a_pub = PublicKey::from(&a);
        let b_pub = PublicKey::from(&b);
        assert_eq!(
            a_pub.as_bytes()[..],
            h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(
            b_pub.as_bytes()[..],
            h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
        let k = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(x25519_agree("t", &a, &b_pub).unwrap()[..], k);
        assert_eq!(x25519_agree("t", &b, &a_pub).unwrap()[..], k);

        // The client side of the method, given Bob's key as Q_S: K is the
        // output read big-endian as an mpint (RFC 8731 §3.1); its top bit
        // is clear, so no padding byte.
        let kk = CURVE25519_SHA256
            .client_finish(a, b_pub.as_bytes())
            .unwrap();
        assert_eq!(kk.encoded(), [&h("00000020")[..], &k].concat());
    }

    #[test]
    fn k_is_an_mpint_of_the_big_endian_output() {
        // An output with a leading zero byte and one with its top bit set,
        // through the same encoding the method applies.
        let mut out = [0x11u8; 32];
        out[0] = 0;
        assert_eq!(
            SharedSecret::from_mpint_unsigned(&out).encoded(),
            [&h("0000001f")[..], &out[1..]].concat()
        );
        out[0] = 0x80;
        assert_eq!(
            SharedSecret::from_mpint_unsigned(&out).encoded(),
            [&h("00000021 00")[..], &out[..]].concat()
        );
    }

    #[test]
    fn names_and_hash() {
        assert_eq!(CURVE25519_SHA256.name(), "curve25519-sha256");
        assert_eq!(
            CURVE25519_SHA256_LIBSSH.name(),
            "curve25519-sha256@libssh.org"
        );
        assert_eq!(Kex::hash(&CURVE25519_SHA256).name(), "sha256");
        assert_eq!(Kex::hash(&CURVE25519_SHA256_LIBSSH).name(), "sha256");
    }

    #[test]
    fn exchanges_agree() {
        for kex in [&CURVE25519_SHA256, &CURVE25519_SHA256_LIBSSH] {
            let t = check_exchange(kex, 11);
            assert_eq!(
                KexEcdhInit::decode(&t.init).unwrap().client_public.len(),
                32
            );
            assert_eq!(
                KexEcdhReply::decode(&t.reply).unwrap().server_public.len(),
                32
            );
            let k = t.client.shared_secret.encoded();
            assert!(k.len() <= 4 + 33);
        }
    }

    #[test]
    fn framing_rejections() {
        check_framing_rejections(&CURVE25519_SHA256);
        check_framing_rejections(&CURVE25519_SHA256_LIBSSH);
    }

    #[test]
    fn small_order_points_are_rejected() {
        // u = 0, u = 1 and u = p - 1 (order 1, 4 and 2): every clamped
        // scalar maps them to zero.
        let mut p_minus_1 = [0xffu8; 32];
        p_minus_1[0] = 0xec;
        p_minus_1[31] = 0x7f;
        let mut one = [0u8; 32];
        one[0] = 1;
        for point in [[0u8; 32], one, p_minus_1] {
            for kex in [&CURVE25519_SHA256, &CURVE25519_SHA256_LIBSSH] {
                assert!(matches!(
                    server_error(kex, &init_with(&point)),
                    AlgorithmError::InvalidPeerValue { .. }
                ));
                assert!(matches!(
                    client_error(kex, &reply_with(&point)),
                    AlgorithmError::InvalidPeerValue { .. }
                ));
            }
        }
    }

    #[test]
    fn wrong_lengths_say_what_was_expected() {
        assert_eq!(
            server_error(&CURVE25519_SHA256, &init_with(&[9; 31])),
            AlgorithmError::InvalidLength {
                algorithm: "curve25519-sha256",
                what: "X25519 public key",
                expected: 32,
                found: 31,
            }
        );
        assert!(matches!(
            client_error(&CURVE25519_SHA256_LIBSSH, &reply_with(&[9; 33])),
            AlgorithmError::InvalidLength {
                algorithm: "curve25519-sha256@libssh.org",
                found: 33,
                ..
            }
        ));
    }
}
