//! `TerminalModes::parse` on hostile bytes: never panics, and what parses
//! re-encodes to modes that parse the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sekura_proto::msg::TerminalModes;

fuzz_target!(|data: &[u8]| {
    if let Ok(modes) = TerminalModes::parse(data) {
        let again = modes.to_bytes();
        assert_eq!(again.len(), modes.encoded_len());
        let back = TerminalModes::parse(&again).expect("re-encoded modes parse");
        assert_eq!(back, modes);
    }
});
