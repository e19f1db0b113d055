//! sekura is crypto-pluggable: this example adds a cipher sekura does not
//! ship, under a private name, and a sekura client and server agree on it.
//!
//! ```text
//! cargo run --example custom_cipher
//! ```
//!
//! The cipher is IETF ChaCha20 (RFC 8439) as a plain stream cipher,
//! `chacha20-ietf@example.com`, paired with whatever MAC is negotiated
//! (here `hmac-sha2-256-etm@openssh.com`). Only the keystream is written:
//! [`CipherStream`] transforms bytes in place, and sekura's
//! `stream_sealer`/`stream_opener` frame packets and apply the MAC in the
//! order the MAC asks for. (A real deployment would rather use the shipped
//! chacha20-poly1305@openssh.com AEAD: this is a demonstration of the
//! extension point, not a recommendation.)

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use sekura::algorithms::builtin::keys::PrivateKey;
use sekura::algorithms::cipher::{CipherStream, stream_opener, stream_sealer};
use sekura::algorithms::{
    Algorithm, AlgorithmError, Cipher, DirectionKeys, Mac, PacketOpener, PacketSealer, SigningKey,
};
use sekura::blocking::{
    AuthResult, Channel, HostKeyCheck, Pty, Server, ServerHandler, Session, SessionRequest,
};
use sekura::transport::Config;
use std::error::Error;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// The factory: a unit struct in a `static`, like every built-in.
struct ChaCha20Ietf;

static CHACHA20_IETF: ChaCha20Ietf = ChaCha20Ietf;

impl Algorithm for ChaCha20Ietf {
    fn name(&self) -> &str {
        "chacha20-ietf@example.com"
    }
}

/// One direction's keystream.
struct Keystream(ChaCha20);

impl CipherStream for Keystream {
    fn apply(&mut self, data: &mut [u8]) {
        self.0.apply_keystream(data);
    }
}

impl ChaCha20Ietf {
    fn keystream(&self, keys: &DirectionKeys) -> Result<Keystream, AlgorithmError> {
        let length_error = |what, expected, found| AlgorithmError::InvalidLength {
            algorithm: "chacha20-ietf@example.com",
            what,
            expected,
            found,
        };
        if keys.key.len() != 32 {
            return Err(length_error("key", 32, keys.key.len()));
        }
        if keys.iv.len() != 12 {
            return Err(length_error("IV", 12, keys.iv.len()));
        }
        ChaCha20::new_from_slices(&keys.key, &keys.iv)
            .map(Keystream)
            .map_err(|_| length_error("key", 32, keys.key.len()))
    }
}

impl Cipher for ChaCha20Ietf {
    fn key_len(&self) -> usize {
        32
    }
    fn iv_len(&self) -> usize {
        12
    }
    fn block_len(&self) -> usize {
        // A stream cipher: packets only need SSH's minimum alignment.
        8
    }
    fn rekey_limit_bytes(&self) -> u64 {
        // Far below the 2^38 bytes one 32-bit block counter covers.
        1 << 32
    }
    fn new_sealer(
        &self,
        keys: &DirectionKeys,
        mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketSealer>, AlgorithmError> {
        stream_sealer(self.keystream(keys)?, 8, mac, keys)
    }
    fn new_opener(
        &self,
        keys: &DirectionKeys,
        mac: Option<&dyn Mac>,
    ) -> Result<Box<dyn PacketOpener>, AlgorithmError> {
        stream_opener(self.keystream(keys)?, 8, mac, keys)
    }
}

/// Both sides register the cipher and put it first.
fn with_custom_cipher(mut config: Config) -> Result<Config, Box<dyn Error>> {
    config.preferences.register_cipher(&CHACHA20_IETF)?;
    config
        .preferences
        .set_ciphers("^chacha20-ietf@example.com")?;
    config
        .preferences
        .set_macs("^hmac-sha2-256-etm@openssh.com")?;
    Ok(config)
}

/// A server that answers `echo`.
struct Echo;

impl ServerHandler for Echo {
    fn check_password(&self, user: &str, password: &str) -> AuthResult {
        if (user, password) == ("robey", "foo") {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }
    fn session(
        &self,
        _user: &str,
        request: SessionRequest,
        _pty: Option<Pty>,
        channel: &mut Channel,
    ) -> u32 {
        if let SessionRequest::Exec(command) = request {
            let text = String::from_utf8_lossy(&command).replacen("echo ", "", 1);
            let _ = writeln!(channel, "{text}");
        }
        0
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut rng = sekura::os_rng();
    let host_key = PrivateKey::generate_ed25519(&mut rng);
    let host_blob = host_key.public_key().to_blob();
    let server_config = with_custom_cipher(Config::server(vec![
        Arc::new(host_key) as Arc<dyn SigningKey>
    ]))?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let server = Server::new(server_config, Arc::new(Echo));
    std::thread::spawn(move || server.serve(&listener));

    let client_config = with_custom_cipher(Config::default())?;
    let session = Session::connect(
        TcpStream::connect(address)?,
        client_config,
        HostKeyCheck::Key(host_blob),
    )?;
    println!("negotiated: {}", session.negotiated().unwrap_or_default());
    session.authenticate_password("robey", "foo")?;
    let mut channel = session.open_session()?;
    channel.exec("echo hello through a cipher sekura does not ship")?;
    let mut out = String::new();
    channel.read_to_string(&mut out)?;
    print!("server says: {out}");
    session.close();
    Ok(())
}
