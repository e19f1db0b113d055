//! Interop of sekura's transport layer with real OpenSSH, on 127.0.0.1.
//!
//! - [`sekura_client_to_sshd`]: a sekura client completes the key exchange
//!   with one throwaway sshd for every kex, cipher, MAC and host key
//!   algorithm both support (one category at a time against a fixed modern
//!   choice for the others), checks sshd's host key, and reaches
//!   SERVICE_ACCEPT of `ssh-userauth`.
//! - [`openssh_client_to_sekura_server`]: OpenSSH's `ssh` reaches the same
//!   point against a sekura server, for every kex, cipher and MAC.
//! - [`sshd_rekeys_answered_by_sekura`]: after logging in, a sekura client
//!   sends megabytes under sshd's `RekeyLimit 64K`; sshd starts rekeys and
//!   sekura answers them.
//!
//! Peers are found on the machine (sshd at /usr/sbin/sshd, ssh and
//! ssh-keygen in PATH); keys and configurations are made at test time in a
//! temporary directory, ports are ephemeral, and every process is killed
//! when the test ends, panicking or not. A missing peer skips a test
//! (printing why) unless `SEKURA_REQUIRE_PEERS=1`, which CI sets.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod support;

use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::{PrivateKey, PublicKey};
use sekura::algorithms::builtin::{ALL_CIPHERS, ALL_HOST_KEY, ALL_KEX, ALL_MACS};
use sekura::negotiation::Preferences;
use sekura::proto::numbers::DisconnectReason;
use sekura::transport::auth::AuthEvent;
use sekura::transport::{Config, Connection, Event, HostKey};
use sekura::{Negotiated, os_rng};
use std::fmt;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use support::{KillOnDrop, OpenSsh, Sshd, SshdConfig, TempDir, peer_or_skip};

/// The fixed choices while one category varies.
const FIXED_KEX: &str = "curve25519-sha256";
const FIXED_HOST_KEY: &str = "ssh-ed25519";
const FIXED_CIPHER: &str = "aes128-ctr";
const FIXED_MAC: &str = "hmac-sha2-256";

/// How long one connection may take to reach SERVICE_ACCEPT. Generous:
/// 8192-bit Diffie-Hellman in an unoptimized build on a busy CI machine.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// When a test has run this long, its remaining connections are reported
/// as not run instead of being tried (a peer that hangs every connection
/// must not keep CI busy for an hour).
const TEST_BUDGET: Duration = Duration::from_secs(180);

/// The line OpenSSH's ssh prints with `-v` when the server accepted its
/// `ssh-userauth` service request (sshconnect2.c; the same text from
/// OpenSSH 6 to 10).
const SSH_SERVICE_ACCEPT_LINE: &str = "SSH2_MSG_SERVICE_ACCEPT received";

// ---------------------------------------------------------------------------
// What both sides support
// ---------------------------------------------------------------------------

/// An algorithm category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Kex,
    HostKey,
    Cipher,
    Mac,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Category::Kex => "kex",
            Category::HostKey => "host key",
            Category::Cipher => "cipher",
            Category::Mac => "MAC",
        })
    }
}

/// Per category: what OpenSSH supports (`ssh -Q`), and what it shares with
/// sekura's `ALL_*` lists (in sekura's order).
struct Supported {
    openssh: [Vec<String>; 4],
    shared: [Vec<String>; 4],
}

impl Supported {
    fn query(openssh: &OpenSsh) -> Supported {
        let ours = |category: Category| -> Vec<&'static str> {
            match category {
                Category::Kex => ALL_KEX.iter().map(|a| a.name()).collect(),
                Category::HostKey => ALL_HOST_KEY.iter().map(|a| a.name()).collect(),
                Category::Cipher => ALL_CIPHERS.iter().map(|a| a.name()).collect(),
                Category::Mac => ALL_MACS.iter().map(|a| a.name()).collect(),
            }
        };
        let query = |what: &str| openssh.query(what).unwrap_or_else(|e| panic!("{e}"));
        let theirs = [
            query("kex"),
            query("HostKeyAlgorithms"),
            query("cipher"),
            query("mac"),
        ];
        let shared = CATEGORIES.map(|category| {
            ours(category)
                .into_iter()
                .filter(|name| theirs[category as usize].iter().any(|t| t == name))
                .map(String::from)
                .collect::<Vec<_>>()
        });
        for category in CATEGORIES {
            let list = &shared[category as usize];
            let fixed = Choice::fixed().get(category).to_string();
            assert!(
                list.contains(&fixed),
                "{} does not support the fixed {category} {fixed}",
                openssh.version
            );
            eprintln!(
                "{category}: {} shared with {}: {}",
                list.len(),
                openssh.version,
                list.join(" ")
            );
        }
        Supported {
            openssh: theirs,
            shared,
        }
    }

    fn shared(&self, category: Category) -> &[String] {
        &self.shared[category as usize]
    }

    fn openssh(&self, category: Category) -> &[String] {
        &self.openssh[category as usize]
    }
}

const CATEGORIES: [Category; 4] = [
    Category::Kex,
    Category::HostKey,
    Category::Cipher,
    Category::Mac,
];

/// One algorithm per category.
#[derive(Debug, Clone)]
struct Choice {
    kex: String,
    host_key: String,
    cipher: String,
    mac: String,
}

impl Choice {
    fn fixed() -> Choice {
        Choice {
            kex: FIXED_KEX.into(),
            host_key: FIXED_HOST_KEY.into(),
            cipher: FIXED_CIPHER.into(),
            mac: FIXED_MAC.into(),
        }
    }

    /// The fixed choice with one category changed.
    fn with(category: Category, name: &str) -> Choice {
        let mut choice = Choice::fixed();
        *match category {
            Category::Kex => &mut choice.kex,
            Category::HostKey => &mut choice.host_key,
            Category::Cipher => &mut choice.cipher,
            Category::Mac => &mut choice.mac,
        } = name.to_string();
        choice
    }

    fn get(&self, category: Category) -> &str {
        match category {
            Category::Kex => &self.kex,
            Category::HostKey => &self.host_key,
            Category::Cipher => &self.cipher,
            Category::Mac => &self.mac,
        }
    }

    /// Preferences offering exactly this choice (no compression).
    fn apply(&self, preferences: &mut Preferences) {
        preferences.set_kex(&self.kex).unwrap();
        preferences.set_host_key_algorithms(&self.host_key).unwrap();
        preferences.set_ciphers(&self.cipher).unwrap();
        preferences.set_macs(&self.mac).unwrap();
        preferences.set_compression("none").unwrap();
    }

    /// Checks what a key exchange agreed on against this choice.
    fn check(&self, negotiated: &Negotiated) -> Result<(), String> {
        let aead = negotiated.cipher_c2s.aead_tag_len().is_some();
        let got = [
            ("kex", negotiated.kex.name(), self.kex.as_str()),
            (
                "host key",
                negotiated.host_key.map_or("(none)", |a| a.name()),
                &self.host_key,
            ),
            ("cipher c2s", negotiated.cipher_c2s.name(), &self.cipher),
            ("cipher s2c", negotiated.cipher_s2c.name(), &self.cipher),
            (
                "MAC c2s",
                negotiated.mac_c2s.map_or("(implicit)", |a| a.name()),
                if aead { "(implicit)" } else { &self.mac },
            ),
            (
                "MAC s2c",
                negotiated.mac_s2c.map_or("(implicit)", |a| a.name()),
                if aead { "(implicit)" } else { &self.mac },
            ),
            ("compression", negotiated.compression_c2s.name(), "none"),
        ];
        for (what, got, want) in got {
            if got != want {
                return Err(format!("negotiated {what} {got}, expected {want}"));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// A blocking driver for a sekura connection over a TcpStream
// ---------------------------------------------------------------------------

/// A sekura [`Connection`] on a socket, driven by a small blocking loop
/// (as in `examples/handshake.rs`), recording what happened. Reads and
/// writes time out so that a silent peer fails the test instead of hanging
/// it.
struct Driver {
    conn: Connection,
    socket: TcpStream,
    start: Instant,
    out: Vec<u8>,
    buf: Vec<u8>,
    /// Client: the host key the server must present (blob).
    expected_host_key: Option<Vec<u8>>,
    /// Client: the host key the server presented.
    host_key: Option<HostKey>,
    /// Every completed key exchange.
    exchanges: Vec<Negotiated>,
    /// Services accepted (client) or started (server).
    services: Vec<String>,
    /// Client: user authentication requests the server refused.
    auth_failures: Vec<String>,
    /// How the connection ended, if it did.
    ended: Option<String>,
}

impl Driver {
    fn client(
        address: SocketAddr,
        config: Config,
        expected_host_key: &[u8],
    ) -> Result<Driver, String> {
        let socket = TcpStream::connect_timeout(&address, Duration::from_secs(5))
            .map_err(|e| format!("connecting to {address}: {e}"))?;
        let conn = Connection::client(Arc::new(config), Box::new(os_rng()), Duration::ZERO);
        Ok(Driver::new(conn, socket, Some(expected_host_key.to_vec())))
    }

    fn server(socket: TcpStream, config: Arc<Config>) -> Driver {
        let conn = Connection::server(config, Box::new(os_rng()), Duration::ZERO);
        Driver::new(conn, socket, None)
    }

    fn new(conn: Connection, socket: TcpStream, expected_host_key: Option<Vec<u8>>) -> Driver {
        let _ = socket.set_nodelay(true);
        // A peer that stops reading must not block a write forever either.
        let _ = socket.set_write_timeout(Some(HANDSHAKE_TIMEOUT));
        Driver {
            conn,
            socket,
            start: Instant::now(),
            out: Vec::new(),
            buf: vec![0; 64 * 1024],
            expected_host_key,
            host_key: None,
            exchanges: Vec::new(),
            services: Vec::new(),
            auth_failures: Vec::new(),
            ended: None,
        }
    }

    /// Writes everything the connection has to send.
    fn flush(&mut self) -> Result<(), String> {
        while self.conn.poll_transmit(&mut self.out) {
            self.socket
                .write_all(&self.out)
                .map_err(|e| format!("writing to the peer: {e}"))?;
            self.out.clear();
        }
        Ok(())
    }

    /// Acts on the connection's events.
    fn handle_events(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::HostKey(key) => {
                    let matches = self.expected_host_key.as_deref() == Some(key.key.as_slice());
                    self.host_key = Some(key);
                    if matches {
                        if let Err(e) = self.conn.accept_host_key() {
                            self.ended.get_or_insert(format!("accept_host_key: {e}"));
                        }
                    } else {
                        let e = self
                            .conn
                            .reject_host_key("not the host key generated for the peer");
                        self.ended.get_or_insert(format!("{e}"));
                    }
                }
                Event::KeyExchangeDone { negotiated, .. } => self.exchanges.push(negotiated),
                Event::ServiceAccepted { name } | Event::ServiceStarted { name } => {
                    self.services.push(name);
                }
                Event::Auth(
                    event @ (AuthEvent::Failure { .. }
                    | AuthEvent::Exhausted { .. }
                    | AuthEvent::Unusable { .. }),
                ) => self.auth_failures.push(format!("{event:?}")),
                Event::Disconnected {
                    reason,
                    description,
                    by_peer,
                } => {
                    let who = if by_peer { "the peer" } else { "sekura" };
                    self.ended
                        .get_or_insert(format!("{who} disconnected ({reason:?}): {description}"));
                }
                _ => {}
            }
        }
    }

    /// One turn of the loop: send, read what arrives within `wait`, feed
    /// it and the time to the connection, act on its events, send again.
    fn step(&mut self, wait: Duration) -> Result<(), String> {
        self.flush()?;
        self.socket
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        match self.socket.read(&mut self.buf) {
            Ok(0) => {
                self.handle_events();
                let why = self.ended.clone().unwrap_or_default();
                return Err(format!("the peer closed the connection {why}"));
            }
            Ok(n) => {
                if let Err(e) = self.conn.handle_input(&self.buf[..n]) {
                    self.handle_events();
                    let _ = self.flush();
                    return Err(format!("sekura: {e}"));
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("reading from the peer: {e}")),
        }
        if !self.conn.is_closed() {
            let now = self.start.elapsed();
            if let Err(e) = self.conn.handle_timeout(now) {
                self.handle_events();
                return Err(format!("sekura: {e}"));
            }
        }
        self.handle_events();
        self.flush()?;
        match &self.ended {
            Some(why) => Err(why.clone()),
            None if self.conn.is_closed() => Err("the connection closed".into()),
            None => Ok(()),
        }
    }

    /// Steps until `done` holds, failing after `timeout`.
    fn run_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&Driver) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            if Instant::now() >= deadline {
                return Err(format!("timed out after {timeout:?} waiting for {what}"));
            }
            self.step(Duration::from_millis(50))
                .map_err(|e| format!("{e} (while waiting for {what})"))?;
        }
        Ok(())
    }

    /// Says goodbye (best effort).
    fn close(mut self) {
        self.conn
            .disconnect(DisconnectReason::ByApplication, "interop test done");
        let _ = self.flush();
    }
}

// ---------------------------------------------------------------------------
// Host keys for sshd
// ---------------------------------------------------------------------------

/// A host key made with ssh-keygen for sshd.
struct HostKeyFile {
    private: PathBuf,
    public: PublicKey,
}

/// Makes the host keys sshd needs to offer every shared host key algorithm:
/// ed25519, ECDSA on the three curves, RSA 3072 and, if both still speak
/// `ssh-dss`, DSA.
fn make_host_keys(openssh: &OpenSsh, dir: &Path, algorithms: &[String]) -> Vec<HostKeyFile> {
    let mut made: Vec<(&str, HostKeyFile)> = Vec::new();
    for algorithm in algorithms {
        let (file, kind, bits) = match algorithm.as_str() {
            "ssh-ed25519" => ("ed25519", "ed25519", None),
            "ecdsa-sha2-nistp256" => ("ecdsa256", "ecdsa", Some(256)),
            "ecdsa-sha2-nistp384" => ("ecdsa384", "ecdsa", Some(384)),
            "ecdsa-sha2-nistp521" => ("ecdsa521", "ecdsa", Some(521)),
            "rsa-sha2-512" | "rsa-sha2-256" | "ssh-rsa" => ("rsa", "rsa", Some(3072)),
            "ssh-dss" => ("dsa", "dsa", None),
            other => panic!("no host key type known for {other}"),
        };
        if made.iter().any(|(f, _)| *f == file) {
            continue;
        }
        let private = dir.join(format!("ssh_host_{file}_key"));
        openssh
            .keygen(&private, kind, bits)
            .unwrap_or_else(|e| panic!("host key for {algorithm}: {e}"));
        let public = PublicKey::from_file(private.with_extension("pub")).unwrap_or_else(|e| {
            panic!("parsing the .pub that ssh-keygen wrote for {algorithm}: {e}")
        });
        made.push((file, HostKeyFile { private, public }));
    }
    made.into_iter().map(|(_, key)| key).collect()
}

/// The key that signs with `algorithm`.
fn key_for<'a>(keys: &'a [HostKeyFile], algorithm: &str) -> &'a PublicKey {
    &keys
        .iter()
        .find(|k| k.public.signature_algorithms().contains(&algorithm))
        .unwrap_or_else(|| panic!("no host key signs with {algorithm}"))
        .public
}

/// An sshd with the given host keys, `extra` configuration lines and
/// `sshd -o` options (which override the support module's fixed lines),
/// offering everything this OpenSSH supports.
fn start_sshd(
    openssh: &OpenSsh,
    dir: &Path,
    supported: &Supported,
    keys: &[HostKeyFile],
    extra: &[&str],
    options: &[String],
) -> Sshd {
    let config = SshdConfig {
        host_keys: keys.iter().map(|k| k.private.clone()).collect(),
        kex: supported.openssh(Category::Kex).to_vec(),
        ciphers: supported.openssh(Category::Cipher).to_vec(),
        macs: supported.openssh(Category::Mac).to_vec(),
        host_key_algorithms: supported.openssh(Category::HostKey).to_vec(),
        extra: extra.iter().map(|s| (*s).to_string()).collect(),
        options: options.to_vec(),
    };
    Sshd::start(openssh, dir, &config).unwrap_or_else(|e| panic!("starting sshd: {e}"))
}

// ---------------------------------------------------------------------------
// Test 1: sekura client -> sshd
// ---------------------------------------------------------------------------

/// One sekura client connection to sshd with exactly `choice` offered:
/// the key exchange completes with sshd's own host key, and sshd accepts
/// the `ssh-userauth` service request the client sends after it.
fn client_handshake(sshd: &Sshd, choice: &Choice, expected_key: &PublicKey) -> Result<(), String> {
    let mut config = Config::default();
    choice.apply(&mut config.preferences);
    let mut client = Driver::client(sshd.address(), config, expected_key.as_blob())?;
    client.run_until("SERVICE_ACCEPT", HANDSHAKE_TIMEOUT, |c| {
        !c.services.is_empty()
    })?;
    let host_key = client.host_key.as_ref().ok_or("no host key was reported")?;
    if host_key.algorithm != choice.host_key {
        return Err(format!(
            "host key algorithm {}, expected {}",
            host_key.algorithm, choice.host_key
        ));
    }
    if host_key.key != expected_key.as_blob() {
        return Err("sshd presented another host key than the one generated".into());
    }
    if client.exchanges.len() != 1 {
        return Err(format!(
            "{} key exchanges, expected 1",
            client.exchanges.len()
        ));
    }
    choice.check(&client.exchanges[0])?;
    if client.services != ["ssh-userauth"] {
        return Err(format!("services accepted: {:?}", client.services));
    }
    if client.conn.key_exchanges() != 1 {
        return Err(format!("key_exchanges() = {}", client.conn.key_exchanges()));
    }
    client.close();
    Ok(())
}

/// A sekura client completes the key exchange with OpenSSH's sshd for every
/// kex, cipher, MAC and host key algorithm both support, varying one
/// category at a time against curve25519-sha256 + ssh-ed25519 +
/// aes128-ctr + hmac-sha2-256, and reaches SERVICE_ACCEPT of ssh-userauth.
/// One sshd serves every connection; the client offers one algorithm per
/// category.
#[test]
fn sekura_client_to_sshd() {
    const TEST: &str = "sekura_client_to_sshd";
    let Some(openssh) = peer_or_skip(TEST, OpenSsh::find(true)) else {
        return;
    };
    eprintln!("peer: {}", openssh.version);
    let started = Instant::now();
    let dir = TempDir::new("sekura-interop").unwrap();
    let supported = Supported::query(&openssh);
    let keys = make_host_keys(&openssh, dir.path(), supported.shared(Category::HostKey));
    let mut sshd = start_sshd(&openssh, dir.path(), &supported, &keys, &[], &[]);

    let mut cases = Vec::new();
    for category in CATEGORIES {
        for name in supported.shared(category) {
            cases.push((category, name.clone()));
        }
    }
    let mut failures = Vec::new();
    for (category, name) in &cases {
        if started.elapsed() > TEST_BUDGET {
            failures.push(format!("{category} {name}: not run, {TEST_BUDGET:?} spent"));
            continue;
        }
        let choice = Choice::with(*category, name);
        let expected = key_for(&keys, &choice.host_key);
        let t = Instant::now();
        match client_handshake(&sshd, &choice, expected) {
            Ok(()) => eprintln!("ok   {category:8} {name} ({:?})", t.elapsed()),
            Err(e) => {
                eprintln!("FAIL {category:8} {name}: {e}");
                failures.push(format!(
                    "{category} {name}: {e}\n--- sshd log (tail) ---\n{}\n",
                    sshd.log_tail(25)
                ));
            }
        }
    }
    assert!(
        sshd.is_running(),
        "sshd died; its log:\n{}",
        sshd.log_tail(40)
    );
    eprintln!("{} connections in {:?}", cases.len(), started.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {} sekura -> sshd handshakes failed ({}):\n{}",
        failures.len(),
        cases.len(),
        openssh.version,
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Test 2: OpenSSH ssh -> sekura server
// ---------------------------------------------------------------------------

/// What a sekura server saw of one connection.
#[derive(Default)]
struct ServerReport {
    exchanges: Vec<Negotiated>,
    services: Vec<String>,
    /// What went wrong before the service started.
    error: Option<String>,
    /// How the connection ended after that (expected: ssh was killed).
    ended: Option<String>,
}

/// Accepts one connection on `listener` and drives a sekura server on it
/// until the client goes away, `stop` is set or `timeout` passes.
fn serve_one(
    listener: &TcpListener,
    config: Arc<Config>,
    stop: &AtomicBool,
    service_started: &AtomicBool,
    timeout: Duration,
) -> ServerReport {
    let mut report = ServerReport::default();
    let deadline = Instant::now() + timeout;
    listener.set_nonblocking(true).unwrap();
    let socket = loop {
        match listener.accept() {
            Ok((socket, _)) => break socket,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
                    report.error = Some("ssh never connected".into());
                    return report;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                report.error = Some(format!("accept: {e}"));
                return report;
            }
        }
    };
    socket.set_nonblocking(false).unwrap();
    let mut server = Driver::server(socket, config);
    let result = loop {
        if stop.load(Ordering::SeqCst) {
            break Ok(());
        }
        if Instant::now() >= deadline {
            break Err(format!("timed out after {timeout:?}"));
        }
        let step = server.step(Duration::from_millis(20));
        if !server.services.is_empty() {
            service_started.store(true, Ordering::SeqCst);
        }
        if let Err(e) = step {
            break Err(e);
        }
    };
    report.exchanges = server.exchanges;
    report.services = server.services;
    match result {
        Err(e) if report.services.is_empty() => report.error = Some(e),
        Err(e) => report.ended = Some(e),
        Ok(()) => {}
    }
    report
}

/// Runs OpenSSH's ssh with `choice` against a fresh sekura server: ssh
/// must report SERVICE_ACCEPT and the server ServiceStarted.
fn ssh_to_sekura(openssh: &OpenSsh, config: &Arc<Config>, choice: &Choice) -> Result<(), String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let stop = Arc::new(AtomicBool::new(false));
    let service_started = Arc::new(AtomicBool::new(false));
    let server = {
        let (config, stop) = (Arc::clone(config), Arc::clone(&stop));
        let started = Arc::clone(&service_started);
        std::thread::spawn(move || serve_one(&listener, config, &stop, &started, HANDSHAKE_TIMEOUT))
    };

    let mut cmd = Command::new(&openssh.ssh);
    cmd.args(["-vvv", "-F", "/dev/null", "-p", &port.to_string()])
        .args(["-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "GlobalKnownHostsFile=/dev/null"])
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5"])
        .args(["-o", &format!("KexAlgorithms={}", choice.kex)])
        .args(["-o", &format!("HostKeyAlgorithms={}", choice.host_key)])
        .args(["-o", &format!("Ciphers={}", choice.cipher)])
        .args(["-o", &format!("MACs={}", choice.mac)])
        .args(["-o", "Compression=no"])
        .args(["user@127.0.0.1", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut ssh = KillOnDrop::new(
        cmd.spawn().map_err(|e| format!("starting ssh: {e}"))?,
        "ssh",
    );
    let stderr = ssh.child().stderr.take().ok_or("no stderr pipe")?;
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let mut grace_set = false;
    let mut lines = Vec::new();
    let mut accepted = false;
    while !accepted {
        // Once the server has accepted the service, ssh has a few seconds
        // to say so (no need to wait for the whole handshake timeout).
        if !grace_set && service_started.load(Ordering::SeqCst) {
            grace_set = true;
            deadline = deadline.min(Instant::now() + Duration::from_secs(5));
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(100))) {
            Ok(line) => {
                accepted = line.contains(SSH_SERVICE_ACCEPT_LINE);
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // ssh exited without the line.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // This test is about the transport, whose job ends at SERVICE_ACCEPT.
    // After it ssh sends USERAUTH_REQUEST, which this server never answers
    // (it ignores the authentication events), so ssh would wait there until
    // it timed out: that is expected, and ssh is killed here.
    ssh.kill();
    let _ = reader.join();
    lines.extend(rx.try_iter());
    stop.store(true, Ordering::SeqCst);
    let report = server.join().map_err(|_| "the server thread panicked")?;

    let stderr_tail = || lines[lines.len().saturating_sub(25)..].join("\n");
    if let Some(e) = &report.error {
        return Err(format!(
            "sekura server: {e}\n--- ssh -vvv (tail) ---\n{}",
            stderr_tail()
        ));
    }
    if !accepted {
        return Err(format!(
            "ssh never printed {SSH_SERVICE_ACCEPT_LINE:?}\n--- ssh -vvv (tail) ---\n{}",
            stderr_tail()
        ));
    }
    if report.services != ["ssh-userauth"] {
        return Err(format!("the sekura server started {:?}", report.services));
    }
    let [negotiated] = report.exchanges.as_slice() else {
        return Err(format!(
            "{} key exchanges on the server",
            report.exchanges.len()
        ));
    };
    choice.check(negotiated)?;
    // And ssh agrees (its -v output names what it negotiated).
    let mac = negotiated.mac_c2s.map_or("<implicit>", |m| m.name());
    for want in [
        format!("kex: algorithm: {}", choice.kex),
        format!("kex: host key algorithm: {}", choice.host_key),
        format!(
            "kex: client->server cipher: {} MAC: {mac} compression: none",
            choice.cipher
        ),
        format!(
            "kex: server->client cipher: {} MAC: {mac} compression: none",
            choice.cipher
        ),
    ] {
        if !lines.iter().any(|l| l.contains(&want)) {
            return Err(format!("ssh -vvv never says {want:?}\n{}", stderr_tail()));
        }
    }
    Ok(())
}

/// OpenSSH's ssh completes the key exchange with a sekura server for every
/// kex, cipher and MAC both support (one category at a time, host key
/// ssh-ed25519), and the server accepts its ssh-userauth service request.
#[test]
fn openssh_client_to_sekura_server() {
    const TEST: &str = "openssh_client_to_sekura_server";
    let Some(openssh) = peer_or_skip(TEST, OpenSsh::find(false)) else {
        return;
    };
    eprintln!("peer: {}", openssh.version);
    let started = Instant::now();
    let supported = Supported::query(&openssh);
    let host_key = PrivateKey::generate_ed25519(&mut os_rng());
    let mut config = Config::server(vec![Arc::new(host_key) as Arc<dyn SigningKey>]);
    config.preferences = Preferences::all();
    let config = Arc::new(config);

    let mut cases = Vec::new();
    for category in [Category::Kex, Category::Cipher, Category::Mac] {
        for name in supported.shared(category) {
            cases.push((category, name.clone()));
        }
    }
    let mut failures = Vec::new();
    for (category, name) in &cases {
        if started.elapsed() > TEST_BUDGET {
            failures.push(format!("{category} {name}: not run, {TEST_BUDGET:?} spent"));
            continue;
        }
        let t = Instant::now();
        match ssh_to_sekura(&openssh, &config, &Choice::with(*category, name)) {
            Ok(()) => eprintln!("ok   {category:8} {name} ({:?})", t.elapsed()),
            Err(e) => {
                eprintln!("FAIL {category:8} {name}: {e}");
                failures.push(format!("{category} {name}: {e}\n"));
            }
        }
    }
    eprintln!("{} connections in {:?}", cases.len(), started.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {} ssh -> sekura handshakes failed ({}):\n{}",
        failures.len(),
        cases.len(),
        openssh.version,
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Test 3: rekeys started by sshd under its RekeyLimit
// ---------------------------------------------------------------------------

/// How much IGNORE traffic the sekura client sends, in messages of
/// `IGNORE_CHUNK` bytes: 4 MiB, 64 times sshd's `RekeyLimit 64K`.
const IGNORE_CHUNK: usize = 32 * 1024;
const IGNORE_CHUNKS: usize = 128;

/// Lines in sshd's log that mean it found our packets wrong.
const SSHD_PACKET_ERRORS: &[&str] = &[
    "Corrupted MAC",
    "Bad packet length",
    "padding error",
    "dispatch_protocol_error",
    "message authentication code incorrect",
];

/// The name of the user running the tests (sshd, unprivileged or not,
/// lets this user log in with a key from our authorized_keys file).
fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".into())
}

/// sshd with `RekeyLimit 64K` starts rekeys, and sekura answers them.
///
/// OpenSSH never starts a rekey before user authentication (packet.c,
/// `ssh_packet_need_rekeying`: "client can't cope with rekeying pre-auth";
/// sshd even refuses a client's KEXINIT then, with UNIMPLEMENTED), so the
/// sekura client first logs in with a key made for the test (publickey,
/// the current user, an authorized_keys file in the temporary directory).
/// Then it sends 4 MiB of IGNORE messages with its own rekey limits
/// switched off (`rekey_bytes` and `rekey_packets` at `u64::MAX`, no
/// interval): every exchange after the first is one sshd started. At least
/// 3 must have completed, with the fixed algorithms; then a rekey sekura
/// starts must complete too, which shows sshd still reads and answers
/// everything, and sshd must have logged no packet error.
#[test]
fn sshd_rekeys_answered_by_sekura() {
    const TEST: &str = "sshd_rekeys_answered_by_sekura";
    let Some(openssh) = peer_or_skip(TEST, OpenSsh::find(true)) else {
        return;
    };
    eprintln!("peer: {}", openssh.version);
    let started = Instant::now();
    let dir = TempDir::new("sekura-interop").unwrap();
    let supported = Supported::query(&openssh);
    let keys = make_host_keys(&openssh, dir.path(), &[FIXED_HOST_KEY.to_string()]);
    let user = current_user();
    let user_key = PrivateKey::generate_ed25519(&mut os_rng());
    let authorized_keys = dir.path().join("authorized_keys");
    std::fs::write(
        &authorized_keys,
        format!("{}\n", user_key.public_key().to_openssh()),
    )
    .unwrap();
    let mut sshd = start_sshd(
        &openssh,
        dir.path(),
        &supported,
        &keys,
        &[
            "RekeyLimit 64K",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
        ],
        // The support module's sshd_config says `AuthorizedKeysFile none`.
        &[format!("AuthorizedKeysFile={}", authorized_keys.display())],
    );
    let fail = |sshd: &Sshd, what: String| -> ! {
        panic!("{what}\n--- sshd log (tail) ---\n{}", sshd.log_tail(40))
    };

    let mut config = Config::default();
    Choice::fixed().apply(&mut config.preferences);
    config.rekey_bytes = u64::MAX;
    config.rekey_packets = u64::MAX;
    config.rekey_interval = None;
    let mut client = Driver::client(sshd.address(), config, keys[0].public.as_blob())
        .unwrap_or_else(|e| fail(&sshd, e));
    client
        .conn
        .auth_publickey(&user, Arc::new(user_key) as Arc<dyn SigningKey>)
        .unwrap();
    client
        .run_until("authentication", HANDSHAKE_TIMEOUT, |c| {
            c.conn.is_authenticated() || !c.auth_failures.is_empty()
        })
        .unwrap_or_else(|e| fail(&sshd, e));
    if !client.conn.is_authenticated() {
        fail(
            &sshd,
            format!("sshd refused the key of {user}: {:?}", client.auth_failures),
        );
    }
    assert_eq!(client.conn.key_exchanges(), 1);

    let chunk: Vec<u8> = (0..IGNORE_CHUNK).map(|i| (i % 251) as u8).collect();
    for i in 0..IGNORE_CHUNKS {
        client
            .conn
            .send_ignore(&chunk)
            .unwrap_or_else(|e| fail(&sshd, format!("send_ignore #{i}: {e}")));
        client
            .step(Duration::from_millis(1))
            .unwrap_or_else(|e| fail(&sshd, format!("after IGNORE #{i}: {e}")));
    }
    // Let the last exchange sshd started finish.
    let _ = client.run_until("quiet", Duration::from_millis(300), |_| false);
    let peer_started = client.conn.key_exchanges() - 1;
    eprintln!(
        "{} bytes of IGNORE sent: {peer_started} rekeys started by sshd",
        IGNORE_CHUNK * IGNORE_CHUNKS
    );
    assert!(
        peer_started >= 3,
        "sshd started only {peer_started} rekeys over {} bytes with RekeyLimit 64K\n{}",
        IGNORE_CHUNK * IGNORE_CHUNKS,
        sshd.log_tail(40)
    );
    assert_eq!(client.exchanges.len() as u32, client.conn.key_exchanges());
    for negotiated in &client.exchanges {
        Choice::fixed().check(negotiated).unwrap();
    }

    // One more, started by sekura: sshd must still be reading and answering.
    let before = client.conn.key_exchanges();
    client.conn.request_rekey().unwrap();
    client
        .run_until("a rekey sekura started", HANDSHAKE_TIMEOUT, |c| {
            c.conn.key_exchanges() > before
        })
        .unwrap_or_else(|e| fail(&sshd, e));
    assert!(!client.conn.is_closed());
    client.close();

    assert!(
        sshd.is_running(),
        "sshd died; its log:\n{}",
        sshd.log_tail(40)
    );
    let log = sshd.log_text();
    // sshd's own account (its DEBUG3 wording, so only reported).
    eprintln!(
        "sshd logged \"rekex triggered\" {} times",
        log.matches("rekex triggered").count()
    );
    for error in SSHD_PACKET_ERRORS {
        assert!(
            !log.contains(error),
            "sshd logged {error:?}:\n{}",
            sshd.log_tail(40)
        );
    }
    eprintln!("{TEST}: {:?}", started.elapsed());
}
