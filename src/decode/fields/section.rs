//! Sampled packet sections (PSAMP, RFC 5477 / RFC 7133): an IPFIX or NetFlow v9 record that
//! carries the sampled packet itself instead of flow keys. The section is parsed by the same
//! walk as an sFlow sampled header (`decode::packet`), after the record's other ops ran
//! ([`apply_section`]), so that the fields the template carries itself keep their values
//! ([`carried_by`], `Plan::carried`).
//!
//! - `dataLinkFrameSection` (315) and NetFlow v9 `layer2packetSectionData` (104): an
//!   Ethernet frame; `ipHeaderPacketSection` (313): starts at the IP header;
//!   `mplsLabelStackSection` (316): the label stack alone. `ipPayloadPacketSection` (314)
//!   holds no header and is not read.
//! - `sectionOffset` (409) / `layer2packetSectionOffset` (102) other than 0: the section does
//!   not start at the frame's first byte, so nothing is decoded from it (counted in
//!   `DecodeStats::packet_sections_skipped`).
//! - Bytes = `dataLinkFrameSize` (312) when present, else the first IP header's length,
//!   else the section's length; packets = 1; each unless the template carries a counter.
//!
//! Uses `op` and `kind` (compile time), no other sibling.

use super::kind::{Kind, SECTION_FRAME, SECTION_IP};
use super::op::Op;
use crate::decode::packet;
use crate::flow::FlowRecord;

/// Where a record's packet section is, with the elements that describe it.
#[derive(Clone, Copy, Default)]
pub(super) struct SectionRef {
    /// A `SECTION_*` value; 0: none.
    kind: u8,
    off: usize,
    len: usize,
    /// dataLinkFrameSize (0: not carried).
    pub(super) frame_size: u64,
    /// sectionOffset / layer2packetSectionOffset.
    pub(super) offset: u64,
}

impl SectionRef {
    /// A plan has one section op (a repeated one is a `Dup`, which ignores it), so every
    /// record overwrites the previous record's reference.
    #[inline]
    pub(super) fn set(&mut self, kind: u8, off: usize, len: usize) {
        (self.kind, self.off, self.len) = (kind, off, len);
    }
}

/// Field classes a template may carry itself: the frame does not overwrite them.
pub(super) mod carried {
    pub const SRC_ADDR: u32 = 1;
    pub const SRC_PORT: u32 = 1 << 1;
    pub const PROTO: u32 = 1 << 2;
    pub const TOS: u32 = 1 << 3;
    pub const TTL: u32 = 1 << 4;
    pub const TCP_FLAGS: u32 = 1 << 5;
    pub const FRAG: u32 = 1 << 6;
    pub const FLOW_LABEL: u32 = 1 << 7;
    pub const ICMP: u32 = 1 << 8;
    pub const SRC_MAC: u32 = 1 << 9;
    pub const VLAN: u32 = 1 << 10;
    pub const MPLS: u32 = 1 << 11;
    pub const BYTES: u32 = 1 << 12;
    pub const PACKETS: u32 = 1 << 13;
    pub const ETYPE: u32 = 1 << 14;
    pub const DST_ADDR: u32 = 1 << 15;
    pub const DST_PORT: u32 = 1 << 16;
    pub const DST_MAC: u32 = 1 << 17;
}

/// The [`carried`] class an op fills (0: none the frame fills).
pub(super) fn carried_by(o: &Op) -> u32 {
    use carried::*;
    let k = if o.kind == Kind::Dup {
        Kind::from_u8(o.arg)
    } else {
        o.kind
    };
    match k {
        Kind::SrcAddr => SRC_ADDR | ETYPE,
        Kind::DstAddr => DST_ADDR | ETYPE,
        Kind::IpVersion => ETYPE,
        Kind::SrcPort => SRC_PORT,
        Kind::DstPort => DST_PORT,
        Kind::Proto => PROTO,
        Kind::Tos => TOS,
        Kind::Ttl => TTL,
        Kind::TcpFlags => TCP_FLAGS,
        Kind::FragId | Kind::FragOffset | Kind::FragFlags => FRAG,
        Kind::FlowLabel => FLOW_LABEL,
        Kind::IcmpTypeCode | Kind::IcmpType | Kind::IcmpCode => ICMP,
        Kind::SrcMac => SRC_MAC,
        Kind::DstMac => DST_MAC,
        Kind::Vlan => VLAN,
        Kind::Mpls => MPLS,
        Kind::Bytes => BYTES,
        Kind::Packets => PACKETS,
        Kind::AltCounter if o.arg == 0 => BYTES,
        Kind::AltCounter => PACKETS,
        _ => 0,
    }
}

/// Parses the record's packet section (bytes `s.off..s.off + s.len` of `buf`) into `rec`,
/// keeping what the template carries (`carried`). Returns false when the section was not
/// decoded because it does not start at the frame's first byte.
#[cold]
#[inline(never)]
pub(super) fn apply_section(
    rec: &mut FlowRecord,
    s: &SectionRef,
    buf: &[u8],
    carried: u32,
) -> bool {
    use carried::*;
    if s.kind == 0 {
        return true;
    }
    let Some(data) = buf.get(s.off..s.off.saturating_add(s.len)) else {
        return true;
    };
    if carried & PACKETS == 0 {
        rec.packets = 1;
    }
    if s.offset != 0 {
        if carried & BYTES == 0 {
            rec.bytes = s.frame_size;
        }
        return false;
    }
    // the fields the frame would overwrite are put back afterwards; a template that
    // carries none of them (Juniper: interfaces, direction, frame size) needs no copy
    let keep = (carried & !(BYTES | PACKETS) != 0).then_some(*rec);
    let p = match s.kind {
        SECTION_FRAME => packet::parse_ethernet(data, rec),
        SECTION_IP => packet::parse_ip(data, rec),
        _ => packet::parse(packet::header_protocol::MPLS, data, rec),
    };
    if carried & BYTES == 0 {
        rec.bytes = if s.frame_size != 0 {
            s.frame_size
        } else if p.ip_len != 0 {
            u64::from(p.ip_len)
        } else {
            data.len() as u64
        };
    }
    if let Some(k) = keep {
        restore(rec, &k, carried);
    }
    true
}

/// Puts back the carried fields of `k` (the record before the frame was parsed).
#[cold]
fn restore(rec: &mut FlowRecord, k: &FlowRecord, carried: u32) {
    use carried::*;
    if carried & SRC_ADDR != 0 {
        rec.src_addr = k.src_addr;
    }
    if carried & DST_ADDR != 0 {
        rec.dst_addr = k.dst_addr;
    }
    if carried & ETYPE != 0 {
        rec.etype = k.etype;
    }
    if carried & SRC_PORT != 0 {
        rec.src_port = k.src_port;
    }
    if carried & DST_PORT != 0 {
        rec.dst_port = k.dst_port;
    }
    if carried & PROTO != 0 {
        rec.proto = k.proto;
    }
    if carried & TOS != 0 {
        rec.ip_tos = k.ip_tos;
    }
    if carried & TTL != 0 {
        rec.ip_ttl = k.ip_ttl;
    }
    if carried & TCP_FLAGS != 0 {
        rec.tcp_flags = k.tcp_flags;
    }
    if carried & FRAG != 0 {
        rec.fragment_id = k.fragment_id;
        rec.fragment_offset = k.fragment_offset;
        rec.ip_flags = k.ip_flags;
    }
    if carried & FLOW_LABEL != 0 {
        rec.ipv6_flow_label = k.ipv6_flow_label;
    }
    if carried & ICMP != 0 {
        rec.icmp_type = k.icmp_type;
        rec.icmp_code = k.icmp_code;
    }
    if carried & SRC_MAC != 0 {
        rec.src_mac = k.src_mac;
    }
    if carried & DST_MAC != 0 {
        rec.dst_mac = k.dst_mac;
    }
    if carried & VLAN != 0 {
        rec.vlan_id = k.vlan_id;
        rec.src_vlan = k.src_vlan;
    }
    if carried & MPLS != 0 {
        rec.mpls_count = k.mpls_count;
        rec.mpls_labels = k.mpls_labels;
        rec.mpls_ttls = k.mpls_ttls;
    }
    if k.has_encap {
        // the template's own tunnel fields (repeated elements) stand
        rec.has_encap = true;
        rec.src_addr_encap = k.src_addr_encap;
        rec.dst_addr_encap = k.dst_addr_encap;
        rec.etype_encap = k.etype_encap;
        rec.proto_encap = k.proto_encap;
        rec.ip_tos_encap = k.ip_tos_encap;
        rec.ipv6_flow_label_encap = k.ipv6_flow_label_encap;
    }
}
