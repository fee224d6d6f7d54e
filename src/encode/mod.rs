//! Every encoder of the data path: a decoded flow (or sFlow counter record) becomes bytes
//! here and nowhere else. [`schema`] writes each wire layout (GoFlow v2/v3, goflow2 protobuf
//! and JSON), [`batch`] lays messages out for a sink, [`key`] writes Kafka keys,
//! [`counters`] encodes sFlow counter records, and [`Encoder`] is the stream form `coreflow
//! replay` writes.

pub mod batch;
pub mod counters;
pub mod extras;
pub mod key;
pub mod schema;

use crate::decode::sflow::CounterRecord;
use crate::decode::FlowSink;
use crate::flow::FlowRecord;
use schema::Schema;

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

/// Encodes flows of one schema/format into a buffer.
pub struct Encoder {
    pub format: Format,
    pub schema: Schema,
    pub counters: bool,
    /// Renormalization (and the instance field) as `coreflow replay --config` sets them.
    pub extras: extras::Extras,
    pub buf: Vec<u8>,
    pub flows: u64,
    pub counter_records: u64,
    /// Flows whose renormalized counters saturated.
    pub saturated: u64,
}

impl Encoder {
    pub fn new(format: Format, schema: Schema, counters: bool) -> Self {
        Encoder {
            format,
            schema,
            counters,
            extras: extras::Extras::default(),
            buf: Vec::with_capacity(1 << 16),
            flows: 0,
            counter_records: 0,
            saturated: 0,
        }
    }
}

impl FlowSink for Encoder {
    #[inline]
    fn flow(&mut self, rec: &FlowRecord) {
        self.flows += 1;
        if self.extras.active() {
            let sat = extras::encode(
                self.extras,
                self.format,
                true,
                self.schema,
                rec,
                &mut self.buf,
            );
            self.saturated += u64::from(sat);
            return;
        }
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
            crate::encode::counters::encode_counters(rec, self.format, &mut self.buf);
        }
    }
}
