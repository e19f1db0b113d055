//! `demo_server`: the seed's demo server, a small BBS over SSH.
//!
//! ```text
//! cargo run --example demo_server                       # listen on 127.0.0.1:2200
//! cargo run --example demo_server -- --listen 127.0.0.1:2222 --host-key my_key
//! cargo run --example demo_server -- --authorized-keys ~/.ssh/id_ed25519.pub
//! cargo run --example demo_server -- --try              # start, visit it once, stop
//!                                                       # (on a free port)
//! ```
//!
//! User `robey`, password `foo` (or a key from `--authorized-keys`). With a
//! terminal (`ssh -p 2200 robey@localhost`) it shows a menu: read the
//! board, post, see who is online, quit. Without one, the same things are
//! one-shot commands that exit 0 on success:
//! `ssh -p 2200 robey@localhost board`, `... post hello`, `... who`,
//! `... help`. Several users at once see each other's posts.
//!
//! The host key is kept in `demo_host_key` (OpenSSH format), made on the
//! first run.

use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::{PrivateKey, PublicKey};
use sekura::blocking::{
    AuthResult, Channel, HostKeyCheck, Pty, Server, ServerHandler, Session, SessionRequest,
};
use sekura::transport::Config;
use std::error::Error;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One post on the board.
struct Post {
    author: String,
    text: String,
}

/// What all sessions share.
#[derive(Default)]
struct Bbs {
    posts: Mutex<Vec<Post>>,
    online: Mutex<Vec<String>>,
}

/// The server's policy: who gets in, what a session does.
struct Handler {
    bbs: Arc<Bbs>,
    authorized: Vec<Vec<u8>>,
}

const USER: &str = "robey";
const PASSWORD: &str = "foo";
const HELP: &str = "commands: help, board, post <text>, who\n";

impl Bbs {
    fn board(&self) -> String {
        let posts = self.posts.lock().unwrap_or_else(|e| e.into_inner());
        if posts.is_empty() {
            return "(the board is empty)\n".into();
        }
        posts
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:>3}. <{}> {}\n", i + 1, p.author, p.text))
            .collect()
    }

    fn post(&self, author: &str, text: &str) {
        let mut posts = self.posts.lock().unwrap_or_else(|e| e.into_inner());
        posts.push(Post {
            author: author.into(),
            text: text.into(),
        });
    }

    fn who(&self) -> String {
        let online = self.online.lock().unwrap_or_else(|e| e.into_inner());
        format!(
            "online: {}\n",
            if online.is_empty() {
                "nobody".to_string()
            } else {
                online.join(", ")
            }
        )
    }

    /// Runs one command; `None` for an unknown one.
    fn command(&self, user: &str, line: &str) -> Option<String> {
        let (verb, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        match verb {
            "help" | "" => Some(HELP.into()),
            "board" | "read" => Some(self.board()),
            "who" => Some(self.who()),
            "post" if !rest.trim().is_empty() => {
                self.post(user, rest.trim());
                Some("posted.\n".into())
            }
            _ => None,
        }
    }
}

/// Reads one line from a terminal in raw mode: echoes what is typed,
/// handles backspace, ends at Enter. `None` when the user hangs up
/// (Ctrl-D, Ctrl-C or end of stream).
fn read_line(channel: &mut Channel) -> Option<String> {
    let mut line = String::new();
    let mut byte = [0u8; 1];
    loop {
        if channel.read(&mut byte).ok()? == 0 {
            return None;
        }
        match byte[0] {
            b'\r' | b'\n' => {
                channel.write_all(b"\r\n").ok()?;
                return Some(line);
            }
            3 | 4 => return None,
            8 | 127 if line.pop().is_some() => {
                channel.write_all(b"\x08 \x08").ok()?;
            }
            b if (0x20..0x7f).contains(&b) => {
                line.push(char::from(b));
                channel.write_all(&[b]).ok()?;
            }
            _ => {}
        }
    }
}

/// The menu a terminal user sees.
fn menu(bbs: &Bbs, user: &str, channel: &mut Channel) -> u32 {
    let say = |channel: &mut Channel, text: &str| {
        channel
            .write_all(text.replace('\n', "\r\n").as_bytes())
            .is_ok()
    };
    say(channel, &format!("\nWelcome to the sekura BBS, {user}.\n"));
    loop {
        if !say(
            channel,
            "\n[r]ead the board, [p]ost, [w]ho is online, [q]uit > ",
        ) {
            return 1;
        }
        let Some(choice) = read_line(channel) else {
            return 0;
        };
        match choice.trim() {
            "r" => {
                say(channel, &bbs.board());
            }
            "p" => {
                say(channel, "your message: ");
                match read_line(channel) {
                    Some(text) if !text.trim().is_empty() => {
                        bbs.post(user, text.trim());
                        say(channel, "posted.\n");
                    }
                    Some(_) => {}
                    None => return 0,
                }
            }
            "w" => {
                say(channel, &bbs.who());
            }
            "q" => {
                say(channel, "bye.\n");
                return 0;
            }
            _ => {
                say(channel, "?\n");
            }
        }
    }
}

impl ServerHandler for Handler {
    fn check_password(&self, user: &str, password: &str) -> AuthResult {
        if user == USER && password == PASSWORD {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    fn check_public_key(&self, user: &str, key: &[u8]) -> AuthResult {
        if user == USER && self.authorized.iter().any(|k| k == key) {
            AuthResult::Accept
        } else {
            AuthResult::Reject
        }
    }

    fn session(
        &self,
        user: &str,
        request: SessionRequest,
        pty: Option<Pty>,
        channel: &mut Channel,
    ) -> u32 {
        self.bbs
            .online
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(user.to_string());
        let status = match request {
            SessionRequest::Shell if pty.is_some() => menu(&self.bbs, user, channel),
            SessionRequest::Shell => {
                let _ = channel.write_all(HELP.as_bytes());
                0
            }
            SessionRequest::Exec(command) => {
                let command = String::from_utf8_lossy(&command).into_owned();
                match self.bbs.command(user, &command) {
                    Some(output) => {
                        let _ = channel.write_all(output.as_bytes());
                        0
                    }
                    None => {
                        let _ = channel
                            .write_stderr(format!("unknown command: {command}\n{HELP}").as_bytes());
                        1
                    }
                }
            }
            SessionRequest::Subsystem(name) => {
                let _ = channel.write_stderr(format!("no subsystem {name}\n").as_bytes());
                1
            }
        };
        let mut online = self.bbs.online.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = online.iter().position(|u| u == user) {
            online.remove(i);
        }
        status
    }
}

/// Loads the host key, or makes and saves one.
fn host_key(path: &PathBuf) -> Result<PrivateKey, Box<dyn Error>> {
    if path.exists() {
        return Ok(PrivateKey::from_file(path, None)?);
    }
    let mut rng = sekura::os_rng();
    let key = PrivateKey::generate_ed25519(&mut rng);
    std::fs::write(path, key.to_openssh(None, &mut rng)?.as_bytes())?;
    println!("made a new host key in {}", path.display());
    Ok(key)
}

/// Visits the server once as a client, the way the README's command does.
fn visit(address: std::net::SocketAddr, host_key: Vec<u8>) -> Result<(), Box<dyn Error>> {
    let session = Session::connect(
        TcpStream::connect(address)?,
        Config::default(),
        HostKeyCheck::Key(host_key),
    )?;
    session.authenticate_password(USER, PASSWORD)?;
    for command in ["post hello from sekura", "board", "who"] {
        let mut channel = session.open_session()?;
        channel.exec(command)?;
        let mut out = String::new();
        channel.read_to_string(&mut out)?;
        print!(
            "$ ssh -p {} {USER}@{} {command}\n{out}",
            address.port(),
            address.ip()
        );
        println!(
            "(exit status {})",
            channel.wait_exit_status()?.unwrap_or(255)
        );
    }
    session.close();
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut listen = None;
    let mut key_path = PathBuf::from("demo_host_key");
    let mut authorized = Vec::new();
    let mut try_once = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" | "-l" => listen = Some(args.next().ok_or("--listen needs ADDRESS:PORT")?),
            "--host-key" => key_path = args.next().ok_or("--host-key needs a file")?.into(),
            "--authorized-keys" => {
                let file = args.next().ok_or("--authorized-keys needs a file")?;
                for line in std::fs::read_to_string(&file)?.lines() {
                    if let Ok(entry) = PublicKey::from_authorized_keys_line(line) {
                        authorized.push(entry.key().to_blob());
                    }
                }
            }
            "--try" => try_once = true,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let key = host_key(&key_path)?;
    let host_blob = key.public_key().to_blob();
    println!("host key {}", key.fingerprint_sha256());
    let config = Config::server(vec![Arc::new(key) as Arc<dyn SigningKey>]);
    let handler = Arc::new(Handler {
        bbs: Arc::new(Bbs::default()),
        authorized,
    });
    // `--try` takes any free port, so it runs beside a real server.
    let default = if try_once {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:2200"
    };
    let listener = TcpListener::bind(listen.as_deref().unwrap_or(default))?;
    let address = listener.local_addr()?;
    println!(
        "sekura BBS listening on {address}: ssh -p {} {USER}@{} (password {PASSWORD})",
        address.port(),
        address.ip()
    );
    let server = Server::new(config, handler);
    if try_once {
        std::thread::spawn(move || server.serve(&listener));
        return visit(address, host_blob);
    }
    server.serve(&listener)?;
    Ok(())
}
