//! The protocol version exchange (RFC 4253 §4.2).
//!
//! Each side sends `SSH-2.0-software comments\r\n`. Before its version line a
//! server may send other lines (banners); a client may not. Everything the
//! peer sends here is hostile and unencrypted, so the reader is bounded in
//! every way: line length, number of lines, total bytes.

use alloc::string::String;
use alloc::vec::Vec;

/// RFC 4253 §4.2: the version line, CR LF included, is at most 255 bytes.
pub const MAX_VERSION_LINE: usize = 255;

/// How many lines a server may send before its version line. OpenSSH allows
/// 1024; anything more is not a server talking.
pub const MAX_PRE_VERSION_LINES: usize = 1024;

/// How many bytes of pre-version lines are accepted in all.
pub const MAX_PRE_VERSION_BYTES: usize = 64 * 1024;

/// Why the peer's version exchange was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// A line was longer than the protocol allows.
    #[error("identification line longer than {max} bytes")]
    LineTooLong {
        /// The limit that was exceeded.
        max: usize,
    },
    /// A line contained a NUL byte.
    #[error("NUL byte in identification line")]
    NulByte,
    /// Too many lines or bytes arrived before the version line.
    #[error("no version line within {lines} lines / {bytes} bytes")]
    TooMuchBanner {
        /// Lines seen.
        lines: usize,
        /// Bytes seen.
        bytes: usize,
    },
    /// A client sent something other than its version line first.
    #[error("expected an SSH version line from the client, got {found:?}")]
    NotSsh {
        /// The start of what was received (at most 64 bytes, lossy UTF-8).
        found: String,
    },
    /// The peer speaks a protocol version other than 2.0 (or 1.99).
    #[error("unsupported protocol version {found:?}: expected 2.0 (or 1.99)")]
    UnsupportedVersion {
        /// The protocol version the peer announced.
        found: String,
    },
    /// The version line is not `SSH-protoversion-softwareversion`.
    #[error("malformed version line {found:?}")]
    Malformed {
        /// The line (lossy UTF-8).
        found: String,
    },
}

/// The peer's identification, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerVersion {
    /// The whole line without CR LF: it goes into the exchange hash as is.
    pub line: Vec<u8>,
    /// `2.0` or `1.99`.
    pub protocol: String,
    /// The software version, such as `OpenSSH_9.6p1`.
    pub software: String,
    /// The comments after the first space, if any.
    pub comments: Option<String>,
}

/// Formats our identification line, CR LF included.
///
/// Spaces and minus signs are not allowed in `software` (RFC 4253 §4.2);
/// they are replaced by underscores. The line is cut to the 255-byte limit.
#[must_use]
pub fn identification_line(software: &str, comments: Option<&str>) -> Vec<u8> {
    let mut line = Vec::with_capacity(64);
    line.extend_from_slice(b"SSH-2.0-");
    line.extend(software.bytes().map(|b| {
        if b == b'-' || !(0x21..=0x7e).contains(&b) {
            b'_'
        } else {
            b
        }
    }));
    if let Some(comments) = comments.filter(|c| !c.is_empty()) {
        line.push(b' ');
        line.extend(comments.bytes().map(|b| {
            if b == b'\r' || b == b'\n' || b == 0 {
                b' '
            } else {
                b
            }
        }));
    }
    line.truncate(MAX_VERSION_LINE - 2);
    line.extend_from_slice(b"\r\n");
    line
}

/// Reads the peer's identification from the start of the stream.
#[derive(Debug)]
pub struct VersionReader {
    peer_is_server: bool,
    line: Vec<u8>,
    lines: usize,
    bytes: usize,
}

impl VersionReader {
    /// Starts reading. `peer_is_server` allows banner lines before the
    /// version line.
    #[must_use]
    pub fn new(peer_is_server: bool) -> Self {
        VersionReader {
            peer_is_server,
            line: Vec::new(),
            lines: 0,
            bytes: 0,
        }
    }

    /// Feeds received bytes. Returns how many were consumed and, once the
    /// version line is complete, the peer's version; bytes after it (the
    /// first binary packet) are left unconsumed.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Option<PeerVersion>), VersionError> {
        for (i, &b) in input.iter().enumerate() {
            if b == 0 {
                return Err(VersionError::NulByte);
            }
            if b != b'\n' {
                self.line.push(b);
                // The limit counts the line end too: CR LF, or the LF still
                // to come.
                if self.line.len() + 1 > MAX_VERSION_LINE {
                    return Err(VersionError::LineTooLong {
                        max: MAX_VERSION_LINE,
                    });
                }
                continue;
            }
            // A line is complete: LF, with or without the CR RFC 4253 asks
            // for (OpenSSH accepts both).
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            if self.line.starts_with(b"SSH-") {
                let version = parse_version_line(core::mem::take(&mut self.line))?;
                return Ok((i + 1, Some(version)));
            }
            if !self.peer_is_server {
                return Err(VersionError::NotSsh {
                    found: lossy_prefix(&self.line),
                });
            }
            self.lines += 1;
            self.bytes += self.line.len() + 1;
            self.line.clear();
            if self.lines > MAX_PRE_VERSION_LINES || self.bytes > MAX_PRE_VERSION_BYTES {
                return Err(VersionError::TooMuchBanner {
                    lines: self.lines,
                    bytes: self.bytes,
                });
            }
        }
        // A client's first bytes must look like a version line.
        if !self.peer_is_server
            && !b"SSH-".starts_with(self.line.get(..4.min(self.line.len())).unwrap_or_default())
        {
            return Err(VersionError::NotSsh {
                found: lossy_prefix(&self.line),
            });
        }
        Ok((input.len(), None))
    }
}

fn lossy_prefix(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.get(..64.min(bytes.len())).unwrap_or_default()).into_owned()
}

fn parse_version_line(line: Vec<u8>) -> Result<PeerVersion, VersionError> {
    let malformed = |line: &[u8]| VersionError::Malformed {
        found: lossy_prefix(line),
    };
    let text = core::str::from_utf8(&line).map_err(|_| malformed(&line))?;
    let rest = text.strip_prefix("SSH-").ok_or_else(|| malformed(&line))?;
    let (protocol, rest) = rest.split_once('-').ok_or_else(|| malformed(&line))?;
    if protocol != "2.0" && protocol != "1.99" {
        return Err(VersionError::UnsupportedVersion {
            found: String::from(protocol),
        });
    }
    let (software, comments) = match rest.split_once(' ') {
        Some((software, comments)) => (software, Some(String::from(comments))),
        None => (rest, None),
    };
    if software.is_empty() {
        return Err(malformed(&line));
    }
    Ok(PeerVersion {
        protocol: String::from(protocol),
        software: String::from(software),
        comments,
        line,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn formats_our_line() {
        assert_eq!(
            identification_line("sekura_0.1.0", None),
            b"SSH-2.0-sekura_0.1.0\r\n"
        );
        assert_eq!(
            identification_line("sekura 0.1", Some("hi")),
            b"SSH-2.0-sekura_0.1 hi\r\n"
        );
        let long = "x".repeat(400);
        let line = identification_line(&long, None);
        assert_eq!(line.len(), MAX_VERSION_LINE);
        assert!(line.ends_with(b"\r\n"));
    }

    #[test]
    fn parses_openssh_and_leaves_the_rest() {
        let input = b"SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n\x00\x00\x01\x00rest";
        let mut r = VersionReader::new(true);
        let (used, v) = r.feed(input).unwrap();
        let v = v.unwrap();
        assert_eq!(used, 32);
        assert_eq!(v.line, b"SSH-2.0-OpenSSH_9.6p1 Debian-3");
        assert_eq!(v.software, "OpenSSH_9.6p1");
        assert_eq!(v.comments.as_deref(), Some("Debian-3"));
        assert_eq!(v.protocol, "2.0");
    }

    #[test]
    fn byte_at_a_time_with_banner_and_bare_lf() {
        let input = b"Welcome\r\nto the server\nSSH-1.99-Cisco-1.25\n";
        let mut r = VersionReader::new(true);
        let mut found = None;
        for (i, b) in input.iter().enumerate() {
            let (used, v) = r.feed(&[*b]).unwrap();
            assert_eq!(used, 1);
            if v.is_some() {
                assert_eq!(i, input.len() - 1);
                found = v;
            }
        }
        let v = found.unwrap();
        assert_eq!(v.protocol, "1.99");
        assert_eq!(v.software, "Cisco-1.25");
    }

    #[test]
    fn rejects_hostile_or_foreign_input() {
        let cases: &[(&[u8], bool)] = &[
            (b"SSH-1.5-old\r\n", true),
            (b"SSH-2.0-\r\n", true),
            (b"SSH-2.0-a\x00b\r\n", true),
            (b"GET / HTTP/1.1\r\n", false),
            (b"hello", false),
            (b"SSH-2.0-\xff\xfe\r\n", true),
        ];
        for &(input, peer_is_server) in cases {
            let mut r = VersionReader::new(peer_is_server);
            assert!(
                r.feed(input).is_err(),
                "{:?} accepted",
                String::from_utf8_lossy(input)
            );
        }
        let mut r = VersionReader::new(true);
        let long = vec![b'a'; 300];
        assert_eq!(r.feed(&long), Err(VersionError::LineTooLong { max: 255 }));
    }

    #[test]
    fn banner_is_bounded() {
        let mut r = VersionReader::new(true);
        let mut err = None;
        for _ in 0..=MAX_PRE_VERSION_LINES {
            if let Err(e) = r.feed(b"x\r\n") {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(err, Some(VersionError::TooMuchBanner { .. })));
    }

    #[test]
    fn client_must_start_with_version() {
        let mut r = VersionReader::new(false);
        assert_eq!(r.feed(b"SS").unwrap(), (2, None));
        let (_, v) = r.feed(b"H-2.0-PuTTY_Release_0.81\r\n").unwrap();
        assert_eq!(v.unwrap().software, "PuTTY_Release_0.81");
    }
}
