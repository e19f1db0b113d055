//! Channels of the async API: tokio `AsyncRead`/`AsyncWrite` streams.

use super::Shared;
use crate::blocking::ExitSignal;
use crate::session_state::refused;
use crate::transport::ChannelId;
use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use sekura_proto::msg::{ChannelRequestKind, TerminalModes};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// One channel's hold on its session; the channel is closed when the last
/// holder (channel, halves, stderr stream) is dropped.
pub(crate) struct Handle {
    shared: Arc<Shared>,
    id: ChannelId,
    /// The life of the number `id` this handle belongs to.
    generation: u64,
}

impl Handle {
    /// A handle of the channel that has number `id` now.
    pub(crate) fn new(shared: Arc<Shared>, id: ChannelId) -> Self {
        let generation = shared.lock().generation(id);
        Handle {
            shared,
            id,
            generation,
        }
    }

    fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        stderr: bool,
    ) -> Poll<io::Result<()>> {
        let (id, generation) = (self.id, self.generation);
        let read = self.shared.poll_ready(cx, |st| {
            st.try_read(id, generation, buf.initialize_unfilled(), stderr)
        });
        match read {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_write(
        &self,
        cx: &mut Context<'_>,
        data: &[u8],
        stderr: bool,
    ) -> Poll<io::Result<usize>> {
        let (id, generation) = (self.id, self.generation);
        self.shared
            .poll_ready(cx, |st| st.try_send(id, generation, data, stderr))
    }

    fn eof(&self) -> io::Result<()> {
        let (id, generation) = (self.id, self.generation);
        self.shared.with(|st| st.channel_eof(id, generation))
    }

    fn exit_signal(&self) -> Option<ExitSignal> {
        self.shared
            .lock()
            .channel(self.id, self.generation)
            .and_then(|c| c.exit_signal.clone())
    }

    async fn exit_status(&self) -> io::Result<Option<u32>> {
        let (id, generation) = (self.id, self.generation);
        self.shared
            .wait(|st| st.finished_exit_status(id, generation))
            .await
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let (id, generation) = (self.id, self.generation);
        self.shared.with(|st| st.release_channel(id, generation));
    }
}

/// A channel of an async session: tokio [`AsyncRead`] and [`AsyncWrite`]
/// for its data, a separate [`Stderr`] stream, requests (exec, shell,
/// pty, ...), half-close ([`AsyncWriteExt::shutdown`](::tokio::io::AsyncWriteExt::shutdown)
/// sends EOF) and the command's exit status.
///
/// [`split`](Self::split) gives a read half and a write half that can live
/// in different tasks. The channel closes when the last of the channel,
/// its halves and its [`Stderr`] streams is dropped, or at
/// [`close`](Self::close).
///
/// Reading is backpressure: data the application has not read stays in
/// the channel, up to the window sekura granted, and the peer may send
/// more only as it is read. A slow reader stops its own channel, no other.
pub struct Channel {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("id", &self.handle.id)
            .finish_non_exhaustive()
    }
}

/// Tells the session, if a request's future is dropped before its answer,
/// to skip that answer when it comes.
struct PendingReply<'a> {
    handle: &'a Handle,
    armed: bool,
}

impl Drop for PendingReply<'_> {
    fn drop(&mut self) {
        if self.armed {
            let (id, generation) = (self.handle.id, self.handle.generation);
            self.handle.shared.with(|st| {
                if let Some(state) = st.channel(id, generation) {
                    state.discard_replies += 1;
                }
            });
        }
    }
}

impl Channel {
    pub(crate) fn from_handle(handle: Handle) -> Self {
        Channel {
            handle: Arc::new(handle),
        }
    }

    pub(crate) fn new(shared: Arc<Shared>, id: ChannelId) -> Self {
        Channel::from_handle(Handle::new(shared, id))
    }

    /// Another hold on the same channel (which stays open while either
    /// lives).
    pub(crate) fn share(&self) -> Channel {
        Channel {
            handle: self.handle.clone(),
        }
    }

    /// The channel's number on this side.
    #[must_use]
    pub fn id(&self) -> ChannelId {
        self.handle.id
    }

    /// Sends a request and waits for the peer's answer; a refusal is an
    /// error naming the request. Requests take `&mut self`, so one waits
    /// at a time and answers (which come in order) go to the right one.
    async fn request(&mut self, request: &ChannelRequestKind<'_>) -> io::Result<()> {
        let handle = &*self.handle;
        let id = handle.id;
        let generation = handle.generation;
        handle
            .shared
            .with(|st| st.channel_request(id, generation, request, true))?;
        let mut pending = PendingReply {
            handle,
            armed: true,
        };
        let granted = handle
            .shared
            .wait(|st| st.take_request_reply(id, generation))
            .await;
        pending.armed = false;
        if granted? {
            Ok(())
        } else {
            Err(refused(request))
        }
    }

    /// Sends a request that expects no answer.
    fn notify(&self, request: &ChannelRequestKind<'_>) -> io::Result<()> {
        let (id, generation) = (self.handle.id, self.handle.generation);
        self.handle
            .shared
            .with(|st| st.channel_request(id, generation, request, false))
    }

    /// Runs `command` on the server (`exec`).
    pub async fn exec(&mut self, command: &str) -> io::Result<()> {
        self.request(&ChannelRequestKind::Exec {
            command: command.as_bytes(),
        })
        .await
    }

    /// Starts the user's shell (`shell`).
    pub async fn shell(&mut self) -> io::Result<()> {
        self.request(&ChannelRequestKind::Shell).await
    }

    /// Starts a subsystem, such as `sftp`.
    pub async fn subsystem(&mut self, name: &str) -> io::Result<()> {
        self.request(&ChannelRequestKind::Subsystem { name }).await
    }

    /// Asks for a pseudo-terminal (`pty-req`) of `cols` x `rows`.
    pub async fn request_pty(
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
        .await
    }

    /// Sets an environment variable for the command or shell (`env`).
    pub async fn set_env(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.request(&ChannelRequestKind::Env {
            name,
            value: value.as_bytes(),
        })
        .await
    }

    /// Tells the server the terminal was resized (`window-change`).
    pub fn window_change(&self, cols: u32, rows: u32) -> io::Result<()> {
        self.notify(&ChannelRequestKind::WindowChange {
            cols,
            rows,
            width_px: 0,
            height_px: 0,
        })
    }

    /// Server side: reports the command's exit status (`exit-status`).
    pub fn send_exit_status(&self, status: u32) -> io::Result<()> {
        self.notify(&ChannelRequestKind::ExitStatus { status })
    }

    /// Waits until the peer sends the exit status or closes the channel:
    /// the status, or `None` when it sent none (e.g. the command died of a
    /// signal: see [`exit_signal`](Self::exit_signal)).
    pub async fn exit_status(&self) -> io::Result<Option<u32>> {
        self.handle.exit_status().await
    }

    /// The signal that ended the command, if the peer sent one.
    #[must_use]
    pub fn exit_signal(&self) -> Option<ExitSignal> {
        self.handle.exit_signal()
    }

    /// The stderr stream: reads the peer's stderr (extended data), and on a
    /// server writes to the client's.
    #[must_use]
    pub fn stderr(&self) -> Stderr {
        Stderr {
            handle: self.handle.clone(),
        }
    }

    /// Sends EOF: we will write no more (the half-close of RFC 4254 §5.3);
    /// reading goes on. [`AsyncWriteExt::shutdown`](::tokio::io::AsyncWriteExt::shutdown)
    /// does the same.
    pub fn eof(&self) -> io::Result<()> {
        self.handle.eof()
    }

    /// Closes the channel (both directions) and waits until the peer has
    /// closed it too.
    pub async fn close(self) -> io::Result<()> {
        let (id, generation) = (self.handle.id, self.handle.generation);
        let shared = &self.handle.shared;
        shared.with(|st| st.close_channel(id, generation));
        shared
            .wait(|st| {
                st.channel(id, generation)
                    .is_none_or(|c| c.closed)
                    .then_some(Ok(()))
            })
            .await
    }

    /// Splits the channel into a read half and a write half, each usable
    /// from its own task.
    #[must_use]
    pub fn split(self) -> (ReadHalf, WriteHalf) {
        (
            ReadHalf {
                handle: self.handle.clone(),
            },
            WriteHalf {
                handle: self.handle,
            },
        )
    }
}

/// The reading half of a [`Channel`] (see [`Channel::split`]).
pub struct ReadHalf {
    handle: Arc<Handle>,
}

impl ReadHalf {
    /// Waits for the exit status, as [`Channel::exit_status`].
    pub async fn exit_status(&self) -> io::Result<Option<u32>> {
        self.handle.exit_status().await
    }

    /// The stderr stream, as [`Channel::stderr`].
    #[must_use]
    pub fn stderr(&self) -> Stderr {
        Stderr {
            handle: self.handle.clone(),
        }
    }
}

/// The writing half of a [`Channel`] (see [`Channel::split`]); its
/// `shutdown` sends EOF.
pub struct WriteHalf {
    handle: Arc<Handle>,
}

/// The stderr stream of a channel: [`AsyncRead`] of what the peer writes
/// to its stderr, and [`AsyncWrite`] to the peer's stderr (a server
/// writing to the client's). Keeps the channel open while it lives.
pub struct Stderr {
    handle: Arc<Handle>,
}

/// `AsyncRead` of a holder's stdout (`false`) or stderr (`true`) stream.
macro_rules! async_read {
    ($holder:ty, $stderr:expr) => {
        impl AsyncRead for $holder {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                self.handle.poll_read(cx, buf, $stderr)
            }
        }
    };
}

/// `AsyncWrite` to a holder's stdout (`false`: `shutdown` sends EOF) or
/// stderr (`true`: the stream ends with the channel's EOF) stream. Written
/// data is handed to the driver task at once: flushing has nothing to do.
macro_rules! async_write {
    ($holder:ty, $stderr:expr) => {
        impl AsyncWrite for $holder {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                data: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.handle.poll_write(cx, data, $stderr)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(if $stderr { Ok(()) } else { self.handle.eof() })
            }
        }
    };
}

async_read!(Channel, false);
async_write!(Channel, false);
async_read!(ReadHalf, false);
async_write!(WriteHalf, false);
async_read!(Stderr, true);
async_write!(Stderr, true);
