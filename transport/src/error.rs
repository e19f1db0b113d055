//! The one error type of a connection, and the DISCONNECT reason each kind
//! of error is reported with.

use crate::packet::PacketError;
use crate::version::VersionError;
use alloc::string::String;
use sekura_algorithms::AlgorithmError;
use sekura_negotiation::NegotiationError;
use sekura_proto::DecodeError;
use sekura_proto::numbers::DisconnectReason;

/// Why a connection ended or an operation failed.
///
/// Every kind maps to the reason code sent in SSH_MSG_DISCONNECT
/// ([`Error::disconnect_reason`]); errors that end a connection make the
/// connection send that DISCONNECT before it closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer's identification line was refused.
    #[error("version exchange: {0}")]
    Version(#[from] VersionError),
    /// A packet was malformed or failed its integrity check.
    #[error("packet: {0}")]
    Packet(#[from] PacketError),
    /// A message could not be decoded.
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    /// The peer broke the protocol: a message out of place, a strict-kex
    /// violation, a rekey with another host key, ...
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The two sides have no algorithm in common in some category.
    #[error("negotiation failed: {0}")]
    Negotiation(#[from] NegotiationError),
    /// The key exchange itself failed (bad peer value, bad signature, ...).
    #[error("key exchange failed: {0}")]
    KeyExchange(AlgorithmError),
    /// The application (or its known_hosts policy) refused the server's
    /// host key.
    #[error("host key rejected: {0}")]
    HostKeyRejected(String),
    /// The peer asked for a service this side does not offer.
    #[error("service not available: {0}")]
    ServiceNotAvailable(String),
    /// Compressed data was corrupt or too large.
    #[error("compression: {0}")]
    Compression(AlgorithmError),
    /// The client ran out of authentication attempts (server role).
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    /// A channel command was not possible (unknown or closed channel, not
    /// authenticated yet, channel limit). Does not end the connection.
    #[error("channel: {0}")]
    Channel(String),
    /// The peer said nothing within the configured time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The peer ended the connection with SSH_MSG_DISCONNECT.
    #[error("peer disconnected ({reason:?}): {description}")]
    PeerDisconnected {
        /// The reason code it gave.
        reason: DisconnectReason,
        /// Its explanation.
        description: String,
    },
    /// This side ended the connection.
    #[error("connection closed: {0}")]
    Closed(String),
}

impl Error {
    /// The reason code to send in SSH_MSG_DISCONNECT for this error, or
    /// `None` when no DISCONNECT is owed (the peer already left).
    #[must_use]
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        Some(match self {
            Error::Version(VersionError::UnsupportedVersion { .. }) => {
                DisconnectReason::ProtocolVersionNotSupported
            }
            Error::Version(_) | Error::Decode(_) | Error::Protocol(_) => {
                DisconnectReason::ProtocolError
            }
            Error::Packet(PacketError::Mac(_)) => DisconnectReason::MacError,
            Error::Packet(_) => DisconnectReason::ProtocolError,
            Error::Negotiation(_) | Error::KeyExchange(_) => DisconnectReason::KeyExchangeFailed,
            Error::HostKeyRejected(_) => DisconnectReason::HostKeyNotVerifiable,
            Error::AuthFailed(_) => DisconnectReason::NoMoreAuthMethodsAvailable,
            Error::ServiceNotAvailable(_) => DisconnectReason::ServiceNotAvailable,
            Error::Compression(_) => DisconnectReason::CompressionError,
            Error::Timeout(_) => DisconnectReason::ConnectionLost,
            Error::Closed(_) | Error::Channel(_) => DisconnectReason::ByApplication,
            Error::PeerDisconnected { .. } => return None,
        })
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Error::Protocol(message.into())
    }
}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        use std::io::ErrorKind;
        let kind = match &e {
            Error::Timeout(_) => ErrorKind::TimedOut,
            Error::PeerDisconnected { .. } => ErrorKind::ConnectionAborted,
            Error::Closed(_) => ErrorKind::NotConnected,
            Error::HostKeyRejected(_) => ErrorKind::PermissionDenied,
            _ => ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_the_rfc_reason() {
        use sekura_algorithms::CryptoError;
        assert_eq!(
            Error::Packet(PacketError::Mac(CryptoError)).disconnect_reason(),
            Some(DisconnectReason::MacError)
        );
        assert_eq!(
            Error::Version(VersionError::UnsupportedVersion {
                found: "1.5".into()
            })
            .disconnect_reason(),
            Some(DisconnectReason::ProtocolVersionNotSupported)
        );
        assert_eq!(
            Error::HostKeyRejected("changed".into()).disconnect_reason(),
            Some(DisconnectReason::HostKeyNotVerifiable)
        );
        assert_eq!(
            Error::PeerDisconnected {
                reason: DisconnectReason::ByApplication,
                description: String::new()
            }
            .disconnect_reason(),
            None
        );
        assert_eq!(
            Error::protocol("x").disconnect_reason(),
            Some(DisconnectReason::ProtocolError)
        );
    }
}
