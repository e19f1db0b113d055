//! # sekura
//!
//! A pure-Rust SSH2 toolkit: client and server, one sans-I/O protocol core,
//! and every cryptographic algorithm behind a trait, chosen at negotiation
//! time from prioritized registries that the caller can reorder, restrict or
//! extend with algorithms of its own.
//!
//! sekura is a stack of small crates, re-exported here:
//!
//! | module | crate | what it is |
//! |---|---|---|
//! | [`proto`] | `sekura-proto` | the SSH wire format and typed messages; no crypto, no I/O |
//! | [`algorithms`] | `sekura-algorithms` | the algorithm traits and every built-in algorithm |
//! | [`negotiation`] | `sekura-negotiation` | registries, preferences (OpenSSH syntax), KEXINIT, negotiation |
//! | [`transport`] | `sekura-transport` | the sans-I/O connection |
//!
//! The core crates are `no_std` + `alloc`; this facade adds what needs the
//! standard library, such as the operating system's random numbers
//! ([`os_rng`]).
//!
//! ## Choosing algorithms
//!
//! ```
//! use sekura::negotiation::Preferences;
//!
//! let mut prefs = Preferences::default();
//! // The strings OpenSSH's ssh_config takes: append, remove, put first.
//! prefs.set_compression("^none")?;
//! assert_eq!(prefs.compression_c2s.enabled().first().map(|a| a.name()), Some("none"));
//! # use sekura::algorithms::Algorithm;
//! # Ok::<(), sekura::negotiation::PreferenceError>(())
//! ```
#![forbid(unsafe_code)]

pub use sekura_algorithms as algorithms;
pub use sekura_negotiation as negotiation;
pub use sekura_proto as proto;
pub use sekura_transport as transport;

#[cfg(all(feature = "std", unix))]
pub mod agent;
#[cfg(feature = "std")]
pub mod blocking;
#[cfg(feature = "std")]
pub mod connect;
#[cfg(feature = "std")]
mod host_key_check;
pub mod known_hosts;
#[cfg(feature = "std")]
mod session_state;
#[cfg(feature = "tokio")]
pub mod tokio;

/// `sekura::connect("user@host:port")`: see [`connect::Connect`] for the options.
#[cfg(feature = "std")]
pub use connect::connect;
#[cfg(feature = "std")]
pub use host_key_check::{HostKeyCallback, HostKeyCheck};
pub use sekura_algorithms::{Algorithm, CryptoRng, Role};
pub use sekura_negotiation::{Negotiated, Preferences, negotiate};

/// The operating system's random number generator, as the
/// [`CryptoRng`] every sekura API takes.
///
/// It panics if the operating system cannot supply randomness, which on the
/// platforms sekura supports does not happen after boot; an SSH connection
/// without randomness could not be secure anyway.
#[cfg(feature = "std")]
#[must_use]
pub fn os_rng() -> impl CryptoRng {
    rand_core::UnwrapErr(getrandom::SysRng)
}
