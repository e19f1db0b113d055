//! The server side of user authentication: requests become events, the
//! application's decisions become replies, and the core enforces what must
//! not depend on the application (signatures, attempt limit, failure delay,
//! login grace time).

use super::{AuthEvent, SERVICE_CONNECTION, publickey_signed_data};
use crate::connection::Connection;
use crate::error::Error;
use crate::event::Event;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;
use sekura_algorithms::Role;
use sekura_algorithms::sig::key_type_of;
use sekura_proto::NameList;
use sekura_proto::msg::names::auth_method;
use sekura_proto::msg::{
    AuthMethod, Prompt, UserauthBanner, UserauthFailure, UserauthInfoRequest, UserauthInfoResponse,
    UserauthPasswdChangeReq, UserauthPkOk, UserauthRequest, UserauthSuccess,
};
use sekura_proto::numbers;
use zeroize::Zeroizing;

/// Authentication messages a client may send ahead (RFC 4252 §5 lets it
/// send requests without waiting); more is a flood.
const MAX_QUEUED: usize = 8;

/// The methods named in a FAILURE the core sends on its own (a bad
/// signature, `hostbased`, ...) before the application has named any.
const DEFAULT_METHODS: &[&str] = &[
    auth_method::PUBLICKEY,
    auth_method::PASSWORD,
    auth_method::KEYBOARD_INTERACTIVE,
];

/// A client's authentication request, for the application to decide
/// ([`AuthEvent::Request`]).
#[derive(Debug)]
pub struct AuthRequest {
    /// The user name (UTF-8, as the client sent it: it may name no
    /// account).
    pub user: String,
    /// What the user offers.
    pub method: RequestMethod,
}

/// The method of an [`AuthRequest`] and what it carries.
///
/// `hostbased` and unknown methods never reach the application: they are
/// refused directly.
#[non_exhaustive]
pub enum RequestMethod {
    /// `none`: accept to let the user in with no proof (rarely wise);
    /// reject to list the methods. A rejected `none` is not counted as a
    /// failed attempt and its FAILURE is not delayed.
    None,
    /// `password` (RFC 4252 §8). Wiped from memory when dropped.
    Password {
        /// The password (the old one when changing it).
        password: Zeroizing<String>,
        /// The new password, when the client answers a change request.
        new_password: Option<Zeroizing<String>>,
    },
    /// `publickey` (RFC 4252 §7): is this key allowed for this user?
    PublicKey {
        /// The signature algorithm, e.g. `rsa-sha2-256`: one of the
        /// connection's enabled host key algorithms, matching the key's
        /// type.
        algorithm: String,
        /// The public key blob, as an `authorized_keys` line holds it.
        key: Vec<u8>,
        /// `false`: a query; accepting it sends PK_OK and the client then
        /// signs. `true`: the signature has already been verified; accepting
        /// it authenticates the user.
        signed: bool,
    },
    /// `keyboard-interactive` starts (RFC 4256 §3.1): answer with
    /// [`AuthDecision::Challenge`] to ask questions.
    KeyboardInteractive {
        /// The client's submethods hint (usually empty).
        submethods: String,
    },
    /// The answers to the latest [`AuthDecision::Challenge`], one per
    /// prompt (the core checked the count). Wiped from memory when dropped.
    InfoResponse {
        /// The answers, in prompt order.
        responses: Zeroizing<Vec<String>>,
    },
}

impl RequestMethod {
    /// The method name on the wire (`keyboard-interactive` for answers).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            RequestMethod::None => auth_method::NONE,
            RequestMethod::Password { .. } => auth_method::PASSWORD,
            RequestMethod::PublicKey { .. } => auth_method::PUBLICKEY,
            RequestMethod::KeyboardInteractive { .. } | RequestMethod::InfoResponse { .. } => {
                auth_method::KEYBOARD_INTERACTIVE
            }
        }
    }
}

impl core::fmt::Debug for RequestMethod {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the secrets.
        match self {
            RequestMethod::None => f.write_str("None"),
            RequestMethod::Password { new_password, .. } => f
                .debug_struct("Password")
                .field("changing", &new_password.is_some())
                .finish_non_exhaustive(),
            RequestMethod::PublicKey {
                algorithm,
                key,
                signed,
            } => f
                .debug_struct("PublicKey")
                .field("algorithm", algorithm)
                .field("key", &sekura_algorithms::sig::fingerprint_sha256(key))
                .field("signed", signed)
                .finish(),
            RequestMethod::KeyboardInteractive { submethods } => f
                .debug_struct("KeyboardInteractive")
                .field("submethods", submethods)
                .finish(),
            RequestMethod::InfoResponse { responses } => f
                .debug_struct("InfoResponse")
                .field("count", &responses.len())
                .finish_non_exhaustive(),
        }
    }
}

/// The application's answer to an [`AuthRequest`], given with
/// [`Connection::auth_reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthDecision {
    /// The user is in (USERAUTH_SUCCESS); for an unsigned publickey query:
    /// this key would do (USERAUTH_PK_OK).
    Accept,
    /// Refused (USERAUTH_FAILURE). Counts as a failed attempt (but for
    /// `none`); the reply waits for the failure delay. Give the same list
    /// whether the user exists or not.
    Reject {
        /// The methods that may productively continue.
        methods_that_can_continue: Vec<String>,
    },
    /// This method passed, but more are required (USERAUTH_FAILURE with
    /// partial success). Not for a publickey query.
    PartialSuccess {
        /// The methods that may continue.
        methods: Vec<String>,
    },
    /// Password requests only: the password is right but must be changed
    /// (USERAUTH_PASSWD_CHANGEREQ); the client answers with a new request.
    ChangePassword {
        /// The prompt for the user.
        prompt: String,
    },
    /// Keyboard-interactive only: ask questions (USERAUTH_INFO_REQUEST);
    /// the answers come back as [`RequestMethod::InfoResponse`]. Any number
    /// of rounds may follow one another.
    Challenge {
        /// A title (may be empty).
        name: String,
        /// Instructions (may be empty).
        instruction: String,
        /// The questions: (text, whether the answer may be echoed).
        prompts: Vec<(String, bool)>,
    },
}

/// What the pending request was, for the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PendingKind {
    None,
    Password,
    PublicKeyQuery { algorithm: String, key: Vec<u8> },
    PublicKeySigned,
    KeyboardInteractive,
    InfoResponse,
}

/// A request waiting for the application's decision.
#[derive(Debug)]
struct Pending {
    user: String,
    kind: PendingKind,
    /// When it arrived: the failure delay counts from here.
    arrived: Duration,
}

/// A reply held back until the failure delay has passed.
#[derive(Debug)]
struct Held {
    at: Duration,
    action: HeldAction,
}

#[derive(Debug)]
enum HeldAction {
    Failure(Vec<String>),
    /// The attempt limit was passed: DISCONNECT instead of FAILURE.
    Disconnect,
}

/// A keyboard-interactive exchange waiting for INFO_RESPONSE.
#[derive(Debug)]
struct KbdExchange {
    user: String,
    prompts: usize,
}

/// The server's side of authentication.
#[derive(Default)]
pub(crate) struct ServerAuth {
    /// The client started `ssh-userauth`.
    pub(crate) started: bool,
    banner_sent: bool,
    /// Failed attempts so far (`none` excluded).
    failures: u32,
    /// Messages (50, 61) waiting their turn, with their arrival time.
    inbox: VecDeque<(Duration, Zeroizing<Vec<u8>>)>,
    pending: Option<Pending>,
    held: Option<Held>,
    kbd: Option<KbdExchange>,
    /// The methods the application named last; [`DEFAULT_METHODS`] before.
    methods: Option<Vec<String>>,
}

impl ServerAuth {
    /// When a held reply is due.
    pub(crate) fn held_until(&self) -> Option<Duration> {
        self.held.as_ref().map(|h| h.at)
    }

    fn methods(&self) -> Vec<String> {
        match &self.methods {
            Some(methods) => methods.clone(),
            None => DEFAULT_METHODS.iter().map(|m| String::from(*m)).collect(),
        }
    }
}

impl Connection {
    /// Server: answers the latest [`AuthEvent::Request`].
    ///
    /// Fails (leaving the request waiting) when no request waits, when the
    /// decision does not fit the request (a challenge to a password, a
    /// partial success for a publickey query, ...) or when a method name
    /// is not a valid SSH name.
    pub fn auth_reply(&mut self, decision: AuthDecision) -> Result<(), Error> {
        self.check_open()?;
        if self.role != Role::Server {
            return Err(Error::protocol("auth_reply on a client"));
        }
        let Some(pending) = self.auth.server.pending.take() else {
            return Err(Error::protocol(
                "no authentication request awaits a decision",
            ));
        };
        if let Err(why) = check_decision(&decision, &pending.kind) {
            self.auth.server.pending = Some(pending);
            return Err(Error::protocol(why));
        }
        let result = self
            .server_decide(pending, decision)
            .and_then(|()| self.server_pump());
        result.map_err(|e| self.fail(e))
    }

    /// Handles USERAUTH_* messages from the client.
    pub(crate) fn server_on_message(&mut self, number: u8, payload: &[u8]) -> Result<(), Error> {
        if !self.auth.server.started {
            return Err(Error::protocol(alloc::format!(
                "authentication message {number} before the ssh-userauth service started"
            )));
        }
        if number != numbers::USERAUTH_REQUEST && number != numbers::USERAUTH_INFO_RESPONSE {
            return Err(Error::protocol(alloc::format!(
                "message {number} goes from server to client"
            )));
        }
        if self.auth.authenticated {
            // RFC 4252 §5.1: requests after success are ignored.
            tracing::debug!(number, "authentication message after success ignored");
            return Ok(());
        }
        if self.auth.server.inbox.len() >= MAX_QUEUED {
            return Err(Error::protocol(
                "too many authentication requests sent ahead",
            ));
        }
        self.auth
            .server
            .inbox
            .push_back((self.now, Zeroizing::new(payload.to_vec())));
        self.server_pump()
    }

    /// Takes the next message when nothing is waiting (the application, or
    /// a held reply).
    pub(crate) fn server_pump(&mut self) -> Result<(), Error> {
        loop {
            let server = &self.auth.server;
            if self.auth.authenticated || server.pending.is_some() || server.held.is_some() {
                return Ok(());
            }
            if self.is_closed() {
                return Ok(());
            }
            let Some((arrived, payload)) = self.auth.server.inbox.pop_front() else {
                return Ok(());
            };
            if !self.auth.server.banner_sent {
                self.auth.server.banner_sent = true;
                let config = self.config.clone();
                if let Some(message) = &config.auth_banner {
                    self.send_after_kex(&UserauthBanner {
                        message,
                        language: "",
                    });
                }
            }
            match payload.first() {
                Some(&numbers::USERAUTH_REQUEST) => self.server_request(arrived, &payload)?,
                _ => self.server_info_response(arrived, &payload)?,
            }
        }
    }

    fn server_request(&mut self, arrived: Duration, payload: &[u8]) -> Result<(), Error> {
        let request = UserauthRequest::decode(payload)?;
        // A new request ends a keyboard-interactive exchange (RFC 4256 §3.2).
        self.auth.server.kbd = None;
        let user = request.user.to_string();
        if request.service != SERVICE_CONNECTION {
            tracing::info!(
                service = request.service,
                "authentication for an unknown service"
            );
            return self.server_refuse(arrived);
        }
        let (kind, method) = match request.method {
            AuthMethod::None => (PendingKind::None, RequestMethod::None),
            AuthMethod::Password {
                password,
                new_password,
            } => (
                PendingKind::Password,
                RequestMethod::Password {
                    password: Zeroizing::new(password.to_string()),
                    new_password: new_password.map(|p| Zeroizing::new(p.to_string())),
                },
            ),
            AuthMethod::PublicKey {
                algorithm,
                public_key,
                signature,
            } => {
                let accepted = self.config.user_key_algorithms();
                let Some(verifier) = accepted.into_iter().find(|a| a.name() == algorithm) else {
                    tracing::info!(algorithm, "publickey with an algorithm not accepted");
                    return self.server_refuse(arrived);
                };
                if key_type_of(public_key).ok() != Some(verifier.key_type()) {
                    tracing::info!(algorithm, "publickey: key type does not match");
                    return self.server_refuse(arrived);
                }
                let kind = match signature {
                    None => PendingKind::PublicKeyQuery {
                        algorithm: algorithm.to_string(),
                        key: public_key.to_vec(),
                    },
                    Some(signature) => {
                        let data = publickey_signed_data(
                            self.session_id.as_deref().unwrap_or_default(),
                            request.user,
                            request.service,
                            algorithm,
                            public_key,
                        );
                        if let Err(e) = verifier.verify(public_key, &data, signature) {
                            tracing::info!(%e, user = request.user, "publickey signature refused");
                            return self.server_refuse(arrived);
                        }
                        PendingKind::PublicKeySigned
                    }
                };
                (
                    kind,
                    RequestMethod::PublicKey {
                        algorithm: algorithm.to_string(),
                        key: public_key.to_vec(),
                        signed: signature.is_some(),
                    },
                )
            }
            AuthMethod::KeyboardInteractive { submethods, .. } => (
                PendingKind::KeyboardInteractive,
                RequestMethod::KeyboardInteractive {
                    submethods: submethods.to_string(),
                },
            ),
            AuthMethod::HostBased { .. } | AuthMethod::Other { .. } => {
                tracing::info!(
                    method = request.method.name(),
                    "unsupported authentication method"
                );
                return self.server_refuse(arrived);
            }
        };
        self.server_ask(user, arrived, kind, method);
        Ok(())
    }

    fn server_info_response(&mut self, arrived: Duration, payload: &[u8]) -> Result<(), Error> {
        let msg = UserauthInfoResponse::decode(payload)?;
        let Some(kbd) = self.auth.server.kbd.take() else {
            return Err(Error::protocol(
                "USERAUTH_INFO_RESPONSE without a USERAUTH_INFO_REQUEST",
            ));
        };
        if msg.responses.len() != kbd.prompts {
            // RFC 4256 §3.4: a count that does not match is a failure.
            return self.server_refuse(arrived);
        }
        let responses = Zeroizing::new(msg.responses.iter().map(|r| r.to_string()).collect());
        self.server_ask(
            kbd.user,
            arrived,
            PendingKind::InfoResponse,
            RequestMethod::InfoResponse { responses },
        );
        Ok(())
    }

    /// Hands a request to the application.
    fn server_ask(
        &mut self,
        user: String,
        arrived: Duration,
        kind: PendingKind,
        method: RequestMethod,
    ) {
        self.auth.server.pending = Some(Pending {
            user: user.clone(),
            kind,
            arrived,
        });
        self.events
            .push_back(Event::Auth(AuthEvent::Request(AuthRequest {
                user,
                method,
            })));
    }

    /// A failed attempt: counted, and answered once the failure delay has
    /// passed (with DISCONNECT when the attempts are used up).
    fn server_refuse(&mut self, arrived: Duration) -> Result<(), Error> {
        let server = &mut self.auth.server;
        server.failures = server.failures.saturating_add(1);
        let action = if server.failures > self.config.auth_max_attempts {
            HeldAction::Disconnect
        } else {
            HeldAction::Failure(server.methods())
        };
        server.held = Some(Held {
            at: arrived.saturating_add(self.config.auth_failure_delay),
            action,
        });
        self.server_release_held()
    }

    /// Sends the held reply once it is due.
    pub(crate) fn server_release_held(&mut self) -> Result<(), Error> {
        if self
            .auth
            .server
            .held
            .as_ref()
            .is_none_or(|held| self.now < held.at)
        {
            return Ok(());
        }
        match self.auth.server.held.take().map(|held| held.action) {
            Some(HeldAction::Failure(methods)) => {
                self.server_send_failure(&methods, false);
                Ok(())
            }
            Some(HeldAction::Disconnect) => Err(self.too_many_failures()),
            None => Ok(()),
        }
    }

    fn server_send_failure(&mut self, methods: &[String], partial_success: bool) {
        let methods = NameList::from_names(methods).unwrap_or_else(|_| NameList::empty());
        self.send_after_kex(&UserauthFailure {
            methods,
            partial_success,
        });
    }

    /// Ends the connection with NO_MORE_AUTH_METHODS_AVAILABLE.
    fn too_many_failures(&mut self) -> Error {
        tracing::info!(
            failures = self.auth.server.failures,
            "too many authentication failures"
        );
        self.fail(Error::AuthFailed(
            "too many authentication failures".to_string(),
        ))
    }

    fn server_decide(&mut self, pending: Pending, decision: AuthDecision) -> Result<(), Error> {
        let Pending {
            user,
            kind,
            arrived,
        } = pending;
        match decision {
            AuthDecision::Accept => match kind {
                PendingKind::PublicKeyQuery { algorithm, key } => {
                    self.send_after_kex(&UserauthPkOk {
                        algorithm: &algorithm,
                        public_key: &key,
                    });
                }
                _ => self.server_success(user),
            },
            AuthDecision::Reject {
                methods_that_can_continue,
            } => {
                self.auth.server.methods = Some(methods_that_can_continue.clone());
                if kind == PendingKind::None {
                    // Not an attempt (OpenSSH neither counts nor delays it).
                    self.server_send_failure(&methods_that_can_continue, false);
                } else {
                    return self.server_refuse(arrived);
                }
            }
            AuthDecision::PartialSuccess { methods } => {
                self.server_send_failure(&methods, true);
                self.auth.server.methods = Some(methods);
            }
            AuthDecision::ChangePassword { prompt } => {
                self.send_after_kex(&UserauthPasswdChangeReq {
                    prompt: &prompt,
                    language: "",
                });
            }
            AuthDecision::Challenge {
                name,
                instruction,
                prompts,
            } => {
                self.send_after_kex(&UserauthInfoRequest {
                    name: &name,
                    instruction: &instruction,
                    language: "",
                    prompts: prompts
                        .iter()
                        .map(|(prompt, echo)| Prompt {
                            prompt,
                            echo: *echo,
                        })
                        .collect(),
                });
                self.auth.server.kbd = Some(KbdExchange {
                    user,
                    prompts: prompts.len(),
                });
            }
        }
        Ok(())
    }

    fn server_success(&mut self, user: String) {
        self.send_after_kex(&UserauthSuccess);
        tracing::info!(user, "authenticated");
        let server = &mut self.auth.server;
        server.inbox.clear();
        server.kbd = None;
        server.held = None;
        self.auth.authenticated = true;
        self.auth.user = Some(user);
        self.events.push_back(Event::Auth(AuthEvent::Success));
        // zlib@openssh.com: compression starts after USERAUTH_SUCCESS.
        self.start_delayed_compression();
        // A rekey held back during authentication may start now.
        if let Err(e) = self.maybe_rekey() {
            self.fail(e);
        }
    }
}

/// Whether `decision` can answer a request of `kind`.
fn check_decision(decision: &AuthDecision, kind: &PendingKind) -> Result<(), String> {
    let fits = match decision {
        AuthDecision::Accept => true,
        AuthDecision::Reject {
            methods_that_can_continue: methods,
        }
        | AuthDecision::PartialSuccess { methods } => {
            NameList::from_names(methods)
                .map_err(|e| alloc::format!("bad method name in {decision:?}: {e}"))?;
            !matches!(
                (decision, kind),
                (
                    AuthDecision::PartialSuccess { .. },
                    PendingKind::PublicKeyQuery { .. }
                )
            )
        }
        AuthDecision::ChangePassword { .. } => *kind == PendingKind::Password,
        AuthDecision::Challenge { .. } => matches!(
            kind,
            PendingKind::KeyboardInteractive | PendingKind::InfoResponse
        ),
    };
    if fits {
        Ok(())
    } else {
        Err(alloc::format!(
            "{decision:?} does not answer a {kind:?} request"
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn decisions_must_fit_the_request() {
        let reject = AuthDecision::Reject {
            methods_that_can_continue: vec!["password".into()],
        };
        let challenge = AuthDecision::Challenge {
            name: String::new(),
            instruction: String::new(),
            prompts: vec![],
        };
        let change = AuthDecision::ChangePassword {
            prompt: "new".into(),
        };
        let partial = AuthDecision::PartialSuccess {
            methods: vec!["password".into()],
        };
        let query = PendingKind::PublicKeyQuery {
            algorithm: "ssh-ed25519".into(),
            key: vec![],
        };
        assert!(check_decision(&reject, &PendingKind::Password).is_ok());
        assert!(check_decision(&challenge, &PendingKind::Password).is_err());
        assert!(check_decision(&challenge, &PendingKind::InfoResponse).is_ok());
        assert!(check_decision(&change, &PendingKind::Password).is_ok());
        assert!(check_decision(&change, &PendingKind::KeyboardInteractive).is_err());
        assert!(check_decision(&partial, &query).is_err());
        assert!(check_decision(&partial, &PendingKind::PublicKeySigned).is_ok());
        let bad = AuthDecision::Reject {
            methods_that_can_continue: vec!["pass,word".into()],
        };
        assert!(check_decision(&bad, &PendingKind::Password).is_err());
    }

    #[test]
    fn request_debug_hides_secrets() {
        let method = RequestMethod::Password {
            password: Zeroizing::new("hunter2".into()),
            new_password: Some(Zeroizing::new("hunter3".into())),
        };
        let text = alloc::format!("{method:?}");
        assert!(!text.contains("hunter"), "{text}");
        assert_eq!(method.name(), "password");
        let answers = RequestMethod::InfoResponse {
            responses: Zeroizing::new(vec!["123456".into()]),
        };
        assert!(!alloc::format!("{answers:?}").contains("123456"));
    }
}
