//! Interop with PuTTY's `plink` (Debian package `putty-tools`) against a
//! sekura blocking server on 127.0.0.1: one row of issue 7's interop
//! matrix. PuTTY has no server, so the row is one way only.
//!
//! - [`plink_password_and_exec`]: `-pw`, `echo`, a command writing to
//!   stderr and exiting with 3 (plink exits with the remote status), an
//!   unknown command (127); a wrong password is refused.
//! - [`plink_publickey`]: ed25519 and ecdsa keys made by sekura, an rsa
//!   key made by ssh-keygen, each converted to PuTTY's `.ppk` by
//!   `puttygen`; a key the server does not know is refused.
//! - [`plink_algorithms`]: every key exchange, cipher, MAC and host key
//!   algorithm the two share, one category at a time, the sekura server
//!   offering only the one under test (so a session that works used it),
//!   legacy ones (3des-cbc, blowfish-cbc, CBC, hmac-md5, DH group1 and
//!   group-exchange-sha1) included.
//! - [`plink_64_mib_each_way_with_rekey`]: 64 MiB up (the server answers
//!   with its SHA-256) and 64 MiB down (the server's SHA-256 on stderr),
//!   the server re-keying every 16 MiB; plink's log counts the rekeys.
//!
//! plink always runs with `-batch` (it never prompts: anything it would ask
//! about makes it fail) and `-hostkey SHA256:...` pinning the server's key,
//! from a private `$HOME` whose PuTTY "Default Settings" move the weak
//! algorithm warning threshold last (`support/putty.rs`): PuTTY 0.78
//! otherwise refuses DH group1, 3des-ctr... in batch mode ("Cannot confirm
//! a weak crypto primitive in batch mode"), which is PuTTY policy, not an
//! incompatibility.
//!
//! A missing plink skips (printing why) unless `SEKURA_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[path = "support/putty.rs"]
mod putty;
#[allow(dead_code)]
#[path = "support/session.rs"]
mod session;
mod support;

use putty::Putty;
use sekura::algorithms::HashFunction;
use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::{EcdsaCurve, PrivateKey, PublicKey};
use sekura::algorithms::builtin::{ALL_CIPHERS, ALL_HOST_KEY, ALL_KEX, ALL_MACS};
use sekura::algorithms::hash::SHA256;
use sekura::negotiation::Preferences;
use sekura::transport::Config;
use session::{Ran, SekuraServer};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{ExecHandler, Noise, TempDir, hex, peer_or_skip};

const USER: &str = "alice";
const PASSWORD: &str = "plink speaks to sekura";
/// How long one plink run may take.
const LIMIT: Duration = Duration::from_secs(60);
/// The size of each transfer.
const BIG: usize = 64 * 1024 * 1024;

/// The key exchanges PuTTY 0.78 speaks (it has no option to list them;
/// `strings` of the binary and its source show them).
const PUTTY_KEX: &[&str] = &[
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "curve448-sha512",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group17-sha512",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group15-sha512",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group1-sha1",
    "rsa2048-sha256",
    "rsa1024-sha1",
];

/// Its ciphers.
const PUTTY_CIPHERS: &[&str] = &[
    "aes256-ctr",
    "aes256-cbc",
    "rijndael-cbc@lysator.liu.se",
    "aes192-ctr",
    "aes192-cbc",
    "aes128-ctr",
    "aes128-cbc",
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "3des-ctr",
    "3des-cbc",
    "blowfish-ctr",
    "blowfish-cbc",
    "arcfour256",
    "arcfour128",
    "des-cbc@ssh.com",
];

/// Its MACs (0.78 has no hmac-sha2-512).
const PUTTY_MACS: &[&str] = &[
    "hmac-sha2-256",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha1",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha1-96",
    "hmac-sha1-96-etm@openssh.com",
    "hmac-md5",
    "hmac-md5-etm@openssh.com",
];

/// Its host key algorithms.
const PUTTY_HOST_KEYS: &[&str] = &[
    "ssh-ed25519",
    "ssh-ed448",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
    "ssh-dss",
];

/// The names in `theirs` sekura implements (`ours`), and the others.
fn split(ours: &[String], theirs: &[&str]) -> (Vec<String>, Vec<String>) {
    let (shared, only): (Vec<String>, Vec<String>) = theirs
        .iter()
        .map(|s| (*s).to_string())
        .partition(|name| ours.contains(name));
    (shared, only)
}

fn names<T: ?Sized + sekura::algorithms::Algorithm>(list: &[&T]) -> Vec<String> {
    list.iter().map(|a| a.name().to_string()).collect()
}

/// A sekura server, a `$HOME` for plink, and the user keys as `.ppk`.
struct Fixture {
    putty: Putty,
    server: SekuraServer,
    fingerprint: String,
    dir: TempDir,
}

impl Fixture {
    /// A server offering every algorithm (legacy ones too), with `edit`
    /// applied to its configuration; its host keys, if `edit` sets none,
    /// one ed25519 key. The user's keys are `user_keys` (name, key).
    fn start(
        test: &str,
        edit: impl FnOnce(&mut Config),
        user_keys: &[(&str, &PrivateKey)],
    ) -> Option<Fixture> {
        let putty = peer_or_skip(test, Putty::find())?;
        let dir = TempDir::new("sekura-putty").unwrap();
        Putty::make_home(&dir.path().join("home")).unwrap();
        let mut authorized = Vec::new();
        for (name, key) in user_keys {
            let openssh = dir.path().join(format!("id_{name}"));
            let text = key.to_openssh(None, &mut sekura::os_rng()).unwrap();
            std::fs::write(&openssh, text.as_bytes()).unwrap();
            putty
                .to_ppk(&openssh, &dir.path().join(format!("id_{name}.ppk")))
                .unwrap();
            authorized.push(key.public_key().to_blob());
        }
        let mut config = Config::server(Vec::new());
        config.preferences = Preferences::all();
        edit(&mut config);
        if config.host_keys.is_empty() {
            config.host_keys = vec![Arc::new(
                PrivateKey::generate_ed25519(&mut sekura::os_rng()),
            )];
        }
        let fingerprint = PublicKey::from_blob(&config.host_keys[0].public_key_blob())
            .unwrap()
            .fingerprint_sha256();
        let handler = ExecHandler {
            user: USER.into(),
            password: PASSWORD.into(),
            authorized,
        };
        let server = SekuraServer::start(config, Arc::new(handler)).unwrap();
        Some(Fixture {
            putty,
            server,
            fingerprint,
            dir,
        })
    }

    fn plink(&self, options: &[&str]) -> Command {
        self.putty.plink(
            &self.dir.path().join("home"),
            self.server.address().port(),
            USER,
            &self.fingerprint,
            options,
        )
    }

    fn with_password(&self, password: &str) -> Command {
        self.plink(&["-pw", password])
    }

    fn with_key(&self, name: &str) -> Command {
        let ppk: PathBuf = self.dir.path().join(format!("id_{name}.ppk"));
        self.plink(&["-i", ppk.to_str().unwrap()])
    }

    fn run(&self, cmd: Command, command: &str, stdin: &[u8]) -> Ran {
        putty::run(cmd, command, stdin, LIMIT)
    }
}

fn assert_ran(ran: &Ran, code: i32, stdout: &str) {
    assert_eq!(
        (ran.code(), ran.stdout_text().as_str()),
        (Some(code), stdout),
        "{ran}"
    );
}

/// plink gave up without running anything.
fn assert_refused(ran: &Ran) {
    assert!(ran.stdout.is_empty(), "{ran}");
    assert_ne!(ran.code(), Some(0), "{ran}");
    assert!(
        ran.stderr
            .contains("No supported authentication methods left")
            || ran.stderr.contains("Access denied")
            || ran.stderr.contains("Server refused")
            || ran.stderr.contains("Cannot answer interactive prompts"),
        "{ran}"
    );
    assert!(!ran.stderr.contains("Started a shell/command"), "{ran}");
}

/// The lines of plink's `-v` log that say what it negotiated.
fn negotiated(ran: &Ran) -> String {
    ran.stderr
        .lines()
        .filter(|l| {
            l.starts_with("Initialised")
                || l.starts_with("Host key type")
                || l.contains("key exchange")
                || l.starts_with("Doing ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn plink_password_and_exec() {
    let Some(fx) = Fixture::start("plink_password_and_exec", |_| {}, &[]) else {
        return;
    };
    let ran = fx.run(fx.with_password(PASSWORD), "echo hello", b"");
    assert_ran(&ran, 0, "hello\n");
    assert!(ran.stderr.contains("Access granted"), "{ran}");
    eprintln!(
        "{} -> sekura: defaults: {}",
        fx.putty.version,
        negotiated(&ran)
    );
    let ran = fx.run(fx.with_password(PASSWORD), "fail", b"");
    assert_ran(&ran, 3, "");
    assert!(ran.stderr.contains("something went wrong\n"), "{ran}");
    let ran = fx.run(fx.with_password(PASSWORD), "nope", b"");
    assert_ran(&ran, 127, "");
    let ran = fx.run(fx.with_password("wrong"), "echo hello", b"");
    assert_refused(&ran);
    // A host key other than the pinned one is refused before login.
    let mut cmd = fx.putty.plink(
        &fx.dir.path().join("home"),
        fx.server.address().port(),
        USER,
        "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &["-pw", PASSWORD],
    );
    cmd.arg("echo hello");
    let ran = session::run_with_deadline(cmd, b"", LIMIT).unwrap();
    assert!(ran.stdout.is_empty() && ran.code() != Some(0), "{ran}");
    assert!(!ran.stderr.contains("Access granted"), "{ran}");
}

#[test]
fn plink_publickey() {
    const TEST: &str = "plink_publickey";
    let mut rng = sekura::os_rng();
    let ed25519 = PrivateKey::generate_ed25519(&mut rng);
    let ecdsa = PrivateKey::generate_ecdsa(EcdsaCurve::NistP256, &mut rng);
    let stranger = PrivateKey::generate_ed25519(&mut rng);
    // An rsa key from ssh-keygen (when it is there), read back by sekura.
    let keygen_dir = TempDir::new("sekura-putty-keygen").unwrap();
    let rsa = support::OpenSsh::find(false).ok().map(|openssh| {
        let path = keygen_dir.path().join("id_rsa");
        openssh.keygen(&path, "rsa", Some(2048)).unwrap();
        PrivateKey::from_openssh(&std::fs::read_to_string(&path).unwrap(), None).unwrap()
    });
    let mut keys = vec![("ed25519", &ed25519), ("ecdsa", &ecdsa)];
    if let Some(rsa) = &rsa {
        keys.push(("rsa", rsa));
    } else {
        eprintln!("{TEST}: no ssh-keygen: rsa key not tested");
    }
    let Some(fx) = Fixture::start(TEST, |_| {}, &keys) else {
        return;
    };
    for (name, _) in &keys {
        let ran = fx.run(fx.with_key(name), &format!("echo {name} ok"), b"");
        assert_ran(&ran, 0, &format!("{name} ok\n"));
        assert!(ran.stderr.contains("Access granted"), "{ran}");
    }
    // A key the server does not know (converted the same way).
    let openssh = fx.dir.path().join("id_stranger");
    let text = stranger.to_openssh(None, &mut rng).unwrap();
    std::fs::write(&openssh, text.as_bytes()).unwrap();
    fx.putty
        .to_ppk(&openssh, &fx.dir.path().join("id_stranger.ppk"))
        .unwrap();
    let ran = fx.run(fx.with_key("stranger"), "echo no", b"");
    assert_refused(&ran);
}

/// Every algorithm both speak, one category at a time, the sekura server
/// offering only the one under test.
#[test]
fn plink_algorithms() {
    const TEST: &str = "plink_algorithms";
    let started = Instant::now();
    let mut exercised = 0;
    let mut not_in_sekura = Vec::new();
    let mut rng = sekura::os_rng();
    let categories: [(&str, Vec<String>, &[&str]); 4] = [
        ("kex", names(ALL_KEX), PUTTY_KEX),
        ("cipher", names(ALL_CIPHERS), PUTTY_CIPHERS),
        ("mac", names(ALL_MACS), PUTTY_MACS),
        ("hostkey", names(ALL_HOST_KEY), PUTTY_HOST_KEYS),
    ];
    for (category, ours, theirs) in categories {
        let (shared, only) = split(&ours, theirs);
        not_in_sekura.extend(only.iter().map(|n| format!("{category} {n}")));
        let mut done = Vec::new();
        for name in &shared {
            let host_key = match name.as_str() {
                "ecdsa-sha2-nistp256" => PrivateKey::generate_ecdsa(EcdsaCurve::NistP256, &mut rng),
                "ecdsa-sha2-nistp384" => PrivateKey::generate_ecdsa(EcdsaCurve::NistP384, &mut rng),
                "ecdsa-sha2-nistp521" => PrivateKey::generate_ecdsa(EcdsaCurve::NistP521, &mut rng),
                "rsa-sha2-512" | "rsa-sha2-256" | "ssh-rsa" => {
                    PrivateKey::generate_rsa(2048, &mut rng).unwrap()
                }
                "ssh-dss" => {
                    // sekura makes no DSA keys.
                    not_in_sekura.push(format!("{category} {name} (no DSA key to serve)"));
                    continue;
                }
                _ => PrivateKey::generate_ed25519(&mut rng),
            };
            let edit = |config: &mut Config| {
                config.host_keys = vec![Arc::new(host_key) as Arc<dyn SigningKey>];
                let p = &mut config.preferences;
                let ok = match category {
                    "kex" => p.set_kex(name),
                    "cipher" => p.set_ciphers(name),
                    "mac" => p.set_ciphers("aes128-ctr").and_then(|()| p.set_macs(name)),
                    _ => p.set_host_key_algorithms(name),
                };
                ok.unwrap();
            };
            let Some(fx) = Fixture::start(TEST, edit, &[]) else {
                return;
            };
            let ran = fx.run(fx.with_password(PASSWORD), "echo ok", b"");
            assert_eq!(
                (ran.code(), ran.stdout_text().as_str()),
                (Some(0), "ok\n"),
                "plink -> sekura: {category} {name}: {ran}"
            );
            eprintln!("plink -> sekura: {category} {name}: {}", negotiated(&ran));
            done.push(name.clone());
            exercised += 1;
        }
        assert!(!done.is_empty(), "no {category} in common");
        eprintln!("plink -> sekura {category}: {}", done.join(" "));
    }
    eprintln!("plink -> sekura: PuTTY only: {not_in_sekura:?}");
    eprintln!(
        "plink -> sekura: {exercised} algorithms in {:.2?}",
        started.elapsed()
    );
}

/// 64 MiB up and 64 MiB down, SHA-256 checked on both ends, the server
/// re-keying every 16 MiB (in the upload: see the ignored test below for
/// the download).
#[test]
fn plink_64_mib_each_way_with_rekey() {
    let edit = |config: &mut Config| {
        config.rekey_bytes = 16 * 1024 * 1024;
        config.preferences = Preferences::default();
    };
    let Some(fx) = Fixture::start("plink_64_mib_each_way_with_rekey", edit, &[]) else {
        return;
    };
    let rekeys = |ran: &Ran| {
        ran.stderr
            .matches("Remote side initiated key re-exchange")
            .count()
    };
    let data = Noise::bytes(0x0091_714b, BIG);
    let ran = fx.run(fx.with_password(PASSWORD), "sha256", &data);
    assert_ran(&ran, 0, &format!("{}\n", hex(&SHA256.digest(&[&data]))));
    let up = (ran.elapsed, rekeys(&ran));
    assert!(up.1 >= 3, "{} rekeys in 64 MiB up: {}", up.1, ran.stderr);

    let ran = fx.run(fx.with_password(PASSWORD), &format!("gen {BIG}"), b"");
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr);
    assert_eq!(ran.stdout.len(), BIG);
    let expected = Noise::bytes(BIG as u64 | 1, BIG);
    assert!(ran.stdout == expected, "download: other bytes");
    let hash = hex(&SHA256.digest(&[&ran.stdout]));
    assert!(ran.stderr.contains(&hash), "{}", ran.stderr);
    // plink, with its 2 GiB window, sends nothing while it downloads: the
    // rekeys are the sending server's own.
    let down = (ran.elapsed, rekeys(&ran));
    assert!(
        down.1 >= 3,
        "{} rekeys in 64 MiB down: {}",
        down.1,
        ran.stderr
    );
    eprintln!(
        "plink -> sekura: 64 MiB up in {:.2?} ({} rekeys), down in {:.2?} ({} rekeys)",
        up.0, up.1, down.0, down.1
    );
}

/// A sekura server that only sends still rekeys at its limit (it once
/// checked its limits only when a packet came in: plink opens its session
/// channel with a 2 GiB window and sends nothing back while it downloads).
#[test]
fn sekura_server_rekeys_while_only_sending() {
    let edit = |config: &mut Config| config.rekey_bytes = 4 * 1024 * 1024;
    let Some(fx) = Fixture::start("sekura_server_rekeys_while_only_sending", edit, &[]) else {
        return;
    };
    let size = 24 * 1024 * 1024;
    let ran = fx.run(fx.with_password(PASSWORD), &format!("gen {size}"), b"");
    assert_eq!(
        (ran.code(), ran.stdout.len()),
        (Some(0), size),
        "{}",
        ran.stderr
    );
    let rekeys = ran
        .stderr
        .matches("Remote side initiated key re-exchange")
        .count();
    assert!(
        rekeys >= 4,
        "{rekeys} rekeys in {size} bytes sent with rekey_bytes = 4 MiB"
    );
}
