//! The async API on tokio: a [`Session`] over any `AsyncRead + AsyncWrite`
//! stream, driven by one task, with channels that are tokio
//! [`AsyncRead`]/[`AsyncWrite`] streams.
//!
//! It drives the same sans-I/O [`Connection`] as the blocking API. A
//! session is one spawned task (the *driver*) that owns the stream: it
//! feeds the connection what the stream delivers, writes what the
//! connection produces, and keeps its timers on tokio's clock. The
//! application's futures (authenticate, open a channel, read, write) lock
//! the connection only for the synchronous moment they need, never across
//! an `.await`, and register their wakers to hear of the next change. So:
//!
//! - no thread per session or channel, no lock held across an await;
//! - every future is cancellation-safe: dropping one leaves the
//!   connection consistent (what it had done is done, the rest never
//!   starts; a dropped [`Channel`] closes the channel);
//! - backpressure is the channel window: data a slow reader has not read
//!   stays in its channel (bounded by the window it granted), and only
//!   that channel stops sending WINDOW_ADJUST.
//!
//! ```no_run
//! use sekura::HostKeyCheck;
//! use tokio::io::AsyncReadExt;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let stream = tokio::net::TcpStream::connect("127.0.0.1:2200").await?;
//! let check = HostKeyCheck::fingerprint("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8");
//! let session = sekura::tokio::Session::connect(stream, Default::default(), check).await?;
//! session.authenticate_password("robey", "foo").await?;
//! let mut channel = session.open_session().await?;
//! channel.exec("board").await?;
//! let mut out = String::new();
//! channel.read_to_string(&mut out).await?;
//! println!("{out} (exit status {:?})", channel.exit_status().await?);
//! # Ok(()) }
//! ```
//!
//! The one-call connect of the blocking API has its async form in
//! [`connect`] and [`Connect::connect_async`](crate::connect::Connect::connect_async).

mod channel;
mod driver;
mod server;

pub use channel::{Channel, ReadHalf, Stderr, WriteHalf};
pub use server::{Handler, Server, ShutdownHandle};

pub use crate::blocking::{AuthResult, Challenge, ExitSignal, Pty, SessionRequest};

use crate::HostKeyCheck;
use crate::session_state::State;
use crate::transport::auth::Credential;
use crate::transport::{Config, Connection};
use ::tokio::io::{AsyncRead, AsyncWrite};
use sekura_algorithms::SigningKey;
use sekura_proto::msg::ChannelKind;
use sekura_proto::numbers::DisconnectReason;
use std::future::poll_fn;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

/// The shared core of a session: the connection's state behind a mutex
/// that is never held across an `.await`.
pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking holder leaves the connection in an unknown state, but
        // still one that reports errors rather than undefined behaviour.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the state, then hands its output to the driver and
    /// wakes every waiting task.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.lock();
        let result = f(&mut state);
        state.sync();
        state.wake();
        result
    }

    /// One poll of a wait: `ready` runs with the lock held; when it has no
    /// answer yet the task is woken at the next change. Ends with the
    /// session's error once it is over.
    pub(crate) fn poll_ready<T>(
        &self,
        cx: &mut Context<'_>,
        ready: impl FnOnce(&mut State) -> Option<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let mut state = self.lock();
        if let Some(result) = ready(&mut state) {
            state.sync();
            state.wake();
            return Poll::Ready(result);
        }
        if state.is_over() {
            return Poll::Ready(Err(state.ended_error()));
        }
        state.wait_for_change(cx.waker());
        Poll::Pending
    }

    /// Waits until `ready` returns a value or the session ends.
    pub(crate) async fn wait<T>(
        &self,
        mut ready: impl FnMut(&mut State) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
        poll_fn(|cx| self.poll_ready(cx, &mut ready)).await
    }
}

/// An SSH session (client or server side) over an async byte stream.
///
/// Its driver task runs until the connection ends; dropping the session
/// (and every channel of it) disconnects.
pub struct Session {
    pub(crate) shared: Arc<Shared>,
    driver: Option<::tokio::task::JoinHandle<()>>,
}

/// The default timeout for the version and key exchange of
/// [`Session::connect`] when the configuration sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

impl Session {
    /// Connects as a client over `stream`: returns once the key exchange is
    /// done and the host key passed `check`. Spawns the session's driver
    /// task on the current tokio runtime. (For a `TcpStream`, set
    /// `TCP_NODELAY` first: `stream.set_nodelay(true)`.)
    pub async fn connect<S>(stream: S, config: Config, mut check: HostKeyCheck) -> io::Result<Self>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let timeout = config.handshake_timeout.unwrap_or(CONNECT_TIMEOUT);
        let conn = Connection::client(Arc::new(config), Box::new(crate::os_rng()), Duration::ZERO);
        let session = Session::start(conn, stream);
        let handshake = async {
            let key = session.shared.wait(|st| st.host_key.take().map(Ok)).await?;
            // The check (a callback, known_hosts I/O) runs outside the lock.
            let verdict = check.verify(&key);
            session.shared.with(|st| st.settle_host_key(verdict))?;
            session
                .shared
                .wait(|st| st.kex_done.then_some(Ok(())))
                .await
        };
        match ::tokio::time::timeout(timeout, handshake).await {
            Ok(result) => result.map(|()| session),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no key exchange within {timeout:?}"),
            )),
        }
    }

    /// Starts the driver task of a session around a connection.
    pub(crate) fn start<S>(conn: Connection, stream: S) -> Self
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(conn)),
        });
        let driver = ::tokio::spawn(driver::drive(shared.clone(), stream));
        Session {
            shared,
            driver: Some(driver),
        }
    }

    // ----- authentication (client) -----

    /// Authenticates with a password. `Ok(())` on success; an error of kind
    /// `PermissionDenied` says which methods the server would accept.
    pub async fn authenticate_password(&self, user: &str, password: &str) -> io::Result<()> {
        self.authenticate(user, vec![Credential::password(password)])
            .await
    }

    /// Authenticates with a private key (any [`SigningKey`], such as a
    /// loaded key file or an agent's key).
    pub async fn authenticate_publickey(
        &self,
        user: &str,
        key: Arc<dyn SigningKey>,
    ) -> io::Result<()> {
        self.authenticate(user, vec![Credential::PublicKey(key)])
            .await
    }

    /// Tries credentials in order, continuing after partial success, until
    /// the server lets us in or none is left.
    pub async fn authenticate(&self, user: &str, credentials: Vec<Credential>) -> io::Result<()> {
        self.shared.with(|st| {
            st.auth.clear();
            st.conn.authenticate(user, credentials)
        })?;
        self.shared.wait(State::client_auth_step).await
    }

    /// Whether authentication has succeeded.
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        self.shared.lock().conn.is_authenticated()
    }

    // ----- channels -----

    /// Opens a `session` channel (for a shell, a command or a subsystem).
    pub async fn open_session(&self) -> io::Result<Channel> {
        self.open_channel(&ChannelKind::Session).await
    }

    /// Opens a `direct-tcpip` channel: the server connects to `host:port`
    /// for us (`ssh -L`).
    pub async fn open_direct_tcpip(&self, host: &str, port: u32) -> io::Result<Channel> {
        self.open_channel(&ChannelKind::DirectTcpip {
            host,
            port,
            originator_address: "127.0.0.1",
            originator_port: 0,
        })
        .await
    }

    /// Opens a channel of any kind and waits for the peer's answer.
    pub async fn open_channel(&self, kind: &ChannelKind<'_>) -> io::Result<Channel> {
        open_channel(&self.shared, kind).await
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

    /// Whether the session has ended (disconnected, or the stream closed).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.lock().is_over()
    }

    /// Waits until the session ends, however it ends.
    pub async fn closed(&self) {
        let _ = self.shared.wait(|_| None::<io::Result<()>>).await;
    }

    /// Disconnects with `reason` and the description the peer shows.
    pub fn disconnect(&self, reason: DisconnectReason, description: &str) {
        self.shared.with(|st| {
            if !st.conn.is_closed() {
                st.conn.disconnect(reason, description);
            }
        });
    }

    /// Disconnects and waits for the driver task to send the DISCONNECT
    /// and finish. Dropping the session disconnects without waiting.
    pub async fn close(mut self) {
        self.disconnect(DisconnectReason::ByApplication, "closed by the application");
        if let Some(driver) = self.driver.take() {
            let _ = driver.await;
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
        if self.driver.is_some() {
            self.disconnect(DisconnectReason::ByApplication, "closed by the application");
        }
    }
}

/// Opens a channel and waits for the peer's answer.
pub(crate) async fn open_channel(
    shared: &Arc<Shared>,
    kind: &ChannelKind<'_>,
) -> io::Result<Channel> {
    let id = shared.with(|st| {
        st.conn
            .open_channel(kind)
            .inspect(|&id| st.fresh_channel(id))
    })?;
    // Dropped before the answer: the channel is closed when it comes.
    let guard = channel::Handle::new(shared.clone(), id);
    shared.wait(|st| st.take_open_result(id)).await?;
    Ok(Channel::from_handle(guard))
}

/// Connects to `target` (`[user@]host[:port]`) with the defaults of
/// [`Connect`](crate::connect::Connect): the agent's keys when
/// `$SSH_AUTH_SOCK` is set, `~/.ssh/id_*`, `~/.ssh/known_hosts` checked
/// strictly.
pub async fn connect(target: &str) -> io::Result<Session> {
    crate::connect::Connect::new(target).connect_async().await
}

/// Connects to `target` with a password (keys are tried first, as
/// [`connect`] does), checking the host key against `~/.ssh/known_hosts`
/// strictly.
pub async fn connect_password(target: &str, password: &str) -> io::Result<Session> {
    crate::connect::Connect::new(target)
        .password(password)
        .connect_async()
        .await
}
