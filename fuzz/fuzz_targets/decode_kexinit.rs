//! `KexInit::decode` on hostile payloads: never panics, and what decodes
//! re-encodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sekura_proto::Encode;
use sekura_proto::msg::KexInit;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = KexInit::decode(data) {
        let again = msg.to_vec();
        let back = KexInit::decode(&again).expect("re-encoded KEXINIT decodes");
        assert_eq!(back, msg);
        assert_eq!(msg.clone().into_owned(), msg);
    }
});
