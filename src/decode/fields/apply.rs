//! Applying one field's value to a `FlowRecord` (`apply`, one `match` arm per [`Kind`]),
//! with the rules for repeated elements (`apply_dup`: alternatives and tunnels) and for
//! all-zero addresses. Values that are only resolved after all ops of a record ran (times,
//! sampling) go to [`Aux`].

use super::kind::Kind;
use super::op::Val;
use super::sampling::{Sampling, S311};
use super::section::SectionRef;
use crate::cursor::be_uint;
use crate::flow::{mac_from_bytes, Addr, FlowRecord, MAX_MPLS};

/// Per-record values that are resolved after all ops ran.
#[derive(Clone, Copy, Default)]
pub(super) struct Aux {
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) samp: Sampling,
    /// `Kind::AltCounter` sums: octets, packets.
    pub(super) alt: [u64; 2],
    /// The packet section, dataLinkFrameSize and sectionOffset (`Kind::Section` ...).
    pub(super) section: SectionRef,
}

/// Stores an address unless it is all zeros and the field already holds one: templates that
/// carry both the IPv4 and the IPv6 variant of a field (Cisco: 18 and 63) fill the unused
/// one with zeros, whatever the order. Returns whether it was stored.
#[inline]
fn set_addr(dst: &mut Addr, v: &[u8]) -> bool {
    if dst.is_none() || !is_zero(v) {
        *dst = Addr::from_slice(v);
        true
    } else {
        false
    }
}

#[inline]
fn is_zero(v: &[u8]) -> bool {
    v.iter().all(|&b| b == 0)
}

/// An address that is present and not all zeros.
#[inline]
fn is_set(a: &Addr) -> bool {
    !is_zero(a.as_slice())
}

/// Applies one mapped field to the record.
#[inline(always)]
pub(super) fn apply(rec: &mut FlowRecord, aux: &mut Aux, kind: Kind, arg: u8, x: Val<'_>) {
    let n = || x.uint();
    let n32 = || x.uint() as u32;
    let v = || x.bytes();
    match kind {
        Kind::Skip => {}
        Kind::Bytes => rec.bytes = n(),
        Kind::Packets => rec.packets = n(),
        Kind::Proto => rec.proto = n32(),
        Kind::Tos => rec.ip_tos = n32(),
        Kind::TcpFlags => rec.tcp_flags = n32(),
        Kind::SrcPort => rec.src_port = n32(),
        Kind::DstPort => rec.dst_port = n32(),
        Kind::SrcAddr => {
            if is_set(&rec.src_addr) {
                // a second non-zero address is the packet inside the tunnel
                if !is_zero(v()) && set_addr(&mut rec.src_addr_encap, v()) {
                    rec.etype_encap = if v().len() == 4 { 0x0800 } else { 0x86dd };
                    rec.has_encap = true;
                }
            } else if set_addr(&mut rec.src_addr, v()) {
                rec.etype = if v().len() == 4 { 0x0800 } else { 0x86dd };
            }
        }
        Kind::DstAddr => {
            if is_set(&rec.dst_addr) {
                // a second non-zero address is the packet inside the tunnel
                if !is_zero(v()) && set_addr(&mut rec.dst_addr_encap, v()) {
                    rec.etype_encap = if v().len() == 4 { 0x0800 } else { 0x86dd };
                    rec.has_encap = true;
                }
            } else if set_addr(&mut rec.dst_addr, v()) {
                rec.etype = if v().len() == 4 { 0x0800 } else { 0x86dd };
            }
        }
        Kind::SrcNet => rec.src_net = n32(),
        Kind::DstNet => rec.dst_net = n32(),
        Kind::InIf => rec.in_if = n32(),
        Kind::OutIf => rec.out_if = n32(),
        Kind::NextHop => {
            set_addr(&mut rec.next_hop, v());
        }
        Kind::BgpNextHop => {
            set_addr(&mut rec.bgp_next_hop, v());
        }
        Kind::BgpNextHopBoth => {
            if set_addr(&mut rec.bgp_next_hop, v()) {
                rec.next_hop = rec.bgp_next_hop;
            }
        }
        Kind::SrcAs => rec.src_as = n32(),
        Kind::DstAs => rec.dst_as = n32(),
        Kind::NextHopAs => rec.next_hop_as = n32(),
        Kind::FlowLabel => rec.ipv6_flow_label = n32() & 0xF_FFFF,
        Kind::IcmpTypeCode => {
            let x = n32();
            rec.icmp_type = (x >> 8) & 0xFF;
            rec.icmp_code = x & 0xFF;
        }
        Kind::IcmpType => rec.icmp_type = n32(),
        Kind::IcmpCode => rec.icmp_code = n32(),
        Kind::Ttl => rec.ip_ttl = n32(),
        Kind::FragId => rec.fragment_id = n32(),
        Kind::FragOffset => rec.fragment_offset = n32(),
        Kind::FragFlags => rec.ip_flags = (n32() >> 5) & 0x7,
        Kind::SrcMac => rec.src_mac = mac_from_bytes(v()),
        Kind::DstMac => rec.dst_mac = mac_from_bytes(v()),
        Kind::Vlan => {
            rec.vlan_id = n32();
            rec.src_vlan = rec.vlan_id;
        }
        Kind::DstVlan => rec.dst_vlan = n32(),
        Kind::IngressVrf => rec.ingress_vrf_id = n32(),
        Kind::EgressVrf => rec.egress_vrf_id = n32(),
        Kind::Direction => rec.flow_direction = n32(),
        Kind::BiflowDirection => rec.bi_flow_direction = n32(),
        Kind::Mpls => {
            // label stack entry: label(20) EXP(3) S(1) in the first 3 bytes; an all-zero
            // entry is "no label" as exporters send it for unlabelled flows
            let entry = be_uint(&v()[..3]) as u32;
            let i = arg as usize;
            if entry != 0 && i < MAX_MPLS {
                rec.mpls_labels[i] = entry >> 4;
                if rec.mpls_count as usize <= i {
                    rec.mpls_count = i as u8 + 1;
                }
            }
        }
        Kind::MplsIp => {
            set_addr(&mut rec.mpls_ip, v());
        }
        Kind::FwdStatus => rec.forwarding_status = n32(),
        Kind::ObsPoint => rec.observation_point_id = n32(),
        Kind::IpVersion => match n() {
            4 if rec.etype == 0 => rec.etype = 0x0800,
            6 if rec.etype == 0 => rec.etype = 0x86dd,
            _ => {}
        },
        Kind::Start => aux.start = n(),
        Kind::End => aux.end = n(),
        Kind::SysInit => aux.samp.sys_init_ms = n(),
        Kind::Sampling => {
            aux.samp.raw[arg as usize] = if arg == S311 && x.len == 4 {
                // float32 samplingProbability (reduced-size encoding)
                f64::from(f32::from_bits(n32())).to_bits()
            } else {
                n()
            };
            aux.samp.present |= 1 << arg;
        }
        Kind::SamplerId => aux.samp.sampler_id = Some(n()),
        Kind::Section => aux.section.set(arg, x.off, x.len),
        Kind::FrameSize => aux.section.frame_size = n(),
        Kind::SectionOffset => aux.section.offset = n(),
        Kind::AltCounter => {
            let c = &mut aux.alt[arg as usize & 1];
            *c = c.saturating_add(n());
        }
        Kind::Dup => apply_dup(rec, aux, Kind::from_u8(arg), x),
    }
}

/// A later occurrence of an element. Templates repeat elements for two reasons:
/// - alternatives (IPv6 then IPv4 fields, one group all zero): a non-zero later value fills a
///   flow field the earlier occurrence left zero;
/// - tunnels (Cisco SRv6/MPLS: outer header fields, then inner ones; RFC 7011 §8 orders
///   repeated elements by treatment): once a second address has gone to the `*_encap`
///   fields (see `apply`), later protocol, ToS and flow label go there too, and fields
///   without an encapsulation twin (ports, ...) keep the first occurrence. The flow fields
///   describe the packet as forwarded, the encap fields the packet inside the tunnel: the
///   GoFlow v3 convention, which the sFlow header parser follows too.
#[cold]
fn apply_dup(rec: &mut FlowRecord, aux: &mut Aux, kind: Kind, val: Val<'_>) {
    if is_zero(val.bytes()) {
        return;
    }
    let x = val.uint() as u32;
    match kind {
        Kind::SrcAddr | Kind::DstAddr => apply(rec, aux, kind, 0, val),
        Kind::Proto if rec.has_encap => rec.proto_encap = x,
        Kind::Tos if rec.has_encap => rec.ip_tos_encap = x,
        Kind::FlowLabel if rec.has_encap => rec.ipv6_flow_label_encap = x & 0xF_FFFF,
        Kind::Dup => {}
        _ if rec.has_encap => {}
        _ if field_is_zero(rec, kind) => apply(rec, aux, kind, 0, val),
        _ => {}
    }
}

/// Whether the flow field `kind` writes is still zero (its earlier occurrence was unused).
/// Kinds that are not flow fields (times, sampling) report `false`: first occurrence wins.
#[cold]
fn field_is_zero(r: &FlowRecord, kind: Kind) -> bool {
    match kind {
        Kind::Bytes => r.bytes == 0,
        Kind::Packets => r.packets == 0,
        Kind::Proto => r.proto == 0,
        Kind::Tos => r.ip_tos == 0,
        Kind::TcpFlags => r.tcp_flags == 0,
        Kind::SrcPort => r.src_port == 0,
        Kind::DstPort => r.dst_port == 0,
        Kind::SrcNet => r.src_net == 0,
        Kind::DstNet => r.dst_net == 0,
        Kind::InIf => r.in_if == 0,
        Kind::OutIf => r.out_if == 0,
        Kind::NextHop | Kind::BgpNextHop | Kind::BgpNextHopBoth | Kind::MplsIp => true,
        Kind::SrcAs => r.src_as == 0,
        Kind::DstAs => r.dst_as == 0,
        Kind::NextHopAs => r.next_hop_as == 0,
        Kind::FlowLabel => r.ipv6_flow_label == 0,
        Kind::IcmpTypeCode | Kind::IcmpType | Kind::IcmpCode => {
            r.icmp_type == 0 && r.icmp_code == 0
        }
        Kind::Ttl => r.ip_ttl == 0,
        Kind::FragId => r.fragment_id == 0,
        Kind::FragOffset => r.fragment_offset == 0,
        Kind::FragFlags => r.ip_flags == 0,
        Kind::SrcMac => r.src_mac == 0,
        Kind::DstMac => r.dst_mac == 0,
        Kind::Vlan => r.vlan_id == 0,
        Kind::DstVlan => r.dst_vlan == 0,
        Kind::IngressVrf => r.ingress_vrf_id == 0,
        Kind::EgressVrf => r.egress_vrf_id == 0,
        Kind::Direction => r.flow_direction == 0,
        Kind::BiflowDirection => r.bi_flow_direction == 0,
        Kind::FwdStatus => r.forwarding_status == 0,
        Kind::ObsPoint => r.observation_point_id == 0,
        _ => false,
    }
}
