//! The blocking API end to end: a sekura client against a sekura server on
//! 127.0.0.1, over real TCP.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::PrivateKey;
use sekura::blocking::{
    AuthResult, Challenge, Channel, HostKeyCheck, Pty, Server, ServerHandler, Session,
    SessionRequest,
};
use sekura::transport::Config;
use sekura::transport::auth::Credential;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A tiny server: user `robey`, password `foo`, or the one authorized key.
struct Demo {
    authorized: Vec<u8>,
}

impl ServerHandler for Demo {
    fn check_password(&self, user: &str, password: &str) -> AuthResult {
        if user == "robey" && password == "foo" {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    fn check_public_key(&self, user: &str, key: &[u8]) -> AuthResult {
        if user == "robey" && key == self.authorized {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    fn auth_methods(&self, _user: &str) -> Vec<String> {
        ["publickey", "password", "keyboard-interactive"]
            .map(String::from)
            .to_vec()
    }

    fn keyboard_interactive(&self, _user: &str) -> Option<Challenge> {
        Some(Challenge {
            name: "two questions".into(),
            instruction: String::new(),
            prompts: vec![("Password: ".into(), false), ("Code: ".into(), true)],
        })
    }

    fn check_keyboard_interactive(&self, user: &str, answers: &[String]) -> AuthResult {
        if user == "robey" && answers == ["foo", "42"] {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    fn session(
        &self,
        user: &str,
        request: SessionRequest,
        pty: Option<Pty>,
        channel: &mut Channel,
    ) -> u32 {
        let SessionRequest::Exec(command) = request else {
            channel.write_all(b"no shell here\n").unwrap();
            return 1;
        };
        let command = String::from_utf8_lossy(&command).into_owned();
        match command.split_once(' ').unwrap_or((command.as_str(), "")) {
            ("echo", text) => {
                channel.write_all(format!("{text}\n").as_bytes()).unwrap();
                0
            }
            ("whoami", _) => {
                channel
                    .write_all(
                        format!("{user} pty={}\n", pty.map_or("none".into(), |p| p.term))
                            .as_bytes(),
                    )
                    .unwrap();
                0
            }
            ("fail", _) => {
                channel.write_stderr(b"something went wrong\n").unwrap();
                3
            }
            // Echoes everything back until EOF.
            ("cat", _) => {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    let n = channel.read(&mut buf).unwrap();
                    if n == 0 {
                        return 0;
                    }
                    channel.write_all(&buf[..n]).unwrap();
                }
            }
            ("sleep", _) => {
                std::thread::sleep(Duration::from_millis(300));
                0
            }
            _ => 127,
        }
    }
}

struct Fixture {
    address: std::net::SocketAddr,
    host_key: Vec<u8>,
    user_key: Arc<PrivateKey>,
}

fn start_server() -> Fixture {
    let mut rng = sekura::os_rng();
    let host = PrivateKey::generate_ed25519(&mut rng);
    let host_key = host.public_key().to_blob();
    let user_key = Arc::new(PrivateKey::generate_ed25519(&mut rng));
    let handler = Arc::new(Demo {
        authorized: user_key.public_key().to_blob(),
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

fn connect(fixture: &Fixture) -> Session {
    let stream = TcpStream::connect(fixture.address).unwrap();
    Session::connect(
        stream,
        Config::default(),
        HostKeyCheck::Key(fixture.host_key.clone()),
    )
    .unwrap()
}

fn run(session: &Session, command: &str) -> (String, String, Option<u32>) {
    let mut channel = session.open_session().unwrap();
    channel.exec(command).unwrap();
    let mut stderr = channel.stderr();
    let mut out = String::new();
    channel.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    (out, err, channel.wait_exit_status().unwrap())
}

#[test]
fn password_exec_and_exit_status() {
    let fixture = start_server();
    let session = connect(&fixture);
    assert!(session.authenticate_password("robey", "wrong").is_err());
    session.authenticate_password("robey", "foo").unwrap();
    assert!(session.is_authenticated());
    assert_eq!(
        run(&session, "echo hello world"),
        ("hello world\n".into(), String::new(), Some(0))
    );
    assert_eq!(
        run(&session, "fail"),
        (String::new(), "something went wrong\n".into(), Some(3))
    );
    assert_eq!(run(&session, "no-such-command").2, Some(127));
    session.close();
}

#[test]
fn keyboard_interactive_questions() {
    let fixture = start_server();
    let session = connect(&fixture);
    let wrong = Credential::keyboard_interactive(["foo", "41"]);
    assert!(session.authenticate("robey", vec![wrong]).is_err());
    let right = Credential::keyboard_interactive(["foo", "42"]);
    session.authenticate("robey", vec![right]).unwrap();
    assert_eq!(run(&session, "echo in").0, "in\n");
}

#[test]
fn publickey_and_pty() {
    let fixture = start_server();
    let session = connect(&fixture);
    session
        .authenticate(
            "robey",
            vec![Credential::PublicKey(fixture.user_key.clone())],
        )
        .unwrap();
    let mut channel = session.open_session().unwrap();
    channel
        .request_pty("vt100", 80, 24, Default::default())
        .unwrap();
    channel.exec("whoami").unwrap();
    let mut out = String::new();
    channel.read_to_string(&mut out).unwrap();
    assert_eq!(out, "robey pty=vt100\n");
}

#[test]
fn wrong_host_key_is_refused() {
    let fixture = start_server();
    let stream = TcpStream::connect(fixture.address).unwrap();
    let err = Session::connect(
        stream,
        Config::default(),
        HostKeyCheck::fingerprint("SHA256:nope"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("SHA256:"), "{err}");
}

#[test]
fn many_channels_in_parallel_threads_with_large_transfers() {
    let fixture = start_server();
    let session = Arc::new(connect(&fixture));
    session.authenticate_password("robey", "foo").unwrap();
    let workers: Vec<_> = (0..4u8)
        .map(|n| {
            let session = session.clone();
            std::thread::spawn(move || {
                let mut channel = session.open_session().unwrap();
                channel.exec("cat").unwrap();
                let data: Vec<u8> = (0..4 * 1024 * 1024)
                    .map(|i: u32| (i.wrapping_mul(31) as u8) ^ n)
                    .collect();
                let mut reader = channel.stderr(); // unused: only proves Stderr is independent
                let _ = &mut reader;
                let expected = data.clone();
                let mut writer_side = channel;
                // Write and read concurrently: the echo needs both.
                let (tx, rx) = std::sync::mpsc::channel();
                let writer = std::thread::spawn(move || {
                    writer_side.send_all(&data).unwrap();
                    writer_side.shutdown(Shutdown::Write).unwrap();
                    tx.send(writer_side).unwrap();
                });
                let mut channel = rx.recv().unwrap();
                writer.join().unwrap();
                let mut echoed = Vec::new();
                channel.read_to_end(&mut echoed).unwrap();
                assert_eq!(echoed.len(), expected.len());
                assert!(echoed == expected);
                assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn read_timeouts_and_nonblocking_reads() {
    let fixture = start_server();
    let session = connect(&fixture);
    session.authenticate_password("robey", "foo").unwrap();
    let mut channel = session.open_session().unwrap();
    channel.exec("sleep").unwrap();
    channel.set_read_timeout(Some(Duration::ZERO));
    let mut buf = [0u8; 10];
    assert_eq!(
        channel.read(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    channel.set_read_timeout(Some(Duration::from_millis(50)));
    let start = Instant::now();
    assert_eq!(
        channel.read(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::TimedOut
    );
    assert!(start.elapsed() >= Duration::from_millis(50));
    channel.set_read_timeout(None);
    assert_eq!(channel.read(&mut buf).unwrap(), 0);
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
}

/// The seed's socket names: `recv`, `send`, `set_timeout`, and a read
/// half that can be shut down.
#[test]
fn socket_like_names_and_read_shutdown() {
    let fixture = start_server();
    let session = connect(&fixture);
    session.authenticate_password("robey", "foo").unwrap();
    let mut channel = session.open_session().unwrap();
    channel.exec("cat").unwrap();
    channel.set_timeout(Some(Duration::ZERO));
    let mut buf = [0u8; 16];
    assert_eq!(
        channel.recv(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    channel.set_timeout(Some(Duration::from_secs(5)));
    assert_eq!(channel.send(b"ping").unwrap(), 4);
    let mut got = Vec::new();
    while got.len() < 4 {
        let n = channel.recv(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"ping");
    channel.shutdown(Shutdown::Read).unwrap();
    channel.send_all(b"more").unwrap();
    assert_eq!(
        channel.recv(&mut buf).unwrap(),
        0,
        "reads end after shutdown(Read)"
    );
    channel.shutdown(Shutdown::Write).unwrap();
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
}

#[test]
fn dropping_the_session_ends_the_server_side() {
    let fixture = start_server();
    let session = connect(&fixture);
    session.authenticate_password("robey", "foo").unwrap();
    let channel = session.open_session().unwrap();
    drop(channel);
    drop(session);
    // The server keeps serving others.
    let again = connect(&fixture);
    again.authenticate_password("robey", "foo").unwrap();
    assert_eq!(run(&again, "echo still here").0, "still here\n");
}
