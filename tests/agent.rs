//! The SSH agent client against a real `ssh-agent` started at test time
//! (skipped when OpenSSH's client tools are missing, unless
//! `SEKURA_REQUIRE_PEERS=1`), and against a hostile fake agent.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod support;

use sekura::agent::{Agent, AgentError, AgentKey, MAX_MESSAGE};
use sekura::algorithms::builtin::ALL_HOST_KEY;
use sekura::algorithms::builtin::keys::{EcdsaCurve, PrivateKey};
use sekura::algorithms::{SignatureAlgorithm, SigningKey};
use sekura::blocking::{AuthResult, Channel, Pty, Server, ServerHandler, Session, SessionRequest};
use sekura::transport::Config;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{KillOnDrop, TempDir, find_in_path, peer_or_skip};

/// A running `ssh-agent`, killed when dropped, with its directory.
struct RealAgent {
    _process: KillOnDrop,
    socket: PathBuf,
    ssh_add: PathBuf,
    dir: TempDir,
}

impl RealAgent {
    fn start() -> Result<RealAgent, String> {
        let agent = find_in_path("ssh-agent").ok_or("ssh-agent is not installed")?;
        let ssh_add = find_in_path("ssh-add").ok_or("ssh-add is not installed")?;
        let dir = TempDir::new("sekura-agent").map_err(|e| e.to_string())?;
        let socket = dir.path().join("agent.sock");
        let child = Command::new(agent)
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start ssh-agent: {e}"))?;
        let process = KillOnDrop::new(child, "ssh-agent");
        let start = Instant::now();
        while !socket.exists() {
            if start.elapsed() > Duration::from_secs(10) {
                return Err("ssh-agent did not create its socket".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(RealAgent {
            _process: process,
            socket,
            ssh_add,
            dir,
        })
    }

    /// Writes `key` to a file and adds it with `ssh-add` (`-d` removes).
    fn ssh_add(&self, key: &PrivateKey, name: &str, remove: bool) {
        let path = self.dir.path().join(name);
        let text = key.to_openssh(None, &mut sekura::os_rng()).unwrap();
        std::fs::write(&path, text.as_bytes()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        if remove {
            std::fs::write(path.with_extension("pub"), key.public_key().to_openssh()).unwrap();
        }
        let out = Command::new(&self.ssh_add)
            .args(if remove { &["-d"][..] } else { &[][..] })
            .arg(&path)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn start_agent(test: &str) -> Option<RealAgent> {
    peer_or_skip(test, RealAgent::start())
}

fn keys() -> Vec<(&'static str, PrivateKey)> {
    let mut rng = sekura::os_rng();
    vec![
        ("id_ed25519", PrivateKey::generate_ed25519(&mut rng)),
        (
            "id_ecdsa",
            PrivateKey::generate_ecdsa(EcdsaCurve::NistP256, &mut rng),
        ),
        ("id_rsa", PrivateKey::generate_rsa(2048, &mut rng).unwrap()),
    ]
}

fn verify(algorithm: &str, blob: &[u8], data: &[u8], signature: &[u8]) {
    let verifier: &dyn SignatureAlgorithm =
        *ALL_HOST_KEY.iter().find(|a| a.name() == algorithm).unwrap();
    verifier.verify(blob, data, signature).unwrap();
    // And a signature over other data does not verify.
    assert!(verifier.verify(blob, b"other data", signature).is_err());
}

#[test]
fn lists_and_signs_with_every_key_type() {
    let Some(agent) = start_agent("lists_and_signs_with_every_key_type") else {
        return;
    };
    let keys = keys();
    for (name, key) in &keys {
        agent.ssh_add(key, name, false);
    }
    let client = Agent::connect(&agent.socket).unwrap();
    let listed = client.identities().unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let data = b"the exchange hash, say";
    for (name, key) in &keys {
        let blob = key.public_key().to_blob();
        let found: &AgentKey = listed.iter().find(|k| k.blob() == blob).unwrap();
        assert_eq!(found.key_type(), key.public_key().key_type());
        assert!(found.comment().contains(name), "{}", found.comment());
        assert_eq!(found.fingerprint(), key.public_key().fingerprint_sha256());
        let algorithms: Vec<String> = found
            .signature_algorithms()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(algorithms, key.public_key().signature_algorithms());
        for algorithm in &algorithms {
            if algorithm == "ssh-rsa" {
                continue; // SHA-1: sekura verifies it only when asked to allow it
            }
            let signature = found.sign(algorithm, data, &mut sekura::os_rng()).unwrap();
            verify(algorithm, &blob, data, &signature);
        }
        assert!(matches!(
            found.sign("no-such-algorithm", data, &mut sekura::os_rng()),
            Err(sekura::algorithms::AlgorithmError::UnsupportedSignature { .. })
        ));
    }
    // RSA: the flags pick the hash; the agent's answer is labelled so.
    let rsa = listed.iter().find(|k| k.key_type() == "ssh-rsa").unwrap();
    for (algorithm, flags) in [("rsa-sha2-256", 2), ("rsa-sha2-512", 4), ("ssh-rsa", 0)] {
        let signature = client.sign(rsa.blob(), data, flags).unwrap();
        let name_len = u32::from_be_bytes(signature[..4].try_into().unwrap()) as usize;
        assert_eq!(&signature[4..4 + name_len], algorithm.as_bytes());
    }
    // Keys from one agent are Send + Sync and sign from several threads.
    let shared: Vec<Arc<dyn SigningKey>> = listed.into_iter().map(|k| Arc::new(k) as _).collect();
    let threads: Vec<_> = shared
        .iter()
        .cloned()
        .map(|key| {
            std::thread::spawn(move || {
                let alg = key.signature_algorithms()[0].to_string();
                let sig = key.sign(&alg, data, &mut sekura::os_rng()).unwrap();
                verify(&alg, &key.public_key_blob(), data, &sig);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn a_key_the_agent_does_not_have_is_refused() {
    let Some(agent) = start_agent("a_key_the_agent_does_not_have_is_refused") else {
        return;
    };
    let key = PrivateKey::generate_ed25519(&mut sekura::os_rng());
    agent.ssh_add(&key, "id_gone", false);
    let client = Agent::connect(&agent.socket).unwrap();
    let stranger = PrivateKey::generate_ed25519(&mut sekura::os_rng());
    let err = client
        .sign(&stranger.public_key().to_blob(), b"data", 0)
        .unwrap_err();
    assert!(matches!(err, AgentError::Refused(_)), "{err}");
    // A listed key removed from the agent afterwards fails to sign.
    let listed = client.identities().unwrap();
    assert_eq!(listed.len(), 1);
    agent.ssh_add(&key, "id_gone", true);
    assert!(client.identities().unwrap().is_empty());
    let err = listed[0]
        .sign("ssh-ed25519", b"data", &mut sekura::os_rng())
        .unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    // The connection is still usable after a refusal.
    assert!(client.identities().unwrap().is_empty());
}

#[test]
fn no_agent_at_the_path() {
    let dir = TempDir::new("sekura-agent").unwrap();
    let err = Agent::connect(dir.path().join("none.sock")).unwrap_err();
    assert!(matches!(err, AgentError::Io { .. }), "{err}");
    assert!(err.to_string().contains("none.sock"), "{err}");
}

struct OnlyKey(Vec<u8>);

impl ServerHandler for OnlyKey {
    fn check_public_key(&self, user: &str, key: &[u8]) -> AuthResult {
        if user == "robey" && key == self.0 {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    fn session(&self, user: &str, _: SessionRequest, _: Option<Pty>, ch: &mut Channel) -> u32 {
        ch.write_all(format!("hello {user}\n").as_bytes()).unwrap();
        0
    }
}

#[test]
fn authenticates_to_a_sekura_server_with_the_agent_key_only() {
    let Some(agent) = start_agent("authenticates_to_a_sekura_server_with_the_agent_key_only")
    else {
        return;
    };
    for (name, key) in keys().into_iter().rev() {
        agent.ssh_add(&key, name, false);
        let mut rng = sekura::os_rng();
        let host = PrivateKey::generate_ed25519(&mut rng);
        let host_blob = host.public_key().to_blob();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = Server::new(
            Config::server(vec![Arc::new(host) as Arc<dyn SigningKey>]),
            Arc::new(OnlyKey(key.public_key().to_blob())),
        );
        std::thread::spawn(move || server.serve(&listener));

        // The blocking API with the agent's key as the only credential.
        let client = Agent::connect(&agent.socket).unwrap();
        let agent_key = client
            .identities()
            .unwrap()
            .into_iter()
            .find(|k| k.blob() == key.public_key().to_blob())
            .unwrap();
        let stream = std::net::TcpStream::connect(address).unwrap();
        let session = Session::connect(
            stream,
            Config::default(),
            sekura::blocking::HostKeyCheck::Key(host_blob.clone()),
        )
        .unwrap();
        session
            .authenticate_publickey("robey", Arc::new(agent_key))
            .unwrap();
        assert_eq!(run(&session), "hello robey\n");

        // The one-call connect, told where the agent is; other agent keys
        // are offered too, and the server accepts its one.
        let session = sekura::connect::Connect::new(&format!("robey@{address}"))
            .agent_socket(&agent.socket)
            .expected_host_key(&host_blob)
            .connect()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(run(&session), "hello robey\n");
    }
}

fn run(session: &Session) -> String {
    let mut channel = session.open_session().unwrap();
    channel.exec("hi").unwrap();
    let mut out = String::new();
    channel.read_to_string(&mut out).unwrap();
    out
}

/// A fake agent that answers every request with `answer` (raw bytes, length
/// prefix included).
fn fake_agent(dir: &Path, answer: Vec<u8>) -> PathBuf {
    static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let socket = dir.join(format!("fake-{n}.sock"));
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut header = [0u8; 4];
            while stream.read_exact(&mut header).is_ok() {
                let mut request = vec![0u8; u32::from_be_bytes(header) as usize];
                if stream.read_exact(&mut request).is_err() || stream.write_all(&answer).is_err() {
                    break;
                }
            }
        }
    });
    socket
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

#[test]
fn hostile_agent_answers_are_refused() {
    let dir = TempDir::new("sekura-agent").unwrap();
    let too_long = ((MAX_MESSAGE + 1) as u32).to_be_bytes().to_vec();
    let huge_count = framed(&[12, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    let truncated_key = framed(&[12, 0, 0, 0, 1, 0, 0, 0, 50, b'x']);
    let mut trailing_body = vec![12, 0, 0, 0, 0];
    trailing_body.push(7);
    let trailing = framed(&trailing_body);
    let wrong_type = framed(&[14, 0, 0, 0, 0]);
    let empty = framed(&[]);
    for (what, answer) in [
        ("a length past the limit", too_long),
        ("a count larger than the message", huge_count),
        ("a string past the end", truncated_key),
        ("trailing bytes", trailing),
        ("the wrong message type", wrong_type),
        ("an empty message", empty),
    ] {
        let client = Agent::connect(fake_agent(dir.path(), answer.clone())).unwrap();
        client.set_timeout(Duration::from_secs(5));
        let err = client.identities().unwrap_err();
        assert!(matches!(err, AgentError::Protocol(_)), "{what}: {err}");
    }
    let failure = Agent::connect(fake_agent(dir.path(), framed(&[5, 0, 0]))).unwrap();
    // Trailing bytes after FAILURE are ignored: it is a refusal either way.
    assert!(matches!(
        failure.identities().unwrap_err(),
        AgentError::Refused(_)
    ));
    // An empty list is fine.
    let none = Agent::connect(fake_agent(
        dir.path(),
        framed(&[12, 0, 0, 0, 0, 1, 2, 3, 4, 5]),
    ))
    .unwrap();
    assert!(
        none.identities().is_err(),
        "trailing garbage after an empty list"
    );
    let none = Agent::connect(fake_agent(dir.path(), framed(&[12, 0, 0, 0, 0, 9]))).unwrap();
    assert!(none.identities().is_err());
    let ok = Agent::connect(fake_agent(dir.path(), framed(&[12, 0, 0, 0, 0]))).unwrap();
    assert!(ok.identities().unwrap().is_empty());
}
