//! The flow records of a flow sample (sampled header, sampled Ethernet/IPv4/IPv6, extended
//! switch, router, gateway, MPLS) read into one [`FlowRecord`]. Each record body is a
//! sub-cursor of its own length; what a later record may override (the sampled IP and
//! Ethernet records, the next hops, the MPLS stack) is kept in [`Pending`] and applied once
//! the sample's records are all read, so the result does not depend on the record order.

use super::wire::{format, read_address, words};
use crate::cursor::Cursor;
use crate::decode::{packet, DecodeError, DecodeStats, LimitKind, Limits, Section};
use crate::flow::{Addr, FlowRecord};

/// Sampled IPv4/IPv6 record (formats 3, 4), kept until the sample's records are all read so
/// that a sampled header wins whatever the record order.
#[derive(Clone, Copy, Default)]
struct SampledIp {
    length: u32,
    proto: u32,
    src: Addr,
    dst: Addr,
    src_port: u32,
    dst_port: u32,
    tcp_flags: u32,
    tos: u32,
    etype: u32,
}

#[derive(Clone, Copy, Default)]
struct SampledEthernet {
    length: u32,
    src_mac: u64,
    dst_mac: u64,
    etype: u32,
}

/// What the records of one flow sample gave beyond what they write into the record directly.
#[derive(Clone, Copy, Default)]
pub(super) struct Pending<'a> {
    frame_length: Option<u32>,
    ip: Option<SampledIp>,
    eth: Option<SampledEthernet>,
    router_next_hop: Addr,
    gateway_next_hop: Addr,
    mpls_next_hop: Addr,
    /// The input label stack of an extended MPLS record (XDR `label<>` entries).
    mpls_in_stack: &'a [u8],
    /// The sampled header (empty without one) and its `header_protocol`, for `[[mapping]]`.
    pub(super) header: &'a [u8],
    pub(super) header_proto: u32,
}

impl Pending<'_> {
    /// Applies the deferred fields: the sampled header is the most detailed source, then the
    /// sampled IPv4/IPv6 record, then the sampled Ethernet record.
    pub(super) fn finish(&self, rec: &mut FlowRecord) {
        if rec.mpls_count == 0 && !self.mpls_in_stack.is_empty() {
            for e in self.mpls_in_stack.chunks_exact(4) {
                let e = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
                rec.push_mpls(e >> 12, e as u8);
            }
        }
        let ip_from_header = !rec.src_addr.is_none() || !rec.dst_addr.is_none();
        if let (Some(ip), false) = (self.ip, ip_from_header) {
            rec.src_addr = ip.src;
            rec.dst_addr = ip.dst;
            rec.proto = ip.proto;
            rec.src_port = ip.src_port;
            rec.dst_port = ip.dst_port;
            rec.tcp_flags = ip.tcp_flags;
            rec.ip_tos = ip.tos;
            if rec.etype == 0 {
                rec.etype = ip.etype;
            }
        }
        if let Some(eth) = self.eth {
            if rec.src_mac == 0 && rec.dst_mac == 0 {
                rec.src_mac = eth.src_mac;
                rec.dst_mac = eth.dst_mac;
            }
            if rec.etype == 0 {
                rec.etype = eth.etype;
            }
        }
        rec.bytes = match (self.frame_length, self.ip, self.eth) {
            (Some(n), _, _) => u64::from(n),
            (None, Some(ip), _) => u64::from(ip.length),
            (None, None, Some(eth)) => u64::from(eth.length),
            (None, None, None) => 0,
        };
        if self.router_next_hop.is_none()
            && self.gateway_next_hop.is_none()
            && self.mpls_next_hop.is_none()
        {
            return;
        }
        // the first next hop that says something (agents send 0.0.0.0 for "none")
        let given = |a: &Addr| a.as_slice().iter().any(|&b| b != 0);
        rec.next_hop = if given(&self.router_next_hop) || !given(&self.gateway_next_hop) {
            if !given(&self.router_next_hop) && given(&self.mpls_next_hop) {
                self.mpls_next_hop
            } else {
                self.router_next_hop
            }
        } else {
            self.gateway_next_hop
        };
        rec.bgp_next_hop = self.gateway_next_hop;
    }
}

/// One flow record (enterprise 0) into `rec` / `p`.
pub(super) fn flow_record<'a>(
    fmt: u32,
    mut b: Cursor<'a>,
    rec: &mut FlowRecord,
    p: &mut Pending<'a>,
    limits: &Limits,
    stats: &mut DecodeStats,
) -> Result<(), DecodeError> {
    let e = |s| DecodeError::short(Section::FlowRecord, s);
    match fmt {
        format::SAMPLED_HEADER => {
            let [proto, frame_length, _stripped, len] = words(&mut b).map_err(e)?;
            let header = b.bytes(len as usize).map_err(e)?;
            // a second header record in one sample would only repeat the first
            if p.frame_length.is_none() {
                p.frame_length = Some(frame_length);
                p.header = header;
                p.header_proto = proto;
                packet::parse(proto, header, rec);
            }
        }
        format::SAMPLED_ETHERNET => {
            let length = b.u32().map_err(e)?;
            // XDR `opaque mac[6]` is padded to 8 bytes
            let src = b.bytes(8).map_err(e)?;
            let dst = b.bytes(8).map_err(e)?;
            p.eth = Some(SampledEthernet {
                length,
                src_mac: packet::mac(&src[..6]),
                dst_mac: packet::mac(&dst[..6]),
                etype: b.u32().map_err(e)?,
            });
        }
        format::SAMPLED_IPV4 | format::SAMPLED_IPV6 => {
            let length = b.u32().map_err(e)?;
            let proto = b.u32().map_err(e)?;
            let (src, dst, etype) = if fmt == format::SAMPLED_IPV4 {
                let s = Addr::v4(b.array().map_err(e)?);
                (s, Addr::v4(b.array().map_err(e)?), 0x0800)
            } else {
                let s = Addr::v6(b.array().map_err(e)?);
                (s, Addr::v6(b.array().map_err(e)?), 0x86dd)
            };
            p.ip = Some(SampledIp {
                length,
                proto,
                src,
                dst,
                src_port: b.u32().map_err(e)?,
                dst_port: b.u32().map_err(e)?,
                tcp_flags: b.u32().map_err(e)?,
                tos: b.u32().map_err(e)?,
                etype,
            });
        }
        format::EXTENDED_SWITCH => {
            // VLAN ids are 12 bits; agents send 0xFFFFFFFF (and other junk) for "unknown"
            let vlan = |v: u32| if v <= 4095 { v } else { 0 };
            let [src_vlan, _src_priority, dst_vlan, _dst_priority] = words(&mut b).map_err(e)?;
            rec.src_vlan = vlan(src_vlan);
            rec.dst_vlan = vlan(dst_vlan);
        }
        format::EXTENDED_ROUTER => {
            p.router_next_hop = read_address(&mut b, Section::FlowRecord)?;
            rec.src_net = b.u32().map_err(e)?;
            rec.dst_net = b.u32().map_err(e)?;
        }
        format::EXTENDED_GATEWAY => gateway(b, rec, p, limits)?,
        format::EXTENDED_MPLS => {
            p.mpls_next_hop = read_address(&mut b, Section::FlowRecord)?;
            let n = b.u32().map_err(e)? as usize;
            p.mpls_in_stack = b.bytes(n.saturating_mul(4)).map_err(e)?;
            let n = b.u32().map_err(e)? as usize;
            let _out_stack = b.bytes(n.saturating_mul(4)).map_err(e)?;
        }
        // user, url, NAT, MPLS tunnel/VC/FEC, VLAN tunnel, egress queue, ACL, function, ...
        // carry nothing the flow messages have a field for
        1004 | 1005 | 1007..=1012 | 1036..=1038 => {}
        _ => stats.sflow_unknown_records += 1,
    }
    Ok(())
}

/// Extended gateway (1003): BGP next hop, router/source/peer AS, the destination AS path as
/// segments, communities, local preference.
fn gateway<'a>(
    mut b: Cursor<'a>,
    rec: &mut FlowRecord,
    p: &mut Pending<'a>,
    limits: &Limits,
) -> Result<(), DecodeError> {
    let e = |s| DecodeError::short(Section::FlowRecord, s);
    let bad = |value: u32| DecodeError::BadCount {
        section: Section::FlowRecord,
        value,
    };
    p.gateway_next_hop = read_address(&mut b, Section::FlowRecord)?;
    let router_as = b.u32().map_err(e)?;
    let src_as = b.u32().map_err(e)?;
    let _src_peer_as = b.u32().map_err(e)?;
    let segments = b.u32().map_err(e)?;
    if (segments as usize).saturating_mul(8) > b.remaining() {
        return Err(bad(segments));
    }
    rec.as_path_len = 0;
    let (mut first, mut last, mut total) = (None, None, 0usize);
    for _ in 0..segments {
        let _segment_type = b.u32().map_err(e)?; // 1 AS_SET, 2 AS_SEQUENCE
        let n = b.u32().map_err(e)?;
        total = total.saturating_add(n as usize);
        if total > limits.max_as_path {
            return Err(DecodeError::Limit(LimitKind::AsPath));
        }
        let ases = b.bytes((n as usize) * 4).map_err(|_| bad(n))?;
        for a in ases.chunks_exact(4) {
            let a = u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
            first.get_or_insert(a);
            last = Some(a);
            rec.push_as(a);
        }
    }
    let communities = b.u32().map_err(e)?;
    if communities as usize > limits.max_as_path {
        return Err(DecodeError::Limit(LimitKind::AsPath));
    }
    let cs = b
        .bytes((communities as usize) * 4)
        .map_err(|_| bad(communities))?;
    rec.communities_len = 0;
    for x in cs.chunks_exact(4) {
        rec.push_community(u32::from_be_bytes([x[0], x[1], x[2], x[3]]));
    }
    let _local_pref = b.u32().map_err(e)?;
    rec.dst_as = last.unwrap_or(router_as);
    rec.next_hop_as = first.unwrap_or(0);
    rec.src_as = if src_as > 0 { src_as } else { router_as };
    Ok(())
}
