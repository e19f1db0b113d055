//! [`Preferences`]: which algorithms are known and which are offered, per
//! category and direction, edited by name or with OpenSSH's syntax; and the
//! KEXINIT built from them.

use crate::error::{Category, Direction, PreferenceError};
use crate::pattern;
use crate::registry::Registry;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use sekura_algorithms::{
    Algorithm, Cipher, Compression, CryptoRng, Kex, Mac, Role, SignatureAlgorithm, builtin,
};
use sekura_proto::NameList;
use sekura_proto::msg::KexInit;

/// The algorithms of one category and direction: those sekura *knows*
/// (every compiled-in one plus any registered by the user) and those it
/// *offers*, the enabled list, in preference order. The enabled list is
/// always drawn from the known one.
///
/// Names given to the editing methods may be OpenSSH wildcard patterns
/// (`*` any run of characters, `?` one character); a pattern stands for
/// every known algorithm it matches, in known order. A name or pattern that
/// matches nothing known is an error listing what is known, and no edit may
/// leave the enabled list empty. A refused edit changes nothing.
pub struct CategoryPreferences<T: ?Sized + Algorithm + 'static> {
    category: Category,
    known: Registry<T>,
    enabled: Registry<T>,
}

/// The edits of OpenSSH's algorithm list syntax.
#[derive(Clone, Copy)]
enum Edit {
    /// `a,b`: exactly these, in this order.
    Replace,
    /// `+a,b`: these after the current ones.
    Append,
    /// `-a,b`: the current ones without these.
    Remove,
    /// `^a,b`: these first, then the rest of the current ones.
    Head,
}

impl<T: ?Sized + Algorithm + 'static> CategoryPreferences<T> {
    /// `enabled` entries are resolved against `known` (after adding any that
    /// `known` lacks), so both registries hold the same implementations.
    fn build(category: Category, known: &[&'static T], enabled: &[&'static T]) -> Self {
        let mut known = Registry::from_slice(known);
        for &alg in enabled {
            known.append(alg);
        }
        let enabled = enabled
            .iter()
            .filter_map(|alg| known.get(alg.name()))
            .collect();
        CategoryPreferences {
            category,
            known,
            enabled,
        }
    }

    /// Which list this is.
    #[must_use]
    pub fn category(&self) -> Category {
        self.category
    }

    /// Every algorithm that may be enabled, in the order patterns expand.
    #[must_use]
    pub fn known(&self) -> &Registry<T> {
        &self.known
    }

    /// The algorithms offered, most preferred first.
    #[must_use]
    pub fn enabled(&self) -> &Registry<T> {
        &self.enabled
    }

    /// Moves (or, if it was not enabled, inserts) `name` to the head of the
    /// enabled list. OpenSSH's `^name`.
    pub fn prefer(&mut self, name: &str) -> Result<(), PreferenceError> {
        self.edit(Edit::Head, [name])
    }

    /// Adds `name` at the end of the enabled list; an algorithm already
    /// enabled keeps its place. OpenSSH's `+name`.
    pub fn append(&mut self, name: &str) -> Result<(), PreferenceError> {
        self.edit(Edit::Append, [name])
    }

    /// Removes `name` from the enabled list (a known algorithm that is not
    /// enabled is no error). OpenSSH's `-name`.
    pub fn remove(&mut self, name: &str) -> Result<(), PreferenceError> {
        self.edit(Edit::Remove, [name])
    }

    /// Replaces the enabled list with `names`, in that order.
    pub fn only<I, S>(&mut self, names: I) -> Result<(), PreferenceError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.edit(Edit::Replace, names)
    }

    /// Applies one value of OpenSSH's `Ciphers`/`MACs`/`KexAlgorithms`/...
    /// options: `+a,b` appends, `-a,b` removes, `^a,b` puts first, and a
    /// plain `a,b` replaces the list. Spaces around names are ignored.
    ///
    /// ```
    /// use sekura_algorithms::{Compression, none::NONE_COMPRESSION};
    /// use sekura_negotiation::Preferences;
    ///
    /// let mut prefs = Preferences::default();
    /// prefs.compression_c2s.apply("^n?ne")?;
    /// assert_eq!(prefs.compression_c2s.enabled().first().unwrap().name(), "none");
    /// // Keep only "none": removing it too would leave nothing, an error.
    /// prefs.compression_c2s.apply("none")?;
    /// assert!(prefs.compression_c2s.apply("-none").is_err());
    /// # Ok::<(), sekura_negotiation::PreferenceError>(())
    /// ```
    pub fn apply(&mut self, spec: &str) -> Result<(), PreferenceError> {
        let spec = spec.trim();
        let (edit, list) = if let Some(rest) = spec.strip_prefix('+') {
            (Edit::Append, rest)
        } else if let Some(rest) = spec.strip_prefix('-') {
            (Edit::Remove, rest)
        } else if let Some(rest) = spec.strip_prefix('^') {
            (Edit::Head, rest)
        } else {
            (Edit::Replace, spec)
        };
        self.edit(edit, list.split(','))
    }

    /// Makes `alg` known (not enabled). An algorithm of the same name
    /// already known is replaced by it, wherever it stands, enabled or not:
    /// that is how a built-in implementation is swapped for another.
    pub fn register(&mut self, alg: &'static T) -> Result<(), PreferenceError> {
        let name = alg.name();
        crate::name_is_valid(name).map_err(|reason| PreferenceError::InvalidName {
            name: name.to_string(),
            reason,
        })?;
        if self.category == Category::Kex && crate::is_pseudo_algorithm(name) {
            return Err(PreferenceError::InvalidName {
                name: name.to_string(),
                reason: "a pseudo-algorithm sekura adds by itself",
            });
        }
        self.known.replace(alg);
        if self.enabled.contains(name) {
            self.enabled.replace(alg);
        }
        Ok(())
    }

    /// Registers `alg` and puts it at the head of the enabled list.
    pub fn register_preferred(&mut self, alg: &'static T) -> Result<(), PreferenceError> {
        self.register(alg)?;
        self.enabled.prefer(alg);
        Ok(())
    }

    /// Resolves names and patterns against the known list, in the order
    /// given, each algorithm once.
    fn expand<I, S>(&self, names: I) -> Result<Vec<&'static T>, PreferenceError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out: Vec<&'static T> = Vec::new();
        let mut push = |alg: &'static T| {
            if !out.iter().any(|a| a.name() == alg.name()) {
                out.push(alg);
            }
        };
        for name in names {
            let name = name.as_ref().trim();
            if name.is_empty() {
                return Err(PreferenceError::InvalidName {
                    name: String::new(),
                    reason: "empty name",
                });
            }
            let mut found = false;
            if pattern::is_pattern(name) {
                for alg in self.known.iter() {
                    if pattern::matches(name, alg.name()) {
                        push(alg);
                        found = true;
                    }
                }
            } else if let Some(alg) = self.known.get(name) {
                push(alg);
                found = true;
            }
            if !found {
                return Err(PreferenceError::UnknownAlgorithm {
                    category: self.category,
                    name: name.to_string(),
                    known: self.known.names().map(ToString::to_string).collect(),
                });
            }
        }
        Ok(out)
    }

    fn edit<I, S>(&mut self, edit: Edit, names: I) -> Result<(), PreferenceError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let algs = self.expand(names)?;
        let named = |alg: &'static T| algs.iter().any(|a| a.name() == alg.name());
        let new: Registry<T> = match edit {
            Edit::Replace => algs.iter().copied().collect(),
            Edit::Append => self.enabled.iter().chain(algs.iter().copied()).collect(),
            Edit::Remove => self.enabled.iter().filter(|&a| !named(a)).collect(),
            Edit::Head => algs.iter().copied().chain(self.enabled.iter()).collect(),
        };
        if new.is_empty() {
            return Err(PreferenceError::EmptyList {
                category: self.category,
            });
        }
        self.enabled = new;
        Ok(())
    }
}

impl<T: ?Sized + Algorithm + 'static> Clone for CategoryPreferences<T> {
    fn clone(&self) -> Self {
        CategoryPreferences {
            category: self.category,
            known: self.known.clone(),
            enabled: self.enabled.clone(),
        }
    }
}

impl<T: ?Sized + Algorithm + 'static> fmt::Debug for CategoryPreferences<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CategoryPreferences")
            .field("category", &self.category)
            .field("enabled", &self.enabled)
            .field("known", &self.known)
            .finish()
    }
}

/// One list of algorithms per category, as [`Preferences::from_lists`]
/// takes them (the same ciphers, MACs and compression methods for both
/// directions).
#[derive(Clone, Copy)]
pub struct AlgorithmLists<'a> {
    /// Key exchange methods.
    pub kex: &'a [&'static dyn Kex],
    /// Host key algorithms.
    pub host_key: &'a [&'static dyn SignatureAlgorithm],
    /// Ciphers.
    pub ciphers: &'a [&'static dyn Cipher],
    /// MACs.
    pub macs: &'a [&'static dyn Mac],
    /// Compression methods.
    pub compression: &'a [&'static dyn Compression],
}

impl AlgorithmLists<'static> {
    /// sekura's defaults: modern, safe algorithms (the `DEFAULT_*` lists of
    /// [`sekura_algorithms::builtin`]).
    #[must_use]
    pub fn defaults() -> Self {
        AlgorithmLists {
            kex: builtin::DEFAULT_KEX,
            host_key: builtin::DEFAULT_HOST_KEY,
            ciphers: builtin::DEFAULT_CIPHERS,
            macs: builtin::DEFAULT_MACS,
            compression: builtin::DEFAULT_COMPRESSION,
        }
    }

    /// Every built-in algorithm, legacy ones included (the `ALL_*` lists).
    #[must_use]
    pub fn all() -> Self {
        AlgorithmLists {
            kex: builtin::ALL_KEX,
            host_key: builtin::ALL_HOST_KEY,
            ciphers: builtin::ALL_CIPHERS,
            macs: builtin::ALL_MACS,
            compression: builtin::ALL_COMPRESSION,
        }
    }
}

impl AlgorithmLists<'_> {
    /// Checks every name as [`CategoryPreferences::register`] would.
    fn validate(&self) -> Result<(), PreferenceError> {
        fn check<T: ?Sized + Algorithm>(list: &[&T], kex: bool) -> Result<(), PreferenceError> {
            for alg in list {
                let name = alg.name();
                let invalid = |reason| PreferenceError::InvalidName {
                    name: name.to_string(),
                    reason,
                };
                crate::name_is_valid(name).map_err(invalid)?;
                if kex && crate::is_pseudo_algorithm(name) {
                    return Err(invalid("a pseudo-algorithm sekura adds by itself"));
                }
            }
            Ok(())
        }
        check(self.kex, true)?;
        check(self.host_key, false)?;
        check(self.ciphers, false)?;
        check(self.macs, false)?;
        check(self.compression, false)
    }
}

/// Everything sekura offers in a KEXINIT: per category and direction the
/// known and the enabled algorithms ([`CategoryPreferences`]), and whether
/// to announce the `ext-info` and strict-kex pseudo-algorithms.
///
/// [`Preferences::default`] offers sekura's modern defaults, and knows
/// every compiled-in algorithm so legacy ones can be enabled by name;
/// [`Preferences::all`] offers everything.
///
/// ```
/// use sekura_negotiation::Preferences;
///
/// let mut prefs = Preferences::default();
/// // OpenSSH's syntax, one value for both directions.
/// prefs.set_compression("none")?;
/// let err = prefs.set_ciphers("+no-such-cipher").unwrap_err();
/// assert!(err.to_string().contains("no-such-cipher"));
/// // Or one direction at a time.
/// prefs.compression_s2c.prefer("none")?;
/// # Ok::<(), sekura_negotiation::PreferenceError>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Preferences {
    /// Key exchange methods.
    pub kex: CategoryPreferences<dyn Kex>,
    /// Host key algorithms.
    pub host_key: CategoryPreferences<dyn SignatureAlgorithm>,
    /// Ciphers, client to server.
    pub cipher_c2s: CategoryPreferences<dyn Cipher>,
    /// Ciphers, server to client.
    pub cipher_s2c: CategoryPreferences<dyn Cipher>,
    /// MACs, client to server.
    pub mac_c2s: CategoryPreferences<dyn Mac>,
    /// MACs, server to client.
    pub mac_s2c: CategoryPreferences<dyn Mac>,
    /// Compression, client to server.
    pub compression_c2s: CategoryPreferences<dyn Compression>,
    /// Compression, server to client.
    pub compression_s2c: CategoryPreferences<dyn Compression>,
    /// Whether the first KEXINIT announces `ext-info-c` (client) or
    /// `ext-info-s` (server), RFC 8308. On by default.
    pub ext_info: bool,
    /// Whether the first KEXINIT announces OpenSSH's strict key exchange
    /// (`kex-strict-c-v00@openssh.com` / `kex-strict-s-v00@openssh.com`),
    /// the Terrapin countermeasure. On by default.
    pub strict_kex: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences::new()
    }
}

impl Preferences {
    /// sekura's modern defaults enabled; every built-in algorithm known.
    #[must_use]
    pub fn new() -> Self {
        Preferences::build(AlgorithmLists::all(), AlgorithmLists::defaults())
    }

    /// Every built-in algorithm enabled, legacy ones too.
    #[must_use]
    pub fn all() -> Self {
        Preferences::build(AlgorithmLists::all(), AlgorithmLists::all())
    }

    /// Preferences from explicit lists: `known` are the algorithms that may
    /// be enabled by name, `enabled` those offered, in order (any of them
    /// missing from `known` become known too). Every name is checked as
    /// [`CategoryPreferences::register`] does.
    pub fn from_lists(
        known: AlgorithmLists<'_>,
        enabled: AlgorithmLists<'_>,
    ) -> Result<Self, PreferenceError> {
        known.validate()?;
        enabled.validate()?;
        Ok(Preferences::build(known, enabled))
    }

    fn build(known: AlgorithmLists<'_>, enabled: AlgorithmLists<'_>) -> Self {
        use Direction::{ClientToServer as C2S, ServerToClient as S2C};
        Preferences {
            kex: CategoryPreferences::build(Category::Kex, known.kex, enabled.kex),
            host_key: CategoryPreferences::build(
                Category::HostKey,
                known.host_key,
                enabled.host_key,
            ),
            cipher_c2s: CategoryPreferences::build(
                Category::Cipher(C2S),
                known.ciphers,
                enabled.ciphers,
            ),
            cipher_s2c: CategoryPreferences::build(
                Category::Cipher(S2C),
                known.ciphers,
                enabled.ciphers,
            ),
            mac_c2s: CategoryPreferences::build(Category::Mac(C2S), known.macs, enabled.macs),
            mac_s2c: CategoryPreferences::build(Category::Mac(S2C), known.macs, enabled.macs),
            compression_c2s: CategoryPreferences::build(
                Category::Compression(C2S),
                known.compression,
                enabled.compression,
            ),
            compression_s2c: CategoryPreferences::build(
                Category::Compression(S2C),
                known.compression,
                enabled.compression,
            ),
            ext_info: true,
            strict_kex: true,
        }
    }

    /// OpenSSH's `KexAlgorithms`: see [`CategoryPreferences::apply`].
    pub fn set_kex(&mut self, spec: &str) -> Result<(), PreferenceError> {
        self.kex.apply(spec)
    }

    /// OpenSSH's `HostKeyAlgorithms`: see [`CategoryPreferences::apply`].
    pub fn set_host_key_algorithms(&mut self, spec: &str) -> Result<(), PreferenceError> {
        self.host_key.apply(spec)
    }

    /// OpenSSH's `Ciphers`, for both directions.
    pub fn set_ciphers(&mut self, spec: &str) -> Result<(), PreferenceError> {
        both(&mut self.cipher_c2s, &mut self.cipher_s2c, |p| {
            p.apply(spec)
        })
    }

    /// OpenSSH's `MACs`, for both directions.
    pub fn set_macs(&mut self, spec: &str) -> Result<(), PreferenceError> {
        both(&mut self.mac_c2s, &mut self.mac_s2c, |p| p.apply(spec))
    }

    /// OpenSSH's `Compression` as a list (`none`, `zlib@openssh.com`, ...),
    /// for both directions.
    pub fn set_compression(&mut self, spec: &str) -> Result<(), PreferenceError> {
        both(&mut self.compression_c2s, &mut self.compression_s2c, |p| {
            p.apply(spec)
        })
    }

    /// Makes a key exchange method known: see
    /// [`CategoryPreferences::register`]. Enable it with [`set_kex`](Self::set_kex)
    /// or use [`CategoryPreferences::register_preferred`].
    pub fn register_kex(&mut self, kex: &'static dyn Kex) -> Result<(), PreferenceError> {
        self.kex.register(kex)
    }

    /// Makes a host key algorithm known.
    pub fn register_host_key(
        &mut self,
        alg: &'static dyn SignatureAlgorithm,
    ) -> Result<(), PreferenceError> {
        self.host_key.register(alg)
    }

    /// Makes a cipher known, for both directions.
    pub fn register_cipher(&mut self, cipher: &'static dyn Cipher) -> Result<(), PreferenceError> {
        both(&mut self.cipher_c2s, &mut self.cipher_s2c, |p| {
            p.register(cipher)
        })
    }

    /// Makes a MAC known, for both directions.
    pub fn register_mac(&mut self, mac: &'static dyn Mac) -> Result<(), PreferenceError> {
        both(&mut self.mac_c2s, &mut self.mac_s2c, |p| p.register(mac))
    }

    /// Makes a compression method known, for both directions.
    pub fn register_compression(
        &mut self,
        compression: &'static dyn Compression,
    ) -> Result<(), PreferenceError> {
        both(&mut self.compression_c2s, &mut self.compression_s2c, |p| {
            p.register(compression)
        })
    }

    /// Our KEXINIT: the enabled lists with a random cookie. On the first
    /// exchange of a connection (only), the pseudo-algorithms of `role` are
    /// appended to the key exchange methods, as OpenSSH does: `ext-info-c`
    /// or `ext-info-s` when [`ext_info`](Self::ext_info) is on, then
    /// `kex-strict-c-v00@openssh.com` or `kex-strict-s-v00@openssh.com` when
    /// [`strict_kex`](Self::strict_kex) is on. No guessed packet follows and
    /// the language lists are empty.
    pub fn kexinit(
        &self,
        role: Role,
        first_exchange: bool,
        rng: &mut dyn CryptoRng,
    ) -> KexInit<'static> {
        self.build_kexinit(role, first_exchange, rng, None)
    }

    /// [`kexinit`](Self::kexinit) offering only the enabled host key
    /// algorithms named in `host_key_algorithms` (a server lists those it
    /// has keys for), still in preference order.
    pub fn kexinit_with_host_keys(
        &self,
        role: Role,
        first_exchange: bool,
        rng: &mut dyn CryptoRng,
        host_key_algorithms: &[&str],
    ) -> KexInit<'static> {
        self.build_kexinit(role, first_exchange, rng, Some(host_key_algorithms))
    }

    fn build_kexinit(
        &self,
        role: Role,
        first_exchange: bool,
        rng: &mut dyn CryptoRng,
        host_key_filter: Option<&[&str]>,
    ) -> KexInit<'static> {
        let mut cookie = [0u8; 16];
        rng.fill_bytes(&mut cookie);

        let mut kex: Vec<&str> = self.kex.enabled.names().collect();
        if first_exchange {
            let (ext_info, strict) = match role {
                Role::Client => (crate::EXT_INFO_C, crate::KEX_STRICT_C),
                Role::Server => (crate::EXT_INFO_S, crate::KEX_STRICT_S),
            };
            if self.ext_info {
                kex.push(ext_info);
            }
            if self.strict_kex {
                kex.push(strict);
            }
        }
        let host_key = self
            .host_key
            .enabled
            .names()
            .filter(|name| host_key_filter.is_none_or(|only| only.contains(name)));

        KexInit {
            cookie,
            kex_algorithms: name_list(kex),
            server_host_key_algorithms: name_list(host_key),
            encryption_algorithms_client_to_server: self.cipher_c2s.enabled.name_list(),
            encryption_algorithms_server_to_client: self.cipher_s2c.enabled.name_list(),
            mac_algorithms_client_to_server: self.mac_c2s.enabled.name_list(),
            mac_algorithms_server_to_client: self.mac_s2c.enabled.name_list(),
            compression_algorithms_client_to_server: self.compression_c2s.enabled.name_list(),
            compression_algorithms_server_to_client: self.compression_s2c.enabled.name_list(),
            languages_client_to_server: NameList::empty(),
            languages_server_to_client: NameList::empty(),
            first_kex_packet_follows: false,
            reserved: 0,
        }
    }
}

/// A name-list of the valid names among `names`.
fn name_list<'a>(names: impl IntoIterator<Item = &'a str>) -> NameList<'static> {
    NameList::from_names(
        names
            .into_iter()
            .filter(|n| crate::name_is_valid(n).is_ok()),
    )
    .unwrap_or_else(|_| NameList::empty())
}

/// Applies `f` to both directions, or to neither if either refuses.
fn both<T: ?Sized + Algorithm + 'static>(
    c2s: &mut CategoryPreferences<T>,
    s2c: &mut CategoryPreferences<T>,
    f: impl Fn(&mut CategoryPreferences<T>) -> Result<(), PreferenceError>,
) -> Result<(), PreferenceError> {
    let mut a = c2s.clone();
    let mut b = s2c.clone();
    f(&mut a)?;
    f(&mut b)?;
    *c2s = a;
    *s2c = b;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use alloc::{format, vec};
    use sekura_proto::msg::Encode;

    fn enabled<T: ?Sized + Algorithm>(p: &CategoryPreferences<T>) -> Vec<&'static str> {
        p.enabled().names().collect()
    }

    #[test]
    fn built_from_default_and_all_lists() {
        let prefs = test_prefs();
        assert_eq!(
            enabled(&prefs.cipher_c2s),
            [
                "chacha20-poly1305@openssh.com",
                "aes128-ctr",
                "aes192-ctr",
                "aes256-ctr",
                "aes128-gcm@openssh.com",
                "aes256-gcm@openssh.com"
            ]
        );
        assert!(prefs.cipher_c2s.known().contains("3des-cbc"));
        assert!(!prefs.cipher_c2s.enabled().contains("3des-cbc"));
        assert_eq!(
            prefs.cipher_s2c.category(),
            Category::Cipher(Direction::ServerToClient)
        );
        let all = test_prefs_all();
        assert!(all.cipher_s2c.enabled().contains("3des-cbc"));
        assert_eq!(all.mac_c2s.enabled().len(), ALL_MACS.len());
    }

    #[test]
    fn builtin_defaults_are_valid() {
        // The built-in lists must pass the checks user lists pass.
        AlgorithmLists::all().validate().unwrap();
        AlgorithmLists::defaults().validate().unwrap();
        let prefs = Preferences::new();
        assert!(prefs.compression_c2s.enabled().contains("none"));
        assert!(prefs.ext_info && prefs.strict_kex);
        let all = Preferences::all();
        assert_eq!(all.kex.enabled().len(), all.kex.known().len());
    }

    #[test]
    fn from_lists_checks_names_and_adds_enabled_to_known() {
        static BAD: TestCipher = TestCipher {
            name: "bad,name",
            aead: None,
        };
        static PSEUDO: TestKex = TestKex {
            name: "ext-info-c",
            signing: true,
        };
        let bad: [&'static dyn Cipher; 1] = [&BAD];
        let pseudo: [&'static dyn Kex; 1] = [&PSEUDO];
        let aes128: [&'static dyn Cipher; 1] = [&AES128_CTR];
        let both: [&'static dyn Cipher; 2] = [&AES256_CTR, &AES128_CTR];
        let mut lists = test_lists_all();
        lists.ciphers = &bad;
        assert!(matches!(
            Preferences::from_lists(lists, test_lists_default()),
            Err(PreferenceError::InvalidName { .. })
        ));
        let mut lists = test_lists_all();
        lists.kex = &pseudo;
        assert!(Preferences::from_lists(lists, test_lists_default()).is_err());

        let mut known = test_lists_default();
        known.ciphers = &aes128;
        let mut on = test_lists_default();
        on.ciphers = &both;
        let prefs = Preferences::from_lists(known, on).unwrap();
        assert_eq!(
            prefs.cipher_c2s.known().names().collect::<Vec<_>>(),
            ["aes128-ctr", "aes256-ctr"]
        );
        assert_eq!(enabled(&prefs.cipher_c2s), ["aes256-ctr", "aes128-ctr"]);
    }

    /// One row: start from the test defaults, apply `spec` with
    /// `set_ciphers`/`set_macs`, expect the enabled list or an error.
    struct Row {
        spec: &'static str,
        want: Result<&'static [&'static str], &'static str>,
    }

    #[test]
    fn openssh_syntax_ciphers() {
        let rows = [
            // Plain list: replace, in the order given.
            Row {
                spec: "aes256-ctr,aes128-ctr",
                want: Ok(&["aes256-ctr", "aes128-ctr"]),
            },
            // Spaces around names are tolerated; duplicates collapse.
            Row {
                spec: " aes256-ctr , aes256-ctr,aes128-ctr ",
                want: Ok(&["aes256-ctr", "aes128-ctr"]),
            },
            // A legacy cipher may be enabled by name.
            Row {
                spec: "3des-cbc",
                want: Ok(&["3des-cbc"]),
            },
            // Append a legacy one.
            Row {
                spec: "+aes128-cbc",
                want: Ok(&[
                    "chacha20-poly1305@openssh.com",
                    "aes128-ctr",
                    "aes192-ctr",
                    "aes256-ctr",
                    "aes128-gcm@openssh.com",
                    "aes256-gcm@openssh.com",
                    "aes128-cbc",
                ]),
            },
            // Append a pattern: expanded in known order, skipping enabled ones.
            Row {
                spec: "+aes*",
                want: Ok(&[
                    "chacha20-poly1305@openssh.com",
                    "aes128-ctr",
                    "aes192-ctr",
                    "aes256-ctr",
                    "aes128-gcm@openssh.com",
                    "aes256-gcm@openssh.com",
                    "aes128-cbc",
                    "aes192-cbc",
                    "aes256-cbc",
                ]),
            },
            // Remove with a pattern.
            Row {
                spec: "-aes*-ctr",
                want: Ok(&[
                    "chacha20-poly1305@openssh.com",
                    "aes128-gcm@openssh.com",
                    "aes256-gcm@openssh.com",
                ]),
            },
            // Remove with `?`.
            Row {
                spec: "-aes???-gcm@openssh.com,chacha20-poly1305@openssh.com",
                want: Ok(&["aes128-ctr", "aes192-ctr", "aes256-ctr"]),
            },
            // Removing a known but disabled one is no error.
            Row {
                spec: "-3des-cbc",
                want: Ok(&[
                    "chacha20-poly1305@openssh.com",
                    "aes128-ctr",
                    "aes192-ctr",
                    "aes256-ctr",
                    "aes128-gcm@openssh.com",
                    "aes256-gcm@openssh.com",
                ]),
            },
            // Head: move enabled ones, insert a disabled one.
            Row {
                spec: "^aes256-ctr,3des-cbc",
                want: Ok(&[
                    "aes256-ctr",
                    "3des-cbc",
                    "chacha20-poly1305@openssh.com",
                    "aes128-ctr",
                    "aes192-ctr",
                    "aes128-gcm@openssh.com",
                    "aes256-gcm@openssh.com",
                ]),
            },
            Row {
                spec: "^*gcm*",
                want: Ok(&[
                    "aes128-gcm@openssh.com",
                    "aes256-gcm@openssh.com",
                    "chacha20-poly1305@openssh.com",
                    "aes128-ctr",
                    "aes192-ctr",
                    "aes256-ctr",
                ]),
            },
            // A plain list with a pattern.
            Row {
                spec: "*-cbc",
                want: Ok(&["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"]),
            },
            // Errors: unknown name, pattern matching nothing, empty result.
            Row {
                spec: "aes128-ctr,aes129-ctr",
                want: Err("unknown cipher (client to server) \"aes129-ctr\"; known: \
                     [chacha20-poly1305@openssh.com, aes128-ctr, aes192-ctr, aes256-ctr, \
                     aes128-gcm@openssh.com, aes256-gcm@openssh.com, aes128-cbc, \
                     aes192-cbc, aes256-cbc, 3des-cbc]"),
            },
            Row {
                spec: "+blowfish*",
                want: Err("unknown cipher (client to server) \"blowfish*\""),
            },
            Row {
                spec: "-no-such",
                want: Err("unknown cipher (client to server) \"no-such\""),
            },
            Row {
                spec: "-*",
                want: Err("the cipher (client to server) list would be empty"),
            },
            Row {
                spec: "-aes*,chacha*",
                want: Err("the cipher (client to server) list would be empty"),
            },
            Row {
                spec: "",
                want: Err("invalid algorithm name \"\": empty name"),
            },
            Row {
                spec: "+",
                want: Err("empty name"),
            },
            Row {
                spec: "aes128-ctr,,aes256-ctr",
                want: Err("empty name"),
            },
        ];
        for row in rows {
            let mut prefs = test_prefs();
            let before = prefs.clone();
            match (prefs.set_ciphers(row.spec), row.want) {
                (Ok(()), Ok(want)) => {
                    assert_eq!(enabled(&prefs.cipher_c2s), want, "{:?}", row.spec);
                    assert_eq!(enabled(&prefs.cipher_s2c), want, "{:?}", row.spec);
                }
                (Err(e), Err(want)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(want), "{:?}: {msg}", row.spec);
                    // A refused edit changes nothing, in either direction.
                    assert_eq!(enabled(&prefs.cipher_c2s), enabled(&before.cipher_c2s));
                    assert_eq!(enabled(&prefs.cipher_s2c), enabled(&before.cipher_s2c));
                }
                (got, want) => panic!("{:?}: got {got:?}, want {want:?}", row.spec),
            }
        }
    }

    #[test]
    fn openssh_syntax_other_categories() {
        let mut prefs = test_prefs();
        prefs.set_macs("-hmac-sha1*").unwrap();
        assert!(
            !prefs
                .mac_c2s
                .enabled()
                .names()
                .any(|n| n.starts_with("hmac-sha1"))
        );
        prefs.set_macs("+hmac-sha1*").unwrap();
        assert_eq!(
            prefs
                .mac_s2c
                .enabled()
                .names()
                .rev()
                .take(2)
                .collect::<Vec<_>>(),
            ["hmac-sha1", "hmac-sha1-etm@openssh.com"]
        );
        prefs.set_kex("^diffie-hellman-group1-sha1").unwrap();
        assert_eq!(enabled(&prefs.kex)[0], "diffie-hellman-group1-sha1");
        // Pseudo-algorithms are not the user's to list.
        assert!(matches!(
            prefs.set_kex("+ext-info-c"),
            Err(PreferenceError::UnknownAlgorithm {
                category: Category::Kex,
                ..
            })
        ));
        prefs
            .set_host_key_algorithms("ssh-ed25519,rsa-sha2-*")
            .unwrap();
        assert_eq!(
            enabled(&prefs.host_key),
            ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"]
        );
        prefs.set_compression("zlib@openssh.com,none").unwrap();
        assert_eq!(
            enabled(&prefs.compression_s2c),
            ["zlib@openssh.com", "none"]
        );
        // One direction alone.
        prefs.compression_c2s.only(["none"]).unwrap();
        assert_eq!(enabled(&prefs.compression_c2s), ["none"]);
        assert_eq!(
            enabled(&prefs.compression_s2c),
            ["zlib@openssh.com", "none"]
        );
    }

    #[test]
    fn edits_by_name() {
        let mut p = test_prefs().mac_c2s;
        p.only(["hmac-sha2-256", "hmac-sha2-512"]).unwrap();
        p.prefer("hmac-sha2-512").unwrap();
        assert_eq!(enabled(&p), ["hmac-sha2-512", "hmac-sha2-256"]);
        p.prefer("hmac-md5").unwrap();
        assert_eq!(enabled(&p), ["hmac-md5", "hmac-sha2-512", "hmac-sha2-256"]);
        p.append("hmac-md5").unwrap();
        assert_eq!(enabled(&p), ["hmac-md5", "hmac-sha2-512", "hmac-sha2-256"]);
        p.append("hmac-sha1").unwrap();
        p.remove("hmac-md5").unwrap();
        assert_eq!(enabled(&p), ["hmac-sha2-512", "hmac-sha2-256", "hmac-sha1"]);
        assert!(p.remove("hmac-sha3").is_err());
        assert!(p.only(Vec::<&str>::new()).is_err());
        p.only(["hmac-sha1"]).unwrap();
        assert!(matches!(
            p.remove("hmac-sha1"),
            Err(PreferenceError::EmptyList { .. })
        ));
        assert_eq!(enabled(&p), ["hmac-sha1"]);
        assert_eq!(format!("{p:?}").lines().count(), 1);
    }

    #[test]
    fn register_a_custom_algorithm_then_prefer_it() {
        static MINE: TestCipher = TestCipher {
            name: "mine@example.com",
            aead: Some(16),
        };
        let mut prefs = test_prefs();
        assert!(prefs.set_ciphers("^mine@example.com").is_err());
        prefs.register_cipher(&MINE).unwrap();
        // Known, not yet enabled.
        assert!(prefs.cipher_c2s.known().contains("mine@example.com"));
        assert!(!prefs.cipher_s2c.enabled().contains("mine@example.com"));
        prefs.set_ciphers("^mine@example.com").unwrap();
        assert_eq!(enabled(&prefs.cipher_c2s)[0], "mine@example.com");
        assert_eq!(enabled(&prefs.cipher_s2c)[0], "mine@example.com");
        // Patterns see it too.
        prefs.set_ciphers("-mine@*").unwrap();
        assert!(!prefs.cipher_c2s.enabled().contains("mine@example.com"));

        // register_preferred in one step, one direction.
        let mut p = test_prefs().cipher_c2s;
        p.register_preferred(&MINE).unwrap();
        assert!(core::ptr::addr_eq(p.enabled().first().unwrap(), &MINE));

        // Replacing a built-in implementation keeps its rank.
        static OTHER_AES: TestCipher = TestCipher {
            name: "aes128-ctr",
            aead: None,
        };
        p.register(&OTHER_AES).unwrap();
        assert_eq!(p.enabled().position("aes128-ctr"), Some(2));
        assert!(core::ptr::addr_eq(
            p.enabled().get("aes128-ctr").unwrap(),
            &OTHER_AES
        ));
        assert!(core::ptr::addr_eq(
            p.known().get("aes128-ctr").unwrap(),
            &OTHER_AES
        ));
    }

    #[test]
    fn register_refuses_bad_names() {
        static BAD: [TestCompression; 6] = [
            TestCompression { name: "" },
            TestCompression { name: "a,b" },
            TestCompression { name: "zl*b" },
            TestCompression { name: "with space" },
            TestCompression { name: "-leading" },
            TestCompression {
                name: "a-name-that-is-much-longer-than-the-sixty-four-characters-allowed",
            },
        ];
        let mut prefs = test_prefs();
        for bad in &BAD {
            assert!(
                matches!(
                    prefs.register_compression(bad),
                    Err(PreferenceError::InvalidName { .. })
                ),
                "{:?} accepted",
                bad.name
            );
        }
        static PSEUDO: TestKex = TestKex {
            name: "kex-strict-c-v00@openssh.com",
            signing: true,
        };
        assert!(prefs.register_kex(&PSEUDO).is_err());
        static GOOD: TestSig = TestSig {
            name: "ssh-foo@example.com",
        };
        prefs.register_host_key(&GOOD).unwrap();
        static GOOD_MAC: TestMac = TestMac {
            name: "mac-foo@example.com",
        };
        prefs.register_mac(&GOOD_MAC).unwrap();
        assert!(prefs.mac_s2c.known().contains("mac-foo@example.com"));
    }

    #[test]
    fn kexinit_pseudo_algorithms_only_on_first_exchange_and_per_role() {
        let prefs = test_prefs();
        let mut rng = TestRng::new(1);
        let kex_names = |k: &KexInit<'_>| {
            k.kex_algorithms
                .iter()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let base: Vec<String> = prefs.kex.enabled().names().map(String::from).collect();
        let with = |extra: &[&str]| {
            let mut v = base.clone();
            v.extend(extra.iter().map(|s| String::from(*s)));
            v
        };

        let rows: [(Role, bool, bool, bool, Vec<String>); 8] = [
            (
                Role::Client,
                true,
                true,
                true,
                with(&["ext-info-c", "kex-strict-c-v00@openssh.com"]),
            ),
            (
                Role::Server,
                true,
                true,
                true,
                with(&["ext-info-s", "kex-strict-s-v00@openssh.com"]),
            ),
            (Role::Client, false, true, true, with(&[])),
            (Role::Server, false, true, true, with(&[])),
            (
                Role::Client,
                true,
                false,
                true,
                with(&["kex-strict-c-v00@openssh.com"]),
            ),
            (Role::Server, true, true, false, with(&["ext-info-s"])),
            (Role::Client, true, false, false, with(&[])),
            (Role::Server, true, false, false, with(&[])),
        ];
        for (role, first, ext_info, strict, want) in rows {
            let mut p = prefs.clone();
            p.ext_info = ext_info;
            p.strict_kex = strict;
            let k = p.kexinit(role, first, &mut rng);
            assert_eq!(kex_names(&k), want, "{role:?} first={first}");
        }
    }

    #[test]
    fn kexinit_carries_the_enabled_lists() {
        let mut prefs = test_prefs();
        prefs.cipher_s2c.only(["aes256-ctr"]).unwrap();
        prefs.set_compression("zlib@openssh.com,none").unwrap();
        let k = prefs.kexinit(Role::Client, false, &mut TestRng::new(7));
        assert_eq!(
            k.server_host_key_algorithms.as_str(),
            "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256"
        );
        assert_eq!(
            k.encryption_algorithms_client_to_server.as_str(),
            "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,\
             aes128-gcm@openssh.com,aes256-gcm@openssh.com"
        );
        assert_eq!(
            k.encryption_algorithms_server_to_client.as_str(),
            "aes256-ctr"
        );
        assert_eq!(
            k.mac_algorithms_server_to_client,
            prefs.mac_s2c.enabled().name_list()
        );
        assert_eq!(
            k.compression_algorithms_client_to_server.as_str(),
            "zlib@openssh.com,none"
        );
        assert!(k.languages_client_to_server.is_empty());
        assert!(k.languages_server_to_client.is_empty());
        assert!(!k.first_kex_packet_follows);
        assert_eq!(k.reserved, 0);
        // It encodes and decodes as a KEXINIT.
        let bytes = k.to_vec();
        assert_eq!(KexInit::decode(&bytes).unwrap(), k);
    }

    #[test]
    fn kexinit_server_offers_only_host_keys_it_has() {
        let prefs = test_prefs();
        let k = prefs.kexinit_with_host_keys(
            Role::Server,
            true,
            &mut TestRng::new(3),
            &["rsa-sha2-256", "ssh-rsa", "ssh-ed25519"],
        );
        // Preference order, enabled ones only (ssh-rsa is not enabled).
        assert_eq!(
            k.server_host_key_algorithms.as_str(),
            "ssh-ed25519,rsa-sha2-256"
        );
    }

    #[test]
    fn cookie_is_random_per_call() {
        let prefs = test_prefs();
        let mut rng = TestRng::new(42);
        let a = prefs.kexinit(Role::Client, true, &mut rng);
        let b = prefs.kexinit(Role::Client, true, &mut rng);
        assert_ne!(a.cookie, b.cookie);
        assert_ne!(a.cookie, [0; 16]);
        // Same seed, same cookie: it really comes from the RNG.
        let c = prefs.kexinit(Role::Client, true, &mut TestRng::new(42));
        assert_eq!(a.cookie, c.cookie);
        assert_eq!(vec![a.kex_algorithms], vec![b.kex_algorithms]);
    }
}
