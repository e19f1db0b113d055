//! A sekura client and a sekura server complete an SSH key exchange over a
//! real TCP connection on 127.0.0.1, then rekey once and say goodbye.
//!
//! ```text
//! cargo run --example handshake                  # sekura's defaults
//! cargo run --example handshake -- aes128-ctr    # force a cipher (OpenSSH syntax)
//! ```
//!
//! The server side runs in a thread; both sides drive the sans-I/O
//! [`Connection`] with the same small blocking loop: feed what the socket
//! gave, send what the connection has, act on its events.

use sekura::algorithms::SigningKey;
use sekura::algorithms::builtin::keys::PrivateKey;
use sekura::os_rng;
use sekura::proto::numbers::DisconnectReason;
use sekura::transport::{Config, Connection, Event};
use std::error::Error;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Writes everything the connection has to send.
fn flush(conn: &mut Connection, socket: &mut TcpStream, out: &mut Vec<u8>) -> std::io::Result<()> {
    while conn.poll_transmit(out) {
        socket.write_all(out)?;
        out.clear();
    }
    Ok(())
}

/// Runs a connection until it closes, handing each event to `on_event`.
fn drive(
    mut conn: Connection,
    mut socket: TcpStream,
    who: &str,
    mut on_event: impl FnMut(&mut Connection, Event),
) -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let (mut out, mut buf) = (Vec::new(), vec![0u8; 64 * 1024]);
    loop {
        flush(&mut conn, &mut socket, &mut out)?;
        while let Some(event) = conn.poll_event() {
            on_event(&mut conn, event);
        }
        flush(&mut conn, &mut socket, &mut out)?;
        if conn.is_closed() {
            println!("[{who}] closed");
            return Ok(());
        }
        match socket.read(&mut buf) {
            Ok(0) => return Err(format!("[{who}] peer hung up").into()),
            Ok(n) => {
                conn.handle_input(buf.get(..n).unwrap_or_default())?;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
        if !conn.is_closed() {
            conn.handle_timeout(start.elapsed())?;
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let cipher = std::env::args().nth(1);
    let mut rng = os_rng();
    let host_key = PrivateKey::generate_ed25519(&mut rng);
    println!("server host key: {}", host_key.fingerprint_sha256());

    let mut server_config = Config::server(vec![Arc::new(host_key) as Arc<dyn SigningKey>]);
    let mut client_config = Config::default();
    if let Some(cipher) = &cipher {
        client_config.preferences.set_ciphers(cipher)?;
        server_config.preferences = sekura::Preferences::all();
    }

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    println!("server listening on {address}");
    let server = std::thread::spawn(move || -> Result<(), String> {
        let (socket, peer) = listener.accept().map_err(|e| e.to_string())?;
        println!("[server] connection from {peer}");
        let conn = Connection::server(Arc::new(server_config), Box::new(os_rng()), Duration::ZERO);
        drive(conn, socket, "server", |_, event| match event {
            Event::ServiceStarted { name } => println!("[server] service started: {name}"),
            Event::Disconnected { description, .. } => {
                println!("[server] disconnected: {description}")
            }
            _ => {}
        })
        .map_err(|e| e.to_string())
    });

    let socket = TcpStream::connect(address)?;
    let conn = Connection::client(Arc::new(client_config), Box::new(os_rng()), Duration::ZERO);
    drive(conn, socket, "client", |conn, event| match event {
        Event::HostKey(key) => {
            // A real client compares this with known_hosts.
            println!(
                "[client] server offers {} key {}",
                key.algorithm,
                key.fingerprint()
            );
            if let Err(e) = conn.accept_host_key() {
                eprintln!("[client] {e}");
            }
        }
        Event::KeyExchangeDone { negotiated, first } => {
            println!(
                "[client] {} done: kex {}, cipher {}, mac {}",
                if first { "key exchange" } else { "rekey" },
                negotiated.kex.name(),
                negotiated.cipher_c2s.name(),
                negotiated.mac_c2s.map_or("(implicit)", |m| m.name()),
            );
            if first {
                let _ = conn.request_rekey();
            } else {
                conn.disconnect(DisconnectReason::ByApplication, "done, goodbye");
            }
        }
        Event::ServiceAccepted { name } => println!("[client] service accepted: {name}"),
        _ => {}
    })?;
    server.join().map_err(|_| "server thread panicked")??;
    Ok(())
}
