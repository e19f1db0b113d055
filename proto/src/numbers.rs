//! Assigned numbers: message numbers (RFC 4250 §4.1) and reason codes.

/// SSH_MSG_DISCONNECT
pub const DISCONNECT: u8 = 1;
/// SSH_MSG_IGNORE
pub const IGNORE: u8 = 2;
/// SSH_MSG_UNIMPLEMENTED
pub const UNIMPLEMENTED: u8 = 3;
/// SSH_MSG_DEBUG
pub const DEBUG: u8 = 4;
/// SSH_MSG_SERVICE_REQUEST
pub const SERVICE_REQUEST: u8 = 5;
/// SSH_MSG_SERVICE_ACCEPT
pub const SERVICE_ACCEPT: u8 = 6;
/// SSH_MSG_EXT_INFO (RFC 8308)
pub const EXT_INFO: u8 = 7;
/// SSH_MSG_NEWCOMPRESS (RFC 8308)
pub const NEWCOMPRESS: u8 = 8;
/// SSH_MSG_KEXINIT
pub const KEXINIT: u8 = 20;
/// SSH_MSG_NEWKEYS
pub const NEWKEYS: u8 = 21;
/// SSH_MSG_KEXDH_INIT, SSH_MSG_KEX_ECDH_INIT, SSH_MSG_KEX_DH_GEX_REQUEST_OLD
pub const KEX_30: u8 = 30;
/// SSH_MSG_KEXDH_REPLY, SSH_MSG_KEX_ECDH_REPLY, SSH_MSG_KEX_DH_GEX_GROUP
pub const KEX_31: u8 = 31;
/// SSH_MSG_KEX_DH_GEX_INIT
pub const KEX_DH_GEX_INIT: u8 = 32;
/// SSH_MSG_KEX_DH_GEX_REPLY
pub const KEX_DH_GEX_REPLY: u8 = 33;
/// SSH_MSG_KEX_DH_GEX_REQUEST
pub const KEX_DH_GEX_REQUEST: u8 = 34;
/// SSH_MSG_USERAUTH_REQUEST
pub const USERAUTH_REQUEST: u8 = 50;
/// SSH_MSG_USERAUTH_FAILURE
pub const USERAUTH_FAILURE: u8 = 51;
/// SSH_MSG_USERAUTH_SUCCESS
pub const USERAUTH_SUCCESS: u8 = 52;
/// SSH_MSG_USERAUTH_BANNER
pub const USERAUTH_BANNER: u8 = 53;
/// SSH_MSG_USERAUTH_PK_OK, SSH_MSG_USERAUTH_PASSWD_CHANGEREQ,
/// SSH_MSG_USERAUTH_INFO_REQUEST (the meaning depends on the method)
pub const USERAUTH_60: u8 = 60;
/// SSH_MSG_USERAUTH_INFO_RESPONSE (RFC 4256)
pub const USERAUTH_INFO_RESPONSE: u8 = 61;
/// SSH_MSG_GLOBAL_REQUEST
pub const GLOBAL_REQUEST: u8 = 80;
/// SSH_MSG_REQUEST_SUCCESS
pub const REQUEST_SUCCESS: u8 = 81;
/// SSH_MSG_REQUEST_FAILURE
pub const REQUEST_FAILURE: u8 = 82;
/// SSH_MSG_CHANNEL_OPEN
pub const CHANNEL_OPEN: u8 = 90;
/// SSH_MSG_CHANNEL_OPEN_CONFIRMATION
pub const CHANNEL_OPEN_CONFIRMATION: u8 = 91;
/// SSH_MSG_CHANNEL_OPEN_FAILURE
pub const CHANNEL_OPEN_FAILURE: u8 = 92;
/// SSH_MSG_CHANNEL_WINDOW_ADJUST
pub const CHANNEL_WINDOW_ADJUST: u8 = 93;
/// SSH_MSG_CHANNEL_DATA
pub const CHANNEL_DATA: u8 = 94;
/// SSH_MSG_CHANNEL_EXTENDED_DATA
pub const CHANNEL_EXTENDED_DATA: u8 = 95;
/// SSH_MSG_CHANNEL_EOF
pub const CHANNEL_EOF: u8 = 96;
/// SSH_MSG_CHANNEL_CLOSE
pub const CHANNEL_CLOSE: u8 = 97;
/// SSH_MSG_CHANNEL_REQUEST
pub const CHANNEL_REQUEST: u8 = 98;
/// SSH_MSG_CHANNEL_SUCCESS
pub const CHANNEL_SUCCESS: u8 = 99;
/// SSH_MSG_CHANNEL_FAILURE
pub const CHANNEL_FAILURE: u8 = 100;

/// Whether `n` is one of the transport layer's generic messages (1-19) or
/// key exchange messages (20-49): the only ones strict kex allows before the
/// first NEWKEYS (apart from the kex method's own).
#[must_use]
pub const fn is_transport_layer(n: u8) -> bool {
    n >= 1 && n <= 49
}

/// Whether `n` is in the range a key-exchange method gives its own meaning
/// (30-49, RFC 4250 §4.1.2).
#[must_use]
pub const fn is_kex_method_specific(n: u8) -> bool {
    n >= 30 && n <= 49
}

/// Whether `n` is in the range a user authentication method gives its own
/// meaning (60-79, RFC 4250 §4.1.2).
#[must_use]
pub const fn is_userauth_method_specific(n: u8) -> bool {
    n >= 60 && n <= 79
}

/// Whether `n` belongs to the user authentication protocol (50-79,
/// RFC 4250 §4.1.2).
#[must_use]
pub const fn is_userauth(n: u8) -> bool {
    n >= 50 && n <= 79
}

/// Whether `n` belongs to the connection protocol (80-127).
#[must_use]
pub const fn is_connection(n: u8) -> bool {
    n >= 80 && n <= 127
}

/// Reason codes of SSH_MSG_DISCONNECT (RFC 4250 §4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// 1: SSH_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT
    HostNotAllowedToConnect,
    /// 2: SSH_DISCONNECT_PROTOCOL_ERROR
    ProtocolError,
    /// 3: SSH_DISCONNECT_KEY_EXCHANGE_FAILED
    KeyExchangeFailed,
    /// 4: SSH_DISCONNECT_RESERVED
    Reserved,
    /// 5: SSH_DISCONNECT_MAC_ERROR
    MacError,
    /// 6: SSH_DISCONNECT_COMPRESSION_ERROR
    CompressionError,
    /// 7: SSH_DISCONNECT_SERVICE_NOT_AVAILABLE
    ServiceNotAvailable,
    /// 8: SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED
    ProtocolVersionNotSupported,
    /// 9: SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE
    HostKeyNotVerifiable,
    /// 10: SSH_DISCONNECT_CONNECTION_LOST
    ConnectionLost,
    /// 11: SSH_DISCONNECT_BY_APPLICATION
    ByApplication,
    /// 12: SSH_DISCONNECT_TOO_MANY_CONNECTIONS
    TooManyConnections,
    /// 13: SSH_DISCONNECT_AUTH_CANCELLED_BY_USER
    AuthCancelledByUser,
    /// 14: SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE
    NoMoreAuthMethodsAvailable,
    /// 15: SSH_DISCONNECT_ILLEGAL_USER_NAME
    IllegalUserName,
    /// A code outside RFC 4250's table.
    Other(u32),
}

impl DisconnectReason {
    /// The number on the wire.
    #[must_use]
    pub const fn code(self) -> u32 {
        match self {
            Self::HostNotAllowedToConnect => 1,
            Self::ProtocolError => 2,
            Self::KeyExchangeFailed => 3,
            Self::Reserved => 4,
            Self::MacError => 5,
            Self::CompressionError => 6,
            Self::ServiceNotAvailable => 7,
            Self::ProtocolVersionNotSupported => 8,
            Self::HostKeyNotVerifiable => 9,
            Self::ConnectionLost => 10,
            Self::ByApplication => 11,
            Self::TooManyConnections => 12,
            Self::AuthCancelledByUser => 13,
            Self::NoMoreAuthMethodsAvailable => 14,
            Self::IllegalUserName => 15,
            Self::Other(code) => code,
        }
    }

    /// The reason for a number on the wire.
    #[must_use]
    pub const fn from_code(code: u32) -> Self {
        match code {
            1 => Self::HostNotAllowedToConnect,
            2 => Self::ProtocolError,
            3 => Self::KeyExchangeFailed,
            4 => Self::Reserved,
            5 => Self::MacError,
            6 => Self::CompressionError,
            7 => Self::ServiceNotAvailable,
            8 => Self::ProtocolVersionNotSupported,
            9 => Self::HostKeyNotVerifiable,
            10 => Self::ConnectionLost,
            11 => Self::ByApplication,
            12 => Self::TooManyConnections,
            13 => Self::AuthCancelledByUser,
            14 => Self::NoMoreAuthMethodsAvailable,
            15 => Self::IllegalUserName,
            other => Self::Other(other),
        }
    }
}

/// Reason codes of SSH_MSG_CHANNEL_OPEN_FAILURE (RFC 4254 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelOpenFailureReason {
    /// 1: SSH_OPEN_ADMINISTRATIVELY_PROHIBITED
    AdministrativelyProhibited,
    /// 2: SSH_OPEN_CONNECT_FAILED
    ConnectFailed,
    /// 3: SSH_OPEN_UNKNOWN_CHANNEL_TYPE
    UnknownChannelType,
    /// 4: SSH_OPEN_RESOURCE_SHORTAGE
    ResourceShortage,
    /// A code outside RFC 4254's table.
    Other(u32),
}

impl ChannelOpenFailureReason {
    /// The number on the wire.
    #[must_use]
    pub const fn code(self) -> u32 {
        match self {
            Self::AdministrativelyProhibited => 1,
            Self::ConnectFailed => 2,
            Self::UnknownChannelType => 3,
            Self::ResourceShortage => 4,
            Self::Other(code) => code,
        }
    }

    /// The reason for a number on the wire.
    #[must_use]
    pub const fn from_code(code: u32) -> Self {
        match code {
            1 => Self::AdministrativelyProhibited,
            2 => Self::ConnectFailed,
            3 => Self::UnknownChannelType,
            4 => Self::ResourceShortage,
            other => Self::Other(other),
        }
    }
}

/// SSH_EXTENDED_DATA_STDERR (RFC 4254 §5.2).
pub const EXTENDED_DATA_STDERR: u32 = 1;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_roundtrip() {
        for code in 0..20 {
            assert_eq!(DisconnectReason::from_code(code).code(), code);
            assert_eq!(ChannelOpenFailureReason::from_code(code).code(), code);
        }
        assert_eq!(DisconnectReason::MacError.code(), 5);
        assert_eq!(
            DisconnectReason::from_code(14),
            DisconnectReason::NoMoreAuthMethodsAvailable
        );
    }
}
