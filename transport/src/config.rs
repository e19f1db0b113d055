//! What a connection is configured with.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;
use sekura_algorithms::{SignatureAlgorithm, SigningKey};
use sekura_negotiation::Preferences;

/// The settings of a connection. Shared (in an [`Arc`]) by every connection
/// a server accepts, so it costs each connection nothing.
///
/// ```
/// use sekura_transport::Config;
/// use core::time::Duration;
///
/// let mut config = Config::default();
/// config.preferences.set_compression("none")?;
/// config.rekey_interval = Some(Duration::from_secs(600));
/// # Ok::<(), sekura_negotiation::PreferenceError>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// The algorithms offered, in order.
    pub preferences: Preferences,
    /// The software version of our identification line (no spaces or
    /// minus signs: they become underscores).
    pub software: String,
    /// The optional comment after it.
    pub comments: Option<String>,
    /// Server role: the host keys, one per key type; the key exchange signs
    /// with the one matching the negotiated host key algorithm.
    pub host_keys: Vec<Arc<dyn SigningKey>>,
    /// Rekey after this many bytes in either direction (RFC 4253 §9: 1 GiB).
    /// A cipher with a lower safe limit (RFC 4344) lowers it further.
    pub rekey_bytes: u64,
    /// Rekey after this many packets in either direction (2^31, well
    /// before sequence numbers could repeat under one key).
    pub rekey_packets: u64,
    /// Rekey after this much time (RFC 4253 §9: one hour).
    pub rekey_interval: Option<Duration>,
    /// How long the version exchange and the first key exchange may take
    /// before the connection is dropped.
    pub handshake_timeout: Option<Duration>,
    /// Server role: the services a client may request
    /// (`ssh-userauth` by default).
    pub services: Vec<String>,
    /// Server role: failed authentication attempts allowed before the
    /// connection is dropped (OpenSSH's MaxAuthTries: 6).
    pub auth_max_attempts: u32,
    /// Server role: how long a client may take to authenticate (OpenSSH's
    /// LoginGraceTime: 120 s).
    pub login_grace_time: Option<Duration>,
    /// Server role: how long a failed attempt waits before its answer, so
    /// guessing is slow and timing reveals nothing.
    pub auth_failure_delay: Duration,
    /// Server role: a banner shown before authentication (RFC 4252 §5.4).
    pub auth_banner: Option<String>,
    /// Send a keepalive (`keepalive@openssh.com`, answered by any SSH
    /// implementation) after this long without hearing from the peer, as
    /// OpenSSH's ServerAliveInterval/ClientAliveInterval do. Off by default.
    pub keepalive_interval: Option<Duration>,
    /// Unanswered keepalives after which the peer is considered gone
    /// (OpenSSH's ServerAliveCountMax: 3).
    pub keepalive_max: u32,
    /// The window each channel grants the peer (OpenSSH: 2 MiB): the most
    /// received data a channel buffers before its reader catches up.
    pub channel_window: u32,
    /// The largest data packet a channel accepts (OpenSSH: 32 KiB).
    pub channel_max_packet: u32,
    /// The most channels open at once on one connection.
    pub max_channels: usize,
    /// Server role: the signature algorithms accepted for user keys, by name
    /// (OpenSSH's PubkeyAcceptedAlgorithms); `None`: see
    /// [`user_key_algorithms`](Self::user_key_algorithms).
    pub pubkey_accepted_algorithms: Option<Vec<String>>,
    /// Client role: whether an RSA key may sign with SHA-1 (`ssh-rsa`) when
    /// the server does not announce rsa-sha2-256/512 in `server-sig-algs`.
    pub allow_ssh_rsa_sha1: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            preferences: Preferences::default(),
            software: alloc::format!("sekura_{}", env!("CARGO_PKG_VERSION")),
            comments: None,
            host_keys: Vec::new(),
            rekey_bytes: 1 << 30,
            rekey_packets: 1 << 31,
            rekey_interval: Some(Duration::from_secs(3600)),
            handshake_timeout: Some(Duration::from_secs(120)),
            services: alloc::vec![String::from("ssh-userauth")],
            auth_max_attempts: 6,
            login_grace_time: Some(Duration::from_secs(120)),
            auth_failure_delay: Duration::from_millis(250),
            auth_banner: None,
            keepalive_interval: None,
            keepalive_max: 3,
            channel_window: 2 * 1024 * 1024,
            channel_max_packet: 32 * 1024,
            max_channels: 256,
            allow_ssh_rsa_sha1: false,
            pubkey_accepted_algorithms: None,
        }
    }
}

impl Config {
    /// A server configuration with these host keys and the defaults
    /// otherwise.
    #[must_use]
    pub fn server(host_keys: Vec<Arc<dyn SigningKey>>) -> Self {
        Config {
            host_keys,
            ..Config::default()
        }
    }

    /// The host key that signs with `algorithm`, if any.
    #[must_use]
    pub fn host_key_for(&self, algorithm: &str) -> Option<&Arc<dyn SigningKey>> {
        self.host_keys
            .iter()
            .find(|k| k.signature_algorithms().contains(&algorithm))
    }

    /// The signature algorithms a server accepts for user keys (OpenSSH's
    /// PubkeyAcceptedAlgorithms), in the order EXT_INFO's `server-sig-algs`
    /// announces them: [`pubkey_accepted_algorithms`](Self::pubkey_accepted_algorithms)
    /// when set, else the enabled host key algorithms, then sekura's modern
    /// defaults. User keys and host keys are separate matters: a server
    /// with only an ECDSA host key still accepts Ed25519 users. Legacy
    /// algorithms (ssh-rsa, ssh-dss) are accepted only when enabled.
    #[must_use]
    pub fn user_key_algorithms(&self) -> Vec<&'static dyn SignatureAlgorithm> {
        if let Some(names) = &self.pubkey_accepted_algorithms {
            let known = self.preferences.host_key.known();
            return names.iter().filter_map(|name| known.get(name)).collect();
        }
        let mut algorithms: Vec<&'static dyn SignatureAlgorithm> =
            self.preferences.host_key.enabled().iter().collect();
        for &alg in sekura_algorithms::builtin::DEFAULT_HOST_KEY {
            if !algorithms.iter().any(|a| a.name() == alg.name()) {
                algorithms.push(alg);
            }
        }
        algorithms
    }

    /// Every signature algorithm our host keys can sign with.
    #[must_use]
    pub fn host_key_algorithms(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for key in &self.host_keys {
            for name in key.signature_algorithms() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("preferences", &self.preferences)
            .field("software", &self.software)
            .field("host_keys", &self.host_key_algorithms())
            .field("rekey_bytes", &self.rekey_bytes)
            .field("rekey_packets", &self.rekey_packets)
            .field("rekey_interval", &self.rekey_interval)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}
