//! Unit tests of the rules a record's elements are combined by: packet sections (fields
//! from the frame, the record's own fields kept), the counter rule (one test per counter
//! combination, each record of a set decoded the same way with and without record reuse),
//! and the sampling rate by selector algorithm.

use super::plan::Plan;
use super::record::decode_data;
use super::sampling::{Sampling, S304, S305, S306, S309, S310, S311, S34, S50};
use super::slots::NO_REUSE;
use super::time::RecCtx;
use super::SamplerRates;
use crate::decode::spec::{FieldSpec, VARLEN};
use crate::flow::{Addr, FlowRecord};

struct NoSamplers;
impl SamplerRates for NoSamplers {
    fn rate(&self, _: u64) -> Option<u64> {
        None
    }
}

fn f(id: u16, len: u16) -> FieldSpec {
    FieldSpec { id, len, pen: 0 }
}

/// Every record of `data` decoded by the template `fields`, with record reuse and slots,
/// checked equal to the plain path's (each record from the base, ops in template order).
fn decode(fields: &[FieldSpec], data: &[u8]) -> Vec<FlowRecord> {
    let plan = Plan::build(fields, false, 0, false, 256).unwrap();
    let run = |plain: bool| {
        NO_REUSE.with(|c| c.set(plain));
        let mut out = Vec::new();
        let base = FlowRecord::default();
        let o = decode_data(
            &plan,
            data,
            &base,
            &RecCtx::default(),
            &NoSamplers,
            1000,
            &mut |r: &FlowRecord| out.push(*r),
        );
        NO_REUSE.with(|c| c.set(false));
        assert!(o.error.is_none(), "{:?}", o.error);
        out
    };
    let fast = run(false);
    assert_eq!(fast, run(true), "reuse and slots change the records");
    fast
}

fn be(v: u64, len: usize) -> Vec<u8> {
    v.to_be_bytes()[8 - len..].to_vec()
}

/// Records of one template: each a list of (value, length) in template order.
fn records(rows: &[&[(u64, usize)]]) -> Vec<u8> {
    let mut out = Vec::new();
    for row in rows {
        for &(v, l) in *row {
            out.extend_from_slice(&be(v, l));
        }
    }
    out
}

fn counters(fields: &[FieldSpec], rows: &[&[(u64, usize)]]) -> Vec<(u64, u64)> {
    decode(fields, &records(rows))
        .iter()
        .map(|r| (r.bytes, r.packets))
        .collect()
}

#[test]
fn counters_delta_only() {
    let t = [f(8, 4), f(1, 8), f(2, 8)];
    let got = counters(
        &t,
        &[&[(1, 4), (100, 8), (2, 8)], &[(1, 4), (0, 8), (0, 8)]],
    );
    assert_eq!(got, [(100, 2), (0, 0)]);
}

#[test]
fn counters_post_only() {
    let t = [f(8, 4), f(23, 8), f(24, 8)];
    let got = counters(
        &t,
        &[&[(1, 4), (32, 8), (1, 8)], &[(1, 4), (64, 8), (2, 8)]],
    );
    assert_eq!(got, [(32, 1), (64, 2)]);
}

/// IE 1 = 0 and IE 23 = 32 in every record, ingress and egress alike (DIRECTION 61 = 0 / 1):
/// every record reports 32, whatever the element order and the record's place in its set.
#[test]
fn counters_pre_and_post_in_one_template() {
    for t in [
        vec![f(8, 4), f(61, 1), f(1, 8), f(23, 8), f(2, 8), f(24, 8)],
        vec![f(8, 4), f(61, 1), f(23, 8), f(1, 8), f(24, 8), f(2, 8)],
        vec![f(8, 4), f(61, 1), f(23, 4), f(1, 4), f(24, 4), f(2, 4)],
    ] {
        let l = t[2].len as usize;
        let first_is_1 = t[2].id == 1;
        // a record by IE: (direction, IE 1, IE 23), packets the same
        let row = |dir: u64, ie1: u64, ie23: u64| {
            let (a, b) = if first_is_1 { (ie1, ie23) } else { (ie23, ie1) };
            [(1, 4), (dir, 1), (a, l), (b, l), (a, l), (b, l)]
        };
        let rows = [
            row(0, 0, 32),
            row(1, 0, 32),
            row(0, 50, 0),
            row(1, 50, 7),
            row(0, 0, 32),
            row(1, 0, 32),
        ];
        let refs: Vec<&[(u64, usize)]> = rows.iter().map(|r| &r[..]).collect();
        let rs = decode(&t, &records(&refs));
        let got: Vec<_> = rs
            .iter()
            .map(|r| (r.flow_direction, r.bytes, r.packets))
            .collect();
        assert_eq!(
            got,
            [
                (0, 32, 32),
                (1, 32, 32),
                (0, 50, 50),
                (1, 50, 50),
                (0, 32, 32),
                (1, 32, 32)
            ],
            "{t:?}"
        );
    }
}

#[test]
fn counters_total_only_when_no_delta() {
    let t = [f(1, 8), f(85, 8), f(2, 8), f(86, 8)];
    assert_eq!(
        counters(&t, &[&[(0, 8), (900, 8), (0, 8), (9, 8)]]),
        [(0, 0)]
    );
    let t = [f(85, 8), f(86, 8)];
    assert_eq!(counters(&t, &[&[(900, 8), (9, 8)]]), [(900, 9)]);
}

#[test]
fn counters_initiator_and_responder() {
    // NSEL / RFC 5103-style connections: both directions add up, record after record
    let t = [f(8, 4), f(231, 4), f(232, 4), f(298, 8), f(299, 8)];
    let got = counters(
        &t,
        &[
            &[(1, 4), (100, 4), (20, 4), (3, 8), (1, 8)],
            &[(1, 4), (0, 4), (0, 4), (0, 8), (0, 8)],
            &[(1, 4), (0, 4), (5, 4), (0, 8), (1, 8)],
        ],
    );
    assert_eq!(got, [(120, 4), (0, 0), (5, 1)]);
    // beside a delta counter they are not read
    let t = [f(1, 4), f(231, 4), f(232, 4)];
    assert_eq!(counters(&t, &[&[(7, 4), (100, 4), (20, 4)]]), [(7, 0)]);
}

/// IPFIX dataLinkFrameSection record: Juniper inline monitoring's layout (ingress
/// interface, direction, frame size, the frame as a variable-length field).
fn juniper(frame: &[u8], frame_size: u16) -> (Vec<FieldSpec>, Vec<u8>) {
    let t = vec![f(10, 4), f(61, 1), f(312, 2), f(315, VARLEN)];
    let mut d = be(582, 4);
    d.push(0);
    d.extend_from_slice(&frame_size.to_be_bytes());
    d.push(frame.len() as u8);
    d.extend_from_slice(frame);
    (t, d)
}

#[test]
fn frame_section_fills_the_flow() {
    let frame = crate::decode::packet::tests::eth_ipv4_tcp(100);
    let (t, d) = juniper(&frame, 1514);
    let r = decode(&t, &d)[0];
    assert_eq!((r.in_if, r.bytes, r.packets), (582, 1514, 1));
    assert_eq!(r.etype, 0x0800);
    assert!(r.src_addr.is_v4());
    assert_ne!((r.src_port, r.dst_port, r.proto), (0, 0, 0));
    assert!(r.groups_hold());
    // without dataLinkFrameSize: the IP total length
    let t2 = [f(10, 4), f(315, VARLEN)];
    let mut d2 = be(1, 4);
    d2.push(frame.len() as u8);
    d2.extend_from_slice(&frame);
    let r2 = decode(&t2, &d2)[0];
    let mut want = FlowRecord::default();
    let p = crate::decode::packet::parse_ethernet(&frame, &mut want);
    assert_eq!(r2.bytes, u64::from(p.ip_len));
    assert_eq!((r2.src_addr, r2.dst_addr), (want.src_addr, want.dst_addr));
    // a section cut inside the Ethernet header: the section's length, no addresses
    let mut d3 = be(1, 4);
    d3.extend_from_slice(&[10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let r3 = decode(&t2, &d3)[0];
    assert_eq!((r3.bytes, r3.packets, r3.src_addr), (10, 1, Addr::NONE));
}

#[test]
fn record_fields_win_over_the_frame() {
    let frame = crate::decode::packet::tests::eth_ipv4_tcp(100);
    // NetFlow v9 layer2packetSectionData (104) of fixed length, with the record's own
    // source address, protocol and counters
    let t = [
        f(8, 4),
        f(4, 1),
        f(1, 4),
        f(2, 4),
        f(104, frame.len() as u16),
    ];
    let mut d = vec![192, 0, 2, 9, 99];
    d.extend_from_slice(&be(7000, 4));
    d.extend_from_slice(&be(5, 4));
    d.extend_from_slice(&frame);
    let rs = decode(&t, &[d.clone(), d].concat());
    for r in rs {
        assert_eq!(r.src_addr, Addr::v4([192, 0, 2, 9]));
        assert_eq!((r.proto, r.bytes, r.packets), (99, 7000, 5));
        assert_ne!(r.dst_addr, Addr::NONE, "from the frame");
        assert_ne!(r.src_port, 0, "from the frame");
    }
}

#[test]
fn section_offset_decodes_nothing() {
    let frame = crate::decode::packet::tests::eth_ipv4_tcp(100);
    let t = [f(409, 2), f(312, 2), f(315, VARLEN)];
    let mut d = be(14, 2);
    d.extend_from_slice(&be(1500, 2));
    d.push(frame.len() as u8);
    d.extend_from_slice(&frame);
    let plan = Plan::build(&t, false, 0, false, 256).unwrap();
    let mut out = Vec::new();
    let o = decode_data(
        &plan,
        &d,
        &FlowRecord::default(),
        &RecCtx::default(),
        &NoSamplers,
        10,
        &mut |r: &FlowRecord| out.push(*r),
    );
    assert_eq!(o.sections_skipped, 1);
    assert_eq!(
        (out[0].bytes, out[0].packets, out[0].src_addr),
        (1500, 1, Addr::NONE)
    );
}

#[test]
fn ip_header_and_label_stack_sections() {
    let frame = crate::decode::packet::tests::eth_ipv4_tcp(100);
    let t = [f(313, VARLEN)];
    let mut d = vec![(frame.len() - 14) as u8];
    d.extend_from_slice(&frame[14..]);
    let r = decode(&t, &d)[0];
    assert!(r.src_addr.is_v4());
    assert_eq!(r.etype, 0x0800);
    let t = [f(316, 8)];
    let d = [0, 0, 0x10, 0x40, 0, 0, 0x21, 0x40];
    let r = decode(&t, &d)[0];
    assert_eq!(&r.mpls_labels[..r.mpls_count as usize], &[1, 2]);
    assert_eq!((r.bytes, r.packets), (8, 1));
}

fn sampling(set: &[(u8, u64)]) -> Option<u64> {
    let mut s = Sampling::default();
    for &(i, v) in set {
        s.raw[i as usize] = v;
        s.present |= 1 << i;
    }
    s.rate()
}

#[test]
fn sampling_by_selector_algorithm() {
    // pmacct-104: random n-out-of-N, with a samplingPacketInterval of 1 beside it
    assert_eq!(
        sampling(&[(S304, 3), (S305, 1), (S309, 1), (S310, 256)]),
        Some(256)
    );
    // 1: systematic count-based
    assert_eq!(
        sampling(&[(S304, 1), (S305, 2), (S306, 998), (S309, 1), (S310, 7)]),
        Some(500)
    );
    assert_eq!(sampling(&[(S304, 1), (S305, 100)]), Some(100));
    // 4: uniform probabilistic
    assert_eq!(
        sampling(&[(S304, 4), (S311, 0.001f64.to_bits())]),
        Some(1000)
    );
    assert_eq!(
        sampling(&[(S304, 4), (S311, 0f64.to_bits()), (S34, 9)]),
        Some(9)
    );
    // 2: systematic time-based gives no packet rate: today's order
    assert_eq!(sampling(&[(S304, 2), (S305, 10), (S34, 7)]), Some(10));
    // an algorithm whose elements are missing: today's order
    assert_eq!(sampling(&[(S304, 3), (S50, 64)]), Some(64));
    // no algorithm: today's order (305 before 50 before 34 before 310/309)
    assert_eq!(sampling(&[(S305, 1), (S309, 1), (S310, 256)]), Some(1));
    assert_eq!(sampling(&[(S309, 1), (S310, 256)]), Some(256));
}

#[test]
fn sampling_probability_float32() {
    // a 4-byte samplingProbability (reduced-size float32) in an options record
    let t = [f(302, 4), f(304, 2), f(311, 4)];
    let plan = Plan::build(&t, true, 1, false, 256).unwrap();
    let mut d = be(1, 4);
    d.extend_from_slice(&be(4, 2));
    d.extend_from_slice(&0.01f32.to_bits().to_be_bytes());
    let mut rate = None;
    super::decode_options(&plan, &d, 10, |s| rate = s.rate());
    assert_eq!(rate, Some(100));
}
