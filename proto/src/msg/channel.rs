//! Channel messages (RFC 4254 §5-7), except CHANNEL_REQUEST (see
//! `channel_request`).

use super::{Encode, expect_number};
use crate::numbers::{self, ChannelOpenFailureReason};
use crate::{Reader, Result, Writer};

/// Channel type `session` (RFC 4254 §6.1).
pub const SESSION: &str = "session";
/// Channel type `x11` (RFC 4254 §6.3.2).
pub const X11: &str = "x11";
/// Channel type `forwarded-tcpip` (RFC 4254 §7.2).
pub const FORWARDED_TCPIP: &str = "forwarded-tcpip";
/// Channel type `direct-tcpip` (RFC 4254 §7.2).
pub const DIRECT_TCPIP: &str = "direct-tcpip";

/// The type of channel a CHANNEL_OPEN asks for, with its type-specific
/// fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind<'a> {
    /// `session`: a shell, command or subsystem.
    Session,
    /// `x11`: an X11 connection forwarded from the server.
    X11 {
        /// Address of the X client.
        originator_address: &'a str,
        /// Port of the X client.
        originator_port: u32,
    },
    /// `forwarded-tcpip`: a connection to a port the client asked the server
    /// to forward.
    ForwardedTcpip {
        /// The address that was connected to.
        connected_address: &'a str,
        /// The port that was connected to.
        connected_port: u32,
        /// Address of the connecting peer.
        originator_address: &'a str,
        /// Port of the connecting peer.
        originator_port: u32,
    },
    /// `direct-tcpip`: the client asks the server to connect somewhere.
    DirectTcpip {
        /// Host to connect to.
        host: &'a str,
        /// Port to connect to.
        port: u32,
        /// Address of the connection's originator on the client side.
        originator_address: &'a str,
        /// Port of the connection's originator on the client side.
        originator_port: u32,
    },
    /// Any other channel type, its fields unparsed.
    Other {
        /// Channel type name.
        name: &'a str,
        /// The rest of the payload after the maximum packet size.
        data: &'a [u8],
    },
}

impl<'a> ChannelKind<'a> {
    /// The channel type name, as on the wire.
    #[must_use]
    pub fn name(&self) -> &'a str {
        match self {
            Self::Session => SESSION,
            Self::X11 { .. } => X11,
            Self::ForwardedTcpip { .. } => FORWARDED_TCPIP,
            Self::DirectTcpip { .. } => DIRECT_TCPIP,
            Self::Other { name, .. } => name,
        }
    }

    /// Reads the fields of channel type `name`.
    fn decode_fields(name: &'a str, r: &mut Reader<'a>) -> Result<Self> {
        Ok(match name {
            SESSION => Self::Session,
            X11 => Self::X11 {
                originator_address: r.utf8("originator address")?,
                originator_port: r.u32()?,
            },
            FORWARDED_TCPIP => Self::ForwardedTcpip {
                connected_address: r.utf8("connected address")?,
                connected_port: r.u32()?,
                originator_address: r.utf8("originator address")?,
                originator_port: r.u32()?,
            },
            DIRECT_TCPIP => Self::DirectTcpip {
                host: r.utf8("host to connect")?,
                port: r.u32()?,
                originator_address: r.utf8("originator address")?,
                originator_port: r.u32()?,
            },
            _ => Self::Other {
                name,
                data: r.rest(),
            },
        })
    }

    /// Writes the type-specific fields.
    fn encode_fields<W: Writer + ?Sized>(&self, w: &mut W) {
        match self {
            Self::Session => {}
            Self::X11 {
                originator_address,
                originator_port,
            } => {
                w.put_str(originator_address);
                w.put_u32(*originator_port);
            }
            Self::ForwardedTcpip {
                connected_address: address,
                connected_port: port,
                originator_address,
                originator_port,
            }
            | Self::DirectTcpip {
                host: address,
                port,
                originator_address,
                originator_port,
            } => {
                w.put_str(address);
                w.put_u32(*port);
                w.put_str(originator_address);
                w.put_u32(*originator_port);
            }
            Self::Other { data, .. } => w.put_raw(data),
        }
    }
}

/// SSH_MSG_CHANNEL_OPEN (RFC 4254 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOpen<'a> {
    /// The sender's number for the channel.
    pub sender_channel: u32,
    /// How many bytes the sender will accept before a window adjust.
    pub initial_window: u32,
    /// Largest data packet the sender accepts.
    pub max_packet: u32,
    /// The channel type and its fields.
    pub kind: ChannelKind<'a>,
}

impl<'a> ChannelOpen<'a> {
    /// Decodes a CHANNEL_OPEN payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::CHANNEL_OPEN, "CHANNEL_OPEN")?;
        let name = r.utf8("channel type")?;
        let sender_channel = r.u32()?;
        let initial_window = r.u32()?;
        let max_packet = r.u32()?;
        let kind = ChannelKind::decode_fields(name, &mut r)?;
        r.finish_with("CHANNEL_OPEN")?;
        Ok(ChannelOpen {
            sender_channel,
            initial_window,
            max_packet,
            kind,
        })
    }
}

impl Encode for ChannelOpen<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::CHANNEL_OPEN);
        w.put_str(self.kind.name());
        w.put_u32(self.sender_channel);
        w.put_u32(self.initial_window);
        w.put_u32(self.max_packet);
        self.kind.encode_fields(w);
    }
}

/// SSH_MSG_CHANNEL_OPEN_CONFIRMATION (RFC 4254 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOpenConfirmation<'a> {
    /// The opener's number for the channel.
    pub recipient_channel: u32,
    /// The confirmer's number for the channel.
    pub sender_channel: u32,
    /// How many bytes the confirmer will accept before a window adjust.
    pub initial_window: u32,
    /// Largest data packet the confirmer accepts.
    pub max_packet: u32,
    /// Channel-type-specific data (none for the standard types).
    pub data: &'a [u8],
}

impl<'a> ChannelOpenConfirmation<'a> {
    /// Decodes a CHANNEL_OPEN_CONFIRMATION payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(
            &mut r,
            numbers::CHANNEL_OPEN_CONFIRMATION,
            "CHANNEL_OPEN_CONFIRMATION",
        )?;
        Ok(ChannelOpenConfirmation {
            recipient_channel: r.u32()?,
            sender_channel: r.u32()?,
            initial_window: r.u32()?,
            max_packet: r.u32()?,
            data: r.rest(),
        })
    }
}

impl Encode for ChannelOpenConfirmation<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::CHANNEL_OPEN_CONFIRMATION);
        w.put_u32(self.recipient_channel);
        w.put_u32(self.sender_channel);
        w.put_u32(self.initial_window);
        w.put_u32(self.max_packet);
        w.put_raw(self.data);
    }
}

/// SSH_MSG_CHANNEL_OPEN_FAILURE (RFC 4254 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOpenFailure<'a> {
    /// The opener's number for the channel.
    pub recipient_channel: u32,
    /// Why, as a reason code.
    pub reason: ChannelOpenFailureReason,
    /// Why, for humans (UTF-8).
    pub description: &'a str,
    /// Language tag, usually empty.
    pub language: &'a str,
}

impl<'a> ChannelOpenFailure<'a> {
    /// Decodes a CHANNEL_OPEN_FAILURE payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(
            &mut r,
            numbers::CHANNEL_OPEN_FAILURE,
            "CHANNEL_OPEN_FAILURE",
        )?;
        let msg = ChannelOpenFailure {
            recipient_channel: r.u32()?,
            reason: ChannelOpenFailureReason::from_code(r.u32()?),
            description: r.utf8("failure description")?,
            language: r.utf8("language tag")?,
        };
        r.finish_with("CHANNEL_OPEN_FAILURE")?;
        Ok(msg)
    }
}

impl Encode for ChannelOpenFailure<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::CHANNEL_OPEN_FAILURE);
        w.put_u32(self.recipient_channel);
        w.put_u32(self.reason.code());
        w.put_str(self.description);
        w.put_str(self.language);
    }
}

/// SSH_MSG_CHANNEL_WINDOW_ADJUST (RFC 4254 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelWindowAdjust {
    /// The receiver's number for the channel.
    pub recipient_channel: u32,
    /// How many more bytes the sender will accept.
    pub bytes_to_add: u32,
}

impl ChannelWindowAdjust {
    /// Decodes a CHANNEL_WINDOW_ADJUST payload (message number included).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(
            &mut r,
            numbers::CHANNEL_WINDOW_ADJUST,
            "CHANNEL_WINDOW_ADJUST",
        )?;
        let msg = ChannelWindowAdjust {
            recipient_channel: r.u32()?,
            bytes_to_add: r.u32()?,
        };
        r.finish_with("CHANNEL_WINDOW_ADJUST")?;
        Ok(msg)
    }
}

impl Encode for ChannelWindowAdjust {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::CHANNEL_WINDOW_ADJUST);
        w.put_u32(self.recipient_channel);
        w.put_u32(self.bytes_to_add);
    }
}

/// SSH_MSG_CHANNEL_DATA (RFC 4254 §5.2). The data borrows the packet
/// buffer: nothing is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelData<'a> {
    /// The receiver's number for the channel.
    pub recipient_channel: u32,
    /// The data.
    pub data: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// Decodes a CHANNEL_DATA payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::CHANNEL_DATA, "CHANNEL_DATA")?;
        let msg = ChannelData {
            recipient_channel: r.u32()?,
            data: r.string()?,
        };
        r.finish_with("CHANNEL_DATA")?;
        Ok(msg)
    }
}

impl Encode for ChannelData<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::CHANNEL_DATA);
        w.put_u32(self.recipient_channel);
        w.put_string(self.data);
    }
}

/// SSH_MSG_CHANNEL_EXTENDED_DATA (RFC 4254 §5.2), such as stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelExtendedData<'a> {
    /// The receiver's number for the channel.
    pub recipient_channel: u32,
    /// The data type: [`numbers::EXTENDED_DATA_STDERR`] is the only one
    /// defined.
    pub data_type: u32,
    /// The data.
    pub data: &'a [u8],
}

impl<'a> ChannelExtendedData<'a> {
    /// Decodes a CHANNEL_EXTENDED_DATA payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(
            &mut r,
            numbers::CHANNEL_EXTENDED_DATA,
            "CHANNEL_EXTENDED_DATA",
        )?;
        let msg = ChannelExtendedData {
            recipient_channel: r.u32()?,
            data_type: r.u32()?,
            data: r.string()?,
        };
        r.finish_with("CHANNEL_EXTENDED_DATA")?;
        Ok(msg)
    }
}

impl Encode for ChannelExtendedData<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::CHANNEL_EXTENDED_DATA);
        w.put_u32(self.recipient_channel);
        w.put_u32(self.data_type);
        w.put_string(self.data);
    }
}

/// Defines a message whose only field is the recipient channel.
macro_rules! channel_only_message {
    ($(#[$doc:meta])* $name:ident, $number:path, $label:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            /// The receiver's number for the channel.
            pub recipient_channel: u32,
        }

        impl $name {
            #[doc = concat!("Decodes a ", $label, " payload (message number included).")]
            pub fn decode(payload: &[u8]) -> Result<Self> {
                let mut r = Reader::new(payload);
                expect_number(&mut r, $number, $label)?;
                let msg = $name {
                    recipient_channel: r.u32()?,
                };
                r.finish_with($label)?;
                Ok(msg)
            }
        }

        impl Encode for $name {
            fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
                w.put_u8($number);
                w.put_u32(self.recipient_channel);
            }
        }
    };
}

channel_only_message!(
    /// SSH_MSG_CHANNEL_EOF (RFC 4254 §5.3): the sender will send no more data.
    ChannelEof,
    numbers::CHANNEL_EOF,
    "CHANNEL_EOF"
);
channel_only_message!(
    /// SSH_MSG_CHANNEL_CLOSE (RFC 4254 §5.3).
    ChannelClose,
    numbers::CHANNEL_CLOSE,
    "CHANNEL_CLOSE"
);
channel_only_message!(
    /// SSH_MSG_CHANNEL_SUCCESS (RFC 4254 §5.4): a channel request succeeded.
    ChannelSuccess,
    numbers::CHANNEL_SUCCESS,
    "CHANNEL_SUCCESS"
);
channel_only_message!(
    /// SSH_MSG_CHANNEL_FAILURE (RFC 4254 §5.4): a channel request failed.
    ChannelFailure,
    numbers::CHANNEL_FAILURE,
    "CHANNEL_FAILURE"
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn channel_data_layout_borrows() {
        // RFC 4254 §5.2: byte 94, uint32 recipient channel, string data.
        let wire = b"\x5e\x00\x00\x00\x02\x00\x00\x00\x05hello";
        let msg = ChannelData::decode(wire).unwrap();
        assert_eq!(msg.recipient_channel, 2);
        assert_eq!(msg.data, b"hello");
        // The data is the packet's own bytes.
        assert!(core::ptr::eq(msg.data.as_ptr(), wire[9..].as_ptr()));
        assert_eq!(msg.to_vec(), wire);
        assert!(ChannelData::decode(&wire[..wire.len() - 1]).is_err());
        assert!(ChannelData::decode(&[wire.as_slice(), b"x"].concat()).is_err());
    }

    #[test]
    fn direct_tcpip_layout() {
        let msg = ChannelOpen {
            sender_channel: 1,
            initial_window: 0x20_0000,
            max_packet: 0x8000,
            kind: ChannelKind::DirectTcpip {
                host: "example.com",
                port: 22,
                originator_address: "127.0.0.1",
                originator_port: 50_000,
            },
        };
        let bytes = msg.to_vec();
        assert_eq!(
            bytes,
            b"\x5a\x00\x00\x00\x0cdirect-tcpip\
              \x00\x00\x00\x01\x00\x20\x00\x00\x00\x00\x80\x00\
              \x00\x00\x00\x0bexample.com\x00\x00\x00\x16\
              \x00\x00\x00\x09127.0.0.1\x00\x00\xc3\x50"
        );
        assert_eq!(ChannelOpen::decode(&bytes).unwrap(), msg);
    }

    #[test]
    fn small_channel_messages() {
        assert_eq!(
            ChannelEof {
                recipient_channel: 7
            }
            .to_vec(),
            [96, 0, 0, 0, 7]
        );
        assert_eq!(
            ChannelClose::decode(&[97, 0, 0, 0, 7]).unwrap(),
            ChannelClose {
                recipient_channel: 7
            }
        );
        assert!(ChannelSuccess::decode(&[97, 0, 0, 0, 7]).is_err());
        let f = ChannelOpenFailure {
            recipient_channel: 3,
            reason: ChannelOpenFailureReason::ConnectFailed,
            description: "no",
            language: "",
        };
        assert_eq!(ChannelOpenFailure::decode(&f.to_vec()).unwrap(), f);
        let c = ChannelOpenConfirmation {
            recipient_channel: 1,
            sender_channel: 2,
            initial_window: 3,
            max_packet: 4,
            data: b"",
        };
        assert_eq!(c.to_vec().len(), 17);
        assert_eq!(ChannelOpenConfirmation::decode(&c.to_vec()).unwrap(), c);
    }
}
