//! `demo`: the seed's demo client, grown into a small `ssh`.
//!
//! ```text
//! demo [-p port] [-i identity] [-o Option=value] [-Q kind] [-v] [user@]host [command]
//!
//! cargo run --example demo -- -p 2200 robey@127.0.0.1 board     # run a command
//! cargo run --example demo -- -p 2200 robey@127.0.0.1           # interactive shell
//! cargo run --example demo -- -Q cipher                         # like ssh -Q
//! ```
//!
//! It reads `~/.ssh/known_hosts` (and adds new hosts, as
//! `StrictHostKeyChecking=accept-new` does), tries `~/.ssh/id_ed25519`,
//! `id_ecdsa` and `id_rsa` (asking for passphrases), then asks for a
//! password. With a command it runs it and exits with its exit status,
//! stdout and stderr kept apart; without one it opens a shell with a
//! pseudo-terminal, the local terminal in raw mode, and follows window size
//! changes. `-o` takes Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms
//! (OpenSSH syntax: `+`, `-`, `^`), StrictHostKeyChecking,
//! UserKnownHostsFile, Port, User, IdentityFile and BatchMode. `-v` writes a
//! log to `demo.log`, as the seed's demo did.
//!
//! The terminal is handled with `stty`, so this example needs no unsafe
//! code and no terminal library.

use sekura::algorithms::builtin;
use sekura::algorithms::builtin::keys::{KeyError, PrivateKey};
use sekura::algorithms::{Algorithm, SignatureAlgorithm, SigningKey};
use sekura::blocking::{HostKeyCheck, Session};
use sekura::known_hosts::{KnownHosts, StrictHostKeyChecking};
use sekura::proto::msg::TerminalModes;
use sekura::transport::Config;
use sekura::transport::auth::Credential;
use std::error::Error;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every name of one category: defaults first, then the rest of `all`.
fn listing<T: Algorithm + ?Sized>(defaults: &[&T], all: &[&T]) -> Vec<String> {
    let mut names: Vec<String> = defaults.iter().map(|a| a.name().to_owned()).collect();
    for alg in all {
        if !names.iter().any(|n| n == alg.name()) {
            names.push(alg.name().to_owned());
        }
    }
    names
}

/// `-Q kind`, as `ssh -Q` answers it.
fn query(kind: &str) -> Option<Vec<String>> {
    Some(match kind {
        "kex" => listing(builtin::DEFAULT_KEX, builtin::ALL_KEX),
        "cipher" => listing(builtin::DEFAULT_CIPHERS, builtin::ALL_CIPHERS),
        "mac" => listing(builtin::DEFAULT_MACS, builtin::ALL_MACS),
        "sig" | "HostKeyAlgorithms" => listing(builtin::DEFAULT_HOST_KEY, builtin::ALL_HOST_KEY),
        "key" => {
            let mut types: Vec<String> = Vec::new();
            for alg in builtin::ALL_HOST_KEY {
                let alg: &dyn SignatureAlgorithm = *alg;
                if !types.iter().any(|t| t == alg.key_type()) {
                    types.push(alg.key_type().to_owned());
                }
            }
            types
        }
        "compression" => listing(builtin::DEFAULT_COMPRESSION, builtin::ALL_COMPRESSION),
        _ => return None,
    })
}

/// Everything the command line says.
struct Options {
    host: String,
    port: u16,
    user: String,
    command: Option<String>,
    identities: Vec<PathBuf>,
    known_hosts: Option<PathBuf>,
    strict: StrictHostKeyChecking,
    batch: bool,
    config: Config,
}

const USAGE: &str =
    "usage: demo [-p port] [-i identity] [-o Option=value] [-Q kind] [-v] [user@]host [command]";

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// Applies one `-o Option=value`.
fn apply_option(opts: &mut Options, option: &str) -> Result<(), Box<dyn Error>> {
    let (name, value) = option
        .split_once('=')
        .or_else(|| option.split_once(' '))
        .ok_or_else(|| format!("-o {option}: expected Option=value"))?;
    let prefs = &mut opts.config.preferences;
    match name.to_ascii_lowercase().as_str() {
        "ciphers" => prefs.set_ciphers(value)?,
        "macs" => prefs.set_macs(value)?,
        "kexalgorithms" => prefs.set_kex(value)?,
        "hostkeyalgorithms" => prefs.set_host_key_algorithms(value)?,
        "stricthostkeychecking" => opts.strict = value.parse()?,
        "userknownhostsfile" => opts.known_hosts = Some(value.into()),
        "port" => opts.port = value.parse()?,
        "user" => opts.user = value.into(),
        "identityfile" => opts
            .identities
            .push(value.replace('~', &home().to_string_lossy()).into()),
        "batchmode" => opts.batch = value.eq_ignore_ascii_case("yes"),
        _ => return Err(format!("-o {name}: unsupported option").into()),
    }
    Ok(())
}

/// Reads a line from the terminal without echo (passwords, passphrases).
fn prompt_secret(prompt: &str) -> Option<String> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let mut out = tty.try_clone().ok()?;
    write!(out, "{prompt}").ok()?;
    out.flush().ok()?;
    let _ = Command::new("stty")
        .arg("-echo")
        .stdin(tty.try_clone().ok()?)
        .status();
    let mut line = String::new();
    let read = std::io::BufReader::new(tty.try_clone().ok()?).read_line(&mut line);
    let _ = Command::new("stty").arg("echo").stdin(tty).status();
    let _ = writeln!(out);
    read.ok()?;
    Some(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads a line from the terminal, echoed.
fn prompt_line(prompt: &str) -> Option<String> {
    print!("{prompt}");
    std::io::stdout().flush().ok()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).ok()?;
    Some(line.trim().to_string())
}

fn parse_args() -> Result<Option<Options>, Box<dyn Error>> {
    let mut opts = Options {
        host: String::new(),
        port: 22,
        user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        command: None,
        identities: Vec::new(),
        known_hosts: None,
        strict: StrictHostKeyChecking::AcceptNew,
        batch: false,
        config: Config::default(),
    };
    let mut positional = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-p" => opts.port = args.next().ok_or("-p needs a port")?.parse()?,
            "-i" => opts
                .identities
                .push(args.next().ok_or("-i needs a file")?.into()),
            "-o" => apply_option(&mut opts, &args.next().ok_or("-o needs Option=value")?)?,
            "-v" => start_log()?,
            "-Q" => {
                let kind = args.next().ok_or("-Q needs a kind")?;
                let names = query(&kind).ok_or_else(|| {
                    format!("unsupported query {kind:?}\nkinds: kex cipher mac key sig compression")
                })?;
                for name in names {
                    println!("{name}");
                }
                return Ok(None);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            _ if positional.is_empty() && arg.starts_with('-') => {
                return Err(format!("unknown option {arg}\n{USAGE}").into());
            }
            _ => {
                positional.push(arg);
                // Everything after the host is the command.
                positional.extend(args.by_ref());
            }
        }
    }
    let mut target = positional.first().cloned().unwrap_or_default();
    if target.is_empty() {
        target = prompt_line("Hostname: ").ok_or("no host given")?;
        if let Some(user) =
            prompt_line(&format!("Username [{}]: ", opts.user)).filter(|u| !u.is_empty())
        {
            opts.user = user;
        }
    }
    match target.split_once('@') {
        Some((user, host)) => {
            opts.user = user.into();
            opts.host = host.into();
        }
        None => opts.host = target,
    }
    if let Some(command) = positional.get(1..).filter(|words| !words.is_empty()) {
        opts.command = Some(command.join(" "));
    }
    if opts.identities.is_empty() {
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let path = home().join(".ssh").join(name);
            if path.exists() {
                opts.identities.push(path);
            }
        }
    }
    Ok(Some(opts))
}

/// `-v`: a log of the session in demo.log.
fn start_log() -> Result<(), Box<dyn Error>> {
    let file = std::fs::File::create("demo.log")?;
    tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .init();
    Ok(())
}

/// Loads the identity files, asking for passphrases when they need one.
fn load_identities(opts: &Options) -> Vec<Arc<dyn SigningKey>> {
    let mut keys: Vec<Arc<dyn SigningKey>> = Vec::new();
    for path in &opts.identities {
        let key = match PrivateKey::from_file(path, None) {
            Err(KeyError::Encrypted) if !opts.batch => {
                let Some(passphrase) =
                    prompt_secret(&format!("Enter passphrase for key '{}': ", path.display()))
                else {
                    continue;
                };
                PrivateKey::from_file(path, Some(passphrase.as_bytes()))
            }
            other => other,
        };
        match key {
            Ok(key) => keys.push(Arc::new(key)),
            Err(e) => eprintln!("demo: {}: {e}", path.display()),
        }
    }
    keys
}

/// The host key check: known_hosts with the chosen policy.
fn host_key_check(opts: &Options) -> Result<HostKeyCheck, Box<dyn Error>> {
    let path = match &opts.known_hosts {
        Some(path) => path.clone(),
        None => home().join(".ssh").join("known_hosts"),
    };
    let known = KnownHosts::from_file(&path)?;
    let (host, port, strict) = (opts.host.clone(), opts.port, opts.strict);
    let known = Mutex::new(known);
    Ok(HostKeyCheck::callback(move |key| {
        let mut known = known
            .lock()
            .map_err(|_| "known_hosts lock poisoned".to_string())?;
        let verdict = known
            .verify(strict, &host, port, &key.key)
            .map_err(|e| e.to_string())?;
        if verdict.must_save() {
            known.save(&path).map_err(|e| e.to_string())?;
            eprintln!(
                "Warning: Permanently added '{host}' ({}) to the list of known hosts.",
                key.algorithm
            );
        }
        Ok(())
    }))
}

fn authenticate(session: &Session, opts: &Options) -> Result<(), Box<dyn Error>> {
    let keys = load_identities(opts);
    if !keys.is_empty() {
        let credentials = keys.into_iter().map(Credential::PublicKey).collect();
        if session.authenticate(&opts.user, credentials).is_ok() {
            return Ok(());
        }
    }
    if opts.batch {
        return Err(
            "Permission denied (publickey); BatchMode is on, so no password is asked".into(),
        );
    }
    for _ in 0..3 {
        let password = prompt_secret(&format!("{}@{}'s password: ", opts.user, opts.host))
            .ok_or("no terminal to ask for a password")?;
        match session.authenticate_password(&opts.user, &password) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                eprintln!("Permission denied, please try again.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err("Permission denied".into())
}

/// Runs one command: stdin forwarded, stdout and stderr kept apart.
fn run_command(session: &Session, command: &str) -> Result<u8, Box<dyn Error>> {
    let mut channel = session.open_session()?;
    channel.exec(command)?;
    let mut stderr = channel.stderr();
    let errors = std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::stderr()));
    if !std::io::stdin().is_terminal() {
        let mut input = channel.try_clone()?;
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut input);
            let _ = input.shutdown(Shutdown::Write);
        });
    }
    std::io::copy(&mut channel, &mut std::io::stdout())?;
    let _ = errors.join();
    Ok(match (channel.wait_exit_status()?, channel.exit_signal()) {
        (Some(status), _) => u8::try_from(status).unwrap_or(255),
        (None, Some(signal)) => {
            eprintln!("demo: remote command killed by SIG{}", signal.signal);
            255
        }
        (None, None) => 255,
    })
}

/// The local terminal's size, from `stty size`.
fn terminal_size() -> Option<(u32, u32)> {
    let tty = std::fs::File::open("/dev/tty").ok()?;
    let out = Command::new("stty").arg("size").stdin(tty).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut parts = text.split_whitespace().map(str::parse::<u32>);
    let rows = parts.next()?.ok()?;
    let cols = parts.next()?.ok()?;
    Some((cols, rows))
}

/// Puts the terminal in raw mode and restores it when dropped.
struct RawMode(Option<String>);

impl RawMode {
    fn enter() -> RawMode {
        let saved = std::fs::File::open("/dev/tty").ok().and_then(|tty| {
            let out = Command::new("stty")
                .arg("-g")
                .stdin(tty)
                .stderr(Stdio::null())
                .output()
                .ok()?;
            String::from_utf8(out.stdout)
                .ok()
                .map(|s| s.trim().to_string())
        });
        if let Ok(tty) = std::fs::File::open("/dev/tty") {
            let _ = Command::new("stty")
                .args(["raw", "-echo"])
                .stdin(tty)
                .status();
        }
        RawMode(saved)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let (Some(saved), Ok(tty)) = (&self.0, std::fs::File::open("/dev/tty")) {
            let _ = Command::new("stty").arg(saved).stdin(tty).status();
        }
    }
}

/// An interactive shell with a pseudo-terminal.
fn run_shell(session: &Session) -> Result<u8, Box<dyn Error>> {
    let mut channel = session.open_session()?;
    let (cols, rows) = terminal_size().unwrap_or((80, 24));
    let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
    channel.request_pty(&term, cols, rows, TerminalModes::default())?;
    channel.shell()?;
    let raw = RawMode::enter();
    let mut input = channel.try_clone()?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || input.send_all(buf.get(..n).unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    // Follow window size changes (polled: no signal handler needed).
    let mut resize = channel.try_clone()?;
    std::thread::spawn(move || {
        let mut last = (cols, rows);
        loop {
            std::thread::sleep(Duration::from_millis(500));
            if let Some(size) = terminal_size().filter(|&s| s != last) {
                last = size;
                if resize.window_change(size.0, size.1).is_err() {
                    break;
                }
            }
        }
    });
    let mut stdout = std::io::stdout();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = channel.read(&mut buf)?;
        if n == 0 {
            break;
        }
        stdout.write_all(buf.get(..n).unwrap_or_default())?;
        stdout.flush()?;
    }
    drop(raw);
    Ok(channel
        .wait_exit_status()?
        .map_or(255, |s| u8::try_from(s).unwrap_or(255)))
}

fn run() -> Result<u8, Box<dyn Error>> {
    let Some(mut opts) = parse_args()? else {
        return Ok(0);
    };
    let check = host_key_check(&opts)?;
    if let Ok(known) = KnownHosts::from_file(
        opts.known_hosts
            .clone()
            .unwrap_or_else(|| home().join(".ssh/known_hosts")),
    ) {
        let _ = known.prefer_known_host_key_algorithms(
            &opts.host,
            opts.port,
            &mut opts.config.preferences,
        );
    }
    let stream = TcpStream::connect((opts.host.as_str(), opts.port))?;
    let session = Session::connect(stream, std::mem::take(&mut opts.config), check)?;
    authenticate(&session, &opts)?;
    let status = match &opts.command {
        Some(command) => run_command(&session, command)?,
        None => run_shell(&session)?,
    };
    session.close();
    Ok(status)
}

fn main() -> ExitCode {
    match run() {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::from(255)
        }
    }
}
