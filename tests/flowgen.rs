//! flowgen's datagrams, as coreflow decodes them: every record the generator says it built
//! comes out once, with the byte and packet sums it reported ([`Sent`]) and the sequence
//! numbers of each protocol. The collector tests rely on these sums (flowgen's report against
//! coreflow's output); this checks them without sockets. The generator itself is in the
//! flowgen crate, which cannot depend on coreflow.

use coreflow::decode::Decoder;
use coreflow::flow::FlowRecord;
use coreflow_flowgen::{Exporter, GenOptions, GenProtocol, Sent};

const NOW: u64 = 1_700_000_000_000_000_000;

fn exporter(p: GenProtocol) -> Exporter {
    Exporter::new(0, "127.0.1.1".parse().unwrap(), GenOptions::new(p), NOW)
}

#[test]
fn v5_decodes_with_exact_sums() {
    let mut e = exporter(GenProtocol::V5);
    let mut dec = Decoder::default();
    let (mut bytes, mut packets, mut n) = (0u64, 0u64, 0u64);
    let mut total = Sent::default();
    for k in 0..5 {
        let mut d = Vec::new();
        let s = e.datagram(NOW, &mut d);
        assert_eq!(s.wire_bytes as usize, d.len());
        total.add(&s);
        dec.decode(e.ip, NOW, &d, &mut |r: &FlowRecord| {
            bytes += r.bytes;
            packets += r.packets;
            n += 1;
            assert_eq!(r.sequence_num, 30 * k);
            assert_eq!(r.sampling_rate, 1000);
        })
        .unwrap();
    }
    assert_eq!(
        (n, bytes, packets),
        (total.records, total.bytes, total.packets)
    );
    assert_eq!(total.datagrams, 5);
}

/// v9 and IPFIX (templates, options and data; one datagram in four IPv6) and sFlow: the
/// decoded records and their sums are what the generator reported, over enough datagrams to
/// resend the templates.
#[test]
fn every_protocol_decodes_with_exact_sums() {
    for p in [GenProtocol::V9, GenProtocol::Ipfix, GenProtocol::Sflow] {
        let opts = GenOptions {
            template_every: 4,
            ..GenOptions::new(p)
        };
        let mut e = Exporter::new(3, "127.0.1.4".parse().unwrap(), opts, NOW);
        let mut dec = Decoder::default();
        let (mut bytes, mut packets, mut n) = (0u64, 0u64, 0u64);
        let mut total = Sent::default();
        for _ in 0..10 {
            let mut d = Vec::new();
            let s = e.datagram(NOW, &mut d);
            assert_eq!(s.wire_bytes as usize, d.len(), "{p:?}");
            total.add(&s);
            dec.decode(e.ip, NOW, &d, &mut |r: &FlowRecord| {
                bytes += r.bytes;
                packets += r.packets;
                n += 1;
            })
            .unwrap_or_else(|err| panic!("{p:?}: {err:?}"));
        }
        assert_eq!(
            (n, bytes, packets),
            (total.records, total.bytes, total.packets),
            "{p:?}"
        );
        assert_eq!(total.datagrams, 10, "{p:?}");
    }
}
