//! x86-64 vector kernels for the hot packet paths, with runtime CPU
//! detection (`cpufeatures`, which works without std).
//!
//! The only module of the crate allowed `unsafe`, for two reasons and no
//! others: calling a `#[target_feature]` function once the CPU is known to
//! have the features, and unaligned vector loads and stores from slices
//! whose length was checked. Every such block carries a `SAFETY:` comment.
//! The arithmetic intrinsics themselves are safe inside those functions.
//!
//! Each kernel is checked against the portable RustCrypto implementation it
//! stands in for, on random inputs of many lengths, and the callers fall back
//! to that implementation when the CPU lacks the features.

pub(crate) mod chacha20;
pub(crate) mod ghash;
pub(crate) mod poly1305;
