//! Transport layer messages (RFC 4253): the generic ones (1-6), KEXINIT and
//! NEWKEYS.

use super::{Encode, expect_number};
use crate::numbers::{self, DisconnectReason};
use crate::{NameList, Reader, Result, Writer};

/// SSH_MSG_DISCONNECT (RFC 4253 §11.1): the sender is closing the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect<'a> {
    /// Why, as a reason code.
    pub reason: DisconnectReason,
    /// Why, for humans (UTF-8).
    pub description: &'a str,
    /// Language tag of `description` (RFC 3066), usually empty.
    pub language: &'a str,
}

impl<'a> Disconnect<'a> {
    /// Decodes a DISCONNECT payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::DISCONNECT, "DISCONNECT")?;
        let msg = Disconnect {
            reason: DisconnectReason::from_code(r.u32()?),
            description: r.utf8("disconnect description")?,
            language: r.utf8("language tag")?,
        };
        r.finish_with("DISCONNECT")?;
        Ok(msg)
    }
}

impl Encode for Disconnect<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::DISCONNECT);
        w.put_u32(self.reason.code());
        w.put_str(self.description);
        w.put_str(self.language);
    }
}

/// SSH_MSG_IGNORE (RFC 4253 §11.2): padding the receiver must ignore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore<'a> {
    /// Arbitrary bytes.
    pub data: &'a [u8],
}

impl<'a> Ignore<'a> {
    /// Decodes an IGNORE payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::IGNORE, "IGNORE")?;
        let msg = Ignore { data: r.string()? };
        r.finish_with("IGNORE")?;
        Ok(msg)
    }
}

impl Encode for Ignore<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::IGNORE);
        w.put_string(self.data);
    }
}

/// SSH_MSG_UNIMPLEMENTED (RFC 4253 §11.4): the answer to a message whose
/// number the receiver does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unimplemented {
    /// Sequence number of the rejected packet.
    pub sequence: u32,
}

impl Unimplemented {
    /// Decodes an UNIMPLEMENTED payload (message number included).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::UNIMPLEMENTED, "UNIMPLEMENTED")?;
        let msg = Unimplemented { sequence: r.u32()? };
        r.finish_with("UNIMPLEMENTED")?;
        Ok(msg)
    }
}

impl Encode for Unimplemented {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::UNIMPLEMENTED);
        w.put_u32(self.sequence);
    }
}

/// SSH_MSG_DEBUG (RFC 4253 §11.3): a diagnostic message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debug<'a> {
    /// Whether the receiver should show it even when not debugging.
    pub always_display: bool,
    /// The message (UTF-8).
    pub message: &'a str,
    /// Language tag of `message`, usually empty.
    pub language: &'a str,
}

impl<'a> Debug<'a> {
    /// Decodes a DEBUG payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::DEBUG, "DEBUG")?;
        let msg = Debug {
            always_display: r.bool()?,
            message: r.utf8("debug message")?,
            language: r.utf8("language tag")?,
        };
        r.finish_with("DEBUG")?;
        Ok(msg)
    }
}

impl Encode for Debug<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::DEBUG);
        w.put_bool(self.always_display);
        w.put_str(self.message);
        w.put_str(self.language);
    }
}

/// SSH_MSG_SERVICE_REQUEST (RFC 4253 §10): the client asks for a service,
/// such as `ssh-userauth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest<'a> {
    /// Service name.
    pub name: &'a str,
}

impl<'a> ServiceRequest<'a> {
    /// Decodes a SERVICE_REQUEST payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::SERVICE_REQUEST, "SERVICE_REQUEST")?;
        let msg = ServiceRequest {
            name: r.utf8("service name")?,
        };
        r.finish_with("SERVICE_REQUEST")?;
        Ok(msg)
    }
}

impl Encode for ServiceRequest<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::SERVICE_REQUEST);
        w.put_str(self.name);
    }
}

/// SSH_MSG_SERVICE_ACCEPT (RFC 4253 §10): the server grants a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccept<'a> {
    /// Service name, as requested.
    pub name: &'a str,
}

impl<'a> ServiceAccept<'a> {
    /// Decodes a SERVICE_ACCEPT payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::SERVICE_ACCEPT, "SERVICE_ACCEPT")?;
        let msg = ServiceAccept {
            name: r.utf8("service name")?,
        };
        r.finish_with("SERVICE_ACCEPT")?;
        Ok(msg)
    }
}

impl Encode for ServiceAccept<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::SERVICE_ACCEPT);
        w.put_str(self.name);
    }
}

/// SSH_MSG_NEWKEYS (RFC 4253 §7.3): the keys just negotiated are in use from
/// the next packet on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NewKeys;

impl NewKeys {
    /// Decodes a NEWKEYS payload (message number included).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::NEWKEYS, "NEWKEYS")?;
        r.finish_with("NEWKEYS")?;
        Ok(NewKeys)
    }
}

impl Encode for NewKeys {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::NEWKEYS);
    }
}

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
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
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

    #[test]
    fn disconnect_layout() {
        let msg = Disconnect {
            reason: DisconnectReason::ByApplication,
            description: "bye",
            language: "",
        };
        let bytes = msg.to_vec();
        assert_eq!(
            bytes,
            b"\x01\x00\x00\x00\x0b\x00\x00\x00\x03bye\x00\x00\x00\x00"
        );
        assert_eq!(Disconnect::decode(&bytes).unwrap(), msg);
        assert!(Disconnect::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn small_messages_layout() {
        assert_eq!(NewKeys.to_vec(), [21]);
        assert_eq!(NewKeys::decode(&[21]).unwrap(), NewKeys);
        assert!(NewKeys::decode(&[21, 0]).is_err());
        assert!(NewKeys::decode(&[]).is_err());
        let u = Unimplemented {
            sequence: 0x0102_0304,
        };
        assert_eq!(u.to_vec(), [3, 1, 2, 3, 4]);
        let d = Debug {
            always_display: true,
            message: "m",
            language: "en",
        };
        assert_eq!(d.to_vec(), b"\x04\x01\x00\x00\x00\x01m\x00\x00\x00\x02en");
        assert_eq!(Debug::decode(&d.to_vec()).unwrap(), d);
        let s = ServiceRequest {
            name: "ssh-userauth",
        };
        assert_eq!(s.to_vec(), b"\x05\x00\x00\x00\x0cssh-userauth");
        assert_eq!(ServiceRequest::decode(&s.to_vec()).unwrap(), s);
        assert!(ServiceAccept::decode(&s.to_vec()).is_err());
    }
}
