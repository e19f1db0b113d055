//! Diffie-Hellman group exchange (RFC 4419): the server picks the group.
//!
//! ```text
//! C: SSH_MSG_KEX_DH_GEX_REQUEST (34)  uint32 min, uint32 n, uint32 max
//! S: SSH_MSG_KEX_DH_GEX_GROUP (31)    mpint p, mpint g
//! C: SSH_MSG_KEX_DH_GEX_INIT (32)     mpint e
//! S: SSH_MSG_KEX_DH_GEX_REPLY (33)    string K_S, mpint f, string signature
//!
//! H = HASH(string V_C || string V_S || string I_C || string I_S ||
//!          string K_S || uint32 min || uint32 n || uint32 max ||
//!          mpint p || mpint g || mpint e || mpint f || mpint K)
//! ```
//!
//! Old clients send SSH_MSG_KEX_DH_GEX_REQUEST_OLD (30, `uint32 n` only,
//! RFC 4419 §5). A sekura server still answers it and, as OpenSSH's did
//! while it supported the message (kexgexs.c sets min = max = -1 and
//! kexgex_hash() then leaves them out), hashes only `uint32 n` in place of
//! `min || n || max`. A sekura client always sends the new request.
//!
//! # Client
//!
//! The client asks for [`Gex::min`] / [`Gex::preferred`] / [`Gex::max`]
//! bits (2048 / 3072 / 8192 by default: RFC 8270's floor, the size matching
//! 128-bit ciphers, RFC 4419's ceiling). It refuses a group outside
//! `[min, max]`, an even modulus, and a generator outside `1 < g < p - 1`.
//! It cannot afford to test p for primality; like OpenSSH it trusts the
//! server it is authenticating to choose a prime.
//!
//! # Server
//!
//! The server clamps the client's request into its own `[min, max]` (the
//! same three fields; `preferred` is unused there), then picks the smallest
//! group of at least `n` bits, or failing that the largest within the
//! bounds. It picks from a moduli file when it has one (at random among the
//! lines of the chosen size, as sshd does) and from the RFC 3526 groups 14
//! to 18 otherwise or when no line fits.
//!
//! A server passes its moduli file by building the method at start-up and
//! leaking it, because registries hold `&'static dyn Kex`:
//!
//! ```
//! use std::sync::Arc;
//! use sekura_algorithms::builtin::kex::gex::Gex;
//! use sekura_algorithms::builtin::kex::moduli::Moduli;
//! use sekura_algorithms::{Algorithm, Kex};
//!
//! let text = std::fs::read_to_string("/etc/ssh/moduli").unwrap_or_default();
//! let moduli = Arc::new(Moduli::parse(&text));
//! for rejected in moduli.rejected() {
//!     eprintln!("moduli:{}: {}", rejected.line, rejected.reason);
//! }
//! let gex: &'static Gex = Box::leak(Box::new(Gex::sha256(2048, 3072, 8192).with_moduli(moduli)));
//! let kex: &'static dyn Kex = gex;
//! assert_eq!(kex.name(), "diffie-hellman-group-exchange-sha256");
//! ```

use super::dh::{
    Exponent, PreparedGroup, message_number, server_host_key, signed_reply, unexpected,
};
use super::groups::{GEX_FALLBACK_GROUPS, bit_length};
use super::moduli::Moduli;
use crate::hash::{SHA1, SHA256};
use crate::{
    Algorithm, AlgorithmError, CryptoRng, HashFunction, Hasher, Kex, KexContext, KexExchange,
    KexOutput, KexStart, KexStep, Role, SharedSecret,
};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use sekura_proto::msg::{
    KexDhGexGroup, KexDhGexInit, KexDhGexReply, KexDhGexRequest, KexDhGexRequestOld,
};
use sekura_proto::{Encode, Mpint, Writer, numbers};

/// RFC 8270's minimum group size, in bits.
pub const DEFAULT_MIN_BITS: u32 = 2048;
/// The preferred size a client asks for: NIST's match for 128-bit ciphers.
pub const DEFAULT_PREFERRED_BITS: u32 = 3072;
/// RFC 4419 §3's maximum group size, in bits.
pub const DEFAULT_MAX_BITS: u32 = 8192;

/// A group-exchange method (`diffie-hellman-group-exchange-*`) with its
/// group size bounds and, on a server, an optional moduli file.
///
/// Build one with a `const fn` for a `static` with other sizes, e.g.
/// `static STRONG_GEX: Gex = Gex::sha256(4096, 8192, 8192);`, or at run time
/// with [`Gex::with_moduli`] (see the module documentation).
#[derive(Clone)]
pub struct Gex {
    name: &'static str,
    hash: &'static dyn HashFunction,
    min: u32,
    preferred: u32,
    max: u32,
    moduli: Option<Arc<Moduli>>,
}

impl Gex {
    /// A method named `name` hashing with `hash`, with group sizes (bits)
    /// `min <= preferred <= max` (checked when an exchange starts).
    #[must_use]
    pub const fn new(
        name: &'static str,
        hash: &'static dyn HashFunction,
        min: u32,
        preferred: u32,
        max: u32,
    ) -> Self {
        Gex {
            name,
            hash,
            min,
            preferred,
            max,
            moduli: None,
        }
    }

    /// `diffie-hellman-group-exchange-sha256` (RFC 4419) with these sizes.
    #[must_use]
    pub const fn sha256(min: u32, preferred: u32, max: u32) -> Self {
        Self::new(
            "diffie-hellman-group-exchange-sha256",
            &SHA256,
            min,
            preferred,
            max,
        )
    }

    /// `diffie-hellman-group-exchange-sha1` (RFC 4419) with these sizes.
    #[must_use]
    pub const fn sha1(min: u32, preferred: u32, max: u32) -> Self {
        Self::new(
            "diffie-hellman-group-exchange-sha1",
            &SHA1,
            min,
            preferred,
            max,
        )
    }

    /// The same method, picking server groups from `moduli` first.
    #[must_use]
    pub fn with_moduli(mut self, moduli: Arc<Moduli>) -> Self {
        self.moduli = Some(moduli);
        self
    }

    /// Smallest group size, in bits: requested by a client, enforced by a
    /// server.
    #[must_use]
    pub const fn min(&self) -> u32 {
        self.min
    }

    /// Preferred group size a client requests, in bits.
    #[must_use]
    pub const fn preferred(&self) -> u32 {
        self.preferred
    }

    /// Largest group size, in bits: requested by a client, enforced by a
    /// server.
    #[must_use]
    pub const fn max(&self) -> u32 {
        self.max
    }

    /// The server's moduli file, if it was given one.
    #[must_use]
    pub fn moduli(&self) -> Option<&Moduli> {
        self.moduli.as_deref()
    }
}

impl core::fmt::Debug for Gex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gex")
            .field("name", &self.name)
            .field("min", &self.min)
            .field("preferred", &self.preferred)
            .field("max", &self.max)
            .field("moduli", &self.moduli.as_ref().map(|m| m.groups().len()))
            .finish()
    }
}

/// `diffie-hellman-group-exchange-sha256` (RFC 4419), 2048/3072/8192 bits.
pub static DH_GEX_SHA256: Gex =
    Gex::sha256(DEFAULT_MIN_BITS, DEFAULT_PREFERRED_BITS, DEFAULT_MAX_BITS);
/// `diffie-hellman-group-exchange-sha1` (RFC 4419), 2048/3072/8192 bits.
/// Legacy (SHA-1).
pub static DH_GEX_SHA1: Gex = Gex::sha1(DEFAULT_MIN_BITS, DEFAULT_PREFERRED_BITS, DEFAULT_MAX_BITS);

impl Algorithm for Gex {
    fn name(&self) -> &str {
        self.name
    }
}

impl Kex for Gex {
    fn hash(&self) -> &'static dyn HashFunction {
        self.hash
    }

    fn start(&self, role: Role, ctx: &mut KexContext<'_>) -> Result<KexStart, AlgorithmError> {
        if !(self.min <= self.preferred && self.preferred <= self.max) {
            return Err(AlgorithmError::MissingInput(
                "group exchange sizes with min <= preferred <= max",
            ));
        }
        let (state, send) = match role {
            Role::Client => {
                let request = KexDhGexRequest {
                    min: self.min,
                    preferred: self.preferred,
                    max: self.max,
                };
                (GexState::AwaitGroup, Some(request.to_vec()))
            }
            Role::Server => {
                server_host_key(ctx)?;
                (GexState::AwaitRequest, None)
            }
        };
        Ok(KexStart {
            exchange: Box::new(GexExchange {
                name: self.name,
                hash: self.hash,
                min: self.min,
                preferred: self.preferred,
                max: self.max,
                moduli: self.moduli.clone(),
                state,
            }),
            send,
        })
    }
}

/// The client's request as it goes into H.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// KEX_DH_GEX_REQUEST: `min || n || max` are hashed.
    Sizes { min: u32, preferred: u32, max: u32 },
    /// KEX_DH_GEX_REQUEST_OLD: only `n` is hashed.
    Old { preferred: u32 },
}

impl Request {
    fn hash_into(self, w: &mut dyn Hasher) {
        match self {
            Request::Sizes {
                min,
                preferred,
                max,
            } => {
                w.put_u32(min);
                w.put_u32(preferred);
                w.put_u32(max);
            }
            Request::Old { preferred } => w.put_u32(preferred),
        }
    }
}

/// The group size to use: the smallest of `sizes` that is at least
/// `preferred`, within `[min, max]`; else the largest within `[min, max]`.
fn choose_size(
    sizes: impl IntoIterator<Item = u32>,
    min: u32,
    preferred: u32,
    max: u32,
) -> Option<u32> {
    let mut smallest_fit: Option<u32> = None;
    let mut largest: Option<u32> = None;
    for size in sizes.into_iter().filter(|s| (min..=max).contains(s)) {
        if size >= preferred && smallest_fit.is_none_or(|s| size < s) {
            smallest_fit = Some(size);
        }
        if largest.is_none_or(|l| size > l) {
            largest = Some(size);
        }
    }
    smallest_fit.or(largest)
}

/// The server's pick for `request` within its own `[server_min,
/// server_max]`: `(p, g)` as unsigned big-endian bytes.
fn choose_group(
    request: Request,
    server_min: u32,
    server_max: u32,
    moduli: Option<&Moduli>,
    rng: &mut dyn CryptoRng,
) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
    let (low, preferred, high) = match request {
        Request::Sizes {
            min,
            preferred,
            max,
        } => {
            if !(min <= preferred && preferred <= max) {
                return Err("group exchange request breaks min <= n <= max");
            }
            (min.max(server_min), preferred, max.min(server_max))
        }
        Request::Old { preferred } => (server_min, preferred, server_max),
    };
    if low > high {
        return Err("the client accepts no group size within the server's bounds");
    }
    let preferred = preferred.clamp(low, high);

    if let Some(moduli) = moduli {
        let sizes = moduli.groups().iter().map(|g| g.bits());
        if let Some(best) = choose_size(sizes, low, preferred, high) {
            let mut candidates = moduli.groups().iter().filter(|g| g.bits() == best);
            let count = candidates.clone().count();
            // A different prime per connection, as sshd does; the modulo
            // bias over a 64-bit draw is negligible.
            let pick = u64::try_from(count)
                .ok()
                .and_then(|c| rng.next_u64().checked_rem(c))
                .and_then(|i| usize::try_from(i).ok())
                .unwrap_or(0);
            if let Some(group) = candidates.nth(pick) {
                return Ok((group.prime().to_vec(), group.generator().to_vec()));
            }
        }
    }

    let sizes = GEX_FALLBACK_GROUPS.iter().map(|g| g.bits());
    let best = choose_size(sizes, low, preferred, high)
        .ok_or("no built-in group (2048 to 8192 bits) fits the client's request")?;
    GEX_FALLBACK_GROUPS
        .iter()
        .find(|g| g.bits() == best)
        .map(|g| (g.prime().to_vec(), alloc::vec![g.generator()]))
        .ok_or("no built-in group fits the client's request")
}

enum GexState {
    /// Client: REQUEST sent.
    AwaitGroup,
    /// Client: INIT sent.
    AwaitReply {
        group: PreparedGroup,
        p: Vec<u8>,
        g: Vec<u8>,
        x: Exponent,
        e: Vec<u8>,
    },
    /// Server: waiting for REQUEST or REQUEST_OLD.
    AwaitRequest,
    /// Server: GROUP sent.
    AwaitInit {
        group: PreparedGroup,
        p: Vec<u8>,
        g: Vec<u8>,
        request: Request,
    },
    /// Finished or failed: nothing more is accepted.
    Done,
}

struct GexExchange {
    name: &'static str,
    hash: &'static dyn HashFunction,
    min: u32,
    preferred: u32,
    max: u32,
    moduli: Option<Arc<Moduli>>,
    state: GexState,
}

impl GexExchange {
    fn invalid(&self, reason: &'static str) -> AlgorithmError {
        AlgorithmError::InvalidPeerValue {
            algorithm: self.name,
            reason,
        }
    }

    fn client_group(
        &mut self,
        payload: &[u8],
        ctx: &mut KexContext<'_>,
    ) -> Result<KexStep, AlgorithmError> {
        let group = KexDhGexGroup::decode(payload)?;
        let p = group
            .p
            .as_unsigned()
            .ok_or_else(|| self.invalid("modulus is negative"))?;
        let g = group
            .g
            .as_unsigned()
            .ok_or_else(|| self.invalid("generator is negative"))?;
        let bits = bit_length(p);
        if bits < self.min {
            return Err(self
                .invalid("server's group is smaller than the minimum size the client asked for"));
        }
        if bits > self.max {
            return Err(
                self.invalid("server's group is larger than the maximum size the client asked for")
            );
        }
        let prepared = PreparedGroup::new(p, g).map_err(|r| self.invalid(r))?;
        let (x, e) = prepared.generate(&mut *ctx.rng)?;
        let init = KexDhGexInit {
            e: Mpint::from_unsigned(&e),
        }
        .to_vec();
        self.state = GexState::AwaitReply {
            group: prepared,
            p: p.to_vec(),
            g: g.to_vec(),
            x,
            e,
        };
        Ok(KexStep::Send(init))
    }

    fn server_request(
        &mut self,
        request: Request,
        ctx: &mut KexContext<'_>,
    ) -> Result<KexStep, AlgorithmError> {
        let (p, g) = choose_group(
            request,
            self.min,
            self.max,
            self.moduli.as_deref(),
            &mut *ctx.rng,
        )
        .map_err(|r| self.invalid(r))?;
        let group = PreparedGroup::new(&p, &g).map_err(|r| self.invalid(r))?;
        let message = KexDhGexGroup {
            p: Mpint::from_unsigned(&p),
            g: Mpint::from_unsigned(&g),
        }
        .to_vec();
        self.state = GexState::AwaitInit {
            group,
            p,
            g,
            request,
        };
        Ok(KexStep::Send(message))
    }
}

impl KexExchange for GexExchange {
    fn handle(
        &mut self,
        payload: &[u8],
        ctx: &mut KexContext<'_>,
    ) -> Result<KexStep, AlgorithmError> {
        let number = message_number(payload)?;
        // Whatever happens next, the current state is used up; a successful
        // step installs the next one.
        match core::mem::replace(&mut self.state, GexState::Done) {
            GexState::AwaitGroup => {
                if number != numbers::KEX_31 {
                    return Err(unexpected(self.name, "KEX_DH_GEX_GROUP (31)", number));
                }
                self.client_group(payload, ctx)
            }
            GexState::AwaitReply { group, p, g, x, e } => {
                if number != numbers::KEX_DH_GEX_REPLY {
                    return Err(unexpected(self.name, "KEX_DH_GEX_REPLY (33)", number));
                }
                let reply = KexDhGexReply::decode(payload)?;
                let (f, f_bytes) = group
                    .check_peer_value(&reply.f)
                    .map_err(|r| self.invalid(r))?;
                let k = group.shared_secret(&x, f).map_err(|r| self.invalid(r))?;
                let request = Request::Sizes {
                    min: self.min,
                    preferred: self.preferred,
                    max: self.max,
                };
                let h = gex_exchange_hash(
                    self.hash,
                    ctx,
                    reply.host_key,
                    request,
                    [&p, &g, &e, f_bytes],
                    &k,
                );
                Ok(KexStep::Done {
                    send: None,
                    output: KexOutput {
                        shared_secret: k,
                        exchange_hash: h,
                        host_key: reply.host_key.to_vec(),
                        signature: reply.signature.to_vec(),
                    },
                })
            }
            GexState::AwaitRequest => match number {
                numbers::KEX_DH_GEX_REQUEST => {
                    let r = KexDhGexRequest::decode(payload)?;
                    let request = Request::Sizes {
                        min: r.min,
                        preferred: r.preferred,
                        max: r.max,
                    };
                    self.server_request(request, ctx)
                }
                numbers::KEX_30 => {
                    let r = KexDhGexRequestOld::decode(payload)?;
                    let request = Request::Old {
                        preferred: r.preferred,
                    };
                    self.server_request(request, ctx)
                }
                found => Err(unexpected(
                    self.name,
                    "KEX_DH_GEX_REQUEST (34) or KEX_DH_GEX_REQUEST_OLD (30)",
                    found,
                )),
            },
            GexState::AwaitInit {
                group,
                p,
                g,
                request,
            } => {
                if number != numbers::KEX_DH_GEX_INIT {
                    return Err(unexpected(self.name, "KEX_DH_GEX_INIT (32)", number));
                }
                let signer = server_host_key(ctx)?;
                let init = KexDhGexInit::decode(payload)?;
                let (e, e_bytes) = group
                    .check_peer_value(&init.e)
                    .map_err(|r| self.invalid(r))?;
                let (y, f) = group.generate(&mut *ctx.rng)?;
                let k = group.shared_secret(&y, e).map_err(|r| self.invalid(r))?;
                let host_key = signer.key.public_key_blob();
                let h = gex_exchange_hash(
                    self.hash,
                    ctx,
                    &host_key,
                    request,
                    [&p, &g, e_bytes, &f],
                    &k,
                );
                signed_reply(ctx, signer, host_key, k, h, |host_key, signature| {
                    KexDhGexReply {
                        host_key,
                        f: Mpint::from_unsigned(&f),
                        signature,
                    }
                    .to_vec()
                })
            }
            GexState::Done => Err(unexpected(
                self.name,
                "no message (exchange finished)",
                number,
            )),
        }
    }
}

/// H of RFC 4419 §3. `[p, g, e, f]` are unsigned magnitudes; `k` is K
/// already encoded as an mpint.
fn gex_exchange_hash(
    hash: &dyn HashFunction,
    ctx: &KexContext<'_>,
    host_key: &[u8],
    request: Request,
    [p, g, e, f]: [&[u8]; 4],
    k: &SharedSecret,
) -> Vec<u8> {
    let mut h = hash.start();
    ctx.hash_prefix(h.as_mut(), host_key);
    request.hash_into(h.as_mut());
    h.put_mpint_unsigned(p);
    h.put_mpint_unsigned(g);
    h.put_mpint_unsigned(e);
    h.put_mpint_unsigned(f);
    h.put_raw(k.encoded());
    h.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::super::dh::tests::{
        CLIENT_X, SERVER_Y, TEST_KEY, TestRng, bad_values, check_agreement, context, run, run_pair,
        sha256_hex, test_signature,
    };
    use super::super::groups::{GROUP1, GROUP14, GROUP15, GROUP16, GROUP18};
    use super::*;
    use crate::SigningKey;
    use crate::hash::tests::hex;
    use alloc::format;
    use alloc::string::String;

    fn builtin(request: Request) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
        choose_group(
            request,
            DEFAULT_MIN_BITS,
            DEFAULT_MAX_BITS,
            None,
            &mut TestRng::seeded(0),
        )
    }

    fn sizes(min: u32, preferred: u32, max: u32) -> Request {
        Request::Sizes {
            min,
            preferred,
            max,
        }
    }

    fn bits_of(choice: Result<(Vec<u8>, Vec<u8>), &'static str>) -> Result<u32, &'static str> {
        choice.map(|(p, _)| bit_length(&p))
    }

    #[test]
    fn size_choice_rule() {
        let available = [2048, 3072, 4096, 6144, 8192];
        let cases = [
            ((2048, 3072, 8192), Some(3072)),
            ((2048, 2048, 2048), Some(2048)),
            ((2048, 2049, 8192), Some(3072)),
            ((2048, 5000, 8192), Some(6144)),
            ((2048, 8192, 8192), Some(8192)),
            // Nothing at least n within the bounds: the largest inside.
            ((2048, 7000, 7000), Some(6144)),
            ((3000, 3500, 4000), Some(3072)),
            ((1024, 1024, 2047), None),
            ((4097, 5000, 6000), None),
            ((8193, 9000, 16384), None),
        ];
        for ((min, n, max), expected) in cases {
            assert_eq!(
                choose_size(available, min, n, max),
                expected,
                "({min}, {n}, {max})"
            );
        }
        assert_eq!(choose_size([], 0, 0, u32::MAX), None);
        // Order of the candidates does not matter.
        assert_eq!(
            choose_size([8192, 2048, 3072], 2048, 2500, 8192),
            Some(3072)
        );
    }

    #[test]
    fn builtin_group_choice() {
        let cases = [
            (sizes(2048, 3072, 8192), Ok(3072)),
            (sizes(2048, 2048, 2048), Ok(2048)),
            (sizes(2048, 5000, 8192), Ok(6144)),
            // n above the server's max is clamped to it.
            (sizes(2048, 9000, 16384), Ok(8192)),
            // min below the server's 2048 is raised to it.
            (sizes(1024, 1024, 4096), Ok(2048)),
            (sizes(3000, 3500, 4000), Ok(3072)),
            (
                sizes(1024, 1024, 1024),
                Err("the client accepts no group size within the server's bounds"),
            ),
            (
                sizes(4097, 5000, 6000),
                Err("no built-in group (2048 to 8192 bits) fits the client's request"),
            ),
            (
                sizes(3072, 2048, 8192),
                Err("group exchange request breaks min <= n <= max"),
            ),
            (
                sizes(2048, 8192, 4096),
                Err("group exchange request breaks min <= n <= max"),
            ),
            (Request::Old { preferred: 1024 }, Ok(2048)),
            (Request::Old { preferred: 4000 }, Ok(4096)),
            (Request::Old { preferred: 9000 }, Ok(8192)),
        ];
        for (request, expected) in cases {
            assert_eq!(bits_of(builtin(request)), expected, "{request:?}");
        }
        // The groups are RFC 3526's with generator 2.
        let (p, g) = builtin(sizes(2048, 3072, 8192)).unwrap();
        assert_eq!(p, GROUP15.prime());
        assert_eq!(g, [2]);
    }

    #[test]
    fn server_bounds_narrow_the_choice() {
        let choose = |request| {
            bits_of(choose_group(
                request,
                3072,
                4096,
                None,
                &mut TestRng::seeded(0),
            ))
        };
        assert_eq!(choose(sizes(2048, 2048, 8192)), Ok(3072));
        assert_eq!(choose(sizes(2048, 8192, 8192)), Ok(4096));
        assert_eq!(choose(Request::Old { preferred: 2048 }), Ok(3072));
        assert!(choose(sizes(2048, 2048, 2048)).is_err());
    }

    fn hex_upper(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }

    fn fixture_moduli() -> Moduli {
        let p14 = hex_upper(GROUP14.prime());
        let p16 = hex_upper(GROUP16.prime());
        Moduli::parse(&format!(
            "# Time Type Tests Tries Size Generator Modulus\n\
             20250616002444 2 6 100 2047 2 {p14}\n\
             20250616002455 2 6 100 2047 5 {p14}\n\
             20250616002466 2 6 100 4095 3 {p16}\n"
        ))
    }

    #[test]
    fn moduli_file_choice() {
        let moduli = fixture_moduli();
        assert_eq!(moduli.groups().len(), 3);
        let choose = |request, rng: &mut TestRng| {
            choose_group(request, 2048, 8192, Some(&moduli), rng).unwrap()
        };
        // Two 2048-bit lines: the RNG's draw picks one (0 → first, 1 → second).
        let first = choose(
            sizes(2048, 2048, 8192),
            &mut TestRng::replaying(&[0, 0, 0, 0, 0, 0, 0, 0]),
        );
        assert_eq!(first, (GROUP14.prime().to_vec(), alloc::vec![2]));
        let second = choose(
            sizes(2048, 2048, 8192),
            &mut TestRng::replaying(&[0, 0, 0, 0, 0, 0, 0, 1]),
        );
        assert_eq!(second, (GROUP14.prime().to_vec(), alloc::vec![5]));
        // 3072 is not in the file: the next size up, 4096, is.
        let larger = choose(sizes(2048, 3072, 8192), &mut TestRng::seeded(1));
        assert_eq!(larger, (GROUP16.prime().to_vec(), alloc::vec![3]));
        // Nothing in the file fits 6144..=8192: the built-in groups do.
        let fallback = choose(sizes(6144, 8192, 8192), &mut TestRng::seeded(1));
        assert_eq!(fallback, (GROUP18.prime().to_vec(), alloc::vec![2]));
    }

    #[test]
    fn gex_sha256_known_answer() {
        // Computed with Python at writing time: the default request
        // (2048, 3072, 8192) gets RFC 3526 group 15 (g = 2), then
        //   e = pow(2, X, P15); f = pow(2, Y, P15); K = pow(e, Y, P15)
        //   H = sha256(string(V_C) + string(V_S) + string(I_C) + string(I_S)
        //              + string(K_S) + uint32(2048) + uint32(3072)
        //              + uint32(8192) + mpint(P15) + mpint(2) + mpint(e)
        //              + mpint(f) + mpint(K))                (RFC 4419 §3)
        let mut c = TestRng::replaying(&hex(CLIENT_X));
        let mut s = TestRng::replaying(&hex(SERVER_Y));
        let run = run(&DH_GEX_SHA256, &mut c, &mut s).unwrap();
        check_agreement(&DH_GEX_SHA256, &run);
        let numbers: Vec<u8> = run.messages.iter().map(|m| m[0]).collect();
        assert_eq!(numbers, [34, 31, 32, 33]);
        assert_eq!(
            run.messages[0],
            [34, 0, 0, 8, 0, 0, 0, 12, 0, 0, 0, 32, 0],
            "KEX_DH_GEX_REQUEST 2048/3072/8192"
        );
        assert_eq!(
            sha256_hex(&run.messages[1]),
            hex("2bb456b42717c5650f9a585f770397fc4cca2d04459ac6759d04b1fcf1b5876c")
        );
        assert_eq!(
            sha256_hex(&run.messages[2]),
            hex("a355f9220527a2fb8fbddb5b4d36c36cb99325387420e3e39c0ecca5378cc079")
        );
        assert_eq!(
            sha256_hex(&run.messages[3]),
            hex("3171b9a25ba332bbf69f14918bd3425bc54f7acee08bd9554821bdd8bbc30333")
        );
        assert_eq!(
            sha256_hex(run.client.shared_secret.encoded()),
            hex("931907510dffa24dc2e1593a631e4f3c18f133a7e79dfde0142bded60f8902ae")
        );
        assert_eq!(
            run.client.exchange_hash,
            hex("f17fa013454b7364a6ad23546d02a5af6864475ed24c0ece80bf480981616ea4")
        );
    }

    #[test]
    fn old_request_hashes_only_n() {
        // A client of the RFC 4419 §5 kind sends KEX_DH_GEX_REQUEST_OLD
        // with n = 2048 and gets group 14. Python, at writing time:
        //   H = sha1(string(V_C) + string(V_S) + string(I_C) + string(I_S)
        //            + string(K_S) + uint32(2048) + mpint(P14) + mpint(2)
        //            + mpint(e) + mpint(f) + mpint(K))
        // with e = pow(2, X, P14), f = pow(2, Y, P14), K = pow(e, Y, P14):
        // n alone, as OpenSSH's kexgex_hash() with min = max = -1.
        let mut rng = TestRng::replaying(&hex(SERVER_Y));
        let mut ctx = context(&mut rng, true);
        let mut server = DH_GEX_SHA1.start(Role::Server, &mut ctx).unwrap().exchange;
        let group = match server.handle(&[30, 0, 0, 8, 0], &mut ctx).unwrap() {
            KexStep::Send(message) => KexDhGexGroup::decode(&message).unwrap().into_owned(),
            KexStep::Done { .. } => panic!("the server answers with its group"),
        };
        assert_eq!(group.p.as_unsigned(), Some(GROUP14.prime()));
        assert_eq!(group.g.as_unsigned(), Some(&[2u8][..]));

        let prepared = PreparedGroup::new(GROUP14.prime(), &[2]).unwrap();
        let e = prepared.public_value(&Exponent::from_be_bytes(&hex(CLIENT_X)));
        let init = KexDhGexInit {
            e: Mpint::from_unsigned(&e),
        }
        .to_vec();
        let KexStep::Done {
            send: Some(reply),
            output,
        } = server.handle(&init, &mut ctx).unwrap()
        else {
            panic!("the server finishes on GEX_INIT");
        };
        assert_eq!(
            output.exchange_hash,
            hex("a10226a04f8c0a9fdc91fed77bcf108fac5099d3")
        );
        assert_eq!(
            sha256_hex(output.shared_secret.encoded()),
            hex("8fc4e81cb37d8f0f5b6007f210e3f89e8ebb4abe67f81e8c5a7f8e2581a1072e")
        );
        let reply = KexDhGexReply::decode(&reply).unwrap();
        assert_eq!(reply.host_key, TEST_KEY.public_key_blob());
        assert_eq!(reply.signature, test_signature(&output.exchange_hash));
    }

    #[test]
    fn both_methods_agree_in_memory() {
        for (i, kex) in [&DH_GEX_SHA256, &DH_GEX_SHA1].into_iter().enumerate() {
            let seed = u8::try_from(i).unwrap();
            let run = run(
                kex,
                &mut TestRng::seeded(seed),
                &mut TestRng::seeded(seed + 50),
            )
            .unwrap();
            check_agreement(kex, &run);
        }
    }

    #[test]
    fn configured_sizes_and_moduli_reach_the_wire() {
        static STRONG: Gex = Gex::sha256(4096, 4096, 8192);
        let run = run(&STRONG, &mut TestRng::seeded(1), &mut TestRng::seeded(2)).unwrap();
        check_agreement(&STRONG, &run);
        assert_eq!(
            &run.messages[0][1..],
            [0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 32, 0]
        );
        let group = KexDhGexGroup::decode(&run.messages[1]).unwrap();
        assert_eq!(group.p.as_unsigned(), Some(GROUP16.prime()));

        // A server with a moduli file serves the file's group (g = 5 or 2:
        // both 2048-bit lines are candidates).
        let server = Gex::sha256(2048, 3072, 8192).with_moduli(Arc::new(fixture_moduli()));
        assert_eq!(server.moduli().map(|m| m.groups().len()), Some(3));
        let client = Gex::sha256(2048, 2048, 2048);
        let run = run_pair(
            &client,
            &server,
            &mut TestRng::seeded(3),
            &mut TestRng::seeded(4),
        )
        .unwrap();
        check_agreement(&client, &run);
        let group = KexDhGexGroup::decode(&run.messages[1]).unwrap();
        assert_eq!(group.p.as_unsigned(), Some(GROUP14.prime()));
        assert!(matches!(group.g.as_unsigned(), Some([2] | [5])));
    }

    /// Feeds a GEX_GROUP with `p` and `g` to a fresh client.
    fn client_on_group(gex: &Gex, p: &[u8], g: &[u8]) -> Result<KexStep, AlgorithmError> {
        let mut rng = TestRng::seeded(9);
        let mut ctx = context(&mut rng, false);
        let mut client = gex.start(Role::Client, &mut ctx).unwrap().exchange;
        let mut message = alloc::vec![31];
        message.put_mpint_unsigned(p);
        message.put_mpint_unsigned(g);
        client.handle(&message, &mut ctx)
    }

    fn reason(result: Result<KexStep, AlgorithmError>) -> &'static str {
        match result {
            Err(AlgorithmError::InvalidPeerValue { reason, .. }) => reason,
            Err(other) => panic!("expected InvalidPeerValue, got {other:?}"),
            Ok(_) => panic!("expected InvalidPeerValue, got a step"),
        }
    }

    #[test]
    fn client_checks_the_group() {
        assert!(matches!(
            client_on_group(&DH_GEX_SHA256, GROUP14.prime(), &[2]),
            Ok(KexStep::Send(m)) if m[0] == 32
        ));
        assert_eq!(
            reason(client_on_group(&DH_GEX_SHA256, GROUP1.prime(), &[2])),
            "server's group is smaller than the minimum size the client asked for"
        );
        let small_max = Gex::sha256(2048, 2048, 3072);
        assert_eq!(
            reason(client_on_group(&small_max, GROUP16.prime(), &[2])),
            "server's group is larger than the maximum size the client asked for"
        );
        let p = GROUP14.prime();
        let mut even = p.to_vec();
        *even.last_mut().unwrap() ^= 1;
        assert_eq!(
            reason(client_on_group(&DH_GEX_SHA256, &even, &[2])),
            "modulus is even, expected an odd prime"
        );
        for g in [&[][..], &[1]] {
            assert_eq!(
                reason(client_on_group(&DH_GEX_SHA256, p, g)),
                "generator is 0 or 1, expected 1 < g < p - 1"
            );
        }
        let mut p_minus_1 = p.to_vec();
        *p_minus_1.last_mut().unwrap() -= 1;
        assert_eq!(
            reason(client_on_group(&DH_GEX_SHA256, p, &p_minus_1)),
            "generator is not less than p - 1"
        );
        // A negative modulus (top bit set without the leading zero byte).
        let mut rng = TestRng::seeded(9);
        let mut ctx = context(&mut rng, false);
        let mut client = DH_GEX_SHA256
            .start(Role::Client, &mut ctx)
            .unwrap()
            .exchange;
        let mut message = alloc::vec![31];
        message.put_string(p);
        message.put_mpint_unsigned(&[2]);
        assert_eq!(
            reason(client.handle(&message, &mut ctx)),
            "modulus is negative"
        );
    }

    #[test]
    fn peer_values_are_checked_both_ways() {
        for (value, expected) in bad_values(GROUP14.prime()) {
            // Server: e in GEX_INIT after it sent group 14.
            let mut rng = TestRng::seeded(12);
            let mut ctx = context(&mut rng, true);
            let mut server = DH_GEX_SHA256
                .start(Role::Server, &mut ctx)
                .unwrap()
                .exchange;
            let request = KexDhGexRequest {
                min: 2048,
                preferred: 2048,
                max: 2048,
            };
            assert!(matches!(
                server.handle(&request.to_vec(), &mut ctx),
                Ok(KexStep::Send(_))
            ));
            let mut init = alloc::vec![32];
            init.extend_from_slice(&value);
            assert_eq!(reason(server.handle(&init, &mut ctx)), expected);

            // Client: f in GEX_REPLY after it got group 14.
            let mut rng = TestRng::seeded(13);
            let mut ctx = context(&mut rng, false);
            let mut client = DH_GEX_SHA256
                .start(Role::Client, &mut ctx)
                .unwrap()
                .exchange;
            let group = KexDhGexGroup {
                p: Mpint::from_unsigned(GROUP14.prime()),
                g: Mpint::from_unsigned(&[2]),
            };
            assert!(matches!(
                client.handle(&group.to_vec(), &mut ctx),
                Ok(KexStep::Send(_))
            ));
            let mut reply = alloc::vec![33];
            reply.put_string(&TEST_KEY.public_key_blob());
            reply.extend_from_slice(&value);
            reply.put_string(b"sig");
            assert_eq!(reason(client.handle(&reply, &mut ctx)), expected);
        }
    }

    #[test]
    fn messages_out_of_turn() {
        let mut rng = TestRng::seeded(14);
        let mut ctx = context(&mut rng, true);
        let mut server = DH_GEX_SHA256
            .start(Role::Server, &mut ctx)
            .unwrap()
            .exchange;
        assert!(matches!(
            server.handle(&[32, 0, 0, 0, 1, 5], &mut ctx),
            Err(AlgorithmError::UnexpectedMessage { found: 32, .. })
        ));

        let mut server = DH_GEX_SHA256
            .start(Role::Server, &mut ctx)
            .unwrap()
            .exchange;
        let request = KexDhGexRequest {
            min: 2048,
            preferred: 2048,
            max: 8192,
        }
        .to_vec();
        assert!(matches!(
            server.handle(&request, &mut ctx),
            Ok(KexStep::Send(_))
        ));
        // A second request instead of GEX_INIT.
        assert!(matches!(
            server.handle(&request, &mut ctx),
            Err(AlgorithmError::UnexpectedMessage {
                algorithm: "diffie-hellman-group-exchange-sha256",
                found: 34,
                ..
            })
        ));

        // A request the server cannot satisfy.
        let mut server = DH_GEX_SHA256
            .start(Role::Server, &mut ctx)
            .unwrap()
            .exchange;
        let tiny = KexDhGexRequest {
            min: 1024,
            preferred: 1024,
            max: 1024,
        };
        assert_eq!(
            reason(server.handle(&tiny.to_vec(), &mut ctx)),
            "the client accepts no group size within the server's bounds"
        );
        // Truncated request.
        let mut server = DH_GEX_SHA256
            .start(Role::Server, &mut ctx)
            .unwrap()
            .exchange;
        assert!(matches!(
            server.handle(&[34, 0, 0, 8], &mut ctx),
            Err(AlgorithmError::Decode(_))
        ));

        let mut rng = TestRng::seeded(15);
        let mut ctx = context(&mut rng, false);
        let mut client = DH_GEX_SHA1.start(Role::Client, &mut ctx).unwrap().exchange;
        assert!(matches!(
            client.handle(&[33, 0, 0, 0, 0], &mut ctx),
            Err(AlgorithmError::UnexpectedMessage {
                algorithm: "diffie-hellman-group-exchange-sha1",
                found: 33,
                ..
            })
        ));
        assert!(matches!(
            client.handle(&[31], &mut ctx),
            Err(AlgorithmError::UnexpectedMessage { found: 31, .. })
        ));
    }

    #[test]
    fn configuration_is_checked() {
        let mut rng = TestRng::seeded(16);
        let mut ctx = context(&mut rng, true);
        let backwards = Gex::sha256(4096, 2048, 8192);
        assert!(matches!(
            backwards.start(Role::Client, &mut ctx),
            Err(AlgorithmError::MissingInput(_))
        ));
        let mut ctx = context(&mut rng, false);
        assert!(matches!(
            DH_GEX_SHA256.start(Role::Server, &mut ctx),
            Err(AlgorithmError::MissingInput(_))
        ));
        assert_eq!(DH_GEX_SHA256.name(), "diffie-hellman-group-exchange-sha256");
        assert_eq!(DH_GEX_SHA1.name(), "diffie-hellman-group-exchange-sha1");
        assert_eq!(DH_GEX_SHA256.hash().name(), "sha256");
        assert_eq!(DH_GEX_SHA1.hash().name(), "sha1");
        assert_eq!(
            (
                DH_GEX_SHA256.min(),
                DH_GEX_SHA256.preferred(),
                DH_GEX_SHA256.max()
            ),
            (2048, 3072, 8192)
        );
        assert!(DH_GEX_SHA256.moduli().is_none());
        assert!(format!("{DH_GEX_SHA1:?}").contains("min: 2048"));
    }
}
