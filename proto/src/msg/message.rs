//! [`Message`]: any SSH message, decoded by its number.

use super::{
    AuthFamily, ChannelClose, ChannelData, ChannelEof, ChannelExtendedData, ChannelFailure,
    ChannelOpen, ChannelOpenConfirmation, ChannelOpenFailure, ChannelRequest, ChannelSuccess,
    ChannelWindowAdjust, Debug, Disconnect, Encode, ExtInfo, GlobalRequest, Ignore, KexFamily,
    KexInit, KexMessage, NewCompress, NewKeys, RequestFailure, RequestSuccess, ServiceAccept,
    ServiceRequest, Unimplemented, UserauthBanner, UserauthFailure, UserauthInfoRequest,
    UserauthInfoResponse, UserauthPasswdChangeReq, UserauthPkOk, UserauthRequest, UserauthSuccess,
};
use crate::{DecodeError, Result, Writer, numbers};

/// What the receiver knows about the state of the connection that decides
/// how context-dependent message numbers are read.
///
/// Numbers 30-49 belong to the key exchange method and 60-79 to the user
/// authentication method; without the matching field set they decode to
/// [`Message::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DecodeContext {
    /// The family of the key exchange in progress, if any.
    pub kex: Option<KexFamily>,
    /// The family of the authentication method in progress, if any.
    pub auth: Option<AuthFamily>,
}

/// Any SSH message, borrowing from its payload.
///
/// ```
/// use sekura_proto::msg::{ChannelData, DecodeContext, Encode, Message};
///
/// let payload = ChannelData { recipient_channel: 0, data: b"hi" }.to_vec();
/// let msg = Message::decode(&payload, &DecodeContext::default()).unwrap();
/// assert_eq!(msg, Message::ChannelData(ChannelData { recipient_channel: 0, data: b"hi" }));
/// assert_eq!(msg.number(), 94);
/// assert_eq!(msg.to_vec(), payload);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message<'a> {
    /// 1: SSH_MSG_DISCONNECT
    Disconnect(Disconnect<'a>),
    /// 2: SSH_MSG_IGNORE
    Ignore(Ignore<'a>),
    /// 3: SSH_MSG_UNIMPLEMENTED
    Unimplemented(Unimplemented),
    /// 4: SSH_MSG_DEBUG
    Debug(Debug<'a>),
    /// 5: SSH_MSG_SERVICE_REQUEST
    ServiceRequest(ServiceRequest<'a>),
    /// 6: SSH_MSG_SERVICE_ACCEPT
    ServiceAccept(ServiceAccept<'a>),
    /// 7: SSH_MSG_EXT_INFO
    ExtInfo(ExtInfo<'a>),
    /// 8: SSH_MSG_NEWCOMPRESS
    NewCompress(NewCompress),
    /// 20: SSH_MSG_KEXINIT
    KexInit(KexInit<'a>),
    /// 21: SSH_MSG_NEWKEYS
    NewKeys(NewKeys),
    /// 30-34: a key exchange method message (needs [`DecodeContext::kex`]).
    Kex(KexMessage<'a>),
    /// 50: SSH_MSG_USERAUTH_REQUEST
    UserauthRequest(UserauthRequest<'a>),
    /// 51: SSH_MSG_USERAUTH_FAILURE
    UserauthFailure(UserauthFailure<'a>),
    /// 52: SSH_MSG_USERAUTH_SUCCESS
    UserauthSuccess(UserauthSuccess),
    /// 53: SSH_MSG_USERAUTH_BANNER
    UserauthBanner(UserauthBanner<'a>),
    /// 60 with [`AuthFamily::PublicKey`]: SSH_MSG_USERAUTH_PK_OK
    UserauthPkOk(UserauthPkOk<'a>),
    /// 60 with [`AuthFamily::Password`]: SSH_MSG_USERAUTH_PASSWD_CHANGEREQ
    UserauthPasswdChangeReq(UserauthPasswdChangeReq<'a>),
    /// 60 with [`AuthFamily::KeyboardInteractive`]:
    /// SSH_MSG_USERAUTH_INFO_REQUEST
    UserauthInfoRequest(UserauthInfoRequest<'a>),
    /// 61 with [`AuthFamily::KeyboardInteractive`]:
    /// SSH_MSG_USERAUTH_INFO_RESPONSE
    UserauthInfoResponse(UserauthInfoResponse<'a>),
    /// 80: SSH_MSG_GLOBAL_REQUEST
    GlobalRequest(GlobalRequest<'a>),
    /// 81: SSH_MSG_REQUEST_SUCCESS
    RequestSuccess(RequestSuccess<'a>),
    /// 82: SSH_MSG_REQUEST_FAILURE
    RequestFailure(RequestFailure),
    /// 90: SSH_MSG_CHANNEL_OPEN
    ChannelOpen(ChannelOpen<'a>),
    /// 91: SSH_MSG_CHANNEL_OPEN_CONFIRMATION
    ChannelOpenConfirmation(ChannelOpenConfirmation<'a>),
    /// 92: SSH_MSG_CHANNEL_OPEN_FAILURE
    ChannelOpenFailure(ChannelOpenFailure<'a>),
    /// 93: SSH_MSG_CHANNEL_WINDOW_ADJUST
    ChannelWindowAdjust(ChannelWindowAdjust),
    /// 94: SSH_MSG_CHANNEL_DATA
    ChannelData(ChannelData<'a>),
    /// 95: SSH_MSG_CHANNEL_EXTENDED_DATA
    ChannelExtendedData(ChannelExtendedData<'a>),
    /// 96: SSH_MSG_CHANNEL_EOF
    ChannelEof(ChannelEof),
    /// 97: SSH_MSG_CHANNEL_CLOSE
    ChannelClose(ChannelClose),
    /// 98: SSH_MSG_CHANNEL_REQUEST
    ChannelRequest(ChannelRequest<'a>),
    /// 99: SSH_MSG_CHANNEL_SUCCESS
    ChannelSuccess(ChannelSuccess),
    /// 100: SSH_MSG_CHANNEL_FAILURE
    ChannelFailure(ChannelFailure),
    /// A number sekura does not know, or a context-dependent number (30-49,
    /// 60-79) that the [`DecodeContext`] does not say how to read. The
    /// transport answers the former with SSH_MSG_UNIMPLEMENTED.
    Unknown {
        /// The message number.
        number: u8,
        /// The payload after the message number.
        payload: &'a [u8],
    },
}

impl<'a> Message<'a> {
    /// Decodes a payload (message number included), reading numbers 30-49
    /// and 60-79 as `ctx` says.
    ///
    /// An empty payload is [`DecodeError::EmptyPayload`]; a known number with
    /// a malformed body is an error, never an `Unknown`.
    pub fn decode(payload: &'a [u8], ctx: &DecodeContext) -> Result<Self> {
        let (&number, body) = payload.split_first().ok_or(DecodeError::EmptyPayload)?;
        Ok(match number {
            numbers::DISCONNECT => Self::Disconnect(Disconnect::decode(payload)?),
            numbers::IGNORE => Self::Ignore(Ignore::decode(payload)?),
            numbers::UNIMPLEMENTED => Self::Unimplemented(Unimplemented::decode(payload)?),
            numbers::DEBUG => Self::Debug(Debug::decode(payload)?),
            numbers::SERVICE_REQUEST => Self::ServiceRequest(ServiceRequest::decode(payload)?),
            numbers::SERVICE_ACCEPT => Self::ServiceAccept(ServiceAccept::decode(payload)?),
            numbers::EXT_INFO => Self::ExtInfo(ExtInfo::decode(payload)?),
            numbers::NEWCOMPRESS => Self::NewCompress(NewCompress::decode(payload)?),
            numbers::KEXINIT => Self::KexInit(KexInit::decode(payload)?),
            numbers::NEWKEYS => Self::NewKeys(NewKeys::decode(payload)?),
            n if numbers::is_kex_method_specific(n) => match ctx.kex {
                Some(family) if family.knows(n) => Self::Kex(KexMessage::decode(payload, family)?),
                _ => Self::Unknown {
                    number,
                    payload: body,
                },
            },
            numbers::USERAUTH_REQUEST => Self::UserauthRequest(UserauthRequest::decode(payload)?),
            numbers::USERAUTH_FAILURE => Self::UserauthFailure(UserauthFailure::decode(payload)?),
            numbers::USERAUTH_SUCCESS => Self::UserauthSuccess(UserauthSuccess::decode(payload)?),
            numbers::USERAUTH_BANNER => Self::UserauthBanner(UserauthBanner::decode(payload)?),
            n if numbers::is_userauth_method_specific(n) => match ctx.auth {
                Some(family) if family.knows(n) => Self::decode_userauth(payload, family)?,
                _ => Self::Unknown {
                    number,
                    payload: body,
                },
            },
            numbers::GLOBAL_REQUEST => Self::GlobalRequest(GlobalRequest::decode(payload)?),
            numbers::REQUEST_SUCCESS => Self::RequestSuccess(RequestSuccess::decode(payload)?),
            numbers::REQUEST_FAILURE => Self::RequestFailure(RequestFailure::decode(payload)?),
            numbers::CHANNEL_OPEN => Self::ChannelOpen(ChannelOpen::decode(payload)?),
            numbers::CHANNEL_OPEN_CONFIRMATION => {
                Self::ChannelOpenConfirmation(ChannelOpenConfirmation::decode(payload)?)
            }
            numbers::CHANNEL_OPEN_FAILURE => {
                Self::ChannelOpenFailure(ChannelOpenFailure::decode(payload)?)
            }
            numbers::CHANNEL_WINDOW_ADJUST => {
                Self::ChannelWindowAdjust(ChannelWindowAdjust::decode(payload)?)
            }
            numbers::CHANNEL_DATA => Self::ChannelData(ChannelData::decode(payload)?),
            numbers::CHANNEL_EXTENDED_DATA => {
                Self::ChannelExtendedData(ChannelExtendedData::decode(payload)?)
            }
            numbers::CHANNEL_EOF => Self::ChannelEof(ChannelEof::decode(payload)?),
            numbers::CHANNEL_CLOSE => Self::ChannelClose(ChannelClose::decode(payload)?),
            numbers::CHANNEL_REQUEST => Self::ChannelRequest(ChannelRequest::decode(payload)?),
            numbers::CHANNEL_SUCCESS => Self::ChannelSuccess(ChannelSuccess::decode(payload)?),
            numbers::CHANNEL_FAILURE => Self::ChannelFailure(ChannelFailure::decode(payload)?),
            _ => Self::Unknown {
                number,
                payload: body,
            },
        })
    }

    /// Decodes 60-79 for an authentication family that knows the number.
    fn decode_userauth(payload: &'a [u8], family: AuthFamily) -> Result<Self> {
        if payload.first() == Some(&numbers::USERAUTH_INFO_RESPONSE) {
            return Ok(Self::UserauthInfoResponse(UserauthInfoResponse::decode(
                payload,
            )?));
        }
        Ok(match family {
            AuthFamily::PublicKey => Self::UserauthPkOk(UserauthPkOk::decode(payload)?),
            AuthFamily::Password => {
                Self::UserauthPasswdChangeReq(UserauthPasswdChangeReq::decode(payload)?)
            }
            AuthFamily::KeyboardInteractive => {
                Self::UserauthInfoRequest(UserauthInfoRequest::decode(payload)?)
            }
        })
    }

    /// The message number.
    #[must_use]
    pub const fn number(&self) -> u8 {
        match self {
            Self::Disconnect(_) => numbers::DISCONNECT,
            Self::Ignore(_) => numbers::IGNORE,
            Self::Unimplemented(_) => numbers::UNIMPLEMENTED,
            Self::Debug(_) => numbers::DEBUG,
            Self::ServiceRequest(_) => numbers::SERVICE_REQUEST,
            Self::ServiceAccept(_) => numbers::SERVICE_ACCEPT,
            Self::ExtInfo(_) => numbers::EXT_INFO,
            Self::NewCompress(_) => numbers::NEWCOMPRESS,
            Self::KexInit(_) => numbers::KEXINIT,
            Self::NewKeys(_) => numbers::NEWKEYS,
            Self::Kex(m) => m.number(),
            Self::UserauthRequest(_) => numbers::USERAUTH_REQUEST,
            Self::UserauthFailure(_) => numbers::USERAUTH_FAILURE,
            Self::UserauthSuccess(_) => numbers::USERAUTH_SUCCESS,
            Self::UserauthBanner(_) => numbers::USERAUTH_BANNER,
            Self::UserauthPkOk(_)
            | Self::UserauthPasswdChangeReq(_)
            | Self::UserauthInfoRequest(_) => numbers::USERAUTH_60,
            Self::UserauthInfoResponse(_) => numbers::USERAUTH_INFO_RESPONSE,
            Self::GlobalRequest(_) => numbers::GLOBAL_REQUEST,
            Self::RequestSuccess(_) => numbers::REQUEST_SUCCESS,
            Self::RequestFailure(_) => numbers::REQUEST_FAILURE,
            Self::ChannelOpen(_) => numbers::CHANNEL_OPEN,
            Self::ChannelOpenConfirmation(_) => numbers::CHANNEL_OPEN_CONFIRMATION,
            Self::ChannelOpenFailure(_) => numbers::CHANNEL_OPEN_FAILURE,
            Self::ChannelWindowAdjust(_) => numbers::CHANNEL_WINDOW_ADJUST,
            Self::ChannelData(_) => numbers::CHANNEL_DATA,
            Self::ChannelExtendedData(_) => numbers::CHANNEL_EXTENDED_DATA,
            Self::ChannelEof(_) => numbers::CHANNEL_EOF,
            Self::ChannelClose(_) => numbers::CHANNEL_CLOSE,
            Self::ChannelRequest(_) => numbers::CHANNEL_REQUEST,
            Self::ChannelSuccess(_) => numbers::CHANNEL_SUCCESS,
            Self::ChannelFailure(_) => numbers::CHANNEL_FAILURE,
            Self::Unknown { number, .. } => *number,
        }
    }
}

impl Encode for Message<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        match self {
            Self::Disconnect(m) => m.encode(w),
            Self::Ignore(m) => m.encode(w),
            Self::Unimplemented(m) => m.encode(w),
            Self::Debug(m) => m.encode(w),
            Self::ServiceRequest(m) => m.encode(w),
            Self::ServiceAccept(m) => m.encode(w),
            Self::ExtInfo(m) => m.encode(w),
            Self::NewCompress(m) => m.encode(w),
            Self::KexInit(m) => m.encode(w),
            Self::NewKeys(m) => m.encode(w),
            Self::Kex(m) => m.encode(w),
            Self::UserauthRequest(m) => m.encode(w),
            Self::UserauthFailure(m) => m.encode(w),
            Self::UserauthSuccess(m) => m.encode(w),
            Self::UserauthBanner(m) => m.encode(w),
            Self::UserauthPkOk(m) => m.encode(w),
            Self::UserauthPasswdChangeReq(m) => m.encode(w),
            Self::UserauthInfoRequest(m) => m.encode(w),
            Self::UserauthInfoResponse(m) => m.encode(w),
            Self::GlobalRequest(m) => m.encode(w),
            Self::RequestSuccess(m) => m.encode(w),
            Self::RequestFailure(m) => m.encode(w),
            Self::ChannelOpen(m) => m.encode(w),
            Self::ChannelOpenConfirmation(m) => m.encode(w),
            Self::ChannelOpenFailure(m) => m.encode(w),
            Self::ChannelWindowAdjust(m) => m.encode(w),
            Self::ChannelData(m) => m.encode(w),
            Self::ChannelExtendedData(m) => m.encode(w),
            Self::ChannelEof(m) => m.encode(w),
            Self::ChannelClose(m) => m.encode(w),
            Self::ChannelRequest(m) => m.encode(w),
            Self::ChannelSuccess(m) => m.encode(w),
            Self::ChannelFailure(m) => m.encode(w),
            Self::Unknown { number, payload } => {
                w.put_u8(*number);
                w.put_raw(payload);
            }
        }
    }
}

/// Implements `From<Struct>` for `Message`, so `m.into()` wraps a message.
macro_rules! impl_from {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(
            impl<'a> From<$ty> for Message<'a> {
                fn from(m: $ty) -> Self {
                    Self::$variant(m)
                }
            }
        )*
    };
}

impl_from!(
    Disconnect(Disconnect<'a>),
    Ignore(Ignore<'a>),
    Unimplemented(Unimplemented),
    Debug(Debug<'a>),
    ServiceRequest(ServiceRequest<'a>),
    ServiceAccept(ServiceAccept<'a>),
    ExtInfo(ExtInfo<'a>),
    NewCompress(NewCompress),
    KexInit(KexInit<'a>),
    NewKeys(NewKeys),
    Kex(KexMessage<'a>),
    UserauthRequest(UserauthRequest<'a>),
    UserauthFailure(UserauthFailure<'a>),
    UserauthSuccess(UserauthSuccess),
    UserauthBanner(UserauthBanner<'a>),
    UserauthPkOk(UserauthPkOk<'a>),
    UserauthPasswdChangeReq(UserauthPasswdChangeReq<'a>),
    UserauthInfoRequest(UserauthInfoRequest<'a>),
    UserauthInfoResponse(UserauthInfoResponse<'a>),
    GlobalRequest(GlobalRequest<'a>),
    RequestSuccess(RequestSuccess<'a>),
    RequestFailure(RequestFailure),
    ChannelOpen(ChannelOpen<'a>),
    ChannelOpenConfirmation(ChannelOpenConfirmation<'a>),
    ChannelOpenFailure(ChannelOpenFailure<'a>),
    ChannelWindowAdjust(ChannelWindowAdjust),
    ChannelData(ChannelData<'a>),
    ChannelExtendedData(ChannelExtendedData<'a>),
    ChannelEof(ChannelEof),
    ChannelClose(ChannelClose),
    ChannelRequest(ChannelRequest<'a>),
    ChannelSuccess(ChannelSuccess),
    ChannelFailure(ChannelFailure),
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const ALL_CONTEXTS: [Option<KexFamily>; 4] = [
        None,
        Some(KexFamily::Dh),
        Some(KexFamily::Ecdh),
        Some(KexFamily::GroupExchange),
    ];

    #[test]
    fn context_decides_30_to_79() {
        let none = DecodeContext::default();
        let wire = [31, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Message::decode(&wire, &none).unwrap(),
            Message::Unknown {
                number: 31,
                payload: &wire[1..]
            }
        );
        let gex = DecodeContext {
            kex: Some(KexFamily::GroupExchange),
            auth: None,
        };
        assert!(matches!(
            Message::decode(&wire, &gex).unwrap(),
            Message::Kex(KexMessage::DhGexGroup(_))
        ));
        // 32 means nothing to plain DH.
        let dh = DecodeContext {
            kex: Some(KexFamily::Dh),
            auth: None,
        };
        assert!(matches!(
            Message::decode(&[32], &dh).unwrap(),
            Message::Unknown { number: 32, .. }
        ));

        let pk_ok = [60, 0, 0, 0, 1, b'a', 0, 0, 0, 0];
        assert!(matches!(
            Message::decode(&pk_ok, &none).unwrap(),
            Message::Unknown { number: 60, .. }
        ));
        let pk = DecodeContext {
            kex: None,
            auth: Some(AuthFamily::PublicKey),
        };
        assert!(matches!(
            Message::decode(&pk_ok, &pk).unwrap(),
            Message::UserauthPkOk(_)
        ));
        let kbd = DecodeContext {
            kex: None,
            auth: Some(AuthFamily::KeyboardInteractive),
        };
        assert!(matches!(
            Message::decode(&[61, 0, 0, 0, 0], &kbd).unwrap(),
            Message::UserauthInfoResponse(_)
        ));
        assert!(matches!(
            Message::decode(&[61, 0, 0, 0, 0], &pk).unwrap(),
            Message::Unknown { number: 61, .. }
        ));
    }

    #[test]
    fn unknown_and_empty() {
        for kex in ALL_CONTEXTS {
            let ctx = DecodeContext { kex, auth: None };
            assert_eq!(Message::decode(&[], &ctx), Err(DecodeError::EmptyPayload));
            let msg = Message::decode(&[200, 1, 2], &ctx).unwrap();
            assert_eq!(
                msg,
                Message::Unknown {
                    number: 200,
                    payload: &[1, 2]
                }
            );
            assert_eq!(msg.number(), 200);
            assert_eq!(msg.to_vec(), [200, 1, 2]);
        }
        // A known number with a bad body is an error, not Unknown.
        assert!(Message::decode(&[94, 0], &DecodeContext::default()).is_err());
    }

    #[test]
    fn from_wraps() {
        let m: Message<'_> = NewKeys.into();
        assert_eq!(m.number(), 21);
        assert_eq!(m.to_vec(), [21]);
    }
}
