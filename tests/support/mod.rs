//! Helpers for the interop tests: real peers started on 127.0.0.1, with
//! keys and configuration files made at test time in a temporary directory,
//! and every process killed and reaped when its guard is dropped (also when
//! the test panics).
//!
//! A peer that is not installed makes a test print why and return early,
//! unless `SEKURA_REQUIRE_PEERS=1` is set (as `.ci/run` does): then it
//! panics.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The variable that turns a missing peer into a failure.
pub const REQUIRE_PEERS: &str = "SEKURA_REQUIRE_PEERS";

/// Whether a missing peer must fail the test instead of skipping it.
pub fn peers_required() -> bool {
    std::env::var(REQUIRE_PEERS).is_ok_and(|v| v == "1")
}

/// `Some(peer)` when it is available; otherwise prints why and returns
/// `None` (the caller returns: the test is skipped), or panics when
/// `SEKURA_REQUIRE_PEERS=1`.
pub fn peer_or_skip<T>(test: &str, peer: Result<T, String>) -> Option<T> {
    match peer {
        Ok(peer) => Some(peer),
        Err(why) if peers_required() => {
            panic!("{test}: {why} ({REQUIRE_PEERS}=1, so a missing peer is a failure)")
        }
        Err(why) => {
            eprintln!("{test}: SKIPPED: {why} (set {REQUIRE_PEERS}=1 to fail instead)");
            None
        }
    }
}

/// Finds `name` in `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The OpenSSH programs the interop tests drive.
#[derive(Debug, Clone)]
pub struct OpenSsh {
    /// The client, `ssh`.
    pub ssh: PathBuf,
    /// `ssh-keygen`.
    pub ssh_keygen: PathBuf,
    /// The server, by absolute path (sshd re-executes itself and refuses a
    /// relative one).
    pub sshd: Option<PathBuf>,
    /// `ssh -V`, e.g. `OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL ...`.
    pub version: String,
}

impl OpenSsh {
    /// Looks for ssh, ssh-keygen and (when `need_sshd`) sshd.
    pub fn find(need_sshd: bool) -> Result<OpenSsh, String> {
        let ssh = find_in_path("ssh").ok_or("OpenSSH's ssh is not installed (not in PATH)")?;
        let ssh_keygen = find_in_path("ssh-keygen")
            .ok_or("OpenSSH's ssh-keygen is not installed (not in PATH)")?;
        let sshd = ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file());
        if need_sshd && sshd.is_none() {
            return Err(
                "OpenSSH's sshd is not installed (no /usr/sbin/sshd; apt-get install openssh-server)"
                    .into(),
            );
        }
        let out = Command::new(&ssh)
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", ssh.display()))?;
        // ssh -V prints to stderr.
        let version = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Ok(OpenSsh {
            ssh,
            ssh_keygen,
            sshd,
            version,
        })
    }

    /// `ssh -Q <what>`: the algorithms this OpenSSH supports.
    pub fn query(&self, what: &str) -> Result<Vec<String>, String> {
        let out = Command::new(&self.ssh)
            .args(["-Q", what])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("ssh -Q {what}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ssh -Q {what} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// Makes a key pair with ssh-keygen (no passphrase) at `path` and
    /// `path.pub`. `kind` is ssh-keygen's `-t` (ed25519, ecdsa, rsa, dsa).
    pub fn keygen(&self, path: &Path, kind: &str, bits: Option<u32>) -> Result<(), String> {
        let mut cmd = Command::new(&self.ssh_keygen);
        cmd.args(["-q", "-t", kind, "-N", "", "-C", "sekura-interop", "-f"])
            .arg(path)
            .stdin(Stdio::null());
        if let Some(bits) = bits {
            cmd.args(["-b", &bits.to_string()]);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run ssh-keygen: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ssh-keygen -t {kind} {bits:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }
}

/// A directory under the system's temporary directory, removed with
/// everything in it when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A new, empty, private (0700) directory.
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        use std::os::unix::fs::DirBuilderExt;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos:x}", std::process::id()));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("no free temporary directory name"))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A port on 127.0.0.1 that was free a moment ago: bound to port 0, read,
/// released. Someone else may take it before we do: callers retry.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A child process killed and reaped when dropped.
#[derive(Debug)]
pub struct KillOnDrop {
    child: Child,
    what: String,
}

impl KillOnDrop {
    /// Guards `child`; `what` names it in messages.
    pub fn new(child: Child, what: &str) -> KillOnDrop {
        KillOnDrop {
            child,
            what: what.to_string(),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child itself (e.g. to take its pipes).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Whether it is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills it (and, first, any processes it started) and reaps it.
    pub fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        kill_descendants(self.child.id());
        if let Err(e) = self.child.kill() {
            eprintln!("killing {} ({}): {e}", self.what, self.child.id());
        }
        let _ = self.child.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills the processes descended from `pid` (sshd forks one process per
/// connection, which forks its privilege-separated child): they would end
/// by themselves when their connection closes, but a panicking test must
/// not leave them behind. Best effort, Linux only (reads /proc).
fn kill_descendants(pid: u32) {
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').and_then(|i| stat.get(i + 1..)) else {
            continue;
        };
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            parents.push((child, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while let Some(&parent) = found.get(i) {
        for &(child, ppid) in &parents {
            if ppid == parent && !found.contains(&child) {
                found.push(child);
            }
        }
        i += 1;
    }
    let descendants: Vec<String> = found.iter().skip(1).map(u32::to_string).collect();
    if !descendants.is_empty() {
        // The shell's builtin kill: /bin/sh is everywhere, procps is not.
        let _ = Command::new("/bin/sh")
            .args(["-c", "kill -KILL \"$@\"", "sh"])
            .args(&descendants)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The last `lines` lines of a text file (for failure messages).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// How to configure a throwaway sshd.
#[derive(Debug, Clone, Default)]
pub struct SshdConfig {
    /// Private host key files.
    pub host_keys: Vec<PathBuf>,
    /// `KexAlgorithms` (empty: sshd's default).
    pub kex: Vec<String>,
    /// `Ciphers`.
    pub ciphers: Vec<String>,
    /// `MACs`.
    pub macs: Vec<String>,
    /// `HostKeyAlgorithms`.
    pub host_key_algorithms: Vec<String>,
    /// More lines, verbatim (e.g. `RekeyLimit 64K`), at the end of the file
    /// (so they may end with a `Match` block). sshd keeps the first value it
    /// reads for a keyword: they cannot change the fixed lines before them.
    pub extra: Vec<String>,
    /// `sshd -o` options (`Keyword=value`): they take precedence over every
    /// line of the file, the fixed ones included (e.g.
    /// `AuthorizedKeysFile=/path`, which the file sets to `none`).
    pub options: Vec<String>,
}

/// A running sshd (`sshd -D -e`, in the foreground) on 127.0.0.1,
/// killed and reaped when dropped. Its DEBUG3 log goes to a file.
#[derive(Debug)]
pub struct Sshd {
    process: KillOnDrop,
    port: u16,
    log: PathBuf,
}

/// How long sshd may take to accept connections.
const SSHD_START_TIMEOUT: Duration = Duration::from_secs(5);

impl Sshd {
    /// Writes a configuration into `dir` and starts sshd with it on a free
    /// port (another one if that port was taken meanwhile), waiting until it
    /// answers with its identification line.
    pub fn start(openssh: &OpenSsh, dir: &Path, config: &SshdConfig) -> Result<Sshd, String> {
        let sshd = openssh.sshd.as_ref().ok_or("sshd is not installed")?;
        let options: Vec<&str> = config
            .options
            .iter()
            .flat_map(|o| ["-o", o.as_str()])
            .collect();
        // The privilege separation directory sshd insists on when run as
        // root (packages create it at boot; containers often lack it).
        // Unprivileged, sshd does not need it and we could not create it.
        let _ = fs::create_dir_all("/run/sshd");
        let config_path = dir.join("sshd_config");
        let log = dir.join("sshd.log");
        let mut penalties = true;
        let mut last_error = String::new();
        for attempt in 0..5 {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            let text = config_text(config, dir, port, penalties);
            fs::write(&config_path, text).map_err(|e| format!("writing sshd_config: {e}"))?;
            if attempt == 0 {
                // `sshd -t` checks the configuration (and tells us whether
                // this version knows PerSourcePenalties, OpenSSH 9.8+).
                let check = Command::new(sshd)
                    .arg("-t")
                    .args(&options)
                    .arg("-f")
                    .arg(&config_path)
                    .stdin(Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run {}: {e}", sshd.display()))?;
                let stderr = String::from_utf8_lossy(&check.stderr);
                if !check.status.success() && stderr.contains("PerSourcePenalties") {
                    penalties = false;
                    let text = config_text(config, dir, port, penalties);
                    fs::write(&config_path, text)
                        .map_err(|e| format!("writing sshd_config: {e}"))?;
                } else if !check.status.success() {
                    return Err(format!(
                        "sshd -t rejects the test configuration:\n{stderr}\n{}",
                        fs::read_to_string(&config_path).unwrap_or_default()
                    ));
                }
            }
            let log_file = File::create(&log).map_err(|e| format!("creating sshd log: {e}"))?;
            let log_err = log_file.try_clone().map_err(|e| format!("sshd log: {e}"))?;
            let child = Command::new(sshd)
                .arg("-D")
                .args(&options)
                .arg("-e")
                .arg("-f")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(Stdio::from(log_file))
                .stderr(Stdio::from(log_err))
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", sshd.display()))?;
            let mut sshd = Sshd {
                process: KillOnDrop::new(child, "sshd"),
                port,
                log: log.clone(),
            };
            match sshd.wait_ready() {
                Ok(()) => return Ok(sshd),
                Err(e) => {
                    let taken = fs::read_to_string(&log)
                        .is_ok_and(|l| l.contains("Address already in use"));
                    last_error = e;
                    if !taken {
                        break;
                    }
                }
            }
        }
        Err(last_error)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + SSHD_START_TIMEOUT;
        loop {
            if !self.process.is_running() {
                return Err(format!(
                    "sshd exited at startup; its log:\n{}",
                    tail(&self.log, 30)
                ));
            }
            if let Ok(mut stream) =
                TcpStream::connect_timeout(&self.address(), Duration::from_millis(200))
            {
                // Make sure it is our sshd that answers, not whoever took
                // the port before it.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut banner = [0u8; 8];
                if stream.read_exact(&mut banner).is_ok()
                    && &banner == b"SSH-2.0-"
                    && self.process.is_running()
                {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "sshd did not accept connections on {} within {SSHD_START_TIMEOUT:?}; its log:\n{}",
                    self.address(),
                    tail(&self.log, 30)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// Its whole log so far.
    pub fn log_text(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }
}

fn config_text(config: &SshdConfig, dir: &Path, port: u16, penalties: bool) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "# A throwaway sshd for sekura's interop tests.");
    let _ = writeln!(text, "ListenAddress 127.0.0.1:{port}");
    for key in &config.host_keys {
        let _ = writeln!(text, "HostKey {}", key.display());
    }
    let _ = writeln!(text, "PidFile {}", dir.join("sshd.pid").display());
    for line in [
        "UsePAM no",
        "StrictModes no",
        "LoginGraceTime 60",
        "LogLevel DEBUG3",
        "UseDNS no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "AuthorizedKeysFile none",
        // Many connections come and go in a short time: no random drops.
        "MaxStartups 100",
    ] {
        let _ = writeln!(text, "{line}");
    }
    if penalties {
        // OpenSSH 9.8+ penalizes sources whose connections end before
        // authentication, which is all these tests do.
        let _ = writeln!(text, "PerSourcePenalties no");
    }
    for (keyword, list) in [
        ("KexAlgorithms", &config.kex),
        ("Ciphers", &config.ciphers),
        ("MACs", &config.macs),
        ("HostKeyAlgorithms", &config.host_key_algorithms),
    ] {
        if !list.is_empty() {
            let _ = writeln!(text, "{keyword} {}", list.join(","));
        }
    }
    for line in &config.extra {
        let _ = writeln!(text, "{line}");
    }
    text
}

// ---------------------------------------------------------------------------
// A sekura server policy shared by the PuTTY and AsyncSSH interop tests.
// ---------------------------------------------------------------------------

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Fast pseudo-random bytes (xorshift64*), the same for the same seed.
#[derive(Debug, Clone)]
pub struct Noise(pub u64);

impl Noise {
    /// Fills `buf`.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let word = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    /// `len` bytes of it (the seed must not be 0).
    pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut data = vec![0u8; len];
        Noise(seed).fill(&mut data);
        data
    }
}

/// A sekura server's policy for interop tests: `user` logs in with
/// `password` or a key whose blob is in `authorized`. Commands: `echo
/// TEXT`; `fail` (a line on stderr, status 3); `sha256` (the input's
/// SHA-256 in hex); `gen N` (N bytes of `Noise(N)`, their SHA-256 on
/// stderr); anything else exits with 127.
#[derive(Debug, Clone)]
pub struct ExecHandler {
    /// The one user.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Its public keys (blobs).
    pub authorized: Vec<Vec<u8>>,
}

impl sekura::blocking::ServerHandler for ExecHandler {
    fn check_password(&self, user: &str, password: &str) -> sekura::blocking::AuthResult {
        if user == self.user && password == self.password {
            sekura::blocking::AuthResult::Accept
        } else {
            sekura::blocking::AuthResult::Reject
        }
    }

    fn check_public_key(&self, user: &str, key: &[u8]) -> sekura::blocking::AuthResult {
        if user == self.user && self.authorized.iter().any(|k| k == key) {
            sekura::blocking::AuthResult::Accept
        } else {
            sekura::blocking::AuthResult::Reject
        }
    }

    fn session(
        &self,
        _user: &str,
        request: sekura::blocking::SessionRequest,
        _pty: Option<sekura::blocking::Pty>,
        ch: &mut sekura::blocking::Channel,
    ) -> u32 {
        use sekura::algorithms::HashFunction;
        use sekura::algorithms::hash::SHA256;
        use std::io::Write as _;
        let sekura::blocking::SessionRequest::Exec(command) = request else {
            return 1;
        };
        let command = String::from_utf8_lossy(&command).into_owned();
        let (name, arg) = command.split_once(' ').unwrap_or((&command, ""));
        let stderr = |ch: &mut sekura::blocking::Channel, mut data: &[u8]| -> io::Result<()> {
            while !data.is_empty() {
                let n = ch.write_stderr(data)?;
                data = data.get(n..).unwrap_or_default();
            }
            Ok(())
        };
        let mut buf = vec![0u8; 256 * 1024];
        let mut hasher = SHA256.start();
        let result = match name {
            "echo" => ch.write_all(format!("{arg}\n").as_bytes()).map(|()| 0),
            "fail" => stderr(ch, b"something went wrong\n").map(|()| 3),
            "sha256" => loop {
                match ch.read(&mut buf) {
                    Ok(0) => {
                        let line = format!("{}\n", hex(&hasher.finish()));
                        break ch.write_all(line.as_bytes()).map(|()| 0);
                    }
                    Ok(n) => hasher.update(buf.get(..n).unwrap_or_default()),
                    Err(e) => break Err(e),
                }
            },
            "gen" => {
                let total: usize = arg.parse().unwrap_or(0);
                let mut noise = Noise(total as u64 | 1);
                let mut sent = 0;
                let mut result = Ok(());
                while sent < total && result.is_ok() {
                    let chunk = buf
                        .get_mut(..(total - sent).min(256 * 1024))
                        .unwrap_or_default();
                    noise.fill(chunk);
                    hasher.update(chunk);
                    result = ch.send_all(chunk);
                    sent += chunk.len();
                }
                result
                    .and_then(|()| stderr(ch, format!("{}\n", hex(&hasher.finish())).as_bytes()))
                    .map(|()| 0)
            }
            _ => stderr(ch, b"not found\n").map(|()| 127),
        };
        result.unwrap_or(255)
    }
}

/// MiB per second.
pub fn rate(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64()
}
