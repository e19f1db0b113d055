//! Helpers for the Dropbear interop tests (`tests/interop_dropbear.rs`), on
//! top of `support/mod.rs`: finding Dropbear's programs, making keys with
//! `dropbearkey`, and a throwaway `dropbear` server on 127.0.0.1 killed
//! (with the processes it forked) when dropped.
//!
//! It uses `crate::support`, so a test includes it after `mod support;`
//! with `#[path = "support/dropbear.rs"] mod dropbear;`.
#![allow(dead_code)]

use crate::support::{KillOnDrop, find_in_path, free_port, tail};
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Dropbear's programs (Debian package `dropbear-bin`).
#[derive(Debug, Clone)]
pub struct Dropbear {
    /// The server, `dropbear`.
    pub dropbear: PathBuf,
    /// The client, `dbclient`.
    pub dbclient: PathBuf,
    /// The key generator, `dropbearkey`.
    pub dropbearkey: PathBuf,
}

impl Dropbear {
    /// Finds the three programs in `PATH` (or `/usr/sbin` for the server).
    /// `Err` says what is missing.
    pub fn find() -> Result<Dropbear, String> {
        let find = |name: &str| {
            find_in_path(name)
                .or_else(|| {
                    let path = Path::new("/usr/sbin").join(name);
                    path.is_file().then_some(path)
                })
                .ok_or_else(|| format!("{name} is not installed (apt-get install dropbear-bin)"))
        };
        Ok(Dropbear {
            dropbear: find("dropbear")?,
            dbclient: find("dbclient")?,
            dropbearkey: find("dropbearkey")?,
        })
    }

    /// Makes a key of `kind` (`ed25519`, `rsa`, `ecdsa`) in Dropbear's
    /// format at `path`, and returns its public half as an OpenSSH line.
    pub fn keygen(&self, path: &Path, kind: &str, bits: Option<u32>) -> Result<String, String> {
        let mut cmd = Command::new(&self.dropbearkey);
        cmd.args(["-t", kind, "-f"]).arg(path);
        if let Some(bits) = bits {
            cmd.args(["-s", &bits.to_string()]);
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running dropbearkey: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "dropbearkey -t {kind} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        self.public_line(path)
    }

    /// The public half of the Dropbear key at `path`, as an OpenSSH line
    /// (`dropbearkey -y`).
    pub fn public_line(&self, path: &Path) -> Result<String, String> {
        let out = Command::new(&self.dropbearkey)
            .arg("-y")
            .arg("-f")
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running dropbearkey -y: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find(|line| line.starts_with("ssh-") || line.starts_with("ecdsa-"))
            .map(str::to_string)
            .ok_or_else(|| format!("dropbearkey -y printed no key: {text}"))
    }

    /// The algorithms `dbclient` lists for `-c help` (`ciphers`) or
    /// `-m help` (MACs).
    pub fn client_list(&self, flag: &str) -> Result<Vec<String>, String> {
        let out = Command::new(&self.dbclient)
            .args([flag, "help"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running dbclient {flag} help: {e}"))?;
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        let list = text
            .lines()
            .find_map(|line| line.split_once("Available ").map(|(_, rest)| rest))
            .and_then(|rest| rest.split_once(": "))
            .map(|(_, names)| names.trim().split(',').map(str::to_string).collect())
            .ok_or_else(|| format!("dbclient {flag} help printed no list: {text}"))?;
        Ok(list)
    }
}

/// A `dropbear` server in the foreground (`-F -E`), logging to a file.
#[derive(Debug)]
pub struct DropbearServer {
    process: KillOnDrop,
    address: SocketAddr,
    log: PathBuf,
}

impl DropbearServer {
    /// Starts `dropbear -F -E -p 127.0.0.1:PORT -r KEY...` with `extra`
    /// arguments, logging into `dir`, and waits until it accepts
    /// connections. Retries on another port if the first was taken.
    pub fn start(
        dropbear: &Dropbear,
        dir: &Path,
        host_keys: &[PathBuf],
        extra: &[&str],
    ) -> Result<DropbearServer, String> {
        let mut last = String::new();
        for attempt in 0..5 {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            let log = dir.join(format!("dropbear-{attempt}.log"));
            let log_file = File::create(&log).map_err(|e| format!("creating log: {e}"))?;
            let mut cmd = Command::new(&dropbear.dropbear);
            cmd.args(["-F", "-E", "-p", &format!("127.0.0.1:{port}")])
                .arg("-P")
                .arg(dir.join(format!("dropbear-{attempt}.pid")));
            for key in host_keys {
                cmd.arg("-r").arg(key);
            }
            cmd.args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log_file));
            let child = cmd.spawn().map_err(|e| format!("starting dropbear: {e}"))?;
            let mut process = KillOnDrop::new(child, "dropbear");
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let deadline = Instant::now() + Duration::from_secs(10);
            while process.is_running() && Instant::now() < deadline {
                if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                    return Ok(DropbearServer {
                        process,
                        address,
                        log,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            last = tail(&log, 20);
        }
        Err(format!("dropbear did not start; its log:\n{last}"))
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// Its whole log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
