//! Connecting in one call: resolve, connect, check the host key,
//! authenticate, and get a ready [`Session`].
//!
//! ```no_run
//! use sekura::connect::Connect;
//! use sekura::known_hosts::StrictHostKeyChecking;
//! use std::io::Read;
//!
//! # fn main() -> std::io::Result<()> {
//! let session = Connect::new("robey@127.0.0.1:2200")
//!     .password("foo")
//!     .known_hosts("/home/robey/.ssh/known_hosts", StrictHostKeyChecking::AcceptNew)
//!     .option("Ciphers", "^aes256-gcm@openssh.com")
//!     .connect()?;
//! let mut channel = session.open_session()?;
//! channel.exec("uptime")?;
//! let mut out = String::new();
//! channel.read_to_string(&mut out)?;
//! # Ok(()) }
//! ```
//!
//! Host keys are checked against `~/.ssh/known_hosts` with
//! [`StrictHostKeyChecking::Yes`] unless told otherwise: a library cannot
//! ask OpenSSH's "Are you sure you want to continue connecting?", so an
//! unknown host is an error until the caller asks for
//! [`StrictHostKeyChecking::AcceptNew`] (or gives the expected key).
//!
//! Credentials are tried in OpenSSH's order, in one authentication that
//! continues after partial success (`AuthenticationMethods
//! publickey,password`): keys (those given, identity files, then the
//! agent's), keyboard-interactive, password.

#[cfg(unix)]
use crate::agent::Agent;
use crate::blocking::{HostKeyCheck, Session};
use crate::known_hosts::{KnownHosts, StrictHostKeyChecking, Verdict};
use crate::transport::Config;
use crate::transport::auth::Credential;
use sekura_algorithms::SigningKey;
use sekura_algorithms::builtin::keys::PrivateKey;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The port when the target names none.
pub const DEFAULT_PORT: u16 = 22;

/// How long authentication may take by default: OpenSSH's server gives a
/// client as long (`LoginGraceTime`).
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(120);

/// A parsed `[user@]host[:port]` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The user, if the target names one.
    pub user: Option<String>,
    /// The host name or address (an IPv6 address without brackets).
    pub host: String,
    /// The port, if the target names one.
    pub port: Option<u16>,
}

impl Target {
    /// Reads `host`, `host:port`, `user@host`, `user@host:port`,
    /// `[v6]:port`, `user@[v6]` or a bare IPv6 address. The user is what
    /// precedes the last `@`.
    pub fn parse(target: &str) -> io::Result<Target> {
        let invalid = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid target {target:?}: {why}"),
            )
        };
        let (user, rest) = match target.rsplit_once('@') {
            Some(("", _)) => return Err(invalid("empty user name")),
            Some((user, rest)) => (Some(user.to_string()), rest),
            None => (None, target),
        };
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("missing ']'"))?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| invalid("expected ':port' after ']'"))?,
                    ),
                ),
            }
        } else {
            match rest.split_once(':') {
                // Two colons or more: an IPv6 address without a port.
                Some((_, after)) if after.contains(':') => (rest, None),
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("empty host"));
        }
        if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("white space in the host name"));
        }
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))
            })
            .transpose()?;
        Ok(Target {
            user,
            host: host.to_string(),
            port,
        })
    }
}

/// How the server's host key is checked.
enum HostKeyPolicy {
    KnownHosts {
        path: Option<PathBuf>,
        policy: StrictHostKeyChecking,
    },
    Key(Vec<u8>),
    Fingerprint(String),
    InsecureAny,
}

/// A builder for a connection: target, credentials, host key policy,
/// algorithms and timeouts, then [`Connect::connect`].
pub struct Connect {
    target: io::Result<Target>,
    user: Option<String>,
    port: Option<u16>,
    config: Config,
    /// `-o` options that failed, reported by `connect`.
    errors: Vec<String>,
    keys: Vec<Arc<dyn SigningKey>>,
    identity_keys: Vec<Arc<dyn SigningKey>>,
    agent: Option<bool>,
    agent_socket: Option<PathBuf>,
    keyboard_interactive: Option<Credential>,
    password: Option<Credential>,
    host_key: HostKeyPolicy,
    connect_timeout: Option<Duration>,
    auth_timeout: Option<Duration>,
    default_identities: bool,
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("target", &self.target.as_ref().ok())
            .field("user", &self.user)
            .field("port", &self.port)
            .field("keys", &(self.keys.len() + self.identity_keys.len()))
            .field("agent", &self.agent)
            .field("password", &self.password.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("auth_timeout", &self.auth_timeout)
            .finish_non_exhaustive()
    }
}

impl Connect {
    /// A connection to `target`: `host`, `host:port`, `user@host`,
    /// `user@host:port` or `[v6]:port` (see [`Target::parse`]). The user
    /// defaults to `$USER`, the port to 22. An invalid target is reported
    /// by [`Connect::connect`].
    #[must_use]
    pub fn new(target: &str) -> Connect {
        Connect {
            target: Target::parse(target),
            user: None,
            port: None,
            config: Config::default(),
            errors: Vec::new(),
            keys: Vec::new(),
            identity_keys: Vec::new(),
            agent: None,
            agent_socket: None,
            keyboard_interactive: None,
            password: None,
            host_key: HostKeyPolicy::KnownHosts {
                path: None,
                policy: StrictHostKeyChecking::Yes,
            },
            connect_timeout: None,
            auth_timeout: Some(DEFAULT_AUTH_TIMEOUT),
            default_identities: true,
        }
    }

    /// Sets the user, overriding the target's.
    #[must_use]
    pub fn user(mut self, user: &str) -> Connect {
        self.user = Some(user.to_string());
        self
    }

    /// Sets the port, overriding the target's.
    #[must_use]
    pub fn port(mut self, port: u16) -> Connect {
        self.port = Some(port);
        self
    }

    /// Replaces the transport configuration (algorithms, rekey limits,
    /// keepalives...). Call it before [`Connect::option`], which edits it.
    #[must_use]
    pub fn config(mut self, config: Config) -> Connect {
        self.config = config;
        self
    }

    /// Authenticates with this password (tried last).
    #[must_use]
    pub fn password(mut self, password: &str) -> Connect {
        self.password = Some(Credential::password(password));
        self
    }

    /// Loads a private key file (OpenSSH or PEM), decrypting it with
    /// `passphrase` if it is encrypted. The file is read now, and the
    /// passphrase not kept; a key that cannot be loaded makes
    /// [`Connect::connect`] fail, naming the file.
    #[must_use]
    pub fn identity_file(mut self, path: impl AsRef<Path>, passphrase: Option<&str>) -> Connect {
        let path = path.as_ref();
        match PrivateKey::from_file(path, passphrase.map(str::as_bytes)) {
            Ok(key) => self.identity_keys.push(Arc::new(key)),
            Err(e) => self
                .errors
                .push(format!("cannot load identity file {}: {e}", path.display())),
        }
        self
    }

    /// Whether to try `~/.ssh/id_rsa`, `id_ecdsa` and `id_ed25519` (those
    /// that need no passphrase) when no [`identity_file`](Self::identity_file)
    /// is given, as ssh does. On by default.
    #[must_use]
    pub fn default_identities(mut self, enabled: bool) -> Connect {
        self.default_identities = enabled;
        self
    }

    /// Authenticates with this key (a loaded key, an agent's key, or any
    /// other [`SigningKey`]). Keys are tried first, in the order given.
    #[must_use]
    pub fn key(mut self, key: Arc<dyn SigningKey>) -> Connect {
        self.keys.push(key);
        self
    }

    /// Answers keyboard-interactive prompts with `answers`, in order,
    /// across rounds (a password, then a one-time code...).
    #[must_use]
    pub fn keyboard_interactive<I, S>(mut self, answers: I) -> Connect
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keyboard_interactive = Some(Credential::keyboard_interactive(answers));
        self
    }

    /// Whether to use the SSH agent's keys. By default they are used when
    /// `$SSH_AUTH_SOCK` is set, and an agent that cannot be reached is
    /// skipped; with `true`, an unreachable agent is an error.
    #[must_use]
    pub fn agent(mut self, use_agent: bool) -> Connect {
        self.agent = Some(use_agent);
        self
    }

    /// Uses the agent listening on `path` rather than `$SSH_AUTH_SOCK`'s
    /// (and turns the agent on).
    #[must_use]
    pub fn agent_socket(mut self, path: impl AsRef<Path>) -> Connect {
        self.agent_socket = Some(path.as_ref().to_path_buf());
        self.agent = Some(true);
        self
    }

    /// Accepts only the host key with this public key blob (known_hosts is
    /// then not used).
    #[must_use]
    pub fn expected_host_key(mut self, blob: &[u8]) -> Connect {
        self.host_key = HostKeyPolicy::Key(blob.to_vec());
        self
    }

    /// Accepts only the host key with this `SHA256:...` fingerprint (as
    /// `ssh-keygen -l` prints it; known_hosts is then not used).
    #[must_use]
    pub fn host_key_fingerprint(mut self, fingerprint: &str) -> Connect {
        self.host_key = HostKeyPolicy::Fingerprint(fingerprint.to_string());
        self
    }

    /// Checks the host key against this known_hosts file under `policy`.
    /// The default is `~/.ssh/known_hosts` with
    /// [`StrictHostKeyChecking::Yes`]: an unknown host fails. With
    /// [`StrictHostKeyChecking::AcceptNew`] a new host's key is added and
    /// the file saved. With [`StrictHostKeyChecking::No`] a changed key is
    /// let through, and then, as OpenSSH does, passwords and
    /// keyboard-interactive answers are not sent (the peer may be a man in
    /// the middle); keys still are.
    #[must_use]
    pub fn known_hosts(mut self, path: impl AsRef<Path>, policy: StrictHostKeyChecking) -> Connect {
        self.host_key = HostKeyPolicy::KnownHosts {
            path: Some(path.as_ref().to_path_buf()),
            policy,
        };
        self
    }

    /// Sets the policy for the default `~/.ssh/known_hosts`.
    #[must_use]
    pub fn strict_host_key_checking(mut self, policy: StrictHostKeyChecking) -> Connect {
        let path = match self.host_key {
            HostKeyPolicy::KnownHosts { path, .. } => path,
            _ => None,
        };
        self.host_key = HostKeyPolicy::KnownHosts { path, policy };
        self
    }

    /// Accepts any host key. Anyone in the middle can then read and change
    /// everything, passwords included: only for tests and throwaway
    /// connections.
    #[must_use]
    pub fn insecure_accept_any_host_key(mut self) -> Connect {
        self.host_key = HostKeyPolicy::InsecureAny;
        self
    }

    /// Sets an algorithm list as ssh_config does: `Ciphers`, `MACs`,
    /// `KexAlgorithms`, `HostKeyAlgorithms` (names case-insensitive; values
    /// with OpenSSH's `+`, `-`, `^`). An unknown option or value makes
    /// [`Connect::connect`] fail.
    #[must_use]
    pub fn option(mut self, name: &str, value: &str) -> Connect {
        let prefs = &mut self.config.preferences;
        let result = match name.to_ascii_lowercase().as_str() {
            "ciphers" => prefs.set_ciphers(value).map_err(|e| e.to_string()),
            "macs" => prefs.set_macs(value).map_err(|e| e.to_string()),
            "kexalgorithms" => prefs.set_kex(value).map_err(|e| e.to_string()),
            "hostkeyalgorithms" => prefs
                .set_host_key_algorithms(value)
                .map_err(|e| e.to_string()),
            _ => Err("unsupported option (Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms)".into()),
        };
        if let Err(e) = result {
            self.errors.push(format!("{name} {value}: {e}"));
        }
        self
    }

    /// Bounds the TCP connection to each address and then the version and
    /// key exchange. Without it the system's TCP timeout applies, and the
    /// configuration's `handshake_timeout` (or two minutes).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Connect {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Bounds authentication (default [`DEFAULT_AUTH_TIMEOUT`]); `None`
    /// waits as long as the server lets us.
    #[must_use]
    pub fn auth_timeout(mut self, timeout: Option<Duration>) -> Connect {
        self.auth_timeout = timeout;
        self
    }

    /// Connects, checks the host key, authenticates, and returns the
    /// authenticated session.
    ///
    /// Errors: `InvalidInput` for a bad target, option or identity file;
    /// the TCP error (kind kept) for a failed connection, naming the host
    /// and port; `PermissionDenied` for a refused host key (with the
    /// known_hosts message) or failed authentication (listing the methods
    /// the server still accepts); `TimedOut` for a timeout.
    pub fn connect(mut self) -> io::Result<Session> {
        let plan = self.plan()?;
        let stream = tcp_connect(&plan.host, plan.port, self.connect_timeout)?;
        let closer = stream.try_clone()?;
        let session = Session::connect(stream, plan.config, plan.check)
            .map_err(|e| at(e, &format!("{} port {}", plan.host, plan.port)))?;
        let credentials = plan.credentials.for_host(&plan.changed_host);
        authenticate(
            &session,
            &closer,
            &plan.user,
            credentials,
            self.auth_timeout,
        )
        .map_err(|e| at(e, &format!("{}@{}", plan.user, plan.host)))?;
        Ok(session)
    }

    /// [`Connect::connect`] for the async API: the same options and
    /// errors, on tokio. (Key and known_hosts files are read before the
    /// first await, as small blocking reads.)
    #[cfg(feature = "tokio")]
    pub async fn connect_async(mut self) -> io::Result<crate::tokio::Session> {
        let plan = self.plan()?;
        let stream = tokio_connect(&plan.host, plan.port, self.connect_timeout).await?;
        stream.set_nodelay(true)?;
        let session = crate::tokio::Session::connect(stream, plan.config, plan.check)
            .await
            .map_err(|e| at(e, &format!("{} port {}", plan.host, plan.port)))?;
        let credentials = plan.credentials.for_host(&plan.changed_host);
        let authenticated = session.authenticate(&plan.user, credentials);
        let result = match self.auth_timeout {
            Some(timeout) => ::tokio::time::timeout(timeout, authenticated)
                .await
                .unwrap_or_else(|_| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("authentication timed out after {timeout:?}"),
                    ))
                }),
            None => authenticated.await,
        };
        result.map_err(|e| at(e, &format!("{}@{}", plan.user, plan.host)))?;
        Ok(session)
    }

    /// Checks the options and gathers what connecting needs: the address,
    /// the user, the host key check and the credentials.
    fn plan(&mut self) -> io::Result<Plan> {
        let target = std::mem::replace(
            &mut self.target,
            Err(io::Error::other("target already taken")),
        )?;
        if !self.errors.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                self.errors.join("; "),
            ));
        }
        let host = target.host;
        let port = self.port.or(target.port).unwrap_or(DEFAULT_PORT);
        let user = match self.user.take().or(target.user) {
            Some(user) => user,
            None => default_user()?,
        };

        let agent_keys = self.agent_keys()?;
        let changed_host = Arc::new(AtomicBool::new(false));
        let check = self.host_key_check(&host, port, &changed_host)?;

        let mut config = std::mem::take(&mut self.config);
        if let Some(timeout) = self.connect_timeout {
            config.handshake_timeout = Some(
                config
                    .handshake_timeout
                    .map_or(timeout, |configured| configured.min(timeout)),
            );
        }

        if self.identity_keys.is_empty()
            && self.default_identities
            && let Some(dir) = std::env::var_os("HOME").filter(|h| !h.is_empty())
        {
            self.identity_keys = default_identities(&PathBuf::from(dir).join(".ssh"));
        }
        let mut keys: Vec<Credential> = Vec::new();
        let mut offered: Vec<Vec<u8>> = Vec::new();
        let all_keys = self
            .keys
            .drain(..)
            .chain(self.identity_keys.drain(..))
            .chain(agent_keys);
        for key in all_keys {
            // The same key from two sources is offered once.
            let blob = key.public_key_blob();
            if !offered.contains(&blob) {
                offered.push(blob);
                keys.push(Credential::PublicKey(key));
            }
        }
        let secrets = self
            .keyboard_interactive
            .take()
            .into_iter()
            .chain(self.password.take())
            .collect();
        Ok(Plan {
            host,
            port,
            user,
            config,
            check,
            changed_host,
            credentials: Credentials { keys, secrets },
        })
    }

    /// The agent's keys, as chosen by [`Connect::agent`].
    fn agent_keys(&self) -> io::Result<Vec<Arc<dyn SigningKey>>> {
        let required = self.agent == Some(true);
        let wanted = match self.agent {
            Some(wanted) => wanted,
            None => std::env::var_os("SSH_AUTH_SOCK").is_some_and(|s| !s.is_empty()),
        };
        if !wanted {
            return Ok(Vec::new());
        }
        match list_agent(self.agent_socket.as_deref()) {
            Ok(keys) => Ok(keys),
            Err(e) if required => Err(e),
            Err(_) => Ok(Vec::new()),
        }
    }

    /// The host key check; with known_hosts, also puts the host key
    /// algorithms of the keys the file holds for the host first.
    fn host_key_check(
        &mut self,
        host: &str,
        port: u16,
        changed_host: &Arc<AtomicBool>,
    ) -> io::Result<HostKeyCheck> {
        let (path, policy) = match &self.host_key {
            HostKeyPolicy::Key(blob) => return Ok(HostKeyCheck::Key(blob.clone())),
            HostKeyPolicy::Fingerprint(f) => return Ok(HostKeyCheck::Fingerprint(f.clone())),
            HostKeyPolicy::InsecureAny => return Ok(HostKeyCheck::InsecureAcceptAny),
            HostKeyPolicy::KnownHosts { path, policy } => (path.clone(), *policy),
        };
        let path = match path {
            Some(path) => path,
            None => KnownHosts::default_path().map_err(io::Error::other)?,
        };
        let known = KnownHosts::from_file(&path).map_err(io::Error::other)?;
        known
            .prefer_known_host_key_algorithms(host, port, &mut self.config.preferences)
            .map_err(io::Error::other)?;
        let known = Mutex::new(known);
        let host = host.to_string();
        let changed_host = changed_host.clone();
        Ok(HostKeyCheck::callback(move |key| {
            let mut known = known
                .lock()
                .map_err(|_| "known_hosts lock poisoned".to_string())?;
            match known
                .verify(policy, &host, port, &key.key)
                .map_err(|e| e.to_string())?
            {
                Verdict::Added { .. } => known.save(&path).map_err(|e| e.to_string())?,
                Verdict::ChangedButAccepted { .. } => changed_host.store(true, Ordering::SeqCst),
                Verdict::Known { .. } => {}
            }
            Ok(())
        }))
    }
}

/// What [`Connect::plan`] gathered.
struct Plan {
    host: String,
    port: u16,
    user: String,
    config: Config,
    check: HostKeyCheck,
    /// Set by the host key check when known_hosts let a changed key through.
    changed_host: Arc<AtomicBool>,
    credentials: Credentials,
}

/// The credentials to try, in OpenSSH's order.
struct Credentials {
    keys: Vec<Credential>,
    /// Keyboard-interactive answers and the password: never sent to a host
    /// whose key changed (it may be a man in the middle).
    secrets: Vec<Credential>,
}

impl Credentials {
    fn for_host(mut self, changed_host: &AtomicBool) -> Vec<Credential> {
        if !changed_host.load(Ordering::SeqCst) {
            self.keys.append(&mut self.secrets);
        }
        self.keys
    }
}

/// The error `e` with where it happened in front.
fn at(e: io::Error, place: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{place}: {e}"))
}

/// The identity files ssh tries by default, in its order (OpenSSH 9's
/// `ssh_config(5)` IdentityFile, without the FIDO and XMSS kinds sekura
/// does not speak).
pub const DEFAULT_IDENTITY_FILES: [&str; 3] = ["id_rsa", "id_ecdsa", "id_ed25519"];

/// The keys of [`DEFAULT_IDENTITY_FILES`] in `ssh_dir` that load without a
/// passphrase. Missing, encrypted or unreadable files are skipped, as ssh
/// skips them without a terminal to ask on.
fn default_identities(ssh_dir: &Path) -> Vec<Arc<dyn SigningKey>> {
    DEFAULT_IDENTITY_FILES
        .iter()
        .map(|name| ssh_dir.join(name))
        .filter(|path| path.exists())
        .filter_map(|path| match PrivateKey::from_file(&path, None) {
            Ok(key) => Some(Arc::new(key) as Arc<dyn SigningKey>),
            Err(e) => {
                tracing::debug!("skipping identity file {}: {e}", path.display());
                None
            }
        })
        .collect()
}

/// Resolves `host` and connects to each address in turn, as
/// [`tcp_connect`] does, on tokio.
#[cfg(feature = "tokio")]
async fn tokio_connect(
    host: &str,
    port: u16,
    timeout: Option<Duration>,
) -> io::Result<::tokio::net::TcpStream> {
    let addresses: Vec<SocketAddr> = ::tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| unresolved(host, &e))?
        .collect();
    let mut last = unresolved(
        host,
        &io::Error::new(io::ErrorKind::NotFound, "no addresses"),
    );
    for address in addresses {
        let connecting = ::tokio::net::TcpStream::connect(address);
        let connected = match timeout {
            Some(timeout) => ::tokio::time::timeout(timeout, connecting)
                .await
                .unwrap_or_else(|_| Err(io::Error::from(io::ErrorKind::TimedOut))),
            None => connecting.await,
        };
        match connected {
            Ok(stream) => return Ok(stream),
            Err(e) => last = connect_error(host, port, address, &e),
        }
    }
    Err(last)
}

/// ssh's message for a host name that does not resolve (the resolver's
/// error kind kept).
fn unresolved(host: &str, e: &io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("ssh: Could not resolve hostname {host}: {e}"),
    )
}

/// ssh's message for a failed connection to one address.
fn connect_error(host: &str, port: u16, address: SocketAddr, e: &io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("ssh: connect to host {host} port {port} ({address}): {e}"),
    )
}

/// The keys of the agent at `socket`, or at `$SSH_AUTH_SOCK`.
#[cfg(unix)]
fn list_agent(socket: Option<&Path>) -> io::Result<Vec<Arc<dyn SigningKey>>> {
    let agent = match socket {
        Some(path) => Agent::connect(path)?,
        None => Agent::from_env()?,
    };
    Ok(agent
        .identities()?
        .into_iter()
        .map(|k| Arc::new(k) as Arc<dyn SigningKey>)
        .collect())
}

/// SSH agents are reached over Unix sockets.
#[cfg(not(unix))]
fn list_agent(_socket: Option<&Path>) -> io::Result<Vec<Arc<dyn SigningKey>>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SSH agents are supported on Unix only",
    ))
}

/// `$USER`, or `$LOGNAME`.
fn default_user() -> io::Result<String> {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "no user given (user@host) and USER is not set",
            )
        })
}

/// Resolves `host` and connects to each address in turn, as ssh does.
fn tcp_connect(host: &str, port: u16, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| unresolved(host, &e))?
        .collect();
    let mut last = unresolved(
        host,
        &io::Error::new(io::ErrorKind::NotFound, "no addresses"),
    );
    for address in addresses {
        let connected = match timeout {
            Some(timeout) => TcpStream::connect_timeout(&address, timeout),
            None => TcpStream::connect(address),
        };
        match connected {
            Ok(stream) => return Ok(stream),
            Err(e) => last = connect_error(host, port, address, &e),
        }
    }
    Err(last)
}

/// Authenticates; past `timeout`, shuts the socket down so the waiting call
/// returns, and reports the timeout.
fn authenticate(
    session: &Session,
    socket: &TcpStream,
    user: &str,
    credentials: Vec<Credential>,
    timeout: Option<Duration>,
) -> io::Result<()> {
    let Some(timeout) = timeout else {
        return session.authenticate(user, credentials);
    };
    let fired = AtomicBool::new(false);
    let (done, wait) = mpsc::channel::<()>();
    let fired = &fired;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(timeout) {
                fired.store(true, Ordering::SeqCst);
                let _ = socket.shutdown(Shutdown::Both);
            }
        });
        let result = session.authenticate(user, credentials);
        drop(done);
        match result {
            Err(_) if fired.load(Ordering::SeqCst) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("authentication timed out after {timeout:?}"),
            )),
            other => other,
        }
    })
}

/// Connects to `target` with the defaults of [`Connect`]: the agent's keys
/// when `$SSH_AUTH_SOCK` is set, `~/.ssh/known_hosts` checked strictly.
pub fn connect(target: &str) -> io::Result<Session> {
    Connect::new(target).connect()
}

/// Connects to `target` with a password, checking the host key against
/// `~/.ssh/known_hosts` strictly (the agent's keys are tried first when
/// `$SSH_AUTH_SOCK` is set).
pub fn connect_password(target: &str, password: &str) -> io::Result<Session> {
    Connect::new(target).password(password).connect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_identities_load_what_needs_no_passphrase() {
        let dir = std::env::temp_dir().join(format!("sekura-ids-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut rng = crate::os_rng();
        let plain = PrivateKey::generate_ed25519(&mut rng);
        let encrypted = PrivateKey::generate_ed25519(&mut rng);
        std::fs::write(
            dir.join("id_ed25519"),
            plain.to_openssh(None, &mut rng).unwrap().as_bytes(),
        )
        .unwrap();
        std::fs::write(
            dir.join("id_ecdsa"),
            encrypted
                .to_openssh(Some(b"secret".as_slice()), &mut rng)
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
        std::fs::write(dir.join("id_rsa"), b"not a key").unwrap();
        let keys = default_identities(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let blobs: Vec<Vec<u8>> = keys.iter().map(|k| k.public_key_blob()).collect();
        assert_eq!(blobs, vec![plain.public_key().to_blob()]);
    }
}
