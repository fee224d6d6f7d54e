//! Output schemas: one `FlowRecord` written as each wire layout, in protobuf and as JSON.
//!
//! Each schema is declared once (field number, JSON key, kind, value) in `schema!`, which
//! generates both a protobuf encoder and a JSON writer from the same list, so the two can
//! never disagree. The encoders write straight into a caller's buffer: no intermediate
//! message struct, no allocation once the buffer has grown. The prost-generated types in
//! `crate::pb` describe the same layouts and are what the tests decode the output with.
//!
//! This file holds [`Schema`] and its public entry points; the parts below it are layered,
//! each using only the ones listed before it (and the `Schema` enum of this file):
//! - `writer`: the protobuf byte writer (`PbWriter`, varints, field keys) and the per-thread
//!   prefix cache and scratch array;
//! - `map`: values and guards the layouts share (type enums, MPLS positions, group tests);
//! - `pb` and `json`: one function per field kind, for protobuf and for JSON;
//! - `layouts`: the `schema!` lists of GoFlow v2, GoFlow v3 and goflow2, each expanding to
//!   a protobuf encoder (through `pb`) and, for the GoFlow layouts, a JSON writer (through
//!   `json`);
//! - `g2json`: goflow2's JSON, which is not its protobuf list in another form (every field,
//!   in goflow2's order, with goflow2's value formats).

mod g2json;
mod json;
mod layouts;
mod map;
mod pb;
mod writer;
pub(super) use writer::put_varint;

pub use writer::{PrefixCache, MAX_MESSAGE, PB_ROOM};

use crate::flow::{Flow, FlowRecord};
use g2json::goflow2_json;
use layouts::{goflow2_pb, goflow_v2_json, goflow_v2_pb, goflow_v3_json, goflow_v3_pb};
use writer::{append_pieces, with_scratch, Prefix};

/// The selectable output layouts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schema {
    /// GoFlow v2.1.0 `flowprotob.FlowMessage` (+ coreflow extensions >= 42).
    #[default]
    GoflowV2,
    /// cloudflare/goflow v3 final layout.
    GoflowV3,
    /// goflow2 `flowpb.FlowMessage` (nanosecond times).
    Goflow2,
}

impl Schema {
    pub const NAMES: [&'static str; 3] = ["goflow-v2", "goflow-v3", "goflow2"];

    pub fn parse(s: &str) -> Option<Schema> {
        match s {
            "goflow-v2" => Some(Schema::GoflowV2),
            "goflow-v3" => Some(Schema::GoflowV3),
            "goflow2" => Some(Schema::Goflow2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Schema::GoflowV2 => "goflow-v2",
            Schema::GoflowV3 => "goflow-v3",
            Schema::Goflow2 => "goflow2",
        }
    }

    /// Appends the record as one protobuf message (no length prefix).
    #[inline]
    pub fn encode_pb(self, r: &FlowRecord, buf: &mut Vec<u8>) {
        with_scratch(|b, prefix| {
            let n = self.encode_pb_at(r, b, prefix);
            append_pieces(b, n, buf);
        })
    }

    /// Appends the record as a varint length prefix plus the message.
    #[inline]
    pub fn encode_pb_delimited(self, r: &FlowRecord, buf: &mut Vec<u8>) {
        with_scratch(|b, prefix| {
            let n = self.encode_pb_at(r, b, prefix);
            // MAX_MESSAGE < 2^14: the length is a 1- or 2-byte varint
            if n < 0x80 {
                buf.push(n as u8);
            } else {
                buf.extend_from_slice(&[(n as u8) | 0x80, (n >> 7) as u8]);
            }
            append_pieces(b, n, buf);
        })
    }

    /// Writes the record as one protobuf message at the start of `out` and returns its
    /// length (at most [`MAX_MESSAGE`]); the bytes of `out` past it are scratch. What a batch
    /// buffer is encoded into directly, without a copy. `cache` holds the leading fields of
    /// the caller's last message (a batch keeps one: no thread-local lookup per message).
    #[inline]
    pub fn encode_pb_into<R: Flow>(
        self,
        r: &R,
        out: &mut [u8; PB_ROOM],
        cache: &mut PrefixCache,
    ) -> usize {
        self.encode_pb_at(r, out, &mut cache.0)
    }

    #[inline(always)]
    fn encode_pb_at<R: Flow>(self, r: &R, out: &mut [u8; PB_ROOM], prefix: &mut Prefix) -> usize {
        debug_assert!(
            r.groups_hold(),
            "a field outside the record's groups: {:?}",
            r.to_record()
        );
        let n = match self {
            Schema::GoflowV2 => goflow_v2_pb(r, out, prefix),
            Schema::GoflowV3 => goflow_v3_pb(r, out, prefix),
            Schema::Goflow2 => goflow2_pb(r, out, prefix),
        };
        n.min(MAX_MESSAGE)
    }

    /// Appends the record as one JSON object (no newline).
    pub fn encode_json(self, r: &FlowRecord, buf: &mut Vec<u8>) {
        debug_assert!(
            r.groups_hold(),
            "a field outside the record's groups: {r:?}"
        );
        match self {
            Schema::GoflowV2 => goflow_v2_json(r, buf),
            Schema::GoflowV3 => goflow_v3_json(r, buf),
            Schema::Goflow2 => goflow2_json(r, buf),
        }
    }
}

#[cfg(test)]
mod g2json_tests;
#[cfg(test)]
mod tests;
