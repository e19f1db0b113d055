//! The blocking API: a [`Session`] over any byte stream, driven by two
//! background threads, with socket-like [`Channel`]s.
//!
//! A session owns a sans-I/O [`Connection`] behind a mutex. A reader thread
//! feeds it what the stream delivers; a writer thread sends what it
//! produces and keeps its timers (rekey, keepalive, login grace). The
//! application's calls (authenticate, open a channel, read, write) lock it
//! briefly and wait on a condition variable for what they need, so a
//! channel waiting for data never blocks another channel or thread.
//!
//! ```no_run
//! use sekura::blocking::{HostKeyCheck, Session};
//! use std::io::Read;
//!
//! # fn main() -> std::io::Result<()> {
//! let stream = std::net::TcpStream::connect("127.0.0.1:22")?;
//! // Checking the host key is mandatory: here a known fingerprint.
//! let check = HostKeyCheck::fingerprint("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8");
//! let session = Session::connect(stream, Default::default(), check)?;
//! session.authenticate_password("robey", "foo")?;
//! let mut channel = session.open_session()?;
//! channel.exec("echo hello")?;
//! let mut out = String::new();
//! channel.read_to_string(&mut out)?;
//! println!("{out} (exit status {:?})", channel.wait_exit_status()?);
//! # Ok(()) }
//! ```

mod channel;
#[cfg(unix)]
pub(crate) mod poll;
pub(crate) mod server;

pub use channel::{Channel, ExitSignal, Stderr};
pub use server::{AuthResult, Challenge, Pty, Server, ServerHandler, SessionRequest};

pub use crate::host_key_check::{HostKeyCallback, HostKeyCheck};
pub(crate) use crate::session_state::{ChannelState, State};

use crate::transport::auth::Credential;
use crate::transport::{Config, Connection, Error};
use sekura_algorithms::SigningKey;
use sekura_proto::msg::ChannelKind;
use sekura_proto::numbers::DisconnectReason;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The shared core of a session: its state, the condition variable that
/// wakes everyone waiting on it, and the writer thread's own.
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// Wakes the writer thread alone, and only when it has work: bytes to
    /// send, the session over, or a timer deadline other than the one it
    /// sleeps until. Received data wakes the readers but not the writer.
    wake_writer: Condvar,
    /// The deadline the writer sleeps until ([`deadline_key`]), written by
    /// the writer under the state's lock.
    writer_deadline: AtomicU64,
    /// Wakes the server's control loop alone, and only when it has work
    /// (an auth request, a channel to accept, a request to answer) or the
    /// session is over: channel data does not concern it.
    wake_control: Condvar,
    /// Shuts the stream down so the reader thread wakes up (for streams
    /// that can: TCP).
    closer: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking holder leaves the connection in an unknown state, but
        // still one that reports errors rather than undefined behaviour.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the state, then hands its output to the writer and wakes
    /// every waiter.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.lock();
        let result = f(&mut state);
        state.sync();
        self.changed_and_unlock(state);
        result
    }

    /// After a change of the state (synced): unlocks it, wakes every waiter,
    /// and the writer if it has something to do.
    fn changed_and_unlock(&self, state: MutexGuard<'_, State>) {
        let writer = !state.out.is_empty()
            || state.is_over()
            || deadline_key(state.conn.poll_timeout())
                != self.writer_deadline.load(Ordering::Relaxed);
        let control = state.is_over() || state.has_control_work();
        drop(state);
        self.changed.notify_all();
        if writer {
            self.wake_writer.notify_one();
        }
        if control {
            self.wake_control.notify_all();
        }
    }

    /// Wakes every waiter after a change made outside [`Shared::with`]
    /// (the writer thread's errors and timers).
    fn notify_waiters(&self) {
        self.changed.notify_all();
        self.wake_control.notify_all();
    }

    /// Waits until `ready` returns a value, the session ends, or `timeout`
    /// passes. `ready` runs with the lock held, after each change.
    pub(crate) fn wait<T>(
        &self,
        timeout: Option<Duration>,
        ready: impl FnMut(&mut State) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        self.wait_on(&self.changed, timeout, ready)
    }

    /// [`Shared::wait`] for the server's control loop: woken only when
    /// there may be work for it.
    pub(crate) fn wait_for_control<T>(
        &self,
        ready: impl FnMut(&mut State) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        self.wait_on(&self.wake_control, None, ready)
    }

    fn wait_on<T>(
        &self,
        changed: &Condvar,
        timeout: Option<Duration>,
        mut ready: impl FnMut(&mut State) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.lock();
        loop {
            if let Some(result) = ready(&mut state) {
                state.sync();
                self.changed_and_unlock(state);
                return result;
            }
            if state.is_over() {
                return Err(state.ended_error());
            }
            state = match deadline {
                None => changed
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
                    }
                    changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    fn close_stream(&self) {
        let closer = self
            .closer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(close) = closer {
            close();
        }
    }
}

/// An SSH session (client or server side) over a byte stream.
///
/// Dropping it disconnects and stops its threads.
pub struct Session {
    pub(crate) shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// Whether the stream can be shut down to wake the reader thread.
    can_close_stream: bool,
}

/// The default timeout for the version and key exchange of
/// [`Session::connect`] when the configuration sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

impl Session {
    /// Connects as a client over a TCP stream: returns once the key
    /// exchange is done and the host key passed `check`. Sets `TCP_NODELAY`.
    pub fn connect(stream: TcpStream, config: Config, check: HostKeyCheck) -> io::Result<Session> {
        stream.set_nodelay(true)?;
        let reader = stream.try_clone()?;
        let closer = stream.try_clone()?;
        Session::connect_split(
            Box::new(reader),
            Box::new(stream),
            Some(Box::new(move || {
                let _ = closer.shutdown(Shutdown::Both);
            })),
            config,
            check,
        )
    }

    /// Connects as a client over any stream given as a read half and a
    /// write half. `closer`, when given, shuts the stream down so the
    /// reader thread stops at once when the session ends.
    pub fn connect_split(
        reader: Box<dyn Read + Send>,
        writer: Box<dyn Write + Send>,
        closer: Option<Box<dyn FnOnce() + Send>>,
        config: Config,
        mut check: HostKeyCheck,
    ) -> io::Result<Session> {
        let timeout = config.handshake_timeout.unwrap_or(CONNECT_TIMEOUT);
        let conn = Connection::client(Arc::new(config), Box::new(crate::os_rng()), Duration::ZERO);
        let session = Session::start(conn, reader, writer, closer);
        let key = session
            .shared
            .wait(Some(timeout), |st| st.host_key.take().map(Ok))?;
        // The check (a callback, known_hosts I/O) runs outside the lock.
        let verdict = check.verify(&key);
        session.shared.with(|st| st.settle_host_key(verdict))?;
        session
            .shared
            .wait(Some(timeout), |st| st.kex_done.then_some(Ok(())))?;
        Ok(session)
    }

    /// Starts the threads of a session around a connection.
    pub(crate) fn start(
        conn: Connection,
        reader: Box<dyn Read + Send>,
        writer: Box<dyn Write + Send>,
        closer: Option<Box<dyn FnOnce() + Send>>,
    ) -> Session {
        let state = State::new(conn);
        let can_close_stream = closer.is_some();
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            changed: Condvar::new(),
            wake_writer: Condvar::new(),
            wake_control: Condvar::new(),
            writer_deadline: AtomicU64::new(deadline_key(None)),
            closer: Mutex::new(closer),
        });
        let threads = vec![
            spawn("sekura-reader", {
                let shared = shared.clone();
                move || reader_loop(&shared, reader)
            }),
            spawn("sekura-writer", {
                let shared = shared.clone();
                move || writer_loop(&shared, writer)
            }),
        ];
        Session {
            shared,
            threads,
            can_close_stream,
        }
    }

    // ----- authentication (client) -----

    /// Authenticates with a password. `Ok(())` on success; an error of kind
    /// `PermissionDenied` says which methods the server would accept.
    pub fn authenticate_password(&self, user: &str, password: &str) -> io::Result<()> {
        self.authenticate(user, vec![Credential::password(password)])
    }

    /// Authenticates with a private key (any [`SigningKey`], such as a
    /// loaded key file or an agent's key).
    pub fn authenticate_publickey(&self, user: &str, key: Arc<dyn SigningKey>) -> io::Result<()> {
        self.authenticate(user, vec![Credential::PublicKey(key)])
    }

    /// Tries credentials in order, continuing after partial success (as
    /// OpenSSH's `AuthenticationMethods publickey,password` requires), until
    /// the server lets us in or none is left.
    pub fn authenticate(&self, user: &str, credentials: Vec<Credential>) -> io::Result<()> {
        self.shared.with(|st| {
            st.auth.clear();
            st.conn.authenticate(user, credentials)
        })?;
        self.shared.wait(None, State::client_auth_step)
    }

    /// Whether authentication has succeeded.
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        self.shared.lock().conn.is_authenticated()
    }

    // ----- channels -----

    /// Opens a `session` channel (for a shell, a command or a subsystem).
    pub fn open_session(&self) -> io::Result<Channel> {
        self.open_channel(&ChannelKind::Session)
    }

    /// Opens a `direct-tcpip` channel: the server connects to `host:port`
    /// for us (`ssh -L`). The channel then carries that connection's bytes.
    pub fn open_direct_tcpip(&self, host: &str, port: u32) -> io::Result<Channel> {
        self.open_channel(&ChannelKind::DirectTcpip {
            host,
            port,
            originator_address: "127.0.0.1",
            originator_port: 0,
        })
    }

    /// Opens a channel of any kind (a server opens `forwarded-tcpip`
    /// channels this way for `ssh -R`).
    pub fn open_channel(&self, kind: &ChannelKind<'_>) -> io::Result<Channel> {
        open_channel(&self.shared, kind)
    }

    /// Starts a key re-exchange now.
    pub fn rekey(&self) -> io::Result<()> {
        Ok(self.shared.with(|st| st.conn.request_rekey())?)
    }

    /// How many key exchanges have completed.
    #[must_use]
    pub fn key_exchanges(&self) -> u32 {
        self.shared.lock().conn.key_exchanges()
    }

    /// The algorithms in use, as text (for display and logs).
    #[must_use]
    pub fn negotiated(&self) -> Option<String> {
        self.shared
            .lock()
            .conn
            .negotiated()
            .map(|n| format!("{n:?}"))
    }

    /// Disconnects and stops the background threads. Dropping the session
    /// does the same.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.with(|st| {
            if !st.conn.is_closed() {
                st.conn
                    .disconnect(DisconnectReason::ByApplication, "closed by the application");
            }
        });
        // Let the writer send the DISCONNECT, then stop the reader.
        let writer = self.threads.pop();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        self.shared.close_stream();
        // The reader is blocked in `read` until the stream ends: with a way
        // to shut the stream down it ends now; without one (a stream given
        // as bare halves) it is left to end with the stream, not waited on.
        for thread in self.threads.drain(..) {
            if self.can_close_stream {
                let _ = thread.join();
            }
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Session")
            .field("role", &state.conn.role())
            .field("authenticated", &state.conn.is_authenticated())
            .field("ended", &state.ended)
            .finish_non_exhaustive()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.shutdown();
        }
    }
}

/// Opens a channel and waits for the peer's answer.
pub(crate) fn open_channel(shared: &Arc<Shared>, kind: &ChannelKind<'_>) -> io::Result<Channel> {
    let id = shared.with(|st| {
        st.conn
            .open_channel(kind)
            .inspect(|&id| st.fresh_channel(id))
    })?;
    shared.wait(None, |st| st.take_open_result(id))?;
    Ok(Channel::new(shared.clone(), id))
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot start a thread: {e}"))
}

/// A timer deadline as the writer's [`Shared::writer_deadline`] holds it:
/// nanoseconds, `u64::MAX` for none.
fn deadline_key(deadline: Option<Duration>) -> u64 {
    deadline.map_or(u64::MAX, |d| {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
    })
}

/// Feeds what the stream delivers into the connection until either ends.
fn reader_loop(shared: &Shared, mut reader: Box<dyn Read + Send>) {
    // Large enough for several packets per read (and per lock and wake-up)
    // when the peer sends fast.
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => {
                shared.with(|st| st.eof = true);
                return;
            }
            Ok(n) => {
                let over = shared.with(|st| {
                    let data = buf.get(..n).unwrap_or_default();
                    if let Err(e) = st.conn.handle_input(data) {
                        st.ended.get_or_insert(e);
                    }
                    st.is_over()
                });
                if over {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                shared.with(|st| {
                    st.ended
                        .get_or_insert(Error::Closed(format!("read failed: {e}")));
                });
                return;
            }
        }
    }
}

/// Sends what the connection produces and runs its timers, until the
/// session is over and everything is sent.
fn writer_loop(shared: &Shared, mut writer: Box<dyn Write + Send>) {
    let mut state = shared.lock();
    loop {
        if !state.out.is_empty() {
            let data = std::mem::take(&mut state.out);
            drop(state);
            let written = writer.write_all(&data).and_then(|()| writer.flush());
            state = shared.lock();
            if let Err(e) = written {
                state
                    .ended
                    .get_or_insert(Error::Closed(format!("write failed: {e}")));
                state.signal_polled();
                drop(state);
                shared.notify_waiters();
                shared.close_stream();
                return;
            }
            // Give the buffer back for reuse.
            if state.out.is_empty() {
                state.out = data;
                state.out.clear();
            }
            continue;
        }
        if state.is_over() {
            drop(state);
            shared.notify_waiters();
            shared.close_stream();
            return;
        }
        let now = state.elapsed();
        let deadline = state.conn.poll_timeout();
        // Under the lock: a change after this wakes us if it moves the
        // deadline.
        shared
            .writer_deadline
            .store(deadline_key(deadline), Ordering::Relaxed);
        let wait = deadline
            .map_or(Duration::from_secs(1), |deadline| {
                deadline.saturating_sub(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        state = shared
            .wake_writer
            .wait_timeout(state, wait)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0;
        let now = state.elapsed();
        if state
            .conn
            .poll_timeout()
            .is_some_and(|deadline| deadline <= now)
        {
            if let Err(e) = state.conn.handle_timeout(now) {
                state.ended.get_or_insert(e);
            }
            state.sync();
            shared.notify_waiters();
        }
    }
}
