//! PEM armor (RFC 7468 with the RFC 1421 headers OpenSSL still writes) and
//! OpenSSL's legacy PEM encryption.
//!
//! A legacy encrypted key looks like this:
//!
//! ```text
//! -----BEGIN RSA PRIVATE KEY-----
//! Proc-Type: 4,ENCRYPTED
//! DEK-Info: AES-128-CBC,<IV as hex>
//!
//! <base64 of the CBC ciphertext of the DER key, PKCS#7 padded>
//! -----END RSA PRIVATE KEY-----
//! ```
//!
//! The key is OpenSSL's `EVP_BytesToKey` with MD5, one iteration and the
//! first 8 bytes of the IV as salt: `D1 = MD5(passphrase || salt)`,
//! `Di = MD5(Di-1 || passphrase || salt)`, concatenated and cut to length.
//! It is a weak KDF (one MD5 per 16 key bytes), which is why sekura only
//! reads this format and writes OpenSSH's bcrypt-protected one.

use super::KeyError;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cipher::{Array, BlockModeDecrypt, KeyIvInit};
use digest::Digest;
use ssh_key::encoding::base64::{Base64, Encoding};
use zeroize::Zeroizing;

/// What the armor says about a PEM document, and its decoded body.
pub(super) struct Pem<'a> {
    /// The label after `BEGIN`, such as `RSA PRIVATE KEY`.
    pub(super) label: &'a str,
    /// The `Proc-Type` header, if any.
    pub(super) proc_type: Option<&'a str>,
    /// The `DEK-Info` header, if any.
    pub(super) dek_info: Option<&'a str>,
    /// The decoded body (DER, possibly encrypted).
    pub(super) body: Zeroizing<Vec<u8>>,
}

impl Pem<'_> {
    /// Whether the body is encrypted with the legacy scheme.
    pub(super) fn is_encrypted(&self) -> bool {
        self.proc_type.is_some()
    }
}

const FORMAT: &str = "PEM file";

/// The label of a `-----BEGIN <label>-----` line.
fn begin_label(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix("-----BEGIN ")?
        .strip_suffix("-----")
}

/// Parses the PEM document of `text` that holds a private key: the first
/// whose label ends in `PRIVATE KEY`, else the first of all. Text around it
/// (OpenSSL's "Bag Attributes", the `EC PARAMETERS` block `openssl ecparam
/// -genkey` writes first) is skipped, as OpenSSL does.
pub(super) fn parse(text: &str) -> Result<Pem<'_>, KeyError> {
    let start = text
        .lines()
        .position(|l| begin_label(l).is_some_and(|label| label.ends_with("PRIVATE KEY")))
        .or_else(|| text.lines().position(|l| begin_label(l).is_some()))
        .ok_or_else(|| KeyError::malformed(FORMAT, "expected a -----BEGIN line, found none"))?;
    let mut lines = text.lines().skip(start).map(str::trim);
    let label = lines
        .next()
        .and_then(begin_label)
        .ok_or_else(|| KeyError::malformed(FORMAT, "expected a -----BEGIN line, found none"))?;
    let end = format!("-----END {label}-----");

    let mut proc_type = None;
    let mut dek_info = None;
    let mut base64 = Zeroizing::new(String::new());
    let mut in_headers = true;
    let mut ended = false;
    for line in lines {
        if line == end {
            ended = true;
            break;
        }
        if in_headers {
            if let Some((name, value)) = line.split_once(':') {
                match name.trim() {
                    "Proc-Type" => proc_type = Some(value.trim()),
                    "DEK-Info" => dek_info = Some(value.trim()),
                    _ => {}
                }
                continue;
            }
            in_headers = false;
            if line.is_empty() {
                continue;
            }
        }
        base64.push_str(line);
    }
    if !ended {
        return Err(KeyError::malformed(
            FORMAT,
            format!("expected {end}, found the end of the input"),
        ));
    }
    let body = Base64::decode_vec(&base64)
        .map_err(|e| KeyError::malformed(FORMAT, format!("invalid base64 body: {e}")))?;
    Ok(Pem {
        label,
        proc_type,
        dek_info,
        body: Zeroizing::new(body),
    })
}

/// The ciphers (all in CBC mode) of legacy PEM encryption that sekura reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegacyCipher {
    Aes128,
    Aes192,
    Aes256,
    DesEde3,
}

impl LegacyCipher {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "AES-128-CBC" => LegacyCipher::Aes128,
            "AES-192-CBC" => LegacyCipher::Aes192,
            "AES-256-CBC" => LegacyCipher::Aes256,
            "DES-EDE3-CBC" => LegacyCipher::DesEde3,
            _ => return None,
        })
    }

    fn key_len(self) -> usize {
        match self {
            LegacyCipher::Aes128 => 16,
            LegacyCipher::Aes192 | LegacyCipher::DesEde3 => 24,
            LegacyCipher::Aes256 => 32,
        }
    }

    fn block_len(self) -> usize {
        match self {
            LegacyCipher::DesEde3 => 8,
            _ => 16,
        }
    }
}

/// Decrypts a legacy encrypted PEM body with `passphrase`.
///
/// Bad padding means the passphrase is wrong (a wrong key turns the last
/// block into noise); the caller also treats a DER parse failure of the
/// result as a wrong passphrase, which catches the 1 in 256 wrong keys
/// whose noise happens to end in valid padding.
pub(super) fn decrypt_legacy(
    pem: &Pem<'_>,
    passphrase: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let proc_type = pem.proc_type.unwrap_or_default();
    if proc_type != "4,ENCRYPTED" {
        return Err(KeyError::unsupported("PEM Proc-Type", proc_type));
    }
    let dek_info = pem.dek_info.ok_or_else(|| {
        KeyError::malformed(
            FORMAT,
            "expected a DEK-Info header after Proc-Type, found none",
        )
    })?;
    let (name, iv_hex) = dek_info.split_once(',').ok_or_else(|| {
        KeyError::malformed(
            FORMAT,
            format!("expected DEK-Info \"<cipher>,<iv hex>\", found \"{dek_info}\""),
        )
    })?;
    let cipher = LegacyCipher::from_name(name.trim())
        .ok_or_else(|| KeyError::unsupported("PEM encryption", name.trim()))?;
    let iv = decode_hex(iv_hex.trim()).ok_or_else(|| {
        KeyError::malformed(FORMAT, format!("DEK-Info IV is not hex: \"{iv_hex}\""))
    })?;
    if iv.len() != cipher.block_len() {
        return Err(KeyError::malformed(
            FORMAT,
            format!(
                "{name} IV must be {} bytes, found {}",
                cipher.block_len(),
                iv.len()
            ),
        ));
    }
    let body_len = pem.body.len();
    if body_len == 0 || !body_len.is_multiple_of(cipher.block_len()) {
        return Err(KeyError::malformed(
            FORMAT,
            format!(
                "{name} ciphertext must be a non-empty multiple of {} bytes, found {body_len}",
                cipher.block_len()
            ),
        ));
    }
    let salt = iv.get(..8).unwrap_or_default();
    let key = evp_bytes_to_key(passphrase, salt, cipher.key_len());
    let mut data = Zeroizing::new(pem.body.to_vec());
    cbc_decrypt(cipher, &key, &iv, &mut data)?;
    let unpadded =
        pkcs7_unpadded_len(&data, cipher.block_len()).ok_or(KeyError::WrongPassphrase)?;
    data.truncate(unpadded);
    Ok(data)
}

/// OpenSSL's `EVP_BytesToKey(cipher, EVP_md5(), salt, passphrase, count = 1)`.
fn evp_bytes_to_key(passphrase: &[u8], salt: &[u8], key_len: usize) -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(Vec::with_capacity(key_len + 16));
    let mut previous: Option<Zeroizing<[u8; 16]>> = None;
    while key.len() < key_len {
        let mut md5 = md5::Md5::new();
        if let Some(prev) = &previous {
            md5.update(prev.as_slice());
        }
        md5.update(passphrase);
        md5.update(salt);
        let block = Zeroizing::new(<[u8; 16]>::from(md5.finalize()));
        key.extend_from_slice(block.as_slice());
        previous = Some(block);
    }
    key.truncate(key_len);
    key
}

/// Decrypts whole blocks in place with CBC.
fn cbc_decrypt(
    cipher: LegacyCipher,
    key: &[u8],
    iv: &[u8],
    data: &mut [u8],
) -> Result<(), KeyError> {
    let bad_len = |_| KeyError::malformed(FORMAT, "key or IV of the wrong length");
    match cipher {
        LegacyCipher::Aes128 => {
            let (blocks, _) = Array::slice_as_chunks_mut(data);
            cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
                .map_err(bad_len)?
                .decrypt_blocks(blocks);
        }
        LegacyCipher::Aes192 => {
            let (blocks, _) = Array::slice_as_chunks_mut(data);
            cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
                .map_err(bad_len)?
                .decrypt_blocks(blocks);
        }
        LegacyCipher::Aes256 => {
            let (blocks, _) = Array::slice_as_chunks_mut(data);
            cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                .map_err(bad_len)?
                .decrypt_blocks(blocks);
        }
        LegacyCipher::DesEde3 => {
            let (blocks, _) = Array::slice_as_chunks_mut(data);
            cbc::Decryptor::<des::TdesEde3>::new_from_slices(key, iv)
                .map_err(bad_len)?
                .decrypt_blocks(blocks);
        }
    }
    Ok(())
}

/// The length of `data` without its PKCS#7 padding, or `None` if the
/// padding is not valid.
fn pkcs7_unpadded_len(data: &[u8], block_len: usize) -> Option<usize> {
    let &last = data.last()?;
    let pad = usize::from(last);
    if pad == 0 || pad > block_len || pad > data.len() {
        return None;
    }
    let start = data.len() - pad;
    data.get(start..)?
        .iter()
        .all(|&b| b == last)
        .then_some(start)
}

/// Decodes hex (either case) into bytes.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let digit = |c: u8| char::from(c).to_digit(16);
            let (hi, lo) = (digit(*pair.first()?)?, digit(*pair.get(1)?)?);
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -md md5 -pass pass:sekura
        //  -S 0102030405060708 -P` printed this key (OpenSSL 3.0.19).
        let key = evp_bytes_to_key(b"sekura", &[1, 2, 3, 4, 5, 6, 7, 8], 32);
        assert_eq!(
            key.as_slice(),
            decode_hex(EVP_KEY_SEKURA_0102030405060708)
                .unwrap()
                .as_slice()
        );
        // A shorter key is a prefix of the longer one.
        let short = evp_bytes_to_key(b"sekura", &[1, 2, 3, 4, 5, 6, 7, 8], 16);
        assert_eq!(short.as_slice(), &key[..16]);
    }

    const EVP_KEY_SEKURA_0102030405060708: &str =
        "B6D1BF09F470DA12617332F81191D55D5E1568B77160406AE0F4FF45AFBFAE96";

    #[test]
    fn pkcs7_padding() {
        assert_eq!(pkcs7_unpadded_len(&[9, 9, 9, 3, 3, 3], 8), Some(3));
        assert_eq!(pkcs7_unpadded_len(&[8; 8], 8), Some(0));
        assert_eq!(pkcs7_unpadded_len(&[9, 9, 9, 9, 2, 2], 8), Some(4));
        assert_eq!(pkcs7_unpadded_len(&[9, 9, 9, 2, 3, 3], 8), None);
        assert_eq!(pkcs7_unpadded_len(&[9, 9, 9, 9, 2, 3], 8), None);
        assert_eq!(pkcs7_unpadded_len(&[1, 2, 0], 8), None);
        assert_eq!(pkcs7_unpadded_len(&[9; 9], 8), None);
        assert_eq!(pkcs7_unpadded_len(&[], 8), None);
    }

    #[test]
    fn armor_headers_and_garbage() {
        let text = "Bag Attributes\n-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\n\
                    DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\r\n\r\nAAEC\r\n\
                    -----END RSA PRIVATE KEY-----\r\n";
        let pem = parse(text).unwrap();
        assert_eq!(pem.label, "RSA PRIVATE KEY");
        assert_eq!(pem.proc_type, Some("4,ENCRYPTED"));
        assert_eq!(
            pem.dek_info,
            Some("AES-128-CBC,00112233445566778899AABBCCDDEEFF")
        );
        assert_eq!(pem.body.as_slice(), &[0, 1, 2]);
        let two = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n\
                   -----BEGIN EC PRIVATE KEY-----\nAAEC\n-----END EC PRIVATE KEY-----\n";
        let pem = parse(two).unwrap();
        assert_eq!(pem.label, "EC PRIVATE KEY");
        assert_eq!(pem.body.as_slice(), &[0, 1, 2]);
        assert!(parse("-----BEGIN X-----\nAAEC\n").is_err());
        assert!(parse("-----BEGIN X-----\n%%%%\n-----END X-----\n").is_err());
        assert!(parse("no pem here").is_err());
        assert_eq!(decode_hex("0aFf"), Some(alloc::vec![10, 255]));
        assert_eq!(decode_hex("0g"), None);
        assert_eq!(decode_hex("abc"), None);
    }
}
