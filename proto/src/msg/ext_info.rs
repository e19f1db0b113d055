//! Extension negotiation (RFC 8308): SSH_MSG_EXT_INFO and SSH_MSG_NEWCOMPRESS.

use super::{Encode, expect_number};
use crate::{NameList, Reader, Result, Writer, numbers};
use alloc::vec::Vec;

/// Name of the `server-sig-algs` extension (RFC 8308 §3.1).
pub const SERVER_SIG_ALGS: &str = "server-sig-algs";
/// Name of the `delay-compression` extension (RFC 8308 §3.2).
pub const DELAY_COMPRESSION: &str = "delay-compression";
/// Name of the `no-flow-control` extension (RFC 8308 §3.3).
pub const NO_FLOW_CONTROL: &str = "no-flow-control";
/// Name of OpenSSH's `ping@openssh.com` extension (PROTOCOL §1.9).
pub const PING: &str = "ping@openssh.com";

/// One extension of an EXT_INFO message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension<'a> {
    /// `server-sig-algs`: the public key signature algorithms the server
    /// accepts for user authentication.
    ServerSigAlgs(NameList<'a>),
    /// `no-flow-control`: `"p"` (preferred) or `"s"` (supported). Other
    /// values are kept as they are; RFC 8308 says to ignore them.
    NoFlowControl(&'a str),
    /// `delay-compression`: compression algorithms to switch to after
    /// authentication, one name-list per direction.
    DelayCompression {
        /// Client to server.
        c2s: NameList<'a>,
        /// Server to client.
        s2c: NameList<'a>,
    },
    /// `ping@openssh.com`: the peer answers `SSH2_MSG_PING`; the value is
    /// the version, `"0"`.
    Ping {
        /// Version of the extension.
        version: &'a str,
    },
    /// Any other extension, with its value unparsed.
    Other {
        /// Extension name.
        name: &'a str,
        /// Extension value (the contents of the value string).
        value: &'a [u8],
    },
}

impl<'a> Extension<'a> {
    /// The extension's name, as on the wire.
    #[must_use]
    pub fn name(&self) -> &'a str {
        match self {
            Self::ServerSigAlgs(_) => SERVER_SIG_ALGS,
            Self::NoFlowControl(_) => NO_FLOW_CONTROL,
            Self::DelayCompression { .. } => DELAY_COMPRESSION,
            Self::Ping { .. } => PING,
            Self::Other { name, .. } => name,
        }
    }

    /// Interprets the value of extension `name`. The value of a known
    /// extension must be well-formed.
    fn from_parts(name: &'a str, value: &'a [u8]) -> Result<Self> {
        Ok(match name {
            SERVER_SIG_ALGS => Self::ServerSigAlgs(NameList::parse(value)?),
            NO_FLOW_CONTROL => Self::NoFlowControl(text(value, "no-flow-control value")?),
            DELAY_COMPRESSION => {
                let mut r = Reader::new(value);
                let c2s = r.name_list()?;
                let s2c = r.name_list()?;
                r.finish_with("delay-compression value")?;
                Self::DelayCompression { c2s, s2c }
            }
            PING => Self::Ping {
                version: text(value, "ping@openssh.com version")?,
            },
            _ => Self::Other { name, value },
        })
    }

    /// Writes name and value.
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_str(self.name());
        match self {
            Self::ServerSigAlgs(list) => w.put_name_list(list),
            Self::NoFlowControl(value) => w.put_str(value),
            Self::DelayCompression { c2s, s2c } => {
                // The value is a string holding two strings: write its
                // length, then the two name-lists, without a scratch buffer.
                let len = 8 + c2s.as_str().len() + s2c.as_str().len();
                let len = u32::try_from(len).unwrap_or(u32::MAX);
                w.put_u32(len);
                w.put_name_list(c2s);
                w.put_name_list(s2c);
            }
            Self::Ping { version } => w.put_str(version),
            Self::Other { value, .. } => w.put_string(value),
        }
    }
}

/// Checks that a value is UTF-8.
fn text<'a>(value: &'a [u8], what: &'static str) -> Result<&'a str> {
    core::str::from_utf8(value).map_err(|_| crate::DecodeError::InvalidText {
        what,
        expected: "UTF-8",
    })
}

/// SSH_MSG_EXT_INFO (RFC 8308 §2.3): the extensions the sender supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtInfo<'a> {
    /// The extensions, in the order received.
    pub extensions: Vec<Extension<'a>>,
}

impl<'a> ExtInfo<'a> {
    /// Decodes an EXT_INFO payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::EXT_INFO, "EXT_INFO")?;
        let count = r.u32()?;
        // The count comes from the peer: nothing is reserved on its word, each
        // extension is pushed once it has really been read.
        let mut extensions = Vec::new();
        for _ in 0..count {
            let name = r.utf8("extension name")?;
            let value = r.string()?;
            extensions.push(Extension::from_parts(name, value)?);
        }
        r.finish_with("EXT_INFO")?;
        Ok(ExtInfo { extensions })
    }

    /// The first extension called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Extension<'a>> {
        self.extensions.iter().find(|e| e.name() == name)
    }

    /// The `server-sig-algs` list, if the sender gave one.
    #[must_use]
    pub fn server_sig_algs(&self) -> Option<&NameList<'a>> {
        self.extensions.iter().find_map(|e| match e {
            Extension::ServerSigAlgs(list) => Some(list),
            _ => None,
        })
    }
}

impl Encode for ExtInfo<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::EXT_INFO);
        w.put_u32(u32::try_from(self.extensions.len()).unwrap_or(u32::MAX));
        for ext in &self.extensions {
            ext.encode(w);
        }
    }
}

/// SSH_MSG_NEWCOMPRESS (RFC 8308 §3.2): with `delay-compression`, the
/// sender starts compressing from the next packet on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NewCompress;

impl NewCompress {
    /// Decodes a NEWCOMPRESS payload (message number included).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::NEWCOMPRESS, "NEWCOMPRESS")?;
        r.finish_with("NEWCOMPRESS")?;
        Ok(NewCompress)
    }
}

impl Encode for NewCompress {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::NEWCOMPRESS);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn server_sig_algs_layout() {
        // RFC 8308 §2.3: byte 7, uint32 nr-extensions, then name/value pairs.
        let wire = b"\x07\x00\x00\x00\x01\
            \x00\x00\x00\x0fserver-sig-algs\
            \x00\x00\x00\x18ssh-ed25519,rsa-sha2-256";
        let msg = ExtInfo::decode(wire).unwrap();
        let list = msg.server_sig_algs().unwrap();
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            ["ssh-ed25519", "rsa-sha2-256"]
        );
        assert_eq!(msg.to_vec(), wire);
    }

    #[test]
    fn every_extension_roundtrips() {
        let msg = ExtInfo {
            extensions: vec![
                Extension::ServerSigAlgs(NameList::parse(b"ssh-ed25519").unwrap()),
                Extension::NoFlowControl("p"),
                Extension::DelayCompression {
                    c2s: NameList::parse(b"zlib@openssh.com,none").unwrap(),
                    s2c: NameList::parse(b"none").unwrap(),
                },
                Extension::Ping { version: "0" },
                Extension::Other {
                    name: "elevation",
                    value: b"d",
                },
            ],
        };
        let bytes = msg.to_vec();
        assert_eq!(ExtInfo::decode(&bytes).unwrap(), msg);
        assert_eq!(msg.get(PING), Some(&Extension::Ping { version: "0" }));
        // The delay-compression value is one string holding two name-lists.
        let needle = b"delay-compression\x00\x00\x00\x21\x00\x00\x00\x15zlib@openssh.com,none\x00\x00\x00\x04none";
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
        for cut in 0..bytes.len() {
            assert!(ExtInfo::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn hostile_count_does_not_allocate() {
        let wire = b"\x07\xff\xff\xff\xff";
        assert!(ExtInfo::decode(wire).is_err());
        assert_eq!(NewCompress.to_vec(), [8]);
        assert_eq!(NewCompress::decode(&[8]).unwrap(), NewCompress);
    }

    #[test]
    fn malformed_known_value_is_an_error() {
        let wire = b"\x07\x00\x00\x00\x01\x00\x00\x00\x0fserver-sig-algs\x00\x00\x00\x01,";
        assert!(ExtInfo::decode(wire).is_err());
    }
}
