//! The async server under hostile and careless clients: a few hundred
//! connections at once against one server on a 2-worker runtime, most of
//! them misbehaving (dropped mid-handshake, mid-auth, mid-transfer,
//! stalled readers, wrong passwords) while healthy clients keep running
//! commands, which must all succeed. Then every connection task must be
//! gone and a graceful shutdown must return at once.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use sekura::HostKeyCheck;
use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::PrivateKey;
use sekura::tokio::{AuthResult, Channel, Handler, Pty, Server, Session, SessionRequest};
use sekura::transport::Config;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

const HEALTHY: usize = 60;
const MID_HANDSHAKE: usize = 60;
const MID_AUTH: usize = 40;
const MID_TRANSFER: usize = 40;
const STALLED: usize = 40;
const WRONG_PASSWORD: usize = 40;

/// The grace period of the final shutdown.
const GRACE: Duration = Duration::from_secs(5);

/// The commands of examples/async_server.rs that the clients use.
struct Echo {
    sessions: Arc<AtomicU64>,
}

impl Handler for Echo {
    async fn check_password(&self, user: &str, password: &str) -> AuthResult {
        if user == "robey" && password == "foo" {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    async fn session(
        &self,
        _user: &str,
        request: SessionRequest,
        _pty: Option<Pty>,
        mut channel: Channel,
    ) -> u32 {
        self.sessions.fetch_add(1, Ordering::Relaxed);
        let SessionRequest::Exec(command) = request else {
            return 1;
        };
        let command = String::from_utf8_lossy(&command).into_owned();
        match command.split_once(' ').unwrap_or((&command, "")) {
            ("echo", text) => match channel.write_all(format!("{text}\n").as_bytes()).await {
                Ok(()) => 0,
                Err(_) => 1,
            },
            ("cat", _) => {
                let (mut read, mut write) = channel.split();
                match tokio::io::copy(&mut read, &mut write).await {
                    Ok(_) => 0,
                    Err(_) => 1,
                }
            }
            ("discard", _) => match tokio::io::copy(&mut channel, &mut tokio::io::sink()).await {
                Ok(_) => 0,
                Err(_) => 1,
            },
            ("zeros", n) => {
                let mut left: usize = n.parse().unwrap_or(0);
                let block = vec![0u8; 32 * 1024];
                while left > 0 {
                    let n = left.min(block.len());
                    if channel.write_all(&block[..n]).await.is_err() {
                        return 1;
                    }
                    left -= n;
                }
                0
            }
            _ => 127,
        }
    }
}

#[derive(Clone)]
struct Target {
    address: SocketAddr,
    host_key: Vec<u8>,
}

impl Target {
    async fn connect(&self) -> io::Result<Session> {
        let stream = TcpStream::connect(self.address).await?;
        stream.set_nodelay(true)?;
        Session::connect(
            stream,
            Config::default(),
            HostKeyCheck::Key(self.host_key.clone()),
        )
        .await
    }

    async fn login(&self) -> io::Result<Session> {
        let session = self.connect().await?;
        session.authenticate_password("robey", "foo").await?;
        Ok(session)
    }
}

/// Runs `command` with `input` on its stdin; its stdout and exit status.
async fn run(session: &Session, command: &str, input: &[u8]) -> io::Result<(Vec<u8>, Option<u32>)> {
    let channel = session.open_session().await?;
    let mut channel = channel;
    channel.exec(command).await?;
    let (mut read, mut write) = channel.split();
    let input = input.to_vec();
    let writer = tokio::spawn(async move {
        write.write_all(&input).await?;
        // A command that does not read (echo, zeros) may have finished
        // and closed the channel already: EOF is then a no-op (see
        // `eof_after_the_peer_closed` below).
        write.shutdown().await?;
        io::Result::Ok(())
    });
    let mut out = Vec::new();
    read.read_to_end(&mut out).await?;
    writer.await??;
    Ok((out, read.exit_status().await?))
}

/// A healthy client: three rounds of echo, cat (64 KiB, checked) and
/// zeros on one connection.
async fn healthy(target: Target, n: usize) -> Result<(), String> {
    let session = target.login().await.map_err(|e| format!("login: {e}"))?;
    for round in 0..3 {
        let text = format!("client {n} round {round}");
        let (out, status) = run(&session, &format!("echo {text}"), b"")
            .await
            .map_err(|e| format!("echo: {e}"))?;
        if out != format!("{text}\n").into_bytes() || status != Some(0) {
            return Err(format!(
                "echo gave {:?} {status:?}",
                String::from_utf8_lossy(&out)
            ));
        }
        let data: Vec<u8> = (0..64 * 1024).map(|i| (i * 7 + n + round) as u8).collect();
        let (out, status) = run(&session, "cat", &data)
            .await
            .map_err(|e| format!("cat: {e}"))?;
        if out != data || status != Some(0) {
            return Err(format!("cat gave {} bytes, status {status:?}", out.len()));
        }
        let (out, status) = run(&session, "zeros 100000", b"")
            .await
            .map_err(|e| format!("zeros: {e}"))?;
        if out.len() != 100_000 || out.iter().any(|&b| b != 0) || status != Some(0) {
            return Err(format!("zeros gave {} bytes, status {status:?}", out.len()));
        }
    }
    session.close().await;
    Ok(())
}

/// A raw TCP client that gives up during the version exchange or the key
/// exchange, in one of several ways.
async fn mid_handshake(target: Target, n: usize) -> io::Result<()> {
    let mut stream = TcpStream::connect(target.address).await?;
    match n % 4 {
        // Connects and closes at once.
        0 => {}
        // A version line, then garbage where the KEXINIT should be.
        1 => {
            stream.write_all(b"SSH-2.0-stress\r\n").await?;
            stream.write_all(&[0xff; 300]).await?;
            let mut sink = Vec::new();
            // The server hangs up on us.
            let _ =
                tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut sink)).await;
        }
        // Not SSH at all.
        2 => {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .await?
        }
        // Reads the server's version and KEXINIT, sends a version, drops.
        _ => {
            let mut buf = [0u8; 256];
            let _ = stream.read(&mut buf).await?;
            stream.write_all(b"SSH-2.0-stress\r\n").await?;
        }
    }
    Ok(())
}

/// Starts authenticating, then drops the session before the answer (or
/// just after it).
async fn mid_auth(target: Target, n: usize) -> io::Result<()> {
    let session = target.connect().await?;
    let password = if n.is_multiple_of(2) { "foo" } else { "wrong" };
    let wait = Duration::from_micros(50 * (n as u64 % 10));
    let _ = tokio::time::timeout(wait, session.authenticate_password("robey", password)).await;
    drop(session);
    Ok(())
}

/// Drops the session while a channel is moving 1 MiB, one way or the
/// other.
async fn mid_transfer(target: Target, n: usize) -> io::Result<()> {
    let session = target.login().await?;
    let mut channel = session.open_session().await?;
    if n.is_multiple_of(2) {
        channel.exec("discard").await?;
        let writer = tokio::spawn(async move {
            let _ = channel.write_all(&vec![1u8; 1 << 20]).await;
        });
        tokio::time::sleep(Duration::from_millis(n as u64 % 20)).await;
        drop(session);
        // The write fails once the session is gone; it must not hang.
        tokio::time::timeout(Duration::from_secs(10), writer)
            .await
            .map_err(|_| io::Error::other("writer hung after the session was dropped"))??;
    } else {
        channel.exec("zeros 1048576").await?;
        let mut buf = vec![0u8; 100_000];
        channel.read_exact(&mut buf).await?;
        drop(session);
        drop(channel);
    }
    Ok(())
}

/// Opens channels that produce more than a window of data and never reads
/// them, holding the connection until `release`.
async fn stalled(target: Target, n: usize, mut release: watch::Receiver<bool>) -> io::Result<()> {
    let session = target.login().await?;
    let mut zeros = session.open_session().await?;
    zeros.exec("zeros 8388608").await?;
    let mut cat = session.open_session().await?;
    cat.exec("cat").await?;
    // Writes until both windows are full: the server's cat stops reading
    // once we stop reading its output.
    let block = vec![n as u8; 64 * 1024];
    let mut written = 0;
    while let Ok(Ok(())) =
        tokio::time::timeout(Duration::from_millis(200), cat.write_all(&block)).await
    {
        written += block.len();
        if written > 16 << 20 {
            return Err(io::Error::other("a never-read cat took 16 MiB"));
        }
    }
    let _ = release.wait_for(|&go| go).await;
    drop((zeros, cat));
    drop(session);
    Ok(())
}

/// Tries wrong passwords; each must be refused.
async fn wrong_password(target: Target, n: usize) -> io::Result<()> {
    let session = target.connect().await?;
    for attempt in 0..2 {
        let refused = session
            .authenticate_password("robey", &format!("guess {n} {attempt}"))
            .await
            .unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied, "{refused}");
    }
    assert!(!session.is_authenticated());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_careless_clients_do_not_hurt_healthy_ones() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let host = PrivateKey::generate_ed25519(&mut sekura::os_rng());
    let host_key = host.public_key().to_blob();
    let mut config = Config::server(vec![Arc::new(host) as Arc<dyn SigningKey>]);
    config.auth_failure_delay = Duration::from_millis(20);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = Target {
        address: listener.local_addr().unwrap(),
        host_key,
    };
    let sessions = Arc::new(AtomicU64::new(0));
    let server = Server::new(
        config,
        Echo {
            sessions: sessions.clone(),
        },
    );
    let shutdown = server.shutdown_handle();
    let server = tokio::spawn(async move { server.serve(listener).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let baseline = metrics.num_alive_tasks();

    let started = Instant::now();
    let (release, released) = watch::channel(false);
    let mut chaos = JoinSet::new();
    for n in 0..MID_HANDSHAKE {
        let t = target.clone();
        chaos.spawn(async move { ("mid-handshake", mid_handshake(t, n).await) });
    }
    for n in 0..MID_AUTH {
        let t = target.clone();
        chaos.spawn(async move { ("mid-auth", mid_auth(t, n).await) });
    }
    for n in 0..MID_TRANSFER {
        let t = target.clone();
        chaos.spawn(async move { ("mid-transfer", mid_transfer(t, n).await) });
    }
    for n in 0..STALLED {
        let (t, r) = (target.clone(), released.clone());
        chaos.spawn(async move { ("stalled", stalled(t, n, r).await) });
    }
    for n in 0..WRONG_PASSWORD {
        let t = target.clone();
        chaos.spawn(async move { ("wrong-password", wrong_password(t, n).await) });
    }
    // The healthy clients start among the others, a few at a time.
    let mut healthy_clients = JoinSet::new();
    for n in 0..HEALTHY {
        let t = target.clone();
        healthy_clients.spawn(async move {
            tokio::time::sleep(Duration::from_millis(10 * n as u64)).await;
            healthy(t, n).await
        });
    }

    let failures: Vec<String> = tokio::time::timeout(Duration::from_secs(60), async {
        let mut failures = Vec::new();
        while let Some(done) = healthy_clients.join_next().await {
            if let Err(e) = done.unwrap() {
                failures.push(e);
            }
        }
        failures
    })
    .await
    .expect("the healthy clients did not finish within 60 s");
    assert!(
        failures.is_empty(),
        "{} of {HEALTHY} healthy clients failed: {failures:?}",
        failures.len()
    );
    println!(
        "{HEALTHY} healthy clients done in {:.2?}",
        started.elapsed()
    );
    assert!(
        !server.is_finished(),
        "serve() ended early: {:?}",
        server.await
    );

    release.send_replace(true);
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(done) = chaos.join_next().await {
            let (kind, result) = done.unwrap();
            // Misbehaving clients may see errors; only those that mean
            // the server misbehaved fail the test.
            if let Err(e) = result {
                // Only the raw clients may fail (a write after the server
                // hung up on their garbage); the others do nothing wrong
                // until they drop their session.
                assert_eq!(kind, "mid-handshake", "{kind}: {e}");
                let refused = matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                );
                assert!(refused, "{kind}: {e}");
            }
        }
    })
    .await
    .expect("the misbehaving clients did not finish within 30 s");
    assert!(
        !server.is_finished(),
        "serve() ended early: {:?}",
        server.await
    );
    assert!(sessions.load(Ordering::Relaxed) >= (HEALTHY * 9 + STALLED * 2) as u64);

    // Every client is gone: every connection task (and every client
    // driver) must end on its own, without a shutdown.
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        while metrics.num_alive_tasks() > baseline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "{} tasks still alive 10 s after the last client left (baseline {baseline})",
        metrics.num_alive_tasks()
    );

    let shutting_down = Instant::now();
    shutdown.shutdown(GRACE);
    let served = tokio::time::timeout(GRACE, server)
        .await
        .expect("serve() did not return within the grace period")
        .expect("the server task panicked");
    served.unwrap();
    println!(
        "stress test: {} connections in {:.2?}, shutdown in {:.2?}",
        HEALTHY + MID_HANDSHAKE + MID_AUTH + MID_TRANSFER + STALLED + WRONG_PASSWORD,
        started.elapsed(),
        shutting_down.elapsed()
    );
}

/// Sending EOF (`AsyncWriteExt::shutdown`) on a channel the peer has
/// already closed is a no-op, as EOF after our own CLOSE is. A client that
/// pipes input into a command that does not read it (`echo hi | ssh host
/// true`) races with this.
#[tokio::test]
async fn eof_after_the_peer_closed() {
    let host = PrivateKey::generate_ed25519(&mut sekura::os_rng());
    let host_key = host.public_key().to_blob();
    let config = Config::server(vec![Arc::new(host) as Arc<dyn SigningKey>]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = Target {
        address: listener.local_addr().unwrap(),
        host_key,
    };
    let server = Server::new(
        config,
        Echo {
            sessions: Arc::default(),
        },
    );
    let server = tokio::spawn(async move { server.serve(listener).await });
    let session = target.login().await.unwrap();
    let mut channel = session.open_session().await.unwrap();
    channel.exec("echo hi").await.unwrap();
    let mut out = String::new();
    channel.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, "hi\n");
    assert_eq!(channel.exit_status().await.unwrap(), Some(0));
    // The server has closed the channel; give its CLOSE time to arrive.
    tokio::time::sleep(Duration::from_millis(100)).await;
    channel.shutdown().await.unwrap();
    server.abort();
}
