//! Loopback benchmark (issue 7): 1 GiB over SSH on 127.0.0.1, sekura
//! against OpenSSH, for four client→server pairs and three ciphers, plus
//! connection setup time. See benches/README.md, "Loopback: 1 GiB over SSH
//! vs OpenSSH".
//!
//! ```sh
//! cargo bench --bench loopback
//! SEKURA_LOOPBACK_BYTES=268435456 SEKURA_LOOPBACK_PAIRS=sekura-sekura \
//!   SEKURA_LOOPBACK_CIPHERS=gcm SEKURA_LOOPBACK_DIRS=up cargo bench --bench loopback
//! ```
//!
//! Environment (all optional):
//! - `SEKURA_LOOPBACK_BYTES`: bytes per transfer (default 1 GiB).
//! - `SEKURA_LOOPBACK_RUNS`: transfers per cell, the best is reported (3).
//! - `SEKURA_LOOPBACK_SETUP_RUNS`: connections per pair for setup time (20).
//! - `SEKURA_LOOPBACK_PAIRS`: comma list of `ssh-sshd`, `sekura-sshd`,
//!   `ssh-sekura`, `sekura-sekura` (all).
//! - `SEKURA_LOOPBACK_CIPHERS`: comma list of `gcm`, `chacha`, `ctr` (all).
//! - `SEKURA_LOOPBACK_DIRS`: comma list of `up`, `down` (both).
//! - `SEKURA_LOOPBACK_SETUP=0`: skip the setup measurement.
//!
//! Everything runs in a temporary directory (removed at the end, also on a
//! panic): a throwaway sshd on 127.0.0.1 as the current user with its own
//! host key and a user key made by ssh-keygen, and an in-process sekura
//! server. Every process started is killed when its guard drops.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    missing_docs
)]

use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::{PrivateKey, PublicKey};
use sekura::blocking::{
    AuthResult, Channel, HostKeyCheck, Pty, Server, ServerHandler, Session, SessionRequest,
};
use sekura::transport::Config;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The chunk the in-process ends read and write with.
const CHUNK: usize = 256 * 1024;

// ---------------------------------------------------------------------------
// Guards: temporary directory, child processes
// ---------------------------------------------------------------------------

/// A private directory removed with its contents when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for n in 0..100 {
            let path = std::env::temp_dir().join(format!(
                "sekura-loopback-{}-{n}-{nanos:x}",
                std::process::id()
            ));
            if fs::DirBuilder::new().mode(0o700).create(&path).is_ok() {
                return TempDir(path);
            }
        }
        panic!("no free temporary directory name");
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A child process (and its descendants) killed and reaped when dropped.
struct KillOnDrop(Child);

impl KillOnDrop {
    fn kill(&mut self) {
        if matches!(self.0.try_wait(), Ok(Some(_))) {
            return;
        }
        kill_descendants(self.0.id());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills the processes descended from `pid` (sshd's per-connection
/// children). Linux only: reads /proc.
fn kill_descendants(pid: u32) {
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in entries.flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            parents.push((child, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for &(child, ppid) in &parents {
            if ppid == parent && !found.contains(&child) {
                found.push(child);
            }
        }
        i += 1;
    }
    for &pid in found.iter().skip(1) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

// ---------------------------------------------------------------------------
// The peers
// ---------------------------------------------------------------------------

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "sekura-loopback",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A throwaway sshd (`-D -e`) on 127.0.0.1, logging the current user in
/// with the bench's key.
struct Sshd {
    process: KillOnDrop,
    port: u16,
}

impl Sshd {
    fn start(dir: &Path, host_key: &Path, authorized_keys: &Path) -> Sshd {
        let sshd = ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .expect("OpenSSH's sshd is not installed");
        // The privilege separation directory sshd wants when run as root.
        let _ = fs::create_dir_all("/run/sshd");
        let config_path = dir.join("sshd_config");
        let log = dir.join("sshd.log");
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let text = format!(
                "ListenAddress 127.0.0.1:{port}\n\
                 HostKey {}\n\
                 PidFile {}\n\
                 AuthorizedKeysFile {}\n\
                 UsePAM no\n\
                 StrictModes no\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\n\
                 UseDNS no\n\
                 PrintMotd no\n\
                 PrintLastLog no\n\
                 MaxStartups 100\n\
                 MaxSessions 100\n\
                 LogLevel ERROR\n",
                host_key.display(),
                dir.join("sshd.pid").display(),
                authorized_keys.display(),
            );
            fs::write(&config_path, text).unwrap();
            let log_file = File::create(&log).unwrap();
            let child = Command::new(&sshd)
                .args(["-D", "-e", "-f"])
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(Stdio::from(log_file.try_clone().unwrap()))
                .stderr(Stdio::from(log_file))
                .spawn()
                .expect("starting sshd");
            let mut sshd = Sshd {
                process: KillOnDrop(child),
                port,
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if !matches!(sshd.process.0.try_wait(), Ok(None)) {
                    break;
                }
                if let Ok(mut stream) =
                    TcpStream::connect_timeout(&sshd.address(), Duration::from_millis(200))
                {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut banner = [0u8; 8];
                    if stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-2.0-" {
                        return sshd;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let text = fs::read_to_string(&log).unwrap_or_default();
            if !text.contains("Address already in use") {
                panic!("sshd did not start:\n{text}");
            }
        }
        panic!("sshd did not start: no free port");
    }

    fn address(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }
}

/// The sekura server's handler: the current user with the bench's key, and
/// the three commands the bench sends.
struct BenchHandler {
    user: String,
    key: Vec<u8>,
}

impl ServerHandler for BenchHandler {
    fn auth_methods(&self, _user: &str) -> Vec<String> {
        vec!["publickey".to_string()]
    }

    fn check_public_key(&self, user: &str, key: &[u8]) -> AuthResult {
        if user == self.user && key == self.key {
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
        let SessionRequest::Exec(command) = request else {
            return 1;
        };
        let command = String::from_utf8_lossy(&command).into_owned();
        if command == "true" {
            0
        } else if command == "cat > /dev/null" {
            let mut buf = vec![0u8; CHUNK];
            loop {
                match channel.read(&mut buf) {
                    Ok(0) => return 0,
                    Ok(_) => {}
                    Err(_) => return 1,
                }
            }
        } else if let Some(n) = command
            .strip_prefix("head -c ")
            .and_then(|rest| rest.strip_suffix(" /dev/zero"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            let buf = vec![0u8; CHUNK];
            let mut left = n;
            while left > 0 {
                let len = left.min(CHUNK as u64) as usize;
                if channel.write_all(&buf[..len]).is_err() {
                    return 1;
                }
                left -= len as u64;
            }
            0
        } else {
            127
        }
    }
}

/// A sekura `Server` accepting on 127.0.0.1 in a background thread; stops
/// when dropped.
struct SekuraServer {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl SekuraServer {
    fn start(config: Config, handler: Arc<dyn ServerHandler>) -> SekuraServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let address = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let server = Arc::new(Server::new(config, handler));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let acceptor = std::thread::spawn(move || {
            let mut connections: Vec<JoinHandle<()>> = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_nodelay(true);
                        let server = server.clone();
                        connections.retain(|c| !c.is_finished());
                        connections.push(std::thread::spawn(move || {
                            if let Err(e) = server.serve_connection(stream) {
                                eprintln!("sekura server: connection ended: {e}");
                            }
                        }));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(1));
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
        SekuraServer {
            address,
            stop,
            acceptor: Some(acceptor),
        }
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

// ---------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Ssh,
    Sekura,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    Sshd,
    Sekura,
}

const PAIRS: &[(&str, Client, ServerKind)] = &[
    ("ssh-sshd", Client::Ssh, ServerKind::Sshd),
    ("sekura-sshd", Client::Sekura, ServerKind::Sshd),
    ("ssh-sekura", Client::Ssh, ServerKind::Sekura),
    ("sekura-sekura", Client::Sekura, ServerKind::Sekura),
];

/// (short name, cipher, MAC for non-AEAD ciphers, column title)
const CIPHERS: &[(&str, &str, Option<&str>, &str)] = &[
    ("gcm", "aes128-gcm@openssh.com", None, "aes128-gcm"),
    (
        "chacha",
        "chacha20-poly1305@openssh.com",
        None,
        "chacha20-poly1305",
    ),
    (
        "ctr",
        "aes128-ctr",
        Some("hmac-sha2-256-etm@openssh.com"),
        "aes128-ctr+hmac-sha2-256-etm",
    ),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

/// What every run needs.
struct Bench {
    dir: TempDir,
    user: String,
    user_key_path: PathBuf,
    user_key: Arc<dyn SigningKey>,
    sshd: Sshd,
    sshd_host_key: Vec<u8>,
    sekura: SekuraServer,
    sekura_host_key: Vec<u8>,
    known_hosts: PathBuf,
    ticks_per_second: f64,
}

impl Bench {
    fn start() -> Bench {
        assert!(
            find_in_path("ssh").is_some(),
            "OpenSSH's ssh is not installed"
        );
        let dir = TempDir::new();
        let user = current_user();
        let host = dir.path().join("host_ed25519");
        keygen(&host);
        let sshd_host_key = PublicKey::from_file(host.with_extension("pub"))
            .unwrap()
            .to_blob();
        let user_key_path = dir.path().join("id_ed25519");
        keygen(&user_key_path);
        let user_public = PublicKey::from_file(user_key_path.with_extension("pub")).unwrap();
        let authorized_keys = dir.path().join("authorized_keys");
        fs::write(&authorized_keys, user_public.to_openssh() + "\n").unwrap();
        fs::set_permissions(&authorized_keys, fs::Permissions::from_mode(0o644)).unwrap();
        let user_key: Arc<dyn SigningKey> =
            Arc::new(PrivateKey::from_file(&user_key_path, None).unwrap());

        let sshd = Sshd::start(dir.path(), &host, &authorized_keys);

        let sekura_host = PrivateKey::generate_ed25519(&mut sekura::os_rng());
        let sekura_host_line = sekura_host.public_key().to_openssh();
        let sekura_host_key = sekura_host.public_key().to_blob();
        let handler = Arc::new(BenchHandler {
            user: user.clone(),
            key: user_public.to_blob(),
        });
        let sekura = SekuraServer::start(
            Config::server(vec![Arc::new(sekura_host) as Arc<dyn SigningKey>]),
            handler,
        );

        let known_hosts = dir.path().join("known_hosts");
        let sshd_host_line = fs::read_to_string(host.with_extension("pub")).unwrap();
        fs::write(
            &known_hosts,
            format!(
                "[127.0.0.1]:{} {}\n[127.0.0.1]:{} {sekura_host_line}\n",
                sshd.port,
                sshd_host_line.trim(),
                sekura.address.port()
            ),
        )
        .unwrap();
        Bench {
            dir,
            user,
            user_key_path,
            user_key,
            sshd,
            sshd_host_key,
            sekura,
            sekura_host_key,
            known_hosts,
            ticks_per_second: Command::new("getconf")
                .arg("CLK_TCK")
                .output()
                .ok()
                .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
                .unwrap_or(100.0),
        }
    }

    fn target(&self, server: ServerKind) -> (SocketAddr, &[u8]) {
        match server {
            ServerKind::Sshd => (self.sshd.address(), &self.sshd_host_key),
            ServerKind::Sekura => (self.sekura.address, &self.sekura_host_key),
        }
    }

    /// An `ssh` command for `server`, with `cipher` (and `mac`) when given.
    fn ssh(
        &self,
        server: ServerKind,
        cipher: Option<(&str, Option<&str>)>,
        command: &str,
    ) -> Command {
        let (address, _) = self.target(server);
        let mut ssh = Command::new("ssh");
        ssh.env_remove("SSH_AUTH_SOCK")
            .args(["-F", "/dev/null", "-T", "-i"])
            .arg(&self.user_key_path)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "Compression=no",
                "-o",
                "LogLevel=ERROR",
                "-p",
                &address.port().to_string(),
                "-l",
                &self.user,
            ]);
        if let Some((cipher, mac)) = cipher {
            ssh.args(["-c", cipher]);
            if let Some(mac) = mac {
                ssh.args(["-m", mac]);
            }
        }
        ssh.arg("127.0.0.1").arg(command);
        ssh
    }

    /// A connected, authenticated sekura client session.
    fn sekura_session(&self, server: ServerKind, cipher: Option<(&str, Option<&str>)>) -> Session {
        let (address, host_key) = self.target(server);
        let mut config = Config::default();
        if let Some((cipher, mac)) = cipher {
            config.preferences.set_ciphers(cipher).unwrap();
            if let Some(mac) = mac {
                config.preferences.set_macs(mac).unwrap();
            }
        }
        let stream = TcpStream::connect(address).unwrap();
        let session = Session::connect(stream, config, HostKeyCheck::Key(host_key.to_vec()))
            .unwrap_or_else(|e| panic!("sekura connect to {address}: {e}"));
        session
            .authenticate_publickey(&self.user, self.user_key.clone())
            .unwrap_or_else(|e| panic!("sekura authenticate: {e}"));
        session
    }

    /// CPU time used so far, in clock ticks, by every process of the
    /// bench: this one (the sekura ends and the bench's own pipe feeding),
    /// its reaped children (ssh) and sshd's reaped children (each
    /// connection's processes, the command included).
    fn cpu_ticks(&self) -> u64 {
        let fields = |pid: &str, from: usize, to: usize| -> u64 {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return 0;
            };
            // Fields from 3 (state) on; utime is field 14.
            after
                .split_whitespace()
                .enumerate()
                .filter(|(i, _)| (from - 3..=to - 3).contains(i))
                .filter_map(|(_, v)| v.parse::<u64>().ok())
                .sum()
        };
        // utime, stime, cutime, cstime of this process; cutime, cstime of sshd.
        fields("self", 14, 17) + fields(&self.sshd.process.0.id().to_string(), 16, 17)
    }

    /// One transfer of `bytes`: how long it took, connection included, and
    /// the CPU seconds all the processes involved used.
    fn transfer(
        &self,
        client: Client,
        server: ServerKind,
        cipher: (&str, Option<&str>),
        dir: Dir,
        bytes: u64,
    ) -> (Duration, f64) {
        let cpu_before = self.cpu_ticks();
        let elapsed = self.transfer_once(client, server, cipher, dir, bytes);
        // Let sshd reap the connection's processes (their CPU time counts
        // once reaped).
        std::thread::sleep(Duration::from_millis(100));
        let cpu = (self.cpu_ticks() - cpu_before) as f64 / self.ticks_per_second;
        (elapsed, cpu)
    }

    fn transfer_once(
        &self,
        client: Client,
        server: ServerKind,
        cipher: (&str, Option<&str>),
        dir: Dir,
        bytes: u64,
    ) -> Duration {
        let command = match dir {
            Dir::Up => "cat > /dev/null".to_string(),
            Dir::Down => format!("head -c {bytes} /dev/zero"),
        };
        let started = Instant::now();
        match client {
            Client::Ssh => {
                let mut ssh = self.ssh(server, Some(cipher), &command);
                ssh.stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let mut child = KillOnDrop(ssh.spawn().expect("starting ssh"));
                let mut stdin = child.0.stdin.take().unwrap();
                let mut stdout = child.0.stdout.take().unwrap();
                let mut stderr = child.0.stderr.take().unwrap();
                let errors = std::thread::spawn(move || {
                    let mut text = String::new();
                    let _ = stderr.read_to_string(&mut text);
                    text
                });
                let received = match dir {
                    Dir::Up => {
                        let buf = vec![0u8; CHUNK];
                        let mut left = bytes;
                        while left > 0 {
                            let len = left.min(CHUNK as u64) as usize;
                            stdin.write_all(&buf[..len]).expect("writing to ssh");
                            left -= len as u64;
                        }
                        drop(stdin);
                        io::copy(&mut stdout, &mut io::sink()).unwrap()
                    }
                    Dir::Down => {
                        drop(stdin);
                        count(&mut stdout)
                    }
                };
                let status = child.0.wait().unwrap();
                let errors = errors.join().unwrap();
                assert!(status.success(), "ssh failed ({status}): {errors}");
                if dir == Dir::Down {
                    assert_eq!(received, bytes, "ssh received {received} of {bytes}");
                }
            }
            Client::Sekura => {
                let session = self.sekura_session(server, Some(cipher));
                let mut channel = session.open_session().unwrap();
                channel.exec(&command).unwrap();
                match dir {
                    Dir::Up => {
                        let buf = vec![0u8; CHUNK];
                        let mut left = bytes;
                        while left > 0 {
                            let len = left.min(CHUNK as u64) as usize;
                            channel.write_all(&buf[..len]).unwrap();
                            left -= len as u64;
                        }
                        channel.shutdown(Shutdown::Write).unwrap();
                        let _ = count(&mut channel);
                    }
                    Dir::Down => {
                        let received = count(&mut channel);
                        assert_eq!(received, bytes, "sekura received {received} of {bytes}");
                    }
                }
                let status = channel.wait_exit_status().unwrap();
                assert_eq!(status, Some(0), "remote command failed");
                drop(channel);
                session.close();
            }
        }
        started.elapsed()
    }

    /// One connection: connect, authenticate, exec `true`, close.
    fn setup(&self, client: Client, server: ServerKind) -> Duration {
        let started = Instant::now();
        match client {
            Client::Ssh => {
                let mut ssh = self.ssh(server, None, "true");
                ssh.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                let child = KillOnDrop(ssh.spawn().expect("starting ssh"));
                let out = child_output(child);
                assert!(out.0.success(), "ssh true failed: {}", out.1);
            }
            Client::Sekura => {
                let session = self.sekura_session(server, None);
                let mut channel = session.open_session().unwrap();
                channel.exec("true").unwrap();
                let status = channel.wait_exit_status().unwrap();
                assert_eq!(status, Some(0));
                drop(channel);
                session.close();
            }
        }
        started.elapsed()
    }

    /// The key exchange and cipher a default sekura client negotiates with
    /// `server` (for the table's notes).
    fn negotiated(&self, server: ServerKind) -> String {
        let session = self.sekura_session(server, None);
        let text = session.negotiated().unwrap_or_default();
        session.close();
        // `Negotiated`'s Debug form: keep the key exchange and the cipher.
        let field = |name: &str| {
            text.split(&format!("{name}: \""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("?")
                .to_string()
        };
        format!("{} + {}", field("kex"), field("cipher_c2s"))
    }
}

fn child_output(mut child: KillOnDrop) -> (std::process::ExitStatus, String) {
    let mut stderr = child.0.stderr.take().unwrap();
    let mut text = String::new();
    let _ = stderr.read_to_string(&mut text);
    (child.0.wait().unwrap(), text)
}

fn count(reader: &mut impl Read) -> u64 {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn env_list(name: &str) -> Option<Vec<String>> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then
    // the bench only builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let bytes = env_num("SEKURA_LOOPBACK_BYTES", 1 << 30);
    let runs = env_num("SEKURA_LOOPBACK_RUNS", 3).max(1);
    let setup_runs = env_num("SEKURA_LOOPBACK_SETUP_RUNS", 20).max(1);
    let want = |list: &Option<Vec<String>>, name: &str| {
        list.as_ref().is_none_or(|l| l.iter().any(|x| x == name))
    };
    let pairs_wanted = env_list("SEKURA_LOOPBACK_PAIRS");
    let ciphers_wanted = env_list("SEKURA_LOOPBACK_CIPHERS");
    let dirs_wanted = env_list("SEKURA_LOOPBACK_DIRS");
    let pairs: Vec<_> = PAIRS
        .iter()
        .filter(|(name, _, _)| want(&pairs_wanted, name))
        .collect();
    let ciphers: Vec<_> = CIPHERS
        .iter()
        .filter(|(name, ..)| want(&ciphers_wanted, name))
        .collect();
    let dirs: Vec<(Dir, &str)> = [(Dir::Up, "up"), (Dir::Down, "down")]
        .into_iter()
        .filter(|(_, name)| want(&dirs_wanted, name))
        .collect();

    let bench = Bench::start();
    eprintln!(
        "loopback: {bytes} bytes per transfer, best of {runs}; setup: median of {setup_runs}; temp dir {}",
        bench.dir.path().display()
    );

    let mut table = String::new();
    // Setup first: its median per pair is taken off each transfer's time,
    // so the throughput is that of the data phase alone.
    let mut setup_ms: Vec<(&str, Duration)> = Vec::new();
    let mut setup_table = String::new();
    if std::env::var("SEKURA_LOOPBACK_SETUP").as_deref() != Ok("0") {
        let _ = writeln!(
            setup_table,
            "\nConnection setup (connect, authenticate, exec `true`, close), ms, median of {setup_runs} (after one warm-up)\n"
        );
        let _ = writeln!(
            setup_table,
            "| client → server | median | min | max |\n|---|---:|---:|---:|"
        );
        for &&(pair, client, server) in &pairs {
            let _ = bench.setup(client, server);
            let times: Vec<Duration> = (0..setup_runs)
                .map(|_| bench.setup(client, server))
                .collect();
            let min = times.iter().min().copied().unwrap_or_default();
            let max = times.iter().max().copied().unwrap_or_default();
            let med = median(times);
            eprintln!("{pair} setup: median {:.1} ms", med.as_secs_f64() * 1e3);
            setup_ms.push((pair, med));
            let _ = writeln!(
                setup_table,
                "| {} | {:.1} | {:.1} | {:.1} |",
                pair.replace('-', " → "),
                med.as_secs_f64() * 1e3,
                min.as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3
            );
        }
        let _ = writeln!(
            setup_table,
            "\nA default sekura client negotiates, with sshd: `{}`; with the sekura server: `{}`",
            bench.negotiated(ServerKind::Sshd),
            bench.negotiated(ServerKind::Sekura)
        );
    }

    let _ = writeln!(
        table,
        "Throughput, MB/s (10^6 bytes/s), {bytes} bytes per transfer, best of {runs}; \
         each run's time less the pair's median setup time\n"
    );
    let _ = write!(table, "| client → server | direction |");
    for (_, _, _, title) in &ciphers {
        let _ = write!(table, " {title} |");
    }
    let _ = write!(table, "\n|---|---|");
    for _ in &ciphers {
        let _ = write!(table, "---:|");
    }
    table.push('\n');
    // Runs are interleaved (every pair once, then again...) so that a
    // change of load on the machine hits every pair alike.
    let mut best: Vec<Vec<Duration>> =
        vec![vec![Duration::MAX; ciphers.len()]; pairs.len() * dirs.len()];
    let mut cpu: Vec<Vec<Vec<f64>>> =
        vec![vec![Vec::new(); ciphers.len()]; pairs.len() * dirs.len()];
    for (d, &(dir, dir_name)) in dirs.iter().enumerate() {
        for (c, &&(_, cipher, mac, _)) in ciphers.iter().enumerate() {
            for run in 0..runs {
                for (p, &&(pair, client, server)) in pairs.iter().enumerate() {
                    let setup = setup_ms
                        .iter()
                        .find(|(name, _)| *name == pair)
                        .map_or(Duration::ZERO, |(_, t)| *t);
                    let (t, cpu_s) = bench.transfer(client, server, (cipher, mac), dir, bytes);
                    let data = t.saturating_sub(setup).max(Duration::from_micros(1));
                    eprintln!(
                        "{pair} {dir_name} {cipher}{}: run {run}: {:.3} s in all, {:.0} MB/s without setup, {cpu_s:.2} CPU s",
                        mac.map(|m| format!("+{m}")).unwrap_or_default(),
                        t.as_secs_f64(),
                        bytes as f64 / data.as_secs_f64() / 1e6
                    );
                    let cell = &mut best[p * dirs.len() + d][c];
                    *cell = (*cell).min(data);
                    cpu[p * dirs.len() + d][c].push(cpu_s);
                }
            }
        }
    }
    for (p, &&(pair, _, _)) in pairs.iter().enumerate() {
        for (d, &(_, dir_name)) in dirs.iter().enumerate() {
            let _ = write!(table, "| {} | {dir_name} |", pair.replace('-', " → "));
            for time in &best[p * dirs.len() + d] {
                let _ = write!(table, " {:.0} |", bytes as f64 / time.as_secs_f64() / 1e6);
            }
            table.push('\n');
        }
    }
    let gib = bytes as f64 / f64::from(1u32 << 30);
    let _ = writeln!(
        table,
        "\nCPU seconds per GiB, every process of the pair together (client, server, the \
         command sshd runs, the bench feeding or draining ssh's pipe), median of {runs}\n"
    );
    let _ = write!(table, "| client → server | direction |");
    for (_, _, _, title) in &ciphers {
        let _ = write!(table, " {title} |");
    }
    let _ = write!(table, "\n|---|---|");
    for _ in &ciphers {
        let _ = write!(table, "---:|");
    }
    table.push('\n');
    for (p, &&(pair, _, _)) in pairs.iter().enumerate() {
        for (d, &(_, dir_name)) in dirs.iter().enumerate() {
            let _ = write!(table, "| {} | {dir_name} |", pair.replace('-', " → "));
            for samples in &cpu[p * dirs.len() + d] {
                let mut samples = samples.clone();
                samples.sort_by(f64::total_cmp);
                let median = samples.get(samples.len() / 2).copied().unwrap_or(0.0);
                let _ = write!(table, " {:.2} |", median / gib);
            }
            table.push('\n');
        }
    }
    table.push_str(&setup_table);
    println!("\n{table}");
}
