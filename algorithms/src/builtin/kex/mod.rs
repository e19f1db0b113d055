//! Built-in key-exchange methods.

pub mod curve25519;
pub mod dh;
pub mod ecdh;
pub mod gex;
pub mod groups;
pub mod hybrid;
pub mod moduli;
