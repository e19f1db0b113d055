//! Known-answer and robustness tests of the built-in keys.
//!
//! Fixtures live in `algorithms/tests/fixtures/keys/`; its README names the
//! command that made each file.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::SigningKey;
use crate::sig::{decode_signature, encode_signature};
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::convert::Infallible;
use digest::Digest;
use sekura_proto::{Reader, Writer};

/// A deterministic RNG for tests: SHA-256 of a counter. Never for keys that
/// matter.
pub(super) struct TestRng(u64);

impl rand_core::TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(32) {
            self.0 += 1;
            let block = sha2::Sha256::digest(self.0.to_le_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for TestRng {}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/keys/",
            $name
        ))
    };
}

const PASS: Option<&[u8]> = Some(b"sekura");

// ----- Ed25519: RFC 8032 §7.1 ------------------------------------------

/// RFC 8032 §7.1, TEST 1, TEST 2 and TEST 3: (secret key, public key,
/// message, signature).
const RFC8032_VECTORS: [(&str, &str, &str, &str); 3] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
];

#[test]
fn ed25519_rfc8032_vectors_through_the_ssh_envelope() {
    let mut rng = TestRng(1);
    for (secret, public, message, signature) in RFC8032_VECTORS {
        let seed: [u8; 32] = hex(secret).try_into().unwrap();
        let key = PrivateKey::from_ed25519_seed(&seed);
        let mut blob = Vec::new();
        blob.put_str("ssh-ed25519");
        blob.put_string(&hex(public));
        assert_eq!(key.public_key_blob(), blob);
        assert_eq!(SigningKey::key_type(&key), "ssh-ed25519");
        assert_eq!(key.signature_algorithms(), ["ssh-ed25519"]);

        let message = hex(message);
        let sig = key.sign("ssh-ed25519", &message, &mut rng).unwrap();
        assert_eq!(sig, encode_signature("ssh-ed25519", &hex(signature)));
        SSH_ED25519.verify(&blob, &message, &sig).unwrap();

        let mut other = message.clone();
        other.push(0);
        assert!(SSH_ED25519.verify(&blob, &other, &sig).is_err());
        let mut bad = sig.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(SSH_ED25519.verify(&blob, &message, &bad).is_err());
        // The same blob under another name is refused by name.
        let renamed = encode_signature("ssh-rsa", &hex(signature));
        assert!(SSH_ED25519.verify(&blob, &message, &renamed).is_err());
    }
}

#[test]
fn ed25519_hostile_blobs() {
    let (_, public, _, signature) = RFC8032_VECTORS[0];
    let sig = encode_signature("ssh-ed25519", &hex(signature));
    let verify = |blob: &[u8]| SSH_ED25519.verify(blob, b"", &sig);
    let mut short = Vec::new();
    short.put_str("ssh-ed25519");
    short.put_string(&hex(public)[..31]);
    assert!(verify(&short).is_err());
    let mut trailing = Vec::new();
    trailing.put_str("ssh-ed25519");
    trailing.put_string(&hex(public));
    trailing.push(0);
    assert!(verify(&trailing).is_err());
    let mut wrong_type = Vec::new();
    wrong_type.put_str("ssh-ed448");
    wrong_type.put_string(&hex(public));
    assert!(verify(&wrong_type).is_err());
    // A 63-byte signature.
    let mut blob = Vec::new();
    blob.put_str("ssh-ed25519");
    blob.put_string(&hex(public));
    let short_sig = encode_signature("ssh-ed25519", &hex(signature)[..63]);
    assert!(SSH_ED25519.verify(&blob, b"", &short_sig).is_err());
}

// ----- ECDSA: RFC 6979 §A.2.5-A.2.7 -----------------------------------

/// RFC 6979 §A.2.5 (P-256), §A.2.6 (P-384), §A.2.7 (P-521): private key
/// x and the signature (r, s) with the curve's SSH hash (SHA-256, SHA-384,
/// SHA-512) over the message "sample".
const RFC6979_VECTORS: [(EcdsaCurve, &str, &str, &str); 3] = [
    (
        EcdsaCurve::NistP256,
        "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721",
        "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
        "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
    ),
    (
        EcdsaCurve::NistP384,
        "6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D8
         96D5724E4C70A825F872C9EA60D2EDF5",
        "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C
         81A648152E44ACF96E36DD1E80FABE46",
        "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94F
         A329C145786E679E7B82C71A38628AC8",
    ),
    (
        EcdsaCurve::NistP521,
        // The RFC prints 131 hex digits; one more zero makes whole bytes.
        "00FAD06DAA62BA3B25D2FB40133DA757205DE67F5BB0018FEE8C86E1B68C7E75C
         AA896EB32F1F47C70855836A6D16FCC1466F6D8FBEC67DB89EC0C08B0E996B83538",
        "C328FAFCBD79DD77850370C46325D987CB525569FB63C5D3BC53950E6D4C5F17
         4E25A1EE9017B5D450606ADD152B534931D7D4E8455CC91F9B15BF05EC36E377FA",
        "617CCE7CF5064806C467F678D3B4080D6F1CC50AF26CA209417308281B68AF28
         2623EAA63E5B5C0723D8B8C37FF0777B1A20F8CCB1DCCC43997F1EE0E44DA4A67A",
    ),
];

fn algorithm_for(curve: EcdsaCurve) -> &'static Ecdsa {
    match curve {
        EcdsaCurve::NistP256 => &ECDSA_SHA2_NISTP256,
        EcdsaCurve::NistP384 => &ECDSA_SHA2_NISTP384,
        EcdsaCurve::NistP521 => &ECDSA_SHA2_NISTP521,
    }
}

/// Splits an ECDSA signature blob into (r, s) magnitudes.
fn ecdsa_rs(sig: &[u8], name: &str) -> (Vec<u8>, Vec<u8>) {
    let blob = decode_signature(sig, name).unwrap();
    let mut r = Reader::new(blob);
    let a = r.mpint().unwrap().as_unsigned().unwrap().to_vec();
    let b = r.mpint().unwrap().as_unsigned().unwrap().to_vec();
    r.finish().unwrap();
    (a, b)
}

fn ecdsa_signature(name: &str, r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut blob = Vec::new();
    blob.put_mpint_unsigned(r);
    blob.put_mpint_unsigned(s);
    encode_signature(name, &blob)
}

#[test]
fn ecdsa_rfc6979_sample_vectors() {
    let mut rng = TestRng(2);
    for (curve, x, r, s) in RFC6979_VECTORS {
        let key = PrivateKey::from_ecdsa_scalar(curve, &hex(x)).unwrap();
        let name = curve.algorithm_name();
        assert_eq!(SigningKey::key_type(&key), name);
        let sig = key.sign(name, b"sample", &mut rng).unwrap();
        let (got_r, got_s) = ecdsa_rs(&sig, name);
        assert_eq!(got_r, hex(r), "{name} r");
        assert_eq!(got_s, hex(s), "{name} s");
        let alg = algorithm_for(curve);
        let blob = key.public_key_blob();
        alg.verify(&blob, b"sample", &sig).unwrap();
        assert!(alg.verify(&blob, b"samplE", &sig).is_err());
        // (s, r) is not a signature.
        let swapped = ecdsa_signature(name, &got_s, &got_r);
        assert!(alg.verify(&blob, b"sample", &swapped).is_err());
        // Another curve's algorithm refuses the key by its type.
        for other in [EcdsaCurve::NistP256, EcdsaCurve::NistP384] {
            if other != curve {
                assert!(algorithm_for(other).verify(&blob, b"sample", &sig).is_err());
            }
        }
    }
}

#[test]
fn ecdsa_rfc6979_p256_public_key() {
    // RFC 6979 §A.2.5: Ux, Uy of the P-256 key.
    let (curve, x, _, _) = RFC6979_VECTORS[0];
    let key = PrivateKey::from_ecdsa_scalar(curve, &hex(x)).unwrap();
    let mut expected = Vec::new();
    expected.put_str("ecdsa-sha2-nistp256");
    expected.put_str("nistp256");
    let mut point = vec![4];
    point.extend(hex(
        "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
         7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299",
    ));
    expected.put_string(&point);
    assert_eq!(key.public_key_blob(), expected);
}

#[test]
fn ecdsa_scalars_out_of_range_are_refused() {
    let (curve, x, r, s) = RFC6979_VECTORS[0];
    let key = PrivateKey::from_ecdsa_scalar(curve, &hex(x)).unwrap();
    let blob = key.public_key_blob();
    let name = curve.algorithm_name();
    let (r, s) = (hex(r), hex(s));
    // The P-256 group order n (FIPS 186-4 §D.1.2.3).
    let n = hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
    let verify = |sig: &[u8]| ECDSA_SHA2_NISTP256.verify(&blob, b"sample", sig);
    assert!(verify(&ecdsa_signature(name, &r, &s)).is_ok());
    assert!(verify(&ecdsa_signature(name, &[], &s)).is_err(), "r = 0");
    assert!(verify(&ecdsa_signature(name, &r, &n)).is_err(), "s = n");
    let mut longer = vec![1];
    longer.extend(&r);
    assert!(
        verify(&ecdsa_signature(name, &longer, &s)).is_err(),
        "r > field"
    );
    // Hand-made malformed mpints: negative, redundant zero, trailing byte.
    let raw = |r_wire: &[u8], s_wire: &[u8], extra: &[u8]| {
        let mut blob = Vec::new();
        blob.put_string(r_wire);
        blob.put_string(s_wire);
        blob.extend_from_slice(extra);
        encode_signature(name, &blob)
    };
    let mut padded_s = vec![0];
    padded_s.extend(&s); // s has its top bit set: one zero is required
    assert!(verify(&raw(&r, &padded_s, &[])).is_err(), "r is negative");
    let mut r_positive = vec![0];
    r_positive.extend(&r);
    assert!(verify(&raw(&r_positive, &padded_s, &[])).is_ok());
    let mut r_redundant = vec![0, 0];
    r_redundant.extend(&r);
    assert!(
        verify(&raw(&r_redundant, &padded_s, &[])).is_err(),
        "redundant zero"
    );
    assert!(
        verify(&raw(&r_positive, &padded_s, &[0])).is_err(),
        "trailing byte"
    );
}

#[test]
fn ecdsa_hostile_key_blobs() {
    let (curve, x, _, _) = RFC6979_VECTORS[0];
    let key = PrivateKey::from_ecdsa_scalar(curve, &hex(x)).unwrap();
    let sig = key
        .sign("ecdsa-sha2-nistp256", b"m", &mut TestRng(3))
        .unwrap();
    let good = key.public_key_blob();
    let point = {
        let mut r = Reader::new(&good);
        r.string().unwrap();
        r.string().unwrap();
        r.string().unwrap().to_vec()
    };
    let blob = |id: &str, point: &[u8]| {
        let mut b = Vec::new();
        b.put_str("ecdsa-sha2-nistp256");
        b.put_str(id);
        b.put_string(point);
        b
    };
    let verify = |b: &[u8]| ECDSA_SHA2_NISTP256.verify(b, b"m", &sig);
    assert!(verify(&blob("nistp256", &point)).is_ok());
    assert!(verify(&blob("nistp384", &point)).is_err(), "curve id");
    let mut compressed = vec![2 + (point[64] & 1)];
    compressed.extend(&point[1..33]);
    assert!(
        verify(&blob("nistp256", &compressed)).is_err(),
        "compressed"
    );
    let mut off_curve = point.clone();
    off_curve[64] ^= 1;
    assert!(
        verify(&blob("nistp256", &off_curve)).is_err(),
        "off the curve"
    );
    assert!(matches!(
        PublicKey::from_blob(&blob("nistp256", &off_curve)),
        Err(KeyError::Malformed { .. })
    ));
}

// ----- RSA: fixed key, OpenSSL's signatures ----------------------------

/// The message of the RSA known answers.
const RSA_MESSAGE: &str = "sekura PKCS#1 v1.5 known answer";

/// `printf '%s' 'sekura PKCS#1 v1.5 known answer' | openssl dgst -<hash>
/// -sign rsa2048.pem | xxd -p` (OpenSSL 3.0.19), for sha1, sha256, sha512.
const RSA_KNOWN_ANSWERS: [(&str, &str); 3] = [
    (
        "ssh-rsa",
        "7229ad8ad2de11a71279f4c8eeceaf9abb6c3c3036f9d6fbad883ef1eea82e536aaf4293fa9a9fbc2291321712ff9f65741108dcaefc0b269ef5e2ff52f12a73998f2603a882cdd5c348c0d9006ac8522beb9c87c9265887ddd0119e6e5543a94929b28a5fea3d569c3580ece1a8e8ea537b80cb711480b95db13d5f07c173bb5f0544e45127412a2cf3741d7761a39e50ffba141249170a756bb5a2e68df2debb098119502d852fb0a9f9ea7055774b5549f7848b01be779a2c3dcc44f9d7906c6cd7c6a1846c024bbaa055c95462ba6feaaa4a9e9d410c11e5b3e25d224963fbcfbfc0f5ec3cffe2dcb114370397ef4a612e5d11f457972853a2fb12878cf4",
    ),
    (
        "rsa-sha2-256",
        "7112cfa0c92a7bec3dc1901eafb155b10c5d40e36129634d5e4e67e6850cdbfe3f19482d01796cdef7e2b283c99a3497081d3d4c9cfd4bb824d9fd20f50786a7d6b0b041ca427bb46fc7236555e4d5c8034cbfd942327d3e0f267595f0f9affac5ada97130a36f9d09c52ef8a7eabc189a22dbbe6b4200b7b30fff93555c595c7edfbdfbc853d6f63f8adc32510990de6419c3cf004ac6f38ea8585da51f20da7b324bb5ab87475a1e62be5aa99e8c47945fbba3b48c5b1d5f0914b0205b98c605ba97726dc9d22fe0f05f128b8da085e1c23da2b3ba5d89827a8a79aa6cbbe77f15803c741430d1718af19b46b297a4b9280c5cccf21839ced26f581f57aa01",
    ),
    (
        "rsa-sha2-512",
        "4f9ec894c0b0e0cbed3a05de77c0cae4195b4387161b0f8f716f7eddda4dde266e49ae42f33cdcac5885da552989857a3c600a92e978c6cf31e392e050147091091a1f0479f81ccc260b2404169526f9997b6587f8e5f7c2c89c3e057db34d8c38a834a26dcff87a7d4c48b75ce1b4c3843c6c986ce0371422829ac446076ced572718cfedfc45bccad6d1d664603208b2c617974ec39c20d781828f8924e6ceb59e8720845fc471b8b4a4f16df364383b25630f17fb8d192e7ef2b07e0f3764de96a11b7f4882760a6833fd6359da4a808fb7c2d0f928df231793afd0cf7d94c120d78f682ce61467e2eeb839cda5ace5dd46678fd17ff2dc04ebda8191727a",
    ),
];

fn rsa_fixture() -> PrivateKey {
    PrivateKey::from_pem(fixture!("rsa2048.pem"), None).unwrap()
}

fn rsa_algorithm(name: &str) -> &'static Rsa {
    match name {
        "ssh-rsa" => &SSH_RSA,
        "rsa-sha2-256" => &RSA_SHA2_256,
        _ => &RSA_SHA2_512,
    }
}

#[test]
fn rsa_pkcs1v15_known_answers_from_openssl() {
    let key = rsa_fixture();
    let blob = key.public_key_blob();
    assert_eq!(SigningKey::key_type(&key), "ssh-rsa");
    assert_eq!(
        key.signature_algorithms(),
        ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
    );
    let mut rng = TestRng(4);
    for (name, expected) in RSA_KNOWN_ANSWERS {
        let sig = key.sign(name, RSA_MESSAGE.as_bytes(), &mut rng).unwrap();
        assert_eq!(sig, encode_signature(name, &hex(expected)), "{name}");
        let alg = rsa_algorithm(name);
        assert_eq!(alg.key_type(), "ssh-rsa");
        alg.verify(&blob, RSA_MESSAGE.as_bytes(), &sig).unwrap();
        assert!(alg.verify(&blob, b"another message", &sig).is_err());
        // Relabelled as another hash: the DigestInfo inside does not match.
        for (other, _) in RSA_KNOWN_ANSWERS {
            if other != name {
                let relabelled = encode_signature(other, &hex(expected));
                assert!(
                    rsa_algorithm(other)
                        .verify(&blob, RSA_MESSAGE.as_bytes(), &relabelled)
                        .is_err(),
                    "{name} as {other}"
                );
                assert!(
                    alg.verify(&blob, RSA_MESSAGE.as_bytes(), &relabelled)
                        .is_err()
                );
            }
        }
    }
}

#[test]
fn rsa_signature_with_leading_zero_byte_dropped_is_accepted() {
    // `printf '%s' 'sekura leading zero 203' | openssl dgst -sha256 -sign
    // rsa2048.pem | xxd -p` begins with 00: found by trying 0..=203.
    let key = rsa_fixture();
    let blob = key.public_key_blob();
    let message = b"sekura leading zero 203";
    let sig = key.sign("rsa-sha2-256", message, &mut TestRng(5)).unwrap();
    let raw = decode_signature(&sig, "rsa-sha2-256").unwrap();
    assert_eq!(raw.len(), 256);
    assert_eq!(&raw[..2], [0x00, 0xa0]);
    let short = encode_signature("rsa-sha2-256", &raw[1..]);
    RSA_SHA2_256.verify(&blob, message, &short).unwrap();
    let mut long = vec![0];
    long.extend_from_slice(raw);
    let long = encode_signature("rsa-sha2-256", &long);
    assert!(RSA_SHA2_256.verify(&blob, message, &long).is_err());
}

/// An RSA key blob with the given e and n magnitudes.
fn rsa_blob(e: &[u8], n: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.put_str("ssh-rsa");
    b.put_mpint_unsigned(e);
    b.put_mpint_unsigned(n);
    b
}

#[test]
fn rsa_hostile_key_blobs() {
    let key = rsa_fixture();
    let good = key.public_key_blob();
    let (e, n) = {
        let mut r = Reader::new(&good);
        r.string().unwrap();
        let e = r.mpint().unwrap().as_unsigned().unwrap().to_vec();
        let n = r.mpint().unwrap().as_unsigned().unwrap().to_vec();
        (e, n)
    };
    assert_eq!(rsa_blob(&e, &n), good);
    let sig = key.sign("rsa-sha2-512", b"m", &mut TestRng(6)).unwrap();
    let verify = |b: &[u8]| RSA_SHA2_512.verify(b, b"m", &sig);
    assert!(verify(&good).is_ok());
    // 1016-bit modulus: below the minimum, refused before arithmetic.
    let small = rsa_blob(&e, &n[..127]);
    assert!(verify(&small).is_err());
    assert!(matches!(
        PublicKey::from_blob(&small),
        Err(KeyError::TooSmall {
            bits: 1016,
            minimum: 1024
        })
    ));
    // 16392-bit modulus: above the maximum.
    let mut huge = vec![0x80; 2049];
    huge[2048] = 1;
    assert!(verify(&rsa_blob(&e, &huge)).is_err());
    // Even exponent, exponent 1, a 9-byte exponent.
    assert!(verify(&rsa_blob(&[4], &n)).is_err());
    assert!(verify(&rsa_blob(&[1, 0, 0, 0, 0, 0, 0, 0, 1], &n)).is_err());
    assert!(verify(&rsa_blob(&[1], &n)).is_err());
    // Negative e (the wire form with its top bit set, no sign byte).
    let mut negative = Vec::new();
    negative.put_str("ssh-rsa");
    negative.put_string(&[0x81]);
    negative.put_mpint_unsigned(&n);
    assert!(verify(&negative).is_err());
    // Non-minimal e.
    let mut padded = Vec::new();
    padded.put_str("ssh-rsa");
    padded.put_string(&[0, 1, 0, 1]);
    padded.put_mpint_unsigned(&n);
    assert!(verify(&padded).is_err());
    // Trailing data, truncation.
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(verify(&trailing).is_err());
    assert!(verify(&good[..good.len() - 1]).is_err());
}

// ----- DSA: fixed key, OpenSSL's signature ------------------------------

/// `printf '%s' 'sekura DSA known answer' | openssl dgst -sha1 -sign
/// dsa1024.pem | openssl asn1parse -inform DER` gave r and s; the blob is
/// r || s, 20 bytes each (RFC 4253 §6.6).
const DSA_MESSAGE: &str = "sekura DSA known answer";
const DSA_SIGNATURE: &str = "7A7D51544BDC143D963FB305F51CCC01EF25241C\
                             DD50B03ED13991C64E4A8A101E2E2F3D990BF880";

#[test]
fn dsa_verifies_openssl_signature_and_round_trips() {
    let key = PrivateKey::from_pem(fixture!("dsa1024.pem"), None).unwrap();
    let expected = PublicKey::from_pub_file(fixture!("dsa1024.pub")).unwrap();
    assert_eq!(key.public_key(), expected);
    let blob = key.public_key_blob();
    let sig = encode_signature("ssh-dss", &hex(DSA_SIGNATURE));
    SSH_DSS.verify(&blob, DSA_MESSAGE.as_bytes(), &sig).unwrap();
    assert!(
        SSH_DSS
            .verify(&blob, b"sekura DSA known answeR", &sig)
            .is_err()
    );
    let mut bad = hex(DSA_SIGNATURE);
    bad[39] ^= 1;
    assert!(
        SSH_DSS
            .verify(
                &blob,
                DSA_MESSAGE.as_bytes(),
                &encode_signature("ssh-dss", &bad)
            )
            .is_err()
    );
    assert!(
        SSH_DSS
            .verify(
                &blob,
                DSA_MESSAGE.as_bytes(),
                &encode_signature("ssh-dss", &hex(DSA_SIGNATURE)[..39])
            )
            .is_err()
    );
    // A g longer than p is refused before any arithmetic.
    let long_g = {
        let mut r = Reader::new(&blob);
        r.string().unwrap();
        let p = r.mpint().unwrap().as_unsigned().unwrap().to_vec();
        let q = r.mpint().unwrap().as_unsigned().unwrap().to_vec();
        let mut b = Vec::new();
        b.put_str("ssh-dss");
        b.put_mpint_unsigned(&p);
        b.put_mpint_unsigned(&q);
        b.put_mpint_unsigned(&[1; 200]);
        b.put_mpint_unsigned(&[1; 100]);
        b
    };
    assert!(
        SSH_DSS
            .verify(&long_g, DSA_MESSAGE.as_bytes(), &sig)
            .is_err()
    );
    // r = 0 is out of range.
    let mut zero_r = hex(DSA_SIGNATURE);
    zero_r[..20].fill(0);
    assert!(
        SSH_DSS
            .verify(
                &blob,
                DSA_MESSAGE.as_bytes(),
                &encode_signature("ssh-dss", &zero_r)
            )
            .is_err()
    );

    let mine = key.sign("ssh-dss", b"round trip", &mut TestRng(7)).unwrap();
    assert_eq!(decode_signature(&mine, "ssh-dss").unwrap().len(), 40);
    SSH_DSS.verify(&blob, b"round trip", &mine).unwrap();
    // Deterministic nonce (RFC 6979): the same signature twice.
    assert_eq!(
        mine,
        key.sign("ssh-dss", b"round trip", &mut TestRng(8)).unwrap()
    );

    let pkcs8 = PrivateKey::from_pem(fixture!("dsa1024-pkcs8.pem"), None).unwrap();
    assert_eq!(pkcs8.public_key(), expected);
    assert_eq!(
        expected.fingerprint_sha256(),
        "SHA256:myJnmB0bwSnrModHTnQS/5i/WNNSXcYjThynoBxEk8o"
    );
}

// ----- key files -------------------------------------------------------

/// `ssh-keygen -l -f <key>.pub` and `ssh-keygen -l -E md5 -f <key>.pub`
/// (OpenSSH 9.2p1) for the fixtures.
const FINGERPRINTS: [(&str, &str, &str); 6] = [
    (
        fixture!("rsa2048.pub"),
        "SHA256:C8tLXL8VZZYMK0UrL5i/haK2i0hVAwCULG9kdLSkpJQ",
        "MD5:db:af:ca:97:3e:81:2e:f6:eb:f0:92:ce:e3:94:15:6e",
    ),
    (
        fixture!("ec-p256.pub"),
        "SHA256:vTQcKDFoJNeZ75pT2qu7bxihoA0hMzK+3de/BesA+aE",
        "MD5:d5:a7:f1:f5:1b:df:9d:4d:54:fb:96:5e:69:17:18:95",
    ),
    (
        fixture!("ec-p384-aes256.pub"),
        "SHA256:aZAJExLkF41Lxghan5QOnHgYVfLx58I5kUuWuA60YX4",
        "MD5:4e:29:4b:21:73:f2:fd:0c:85:fc:4f:a3:d2:34:db:d7",
    ),
    (
        fixture!("ec-p521-pkcs8.pub"),
        "SHA256:DxtSm6SfT9kzuT3OJwy918IC1sZFzu0164mdmE+Ufms",
        "MD5:dd:1d:a1:f0:6d:99:e9:12:2a:ed:23:2d:4d:ba:ca:fc",
    ),
    (
        fixture!("dsa1024.pub"),
        "SHA256:myJnmB0bwSnrModHTnQS/5i/WNNSXcYjThynoBxEk8o",
        "MD5:d3:1f:03:63:7a:d5:6b:3e:24:7c:c0:f1:95:56:7b:1b",
    ),
    (
        fixture!("ed25519-sekura.pub"),
        "SHA256:jjEyT2E9+fn4OgBEaKeJRo0GGxodkJuiGPY4m9y4ElM",
        "MD5:4c:a0:87:20:8e:f3:10:45:65:83:11:10:2b:5d:75:ba",
    ),
];

#[test]
fn fingerprints_match_ssh_keygen() {
    for (public, sha256, md5) in FINGERPRINTS {
        let key = PublicKey::from_pub_file(public).unwrap();
        assert_eq!(key.fingerprint_sha256(), sha256);
        assert_eq!(key.fingerprint_md5(), md5);
        // The line survives a round trip, comment included.
        assert_eq!(key.to_openssh(), public.trim());
        assert_eq!(PublicKey::from_blob(key.as_blob()).unwrap(), key);
    }
}

#[test]
fn rsa_pem_pkcs8_and_legacy_encryption_load_the_same_key() {
    let expected = PublicKey::from_pub_file(fixture!("rsa2048.pub")).unwrap();
    assert_eq!(expected.kind(), KeyKind::Rsa { bits: 2048 });
    for (text, passphrase) in [
        (fixture!("rsa2048.pem"), None),
        (fixture!("rsa2048-pkcs8.pem"), None),
        (fixture!("rsa2048-aes128.pem"), PASS),
        (fixture!("rsa2048-des3.pem"), PASS),
    ] {
        let key = PrivateKey::decode(text.as_bytes(), passphrase).unwrap();
        assert_eq!(key.public_key(), expected);
        let crlf = text.replace('\n', "\r\n");
        let key = PrivateKey::decode(crlf.as_bytes(), passphrase).unwrap();
        assert_eq!(key.public_key(), expected);
        assert_eq!(key.kind(), KeyKind::Rsa { bits: 2048 });
    }
    for text in [fixture!("rsa2048-aes128.pem"), fixture!("rsa2048-des3.pem")] {
        assert_eq!(
            PrivateKey::from_pem(text, None).unwrap_err(),
            KeyError::Encrypted
        );
        assert_eq!(
            PrivateKey::from_pem(text, Some(b"Sekura")).unwrap_err(),
            KeyError::WrongPassphrase
        );
        assert_eq!(
            PrivateKey::from_pem(text, Some(b"")).unwrap_err(),
            KeyError::WrongPassphrase
        );
    }
}

#[test]
fn ec_sec1_pkcs8_and_aes256_pem_load() {
    for (text, public, passphrase, curve) in [
        (
            fixture!("ec-p256.pem"),
            fixture!("ec-p256.pub"),
            None,
            EcdsaCurve::NistP256,
        ),
        (
            fixture!("ec-p384-aes256.pem"),
            fixture!("ec-p384-aes256.pub"),
            PASS,
            EcdsaCurve::NistP384,
        ),
        (
            fixture!("ec-p521-pkcs8.pem"),
            fixture!("ec-p521-pkcs8.pub"),
            None,
            EcdsaCurve::NistP521,
        ),
    ] {
        let key = PrivateKey::decode(text.as_bytes(), passphrase).unwrap();
        assert_eq!(key.public_key(), PublicKey::from_pub_file(public).unwrap());
        assert_eq!(key.kind(), KeyKind::Ecdsa(curve));
        let name = curve.algorithm_name();
        let sig = key.sign(name, b"hello", &mut TestRng(9)).unwrap();
        algorithm_for(curve)
            .verify(&key.public_key_blob(), b"hello", &sig)
            .unwrap();
    }
    assert_eq!(
        PrivateKey::from_pem(fixture!("ec-p384-aes256.pem"), Some(b"wrong")).unwrap_err(),
        KeyError::WrongPassphrase
    );
    // `openssl ecparam -genkey` without -noout writes the curve first.
    let with_params = alloc::format!(
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
        fixture!("ec-p256.pem")
    );
    assert_eq!(
        PrivateKey::decode(with_params.as_bytes(), None)
            .unwrap()
            .public_key(),
        PublicKey::from_pub_file(fixture!("ec-p256.pub")).unwrap()
    );
}

#[test]
fn ed25519_pkcs8_loads() {
    // `openssl pkey -in ed25519-pkcs8.pem -pubout -outform DER | tail -c 32`
    let key = PrivateKey::from_pem(fixture!("ed25519-pkcs8.pem"), None).unwrap();
    let mut blob = Vec::new();
    blob.put_str("ssh-ed25519");
    blob.put_string(&hex(
        "c0169b7ae1e8d5dd6b072874c4d197d5a858b50a04c933961281e1f2f4918201",
    ));
    assert_eq!(key.public_key_blob(), blob);
}

#[test]
fn openssh_encrypted_ed25519_fixture() {
    let text = fixture!("ed25519-sekura");
    let expected = PublicKey::from_pub_file(fixture!("ed25519-sekura.pub")).unwrap();
    assert_eq!(expected.comment(), "sekura fixture");
    let key = PrivateKey::decode(text.as_bytes(), PASS).unwrap();
    assert_eq!(key.public_key(), expected);
    assert_eq!(key.comment(), "sekura fixture");
    assert_eq!(
        key.fingerprint_sha256(),
        "SHA256:jjEyT2E9+fn4OgBEaKeJRo0GGxodkJuiGPY4m9y4ElM"
    );
    // Windows line endings, as an editor might save the file.
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(
        PrivateKey::decode(crlf.as_bytes(), PASS)
            .unwrap()
            .public_key(),
        expected
    );
    assert_eq!(
        PrivateKey::from_openssh(text, None).unwrap_err(),
        KeyError::Encrypted
    );
    assert_eq!(
        PrivateKey::from_openssh(text, Some(b"sekurA")).unwrap_err(),
        KeyError::WrongPassphrase
    );
}

#[test]
fn generated_keys_round_trip_through_openssh_format() {
    let mut rng = TestRng(10);
    let mut keys = vec![PrivateKey::generate_ed25519(&mut rng)];
    for curve in [
        EcdsaCurve::NistP256,
        EcdsaCurve::NistP384,
        EcdsaCurve::NistP521,
    ] {
        keys.push(PrivateKey::generate_ecdsa(curve, &mut rng));
    }
    keys.push(PrivateKey::from_pem(fixture!("dsa1024.pem"), None).unwrap());
    keys.push(rsa_fixture());
    for (i, mut key) in keys.into_iter().enumerate() {
        key.set_comment("user@host");
        // Only the first key pays for bcrypt; the rest test the plain path.
        let passphrase: Option<&[u8]> = if i == 0 { Some(b"pw") } else { None };
        let text = key.to_openssh(passphrase, &mut rng).unwrap();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        let loaded = PrivateKey::from_openssh(&text, passphrase).unwrap();
        assert_eq!(loaded.public_key(), key.public_key());
        assert_eq!(loaded.comment(), "user@host");
        if passphrase.is_some() {
            assert_eq!(
                PrivateKey::from_openssh(&text, None).unwrap_err(),
                KeyError::Encrypted
            );
            assert_eq!(
                PrivateKey::from_openssh(&text, Some(b"px")).unwrap_err(),
                KeyError::WrongPassphrase
            );
        }
        for alg in loaded.signature_algorithms() {
            let sig = loaded.sign(alg, b"payload", &mut rng).unwrap();
            key.public_key().verify(b"payload", &sig).unwrap();
            assert!(key.public_key().verify(b"payloaD", &sig).is_err());
        }
    }
}

#[test]
fn rsa_generation_once_and_size_limits() {
    let mut rng = TestRng(11);
    assert_eq!(
        PrivateKey::generate_rsa(1023, &mut rng).unwrap_err(),
        KeyError::TooSmall {
            bits: 1023,
            minimum: 1024
        }
    );
    assert!(matches!(
        PrivateKey::generate_rsa(16385, &mut rng),
        Err(KeyError::Unsupported { .. })
    ));
    // The one RSA generation of the unit tests: 1024 bits is the cheapest
    // size allowed.
    let key = PrivateKey::generate_rsa(1024, &mut rng).unwrap();
    assert_eq!(key.kind(), KeyKind::Rsa { bits: 1024 });
    for alg in ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] {
        let sig = key.sign(alg, b"m", &mut rng).unwrap();
        rsa_algorithm(alg)
            .verify(&key.public_key_blob(), b"m", &sig)
            .unwrap();
    }
}

#[test]
fn rsa_keys_below_1024_bits_are_refused_in_every_format() {
    // A 1020-bit modulus fills 128 bytes: a byte count would call it 1024.
    let too_small = KeyError::TooSmall {
        bits: 1020,
        minimum: 1024,
    };
    let pem = fixture!("rsa1020.pem");
    assert_eq!(PrivateKey::from_pem(pem, None).unwrap_err(), too_small);
    // The same key in OpenSSH's format, written by ssh-key.
    let der = pem::parse(pem).unwrap().body;
    let key = {
        use ::rsa::pkcs1::DecodeRsaPrivateKey;
        ::rsa::PrivateKey::from_pkcs1_der(&der).unwrap()
    };
    let keypair = ssh_key::private::RsaKeypair::try_from(&key).unwrap();
    let openssh = ssh_key::PrivateKey::new(keypair.into(), "small")
        .unwrap()
        .to_openssh(ssh_key::LineEnding::LF)
        .unwrap();
    assert_eq!(
        PrivateKey::from_openssh(&openssh, None).unwrap_err(),
        too_small
    );
    // And its public half.
    let blob = {
        use ::rsa::traits::PublicKeyParts;
        rsa_blob(
            &key.e().to_be_bytes_trimmed_vartime(),
            &key.n().to_be_bytes_trimmed_vartime(),
        )
    };
    assert_eq!(PublicKey::from_blob(&blob).unwrap_err(), too_small);
}

#[test]
fn signing_with_a_foreign_algorithm_is_refused() {
    let key = PrivateKey::from_ed25519_seed(&[7; 32]);
    let err = key
        .sign("rsa-sha2-256", b"m", &mut TestRng(12))
        .unwrap_err();
    assert_eq!(
        err,
        crate::AlgorithmError::UnsupportedSignature {
            key_type: "ssh-ed25519".into(),
            algorithm: "rsa-sha2-256".into()
        }
    );
    let rsa = rsa_fixture();
    assert!(rsa.sign("ssh-ed25519", b"m", &mut TestRng(12)).is_err());
    assert!(rsa.sign("rsa-sha2-384", b"m", &mut TestRng(12)).is_err());
}

#[test]
fn debug_output_does_not_show_secrets() {
    let seed = hex(RFC8032_VECTORS[0].0);
    let key = PrivateKey::from_ed25519_seed(&seed.clone().try_into().unwrap());
    let shown = alloc::format!("{key:?}");
    assert!(shown.contains("ssh-ed25519"));
    assert!(!shown.contains("9d61b1"));
    assert!(!shown.contains("157, 97, 177"));
}

// ----- hostile and damaged input -----------------------------------------

const ALL_FIXTURES: [(&str, Option<&[u8]>); 11] = [
    (fixture!("rsa2048.pem"), None),
    (fixture!("rsa2048-pkcs8.pem"), None),
    (fixture!("rsa2048-aes128.pem"), PASS),
    (fixture!("rsa2048-des3.pem"), PASS),
    (fixture!("ec-p256.pem"), None),
    (fixture!("ec-p384-aes256.pem"), PASS),
    (fixture!("ec-p521-pkcs8.pem"), None),
    (fixture!("ed25519-pkcs8.pem"), None),
    (fixture!("dsa1024.pem"), None),
    (fixture!("dsa1024-pkcs8.pem"), None),
    (fixture!("ed25519-sekura"), PASS),
];

#[test]
fn every_truncation_of_every_fixture_is_malformed_not_a_panic() {
    for (text, passphrase) in ALL_FIXTURES {
        assert!(PrivateKey::decode(text.as_bytes(), passphrase).is_ok());
        for len in 0..text.len() {
            let cut = &text[..len];
            let result = PrivateKey::decode(cut.as_bytes(), passphrase);
            if cut.trim_end() == text.trim_end() {
                assert!(result.is_ok(), "{len}");
            } else {
                assert!(
                    matches!(result, Err(KeyError::Malformed { .. })),
                    "truncated to {len}: {result:?}\n{cut}"
                );
            }
        }
    }
}

#[test]
fn damaged_fixtures_never_panic() {
    // Flip one bit of every fifth body character (every one takes seconds
    // with the DSA keys' consistency check). An encrypted file is damaged
    // without its passphrase: the KDF is too slow to run hundreds of times,
    // and damaged ciphertext is a wrong passphrase, tested above.
    for (text, passphrase) in ALL_FIXTURES {
        let passphrase = if text.contains("ENCRYPTED") || text.contains("OPENSSH") {
            None
        } else {
            passphrase
        };
        let bytes = text.as_bytes();
        let body_start = text.find('\n').unwrap() + 1;
        let body_end = text.rfind("-----END").unwrap();
        for i in (body_start..body_end).step_by(5) {
            let mut damaged = bytes.to_vec();
            damaged[i] ^= 0x01;
            // Any outcome but a panic is fine; an Ok must still be a
            // usable key.
            if let Ok(key) = PrivateKey::decode(&damaged, passphrase) {
                let alg = key.signature_algorithms()[0];
                let sig = key.sign(alg, b"m", &mut TestRng(13)).unwrap();
                key.public_key().verify(b"m", &sig).unwrap();
            }
        }
    }
}

#[test]
fn not_a_key_file() {
    for (input, expected) in [
        (&b"\xff\xfe"[..], "not UTF-8"),
        (b"hello", "BEGIN"),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "",
        ),
    ] {
        let err = PrivateKey::decode(input, None).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    assert!(matches!(
        PrivateKey::decode(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            None
        ),
        Err(KeyError::Unsupported { .. })
    ));
    for other_format in [
        &b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"[..],
        b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
        b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nAAAA\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n",
    ] {
        assert!(matches!(
            PrivateKey::decode(other_format, PASS),
            Err(KeyError::Unsupported { .. })
        ));
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_blobs_and_signatures_are_errors_not_panics(
        blob in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        sig in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
    ) {
        for alg in DEFAULT.iter().chain(LEGACY) {
            proptest::prop_assert!(alg.verify(&blob, b"m", &sig).is_err());
        }
        let _ = PublicKey::from_blob(&blob);
        let _ = PrivateKey::decode(&blob, PASS);
    }

    #[test]
    fn mutated_valid_blobs_never_panic(
        index in 0usize..400,
        value in proptest::prelude::any::<u8>(),
        cut in 0usize..400,
    ) {
        let keys = [
            PrivateKey::from_ed25519_seed(&[1; 32]),
            PrivateKey::from_ecdsa_scalar(EcdsaCurve::NistP256, &[2; 32]).unwrap(),
        ];
        for key in &keys {
            let alg = key.signature_algorithms()[0];
            let sig = key.sign(alg, b"m", &mut TestRng(14)).unwrap();
            let blob = key.public_key_blob();
            let verifier = DEFAULT.iter().find(|a| a.name() == alg).unwrap();
            let (mut b, mut s) = (blob.clone(), sig.clone());
            if let Some(x) = b.get_mut(index % blob.len()) { *x = value; }
            if let Some(x) = s.get_mut(index % sig.len()) { *x ^= value | 1; }
            // A changed key may by chance still be the same key; a changed
            // signature never verifies.
            let _ = verifier.verify(&b, b"m", &sig);
            proptest::prop_assert!(verifier.verify(&blob, b"m", &s).is_err());
            b.truncate(cut);
            s.truncate(cut);
            let _ = verifier.verify(&b, b"m", &s);
            let _ = PublicKey::from_blob(&b);
        }
    }
}

// ----- public keys and authorized_keys ----------------------------------

#[test]
fn authorized_keys_with_options_comments_and_bad_lines() {
    let ed = fixture!("ed25519-sekura.pub").trim();
    let ec = fixture!("ec-p256.pub").trim();
    let text = alloc::format!(
        "# a comment\n\n{ed}\n\
         command=\"echo hello world\",no-pty,from=\"10.0.0.0/8\" {ec} laptop key\n\
         no-agent-forwarding,command=\"say \\\"hi there\\\"\" {ed}\n\
         ssh-ed25519 AAAA-not-base64\n\
         restrict\n\
         environment=\"A=b c\" {ec}\n"
    );
    let items: Vec<_> = parse_authorized_keys(&text).collect();
    assert_eq!(items.len(), 6);
    let (line, first) = &items[0];
    assert_eq!(*line, 3);
    let first = first.as_ref().unwrap();
    assert_eq!(first.options(), "");
    assert_eq!(first.key().comment(), "sekura fixture");

    let second = items[1].1.as_ref().unwrap();
    assert_eq!(
        second.options(),
        "command=\"echo hello world\",no-pty,from=\"10.0.0.0/8\""
    );
    assert_eq!(second.key().key_type(), "ecdsa-sha2-nistp256");
    assert_eq!(second.key().comment(), "laptop key");

    let third = items[2].1.as_ref().unwrap();
    assert_eq!(
        third.options(),
        "no-agent-forwarding,command=\"say \\\"hi there\\\"\""
    );
    assert_eq!(third.key().key_type(), "ssh-ed25519");

    assert_eq!(items[3].0, 6);
    assert!(matches!(items[3].1, Err(KeyError::Malformed { .. })));
    assert!(matches!(items[4].1, Err(KeyError::Malformed { .. })));
    let last = items[5].1.as_ref().unwrap();
    assert_eq!(last.options(), "environment=\"A=b c\"");
    assert_eq!(last.key(), second.key());
}

#[test]
fn public_key_lines() {
    let line = fixture!("ec-p256.pub").trim();
    let key: PublicKey = line.parse().unwrap();
    assert_eq!(key.bits(), 256);
    assert_eq!(key.signature_algorithms(), ["ecdsa-sha2-nistp256"]);
    assert_eq!(key.comment(), "");
    assert_eq!(key.to_string(), line);
    // The type word must match the blob inside.
    let lying = line.replacen("ecdsa-sha2-nistp256", "ssh-ed25519", 1);
    assert!(PublicKey::from_openssh(&lying).is_err());
    assert!(matches!(
        PublicKey::from_openssh("ssh-foo AAAAB3NzaC1mb28= c"),
        Err(KeyError::Unsupported { .. }) | Err(KeyError::Malformed { .. })
    ));
    assert!(PublicKey::from_pub_file("").is_err());
    assert!(PublicKey::from_pub_file(&alloc::format!("{line}\n{line}\n")).is_err());
}

#[test]
fn public_key_verify_dispatches_by_signature_name() {
    let key = rsa_fixture();
    let public = key.public_key();
    let mut rng = TestRng(15);
    for alg in ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] {
        let sig = key.sign(alg, b"m", &mut rng).unwrap();
        public.verify(b"m", &sig).unwrap();
    }
    let ed = PrivateKey::from_ed25519_seed(&[3; 32]);
    let sig = ed.sign("ssh-ed25519", b"m", &mut rng).unwrap();
    assert!(public.verify(b"m", &sig).is_err());
}

#[test]
fn default_and_legacy_lists() {
    let names = |list: &[&dyn crate::SignatureAlgorithm]| {
        list.iter()
            .map(|a| a.name().to_string())
            .collect::<Vec<_>>()
    };
    // OpenSSH's KEX_DEFAULT_PK_ALG (myproposal.h) without certificates and
    // sk- keys.
    assert_eq!(
        names(DEFAULT),
        [
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp521",
            "rsa-sha2-512",
            "rsa-sha2-256"
        ]
    );
    assert_eq!(names(LEGACY), ["ssh-rsa", "ssh-dss"]);
    let key_types: Vec<_> = DEFAULT.iter().chain(LEGACY).map(|a| a.key_type()).collect();
    assert_eq!(
        key_types,
        [
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp521",
            "ssh-rsa",
            "ssh-rsa",
            "ssh-rsa",
            "ssh-dss"
        ]
    );
}
