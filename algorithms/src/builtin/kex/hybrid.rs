//! Post-quantum hybrid key exchanges: a KEM and X25519 together, so the
//! session stays secret unless both are broken.
//!
//! * `mlkem768x25519-sha256` (draft-ietf-sshm-mlkem-hybrid-kex; OpenSSH
//!   `kexmlkem768x25519.c`): ML-KEM-768 (FIPS 203) and X25519, SHA-256.
//! * `sntrup761x25519-sha512` and `sntrup761x25519-sha512@openssh.com`
//!   (draft-josefsson-ntruprime-ssh; OpenSSH `kexsntrup761x25519.c`):
//!   Streamlined NTRU Prime 761 and X25519, SHA-512.
//!
//! Both use the messages and exchange hash of RFC 5656 §4 with
//!
//! ```text
//! C_INIT  = Q_C = KEM public key || X25519 public key
//! S_REPLY = Q_S = KEM ciphertext || X25519 public key
//! K       = string HASH(KEM shared secret || X25519 shared secret)
//! ```
//!
//! K is a `string`, not an mpint, both in H and in key derivation. As in
//! OpenSSH, an all-zero X25519 output is refused here too.

use super::curve25519::{X25519_LEN, x25519_agree, x25519_public};
use super::ecdh::{KemMethod, start};
use crate::hash::{SHA256, SHA512};
use crate::{
    Algorithm, AlgorithmError, HashFunction, Kex, KexContext, KexStart, Role, SharedSecret,
};
use alloc::vec::Vec;
use ml_kem::ml_kem_768;
use ml_kem::{Decapsulate, Encapsulate, Generate, KeyExport};
use rand_core::CryptoRng;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// ML-KEM-768 encapsulation key length (FIPS 203 §8, table 3).
const MLKEM768_PUBLIC_LEN: usize = 1184;
/// ML-KEM-768 ciphertext length (FIPS 203 §8, table 3).
const MLKEM768_CIPHERTEXT_LEN: usize = 1088;
/// sntrup761 public key length.
const SNTRUP761_PUBLIC_LEN: usize = sntrup761::PUBLIC_KEY_SIZE;
/// sntrup761 ciphertext length.
const SNTRUP761_CIPHERTEXT_LEN: usize = sntrup761::CIPHERTEXT_SIZE;

/// K of a hybrid: `string HASH(kem_secret || ecdh_secret)`.
fn combine(hash: &dyn HashFunction, kem_secret: &[u8], ecdh_secret: &[u8]) -> SharedSecret {
    let digest = Zeroizing::new(hash.digest(&[kem_secret, ecdh_secret]));
    SharedSecret::from_string(&digest)
}

/// Splits a hybrid public value into its KEM part and X25519 part, checking
/// the total length.
fn split<'a>(
    algorithm: &'static str,
    what: &'static str,
    bytes: &'a [u8],
    kem_len: usize,
) -> Result<(&'a [u8], PublicKey), AlgorithmError> {
    let expected = kem_len + X25519_LEN;
    let wrong_length = AlgorithmError::InvalidLength {
        algorithm,
        what,
        expected,
        found: bytes.len(),
    };
    if bytes.len() != expected {
        return Err(wrong_length);
    }
    let (kem, ecdh) = bytes.split_at_checked(kem_len).ok_or(wrong_length)?;
    Ok((kem, x25519_public(algorithm, ecdh)?))
}

/// An X25519 key pair for one side of a hybrid.
fn x25519_generate(rng: &mut dyn CryptoRng) -> (StaticSecret, PublicKey) {
    let secret = StaticSecret::random_from_rng(rng);
    let public = PublicKey::from(&secret);
    (secret, public)
}

/// `mlkem768x25519-sha256`: ML-KEM-768 and X25519 with SHA-256.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mlkem768X25519Sha256;

/// `mlkem768x25519-sha256`, OpenSSH 10's default key exchange.
pub static MLKEM768X25519_SHA256: Mlkem768X25519Sha256 = Mlkem768X25519Sha256;

const MLKEM_NAME: &str = "mlkem768x25519-sha256";

/// The client's ephemeral keys for `mlkem768x25519-sha256`; both zeroize
/// on drop.
pub(crate) struct MlkemClientSecret {
    kem: ml_kem_768::DecapsulationKey,
    ecdh: StaticSecret,
}

impl Algorithm for Mlkem768X25519Sha256 {
    fn name(&self) -> &str {
        MLKEM_NAME
    }
}

impl Kex for Mlkem768X25519Sha256 {
    fn hash(&self) -> &'static dyn HashFunction {
        &SHA256
    }

    fn start(&self, role: Role, ctx: &mut KexContext<'_>) -> Result<KexStart, AlgorithmError> {
        start(*self, role, ctx)
    }
}

impl KemMethod for Mlkem768X25519Sha256 {
    type ClientSecret = MlkemClientSecret;

    fn method_name(&self) -> &'static str {
        MLKEM_NAME
    }

    fn method_hash(&self) -> &'static dyn HashFunction {
        &SHA256
    }

    fn client_init(
        &self,
        rng: &mut dyn CryptoRng,
    ) -> Result<(MlkemClientSecret, Vec<u8>), AlgorithmError> {
        let kem = ml_kem_768::DecapsulationKey::generate_from_rng(rng);
        let (ecdh, ecdh_public) = x25519_generate(rng);
        let mut public = Vec::with_capacity(MLKEM768_PUBLIC_LEN + X25519_LEN);
        public.extend_from_slice(&kem.encapsulation_key().to_bytes());
        public.extend_from_slice(ecdh_public.as_bytes());
        Ok((MlkemClientSecret { kem, ecdh }, public))
    }

    fn server_reply(
        &self,
        client_public: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<(Vec<u8>, SharedSecret), AlgorithmError> {
        let (kem_public, ecdh_peer) = split(
            MLKEM_NAME,
            "C_INIT (ML-KEM-768 encapsulation key || X25519 public key)",
            client_public,
            MLKEM768_PUBLIC_LEN,
        )?;
        let kem_public = ml_kem::Key::<ml_kem_768::EncapsulationKey>::try_from(kem_public)
            .map_err(|_| AlgorithmError::InvalidLength {
                algorithm: MLKEM_NAME,
                what: "ML-KEM-768 encapsulation key",
                expected: MLKEM768_PUBLIC_LEN,
                found: kem_public.len(),
            })?;
        let kem_public = ml_kem_768::EncapsulationKey::new(&kem_public).map_err(|_| {
            AlgorithmError::InvalidPeerValue {
                algorithm: MLKEM_NAME,
                reason: "ML-KEM-768 encapsulation key fails the FIPS 203 §7.2 modulus check",
            }
        })?;
        let (ecdh, ecdh_public) = x25519_generate(rng);
        let ecdh_secret = x25519_agree(MLKEM_NAME, &ecdh, &ecdh_peer)?;
        let (ciphertext, mut kem_secret) = kem_public.encapsulate_with_rng(rng);
        let shared = combine(&SHA256, &kem_secret, &*ecdh_secret);
        kem_secret.as_mut_slice().zeroize();

        let mut reply = Vec::with_capacity(MLKEM768_CIPHERTEXT_LEN + X25519_LEN);
        reply.extend_from_slice(&ciphertext);
        reply.extend_from_slice(ecdh_public.as_bytes());
        Ok((reply, shared))
    }

    fn client_finish(
        &self,
        secret: MlkemClientSecret,
        server_public: &[u8],
    ) -> Result<SharedSecret, AlgorithmError> {
        let (ciphertext, ecdh_peer) = split(
            MLKEM_NAME,
            "S_REPLY (ML-KEM-768 ciphertext || X25519 public key)",
            server_public,
            MLKEM768_CIPHERTEXT_LEN,
        )?;
        let ciphertext = ml_kem_768::Ciphertext::try_from(ciphertext).map_err(|_| {
            AlgorithmError::InvalidLength {
                algorithm: MLKEM_NAME,
                what: "ML-KEM-768 ciphertext",
                expected: MLKEM768_CIPHERTEXT_LEN,
                found: ciphertext.len(),
            }
        })?;
        let ecdh_secret = x25519_agree(MLKEM_NAME, &secret.ecdh, &ecdh_peer)?;
        // Implicit rejection (FIPS 203 §6.3): a bad ciphertext yields an
        // unrelated secret, and the signature check fails later.
        let mut kem_secret = secret.kem.decapsulate(&ciphertext);
        let shared = combine(&SHA256, &kem_secret, &*ecdh_secret);
        kem_secret.as_mut_slice().zeroize();
        Ok(shared)
    }
}

/// `sntrup761x25519-sha512`: Streamlined NTRU Prime 761 and X25519 with
/// SHA-512, under either of its two names.
#[derive(Debug, Clone, Copy)]
pub struct Sntrup761X25519Sha512 {
    name: &'static str,
}

/// `sntrup761x25519-sha512`.
pub static SNTRUP761X25519_SHA512: Sntrup761X25519Sha512 = Sntrup761X25519Sha512 {
    name: "sntrup761x25519-sha512",
};

/// `sntrup761x25519-sha512@openssh.com`: the same method under the name
/// OpenSSH used before 9.9 (and still offers).
pub static SNTRUP761X25519_SHA512_OPENSSH: Sntrup761X25519Sha512 = Sntrup761X25519Sha512 {
    name: "sntrup761x25519-sha512@openssh.com",
};

/// The client's ephemeral keys for `sntrup761x25519-sha512`; both zeroize
/// on drop.
pub(crate) struct SntrupClientSecret {
    kem: sntrup761::DecapsulationKey,
    ecdh: StaticSecret,
}

impl Algorithm for Sntrup761X25519Sha512 {
    fn name(&self) -> &str {
        self.name
    }
}

impl Kex for Sntrup761X25519Sha512 {
    fn hash(&self) -> &'static dyn HashFunction {
        &SHA512
    }

    fn start(&self, role: Role, ctx: &mut KexContext<'_>) -> Result<KexStart, AlgorithmError> {
        start(*self, role, ctx)
    }
}

impl KemMethod for Sntrup761X25519Sha512 {
    type ClientSecret = SntrupClientSecret;

    fn method_name(&self) -> &'static str {
        self.name
    }

    fn method_hash(&self) -> &'static dyn HashFunction {
        &SHA512
    }

    fn client_init(
        &self,
        rng: &mut dyn CryptoRng,
    ) -> Result<(SntrupClientSecret, Vec<u8>), AlgorithmError> {
        let (kem_public, kem) = sntrup761::generate_key(&mut *rng);
        let (ecdh, ecdh_public) = x25519_generate(rng);
        let mut public = Vec::with_capacity(SNTRUP761_PUBLIC_LEN + X25519_LEN);
        public.extend_from_slice(kem_public.as_ref());
        public.extend_from_slice(ecdh_public.as_bytes());
        Ok((SntrupClientSecret { kem, ecdh }, public))
    }

    fn server_reply(
        &self,
        client_public: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<(Vec<u8>, SharedSecret), AlgorithmError> {
        let (kem_public, ecdh_peer) = split(
            self.name,
            "client public value (sntrup761 public key || X25519 public key)",
            client_public,
            SNTRUP761_PUBLIC_LEN,
        )?;
        let kem_public = sntrup761::EncapsulationKey::try_from(kem_public).map_err(|_| {
            AlgorithmError::InvalidLength {
                algorithm: self.name,
                what: "sntrup761 public key",
                expected: SNTRUP761_PUBLIC_LEN,
                found: kem_public.len(),
            }
        })?;
        let (ecdh, ecdh_public) = x25519_generate(rng);
        let ecdh_secret = x25519_agree(self.name, &ecdh, &ecdh_peer)?;
        let (ciphertext, kem_secret) = kem_public.encapsulate(&mut *rng);
        let shared = combine(&SHA512, kem_secret.as_ref(), &*ecdh_secret);

        let mut reply = Vec::with_capacity(SNTRUP761_CIPHERTEXT_LEN + X25519_LEN);
        reply.extend_from_slice(ciphertext.as_ref());
        reply.extend_from_slice(ecdh_public.as_bytes());
        Ok((reply, shared))
    }

    fn client_finish(
        &self,
        secret: SntrupClientSecret,
        server_public: &[u8],
    ) -> Result<SharedSecret, AlgorithmError> {
        let (ciphertext, ecdh_peer) = split(
            self.name,
            "server public value (sntrup761 ciphertext || X25519 public key)",
            server_public,
            SNTRUP761_CIPHERTEXT_LEN,
        )?;
        let ciphertext = sntrup761::Ciphertext::try_from(ciphertext).map_err(|_| {
            AlgorithmError::InvalidLength {
                algorithm: self.name,
                what: "sntrup761 ciphertext",
                expected: SNTRUP761_CIPHERTEXT_LEN,
                found: ciphertext.len(),
            }
        })?;
        let ecdh_secret = x25519_agree(self.name, &secret.ecdh, &ecdh_peer)?;
        let kem_secret = secret.kem.decapsulate(&ciphertext);
        Ok(combine(&SHA512, kem_secret.as_ref(), &*ecdh_secret))
    }
}

/// The elliptic-curve and hybrid methods in OpenSSH 10's default order
/// (`KEX_SERVER_KEX` in its `myproposal.h`), most preferred first. The
/// finite-field methods follow them in the full default list.
pub static EC_DEFAULT: &[&dyn Kex] = &[
    &MLKEM768X25519_SHA256,
    &SNTRUP761X25519_SHA512,
    &SNTRUP761X25519_SHA512_OPENSSH,
    &super::curve25519::CURVE25519_SHA256,
    &super::curve25519::CURVE25519_SHA256_LIBSSH,
    &super::ecdh::ECDH_SHA2_NISTP256,
    &super::ecdh::ECDH_SHA2_NISTP384,
    &super::ecdh::ECDH_SHA2_NISTP521,
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::builtin::kex::ecdh::tests::{
        check_exchange, check_framing_rejections, client_error, h, init_with, reply_with, run,
        server_error,
    };
    use alloc::vec;
    use sekura_proto::msg::{KexEcdhInit, KexEcdhReply};

    // RFC 7748 §6.1: Alice's and Bob's X25519 keys and their shared secret.
    const ALICE: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    const BOB_PUBLIC: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    const ALICE_BOB_K: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

    fn alice() -> StaticSecret {
        StaticSecret::from(<[u8; 32]>::try_from(h(ALICE)).unwrap())
    }

    #[test]
    fn combination_rule() {
        // K = string HASH(ss_kem || ss_x25519), with ss_kem = 00 01 .. 1f
        // and ss_x25519 the RFC 7748 §6.1 secret. Expected digests computed
        // independently with Python's hashlib.
        let kem: Vec<u8> = (0..32).collect();
        let x = h(ALICE_BOB_K);
        assert_eq!(
            combine(&SHA256, &kem, &x).encoded(),
            h("00000020
               2f3032e0e0944759a516fd8c31953e089addd524450255d1560fb48c486900f6")
        );
        assert_eq!(
            combine(&SHA512, &kem, &x).encoded(),
            h("00000040
               7e8fbcf5a1ddd5cdc198db03f1de3adc486264c7415d88b13147da323d06b0fd
               6597c8e883f964f8abae85d260168ff58b70d09667b33c24d4793429145f0c5a")
        );
        // A leading zero byte or a set top bit changes nothing: a string,
        // not an mpint.
        let k = combine(&SHA256, &[], &[]);
        assert_eq!(k.encoded().len(), 36);
    }

    #[test]
    fn mlkem_client_combines_both_secrets() {
        // The client holds a seeded ML-KEM key and Alice's X25519 key; the
        // "server" encapsulates to it with fixed randomness and answers
        // with Bob's X25519 key. K must be string SHA-256(encapsulated
        // secret || RFC 7748 K).
        let kem = ml_kem_768::DecapsulationKey::from_seed([7u8; 64].into());
        let (ciphertext, kem_secret) = kem
            .encapsulation_key()
            .encapsulate_deterministic(&[9u8; 32].into());
        let reply = [&ciphertext[..], &h(BOB_PUBLIC)].concat();
        assert_eq!(reply.len(), 1120);
        let k = MLKEM768X25519_SHA256
            .client_finish(MlkemClientSecret { kem, ecdh: alice() }, &reply)
            .unwrap();
        let expected = [
            &h("00000020")[..],
            &SHA256.digest(&[&kem_secret, &h(ALICE_BOB_K)]),
        ]
        .concat();
        assert_eq!(k.encoded(), expected);
    }

    #[test]
    fn sntrup_client_combines_both_secrets() {
        let (public, kem) = sntrup761::generate_key_from_seed([5u8; 32]);
        let (ciphertext, kem_secret) = public.encapsulate_deterministic([6u8; 32]);
        let reply = [ciphertext.as_ref(), &h(BOB_PUBLIC)].concat();
        assert_eq!(reply.len(), 1071);
        for method in [&SNTRUP761X25519_SHA512, &SNTRUP761X25519_SHA512_OPENSSH] {
            let k = method
                .client_finish(
                    SntrupClientSecret {
                        kem: kem.clone(),
                        ecdh: alice(),
                    },
                    &reply,
                )
                .unwrap();
            let expected = [
                &h("00000040")[..],
                &SHA512.digest(&[kem_secret.as_ref(), &h(ALICE_BOB_K)]),
            ]
            .concat();
            assert_eq!(k.encoded(), expected);
        }
    }

    #[test]
    fn names_and_hashes() {
        assert_eq!(MLKEM768X25519_SHA256.name(), "mlkem768x25519-sha256");
        assert_eq!(SNTRUP761X25519_SHA512.name(), "sntrup761x25519-sha512");
        assert_eq!(
            SNTRUP761X25519_SHA512_OPENSSH.name(),
            "sntrup761x25519-sha512@openssh.com"
        );
        assert_eq!(Kex::hash(&MLKEM768X25519_SHA256).name(), "sha256");
        assert_eq!(Kex::hash(&SNTRUP761X25519_SHA512).name(), "sha512");
        assert_eq!(Kex::hash(&SNTRUP761X25519_SHA512_OPENSSH).name(), "sha512");
    }

    #[test]
    fn default_order_is_openssh_10() {
        // OpenSSH myproposal.h, KEX_SERVER_KEX (the client list adds the
        // finite-field methods after these).
        let names: Vec<&str> = EC_DEFAULT.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "mlkem768x25519-sha256",
                "sntrup761x25519-sha512",
                "sntrup761x25519-sha512@openssh.com",
                "curve25519-sha256",
                "curve25519-sha256@libssh.org",
                "ecdh-sha2-nistp256",
                "ecdh-sha2-nistp384",
                "ecdh-sha2-nistp521",
            ]
        );
    }

    #[test]
    fn every_default_method_completes_an_exchange() {
        // Includes the curve25519 and NIST ones, through the list the
        // negotiation uses.
        for (i, kex) in EC_DEFAULT.iter().enumerate() {
            check_exchange(*kex, 100 + u64::try_from(i).unwrap());
        }
    }

    #[test]
    fn hybrid_exchanges_have_the_specified_shape() {
        for (kex, init_len, reply_len, k_len) in [
            (&MLKEM768X25519_SHA256 as &dyn Kex, 1184 + 32, 1088 + 32, 32),
            (&SNTRUP761X25519_SHA512, 1158 + 32, 1039 + 32, 64),
            (&SNTRUP761X25519_SHA512_OPENSSH, 1158 + 32, 1039 + 32, 64),
        ] {
            let t = check_exchange(kex, 21);
            assert_eq!(
                KexEcdhInit::decode(&t.init).unwrap().client_public.len(),
                init_len
            );
            assert_eq!(
                KexEcdhReply::decode(&t.reply).unwrap().server_public.len(),
                reply_len
            );
            // K is a string of the hash length.
            let k = t.client.shared_secret.encoded();
            assert_eq!(k.len(), 4 + k_len);
            assert_eq!(k[..4], u32::try_from(k_len).unwrap().to_be_bytes());
        }
    }

    #[test]
    fn hybrid_framing_rejections() {
        check_framing_rejections(&MLKEM768X25519_SHA256);
        check_framing_rejections(&SNTRUP761X25519_SHA512);
    }

    /// Replaces the X25519 part (the last 32 bytes) of a hybrid value.
    fn with_x25519(value: &[u8], x: [u8; 32]) -> Vec<u8> {
        [&value[..value.len() - 32], &x].concat()
    }

    #[test]
    fn small_order_x25519_is_rejected_in_hybrids() {
        for kex in [&MLKEM768X25519_SHA256 as &dyn Kex, &SNTRUP761X25519_SHA512] {
            let t = run(kex, 31);
            let init = KexEcdhInit::decode(&t.init).unwrap().client_public;
            let reply = KexEcdhReply::decode(&t.reply).unwrap().server_public;
            let mut one = [0u8; 32];
            one[0] = 1;
            for point in [[0u8; 32], one] {
                assert!(matches!(
                    server_error(kex, &init_with(&with_x25519(init, point))),
                    AlgorithmError::InvalidPeerValue { .. }
                ));
                assert!(matches!(
                    client_error(kex, &reply_with(&with_x25519(reply, point))),
                    AlgorithmError::InvalidPeerValue { .. }
                ));
            }
        }
    }

    #[test]
    fn invalid_mlkem_key_is_rejected() {
        let kem = ml_kem_768::DecapsulationKey::from_seed([3u8; 64].into());
        let mut public = kem.encapsulation_key().to_bytes().to_vec();
        public.extend_from_slice(&h(BOB_PUBLIC));
        // The first 12-bit coefficient set to 4095, not below q = 3329.
        public[0] = 0xff;
        public[1] |= 0x0f;
        assert_eq!(
            server_error(&MLKEM768X25519_SHA256, &init_with(&public)),
            AlgorithmError::InvalidPeerValue {
                algorithm: "mlkem768x25519-sha256",
                reason: "ML-KEM-768 encapsulation key fails the FIPS 203 §7.2 modulus check",
            }
        );
    }

    #[test]
    fn wrong_lengths_name_the_parts() {
        assert_eq!(
            server_error(&MLKEM768X25519_SHA256, &init_with(&[1; 1184])),
            AlgorithmError::InvalidLength {
                algorithm: "mlkem768x25519-sha256",
                what: "C_INIT (ML-KEM-768 encapsulation key || X25519 public key)",
                expected: 1216,
                found: 1184,
            }
        );
        assert!(matches!(
            client_error(&MLKEM768X25519_SHA256, &reply_with(&vec![1; 1216])),
            AlgorithmError::InvalidLength {
                expected: 1120,
                found: 1216,
                ..
            }
        ));
        // An ML-KEM share offered to sntrup761 and the other way round.
        assert!(matches!(
            server_error(&SNTRUP761X25519_SHA512, &init_with(&vec![1; 1216])),
            AlgorithmError::InvalidLength { expected: 1190, .. }
        ));
        assert!(matches!(
            client_error(&SNTRUP761X25519_SHA512_OPENSSH, &reply_with(&vec![1; 1120])),
            AlgorithmError::InvalidLength {
                algorithm: "sntrup761x25519-sha512@openssh.com",
                expected: 1071,
                found: 1120,
                ..
            }
        ));
    }
}
