//! Per-exporter counters: one small table per worker, updated once per datagram by the
//! worker that owns it (one hash lookup, usually skipped by a last-exporter cache), copied
//! into the worker's snapshot about once a second and merged across workers on scrape.
//!
//! The table holds at most `max` exporters; datagrams from any further one are counted in one
//! row labelled `other`, so the label cardinality stays bounded whatever the network sends.

use crate::decode::error::DecodeReason;
use crate::decode::stats::{SampleKind, SetKind};
use crate::decode::template::FxHasher;
use crate::decode::{DatagramSummary, DecodeError, Protocol, TemplateSeen};
use crate::labels::label_enum;
use crate::telemetry::hist::LogHist;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::net::IpAddr;

/// GoFlow's traffic `type` / decoder `name` values, by [`kind_index`].
pub const KINDS: [&str; GoflowKind::COUNT] = GoflowKind::LABELS;
/// NetFlow versions of `flow_process_nf_*`, by `nf_index`.
pub const NF_VERSIONS: [&str; 3] = ["5", "9", "10"];
/// GoFlow's `flow_process_nf_errors_count` `error` values.
pub const NF_ERRORS: [&str; NfError::COUNT] = NfError::LABELS;
/// GoFlow's `flow_process_sf_errors_count` `error` values.
pub const SF_ERRORS: [&str; SfError::COUNT] = SfError::LABELS;

label_enum! {
    /// GoFlow's kinds of decoder: traffic `type` / decoder `name` label values.
    pub enum GoflowKind {
        NetFlow = "NetFlow",
        NetFlowV5 = "NetFlowV5",
        Sflow = "sFlow",
    }
}

label_enum! {
    /// GoFlow's `flow_process_nf_errors_count` `error` values.
    pub enum NfError {
        Version = "error_version",
        FlowId = "error_flow_id",
        TemplateNotFound = "template_not_found",
        Decoding = "error_decoding",
    }
}

label_enum! {
    /// GoFlow's `flow_process_sf_errors_count` `error` values.
    pub enum SfError {
        Version = "error_version",
        IpVersion = "error_ip_version",
        DataFormat = "error_data_format",
        Decoding = "error_decoding",
    }
}

/// The GoFlow NetFlow error a decode error is counted as.
fn nf_error(r: DecodeReason) -> NfError {
    match r {
        DecodeReason::UnknownProtocol | DecodeReason::BadVersion => NfError::Version,
        DecodeReason::BadSetId => NfError::FlowId,
        DecodeReason::TemplateNotFound => NfError::TemplateNotFound,
        DecodeReason::Truncated
        | DecodeReason::BadLength
        | DecodeReason::BadCount
        | DecodeReason::BadTemplate
        | DecodeReason::Limit => NfError::Decoding,
    }
}

/// The GoFlow sFlow error a decode error is counted as (a bad address type is the only
/// `bad_set_id` sFlow reports).
fn sf_error(r: DecodeReason) -> SfError {
    match r {
        DecodeReason::UnknownProtocol | DecodeReason::BadVersion => SfError::Version,
        DecodeReason::BadSetId => SfError::IpVersion,
        DecodeReason::Truncated
        | DecodeReason::BadLength
        | DecodeReason::BadCount
        | DecodeReason::BadTemplate
        | DecodeReason::TemplateNotFound
        | DecodeReason::Limit => SfError::Decoding,
    }
}
/// Templates counted per exporter (distinct version/domain/id/kind); more are not labelled.
pub const MAX_TEMPLATES_PER_ROW: usize = 256;
/// sFlow agents counted per exporter; more fold into the last one kept.
pub const MAX_AGENTS_PER_ROW: usize = 8;

/// GoFlow's kind of a protocol: `NetFlow` (v9, IPFIX), `NetFlowV5`, `sFlow`.
#[inline]
pub fn kind_index(p: Protocol) -> usize {
    match p {
        Protocol::NetflowV9 | Protocol::Ipfix => GoflowKind::NetFlow,
        Protocol::NetflowV5 => GoflowKind::NetFlowV5,
        Protocol::SflowV5 => GoflowKind::Sflow,
    }
    .index()
}

#[inline]
fn nf_index(p: Protocol) -> Option<usize> {
    match p {
        Protocol::NetflowV5 => Some(0),
        Protocol::NetflowV9 => Some(1),
        Protocol::Ipfix => Some(2),
        Protocol::SflowV5 => None,
    }
}

/// Datagrams, bytes and sizes from one exporter of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub packets: u64,
    pub bytes: u64,
    /// Datagram sizes (bytes).
    pub sizes: LogHist<18>,
}

impl Traffic {
    fn merge(&mut self, o: &Traffic) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.sizes.merge(&o.sizes);
    }
}

/// sFlow counts of one agent behind an exporter address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentRow {
    pub agent: Option<IpAddr>,
    pub datagrams: u64,
    pub samples: [u64; SampleKind::COUNT],
    pub sample_records: [u64; SampleKind::COUNT],
}

/// Everything counted about one exporter (or, with `ip: None`, about every exporter beyond
/// the limit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExporterRow {
    pub ip: Option<IpAddr>,
    /// Source port of the last datagram (GoFlow's `remote_port`; one series per exporter).
    pub port: u16,
    /// By [`KINDS`].
    pub traffic: [Traffic; GoflowKind::COUNT],
    /// Flows decoded.
    pub flows: u64,
    /// Decode errors (datagram and set level), by `DecodeError::index`.
    pub errors: [u64; DecodeReason::COUNT],
    /// NetFlow datagrams decoded, by [`NF_VERSIONS`].
    pub nf_count: [u64; 3],
    pub nf_errors: [u64; NfError::COUNT],
    pub sf_errors: [u64; SfError::COUNT],
    /// v9 and IPFIX sets and their records by `DatagramSummary::SET_KINDS`.
    pub flowsets: [[u64; SetKind::COUNT]; 2],
    pub flowset_records: [[u64; SetKind::COUNT]; 2],
    /// Receive time minus export time, ms, by [`NF_VERSIONS`].
    pub delay_ms: [LogHist<34>; 3],
    /// Template records received, by (version, domain, id, options).
    pub templates: Vec<(TemplateSeen, u64)>,
    pub agents: Vec<AgentRow>,
    /// Sequence gaps and the units missing in them, by protocol (`decode::seq`).
    pub seq_gaps: [u64; Protocol::COUNT],
    pub seq_missing: [u64; Protocol::COUNT],
}

impl ExporterRow {
    fn new(ip: Option<IpAddr>) -> ExporterRow {
        ExporterRow {
            ip,
            ..ExporterRow::default()
        }
    }

    /// Adds another row's counts (the same exporter seen by another worker).
    pub fn merge(&mut self, o: &ExporterRow) {
        self.port = o.port;
        for (a, b) in self.traffic.iter_mut().zip(o.traffic.iter()) {
            a.merge(b);
        }
        self.flows += o.flows;
        add(&mut self.errors, &o.errors);
        add(&mut self.nf_count, &o.nf_count);
        add(&mut self.nf_errors, &o.nf_errors);
        add(&mut self.sf_errors, &o.sf_errors);
        for v in 0..2 {
            add(&mut self.flowsets[v], &o.flowsets[v]);
            add(&mut self.flowset_records[v], &o.flowset_records[v]);
        }
        for (a, b) in self.delay_ms.iter_mut().zip(o.delay_ms.iter()) {
            a.merge(b);
        }
        for &(t, n) in &o.templates {
            self.template(t, n);
        }
        add(&mut self.seq_gaps, &o.seq_gaps);
        add(&mut self.seq_missing, &o.seq_missing);
        for a in &o.agents {
            let r = self.agent(a.agent);
            r.datagrams += a.datagrams;
            add(&mut r.samples, &a.samples);
            add(&mut r.sample_records, &a.sample_records);
        }
    }

    fn template(&mut self, t: TemplateSeen, n: u64) {
        if let Some(e) = self.templates.iter_mut().find(|(k, _)| *k == t) {
            e.1 += n;
        } else if self.templates.len() < MAX_TEMPLATES_PER_ROW {
            self.templates.push((t, n));
        }
    }

    fn agent(&mut self, agent: Option<IpAddr>) -> &mut AgentRow {
        let i = match self.agents.iter().position(|a| a.agent == agent) {
            Some(i) => i,
            None if self.agents.len() < MAX_AGENTS_PER_ROW => {
                self.agents.push(AgentRow {
                    agent,
                    ..AgentRow::default()
                });
                self.agents.len() - 1
            }
            None => self.agents.len() - 1,
        };
        &mut self.agents[i]
    }

    /// Counts one datagram. `proto` is what was detected (None: not a flow protocol);
    /// `fallback_kind` is the listener's kind for undetectable datagrams.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn datagram(
        &mut self,
        port: u16,
        len: usize,
        proto: Option<Protocol>,
        ok: bool,
        fallback_kind: usize,
        sum: &DatagramSummary,
        flows: u64,
        recv_ms: u64,
    ) {
        self.port = port;
        let kind = proto.map_or(fallback_kind, kind_index);
        let t = &mut self.traffic[kind];
        t.packets += 1;
        t.bytes += len as u64;
        t.sizes.record(len as u64);
        self.flows += flows;
        if let (Some(p), n @ 1..) = (proto, sum.seq_missing) {
            self.seq_gaps[p.index()] += 1;
            self.seq_missing[p.index()] += u64::from(n);
        }
        let nf = proto.and_then(nf_index);
        if let Some(v) = nf {
            if ok {
                self.nf_count[v] += 1;
            }
            if sum.export_secs != 0 {
                let export_ms = u64::from(sum.export_secs) * 1000;
                self.delay_ms[v].record(recv_ms.saturating_sub(export_ms));
            }
            if v > 0 {
                add32(&mut self.flowsets[v - 1], &sum.sets);
                add32(&mut self.flowset_records[v - 1], &sum.set_records);
            }
            for &t in sum.templates() {
                self.template(t, 1);
            }
        } else if proto == Some(Protocol::SflowV5) {
            let agent = sum.agent.to_ip();
            let a = self.agent(agent);
            if ok {
                a.datagrams += 1;
            }
            add32(&mut a.samples, &sum.samples);
            add32(&mut a.sample_records, &sum.sample_records);
        }
        if sum.last_error.is_some() {
            let sflow = proto.map_or(kind == 2, |p| p == Protocol::SflowV5);
            for (i, &n) in sum.errors.iter().enumerate() {
                if n == 0 {
                    continue;
                }
                self.errors[i] += u64::from(n);
                if sflow {
                    self.sf_errors[sf_error(DecodeReason::ALL[i]).index()] += u64::from(n);
                } else {
                    self.nf_errors[nf_error(DecodeReason::ALL[i]).index()] += u64::from(n);
                }
            }
        }
    }
}

fn add<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
    for (x, y) in a.iter_mut().zip(b.iter()) {
        *x += y;
    }
}

fn add32<const N: usize>(a: &mut [u64; N], b: &[u32; N]) {
    for (x, y) in a.iter_mut().zip(b.iter()) {
        *x += u64::from(*y);
    }
}

type Fx = BuildHasherDefault<FxHasher>;

/// One worker's exporters: at most `max` rows plus the `other` row.
#[derive(Debug)]
pub struct ExporterTable {
    index: HashMap<IpAddr, u32, Fx>,
    rows: Vec<ExporterRow>,
    other: Option<usize>,
    max: usize,
    last: Option<(IpAddr, u32)>,
}

impl ExporterTable {
    pub fn new(max: usize) -> ExporterTable {
        ExporterTable {
            index: HashMap::default(),
            rows: Vec::new(),
            other: None,
            max,
            last: None,
        }
    }

    /// The row of `ip` (created if there is room, else the `other` row).
    #[inline]
    pub fn row(&mut self, ip: IpAddr) -> &mut ExporterRow {
        if let Some((last, i)) = self.last {
            if last == ip {
                return &mut self.rows[i as usize];
            }
        }
        let i = match self.index.get(&ip) {
            Some(&i) => i as usize,
            None if self.index.len() < self.max => {
                self.rows.push(ExporterRow::new(Some(ip)));
                let i = self.rows.len() - 1;
                self.index.insert(ip, i as u32);
                i
            }
            None => match self.other {
                Some(o) => o,
                None => {
                    self.rows.push(ExporterRow::new(None));
                    self.other = Some(self.rows.len() - 1);
                    self.rows.len() - 1
                }
            },
        };
        self.last = Some((ip, i as u32));
        &mut self.rows[i]
    }

    pub fn rows(&self) -> &[ExporterRow] {
        &self.rows
    }
}

/// Counts the errors of a datagram that could not be decoded at all (for callers without a
/// summary).
pub fn error_summary(e: DecodeError) -> DatagramSummary {
    let mut s = DatagramSummary::default();
    s.errors[e.index()] = 1;
    s.last_error = Some(e);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn table_folds_beyond_the_limit() {
        let mut t = ExporterTable::new(2);
        let s = DatagramSummary::default();
        for a in ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.1"] {
            t.row(ip(a))
                .datagram(9, 100, Some(Protocol::NetflowV5), true, 0, &s, 30, 0);
        }
        let rows = t.rows();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].ip, Some(ip("10.0.0.1")));
        assert_eq!(rows[0].nf_count[0], 2);
        assert_eq!(rows[2].ip, None);
        assert_eq!(rows[2].traffic[1].packets, 2);
        assert_eq!(rows[2].flows, 60);
    }

    #[test]
    fn sequence_gaps_by_protocol() {
        let mut r = ExporterRow::new(Some(ip("10.0.0.1")));
        let gap = DatagramSummary {
            seq_missing: 30,
            ..DatagramSummary::default()
        };
        let v5 = Some(Protocol::NetflowV5);
        r.datagram(9, 100, v5, true, 1, &gap, 30, 0);
        r.datagram(9, 100, v5, true, 1, &DatagramSummary::default(), 30, 0);
        r.datagram(9, 100, v5, true, 1, &gap, 30, 0);
        assert_eq!((r.seq_gaps[0], r.seq_missing[0]), (2, 60));
        let mut m = r.clone();
        m.merge(&r);
        assert_eq!((m.seq_gaps[0], m.seq_missing[0]), (4, 120));
    }

    #[test]
    fn goflow_counts_from_a_summary() {
        let mut s = DatagramSummary {
            export_secs: 1_000,
            sets: [1, 1, 1, 2],
            set_records: [2, 1, 1, 30],
            ..DatagramSummary::default()
        };
        s.template(TemplateSeen {
            version: 9,
            domain: 1,
            id: 256,
            options: false,
        });
        s.errors[7] = 1;
        s.last_error = Some(DecodeError::TemplateNotFound { template_id: 300 });
        let mut r = ExporterRow::new(Some(ip("10.0.0.1")));
        r.datagram(
            2055,
            1400,
            Some(Protocol::NetflowV9),
            true,
            0,
            &s,
            30,
            1_000_250,
        );
        r.datagram(
            2055,
            1400,
            Some(Protocol::NetflowV9),
            true,
            0,
            &s,
            30,
            1_000_250,
        );
        assert_eq!(r.nf_count, [0, 2, 0]);
        assert_eq!(r.flowsets[0], [2, 2, 2, 4]);
        assert_eq!(r.flowset_records[0][3], 60);
        assert_eq!(r.nf_errors[2], 2);
        assert_eq!(r.templates.len(), 1);
        assert_eq!(r.templates[0].1, 2);
        assert_eq!(r.delay_ms[1].count(), 2);
        assert_eq!(r.traffic[0].bytes, 2800);
        // sFlow: per agent; an undecodable datagram on the sFlow listener counts as sFlow
        let sf = DatagramSummary {
            samples: [3, 1, 0, 0],
            sample_records: [6, 2, 0, 0],
            ..DatagramSummary::default()
        };
        r.datagram(6343, 500, Some(Protocol::SflowV5), true, 2, &sf, 3, 0);
        let bad = error_summary(DecodeError::UnknownProtocol);
        r.datagram(6343, 7, None, false, 2, &bad, 0, 0);
        assert_eq!(r.agents.len(), 1);
        assert_eq!(r.agents[0].samples[0], 3);
        assert_eq!(r.sf_errors[0], 1);
        assert_eq!(r.traffic[2].packets, 2);
        let mut m = r.clone();
        m.merge(&r);
        assert_eq!(m.agents[0].samples[0], 6);
        assert_eq!(m.templates[0].1, 4);
        assert_eq!(m.flows, 126);
    }
}
