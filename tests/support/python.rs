//! Helpers shared by the Python-peer interop tests
//! (`tests/interop_paramiko.rs`, `tests/interop_asyncssh.rs`), on top of
//! `support/mod.rs` and `support/session.rs`:
//!
//! - [`PythonPeer`]: a Python interpreter (`SEKURA_PYTHON`, else
//!   `target/py-venv/bin/python`) with the peer library, the peer script
//!   (`support/paramiko.rs`, `support/asyncssh.rs`) written into the test's
//!   temporary directory, asked what it supports, run as a client, or
//!   started as a server ([`PeerServer`], killed when dropped);
//! - the sekura side of those tests: [`Keys`] made by sekura and saved for
//!   the peer, [`restrict`], [`start_sekura_server`], [`run`], the client
//!   checks ([`check_client`], [`check_transfer`]) and the 64 MiB transfer
//!   with a rekey in the middle of each direction ([`big_transfer`]).

use crate::session::{Ran, SekuraServer, Watchdog, run, run_with_deadline};
use crate::support::{ExecHandler, KillOnDrop, Noise, hex, tail};
use sekura::algorithms::builtin::keys::{EcdsaCurve, PrivateKey};
use sekura::algorithms::hash::SHA256;
use sekura::algorithms::{HashFunction, SigningKey};
use sekura::blocking::{HostKeyCheck, Session};
use sekura::negotiation::Preferences;
use sekura::transport::Config;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The variable naming the Python interpreter that has the peer libraries.
pub const PYTHON_VAR: &str = "SEKURA_PYTHON";

/// A Python interpreter with a peer library, and its peer script written
/// out.
pub struct PythonPeer {
    /// The library's name (`paramiko`, `asyncssh`), for messages.
    pub name: &'static str,
    /// The interpreter.
    pub python: PathBuf,
    /// The peer script, in the test's temporary directory.
    pub script: PathBuf,
    /// The library's version.
    pub version: String,
    /// What the library supports, by category (`kex`, `cipher`, `mac`,
    /// `hostkey`).
    pub supported: HashMap<String, Vec<String>>,
}

impl PythonPeer {
    /// Finds Python with `name` (the pip package too) and writes `script`
    /// into `dir` as `NAME_peer.py`; asks it (`query`) what it supports.
    pub fn find(dir: &Path, name: &'static str, script: &str) -> Result<PythonPeer, String> {
        let python = std::env::var_os(PYTHON_VAR).map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py-venv/bin/python"),
            PathBuf::from,
        );
        if !python.is_file() {
            return Err(format!(
                "no Python with {name}: {} does not exist (set {PYTHON_VAR}, or: \
                 python3 -m venv target/py-venv && target/py-venv/bin/pip install {name})",
                python.display()
            ));
        }
        let path = dir.join(format!("{name}_peer.py"));
        std::fs::write(&path, script).map_err(|e| format!("writing the script: {e}"))?;
        let mut command = Command::new(&python);
        command.arg(&path).arg("query");
        let ran = run_with_deadline(command, b"", Duration::from_secs(30))?;
        if ran.code() != Some(0) {
            return Err(format!(
                "{name} is not usable with {} (pip install {name}): {ran}",
                python.display()
            ));
        }
        let mut supported = HashMap::new();
        let mut version = String::new();
        for line in ran.stdout_text().lines() {
            if let Some((key, value)) = line.split_once('=') {
                if key == "version" {
                    version = value.to_string();
                } else {
                    supported.insert(
                        key.to_string(),
                        value.split(',').map(String::from).collect(),
                    );
                }
            }
        }
        Ok(PythonPeer {
            name,
            python,
            script: path,
            version,
            supported,
        })
    }

    /// What the library supports in `category`.
    pub fn supports(&self, category: &str) -> Vec<String> {
        self.supported.get(category).cloned().unwrap_or_default()
    }

    /// Runs the script as a client (`mode`: `client`, or a script's other
    /// client mode) with `args` (a JSON object).
    pub fn client(&self, mode: &str, args: &str, timeout: Duration) -> Ran {
        let mut command = Command::new(&self.python);
        command.arg(&self.script).arg(mode).arg(args);
        run_with_deadline(command, b"", timeout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts the script as a server with `args` (a JSON object): the
    /// process and the port it listens on. Its stderr goes to `log`.
    pub fn server(&self, args: &str, log: &Path) -> Result<(KillOnDrop, u16), String> {
        let name = self.name;
        let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let child = Command::new(&self.python)
            .arg(&self.script)
            .arg("server")
            .arg(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("starting the {name} server: {e}"))?;
        let mut process = KillOnDrop::new(child, &format!("{name} server"));
        let stdout = process.child().stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let port = line
            .trim()
            .strip_prefix("port=")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("the {name} server printed {line:?}"))?;
        Ok((process, port))
    }

    /// Starts the script as a server with `args`, its log in
    /// `dir/NAME_server.log`; panics with the log's tail if it cannot.
    pub fn start_server(&self, dir: &Path, args: &str) -> PeerServer {
        let log = dir.join(format!("{}_server.log", self.name));
        let (process, port) = self
            .server(args, &log)
            .unwrap_or_else(|e| panic!("{e}\n{}", tail(&log, 20)));
        PeerServer {
            name: self.name,
            _process: process,
            port,
            log,
        }
    }
}

/// A Python peer's server process, killed when dropped.
pub struct PeerServer {
    name: &'static str,
    _process: KillOnDrop,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Its log (stderr).
    pub log: PathBuf,
}

impl PeerServer {
    /// Panics with `what` and the tail of the server's log.
    pub fn fail(&self, what: String) -> ! {
        panic!(
            "{what}\n--- {} server log ---\n{}",
            self.name,
            tail(&self.log, 40)
        )
    }

    /// A sekura client session to it, offering `prefs`, accepting only the
    /// host keys in `host_blobs`, watched for `limit`.
    pub fn connect(
        &self,
        host_blobs: &[Vec<u8>],
        prefs: Preferences,
        limit: Duration,
    ) -> std::io::Result<(Session, Watchdog)> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let watchdog = Watchdog::new(&stream, limit, &format!("session with {}", self.name))?;
        let mut config = Config::default();
        config.preferences = prefs;
        config.handshake_timeout = Some(Duration::from_secs(30));
        let blobs = host_blobs.to_vec();
        let check = HostKeyCheck::callback(move |key| {
            if blobs.contains(&key.key) {
                Ok(())
            } else {
                Err("unknown host key".into())
            }
        });
        Session::connect(stream, config, check).map(|s| (s, watchdog))
    }
}

/// `value` as a JSON string.
pub fn json_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `key=value` lines of the client's output.
pub fn fields(ran: &Ran) -> HashMap<String, String> {
    ran.stdout_text()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------
// The sekura side.
// ---------------------------------------------------------------------------

/// Writes `key` in OpenSSH's format to `dir/name`.
pub fn save(dir: &Path, name: &str, key: &PrivateKey) -> PathBuf {
    let path = dir.join(name);
    let text = key.to_openssh(None, &mut sekura::os_rng()).unwrap();
    std::fs::write(&path, text.as_bytes()).unwrap();
    path
}

/// Host and user keys, made by sekura and saved in OpenSSH's format.
pub struct Keys {
    /// ed25519, one ecdsa key per curve asked for, rsa (in that order).
    pub host: Vec<PrivateKey>,
    /// Their files, `host_0`, `host_1`, ...
    pub host_files: Vec<PathBuf>,
    /// A user key and its file.
    pub user_ed25519: (PrivateKey, PathBuf),
    /// Another, and its file.
    pub user_rsa: (PrivateKey, PathBuf),
}

impl Keys {
    /// Host keys ed25519, ecdsa on each of `curves`, rsa 2048; user keys
    /// ed25519 and rsa 2048; all saved in `dir`.
    pub fn new(dir: &Path, curves: &[EcdsaCurve]) -> Keys {
        let mut rng = sekura::os_rng();
        let mut host = vec![PrivateKey::generate_ed25519(&mut rng)];
        for &curve in curves {
            host.push(PrivateKey::generate_ecdsa(curve, &mut rng));
        }
        host.push(PrivateKey::generate_rsa(2048, &mut rng).unwrap());
        let host_files = host
            .iter()
            .enumerate()
            .map(|(i, k)| save(dir, &format!("host_{i}"), k))
            .collect();
        let ed = PrivateKey::generate_ed25519(&mut rng);
        let rsa = PrivateKey::generate_rsa(2048, &mut rng).unwrap();
        Keys {
            host,
            host_files,
            user_ed25519: (ed.clone(), save(dir, "user_ed25519", &ed)),
            user_rsa: (rsa.clone(), save(dir, "user_rsa", &rsa)),
        }
    }

    /// The public halves of `keys`, as "type base64" JSON strings.
    pub fn public_lines(keys: &[&PrivateKey]) -> Vec<String> {
        keys.iter()
            .map(|k| {
                let line = k.public_key().to_openssh();
                json_string(&line.split(' ').take(2).collect::<Vec<_>>().join(" "))
            })
            .collect()
    }

    /// The user keys' public halves, as "type base64" JSON strings.
    pub fn authorized_lines(&self) -> Vec<String> {
        Keys::public_lines(&[&self.user_ed25519.0, &self.user_rsa.0])
    }

    /// The host keys' public blobs.
    pub fn host_blobs(&self) -> Vec<Vec<u8>> {
        self.host.iter().map(|k| k.public_key().to_blob()).collect()
    }
}

/// Makes `prefs` offer only `name` in `category`; false if sekura does not
/// know it.
pub fn restrict(prefs: &mut Preferences, category: &str, name: &str) -> bool {
    match category {
        "kex" => prefs.set_kex(name).is_ok(),
        "cipher" => prefs.set_ciphers(name).is_ok(),
        "mac" => prefs.set_macs(name).is_ok(),
        "hostkey" => prefs.set_host_key_algorithms(name).is_ok(),
        _ => false,
    }
}

/// Whether sekura knows `name` in `category` (it may be enabled by name).
pub fn sekura_knows(category: &str, name: &str) -> bool {
    restrict(&mut Preferences::all(), category, name)
}

/// A sekura server offering every algorithm with all of `keys.host`,
/// rekeying every 16 MiB, its policy an [`ExecHandler`] for `user` with
/// `password` or either user key.
pub fn start_sekura_server(keys: &Keys, user: &str, password: &str) -> SekuraServer {
    let handler = ExecHandler {
        user: user.into(),
        password: password.into(),
        authorized: vec![
            keys.user_ed25519.0.public_key().to_blob(),
            keys.user_rsa.0.public_key().to_blob(),
        ],
    };
    let host_keys: Vec<Arc<dyn SigningKey>> = keys
        .host
        .iter()
        .map(|k| Arc::new(k.clone()) as Arc<dyn SigningKey>)
        .collect();
    let mut config = Config::server(host_keys);
    config.preferences = Preferences::all();
    config.rekey_bytes = 16 * 1024 * 1024;
    SekuraServer::start(config, Arc::new(handler)).unwrap()
}

/// What a peer's client prints for `echo hello`, `fail` and who logged in.
pub struct ClientExpect<'a> {
    /// The `authenticated=` value.
    pub authenticated: &'a str,
    /// The prefix of a Python bytes literal's repr (`b` or nothing).
    pub bytes: &'a str,
}

/// Checks the client's common output: authenticated, `echo hello` and
/// `fail` ran with their output and status; returns its fields.
pub fn check_client(what: &str, ran: &Ran, expect: &ClientExpect) -> HashMap<String, String> {
    let b = expect.bytes;
    assert_eq!(ran.code(), Some(0), "{what}: {ran}");
    let f = fields(ran);
    assert_eq!(
        f.get("authenticated").map(String::as_str),
        Some(expect.authenticated),
        "{what}: {ran}"
    );
    assert_eq!(
        f.get("echo").map(String::as_str),
        Some(format!("{b}'hello\\n',{b}'',0").as_str()),
        "{what}: {ran}"
    );
    assert_eq!(
        f.get("fail").map(String::as_str),
        Some(format!("{b}'',{b}'something went wrong\\n',3").as_str()),
        "{what}: {ran}"
    );
    assert_eq!(f.get("done").map(String::as_str), None, "{what}");
    assert!(ran.stdout_text().ends_with("done\n"), "{what}: {ran}");
    f
}

/// Checks a client's `big`-byte transfer each way (`bytes` in its
/// arguments): both hashes agree, both commands exited with 0, and the peer
/// saw at least 5 key exchanges (the server rekeys every 16 MiB of 64).
pub fn check_transfer(
    peer: &PythonPeer,
    big: usize,
    ran: &Ran,
    expect: &ClientExpect,
    started: Instant,
) {
    let f = check_client("transfer", ran, expect);
    let up: Vec<&str> = f["upload"].split(',').collect();
    assert_eq!((up[0], up[2]), (up[1], "0"), "upload: {ran}");
    let down: Vec<&str> = f["download"].split(',').collect();
    assert_eq!(
        (down[0], down[2], down[3]),
        (down[1], big.to_string().as_str(), "0"),
        "download: {ran}"
    );
    let kexes: u32 = f["kexes"].parse().unwrap();
    assert!(
        kexes >= 5,
        "expected rekeys every 16 MiB, {} saw {kexes} key exchanges",
        peer.name
    );
    eprintln!(
        "{} -> sekura: {} MiB up in {}s, down in {}s, {kexes} key exchanges; whole test {:?}",
        peer.name,
        big >> 20,
        up[3],
        down[4],
        started.elapsed()
    );
}

/// What [`big_transfer`] saw.
pub struct Transfer {
    /// `key_exchanges()` before it.
    pub before: u32,
    /// `key_exchanges()` after the upload.
    pub after_upload: u32,
    /// How long the upload took.
    pub upload: Duration,
    /// How long the download took.
    pub download: Duration,
}

/// `big` bytes each way (`sha256` up, `gen big` down), checked with
/// SHA-256, sekura asking for a rekey halfway through each direction; an
/// I/O error fails with `server`'s log.
pub fn big_transfer(session: &Session, big: usize, server: &PeerServer) -> Transfer {
    let before = session.key_exchanges();
    let mut channel = session.open_session().unwrap();
    channel.exec("sha256").unwrap();
    let mut hasher = SHA256.start();
    let mut buf = vec![0u8; 256 * 1024];
    let mut noise = Noise(0xa5_5e55);
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < big {
        let n = buf.len().min(big - sent);
        noise.fill(&mut buf[..n]);
        hasher.update(&buf[..n]);
        channel
            .send_all(&buf[..n])
            .unwrap_or_else(|e| server.fail(format!("upload at {sent}: {e}")));
        sent += n;
        if sent == big / 2 {
            session.rekey().unwrap();
        }
    }
    channel.shutdown(Shutdown::Write).unwrap();
    let mut answer = String::new();
    channel.read_to_string(&mut answer).unwrap();
    let upload = t0.elapsed();
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
    assert_eq!(answer, format!("{}\n", hex(&hasher.finish())), "upload");
    let after_upload = session.key_exchanges();
    drop(channel);

    let mut channel = session.open_session().unwrap();
    channel.exec(&format!("gen {big}")).unwrap();
    let mut stderr = channel.stderr();
    let mut hasher = SHA256.start();
    let t0 = Instant::now();
    let mut received = 0;
    let mut rekeyed = false;
    loop {
        let n = channel
            .read(&mut buf)
            .unwrap_or_else(|e| server.fail(format!("download at {received}: {e}")));
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        received += n;
        if !rekeyed && received >= big / 2 {
            session.rekey().unwrap();
            rekeyed = true;
        }
    }
    let download = t0.elapsed();
    let mut theirs = String::new();
    stderr.read_to_string(&mut theirs).unwrap();
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
    assert_eq!(received, big);
    assert_eq!(theirs, format!("{}\n", hex(&hasher.finish())), "download");
    Transfer {
        before,
        after_upload,
        upload,
        download,
    }
}

/// sekura's client against `server` (started from `peer`, with `keys`):
/// a wrong password refused, then `user`'s `password` and both user keys
/// accepted; `echo`, `fail` and an unknown command with their output and
/// status.
pub fn check_logins(
    peer: &PythonPeer,
    server: &PeerServer,
    keys: &Keys,
    (user, password): (&str, &str),
    limit: Duration,
) {
    let host_blobs = keys.host_blobs();
    let (session, _w) = server
        .connect(&host_blobs, Preferences::default(), limit)
        .unwrap_or_else(|e| server.fail(format!("connect: {e}")));
    let err = session.authenticate_password(user, "wrong").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    session
        .authenticate_password(user, password)
        .unwrap_or_else(|e| server.fail(format!("password: {e}")));
    assert_eq!(
        run(&session, "echo hello"),
        ("hello\n".into(), String::new(), Some(0))
    );
    assert_eq!(
        run(&session, "fail"),
        (String::new(), "something went wrong\n".into(), Some(3))
    );
    assert_eq!(
        run(&session, "nope"),
        (String::new(), "not found\n".into(), Some(127))
    );
    eprintln!(
        "sekura -> {} {}: defaults: {:?}",
        peer.name,
        peer.version,
        session.negotiated()
    );
    session.close();
    for key in [&keys.user_ed25519.0, &keys.user_rsa.0] {
        let (session, _w) = server
            .connect(&host_blobs, Preferences::default(), limit)
            .unwrap();
        session
            .authenticate_publickey(user, Arc::new(key.clone()))
            .unwrap_or_else(|e| server.fail(format!("publickey {}: {e}", key.key_type())));
        assert_eq!(
            run(&session, "echo key"),
            ("key\n".into(), String::new(), Some(0))
        );
        session.close();
    }
}

/// sekura's client against `server`, offering only one algorithm at a
/// time, for every kex, cipher, MAC and host key algorithm `peer` supports
/// (legacy ones enabled by name; for MACs, with a cipher that is not
/// AEAD): each is negotiated, `password` logs in, `echo hi` runs. Skipped:
/// what sekura does not know, what `unserved` names a reason for (no such
/// host key on the server), and a failed connection that `tolerated`
/// explains. Returns what was skipped.
pub fn check_each_algorithm(
    peer: &PythonPeer,
    server: &PeerServer,
    keys: &Keys,
    (user, password): (&str, &str),
    limit: Duration,
    unserved: impl Fn(&str, &str) -> Option<&'static str>,
    tolerated: impl Fn(&str, &std::io::Error) -> Option<String>,
) -> Vec<String> {
    let host_blobs = keys.host_blobs();
    let mut skipped = Vec::new();
    for category in ["kex", "cipher", "mac", "hostkey"] {
        let mut exercised = Vec::new();
        for name in peer.supports(category) {
            let mut prefs = Preferences::all();
            if category == "mac" {
                // An AEAD cipher would make the MAC moot.
                assert!(prefs.set_ciphers("aes128-ctr").is_ok());
            }
            if !restrict(&mut prefs, category, &name) {
                skipped.push(format!("{category} {name}"));
                continue;
            }
            if let Some(why) = unserved(category, &name) {
                skipped.push(format!("{category} {name} ({why})"));
                continue;
            }
            let what = format!("{category} {name}");
            let (session, _w) = match server.connect(&host_blobs, prefs, limit) {
                Ok(s) => s,
                Err(e) => match tolerated(&name, &e) {
                    Some(why) => {
                        skipped.push(format!("{what} ({why})"));
                        continue;
                    }
                    None => server.fail(format!("{what}: {e}")),
                },
            };
            let negotiated = session.negotiated().unwrap();
            assert!(
                negotiated.contains(&format!("\"{name}\"")),
                "{what}: {negotiated}"
            );
            session
                .authenticate_password(user, password)
                .unwrap_or_else(|e| server.fail(format!("{what}: {e}")));
            assert_eq!(
                run(&session, "echo hi"),
                ("hi\n".into(), String::new(), Some(0)),
                "{what}"
            );
            session.close();
            exercised.push(name);
        }
        eprintln!(
            "sekura -> {} {category}: {}",
            peer.name,
            exercised.join(" ")
        );
        assert!(!exercised.is_empty(), "no {category} in common");
    }
    eprintln!("sekura -> {}: skipped {skipped:?}", peer.name);
    skipped
}
