//! The client's authentication plan: credentials tried in order, as
//! [`Connection::authenticate`](crate::Connection::authenticate) describes.

use super::client::{Attempt, Credential};
use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

/// Credentials still to try for one user.
pub(crate) struct Plan {
    user: String,
    /// Ask with `none` first, to learn the methods.
    probe: bool,
    /// In the caller's order; `None` once tried.
    credentials: Vec<Option<Credential>>,
    /// Waiting for the application (a password change it must answer).
    paused: bool,
}

impl Plan {
    pub(crate) fn new(user: &str, credentials: Vec<Credential>, probe: bool) -> Self {
        Plan {
            user: String::from(user),
            probe,
            credentials: credentials.into_iter().map(Some).collect(),
            paused: false,
        }
    }

    pub(crate) fn pause(&mut self) {
        self.paused = true;
    }

    pub(crate) fn resume(&mut self) {
        self.paused = false;
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    /// The next request: the first credential not yet tried whose method
    /// the server lists in `methods` (any, before the server said). `None`
    /// when no such credential is left.
    ///
    /// Credentials skipped because their method was not listed stay: a
    /// partial success may make their method acceptable later.
    pub(crate) fn next_attempt(&mut self, methods: Option<&[String]>) -> Option<Attempt> {
        if self.probe {
            self.probe = false;
            return Some(Attempt::None {
                user: self.user.clone(),
            });
        }
        let allowed = |method: &str| methods.is_none_or(|list| list.iter().any(|m| m == method));
        let slot = self
            .credentials
            .iter_mut()
            .find(|c| c.as_ref().is_some_and(|c| allowed(c.method())))?;
        let user = self.user.clone();
        Some(match slot.take()? {
            Credential::Password(password) => Attempt::Password {
                user,
                password,
                new_password: None,
            },
            Credential::PublicKey(key) => Attempt::PublicKey { user, key },
            Credential::KeyboardInteractive(mut answers) => {
                let answers = if answers.is_empty() {
                    None
                } else {
                    Some(Zeroizing::new(core::mem::take(&mut *answers)))
                };
                Attempt::KeyboardInteractive {
                    user,
                    submethods: String::new(),
                    answers,
                }
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::vec;

    fn method(attempt: &Attempt) -> &'static str {
        match attempt {
            Attempt::None { .. } => "none",
            Attempt::Password { .. } => "password",
            Attempt::PublicKey { .. } => "publickey",
            Attempt::KeyboardInteractive { .. } => "keyboard-interactive",
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| String::from(*s)).collect()
    }

    #[test]
    fn probes_then_skips_unlisted_methods_and_keeps_them() {
        let mut plan = Plan::new(
            "robey",
            vec![
                Credential::password("foo"),
                Credential::keyboard_interactive(vec!["1234"]),
            ],
            true,
        );
        assert_eq!(method(&plan.next_attempt(None).unwrap()), "none");
        // The server offers only keyboard-interactive: the password waits.
        let kbd = names(&["keyboard-interactive"]);
        let attempt = plan.next_attempt(Some(&kbd)).unwrap();
        assert_eq!(method(&attempt), "keyboard-interactive");
        let Attempt::KeyboardInteractive { answers, .. } = attempt else {
            unreachable!()
        };
        assert_eq!(answers.unwrap()[0], "1234");
        assert!(plan.next_attempt(Some(&kbd)).is_none());
        // After a partial success the password becomes acceptable.
        let attempt = plan.next_attempt(Some(&names(&["password"]))).unwrap();
        let Attempt::Password { password, .. } = attempt else {
            unreachable!()
        };
        assert_eq!(password.as_str(), "foo");
        assert!(plan.next_attempt(None).is_none());
    }

    #[test]
    fn empty_answers_ask_the_application() {
        let empty: Vec<String> = Vec::new();
        let mut plan = Plan::new("u", vec![Credential::keyboard_interactive(empty)], false);
        let Some(Attempt::KeyboardInteractive { answers, .. }) = plan.next_attempt(None) else {
            panic!("expected keyboard-interactive");
        };
        assert!(answers.is_none());
        assert!(!plan.is_paused());
        plan.pause();
        assert!(plan.is_paused());
        plan.resume();
        assert!(!plan.is_paused());
    }
}
