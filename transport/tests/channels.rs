//! The connection protocol end to end, in memory: channels, flow control,
//! requests, half-close, limits, global requests and keepalives.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{Direction, Pair};
use sekura_algorithms::none::{NONE_CIPHER, NONE_MAC};
use sekura_proto::msg::{
    ChannelKind, ChannelRequestKind, Encode, GlobalRequestKind, TerminalModes,
};
use sekura_proto::numbers::ChannelOpenFailureReason;
use sekura_transport::{ChannelEvent, ChannelId, Config, Error, Event};
use std::time::Duration;

/// A pair whose client has authenticated with a password.
fn authenticated(client: Config, server: Config) -> Pair {
    let mut pair = Pair::new(client, server);
    pair.authenticate();
    pair.client_events.clear();
    pair.server_events.clear();
    pair
}

fn default_authenticated() -> Pair {
    authenticated(Config::default(), Config::default())
}

fn channel_events(events: &[Event]) -> Vec<&ChannelEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Channel(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// Opens a session from the client and accepts it on the server.
fn open_session(pair: &mut Pair) -> (ChannelId, ChannelId) {
    let client_id = pair.client.open_session().unwrap();
    pair.run();
    let server_id = channel_events(&pair.server_events)
        .iter()
        .rev()
        .find_map(|e| match e {
            ChannelEvent::OpenRequest { channel, request } => {
                assert!(matches!(request.channel_kind(), Some(ChannelKind::Session)));
                Some(*channel)
            }
            _ => None,
        })
        .unwrap();
    pair.server.accept_channel(server_id).unwrap();
    pair.run();
    assert!(
        channel_events(&pair.client_events)
            .iter()
            .any(|e| matches!(e, ChannelEvent::Opened { channel } if *channel == client_id))
    );
    (client_id, server_id)
}

fn read_all(conn: &mut sekura_transport::Connection, id: ChannelId, stderr: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 7000];
    loop {
        let n = if stderr {
            conn.channel_read_stderr(id, &mut buf).unwrap()
        } else {
            conn.channel_read(id, &mut buf).unwrap()
        };
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn exec_session_with_output_exit_status_and_close() {
    let mut pair = default_authenticated();
    let (c, s) = open_session(&mut pair);
    pair.client
        .channel_request(
            c,
            &ChannelRequestKind::Exec {
                command: b"echo hello",
            },
            true,
        )
        .unwrap();
    pair.run();
    let exec = channel_events(&pair.server_events)
        .iter()
        .find_map(|e| match e {
            ChannelEvent::Request {
                channel,
                want_reply: true,
                request,
            } if *channel == s => Some(request.channel_request().unwrap().name().to_string()),
            _ => None,
        })
        .unwrap();
    assert_eq!(exec, "exec");
    pair.server.channel_request_reply(s, true).unwrap();
    assert_eq!(pair.server.channel_send(s, b"hello\n").unwrap(), 6);
    assert_eq!(pair.server.channel_send_stderr(s, b"warning\n").unwrap(), 8);
    pair.server
        .channel_request(s, &ChannelRequestKind::ExitStatus { status: 3 }, false)
        .unwrap();
    pair.server.channel_eof(s).unwrap();
    pair.server.channel_close(s).unwrap();
    pair.run();
    pair.assert_ok();

    let events = channel_events(&pair.client_events);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ChannelEvent::RequestReply { success: true, .. }))
    );
    let status = events.iter().find_map(|e| match e {
        ChannelEvent::Request { request, .. } => match request.channel_request() {
            Some(ChannelRequestKind::ExitStatus { status }) => Some(status),
            _ => None,
        },
        _ => None,
    });
    assert_eq!(status, Some(3));
    assert!(events.iter().any(|e| matches!(e, ChannelEvent::Eof { .. })));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ChannelEvent::Closed { channel } if *channel == c))
    );
    // The data stays readable after the close, stdout and stderr apart.
    assert_eq!(read_all(&mut pair.client, c, false), b"hello\n");
    assert_eq!(read_all(&mut pair.client, c, true), b"warning\n");
    assert!(pair.client.channel_eof_received(c));
    assert!(
        channel_events(&pair.server_events)
            .iter()
            .any(|e| matches!(e, ChannelEvent::Closed { channel } if *channel == s))
    );
}

#[test]
fn half_close_keeps_the_other_direction_open() {
    let mut pair = default_authenticated();
    let (c, s) = open_session(&mut pair);
    pair.client.channel_send(c, b"input").unwrap();
    pair.client.channel_eof(c).unwrap();
    pair.run();
    assert_eq!(read_all(&mut pair.server, s, false), b"input");
    assert!(pair.server.channel_eof_received(s));
    // Sending after our own EOF is refused locally, not sent.
    assert!(matches!(
        pair.client.channel_send(c, b"more"),
        Err(Error::Channel(_))
    ));
    // The server can still answer.
    pair.server.channel_send(s, b"output").unwrap();
    pair.run();
    assert_eq!(read_all(&mut pair.client, c, false), b"output");
    pair.assert_ok();
}

#[test]
fn a_stalled_reader_stalls_only_its_channel() {
    let mut config = Config::default();
    config.channel_window = 64 * 1024;
    let mut pair = authenticated(config.clone(), config);
    let channels: Vec<(ChannelId, ChannelId)> = (0..8).map(|_| open_session(&mut pair)).collect();
    let block: Vec<u8> = (0..16 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let total = 1024 * 1024;
    let mut sent = vec![0usize; channels.len()];
    let mut received = vec![Vec::new(); channels.len()];
    // Channel 0's reader never reads; the others read everything.
    for _round in 0..2000 {
        for (i, &(c, _)) in channels.iter().enumerate() {
            if sent[i] < total {
                let end = (total - sent[i]).min(block.len());
                sent[i] += pair.client.channel_send(c, &block[..end]).unwrap();
            }
        }
        pair.run();
        for (i, &(_, s)) in channels.iter().enumerate().skip(1) {
            received[i].extend(read_all(&mut pair.server, s, false));
        }
        pair.run();
        if sent.iter().skip(1).all(|&n| n == total)
            && received.iter().skip(1).all(|r| r.len() == total)
        {
            break;
        }
    }
    pair.assert_ok();
    for (i, got) in received.iter().enumerate().skip(1) {
        assert_eq!(got.len(), total, "channel {i}");
        assert!(got.chunks(block.len()).all(|c| c == &block[..c.len()]));
    }
    // Channel 0 got exactly one window's worth, buffered, and no more.
    assert_eq!(sent[0], 64 * 1024);
    assert_eq!(pair.server.channel_pending(channels[0].1).0, 64 * 1024);
    assert_eq!(pair.client.channel_send_window(channels[0].0), 0);
    // When it reads, the window reopens and the sender hears about it.
    pair.client_events.clear();
    let got = read_all(&mut pair.server, channels[0].1, false);
    assert_eq!(got.len(), 64 * 1024);
    pair.run();
    assert!(
        channel_events(&pair.client_events)
            .iter()
            .any(|e| matches!(e, ChannelEvent::Writable { channel } if *channel == channels[0].0))
    );
    assert!(pair.client.channel_send_window(channels[0].0) > 0);
}

#[test]
fn requests_carry_their_fields_and_replies_keep_order() {
    let mut pair = default_authenticated();
    let (c, s) = open_session(&mut pair);
    let modes: TerminalModes = [(1u8, 3u32), (128, 38400), (129, 38400)]
        .into_iter()
        .collect();
    let requests = [
        ChannelRequestKind::PtyReq {
            term: "xterm-256color",
            cols: 80,
            rows: 24,
            width_px: 640,
            height_px: 480,
            modes: modes.clone(),
        },
        ChannelRequestKind::Env {
            name: "LANG",
            value: b"C.UTF-8",
        },
        ChannelRequestKind::Shell,
        ChannelRequestKind::WindowChange {
            cols: 100,
            rows: 30,
            width_px: 0,
            height_px: 0,
        },
        ChannelRequestKind::Signal { name: "INT" },
    ];
    for r in &requests {
        pair.client.channel_request(c, r, true).unwrap();
    }
    pair.run();
    let received: Vec<_> = channel_events(&pair.server_events)
        .iter()
        .filter_map(|e| match e {
            ChannelEvent::Request { request, .. } => Some(request.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(received.len(), requests.len());
    for (got, sent) in received.iter().zip(&requests) {
        assert_eq!(&got.channel_request().unwrap(), sent);
    }
    // Answer in order: yes, no, yes, no, yes.
    for i in 0..requests.len() {
        pair.server.channel_request_reply(s, i % 2 == 0).unwrap();
    }
    assert!(matches!(
        pair.server.channel_request_reply(s, true),
        Err(Error::Channel(_))
    ));
    pair.run();
    let replies: Vec<bool> = channel_events(&pair.client_events)
        .iter()
        .filter_map(|e| match e {
            ChannelEvent::RequestReply { success, .. } => Some(*success),
            _ => None,
        })
        .collect();
    assert_eq!(replies, [true, false, true, false, true]);
    pair.assert_ok();
}

#[test]
fn channel_limit_refuses_with_resource_shortage() {
    let mut server = Config::default();
    server.max_channels = 2;
    let mut pair = authenticated(Config::default(), server);
    open_session(&mut pair);
    open_session(&mut pair);
    let third = pair.client.open_session().unwrap();
    pair.run();
    let failure = channel_events(&pair.client_events)
        .iter()
        .find_map(|e| match e {
            ChannelEvent::OpenFailed {
                channel, reason, ..
            } if *channel == third => Some(*reason),
            _ => None,
        });
    assert_eq!(failure, Some(ChannelOpenFailureReason::ResourceShortage));
    pair.assert_ok();
}

#[test]
fn refused_channels_free_their_number() {
    let mut pair = default_authenticated();
    let first = pair.client.open_session().unwrap();
    pair.run();
    let offered = channel_events(&pair.server_events)
        .iter()
        .find_map(|e| match e {
            ChannelEvent::OpenRequest { channel, .. } => Some(*channel),
            _ => None,
        })
        .unwrap();
    pair.server
        .reject_channel(
            offered,
            ChannelOpenFailureReason::AdministrativelyProhibited,
            "no",
        )
        .unwrap();
    pair.run();
    assert!(channel_events(&pair.client_events).iter().any(|e| matches!(
        e,
        ChannelEvent::OpenFailed { reason: ChannelOpenFailureReason::AdministrativelyProhibited, description, .. }
            if description == "no"
    )));
    assert_eq!(pair.client.open_session().unwrap(), first);
}

#[test]
fn closed_channel_numbers_are_reused_only_after_both_closes() {
    let mut pair = default_authenticated();
    let (c, s) = open_session(&mut pair);
    pair.client.channel_close(c).unwrap();
    // Our CLOSE is sent, the peer's not yet received: the number is taken.
    let other = pair.client.open_session().unwrap();
    assert_ne!(other, c);
    pair.run();
    let _ = s;
    assert!(
        channel_events(&pair.client_events)
            .iter()
            .any(|e| matches!(e, ChannelEvent::Closed { channel } if *channel == c))
    );
    let reused = pair.client.open_session().unwrap();
    assert_eq!(reused, c);
}

#[test]
fn tcpip_forward_reply_carries_the_bound_port() {
    let mut pair = default_authenticated();
    pair.client
        .global_request(
            &GlobalRequestKind::TcpipForward {
                address: "127.0.0.1",
                port: 0,
            },
            true,
        )
        .unwrap();
    pair.run();
    let request = channel_events(&pair.server_events)
        .iter()
        .find_map(|e| match e {
            ChannelEvent::GlobalRequest {
                want_reply: true,
                request,
            } => Some(request.clone()),
            _ => None,
        })
        .unwrap();
    assert!(matches!(
        request.global_request(),
        Some(GlobalRequestKind::TcpipForward {
            address: "127.0.0.1",
            port: 0
        })
    ));
    pair.server
        .global_request_reply(true, &40000u32.to_be_bytes())
        .unwrap();
    pair.run();
    let data = channel_events(&pair.client_events)
        .iter()
        .find_map(|e| match e {
            ChannelEvent::GlobalReply {
                success: true,
                data,
            } => Some(data.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(data, 40000u32.to_be_bytes());
    pair.assert_ok();
}

#[test]
fn keepalives_detect_a_silent_peer() {
    let mut client = Config::default();
    client.keepalive_interval = Some(Duration::from_secs(15));
    let mut pair = authenticated(client, Config::default());
    // A live peer answers: keepalives go out, replies come back unseen.
    pair.advance(Duration::from_secs(16));
    pair.run();
    pair.advance(Duration::from_secs(16));
    pair.run();
    pair.assert_ok();
    assert!(channel_events(&pair.client_events).is_empty());
    // Now the network eats everything the server says.
    pair.tap = Some(Box::new(|direction, bytes| {
        if direction == Direction::ToClient {
            bytes.clear();
        }
    }));
    for _ in 0..5 {
        pair.advance(Duration::from_secs(16));
        pair.run();
    }
    assert!(
        matches!(pair.client_error, Some(Error::Timeout(_))),
        "{:?}",
        pair.client_error
    );
}

/// A configuration that sends packets in the clear (the `none` cipher and
/// MAC, registered on purpose), so the test can forge messages.
fn plaintext_config() -> Config {
    let mut config = Config::default();
    config.preferences.register_cipher(&NONE_CIPHER).unwrap();
    config.preferences.register_mac(&NONE_MAC).unwrap();
    config.preferences.set_ciphers("none").unwrap();
    config.preferences.set_macs("none").unwrap();
    config
}

/// A plaintext packet (none cipher: 8-byte blocks, no MAC).
fn plaintext_packet(payload: &[u8]) -> Vec<u8> {
    let mut padding = 8 - (5 + payload.len()) % 8;
    if padding < 4 {
        padding += 8;
    }
    let len = (1 + payload.len() + padding) as u32;
    let mut p = len.to_be_bytes().to_vec();
    p.push(padding as u8);
    p.extend_from_slice(payload);
    p.extend(std::iter::repeat_n(0, padding));
    p
}

#[test]
fn data_beyond_the_window_or_packet_size_is_a_protocol_error() {
    for (len, what) in [(40 * 1024usize, "maximum"), (20 * 1024, "window")] {
        let mut server = plaintext_config();
        server.channel_window = 16 * 1024;
        let mut pair = authenticated(plaintext_config(), server);
        let (_, s) = open_session(&mut pair);
        // Forge a CHANNEL_DATA from the client that ignores the limits.
        let forged = sekura_proto::msg::ChannelData {
            recipient_channel: s.0,
            data: &vec![0; len],
        }
        .to_vec();
        let packet = plaintext_packet(&forged);
        let mut once = Some(packet);
        pair.tap = Some(Box::new(move |direction, bytes| {
            if direction == Direction::ToServer
                && let Some(p) = once.take()
            {
                bytes.extend_from_slice(&p);
            }
        }));
        pair.client.send_ignore(b"carrier").unwrap();
        pair.run();
        let err = pair.server_error.clone().unwrap();
        assert!(
            matches!(&err, Error::Protocol(m) if m.contains(what)),
            "{err:?}"
        );
    }
}

#[test]
fn channel_messages_before_authentication_are_refused() {
    let mut pair = Pair::new(plaintext_config(), plaintext_config());
    pair.run();
    let forged = sekura_proto::msg::ChannelOpen {
        sender_channel: 0,
        initial_window: 1000,
        max_packet: 1000,
        kind: ChannelKind::Session,
    }
    .to_vec();
    let mut once = Some(plaintext_packet(&forged));
    pair.tap = Some(Box::new(move |direction, bytes| {
        if direction == Direction::ToServer
            && let Some(p) = once.take()
        {
            bytes.extend_from_slice(&p);
        }
    }));
    pair.client.send_ignore(b"carrier").unwrap();
    pair.run();
    assert!(
        matches!(&pair.server_error, Some(Error::Protocol(m)) if m.contains("before authentication"))
    );
    // And the application cannot open one either.
    let mut fresh = Pair::default_pair();
    fresh.run();
    assert!(matches!(
        fresh.client.open_session(),
        Err(Error::Channel(_))
    ));
}

#[test]
fn data_survives_rekeys_from_both_sides_intact_and_in_order() {
    use sha2::Digest;
    let mut config = Config::default();
    // A rekey every 256 KiB of traffic, from whichever side reaches it.
    config.rekey_bytes = 256 * 1024;
    let mut pair = authenticated(config.clone(), config);
    let (c, s) = open_session(&mut pair);
    let total = 8 * 1024 * 1024;
    let data: Vec<u8> = (0..total)
        .map(|i: usize| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (mut up, mut down) = (0usize, 0usize);
    let (mut at_server, mut at_client) = (sha2::Sha256::new(), sha2::Sha256::new());
    let (mut got_up, mut got_down) = (0usize, 0usize);
    while got_up < total || got_down < total {
        if up < total {
            up += pair
                .client
                .channel_send(c, &data[up..(up + 50_000).min(total)])
                .unwrap();
        }
        if down < total {
            down += pair
                .server
                .channel_send(s, &data[down..(down + 70_000).min(total)])
                .unwrap();
        }
        pair.run();
        let chunk = read_all(&mut pair.server, s, false);
        got_up += chunk.len();
        at_server.update(&chunk);
        let chunk = read_all(&mut pair.client, c, false);
        got_down += chunk.len();
        at_client.update(&chunk);
        pair.run();
        pair.assert_ok();
    }
    let expected = sha2::Sha256::digest(&data);
    assert_eq!(at_server.finalize(), expected);
    assert_eq!(at_client.finalize(), expected);
    // 16 MiB through 256 KiB keys: dozens of rekeys, started by both.
    assert!(
        pair.client.key_exchanges() > 30,
        "{}",
        pair.client.key_exchanges()
    );
    assert_eq!(pair.client.key_exchanges(), pair.server.key_exchanges());
}

/// A side that only sends (a download to a peer with a large window, which
/// then sends nothing back) still rekeys at its limit: the limit is checked
/// when sending, not only when something arrives.
#[test]
fn a_side_that_only_sends_rekeys_at_its_limit() {
    let mut client = Config::default();
    client.channel_window = 8 * 1024 * 1024;
    let mut server = Config::default();
    server.rekey_bytes = 256 * 1024;
    let mut pair = authenticated(client, server);
    let (_c, s) = open_session(&mut pair);
    let before = pair.server.key_exchanges();
    let data = vec![7u8; 32 * 1024];
    let mut sent = 0;
    // 4 MiB, never read by the client: no WINDOW_ADJUST comes back.
    while sent < 4 * 1024 * 1024 {
        sent += pair.server.channel_send(s, &data).unwrap();
        pair.run();
        pair.assert_ok();
    }
    assert!(
        pair.server.key_exchanges() >= before + 8,
        "{} key exchanges after 4 MiB with rekey_bytes = 256 KiB",
        pair.server.key_exchanges() - before
    );
}

/// While a key exchange holds packets back, channel data waiting in memory
/// is bounded: sends take nothing past 1 MiB until the exchange is done.
#[test]
fn data_held_back_by_a_key_exchange_is_bounded() {
    let mut client = Config::default();
    client.channel_window = 64 * 1024 * 1024;
    let mut pair = authenticated(client, Config::default());
    let (_c, s) = open_session(&mut pair);
    pair.server.request_rekey().unwrap();
    let data = vec![1u8; 256 * 1024];
    let mut held = 0;
    for _ in 0..32 {
        held += pair.server.channel_send(s, &data).unwrap();
    }
    assert!(
        (512 * 1024..=1024 * 1024).contains(&held),
        "{held} bytes taken while the key exchange runs"
    );
    let exchanges = pair.server.key_exchanges();
    pair.run();
    pair.assert_ok();
    assert_eq!(pair.server.key_exchanges(), exchanges + 1);
    assert_eq!(pair.server.channel_send(s, &data).unwrap(), data.len());
}
