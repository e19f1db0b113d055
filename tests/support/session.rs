//! Helpers for the interop tests of authentication and channels
//! (`tests/interop_openssh_session.rs`), on top of `support/mod.rs`: the
//! throwaway account sshd logs in to, programs run with a deadline, a
//! watchdog that cuts a stalled connection, and a sekura server on a
//! background thread that stops when dropped.
//!
//! It uses `crate::support`, so a test includes it after `mod support;`
//! with `#[path = "support/session.rs"] mod session;`.

use crate::support::KillOnDrop;
use sekura::blocking::{Server, ServerHandler, Session};
use sekura::transport::Config;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The account sshd logs the sekura client in to. It exists only on test
/// machines: `.ci/run` creates it (and so must a developer, by hand, as
/// root):
///
/// ```sh
/// id sekura-test || useradd -m -s /bin/sh sekura-test
/// echo 'sekura-test:sekura-interop-pw-6' | chpasswd
/// ```
pub const TEST_USER: &str = "sekura-test";

/// Its password: not a secret, the account exists only for these tests.
pub const TEST_PASSWORD: &str = "sekura-interop-pw-6";

/// Whether sshd can log the sekura client in to [`TEST_USER`]: the account
/// must exist, and we must be root (sshd switches to the user and reads
/// `/etc/shadow` only when it runs as root). `Err` says what is missing.
pub fn login_account() -> Result<(), String> {
    let id = |args: &[&str]| -> Option<String> {
        Command::new("id")
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    if id(&["-u"]).as_deref() != Some("0") {
        return Err(format!(
            "sshd must run as root to log in as {TEST_USER} (these tests run unprivileged)"
        ));
    }
    if id(&["-u", TEST_USER]).is_none() {
        return Err(format!(
            "there is no account {TEST_USER}: create it as .ci/run does \
             (useradd -m -s /bin/sh {TEST_USER}; echo '{TEST_USER}:{TEST_PASSWORD}' | chpasswd)"
        ));
    }
    Ok(())
}

/// What a program run by [`run_with_deadline`] did.
#[derive(Debug)]
pub struct Ran {
    /// Its exit status; `None` when it was killed at the deadline.
    pub status: Option<ExitStatus>,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr, as text.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Ran {
    /// Its exit code (`None`: killed, by us or by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// Its stdout as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.elapsed,
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        )
    }
}

/// Runs `command` with `stdin` as its input (then end of file), collecting
/// its output; kills it (and what it started) if it runs past `timeout`.
pub fn run_with_deadline(
    mut command: Command,
    stdin: &[u8],
    timeout: Duration,
) -> Result<Ran, String> {
    let started = Instant::now();
    let what = format!("{:?}", command.get_program());
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let mut process = KillOnDrop::new(child, &what);
    let input = process.child().stdin.take();
    let output = process.child().stdout.take();
    let errors = process.child().stderr.take();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(mut input) = input {
            // The program may exit without reading everything.
            let _ = input.write_all(&stdin);
        }
    });
    let read_all = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut data = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut data);
            }
            data
        })
    };
    let stdout = read_all(output.map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = read_all(errors.map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = started + timeout;
    let status = loop {
        match process.child().try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                process.kill();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    };
    let elapsed = started.elapsed();
    // The pipes close once the program and its children are gone.
    let _ = writer.join();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    Ok(Ran {
        status,
        stdout,
        stderr,
        elapsed,
    })
}

/// Shuts a TCP connection down if it is still in use after a time limit,
/// so that a peer that stops answering makes the blocking calls on it fail
/// instead of hanging the test. Dropping it disarms it.
pub struct Watchdog {
    disarm: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    fired: Arc<AtomicBool>,
}

impl Watchdog {
    /// Watches `stream` (a clone of the session's socket) for `limit`.
    pub fn new(stream: &TcpStream, limit: Duration, what: &str) -> io::Result<Watchdog> {
        let stream = stream.try_clone()?;
        let (disarm, armed) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        let what = what.to_string();
        let thread = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = armed.recv_timeout(limit) {
                eprintln!("{what}: still running after {limit:?}: closing its connection");
                flag.store(true, Ordering::SeqCst);
                let _ = stream.shutdown(Shutdown::Both);
            }
        });
        Ok(Watchdog {
            disarm: Some(disarm),
            thread: Some(thread),
            fired,
        })
    }

    /// Whether it cut the connection.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.disarm.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A sekura [`Server`] accepting connections on 127.0.0.1 in a background
/// thread, each served on its own thread. Dropping it stops accepting and
/// waits for the connections being served to end.
pub struct SekuraServer {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl SekuraServer {
    /// Starts serving with `config` (holding the host keys) and `handler`.
    pub fn start(config: Config, handler: Arc<dyn ServerHandler>) -> io::Result<SekuraServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let address = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let server = Arc::new(Server::new(config, handler));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let acceptor = std::thread::spawn(move || {
            let mut connections = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let server = server.clone();
                        connections.push(std::thread::spawn(move || {
                            if let Err(e) = server.serve_connection(stream) {
                                eprintln!("sekura server: connection ended: {e}");
                            }
                        }));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => {
                        eprintln!("sekura server: accept: {e}");
                        break;
                    }
                }
            }
            for connection in connections {
                let _ = connection.join();
            }
        });
        Ok(SekuraServer {
            address,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for SekuraServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Runs `command` on a new channel of a blocking session: (stdout,
/// stderr, exit status).
pub fn run(session: &Session, command: &str) -> (String, String, Option<u32>) {
    let mut channel = session.open_session().unwrap();
    channel.exec(command).unwrap();
    let mut stderr = channel.stderr();
    let mut out = String::new();
    channel.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    (out, err, channel.wait_exit_status().unwrap())
}

/// How long [`sha256sum_each_way`] took each way.
#[derive(Debug, Clone, Copy)]
pub struct EachWay {
    /// The upload.
    pub upload: Duration,
    /// The download.
    pub download: Duration,
    /// `key_exchanges()` between the two.
    pub kex_after_upload: u32,
}

/// `bytes` of `Noise(seed)` uploaded into `sha256sum` on a new channel,
/// then `bytes` downloaded from `download` (a shell command writing them
/// to stdout and `sha256sum`'s line for them to stderr), both hashes
/// checked; with `rekey_halfway`, sekura asks for a rekey halfway through
/// each direction. `fail` reports an I/O error (with the server's log).
pub fn sha256sum_each_way(
    session: &Session,
    (bytes, seed): (usize, u64),
    download: &str,
    rekey_halfway: bool,
    fail: &dyn Fn(String) -> std::convert::Infallible,
) -> EachWay {
    use crate::support::{Noise, hex};
    use sekura::algorithms::HashFunction;
    use sekura::algorithms::hash::SHA256;

    // Upload.
    let mut channel = session.open_session().unwrap();
    channel.exec("sha256sum").unwrap();
    let mut noise = Noise(seed);
    let mut hasher = SHA256.start();
    let mut buf = vec![0u8; 256 * 1024];
    let started = Instant::now();
    let mut sent = 0;
    let mut rekeyed = !rekey_halfway;
    while sent < bytes {
        if !rekeyed && sent >= bytes / 2 {
            session.rekey().unwrap();
            rekeyed = true;
        }
        let n = buf.len().min(bytes - sent);
        noise.fill(&mut buf[..n]);
        hasher.update(&buf[..n]);
        channel
            .send_all(&buf[..n])
            .unwrap_or_else(|e| match fail(format!("upload failed after {sent} bytes: {e}")) {});
        sent += n;
    }
    channel.shutdown(Shutdown::Write).unwrap();
    let mut answer = String::new();
    channel.read_to_string(&mut answer).unwrap();
    let upload = started.elapsed();
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
    assert_eq!(answer, format!("{}  -\n", hex(&hasher.finish())), "upload");
    drop(channel);
    let kex_after_upload = session.key_exchanges();

    // Download.
    let mut channel = session.open_session().unwrap();
    channel.exec(download).unwrap();
    let mut stderr = channel.stderr();
    let mut hasher = SHA256.start();
    let started = Instant::now();
    let mut received = 0;
    let mut rekeyed = !rekey_halfway;
    loop {
        if !rekeyed && received >= bytes / 2 {
            session.rekey().unwrap();
            rekeyed = true;
        }
        let n = channel.read(&mut buf).unwrap_or_else(|e| {
            match fail(format!("download failed after {received} bytes: {e}")) {}
        });
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        received += n;
    }
    let download = started.elapsed();
    let mut their_hash = String::new();
    stderr.read_to_string(&mut their_hash).unwrap();
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
    assert_eq!(received, bytes, "download: stderr {their_hash:?}");
    assert_eq!(
        their_hash,
        format!("{}  -\n", hex(&hasher.finish())),
        "download"
    );
    EachWay {
        upload,
        download,
        kex_after_upload,
    }
}
