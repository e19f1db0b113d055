//! Elliptic curve Diffie-Hellman over the NIST curves (RFC 5656 §4), and
//! the message flow every method of that shape shares.
//!
//! `ecdh-sha2-*`, `curve25519-sha256` (RFC 8731) and the post-quantum
//! hybrids (`mlkem768x25519-sha256`, `sntrup761x25519-sha512`) all speak
//! the same two messages:
//!
//! ```text
//! C -> S  SSH_MSG_KEX_ECDH_INIT   (30)  string Q_C
//! S -> C  SSH_MSG_KEX_ECDH_REPLY  (31)  string K_S, string Q_S, string signature
//! H = HASH(string V_C || string V_S || string I_C || string I_S || string K_S
//!          || string Q_C || string Q_S || K)
//! ```
//!
//! and differ only in what Q_C, Q_S and K are. That difference is a
//! `KemMethod`: every one of them is a key encapsulation seen from the
//! wire (the client publishes a key, the server answers with a value only
//! the client can turn into K), so one state machine (`start`) serves them
//! all.

use super::dh::server_host_key;
use crate::hash::{SHA256, SHA384, SHA512};
use crate::{
    Algorithm, AlgorithmError, HashFunction, Kex, KexContext, KexExchange, KexOutput, KexStart,
    KexStep, Role, SharedSecret,
};
use alloc::boxed::Box;
use alloc::vec::Vec;
use p256::elliptic_curve::sec1::{FromSec1Point, ModulusSize, ToSec1Point};
use p256::elliptic_curve::{
    AffinePoint, CurveArithmetic, FieldBytesSize, Generate, PublicKey, SecretKey,
};
use rand_core::CryptoRng;
use sekura_proto::msg::{Encode, KexEcdhInit, KexEcdhReply};
use sekura_proto::numbers::{KEX_30, KEX_31};
use sekura_proto::{DecodeError, Writer};

/// A key-exchange method in the shape of RFC 5656 §4, seen as a key
/// encapsulation: the client's INIT carries a public value, the server
/// answers with its own and both derive K.
pub(crate) trait KemMethod: Copy + Send + Sync + 'static {
    /// What the client keeps between its INIT and the server's REPLY (its
    /// ephemeral private keys); zeroized on drop.
    type ClientSecret: Send;

    /// The method's name, for errors.
    fn method_name(&self) -> &'static str;

    /// HASH of the exchange hash and of key derivation.
    fn method_hash(&self) -> &'static dyn HashFunction;

    /// Client: makes the ephemeral secret and Q_C.
    fn client_init(
        &self,
        rng: &mut dyn CryptoRng,
    ) -> Result<(Self::ClientSecret, Vec<u8>), AlgorithmError>;

    /// Server: checks Q_C and makes Q_S and K.
    fn server_reply(
        &self,
        client_public: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<(Vec<u8>, SharedSecret), AlgorithmError>;

    /// Client: checks Q_S and derives K.
    fn client_finish(
        &self,
        secret: Self::ClientSecret,
        server_public: &[u8],
    ) -> Result<SharedSecret, AlgorithmError>;
}

/// Starts an exchange of `method` in `role`: the client sends
/// KEX_ECDH_INIT at once, the server waits for it.
pub(crate) fn start<M: KemMethod>(
    method: M,
    role: Role,
    ctx: &mut KexContext<'_>,
) -> Result<KexStart, AlgorithmError> {
    match role {
        Role::Client => {
            let (secret, client_public) = method.client_init(&mut *ctx.rng)?;
            let init = KexEcdhInit {
                client_public: &client_public,
            }
            .to_vec();
            Ok(KexStart {
                exchange: Box::new(EcdhExchange {
                    method,
                    state: State::AwaitReply {
                        secret,
                        client_public,
                    },
                }),
                send: Some(init),
            })
        }
        Role::Server => {
            // Fail now rather than after the client has spent its INIT.
            server_host_key(ctx)?;
            Ok(KexStart {
                exchange: Box::new(EcdhExchange {
                    method,
                    state: State::AwaitInit,
                }),
                send: None,
            })
        }
    }
}

enum State<S> {
    /// Server: waiting for KEX_ECDH_INIT.
    AwaitInit,
    /// Client: INIT sent, waiting for KEX_ECDH_REPLY.
    AwaitReply { secret: S, client_public: Vec<u8> },
    /// Finished (or failed): nothing more is expected.
    Done,
}

struct EcdhExchange<M: KemMethod> {
    method: M,
    state: State<M::ClientSecret>,
}

impl<M: KemMethod> EcdhExchange<M> {
    fn unexpected(&self, expected: &'static str, found: u8) -> AlgorithmError {
        AlgorithmError::UnexpectedMessage {
            algorithm: self.method.method_name(),
            expected,
            found,
        }
    }
}

impl<M: KemMethod> KexExchange for EcdhExchange<M> {
    fn handle(
        &mut self,
        payload: &[u8],
        ctx: &mut KexContext<'_>,
    ) -> Result<KexStep, AlgorithmError> {
        let number = *payload.first().ok_or(DecodeError::EmptyPayload)?;
        let expected = match self.state {
            State::AwaitInit => (KEX_30, "SSH_MSG_KEX_ECDH_INIT (30)"),
            State::AwaitReply { .. } => (KEX_31, "SSH_MSG_KEX_ECDH_REPLY (31)"),
            State::Done => (0, "no further key exchange message"),
        };
        if number != expected.0 || matches!(self.state, State::Done) {
            return Err(self.unexpected(expected.1, number));
        }
        // Whatever happens next, this exchange is over: a failed key
        // exchange is never retried with the same ephemeral keys.
        match core::mem::replace(&mut self.state, State::Done) {
            State::AwaitInit => self.server_handle_init(payload, ctx),
            State::AwaitReply {
                secret,
                client_public,
            } => self.client_handle_reply(payload, ctx, secret, &client_public),
            State::Done => Err(self.unexpected(expected.1, number)),
        }
    }
}

impl<M: KemMethod> EcdhExchange<M> {
    fn server_handle_init(
        &self,
        payload: &[u8],
        ctx: &mut KexContext<'_>,
    ) -> Result<KexStep, AlgorithmError> {
        let init = KexEcdhInit::decode(payload)?;
        let host_key = server_host_key(ctx)?;
        let (server_public, shared_secret) = self
            .method
            .server_reply(init.client_public, &mut *ctx.rng)?;
        let k_s = host_key.key.public_key_blob();
        let exchange_hash = exchange_hash(
            self.method.method_hash(),
            ctx,
            &k_s,
            init.client_public,
            &server_public,
            &shared_secret,
        );
        let signature = host_key
            .key
            .sign(host_key.algorithm, &exchange_hash, &mut *ctx.rng)?;
        let reply = KexEcdhReply {
            host_key: &k_s,
            server_public: &server_public,
            signature: &signature,
        }
        .to_vec();
        Ok(KexStep::Done {
            send: Some(reply),
            output: KexOutput {
                shared_secret,
                exchange_hash,
                host_key: k_s,
                signature,
            },
        })
    }

    fn client_handle_reply(
        &self,
        payload: &[u8],
        ctx: &KexContext<'_>,
        secret: M::ClientSecret,
        client_public: &[u8],
    ) -> Result<KexStep, AlgorithmError> {
        let reply = KexEcdhReply::decode(payload)?;
        let shared_secret = self.method.client_finish(secret, reply.server_public)?;
        let exchange_hash = exchange_hash(
            self.method.method_hash(),
            ctx,
            reply.host_key,
            client_public,
            reply.server_public,
            &shared_secret,
        );
        // The signature is the transport's to verify, against K_S.
        Ok(KexStep::Done {
            send: None,
            output: KexOutput {
                shared_secret,
                exchange_hash,
                host_key: reply.host_key.to_vec(),
                signature: reply.signature.to_vec(),
            },
        })
    }
}

/// H of RFC 5656 §4, with K already encoded as the method says (an mpint
/// for ECDH, a string for the hybrids).
fn exchange_hash(
    hash: &dyn HashFunction,
    ctx: &KexContext<'_>,
    host_key: &[u8],
    client_public: &[u8],
    server_public: &[u8],
    shared_secret: &SharedSecret,
) -> Vec<u8> {
    let mut h = hash.start();
    ctx.hash_prefix(&mut *h, host_key);
    h.put_string(client_public);
    h.put_string(server_public);
    h.put_raw(shared_secret.encoded());
    h.finish()
}

/// The NIST curves of RFC 5656 §10.1's required and recommended set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

/// `ecdh-sha2-nistp256`, `ecdh-sha2-nistp384` and `ecdh-sha2-nistp521`
/// (RFC 5656 §4): ephemeral ECDH with points as uncompressed SEC1 octet
/// strings and K the x-coordinate of the shared point as an mpint.
#[derive(Debug, Clone, Copy)]
pub struct EcdhSha2Nist {
    curve: Curve,
}

/// `ecdh-sha2-nistp256`: P-256 with SHA-256.
pub static ECDH_SHA2_NISTP256: EcdhSha2Nist = EcdhSha2Nist { curve: Curve::P256 };
/// `ecdh-sha2-nistp384`: P-384 with SHA-384.
pub static ECDH_SHA2_NISTP384: EcdhSha2Nist = EcdhSha2Nist { curve: Curve::P384 };
/// `ecdh-sha2-nistp521`: P-521 with SHA-512.
pub static ECDH_SHA2_NISTP521: EcdhSha2Nist = EcdhSha2Nist { curve: Curve::P521 };

/// A client's ephemeral NIST private key (each zeroized on drop by the
/// curve crates).
pub(crate) enum NistSecret {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
}

impl EcdhSha2Nist {
    const fn wire_name(&self) -> &'static str {
        match self.curve {
            Curve::P256 => "ecdh-sha2-nistp256",
            Curve::P384 => "ecdh-sha2-nistp384",
            Curve::P521 => "ecdh-sha2-nistp521",
        }
    }
}

impl Algorithm for EcdhSha2Nist {
    fn name(&self) -> &str {
        self.wire_name()
    }
}

impl Kex for EcdhSha2Nist {
    fn hash(&self) -> &'static dyn HashFunction {
        self.method_hash()
    }

    fn start(&self, role: Role, ctx: &mut KexContext<'_>) -> Result<KexStart, AlgorithmError> {
        start(*self, role, ctx)
    }
}

impl KemMethod for EcdhSha2Nist {
    type ClientSecret = NistSecret;

    fn method_name(&self) -> &'static str {
        self.wire_name()
    }

    fn method_hash(&self) -> &'static dyn HashFunction {
        // RFC 5656 §6.2.1: the hash follows the curve size.
        match self.curve {
            Curve::P256 => &SHA256,
            Curve::P384 => &SHA384,
            Curve::P521 => &SHA512,
        }
    }

    fn client_init(
        &self,
        rng: &mut dyn CryptoRng,
    ) -> Result<(NistSecret, Vec<u8>), AlgorithmError> {
        Ok(match self.curve {
            Curve::P256 => {
                let (secret, public) = nist_generate::<p256::NistP256>(rng);
                (NistSecret::P256(secret), public)
            }
            Curve::P384 => {
                let (secret, public) = nist_generate::<p384::NistP384>(rng);
                (NistSecret::P384(secret), public)
            }
            Curve::P521 => {
                let (secret, public) = nist_generate::<p521::NistP521>(rng);
                (NistSecret::P521(secret), public)
            }
        })
    }

    fn server_reply(
        &self,
        client_public: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<(Vec<u8>, SharedSecret), AlgorithmError> {
        let name = self.wire_name();
        match self.curve {
            Curve::P256 => nist_server::<p256::NistP256>(name, client_public, rng),
            Curve::P384 => nist_server::<p384::NistP384>(name, client_public, rng),
            Curve::P521 => nist_server::<p521::NistP521>(name, client_public, rng),
        }
    }

    fn client_finish(
        &self,
        secret: NistSecret,
        server_public: &[u8],
    ) -> Result<SharedSecret, AlgorithmError> {
        let name = self.wire_name();
        match secret {
            NistSecret::P256(s) => nist_agree(name, &s, server_public),
            NistSecret::P384(s) => nist_agree(name, &s, server_public),
            NistSecret::P521(s) => nist_agree(name, &s, server_public),
        }
    }
}

/// Generates an ephemeral key pair; the public key as an uncompressed SEC1
/// point.
fn nist_generate<C>(rng: &mut dyn CryptoRng) -> (SecretKey<C>, Vec<u8>)
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let secret = SecretKey::<C>::generate_from_rng(rng);
    let public = nist_encode(&secret.public_key());
    (secret, public)
}

fn nist_encode<C>(public: &PublicKey<C>) -> Vec<u8>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    public.to_sec1_point(false).as_bytes().to_vec()
}

fn nist_server<C>(
    name: &'static str,
    client_public: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<(Vec<u8>, SharedSecret), AlgorithmError>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    // The peer's point is checked before any work is spent on it.
    let peer = nist_decode::<C>(name, client_public)?;
    let (secret, server_public) = nist_generate::<C>(rng);
    let shared = secret.diffie_hellman(&peer);
    Ok((
        server_public,
        SharedSecret::from_mpint_unsigned(shared.raw_secret_bytes()),
    ))
}

/// ECDH with a peer's encoded point: K is the x-coordinate of the shared
/// point as an mpint (RFC 5656 §4).
fn nist_agree<C>(
    name: &'static str,
    secret: &SecretKey<C>,
    peer_public: &[u8],
) -> Result<SharedSecret, AlgorithmError>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let peer = nist_decode::<C>(name, peer_public)?;
    let shared = secret.diffie_hellman(&peer);
    Ok(SharedSecret::from_mpint_unsigned(shared.raw_secret_bytes()))
}

/// Decodes a peer's public point: exactly an uncompressed SEC1 point
/// (0x04 || x || y) on the curve, not the identity. Compressed points are
/// refused as OpenSSH refuses them.
fn nist_decode<C>(name: &'static str, bytes: &[u8]) -> Result<PublicKey<C>, AlgorithmError>
where
    C: CurveArithmetic,
    AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
    FieldBytesSize<C>: ModulusSize,
{
    let field_len = <FieldBytesSize<C> as p256::elliptic_curve::array::typenum::Unsigned>::USIZE;
    let expected = 1 + 2 * field_len;
    if bytes.len() != expected {
        return Err(AlgorithmError::InvalidLength {
            algorithm: name,
            what: "peer public point (uncompressed SEC1)",
            expected,
            found: bytes.len(),
        });
    }
    if bytes.first() != Some(&0x04) {
        return Err(AlgorithmError::InvalidPeerValue {
            algorithm: name,
            reason: "public point is not in uncompressed form (0x04)",
        });
    }
    PublicKey::<C>::from_sec1_bytes(bytes).map_err(|_| AlgorithmError::InvalidPeerValue {
        algorithm: name,
        reason: "public point is not on the curve",
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use crate::hash::tests::hex;
    use crate::kex::HostKeySigner;
    use crate::sig::encode_signature;
    use crate::{CryptoRng, SigningKey};
    use alloc::string::String;
    use alloc::vec;
    use core::convert::Infallible;
    use rand_core::{TryCryptoRng, TryRng};

    /// Hex with spaces allowed, as the RFCs print their vectors.
    pub(crate) fn h(s: &str) -> Vec<u8> {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        hex(&compact)
    }

    /// A deterministic RNG for tests: SHA-256 in counter mode over a seed.
    pub(crate) struct TestRng {
        seed: u64,
        counter: u64,
        block: [u8; 32],
        used: usize,
    }

    impl TestRng {
        pub(crate) fn new(seed: u64) -> Self {
            TestRng {
                seed,
                counter: 0,
                block: [0; 32],
                used: 32,
            }
        }
    }

    impl TryRng for TestRng {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            let mut b = [0; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_le_bytes(b))
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            let mut b = [0; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            for byte in dst {
                if self.used == self.block.len() {
                    let digest = SHA256.digest(&[
                        b"sekura test rng",
                        &self.seed.to_be_bytes(),
                        &self.counter.to_be_bytes(),
                    ]);
                    self.block.copy_from_slice(&digest);
                    self.counter += 1;
                    self.used = 0;
                }
                *byte = self.block[self.used];
                self.used += 1;
            }
            Ok(())
        }
    }

    impl TryCryptoRng for TestRng {}

    /// A host key whose "signature" is `string "test", string SHA-256(H)`:
    /// enough to see that the server signed exactly H.
    pub(crate) struct TestHostKey;

    impl TestHostKey {
        pub(crate) fn expected_signature(h: &[u8]) -> Vec<u8> {
            encode_signature("test", &SHA256.digest(&[h]))
        }
    }

    impl SigningKey for TestHostKey {
        fn key_type(&self) -> &str {
            "test"
        }
        fn public_key_blob(&self) -> Vec<u8> {
            let mut blob = Vec::new();
            blob.put_str("test");
            blob.put_string(b"test public key");
            blob
        }
        fn signature_algorithms(&self) -> Vec<&str> {
            vec!["test"]
        }
        fn sign(
            &self,
            algorithm: &str,
            message: &[u8],
            _rng: &mut dyn CryptoRng,
        ) -> Result<Vec<u8>, AlgorithmError> {
            assert_eq!(algorithm, "test");
            Ok(Self::expected_signature(message))
        }
    }

    pub(crate) const V_C: &[u8] = b"SSH-2.0-sekura_client";
    pub(crate) const V_S: &[u8] = b"SSH-2.0-sekura_server";
    pub(crate) const I_C: &[u8] = b"\x14client kexinit payload";
    pub(crate) const I_S: &[u8] = b"\x14server kexinit payload";

    pub(crate) fn context<'a>(
        rng: &'a mut TestRng,
        host_key: Option<&'a TestHostKey>,
    ) -> KexContext<'a> {
        KexContext {
            client_version: V_C,
            server_version: V_S,
            client_kexinit: I_C,
            server_kexinit: I_S,
            host_key: host_key.map(|key| HostKeySigner {
                key,
                algorithm: "test",
            }),
            rng,
        }
    }

    /// Everything one in-memory exchange produced.
    pub(crate) struct Transcript {
        pub(crate) init: Vec<u8>,
        pub(crate) reply: Vec<u8>,
        pub(crate) client: KexOutput,
        pub(crate) server: KexOutput,
    }

    fn done(step: KexStep) -> (Option<Vec<u8>>, KexOutput) {
        match step {
            KexStep::Done { send, output } => (send, output),
            KexStep::Send(_) => panic!("exchange asked for another round trip"),
        }
    }

    /// Runs a client and a server against each other in memory.
    pub(crate) fn run(kex: &dyn Kex, seed: u64) -> Transcript {
        let mut client_rng = TestRng::new(seed);
        let mut server_rng = TestRng::new(seed ^ 0x5555);
        let host_key = TestHostKey;
        let mut cctx = context(&mut client_rng, None);
        let mut sctx = context(&mut server_rng, Some(&host_key));

        let client = kex.start(Role::Client, &mut cctx).unwrap();
        let server = kex.start(Role::Server, &mut sctx).unwrap();
        assert!(server.send.is_none(), "the server speaks second");
        let init = client.send.expect("the client speaks first");
        let (mut client_ex, mut server_ex) = (client.exchange, server.exchange);

        let (reply, server_out) = done(server_ex.handle(&init, &mut sctx).unwrap());
        let reply = reply.expect("the server replies");
        let (nothing, client_out) = done(client_ex.handle(&reply, &mut cctx).unwrap());
        assert!(nothing.is_none());
        Transcript {
            init,
            reply,
            client: client_out,
            server: server_out,
        }
    }

    /// Runs an exchange and checks everything both sides must agree on,
    /// recomputing H from the bytes on the wire. Returns the transcript.
    pub(crate) fn check_exchange(kex: &dyn Kex, seed: u64) -> Transcript {
        let t = run(kex, seed);
        assert_eq!(
            t.client.shared_secret.encoded(),
            t.server.shared_secret.encoded(),
            "{}: both sides derive the same K",
            kex.name()
        );
        assert_eq!(t.client.exchange_hash, t.server.exchange_hash);
        assert_eq!(t.client.exchange_hash.len(), kex.hash().output_len());
        assert_eq!(t.client.host_key, TestHostKey.public_key_blob());
        assert_eq!(t.server.host_key, t.client.host_key);
        assert_eq!(t.client.signature, t.server.signature);
        assert_eq!(
            t.client.signature,
            TestHostKey::expected_signature(&t.client.exchange_hash)
        );

        // H again, byte by byte from the messages, without the code under
        // test: string V_C, V_S, I_C, I_S, K_S, Q_C, Q_S, then K.
        let init = KexEcdhInit::decode(&t.init).unwrap();
        let reply = KexEcdhReply::decode(&t.reply).unwrap();
        let mut input = Vec::new();
        for field in [
            V_C,
            V_S,
            I_C,
            I_S,
            reply.host_key,
            init.client_public,
            reply.server_public,
        ] {
            input.extend_from_slice(&u32::try_from(field.len()).unwrap().to_be_bytes());
            input.extend_from_slice(field);
        }
        input.extend_from_slice(t.client.shared_secret.encoded());
        assert_eq!(kex.hash().digest(&[&input]), t.client.exchange_hash);

        // A second exchange with other randomness gives other keys.
        let other = run(kex, seed + 1);
        assert_ne!(
            other.client.shared_secret.encoded(),
            t.client.shared_secret.encoded()
        );
        t
    }

    /// Feeds a server exchange `init` and returns the error.
    pub(crate) fn server_error(kex: &dyn Kex, init: &[u8]) -> AlgorithmError {
        let mut rng = TestRng::new(7);
        let host_key = TestHostKey;
        let mut ctx = context(&mut rng, Some(&host_key));
        let mut server = kex.start(Role::Server, &mut ctx).unwrap().exchange;
        match server.handle(init, &mut ctx) {
            Err(e) => e,
            Ok(_) => panic!("{}: server accepted a bad INIT", kex.name()),
        }
    }

    /// Starts a client, feeds it `reply` and returns the error.
    pub(crate) fn client_error(kex: &dyn Kex, reply: &[u8]) -> AlgorithmError {
        let mut rng = TestRng::new(8);
        let mut ctx = context(&mut rng, None);
        let mut client = kex.start(Role::Client, &mut ctx).unwrap().exchange;
        match client.handle(reply, &mut ctx) {
            Err(e) => e,
            Ok(_) => panic!("{}: client accepted a bad REPLY", kex.name()),
        }
    }

    /// A REPLY carrying `server_public`, with a well-formed K_S and signature.
    pub(crate) fn reply_with(server_public: &[u8]) -> Vec<u8> {
        KexEcdhReply {
            host_key: &TestHostKey.public_key_blob(),
            server_public,
            signature: &encode_signature("test", &[0; 32]),
        }
        .to_vec()
    }

    pub(crate) fn init_with(client_public: &[u8]) -> Vec<u8> {
        KexEcdhInit { client_public }.to_vec()
    }

    /// The rejections every method of this shape must make, whatever its
    /// public values look like: wrong message numbers, truncation, trailing
    /// bytes, wrong lengths, a message after the end, a server without a
    /// host key.
    pub(crate) fn check_framing_rejections(kex: &dyn Kex) {
        let good = run(kex, 99);
        let name = kex.name();

        // The server wants 30, the client 31.
        assert!(matches!(
            server_error(kex, &good.reply),
            AlgorithmError::UnexpectedMessage { found: 31, .. }
        ));
        assert!(matches!(
            client_error(kex, &good.init),
            AlgorithmError::UnexpectedMessage { found: 30, .. }
        ));
        assert!(matches!(
            client_error(kex, &[32, 0, 0, 0, 0]),
            AlgorithmError::UnexpectedMessage { found: 32, .. }
        ));
        assert!(matches!(
            client_error(kex, &[]),
            AlgorithmError::Decode(DecodeError::EmptyPayload)
        ));

        // Truncated anywhere, or with a byte too many: a decode error.
        for cut in [1, 5, good.reply.len() / 2, good.reply.len() - 1] {
            assert!(
                matches!(
                    client_error(kex, &good.reply[..cut]),
                    AlgorithmError::Decode(_)
                ),
                "{name}: REPLY cut at {cut}"
            );
        }
        for cut in [1, 3, good.init.len() - 1] {
            assert!(
                matches!(
                    server_error(kex, &good.init[..cut]),
                    AlgorithmError::Decode(_)
                ),
                "{name}: INIT cut at {cut}"
            );
        }
        let mut long = good.init.clone();
        long.push(0);
        assert!(matches!(
            server_error(kex, &long),
            AlgorithmError::Decode(DecodeError::TrailingData { .. })
        ));

        // Public values one byte short or long, and empty.
        let init = KexEcdhInit::decode(&good.init).unwrap().client_public;
        let reply = KexEcdhReply::decode(&good.reply).unwrap().server_public;
        for bad in [&init[..init.len() - 1], &[init, &[0]].concat()[..], &[]] {
            assert!(
                matches!(
                    server_error(kex, &init_with(bad)),
                    AlgorithmError::InvalidLength { .. }
                ),
                "{name}: client public of {} bytes",
                bad.len()
            );
        }
        for bad in [&reply[..reply.len() - 1], &[reply, &[0]].concat()[..], &[]] {
            assert!(
                matches!(
                    client_error(kex, &reply_with(bad)),
                    AlgorithmError::InvalidLength { .. }
                ),
                "{name}: server public of {} bytes",
                bad.len()
            );
        }

        // Nothing is accepted once the exchange is over.
        let mut rng = TestRng::new(3);
        let host_key = TestHostKey;
        let mut ctx = context(&mut rng, Some(&host_key));
        let mut server = kex.start(Role::Server, &mut ctx).unwrap().exchange;
        let fresh = run(kex, 5);
        server.handle(&fresh.init, &mut ctx).unwrap();
        assert!(matches!(
            server.handle(&fresh.init, &mut ctx),
            Err(AlgorithmError::UnexpectedMessage { found: 30, .. })
        ));

        // A server needs a host key to sign with.
        let mut rng = TestRng::new(4);
        let mut ctx = context(&mut rng, None);
        assert!(matches!(
            kex.start(Role::Server, &mut ctx),
            Err(AlgorithmError::MissingInput(_))
        ));
    }

    // RFC 5903 §8.1, 256-bit random ECP group: i, g^i (x, y), r, g^r (x, y)
    // and the x-coordinate of g^ir.
    const P256_I: &str = "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433";
    const P256_GIX: &str =
        "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180";
    const P256_GIY: &str =
        "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3";
    const P256_R: &str = "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53";
    const P256_GRX: &str =
        "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63";
    const P256_GRY: &str =
        "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB";
    const P256_GIRX: &str =
        "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE";

    // RFC 5903 §8.2, 384-bit random ECP group.
    const P384_I: &str = "099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655
        E35B5380 41E649EE 3FAEF896 783AB194";
    const P384_GIX: &str = "667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6
        DE3AC808 ACB4BDB4 C88732AE E95F41AA";
    const P384_GIY: &str = "9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E
        EB9FCFF3 C2C947DA E69B4C63 4573A81C";
    const P384_R: &str = "41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942
        E0308312 916B8ED2 960E4BD5 5A7448FC";
    const P384_GRX: &str = "E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D
        0D1AC43A 0336DEF9 6FDA41D0 774A3571";
    const P384_GRY: &str = "DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF
        F83FA401 42209DFF 5EAAD96D B9E6386C";
    const P384_GIRX: &str =
        "11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4
        D6031355 69B9E9D0 9CF5D4A2 70F59746";

    // RFC 5903 §8.3, 521-bit random ECP group.
    const P521_I: &str = "0037ADE9 319A89F4 DABDB3EF 411AACCC A5123C61 ACAB57B5 393DCE47 608172A0
        95AA85A3 0FE1C295 2C6771D9 37BA9777 F5957B26 39BAB072 462F68C2 7A57382D 4A52";
    const P521_GIX: &str = "0015417E 84DBF28C 0AD3C278 713349DC 7DF153C8 97A1891B D98BAB43 57C9ECBE
        E1E3BF42 E00B8E38 0AEAE57C 2D107564 94188594 2AF5A7F4 601723C4 195D176C ED3E";
    const P521_GIY: &str = "017CAE20 B6641D2E EB695786 D8C94614 6239D099 E18E1D5A 514C739D 7CB4A10A
        D8A78801 5AC405D7 799DC75E 7B7D5B6C F2261A6A 7F150743 8BF01BEB 6CA3926F 9582";
    const P521_R: &str = "0145BA99 A847AF43 793FDD0E 872E7CDF A16BE30F DC780F97 BCCC3F07 8380201E
        9C677D60 0B343757 A3BDBF2A 3163E4C2 F869CCA7 458AA4A4 EFFC311F 5CB15168 5EB9";
    const P521_GRX: &str = "00D0B397 5AC4B799 F5BEA16D 5E13E9AF 971D5E9B 984C9F39 728B5E57 39735A21
        9B97C356 436ADC6E 95BB0352 F6BE64A6 C2912D4E F2D0433C ED2B6171 640012D9 460F";
    const P521_GRY: &str = "015C6822 6383956E 3BD066E7 97B623C2 7CE0EAC2 F551A10C 2C724D98 52077B87
        220B6536 C5C408A1 D2AEBB8E 86D678AE 49CB5709 1F473229 6579AB44 FCD17F0F C56A";
    const P521_GIRX: &str =
        "01144C7D 79AE6956 BC8EDB8E 7C787C45 21CB086F A64407F9 7894E5E6 B2D79B04
        D1427E73 CA4BAA24 0A347868 59810C06 B3C715A3 A8CC3151 F2BEE417 996D19F3 DDEA";

    /// `04 || x || y`.
    fn uncompressed(x: &str, y: &str) -> Vec<u8> {
        [&[4][..], &h(x), &h(y)].concat()
    }

    /// Checks one RFC 5903 vector through the functions the exchange uses:
    /// both public points as encoded on the wire, and K both ways.
    fn rfc5903<C>(vectors: [&str; 7], expected_k: &[u8])
    where
        C: CurveArithmetic,
        AffinePoint<C>: FromSec1Point<C> + ToSec1Point<C>,
        FieldBytesSize<C>: ModulusSize,
    {
        let [i, gix, giy, r, grx, gry, girx] = vectors;
        let i = SecretKey::<C>::from_slice(&h(i)).unwrap();
        let r = SecretKey::<C>::from_slice(&h(r)).unwrap();
        let gi = uncompressed(gix, giy);
        let gr = uncompressed(grx, gry);
        assert_eq!(nist_encode(&i.public_key()), gi);
        assert_eq!(nist_encode(&r.public_key()), gr);
        let k1 = nist_agree("test", &i, &gr).unwrap();
        let k2 = nist_agree("test", &r, &gi).unwrap();
        assert_eq!(k1.encoded(), expected_k);
        assert_eq!(k2.encoded(), expected_k);
        // The x-coordinate itself, unpadded, is the mpint's magnitude.
        let x = h(girx);
        assert!(expected_k.ends_with(&x[usize::from(x[0] == 0)..]));
    }

    #[test]
    fn rfc5903_p256() {
        // x(g^ir) has its top bit set: the mpint gains a zero byte (33).
        let k = [&h("00000021 00")[..], &h(P256_GIRX)].concat();
        rfc5903::<p256::NistP256>(
            [
                P256_I, P256_GIX, P256_GIY, P256_R, P256_GRX, P256_GRY, P256_GIRX,
            ],
            &k,
        );
    }

    #[test]
    fn rfc5903_p384() {
        let k = [&h("00000030")[..], &h(P384_GIRX)].concat();
        rfc5903::<p384::NistP384>(
            [
                P384_I, P384_GIX, P384_GIY, P384_R, P384_GRX, P384_GRY, P384_GIRX,
            ],
            &k,
        );
    }

    #[test]
    fn rfc5903_p521() {
        // 66 field bytes, the top one 0x01: no padding, no leading zero.
        let k = [&h("00000042")[..], &h(P521_GIRX)].concat();
        rfc5903::<p521::NistP521>(
            [
                P521_I, P521_GIX, P521_GIY, P521_R, P521_GRX, P521_GRY, P521_GIRX,
            ],
            &k,
        );
    }

    #[test]
    fn names_and_hashes() {
        assert_eq!(ECDH_SHA2_NISTP256.name(), "ecdh-sha2-nistp256");
        assert_eq!(ECDH_SHA2_NISTP384.name(), "ecdh-sha2-nistp384");
        assert_eq!(ECDH_SHA2_NISTP521.name(), "ecdh-sha2-nistp521");
        assert_eq!(Kex::hash(&ECDH_SHA2_NISTP256).name(), "sha256");
        assert_eq!(Kex::hash(&ECDH_SHA2_NISTP384).name(), "sha384");
        assert_eq!(Kex::hash(&ECDH_SHA2_NISTP521).name(), "sha512");
        assert!(ECDH_SHA2_NISTP256.needs_signing_host_key());
    }

    #[test]
    fn nist_exchanges_agree() {
        for (kex, point_len) in [
            (&ECDH_SHA2_NISTP256, 65),
            (&ECDH_SHA2_NISTP384, 97),
            (&ECDH_SHA2_NISTP521, 133),
        ] {
            let t = check_exchange(kex, 1);
            let init = KexEcdhInit::decode(&t.init).unwrap();
            let reply = KexEcdhReply::decode(&t.reply).unwrap();
            assert_eq!(init.client_public.len(), point_len);
            assert_eq!(init.client_public[0], 4);
            assert_eq!(reply.server_public.len(), point_len);
            // K is an mpint: a length, then at most the field size plus a
            // sign byte.
            let k = t.client.shared_secret.encoded();
            let len = usize::try_from(u32::from_be_bytes(k[..4].try_into().unwrap())).unwrap();
            assert_eq!(len, k.len() - 4);
            assert!(len <= point_len / 2 + 1);
        }
    }

    #[test]
    fn nist_framing_rejections() {
        check_framing_rejections(&ECDH_SHA2_NISTP256);
        check_framing_rejections(&ECDH_SHA2_NISTP384);
        check_framing_rejections(&ECDH_SHA2_NISTP521);
    }

    #[test]
    fn invalid_points_are_rejected() {
        let kex = &ECDH_SHA2_NISTP256;
        let good = uncompressed(P256_GIX, P256_GIY);
        let invalid = |e: AlgorithmError| matches!(e, AlgorithmError::InvalidPeerValue { .. });

        // Not on the curve: y + 1.
        let mut off_curve = good.clone();
        off_curve[64] ^= 1;
        assert!(invalid(server_error(kex, &init_with(&off_curve))));
        assert!(invalid(client_error(kex, &reply_with(&off_curve))));

        // The identity (SEC1 encodes it as a single 0x00) and all zeros.
        assert!(matches!(
            server_error(kex, &init_with(&[0])),
            AlgorithmError::InvalidLength { found: 1, .. }
        ));
        let mut zeros = vec![0; 65];
        assert!(invalid(server_error(kex, &init_with(&zeros))));
        zeros[0] = 4;
        assert!(invalid(server_error(kex, &init_with(&zeros))));

        // A coordinate that is not reduced mod p: x = p (the x-coordinate
        // field is all 0xff..., larger than p).
        let mut big_x = good.clone();
        big_x[1..33].fill(0xff);
        assert!(invalid(client_error(kex, &reply_with(&big_x))));

        // A compressed point of the right curve, even padded to length.
        let mut compressed = vec![2 + (good[64] & 1)];
        compressed.extend_from_slice(&good[1..33]);
        assert!(matches!(
            server_error(kex, &init_with(&compressed)),
            AlgorithmError::InvalidLength { .. }
        ));
        let mut hybrid = good.clone();
        hybrid[0] = 6 + (good[64] & 1);
        assert!(invalid(server_error(kex, &init_with(&hybrid))));

        // A P-384 point offered to P-256 and the other way round.
        let p384 = uncompressed(P384_GIX, P384_GIY);
        assert!(matches!(
            server_error(kex, &init_with(&p384)),
            AlgorithmError::InvalidLength {
                expected: 65,
                found: 97,
                ..
            }
        ));
        assert!(matches!(
            server_error(&ECDH_SHA2_NISTP384, &init_with(&good)),
            AlgorithmError::InvalidLength { .. }
        ));

        // And the RFC's own point is accepted, so the above failed for the
        // reason given.
        let mut rng = TestRng::new(1);
        let host_key = TestHostKey;
        let mut ctx = context(&mut rng, Some(&host_key));
        let mut server = kex.start(Role::Server, &mut ctx).unwrap().exchange;
        assert!(server.handle(&init_with(&good), &mut ctx).is_ok());
    }
}
