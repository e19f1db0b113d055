//! sekura's SSH connection, sans I/O.
//!
//! This crate grows into the transport, authentication and connection
//! protocols of both roles, driven by whatever owns the socket. What is here
//! now are its lowest layers: the version exchange ([`version`]) and the
//! binary packet protocol ([`packet`]).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod packet;
pub mod version;
