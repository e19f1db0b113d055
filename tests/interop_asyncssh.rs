//! Interop with AsyncSSH (Python), on 127.0.0.1: one row of issue 7's
//! interop matrix. A script written at test time into a temporary
//! directory (`support/asyncssh.rs`) runs as the client or the server, with
//! the Python of `SEKURA_PYTHON` (`.ci/run` installs AsyncSSH in the venv
//! `target/py-venv`, next to paramiko).
//!
//! - [`asyncssh_client_to_sekura`]: AsyncSSH's client against a sekura
//!   blocking server offering every algorithm: password (a wrong one
//!   refused first), publickey with ed25519 and rsa, exec with exit status
//!   and stderr; then every kex, cipher, MAC and host key algorithm both
//!   know (AsyncSSH asked at test time), one category at a time, AsyncSSH
//!   offering only the one under test and reporting what it negotiated;
//!   then 64 MiB each way checked with SHA-256, the server rekeying every
//!   16 MiB.
//! - [`sekura_client_to_asyncssh`]: sekura's client against an AsyncSSH
//!   server offering everything it has: the same authentications and
//!   commands, every shared algorithm (sekura offering only the one under
//!   test, legacy ones opted in by name, checked against
//!   `Session::negotiated`), and 64 MiB each way with `Session::rekey`
//!   mid-transfer while AsyncSSH also rekeys every 16 MiB.
//!
//! A missing AsyncSSH skips (printing why) unless `SEKURA_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[path = "support/asyncssh.rs"]
mod asyncssh;
#[allow(dead_code)]
#[path = "support/paramiko.rs"]
mod paramiko;
#[allow(dead_code)]
#[path = "support/session.rs"]
mod session;
mod support;

use asyncssh::AsyncSsh;
use paramiko::{fields, json_string};
use sekura::algorithms::builtin::keys::{EcdsaCurve, PrivateKey};
use sekura::algorithms::hash::SHA256;
use sekura::algorithms::{HashFunction, SigningKey};
use sekura::blocking::{HostKeyCheck, Session};
use sekura::negotiation::Preferences;
use sekura::transport::Config;
use session::{SekuraServer, Watchdog};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{ErrorKind, Read};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{ExecHandler, Noise, TempDir, hex, peer_or_skip};

const USER: &str = "alice";
/// The password the script's client sends and its server accepts.
const PASSWORD: &str = "asyncssh speaks to sekura";
/// The size of each big transfer.
const BIG: usize = 64 * 1024 * 1024;
/// How long one AsyncSSH run (or sekura session) may take.
const LIMIT: Duration = Duration::from_secs(60);

/// Host and user keys, made by sekura and saved in OpenSSH's format.
struct Keys {
    host: Vec<PrivateKey>,
    host_files: Vec<PathBuf>,
    user_ed25519: (PrivateKey, PathBuf),
    user_rsa: (PrivateKey, PathBuf),
}

fn save(dir: &Path, name: &str, key: &PrivateKey) -> PathBuf {
    let path = dir.join(name);
    let text = key.to_openssh(None, &mut sekura::os_rng()).unwrap();
    std::fs::write(&path, text.as_bytes()).unwrap();
    path
}

impl Keys {
    fn new(dir: &Path) -> Keys {
        let mut rng = sekura::os_rng();
        let host = vec![
            PrivateKey::generate_ed25519(&mut rng),
            PrivateKey::generate_ecdsa(EcdsaCurve::NistP256, &mut rng),
            PrivateKey::generate_ecdsa(EcdsaCurve::NistP384, &mut rng),
            PrivateKey::generate_ecdsa(EcdsaCurve::NistP521, &mut rng),
            PrivateKey::generate_rsa(2048, &mut rng).unwrap(),
        ];
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

    /// The public halves, as "type base64" JSON strings.
    fn public_lines(keys: &[&PrivateKey]) -> Vec<String> {
        keys.iter()
            .map(|k| {
                let line = k.public_key().to_openssh();
                json_string(&line.split(' ').take(2).collect::<Vec<_>>().join(" "))
            })
            .collect()
    }
}

/// Makes `prefs` offer only `name` in `category`; false if sekura does not
/// know it.
fn restrict(prefs: &mut Preferences, category: &str, name: &str) -> bool {
    match category {
        "kex" => prefs.set_kex(name).is_ok(),
        "cipher" => prefs.set_ciphers(name).is_ok(),
        "mac" => prefs.set_macs(name).is_ok(),
        "hostkey" => prefs.set_host_key_algorithms(name).is_ok(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// AsyncSSH's client against a sekura server
// ---------------------------------------------------------------------------

/// Checks the client's common output: authenticated, `echo hello` and
/// `fail` ran with their output and status; returns its fields.
fn check_client(what: &str, ran: &session::Ran) -> HashMap<String, String> {
    assert_eq!(ran.code(), Some(0), "{what}: {ran}");
    let f = fields(ran);
    assert_eq!(
        f.get("authenticated").map(String::as_str),
        Some(USER),
        "{what}: {ran}"
    );
    assert_eq!(
        f.get("echo").map(String::as_str),
        Some("'hello\\n','',0"),
        "{what}: {ran}"
    );
    assert_eq!(
        f.get("fail").map(String::as_str),
        Some("'','something went wrong\\n',3"),
        "{what}: {ran}"
    );
    assert!(ran.stdout_text().ends_with("done\n"), "{what}: {ran}");
    f
}

#[test]
fn asyncssh_client_to_sekura() {
    const TEST: &str = "asyncssh_client_to_sekura";
    let dir = TempDir::new("sekura-asyncssh").unwrap();
    let Some(peer) = peer_or_skip(TEST, AsyncSsh::find(dir.path())) else {
        return;
    };
    let started = Instant::now();
    let keys = Keys::new(dir.path());
    let handler = ExecHandler {
        user: USER.into(),
        password: PASSWORD.into(),
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
    let server = SekuraServer::start(config, Arc::new(handler)).unwrap();
    let port = server.address().port();
    let host_lines = Keys::public_lines(&keys.host.iter().collect::<Vec<_>>());
    let args = |auth: &Path, restricted: &[(&str, &str)], extra: &str| -> String {
        let mut a = format!(
            "{{\"port\": {port}, \"host_keys\": [{}], \"auth\": {}",
            host_lines.join(", "),
            json_string(&auth.display().to_string()),
        );
        for (category, name) in restricted {
            let _ = write!(a, ", {}: {}", json_string(category), json_string(name));
        }
        a.push_str(extra);
        a.push('}');
        a
    };

    // Authentication.
    let password = Path::new("password");
    let ran = peer.client(
        "client",
        &args(password, &[], ", \"wrong_password\": true"),
        LIMIT,
    );
    let f = check_client("password", &ran);
    assert_eq!(f["wrong_password"], "refused", "{ran}");
    eprintln!(
        "asyncssh {} -> sekura: defaults: {} {} {} {}",
        peer.version, f["kex"], f["cipher"], f["mac"], f["hostkey"]
    );
    for (what, file) in [("ed25519", &keys.user_ed25519.1), ("rsa", &keys.user_rsa.1)] {
        check_client(what, &peer.client("client", &args(file, &[], ""), LIMIT));
    }

    // Every shared algorithm, one category at a time (one Python process
    // per category), AsyncSSH offering only the one under test (and, for
    // MACs, a cipher that is not AEAD).
    let mut not_in_sekura = Vec::new();
    for category in ["kex", "cipher", "mac", "hostkey"] {
        let mut shared = Vec::new();
        for name in peer.supports(category) {
            if !restrict(&mut Preferences::all(), category, &name) {
                not_in_sekura.push(format!("{category} {name}"));
            } else if name == "ssh-dss" {
                // sekura makes no DSA keys to serve.
                not_in_sekura.push(format!("{category} {name} (no DSA host key)"));
            } else {
                shared.push(name);
            }
        }
        assert!(!shared.is_empty(), "no {category} in common");
        let list: Vec<String> = shared
            .iter()
            .map(|n| format!("[{}, {}]", json_string(category), json_string(n)))
            .collect();
        let ran = peer.client(
            "variants",
            &format!(
                "{{\"port\": {port}, \"host_keys\": [{}], \"mac_cipher\": \"aes128-ctr\", \"variants\": [{}]}}",
                host_lines.join(", "),
                list.join(", ")
            ),
            LIMIT,
        );
        assert_eq!(ran.code(), Some(0), "{category}: {ran}");
        let lines: Vec<&str> = ran
            .stdout
            .split(|&b| b == b'\n')
            .filter_map(|l| std::str::from_utf8(l).ok()?.strip_prefix("variant="))
            .collect();
        assert_eq!(lines.len(), shared.len(), "{category}: {ran}");
        for (line, name) in lines.iter().zip(&shared) {
            let v: Vec<&str> = line.split(' ').collect();
            let what = format!("{category} {name}");
            assert_eq!((v[0], v[1]), (category, name.as_str()), "{what}: {line}");
            // `echo NAME` ran, with status 0.
            assert_eq!((v[6], v[7]), (name.as_str(), "0"), "{what}: {line}");
            let both = format!("{name},{name}");
            match category {
                "kex" => assert_eq!(v[2], name, "{what}: {line}"),
                "cipher" => assert_eq!(v[3], both, "{what}: {line}"),
                "mac" => assert_eq!(v[4], both, "{what}: {line}"),
                _ => {
                    // AsyncSSH names the key's type (ssh-rsa for the
                    // rsa-sha2 signatures too).
                    let family = if name.starts_with("rsa-sha2") {
                        "ssh-rsa"
                    } else {
                        name.as_str()
                    };
                    assert_eq!(v[5], family, "{what}: {line}");
                }
            }
        }
        eprintln!("asyncssh -> sekura {category}: {}", shared.join(" "));
    }
    eprintln!("asyncssh -> sekura: not in sekura: {not_in_sekura:?}");

    // 64 MiB each way, the server rekeying every 16 MiB.
    let ran = peer.client(
        "client",
        &args(password, &[], &format!(", \"bytes\": {BIG}")),
        LIMIT,
    );
    let f = check_client("transfer", &ran);
    let up: Vec<&str> = f["upload"].split(',').collect();
    assert_eq!((up[0], up[2]), (up[1], "0"), "upload: {ran}");
    let down: Vec<&str> = f["download"].split(',').collect();
    assert_eq!(
        (down[0], down[2], down[3]),
        (down[1], BIG.to_string().as_str(), "0"),
        "download: {ran}"
    );
    let kexes: u32 = f["kexes"].parse().unwrap();
    assert!(
        kexes >= 5,
        "expected rekeys every 16 MiB, asyncssh saw {kexes} key exchanges"
    );
    eprintln!(
        "asyncssh -> sekura: 64 MiB up in {}s, down in {}s, {kexes} key exchanges; whole test {:?}",
        up[3],
        down[4],
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// sekura's client against an AsyncSSH server
// ---------------------------------------------------------------------------

/// Runs `command`: (stdout, stderr, status).
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
fn sekura_client_to_asyncssh() {
    const TEST: &str = "sekura_client_to_asyncssh";
    let dir = TempDir::new("sekura-asyncssh").unwrap();
    let Some(peer) = peer_or_skip(TEST, AsyncSsh::find(dir.path())) else {
        return;
    };
    let started = Instant::now();
    let keys = Keys::new(dir.path());
    let files: Vec<String> = keys
        .host_files
        .iter()
        .map(|p| json_string(&p.display().to_string()))
        .collect();
    let authorized = Keys::public_lines(&[&keys.user_ed25519.0, &keys.user_rsa.0]);
    let server_args = format!(
        "{{\"host_keys\": [{}], \"authorized\": [{}], \"rekey_bytes\": {}}}",
        files.join(", "),
        authorized.join(", "),
        16 * 1024 * 1024
    );
    let log = dir.path().join("asyncssh_server.log");
    let (_server, port) = peer
        .server(&server_args, &log)
        .unwrap_or_else(|e| panic!("{e}\n{}", support::tail(&log, 20)));
    let host_blobs: Vec<Vec<u8>> = keys.host.iter().map(|k| k.public_key().to_blob()).collect();
    let connect = |prefs: Preferences| -> std::io::Result<(Session, Watchdog)> {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let watchdog = Watchdog::new(&stream, LIMIT, "session with asyncssh").unwrap();
        let mut config = Config::default();
        config.preferences = prefs;
        config.handshake_timeout = Some(Duration::from_secs(30));
        let blobs = host_blobs.clone();
        let check = HostKeyCheck::callback(move |key| {
            if blobs.contains(&key.key) {
                Ok(())
            } else {
                Err("unknown host key".into())
            }
        });
        Session::connect(stream, config, check).map(|s| (s, watchdog))
    };
    let fail = |what: String| -> ! {
        panic!(
            "{what}\n--- asyncssh server log ---\n{}",
            support::tail(&log, 40)
        )
    };

    // Authentication and commands.
    let (session, _w) =
        connect(Preferences::default()).unwrap_or_else(|e| fail(format!("connect: {e}")));
    let err = session.authenticate_password(USER, "wrong").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    session
        .authenticate_password(USER, PASSWORD)
        .unwrap_or_else(|e| fail(format!("password: {e}")));
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
        "sekura -> asyncssh {}: defaults: {:?}",
        peer.version,
        session.negotiated()
    );
    session.close();
    for key in [&keys.user_ed25519.0, &keys.user_rsa.0] {
        let (session, _w) = connect(Preferences::default()).unwrap();
        session
            .authenticate_publickey(USER, Arc::new(key.clone()))
            .unwrap_or_else(|e| fail(format!("publickey {}: {e}", key.key_type())));
        assert_eq!(
            run(&session, "echo key"),
            ("key\n".into(), String::new(), Some(0))
        );
        session.close();
    }

    // Every shared algorithm, one category at a time.
    let mut not_in_sekura = Vec::new();
    for category in ["kex", "cipher", "mac", "hostkey"] {
        let mut exercised = Vec::new();
        for name in peer.supports(category) {
            let mut prefs = Preferences::all();
            if category == "mac" {
                // An AEAD cipher would make the MAC moot.
                assert!(prefs.set_ciphers("aes128-ctr").is_ok());
            }
            if !restrict(&mut prefs, category, &name) {
                not_in_sekura.push(format!("{category} {name}"));
                continue;
            }
            if name == "ssh-dss" {
                // sekura makes no DSA keys to give the server.
                not_in_sekura.push(format!("{category} {name} (no DSA host key)"));
                continue;
            }
            let what = format!("{category} {name}");
            let (session, _w) = connect(prefs).unwrap_or_else(|e| fail(format!("{what}: {e}")));
            let negotiated = session.negotiated().unwrap();
            assert!(
                negotiated.contains(&format!("\"{name}\"")),
                "{what}: {negotiated}"
            );
            session
                .authenticate_password(USER, PASSWORD)
                .unwrap_or_else(|e| fail(format!("{what}: {e}")));
            assert_eq!(
                run(&session, "echo hi"),
                ("hi\n".into(), String::new(), Some(0)),
                "{what}"
            );
            session.close();
            exercised.push(name);
        }
        eprintln!("sekura -> asyncssh {category}: {}", exercised.join(" "));
        assert!(!exercised.is_empty(), "no {category} in common");
    }
    eprintln!("sekura -> asyncssh: not in sekura: {not_in_sekura:?}");

    // 64 MiB each way, sekura asking for a rekey halfway through each,
    // AsyncSSH rekeying every 16 MiB.
    let (session, watchdog) = connect(Preferences::default()).unwrap();
    session.authenticate_password(USER, PASSWORD).unwrap();
    let before = session.key_exchanges();
    let mut channel = session.open_session().unwrap();
    channel.exec("sha256").unwrap();
    let mut hasher = SHA256.start();
    let mut buf = vec![0u8; 256 * 1024];
    let mut noise = Noise(0xa5_5e55);
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < BIG {
        let n = buf.len().min(BIG - sent);
        noise.fill(&mut buf[..n]);
        hasher.update(&buf[..n]);
        channel
            .send_all(&buf[..n])
            .unwrap_or_else(|e| fail(format!("upload at {sent}: {e}")));
        sent += n;
        if sent == BIG / 2 {
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
    channel.exec(&format!("gen {BIG}")).unwrap();
    let mut stderr = channel.stderr();
    let mut hasher = SHA256.start();
    let t0 = Instant::now();
    let mut received = 0;
    let mut rekeyed = false;
    loop {
        let n = channel
            .read(&mut buf)
            .unwrap_or_else(|e| fail(format!("download at {received}: {e}")));
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        received += n;
        if !rekeyed && received >= BIG / 2 {
            session.rekey().unwrap();
            rekeyed = true;
        }
    }
    let download = t0.elapsed();
    let mut theirs = String::new();
    stderr.read_to_string(&mut theirs).unwrap();
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
    assert_eq!(received, BIG);
    assert_eq!(theirs, format!("{}\n", hex(&hasher.finish())), "download");
    let kexes = session.key_exchanges() - before;
    // AsyncSSH counts only the bytes it sends against its rekey_bytes: it
    // rekeys in the download only.
    assert!(
        after_upload - before >= 1 && kexes >= 4,
        "rekeys: {} in the upload, {kexes} in all",
        after_upload - before
    );
    assert!(!watchdog.fired());
    eprintln!(
        "sekura -> asyncssh: 64 MiB up in {upload:.2?}, down in {download:.2?}, {kexes} rekeys; whole test {:?}",
        started.elapsed()
    );
    session.close();
}
