//! The client side of user authentication: requests, their answers, and
//! the choice of a signature algorithm for a user key.

use super::plan::Plan;
use super::{AuthEvent, InfoRequest, SERVICE_CONNECTION, publickey_signed_data};
use crate::connection::Connection;
use crate::error::Error;
use crate::event::Event;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use sekura_algorithms::{Role, SigningKey};
use sekura_proto::msg::names::auth_method;
use sekura_proto::msg::{
    AuthMethod, UserauthBanner, UserauthFailure, UserauthInfoRequest, UserauthInfoResponse,
    UserauthPasswdChangeReq, UserauthPkOk, UserauthRequest, UserauthSuccess,
};
use sekura_proto::numbers;
use zeroize::Zeroizing;

/// One way to prove who the user is, for
/// [`Connection::authenticate`].
#[non_exhaustive]
pub enum Credential {
    /// `password` (RFC 4252 §8). Wiped from memory when dropped.
    Password(Zeroizing<String>),
    /// `publickey` (RFC 4252 §7): the key is offered first, and signs only
    /// if the server would accept it.
    PublicKey(Arc<dyn SigningKey>),
    /// `keyboard-interactive` (RFC 4256). The answers given here are used
    /// in order, one per prompt, across rounds (e.g. a password, then a
    /// one-time code); when they run out, or when none are given, the
    /// questions go to the application as [`AuthEvent::InfoRequest`].
    /// Wiped from memory when dropped.
    KeyboardInteractive(Zeroizing<Vec<String>>),
}

impl Credential {
    /// A password credential.
    #[must_use]
    pub fn password(password: impl Into<String>) -> Self {
        Credential::Password(Zeroizing::new(password.into()))
    }

    /// A keyboard-interactive credential answering with `answers` (none:
    /// the application answers every question).
    #[must_use]
    pub fn keyboard_interactive<I, S>(answers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Credential::KeyboardInteractive(Zeroizing::new(
            answers.into_iter().map(Into::into).collect(),
        ))
    }

    /// The method name this credential authenticates with.
    #[must_use]
    pub fn method(&self) -> &'static str {
        match self {
            Credential::Password(_) => auth_method::PASSWORD,
            Credential::PublicKey(_) => auth_method::PUBLICKEY,
            Credential::KeyboardInteractive(_) => auth_method::KEYBOARD_INTERACTIVE,
        }
    }
}

impl core::fmt::Debug for Credential {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the secrets.
        match self {
            Credential::Password(_) => f.write_str("Password(..)"),
            Credential::PublicKey(key) => f
                .debug_tuple("PublicKey")
                .field(&sekura_algorithms::sig::fingerprint_sha256(
                    &key.public_key_blob(),
                ))
                .finish(),
            Credential::KeyboardInteractive(answers) => {
                write!(f, "KeyboardInteractive({} answers)", answers.len())
            }
        }
    }
}

/// A request to make.
pub(crate) enum Attempt {
    None {
        user: String,
    },
    Password {
        user: String,
        password: Zeroizing<String>,
        new_password: Option<Zeroizing<String>>,
    },
    PublicKey {
        user: String,
        key: Arc<dyn SigningKey>,
    },
    KeyboardInteractive {
        user: String,
        submethods: String,
        /// Canned answers, used in order; `None`: ask the application.
        answers: Option<Zeroizing<Vec<String>>>,
    },
}

/// The request the server is answering.
enum InFlight {
    None {
        user: String,
    },
    Password {
        user: String,
    },
    /// The key was offered without a signature; PK_OK means sign.
    PublicKeyQuery {
        user: String,
        key: Arc<dyn SigningKey>,
        algorithm: String,
    },
    PublicKeySigned {
        user: String,
    },
    KeyboardInteractive {
        user: String,
        answers: Option<Zeroizing<Vec<String>>>,
        /// The application owes answers to this many prompts.
        awaiting: Option<usize>,
    },
}

impl InFlight {
    fn user(&self) -> &str {
        match self {
            InFlight::None { user }
            | InFlight::Password { user }
            | InFlight::PublicKeyQuery { user, .. }
            | InFlight::PublicKeySigned { user }
            | InFlight::KeyboardInteractive { user, .. } => user,
        }
    }
}

/// The client's side of authentication.
#[derive(Default)]
pub(crate) struct ClientAuth {
    /// The server accepted `ssh-userauth`: requests may go out.
    pub(crate) accepted: bool,
    /// Requests the application asked for, waiting their turn.
    queue: VecDeque<Attempt>,
    in_flight: Option<InFlight>,
    plan: Option<Plan>,
    /// The methods of the server's latest FAILURE.
    methods: Option<Vec<String>>,
}

/// Picks the signature algorithm for a user key.
///
/// * RSA keys (`ssh-rsa`): `rsa-sha2-512`, then `rsa-sha2-256`, then
///   (only with `allow_sha1`) `ssh-rsa`, the first of those the server
///   lists in `server-sig-algs` (RFC 8332 §3.2, RFC 8308). A server that
///   sent no `server-sig-algs` gets `rsa-sha2-512`, or `ssh-rsa` when
///   `allow_sha1` is set (OpenSSH's rule: a server without the extension
///   most likely predates RFC 8332, and the caller allowed SHA-1 for such
///   servers).
/// * Other keys: the key's first algorithm the server lists, or the key's
///   first algorithm when it lists none of them (servers do not always list
///   every algorithm they accept; the request costs one round trip).
///
/// `None` when no algorithm qualifies.
pub(crate) fn choose_signature_algorithm(
    key_type: &str,
    key_algorithms: &[&str],
    server_sig_algs: Option<&[String]>,
    allow_sha1: bool,
) -> Option<String> {
    let supports = |name: &str| key_algorithms.contains(&name);
    let listed = |name: &str| server_sig_algs.is_some_and(|list| list.iter().any(|a| a == name));
    if key_type == "ssh-rsa" {
        let mut candidates: Vec<&str> = alloc::vec!["rsa-sha2-512", "rsa-sha2-256"];
        if allow_sha1 {
            candidates.push("ssh-rsa");
        }
        let chosen = match server_sig_algs {
            Some(_) => candidates.into_iter().find(|&c| supports(c) && listed(c)),
            None if allow_sha1 => Some("ssh-rsa").filter(|&c| supports(c)),
            None => Some("rsa-sha2-512").filter(|&c| supports(c)),
        };
        return chosen.map(String::from);
    }
    key_algorithms
        .iter()
        .find(|&&a| listed(a))
        .or_else(|| key_algorithms.first())
        .map(|&a| String::from(a))
}

impl Connection {
    // ----- commands -----

    /// Client: asks with method `none` (RFC 4252 §5.2): the server lists
    /// the methods it accepts in its FAILURE (or lets the user in).
    pub fn auth_none(&mut self, user: &str) -> Result<(), Error> {
        self.client_request(Attempt::None {
            user: user.to_string(),
        })
    }

    /// Client: tries a password (RFC 4252 §8). The answer is
    /// [`AuthEvent::Success`], [`AuthEvent::Failure`] or
    /// [`AuthEvent::PasswordChangeRequired`]. The copy kept for the
    /// request is wiped once sent.
    pub fn auth_password(&mut self, user: &str, password: &str) -> Result<(), Error> {
        self.client_request(Attempt::Password {
            user: user.to_string(),
            password: Zeroizing::new(password.to_string()),
            new_password: None,
        })
    }

    /// Client: changes an expired password, after
    /// [`AuthEvent::PasswordChangeRequired`] (RFC 4252 §8).
    pub fn auth_change_password(&mut self, user: &str, old: &str, new: &str) -> Result<(), Error> {
        self.client_request(Attempt::Password {
            user: user.to_string(),
            password: Zeroizing::new(old.to_string()),
            new_password: Some(Zeroizing::new(new.to_string())),
        })
    }

    /// Client: authenticates with a key (RFC 4252 §7). The key is offered
    /// first without a signature; only if the server answers PK_OK does it
    /// sign. The signature algorithm is chosen as follows: for RSA keys
    /// `rsa-sha2-512`, then `rsa-sha2-256`, then `ssh-rsa` (SHA-1, only
    /// when [`Config::allow_ssh_rsa_sha1`](crate::Config::allow_ssh_rsa_sha1)
    /// is set), the first the server lists in `server-sig-algs`; without
    /// that list, `rsa-sha2-512` (or `ssh-rsa` when SHA-1 is allowed, as a
    /// server without it is most likely older than RFC 8332). Other keys
    /// sign with their own algorithm. A key with no usable algorithm is
    /// reported as [`AuthEvent::Unusable`].
    pub fn auth_publickey(&mut self, user: &str, key: Arc<dyn SigningKey>) -> Result<(), Error> {
        self.client_request(Attempt::PublicKey {
            user: user.to_string(),
            key,
        })
    }

    /// Client: starts keyboard-interactive authentication (RFC 4256) with
    /// a submethods hint (usually empty). The server's questions come as
    /// [`AuthEvent::InfoRequest`].
    pub fn auth_keyboard_interactive(&mut self, user: &str, submethods: &str) -> Result<(), Error> {
        self.client_request(Attempt::KeyboardInteractive {
            user: user.to_string(),
            submethods: submethods.to_string(),
            answers: None,
        })
    }

    /// Client: answers the questions of the latest
    /// [`AuthEvent::InfoRequest`], one response per prompt, in order.
    pub fn auth_info_response(&mut self, responses: &[&str]) -> Result<(), Error> {
        self.check_open()?;
        let Some(InFlight::KeyboardInteractive { awaiting, .. }) = &mut self.auth.client.in_flight
        else {
            return Err(Error::protocol("no keyboard-interactive question is open"));
        };
        match *awaiting {
            Some(count) if count == responses.len() => *awaiting = None,
            Some(count) => {
                return Err(Error::protocol(alloc::format!(
                    "{count} prompts need {count} responses, not {}",
                    responses.len()
                )));
            }
            None => return Err(Error::protocol("no keyboard-interactive question is open")),
        }
        self.send_after_kex(&UserauthInfoResponse {
            responses: responses.to_vec(),
        });
        Ok(())
    }

    /// Client: authenticates as `user` with `credentials`, tried in order.
    ///
    /// Unless the server already listed its methods, it first asks with
    /// `none` (which needs no credential and is never counted as a failed
    /// attempt). Then each credential is tried once, skipping those whose
    /// method the server's latest FAILURE does not list; a partial success
    /// moves on to the next credential, so a server requiring
    /// `publickey,password` is satisfied by
    /// `[PublicKey(key), Password(..)]`. Every FAILURE is reported as it
    /// comes ([`AuthEvent::Failure`]); the plan ends with
    /// [`AuthEvent::Success`] or [`AuthEvent::Exhausted`].
    ///
    /// Keyboard-interactive questions without a canned answer, and a
    /// password change request, are the application's to answer: the plan
    /// waits for that command and continues after its result. Commands
    /// given while a plan runs go first. A new call replaces the plan.
    pub fn authenticate(&mut self, user: &str, credentials: Vec<Credential>) -> Result<(), Error> {
        self.client_check()?;
        let probe = self.auth.client.methods.is_none();
        self.auth.client.plan = Some(Plan::new(user, credentials, probe));
        self.client_pump();
        Ok(())
    }

    // ----- internals -----

    fn client_check(&self) -> Result<(), Error> {
        self.check_open()?;
        if self.role != Role::Client {
            return Err(Error::protocol("client authentication on a server"));
        }
        if self.auth.authenticated {
            return Err(Error::protocol("already authenticated"));
        }
        Ok(())
    }

    fn client_request(&mut self, attempt: Attempt) -> Result<(), Error> {
        self.client_check()?;
        self.auth.client.queue.push_back(attempt);
        if let Some(plan) = &mut self.auth.client.plan {
            // The application took over from a paused plan; the plan goes
            // on after this request's answer.
            plan.resume();
        }
        self.client_pump();
        Ok(())
    }

    /// Sends the next request when the server is ready for one.
    pub(crate) fn client_pump(&mut self) {
        loop {
            if self.is_closed() || self.auth.authenticated {
                return;
            }
            let client = &mut self.auth.client;
            if !client.accepted || client.in_flight.is_some() {
                return;
            }
            let attempt = match client.queue.pop_front() {
                Some(attempt) => attempt,
                None => {
                    let Some(plan) = &mut client.plan else {
                        return;
                    };
                    if plan.is_paused() {
                        return;
                    }
                    match plan.next_attempt(client.methods.as_deref()) {
                        Some(attempt) => attempt,
                        None => {
                            client.plan = None;
                            let methods_left = client.methods.clone().unwrap_or_default();
                            self.events
                                .push_back(Event::Auth(AuthEvent::Exhausted { methods_left }));
                            return;
                        }
                    }
                }
            };
            if let Err(reason) = self.client_start(attempt) {
                tracing::debug!(%reason, "publickey unusable");
                self.events.push_back(Event::Auth(AuthEvent::Unusable {
                    method: auth_method::PUBLICKEY.to_string(),
                    reason,
                }));
            }
        }
    }

    /// Sends one request; `Err` (with the reason) when it cannot be made.
    fn client_start(&mut self, attempt: Attempt) -> Result<(), String> {
        let service = SERVICE_CONNECTION;
        let in_flight = match attempt {
            Attempt::None { user } => {
                self.send_after_kex(&UserauthRequest {
                    user: &user,
                    service,
                    method: AuthMethod::None,
                });
                InFlight::None { user }
            }
            Attempt::Password {
                user,
                password,
                new_password,
            } => {
                self.send_after_kex(&UserauthRequest {
                    user: &user,
                    service,
                    method: AuthMethod::Password {
                        password: &password,
                        new_password: new_password.as_deref().map(String::as_str),
                    },
                });
                InFlight::Password { user }
            }
            Attempt::PublicKey { user, key } => {
                let algorithm = choose_signature_algorithm(
                    key.key_type(),
                    &key.signature_algorithms(),
                    self.server_sig_algs(),
                    self.config.allow_ssh_rsa_sha1,
                )
                .ok_or_else(|| {
                    alloc::format!(
                        "no signature algorithm for the {} key that the server accepts",
                        key.key_type()
                    )
                })?;
                let blob = key.public_key_blob();
                self.send_after_kex(&UserauthRequest {
                    user: &user,
                    service,
                    method: AuthMethod::PublicKey {
                        algorithm: &algorithm,
                        public_key: &blob,
                        signature: None,
                    },
                });
                InFlight::PublicKeyQuery {
                    user,
                    key,
                    algorithm,
                }
            }
            Attempt::KeyboardInteractive {
                user,
                submethods,
                answers,
            } => {
                self.send_after_kex(&UserauthRequest {
                    user: &user,
                    service,
                    method: AuthMethod::KeyboardInteractive {
                        language: "",
                        submethods: &submethods,
                    },
                });
                InFlight::KeyboardInteractive {
                    user,
                    answers,
                    awaiting: None,
                }
            }
        };
        self.auth.client.in_flight = Some(in_flight);
        Ok(())
    }

    /// Handles USERAUTH_* messages from the server.
    pub(crate) fn client_on_message(&mut self, number: u8, payload: &[u8]) -> Result<(), Error> {
        if !self.auth.client.accepted {
            return Err(Error::protocol(alloc::format!(
                "authentication message {number} before ssh-userauth was accepted"
            )));
        }
        if self.auth.authenticated {
            return Err(Error::protocol(alloc::format!(
                "authentication message {number} after USERAUTH_SUCCESS"
            )));
        }
        match number {
            numbers::USERAUTH_BANNER => {
                let msg = UserauthBanner::decode(payload)?;
                self.events.push_back(Event::Auth(AuthEvent::Banner {
                    message: msg.message.to_string(),
                }));
            }
            numbers::USERAUTH_FAILURE => {
                let msg = UserauthFailure::decode(payload)?;
                if self.auth.client.in_flight.take().is_none() {
                    return Err(Error::protocol("USERAUTH_FAILURE without a request"));
                }
                let methods: Vec<String> = msg.methods.iter().map(String::from).collect();
                self.auth.client.methods = Some(methods.clone());
                self.events.push_back(Event::Auth(AuthEvent::Failure {
                    methods,
                    partial_success: msg.partial_success,
                }));
                self.client_pump();
            }
            numbers::USERAUTH_SUCCESS => {
                UserauthSuccess::decode(payload)?;
                let Some(in_flight) = self.auth.client.in_flight.take() else {
                    return Err(Error::protocol("USERAUTH_SUCCESS without a request"));
                };
                let client = &mut self.auth.client;
                client.queue.clear();
                client.plan = None;
                self.auth.authenticated = true;
                self.auth.user = Some(in_flight.user().to_string());
                tracing::info!(user = in_flight.user(), "authenticated");
                self.events.push_back(Event::Auth(AuthEvent::Success));
                // zlib@openssh.com: compression starts with the next packet.
                self.start_delayed_compression();
            }
            numbers::USERAUTH_60 => self.client_on_60(payload)?,
            _ => {
                return Err(Error::protocol(alloc::format!(
                    "message {number} goes from client to server"
                )));
            }
        }
        Ok(())
    }

    /// Message 60, read as the request in flight says.
    fn client_on_60(&mut self, payload: &[u8]) -> Result<(), Error> {
        match self.auth.client.in_flight.take() {
            Some(InFlight::PublicKeyQuery {
                user,
                key,
                algorithm,
            }) => {
                let msg = UserauthPkOk::decode(payload)?;
                let blob = key.public_key_blob();
                if msg.algorithm != algorithm || msg.public_key != blob.as_slice() {
                    return Err(Error::protocol("USERAUTH_PK_OK for another key"));
                }
                let session_id = self.session_id.clone().unwrap_or_default();
                let data = publickey_signed_data(
                    &session_id,
                    &user,
                    SERVICE_CONNECTION,
                    &algorithm,
                    &blob,
                );
                match key.sign(&algorithm, &data, &mut *self.rng) {
                    Ok(signature) => {
                        self.send_after_kex(&UserauthRequest {
                            user: &user,
                            service: SERVICE_CONNECTION,
                            method: AuthMethod::PublicKey {
                                algorithm: &algorithm,
                                public_key: &blob,
                                signature: Some(&signature),
                            },
                        });
                        self.auth.client.in_flight = Some(InFlight::PublicKeySigned { user });
                    }
                    Err(e) => {
                        // The server waits for another request: go on.
                        self.events.push_back(Event::Auth(AuthEvent::Unusable {
                            method: auth_method::PUBLICKEY.to_string(),
                            reason: alloc::format!("signing failed: {e}"),
                        }));
                        self.client_pump();
                    }
                }
            }
            Some(InFlight::Password { .. }) => {
                let msg = UserauthPasswdChangeReq::decode(payload)?;
                // The request is over; the application answers with a new
                // one (the change, or another method).
                if let Some(plan) = &mut self.auth.client.plan {
                    plan.pause();
                }
                self.events
                    .push_back(Event::Auth(AuthEvent::PasswordChangeRequired {
                        prompt: msg.prompt.to_string(),
                    }));
                self.client_pump();
            }
            Some(InFlight::KeyboardInteractive {
                user,
                mut answers,
                awaiting: None,
            }) => {
                let msg = UserauthInfoRequest::decode(payload)?;
                let count = msg.prompts.len();
                let canned = answers.as_mut().filter(|a| a.len() >= count);
                if let Some(canned) = canned {
                    let given: Zeroizing<Vec<String>> =
                        Zeroizing::new(canned.drain(..count).collect());
                    self.send_after_kex(&UserauthInfoResponse {
                        responses: given.iter().map(String::as_str).collect(),
                    });
                    self.auth.client.in_flight = Some(InFlight::KeyboardInteractive {
                        user,
                        answers,
                        awaiting: None,
                    });
                } else {
                    self.events
                        .push_back(Event::Auth(AuthEvent::InfoRequest(InfoRequest {
                            name: msg.name.to_string(),
                            instruction: msg.instruction.to_string(),
                            prompts: msg
                                .prompts
                                .iter()
                                .map(|p| (p.prompt.to_string(), p.echo))
                                .collect(),
                        })));
                    self.auth.client.in_flight = Some(InFlight::KeyboardInteractive {
                        user,
                        answers,
                        awaiting: Some(count),
                    });
                }
            }
            _ => {
                return Err(Error::protocol(
                    "message 60 does not fit the request in flight",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| String::from(*s)).collect()
    }

    const RSA: &[&str] = &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

    #[test]
    fn rsa_follows_server_sig_algs() {
        let choose =
            |algs: Option<&[String]>, sha1| choose_signature_algorithm("ssh-rsa", RSA, algs, sha1);
        let both = list(&["ssh-ed25519", "rsa-sha2-256", "rsa-sha2-512"]);
        assert_eq!(choose(Some(&both), false).unwrap(), "rsa-sha2-512");
        let only256 = list(&["rsa-sha2-256", "ssh-rsa"]);
        assert_eq!(choose(Some(&only256), false).unwrap(), "rsa-sha2-256");
        let only_sha1 = list(&["ssh-ed25519", "ssh-rsa"]);
        assert_eq!(choose(Some(&only_sha1), false), None);
        assert_eq!(choose(Some(&only_sha1), true).unwrap(), "ssh-rsa");
        // No server-sig-algs: SHA-2 unless SHA-1 was allowed.
        assert_eq!(choose(None, false).unwrap(), "rsa-sha2-512");
        assert_eq!(choose(None, true).unwrap(), "ssh-rsa");
    }

    #[test]
    fn other_keys_use_their_own_algorithm() {
        let algs = list(&["rsa-sha2-256"]);
        assert_eq!(
            choose_signature_algorithm("ssh-ed25519", &["ssh-ed25519"], Some(&algs), false)
                .unwrap(),
            "ssh-ed25519"
        );
        assert_eq!(
            choose_signature_algorithm("ssh-ed25519", &["ssh-ed25519"], None, false).unwrap(),
            "ssh-ed25519"
        );
        assert_eq!(choose_signature_algorithm("x", &[], None, false), None);
    }

    #[test]
    fn credential_debug_hides_secrets() {
        let text = alloc::format!(
            "{:?} {:?}",
            Credential::password("hunter2"),
            Credential::keyboard_interactive(vec!["123456"])
        );
        assert!(
            !text.contains("hunter2") && !text.contains("123456"),
            "{text}"
        );
        assert_eq!(Credential::password("x").method(), "password");
    }
}
