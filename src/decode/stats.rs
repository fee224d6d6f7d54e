//! What a worker's decoder counts ([`DecodeStats`]) and what the last datagram held
//! ([`DatagramSummary`], read once per datagram by the per-exporter metrics).

use super::error::{DecodeError, DecodeReason, LimitKind, Protocol};
use super::seq::SeqNote;
use crate::flow::Addr;
use crate::labels::label_enum;

label_enum! {
    /// NetFlow v9 / IPFIX set kinds: GoFlow's flowset `type` label values.
    pub enum SetKind {
        Template = "TemplateFlowSet",
        OptionsTemplate = "OptionsTemplateFlowSet",
        OptionsData = "OptionsDataFlowSet",
        Data = "DataFlowSet",
    }
}

label_enum! {
    /// sFlow sample kinds: GoFlow's sample `type` label values.
    pub enum SampleKind {
        Flow = "FlowSample",
        Counter = "CounterSample",
        ExpandedFlow = "ExpandedFlowSample",
        ExpandedCounter = "ExpandedCounterSample",
    }
}

/// Counters a worker keeps about what it decoded. Plain integers: one worker owns them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Datagrams decoded, by protocol (v5, v9, IPFIX, sFlow).
    pub datagrams: [u64; Protocol::COUNT],
    /// Flows handed to the sink, by protocol.
    pub flows: [u64; Protocol::COUNT],
    /// sFlow counter records handed to the sink.
    pub counter_records: u64,
    /// Errors by [`DecodeError::index`] (datagram-level and set-level).
    pub errors: [u64; DecodeReason::COUNT],
    /// Data records dropped because their template was unknown.
    pub records_without_template: u64,
    /// Limit hits by kind (order of [`LimitKind`]).
    pub limits: [u64; LimitKind::COUNT],
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
    /// NetFlow v9 / IPFIX packet sections not decoded because their sectionOffset (409) or
    /// layer2packetSectionOffset (102) is not 0: the bytes do not start at the frame's
    /// first byte, so nothing in them can be located. The record is still a flow.
    pub packet_sections_skipped: u64,
    /// What the last datagram held (reset by [`Decoder::decode`](super::Decoder::decode)): the per-exporter metrics
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
    pub sets: [u32; SetKind::COUNT],
    /// Records in those sets (template records, options data records, data records).
    pub set_records: [u32; SetKind::COUNT],
    /// Template records (data and options) the datagram carried, first ones.
    pub templates: [TemplateSeen; SUMMARY_TEMPLATES],
    pub n_templates: u8,
    /// sFlow agent address (`Addr::NONE` for other protocols).
    pub agent: Addr,
    /// sFlow samples by kind, in [`DatagramSummary::SAMPLE_KINDS`] order.
    pub samples: [u32; SampleKind::COUNT],
    /// Records in those samples.
    pub sample_records: [u32; SampleKind::COUNT],
    /// Errors this datagram caused, by [`DecodeError::index`] (datagram and set level).
    pub errors: [u32; DecodeReason::COUNT],
    /// The last of them, for the log.
    pub last_error: Option<DecodeError>,
    /// The datagram's place in its sequence stream (None: no header read).
    pub seq: Option<SeqNote>,
    /// Units missing before it in its stream (0: none, or not known).
    pub seq_missing: u32,
}

impl DatagramSummary {
    /// GoFlow's flowset `type` label values.
    pub const SET_KINDS: [&'static str; SetKind::COUNT] = SetKind::LABELS;
    pub const SET_TEMPLATE: usize = SetKind::Template.index();
    pub const SET_OPTIONS_TEMPLATE: usize = SetKind::OptionsTemplate.index();
    pub const SET_OPTIONS_DATA: usize = SetKind::OptionsData.index();
    pub const SET_DATA: usize = SetKind::Data.index();
    /// GoFlow's sFlow sample `type` label values.
    pub const SAMPLE_KINDS: [&'static str; SampleKind::COUNT] = SampleKind::LABELS;

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
