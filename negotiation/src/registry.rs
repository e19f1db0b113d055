//! [`Registry`]: an ordered list of algorithms, first = most preferred.

use alloc::vec::Vec;
use core::fmt;
use sekura_algorithms::Algorithm;
use sekura_proto::NameList;

/// An ordered list of algorithms of one kind, most preferred first, with at
/// most one algorithm per name.
///
/// Entries are `&'static` values, so a built-in algorithm and a user's own
/// (a `static` of a type implementing the trait) sit side by side.
///
/// ```
/// use sekura_algorithms::{Compression, none::NONE_COMPRESSION};
/// use sekura_negotiation::Registry;
///
/// let reg: Registry<dyn Compression> = Registry::from_slice(&[&NONE_COMPRESSION]);
/// assert_eq!(reg.names().collect::<Vec<_>>(), ["none"]);
/// assert!(reg.get("none").is_some());
/// assert!(reg.get("zlib").is_none());
/// ```
pub struct Registry<T: ?Sized + Algorithm + 'static> {
    entries: Vec<&'static T>,
}

impl<T: ?Sized + Algorithm + 'static> Registry<T> {
    /// An empty registry.
    #[must_use]
    pub const fn new() -> Self {
        Registry {
            entries: Vec::new(),
        }
    }

    /// A registry holding `list` in order; a later entry whose name is
    /// already present is dropped.
    #[must_use]
    pub fn from_slice(list: &[&'static T]) -> Self {
        let mut reg = Registry::new();
        for &alg in list {
            reg.append(alg);
        }
        reg
    }

    /// The algorithm called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'static T> {
        self.entries.iter().copied().find(|a| a.name() == name)
    }

    /// Whether an algorithm called `name` is present.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Where `name` stands (0 = most preferred).
    #[must_use]
    pub fn position(&self, name: &str) -> Option<usize> {
        self.entries.iter().position(|a| a.name() == name)
    }

    /// The most preferred algorithm.
    #[must_use]
    pub fn first(&self) -> Option<&'static T> {
        self.entries.first().copied()
    }

    /// The algorithms, most preferred first.
    pub fn iter(&self) -> core::iter::Copied<core::slice::Iter<'_, &'static T>> {
        self.entries.iter().copied()
    }

    /// The algorithms' names, most preferred first.
    pub fn names(&self) -> impl DoubleEndedIterator<Item = &'static str> + ExactSizeIterator + '_ {
        self.entries.iter().map(|&a| a.name())
    }

    /// The algorithms as a slice, most preferred first.
    #[must_use]
    pub fn as_slice(&self) -> &[&'static T] {
        &self.entries
    }

    /// How many algorithms there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Puts `alg` first, removing any other entry of the same name.
    pub fn prefer(&mut self, alg: &'static T) {
        self.remove(alg.name());
        self.entries.insert(0, alg);
    }

    /// Adds `alg` last unless an algorithm of that name is present (which
    /// then keeps its place). Returns whether it was added.
    pub fn append(&mut self, alg: &'static T) -> bool {
        if self.contains(alg.name()) {
            false
        } else {
            self.entries.push(alg);
            true
        }
    }

    /// Puts `alg` in place of the entry of the same name, keeping its rank,
    /// or appends it. Returns whether an entry was replaced.
    pub fn replace(&mut self, alg: &'static T) -> bool {
        match self.entries.iter_mut().find(|a| a.name() == alg.name()) {
            Some(slot) => {
                *slot = alg;
                true
            }
            None => {
                self.entries.push(alg);
                false
            }
        }
    }

    /// Removes the algorithm called `name` and returns it.
    pub fn remove(&mut self, name: &str) -> Option<&'static T> {
        let i = self.position(name)?;
        Some(self.entries.remove(i))
    }

    /// Keeps only the algorithms for which `keep` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&'static T) -> bool) {
        self.entries.retain(|&a| keep(a));
    }

    /// The names as a KEXINIT name-list. Names that are not valid in a
    /// name-list (which registration refuses) are left out.
    #[must_use]
    pub fn name_list(&self) -> NameList<'static> {
        NameList::from_names(self.names().filter(|n| crate::name_is_valid(n).is_ok()))
            .unwrap_or_else(|_| NameList::empty())
    }
}

impl<T: ?Sized + Algorithm + 'static> Default for Registry<T> {
    fn default() -> Self {
        Registry::new()
    }
}

impl<T: ?Sized + Algorithm + 'static> Clone for Registry<T> {
    fn clone(&self) -> Self {
        Registry {
            entries: self.entries.clone(),
        }
    }
}

impl<T: ?Sized + Algorithm + 'static> fmt::Debug for Registry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl<T: ?Sized + Algorithm + 'static> FromIterator<&'static T> for Registry<T> {
    fn from_iter<I: IntoIterator<Item = &'static T>>(iter: I) -> Self {
        let mut reg = Registry::new();
        for alg in iter {
            reg.append(alg);
        }
        reg
    }
}

impl<'a, T: ?Sized + Algorithm + 'static> IntoIterator for &'a Registry<T> {
    type Item = &'static T;
    type IntoIter = core::iter::Copied<core::slice::Iter<'a, &'static T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use alloc::format;
    use sekura_algorithms::Cipher;

    fn names(reg: &Registry<dyn Cipher>) -> Vec<&'static str> {
        reg.names().collect()
    }

    #[test]
    fn order_lookup_and_edits() {
        let mut reg: Registry<dyn Cipher> =
            Registry::from_slice(&[&AES128_CTR, &AES256_CTR, &AES128_CTR, &CHACHA]);
        assert_eq!(
            names(&reg),
            ["aes128-ctr", "aes256-ctr", "chacha20-poly1305@openssh.com"]
        );
        assert_eq!(reg.len(), 3);
        assert_eq!(reg.position("aes256-ctr"), Some(1));
        assert_eq!(
            reg.get("chacha20-poly1305@openssh.com")
                .unwrap()
                .aead_tag_len(),
            Some(16)
        );
        assert!(reg.get("3des-cbc").is_none());
        assert_eq!(reg.first().unwrap().name(), "aes128-ctr");

        reg.prefer(&CHACHA);
        assert_eq!(
            names(&reg),
            ["chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr"]
        );
        reg.prefer(&TDES_CBC);
        assert_eq!(reg.first().unwrap().name(), "3des-cbc");
        assert!(!reg.append(&AES128_CTR));
        assert!(reg.append(&AES128_CBC));
        assert_eq!(reg.remove("aes128-ctr").unwrap().name(), "aes128-ctr");
        assert!(reg.remove("aes128-ctr").is_none());
        assert_eq!(
            names(&reg),
            [
                "3des-cbc",
                "chacha20-poly1305@openssh.com",
                "aes256-ctr",
                "aes128-cbc"
            ]
        );
        reg.retain(|c| c.aead_tag_len().is_none());
        assert_eq!(names(&reg), ["3des-cbc", "aes256-ctr", "aes128-cbc"]);
        assert_eq!(reg.name_list().as_str(), "3des-cbc,aes256-ctr,aes128-cbc");
        assert_eq!(
            format!("{reg:?}"),
            r#"["3des-cbc", "aes256-ctr", "aes128-cbc"]"#
        );
        let collected: Registry<dyn Cipher> = reg.iter().rev().collect();
        assert_eq!(names(&collected), ["aes128-cbc", "aes256-ctr", "3des-cbc"]);
        assert!(Registry::<dyn Cipher>::new().is_empty());
        assert_eq!(Registry::<dyn Cipher>::default().name_list().as_str(), "");
    }

    #[test]
    fn replace_keeps_rank() {
        static OTHER_AES: TestCipher = TestCipher {
            name: "aes128-ctr",
            aead: None,
        };
        let mut reg: Registry<dyn Cipher> = Registry::from_slice(&[&AES256_CTR, &AES128_CTR]);
        assert!(reg.replace(&OTHER_AES));
        assert!(core::ptr::addr_eq(reg.as_slice()[1], &OTHER_AES));
        assert!(!reg.replace(&CHACHA));
        assert_eq!(reg.len(), 3);
    }
}
