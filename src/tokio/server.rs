//! The async server: the policy trait in async form, a task per
//! connection, and graceful shutdown.

use super::{Channel, Session};
use crate::blocking::server::{
    Verdict, Work, answer_session_request, auth_decision, bind_address, forward_reply, next_work,
};
use crate::blocking::{AuthResult, Challenge, Pty, SessionRequest};
use crate::transport::auth::RequestMethod;
use crate::transport::{ChannelId, Config, Connection};
use ::tokio::io::{AsyncRead, AsyncWrite};
use ::tokio::net::TcpListener;
use ::tokio::sync::watch;
use ::tokio::task::JoinSet;
use sekura_proto::msg::{ChannelKind, GlobalRequestKind};
use sekura_proto::numbers::{ChannelOpenFailureReason, DisconnectReason};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// The application's side of an async server: who may log in, and what a
/// session does. The checks are async, so they may ask a database or
/// another service; each runs in its connection's task and delays that
/// connection only. Every method has a safe default (refuse) except
/// [`session`](Handler::session).
///
/// Implement the methods with `async fn`:
///
/// ```
/// use sekura::tokio::{AuthResult, Channel, Handler, Pty, SessionRequest};
/// use tokio::io::AsyncWriteExt;
///
/// struct Echo;
///
/// impl Handler for Echo {
///     async fn check_password(&self, user: &str, password: &str) -> AuthResult {
///         if user == "robey" && password == "foo" { AuthResult::Accept } else { AuthResult::Reject }
///     }
///
///     async fn session(&self, _user: &str, request: SessionRequest, _pty: Option<Pty>,
///                      mut channel: Channel) -> u32 {
///         match request {
///             SessionRequest::Exec(command) => {
///                 let _ = channel.write_all(&command).await;
///                 0
///             }
///             _ => 1,
///         }
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// The methods `user` may use (`publickey`, `password`). Listing the
    /// same methods for every name does not reveal which users exist.
    fn auth_methods(&self, _user: &str) -> Vec<String> {
        vec!["publickey".into(), "password".into()]
    }

    /// Checks a password.
    fn check_password(
        &self,
        _user: &str,
        _password: &str,
    ) -> impl Future<Output = AuthResult> + Send {
        async { AuthResult::Reject }
    }

    /// Checks whether a public key (blob, as in `authorized_keys`) may log
    /// in as `user`. The signature has been verified when this is asked for
    /// a signed request.
    fn check_public_key(
        &self,
        _user: &str,
        _key: &[u8],
    ) -> impl Future<Output = AuthResult> + Send {
        async { AuthResult::Reject }
    }

    /// The questions of a keyboard-interactive login for `user` (list
    /// `keyboard-interactive` in [`auth_methods`](Self::auth_methods) too);
    /// `None`, the default, refuses the method.
    fn keyboard_interactive(&self, _user: &str) -> Option<Challenge> {
        None
    }

    /// Checks the answers to the [`keyboard_interactive`](Self::keyboard_interactive)
    /// questions, one per prompt (a one-time code against a service, say).
    fn check_keyboard_interactive(
        &self,
        _user: &str,
        _answers: &[String],
    ) -> impl Future<Output = AuthResult> + Send {
        async { AuthResult::Reject }
    }

    /// Whether to grant a pseudo-terminal.
    fn check_pty(&self, _pty: &Pty) -> bool {
        true
    }

    /// Whether to accept an environment variable.
    fn check_env(&self, _name: &str, _value: &[u8]) -> bool {
        false
    }

    /// Whether a client may have the server connect to `host:port` for it
    /// (`ssh -L`, a `direct-tcpip` channel). Refused by default.
    fn allow_direct_tcpip(
        &self,
        _user: &str,
        _host: &str,
        _port: u32,
    ) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// Whether a client may have the server listen on `address:port` and
    /// forward connections back (`ssh -R`, `tcpip-forward`). Refused by
    /// default. The listener lasts until the client cancels it
    /// (`cancel-tcpip-forward`, which needs no permission: it only undoes)
    /// or the session ends.
    fn allow_tcpip_forward(
        &self,
        _user: &str,
        _address: &str,
        _port: u32,
    ) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// Runs a session in its own task: read the client's input from
    /// `channel`, write output to it (and to [`Channel::stderr`]), and
    /// return the exit status, which is then sent before the channel
    /// closes. The channel may be split and its halves moved to other
    /// tasks.
    fn session(
        &self,
        user: &str,
        request: SessionRequest,
        pty: Option<Pty>,
        channel: Channel,
    ) -> impl Future<Output = u32> + Send;
}

/// What the server's tasks are told about shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Accept no more connections; let the sessions finish.
    Draining,
    /// Disconnect every session now.
    Closing,
}

/// A handle that shuts a [`Server`] down from anywhere (a signal handler's
/// task, an admin command).
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    phase: watch::Sender<Phase>,
    grace: Arc<std::sync::Mutex<Duration>>,
}

impl ShutdownHandle {
    /// Stops accepting connections; sessions may go on for `grace`, then
    /// are disconnected. [`Server::serve`] returns when the last one ends.
    pub fn shutdown(&self, grace: Duration) {
        if let Ok(mut g) = self.grace.lock() {
            *g = grace;
        }
        self.phase.send_if_modified(|phase| {
            let serving = *phase == Phase::Serving;
            if serving {
                *phase = Phase::Draining;
            }
            serving
        });
    }
}

/// An async server: accepts connections and serves each in its own task
/// with the application's [`Handler`].
///
/// ```no_run
/// # use sekura::tokio::{Handler, Server};
/// # async fn demo<H: Handler>(config: sekura::transport::Config, handler: H) -> std::io::Result<()> {
/// let server = Server::new(config, handler);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:2200").await?;
/// let shutdown = server.shutdown_handle();
/// tokio::spawn(async move {
///     let _ = tokio::signal::ctrl_c().await;
///     // Let sessions finish for 10 s, then disconnect them.
///     shutdown.shutdown(std::time::Duration::from_secs(10));
/// });
/// server.serve(listener).await
/// # }
/// ```
pub struct Server<H> {
    config: Arc<Config>,
    handler: Arc<H>,
    shutdown: ShutdownHandle,
}

impl<H: Handler> Server<H> {
    /// A server with this configuration (which holds the host keys) and
    /// handler.
    pub fn new(config: Config, handler: H) -> Self {
        Server {
            config: Arc::new(config),
            handler: Arc::new(handler),
            shutdown: ShutdownHandle {
                phase: watch::Sender::new(Phase::Serving),
                grace: Arc::new(std::sync::Mutex::new(Duration::ZERO)),
            },
        }
    }

    /// The handle that shuts this server down.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Accepts connections until [`ShutdownHandle::shutdown`], then waits
    /// for the sessions (disconnecting those left after the grace period)
    /// and returns. Sets `TCP_NODELAY` on each connection.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        let mut phase = self.shutdown.phase.subscribe();
        let mut tasks = JoinSet::new();
        loop {
            if *phase.borrow_and_update() != Phase::Serving {
                break;
            }
            ::tokio::select! {
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        // Out of descriptors, a connection reset before
                        // accept: the next accept may well work.
                        Err(e) => {
                            tracing::warn!("accept failed: {e}");
                            ::tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let serve = self.connection_task(stream);
                    tasks.spawn(serve);
                }
                // Reap finished connections as they end, so the set holds
                // only live ones.
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = phase.changed() => {}
            }
        }
        drop(listener);
        let grace = self.shutdown.grace.lock().map_or(Duration::ZERO, |g| *g);
        tracing::info!(
            "shutting down: {} sessions have {grace:?} to finish",
            tasks.len()
        );
        let drained =
            ::tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
                .await;
        if drained.is_err() {
            self.shutdown.phase.send_replace(Phase::Closing);
            while tasks.join_next().await.is_some() {}
        }
        Ok(())
    }

    /// Serves one connection over any stream until it ends (or the server
    /// shuts down).
    pub async fn serve_connection<S>(&self, stream: S) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        self.connection_task(stream).await
    }

    fn connection_task<S>(&self, stream: S) -> impl Future<Output = io::Result<()>> + Send + 'static
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let config = self.config.clone();
        let handler = self.handler.clone();
        let phase = self.shutdown.phase.subscribe();
        serve_connection(stream, config, handler, phase)
    }
}

/// The control loop of one connection: turns the session's requests into
/// calls of the handler.
async fn serve_connection<S, H>(
    stream: S,
    config: Arc<Config>,
    handler: Arc<H>,
    mut phase: watch::Receiver<Phase>,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
    H: Handler,
{
    let conn = Connection::server(config, Box::new(crate::os_rng()), Duration::ZERO);
    let session = Session::start(conn, stream);
    let mut ptys: HashMap<ChannelId, Pty> = HashMap::new();
    let mut sessions = JoinSet::new();
    // The session's `tcpip-forward` listeners by (address, bound port), each
    // with the sender that stops it.
    let mut forwards: HashMap<(String, u32), ::tokio::sync::oneshot::Sender<()>> = HashMap::new();
    loop {
        let work = ::tokio::select! {
            work = session.shared.wait(|st| next_work(st).map(Ok)) => work,
            closing = async { phase.wait_for(|p| *p == Phase::Closing).await.is_ok() } => {
                if closing {
                    session.disconnect(DisconnectReason::ByApplication, "the server is shutting down");
                }
                // Without a server to tell it (a lone serve_connection),
                // only the session's own end stops it.
                session.closed().await;
                break;
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        let Ok(work) = work else { break };
        match work {
            Work::Auth(request) => {
                let methods = handler.auth_methods(&request.user);
                let user = &request.user;
                let verdict = match &request.method {
                    RequestMethod::Password { password, .. } => {
                        handler.check_password(user, password).await.into()
                    }
                    RequestMethod::PublicKey { key, .. } => {
                        handler.check_public_key(user, key).await.into()
                    }
                    RequestMethod::KeyboardInteractive { .. } => {
                        Verdict::Ask(handler.keyboard_interactive(user))
                    }
                    RequestMethod::InfoResponse { responses } => handler
                        .check_keyboard_interactive(user, responses)
                        .await
                        .into(),
                    _ => AuthResult::Reject.into(),
                };
                let decision = auth_decision(&request.method, verdict, methods);
                tracing::debug!(user = %request.user, method = request.method.name(), ?decision, "auth");
                session.shared.with(|st| st.conn.auth_reply(decision))?;
            }
            Work::Open(id, request) => {
                let user = session.shared.lock().user();
                match request.channel_kind() {
                    Some(ChannelKind::Session) => {
                        session.shared.with(|st| st.conn.accept_channel(id))?;
                    }
                    Some(ChannelKind::DirectTcpip { host, port, .. })
                        if handler.allow_direct_tcpip(&user, host, port).await =>
                    {
                        let target = (host.to_string(), u16::try_from(port).unwrap_or(0));
                        match ::tokio::net::TcpStream::connect(target).await {
                            Ok(mut stream) => {
                                session.shared.with(|st| st.conn.accept_channel(id))?;
                                let mut channel = Channel::new(session.shared.clone(), id);
                                sessions.spawn(async move {
                                    let _ =
                                        ::tokio::io::copy_bidirectional(&mut channel, &mut stream)
                                            .await;
                                });
                            }
                            Err(e) => {
                                let why = format!("cannot connect to {host}:{port}: {e}");
                                session.shared.with(|st| {
                                    st.conn.reject_channel(
                                        id,
                                        ChannelOpenFailureReason::ConnectFailed,
                                        &why,
                                    )
                                })?;
                            }
                        }
                    }
                    _ => {
                        session.shared.with(|st| {
                            st.conn.reject_channel(
                                id,
                                ChannelOpenFailureReason::AdministrativelyProhibited,
                                "not allowed",
                            )
                        })?;
                    }
                }
            }
            Work::Global(want_reply, request) => {
                let user = session.shared.lock().user();
                let reply = match request.global_request() {
                    Some(GlobalRequestKind::TcpipForward { address, port })
                        if handler.allow_tcpip_forward(&user, address, port).await =>
                    {
                        match forward_remote(&session.shared, address, port).await {
                            Ok((bound, forwarding, stop)) => {
                                sessions.spawn(forwarding);
                                forwards.insert((address.to_string(), bound), stop);
                                Some(forward_reply(port, bound))
                            }
                            Err(e) => {
                                tracing::debug!("cannot listen on {address}:{port}: {e}");
                                None
                            }
                        }
                    }
                    Some(GlobalRequestKind::CancelTcpipForward { address, port }) => {
                        forwards.remove(&(address.to_string(), port)).map(|stop| {
                            let _ = stop.send(());
                            Vec::new()
                        })
                    }
                    _ => None,
                };
                session
                    .shared
                    .with(|st| st.global_request_reply(want_reply, reply.as_deref()))?;
            }
            Work::Request(id, want_reply, request) => {
                let Some(kind) = request.channel_request() else {
                    continue;
                };
                let (granted, start) = answer_session_request(
                    &mut ptys,
                    id,
                    &kind,
                    |pty| handler.check_pty(pty),
                    |name, value| handler.check_env(name, value),
                );
                if want_reply {
                    session
                        .shared
                        .with(|st| st.conn.channel_request_reply(id, granted))?;
                }
                if let Some(start) = start {
                    let user = session.shared.lock().user();
                    let handler = handler.clone();
                    let pty = ptys.get(&id).cloned();
                    let shared = session.shared.clone();
                    sessions.spawn(async move {
                        // A second hold on the channel, to report the
                        // status however the handler used its own.
                        let theirs = Channel::new(shared, id);
                        let ours = theirs.share();
                        let status = handler.session(&user, start, pty, theirs).await;
                        let _ = ours.send_exit_status(status);
                        let _ = ours.eof();
                        let _ = ours.close().await;
                    });
                }
            }
        }
    }
    // The session is over: nothing its sessions' tasks still do can reach
    // the client.
    sessions.abort_all();
    while sessions.join_next().await.is_some() {}
    Ok(())
}

/// `tcpip-forward`: listens on `address:port`; returns the bound port, the
/// task that forwards each connection to the client in a `forwarded-tcpip`
/// channel, and the sender that stops it (`cancel-tcpip-forward`: the
/// listener closes, connections already forwarded go on; dropping the
/// sender does the same). Otherwise the task ends with the session.
async fn forward_remote(
    shared: &Arc<super::Shared>,
    address: &str,
    port: u32,
) -> io::Result<(
    u32,
    impl Future<Output = ()> + Send + 'static,
    ::tokio::sync::oneshot::Sender<()>,
)> {
    let port16 = u16::try_from(port)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "port out of range"))?;
    let listener = TcpListener::bind((bind_address(address), port16)).await?;
    let bound = u32::from(listener.local_addr()?.port());
    let address = address.to_string();
    let shared = shared.clone();
    let (stop, mut stopped) = ::tokio::sync::oneshot::channel::<()>();
    let forwarding = async move {
        let mut connections = JoinSet::new();
        loop {
            let accepted = ::tokio::select! {
                accepted = listener.accept() => accepted,
                _ = &mut stopped => break,
            };
            let (mut stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    // Out of descriptors, say: try again a little later.
                    ::tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let originator = peer.ip().to_string();
            let kind = ChannelKind::ForwardedTcpip {
                connected_address: &address,
                connected_port: bound,
                originator_address: &originator,
                originator_port: u32::from(peer.port()),
            };
            match super::open_channel(&shared, &kind).await {
                Ok(mut channel) => {
                    connections.spawn(async move {
                        let _ = ::tokio::io::copy_bidirectional(&mut channel, &mut stream).await;
                    });
                }
                Err(_) if shared.lock().is_over() => return,
                Err(_) => {}
            }
            while connections.try_join_next().is_some() {}
        }
        drop(listener);
        while connections.join_next().await.is_some() {}
    };
    Ok((bound, forwarding, stop))
}
