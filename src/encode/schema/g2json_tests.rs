//! goflow2's JSON, checked as exact text. Each expected line is written by hand from
//! goflow2 v2.2.x's formatter (netsampler/goflow2): key names and order from `pb/flow.proto`
//! (the Go struct's `json` tags, walked in order by `producer/proto/config_impl.go`
//! `mapFormat`), every field written (`producer/proto/messages.go`
//! `FormatMessageReflectCustom`), values as `producer/proto/render.go` renders them
//! (`defaultRenderers`: `IPRenderer`/`RenderIP`, `MacRenderer`, `EtypeRenderer`,
//! `ProtoRenderer`/`ProtoName`, `NetworkRenderer`; the rest `NilRenderer`: enum names, numbers).

use super::Schema;
use crate::flow::{layer, Addr, FlowRecord, FlowType};

fn json(r: &FlowRecord) -> String {
    let mut buf = Vec::new();
    Schema::Goflow2.encode_json(r, &mut buf);
    String::from_utf8(buf).expect("UTF-8")
}

/// The keys of a flat JSON object, in the order written (values never hold `"`).
fn keys_in_order(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let (mut depth, mut in_str, mut start, mut is_key) = (0, false, 0, false);
    let mut prev = b'{';
    for (i, c) in text.bytes().enumerate() {
        match c {
            b'"' if in_str => {
                in_str = false;
                if is_key {
                    keys.push(text[start..i].to_string());
                }
            }
            b'"' => {
                in_str = true;
                start = i + 1;
                is_key = depth == 1 && (prev == b'{' || prev == b',');
            }
            b'{' | b'[' if !in_str => depth += 1,
            b'}' | b']' if !in_str => depth -= 1,
            _ => {}
        }
        if !in_str {
            prev = c;
        }
    }
    keys
}

/// `message FlowMessage`'s field names in declaration order (the Go struct's order).
fn declared_fields() -> Vec<String> {
    let text = include_str!("../../../proto/goflow2.proto");
    let mut names = Vec::new();
    let mut depth = 0i32;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if depth == 1 && line.contains('=') && line.ends_with(';') {
            let (lhs, rhs) = line.split_once('=').unwrap_or_default();
            // coreflow's opt-in fields (>= 1000: the instance name) are written only when
            // configured (`encode::extras`), not as part of goflow2's every-field object
            let number: u32 = rhs.trim_end_matches(';').trim().parse().unwrap_or(0);
            if number < 1000 {
                names.push(lhs.split_whitespace().last().unwrap().to_string());
            }
        }
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
    }
    names
}

/// A record with no field set: goflow2 still writes every key, zeros, `""`, `[]`, zero MACs
/// and `invalid Prefix` (no address to mask); proto 0 is IANA's `HOPOPT`.
#[test]
fn zero_record_writes_every_field() {
    assert_eq!(
        json(&FlowRecord::default()),
        concat!(
            r#"{"type":"FLOWUNKNOWN","time_received_ns":0,"sequence_num":0,"sampling_rate":0,"#,
            r#""sampler_address":"","time_flow_start_ns":0,"time_flow_end_ns":0,"bytes":0,"#,
            r#""packets":0,"src_addr":"","dst_addr":"","etype":"","proto":"HOPOPT","#,
            r#""src_port":0,"dst_port":0,"in_if":0,"out_if":0,"#,
            r#""src_mac":"00:00:00:00:00:00","dst_mac":"00:00:00:00:00:00","#,
            r#""src_vlan":0,"dst_vlan":0,"vlan_id":0,"ip_tos":0,"forwarding_status":0,"#,
            r#""ip_ttl":0,"ip_flags":0,"tcp_flags":0,"icmp_type":0,"icmp_code":0,"#,
            r#""ipv6_flow_label":0,"fragment_id":0,"fragment_offset":0,"src_as":0,"dst_as":0,"#,
            r#""next_hop":"","next_hop_as":0,"src_net":"invalid Prefix","#,
            r#""dst_net":"invalid Prefix","bgp_next_hop":"","bgp_communities":[],"as_path":[],"#,
            r#""mpls_ttl":[],"mpls_label":[],"mpls_ip":[],"observation_domain_id":0,"#,
            r#""observation_point_id":0,"layer_stack":[],"layer_size":[],"#,
            r#""ipv6_routing_header_addresses":[],"ipv6_routing_header_seg_left":0}"#,
        )
    );
}

/// NetFlow v9, IPv4, BGP: addresses as text, prefixes masked from the flow's addresses,
/// AS path and communities as number arrays.
#[test]
fn netflow_v9_ipv4_with_bgp() {
    let mut r = FlowRecord {
        flow_type: FlowType::NetflowV9,
        time_received_ns: 1_700_000_000_123_456_789,
        sequence_num: 42,
        sampling_rate: 1000,
        sampler_address: Addr::v4([192, 0, 2, 1]),
        time_flow_start_ns: 1_699_999_990_000_000_000,
        time_flow_end_ns: 1_699_999_999_000_000_000,
        bytes: 1500,
        packets: 3,
        src_addr: Addr::v4([10, 1, 2, 3]),
        dst_addr: Addr::v4([192, 0, 2, 77]),
        etype: 0x800,
        proto: 6,
        src_port: 443,
        dst_port: 51000,
        in_if: 3,
        out_if: 4,
        ip_tos: 0x28,
        tcp_flags: 0x1b,
        src_as: 64500,
        dst_as: 65002,
        next_hop: Addr::v4([192, 0, 2, 254]),
        next_hop_as: 64501,
        bgp_next_hop: Addr::v4([198, 51, 100, 1]),
        src_net: 24,
        dst_net: 16,
        observation_domain_id: 256,
        // fields goflow2's message lacks are not written
        flow_direction: 1,
        ingress_vrf_id: 7,
        ..Default::default()
    };
    r.push_as(64500);
    r.push_as(65001);
    r.push_as(65002);
    r.push_community(0xfde8_0064);
    r.push_community(0xfde8_00c8);
    assert_eq!(
        json(&r),
        concat!(
            r#"{"type":"NETFLOW_V9","time_received_ns":1700000000123456789,"sequence_num":42,"#,
            r#""sampling_rate":1000,"sampler_address":"192.0.2.1","#,
            r#""time_flow_start_ns":1699999990000000000,"time_flow_end_ns":1699999999000000000,"#,
            r#""bytes":1500,"packets":3,"src_addr":"10.1.2.3","dst_addr":"192.0.2.77","#,
            r#""etype":"IPv4","proto":"TCP","src_port":443,"dst_port":51000,"in_if":3,"#,
            r#""out_if":4,"src_mac":"00:00:00:00:00:00","dst_mac":"00:00:00:00:00:00","#,
            r#""src_vlan":0,"dst_vlan":0,"vlan_id":0,"ip_tos":40,"forwarding_status":0,"#,
            r#""ip_ttl":0,"ip_flags":0,"tcp_flags":27,"icmp_type":0,"icmp_code":0,"#,
            r#""ipv6_flow_label":0,"fragment_id":0,"fragment_offset":0,"src_as":64500,"#,
            r#""dst_as":65002,"next_hop":"192.0.2.254","next_hop_as":64501,"#,
            r#""src_net":"10.1.2.0/24","dst_net":"192.0.0.0/16","#,
            r#""bgp_next_hop":"198.51.100.1","bgp_communities":[4259840100,4259840200],"#,
            r#""as_path":[64500,65001,65002],"mpls_ttl":[],"mpls_label":[],"mpls_ip":[],"#,
            r#""observation_domain_id":256,"observation_point_id":0,"layer_stack":[],"#,
            r#""layer_size":[],"ipv6_routing_header_addresses":[],"#,
            r#""ipv6_routing_header_seg_left":0}"#,
        )
    );
}

/// IPFIX, IPv6 with an MPLS stack: IPv6 text as Go's `netip` writes it (RFC 5952), a prefix
/// length past 128 bits is `invalid Prefix`, MPLS TTLs, labels and the FEC address as arrays.
#[test]
fn ipfix_ipv6_with_mpls() {
    let mut r = FlowRecord {
        flow_type: FlowType::Ipfix,
        time_received_ns: 1_700_000_001_000_000_000,
        sequence_num: 7,
        sampler_address: Addr::v6([
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23,
        ]),
        time_flow_start_ns: 1_700_000_000_000_000_000,
        time_flow_end_ns: 1_700_000_000_500_000_000,
        bytes: 9000,
        packets: 6,
        src_addr: Addr::v6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5]),
        dst_addr: Addr::v6([
            0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        ]),
        etype: 0x86dd,
        proto: 17,
        src_port: 53,
        dst_port: 33000,
        in_if: 10,
        out_if: 20,
        ipv6_flow_label: 0xabcde,
        src_net: 48,
        dst_net: 129,
        mpls_ip: Addr::v4([192, 0, 2, 9]),
        observation_point_id: 5,
        ..Default::default()
    };
    r.push_mpls(16001, 64);
    r.push_mpls(24000, 63);
    assert_eq!(
        json(&r),
        concat!(
            r#"{"type":"IPFIX","time_received_ns":1700000001000000000,"sequence_num":7,"#,
            r#""sampling_rate":0,"sampler_address":"2001:db8::23","#,
            r#""time_flow_start_ns":1700000000000000000,"time_flow_end_ns":1700000000500000000,"#,
            r#""bytes":9000,"packets":6,"src_addr":"2001:db8:0:1::5","#,
            r#""dst_addr":"2001:db8:ffff::1","etype":"IPv6","proto":"UDP","src_port":53,"#,
            r#""dst_port":33000,"in_if":10,"out_if":20,"src_mac":"00:00:00:00:00:00","#,
            r#""dst_mac":"00:00:00:00:00:00","src_vlan":0,"dst_vlan":0,"vlan_id":0,"#,
            r#""ip_tos":0,"forwarding_status":0,"ip_ttl":0,"ip_flags":0,"tcp_flags":0,"#,
            r#""icmp_type":0,"icmp_code":0,"ipv6_flow_label":703710,"fragment_id":0,"#,
            r#""fragment_offset":0,"src_as":0,"dst_as":0,"next_hop":"","next_hop_as":0,"#,
            r#""src_net":"2001:db8::/48","dst_net":"invalid Prefix","bgp_next_hop":"","#,
            r#""bgp_communities":[],"as_path":[],"mpls_ttl":[64,63],"#,
            r#""mpls_label":[16001,24000],"mpls_ip":["192.0.2.9"],"#,
            r#""observation_domain_id":0,"observation_point_id":5,"layer_stack":[],"#,
            r#""layer_size":[],"ipv6_routing_header_addresses":[],"#,
            r#""ipv6_routing_header_seg_left":0}"#,
        )
    );
}

/// sFlow: MACs, VLAN, the sampled header's layers as `LayerStack` names, a zero prefix
/// length as `0.0.0.0/0` (an address and 0 bits make a valid prefix).
#[test]
fn sflow_with_macs_and_layers() {
    let mut r = FlowRecord {
        flow_type: FlowType::SFlow5,
        time_received_ns: 1_740_523_285_033_865_700,
        sequence_num: 3421,
        sampling_rate: 1024,
        sampler_address: Addr::v4([203, 0, 113, 5]),
        time_flow_start_ns: 1_740_523_285_033_865_700,
        time_flow_end_ns: 1_740_523_285_033_865_700,
        bytes: 98,
        packets: 1,
        src_addr: Addr::v4([198, 51, 100, 7]),
        dst_addr: Addr::v4([203, 0, 113, 200]),
        etype: 0x800,
        proto: 1,
        in_if: 8_001_014,
        out_if: 1_073_741_823,
        src_mac: 0x2cdd_e927_6477,
        dst_mac: 0xc4ca_2b4d_c5c7,
        src_vlan: 100,
        dst_vlan: 200,
        vlan_id: 100,
        ip_ttl: 61,
        ip_flags: 2,
        icmp_type: 8,
        fragment_id: 49677,
        ..Default::default()
    };
    r.push_layer(layer::ETHERNET, 14);
    r.push_layer(layer::DOT1Q, 4);
    r.push_layer(layer::IPV4, 20);
    r.push_layer(layer::ICMP, 8);
    assert_eq!(
        json(&r),
        concat!(
            r#"{"type":"SFLOW_5","time_received_ns":1740523285033865700,"sequence_num":3421,"#,
            r#""sampling_rate":1024,"sampler_address":"203.0.113.5","#,
            r#""time_flow_start_ns":1740523285033865700,"time_flow_end_ns":1740523285033865700,"#,
            r#""bytes":98,"packets":1,"src_addr":"198.51.100.7","dst_addr":"203.0.113.200","#,
            r#""etype":"IPv4","proto":"ICMP","src_port":0,"dst_port":0,"in_if":8001014,"#,
            r#""out_if":1073741823,"src_mac":"2c:dd:e9:27:64:77","dst_mac":"c4:ca:2b:4d:c5:c7","#,
            r#""src_vlan":100,"dst_vlan":200,"vlan_id":100,"ip_tos":0,"forwarding_status":0,"#,
            r#""ip_ttl":61,"ip_flags":2,"tcp_flags":0,"icmp_type":8,"icmp_code":0,"#,
            r#""ipv6_flow_label":0,"fragment_id":49677,"fragment_offset":0,"src_as":0,"#,
            r#""dst_as":0,"next_hop":"","next_hop_as":0,"src_net":"0.0.0.0/0","#,
            r#""dst_net":"0.0.0.0/0","bgp_next_hop":"","bgp_communities":[],"as_path":[],"#,
            r#""mpls_ttl":[],"mpls_label":[],"mpls_ip":[],"observation_domain_id":0,"#,
            r#""observation_point_id":0,"layer_stack":["Ethernet","Dot1Q","IPv4","ICMP"],"#,
            r#""layer_size":[14,4,20,8],"ipv6_routing_header_addresses":[],"#,
            r#""ipv6_routing_header_seg_left":0}"#,
        )
    );
}

/// NetFlow v5: the type name, and an IPv4 prefix length past 32 bits is `invalid Prefix`.
#[test]
fn netflow_v5_and_odd_masks() {
    let r = FlowRecord {
        flow_type: FlowType::NetflowV5,
        time_received_ns: 1_755_636_366_839_794_752,
        sequence_num: 3_915_400_858,
        sampler_address: Addr::v4([192, 168, 65, 1]),
        src_addr: Addr::v4([193, 192, 249, 98]),
        dst_addr: Addr::v4([195, 43, 108, 180]),
        etype: 0x800,
        proto: 47,
        src_net: 33,
        dst_net: 32,
        ..Default::default()
    };
    let text = json(&r);
    for part in [
        r#"{"type":"NETFLOW_V5","time_received_ns":1755636366839794752,"#,
        r#""sequence_num":3915400858,"sampling_rate":0,"sampler_address":"192.168.65.1","#,
        r#""etype":"IPv4","proto":"GRE","#,
        r#""src_net":"invalid Prefix","dst_net":"195.43.108.180/32","#,
    ] {
        assert!(text.contains(part), "{part} not in {text}");
    }
}

/// `etype` names three EtherTypes and writes `""` for the rest; `proto` is IANA's keyword,
/// then goflow2's names for the ranges without one.
#[test]
fn etype_and_proto_names() {
    let field = |etype: u32, proto: u32| {
        let text = json(&FlowRecord {
            etype,
            proto,
            ..Default::default()
        });
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        (v["etype"].clone(), v["proto"].clone())
    };
    for (etype, proto, want_etype, want_proto) in [
        (0x800, 6, "IPv4", "TCP"),
        (0x86dd, 58, "IPv6", "IPv6-ICMP"),
        (0x806, 132, "ARP", "SCTP"),
        (0x8847, 17, "", "UDP"),
        (0, 41, "", "IPv6"),
        (0, 50, "", "ESP"),
        (0, 89, "", "OSPFIGP"),
        (0, 145, "", "NSH"),
        (0, 146, "", "unassigned"),
        (0, 252, "", "unassigned"),
        (0, 253, "", "experimental"),
        (0, 254, "", "experimental"),
        (0, 255, "", "reserved"),
        (0, 256, "", "unknown"),
    ] {
        assert_eq!(
            field(etype, proto),
            (want_etype.into(), want_proto.into()),
            "{etype:#x} {proto}"
        );
    }
}

/// The keys are `flowpb.FlowMessage`'s fields, all of them, in `.proto` declaration order,
/// whatever the record holds; the object parses as JSON.
#[test]
fn keys_are_every_field_in_declaration_order() {
    let declared = declared_fields();
    assert_eq!(declared.len(), 50, "{declared:?}");
    assert_eq!(
        declared[..4],
        ["type", "time_received_ns", "sequence_num", "sampling_rate"]
    );
    let mut full = FlowRecord {
        src_addr: Addr::v4([10, 0, 0, 1]),
        mpls_ip: Addr::v4([10, 0, 0, 2]),
        ..Default::default()
    };
    full.push_mpls(1, 2);
    full.push_as(3);
    full.push_community(4);
    full.push_layer(layer::ETHERNET, 14);
    for r in [FlowRecord::default(), full] {
        let text = json(&r);
        assert_eq!(keys_in_order(&text), declared, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v.as_object().unwrap().len(), 50);
    }
}

/// Numbers at each digit count and at their limits, addresses at the ends of their ranges.
#[test]
fn numbers_and_addresses_at_their_limits() {
    for v in [0u64, 9, 10, 99, 100, 65535, 1 << 32, u64::MAX] {
        let r = FlowRecord {
            bytes: v,
            src_port: v as u32,
            src_addr: Addr::v4([255, 0, 10, 100]),
            src_net: 32,
            ..Default::default()
        };
        let t = json(&r);
        assert!(t.contains(&format!(r#""bytes":{v},"#)), "{t}");
        assert!(t.contains(&format!(r#""src_port":{},"#, v as u32)), "{t}");
        assert!(t.contains(r#""src_addr":"255.0.10.100","#), "{t}");
        assert!(t.contains(r#""src_net":"255.0.10.100/32","#), "{t}");
    }
}
