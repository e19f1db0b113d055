//! Socket-like channels of the blocking API.

use super::Shared;
use crate::session_state::refused;
use crate::transport::ChannelId;
use sekura_proto::msg::{ChannelRequestKind, TerminalModes};
use std::io::{self, BufRead, Read, Write};
use std::net::Shutdown;
#[cfg(unix)]
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::sync::Arc;
#[cfg(unix)]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How a remote command ended by a signal (`exit-signal`, RFC 4254 §6.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitSignal {
    /// The signal name without `SIG`, e.g. `TERM`.
    pub signal: String,
    /// Whether it dumped core.
    pub core_dumped: bool,
    /// An explanation, possibly empty.
    pub message: String,
}

/// A channel of a session: `Read` and `Write` like a socket, with a
/// separate [`Stderr`] stream, requests (exec, shell, pty, ...), half-close
/// and the command's exit status.
///
/// Channels are `Send`: each may live in its own thread, and waiting on one
/// never blocks another. Dropping a channel closes it.
///
/// # Polling (unix)
///
/// A channel is also a file descriptor ([`AsFd`], [`AsRawFd`]), as
/// paramiko's `fileno()` was: hand it to `poll(2)`, `select(2)`, epoll,
/// `mio::unix::SourceFd` or `tokio::io::unix::AsyncFd` to wait on many
/// channels (and sockets) at once. It is readable exactly when a read of
/// the channel would not block: data is waiting on stdout or stderr, the
/// peer sent EOF or closed the channel, or the session is over. Readiness
/// is level-triggered and clears when a read takes the last waiting byte.
/// The descriptor is made on the first call (channels never polled pay
/// nothing), is shared by the handles of [`try_clone`](Self::try_clone),
/// lives as long as they do, and is non-blocking. It only signals: never
/// read from it or change its flags; read the channel itself.
///
/// ```no_run
/// use std::io::Read;
/// use std::os::fd::{AsRawFd, RawFd};
///
/// /// Stands for poll(2) with POLLIN, select(2), epoll, mio...: the
/// /// indices of the descriptors that are readable.
/// fn wait_readable(fds: &[RawFd]) -> Vec<usize> {
///     # let _ = fds;
///     unimplemented!()
/// }
///
/// # fn demo(mut channels: Vec<sekura::blocking::Channel>) -> std::io::Result<()> {
/// while !channels.is_empty() {
///     let fds: Vec<RawFd> = channels.iter().map(|c| c.as_raw_fd()).collect();
///     for i in wait_readable(&fds).into_iter().rev() {
///         // Ready: this read returns at once, with data or 0 at the end.
///         let mut buf = [0u8; 4096];
///         let n = channels[i].read(&mut buf)?;
///         if n == 0 {
///             // Stdout is over (a channel's stderr would be read too).
///             channels.remove(i);
///         }
///     }
/// }
/// # Ok(()) }
/// /// ```
pub struct Channel {
    shared: Arc<Shared>,
    id: ChannelId,
    /// The life of the number `id` this channel is (numbers are reused).
    generation: u64,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// Shared by the handles of one channel ([`Channel::try_clone`]): the
    /// last one dropped closes it.
    handles: Arc<Handles>,
}

/// What the handles of one channel share.
#[derive(Debug, Default)]
struct Handles {
    /// The descriptor for polling, made on the first `as_fd`.
    #[cfg(unix)]
    fd: OnceLock<UnixStream>,
    /// [`Channel::shutdown`] of the read half: reads return 0.
    read_shut: AtomicBool,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// The channel that has number `id` now.
    pub(crate) fn new(shared: Arc<Shared>, id: ChannelId) -> Self {
        let generation = shared.lock().generation(id);
        Channel {
            shared,
            id,
            generation,
            read_timeout: None,
            write_timeout: None,
            handles: Arc::new(Handles::default()),
        }
    }

    /// Another handle to the same channel, e.g. to write from one thread
    /// while another reads (as `TcpStream::try_clone`). The channel closes
    /// when the last handle is dropped, or at any handle's [`close`](Self::close).
    pub fn try_clone(&self) -> io::Result<Channel> {
        Ok(Channel {
            shared: self.shared.clone(),
            id: self.id,
            generation: self.generation,
            read_timeout: self.read_timeout,
            write_timeout: self.write_timeout,
            handles: self.handles.clone(),
        })
    }

    /// The channel's number on this side.
    #[must_use]
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// Makes reads give up with `TimedOut` after `timeout` (`None`: wait
    /// forever), as `TcpStream::set_read_timeout` does. A zero timeout makes
    /// reads non-blocking: `WouldBlock` when nothing is there.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// Sets the read and the write timeout at once (the seed's
    /// `settimeout`): `None` blocks, zero never blocks (`WouldBlock`).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
        self.write_timeout = timeout;
    }

    /// Makes writes give up with `TimedOut` after `timeout`.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) {
        self.write_timeout = timeout;
    }

    /// Sends a request and waits for the peer's answer; a refusal is an
    /// error naming the request.
    fn request(&self, request: &ChannelRequestKind<'_>) -> io::Result<()> {
        let (id, generation) = (self.id, self.generation);
        self.shared
            .with(|st| st.channel_request(id, generation, request, true))?;
        let granted = self
            .shared
            .wait(None, |st| st.take_request_reply(id, generation))?;
        if granted {
            Ok(())
        } else {
            Err(refused(request))
        }
    }

    /// Sends a request that expects no answer.
    fn notify(&self, request: &ChannelRequestKind<'_>) -> io::Result<()> {
        let (id, generation) = (self.id, self.generation);
        self.shared
            .with(|st| st.channel_request(id, generation, request, false))
    }

    /// Runs `command` on the server (`exec`).
    pub fn exec(&mut self, command: &str) -> io::Result<()> {
        self.request(&ChannelRequestKind::Exec {
            command: command.as_bytes(),
        })
    }

    /// Starts the user's shell (`shell`).
    pub fn shell(&mut self) -> io::Result<()> {
        self.request(&ChannelRequestKind::Shell)
    }

    /// Starts a subsystem, such as `sftp`.
    pub fn subsystem(&mut self, name: &str) -> io::Result<()> {
        self.request(&ChannelRequestKind::Subsystem { name })
    }

    /// Asks for a pseudo-terminal (`pty-req`) of `cols` x `rows`.
    pub fn request_pty(
        &mut self,
        term: &str,
        cols: u32,
        rows: u32,
        modes: TerminalModes,
    ) -> io::Result<()> {
        self.request(&ChannelRequestKind::PtyReq {
            term,
            cols,
            rows,
            width_px: 0,
            height_px: 0,
            modes,
        })
    }

    /// Sets an environment variable for the command or shell (`env`).
    pub fn set_env(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.request(&ChannelRequestKind::Env {
            name,
            value: value.as_bytes(),
        })
    }

    /// Tells the server the terminal was resized (`window-change`; no
    /// answer is expected).
    pub fn window_change(&mut self, cols: u32, rows: u32) -> io::Result<()> {
        self.notify(&ChannelRequestKind::WindowChange {
            cols,
            rows,
            width_px: 0,
            height_px: 0,
        })
    }

    /// Server side: reports the command's exit status (`exit-status`).
    pub fn send_exit_status(&mut self, status: u32) -> io::Result<()> {
        self.notify(&ChannelRequestKind::ExitStatus { status })
    }

    /// The exit status, if the peer has sent it.
    #[must_use]
    pub fn exit_status(&self) -> Option<u32> {
        self.shared
            .lock()
            .channel(self.id, self.generation)
            .and_then(|c| c.exit_status)
    }

    /// The signal that ended the command, if the peer sent one.
    #[must_use]
    pub fn exit_signal(&self) -> Option<ExitSignal> {
        self.shared
            .lock()
            .channel(self.id, self.generation)
            .and_then(|c| c.exit_signal.clone())
    }

    /// Waits until the peer closes the channel, then returns the exit status
    /// it sent (`None` when it sent none, e.g. the command died of a
    /// signal: see [`exit_signal`](Self::exit_signal)).
    pub fn wait_exit_status(&self) -> io::Result<Option<u32>> {
        let (id, generation) = (self.id, self.generation);
        self.shared
            .wait(None, |st| st.finished_exit_status(id, generation))
    }

    fn read_stream(&self, buf: &mut [u8], stderr: bool) -> io::Result<usize> {
        read_stream(
            &self.shared,
            (self.id, self.generation),
            self.read_timeout,
            buf,
            stderr,
        )
    }

    /// Reads from the stderr stream (extended data).
    pub fn read_stderr(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_stream(buf, true)
    }

    /// A reader of the stderr stream, usable from another thread.
    #[must_use]
    pub fn stderr(&self) -> Stderr {
        Stderr {
            shared: self.shared.clone(),
            id: self.id,
            generation: self.generation,
            read_timeout: self.read_timeout,
        }
    }

    /// Sends as much of `data` as the peer's window allows, blocking until
    /// there is room for at least one byte; returns how much was sent.
    fn send_stream(&self, data: &[u8], stderr: bool) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let (id, generation) = (self.id, self.generation);
        self.shared.wait(self.write_timeout, |st| {
            st.try_send(id, generation, data, stderr)
        })
    }

    /// Writes to the peer's stderr stream (server side).
    pub fn write_stderr(&mut self, data: &[u8]) -> io::Result<usize> {
        self.send_stream(data, true)
    }

    /// Sends as much of `data` as the peer's window allows, waiting (up to
    /// the write timeout) until at least one byte can go; returns how much
    /// went (the seed's `send`; the same as [`Write::write`]).
    pub fn send(&mut self, data: &[u8]) -> io::Result<usize> {
        self.send_stream(data, false)
    }

    /// Receives what has arrived, waiting (up to the read timeout) for at
    /// least one byte; 0 at the end of the stream (the seed's `recv`; the
    /// same as [`Read::read`]).
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf)
    }

    /// Writes all of `data`, as `Write::write_all` does.
    pub fn send_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = self.send_stream(data, false)?;
            data = data.get(n..).unwrap_or_default();
        }
        Ok(())
    }

    /// Shuts down the reading half, the writing half (sends EOF: the
    /// half-close of RFC 4254 §5.3) or both (closes the channel).
    pub fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        let (id, generation) = (self.id, self.generation);
        match how {
            // Nothing to tell the peer (SSH has no read half-close): reads
            // end here, as a socket's do after `shutdown(Read)`, and what
            // still arrives is left unread.
            Shutdown::Read => {
                self.handles.read_shut.store(true, Ordering::Relaxed);
                Ok(())
            }
            Shutdown::Write => self.shared.with(|st| st.channel_eof(id, generation)),
            Shutdown::Both => self.close(),
        }
    }

    /// Closes the channel (both directions).
    pub fn close(&mut self) -> io::Result<()> {
        let (id, generation) = (self.id, self.generation);
        self.shared.with(|st| st.close_channel(id, generation));
        Ok(())
    }

    /// The descriptor for polling (see [Polling](Self#polling-unix)),
    /// made on the first call. [`AsFd::as_fd`] is the same but panics
    /// when the descriptor cannot be made (out of file descriptors).
    #[cfg(unix)]
    pub fn poll_fd(&self) -> io::Result<BorrowedFd<'_>> {
        if self.handles.fd.get().is_none() {
            let id = self.id;
            let mut state = self.shared.lock();
            // Under the session's mutex: one handle makes it, and no state
            // change can slip between computing its readiness and the
            // session signalling it.
            if self.handles.fd.get().is_none() {
                let fd = state.poll_channel(id)?;
                // Cannot be taken: every setter holds the session's mutex.
                let _ = self.handles.fd.set(fd);
            }
        }
        self.handles
            .fd
            .get()
            .map(AsFd::as_fd)
            .ok_or_else(|| io::Error::other("the channel's descriptor was not made"))
    }

    /// A buffered reader over the channel whose lines end at `\n`, `\r\n`
    /// or a lone `\r` (the seed's `makefile` with universal newlines).
    #[must_use]
    pub fn lines_reader(self) -> LineReader<Channel> {
        LineReader::new(self)
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        if Arc::strong_count(&self.handles) == 1 {
            let (id, generation) = (self.id, self.generation);
            self.shared.with(|st| st.release_channel(id, generation));
        }
    }
}

#[cfg(unix)]
impl AsFd for Channel {
    /// The descriptor for polling: see [Polling](Channel#polling-unix).
    ///
    /// # Panics
    ///
    /// When the descriptor cannot be made (the process is out of file
    /// descriptors); [`Channel::poll_fd`] reports that as an error instead.
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self.poll_fd() {
            Ok(fd) => fd,
            Err(e) => panic!("cannot make the channel's descriptor: {e}"),
        }
    }
}

#[cfg(unix)]
impl AsRawFd for Channel {
    /// The descriptor for polling: see [Polling](Channel#polling-unix).
    ///
    /// # Panics
    ///
    /// As [`AsFd::as_fd`].
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.handles.read_shut.load(Ordering::Relaxed) {
            return Ok(0);
        }
        self.read_stream(buf, false)
    }
}

impl Write for Channel {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.send_stream(data, false)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Data is handed to the writer thread as it is written.
        Ok(())
    }
}

/// Reads stdout or stderr of a channel (number and generation), blocking
/// as `timeout` says (zero: not at all); 0 at the end of the stream.
fn read_stream(
    shared: &Shared,
    (id, generation): (ChannelId, u64),
    timeout: Option<Duration>,
    buf: &mut [u8],
    stderr: bool,
) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    let nonblocking = timeout == Some(Duration::ZERO);
    shared.wait(if nonblocking { None } else { timeout }, |st| {
        match st.try_read(id, generation, buf, stderr) {
            None if nonblocking => Some(Err(io::Error::from(io::ErrorKind::WouldBlock))),
            result => result,
        }
    })
}

/// The stderr stream of a [`Channel`], readable from another thread.
pub struct Stderr {
    shared: Arc<Shared>,
    id: ChannelId,
    generation: u64,
    read_timeout: Option<Duration>,
}

impl std::fmt::Debug for Stderr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stderr")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Read for Stderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_stream(
            &self.shared,
            (self.id, self.generation),
            self.read_timeout,
            buf,
            true,
        )
    }
}

/// A buffered reader whose [`read_line`](LineReader::read_line) accepts
/// `\n`, `\r\n` and `\r` as line ends, returning lines with a plain `\n`.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: io::BufReader<R>,
    /// The last line ended with `\r`: a `\n` right after belongs to it.
    after_cr: bool,
}

impl<R: Read> LineReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        LineReader {
            inner: io::BufReader::new(inner),
            after_cr: false,
        }
    }

    /// Reads one line into `line` (appending), its end normalized to `\n`;
    /// returns the bytes consumed from the stream, 0 at the end.
    pub fn read_line(&mut self, line: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        let mut consumed = 0;
        loop {
            let buf = self.inner.fill_buf()?;
            let Some(&first) = buf.first() else {
                break;
            };
            if self.after_cr {
                self.after_cr = false;
                if first == b'\n' {
                    self.inner.consume(1);
                    consumed += 1;
                    continue;
                }
            }
            let end = buf.iter().position(|&b| b == b'\n' || b == b'\r');
            match end {
                Some(i) => {
                    bytes.extend_from_slice(buf.get(..i).unwrap_or_default());
                    self.after_cr = buf.get(i) == Some(&b'\r');
                    self.inner.consume(i + 1);
                    consumed += i + 1;
                    bytes.push(b'\n');
                    break;
                }
                None => {
                    let n = buf.len();
                    bytes.extend_from_slice(buf);
                    self.inner.consume(n);
                    consumed += n;
                }
            }
        }
        if bytes.is_empty() {
            // Only the \n of a \r\n that ended the last line: the end.
            return Ok(0);
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "line is not UTF-8"))?;
        line.push_str(&text);
        Ok(consumed)
    }

    /// The lines, without their ends.
    pub fn lines(mut self) -> impl Iterator<Item = io::Result<String>> {
        std::iter::from_fn(move || {
            let mut line = String::new();
            match self.read_line(&mut line) {
                Ok(0) => None,
                Ok(_) => {
                    if line.ends_with('\n') {
                        line.pop();
                    }
                    Some(Ok(line))
                }
                Err(e) => Some(Err(e)),
            }
        })
    }

    /// The reader inside.
    pub fn into_inner(self) -> R {
        self.inner.into_inner()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn universal_newlines() {
        let input: &[u8] = b"unix\nwindows\r\nmac\rmixed\r\n\rlast";
        let lines: Vec<String> = LineReader::new(input).lines().map(Result::unwrap).collect();
        assert_eq!(lines, ["unix", "windows", "mac", "mixed", "", "last"]);
        // A \r\n split across reads is still one line end.
        struct Trickle(&'static [u8]);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match (self.0.split_first(), buf.first_mut()) {
                    (Some((&b, rest)), Some(slot)) => {
                        *slot = b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let lines: Vec<String> = LineReader::new(Trickle(b"a\r\nb\r\n"))
            .lines()
            .map(Result::unwrap)
            .collect();
        assert_eq!(lines, ["a", "b"]);
    }
}
