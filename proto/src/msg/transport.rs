//! Transport layer messages (RFC 4253).

use super::{Encode, expect_number};
use crate::{NameList, Reader, Result, Writer, numbers};

/// SSH_MSG_KEXINIT (RFC 4253 §7.1): one side's algorithm offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexInit<'a> {
    /// 16 random bytes.
    pub cookie: [u8; 16],
    /// Key exchange methods, most preferred first (with pseudo-algorithms
    /// such as `ext-info-c` and `kex-strict-c-v00@openssh.com`).
    pub kex_algorithms: NameList<'a>,
    /// Host key (signature) algorithms.
    pub server_host_key_algorithms: NameList<'a>,
    /// Ciphers, client to server.
    pub encryption_algorithms_client_to_server: NameList<'a>,
    /// Ciphers, server to client.
    pub encryption_algorithms_server_to_client: NameList<'a>,
    /// MACs, client to server.
    pub mac_algorithms_client_to_server: NameList<'a>,
    /// MACs, server to client.
    pub mac_algorithms_server_to_client: NameList<'a>,
    /// Compression, client to server.
    pub compression_algorithms_client_to_server: NameList<'a>,
    /// Compression, server to client.
    pub compression_algorithms_server_to_client: NameList<'a>,
    /// Languages, client to server (normally empty).
    pub languages_client_to_server: NameList<'a>,
    /// Languages, server to client (normally empty).
    pub languages_server_to_client: NameList<'a>,
    /// Whether a guessed key exchange packet follows.
    pub first_kex_packet_follows: bool,
    /// Reserved for future extension; 0 when sent.
    pub reserved: u32,
}

impl<'a> KexInit<'a> {
    /// Decodes a KEXINIT payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::KEXINIT, "KEXINIT")?;
        let msg = KexInit {
            cookie: r.array("KEXINIT cookie")?,
            kex_algorithms: r.name_list()?,
            server_host_key_algorithms: r.name_list()?,
            encryption_algorithms_client_to_server: r.name_list()?,
            encryption_algorithms_server_to_client: r.name_list()?,
            mac_algorithms_client_to_server: r.name_list()?,
            mac_algorithms_server_to_client: r.name_list()?,
            compression_algorithms_client_to_server: r.name_list()?,
            compression_algorithms_server_to_client: r.name_list()?,
            languages_client_to_server: r.name_list()?,
            languages_server_to_client: r.name_list()?,
            first_kex_packet_follows: r.bool()?,
            reserved: r.u32()?,
        };
        r.finish_with("KEXINIT")?;
        Ok(msg)
    }

    /// Copies borrowed fields so the message outlives its input (the
    /// transport keeps both KEXINITs for the exchange hash).
    #[must_use]
    pub fn into_owned(self) -> KexInit<'static> {
        KexInit {
            cookie: self.cookie,
            kex_algorithms: self.kex_algorithms.into_owned(),
            server_host_key_algorithms: self.server_host_key_algorithms.into_owned(),
            encryption_algorithms_client_to_server: self
                .encryption_algorithms_client_to_server
                .into_owned(),
            encryption_algorithms_server_to_client: self
                .encryption_algorithms_server_to_client
                .into_owned(),
            mac_algorithms_client_to_server: self.mac_algorithms_client_to_server.into_owned(),
            mac_algorithms_server_to_client: self.mac_algorithms_server_to_client.into_owned(),
            compression_algorithms_client_to_server: self
                .compression_algorithms_client_to_server
                .into_owned(),
            compression_algorithms_server_to_client: self
                .compression_algorithms_server_to_client
                .into_owned(),
            languages_client_to_server: self.languages_client_to_server.into_owned(),
            languages_server_to_client: self.languages_server_to_client.into_owned(),
            first_kex_packet_follows: self.first_kex_packet_follows,
            reserved: self.reserved,
        }
    }
}

impl Encode for KexInit<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::KEXINIT);
        w.put_raw(&self.cookie);
        for list in [
            &self.kex_algorithms,
            &self.server_host_key_algorithms,
            &self.encryption_algorithms_client_to_server,
            &self.encryption_algorithms_server_to_client,
            &self.mac_algorithms_client_to_server,
            &self.mac_algorithms_server_to_client,
            &self.compression_algorithms_client_to_server,
            &self.compression_algorithms_server_to_client,
            &self.languages_client_to_server,
            &self.languages_server_to_client,
        ] {
            w.put_name_list(list);
        }
        w.put_bool(self.first_kex_packet_follows);
        w.put_u32(self.reserved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kexinit_roundtrip_and_layout() {
        let list = |s: &'static str| NameList::parse(s.as_bytes()).unwrap();
        let msg = KexInit {
            cookie: [7; 16],
            kex_algorithms: list("curve25519-sha256,ext-info-c"),
            server_host_key_algorithms: list("ssh-ed25519"),
            encryption_algorithms_client_to_server: list("aes128-ctr"),
            encryption_algorithms_server_to_client: list("aes128-ctr"),
            mac_algorithms_client_to_server: list("hmac-sha2-256"),
            mac_algorithms_server_to_client: list("hmac-sha2-256"),
            compression_algorithms_client_to_server: list("none"),
            compression_algorithms_server_to_client: list("none"),
            languages_client_to_server: list(""),
            languages_server_to_client: list(""),
            first_kex_packet_follows: false,
            reserved: 0,
        };
        let bytes = msg.to_vec();
        assert_eq!(bytes.first(), Some(&20));
        assert_eq!(bytes.get(1..17), Some(&[7u8; 16][..]));
        assert_eq!(KexInit::decode(&bytes).unwrap(), msg);
        // Truncated at every length: an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(KexInit::decode(&bytes[..cut]).is_err());
        }
    }
}
