//! User authentication messages (RFC 4252, and RFC 4256 for
//! keyboard-interactive).
//!
//! Message 60 means different things to different methods, and 61 belongs
//! to keyboard-interactive, so those are decoded in the context of an
//! [`AuthFamily`].

use super::{Encode, expect_number};
use crate::{NameList, Reader, Result, Writer, numbers};
use alloc::vec::Vec;

/// Which reading of messages 60-79 applies: set by the authentication
/// method in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthFamily {
    /// `publickey`: 60 is USERAUTH_PK_OK.
    PublicKey,
    /// `password`: 60 is USERAUTH_PASSWD_CHANGEREQ.
    Password,
    /// `keyboard-interactive`: 60 is USERAUTH_INFO_REQUEST, 61
    /// USERAUTH_INFO_RESPONSE.
    KeyboardInteractive,
}

impl AuthFamily {
    /// Whether this family gives message number `n` a meaning.
    #[must_use]
    pub const fn knows(self, n: u8) -> bool {
        match self {
            Self::PublicKey | Self::Password => n == numbers::USERAUTH_60,
            Self::KeyboardInteractive => {
                n == numbers::USERAUTH_60 || n == numbers::USERAUTH_INFO_RESPONSE
            }
        }
    }
}

/// Method name `none` (RFC 4252 §5.2).
pub const METHOD_NONE: &str = "none";
/// Method name `password` (RFC 4252 §8).
pub const METHOD_PASSWORD: &str = "password";
/// Method name `publickey` (RFC 4252 §7).
pub const METHOD_PUBLICKEY: &str = "publickey";
/// Method name `hostbased` (RFC 4252 §9).
pub const METHOD_HOSTBASED: &str = "hostbased";
/// Method name `keyboard-interactive` (RFC 4256 §3.1).
pub const METHOD_KEYBOARD_INTERACTIVE: &str = "keyboard-interactive";

/// The method-specific part of a USERAUTH_REQUEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod<'a> {
    /// `none`: asks which methods may continue.
    None,
    /// `password`, optionally changing it.
    Password {
        /// The (current) password.
        password: &'a str,
        /// The new password, when answering PASSWD_CHANGEREQ. On the wire,
        /// the boolean before the password says whether it is present.
        new_password: Option<&'a str>,
    },
    /// `publickey`: a query (no signature) or a signed request.
    PublicKey {
        /// Public key algorithm name, such as `rsa-sha2-256`.
        algorithm: &'a str,
        /// Public key blob.
        public_key: &'a [u8],
        /// Signature blob; `None` asks whether the key would be accepted.
        signature: Option<&'a [u8]>,
    },
    /// `hostbased`.
    HostBased {
        /// Public key algorithm name for the host key.
        algorithm: &'a str,
        /// Host key blob (and certificates).
        public_key: &'a [u8],
        /// Client host name (FQDN, US-ASCII).
        client_host: &'a str,
        /// User name on the client host (UTF-8).
        client_user: &'a str,
        /// Signature blob.
        signature: &'a [u8],
    },
    /// `keyboard-interactive` (RFC 4256 §3.1).
    KeyboardInteractive {
        /// Language tag (deprecated, usually empty).
        language: &'a str,
        /// Submethods hint, comma-separated (usually empty).
        submethods: &'a str,
    },
    /// Any other method, its fields unparsed.
    Other {
        /// Method name.
        name: &'a str,
        /// The rest of the payload after the method name.
        data: &'a [u8],
    },
}

impl<'a> AuthMethod<'a> {
    /// The method name, as on the wire.
    #[must_use]
    pub fn name(&self) -> &'a str {
        match self {
            Self::None => METHOD_NONE,
            Self::Password { .. } => METHOD_PASSWORD,
            Self::PublicKey { .. } => METHOD_PUBLICKEY,
            Self::HostBased { .. } => METHOD_HOSTBASED,
            Self::KeyboardInteractive { .. } => METHOD_KEYBOARD_INTERACTIVE,
            Self::Other { name, .. } => name,
        }
    }

    /// Reads the method-specific fields of method `name`.
    fn decode_fields(name: &'a str, r: &mut Reader<'a>) -> Result<Self> {
        Ok(match name {
            METHOD_NONE => Self::None,
            METHOD_PASSWORD => {
                let changing = r.bool()?;
                let password = r.utf8("password")?;
                let new_password = if changing {
                    Some(r.utf8("new password")?)
                } else {
                    None
                };
                Self::Password {
                    password,
                    new_password,
                }
            }
            METHOD_PUBLICKEY => {
                let signed = r.bool()?;
                let algorithm = r.utf8("public key algorithm")?;
                let public_key = r.string()?;
                let signature = if signed { Some(r.string()?) } else { None };
                Self::PublicKey {
                    algorithm,
                    public_key,
                    signature,
                }
            }
            METHOD_HOSTBASED => Self::HostBased {
                algorithm: r.utf8("public key algorithm")?,
                public_key: r.string()?,
                client_host: r.utf8("client host name")?,
                client_user: r.utf8("client user name")?,
                signature: r.string()?,
            },
            METHOD_KEYBOARD_INTERACTIVE => Self::KeyboardInteractive {
                language: r.utf8("language tag")?,
                submethods: r.utf8("submethods")?,
            },
            _ => Self::Other {
                name,
                data: r.rest(),
            },
        })
    }

    /// Writes the method-specific fields (not the name).
    fn encode_fields<W: Writer + ?Sized>(&self, w: &mut W) {
        match self {
            Self::None => {}
            Self::Password {
                password,
                new_password,
            } => {
                w.put_bool(new_password.is_some());
                w.put_str(password);
                if let Some(new) = new_password {
                    w.put_str(new);
                }
            }
            Self::PublicKey {
                algorithm,
                public_key,
                signature,
            } => {
                w.put_bool(signature.is_some());
                w.put_str(algorithm);
                w.put_string(public_key);
                if let Some(sig) = signature {
                    w.put_string(sig);
                }
            }
            Self::HostBased {
                algorithm,
                public_key,
                client_host,
                client_user,
                signature,
            } => {
                w.put_str(algorithm);
                w.put_string(public_key);
                w.put_str(client_host);
                w.put_str(client_user);
                w.put_string(signature);
            }
            Self::KeyboardInteractive {
                language,
                submethods,
            } => {
                w.put_str(language);
                w.put_str(submethods);
            }
            Self::Other { data, .. } => w.put_raw(data),
        }
    }
}

/// SSH_MSG_USERAUTH_REQUEST (RFC 4252 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthRequest<'a> {
    /// User name (UTF-8).
    pub user: &'a str,
    /// Service to start after authentication, normally `ssh-connection`.
    pub service: &'a str,
    /// The method and its fields.
    pub method: AuthMethod<'a>,
}

impl<'a> UserauthRequest<'a> {
    /// Decodes a USERAUTH_REQUEST payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::USERAUTH_REQUEST, "USERAUTH_REQUEST")?;
        let user = r.utf8("user name")?;
        let service = r.utf8("service name")?;
        let name = r.utf8("method name")?;
        let method = AuthMethod::decode_fields(name, &mut r)?;
        r.finish_with("USERAUTH_REQUEST")?;
        Ok(UserauthRequest {
            user,
            service,
            method,
        })
    }
}

impl Encode for UserauthRequest<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::USERAUTH_REQUEST);
        w.put_str(self.user);
        w.put_str(self.service);
        w.put_str(self.method.name());
        self.method.encode_fields(w);
    }
}

/// SSH_MSG_USERAUTH_FAILURE (RFC 4252 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthFailure<'a> {
    /// Methods that may productively continue.
    pub methods: NameList<'a>,
    /// Whether the request succeeded but more methods are required.
    pub partial_success: bool,
}

impl<'a> UserauthFailure<'a> {
    /// Decodes a USERAUTH_FAILURE payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::USERAUTH_FAILURE, "USERAUTH_FAILURE")?;
        let msg = UserauthFailure {
            methods: r.name_list()?,
            partial_success: r.bool()?,
        };
        r.finish_with("USERAUTH_FAILURE")?;
        Ok(msg)
    }
}

impl Encode for UserauthFailure<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::USERAUTH_FAILURE);
        w.put_name_list(&self.methods);
        w.put_bool(self.partial_success);
    }
}

/// SSH_MSG_USERAUTH_SUCCESS (RFC 4252 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserauthSuccess;

impl UserauthSuccess {
    /// Decodes a USERAUTH_SUCCESS payload (message number included).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::USERAUTH_SUCCESS, "USERAUTH_SUCCESS")?;
        r.finish_with("USERAUTH_SUCCESS")?;
        Ok(UserauthSuccess)
    }
}

impl Encode for UserauthSuccess {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::USERAUTH_SUCCESS);
    }
}

/// SSH_MSG_USERAUTH_BANNER (RFC 4252 §5.4): text to show the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthBanner<'a> {
    /// The banner (UTF-8; may contain control characters the client should
    /// filter before display).
    pub message: &'a str,
    /// Language tag, usually empty.
    pub language: &'a str,
}

impl<'a> UserauthBanner<'a> {
    /// Decodes a USERAUTH_BANNER payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::USERAUTH_BANNER, "USERAUTH_BANNER")?;
        let msg = UserauthBanner {
            message: r.utf8("banner")?,
            language: r.utf8("language tag")?,
        };
        r.finish_with("USERAUTH_BANNER")?;
        Ok(msg)
    }
}

impl Encode for UserauthBanner<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::USERAUTH_BANNER);
        w.put_str(self.message);
        w.put_str(self.language);
    }
}

/// SSH_MSG_USERAUTH_PK_OK (RFC 4252 §7): the key of a `publickey` query
/// would be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthPkOk<'a> {
    /// Public key algorithm name, as in the query.
    pub algorithm: &'a str,
    /// Public key blob, as in the query.
    pub public_key: &'a [u8],
}

impl<'a> UserauthPkOk<'a> {
    /// Decodes a USERAUTH_PK_OK payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::USERAUTH_60, "USERAUTH_PK_OK")?;
        let msg = UserauthPkOk {
            algorithm: r.utf8("public key algorithm")?,
            public_key: r.string()?,
        };
        r.finish_with("USERAUTH_PK_OK")?;
        Ok(msg)
    }
}

impl Encode for UserauthPkOk<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::USERAUTH_60);
        w.put_str(self.algorithm);
        w.put_string(self.public_key);
    }
}

/// SSH_MSG_USERAUTH_PASSWD_CHANGEREQ (RFC 4252 §8): the password has
/// expired and must be changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthPasswdChangeReq<'a> {
    /// Prompt to show the user.
    pub prompt: &'a str,
    /// Language tag, usually empty.
    pub language: &'a str,
}

impl<'a> UserauthPasswdChangeReq<'a> {
    /// Decodes a USERAUTH_PASSWD_CHANGEREQ payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::USERAUTH_60, "USERAUTH_PASSWD_CHANGEREQ")?;
        let msg = UserauthPasswdChangeReq {
            prompt: r.utf8("password change prompt")?,
            language: r.utf8("language tag")?,
        };
        r.finish_with("USERAUTH_PASSWD_CHANGEREQ")?;
        Ok(msg)
    }
}

impl Encode for UserauthPasswdChangeReq<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::USERAUTH_60);
        w.put_str(self.prompt);
        w.put_str(self.language);
    }
}

/// One prompt of a USERAUTH_INFO_REQUEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompt<'a> {
    /// Text to show.
    pub prompt: &'a str,
    /// Whether the user's answer may be echoed.
    pub echo: bool,
}

/// SSH_MSG_USERAUTH_INFO_REQUEST (RFC 4256 §3.2): questions for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserauthInfoRequest<'a> {
    /// Title of the exchange (may be empty).
    pub name: &'a str,
    /// Instructions (may be empty).
    pub instruction: &'a str,
    /// Language tag (deprecated, usually empty).
    pub language: &'a str,
    /// The questions, in order (may be none).
    pub prompts: Vec<Prompt<'a>>,
}

impl<'a> UserauthInfoRequest<'a> {
    /// Decodes a USERAUTH_INFO_REQUEST payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(&mut r, numbers::USERAUTH_60, "USERAUTH_INFO_REQUEST")?;
        let name = r.utf8("info request name")?;
        let instruction = r.utf8("info request instruction")?;
        let language = r.utf8("language tag")?;
        let count = r.u32()?;
        // The count is the peer's word: grow only as prompts are read.
        let mut prompts = Vec::new();
        for _ in 0..count {
            prompts.push(Prompt {
                prompt: r.utf8("prompt")?,
                echo: r.bool()?,
            });
        }
        r.finish_with("USERAUTH_INFO_REQUEST")?;
        Ok(UserauthInfoRequest {
            name,
            instruction,
            language,
            prompts,
        })
    }
}

impl Encode for UserauthInfoRequest<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::USERAUTH_60);
        w.put_str(self.name);
        w.put_str(self.instruction);
        w.put_str(self.language);
        w.put_u32(u32::try_from(self.prompts.len()).unwrap_or(u32::MAX));
        for p in &self.prompts {
            w.put_str(p.prompt);
            w.put_bool(p.echo);
        }
    }
}

/// SSH_MSG_USERAUTH_INFO_RESPONSE (RFC 4256 §3.4): the user's answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserauthInfoResponse<'a> {
    /// One answer per prompt, in order.
    pub responses: Vec<&'a str>,
}

impl<'a> UserauthInfoResponse<'a> {
    /// Decodes a USERAUTH_INFO_RESPONSE payload (message number included).
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        expect_number(
            &mut r,
            numbers::USERAUTH_INFO_RESPONSE,
            "USERAUTH_INFO_RESPONSE",
        )?;
        let count = r.u32()?;
        let mut responses = Vec::new();
        for _ in 0..count {
            responses.push(r.utf8("response")?);
        }
        r.finish_with("USERAUTH_INFO_RESPONSE")?;
        Ok(UserauthInfoResponse { responses })
    }
}

impl Encode for UserauthInfoResponse<'_> {
    fn encode<W: Writer + ?Sized>(&self, w: &mut W) {
        w.put_u8(numbers::USERAUTH_INFO_RESPONSE);
        w.put_u32(u32::try_from(self.responses.len()).unwrap_or(u32::MAX));
        for resp in &self.responses {
            w.put_str(resp);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn publickey_with_signature_layout() {
        // RFC 4252 §7: byte 50, string user, string service, string
        // "publickey", boolean TRUE, string algorithm, string key, string sig.
        let wire = b"\x32\
            \x00\x00\x00\x03bob\
            \x00\x00\x00\x0essh-connection\
            \x00\x00\x00\x09publickey\
            \x01\
            \x00\x00\x00\x0bssh-ed25519\
            \x00\x00\x00\x03KEY\
            \x00\x00\x00\x03SIG";
        let msg = UserauthRequest::decode(wire).unwrap();
        assert_eq!(
            msg,
            UserauthRequest {
                user: "bob",
                service: "ssh-connection",
                method: AuthMethod::PublicKey {
                    algorithm: "ssh-ed25519",
                    public_key: b"KEY",
                    signature: Some(b"SIG"),
                },
            }
        );
        assert_eq!(msg.to_vec(), wire);
        for cut in 0..wire.len() {
            assert!(UserauthRequest::decode(&wire[..cut]).is_err());
        }
    }

    #[test]
    fn password_flag_follows_new_password() {
        let change = UserauthRequest {
            user: "u",
            service: "s",
            method: AuthMethod::Password {
                password: "old",
                new_password: Some("new"),
            },
        };
        let bytes = change.to_vec();
        assert_eq!(&bytes[23..], b"\x01\x00\x00\x00\x03old\x00\x00\x00\x03new");
        assert_eq!(UserauthRequest::decode(&bytes).unwrap(), change);
    }

    #[test]
    fn unknown_method_keeps_its_fields() {
        let msg = UserauthRequest {
            user: "u",
            service: "ssh-connection",
            method: AuthMethod::Other {
                name: "gssapi-with-mic",
                data: b"\x00\x00\x00\x00",
            },
        };
        assert_eq!(UserauthRequest::decode(&msg.to_vec()).unwrap(), msg);
    }

    #[test]
    fn info_request_layout() {
        let msg = UserauthInfoRequest {
            name: "",
            instruction: "",
            language: "",
            prompts: vec![Prompt {
                prompt: "Password: ",
                echo: false,
            }],
        };
        let bytes = msg.to_vec();
        assert_eq!(
            bytes,
            b"\x3c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
              \x00\x00\x00\x01\x00\x00\x00\x0aPassword: \x00"
        );
        assert_eq!(UserauthInfoRequest::decode(&bytes).unwrap(), msg);
        // A huge count with nothing behind it is a truncation error.
        assert!(UserauthInfoResponse::decode(b"\x3d\xff\xff\xff\xff").is_err());
    }
}
