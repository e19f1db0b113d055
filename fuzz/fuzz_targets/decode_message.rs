//! `Message::decode` on hostile payloads, in every decode context.
//!
//! The first input byte chooses the context (bits 0-1: key exchange family,
//! bits 2-3: authentication family); the rest is the payload. A payload that
//! decodes must carry its own number and re-encode to bytes that decode to
//! the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sekura_proto::msg::{AuthFamily, KexFamily};
use sekura_proto::{DecodeContext, Encode, Message};

fn context(selector: u8) -> DecodeContext {
    let kex = match selector & 0b11 {
        0 => None,
        1 => Some(KexFamily::Dh),
        2 => Some(KexFamily::Ecdh),
        _ => Some(KexFamily::GroupExchange),
    };
    let auth = match (selector >> 2) & 0b11 {
        0 => None,
        1 => Some(AuthFamily::PublicKey),
        2 => Some(AuthFamily::Password),
        _ => Some(AuthFamily::KeyboardInteractive),
    };
    DecodeContext { kex, auth }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let ctx = context(selector);
    if let Ok(msg) = Message::decode(payload, &ctx) {
        assert_eq!(Some(msg.number()), payload.first().copied());
        let again = msg.to_vec();
        let back = Message::decode(&again, &ctx).expect("re-encoded message decodes");
        assert_eq!(back, msg);
        assert_eq!(back.to_vec(), again);
    }
});
