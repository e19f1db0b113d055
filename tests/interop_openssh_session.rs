//! Interop of user authentication and channels with real OpenSSH, on
//! 127.0.0.1, through sekura's blocking API.
//!
//! sekura's client against OpenSSH's sshd (a throwaway configuration and
//! host key per test, in a temporary directory), logging in to the test
//! account `sekura-test` (see `support/session.rs`; `.ci/run` creates it):
//!
//! - [`sshd_password_and_exec`]: password (a wrong one first), `echo hello`,
//!   and a command writing to stderr and exiting with 3.
//! - [`sshd_publickey_algorithms`]: publickey with ed25519, ecdsa-nistp256,
//!   rsa-sha2-256 and rsa-sha2-512 keys made by ssh-keygen, sshd accepting
//!   only the one algorithm under test each time.
//! - [`sshd_keyboard_interactive_pam`]: keyboard-interactive answered by
//!   PAM (`UsePAM yes`).
//! - [`sshd_publickey_then_password`]: a partial success under
//!   `AuthenticationMethods publickey,password`, then the password.
//! - [`sshd_100_mib_each_way`]: 100 MiB uploaded into `sha256sum` and 100
//!   MiB downloaded with the server's SHA-256 on stderr; prints MiB/s.
//! - [`sshd_pty_and_sftp`]: a pty (`tty` prints `/dev/pts/N`) and the
//!   `sftp` subsystem answering INIT with VERSION.
//!
//! OpenSSH's ssh against a sekura server (a [`ServerHandler`] of this file):
//!
//! - [`ssh_password_to_sekura`]: password through `SSH_ASKPASS`.
//! - [`ssh_publickey_to_sekura`]: ed25519, ecdsa and rsa keys from
//!   ssh-keygen; an unknown key is refused.
//! - [`ssh_exec_status_stderr_and_data`]: exit status and stderr, and 8 MiB
//!   echoed through `cat`.
//! - [`ssh_pty_shell`]: `ssh -tt` with a shell reading piped input.
//! - [`ssh_setenv`]: `SetEnv`, one variable accepted and one refused.
//! - [`ssh_local_forwarding`] and [`ssh_remote_forwarding`]: `-L` and `-R`
//!   through the sekura server to a local echo listener.
//!
//! Window changes are not tested against ssh: ssh sends them on SIGWINCH
//! for a terminal on its stdin, which these tests do not have.
//!
//! A missing peer or account skips a test (printing why) unless
//! `SEKURA_REQUIRE_PEERS=1`, which CI sets. Every process a test starts is
//! killed when it ends, panicking or not, and its directory removed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[allow(dead_code)]
#[path = "support/fixture.rs"]
mod fixture;
#[allow(dead_code)]
#[path = "support/session.rs"]
mod session;
mod support;

use fixture::{OnlyAlgorithm, SSH_LIMIT, SshClient, SshdFixture, run_ssh};
use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::{PrivateKey, PublicKey};
use sekura::blocking::{
    AuthResult, Channel, HostKeyCheck, Pty, ServerHandler, Session, SessionRequest,
};
use sekura::transport::Config;
use sekura::transport::auth::Credential;
use session::{SekuraServer, TEST_PASSWORD, TEST_USER, Watchdog, run, sha256sum_each_way};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Noise, OpenSsh, TempDir, peer_or_skip, rate};

/// How long one sekura session with sshd may last before its connection is
/// cut (see [`Watchdog`]).
const SESSION_LIMIT: Duration = Duration::from_secs(60);

/// The same for the session moving 200 MiB.
const TRANSFER_LIMIT: Duration = Duration::from_secs(300);

/// The size of each transfer of [`sshd_100_mib_each_way`].
const TRANSFER_BYTES: usize = 100 * 1024 * 1024;

// ---------------------------------------------------------------------------
// sekura's client against sshd
// ---------------------------------------------------------------------------

impl SshdFixture {
    /// Connects a sekura client (host key checked), with a watchdog.
    fn connect(&self, limit: Duration) -> (Session, Watchdog) {
        let stream = TcpStream::connect(self.sshd.address()).unwrap();
        let watchdog = Watchdog::new(&stream, limit, "session with sshd").unwrap();
        let mut config = Config::default();
        config.handshake_timeout = Some(Duration::from_secs(30));
        let session = Session::connect(stream, config, HostKeyCheck::Key(self.host_key.clone()))
            .unwrap_or_else(|e| self.fail(format!("connecting: {e}")));
        (session, watchdog)
    }
}

/// Password authentication (a wrong password is refused first), then two
/// commands: `echo hello` (stdout, exit 0) and one that writes only to
/// stderr and exits with 3.
#[test]
fn sshd_password_and_exec() {
    let Some(fx) = SshdFixture::start("sshd_password_and_exec", &[], &[]) else {
        return;
    };
    let (session, _watchdog) = fx.connect(SESSION_LIMIT);
    let err = session
        .authenticate_password(TEST_USER, "not the password")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("password"), "{err}");
    fx.log_line(&["Failed password for", TEST_USER]);
    session
        .authenticate_password(TEST_USER, TEST_PASSWORD)
        .unwrap_or_else(|e| fx.fail(format!("password refused: {e}")));
    assert!(session.is_authenticated());
    fx.log_line(&["Accepted password for", TEST_USER]);

    assert_eq!(
        run(&session, "echo hello"),
        ("hello\n".into(), String::new(), Some(0))
    );
    assert_eq!(
        run(&session, "sh -c 'echo oops >&2; exit 3'"),
        (String::new(), "oops\n".into(), Some(3))
    );
    // The command ran as the test account, in its home directory.
    let (out, err, status) = run(&session, "id -un; pwd; echo \"$HOME\"");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        (lines.len(), err.as_str(), status),
        (3, "", Some(0)),
        "{out}"
    );
    assert_eq!(lines[0], TEST_USER);
    assert!(lines[1].len() > 1 && lines[1] == lines[2], "{out}");
    session.close();
}

/// Publickey with each key type, sshd's `PubkeyAcceptedAlgorithms` naming
/// only the signature algorithm under test: success shows sekura signed
/// with it, and sshd's log names the key it accepted.
#[test]
fn sshd_publickey_algorithms() {
    const TEST: &str = "sshd_publickey_algorithms";
    // Keys are made once, in the first fixture's directory (they are files
    // sekura loads; sshd sees only their public halves).
    let Some(keys_fx) = SshdFixture::start(TEST, &[], &[]) else {
        return;
    };
    let ed25519 = keys_fx.user_key("ed25519", None);
    let ecdsa = keys_fx.user_key("ecdsa", Some(256));
    let rsa = keys_fx.user_key("rsa", Some(3072));
    drop(keys_fx.sshd);

    let cases: Vec<(&str, Arc<dyn SigningKey>, PublicKey, &str)> = vec![
        (
            "ssh-ed25519",
            Arc::new(ed25519.clone()),
            ed25519.public_key(),
            "ED25519",
        ),
        (
            "ecdsa-sha2-nistp256",
            Arc::new(ecdsa.clone()),
            ecdsa.public_key(),
            "ECDSA",
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
        // The plain key: sekura's own choice when sshd lists both.
        (
            "rsa-sha2-512",
            Arc::new(rsa.clone()),
            rsa.public_key(),
            "RSA",
        ),
    ];
    for (algorithm, key, public, log_type) in cases {
        let accepted = format!("PubkeyAcceptedAlgorithms {algorithm}");
        let fx = SshdFixture::start(TEST, &[&accepted, "PasswordAuthentication no"], &[]).unwrap();
        fx.authorize(&[&public]);
        let (session, _watchdog) = fx.connect(SESSION_LIMIT);
        session
            .authenticate_publickey(TEST_USER, key)
            .unwrap_or_else(|e| fx.fail(format!("{algorithm}: key refused: {e}")));
        let fingerprint = public.fingerprint_sha256();
        let line = fx.log_line(&["Accepted publickey for", TEST_USER]);
        assert!(
            line.contains(&format!("{log_type} {fingerprint}")),
            "{algorithm}: sshd accepted another key: {line}"
        );
        // sshd checked a signature of this algorithm (DEBUG3 log).
        let signed = fx.log_line(&[
            "userauth_pubkey: publickey have",
            &format!("{algorithm} signature for {log_type} {fingerprint}"),
        ]);
        assert_eq!(
            run(&session, "id -un"),
            (format!("{TEST_USER}\n"), String::new(), Some(0))
        );
        eprintln!("{algorithm}: {signed}\n  {line}");
    }
}

/// Keyboard-interactive through PAM: sshd asks for the password as a
/// prompt, the canned answer goes back, and a command runs in the PAM
/// session.
#[test]
fn sshd_keyboard_interactive_pam() {
    const TEST: &str = "sshd_keyboard_interactive_pam";
    let Some(fx) = SshdFixture::start(
        TEST,
        &[
            "UsePAM yes",
            // At DEBUG3, sshd -e logs "Copy environment" lines from the
            // PAM session into the command's stderr.
            "LogLevel VERBOSE",
            "KbdInteractiveAuthentication yes",
            "PasswordAuthentication no",
            "PubkeyAuthentication no",
        ],
        &[],
    ) else {
        return;
    };
    let (session, _watchdog) = fx.connect(SESSION_LIMIT);
    // The password method is not offered: only keyboard-interactive works.
    let err = session
        .authenticate_password(TEST_USER, TEST_PASSWORD)
        .unwrap_err();
    assert!(
        err.to_string().contains("keyboard-interactive"),
        "sshd should offer keyboard-interactive: {err}"
    );
    session
        .authenticate(
            TEST_USER,
            vec![Credential::keyboard_interactive([TEST_PASSWORD])],
        )
        .unwrap_or_else(|e| fx.fail(format!("keyboard-interactive refused: {e}")));
    fx.log_line(&["Accepted keyboard-interactive/pam for", TEST_USER]);
    assert_eq!(
        run(&session, "echo hello"),
        ("hello\n".into(), String::new(), Some(0))
    );
}

/// `AuthenticationMethods publickey,password`: the key alone is a partial
/// success, the password completes it; the password alone is not enough.
#[test]
fn sshd_publickey_then_password() {
    const TEST: &str = "sshd_publickey_then_password";
    let Some(fx) = SshdFixture::start(TEST, &["AuthenticationMethods publickey,password"], &[])
    else {
        return;
    };
    let key = fx.user_key("ed25519", None);
    fx.authorize(&[&key.public_key()]);

    // The password first: sshd lists only publickey, so nothing is tried.
    let (session, _watchdog) = fx.connect(SESSION_LIMIT);
    let err = session
        .authenticate(TEST_USER, vec![Credential::password(TEST_PASSWORD)])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().ends_with("publickey"), "{err}");
    drop(session);

    let (session, _watchdog) = fx.connect(SESSION_LIMIT);
    session
        .authenticate(
            TEST_USER,
            vec![
                Credential::PublicKey(Arc::new(key.clone())),
                Credential::password(TEST_PASSWORD),
            ],
        )
        .unwrap_or_else(|e| fx.fail(format!("publickey,password refused: {e}")));
    fx.log_line(&["Partial publickey for", TEST_USER]);
    fx.log_line(&["Accepted password for", TEST_USER]);
    assert_eq!(
        run(&session, "echo hello"),
        ("hello\n".into(), String::new(), Some(0))
    );
}

/// 100 MiB each way, checked with SHA-256 computed on both ends:
/// uploaded into `sha256sum` on the server, then downloaded from
/// `/dev/urandom` through `tee`, the server's hash of what it sent coming
/// back on stderr. Prints the rates.
#[test]
fn sshd_100_mib_each_way() {
    const TEST: &str = "sshd_100_mib_each_way";
    // Less logging: DEBUG3 would log every window adjustment.
    let Some(fx) = SshdFixture::start(TEST, &["LogLevel VERBOSE"], &[]) else {
        return;
    };
    let (session, watchdog) = fx.connect(TRANSFER_LIMIT);
    session
        .authenticate_password(TEST_USER, TEST_PASSWORD)
        .unwrap_or_else(|e| fx.fail(format!("password refused: {e}")));

    // The download: tee copies to the channel (fd 3 = stdout) what
    // sha256sum hashes; dash, the account's /bin/sh, has no >(...).
    let t = sha256sum_each_way(
        &session,
        (TRANSFER_BYTES, 0x5eca_1234_abcd_ef01),
        &format!(
            "{{ head -c {TRANSFER_BYTES} /dev/urandom | tee /dev/fd/3 | sha256sum >&2; }} 3>&1"
        ),
        false,
        &|what| fx.fail(what),
    );
    eprintln!(
        "upload: {TRANSFER_BYTES} bytes in {:.2?}: {:.1} MiB/s",
        t.upload,
        rate(TRANSFER_BYTES, t.upload)
    );
    eprintln!(
        "download: {TRANSFER_BYTES} bytes in {:.2?}: {:.1} MiB/s",
        t.download,
        rate(TRANSFER_BYTES, t.download)
    );
    assert!(!watchdog.fired());
    session.close();
}

/// A pty for `tty`, and the sftp subsystem answering SSH_FXP_INIT with
/// SSH_FXP_VERSION.
#[test]
fn sshd_pty_and_sftp() {
    let Some(fx) = SshdFixture::start("sshd_pty_and_sftp", &[], &[]) else {
        return;
    };
    let (session, _watchdog) = fx.connect(SESSION_LIMIT);
    session
        .authenticate_password(TEST_USER, TEST_PASSWORD)
        .unwrap_or_else(|e| fx.fail(format!("password refused: {e}")));

    let mut channel = session.open_session().unwrap();
    channel
        .request_pty("xterm", 80, 24, Default::default())
        .unwrap();
    channel.exec("tty").unwrap();
    let mut out = String::new();
    channel.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("/dev/pts/"), "tty printed {out:?}");
    assert_eq!(channel.wait_exit_status().unwrap(), Some(0));
    drop(channel);

    // Without a pty, tty says so.
    let (out, _, status) = run(&session, "tty");
    assert_eq!((out.as_str(), status), ("not a tty\n", Some(1)));

    let mut channel = session.open_session().unwrap();
    channel.subsystem("sftp").unwrap();
    // uint32 length 5, byte SSH_FXP_INIT (1), uint32 version 3.
    channel.write_all(&[0, 0, 0, 5, 1, 0, 0, 0, 3]).unwrap();
    let mut length = [0u8; 4];
    channel.read_exact(&mut length).unwrap();
    let length = u32::from_be_bytes(length) as usize;
    assert!((5..=64 * 1024).contains(&length), "length {length}");
    let mut packet = vec![0u8; length];
    channel.read_exact(&mut packet).unwrap();
    assert_eq!(packet[0], 2, "SSH_FXP_VERSION expected: {packet:?}");
    let version = u32::from_be_bytes(packet[1..5].try_into().unwrap());
    assert_eq!(version, 3);
    channel.close().unwrap();
    session.close();
}

// ---------------------------------------------------------------------------
// OpenSSH's ssh against a sekura server
// ---------------------------------------------------------------------------

/// The sekura server's policy: user `alice` with [`SERVER_PASSWORD`] or one
/// of the authorized keys; a few commands, a shell, environment variable
/// `FOO`.
struct TestHandler {
    authorized: Vec<Vec<u8>>,
    /// Environment variables accepted so far (all connections).
    env: Mutex<HashMap<String, Vec<u8>>>,
}

const SERVER_USER: &str = "alice";
const SERVER_PASSWORD: &str = "correct horse battery staple";

impl ServerHandler for TestHandler {
    fn allow_direct_tcpip(&self, _user: &str, host: &str, _port: u32) -> bool {
        host == "127.0.0.1"
    }

    fn allow_tcpip_forward(&self, _user: &str, address: &str, _port: u32) -> bool {
        address == "127.0.0.1" || address == "localhost"
    }

    fn check_password(&self, user: &str, password: &str) -> AuthResult {
        if user == SERVER_USER && password == SERVER_PASSWORD {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    fn check_public_key(&self, user: &str, key: &[u8]) -> AuthResult {
        if user == SERVER_USER && self.authorized.iter().any(|k| k == key) {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    fn check_env(&self, name: &str, value: &[u8]) -> bool {
        let accepted = name == "FOO";
        if accepted {
            self.env
                .lock()
                .unwrap()
                .insert(name.to_string(), value.to_vec());
        }
        accepted
    }

    fn session(
        &self,
        user: &str,
        request: SessionRequest,
        pty: Option<Pty>,
        channel: &mut Channel,
    ) -> u32 {
        match request {
            SessionRequest::Shell => shell(user, pty, channel),
            SessionRequest::Exec(command) => {
                let command = String::from_utf8_lossy(&command).into_owned();
                self.exec(&command, channel)
            }
            SessionRequest::Subsystem(_) => 1,
        }
    }
}

impl TestHandler {
    /// `echo TEXT`, `fail` (stderr, status 3), `printenv NAME`, `cat`.
    fn exec(&self, command: &str, channel: &mut Channel) -> u32 {
        let (name, argument) = command.split_once(' ').unwrap_or((command, ""));
        let (written, status) = match name {
            "echo" => (channel.write_all(format!("{argument}\n").as_bytes()), 0),
            "fail" => (write_all_stderr(channel, b"something went wrong\n"), 3),
            "printenv" => {
                let value = self.env.lock().unwrap().get(argument).cloned();
                match value {
                    Some(mut line) => {
                        line.push(b'\n');
                        (channel.write_all(&line), 0)
                    }
                    None => return 1,
                }
            }
            "cat" => (copy_back(channel), 0),
            _ => (
                write_all_stderr(channel, format!("{name}: not found\n").as_bytes()),
                127,
            ),
        };
        if written.is_ok() { status } else { 255 }
    }
}

/// Writes all of `data` to the channel's stderr stream.
fn write_all_stderr(channel: &mut Channel, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        let n = channel.write_stderr(data)?;
        data = &data[n..];
    }
    Ok(())
}

/// Echoes the channel's input back until EOF.
fn copy_back(channel: &mut Channel) -> std::io::Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = channel.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        channel.write_all(&buf[..n])?;
    }
}

/// A line-oriented shell for `ssh -tt`: greets with the pty's terminal
/// type, answers every line with `echo: <line>`, and ends at `exit N`.
fn shell(user: &str, pty: Option<Pty>, channel: &mut Channel) -> u32 {
    let term = pty.map_or_else(|| "no pty".to_string(), |p| p.term);
    if channel
        .write_all(format!("sekura shell for {user} on {term}\r\n$ ").as_bytes())
        .is_err()
    {
        return 255;
    }
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match channel.read(&mut byte) {
            Ok(0) | Err(_) => return 0,
            Ok(_) if byte[0] == b'\r' || byte[0] == b'\n' => {
                let text = String::from_utf8_lossy(&line).into_owned();
                line.clear();
                if text.is_empty() {
                    continue;
                }
                if let Some(status) = text.strip_prefix("exit") {
                    let _ = channel.write_all(b"bye\r\n");
                    return status.trim().parse().unwrap_or(0);
                }
                if channel
                    .write_all(format!("echo: {text}\r\n$ ").as_bytes())
                    .is_err()
                {
                    return 255;
                }
            }
            Ok(_) => line.push(byte[0]),
        }
    }
}

/// A sekura server with [`TestHandler`], and ssh to reach it.
struct ServerFixture {
    /// Serves until the fixture is dropped.
    _server: SekuraServer,
    ssh: SshClient,
    handler: Arc<TestHandler>,
    /// Keys and known_hosts; last: removed after the server is gone.
    _dir: TempDir,
}

impl ServerFixture {
    /// Starts a server accepting the public halves of `user_keys` (made by
    /// ssh-keygen in the fixture's directory, named `id_<kind>`). `None`:
    /// skipped.
    fn start(test: &str, user_keys: &[(&str, Option<u32>)]) -> Option<ServerFixture> {
        let openssh = peer_or_skip(test, OpenSsh::find(false))?;
        let dir = TempDir::new("sekura-session-server").unwrap();
        let authorized = SshClient::make_user_keys(&openssh, dir.path(), user_keys);
        let host = PrivateKey::generate_ed25519(&mut sekura::os_rng());
        let host_line = host.public_key().to_openssh();
        let handler = Arc::new(TestHandler {
            authorized,
            env: Mutex::new(HashMap::new()),
        });
        let config = Config::server(vec![Arc::new(host) as Arc<dyn SigningKey>]);
        let server = SekuraServer::start(config, handler.clone()).unwrap();
        let ssh = SshClient::new(openssh, dir.path(), server.address().port(), &host_line);
        Some(ServerFixture {
            _server: server,
            ssh,
            handler,
            _dir: dir,
        })
    }
}

fn destination() -> String {
    format!("{SERVER_USER}@127.0.0.1")
}

/// Password through SSH_ASKPASS: the right one runs the command, a wrong
/// one is refused.
#[test]
fn ssh_password_to_sekura() {
    let Some(fx) = ServerFixture::start("ssh_password_to_sekura", &[]) else {
        return;
    };
    fx.ssh.check_password_login(SERVER_USER, SERVER_PASSWORD);
}

/// Keys made by ssh-keygen, signed by ssh and verified by sekura: ed25519,
/// ecdsa-nistp256, rsa (ssh signs with rsa-sha2-512). A key that is not
/// authorized is refused.
#[test]
fn ssh_publickey_to_sekura() {
    let Some(fx) = ServerFixture::start(
        "ssh_publickey_to_sekura",
        &[("ed25519", None), ("ecdsa", Some(256)), ("rsa", Some(3072))],
    ) else {
        return;
    };
    fx.ssh
        .check_key_logins(SERVER_USER, &["ed25519", "ecdsa", "rsa"]);
}

/// A command's exit status and stderr come through ssh; 8 MiB piped into
/// `cat` come back intact.
#[test]
fn ssh_exec_status_stderr_and_data() {
    let Some(fx) = ServerFixture::start("ssh_exec_status_stderr_and_data", &[("ed25519", None)])
    else {
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
        &[&destination(), "no-such-command"],
        b"",
    );
    assert_eq!(ran.code(), Some(127), "{ran}");

    let mut data = vec![0u8; 8 * 1024 * 1024];
    Noise(42).fill(&mut data);
    let ran = run_ssh(
        fx.ssh.key("ed25519", None, &[]),
        &[&destination(), "cat"],
        &data,
    );
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr);
    assert_eq!(ran.stdout.len(), data.len());
    assert!(ran.stdout == data, "cat returned other bytes");
    eprintln!("8 MiB through ssh and back in {:?}", ran.elapsed);
}

/// `ssh -tt` asks for a pty (with $TERM) and a shell; the shell reads the
/// piped lines and its exit status comes back as ssh's.
#[test]
fn ssh_pty_shell() {
    let Some(fx) = ServerFixture::start("ssh_pty_shell", &[("ed25519", None)]) else {
        return;
    };
    let mut cmd = fx.ssh.key("ed25519", None, &["-tt"]);
    cmd.env("TERM", "vt220");
    let ran = run_ssh(cmd, &[&destination()], b"hello\nexit 5\n");
    let out = ran.stdout_text();
    assert_eq!(ran.code(), Some(5), "{ran}");
    assert!(
        out.starts_with("sekura shell for alice on vt220\r\n"),
        "{ran}"
    );
    assert!(out.contains("echo: hello\r\n"), "{ran}");
    assert!(out.contains("bye\r\n"), "{ran}");
}

/// `SetEnv`: the handler accepts FOO (the command sees it) and refuses BAZ.
#[test]
fn ssh_setenv() {
    let Some(fx) = ServerFixture::start("ssh_setenv", &[("ed25519", None)]) else {
        return;
    };
    let setenv = ["-o", "SetEnv=FOO=bar BAZ=qux"];
    let ran = run_ssh(
        fx.ssh.key("ed25519", None, &setenv),
        &[&destination(), "printenv FOO"],
        b"",
    );
    assert_eq!(
        (ran.code(), ran.stdout_text().as_str()),
        (Some(0), "bar\n"),
        "{ran}"
    );
    let ran = run_ssh(
        fx.ssh.key("ed25519", None, &setenv),
        &[&destination(), "printenv BAZ"],
        b"",
    );
    assert_eq!(
        (ran.code(), ran.stdout_text().as_str()),
        (Some(1), ""),
        "{ran}"
    );
    let env = fx.handler.env.lock().unwrap();
    assert_eq!(env.keys().collect::<Vec<_>>(), ["FOO"]);
}

/// Forwards a port with ssh's `flag` (`-L` or `-R`) through the sekura
/// server to a TCP echo server, and checks bytes come back through it.
fn forwarding_roundtrip(test: &str, flag: &str) {
    let Some(fx) = ServerFixture::start(test, &[("ed25519", None)]) else {
        return;
    };
    // The forwarding's target: echoes one connection.
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = echo.accept() {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 || stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    let local = support::free_port().unwrap();
    let mut cmd = fx.ssh.key(
        "ed25519",
        None,
        &[
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            flag,
            &format!("127.0.0.1:{local}:127.0.0.1:{target}"),
        ],
    );
    cmd.arg(destination())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _ssh = support::KillOnDrop::new(cmd.spawn().unwrap(), "ssh forwarding");
    let deadline = Instant::now() + SSH_LIMIT;
    let mut stream = loop {
        match TcpStream::connect(("127.0.0.1", local)) {
            Ok(stream) => break stream,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("nobody listened on {local}: {e}"),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"through the tunnel").unwrap();
    let mut back = [0u8; 18];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"through the tunnel");
}

/// `ssh -L`: bytes sent to ssh's local port reach a TCP echo server through
/// the sekura server (a `direct-tcpip` channel) and come back.
#[test]
fn ssh_local_forwarding() {
    forwarding_roundtrip("ssh_local_forwarding", "-L");
}

/// `ssh -R`: the sekura server listens, and bytes sent to its port reach a
/// TCP echo server on ssh's side (a `forwarded-tcpip` channel) and come
/// back.
#[test]
fn ssh_remote_forwarding() {
    forwarding_roundtrip("ssh_remote_forwarding", "-R");
}

/// `ssh -O cancel -R`: the sekura server stops listening on a forwarded
/// port when the client cancels it, and the session goes on.
#[test]
fn ssh_cancels_a_remote_forward() {
    let Some(fx) = ServerFixture::start("ssh_cancels_a_remote_forward", &[("ed25519", None)])
    else {
        return;
    };
    fx.ssh.remote_forward_then_cancel(&destination());
}
