//! User authentication end to end, in memory: every method in both roles,
//! multi-step plans, and what the server core enforces on its own
//! (signatures, attempt limit, failure delay, login grace time).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{Direction, Pair, TestRng, plaintext_config, rewriting_tap};
use sekura_algorithms::SigningKey;
use sekura_algorithms::builtin::keys::{EcdsaCurve, PrivateKey};
use sekura_proto::msg::{AuthMethod, Encode, UserauthBanner, UserauthRequest};
use sekura_proto::numbers::{self, DisconnectReason};
use sekura_transport::auth::{AuthDecision, AuthEvent, AuthRequest, Credential, RequestMethod};
use sekura_transport::{Config, Connection, Error, Event};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The default failure delay.
const DELAY: Duration = Duration::from_millis(250);
const ALL_METHODS: &[&str] = &["publickey", "password", "keyboard-interactive"];

struct Keys {
    ed25519: Arc<PrivateKey>,
    ecdsa: Arc<PrivateKey>,
    rsa: Arc<PrivateKey>,
    /// A key no policy accepts.
    stranger: Arc<PrivateKey>,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = TestRng(0xa11ce);
        Keys {
            ed25519: Arc::new(PrivateKey::from_ed25519_seed(&[1; 32])),
            ecdsa: Arc::new(PrivateKey::generate_ecdsa(EcdsaCurve::NistP256, &mut rng)),
            rsa: Arc::new(PrivateKey::generate_rsa(1024, &mut rng).unwrap()),
            stranger: Arc::new(PrivateKey::from_ed25519_seed(&[2; 32])),
        }
    })
}

fn key(k: &Arc<PrivateKey>) -> Arc<dyn SigningKey> {
    k.clone()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn reject() -> AuthDecision {
    AuthDecision::Reject {
        methods_that_can_continue: names(ALL_METHODS),
    }
}

fn challenge(prompt: &str, echo: bool) -> AuthDecision {
    AuthDecision::Challenge {
        name: "sekura".into(),
        instruction: format!("answer {prompt}"),
        prompts: vec![(prompt.into(), echo)],
    }
}

/// The test server's policy: user "robey" with password "foo", the three
/// authorized keys, and a two-round keyboard-interactive challenge
/// (password, then the code 4242).
fn robey(request: &AuthRequest) -> AuthDecision {
    let k = keys();
    let robey = request.user == "robey";
    let accept_if = |yes: bool| if yes { AuthDecision::Accept } else { reject() };
    match &request.method {
        RequestMethod::None => reject(),
        RequestMethod::Password {
            password,
            new_password: None,
        } => accept_if(robey && password.as_str() == "foo"),
        RequestMethod::PublicKey { key, .. } => accept_if(
            robey
                && [&k.ed25519, &k.ecdsa, &k.rsa]
                    .iter()
                    .any(|a| a.public_key_blob() == *key),
        ),
        RequestMethod::KeyboardInteractive { .. } => challenge("Password: ", false),
        RequestMethod::InfoResponse { responses } => match responses[0].as_str() {
            "foo" if robey => challenge("Code: ", true),
            "4242" if robey => AuthDecision::Accept,
            _ => reject(),
        },
        _ => reject(),
    }
}

/// A request as the server's application saw it, in a line.
fn describe(request: &AuthRequest) -> String {
    let what = match &request.method {
        RequestMethod::None => "none".to_string(),
        RequestMethod::Password {
            password,
            new_password,
        } => match new_password {
            Some(new) => format!("password {} -> {}", password.as_str(), new.as_str()),
            None => format!("password {}", password.as_str()),
        },
        RequestMethod::PublicKey {
            algorithm, signed, ..
        } => format!(
            "publickey {algorithm} {}",
            if *signed { "signed" } else { "query" }
        ),
        RequestMethod::KeyboardInteractive { .. } => "keyboard-interactive".to_string(),
        RequestMethod::InfoResponse { responses } => format!("answers {}", responses.join(",")),
        _ => "other".to_string(),
    };
    format!("{}: {what}", request.user)
}

type Policy = Box<dyn FnMut(&AuthRequest) -> AuthDecision>;
type ClientHandler = Box<dyn FnMut(&mut Connection, &AuthEvent)>;

/// A pair with a server policy and a client that answers its events.
struct Test {
    pair: Pair,
    policy: Policy,
    on_client: ClientHandler,
    /// Every request the server's application was asked about.
    seen: Vec<String>,
}

impl Test {
    fn new(client: Config, server: Config) -> Test {
        Test {
            pair: Pair::new(client, server),
            policy: Box::new(robey),
            on_client: Box::new(|_, _| {}),
            seen: Vec::new(),
        }
    }

    fn default_test() -> Test {
        Test::new(Config::default(), Config::default())
    }

    /// Moves bytes and events until both sides are quiet (no time passes).
    fn run(&mut self) {
        let Test {
            pair,
            policy,
            on_client,
            seen,
        } = self;
        pair.run_with(
            |conn, event| {
                if let Event::Auth(e) = event {
                    on_client(conn, e);
                }
            },
            |conn, event| {
                if let Event::Auth(AuthEvent::Request(request)) = event {
                    seen.push(describe(request));
                    conn.auth_reply(policy(request)).unwrap();
                }
            },
        );
    }

    /// Runs, letting simulated time pass for every held reply, until the
    /// server waits for nothing due within one failure delay.
    fn settle(&mut self) {
        for _ in 0..100 {
            self.run();
            let now = self.pair.now;
            match self.pair.server.poll_timeout() {
                Some(at) if at <= now + DELAY && !self.pair.server.is_closed() => {
                    self.pair.advance(at.saturating_sub(now));
                }
                _ => return,
            }
        }
        panic!("the pair never settled");
    }

    fn client_auth_events(&self) -> Vec<&AuthEvent> {
        self.pair
            .client_events
            .iter()
            .filter_map(|e| match e {
                Event::Auth(a) => Some(a),
                _ => None,
            })
            .collect()
    }

    /// The client's FAILURE events: (methods, partial success).
    fn failures(&self) -> Vec<(Vec<String>, bool)> {
        self.client_auth_events()
            .into_iter()
            .filter_map(|e| match e {
                AuthEvent::Failure {
                    methods,
                    partial_success,
                } => Some((methods.clone(), *partial_success)),
                _ => None,
            })
            .collect()
    }

    fn successes(&self) -> (usize, usize) {
        let count = |events: &[Event]| {
            events
                .iter()
                .filter(|e| matches!(e, Event::Auth(AuthEvent::Success)))
                .count()
        };
        (
            count(&self.pair.client_events),
            count(&self.pair.server_events),
        )
    }

    /// Both sides authenticated `user`, each reporting it once.
    fn assert_authenticated(&self, user: &str) {
        self.pair.assert_ok();
        assert!(self.pair.client.is_authenticated(), "{:?}", self.seen);
        assert!(self.pair.server.is_authenticated());
        assert_eq!(self.pair.client.authenticated_user(), Some(user));
        assert_eq!(self.pair.server.authenticated_user(), Some(user));
        assert_eq!(self.successes(), (1, 1));
    }
}

fn disconnected(events: &[Event]) -> Option<(DisconnectReason, bool)> {
    events.iter().find_map(|e| match e {
        Event::Disconnected {
            reason, by_peer, ..
        } => Some((*reason, *by_peer)),
        _ => None,
    })
}

// ----- each method alone -----

#[test]
fn none_lists_the_methods_without_delay() {
    let mut t = Test::default_test();
    t.pair.client.auth_none("robey").unwrap();
    t.run(); // no simulated time passes
    t.pair.assert_ok();
    assert_eq!(t.seen, ["robey: none"]);
    assert_eq!(t.failures(), [(names(ALL_METHODS), false)]);
    assert!(!t.pair.client.is_authenticated());
    assert!(!t.pair.server.is_authenticated());
}

#[test]
fn right_password_authenticates() {
    let mut t = Test::default_test();
    // Given before the handshake: queued until ssh-userauth is accepted.
    t.pair.client.auth_password("robey", "foo").unwrap();
    t.run();
    t.assert_authenticated("robey");
    assert_eq!(t.seen, ["robey: password foo"]);
    assert!(t.failures().is_empty());
    // Further commands are refused on the client.
    assert!(t.pair.client.auth_none("robey").is_err());
}

#[test]
fn wrong_password_fails() {
    let mut t = Test::default_test();
    t.pair.client.auth_password("robey", "bar").unwrap();
    t.settle();
    t.pair.assert_ok();
    assert_eq!(t.seen, ["robey: password bar"]);
    assert_eq!(t.failures(), [(names(ALL_METHODS), false)]);
    assert!(!t.pair.server.is_authenticated());
    assert_eq!(t.successes(), (0, 0));
}

#[test]
fn publickey_with_each_key_type_queries_then_signs() {
    let k = keys();
    for (user_key, algorithm) in [
        (&k.ed25519, "ssh-ed25519"),
        (&k.ecdsa, "ecdsa-sha2-nistp256"),
        // The server lists rsa-sha2-512 and -256: the stronger is chosen.
        (&k.rsa, "rsa-sha2-512"),
    ] {
        let mut t = Test::default_test();
        t.pair
            .client
            .auth_publickey("robey", key(user_key))
            .unwrap();
        t.run();
        t.assert_authenticated("robey");
        // The PK_OK path: the key is offered, accepted, then signed.
        assert_eq!(
            t.seen,
            [
                format!("robey: publickey {algorithm} query"),
                format!("robey: publickey {algorithm} signed"),
            ]
        );
    }
}

#[test]
fn rsa_signs_with_sha2_256_when_the_server_lists_only_that() {
    let mut server = Config::default();
    server.pubkey_accepted_algorithms = Some(vec!["ssh-ed25519".into(), "rsa-sha2-256".into()]);
    let mut t = Test::new(Config::default(), server);
    t.pair
        .client
        .auth_publickey("robey", key(&keys().rsa))
        .unwrap();
    t.run();
    t.assert_authenticated("robey");
    assert_eq!(
        t.pair.client.server_sig_algs().unwrap(),
        ["ssh-ed25519", "rsa-sha2-256"]
    );
    assert_eq!(
        t.seen,
        [
            "robey: publickey rsa-sha2-256 query",
            "robey: publickey rsa-sha2-256 signed"
        ]
    );
}

#[test]
fn rsa_uses_sha1_only_when_allowed() {
    let mut server = Config::default();
    server.preferences = sekura_negotiation::Preferences::all();
    server.pubkey_accepted_algorithms = Some(vec!["ssh-ed25519".into(), "ssh-rsa".into()]);

    // Not allowed: the key is unusable and nothing is sent for it.
    let mut t = Test::new(Config::default(), server.clone());
    t.pair
        .client
        .auth_publickey("robey", key(&keys().rsa))
        .unwrap();
    t.pair.client.auth_none("robey").unwrap();
    t.settle();
    t.pair.assert_ok();
    assert!(
        matches!(t.client_auth_events()[0], AuthEvent::Unusable { method, .. } if method == "publickey")
    );
    assert_eq!(t.seen, ["robey: none"]);

    // Allowed: ssh-rsa, which the server enabled.
    let mut client = Config::default();
    client.allow_ssh_rsa_sha1 = true;
    let mut t = Test::new(client, server);
    t.pair
        .client
        .auth_publickey("robey", key(&keys().rsa))
        .unwrap();
    t.run();
    t.assert_authenticated("robey");
    assert_eq!(
        t.seen,
        [
            "robey: publickey ssh-rsa query",
            "robey: publickey ssh-rsa signed"
        ]
    );
}

#[test]
fn a_key_the_server_does_not_accept_is_only_offered() {
    let mut t = Test::default_test();
    t.pair
        .client
        .auth_publickey("robey", key(&keys().stranger))
        .unwrap();
    t.settle();
    t.pair.assert_ok();
    // No PK_OK, so the client never signed.
    assert_eq!(t.seen, ["robey: publickey ssh-ed25519 query"]);
    assert_eq!(t.failures(), [(names(ALL_METHODS), false)]);
    assert!(!t.pair.server.is_authenticated());
}

#[test]
fn a_signature_by_a_key_the_server_does_not_accept_fails() {
    // A lenient server answers every query with PK_OK, but authorizes
    // only the ed25519 key when it is signed for.
    let mut t = Test::default_test();
    t.policy = Box::new(|request| match &request.method {
        RequestMethod::PublicKey { signed: false, .. } => AuthDecision::Accept,
        _ => robey(request),
    });
    t.pair
        .client
        .auth_publickey("robey", key(&keys().stranger))
        .unwrap();
    t.settle();
    t.pair.assert_ok();
    assert_eq!(
        t.seen,
        [
            "robey: publickey ssh-ed25519 query",
            "robey: publickey ssh-ed25519 signed"
        ]
    );
    assert_eq!(t.failures().len(), 1);
    assert!(!t.pair.server.is_authenticated());
}

#[test]
fn a_forged_signature_fails_without_asking_the_application() {
    let mut t = Test::new(plaintext_config(), plaintext_config());
    let forged = Rc::new(Cell::new(0));
    let count = forged.clone();
    t.pair.tap = Some(rewriting_tap(move |direction, mut payload| {
        if direction == Direction::ToServer && payload[0] == numbers::USERAUTH_REQUEST {
            let signed = matches!(
                UserauthRequest::decode(&payload).unwrap().method,
                AuthMethod::PublicKey {
                    signature: Some(_),
                    ..
                }
            );
            if signed {
                // The signature blob ends the payload.
                *payload.last_mut().unwrap() ^= 0x01;
                count.set(count.get() + 1);
            }
        }
        vec![payload]
    }));
    t.pair
        .client
        .auth_publickey("robey", key(&keys().ed25519))
        .unwrap();
    t.settle();
    t.pair.assert_ok();
    assert_eq!(forged.get(), 1);
    // The application saw the query only: the bad signature never reached it.
    assert_eq!(t.seen, ["robey: publickey ssh-ed25519 query"]);
    assert_eq!(t.failures(), [(names(ALL_METHODS), false)]);
    assert!(!t.pair.server.is_authenticated());
    assert!(!t.pair.client.is_authenticated());
}

#[test]
fn keyboard_interactive_in_two_rounds() {
    let mut t = Test::default_test();
    t.on_client = Box::new(|conn, event| {
        if let AuthEvent::InfoRequest(request) = event {
            let answer = match request.prompts[0].0.as_str() {
                "Password: " => "foo",
                "Code: " => "4242",
                other => panic!("unexpected prompt {other}"),
            };
            conn.auth_info_response(&[answer]).unwrap();
        }
    });
    t.pair
        .client
        .auth_keyboard_interactive("robey", "")
        .unwrap();
    t.run();
    t.assert_authenticated("robey");
    assert_eq!(
        t.seen,
        [
            "robey: keyboard-interactive",
            "robey: answers foo",
            "robey: answers 4242"
        ]
    );
    let requests: Vec<_> = t
        .client_auth_events()
        .into_iter()
        .filter_map(|e| match e {
            AuthEvent::InfoRequest(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].name, "sekura");
    assert_eq!(requests[0].instruction, "answer Password: ");
    assert_eq!(requests[0].prompts, [("Password: ".to_string(), false)]);
    assert_eq!(requests[1].prompts, [("Code: ".to_string(), true)]);
}

#[test]
fn keyboard_interactive_with_canned_answers_asks_nothing() {
    let mut t = Test::default_test();
    t.pair
        .client
        .authenticate(
            "robey",
            vec![Credential::keyboard_interactive(["foo", "4242"])],
        )
        .unwrap();
    t.settle();
    t.assert_authenticated("robey");
    assert_eq!(
        t.seen,
        [
            "robey: none",
            "robey: keyboard-interactive",
            "robey: answers foo",
            "robey: answers 4242"
        ]
    );
    assert!(
        !t.client_auth_events()
            .iter()
            .any(|e| matches!(e, AuthEvent::InfoRequest(_)))
    );
}

// ----- combinations -----

/// A server that requires publickey, then password (OpenSSH's
/// `AuthenticationMethods publickey,password`).
fn publickey_then_password() -> Policy {
    let mut key_passed = false;
    Box::new(move |request| {
        let key = keys().ed25519.public_key_blob();
        match &request.method {
            RequestMethod::PublicKey {
                key: offered,
                signed,
                ..
            } if *offered == key => {
                if *signed {
                    key_passed = true;
                    AuthDecision::PartialSuccess {
                        methods: names(&["password"]),
                    }
                } else {
                    AuthDecision::Accept
                }
            }
            RequestMethod::Password { password, .. }
                if key_passed && password.as_str() == "foo" =>
            {
                AuthDecision::Accept
            }
            _ if key_passed => AuthDecision::Reject {
                methods_that_can_continue: names(&["password"]),
            },
            _ => AuthDecision::Reject {
                methods_that_can_continue: names(&["publickey"]),
            },
        }
    })
}

#[test]
fn authenticate_continues_after_partial_success() {
    let mut t = Test::default_test();
    t.policy = publickey_then_password();
    // The password first on purpose: it is skipped until the server lists
    // it, after the key's partial success.
    t.pair
        .client
        .authenticate(
            "robey",
            vec![
                Credential::password("foo"),
                Credential::PublicKey(key(&keys().ed25519)),
            ],
        )
        .unwrap();
    t.settle();
    t.assert_authenticated("robey");
    assert_eq!(
        t.seen,
        [
            "robey: none",
            "robey: publickey ssh-ed25519 query",
            "robey: publickey ssh-ed25519 signed",
            "robey: password foo"
        ]
    );
    assert_eq!(
        t.failures(),
        [(names(&["publickey"]), false), (names(&["password"]), true)]
    );
}

#[test]
fn authenticate_reports_exhaustion() {
    let mut t = Test::default_test();
    t.policy = publickey_then_password();
    t.pair
        .client
        .authenticate(
            "robey",
            vec![
                Credential::PublicKey(key(&keys().stranger)),
                Credential::password("foo"),
            ],
        )
        .unwrap();
    t.settle();
    t.pair.assert_ok();
    assert!(!t.pair.client.is_authenticated());
    // The stranger key is refused; the password is never sent, as the
    // server does not list it.
    assert_eq!(
        t.seen,
        ["robey: none", "robey: publickey ssh-ed25519 query"]
    );
    assert!(matches!(
        t.client_auth_events().last().unwrap(),
        AuthEvent::Exhausted { methods_left } if *methods_left == names(&["publickey"])
    ));
}

#[test]
fn expired_password_is_changed() {
    let mut t = Test::default_test();
    t.policy = Box::new(|request| match &request.method {
        RequestMethod::Password {
            password,
            new_password,
        } if password.as_str() == "old" => match new_password {
            None => AuthDecision::ChangePassword {
                prompt: "expired, choose another".into(),
            },
            Some(new) if new.as_str() == "new" => AuthDecision::Accept,
            Some(_) => reject(),
        },
        _ => reject(),
    });
    t.on_client = Box::new(|conn, event| {
        if let AuthEvent::PasswordChangeRequired { prompt } = event {
            assert_eq!(prompt, "expired, choose another");
            conn.auth_change_password("robey", "old", "new").unwrap();
        }
    });
    t.pair.client.auth_password("robey", "old").unwrap();
    t.run();
    t.assert_authenticated("robey");
    assert_eq!(
        t.seen,
        ["robey: password old", "robey: password old -> new"]
    );
}

#[test]
fn the_banner_comes_once_before_the_first_reply() {
    let mut server = Config::default();
    server.auth_banner = Some("Authorized use only.\n".into());
    let mut t = Test::new(Config::default(), server);
    t.pair.client.auth_none("robey").unwrap();
    t.pair.client.auth_password("robey", "bar").unwrap();
    t.pair.client.auth_password("robey", "foo").unwrap();
    t.settle();
    t.assert_authenticated("robey");
    let events = t.client_auth_events();
    assert!(
        matches!(events[0], AuthEvent::Banner { message } if message == "Authorized use only.\n"),
        "{events:?}"
    );
    let banners = events
        .iter()
        .filter(|e| matches!(e, AuthEvent::Banner { .. }))
        .count();
    assert_eq!(banners, 1);
    assert_eq!(t.failures().len(), 2);
}

// ----- what the server core enforces -----

/// Lets the held FAILURE out a millisecond at a time; returns how long it
/// was held and the bytes the server sent meanwhile.
fn time_the_failure(t: &mut Test) -> (Duration, usize) {
    t.run();
    let start = t.pair.now;
    let bytes_before = t.pair.moved.1;
    for _ in 0..1000 {
        if !t.failures().is_empty() {
            return (t.pair.now - start, t.pair.moved.1 - bytes_before);
        }
        t.pair.advance(Duration::from_millis(1));
        t.run();
    }
    panic!("no FAILURE within a second");
}

#[test]
fn failure_is_held_for_the_delay() {
    let mut t = Test::default_test();
    t.pair.client.auth_password("robey", "bar").unwrap();
    t.run();
    // The request reached the application and was rejected, but its
    // FAILURE has not been sent.
    assert_eq!(t.seen, ["robey: password bar"]);
    assert!(t.failures().is_empty());
    assert_eq!(t.pair.server.poll_timeout(), Some(t.pair.now + DELAY));
    let (held, _) = time_the_failure(&mut t);
    assert_eq!(held, DELAY);
    t.pair.assert_ok();

    // A longer configured delay is honoured too.
    let mut server = Config::default();
    server.auth_failure_delay = Duration::from_millis(700);
    let mut t = Test::new(Config::default(), server);
    t.pair.client.auth_password("robey", "bar").unwrap();
    assert_eq!(time_the_failure(&mut t).0, Duration::from_millis(700));
}

#[test]
fn an_unknown_user_gets_the_same_reply_as_a_wrong_password() {
    let mut wrong_password = Test::default_test();
    wrong_password
        .pair
        .client
        .auth_password("robey", "bar")
        .unwrap();
    let mut no_such_user = Test::default_test();
    no_such_user
        .pair
        .client
        .auth_password("nobody", "foo")
        .unwrap();
    let a = time_the_failure(&mut wrong_password);
    let b = time_the_failure(&mut no_such_user);
    assert_eq!(a, b, "(delay, bytes) differ");
    assert_eq!(a.0, DELAY);
    assert_eq!(wrong_password.failures(), no_such_user.failures());
}

#[test]
fn seventh_failure_disconnects_with_reason_14() {
    let mut t = Test::default_test();
    // `none` probes are not attempts.
    for _ in 0..3 {
        t.pair.client.auth_none("robey").unwrap();
    }
    for i in 0..7 {
        t.pair
            .client
            .auth_password("robey", &format!("guess{i}"))
            .unwrap();
    }
    t.settle();
    assert_eq!(t.seen.len(), 10, "{:?}", t.seen);
    // Three for `none`, six for passwords; the seventh is a DISCONNECT.
    assert_eq!(t.failures().len(), 9);
    assert_eq!(
        disconnected(&t.pair.client_events),
        Some((DisconnectReason::NoMoreAuthMethodsAvailable, true))
    );
    assert_eq!(
        disconnected(&t.pair.server_events),
        Some((DisconnectReason::NoMoreAuthMethodsAvailable, false))
    );
    assert!(t.pair.server.is_closed() && t.pair.client.is_closed());
}

#[test]
fn login_grace_time_ends_an_idle_connection() {
    let mut server = Config::default();
    server.login_grace_time = Some(Duration::from_secs(10));
    let mut t = Test::new(Config::default(), server.clone());
    let start = t.pair.now;
    t.run();
    assert!(t.pair.established());
    assert_eq!(
        t.pair.server.poll_timeout(),
        Some(start + Duration::from_secs(10))
    );
    t.pair.advance(Duration::from_millis(9_999));
    t.run();
    assert!(!t.pair.server.is_closed());
    t.pair.advance(Duration::from_millis(1));
    t.run();
    assert!(matches!(t.pair.server_error, Some(Error::Timeout(_))));
    assert_eq!(
        disconnected(&t.pair.client_events),
        Some((DisconnectReason::ConnectionLost, true))
    );

    // Once authenticated, the grace time no longer applies.
    let mut t = Test::new(Config::default(), server);
    t.pair.client.auth_password("robey", "foo").unwrap();
    t.run();
    t.assert_authenticated("robey");
    t.pair.advance(Duration::from_secs(60));
    t.run();
    t.pair.assert_ok();
    assert!(!t.pair.server.is_closed());
}

#[test]
fn an_auth_request_before_the_service_is_a_protocol_error() {
    // The client's SERVICE_REQUEST is replaced by a USERAUTH_REQUEST.
    let mut t = Test::new(plaintext_config(), plaintext_config());
    t.pair.tap = Some(rewriting_tap(|direction, payload| {
        if direction == Direction::ToServer && payload[0] == numbers::SERVICE_REQUEST {
            return vec![
                UserauthRequest {
                    user: "robey",
                    service: "ssh-connection",
                    method: AuthMethod::None,
                }
                .to_vec(),
            ];
        }
        vec![payload]
    }));
    t.run();
    assert!(t.seen.is_empty());
    assert!(matches!(t.pair.server_error, Some(Error::Protocol(_))));
    assert_eq!(
        disconnected(&t.pair.client_events),
        Some((DisconnectReason::ProtocolError, true))
    );
}

#[test]
fn an_auth_message_before_service_accept_is_a_protocol_error() {
    // A banner slipped in before the server's SERVICE_ACCEPT.
    let mut t = Test::new(plaintext_config(), plaintext_config());
    t.pair.tap = Some(rewriting_tap(|direction, payload| {
        if direction == Direction::ToClient && payload[0] == numbers::SERVICE_ACCEPT {
            let banner = UserauthBanner {
                message: "early",
                language: "",
            };
            return vec![banner.to_vec(), payload];
        }
        vec![payload]
    }));
    t.pair.client.auth_password("robey", "foo").unwrap();
    t.run();
    assert!(matches!(t.pair.client_error, Some(Error::Protocol(_))));
    assert!(t.seen.is_empty());
    assert_eq!(
        disconnected(&t.pair.server_events),
        Some((DisconnectReason::ProtocolError, true))
    );
}

#[test]
fn requests_after_success_are_ignored() {
    let mut t = Test::new(plaintext_config(), plaintext_config());
    // An IGNORE carrying "inject" becomes a USERAUTH_REQUEST on the wire.
    t.pair.tap = Some(rewriting_tap(|direction, payload| {
        if direction == Direction::ToServer
            && payload[0] == numbers::IGNORE
            && payload.ends_with(b"inject")
        {
            let request = UserauthRequest {
                user: "mallory",
                service: "ssh-connection",
                method: AuthMethod::Password {
                    password: "x",
                    new_password: None,
                },
            };
            return vec![request.to_vec()];
        }
        vec![payload]
    }));
    t.pair.client.auth_password("robey", "foo").unwrap();
    t.run();
    t.assert_authenticated("robey");
    t.pair.client.send_ignore(b"inject").unwrap();
    t.settle();
    t.pair.assert_ok();
    assert_eq!(t.seen, ["robey: password foo"]);
    assert!(t.failures().is_empty());
    assert_eq!(t.pair.server.authenticated_user(), Some("robey"));
    assert_eq!(t.successes(), (1, 1));
}

#[test]
fn auth_reply_must_fit_the_request() {
    let mut t = Test::default_test();
    let decisions = Rc::new(Cell::new(0));
    let tries = decisions.clone();
    t.pair.client.auth_password("robey", "foo").unwrap();
    t.pair.run_with(
        |_, _| {},
        move |conn, event| {
            if let Event::Auth(AuthEvent::Request(_)) = event {
                // A challenge does not answer a password; the request stays.
                assert!(conn.auth_reply(challenge("x", false)).is_err());
                assert!(
                    conn.auth_reply(AuthDecision::Reject {
                        methods_that_can_continue: names(&["bad,name"]),
                    })
                    .is_err()
                );
                conn.auth_reply(AuthDecision::Accept).unwrap();
                assert!(conn.auth_reply(AuthDecision::Accept).is_err());
                tries.set(tries.get() + 1);
            }
        },
    );
    assert_eq!(decisions.get(), 1);
    assert!(t.pair.client.is_authenticated());
    // And a client cannot answer requests.
    assert!(t.pair.client.auth_reply(AuthDecision::Accept).is_err());
}

#[test]
fn delayed_compression_starts_with_authentication() {
    let mut config = Config::default();
    config
        .preferences
        .set_compression("zlib@openssh.com")
        .unwrap();
    let mut t = Test::new(config.clone(), config);
    t.pair
        .client
        .auth_publickey("robey", key(&keys().ed25519))
        .unwrap();
    t.run();
    t.assert_authenticated("robey");
    let negotiated = t.pair.client.negotiated().unwrap();
    assert_eq!(negotiated.compression_c2s.name(), "zlib@openssh.com");
    let before = t.pair.moved;
    for _ in 0..20 {
        t.pair.client.send_ignore(&[b'a'; 4096]).unwrap();
        t.pair.server.send_ignore(&[b'b'; 4096]).unwrap();
    }
    t.run();
    t.pair.assert_ok();
    // Compressed: far fewer bytes than the 80 KiB sent each way.
    assert!(t.pair.moved.0 - before.0 < 20 * 1024, "{:?}", t.pair.moved);
    assert!(t.pair.moved.1 - before.1 < 20 * 1024, "{:?}", t.pair.moved);
}

#[test]
fn authentication_survives_a_rekey_in_flight() {
    let mut t = Test::default_test();
    t.run();
    assert!(t.pair.established());
    // Requested during authentication, the rekey starts right after it.
    t.pair.server.request_rekey().unwrap();
    t.pair
        .client
        .auth_publickey("robey", key(&keys().ecdsa))
        .unwrap();
    t.run();
    t.assert_authenticated("robey");
    assert_eq!(t.pair.client.key_exchanges(), 2);
}
