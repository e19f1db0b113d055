//! `async_server`: an echo/exec SSH server on the async API (tokio), one
//! task per connection and per session, no thread per client.
//!
//! ```text
//! cargo run --example async_server                       # listen on 127.0.0.1:2222
//! cargo run --example async_server -- --listen 127.0.0.1:0 --host-key my_key
//! cargo run --example async_server -- --user alice --password secret
//! cargo run --example async_server -- --authorized-keys ~/.ssh/id_ed25519.pub
//! ```
//!
//! User `robey`, password `foo` unless `--user`/`--password` say otherwise
//! (or a key from `--authorized-keys`). The host key is kept in
//! `async_host_key` (OpenSSH format; `--host-key FILE` for another file),
//! made on the first run.
//!
//! Commands (`ssh -p 2222 robey@127.0.0.1 COMMAND`, or
//! `cargo run --example async_client`):
//!
//! | command      | what it does                                         |
//! |--------------|------------------------------------------------------|
//! | `echo TEXT`  | prints TEXT                                          |
//! | `cat`        | echoes its input back until EOF                      |
//! | `discard`    | reads its input to EOF, prints the byte count        |
//! | `zeros N`    | writes N zero bytes                                  |
//! | `true`       | exits 0                                              |
//! | `false`      | exits 1                                              |
//!
//! A shell (`ssh -p 2222 robey@127.0.0.1`) echoes each line back; `exit`
//! or Ctrl-D ends it.
//!
//! Ctrl-C shuts down gracefully: no new connections, 5 s for the sessions
//! still running to finish, then the rest are disconnected and a summary
//! is printed.

use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::{PrivateKey, PublicKey};
use sekura::tokio::{AuthResult, Channel, Handler, Pty, Server, SessionRequest};
use sekura::transport::Config;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How long sessions may go on after Ctrl-C before they are disconnected.
const GRACE: Duration = Duration::from_secs(5);

/// Counters for the summary printed at shutdown.
#[derive(Default)]
struct Stats {
    logins: AtomicU64,
    failed_logins: AtomicU64,
    sessions: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// The server's policy: who may log in, and what a session does.
struct Echo {
    user: String,
    password: String,
    /// Key blobs from `--authorized-keys`.
    authorized: Vec<Vec<u8>>,
    stats: Arc<Stats>,
}

impl Echo {
    fn verdict(&self, ok: bool) -> AuthResult {
        let counter = if ok {
            &self.stats.logins
        } else {
            &self.stats.failed_logins
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if ok {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    /// Runs one exec command; returns its exit status.
    async fn exec(&self, command: &str, channel: Channel) -> u32 {
        let (name, argument) = command.split_once(' ').unwrap_or((command, ""));
        match name {
            "echo" => {
                self.write(channel, format!("{argument}\n").as_bytes())
                    .await
            }
            "cat" => {
                // Read and write halves, so the copy can do both at once.
                let (mut read, mut write) = channel.split();
                match tokio::io::copy(&mut read, &mut write).await {
                    Ok(n) => {
                        self.stats.bytes_in.fetch_add(n, Ordering::Relaxed);
                        self.stats.bytes_out.fetch_add(n, Ordering::Relaxed);
                        let _ = write.shutdown().await;
                        0
                    }
                    Err(_) => 1,
                }
            }
            "discard" => {
                let mut channel = channel;
                match tokio::io::copy(&mut channel, &mut tokio::io::sink()).await {
                    Ok(n) => {
                        self.stats.bytes_in.fetch_add(n, Ordering::Relaxed);
                        self.write(channel, format!("{n}\n").as_bytes()).await
                    }
                    Err(_) => 1,
                }
            }
            "zeros" => {
                let Ok(mut left) = argument.trim().parse::<u64>() else {
                    return self.fail(channel, "usage: zeros N\n").await;
                };
                let mut channel = channel;
                // On the heap: an array here would be part of every
                // session task's size, even the idle ones'.
                let block = vec![0u8; 32 * 1024];
                while left > 0 {
                    let n = left.min(block.len() as u64) as usize;
                    let chunk = block.get(..n).unwrap_or_default();
                    if channel.write_all(chunk).await.is_err() {
                        return 1;
                    }
                    self.stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                    left -= n as u64;
                }
                0
            }
            "true" => 0,
            "false" => 1,
            _ => {
                self.fail(channel, &format!("unknown command: {command}\n"))
                    .await
            }
        }
    }

    /// Writes `text` to the channel: exit status 0, or 1 if it could not.
    async fn write(&self, mut channel: Channel, text: &[u8]) -> u32 {
        self.stats
            .bytes_out
            .fetch_add(text.len() as u64, Ordering::Relaxed);
        match channel.write_all(text).await {
            Ok(()) => 0,
            Err(_) => 1,
        }
    }

    /// Writes `why` to the client's stderr; exit status 127.
    async fn fail(&self, channel: Channel, why: &str) -> u32 {
        let _ = channel.stderr().write_all(why.as_bytes()).await;
        127
    }

    /// The shell: echoes each line back until `exit` or EOF. With a
    /// terminal, the client sends keys as typed (`\r` for Enter) and
    /// expects `\r\n` line ends.
    async fn shell(&self, channel: Channel, pty: Option<Pty>) -> u32 {
        let newline: &[u8] = if pty.is_some() { b"\r\n" } else { b"\n" };
        let (read, mut write) = channel.split();
        let greeting = [b"echo shell: type a line, `exit` ends", newline].concat();
        let _ = write.write_all(&greeting).await;
        let mut lines = BufReader::new(read);
        let mut line = Vec::new();
        loop {
            line.clear();
            let end = if pty.is_some() { b'\r' } else { b'\n' };
            match lines.read_until(end, &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            self.stats
                .bytes_in
                .fetch_add(line.len() as u64, Ordering::Relaxed);
            let text = line.trim_ascii_end();
            // Ctrl-D on a terminal, `exit` anywhere.
            if text == b"exit" || text.contains(&4) {
                break;
            }
            let reply = [b"> ", text, newline].concat();
            self.stats
                .bytes_out
                .fetch_add(reply.len() as u64, Ordering::Relaxed);
            if write.write_all(&reply).await.is_err() {
                break;
            }
        }
        0
    }
}

impl Handler for Echo {
    async fn check_password(&self, user: &str, password: &str) -> AuthResult {
        self.verdict(user == self.user && password == self.password)
    }

    async fn check_public_key(&self, user: &str, key: &[u8]) -> AuthResult {
        self.verdict(user == self.user && self.authorized.iter().any(|k| k == key))
    }

    async fn session(
        &self,
        _user: &str,
        request: SessionRequest,
        pty: Option<Pty>,
        channel: Channel,
    ) -> u32 {
        self.stats.sessions.fetch_add(1, Ordering::Relaxed);
        match request {
            SessionRequest::Exec(command) => {
                self.exec(&String::from_utf8_lossy(&command), channel).await
            }
            SessionRequest::Shell => self.shell(channel, pty).await,
            SessionRequest::Subsystem(name) => {
                self.fail(channel, &format!("no subsystem {name}\n")).await
            }
        }
    }
}

/// Loads the host key, or makes and saves one.
fn host_key(path: &Path) -> Result<PrivateKey, Box<dyn Error>> {
    if path.exists() {
        return Ok(PrivateKey::from_file(path, None)?);
    }
    let mut rng = sekura::os_rng();
    let key = PrivateKey::generate_ed25519(&mut rng);
    std::fs::write(path, key.to_openssh(None, &mut rng)?.as_bytes())?;
    println!("made a new host key in {}", path.display());
    Ok(key)
}

/// The key blobs of an `authorized_keys` file.
fn authorized_keys(path: &str) -> Result<Vec<Vec<u8>>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|line| PublicKey::from_authorized_keys_line(line).ok())
        .map(|entry| entry.key().to_blob())
        .collect())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut listen = String::from("127.0.0.1:2222");
    let mut key_path = PathBuf::from("async_host_key");
    let mut user = String::from("robey");
    let mut password = String::from("foo");
    let mut authorized = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{arg} needs {what}"));
        match arg.as_str() {
            "--listen" | "-l" => listen = value("ADDRESS:PORT")?,
            "--host-key" => key_path = value("a file")?.into(),
            "--user" => user = value("a name")?,
            "--password" => password = value("a password")?,
            "--authorized-keys" => authorized = authorized_keys(&value("a file")?)?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }

    let key = host_key(&key_path)?;
    println!("host key {}", key.fingerprint_sha256());
    let config = Config::server(vec![Arc::new(key) as Arc<dyn SigningKey>]);
    let stats = Arc::new(Stats::default());
    let handler = Echo {
        user,
        password,
        authorized,
        stats: stats.clone(),
    };

    let listener = TcpListener::bind(&listen).await?;
    let address = listener.local_addr()?;
    // The load test reads this line to learn the port.
    println!("listening on {address}");

    let server = Server::new(config, handler);
    let shutdown = server.shutdown_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            println!("shutting down: sessions have {GRACE:?} to finish");
            shutdown.shutdown(GRACE);
        }
    });
    let started = Instant::now();
    server.serve(listener).await?;

    println!(
        "served {:.1?}: {} logins ({} failed), {} sessions, {} bytes in, {} bytes out",
        started.elapsed(),
        stats.logins.load(Ordering::Relaxed),
        stats.failed_logins.load(Ordering::Relaxed),
        stats.sessions.load(Ordering::Relaxed),
        stats.bytes_in.load(Ordering::Relaxed),
        stats.bytes_out.load(Ordering::Relaxed),
    );
    Ok(())
}
