//! Decoders for NetFlow v5, NetFlow v9, IPFIX and sFlow v5, zero-copy over the datagram.
//!
//! `Decoder` is the per-worker state (template and sampling caches, limits, counters). One
//! call to [`Decoder::decode`] takes one UDP payload, detects its protocol from its content,
//! and hands every flow it decodes to a [`FlowSink`] as a borrowed `FlowRecord`. Nothing in
//! here allocates per record; templates allocate once when they are learned.
//!
//! Errors are small `Copy` values ([`DecodeError`]) that map to a fixed metric label. A
//! datagram-level error drops the rest of that datagram; a set-level error (one bad flowset,
//! one data set without a template) is counted in [`DecodeStats`] and decoding goes on with
//! the next set.

pub mod error;
pub(crate) mod fields;
pub mod ipfix;
#[cfg(test)]
mod mapping_tests;
pub mod netflow5;
pub mod netflow9;
#[cfg(test)]
pub(crate) mod nftest;
pub mod packet;
pub mod seq;
pub(crate) mod sets;
pub mod sflow;
pub mod spec;
pub mod stats;
pub mod template;

pub use error::{DecodeError, LimitKind, Limits, Protocol, Section};
pub use stats::{DatagramSummary, DecodeStats, TemplateSeen, SUMMARY_TEMPLATES};

use crate::flow::{Addr, FlowRecord};
use seq::SeqTracker;
use std::net::IpAddr;
use template::TemplateCache;

/// Where decoded flows go. `flow` is called once per flow with a record that is only valid
/// for the call; `counters` once per sFlow counter record (ignored by default).
pub trait FlowSink {
    fn flow(&mut self, rec: &FlowRecord);
    fn counters(&mut self, _rec: &sflow::CounterRecord) {}
    /// A flow with the values of the configured `[[mapping]]` entries (called instead of
    /// `flow` only for records that have some): by default the values are dropped.
    #[inline]
    fn flow_mapped(&mut self, rec: &FlowRecord, _mapped: &crate::mapping::Mapped<'_>) {
        self.flow(rec)
    }
    /// A flow a decoder reads in place ([`crate::flow::Flow`], e.g. a NetFlow v5 record):
    /// by default handed to `flow` as a record; a sink that encodes may read it directly.
    #[inline]
    fn flow_of<F: crate::flow::Flow>(&mut self, flow: &F) {
        self.flow(&flow.to_record())
    }
}

impl<F: FnMut(&FlowRecord)> FlowSink for F {
    #[inline]
    fn flow(&mut self, rec: &FlowRecord) {
        self(rec)
    }
}

/// One worker's decoding state: caches, limits and counters.
#[derive(Default)]
pub struct Decoder {
    pub limits: Limits,
    pub templates: TemplateCache,
    pub stats: DecodeStats,
    /// Sequence-gap accounting by stream ([`seq`]).
    pub seq: SeqTracker,
    /// The `[[mapping]]` entries read from sFlow sampled headers (`None`: none).
    pub(crate) sflow_mapping: Option<std::sync::Arc<crate::mapping::Mapping>>,
}

/// Sequence streams a worker tracks per exporter it may hold (domains, sFlow agents).
pub const SEQ_STREAMS_PER_EXPORTER: usize = 4;

impl Decoder {
    pub fn new(limits: Limits) -> Self {
        Decoder {
            limits,
            templates: TemplateCache::default(),
            stats: DecodeStats::default(),
            seq: SeqTracker::new(
                limits
                    .max_exporters
                    .saturating_mul(SEQ_STREAMS_PER_EXPORTER),
            ),
            sflow_mapping: None,
        }
    }

    /// Applies `[[mapping]]` entries to the templates learned from now on and to sFlow
    /// samples (an empty mapping: none).
    pub fn set_mapping(&mut self, mapping: Option<std::sync::Arc<crate::mapping::Mapping>>) {
        self.sflow_mapping = mapping.clone().filter(|m| m.has_sflow());
        self.templates.mapping = mapping.filter(|m| m.has_elements());
    }

    /// Decodes one UDP payload from `exporter`, received at `recv_ns` (ns since epoch).
    /// Datagram-level errors are counted in `self.stats` and returned.
    pub fn decode<S: FlowSink>(
        &mut self,
        exporter: IpAddr,
        recv_ns: u64,
        payload: &[u8],
        sink: &mut S,
    ) -> Result<Protocol, DecodeError> {
        self.stats.last = DatagramSummary::default();
        let Some(proto) = Protocol::detect(payload) else {
            self.stats.count(DecodeError::UnknownProtocol);
            return Err(DecodeError::UnknownProtocol);
        };
        let res = match proto {
            Protocol::NetflowV5 => netflow5::decode(self, exporter, recv_ns, payload, sink),
            Protocol::NetflowV9 => netflow9::decode(self, exporter, recv_ns, payload, sink),
            Protocol::Ipfix => ipfix::decode(self, exporter, recv_ns, payload, sink),
            Protocol::SflowV5 => sflow::decode(self, exporter, recv_ns, payload, sink),
        };
        if let Some(note) = self.stats.last.seq {
            self.sequence(proto, exporter, note, res.is_ok());
        }
        match res {
            Ok(()) => {
                self.stats.datagrams[proto.index()] += 1;
                Ok(proto)
            }
            Err(e) => {
                self.stats.count(e);
                Err(e)
            }
        }
    }

    /// Sequence accounting of one datagram whose header was read (one compare when in order).
    #[inline]
    fn sequence(&mut self, proto: Protocol, exporter: IpAddr, note: seq::SeqNote, ok: bool) {
        let last = &self.stats.last;
        let units = match proto {
            // IPFIX numbers data records: known only if every data set could be read
            Protocol::Ipfix if ok && last.last_error.is_none() => Some(
                last.set_records[DatagramSummary::SET_DATA]
                    + last.set_records[DatagramSummary::SET_OPTIONS_DATA],
            ),
            Protocol::Ipfix => None,
            _ => Some(note.units),
        };
        let agent = if proto == Protocol::SflowV5 {
            last.agent
        } else {
            Addr::NONE
        };
        let ev = self
            .seq
            .observe(proto, Addr::from_ip(exporter), agent, note, units);
        if let seq::SeqEvent::Gap(n) = ev {
            self.stats.last.seq_missing = n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(Protocol::detect(&[0, 5, 0, 1]), Some(Protocol::NetflowV5));
        assert_eq!(Protocol::detect(&[0, 9, 0, 1]), Some(Protocol::NetflowV9));
        assert_eq!(Protocol::detect(&[0, 10, 0, 1]), Some(Protocol::Ipfix));
        assert_eq!(Protocol::detect(&[0, 0, 0, 5]), Some(Protocol::SflowV5));
        assert_eq!(Protocol::detect(&[0, 0, 0, 4]), None);
        assert_eq!(Protocol::detect(&[0, 5]), None);
    }

    /// flowgen's datagrams, one in ten lost: the decoder counts each gap in the protocol's
    /// unit (IPFIX: data records, the options data record of the first datagram included).
    #[test]
    fn sequence_gaps_in_each_protocols_unit() {
        use coreflow_flowgen::{Exporter, GenOptions, GenProtocol};
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for (p, proto, per_gap) in [
            (GenProtocol::V5, Protocol::NetflowV5, 30),
            (GenProtocol::V9, Protocol::NetflowV9, 1),
            (GenProtocol::Ipfix, Protocol::Ipfix, 30),
            (GenProtocol::Sflow, Protocol::SflowV5, 1),
        ] {
            let mut e = Exporter::new(0, ip, GenOptions::new(p), 1_700_000_000_000_000_000);
            let mut dec = Decoder::default();
            let mut sink = |_: &FlowRecord| {};
            for i in 1..=50u32 {
                let mut buf = Vec::new();
                e.datagram(1_700_000_000_000_000_000, &mut buf);
                if i % 10 == 0 {
                    continue;
                }
                dec.decode(ip, 0, &buf, &mut sink).unwrap();
                let want = if i % 10 == 1 && i > 1 { per_gap } else { 0 };
                assert_eq!(dec.stats.last.seq_missing, want, "{p:?} {i}");
            }
            let s = dec.seq.stats;
            assert_eq!(s.gaps[proto.index()], 4, "{p:?}");
            assert_eq!(s.missing[proto.index()], 4 * u64::from(per_gap), "{p:?}");
            assert_eq!(s.late[proto.index()] + s.resyncs[proto.index()], 0);
        }
    }
}
