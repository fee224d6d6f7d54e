//! Unit tests of the header walk: one frame per layer combination, cuts and corruption.

use super::*;
use crate::flow::{layer, Addr, FlowRecord};

/// An Ethernet/IPv4/TCP frame of `len` captured bytes (payload 0xab), DF set, ACK|PSH.
pub fn eth_ipv4_tcp(len: usize) -> Vec<u8> {
    coreflow_flowgen::builders::sflow::eth_ipv4_tcp_header(len)
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], payload_len: usize) -> Vec<u8> {
    let mut v = vec![0x45, 0x10];
    v.extend_from_slice(&((20 + payload_len) as u16).to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v
}

fn ipv6(next: u8, src_last: u8, dst_last: u8) -> Vec<u8> {
    let mut v = vec![0x6a, 0xb1, 0x23, 0x45, 0, 0, next, 33];
    let mut a = [0u8; 16];
    a[0] = 0x20;
    a[1] = 0x01;
    a[15] = src_last;
    v.extend_from_slice(&a);
    a[15] = dst_last;
    v.extend_from_slice(&a);
    v
}

fn eth(et: u16) -> Vec<u8> {
    let mut v = vec![
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    ];
    v.extend_from_slice(&et.to_be_bytes());
    v
}

fn tcp(sp: u16, dp: u16, flags: u8) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sp.to_be_bytes());
    v.extend_from_slice(&dp.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    v
}

fn layers(r: &FlowRecord) -> Vec<(u8, u32)> {
    let (k, s) = r.layers();
    k.iter().copied().zip(s.iter().copied()).collect()
}

#[test]
fn ethernet_ipv4_tcp() {
    let f = eth_ipv4_tcp(128);
    let mut r = FlowRecord::default();
    let p = parse(header_protocol::ETHERNET, &f, &mut r);
    assert_eq!(p.ip_headers, 1);
    assert!(!p.cut && !p.unknown);
    assert_eq!(r.dst_mac, 0x0011_2233_4455);
    assert_eq!(r.src_mac, 0x6677_8899_aabb);
    assert_eq!(r.etype, 0x0800);
    assert_eq!(r.src_addr, Addr::v4([10, 0, 0, 1]));
    assert_eq!(r.dst_addr, Addr::v4([192, 0, 2, 80]));
    assert_eq!((r.proto, r.src_port, r.dst_port), (6, 40000, 443));
    assert_eq!((r.tcp_flags, r.ip_ttl, r.ip_tos), (0x18, 63, 0x28));
    assert_eq!(
        (r.fragment_id, r.ip_flags, r.fragment_offset),
        (0x1234, 2, 0)
    );
    assert_eq!(
        layers(&r),
        vec![(layer::ETHERNET, 14), (layer::IPV4, 20), (layer::TCP, 20)]
    );
}

#[test]
fn qinq_and_options() {
    let mut f = eth(ethertype::QINQ);
    f.extend_from_slice(&[0x20, 0x64, 0x81, 0x00]); // S-tag 100
    f.extend_from_slice(&[0x00, 0xc8, 0x08, 0x00]); // C-tag 200
    let mut ip = ipv4(17, [10, 1, 1, 1], [10, 2, 2, 2], 8);
    ip[0] = 0x46; // 4 bytes of options
    ip.extend_from_slice(&[1, 1, 1, 0]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x00, 0x35, 0xc0, 0x00, 0, 8, 0, 0]);
    let mut r = FlowRecord::default();
    parse(header_protocol::ETHERNET, &f, &mut r);
    assert_eq!(r.vlan_id, 100);
    assert_eq!(r.etype, 0x0800);
    assert_eq!((r.proto, r.src_port, r.dst_port), (17, 53, 49152));
    assert_eq!(
        layers(&r),
        vec![
            (layer::ETHERNET, 14),
            (layer::DOT1Q, 4),
            (layer::DOT1Q, 4),
            (layer::IPV4, 24),
            (layer::UDP, 8)
        ]
    );
}

#[test]
fn ipv4_fragments() {
    let mut ip = ipv4(6, [1, 1, 1, 1], [2, 2, 2, 2], 20);
    ip[6] = 0x20; // MF
    ip[7] = 0x00;
    ip.extend_from_slice(&tcp(1, 2, 0x02));
    let mut r = FlowRecord::default();
    parse(header_protocol::IPV4, &ip, &mut r);
    assert_eq!((r.ip_flags, r.fragment_offset, r.src_port), (1, 0, 1));
    // non-first fragment: offset 185 * 8 bytes, no ports read from the payload
    ip[6] = 0x00;
    ip[7] = 185;
    let mut r = FlowRecord::default();
    parse(header_protocol::IPV4, &ip, &mut r);
    assert_eq!((r.ip_flags, r.fragment_offset, r.src_port), (0, 185, 0));
    assert_eq!(r.proto, 6);
    assert_eq!(r.etype, 0x0800);
}

#[test]
fn ipv6_extension_headers() {
    let mut f = eth(ethertype::IPV6);
    f.extend_from_slice(&ipv6(ipproto::HOPOPT, 1, 2));
    f.extend_from_slice(&[ipproto::ROUTING, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop, 8 B
                                                                   // routing header type 4 (SRH) with one segment: 8 + 16 bytes
    f.extend_from_slice(&[ipproto::FRAGMENT, 2, 4, 1, 0, 0, 0, 0]);
    f.extend_from_slice(&[0xfc; 16]);
    // fragment header: offset 0, M set, id 0xdeadbeef
    f.extend_from_slice(&[ipproto::ICMPV6, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]);
    f.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]); // echo request
    let mut r = FlowRecord::default();
    let p = parse(header_protocol::ETHERNET, &f, &mut r);
    assert!(!p.cut && !p.unknown, "{p:?}");
    assert_eq!(r.etype, 0x86dd);
    assert_eq!(r.proto, 58);
    assert_eq!((r.ip_tos, r.ipv6_flow_label, r.ip_ttl), (0xab, 0x12345, 33));
    assert_eq!((r.fragment_id, r.ip_flags), (0xdead_beef, 1));
    assert_eq!((r.icmp_type, r.icmp_code), (128, 0));
    assert_eq!(
        layers(&r),
        vec![
            (layer::ETHERNET, 14),
            (layer::IPV6, 40),
            (layer::IPV6_ROUTING, 24),
            (layer::IPV6_FRAGMENT, 8),
            (layer::ICMPV6, 8)
        ]
    );
}

#[test]
fn ipv6_later_fragment_has_no_transport() {
    let mut f = ipv6(ipproto::FRAGMENT, 1, 2);
    f.extend_from_slice(&[ipproto::UDP, 0, 0x05, 0x00, 0, 0, 0, 9]); // offset 160
    f.extend_from_slice(&[0, 53, 0, 53, 0, 8, 0, 0]);
    let mut r = FlowRecord::default();
    parse(header_protocol::IPV6, &f, &mut r);
    assert_eq!((r.proto, r.fragment_offset, r.fragment_id), (17, 160, 9));
    assert_eq!(r.src_port, 0);
}

#[test]
fn mpls_stack_then_ipv4() {
    let mut f = eth(ethertype::MPLS);
    f.extend_from_slice(&((16001u32 << 12) | 0x40).to_be_bytes()); // ttl 64
    f.extend_from_slice(&((24000u32 << 12) | 0x100 | 0x3f).to_be_bytes()); // BoS ttl 63
    f.extend_from_slice(&ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], 20));
    f.extend_from_slice(&tcp(179, 5000, 0x10));
    let mut r = FlowRecord::default();
    parse(header_protocol::ETHERNET, &f, &mut r);
    assert_eq!(r.mpls_labels(), &[16001, 24000]);
    assert_eq!(r.mpls_ttls(), &[64, 63]);
    assert_eq!(r.etype, 0x0800);
    assert_eq!((r.src_port, r.dst_port, r.tcp_flags), (179, 5000, 0x10));
    assert_eq!(layers(&r)[1], (layer::MPLS, 8));
    // header_protocol 13: the capture starts at the label stack
    let mut r = FlowRecord::default();
    parse(header_protocol::MPLS, &f[14..], &mut r);
    assert_eq!(r.mpls_count, 2);
    assert_eq!(r.src_addr, Addr::v4([10, 0, 0, 1]));
}

#[test]
fn gre_tunnel_fills_encap() {
    let mut f = eth(ethertype::IPV4);
    f.extend_from_slice(&ipv4(
        ipproto::GRE,
        [198, 51, 100, 1],
        [198, 51, 100, 2],
        60,
    ));
    f.extend_from_slice(&[0x20, 0x00, 0x08, 0x00, 0, 0, 0, 42]); // K bit, key 42
    f.extend_from_slice(&ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], 20));
    f.extend_from_slice(&tcp(1000, 22, 0x02));
    let mut r = FlowRecord::default();
    let p = parse(header_protocol::ETHERNET, &f, &mut r);
    assert_eq!(p.ip_headers, 2);
    assert_eq!(r.src_addr, Addr::v4([198, 51, 100, 1]));
    assert_eq!(r.proto, 47);
    assert_eq!((r.src_port, r.tcp_flags), (0, 0));
    assert!(r.has_encap);
    assert_eq!(r.src_addr_encap, Addr::v4([10, 0, 0, 1]));
    assert_eq!((r.proto_encap, r.etype_encap), (6, 0x0800));
    assert_eq!(
        layers(&r).iter().map(|l| l.0).collect::<Vec<_>>(),
        vec![
            layer::ETHERNET,
            layer::IPV4,
            layer::GRE,
            layer::IPV4,
            layer::TCP
        ]
    );
}

#[test]
fn ipv6_in_ipv4() {
    let mut f = ipv4(ipproto::IPV6, [192, 0, 2, 1], [192, 0, 2, 2], 48);
    f.extend_from_slice(&ipv6(ipproto::UDP, 7, 8));
    f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
    let mut r = FlowRecord::default();
    parse(header_protocol::IPV4, &f, &mut r);
    assert_eq!(r.proto, 41);
    assert!(r.has_encap);
    assert_eq!((r.etype_encap, r.proto_encap), (0x86dd, 17));
    assert_eq!(r.ipv6_flow_label_encap, 0x12345);
}

#[test]
fn ppp_and_hdlc() {
    let mut f = vec![0xff, 0x03, 0x00, 0x21];
    f.extend_from_slice(&ipv4(17, [1, 2, 3, 4], [5, 6, 7, 8], 8));
    f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
    let mut r = FlowRecord::default();
    parse(header_protocol::PPP, &f, &mut r);
    assert!(r.has_ppp);
    assert_eq!(
        (r.ppp_address_control, r.etype, r.dst_port),
        (0xff03, 0x0800, 2)
    );
    let mut f2 = vec![0x0f, 0x00, 0x86, 0xdd];
    f2.extend_from_slice(&ipv6(6, 1, 2));
    let mut r = FlowRecord::default();
    parse(header_protocol::POS, &f2, &mut r);
    assert_eq!((r.etype, r.proto, r.has_ppp), (0x86dd, 6, false));
}

#[test]
fn snap_and_arp() {
    let mut f = eth(60);
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
    f.extend_from_slice(&ipv4(1, [1, 1, 1, 1], [2, 2, 2, 2], 8));
    f.extend_from_slice(&[8, 0, 0, 0]);
    let mut r = FlowRecord::default();
    parse(header_protocol::ETHERNET, &f, &mut r);
    assert_eq!((r.etype, r.icmp_type, r.proto), (0x0800, 8, 1));

    let mut f = eth(ethertype::ARP);
    f.extend_from_slice(&[0; 28]);
    let mut r = FlowRecord::default();
    let p = parse(header_protocol::ETHERNET, &f, &mut r);
    assert!(p.unknown);
    assert_eq!((r.etype, r.src_addr), (0x0806, Addr::NONE));
}

#[test]
fn cut_mid_tcp_keeps_ip_fields() {
    let f = eth_ipv4_tcp(128);
    // 14 + 20 + 4: ports present, flags not
    let mut r = FlowRecord::default();
    let p = parse(header_protocol::ETHERNET, &f[..38], &mut r);
    assert!(p.cut);
    assert_eq!(r.src_addr, Addr::v4([10, 0, 0, 1]));
    assert_eq!((r.src_port, r.dst_port, r.tcp_flags), (40000, 443, 0));
    assert_eq!(layers(&r)[2], (layer::TCP, 4));
    // 14 + 10: the IP header itself is cut
    let mut r = FlowRecord::default();
    let p = parse(header_protocol::ETHERNET, &f[..24], &mut r);
    assert!(p.cut);
    assert_eq!(r.etype, 0x0800);
    assert_eq!(r.src_addr, Addr::NONE);
}

#[test]
fn unknown_protocol_leaves_record() {
    let mut r = FlowRecord::default();
    let p = parse(9, &[1, 2, 3], &mut r);
    assert!(p.unknown);
    assert_eq!(r, FlowRecord::default());
}

/// Every header cut at every length, and every byte flipped: never a panic, and layers
/// never claim more bytes than were captured.
#[test]
fn truncation_and_corruption_never_panic() {
    let mut frames: Vec<(u32, Vec<u8>)> = vec![(1, eth_ipv4_tcp(128))];
    let mut f = eth(ethertype::DOT1Q);
    f.extend_from_slice(&[0, 5, 0x86, 0xdd]);
    f.extend_from_slice(&ipv6(ipproto::HOPOPT, 1, 2));
    f.extend_from_slice(&[ipproto::FRAGMENT, 0, 1, 4, 0, 0, 0, 0]);
    f.extend_from_slice(&[ipproto::TCP, 0, 0, 1, 0, 0, 0, 1]);
    f.extend_from_slice(&tcp(1, 2, 3));
    frames.push((1, f));
    let mut g = eth(ethertype::MPLS);
    g.extend_from_slice(&((3u32 << 12) | 0x1ff).to_be_bytes());
    g.extend_from_slice(&ipv4(ipproto::GRE, [1, 1, 1, 1], [2, 2, 2, 2], 40));
    g.extend_from_slice(&[0xb0, 0x00, 0x65, 0x58, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
    g.extend_from_slice(&eth(ethertype::IPV4));
    g.extend_from_slice(&ipv4(17, [3, 3, 3, 3], [4, 4, 4, 4], 8));
    g.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
    frames.push((1, g));
    for (proto, f) in &frames {
        for n in 0..=f.len() {
            let mut r = FlowRecord::default();
            parse(*proto, &f[..n], &mut r);
            let (_, sizes) = r.layers();
            for &s in sizes {
                assert!(s as usize <= n);
            }
        }
        for i in 0..f.len() {
            for v in [0x00, 0xff, 0x11, 0x60, 0x45] {
                let mut g = f.clone();
                g[i] = v;
                let mut r = FlowRecord::default();
                for p in [1, 7, 11, 12, 13, 14] {
                    parse(p, &g, &mut r);
                }
            }
        }
    }
}
