//! The one-call connect (`sekura::connect::Connect`) against a sekura
//! blocking server on 127.0.0.1: passwords, identity files, partial
//! success, known_hosts policies, algorithm options and timeouts.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod support;

use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::PrivateKey;
use sekura::blocking::{AuthResult, Channel, Pty, Server, ServerHandler, Session, SessionRequest};
use sekura::connect::{Connect, Target};
use sekura::known_hosts::StrictHostKeyChecking;
use sekura::transport::Config;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::TempDir;

/// User `robey`: password `foo`, or the authorized key. With `two_factor`,
/// the key is only a partial success and the password counts only after it.
struct Handler {
    authorized: Vec<u8>,
    two_factor: bool,
    key_passed: AtomicBool,
    password_delay: Duration,
}

impl ServerHandler for Handler {
    fn check_password(&self, user: &str, password: &str) -> AuthResult {
        std::thread::sleep(self.password_delay);
        let right = user == "robey" && password == "foo";
        match (right, self.two_factor) {
            (true, false) => AuthResult::Accept,
            (true, true) if self.key_passed.load(Ordering::SeqCst) => AuthResult::Accept,
            _ => AuthResult::Reject,
        }
    }

    fn check_public_key(&self, user: &str, key: &[u8]) -> AuthResult {
        if user != "robey" || key != self.authorized {
            return AuthResult::Reject;
        }
        if self.two_factor {
            self.key_passed.store(true, Ordering::SeqCst);
            AuthResult::Partial
        } else {
            AuthResult::Accept
        }
    }

    fn session(
        &self,
        user: &str,
        request: SessionRequest,
        _: Option<Pty>,
        ch: &mut Channel,
    ) -> u32 {
        match request {
            SessionRequest::Exec(command) if command == b"whoami" => {
                ch.write_all(format!("{user}\n").as_bytes()).unwrap();
                0
            }
            _ => 127,
        }
    }
}

struct Fixture {
    address: SocketAddr,
    host_key: Vec<u8>,
    user_key: Arc<PrivateKey>,
}

impl Fixture {
    fn target(&self) -> String {
        format!("robey@{}", self.address)
    }
}

fn server_with(two_factor: bool, password_delay: Duration) -> Fixture {
    let mut rng = sekura::os_rng();
    let host = PrivateKey::generate_ed25519(&mut rng);
    let host_key = host.public_key().to_blob();
    let user_key = Arc::new(PrivateKey::generate_ed25519(&mut rng));
    let handler = Arc::new(Handler {
        authorized: user_key.public_key().to_blob(),
        two_factor,
        key_passed: AtomicBool::new(false),
        password_delay,
    });
    let config = Config::server(vec![Arc::new(host) as Arc<dyn SigningKey>]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = Server::new(config, handler);
    std::thread::spawn(move || server.serve(&listener));
    Fixture {
        address,
        host_key,
        user_key,
    }
}

fn server() -> Fixture {
    server_with(false, Duration::ZERO)
}

fn whoami(session: &Session) -> String {
    let mut channel = session.open_session().unwrap();
    channel.exec("whoami").unwrap();
    let mut out = String::new();
    channel.read_to_string(&mut out).unwrap();
    out
}

/// A builder for the fixture that does not look at the environment's agent.
fn builder(fixture: &Fixture) -> Connect {
    Connect::new(&fixture.target())
        .agent(false)
        .expected_host_key(&fixture.host_key)
}

#[test]
fn targets_parse_as_ssh_reads_them() {
    let t = |s: &str| Target::parse(s).unwrap();
    let target = |user: Option<&str>, host: &str, port: Option<u16>| Target {
        user: user.map(Into::into),
        host: host.into(),
        port,
    };
    assert_eq!(t("example.com"), target(None, "example.com", None));
    assert_eq!(
        t("example.com:2200"),
        target(None, "example.com", Some(2200))
    );
    assert_eq!(t("robey@host"), target(Some("robey"), "host", None));
    assert_eq!(
        t("robey@127.0.0.1:2200"),
        target(Some("robey"), "127.0.0.1", Some(2200))
    );
    assert_eq!(t("[::1]:2200"), target(None, "::1", Some(2200)));
    assert_eq!(t("me@[fe80::1]"), target(Some("me"), "fe80::1", None));
    assert_eq!(t("::1"), target(None, "::1", None));
    // The user is what precedes the last '@'.
    assert_eq!(t("a@b.c@host:1"), target(Some("a@b.c"), "host", Some(1)));
    for bad in [
        "",
        "@host",
        "user@",
        "host:0",
        "host:65536",
        "host:x",
        "[::1",
        "[::1]x",
        "a b",
    ] {
        let err = Target::parse(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}: {err}");
    }
    // A bad target is reported by connect().
    let err = Connect::new("host:99999").connect().unwrap_err();
    assert!(err.to_string().contains("host:99999"), "{err}");
}

#[test]
fn password() {
    let fixture = server();
    let session = builder(&fixture).password("foo").connect().unwrap();
    assert!(session.is_authenticated());
    assert_eq!(whoami(&session), "robey\n");
    // The same through the shortcut's building blocks: user and port set apart.
    let session = Connect::new("127.0.0.1")
        .user("robey")
        .port(fixture.address.port())
        .agent(false)
        .host_key_fingerprint(&sekura::algorithms::sig::fingerprint_sha256(
            &fixture.host_key,
        ))
        .password("foo")
        .connect()
        .unwrap();
    assert_eq!(whoami(&session), "robey\n");

    let err = builder(&fixture).password("wrong").connect().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let message = err.to_string();
    assert!(message.starts_with("robey@127.0.0.1: "), "{message}");
    assert!(
        message.contains("publickey") && message.contains("password"),
        "{message}"
    );
}

#[test]
fn identity_files_plain_and_encrypted() {
    let fixture = server();
    let dir = TempDir::new("sekura-connect").unwrap();
    let mut rng = sekura::os_rng();
    let plain = dir.path().join("id_plain");
    let encrypted = dir.path().join("id_encrypted");
    std::fs::write(
        &plain,
        fixture
            .user_key
            .to_openssh(None, &mut rng)
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    std::fs::write(
        &encrypted,
        fixture
            .user_key
            .to_openssh(Some(b"secret"), &mut rng)
            .unwrap()
            .as_bytes(),
    )
    .unwrap();

    let session = builder(&fixture)
        .identity_file(&plain, None)
        .connect()
        .unwrap();
    assert_eq!(whoami(&session), "robey\n");
    let session = builder(&fixture)
        .identity_file(&encrypted, Some("secret"))
        .connect()
        .unwrap();
    assert_eq!(whoami(&session), "robey\n");

    // A key that cannot be loaded names its file, before any connection.
    for (path, passphrase) in [(&encrypted, Some("wrong")), (&encrypted, None)] {
        let err = builder(&fixture)
            .identity_file(path, passphrase)
            .password("foo")
            .connect()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("id_encrypted"), "{err}");
    }
    let err = builder(&fixture)
        .identity_file(dir.path().join("missing"), None)
        .connect()
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");

    // An explicit key works the same; a key the server does not know falls
    // through to the password.
    let stranger = Arc::new(PrivateKey::generate_ed25519(&mut rng));
    let session = builder(&fixture)
        .key(stranger.clone())
        .password("foo")
        .connect()
        .unwrap();
    assert_eq!(whoami(&session), "robey\n");
    let err = builder(&fixture).key(stranger).connect().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
}

#[test]
fn partial_success_key_then_password() {
    let fixture = server_with(true, Duration::ZERO);
    let session = builder(&fixture)
        .key(fixture.user_key.clone())
        .password("foo")
        .connect()
        .unwrap();
    assert_eq!(whoami(&session), "robey\n");

    // The key alone is not enough: the server still wants the password.
    let fixture = server_with(true, Duration::ZERO);
    let err = builder(&fixture)
        .key(fixture.user_key.clone())
        .connect()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let message = err.to_string();
    assert!(message.contains("password"), "{message}");
    assert!(!message.contains("publickey"), "{message}");
    // Nor the password alone.
    let fixture = server_with(true, Duration::ZERO);
    let err = builder(&fixture).password("foo").connect().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
}

#[test]
fn known_hosts_policies() {
    let fixture = server();
    let dir = TempDir::new("sekura-connect").unwrap();
    let file = dir.path().join("ssh").join("known_hosts");
    let fingerprint = sekura::algorithms::sig::fingerprint_sha256(&fixture.host_key);
    let with = |policy| {
        Connect::new(&fixture.target())
            .agent(false)
            .password("foo")
            .known_hosts(&file, policy)
    };

    // Unknown host, strict: refused, naming the file and the fingerprint.
    let err = with(StrictHostKeyChecking::Yes).connect().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let message = err.to_string();
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains(&fingerprint), "{message}");
    assert!(!file.exists());

    // accept-new: added and saved; then strict passes.
    let session = with(StrictHostKeyChecking::AcceptNew).connect().unwrap();
    assert_eq!(whoami(&session), "robey\n");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        saved.starts_with(&format!(
            "[127.0.0.1]:{} ssh-ed25519 ",
            fixture.address.port()
        )),
        "{saved}"
    );
    assert_eq!(saved.lines().count(), 1);
    let session = with(StrictHostKeyChecking::Yes).connect().unwrap();
    assert_eq!(whoami(&session), "robey\n");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        saved,
        "a known host is not re-added"
    );

    // A changed key (another server recorded under this host and port).
    let other = PrivateKey::generate_ed25519(&mut sekura::os_rng());
    std::fs::write(
        &file,
        format!(
            "[127.0.0.1]:{} {}\n",
            fixture.address.port(),
            other.public_key().to_openssh()
        ),
    )
    .unwrap();
    for policy in [StrictHostKeyChecking::Yes, StrictHostKeyChecking::AcceptNew] {
        let err = with(policy).connect().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert!(
            err.to_string()
                .contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
            "{err}"
        );
    }
    // `no` lets the changed key through but, as OpenSSH, sends no password
    // to what may be a man in the middle; keys are still used.
    let err = with(StrictHostKeyChecking::No).connect().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let session = with(StrictHostKeyChecking::No)
        .key(fixture.user_key.clone())
        .connect()
        .unwrap();
    assert_eq!(whoami(&session), "robey\n");
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap()
            .contains(&fixture.host_key_line_part())
    );

    // Wrong pinned key or fingerprint.
    let err = Connect::new(&fixture.target())
        .agent(false)
        .password("foo")
        .host_key_fingerprint("SHA256:nope")
        .connect()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains(&fingerprint), "{err}");
    let session = Connect::new(&fixture.target())
        .agent(false)
        .password("foo")
        .insecure_accept_any_host_key()
        .connect()
        .unwrap();
    assert!(session.is_authenticated());
}

impl Fixture {
    /// The base64 of the host key, as a known_hosts line holds it.
    fn host_key_line_part(&self) -> String {
        let public =
            sekura::algorithms::builtin::keys::PublicKey::from_blob(&self.host_key).unwrap();
        public.to_openssh().split(' ').nth(1).unwrap().to_string()
    }
}

#[test]
fn algorithm_options_are_applied() {
    let fixture = server();
    let session = builder(&fixture)
        .option("Ciphers", "aes256-ctr")
        .option("MACs", "hmac-sha2-512")
        .password("foo")
        .connect()
        .unwrap();
    let negotiated = session.negotiated().unwrap();
    assert!(negotiated.contains("aes256-ctr"), "{negotiated}");
    assert!(negotiated.contains("hmac-sha2-512"), "{negotiated}");
    let session = builder(&fixture)
        .option("ciphers", "^aes128-ctr")
        .password("foo")
        .connect()
        .unwrap();
    assert!(session.negotiated().unwrap().contains("aes128-ctr"));

    for (name, value) in [("Ciphers", "no-such-cipher"), ("Compression", "yes")] {
        let err = builder(&fixture)
            .option(name, value)
            .password("foo")
            .connect()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn refused_connection_fails_fast_and_clearly() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let start = Instant::now();
    let err = Connect::new(&format!("robey@127.0.0.1:{port}"))
        .agent(false)
        .insecure_accept_any_host_key()
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("connect to host 127.0.0.1 port {port}")),
        "{err}"
    );
}

#[test]
fn silent_server_times_out() {
    // Accepts, then never says a word: the connect timeout bounds the
    // version and key exchange too.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let start = Instant::now();
    let err = Connect::new(&format!("robey@{address}"))
        .agent(false)
        .insecure_accept_any_host_key()
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .unwrap_err();
    let elapsed = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    drop(listener);
}

#[test]
fn slow_authentication_times_out() {
    let fixture = server_with(false, Duration::from_secs(3));
    let start = Instant::now();
    let err = builder(&fixture)
        .password("foo")
        .auth_timeout(Some(Duration::from_millis(300)))
        .connect()
        .unwrap_err();
    let elapsed = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(
        err.to_string().contains("authentication timed out"),
        "{err}"
    );
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}
