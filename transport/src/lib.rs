//! sekura's SSH connection, sans I/O.
//!
//! A [`Connection`] speaks the SSH transport protocol (RFC 4253) in the
//! client or the server role without touching a socket, a thread or a
//! clock: the driver feeds it bytes and the time, and takes bytes to send
//! and events back (see [`Connection`] for the order of calls). Beneath it
//! are the version exchange ([`version`]) and the binary packet protocol
//! ([`packet`]); authentication and channels build on it.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod auth;
pub mod channel;
mod config;
mod connection;
mod error;
mod event;
pub mod packet;
pub mod version;

pub use channel::{ChannelEvent, ChannelId};
pub use config::Config;
pub use connection::Connection;
pub use error::Error;
pub use event::{Event, HostKey};
