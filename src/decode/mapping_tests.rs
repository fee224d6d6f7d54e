//! `[[mapping]]` through the decoders: which fields of a NetFlow v9 / IPFIX record and which
//! bits of an sFlow sampled header reach the sink, for fixed- and variable-length templates,
//! enterprise elements and repeated ones; and hostile input (every truncation of a mapped
//! datagram decodes or fails, never panics).

use super::nftest::{ipfix, ipfix_template, set, v9, v9_template, EXPORTER, RECV_NS};
use super::{Decoder, FlowSink};
use crate::flow::FlowRecord;
use crate::mapping::{Entry, Layer, Mapped, Mapping, Protocol, Repeat, Source, ValueType};
use std::net::IpAddr;
use std::sync::Arc;

/// (entry, bytes) of each mapped value of a flow.
type Values = Vec<(u16, Vec<u8>)>;

/// What a sink saw: per flow, the record and its mapped values.
#[derive(Default)]
struct Seen {
    flows: Vec<(FlowRecord, Values)>,
}

impl FlowSink for Seen {
    fn flow(&mut self, rec: &FlowRecord) {
        self.flows.push((*rec, Vec::new()));
    }
    fn flow_mapped(&mut self, rec: &FlowRecord, m: &Mapped<'_>) {
        for v in m.vals {
            assert!(v.off as usize + v.len as usize <= m.data.len(), "{v:?}");
        }
        let vals = m
            .vals
            .iter()
            .map(|v| (v.entry, m.bytes(v).to_vec()))
            .collect();
        self.flows.push((*rec, vals));
    }
}

fn element(protocol: Protocol, pen: u32, id: u16, ty: ValueType, repeat: Repeat) -> Entry {
    Entry {
        source: Source::Element { protocol, pen, id },
        number: 1000,
        name: "x".into(),
        ty,
        repeat,
    }
}

fn decode(m: Mapping, dgrams: &[Vec<u8>]) -> Seen {
    let mut dec = Decoder::default();
    dec.set_mapping(Some(Arc::new(m)));
    let mut seen = Seen::default();
    for d in dgrams {
        let _ = dec.decode(IpAddr::from(EXPORTER), RECV_NS, d, &mut seen);
    }
    seen
}

/// IPFIX, fixed length: an enterprise element, an element repeated three times (first, last,
/// all), an IANA element, and an entry of the wrong size (no value).
#[test]
fn ipfix_fixed_length_elements() {
    let fields = [
        (8, 4, 0),   // source address
        (95, 4, 9),  // enterprise 9 element 95
        (225, 4, 0), // postNATSourceIPv4Address, three times
        (225, 4, 0),
        (225, 4, 0),
        (12, 4, 0), // destination address
        (7, 2, 0),  // source port
    ];
    let mut rec = Vec::new();
    for (i, _) in fields.iter().enumerate() {
        rec.extend_from_slice(&[10, 0, 0, i as u8]);
    }
    rec.truncate(rec.len() - 2); // the port is 2 bytes
    let mut body = rec.clone();
    body.extend_from_slice(&rec);
    let d = ipfix(
        1_700_000_000,
        1,
        7,
        &[set(2, &ipfix_template(300, &fields)), set(300, &body)],
    );
    let m = Mapping {
        entries: vec![
            element(Protocol::Ipfix, 9, 95, ValueType::Uint, Repeat::First),
            element(Protocol::Ipfix, 0, 225, ValueType::Ip, Repeat::First),
            element(Protocol::Ipfix, 0, 225, ValueType::Ip, Repeat::Last),
            element(Protocol::Netflow, 0, 225, ValueType::Ip, Repeat::All),
            // the wrong enterprise, NetFlow v9 only, a 2-byte element as an address
            element(Protocol::Ipfix, 8, 95, ValueType::Uint, Repeat::First),
            element(Protocol::Netflow9, 0, 8, ValueType::Ip, Repeat::First),
            element(Protocol::Ipfix, 0, 7, ValueType::Ip, Repeat::First),
            element(Protocol::Ipfix, 0, 7, ValueType::Uint, Repeat::First),
        ],
    };
    let seen = decode(m, &[d]);
    assert_eq!(seen.flows.len(), 2);
    for (r, vals) in &seen.flows {
        assert_eq!(r.src_addr, crate::flow::Addr::v4([10, 0, 0, 0]));
        assert_eq!(
            *vals,
            vec![
                (0, vec![10, 0, 0, 1]),
                (1, vec![10, 0, 0, 2]),
                (2, vec![10, 0, 0, 4]),
                (3, vec![10, 0, 0, 2]),
                (3, vec![10, 0, 0, 3]),
                (3, vec![10, 0, 0, 4]),
                (7, vec![10, 0]),
            ]
        );
    }
}

/// IPFIX, variable length: the values are found by walking each record.
#[test]
fn ipfix_variable_length_elements() {
    let fields = [
        (96, 65535, 0),
        (95, 65535, 35632),
        (7, 2, 0),
        (96, 65535, 0),
    ];
    let mut body = Vec::new();
    for (name, app) in [(&b"dns"[..], &b"\x01\x02"[..]), (b"http", b"\x03")] {
        body.push(name.len() as u8);
        body.extend_from_slice(name);
        body.push(app.len() as u8);
        body.extend_from_slice(app);
        body.extend_from_slice(&[0, 53]);
        // a long form length (255, then 2 bytes)
        body.extend_from_slice(&[255, 0, 2, b'x', b'y']);
    }
    let d = ipfix(
        1_700_000_000,
        1,
        7,
        &[set(2, &ipfix_template(301, &fields)), set(301, &body)],
    );
    let m = Mapping {
        entries: vec![
            element(Protocol::Ipfix, 35632, 95, ValueType::Bytes, Repeat::First),
            element(Protocol::Ipfix, 0, 96, ValueType::String, Repeat::All),
            element(Protocol::Ipfix, 0, 7, ValueType::Uint, Repeat::Last),
        ],
    };
    let seen = decode(m, &[d]);
    assert_eq!(seen.flows.len(), 2);
    assert_eq!(
        seen.flows[0].1,
        vec![
            (0, vec![1, 2]),
            (1, b"dns".to_vec()),
            (1, b"xy".to_vec()),
            (2, vec![0, 53])
        ]
    );
    assert_eq!(
        seen.flows[1].1,
        vec![
            (0, vec![3]),
            (1, b"http".to_vec()),
            (1, b"xy".to_vec()),
            (2, vec![0, 53])
        ]
    );
}

/// NetFlow v9: field ids (vendor ones above 32767 included), never enterprise numbers; an
/// unmapped template keeps the plain `flow` path.
#[test]
fn netflow9_fields() {
    let fields = [(8, 4), (95, 4), (57590, 2)];
    let other = [(8, 4), (12, 4)];
    let rec = [10, 0, 0, 1, 13, 0, 0, 7, 0, 9];
    let d = v9(
        3,
        1000,
        1_700_000_000,
        1,
        0,
        &[
            set(
                0,
                &[v9_template(260, &fields), v9_template(261, &other)].concat(),
            ),
            set(260, &rec),
            set(261, &[10, 0, 0, 1, 10, 0, 0, 2]),
        ],
    );
    let m = Mapping {
        entries: vec![
            element(Protocol::Netflow9, 0, 95, ValueType::Uint, Repeat::First),
            element(Protocol::Netflow, 0, 57590, ValueType::Uint, Repeat::First),
            element(Protocol::Ipfix, 0, 95, ValueType::Uint, Repeat::First),
        ],
    };
    let seen = decode(m, &[d]);
    assert_eq!(seen.flows.len(), 2);
    assert_eq!(
        seen.flows[0].1,
        vec![(0, vec![13, 0, 0, 7]), (1, vec![0, 9])]
    );
    assert!(seen.flows[1].1.is_empty());
}

fn sflow_entry(layer: Layer, offset: u32, length: u32, ty: ValueType) -> Entry {
    Entry {
        source: Source::Sflow {
            layer,
            offset,
            length,
        },
        number: 1000,
        name: "x".into(),
        ty,
        repeat: Repeat::First,
    }
}

/// sFlow: bits from the header's start, the IP header and the transport header; a layer the
/// header lacks (UDP in a TCP packet) and bits past the header give nothing.
#[test]
fn sflow_header_bits() {
    use coreflow_flowgen::builders;
    let header = builders::eth_ipv4_tcp(128);
    let d = builders::sflow_flow_samples(1, &header);
    let m = Mapping {
        entries: vec![
            sflow_entry(Layer::Header, 96, 16, ValueType::Uint),
            sflow_entry(Layer::Network(Some(4)), 96, 32, ValueType::Ip),
            sflow_entry(Layer::Transport(Some(6)), 16, 16, ValueType::Uint),
            sflow_entry(Layer::Transport(Some(17)), 16, 16, ValueType::Uint),
            sflow_entry(Layer::Network(None), 4, 4, ValueType::Uint),
            sflow_entry(Layer::Header, 127 * 8, 16, ValueType::Bytes),
        ],
    };
    let seen = decode(m, &[d]);
    assert_eq!(seen.flows.len(), 1);
    let (r, vals) = &seen.flows[0];
    let src = r.src_addr.as_slice().to_vec();
    assert_eq!(
        *vals,
        vec![
            (0, vec![0x08, 0x00]),
            (1, src),
            (2, r.dst_port.to_be_bytes()[2..].to_vec()),
            (4, vec![5]),
        ]
    );
}

/// Every prefix of mapped datagrams (fixed, variable-length, sFlow) decodes or fails, never
/// panics, and no value points outside the datagram.
#[test]
fn truncated_mapped_datagrams_never_panic() {
    let fields = [(96, 65535, 0), (95, 4, 9), (7, 2, 0)];
    let mut body = vec![3, b'a', b'b', b'c', 1, 2, 3, 4, 0, 80];
    body.extend_from_slice(&[255, 0, 3, b'x', b'y', b'z', 5, 6, 7, 8, 0, 81]);
    let template = ipfix(1, 1, 7, &[set(2, &ipfix_template(302, &fields))]);
    let data = ipfix(1, 2, 7, &[set(302, &body)]);
    let header = coreflow_flowgen::builders::eth_ipv4_tcp(128);
    let sflow = coreflow_flowgen::builders::sflow_flow_samples(2, &header);
    let m = Arc::new(Mapping {
        entries: vec![
            element(Protocol::Ipfix, 0, 96, ValueType::String, Repeat::All),
            element(Protocol::Ipfix, 9, 95, ValueType::Uint, Repeat::Last),
            element(Protocol::Ipfix, 0, 7, ValueType::Bytes, Repeat::First),
            sflow_entry(Layer::Transport(None), 0, 32, ValueType::Uint),
            sflow_entry(Layer::Header, 0, 1024, ValueType::Bytes),
        ],
    });
    for full in [&data, &sflow] {
        for n in 0..=full.len() {
            let mut dec = Decoder::default();
            dec.set_mapping(Some(m.clone()));
            let mut seen = Seen::default();
            let ip = IpAddr::from(EXPORTER);
            let _ = dec.decode(ip, RECV_NS, &template, &mut seen);
            let _ = dec.decode(ip, RECV_NS, &full[..n], &mut seen);
        }
    }
}
