//! One typed struct per SSH message, each with `encode` and `decode`.
//!
//! Every message struct implements [`Encode`] (which writes the message
//! number first) and has a `decode(payload)` that checks the message number,
//! reads the fields and rejects trailing bytes. Messages borrow from the
//! payload: strings are `&str` or `&[u8]` slices of the packet buffer.
//!
//! [`Message`] decodes any payload by its number. Numbers 30-49 and 60-79
//! mean different things to different key exchange and authentication
//! methods; a [`DecodeContext`] says which reading applies.
//!
//! | Module | Messages |
//! |---|---|
//! | transport | DISCONNECT, IGNORE, UNIMPLEMENTED, DEBUG, SERVICE_REQUEST/ACCEPT, KEXINIT, NEWKEYS |
//! | ext_info | EXT_INFO, NEWCOMPRESS (RFC 8308) |
//! | kex | 30-34 for DH, ECDH/KEM hybrids and group exchange |
//! | userauth | 50-53, 60, 61 (RFC 4252, RFC 4256) |
//! | global | GLOBAL_REQUEST, REQUEST_SUCCESS/FAILURE |
//! | channel, channel_request | 90-100 |

use crate::Writer;
use alloc::vec::Vec;

mod channel;
mod channel_request;
mod ext_info;
mod global;
mod kex;
mod message;
mod terminal_modes;
mod transport;
mod userauth;

pub use channel::{
    ChannelClose, ChannelData, ChannelEof, ChannelExtendedData, ChannelFailure, ChannelKind,
    ChannelOpen, ChannelOpenConfirmation, ChannelOpenFailure, ChannelSuccess, ChannelWindowAdjust,
};
pub use channel_request::{ChannelRequest, ChannelRequestKind};
pub use ext_info::{ExtInfo, Extension, NewCompress};
pub use global::{GlobalRequest, GlobalRequestKind, RequestFailure, RequestSuccess};
pub use kex::{
    KexDhGexGroup, KexDhGexInit, KexDhGexReply, KexDhGexRequest, KexDhGexRequestOld, KexDhInit,
    KexDhReply, KexEcdhInit, KexEcdhReply, KexFamily, KexMessage,
};
pub use message::{DecodeContext, Message};
pub use terminal_modes::{TerminalModes, opcode};
pub use transport::{
    Debug, Disconnect, Ignore, KexInit, NewKeys, ServiceAccept, ServiceRequest, Unimplemented,
};
pub use userauth::{
    AuthFamily, AuthMethod, Prompt, UserauthBanner, UserauthFailure, UserauthInfoRequest,
    UserauthInfoResponse, UserauthPasswdChangeReq, UserauthPkOk, UserauthRequest, UserauthSuccess,
};

/// The names on the wire of extensions, methods, requests and channel types.
pub mod names {
    /// Extension names (RFC 8308).
    pub mod extension {
        pub use super::super::ext_info::{
            DELAY_COMPRESSION, NO_FLOW_CONTROL, PING, SERVER_SIG_ALGS,
        };
    }
    /// User authentication method names (RFC 4252, RFC 4256).
    pub mod auth_method {
        pub use super::super::userauth::{
            METHOD_HOSTBASED as HOSTBASED, METHOD_KEYBOARD_INTERACTIVE as KEYBOARD_INTERACTIVE,
            METHOD_NONE as NONE, METHOD_PASSWORD as PASSWORD, METHOD_PUBLICKEY as PUBLICKEY,
        };
    }
    /// Global request names (RFC 4254 §4, OpenSSH).
    pub mod global_request {
        pub use super::super::global::{
            CANCEL_TCPIP_FORWARD, HOSTKEYS, HOSTKEYS_PROVE, KEEPALIVE, NO_MORE_SESSIONS,
            TCPIP_FORWARD,
        };
    }
    /// Channel type names (RFC 4254).
    pub mod channel_type {
        pub use super::super::channel::{DIRECT_TCPIP, FORWARDED_TCPIP, SESSION, X11};
    }
    /// Channel request type names (RFC 4254 §6, OpenSSH).
    pub mod channel_request {
        pub use super::super::channel_request::{
            AUTH_AGENT_REQ, ENV, EXEC, EXIT_SIGNAL, EXIT_STATUS, KEEPALIVE, PTY_REQ, SHELL, SIGNAL,
            SUBSYSTEM, WINDOW_CHANGE, X11_REQ, XON_XOFF,
        };
    }
}

/// A message that can be written to the wire, message number first.
pub trait Encode {
    /// Writes the whole payload: message number, then fields.
    fn encode<W: Writer + ?Sized>(&self, w: &mut W);

    /// The payload as a fresh vector.
    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Reads the message number and checks it is `expected`.
pub(crate) fn expect_number(
    r: &mut crate::Reader<'_>,
    expected: u8,
    name: &'static str,
) -> crate::Result<()> {
    let found = r.u8().map_err(|_| crate::DecodeError::EmptyPayload)?;
    if found == expected {
        Ok(())
    } else {
        Err(crate::DecodeError::UnexpectedMessage {
            expected: name,
            found,
        })
    }
}
