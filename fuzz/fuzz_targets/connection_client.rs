//! A client-role `Connection` fed hostile bytes at three stages of its
//! handshake: never panics, and every error closes it cleanly. See
//! `common/mod.rs` for the input layout and the checks.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sekura_algorithms::Role;

fuzz_target!(|data: &[u8]| common::run(Role::Client, data));
