//! Transport benchmarks: bulk transfer through two in-memory
//! [`Connection`](sekura::transport::Connection)s, and full handshakes per
//! second.
//!
//! ```text
//! cargo bench --bench transport                  # everything (about a minute)
//! cargo bench --bench transport -- transfer/     # one group
//! ```
//!
//! Channels do not exist yet, so the data travels as IGNORE messages of
//! 32 KiB (`Connection::send_ignore`): the same packet path (framing,
//! padding, sealing, reassembly, opening) a channel's data will take, minus
//! the channel layer's own bookkeeping.
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

mod support;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::DEFAULT_CIPHERS;
use sekura::algorithms::builtin::keys::PrivateKey;
use sekura::os_rng;
use std::sync::Arc;
use std::time::Duration;
use support::{Pair, configs};

/// Bytes of data per IGNORE message.
const MESSAGE: usize = 32 * 1024;
/// Messages per measured iteration: 8 MiB.
const MESSAGES_PER_ITER: usize = 256;

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

/// The cipher (and MAC, for the non-AEAD ones) of each transfer: every
/// default cipher with the default MAC OpenSSH would pick
/// (umac-64-etm@openssh.com), plus aes128-ctr with hmac-sha2-256-etm.
fn transfer_suites() -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = DEFAULT_CIPHERS
        .iter()
        .map(|c| (c.name().to_string(), "umac-64-etm@openssh.com"))
        .collect();
    out.push(("aes128-ctr".to_string(), "hmac-sha2-256-etm@openssh.com"));
    out
}

fn transfer(c: &mut Criterion) {
    let host_key: Arc<dyn SigningKey> = Arc::new(PrivateKey::from_ed25519_seed(&[7; 32]));
    let data = vec![0x42u8; MESSAGE];
    let mut group = c.benchmark_group("transfer");
    group.throughput(Throughput::Bytes((MESSAGE * MESSAGES_PER_ITER) as u64));
    group.sample_size(20);
    for (cipher, mac) in transfer_suites() {
        let (client, server) = configs(
            "curve25519-sha256",
            "ssh-ed25519",
            &cipher,
            mac,
            host_key.clone(),
        );
        let mut pair = Pair::new(&client, &server);
        pair.handshake();
        let negotiated = pair.client.negotiated().unwrap();
        assert_eq!(negotiated.cipher_c2s.name(), cipher);
        let aead = negotiated.cipher_c2s.aead_tag_len().is_some();
        if !aead {
            assert_eq!(negotiated.mac_c2s.map(|m| m.name()), Some(mac));
        }
        let name = if aead {
            cipher.clone()
        } else {
            format!("{cipher}+{mac}")
        };
        // One message first: it must arrive and be opened by the server.
        let before = pair.server.traffic().1;
        pair.client.send_ignore(&data).unwrap();
        pair.run();
        let after = pair.server.traffic().1;
        assert_eq!(
            after.packets,
            before.packets + 1,
            "the message reached the server"
        );
        assert!(after.bytes - before.bytes > MESSAGE as u64);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                for _ in 0..MESSAGES_PER_ITER {
                    pair.client.send_ignore(&data).unwrap();
                    // Both ways: a rekey (every 1 GiB) needs the server's
                    // answers delivered.
                    pair.run();
                }
            });
        });
    }
    group.finish();
}

fn handshakes(c: &mut Criterion) {
    let mut rng = os_rng();
    let ed25519: Arc<dyn SigningKey> = Arc::new(PrivateKey::from_ed25519_seed(&[7; 32]));
    let rsa: Arc<dyn SigningKey> = Arc::new(PrivateKey::generate_rsa(2048, &mut rng).unwrap());
    let mut group = c.benchmark_group("handshake");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.throughput(criterion::Throughput::Elements(1));
    for (kex, host_key_alg, key) in [
        ("curve25519-sha256", "ssh-ed25519", &ed25519),
        ("mlkem768x25519-sha256", "ssh-ed25519", &ed25519),
        ("diffie-hellman-group14-sha256", "rsa-sha2-256", &rsa),
    ] {
        // The ciphers of a default OpenSSH connection.
        let (client, server) = configs(
            kex,
            host_key_alg,
            "chacha20-poly1305@openssh.com",
            "umac-64-etm@openssh.com",
            key.clone(),
        );
        let mut check = Pair::new(&client, &server);
        check.handshake();
        let negotiated = check.client.negotiated().unwrap();
        assert_eq!(negotiated.kex.name(), kex);
        assert_eq!(negotiated.host_key.map(|h| h.name()), Some(host_key_alg));
        group.bench_function(
            BenchmarkId::from_parameter(format!("{kex}+{host_key_alg}")),
            |b| {
                b.iter(|| {
                    let mut pair = Pair::new(&client, &server);
                    pair.handshake();
                    pair
                });
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = transfer, handshakes
}
criterion_main!(benches);
