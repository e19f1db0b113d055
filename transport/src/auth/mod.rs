//! User authentication (RFC 4252, RFC 4256) in both roles.

use crate::connection::Connection;
use crate::error::Error;
use core::time::Duration;
use sekura_algorithms::Role;
use sekura_proto::msg::Unimplemented;

/// What the application hears about authentication.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthEvent {}

/// The authentication state of a connection.
#[derive(Debug)]
pub(crate) struct AuthState {
    role: Role,
    authenticated: bool,
}

impl AuthState {
    pub(crate) fn new(role: Role) -> Self {
        AuthState {
            role,
            authenticated: false,
        }
    }
}

impl Connection {
    /// Whether user authentication has succeeded.
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        self.auth.authenticated
    }

    /// Handles a message of the authentication protocol (50-79).
    pub(crate) fn on_auth_message(&mut self, sequence: u32, _payload: &[u8]) -> Result<(), Error> {
        let _ = self.auth.role;
        self.send_after_kex(&Unimplemented { sequence });
        Ok(())
    }

    /// Client: the server accepted a service request (`ssh-userauth`).
    pub(crate) fn auth_service_accepted(&mut self, _name: &str) -> Result<(), Error> {
        Ok(())
    }

    /// Server: the client started a service (`ssh-userauth`).
    pub(crate) fn auth_service_started(&mut self, _name: &str) {}

    /// When authentication needs the time next (login grace, failure
    /// delay).
    pub(crate) fn auth_poll_timeout(&self) -> Option<Duration> {
        None
    }

    /// Acts on the time: login grace time, delayed failure replies.
    pub(crate) fn auth_handle_timeout(&mut self) -> Result<(), Error> {
        Ok(())
    }
}
