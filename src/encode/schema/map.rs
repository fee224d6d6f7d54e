//! Values and guards the layouts compute from a record, shared by their protobuf and JSON
//! forms: the flow type as each schema's enum, GoFlow v2's IP version, the n-th MPLS label,
//! and the tests that let a layout skip a group of fields that are all zero.

use crate::flow::{Flow, FlowType};

/// Guard of ICMP, VLAN, fragment, flow label and VRF fields (31-39 of goflow-v2; 31-37
/// of goflow2, whose 38 is not among them and is written regardless): mostly zero in
/// NetFlow records.
#[inline(always)]
pub(super) fn any_l2_misc<R: Flow>(r: &R) -> bool {
    (r.icmp_type()
        | r.icmp_code()
        | r.src_vlan()
        | r.dst_vlan()
        | r.fragment_id()
        | r.fragment_offset()
        | r.ipv6_flow_label()
        | r.ingress_vrf_id()
        | r.egress_vrf_id())
        != 0
}

/// Guard of the tunnel (encapsulated packet) fields.
#[inline(always)]
pub(super) fn any_encap<R: Flow>(r: &R) -> bool {
    r.has_encap()
        || !r.src_addr_encap().is_none()
        || !r.dst_addr_encap().is_none()
        || (r.proto_encap()
            | r.etype_encap()
            | r.ip_tos_encap()
            | r.ip_ttl_encap()
            | r.ipv6_flow_label_encap()
            | r.fragment_id_encap()
            | r.fragment_offset_encap())
            != 0
}

pub(super) const NS: u64 = 1_000_000_000;

pub(super) fn v2_type(t: FlowType) -> (i32, &'static str) {
    match t {
        FlowType::Unknown => (0, "FLOWUNKNOWN"),
        FlowType::NetflowV5 => (2, "NFV5"),
        FlowType::SFlow5 => (5, "SFLOW"),
        FlowType::NetflowV9 => (9, "NFV9"),
        FlowType::Ipfix => (10, "IPFIX"),
    }
}

pub(super) fn v3_type(t: FlowType) -> (i32, &'static str) {
    match t {
        FlowType::Unknown => (0, "FLOWUNKNOWN"),
        FlowType::SFlow5 => (1, "SFLOW_5"),
        FlowType::NetflowV5 => (2, "NETFLOW_V5"),
        FlowType::NetflowV9 => (3, "NETFLOW_V9"),
        FlowType::Ipfix => (4, "IPFIX"),
    }
}

/// GoFlow v2's deprecated `IPversion`, from the source address family.
pub(super) fn v2_ipversion<R: Flow>(r: &R) -> (i32, &'static str) {
    if r.src_addr().is_v4() {
        (4, "IPv4")
    } else if r.src_addr().is_v6() {
        (6, "IPv6")
    } else {
        (0, "IPUNKNOWN")
    }
}

/// The n-th MPLS label/TTL (0-based), or 0.
pub(super) fn mpls_at<R: Flow>(r: &R, i: usize) -> (u32, u32) {
    match (r.mpls_labels().get(i), r.mpls_ttls().get(i)) {
        (Some(&label), Some(&ttl)) => (label, u32::from(ttl)),
        _ => (0, 0),
    }
}

pub(super) fn mpls_last<R: Flow>(r: &R) -> (u32, u32) {
    match r.mpls_count() {
        0 => (0, 0),
        n => mpls_at(r, n as usize - 1),
    }
}
