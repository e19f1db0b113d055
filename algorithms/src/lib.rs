//! sekura's algorithm traits and built-in algorithms.
//!
//! Every cryptographic algorithm SSH negotiates sits behind a trait of this
//! crate, so the transport never names a concrete algorithm:
//!
//! | role | factory trait | per-use state |
//! |---|---|---|
//! | key exchange | [`Kex`] | [`KexExchange`], a message-driven state machine |
//! | cipher | [`Cipher`] | [`PacketSealer`] / [`PacketOpener`], in place |
//! | MAC | [`Mac`] | [`MacInstance`] |
//! | host and user keys | [`SignatureAlgorithm`] (verify) | [`SigningKey`] (sign) |
//! | compression | [`Compression`] | [`Compressor`] / [`Decompressor`] |
//!
//! Built-in algorithms are unit structs in `static`s; a user's own algorithm is
//! just another value implementing the trait (see the `custom_cipher` example
//! of the `sekura` crate). Which algorithms are offered, and in what order, is
//! the business of `sekura-negotiation`.
//!
//! The crate is `no_std` with `alloc`. Randomness arrives as a
//! [`rand_core::CryptoRng`] supplied by the caller; nothing here reads a clock
//! or keeps global mutable state.
//!
//! `unsafe` is denied everywhere but in the private `simd` module, which holds
//! the x86-64 vector kernels (GHASH, ChaCha20, Poly1305) that the RustCrypto
//! crates do not offer in a default build; each unsafe block there says why it is sound.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod builtin;
pub mod cipher;
pub mod compression;
mod error;
pub mod hash;
pub mod kdf;
pub mod kex;
pub mod mac;
pub mod none;
pub mod sig;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd;

pub use cipher::{Cipher, DirectionKeys, PacketOpener, PacketSealer};
pub use compression::{Compression, Compressor, Decompressor};
pub use error::{AlgorithmError, CryptoError};
pub use hash::{HashFunction, Hasher};
pub use kex::{Kex, KexContext, KexExchange, KexOutput, KexStart, KexStep, SharedSecret};
pub use mac::{Mac, MacInstance};
pub use rand_core::CryptoRng;
pub use sig::{SignatureAlgorithm, SigningKey};

/// What every negotiable algorithm has: the name it goes by on the wire.
pub trait Algorithm: Send + Sync {
    /// The name in KEXINIT, such as `aes128-ctr` or `name@example.com`.
    fn name(&self) -> &str;
}

/// Which end of the connection a party is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that opened the connection.
    Client,
    /// The side that accepted it.
    Server,
}
