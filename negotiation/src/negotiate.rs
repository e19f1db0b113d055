//! RFC 4253 §7.1: from the two KEXINITs to one algorithm per category and
//! direction.

use crate::error::{Category, Direction, NegotiationError};
use crate::preferences::Preferences;
use crate::registry::Registry;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use sekura_algorithms::{Algorithm, Cipher, Compression, Kex, Mac, SignatureAlgorithm};
use sekura_proto::NameList;
use sekura_proto::msg::KexInit;

/// What the two KEXINITs agreed on, resolved to our implementations.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Negotiated {
    /// The key exchange method.
    pub kex: &'static dyn Kex,
    /// The host key algorithm. Always `Some` when
    /// [`kex.needs_signing_host_key()`](Kex::needs_signing_host_key), as
    /// every method sekura ships does; `None` only for a method that needs
    /// no signing host key when the lists share no host key algorithm.
    pub host_key: Option<&'static dyn SignatureAlgorithm>,
    /// The cipher, client to server.
    pub cipher_c2s: &'static dyn Cipher,
    /// The cipher, server to client.
    pub cipher_s2c: &'static dyn Cipher,
    /// The MAC, client to server; `None` when the cipher is an AEAD, whose
    /// tag takes the MAC's place.
    pub mac_c2s: Option<&'static dyn Mac>,
    /// The MAC, server to client; `None` for an AEAD cipher.
    pub mac_s2c: Option<&'static dyn Mac>,
    /// Compression, client to server.
    pub compression_c2s: &'static dyn Compression,
    /// Compression, server to client.
    pub compression_s2c: &'static dyn Compression,
    /// The client set `first_kex_packet_follows` and guessed wrong: the
    /// next packet from the client must be silently ignored.
    pub ignore_client_guess: bool,
    /// The server set `first_kex_packet_follows` and guessed wrong: the
    /// next packet from the server must be silently ignored.
    pub ignore_server_guess: bool,
    /// The client offered `ext-info-c`: the server may send EXT_INFO
    /// (RFC 8308).
    pub server_may_send_ext_info: bool,
    /// The server offered `ext-info-s`: the client may send EXT_INFO.
    pub client_may_send_ext_info: bool,
    /// Both sides offered OpenSSH's strict key exchange
    /// (`kex-strict-c-v00@openssh.com` from the client and
    /// `kex-strict-s-v00@openssh.com` from the server). It only counts on
    /// the first exchange of a connection, whose KEXINITs alone carry the
    /// pseudo-algorithms; the transport keeps it for the connection.
    pub strict_kex: bool,
}

impl Negotiated {
    /// The cipher of one direction.
    #[must_use]
    pub fn cipher(&self, direction: Direction) -> &'static dyn Cipher {
        match direction {
            Direction::ClientToServer => self.cipher_c2s,
            Direction::ServerToClient => self.cipher_s2c,
        }
    }

    /// The MAC of one direction (`None` with an AEAD cipher).
    #[must_use]
    pub fn mac(&self, direction: Direction) -> Option<&'static dyn Mac> {
        match direction {
            Direction::ClientToServer => self.mac_c2s,
            Direction::ServerToClient => self.mac_s2c,
        }
    }

    /// The compression method of one direction.
    #[must_use]
    pub fn compression(&self, direction: Direction) -> &'static dyn Compression {
        match direction {
            Direction::ClientToServer => self.compression_c2s,
            Direction::ServerToClient => self.compression_s2c,
        }
    }
}

impl fmt::Debug for Negotiated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Negotiated")
            .field("kex", &self.kex.name())
            .field("host_key", &self.host_key.map(|a| a.name()))
            .field("cipher_c2s", &self.cipher_c2s.name())
            .field("cipher_s2c", &self.cipher_s2c.name())
            .field("mac_c2s", &self.mac_c2s.map(|a| a.name()))
            .field("mac_s2c", &self.mac_s2c.map(|a| a.name()))
            .field("compression_c2s", &self.compression_c2s.name())
            .field("compression_s2c", &self.compression_s2c.name())
            .field("ignore_client_guess", &self.ignore_client_guess)
            .field("ignore_server_guess", &self.ignore_server_guess)
            .field("server_may_send_ext_info", &self.server_may_send_ext_info)
            .field("client_may_send_ext_info", &self.client_may_send_ext_info)
            .field("strict_kex", &self.strict_kex)
            .finish()
    }
}

/// The names of a list, for an error message.
fn owned(list: &NameList<'_>) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// The first name of `client` that `server` also has and `known` resolves
/// (RFC 4253 §7.1: the client's preference wins).
fn choose<T: ?Sized + Algorithm + 'static>(
    client: &NameList<'_>,
    server: &NameList<'_>,
    known: &Registry<T>,
) -> Option<&'static T> {
    client
        .iter()
        .filter(|name| server.contains(name))
        .find_map(|name| known.get(name))
}

fn choose_or_fail<T: ?Sized + Algorithm + 'static>(
    category: Category,
    client: &NameList<'_>,
    server: &NameList<'_>,
    known: &Registry<T>,
) -> Result<&'static T, NegotiationError> {
    choose(client, server, known).ok_or_else(|| NegotiationError::NoCommonAlgorithm {
        category,
        client: owned(client),
        server: owned(server),
    })
}

/// Negotiates one direction's cipher and MAC: an AEAD cipher makes the MAC
/// implicit, and the MAC lists are then not consulted at all.
fn cipher_and_mac(
    direction: Direction,
    client: (&NameList<'_>, &NameList<'_>),
    server: (&NameList<'_>, &NameList<'_>),
    ciphers: &Registry<dyn Cipher>,
    macs: &Registry<dyn Mac>,
) -> Result<(&'static dyn Cipher, Option<&'static dyn Mac>), NegotiationError> {
    let cipher = choose_or_fail(Category::Cipher(direction), client.0, server.0, ciphers)?;
    if cipher.aead_tag_len().is_some() {
        return Ok((cipher, None));
    }
    let mac = choose_or_fail(Category::Mac(direction), client.1, server.1, macs)?;
    Ok((cipher, Some(mac)))
}

/// Agrees on the algorithms of a key exchange, per RFC 4253 §7.1.
///
/// * In every category and direction the choice is the first algorithm on
///   the client's list that is also on the server's, resolved to an
///   implementation from `ours`' known algorithms (we are one of the two
///   sides, so every name both offer is one we know; a name we do not know
///   is passed over).
/// * A key exchange method is chosen only if a compatible host key
///   algorithm exists: for a method that needs a signing host key, a host
///   key algorithm both offer (every host key algorithm sekura knows signs).
///   The pseudo-algorithms (`ext-info-*`, `kex-strict-*`) are never chosen.
/// * With an AEAD cipher the direction's MAC is implicit (`None`), even if
///   the MAC lists share nothing.
/// * A guessed packet (`first_kex_packet_follows`) is wrong when the two
///   sides' first key exchange methods or first host key algorithms differ;
///   [`Negotiated::ignore_client_guess`] and
///   [`Negotiated::ignore_server_guess`] say whose next packet to drop.
/// * The language lists are ignored.
///
/// A failure names the category and what each side offered.
pub fn negotiate(
    client: &KexInit<'_>,
    server: &KexInit<'_>,
    ours: &Preferences,
) -> Result<Negotiated, NegotiationError> {
    let host_keys = ours.host_key.known();
    let host_key = choose(
        &client.server_host_key_algorithms,
        &server.server_host_key_algorithms,
        host_keys,
    );

    // Key exchange: first client method the server has, that we know, that
    // is no pseudo-algorithm and whose host key needs can be met.
    let mut skipped_for_host_key = false;
    let kex = client
        .kex_algorithms
        .iter()
        .filter(|name| !crate::is_pseudo_algorithm(name))
        .filter(|name| server.kex_algorithms.contains(name))
        .filter_map(|name| ours.kex.known().get(name))
        .find(|kex| {
            let compatible = !kex.needs_signing_host_key() || host_key.is_some();
            skipped_for_host_key |= !compatible;
            compatible
        });
    let kex = match kex {
        Some(kex) => kex,
        None if skipped_for_host_key => {
            return Err(NegotiationError::NoCompatibleHostKey {
                client_kex: owned(&client.kex_algorithms),
                server_kex: owned(&server.kex_algorithms),
                client_host_key: owned(&client.server_host_key_algorithms),
                server_host_key: owned(&server.server_host_key_algorithms),
            });
        }
        None => {
            return Err(NegotiationError::NoCommonAlgorithm {
                category: Category::Kex,
                client: owned(&client.kex_algorithms),
                server: owned(&server.kex_algorithms),
            });
        }
    };

    let (cipher_c2s, mac_c2s) = cipher_and_mac(
        Direction::ClientToServer,
        (
            &client.encryption_algorithms_client_to_server,
            &client.mac_algorithms_client_to_server,
        ),
        (
            &server.encryption_algorithms_client_to_server,
            &server.mac_algorithms_client_to_server,
        ),
        ours.cipher_c2s.known(),
        ours.mac_c2s.known(),
    )?;
    let (cipher_s2c, mac_s2c) = cipher_and_mac(
        Direction::ServerToClient,
        (
            &client.encryption_algorithms_server_to_client,
            &client.mac_algorithms_server_to_client,
        ),
        (
            &server.encryption_algorithms_server_to_client,
            &server.mac_algorithms_server_to_client,
        ),
        ours.cipher_s2c.known(),
        ours.mac_s2c.known(),
    )?;
    let compression_c2s = choose_or_fail(
        Category::Compression(Direction::ClientToServer),
        &client.compression_algorithms_client_to_server,
        &server.compression_algorithms_client_to_server,
        ours.compression_c2s.known(),
    )?;
    let compression_s2c = choose_or_fail(
        Category::Compression(Direction::ServerToClient),
        &client.compression_algorithms_server_to_client,
        &server.compression_algorithms_server_to_client,
        ours.compression_s2c.known(),
    )?;

    // RFC 4253 §7: the guess is wrong when the preferred (first) key
    // exchange method or host key algorithm of the two sides differ.
    let guess_right = client.kex_algorithms.iter().next() == server.kex_algorithms.iter().next()
        && client.server_host_key_algorithms.iter().next()
            == server.server_host_key_algorithms.iter().next();

    Ok(Negotiated {
        kex,
        host_key,
        cipher_c2s,
        cipher_s2c,
        mac_c2s,
        mac_s2c,
        compression_c2s,
        compression_s2c,
        ignore_client_guess: client.first_kex_packet_follows && !guess_right,
        ignore_server_guess: server.first_kex_packet_follows && !guess_right,
        server_may_send_ext_info: client.kex_algorithms.contains(crate::EXT_INFO_C),
        client_may_send_ext_info: server.kex_algorithms.contains(crate::EXT_INFO_S),
        strict_kex: client.kex_algorithms.contains(crate::KEX_STRICT_C)
            && server.kex_algorithms.contains(crate::KEX_STRICT_S),
    })
}

#[cfg(test)]
mod tests;
