//! Helpers for the PuTTY interop tests (`tests/interop_putty.rs`), on top
//! of `support/mod.rs` and `support/session.rs`: finding `plink` and
//! `puttygen` (Debian package `putty-tools`), converting OpenSSH keys to
//! PuTTY's `.ppk`, a private `$HOME` whose PuTTY default settings accept
//! every algorithm without a prompt, and plink runs with a deadline.
//!
//! It uses `crate::support` and `crate::session`, so a test includes it
//! after them with `#[path = "support/putty.rs"] mod putty;`.

use crate::session::{Ran, run_with_deadline};
use crate::support::find_in_path;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// PuTTY's command-line tools.
#[derive(Debug, Clone)]
pub struct Putty {
    /// The client, `plink`.
    pub plink: PathBuf,
    /// The key generator and converter, `puttygen`.
    pub puttygen: PathBuf,
    /// `plink -V`'s first line, e.g. `plink: Release 0.78`.
    pub version: String,
}

impl Putty {
    /// Finds plink and puttygen in `PATH`. `Err` says what is missing.
    pub fn find() -> Result<Putty, String> {
        let find = |name: &str| {
            find_in_path(name)
                .ok_or_else(|| format!("{name} is not installed (apt-get install putty-tools)"))
        };
        let plink = find("plink")?;
        let puttygen = find("puttygen")?;
        let out = Command::new(&plink)
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", plink.display()))?;
        let version = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        Ok(Putty {
            plink,
            puttygen,
            version,
        })
    }

    /// Converts the OpenSSH private key at `openssh` (no passphrase) to
    /// PuTTY's format at `ppk`.
    pub fn to_ppk(&self, openssh: &Path, ppk: &Path) -> Result<(), String> {
        let out = Command::new(&self.puttygen)
            .arg(openssh)
            .args(["-O", "private", "-o"])
            .arg(ppk)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run puttygen: {e}"))?;
        if !out.status.success() || !ppk.is_file() {
            return Err(format!(
                "puttygen {} -O private failed: {}",
                openssh.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }

    /// Makes `home` a private `$HOME` for plink: its "Default Settings"
    /// (which plink loads when the host is not a saved session's name) put
    /// PuTTY's warning threshold last in the cipher, key exchange and host
    /// key lists, so that the legacy algorithms are used without the
    /// question plink cannot ask in `-batch` mode.
    pub fn make_home(home: &Path) -> Result<(), String> {
        let sessions = home.join(".putty").join("sessions");
        std::fs::create_dir_all(&sessions).map_err(|e| format!("{}: {e}", sessions.display()))?;
        let settings = [
            "Cipher=aes,chacha20,aesgcm,3des,des,blowfish,arcfour,WARN",
            "KEX=ntru-curve25519,ecdh,dh-gex-sha1,dh-group18-sha512,dh-group17-sha512,\
             dh-group16-sha512,dh-group15-sha512,dh-group14-sha1,rsa,dh-group1-sha1,WARN",
            "HostKey=ed25519,ed448,ecdsa,rsa,dsa,WARN",
            // No connection sharing: each run is its own connection.
            "ConnectionSharing=0",
        ];
        let text: String = settings.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(sessions.join("Default%20Settings"), text)
            .map_err(|e| format!("writing PuTTY's default settings: {e}"))
    }

    /// `plink -ssh -batch -v` to `user@127.0.0.1:port`, the host key pinned
    /// by its SHA-256 fingerprint, with `home` as `$HOME`, then `options`.
    pub fn plink(
        &self,
        home: &Path,
        port: u16,
        user: &str,
        fingerprint: &str,
        options: &[&str],
    ) -> Command {
        let mut cmd = Command::new(&self.plink);
        cmd.args(["-ssh", "-batch", "-v", "-noagent", "-T", "-P"])
            .arg(port.to_string())
            .args(["-l", user, "-hostkey", fingerprint])
            .args(options)
            .arg("127.0.0.1")
            .env("HOME", home)
            .env_remove("SSH_AUTH_SOCK");
        cmd
    }
}

/// Runs plink (`cmd`, the remote `command` appended) with `stdin` as its
/// input; kills it after `timeout`.
pub fn run(mut cmd: Command, command: &str, stdin: &[u8], timeout: Duration) -> Ran {
    cmd.arg(command);
    run_with_deadline(cmd, stdin, timeout).unwrap_or_else(|e| panic!("{e}"))
}
