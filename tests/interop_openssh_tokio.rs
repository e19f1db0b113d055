//! Interop of sekura's async adapter (`sekura::tokio`) with real OpenSSH,
//! on 127.0.0.1: the rows of the OpenSSH interop matrix that
//! `tests/interop_openssh_session.rs` and `tests/interop_openssh.rs` run
//! through the blocking API, run again through the tokio one.
//!
//! `sekura::tokio::Session` against OpenSSH's sshd (a throwaway sshd per
//! test, logging in to the test account `sekura-test`; see
//! `support/session.rs`):
//!
//! - [`tokio_client_password_and_exec`]: a wrong password is refused, the
//!   right one accepted; `echo hello` and a command writing only to stderr
//!   and exiting with 3 keep stdout, stderr and the status apart.
//! - [`tokio_client_publickey`]: ed25519, rsa-sha2-256 and rsa-sha2-512
//!   keys made by ssh-keygen; sshd's DEBUG3 log names the signature
//!   algorithm it verified.
//! - [`tokio_client_64_mib_each_way_in_parallel_with_rekeys`] drives two
//!   channels in two tasks on one session: 64 MiB uploaded into
//!   `sha256sum` and 64 MiB downloaded with sshd's SHA-256 on stderr, with
//!   `rekey_bytes` at 16 MiB and a `Session::rekey` in the middle.
//! - [`tokio_client_algorithm_families`]: sshd offers everything it
//!   supports; the client offers the default set, then one algorithm at a
//!   time per category (kex, host key, cipher, MAC) against a fixed modern
//!   choice, legacy ones (opted in by name) included; each session moves
//!   512 KiB through `cat` and back.
//!
//! OpenSSH's `ssh` against `sekura::tokio::Server` (the [`Exec`] handler of
//! this file):
//!
//! - [`ssh_password_to_tokio_server`]: password through `SSH_ASKPASS`.
//! - [`ssh_publickey_to_tokio_server`]: ed25519, ecdsa and rsa keys from
//!   ssh-keygen; an unknown key is refused.
//! - [`ssh_exec_status_and_stderr_to_tokio_server`]: exit status and
//!   stderr kept apart.
//! - [`ssh_64_mib_each_way_with_rekeys_to_tokio_server`]: 64 MiB each way
//!   checked with SHA-256, under ssh's `RekeyLimit 16M` (ssh's log shows
//!   the rekeys).
//! - [`ssh_algorithm_families_to_tokio_server`]: kex, cipher and MAC
//!   varied one at a time, legacy ones included, ssh's log naming what was
//!   negotiated.
//!
//! A missing peer or account skips a test (printing why) unless
//! `SEKURA_REQUIRE_PEERS=1`, which CI sets. Every process a test starts is
//! killed when it ends, panicking or not, and its directory removed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[allow(dead_code)]
#[path = "support/fixture.rs"]
mod fixture;
// Only some of its helpers are used here.
#[allow(dead_code)]
#[path = "support/session.rs"]
mod session;
mod support;

use fixture::{OnlyAlgorithm, SshClient, SshdFixture, run_ssh};
use sekura::HostKeyCheck;
use sekura::algorithms::builtin::keys::{PrivateKey, PublicKey};
use sekura::algorithms::hash::SHA256;
use sekura::algorithms::{HashFunction, SigningKey};
use sekura::negotiation::Preferences;
use sekura::tokio::{AuthResult, Channel, Handler, Pty, Server, Session, SessionRequest};
use sekura::transport::Config;
use session::{TEST_PASSWORD, TEST_USER};
use std::future::Future;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Noise, OpenSsh, TempDir, hex, peer_or_skip, rate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one test's sessions with sshd may take before the test fails
/// (instead of hanging).
const SESSION_LIMIT: Duration = Duration::from_secs(40);

/// The size of each transfer.
const TRANSFER_BYTES: usize = 64 * 1024 * 1024;

/// The rekey limit during the transfers (sekura's `rekey_bytes`, ssh's
/// `RekeyLimit`).
const REKEY_BYTES: usize = 16 * 1024 * 1024;

/// Runs `future`, failing the test if it takes longer than `limit`.
async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: still running after {limit:?}"),
    }
}

// ---------------------------------------------------------------------------
// sekura::tokio client -> sshd
// ---------------------------------------------------------------------------

impl SshdFixture {
    /// Connects an async sekura client with `config`, checking sshd's
    /// `host_key`.
    async fn connect_with(&self, mut config: Config, host_key: Vec<u8>) -> Session {
        let stream = TcpStream::connect(self.sshd.address()).await.unwrap();
        stream.set_nodelay(true).unwrap();
        config.handshake_timeout = Some(Duration::from_secs(30));
        Session::connect(stream, config, HostKeyCheck::Key(host_key))
            .await
            .unwrap_or_else(|e| self.fail(format!("connecting: {e}")))
    }

    /// Connects with the default configuration.
    async fn connect(&self) -> Session {
        self.connect_with(Config::default(), self.host_key.clone())
            .await
    }
}

/// Runs `command` on a new channel: (stdout, stderr, exit status), stdout
/// and stderr read at the same time by two tasks.
async fn run(session: &Session, command: &str) -> (String, String, Option<u32>) {
    let mut channel = session.open_session().await.unwrap();
    channel.exec(command).await.unwrap();
    let mut stderr = channel.stderr();
    let errors = tokio::spawn(async move {
        let mut err = String::new();
        stderr.read_to_string(&mut err).await.unwrap();
        err
    });
    let mut out = String::new();
    channel.read_to_string(&mut out).await.unwrap();
    let err = errors.await.unwrap();
    (out, err, channel.exit_status().await.unwrap())
}

/// Sends `data` through `cat` on a new channel (writer and reader in two
/// tasks, through the channel's halves) and checks that it comes back.
async fn cat_roundtrip(session: &Session, data: Arc<Vec<u8>>) -> Result<(), String> {
    let mut channel = session
        .open_session()
        .await
        .map_err(|e| format!("open: {e}"))?;
    channel
        .exec("cat")
        .await
        .map_err(|e| format!("exec: {e}"))?;
    let (mut read, mut write) = channel.split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        write.write_all(&sent).await?;
        write.shutdown().await
    });
    let mut back = Vec::new();
    read.read_to_end(&mut back)
        .await
        .map_err(|e| format!("read: {e}"))?;
    writer
        .await
        .map_err(|e| format!("writer task: {e}"))?
        .map_err(|e| format!("write: {e}"))?;
    if back.len() != data.len() || back != *data {
        return Err(format!(
            "cat returned {} bytes, not the {} sent",
            back.len(),
            data.len()
        ));
    }
    match read.exit_status().await {
        Ok(Some(0)) => Ok(()),
        other => Err(format!("cat exited with {other:?}")),
    }
}

/// A wrong password is refused (and logged as such by sshd), the right one
/// accepted; stdout, stderr and the exit status of two commands stay
/// apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_client_password_and_exec() {
    let Some(fx) = SshdFixture::start("tokio_client_password_and_exec", &[], &[]) else {
        return;
    };
    within(SESSION_LIMIT, "password and exec", async {
        let session = fx.connect().await;
        let err = session
            .authenticate_password(TEST_USER, "not the password")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("password"), "{err}");
        fx.log_line_async(&["Failed password for", TEST_USER]).await;
        session
            .authenticate_password(TEST_USER, TEST_PASSWORD)
            .await
            .unwrap_or_else(|e| fx.fail(format!("password refused: {e}")));
        assert!(session.is_authenticated());
        fx.log_line_async(&["Accepted password for", TEST_USER])
            .await;

        assert_eq!(
            run(&session, "echo hello").await,
            ("hello\n".into(), String::new(), Some(0))
        );
        assert_eq!(
            run(&session, "sh -c 'echo out; echo oops >&2; exit 3'").await,
            ("out\n".into(), "oops\n".into(), Some(3))
        );
        assert_eq!(
            run(&session, "id -un").await,
            (format!("{TEST_USER}\n"), String::new(), Some(0))
        );
        session.close().await;
    })
    .await;
}

/// Publickey with an ed25519 key, and an RSA key signed once with
/// rsa-sha2-256 (the key restricted to it) and once with rsa-sha2-512
/// (sekura's own choice): sshd's DEBUG3 log names the algorithm of the
/// signature it verified for that key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_client_publickey() {
    let Some(fx) = SshdFixture::start(
        "tokio_client_publickey",
        &["PasswordAuthentication no"],
        &[],
    ) else {
        return;
    };
    let ed25519 = fx.user_key("ed25519", None);
    let rsa = fx.user_key("rsa", Some(2048));
    fx.authorize(&[&ed25519.public_key(), &rsa.public_key()]);
    let cases: Vec<(&str, Arc<dyn SigningKey>, PublicKey, &str)> = vec![
        (
            "ssh-ed25519",
            Arc::new(ed25519.clone()),
            ed25519.public_key(),
            "ED25519",
        ),
        (
            "rsa-sha2-256",
            Arc::new(OnlyAlgorithm {
                key: rsa.clone(),
                algorithm: "rsa-sha2-256",
            }),
            rsa.public_key(),
            "RSA",
        ),
        (
            "rsa-sha2-512",
            Arc::new(rsa.clone()),
            rsa.public_key(),
            "RSA",
        ),
    ];
    within(SESSION_LIMIT, "publickey", async {
        for (algorithm, key, public, log_type) in cases {
            let session = fx.connect().await;
            session
                .authenticate_publickey(TEST_USER, key)
                .await
                .unwrap_or_else(|e| fx.fail(format!("{algorithm}: key refused: {e}")));
            let fingerprint = public.fingerprint_sha256();
            let signed = fx
                .log_line_async(&[
                    "userauth_pubkey: publickey have",
                    &format!("{algorithm} signature for {log_type} {fingerprint}"),
                ])
                .await;
            fx.log_line_async(&[
                "Accepted publickey for",
                TEST_USER,
                &format!("{log_type} {fingerprint}"),
            ])
            .await;
            assert_eq!(
                run(&session, "id -un").await,
                (format!("{TEST_USER}\n"), String::new(), Some(0))
            );
            eprintln!("{algorithm}: {signed}");
            session.close().await;
        }
    })
    .await;
}

/// Uploads `TRANSFER_BYTES` into `sha256sum` on a new channel; calls
/// `halfway` once half is sent. Returns the upload's duration.
async fn upload(session: &Session, halfway: impl FnOnce()) -> Duration {
    let mut channel = session.open_session().await.unwrap();
    channel.exec("sha256sum").await.unwrap();
    let mut noise = Noise(0x5eca_1234_abcd_ef01);
    let mut hasher = SHA256.start();
    let mut buf = vec![0u8; 256 * 1024];
    let mut halfway = Some(halfway);
    let started = Instant::now();
    let mut sent = 0;
    while sent < TRANSFER_BYTES {
        let n = buf.len().min(TRANSFER_BYTES - sent);
        noise.fill(&mut buf[..n]);
        hasher.update(&buf[..n]);
        channel
            .write_all(&buf[..n])
            .await
            .unwrap_or_else(|e| panic!("upload failed after {sent} bytes: {e}"));
        sent += n;
        if sent >= TRANSFER_BYTES / 2
            && let Some(halfway) = halfway.take()
        {
            halfway();
        }
    }
    channel.shutdown().await.unwrap();
    let mut answer = String::new();
    channel.read_to_string(&mut answer).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(channel.exit_status().await.unwrap(), Some(0));
    assert_eq!(answer, format!("{}  -\n", hex(&hasher.finish())), "upload");
    elapsed
}

/// Downloads `TRANSFER_BYTES` from `/dev/urandom` through `tee` on a new
/// channel, sshd's `sha256sum` of what it sent coming on stderr (read by
/// another task). Returns the download's duration.
async fn download(session: &Session) -> Duration {
    let mut channel = session.open_session().await.unwrap();
    // tee copies to the channel (fd 3 = stdout) what sha256sum hashes;
    // dash, the account's /bin/sh, has no >(...).
    channel
        .exec(&format!(
            "{{ head -c {TRANSFER_BYTES} /dev/urandom | tee /dev/fd/3 | sha256sum >&2; }} 3>&1"
        ))
        .await
        .unwrap();
    let mut stderr = channel.stderr();
    let their_hash = tokio::spawn(async move {
        let mut text = String::new();
        stderr.read_to_string(&mut text).await.unwrap();
        text
    });
    let mut hasher = SHA256.start();
    let mut buf = vec![0u8; 256 * 1024];
    let started = Instant::now();
    let mut received = 0;
    loop {
        let n = channel
            .read(&mut buf)
            .await
            .unwrap_or_else(|e| panic!("download failed after {received} bytes: {e}"));
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        received += n;
    }
    let elapsed = started.elapsed();
    let their_hash = their_hash.await.unwrap();
    assert_eq!(channel.exit_status().await.unwrap(), Some(0));
    assert_eq!(received, TRANSFER_BYTES, "download: stderr {their_hash:?}");
    assert_eq!(
        their_hash,
        format!("{}  -\n", hex(&hasher.finish())),
        "download"
    );
    elapsed
}

/// 64 MiB each way at the same time, on two channels of one session driven
/// by two tasks, checked with SHA-256 on both ends; the client rekeys every
/// 16 MiB (`rekey_bytes`) and once more when the upload is half done
/// (`Session::rekey`). Prints the rates and the number of key exchanges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_client_64_mib_each_way_in_parallel_with_rekeys() {
    const TEST: &str = "tokio_client_64_mib_each_way_in_parallel_with_rekeys";
    // Less logging: DEBUG3 would log every window adjustment.
    let Some(mut fx) = SshdFixture::start(TEST, &["LogLevel VERBOSE"], &[]) else {
        return;
    };
    let mut config = Config::default();
    config.rekey_bytes = REKEY_BYTES as u64;
    let session = Arc::new(fx.connect_with(config, fx.host_key.clone()).await);
    session
        .authenticate_password(TEST_USER, TEST_PASSWORD)
        .await
        .unwrap_or_else(|e| fx.fail(format!("password refused: {e}")));
    eprintln!("negotiated: {}", session.negotiated().unwrap_or_default());
    let started = Instant::now();
    let (up, down, at_rekey) = within(Duration::from_secs(45), TEST, async {
        let uploader = {
            let session = session.clone();
            tokio::spawn(async move {
                let mut at_rekey = None;
                let elapsed = upload(&session, || {
                    at_rekey = Some(session.key_exchanges());
                    session.rekey().unwrap();
                })
                .await;
                (elapsed, at_rekey)
            })
        };
        let downloader = {
            let session = session.clone();
            tokio::spawn(async move { download(&session).await })
        };
        let (up, at_rekey) = uploader.await.unwrap();
        let down = downloader.await.unwrap();
        (up, down, at_rekey.unwrap())
    })
    .await;
    let total = started.elapsed();
    let exchanges = session.key_exchanges();
    eprintln!(
        "upload {:.1} MiB/s, download {:.1} MiB/s, both in {total:.2?}; \
         {exchanges} key exchanges ({at_rekey} when Session::rekey was called)",
        rate(TRANSFER_BYTES, up),
        rate(TRANSFER_BYTES, down),
    );
    // 64 MiB each way under a 16 MiB limit: rekeys at about 16, 32 and 48
    // MiB at least (the one asked for may coincide with one of them, or
    // delay the next), after the first exchange.
    assert!(
        exchanges >= 4,
        "only {exchanges} key exchanges over 2 x 64 MiB with rekey_bytes 16 MiB"
    );
    assert!(exchanges > at_rekey, "Session::rekey changed nothing");
    // A rekey asked for on an idle session completes too.
    let before = session.key_exchanges();
    session.rekey().unwrap();
    within(Duration::from_secs(10), "an idle rekey", async {
        while session.key_exchanges() == before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // The session still works after the rekeys.
    assert_eq!(
        run(&session, "echo still here").await,
        ("still here\n".into(), String::new(), Some(0))
    );
    let session = Arc::try_unwrap(session).unwrap();
    session.close().await;
    fx.assert_clean();
}

/// One algorithm per category.
#[derive(Debug, Clone)]
struct Choice {
    kex: &'static str,
    host_key: &'static str,
    cipher: &'static str,
    mac: &'static str,
}

/// The fixed choice while one category varies.
const FIXED: Choice = Choice {
    kex: "curve25519-sha256",
    host_key: "ssh-ed25519",
    cipher: "aes128-ctr",
    mac: "hmac-sha2-256",
};

/// What the families tests vary, one at a time against [`FIXED`]:
/// (category, name, legacy). Legacy ones are not in sekura's defaults and
/// are enabled by naming them.
const FAMILIES: &[(&str, &str, bool)] = &[
    ("kex", "curve25519-sha256", false),
    ("kex", "curve25519-sha256@libssh.org", false),
    ("kex", "sntrup761x25519-sha512@openssh.com", false),
    ("kex", "ecdh-sha2-nistp256", false),
    ("kex", "ecdh-sha2-nistp521", false),
    ("kex", "diffie-hellman-group14-sha256", false),
    ("kex", "diffie-hellman-group-exchange-sha256", false),
    ("kex", "diffie-hellman-group14-sha1", true),
    ("host key", "ssh-ed25519", false),
    ("host key", "ecdsa-sha2-nistp256", false),
    ("host key", "rsa-sha2-512", false),
    ("host key", "rsa-sha2-256", false),
    ("host key", "ssh-rsa", true),
    ("cipher", "chacha20-poly1305@openssh.com", false),
    ("cipher", "aes128-gcm@openssh.com", false),
    ("cipher", "aes256-gcm@openssh.com", false),
    ("cipher", "aes128-ctr", false),
    ("cipher", "aes256-ctr", false),
    ("cipher", "aes256-cbc", true),
    ("cipher", "3des-cbc", true),
    ("MAC", "hmac-sha2-256-etm@openssh.com", false),
    ("MAC", "hmac-sha2-512-etm@openssh.com", false),
    ("MAC", "umac-64-etm@openssh.com", false),
    ("MAC", "umac-128@openssh.com", false),
    ("MAC", "hmac-sha2-512", false),
    ("MAC", "hmac-sha1", false),
    ("MAC", "hmac-md5", true),
];

impl Choice {
    /// [`FIXED`] with one category changed.
    fn with(category: &str, name: &'static str) -> Choice {
        let mut choice = FIXED;
        match category {
            "kex" => choice.kex = name,
            "host key" => choice.host_key = name,
            "cipher" => choice.cipher = name,
            "MAC" => choice.mac = name,
            other => panic!("no category {other}"),
        }
        choice
    }

    /// Preferences offering exactly this choice (no compression).
    fn apply(&self, preferences: &mut Preferences) {
        preferences.set_kex(self.kex).unwrap();
        preferences.set_host_key_algorithms(self.host_key).unwrap();
        preferences.set_ciphers(self.cipher).unwrap();
        preferences.set_macs(self.mac).unwrap();
        preferences.set_compression("none").unwrap();
    }

    /// Whether the cipher is an AEAD (the MAC is then implicit).
    fn aead(&self) -> bool {
        self.cipher.contains("gcm") || self.cipher.contains("poly1305")
    }

    /// Checks `Session::negotiated` (the `Debug` text of what was agreed)
    /// against this choice.
    fn check(&self, negotiated: &str) -> Result<(), String> {
        let mac = if self.aead() {
            "None".to_string()
        } else {
            format!("Some({:?})", self.mac)
        };
        for want in [
            format!("kex: {:?}", self.kex),
            format!("host_key: Some({:?})", self.host_key),
            format!("cipher_c2s: {:?}", self.cipher),
            format!("cipher_s2c: {:?}", self.cipher),
            format!("mac_c2s: {mac}"),
            format!("mac_s2c: {mac}"),
            "compression_c2s: \"none\"".to_string(),
        ] {
            if !negotiated.contains(&want) {
                return Err(format!("negotiated {negotiated}, expected {want}"));
            }
        }
        Ok(())
    }
}

/// The families OpenSSH supports (`ssh -Q`); the others are printed and
/// left out.
fn families_openssh_supports(
    openssh: &OpenSsh,
    categories: &[&str],
) -> Vec<(&'static str, &'static str, bool)> {
    let query = |what: &str| openssh.query(what).unwrap_or_else(|e| panic!("{e}"));
    let supported = [
        ("kex", query("kex")),
        ("host key", query("HostKeyAlgorithms")),
        ("cipher", query("cipher")),
        ("MAC", query("mac")),
    ];
    FAMILIES
        .iter()
        .copied()
        .filter(|(category, _, _)| categories.contains(category))
        .filter(|(category, name, _)| {
            let theirs = &supported.iter().find(|(c, _)| c == category).unwrap().1;
            let known = theirs.iter().any(|t| t == name);
            if !known {
                eprintln!(
                    "{category} {name}: not supported by {}, left out",
                    openssh.version
                );
            }
            known
        })
        .collect()
}

/// sshd offers every algorithm it supports (legacy ones included) with
/// ed25519, ECDSA P-256 and RSA host keys. The async client connects with
/// its default set, then once per family of [`FAMILIES`] (one category
/// varied at a time against [`FIXED`]), checks the negotiated algorithms
/// and sshd's host key, logs in with the password and sends 512 KiB
/// through `cat` and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_client_algorithm_families() {
    const TEST: &str = "tokio_client_algorithm_families";
    let Some(openssh) = peer_or_skip(TEST, OpenSsh::find(true)) else {
        return;
    };
    let query = |what: &str| openssh.query(what).unwrap_or_else(|e| panic!("{e}"));
    let everything = [
        format!("KexAlgorithms {}", query("kex").join(",")),
        format!("HostKeyAlgorithms {}", query("HostKeyAlgorithms").join(",")),
        format!("Ciphers {}", query("cipher").join(",")),
        format!("MACs {}", query("mac").join(",")),
        "LogLevel VERBOSE".to_string(),
    ];
    let everything: Vec<&str> = everything.iter().map(String::as_str).collect();
    let Some(mut fx) = SshdFixture::start(
        TEST,
        &everything,
        &[("ecdsa", Some(256)), ("rsa", Some(2048))],
    ) else {
        return;
    };
    let host_key = |algorithm: &str| -> Vec<u8> {
        let file = match algorithm {
            "ssh-ed25519" => "host_ed25519",
            "ecdsa-sha2-nistp256" => "host_ecdsa",
            _ => "host_rsa",
        };
        PublicKey::from_file(fx.dir.path().join(format!("{file}.pub")))
            .unwrap()
            .to_blob()
    };
    let data: Arc<Vec<u8>> = Arc::new(Noise::bytes(7, 512 * 1024 + 3));
    let cases = families_openssh_supports(&openssh, &["kex", "host key", "cipher", "MAC"]);
    let started = Instant::now();
    let failures = within(SESSION_LIMIT, TEST, async {
        let mut failures = Vec::new();
        // The defaults first: whatever the two pick.
        let session = fx.connect().await;
        session
            .authenticate_password(TEST_USER, TEST_PASSWORD)
            .await
            .unwrap_or_else(|e| fx.fail(format!("defaults: password refused: {e}")));
        if let Err(e) = cat_roundtrip(&session, data.clone()).await {
            failures.push(format!("defaults: {e}"));
        }
        eprintln!(
            "ok   defaults: {}",
            session.negotiated().unwrap_or_default()
        );
        session.close().await;

        for &(category, name, legacy) in &cases {
            let t = Instant::now();
            let choice = Choice::with(category, name);
            let mut config = Config::default();
            choice.apply(&mut config.preferences);
            let session = fx.connect_with(config, host_key(choice.host_key)).await;
            let result = async {
                choice.check(&session.negotiated().unwrap_or_default())?;
                session
                    .authenticate_password(TEST_USER, TEST_PASSWORD)
                    .await
                    .map_err(|e| format!("password refused: {e}"))?;
                cat_roundtrip(&session, data.clone()).await
            }
            .await;
            let legacy = if legacy { " (legacy, opted in)" } else { "" };
            match result {
                Ok(()) => eprintln!("ok   {category:8} {name}{legacy} ({:?})", t.elapsed()),
                Err(e) => {
                    eprintln!("FAIL {category:8} {name}{legacy}: {e}");
                    failures.push(format!("{category} {name}: {e}"));
                }
            }
            session.close().await;
        }
        failures
    })
    .await;
    eprintln!("{} sessions in {:?}", cases.len() + 1, started.elapsed());
    fx.assert_clean();
    assert!(
        failures.is_empty(),
        "{} of {} families failed ({}):\n{}\n--- sshd log (tail) ---\n{}",
        failures.len(),
        cases.len() + 1,
        openssh.version,
        failures.join("\n"),
        fx.sshd.log_tail(40)
    );
}

// ---------------------------------------------------------------------------
// OpenSSH ssh -> sekura::tokio::Server
// ---------------------------------------------------------------------------

/// The user the sekura server lets in.
const SERVER_USER: &str = "alice";

/// Her password.
const SERVER_PASSWORD: &str = "correct horse battery staple";

/// The async server's policy: [`SERVER_USER`] logs in with
/// [`SERVER_PASSWORD`] or a key of `authorized`. Commands: `echo TEXT`;
/// `fail` (a line on stderr, status 3); `sha256` (the input's SHA-256 in
/// hex); `gen N` (N bytes of `Noise(N | 1)`, their SHA-256 on stderr);
/// `cat`; anything else: `not found` on stderr, status 127.
struct Exec {
    authorized: Vec<Vec<u8>>,
}

impl Handler for Exec {
    async fn check_password(&self, user: &str, password: &str) -> AuthResult {
        if user == SERVER_USER && password == SERVER_PASSWORD {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    async fn check_public_key(&self, user: &str, key: &[u8]) -> AuthResult {
        if user == SERVER_USER && self.authorized.iter().any(|k| k == key) {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    async fn allow_tcpip_forward(&self, _user: &str, address: &str, _port: u32) -> bool {
        address == "127.0.0.1"
    }

    async fn session(
        &self,
        _user: &str,
        request: SessionRequest,
        _pty: Option<Pty>,
        mut channel: Channel,
    ) -> u32 {
        let SessionRequest::Exec(command) = request else {
            return 1;
        };
        let command = String::from_utf8_lossy(&command).into_owned();
        let (name, arg) = command.split_once(' ').unwrap_or((&command, ""));
        let mut stderr = channel.stderr();
        let mut buf = vec![0u8; 256 * 1024];
        let mut hasher = SHA256.start();
        let result: std::io::Result<u32> = async {
            match name {
                "echo" => {
                    channel.write_all(format!("{arg}\n").as_bytes()).await?;
                    Ok(0)
                }
                "fail" => {
                    stderr.write_all(b"something went wrong\n").await?;
                    Ok(3)
                }
                "sha256" => loop {
                    let n = channel.read(&mut buf).await?;
                    if n == 0 {
                        let line = format!("{}\n", hex(&hasher.finish()));
                        channel.write_all(line.as_bytes()).await?;
                        break Ok(0);
                    }
                    hasher.update(&buf[..n]);
                },
                "gen" => {
                    let total: usize = arg.parse().unwrap_or(0);
                    let mut noise = Noise(total as u64 | 1);
                    let mut sent = 0;
                    while sent < total {
                        let chunk = &mut buf[..(total - sent).min(256 * 1024)];
                        noise.fill(chunk);
                        hasher.update(chunk);
                        channel.write_all(chunk).await?;
                        sent += chunk.len();
                    }
                    let line = format!("{}\n", hex(&hasher.finish()));
                    stderr.write_all(line.as_bytes()).await?;
                    Ok(0)
                }
                "cat" => {
                    let (mut read, mut write) = channel.split();
                    tokio::io::copy(&mut read, &mut write).await?;
                    write.shutdown().await?;
                    Ok(0)
                }
                _ => {
                    stderr.write_all(b"not found\n").await?;
                    Ok(127)
                }
            }
        }
        .await;
        result.unwrap_or(255)
    }
}

/// A `sekura::tokio::Server` serving [`Exec`] on 127.0.0.1 in its own
/// runtime (the tests drive ssh synchronously), and ssh to reach it.
/// Dropping it shuts the server down and its runtime with it.
struct ServerFixture {
    ssh: SshClient,
    shutdown: sekura::tokio::ShutdownHandle,
    serving: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    // After the server task's handle, before the directory.
    runtime: Option<tokio::runtime::Runtime>,
    dir: TempDir,
}

impl ServerFixture {
    /// Starts a server accepting the public halves of `user_keys` (made by
    /// ssh-keygen in the fixture's directory, named `id_<kind>`), with
    /// every built-in algorithm enabled (legacy ones too). `None`: skipped.
    fn start(test: &str, user_keys: &[(&str, Option<u32>)]) -> Option<ServerFixture> {
        let openssh = peer_or_skip(test, OpenSsh::find(false))?;
        let dir = TempDir::new("sekura-tokio-server").unwrap();
        let authorized = SshClient::make_user_keys(&openssh, dir.path(), user_keys);
        let host = PrivateKey::generate_ed25519(&mut sekura::os_rng());
        let host_line = host.public_key().to_openssh();
        let mut config = Config::server(vec![Arc::new(host) as Arc<dyn SigningKey>]);
        config.preferences = Preferences::all();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = Server::new(config, Exec { authorized });
        let shutdown = server.shutdown_handle();
        let serving = runtime.spawn(async move { server.serve(listener).await });
        let ssh = SshClient::new(openssh, dir.path(), port, &host_line);
        Some(ServerFixture {
            ssh,
            shutdown,
            serving: Some(serving),
            runtime: Some(runtime),
            dir,
        })
    }
}

impl Drop for ServerFixture {
    fn drop(&mut self) {
        self.shutdown.shutdown(Duration::ZERO);
        if let (Some(runtime), Some(serving)) = (self.runtime.take(), self.serving.take()) {
            let stopped = runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), serving).await });
            let panicking = std::thread::panicking();
            match stopped {
                Ok(Ok(Ok(()))) => {}
                other if !panicking => panic!("the tokio server did not stop cleanly: {other:?}"),
                _ => {}
            }
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

fn destination() -> String {
    format!("{SERVER_USER}@127.0.0.1")
}

/// `ssh -R` and then `ssh -O cancel -R` against the async server: it
/// listens on the forwarded port, and stops when the client cancels it.
#[test]
fn ssh_remote_forward_and_cancel_to_tokio_server() {
    let Some(fx) = ServerFixture::start(
        "ssh_remote_forward_and_cancel_to_tokio_server",
        &[("ed25519", None)],
    ) else {
        return;
    };
    fx.ssh.remote_forward_then_cancel(&destination());
}

/// Password through SSH_ASKPASS: the right one runs the command, a wrong
/// one is refused.
#[test]
fn ssh_password_to_tokio_server() {
    let Some(fx) = ServerFixture::start("ssh_password_to_tokio_server", &[]) else {
        return;
    };
    fx.ssh.check_password_login(SERVER_USER, SERVER_PASSWORD);
}

/// Keys made by ssh-keygen, signed by ssh and verified by the async
/// server: ed25519, ecdsa-nistp256, rsa (ssh signs with rsa-sha2-512). A
/// key that is not authorized is refused.
#[test]
fn ssh_publickey_to_tokio_server() {
    let Some(fx) = ServerFixture::start(
        "ssh_publickey_to_tokio_server",
        &[("ed25519", None), ("ecdsa", Some(256)), ("rsa", Some(2048))],
    ) else {
        return;
    };
    fx.ssh
        .check_key_logins(SERVER_USER, &["ed25519", "ecdsa", "rsa"]);
}

/// A command's exit status and stderr come through ssh, apart from its
/// stdout.
#[test]
fn ssh_exec_status_and_stderr_to_tokio_server() {
    let Some(fx) = ServerFixture::start(
        "ssh_exec_status_and_stderr_to_tokio_server",
        &[("ed25519", None)],
    ) else {
        return;
    };
    let ran = run_ssh(
        fx.ssh.key("ed25519", None, &[]),
        &[&destination(), "fail"],
        b"",
    );
    assert_eq!(ran.code(), Some(3), "{ran}");
    assert!(ran.stdout.is_empty(), "{ran}");
    assert_eq!(ran.stderr, "something went wrong\n", "{ran}");

    let ran = run_ssh(
        fx.ssh.key("ed25519", None, &[]),
        &[&destination(), "echo to stdout"],
        b"",
    );
    assert_eq!(
        (ran.code(), ran.stdout_text().as_str(), ran.stderr.as_str()),
        (Some(0), "to stdout\n", ""),
        "{ran}"
    );

    let ran = run_ssh(
        fx.ssh.key("ed25519", None, &[]),
        &[&destination(), "no-such-command"],
        b"",
    );
    assert_eq!(ran.code(), Some(127), "{ran}");
    assert_eq!(ran.stderr, "not found\n", "{ran}");
}

/// How many key exchanges ssh's DEBUG1 log shows.
fn ssh_key_exchanges(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("SSH2_MSG_NEWKEYS received")
        .count()
}

/// 64 MiB uploaded by ssh into `sha256` and 64 MiB downloaded from `gen`,
/// both checked with SHA-256, under ssh's `RekeyLimit 16M`: ssh's log
/// shows the rekeys the async server answered.
#[test]
fn ssh_64_mib_each_way_with_rekeys_to_tokio_server() {
    const TEST: &str = "ssh_64_mib_each_way_with_rekeys_to_tokio_server";
    let Some(fx) = ServerFixture::start(TEST, &[("ed25519", None)]) else {
        return;
    };
    let rekey = format!("RekeyLimit={}M", REKEY_BYTES / (1024 * 1024));
    let options = ["-o", rekey.as_str()];

    let data = Noise::bytes(0x00c0_ffee, TRANSFER_BYTES);
    let mut hasher = SHA256.start();
    hasher.update(&data);
    let want = format!("{}\n", hex(&hasher.finish()));
    let up_log = fx.dir.path().join("ssh-upload.log");
    let ran = run_ssh(
        fx.ssh.key("ed25519", Some(&up_log), &options),
        &[&destination(), "sha256"],
        &data,
    );
    drop(data);
    assert_eq!(ran.code(), Some(0), "{ran}");
    assert_eq!(ran.stdout_text(), want, "upload: the server's SHA-256");
    let up_exchanges = ssh_key_exchanges(&up_log);
    eprintln!(
        "upload: {TRANSFER_BYTES} bytes in {:.2?}: {:.1} MiB/s, {up_exchanges} key exchanges",
        ran.elapsed,
        rate(TRANSFER_BYTES, ran.elapsed)
    );

    let down_log = fx.dir.path().join("ssh-download.log");
    let ran = run_ssh(
        fx.ssh.key("ed25519", Some(&down_log), &options),
        &[&destination(), &format!("gen {TRANSFER_BYTES}")],
        b"",
    );
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr);
    assert_eq!(ran.stdout.len(), TRANSFER_BYTES, "download: {}", ran.stderr);
    let mut hasher = SHA256.start();
    hasher.update(&ran.stdout);
    assert_eq!(
        ran.stderr,
        format!("{}\n", hex(&hasher.finish())),
        "download: the server's SHA-256 of what it sent"
    );
    let down_exchanges = ssh_key_exchanges(&down_log);
    eprintln!(
        "download: {TRANSFER_BYTES} bytes in {:.2?}: {:.1} MiB/s, {down_exchanges} key exchanges",
        ran.elapsed,
        rate(TRANSFER_BYTES, ran.elapsed)
    );
    // 64 MiB under a 16 MiB limit: the first exchange and at least 3
    // rekeys (ssh counts its limit in cipher blocks, so the last may fall
    // just after the end).
    for (what, exchanges, log) in [
        ("upload", up_exchanges, &up_log),
        ("download", down_exchanges, &down_log),
    ] {
        assert!(
            exchanges >= 4,
            "{what}: ssh logged {exchanges} key exchanges under {rekey}:\n{}",
            support::tail(log, 30)
        );
    }
}

/// ssh, offering one kex, cipher or MAC at a time (against [`FIXED`]'s
/// others; legacy ones included), logs in to the async server with a key,
/// sends 256 KiB through `cat` and gets them back; ssh's DEBUG1 log names
/// the algorithms negotiated.
#[test]
fn ssh_algorithm_families_to_tokio_server() {
    const TEST: &str = "ssh_algorithm_families_to_tokio_server";
    let Some(fx) = ServerFixture::start(TEST, &[("ed25519", None)]) else {
        return;
    };
    let started = Instant::now();
    let data = Noise::bytes(11, 256 * 1024 + 5);
    let cases = families_openssh_supports(&fx.ssh.openssh, &["kex", "cipher", "MAC"]);
    let mut failures = Vec::new();
    for (i, &(category, name, legacy)) in cases.iter().enumerate() {
        let choice = Choice::with(category, name);
        let log = fx.dir.path().join(format!("ssh-{i}.log"));
        let options = [
            format!("KexAlgorithms={}", choice.kex),
            format!("Ciphers={}", choice.cipher),
            format!("MACs={}", choice.mac),
            "Compression=no".to_string(),
        ];
        let options: Vec<&str> = options.iter().flat_map(|o| ["-o", o.as_str()]).collect();
        let ran = run_ssh(
            fx.ssh.key("ed25519", Some(&log), &options),
            &[&destination(), "cat"],
            &data,
        );
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let mac = if choice.aead() {
            "<implicit>"
        } else {
            choice.mac
        };
        let mut problems = Vec::new();
        if ran.code() != Some(0) || ran.stdout != data {
            problems.push(format!(
                "exit {:?}, {} of {} bytes back",
                ran.code(),
                ran.stdout.len(),
                data.len()
            ));
        }
        for want in [
            format!("kex: algorithm: {}", choice.kex),
            "kex: host key algorithm: ssh-ed25519".to_string(),
            format!(
                "kex: client->server cipher: {} MAC: {mac} compression: none",
                choice.cipher
            ),
            format!(
                "kex: server->client cipher: {} MAC: {mac} compression: none",
                choice.cipher
            ),
        ] {
            if !text.contains(&want) {
                problems.push(format!("ssh's log never says {want:?}"));
            }
        }
        let legacy = if legacy { " (legacy)" } else { "" };
        if problems.is_empty() {
            eprintln!("ok   {category:8} {name}{legacy} ({:?})", ran.elapsed);
        } else {
            eprintln!("FAIL {category:8} {name}{legacy}: {problems:?}");
            let lines: Vec<&str> = text.lines().collect();
            failures.push(format!(
                "{category} {name}: {}\n--- ssh log (tail) ---\n{}",
                problems.join("; "),
                lines[lines.len().saturating_sub(15)..].join("\n")
            ));
        }
    }
    eprintln!("{} ssh runs in {:?}", cases.len(), started.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {} ssh -> tokio server families failed ({}):\n{}",
        failures.len(),
        cases.len(),
        fx.ssh.openssh.version,
        failures.join("\n")
    );
}
