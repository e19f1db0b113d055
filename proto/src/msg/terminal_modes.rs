//! Encoded terminal modes of a `pty-req` (RFC 4254 §8).

use crate::{Reader, Result, Writer};
use alloc::vec::Vec;

/// Opcodes of the encoded terminal modes (RFC 4254 §8, and RFC 8160 for
/// `IUTF8`).
pub mod opcode {
    /// Indicates end of options.
    pub const TTY_OP_END: u8 = 0;
    /// Interrupt character; 255 if none.
    pub const VINTR: u8 = 1;
    /// The quit character (sends SIGQUIT signal on POSIX systems).
    pub const VQUIT: u8 = 2;
    /// Erase the character to left of the cursor.
    pub const VERASE: u8 = 3;
    /// Kill the current input line.
    pub const VKILL: u8 = 4;
    /// End-of-file character (sends EOF from the terminal).
    pub const VEOF: u8 = 5;
    /// End-of-line character in addition to carriage return and/or linefeed.
    pub const VEOL: u8 = 6;
    /// Additional end-of-line character.
    pub const VEOL2: u8 = 7;
    /// Continues paused output (normally control-Q).
    pub const VSTART: u8 = 8;
    /// Pauses output (normally control-S).
    pub const VSTOP: u8 = 9;
    /// Suspends the current program.
    pub const VSUSP: u8 = 10;
    /// Another suspend character.
    pub const VDSUSP: u8 = 11;
    /// Reprints the current input line.
    pub const VREPRINT: u8 = 12;
    /// Erases a word left of cursor.
    pub const VWERASE: u8 = 13;
    /// Enter the next character typed literally, even if it is a special
    /// character.
    pub const VLNEXT: u8 = 14;
    /// Character to flush output.
    pub const VFLUSH: u8 = 15;
    /// Switch to a different shell layer.
    pub const VSWTCH: u8 = 16;
    /// Prints system status line (load, command, pid, etc).
    pub const VSTATUS: u8 = 17;
    /// Toggles the flushing of terminal output.
    pub const VDISCARD: u8 = 18;
    /// The ignore parity flag. The parameter SHOULD be 0 if this flag is
    /// FALSE, and 1 if it is TRUE.
    pub const IGNPAR: u8 = 30;
    /// Mark parity and framing errors.
    pub const PARMRK: u8 = 31;
    /// Enable checking of parity errors.
    pub const INPCK: u8 = 32;
    /// Strip 8th bit off characters.
    pub const ISTRIP: u8 = 33;
    /// Map NL into CR on input.
    pub const INLCR: u8 = 34;
    /// Ignore CR on input.
    pub const IGNCR: u8 = 35;
    /// Map CR to NL on input.
    pub const ICRNL: u8 = 36;
    /// Translate uppercase characters to lowercase.
    pub const IUCLC: u8 = 37;
    /// Enable output flow control.
    pub const IXON: u8 = 38;
    /// Any char will restart after stop.
    pub const IXANY: u8 = 39;
    /// Enable input flow control.
    pub const IXOFF: u8 = 40;
    /// Ring bell on input queue full.
    pub const IMAXBEL: u8 = 41;
    /// Terminal input and output is assumed to be encoded in UTF-8
    /// (RFC 8160).
    pub const IUTF8: u8 = 42;
    /// Enable signals INTR, QUIT, \[D\]SUSP.
    pub const ISIG: u8 = 50;
    /// Canonicalize input lines.
    pub const ICANON: u8 = 51;
    /// Enable input and output of uppercase characters by preceding their
    /// lowercase equivalents with "\\".
    pub const XCASE: u8 = 52;
    /// Enable echoing.
    pub const ECHO: u8 = 53;
    /// Visually erase chars.
    pub const ECHOE: u8 = 54;
    /// Kill character discards current line.
    pub const ECHOK: u8 = 55;
    /// Echo NL even if ECHO is off.
    pub const ECHONL: u8 = 56;
    /// Don't flush after interrupt.
    pub const NOFLSH: u8 = 57;
    /// Stop background jobs from output.
    pub const TOSTOP: u8 = 58;
    /// Enable extensions.
    pub const IEXTEN: u8 = 59;
    /// Echo control characters as ^(Char).
    pub const ECHOCTL: u8 = 60;
    /// Visual erase for line kill.
    pub const ECHOKE: u8 = 61;
    /// Retype pending input.
    pub const PENDIN: u8 = 62;
    /// Enable output processing.
    pub const OPOST: u8 = 70;
    /// Convert lowercase to uppercase.
    pub const OLCUC: u8 = 71;
    /// Map NL to CR-NL.
    pub const ONLCR: u8 = 72;
    /// Translate carriage return to newline (output).
    pub const OCRNL: u8 = 73;
    /// Translate newline to carriage return-newline (output).
    pub const ONOCR: u8 = 74;
    /// Newline performs a carriage return (output).
    pub const ONLRET: u8 = 75;
    /// 7 bit mode.
    pub const CS7: u8 = 90;
    /// 8 bit mode.
    pub const CS8: u8 = 91;
    /// Parity enable.
    pub const PARENB: u8 = 92;
    /// Odd parity, else even.
    pub const PARODD: u8 = 93;
    /// Specifies the input baud rate in bits per second.
    pub const TTY_OP_ISPEED: u8 = 128;
    /// Specifies the output baud rate in bits per second.
    pub const TTY_OP_OSPEED: u8 = 129;

    /// Whether `op` is an opcode that carries a uint32 argument (1..=159).
    /// 0 ends the list; 160..=255 are undefined and stop parsing.
    #[must_use]
    pub const fn takes_argument(op: u8) -> bool {
        op >= 1 && op <= 159
    }
}

/// The encoded terminal modes of a `pty-req`: (opcode, value) pairs in the
/// order they were given.
///
/// ```
/// use sekura_proto::msg::{TerminalModes, opcode};
///
/// let mut modes = TerminalModes::new();
/// modes.set(opcode::VINTR, 3);
/// modes.set(opcode::ECHO, 1);
/// assert_eq!(modes.to_bytes(), [1, 0, 0, 0, 3, 53, 0, 0, 0, 1, 0]);
/// let back = TerminalModes::parse(&modes.to_bytes()).unwrap();
/// assert_eq!(back.get(opcode::ECHO), Some(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TerminalModes {
    modes: Vec<(u8, u32)>,
}

impl TerminalModes {
    /// No modes: the client asks for the server's defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `opcode` to `value`, replacing an earlier value.
    ///
    /// Returns `false`, and stores nothing, when `opcode` cannot carry a
    /// value (`TTY_OP_END` or 160..=255).
    pub fn set(&mut self, opcode: u8, value: u32) -> bool {
        if !opcode::takes_argument(opcode) {
            return false;
        }
        if let Some(slot) = self.modes.iter_mut().find(|(op, _)| *op == opcode) {
            slot.1 = value;
        } else {
            self.modes.push((opcode, value));
        }
        true
    }

    /// The value of `opcode`; if the peer sent it more than once, the last
    /// one (which is the one a terminal would end up with).
    #[must_use]
    pub fn get(&self, opcode: u8) -> Option<u32> {
        self.modes
            .iter()
            .rev()
            .find(|(op, _)| *op == opcode)
            .map(|&(_, v)| v)
    }

    /// The (opcode, value) pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (u8, u32)> + '_ {
        self.modes.iter().copied()
    }

    /// How many pairs there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.modes.len()
    }

    /// Whether there are no pairs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.modes.is_empty()
    }

    /// Parses the contents of the encoded terminal modes string.
    ///
    /// Parsing stops at `TTY_OP_END`, at the end of the input (some clients
    /// omit `TTY_OP_END`), or at an opcode of 160 or more, whose argument
    /// format is unknown (RFC 4254 §8); whatever follows is ignored. A pair
    /// cut short is an error.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let mut modes = Vec::new();
        while !r.is_empty() {
            let op = r.u8()?;
            if !opcode::takes_argument(op) {
                break;
            }
            modes.push((op, r.u32()?));
        }
        Ok(TerminalModes { modes })
    }

    /// The encoded terminal modes string's contents, `TTY_OP_END` included.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        out
    }

    /// Length of [`TerminalModes::to_bytes`].
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.modes.len().saturating_mul(5).saturating_add(1)
    }

    /// Writes the contents (without a length).
    pub(crate) fn write_to<W: Writer + ?Sized>(&self, w: &mut W) {
        for &(op, value) in &self.modes {
            w.put_u8(op);
            w.put_u32(value);
        }
        w.put_u8(opcode::TTY_OP_END);
    }

    /// Writes the modes as an SSH `string`, without a scratch buffer.
    pub(crate) fn put_string<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u32(u32::try_from(self.encoded_len()).unwrap_or(u32::MAX));
        self.write_to(w);
    }
}

impl FromIterator<(u8, u32)> for TerminalModes {
    /// Collects pairs with [`TerminalModes::set`]: invalid opcodes are
    /// dropped, a repeated opcode keeps its last value.
    fn from_iter<I: IntoIterator<Item = (u8, u32)>>(iter: I) -> Self {
        let mut modes = TerminalModes::new();
        for (op, value) in iter {
            modes.set(op, value);
        }
        modes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::opcode::*;
    use super::*;

    #[test]
    fn parse_stops_where_the_rfc_says() {
        let modes = TerminalModes::parse(&[VINTR, 0, 0, 0, 3, TTY_OP_END, 9, 9]).unwrap();
        assert_eq!(modes.iter().collect::<Vec<_>>(), [(VINTR, 3)]);
        let modes = TerminalModes::parse(&[ECHO, 0, 0, 0, 1, 160, 1, 2]).unwrap();
        assert_eq!(modes.iter().collect::<Vec<_>>(), [(ECHO, 1)]);
        assert!(TerminalModes::parse(&[]).unwrap().is_empty());
        assert!(TerminalModes::parse(&[ECHO, 0, 0]).is_err());
    }

    #[test]
    fn set_replaces_and_rejects() {
        let mut modes = TerminalModes::new();
        assert!(modes.set(TTY_OP_ISPEED, 38400));
        assert!(modes.set(TTY_OP_ISPEED, 9600));
        assert!(!modes.set(TTY_OP_END, 1));
        assert!(!modes.set(200, 1));
        assert_eq!(modes.len(), 1);
        assert_eq!(modes.get(TTY_OP_ISPEED), Some(9600));
        assert_eq!(modes.get(TTY_OP_OSPEED), None);
        assert_eq!(modes.to_bytes(), [128, 0, 0, 0x25, 0x80, 0]);
    }

    #[test]
    fn repeated_opcode_last_wins() {
        let modes = TerminalModes::parse(&[ECHO, 0, 0, 0, 1, ECHO, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(modes.len(), 2);
        assert_eq!(modes.get(ECHO), Some(0));
    }
}
