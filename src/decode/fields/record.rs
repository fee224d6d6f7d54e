//! The record loops: every record of a data set decoded by its [`Plan`] and handed to the
//! sink (`decode_data`: a fixed-length loop with slots and record reuse, and a
//! variable-length one), and the walk over options records that feeds the sampling cache
//! (`decode_options`). The top layer of `fields`: it uses every sibling, none uses it.

use super::apply::{apply, Aux};
use super::op::{window_shift, Val};
use super::plan::{flag, Plan};
use super::sampling::{SamplerRates, Sampling};
use super::section::apply_section;
use super::slots::{apply_slots, plain_path, restore_volatile, Slots};
use super::time::{resolve_time, RecCtx, TimeSrc};
use crate::decode::spec::VARLEN;
use crate::decode::{DecodeError, Section};
use crate::flow::{FieldGroups, FlowRecord};
use crate::mapping::{Mapped, Value, MAX_VALUES};

#[inline(always)]
fn reuse_enabled(plan: &Plan) -> bool {
    plan.reuse && !plain_path()
}

/// The outcome of one data set.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SetOutcome {
    pub records: usize,
    /// The last sampling rate a record carried (IE 34/50/305..), with its sampler id.
    pub seen_rate: Option<(Option<u64>, u64)>,
    /// The record budget ran out before the set was done.
    pub limit_hit: bool,
    /// A variable-length record ran past the set.
    pub error: Option<DecodeError>,
    /// Packet sections not decoded because they do not start at the frame's first byte.
    pub sections_skipped: usize,
}

/// Reads one variable-length prefix at `*p`.
#[inline]
fn varlen(data: &[u8], p: &mut usize) -> Option<usize> {
    let l = *data.get(*p)? as usize;
    *p += 1;
    if l < 255 {
        return Some(l);
    }
    let b = data.get(*p..*p + 2)?;
    *p += 2;
    Some(u16::from_be_bytes([b[0], b[1]]) as usize)
}

/// What a record needs after all its ops ran: times, sampling rate, ICMP from the port.
/// A function rather than a closure so that it is inlined into both record loops.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn finish<R: SamplerRates>(
    plan: &Plan,
    ctx: &RecCtx,
    samplers: &R,
    last_sampler: &mut Option<(u64, Option<u64>)>,
    rec: &mut FlowRecord,
    aux: &Aux,
    buf: &[u8],
    out: &mut SetOutcome,
) {
    if plan.flags & flag::ALT_COUNTERS != 0 {
        // the counter rule: the main counter, else (zero or absent) the alternative
        if rec.bytes == 0 || plan.flags & flag::ALT_BYTES_ONLY != 0 {
            rec.bytes = aux.alt[0];
        }
        if rec.packets == 0 || plan.flags & flag::ALT_PACKETS_ONLY != 0 {
            rec.packets = aux.alt[1];
        }
    }
    if plan.flags & flag::SECTION != 0 && !apply_section(rec, &aux.section, buf, plan.carried) {
        out.sections_skipped += 1;
    }
    if plan.start != TimeSrc::None as u8 || plan.end != TimeSrc::None as u8 {
        let sys_init = if aux.samp.sys_init_ms != 0 {
            aux.samp.sys_init_ms
        } else {
            ctx.sys_init_ms
        };
        if plan.start != TimeSrc::None as u8 {
            rec.time_flow_start_ns = resolve_time(plan.start, aux.start, ctx, sys_init);
        }
        if plan.end != TimeSrc::None as u8 {
            rec.time_flow_end_ns = resolve_time(plan.end, aux.end, ctx, sys_init);
        }
    }
    if plan.flags & flag::SAMPLING != 0 {
        if let Some(sid) = aux.samp.sampler_id {
            let rate = match *last_sampler {
                Some((id, r)) if id == sid => r,
                _ => {
                    let r = samplers.rate(sid);
                    *last_sampler = Some((sid, r));
                    r
                }
            };
            if let Some(r) = rate {
                rec.sampling_rate = r;
            }
        }
        if let Some(r) = aux.samp.rate() {
            rec.sampling_rate = r;
            out.seen_rate = Some((aux.samp.sampler_id, r));
        }
    }
    if plan.flags & flag::ICMP_FROM_PORT != 0 && (rec.proto == 1 || rec.proto == 58) {
        rec.icmp_type = (rec.dst_port >> 8) & 0xFF;
        rec.icmp_code = rec.dst_port & 0xFF;
        rec.groups.0 |= FieldGroups::MISC;
    }
}

/// A variable-length record's starting point: the fields a datagram's base record sets
/// (`ipfix::decode` / `netflow9::decode`: type, times, sequence, exporter, domain; the
/// sampling rate `data_passes` adds) with `groups`, every other field its default. Built in
/// place (zero stores and nine moves) rather than copied: a copy of the whole ~600-byte
/// record is a `memcpy` call per record (~100 instructions). `decode_data` checks (debug
/// builds) that the base holds nothing else.
#[inline(always)]
fn fresh(base: &FlowRecord, groups: FieldGroups) -> FlowRecord {
    FlowRecord {
        flow_type: base.flow_type,
        time_received_ns: base.time_received_ns,
        sequence_num: base.sequence_num,
        sampler_address: base.sampler_address,
        observation_domain_id: base.observation_domain_id,
        time_flow_start_ns: base.time_flow_start_ns,
        time_flow_end_ns: base.time_flow_end_ns,
        sampling_rate: base.sampling_rate,
        groups,
        ..FlowRecord::default()
    }
}

/// Decodes every record of one data set and hands each flow to `sink`. `base` is the
/// datagram's prefilled record (sampling rate of the domain already in it). A template with
/// mapped fields takes its own copy of the loops (`MAPPED`), so that the records of the
/// others run exactly the code they ran before mapping existed.
#[inline]
pub(crate) fn decode_data<S: crate::decode::FlowSink, R: SamplerRates>(
    plan: &Plan,
    data: &[u8],
    base: &FlowRecord,
    ctx: &RecCtx,
    samplers: &R,
    budget: usize,
    sink: &mut S,
) -> SetOutcome {
    if plan.map.is_some() {
        decode_set::<S, R, true>(plan, data, base, ctx, samplers, budget, sink)
    } else {
        decode_set::<S, R, false>(plan, data, base, ctx, samplers, budget, sink)
    }
}

/// Hands one record to the sink, with its mapped values when `MAPPED`: `data` is the record
/// itself (fixed-length templates) or its set, where it starts at `at`.
#[inline(always)]
fn emit<S: crate::decode::FlowSink, const MAPPED: bool>(
    plan: &Plan,
    data: &[u8],
    at: usize,
    rec: &FlowRecord,
    vals: &mut [Value; MAX_VALUES],
    sink: &mut S,
) {
    match plan.map.as_deref() {
        Some(m) if MAPPED => {
            let (vals, uints) = if m.lens.is_empty() {
                (&m.fixed[..], &m.uints[..])
            } else {
                let n = m.var_values(data, at, vals);
                (&vals[..n], &[][..])
            };
            let mapped = Mapped {
                mapping: &m.mapping,
                data,
                vals,
                uints,
            };
            sink.flow_mapped(rec, &mapped);
        }
        _ => sink.flow(rec),
    }
}

// Out of line, as the record loops were before mapping existed: inlined into the set walk
// (`sets::data_passes`) LLVM compiled the unmapped loop ~9% slower (callgrind, v9 and IPFIX).
#[inline(never)]
fn decode_set<S: crate::decode::FlowSink, R: SamplerRates, const MAPPED: bool>(
    plan: &Plan,
    data: &[u8],
    base: &FlowRecord,
    ctx: &RecCtx,
    samplers: &R,
    budget: usize,
    sink: &mut S,
) -> SetOutcome {
    let mut out = SetOutcome::default();
    // the mapped values of the record being handed over (`MAPPED` only)
    let mut vals = [Value::default(); MAX_VALUES];
    let groups = FieldGroups(base.groups.0 | plan.groups);
    // the variable-length loop builds each record from the caller's (`fresh`); the fixed
    // one reuses a record restored from a local copy with `groups` set
    let caller_base = base;
    // one-entry cache of the sampler-id lookup: a set's records share their sampler
    let mut last_sampler: Option<(u64, Option<u64>)> = None;
    if plan.fixed {
        let base = &FlowRecord { groups, ..*base };
        let n = data.len() / plan.min_len;
        let take = if n > budget {
            out.limit_hit = true;
            budget
        } else {
            n
        };
        let reuse = reuse_enabled(plan);
        let no_slots = Slots::default();
        let (slots, ops) = if plain_path() {
            (&no_slots, &plan.ops)
        } else {
            (&plan.slots, &plan.rest)
        };
        let mut rec = *base;
        // every op runs for every record and overwrites its `Aux` value, except those that
        // accumulate (sampling IEs present, alternative counters): only their plans need a
        // fresh `Aux` per record
        let fresh_aux = plan.flags & (flag::SAMPLING | flag::ALT_COUNTERS) != 0;
        let mut aux = Aux::default();
        for r in data.chunks_exact(plan.min_len).take(take) {
            if reuse {
                restore_volatile(&mut rec, base, !plan.rest_without_addrs);
            } else {
                rec = *base;
            }
            if fresh_aux {
                aux = Aux::default();
            }
            apply_slots(&mut rec, &mut aux, r, slots);
            for op in ops.iter() {
                let x = Val {
                    r,
                    off: op.off as usize,
                    len: op.len as usize,
                    shift: op.shift,
                };
                apply(&mut rec, &mut aux, op.kind, op.arg, x);
            }
            finish(
                plan,
                ctx,
                samplers,
                &mut last_sampler,
                &mut rec,
                &aux,
                r,
                &mut out,
            );
            if MAPPED {
                emit::<S, MAPPED>(plan, r, 0, &rec, &mut vals, sink);
            } else {
                sink.flow(&rec);
            }
        }
        out.records = take;
        return out;
    }
    debug_assert_eq!(
        fresh(caller_base, caller_base.groups),
        *caller_base,
        "a base record field `fresh` does not carry"
    );
    let mut pos = 0usize;
    let fresh_aux = plan.flags & (flag::SAMPLING | flag::ALT_COUNTERS) != 0;
    let mut aux = Aux::default();
    while data.len() - pos >= plan.min_len {
        if out.records == budget {
            out.limit_hit = true;
            break;
        }
        let mut p = pos;
        let mut rec = if plain_path() {
            FlowRecord {
                groups,
                ..*caller_base
            }
        } else {
            fresh(caller_base, groups)
        };
        if fresh_aux {
            aux = Aux::default();
        }
        let mut ok = true;
        for op in plan.ops.iter() {
            let len = if op.len == VARLEN {
                match varlen(data, &mut p) {
                    Some(l) => l,
                    None => {
                        ok = false;
                        break;
                    }
                }
            } else {
                op.len as usize
            };
            if data.len() - p < len {
                ok = false;
                break;
            }
            let x = Val {
                r: data,
                off: p,
                len,
                shift: window_shift(p + len, len),
            };
            p += len;
            apply(&mut rec, &mut aux, op.kind, op.arg, x);
        }
        if !ok {
            out.error = Some(DecodeError::Truncated {
                section: Section::DataSet,
                offset: pos,
                need: plan.min_len.max(p - pos + 1),
                have: data.len() - pos,
            });
            break;
        }
        finish(
            plan,
            ctx,
            samplers,
            &mut last_sampler,
            &mut rec,
            &aux,
            data,
            &mut out,
        );
        if MAPPED {
            emit::<S, MAPPED>(plan, data, pos, &rec, &mut vals, sink);
        } else {
            sink.flow(&rec);
        }
        out.records += 1;
        pos = p;
    }
    out
}

/// Walks the records of one options data set and calls `each` with the sampling IEs of each.
/// Returns (records, limit hit, error).
pub(crate) fn decode_options(
    plan: &Plan,
    data: &[u8],
    budget: usize,
    mut each: impl FnMut(&Sampling),
) -> (usize, bool, Option<DecodeError>) {
    let mut records = 0;
    let mut pos = 0usize;
    let mut rec = FlowRecord::default();
    while data.len() - pos >= plan.min_len {
        if records == budget {
            return (records, true, None);
        }
        let mut aux = Aux::default();
        let mut p = pos;
        for op in plan.ops.iter() {
            let (start, len) = if plan.fixed {
                (pos + op.off as usize, op.len as usize)
            } else {
                let len = if op.len == VARLEN {
                    varlen(data, &mut p)
                } else {
                    Some(op.len as usize)
                };
                let s = p;
                p = p.saturating_add(len.unwrap_or(usize::MAX));
                (s, len.unwrap_or(usize::MAX))
            };
            if data.get(start..start.saturating_add(len)).is_none() {
                let e = DecodeError::Truncated {
                    section: Section::DataSet,
                    offset: pos,
                    need: plan.min_len,
                    have: data.len() - pos,
                };
                return (records, false, Some(e));
            }
            let x = Val {
                r: data,
                off: start,
                len,
                shift: window_shift(start + len, len),
            };
            apply(&mut rec, &mut aux, op.kind, op.arg, x);
        }
        pos = if plan.fixed { pos + plan.min_len } else { p };
        records += 1;
        each(&aux.samp);
    }
    (records, false, None)
}
