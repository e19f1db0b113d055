//! The SSH2 wire format and its messages, with no cryptography and no I/O.
//!
//! This crate is the bottom of sekura's stack. It knows how the data types of
//! RFC 4251 §5 are laid out on the wire ([`Reader`], [`Writer`], [`NameList`],
//! [`Mpint`]) and has one typed struct per message of the transport,
//! authentication and connection protocols ([`msg`]).
//!
//! Every byte handed to a decoder is treated as hostile: decoding never panics,
//! never reads past its input and never reserves memory on the word of a length
//! field before checking that many bytes are really there.
//!
//! ```
//! use sekura_proto::{Reader, Writer};
//!
//! let mut buf = Vec::new();
//! buf.put_u32(7);
//! buf.put_string(b"testing");
//! let mut r = Reader::new(&buf);
//! assert_eq!(r.u32().unwrap(), 7);
//! assert_eq!(r.string().unwrap(), b"testing");
//! r.finish().unwrap();
//! ```
//!
//! Whole messages decode through [`Message`], borrowing from the payload:
//!
//! ```
//! use sekura_proto::msg::{ChannelRequest, ChannelRequestKind};
//! use sekura_proto::{DecodeContext, Encode, Message};
//!
//! let exec = ChannelRequest {
//!     recipient_channel: 0,
//!     want_reply: true,
//!     request: ChannelRequestKind::Exec { command: b"uptime" },
//! };
//! let payload = exec.to_vec();
//! match Message::decode(&payload, &DecodeContext::default()).unwrap() {
//!     Message::ChannelRequest(req) => assert_eq!(req, exec),
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod mpint;
mod name_list;
mod wire;

pub mod msg;
pub mod numbers;

pub use error::DecodeError;
pub use mpint::Mpint;
pub use msg::{DecodeContext, Encode, Message};
pub use name_list::NameList;
pub use wire::{Reader, Writer};

/// Result of a decoding step.
pub type Result<T, E = DecodeError> = core::result::Result<T, E>;
