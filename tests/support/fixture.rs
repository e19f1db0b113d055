//! Fixtures shared by the OpenSSH interop tests of both adapters
//! (`tests/interop_openssh_session.rs`, `tests/interop_openssh_tokio.rs`),
//! on top of `support/mod.rs` and `support/session.rs`:
//!
//! - [`SshdFixture`]: a throwaway sshd letting the test account
//!   `sekura-test` log in with its password or a key of an
//!   `authorized_keys` file the test writes; its log searched for lines;
//! - [`SshClient`]: OpenSSH's `ssh` pointed at a sekura server on
//!   127.0.0.1, its host key pinned in a known_hosts file, logging in with
//!   a password (`SSH_ASKPASS`) or a key made by ssh-keygen;
//! - [`OnlyAlgorithm`]: a key restricted to one signature algorithm.

use crate::session::{Ran, TEST_USER, login_account, run_with_deadline};
use crate::support::{OpenSsh, Sshd, SshdConfig, TempDir, peer_or_skip};
use sekura::algorithms::builtin::keys::{PrivateKey, PublicKey};
use sekura::algorithms::{AlgorithmError, CryptoRng, SigningKey};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long one run of ssh may take.
pub const SSH_LIMIT: Duration = Duration::from_secs(30);

/// Lines in sshd's log that mean it found our packets wrong.
pub const SSHD_PACKET_ERRORS: &[&str] = &[
    "Corrupted MAC",
    "Bad packet length",
    "padding error",
    "dispatch_protocol_error",
    "message authentication code incorrect",
];

/// A throwaway sshd letting `sekura-test` log in with its password or a
/// key of `authorized_keys`.
pub struct SshdFixture {
    /// The server.
    pub sshd: Sshd,
    /// sshd's ed25519 host key (blob).
    pub host_key: Vec<u8>,
    /// The `AuthorizedKeysFile` sshd reads.
    pub authorized_keys: PathBuf,
    /// The OpenSSH programs.
    pub openssh: OpenSsh,
    // Last: removed after sshd is gone.
    /// Its directory: configuration, keys, log.
    pub dir: TempDir,
}

impl SshdFixture {
    /// Starts sshd with `options` (`Keyword value`, `sshd -o` options that
    /// win over the support module's fixed lines, the first value given
    /// winning), the `sftp` subsystem, an ed25519 host key and one more per
    /// `extra_host_keys` (ssh-keygen's type and bits, in files
    /// `host_<type>`). `None`: the test is skipped.
    pub fn start(
        test: &str,
        options: &[&str],
        extra_host_keys: &[(&str, Option<u32>)],
    ) -> Option<SshdFixture> {
        let openssh = peer_or_skip(test, OpenSsh::find(true))?;
        peer_or_skip(test, login_account())?;
        let dir = TempDir::new("sekura-sshd").unwrap();
        // sshd reads AuthorizedKeysFile as the user: let it through the
        // directory (without listing it). Private keys stay 0600, root's.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let mut host_keys = Vec::new();
        for &(kind, bits) in [("ed25519", None)].iter().chain(extra_host_keys) {
            let path = dir.path().join(format!("host_{kind}"));
            openssh.keygen(&path, kind, bits).unwrap();
            host_keys.push(path);
        }
        let host_key = PublicKey::from_file(host_keys[0].with_extension("pub"))
            .unwrap()
            .to_blob();
        let authorized_keys = dir.path().join("authorized_keys");
        std::fs::write(&authorized_keys, "").unwrap();
        std::fs::set_permissions(&authorized_keys, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut options: Vec<String> = options.iter().map(|o| (*o).to_string()).collect();
        options.extend([
            "PasswordAuthentication yes".to_string(),
            "PubkeyAuthentication yes".to_string(),
            format!("AuthorizedKeysFile {}", authorized_keys.display()),
            format!("AllowUsers {TEST_USER}"),
            "PrintMotd no".to_string(),
            "PrintLastLog no".to_string(),
        ]);
        let config = SshdConfig {
            host_keys,
            extra: vec!["Subsystem sftp internal-sftp".to_string()],
            options,
            ..SshdConfig::default()
        };
        let sshd = Sshd::start(&openssh, dir.path(), &config)
            .unwrap_or_else(|e| panic!("{test}: starting sshd: {e}"));
        Some(SshdFixture {
            sshd,
            host_key,
            authorized_keys,
            openssh,
            dir,
        })
    }

    /// Authorizes these public keys (only these) for `sekura-test`.
    pub fn authorize(&self, keys: &[&PublicKey]) {
        let text: String = keys.iter().map(|k| k.to_openssh() + "\n").collect();
        std::fs::write(&self.authorized_keys, text).unwrap();
    }

    /// Makes a key pair with ssh-keygen and loads it with sekura.
    pub fn user_key(&self, kind: &str, bits: Option<u32>) -> PrivateKey {
        let path = self.dir.path().join(format!("user_{kind}"));
        self.openssh.keygen(&path, kind, bits).unwrap();
        PrivateKey::from_file(&path, None)
            .unwrap_or_else(|e| panic!("sekura cannot load ssh-keygen's {kind} key: {e}"))
    }

    /// Panics with `what` and the end of sshd's log.
    pub fn fail(&self, what: String) -> ! {
        panic!(
            "{what}\n--- sshd log (tail) ---\n{}",
            self.sshd.log_tail(60)
        )
    }

    /// A line of sshd's log containing all of `parts`, if there is one
    /// yet; past `deadline`, fails the test instead of answering `None`.
    fn find_log_line(&self, parts: &[&str], deadline: Instant) -> Option<String> {
        let log = self.sshd.log_text();
        if let Some(line) = log
            .lines()
            .find(|line| parts.iter().all(|p| line.contains(p)))
        {
            return Some(line.to_string());
        }
        if Instant::now() >= deadline {
            self.fail(format!("sshd logged no line with {parts:?}"));
        }
        None
    }

    /// Waits (briefly) until sshd's log has a line containing all of
    /// `parts`, and returns it.
    pub fn log_line(&self, parts: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(line) = self.find_log_line(parts, deadline) {
                return line;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`SshdFixture::log_line`], waiting without blocking the runtime.
    pub async fn log_line_async(&self, parts: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(line) = self.find_log_line(parts, deadline) {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asserts that sshd is alive and logged no packet error.
    pub fn assert_clean(&mut self) {
        assert!(
            self.sshd.is_running(),
            "sshd died:\n{}",
            self.sshd.log_tail(40)
        );
        let log = self.sshd.log_text();
        for error in SSHD_PACKET_ERRORS {
            assert!(
                !log.contains(error),
                "sshd logged {error:?}:\n{}",
                self.sshd.log_tail(40)
            );
        }
    }
}

/// A signing key restricted to one of its signature algorithms (how an
/// application makes the client sign an RSA key with rsa-sha2-256 when the
/// server also lists rsa-sha2-512, which the client would prefer).
pub struct OnlyAlgorithm {
    /// The key.
    pub key: PrivateKey,
    /// The one algorithm it signs with.
    pub algorithm: &'static str,
}

impl SigningKey for OnlyAlgorithm {
    fn key_type(&self) -> &str {
        self.key.key_type()
    }

    fn public_key_blob(&self) -> Vec<u8> {
        self.key.public_key_blob()
    }

    fn signature_algorithms(&self) -> Vec<&str> {
        vec![self.algorithm]
    }

    fn sign(
        &self,
        algorithm: &str,
        message: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, AlgorithmError> {
        assert_eq!(
            algorithm, self.algorithm,
            "asked to sign with another algorithm"
        );
        self.key.sign(algorithm, message, rng)
    }
}

/// OpenSSH's `ssh`, pointed at a sekura server on 127.0.0.1 whose host key
/// it pins, with user keys made by ssh-keygen.
pub struct SshClient {
    /// The OpenSSH programs.
    pub openssh: OpenSsh,
    /// The server's port.
    pub port: u16,
    /// The known_hosts file naming the server's host key.
    pub known_hosts: PathBuf,
    /// Where the user keys (`id_<kind>`) and the askpass script are.
    pub dir: PathBuf,
}

impl SshClient {
    /// Makes `user_keys` (ssh-keygen's type and bits) in `dir`, named
    /// `id_<kind>`: their public blobs, for the server to authorize.
    pub fn make_user_keys(
        openssh: &OpenSsh,
        dir: &Path,
        user_keys: &[(&str, Option<u32>)],
    ) -> Vec<Vec<u8>> {
        user_keys
            .iter()
            .map(|&(kind, bits)| {
                let path = dir.join(format!("id_{kind}"));
                openssh.keygen(&path, kind, bits).unwrap();
                PublicKey::from_file(path.with_extension("pub"))
                    .unwrap()
                    .to_blob()
            })
            .collect()
    }

    /// ssh to the server on `port`, whose host key is `host_line`
    /// (OpenSSH's public key line), written into `dir/known_hosts`.
    pub fn new(openssh: OpenSsh, dir: &Path, port: u16, host_line: &str) -> SshClient {
        let known_hosts = dir.join("known_hosts");
        std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_line}\n")).unwrap();
        SshClient {
            openssh,
            port,
            known_hosts,
            dir: dir.to_path_buf(),
        }
    }

    /// ssh to the server, the host key checked against the known_hosts
    /// file, no configuration or agent of the machine's, `options` first
    /// (ssh keeps the first value of an option). With `log`, ssh writes its
    /// DEBUG1 log there (`-E`); otherwise it logs errors only.
    pub fn command(&self, log: Option<&Path>, options: &[&str]) -> Command {
        let mut cmd = Command::new(&self.openssh.ssh);
        match log {
            Some(path) => {
                cmd.arg("-E").arg(path).args(["-o", "LogLevel=DEBUG1"]);
            }
            None => {
                cmd.args(["-o", "LogLevel=ERROR"]);
            }
        }
        cmd.args(options)
            .args(["-F", "/dev/null", "-p"])
            .arg(self.port.to_string())
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(["-o", "GlobalKnownHostsFile=/dev/null"])
            .args(["-o", "StrictHostKeyChecking=yes"])
            .args(["-o", "HostKeyAlgorithms=ssh-ed25519"])
            .args(["-o", "IdentityAgent=none", "-o", "ConnectTimeout=10"])
            .env_remove("SSH_AUTH_SOCK");
        cmd
    }

    /// ssh logging in with `password` (given by an SSH_ASKPASS script).
    pub fn password(&self, password: &str, options: &[&str]) -> Command {
        let askpass = self.dir.join("askpass");
        std::fs::write(&askpass, format!("#!/bin/sh\necho '{password}'\n")).unwrap();
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut cmd = self.command(None, options);
        cmd.args([
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
        ])
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", "sekura-test:0");
        cmd
    }

    /// ssh logging in with the key `id_<kind>`.
    pub fn key(&self, kind: &str, log: Option<&Path>, options: &[&str]) -> Command {
        let mut cmd = self.command(log, options);
        cmd.args([
            "-o",
            "PreferredAuthentications=publickey",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-i",
        ])
        .arg(self.dir.join(format!("id_{kind}")));
        cmd
    }
}

/// Runs ssh (`cmd`, then the destination and command), with a deadline.
pub fn run_ssh(mut cmd: Command, destination_and_command: &[&str], stdin: &[u8]) -> Ran {
    cmd.args(destination_and_command);
    run_with_deadline(cmd, stdin, SSH_LIMIT).unwrap()
}

impl SshClient {
    /// `user` logs in with `password` (through SSH_ASKPASS) and `echo
    /// hello` runs, stdout and stderr as expected; a wrong password is
    /// refused.
    pub fn check_password_login(&self, user: &str, password: &str) {
        let destination = format!("{user}@127.0.0.1");
        let ran = run_ssh(
            self.password(password, &[]),
            &[&destination, "echo hello"],
            b"",
        );
        assert_eq!(
            (ran.code(), ran.stdout_text().as_str(), ran.stderr.as_str()),
            (Some(0), "hello\n", ""),
            "{ran}"
        );
        let ran = run_ssh(
            self.password("wrong", &[]),
            &[&destination, "echo hello"],
            b"",
        );
        assert_eq!(ran.code(), Some(255), "{ran}");
        assert!(ran.stdout.is_empty(), "{ran}");
        assert!(ran.stderr.contains("Permission denied"), "{ran}");
    }

    /// `user` logs in with each key `id_<kind>` of `kinds` (signed by ssh,
    /// verified by the server) and runs `echo`; a key of the right type
    /// that the server does not know is refused.
    pub fn check_key_logins(&self, user: &str, kinds: &[&str]) {
        let destination = format!("{user}@127.0.0.1");
        for kind in kinds {
            let ran = run_ssh(
                self.key(kind, None, &[]),
                &[&destination, &format!("echo {kind} ok")],
                b"",
            );
            assert_eq!(
                (ran.code(), ran.stdout_text()),
                (Some(0), format!("{kind} ok\n")),
                "{kind}: {ran}"
            );
        }
        self.openssh
            .keygen(&self.dir.join("id_stranger"), "ed25519", None)
            .unwrap();
        let ran = run_ssh(
            self.key("stranger", None, &[]),
            &[&destination, "echo no"],
            b"",
        );
        assert_eq!(ran.code(), Some(255), "{ran}");
        assert!(ran.stdout.is_empty(), "{ran}");
        assert!(ran.stderr.contains("Permission denied"), "{ran}");
    }
}

impl SshClient {
    /// `ssh -R` through a control master, then `ssh -O cancel -R` (which
    /// sends `cancel-tcpip-forward`, RFC 4254 §7.1): asserts that the
    /// server listens on the forwarded 127.0.0.1 port while the forward
    /// stands and stops listening once it is cancelled, with the session
    /// still up. Logs in to `destination` with the key `id_ed25519`.
    pub fn remote_forward_then_cancel(&self, destination: &str) {
        let port = crate::support::free_port().unwrap();
        // Unix socket paths are short (108 bytes): not in the fixture's dir.
        let control =
            std::env::temp_dir().join(format!("sekura-mux-{}-{port}", std::process::id()));
        let control_path = control.to_str().unwrap();
        // The target is never connected to: no connection is made.
        let spec = format!("127.0.0.1:{port}:127.0.0.1:9");
        let mut master = self.key(
            "ed25519",
            None,
            &[
                "-N",
                "-M",
                "-S",
                control_path,
                "-o",
                "ExitOnForwardFailure=yes",
                "-R",
                &spec,
            ],
        );
        master
            .arg(destination)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let _master =
            crate::support::KillOnDrop::new(master.spawn().unwrap(), "ssh control master");
        // Binding the port fails exactly while someone listens on it.
        let listening = || std::net::TcpListener::bind(("127.0.0.1", port)).is_err();
        let wait_for = |what: &str, done: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !done() {
                assert!(Instant::now() < deadline, "timed out waiting for {what}");
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        wait_for("the forward and the control socket", &|| {
            listening() && control.exists()
        });
        let cancel = self
            .key(
                "ed25519",
                None,
                &["-S", control_path, "-O", "cancel", "-R", &spec],
            )
            .arg(destination)
            .output()
            .unwrap();
        assert!(
            cancel.status.success(),
            "ssh -O cancel: {}",
            String::from_utf8_lossy(&cancel.stderr)
        );
        wait_for("the server to stop listening", &|| !listening());
        let check = self
            .key("ed25519", None, &["-S", control_path, "-O", "check"])
            .arg(destination)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "the master is gone after the cancel"
        );
        let _ = std::fs::remove_file(&control);
    }
}
