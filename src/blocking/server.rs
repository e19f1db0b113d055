//! The blocking server: a policy trait the application implements (the
//! seed's `ServerInterface`), and a thread per connection.

use super::{Channel, Session, State};
use crate::transport::auth::{AuthDecision, AuthEvent, RequestMethod};
use crate::transport::{ChannelId, Config, Connection};
use sekura_proto::msg::{ChannelKind, ChannelRequestKind, GlobalRequestKind};
use sekura_proto::numbers::ChannelOpenFailureReason;
use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A verdict on one authentication attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthResult {
    /// The user is in.
    Accept,
    /// Wrong: try again (or another method).
    Reject,
    /// Right, but another method is required too (multi-factor).
    Partial,
}

/// What a session channel asks to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRequest {
    /// The user's shell.
    Shell,
    /// A command (bytes, as sent: usually UTF-8).
    Exec(Vec<u8>),
    /// A subsystem such as `sftp`.
    Subsystem(String),
}

/// The questions of a keyboard-interactive login (RFC 4256): one round of
/// prompts the client shows its user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    /// A title (may be empty).
    pub name: String,
    /// Instructions (may be empty).
    pub instruction: String,
    /// The questions: the text, and whether the answer may be echoed.
    pub prompts: Vec<(String, bool)>,
}

/// A pseudo-terminal the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pty {
    /// The TERM value.
    pub term: String,
    /// Width in characters.
    pub cols: u32,
    /// Height in rows.
    pub rows: u32,
}

/// The application's side of a server: who may log in, and what a session
/// does. Every method has a safe default (refuse) except
/// [`session`](ServerHandler::session).
///
/// Methods are called from the connection's own thread; a slow check delays
/// that connection only.
pub trait ServerHandler: Send + Sync + 'static {
    /// The methods `user` may use (`publickey`, `password`). Listing the
    /// same methods for every name does not reveal which users exist.
    fn auth_methods(&self, _user: &str) -> Vec<String> {
        vec!["publickey".into(), "password".into()]
    }

    /// Checks a password.
    fn check_password(&self, _user: &str, _password: &str) -> AuthResult {
        AuthResult::Reject
    }

    /// Checks whether a public key (blob, as in `authorized_keys`) may log
    /// in as `user`. The signature has been verified when this is asked for
    /// a signed request.
    fn check_public_key(&self, _user: &str, _key: &[u8]) -> AuthResult {
        AuthResult::Reject
    }

    /// The questions of a keyboard-interactive login for `user` (list
    /// `keyboard-interactive` in [`auth_methods`](Self::auth_methods) too);
    /// `None`, the default, refuses the method.
    fn keyboard_interactive(&self, _user: &str) -> Option<Challenge> {
        None
    }

    /// Checks the answers to the [`keyboard_interactive`](Self::keyboard_interactive)
    /// questions, one per prompt.
    fn check_keyboard_interactive(&self, _user: &str, _answers: &[String]) -> AuthResult {
        AuthResult::Reject
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
    fn allow_direct_tcpip(&self, _user: &str, _host: &str, _port: u32) -> bool {
        false
    }

    /// Whether a client may have the server listen on `address:port` and
    /// forward connections back (`ssh -R`, `tcpip-forward`). Refused by
    /// default. The listener lasts until the client cancels it
    /// (`cancel-tcpip-forward`, which needs no permission: it only undoes)
    /// or the session ends.
    fn allow_tcpip_forward(&self, _user: &str, _address: &str, _port: u32) -> bool {
        false
    }

    /// Runs a session on its own thread: read the client's input from
    /// `channel`, write output to it (and to `write_stderr`), and return
    /// the exit status. The channel is closed afterwards.
    fn session(
        &self,
        user: &str,
        request: SessionRequest,
        pty: Option<Pty>,
        channel: &mut Channel,
    ) -> u32;
}

/// A server: accepts connections and serves each on its own threads with
/// the application's [`ServerHandler`].
pub struct Server {
    config: Arc<Config>,
    handler: Arc<dyn ServerHandler>,
}

impl Server {
    /// A server with this configuration (which holds the host keys) and
    /// handler.
    pub fn new(config: Config, handler: Arc<dyn ServerHandler>) -> Self {
        Server {
            config: Arc::new(config),
            handler,
        }
    }

    /// Accepts connections forever, one thread per connection.
    pub fn serve(&self, listener: &TcpListener) -> io::Result<()> {
        loop {
            let (stream, _) = listener.accept()?;
            let config = self.config.clone();
            let handler = self.handler.clone();
            std::thread::Builder::new()
                .name("sekura-server".into())
                .spawn(move || {
                    // A connection's end, clean or not, concerns only it.
                    let _ = serve_connection(stream, config, handler);
                })?;
        }
    }

    /// Serves one connection on the calling thread until it ends.
    pub fn serve_connection(&self, stream: TcpStream) -> io::Result<()> {
        serve_connection(stream, self.config.clone(), self.handler.clone())
    }
}

/// Work taken out of the session state for the handler (of either
/// adapter).
pub(crate) enum Work {
    Auth(crate::transport::auth::AuthRequest),
    Open(ChannelId, sekura_transport::channel::ReceivedMessage),
    Global(bool, sekura_transport::channel::ReceivedMessage),
    Request(ChannelId, bool, sekura_transport::channel::ReceivedMessage),
}

pub(crate) fn next_work(st: &mut State) -> Option<Work> {
    while let Some(event) = st.auth.pop_front() {
        if let AuthEvent::Request(request) = event {
            return Some(Work::Auth(request));
        }
    }
    if let Some((id, request)) = st.offered.pop_front() {
        return Some(Work::Open(id, request));
    }
    if let Some((want_reply, request)) = st.global_requests.pop_front() {
        return Some(Work::Global(want_reply, request));
    }
    for (id, state) in &mut st.channels {
        if let Some((want_reply, request)) = state.requests.pop_front() {
            return Some(Work::Request(*id, want_reply, request));
        }
    }
    None
}

/// The answer to an authentication request, from the handler's verdict
/// and the methods the user may use.
pub(crate) fn auth_decision(
    method: &RequestMethod,
    verdict: Verdict,
    methods: Vec<String>,
) -> AuthDecision {
    let offered = method.name();
    let verdict = match verdict {
        Verdict::Ask(Some(challenge)) if methods.iter().any(|m| m == offered) => {
            return AuthDecision::Challenge {
                name: challenge.name,
                instruction: challenge.instruction,
                prompts: challenge.prompts,
            };
        }
        Verdict::Ask(_) => AuthResult::Reject,
        Verdict::Result(result) => result,
    };
    match verdict {
        AuthResult::Accept if methods.iter().any(|m| m == offered) => AuthDecision::Accept,
        // A query only asks whether the key would do: PK_OK, and the
        // partial success comes with the signed request.
        AuthResult::Partial if matches!(method, RequestMethod::PublicKey { signed: false, .. }) => {
            AuthDecision::Accept
        }
        AuthResult::Partial => AuthDecision::PartialSuccess {
            methods: methods.into_iter().filter(|m| m != offered).collect(),
        },
        _ => AuthDecision::Reject {
            methods_that_can_continue: methods,
        },
    }
}

/// What a handler said about an authentication request: a verdict, or
/// (keyboard-interactive) the questions to ask.
#[derive(Debug)]
pub(crate) enum Verdict {
    Result(AuthResult),
    Ask(Option<Challenge>),
}

impl From<AuthResult> for Verdict {
    fn from(result: AuthResult) -> Self {
        Verdict::Result(result)
    }
}

/// Answers a request on session channel `id`: whether it is granted
/// (`pty-req` as `check_pty` says, `env` as `check_env` says, what starts
/// something always), and what it starts, if anything.
pub(crate) fn answer_session_request(
    ptys: &mut HashMap<ChannelId, Pty>,
    id: ChannelId,
    kind: &ChannelRequestKind<'_>,
    check_pty: impl FnOnce(&Pty) -> bool,
    check_env: impl FnOnce(&str, &[u8]) -> bool,
) -> (bool, Option<SessionRequest>) {
    let start = match kind {
        ChannelRequestKind::Shell => Some(SessionRequest::Shell),
        ChannelRequestKind::Exec { command } => Some(SessionRequest::Exec(command.to_vec())),
        ChannelRequestKind::Subsystem { name } => Some(SessionRequest::Subsystem(name.to_string())),
        _ => None,
    };
    let granted = match kind {
        ChannelRequestKind::PtyReq { .. } | ChannelRequestKind::WindowChange { .. } => {
            update_pty(ptys, id, kind, check_pty)
        }
        ChannelRequestKind::Env { name, value } => check_env(name, value),
        _ => start.is_some(),
    };
    (granted, start)
}

/// The data of a successful `tcpip-forward` reply: RFC 4254 §7.1 sends the
/// bound port back only when the client asked for any (0).
pub(crate) fn forward_reply(asked: u32, bound: u32) -> Vec<u8> {
    if asked == 0 {
        bound.to_be_bytes().to_vec()
    } else {
        Vec::new()
    }
}

/// The address to listen on for a `tcpip-forward` of `address`, as OpenSSH
/// reads it: empty, `0.0.0.0` or `*` for every interface.
pub(crate) fn bind_address(address: &str) -> &str {
    match address {
        "" | "0.0.0.0" | "*" => "0.0.0.0",
        "localhost" => "127.0.0.1",
        other => other,
    }
}

/// Handles `pty-req` (granted as `check` says) and `window-change` (which
/// resizes the granted pty) for channel `id`; returns the answer.
fn update_pty(
    ptys: &mut HashMap<ChannelId, Pty>,
    id: ChannelId,
    kind: &ChannelRequestKind<'_>,
    check: impl FnOnce(&Pty) -> bool,
) -> bool {
    match kind {
        ChannelRequestKind::PtyReq {
            term, cols, rows, ..
        } => {
            let pty = Pty {
                term: term.to_string(),
                cols: *cols,
                rows: *rows,
            };
            let granted = check(&pty);
            if granted {
                ptys.insert(id, pty);
            }
            granted
        }
        ChannelRequestKind::WindowChange { cols, rows, .. } => {
            if let Some(pty) = ptys.get_mut(&id) {
                pty.cols = *cols;
                pty.rows = *rows;
            }
            true
        }
        _ => false,
    }
}

fn serve_connection(
    stream: TcpStream,
    config: Arc<Config>,
    handler: Arc<dyn ServerHandler>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let reader = stream.try_clone()?;
    let closer = stream.try_clone()?;
    let conn = Connection::server(config, Box::new(crate::os_rng()), Duration::ZERO);
    let session = Session::start(
        conn,
        Box::new(reader),
        Box::new(stream),
        Some(Box::new(move || {
            let _ = closer.shutdown(Shutdown::Both);
        })),
    );
    let mut ptys: HashMap<ChannelId, Pty> = HashMap::new();
    let mut workers = Vec::new();
    // The session's `tcpip-forward` listeners by (address, bound port), each
    // with the flag that stops it.
    let mut forwards: HashMap<(String, u32), Arc<AtomicBool>> = HashMap::new();
    loop {
        let work = session.shared.wait_for_control(|st| next_work(st).map(Ok));
        let work = match work {
            Ok(work) => work,
            Err(_) => break,
        };
        match work {
            Work::Auth(request) => {
                let methods = handler.auth_methods(&request.user);
                let user = &request.user;
                let verdict = match &request.method {
                    RequestMethod::Password { password, .. } => {
                        handler.check_password(user, password).into()
                    }
                    RequestMethod::PublicKey { key, .. } => {
                        handler.check_public_key(user, key).into()
                    }
                    RequestMethod::KeyboardInteractive { .. } => {
                        Verdict::Ask(handler.keyboard_interactive(user))
                    }
                    RequestMethod::InfoResponse { responses } => {
                        handler.check_keyboard_interactive(user, responses).into()
                    }
                    _ => AuthResult::Reject.into(),
                };
                let decision = auth_decision(&request.method, verdict, methods);
                session.shared.with(|st| st.conn.auth_reply(decision))?;
            }
            Work::Open(id, request) => {
                let user = session.shared.lock().user();
                match request.channel_kind() {
                    Some(ChannelKind::Session) => {
                        session.shared.with(|st| st.conn.accept_channel(id))?;
                    }
                    Some(ChannelKind::DirectTcpip { host, port, .. })
                        if handler.allow_direct_tcpip(&user, host, port) =>
                    {
                        match TcpStream::connect((host, u16::try_from(port).unwrap_or(0))) {
                            Ok(stream) => {
                                session.shared.with(|st| st.conn.accept_channel(id))?;
                                splice(Channel::new(session.shared.clone(), id), stream);
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
                        if handler.allow_tcpip_forward(&user, address, port) =>
                    {
                        let stop = Arc::new(AtomicBool::new(false));
                        forward_remote(&session.shared, address, port, stop.clone())
                            .ok()
                            .map(|bound| {
                                forwards.insert((address.to_string(), bound), stop);
                                forward_reply(port, bound)
                            })
                    }
                    Some(GlobalRequestKind::CancelTcpipForward { address, port }) => {
                        forwards.remove(&(address.to_string(), port)).map(|stop| {
                            stop.store(true, Ordering::Relaxed);
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
                    let mut channel = Channel::new(session.shared.clone(), id);
                    let handler = handler.clone();
                    let pty = ptys.get(&id).cloned();
                    workers.push(std::thread::spawn(move || {
                        let status = handler.session(&user, start, pty, &mut channel);
                        let _ = channel.send_exit_status(status);
                        let _ = channel.shutdown(Shutdown::Write);
                        let _ = channel.close();
                    }));
                }
            }
        }
    }
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

/// Copies bytes both ways between a channel and a TCP connection until
/// both directions end, on two threads.
fn splice(channel: Channel, stream: TcpStream) {
    let (Ok(mut to_channel), Ok(mut from_stream)) = (channel.try_clone(), stream.try_clone())
    else {
        return;
    };
    let mut from_channel = channel;
    let mut to_stream = stream;
    std::thread::spawn(move || {
        let _ = io::copy(&mut from_channel, &mut to_stream);
        let _ = to_stream.shutdown(Shutdown::Write);
    });
    std::thread::spawn(move || {
        let _ = io::copy(&mut from_stream, &mut to_channel);
        let _ = to_channel.shutdown(Shutdown::Write);
    });
}

/// `tcpip-forward`: listens on `address:port` and forwards each connection
/// to the client in a `forwarded-tcpip` channel. Returns the bound port.
/// The listener lives until `stop` is set (`cancel-tcpip-forward`) or the
/// session ends; connections already forwarded go on either way.
fn forward_remote(
    shared: &Arc<super::Shared>,
    address: &str,
    port: u32,
    stop: Arc<AtomicBool>,
) -> io::Result<u32> {
    let listener = TcpListener::bind((bind_address(address), u16::try_from(port).unwrap_or(0)))?;
    let bound = u32::from(listener.local_addr()?.port());
    let address = address.to_string();
    let shared = Arc::downgrade(shared);
    // Polled, so the thread notices when the session is gone.
    listener.set_nonblocking(true)?;
    std::thread::spawn(move || {
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let Some(shared) = shared.upgrade().filter(|s| !s.lock().is_over()) else {
                return;
            };
            let stream = match listener.accept() {
                Ok((stream, _)) if stream.set_nonblocking(false).is_ok() => stream,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    drop(shared);
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(_) => return,
            };
            let peer = stream.peer_addr().ok();
            let kind = ChannelKind::ForwardedTcpip {
                connected_address: &address,
                connected_port: bound,
                originator_address: &peer.map(|p| p.ip().to_string()).unwrap_or_default(),
                originator_port: peer.map_or(0, |p| u32::from(p.port())),
            };
            match super::open_channel(&shared, &kind) {
                Ok(channel) => splice(channel, stream),
                Err(_) if shared.lock().is_over() => return,
                Err(_) => {}
            }
        }
    });
    Ok(bound)
}
