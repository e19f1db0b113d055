//! What the application side knows about a session, filled from the
//! connection's events: the state both adapters (blocking threads, async
//! tasks) keep behind their lock.

use crate::blocking::ExitSignal;
#[cfg(unix)]
use crate::blocking::poll;
use crate::transport::auth::AuthEvent;
use crate::transport::{ChannelEvent, ChannelId, Connection, Error, Event, HostKey};
use sekura_proto::msg::ChannelRequestKind;
use sekura_proto::numbers::ChannelOpenFailureReason;
use sekura_transport::channel::ReceivedMessage;
use std::collections::{HashMap, VecDeque};
use std::io;
#[cfg(feature = "tokio")]
use std::task::Waker;
use std::time::{Duration, Instant};

/// What the application's threads know about one channel, filled from the
/// connection's events.
#[derive(Debug, Default)]
pub(crate) struct ChannelState {
    /// The answer to our open: `None` while waiting.
    pub(crate) opened: Option<Result<(), (ChannelOpenFailureReason, String)>>,
    /// Answers to our requests, oldest first.
    pub(crate) replies: VecDeque<bool>,
    /// The peer's requests (server role: pty-req, exec, ...), oldest first.
    pub(crate) requests: VecDeque<(bool, ReceivedMessage)>,
    pub(crate) exit_status: Option<u32>,
    pub(crate) exit_signal: Option<ExitSignal>,
    pub(crate) closed: bool,
    /// Replies still to come for requests whose waiter gave up (a dropped
    /// future): they are skipped, so later answers go to the right
    /// request.
    pub(crate) discard_replies: u32,
    /// Nobody wants this channel any more but it is not open yet: close it
    /// as soon as it opens.
    pub(crate) abandoned: bool,
    /// Which life of the channel number this is: numbers are reused once
    /// both sides closed a channel, and a handle of the old channel must not
    /// touch the new one.
    pub(crate) generation: u64,
}

/// Everything behind the session's mutex.
pub(crate) struct State {
    pub(crate) conn: Connection,
    /// Bytes for the writer (thread or task).
    pub(crate) out: Vec<u8>,
    started: Instant,
    /// Why the session ended, once it has.
    pub(crate) ended: Option<Error>,
    pub(crate) host_key: Option<HostKey>,
    pub(crate) kex_done: bool,
    /// The last channel generation handed out.
    generations: u64,
    pub(crate) auth: VecDeque<AuthEvent>,
    pub(crate) channels: HashMap<ChannelId, ChannelState>,
    /// Channels the peer asked to open.
    pub(crate) offered: VecDeque<(ChannelId, ReceivedMessage)>,
    /// Global requests of the peer (server role: tcpip-forward, ...).
    pub(crate) global_requests: VecDeque<(bool, ReceivedMessage)>,
    /// The reader thread saw the end of the stream.
    pub(crate) eof: bool,
    /// The channels whose descriptor was asked for (`Channel::as_fd`).
    #[cfg(unix)]
    polled: HashMap<ChannelId, poll::Signal>,
    /// Async tasks waiting for a change (the async adapter's condition
    /// variable), woken by [`State::wake`].
    #[cfg(feature = "tokio")]
    pub(crate) waiters: Vec<Waker>,
    /// The async driver task, woken by [`State::wake`] to send new output
    /// or re-arm its timer.
    #[cfg(feature = "tokio")]
    driver: Option<Waker>,
}

impl State {
    /// The state of a connection that has not started yet.
    pub(crate) fn new(conn: Connection) -> State {
        let mut state = State {
            conn,
            out: Vec::new(),
            started: Instant::now(),
            ended: None,
            host_key: None,
            kex_done: false,
            generations: 0,
            auth: VecDeque::new(),
            channels: HashMap::new(),
            offered: VecDeque::new(),
            global_requests: VecDeque::new(),
            eof: false,
            #[cfg(unix)]
            polled: HashMap::new(),
            #[cfg(feature = "tokio")]
            waiters: Vec::new(),
            #[cfg(feature = "tokio")]
            driver: None,
        };
        state.sync();
        state
    }

    /// Registers an async task to wake at the next change (once, however
    /// often it asks).
    #[cfg(feature = "tokio")]
    pub(crate) fn wait_for_change(&mut self, waker: &Waker) {
        if !self.waiters.iter().any(|w| w.will_wake(waker)) {
            self.waiters.push(waker.clone());
        }
    }

    /// Registers the async driver task, to wake when the application
    /// changes anything.
    #[cfg(feature = "tokio")]
    pub(crate) fn set_driver(&mut self, waker: &Waker) {
        match &mut self.driver {
            Some(driver) if driver.will_wake(waker) => {}
            driver => *driver = Some(waker.clone()),
        }
    }

    /// Wakes every async task waiting for a change, and the driver.
    #[cfg(feature = "tokio")]
    pub(crate) fn wake(&mut self) {
        if let Some(driver) = self.driver.take() {
            driver.wake();
        }
        self.wake_tasks();
    }

    /// Wakes every async task waiting for a change (the driver's own
    /// changes: it needs no waking).
    #[cfg(feature = "tokio")]
    pub(crate) fn wake_tasks(&mut self) {
        for waker in self.waiters.drain(..) {
            waker.wake();
        }
    }

    /// Moves the connection's events into the state and its output to the
    /// writer.
    pub(crate) fn sync(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            self.absorb(event);
        }
        let _ = self.conn.poll_transmit(&mut self.out);
        self.signal_polled();
    }

    /// Makes each polled channel's descriptor readable iff a read of the
    /// channel would not block. Runs after every change of the state, under
    /// the session's mutex, so readiness never lags a change that a reader
    /// could observe.
    pub(crate) fn signal_polled(&mut self) {
        #[cfg(unix)]
        {
            let over = self.is_over();
            for (&id, signal) in &mut self.polled {
                signal.set(poll::readable(&self.conn, &self.channels, over, id));
            }
        }
    }

    /// The descriptor of channel `id` for polling: registers the channel
    /// (its readiness already set) and returns the reading end.
    #[cfg(unix)]
    pub(crate) fn poll_channel(
        &mut self,
        id: ChannelId,
    ) -> io::Result<std::os::unix::net::UnixStream> {
        let (mut signal, fd) = poll::Signal::new()?;
        signal.set(poll::readable(
            &self.conn,
            &self.channels,
            self.is_over(),
            id,
        ));
        self.polled.insert(id, signal);
        Ok(fd)
    }

    /// Stops signalling channel `id` (its last handle is gone, or its
    /// number is reused).
    pub(crate) fn unpoll(&mut self, id: ChannelId) {
        #[cfg(unix)]
        self.polled.remove(&id);
        #[cfg(not(unix))]
        let _ = id;
    }

    fn absorb(&mut self, event: Event) {
        match event {
            Event::HostKey(key) => self.host_key = Some(key),
            Event::KeyExchangeDone { first: true, .. } => self.kex_done = true,
            Event::Auth(event) => self.auth.push_back(event),
            Event::Channel(event) => self.absorb_channel(event),
            Event::Disconnected {
                reason,
                description,
                by_peer,
            } => {
                let error = if by_peer {
                    Error::PeerDisconnected {
                        reason,
                        description,
                    }
                } else {
                    Error::Closed(description)
                };
                self.ended.get_or_insert(error);
            }
            _ => {}
        }
    }

    fn absorb_channel(&mut self, event: ChannelEvent) {
        match event {
            ChannelEvent::Opened { channel } => {
                let state = self.channels.entry(channel).or_default();
                if state.abandoned {
                    self.channels.remove(&channel);
                    let _ = self.conn.channel_close(channel);
                } else {
                    state.opened = Some(Ok(()));
                }
            }
            ChannelEvent::OpenFailed {
                channel,
                reason,
                description,
            } => {
                self.channels.entry(channel).or_default().opened = Some(Err((reason, description)));
            }
            ChannelEvent::OpenRequest { channel, request } => {
                // A number may be reused: nothing of its last life remains.
                self.fresh_channel(channel);
                self.offered.push_back((channel, request));
            }
            ChannelEvent::Request {
                channel,
                want_reply,
                request,
            } => {
                let state = self.channels.entry(channel).or_default();
                match request.channel_request() {
                    Some(ChannelRequestKind::ExitStatus { status }) => {
                        state.exit_status = Some(status)
                    }
                    Some(ChannelRequestKind::ExitSignal {
                        signal_name,
                        core_dumped,
                        error_message,
                        ..
                    }) => {
                        state.exit_signal = Some(ExitSignal {
                            signal: signal_name.to_string(),
                            core_dumped,
                            message: error_message.to_string(),
                        });
                    }
                    // A client serves no requests: refuse those that
                    // want an answer (OpenSSH's keepalives do) at once.
                    _ if self.conn.role() == sekura_algorithms::Role::Client => {
                        if want_reply {
                            let _ = self.conn.channel_request_reply(channel, false);
                        }
                    }
                    _ => state.requests.push_back((want_reply, request)),
                }
            }
            ChannelEvent::RequestReply { channel, success } => {
                self.channels
                    .entry(channel)
                    .or_default()
                    .replies
                    .push_back(success);
            }
            ChannelEvent::Closed { channel } => {
                self.channels.entry(channel).or_default().closed = true;
            }
            ChannelEvent::GlobalRequest {
                want_reply,
                request,
            } => {
                if self.conn.role() == sekura_algorithms::Role::Client {
                    // Nothing to offer a server: refuse.
                    if want_reply {
                        let _ = self.conn.global_request_reply(false, &[]);
                    }
                } else {
                    self.global_requests.push_back((want_reply, request));
                }
            }
            // Readable, Writable and EOF are read off the connection itself
            // by whoever waits for them.
            _ => {}
        }
    }

    /// Forgets what was known of an earlier channel with this number.
    pub(crate) fn fresh_channel(&mut self, id: ChannelId) {
        self.generations += 1;
        let state = ChannelState {
            generation: self.generations,
            ..ChannelState::default()
        };
        self.channels.insert(id, state);
        self.unpoll(id);
    }

    /// The error to report once the session has ended.
    pub(crate) fn ended_error(&self) -> io::Error {
        match &self.ended {
            Some(e) => e.clone().into(),
            None if self.eof => {
                io::Error::new(io::ErrorKind::UnexpectedEof, "the peer closed the stream")
            }
            None => io::Error::new(io::ErrorKind::NotConnected, "session closed"),
        }
    }

    pub(crate) fn is_over(&self) -> bool {
        self.ended.is_some() || self.eof || self.conn.is_closed()
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// The steps both adapters wait on: each returns `None` while the answer
/// has not come, and runs under the session's lock.
impl State {
    /// Client authentication: `Ok` once in, an error once the server
    /// refused every credential or demands a password change.
    pub(crate) fn client_auth_step(&mut self) -> Option<io::Result<()>> {
        while let Some(event) = self.auth.pop_front() {
            match event {
                AuthEvent::Success => return Some(Ok(())),
                AuthEvent::Exhausted { methods_left } => {
                    return Some(Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!(
                            "authentication failed; the server still accepts: {}",
                            methods_left.join(", ")
                        ),
                    )));
                }
                AuthEvent::InfoRequest(request) if request.prompts.is_empty() => {
                    let _ = self.conn.auth_info_response(&[]);
                }
                AuthEvent::PasswordChangeRequired { prompt } => {
                    return Some(Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!("the server requires a password change: {prompt}"),
                    )));
                }
                _ => {}
            }
        }
        None
    }

    /// The state of channel `id` of this generation (`None` for a stale
    /// handle).
    pub(crate) fn channel(&mut self, id: ChannelId, generation: u64) -> Option<&mut ChannelState> {
        self.channels
            .get_mut(&id)
            .filter(|c| c.generation == generation)
    }

    /// The current generation of channel number `id` (0: none known).
    pub(crate) fn generation(&self, id: ChannelId) -> u64 {
        self.channels.get(&id).map_or(0, |c| c.generation)
    }

    /// Whether a handle of generation `generation` of channel `id` is out
    /// of date: the number now belongs to another channel.
    pub(crate) fn is_stale(&self, id: ChannelId, generation: u64) -> bool {
        self.generation(id) != generation
    }

    /// Closes channel `id` (of this generation; a stale handle closes
    /// nothing).
    pub(crate) fn close_channel(&mut self, id: ChannelId, generation: u64) {
        if !self.is_stale(id, generation) {
            // An error means: already closed by both sides, or the session
            // is gone.
            let _ = self.conn.channel_close(id);
        }
    }

    /// Lets go of channel `id` (its last handle is gone): closes it, or
    /// once it opens if the peer has not answered yet. A stale handle lets
    /// go of nothing.
    pub(crate) fn release_channel(&mut self, id: ChannelId, generation: u64) {
        if self.is_stale(id, generation) {
            return;
        }
        self.unpoll(id);
        if self.conn.channel_close(id).is_err() {
            // Not open: still opening (then closed once it opens), or
            // already gone (then the mark is forgotten with the number).
            if let Some(state) = self.channels.get_mut(&id) {
                state.abandoned = !state.closed;
            }
        }
    }

    /// Whether a server's control loop has something to answer: an auth
    /// request, a channel to accept or refuse, a global or channel request
    /// (what `next_work` takes).
    pub(crate) fn has_control_work(&self) -> bool {
        !self.auth.is_empty()
            || !self.offered.is_empty()
            || !self.global_requests.is_empty()
            || self.channels.values().any(|c| !c.requests.is_empty())
    }

    /// Tells the connection what the application's host key check said
    /// (`Err` with the reason to refuse): the key exchange goes on, or the
    /// connection ends with that reason as the error.
    pub(crate) fn settle_host_key(&mut self, verdict: Result<(), String>) -> io::Result<()> {
        match verdict {
            Ok(()) => Ok(self.conn.accept_host_key()?),
            Err(why) => Err(self.conn.reject_host_key(&why).into()),
        }
    }

    /// The user authentication let in (empty before).
    pub(crate) fn user(&self) -> String {
        self.conn
            .authenticated_user()
            .unwrap_or_default()
            .to_string()
    }

    /// Answers a global request that wants an answer: success with `data`,
    /// or failure.
    pub(crate) fn global_request_reply(
        &mut self,
        want_reply: bool,
        data: Option<&[u8]>,
    ) -> Result<(), crate::transport::Error> {
        match (want_reply, data) {
            (false, _) => Ok(()),
            (true, Some(data)) => self.conn.global_request_reply(true, data),
            (true, None) => self.conn.global_request_reply(false, &[]),
        }
    }

    /// Sends a request on channel `id` (of this generation).
    pub(crate) fn channel_request(
        &mut self,
        id: ChannelId,
        generation: u64,
        request: &ChannelRequestKind<'_>,
        want_reply: bool,
    ) -> io::Result<()> {
        if self.is_stale(id, generation) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("{id}: closed"),
            ));
        }
        Ok(self.conn.channel_request(id, request, want_reply)?)
    }

    /// Sends EOF on channel `id`. On a channel already closed by both sides
    /// it does nothing, as a socket's write shutdown after the peer hung up
    /// (a client piping input into a command that never read it races with
    /// the command's end).
    pub(crate) fn channel_eof(&mut self, id: ChannelId, generation: u64) -> io::Result<()> {
        if self.is_stale(id, generation) || self.channels.get(&id).is_some_and(|c| c.closed) {
            return Ok(());
        }
        Ok(self.conn.channel_eof(id)?)
    }

    /// The peer's answer to our opening channel `id`.
    pub(crate) fn take_open_result(&mut self, id: ChannelId) -> Option<io::Result<()>> {
        let state = self.channels.entry(id).or_default();
        match state.opened.take()? {
            Ok(()) => Some(Ok(())),
            Err((reason, description)) => {
                self.channels.remove(&id);
                Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!("channel refused ({reason:?}): {description}"),
                )))
            }
        }
    }

    /// The peer's answer to our oldest pending request on channel `id`.
    pub(crate) fn take_request_reply(
        &mut self,
        id: ChannelId,
        generation: u64,
    ) -> Option<io::Result<bool>> {
        if self.is_stale(id, generation) {
            return Some(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "channel closed",
            )));
        }
        let state = self.channels.entry(id).or_default();
        while state.discard_replies > 0 && state.replies.pop_front().is_some() {
            state.discard_replies -= 1;
        }
        if state.discard_replies == 0
            && let Some(success) = state.replies.pop_front()
        {
            return Some(Ok(success));
        }
        state
            .closed
            .then(|| Err(io::Error::new(io::ErrorKind::BrokenPipe, "channel closed")))
    }

    /// Once the peer sent the exit status or closed channel `id`: the
    /// status, if it sent one.
    pub(crate) fn finished_exit_status(
        &mut self,
        id: ChannelId,
        generation: u64,
    ) -> Option<io::Result<Option<u32>>> {
        if self.is_stale(id, generation) {
            // Long over; what it sent went with its number.
            return Some(Ok(None));
        }
        let state = self.channels.entry(id).or_default();
        (state.closed || state.exit_status.is_some()).then_some(Ok(state.exit_status))
    }

    /// Reads stdout or stderr of channel `id`: `Ok(0)` at its end, `None`
    /// when nothing is there yet.
    pub(crate) fn try_read(
        &mut self,
        id: ChannelId,
        generation: u64,
        buf: &mut [u8],
        stderr: bool,
    ) -> Option<io::Result<usize>> {
        if self.is_stale(id, generation) {
            // Its channel is over, and the number is another's now.
            return Some(Ok(0));
        }
        let n = if stderr {
            self.conn.channel_read_stderr(id, buf)
        } else {
            self.conn.channel_read(id, buf)
        };
        match n {
            Ok(0) if buf.is_empty() => Some(Ok(0)),
            Ok(0) => {
                let (out, err) = self.conn.channel_pending(id);
                let pending = if stderr { err } else { out };
                let closed = self.channels.get(&id).is_some_and(|c| c.closed);
                if pending == 0 && (self.conn.channel_eof_received(id) || closed) {
                    Some(Ok(0))
                } else if self.is_over() {
                    // A session that ended after the peer's last data reads
                    // as the end of the stream; any other end is an error.
                    Some(match self.ended_error() {
                        e if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                        e => Err(e),
                    })
                } else {
                    None
                }
            }
            Ok(n) => Some(Ok(n)),
            Err(e) => Some(Err(e.into())),
        }
    }

    /// Sends as much of `data` on channel `id` as the peer's window allows:
    /// `None` while the window is closed.
    pub(crate) fn try_send(
        &mut self,
        id: ChannelId,
        generation: u64,
        data: &[u8],
        stderr: bool,
    ) -> Option<io::Result<usize>> {
        if self.is_stale(id, generation) {
            return Some(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("{id}: closed"),
            )));
        }
        if data.is_empty() {
            return Some(Ok(0));
        }
        let sent = if stderr {
            self.conn.channel_send_stderr(id, data)
        } else {
            self.conn.channel_send(id, data)
        };
        match sent {
            Ok(0) => None,
            Ok(n) => Some(Ok(n)),
            Err(e) => Some(Err(io::Error::new(io::ErrorKind::BrokenPipe, e))),
        }
    }
}

/// The error for a channel request the peer refused.
pub(crate) fn refused(request: &ChannelRequestKind<'_>) -> io::Error {
    io::Error::other(format!("the peer refused the {} request", request.name()))
}
