//! What a connection reports to the application.

use alloc::string::String;
use alloc::vec::Vec;
use sekura_negotiation::Negotiated;
use sekura_proto::numbers::DisconnectReason;

/// Something the application should know about, from
/// [`Connection::poll_event`](crate::Connection::poll_event).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Client role: the server proved it holds this host key (its signature
    /// over the exchange hash verified). Nothing more happens until the
    /// application calls [`accept_host_key`](crate::Connection::accept_host_key)
    /// or [`reject_host_key`](crate::Connection::reject_host_key): checking
    /// that this is the key expected is the application's job.
    HostKey(HostKey),
    /// A key exchange finished and its keys are in use in both directions.
    KeyExchangeDone {
        /// What was agreed.
        negotiated: Negotiated,
        /// Whether this was the connection's first exchange (a rekey
        /// otherwise).
        first: bool,
    },
    /// Client role: the server accepted our service request.
    ServiceAccepted {
        /// The service, e.g. `ssh-userauth`.
        name: String,
    },
    /// Server role: the client requested a service we offer, and it was
    /// accepted.
    ServiceStarted {
        /// The service.
        name: String,
    },
    /// The peer sent a DEBUG message it wants displayed.
    Debug {
        /// The message.
        message: String,
    },
    /// User authentication (see [`AuthEvent`](crate::auth::AuthEvent)).
    Auth(crate::auth::AuthEvent),
    /// Channels and global requests (see
    /// [`ChannelEvent`](crate::channel::ChannelEvent)).
    Channel(crate::channel::ChannelEvent),
    /// The connection is over: the peer disconnected, or an error ended it
    /// (then a DISCONNECT with `reason` was sent).
    Disconnected {
        /// The reason code.
        reason: DisconnectReason,
        /// The explanation.
        description: String,
        /// Whether the peer sent it (`false`: we did).
        by_peer: bool,
    },
}

/// A server host key offered for the application's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// The negotiated signature algorithm, e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// The public key blob, as a known_hosts entry stores it.
    pub key: Vec<u8>,
}

impl HostKey {
    /// The key's fingerprint as OpenSSH prints it (`SHA256:...`).
    #[must_use]
    pub fn fingerprint(&self) -> String {
        sekura_algorithms::sig::fingerprint_sha256(&self.key)
    }
}
