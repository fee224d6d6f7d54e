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
//!
//! Files, one job each, arrows pointing one way: `wire` (version, format numbers, header and
//! XDR framing; a leaf), `interface` (interface encodings and drop reasons; a leaf), `record`
//! (the flow records of a flow sample; reads `wire`), `mapped` (the `[[mapping]]` values of a
//! sampled header; a leaf), `counters` (the counter record types and
//! their readers; a leaf), and this file, which walks the datagram and its samples. Encoding
//! a counter record is the encoders' job (a layer above), never this module's.

mod counters;
mod interface;
mod mapped;
mod record;
#[cfg(test)]
pub(crate) mod tests;
mod wire;

pub(crate) use counters::for_each_counter_struct;
pub use counters::{
    CounterRecord, Counters, EthernetCounters, InterfaceCounters, ProcessorCounters, VlanCounters,
};
pub use interface::{drop_forwarding_status, Interface};
pub use wire::{format, DatagramHeader, VERSION};

use super::seq::SeqNote;
use super::{DecodeError, DecodeStats, Decoder, FlowSink, LimitKind};
use super::{Limits, Protocol, Section};
use crate::cursor::Cursor;
use crate::flow::{Addr, FlowRecord, FlowType};
use interface::set_interfaces;
use record::{flow_record, Pending};
use std::net::IpAddr;
use wire::{next_framed, record_count, words};

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
struct Ctx<'a> {
    /// The `[[mapping]]` entries that read sampled headers, if any.
    mapping: Option<&'a crate::mapping::Mapping>,
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
        mapping: dec.sflow_mapping.as_deref(),
        recv_ns,
        agent,
        sub_agent_id: h.sub_agent_id,
        sequence: h.sequence,
        uptime_ms: h.uptime_ms,
    };
    dec.stats.last.agent = agent;
    // the sequence counts datagrams, per agent and sub-agent
    dec.stats.last.seq = Some(SeqNote {
        domain: h.sub_agent_id,
        seq: h.sequence,
        units: 1,
    });
    let limits = &dec.limits;
    let stats = &mut dec.stats;
    // the samples of a collector without sFlow entries run the loop they ran before mapping
    // existed (`MAPPED` false); with entries, their own copy
    if ctx.mapping.is_some() {
        samples::<S, true>(c, n, &ctx, limits, stats, sink)
    } else {
        samples::<S, false>(c, n, &ctx, limits, stats, sink)
    }
}

/// Decodes the `n` samples after the datagram header.
#[inline]
fn samples<S: FlowSink, const MAPPED: bool>(
    mut c: Cursor<'_>,
    n: usize,
    ctx: &Ctx<'_>,
    limits: &Limits,
    stats: &mut DecodeStats,
    sink: &mut S,
) -> Result<(), DecodeError> {
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
                format::FLOW_SAMPLE => decode_flow_sample::<S, MAPPED>(
                    FlowKind::Compact,
                    body,
                    ctx,
                    limits,
                    stats,
                    &mut budget,
                    sink,
                ),
                format::EXPANDED_FLOW_SAMPLE => decode_flow_sample::<S, MAPPED>(
                    FlowKind::Expanded,
                    body,
                    ctx,
                    limits,
                    stats,
                    &mut budget,
                    sink,
                ),
                format::DISCARDED_PACKET => decode_flow_sample::<S, MAPPED>(
                    FlowKind::Discarded,
                    body,
                    ctx,
                    limits,
                    stats,
                    &mut budget,
                    sink,
                ),
                format::COUNTER_SAMPLE => {
                    decode_counter_sample(false, body, ctx, stats, &mut budget, sink)
                }
                format::EXPANDED_COUNTER_SAMPLE => {
                    decode_counter_sample(true, body, ctx, stats, &mut budget, sink)
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
fn decode_flow_sample<S: FlowSink, const MAPPED: bool>(
    kind: FlowKind,
    mut c: Cursor<'_>,
    ctx: &Ctx<'_>,
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
            rec.discard_reason = reason;
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
    // one `flow` call site per copy: more, and LLVM stops inlining the sink's `flow` here
    if MAPPED {
        mapped::emit(ctx.mapping, p.header, p.header_proto, &rec, sink);
    } else {
        sink.flow(&rec);
    }
    stats.flows[Protocol::SflowV5.index()] += 1;
    Ok(())
}

fn decode_counter_sample<S: FlowSink>(
    expanded: bool,
    mut c: Cursor<'_>,
    ctx: &Ctx<'_>,
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
