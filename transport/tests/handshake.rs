//! The transport core end to end, in memory: handshakes over every
//! algorithm, rekeying, and hostile input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{Direction, Pair, config_with};
use sekura_algorithms::builtin;
use sekura_proto::numbers::DisconnectReason;
use sekura_transport::{Config, Error, Event};
use std::time::Duration;

fn disconnect_reason(events: &[Event]) -> Option<(DisconnectReason, bool)> {
    events.iter().find_map(|e| match e {
        Event::Disconnected {
            reason, by_peer, ..
        } => Some((*reason, *by_peer)),
        _ => None,
    })
}

#[test]
fn default_handshake() {
    let mut pair = Pair::default_pair();
    pair.run();
    pair.assert_ok();
    assert!(pair.established());
    let host_key = pair
        .client_events
        .iter()
        .find_map(|e| match e {
            Event::HostKey(k) => Some(k.clone()),
            _ => None,
        })
        .expect("the client was asked about the host key");
    assert!(host_key.fingerprint().starts_with("SHA256:"));
    assert_eq!(pair.client.session_id(), pair.server.session_id());
    assert!(pair.client.session_id().is_some());
    let negotiated = pair.client.negotiated().unwrap();
    assert_eq!(negotiated.kex.name(), builtin::DEFAULT_KEX[0].name());
    assert!(negotiated.strict_kex);
    // ext-info: the server told the client which signatures it accepts.
    assert!(
        pair.client
            .server_sig_algs()
            .is_some_and(|algs| !algs.is_empty())
    );
    assert!(
        pair.server
            .peer_version()
            .unwrap()
            .starts_with(b"SSH-2.0-sekura_")
    );
}

#[test]
fn every_kex_with_ed25519() {
    for kex in builtin::ALL_KEX {
        let config = config_with(kex.name(), "ssh-ed25519", "aes128-ctr", "hmac-sha2-256");
        let mut pair = Pair::new(config.clone(), config);
        pair.run();
        pair.assert_ok();
        assert!(pair.established(), "{}", kex.name());
        assert_eq!(pair.client.negotiated().unwrap().kex.name(), kex.name());
    }
}

#[test]
fn every_host_key_algorithm_with_curve25519() {
    for host_key in builtin::ALL_HOST_KEY {
        if host_key.name() == "ssh-dss" {
            continue; // No DSA host key in the test set: see host_keys().
        }
        let config = config_with(
            "curve25519-sha256",
            host_key.name(),
            "aes128-ctr",
            "hmac-sha2-256",
        );
        let mut pair = Pair::new(config.clone(), config);
        pair.run();
        pair.assert_ok();
        assert!(pair.established(), "{}", host_key.name());
        let negotiated = pair.client.negotiated().unwrap();
        assert_eq!(negotiated.host_key.unwrap().name(), host_key.name());
    }
}

#[test]
fn every_cipher_with_every_mac_moves_data() {
    for cipher in builtin::ALL_CIPHERS {
        let macs: Vec<&str> = if cipher.aead_tag_len().is_some() {
            vec!["hmac-sha2-256"] // implicit: the AEAD tag replaces the MAC
        } else {
            builtin::ALL_MACS.iter().map(|m| m.name()).collect()
        };
        for mac in macs {
            let config = config_with("curve25519-sha256", "ssh-ed25519", cipher.name(), mac);
            let mut pair = Pair::new(config.clone(), config);
            pair.run();
            pair.assert_ok();
            assert!(pair.established(), "{} {mac}", cipher.name());
            for size in [0usize, 1, 15, 16, 17, 1000, 32 * 1024] {
                pair.client.send_ignore(&vec![0xa5; size]).unwrap();
                pair.server.send_ignore(&vec![0x5a; size]).unwrap();
            }
            pair.run();
            pair.assert_ok();
            let (tx, rx) = pair.client.traffic();
            assert!(
                tx.packets >= 7 && rx.packets >= 7,
                "{} {mac}",
                cipher.name()
            );
        }
    }
}

#[test]
fn rekeys_from_both_sides_mid_traffic() {
    let mut pair = Pair::default_pair();
    pair.authenticate();
    pair.assert_ok();
    let session_id = pair.client.session_id().unwrap().to_vec();
    for round in 0..3 {
        for _ in 0..20 {
            pair.client.send_ignore(&[1; 3000]).unwrap();
            pair.server.send_ignore(&[2; 3000]).unwrap();
        }
        if round % 2 == 0 {
            pair.client.request_rekey().unwrap();
        } else {
            pair.server.request_rekey().unwrap();
        }
        // Traffic queued while the exchange runs.
        pair.client.send_ignore(&[3; 100]).unwrap();
        pair.run();
        pair.assert_ok();
    }
    assert_eq!(pair.client.key_exchanges(), 4);
    assert_eq!(pair.server.key_exchanges(), 4);
    // The session id is the first exchange's hash, forever.
    assert_eq!(pair.client.session_id().unwrap(), session_id.as_slice());
    // Only the first exchange asks about the host key.
    let asked = pair
        .client_events
        .iter()
        .filter(|e| matches!(e, Event::HostKey(_)))
        .count();
    assert_eq!(asked, 1);
}

#[test]
fn rekeys_on_the_byte_limit() {
    let mut config = Config::default();
    config.rekey_bytes = 64 * 1024;
    let mut pair = Pair::new(config.clone(), config);
    pair.authenticate();
    for _ in 0..64 {
        pair.client.send_ignore(&[0; 16 * 1024]).unwrap();
        pair.run();
    }
    pair.assert_ok();
    assert!(
        pair.client.key_exchanges() >= 8,
        "{}",
        pair.client.key_exchanges()
    );
    assert_eq!(pair.client.key_exchanges(), pair.server.key_exchanges());
}

#[test]
fn rekeys_on_time() {
    // An hour without authenticating: the login grace time must not end it.
    let mut server = Config::default();
    server.login_grace_time = None;
    let mut pair = Pair::new(Config::default(), server);
    pair.authenticate();
    pair.advance(Duration::from_secs(3599));
    pair.run();
    assert_eq!(pair.client.key_exchanges(), 1);
    pair.advance(Duration::from_secs(2));
    pair.run();
    pair.assert_ok();
    assert_eq!(pair.client.key_exchanges(), 2);
}

#[test]
fn a_flipped_bit_is_a_mac_error_for_every_cipher() {
    for cipher in builtin::ALL_CIPHERS {
        for position in [4usize, 5, 9, 20, 40] {
            let config = config_with(
                "curve25519-sha256",
                "ssh-ed25519",
                cipher.name(),
                "hmac-sha2-256-etm@openssh.com",
            );
            let mut pair = Pair::new(config.clone(), config);
            pair.run();
            pair.assert_ok();
            pair.client.send_ignore(&[0u8; 64]).unwrap();
            pair.tap = Some(Box::new(move |direction, bytes| {
                if direction == Direction::ToServer {
                    bytes[position] ^= 0x10;
                }
            }));
            pair.run();
            assert!(
                matches!(pair.server_error, Some(Error::Packet(_))),
                "{} at {position}: {:?}",
                cipher.name(),
                pair.server_error
            );
            let (reason, by_peer) = disconnect_reason(&pair.server_events).unwrap();
            assert!(!by_peer);
            assert!(
                matches!(
                    reason,
                    DisconnectReason::MacError | DisconnectReason::ProtocolError
                ),
                "{reason:?}"
            );
        }
    }
}

#[test]
fn terrapin_prefix_is_detected_under_strict_kex() {
    // An attacker in the middle slips an IGNORE in front of the server's
    // KEXINIT, shifting the client's sequence numbers (CVE-2023-48795).
    let mut pair = Pair::default_pair();
    let mut first = true;
    pair.tap = Some(Box::new(move |direction, bytes| {
        if direction == Direction::ToClient && first {
            first = false;
            let line_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
            // A plaintext IGNORE packet: length 12, padding 6.
            let ignore = [0, 0, 0, 12, 6, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            bytes.splice(line_end..line_end, ignore);
        }
    }));
    pair.run();
    let err = pair.client_error.clone().expect("the injection is caught");
    assert!(
        matches!(err, Error::Protocol(ref m) if m.contains("strict kex")),
        "{err:?}"
    );
    assert_eq!(
        disconnect_reason(&pair.client_events),
        Some((DisconnectReason::ProtocolError, false))
    );
}

#[test]
fn rejected_host_key_tells_the_server_why() {
    let mut pair = Pair::default_pair();
    pair.accept_host_keys = false;
    pair.run();
    assert!(!pair.established());
    let err = pair.client.reject_host_key("not in known_hosts");
    assert!(matches!(err, Error::HostKeyRejected(_)));
    pair.run();
    assert_eq!(
        disconnect_reason(&pair.server_events),
        Some((DisconnectReason::HostKeyNotVerifiable, true))
    );
}

#[test]
fn silent_peer_times_out() {
    let mut pair = Pair::default_pair();
    // Nothing is delivered: the server waits for a client that never talks.
    pair.advance(Duration::from_secs(119));
    assert!(pair.server_error.is_none());
    pair.advance(Duration::from_secs(2));
    assert!(matches!(pair.server_error, Some(Error::Timeout(_))));
    let events: Vec<Event> = std::iter::from_fn(|| pair.server.poll_event()).collect();
    assert_eq!(
        disconnect_reason(&events),
        Some((DisconnectReason::ConnectionLost, false))
    );
    // A DISCONNECT is waiting to be sent.
    let mut out = Vec::new();
    assert!(pair.server.poll_transmit(&mut out));
}

#[test]
fn garbage_after_the_version_line_is_a_typed_error() {
    let mut pair = Pair::default_pair();
    let err = pair
        .server
        .handle_input(b"SSH-2.0-x\r\n\xff\xff\xff\xff garbage garbage")
        .unwrap_err();
    assert!(matches!(err, Error::Packet(_)), "{err:?}");
    // Once closed, every call reports the same error.
    assert_eq!(pair.server.handle_input(b"more").unwrap_err(), err);
}

#[test]
fn peer_disconnect_surfaces_its_text() {
    let mut pair = Pair::default_pair();
    pair.run();
    pair.client
        .disconnect(DisconnectReason::ByApplication, "bye now");
    pair.run();
    let text = pair.server_events.iter().find_map(|e| match e {
        Event::Disconnected {
            description,
            by_peer: true,
            ..
        } => Some(description.clone()),
        _ => None,
    });
    assert_eq!(text.as_deref(), Some("bye now"));
    assert!(pair.server.is_closed());
}

#[test]
fn no_common_cipher_names_both_lists() {
    let client = config_with(
        "curve25519-sha256",
        "ssh-ed25519",
        "aes128-ctr",
        "hmac-sha2-256",
    );
    let server = config_with(
        "curve25519-sha256",
        "ssh-ed25519",
        "aes256-gcm@openssh.com",
        "hmac-sha2-256",
    );
    let mut pair = Pair::new(client, server);
    pair.run();
    let err = pair.client_error.clone().unwrap();
    let text = err.to_string();
    assert!(
        text.contains("aes128-ctr") && text.contains("aes256-gcm@openssh.com"),
        "{text}"
    );
    assert_eq!(
        disconnect_reason(&pair.client_events),
        Some((DisconnectReason::KeyExchangeFailed, false))
    );
}

#[test]
fn zlib_compresses_the_stream_both_ways() {
    let plain = config_with(
        "curve25519-sha256",
        "ssh-ed25519",
        "aes128-ctr",
        "hmac-sha2-256",
    );
    let mut zlib = plain.clone();
    zlib.preferences.set_compression("zlib").unwrap();
    let mut moved = Vec::new();
    for config in [plain, zlib] {
        let mut pair = Pair::new(config.clone(), config);
        pair.authenticate();
        let before = pair.moved;
        for _ in 0..50 {
            pair.client.send_ignore(&[0x41; 8000]).unwrap();
            pair.server.send_ignore(&[0x42; 8000]).unwrap();
        }
        pair.client.request_rekey().unwrap();
        pair.run();
        for _ in 0..50 {
            pair.client.send_ignore(&[0x43; 8000]).unwrap();
        }
        pair.run();
        pair.assert_ok();
        assert_eq!(pair.client.key_exchanges(), 2);
        moved.push((pair.moved.0 - before.0, pair.moved.1 - before.1));
    }
    let (plain, zlib) = (moved[0], moved[1]);
    assert!(plain.0 > 800_000 && plain.1 > 400_000, "{plain:?}");
    assert!(
        zlib.0 * 20 < plain.0 && zlib.1 * 20 < plain.1,
        "{zlib:?} vs {plain:?}"
    );
}

#[test]
fn no_rekey_of_ours_starts_before_authentication() {
    // OpenSSH cannot rekey before user authentication: neither do we.
    let mut config = Config::default();
    config.rekey_bytes = 16 * 1024;
    let mut pair = Pair::new(config.clone(), config);
    pair.run();
    pair.client.request_rekey().unwrap();
    for _ in 0..8 {
        pair.client.send_ignore(&[0; 8 * 1024]).unwrap();
    }
    pair.run();
    pair.assert_ok();
    assert_eq!(pair.client.key_exchanges(), 1);
    // Once authenticated, the waiting request and the byte limit apply.
    pair.authenticate();
    pair.client.send_ignore(b"x").unwrap();
    pair.run();
    assert!(
        pair.client.key_exchanges() >= 2,
        "{}",
        pair.client.key_exchanges()
    );
    pair.assert_ok();
}

#[test]
fn nothing_encrypted_is_read_before_the_host_key_is_accepted() {
    let mut pair = Pair::default_pair();
    pair.accept_host_keys = false;
    pair.run();
    // The server has sent NEWKEYS and its EXT_INFO: both wait unread.
    assert!(pair.client.server_sig_algs().is_none());
    assert_eq!(pair.client.key_exchanges(), 0);
    pair.client.accept_host_key().unwrap();
    assert!(pair.client.server_sig_algs().is_some());
    pair.run();
    pair.assert_ok();
    assert!(pair.established());
}
