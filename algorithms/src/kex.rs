//! Key exchange: a factory per method and a message-driven state machine per
//! exchange, so Diffie-Hellman (one round trip), group exchange (two) and KEM
//! hybrids all fit one shape.
//!
//! The transport hands every key-exchange message (numbers 30-49) to the
//! running [`KexExchange`] as raw payload bytes and sends whatever it asks
//! to send, until it is [`KexStep::Done`]. Then it verifies the host key
//! signature over the exchange hash (client), derives the keys with
//! [`crate::kdf`] and switches them on at NEWKEYS.

use crate::{Algorithm, AlgorithmError, HashFunction, Hasher, Role, SigningKey};
use alloc::boxed::Box;
use alloc::vec::Vec;
use rand_core::CryptoRng;
use sekura_proto::Writer;
use zeroize::Zeroizing;

/// A key-exchange method as negotiated in KEXINIT.
pub trait Kex: Algorithm {
    /// The hash function of the exchange hash and of key derivation.
    fn hash(&self) -> &'static dyn HashFunction;
    /// Whether the method needs a signature-capable host key (all methods
    /// sekura ships do; RFC 4253 §7.1 also knows encryption-capable ones).
    fn needs_signing_host_key(&self) -> bool {
        true
    }
    /// Starts an exchange in `role`. The client usually has a first message
    /// to send at once (KEXDH_INIT, GEX_REQUEST); the server waits.
    fn start(&self, role: Role, ctx: &mut KexContext<'_>) -> Result<KexStart, AlgorithmError>;
}

/// Everything an exchange needs from the transport. The same values are
/// passed on every call of one exchange.
pub struct KexContext<'a> {
    /// The client's version line, without CR LF (V_C).
    pub client_version: &'a [u8],
    /// The server's version line, without CR LF (V_S).
    pub server_version: &'a [u8],
    /// The payload of the client's KEXINIT (I_C).
    pub client_kexinit: &'a [u8],
    /// The payload of the server's KEXINIT (I_S).
    pub server_kexinit: &'a [u8],
    /// Server role: the host key to prove possession of, with the signature
    /// algorithm negotiated for it.
    pub host_key: Option<HostKeySigner<'a>>,
    /// Randomness for ephemeral secrets.
    pub rng: &'a mut dyn CryptoRng,
}

/// A host key paired with the signature algorithm negotiated for it.
#[derive(Clone, Copy)]
pub struct HostKeySigner<'a> {
    /// The key.
    pub key: &'a dyn SigningKey,
    /// The negotiated signature algorithm, e.g. `rsa-sha2-256`.
    pub algorithm: &'a str,
}

impl KexContext<'_> {
    /// Writes the part of the exchange hash input every method shares:
    /// `string V_C, string V_S, string I_C, string I_S, string K_S`
    /// (RFC 4253 §8, RFC 4419 §3, RFC 5656 §4).
    pub fn hash_prefix(&self, w: &mut dyn Hasher, host_key: &[u8]) {
        w.put_string(self.client_version);
        w.put_string(self.server_version);
        w.put_string(self.client_kexinit);
        w.put_string(self.server_kexinit);
        w.put_string(host_key);
    }
}

/// What [`Kex::start`] returns.
pub struct KexStart {
    /// The exchange in progress.
    pub exchange: Box<dyn KexExchange>,
    /// A message to send at once, if the role speaks first.
    pub send: Option<Vec<u8>>,
}

/// One key exchange in progress.
pub trait KexExchange: Send {
    /// Handles a key-exchange message (payload with its number).
    fn handle(
        &mut self,
        payload: &[u8],
        ctx: &mut KexContext<'_>,
    ) -> Result<KexStep, AlgorithmError>;
}

/// What an exchange wants after a message.
pub enum KexStep {
    /// Send this message and wait for the next.
    Send(Vec<u8>),
    /// The exchange is complete.
    Done {
        /// A last message to send (the server's reply).
        send: Option<Vec<u8>>,
        /// The result.
        output: KexOutput,
    },
}

/// The result of a key exchange.
pub struct KexOutput {
    /// K, encoded as the method specifies.
    pub shared_secret: SharedSecret,
    /// H, the exchange hash.
    pub exchange_hash: Vec<u8>,
    /// K_S, the server's public host key blob.
    pub host_key: Vec<u8>,
    /// The server's signature over H (to verify on the client; as sent on
    /// the server).
    pub signature: Vec<u8>,
}

/// The shared secret K, already encoded as the method puts it into hashes
/// (an `mpint` for DH and ECDH, a `string` for the post-quantum hybrids),
/// zeroized on drop.
#[derive(Clone)]
pub struct SharedSecret(Zeroizing<Vec<u8>>);

impl SharedSecret {
    /// Wraps an already-encoded secret.
    #[must_use]
    pub fn from_encoded(encoded: Vec<u8>) -> Self {
        SharedSecret(Zeroizing::new(encoded))
    }

    /// Encodes a non-negative integer (unsigned big-endian) as an `mpint`.
    #[must_use]
    pub fn from_mpint_unsigned(magnitude: &[u8]) -> Self {
        let mut out = Zeroizing::new(Vec::with_capacity(magnitude.len() + 5));
        out.put_mpint_unsigned(magnitude);
        SharedSecret(out)
    }

    /// Encodes bytes as a `string`.
    #[must_use]
    pub fn from_string(bytes: &[u8]) -> Self {
        let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() + 4));
        out.put_string(bytes);
        SharedSecret(out)
    }

    /// The encoded bytes.
    #[must_use]
    pub fn encoded(&self) -> &[u8] {
        &self.0
    }
}

impl core::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn shared_secret_encodings() {
        assert_eq!(
            SharedSecret::from_mpint_unsigned(&[0, 0x80]).encoded(),
            [0, 0, 0, 2, 0, 0x80]
        );
        assert_eq!(
            SharedSecret::from_mpint_unsigned(&[]).encoded(),
            [0, 0, 0, 0]
        );
        assert_eq!(
            SharedSecret::from_string(&[0, 0x80]).encoded(),
            [0, 0, 0, 2, 0, 0x80]
        );
        assert_eq!(
            SharedSecret::from_string(&[0x7f]).encoded(),
            [0, 0, 0, 1, 0x7f]
        );
        assert_eq!(
            alloc::format!("{:?}", SharedSecret::from_string(b"k")),
            "SharedSecret(..)"
        );
    }
}
