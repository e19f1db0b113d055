//! Blocking channels as pollable file descriptors (unix): the descriptor is
//! readable exactly when a read of the channel would not block. A sekura
//! client against a sekura server on 127.0.0.1, over real TCP.
//!
//! Readiness is checked without libc: a duplicate of the descriptor is
//! peeked (`recv(MSG_PEEK)`; the descriptor is non-blocking), which finds
//! the signal byte, or the end of the socketpair, iff poll(2) would report
//! POLLIN.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::PrivateKey;
use sekura::blocking::{
    AuthResult, Channel, HostKeyCheck, Pty, Server, ServerHandler, Session, SessionRequest,
};
use sekura::transport::Config;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the `tick` command pauses between its writes.
const PAUSE: Duration = Duration::from_millis(300);
/// Generous bound for things that should happen at once (slow CI).
const SOON: Duration = Duration::from_secs(10);

/// User `robey`, password `foo`; a few commands.
struct Demo;

impl ServerHandler for Demo {
    fn check_password(&self, user: &str, password: &str) -> AuthResult {
        if user == "robey" && password == "foo" {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    fn check_public_key(&self, _user: &str, _key: &[u8]) -> AuthResult {
        AuthResult::Reject
    }

    fn session(
        &self,
        _user: &str,
        request: SessionRequest,
        _pty: Option<Pty>,
        channel: &mut Channel,
    ) -> u32 {
        let SessionRequest::Exec(command) = request else {
            return 1;
        };
        let command = String::from_utf8_lossy(&command).into_owned();
        match command.split_once(' ').unwrap_or((command.as_str(), "")) {
            // Writes, pauses, writes to stderr, pauses, exits.
            ("tick", _) => {
                let _ = channel.write_all(b"one\n");
                std::thread::sleep(PAUSE);
                let _ = channel.write_stderr(b"two\n");
                std::thread::sleep(PAUSE);
                0
            }
            ("echo", text) => {
                let _ = channel.write_all(format!("{text}\n").as_bytes());
                0
            }
            // Echoes everything back until EOF.
            ("cat", _) => {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match channel.read(&mut buf) {
                        Ok(0) | Err(_) => return 0,
                        Ok(n) => {
                            if channel.write_all(&buf[..n]).is_err() {
                                return 0;
                            }
                        }
                    }
                }
            }
            // Says nothing; ends at EOF (or when the session dies).
            ("hold", _) => {
                let mut buf = [0u8; 1024];
                while let Ok(1..) = channel.read(&mut buf) {}
                0
            }
            _ => 127,
        }
    }
}

/// Starts a server on 127.0.0.1:0; returns its address and host key.
fn start_server() -> (std::net::SocketAddr, Vec<u8>) {
    let host = PrivateKey::generate_ed25519(&mut sekura::os_rng());
    let host_key = host.public_key().to_blob();
    let config = Config::server(vec![Arc::new(host) as Arc<dyn SigningKey>]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = Server::new(config, Arc::new(Demo));
    std::thread::spawn(move || server.serve(&listener));
    (address, host_key)
}

fn login(stream: TcpStream, host_key: &[u8]) -> Session {
    let session = Session::connect(
        stream,
        Config::default(),
        HostKeyCheck::Key(host_key.to_vec()),
    )
    .unwrap();
    session.authenticate_password("robey", "foo").unwrap();
    session
}

/// A duplicate of the channel's descriptor to probe.
fn probe(channel: &Channel) -> UnixStream {
    UnixStream::from(channel.as_fd().try_clone_to_owned().unwrap())
}

/// Whether poll(2) would report the descriptor readable, without blocking.
/// `UnixStream::peek` is unstable; `TcpStream::peek` is `recv(MSG_PEEK)`
/// on whatever socket it holds, so a duplicate wrapped as one peeks the
/// socketpair (a test-only trick: no other `TcpStream` method is used).
fn is_readable(probe: &UnixStream) -> bool {
    let socket = TcpStream::from(probe.as_fd().try_clone_to_owned().unwrap());
    match socket.peek(&mut [0u8]) {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("peek failed: {e}"),
    }
}

/// Waits, select-like, until one of the descriptors is readable; returns
/// which are, or nothing after `timeout`.
fn select(probes: &[&UnixStream], timeout: Duration) -> Vec<usize> {
    let deadline = Instant::now() + timeout;
    loop {
        let ready: Vec<usize> = (0..probes.len())
            .filter(|&i| is_readable(probes[i]))
            .collect();
        if !ready.is_empty() || Instant::now() >= deadline {
            return ready;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn wait_readable(probe: &UnixStream) {
    assert_eq!(select(&[probe], SOON), [0], "never became readable");
}

/// A non-blocking read of stdout.
fn read_now(channel: &mut Channel, buf: &mut [u8]) -> std::io::Result<usize> {
    channel.set_read_timeout(Some(Duration::ZERO));
    let result = channel.read(buf);
    channel.set_read_timeout(None);
    result
}

/// A session that is over reads as its end, or as its error: never as
/// "would block".
fn assert_read_returns_now(channel: &mut Channel) {
    let read = read_now(channel, &mut [0u8; 8]);
    assert!(
        read.as_ref()
            .map_or_else(|e| e.kind() != ErrorKind::WouldBlock, |&n| n == 0),
        "{read:?}"
    );
}

#[test]
fn readiness_follows_data_stderr_and_end() {
    let (address, host_key) = start_server();
    let session = login(TcpStream::connect(address).unwrap(), &host_key);
    let mut channel = session.open_session().unwrap();
    let fd = probe(&channel);
    // The exposed descriptor is the one the handles share, and stable.
    assert_eq!(channel.as_raw_fd(), channel.as_fd().as_raw_fd());
    let clone = channel.try_clone().unwrap();
    assert_eq!(clone.as_raw_fd(), channel.as_raw_fd());
    drop(clone);

    // Nothing yet.
    assert!(!is_readable(&fd));
    let mut buf = [0u8; 64];
    assert_eq!(
        read_now(&mut channel, &mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );

    channel.exec("tick").unwrap();
    wait_readable(&fd);
    // Readable stays readable until the last byte is taken: one at a time.
    for (i, &expected) in b"one\n".iter().enumerate() {
        assert!(is_readable(&fd), "before byte {i}");
        assert_eq!(read_now(&mut channel, &mut buf[..1]).unwrap(), 1);
        assert_eq!(buf[0], expected);
    }
    // Everything read, the command still pausing: not readable, and a read
    // would indeed block.
    assert!(!is_readable(&fd));
    assert_eq!(
        read_now(&mut channel, &mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );

    // Stderr data makes it readable too.
    wait_readable(&fd);
    let mut stderr = channel.stderr();
    assert_eq!(stderr.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"two\n");
    assert!(!is_readable(&fd), "stderr drained, command still pausing");

    // The end (EOF, exit status, close) is readable, and stays so.
    wait_readable(&fd);
    assert_eq!(read_now(&mut channel, &mut buf).unwrap(), 0);
    assert!(is_readable(&fd));
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
    assert!(is_readable(&fd));
    session.close();
}

#[test]
fn only_the_channel_with_data_is_readable() {
    let (address, host_key) = start_server();
    let session = login(TcpStream::connect(address).unwrap(), &host_key);
    let mut quiet = session.open_session().unwrap();
    let mut talker = session.open_session().unwrap();
    let (quiet_fd, talker_fd) = (probe(&quiet), probe(&talker));
    assert_ne!(quiet.as_raw_fd(), talker.as_raw_fd());
    quiet.exec("hold").unwrap();
    talker.exec("echo hi").unwrap();

    // Waited on from another thread, as an event loop would.
    let waiter = {
        let probes = [
            quiet_fd.try_clone().unwrap(),
            talker_fd.try_clone().unwrap(),
        ];
        std::thread::spawn(move || select(&[&probes[0], &probes[1]], SOON))
    };
    assert_eq!(waiter.join().unwrap(), [1], "only the talker is ready");
    let mut out = String::new();
    talker.read_to_string(&mut out).unwrap();
    assert_eq!(out, "hi\n");
    assert!(is_readable(&talker_fd), "at its end");
    assert!(!is_readable(&quiet_fd));

    // Our EOF ends `hold`: the quiet channel reaches its end.
    quiet.shutdown(Shutdown::Write).unwrap();
    wait_readable(&quiet_fd);
    assert_eq!(quiet.read(&mut [0u8; 8]).unwrap(), 0);
    assert_eq!(quiet.wait_exit_status().unwrap(), Some(0));
}

/// A TCP relay between the client and the server that the test can cut.
struct Relay {
    address: std::net::SocketAddr,
    cut: std::sync::mpsc::Receiver<TcpStream>,
}

impl Relay {
    fn start(server: std::net::SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (tx, cut) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (client, _) = listener.accept().unwrap();
            let upstream = TcpStream::connect(server).unwrap();
            tx.send(client.try_clone().unwrap()).unwrap();
            tx.send(upstream.try_clone().unwrap()).unwrap();
            let (mut a, mut b) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut a, &mut b);
                let _ = b.shutdown(Shutdown::Both);
            });
            let (mut a, mut b) = (upstream, client);
            let _ = std::io::copy(&mut a, &mut b);
            let _ = b.shutdown(Shutdown::Both);
        });
        Relay { address, cut }
    }

    /// Shuts both connections down.
    fn cut(&self) {
        for _ in 0..2 {
            let stream = self.cut.recv_timeout(SOON).unwrap();
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

#[test]
fn readable_when_the_connection_dies() {
    let (address, host_key) = start_server();
    let relay = Relay::start(address);
    let session = login(TcpStream::connect(relay.address).unwrap(), &host_key);
    let mut channel = session.open_session().unwrap();
    channel.exec("hold").unwrap();
    let fd = probe(&channel);
    assert!(!is_readable(&fd));
    relay.cut();
    wait_readable(&fd);
    assert_read_returns_now(&mut channel);
    assert!(is_readable(&fd), "still readable after the read");
}

#[test]
fn readable_when_the_session_is_closed() {
    let (address, host_key) = start_server();
    let session = login(TcpStream::connect(address).unwrap(), &host_key);
    let mut channel = session.open_session().unwrap();
    channel.exec("hold").unwrap();
    let fd = probe(&channel);
    assert!(!is_readable(&fd));
    session.close();
    wait_readable(&fd);
    assert_read_returns_now(&mut channel);
    assert!(is_readable(&fd), "still readable after the read");
}

#[test]
fn descriptor_made_after_data_arrived_is_readable_at_once() {
    let (address, host_key) = start_server();
    let session = login(TcpStream::connect(address).unwrap(), &host_key);
    let mut channel = session.open_session().unwrap();
    channel.exec("echo early").unwrap();
    // Wait for the output without a descriptor, then make one.
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
    let fd = probe(&channel);
    assert!(is_readable(&fd));
    let mut out = String::new();
    channel.read_to_string(&mut out).unwrap();
    assert_eq!(out, "early\n");
    assert!(is_readable(&fd), "at its end");
}

/// An event loop that only reads after the descriptor says so, with
/// non-blocking reads, against a writer racing it: every byte arrives (no
/// lost wake-up) and no read after readiness would have blocked.
#[test]
fn poll_driven_echo_of_a_megabyte() {
    let (address, host_key) = start_server();
    let session = login(TcpStream::connect(address).unwrap(), &host_key);
    let mut channel = session.open_session().unwrap();
    channel.exec("cat").unwrap();
    let fd = probe(&channel);
    let data: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(131) >> 3) as u8)
        .collect();
    let mut writer = channel.try_clone().unwrap();
    let writer = std::thread::spawn({
        let data = data.clone();
        move || {
            for chunk in data.chunks(7 * 1024) {
                writer.write_all(chunk).unwrap();
            }
            writer.shutdown(Shutdown::Write).unwrap();
        }
    });
    let mut echoed = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 5000];
    let mut wakeups = 0u32;
    loop {
        wait_readable(&fd);
        wakeups += 1;
        let n = read_now(&mut channel, &mut buf).expect("readable, yet the read would block");
        if n == 0 {
            break;
        }
        echoed.extend_from_slice(&buf[..n]);
    }
    writer.join().unwrap();
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data);
    assert!(wakeups > 1);
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
}
