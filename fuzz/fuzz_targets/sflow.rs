//! One sFlow v5 datagram through `Decoder::decode` (the version field is forced, so every
//! input reaches the sFlow v5 decoder), every flow encoded in every schema.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| common::fuzz_version(data, &[0, 0, 0, 5]));
