//! The connection protocol (RFC 4254): channels with per-channel flow
//! control, channel requests, and global requests.
//!
//! Received data waits in a per-channel buffer that can never hold more than
//! the window we granted, and the window is only reopened (WINDOW_ADJUST) as
//! the application reads: a channel whose reader stalls stops its own
//! sender, and no other. Sent data goes out as far as the peer's window
//! allows; `channel_send` returns how much that was, like a non-blocking
//! socket, and [`ChannelEvent::Writable`] says when there is room again.

use crate::connection::Connection;
use crate::error::Error;
use crate::event::Event;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use sekura_proto::msg::{
    ChannelClose, ChannelData, ChannelEof, ChannelExtendedData, ChannelFailure, ChannelKind,
    ChannelOpen, ChannelOpenConfirmation, ChannelOpenFailure, ChannelRequest, ChannelRequestKind,
    ChannelSuccess, ChannelWindowAdjust, GlobalRequest, GlobalRequestKind, RequestFailure,
    RequestSuccess,
};
use sekura_proto::numbers::{self, ChannelOpenFailureReason, EXTENDED_DATA_STDERR};

/// Our number for a channel. Numbers are reused only after both sides have
/// closed the channel, so a late message can never reach a new channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

impl core::fmt::Display for ChannelId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "channel {}", self.0)
    }
}

/// The largest data packet sekura sends, whatever larger size the peer
/// allows: every implementation takes 32 KiB, and more buys nothing.
const MAX_SEND_CHUNK: u32 = 32 * 1024;

/// How much channel data may wait in memory while a key exchange holds
/// packets back; [`Connection::channel_send`] takes no more than this in
/// one call either.
const MAX_QUEUED_DATA: usize = 1024 * 1024;

/// What the application hears about channels.
#[derive(Debug)]
#[non_exhaustive]
pub enum ChannelEvent {
    /// The peer confirmed a channel we opened.
    Opened {
        /// The channel.
        channel: ChannelId,
    },
    /// The peer refused a channel we opened; its number is free again.
    OpenFailed {
        /// The channel.
        channel: ChannelId,
        /// The peer's reason code.
        reason: ChannelOpenFailureReason,
        /// The peer's explanation.
        description: String,
    },
    /// The peer asks to open a channel: answer with
    /// [`Connection::accept_channel`] or [`Connection::reject_channel`].
    OpenRequest {
        /// The number the channel will have.
        channel: ChannelId,
        /// What kind of channel, with its fields.
        request: ReceivedMessage,
    },
    /// Data arrived where there was none: read it with
    /// [`Connection::channel_read`] (or `channel_read_stderr`).
    Readable {
        /// The channel.
        channel: ChannelId,
    },
    /// The peer's window has room again after a short
    /// [`Connection::channel_send`].
    Writable {
        /// The channel.
        channel: ChannelId,
    },
    /// The peer sent a channel request (pty-req, exec, exit-status, ...).
    /// When `want_reply` is set, answer with
    /// [`Connection::channel_request_reply`], in the order requests came.
    Request {
        /// The channel.
        channel: ChannelId,
        /// Whether the peer waits for an answer.
        want_reply: bool,
        /// The request, decoded with [`ReceivedMessage::channel_request`].
        request: ReceivedMessage,
    },
    /// The answer to one of our channel requests, in the order they were
    /// made.
    RequestReply {
        /// The channel.
        channel: ChannelId,
        /// Whether the peer granted it.
        success: bool,
    },
    /// The peer will send no more data on this channel.
    Eof {
        /// The channel.
        channel: ChannelId,
    },
    /// Both sides closed the channel; its number may be reused.
    Closed {
        /// The channel.
        channel: ChannelId,
    },
    /// The peer sent a global request (tcpip-forward, ...). When
    /// `want_reply` is set, answer with [`Connection::global_request_reply`].
    GlobalRequest {
        /// Whether the peer waits for an answer.
        want_reply: bool,
        /// The request, decoded with [`ReceivedMessage::global_request`].
        request: ReceivedMessage,
    },
    /// The answer to one of our global requests, in order.
    GlobalReply {
        /// Whether it was granted.
        success: bool,
        /// Request-specific data (the bound port of a `tcpip-forward` for
        /// port 0).
        data: Vec<u8>,
    },
    /// The server announced its host keys (`hostkeys-00@openssh.com`), so
    /// the client can update known_hosts.
    HostKeys {
        /// The public key blobs.
        keys: Vec<Vec<u8>>,
    },
}

/// A received message kept whole, for events that outlive the receive
/// buffer; its typed view is decoded on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    payload: Vec<u8>,
}

impl ReceivedMessage {
    /// The raw payload, message number included.
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The channel type and fields of a CHANNEL_OPEN.
    #[must_use]
    pub fn channel_kind(&self) -> Option<ChannelKind<'_>> {
        ChannelOpen::decode(&self.payload).ok().map(|m| m.kind)
    }

    /// The request of a CHANNEL_REQUEST.
    #[must_use]
    pub fn channel_request(&self) -> Option<ChannelRequestKind<'_>> {
        ChannelRequest::decode(&self.payload)
            .ok()
            .map(|m| m.request)
    }

    /// The request of a GLOBAL_REQUEST.
    #[must_use]
    pub fn global_request(&self) -> Option<GlobalRequestKind<'_>> {
        GlobalRequest::decode(&self.payload).ok().map(|m| m.request)
    }
}

/// Where a channel stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// We sent CHANNEL_OPEN and wait for the answer.
    Opening,
    /// The peer sent CHANNEL_OPEN and the application has not answered.
    Offered,
    /// Both sides have numbers for it.
    Open,
    /// Both sides closed it; it lingers only until its received data is
    /// read, then its number is free.
    Closed,
}

/// One channel's state.
#[derive(Debug)]
pub(crate) struct Channel {
    stage: Stage,
    remote_id: u32,
    /// Bytes the peer may still send us.
    recv_window: u32,
    /// Received, not yet read by the application.
    stdout: VecDeque<u8>,
    stderr: VecDeque<u8>,
    /// Read by the application since the last WINDOW_ADJUST.
    consumed: u32,
    /// Bytes we may still send.
    send_window: u32,
    send_max_packet: u32,
    /// A send was cut short by the window: report when it opens.
    want_writable: bool,
    eof_sent: bool,
    eof_received: bool,
    close_sent: bool,
    close_received: bool,
    /// Our requests that wait for a reply.
    replies_expected: u32,
    /// The peer's requests that wait for our reply.
    replies_owed: u32,
}

/// Every channel of a connection, by our number.
#[derive(Debug, Default)]
pub(crate) struct ChannelTable {
    slots: Vec<Option<Channel>>,
    live: usize,
    /// Our global requests that wait for a reply, oldest first: `true` for
    /// our own keepalives, whose replies the application never sees.
    global_replies_expected: VecDeque<bool>,
    /// Keepalives sent since the peer was last heard from.
    pub(crate) keepalives_outstanding: u32,
    /// The peer's global requests that wait for our reply.
    global_replies_owed: u32,
    /// Server: the client promised to open no more sessions
    /// (`no-more-sessions@openssh.com`).
    no_more_sessions: bool,
}

impl ChannelTable {
    fn get(&self, id: u32) -> Option<&Channel> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, id: u32) -> Option<&mut Channel> {
        self.slots.get_mut(id as usize).and_then(Option::as_mut)
    }

    /// A free number, or `None` at the limit.
    fn allocate(&mut self, limit: usize, channel: Channel) -> Option<u32> {
        if self.live >= limit {
            return None;
        }
        let index = match self.slots.iter().position(Option::is_none) {
            Some(index) => index,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let id = u32::try_from(index).ok()?;
        *self.slots.get_mut(index)? = Some(channel);
        self.live += 1;
        Some(id)
    }

    fn free(&mut self, id: u32) {
        if let Some(slot) = self.slots.get_mut(id as usize)
            && slot.take().is_some()
        {
            self.live -= 1;
        }
    }
}

fn new_channel(stage: Stage, recv_window: u32) -> Channel {
    Channel {
        stage,
        remote_id: 0,
        recv_window,
        stdout: VecDeque::new(),
        stderr: VecDeque::new(),
        consumed: 0,
        send_window: 0,
        send_max_packet: 0,
        want_writable: false,
        eof_sent: false,
        eof_received: false,
        close_sent: false,
        close_received: false,
        replies_expected: 0,
        replies_owed: 0,
    }
}

fn unknown(id: ChannelId) -> Error {
    Error::Channel(alloc::format!("{id} is not open"))
}

impl Connection {
    // ----- commands: opening -----

    /// Opens a `session` channel (a shell, command or subsystem). The answer
    /// comes as [`ChannelEvent::Opened`] or [`ChannelEvent::OpenFailed`].
    pub fn open_session(&mut self) -> Result<ChannelId, Error> {
        self.open_channel(&ChannelKind::Session)
    }

    /// Opens a `direct-tcpip` channel: the server connects to `host:port`
    /// on our behalf (`ssh -L`).
    pub fn open_direct_tcpip(
        &mut self,
        host: &str,
        port: u32,
        originator_address: &str,
        originator_port: u32,
    ) -> Result<ChannelId, Error> {
        self.open_channel(&ChannelKind::DirectTcpip {
            host,
            port,
            originator_address,
            originator_port,
        })
    }

    /// Opens a channel of any kind.
    pub fn open_channel(&mut self, kind: &ChannelKind<'_>) -> Result<ChannelId, Error> {
        self.check_connection_ready()?;
        let window = self.config.channel_window;
        let limit = self.config.max_channels;
        let id = self
            .channels
            .allocate(limit, new_channel(Stage::Opening, window))
            .ok_or_else(|| Error::Channel(alloc::format!("at most {limit} channels")))?;
        self.send_after_kex(&ChannelOpen {
            sender_channel: id,
            initial_window: window,
            max_packet: self.config.channel_max_packet,
            kind: kind.clone(),
        });
        Ok(ChannelId(id))
    }

    /// Accepts a channel the peer asked to open
    /// ([`ChannelEvent::OpenRequest`]).
    pub fn accept_channel(&mut self, channel: ChannelId) -> Result<(), Error> {
        self.check_open()?;
        let window = self.config.channel_window;
        let max_packet = self.config.channel_max_packet;
        let Some(ch) = self
            .channels
            .get_mut(channel.0)
            .filter(|c| c.stage == Stage::Offered)
        else {
            return Err(unknown(channel));
        };
        ch.stage = Stage::Open;
        let remote = ch.remote_id;
        self.send_after_kex(&ChannelOpenConfirmation {
            recipient_channel: remote,
            sender_channel: channel.0,
            initial_window: window,
            max_packet,
            data: &[],
        });
        Ok(())
    }

    /// Refuses a channel the peer asked to open.
    pub fn reject_channel(
        &mut self,
        channel: ChannelId,
        reason: ChannelOpenFailureReason,
        description: &str,
    ) -> Result<(), Error> {
        self.check_open()?;
        let Some(ch) = self
            .channels
            .get(channel.0)
            .filter(|c| c.stage == Stage::Offered)
        else {
            return Err(unknown(channel));
        };
        let remote = ch.remote_id;
        self.channels.free(channel.0);
        self.send_after_kex(&ChannelOpenFailure {
            recipient_channel: remote,
            reason,
            description,
            language: "",
        });
        Ok(())
    }

    // ----- commands: data -----

    /// Sends as much of `data` as the peer's window allows, returning how
    /// much that was (possibly 0: then wait for [`ChannelEvent::Writable`],
    /// or, while a key exchange holds 1 MiB of data back already, for
    /// [`Event::KeyExchangeDone`](crate::Event::KeyExchangeDone)).
    pub fn channel_send(&mut self, channel: ChannelId, data: &[u8]) -> Result<usize, Error> {
        self.send_channel_data(channel, data, None)
    }

    /// Like [`channel_send`](Self::channel_send), as extended data of type
    /// stderr (a server's command output).
    pub fn channel_send_stderr(&mut self, channel: ChannelId, data: &[u8]) -> Result<usize, Error> {
        self.send_channel_data(channel, data, Some(EXTENDED_DATA_STDERR))
    }

    fn send_channel_data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        data_type: Option<u32>,
    ) -> Result<usize, Error> {
        let ch = self.local_channel(channel)?;
        if ch.eof_sent || ch.close_sent {
            return Err(Error::Channel(alloc::format!(
                "{channel}: already closed for sending"
            )));
        }
        // While a key exchange holds packets back, channel data waits in
        // memory: take only what keeps that bounded, as a socket whose
        // buffer is full would (the rest is sent once the keys are new).
        let room = MAX_QUEUED_DATA.saturating_sub(self.queued_bytes);
        let ch = self.local_channel(channel)?;
        let allowed = (ch.send_window as usize).min(data.len()).min(room);
        if allowed < data.len() {
            ch.want_writable = true;
        }
        ch.send_window -= allowed as u32;
        let chunk_len = ch.send_max_packet.clamp(1, MAX_SEND_CHUNK) as usize;
        let remote = ch.remote_id;
        let mut rest = data.get(..allowed).unwrap_or_default();
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(chunk_len.min(rest.len()));
            match data_type {
                None => self.send_after_kex(&ChannelData {
                    recipient_channel: remote,
                    data: chunk,
                }),
                Some(data_type) => self.send_after_kex(&ChannelExtendedData {
                    recipient_channel: remote,
                    data_type,
                    data: chunk,
                }),
            }
            rest = tail;
        }
        // A side that only sends (a download) must rekey too: its limits
        // are not checked on input it never gets.
        self.maybe_rekey()?;
        Ok(allowed)
    }

    /// Reads received data (stdout for a session) into `buf`; returns how
    /// many bytes. 0 means nothing is waiting: see
    /// [`channel_eof_received`](Self::channel_eof_received) for the end.
    /// Data that arrived before the peer closed the channel stays readable
    /// after [`ChannelEvent::Closed`]; the channel's number is reused only
    /// once it has all been read.
    pub fn channel_read(&mut self, channel: ChannelId, buf: &mut [u8]) -> Result<usize, Error> {
        self.read_channel(channel, buf, false)
    }

    /// Reads received extended data (stderr).
    pub fn channel_read_stderr(
        &mut self,
        channel: ChannelId,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        self.read_channel(channel, buf, true)
    }

    fn read_channel(
        &mut self,
        channel: ChannelId,
        buf: &mut [u8],
        stderr: bool,
    ) -> Result<usize, Error> {
        let threshold = self.config.channel_window / 2;
        // A channel that is gone (closed by both sides, everything read)
        // reads like a socket at its end: 0 bytes.
        let Some(ch) = self.channels.get_mut(channel.0) else {
            return Ok(0);
        };
        let queue = if stderr {
            &mut ch.stderr
        } else {
            &mut ch.stdout
        };
        let n = buf.len().min(queue.len());
        // Two memcpys at most (the ring buffer's two halves).
        let (front, back) = queue.as_slices();
        let from_front = n.min(front.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..from_front), front.get(..from_front)) {
            dst.copy_from_slice(src);
        }
        if let (Some(dst), Some(src)) = (buf.get_mut(from_front..n), back.get(..n - from_front)) {
            dst.copy_from_slice(src);
        }
        queue.drain(..n);
        if ch.stage == Stage::Closed {
            if ch.stdout.is_empty() && ch.stderr.is_empty() {
                self.channels.free(channel.0);
            }
            return Ok(n);
        }
        ch.consumed = ch.consumed.saturating_add(n as u32);
        // Reopen the window once half of it was read (as OpenSSH does), so
        // adjusts are few and the sender never idles.
        if ch.consumed >= threshold && ch.stage == Stage::Open && !ch.eof_received && !ch.close_sent
        {
            let add = ch.consumed;
            ch.consumed = 0;
            ch.recv_window = ch.recv_window.saturating_add(add);
            let remote = ch.remote_id;
            if self.state != crate::connection::State::Closed {
                self.send_after_kex(&ChannelWindowAdjust {
                    recipient_channel: remote,
                    bytes_to_add: add,
                });
            }
        }
        Ok(n)
    }

    /// Bytes received on a channel and not yet read: (stdout, stderr).
    #[must_use]
    pub fn channel_pending(&self, channel: ChannelId) -> (usize, usize) {
        self.channels
            .get(channel.0)
            .map_or((0, 0), |c| (c.stdout.len(), c.stderr.len()))
    }

    /// Whether the peer sent EOF on the channel (or closed it) and every
    /// byte has been read.
    #[must_use]
    pub fn channel_eof_received(&self, channel: ChannelId) -> bool {
        self.channels.get(channel.0).is_none_or(|c| {
            (c.eof_received || c.close_received) && c.stdout.is_empty() && c.stderr.is_empty()
        })
    }

    /// How many bytes the peer's window lets us send now.
    #[must_use]
    pub fn channel_send_window(&self, channel: ChannelId) -> usize {
        self.channels
            .get(channel.0)
            .map_or(0, |c| c.send_window as usize)
    }

    // ----- commands: requests and teardown -----

    /// Sends a channel request (pty-req, shell, exec, env, window-change,
    /// signal, exit-status, ...). With `want_reply`, the answer comes as
    /// [`ChannelEvent::RequestReply`].
    pub fn channel_request(
        &mut self,
        channel: ChannelId,
        request: &ChannelRequestKind<'_>,
        want_reply: bool,
    ) -> Result<(), Error> {
        let ch = self.local_channel(channel)?;
        if ch.close_sent {
            return Err(unknown(channel));
        }
        if want_reply {
            ch.replies_expected += 1;
        }
        let remote = ch.remote_id;
        self.send_after_kex(&ChannelRequest {
            recipient_channel: remote,
            want_reply,
            request: request.clone(),
        });
        Ok(())
    }

    /// Answers the oldest unanswered request of the peer on this channel
    /// that asked for a reply.
    pub fn channel_request_reply(
        &mut self,
        channel: ChannelId,
        success: bool,
    ) -> Result<(), Error> {
        self.check_open()?;
        let Some(ch) = self
            .channels
            .get_mut(channel.0)
            .filter(|c| c.replies_owed > 0)
        else {
            return Err(Error::Channel(alloc::format!(
                "{channel}: no request awaits a reply"
            )));
        };
        ch.replies_owed -= 1;
        let remote = ch.remote_id;
        if ch.close_sent {
            return Ok(());
        }
        if success {
            self.send_after_kex(&ChannelSuccess {
                recipient_channel: remote,
            });
        } else {
            self.send_after_kex(&ChannelFailure {
                recipient_channel: remote,
            });
        }
        Ok(())
    }

    /// Sends EOF: we will send no more data (the half-close of RFC 4254
    /// §5.3); reading goes on.
    pub fn channel_eof(&mut self, channel: ChannelId) -> Result<(), Error> {
        let ch = self.local_channel(channel)?;
        if ch.eof_sent || ch.close_sent {
            return Ok(());
        }
        ch.eof_sent = true;
        let remote = ch.remote_id;
        self.send_after_kex(&ChannelEof {
            recipient_channel: remote,
        });
        Ok(())
    }

    /// Closes the channel. [`ChannelEvent::Closed`] follows when the peer
    /// has closed it too.
    pub fn channel_close(&mut self, channel: ChannelId) -> Result<(), Error> {
        let ch = self.local_channel(channel)?;
        if ch.close_sent {
            return Ok(());
        }
        ch.close_sent = true;
        let remote = ch.remote_id;
        let both = ch.close_received;
        self.send_after_kex(&ChannelClose {
            recipient_channel: remote,
        });
        if both {
            self.finish_channel(channel.0);
        }
        Ok(())
    }

    // ----- commands: global requests -----

    /// Sends a global request (tcpip-forward, keepalive@openssh.com, ...).
    /// With `want_reply`, the answer comes as [`ChannelEvent::GlobalReply`].
    pub fn global_request(
        &mut self,
        request: &GlobalRequestKind<'_>,
        want_reply: bool,
    ) -> Result<(), Error> {
        self.check_connection_ready()?;
        if want_reply {
            self.channels.global_replies_expected.push_back(false);
        }
        self.send_after_kex(&GlobalRequest {
            want_reply,
            request: request.clone(),
        });
        Ok(())
    }

    /// Answers the oldest unanswered global request of the peer; `data` is
    /// request-specific (the bound port for a `tcpip-forward` of port 0,
    /// as a uint32).
    pub fn global_request_reply(&mut self, success: bool, data: &[u8]) -> Result<(), Error> {
        self.check_open()?;
        if self.channels.global_replies_owed == 0 {
            return Err(Error::Channel("no global request awaits a reply".into()));
        }
        self.channels.global_replies_owed -= 1;
        if success {
            self.send_after_kex(&RequestSuccess { data });
        } else {
            self.send_after_kex(&RequestFailure);
        }
        Ok(())
    }

    /// Sends a keepalive whose reply only proves the peer is alive.
    pub(crate) fn send_keepalive(&mut self) {
        self.channels.global_replies_expected.push_back(true);
        self.channels.keepalives_outstanding += 1;
        self.send_after_kex(&GlobalRequest {
            want_reply: true,
            request: GlobalRequestKind::KeepAlive,
        });
    }

    // ----- internals -----

    /// Channels and global requests need a completed authentication.
    fn check_connection_ready(&self) -> Result<(), Error> {
        self.check_open()?;
        if !self.is_authenticated() {
            return Err(Error::Channel("not authenticated".into()));
        }
        Ok(())
    }

    /// Both sides have closed the channel: its number is free once the
    /// application has read what arrived before the close.
    fn finish_channel(&mut self, id: u32) {
        if let Some(ch) = self.channels.get_mut(id) {
            ch.stage = Stage::Closed;
            if ch.stdout.is_empty() && ch.stderr.is_empty() {
                self.channels.free(id);
            }
        }
        self.events.push_back(Event::Channel(ChannelEvent::Closed {
            channel: ChannelId(id),
        }));
    }

    fn channel_event(&mut self, event: ChannelEvent) {
        self.events.push_back(Event::Channel(event));
    }

    /// Looks up an open channel for a command of the application.
    fn local_channel(&mut self, channel: ChannelId) -> Result<&mut Channel, Error> {
        self.check_open()?;
        self.channels
            .get_mut(channel.0)
            .filter(|c| c.stage == Stage::Open)
            .ok_or_else(|| unknown(channel))
    }

    /// Looks up the channel a message names, which must be open.
    fn open_channel_mut(&mut self, id: u32, what: &str) -> Result<&mut Channel, Error> {
        match self.channels.get_mut(id) {
            Some(ch) if ch.stage == Stage::Open => Ok(ch),
            _ => Err(Error::protocol(alloc::format!(
                "{what} for channel {id}, which is not open"
            ))),
        }
    }

    /// Handles a message of the connection protocol (80-127).
    pub(crate) fn on_connection_message(&mut self, payload: &[u8]) -> Result<(), Error> {
        if !self.is_authenticated() {
            return Err(Error::protocol(
                "connection protocol message before authentication",
            ));
        }
        let number = payload.first().copied().unwrap_or(0);
        match number {
            numbers::GLOBAL_REQUEST => self.on_global_request(payload),
            numbers::REQUEST_SUCCESS | numbers::REQUEST_FAILURE => {
                let Some(keepalive) = self.channels.global_replies_expected.pop_front() else {
                    return Err(Error::protocol("global request reply without a request"));
                };
                if keepalive {
                    return Ok(());
                }
                let (success, data) = if number == numbers::REQUEST_SUCCESS {
                    (true, RequestSuccess::decode(payload)?.data.to_vec())
                } else {
                    RequestFailure::decode(payload)?;
                    (false, Vec::new())
                };
                self.channel_event(ChannelEvent::GlobalReply { success, data });
                Ok(())
            }
            numbers::CHANNEL_OPEN => self.on_channel_open(payload),
            numbers::CHANNEL_OPEN_CONFIRMATION => {
                let msg = ChannelOpenConfirmation::decode(payload)?;
                let id = msg.recipient_channel;
                let Some(ch) = self
                    .channels
                    .get_mut(id)
                    .filter(|c| c.stage == Stage::Opening)
                else {
                    return Err(Error::protocol(alloc::format!(
                        "confirmation for channel {id}, which we are not opening"
                    )));
                };
                ch.stage = Stage::Open;
                ch.remote_id = msg.sender_channel;
                ch.send_window = msg.initial_window;
                ch.send_max_packet = msg.max_packet;
                self.channel_event(ChannelEvent::Opened {
                    channel: ChannelId(id),
                });
                Ok(())
            }
            numbers::CHANNEL_OPEN_FAILURE => {
                let msg = ChannelOpenFailure::decode(payload)?;
                let id = msg.recipient_channel;
                if self
                    .channels
                    .get(id)
                    .is_none_or(|c| c.stage != Stage::Opening)
                {
                    return Err(Error::protocol(alloc::format!(
                        "open failure for channel {id}, which we are not opening"
                    )));
                }
                self.channels.free(id);
                self.channel_event(ChannelEvent::OpenFailed {
                    channel: ChannelId(id),
                    reason: msg.reason,
                    description: msg.description.to_string(),
                });
                Ok(())
            }
            numbers::CHANNEL_WINDOW_ADJUST => {
                let msg = ChannelWindowAdjust::decode(payload)?;
                let ch = self.open_channel_mut(msg.recipient_channel, "WINDOW_ADJUST")?;
                // RFC 4254 §5.2: a window may not grow beyond 2^32 - 1.
                ch.send_window = ch
                    .send_window
                    .checked_add(msg.bytes_to_add)
                    .ok_or_else(|| Error::protocol("window adjusted beyond 2^32 - 1"))?;
                let notify = core::mem::take(&mut ch.want_writable) && msg.bytes_to_add > 0;
                if notify {
                    self.channel_event(ChannelEvent::Writable {
                        channel: ChannelId(msg.recipient_channel),
                    });
                }
                Ok(())
            }
            numbers::CHANNEL_DATA => {
                let msg = ChannelData::decode(payload)?;
                self.on_channel_data(msg.recipient_channel, msg.data, false)
            }
            numbers::CHANNEL_EXTENDED_DATA => {
                let msg = ChannelExtendedData::decode(payload)?;
                // Only stderr is defined; other types are dropped after the
                // window accounting, as RFC 4254 §5.2 permits.
                if msg.data_type == EXTENDED_DATA_STDERR {
                    self.on_channel_data(msg.recipient_channel, msg.data, true)
                } else {
                    self.account_dropped(msg.recipient_channel, msg.data.len())
                }
            }
            numbers::CHANNEL_EOF => {
                let msg = ChannelEof::decode(payload)?;
                let ch = self.open_channel_mut(msg.recipient_channel, "EOF")?;
                if !ch.eof_received {
                    ch.eof_received = true;
                    self.channel_event(ChannelEvent::Eof {
                        channel: ChannelId(msg.recipient_channel),
                    });
                }
                Ok(())
            }
            numbers::CHANNEL_CLOSE => {
                let msg = ChannelClose::decode(payload)?;
                let id = msg.recipient_channel;
                let ch = self.open_channel_mut(id, "CLOSE")?;
                if ch.close_received {
                    return Err(Error::protocol(alloc::format!(
                        "second CLOSE for channel {id}"
                    )));
                }
                ch.close_received = true;
                let remote = ch.remote_id;
                // RFC 4254 §5.3: answer a CLOSE with ours, then the number
                // is free: the peer will not mention it again.
                if !ch.close_sent {
                    ch.close_sent = true;
                    self.send_after_kex(&ChannelClose {
                        recipient_channel: remote,
                    });
                }
                self.finish_channel(id);
                Ok(())
            }
            numbers::CHANNEL_REQUEST => {
                let msg = ChannelRequest::decode(payload)?;
                let id = msg.recipient_channel;
                let ch = self.open_channel_mut(id, "CHANNEL_REQUEST")?;
                if msg.want_reply {
                    ch.replies_owed += 1;
                }
                self.channel_event(ChannelEvent::Request {
                    channel: ChannelId(id),
                    want_reply: msg.want_reply,
                    request: ReceivedMessage {
                        payload: payload.to_vec(),
                    },
                });
                Ok(())
            }
            numbers::CHANNEL_SUCCESS | numbers::CHANNEL_FAILURE => {
                let (id, success) = if number == numbers::CHANNEL_SUCCESS {
                    (ChannelSuccess::decode(payload)?.recipient_channel, true)
                } else {
                    (ChannelFailure::decode(payload)?.recipient_channel, false)
                };
                let ch = self.open_channel_mut(id, "channel request reply")?;
                if ch.replies_expected == 0 {
                    return Err(Error::protocol(alloc::format!(
                        "reply on channel {id} without a request"
                    )));
                }
                ch.replies_expected -= 1;
                self.channel_event(ChannelEvent::RequestReply {
                    channel: ChannelId(id),
                    success,
                });
                Ok(())
            }
            _ => Err(Error::protocol(alloc::format!(
                "unknown connection protocol message {number}"
            ))),
        }
    }

    /// Checks extended data of an unknown type against the window, then
    /// drops it. Nobody will read it, so the window it took is given back
    /// at once (by not taking it).
    fn account_dropped(&mut self, id: u32, len: usize) -> Result<(), Error> {
        let ch = self.open_channel_mut(id, "extended data")?;
        if ch.eof_received || ch.close_received {
            return Err(Error::protocol(alloc::format!(
                "data on channel {id} after EOF"
            )));
        }
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        if len > ch.recv_window {
            return Err(Error::protocol(alloc::format!(
                "channel {id}: {len} bytes of data, the window allows {}",
                ch.recv_window
            )));
        }
        Ok(())
    }

    fn on_channel_data(&mut self, id: u32, data: &[u8], stderr: bool) -> Result<(), Error> {
        let max_packet = self.config.channel_max_packet;
        let ch = self.open_channel_mut(id, "data")?;
        if ch.eof_received || ch.close_received {
            return Err(Error::protocol(alloc::format!(
                "data on channel {id} after EOF"
            )));
        }
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        if len > max_packet {
            return Err(Error::protocol(alloc::format!(
                "channel {id}: a data packet of {len} bytes, the maximum is {max_packet}"
            )));
        }
        if len > ch.recv_window {
            return Err(Error::protocol(alloc::format!(
                "channel {id}: {len} bytes of data, the window allows {}",
                ch.recv_window
            )));
        }
        ch.recv_window -= len;
        let was_empty = ch.stdout.is_empty() && ch.stderr.is_empty();
        if stderr {
            ch.stderr.extend(data);
        } else {
            ch.stdout.extend(data);
        }
        if was_empty && !data.is_empty() {
            self.channel_event(ChannelEvent::Readable {
                channel: ChannelId(id),
            });
        }
        Ok(())
    }

    fn on_channel_open(&mut self, payload: &[u8]) -> Result<(), Error> {
        let msg = ChannelOpen::decode(payload)?;
        let refuse = |reason| -> Option<(ChannelOpenFailureReason, &'static str)> { Some(reason) };
        let problem = if matches!(msg.kind, ChannelKind::Session) && self.channels.no_more_sessions
        {
            refuse((
                ChannelOpenFailureReason::AdministrativelyProhibited,
                "no more sessions",
            ))
        } else if matches!(msg.kind, ChannelKind::Session)
            && self.role == sekura_algorithms::Role::Client
        {
            refuse((
                ChannelOpenFailureReason::AdministrativelyProhibited,
                "a client opens no sessions for its server",
            ))
        } else {
            None
        };
        let window = self.config.channel_window;
        let limit = self.config.max_channels;
        let mut channel = new_channel(Stage::Offered, window);
        channel.remote_id = msg.sender_channel;
        channel.send_window = msg.initial_window;
        channel.send_max_packet = msg.max_packet;
        let id = match problem {
            Some(_) => None,
            None => self.channels.allocate(limit, channel),
        };
        match id {
            Some(id) => {
                self.channel_event(ChannelEvent::OpenRequest {
                    channel: ChannelId(id),
                    request: ReceivedMessage {
                        payload: payload.to_vec(),
                    },
                });
            }
            None => {
                let (reason, description) = problem.unwrap_or((
                    ChannelOpenFailureReason::ResourceShortage,
                    "too many channels",
                ));
                self.send_after_kex(&ChannelOpenFailure {
                    recipient_channel: msg.sender_channel,
                    reason,
                    description,
                    language: "",
                });
            }
        }
        Ok(())
    }

    fn on_global_request(&mut self, payload: &[u8]) -> Result<(), Error> {
        let msg = GlobalRequest::decode(payload)?;
        match &msg.request {
            // OpenSSH's keepalive: any answer will do; OpenSSH itself
            // answers with a failure.
            GlobalRequestKind::KeepAlive => {
                if msg.want_reply {
                    self.send_after_kex(&RequestFailure);
                }
            }
            GlobalRequestKind::NoMoreSessions => {
                self.channels.no_more_sessions = true;
            }
            GlobalRequestKind::HostKeys { keys } => {
                let keys = keys.iter().map(|k| k.to_vec()).collect();
                self.channel_event(ChannelEvent::HostKeys { keys });
                if msg.want_reply {
                    self.send_after_kex(&RequestFailure);
                }
            }
            _ => {
                if msg.want_reply {
                    self.channels.global_replies_owed += 1;
                }
                self.channel_event(ChannelEvent::GlobalRequest {
                    want_reply: msg.want_reply,
                    request: ReceivedMessage {
                        payload: payload.to_vec(),
                    },
                });
            }
        }
        Ok(())
    }
}
