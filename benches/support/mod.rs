//! An in-memory client/server pair for the transport benchmarks: no
//! sockets, no threads. A trimmed copy of `transport/tests/common/mod.rs`'s
//! `Pair` that keeps only what a benchmark needs and panics on any error.

use sekura::algorithms::SigningKey;
use sekura::os_rng;
use sekura::transport::{Config, Connection, Event};
use std::sync::Arc;
use std::time::Duration;

/// A connected client and server.
pub struct Pair {
    /// The client side.
    pub client: Connection,
    /// The server side.
    pub server: Connection,
    /// The client accepted the `ssh-userauth` service.
    pub client_ready: bool,
    /// The server started the `ssh-userauth` service.
    pub server_ready: bool,
    buf: Vec<u8>,
}

impl Pair {
    /// A fresh pair; nothing has been exchanged yet. Both sides draw from
    /// the operating system's RNG, as real connections do.
    pub fn new(client: &Arc<Config>, server: &Arc<Config>) -> Pair {
        Pair {
            client: Connection::client(client.clone(), Box::new(os_rng()), Duration::ZERO),
            server: Connection::server(server.clone(), Box::new(os_rng()), Duration::ZERO),
            client_ready: false,
            server_ready: false,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// Moves bytes both ways and handles events until neither side has
    /// anything to say. Panics on any error or disconnection; accepts any
    /// host key.
    pub fn run(&mut self) {
        loop {
            let mut progressed = false;
            self.buf.clear();
            if self.client.poll_transmit(&mut self.buf) {
                progressed = true;
                self.server.handle_input(&self.buf).expect("server input");
            }
            self.buf.clear();
            if self.server.poll_transmit(&mut self.buf) {
                progressed = true;
                self.client.handle_input(&self.buf).expect("client input");
            }
            while let Some(event) = self.client.poll_event() {
                progressed = true;
                match event {
                    Event::HostKey(_) => self.client.accept_host_key().expect("accept host key"),
                    Event::ServiceAccepted { name } if name == "ssh-userauth" => {
                        self.client_ready = true;
                    }
                    Event::Disconnected { description, .. } => {
                        panic!("client disconnected: {description}")
                    }
                    _ => {}
                }
            }
            while let Some(event) = self.server.poll_event() {
                progressed = true;
                match event {
                    Event::ServiceStarted { name } if name == "ssh-userauth" => {
                        self.server_ready = true;
                    }
                    Event::Disconnected { description, .. } => {
                        panic!("server disconnected: {description}")
                    }
                    _ => {}
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// Runs the version exchange, the first key exchange and the service
    /// request to the end.
    pub fn handshake(&mut self) {
        self.run();
        assert!(
            self.client_ready && self.server_ready,
            "the handshake stalled before ssh-userauth"
        );
    }
}

/// A client and a server configuration that agree on exactly these
/// algorithms (OpenSSH syntax, from everything compiled in), the server
/// holding `host_key`.
pub fn configs(
    kex: &str,
    host_key_algorithm: &str,
    cipher: &str,
    mac: &str,
    host_key: Arc<dyn SigningKey>,
) -> (Arc<Config>, Arc<Config>) {
    let make = || {
        let mut config = Config::default();
        config.preferences = sekura::Preferences::all();
        config.preferences.set_kex(kex).unwrap();
        config
            .preferences
            .set_host_key_algorithms(host_key_algorithm)
            .unwrap();
        config.preferences.set_ciphers(cipher).unwrap();
        config.preferences.set_macs(mac).unwrap();
        config.preferences.set_compression("none").unwrap();
        config
    };
    let client = make();
    let mut server = make();
    server.host_keys = vec![host_key];
    (Arc::new(client), Arc::new(server))
}
