//! Finite-field Diffie-Hellman over fixed groups (RFC 4253 §8, RFC 8268),
//! and the arithmetic it shares with group exchange ([`super::gex`]).
//!
//! The client sends `e = g^x mod p` in SSH_MSG_KEXDH_INIT (30); the server
//! answers SSH_MSG_KEXDH_REPLY (31) with its host key K_S, `f = g^y mod p`
//! and its signature over
//!
//! ```text
//! H = HASH(string V_C || string V_S || string I_C || string I_S ||
//!          string K_S || mpint e || mpint f || mpint K)
//! ```
//!
//! where `K = f^x = e^y mod p`. Both sides reject a peer value outside
//! `1 < v < p - 1` (RFC 4253 §8), and, as OpenSSH does, a power of two
//! (with g = 2 its logarithm is known). A shared secret of 1 or p - 1 is
//! refused too.
//!
//! # Private exponents
//!
//! RFC 3526 §1 asks for exponents with twice the entropy of the group's
//! strength. sekura uses the strengths of NIST SP 800-57 Part 1 (Table 2,
//! with the usual estimates between its rows) and never fewer than 256
//! bits, rounded up to a multiple of 64:
//!
//! | modulus bits | strength | exponent bits |
//! |---|---|---|
//! | 1024 - 2047 | 80 | 256 |
//! | 2048 - 3071 | 112 | 256 |
//! | 3072 - 4095 | 128 | 256 |
//! | 4096 - 6143 | 152 | 320 |
//! | 6144 - 7679 | 176 | 384 |
//! | 7680 - 8191 | 192 | 384 |
//! | 8192 - 15359 | 200 | 448 |
//! | 15360 - 16384 | 256 | 512 |
//!
//! The cipher is not known to the key exchange, so unlike OpenSSH the
//! exponent does not grow with it; for every group above it already
//! exceeds twice the group's own strength, which bounds the session's.
//!
//! Arithmetic is crypto-bigint's constant-time Montgomery exponentiation;
//! exponents and shared secrets are zeroized when dropped.

use super::gex::{DH_GEX_SHA1, DH_GEX_SHA256};
use super::groups::{self, DhGroup, bit_length};
use crate::hash::{SHA1, SHA256, SHA512};
use crate::kex::HostKeySigner;
use crate::{
    Algorithm, AlgorithmError, CryptoRng, HashFunction, Kex, KexContext, KexExchange, KexOutput,
    KexStart, KexStep, Role, SharedSecret,
};
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use sekura_proto::msg::{KexDhInit, KexDhReply};
use sekura_proto::{DecodeError, Encode, Mpint, Writer, numbers};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The smallest modulus sekura computes with, whatever a configuration or
/// a peer asks for (group1's size).
pub const MIN_MODULUS_BITS: u32 = 1024;
/// The largest modulus sekura computes with: twice RFC 4419's 8192, so a
/// peer cannot make us spend unbounded time on one exchange.
pub const MAX_MODULUS_BITS: u32 = 16384;

/// How many fresh exponents to try before concluding the RNG is broken.
const KEYGEN_ATTEMPTS: usize = 8;

/// The private exponent size for a modulus of `modulus_bits` bits (see the
/// table in the module documentation).
#[must_use]
pub fn exponent_bits(modulus_bits: u32) -> u32 {
    // NIST SP 800-57 Part 1 Rev. 5, Table 2 (FFC: L = 1024 → 80, 2048 → 112,
    // 3072 → 128, 7680 → 192, 15360 → 256) plus the common estimates for
    // 4096 (152), 6144 (176) and 8192 (200); a size between rows gets the
    // strength of the row below it.
    let strength: u32 = match modulus_bits {
        15360.. => 256,
        8192.. => 200,
        7680.. => 192,
        6144.. => 176,
        4096.. => 152,
        3072.. => 128,
        2048.. => 112,
        _ => 80,
    };
    (2 * strength).max(256).next_multiple_of(64)
}

/// A group ready for exponentiation: its Montgomery parameters, generator
/// and the bounds peer values are checked against. Everything in it is
/// public.
pub(crate) struct PreparedGroup {
    params: BoxedMontyParams,
    generator: BoxedMontyForm,
    p_minus_1: BoxedUint,
    /// Bytes of p without leading zeros.
    p_len: usize,
    bits: u32,
}

impl PreparedGroup {
    /// Checks and prepares a group: p odd and between [`MIN_MODULUS_BITS`]
    /// and [`MAX_MODULUS_BITS`], `1 < g < p - 1`. Both are unsigned
    /// big-endian; leading zeros are ignored.
    pub(crate) fn new(prime: &[u8], generator: &[u8]) -> Result<Self, &'static str> {
        let prime = trim(prime);
        let generator = trim(generator);
        let bits = bit_length(prime);
        if bits < MIN_MODULUS_BITS {
            return Err("modulus is smaller than 1024 bits");
        }
        if bits > MAX_MODULUS_BITS {
            return Err("modulus is larger than 16384 bits");
        }
        let p = BoxedUint::from_be_slice(prime, bits).map_err(|_| "modulus does not fit")?;
        let p: Option<Odd<BoxedUint>> = Odd::new(p).into_option();
        let p = p.ok_or("modulus is even, expected an odd prime")?;
        let p_minus_1 = p.as_ref().wrapping_sub(BoxedUint::one_with_precision(bits));
        let params = BoxedMontyParams::new_vartime(p);
        if generator.len() > prime.len() {
            return Err("generator is not less than p - 1");
        }
        let g = BoxedUint::from_be_slice(generator, bits)
            .map_err(|_| "generator is not less than p - 1")?;
        if bit_length(generator) < 2 {
            return Err("generator is 0 or 1, expected 1 < g < p - 1");
        }
        if g >= p_minus_1 {
            return Err("generator is not less than p - 1");
        }
        Ok(PreparedGroup {
            generator: BoxedMontyForm::new(g, &params),
            params,
            p_minus_1,
            p_len: prime.len(),
            bits,
        })
    }

    /// Prepares one of the fixed groups.
    pub(crate) fn fixed(group: &DhGroup, algorithm: &'static str) -> Result<Self, AlgorithmError> {
        Self::new(group.prime(), &[group.generator()])
            .map_err(|reason| AlgorithmError::InvalidPeerValue { algorithm, reason })
    }

    fn precision(&self) -> u32 {
        self.params.bits_precision()
    }

    /// `g^x mod p` as unsigned big-endian bytes without leading zeros.
    pub(crate) fn public_value(&self, x: &Exponent) -> Vec<u8> {
        let y = self.generator.pow_bounded_exp(&x.value, x.bits).retrieve();
        trim(&y.to_be_bytes()).to_vec()
    }

    /// Makes a fresh key pair: a random exponent of [`exponent_bits`] bits
    /// and its public value, which passes [`PreparedGroup::check_peer_value`].
    pub(crate) fn generate(
        &self,
        rng: &mut dyn CryptoRng,
    ) -> Result<(Exponent, Vec<u8>), AlgorithmError> {
        let bits = exponent_bits(self.bits);
        let mut buf = Zeroizing::new(vec![0u8; (bits / 8) as usize]);
        for _ in 0..KEYGEN_ATTEMPTS {
            rng.fill_bytes(&mut buf);
            // x = 0 or 1 would publish 1 or g. Folded without branching on
            // the secret bytes.
            let high = buf.iter().rev().skip(1).fold(0, |acc, &b| acc | b);
            let low = buf.last().copied().unwrap_or(0);
            if (high | (low >> 1)) == 0 {
                continue;
            }
            let x = Exponent::from_be_bytes(&buf);
            let public = self.public_value(&x);
            if self.check_magnitude(&public).is_ok() {
                return Ok((x, public));
            }
        }
        Err(AlgorithmError::MissingInput(
            "a working random number generator (it produced only degenerate Diffie-Hellman exponents)",
        ))
    }

    /// Checks a peer's public value (e or f): `1 < v < p - 1` and not a
    /// power of two. Returns it as a number and as its magnitude bytes.
    pub(crate) fn check_peer_value<'m>(
        &self,
        value: &'m Mpint<'_>,
    ) -> Result<(BoxedUint, &'m [u8]), &'static str> {
        let magnitude = value.as_unsigned().ok_or("public value is negative")?;
        let v = self.check_magnitude(magnitude)?;
        Ok((v, magnitude))
    }

    fn check_magnitude(&self, magnitude: &[u8]) -> Result<BoxedUint, &'static str> {
        let magnitude = trim(magnitude);
        if magnitude.len() > self.p_len {
            return Err("public value is larger than p, expected 1 < value < p - 1");
        }
        let v = BoxedUint::from_be_slice(magnitude, self.precision())
            .map_err(|_| "public value is larger than p, expected 1 < value < p - 1")?;
        if bit_length(magnitude) < 2 {
            return Err("public value is 0 or 1, expected 1 < value < p - 1");
        }
        if v >= self.p_minus_1 {
            return Err("public value is p - 1 or larger, expected 1 < value < p - 1");
        }
        if magnitude.iter().map(|b| b.count_ones()).sum::<u32>() == 1 {
            return Err("public value is a power of two, whose logarithm base 2 is known");
        }
        Ok(v)
    }

    /// `K = peer^x mod p`, encoded as an mpint; refuses K = 0, 1 or p - 1.
    /// `peer` must come from [`PreparedGroup::check_peer_value`].
    pub(crate) fn shared_secret(
        &self,
        x: &Exponent,
        peer: BoxedUint,
    ) -> Result<SharedSecret, &'static str> {
        let base = BoxedMontyForm::new(peer, &self.params);
        let power = Zeroizing::new(base.pow_bounded_exp(&x.value, x.bits));
        let k = Zeroizing::new(power.retrieve());
        let k_bytes = Zeroizing::new(k.to_be_bytes());
        let zero = BoxedUint::zero_with_precision(self.precision()).to_be_bytes();
        let one = BoxedUint::one_with_precision(self.precision()).to_be_bytes();
        let p_minus_1 = self.p_minus_1.to_be_bytes();
        // Compared in constant time: K is the secret.
        let degenerate = k_bytes.ct_eq(&zero) | k_bytes.ct_eq(&one) | k_bytes.ct_eq(&p_minus_1);
        if bool::from(degenerate) {
            return Err("shared secret is 0, 1 or p - 1");
        }
        Ok(SharedSecret::from_mpint_unsigned(&k_bytes))
    }
}

/// A private exponent, zeroized on drop.
pub(crate) struct Exponent {
    value: Zeroizing<BoxedUint>,
    bits: u32,
}

impl Exponent {
    /// Reads an exponent from big-endian bytes; its size is theirs.
    pub(crate) fn from_be_bytes(bytes: &[u8]) -> Self {
        let bits = u32::try_from(bytes.len().saturating_mul(8)).unwrap_or(u32::MAX);
        Exponent {
            value: Zeroizing::new(BoxedUint::from_be_slice_truncated(bytes, bits)),
            bits,
        }
    }
}

/// The bytes after any leading zeros.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// The wrong-message error of a key exchange.
pub(crate) fn unexpected(
    algorithm: &'static str,
    expected: &'static str,
    found: u8,
) -> AlgorithmError {
    AlgorithmError::UnexpectedMessage {
        algorithm,
        expected,
        found,
    }
}

/// The message number of a payload.
pub(crate) fn message_number(payload: &[u8]) -> Result<u8, AlgorithmError> {
    payload
        .first()
        .copied()
        .ok_or(AlgorithmError::Decode(DecodeError::EmptyPayload))
}

/// The host key the server role needs.
pub(crate) fn server_host_key<'a>(
    ctx: &KexContext<'a>,
) -> Result<HostKeySigner<'a>, AlgorithmError> {
    ctx.host_key.ok_or(AlgorithmError::MissingInput(
        "a host key to sign the exchange hash with (server role)",
    ))
}

/// The server's last step of a finite-field exchange (fixed group or group
/// exchange): sign H and send the reply `encode` builds from the host key
/// blob and the signature.
pub(crate) fn signed_reply(
    ctx: &mut KexContext<'_>,
    signer: HostKeySigner<'_>,
    host_key: Vec<u8>,
    shared_secret: SharedSecret,
    exchange_hash: Vec<u8>,
    encode: impl FnOnce(&[u8], &[u8]) -> Vec<u8>,
) -> Result<KexStep, AlgorithmError> {
    let signature = signer
        .key
        .sign(signer.algorithm, &exchange_hash, &mut *ctx.rng)?;
    Ok(KexStep::Done {
        send: Some(encode(&host_key, &signature)),
        output: KexOutput {
            shared_secret,
            exchange_hash,
            host_key,
            signature,
        },
    })
}

/// A Diffie-Hellman method over a fixed group (`diffie-hellman-group*`).
#[derive(Clone, Copy)]
pub struct DhKex {
    name: &'static str,
    group: &'static DhGroup,
    hash: &'static dyn HashFunction,
}

impl DhKex {
    /// A method named `name` over `group`, hashing with `hash`.
    #[must_use]
    pub const fn new(
        name: &'static str,
        group: &'static DhGroup,
        hash: &'static dyn HashFunction,
    ) -> Self {
        DhKex { name, group, hash }
    }

    /// The group.
    #[must_use]
    pub const fn group(&self) -> &'static DhGroup {
        self.group
    }
}

impl core::fmt::Debug for DhKex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DhKex")
            .field("name", &self.name)
            .field("group", &self.group.name())
            .field("hash", &self.hash.name())
            .finish()
    }
}

/// `diffie-hellman-group1-sha1` (RFC 4253 §8.1): Oakley group 2, 1024
/// bits, SHA-1. Legacy: breakable by well-funded attackers (RFC 9142).
pub static DH_GROUP1_SHA1: DhKex = DhKex::new("diffie-hellman-group1-sha1", &groups::GROUP1, &SHA1);
/// `diffie-hellman-group14-sha1` (RFC 4253 §8.2): 2048 bits, SHA-1.
/// Legacy (RFC 9142: MAY).
pub static DH_GROUP14_SHA1: DhKex =
    DhKex::new("diffie-hellman-group14-sha1", &groups::GROUP14, &SHA1);
/// `diffie-hellman-group14-sha256` (RFC 8268 §3): 2048 bits, SHA-256.
pub static DH_GROUP14_SHA256: DhKex =
    DhKex::new("diffie-hellman-group14-sha256", &groups::GROUP14, &SHA256);
/// `diffie-hellman-group16-sha512` (RFC 8268 §3): 4096 bits, SHA-512.
pub static DH_GROUP16_SHA512: DhKex =
    DhKex::new("diffie-hellman-group16-sha512", &groups::GROUP16, &SHA512);
/// `diffie-hellman-group18-sha512` (RFC 8268 §3): 8192 bits, SHA-512.
pub static DH_GROUP18_SHA512: DhKex =
    DhKex::new("diffie-hellman-group18-sha512", &groups::GROUP18, &SHA512);

/// The finite-field methods offered by default, in OpenSSH 10's client
/// order (myproposal.h `KEX_CLIENT_KEX`, after the ECDH and hybrid ones).
pub static DH_DEFAULT: &[&dyn Kex] = &[
    &DH_GEX_SHA256,
    &DH_GROUP16_SHA512,
    &DH_GROUP18_SHA512,
    &DH_GROUP14_SHA256,
];

/// The finite-field methods a caller must ask for by name: SHA-1 and the
/// 1024-bit group.
pub static DH_LEGACY: &[&dyn Kex] = &[&DH_GROUP14_SHA1, &DH_GEX_SHA1, &DH_GROUP1_SHA1];

impl Algorithm for DhKex {
    fn name(&self) -> &str {
        self.name
    }
}

impl Kex for DhKex {
    fn hash(&self) -> &'static dyn HashFunction {
        self.hash
    }

    fn start(&self, role: Role, ctx: &mut KexContext<'_>) -> Result<KexStart, AlgorithmError> {
        let group = PreparedGroup::fixed(self.group, self.name)?;
        let (state, send) = match role {
            Role::Client => {
                let (x, e) = group.generate(&mut *ctx.rng)?;
                let init = KexDhInit {
                    e: Mpint::from_unsigned(&e),
                }
                .to_vec();
                (DhState::AwaitReply { x, e }, Some(init))
            }
            Role::Server => {
                server_host_key(ctx)?;
                (DhState::AwaitInit, None)
            }
        };
        Ok(KexStart {
            exchange: Box::new(DhExchange {
                name: self.name,
                hash: self.hash,
                group,
                state,
            }),
            send,
        })
    }
}

enum DhState {
    /// Client: KEXDH_INIT sent.
    AwaitReply { x: Exponent, e: Vec<u8> },
    /// Server: waiting for KEXDH_INIT.
    AwaitInit,
    /// Finished or failed: nothing more is accepted.
    Done,
}

struct DhExchange {
    name: &'static str,
    hash: &'static dyn HashFunction,
    group: PreparedGroup,
    state: DhState,
}

impl DhExchange {
    fn invalid(&self, reason: &'static str) -> AlgorithmError {
        AlgorithmError::InvalidPeerValue {
            algorithm: self.name,
            reason,
        }
    }
}

impl KexExchange for DhExchange {
    fn handle(
        &mut self,
        payload: &[u8],
        ctx: &mut KexContext<'_>,
    ) -> Result<KexStep, AlgorithmError> {
        let number = message_number(payload)?;
        // Whatever happens next, this exchange accepts no further message.
        match core::mem::replace(&mut self.state, DhState::Done) {
            DhState::AwaitReply { x, e } => {
                if number != numbers::KEX_31 {
                    return Err(unexpected(self.name, "KEXDH_REPLY (31)", number));
                }
                let reply = KexDhReply::decode(payload)?;
                let (f, f_bytes) = self
                    .group
                    .check_peer_value(&reply.f)
                    .map_err(|r| self.invalid(r))?;
                let k = self
                    .group
                    .shared_secret(&x, f)
                    .map_err(|r| self.invalid(r))?;
                let h = dh_exchange_hash(self.hash, ctx, reply.host_key, &e, f_bytes, &k);
                Ok(KexStep::Done {
                    send: None,
                    output: KexOutput {
                        shared_secret: k,
                        exchange_hash: h,
                        host_key: reply.host_key.to_vec(),
                        signature: reply.signature.to_vec(),
                    },
                })
            }
            DhState::AwaitInit => {
                if number != numbers::KEX_30 {
                    return Err(unexpected(self.name, "KEXDH_INIT (30)", number));
                }
                let signer = server_host_key(ctx)?;
                let init = KexDhInit::decode(payload)?;
                let (e, e_bytes) = self
                    .group
                    .check_peer_value(&init.e)
                    .map_err(|r| self.invalid(r))?;
                let (y, f) = self.group.generate(&mut *ctx.rng)?;
                let k = self
                    .group
                    .shared_secret(&y, e)
                    .map_err(|r| self.invalid(r))?;
                let host_key = signer.key.public_key_blob();
                let h = dh_exchange_hash(self.hash, ctx, &host_key, e_bytes, &f, &k);
                signed_reply(ctx, signer, host_key, k, h, |host_key, signature| {
                    KexDhReply {
                        host_key,
                        f: Mpint::from_unsigned(&f),
                        signature,
                    }
                    .to_vec()
                })
            }
            DhState::Done => Err(unexpected(
                self.name,
                "no message (exchange finished)",
                number,
            )),
        }
    }
}

/// H of RFC 4253 §8. `e` and `f` are unsigned magnitudes; `k` is K already
/// encoded as an mpint.
pub(crate) fn dh_exchange_hash(
    hash: &dyn HashFunction,
    ctx: &KexContext<'_>,
    host_key: &[u8],
    e: &[u8],
    f: &[u8],
    k: &SharedSecret,
) -> Vec<u8> {
    let mut h = hash.start();
    ctx.hash_prefix(h.as_mut(), host_key);
    h.put_mpint_unsigned(e);
    h.put_mpint_unsigned(f);
    h.put_raw(k.encoded());
    h.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use crate::SigningKey;
    use crate::hash::tests::hex;
    use crate::sig::encode_signature;
    use alloc::string::String;
    use core::convert::Infallible;
    use rand_core::{TryCryptoRng, TryRng};

    // The transcript every test exchange runs over. The Python one-liners
    // that produced the known answers below use the same values.
    pub(crate) const V_C: &[u8] = b"SSH-2.0-sekura_test_client";
    pub(crate) const V_S: &[u8] = b"SSH-2.0-sekura_test_server";
    pub(crate) const I_C: &[u8] = b"\x14client kexinit payload";
    pub(crate) const I_S: &[u8] = b"\x14server kexinit payload";

    /// Fixed exponents of the known-answer exchanges (32 bytes = the 256
    /// bits `exponent_bits` gives groups of 2048 and 3072 bits).
    pub(crate) const CLIENT_X: &str =
        "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";
    pub(crate) const SERVER_Y: &str =
        "7e57ab1e5eed0fc0ffee15900dd15ea5edba5eba11c0ffeedeadbeefcafef00d";

    /// Deterministic randomness: first the queued bytes (to fix an
    /// exponent), then a SHA-256 counter stream.
    pub(crate) struct TestRng {
        queue: Vec<u8>,
        seed: u8,
        counter: u64,
    }

    impl TestRng {
        pub(crate) fn seeded(seed: u8) -> Self {
            TestRng {
                queue: Vec::new(),
                seed,
                counter: 0,
            }
        }

        pub(crate) fn replaying(bytes: &[u8]) -> Self {
            TestRng {
                queue: bytes.to_vec(),
                seed: 0xee,
                counter: 0,
            }
        }
    }

    impl TryRng for TestRng {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            let mut b = [0; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_be_bytes(b))
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            let mut b = [0; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_be_bytes(b))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            for byte in dst {
                if self.queue.is_empty() {
                    let mut block = [0u8; 9];
                    block[0] = self.seed;
                    block[1..].copy_from_slice(&self.counter.to_be_bytes());
                    self.counter += 1;
                    self.queue = SHA256.digest(&[&block]);
                }
                *byte = self.queue.remove(0);
            }
            Ok(())
        }
    }

    impl TryCryptoRng for TestRng {}

    /// A generator stuck at zero.
    pub(crate) struct ZeroRng;

    impl TryRng for ZeroRng {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            dst.fill(0);
            Ok(())
        }
    }

    impl TryCryptoRng for ZeroRng {}

    /// A host key whose "signature" is `string "ssh-test", string
    /// SHA-256(message)`, enough to see that the server signed H.
    pub(crate) struct TestKey;

    pub(crate) fn test_signature(h: &[u8]) -> Vec<u8> {
        encode_signature("ssh-test", &SHA256.digest(&[h]))
    }

    impl SigningKey for TestKey {
        fn key_type(&self) -> &str {
            "ssh-test"
        }
        fn public_key_blob(&self) -> Vec<u8> {
            let mut blob = Vec::new();
            blob.put_str("ssh-test");
            blob.put_str("test host key");
            blob
        }
        fn signature_algorithms(&self) -> Vec<&str> {
            alloc::vec!["ssh-test"]
        }
        fn sign(
            &self,
            algorithm: &str,
            message: &[u8],
            _rng: &mut dyn CryptoRng,
        ) -> Result<Vec<u8>, AlgorithmError> {
            if algorithm != "ssh-test" {
                return Err(AlgorithmError::UnsupportedSignature {
                    key_type: String::from("ssh-test"),
                    algorithm: String::from(algorithm),
                });
            }
            Ok(test_signature(message))
        }
    }

    pub(crate) static TEST_KEY: TestKey = TestKey;

    pub(crate) fn context<'a>(rng: &'a mut dyn CryptoRng, server: bool) -> KexContext<'a> {
        KexContext {
            client_version: V_C,
            server_version: V_S,
            client_kexinit: I_C,
            server_kexinit: I_S,
            host_key: server.then_some(HostKeySigner {
                key: &TEST_KEY,
                algorithm: "ssh-test",
            }),
            rng,
        }
    }

    /// Both outputs and every message sent, in order.
    pub(crate) struct Run {
        pub(crate) client: KexOutput,
        pub(crate) server: KexOutput,
        pub(crate) messages: Vec<Vec<u8>>,
    }

    /// Runs a whole exchange in memory, `client` and `server` possibly
    /// configured differently.
    pub(crate) fn run_pair(
        client: &dyn Kex,
        server: &dyn Kex,
        client_rng: &mut dyn CryptoRng,
        server_rng: &mut dyn CryptoRng,
    ) -> Result<Run, AlgorithmError> {
        let mut c = context(client_rng, false);
        let mut s = context(server_rng, true);
        let started = client.start(Role::Client, &mut c)?;
        let mut client_x = started.exchange;
        let server_start = server.start(Role::Server, &mut s)?;
        assert!(server_start.send.is_none(), "the server speaks second");
        let mut server_x = server_start.exchange;
        let mut messages = Vec::new();
        let mut to_server = started.send.expect("the client speaks first");
        loop {
            messages.push(to_server.clone());
            match server_x.handle(&to_server, &mut s)? {
                KexStep::Send(to_client) => {
                    messages.push(to_client.clone());
                    match client_x.handle(&to_client, &mut c)? {
                        KexStep::Send(next) => to_server = next,
                        KexStep::Done { .. } => panic!("client finished before the server"),
                    }
                }
                KexStep::Done { send, output } => {
                    let reply = send.expect("the server's last step sends its reply");
                    messages.push(reply.clone());
                    match client_x.handle(&reply, &mut c)? {
                        KexStep::Done {
                            send: None,
                            output: client,
                        } => {
                            return Ok(Run {
                                client,
                                server: output,
                                messages,
                            });
                        }
                        _ => panic!("client did not finish on the server's reply"),
                    }
                }
            }
        }
    }

    pub(crate) fn run(
        kex: &dyn Kex,
        client_rng: &mut dyn CryptoRng,
        server_rng: &mut dyn CryptoRng,
    ) -> Result<Run, AlgorithmError> {
        run_pair(kex, kex, client_rng, server_rng)
    }

    /// Checks what every successful exchange must give.
    pub(crate) fn check_agreement(kex: &dyn Kex, run: &Run) {
        assert_eq!(
            run.client.shared_secret.encoded(),
            run.server.shared_secret.encoded(),
            "{}: K",
            kex.name()
        );
        assert_eq!(run.client.exchange_hash, run.server.exchange_hash);
        assert_eq!(run.client.exchange_hash.len(), kex.hash().output_len());
        assert_eq!(run.client.host_key, TEST_KEY.public_key_blob());
        assert_eq!(run.server.host_key, TEST_KEY.public_key_blob());
        assert_eq!(
            run.client.signature,
            test_signature(&run.client.exchange_hash)
        );
        assert_eq!(run.server.signature, run.client.signature);
    }

    pub(crate) fn sha256_hex(bytes: &[u8]) -> Vec<u8> {
        SHA256.digest(&[bytes])
    }

    /// `magnitude + delta` for small deltas, big-endian, growing if needed.
    pub(crate) fn add_small(magnitude: &[u8], delta: i16) -> Vec<u8> {
        let mut out = magnitude.to_vec();
        let mut carry = i32::from(delta);
        for byte in out.iter_mut().rev() {
            let v = i32::from(*byte) + carry;
            *byte = v.rem_euclid(256) as u8;
            carry = v.div_euclid(256);
        }
        if carry > 0 {
            out.insert(0, carry as u8);
        }
        out
    }

    fn invalid_reason(err: AlgorithmError) -> &'static str {
        match err {
            AlgorithmError::InvalidPeerValue { reason, .. } => reason,
            other => panic!("expected InvalidPeerValue, got {other:?}"),
        }
    }

    #[test]
    fn exponent_sizes_follow_the_documented_rule() {
        let table = [
            (1024, 256),
            (2047, 256),
            (2048, 256),
            (3072, 256),
            (4096, 320),
            (6144, 384),
            (7680, 384),
            (8192, 448),
            (15360, 512),
            (16384, 512),
        ];
        for (bits, expected) in table {
            assert_eq!(exponent_bits(bits), expected, "{bits}-bit modulus");
            // At least twice the group's strength and 256 bits, whole limbs.
            assert!(expected >= 256 && expected % 64 == 0);
        }
    }

    #[test]
    fn modpow_known_answer() {
        // python3 -c "print(format(pow(2, 0xdeadbeefcafebabe0123456789, P14), '0512x'))"
        // with P14 the RFC 3526 §3 prime.
        let group = PreparedGroup::fixed(&groups::GROUP14, "test").unwrap();
        let x = Exponent::from_be_bytes(&hex("deadbeefcafebabe0123456789"));
        assert_eq!(
            group.public_value(&x),
            hex(concat!(
                "323f69216e5a7c25e89e4e8e04db224ac5c6caed54263a0daf9569b46ea8ea34",
                "de6ba70871912a708b1f18ee8c46372dbb0da2b3404d0e7311d0ad2ed5a7a1d0",
                "b65a3d5dca1e1d93d49e19efe9a22b004cc752ddb1aad2f4684d202ce42eca5b",
                "83eba8b8dbb4e95f03c7440c0e7ae285d2803583b6592fa26eeb91b0ed9a30ee",
                "79a74ddad254c31e0d89b0c2065910927f5800de6dc8e0d1b8d653fef33e6526",
                "e96b630dd20a53211c706f44b564d8b6d959de551460603e0b520f1e31a397c3",
                "f6d99deb33e24d34a2ec2dabde874afdf806463bd683fbd462c2c83bbd7bbbaa",
                "6b17b50e1d27a56bd83e1b03ae0064ae91b6b3ab15bfbe32e92c22c9dc11f8c4",
            ))
        );
        // Small exponents the reader can check by eye: 2^1, 2^10, 2^0.
        assert_eq!(group.public_value(&Exponent::from_be_bytes(&[1])), [2]);
        assert_eq!(group.public_value(&Exponent::from_be_bytes(&[10])), [4, 0]);
        assert_eq!(group.public_value(&Exponent::from_be_bytes(&[0])), [1]);
    }

    #[test]
    fn group14_sha256_known_answer() {
        // Computed with Python at writing time (hashlib, pow):
        //   e = pow(2, X, P14); f = pow(2, Y, P14); K = pow(e, Y, P14)
        //   H = sha256(string(V_C) + string(V_S) + string(I_C) + string(I_S)
        //              + string(K_S) + mpint(e) + mpint(f) + mpint(K))
        // with K_S = string("ssh-test") + string("test host key") and the
        // messages of RFC 4253 §8 around them.
        let mut c = TestRng::replaying(&hex(CLIENT_X));
        let mut s = TestRng::replaying(&hex(SERVER_Y));
        let run = run(&DH_GROUP14_SHA256, &mut c, &mut s).unwrap();
        check_agreement(&DH_GROUP14_SHA256, &run);
        assert_eq!(run.messages.len(), 2);
        assert_eq!(run.messages[0][0], 30);
        assert_eq!(
            sha256_hex(&run.messages[0]),
            hex("49081d948472a73bbf6e698c7faed32c870989b7b4cc66dbd397138efb21d76f")
        );
        assert_eq!(
            sha256_hex(run.client.shared_secret.encoded()),
            hex("8fc4e81cb37d8f0f5b6007f210e3f89e8ebb4abe67f81e8c5a7f8e2581a1072e")
        );
        assert_eq!(
            run.client.exchange_hash,
            hex("05370bc2a7130757e1be4f532000633ea78ebd5f8582ee67e5a77122494d60bd")
        );
        assert_eq!(run.messages[1][0], 31);
        assert_eq!(
            sha256_hex(&run.messages[1]),
            hex("c3d03beb454c0d77485488620f493376ef3f7f5987060e6b6f3a2843adc6f6ae")
        );
    }

    #[test]
    fn every_fixed_group_method_agrees() {
        for (i, kex) in [
            &DH_GROUP1_SHA1,
            &DH_GROUP14_SHA1,
            &DH_GROUP14_SHA256,
            &DH_GROUP16_SHA512,
            &DH_GROUP18_SHA512,
        ]
        .into_iter()
        .enumerate()
        {
            let seed = u8::try_from(i).unwrap();
            let run = run(
                kex,
                &mut TestRng::seeded(seed),
                &mut TestRng::seeded(seed + 100),
            )
            .unwrap();
            check_agreement(kex, &run);
            // K and e are as long as the group (give or take a byte).
            let p_len = kex.group().prime().len();
            assert!(run.client.shared_secret.encoded().len() <= p_len + 5);
            assert!(run.client.shared_secret.encoded().len() >= p_len - 8);
        }
    }

    #[test]
    fn different_randomness_different_secrets() {
        let a = run(
            &DH_GROUP14_SHA256,
            &mut TestRng::seeded(1),
            &mut TestRng::seeded(2),
        )
        .unwrap();
        let b = run(
            &DH_GROUP14_SHA256,
            &mut TestRng::seeded(1),
            &mut TestRng::seeded(3),
        )
        .unwrap();
        assert_eq!(a.messages[0], b.messages[0], "same client exponent");
        assert_ne!(
            a.client.shared_secret.encoded(),
            b.client.shared_secret.encoded()
        );
        assert_ne!(a.client.exchange_hash, b.client.exchange_hash);
    }

    #[test]
    fn exchange_hash_layout() {
        // RFC 4253 §8: H = HASH(V_C || V_S || I_C || I_S || K_S || e || f || K),
        // written out by hand. e has its top bit set (needs a zero byte as
        // an mpint), f has leading zeros to drop.
        let mut rng = TestRng::seeded(0);
        let ctx = context(&mut rng, false);
        let k_s = b"\x00\x00\x00\x03key";
        let k = SharedSecret::from_mpint_unsigned(&[0x12, 0x34]);
        let h = dh_exchange_hash(&SHA256, &ctx, k_s, &[0x80, 1], &[0, 0, 0x7f], &k);
        let mut expected = Vec::new();
        for part in [V_C, V_S, I_C, I_S, &k_s[..]] {
            expected.extend_from_slice(&(part.len() as u32).to_be_bytes());
            expected.extend_from_slice(part);
        }
        expected.extend_from_slice(&[0, 0, 0, 3, 0, 0x80, 1]);
        expected.extend_from_slice(&[0, 0, 0, 1, 0x7f]);
        expected.extend_from_slice(&[0, 0, 0, 2, 0x12, 0x34]);
        assert_eq!(h, SHA256.digest(&[&expected]));
        assert_eq!(
            dh_exchange_hash(&SHA512, &ctx, k_s, &[0x80, 1], &[0, 0, 0x7f], &k),
            SHA512.digest(&[&expected])
        );
    }

    /// Encoded peer values that must be refused, and what is said about them.
    pub(crate) fn bad_values(prime: &[u8]) -> Vec<(Vec<u8>, &'static str)> {
        let mpint = |magnitude: &[u8]| {
            let mut w = Vec::new();
            w.put_mpint_unsigned(magnitude);
            w
        };
        let mut longer = alloc::vec![1u8];
        longer.extend_from_slice(prime);
        alloc::vec![
            (
                mpint(&[]),
                "public value is 0 or 1, expected 1 < value < p - 1"
            ),
            (
                mpint(&[1]),
                "public value is 0 or 1, expected 1 < value < p - 1"
            ),
            (
                mpint(&add_small(prime, -1)),
                "public value is p - 1 or larger, expected 1 < value < p - 1"
            ),
            (
                mpint(prime),
                "public value is p - 1 or larger, expected 1 < value < p - 1"
            ),
            (
                mpint(&add_small(prime, 1)),
                "public value is p - 1 or larger, expected 1 < value < p - 1"
            ),
            (
                mpint(&longer),
                "public value is larger than p, expected 1 < value < p - 1"
            ),
            (
                mpint(&[0x01, 0, 0]),
                "public value is a power of two, whose logarithm base 2 is known"
            ),
            (
                alloc::vec![0, 0, 0, 2, 0xff, 0x01],
                "public value is negative"
            ),
        ]
    }

    #[test]
    fn server_rejects_bad_e() {
        // p + 1 does not grow a byte (p starts with 64 one bits, not
        // ends): it is caught by the comparison, the longer value by its
        // length.
        assert_eq!(
            add_small(groups::GROUP14.prime(), 1).len(),
            groups::GROUP14.prime().len()
        );
        for (value, reason) in bad_values(groups::GROUP14.prime()) {
            let mut rng = TestRng::seeded(5);
            let mut ctx = context(&mut rng, true);
            let mut server = DH_GROUP14_SHA256
                .start(Role::Server, &mut ctx)
                .unwrap()
                .exchange;
            let mut init = alloc::vec![30];
            init.extend_from_slice(&value);
            let err = server.handle(&init, &mut ctx).err().unwrap();
            assert_eq!(invalid_reason(err), reason, "e = {value:02x?}");
        }
    }

    #[test]
    fn client_rejects_bad_f() {
        for (value, reason) in bad_values(groups::GROUP14.prime()) {
            let mut rng = TestRng::seeded(6);
            let mut ctx = context(&mut rng, false);
            let mut client = DH_GROUP14_SHA256
                .start(Role::Client, &mut ctx)
                .unwrap()
                .exchange;
            let mut reply = alloc::vec![31];
            reply.put_string(&TEST_KEY.public_key_blob());
            reply.extend_from_slice(&value);
            reply.put_string(b"signature");
            let err = client.handle(&reply, &mut ctx).err().unwrap();
            assert_eq!(invalid_reason(err), reason, "f = {value:02x?}");
        }
    }

    #[test]
    fn degenerate_shared_secrets_are_refused() {
        let group = PreparedGroup::fixed(&groups::GROUP14, "test").unwrap();
        let p_minus_1 =
            BoxedUint::from_be_slice(&add_small(groups::GROUP14.prime(), -1), group.precision())
                .unwrap();
        // (p-1)^2 = 1 and (p-1)^3 = p-1 (mod p).
        for x in [2u8, 3] {
            assert_eq!(
                group
                    .shared_secret(&Exponent::from_be_bytes(&[x]), p_minus_1.clone())
                    .err(),
                Some("shared secret is 0, 1 or p - 1")
            );
        }
        let zero = BoxedUint::zero_with_precision(group.precision());
        assert!(
            group
                .shared_secret(&Exponent::from_be_bytes(&[5]), zero)
                .is_err()
        );
        let three = BoxedUint::from_be_slice(&[3], group.precision()).unwrap();
        let k = group
            .shared_secret(&Exponent::from_be_bytes(&[4]), three)
            .unwrap();
        assert_eq!(k.encoded(), [0, 0, 0, 1, 81]);
    }

    #[test]
    fn unexpected_and_malformed_messages() {
        let mut rng = TestRng::seeded(7);
        let mut ctx = context(&mut rng, false);
        let mut client = DH_GROUP14_SHA256
            .start(Role::Client, &mut ctx)
            .unwrap()
            .exchange;
        assert!(matches!(
            client.handle(&[30, 0, 0, 0, 0], &mut ctx),
            Err(AlgorithmError::UnexpectedMessage {
                algorithm: "diffie-hellman-group14-sha256",
                found: 30,
                ..
            })
        ));

        let mut client = DH_GROUP14_SHA256
            .start(Role::Client, &mut ctx)
            .unwrap()
            .exchange;
        assert!(matches!(
            client.handle(&[], &mut ctx),
            Err(AlgorithmError::Decode(DecodeError::EmptyPayload))
        ));
        let mut client = DH_GROUP14_SHA256
            .start(Role::Client, &mut ctx)
            .unwrap()
            .exchange;
        // A reply whose host key string claims more bytes than follow.
        assert!(matches!(
            client.handle(&[31, 0, 0, 1, 0, 1, 2], &mut ctx),
            Err(AlgorithmError::Decode(DecodeError::Truncated { .. }))
        ));
        // Once failed, the exchange accepts nothing more.
        assert!(matches!(
            client.handle(&[31], &mut ctx),
            Err(AlgorithmError::UnexpectedMessage { found: 31, .. })
        ));

        let mut rng = TestRng::seeded(8);
        let mut ctx = context(&mut rng, true);
        let mut server = DH_GROUP1_SHA1
            .start(Role::Server, &mut ctx)
            .unwrap()
            .exchange;
        assert!(matches!(
            server.handle(&[31], &mut ctx),
            Err(AlgorithmError::UnexpectedMessage {
                algorithm: "diffie-hellman-group1-sha1",
                found: 31,
                ..
            })
        ));
        let mut server = DH_GROUP1_SHA1
            .start(Role::Server, &mut ctx)
            .unwrap()
            .exchange;
        // Trailing bytes after e.
        assert!(matches!(
            server.handle(&[30, 0, 0, 0, 1, 5, 9], &mut ctx),
            Err(AlgorithmError::Decode(DecodeError::TrailingData { .. }))
        ));
    }

    #[test]
    fn finished_exchange_accepts_nothing() {
        let mut crng = TestRng::seeded(9);
        let mut srng = TestRng::seeded(10);
        let mut c = context(&mut crng, false);
        let mut s = context(&mut srng, true);
        let start = DH_GROUP14_SHA256.start(Role::Client, &mut c).unwrap();
        let mut server = DH_GROUP14_SHA256
            .start(Role::Server, &mut s)
            .unwrap()
            .exchange;
        let init = start.send.unwrap();
        assert!(matches!(
            server.handle(&init, &mut s),
            Ok(KexStep::Done { send: Some(_), .. })
        ));
        assert!(matches!(
            server.handle(&init, &mut s),
            Err(AlgorithmError::UnexpectedMessage { found: 30, .. })
        ));
    }

    #[test]
    fn server_needs_a_host_key() {
        let mut rng = TestRng::seeded(11);
        let mut ctx = context(&mut rng, false);
        assert!(matches!(
            DH_GROUP14_SHA256.start(Role::Server, &mut ctx),
            Err(AlgorithmError::MissingInput(_))
        ));
    }

    #[test]
    fn broken_rng_is_an_error_not_a_hang() {
        let mut rng = ZeroRng;
        let mut ctx = context(&mut rng, false);
        assert!(matches!(
            DH_GROUP14_SHA256.start(Role::Client, &mut ctx),
            Err(AlgorithmError::MissingInput(_))
        ));
    }

    #[test]
    fn exponents_below_two_are_redrawn() {
        let group = PreparedGroup::fixed(&groups::GROUP14, "test").unwrap();
        for tiny in [0u8, 1] {
            let mut bytes = alloc::vec![0u8; 31];
            bytes.push(tiny);
            bytes.extend_from_slice(&hex(CLIENT_X));
            let (_, e) = group.generate(&mut TestRng::replaying(&bytes)).unwrap();
            let expected = group.public_value(&Exponent::from_be_bytes(&hex(CLIENT_X)));
            assert_eq!(e, expected);
        }
        // Exponent 2 passes the cheap check but publishes 4, a power of
        // two, which peers refuse: it is redrawn too.
        let mut bytes = alloc::vec![0u8; 31];
        bytes.push(2);
        bytes.extend_from_slice(&hex(CLIENT_X));
        let (_, e) = group.generate(&mut TestRng::replaying(&bytes)).unwrap();
        assert_eq!(
            e,
            group.public_value(&Exponent::from_be_bytes(&hex(CLIENT_X)))
        );
    }

    #[test]
    fn group_preparation_checks() {
        let p = groups::GROUP14.prime();
        assert!(PreparedGroup::new(p, &[2]).is_ok());
        assert!(PreparedGroup::new(&[&[0, 0][..], p].concat(), &[0, 2]).is_ok());
        assert_eq!(
            PreparedGroup::new(p, &[1]).err(),
            Some("generator is 0 or 1, expected 1 < g < p - 1")
        );
        assert_eq!(
            PreparedGroup::new(p, &[]).err(),
            Some("generator is 0 or 1, expected 1 < g < p - 1")
        );
        assert_eq!(
            PreparedGroup::new(p, &add_small(p, -1)).err(),
            Some("generator is not less than p - 1")
        );
        assert_eq!(
            PreparedGroup::new(&add_small(p, -1), &[2]).err(),
            Some("modulus is even, expected an odd prime")
        );
        assert_eq!(
            PreparedGroup::new(&p[..100], &[2]).err(),
            Some("modulus is smaller than 1024 bits")
        );
        let huge = alloc::vec![0xffu8; 2049];
        assert_eq!(
            PreparedGroup::new(&huge, &[2]).err(),
            Some("modulus is larger than 16384 bits")
        );
    }

    #[test]
    fn names_and_default_order() {
        let names = |list: &[&dyn Kex]| -> Vec<String> {
            list.iter().map(|k| String::from(k.name())).collect()
        };
        // OpenSSH 10 myproposal.h, KEX_CLIENT_KEX after the ECDH/hybrids.
        assert_eq!(
            names(DH_DEFAULT),
            [
                "diffie-hellman-group-exchange-sha256",
                "diffie-hellman-group16-sha512",
                "diffie-hellman-group18-sha512",
                "diffie-hellman-group14-sha256",
            ]
        );
        assert_eq!(
            names(DH_LEGACY),
            [
                "diffie-hellman-group14-sha1",
                "diffie-hellman-group-exchange-sha1",
                "diffie-hellman-group1-sha1",
            ]
        );
        assert_eq!(DH_GROUP14_SHA1.hash().name(), "sha1");
        assert_eq!(DH_GROUP14_SHA256.hash().name(), "sha256");
        assert_eq!(DH_GROUP16_SHA512.hash().name(), "sha512");
        assert_eq!(DH_GROUP18_SHA512.hash().name(), "sha512");
        assert_eq!(DH_GROUP1_SHA1.group().bits(), 1024);
        assert!(DH_GROUP14_SHA256.needs_signing_host_key());
    }
}
