//! The blocking server: a policy trait the application implements (the
//! seed's `ServerInterface`), and a thread per connection.

use super::{Channel, Session, State};
use crate::transport::auth::{AuthDecision, AuthEvent, RequestMethod};
use crate::transport::{ChannelId, Config, Connection};
use sekura_proto::msg::{ChannelKind, ChannelRequestKind};
use sekura_proto::numbers::ChannelOpenFailureReason;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
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

    /// Whether to grant a pseudo-terminal.
    fn check_pty(&self, _pty: &Pty) -> bool {
        true
    }

    /// Whether to accept an environment variable.
    fn check_env(&self, _name: &str, _value: &[u8]) -> bool {
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

/// Work taken out of the session state for the handler.
enum Work {
    Auth(crate::transport::auth::AuthRequest),
    Open(ChannelId, bool),
    Request(ChannelId, bool, sekura_transport::channel::ReceivedMessage),
}

fn next_work(st: &mut State) -> Option<Work> {
    while let Some(event) = st.auth.pop_front() {
        if let AuthEvent::Request(request) = event {
            return Some(Work::Auth(request));
        }
    }
    if let Some((id, request)) = st.offered.pop_front() {
        let session = matches!(request.channel_kind(), Some(ChannelKind::Session));
        return Some(Work::Open(id, session));
    }
    for (id, state) in &mut st.channels {
        if let Some((want_reply, request)) = state.requests.pop_front() {
            return Some(Work::Request(*id, want_reply, request));
        }
    }
    None
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
    let mut ptys: std::collections::HashMap<ChannelId, Pty> = std::collections::HashMap::new();
    let mut workers = Vec::new();
    loop {
        let work = session.shared.wait(None, |st| next_work(st).map(Ok));
        let work = match work {
            Ok(work) => work,
            Err(_) => break,
        };
        match work {
            Work::Auth(request) => {
                let methods = handler.auth_methods(&request.user);
                let verdict = match &request.method {
                    RequestMethod::Password { password, .. } => {
                        handler.check_password(&request.user, password)
                    }
                    RequestMethod::PublicKey { key, .. } => {
                        handler.check_public_key(&request.user, key)
                    }
                    _ => AuthResult::Reject,
                };
                let offered = request.method.name();
                let decision = match verdict {
                    AuthResult::Accept if methods.iter().any(|m| m == offered) => {
                        AuthDecision::Accept
                    }
                    AuthResult::Partial => AuthDecision::PartialSuccess {
                        methods: methods.into_iter().filter(|m| m != offered).collect(),
                    },
                    _ => AuthDecision::Reject {
                        methods_that_can_continue: methods,
                    },
                };
                session.shared.with(|st| st.conn.auth_reply(decision))?;
            }
            Work::Open(id, is_session) => {
                session.shared.with(|st| {
                    if is_session {
                        st.conn.accept_channel(id)
                    } else {
                        st.conn.reject_channel(
                            id,
                            ChannelOpenFailureReason::AdministrativelyProhibited,
                            "only sessions",
                        )
                    }
                })?;
            }
            Work::Request(id, want_reply, request) => {
                let Some(kind) = request.channel_request() else {
                    continue;
                };
                let start = match &kind {
                    ChannelRequestKind::Shell => Some(SessionRequest::Shell),
                    ChannelRequestKind::Exec { command } => {
                        Some(SessionRequest::Exec(command.to_vec()))
                    }
                    ChannelRequestKind::Subsystem { name } => {
                        Some(SessionRequest::Subsystem(name.to_string()))
                    }
                    _ => None,
                };
                let granted = match &kind {
                    ChannelRequestKind::PtyReq {
                        term, cols, rows, ..
                    } => {
                        let pty = Pty {
                            term: term.to_string(),
                            cols: *cols,
                            rows: *rows,
                        };
                        let ok = handler.check_pty(&pty);
                        if ok {
                            ptys.insert(id, pty);
                        }
                        ok
                    }
                    ChannelRequestKind::Env { name, value } => handler.check_env(name, value),
                    ChannelRequestKind::WindowChange { cols, rows, .. } => {
                        if let Some(pty) = ptys.get_mut(&id) {
                            pty.cols = *cols;
                            pty.rows = *rows;
                        }
                        true
                    }
                    _ => start.is_some(),
                };
                if want_reply {
                    session
                        .shared
                        .with(|st| st.conn.channel_request_reply(id, granted))?;
                }
                if let Some(start) = start {
                    let user = session
                        .shared
                        .lock()
                        .conn
                        .authenticated_user()
                        .unwrap_or_default()
                        .to_string();
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
