//! `load_test`: N concurrent SSH connections against the async server,
//! on 127.0.0.1, with the server's memory measured.
//!
//! ```text
//! ulimit -n 65536                          # each process holds N sockets
//! cargo build --release --examples         # load_test runs the built async_server
//! target/release/examples/load_test                    # 10,000 connections
//! target/release/examples/load_test --connections 1000 --concurrency 64
//! ```
//!
//! It starts `async_server` (the binary next to its own, built by
//! `cargo build --examples`) as a child process, so the server's memory is
//! its own, and then:
//!
//! 1. opens `--connections` N connections (default 10,000), at most
//!    `--concurrency` (default 128) handshakes in flight: TCP connect, key
//!    exchange, password login, one session channel running `cat`, left
//!    open and idle. Reports connections per second and latency.
//! 2. measures the server's resident memory (`VmRSS` and `VmHWM` of
//!    `/proc/<pid>/status`) with all N held: bytes per connection =
//!    (RSS with N held - RSS before the first) / N.
//! 3. echoes `--echo-bytes` (64 KiB) on a random `--echo-percent` (1%)
//!    of the channels at once, checking every byte.
//! 4. closes every connection, then stops the server with SIGINT (its
//!    graceful shutdown) and prints its summary.
//!
//! The whole run is bounded by `--timeout` (default 600 s); only loopback
//! addresses are used.

use sekura::HostKeyCheck;
use sekura::tokio::{Channel, Session};
use sekura::transport::Config;
use std::error::Error;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

/// The options.
struct Options {
    connections: usize,
    concurrency: usize,
    echo_percent: f64,
    echo_bytes: usize,
    timeout: Duration,
}

/// The server child process, killed if we stop early (even by panic).
struct ServerProcess {
    child: Child,
    address: SocketAddr,
    fingerprint: String,
    output: BufReader<std::process::ChildStdout>,
}

impl ServerProcess {
    /// Starts `async_server` on a free port with a fresh host key in
    /// `dir`, and reads its address and key fingerprint.
    fn start(dir: &Path) -> Result<ServerProcess> {
        let binary = std::env::current_exe()?.with_file_name("async_server");
        if !binary.exists() {
            return Err(format!(
                "{} not found: run `cargo build --release --examples` first",
                binary.display()
            )
            .into());
        }
        let mut child = Command::new(&binary)
            .args(["--listen", "127.0.0.1:0", "--host-key"])
            .arg(dir.join("host_key"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut output = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut fingerprint = None;
        let mut line = String::new();
        // `host key SHA256:...`, then `listening on 127.0.0.1:PORT`.
        let address = loop {
            line.clear();
            if output.read_line(&mut line)? == 0 {
                let _ = child.kill();
                return Err("async_server ended before listening".into());
            }
            if let Some(key) = line.trim().strip_prefix("host key ") {
                fingerprint = Some(key.to_string());
            }
            if let Some(address) = line.trim().strip_prefix("listening on ") {
                break address.parse()?;
            }
        };
        Ok(ServerProcess {
            child,
            address,
            fingerprint: fingerprint.ok_or("async_server printed no host key")?,
            output,
        })
    }

    /// A field of `/proc/<pid>/status`, in bytes (`VmRSS`, `VmHWM`).
    fn memory(&self, field: &str) -> Result<u64> {
        proc_status_bytes(&format!("/proc/{}/status", self.child.id()), field)
    }

    /// Stops the server gracefully (SIGINT, as Ctrl-C), waits for it and
    /// returns what it printed.
    fn stop(mut self) -> Result<String> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err("the server did not stop within 15 s of SIGINT".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.output, &mut rest)?;
        Ok(rest)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU time (user + system, all threads) of a process so far, from
/// `/proc/<pid>/stat` (in clock ticks of 10 ms: USER_HZ is 100 on Linux).
fn cpu_time(pid: &str) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name (which may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .ok_or("bad stat")?
        .1
        .split_whitespace()
        .collect();
    // utime and stime: fields 14 and 15 of the line, 12 and 13 here.
    let ticks: u64 = fields.get(11).ok_or("bad stat")?.parse::<u64>()?
        + fields.get(12).ok_or("bad stat")?.parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}

/// A `kB` field of a `/proc/.../status` file, in bytes.
fn proc_status_bytes(path: &str, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(path)?;
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .ok_or(format!("no {field} in {path}"))?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .ok_or("bad status line")?
        .parse()?;
    Ok(kb * 1024)
}

/// Our soft limit on open files, from `/proc/self/limits`.
fn open_files_limit() -> Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or("no open-files line in /proc/self/limits")?;
    let soft = line.split_whitespace().nth(3).ok_or("bad limits line")?;
    Ok(if soft == "unlimited" {
        u64::MAX
    } else {
        soft.parse()?
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One held connection: its session and its idle `cat` channel.
struct Held {
    session: Session,
    channel: Channel,
}

/// Connects, logs in and starts `cat`; the time it took.
async fn open_one(address: SocketAddr, fingerprint: Arc<str>) -> Result<(Held, Duration)> {
    let started = Instant::now();
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let check = HostKeyCheck::fingerprint(&fingerprint);
    let session = Session::connect(stream, Config::default(), check).await?;
    session.authenticate_password("robey", "foo").await?;
    let mut channel = session.open_session().await?;
    channel.exec("cat").await?;
    Ok((Held { session, channel }, started.elapsed()))
}

/// Sends `bytes` through a channel's `cat` and checks what comes back.
async fn echo(held: &mut Held, bytes: usize, seed: usize) -> Result<()> {
    let data: Vec<u8> = (0..bytes).map(|i| (i * 31 + seed) as u8).collect();
    // Less than the channel window: all of it can be written before
    // reading, as the echo waits in our receive window.
    held.channel.write_all(&data).await?;
    let mut back = vec![0u8; bytes];
    held.channel.read_exact(&mut back).await?;
    if back != data {
        return Err("the echo differs from what was sent".into());
    }
    Ok(())
}

/// A small deterministic generator (xorshift), for the random subset.
fn pick(count: usize, out_of: usize, mut seed: u64) -> Vec<usize> {
    let mut chosen = std::collections::BTreeSet::new();
    while chosen.len() < count.min(out_of) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        chosen.insert((seed % out_of as u64) as usize);
    }
    chosen.into_iter().collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

async fn load_test(options: Options) -> Result<()> {
    let n = options.connections;
    let limit = open_files_limit()?;
    // Each process (this one, the server) holds one socket per
    // connection, plus a few files of its own.
    let needed = n as u64 + 200;
    if limit < needed {
        return Err(format!(
            "the open-files limit is {limit}, {n} connections need {needed} in each process \
             (this one and the server): run `ulimit -n 65536` first"
        )
        .into());
    }

    let dir = std::env::temp_dir().join(format!("sekura-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let server = ServerProcess::start(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let server = server?;
    println!(
        "server pid {} on {} ({}), {n} connections, {} handshakes in flight",
        server.child.id(),
        server.address,
        server.fingerprint,
        options.concurrency
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_start = server.memory("VmRSS")?;
    let server_pid = server.child.id().to_string();
    let (server_cpu, client_cpu) = (cpu_time(&server_pid)?, cpu_time("self")?);

    // 1. Open N connections, `concurrency` handshakes at a time.
    let fingerprint: Arc<str> = server.fingerprint.clone().into();
    let permits = Arc::new(Semaphore::new(options.concurrency));
    let started = Instant::now();
    let mut opening = JoinSet::new();
    for _ in 0..n {
        let permit = permits.clone().acquire_owned().await?;
        let fingerprint = fingerprint.clone();
        let address = server.address;
        opening.spawn(async move {
            let opened = open_one(address, fingerprint).await;
            drop(permit);
            opened
        });
    }
    let mut held = Vec::with_capacity(n);
    let mut latencies = Vec::with_capacity(n);
    let mut failures = 0usize;
    let mut first_failure = None;
    while let Some(opened) = opening.join_next().await {
        match opened? {
            Ok((h, latency)) => {
                held.push(h);
                latencies.push(latency);
            }
            Err(e) => {
                failures += 1;
                first_failure.get_or_insert(e.to_string());
            }
        }
    }
    let open_time = started.elapsed();
    let server_cpu = cpu_time(&server_pid)?.saturating_sub(server_cpu);
    let client_cpu = cpu_time("self")?.saturating_sub(client_cpu);
    latencies.sort();
    println!(
        "opened {} connections in {:.2?} ({failures} failed{}): {:.0} connections/s; \
         latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        held.len(),
        open_time,
        first_failure.map_or(String::new(), |e| format!(", first: {e}")),
        held.len() as f64 / open_time.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    let per = |cpu: Duration| cpu.as_secs_f64() * 1e6 / held.len().max(1) as f64;
    println!(
        "CPU while opening: server {server_cpu:.2?} ({:.0} µs per connection), \
         client {client_cpu:.2?} ({:.0} µs per connection); {:.2} of {} cores busy",
        per(server_cpu),
        per(client_cpu),
        (server_cpu + client_cpu).as_secs_f64() / open_time.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );

    if let Some(first) = held.first() {
        println!(
            "algorithms: {}",
            first.session.negotiated().unwrap_or_default()
        );
    }

    // 2. The server's memory with all of them held (and idle).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_held = server.memory("VmRSS")?;
    let per_connection = rss_held.saturating_sub(rss_start) / held.len().max(1) as u64;
    println!(
        "server RSS: {:.1} MiB at start, {:.1} MiB with {} held: {} bytes ({:.1} KiB) per connection",
        mib(rss_start),
        mib(rss_held),
        held.len(),
        per_connection,
        per_connection as f64 / 1024.0
    );

    // 3. Echo on a random subset, all at once.
    let count = ((held.len() as f64 * options.echo_percent / 100.0).ceil() as usize).max(1);
    let chosen = pick(count, held.len(), 0x5eed_1234_abcd_ef01);
    let mut echoing = JoinSet::new();
    // Move the chosen connections into their tasks, then back.
    for &i in chosen.iter().rev() {
        let mut h = held.swap_remove(i);
        let bytes = options.echo_bytes;
        echoing.spawn(async move {
            let result = echo(&mut h, bytes, i).await;
            (h, result)
        });
    }
    let echo_started = Instant::now();
    let mut echo_failures = 0;
    while let Some(done) = echoing.join_next().await {
        let (h, result) = done?;
        if let Err(e) = result {
            echo_failures += 1;
            eprintln!("echo failed: {e}");
        }
        held.push(h);
    }
    let echo_time = echo_started.elapsed();
    let echoed = (count * options.echo_bytes) as u64;
    println!(
        "echoed {} KiB on each of {count} channels at once in {echo_time:.2?} ({echo_failures} failed): \
         {:.1} MB/s each way",
        options.echo_bytes / 1024,
        echoed as f64 / echo_time.as_secs_f64() / 1e6
    );
    let rss_peak = server.memory("VmHWM")?;

    // 4. Close them all: each channel, then each session (sending
    // DISCONNECT and waiting for its driver to finish).
    let closing_started = Instant::now();
    let mut closing = JoinSet::new();
    for h in held.drain(..) {
        closing.spawn(async move {
            drop(h.channel);
            h.session.close().await;
        });
    }
    while closing.join_next().await.is_some() {}
    let close_time = closing_started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = server.memory("VmRSS")?;
    println!(
        "closed them all in {close_time:.2?}; server RSS after: {:.1} MiB, peak (VmHWM) {:.1} MiB",
        mib(rss_after),
        mib(rss_peak)
    );
    let client_peak = proc_status_bytes("/proc/self/status", "VmHWM")?;
    println!(
        "client: {:.2?} in all, peak RSS {:.1} MiB",
        started.elapsed(),
        mib(client_peak)
    );
    let summary = server.stop()?;
    print!("server: {summary}");
    if failures > 0 || echo_failures > 0 {
        return Err(format!("{failures} connections and {echo_failures} echoes failed").into());
    }
    Ok(())
}

fn main() {
    let mut options = Options {
        connections: 10_000,
        concurrency: 128,
        echo_percent: 1.0,
        echo_bytes: 64 * 1024,
        timeout: Duration::from_secs(600),
    };
    let parsed = (|| -> Result<()> {
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let value = args.next().ok_or(format!("{arg} needs a value"))?;
            match arg.as_str() {
                "--connections" => options.connections = value.parse()?,
                "--concurrency" => options.concurrency = value.parse::<usize>()?.max(1),
                "--echo-percent" => options.echo_percent = value.parse()?,
                "--echo-bytes" => options.echo_bytes = value.parse()?,
                "--timeout" => options.timeout = Duration::from_secs(value.parse()?),
                other => return Err(format!("unknown argument {other:?}").into()),
            }
        }
        Ok(())
    })();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let result = parsed.and_then(|()| {
        let timeout = options.timeout;
        runtime?.block_on(async {
            tokio::time::timeout(timeout, load_test(options))
                .await
                .map_err(|_| format!("the load test took more than {timeout:?}"))?
        })
    });
    if let Err(e) = result {
        eprintln!("load_test: {e}");
        std::process::exit(1);
    }
}
