//! The decoders' small vocabularies, shared by every layer above them: the protocols a
//! payload can carry, where in a datagram an error was found, the limits that bound what a
//! datagram can make a worker remember, and the `Copy` error values that map to metric
//! labels. A leaf: it imports nothing of the crate but the cursor's short-read error.

use crate::cursor::Short;
use crate::labels::label_enum;

label_enum! {
    /// The protocols a UDP payload can carry; the label is the `protocol` metric label.
    pub enum Protocol {
        NetflowV5 = "netflow_v5",
        NetflowV9 = "netflow_v9",
        Ipfix = "ipfix",
        SflowV5 = "sflow_v5",
    }
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
}

label_enum! {
    /// The part of a datagram an error is about (named in log lines).
    pub enum Section {
        Header = "header",
        Record = "record",
        FlowSet = "flowset",
        Template = "template",
        OptionsTemplate = "options_template",
        DataSet = "data_set",
        Sample = "sample",
        FlowRecord = "flow_record",
        CounterRecord = "counter_record",
        PacketHeader = "packet_header",
    }
}

label_enum! {
    /// Which configured limit a datagram hit: the `limit` metric label.
    pub enum LimitKind {
        Exporters = "exporters",
        TemplatesPerExporter = "templates_per_exporter",
        FieldsPerTemplate = "fields_per_template",
        TemplateBytes = "template_bytes",
        RecordsPerDatagram = "records_per_datagram",
        SamplesPerDatagram = "samples_per_datagram",
        AsPath = "as_path",
    }
}

label_enum! {
    /// The kind of a [`DecodeError`]: the `reason` metric label, and the index of the
    /// per-reason counters.
    pub enum DecodeReason {
        UnknownProtocol = "unknown_protocol",
        BadVersion = "bad_version",
        Truncated = "truncated",
        BadLength = "bad_length",
        BadCount = "bad_count",
        BadTemplate = "bad_template",
        BadSetId = "bad_set_id",
        TemplateNotFound = "template_not_found",
        Limit = "limit",
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

    /// The kind of this error (bounded set).
    #[inline]
    pub fn kind(&self) -> DecodeReason {
        match self {
            DecodeError::UnknownProtocol => DecodeReason::UnknownProtocol,
            DecodeError::BadVersion(_) => DecodeReason::BadVersion,
            DecodeError::Truncated { .. } => DecodeReason::Truncated,
            DecodeError::BadLength { .. } => DecodeReason::BadLength,
            DecodeError::BadCount { .. } => DecodeReason::BadCount,
            DecodeError::BadTemplate { .. } => DecodeReason::BadTemplate,
            DecodeError::BadSetId(_) => DecodeReason::BadSetId,
            DecodeError::TemplateNotFound { .. } => DecodeReason::TemplateNotFound,
            DecodeError::Limit(_) => DecodeReason::Limit,
        }
    }

    /// The metric label for this error.
    #[inline]
    pub fn reason(&self) -> &'static str {
        self.kind().label()
    }

    /// Index into the per-reason counters ([`DecodeStats::errors`](super::DecodeStats)).
    #[inline]
    pub fn index(&self) -> usize {
        self.kind().index()
    }

    /// Every reason label, by [`DecodeError::index`].
    pub const REASONS: [&'static str; DecodeReason::COUNT] = DecodeReason::LABELS;
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
                section.label()
            ),
            DecodeError::BadLength { section, value } => {
                write!(f, "{} length {value} is invalid", section.label())
            }
            DecodeError::BadCount { section, value } => {
                write!(
                    f,
                    "{} count {value} disagrees with the data",
                    section.label()
                )
            }
            DecodeError::BadTemplate {
                section,
                template_id,
            } => write!(f, "invalid {} {template_id}", section.label()),
            DecodeError::BadSetId(id) => write!(f, "reserved set id {id}"),
            DecodeError::TemplateNotFound { template_id } => {
                write!(f, "no template {template_id} for this exporter")
            }
            DecodeError::Limit(k) => write!(f, "limit on {} reached", k.label()),
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
