//! Several datagrams fed to one `Decoder`: templates, then data that uses them, from two
//! exporters. Input format (see `coreflow_flowgen::builders::stateful_input`): repeated
//! `[flags u8][length u16 BE][bytes]`; bit 0 of flags picks the exporter.
//!
//! After the sequence, a third exporter that the input never used sends a known template +
//! data (NetFlow v9, IPFIX) and a NetFlow v5 datagram: the decoder must give exactly what a
//! fresh decoder gives (state learned from one exporter never leaks into another's flows).

#![no_main]

mod common;

use coreflow::decode::Decoder;
use coreflow::flow::FlowRecord;
use coreflow_flowgen::builders;
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use std::sync::OnceLock;

const PROBE_EXPORTER: [u8; 4] = [198, 51, 100, 77];

/// The probe datagrams and what a fresh decoder gives for each (computed once).
fn probes() -> &'static [(Vec<u8>, Vec<FlowRecord>)] {
    static PROBES: OnceLock<Vec<(Vec<u8>, Vec<FlowRecord>)>> = OnceLock::new();
    PROBES.get_or_init(|| {
        let mut fresh = Decoder::default();
        [
            builders::netflow9_template_and_data(3, 1),
            builders::ipfix_template_and_data(3, 1),
            builders::netflow5(3),
        ]
        .into_iter()
        .map(|p| {
            let want = common::decode_plain(&mut fresh, IpAddr::from(PROBE_EXPORTER), &p);
            (p, want)
        })
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let exporters: [IpAddr; 2] = [
        IpAddr::from([192, 0, 2, 1]),
        IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
    ];
    let mut dec = Decoder::default();
    let mut rest = data;
    let mut n = 0;
    while rest.len() >= 3 && n < 64 {
        let flags = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let chunk = &rest[..len.min(rest.len())];
        rest = &rest[chunk.len()..];
        common::decode_checked(&mut dec, exporters[usize::from(flags & 1)], chunk);
        n += 1;
    }

    for (p, want) in probes() {
        let got = common::decode_plain(&mut dec, IpAddr::from(PROBE_EXPORTER), p);
        assert_eq!(
            &got, want,
            "another exporter's state changed this exporter's flows"
        );
    }
});
