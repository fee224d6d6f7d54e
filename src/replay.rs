//! `coreflow replay FILE...`: decode the flow datagrams of pcap/pcapng captures and write
//! every flow to stdout, as the collector would publish it.

use crate::decode::{sflow::CounterRecord, DecodeError, Decoder, FlowSink, Limits, Protocol};
use crate::flow::FlowRecord;
use crate::schema::Schema;
use std::io::Write;

/// Output encoding for flows written to a file or stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    #[default]
    Json,
    /// varint-length-delimited protobuf.
    Pb,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "json" => Some(Format::Json),
            "pb" | "bin" | "protobuf" => Some(Format::Pb),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    pub format: Format,
    pub schema: Schema,
    pub counters: bool,
    pub files: Vec<std::path::PathBuf>,
}

/// Summary of one replay run, printed on stderr.
#[derive(Clone, Debug, Default)]
pub struct ReplaySummary {
    pub datagrams: u64,
    pub skipped_frames: u64,
    pub flows: u64,
    pub counter_records: u64,
    pub errors: Vec<(&'static str, u64)>,
}

/// Encodes flows of one schema/format into a buffer.
pub struct Encoder {
    pub format: Format,
    pub schema: Schema,
    pub counters: bool,
    pub buf: Vec<u8>,
    pub flows: u64,
    pub counter_records: u64,
}

impl Encoder {
    pub fn new(format: Format, schema: Schema, counters: bool) -> Self {
        Encoder {
            format,
            schema,
            counters,
            buf: Vec::with_capacity(1 << 16),
            flows: 0,
            counter_records: 0,
        }
    }
}

impl FlowSink for Encoder {
    #[inline]
    fn flow(&mut self, rec: &FlowRecord) {
        self.flows += 1;
        match self.format {
            Format::Json => {
                self.schema.encode_json(rec, &mut self.buf);
                self.buf.push(b'\n');
            }
            Format::Pb => self.schema.encode_pb_delimited(rec, &mut self.buf),
        }
    }

    fn counters(&mut self, rec: &CounterRecord) {
        if self.counters {
            self.counter_records += 1;
            crate::decode::sflow::encode_counters(rec, self.format, &mut self.buf);
        }
    }
}

/// Decodes every UDP datagram of `data` (a pcap/pcapng file) in order with one decoder and
/// calls `sink` per flow. Returns the decoder (its stats) and the pcap reader's stats.
pub fn decode_capture<S: FlowSink>(
    data: &[u8],
    dec: &mut Decoder,
    sink: &mut S,
) -> Result<crate::pcap::PcapStats, crate::pcap::PcapError> {
    let (dgrams, st) = crate::pcap::read_udp(data)?;
    for d in &dgrams {
        let _ = dec.decode(d.src, d.ts_ns, &d.payload, sink);
    }
    Ok(st)
}

pub fn run(opts: &ReplayOptions) -> anyhow::Result<ReplaySummary> {
    let mut dec = Decoder::new(Limits::default());
    let mut enc = Encoder::new(opts.format, opts.schema, opts.counters);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut summary = ReplaySummary::default();
    for path in &opts.files {
        let data = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let (dgrams, st) =
            crate::pcap::read_udp(&data).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        summary.skipped_frames += st.skipped;
        for d in &dgrams {
            summary.datagrams += 1;
            // protocol detection is by content; datagrams that are not flow exports are
            // counted under unknown_protocol like any other undecodable payload
            let _: Result<Protocol, DecodeError> = dec.decode(d.src, d.ts_ns, &d.payload, &mut enc);
            if enc.buf.len() > 1 << 16 {
                out.write_all(&enc.buf)?;
                enc.buf.clear();
            }
        }
    }
    out.write_all(&enc.buf)?;
    out.flush()?;
    summary.flows = enc.flows;
    summary.counter_records = enc.counter_records;
    summary.errors = DecodeError::REASONS
        .iter()
        .zip(dec.stats.errors.iter())
        .filter(|(_, &n)| n > 0)
        .map(|(r, &n)| (*r, n))
        .collect();
    Ok(summary)
}
