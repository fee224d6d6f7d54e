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

pub(crate) mod fields;
pub mod ipfix;
pub mod netflow5;
pub mod netflow9;
#[cfg(test)]
pub(crate) mod nftest;
pub mod packet;
pub(crate) mod sets;
pub mod sflow;
pub mod template;

use crate::cursor::Short;
use crate::flow::{Addr, FlowRecord};
use std::net::IpAddr;
use template::TemplateCache;

/// The protocols a UDP payload can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    NetflowV5,
    NetflowV9,
    Ipfix,
    SflowV5,
}

impl Protocol {
    /// Detects the protocol from the first bytes of the payload (never from the port).
    /// NetFlow/IPFIX start with a 16-bit version (5, 9, 10); sFlow with a 32-bit one (5).
    #[inline]
    pub fn detect(payload: &[u8]) -> Option<Protocol> {
        if payload.len() < 4 {
            return None;
        }
        match u16::from_be_bytes([payload[0], payload[1]]) {
            5 => Some(Protocol::NetflowV5),
            9 => Some(Protocol::NetflowV9),
            10 => Some(Protocol::Ipfix),
            0 if u16::from_be_bytes([payload[2], payload[3]]) == 5 => Some(Protocol::SflowV5),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::NetflowV5 => "netflow_v5",
            Protocol::NetflowV9 => "netflow_v9",
            Protocol::Ipfix => "ipfix",
            Protocol::SflowV5 => "sflow_v5",
        }
    }
}

/// The part of a datagram an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Header,
    Record,
    FlowSet,
    Template,
    OptionsTemplate,
    DataSet,
    Sample,
    FlowRecord,
    CounterRecord,
    PacketHeader,
}

impl Section {
    pub fn name(self) -> &'static str {
        match self {
            Section::Header => "header",
            Section::Record => "record",
            Section::FlowSet => "flowset",
            Section::Template => "template",
            Section::OptionsTemplate => "options_template",
            Section::DataSet => "data_set",
            Section::Sample => "sample",
            Section::FlowRecord => "flow_record",
            Section::CounterRecord => "counter_record",
            Section::PacketHeader => "packet_header",
        }
    }
}

/// Which configured limit a datagram hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    Exporters,
    TemplatesPerExporter,
    FieldsPerTemplate,
    TemplateBytes,
    RecordsPerDatagram,
    SamplesPerDatagram,
    AsPath,
}

impl LimitKind {
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::Exporters => "exporters",
            LimitKind::TemplatesPerExporter => "templates_per_exporter",
            LimitKind::FieldsPerTemplate => "fields_per_template",
            LimitKind::TemplateBytes => "template_bytes",
            LimitKind::RecordsPerDatagram => "records_per_datagram",
            LimitKind::SamplesPerDatagram => "samples_per_datagram",
            LimitKind::AsPath => "as_path",
        }
    }
}

/// Why a datagram (or one set of it) could not be decoded. `Copy`, no heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a NetFlow v5/v9, IPFIX or sFlow v5 payload.
    UnknownProtocol,
    /// A known protocol with a version this decoder does not handle (e.g. sFlow v4).
    BadVersion(u32),
    /// A read past the end of the datagram or of the enclosing set/record.
    Truncated {
        section: Section,
        offset: usize,
        need: usize,
        have: usize,
    },
    /// A length field that cannot be right (shorter than its header, not a multiple, ...).
    BadLength { section: Section, value: u32 },
    /// A count field that disagrees with the bytes present.
    BadCount { section: Section, value: u32 },
    /// A template that cannot be used (id < 256, zero-length record, ...).
    BadTemplate { section: Section, template_id: u16 },
    /// A reserved or unknown set id / sample format that cannot be skipped safely.
    BadSetId(u16),
    /// Data for a template this exporter never sent (or that was evicted).
    TemplateNotFound { template_id: u16 },
    /// A configured bound was hit; the excess is dropped.
    Limit(LimitKind),
}

impl DecodeError {
    /// Attaches the section to a cursor's short read.
    #[inline]
    pub fn short(section: Section, s: Short) -> DecodeError {
        DecodeError::Truncated {
            section,
            offset: s.offset,
            need: s.need,
            have: s.have,
        }
    }

    /// The metric label for this error (bounded set).
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::UnknownProtocol => "unknown_protocol",
            DecodeError::BadVersion(_) => "bad_version",
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::BadLength { .. } => "bad_length",
            DecodeError::BadCount { .. } => "bad_count",
            DecodeError::BadTemplate { .. } => "bad_template",
            DecodeError::BadSetId(_) => "bad_set_id",
            DecodeError::TemplateNotFound { .. } => "template_not_found",
            DecodeError::Limit(_) => "limit",
        }
    }

    /// Index into [`DecodeStats::errors`].
    pub fn index(&self) -> usize {
        match self {
            DecodeError::UnknownProtocol => 0,
            DecodeError::BadVersion(_) => 1,
            DecodeError::Truncated { .. } => 2,
            DecodeError::BadLength { .. } => 3,
            DecodeError::BadCount { .. } => 4,
            DecodeError::BadTemplate { .. } => 5,
            DecodeError::BadSetId(_) => 6,
            DecodeError::TemplateNotFound { .. } => 7,
            DecodeError::Limit(_) => 8,
        }
    }

    pub const REASONS: [&'static str; 9] = [
        "unknown_protocol",
        "bad_version",
        "truncated",
        "bad_length",
        "bad_count",
        "bad_template",
        "bad_set_id",
        "template_not_found",
        "limit",
    ];
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            DecodeError::UnknownProtocol => f.write_str("not a NetFlow/IPFIX/sFlow payload"),
            DecodeError::BadVersion(v) => write!(f, "unsupported version {v}"),
            DecodeError::Truncated {
                section,
                offset,
                need,
                have,
            } => write!(
                f,
                "{} truncated at offset {offset}: need {need} bytes, {have} left",
                section.name()
            ),
            DecodeError::BadLength { section, value } => {
                write!(f, "{} length {value} is invalid", section.name())
            }
            DecodeError::BadCount { section, value } => {
                write!(
                    f,
                    "{} count {value} disagrees with the data",
                    section.name()
                )
            }
            DecodeError::BadTemplate {
                section,
                template_id,
            } => write!(f, "invalid {} {template_id}", section.name()),
            DecodeError::BadSetId(id) => write!(f, "reserved set id {id}"),
            DecodeError::TemplateNotFound { template_id } => {
                write!(f, "no template {template_id} for this exporter")
            }
            DecodeError::Limit(k) => write!(f, "limit on {} reached", k.name()),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Bounds on everything a datagram can make a worker remember or loop over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_exporters: usize,
    pub max_templates_per_exporter: usize,
    pub max_fields_per_template: usize,
    /// Heap bytes of one worker's template state, including the allocator's slack: exporter
    /// table, each exporter's maps, each template's field list and compiled plan
    /// (`TemplateCache::template_bytes`). The accounted bytes are kept under 11/16 of it
    /// (`template::budget`), the rest being headroom for allocator pages left partly used by
    /// evictions; over that the least recently used exporters are evicted.
    pub max_template_bytes: usize,
    pub max_records_per_datagram: usize,
    pub max_samples_per_datagram: usize,
    pub max_as_path: usize,
    /// A template not refreshed (re-sent or used) for this long is dropped (0: never).
    pub template_idle_timeout_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_exporters: 10_000,
            max_templates_per_exporter: 1_024,
            max_fields_per_template: 512,
            max_template_bytes: 64 << 20,
            max_records_per_datagram: 4_096,
            max_samples_per_datagram: 1_024,
            max_as_path: 1_024,
            template_idle_timeout_s: 1_800,
        }
    }
}

/// Counters a worker keeps about what it decoded. Plain integers: one worker owns them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Datagrams decoded, by protocol (v5, v9, IPFIX, sFlow).
    pub datagrams: [u64; 4],
    /// Flows handed to the sink, by protocol.
    pub flows: [u64; 4],
    /// sFlow counter records handed to the sink.
    pub counter_records: u64,
    /// Errors by [`DecodeError::index`] (datagram-level and set-level).
    pub errors: [u64; 9],
    /// Data records dropped because their template was unknown.
    pub records_without_template: u64,
    /// Limit hits by kind (order of [`LimitKind`]).
    pub limits: [u64; 7],
    /// Templates learned (new or redefined), data and options.
    pub templates_learned: u64,
    /// Templates dropped after `Limits::template_idle_timeout_s` without use.
    pub templates_expired: u64,
    /// Options data records read (sampling etc.).
    pub options_records: u64,
    /// sFlow samples of an unknown enterprise/format, skipped by their length.
    pub sflow_unknown_samples: u64,
    /// sFlow flow/counter records of an unknown enterprise/format, skipped by their length.
    pub sflow_unknown_records: u64,
    /// sFlow samples dropped because one of their records was malformed (also counted by
    /// reason in `errors`); the rest of the datagram still decodes.
    pub sflow_samples_dropped: u64,
    /// What the last datagram held (reset by [`Decoder::decode`]): the per-exporter metrics
    /// read it once per datagram.
    pub last: DatagramSummary,
}

/// The template records of one datagram that [`DatagramSummary`] keeps (more are counted
/// in `templates_over`).
pub const SUMMARY_TEMPLATES: usize = 8;

/// One template record seen in a datagram: (version, domain, template id, options).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TemplateSeen {
    pub version: u8,
    pub domain: u32,
    pub id: u16,
    pub options: bool,
}

/// What one datagram held, beyond its flows: the numbers GoFlow's per-router metrics are made
/// of (flowsets and their records by kind, template records, sFlow samples and their records
/// by kind, the export time) and the errors it caused. Plain integers, no heap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatagramSummary {
    /// Export time from the NetFlow/IPFIX header, seconds since the epoch (0: none).
    pub export_secs: u32,
    /// NetFlow v9/IPFIX sets by kind, in [`DatagramSummary::SET_KINDS`] order.
    pub sets: [u32; 4],
    /// Records in those sets (template records, options data records, data records).
    pub set_records: [u32; 4],
    /// Template records (data and options) the datagram carried, first ones.
    pub templates: [TemplateSeen; SUMMARY_TEMPLATES],
    pub n_templates: u8,
    /// sFlow agent address (`Addr::NONE` for other protocols).
    pub agent: Addr,
    /// sFlow samples by kind, in [`DatagramSummary::SAMPLE_KINDS`] order.
    pub samples: [u32; 4],
    /// Records in those samples.
    pub sample_records: [u32; 4],
    /// Errors this datagram caused, by [`DecodeError::index`] (datagram and set level).
    pub errors: [u32; 9],
    /// The last of them, for the log.
    pub last_error: Option<DecodeError>,
}

impl DatagramSummary {
    /// GoFlow's flowset `type` label values.
    pub const SET_KINDS: [&'static str; 4] = [
        "TemplateFlowSet",
        "OptionsTemplateFlowSet",
        "OptionsDataFlowSet",
        "DataFlowSet",
    ];
    pub const SET_TEMPLATE: usize = 0;
    pub const SET_OPTIONS_TEMPLATE: usize = 1;
    pub const SET_OPTIONS_DATA: usize = 2;
    pub const SET_DATA: usize = 3;
    /// GoFlow's sFlow sample `type` label values.
    pub const SAMPLE_KINDS: [&'static str; 4] = [
        "FlowSample",
        "CounterSample",
        "ExpandedFlowSample",
        "ExpandedCounterSample",
    ];

    /// Notes one template record.
    #[inline]
    pub fn template(&mut self, t: TemplateSeen) {
        if let Some(slot) = self.templates.get_mut(self.n_templates as usize) {
            *slot = t;
            self.n_templates += 1;
        }
    }

    /// The template records noted.
    pub fn templates(&self) -> &[TemplateSeen] {
        &self.templates[..self.n_templates as usize]
    }

    pub fn error_total(&self) -> u32 {
        self.errors.iter().sum()
    }
}

impl DecodeStats {
    #[inline]
    pub fn count(&mut self, e: DecodeError) {
        self.errors[e.index()] += 1;
        self.last.errors[e.index()] += 1;
        self.last.last_error = Some(e);
        if let DecodeError::Limit(k) = e {
            self.limits[k as usize] += 1;
        }
    }

    pub fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }
}

pub(crate) fn proto_index(p: Protocol) -> usize {
    match p {
        Protocol::NetflowV5 => 0,
        Protocol::NetflowV9 => 1,
        Protocol::Ipfix => 2,
        Protocol::SflowV5 => 3,
    }
}

/// Where decoded flows go. `flow` is called once per flow with a record that is only valid
/// for the call; `counters` once per sFlow counter record (ignored by default).
pub trait FlowSink {
    fn flow(&mut self, rec: &FlowRecord);
    fn counters(&mut self, _rec: &sflow::CounterRecord) {}
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
}

impl Decoder {
    pub fn new(limits: Limits) -> Self {
        Decoder {
            limits,
            templates: TemplateCache::default(),
            stats: DecodeStats::default(),
        }
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
        match res {
            Ok(()) => {
                self.stats.datagrams[proto_index(proto)] += 1;
                Ok(proto)
            }
            Err(e) => {
                self.stats.count(e);
                Err(e)
            }
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
}
