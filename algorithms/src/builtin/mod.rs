//! The built-in algorithms, as prioritized lists.
//!
//! `DEFAULT_*` lists are what sekura offers out of the box, most preferred
//! first (OpenSSH's order where OpenSSH has the algorithm). `ALL_*` lists are
//! every algorithm compiled in, the defaults first and then the legacy ones
//! that a caller must ask for by name (`sekura-negotiation` turns these into
//! editable registries).

use crate::{Cipher, Compression, Kex, Mac, SignatureAlgorithm};

pub mod ciphers;
pub mod compression;
pub mod kex;
pub mod keys;
pub mod macs;

/// Key-exchange methods offered by default.
pub static DEFAULT_KEX: &[&dyn Kex] = &[];
/// Every key-exchange method compiled in.
pub static ALL_KEX: &[&dyn Kex] = &[];

/// Host key signature algorithms offered by default.
pub static DEFAULT_HOST_KEY: &[&dyn SignatureAlgorithm] = &[];
/// Every host key signature algorithm compiled in.
pub static ALL_HOST_KEY: &[&dyn SignatureAlgorithm] = &[];

/// Ciphers offered by default.
pub static DEFAULT_CIPHERS: &[&dyn Cipher] = &[];
/// Every cipher compiled in.
pub static ALL_CIPHERS: &[&dyn Cipher] = &[];

/// MACs offered by default.
pub static DEFAULT_MACS: &[&dyn Mac] = &[];
/// Every MAC compiled in.
pub static ALL_MACS: &[&dyn Mac] = &[];

/// Compression methods offered by default.
pub static DEFAULT_COMPRESSION: &[&dyn Compression] = &[&crate::none::NONE_COMPRESSION];
/// Every compression method compiled in.
pub static ALL_COMPRESSION: &[&dyn Compression] = &[&crate::none::NONE_COMPRESSION];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    fn names<T: Algorithm + ?Sized>(list: &[&T]) -> alloc::vec::Vec<alloc::string::String> {
        list.iter()
            .map(|a| alloc::string::String::from(a.name()))
            .collect()
    }

    fn check<T: Algorithm + ?Sized>(defaults: &[&T], all: &[&T]) {
        let d = names(defaults);
        let a = names(all);
        // Defaults come first in ALL, in the same order; no name twice.
        assert_eq!(a.get(..d.len()), Some(d.as_slice()));
        for (i, n) in a.iter().enumerate() {
            assert!(!a.iter().skip(i + 1).any(|m| m == n), "{n} listed twice");
        }
    }

    #[test]
    fn defaults_lead_all_and_names_are_unique() {
        check(DEFAULT_KEX, ALL_KEX);
        check(DEFAULT_HOST_KEY, ALL_HOST_KEY);
        check(DEFAULT_CIPHERS, ALL_CIPHERS);
        check(DEFAULT_MACS, ALL_MACS);
        check(DEFAULT_COMPRESSION, ALL_COMPRESSION);
    }
}
