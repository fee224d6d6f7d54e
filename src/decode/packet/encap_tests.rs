//! Unit tests of what exporters put in front of IP (IPFIX / NetFlow v9 packet sections and
//! sFlow headers alike): Ethernet pseudowires over MPLS with and without control word, SRv6,
//! VXLAN, GRE, IP-in-IP and QinQ, each built here and cut at every length.

use super::*;
use crate::flow::{layer, Addr, FlowRecord};

fn eth(dst0: u8, et: u16) -> Vec<u8> {
    let mut v = vec![dst0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x02, 0, 0, 0, 0, 0x01];
    v.extend_from_slice(&et.to_be_bytes());
    v
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], payload_len: usize) -> Vec<u8> {
    let mut v = vec![0x45, 0x08];
    v.extend_from_slice(&((20 + payload_len) as u16).to_be_bytes());
    v.extend_from_slice(&[0xbe, 0xef, 0x00, 0x00, 61, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v
}

fn ipv6(next: u8, src_last: u8, dst_last: u8, payload_len: u16) -> Vec<u8> {
    let mut v = vec![0x60, 0x00, 0x00, 0x07];
    v.extend_from_slice(&payload_len.to_be_bytes());
    v.extend_from_slice(&[next, 64]);
    let mut a = [0u8; 16];
    a[0] = 0xfc;
    a[15] = src_last;
    v.extend_from_slice(&a);
    a[15] = dst_last;
    v.extend_from_slice(&a);
    v
}

fn tcp(sp: u16, dp: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0]);
    v
}

fn udp(sp: u16, dp: u16, len: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v
}

fn label(l: u32, bottom: bool) -> [u8; 4] {
    ((l << 12) | (u32::from(bottom) << 8) | 64).to_be_bytes()
}

/// Ethernet / MPLS (2 labels) / [control word] / Ethernet / IPv4 / TCP.
fn eompls(control_word: bool, inner_dst0: u8) -> Vec<u8> {
    let mut f = eth(0xa0, ethertype::MPLS);
    f.extend_from_slice(&label(100, false));
    f.extend_from_slice(&label(200, true));
    if control_word {
        f.extend_from_slice(&[0, 0, 0, 7]);
    }
    f.extend_from_slice(&eth(inner_dst0, ethertype::IPV4));
    f.extend_from_slice(&ipv4(ipproto::TCP, [10, 0, 0, 1], [10, 0, 0, 2], 20));
    f.extend_from_slice(&tcp(1234, 80));
    f
}

/// Ethernet / IPv6 / SRH (2 segments) / IPv4 / UDP.
fn srv6() -> Vec<u8> {
    let mut f = eth(0xa0, ethertype::IPV6);
    f.extend_from_slice(&ipv6(ipproto::ROUTING, 1, 2, 40 + 20 + 8));
    // routing header type 4 (segment routing): next header 4, length 4 (40 bytes)
    f.extend_from_slice(&[ipproto::IPIP, 4, 4, 1, 1, 0, 0, 0]);
    f.extend_from_slice(&[0xfc; 32]);
    f.extend_from_slice(&ipv4(ipproto::UDP, [8, 8, 8, 8], [9, 9, 9, 9], 8));
    f.extend_from_slice(&udp(53, 5353, 8));
    f
}

/// Ethernet / IPv4 / UDP 4789 / VXLAN / Ethernet / IPv4 / TCP.
fn vxlan() -> Vec<u8> {
    let mut f = eth(0xa0, ethertype::IPV4);
    f.extend_from_slice(&ipv4(
        ipproto::UDP,
        [1, 1, 1, 1],
        [2, 2, 2, 2],
        8 + 8 + 14 + 40,
    ));
    f.extend_from_slice(&udp(49152, 4789, 8 + 8 + 14 + 40));
    f.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 42, 0]);
    f.extend_from_slice(&eth(0xb0, ethertype::IPV4));
    f.extend_from_slice(&ipv4(ipproto::TCP, [3, 3, 3, 3], [4, 4, 4, 4], 20));
    f.extend_from_slice(&tcp(5, 6));
    f
}

/// Ethernet / IPv4 / GRE (key) / IPv6 / TCP.
fn gre() -> Vec<u8> {
    let mut f = eth(0xa0, ethertype::IPV4);
    f.extend_from_slice(&ipv4(ipproto::GRE, [1, 1, 1, 1], [2, 2, 2, 2], 8 + 60));
    f.extend_from_slice(&[0x20, 0x00, 0x86, 0xdd, 0, 0, 0, 9]);
    f.extend_from_slice(&ipv6(ipproto::TCP, 3, 4, 20));
    f.extend_from_slice(&tcp(7, 8));
    f
}

/// Ethernet / QinQ / IPv4 / IPv4 (IP-in-IP) / TCP.
fn qinq_ipip() -> Vec<u8> {
    let mut f = eth(0xa0, ethertype::QINQ);
    f.extend_from_slice(&[0x00, 0x64, 0x81, 0x00]);
    f.extend_from_slice(&[0x00, 0xc8, 0x08, 0x00]);
    f.extend_from_slice(&ipv4(ipproto::IPIP, [1, 1, 1, 1], [2, 2, 2, 2], 40));
    f.extend_from_slice(&ipv4(ipproto::TCP, [3, 3, 3, 3], [4, 4, 4, 4], 20));
    f.extend_from_slice(&tcp(9, 10));
    f
}

fn layers(r: &FlowRecord) -> Vec<u8> {
    r.layers().0.to_vec()
}

#[test]
fn eompls_with_control_word() {
    let mut r = FlowRecord::default();
    let p = parse_ethernet(&eompls(true, 0xa0), &mut r);
    assert!(!p.cut && !p.unknown, "{p:?}");
    assert_eq!(r.dst_mac, 0xa011_2233_4455, "the outer Ethernet header's");
    assert_eq!(&r.mpls_labels[..r.mpls_count as usize], &[100, 200]);
    assert_eq!(r.etype, 0x0800, "the IP packet inside the pseudowire");
    assert_eq!(
        (r.src_addr, r.dst_addr),
        (Addr::v4([10, 0, 0, 1]), Addr::v4([10, 0, 0, 2]))
    );
    assert_eq!(
        (r.proto, r.src_port, r.dst_port, r.tcp_flags),
        (6, 1234, 80, 0x12)
    );
    assert_eq!((p.ip_len, r.ip_ttl), (40, 61));
    assert_eq!(
        layers(&r),
        [
            layer::ETHERNET,
            layer::MPLS,
            layer::CUSTOM,
            layer::ETHERNET,
            layer::IPV4,
            layer::TCP
        ]
    );
    // an inner destination MAC starting with a 0 nibble does not make a control word
    let mut r = FlowRecord::default();
    parse_ethernet(&eompls(true, 0x00), &mut r);
    assert_eq!(r.src_port, 1234);
}

#[test]
fn eompls_without_control_word() {
    for dst0 in [0xa0, 0x00, 0x02] {
        let mut r = FlowRecord::default();
        let p = parse_ethernet(&eompls(false, dst0), &mut r);
        assert!(!p.cut && !p.unknown, "{dst0:#x} {p:?}");
        assert_eq!(
            (r.proto, r.src_port, r.dst_port),
            (6, 1234, 80),
            "{dst0:#x}"
        );
        assert!(!layers(&r).contains(&layer::CUSTOM));
    }
    // neither IP nor an Ethernet frame under the labels: unknown, labels kept
    let mut f = eth(0xa0, ethertype::MPLS);
    f.extend_from_slice(&label(5, true));
    f.extend_from_slice(&[0x11; 20]);
    let mut r = FlowRecord::default();
    assert!(parse_ethernet(&f, &mut r).unknown);
    assert_eq!((r.mpls_count, r.mpls_labels[0]), (1, 5));
}

#[test]
fn srv6_ipv4_in_ipv6() {
    let mut r = FlowRecord::default();
    let p = parse_ethernet(&srv6(), &mut r);
    assert!(!p.cut && !p.unknown, "{p:?}");
    assert_eq!(p.ip_headers, 2);
    assert_eq!(r.etype, 0x86dd);
    assert_eq!(r.src_addr.as_slice()[15], 1);
    assert_eq!(
        r.proto,
        u32::from(ipproto::IPIP),
        "the last next header of the chain"
    );
    assert_eq!(
        (r.src_port, r.dst_port),
        (0, 0),
        "ports belong to the inner packet"
    );
    assert!(r.has_encap);
    assert_eq!(
        (r.src_addr_encap, r.dst_addr_encap, r.proto_encap),
        (Addr::v4([8, 8, 8, 8]), Addr::v4([9, 9, 9, 9]), 17)
    );
    assert_eq!(p.ip_len, 40 + 40 + 28);
    assert!(layers(&r).contains(&layer::IPV6_ROUTING));
}

#[test]
fn vxlan_inner_frame() {
    let mut r = FlowRecord::default();
    let p = parse_ethernet(&vxlan(), &mut r);
    assert!(!p.cut && !p.unknown, "{p:?}");
    assert_eq!((r.proto, r.src_port, r.dst_port), (17, 49152, 4789));
    assert_eq!(r.src_addr, Addr::v4([1, 1, 1, 1]));
    assert_eq!(
        (r.src_addr_encap, r.dst_addr_encap, r.proto_encap),
        (Addr::v4([3, 3, 3, 3]), Addr::v4([4, 4, 4, 4]), 6)
    );
    assert_eq!(r.dst_mac, 0xa011_2233_4455, "MACs of the outer frame");
    // the I flag clear: not followed
    let mut f = vxlan();
    f[14 + 20 + 8] = 0;
    let mut r = FlowRecord::default();
    assert!(parse_ethernet(&f, &mut r).unknown);
    assert!(!r.has_encap);
}

#[test]
fn gre_and_ip_in_ip_and_qinq() {
    let mut r = FlowRecord::default();
    let p = parse_ethernet(&gre(), &mut r);
    assert!(!p.cut && !p.unknown, "{p:?}");
    assert_eq!((r.proto, r.etype_encap, r.proto_encap), (47, 0x86dd, 6));
    let mut r = FlowRecord::default();
    let p = parse_ethernet(&qinq_ipip(), &mut r);
    assert!(!p.cut && !p.unknown, "{p:?}");
    assert_eq!((r.vlan_id, r.etype), (100, 0x0800), "the outer tag's VLAN");
    assert_eq!((r.proto, r.src_port), (4, 0));
    assert_eq!(
        (r.src_addr_encap, r.proto_encap),
        (Addr::v4([3, 3, 3, 3]), 6)
    );
}

#[test]
fn ip_sections_and_label_stacks() {
    // ipHeaderPacketSection: the packet starts at its IP header
    let mut f = ipv4(ipproto::TCP, [10, 0, 0, 1], [10, 0, 0, 2], 20);
    f.extend_from_slice(&tcp(1, 2));
    let mut r = FlowRecord::default();
    let p = parse_ip(&f, &mut r);
    assert_eq!((p.ip_len, r.etype, r.src_port), (40, 0x0800, 1));
    let mut r = FlowRecord::default();
    assert!(parse_ip(&[0x10; 30], &mut r).unknown);
    assert!(parse_ip(&[], &mut r).cut);
    // mplsLabelStackSection: labels, then nothing
    let mut r = FlowRecord::default();
    let mut s = label(16, false).to_vec();
    s.extend_from_slice(&label(17, true));
    let p = parse(header_protocol::MPLS, &s, &mut r);
    assert!(p.cut);
    assert_eq!(&r.mpls_labels[..2], &[16, 17]);
}

/// Every frame cut at every length and corrupted byte by byte: never a panic, no layer
/// claims more bytes than were captured, no field from past the cut.
#[test]
fn truncated_at_every_length() {
    let frames = [
        eompls(true, 0xa0),
        eompls(false, 0xa0),
        eompls(false, 0x00),
        srv6(),
        vxlan(),
        gre(),
        qinq_ipip(),
    ];
    for f in &frames {
        let mut full = FlowRecord::default();
        parse_ethernet(f, &mut full);
        assert!(full.src_port != 0 || full.has_encap, "{f:02x?}");
        for n in 0..=f.len() {
            let mut r = FlowRecord::default();
            let p = parse_ethernet(&f[..n], &mut r);
            for &s in r.layers().1 {
                assert!(s as usize <= n);
            }
            if n < f.len() {
                assert!(p.cut || p.unknown || p.ip_headers > 0, "cut at {n}");
            }
            // what was read before the cut agrees with the whole frame
            if r.src_port != 0 {
                assert_eq!(r.src_port, full.src_port);
            }
        }
        for i in 0..f.len() {
            for v in [0x00, 0xff, 0x40, 0x60, 0x12, 0x08] {
                let mut g = f.clone();
                g[i] = v;
                let mut r = FlowRecord::default();
                parse_ethernet(&g, &mut r);
                parse_ip(&g[14..], &mut r);
                parse(header_protocol::MPLS, &g[14..], &mut r);
            }
        }
    }
}
