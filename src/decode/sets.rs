//! The set/flowset walk NetFlow v9 and IPFIX share, and the data passes over a datagram.
//!
//! A datagram is read in passes over its sets: first every template set (the caller, which
//! knows its version's template formats), then every options data set (sampling rates for
//! the data that follows, whatever the order in the datagram), then every data set. Data that
//! precedes its template in the same datagram therefore decodes.

use super::fields::{decode_data, decode_options, RecCtx};
use super::spec::FieldSpec;
use super::template::DomainSamplers;
use super::{DatagramSummary, DecodeError, Decoder, FlowSink, LimitKind, Protocol, Section};
use crate::cursor::{Cursor, Short};
use crate::flow::{Addr, FlowRecord};

/// Iterator over `{id u16, length u16, body}` sets. Fewer than 4 trailing bytes, or trailing
/// bytes that are all zero, are padding. A length below 4 or past the end is an error after
/// which the walk stops (no way to find the next set).
#[derive(Clone, Copy)]
pub(crate) struct Sets<'a> {
    rest: &'a [u8],
    off: usize,
    /// Offset of the body within the datagram (for error offsets).
    base: usize,
}

impl<'a> Sets<'a> {
    pub fn new(body: &'a [u8], base: usize) -> Self {
        Sets {
            rest: body,
            off: 0,
            base,
        }
    }
}

impl<'a> Iterator for Sets<'a> {
    type Item = Result<(u16, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = self.rest;
        if r.len() < 4 || r.iter().all(|&b| b == 0) {
            return None;
        }
        let id = u16::from_be_bytes([r[0], r[1]]);
        let len = u16::from_be_bytes([r[2], r[3]]) as usize;
        self.rest = &[];
        if len < 4 {
            return Some(Err(DecodeError::BadLength {
                section: Section::FlowSet,
                value: len as u32,
            }));
        }
        if len > r.len() {
            return Some(Err(DecodeError::Truncated {
                section: Section::FlowSet,
                offset: self.base + self.off,
                need: len,
                have: r.len(),
            }));
        }
        self.rest = &r[len..];
        self.off += len;
        Some(Ok((id, &r[4..len])))
    }
}

/// One NetFlow v9 / IPFIX datagram after its header was read.
pub(crate) struct Datagram<'a> {
    pub proto: Protocol,
    pub version: u8,
    pub addr: Addr,
    pub domain: u32,
    /// The sets (after the header, up to the message length).
    pub body: &'a [u8],
    pub body_offset: usize,
    pub ctx: RecCtx,
    /// Prefilled record: type, receive time, sequence, exporter, domain, export times.
    pub base: FlowRecord,
}

/// Runs the options-data and data passes over `d`. Returns the first error that stops the
/// datagram (the per-datagram record limit); set-level errors are counted and skipped.
pub(crate) fn data_passes<S: FlowSink>(
    dec: &mut Decoder,
    d: &Datagram<'_>,
    sink: &mut S,
) -> Result<(), DecodeError> {
    let Decoder {
        templates,
        stats,
        limits,
        ..
    } = dec;
    let data_sets = || {
        Sets::new(d.body, d.body_offset)
            .map_while(Result::ok)
            .filter(|(id, _)| *id >= 256)
    };
    let Some(exp) = templates.exporter_mut(&d.addr) else {
        for (id, _) in data_sets() {
            stats.count(DecodeError::TemplateNotFound { template_id: id });
            stats.records_without_template += 1;
        }
        return Ok(());
    };
    let max_rates = limits.max_templates_per_exporter;
    let mut budget = limits.max_records_per_datagram;
    // a new rate entry grows the exporter's heap: re-accounted once the passes are done
    let mut rates_grew = false;
    let mut result = Ok(());

    // pass 2: options data (sampling rates, system init time)
    for (id, data) in data_sets() {
        let Some(t) = exp.templates.get_mut(&tkey(d, id)) else {
            continue;
        };
        if !t.options {
            continue;
        }
        t.used_ns = d.base.time_received_ns;
        let rates = &mut exp.rates;
        let (n, limit, err) = decode_options(&t.plan, data, budget, |s| {
            let rate = s.rate();
            rates_grew |= rates.store(
                d.version,
                d.domain,
                s.sampler_id,
                rate,
                s.sys_init_ms,
                max_rates,
            );
        });
        stats.options_records += n as u64;
        stats.last.sets[DatagramSummary::SET_OPTIONS_DATA] += 1;
        stats.last.set_records[DatagramSummary::SET_OPTIONS_DATA] += n as u32;
        budget -= n;
        if let Some(e) = err {
            stats.count(e);
        }
        if limit {
            result = Err(DecodeError::Limit(LimitKind::RecordsPerDatagram));
            break;
        }
    }

    // pass 3: data
    let dom = exp.rates.domain(d.version, d.domain);
    let mut base = d.base;
    base.sampling_rate = dom.sampling_rate;
    let ctx = RecCtx {
        sys_init_ms: dom.sys_init_ms,
        ..d.ctx
    };
    let mut flows = 0u64;
    // the record limit hit in pass 2 ends the datagram: no data set is read
    for (id, data) in data_sets().filter(|_| result.is_ok()) {
        let Some(t) = exp.templates.get_mut(&tkey(d, id)) else {
            stats.count(DecodeError::TemplateNotFound { template_id: id });
            stats.records_without_template += 1;
            continue;
        };
        if t.options {
            continue;
        }
        t.used_ns = d.base.time_received_ns;
        let samplers = DomainSamplers::new(&exp.rates, d.version, d.domain);
        let out = decode_data(&t.plan, data, &base, &ctx, &samplers, budget, sink);
        budget -= out.records;
        flows += out.records as u64;
        stats.last.sets[DatagramSummary::SET_DATA] += 1;
        stats.last.set_records[DatagramSummary::SET_DATA] += out.records as u32;
        if let Some(e) = out.error {
            stats.count(e);
        }
        stats.packet_sections_skipped += out.sections_skipped as u64;
        if let Some((sid, rate)) = out.seen_rate {
            rates_grew |= exp
                .rates
                .store(d.version, d.domain, sid, Some(rate), 0, max_rates);
            base.sampling_rate = rate;
        }
        if out.limit_hit {
            result = Err(DecodeError::Limit(LimitKind::RecordsPerDatagram));
            break;
        }
    }
    stats.flows[d.proto.index()] += flows;
    let rates_changed = std::mem::take(&mut exp.rates.fresh);
    if rates_grew {
        templates.rates_grew(&d.addr, limits, stats);
    }
    if rates_changed {
        templates.rates_changed(&d.addr, d.version, d.domain);
    }
    result
}

/// Reads `count` field specifiers into `out` (cleared first). IPFIX specifiers with the
/// enterprise bit carry a 4-byte PEN and have the bit cleared from their id; NetFlow v9 ids
/// are 16-bit as they are (vendor ids such as NSEL's 40000+ have the top bit set). At most
/// `max + 1` are kept, so that `out.len() > max` tells the limit was hit.
pub(crate) fn read_fields(
    c: &mut Cursor<'_>,
    count: usize,
    ipfix: bool,
    max: usize,
    out: &mut Vec<FieldSpec>,
) -> Result<(), Short> {
    out.clear();
    for _ in 0..count {
        let raw = c.u16()?;
        let len = c.u16()?;
        let (id, pen) = if ipfix && raw & 0x8000 != 0 {
            (raw & 0x7FFF, c.u32()?)
        } else {
            (raw, 0)
        };
        if out.len() <= max {
            out.push(FieldSpec { id, len, pen });
        }
    }
    Ok(())
}

/// True when the rest of a set is zero bytes (padding).
#[inline]
pub(crate) fn is_padding(rest: &[u8]) -> bool {
    rest.iter().all(|&b| b == 0)
}

#[inline]
fn tkey(d: &Datagram<'_>, id: u16) -> u64 {
    crate::decode::template::tkey(d.version, d.domain, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_and_padding() {
        let b = [1, 0, 0, 6, 9, 9, 1, 1, 0, 4, 0, 0, 0];
        let v: Vec<_> = Sets::new(&b, 0).collect();
        assert_eq!(v, vec![Ok((256, &[9u8, 9][..])), Ok((257, &[][..]))]);
        let b = [1, 0, 0, 2, 0, 0];
        let v: Vec<_> = Sets::new(&b, 0).collect();
        assert!(matches!(v[..], [Err(DecodeError::BadLength { .. })]));
        let b = [1, 0, 0, 9, 0, 0];
        let v: Vec<_> = Sets::new(&b, 0).collect();
        assert!(matches!(v[..], [Err(DecodeError::Truncated { .. })]));
        assert_eq!(Sets::new(&[0; 8], 0).count(), 0);
    }
}
