//! Both sides of the sFlow comparison in the same terms: what tshark's JSON says a flow
//! sample or counter record should become ([`expect_flow`], [`expect_counter`]) and what
//! coreflow made of it ([`actual_flow`], [`actual_counter`]), each as a map from coreflow's
//! field name to the value as text, so that the two maps compare key by key.

use coreflow::decode::sflow::{CounterRecord, Counters};
use coreflow::flow::{Addr, FlowRecord, MAX_AS_PATH, MAX_COMMUNITIES};
use serde_json::Value;
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// tshark JSON helpers

/// A value that tshark repeats becomes an array (`--no-duplicate-keys`); this walks both.
pub fn each(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

pub fn first_str<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    match obj.get(key)? {
        Value::String(s) => Some(s),
        Value::Array(a) => a.first()?.as_str(),
        _ => None,
    }
}

fn num(s: &str) -> u64 {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap_or_else(|_| panic!("hex {s:?}")),
        None => s.parse().unwrap_or_else(|_| panic!("number {s:?}")),
    }
}

pub fn field_num(obj: &Value, key: &str) -> Option<u64> {
    first_str(obj, key).map(num)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        None => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        Some(_) => vec![],
    }
}

fn mac_text(v: u64) -> String {
    let b = v.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

pub fn addr_text(a: Addr) -> String {
    a.to_ip().map(|ip| ip.to_string()).unwrap_or_default()
}

pub fn ip_text(s: &str) -> String {
    s.parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|_| s.to_string())
}

fn list_text(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

pub type Fields = BTreeMap<&'static str, String>;

/// What tshark says one flow sample should become, in coreflow's terms.
pub fn expect_flow(agent: &str, seq: u64, s: &Value) -> Fields {
    let mut f = Fields::new();
    let mut put = |k: &'static str, v: String| {
        f.insert(k, v);
    };
    put("sampler_address", ip_text(agent));
    put("sequence_num", seq.to_string());
    put(
        "sampling_rate",
        field_num(s, "sflow.flow_sample.sampling_rate")
            .unwrap()
            .to_string(),
    );
    // compact samples: input is a plain number, output has a format/value tree;
    // expanded samples: format and value words for both
    let input = field_num(s, "sflow.flow_sample.input_interface")
        .or_else(|| field_num(s, "sflow.flow_sample.input_interface_value"));
    let output = s
        .get("sflow.flow_sample.output_interface_tree")
        .and_then(|t| field_num(t, "sflow.flow_sample.output_interface_value"))
        .or_else(|| field_num(s, "sflow.flow_sample.output_interface_value"));
    put("in_if", input.unwrap().to_string());
    put("out_if", output.unwrap().to_string());

    let header = s.get("Raw packet header");
    let tree = header.and_then(|h| h.get("sflow_245.header_tree"));
    let ipv4_rec = s.get("IPv4 data");
    let eth_rec = s.get("Ethernet frame data");
    let bytes = header
        .and_then(|h| field_num(h, "sflow_245.header.frame_length"))
        .or_else(|| ipv4_rec.and_then(|r| field_num(r, "sflow_245.ip.length")))
        .or_else(|| eth_rec.and_then(|r| field_num(r, "sflow_245.ethernet.length")));
    if let Some(b) = bytes {
        put("bytes", b.to_string());
    }
    put("packets", "1".into());

    let eth = tree.and_then(|t| t.get("eth"));
    let vlan = tree.and_then(|t| t.get("vlan")).map(|v| each(v)[0]);
    let ip4 = tree.and_then(|t| t.get("ip")).map(|v| each(v)[0]);
    let ip6 = tree.and_then(|t| t.get("ipv6")).map(|v| each(v)[0]);
    let tcp = tree.and_then(|t| t.get("tcp")).map(|v| each(v)[0]);
    let udp = tree.and_then(|t| t.get("udp")).map(|v| each(v)[0]);
    let icmp = tree.and_then(|t| t.get("icmp")).map(|v| each(v)[0]);
    let icmp6 = tree.and_then(|t| t.get("icmpv6")).map(|v| each(v)[0]);

    match (eth, eth_rec) {
        (Some(e), _) => {
            put("src_mac", first_str(e, "eth.src").unwrap().to_string());
            put("dst_mac", first_str(e, "eth.dst").unwrap().to_string());
            put(
                "vlan_id",
                vlan.and_then(|v| field_num(v, "vlan.id"))
                    .unwrap_or(0)
                    .to_string(),
            );
            let et = vlan
                .and_then(|v| field_num(v, "vlan.etype"))
                .or_else(|| field_num(e, "eth.type"))
                .unwrap();
            put("etype", et.to_string());
        }
        (None, Some(r)) => {
            put(
                "src_mac",
                first_str(r, "sflow_245.ethernet.source_mac_address")
                    .unwrap()
                    .to_string(),
            );
            put(
                "dst_mac",
                first_str(r, "sflow_245.ethernet.destination_mac_address")
                    .unwrap()
                    .to_string(),
            );
        }
        (None, None) => {}
    }
    if eth.is_none() {
        if ip4.is_some() {
            put("etype", "2048".into());
        } else if ip6.is_some() {
            put("etype", "34525".into());
        }
    }
    if let Some(ip) = ip4 {
        put("src_addr", ip_text(first_str(ip, "ip.src").unwrap()));
        put("dst_addr", ip_text(first_str(ip, "ip.dst").unwrap()));
        put("proto", field_num(ip, "ip.proto").unwrap().to_string());
        put("ip_tos", field_num(ip, "ip.dsfield").unwrap().to_string());
        put("ip_ttl", field_num(ip, "ip.ttl").unwrap().to_string());
        put("fragment_id", field_num(ip, "ip.id").unwrap().to_string());
        put(
            "fragment_offset",
            (field_num(ip, "ip.frag_offset").unwrap() / 8).to_string(),
        );
        put("ip_flags", field_num(ip, "ip.flags").unwrap().to_string());
    } else if let Some(ip) = ip6 {
        put("src_addr", ip_text(first_str(ip, "ipv6.src").unwrap()));
        put("dst_addr", ip_text(first_str(ip, "ipv6.dst").unwrap()));
        put("proto", field_num(ip, "ipv6.nxt").unwrap().to_string());
        put("ip_tos", field_num(ip, "ipv6.tclass").unwrap().to_string());
        put("ip_ttl", field_num(ip, "ipv6.hlim").unwrap().to_string());
        put(
            "ipv6_flow_label",
            field_num(ip, "ipv6.flow").unwrap().to_string(),
        );
    } else if let Some(r) = ipv4_rec {
        put(
            "src_addr",
            ip_text(first_str(r, "sflow_245.ipv4_src").unwrap()),
        );
        put(
            "dst_addr",
            ip_text(first_str(r, "sflow_245.ipv4_dst").unwrap()),
        );
        put(
            "proto",
            field_num(r, "sflow.ip_protocol").unwrap().to_string(),
        );
        put(
            "src_port",
            field_num(r, "sflow_245.ip.source_port")
                .unwrap()
                .to_string(),
        );
        put(
            "dst_port",
            field_num(r, "sflow.ip.destination_port")
                .unwrap()
                .to_string(),
        );
        if eth.is_none() && eth_rec.is_none() {
            put("etype", "2048".into());
        }
    }
    if ip4.is_some() || ip6.is_some() {
        let (sp, dp) = match (tcp, udp) {
            (Some(t), _) => (
                field_num(t, "tcp.srcport").unwrap(),
                field_num(t, "tcp.dstport").unwrap(),
            ),
            (None, Some(u)) => (
                field_num(u, "udp.srcport").unwrap(),
                field_num(u, "udp.dstport").unwrap(),
            ),
            (None, None) => (0, 0),
        };
        put("src_port", sp.to_string());
        put("dst_port", dp.to_string());
        put(
            "tcp_flags",
            tcp.and_then(|t| field_num(t, "tcp.flags"))
                .map(|v| v & 0xff)
                .unwrap_or(0)
                .to_string(),
        );
        let (it, ic) = match (icmp, icmp6) {
            (Some(i), _) => (
                field_num(i, "icmp.type").unwrap(),
                field_num(i, "icmp.code").unwrap(),
            ),
            (None, Some(i)) => (
                field_num(i, "icmpv6.type").unwrap(),
                field_num(i, "icmpv6.code").unwrap(),
            ),
            (None, None) => (0, 0),
        };
        put("icmp_type", it.to_string());
        put("icmp_code", ic.to_string());
    }

    if let Some(sw) = s.get("Extended switch data") {
        put(
            "src_vlan",
            field_num(sw, "sflow_245.vlan.in").unwrap().to_string(),
        );
        put(
            "dst_vlan",
            field_num(sw, "sflow_245.vlan.out").unwrap().to_string(),
        );
    }
    let router = s.get("Extended router data");
    let gateway = s.get("Extended gateway data");
    if let Some(r) = router {
        put(
            "next_hop",
            ip_text(first_str(r, "sflow_245.nexthop").unwrap()),
        );
        put(
            "src_net",
            field_num(r, "sflow_245.nexthop.src_mask")
                .unwrap()
                .to_string(),
        );
        put(
            "dst_net",
            field_num(r, "sflow_245.nexthop.dst_mask")
                .unwrap()
                .to_string(),
        );
    }
    if let Some(g) = gateway {
        let nh = ip_text(first_str(g, "sflow_245.nexthop").unwrap());
        if router.is_none() {
            put("next_hop", nh.clone());
        }
        put("bgp_next_hop", nh);
        let router_as = field_num(g, "sflow_245.as").unwrap() as u32;
        let src_as = field_num(g, "sflow_245.srcAS").unwrap() as u32;
        // every segment's AS list, in order
        let path: Vec<u32> = g
            .get("sflow.as_type_tree")
            .map(each)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|seg| strings(seg.get("sflow_245.dstAS")))
            .map(|a| num(&a) as u32)
            .collect();
        let communities: Vec<u32> = g
            .get("sflow_245.communityEntries_tree")
            .map(|t| strings(t.get("sflow_245.dstAS")))
            .unwrap_or_default()
            .iter()
            .map(|c| num(c) as u32)
            .collect();
        // the mapping rules (protocols.md 6.4): dst = last AS of the path or the router's,
        // next hop AS = first of the path, src = src_as when known else the router's
        put(
            "dst_as",
            path.last().copied().unwrap_or(router_as).to_string(),
        );
        put(
            "next_hop_as",
            path.first().copied().unwrap_or(0).to_string(),
        );
        put(
            "src_as",
            if src_as > 0 { src_as } else { router_as }.to_string(),
        );
        put("as_path", list_text(&path[..path.len().min(MAX_AS_PATH)]));
        put(
            "communities",
            list_text(&communities[..communities.len().min(MAX_COMMUNITIES)]),
        );
    }
    f
}

/// The same fields of a coreflow record.
pub fn actual_flow(r: &FlowRecord) -> Fields {
    let mut f = Fields::new();
    let mut put = |k: &'static str, v: String| {
        f.insert(k, v);
    };
    put("sampler_address", addr_text(r.sampler_address));
    put("sequence_num", r.sequence_num.to_string());
    put("sampling_rate", r.sampling_rate.to_string());
    put("in_if", r.in_if.to_string());
    put("out_if", r.out_if.to_string());
    put("bytes", r.bytes.to_string());
    put("packets", r.packets.to_string());
    put("src_mac", mac_text(r.src_mac));
    put("dst_mac", mac_text(r.dst_mac));
    put("vlan_id", r.vlan_id.to_string());
    put("etype", r.etype.to_string());
    put("src_addr", addr_text(r.src_addr));
    put("dst_addr", addr_text(r.dst_addr));
    put("proto", r.proto.to_string());
    put("ip_tos", r.ip_tos.to_string());
    put("ip_ttl", r.ip_ttl.to_string());
    put("fragment_id", r.fragment_id.to_string());
    put("fragment_offset", r.fragment_offset.to_string());
    put("ip_flags", r.ip_flags.to_string());
    put("ipv6_flow_label", r.ipv6_flow_label.to_string());
    put("src_port", r.src_port.to_string());
    put("dst_port", r.dst_port.to_string());
    put("tcp_flags", r.tcp_flags.to_string());
    put("icmp_type", r.icmp_type.to_string());
    put("icmp_code", r.icmp_code.to_string());
    put("src_vlan", r.src_vlan.to_string());
    put("dst_vlan", r.dst_vlan.to_string());
    put("next_hop", addr_text(r.next_hop));
    put("bgp_next_hop", addr_text(r.bgp_next_hop));
    put("src_net", r.src_net.to_string());
    put("dst_net", r.dst_net.to_string());
    put("src_as", r.src_as.to_string());
    put("dst_as", r.dst_as.to_string());
    put("next_hop_as", r.next_hop_as.to_string());
    put("as_path", list_text(r.as_path()));
    put("communities", list_text(r.communities()));
    f
}

/// tshark's counter record names and field keys, for the record types coreflow exports.
pub fn expect_counter(name: &str, rec: &Value, index: u64) -> Option<Fields> {
    let mut f = Fields::new();
    f.insert("source_id_index", index.to_string());
    let keys: &[(&str, &'static str)] = match name {
        "Generic interface counters" => &[
            ("sflow_245.ifindex", "IfIndex"),
            ("sflow_245.iftype", "IfType"),
            ("sflow_245.ifspeed", "IfSpeed"),
            ("sflow_245.ifdirection", "IfDirection"),
            ("sflow_245.ifadmin_status", "IfAdminStatus"),
            ("sflow_245.ifoper_status", "IfOperStatus"),
            ("sflow_245.ifinoct", "IfInOctets"),
            ("sflow_245.ifinpkt", "IfInUcastPkts"),
            ("sflow_245.ifinmcast", "IfInMulticastPkts"),
            ("sflow_245.ifinbcast", "IfInBroadcastPkts"),
            ("sflow_245.ifindisc", "IfInDiscards"),
            ("sflow_245.ifinerr", "IfInErrors"),
            ("sflow_245.ifinunk", "IfInUnknownProtos"),
            ("sflow_245.ifoutoct", "IfOutOctets"),
            ("sflow_245.ifoutpkt", "IfOutUcastPkts"),
            ("sflow_245.ifoutmcast", "IfOutMulticastPkts"),
            ("sflow_245.ifoutbcast", "IfOutBroadcastPkts"),
            ("sflow_245.ifoutdisc", "IfOutDiscards"),
            ("sflow_245.ifouterr", "IfOutErrors"),
            ("sflow_245.ifpromisc", "IfPromiscuousMode"),
        ],
        "Ethernet interface counters" => &[
            (
                "sflow_245.dot3StatsAlignmentErrors",
                "Dot3StatsAlignmentErrors",
            ),
            ("sflow_245.dot3StatsFCSErrors", "Dot3StatsFCSErrors"),
            (
                "sflow_245.dot3StatsSingleCollisionFrames",
                "Dot3StatsSingleCollisionFrames",
            ),
            (
                "sflow_245.dot3StatsMultipleCollisionFrames",
                "Dot3StatsMultipleCollisionFrames",
            ),
            ("sflow_245.dot3StatsSQETestErrors", "Dot3StatsSQETestErrors"),
            (
                "sflow_245.dot3StatsDeferredTransmissions",
                "Dot3StatsDeferredTransmissions",
            ),
            (
                "sflow_245.dot3StatsLateCollisions",
                "Dot3StatsLateCollisions",
            ),
            (
                "sflow_245.dot3StatsExcessiveCollisions",
                "Dot3StatsExcessiveCollisions",
            ),
            (
                "sflow_245.dot3StatsInternalMacTransmitErrors",
                "Dot3StatsInternalMacTransmitErrors",
            ),
            (
                "sflow_245.dot3StatsCarrierSenseErrors",
                "Dot3StatsCarrierSenseErrors",
            ),
            ("sflow_245.dot3StatsFrameTooLongs", "Dot3StatsFrameTooLongs"),
            (
                "sflow_245.dot3StatsInternalMacReceiveErrors",
                "Dot3StatsInternalMacReceiveErrors",
            ),
            ("sflow_245.dot3StatsSymbolErrors", "Dot3StatsSymbolErrors"),
        ],
        "Processor information" => &[
            ("sflow_5.cpu_5s", "Cpu5s"),
            ("sflow_5.cpu_1m", "Cpu1m"),
            ("sflow_5.cpu_5m", "Cpu5m"),
            ("sflow_5.total_memory", "TotalMemory"),
            ("sflow_5.free_memory", "FreeMemory"),
        ],
        _ => return None,
    };
    f.insert("kind", name.to_string());
    for (tk, ck) in keys {
        f.insert(
            ck,
            field_num(rec, tk)
                .unwrap_or_else(|| panic!("{tk}"))
                .to_string(),
        );
    }
    Some(f)
}

pub fn actual_counter(c: &CounterRecord) -> Fields {
    let mut f = Fields::new();
    f.insert("source_id_index", c.source_id_index.to_string());
    let mut put = |k: &'static str, v: u64| {
        f.insert(k, v.to_string());
    };
    match c.counters {
        Counters::Interface(i) => {
            put("IfIndex", i.if_index.into());
            put("IfType", i.if_type.into());
            put("IfSpeed", i.if_speed);
            put("IfDirection", i.if_direction.into());
            put("IfAdminStatus", (i.if_status & 1).into());
            put("IfOperStatus", ((i.if_status >> 1) & 1).into());
            put("IfInOctets", i.if_in_octets);
            put("IfInUcastPkts", i.if_in_ucast_pkts.into());
            put("IfInMulticastPkts", i.if_in_multicast_pkts.into());
            put("IfInBroadcastPkts", i.if_in_broadcast_pkts.into());
            put("IfInDiscards", i.if_in_discards.into());
            put("IfInErrors", i.if_in_errors.into());
            put("IfInUnknownProtos", i.if_in_unknown_protos.into());
            put("IfOutOctets", i.if_out_octets);
            put("IfOutUcastPkts", i.if_out_ucast_pkts.into());
            put("IfOutMulticastPkts", i.if_out_multicast_pkts.into());
            put("IfOutBroadcastPkts", i.if_out_broadcast_pkts.into());
            put("IfOutDiscards", i.if_out_discards.into());
            put("IfOutErrors", i.if_out_errors.into());
            put("IfPromiscuousMode", i.if_promiscuous_mode.into());
            f.insert("kind", "Generic interface counters".into());
        }
        Counters::Ethernet(e) => {
            put(
                "Dot3StatsAlignmentErrors",
                e.dot3_stats_alignment_errors.into(),
            );
            put("Dot3StatsFCSErrors", e.dot3_stats_fcs_errors.into());
            put(
                "Dot3StatsSingleCollisionFrames",
                e.dot3_stats_single_collision_frames.into(),
            );
            put(
                "Dot3StatsMultipleCollisionFrames",
                e.dot3_stats_multiple_collision_frames.into(),
            );
            put(
                "Dot3StatsSQETestErrors",
                e.dot3_stats_sqe_test_errors.into(),
            );
            put(
                "Dot3StatsDeferredTransmissions",
                e.dot3_stats_deferred_transmissions.into(),
            );
            put(
                "Dot3StatsLateCollisions",
                e.dot3_stats_late_collisions.into(),
            );
            put(
                "Dot3StatsExcessiveCollisions",
                e.dot3_stats_excessive_collisions.into(),
            );
            put(
                "Dot3StatsInternalMacTransmitErrors",
                e.dot3_stats_internal_mac_transmit_errors.into(),
            );
            put(
                "Dot3StatsCarrierSenseErrors",
                e.dot3_stats_carrier_sense_errors.into(),
            );
            put(
                "Dot3StatsFrameTooLongs",
                e.dot3_stats_frame_too_longs.into(),
            );
            put(
                "Dot3StatsInternalMacReceiveErrors",
                e.dot3_stats_internal_mac_receive_errors.into(),
            );
            put("Dot3StatsSymbolErrors", e.dot3_stats_symbol_errors.into());
            f.insert("kind", "Ethernet interface counters".into());
        }
        Counters::Processor(p) => {
            put("Cpu5s", p.cpu5s.into());
            put("Cpu1m", p.cpu1m.into());
            put("Cpu5m", p.cpu5m.into());
            put("TotalMemory", p.total_memory);
            put("FreeMemory", p.free_memory);
            f.insert("kind", "Processor information".into());
        }
        Counters::Vlan(_) => {
            f.insert("kind", "VLAN counters".into());
        }
        Counters::None => {}
    }
    f
}
