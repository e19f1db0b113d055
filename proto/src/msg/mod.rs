//! One typed struct per SSH message, each with `encode` and `decode`.
//!
//! Every message struct implements [`Encode`] (which writes the message
//! number first) and has a `decode(payload)` that checks the message number,
//! reads the fields and rejects trailing bytes.

use crate::Writer;
use alloc::vec::Vec;

mod transport;

pub use transport::KexInit;

/// A message that can be written to the wire, message number first.
pub trait Encode {
    /// Writes the whole payload: message number, then fields.
    fn encode<W: Writer + ?Sized>(&self, w: &mut W);

    /// The payload as a fresh vector.
    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Reads the message number and checks it is `expected`.
pub(crate) fn expect_number(
    r: &mut crate::Reader<'_>,
    expected: u8,
    name: &'static str,
) -> crate::Result<()> {
    let found = r.u8().map_err(|_| crate::DecodeError::EmptyPayload)?;
    if found == expected {
        Ok(())
    } else {
        Err(crate::DecodeError::UnexpectedMessage {
            expected: name,
            found,
        })
    }
}
