//! Categories of algorithms and the errors of editing and negotiating them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Which way data flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the server.
    ClientToServer,
    /// From the server to the client.
    ServerToClient,
}

impl Direction {
    /// The other direction.
    #[must_use]
    pub const fn reverse(self) -> Self {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::ClientToServer => "client to server",
            Direction::ServerToClient => "server to client",
        })
    }
}

/// One of the algorithm lists of a KEXINIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Key exchange methods.
    Kex,
    /// Host key (signature) algorithms.
    HostKey,
    /// Ciphers of one direction.
    Cipher(Direction),
    /// MACs of one direction.
    Mac(Direction),
    /// Compression methods of one direction.
    Compression(Direction),
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Category::Kex => f.write_str("key exchange method"),
            Category::HostKey => f.write_str("host key algorithm"),
            Category::Cipher(d) => write!(f, "cipher ({d})"),
            Category::Mac(d) => write!(f, "MAC ({d})"),
            Category::Compression(d) => write!(f, "compression method ({d})"),
        }
    }
}

/// Joins names with ", " for messages.
fn join(names: &[String]) -> String {
    names.join(", ")
}

/// Why an edit of the preferences was refused. A refused edit leaves the
/// preferences as they were.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PreferenceError {
    /// A name, or a wildcard pattern, matched no known algorithm.
    #[error("unknown {category} {name:?}; known: [{}]", join(.known))]
    UnknownAlgorithm {
        /// The list being edited.
        category: Category,
        /// The name or pattern as given.
        name: String,
        /// Every algorithm known in that category, in preference order.
        known: Vec<String>,
    },
    /// The edit would leave no algorithm enabled, which could never be
    /// negotiated (OpenSSH refuses such a list too).
    #[error("the {category} list would be empty")]
    EmptyList {
        /// The list being edited.
        category: Category,
    },
    /// A name is not usable as an algorithm name: empty, longer than 64
    /// characters, not printable US-ASCII, holding a comma or a wildcard, or
    /// one of the pseudo-algorithms sekura adds by itself.
    #[error("invalid algorithm name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Why the two KEXINITs could not be reconciled. The message names the
/// category and what each side offered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// No algorithm of a category is on both lists (and known to us).
    #[error("no common {category}: client offered [{}], server offered [{}]", join(.client), join(.server))]
    NoCommonAlgorithm {
        /// The category.
        category: Category,
        /// The client's list, as sent.
        client: Vec<String>,
        /// The server's list, as sent.
        server: Vec<String>,
    },
    /// Key exchange methods are shared, but every shared one needs a
    /// signature-capable host key and no host key algorithm is shared.
    #[error(
        "no common key exchange method with a compatible host key algorithm: \
         client offered [{}] with host key algorithms [{}], \
         server offered [{}] with host key algorithms [{}]",
        join(.client_kex), join(.client_host_key), join(.server_kex), join(.server_host_key)
    )]
    NoCompatibleHostKey {
        /// The client's key exchange methods.
        client_kex: Vec<String>,
        /// The server's key exchange methods.
        server_kex: Vec<String>,
        /// The client's host key algorithms.
        client_host_key: Vec<String>,
        /// The server's host key algorithms.
        server_host_key: Vec<String>,
    },
}

impl NegotiationError {
    /// The category that failed ([`Category::Kex`] for
    /// [`NoCompatibleHostKey`](Self::NoCompatibleHostKey)).
    #[must_use]
    pub fn category(&self) -> Category {
        match self {
            NegotiationError::NoCommonAlgorithm { category, .. } => *category,
            NegotiationError::NoCompatibleHostKey { .. } => Category::Kex,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn messages_name_the_category_and_both_lists() {
        let e = NegotiationError::NoCommonAlgorithm {
            category: Category::Cipher(Direction::ClientToServer),
            client: vec!["aes128-ctr".into(), "aes256-ctr".into()],
            server: vec!["3des-cbc".into()],
        };
        assert_eq!(
            e.to_string(),
            "no common cipher (client to server): client offered [aes128-ctr, aes256-ctr], \
             server offered [3des-cbc]"
        );
        let e = PreferenceError::UnknownAlgorithm {
            category: Category::Mac(Direction::ServerToClient),
            name: "hmac-sha3".into(),
            known: vec!["hmac-sha2-256".into(), "hmac-sha1".into()],
        };
        assert_eq!(
            e.to_string(),
            "unknown MAC (server to client) \"hmac-sha3\"; known: [hmac-sha2-256, hmac-sha1]"
        );
        assert_eq!(Category::Kex.to_string(), "key exchange method");
        assert_eq!(Category::HostKey.to_string(), "host key algorithm");
        assert_eq!(
            Category::Compression(Direction::ServerToClient).to_string(),
            "compression method (server to client)"
        );
    }
}
