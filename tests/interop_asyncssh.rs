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
#[path = "support/python.rs"]
mod python;
#[allow(dead_code)]
#[path = "support/session.rs"]
mod session;
mod support;

use python::{ClientExpect, Keys, json_string, sekura_knows};
use sekura::algorithms::builtin::keys::EcdsaCurve;
use sekura::negotiation::Preferences;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{TempDir, peer_or_skip};

const USER: &str = "alice";
/// The password the script's client sends and its server accepts.
const PASSWORD: &str = "asyncssh speaks to sekura";
/// The size of each big transfer.
const BIG: usize = 64 * 1024 * 1024;
/// How long one AsyncSSH run (or sekura session) may take.
const LIMIT: Duration = Duration::from_secs(60);

/// The host keys: ed25519, ecdsa on every curve, rsa.
const CURVES: &[EcdsaCurve] = &[
    EcdsaCurve::NistP256,
    EcdsaCurve::NistP384,
    EcdsaCurve::NistP521,
];

/// What AsyncSSH's client prints: who logged in, `str` reprs.
const EXPECT: ClientExpect = ClientExpect {
    authenticated: USER,
    bytes: "",
};

// ---------------------------------------------------------------------------
// AsyncSSH's client against a sekura server
// ---------------------------------------------------------------------------

#[test]
fn asyncssh_client_to_sekura() {
    const TEST: &str = "asyncssh_client_to_sekura";
    let dir = TempDir::new("sekura-asyncssh").unwrap();
    let Some(peer) = peer_or_skip(TEST, asyncssh::find(dir.path())) else {
        return;
    };
    let started = Instant::now();
    let keys = Keys::new(dir.path(), CURVES);
    let server = python::start_sekura_server(&keys, USER, PASSWORD);
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
    let f = python::check_client("password", &ran, &EXPECT);
    assert_eq!(f["wrong_password"], "refused", "{ran}");
    eprintln!(
        "asyncssh {} -> sekura: defaults: {} {} {} {}",
        peer.version, f["kex"], f["cipher"], f["mac"], f["hostkey"]
    );
    for (what, file) in [("ed25519", &keys.user_ed25519.1), ("rsa", &keys.user_rsa.1)] {
        python::check_client(
            what,
            &peer.client("client", &args(file, &[], ""), LIMIT),
            &EXPECT,
        );
    }

    // Every shared algorithm, one category at a time (one Python process
    // per category), AsyncSSH offering only the one under test (and, for
    // MACs, a cipher that is not AEAD).
    let mut not_in_sekura = Vec::new();
    for category in ["kex", "cipher", "mac", "hostkey"] {
        let mut shared = Vec::new();
        for name in peer.supports(category) {
            if !sekura_knows(category, &name) {
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
    python::check_transfer(&peer, BIG, &ran, &EXPECT, started);
}

// ---------------------------------------------------------------------------
// sekura's client against an AsyncSSH server
// ---------------------------------------------------------------------------

#[test]
fn sekura_client_to_asyncssh() {
    const TEST: &str = "sekura_client_to_asyncssh";
    let dir = TempDir::new("sekura-asyncssh").unwrap();
    let Some(peer) = peer_or_skip(TEST, asyncssh::find(dir.path())) else {
        return;
    };
    let started = Instant::now();
    let keys = Keys::new(dir.path(), CURVES);
    let files: Vec<String> = keys
        .host_files
        .iter()
        .map(|p| json_string(&p.display().to_string()))
        .collect();
    let server_args = format!(
        "{{\"host_keys\": [{}], \"authorized\": [{}], \"rekey_bytes\": {}}}",
        files.join(", "),
        keys.authorized_lines().join(", "),
        16 * 1024 * 1024
    );
    let server = peer.start_server(dir.path(), &server_args);
    let login = (USER, PASSWORD);

    // Authentication and commands.
    python::check_logins(&peer, &server, &keys, login, LIMIT);

    // Every shared algorithm, one category at a time.
    python::check_each_algorithm(
        &peer,
        &server,
        &keys,
        login,
        LIMIT,
        // sekura makes no DSA keys to give the server.
        |_, name| (name == "ssh-dss").then_some("no DSA host key"),
        |_, _| None,
    );

    // 64 MiB each way, sekura asking for a rekey halfway through each,
    // AsyncSSH rekeying every 16 MiB.
    let (session, watchdog) = server
        .connect(&keys.host_blobs(), Preferences::default(), LIMIT)
        .unwrap();
    session.authenticate_password(USER, PASSWORD).unwrap();
    let t = python::big_transfer(&session, BIG, &server);
    let kexes = session.key_exchanges() - t.before;
    // AsyncSSH counts only the bytes it sends against its rekey_bytes: it
    // rekeys in the download only.
    assert!(
        t.after_upload - t.before >= 1 && kexes >= 4,
        "rekeys: {} in the upload, {kexes} in all",
        t.after_upload - t.before
    );
    assert!(!watchdog.fired());
    eprintln!(
        "sekura -> asyncssh: 64 MiB up in {:.2?}, down in {:.2?}, {kexes} rekeys; whole test {:?}",
        t.upload,
        t.download,
        started.elapsed()
    );
    session.close();
}
