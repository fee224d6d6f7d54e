//! The sampled-packet header parser (`coreflow::decode::packet`) on arbitrary bytes, with
//! every header protocol sFlow names (Ethernet, IPv4, IPv6, MPLS, PPP, ...): it must stop
//! cleanly at the captured length, never panic, and never claim more layers than it keeps.

#![no_main]

use coreflow::decode::packet;
use coreflow::flow::{FlowRecord, MAX_LAYERS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&proto, header)) = data.split_first() else {
        return;
    };
    let mut rec = FlowRecord::default();
    let _ = packet::parse(u32::from(proto % 16), header, &mut rec);
    assert!(rec.layer_count as usize <= MAX_LAYERS);
    let mut rec = FlowRecord::default();
    let _ = packet::parse_ethernet(header, &mut rec);
    assert!(rec.layer_count as usize <= MAX_LAYERS);
});
