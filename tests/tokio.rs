//! The async API end to end: sekura's tokio client against its tokio
//! server (and against the blocking adapter, both ways) on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use sekura::HostKeyCheck;
use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::PrivateKey;
use sekura::tokio::{
    AuthResult, Challenge, Channel, Handler, Pty, Server, Session, SessionRequest,
};
use sekura::transport::Config;
use sekura::transport::auth::Credential;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A tiny server: user `robey`, password `foo`, or the one authorized key.
struct Demo {
    authorized: Vec<u8>,
    /// Bytes `flood` has managed to write so far.
    flooded: Arc<AtomicU64>,
}

impl Handler for Demo {
    async fn check_password(&self, user: &str, password: &str) -> AuthResult {
        // An async check, as a database lookup would be.
        tokio::task::yield_now().await;
        if user == "robey" && password == "foo" {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    async fn check_public_key(&self, user: &str, key: &[u8]) -> AuthResult {
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
            prompts: vec![("Code: ".into(), true)],
            ..Challenge::default()
        })
    }

    async fn check_keyboard_interactive(&self, _user: &str, answers: &[String]) -> AuthResult {
        if answers == ["42"] {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    async fn allow_direct_tcpip(&self, _user: &str, host: &str, _port: u32) -> bool {
        host == "127.0.0.1"
    }

    fn check_env(&self, name: &str, _value: &[u8]) -> bool {
        name == "OK"
    }

    async fn session(
        &self,
        user: &str,
        request: SessionRequest,
        pty: Option<Pty>,
        mut channel: Channel,
    ) -> u32 {
        let SessionRequest::Exec(command) = request else {
            channel.write_all(b"no shell here\n").await.unwrap();
            return 1;
        };
        let command = String::from_utf8_lossy(&command).into_owned();
        match command.split_once(' ').unwrap_or((command.as_str(), "")) {
            ("echo", text) => {
                channel
                    .write_all(format!("{text}\n").as_bytes())
                    .await
                    .unwrap();
                0
            }
            ("whoami", _) => {
                let term = pty.map_or("none".into(), |p| p.term);
                channel
                    .write_all(format!("{user} pty={term}\n").as_bytes())
                    .await
                    .unwrap();
                0
            }
            ("fail", _) => {
                channel
                    .stderr()
                    .write_all(b"something went wrong\n")
                    .await
                    .unwrap();
                3
            }
            // Echoes everything back until EOF, reading and writing in two
            // tasks through the channel's halves.
            ("cat", _) => {
                let (mut read, mut write) = channel.split();
                let copy = tokio::spawn(async move {
                    let n = tokio::io::copy(&mut read, &mut write).await;
                    write.shutdown().await.unwrap();
                    n
                });
                copy.await.unwrap().unwrap();
                0
            }
            // Writes zeros until the channel is closed under it.
            ("flood", _) => {
                let block = vec![0u8; 32 * 1024];
                while channel.write_all(&block).await.is_ok() {
                    self.flooded.fetch_add(block.len() as u64, Ordering::SeqCst);
                }
                0
            }
            ("sleep", ms) => {
                tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(300))).await;
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
    flooded: Arc<AtomicU64>,
    shutdown: sekura::tokio::ShutdownHandle,
    server: tokio::task::JoinHandle<io::Result<()>>,
}

async fn start_server(configure: impl FnOnce(&mut Config)) -> Fixture {
    let mut rng = sekura::os_rng();
    let host = PrivateKey::generate_ed25519(&mut rng);
    let host_key = host.public_key().to_blob();
    let user_key = Arc::new(PrivateKey::generate_ed25519(&mut rng));
    let flooded = Arc::new(AtomicU64::new(0));
    let handler = Demo {
        authorized: user_key.public_key().to_blob(),
        flooded: flooded.clone(),
    };
    let mut config = Config::server(vec![Arc::new(host) as Arc<dyn SigningKey>]);
    configure(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = Server::new(config, handler);
    let shutdown = server.shutdown_handle();
    let server = tokio::spawn(async move { server.serve(listener).await });
    Fixture {
        address,
        host_key,
        user_key,
        flooded,
        shutdown,
        server,
    }
}

async fn connect(fixture: &Fixture) -> Session {
    let stream = TcpStream::connect(fixture.address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    Session::connect(
        stream,
        Config::default(),
        HostKeyCheck::Key(fixture.host_key.clone()),
    )
    .await
    .unwrap()
}

async fn run(session: &Session, command: &str) -> (String, String, Option<u32>) {
    let mut channel = session.open_session().await.unwrap();
    channel.exec(command).await.unwrap();
    let mut stderr = channel.stderr();
    let mut out = String::new();
    channel.read_to_string(&mut out).await.unwrap();
    let mut err = String::new();
    stderr.read_to_string(&mut err).await.unwrap();
    (out, err, channel.exit_status().await.unwrap())
}

#[tokio::test]
async fn password_exec_stderr_and_exit_status() {
    let fixture = start_server(|_| {}).await;
    let session = connect(&fixture).await;
    let refused = session
        .authenticate_password("robey", "wrong")
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied, "{refused}");
    session.authenticate_password("robey", "foo").await.unwrap();
    assert!(session.is_authenticated());
    assert_eq!(
        run(&session, "echo hello world").await,
        ("hello world\n".into(), String::new(), Some(0))
    );
    assert_eq!(
        run(&session, "fail").await,
        (String::new(), "something went wrong\n".into(), Some(3))
    );
    assert_eq!(run(&session, "no-such-command").await.2, Some(127));
    session.close().await;
}

#[tokio::test]
async fn publickey_and_pty() {
    let fixture = start_server(|_| {}).await;
    let session = connect(&fixture).await;
    session
        .authenticate(
            "robey",
            vec![Credential::PublicKey(fixture.user_key.clone())],
        )
        .await
        .unwrap();
    let mut channel = session.open_session().await.unwrap();
    channel
        .request_pty("vt100", 80, 24, Default::default())
        .await
        .unwrap();
    channel.exec("whoami").await.unwrap();
    let mut out = String::new();
    channel.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, "robey pty=vt100\n");
}

#[tokio::test]
async fn keyboard_interactive_questions() {
    let fixture = start_server(|_| {}).await;
    let session = connect(&fixture).await;
    let wrong = Credential::keyboard_interactive(["41"]);
    assert!(session.authenticate("robey", vec![wrong]).await.is_err());
    let right = Credential::keyboard_interactive(["42"]);
    session.authenticate("robey", vec![right]).await.unwrap();
    assert_eq!(run(&session, "echo in").await.0, "in\n");
}

/// `ssh -L`: the server connects to a TCP service for the client.
#[tokio::test]
async fn direct_tcpip_forwarding() {
    let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut stream, _) = echo.accept().await.unwrap();
        let (mut read, mut write) = stream.split();
        tokio::io::copy(&mut read, &mut write).await.unwrap();
    });
    let fixture = start_server(|_| {}).await;
    let session = connect(&fixture).await;
    session.authenticate_password("robey", "foo").await.unwrap();
    let refused = session.open_direct_tcpip("10.0.0.1", 22).await.unwrap_err();
    assert_eq!(
        refused.kind(),
        io::ErrorKind::ConnectionRefused,
        "{refused}"
    );
    let mut tunnel = session
        .open_direct_tcpip("127.0.0.1", u32::from(echo_port))
        .await
        .unwrap();
    tunnel.write_all(b"through the tunnel").await.unwrap();
    tunnel.shutdown().await.unwrap();
    let mut back = String::new();
    tunnel.read_to_string(&mut back).await.unwrap();
    assert_eq!(back, "through the tunnel");
}

/// Channel numbers are reused once both sides closed a channel: a handle
/// of the old channel, dropped late, must not close the new one.
#[tokio::test]
async fn a_late_dropped_handle_does_not_touch_a_reused_number() {
    let fixture = start_server(|_| {}).await;
    let session = connect(&fixture).await;
    session.authenticate_password("robey", "foo").await.unwrap();
    let mut old = session.open_session().await.unwrap();
    old.exec("echo old").await.unwrap();
    let mut out = String::new();
    old.read_to_string(&mut out).await.unwrap();
    assert_eq!(old.exit_status().await.unwrap(), Some(0));
    // Wait for the server's close to have been answered.
    let id = old.id();
    let mut tries = 0;
    let mut new = loop {
        let new = session.open_session().await.unwrap();
        if new.id() == id {
            break new;
        }
        tries += 1;
        assert!(tries < 100, "channel number {id} was never reused");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    drop(old);
    new.exec("echo new").await.unwrap();
    let mut out = String::new();
    new.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, "new\n");
}

/// Any stream will do, also one that buffers what is written until it is
/// flushed, over a pipe too small for a single packet: the driver must keep
/// flushing until the stream has taken everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffered_stream_over_a_tiny_pipe() {
    let mut rng = sekura::os_rng();
    let host = PrivateKey::generate_ed25519(&mut rng);
    let host_key = host.public_key().to_blob();
    let flooded = Arc::new(AtomicU64::new(0));
    let server = Server::new(
        Config::server(vec![Arc::new(host) as Arc<dyn SigningKey>]),
        Demo {
            authorized: Vec::new(),
            flooded,
        },
    );
    let (client_end, server_end) = tokio::io::duplex(64);
    let serving = tokio::spawn(async move { server.serve_connection(server_end).await });
    let session = tokio::time::timeout(
        Duration::from_secs(20),
        Session::connect(
            tokio::io::BufStream::new(client_end),
            Config::default(),
            HostKeyCheck::Key(host_key),
        ),
    )
    .await
    .expect("the handshake stalled")
    .unwrap();
    session.authenticate_password("robey", "foo").await.unwrap();
    let (out, _, status) = run(&session, "echo through a straw").await;
    assert_eq!((out.as_str(), status), ("through a straw\n", Some(0)));
    session.close().await;
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn wrong_host_key_is_refused() {
    let fixture = start_server(|_| {}).await;
    let stream = TcpStream::connect(fixture.address).await.unwrap();
    let err = Session::connect(
        stream,
        Config::default(),
        HostKeyCheck::fingerprint("SHA256:nope"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("SHA256:"), "{err}");
}

/// Channels in their own tasks, each split in a writer and a reader task,
/// moving megabytes through `cat` at once on one session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_channels_in_parallel_tasks() {
    let fixture = start_server(|_| {}).await;
    let session = Arc::new(connect(&fixture).await);
    session.authenticate_password("robey", "foo").await.unwrap();
    let mut workers = tokio::task::JoinSet::new();
    for n in 0..4u8 {
        let session = session.clone();
        workers.spawn(async move {
            let mut channel = session.open_session().await.unwrap();
            channel.exec("cat").await.unwrap();
            let data: Vec<u8> = (0..3 * 1024 * 1024 + 17)
                .map(|i: u32| (i % 251) as u8 ^ n)
                .collect();
            let (mut read, mut write) = channel.split();
            let sent = data.clone();
            let writer = tokio::spawn(async move {
                write.write_all(&sent).await.unwrap();
                write.shutdown().await.unwrap();
            });
            let mut back = Vec::new();
            read.read_to_end(&mut back).await.unwrap();
            writer.await.unwrap();
            assert!(back == data, "channel {n}: echoed bytes differ");
            assert_eq!(read.exit_status().await.unwrap(), Some(0));
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
}

/// A reader that does not read stops its own channel, at about the window
/// it granted, and no other channel.
#[tokio::test]
async fn a_stalled_reader_stalls_only_its_channel() {
    let fixture = start_server(|_| {}).await;
    let window = u64::from(Config::default().channel_window);
    let session = connect(&fixture).await;
    session.authenticate_password("robey", "foo").await.unwrap();
    let mut stalled = session.open_session().await.unwrap();
    stalled.exec("flood").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile other channels work.
    assert_eq!(run(&session, "echo still here").await.0, "still here\n");
    let flooded = fixture.flooded.load(Ordering::SeqCst);
    assert!(
        flooded >= window / 2 && flooded <= window + 64 * 1024,
        "the server wrote {flooded} bytes into a window of {window}"
    );
    // Reading reopens the window.
    let mut buf = vec![0u8; 4 * window as usize];
    stalled.read_exact(&mut buf).await.unwrap();
    assert!(fixture.flooded.load(Ordering::SeqCst) > flooded);
}

/// A request whose future is dropped before its answer does not steal the
/// answer of the next request.
#[tokio::test]
async fn a_dropped_request_future_leaves_the_channel_consistent() {
    let fixture = start_server(|_| {}).await;
    let session = connect(&fixture).await;
    session.authenticate_password("robey", "foo").await.unwrap();
    let mut channel = session.open_session().await.unwrap();
    {
        // The server refuses this one; send it and give up at once.
        let mut refused = pin!(channel.set_env("NO", "x"));
        std::future::poll_fn(|cx| {
            assert!(refused.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
    }
    channel.set_env("OK", "y").await.unwrap();
    let refused = channel.set_env("NO", "z").await.unwrap_err();
    assert!(refused.to_string().contains("env"), "{refused}");
    // An open whose future is dropped closes the channel once it opens:
    // the session goes on.
    {
        let mut opening = pin!(session.open_session());
        std::future::poll_fn(|cx| {
            assert!(opening.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
    }
    channel.exec("echo fine").await.unwrap();
    let mut out = String::new();
    channel.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, "fine\n");
}

/// The server's timers run on tokio's: an unauthenticated client is
/// disconnected after the login grace time.
#[tokio::test]
async fn login_grace_time_disconnects_idle_clients() {
    let fixture = start_server(|config| {
        config.login_grace_time = Some(Duration::from_millis(300));
    })
    .await;
    let session = connect(&fixture).await;
    tokio::time::timeout(Duration::from_secs(5), session.closed())
        .await
        .expect("the server should have disconnected");
    let err = session.open_session().await.unwrap_err();
    assert!(!err.to_string().is_empty());
}

#[tokio::test]
async fn graceful_shutdown_lets_sessions_finish_then_closes_the_rest() {
    let fixture = start_server(|_| {}).await;
    let busy = connect(&fixture).await;
    busy.authenticate_password("robey", "foo").await.unwrap();
    let idle = connect(&fixture).await;
    idle.authenticate_password("robey", "foo").await.unwrap();

    let mut channel = busy.open_session().await.unwrap();
    channel.exec("sleep 300").await.unwrap();
    fixture.shutdown.shutdown(Duration::from_millis(1500));
    // No new connections once shutting down.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let late = TcpStream::connect(fixture.address).await;
    if let Ok(mut late) = late {
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(2), late.read(&mut buf)).await;
        assert!(matches!(n, Ok(Ok(0) | Err(_))), "a late client was served");
    }
    // The running command finishes within the grace period.
    assert_eq!(channel.exit_status().await.unwrap(), Some(0));
    drop(channel);
    busy.close().await;
    // The idle session is disconnected at the deadline, and serve returns.
    tokio::time::timeout(Duration::from_secs(5), idle.closed())
        .await
        .expect("the idle session should be closed at the deadline");
    tokio::time::timeout(Duration::from_secs(5), fixture.server)
        .await
        .expect("serve should return")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn connect_builder_async() {
    let fixture = start_server(|_| {}).await;
    let fingerprint = sekura::transport::HostKey {
        algorithm: "ssh-ed25519".into(),
        key: fixture.host_key.clone(),
    }
    .fingerprint();
    let session = sekura::connect::Connect::new(&format!("robey@{}", fixture.address))
        .host_key_fingerprint(&fingerprint)
        .default_identities(false)
        .agent(false)
        .password("foo")
        .connect_async()
        .await
        .unwrap();
    assert_eq!(run(&session, "echo one call").await.0, "one call\n");
    let refused = sekura::connect::Connect::new(&format!("robey@{}", fixture.address))
        .host_key_fingerprint(&fingerprint)
        .default_identities(false)
        .agent(false)
        .password("bar")
        .connect_async()
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied, "{refused}");
    assert!(refused.to_string().contains("robey@127.0.0.1"), "{refused}");
}

/// The two adapters drive the same core: each talks to the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_and_blocking_server_and_back() {
    // A blocking client against the async server.
    let fixture = start_server(|_| {}).await;
    let (address, host_key) = (fixture.address, fixture.host_key.clone());
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let stream = std::net::TcpStream::connect(address).unwrap();
        let session = sekura::blocking::Session::connect(
            stream,
            Config::default(),
            HostKeyCheck::Key(host_key),
        )
        .unwrap();
        session.authenticate_password("robey", "foo").unwrap();
        let mut channel = session.open_session().unwrap();
        channel.exec("echo across").unwrap();
        let mut out = String::new();
        channel.read_to_string(&mut out).unwrap();
        (out, channel.wait_exit_status().unwrap())
    })
    .await
    .unwrap();
    assert_eq!(out, ("across\n".to_string(), Some(0)));

    // The async client against a blocking server.
    struct Blocking;
    impl sekura::blocking::ServerHandler for Blocking {
        fn check_password(&self, _user: &str, password: &str) -> AuthResult {
            if password == "foo" {
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
            channel: &mut sekura::blocking::Channel,
        ) -> u32 {
            use std::io::Write;
            let SessionRequest::Exec(command) = request else {
                return 1;
            };
            channel.write_all(&command).unwrap();
            7
        }
    }
    let host = PrivateKey::generate_ed25519(&mut sekura::os_rng());
    let host_key = host.public_key().to_blob();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = sekura::blocking::Server::new(
        Config::server(vec![Arc::new(host) as Arc<dyn SigningKey>]),
        Arc::new(Blocking),
    );
    std::thread::spawn(move || server.serve(&listener));
    let stream = TcpStream::connect(address).await.unwrap();
    let session = Session::connect(stream, Config::default(), HostKeyCheck::Key(host_key))
        .await
        .unwrap();
    session
        .authenticate_password("anyone", "foo")
        .await
        .unwrap();
    assert_eq!(
        run(&session, "said the async client").await,
        ("said the async client".into(), String::new(), Some(7))
    );
}
