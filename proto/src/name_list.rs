//! `name-list`: comma-separated US-ASCII names (RFC 4251 §5).

use crate::{DecodeError, Result};
use alloc::borrow::Cow;
use alloc::string::String;

/// A validated `name-list`: names of printable US-ASCII without commas,
/// none of them empty, joined by commas. The empty list is allowed.
///
/// ```
/// use sekura_proto::NameList;
///
/// let list = NameList::from_names(["aes128-ctr", "aes256-gcm@openssh.com"]).unwrap();
/// assert_eq!(list.as_str(), "aes128-ctr,aes256-gcm@openssh.com");
/// assert!(list.contains("aes128-ctr"));
/// assert!(NameList::parse(b"a,,b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NameList<'a> {
    joined: Cow<'a, str>,
}

/// Checks one name: non-empty, printable US-ASCII (0x21..=0x7e), no comma.
/// RFC 4251 §6 limits algorithm names to 64 characters, but name-lists also
/// carry other names (methods, extensions), so length is not checked here.
fn check_name(name: &[u8]) -> Result<()> {
    if name.is_empty() {
        return Err(DecodeError::InvalidNameList {
            reason: "empty name",
        });
    }
    if name.contains(&b',') {
        return Err(DecodeError::InvalidNameList {
            reason: "comma inside a name",
        });
    }
    if !name.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(DecodeError::InvalidNameList {
            reason: "name is not printable US-ASCII",
        });
    }
    Ok(())
}

impl<'a> NameList<'a> {
    /// Validates the body of a received name-list (without its length).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if !bytes.is_empty() {
            for name in bytes.split(|&b| b == b',') {
                check_name(name)?;
            }
        }
        let joined = core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidText {
            what: "name-list",
            expected: "US-ASCII",
        })?;
        Ok(NameList {
            joined: Cow::Borrowed(joined),
        })
    }

    /// Builds a list from names, checking each one.
    pub fn from_names<I, S>(names: I) -> Result<NameList<'static>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut joined = String::new();
        for name in names {
            let name = name.as_ref();
            check_name(name.as_bytes())?;
            if !joined.is_empty() {
                joined.push(',');
            }
            joined.push_str(name);
        }
        Ok(NameList {
            joined: Cow::Owned(joined),
        })
    }

    /// The empty list.
    #[must_use]
    pub fn empty() -> NameList<'static> {
        NameList {
            joined: Cow::Borrowed(""),
        }
    }

    /// The names joined by commas, as on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.joined
    }

    /// The names, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.joined.split(',').filter(|s| !s.is_empty())
    }

    /// Whether the list holds no names.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty()
    }

    /// How many names the list holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether `name` is one of the names.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }

    /// Copies borrowed text so the list outlives its input.
    #[must_use]
    pub fn into_owned(self) -> NameList<'static> {
        NameList {
            joined: Cow::Owned(self.joined.into_owned()),
        }
    }
}

impl core::fmt::Display for NameList<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.joined)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::{Reader, Writer};
    use alloc::vec::Vec;

    #[test]
    fn rfc4251_examples() {
        // RFC 4251 §5: (), ("zlib"), ("zlib", "none").
        let cases: &[(&[&str], &[u8])] = &[
            (&[], b"\x00\x00\x00\x00"),
            (&["zlib"], b"\x00\x00\x00\x04zlib"),
            (&["zlib", "none"], b"\x00\x00\x00\x09zlib,none"),
        ];
        for &(names, wire) in cases {
            let list = NameList::from_names(names).unwrap();
            let mut out = Vec::new();
            out.put_name_list(&list);
            assert_eq!(out, wire);
            let mut r = Reader::new(wire);
            let back = r.name_list().unwrap();
            assert_eq!(back.iter().collect::<Vec<_>>(), names);
        }
    }

    #[test]
    fn rejects_what_the_rfc_forbids() {
        for bad in [
            &b","[..],
            b"a,",
            b",a",
            b"a,,b",
            b"a b",
            b"caf\xc3\xa9",
            b"a\x00",
        ] {
            assert!(NameList::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(NameList::from_names(["ok", ""]).is_err());
        assert!(NameList::from_names(["a,b"]).is_err());
        assert!(NameList::from_names(["ü"]).is_err());
    }
}
