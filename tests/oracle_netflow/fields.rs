//! The compared fields: for each, its name, whether it is core (required to agree 100% on a
//! capture tshark does not mark malformed), where tshark shows it (IE numbers and tshark's
//! keys, see [`super::expect`]) and the `FlowRecord` field coreflow puts it in.

use super::expect::{
    flow_time, ip_to_addr, pair, pair_encap, parse_addr, parse_mac, parse_u, pick, uint,
    uint_encap, Expect, Oracled, Val,
};
use super::frame;
use super::tshark::{Frame, Record, RecordKind};
use coreflow::flow::{FlowRecord, FlowType};

/// One compared field: its name, whether it is core, what tshark says and what coreflow has.
pub struct Field {
    pub name: &'static str,
    pub core: bool,
    pub oracle: fn(&Record, &Frame) -> Oracled,
    pub ours: fn(&FlowRecord) -> Val,
}

const SRCADDR: (&[&str], u16) = (&["cflow.srcaddr"], 8);
const SRCADDR6: (&[&str], u16) = (&["cflow.srcaddrv6", "cflow.srcaddr_v6"], 27);
const DSTADDR: (&[&str], u16) = (&["cflow.dstaddr"], 12);
const DSTADDR6: (&[&str], u16) = (&["cflow.dstaddrv6", "cflow.dstaddr_v6"], 28);
const NEXTHOP: (&[&str], u16) = (&["cflow.nexthop"], 15);
const NEXTHOP6: (&[&str], u16) = (&["cflow.nexthopv6", "cflow.nexthop_v6"], 62);
const BGPNEXTHOP: (&[&str], u16) = (&["cflow.bgpnexthop"], 18);
const BGPNEXTHOP6: (&[&str], u16) = (&["cflow.bgpnexthopv6", "cflow.bgpnexthop_v6"], 63);
const SRCMASK: (&[&str], u16) = (&["cflow.srcmask"], 9);
const SRCMASK6: (&[&str], u16) = (&["cflow.srcmaskv6", "cflow.srcmask_v6"], 29);
const DSTMASK: (&[&str], u16) = (&["cflow.dstmask"], 13);
const DSTMASK6: (&[&str], u16) = (&["cflow.dstmaskv6", "cflow.dstmask_v6"], 30);

fn flow_type_code(t: FlowType) -> u64 {
    match t {
        FlowType::NetflowV5 => 5,
        FlowType::NetflowV9 => 9,
        FlowType::Ipfix => 10,
        FlowType::SFlow5 => 1005,
        FlowType::Unknown => 0,
    }
}

pub const FIELDS: &[Field] = &[
    Field {
        name: "src_addr",
        core: true,
        oracle: |r, _| pair(r, SRCADDR, SRCADDR6, parse_addr).or_else(|| frame::ip_addr(r, false)),
        ours: |f| Val::A(f.src_addr),
    },
    Field {
        name: "dst_addr",
        core: true,
        oracle: |r, _| pair(r, DSTADDR, DSTADDR6, parse_addr).or_else(|| frame::ip_addr(r, true)),
        ours: |f| Val::A(f.dst_addr),
    },
    Field {
        name: "src_addr_encap",
        core: false,
        oracle: |r, _| {
            pair_encap(r, SRCADDR, SRCADDR6, parse_addr).or_else(|| frame::ip_addr_encap(r, false))
        },
        ours: |f| Val::A(f.src_addr_encap),
    },
    Field {
        name: "dst_addr_encap",
        core: false,
        oracle: |r, _| {
            pair_encap(r, DSTADDR, DSTADDR6, parse_addr).or_else(|| frame::ip_addr_encap(r, true))
        },
        ours: |f| Val::A(f.dst_addr_encap),
    },
    Field {
        name: "proto_encap",
        core: false,
        oracle: |r, _| uint_encap(r, &["cflow.protocol"], 4).or_else(|| frame::proto(r, true)),
        ours: |f| Val::U(f.proto_encap.into()),
    },
    Field {
        name: "ip_tos_encap",
        core: false,
        oracle: |r, _| uint_encap(r, &["cflow.tos"], 5),
        ours: |f| Val::U(f.ip_tos_encap.into()),
    },
    Field {
        name: "src_port",
        core: true,
        oracle: |r, _| uint(r, &["cflow.srcport"], 7).or_else(|| frame::port(r, false)),
        ours: |f| Val::U(f.src_port.into()),
    },
    Field {
        name: "dst_port",
        core: true,
        oracle: |r, _| uint(r, &["cflow.dstport"], 11).or_else(|| frame::port(r, true)),
        ours: |f| Val::U(f.dst_port.into()),
    },
    Field {
        name: "proto",
        core: true,
        oracle: |r, _| uint(r, &["cflow.protocol"], 4).or_else(|| frame::proto(r, false)),
        ours: |f| Val::U(f.proto.into()),
    },
    Field {
        name: "bytes",
        core: true,
        // octetDeltaCount (1; tshark names 8-byte ones octets64 in some versions), else
        // octetTotalCount (85, "permanent" in NetFlow v9 terms)
        oracle: |r, _| {
            uint(r, &["cflow.octets", "cflow.octets64"], 1)
                .or_else(|| uint(r, &["cflow.permanent_octets"], 85))
                .or_else(|| frame::bytes(r))
        },
        ours: |f| Val::U(f.bytes),
    },
    Field {
        name: "packets",
        core: true,
        oracle: |r, _| {
            uint(r, &["cflow.packets", "cflow.packets64"], 2)
                .or_else(|| uint(r, &["cflow.permanent_packets"], 86))
                .or_else(|| frame::packets(r))
        },
        ours: |f| Val::U(f.packets),
    },
    Field {
        name: "in_if",
        core: true,
        oracle: |r, _| uint(r, &["cflow.inputint"], 10),
        ours: |f| Val::U(f.in_if.into()),
    },
    Field {
        name: "out_if",
        core: true,
        oracle: |r, _| uint(r, &["cflow.outputint"], 14),
        ours: |f| Val::U(f.out_if.into()),
    },
    Field {
        name: "ip_tos",
        core: false,
        oracle: |r, _| uint(r, &["cflow.tos"], 5).or_else(|| frame::tos(r)),
        ours: |f| Val::U(f.ip_tos.into()),
    },
    Field {
        name: "tcp_flags",
        core: false,
        oracle: |r, _| uint(r, &["cflow.tcpflags"], 6),
        ours: |f| Val::U(f.tcp_flags.into()),
    },
    Field {
        name: "src_as",
        core: false,
        oracle: |r, _| uint(r, &["cflow.srcas"], 16),
        ours: |f| Val::U(f.src_as.into()),
    },
    Field {
        name: "dst_as",
        core: false,
        oracle: |r, _| uint(r, &["cflow.dstas"], 17),
        ours: |f| Val::U(f.dst_as.into()),
    },
    Field {
        name: "src_net",
        core: false,
        oracle: |r, _| pair(r, SRCMASK, SRCMASK6, parse_u),
        ours: |f| Val::U(f.src_net.into()),
    },
    Field {
        name: "dst_net",
        core: false,
        oracle: |r, _| pair(r, DSTMASK, DSTMASK6, parse_u),
        ours: |f| Val::U(f.dst_net.into()),
    },
    Field {
        name: "next_hop",
        core: false,
        oracle: |r, _| pair(r, NEXTHOP, NEXTHOP6, parse_addr),
        ours: |f| Val::A(f.next_hop),
    },
    Field {
        name: "bgp_next_hop",
        core: false,
        oracle: |r, _| pair(r, BGPNEXTHOP, BGPNEXTHOP6, parse_addr),
        ours: |f| Val::A(f.bgp_next_hop),
    },
    Field {
        name: "src_mac",
        core: false,
        oracle: |r, _| {
            pick(r, &["cflow.srcmac"], 56, parse_mac)
                .map(|x| x.map(|p| p.expect))
                .or_else(|| frame::mac(r, false))
        },
        ours: |f| Val::U(f.src_mac),
    },
    Field {
        name: "dst_mac",
        core: false,
        oracle: |r, _| {
            pick(r, &["cflow.dstmac"], 80, parse_mac)
                .map(|x| x.map(|p| p.expect))
                .or_else(|| frame::mac(r, true))
        },
        ours: |f| Val::U(f.dst_mac),
    },
    Field {
        name: "src_vlan",
        core: false,
        oracle: |r, _| uint(r, &["cflow.vlanid"], 58),
        ours: |f| Val::U(f.src_vlan.into()),
    },
    Field {
        name: "dst_vlan",
        core: false,
        oracle: |r, _| uint(r, &["cflow.post_vlanid"], 59),
        ours: |f| Val::U(f.dst_vlan.into()),
    },
    Field {
        name: "vlan_id",
        core: false,
        oracle: |r, _| uint(r, &["cflow.dot1q_vlan_id"], 243).or_else(|| frame::vlan(r)),
        ours: |f| Val::U(f.vlan_id.into()),
    },
    Field {
        name: "ingress_vrf_id",
        core: false,
        oracle: |r, _| uint(r, &["cflow.ingress_vrfid"], 234),
        ours: |f| Val::U(f.ingress_vrf_id.into()),
    },
    Field {
        name: "egress_vrf_id",
        core: false,
        oracle: |r, _| uint(r, &["cflow.egress_vrfid"], 235),
        ours: |f| Val::U(f.egress_vrf_id.into()),
    },
    Field {
        name: "sampling_rate",
        core: false,
        oracle: |r, _| match r.kind {
            RecordKind::V5 => r
                .header
                .v5_sample_rate
                .map(|v| Ok(Expect::exact(Val::U(v)))),
            _ => uint(r, &["cflow.sampling_interval"], 34),
        },
        ours: |f| Val::U(f.sampling_rate),
    },
    Field {
        name: "time_flow_start",
        core: false,
        oracle: |r, _| flow_time(r, "cflow.abstimestart", "cflow.timestart"),
        ours: |f| Val::T(f.time_flow_start_ns),
    },
    Field {
        name: "time_flow_end",
        core: false,
        oracle: |r, _| flow_time(r, "cflow.abstimeend", "cflow.timeend"),
        ours: |f| Val::T(f.time_flow_end_ns),
    },
    Field {
        name: "sequence_num",
        core: false,
        oracle: |r, _| {
            r.header
                .sequence
                .map(|s| Ok(Expect::exact(Val::U(s & 0xffff_ffff))))
        },
        ours: |f| Val::U(f.sequence_num.into()),
    },
    Field {
        name: "sampler_address",
        core: false,
        oracle: |_, fr| {
            fr.exporter
                .map(|ip| Ok(Expect::exact(Val::A(ip_to_addr(ip)))))
        },
        ours: |f| Val::A(f.sampler_address),
    },
    Field {
        name: "time_received",
        core: false,
        oracle: |_, fr| fr.time_ns.map(|t| Ok(Expect::exact(Val::T(t)))),
        ours: |f| Val::T(f.time_received_ns),
    },
    Field {
        name: "flow_type",
        core: false,
        oracle: |r, _| Some(Ok(Expect::exact(Val::U(r.header.version.into())))),
        ours: |f| Val::U(flow_type_code(f.flow_type)),
    },
];
