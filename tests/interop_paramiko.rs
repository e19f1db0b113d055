//! Interop with paramiko (Python), on 127.0.0.1: a script written at test
//! time into a temporary directory (`support/paramiko.rs`) runs as the
//! client or the server, with the Python of `SEKURA_PYTHON` (`.ci/run`
//! makes a venv in `target/py-venv`).
//!
//! - [`paramiko_client_to_sekura`]: paramiko's client against a sekura
//!   server offering every algorithm: password (a wrong one refused first),
//!   publickey with ed25519 and rsa, exec with exit status and stderr; then
//!   every kex, cipher, MAC and host key algorithm both know, one category
//!   at a time (paramiko offering only the one under test); then 64 MiB
//!   each way checked with SHA-256, the server rekeying every 16 MiB.
//! - [`sekura_client_to_paramiko`]: sekura's client against a paramiko
//!   server: the same authentications and commands, every shared algorithm
//!   (sekura offering only the one under test, legacy ones opted in by
//!   name), and 64 MiB each way with `Session::rekey` mid-transfer.
//!
//! A missing paramiko skips (printing why) unless `SEKURA_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[path = "support/paramiko.rs"]
mod paramiko;
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
const PASSWORD: &str = "correct horse battery staple";
/// The size of each big transfer.
const BIG: usize = 64 * 1024 * 1024;
/// How long one paramiko run may take.
const LIMIT: Duration = Duration::from_secs(120);

/// The host keys: ed25519, ecdsa on P-256, rsa.
const CURVES: &[EcdsaCurve] = &[EcdsaCurve::NistP256];

/// What paramiko's client prints: `True` once logged in, `bytes` reprs.
const EXPECT: ClientExpect = ClientExpect {
    authenticated: "True",
    bytes: "b",
};

// ---------------------------------------------------------------------------
// paramiko's client against a sekura server
// ---------------------------------------------------------------------------

#[test]
fn paramiko_client_to_sekura() {
    const TEST: &str = "paramiko_client_to_sekura";
    let dir = TempDir::new("sekura-paramiko").unwrap();
    let Some(peer) = peer_or_skip(TEST, paramiko::find(dir.path())) else {
        return;
    };
    let started = Instant::now();
    let keys = Keys::new(dir.path(), CURVES);
    let host_lines: Vec<String> = keys
        .host
        .iter()
        .map(|k| k.public_key().to_openssh())
        .collect();
    let server = python::start_sekura_server(&keys, USER, PASSWORD);
    let port = server.address().port();
    // The host key line paramiko must see: "type base64" (no comment).
    let host_line = |algorithm: &str| -> String {
        let family = if algorithm.starts_with("rsa-sha2") {
            "ssh-rsa"
        } else {
            algorithm
        };
        let line = host_lines
            .iter()
            .find(|l| l.starts_with(&format!("{family} ")))
            .unwrap_or_else(|| panic!("no host key for {algorithm}"));
        line.split(' ').take(2).collect::<Vec<_>>().join(" ")
    };
    let args = |auth: &Path, category: &str, name: &str, extra: &str| -> String {
        let hostkey = if category == "hostkey" {
            name
        } else {
            "ssh-ed25519"
        };
        let mut a = format!(
            "{{\"port\": {port}, \"host_key\": {}, \"auth\": {}, \"hostkey\": {}",
            json_string(&host_line(hostkey)),
            json_string(&auth.display().to_string()),
            json_string(hostkey)
        );
        if category != "hostkey" && !category.is_empty() {
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
        &args(password, "", "", ", \"wrong_password\": true"),
        LIMIT,
    );
    let f = python::check_client("password", &ran, &EXPECT);
    assert_eq!(f["wrong_password"], "refused", "{ran}");
    eprintln!(
        "paramiko {} -> sekura: defaults: {} {} {}",
        peer.version, f["kex"], f["cipher"], f["mac"]
    );
    for (what, file) in [("ed25519", &keys.user_ed25519.1), ("rsa", &keys.user_rsa.1)] {
        python::check_client(
            what,
            &peer.client("client", &args(file, "", "", ""), LIMIT),
            &EXPECT,
        );
    }

    // Every shared algorithm, one category at a time.
    let mut skipped = Vec::new();
    for category in ["kex", "cipher", "mac", "hostkey"] {
        let mut exercised = Vec::new();
        for name in peer.supports(category) {
            if !sekura_knows(category, &name)
                || (category == "hostkey"
                    && name.starts_with("ecdsa-sha2-nistp")
                    && !name.ends_with("256"))
            {
                skipped.push(format!("{category} {name}"));
                continue;
            }
            let what = format!("{category} {name}");
            let ran = peer.client("client", &args(password, category, &name, ""), LIMIT);
            let f = python::check_client(&what, &ran, &EXPECT);
            if category != "hostkey" && category != "kex" {
                let got = &f[category];
                let expect_aead_mac = category == "mac" || !name.contains("gcm");
                assert!(
                    got.contains(name.as_str()) || !expect_aead_mac,
                    "{what}: negotiated {got}"
                );
            }
            exercised.push(name);
        }
        eprintln!("paramiko -> sekura {category}: {}", exercised.join(" "));
        assert!(!exercised.is_empty(), "no {category} in common");
    }
    eprintln!("paramiko -> sekura: not in sekura: {skipped:?}");

    // 64 MiB each way, the server rekeying every 16 MiB.
    let ran = peer.client(
        "client",
        &args(password, "", "", &format!(", \"bytes\": {BIG}")),
        LIMIT,
    );
    python::check_transfer(&peer, BIG, &ran, &EXPECT, started);
}

// ---------------------------------------------------------------------------
// sekura's client against a paramiko server
// ---------------------------------------------------------------------------

#[test]
fn sekura_client_to_paramiko() {
    const TEST: &str = "sekura_client_to_paramiko";
    let dir = TempDir::new("sekura-paramiko").unwrap();
    let Some(peer) = peer_or_skip(TEST, paramiko::find(dir.path())) else {
        return;
    };
    let started = Instant::now();
    let keys = Keys::new(dir.path(), CURVES);
    let files: Vec<String> = keys
        .host_files
        .iter()
        // paramiko 5.1 cannot load the ecdsa key sekura writes ("Invalid key
        // curve identifier"): not diagnosed yet.
        .filter(|p| !p.ends_with("host_1"))
        .map(|p| json_string(&p.display().to_string()))
        .collect();
    let server_args = format!(
        "{{\"host_keys\": [{}], \"authorized\": [{}]}}",
        files.join(", "),
        keys.authorized_lines().join(", ")
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
        // No ecdsa host key on the paramiko server (see above).
        |category, name| {
            (category == "hostkey" && name.starts_with("ecdsa-sha2")).then_some("no ecdsa host key")
        },
        |name, e| {
            // paramiko's server offers group exchange only with a moduli
            // file.
            (name.starts_with("diffie-hellman-group-exchange")
                && !Path::new("/etc/ssh/moduli").exists())
            .then(|| format!("no /etc/ssh/moduli: {e}"))
        },
    );

    // 64 MiB each way with a rekey in the middle of each.
    let (session, watchdog) = server
        .connect(&keys.host_blobs(), Preferences::default(), LIMIT)
        .unwrap();
    session.authenticate_password(USER, PASSWORD).unwrap();
    let t = python::big_transfer(&session, BIG, &server);
    let kexes = session.key_exchanges() - t.before;
    assert!(kexes >= 2, "two rekeys requested, {kexes} completed");
    assert!(!watchdog.fired());
    eprintln!(
        "sekura -> paramiko: 64 MiB up in {:.2?}, down in {:.2?}, {kexes} rekeys; whole test {:?}",
        t.upload,
        t.download,
        started.elapsed()
    );
    session.close();
}
