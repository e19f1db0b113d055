//! Built-in ciphers.
