//! An in-memory client/server pair with simulated time: no sockets, no
//! threads, no clock.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use sekura_algorithms::SigningKey;
use sekura_algorithms::builtin::keys::{EcdsaCurve, PrivateKey};
use sekura_transport::{Config, Connection, Error, Event};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A deterministic RNG (xorshift64*): reproducible tests, never for real use.
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

/// One host key of each type, made once per test binary.
pub fn host_keys() -> Vec<Arc<dyn SigningKey>> {
    static KEYS: OnceLock<Vec<Arc<PrivateKey>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = TestRng(0x5eed);
        vec![
            Arc::new(PrivateKey::from_ed25519_seed(&[7; 32])),
            Arc::new(PrivateKey::generate_ecdsa(EcdsaCurve::NistP256, &mut rng)),
            Arc::new(PrivateKey::generate_ecdsa(EcdsaCurve::NistP384, &mut rng)),
            Arc::new(PrivateKey::generate_ecdsa(EcdsaCurve::NistP521, &mut rng)),
            Arc::new(PrivateKey::generate_rsa(1024, &mut rng).unwrap()),
        ]
    })
    .iter()
    .map(|k| k.clone() as Arc<dyn SigningKey>)
    .collect()
}

/// A tap on the bytes between the two sides: it may change or drop them.
pub type Tap = Box<dyn FnMut(Direction, &mut Vec<u8>)>;

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

/// A connected client and server.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Duration,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    pub client_error: Option<Error>,
    pub server_error: Option<Error>,
    pub accept_host_keys: bool,
    pub tap: Option<Tap>,
    /// Bytes moved each way.
    pub moved: (usize, usize),
}

impl Pair {
    /// A pair with these configurations (the server's gets the test host
    /// keys when it has none).
    pub fn new(client: Config, mut server: Config) -> Pair {
        if server.host_keys.is_empty() {
            server.host_keys = host_keys();
        }
        let now = Duration::from_secs(1000);
        Pair {
            client: Connection::client(Arc::new(client), Box::new(TestRng(1)), now),
            server: Connection::server(Arc::new(server), Box::new(TestRng(2)), now),
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_error: None,
            server_error: None,
            accept_host_keys: true,
            tap: None,
            moved: (0, 0),
        }
    }

    /// A pair with the default configuration on both sides.
    pub fn default_pair() -> Pair {
        Pair::new(Config::default(), Config::default())
    }

    /// Moves bytes and events until neither side has anything to say.
    pub fn run(&mut self) {
        self.run_with(|_, _| {}, |_, _| {});
    }

    /// Logs the client in with a password the server's test policy accepts
    /// (the server answers its first authentication request with Accept).
    pub fn authenticate(&mut self) {
        use sekura_transport::auth::{AuthDecision, AuthEvent};
        self.run();
        self.client.auth_password("robey", "foo").unwrap();
        for _ in 0..20 {
            self.run();
            let asked = self
                .server_events
                .iter()
                .any(|e| matches!(e, Event::Auth(AuthEvent::Request(_))));
            if asked {
                self.server_events
                    .retain(|e| !matches!(e, Event::Auth(AuthEvent::Request(_))));
                self.server.auth_reply(AuthDecision::Accept).unwrap();
                self.run();
                break;
            }
            self.advance(Duration::from_millis(100));
        }
        self.assert_ok();
        assert!(self.client.is_authenticated() && self.server.is_authenticated());
    }

    /// Advances simulated time on both sides.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        if let Err(e) = self.client.handle_timeout(self.now) {
            self.client_error.get_or_insert(e);
        }
        if let Err(e) = self.server.handle_timeout(self.now) {
            self.server_error.get_or_insert(e);
        }
    }

    /// Panics with both sides' errors when either side failed.
    pub fn assert_ok(&self) {
        assert!(
            self.client_error.is_none() && self.server_error.is_none(),
            "client: {:?}\nserver: {:?}",
            self.client_error,
            self.server_error
        );
    }

    /// Whether both sides finished the first key exchange and the client's
    /// userauth service request was accepted.
    pub fn established(&self) -> bool {
        self.client_events
            .iter()
            .any(|e| matches!(e, Event::ServiceAccepted { name } if name == "ssh-userauth"))
            && self
                .server_events
                .iter()
                .any(|e| matches!(e, Event::ServiceStarted { .. }))
    }
}

/// A configuration that offers exactly these algorithms (OpenSSH syntax
/// lists), from everything compiled in.
pub fn config_with(kex: &str, host_key: &str, cipher: &str, mac: &str) -> Config {
    let mut config = Config::default();
    config.preferences = sekura_negotiation::Preferences::all();
    config.preferences.set_kex(kex).unwrap();
    config
        .preferences
        .set_host_key_algorithms(host_key)
        .unwrap();
    config.preferences.set_ciphers(cipher).unwrap();
    config.preferences.set_macs(mac).unwrap();
    config
}

// ----- authentication helpers (transport/tests/auth.rs) -----

impl Pair {
    /// Like [`Pair::run`], but every event is first handed, with its
    /// connection, to `on_client` or `on_server`, which may answer it with
    /// commands; then it is stored as `run` stores it.
    pub fn run_with(
        &mut self,
        mut on_client: impl FnMut(&mut Connection, &Event),
        mut on_server: impl FnMut(&mut Connection, &Event),
    ) {
        loop {
            let mut progressed = false;
            let mut buf = Vec::new();
            if self.client.poll_transmit(&mut buf) {
                progressed = true;
                if let Some(tap) = &mut self.tap {
                    tap(Direction::ToServer, &mut buf);
                }
                self.moved.0 += buf.len();
                if let Err(e) = self.server.handle_input(&buf) {
                    self.server_error.get_or_insert(e);
                }
            }
            let mut buf = Vec::new();
            if self.server.poll_transmit(&mut buf) {
                progressed = true;
                if let Some(tap) = &mut self.tap {
                    tap(Direction::ToClient, &mut buf);
                }
                self.moved.1 += buf.len();
                if let Err(e) = self.client.handle_input(&buf) {
                    self.client_error.get_or_insert(e);
                }
            }
            while let Some(event) = self.client.poll_event() {
                progressed = true;
                if matches!(event, Event::HostKey(_))
                    && self.accept_host_keys
                    && let Err(e) = self.client.accept_host_key()
                {
                    self.client_error.get_or_insert(e);
                }
                on_client(&mut self.client, &event);
                self.client_events.push(event);
            }
            while let Some(event) = self.server.poll_event() {
                progressed = true;
                on_server(&mut self.server, &event);
                self.server_events.push(event);
            }
            if !progressed {
                break;
            }
        }
    }
}

/// A configuration whose packets travel in the clear after the key
/// exchange (cipher and MAC `none`), so a tap can read and rewrite them.
pub fn plaintext_config() -> Config {
    use sekura_algorithms::none::{NONE_CIPHER, NONE_MAC};
    let mut config = Config::default();
    config.preferences.register_cipher(&NONE_CIPHER).unwrap();
    config.preferences.set_ciphers("none").unwrap();
    config.preferences.register_mac(&NONE_MAC).unwrap();
    config.preferences.set_macs("none").unwrap();
    config.preferences.set_compression("none").unwrap();
    config
}

/// Frames a payload as a packet of a plaintext connection (block size 8,
/// at least 4 bytes of padding, no MAC).
pub fn plain_packet(payload: &[u8]) -> Vec<u8> {
    let mut padding = 8 - (5 + payload.len()) % 8;
    if padding < 4 {
        padding += 8;
    }
    let length = 1 + payload.len() + padding;
    let mut packet = Vec::with_capacity(4 + length);
    packet.extend_from_slice(&(length as u32).to_be_bytes());
    packet.push(padding as u8);
    packet.extend_from_slice(payload);
    packet.resize(4 + length, 0);
    packet
}

/// A tap for pairs made of [`plaintext_config`]s: hands every packet's
/// payload to `rewrite`, which returns the payloads to send in its place
/// (none: the packet is dropped). Identification lines pass untouched.
pub fn rewriting_tap(mut rewrite: impl FnMut(Direction, Vec<u8>) -> Vec<Vec<u8>> + 'static) -> Tap {
    let mut version_seen = [false, false];
    Box::new(move |direction, bytes| {
        let side = match direction {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        };
        let mut rest: &[u8] = bytes;
        let mut out = Vec::with_capacity(rest.len());
        if !version_seen[side] {
            let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            out.extend_from_slice(&rest[..end + 2]);
            rest = &rest[end + 2..];
            version_seen[side] = true;
        }
        while rest.len() >= 5 {
            let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let padding = usize::from(rest[4]);
            let payload = rest[5..4 + length - padding].to_vec();
            rest = &rest[4 + length..];
            for replacement in rewrite(direction, payload) {
                out.extend_from_slice(&plain_packet(&replacement));
            }
        }
        out.extend_from_slice(rest);
        *bytes = out;
    })
}
