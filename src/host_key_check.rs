//! How a client decides whether the server's host key is the one it
//! expected: the check both the blocking and the async adapters take.

use crate::transport::HostKey;

/// A function that accepts (`Ok`) or refuses (`Err` with the reason) a
/// server's host key.
pub type HostKeyCallback = Box<dyn FnMut(&HostKey) -> Result<(), String> + Send>;

/// How a client decides whether the server's host key is the one it
/// expected. There is no default: every session must choose.
pub enum HostKeyCheck {
    /// Accept the key whose blob this is.
    Key(Vec<u8>),
    /// Accept the key with this `SHA256:...` fingerprint.
    Fingerprint(String),
    /// Ask a function; `Err` carries the reason for refusing.
    Callback(HostKeyCallback),
    /// Accept any key. Only for tests and throwaway connections: a
    /// man in the middle is then undetectable.
    InsecureAcceptAny,
}

impl HostKeyCheck {
    /// Accepts the key with this fingerprint (as `ssh-keygen -l` prints).
    #[must_use]
    pub fn fingerprint(fingerprint: &str) -> Self {
        HostKeyCheck::Fingerprint(fingerprint.to_string())
    }

    /// Accepts what `check` accepts.
    pub fn callback(check: impl FnMut(&HostKey) -> Result<(), String> + Send + 'static) -> Self {
        HostKeyCheck::Callback(Box::new(check))
    }

    pub(crate) fn verify(&mut self, key: &HostKey) -> Result<(), String> {
        match self {
            HostKeyCheck::Key(blob) if *blob == key.key => Ok(()),
            HostKeyCheck::Key(_) => Err(format!("unexpected host key {}", key.fingerprint())),
            HostKeyCheck::Fingerprint(expected) if *expected == key.fingerprint() => Ok(()),
            HostKeyCheck::Fingerprint(expected) => Err(format!(
                "host key fingerprint is {}, expected {expected}",
                key.fingerprint()
            )),
            HostKeyCheck::Callback(check) => check(key),
            HostKeyCheck::InsecureAcceptAny => Ok(()),
        }
    }
}
