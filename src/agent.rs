//! An SSH agent client (`ssh-agent`, draft-miller-ssh-agent) over a Unix
//! socket: list the agent's keys and have it sign with them, so that a
//! private key never enters this process.
//!
//! Each key the agent holds becomes an [`AgentKey`], which implements
//! [`SigningKey`] and so authenticates like a key loaded from a file:
//!
//! ```no_run
//! use sekura::agent::Agent;
//! use sekura::transport::auth::Credential;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let agent = Agent::from_env()?; // $SSH_AUTH_SOCK
//! let credentials: Vec<Credential> = agent
//!     .identities()?
//!     .into_iter()
//!     .map(|key| Credential::PublicKey(std::sync::Arc::new(key)))
//!     .collect();
//! # let _ = credentials;
//! # Ok(()) }
//! ```
//!
//! Every byte from the agent is treated as hostile: a message longer than
//! [`MAX_MESSAGE`] is refused before anything is allocated for it, counts
//! are never trusted to size an allocation, and a reply that does not parse
//! exactly is an error. A connection that failed mid-message is dropped and
//! reopened on the next request, so it never reads half of an old answer.

use sekura_algorithms::builtin::keys::PublicKey;
use sekura_algorithms::sig::{decode_signature, fingerprint_sha256, key_type_of};
use sekura_algorithms::{AlgorithmError, CryptoRng, SigningKey};
use sekura_proto::{Reader, Writer};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The environment variable that names the agent's socket.
pub const AUTH_SOCK_ENV: &str = "SSH_AUTH_SOCK";

/// The longest message accepted from the agent (256 KiB, as OpenSSH's own
/// client allows).
pub const MAX_MESSAGE: usize = 256 * 1024;

/// How long a request waits for the agent by default. An agent may ask its
/// user to confirm a signature (`ssh-add -c`), so this is generous.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The agent's answer to a request it could not or would not fulfil.
const SSH_AGENT_FAILURE: u8 = 5;
/// List the keys.
const SSH_AGENTC_REQUEST_IDENTITIES: u8 = 11;
/// The list of keys.
const SSH_AGENT_IDENTITIES_ANSWER: u8 = 12;
/// Sign with a key.
const SSH_AGENTC_SIGN_REQUEST: u8 = 13;
/// A signature.
const SSH_AGENT_SIGN_RESPONSE: u8 = 14;
/// The generic failures of extension requests, answers to no request of
/// ours, but refusals all the same.
const SSH_AGENT_EXTENSION_FAILURE: u8 = 28;

/// Sign flag: an RSA key signs with SHA-256 (`rsa-sha2-256`).
pub const SSH_AGENT_RSA_SHA2_256: u32 = 2;
/// Sign flag: an RSA key signs with SHA-512 (`rsa-sha2-512`).
pub const SSH_AGENT_RSA_SHA2_512: u32 = 4;

/// What can go wrong talking to an agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// `$SSH_AUTH_SOCK` is not set (or empty): there is no agent to use.
    #[error("no SSH agent: {AUTH_SOCK_ENV} is not set")]
    NotConfigured,
    /// The socket could not be opened, read or written.
    #[error("SSH agent at {path}: {source}")]
    Io {
        /// The agent's socket.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The agent answered `SSH_AGENT_FAILURE`: it does not have the key,
    /// the user refused to confirm, or it cannot do what was asked.
    #[error("the SSH agent refused to {0}")]
    Refused(&'static str),
    /// The agent's answer broke the protocol.
    #[error("SSH agent protocol error: {0}")]
    Protocol(String),
}

impl From<AgentError> for io::Error {
    fn from(e: AgentError) -> io::Error {
        let kind = match &e {
            AgentError::NotConfigured => io::ErrorKind::NotFound,
            AgentError::Io { source, .. } => source.kind(),
            AgentError::Refused(_) => io::ErrorKind::PermissionDenied,
            AgentError::Protocol(_) => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// The socket and where it leads; `None` after a failure mid-message.
struct Link {
    path: PathBuf,
    stream: Option<UnixStream>,
    timeout: Duration,
}

impl Link {
    fn io_error(&self, source: io::Error) -> AgentError {
        AgentError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn open(&mut self) -> Result<&mut UnixStream, AgentError> {
        if self.stream.is_none() {
            let stream = UnixStream::connect(&self.path).map_err(|e| self.io_error(e))?;
            stream
                .set_read_timeout(Some(self.timeout))
                .and_then(|()| stream.set_write_timeout(Some(self.timeout)))
                .map_err(|e| self.io_error(e))?;
            self.stream = Some(stream);
        }
        // Just set when it was missing.
        self.stream
            .as_mut()
            .ok_or_else(|| AgentError::Protocol("no connection".into()))
    }

    /// Sends one message and reads the answer (type byte first). Any
    /// failure drops the connection, which may be mid-message.
    fn request(&mut self, message: &[u8]) -> Result<Vec<u8>, AgentError> {
        let result = self.exchange(message);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn exchange(&mut self, message: &[u8]) -> Result<Vec<u8>, AgentError> {
        let length = u32::try_from(message.len())
            .ok()
            .filter(|&n| n as usize <= MAX_MESSAGE)
            .ok_or_else(|| AgentError::Protocol("request too long".into()))?;
        let mut framed = Vec::with_capacity(4 + message.len());
        framed.put_u32(length);
        framed.extend_from_slice(message);
        let path = self.path.display().to_string();
        let io = |source: io::Error| AgentError::Io {
            path: path.clone(),
            source,
        };
        let stream = self.open()?;
        stream.write_all(&framed).map_err(io)?;
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).map_err(io)?;
        let length = u32::from_be_bytes(header) as usize;
        if length == 0 || length > MAX_MESSAGE {
            return Err(AgentError::Protocol(format!(
                "answer of {length} bytes (at most {MAX_MESSAGE}, at least 1)"
            )));
        }
        let mut answer = vec![0u8; length];
        stream.read_exact(&mut answer).map_err(io)?;
        Ok(answer)
    }
}

/// A connection to an SSH agent. Cloning shares the connection (requests
/// are serialized behind a mutex), so it and its keys are `Send + Sync`.
#[derive(Clone)]
pub struct Agent {
    link: Arc<Mutex<Link>>,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Connects to the agent listening on the Unix socket `path`.
    pub fn connect(path: impl AsRef<Path>) -> Result<Agent, AgentError> {
        let mut link = Link {
            path: path.as_ref().to_path_buf(),
            stream: None,
            timeout: DEFAULT_TIMEOUT,
        };
        link.open()?;
        Ok(Agent {
            link: Arc::new(Mutex::new(link)),
        })
    }

    /// Connects to the agent named by `$SSH_AUTH_SOCK`.
    pub fn from_env() -> Result<Agent, AgentError> {
        match std::env::var_os(AUTH_SOCK_ENV) {
            Some(path) if !path.is_empty() => Agent::connect(PathBuf::from(path)),
            _ => Err(AgentError::NotConfigured),
        }
    }

    /// The agent's socket.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.lock().path.clone()
    }

    /// Sets how long each request waits for the agent (default
    /// [`DEFAULT_TIMEOUT`]); applies from the next connection made, and to
    /// the current one.
    pub fn set_timeout(&self, timeout: Duration) {
        let mut link = self.lock();
        link.timeout = timeout;
        if let Some(stream) = &link.stream {
            let _ = stream.set_read_timeout(Some(timeout));
            let _ = stream.set_write_timeout(Some(timeout));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Link> {
        // A panic while holding the lock left at worst a dropped or
        // half-used stream; `request` reopens it on failure.
        self.link
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The keys the agent holds, in its order (`ssh-add -L`).
    pub fn identities(&self) -> Result<Vec<AgentKey>, AgentError> {
        let answer = self.lock().request(&[SSH_AGENTC_REQUEST_IDENTITIES])?;
        let mut r = Reader::new(&answer);
        let kind = r.u8().map_err(protocol)?;
        match kind {
            SSH_AGENT_IDENTITIES_ANSWER => {}
            SSH_AGENT_FAILURE | SSH_AGENT_EXTENSION_FAILURE => {
                return Err(AgentError::Refused("list its keys"));
            }
            other => return Err(unexpected(other, "an identities answer")),
        }
        let count = r.u32().map_err(protocol)?;
        // Each key takes at least two length fields: a count beyond that
        // is a lie, refused before looping on it.
        if count as usize > r.remaining() / 8 {
            return Err(AgentError::Protocol(format!(
                "{count} keys announced in {} bytes",
                r.remaining()
            )));
        }
        let mut keys = Vec::new();
        for _ in 0..count {
            let blob = r.string().map_err(protocol)?;
            let comment = r.string().map_err(protocol)?;
            keys.push(AgentKey::new(
                self.clone(),
                blob.to_vec(),
                String::from_utf8_lossy(comment).into_owned(),
            )?);
        }
        r.finish_with("identities answer").map_err(protocol)?;
        Ok(keys)
    }

    /// Asks the agent to sign `data` with the key whose public blob is
    /// `key_blob`, with `flags` ([`SSH_AGENT_RSA_SHA2_256`],
    /// [`SSH_AGENT_RSA_SHA2_512`] or 0). Returns the encoded signature
    /// (`string algorithm, string blob`) as the agent sent it.
    pub fn sign(&self, key_blob: &[u8], data: &[u8], flags: u32) -> Result<Vec<u8>, AgentError> {
        let mut request = Vec::with_capacity(13 + key_blob.len() + data.len());
        request.put_u8(SSH_AGENTC_SIGN_REQUEST);
        request.put_string(key_blob);
        request.put_string(data);
        request.put_u32(flags);
        let answer = self.lock().request(&request)?;
        let mut r = Reader::new(&answer);
        match r.u8().map_err(protocol)? {
            SSH_AGENT_SIGN_RESPONSE => {}
            SSH_AGENT_FAILURE | SSH_AGENT_EXTENSION_FAILURE => {
                return Err(AgentError::Refused("sign with this key"));
            }
            other => return Err(unexpected(other, "a sign response")),
        }
        let signature = r.string().map_err(protocol)?.to_vec();
        r.finish_with("sign response").map_err(protocol)?;
        Ok(signature)
    }
}

fn protocol(e: sekura_proto::DecodeError) -> AgentError {
    AgentError::Protocol(e.to_string())
}

fn unexpected(kind: u8, expected: &str) -> AgentError {
    AgentError::Protocol(format!("message type {kind} instead of {expected}"))
}

/// A key held by an agent: signs by asking the agent.
#[derive(Clone)]
pub struct AgentKey {
    agent: Agent,
    blob: Vec<u8>,
    comment: String,
    key_type: String,
    algorithms: Vec<String>,
}

impl fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentKey")
            .field("key_type", &self.key_type)
            .field("fingerprint", &self.fingerprint())
            .field("comment", &self.comment)
            .finish_non_exhaustive()
    }
}

impl AgentKey {
    fn new(agent: Agent, blob: Vec<u8>, comment: String) -> Result<AgentKey, AgentError> {
        let key_type = key_type_of(&blob)
            .map_err(|e| AgentError::Protocol(format!("a key blob without a type: {e}")))?
            .to_string();
        // Key types sekura cannot parse (certificates, security keys) are
        // still listed: they sign with their own type name.
        let algorithms = match PublicKey::from_blob(&blob) {
            Ok(key) => key
                .signature_algorithms()
                .iter()
                .map(|a| (*a).to_string())
                .collect(),
            Err(_) => vec![key_type.clone()],
        };
        Ok(AgentKey {
            agent,
            blob,
            comment,
            key_type,
            algorithms,
        })
    }

    /// The comment the agent holds for the key (often its file name).
    #[must_use]
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// The public key blob.
    #[must_use]
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// The key's `SHA256:...` fingerprint, as `ssh-add -l` prints it.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        fingerprint_sha256(&self.blob)
    }

    /// The agent holding the key.
    #[must_use]
    pub fn agent(&self) -> &Agent {
        &self.agent
    }
}

impl SigningKey for AgentKey {
    fn key_type(&self) -> &str {
        &self.key_type
    }

    fn public_key_blob(&self) -> Vec<u8> {
        self.blob.clone()
    }

    fn signature_algorithms(&self) -> Vec<&str> {
        self.algorithms.iter().map(String::as_str).collect()
    }

    fn sign(
        &self,
        algorithm: &str,
        message: &[u8],
        _rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, AlgorithmError> {
        if !self.algorithms.iter().any(|a| a == algorithm) {
            return Err(AlgorithmError::UnsupportedSignature {
                key_type: self.key_type.clone(),
                algorithm: algorithm.to_string(),
            });
        }
        let flags = match algorithm {
            "rsa-sha2-256" => SSH_AGENT_RSA_SHA2_256,
            "rsa-sha2-512" => SSH_AGENT_RSA_SHA2_512,
            _ => 0,
        };
        let signature = self
            .agent
            .sign(&self.blob, message, flags)
            .map_err(|e| AlgorithmError::Signature(e.to_string()))?;
        // An agent that ignored the flags (signing ssh-rsa when asked for
        // rsa-sha2-512) must not make us send a mislabelled signature.
        decode_signature(&signature, algorithm)?;
        Ok(signature)
    }
}
