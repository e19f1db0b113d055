//! Keys and signatures against OpenSSH's `ssh-keygen`, run at test time.
//!
//! Keys of every type are made by `ssh-keygen` in a throwaway directory and
//! loaded by sekura (OpenSSH format plain and encrypted with each cipher,
//! legacy PEM, PKCS#8); keys written by sekura are read back by
//! `ssh-keygen`; fingerprints are compared with `ssh-keygen -l`; and
//! signatures cross in both directions through `ssh-keygen -Y sign/verify`
//! (PROTOCOL.sshsig: the signature covers the "SSHSIG" signed-data blob).
//!
//! Without `ssh-keygen` the tests say so and pass, unless
//! `SEKURA_REQUIRE_PEERS=1`, when they fail.
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use sekura_algorithms::SigningKey;
use sekura_algorithms::builtin::keys::{KeyError, PrivateKey, PublicKey};
use sekura_algorithms::sig::{decode_signature, encode_signature};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The key types to try: `ssh-keygen -t` and `-b`.
const TYPES: [(&str, &str); 6] = [
    ("ed25519", ""),
    ("ecdsa", "256"),
    ("ecdsa", "384"),
    ("ecdsa", "521"),
    ("rsa", "2048"),
    ("dsa", ""),
];

/// Passphrases must be five characters or more for ssh-keygen.
const PASSPHRASE: &str = "sekura passphrase";

/// The namespace of the SSHSIG tests (`ssh-keygen -Y ... -n file`).
const NAMESPACE: &str = "file";

// ----- harness ----------------------------------------------------------

/// Whether ssh-keygen runs; if not, skip (or fail under
/// SEKURA_REQUIRE_PEERS=1).
fn have_ssh_keygen() -> bool {
    let found = Command::new("ssh-keygen")
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var("SEKURA_REQUIRE_PEERS").as_deref() != Ok("1"),
            "ssh-keygen is not installed and SEKURA_REQUIRE_PEERS=1"
        );
        eprintln!("skipping: ssh-keygen is not installed (install openssh-client)");
    }
    found
}

/// A directory that is removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "sekura-keys-{tag}-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ssh_keygen(args: &[&str]) -> Output {
    Command::new("ssh-keygen")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs ssh-keygen and insists that it succeeds.
fn ssh_keygen_ok(args: &[&str]) -> Output {
    let out = ssh_keygen(args);
    assert!(
        out.status.success(),
        "ssh-keygen {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `ssh-keygen -q -t <type> [-b <bits>] -N <passphrase> [extra] -f <path>`;
/// `None` if this ssh-keygen cannot make such keys (DSA is compiled out of
/// recent OpenSSH).
fn make_key(
    dir: &TempDir,
    name: &str,
    (kind, bits): (&str, &str),
    passphrase: &str,
    extra: &[&str],
) -> Option<PathBuf> {
    let path = dir.path(name);
    let path_str = path.to_str().unwrap();
    let mut args = vec!["-q", "-t", kind, "-N", passphrase, "-C", "sekura@test"];
    if !bits.is_empty() {
        args.extend(["-b", bits]);
    }
    // Few bcrypt rounds: the KDF is not what these tests are about.
    args.extend(["-a", "2"]);
    args.extend(extra);
    args.extend(["-f", path_str]);
    let out = ssh_keygen(&args);
    if !out.status.success() {
        assert_eq!(
            kind,
            "dsa",
            "ssh-keygen {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("note: this ssh-keygen makes no DSA keys; DSA skipped");
        return None;
    }
    Some(path)
}

fn pub_path(key: &Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

fn read_pub(key: &Path) -> PublicKey {
    PublicKey::from_pub_file(&std::fs::read_to_string(pub_path(key)).unwrap()).unwrap()
}

/// A seeded test RNG (SHA-256 of a counter): test keys only.
struct TestRng(u64);

impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        use sha2::Digest;
        for chunk in dst.chunks_mut(32) {
            self.0 += 1;
            let block = sha2::Sha256::digest(self.0.to_le_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for TestRng {}

fn rng() -> TestRng {
    TestRng(u64::from(std::process::id()) << 32)
}

/// Writes a private key file that ssh-keygen agrees to open (mode 0600).
fn write_private(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

// ----- loading what ssh-keygen makes -----------------------------------

#[test]
fn keys_made_by_ssh_keygen_load_with_matching_fingerprints() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = TempDir::new("load");
    for (i, ty) in TYPES.into_iter().enumerate() {
        let Some(plain) = make_key(&dir, &format!("plain{i}"), ty, "", &[]) else {
            continue;
        };
        let expected = read_pub(&plain);
        let key = PrivateKey::from_file(&plain, None).unwrap();
        assert_eq!(key.public_key(), expected, "{ty:?}");
        assert_eq!(key.comment(), "sekura@test");

        // Fingerprints as `ssh-keygen -l` prints them: "<bits> <fp> <comment> (<TYPE>)".
        let pub_file = pub_path(&plain);
        for (hash, ours) in [
            ("sha256", expected.fingerprint_sha256()),
            ("md5", expected.fingerprint_md5()),
        ] {
            let out = ssh_keygen_ok(&["-l", "-E", hash, "-f", pub_file.to_str().unwrap()]);
            let line = String::from_utf8(out.stdout).unwrap();
            let mut words = line.split_whitespace();
            assert_eq!(words.next().unwrap(), expected.bits().to_string(), "{line}");
            assert_eq!(words.next().unwrap(), ours, "{ty:?} {hash}");
        }

        // Encrypted with bcrypt-pbkdf and aes256-ctr.
        let encrypted = make_key(&dir, &format!("enc{i}"), ty, PASSPHRASE, &[]).unwrap();
        let expected = read_pub(&encrypted);
        let loaded = PrivateKey::from_file(&encrypted, Some(PASSPHRASE.as_bytes())).unwrap();
        assert_eq!(loaded.public_key(), expected);
        assert_eq!(
            PrivateKey::from_file(&encrypted, None).unwrap_err(),
            KeyError::Encrypted
        );
        assert_eq!(
            PrivateKey::from_file(&encrypted, Some(b"not the passphrase")).unwrap_err(),
            KeyError::WrongPassphrase
        );

        if ty.0 == "ed25519" {
            continue; // ssh-keygen writes Ed25519 keys only in OpenSSH format
        }
        // Legacy PEM, plain and encrypted (OpenSSL's PEM_write with
        // AES-128-CBC), and PKCS#8.
        let pem = make_key(&dir, &format!("pem{i}"), ty, "", &["-m", "PEM"]).unwrap();
        assert_eq!(
            PrivateKey::from_file(&pem, None).unwrap().public_key(),
            read_pub(&pem)
        );
        let pem_enc =
            make_key(&dir, &format!("pemenc{i}"), ty, PASSPHRASE, &["-m", "PEM"]).unwrap();
        let text = std::fs::read_to_string(&pem_enc).unwrap();
        assert!(text.contains("Proc-Type: 4,ENCRYPTED"), "{text}");
        assert_eq!(
            PrivateKey::from_file(&pem_enc, Some(PASSPHRASE.as_bytes()))
                .unwrap()
                .public_key(),
            read_pub(&pem_enc)
        );
        assert_eq!(
            PrivateKey::from_file(&pem_enc, Some(b"sekura passphrasE")).unwrap_err(),
            KeyError::WrongPassphrase
        );
        assert_eq!(
            PrivateKey::from_file(&pem_enc, None).unwrap_err(),
            KeyError::Encrypted
        );
        let pkcs8 = make_key(&dir, &format!("pkcs8_{i}"), ty, "", &["-m", "PKCS8"]).unwrap();
        assert_eq!(
            PrivateKey::from_file(&pkcs8, None).unwrap().public_key(),
            read_pub(&pkcs8)
        );
        // Encrypted PKCS#8 (PBES2) is refused by name, not as damage.
        let pkcs8_enc = make_key(
            &dir,
            &format!("pkcs8enc{i}"),
            ty,
            PASSPHRASE,
            &["-m", "PKCS8"],
        )
        .unwrap();
        assert!(matches!(
            PrivateKey::from_file(&pkcs8_enc, Some(PASSPHRASE.as_bytes())),
            Err(KeyError::Unsupported { .. })
        ));
    }
}

#[test]
fn every_openssh_key_cipher_of_ssh_keygen() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = TempDir::new("ciphers");
    // What `ssh -Q cipher` lists in OpenSSH 9.x: every one of them can
    // protect a key file (`ssh-keygen -Z`).
    let ciphers = [
        "3des-cbc",
        "aes128-cbc",
        "aes192-cbc",
        "aes256-cbc",
        "aes128-ctr",
        "aes192-ctr",
        "aes256-ctr",
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
    ];
    for (i, cipher) in ciphers.iter().enumerate() {
        let path = dir.path(&format!("z{i}"));
        let out = ssh_keygen(&[
            "-q",
            "-t",
            "ed25519",
            "-a",
            "2",
            "-N",
            PASSPHRASE,
            "-Z",
            cipher,
            "-f",
            path.to_str().unwrap(),
        ]);
        if !out.status.success() {
            // A newer OpenSSH may drop a legacy cipher; the default must stay.
            assert_ne!(
                *cipher,
                "aes256-ctr",
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("note: this ssh-keygen refuses -Z {cipher}; skipped");
            continue;
        }
        let key = path;
        let loaded = PrivateKey::from_file(&key, Some(PASSPHRASE.as_bytes()))
            .unwrap_or_else(|e| panic!("{cipher}: {e}"));
        assert_eq!(loaded.public_key(), read_pub(&key), "{cipher}");
        assert_eq!(
            PrivateKey::from_file(&key, Some(b"wrong passphrase")).unwrap_err(),
            KeyError::WrongPassphrase,
            "{cipher}"
        );
    }
}

// ----- ssh-keygen reading what sekura writes ----------------------------

#[test]
fn ssh_keygen_reads_keys_sekura_writes() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = TempDir::new("write");
    let mut rng = rng();
    let mut keys = vec![
        PrivateKey::generate_ed25519(&mut rng),
        PrivateKey::generate_ecdsa(
            sekura_algorithms::builtin::keys::EcdsaCurve::NistP256,
            &mut rng,
        ),
        PrivateKey::generate_ecdsa(
            sekura_algorithms::builtin::keys::EcdsaCurve::NistP384,
            &mut rng,
        ),
        PrivateKey::generate_ecdsa(
            sekura_algorithms::builtin::keys::EcdsaCurve::NistP521,
            &mut rng,
        ),
    ];
    // RSA and DSA keys come from ssh-keygen (generating RSA here is slow)
    // and go back out through sekura's writer.
    for (i, ty) in [("rsa", "2048"), ("dsa", "")].into_iter().enumerate() {
        if let Some(path) = make_key(&dir, &format!("src{i}"), ty, "", &["-m", "PEM"]) {
            keys.push(PrivateKey::from_file(&path, None).unwrap());
        }
    }
    for (i, mut key) in keys.into_iter().enumerate() {
        key.set_comment(format!("written by sekura {i}"));
        for passphrase in [None, Some(PASSPHRASE)] {
            let path = dir.path(&format!("ours{i}-{}", passphrase.is_some()));
            let text = key
                .to_openssh(passphrase.map(str::as_bytes), &mut rng)
                .unwrap();
            write_private(&path, &text);
            let out = ssh_keygen_ok(&[
                "-y",
                "-P",
                passphrase.unwrap_or(""),
                "-f",
                path.to_str().unwrap(),
            ]);
            let public = PublicKey::from_openssh(&String::from_utf8(out.stdout).unwrap()).unwrap();
            assert_eq!(public, key.public_key(), "key {i}");
            if passphrase.is_some() {
                let wrong =
                    ssh_keygen(&["-y", "-P", "wrong passphrase", "-f", path.to_str().unwrap()]);
                assert!(
                    !wrong.status.success(),
                    "key {i} opened with a wrong passphrase"
                );
            }
        }
    }
}

// ----- signatures both ways through SSHSIG --------------------------------

/// The SSHSIG signed data over `message` (PROTOCOL.sshsig §3): what the
/// inner signature covers.
fn sshsig_signed_data(hash: ssh_key::HashAlg, message: &[u8]) -> Vec<u8> {
    ssh_key::SshSig::signed_data(NAMESPACE, hash, message).unwrap()
}

#[test]
fn signatures_cross_with_ssh_keygen_y_sign_and_verify() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = TempDir::new("sshsig");
    let mut rng = rng();
    let message = b"sekura signs, ssh-keygen checks; and the other way round\n";
    let message_path = dir.path("message");
    std::fs::write(&message_path, message).unwrap();
    for (i, ty) in TYPES.into_iter().enumerate() {
        let Some(path) = make_key(&dir, &format!("signer{i}"), ty, "", &[]) else {
            continue;
        };
        let key = PrivateKey::from_file(&path, None).unwrap();
        let public = key.public_key();

        // sekura signs, ssh-keygen -Y verify checks, with each signature
        // algorithm of the key that SSHSIG allows (not SHA-1 RSA).
        let allowed = dir.path(&format!("allowed{i}"));
        std::fs::write(&allowed, format!("signer@sekura {}\n", public.to_openssh())).unwrap();
        let algorithms: Vec<&str> = key
            .signature_algorithms()
            .into_iter()
            .filter(|a| *a != "ssh-rsa")
            .collect();
        for alg in algorithms {
            let signed = sshsig_signed_data(ssh_key::HashAlg::Sha512, message);
            let encoded = key.sign(alg, &signed, &mut rng).unwrap();
            let blob = decode_signature(&encoded, alg).unwrap();
            let signature =
                ssh_key::Signature::new(ssh_key::Algorithm::new(alg).unwrap(), blob.to_vec())
                    .unwrap();
            let key_data = ssh_key::PublicKey::from_bytes(public.as_blob())
                .unwrap()
                .key_data()
                .clone();
            let sshsig =
                ssh_key::SshSig::new(key_data, NAMESPACE, ssh_key::HashAlg::Sha512, signature)
                    .unwrap();
            let sig_path = dir.path(&format!("ours{i}-{alg}.sig"));
            std::fs::write(&sig_path, sshsig.to_pem(ssh_key::LineEnding::LF).unwrap()).unwrap();
            let verify = |input: &[u8]| {
                let mut child = Command::new("ssh-keygen")
                    .args([
                        "-Y",
                        "verify",
                        "-f",
                        allowed.to_str().unwrap(),
                        "-I",
                        "signer@sekura",
                        "-n",
                        NAMESPACE,
                        "-s",
                        sig_path.to_str().unwrap(),
                    ])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                use std::io::Write;
                child.stdin.take().unwrap().write_all(input).unwrap();
                child.wait_with_output().unwrap()
            };
            let out = verify(message);
            assert!(
                out.status.success(),
                "ssh-keygen rejected sekura's {alg} signature: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!verify(b"another message").status.success(), "{alg}");
        }

        // ssh-keygen -Y sign signs, sekura checks the inner signature.
        ssh_keygen_ok(&[
            "-Y",
            "sign",
            "-f",
            path.to_str().unwrap(),
            "-n",
            NAMESPACE,
            message_path.to_str().unwrap(),
        ]);
        let mut sig_file = message_path.as_os_str().to_owned();
        sig_file.push(".sig");
        let pem = std::fs::read_to_string(&sig_file).unwrap();
        std::fs::remove_file(&sig_file).unwrap();
        let sshsig = ssh_key::SshSig::from_pem(&pem).unwrap();
        assert_eq!(sshsig.namespace(), NAMESPACE);
        let signer_blob = ssh_key::PublicKey::from(sshsig.public_key().clone())
            .to_bytes()
            .unwrap();
        assert_eq!(signer_blob, public.as_blob());
        let alg = sshsig.algorithm().to_string();
        let encoded = encode_signature(&alg, sshsig.signature_bytes());
        let signed = sshsig_signed_data(sshsig.hash_alg(), message);
        public
            .verify(&signed, &encoded)
            .unwrap_or_else(|e| panic!("{ty:?}: ssh-keygen's {alg} signature: {e}"));
        assert!(
            public
                .verify(
                    &sshsig_signed_data(sshsig.hash_alg(), b"tampered"),
                    &encoded
                )
                .is_err()
        );
    }
}
