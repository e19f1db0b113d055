//! The sans-I/O connection: version exchange, key exchange in both roles,
//! rekeying, strict kex, ext-info and the service hand-off.
//!
//! # Driving a connection
//!
//! A [`Connection`] never touches a socket, a thread or a clock. Whatever
//! owns the socket (the blocking and tokio adapters, or a test) drives it in
//! a loop:
//!
//! 1. **`handle_*`: feed it.** [`handle_input`](Connection::handle_input)
//!    with every byte read from the peer, and
//!    [`handle_timeout`](Connection::handle_timeout) with the current time
//!    whenever [`poll_timeout`](Connection::poll_timeout)'s deadline passes
//!    (calling it more often is harmless).
//! 2. **`poll_*`: drain it.** [`poll_transmit`](Connection::poll_transmit)
//!    until it returns `false`, writing what it gives to the socket; then
//!    [`poll_event`](Connection::poll_event) until `None`, acting on each
//!    event; then [`poll_timeout`](Connection::poll_timeout) for when to
//!    call `handle_timeout` next.
//! 3. **Commands** ([`accept_host_key`](Connection::accept_host_key),
//!    [`request_rekey`](Connection::request_rekey),
//!    [`disconnect`](Connection::disconnect), ...) may be called at any
//!    time; like input, they may leave bytes to transmit and events to poll.
//!
//! The connection writes its identification line and its first KEXINIT as
//! soon as it is made, so the first `poll_transmit` already has bytes.

use crate::config::Config;
use crate::error::Error;
use crate::event::{Event, HostKey};
use crate::packet::{MAX_PACKET_LEN, PacketReceiver, PacketSender, Traffic};
use crate::version::{VersionReader, identification_line};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;
use rand_core::CryptoRng;
use sekura_algorithms::kdf::{KeyLengths, derive_session_keys};
use sekura_algorithms::kex::{HostKeySigner, KexContext, KexOutput, KexStep};
use sekura_algorithms::none::{plaintext_opener, plaintext_sealer};
use sekura_algorithms::{
    Cipher, Compression, Compressor, Decompressor, KexExchange, Mac, PacketOpener, PacketSealer,
    Role, SigningKey,
};
use sekura_negotiation::{Direction, Negotiated, negotiate};
use sekura_proto::NameList;
use sekura_proto::msg::{
    Debug as DebugMsg, Disconnect, Encode, ExtInfo, Extension, Ignore, KexInit, NewKeys,
    ServiceAccept, ServiceRequest, Unimplemented,
};
use sekura_proto::numbers::{self, DisconnectReason};
use zeroize::Zeroizing;

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Version exchange and the first key exchange.
    Handshake,
    /// Keys in use; services may run.
    Open,
    /// Disconnected; nothing more is read or written.
    Closed,
}

/// A key exchange in progress (the first one, or a rekey).
pub(crate) struct KexRun {
    /// Our KEXINIT payload, as sent (it goes into the exchange hash).
    ours: Vec<u8>,
    /// The sequence number our KEXINIT went out with.
    kexinit_sequence: u32,
    /// The peer's KEXINIT payload, once received.
    theirs: Option<Vec<u8>>,
    negotiated: Option<Negotiated>,
    exchange: Option<Box<dyn KexExchange>>,
    /// The peer guessed its first kex packet wrong: drop that packet.
    ignore_next_kex_packet: bool,
    /// Keys derived when the exchange finished, waiting for NEWKEYS.
    sealer: Option<Box<dyn PacketSealer>>,
    opener: Option<Box<dyn PacketOpener>>,
    limits: Option<(u64, u64)>,
    /// Client: the host key awaits the application's verdict.
    host_key_pending: bool,
    done: bool,
    sent_newkeys: bool,
    received_newkeys: bool,
}

impl KexRun {
    fn new(ours: Vec<u8>, kexinit_sequence: u32) -> Self {
        KexRun {
            ours,
            kexinit_sequence,
            theirs: None,
            negotiated: None,
            exchange: None,
            ignore_next_kex_packet: false,
            sealer: None,
            opener: None,
            limits: None,
            host_key_pending: false,
            done: false,
            sent_newkeys: false,
            received_newkeys: false,
        }
    }
}

/// An SSH connection in the client or server role, sans I/O.
///
/// A driver calls its methods in this order: `handle_*` to feed it bytes
/// and time, `poll_*` to take bytes to send, events and the next deadline,
/// and commands at any time (see the crate documentation).
pub struct Connection {
    pub(crate) config: Arc<Config>,
    pub(crate) role: Role,
    pub(crate) rng: Box<dyn CryptoRng + Send>,
    pub(crate) state: State,
    /// The error that closed the connection, returned to later calls.
    pub(crate) error: Option<Error>,

    pub(crate) tx: Vec<u8>,
    pub(crate) version_reader: Option<VersionReader>,
    pub(crate) our_version: Vec<u8>,
    pub(crate) peer_version: Vec<u8>,
    pub(crate) sender: PacketSender,
    pub(crate) receiver: Option<PacketReceiver>,
    /// An opener to install once the message that announced it (NEWKEYS) is
    /// handled.
    pub(crate) next_opener: Option<Box<dyn PacketOpener>>,
    /// Compression of our payloads, once on (RFC 4253 §6.2).
    pub(crate) compressor: Option<Box<dyn Compressor>>,
    /// Decompression of the peer's payloads, once on.
    pub(crate) decompressor: Option<Box<dyn Decompressor>>,
    /// A decompressor to switch on with the next opener.
    pub(crate) next_decompressor: Option<Option<Box<dyn Decompressor>>>,
    /// Delayed compression (`zlib@openssh.com`) waiting for user
    /// authentication: (ours, the peer's).
    pub(crate) delayed_compression: (
        Option<&'static dyn Compression>,
        Option<&'static dyn Compression>,
    ),
    /// Delayed compression starts once the queued payloads are out.
    pub(crate) compression_after_queue: bool,
    /// Reused buffers for compressed payloads.
    pub(crate) tx_scratch: Vec<u8>,
    pub(crate) rx_scratch: Vec<u8>,

    pub(crate) kex: Option<KexRun>,
    pub(crate) kex_count: u32,
    pub(crate) negotiated: Option<Negotiated>,
    pub(crate) session_id: Option<Vec<u8>>,
    /// Client: the server's host key from the first exchange; a rekey must
    /// present the same.
    pub(crate) server_host_key: Option<Vec<u8>>,
    pub(crate) strict_kex: bool,
    /// Whether the peer's first NEWKEYS has arrived (strict kex polices
    /// everything before it).
    pub(crate) peer_keys_on: bool,
    /// Rekey limits of the current keys: (bytes, packets).
    pub(crate) tx_limits: (u64, u64),
    pub(crate) rx_limits: (u64, u64),
    /// Payloads held back while a key exchange runs, sent after our NEWKEYS.
    pub(crate) queued: VecDeque<Zeroizing<Vec<u8>>>,
    /// The bytes of `queued`, which bound how much channel data may wait.
    pub(crate) queued_bytes: usize,
    pub(crate) events: VecDeque<Event>,
    pub(crate) server_sig_algs: Option<Vec<String>>,
    /// User authentication (RFC 4252), either role.
    pub(crate) auth: crate::auth::AuthState,
    /// Channels and global requests (RFC 4254).
    pub(crate) channels: crate::channel::ChannelTable,

    pub(crate) now: Duration,
    /// The application asked for a rekey that has not started yet.
    pub(crate) rekey_requested: bool,
    /// When a packet last arrived (for keepalives).
    pub(crate) last_heard: Duration,
    pub(crate) handshake_deadline: Option<Duration>,
    pub(crate) last_kex_at: Duration,
}

impl Connection {
    /// A client connection. `now` is the current time on any monotonic
    /// clock the driver keeps using.
    #[must_use]
    pub fn client(config: Arc<Config>, rng: Box<dyn CryptoRng + Send>, now: Duration) -> Self {
        Self::new(Role::Client, config, rng, now)
    }

    /// A server connection. The configuration must hold at least one host
    /// key, or no key exchange can succeed.
    #[must_use]
    pub fn server(config: Arc<Config>, rng: Box<dyn CryptoRng + Send>, now: Duration) -> Self {
        Self::new(Role::Server, config, rng, now)
    }

    fn new(role: Role, config: Arc<Config>, rng: Box<dyn CryptoRng + Send>, now: Duration) -> Self {
        let mut line = identification_line(&config.software, config.comments.as_deref());
        let our_version = line
            .get(..line.len().saturating_sub(2))
            .unwrap_or_default()
            .to_vec();
        let mut tx = Vec::with_capacity(4096);
        tx.append(&mut line);
        let handshake_deadline = config.handshake_timeout.map(|t| now + t);
        let mut conn = Connection {
            config,
            role,
            rng,
            state: State::Handshake,
            error: None,
            tx,
            version_reader: Some(VersionReader::new(role == Role::Client)),
            our_version,
            peer_version: Vec::new(),
            sender: PacketSender::new(plaintext_sealer()),
            receiver: Some(PacketReceiver::new(plaintext_opener())),
            next_opener: None,
            compressor: None,
            decompressor: None,
            next_decompressor: None,
            delayed_compression: (None, None),
            compression_after_queue: false,
            tx_scratch: Vec::new(),
            rx_scratch: Vec::new(),
            kex: None,
            kex_count: 0,
            negotiated: None,
            session_id: None,
            server_host_key: None,
            strict_kex: false,
            peer_keys_on: false,
            tx_limits: (u64::MAX, u64::MAX),
            rx_limits: (u64::MAX, u64::MAX),
            queued: VecDeque::new(),
            queued_bytes: 0,
            events: VecDeque::new(),
            server_sig_algs: None,
            auth: crate::auth::AuthState::new(role, now),
            channels: crate::channel::ChannelTable::default(),
            now,
            last_heard: now,
            rekey_requested: false,
            handshake_deadline,
            last_kex_at: now,
        };
        conn.start_kex();
        conn
    }

    // ----- handle_*: input from the driver -----

    /// Feeds bytes received from the peer. Returns how many were consumed:
    /// always all of them while the connection is open.
    ///
    /// An error ends the connection: a DISCONNECT with the fitting reason is
    /// left to transmit and a [`Event::Disconnected`] to poll.
    pub fn handle_input(&mut self, mut data: &[u8]) -> Result<usize, Error> {
        self.check_open()?;
        let total = data.len();
        if let Some(reader) = &mut self.version_reader {
            match reader.feed(data) {
                Ok((used, None)) => return Ok(used),
                Ok((used, Some(version))) => {
                    tracing::debug!(peer = %String::from_utf8_lossy(&version.line), "peer version");
                    self.peer_version = version.line;
                    self.version_reader = None;
                    data = data.get(used..).unwrap_or_default();
                }
                Err(e) => return Err(self.fail(e.into())),
            }
        }
        if let Some(receiver) = &mut self.receiver {
            receiver.buffer_input(data);
        }
        if let Err(e) = self.process_packets() {
            return Err(self.fail(e));
        }
        if let Err(e) = self.maybe_rekey() {
            return Err(self.fail(e));
        }
        Ok(total)
    }

    /// Tells the connection the time. Call it when
    /// [`poll_timeout`](Self::poll_timeout)'s deadline has passed (earlier
    /// calls are harmless).
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), Error> {
        self.check_open()?;
        self.now = now;
        if self.state == State::Handshake
            && self
                .handshake_deadline
                .is_some_and(|deadline| now >= deadline)
        {
            return Err(self.fail(Error::Timeout("version and key exchange")));
        }
        let result = self
            .maybe_rekey()
            .and_then(|()| self.auth_handle_timeout())
            .and_then(|()| self.keepalive());
        if let Err(e) = result {
            return Err(self.fail(e));
        }
        Ok(())
    }

    /// When the next keepalive is due, if keepalives are on.
    fn keepalive_deadline(&self) -> Option<Duration> {
        let interval = self.config.keepalive_interval?;
        if self.state != State::Open || !self.is_authenticated() {
            return None;
        }
        let waited = interval * (self.channels.keepalives_outstanding + 1);
        Some(self.last_heard + waited)
    }

    /// Sends a keepalive when the peer has been quiet for an interval, and
    /// gives up on it after `keepalive_max` unanswered ones.
    fn keepalive(&mut self) -> Result<(), Error> {
        let Some(deadline) = self.keepalive_deadline() else {
            return Ok(());
        };
        if self.now < deadline {
            return Ok(());
        }
        if self.channels.keepalives_outstanding >= self.config.keepalive_max {
            return Err(Error::Timeout("no answer to keepalives"));
        }
        self.send_keepalive();
        Ok(())
    }

    // ----- poll_*: output to the driver -----

    /// Moves bytes to send to the peer into `out`. Returns whether there
    /// were any. When `out` is empty the buffers are swapped, not copied.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        if self.tx.is_empty() {
            return false;
        }
        if out.is_empty() {
            core::mem::swap(out, &mut self.tx);
        } else {
            out.append(&mut self.tx);
        }
        true
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called
    /// next, if at all.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let transport = match self.state {
            State::Handshake => self.handshake_deadline,
            State::Open if self.kex.is_none() => {
                self.config.rekey_interval.map(|i| self.last_kex_at + i)
            }
            _ => None,
        };
        earliest(
            earliest(transport, self.auth_poll_timeout()),
            self.keepalive_deadline(),
        )
    }

    // ----- commands -----

    /// Client: accepts the host key reported by [`Event::HostKey`]; the
    /// key exchange then completes.
    pub fn accept_host_key(&mut self) -> Result<(), Error> {
        self.check_open()?;
        let Some(run) = self.kex.as_mut().filter(|run| run.host_key_pending) else {
            return Err(Error::protocol("no host key is waiting for approval"));
        };
        run.host_key_pending = false;
        self.send_newkeys();
        // Packets that arrived meanwhile were held back.
        if let Err(e) = self.process_packets() {
            return Err(self.fail(e));
        }
        Ok(())
    }

    /// Client: refuses the host key reported by [`Event::HostKey`]; the
    /// connection ends with HOST_KEY_NOT_VERIFIABLE.
    pub fn reject_host_key(&mut self, why: &str) -> Error {
        self.fail(Error::HostKeyRejected(why.to_string()))
    }

    /// Starts a key re-exchange now (unless one is already running).
    ///
    /// Before user authentication the request waits: OpenSSH cannot rekey
    /// then (its client fails, its server answers UNIMPLEMENTED), so no
    /// rekey of ours starts before authentication succeeds.
    pub fn request_rekey(&mut self) -> Result<(), Error> {
        self.check_open()?;
        self.rekey_requested = true;
        self.maybe_rekey()
    }

    /// Client: asks for a service (`ssh-userauth`); the answer comes as
    /// [`Event::ServiceAccepted`].
    pub fn request_service(&mut self, name: &str) -> Result<(), Error> {
        self.check_open()?;
        self.send_after_kex(&ServiceRequest { name });
        Ok(())
    }

    /// Sends an IGNORE message (RFC 4253 §11.2), e.g. as traffic padding.
    pub fn send_ignore(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_open()?;
        self.send_now(&Ignore { data });
        Ok(())
    }

    /// Ends the connection with a DISCONNECT carrying `reason` and
    /// `description`.
    pub fn disconnect(&mut self, reason: DisconnectReason, description: &str) {
        if self.state == State::Closed {
            return;
        }
        self.send_disconnect(reason, description);
        self.close(Error::Closed(description.to_string()));
    }

    /// Switches on delayed compression (`zlib@openssh.com`, RFC 4253 §6.2
    /// as OpenSSH extends it) once user authentication has succeeded: call
    /// it on the server after sending USERAUTH_SUCCESS and on the client
    /// after receiving it.
    pub fn start_delayed_compression(&mut self) {
        // The message that announced success may still wait behind a key
        // exchange: it must go out uncompressed, so compression starts
        // when the queue drains.
        if !self.queued.is_empty() {
            self.compression_after_queue = true;
            if let Some(method) = self.delayed_compression.1.take() {
                self.decompressor = method.new_decompressor();
            }
            return;
        }
        if let Some(method) = self.delayed_compression.0.take() {
            self.compressor = method.new_compressor();
        }
        if let Some(method) = self.delayed_compression.1.take() {
            self.decompressor = method.new_decompressor();
        }
    }

    // ----- queries -----

    /// The role of this side.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the connection has ended.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The session identifier: the exchange hash of the first key exchange.
    #[must_use]
    pub fn session_id(&self) -> Option<&[u8]> {
        self.session_id.as_deref()
    }

    /// The algorithms in use, once the first key exchange is done.
    #[must_use]
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The peer's identification line (without CR LF), once received.
    #[must_use]
    pub fn peer_version(&self) -> Option<&[u8]> {
        (!self.peer_version.is_empty()).then_some(self.peer_version.as_slice())
    }

    /// Client: the signature algorithms the server accepts for user
    /// authentication, from its EXT_INFO `server-sig-algs` (RFC 8308).
    #[must_use]
    pub fn server_sig_algs(&self) -> Option<&[String]> {
        self.server_sig_algs.as_deref()
    }

    /// How many key exchanges have completed (1 after the first).
    #[must_use]
    pub fn key_exchanges(&self) -> u32 {
        self.kex_count
    }

    /// Traffic sent and received under the current keys.
    #[must_use]
    pub fn traffic(&self) -> (Traffic, Traffic) {
        let rx = self
            .receiver
            .as_ref()
            .map(PacketReceiver::traffic)
            .unwrap_or_default();
        (self.sender.traffic(), rx)
    }

    /// The direction our packets travel.
    pub(crate) fn our_direction(&self) -> Direction {
        match self.role {
            Role::Client => Direction::ClientToServer,
            Role::Server => Direction::ServerToClient,
        }
    }

    // ----- internals: closing -----

    pub(crate) fn check_open(&self) -> Result<(), Error> {
        match (&self.state, &self.error) {
            (State::Closed, Some(e)) => Err(e.clone()),
            (State::Closed, None) => Err(Error::Closed("connection closed".into())),
            _ => Ok(()),
        }
    }

    /// Ends the connection because of `error`: sends the DISCONNECT it
    /// calls for and reports it. Returns the error for the caller to pass
    /// on.
    pub(crate) fn fail(&mut self, error: Error) -> Error {
        if self.state != State::Closed {
            tracing::warn!(%error, "connection failed");
            if let Some(reason) = error.disconnect_reason() {
                self.send_disconnect(reason, &error.to_string());
            }
            self.close(error.clone());
        }
        error
    }

    fn close(&mut self, error: Error) {
        let (reason, description, by_peer) = match &error {
            Error::PeerDisconnected {
                reason,
                description,
            } => (*reason, description.clone(), true),
            other => (
                other
                    .disconnect_reason()
                    .unwrap_or(DisconnectReason::ByApplication),
                other.to_string(),
                false,
            ),
        };
        self.events.push_back(Event::Disconnected {
            reason,
            description,
            by_peer,
        });
        self.state = State::Closed;
        self.error = Some(error);
        self.queued.clear();
        self.queued_bytes = 0;
    }

    fn send_disconnect(&mut self, reason: DisconnectReason, description: &str) {
        tracing::info!(?reason, description, "sending disconnect");
        self.send_now(&Disconnect {
            reason,
            description,
            language: "",
        });
    }

    // ----- internals: sending -----

    /// Sends a message at once, in the current keys: transport messages,
    /// which are allowed during a key exchange.
    pub(crate) fn send_now<M: Encode>(&mut self, msg: &M) {
        if self.compressor.is_some() {
            let mut scratch = core::mem::take(&mut self.tx_scratch);
            scratch.clear();
            msg.encode(&mut scratch);
            self.send_payload_now(&scratch);
            self.tx_scratch = scratch;
            return;
        }
        // The common case: the payload is encoded straight into the
        // outgoing buffer and sealed there.
        let start = self.sender.start(&mut self.tx);
        msg.encode(&mut self.tx);
        self.sender.finish(&mut self.tx, start, &mut *self.rng);
    }

    /// Sends a raw payload at once.
    pub(crate) fn send_payload_now(&mut self, payload: &[u8]) {
        let start = self.sender.start(&mut self.tx);
        match &mut self.compressor {
            Some(active) => {
                if let Err(e) = active.compress(payload, &mut self.tx) {
                    // Compressing our own data cannot meet hostile input;
                    // a failure is a bug in the compressor: stop sending.
                    tracing::error!(%e, "compression failed");
                    self.tx.truncate(start.offset());
                    return;
                }
            }
            None => self.tx.extend_from_slice(payload),
        }
        self.sender.finish(&mut self.tx, start, &mut *self.rng);
    }

    /// Sends a message that a key exchange in progress must not interleave
    /// with (RFC 4253 §7.1: after our KEXINIT, only transport messages until
    /// our NEWKEYS): held back until the exchange has switched keys.
    pub(crate) fn send_after_kex<M: Encode>(&mut self, msg: &M) {
        let blocked = self.kex.as_ref().is_some_and(|run| !run.sent_newkeys)
            || self.state == State::Handshake
            || !self.queued.is_empty();
        if blocked {
            // Queued payloads may hold passwords: wiped once sent.
            let payload = Zeroizing::new(msg.to_vec());
            self.queued_bytes += payload.len();
            self.queued.push_back(payload);
        } else {
            self.send_now(msg);
        }
    }

    fn flush_queued(&mut self) {
        while let Some(payload) = self.queued.pop_front() {
            self.send_payload_now(&payload);
        }
        self.queued_bytes = 0;
        if core::mem::take(&mut self.compression_after_queue) {
            self.start_delayed_compression();
        }
    }

    // ----- internals: receiving -----

    fn process_packets(&mut self) -> Result<(), Error> {
        let Some(mut receiver) = self.receiver.take() else {
            return Ok(());
        };
        let result = loop {
            // Nothing the server says counts until its host key is
            // approved: later packets wait in the buffer.
            let approval_pending = self.kex.as_ref().is_some_and(|run| run.host_key_pending);
            if self.state == State::Closed || approval_pending {
                break Ok(());
            }
            let packet = match receiver.next_packet() {
                Ok(Some(packet)) => {
                    self.last_heard = self.now;
                    self.channels.keepalives_outstanding = 0;
                    packet
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(Error::from(e)),
            };
            let dispatched = match &mut self.decompressor {
                Some(active) => {
                    let mut scratch = core::mem::take(&mut self.rx_scratch);
                    scratch.clear();
                    let result = active
                        .decompress(packet.payload, &mut scratch, MAX_PACKET_LEN)
                        .map_err(Error::Compression)
                        .and_then(|()| self.dispatch(packet.sequence, &scratch));
                    self.rx_scratch = scratch;
                    result
                }
                None => self.dispatch(packet.sequence, packet.payload),
            };
            if let Err(e) = dispatched {
                break Err(e);
            }
            if let Some(opener) = self.next_opener.take() {
                receiver.set_opener(opener);
                if self.strict_kex {
                    receiver.reset_sequence();
                }
                if let Some(decompressor) = self.next_decompressor.take() {
                    self.decompressor = decompressor;
                }
            }
        };
        self.receiver = Some(receiver);
        result
    }

    /// Handles one message.
    fn dispatch(&mut self, sequence: u32, payload: &[u8]) -> Result<(), Error> {
        let Some(&number) = payload.first() else {
            return Err(Error::protocol("empty packet payload"));
        };
        self.police(sequence, number)?;
        match number {
            numbers::DISCONNECT => {
                let msg = Disconnect::decode(payload)?;
                tracing::info!(reason = ?msg.reason, description = msg.description, "peer disconnected");
                self.close(Error::PeerDisconnected {
                    reason: msg.reason,
                    description: msg.description.to_string(),
                });
            }
            numbers::IGNORE => {
                Ignore::decode(payload)?;
            }
            numbers::UNIMPLEMENTED => {
                let msg = Unimplemented::decode(payload)?;
                if self
                    .kex
                    .as_ref()
                    .is_some_and(|run| run.kexinit_sequence == msg.sequence)
                {
                    return Err(Error::protocol(
                        "the peer cannot do a key re-exchange now (UNIMPLEMENTED)",
                    ));
                }
                tracing::debug!(
                    sequence = msg.sequence,
                    "peer reports a message unimplemented"
                );
            }
            numbers::DEBUG => {
                let msg = DebugMsg::decode(payload)?;
                if msg.always_display {
                    self.events.push_back(Event::Debug {
                        message: msg.message.to_string(),
                    });
                }
            }
            numbers::SERVICE_REQUEST => self.on_service_request(payload)?,
            numbers::SERVICE_ACCEPT => {
                let msg = ServiceAccept::decode(payload)?;
                if self.role != Role::Client {
                    return Err(Error::protocol("SERVICE_ACCEPT sent to a server"));
                }
                self.events.push_back(Event::ServiceAccepted {
                    name: msg.name.to_string(),
                });
                self.auth_service_accepted(msg.name)?;
            }
            numbers::EXT_INFO => self.on_ext_info(payload)?,
            numbers::KEXINIT => self.on_kexinit(sequence, payload)?,
            numbers::NEWKEYS => self.on_newkeys(payload)?,
            n if numbers::is_kex_method_specific(n) => self.on_kex_message(payload)?,
            n if numbers::is_connection(n) => self.on_connection_message(payload)?,
            n if numbers::is_userauth(n) => self.on_auth_message(sequence, payload)?,
            _ => self.send_after_kex(&Unimplemented { sequence }),
        }
        Ok(())
    }

    /// Enforces which messages may arrive when (RFC 4253 §7.1, strict kex).
    fn police(&self, sequence: u32, number: u8) -> Result<(), Error> {
        let kex_message = number == numbers::KEXINIT
            || number == numbers::NEWKEYS
            || numbers::is_kex_method_specific(number);
        // Strict kex: before the peer's first NEWKEYS, only key-exchange
        // messages (the Terrapin countermeasure). A DISCONNECT ends the
        // connection either way; honouring it keeps the peer's reason.
        if self.strict_kex && !self.peer_keys_on && !kex_message && number != numbers::DISCONNECT {
            return Err(Error::protocol(alloc::format!(
                "strict kex: message {number} (sequence {sequence}) before the first NEWKEYS"
            )));
        }
        // Between the peer's KEXINIT and its NEWKEYS it may only send
        // transport messages, and no service request or accept.
        let peer_in_kex = self
            .kex
            .as_ref()
            .is_some_and(|run| run.theirs.is_some() && !run.received_newkeys);
        let allowed = numbers::is_transport_layer(number)
            && number != numbers::SERVICE_REQUEST
            && number != numbers::SERVICE_ACCEPT;
        if peer_in_kex && !allowed {
            return Err(Error::protocol(alloc::format!(
                "message {number} during key exchange"
            )));
        }
        if self.state == State::Handshake
            && !numbers::is_transport_layer(number)
            && self.kex_count == 0
        {
            return Err(Error::protocol(alloc::format!(
                "message {number} before the first key exchange completed"
            )));
        }
        Ok(())
    }

    fn on_service_request(&mut self, payload: &[u8]) -> Result<(), Error> {
        let msg = ServiceRequest::decode(payload)?;
        if self.role != Role::Server {
            return Err(Error::protocol("SERVICE_REQUEST sent to a client"));
        }
        if self.state != State::Open {
            return Err(Error::protocol("SERVICE_REQUEST before the key exchange"));
        }
        if !self.config.services.iter().any(|s| s == msg.name) {
            return Err(Error::ServiceNotAvailable(msg.name.to_string()));
        }
        let name = msg.name.to_string();
        self.send_after_kex(&ServiceAccept { name: &name });
        self.auth_service_started(&name);
        self.events.push_back(Event::ServiceStarted { name });
        Ok(())
    }

    fn on_ext_info(&mut self, payload: &[u8]) -> Result<(), Error> {
        let msg = ExtInfo::decode(payload)?;
        if self.role == Role::Client
            && let Some(list) = msg.server_sig_algs()
        {
            tracing::debug!(server_sig_algs = list.as_str(), "ext-info");
            self.server_sig_algs = Some(list.iter().map(String::from).collect());
        }
        Ok(())
    }

    // ----- internals: key exchange -----

    /// Sends our KEXINIT and starts tracking an exchange.
    fn start_kex(&mut self) {
        let first = self.kex_count == 0;
        let prefs = &self.config.preferences;
        let kexinit = match self.role {
            Role::Client => prefs.kexinit(self.role, first, &mut *self.rng),
            Role::Server => {
                let algorithms = self.config.host_key_algorithms();
                prefs.kexinit_with_host_keys(self.role, first, &mut *self.rng, &algorithms)
            }
        };
        let payload = kexinit.to_vec();
        let sequence = self.sender.sequence();
        self.send_payload_now(&payload);
        self.kex = Some(KexRun::new(payload, sequence));
    }

    fn on_kexinit(&mut self, sequence: u32, payload: &[u8]) -> Result<(), Error> {
        if self.kex.is_none() {
            // The peer starts a rekey: answer with ours.
            self.start_kex();
        }
        let Some(mut run) = self.kex.take() else {
            return Err(Error::protocol("no key exchange state"));
        };
        if run.theirs.is_some() {
            return Err(Error::protocol("second KEXINIT in one key exchange"));
        }
        let peer = KexInit::decode(payload)?;
        let ours = KexInit::decode(&run.ours)?;
        let (client, server) = match self.role {
            Role::Client => (&ours, &peer),
            Role::Server => (&peer, &ours),
        };
        let negotiated = negotiate(client, server, &self.config.preferences)?;
        if self.kex_count == 0 {
            self.strict_kex = negotiated.strict_kex;
            // Strict kex: the KEXINIT must be the very first packet.
            if self.strict_kex && sequence != 0 {
                return Err(Error::protocol(alloc::format!(
                    "strict kex: KEXINIT is packet {sequence}, not the first"
                )));
            }
        }
        tracing::debug!(?negotiated, "negotiated");
        run.ignore_next_kex_packet = match self.role {
            Role::Client => negotiated.ignore_server_guess,
            Role::Server => negotiated.ignore_client_guess,
        };
        run.theirs = Some(payload.to_vec());
        run.negotiated = Some(negotiated);

        let host_key = self.host_key_signer(&negotiated)?;
        let signer = signer(host_key.as_deref(), &negotiated);
        let mut ctx = kex_context(
            self.role,
            &self.our_version,
            &self.peer_version,
            &run,
            signer,
            &mut *self.rng,
        );
        let start = negotiated
            .kex
            .start(self.role, &mut ctx)
            .map_err(Error::KeyExchange)?;
        run.exchange = Some(start.exchange);
        self.kex = Some(run);
        if let Some(msg) = start.send {
            self.send_payload_now(&msg);
        }
        Ok(())
    }

    /// Server: the host key matching the negotiated algorithm, kept alive by
    /// the config.
    fn host_key_signer(
        &self,
        negotiated: &Negotiated,
    ) -> Result<Option<Arc<dyn SigningKey>>, Error> {
        if self.role != Role::Server || !negotiated.kex.needs_signing_host_key() {
            return Ok(None);
        }
        let Some(algorithm) = negotiated.host_key else {
            return Err(Error::protocol("no host key algorithm negotiated"));
        };
        self.config
            .host_key_for(algorithm.name())
            .cloned()
            .map(Some)
            .ok_or_else(|| Error::protocol(alloc::format!("no host key for {}", algorithm.name())))
    }

    fn on_kex_message(&mut self, payload: &[u8]) -> Result<(), Error> {
        let Some(mut run) = self.kex.take() else {
            return Err(Error::protocol(
                "key exchange message outside a key exchange",
            ));
        };
        if run.ignore_next_kex_packet {
            run.ignore_next_kex_packet = false;
            self.kex = Some(run);
            return Ok(());
        }
        let (Some(mut exchange), Some(negotiated)) = (run.exchange.take(), run.negotiated) else {
            return Err(Error::protocol(if run.done {
                "key exchange message after the exchange finished"
            } else {
                "key exchange message before KEXINIT"
            }));
        };
        let host_key = self.host_key_signer(&negotiated)?;
        let signer = signer(host_key.as_deref(), &negotiated);
        let mut ctx = kex_context(
            self.role,
            &self.our_version,
            &self.peer_version,
            &run,
            signer,
            &mut *self.rng,
        );
        let step = exchange
            .handle(payload, &mut ctx)
            .map_err(Error::KeyExchange)?;
        match step {
            KexStep::Send(msg) => {
                run.exchange = Some(exchange);
                self.kex = Some(run);
                self.send_payload_now(&msg);
            }
            KexStep::Done { send, output } => {
                if let Some(msg) = send {
                    self.send_payload_now(&msg);
                }
                self.finish_exchange(run, &negotiated, &output)?;
            }
        }
        Ok(())
    }

    /// The exchange produced K and H: check the server's proof (client),
    /// derive the keys, and move towards NEWKEYS.
    fn finish_exchange(
        &mut self,
        mut run: KexRun,
        negotiated: &Negotiated,
        output: &KexOutput,
    ) -> Result<(), Error> {
        if self.role == Role::Client {
            if let Some(algorithm) = negotiated.host_key {
                algorithm
                    .verify(&output.host_key, &output.exchange_hash, &output.signature)
                    .map_err(Error::KeyExchange)?;
            }
            match &self.server_host_key {
                Some(known) if *known != output.host_key => {
                    return Err(Error::HostKeyRejected(
                        "the server presented a different host key in a rekey".into(),
                    ));
                }
                Some(_) => {}
                None => {
                    self.server_host_key = Some(output.host_key.clone());
                    run.host_key_pending = true;
                    self.events.push_back(Event::HostKey(HostKey {
                        algorithm: negotiated
                            .host_key
                            .map(|a| a.name().to_string())
                            .unwrap_or_default(),
                        key: output.host_key.clone(),
                    }));
                }
            }
        }
        let session_id = self
            .session_id
            .get_or_insert_with(|| output.exchange_hash.clone());
        let lengths = |cipher: &dyn Cipher, mac: Option<&'static dyn Mac>| KeyLengths {
            iv: cipher.iv_len(),
            key: cipher.key_len(),
            mac: mac.map_or(0, |m| m.key_len()),
        };
        let (c2s, s2c) = derive_session_keys(
            negotiated.kex.hash(),
            &output.shared_secret,
            &output.exchange_hash,
            session_id,
            lengths(negotiated.cipher_c2s, negotiated.mac_c2s),
            lengths(negotiated.cipher_s2c, negotiated.mac_s2c),
        );
        let (tx_keys, rx_keys, tx_cipher, rx_cipher, tx_mac, rx_mac) = match self.role {
            Role::Client => (
                c2s,
                s2c,
                negotiated.cipher_c2s,
                negotiated.cipher_s2c,
                negotiated.mac_c2s,
                negotiated.mac_s2c,
            ),
            Role::Server => (
                s2c,
                c2s,
                negotiated.cipher_s2c,
                negotiated.cipher_c2s,
                negotiated.mac_s2c,
                negotiated.mac_c2s,
            ),
        };
        run.sealer = Some(
            tx_cipher
                .new_sealer(&tx_keys, tx_mac)
                .map_err(Error::KeyExchange)?,
        );
        run.opener = Some(
            rx_cipher
                .new_opener(&rx_keys, rx_mac)
                .map_err(Error::KeyExchange)?,
        );
        let limit = |cipher: &dyn Cipher| {
            (
                self.config.rekey_bytes.min(cipher.rekey_limit_bytes()),
                self.config.rekey_packets,
            )
        };
        run.limits = Some((limit(tx_cipher).0, limit(rx_cipher).0));
        run.done = true;
        let pending = run.host_key_pending;
        self.kex = Some(run);
        if !pending {
            self.send_newkeys();
        }
        Ok(())
    }

    /// Sends NEWKEYS and switches our direction to the new keys.
    fn send_newkeys(&mut self) {
        let Some(mut run) = self.kex.take() else {
            return;
        };
        self.send_now(&NewKeys);
        if let Some(sealer) = run.sealer.take() {
            self.sender.set_sealer(sealer);
        }
        if self.strict_kex {
            self.sender.reset_sequence();
        }
        if let Some(negotiated) = &run.negotiated {
            // Every NEWKEYS starts a fresh stream, as OpenSSH and Dropbear
            // do (their compression state does not span key exchanges).
            let ours = negotiated.compression(self.our_direction());
            if ours.delayed() && !self.is_authenticated() {
                self.delayed_compression.0 = Some(ours);
            } else {
                self.compressor = ours.new_compressor();
            }
        }
        if let Some((tx_bytes, _)) = run.limits {
            self.tx_limits = (tx_bytes, self.config.rekey_packets);
        }
        run.sent_newkeys = true;
        let first = self.kex_count == 0;
        let negotiated = run.negotiated;
        // RFC 8308 §2.4: the server's EXT_INFO goes right after its first
        // NEWKEYS.
        if first
            && self.role == Role::Server
            && negotiated.is_some_and(|n| n.server_may_send_ext_info)
        {
            self.send_ext_info();
        }
        let received = run.received_newkeys;
        self.kex = Some(run);
        self.flush_queued();
        if received {
            self.complete_kex();
        }
    }

    fn send_ext_info(&mut self) {
        let accepted = self.config.user_key_algorithms();
        let names: Vec<&str> = accepted.iter().map(|a| a.name()).collect();
        let Ok(list) = NameList::from_names(names) else {
            return;
        };
        self.send_now(&ExtInfo {
            extensions: alloc::vec![
                Extension::ServerSigAlgs(list),
                Extension::Ping { version: "0" },
            ],
        });
    }

    fn on_newkeys(&mut self, payload: &[u8]) -> Result<(), Error> {
        NewKeys::decode(payload)?;
        let their_direction = self.our_direction().reverse();
        let authenticated = self.is_authenticated();
        let Some(run) = self
            .kex
            .as_mut()
            .filter(|run| run.done && !run.received_newkeys)
        else {
            return Err(Error::protocol("NEWKEYS before the key exchange finished"));
        };
        run.received_newkeys = true;
        self.next_opener = run.opener.take();
        if let Some(negotiated) = &run.negotiated {
            let theirs = negotiated.compression(their_direction);
            if theirs.delayed() && !authenticated {
                self.delayed_compression.1 = Some(theirs);
            } else {
                self.next_decompressor = Some(theirs.new_decompressor());
            }
        }
        if let Some((_, rx_bytes)) = run.limits {
            self.rx_limits = (rx_bytes, self.config.rekey_packets);
        }
        self.peer_keys_on = true;
        if run.sent_newkeys {
            self.complete_kex();
        }
        Ok(())
    }

    fn complete_kex(&mut self) {
        let Some(run) = self.kex.take() else {
            return;
        };
        let first = self.kex_count == 0;
        self.kex_count += 1;
        self.last_kex_at = self.now;
        self.negotiated = run.negotiated;
        if let Some(negotiated) = run.negotiated {
            tracing::info!(?negotiated, first, "key exchange done");
            self.events
                .push_back(Event::KeyExchangeDone { negotiated, first });
        }
        if first {
            self.state = State::Open;
            self.handshake_deadline = None;
            if self.role == Role::Client {
                self.send_now(&ServiceRequest {
                    name: "ssh-userauth",
                });
            }
        }
    }

    /// Starts a rekey when the current keys have carried enough.
    pub(crate) fn maybe_rekey(&mut self) -> Result<(), Error> {
        // Not before authentication: see `request_rekey`.
        if self.state != State::Open || self.kex.is_some() || !self.is_authenticated() {
            return Ok(());
        }
        if core::mem::take(&mut self.rekey_requested) {
            self.start_kex();
            return Ok(());
        }
        let (tx, rx) = self.traffic();
        let over =
            |t: Traffic, (bytes, packets): (u64, u64)| t.bytes >= bytes || t.packets >= packets;
        let timed_out = self
            .config
            .rekey_interval
            .is_some_and(|interval| self.now >= self.last_kex_at + interval);
        if over(tx, self.tx_limits) || over(rx, self.rx_limits) || timed_out {
            tracing::debug!(?tx, ?rx, timed_out, "rekeying");
            self.start_kex();
        }
        Ok(())
    }
}

/// The earlier of two optional deadlines.
fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Pairs the server's host key with the negotiated algorithm.
fn signer<'a>(
    key: Option<&'a dyn SigningKey>,
    negotiated: &Negotiated,
) -> Option<HostKeySigner<'a>> {
    Some(HostKeySigner {
        key: key?,
        algorithm: negotiated.host_key?.name(),
    })
}

/// Builds the context of one exchange step from the parts of the
/// connection it needs (borrowed separately, so the exchange can be driven
/// while the connection is not borrowed as a whole).
fn kex_context<'a>(
    role: Role,
    our_version: &'a [u8],
    peer_version: &'a [u8],
    run: &'a KexRun,
    host_key: Option<HostKeySigner<'a>>,
    rng: &'a mut (dyn CryptoRng + Send),
) -> KexContext<'a> {
    let theirs = run.theirs.as_deref().unwrap_or_default();
    let (client_version, server_version, client_kexinit, server_kexinit) = match role {
        Role::Client => (our_version, peer_version, run.ours.as_slice(), theirs),
        Role::Server => (peer_version, our_version, theirs, run.ours.as_slice()),
    };
    KexContext {
        client_version,
        server_version,
        client_kexinit,
        server_kexinit,
        host_key,
        rng,
    }
}
