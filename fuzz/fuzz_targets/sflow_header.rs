//! The sampled-packet header parser (`coreflow::decode::packet`) on arbitrary bytes, with
//! every header protocol sFlow names (Ethernet, IPv4, IPv6, MPLS, PPP, ...), as an Ethernet
//! frame (IPFIX dataLinkFrameSection) and from the IP header (ipHeaderPacketSection): it must stop
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
    // an IPFIX ipHeaderPacketSection starts at the IP header
    let mut rec = FlowRecord::default();
    let _ = packet::parse_ip(header, &mut rec);
    assert!(rec.layer_count as usize <= MAX_LAYERS);
});
