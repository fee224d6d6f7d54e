//! sFlow v5 (sflow.org `sflow_version_5.txt`, drops extension `sflow_drops.txt`): XDR
//! datagrams of flow, counter and discarded-packet samples, decoded in place.
//!
//! Layout: `version, agent_address, sub_agent_id, sequence, uptime, samples<>`, every sample
//! and record `data_format (enterprise:20 | format:12), length, body`. Everything is read
//! through a bounds-checked [`Cursor`]; each sample and record body is a sub-cursor of its own
//! declared length, so a record can never read into its neighbour, and a sample or record of
//! an unknown enterprise or format is skipped by its length (counted in
//! [`DecodeStats::sflow_unknown_samples`] / `sflow_unknown_records`), never an error.
//!
//! Errors, by where they are:
//! - In the datagram header or in a sample's framing (a length past the datagram): the rest of
//!   the datagram is dropped and the error returned; samples before it were already emitted.
//! - Inside one flow sample (a record that claims more than it holds, an AS path past the
//!   limit, an unknown address type): that sample is dropped and counted, the next one decodes.
//! - Inside one counter record: that record is dropped and counted.
//!
//! One flow sample (compact, expanded or discarded-packet) becomes one [`FlowRecord`] with
//! GoFlow's conventions (see [`decode`]); one counter record becomes one [`CounterRecord`],
//! handed to [`FlowSink::counters`]. Nothing here allocates.

use super::{packet, DecodeError, DecodeStats, Decoder, FlowSink, LimitKind};
use super::{Limits, Protocol, Section};
use crate::cursor::{Cursor, Short};
use crate::flow::{Addr, FlowRecord, FlowType};
use std::io::Write;
use std::net::IpAddr;

pub const VERSION: u32 = 5;

/// Sample and record formats (enterprise 0).
pub mod format {
    pub const FLOW_SAMPLE: u32 = 1;
    pub const COUNTER_SAMPLE: u32 = 2;
    pub const EXPANDED_FLOW_SAMPLE: u32 = 3;
    pub const EXPANDED_COUNTER_SAMPLE: u32 = 4;
    pub const DISCARDED_PACKET: u32 = 5;

    pub const SAMPLED_HEADER: u32 = 1;
    pub const SAMPLED_ETHERNET: u32 = 2;
    pub const SAMPLED_IPV4: u32 = 3;
    pub const SAMPLED_IPV6: u32 = 4;
    pub const EXTENDED_SWITCH: u32 = 1001;
    pub const EXTENDED_ROUTER: u32 = 1002;
    pub const EXTENDED_GATEWAY: u32 = 1003;
    pub const EXTENDED_MPLS: u32 = 1006;

    pub const IF_COUNTERS: u32 = 1;
    pub const ETHERNET_COUNTERS: u32 = 2;
    pub const VLAN_COUNTERS: u32 = 5;
    pub const PROCESSOR_COUNTERS: u32 = 1001;
}

/// The fixed part of a datagram, before the samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramHeader {
    /// Agent address; `Addr::NONE` for address type 0 (unknown).
    pub agent: Addr,
    pub sub_agent_id: u32,
    pub sequence: u32,
    pub uptime_ms: u32,
    pub num_samples: u32,
}

impl DatagramHeader {
    /// Reads the header; the cursor is left at the first sample.
    pub fn read(c: &mut Cursor<'_>) -> Result<Self, DecodeError> {
        let e = |s| DecodeError::short(Section::Header, s);
        let version = c.u32().map_err(e)?;
        if version != VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        let agent = read_address(c, Section::Header)?;
        let [sub_agent_id, sequence, uptime_ms, num_samples] = words(c).map_err(e)?;
        Ok(DatagramHeader {
            agent,
            sub_agent_id,
            sequence,
            uptime_ms,
            num_samples,
        })
    }
}

/// The next `N` XDR words, with one bounds check for all of them.
#[inline(always)]
fn words<const N: usize>(c: &mut Cursor<'_>) -> Result<[u32; N], Short> {
    let b = c.bytes(4 * N)?;
    let mut w = [0u32; N];
    for (w, b) in w.iter_mut().zip(b.chunks_exact(4)) {
        *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    }
    Ok(w)
}

/// An XDR `address` union: type 0 (unknown, no bytes), 1 (IPv4), 2 (IPv6). Any other type
/// cannot be skipped (its length is unknown) and is reported as `BadSetId(type)`.
fn read_address(c: &mut Cursor<'_>, section: Section) -> Result<Addr, DecodeError> {
    let e = |s| DecodeError::short(section, s);
    match c.u32().map_err(e)? {
        0 => Ok(Addr::NONE),
        1 => Ok(Addr::v4(c.array().map_err(e)?)),
        2 => Ok(Addr::v6(c.array().map_err(e)?)),
        t => Err(DecodeError::BadSetId(t.min(0xffff) as u16)),
    }
}

/// The next `format, length, body` of a sample or record list; the body is a sub-cursor of
/// exactly `length` bytes and XDR padding after a length that is not a multiple of 4 is
/// skipped.
#[inline]
fn next_framed<'a>(c: &mut Cursor<'a>, section: Section) -> Result<(u32, Cursor<'a>), DecodeError> {
    let e = |s| DecodeError::short(section, s);
    let [fmt, len] = words(c).map_err(e)?;
    let len = len as usize;
    let body = c.sub(len).map_err(e)?;
    let pad = len.wrapping_neg() & 3;
    if pad != 0 {
        let _ = c.skip(pad.min(c.remaining()));
    }
    Ok((fmt, body))
}

/// A record count: each record needs at least its 8-byte framing, so a count the bytes
/// cannot hold is rejected before any loop; the per-datagram record budget bounds the rest.
#[inline]
fn record_count(
    c: &mut Cursor<'_>,
    section: Section,
    budget: &mut usize,
) -> Result<usize, DecodeError> {
    let n = c.u32().map_err(|s| DecodeError::short(section, s))?;
    if (n as usize).saturating_mul(8) > c.remaining() {
        return Err(DecodeError::BadCount { section, value: n });
    }
    if n as usize > *budget {
        return Err(DecodeError::Limit(LimitKind::RecordsPerDatagram));
    }
    *budget -= n as usize;
    Ok(n as usize)
}

/// An interface as the sample carries it: the top two bits of a compact `interface` (or the
/// `format` word of an expanded one) say what the value means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    /// An ifIndex (0 unknown, 0x3FFFFFFF the agent itself / internal).
    Index(u32),
    /// The packet was discarded; the value is the reason code.
    Discarded(u32),
    /// Sent to several interfaces (0: an unknown number).
    Multiple(u32),
    /// Format 3, reserved.
    Unknown(u32),
}

impl Interface {
    #[inline]
    pub fn compact(v: u32) -> Interface {
        Interface::expanded(v >> 30, v & 0x3fff_ffff)
    }

    #[inline]
    pub fn expanded(format: u32, value: u32) -> Interface {
        match format {
            0 => Interface::Index(value),
            1 => Interface::Discarded(value),
            2 => Interface::Multiple(value),
            _ => Interface::Unknown(value),
        }
    }

    /// The ifIndex for `in_if`/`out_if`: only format 0 is one.
    #[inline]
    pub fn if_index(self) -> u32 {
        match self {
            Interface::Index(v) => v,
            _ => 0,
        }
    }
}

/// A discard reason (sFlow drops extension: 0-255 ICMP unreachable codes, 256+ named
/// reasons) as a NetFlow v9 / IPFIX forwarding status (RFC 7270: 0b10xxxxxx = dropped).
pub fn drop_forwarding_status(reason: u32) -> u32 {
    match reason {
        // net/host unreachable, destination network/host unknown, blackhole route
        0 | 1 | 6 | 7 | 269 => 131,
        // protocol/port unreachable: the packet was for the agent itself
        2 | 3 => 141,
        // fragmentation needed and DF set, packet too big
        4 | 262 => 133,
        // administratively prohibited, ACL
        9 | 10 | 13 | 258 => 129,
        // TTL exceeded
        257 => 137,
        // RED
        260 => 139,
        // rate limit / traffic shaping
        261 => 138,
        // IP header corrupted
        275 => 134,
        _ => 128,
    }
}

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
struct Pending<'a> {
    frame_length: Option<u32>,
    ip: Option<SampledIp>,
    eth: Option<SampledEthernet>,
    router_next_hop: Addr,
    gateway_next_hop: Addr,
    mpls_next_hop: Addr,
    /// The input label stack of an extended MPLS record (XDR `label<>` entries).
    mpls_in_stack: &'a [u8],
}

impl Pending<'_> {
    /// Applies the deferred fields: the sampled header is the most detailed source, then the
    /// sampled IPv4/IPv6 record, then the sampled Ethernet record.
    fn finish(&self, rec: &mut FlowRecord) {
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

/// The index of a sample format in `DatagramSummary::SAMPLE_KINDS` (GoFlow's labels).
#[inline]
fn sample_kind(fmt: u32) -> Option<usize> {
    match fmt {
        format::FLOW_SAMPLE => Some(0),
        format::COUNTER_SAMPLE => Some(1),
        format::EXPANDED_FLOW_SAMPLE => Some(2),
        format::EXPANDED_COUNTER_SAMPLE => Some(3),
        _ => None,
    }
}

/// What every sample of a datagram shares.
#[derive(Clone, Copy)]
struct Ctx {
    recv_ns: u64,
    agent: Addr,
    sub_agent_id: u32,
    sequence: u32,
    uptime_ms: u32,
}

/// The three kinds of flow sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlowKind {
    Compact,
    Expanded,
    Discarded,
}

/// Decodes one sFlow v5 datagram. Per flow sample one `FlowRecord` goes to `sink.flow`:
/// bytes = sampled header `frame_length` (else the sampled IPv4/IPv6 `length`, else the
/// sampled Ethernet `length`), packets = 1, sampler_address = agent (the datagram source
/// when the agent address type is 0), sequence_num = datagram sequence, start = end =
/// `recv_ns`, sampling_rate from the sample (0 for discarded-packet samples, which are not
/// sampled), in_if/out_if = the ifIndex when the interface format is 0 (else 0, and a
/// discard reason becomes `forwarding_status`). Per counter record one `CounterRecord` goes
/// to `sink.counters`.
pub fn decode<S: FlowSink>(
    dec: &mut Decoder,
    exporter: IpAddr,
    recv_ns: u64,
    payload: &[u8],
    sink: &mut S,
) -> Result<(), DecodeError> {
    let mut c = Cursor::new(payload);
    let h = DatagramHeader::read(&mut c)?;
    let n = h.num_samples as usize;
    if n > dec.limits.max_samples_per_datagram {
        return Err(DecodeError::Limit(LimitKind::SamplesPerDatagram));
    }
    if n.saturating_mul(8) > c.remaining() {
        return Err(DecodeError::BadCount {
            section: Section::Header,
            value: h.num_samples,
        });
    }
    let agent = if h.agent.is_none() {
        Addr::from_ip(exporter)
    } else {
        h.agent
    };
    let ctx = Ctx {
        recv_ns,
        agent,
        sub_agent_id: h.sub_agent_id,
        sequence: h.sequence,
        uptime_ms: h.uptime_ms,
    };
    dec.stats.last.agent = agent;
    let limits = &dec.limits;
    let stats = &mut dec.stats;
    let mut budget = limits.max_records_per_datagram;
    for _ in 0..n {
        let (fmt, body) = next_framed(&mut c, Section::Sample)?;
        if let Some(k) = sample_kind(fmt) {
            stats.last.samples[k] += 1;
        }
        let res = if fmt >> 12 != 0 {
            stats.sflow_unknown_samples += 1;
            Ok(())
        } else {
            match fmt {
                format::FLOW_SAMPLE => decode_flow_sample(
                    FlowKind::Compact,
                    body,
                    &ctx,
                    limits,
                    stats,
                    &mut budget,
                    sink,
                ),
                format::EXPANDED_FLOW_SAMPLE => decode_flow_sample(
                    FlowKind::Expanded,
                    body,
                    &ctx,
                    limits,
                    stats,
                    &mut budget,
                    sink,
                ),
                format::DISCARDED_PACKET => decode_flow_sample(
                    FlowKind::Discarded,
                    body,
                    &ctx,
                    limits,
                    stats,
                    &mut budget,
                    sink,
                ),
                format::COUNTER_SAMPLE => {
                    decode_counter_sample(false, body, &ctx, stats, &mut budget, sink)
                }
                format::EXPANDED_COUNTER_SAMPLE => {
                    decode_counter_sample(true, body, &ctx, stats, &mut budget, sink)
                }
                _ => {
                    stats.sflow_unknown_samples += 1;
                    Ok(())
                }
            }
        };
        match res {
            Ok(()) => {}
            // the record budget is per datagram: nothing after this can be decoded
            Err(e @ DecodeError::Limit(LimitKind::RecordsPerDatagram)) => return Err(e),
            Err(e) => {
                stats.count(e);
                stats.sflow_samples_dropped += 1;
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn decode_flow_sample<S: FlowSink>(
    kind: FlowKind,
    mut c: Cursor<'_>,
    ctx: &Ctx,
    limits: &Limits,
    stats: &mut DecodeStats,
    budget: &mut usize,
    sink: &mut S,
) -> Result<(), DecodeError> {
    let e = |s| DecodeError::short(Section::Sample, s);
    // built in place: a FlowRecord is ~600 bytes, copying a prepared one costs more
    let mut rec = FlowRecord {
        flow_type: FlowType::SFlow5,
        time_received_ns: ctx.recv_ns,
        time_flow_start_ns: ctx.recv_ns,
        time_flow_end_ns: ctx.recv_ns,
        sequence_num: ctx.sequence,
        sampler_address: ctx.agent,
        packets: 1,
        ..FlowRecord::default()
    };
    let _sample_seq = c.u32().map_err(e)?;
    match kind {
        FlowKind::Compact => {
            // source id, sampling rate, sample pool, drops, input, output
            let [_, rate, _, _, input, output] = words(&mut c).map_err(e)?;
            rec.sampling_rate = u64::from(rate);
            set_interfaces(
                &mut rec,
                Interface::compact(input),
                Interface::compact(output),
            );
        }
        FlowKind::Expanded => {
            // source type, index, rate, pool, drops, input format/value, output format/value
            let [_, _, rate, _, _, in_f, in_v, out_f, out_v] = words(&mut c).map_err(e)?;
            rec.sampling_rate = u64::from(rate);
            set_interfaces(
                &mut rec,
                Interface::expanded(in_f, in_v),
                Interface::expanded(out_f, out_v),
            );
        }
        FlowKind::Discarded => {
            // source type, index, drops, input, output, reason
            let [_, _, _, input, output, reason] = words(&mut c).map_err(e)?;
            set_interfaces(
                &mut rec,
                Interface::compact(input),
                Interface::compact(output),
            );
            rec.forwarding_status = drop_forwarding_status(reason);
        }
    }
    let n = record_count(&mut c, Section::FlowRecord, budget)?;
    match kind {
        FlowKind::Compact => stats.last.sample_records[0] += n as u32,
        FlowKind::Expanded => stats.last.sample_records[2] += n as u32,
        FlowKind::Discarded => {}
    }
    let mut p = Pending::default();
    for _ in 0..n {
        let (fmt, body) = next_framed(&mut c, Section::FlowRecord)?;
        if fmt >> 12 != 0 {
            stats.sflow_unknown_records += 1;
            continue;
        }
        flow_record(fmt, body, &mut rec, &mut p, limits, stats)?;
    }
    p.finish(&mut rec);
    sink.flow(&rec);
    stats.flows[Protocol::SflowV5.index()] += 1;
    Ok(())
}

#[inline]
fn set_interfaces(rec: &mut FlowRecord, input: Interface, output: Interface) {
    rec.in_if = input.if_index();
    rec.out_if = output.if_index();
    if let Interface::Discarded(reason) = output {
        rec.forwarding_status = drop_forwarding_status(reason);
    }
}

/// One flow record (enterprise 0) into `rec` / `p`.
fn flow_record<'a>(
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

fn decode_counter_sample<S: FlowSink>(
    expanded: bool,
    mut c: Cursor<'_>,
    ctx: &Ctx,
    stats: &mut DecodeStats,
    budget: &mut usize,
    sink: &mut S,
) -> Result<(), DecodeError> {
    let e = |s| DecodeError::short(Section::Sample, s);
    let mut rec = CounterRecord {
        time_received_ns: ctx.recv_ns,
        agent_address: ctx.agent,
        sub_agent_id: ctx.sub_agent_id,
        sequence_num: ctx.sequence,
        agent_uptime_ms: ctx.uptime_ms,
        ..CounterRecord::default()
    };
    rec.sample_sequence = c.u32().map_err(e)?;
    if expanded {
        rec.source_id_type = c.u32().map_err(e)?;
        rec.source_id_index = c.u32().map_err(e)?;
    } else {
        let id = c.u32().map_err(e)?;
        rec.source_id_type = id >> 24;
        rec.source_id_index = id & 0x00ff_ffff;
    }
    let n = record_count(&mut c, Section::CounterRecord, budget)?;
    stats.last.sample_records[if expanded { 3 } else { 1 }] += n as u32;
    for _ in 0..n {
        let (fmt, mut b) = next_framed(&mut c, Section::CounterRecord)?;
        rec.record_format = fmt;
        let counters = match fmt {
            format::IF_COUNTERS => InterfaceCounters::read(&mut b).map(Counters::Interface),
            format::ETHERNET_COUNTERS => EthernetCounters::read(&mut b).map(Counters::Ethernet),
            format::VLAN_COUNTERS => VlanCounters::read(&mut b).map(Counters::Vlan),
            format::PROCESSOR_COUNTERS => ProcessorCounters::read(&mut b).map(Counters::Processor),
            _ => {
                stats.sflow_unknown_records += 1;
                continue;
            }
        };
        match counters {
            Ok(counters) => {
                rec.counters = counters;
                sink.counters(&rec);
                stats.counter_records += 1;
            }
            // the record framing held: only this record is lost
            Err(s) => stats.count(DecodeError::short(Section::CounterRecord, s)),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Counter records

/// One sFlow counter record with the datagram and sample it came in. `Copy`, no heap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterRecord {
    pub time_received_ns: u64,
    /// The agent (the datagram source when the agent address type is 0).
    pub agent_address: Addr,
    pub sub_agent_id: u32,
    /// Datagram sequence number.
    pub sequence_num: u32,
    pub agent_uptime_ms: u32,
    /// Counter sample sequence number.
    pub sample_sequence: u32,
    pub source_id_type: u32,
    pub source_id_index: u32,
    /// `enterprise << 12 | format` of the record.
    pub record_format: u32,
    pub counters: Counters,
}

/// The counter record types coreflow exports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Counters {
    #[default]
    None,
    Interface(InterfaceCounters),
    Ethernet(EthernetCounters),
    Vlan(VlanCounters),
    Processor(ProcessorCounters),
}

/// Declares a counter struct once: its fields in wire order (XDR `unsigned int` / `unsigned
/// hyper`), the JSON key of each (= the proto field name), and the prost message it maps to.
/// The prost conversion names every field, so the Rust struct and `counters.proto` cannot
/// drift apart without a compile error.
macro_rules! counter_struct {
    ($(#[$m:meta])* $name:ident, $len:literal, { $( $field:ident : $ty:ident = $key:literal, )* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name { $( pub $field: $ty, )* }

        impl $name {
            /// Bytes of the record body on the wire.
            pub const LEN: usize = $len;

            /// Reads the record body in wire order.
            pub fn read(c: &mut Cursor<'_>) -> Result<Self, Short> {
                Ok($name { $( $field: c.$ty()?, )* })
            }

            fn json(&self, out: &mut Vec<u8>) {
                out.push(b'{');
                let mut first = true;
                $(
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    let _ = write!(out, "\"{}\":{}", $key, self.$field);
                )*
                let _ = first;
                out.push(b'}');
            }

            fn to_pb(self) -> crate::pb::counters::$name {
                crate::pb::counters::$name { $( $field: self.$field, )* }
            }
        }
    };
}

counter_struct!(
    /// Generic interface counters (format 1).
    InterfaceCounters, 88, {
    if_index: u32 = "IfIndex",
    if_type: u32 = "IfType",
    if_speed: u64 = "IfSpeed",
    if_direction: u32 = "IfDirection",
    if_status: u32 = "IfStatus",
    if_in_octets: u64 = "IfInOctets",
    if_in_ucast_pkts: u32 = "IfInUcastPkts",
    if_in_multicast_pkts: u32 = "IfInMulticastPkts",
    if_in_broadcast_pkts: u32 = "IfInBroadcastPkts",
    if_in_discards: u32 = "IfInDiscards",
    if_in_errors: u32 = "IfInErrors",
    if_in_unknown_protos: u32 = "IfInUnknownProtos",
    if_out_octets: u64 = "IfOutOctets",
    if_out_ucast_pkts: u32 = "IfOutUcastPkts",
    if_out_multicast_pkts: u32 = "IfOutMulticastPkts",
    if_out_broadcast_pkts: u32 = "IfOutBroadcastPkts",
    if_out_discards: u32 = "IfOutDiscards",
    if_out_errors: u32 = "IfOutErrors",
    if_promiscuous_mode: u32 = "IfPromiscuousMode",
});

counter_struct!(
    /// Ethernet interface counters (format 2).
    EthernetCounters, 52, {
    dot3_stats_alignment_errors: u32 = "Dot3StatsAlignmentErrors",
    dot3_stats_fcs_errors: u32 = "Dot3StatsFCSErrors",
    dot3_stats_single_collision_frames: u32 = "Dot3StatsSingleCollisionFrames",
    dot3_stats_multiple_collision_frames: u32 = "Dot3StatsMultipleCollisionFrames",
    dot3_stats_sqe_test_errors: u32 = "Dot3StatsSQETestErrors",
    dot3_stats_deferred_transmissions: u32 = "Dot3StatsDeferredTransmissions",
    dot3_stats_late_collisions: u32 = "Dot3StatsLateCollisions",
    dot3_stats_excessive_collisions: u32 = "Dot3StatsExcessiveCollisions",
    dot3_stats_internal_mac_transmit_errors: u32 = "Dot3StatsInternalMacTransmitErrors",
    dot3_stats_carrier_sense_errors: u32 = "Dot3StatsCarrierSenseErrors",
    dot3_stats_frame_too_longs: u32 = "Dot3StatsFrameTooLongs",
    dot3_stats_internal_mac_receive_errors: u32 = "Dot3StatsInternalMacReceiveErrors",
    dot3_stats_symbol_errors: u32 = "Dot3StatsSymbolErrors",
});

counter_struct!(
    /// VLAN counters (format 5).
    VlanCounters, 28, {
    vlan_id: u32 = "VlanId",
    octets: u64 = "Octets",
    ucast_pkts: u32 = "UcastPkts",
    multicast_pkts: u32 = "MulticastPkts",
    broadcast_pkts: u32 = "BroadcastPkts",
    discards: u32 = "Discards",
});

counter_struct!(
    /// Processor information (format 1001); CPU in hundredths of a percent.
    ProcessorCounters, 28, {
    cpu5s: u32 = "Cpu5s",
    cpu1m: u32 = "Cpu1m",
    cpu5m: u32 = "Cpu5m",
    total_memory: u64 = "TotalMemory",
    free_memory: u64 = "FreeMemory",
});

impl CounterRecord {
    /// The record as the prost `CounterMessage`.
    pub fn to_pb(&self) -> crate::pb::counters::CounterMessage {
        use crate::pb::counters::counter_message::{Counters as C, MessageType};
        crate::pb::counters::CounterMessage {
            r#type: MessageType::SflowCounters as i32,
            time_received_ns: self.time_received_ns,
            agent_address: self.agent_address.as_slice().to_vec(),
            sub_agent_id: self.sub_agent_id,
            sequence_num: self.sequence_num,
            agent_uptime_ms: self.agent_uptime_ms,
            sample_sequence: self.sample_sequence,
            source_id_type: self.source_id_type,
            source_id_index: self.source_id_index,
            record_format: self.record_format,
            counters: match self.counters {
                Counters::None => None,
                Counters::Interface(x) => Some(C::Interface(x.to_pb())),
                Counters::Ethernet(x) => Some(C::Ethernet(x.to_pb())),
                Counters::Vlan(x) => Some(C::Vlan(x.to_pb())),
                Counters::Processor(x) => Some(C::Processor(x.to_pb())),
            },
        }
    }

    /// The record as one JSON object (no newline); keys are the `counters.proto` field names,
    /// every counter is written (zeros included), the agent address as text.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"Type\":\"SFLOW_COUNTERS\"");
        let _ = write!(out, ",\"TimeReceivedNs\":{}", self.time_received_ns);
        if let Some(ip) = self.agent_address.to_ip() {
            let _ = write!(out, ",\"AgentAddress\":\"{ip}\"");
        }
        let _ = write!(
            out,
            ",\"SubAgentId\":{},\"SequenceNum\":{},\"AgentUptimeMs\":{},\"SampleSequence\":{},\
             \"SourceIdType\":{},\"SourceIdIndex\":{},\"RecordFormat\":{}",
            self.sub_agent_id,
            self.sequence_num,
            self.agent_uptime_ms,
            self.sample_sequence,
            self.source_id_type,
            self.source_id_index,
            self.record_format
        );
        let key = match &self.counters {
            Counters::None => None,
            Counters::Interface(_) => Some("Interface"),
            Counters::Ethernet(_) => Some("Ethernet"),
            Counters::Vlan(_) => Some("Vlan"),
            Counters::Processor(_) => Some("Processor"),
        };
        if let Some(key) = key {
            let _ = write!(out, ",\"{key}\":");
        }
        match &self.counters {
            Counters::None => {}
            Counters::Interface(x) => x.json(out),
            Counters::Ethernet(x) => x.json(out),
            Counters::Vlan(x) => x.json(out),
            Counters::Processor(x) => x.json(out),
        }
        out.push(b'}');
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Byte builders for sFlow datagrams, for unit tests, benches and fuzz seeds.
pub mod fixture {
    use std::net::IpAddr;

    /// An Ethernet/IPv4/TCP frame of `len` captured bytes (at least 54): MACs
    /// 00:11:22:33:44:55 <- 66:77:88:99:aa:bb, 10.0.0.1:40000 -> 192.0.2.80:443, TOS 0x28,
    /// TTL 63, id 0x1234, DF, flags ACK|PSH, payload bytes 0xab.
    pub fn eth_ipv4_tcp_header(len: usize) -> Vec<u8> {
        let mut f = vec![
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
        ];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0x28, 0x05, 0xdc, 0x12, 0x34, 0x40, 0x00, 63, 6, 0, 0]);
        f.extend_from_slice(&[10, 0, 0, 1, 192, 0, 2, 80]);
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&443u16.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x18, 0x01, 0xf5, 0, 0, 0, 0]);
        f.resize(len.max(f.len()), 0xab);
        f.truncate(len);
        f
    }

    fn put(v: &mut Vec<u8>, x: u32) {
        v.extend_from_slice(&x.to_be_bytes());
    }

    /// `format, length, body` with the body padded to 4 bytes.
    pub fn framed(format: u32, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(body.len() + 12);
        put(&mut v, format);
        put(&mut v, body.len() as u32);
        v.extend_from_slice(body);
        v.resize(v.len().next_multiple_of(4), 0);
        v
    }

    /// A sampled header record (format 1).
    pub fn sampled_header(protocol: u32, frame_length: u32, header: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        put(&mut b, protocol);
        put(&mut b, frame_length);
        put(&mut b, frame_length.saturating_sub(header.len() as u32));
        put(&mut b, header.len() as u32);
        b.extend_from_slice(header);
        b.resize(b.len().next_multiple_of(4), 0);
        framed(1, &b)
    }

    /// An extended switch record (format 1001).
    pub fn extended_switch(src_vlan: u32, dst_vlan: u32) -> Vec<u8> {
        let mut b = Vec::new();
        for x in [src_vlan, 0, dst_vlan, 0] {
            put(&mut b, x);
        }
        framed(1001, &b)
    }

    /// An XDR address.
    pub fn address(a: IpAddr) -> Vec<u8> {
        let mut b = Vec::new();
        match a {
            IpAddr::V4(a) => {
                put(&mut b, 1);
                b.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                put(&mut b, 2);
                b.extend_from_slice(&a.octets());
            }
        }
        b
    }

    /// An extended router record (format 1002).
    pub fn extended_router(next_hop: IpAddr, src_mask: u32, dst_mask: u32) -> Vec<u8> {
        let mut b = address(next_hop);
        put(&mut b, src_mask);
        put(&mut b, dst_mask);
        framed(1002, &b)
    }

    /// An extended gateway record (format 1003) with one segment per entry of `path`.
    pub fn extended_gateway(
        next_hop: IpAddr,
        router_as: u32,
        src_as: u32,
        path: &[(u32, &[u32])],
        communities: &[u32],
        local_pref: u32,
    ) -> Vec<u8> {
        let mut b = address(next_hop);
        for x in [router_as, src_as, src_as, path.len() as u32] {
            put(&mut b, x);
        }
        for (t, ases) in path {
            put(&mut b, *t);
            put(&mut b, ases.len() as u32);
            for &a in *ases {
                put(&mut b, a);
            }
        }
        put(&mut b, communities.len() as u32);
        for &c in communities {
            put(&mut b, c);
        }
        put(&mut b, local_pref);
        framed(1003, &b)
    }

    /// A compact flow sample (format 1) body with the given records.
    #[allow(clippy::too_many_arguments)]
    pub fn flow_sample(
        seq: u32,
        source_id: u32,
        rate: u32,
        pool: u32,
        drops: u32,
        input: u32,
        output: u32,
        records: &[Vec<u8>],
    ) -> Vec<u8> {
        let mut b = Vec::new();
        for x in [seq, source_id, rate, pool, drops, input, output] {
            put(&mut b, x);
        }
        put(&mut b, records.len() as u32);
        for r in records {
            b.extend_from_slice(r);
        }
        framed(1, &b)
    }

    /// A compact counter sample (format 2) body with the given `(format, body)` records.
    pub fn counter_sample(seq: u32, source_id: u32, records: &[Vec<u8>]) -> Vec<u8> {
        let mut b = Vec::new();
        put(&mut b, seq);
        put(&mut b, source_id);
        put(&mut b, records.len() as u32);
        for r in records {
            b.extend_from_slice(r);
        }
        framed(2, &b)
    }

    /// A datagram from `agent` with the given framed samples.
    pub fn datagram(agent: IpAddr, sub_agent: u32, seq: u32, samples: &[Vec<u8>]) -> Vec<u8> {
        let mut d = Vec::new();
        put(&mut d, 5);
        d.extend_from_slice(&address(agent));
        for x in [sub_agent, seq, 123_456, samples.len() as u32] {
            put(&mut d, x);
        }
        for s in samples {
            d.extend_from_slice(s);
        }
        d
    }

    /// The benchmark datagram: one compact flow sample (rate 1024, in 3, out 7) with an
    /// extended switch record (VLAN 100 -> 200) and a 128-byte Ethernet/IPv4/TCP header
    /// ([`eth_ipv4_tcp_header`], frame length 1518), from agent 192.0.2.1.
    pub fn bench_flow_datagram() -> Vec<u8> {
        let header = eth_ipv4_tcp_header(128);
        let records = [extended_switch(100, 200), sampled_header(1, 1518, &header)];
        let s = flow_sample(1, 3, 1024, 1_000_000, 0, 3, 7, &records);
        datagram(IpAddr::from([192, 0, 2, 1]), 0, 42, &[s])
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;
    use crate::flow::layer;

    #[derive(Default)]
    struct Collect {
        flows: Vec<FlowRecord>,
        counters: Vec<CounterRecord>,
    }

    impl FlowSink for Collect {
        fn flow(&mut self, rec: &FlowRecord) {
            self.flows.push(*rec);
        }
        fn counters(&mut self, rec: &CounterRecord) {
            self.counters.push(*rec);
        }
    }

    fn run(d: &[u8]) -> (Result<Protocol, DecodeError>, Collect, Decoder) {
        let mut dec = Decoder::default();
        let mut out = Collect::default();
        let res = dec.decode(IpAddr::from([203, 0, 113, 9]), 77, d, &mut out);
        (res, out, dec)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn u32s(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    fn if_counters_body(if_index: u32) -> Vec<u8> {
        let mut b = u32s(&[if_index, 6]);
        b.extend_from_slice(&10_000_000_000u64.to_be_bytes());
        b.extend_from_slice(&u32s(&[1, 3]));
        b.extend_from_slice(&123_456_789_012u64.to_be_bytes());
        b.extend_from_slice(&u32s(&[1, 2, 3, 4, 5, 6]));
        b.extend_from_slice(&987_654_321_098u64.to_be_bytes());
        b.extend_from_slice(&u32s(&[7, 8, 9, 10, 11, 0]));
        assert_eq!(b.len(), InterfaceCounters::LEN);
        b
    }

    /// A datagram with everything: a compact flow sample with switch/router/gateway, an
    /// expanded one with sampled IPv4 + Ethernet, a counter sample with four record types and
    /// an unknown one, an unknown sample, a discarded-packet sample.
    pub(crate) fn rich_datagram() -> Vec<u8> {
        let header = eth_ipv4_tcp_header(128);
        let s1 = flow_sample(
            10,
            3,
            512,
            9999,
            1,
            3,
            0x4000_0000 | 258,
            &[
                extended_switch(100, 0xffff_ffff),
                sampled_header(1, 1500, &header),
                extended_router(ip("192.0.2.254"), 24, 16),
                extended_gateway(
                    ip("198.51.100.1"),
                    65000,
                    0,
                    &[(2, &[65001, 65002]), (1, &[65003, 65004])],
                    &[0xfde8_0001, 0xfde8_0002],
                    100,
                ),
                framed(1036, &[0, 0, 0, 5]),
                framed((9 << 12) | 1, &[1, 2, 3, 4]),
            ],
        );
        let mut e = u32s(&[11, 0, 7, 2048, 5000, 0, 0, 29001, 0, 1285816721]);
        let mut ipv4 = u32s(&[1344, 17]);
        ipv4.extend_from_slice(&[50, 50, 50, 50, 51, 51, 51, 51]);
        ipv4.extend_from_slice(&u32s(&[46622, 58631, 0, 0x20]));
        let mut eth = u32s(&[1390]);
        eth.extend_from_slice(&[0, 0xfe, 0xc8, 0x99, 5, 0x47, 0, 0]);
        eth.extend_from_slice(&[1, 0, 0x5e, 0x2a, 0xaa, 4, 0, 0]);
        eth.extend_from_slice(&u32s(&[0x0800]));
        e.extend_from_slice(&u32s(&[2]));
        e.extend_from_slice(&framed(3, &ipv4));
        e.extend_from_slice(&framed(2, &eth));
        let s2 = framed(3, &e);
        let mut eth_c = u32s(&[0; 13]);
        eth_c[27] = 9; // late collisions (7th word)
        let mut vlan_c = u32s(&[300]);
        vlan_c.extend_from_slice(&77u64.to_be_bytes());
        vlan_c.extend_from_slice(&u32s(&[1, 2, 3, 4]));
        let mut cpu = u32s(&[6, 6, 7]);
        cpu.extend_from_slice(&13_065_256_960u64.to_be_bytes());
        cpu.extend_from_slice(&12_598_116_368u64.to_be_bytes());
        let s3 = counter_sample(
            5,
            (1 << 24) | 42,
            &[
                framed(1, &if_counters_body(42)),
                framed(2, &eth_c),
                framed(5, &vlan_c),
                framed(1001, &cpu),
                framed(2201, &[0; 12]),
            ],
        );
        let s4 = framed(77, &[0; 20]);
        let mut drop = u32s(&[2, 0, 1, 256, 1, 2, 257, 1]);
        drop.extend_from_slice(&framed(1036, &u32s(&[42])));
        let s5 = framed(5, &drop);
        datagram(ip("172.16.0.3"), 1, 812646826, &[s1, s2, s3, s4, s5])
    }

    #[test]
    fn decodes_every_sample_kind() {
        let d = rich_datagram();
        let (res, out, dec) = run(&d);
        assert_eq!(res, Ok(Protocol::SflowV5));
        assert_eq!(out.flows.len(), 3);
        assert_eq!(out.counters.len(), 4);
        assert_eq!(dec.stats.flows[3], 3);
        assert_eq!(dec.stats.counter_records, 4);
        assert_eq!(dec.stats.sflow_unknown_samples, 1);
        assert_eq!(dec.stats.sflow_unknown_records, 2);
        assert_eq!(dec.stats.error_total(), 0);

        let r = out.flows[0];
        assert_eq!(r.flow_type, FlowType::SFlow5);
        assert_eq!(r.sampler_address, Addr::v4([172, 16, 0, 3]));
        assert_eq!(r.sequence_num, 812646826);
        assert_eq!(
            (r.time_received_ns, r.time_flow_start_ns, r.time_flow_end_ns),
            (77, 77, 77)
        );
        assert_eq!((r.sampling_rate, r.bytes, r.packets), (512, 1500, 1));
        assert_eq!((r.in_if, r.out_if, r.forwarding_status), (3, 0, 129));
        assert_eq!((r.src_vlan, r.dst_vlan, r.vlan_id), (100, 0, 0));
        assert_eq!(r.src_addr, Addr::v4([10, 0, 0, 1]));
        assert_eq!(
            (r.src_port, r.dst_port, r.proto, r.tcp_flags),
            (40000, 443, 6, 0x18)
        );
        assert_eq!((r.src_mac, r.dst_mac), (0x6677_8899_aabb, 0x0011_2233_4455));
        assert_eq!(r.next_hop, Addr::v4([192, 0, 2, 254]));
        assert_eq!(r.bgp_next_hop, Addr::v4([198, 51, 100, 1]));
        assert_eq!((r.src_net, r.dst_net), (24, 16));
        assert_eq!(r.as_path(), &[65001, 65002, 65003, 65004]);
        assert_eq!((r.src_as, r.dst_as, r.next_hop_as), (65000, 65004, 65001));
        assert_eq!(r.communities(), &[0xfde8_0001, 0xfde8_0002]);
        assert_eq!(r.layers().0, &[layer::ETHERNET, layer::IPV4, layer::TCP]);

        let r = out.flows[1];
        assert_eq!(
            (r.sampling_rate, r.in_if, r.out_if),
            (2048, 29001, 1285816721)
        );
        assert_eq!(r.src_addr, Addr::v4([50, 50, 50, 50]));
        assert_eq!(
            (r.proto, r.src_port, r.dst_port, r.ip_tos),
            (17, 46622, 58631, 0x20)
        );
        assert_eq!((r.bytes, r.etype), (1344, 0x0800));
        assert_eq!((r.src_mac, r.dst_mac), (0x00fe_c899_0547, 0x0100_5e2a_aa04));

        let r = out.flows[2];
        assert_eq!((r.in_if, r.out_if, r.forwarding_status), (1, 2, 137));
        assert_eq!((r.sampling_rate, r.bytes), (0, 0));

        let c = out.counters[0];
        assert_eq!(c.agent_address, Addr::v4([172, 16, 0, 3]));
        assert_eq!(
            (c.sub_agent_id, c.sequence_num, c.agent_uptime_ms),
            (1, 812646826, 123_456)
        );
        assert_eq!(
            (c.sample_sequence, c.source_id_type, c.source_id_index),
            (5, 1, 42)
        );
        let Counters::Interface(i) = c.counters else {
            panic!("{c:?}")
        };
        assert_eq!(
            (i.if_index, i.if_speed, i.if_status),
            (42, 10_000_000_000, 3)
        );
        assert_eq!(
            (i.if_in_octets, i.if_out_octets),
            (123_456_789_012, 987_654_321_098)
        );
        assert_eq!(
            (i.if_in_errors, i.if_out_errors, i.if_promiscuous_mode),
            (5, 11, 0)
        );
        assert!(
            matches!(out.counters[1].counters, Counters::Ethernet(x) if x.dot3_stats_late_collisions == 9)
        );
        assert!(
            matches!(out.counters[2].counters, Counters::Vlan(x) if x.vlan_id == 300 && x.octets == 77)
        );
        assert!(
            matches!(out.counters[3].counters, Counters::Processor(x) if x.cpu5m == 7 && x.free_memory == 12_598_116_368)
        );
        assert_eq!(out.counters[3].record_format, 1001);
    }

    #[test]
    fn ipv6_agent_and_unknown_agent_type() {
        let s = flow_sample(
            1,
            1,
            1,
            1,
            0,
            1,
            2,
            &[sampled_header(1, 64, &eth_ipv4_tcp_header(60))],
        );
        let d = datagram(ip("2001:db8::1"), 0, 9, std::slice::from_ref(&s));
        let (res, out, _) = run(&d);
        assert!(res.is_ok());
        assert_eq!(
            out.flows[0].sampler_address,
            Addr::from_ip(ip("2001:db8::1"))
        );
        // agent type 0: no address bytes, the datagram source stands in
        let mut d0 = u32s(&[5, 0, 0, 9, 1, 1]);
        d0.extend_from_slice(&s);
        let (_, out, _) = run(&d0);
        assert_eq!(out.flows[0].sampler_address, Addr::v4([203, 0, 113, 9]));
        // agent type 3: cannot be skipped
        let d3 = u32s(&[5, 3, 0, 0, 0, 0]);
        assert_eq!(run(&d3).0, Err(DecodeError::BadSetId(3)));
        // sFlow v4 is not even detected as sFlow; the header reader names the version
        assert_eq!(run(&u32s(&[4, 1, 0])).0, Err(DecodeError::UnknownProtocol));
        let v4 = u32s(&[4, 1, 0, 0, 0, 0, 0]);
        assert_eq!(
            DatagramHeader::read(&mut Cursor::new(&v4)),
            Err(DecodeError::BadVersion(4))
        );
    }

    #[test]
    fn gateway_rules() {
        let one = |path: &[(u32, &[u32])], src_as| {
            let s = flow_sample(
                1,
                1,
                1,
                1,
                0,
                1,
                2,
                &[extended_gateway(ip("192.0.2.1"), 100, src_as, path, &[], 0)],
            );
            let (_, out, _) = run(&datagram(ip("192.0.2.9"), 0, 1, &[s]));
            out.flows[0]
        };
        let r = one(&[], 0);
        assert_eq!((r.src_as, r.dst_as, r.next_hop_as), (100, 100, 0));
        // no router next hop: the gateway's is the next hop too
        assert_eq!(
            (r.next_hop, r.bgp_next_hop),
            (Addr::v4([192, 0, 2, 1]), Addr::v4([192, 0, 2, 1]))
        );
        let r = one(&[(2, &[7, 8, 9])], 55);
        assert_eq!((r.src_as, r.dst_as, r.next_hop_as), (55, 9, 7));
        // a path longer than the record keeps: dst_as is still the true last AS
        let long: Vec<u32> = (1..=40).collect();
        let r = one(&[(2, &long)], 0);
        assert_eq!(r.as_path_len as usize, crate::flow::MAX_AS_PATH);
        assert_eq!((r.dst_as, r.next_hop_as), (40, 1));
    }

    #[test]
    fn as_path_limit_drops_the_sample() {
        let long: Vec<u32> = (0..2000).collect();
        let bad = flow_sample(
            1,
            1,
            1,
            1,
            0,
            1,
            2,
            &[extended_gateway(
                ip("192.0.2.1"),
                1,
                1,
                &[(2, &long)],
                &[],
                0,
            )],
        );
        let good = flow_sample(2, 1, 1, 1, 0, 1, 2, &[extended_switch(1, 2)]);
        let (res, out, dec) = run(&datagram(ip("192.0.2.9"), 0, 1, &[bad, good]));
        assert!(res.is_ok());
        assert_eq!(out.flows.len(), 1);
        assert_eq!(out.flows[0].src_vlan, 1);
        assert_eq!(dec.stats.limits[LimitKind::AsPath as usize], 1);
        assert_eq!(dec.stats.sflow_samples_dropped, 1);
    }

    #[test]
    fn hostile_counts_and_lengths() {
        let good = flow_sample(2, 1, 1, 1, 0, 1, 2, &[extended_switch(1, 2)]);
        // sample count beyond the limit: the datagram is dropped
        let mut d = datagram(ip("192.0.2.9"), 0, 1, std::slice::from_ref(&good));
        d[24..28].copy_from_slice(&5000u32.to_be_bytes());
        assert_eq!(
            run(&d).0,
            Err(DecodeError::Limit(LimitKind::SamplesPerDatagram))
        );
        // sample count the bytes cannot hold
        d[24..28].copy_from_slice(&100u32.to_be_bytes());
        assert!(matches!(run(&d).0, Err(DecodeError::BadCount { .. })));
        // a sample length past the datagram
        let mut d = datagram(ip("192.0.2.9"), 0, 1, std::slice::from_ref(&good));
        d[32..36].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
        assert!(matches!(
            run(&d).0,
            Err(DecodeError::Truncated {
                section: Section::Sample,
                ..
            })
        ));
        // a record length past its sample: that sample dropped, the next one decodes
        let mut bad = good.clone();
        bad[8 + 32 + 4..8 + 32 + 8].copy_from_slice(&1000u32.to_be_bytes());
        let (res, out, dec) = run(&datagram(ip("192.0.2.9"), 0, 1, &[bad, good.clone()]));
        assert!(res.is_ok());
        assert_eq!(out.flows.len(), 1);
        assert_eq!(dec.stats.errors[2], 1, "one truncated flow record");
        // a header length past its record
        let mut h = sampled_header(1, 64, &eth_ipv4_tcp_header(60));
        h[20..24].copy_from_slice(&4096u32.to_be_bytes());
        let s = flow_sample(1, 1, 1, 1, 0, 1, 2, &[h]);
        let (res, out, dec) = run(&datagram(ip("192.0.2.9"), 0, 1, &[s, good.clone()]));
        assert!(res.is_ok());
        assert_eq!(out.flows.len(), 1);
        assert_eq!(dec.stats.sflow_samples_dropped, 1);
        // a record count beyond the datagram's record budget
        let mut dec = Decoder::new(Limits {
            max_records_per_datagram: 1,
            ..Limits::default()
        });
        let two = flow_sample(
            1,
            1,
            1,
            1,
            0,
            1,
            2,
            &[extended_switch(1, 2), extended_switch(3, 4)],
        );
        let res = dec.decode(
            ip("192.0.2.9"),
            0,
            &datagram(ip("192.0.2.9"), 0, 1, &[two]),
            &mut |_: &FlowRecord| {},
        );
        assert_eq!(res, Err(DecodeError::Limit(LimitKind::RecordsPerDatagram)));
        // an unknown enterprise sample and a short counter record
        let odd = framed((4413 << 12) | 5, &[0; 16]);
        let short = counter_sample(1, 1, &[framed(1, &[0; 40]), framed(5, &[0; 28])]);
        let (res, out, dec) = run(&datagram(ip("192.0.2.9"), 0, 1, &[odd, short]));
        assert!(res.is_ok());
        assert_eq!(dec.stats.sflow_unknown_samples, 1);
        assert_eq!(out.counters.len(), 1);
        assert_eq!(dec.stats.error_total(), 1);
    }

    /// The rich datagram and the bench datagram cut at every length: an error or fewer
    /// flows/counters, never a panic; and every 4-byte word overwritten with hostile values.
    #[test]
    fn truncation_and_corruption_never_panic() {
        for d in [rich_datagram(), bench_flow_datagram()] {
            let (_, full, _) = run(&d);
            for n in 0..d.len() {
                let (res, out, _) = run(&d[..n]);
                assert!(out.flows.len() <= full.flows.len());
                assert!(out.counters.len() <= full.counters.len());
                if out.flows.len() == full.flows.len() && out.counters.len() == full.counters.len()
                {
                    // nothing lost: only possible when the cut was in trailing bytes
                    assert!(res.is_err() || n >= d.len() - 3, "len {n}");
                }
            }
            for i in (0..d.len()).step_by(4) {
                for v in [
                    0u32,
                    1,
                    2,
                    3,
                    0xffff_ffff,
                    0x8000_0000,
                    0x3fff_ffff,
                    0x100,
                    1003,
                    1,
                ] {
                    let mut g = d.clone();
                    g[i..i + 4].copy_from_slice(&v.to_be_bytes());
                    let _ = run(&g);
                }
            }
        }
    }

    #[test]
    fn bench_datagram_maps_without_surprises() {
        let (res, out, _) = run(&bench_flow_datagram());
        assert!(res.is_ok());
        let r = out.flows[0];
        assert_eq!(
            (r.bytes, r.sampling_rate, r.in_if, r.out_if),
            (1518, 1024, 3, 7)
        );
        assert_eq!((r.src_vlan, r.dst_vlan, r.proto), (100, 200, 6));
        assert_eq!(r.sequence_num, 42);
    }

    #[test]
    fn counters_json_and_pb() {
        use prost::Message;
        let d = rich_datagram();
        let (_, out, _) = run(&d);
        let mut buf = Vec::new();
        for c in &out.counters {
            crate::encode::counters::encode_counters(c, crate::encode::Format::Json, &mut buf);
        }
        let lines: Vec<serde_json::Value> = buf
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["Type"], "SFLOW_COUNTERS");
        assert_eq!(lines[0]["AgentAddress"], "172.16.0.3");
        assert_eq!(lines[0]["SourceIdIndex"], 42);
        assert_eq!(lines[0]["Interface"]["IfInOctets"], 123_456_789_012u64);
        assert_eq!(lines[0]["Interface"]["IfPromiscuousMode"], 0);
        assert_eq!(lines[1]["Ethernet"]["Dot3StatsLateCollisions"], 9);
        assert_eq!(lines[2]["Vlan"]["VlanId"], 300);
        assert_eq!(lines[3]["Processor"]["TotalMemory"], 13_065_256_960u64);

        buf.clear();
        for c in &out.counters {
            crate::encode::counters::encode_counters(c, crate::encode::Format::Pb, &mut buf);
        }
        let mut rest = &buf[..];
        let mut msgs = Vec::new();
        while !rest.is_empty() {
            let m =
                crate::pb::counters::CounterMessage::decode_length_delimited(&mut rest).unwrap();
            msgs.push(m);
        }
        assert_eq!(msgs.len(), 4);
        assert_eq!(msgs[0].r#type, 1000);
        assert_eq!(msgs[0].agent_address, vec![172, 16, 0, 3]);
        use crate::pb::counters::counter_message::Counters as C;
        match &msgs[0].counters {
            Some(C::Interface(i)) => assert_eq!(i.if_out_octets, 987_654_321_098),
            other => panic!("{other:?}"),
        }
        // a FlowMessage decoder reads a CounterMessage without error, as Type 1000
        let mut one = Vec::new();
        out.counters[0].to_pb().encode(&mut one).unwrap();
        let f = crate::pb::goflow_v2::FlowMessage::decode(&one[..]).unwrap();
        assert_eq!(f.r#type, 1000);
        assert_eq!(f.bytes, 0);
        let f = crate::pb::goflow2::FlowMessage::decode(&one[..]).unwrap();
        assert_eq!(f.r#type, 1000);
    }

    #[test]
    fn interface_formats() {
        assert_eq!(
            Interface::compact(0x3fff_ffff),
            Interface::Index(0x3fff_ffff)
        );
        assert_eq!(Interface::compact(0x4000_0101), Interface::Discarded(257));
        assert_eq!(Interface::compact(0x8000_0007), Interface::Multiple(7));
        assert_eq!(Interface::compact(0xc000_0001).if_index(), 0);
        assert_eq!(drop_forwarding_status(258), 129);
        assert_eq!(drop_forwarding_status(999), 128);
    }
}
