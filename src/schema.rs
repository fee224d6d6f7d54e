//! Output schemas: one `FlowRecord` written as each wire layout, in protobuf and as JSON.
//!
//! Each schema is declared once (field number, JSON key, kind, value) in `schema!`, which
//! generates both a protobuf encoder and a JSON writer from the same list, so the two can
//! never disagree. The encoders write straight into a caller's buffer: no intermediate
//! message struct, no allocation once the buffer has grown. The prost-generated types in
//! `crate::pb` describe the same layouts and are what the tests decode the output with.

use crate::flow::{layer, Addr, FlowRecord, FlowType};
use std::io::Write;

/// The selectable output layouts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schema {
    /// GoFlow v2.1.0 `flowprotob.FlowMessage` (+ coreflow extensions >= 42).
    #[default]
    GoflowV2,
    /// cloudflare/goflow v3 final layout.
    GoflowV3,
    /// goflow2 `flowpb.FlowMessage` (nanosecond times).
    Goflow2,
}

impl Schema {
    pub const NAMES: [&'static str; 3] = ["goflow-v2", "goflow-v3", "goflow2"];

    pub fn parse(s: &str) -> Option<Schema> {
        match s {
            "goflow-v2" => Some(Schema::GoflowV2),
            "goflow-v3" => Some(Schema::GoflowV3),
            "goflow2" => Some(Schema::Goflow2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Schema::GoflowV2 => "goflow-v2",
            Schema::GoflowV3 => "goflow-v3",
            Schema::Goflow2 => "goflow2",
        }
    }

    /// Appends the record as one protobuf message (no length prefix).
    #[inline]
    pub fn encode_pb(self, r: &FlowRecord, buf: &mut Vec<u8>) {
        match self {
            Schema::GoflowV2 => goflow_v2_pb(r, buf),
            Schema::GoflowV3 => goflow_v3_pb(r, buf),
            Schema::Goflow2 => goflow2_pb(r, buf),
        }
    }

    /// Appends the record as a varint length prefix plus the message.
    #[inline]
    pub fn encode_pb_delimited(self, r: &FlowRecord, buf: &mut Vec<u8>) {
        // Encode after a 3-byte gap (messages are far below 2 MiB), then close the gap.
        let start = buf.len();
        buf.extend_from_slice(&[0, 0, 0]);
        self.encode_pb(r, buf);
        let len = buf.len() - start - 3;
        let mut prefix = [0u8; 10];
        let n = varint_into(len as u64, &mut prefix);
        if n <= 3 {
            if n < 3 {
                buf.copy_within(start + 3.., start + n);
                buf.truncate(start + n + len);
            }
            buf[start..start + n].copy_from_slice(&prefix[..n]);
        } else {
            buf.splice(start..start + 3, prefix[..n].iter().copied());
        }
    }

    /// Appends the record as one JSON object (no newline).
    pub fn encode_json(self, r: &FlowRecord, buf: &mut Vec<u8>) {
        match self {
            Schema::GoflowV2 => goflow_v2_json(r, buf),
            Schema::GoflowV3 => goflow_v3_json(r, buf),
            Schema::Goflow2 => goflow2_json(r, buf),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// protobuf primitives

#[inline]
fn varint_into(mut v: u64, out: &mut [u8; 10]) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

#[inline]
fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    // byte pushes, not `extend_from_slice` of a variable-length slice: that became a libc
    // memcpy call per field and was a quarter of the sFlow hot path
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

#[inline]
fn put_key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    put_varint(buf, u64::from((field << 3) | wire));
}

mod pb {
    use super::*;

    #[inline]
    pub fn u64(buf: &mut Vec<u8>, f: u32, v: u64) {
        if v != 0 {
            put_key(buf, f, 0);
            put_varint(buf, v);
        }
    }
    #[inline]
    pub fn u32(buf: &mut Vec<u8>, f: u32, v: u32) {
        u64(buf, f, u64::from(v))
    }
    #[inline]
    pub fn mac(buf: &mut Vec<u8>, f: u32, v: u64) {
        u64(buf, f, v)
    }
    #[inline]
    pub fn boolean(buf: &mut Vec<u8>, f: u32, v: bool) {
        u64(buf, f, u64::from(v))
    }
    #[inline]
    pub fn enumv(buf: &mut Vec<u8>, f: u32, v: (i32, &str)) {
        u64(buf, f, v.0 as u64)
    }
    #[inline]
    pub fn addr(buf: &mut Vec<u8>, f: u32, v: Addr) {
        if !v.is_none() {
            let s = v.as_slice();
            put_key(buf, f, 2);
            put_varint(buf, s.len() as u64);
            buf.extend_from_slice(s);
        }
    }
    /// `repeated bytes` with at most one element.
    #[inline]
    pub fn addr_list(buf: &mut Vec<u8>, f: u32, v: Addr) {
        addr(buf, f, v)
    }
    /// Packed `repeated uint32` (proto3's default encoding).
    #[inline]
    pub fn packed<T: Copy + Into<u64>>(buf: &mut Vec<u8>, f: u32, v: &[T]) {
        if v.is_empty() {
            return;
        }
        let mut tmp = [0u8; 10];
        let len: usize = v.iter().map(|&x| varint_into(x.into(), &mut tmp)).sum();
        put_key(buf, f, 2);
        put_varint(buf, len as u64);
        for &x in v {
            put_varint(buf, x.into());
        }
    }
    #[inline]
    pub fn layers(buf: &mut Vec<u8>, f: u32, v: &[u8]) {
        packed(buf, f, v)
    }
}

// ---------------------------------------------------------------------------------------------
// JSON primitives: numbers as numbers, addresses as text, MACs as aa:bb:cc:dd:ee:ff, enums as
// their names. Zero values are omitted (as protobuf omits them).

struct Json<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Json<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Json { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn end(self) {
        self.out.push(b'}');
    }

    fn u64(&mut self, k: &str, v: u64) {
        if v != 0 {
            self.key(k);
            let _ = write!(self.out, "{v}");
        }
    }
    fn u32(&mut self, k: &str, v: u32) {
        self.u64(k, u64::from(v))
    }
    fn boolean(&mut self, k: &str, v: bool) {
        if v {
            self.key(k);
            self.out.extend_from_slice(b"true");
        }
    }
    fn enumv(&mut self, k: &str, v: (i32, &str)) {
        self.key(k);
        self.out.push(b'"');
        self.out.extend_from_slice(v.1.as_bytes());
        self.out.push(b'"');
    }
    fn mac(&mut self, k: &str, v: u64) {
        if v != 0 {
            self.key(k);
            let b = v.to_be_bytes();
            let _ = write!(
                self.out,
                "\"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\"",
                b[2], b[3], b[4], b[5], b[6], b[7]
            );
        }
    }
    fn addr(&mut self, k: &str, v: Addr) {
        if let Some(ip) = v.to_ip() {
            self.key(k);
            let _ = write!(self.out, "\"{ip}\"");
        }
    }
    fn addr_list(&mut self, k: &str, v: Addr) {
        if let Some(ip) = v.to_ip() {
            self.key(k);
            let _ = write!(self.out, "[\"{ip}\"]");
        }
    }
    fn packed<T: Copy + Into<u64>>(&mut self, k: &str, v: &[T]) {
        if v.is_empty() {
            return;
        }
        self.key(k);
        self.out.push(b'[');
        for (i, &x) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let _ = write!(self.out, "{}", x.into());
        }
        self.out.push(b']');
    }
    fn layers(&mut self, k: &str, v: &[u8]) {
        if v.is_empty() {
            return;
        }
        self.key(k);
        self.out.push(b'[');
        for (i, &x) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let _ = write!(self.out, "\"{}\"", layer::name(x));
        }
        self.out.push(b']');
    }
}

macro_rules! schema {
    ($pb_fn:ident, $json_fn:ident, |$r:ident| { $( $num:literal $name:literal $kind:ident ($e:expr); )* }) => {
        #[inline]
        fn $pb_fn($r: &FlowRecord, buf: &mut Vec<u8>) {
            buf.reserve(512);
            $( pb::$kind(buf, $num, $e); )*
        }

        fn $json_fn($r: &FlowRecord, out: &mut Vec<u8>) {
            let mut j = Json::new(out);
            $( j.$kind($name, $e); )*
            j.end();
        }
    };
}

const NS: u64 = 1_000_000_000;

fn v2_type(t: FlowType) -> (i32, &'static str) {
    match t {
        FlowType::Unknown => (0, "FLOWUNKNOWN"),
        FlowType::NetflowV5 => (2, "NFV5"),
        FlowType::SFlow5 => (5, "SFLOW"),
        FlowType::NetflowV9 => (9, "NFV9"),
        FlowType::Ipfix => (10, "IPFIX"),
    }
}

fn v3_type(t: FlowType) -> (i32, &'static str) {
    match t {
        FlowType::Unknown => (0, "FLOWUNKNOWN"),
        FlowType::SFlow5 => (1, "SFLOW_5"),
        FlowType::NetflowV5 => (2, "NETFLOW_V5"),
        FlowType::NetflowV9 => (3, "NETFLOW_V9"),
        FlowType::Ipfix => (4, "IPFIX"),
    }
}

/// GoFlow v2's deprecated `IPversion`, from the source address family.
fn v2_ipversion(r: &FlowRecord) -> (i32, &'static str) {
    if r.src_addr.is_v4() {
        (4, "IPv4")
    } else if r.src_addr.is_v6() {
        (6, "IPv6")
    } else {
        (0, "IPUNKNOWN")
    }
}

/// The n-th MPLS label/TTL (0-based), or 0.
fn mpls_at(r: &FlowRecord, i: usize) -> (u32, u32) {
    if i < r.mpls_count as usize {
        (r.mpls_labels[i], u32::from(r.mpls_ttls[i]))
    } else {
        (0, 0)
    }
}

fn mpls_last(r: &FlowRecord) -> (u32, u32) {
    match r.mpls_count {
        0 => (0, 0),
        n => mpls_at(r, n as usize - 1),
    }
}

schema!(goflow_v2_pb, goflow_v2_json, |r| {
    1 "Type" enumv(v2_type(r.flow_type));
    2 "TimeRecvd" u64(r.time_received_ns / NS);
    3 "SamplingRate" u64(r.sampling_rate);
    4 "SequenceNum" u32(r.sequence_num);
    5 "TimeFlow" u64(r.time_flow_end_ns / NS);
    6 "SrcIP" addr(r.src_addr);
    7 "DstIP" addr(r.dst_addr);
    8 "IPversion" enumv(v2_ipversion(r));
    9 "Bytes" u64(r.bytes);
    10 "Packets" u64(r.packets);
    11 "RouterAddr" addr(r.sampler_address);
    12 "NextHop" addr(r.next_hop);
    13 "NextHopAS" u32(r.next_hop_as);
    14 "SrcAS" u32(r.src_as);
    15 "DstAS" u32(r.dst_as);
    16 "SrcNet" u32(r.src_net);
    17 "DstNet" u32(r.dst_net);
    18 "SrcIf" u32(r.in_if);
    19 "DstIf" u32(r.out_if);
    20 "Proto" u32(r.proto);
    21 "SrcPort" u32(r.src_port);
    22 "DstPort" u32(r.dst_port);
    23 "IPTos" u32(r.ip_tos);
    24 "ForwardingStatus" u32(r.forwarding_status);
    25 "IPTTL" u32(r.ip_ttl);
    26 "TCPFlags" u32(r.tcp_flags);
    27 "SrcMac" mac(r.src_mac);
    28 "DstMac" mac(r.dst_mac);
    29 "VlanId" u32(r.vlan_id);
    30 "Etype" u32(r.etype);
    31 "IcmpType" u32(r.icmp_type);
    32 "IcmpCode" u32(r.icmp_code);
    33 "SrcVlan" u32(r.src_vlan);
    34 "DstVlan" u32(r.dst_vlan);
    35 "FragmentId" u32(r.fragment_id);
    36 "FragmentOffset" u32(r.fragment_offset);
    37 "IPv6FlowLabel" u32(r.ipv6_flow_label);
    38 "IngressVrfId" u32(r.ingress_vrf_id);
    39 "EgressVrfId" u32(r.egress_vrf_id);
    40 "TimeFlowStart" u64(r.time_flow_start_ns / NS);
    41 "TimeFlowEnd" u64(r.time_flow_end_ns / NS);
    42 "FlowDirection" u32(r.flow_direction);
    43 "HasEncap" boolean(r.has_encap);
    44 "SrcAddrEncap" addr(r.src_addr_encap);
    45 "DstAddrEncap" addr(r.dst_addr_encap);
    46 "ProtoEncap" u32(r.proto_encap);
    47 "EtypeEncap" u32(r.etype_encap);
    48 "IPTosEncap" u32(r.ip_tos_encap);
    49 "IPTTLEncap" u32(r.ip_ttl_encap);
    50 "IPv6FlowLabelEncap" u32(r.ipv6_flow_label_encap);
    51 "FragmentIdEncap" u32(r.fragment_id_encap);
    52 "FragmentOffsetEncap" u32(r.fragment_offset_encap);
    53 "HasMPLS" boolean(r.mpls_count > 0);
    54 "MPLSCount" u32(u32::from(r.mpls_count));
    55 "MPLS1TTL" u32(mpls_at(r, 0).1);
    56 "MPLS1Label" u32(mpls_at(r, 0).0);
    57 "MPLS2TTL" u32(mpls_at(r, 1).1);
    58 "MPLS2Label" u32(mpls_at(r, 1).0);
    59 "MPLS3TTL" u32(mpls_at(r, 2).1);
    60 "MPLS3Label" u32(mpls_at(r, 2).0);
    61 "MPLSLastTTL" u32(mpls_last(r).1);
    62 "MPLSLastLabel" u32(mpls_last(r).0);
    70 "ObservationDomainId" u32(r.observation_domain_id);
    71 "ObservationPointId" u32(r.observation_point_id);
    100 "BgpNextHop" addr(r.bgp_next_hop);
    101 "BgpCommunities" packed(r.communities());
    102 "AsPath" packed(r.as_path());
    110 "TimeReceivedNs" u64(r.time_received_ns);
    111 "TimeFlowStartNs" u64(r.time_flow_start_ns);
    112 "TimeFlowEndNs" u64(r.time_flow_end_ns);
    120 "BiFlowDirection" u32(r.bi_flow_direction);
    121 "IPFlags" u32(r.ip_flags);
});

schema!(goflow_v3_pb, goflow_v3_json, |r| {
    1 "Type" enumv(v3_type(r.flow_type));
    2 "TimeReceived" u64(r.time_received_ns / NS);
    3 "SamplingRate" u64(r.sampling_rate);
    4 "SequenceNum" u32(r.sequence_num);
    5 "TimeFlowEnd" u64(r.time_flow_end_ns / NS);
    6 "SrcAddr" addr(r.src_addr);
    7 "DstAddr" addr(r.dst_addr);
    9 "Bytes" u64(r.bytes);
    10 "Packets" u64(r.packets);
    11 "SamplerAddress" addr(r.sampler_address);
    12 "NextHop" addr(r.next_hop);
    13 "NextHopAS" u32(r.next_hop_as);
    14 "SrcAS" u32(r.src_as);
    15 "DstAS" u32(r.dst_as);
    16 "SrcNet" u32(r.src_net);
    17 "DstNet" u32(r.dst_net);
    18 "InIf" u32(r.in_if);
    19 "OutIf" u32(r.out_if);
    20 "Proto" u32(r.proto);
    21 "SrcPort" u32(r.src_port);
    22 "DstPort" u32(r.dst_port);
    23 "IPTos" u32(r.ip_tos);
    24 "ForwardingStatus" u32(r.forwarding_status);
    25 "IPTTL" u32(r.ip_ttl);
    26 "TCPFlags" u32(r.tcp_flags);
    27 "SrcMac" mac(r.src_mac);
    28 "DstMac" mac(r.dst_mac);
    29 "VlanId" u32(r.vlan_id);
    30 "Etype" u32(r.etype);
    31 "IcmpType" u32(r.icmp_type);
    32 "IcmpCode" u32(r.icmp_code);
    33 "SrcVlan" u32(r.src_vlan);
    34 "DstVlan" u32(r.dst_vlan);
    35 "FragmentId" u32(r.fragment_id);
    36 "FragmentOffset" u32(r.fragment_offset);
    37 "IPv6FlowLabel" u32(r.ipv6_flow_label);
    38 "TimeFlowStart" u64(r.time_flow_start_ns / NS);
    39 "IngressVrfID" u32(r.ingress_vrf_id);
    40 "EgressVrfID" u32(r.egress_vrf_id);
    41 "BiFlowDirection" u32(r.bi_flow_direction);
    42 "FlowDirection" u32(r.flow_direction);
    43 "HasEncap" boolean(r.has_encap);
    44 "SrcAddrEncap" addr(r.src_addr_encap);
    45 "DstAddrEncap" addr(r.dst_addr_encap);
    46 "ProtoEncap" u32(r.proto_encap);
    47 "EtypeEncap" u32(r.etype_encap);
    48 "IPTosEncap" u32(r.ip_tos_encap);
    49 "IPTTLEncap" u32(r.ip_ttl_encap);
    50 "IPv6FlowLabelEncap" u32(r.ipv6_flow_label_encap);
    51 "FragmentIdEncap" u32(r.fragment_id_encap);
    52 "FragmentOffsetEncap" u32(r.fragment_offset_encap);
    53 "HasMPLS" boolean(r.mpls_count > 0);
    54 "MPLSCount" u32(u32::from(r.mpls_count));
    55 "MPLS1TTL" u32(mpls_at(r, 0).1);
    56 "MPLS1Label" u32(mpls_at(r, 0).0);
    57 "MPLS2TTL" u32(mpls_at(r, 1).1);
    58 "MPLS2Label" u32(mpls_at(r, 1).0);
    59 "MPLS3TTL" u32(mpls_at(r, 2).1);
    60 "MPLS3Label" u32(mpls_at(r, 2).0);
    61 "MPLSLastTTL" u32(mpls_last(r).1);
    62 "MPLSLastLabel" u32(mpls_last(r).0);
    63 "HasPPP" boolean(r.has_ppp);
    64 "PPPAddressControl" u32(r.ppp_address_control);
});

schema!(goflow2_pb, goflow2_json, |r| {
    1 "type" enumv(v3_type(r.flow_type));
    3 "sampling_rate" u64(r.sampling_rate);
    4 "sequence_num" u32(r.sequence_num);
    6 "src_addr" addr(r.src_addr);
    7 "dst_addr" addr(r.dst_addr);
    9 "bytes" u64(r.bytes);
    10 "packets" u64(r.packets);
    11 "sampler_address" addr(r.sampler_address);
    12 "next_hop" addr(r.next_hop);
    13 "next_hop_as" u32(r.next_hop_as);
    14 "src_as" u32(r.src_as);
    15 "dst_as" u32(r.dst_as);
    16 "src_net" u32(r.src_net);
    17 "dst_net" u32(r.dst_net);
    18 "in_if" u32(r.in_if);
    19 "out_if" u32(r.out_if);
    20 "proto" u32(r.proto);
    21 "src_port" u32(r.src_port);
    22 "dst_port" u32(r.dst_port);
    23 "ip_tos" u32(r.ip_tos);
    24 "forwarding_status" u32(r.forwarding_status);
    25 "ip_ttl" u32(r.ip_ttl);
    26 "tcp_flags" u32(r.tcp_flags);
    27 "src_mac" mac(r.src_mac);
    28 "dst_mac" mac(r.dst_mac);
    29 "vlan_id" u32(r.vlan_id);
    30 "etype" u32(r.etype);
    31 "icmp_type" u32(r.icmp_type);
    32 "icmp_code" u32(r.icmp_code);
    33 "src_vlan" u32(r.src_vlan);
    34 "dst_vlan" u32(r.dst_vlan);
    35 "fragment_id" u32(r.fragment_id);
    36 "fragment_offset" u32(r.fragment_offset);
    37 "ipv6_flow_label" u32(r.ipv6_flow_label);
    38 "ip_flags" u32(r.ip_flags);
    70 "observation_domain_id" u32(r.observation_domain_id);
    71 "observation_point_id" u32(r.observation_point_id);
    80 "mpls_ttl" packed(r.mpls_ttls());
    81 "mpls_label" packed(r.mpls_labels());
    82 "mpls_ip" addr_list(r.mpls_ip);
    100 "bgp_next_hop" addr(r.bgp_next_hop);
    101 "bgp_communities" packed(r.communities());
    102 "as_path" packed(r.as_path());
    103 "layer_stack" layers(r.layers().0);
    104 "layer_size" packed(r.layers().1);
    110 "time_received_ns" u64(r.time_received_ns);
    111 "time_flow_start_ns" u64(r.time_flow_start_ns);
    112 "time_flow_end_ns" u64(r.time_flow_end_ns);
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;
    use prost::Message;

    fn sample() -> FlowRecord {
        let mut r = FlowRecord {
            flow_type: FlowType::NetflowV9,
            time_received_ns: 1_700_000_000_123_456_789,
            time_flow_start_ns: 1_699_999_990_000_000_000,
            time_flow_end_ns: 1_699_999_999_000_000_000,
            sequence_num: 42,
            sampling_rate: 1000,
            sampler_address: Addr::v4([192, 0, 2, 1]),
            src_addr: Addr::v4([10, 0, 0, 1]),
            dst_addr: Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            bytes: 1500,
            packets: 3,
            proto: 6,
            src_port: 443,
            dst_port: 51000,
            src_mac: 0x0011_2233_4455,
            etype: 0x86dd,
            ip_flags: 2,
            bi_flow_direction: 1,
            flow_direction: 1,
            ingress_vrf_id: 7,
            ..Default::default()
        };
        r.push_mpls(16001, 64);
        r.push_mpls(24000, 63);
        r.push_as(65001);
        r.push_as(65002);
        r.push_layer(layer::ETHERNET, 14);
        r.push_layer(layer::IPV6, 40);
        r
    }

    #[test]
    fn v2_round_trips_through_prost() {
        let r = sample();
        let mut buf = Vec::new();
        Schema::GoflowV2.encode_pb(&r, &mut buf);
        let m = pb::goflow_v2::FlowMessage::decode(&buf[..]).unwrap();
        assert_eq!(m.r#type, 9);
        assert_eq!(m.time_recvd, 1_700_000_000);
        assert_eq!(m.time_received_ns, r.time_received_ns);
        assert_eq!(m.time_flow, 1_699_999_999);
        assert_eq!(m.time_flow_start, 1_699_999_990);
        assert_eq!(m.src_ip, vec![10, 0, 0, 1]);
        assert_eq!(m.dst_ip.len(), 16);
        assert_eq!(m.i_pversion, 4);
        assert_eq!(m.router_addr, vec![192, 0, 2, 1]);
        assert_eq!((m.bytes, m.packets, m.proto), (1500, 3, 6));
        assert_eq!((m.src_port, m.dst_port), (443, 51000));
        assert_eq!(m.src_mac, 0x0011_2233_4455);
        assert_eq!(m.ingress_vrf_id, 7);
        assert!(m.has_mpls);
        assert_eq!((m.mpls_count, m.mpls1_label, m.mpls1ttl), (2, 16001, 64));
        assert_eq!((m.mpls_last_label, m.mpls_last_ttl), (24000, 63));
        assert_eq!(m.as_path, vec![65001, 65002]);
        assert_eq!(
            (m.bi_flow_direction, m.ip_flags, m.flow_direction),
            (1, 2, 1)
        );
    }

    #[test]
    fn v3_and_goflow2_round_trip() {
        let r = sample();
        let mut buf = Vec::new();
        Schema::GoflowV3.encode_pb(&r, &mut buf);
        let m = pb::goflow_v3::FlowMessage::decode(&buf[..]).unwrap();
        assert_eq!(m.r#type, 3);
        assert_eq!(m.time_flow_start, 1_699_999_990);
        assert_eq!(m.time_flow_end, 1_699_999_999);
        assert_eq!(m.ingress_vrf_id, 7);
        assert_eq!(m.bi_flow_direction, 1);
        assert_eq!(m.sampler_address, vec![192, 0, 2, 1]);

        buf.clear();
        Schema::Goflow2.encode_pb(&r, &mut buf);
        let m = pb::goflow2::FlowMessage::decode(&buf[..]).unwrap();
        assert_eq!(m.r#type, 3);
        assert_eq!(m.time_flow_start_ns, r.time_flow_start_ns);
        assert_eq!(m.mpls_label, vec![16001, 24000]);
        assert_eq!(m.mpls_ttl, vec![64, 63]);
        assert_eq!(m.ip_flags, 2);
        assert_eq!(m.layer_stack, vec![0, 2]);
        assert_eq!(m.layer_size, vec![14, 40]);
    }

    #[test]
    fn delimited_prefix() {
        let r = sample();
        let mut buf = vec![0xAA];
        Schema::GoflowV2.encode_pb_delimited(&r, &mut buf);
        let m = pb::goflow_v2::FlowMessage::decode_length_delimited(&buf[1..]).unwrap();
        assert_eq!(m.bytes, 1500);
    }

    #[test]
    fn json_keys_and_values() {
        let r = sample();
        let mut buf = Vec::new();
        Schema::GoflowV2.encode_json(&r, &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["Type"], "NFV9");
        assert_eq!(v["SrcIP"], "10.0.0.1");
        assert_eq!(v["DstIP"], "2001:db8::1");
        assert_eq!(v["SrcMac"], "00:11:22:33:44:55");
        assert_eq!(v["Bytes"], 1500);
        assert_eq!(v["AsPath"], serde_json::json!([65001, 65002]));
        assert!(v.get("DstMac").is_none());

        buf.clear();
        Schema::Goflow2.encode_json(&r, &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["type"], "NETFLOW_V9");
        assert_eq!(v["layer_stack"], serde_json::json!(["Ethernet", "IPv6"]));
    }
}
