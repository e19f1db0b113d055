//! The driver task of an async session: the only code that touches the
//! stream and the clock.
//!
//! It is written as one hand-rolled `poll` rather than a `select!` loop
//! so that no read or write is ever cancelled half-done: each turn reads
//! what is there, writes what it can, fires a due timer, and registers its
//! waker (under the session's lock, so no change can slip by unseen)
//! before it sleeps.

use super::Shared;
use crate::transport::Error;
use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::time::{Instant, Sleep};
use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// How much one read takes from the stream at most.
const READ_SIZE: usize = 64 * 1024;

/// Past this capacity, the output buffer is given back once drained, so
/// an idle connection does not keep the memory of its largest burst.
const KEEP_OUTPUT_CAPACITY: usize = 64 * 1024;

thread_local! {
    /// The read buffer, one per runtime thread rather than one per
    /// connection: received bytes are handed to the connection within the
    /// same synchronous poll, so 10,000 idle connections cost no read
    /// buffers at all.
    static READ_BUFFER: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; READ_SIZE].into_boxed_slice());
}

/// Runs a session's I/O until the connection is over and its last bytes
/// are written.
pub(super) async fn drive<S>(shared: Arc<Shared>, stream: S)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let mut driver = Driver {
        shared,
        stream: Box::pin(stream),
        output: Vec::new(),
        written: 0,
        unflushed: false,
        read_done: false,
        timer: Box::pin(::tokio::time::sleep(Duration::ZERO)),
        timer_at: None,
        started: Instant::now(),
    };
    poll_fn(|cx| driver.poll(cx)).await;
    tracing::debug!("session driver finished");
}

struct Driver<S> {
    shared: Arc<Shared>,
    stream: Pin<Box<S>>,
    /// Bytes being written, taken from the connection's output.
    output: Vec<u8>,
    written: usize,
    /// Bytes were written since the stream last finished a flush.
    unflushed: bool,
    /// The stream reached its end or failed.
    read_done: bool,
    timer: Pin<Box<Sleep>>,
    /// The connection time the timer is set for.
    timer_at: Option<Duration>,
    /// The connection's time zero, on tokio's clock.
    started: Instant,
}

impl<S: AsyncRead + AsyncWrite> Driver<S> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let mut progress = self.poll_read(cx);
            match self.poll_write(cx) {
                Poll::Ready(Ok(wrote)) => progress |= wrote,
                Poll::Ready(Err(())) => return Poll::Ready(()),
                Poll::Pending => {}
            }
            progress |= self.poll_timer(cx);
            let mut state = self.shared.lock();
            if state.is_over() && state.out.is_empty() && self.written == self.output.len() {
                drop(state);
                // Best effort: the peer learns the stream is over.
                let _ = self.stream.as_mut().poll_shutdown(cx);
                return Poll::Ready(());
            }
            // Sleep unless output came in that we have not tried to write:
            // with our own output still half-written the stream's waker is
            // set, and new output waits behind it.
            let blocked_on_write = self.written < self.output.len();
            if !progress && (state.out.is_empty() || blocked_on_write) {
                // Registered under the lock that every change takes, so a
                // change after this point wakes us.
                state.set_driver(cx.waker());
                return Poll::Pending;
            }
        }
    }

    /// Changes the state as the driver: wakes the waiting tasks, not
    /// itself.
    fn update(&self, f: impl FnOnce(&mut crate::session_state::State)) {
        let mut state = self.shared.lock();
        f(&mut state);
        state.sync();
        state.wake_tasks();
    }

    /// Reads once; `true` if anything happened.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> bool {
        if self.read_done {
            return false;
        }
        READ_BUFFER.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            let mut buf = ReadBuf::new(&mut buffer[..]);
            match self.stream.as_mut().poll_read(cx, &mut buf) {
                Poll::Pending => false,
                Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    self.read_done = true;
                    self.update(|st| st.eof = true);
                    true
                }
                Poll::Ready(Ok(())) => {
                    let data = buf.filled();
                    self.update(|st| {
                        if let Err(e) = st.conn.handle_input(data) {
                            st.ended.get_or_insert(e);
                        }
                    });
                    true
                }
                Poll::Ready(Err(e)) => {
                    self.read_done = true;
                    self.update(|st| {
                        st.ended
                            .get_or_insert(Error::Closed(format!("read failed: {e}")));
                    });
                    true
                }
            }
        })
    }

    /// Writes what it can; `Ok(true)` if anything was written, `Err` when
    /// the stream failed (the session is then over).
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, ()>> {
        let mut wrote = false;
        loop {
            if self.written == self.output.len() {
                let mut state = self.shared.lock();
                if state.out.is_empty() {
                    break;
                }
                self.output.clear();
                if self.output.capacity() > KEEP_OUTPUT_CAPACITY {
                    self.output = Vec::new();
                }
                std::mem::swap(&mut self.output, &mut state.out);
                self.written = 0;
            }
            let pending = self.output.get(self.written..).unwrap_or_default();
            match self.stream.as_mut().poll_write(cx, pending) {
                Poll::Ready(Ok(0)) => return self.write_failed("the stream accepts no more bytes"),
                Poll::Ready(Ok(n)) => {
                    self.written += n;
                    wrote = true;
                }
                Poll::Ready(Err(e)) => return self.write_failed(&e.to_string()),
                Poll::Pending => return Poll::Pending,
            }
        }
        // A buffering stream (TLS, a `BufWriter`) holds written bytes until
        // flushed: flush until it says done.
        self.unflushed |= wrote;
        if self.unflushed {
            match self.stream.as_mut().poll_flush(cx) {
                Poll::Ready(Err(e)) => return self.write_failed(&e.to_string()),
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Pending => {}
            }
        }
        Poll::Ready(Ok(wrote))
    }

    fn write_failed(&mut self, why: &str) -> Poll<Result<bool, ()>> {
        self.update(|st| {
            st.ended
                .get_or_insert(Error::Closed(format!("write failed: {why}")));
        });
        Poll::Ready(Err(()))
    }

    /// Fires the connection's timer when due, and sets tokio's timer for
    /// the next deadline; `true` if it fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let now = self.started.elapsed();
        let deadline = self.shared.lock().conn.poll_timeout();
        let Some(deadline) = deadline else {
            self.timer_at = None;
            return false;
        };
        if deadline <= now {
            self.update(|st| {
                if let Err(e) = st.conn.handle_timeout(now) {
                    st.ended.get_or_insert(e);
                }
            });
            return true;
        }
        if self.timer_at != Some(deadline) {
            self.timer_at = Some(deadline);
            self.timer.as_mut().reset(self.started + deadline);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.timer_at = None;
            return true;
        }
        false
    }
}
