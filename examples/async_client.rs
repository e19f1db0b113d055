//! `async_client`: runs a command over SSH with the async API, like
//! `ssh host command`.
//!
//! ```text
//! cargo run --example async_client -- [OPTIONS] [user@]host[:port] COMMAND...
//!
//!   -p PORT              port (default 22, or the one in the target)
//!   --password PASSWORD  log in with this password (after any keys)
//!   -i FILE              log in with this private key (unencrypted)
//!   --insecure           accept any host key (tests only!)
//!   --fingerprint SHA256:...  accept only the host key with this fingerprint
//!   --stdin              send our stdin to the command (default: none)
//!   --parallel N         run the command on N channels at once (at most 256,
//!                        `Config::max_channels` on both sides)
//! ```
//!
//! Without `--insecure` or `--fingerprint`, the host key is checked
//! against `~/.ssh/known_hosts`, as `ssh` does. Against
//! `cargo run --example async_server` (which prints its fingerprint):
//!
//! ```text
//! cargo run --example async_client -- --fingerprint SHA256:... --password foo \
//!     robey@127.0.0.1:2222 echo hello
//! echo some text | cargo run --example async_client -- --insecure --password foo \
//!     --stdin robey@127.0.0.1:2222 cat
//! cargo run --example async_client -- --insecure --password foo --parallel 100 \
//!     robey@127.0.0.1:2222 zeros 1000000
//! ```
//!
//! The command's stdout and stderr are copied to ours, and we exit with
//! its exit status. `--parallel N` opens N channels on the one
//! connection and runs the command on each in its own task: N tasks on a
//! single-threaded runtime, no thread per channel. It then prints what
//! each channel received and exits with the first non-zero status.

use sekura::connect::Connect;
use sekura::tokio::{Channel, Session};
use std::error::Error;
use std::io::{Read, Write};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// What one run of the command produced.
struct Outcome {
    stdout: u64,
    stderr: u64,
    status: Option<u32>,
}

/// Copies what `from` delivers, until EOF, to `to` (a plain function, so
/// both our terminal and a counter fit); returns the byte count.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; 32 * 1024];
    let mut total = 0;
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            return Ok(total);
        }
        to(buffer.get(..n).unwrap_or_default())?;
        total += n as u64;
    }
}

/// Runs `command` on a new channel: sends it `input` (then EOF), copies
/// its stdout and stderr to ours when `print` is set (else just counts
/// them), and waits for its exit status.
async fn run(
    session: &Session,
    command: &str,
    input: Option<mpsc::Receiver<Vec<u8>>>,
    print: bool,
) -> Result<Outcome, Box<dyn Error + Send + Sync>> {
    let mut channel: Channel = session.open_session().await?;
    channel.exec(command).await?;
    let stderr = channel.stderr();
    let (mut read, mut write) = channel.split();
    // The command's stdin, written by a task of its own while we read.
    tokio::spawn(async move {
        if let Some(mut input) = input {
            while let Some(chunk) = input.recv().await {
                if write.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
        let _ = write.shutdown().await;
    });
    let to_terminal = |to_stderr: bool| {
        move |data: &[u8]| {
            if !print {
                return Ok(());
            }
            // Small blocking writes to the terminal, as any CLI does.
            if to_stderr {
                std::io::stderr().write_all(data)
            } else {
                let mut out = std::io::stdout().lock();
                out.write_all(data)?;
                out.flush()
            }
        }
    };
    let (stdout, stderr_bytes) = tokio::try_join!(
        pump(&mut read, to_terminal(false)),
        pump(stderr, to_terminal(true)),
    )?;
    Ok(Outcome {
        stdout,
        stderr: stderr_bytes,
        status: read.exit_status().await?,
    })
}

/// Our stdin as chunks, read on a thread of its own (reading a terminal
/// blocks).
fn stdin_chunks() -> mpsc::Receiver<Vec<u8>> {
    let (send, receive) = mpsc::channel(4);
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 32 * 1024];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n @ 1..) = stdin.read(&mut buffer) {
            let chunk = buffer.get(..n).unwrap_or_default().to_vec();
            if send.blocking_send(chunk).is_err() {
                break;
            }
        }
    });
    receive
}

/// Exit code for a command's status: 255 when it sent none.
fn exit_code(status: Option<u32>) -> i32 {
    status.map_or(255, |s| i32::try_from(s.min(255)).unwrap_or(255))
}

// One thread: the channels are tasks, not threads.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = client().await {
        eprintln!("async_client: {e}");
        std::process::exit(255);
    }
}

async fn client() -> Result<(), Box<dyn Error + Send + Sync>> {
    let mut target = None;
    let mut port = None;
    let mut password = None;
    let mut identity = None;
    let mut insecure = false;
    let mut fingerprint = None;
    let mut stdin = false;
    let mut parallel = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{arg} needs {what}"));
        match arg.as_str() {
            "-p" => port = Some(value("a port")?.parse::<u16>()?),
            "--password" => password = Some(value("a password")?),
            "-i" => identity = Some(value("a key file")?),
            "--insecure" => insecure = true,
            "--fingerprint" => fingerprint = Some(value("SHA256:...")?),
            "--stdin" => stdin = true,
            "--parallel" => parallel = value("a count")?.parse()?,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag:?}").into()),
            _ => {
                target = Some(arg);
                break;
            }
        }
    }
    let target = target.ok_or("usage: async_client [OPTIONS] [user@]host[:port] COMMAND...")?;
    let command = args.collect::<Vec<_>>().join(" ");
    if command.is_empty() {
        return Err("no command given".into());
    }

    let mut connect = Connect::new(&target);
    if let Some(port) = port {
        connect = connect.port(port);
    }
    if let Some(password) = &password {
        connect = connect.password(password);
    }
    if let Some(identity) = &identity {
        connect = connect.identity_file(identity, None);
    }
    if let Some(fingerprint) = &fingerprint {
        connect = connect.host_key_fingerprint(fingerprint);
    } else if insecure {
        connect = connect.insecure_accept_any_host_key();
    }
    let session = connect.connect_async().await?;

    if parallel <= 1 {
        let outcome = run(&session, &command, stdin.then(stdin_chunks), true).await?;
        session.close().await;
        std::process::exit(exit_code(outcome.status));
    }

    // N channels at once on the one connection, each in its own task.
    let session = std::sync::Arc::new(session);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..parallel {
        let session = session.clone();
        let command = command.clone();
        tasks.spawn(async move {
            let outcome = run(&session, &command, None, false).await;
            (i, outcome.map_err(|e| e.to_string()))
        });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        outcomes.push(done?);
    }
    let elapsed = started.elapsed();
    outcomes.sort_by_key(|(i, _)| *i);
    let mut code = 0;
    for (i, outcome) in &outcomes {
        match outcome {
            Ok(o) => {
                println!(
                    "channel {i}: exit {:?}, {} bytes out, {} bytes err",
                    o.status, o.stdout, o.stderr
                );
                if code == 0 {
                    code = exit_code(o.status);
                }
            }
            Err(e) => {
                println!("channel {i}: failed: {e}");
                if code == 0 {
                    code = 255;
                }
            }
        }
    }
    println!("{parallel} channels in {elapsed:.2?} on one thread");
    if let Ok(session) = std::sync::Arc::try_unwrap(session) {
        session.close().await;
    }
    std::process::exit(code);
}
