//! The driver shared by the `connection_client` and `connection_server`
//! targets: hostile bytes fed to one sans-I/O [`Connection`] at one of three
//! stages of its handshake.
//!
//! Input layout:
//!
//! * byte 0, the stage: `(b & 0x7f) % 3` is 0 = raw bytes from the very
//!   start, 1 = after a valid version line (`SSH-2.0-fuzz`), 2 = after a
//!   valid version line and a valid KEXINIT packet of a peer of the other
//!   role (offering curve25519-sha256 only, so a well-formed 32-byte ECDH
//!   message can take the exchange on). Bit `0x80` set: the body is framed
//!   (below).
//! * byte 1, the chunking: the stream is fed `b` bytes at a time (0: all
//!   at once).
//! * the rest, the body: raw bytes appended to the stage's prefix or, when
//!   framed, a sequence of `len, payload[len]` records, each payload sent as
//!   a plaintext binary packet (the framing of the first key exchange), so
//!   the bytes reach the message layer instead of the length check.
//!
//! What is checked: no panic; `handle_input` consumes every byte while the
//! connection is open; every error is one of the input-driven kinds, closes
//! the connection, queues a Disconnected event with the error's reason and a
//! DISCONNECT to send, and is what every later call returns.
//!
//! Not checked: that the connection's buffered bytes stay bounded; the
//! connection has no accessor for them (its `PacketReceiver` has, but it is
//! private to the connection).

use sekura_algorithms::Role;
use sekura_algorithms::SigningKey;
use sekura_algorithms::builtin::keys::PrivateKey;
use sekura_algorithms::none::plaintext_sealer;
use sekura_transport::packet::PacketSender;
use sekura_transport::{Config, Connection, Error, Event};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A deterministic RNG (xorshift64*), as in transport/tests/common: every
/// run of an input takes the same path.
pub struct TestRng(pub u64);

impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        Ok(self.0.wrapping_mul(0x2545_f491_4f6c_dd1d))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for TestRng {}

const NOW: Duration = Duration::from_secs(1000);

fn host_keys() -> Vec<Arc<dyn SigningKey>> {
    vec![Arc::new(PrivateKey::from_ed25519_seed(&[7; 32]))]
}

/// The configuration of the connection under test, made once per role.
fn config(role: Role) -> Arc<Config> {
    static CLIENT: OnceLock<Arc<Config>> = OnceLock::new();
    static SERVER: OnceLock<Arc<Config>> = OnceLock::new();
    let cell = match role {
        Role::Client => &CLIENT,
        Role::Server => &SERVER,
    };
    cell.get_or_init(|| {
        Arc::new(match role {
            Role::Client => Config::default(),
            Role::Server => Config::server(host_keys()),
        })
    })
    .clone()
}

fn connection(role: Role, config: Arc<Config>, seed: u64) -> Connection {
    match role {
        Role::Client => Connection::client(config, Box::new(TestRng(seed)), NOW),
        Role::Server => Connection::server(config, Box::new(TestRng(seed)), NOW),
    }
}

fn other(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// The first bytes a connection of `role` sends (its version line and
/// KEXINIT packet), offering curve25519-sha256 only. Made once per role.
fn opening(role: Role) -> &'static [u8] {
    static CLIENT: OnceLock<Vec<u8>> = OnceLock::new();
    static SERVER: OnceLock<Vec<u8>> = OnceLock::new();
    let cell = match role {
        Role::Client => &CLIENT,
        Role::Server => &SERVER,
    };
    cell.get_or_init(|| {
        let mut config = match role {
            Role::Client => Config::default(),
            Role::Server => Config::server(host_keys()),
        };
        config
            .preferences
            .set_kex("curve25519-sha256")
            .expect("a built-in method");
        let mut conn = connection(role, Arc::new(config), 11);
        let mut out = Vec::new();
        assert!(
            conn.poll_transmit(&mut out),
            "a new connection speaks first"
        );
        out
    })
}

/// Frames `len, payload[len]` records as plaintext binary packets.
fn frame(mut body: &[u8]) -> Vec<u8> {
    let mut sender = PacketSender::new(plaintext_sealer());
    let mut rng = TestRng(0xf4a3e);
    let mut out = Vec::new();
    while let Some((&len, rest)) = body.split_first() {
        let (payload, tail) = rest.split_at(usize::from(len).min(rest.len()));
        sender.send(payload, &mut out, &mut rng);
        body = tail;
    }
    out
}

/// Whether `err` is a kind hostile input may cause (not a timeout, which
/// needs time to pass, a local close, or a refused channel command).
fn input_driven(err: &Error) -> bool {
    matches!(
        err,
        Error::Version(_)
            | Error::Packet(_)
            | Error::Decode(_)
            | Error::Protocol(_)
            | Error::Negotiation(_)
            | Error::KeyExchange(_)
            | Error::Compression(_)
            | Error::ServiceNotAvailable(_)
            | Error::HostKeyRejected(_)
            | Error::AuthFailed(_)
            | Error::PeerDisconnected { .. }
    )
}

/// Runs one input against a connection of `role`.
pub fn run(role: Role, data: &[u8]) {
    let [selector, chunking, body @ ..] = data else {
        return;
    };
    let stage = (selector & 0x7f) % 3;
    let mut stream = match stage {
        0 => Vec::new(),
        1 => b"SSH-2.0-fuzz\r\n".to_vec(),
        _ => opening(other(role)).to_vec(),
    };
    if selector & 0x80 != 0 {
        stream.extend_from_slice(&frame(body));
    } else {
        stream.extend_from_slice(body);
    }
    let chunk = match chunking {
        0 => stream.len().max(1),
        n => usize::from(*n),
    };

    let mut conn = connection(role, config(role), 13);
    let mut out = Vec::new();
    for piece in stream.chunks(chunk) {
        let result = conn.handle_input(piece);
        out.clear();
        let _ = conn.poll_transmit(&mut out);
        let mut disconnected = None;
        while let Some(event) = conn.poll_event() {
            match event {
                // Only a forged signature over the exchange hash gets here;
                // go on deeper if it ever happens.
                Event::HostKey(_) => {
                    let _ = conn.accept_host_key();
                }
                Event::Disconnected {
                    reason, by_peer, ..
                } => disconnected = Some((reason, by_peer)),
                _ => {}
            }
        }
        match result {
            Ok(n) => {
                assert_eq!(n, piece.len(), "an open connection takes every byte");
                if let Some((_, by_peer)) = disconnected {
                    // Only the peer's DISCONNECT ends it without an error.
                    assert!(by_peer, "closed without an error");
                    assert!(conn.is_closed());
                    assert!(matches!(
                        conn.handle_input(b"x"),
                        Err(Error::PeerDisconnected { .. })
                    ));
                    return;
                }
            }
            Err(err) => {
                assert!(input_driven(&err), "unexpected error kind: {err:?}");
                assert!(conn.is_closed(), "an error must close: {err:?}");
                match &err {
                    Error::PeerDisconnected { reason, .. } => {
                        assert_eq!(disconnected, Some((*reason, true)), "{err:?}");
                    }
                    other => {
                        let reason = other.disconnect_reason().expect("a reason to send");
                        assert_eq!(disconnected, Some((reason, false)), "{err:?}");
                        assert!(!out.is_empty(), "no DISCONNECT sent for {err:?}");
                    }
                }
                assert_eq!(conn.handle_input(b"x"), Err(err), "the error sticks");
                return;
            }
        }
    }
}
