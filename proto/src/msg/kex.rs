//! Key exchange method messages (numbers 30-34): classic Diffie-Hellman
//! (RFC 4253 §8), elliptic curve and KEM hybrids (RFC 5656 §4, RFC 8731,
//! draft-ietf-sshm-mlkem-hybrid-kex) and group exchange (RFC 4419).
//!
//! The numbers 30-49 mean different things to different key exchange
//! methods, so these messages are decoded in the context of a [`KexFamily`].

use super::{Encode, expect_number};
use crate::{DecodeError, Mpint, Reader, Result, Writer, numbers};

/// Which reading of messages 30-49 applies: set by the negotiated key
/// exchange method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KexFamily {
    /// Finite field Diffie-Hellman with a fixed group
    /// (`diffie-hellman-group14-sha256`, ...): 30 and 31 carry mpints.
    Dh,
    /// Methods whose 30 and 31 carry strings: ECDH (`curve25519-sha256`,
    /// `ecdh-sha2-nistp256`, ...) and the KEM hybrids
    /// (`mlkem768x25519-sha256`, `sntrup761x25519-sha512`, ...).
    Ecdh,
    /// Diffie-Hellman group exchange (`diffie-hellman-group-exchange-*`):
    /// messages 30-34.
    GroupExchange,
}

impl KexFamily {
    /// Whether this family gives message number `n` a meaning.
    #[must_use]
    pub const fn knows(self, n: u8) -> bool {
        match self {
            Self::Dh | Self::Ecdh => matches!(n, numbers::KEX_30 | numbers::KEX_31),
            Self::GroupExchange => matches!(
                n,
                numbers::KEX_30
                    | numbers::KEX_31
                    | numbers::KEX_DH_GEX_INIT
                    | numbers::KEX_DH_GEX_REPLY
                    | numbers::KEX_DH_GEX_REQUEST
            ),
        }
    }
}

/// SSH_MSG_KEXDH_INIT (RFC 4253 §8): the client's public value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexDhInit<'a> {
    /// e = g^x mod p.
    pub e: Mpint<'a>,
}

impl<'a> KexDhInit<'a> {
    /// Decodes a KEXDH_INIT payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::KEX_30, "KEXDH_INIT")?;
        let msg = KexDhInit { e: r.mpint()? };
        r.finish_with("KEXDH_INIT")?;
        Ok(msg)
    }

    /// Copies borrowed fields so the message outlives its input.
    #[must_use]
    pub fn into_owned(self) -> KexDhInit<'static> {
        KexDhInit {
            e: self.e.into_owned(),
        }
    }
}

impl Encode for KexDhInit<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::KEX_30);
        w.put_mpint(&self.e);
    }
}

/// SSH_MSG_KEXDH_REPLY (RFC 4253 §8): the server's host key, public value
/// and signature of the exchange hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexDhReply<'a> {
    /// The server's public host key blob (K_S).
    pub host_key: &'a [u8],
    /// f = g^y mod p.
    pub f: Mpint<'a>,
    /// Signature of the exchange hash H, as a signature blob.
    pub signature: &'a [u8],
}

impl<'a> KexDhReply<'a> {
    /// Decodes a KEXDH_REPLY payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::KEX_31, "KEXDH_REPLY")?;
        let msg = KexDhReply {
            host_key: r.string()?,
            f: r.mpint()?,
            signature: r.string()?,
        };
        r.finish_with("KEXDH_REPLY")?;
        Ok(msg)
    }
}

impl Encode for KexDhReply<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::KEX_31);
        w.put_string(self.host_key);
        w.put_mpint(&self.f);
        w.put_string(self.signature);
    }
}

/// SSH_MSG_KEX_ECDH_INIT (RFC 5656 §4) and the KEM hybrids' INIT: the
/// client's ephemeral public key (Q_C, or the hybrid's client share).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexEcdhInit<'a> {
    /// The client's public key or share, as an octet string.
    pub client_public: &'a [u8],
}

impl<'a> KexEcdhInit<'a> {
    /// Decodes a KEX_ECDH_INIT payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::KEX_30, "KEX_ECDH_INIT")?;
        let msg = KexEcdhInit {
            client_public: r.string()?,
        };
        r.finish_with("KEX_ECDH_INIT")?;
        Ok(msg)
    }
}

impl Encode for KexEcdhInit<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::KEX_30);
        w.put_string(self.client_public);
    }
}

/// SSH_MSG_KEX_ECDH_REPLY (RFC 5656 §4) and the KEM hybrids' REPLY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexEcdhReply<'a> {
    /// The server's public host key blob (K_S).
    pub host_key: &'a [u8],
    /// The server's ephemeral public key (Q_S) or the hybrid's server share
    /// (KEM ciphertext and ECDH public key).
    pub server_public: &'a [u8],
    /// Signature of the exchange hash H, as a signature blob.
    pub signature: &'a [u8],
}

impl<'a> KexEcdhReply<'a> {
    /// Decodes a KEX_ECDH_REPLY payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::KEX_31, "KEX_ECDH_REPLY")?;
        let msg = KexEcdhReply {
            host_key: r.string()?,
            server_public: r.string()?,
            signature: r.string()?,
        };
        r.finish_with("KEX_ECDH_REPLY")?;
        Ok(msg)
    }
}

impl Encode for KexEcdhReply<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::KEX_31);
        w.put_string(self.host_key);
        w.put_string(self.server_public);
        w.put_string(self.signature);
    }
}

/// SSH_MSG_KEX_DH_GEX_REQUEST (RFC 4419 §3): the group sizes, in bits, the
/// client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KexDhGexRequest {
    /// Smallest acceptable modulus size.
    pub min: u32,
    /// Preferred modulus size.
    pub preferred: u32,
    /// Largest acceptable modulus size.
    pub max: u32,
}

impl KexDhGexRequest {
    /// Decodes a KEX_DH_GEX_REQUEST payload (message number included).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::KEX_DH_GEX_REQUEST, "KEX_DH_GEX_REQUEST")?;
        let msg = KexDhGexRequest {
            min: r.u32()?,
            preferred: r.u32()?,
            max: r.u32()?,
        };
        r.finish_with("KEX_DH_GEX_REQUEST")?;
        Ok(msg)
    }
}

impl Encode for KexDhGexRequest {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::KEX_DH_GEX_REQUEST);
        w.put_u32(self.min);
        w.put_u32(self.preferred);
        w.put_u32(self.max);
    }
}

/// SSH_MSG_KEX_DH_GEX_REQUEST_OLD (RFC 4419 §5): the obsolete request with
/// only a preferred size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KexDhGexRequestOld {
    /// Preferred modulus size, in bits.
    pub preferred: u32,
}

impl KexDhGexRequestOld {
    /// Decodes a KEX_DH_GEX_REQUEST_OLD payload (message number included).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::KEX_30, "KEX_DH_GEX_REQUEST_OLD")?;
        let msg = KexDhGexRequestOld {
            preferred: r.u32()?,
        };
        r.finish_with("KEX_DH_GEX_REQUEST_OLD")?;
        Ok(msg)
    }
}

impl Encode for KexDhGexRequestOld {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::KEX_30);
        w.put_u32(self.preferred);
    }
}

/// SSH_MSG_KEX_DH_GEX_GROUP (RFC 4419 §3): the group the server chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexDhGexGroup<'a> {
    /// The safe prime p.
    pub p: Mpint<'a>,
    /// The generator g.
    pub g: Mpint<'a>,
}

impl<'a> KexDhGexGroup<'a> {
    /// Decodes a KEX_DH_GEX_GROUP payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::KEX_31, "KEX_DH_GEX_GROUP")?;
        let msg = KexDhGexGroup {
            p: r.mpint()?,
            g: r.mpint()?,
        };
        r.finish_with("KEX_DH_GEX_GROUP")?;
        Ok(msg)
    }

    /// Copies borrowed fields so the message outlives its input (the client
    /// keeps p and g for the exchange hash).
    #[must_use]
    pub fn into_owned(self) -> KexDhGexGroup<'static> {
        KexDhGexGroup {
            p: self.p.into_owned(),
            g: self.g.into_owned(),
        }
    }
}

impl Encode for KexDhGexGroup<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::KEX_31);
        w.put_mpint(&self.p);
        w.put_mpint(&self.g);
    }
}

/// SSH_MSG_KEX_DH_GEX_INIT (RFC 4419 §3): the client's public value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexDhGexInit<'a> {
    /// e = g^x mod p.
    pub e: Mpint<'a>,
}

impl<'a> KexDhGexInit<'a> {
    /// Decodes a KEX_DH_GEX_INIT payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::KEX_DH_GEX_INIT, "KEX_DH_GEX_INIT")?;
        let msg = KexDhGexInit { e: r.mpint()? };
        r.finish_with("KEX_DH_GEX_INIT")?;
        Ok(msg)
    }

    /// Copies borrowed fields so the message outlives its input.
    #[must_use]
    pub fn into_owned(self) -> KexDhGexInit<'static> {
        KexDhGexInit {
            e: self.e.into_owned(),
        }
    }
}

impl Encode for KexDhGexInit<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::KEX_DH_GEX_INIT);
        w.put_mpint(&self.e);
    }
}

/// SSH_MSG_KEX_DH_GEX_REPLY (RFC 4419 §3): the server's host key, public
/// value and signature of the exchange hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexDhGexReply<'a> {
    /// The server's public host key blob (K_S).
    pub host_key: &'a [u8],
    /// f = g^y mod p.
    pub f: Mpint<'a>,
    /// Signature of the exchange hash H, as a signature blob.
    pub signature: &'a [u8],
}

impl<'a> KexDhGexReply<'a> {
    /// Decodes a KEX_DH_GEX_REPLY payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::KEX_DH_GEX_REPLY, "KEX_DH_GEX_REPLY")?;
        let msg = KexDhGexReply {
            host_key: r.string()?,
            f: r.mpint()?,
            signature: r.string()?,
        };
        r.finish_with("KEX_DH_GEX_REPLY")?;
        Ok(msg)
    }
}

impl Encode for KexDhGexReply<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::KEX_DH_GEX_REPLY);
        w.put_string(self.host_key);
        w.put_mpint(&self.f);
        w.put_string(self.signature);
    }
}

/// A key exchange method message (30-49), read in the context of a
/// [`KexFamily`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KexMessage<'a> {
    /// 30 in [`KexFamily::Dh`].
    DhInit(KexDhInit<'a>),
    /// 31 in [`KexFamily::Dh`].
    DhReply(KexDhReply<'a>),
    /// 30 in [`KexFamily::Ecdh`].
    EcdhInit(KexEcdhInit<'a>),
    /// 31 in [`KexFamily::Ecdh`].
    EcdhReply(KexEcdhReply<'a>),
    /// 30 in [`KexFamily::GroupExchange`].
    DhGexRequestOld(KexDhGexRequestOld),
    /// 31 in [`KexFamily::GroupExchange`].
    DhGexGroup(KexDhGexGroup<'a>),
    /// 32 in [`KexFamily::GroupExchange`].
    DhGexInit(KexDhGexInit<'a>),
    /// 33 in [`KexFamily::GroupExchange`].
    DhGexReply(KexDhGexReply<'a>),
    /// 34 in [`KexFamily::GroupExchange`].
    DhGexRequest(KexDhGexRequest),
}

impl<'a> KexMessage<'a> {
    /// Decodes a payload (message number included) as `family` reads it.
    ///
    /// A number the family gives no meaning is
    /// [`DecodeError::UnexpectedMessage`].
    pub fn decode(payload: &'a [u8], family: KexFamily) -> Result<Self> {
        let number = *payload.first().ok_or(DecodeError::EmptyPayload)?;
        Ok(match (family, number) {
            (KexFamily::Dh, numbers::KEX_30) => Self::DhInit(KexDhInit::decode(payload)?),
            (KexFamily::Dh, numbers::KEX_31) => Self::DhReply(KexDhReply::decode(payload)?),
            (KexFamily::Ecdh, numbers::KEX_30) => Self::EcdhInit(KexEcdhInit::decode(payload)?),
            (KexFamily::Ecdh, numbers::KEX_31) => Self::EcdhReply(KexEcdhReply::decode(payload)?),
            (KexFamily::GroupExchange, numbers::KEX_30) => {
                Self::DhGexRequestOld(KexDhGexRequestOld::decode(payload)?)
            }
            (KexFamily::GroupExchange, numbers::KEX_31) => {
                Self::DhGexGroup(KexDhGexGroup::decode(payload)?)
            }
            (KexFamily::GroupExchange, numbers::KEX_DH_GEX_INIT) => {
                Self::DhGexInit(KexDhGexInit::decode(payload)?)
            }
            (KexFamily::GroupExchange, numbers::KEX_DH_GEX_REPLY) => {
                Self::DhGexReply(KexDhGexReply::decode(payload)?)
            }
            (KexFamily::GroupExchange, numbers::KEX_DH_GEX_REQUEST) => {
                Self::DhGexRequest(KexDhGexRequest::decode(payload)?)
            }
            (_, found) => {
                return Err(DecodeError::UnexpectedMessage {
                    expected: "a message of the negotiated key exchange method",
                    found,
                });
            }
        })
    }

    /// The message number.
    #[must_use]
    pub const fn number(&self) -> u8 {
        match self {
            Self::DhInit(_) | Self::EcdhInit(_) | Self::DhGexRequestOld(_) => numbers::KEX_30,
            Self::DhReply(_) | Self::EcdhReply(_) | Self::DhGexGroup(_) => numbers::KEX_31,
            Self::DhGexInit(_) => numbers::KEX_DH_GEX_INIT,
            Self::DhGexReply(_) => numbers::KEX_DH_GEX_REPLY,
            Self::DhGexRequest(_) => numbers::KEX_DH_GEX_REQUEST,
        }
    }

    /// The family whose message this is.
    #[must_use]
    pub const fn family(&self) -> KexFamily {
        match self {
            Self::DhInit(_) | Self::DhReply(_) => KexFamily::Dh,
            Self::EcdhInit(_) | Self::EcdhReply(_) => KexFamily::Ecdh,
            Self::DhGexRequestOld(_)
            | Self::DhGexGroup(_)
            | Self::DhGexInit(_)
            | Self::DhGexReply(_)
            | Self::DhGexRequest(_) => KexFamily::GroupExchange,
        }
    }
}

impl Encode for KexMessage<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        match self {
            Self::DhInit(m) => m.encode(w),
            Self::DhReply(m) => m.encode(w),
            Self::EcdhInit(m) => m.encode(w),
            Self::EcdhReply(m) => m.encode(w),
            Self::DhGexRequestOld(m) => m.encode(w),
            Self::DhGexGroup(m) => m.encode(w),
            Self::DhGexInit(m) => m.encode(w),
            Self::DhGexReply(m) => m.encode(w),
            Self::DhGexRequest(m) => m.encode(w),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn same_number_three_readings() {
        // 30 with a 4-byte body: a uint32 for group exchange, an empty-ish
        // string or mpint header for the others.
        let wire = b"\x1e\x00\x00\x00\x00";
        assert_eq!(
            KexMessage::decode(wire, KexFamily::Dh).unwrap(),
            KexMessage::DhInit(KexDhInit {
                e: Mpint::from_wire(b"")
            })
        );
        assert_eq!(
            KexMessage::decode(wire, KexFamily::Ecdh).unwrap(),
            KexMessage::EcdhInit(KexEcdhInit { client_public: b"" })
        );
        assert_eq!(
            KexMessage::decode(wire, KexFamily::GroupExchange).unwrap(),
            KexMessage::DhGexRequestOld(KexDhGexRequestOld { preferred: 0 })
        );
        assert!(KexMessage::decode(b"\x22", KexFamily::Dh).is_err());
        assert!(KexMessage::decode(b"", KexFamily::Dh).is_err());
    }

    #[test]
    fn ecdh_reply_layout() {
        let msg = KexEcdhReply {
            host_key: b"K",
            server_public: b"QS",
            signature: b"sig",
        };
        assert_eq!(
            msg.to_vec(),
            b"\x1f\x00\x00\x00\x01K\x00\x00\x00\x02QS\x00\x00\x00\x03sig"
        );
        assert_eq!(KexEcdhReply::decode(&msg.to_vec()).unwrap(), msg);
    }

    #[test]
    fn gex_request_layout() {
        let msg = KexDhGexRequest {
            min: 2048,
            preferred: 4096,
            max: 8192,
        };
        assert_eq!(msg.to_vec(), [34, 0, 0, 8, 0, 0, 0, 16, 0, 0, 0, 32, 0]);
        let bytes = msg.to_vec();
        let back = KexMessage::decode(&bytes, KexFamily::GroupExchange).unwrap();
        assert_eq!(back, KexMessage::DhGexRequest(msg));
        assert_eq!(back.number(), 34);
        assert_eq!(back.family(), KexFamily::GroupExchange);
    }
}
