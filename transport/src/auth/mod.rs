//! User authentication (RFC 4252, and RFC 4256 for keyboard-interactive)
//! in both roles, sans I/O.
//!
//! Authentication runs inside the `ssh-userauth` service, which the client
//! requests by itself after the first key exchange. The core never blocks
//! and never calls back into the application: it reports what happens as
//! [`Event::Auth`](crate::Event::Auth) events and the application answers
//! with commands.
//!
//! # Client
//!
//! Each request is a command: [`auth_none`](Connection::auth_none),
//! [`auth_password`](Connection::auth_password),
//! [`auth_publickey`](Connection::auth_publickey),
//! [`auth_keyboard_interactive`](Connection::auth_keyboard_interactive),
//! and the answers to the server's questions,
//! [`auth_change_password`](Connection::auth_change_password) and
//! [`auth_info_response`](Connection::auth_info_response). One request is
//! in flight at a time; commands given before the server accepted
//! `ssh-userauth`, or while a request is in flight, wait their turn.
//! Every refusal is reported as [`AuthEvent::Failure`], with the methods
//! that may continue and whether the request was a partial success (the
//! server wants another method as well); the end is [`AuthEvent::Success`].
//!
//! [`authenticate`](Connection::authenticate) runs a whole plan: it tries
//! [`Credential`]s in order, skips those whose method the server does not
//! list, goes on after a partial success (as OpenSSH's
//! `AuthenticationMethods publickey,password` requires) and ends with
//! [`AuthEvent::Success`] or [`AuthEvent::Exhausted`].
//!
//! ```
//! use std::sync::Arc;
//! use sekura_algorithms::SigningKey;
//! use sekura_transport::auth::{AuthEvent, Credential};
//! use sekura_transport::{Connection, Error, Event};
//!
//! /// Starts logging in; call `on_event` with every event polled.
//! fn log_in(conn: &mut Connection, key: Arc<dyn SigningKey>) -> Result<(), Error> {
//!     conn.authenticate(
//!         "robey",
//!         vec![Credential::PublicKey(key), Credential::password("foo")],
//!     )
//! }
//!
//! fn on_event(conn: &mut Connection, event: Event) -> Result<Option<bool>, Error> {
//!     match event {
//!         Event::Auth(AuthEvent::Banner { message }) => println!("{message}"),
//!         Event::Auth(AuthEvent::InfoRequest(request)) => {
//!             // Ask the user; here every answer is "yes".
//!             let answers: Vec<&str> = request.prompts.iter().map(|_| "yes").collect();
//!             conn.auth_info_response(&answers)?;
//!         }
//!         Event::Auth(AuthEvent::Success) => return Ok(Some(true)),
//!         Event::Auth(AuthEvent::Exhausted { .. }) => return Ok(Some(false)),
//!         _ => {}
//!     }
//!     Ok(None)
//! }
//! ```
//!
//! # Server
//!
//! Every request for `ssh-connection` becomes an [`AuthEvent::Request`];
//! the application answers it with [`auth_reply`](Connection::auth_reply)
//! and an [`AuthDecision`]. The core does what must not be left to the
//! application: it verifies publickey signatures before asking (a bad
//! signature is refused without asking), refuses `hostbased` and unknown
//! methods, counts failures (more than
//! [`Config::auth_max_attempts`](crate::Config::auth_max_attempts) end the
//! connection with NO_MORE_AUTH_METHODS_AVAILABLE), holds every FAILURE
//! reply (but those to `none`) until
//! [`Config::auth_failure_delay`](crate::Config::auth_failure_delay) after
//! its request arrived, ends the connection when
//! [`Config::login_grace_time`](crate::Config::login_grace_time) has passed
//! since it started, and sends
//! [`Config::auth_banner`](crate::Config::auth_banner) once, before its
//! first reply.
//!
//! ```
//! use sekura_transport::auth::{AuthDecision, AuthEvent, RequestMethod};
//! use sekura_transport::{Connection, Error, Event};
//!
//! fn on_event(conn: &mut Connection, event: Event) -> Result<(), Error> {
//!     let Event::Auth(AuthEvent::Request(request)) = event else {
//!         return Ok(());
//!     };
//!     let methods = vec!["publickey".to_string(), "password".to_string()];
//!     let decision = match &request.method {
//!         RequestMethod::Password { password, .. }
//!             if request.user == "robey" && password.as_str() == "foo" =>
//!         {
//!             AuthDecision::Accept
//!         }
//!         _ => AuthDecision::Reject {
//!             methods_that_can_continue: methods,
//!         },
//!     };
//!     conn.auth_reply(decision)
//! }
//! ```
//!
//! The application keeps whatever state partial success needs (which
//! methods a user has passed); RFC 4252 §5 lets the user name change
//! between requests, and a server that requires several methods should
//! start over when it does.

mod client;
mod plan;
mod server;

pub use client::Credential;
pub use server::{AuthDecision, AuthRequest, RequestMethod};

use crate::connection::Connection;
use crate::error::Error;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;
use sekura_algorithms::Role;
use sekura_proto::Writer;
use sekura_proto::msg::Unimplemented;
use sekura_proto::numbers;

/// The service that user authentication starts (RFC 4252 §5).
pub(crate) const SERVICE_CONNECTION: &str = "ssh-connection";
/// The service user authentication runs in (RFC 4252 §1).
pub(crate) const SERVICE_USERAUTH: &str = "ssh-userauth";

/// What the application hears about authentication, in
/// [`Event::Auth`](crate::Event::Auth).
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthEvent {
    /// Client: text the server wants shown before authentication (RFC 4252
    /// §5.4). It comes from the peer: filter control characters before
    /// putting it on a terminal.
    Banner {
        /// The banner.
        message: String,
    },
    /// Client: the server refused a request.
    Failure {
        /// The methods that may productively continue (RFC 4252 §5.1).
        methods: Vec<String>,
        /// Whether the request itself succeeded but the server wants more
        /// methods (multi-factor authentication).
        partial_success: bool,
    },
    /// Authentication succeeded. Client: the server sent USERAUTH_SUCCESS.
    /// Server: the application accepted a request and USERAUTH_SUCCESS was
    /// sent. Further requests are ignored.
    Success,
    /// Client: the password is right but expired (USERAUTH_PASSWD_CHANGEREQ);
    /// answer with [`auth_change_password`](Connection::auth_change_password)
    /// or try another method.
    PasswordChangeRequired {
        /// The server's prompt.
        prompt: String,
    },
    /// Client: keyboard-interactive questions (USERAUTH_INFO_REQUEST, RFC
    /// 4256 §3.2); answer with
    /// [`auth_info_response`](Connection::auth_info_response), one answer
    /// per prompt (none when there are no prompts).
    InfoRequest(InfoRequest),
    /// Client: a request could not be made on this side: the key has no
    /// signature algorithm the server accepts (see
    /// [`auth_publickey`](Connection::auth_publickey)), or signing failed.
    /// Nothing was sent for it; the next request goes ahead.
    Unusable {
        /// The method, e.g. `publickey`.
        method: String,
        /// Why.
        reason: String,
    },
    /// Client: [`authenticate`](Connection::authenticate) tried every
    /// credential it could and the server still refuses.
    Exhausted {
        /// The methods the server would still accept (from its last
        /// FAILURE), none of which a remaining credential provides.
        methods_left: Vec<String>,
    },
    /// Server: a request for the application to decide with
    /// [`auth_reply`](Connection::auth_reply). Nothing else about
    /// authentication happens until it does.
    Request(AuthRequest),
}

/// Keyboard-interactive questions from the server (RFC 4256 §3.2). All
/// text comes from the peer: filter control characters before display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRequest {
    /// A title (may be empty).
    pub name: String,
    /// Instructions (may be empty).
    pub instruction: String,
    /// The questions in order: (text, whether the answer may be echoed).
    pub prompts: Vec<(String, bool)>,
}

/// The authentication state of a connection.
pub(crate) struct AuthState {
    role: Role,
    authenticated: bool,
    /// The user that authenticated.
    user: Option<String>,
    /// When the connection started: the login grace time counts from it.
    started_at: Duration,
    client: client::ClientAuth,
    server: server::ServerAuth,
}

impl core::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthState")
            .field("role", &self.role)
            .field("authenticated", &self.authenticated)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl AuthState {
    pub(crate) fn new(role: Role, now: Duration) -> Self {
        AuthState {
            role,
            authenticated: false,
            user: None,
            started_at: now,
            client: client::ClientAuth::default(),
            server: server::ServerAuth::default(),
        }
    }
}

impl Connection {
    /// Whether user authentication has succeeded.
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        self.auth.authenticated
    }

    /// The user that authenticated, once authentication has succeeded.
    #[must_use]
    pub fn authenticated_user(&self) -> Option<&str> {
        self.auth.user.as_deref()
    }

    /// Handles a message of the authentication protocol (50-79).
    pub(crate) fn on_auth_message(&mut self, sequence: u32, payload: &[u8]) -> Result<(), Error> {
        let Some(&number) = payload.first() else {
            return Err(Error::protocol("empty packet payload"));
        };
        match number {
            numbers::USERAUTH_REQUEST
            | numbers::USERAUTH_FAILURE
            | numbers::USERAUTH_SUCCESS
            | numbers::USERAUTH_BANNER
            | numbers::USERAUTH_60
            | numbers::USERAUTH_INFO_RESPONSE => match self.role {
                Role::Client => self.client_on_message(number, payload),
                Role::Server => self.server_on_message(number, payload),
            },
            // 54-59 and 62-79 mean nothing to any method we know.
            _ => {
                self.send_after_kex(&Unimplemented { sequence });
                Ok(())
            }
        }
    }

    /// Client: the server accepted a service request (`ssh-userauth`).
    pub(crate) fn auth_service_accepted(&mut self, name: &str) -> Result<(), Error> {
        if self.role == Role::Client && name == SERVICE_USERAUTH && !self.auth.client.accepted {
            self.auth.client.accepted = true;
            self.client_pump();
        }
        Ok(())
    }

    /// Server: the client started a service (`ssh-userauth`).
    pub(crate) fn auth_service_started(&mut self, name: &str) {
        if self.role == Role::Server && name == SERVICE_USERAUTH {
            self.auth.server.started = true;
        }
    }

    /// When authentication needs the time next (login grace, failure
    /// delay).
    pub(crate) fn auth_poll_timeout(&self) -> Option<Duration> {
        if self.role != Role::Server || self.is_closed() {
            return None;
        }
        let grace = if self.auth.authenticated {
            None
        } else {
            self.config
                .login_grace_time
                .map(|grace| self.auth.started_at.saturating_add(grace))
        };
        let held = self.auth.server.held_until();
        match (grace, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on the time: login grace time, delayed failure replies.
    pub(crate) fn auth_handle_timeout(&mut self) -> Result<(), Error> {
        if self.role != Role::Server || self.is_closed() {
            return Ok(());
        }
        if !self.auth.authenticated
            && self
                .config
                .login_grace_time
                .is_some_and(|grace| self.now >= self.auth.started_at.saturating_add(grace))
        {
            return Err(Error::Timeout("login grace time"));
        }
        self.server_release_held()?;
        self.server_pump()
    }
}

/// The data a publickey signature covers (RFC 4252 §7): the session
/// identifier, then the request as sent up to the signature.
pub(crate) fn publickey_signed_data(
    session_id: &[u8],
    user: &str,
    service: &str,
    algorithm: &str,
    public_key: &[u8],
) -> Vec<u8> {
    let mut data = Vec::with_capacity(
        session_id.len() + user.len() + service.len() + algorithm.len() + public_key.len() + 40,
    );
    data.put_string(session_id);
    data.put_u8(numbers::USERAUTH_REQUEST);
    data.put_str(user);
    data.put_str(service);
    data.put_str(sekura_proto::msg::names::auth_method::PUBLICKEY);
    data.put_bool(true);
    data.put_str(algorithm);
    data.put_string(public_key);
    data
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use sekura_proto::msg::{AuthMethod, Encode, UserauthRequest};

    #[test]
    fn signed_data_is_the_request_prefix_after_the_session_id() {
        // RFC 4252 §7: the signed data is string session_id followed by
        // exactly the fields of the request before the signature.
        let session_id = [9u8; 32];
        let data = publickey_signed_data(&session_id, "robey", "ssh-connection", "alg", b"KEY");
        let request = UserauthRequest {
            user: "robey",
            service: "ssh-connection",
            method: AuthMethod::PublicKey {
                algorithm: "alg",
                public_key: b"KEY",
                signature: Some(b"SIG"),
            },
        }
        .to_vec();
        assert_eq!(&data[..4], &[0, 0, 0, 32]);
        assert_eq!(&data[4..36], &session_id);
        let tail = &data[36..];
        // The request ends with string "SIG" (4 + 3 bytes).
        assert_eq!(tail, &request[..request.len() - 7]);
        assert_eq!(tail[0], numbers::USERAUTH_REQUEST);
    }
}
