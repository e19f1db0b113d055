//! The transport core against a hostile peer or a hostile network, in
//! memory: tampered, truncated, reordered and replayed packets, forged
//! lengths, broken version exchanges, the Terrapin prefix attack, a wrong
//! key exchange guess, and a bounded property run over arbitrary input.
//!
//! Every connection here is deterministic (seeded RNGs, simulated time), so
//! a failure reproduces exactly. `PROPTEST_CASES` raises the property run's
//! case count (CI's long run); the default keeps this file fast.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{Direction, Pair, TestRng, config_with};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::FileFailurePersistence;
use sekura_algorithms::Role;
use sekura_algorithms::builtin::keys::PrivateKey;
use sekura_algorithms::none::{plaintext_opener, plaintext_sealer};
use sekura_proto::Encode;
use sekura_proto::msg::Disconnect;
use sekura_proto::numbers::{self, DisconnectReason};
use sekura_transport::packet::{MAX_PACKET_LEN, PacketError, PacketReceiver, PacketSender};
use sekura_transport::version::{
    MAX_PRE_VERSION_BYTES, MAX_PRE_VERSION_LINES, MAX_VERSION_LINE, VersionError,
};
use sekura_transport::{Config, Connection, Error, Event};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

// ----- helpers -----

/// One representative of each way a packet is protected: (cipher, MAC).
const KINDS: [(&str, &str); 6] = [
    // AEAD, length encrypted under its own key.
    ("chacha20-poly1305@openssh.com", "hmac-sha2-256"),
    // AEAD, length in the clear as associated data.
    ("aes128-gcm@openssh.com", "hmac-sha2-256"),
    // Stream cipher, encrypt-and-MAC.
    ("aes128-ctr", "hmac-sha2-256"),
    // Stream cipher, encrypt-then-MAC (length in the clear, under the MAC).
    ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
    // 128-bit block CBC, encrypt-and-MAC.
    ("aes128-cbc", "hmac-sha1"),
    // 64-bit block CBC, encrypt-and-MAC.
    ("3des-cbc", "hmac-md5"),
];

/// Whether the packet length travels in the clear (authenticated), so that
/// any change to a packet can only surface as a MAC failure or a length
/// refusal, never as a garbled length.
fn length_in_clear(cipher: &str, mac: &str) -> bool {
    cipher.contains("gcm") || mac.contains("-etm@")
}

/// A pair that finished its first key exchange with exactly this cipher and
/// MAC in both directions.
fn established(cipher: &str, mac: &str) -> Pair {
    let config = config_with("curve25519-sha256", "ssh-ed25519", cipher, mac);
    let mut pair = Pair::new(config.clone(), config);
    pair.run();
    pair.assert_ok();
    assert!(pair.established(), "{cipher} {mac}");
    let negotiated = pair.client.negotiated().unwrap();
    assert_eq!(negotiated.cipher_c2s.name(), cipher);
    assert_eq!(negotiated.cipher_s2c.name(), cipher);
    pair
}

/// Sender and receiver of a pair, by direction.
fn ends(pair: &mut Pair, direction: Direction) -> (&mut Connection, &mut Connection) {
    match direction {
        Direction::ToServer => (&mut pair.client, &mut pair.server),
        Direction::ToClient => (&mut pair.server, &mut pair.client),
    }
}

/// Makes `from` send one IGNORE carrying `data` and returns the bytes of
/// that one packet.
fn one_packet(from: &mut Connection, data: &[u8]) -> Vec<u8> {
    let mut idle = Vec::new();
    assert!(!from.poll_transmit(&mut idle), "sender was not idle");
    from.send_ignore(data).unwrap();
    let mut wire = Vec::new();
    assert!(from.poll_transmit(&mut wire));
    wire
}

/// Every event waiting on a connection.
fn drain_events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// The (reason, by_peer) of the first Disconnected event.
fn disconnected(events: &[Event]) -> Option<(DisconnectReason, bool)> {
    events.iter().find_map(|e| match e {
        Event::Disconnected {
            reason, by_peer, ..
        } => Some((*reason, *by_peer)),
        _ => None,
    })
}

/// Asserts that `conn` failed with `err` by itself: it is closed, a
/// Disconnected event with the error's reason is queued, and every later
/// call reports the same error. (Callers check the DISCONNECT on the wire.)
fn assert_failed_cleanly(conn: &mut Connection, err: &Error, context: &str) {
    assert!(conn.is_closed(), "{context}: not closed after {err:?}");
    let events = drain_events(conn);
    let reason = err.disconnect_reason().expect("a reason to send");
    assert_eq!(
        disconnected(&events),
        Some((reason, false)),
        "{context}: {err:?} {events:?}"
    );
    assert_eq!(conn.handle_input(b"more").unwrap_err(), *err, "{context}");
}

/// A plaintext binary packet (before the first NEWKEYS): its offset in the
/// stream, its length on the wire and its payload.
#[derive(Debug)]
struct PlainPacket {
    offset: usize,
    wire_len: usize,
    payload: Vec<u8>,
}

/// Splits a plaintext packet stream into packets, up to the first one that
/// is incomplete.
fn plaintext_packets(bytes: &[u8]) -> Vec<PlainPacket> {
    let mut packets = Vec::new();
    let mut offset = 0;
    while let Some(head) = bytes.get(offset..offset + 5) {
        let len = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
        let padding = usize::from(head[4]);
        let Some(payload) = bytes.get(offset + 5..(offset + 4 + len).saturating_sub(padding))
        else {
            break;
        };
        if offset + 4 + len > bytes.len() {
            break;
        }
        packets.push(PlainPacket {
            offset,
            wire_len: 4 + len,
            payload: payload.to_vec(),
        });
        offset += 4 + len;
    }
    packets
}

/// Strips a leading identification line, if the bytes start with one.
fn after_version_line(bytes: &[u8]) -> &[u8] {
    if bytes.starts_with(b"SSH-") {
        let end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        &bytes[end..]
    } else {
        bytes
    }
}

/// The reason of the DISCONNECT a connection still in the plaintext phase
/// has queued, if any.
fn sent_disconnect(conn: &mut Connection) -> Option<DisconnectReason> {
    let mut out = Vec::new();
    if !conn.poll_transmit(&mut out) {
        return None;
    }
    plaintext_packets(after_version_line(&out))
        .iter()
        .find(|p| p.payload.first() == Some(&numbers::DISCONNECT))
        .map(|p| Disconnect::decode(&p.payload).unwrap().reason)
}

/// Frames payloads as plaintext binary packets (the first key exchange's
/// framing), with a deterministic padding.
fn frame(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut sender = PacketSender::new(plaintext_sealer());
    let mut rng = TestRng(0xf4a3e);
    let mut out = Vec::new();
    for payload in payloads {
        sender.send(payload, &mut out, &mut rng);
    }
    out
}

/// The host key of the bare server connections made below (ed25519 only:
/// no slow key generation in the property run).
fn ed25519_host_key() -> Vec<Arc<dyn sekura_algorithms::SigningKey>> {
    vec![Arc::new(PrivateKey::from_ed25519_seed(&[7; 32]))]
}

/// A fresh connection of `role` with default settings.
fn fresh(role: Role, seed: u64) -> Connection {
    let now = Duration::from_secs(1000);
    match role {
        Role::Client => {
            Connection::client(Arc::new(Config::default()), Box::new(TestRng(seed)), now)
        }
        Role::Server => Connection::server(
            Arc::new(Config::server(ed25519_host_key())),
            Box::new(TestRng(seed)),
            now,
        ),
    }
}

/// Feeds `input` to a fresh connection of `role` in one call and returns
/// the error it must end with, after checking the connection failed
/// cleanly and queued a DISCONNECT with the error's reason.
fn refused(role: Role, input: &[u8]) -> Error {
    let mut conn = fresh(role, 3);
    let err = conn
        .handle_input(input)
        .expect_err(&format!("{role:?} accepted {input:?}"));
    let context = format!("{role:?} fed {:?}", String::from_utf8_lossy(input));
    assert_eq!(
        sent_disconnect(&mut conn),
        err.disconnect_reason(),
        "{context}"
    );
    assert_failed_cleanly(&mut conn, &err, &context);
    err
}

/// What became of a tampered packet.
struct Tampered {
    /// The receiver's error.
    error: Error,
    /// Packets the receiver accepted under the current keys, before and
    /// after the tampered one arrived.
    accepted: (u64, u64),
    /// Genuine bytes that had to follow before the receiver could decide
    /// (when the tampering enlarged the packet length).
    followup: usize,
}

/// Feeds `wire` to `to`. While `to` waits for more (a changed length can
/// make it expect a longer packet), feeds it further genuine traffic of
/// `from`'s, at most one maximal packet's worth, checking that it accepts
/// nothing meanwhile. Returns the error `to` must end with.
fn deliver_until_error(from: &mut Connection, to: &mut Connection, wire: &[u8]) -> (Error, usize) {
    let before = to.traffic().1.packets;
    let mut result = to.handle_input(wire);
    let mut followup = 0;
    while result.is_ok() {
        assert!(
            drain_events(to).is_empty(),
            "the receiver reported something while waiting"
        );
        assert_eq!(to.traffic().1.packets, before, "a packet was accepted");
        assert!(
            followup <= MAX_PACKET_LEN + 64 * 1024,
            "still no error after {followup} more bytes"
        );
        from.send_ignore(&[0x77; 16 * 1024]).unwrap();
        let mut more = Vec::new();
        assert!(from.poll_transmit(&mut more));
        followup += more.len();
        result = to.handle_input(&more);
    }
    (result.unwrap_err(), followup)
}

/// Runs a fresh established pair, makes one side send an IGNORE with
/// `data`, lets `tamper` change its bytes, and delivers them.
fn tampered_packet(
    (cipher, mac): (&str, &str),
    direction: Direction,
    data: &[u8],
    tamper: impl FnOnce(&mut Vec<u8>),
) -> Result<Tampered, (u64, u64)> {
    let mut pair = established(cipher, mac);
    let (from, to) = ends(&mut pair, direction);
    let mut wire = one_packet(from, data);
    tamper(&mut wire);
    let before = to.traffic().1.packets;
    let result = to.handle_input(&wire);
    if result.is_ok() && to.traffic().1.packets > before {
        return Err((before, to.traffic().1.packets));
    }
    let (error, followup) = match result {
        Ok(_) => deliver_until_error(from, to, &[]),
        Err(e) => (e, 0),
    };
    let accepted = (before, to.traffic().1.packets);
    let context = format!("{cipher} {mac} {direction:?}");
    assert_failed_cleanly(to, &error, &context);
    // The DISCONNECT reaches the sender, which learns why.
    let mut out = Vec::new();
    assert!(to.poll_transmit(&mut out), "{context}: no DISCONNECT sent");
    assert_eq!(from.handle_input(&out), Ok(out.len()), "{context}");
    assert!(from.is_closed(), "{context}");
    assert_eq!(
        disconnected(&drain_events(from)),
        error.disconnect_reason().map(|r| (r, true)),
        "{context}"
    );
    Ok(Tampered {
        error,
        accepted,
        followup,
    })
}

// ----- (a) one flipped bit, at every byte of a packet -----

/// Flips one bit (bit `position % 8`) of every byte of a sample encrypted
/// packet in each direction, one fresh connection per position: each must
/// end in `Error::Packet` and a DISCONNECT, with nothing accepted.
fn every_byte_flipped(kind: (&str, &str)) {
    let (cipher, mac) = kind;
    let mut checked = 0;
    let mut waited = 0;
    for (direction, data) in [
        (Direction::ToServer, &[0x11u8; 20][..]),
        (Direction::ToClient, &[0x22u8; 37][..]),
    ] {
        // Untouched, the same packet is accepted: the sample is sound and
        // the counter below can tell.
        let mut len = 0;
        let control = tampered_packet(kind, direction, data, |wire| len = wire.len());
        let Err((before, after)) = control else {
            panic!("{cipher} {mac} {direction:?}: the untouched packet was refused");
        };
        assert_eq!(after, before + 1);
        assert!(len > 40, "{len}");

        for position in 0..len {
            let outcome = tampered_packet(kind, direction, data, |wire| {
                assert_eq!(wire.len(), len, "the sample packet changed");
                wire[position] ^= 1 << (position % 8);
            })
            .unwrap_or_else(|_| {
                panic!("{cipher} {mac} {direction:?}: bit flip at {position} accepted")
            });
            let context = format!("{cipher} {mac} {direction:?} byte {position}/{len}");
            assert!(
                matches!(outcome.error, Error::Packet(_)),
                "{context}: {:?}",
                outcome.error
            );
            // Past the first cipher block the length is intact: only the
            // MAC (or AEAD tag) can object.
            if position >= 16 {
                assert!(
                    matches!(outcome.error, Error::Packet(PacketError::Mac(_))),
                    "{context}: {:?}",
                    outcome.error
                );
            }
            assert_eq!(outcome.accepted.0, outcome.accepted.1, "{context}");
            if outcome.followup > 0 {
                waited += 1;
            }
            checked += 1;
        }
    }
    eprintln!(
        "{cipher} {mac}: {checked} positions refused ({waited} after waiting for more bytes)"
    );
}

#[test]
fn flipped_bit_chacha20_poly1305() {
    every_byte_flipped(KINDS[0]);
}

#[test]
fn flipped_bit_aes128_gcm() {
    every_byte_flipped(KINDS[1]);
}

#[test]
fn flipped_bit_aes128_ctr_encrypt_and_mac() {
    every_byte_flipped(KINDS[2]);
}

#[test]
fn flipped_bit_aes128_ctr_encrypt_then_mac() {
    every_byte_flipped(KINDS[3]);
}

#[test]
fn flipped_bit_aes128_cbc_hmac_sha1() {
    every_byte_flipped(KINDS[4]);
}

#[test]
fn flipped_bit_3des_cbc_hmac_md5() {
    every_byte_flipped(KINDS[5]);
}

// ----- (b) truncated, reordered, replayed, oversized -----

#[test]
fn a_truncated_packet_is_waited_for_silently() {
    for (cipher, mac) in KINDS {
        let mut pair = established(cipher, mac);
        let wire = one_packet(&mut pair.client, &[0x33; 50]);
        let before = pair.server.traffic().1.packets;
        // Every prefix: nothing happens, nothing is said, nothing accepted.
        for (i, byte) in wire.iter().enumerate().take(wire.len() - 1) {
            assert_eq!(pair.server.handle_input(&[*byte]), Ok(1));
            assert!(drain_events(&mut pair.server).is_empty(), "{cipher} at {i}");
            assert!(
                !pair.server.poll_transmit(&mut Vec::new()),
                "{cipher} at {i}"
            );
            assert_eq!(pair.server.traffic().1.packets, before, "{cipher} at {i}");
        }
        // The stream stops there; time passes (short of the login grace
        // time and the rekey interval): still no error and no event.
        pair.advance(Duration::from_secs(60));
        pair.assert_ok();
        assert!(drain_events(&mut pair.server).is_empty());
        // The last byte completes it.
        assert_eq!(pair.server.handle_input(&wire[wire.len() - 1..]), Ok(1));
        assert_eq!(pair.server.traffic().1.packets, before + 1, "{cipher}");
        assert!(!pair.server.is_closed());
    }
}

#[test]
fn a_truncated_handshake_ends_only_at_the_handshake_timeout() {
    for role in [Role::Client, Role::Server] {
        let peer_role = match role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        };
        let mut peer = fresh(peer_role, 9);
        let mut opening = Vec::new();
        assert!(peer.poll_transmit(&mut opening));
        let mut conn = fresh(role, 3);
        // Version line and half the KEXINIT.
        let line_end = opening.iter().position(|&b| b == b'\n').unwrap() + 1;
        let cut = line_end + (opening.len() - line_end) / 2;
        assert_eq!(conn.handle_input(&opening[..cut]), Ok(cut));
        assert!(conn.peer_version().is_some());
        assert!(drain_events(&mut conn).is_empty());
        let start = Duration::from_secs(1000);
        assert_eq!(conn.poll_timeout(), Some(start + Duration::from_secs(120)));
        conn.handle_timeout(start + Duration::from_secs(119))
            .unwrap();
        assert!(drain_events(&mut conn).is_empty(), "{role:?}");
        let err = conn
            .handle_timeout(start + Duration::from_secs(120))
            .unwrap_err();
        assert!(matches!(err, Error::Timeout(_)), "{role:?}: {err:?}");
        assert_eq!(sent_disconnect(&mut conn), err.disconnect_reason());
        assert_failed_cleanly(&mut conn, &err, &format!("{role:?}"));
    }
}

#[test]
fn reordered_packets_are_refused() {
    for (cipher, mac) in KINDS {
        let mut pair = established(cipher, mac);
        let first = one_packet(&mut pair.client, &[0x44; 30]);
        let second = one_packet(&mut pair.client, &[0x55; 30]);
        let before = pair.server.traffic().1.packets;
        let mut swapped = second.clone();
        swapped.extend_from_slice(&first);
        let (err, followup) = deliver_until_error(&mut pair.client, &mut pair.server, &swapped);
        eprintln!("{cipher} {mac}: swapped packets -> {err:?} (+{followup} bytes)");
        assert!(matches!(err, Error::Packet(_)), "{cipher} {mac}: {err:?}");
        if length_in_clear(cipher, mac) {
            // The length is genuine, so it comes down to the MAC, which
            // covers the sequence number.
            assert!(
                matches!(err, Error::Packet(PacketError::Mac(_))),
                "{cipher} {mac}: {err:?}"
            );
        }
        assert_eq!(pair.server.traffic().1.packets, before, "{cipher} {mac}");
        assert_failed_cleanly(&mut pair.server, &err, cipher);
        assert!(pair.server.poll_transmit(&mut Vec::new()), "no DISCONNECT");
    }
}

#[test]
fn a_replayed_packet_is_refused() {
    for (cipher, mac) in KINDS {
        let mut pair = established(cipher, mac);
        let wire = one_packet(&mut pair.client, &[0x66; 30]);
        let before = pair.server.traffic().1.packets;
        assert_eq!(pair.server.handle_input(&wire), Ok(wire.len()));
        assert_eq!(pair.server.traffic().1.packets, before + 1);
        // The same bytes again, now under the next sequence number.
        let (err, followup) = deliver_until_error(&mut pair.client, &mut pair.server, &wire);
        eprintln!("{cipher} {mac}: replayed packet -> {err:?} (+{followup} bytes)");
        assert!(matches!(err, Error::Packet(_)), "{cipher} {mac}: {err:?}");
        if length_in_clear(cipher, mac) {
            assert!(
                matches!(err, Error::Packet(PacketError::Mac(_))),
                "{cipher} {mac}: {err:?}"
            );
        }
        assert_eq!(pair.server.traffic().1.packets, before + 1);
        assert_failed_cleanly(&mut pair.server, &err, cipher);
        assert!(pair.server.poll_transmit(&mut Vec::new()), "no DISCONNECT");
    }
}

#[test]
fn forged_lengths_in_the_plaintext_phase() {
    let limit = u32::try_from(MAX_PACKET_LEN).unwrap();
    for role in [Role::Client, Role::Server] {
        for len in [limit + 4, limit + 8, 1 << 24, u32::MAX] {
            let mut input = b"SSH-2.0-forger\r\n".to_vec();
            input.extend_from_slice(&len.to_be_bytes());
            input.extend_from_slice(&[4, 0, 0, 0]);
            let err = refused(role, &input);
            assert!(
                matches!(err, Error::Packet(PacketError::TooLarge { len: l, max }) if l == len && max == MAX_PACKET_LEN),
                "{role:?} {len}: {err:?}"
            );
        }
        // The largest allowed length (aligned to 8 with its length field)
        // is not refused: the connection waits for the rest.
        let mut conn = fresh(role, 3);
        let mut input = b"SSH-2.0-forger\r\n".to_vec();
        input.extend_from_slice(&(limit - 4).to_be_bytes());
        input.extend_from_slice(&[4, 0, 0, 0]);
        assert_eq!(conn.handle_input(&input), Ok(input.len()));
        assert!(drain_events(&mut conn).is_empty());
    }
}

#[test]
fn a_forged_length_is_refused_before_buffering() {
    // The receiver itself (what a connection holds): the length is judged
    // from the first block alone (8 bytes in the plaintext phase), and
    // nothing beyond what arrived is kept.
    let forged = u32::try_from(MAX_PACKET_LEN + 8).unwrap().to_be_bytes();
    let mut receiver = PacketReceiver::new(plaintext_opener());
    receiver.buffer_input(&forged);
    assert!(matches!(receiver.next_packet(), Ok(None)));
    receiver.buffer_input(&[4, 0, 0, 0]);
    assert!(matches!(
        receiver.next_packet(),
        Err(PacketError::TooLarge { .. })
    ));
    assert_eq!(receiver.buffered(), 8);
    assert_eq!(receiver.traffic().packets, 0);
    // A maximal but legal length: waits, still holding only what it got.
    let legal = u32::try_from(MAX_PACKET_LEN - 4).unwrap().to_be_bytes();
    let mut receiver = PacketReceiver::new(plaintext_opener());
    receiver.buffer_input(&legal);
    receiver.buffer_input(&[4, 0, 0, 0]);
    assert!(matches!(receiver.next_packet(), Ok(None)));
    assert_eq!(receiver.buffered(), 8);
}

#[test]
fn forged_lengths_under_encryption_when_the_length_is_in_the_clear() {
    // GCM and EtM keep the length readable; a forged one is refused before
    // the tag is even looked at (no 256 KiB is waited for or kept).
    for (cipher, mac) in [KINDS[1], KINDS[3]] {
        for len in [u32::try_from(MAX_PACKET_LEN).unwrap() + 16, 1 << 30] {
            let outcome = tampered_packet((cipher, mac), Direction::ToServer, &[9; 20], |wire| {
                wire[..4].copy_from_slice(&len.to_be_bytes());
            })
            .unwrap_or_else(|_| panic!("{cipher} {mac}: accepted"));
            assert!(
                matches!(outcome.error, Error::Packet(PacketError::TooLarge { len: l, .. }) if l == len),
                "{cipher} {mac}: {:?}",
                outcome.error
            );
            assert_eq!(outcome.followup, 0);
        }
    }
}

#[test]
fn garbage_after_the_version_line() {
    // What follows the version line, and the error it must end in.
    type Expected = fn(&Error) -> bool;
    let cases: Vec<(Vec<u8>, Expected)> = vec![
        (b"\xff\xff\xff\xff garbage garbage".to_vec(), |e| {
            matches!(e, Error::Packet(PacketError::TooLarge { .. }))
        }),
        (vec![0, 0, 0, 3, 1, 0, 0, 0], |e| {
            matches!(e, Error::Packet(PacketError::BadLength { .. }))
        }),
        (
            vec![0, 0, 0, 13, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            |e| matches!(e, Error::Packet(PacketError::BadLength { .. })),
        ),
        (
            vec![0, 0, 0, 12, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            |e| matches!(e, Error::Packet(PacketError::BadPadding { .. })),
        ),
        (vec![0, 0, 0, 12, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], |e| {
            matches!(e, Error::Packet(PacketError::BadPadding { .. }))
        }),
        // Well framed, but a KEXINIT cut short.
        (frame(&[vec![numbers::KEXINIT, 1, 2, 3]]), |e| {
            matches!(e, Error::Decode(_))
        }),
        // Well framed, but no payload at all.
        (frame(&[vec![]]), |e| matches!(e, Error::Protocol(_))),
        // Channel data before any key exchange.
        (frame(&[vec![94, 0, 0, 0, 0, 0, 0, 0, 1, b'x']]), |e| {
            matches!(e, Error::Protocol(_))
        }),
        // A message number nobody defined.
        (frame(&[vec![255; 9]]), |e| matches!(e, Error::Protocol(_))),
        // A service request in the clear, before the key exchange.
        (
            frame(&[vec![
                numbers::SERVICE_REQUEST,
                0,
                0,
                0,
                12,
                b's',
                b's',
                b'h',
                b'-',
                b'u',
                b's',
                b'e',
                b'r',
                b'a',
                b'u',
                b't',
                b'h',
            ]]),
            |e| matches!(e, Error::Protocol(_)),
        ),
    ];
    for role in [Role::Client, Role::Server] {
        for (garbage, expected) in &cases {
            let mut input = b"SSH-2.0-garbage\r\n".to_vec();
            input.extend_from_slice(garbage);
            let err = refused(role, &input);
            assert!(expected(&err), "{role:?} {garbage:?}: {err:?}");
        }
    }
}

#[test]
fn version_line_length_limits() {
    for role in [Role::Client, Role::Server] {
        // 255 bytes with CR LF: the most RFC 4253 §4.2 allows.
        let mut line = b"SSH-2.0-".to_vec();
        line.resize(253, b'v');
        line.extend_from_slice(b"\r\n");
        assert_eq!(line.len(), 255);
        let mut conn = fresh(role, 3);
        assert_eq!(conn.handle_input(&line), Ok(255));
        assert_eq!(conn.peer_version().unwrap().len(), 253);
        assert!(drain_events(&mut conn).is_empty());

        for total in [300usize, 1000, 100_000] {
            let mut line = b"SSH-2.0-".to_vec();
            line.resize(total - 2, b'v');
            line.extend_from_slice(b"\r\n");
            let err = refused(role, &line);
            assert!(
                matches!(err, Error::Version(VersionError::LineTooLong { max: 255 })),
                "{role:?} {total}: {err:?}"
            );
        }
    }
}

#[test]
fn nul_in_the_version_exchange() {
    let inputs: [&[u8]; 3] = [b"SSH-2.0-a\0b\r\n", b"SSH-2.0-ok\0\r\n", b"\0SSH-2.0-x\r\n"];
    for role in [Role::Client, Role::Server] {
        for input in inputs {
            let err = refused(role, input);
            assert_eq!(err, Error::Version(VersionError::NulByte), "{role:?}");
        }
    }
    // In a server's banner line too.
    let err = refused(Role::Client, b"Welcome\0\r\nSSH-2.0-x\r\n");
    assert_eq!(err, Error::Version(VersionError::NulByte));
}

#[test]
fn ssh_1_is_not_spoken() {
    for role in [Role::Client, Role::Server] {
        for (line, found) in [
            (&b"SSH-1.5-OpenSSH_2.0\r\n"[..], "1.5"),
            (b"SSH-1.0-x\r\n", "1.0"),
            (b"SSH-3.0-x\r\n", "3.0"),
        ] {
            let err = refused(role, line);
            assert_eq!(
                err,
                Error::Version(VersionError::UnsupportedVersion {
                    found: found.into()
                }),
                "{role:?}"
            );
            assert_eq!(
                err.disconnect_reason(),
                Some(DisconnectReason::ProtocolVersionNotSupported)
            );
        }
        // 1.99 means "2.0 and 1": accepted.
        let mut conn = fresh(role, 3);
        assert_eq!(conn.handle_input(b"SSH-1.99-x\r\n"), Ok(12));
        assert_eq!(conn.peer_version(), Some(&b"SSH-1.99-x"[..]));
    }
}

#[test]
fn an_endless_server_banner_is_cut_off() {
    // Short lines: the line count runs out first; long lines: the byte
    // count; no newline at all: the line length.
    let short = b"\r\n".to_vec();
    let mut long = vec![b'b'; 250];
    long.extend_from_slice(b"\r\n");
    for line in [short, long] {
        let mut client = fresh(Role::Client, 3);
        let mut fed = 0usize;
        let mut lines = 0usize;
        let err = loop {
            assert!(
                lines <= MAX_PRE_VERSION_LINES + 1,
                "no end after {lines} lines"
            );
            fed += line.len();
            lines += 1;
            if let Err(e) = client.handle_input(&line) {
                break e;
            }
            assert!(drain_events(&mut client).is_empty());
        };
        assert!(
            matches!(err, Error::Version(VersionError::TooMuchBanner { .. })),
            "{err:?}"
        );
        // (The byte count leaves out each line's CR.)
        assert!(
            fed <= MAX_PRE_VERSION_BYTES + MAX_PRE_VERSION_LINES + MAX_VERSION_LINE + 1,
            "{fed} bytes taken"
        );
        assert!(lines <= MAX_PRE_VERSION_LINES + 1, "{lines} lines taken");
        assert_eq!(sent_disconnect(&mut client), err.disconnect_reason());
        assert_failed_cleanly(&mut client, &err, "banner");
    }

    let mut client = fresh(Role::Client, 3);
    let mut fed = 0usize;
    let err = loop {
        assert!(fed < 1024, "no end after {fed} bytes");
        fed += 16;
        if let Err(e) = client.handle_input(&[b'x'; 16]) {
            break e;
        }
    };
    assert_eq!(err, Error::Version(VersionError::LineTooLong { max: 255 }));
    assert!(fed <= 256 + 16, "{fed}");
}

#[test]
fn a_client_may_not_send_banner_lines() {
    for input in [
        &b"Hello server\r\nSSH-2.0-x\r\n"[..],
        b"\r\nSSH-2.0-x\r\n",
        b"GET / HTTP/1.1\r\n",
        b"H",
        b"SSX",
    ] {
        let err = refused(Role::Server, input);
        assert!(
            matches!(err, Error::Version(VersionError::NotSsh { .. })),
            "{input:?}: {err:?}"
        );
    }
    // The same banner is fine coming from a server.
    let mut client = fresh(Role::Client, 3);
    assert!(
        client
            .handle_input(b"Hello client\r\nSSH-2.0-x\r\n")
            .is_ok()
    );
    assert!(client.peer_version().is_some());
}

// ----- (c) the Terrapin prefix attack (CVE-2023-48795) -----

/// What the man in the middle does to the server's stream.
#[derive(Clone, Copy)]
struct Terrapin {
    /// Slip an IGNORE in front of the server's KEXINIT.
    inject: bool,
    /// Drop the server's first encrypted packet (its EXT_INFO).
    drop: bool,
}

/// A pair with chacha20-poly1305 and `strict_kex` on both sides, and the
/// attacker's tap in the server-to-client direction. Also returns how many
/// bytes the tap dropped.
fn terrapin_pair(strict_kex: bool, attack: Terrapin) -> (Pair, Rc<Cell<usize>>) {
    let mut config = config_with(
        "curve25519-sha256",
        "ssh-ed25519",
        "chacha20-poly1305@openssh.com",
        "hmac-sha2-256",
    );
    config.preferences.strict_kex = strict_kex;
    let mut pair = Pair::new(config.clone(), config);
    let dropped = Rc::new(Cell::new(0usize));
    let log = dropped.clone();
    // 0: before the version line, 1: plaintext packets until NEWKEYS, 2: done.
    let mut phase = 0;
    pair.tap = Some(Box::new(move |direction, bytes| {
        if direction != Direction::ToClient {
            return;
        }
        if phase == 0 {
            phase = 1;
            if attack.inject {
                let line_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
                // A plaintext IGNORE: length 12, padding 6, empty string.
                let ignore = [
                    0,
                    0,
                    0,
                    12,
                    6,
                    numbers::IGNORE,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ];
                bytes.splice(line_end..line_end, ignore);
            }
            return;
        }
        if phase == 1 {
            // Before the server's NEWKEYS everything it sends is plaintext:
            // walk it to the NEWKEYS; what follows in the same chunk is the
            // first encrypted packet, the EXT_INFO (the server has nothing
            // else to say before the client's service request).
            let Some(newkeys) = plaintext_packets(after_version_line(bytes))
                .into_iter()
                .find(|p| p.payload == [numbers::NEWKEYS])
            else {
                return;
            };
            phase = 2;
            let end =
                bytes.len() - after_version_line(bytes).len() + newkeys.offset + newkeys.wire_len;
            if attack.drop {
                log.set(bytes.len() - end);
                bytes.truncate(end);
            }
        }
    }));
    (pair, dropped)
}

#[test]
fn terrapin_succeeds_silently_without_strict_kex() {
    // Unattacked, without strict kex, the client learns server-sig-algs.
    let (mut pair, _) = terrapin_pair(
        false,
        Terrapin {
            inject: false,
            drop: false,
        },
    );
    pair.run();
    pair.assert_ok();
    assert!(pair.established());
    assert!(!pair.client.negotiated().unwrap().strict_kex);
    assert!(pair.client.server_sig_algs().is_some());

    // Attacked: one IGNORE in, one encrypted packet out. The sequence
    // numbers line up again, nobody notices, and the extension negotiation
    // is gone.
    let (mut pair, dropped) = terrapin_pair(
        false,
        Terrapin {
            inject: true,
            drop: true,
        },
    );
    pair.run();
    pair.assert_ok();
    assert!(pair.established(), "the attacked connection should work");
    assert!(dropped.get() > 16, "the EXT_INFO was not found");
    assert_eq!(pair.client.server_sig_algs(), None);
    assert_eq!(pair.client.session_id(), pair.server.session_id());
    // And it keeps working: traffic both ways, a login and a rekey.
    for _ in 0..5 {
        pair.client.send_ignore(&[1; 100]).unwrap();
        pair.server.send_ignore(&[2; 100]).unwrap();
    }
    pair.tap = None;
    pair.authenticate();
    pair.client.request_rekey().unwrap();
    pair.run();
    pair.assert_ok();
    assert_eq!(pair.client.key_exchanges(), 2);

    // Each half alone breaks the sequence numbers, and is caught (once the
    // host key is accepted: the client reads nothing encrypted before).
    for attack in [
        Terrapin {
            inject: true,
            drop: false,
        },
        Terrapin {
            inject: false,
            drop: true,
        },
    ] {
        let (mut pair, _) = terrapin_pair(false, attack);
        pair.run();
        let err = pair.client_error.clone().expect("half an attack is caught");
        assert!(matches!(err, Error::Packet(_)), "{err:?}");
    }
}

#[test]
fn terrapin_is_detected_with_strict_kex() {
    let (mut pair, dropped) = terrapin_pair(
        true,
        Terrapin {
            inject: true,
            drop: true,
        },
    );
    pair.run();
    let err = pair.client_error.clone().expect("the attack is caught");
    assert!(
        matches!(err, Error::Protocol(ref m) if m.contains("strict kex")),
        "{err:?}"
    );
    assert!(!pair.established());
    assert_eq!(dropped.get(), 0, "caught before any encrypted packet");
    assert_eq!(
        disconnected(&pair.client_events),
        Some((DisconnectReason::ProtocolError, false))
    );
    // The server is told.
    assert_eq!(
        disconnected(&pair.server_events),
        Some((DisconnectReason::ProtocolError, true))
    );
}

// ----- (d) a wrong first_kex_packet_follows guess -----

/// A hand-made client: its KEXINIT (with `first_kex_packet_follows` set and
/// `kex` as its list), then a guessed packet that would fail the exchange
/// if processed, then a valid curve25519 KEX_ECDH_INIT. Returns what the
/// server made of it.
fn guessing_client(kex: &str) -> (Result<usize, Error>, Vec<u8>) {
    let mut server_config = Config::server(ed25519_host_key());
    server_config
        .preferences
        .set_kex("curve25519-sha256")
        .unwrap();
    let mut server = fresh_with(server_config);
    let mut prefs = sekura_negotiation::Preferences::default();
    prefs.set_kex(kex).unwrap();
    // The guess rule also compares the first host key algorithms.
    prefs.set_host_key_algorithms("ssh-ed25519").unwrap();
    let mut kexinit = prefs.kexinit(Role::Client, true, &mut TestRng(5));
    kexinit.first_kex_packet_follows = true;
    // The guess: an ECDH_INIT with a 1-byte point, which no curve takes.
    let guess = vec![numbers::KEX_30, 0, 0, 0, 1, 0xff];
    // The real one: the X25519 base point (u = 9).
    let mut real = vec![numbers::KEX_30, 0, 0, 0, 32, 9];
    real.resize(5 + 32, 0);
    let mut input = b"SSH-2.0-guesser\r\n".to_vec();
    input.extend_from_slice(&frame(&[kexinit.to_vec(), guess, real]));
    let result = server.handle_input(&input);
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    (result, out)
}

fn fresh_with(config: Config) -> Connection {
    Connection::server(
        Arc::new(config),
        Box::new(TestRng(4)),
        Duration::from_secs(1000),
    )
}

#[test]
fn a_wrong_kex_guess_is_ignored() {
    // The client's first method (ecdh-sha2-nistp256) is not the negotiated
    // one: its guessed packet must be dropped unread, and the exchange
    // carries on with the next.
    let (result, out) = guessing_client("ecdh-sha2-nistp256,curve25519-sha256");
    assert!(result.is_ok(), "{result:?}");
    // Up to its NEWKEYS (what follows is encrypted).
    let mut numbers_sent: Vec<u8> = Vec::new();
    for packet in plaintext_packets(after_version_line(&out)) {
        numbers_sent.push(packet.payload[0]);
        if packet.payload[0] == numbers::NEWKEYS {
            break;
        }
    }
    assert_eq!(
        numbers_sent,
        [numbers::KEXINIT, numbers::KEX_31, numbers::NEWKEYS],
        "the server answered the real KEX_ECDH_INIT"
    );

    // Control: a right guess is processed, and this one is bad.
    let (result, _) = guessing_client("curve25519-sha256");
    assert!(matches!(result, Err(Error::KeyExchange(_))), "{result:?}");
}

// ----- bounded property run: arbitrary input at three stages -----

/// Message numbers worth aiming at.
static INTERESTING: [u8; 22] = [
    1, 2, 3, 4, 5, 6, 7, 20, 21, 30, 31, 32, 33, 34, 50, 51, 52, 60, 80, 90, 94, 255,
];

/// The opening of a connection of `role` (its version line and KEXINIT
/// packet), made once: the stage-2 prefix for a peer of the other role. It
/// offers curve25519-sha256 only, so that a well-formed 32-byte ECDH
/// message from the body can take the exchange further.
fn opening(role: Role) -> &'static [u8] {
    static CLIENT: OnceLock<Vec<u8>> = OnceLock::new();
    static SERVER: OnceLock<Vec<u8>> = OnceLock::new();
    let cell = match role {
        Role::Client => &CLIENT,
        Role::Server => &SERVER,
    };
    cell.get_or_init(|| {
        let mut config = match role {
            Role::Client => Config::default(),
            Role::Server => Config::server(ed25519_host_key()),
        };
        config.preferences.set_kex("curve25519-sha256").unwrap();
        let config = Arc::new(config);
        let rng = Box::new(TestRng(11));
        let now = Duration::from_secs(1000);
        let mut conn = match role {
            Role::Client => Connection::client(config, rng, now),
            Role::Server => Connection::server(config, rng, now),
        };
        let mut out = Vec::new();
        assert!(conn.poll_transmit(&mut out));
        out
    })
}

/// One payload: a message number worth aiming at with arbitrary contents,
/// a well-formed ECDH message with an arbitrary point, a NEWKEYS, or
/// anything.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (select(&INTERESTING[..]), vec(any::<u8>(), 0..80)).prop_map(|(n, rest)| {
            let mut p = vec![n];
            p.extend(rest);
            p
        }),
        (select(vec![30u8, 31]), vec(any::<u8>(), 32)).prop_map(|(n, point)| {
            let mut p = vec![n, 0, 0, 0, 32];
            p.extend(point);
            p
        }),
        Just(vec![numbers::NEWKEYS]),
        vec(any::<u8>(), 0..80),
    ]
}

/// What follows the stage prefix: raw bytes, or payloads framed as
/// plaintext packets (so they reach the message layer).
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..600),
        vec(payload(), 0..8).prop_map(|p| frame(&p)),
    ]
}

/// Feeds `stream` in chunks of the given sizes (cycled) to a fresh
/// connection of `role`, checking after every call.
fn feed_arbitrary(
    role: Role,
    stage: u8,
    input: &[u8],
    chunks: &[usize],
) -> Result<(), TestCaseError> {
    let mut stream = match stage {
        0 => Vec::new(),
        1 => b"SSH-2.0-prop\r\n".to_vec(),
        _ => opening(match role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        })
        .to_vec(),
    };
    stream.extend_from_slice(input);
    let mut conn = fresh(role, 13);
    let mut rest = &stream[..];
    for &size in chunks.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        let result = conn.handle_input(chunk);
        let mut out = Vec::new();
        let _ = conn.poll_transmit(&mut out);
        let events = drain_events(&mut conn);
        if events.iter().any(|e| matches!(e, Event::HostKey(_))) {
            // Only a forged signature over the exchange hash gets here; go
            // on deeper if it ever happens.
            let _ = conn.accept_host_key();
        }
        match result {
            Ok(n) => {
                prop_assert_eq!(n, chunk.len());
                if let Some((_, by_peer)) = disconnected(&events) {
                    // Only the peer's own DISCONNECT ends it without an
                    // error, and it sticks.
                    prop_assert!(by_peer);
                    prop_assert!(conn.is_closed());
                    let again = conn.handle_input(b"x");
                    prop_assert!(
                        matches!(again, Err(Error::PeerDisconnected { .. })),
                        "{:?}",
                        again
                    );
                    return Ok(());
                }
            }
            Err(err) => {
                let typed = matches!(
                    err,
                    Error::Version(_)
                        | Error::Packet(_)
                        | Error::Decode(_)
                        | Error::Protocol(_)
                        | Error::Negotiation(_)
                        | Error::KeyExchange(_)
                        | Error::Compression(_)
                        | Error::ServiceNotAvailable(_)
                        | Error::AuthFailed(_)
                        | Error::PeerDisconnected { .. }
                );
                prop_assert!(typed, "unexpected error kind {:?}", err);
                prop_assert!(conn.is_closed());
                let expected = match &err {
                    Error::PeerDisconnected { reason, .. } => (*reason, true),
                    other => (other.disconnect_reason().unwrap(), false),
                };
                prop_assert_eq!(disconnected(&events), Some(expected), "{:?}", err);
                if conn.peer_version().is_some() && !expected.1 {
                    // After the version exchange a DISCONNECT goes out.
                    prop_assert!(!out.is_empty(), "no DISCONNECT sent for {:?}", err);
                }
                prop_assert_eq!(conn.handle_input(b"x"), Err(err));
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The default case count, unless `PROPTEST_CASES` says otherwise.
fn property_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    ProptestConfig {
        cases,
        // Beside this file (tests/proptest-regressions/), as the default
        // cannot find a lib.rs from an integration test.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(property_config())]

    #[test]
    fn arbitrary_input_to_a_client(
        stage in 0u8..3,
        input in body(),
        chunks in vec(1usize..64, 1..8),
    ) {
        feed_arbitrary(Role::Client, stage, &input, &chunks)?;
    }

    #[test]
    fn arbitrary_input_to_a_server(
        stage in 0u8..3,
        input in body(),
        chunks in vec(1usize..64, 1..8),
    ) {
        feed_arbitrary(Role::Server, stage, &input, &chunks)?;
    }
}
