#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::test_support::*;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;
use sekura_algorithms::Role;

/// The lists of a KEXINIT that negotiation reads, by test name.
#[derive(Clone, Copy, Debug, PartialEq)]
enum F {
    Kex,
    HostKey,
    CipherC2s,
    CipherS2c,
    MacC2s,
    MacS2c,
    CompC2s,
    CompS2c,
}

const FIELDS: [F; 8] = [
    F::Kex,
    F::HostKey,
    F::CipherC2s,
    F::CipherS2c,
    F::MacC2s,
    F::MacS2c,
    F::CompC2s,
    F::CompS2c,
];

fn list(names: &str) -> NameList<'static> {
    NameList::parse(names.as_bytes()).unwrap().into_owned()
}

fn field<'k>(k: &'k mut KexInit<'static>, f: F) -> &'k mut NameList<'static> {
    match f {
        F::Kex => &mut k.kex_algorithms,
        F::HostKey => &mut k.server_host_key_algorithms,
        F::CipherC2s => &mut k.encryption_algorithms_client_to_server,
        F::CipherS2c => &mut k.encryption_algorithms_server_to_client,
        F::MacC2s => &mut k.mac_algorithms_client_to_server,
        F::MacS2c => &mut k.mac_algorithms_server_to_client,
        F::CompC2s => &mut k.compression_algorithms_client_to_server,
        F::CompS2c => &mut k.compression_algorithms_server_to_client,
    }
}

fn chosen(n: &Negotiated, f: F) -> Option<&'static str> {
    match f {
        F::Kex => Some(n.kex.name()),
        F::HostKey => n.host_key.map(|a| a.name()),
        F::CipherC2s => Some(n.cipher_c2s.name()),
        F::CipherS2c => Some(n.cipher_s2c.name()),
        F::MacC2s => n.mac_c2s.map(|a| a.name()),
        F::MacS2c => n.mac_s2c.map(|a| a.name()),
        F::CompC2s => Some(n.compression_c2s.name()),
        F::CompS2c => Some(n.compression_s2c.name()),
    }
}

/// A KEXINIT on which both sides agree at once (non-AEAD cipher, so the
/// MACs are negotiated too).
fn base() -> KexInit<'static> {
    KexInit {
        cookie: [0; 16],
        kex_algorithms: list("curve25519-sha256"),
        server_host_key_algorithms: list("ssh-ed25519"),
        encryption_algorithms_client_to_server: list("aes128-ctr"),
        encryption_algorithms_server_to_client: list("aes128-ctr"),
        mac_algorithms_client_to_server: list("hmac-sha2-256"),
        mac_algorithms_server_to_client: list("hmac-sha2-256"),
        compression_algorithms_client_to_server: list("none"),
        compression_algorithms_server_to_client: list("none"),
        languages_client_to_server: NameList::empty(),
        languages_server_to_client: NameList::empty(),
        first_kex_packet_follows: false,
        reserved: 0,
    }
}

fn pair(f: F, client: &str, server: &str) -> (KexInit<'static>, KexInit<'static>) {
    let (mut c, mut s) = (base(), base());
    *field(&mut c, f) = list(client);
    *field(&mut s, f) = list(server);
    (c, s)
}

#[test]
fn base_pair_agrees() {
    let n = negotiate(&base(), &base(), &test_prefs_all()).unwrap();
    assert_eq!(
        format!("{n:?}"),
        "Negotiated { kex: \"curve25519-sha256\", host_key: Some(\"ssh-ed25519\"), \
         cipher_c2s: \"aes128-ctr\", cipher_s2c: \"aes128-ctr\", \
         mac_c2s: Some(\"hmac-sha2-256\"), mac_s2c: Some(\"hmac-sha2-256\"), \
         compression_c2s: \"none\", compression_s2c: \"none\", \
         ignore_client_guess: false, ignore_server_guess: false, \
         server_may_send_ext_info: false, client_may_send_ext_info: false, strict_kex: false }"
    );
    assert_eq!(n.cipher(Direction::ServerToClient).name(), "aes128-ctr");
    assert_eq!(
        n.mac(Direction::ClientToServer).unwrap().name(),
        "hmac-sha2-256"
    );
    assert_eq!(n.compression(Direction::ServerToClient).name(), "none");
}

#[test]
fn first_client_algorithm_the_server_has_wins() {
    // (field, client list, server list, expected choice)
    let rows: &[(F, &str, &str, &str)] = &[
        (
            F::Kex,
            "curve25519-sha256,ecdh-sha2-nistp256",
            "ecdh-sha2-nistp256,curve25519-sha256",
            "curve25519-sha256",
        ),
        (
            F::Kex,
            "mlkem768x25519-sha256,diffie-hellman-group14-sha256",
            "diffie-hellman-group1-sha1,diffie-hellman-group14-sha256",
            "diffie-hellman-group14-sha256",
        ),
        (
            F::HostKey,
            "rsa-sha2-512,ssh-ed25519",
            "ssh-ed25519,rsa-sha2-512",
            "rsa-sha2-512",
        ),
        (F::HostKey, "ssh-dss,ssh-rsa", "ssh-rsa", "ssh-rsa"),
        (
            F::CipherC2s,
            "aes256-ctr,aes128-ctr",
            "aes128-ctr,aes256-ctr",
            "aes256-ctr",
        ),
        (
            F::CipherS2c,
            "3des-cbc,aes128-cbc",
            "aes128-cbc",
            "aes128-cbc",
        ),
        (
            F::MacC2s,
            "hmac-sha2-512,hmac-sha2-256",
            "hmac-sha2-256,hmac-sha2-512",
            "hmac-sha2-512",
        ),
        (
            F::MacS2c,
            "hmac-md5,hmac-sha1-etm@openssh.com",
            "hmac-sha1-etm@openssh.com,hmac-md5",
            "hmac-md5",
        ),
        (
            F::CompC2s,
            "zlib@openssh.com,none",
            "none,zlib@openssh.com",
            "zlib@openssh.com",
        ),
        (F::CompS2c, "zlib,none", "none", "none"),
        // A name both sides list but we do not know is passed over: we are
        // one of the sides, so it cannot really be on both lists.
        (
            F::CipherC2s,
            "peer-only@example.com,aes192-ctr",
            "peer-only@example.com,aes192-ctr",
            "aes192-ctr",
        ),
        (
            F::Kex,
            "sntrup761x25519-sha512@openssh.com,curve25519-sha256",
            "sntrup761x25519-sha512@openssh.com,curve25519-sha256",
            "curve25519-sha256",
        ),
    ];
    let prefs = test_prefs_all();
    for &(f, client, server, want) in rows {
        let (c, s) = pair(f, client, server);
        let n = negotiate(&c, &s, &prefs).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        assert_eq!(chosen(&n, f), Some(want), "{f:?}: {client} / {server}");
        // Everything else is the base agreement.
        for other in FIELDS.iter().filter(|&&o| o != f) {
            assert_eq!(
                chosen(&base_choice(), *other),
                chosen(&n, *other),
                "{other:?}"
            );
        }
    }
}

fn base_choice() -> Negotiated {
    negotiate(&base(), &base(), &test_prefs_all()).unwrap()
}

#[test]
fn choices_are_our_implementations() {
    let n = base_choice();
    assert!(core::ptr::addr_eq(n.cipher_c2s, &AES128_CTR));
    assert!(core::ptr::addr_eq(n.kex, &CURVE25519));
    assert!(core::ptr::addr_eq(n.host_key.unwrap(), &ED25519));
    assert!(core::ptr::addr_eq(n.mac_s2c.unwrap(), &SHA256));
    assert!(core::ptr::addr_eq(n.compression_s2c, &NONE));
}

#[test]
fn no_common_algorithm_names_category_and_both_lists() {
    let rows: &[(F, &str, &str, &str)] = &[
        (
            F::Kex,
            "curve25519-sha256,ecdh-sha2-nistp256",
            "diffie-hellman-group14-sha256",
            "no common key exchange method: client offered [curve25519-sha256, \
             ecdh-sha2-nistp256], server offered [diffie-hellman-group14-sha256]",
        ),
        (
            F::HostKey,
            "ssh-ed25519",
            "ssh-rsa,ssh-dss",
            // The method needs a signing host key, so the failure shows as
            // one of key exchange; see `kex_needs_a_compatible_host_key`.
            "no common key exchange method with a compatible host key algorithm: \
             client offered [curve25519-sha256] with host key algorithms [ssh-ed25519], \
             server offered [curve25519-sha256] with host key algorithms [ssh-rsa, ssh-dss]",
        ),
        (
            F::CipherC2s,
            "aes128-ctr,aes256-ctr",
            "3des-cbc",
            "no common cipher (client to server): client offered [aes128-ctr, aes256-ctr], \
             server offered [3des-cbc]",
        ),
        (
            F::CipherS2c,
            "aes128-ctr",
            "",
            "no common cipher (server to client): client offered [aes128-ctr], \
             server offered []",
        ),
        (
            F::MacC2s,
            "hmac-sha2-256-etm@openssh.com",
            "hmac-md5,hmac-sha1",
            "no common MAC (client to server): client offered \
             [hmac-sha2-256-etm@openssh.com], server offered [hmac-md5, hmac-sha1]",
        ),
        (
            F::MacS2c,
            "hmac-sha1",
            "hmac-sha2-512",
            "no common MAC (server to client): client offered [hmac-sha1], \
             server offered [hmac-sha2-512]",
        ),
        (
            F::CompC2s,
            "zlib@openssh.com",
            "none",
            "no common compression method (client to server): client offered \
             [zlib@openssh.com], server offered [none]",
        ),
        (
            F::CompS2c,
            "none",
            "zlib",
            "no common compression method (server to client): client offered [none], \
             server offered [zlib]",
        ),
        // Common only in name: neither side's name is one we know.
        (
            F::CipherC2s,
            "peer-only@example.com",
            "peer-only@example.com",
            "no common cipher (client to server): client offered \
             [peer-only@example.com], server offered [peer-only@example.com]",
        ),
    ];
    let prefs = test_prefs_all();
    for &(f, client, server, want) in rows {
        let (c, s) = pair(f, client, server);
        let err = negotiate(&c, &s, &prefs).unwrap_err();
        assert_eq!(err.to_string(), want, "{f:?}");
        let category = match f {
            F::Kex | F::HostKey => Category::Kex,
            F::CipherC2s => Category::Cipher(Direction::ClientToServer),
            F::CipherS2c => Category::Cipher(Direction::ServerToClient),
            F::MacC2s => Category::Mac(Direction::ClientToServer),
            F::MacS2c => Category::Mac(Direction::ServerToClient),
            F::CompC2s => Category::Compression(Direction::ClientToServer),
            F::CompS2c => Category::Compression(Direction::ServerToClient),
        };
        assert_eq!(err.category(), category);
    }
}

#[test]
fn kex_needs_a_compatible_host_key() {
    let mut prefs = test_prefs_all();
    prefs.register_kex(&NOSIG_KEX).unwrap();
    let kexes = "curve25519-sha256,gss-test@example.com";
    // (client host keys, server host keys, expected kex, expected host key)
    type Row = (
        &'static str,
        &'static str,
        (&'static str, Option<&'static str>),
    );
    let rows: &[Row] = &[
        // A shared host key: the first kex method is fine.
        (
            "ssh-ed25519",
            "ssh-ed25519",
            ("curve25519-sha256", Some("ssh-ed25519")),
        ),
        // None shared: the signing method is skipped, the next taken.
        (
            "ssh-ed25519",
            "rsa-sha2-256",
            ("gss-test@example.com", None),
        ),
        // Shared in name only (unknown to us): not signature-capable.
        (
            "x-key@example.com,ssh-ed25519",
            "x-key@example.com",
            ("gss-test@example.com", None),
        ),
        // The host key algorithm is the first client one the server has.
        (
            "rsa-sha2-256,ssh-ed25519",
            "ssh-ed25519,rsa-sha2-256",
            ("curve25519-sha256", Some("rsa-sha2-256")),
        ),
    ];
    for &(chk, shk, want) in rows {
        let (mut c, mut s) = pair(F::Kex, kexes, kexes);
        c.server_host_key_algorithms = list(chk);
        s.server_host_key_algorithms = list(shk);
        let n = negotiate(&c, &s, &prefs).unwrap_or_else(|e| panic!("{chk} / {shk}: {e}"));
        let got = (n.kex.name(), n.host_key.map(|h| h.name()));
        assert_eq!(got, want, "{chk} / {shk}");
    }

    // Only signing methods shared and no host key: an error naming all four
    // lists, distinct from "no common kex".
    let (mut c, mut s) = pair(
        F::Kex,
        "curve25519-sha256,ecdh-sha2-nistp256",
        "ecdh-sha2-nistp256",
    );
    c.server_host_key_algorithms = list("ssh-ed25519");
    s.server_host_key_algorithms = list("ssh-rsa");
    let err = negotiate(&c, &s, &prefs).unwrap_err();
    assert!(matches!(err, NegotiationError::NoCompatibleHostKey { .. }));
    assert_eq!(
        err.to_string(),
        "no common key exchange method with a compatible host key algorithm: \
         client offered [curve25519-sha256, ecdh-sha2-nistp256] with host key algorithms \
         [ssh-ed25519], server offered [ecdh-sha2-nistp256] with host key algorithms [ssh-rsa]"
    );
}

#[test]
fn guessed_packet_rule() {
    struct Row {
        client_kex: &'static str,
        server_kex: &'static str,
        client_hk: &'static str,
        server_hk: &'static str,
        client_follows: bool,
        server_follows: bool,
        ignore_client: bool,
        ignore_server: bool,
    }
    let same_kex = "curve25519-sha256,ecdh-sha2-nistp256";
    let same_hk = "ssh-ed25519,rsa-sha2-256";
    let rows = [
        // Both first choices equal: every guess is right.
        Row {
            client_kex: same_kex,
            server_kex: same_kex,
            client_hk: same_hk,
            server_hk: same_hk,
            client_follows: true,
            server_follows: true,
            ignore_client: false,
            ignore_server: false,
        },
        // Right even if later entries differ.
        Row {
            client_kex: "curve25519-sha256,ecdh-sha2-nistp256",
            server_kex: "curve25519-sha256,diffie-hellman-group14-sha256",
            client_hk: "ssh-ed25519,rsa-sha2-256",
            server_hk: "ssh-ed25519",
            client_follows: true,
            server_follows: false,
            ignore_client: false,
            ignore_server: false,
        },
        // Kex differs: the client's guess is wrong.
        Row {
            client_kex: "ecdh-sha2-nistp256,curve25519-sha256",
            server_kex: "curve25519-sha256,ecdh-sha2-nistp256",
            client_hk: same_hk,
            server_hk: same_hk,
            client_follows: true,
            server_follows: false,
            ignore_client: true,
            ignore_server: false,
        },
        // Host key differs: the server's guess is wrong.
        Row {
            client_kex: same_kex,
            server_kex: same_kex,
            client_hk: "rsa-sha2-256,ssh-ed25519",
            server_hk: "ssh-ed25519,rsa-sha2-256",
            client_follows: false,
            server_follows: true,
            ignore_client: false,
            ignore_server: true,
        },
        // Both differ, both guessed.
        Row {
            client_kex: "ecdh-sha2-nistp256,curve25519-sha256",
            server_kex: "curve25519-sha256,ecdh-sha2-nistp256",
            client_hk: "rsa-sha2-256,ssh-ed25519",
            server_hk: "ssh-ed25519,rsa-sha2-256",
            client_follows: true,
            server_follows: true,
            ignore_client: true,
            ignore_server: true,
        },
        // Differ, but nobody guessed: nothing to ignore.
        Row {
            client_kex: "ecdh-sha2-nistp256,curve25519-sha256",
            server_kex: "curve25519-sha256,ecdh-sha2-nistp256",
            client_hk: same_hk,
            server_hk: same_hk,
            client_follows: false,
            server_follows: false,
            ignore_client: false,
            ignore_server: false,
        },
    ];
    let prefs = test_prefs_all();
    for (i, r) in rows.iter().enumerate() {
        let (mut c, mut s) = pair(F::Kex, r.client_kex, r.server_kex);
        c.server_host_key_algorithms = list(r.client_hk);
        s.server_host_key_algorithms = list(r.server_hk);
        c.first_kex_packet_follows = r.client_follows;
        s.first_kex_packet_follows = r.server_follows;
        let n = negotiate(&c, &s, &prefs).unwrap();
        assert_eq!(n.ignore_client_guess, r.ignore_client, "row {i}");
        assert_eq!(n.ignore_server_guess, r.ignore_server, "row {i}");
    }
}

#[test]
fn ext_info_and_strict_kex_flags() {
    // (client pseudo names, server pseudo names,
    //  server_may_send_ext_info, client_may_send_ext_info, strict_kex)
    let rows: &[(&str, &str, bool, bool, bool)] = &[
        ("", "", false, false, false),
        ("ext-info-c", "", true, false, false),
        ("", "ext-info-s", false, true, false),
        ("ext-info-c", "ext-info-s", true, true, false),
        (
            "kex-strict-c-v00@openssh.com",
            "kex-strict-s-v00@openssh.com",
            false,
            false,
            true,
        ),
        ("kex-strict-c-v00@openssh.com", "", false, false, false),
        ("", "kex-strict-s-v00@openssh.com", false, false, false),
        (
            "ext-info-c,kex-strict-c-v00@openssh.com",
            "ext-info-s,kex-strict-s-v00@openssh.com",
            true,
            true,
            true,
        ),
        // The other role's names mean nothing.
        ("ext-info-s", "ext-info-c", false, false, false),
        (
            "kex-strict-s-v00@openssh.com",
            "kex-strict-c-v00@openssh.com",
            false,
            false,
            false,
        ),
    ];
    let prefs = test_prefs_all();
    for &(cx, sx, server_ext, client_ext, strict) in rows {
        let with = |extra: &str| {
            if extra.is_empty() {
                "curve25519-sha256".to_string()
            } else {
                format!("curve25519-sha256,{extra}")
            }
        };
        let (c, s) = pair(F::Kex, &with(cx), &with(sx));
        let n = negotiate(&c, &s, &prefs).unwrap();
        assert_eq!(n.kex.name(), "curve25519-sha256");
        assert_eq!(n.server_may_send_ext_info, server_ext, "{cx} / {sx}");
        assert_eq!(n.client_may_send_ext_info, client_ext, "{cx} / {sx}");
        assert_eq!(n.strict_kex, strict, "{cx} / {sx}");
    }
}

#[test]
fn pseudo_algorithms_are_never_chosen() {
    let prefs = test_prefs_all();
    let pseudo = "ext-info-c,ext-info-s,kex-strict-c-v00@openssh.com,kex-strict-s-v00@openssh.com";
    let (c, s) = pair(
        F::Kex,
        &format!("{pseudo},ecdh-sha2-nistp256"),
        &format!("{pseudo},ecdh-sha2-nistp256"),
    );
    assert_eq!(
        negotiate(&c, &s, &prefs).unwrap().kex.name(),
        "ecdh-sha2-nistp256"
    );
    let (c, s) = pair(F::Kex, pseudo, pseudo);
    let err = negotiate(&c, &s, &prefs).unwrap_err();
    assert!(matches!(
        err,
        NegotiationError::NoCommonAlgorithm {
            category: Category::Kex,
            ..
        }
    ));
}

#[test]
fn aead_makes_the_mac_implicit() {
    let prefs = test_prefs_all();
    // (c2s ciphers, s2c ciphers, expected c2s MAC, expected s2c MAC); the
    // MAC lists are disjoint, so only an AEAD direction can succeed.
    let rows: &[(&str, &str, Option<&str>, Option<&str>)] = &[
        (
            "chacha20-poly1305@openssh.com",
            "aes256-gcm@openssh.com",
            None,
            None,
        ),
        (
            "aes128-gcm@openssh.com,aes128-ctr",
            "chacha20-poly1305@openssh.com",
            None,
            None,
        ),
    ];
    for &(c2s, s2c, mac_c2s, mac_s2c) in rows {
        let (mut c, mut s) = pair(F::MacC2s, "hmac-sha2-256", "hmac-sha1");
        *field(&mut c, F::MacS2c) = list("hmac-sha2-512");
        *field(&mut s, F::MacS2c) = list("");
        for k in [&mut c, &mut s] {
            *field(k, F::CipherC2s) = list(c2s);
            *field(k, F::CipherS2c) = list(s2c);
        }
        let n = negotiate(&c, &s, &prefs).unwrap();
        assert_eq!(n.mac_c2s.map(|m| m.name()), mac_c2s);
        assert_eq!(n.mac_s2c.map(|m| m.name()), mac_s2c);
        assert_eq!(n.cipher_c2s.aead_tag_len(), Some(16));
    }
    // One AEAD direction, one not: the other direction still needs a MAC.
    let (mut c, mut s) = pair(
        F::CipherC2s,
        "chacha20-poly1305@openssh.com",
        "chacha20-poly1305@openssh.com",
    );
    *field(&mut c, F::MacC2s) = list("hmac-md5");
    let n = negotiate(&c, &s, &prefs).unwrap();
    assert!(n.mac_c2s.is_none());
    assert_eq!(n.mac_s2c.unwrap().name(), "hmac-sha2-256");
    *field(&mut s, F::MacS2c) = list("hmac-md5");
    assert_eq!(
        negotiate(&c, &s, &prefs).unwrap_err().category(),
        Category::Mac(Direction::ServerToClient)
    );
}

#[test]
fn languages_are_ignored() {
    let (mut c, mut s) = (base(), base());
    c.languages_client_to_server = list("en-US");
    s.languages_server_to_client = list("fr,de");
    negotiate(&c, &s, &test_prefs_all()).unwrap();
}

#[test]
fn both_sides_with_sekura_preferences() {
    let prefs = test_prefs();
    let mut rng = TestRng::new(9);
    let c = prefs.kexinit(Role::Client, true, &mut rng);
    let s = prefs.kexinit(Role::Server, true, &mut rng);
    let n = negotiate(&c, &s, &prefs).unwrap();
    assert_eq!(n.kex.name(), "mlkem768x25519-sha256");
    assert_eq!(n.host_key.unwrap().name(), "ssh-ed25519");
    assert_eq!(n.cipher_c2s.name(), "chacha20-poly1305@openssh.com");
    assert!(n.mac_c2s.is_none() && n.mac_s2c.is_none());
    assert!(n.server_may_send_ext_info && n.client_may_send_ext_info && n.strict_kex);
    assert!(!n.ignore_client_guess && !n.ignore_server_guess);

    // A rekey: no pseudo-algorithms, so no flags.
    let c = prefs.kexinit(Role::Client, false, &mut rng);
    let s = prefs.kexinit(Role::Server, false, &mut rng);
    let n = negotiate(&c, &s, &prefs).unwrap();
    assert!(!n.server_may_send_ext_info && !n.client_may_send_ext_info && !n.strict_kex);

    // An old client that only speaks legacy algorithms, against a server
    // that enabled them with OpenSSH's syntax.
    let mut old = test_prefs_all();
    old.set_kex("diffie-hellman-group1-sha1").unwrap();
    old.set_host_key_algorithms("ssh-rsa").unwrap();
    old.set_ciphers("3des-cbc").unwrap();
    old.set_macs("hmac-md5").unwrap();
    old.ext_info = false;
    old.strict_kex = false;
    let c = old.kexinit(Role::Client, true, &mut rng);
    let s = prefs.kexinit(Role::Server, true, &mut rng);
    let err = negotiate(&c, &s, &prefs).unwrap_err();
    assert_eq!(err.category(), Category::Kex);
    let mut server = prefs.clone();
    server.set_kex("+diffie-hellman-group1-sha1").unwrap();
    server.set_host_key_algorithms("+ssh-rsa").unwrap();
    server.set_ciphers("+3des-cbc").unwrap();
    server.set_macs("+hmac-md5").unwrap();
    let s = server.kexinit(Role::Server, true, &mut rng);
    let n = negotiate(&c, &s, &server).unwrap();
    assert_eq!(
        (
            n.kex.name(),
            n.host_key.unwrap().name(),
            n.cipher_s2c.name()
        ),
        ("diffie-hellman-group1-sha1", "ssh-rsa", "3des-cbc")
    );
    assert_eq!(n.mac_c2s.unwrap().name(), "hmac-md5");
    // The old client sent no pseudo-algorithms; the server did.
    assert!(!n.strict_kex && !n.server_may_send_ext_info && n.client_may_send_ext_info);
}

#[test]
fn custom_algorithm_is_negotiated() {
    static MINE: TestCipher = TestCipher {
        name: "mine@example.com",
        aead: None,
    };
    let mut prefs = test_prefs();
    prefs.register_cipher(&MINE).unwrap();
    prefs.set_ciphers("^mine@example.com").unwrap();
    let mut rng = TestRng::new(5);
    let c = prefs.kexinit(Role::Client, true, &mut rng);
    let s = prefs.kexinit(Role::Server, true, &mut rng);
    let n = negotiate(&c, &s, &prefs).unwrap();
    assert!(core::ptr::addr_eq(n.cipher_c2s, &MINE));
    assert_eq!(n.mac_c2s.unwrap().name(), "hmac-sha2-256-etm@openssh.com");
}

/// Names a list of `field` may hold: mostly those of the doubles of that
/// category, sometimes pseudo-algorithms, names of other categories, or
/// names nobody knows.
fn any_name(field: usize) -> impl Strategy<Value = String> {
    fn names<T: ?Sized + Algorithm>(list: &[&'static T]) -> Vec<String> {
        list.iter().map(|a| a.name().to_string()).collect()
    }
    let own = match field {
        0 => {
            let mut v = names(ALL_KEX);
            v.push(NOSIG_KEX.name.to_string());
            v
        }
        1 => names(ALL_HOST_KEY),
        2 | 3 => names(ALL_CIPHERS),
        4 | 5 => names(ALL_MACS),
        6 | 7 => names(ALL_COMPRESSION),
        _ => vec!["en".to_string()],
    };
    let mut other: Vec<String> = [
        crate::EXT_INFO_C,
        crate::EXT_INFO_S,
        crate::KEX_STRICT_C,
        crate::KEX_STRICT_S,
    ]
    .map(String::from)
    .to_vec();
    other.extend(names(ALL_CIPHERS));
    other.extend(names(ALL_KEX));
    prop_oneof![
        6 => proptest::sample::select(own),
        1 => proptest::sample::select(other),
        1 => "[!-+\\--~]{1,12}",
    ]
}

/// Two lists of `field` that, more often than not, share some names.
fn any_pair_of_lists(
    field: usize,
) -> impl Strategy<Value = (NameList<'static>, NameList<'static>)> {
    let names = || proptest::collection::vec(any_name(field), 0..5);
    (names(), names(), names())
        .prop_flat_map(|(a, b, shared)| {
            let mut c = a;
            c.extend(shared.iter().cloned());
            let mut s = b;
            s.extend(shared);
            (Just(c).prop_shuffle(), Just(s).prop_shuffle())
        })
        .prop_map(|(c, s)| {
            (
                NameList::from_names(c).unwrap(),
                NameList::from_names(s).unwrap(),
            )
        })
}

fn kexinit_from(mut lists: Vec<NameList<'static>>, follows: bool) -> KexInit<'static> {
    let mut next = || lists.remove(0);
    KexInit {
        cookie: [0; 16],
        kex_algorithms: next(),
        server_host_key_algorithms: next(),
        encryption_algorithms_client_to_server: next(),
        encryption_algorithms_server_to_client: next(),
        mac_algorithms_client_to_server: next(),
        mac_algorithms_server_to_client: next(),
        compression_algorithms_client_to_server: next(),
        compression_algorithms_server_to_client: next(),
        languages_client_to_server: next(),
        languages_server_to_client: next(),
        first_kex_packet_follows: follows,
        reserved: 0,
    }
}

/// A client and a server KEXINIT with arbitrary lists.
fn any_kexinits() -> impl Strategy<Value = (KexInit<'static>, KexInit<'static>)> {
    let lists: Vec<_> = (0..10).map(any_pair_of_lists).collect();
    (lists, any::<bool>(), any::<bool>()).prop_map(|(pairs, cf, sf)| {
        let (c, s): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        (kexinit_from(c, cf), kexinit_from(s, sf))
    })
}

/// A non-empty ordering of some of `n` indices.
fn some_of(n: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 1..=n).prop_shuffle()
}

fn names_at<T: ?Sized + Algorithm>(all: &[&'static T], at: &[usize]) -> Vec<&'static str> {
    at.iter()
        .map(|&i| {
            let alg: &'static T = all[i];
            alg.name()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn negotiate_never_panics((client, server) in any_kexinits()) {
        let mut prefs = test_prefs_all();
        prefs.register_kex(&NOSIG_KEX).unwrap();
        match negotiate(&client, &server, &prefs) {
            Ok(n) => {
                // Every choice is on both lists, and no pseudo-algorithm.
                let both = |f: F| {
                    let (mut c, mut s) = (client.clone(), server.clone());
                    (field(&mut c, f).clone(), field(&mut s, f).clone())
                };
                for f in FIELDS {
                    if let Some(name) = chosen(&n, f) {
                        let (c, s) = both(f);
                        prop_assert!(c.contains(name) && s.contains(name), "{f:?} {name}");
                    }
                }
                prop_assert!(!crate::is_pseudo_algorithm(n.kex.name()));
                if n.kex.needs_signing_host_key() {
                    prop_assert!(n.host_key.is_some());
                }
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("no common"), "{msg}");
            }
        }
    }

    #[test]
    fn same_preferences_pick_each_first_entry(
        kex in some_of(ALL_KEX.len()),
        host_key in some_of(ALL_HOST_KEY.len()),
        cipher_c2s in some_of(ALL_CIPHERS.len()),
        cipher_s2c in some_of(ALL_CIPHERS.len()),
        mac_c2s in some_of(ALL_MACS.len()),
        mac_s2c in some_of(ALL_MACS.len()),
        comp_c2s in some_of(ALL_COMPRESSION.len()),
        comp_s2c in some_of(ALL_COMPRESSION.len()),
        first in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut p = test_prefs();
        p.kex.only(names_at(ALL_KEX, &kex)).unwrap();
        p.host_key.only(names_at(ALL_HOST_KEY, &host_key)).unwrap();
        p.cipher_c2s.only(names_at(ALL_CIPHERS, &cipher_c2s)).unwrap();
        p.cipher_s2c.only(names_at(ALL_CIPHERS, &cipher_s2c)).unwrap();
        p.mac_c2s.only(names_at(ALL_MACS, &mac_c2s)).unwrap();
        p.mac_s2c.only(names_at(ALL_MACS, &mac_s2c)).unwrap();
        p.compression_c2s.only(names_at(ALL_COMPRESSION, &comp_c2s)).unwrap();
        p.compression_s2c.only(names_at(ALL_COMPRESSION, &comp_s2c)).unwrap();
        let mut rng = TestRng::new(seed);
        let c = p.kexinit(Role::Client, first, &mut rng);
        let s = p.kexinit(Role::Server, first, &mut rng);
        let n = negotiate(&c, &s, &p).unwrap();
        prop_assert_eq!(n.kex.name(), ALL_KEX[kex[0]].name());
        prop_assert_eq!(n.host_key.unwrap().name(), ALL_HOST_KEY[host_key[0]].name());
        prop_assert_eq!(n.cipher_c2s.name(), ALL_CIPHERS[cipher_c2s[0]].name());
        prop_assert_eq!(n.cipher_s2c.name(), ALL_CIPHERS[cipher_s2c[0]].name());
        let mac = |cipher: &dyn Cipher, i: &[usize]| {
            cipher.aead_tag_len().is_none().then(|| ALL_MACS[i[0]].name())
        };
        prop_assert_eq!(n.mac_c2s.map(|m| m.name()), mac(n.cipher_c2s, &mac_c2s));
        prop_assert_eq!(n.mac_s2c.map(|m| m.name()), mac(n.cipher_s2c, &mac_s2c));
        prop_assert_eq!(n.compression_c2s.name(), ALL_COMPRESSION[comp_c2s[0]].name());
        prop_assert_eq!(n.compression_s2c.name(), ALL_COMPRESSION[comp_s2c[0]].name());
        prop_assert_eq!(n.strict_kex, first);
        prop_assert_eq!(n.server_may_send_ext_info, first);
        prop_assert!(!n.ignore_client_guess && !n.ignore_server_guess);
    }
}
