//! Algorithm benchmarks: packet protection (seal and open of a 32 KiB
//! payload, in place, for every cipher), every key exchange end to end in
//! memory, and every signature algorithm's sign and verify.
//!
//! ```text
//! cargo bench --bench algorithms                 # everything (a few minutes)
//! cargo bench --bench algorithms -- seal/        # one group (criterion filter)
//! cargo bench --bench algorithms -- --quick      # criterion's quick mode
//! ```
//!
//! See `benches/README.md` for the numbers on a reference machine and how
//! they compare with `openssl speed`.
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use sekura::algorithms::builtin::keys::{EcdsaCurve, PrivateKey, SSH_ED25519};
use sekura::algorithms::builtin::macs::{HMAC_SHA2_256, HMAC_SHA2_256_ETM, UMAC_64, UMAC_64_ETM};
use sekura::algorithms::builtin::{ALL_CIPHERS, ALL_HOST_KEY, ALL_KEX};
use sekura::algorithms::kex::{HostKeySigner, KexContext, KexOutput, KexStep};
use sekura::algorithms::{
    Cipher, DirectionKeys, Kex, Mac, PacketOpener, PacketSealer, Role, SignatureAlgorithm,
    SigningKey,
};
use sekura::{CryptoRng, os_rng};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Payload bytes per packet: the largest channel data packets OpenSSH
/// sends carry 32 KiB.
const PAYLOAD: usize = 32 * 1024;

/// Packets sealed ahead (untimed) for each timed batch of opens: 16 of
/// 32 KiB stay within this machine's 1 MiB per-core L2 cache.
const OPEN_BATCH: u64 = 16;

/// Short measurement so that the 83 benchmarks finish in minutes.
fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(500))
}

// ----- packet protection ------------------------------------------------

/// A cipher with the MAC it is measured with (`None` for an AEAD, or for a
/// cipher measured alone).
struct Suite {
    cipher: &'static dyn Cipher,
    mac: Option<&'static dyn Mac>,
}

impl Suite {
    fn name(&self) -> String {
        match self.mac {
            Some(mac) => format!("{}+{}", self.cipher.name(), mac.name()),
            None => self.cipher.name().to_string(),
        }
    }

    fn keys(&self) -> DirectionKeys {
        let fill = |len: usize, base: u8| {
            (0..len)
                .map(|i| base.wrapping_add(i as u8))
                .collect::<Vec<u8>>()
                .into()
        };
        DirectionKeys {
            iv: fill(self.cipher.iv_len(), 0x10),
            key: fill(self.cipher.key_len(), 0x40),
            mac_key: fill(self.mac.map_or(0, |m| m.key_len()), 0x80),
        }
    }

    fn sealer(&self) -> Box<dyn PacketSealer> {
        self.cipher.new_sealer(&self.keys(), self.mac).unwrap()
    }

    fn opener(&self) -> Box<dyn PacketOpener> {
        self.cipher.new_opener(&self.keys(), self.mac).unwrap()
    }
}

/// Every cipher compiled in; the non-AEAD ones with the two MACs used in
/// practice (encrypt-then-MAC), and aes128-ctr also with encrypt-and-MAC
/// hmac-sha2-256.
fn suites() -> Vec<Suite> {
    let mut out = Vec::new();
    for &cipher in ALL_CIPHERS {
        if cipher.aead_tag_len().is_some() {
            out.push(Suite { cipher, mac: None });
        } else {
            for mac in [&HMAC_SHA2_256_ETM as &dyn Mac, &UMAC_64_ETM] {
                out.push(Suite {
                    cipher,
                    mac: Some(mac),
                });
            }
            if cipher.name() == "aes128-ctr" {
                out.push(Suite {
                    cipher,
                    mac: Some(&HMAC_SHA2_256),
                });
            }
        }
    }
    out
}

/// A plaintext packet as the transport frames it: `uint32 packet_length,
/// byte padding_length, payload, padding`, padded for `block` (without the
/// length field when `separate_length`).
fn plaintext_packet(block: usize, separate_length: bool) -> Vec<u8> {
    let covered = if separate_length { 1 } else { 5 } + PAYLOAD;
    let mut pad = block - covered % block;
    if pad < 4 {
        pad += block;
    }
    let len = u32::try_from(1 + PAYLOAD + pad).unwrap();
    let mut p = Vec::with_capacity(4 + 1 + PAYLOAD + pad);
    p.extend_from_slice(&len.to_be_bytes());
    p.push(u8::try_from(pad).unwrap());
    p.extend((0..PAYLOAD).map(|i| (i * 31) as u8));
    p.extend(std::iter::repeat_n(0xa5, pad));
    p
}

/// Opens `packet` as the transport does: the length first, then the rest.
fn open_one(opener: &mut dyn PacketOpener, seq: u32, packet: &mut [u8], tag: &[u8]) {
    let need = opener.length_bytes_needed();
    let len = opener.decrypt_length(seq, &mut packet[..need]);
    assert_eq!(len as usize + 4, packet.len(), "length decrypted wrongly");
    opener
        .open(seq, packet, tag)
        .expect("a packet sealed with the same keys must open");
}

/// Checks a suite round-trips before measuring it, so a broken pairing of
/// sealer and opener cannot pass for a fast one.
fn check_roundtrip(suite: &Suite) {
    let (mut sealer, mut opener) = (suite.sealer(), suite.opener());
    let plain = plaintext_packet(sealer.block_len(), sealer.separate_length());
    for seq in 0..3 {
        let mut packet = plain.clone();
        let mut tag = vec![0; sealer.tag_len()];
        sealer.seal(seq, &mut packet, &mut tag);
        assert_ne!(
            packet[5..],
            plain[5..],
            "{}: nothing encrypted",
            suite.name()
        );
        open_one(&mut *opener, seq, &mut packet, &tag);
        assert_eq!(packet, plain, "{}: round trip", suite.name());
    }
}

fn packet_protection(c: &mut Criterion) {
    let suites = suites();
    for suite in &suites {
        check_roundtrip(suite);
    }

    let mut seal = c.benchmark_group("seal");
    seal.throughput(Throughput::Bytes(PAYLOAD as u64));
    for suite in &suites {
        let mut sealer = suite.sealer();
        let mut packet = plaintext_packet(sealer.block_len(), sealer.separate_length());
        let mut tag = vec![0; sealer.tag_len()];
        let mut seq = 0u32;
        seal.bench_function(BenchmarkId::from_parameter(suite.name()), |b| {
            // Sealing the previous ciphertext again: the bytes' values do
            // not change the work of any of these ciphers.
            b.iter(|| {
                sealer.seal(seq, black_box(&mut packet), &mut tag);
                seq = seq.wrapping_add(1);
            });
        });
        black_box(&tag);
    }
    seal.finish();

    let mut open = c.benchmark_group("open");
    open.throughput(Throughput::Bytes(PAYLOAD as u64));
    for suite in &suites {
        // Sealer and opener stay in step (CTR counters, CBC chaining, GCM
        // invocation counters): packets are sealed, untimed, in batches
        // and then opened, timed, in the same order.
        let (mut sealer, mut opener) = (suite.sealer(), suite.opener());
        let plain = plaintext_packet(sealer.block_len(), sealer.separate_length());
        let tag_len = sealer.tag_len();
        let mut batch: Vec<(Vec<u8>, Vec<u8>)> = (0..OPEN_BATCH)
            .map(|_| (plain.clone(), vec![0; tag_len]))
            .collect();
        let mut seq = 0u32;
        open.bench_function(BenchmarkId::from_parameter(suite.name()), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(OPEN_BATCH) as usize;
                    let first = seq;
                    for (packet, tag) in &mut batch[..n] {
                        packet.copy_from_slice(&plain);
                        sealer.seal(seq, packet, tag);
                        seq = seq.wrapping_add(1);
                    }
                    let start = Instant::now();
                    for (i, (packet, tag)) in batch[..n].iter_mut().enumerate() {
                        let s = first.wrapping_add(i as u32);
                        open_one(&mut *opener, s, black_box(packet), tag);
                    }
                    timed += start.elapsed();
                    left -= n as u64;
                }
                timed
            });
        });
    }
    open.finish();

    // The parts alone, to compare with `openssl speed`: the AES-CTR
    // keystream without a MAC and the MACs without a cipher.
    let mut parts = c.benchmark_group("parts");
    parts.throughput(Throughput::Bytes(PAYLOAD as u64));
    for name in ["aes128-ctr", "aes256-ctr"] {
        let cipher = *ALL_CIPHERS.iter().find(|c| c.name() == name).unwrap();
        let suite = Suite { cipher, mac: None };
        let mut sealer = suite.sealer();
        assert_eq!(sealer.tag_len(), 0);
        let mut packet = plaintext_packet(sealer.block_len(), sealer.separate_length());
        parts.bench_function(BenchmarkId::new("cipher", name), |b| {
            b.iter(|| sealer.seal(0, black_box(&mut packet), &mut []));
        });
    }
    for mac in [&HMAC_SHA2_256 as &dyn Mac, &UMAC_64] {
        let mut instance = mac.new_instance(&vec![7; mac.key_len()]).unwrap();
        let data = plaintext_packet(16, false);
        let mut tag = vec![0; instance.tag_len()];
        let mut seq = 0u32;
        parts.bench_function(BenchmarkId::new("mac", mac.name()), |b| {
            b.iter(|| {
                instance.compute(seq, black_box(&data), &mut tag);
                seq = seq.wrapping_add(1);
            });
        });
    }
    parts.finish();
}

// ----- key exchange -----------------------------------------------------

const V_C: &[u8] = b"SSH-2.0-sekura_bench_client";
const V_S: &[u8] = b"SSH-2.0-sekura_bench_server";
/// Stand-ins for the two KEXINIT payloads: only hashed here.
const I_C: &[u8] = &[20; 300];
const I_S: &[u8] = &[20; 280];

fn context<'a>(rng: &'a mut dyn CryptoRng, host_key: Option<&'a PrivateKey>) -> KexContext<'a> {
    KexContext {
        client_version: V_C,
        server_version: V_S,
        client_kexinit: I_C,
        server_kexinit: I_S,
        host_key: host_key.map(|key| HostKeySigner {
            key: key as &dyn SigningKey,
            algorithm: "ssh-ed25519",
        }),
        rng,
    }
}

/// One whole exchange in memory, as a client and a server would run it,
/// ending with the client's check of the server's ed25519 signature over
/// H. Returns both sides' results.
fn exchange(kex: &dyn Kex, host_key: &PrivateKey) -> (KexOutput, KexOutput) {
    let (mut crng, mut srng) = (os_rng(), os_rng());
    let mut cctx = context(&mut crng, None);
    let mut sctx = context(&mut srng, Some(host_key));
    let client = kex.start(Role::Client, &mut cctx).unwrap();
    let server = kex.start(Role::Server, &mut sctx).unwrap();
    let (mut client_ex, mut server_ex) = (client.exchange, server.exchange);
    let (mut to_server, mut to_client) = (client.send, server.send);
    let (mut client_out, mut server_out) = (None, None);
    while to_server.is_some() || to_client.is_some() {
        if let Some(msg) = to_server.take() {
            match server_ex.handle(&msg, &mut sctx).unwrap() {
                KexStep::Send(reply) => to_client = Some(reply),
                KexStep::Done { send, output } => {
                    to_client = send;
                    server_out = Some(output);
                }
            }
        }
        if let Some(msg) = to_client.take() {
            match client_ex.handle(&msg, &mut cctx).unwrap() {
                KexStep::Send(next) => to_server = Some(next),
                KexStep::Done { send, output } => {
                    to_server = send;
                    client_out = Some(output);
                }
            }
        }
    }
    let client_out = client_out.expect("the client finished");
    SSH_ED25519
        .verify(
            &client_out.host_key,
            &client_out.exchange_hash,
            &client_out.signature,
        )
        .unwrap();
    (client_out, server_out.expect("the server finished"))
}

fn key_exchange(c: &mut Criterion) {
    let host_key = PrivateKey::from_ed25519_seed(&[7; 32]);
    let mut group = c.benchmark_group("kex");
    // Finite-field groups up to 8192 bits take tens of milliseconds: the
    // same number of exchanges in every sample, as few as criterion allows.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(1));
    for &kex in ALL_KEX {
        let (client, server) = exchange(kex, &host_key);
        assert_eq!(
            client.shared_secret.encoded(),
            server.shared_secret.encoded(),
            "{}: both sides agree on K",
            kex.name()
        );
        assert_eq!(client.exchange_hash, server.exchange_hash);
        group.bench_function(BenchmarkId::from_parameter(kex.name()), |b| {
            b.iter(|| exchange(kex, &host_key));
        });
    }
    group.finish();
}

// ----- signatures -------------------------------------------------------

/// The key each signature algorithm signs with, made once. DSA keys cannot
/// be generated by sekura: the one 1024-bit key from the key tests'
/// fixtures signs for `ssh-dss`.
fn signing_keys() -> Vec<PrivateKey> {
    let mut rng = os_rng();
    vec![
        PrivateKey::from_ed25519_seed(&[7; 32]),
        PrivateKey::generate_ecdsa(EcdsaCurve::NistP256, &mut rng),
        PrivateKey::generate_ecdsa(EcdsaCurve::NistP384, &mut rng),
        PrivateKey::generate_ecdsa(EcdsaCurve::NistP521, &mut rng),
        PrivateKey::generate_rsa(2048, &mut rng).unwrap(),
        PrivateKey::from_pem(
            include_str!("../algorithms/tests/fixtures/keys/dsa1024.pem"),
            None,
        )
        .unwrap(),
    ]
}

fn signatures(c: &mut Criterion) {
    let keys = signing_keys();
    // What a host key signs in a key exchange: H, a hash output.
    let message = [0x5a_u8; 32];
    let mut rng = os_rng();

    let mut sign = c.benchmark_group("sign");
    sign.sampling_mode(SamplingMode::Flat);
    sign.throughput(Throughput::Elements(1));
    let mut prepared = Vec::new();
    for &alg in ALL_HOST_KEY {
        let key = keys
            .iter()
            .find(|k| k.signature_algorithms().contains(&alg.name()))
            .unwrap_or_else(|| panic!("no key signs {}", alg.name()));
        let signature = key.sign(alg.name(), &message, &mut rng).unwrap();
        let blob = key.public_key_blob();
        alg.verify(&blob, &message, &signature).unwrap();
        let mut other = message;
        other[0] ^= 1;
        assert!(alg.verify(&blob, &other, &signature).is_err());
        sign.bench_function(BenchmarkId::from_parameter(alg.name()), |b| {
            b.iter(|| key.sign(alg.name(), black_box(&message), &mut rng).unwrap());
        });
        prepared.push((alg, blob, signature));
    }
    sign.finish();

    let mut verify = c.benchmark_group("verify");
    verify.throughput(Throughput::Elements(1));
    for (alg, blob, signature) in &prepared {
        verify.bench_function(BenchmarkId::from_parameter(alg.name()), |b| {
            b.iter(|| alg.verify(blob, black_box(&message), signature).unwrap());
        });
    }
    verify.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = packet_protection, key_exchange, signatures
}
criterion_main!(benches);
