//! What two SSH peers agree on, without a network: builds the KEXINIT of a
//! modern client and of an old device's server from different preference
//! lists, sends them through the wire format, and prints the outcome of RFC
//! 4253 §7.1 negotiation, first with sekura's defaults (no agreement, and an
//! error that says why) and then after the client opts in to the legacy
//! algorithms by name, the way `ssh -o Ciphers=+aes128-cbc` does.
//!
//! ```text
//! cargo run --example negotiate
//! ```

use sekura::negotiation::{NegotiationError, Preferences};
use sekura::proto::msg::{Encode, KexInit};
use sekura::{Negotiated, Role, negotiate, os_rng};
use std::error::Error;

/// A server as an old network device might have it: seed-era algorithms only.
fn old_device() -> Result<Preferences, Box<dyn Error>> {
    let mut prefs = Preferences::all();
    prefs.set_kex("diffie-hellman-group14-sha1,diffie-hellman-group1-sha1")?;
    prefs.set_host_key_algorithms("ssh-rsa")?;
    prefs.set_ciphers("aes128-cbc,3des-cbc")?;
    prefs.set_macs("hmac-sha1,hmac-md5")?;
    Ok(prefs)
}

/// Encodes both KEXINITs, decodes them again as a peer would, negotiates.
fn agree(client: &Preferences, server: &Preferences) -> Result<Negotiated, NegotiationError> {
    let mut rng = os_rng();
    let client_wire = client.kexinit(Role::Client, true, &mut rng).to_vec();
    let server_wire = server.kexinit(Role::Server, true, &mut rng).to_vec();
    println!(
        "  client KEXINIT: {} bytes, server KEXINIT: {} bytes",
        client_wire.len(),
        server_wire.len()
    );
    let client_kexinit = KexInit::decode(&client_wire).expect("our own KEXINIT decodes");
    let server_kexinit = KexInit::decode(&server_wire).expect("our own KEXINIT decodes");
    // The client resolves the names to its own implementations.
    negotiate(&client_kexinit, &server_kexinit, client)
}

fn show(title: &str, outcome: impl FnOnce() -> Result<Negotiated, NegotiationError>) {
    println!("{title}");
    match outcome() {
        Ok(agreed) => println!("{agreed:#?}\n"),
        Err(e) => println!("  no agreement: {e}\n"),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let modern = Preferences::default();
    show(
        "1. sekura client with defaults -> sekura server with defaults",
        || agree(&modern, &modern),
    );

    let device = old_device()?;
    show("2. sekura client with defaults -> old device", || {
        agree(&modern, &device)
    });

    let mut opted_in = Preferences::default();
    opted_in.set_kex("+diffie-hellman-group14-sha1")?;
    opted_in.set_host_key_algorithms("+ssh-rsa")?;
    opted_in.set_ciphers("+aes128-cbc")?;
    opted_in.set_macs("+hmac-sha1")?;
    show(
        "3. client after -o KexAlgorithms=+diffie-hellman-group14-sha1 -o HostKeyAlgorithms=+ssh-rsa \
         -o Ciphers=+aes128-cbc -o MACs=+hmac-sha1 -> old device",
        || agree(&opted_in, &device),
    );
    Ok(())
}
