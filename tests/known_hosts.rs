//! `sekura::known_hosts` against OpenSSH's own tools, on files made at test
//! time in a temporary directory:
//!
//! - [`ssh_keygen_hash`]: `ssh-keygen -H` hashes a plain file; every host
//!   still finds the same keys in the hashed file (upper-case names and
//!   `[host]:port` included), and wildcard, negated and marker lines stay
//!   as they were.
//! - [`ssh_keygen_find`]: `ssh-keygen -F` finds the same lines as
//!   [`KnownHosts::lookup`], in the plain and in the hashed file.
//! - [`ssh_keygen_remove`]: `ssh-keygen -R` and [`KnownHosts::remove`] +
//!   [`KnownHosts::save`] remove the same lines and leave byte-identical
//!   files, host after host.
//! - [`save_creates_keeps_permissions_and_follows_links`]: saving creates
//!   `~/.ssh` privately, keeps a file's permissions, writes through a
//!   symbolic link and leaves no temporary file.
//! - [`ssh_and_sekura_agree`]: OpenSSH's `ssh`, connecting to a sekura
//!   server on 127.0.0.1, records a key (hashed and not) that
//!   [`KnownHosts::check`] then finds; accepts the lines
//!   [`KnownHosts::add`] writes; and reports a changed key on the same line
//!   as [`KnownHosts::verify`].
//! - [`known_key_types_choose_the_host_key`] (in memory, no peer): a server
//!   with Ed25519 and ECDSA keys, known only by its ECDSA key, fails the
//!   check when the client offers its default order, and passes once
//!   [`KnownHosts::prefer_known_host_key_algorithms`] reorders it
//!   (golang/go#29286).
//!
//! A missing `ssh-keygen` or `ssh` skips a test (printing why) unless
//! `SEKURA_REQUIRE_PEERS=1`; every process started is killed when the test
//! ends, panicking or not.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod support;

use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::{EcdsaCurve, PrivateKey, PublicKey};
use sekura::known_hosts::{
    HostKeyError, HostKeyStatus, KnownHosts, StrictHostKeyChecking, Verdict, lookup_name,
};
use sekura::os_rng;
use sekura::transport::{Config, Connection, Event};
use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use support::{KillOnDrop, OpenSsh, TempDir, find_in_path, peer_or_skip};

// ---------------------------------------------------------------------------
// Keys and the fixture
// ---------------------------------------------------------------------------

fn ed25519(n: u8) -> PublicKey {
    PrivateKey::from_ed25519_seed(&[n; 32]).public_key()
}

fn ecdsa(n: u8) -> PublicKey {
    PrivateKey::from_ecdsa_scalar(EcdsaCurve::NistP256, &[n; 32])
        .unwrap()
        .public_key()
}

/// Every key the fixture uses.
fn all_keys() -> Vec<PublicKey> {
    (1..=8).map(ed25519).chain((1..=3).map(ecdsa)).collect()
}

/// A known_hosts file ssh-keygen considers valid (it refuses to rewrite a
/// file with malformed lines), with every form it treats differently.
fn fixture() -> String {
    let k = |n| ed25519(n).to_openssh();
    let e = |n| ecdsa(n).to_openssh();
    format!(
        "# sekura known_hosts fixture\n\
         alpha.example.com {}\n\
         beta.example.com,192.0.2.10,Gamma.Example.COM {} beta's key\n\
         [alpha.example.com]:2222 {}\n\
         [192.0.2.10]:2200 {}\n\
         *.wild.example.com,!bad.wild.example.com {}\n\
         alpha.example.com {}\n\
         @revoked revoked.example.com {}\n\
         revoked.example.com {}\n\
         @cert-authority *.example.com {}\n\
         \n\
         delta.example.com {} delta's comment\n",
        k(1),
        e(1),
        k(2),
        k(3),
        k(4),
        e(2),
        k(5),
        e(3),
        k(6),
        k(7),
    )
}

/// (host, port) pairs to look up: every line of the fixture, and misses.
const QUERIES: &[(&str, u16)] = &[
    ("alpha.example.com", 22),
    ("alpha.example.com", 2222),
    ("alpha.example.com", 2200),
    ("beta.example.com", 22),
    ("192.0.2.10", 22),
    ("192.0.2.10", 2200),
    ("gamma.example.com", 22),
    ("x.wild.example.com", 22),
    ("bad.wild.example.com", 22),
    ("revoked.example.com", 22),
    ("delta.example.com", 22),
    ("delta.example.com", 2022),
    ("nowhere.example.com", 22),
    ("nowhere.invalid", 22),
];

/// The status's kind and the key it names, for comparing two files whose
/// line numbers differ.
fn status_kind(known: &KnownHosts, status: &HostKeyStatus) -> String {
    let key_at = |line: usize| {
        known
            .entries()
            .find(|e| e.line() == line)
            .map(|e| e.fingerprint_sha256())
            .unwrap()
    };
    match status {
        HostKeyStatus::Match { line } => format!("match {}", key_at(*line)),
        HostKeyStatus::NotFound => "not found".into(),
        HostKeyStatus::Mismatch {
            lines,
            other_type_lines,
            ..
        } => format!(
            "mismatch, {} same-type and {} other-type lines",
            lines.len(),
            other_type_lines.len()
        ),
        HostKeyStatus::Revoked { line } => format!("revoked {}", key_at(*line)),
    }
}

/// The fingerprints of the lines `lookup` finds, sorted, with markers.
fn found_keys(known: &KnownHosts, host: &str, port: u16) -> Vec<String> {
    let mut keys: Vec<String> = known
        .lookup(host, port)
        .map(|e| format!("{:?} {}", e.marker(), e.fingerprint_sha256()))
        .collect();
    keys.sort();
    keys
}

// ---------------------------------------------------------------------------
// ssh-keygen
// ---------------------------------------------------------------------------

fn ssh_keygen(test: &str) -> Option<PathBuf> {
    peer_or_skip(
        test,
        find_in_path("ssh-keygen")
            .ok_or_else(|| "OpenSSH's ssh-keygen is not installed (not in PATH)".to_string()),
    )
}

/// Runs ssh-keygen with `args`; returns its exit success and stdout.
fn run_keygen(keygen: &Path, args: &[&str], file: &Path) -> (bool, String, String) {
    let out = Command::new(keygen)
        .args(args)
        .arg("-f")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line numbers in ssh-keygen's `# Host NAME found: line N ...` output.
fn keygen_found_lines(stdout: &str, name: &str) -> Vec<usize> {
    let prefix = format!("# Host {name} found: line ");
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| rest.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

/// Writes the fixture and its `ssh-keygen -H` hashed copy.
fn plain_and_hashed(keygen: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let plain = dir.join("known_hosts.plain");
    let hashed = dir.join("known_hosts.hashed");
    fs::write(&plain, fixture()).unwrap();
    fs::write(&hashed, fixture()).unwrap();
    let (ok, stdout, stderr) = run_keygen(keygen, &["-H"], &hashed);
    assert!(ok, "ssh-keygen -H failed:\n{stdout}\n{stderr}");
    (plain, hashed)
}

#[test]
fn ssh_keygen_hash() {
    let Some(keygen) = ssh_keygen("ssh_keygen_hash") else {
        return;
    };
    let dir = TempDir::new("sekura-known-hosts").unwrap();
    let (plain_path, hashed_path) = plain_and_hashed(&keygen, dir.path());
    // ssh-keygen keeps the original beside it.
    let old = fs::read_to_string(hashed_path.with_extension("hashed.old")).unwrap();
    assert_eq!(old, fixture());

    let plain = KnownHosts::from_file(&plain_path).unwrap();
    let hashed = KnownHosts::from_file(&hashed_path).unwrap();
    let hashed_text = fs::read_to_string(&hashed_path).unwrap();
    assert_eq!(plain.malformed().count(), 0);
    assert_eq!(hashed.malformed().count(), 0, "{hashed_text}");

    // One hashed line per name of each hashable line; wildcard, negated and
    // marker lines unchanged.
    let hashed_entries: Vec<_> = hashed.entries().collect();
    assert_eq!(hashed_entries.iter().filter(|e| e.is_hashed()).count(), 9);
    let kept: Vec<&str> = hashed_entries
        .iter()
        .filter(|e| !e.is_hashed())
        .map(|e| e.hosts())
        .collect();
    assert_eq!(
        kept,
        [
            "*.wild.example.com,!bad.wild.example.com",
            "revoked.example.com",
            "*.example.com"
        ]
    );
    for line in ["# sekura known_hosts fixture", ""] {
        assert!(hashed_text.lines().any(|l| l == line), "{line:?} lost");
    }
    // Comments after keys survive hashing.
    assert!(
        hashed_entries
            .iter()
            .any(|e| e.is_hashed() && e.comment() == "delta's comment")
    );

    // Every host finds the same keys, with the same verdicts, in both.
    let keys = all_keys();
    for &(host, port) in QUERIES {
        assert_eq!(
            found_keys(&plain, host, port),
            found_keys(&hashed, host, port),
            "{host} port {port}"
        );
        for key in &keys {
            let a = plain.check(host, port, key.as_blob());
            let b = hashed.check(host, port, key.as_blob());
            assert_eq!(
                status_kind(&plain, &a),
                status_kind(&hashed, &b),
                "{host} port {port} key {}",
                key.fingerprint_sha256()
            );
        }
    }
    // The hashed names ssh-keygen wrote for [host]:port and for an
    // upper-case name are found.
    assert!(matches!(
        hashed.check("alpha.example.com", 2222, ed25519(2).as_blob()),
        HostKeyStatus::Match { .. }
    ));
    assert!(matches!(
        hashed.check("Gamma.example.com", 22, ecdsa(1).as_blob()),
        HostKeyStatus::Match { .. }
    ));
    assert!(matches!(
        hashed.check("192.0.2.10", 2200, ed25519(3).as_blob()),
        HostKeyStatus::Match { .. }
    ));
}

#[test]
fn ssh_keygen_find() {
    let Some(keygen) = ssh_keygen("ssh_keygen_find") else {
        return;
    };
    let dir = TempDir::new("sekura-known-hosts").unwrap();
    let (plain_path, hashed_path) = plain_and_hashed(&keygen, dir.path());
    let mut compared = 0;
    for path in [&plain_path, &hashed_path] {
        let known = KnownHosts::from_file(path).unwrap();
        for &(host, port) in QUERIES {
            let name = lookup_name(host, port);
            let (found, stdout, stderr) = run_keygen(&keygen, &["-F", &name], path);
            let theirs = keygen_found_lines(&stdout, &name);
            let ours: Vec<usize> = known.lookup(host, port).map(|e| e.line()).collect();
            assert_eq!(
                ours,
                theirs,
                "ssh-keygen -F {name} -f {}:\n{stdout}{stderr}",
                path.display()
            );
            assert_eq!(found, !ours.is_empty(), "ssh-keygen -F {name} exit status");
            compared += usize::from(!ours.is_empty());
        }
    }
    // Not a table of misses.
    assert!(compared >= 20, "only {compared} lookups found anything");
}

#[test]
fn ssh_keygen_remove() {
    let Some(keygen) = ssh_keygen("ssh_keygen_remove") else {
        return;
    };
    let dir = TempDir::new("sekura-known-hosts").unwrap();
    let (plain_path, hashed_path) = plain_and_hashed(&keygen, dir.path());
    for (theirs_path, label) in [(&plain_path, "plain"), (&hashed_path, "hashed")] {
        let ours_path = dir.path().join(format!("ours.{label}"));
        fs::copy(theirs_path, &ours_path).unwrap();
        let mut removed_any = 0;
        for &(host, port) in QUERIES {
            let name = lookup_name(host, port);
            let (_, stdout, stderr) = run_keygen(&keygen, &["-R", &name], theirs_path);
            let theirs = keygen_found_lines(&stdout, &name);

            let mut known = KnownHosts::from_file(&ours_path).unwrap();
            let ours = known.remove(host, port);
            assert_eq!(ours, theirs, "{label}: -R {name}\n{stdout}{stderr}");
            if !ours.is_empty() {
                known.save(&ours_path).unwrap();
                removed_any += 1;
            }
            assert_eq!(
                fs::read_to_string(&ours_path).unwrap(),
                fs::read_to_string(theirs_path).unwrap(),
                "{label}: files differ after -R {name}"
            );
        }
        assert!(removed_any >= 6, "{label}: only {removed_any} removals");
        // What is left: the comment, the blank line and the marker lines.
        let left = KnownHosts::from_file(&ours_path).unwrap();
        let markers: Vec<_> = left.entries().map(|e| e.marker()).collect();
        assert!(markers.iter().all(Option::is_some), "{markers:?}");
        assert_eq!(markers.len(), 2);
    }
}

#[test]
fn save_creates_keeps_permissions_and_follows_links() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let dir = TempDir::new("sekura-known-hosts").unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;

    // A missing file reads as empty; saving creates it and its directory,
    // private.
    let path = dir.path().join("home").join(".ssh").join("known_hosts");
    let mut known = KnownHosts::from_file(&path).unwrap();
    assert_eq!(known.entries().count(), 0);
    assert_eq!(known.path(), Some(path.as_path()));
    known
        .add("Example.com", 22, ed25519(1).as_blob(), false)
        .unwrap();
    known.save(&path).unwrap();
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("example.com {}\n", ed25519(1).to_openssh())
    );

    // The file keeps its permissions.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let mut known = KnownHosts::from_file(&path).unwrap();
    known
        .add("example.org", 2222, ed25519(2).as_blob(), true)
        .unwrap();
    known.save(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let reread = KnownHosts::from_file(&path).unwrap();
    assert_eq!(reread.entries().count(), 2);
    assert!(matches!(
        reread.check("example.org", 2222, ed25519(2).as_blob()),
        HostKeyStatus::Match { line: 2 }
    ));

    // A symbolic link stays one; its target gets the new contents.
    let target = dir.path().join("managed_known_hosts");
    fs::write(&target, "# managed elsewhere").unwrap();
    let link = dir.path().join("link_known_hosts");
    symlink(&target, &link).unwrap();
    let mut known = KnownHosts::from_file(&link).unwrap();
    known
        .add("example.net", 22, ecdsa(1).as_blob(), false)
        .unwrap();
    known.save(&link).unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        format!(
            "# managed elsewhere\nexample.net {}\n",
            ecdsa(1).to_openssh()
        )
    );

    // No temporary file is left behind.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .chain(fs::read_dir(path.parent().unwrap()).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "home",
            "known_hosts",
            "link_known_hosts",
            "managed_known_hosts"
        ]
    );

    // Unreadable: an error naming the file, not an empty file.
    let err = KnownHosts::from_file(dir.path()).unwrap_err();
    assert!(matches!(err, HostKeyError::Io { .. }), "{err}");
    assert!(err.to_string().contains(&dir.path().display().to_string()));
}

// ---------------------------------------------------------------------------
// ssh against a sekura server
// ---------------------------------------------------------------------------

/// A sekura server on 127.0.0.1 serving one connection at a time until
/// dropped. It goes as far as the transport does (key exchange, service
/// request), which is as far as these tests need.
struct SekuraServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SekuraServer {
    fn start(config: Config) -> SekuraServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let config = Arc::new(config);
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((socket, _)) => serve(socket, &config, &stop),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(_) => return,
                    }
                }
            })
        };
        SekuraServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SekuraServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Drives one server connection until it closes, the peer goes, or `stop`.
fn serve(mut socket: TcpStream, config: &Arc<Config>, stop: &AtomicBool) {
    let start = Instant::now();
    let _ = socket.set_nonblocking(false);
    let _ = socket.set_read_timeout(Some(Duration::from_millis(20)));
    let mut conn = Connection::server(Arc::clone(config), Box::new(os_rng()), Duration::ZERO);
    let (mut out, mut buf) = (Vec::new(), vec![0u8; 64 * 1024]);
    while !stop.load(Ordering::SeqCst) {
        while conn.poll_transmit(&mut out) {
            if socket.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        while conn.poll_event().is_some() {}
        if conn.is_closed() {
            return;
        }
        match socket.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if conn.handle_input(&buf[..n]).is_err() {
                    continue; // flush the DISCONNECT, then close
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
        let _ = conn.handle_timeout(start.elapsed());
    }
}

/// What ssh said, up to `SSH2_MSG_SERVICE_ACCEPT received` (past the host
/// key check) or its exit.
struct SshRun {
    lines: Vec<String>,
    passed_host_key_check: bool,
}

impl SshRun {
    fn has(&self, text: &str) -> bool {
        self.lines.iter().any(|l| l.contains(text))
    }

    fn text(&self) -> String {
        self.lines.join("\n")
    }
}

fn run_ssh(openssh: &OpenSsh, port: u16, known_hosts: &Path, options: &[&str]) -> SshRun {
    let mut cmd = Command::new(&openssh.ssh);
    cmd.args(["-v", "-F", "/dev/null", "-p", &port.to_string()])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", "GlobalKnownHostsFile=/dev/null"])
        .args(["-o", "HostKeyAlgorithms=ssh-ed25519"])
        .args(["-o", "CheckHostIP=no", "-o", "UpdateHostKeys=no"])
        .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]);
    for option in options {
        cmd.args(["-o", option]);
    }
    cmd.args(["user@127.0.0.1", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut ssh = KillOnDrop::new(cmd.spawn().unwrap(), "ssh");
    let stderr = ssh.child().stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut run = SshRun {
        lines: Vec::new(),
        passed_host_key_check: false,
    };
    while !run.passed_host_key_check {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                run.passed_host_key_check = line.contains("SSH2_MSG_SERVICE_ACCEPT received");
                run.lines.push(line);
            }
            // ssh exited, or the deadline passed.
            Err(_) => break,
        }
    }
    // The transport ends at SERVICE_ACCEPT (no user authentication yet):
    // ssh has nothing more to show us.
    ssh.kill();
    let _ = reader.join();
    run.lines.extend(rx.try_iter());
    run
}

#[test]
fn ssh_and_sekura_agree() {
    const TEST: &str = "ssh_and_sekura_agree";
    let Some(openssh) = peer_or_skip(TEST, OpenSsh::find(false)) else {
        return;
    };
    eprintln!("peer: {}", openssh.version);
    let dir = TempDir::new("sekura-known-hosts").unwrap();
    let host_key = PrivateKey::generate_ed25519(&mut os_rng());
    let server_blob = host_key.public_key().to_blob();
    let server = SekuraServer::start(Config::server(vec![
        Arc::new(host_key) as Arc<dyn SigningKey>
    ]));
    let port = server.port;
    let name = format!("[127.0.0.1]:{port}");

    // 1. ssh records the key (hashed, then plain); sekura finds it.
    for hash in ["yes", "no"] {
        let path = dir.path().join(format!("recorded-by-ssh-{hash}"));
        let run = run_ssh(
            &openssh,
            port,
            &path,
            &[
                "StrictHostKeyChecking=accept-new",
                &format!("HashKnownHosts={hash}"),
            ],
        );
        assert!(
            run.passed_host_key_check && run.has(&format!("Permanently added '{name}'")),
            "ssh did not record the key:\n{}",
            run.text()
        );
        let known = KnownHosts::from_file(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            known.check("127.0.0.1", port, &server_blob),
            HostKeyStatus::Match { line: 1 },
            "HashKnownHosts={hash}:\n{text}"
        );
        let entry = known.entries().next().unwrap();
        assert_eq!(entry.is_hashed(), hash == "yes", "{text}");
        assert_eq!(
            known.check("127.0.0.1", 22, &server_blob),
            HostKeyStatus::NotFound
        );
    }

    // 2. sekura records the key (hashed, then plain); ssh, strict, accepts it.
    for hash in [true, false] {
        let path = dir.path().join(format!("recorded-by-sekura-{hash}"));
        let mut known = KnownHosts::from_file(&path).unwrap();
        known.set_hash_new_entries(hash);
        let verdict = known
            .verify(
                StrictHostKeyChecking::AcceptNew,
                "127.0.0.1",
                port,
                &server_blob,
            )
            .unwrap();
        assert_eq!(verdict, Verdict::Added { line: 1 });
        known.save(&path).unwrap();
        let run = run_ssh(&openssh, port, &path, &["StrictHostKeyChecking=yes"]);
        assert!(
            run.passed_host_key_check
                && run.has(&format!(
                    "Host '{name}' is known and matches the ED25519 host key"
                )),
            "ssh refused the line sekura wrote (hash {hash}):\n{}\n{}",
            fs::read_to_string(&path).unwrap(),
            run.text()
        );
    }

    // 3. Unknown host, strict: both refuse, naming the host the same way.
    let empty = dir.path().join("empty");
    let run = run_ssh(&openssh, port, &empty, &["StrictHostKeyChecking=yes"]);
    assert!(!run.passed_host_key_check, "{}", run.text());
    let want =
        format!("No ED25519 host key is known for {name} and you have requested strict checking");
    assert!(run.has(&want), "{}", run.text());
    let err = KnownHosts::from_file(&empty)
        .unwrap()
        .verify(StrictHostKeyChecking::Yes, "127.0.0.1", port, &server_blob)
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "No ssh-ed25519 host key is known for {name} and you have requested strict checking"
        )),
        "{err}"
    );

    // 4. A changed key: both refuse, naming the same offending line.
    let changed = dir.path().join("changed");
    let other = ed25519(42);
    fs::write(
        &changed,
        format!(
            "# an older key\n127.0.0.2 {}\n{name} {}\n",
            ed25519(41).to_openssh(),
            other.to_openssh()
        ),
    )
    .unwrap();
    let run = run_ssh(
        &openssh,
        port,
        &changed,
        &["StrictHostKeyChecking=accept-new"],
    );
    assert!(!run.passed_host_key_check, "{}", run.text());
    assert!(
        run.has("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        run.text()
    );
    let offending = format!("Offending ED25519 key in {}:3", changed.display());
    assert!(run.has(&offending), "{}", run.text());
    let err = KnownHosts::from_file(&changed)
        .unwrap()
        .verify(
            StrictHostKeyChecking::AcceptNew,
            "127.0.0.1",
            port,
            &server_blob,
        )
        .unwrap_err();
    let HostKeyError::Changed { offending, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(offending.len(), 1);
    assert_eq!(offending[0].line, 3);
    assert_eq!(offending[0].fingerprint, other.fingerprint_sha256());
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "Offending ssh-ed25519 key in {}:3",
            changed.display()
        )),
        "{message}"
    );
    // The file is untouched by either.
    assert!(
        fs::read_to_string(&changed)
            .unwrap()
            .starts_with("# an older key\n")
    );
    drop(server);
}

// ---------------------------------------------------------------------------
// Choosing the host key algorithm (in memory)
// ---------------------------------------------------------------------------

/// Runs a client and a server in memory until the client's first key
/// exchange ends (or the connection does), passing the host key to
/// `check`, which accepts (`Ok`) or rejects it. Returns the negotiated
/// host key algorithm, if the exchange completed.
fn handshake(
    client: Config,
    server: &Arc<Config>,
    mut check: impl FnMut(&str, &[u8]) -> Result<(), String>,
) -> Option<String> {
    let mut c = Connection::client(Arc::new(client), Box::new(os_rng()), Duration::ZERO);
    let mut s = Connection::server(Arc::clone(server), Box::new(os_rng()), Duration::ZERO);
    let mut buf = Vec::new();
    for _ in 0..200 {
        let mut moved = false;
        while c.poll_transmit(&mut buf) {
            let _ = s.handle_input(&buf);
            buf.clear();
            moved = true;
        }
        while s.poll_transmit(&mut buf) {
            let _ = c.handle_input(&buf);
            buf.clear();
            moved = true;
        }
        while s.poll_event().is_some() {}
        while let Some(event) = c.poll_event() {
            match event {
                Event::HostKey(key) => match check(&key.algorithm, &key.key) {
                    Ok(()) => c.accept_host_key().unwrap(),
                    Err(why) => {
                        let _ = c.reject_host_key(&why);
                    }
                },
                Event::KeyExchangeDone { negotiated, .. } => {
                    return negotiated.host_key.map(|a| a.name().to_string());
                }
                _ => {}
            }
        }
        if c.is_closed() || !moved {
            return None;
        }
    }
    None
}

#[test]
fn known_key_types_choose_the_host_key() {
    let mut rng = os_rng();
    let ed = PrivateKey::generate_ed25519(&mut rng);
    let ec = PrivateKey::generate_ecdsa(EcdsaCurve::NistP256, &mut rng);
    let ec_public = ec.public_key();
    let server = Arc::new(Config::server(vec![
        Arc::new(ed) as Arc<dyn SigningKey>,
        Arc::new(ec) as Arc<dyn SigningKey>,
    ]));
    // The client knows the server only by its ECDSA key.
    let known_text = format!("server.example {}\n", ec_public.to_openssh());
    let known = KnownHosts::parse(&known_text);
    assert_eq!(
        known.known_key_types("server.example", 22),
        ["ecdsa-sha2-nistp256"]
    );

    let verify = |algorithm: &str, blob: &[u8], seen: &mut Vec<String>| {
        seen.push(algorithm.to_string());
        let mut known = KnownHosts::parse(&known_text);
        known
            .verify(StrictHostKeyChecking::AcceptNew, "server.example", 22, blob)
            .map(drop)
            .map_err(|e| e.to_string())
    };

    // Default order: the server proves itself with Ed25519, which the file
    // does not hold: a mismatch, as OpenSSH would say.
    let mut seen = Vec::new();
    let done = handshake(Config::default(), &server, |alg, blob| {
        verify(alg, blob, &mut seen)
    });
    assert_eq!(seen, ["ssh-ed25519"]);
    assert_eq!(done, None, "the exchange must not complete");
    let mut known_copy = KnownHosts::parse(&known_text);
    let err = known_copy
        .verify(
            StrictHostKeyChecking::AcceptNew,
            "server.example",
            22,
            &PrivateKey::from_ed25519_seed(&[1; 32])
                .public_key()
                .to_blob(),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("holds only keys of other types"),
        "{err}"
    );

    // Known types first: the server uses its ECDSA key, which matches.
    let mut client = Config::default();
    known
        .prefer_known_host_key_algorithms("server.example", 22, &mut client.preferences)
        .unwrap();
    let mut seen = Vec::new();
    let done = handshake(client, &server, |alg, blob| verify(alg, blob, &mut seen));
    assert_eq!(seen, ["ecdsa-sha2-nistp256"]);
    assert_eq!(done.as_deref(), Some("ecdsa-sha2-nistp256"));
}
