//! Unit tests of the sFlow decoder over hand-built datagrams (`fixture`): every sample and
//! record kind, hostile counts and lengths, truncation and corruption at every offset.

use super::*;
use crate::flow::layer;
use coreflow_flowgen::builders::sflow::*;

#[derive(Default)]
struct Collect {
    flows: Vec<FlowRecord>,
    counters: Vec<CounterRecord>,
}

impl FlowSink for Collect {
    fn flow(&mut self, rec: &FlowRecord) {
        self.flows.push(*rec);
    }
    fn counters(&mut self, rec: &CounterRecord) {
        self.counters.push(*rec);
    }
}

fn run(d: &[u8]) -> (Result<Protocol, DecodeError>, Collect, Decoder) {
    let mut dec = Decoder::default();
    let mut out = Collect::default();
    let res = dec.decode(IpAddr::from([203, 0, 113, 9]), 77, d, &mut out);
    (res, out, dec)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn if_counters_body(if_index: u32) -> Vec<u8> {
    let mut b = u32s(&[if_index, 6]);
    b.extend_from_slice(&10_000_000_000u64.to_be_bytes());
    b.extend_from_slice(&u32s(&[1, 3]));
    b.extend_from_slice(&123_456_789_012u64.to_be_bytes());
    b.extend_from_slice(&u32s(&[1, 2, 3, 4, 5, 6]));
    b.extend_from_slice(&987_654_321_098u64.to_be_bytes());
    b.extend_from_slice(&u32s(&[7, 8, 9, 10, 11, 0]));
    assert_eq!(b.len(), InterfaceCounters::LEN);
    b
}

/// A datagram with everything: a compact flow sample with switch/router/gateway, an
/// expanded one with sampled IPv4 + Ethernet, a counter sample with four record types and
/// an unknown one, an unknown sample, a discarded-packet sample.
pub(crate) fn rich_datagram() -> Vec<u8> {
    let header = eth_ipv4_tcp_header(128);
    let s1 = flow_sample(
        10,
        3,
        512,
        9999,
        1,
        3,
        0x4000_0000 | 258,
        &[
            extended_switch(100, 0xffff_ffff),
            sampled_header(1, 1500, &header),
            extended_router(ip("192.0.2.254"), 24, 16),
            extended_gateway(
                ip("198.51.100.1"),
                65000,
                0,
                &[(2, &[65001, 65002]), (1, &[65003, 65004])],
                &[0xfde8_0001, 0xfde8_0002],
                100,
            ),
            framed(1036, &[0, 0, 0, 5]),
            framed((9 << 12) | 1, &[1, 2, 3, 4]),
        ],
    );
    let mut e = u32s(&[11, 0, 7, 2048, 5000, 0, 0, 29001, 0, 1285816721]);
    let mut ipv4 = u32s(&[1344, 17]);
    ipv4.extend_from_slice(&[50, 50, 50, 50, 51, 51, 51, 51]);
    ipv4.extend_from_slice(&u32s(&[46622, 58631, 0, 0x20]));
    let mut eth = u32s(&[1390]);
    eth.extend_from_slice(&[0, 0xfe, 0xc8, 0x99, 5, 0x47, 0, 0]);
    eth.extend_from_slice(&[1, 0, 0x5e, 0x2a, 0xaa, 4, 0, 0]);
    eth.extend_from_slice(&u32s(&[0x0800]));
    e.extend_from_slice(&u32s(&[2]));
    e.extend_from_slice(&framed(3, &ipv4));
    e.extend_from_slice(&framed(2, &eth));
    let s2 = framed(3, &e);
    let mut eth_c = u32s(&[0; 13]);
    eth_c[27] = 9; // late collisions (7th word)
    let mut vlan_c = u32s(&[300]);
    vlan_c.extend_from_slice(&77u64.to_be_bytes());
    vlan_c.extend_from_slice(&u32s(&[1, 2, 3, 4]));
    let mut cpu = u32s(&[6, 6, 7]);
    cpu.extend_from_slice(&13_065_256_960u64.to_be_bytes());
    cpu.extend_from_slice(&12_598_116_368u64.to_be_bytes());
    let s3 = counter_sample(
        5,
        (1 << 24) | 42,
        &[
            framed(1, &if_counters_body(42)),
            framed(2, &eth_c),
            framed(5, &vlan_c),
            framed(1001, &cpu),
            framed(2201, &[0; 12]),
        ],
    );
    let s4 = framed(77, &[0; 20]);
    let mut drop = u32s(&[2, 0, 1, 256, 1, 2, 257, 1]);
    drop.extend_from_slice(&framed(1036, &u32s(&[42])));
    let s5 = framed(5, &drop);
    datagram(ip("172.16.0.3"), 1, 812646826, &[s1, s2, s3, s4, s5])
}

#[test]
fn decodes_every_sample_kind() {
    let d = rich_datagram();
    let (res, out, dec) = run(&d);
    assert_eq!(res, Ok(Protocol::SflowV5));
    assert_eq!(out.flows.len(), 3);
    assert_eq!(out.counters.len(), 4);
    assert_eq!(dec.stats.flows[3], 3);
    assert_eq!(dec.stats.counter_records, 4);
    assert_eq!(dec.stats.sflow_unknown_samples, 1);
    assert_eq!(dec.stats.sflow_unknown_records, 2);
    assert_eq!(dec.stats.error_total(), 0);

    let r = out.flows[0];
    assert_eq!(r.flow_type, FlowType::SFlow5);
    assert_eq!(r.sampler_address, Addr::v4([172, 16, 0, 3]));
    assert_eq!(r.sequence_num, 812646826);
    assert_eq!(
        (r.time_received_ns, r.time_flow_start_ns, r.time_flow_end_ns),
        (77, 77, 77)
    );
    assert_eq!((r.sampling_rate, r.bytes, r.packets), (512, 1500, 1));
    assert_eq!((r.in_if, r.out_if, r.forwarding_status), (3, 0, 129));
    assert_eq!(
        r.discard_reason, 258,
        "the output interface's discard reason"
    );
    assert_eq!((r.src_vlan, r.dst_vlan, r.vlan_id), (100, 0, 0));
    assert_eq!(r.src_addr, Addr::v4([10, 0, 0, 1]));
    assert_eq!(
        (r.src_port, r.dst_port, r.proto, r.tcp_flags),
        (40000, 443, 6, 0x18)
    );
    assert_eq!((r.src_mac, r.dst_mac), (0x6677_8899_aabb, 0x0011_2233_4455));
    assert_eq!(r.next_hop, Addr::v4([192, 0, 2, 254]));
    assert_eq!(r.bgp_next_hop, Addr::v4([198, 51, 100, 1]));
    assert_eq!((r.src_net, r.dst_net), (24, 16));
    assert_eq!(r.as_path(), &[65001, 65002, 65003, 65004]);
    assert_eq!((r.src_as, r.dst_as, r.next_hop_as), (65000, 65004, 65001));
    assert_eq!(r.communities(), &[0xfde8_0001, 0xfde8_0002]);
    assert_eq!(r.layers().0, &[layer::ETHERNET, layer::IPV4, layer::TCP]);

    let r = out.flows[1];
    assert_eq!(
        (r.sampling_rate, r.in_if, r.out_if),
        (2048, 29001, 1285816721)
    );
    assert_eq!(r.src_addr, Addr::v4([50, 50, 50, 50]));
    assert_eq!(
        (r.proto, r.src_port, r.dst_port, r.ip_tos),
        (17, 46622, 58631, 0x20)
    );
    assert_eq!((r.bytes, r.etype), (1344, 0x0800));
    assert_eq!((r.src_mac, r.dst_mac), (0x00fe_c899_0547, 0x0100_5e2a_aa04));

    let r = out.flows[2];
    // a discarded-packet sample without a sampled header keeps what it has
    assert_eq!((r.in_if, r.out_if, r.forwarding_status), (1, 2, 137));
    assert_eq!((r.discard_reason, r.packets), (257, 1));
    assert_eq!((r.sampling_rate, r.bytes), (0, 0));

    let c = out.counters[0];
    assert_eq!(c.agent_address, Addr::v4([172, 16, 0, 3]));
    assert_eq!(
        (c.sub_agent_id, c.sequence_num, c.agent_uptime_ms),
        (1, 812646826, 123_456)
    );
    assert_eq!(
        (c.sample_sequence, c.source_id_type, c.source_id_index),
        (5, 1, 42)
    );
    let Counters::Interface(i) = c.counters else {
        panic!("{c:?}")
    };
    assert_eq!(
        (i.if_index, i.if_speed, i.if_status),
        (42, 10_000_000_000, 3)
    );
    assert_eq!(
        (i.if_in_octets, i.if_out_octets),
        (123_456_789_012, 987_654_321_098)
    );
    assert_eq!(
        (i.if_in_errors, i.if_out_errors, i.if_promiscuous_mode),
        (5, 11, 0)
    );
    assert!(
        matches!(out.counters[1].counters, Counters::Ethernet(x) if x.dot3_stats_late_collisions == 9)
    );
    assert!(
        matches!(out.counters[2].counters, Counters::Vlan(x) if x.vlan_id == 300 && x.octets == 77)
    );
    assert!(
        matches!(out.counters[3].counters, Counters::Processor(x) if x.cpu5m == 7 && x.free_memory == 12_598_116_368)
    );
    assert_eq!(out.counters[3].record_format, 1001);
}

#[test]
fn ipv6_agent_and_unknown_agent_type() {
    let s = flow_sample(
        1,
        1,
        1,
        1,
        0,
        1,
        2,
        &[sampled_header(1, 64, &eth_ipv4_tcp_header(60))],
    );
    let d = datagram(ip("2001:db8::1"), 0, 9, std::slice::from_ref(&s));
    let (res, out, _) = run(&d);
    assert!(res.is_ok());
    assert_eq!(
        out.flows[0].sampler_address,
        Addr::from_ip(ip("2001:db8::1"))
    );
    // agent type 0: no address bytes, the datagram source stands in
    let mut d0 = u32s(&[5, 0, 0, 9, 1, 1]);
    d0.extend_from_slice(&s);
    let (_, out, _) = run(&d0);
    assert_eq!(out.flows[0].sampler_address, Addr::v4([203, 0, 113, 9]));
    // agent type 3: cannot be skipped
    let d3 = u32s(&[5, 3, 0, 0, 0, 0]);
    assert_eq!(run(&d3).0, Err(DecodeError::BadSetId(3)));
    // sFlow v4 is not even detected as sFlow; the header reader names the version
    assert_eq!(run(&u32s(&[4, 1, 0])).0, Err(DecodeError::UnknownProtocol));
    let v4 = u32s(&[4, 1, 0, 0, 0, 0, 0]);
    assert_eq!(
        DatagramHeader::read(&mut Cursor::new(&v4)),
        Err(DecodeError::BadVersion(4))
    );
}

#[test]
fn gateway_rules() {
    let one = |path: &[(u32, &[u32])], src_as| {
        let s = flow_sample(
            1,
            1,
            1,
            1,
            0,
            1,
            2,
            &[extended_gateway(ip("192.0.2.1"), 100, src_as, path, &[], 0)],
        );
        let (_, out, _) = run(&datagram(ip("192.0.2.9"), 0, 1, &[s]));
        out.flows[0]
    };
    let r = one(&[], 0);
    assert_eq!((r.src_as, r.dst_as, r.next_hop_as), (100, 100, 0));
    // no router next hop: the gateway's is the next hop too
    assert_eq!(
        (r.next_hop, r.bgp_next_hop),
        (Addr::v4([192, 0, 2, 1]), Addr::v4([192, 0, 2, 1]))
    );
    let r = one(&[(2, &[7, 8, 9])], 55);
    assert_eq!((r.src_as, r.dst_as, r.next_hop_as), (55, 9, 7));
    // a path longer than the record keeps: dst_as is still the true last AS
    let long: Vec<u32> = (1..=40).collect();
    let r = one(&[(2, &long)], 0);
    assert_eq!(r.as_path_len as usize, crate::flow::MAX_AS_PATH);
    assert_eq!((r.dst_as, r.next_hop_as), (40, 1));
}

#[test]
fn as_path_limit_drops_the_sample() {
    let long: Vec<u32> = (0..2000).collect();
    let bad = flow_sample(
        1,
        1,
        1,
        1,
        0,
        1,
        2,
        &[extended_gateway(
            ip("192.0.2.1"),
            1,
            1,
            &[(2, &long)],
            &[],
            0,
        )],
    );
    let good = flow_sample(2, 1, 1, 1, 0, 1, 2, &[extended_switch(1, 2)]);
    let (res, out, dec) = run(&datagram(ip("192.0.2.9"), 0, 1, &[bad, good]));
    assert!(res.is_ok());
    assert_eq!(out.flows.len(), 1);
    assert_eq!(out.flows[0].src_vlan, 1);
    assert_eq!(dec.stats.limits[LimitKind::AsPath as usize], 1);
    assert_eq!(dec.stats.sflow_samples_dropped, 1);
}

#[test]
fn hostile_counts_and_lengths() {
    let good = flow_sample(2, 1, 1, 1, 0, 1, 2, &[extended_switch(1, 2)]);
    // sample count beyond the limit: the datagram is dropped
    let mut d = datagram(ip("192.0.2.9"), 0, 1, std::slice::from_ref(&good));
    d[24..28].copy_from_slice(&5000u32.to_be_bytes());
    assert_eq!(
        run(&d).0,
        Err(DecodeError::Limit(LimitKind::SamplesPerDatagram))
    );
    // sample count the bytes cannot hold
    d[24..28].copy_from_slice(&100u32.to_be_bytes());
    assert!(matches!(run(&d).0, Err(DecodeError::BadCount { .. })));
    // a sample length past the datagram
    let mut d = datagram(ip("192.0.2.9"), 0, 1, std::slice::from_ref(&good));
    d[32..36].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
    assert!(matches!(
        run(&d).0,
        Err(DecodeError::Truncated {
            section: Section::Sample,
            ..
        })
    ));
    // a record length past its sample: that sample dropped, the next one decodes
    let mut bad = good.clone();
    bad[8 + 32 + 4..8 + 32 + 8].copy_from_slice(&1000u32.to_be_bytes());
    let (res, out, dec) = run(&datagram(ip("192.0.2.9"), 0, 1, &[bad, good.clone()]));
    assert!(res.is_ok());
    assert_eq!(out.flows.len(), 1);
    assert_eq!(dec.stats.errors[2], 1, "one truncated flow record");
    // a header length past its record
    let mut h = sampled_header(1, 64, &eth_ipv4_tcp_header(60));
    h[20..24].copy_from_slice(&4096u32.to_be_bytes());
    let s = flow_sample(1, 1, 1, 1, 0, 1, 2, &[h]);
    let (res, out, dec) = run(&datagram(ip("192.0.2.9"), 0, 1, &[s, good.clone()]));
    assert!(res.is_ok());
    assert_eq!(out.flows.len(), 1);
    assert_eq!(dec.stats.sflow_samples_dropped, 1);
    // a record count beyond the datagram's record budget
    let mut dec = Decoder::new(Limits {
        max_records_per_datagram: 1,
        ..Limits::default()
    });
    let two = flow_sample(
        1,
        1,
        1,
        1,
        0,
        1,
        2,
        &[extended_switch(1, 2), extended_switch(3, 4)],
    );
    let res = dec.decode(
        ip("192.0.2.9"),
        0,
        &datagram(ip("192.0.2.9"), 0, 1, &[two]),
        &mut |_: &FlowRecord| {},
    );
    assert_eq!(res, Err(DecodeError::Limit(LimitKind::RecordsPerDatagram)));
    // an unknown enterprise sample and a short counter record
    let odd = framed((4413 << 12) | 5, &[0; 16]);
    let short = counter_sample(1, 1, &[framed(1, &[0; 40]), framed(5, &[0; 28])]);
    let (res, out, dec) = run(&datagram(ip("192.0.2.9"), 0, 1, &[odd, short]));
    assert!(res.is_ok());
    assert_eq!(dec.stats.sflow_unknown_samples, 1);
    assert_eq!(out.counters.len(), 1);
    assert_eq!(dec.stats.error_total(), 1);
}

/// The rich datagram and the bench datagram cut at every length: an error or fewer
/// flows/counters, never a panic; and every 4-byte word overwritten with hostile values.
#[test]
fn truncation_and_corruption_never_panic() {
    for d in [rich_datagram(), bench_flow_datagram()] {
        let (_, full, _) = run(&d);
        for n in 0..d.len() {
            let (res, out, _) = run(&d[..n]);
            assert!(out.flows.len() <= full.flows.len());
            assert!(out.counters.len() <= full.counters.len());
            if out.flows.len() == full.flows.len() && out.counters.len() == full.counters.len() {
                // nothing lost: only possible when the cut was in trailing bytes
                assert!(res.is_err() || n >= d.len() - 3, "len {n}");
            }
        }
        for i in (0..d.len()).step_by(4) {
            for v in [
                0u32,
                1,
                2,
                3,
                0xffff_ffff,
                0x8000_0000,
                0x3fff_ffff,
                0x100,
                1003,
                1,
            ] {
                let mut g = d.clone();
                g[i..i + 4].copy_from_slice(&v.to_be_bytes());
                let _ = run(&g);
            }
        }
    }
}

#[test]
fn bench_datagram_maps_without_surprises() {
    let (res, out, _) = run(&bench_flow_datagram());
    assert!(res.is_ok());
    let r = out.flows[0];
    assert_eq!(
        (r.bytes, r.sampling_rate, r.in_if, r.out_if),
        (1518, 1024, 3, 7)
    );
    assert_eq!((r.src_vlan, r.dst_vlan, r.proto), (100, 200, 6));
    assert_eq!(r.sequence_num, 42);
}

#[test]
fn interface_formats() {
    assert_eq!(
        Interface::compact(0x3fff_ffff),
        Interface::Index(0x3fff_ffff)
    );
    assert_eq!(Interface::compact(0x4000_0101), Interface::Discarded(257));
    assert_eq!(Interface::compact(0x8000_0007), Interface::Multiple(7));
    assert_eq!(Interface::compact(0xc000_0001).if_index(), 0);
    assert_eq!(drop_forwarding_status(258), 129);
    assert_eq!(drop_forwarding_status(999), 128);
}
