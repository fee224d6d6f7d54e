//! What the collector changes in or adds to every flow it encodes, whatever the schema:
//! sampling renormalization (`output.renormalize`) and the collector's instance name as a
//! field (`output.instance_field`).
//!
//! Both are opt-in. With neither on, [`Extras::active`] is false and the encoders take their
//! usual path untouched (one predictable branch per flow); with either on, a flow goes
//! through [`encode`] here: a copy of the record is renormalized, encoded with the plain
//! schema encoders, and the instance field appended to the message.

use super::schema::Schema;
use super::Format;
use crate::flow::FlowRecord;

/// The protobuf field number of the instance name in every schema (`string`, proto3). Above
/// the numbers GoFlow, goflow2 and coreflow's own extensions use (< 1000), and clear of the
/// range `[[mapping]]` entries start at (1000), so users can pick theirs without meeting it.
pub const INSTANCE_FIELD: u32 = 1999;
/// The instance's JSON key in the GoFlow layouts' JSON (their CamelCase style).
pub const INSTANCE_JSON_KEY: &str = "CollectorInstance";
/// The instance's JSON key in goflow2's JSON (its snake_case style).
pub const INSTANCE_G2JSON_KEY: &str = "collector_instance";

/// The instance name, encoded once at start for each format.
#[derive(Debug, PartialEq, Eq)]
pub struct Instance {
    pub name: String,
    /// Field 1999: key, length, bytes.
    pb: Vec<u8>,
    /// `,"CollectorInstance":"name"`.
    json: Vec<u8>,
    /// `,"collector_instance":"name"`.
    g2json: Vec<u8>,
}

impl Instance {
    /// Encodes `name` (a valid instance name: letters, digits and `.-_:`, nothing to escape).
    pub fn new(name: &str) -> Instance {
        let mut pb = Vec::with_capacity(name.len() + 4);
        prost::encoding::encode_key(
            INSTANCE_FIELD,
            prost::encoding::WireType::LengthDelimited,
            &mut pb,
        );
        prost::encoding::encode_varint(name.len() as u64, &mut pb);
        pb.extend_from_slice(name.as_bytes());
        // JSON string escaping for the characters that need it; valid names have none
        let text: String = name
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32).chars().collect(),
                c => vec![c],
            })
            .collect();
        let json = format!(",\"{INSTANCE_JSON_KEY}\":\"{text}\"").into_bytes();
        let g2json = format!(",\"{INSTANCE_G2JSON_KEY}\":\"{text}\"").into_bytes();
        Instance {
            name: name.to_string(),
            pb,
            json,
            g2json,
        }
    }

    /// Field 1999 as protobuf bytes: key, length, the name.
    pub fn pb(&self) -> &[u8] {
        &self.pb
    }

    /// Encoded once per process and kept for its life, so that [`Extras`] (part of the
    /// `Copy` encoding every worker holds) can refer to it without a reference count.
    pub fn leak(name: &str) -> &'static Instance {
        Box::leak(Box::new(Instance::new(name)))
    }
}

/// The opt-in per-flow changes (see the module docs). `Default`: none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// Bytes and packets times the flow's sampling rate, which then reads 1.
    pub renormalize: bool,
    /// The instance name as a field of every message.
    pub instance: Option<&'static Instance>,
}

impl Extras {
    /// Whether any flow goes through [`encode`] rather than the plain encoders.
    #[inline(always)]
    pub fn active(&self) -> bool {
        self.renormalize || self.instance.is_some()
    }
}

/// Renormalizes one flow as pmacct's `nfacctd_renormalize` / `sfacctd_renormalize` do:
/// bytes and packets times the sampling rate the flow carries, and the rate then 1, so a
/// consumer that multiplies by `SamplingRate` itself does not count twice. A rate of 0
/// (unknown) or 1 changes nothing. Returns whether a counter saturated at `u64::MAX`.
#[inline]
pub fn renormalize(r: &mut FlowRecord) -> bool {
    let rate = r.sampling_rate;
    if rate <= 1 {
        return false;
    }
    let (bytes, packets) = (r.bytes.checked_mul(rate), r.packets.checked_mul(rate));
    r.bytes = bytes.unwrap_or(u64::MAX);
    r.packets = packets.unwrap_or(u64::MAX);
    r.sampling_rate = 1;
    bytes.is_none() || packets.is_none()
}

/// Appends one flow with the extras applied, in `format`, framed for a stream when `stream`
/// (JSON lines or varint-delimited protobuf; else the message alone). Returns whether
/// renormalization saturated a counter.
#[cold]
#[inline(never)]
pub fn encode(
    extras: Extras,
    format: Format,
    stream: bool,
    schema: Schema,
    rec: &FlowRecord,
    buf: &mut Vec<u8>,
) -> bool {
    let mut r = *rec;
    let saturated = extras.renormalize && renormalize(&mut r);
    match format {
        Format::Pb => {
            let start = buf.len();
            schema.encode_pb(&r, buf);
            if let Some(i) = extras.instance {
                buf.extend_from_slice(&i.pb);
            }
            if stream {
                // the length is known only now: insert its varint before the message
                let mut len = Vec::with_capacity(2);
                prost::encoding::encode_varint((buf.len() - start) as u64, &mut len);
                buf.splice(start..start, len);
            }
        }
        Format::Json => {
            schema.encode_json(&r, buf);
            if let Some(i) = extras.instance {
                let field = match schema {
                    Schema::Goflow2 => &i.g2json,
                    Schema::GoflowV2 | Schema::GoflowV3 => &i.json,
                };
                // the object ends with `}`: the field goes before it (after a `,` unless
                // the object is empty)
                buf.pop();
                let empty = buf.last() == Some(&b'{');
                buf.extend_from_slice(if empty { &field[1..] } else { field });
                buf.push(b'}');
            }
            if stream {
                buf.push(b'\n');
            }
        }
    }
    saturated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowType;
    use prost::Message;

    fn rec(rate: u64, bytes: u64, packets: u64) -> FlowRecord {
        FlowRecord {
            flow_type: FlowType::NetflowV9,
            sampling_rate: rate,
            bytes,
            packets,
            ..FlowRecord::default()
        }
    }

    #[test]
    fn renormalize_multiplies_and_saturates() {
        let mut r = rec(1000, 1500, 3);
        assert!(!renormalize(&mut r));
        assert_eq!((r.bytes, r.packets, r.sampling_rate), (1_500_000, 3000, 1));
        for rate in [0, 1] {
            let mut r = rec(rate, 1500, 3);
            assert!(!renormalize(&mut r));
            assert_eq!(r, rec(rate, 1500, 3));
        }
        let mut r = rec(4096, u64::MAX / 1000, 7);
        assert!(renormalize(&mut r));
        assert_eq!(
            (r.bytes, r.packets, r.sampling_rate),
            (u64::MAX, 7 * 4096, 1)
        );
        let mut r = rec(2, 1, u64::MAX / 2 + 1);
        assert!(renormalize(&mut r));
        assert_eq!((r.bytes, r.packets), (2, u64::MAX));
    }

    /// Every schema, both formats and framings: renormalized values and the instance field
    /// are in the message, the rest is what the plain encoder writes.
    #[test]
    fn extras_in_every_schema() {
        let inst = Instance::leak("collector-1.example:a_b");
        let r = rec(100, 1500, 3);
        let renorm = rec(1, 150_000, 300);
        let both = Extras {
            renormalize: true,
            instance: Some(inst),
        };
        for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
            // bare protobuf: the renormalized message plus field 1999
            let mut got = Vec::new();
            assert!(!encode(both, Format::Pb, false, schema, &r, &mut got));
            let mut want = Vec::new();
            schema.encode_pb(&renorm, &mut want);
            assert_eq!(&got[..want.len()], &want[..], "{schema:?}");
            match schema {
                Schema::GoflowV2 => {
                    let m = crate::pb::goflow_v2::FlowMessage::decode(&got[..]).unwrap();
                    assert_eq!((m.bytes, m.packets, m.sampling_rate), (150_000, 300, 1));
                    assert_eq!(m.collector_instance, inst.name);
                }
                Schema::GoflowV3 => {
                    let m = crate::pb::goflow_v3::FlowMessage::decode(&got[..]).unwrap();
                    assert_eq!((m.bytes, m.packets, m.sampling_rate), (150_000, 300, 1));
                    assert_eq!(m.collector_instance, inst.name);
                }
                Schema::Goflow2 => {
                    let m = crate::pb::goflow2::FlowMessage::decode(&got[..]).unwrap();
                    assert_eq!((m.bytes, m.packets, m.sampling_rate), (150_000, 300, 1));
                    assert_eq!(m.collector_instance, inst.name);
                }
            }
            // delimited: a varint of the length, then the same bytes
            let mut d = Vec::new();
            encode(both, Format::Pb, true, schema, &r, &mut d);
            let mut slice = &d[..];
            let n = prost::encoding::decode_varint(&mut slice).unwrap() as usize;
            assert_eq!(slice, &got[..]);
            assert_eq!(n, got.len());
            // JSON: the key in the schema's style, valid JSON, a newline when streamed
            let mut j = Vec::new();
            encode(both, Format::Json, true, schema, &r, &mut j);
            assert_eq!(j.pop(), Some(b'\n'));
            let v: serde_json::Value = serde_json::from_slice(&j).unwrap();
            let (key, bytes_key) = match schema {
                Schema::Goflow2 => (INSTANCE_G2JSON_KEY, "bytes"),
                _ => (INSTANCE_JSON_KEY, "Bytes"),
            };
            assert_eq!(v[key], inst.name.as_str(), "{schema:?}: {v}");
            assert_eq!(v[bytes_key], 150_000, "{schema:?}: {v}");
            // renormalization alone: exactly the plain encoding of the renormalized record
            let only = Extras {
                renormalize: true,
                instance: None,
            };
            let mut a = Vec::new();
            encode(only, Format::Json, false, schema, &r, &mut a);
            let mut b = Vec::new();
            schema.encode_json(&renorm, &mut b);
            assert_eq!(a, b);
        }
    }
}
