//! Built-in signature algorithms, signing keys and key files.
