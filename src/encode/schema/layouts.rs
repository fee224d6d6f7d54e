//! The output layouts, each declared once: GoFlow v2.1.0 (+ coreflow extensions), GoFlow v3
//! and goflow2, as `schema!` lists of (field number, JSON key, kind, value). Each list
//! expands to a protobuf encoder (`<layout>_pb`, through `super::pb` and `PbWriter`) and,
//! for the GoFlow layouts, a JSON writer (`<layout>_json`, through `super::json`), so the
//! two forms cannot disagree on which fields a layout has, their order or their values.
//! goflow2's JSON is not the protobuf list's: goflow2 writes every field, in its `.proto`'s
//! declaration order, with its own value formats (`super::g2json`). Field numbers are those of
//! `proto/*.proto` and JSON keys its field names (docs/schemas.md).

use super::json::Json;
use super::map::{any_encap, any_l2_misc, mpls_at, mpls_last, v2_ipversion, v2_type, v3_type, NS};
use super::pb;
use super::writer::{PbWriter, Prefix, PB_ROOM};
use super::Schema;
use crate::flow::{FieldGroups, Flow, FlowRecord};

/// Writes the protobuf fields of a schema's list (see `schema!`).
macro_rules! pb_fields {
    ($w:ident;) => {};
    ($w:ident; if ($g:expr) { $($inner:tt)* } $($rest:tt)*) => {
        if $g {
            pb_fields!($w; $($inner)*);
        }
        pb_fields!($w; $($rest)*);
    };
    ($w:ident; $num:literal $name:literal $kind:ident ($e:expr); $($rest:tt)*) => {
        pb::$kind($w, $num, $e);
        pb_fields!($w; $($rest)*);
    };
}

/// Writes the JSON members of a schema's list (see `schema!`).
macro_rules! json_fields {
    ($j:ident;) => {};
    ($j:ident; if ($g:expr) { $($inner:tt)* } $($rest:tt)*) => {
        if $g {
            json_fields!($j; $($inner)*);
        }
        json_fields!($j; $($rest)*);
    };
    ($j:ident; $num:literal $name:literal $kind:ident ($e:expr); $($rest:tt)*) => {
        $j.$kind($name, $e);
        json_fields!($j; $($rest)*);
    };
}

/// One schema: `prefix { .. }` holds its leading fields, which must come from `PrefixKey`'s
/// fields only (they are cached per datagram); then the other fields in order.
/// `if (guard) { .. }` skips a group of fields at once; the guard must be false only when
/// every field of the group is zero (so the output is the same with or without it).
/// With a JSON function name the list also gives the schema's JSON writer; without one the
/// schema's JSON is written elsewhere (goflow2's: `super::g2json`, in goflow2's order).
macro_rules! schema {
    ($pb_fn:ident, $schema:ident, |$r:ident| {
        prefix { $($pre:tt)* }
        $($body:tt)*
    }) => {
        /// Writes the message at the start of `b`; returns its length. The writer is a
        /// local of this function, so its length and buffer stay in registers.
        #[inline]
        pub(super) fn $pb_fn<R: Flow>($r: &R, b: &mut [u8; PB_ROOM], prefix: &mut Prefix) -> usize {
            let mut writer = PbWriter {
                b,
                len: 0,
                prefix,
                memo: (0, 0, 0),
            };
            let w = &mut writer;
            w.prefix(Schema::$schema, $r, |w| {
                pb_fields!(w; $($pre)*);
            });
            pb_fields!(w; $($body)*);
            writer.len
        }
    };
    ($pb_fn:ident, $json_fn:ident, $schema:ident, |$r:ident| {
        prefix { $($pre:tt)* }
        $($body:tt)*
    }) => {
        schema!($pb_fn, $schema, |$r| {
            prefix { $($pre)* }
            $($body)*
        });

        pub(super) fn $json_fn($r: &FlowRecord, out: &mut Vec<u8>) {
            let mut j = Json::new(out);
            json_fields!(j; $($pre)*);
            json_fields!(j; $($body)*);
            j.end();
        }
    };
}

schema!(goflow_v2_pb, goflow_v2_json, GoflowV2, |r| {
    prefix {
        1 "Type" enumv(v2_type(r.flow_type()));
        2 "TimeRecvd" u64(r.time_received_ns() / NS);
        3 "SamplingRate" u64(r.sampling_rate());
        4 "SequenceNum" u32(r.sequence_num());
    }
    5 "TimeFlow" u64_memo(r.time_flow_end_ns() / NS);
    6 "SrcIP" addr(r.src_addr());
    7 "DstIP" addr(r.dst_addr());
    8 "IPversion" enumv(v2_ipversion(r));
    9 "Bytes" u64(r.bytes());
    10 "Packets" u64(r.packets());
    11 "RouterAddr" addr(r.sampler_address());
    12 "NextHop" addr(r.next_hop());
    if (r.may_hold(FieldGroups::BGP)) {
        13 "NextHopAS" u32(r.next_hop_as());
    }
    14 "SrcAS" u32(r.src_as());
    15 "DstAS" u32(r.dst_as());
    16 "SrcNet" u32(r.src_net());
    17 "DstNet" u32(r.dst_net());
    18 "SrcIf" u32(r.in_if());
    19 "DstIf" u32(r.out_if());
    20 "Proto" u32(r.proto());
    21 "SrcPort" u32(r.src_port());
    22 "DstPort" u32(r.dst_port());
    23 "IPTos" u32(r.ip_tos());
    if (r.may_hold(FieldGroups::MISC)) {
        24 "ForwardingStatus" u32(r.forwarding_status());
        25 "IPTTL" u32(r.ip_ttl());
    }
    26 "TCPFlags" u32(r.tcp_flags());
    if (r.may_hold(FieldGroups::L2)) {
        27 "SrcMac" mac(r.src_mac());
        28 "DstMac" mac(r.dst_mac());
        29 "VlanId" u32(r.vlan_id());
    }
    30 "Etype" u32(r.etype());
    if (r.may_hold(FieldGroups::L2 | FieldGroups::MISC) && any_l2_misc(r)) {
        31 "IcmpType" u32(r.icmp_type());
        32 "IcmpCode" u32(r.icmp_code());
        33 "SrcVlan" u32(r.src_vlan());
        34 "DstVlan" u32(r.dst_vlan());
        35 "FragmentId" u32(r.fragment_id());
        36 "FragmentOffset" u32(r.fragment_offset());
        37 "IPv6FlowLabel" u32(r.ipv6_flow_label());
        38 "IngressVrfId" u32(r.ingress_vrf_id());
        39 "EgressVrfId" u32(r.egress_vrf_id());
    }
    40 "TimeFlowStart" big(r.time_flow_start_ns() / NS);
    41 "TimeFlowEnd" u64_again(r.time_flow_end_ns() / NS);
    if (r.may_hold(FieldGroups::MISC)) {
        42 "FlowDirection" u32(r.flow_direction());
    }
    if (r.may_hold(FieldGroups::ENCAP) && any_encap(r)) {
        43 "HasEncap" boolean(r.has_encap());
        44 "SrcAddrEncap" addr(r.src_addr_encap());
        45 "DstAddrEncap" addr(r.dst_addr_encap());
        46 "ProtoEncap" u32(r.proto_encap());
        47 "EtypeEncap" u32(r.etype_encap());
        48 "IPTosEncap" u32(r.ip_tos_encap());
        49 "IPTTLEncap" u32(r.ip_ttl_encap());
        50 "IPv6FlowLabelEncap" u32(r.ipv6_flow_label_encap());
        51 "FragmentIdEncap" u32(r.fragment_id_encap());
        52 "FragmentOffsetEncap" u32(r.fragment_offset_encap());
    }
    if (r.mpls_count() > 0) {
        53 "HasMPLS" boolean(r.mpls_count() > 0);
        54 "MPLSCount" u32(u32::from(r.mpls_count()));
        55 "MPLS1TTL" u32(mpls_at(r, 0).1);
        56 "MPLS1Label" u32(mpls_at(r, 0).0);
        57 "MPLS2TTL" u32(mpls_at(r, 1).1);
        58 "MPLS2Label" u32(mpls_at(r, 1).0);
        59 "MPLS3TTL" u32(mpls_at(r, 2).1);
        60 "MPLS3Label" u32(mpls_at(r, 2).0);
        61 "MPLSLastTTL" u32(mpls_last(r).1);
        62 "MPLSLastLabel" u32(mpls_last(r).0);
    }
    70 "ObservationDomainId" u32(r.observation_domain_id());
    if (r.may_hold(FieldGroups::MISC)) {
        71 "ObservationPointId" u32(r.observation_point_id());
    }
    if (r.may_hold(FieldGroups::BGP)) {
        100 "BgpNextHop" addr(r.bgp_next_hop());
        101 "BgpCommunities" packed(r.communities());
        102 "AsPath" packed(r.as_path());
    }
    110 "TimeReceivedNs" recv_ns(r.time_received_ns());
    111 "TimeFlowStartNs" big(r.time_flow_start_ns());
    112 "TimeFlowEndNs" big(r.time_flow_end_ns());
    if (r.may_hold(FieldGroups::MISC)) {
        120 "BiFlowDirection" u32(r.bi_flow_direction());
        121 "IPFlags" u32(r.ip_flags());
        122 "DiscardReason" u32(r.discard_reason());
    }
});

schema!(goflow_v3_pb, goflow_v3_json, GoflowV3, |r| {
    prefix {
        1 "Type" enumv(v3_type(r.flow_type()));
        2 "TimeReceived" u64(r.time_received_ns() / NS);
        3 "SamplingRate" u64(r.sampling_rate());
        4 "SequenceNum" u32(r.sequence_num());
    }
    5 "TimeFlowEnd" big(r.time_flow_end_ns() / NS);
    6 "SrcAddr" addr(r.src_addr());
    7 "DstAddr" addr(r.dst_addr());
    9 "Bytes" u64(r.bytes());
    10 "Packets" u64(r.packets());
    11 "SamplerAddress" addr(r.sampler_address());
    12 "NextHop" addr(r.next_hop());
    if (r.may_hold(FieldGroups::BGP)) {
        13 "NextHopAS" u32(r.next_hop_as());
    }
    14 "SrcAS" u32(r.src_as());
    15 "DstAS" u32(r.dst_as());
    16 "SrcNet" u32(r.src_net());
    17 "DstNet" u32(r.dst_net());
    18 "InIf" u32(r.in_if());
    19 "OutIf" u32(r.out_if());
    20 "Proto" u32(r.proto());
    21 "SrcPort" u32(r.src_port());
    22 "DstPort" u32(r.dst_port());
    23 "IPTos" u32(r.ip_tos());
    if (r.may_hold(FieldGroups::MISC)) {
        24 "ForwardingStatus" u32(r.forwarding_status());
        25 "IPTTL" u32(r.ip_ttl());
    }
    26 "TCPFlags" u32(r.tcp_flags());
    if (r.may_hold(FieldGroups::L2)) {
        27 "SrcMac" mac(r.src_mac());
        28 "DstMac" mac(r.dst_mac());
        29 "VlanId" u32(r.vlan_id());
    }
    30 "Etype" u32(r.etype());
    if (r.may_hold(FieldGroups::L2 | FieldGroups::MISC)) {
        31 "IcmpType" u32(r.icmp_type());
        32 "IcmpCode" u32(r.icmp_code());
        33 "SrcVlan" u32(r.src_vlan());
        34 "DstVlan" u32(r.dst_vlan());
        35 "FragmentId" u32(r.fragment_id());
        36 "FragmentOffset" u32(r.fragment_offset());
        37 "IPv6FlowLabel" u32(r.ipv6_flow_label());
    }
    38 "TimeFlowStart" big(r.time_flow_start_ns() / NS);
    if (r.may_hold(FieldGroups::MISC)) {
        39 "IngressVrfID" u32(r.ingress_vrf_id());
        40 "EgressVrfID" u32(r.egress_vrf_id());
        41 "BiFlowDirection" u32(r.bi_flow_direction());
        42 "FlowDirection" u32(r.flow_direction());
    }
    if (r.may_hold(FieldGroups::ENCAP) && any_encap(r)) {
        43 "HasEncap" boolean(r.has_encap());
        44 "SrcAddrEncap" addr(r.src_addr_encap());
        45 "DstAddrEncap" addr(r.dst_addr_encap());
        46 "ProtoEncap" u32(r.proto_encap());
        47 "EtypeEncap" u32(r.etype_encap());
        48 "IPTosEncap" u32(r.ip_tos_encap());
        49 "IPTTLEncap" u32(r.ip_ttl_encap());
        50 "IPv6FlowLabelEncap" u32(r.ipv6_flow_label_encap());
        51 "FragmentIdEncap" u32(r.fragment_id_encap());
        52 "FragmentOffsetEncap" u32(r.fragment_offset_encap());
    }
    if (r.mpls_count() > 0) {
        53 "HasMPLS" boolean(r.mpls_count() > 0);
        54 "MPLSCount" u32(u32::from(r.mpls_count()));
        55 "MPLS1TTL" u32(mpls_at(r, 0).1);
        56 "MPLS1Label" u32(mpls_at(r, 0).0);
        57 "MPLS2TTL" u32(mpls_at(r, 1).1);
        58 "MPLS2Label" u32(mpls_at(r, 1).0);
        59 "MPLS3TTL" u32(mpls_at(r, 2).1);
        60 "MPLS3Label" u32(mpls_at(r, 2).0);
        61 "MPLSLastTTL" u32(mpls_last(r).1);
        62 "MPLSLastLabel" u32(mpls_last(r).0);
    }
    if (r.may_hold(FieldGroups::L2)) {
        63 "HasPPP" boolean(r.has_ppp());
        64 "PPPAddressControl" u32(r.ppp_address_control());
    }
});

// goflow2: protobuf only here; its JSON has another order and every field (`super::g2json`)
schema!(goflow2_pb, Goflow2, |r| {
    prefix {
        1 "type" enumv(v3_type(r.flow_type()));
        3 "sampling_rate" u64(r.sampling_rate());
        4 "sequence_num" u32(r.sequence_num());
    }
    6 "src_addr" addr(r.src_addr());
    7 "dst_addr" addr(r.dst_addr());
    9 "bytes" u64(r.bytes());
    10 "packets" u64(r.packets());
    11 "sampler_address" addr(r.sampler_address());
    12 "next_hop" addr(r.next_hop());
    if (r.may_hold(FieldGroups::BGP)) {
        13 "next_hop_as" u32(r.next_hop_as());
    }
    14 "src_as" u32(r.src_as());
    15 "dst_as" u32(r.dst_as());
    16 "src_net" u32(r.src_net());
    17 "dst_net" u32(r.dst_net());
    18 "in_if" u32(r.in_if());
    19 "out_if" u32(r.out_if());
    20 "proto" u32(r.proto());
    21 "src_port" u32(r.src_port());
    22 "dst_port" u32(r.dst_port());
    23 "ip_tos" u32(r.ip_tos());
    if (r.may_hold(FieldGroups::MISC)) {
        24 "forwarding_status" u32(r.forwarding_status());
        25 "ip_ttl" u32(r.ip_ttl());
    }
    26 "tcp_flags" u32(r.tcp_flags());
    if (r.may_hold(FieldGroups::L2)) {
        27 "src_mac" mac(r.src_mac());
        28 "dst_mac" mac(r.dst_mac());
        29 "vlan_id" u32(r.vlan_id());
    }
    30 "etype" u32(r.etype());
    if (r.may_hold(FieldGroups::L2 | FieldGroups::MISC) && any_l2_misc(r)) {
        31 "icmp_type" u32(r.icmp_type());
        32 "icmp_code" u32(r.icmp_code());
        33 "src_vlan" u32(r.src_vlan());
        34 "dst_vlan" u32(r.dst_vlan());
        35 "fragment_id" u32(r.fragment_id());
        36 "fragment_offset" u32(r.fragment_offset());
        37 "ipv6_flow_label" u32(r.ipv6_flow_label());
    }
    if (r.may_hold(FieldGroups::MISC)) {
        38 "ip_flags" u32(r.ip_flags());
    }
    70 "observation_domain_id" u32(r.observation_domain_id());
    if (r.may_hold(FieldGroups::MISC)) {
        71 "observation_point_id" u32(r.observation_point_id());
    }
    if (r.may_hold(FieldGroups::MPLS)) {
        80 "mpls_ttl" packed(r.mpls_ttls());
        81 "mpls_label" packed(r.mpls_labels());
        82 "mpls_ip" addr_list(r.mpls_ip());
    }
    if (r.may_hold(FieldGroups::BGP)) {
        100 "bgp_next_hop" addr(r.bgp_next_hop());
        101 "bgp_communities" packed(r.communities());
        102 "as_path" packed(r.as_path());
    }
    if (r.may_hold(FieldGroups::L2)) {
        103 "layer_stack" layers(r.layers().0);
        104 "layer_size" packed(r.layers().1);
    }
    110 "time_received_ns" recv_ns(r.time_received_ns());
    111 "time_flow_start_ns" big(r.time_flow_start_ns());
    112 "time_flow_end_ns" big(r.time_flow_end_ns());
});
