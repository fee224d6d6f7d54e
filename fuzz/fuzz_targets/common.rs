//! What every fuzz target does with a datagram: decode it, encode every flow in each schema
//! (protobuf and JSON), and check that the protobuf decodes again.

#![allow(dead_code)]

use coreflow::decode::Decoder;
use coreflow::encode::batch::{Batch, Encoding, Framing};
use coreflow::encode::key::KeyMode;
use coreflow::encode::schema::Schema;
use coreflow::encode::Format;
use coreflow::flow::FlowRecord;
use prost::Message;
use std::net::IpAddr;

pub const EXPORTER: [u8; 4] = [192, 0, 2, 1];

/// Encodes a record in every schema (protobuf and JSON) and decodes the protobuf with the
/// prost types; the protobuf a worker encodes in place into a batch (both framings) must be
/// the same bytes. Encoding is the slow part under ASan (30x the decoding), so only the first
/// flow of each datagram is checked: the decoders stay the focus.
pub fn check_record(r: &FlowRecord, buf: &mut Vec<u8>) {
    for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
        for framing in [Framing::Stream, Framing::Bare] {
            let enc = Encoding {
                format: Format::Pb,
                schema,
                framing,
                key: KeyMode::None,
                counters: false,
                extras: Default::default(),
            };
            let mut batch = Batch::new(0, 4096, 4);
            enc.push(r, &mut batch);
            buf.clear();
            enc.encode(r, buf);
            assert_eq!(
                batch.bytes(),
                &buf[..],
                "{} in-place protobuf differs",
                schema.name()
            );
        }
        buf.clear();
        schema.encode_pb(r, buf);
        let ok = match schema {
            Schema::GoflowV2 => coreflow::pb::goflow_v2::FlowMessage::decode(&buf[..]).is_ok(),
            Schema::GoflowV3 => coreflow::pb::goflow_v3::FlowMessage::decode(&buf[..]).is_ok(),
            Schema::Goflow2 => coreflow::pb::goflow2::FlowMessage::decode(&buf[..]).is_ok(),
        };
        assert!(ok, "{} protobuf does not decode: {r:?}", schema.name());
        buf.clear();
        schema.encode_json(r, buf);
        assert!(
            buf.first() == Some(&b'{') && buf.last() == Some(&b'}'),
            "{} JSON is not an object",
            schema.name()
        );
    }
}

/// Decodes `payload` from `exporter` with `dec`, checking every flow; returns the flows.
pub fn decode_checked(dec: &mut Decoder, exporter: IpAddr, payload: &[u8]) -> Vec<FlowRecord> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let _ = dec.decode(
        exporter,
        1_700_000_000_000_000_000,
        payload,
        &mut |r: &FlowRecord| {
            if out.is_empty() {
                check_record(r, &mut buf);
            }
            out.push(*r);
        },
    );
    out
}

/// Decodes `payload` from `exporter` with `dec` and returns the flows, without the schema
/// checks.
pub fn decode_plain(dec: &mut Decoder, exporter: IpAddr, payload: &[u8]) -> Vec<FlowRecord> {
    let mut out = Vec::new();
    let _ = dec.decode(
        exporter,
        1_700_000_000_000_000_000,
        payload,
        &mut |r: &FlowRecord| out.push(*r),
    );
    out
}

/// Decodes `data` as one datagram of the protocol whose version bytes are `version` (written
/// over the start of a copy, so every input reaches that decoder).
pub fn fuzz_version(data: &[u8], version: &[u8]) {
    let mut d = data.to_vec();
    if d.len() >= version.len() {
        d[..version.len()].copy_from_slice(version);
    }
    let mut dec = Decoder::default();
    decode_checked(&mut dec, IpAddr::from(EXPORTER), &d);
}
