//! Which algorithms sekura offers, and which the two sides agree on.
//!
//! * [`Registry`]: an ordered list of algorithms of one kind, most preferred
//!   first.
//! * [`Preferences`]: per category and direction, the algorithms sekura
//!   *knows* (every compiled-in one, plus the user's own) and those it
//!   *offers* ([`CategoryPreferences`]). Start from [`Preferences::default`]
//!   (modern, safe algorithms) or [`Preferences::all`] (legacy ones too) and
//!   edit by name ([`prefer`](CategoryPreferences::prefer),
//!   [`append`](CategoryPreferences::append),
//!   [`remove`](CategoryPreferences::remove),
//!   [`only`](CategoryPreferences::only),
//!   [`register`](CategoryPreferences::register)) or with OpenSSH's option
//!   syntax, wildcards included, so a line from `ssh_config` can be pasted:
//!   `"^chacha20-poly1305@openssh.com"` puts first, `"+aes128-cbc"` appends,
//!   `"-hmac-sha1*"` removes, `"aes256-ctr,aes128-ctr"` replaces
//!   ([`Preferences::set_ciphers`] and friends).
//! * [`Preferences::kexinit`]: our KEXINIT, with the pseudo-algorithms
//!   `ext-info-c`/`ext-info-s` and `kex-strict-c/s-v00@openssh.com` on the
//!   first exchange.
//! * [`negotiate`]: RFC 4253 §7.1 over both KEXINITs, giving a
//!   [`Negotiated`] or a [`NegotiationError`] that names the category and
//!   both lists.
//!
//! ```
//! use sekura_algorithms::{Algorithm, Role};
//! use sekura_negotiation::{Preferences, negotiate};
//!
//! # struct Rng(u64);
//! # impl rand_core::TryRng for Rng {
//! #     type Error = core::convert::Infallible;
//! #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(self.try_next_u64()? as u32) }
//! #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
//! #         self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1); Ok(self.0 >> 11)
//! #     }
//! #     fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
//! #         for b in dst { *b = self.try_next_u64()? as u8; } Ok(())
//! #     }
//! # }
//! # impl rand_core::TryCryptoRng for Rng {}
//! # let mut rng = Rng(1);
//! // The defaults: modern algorithms offered, legacy ones known.
//! let mut prefs = Preferences::default();
//!
//! // Edit with OpenSSH's syntax, e.g. `"^aes128-ctr"` or `"-hmac-sha1*"`
//! // for ciphers and MACs; here the compression methods, for both directions.
//! prefs.set_compression("^none")?;
//! // A name (or pattern) that matches nothing known is refused, and the
//! // message lists what is known.
//! let err = prefs.set_compression("+zstd*").unwrap_err();
//! assert!(err.to_string().contains("known: [none"));
//!
//! // Both KEXINITs of a first exchange, then the agreement.
//! let client = prefs.kexinit(Role::Client, true, &mut rng);
//! let server = prefs.kexinit(Role::Server, true, &mut rng);
//! assert!(client.kex_algorithms.contains("ext-info-c"));
//! assert!(server.kex_algorithms.contains("kex-strict-s-v00@openssh.com"));
//! match negotiate(&client, &server, &prefs) {
//!     Ok(agreed) => {
//!         assert_eq!(agreed.compression_c2s.name(), "none");
//!         assert!(agreed.strict_kex);
//!     }
//!     // While the built-in lists are still being filled, this says which
//!     // category has nothing to agree on, and what each side offered.
//!     Err(e) => println!("{e}"),
//! }
//! # Ok::<(), sekura_negotiation::PreferenceError>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod negotiate;
mod pattern;
mod preferences;
mod registry;
#[cfg(test)]
mod test_support;

pub use error::{Category, Direction, NegotiationError, PreferenceError};
pub use negotiate::{Negotiated, negotiate};
pub use preferences::{AlgorithmLists, CategoryPreferences, Preferences};
pub use registry::Registry;

/// Pseudo-algorithm a client adds to its first KEXINIT to accept EXT_INFO
/// (RFC 8308 §2.1).
pub const EXT_INFO_C: &str = "ext-info-c";
/// Pseudo-algorithm a server adds to its first KEXINIT to accept EXT_INFO
/// (RFC 8308 §2.1).
pub const EXT_INFO_S: &str = "ext-info-s";
/// Pseudo-algorithm a client adds to its first KEXINIT for OpenSSH's strict
/// key exchange (the Terrapin countermeasure).
pub const KEX_STRICT_C: &str = "kex-strict-c-v00@openssh.com";
/// Pseudo-algorithm a server adds to its first KEXINIT for OpenSSH's strict
/// key exchange.
pub const KEX_STRICT_S: &str = "kex-strict-s-v00@openssh.com";

/// Whether `name` is a pseudo-algorithm of the key exchange list, which
/// signals a capability and is never chosen as a method: `ext-info-c`,
/// `ext-info-s`, `kex-strict-*` and anything else of those two families.
#[must_use]
pub fn is_pseudo_algorithm(name: &str) -> bool {
    name.starts_with("ext-info-") || name.starts_with("kex-strict-")
}

/// Checks that `name` can be an algorithm name: 1 to 64 characters (RFC
/// 4251 §6) of printable US-ASCII, without commas (the name-list separator)
/// or wildcards, and not starting with `+`, `-` or `^`, which OpenSSH's
/// list syntax reads as edits.
pub(crate) fn name_is_valid(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty name");
    }
    if name.len() > 64 {
        return Err("longer than 64 characters");
    }
    if !name.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("not printable US-ASCII");
    }
    if name.contains(',') {
        return Err("contains a comma");
    }
    if pattern::is_pattern(name) {
        return Err("contains a wildcard");
    }
    if name.starts_with(['+', '-', '^']) {
        return Err("starts with +, - or ^");
    }
    Ok(())
}
