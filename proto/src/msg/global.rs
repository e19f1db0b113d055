//! Global requests (RFC 4254 §4 and §7, and OpenSSH's PROTOCOL §2).

use super::{Encode, expect_number};
use crate::{Reader, Result, Writer, numbers};
use alloc::vec::Vec;

/// Request name `tcpip-forward` (RFC 4254 §7.1).
pub const TCPIP_FORWARD: &str = "tcpip-forward";
/// Request name `cancel-tcpip-forward` (RFC 4254 §7.1).
pub const CANCEL_TCPIP_FORWARD: &str = "cancel-tcpip-forward";
/// Request name `keepalive@openssh.com`, used as a liveness probe.
pub const KEEPALIVE: &str = "keepalive@openssh.com";
/// Request name `no-more-sessions@openssh.com` (PROTOCOL §2.2).
pub const NO_MORE_SESSIONS: &str = "no-more-sessions@openssh.com";
/// Request name `hostkeys-00@openssh.com` (PROTOCOL §2.5).
pub const HOSTKEYS: &str = "hostkeys-00@openssh.com";
/// Request name `hostkeys-prove-00@openssh.com` (PROTOCOL §2.5).
pub const HOSTKEYS_PROVE: &str = "hostkeys-prove-00@openssh.com";

/// What a GLOBAL_REQUEST asks for, with its request-specific fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalRequestKind<'a> {
    /// `tcpip-forward`: listen on the server and forward connections back.
    TcpipForward {
        /// Address to bind (`""`, `"0.0.0.0"`, `"localhost"`, ...).
        address: &'a str,
        /// Port to bind; 0 lets the server choose (see
        /// [`RequestSuccess::bound_port`]).
        port: u32,
    },
    /// `cancel-tcpip-forward`: stop a `tcpip-forward`.
    CancelTcpipForward {
        /// Address that was bound.
        address: &'a str,
        /// Port that was bound.
        port: u32,
    },
    /// `keepalive@openssh.com`: no fields; any answer will do.
    KeepAlive,
    /// `no-more-sessions@openssh.com`: refuse further session channels.
    NoMoreSessions,
    /// `hostkeys-00@openssh.com`: the server's host keys, for the client to
    /// learn.
    HostKeys {
        /// Public key blobs.
        keys: Vec<&'a [u8]>,
    },
    /// `hostkeys-prove-00@openssh.com`: the client asks the server to prove
    /// it holds these keys.
    HostKeysProve {
        /// Public key blobs.
        keys: Vec<&'a [u8]>,
    },
    /// Any other request, its fields unparsed.
    Other {
        /// Request name.
        name: &'a str,
        /// The rest of the payload after `want_reply`.
        data: &'a [u8],
    },
}

impl<'a> GlobalRequestKind<'a> {
    /// The request name, as on the wire.
    #[must_use]
    pub fn name(&self) -> &'a str {
        match self {
            Self::TcpipForward { .. } => TCPIP_FORWARD,
            Self::CancelTcpipForward { .. } => CANCEL_TCPIP_FORWARD,
            Self::KeepAlive => KEEPALIVE,
            Self::NoMoreSessions => NO_MORE_SESSIONS,
            Self::HostKeys { .. } => HOSTKEYS,
            Self::HostKeysProve { .. } => HOSTKEYS_PROVE,
            Self::Other { name, .. } => name,
        }
    }

    /// Reads the fields of request `name`.
    fn decode_fields(name: &'a str, r: &mut Reader<'a>) -> Result<Self> {
        Ok(match name {
            TCPIP_FORWARD => Self::TcpipForward {
                address: r.utf8("address to bind")?,
                port: r.u32()?,
            },
            CANCEL_TCPIP_FORWARD => Self::CancelTcpipForward {
                address: r.utf8("address to bind")?,
                port: r.u32()?,
            },
            KEEPALIVE => Self::KeepAlive,
            NO_MORE_SESSIONS => Self::NoMoreSessions,
            HOSTKEYS => Self::HostKeys {
                keys: strings_to_end(r)?,
            },
            HOSTKEYS_PROVE => Self::HostKeysProve {
                keys: strings_to_end(r)?,
            },
            _ => Self::Other {
                name,
                data: r.rest(),
            },
        })
    }

    /// Writes the request-specific fields.
    fn encode_fields<W: Writer + ?Sized>(&self, w: &mut W) {
        match self {
            Self::TcpipForward { address, port } | Self::CancelTcpipForward { address, port } => {
                w.put_str(address);
                w.put_u32(*port);
            }
            Self::KeepAlive | Self::NoMoreSessions => {}
            Self::HostKeys { keys } | Self::HostKeysProve { keys } => {
                for key in keys {
                    w.put_string(key);
                }
            }
            Self::Other { data, .. } => w.put_raw(data),
        }
    }
}

/// Reads strings until the input ends.
fn strings_to_end<'a>(r: &mut Reader<'a>) -> Result<Vec<&'a [u8]>> {
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(r.string()?);
    }
    Ok(out)
}

/// SSH_MSG_GLOBAL_REQUEST (RFC 4254 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalRequest<'a> {
    /// Whether the sender wants REQUEST_SUCCESS or REQUEST_FAILURE back.
    pub want_reply: bool,
    /// The request and its fields.
    pub request: GlobalRequestKind<'a>,
}

impl<'a> GlobalRequest<'a> {
    /// Decodes a GLOBAL_REQUEST payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::GLOBAL_REQUEST, "GLOBAL_REQUEST")?;
        let name = r.utf8("request name")?;
        let want_reply = r.bool()?;
        let request = GlobalRequestKind::decode_fields(name, &mut r)?;
        r.finish_with("GLOBAL_REQUEST")?;
        Ok(GlobalRequest {
            want_reply,
            request,
        })
    }
}

impl Encode for GlobalRequest<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::GLOBAL_REQUEST);
        w.put_str(self.request.name());
        w.put_bool(self.want_reply);
        self.request.encode_fields(w);
    }
}

/// SSH_MSG_REQUEST_SUCCESS (RFC 4254 §4): the answer to a global request,
/// with request-specific data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSuccess<'a> {
    /// Request-specific data: empty for most requests, the bound port for
    /// `tcpip-forward` with port 0, signatures for `hostkeys-prove-00`.
    pub data: &'a [u8],
}

impl<'a> RequestSuccess<'a> {
    /// Decodes a REQUEST_SUCCESS payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::REQUEST_SUCCESS, "REQUEST_SUCCESS")?;
        Ok(RequestSuccess { data: r.rest() })
    }

    /// The port the server bound, when this answers a `tcpip-forward` for
    /// port 0 (RFC 4254 §7.1): the data is exactly one uint32.
    #[must_use]
    pub fn bound_port(&self) -> Option<u32> {
        let bytes: [u8; 4] = self.data.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }

    /// The data read as strings until the end, as in the answer to
    /// `hostkeys-prove-00@openssh.com` (one signature per key).
    pub fn strings(&self) -> Result<Vec<&'a [u8]>> {
        strings_to_end(&mut Reader::new(self.data))
    }
}

impl Encode for RequestSuccess<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::REQUEST_SUCCESS);
        w.put_raw(self.data);
    }
}

/// SSH_MSG_REQUEST_FAILURE (RFC 4254 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestFailure;

impl RequestFailure {
    /// Decodes a REQUEST_FAILURE payload (message number included).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::REQUEST_FAILURE, "REQUEST_FAILURE")?;
        r.finish_with("REQUEST_FAILURE")?;
        Ok(RequestFailure)
    }
}

impl Encode for RequestFailure {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::REQUEST_FAILURE);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn tcpip_forward_layout() {
        let wire =
            b"\x50\x00\x00\x00\x0dtcpip-forward\x01\x00\x00\x00\x09localhost\x00\x00\x1f\x90";
        let msg = GlobalRequest::decode(wire).unwrap();
        assert_eq!(
            msg,
            GlobalRequest {
                want_reply: true,
                request: GlobalRequestKind::TcpipForward {
                    address: "localhost",
                    port: 8080,
                },
            }
        );
        assert_eq!(msg.to_vec(), wire);
    }

    #[test]
    fn hostkeys_and_bound_port() {
        let msg = GlobalRequest {
            want_reply: false,
            request: GlobalRequestKind::HostKeys {
                keys: vec![b"k1", b"key2"],
            },
        };
        assert_eq!(GlobalRequest::decode(&msg.to_vec()).unwrap(), msg);
        let empty = GlobalRequest {
            want_reply: false,
            request: GlobalRequestKind::HostKeysProve { keys: vec![] },
        };
        assert_eq!(GlobalRequest::decode(&empty.to_vec()).unwrap(), empty);
        assert!(GlobalRequest::decode(&[&msg.to_vec()[..], &[0, 0]].concat()).is_err());

        let ok = RequestSuccess::decode(b"\x51\x00\x00\xa4\x1f").unwrap();
        assert_eq!(ok.bound_port(), Some(42_015));
        assert_eq!(RequestSuccess { data: b"" }.bound_port(), None);
        assert_eq!(RequestSuccess { data: b"12345" }.bound_port(), None);
        assert!(RequestFailure::decode(&[82, 0]).is_err());
    }
}
