//! Pollable channels (unix): a socketpair whose reading end is readable
//! exactly when a read of the channel would not block.
//!
//! The session keeps, per polled channel, the writing end and a second
//! handle on the reading end. After every change of the session's state
//! (under its mutex) it recomputes whether the channel is readable: when it
//! becomes so, one byte is written; when it stops being so (a read emptied
//! the buffers), the byte is read back. The application only ever sees the
//! reading end, and its readiness follows the channel's, level-triggered,
//! like a socket's. No `unsafe` is involved: `UnixStream::pair` makes the
//! descriptors and `try_clone` duplicates them.

use crate::transport::{ChannelId, Connection};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use super::ChannelState;

/// The session's side of one polled channel.
#[derive(Debug)]
pub(crate) struct Signal {
    /// Where the readiness byte is written.
    tx: UnixStream,
    /// The same socket as the application's descriptor, to take the byte
    /// back.
    rx: UnixStream,
    /// Whether the byte is in the socket now.
    raised: bool,
}

impl Signal {
    /// A new signal and the reading end to expose, both non-blocking (the
    /// descriptor shares its file status flags with `rx`), the signal
    /// lowered.
    pub(crate) fn new() -> io::Result<(Signal, UnixStream)> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        let exposed = rx.try_clone()?;
        Ok((
            Signal {
                tx,
                rx,
                raised: false,
            },
            exposed,
        ))
    }

    /// Makes the descriptor readable or not.
    pub(crate) fn set(&mut self, readable: bool) {
        if readable && !self.raised {
            // One byte into an empty socket buffer: cannot block. Should
            // it fail anyway, the descriptor stays unreadable and the next
            // change tries again.
            self.raised = matches!(self.tx.write(&[1]), Ok(1));
        } else if !readable && self.raised {
            self.drain();
            self.raised = false;
        }
    }

    /// Reads until nothing is left (non-blocking: stops at `WouldBlock`).
    fn drain(&mut self) {
        let mut buf = [0u8; 16];
        loop {
            match self.rx.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }
}

/// Whether a read of channel `id` (stdout or stderr) would return at once:
/// data is waiting, the peer sent EOF or closed the channel, or the session
/// is over.
pub(crate) fn readable(
    conn: &Connection,
    channels: &HashMap<ChannelId, ChannelState>,
    session_over: bool,
    id: ChannelId,
) -> bool {
    let (out, err) = conn.channel_pending(id);
    session_over
        || out > 0
        || err > 0
        || conn.channel_eof_received(id)
        || channels.get(&id).is_some_and(|c| c.closed)
}
