//! The one error type of decoding.

/// Why a sequence of bytes is not a well-formed SSH value or message.
///
/// Each variant says what was expected and what was found, so a log line is
/// enough to tell a truncated packet from a malformed one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before a value was complete.
    #[error("truncated {what}: needed {needed} bytes, {remaining} remain")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// How many bytes the value needs.
        needed: usize,
        /// How many bytes were left.
        remaining: usize,
    },
    /// A boolean was neither 0 nor 1 (RFC 4251 §5 allows any non-zero as
    /// true; sekura decodes any non-zero as true, so this is only raised
    /// where a specific value is required).
    #[error("invalid {what}: expected {expected}, found {found}")]
    InvalidValue {
        /// What was being read.
        what: &'static str,
        /// What the decoder accepts.
        expected: &'static str,
        /// The value that was found, as a number.
        found: u64,
    },
    /// A string that must be UTF-8 (or US-ASCII) was not.
    #[error("{what} is not valid {expected}")]
    InvalidText {
        /// What was being read.
        what: &'static str,
        /// "UTF-8" or "US-ASCII".
        expected: &'static str,
    },
    /// A name-list broke the rules of RFC 4251 §5.
    #[error("invalid name-list: {reason}")]
    InvalidNameList {
        /// Which rule was broken.
        reason: &'static str,
    },
    /// Bytes were left over after a message was fully decoded.
    #[error("{count} trailing bytes after {what}")]
    TrailingData {
        /// The message that was decoded.
        what: &'static str,
        /// How many bytes were left.
        count: usize,
    },
    /// The payload was empty: there is no message number.
    #[error("empty payload: no message number")]
    EmptyPayload,
    /// A message number arrived where a different message was required.
    #[error("unexpected message {found}, expected {expected}")]
    UnexpectedMessage {
        /// The message the caller asked for.
        expected: &'static str,
        /// The number that was found.
        found: u8,
    },
}
