//! The values of `[[mapping]]` entries written after a message's own fields: protobuf fields
//! at the entries' numbers (appended to the message: field order does not matter to a
//! protobuf parser) and JSON members at their keys (before the object's closing brace).
//! Also what the configuration checks entries against (the numbers and JSON keys every
//! output already uses) and the `.proto` snippet `coreflow --print-mapping-proto` prints.
//!
//! Value formats: `uint` a varint (protobuf `uint64`) / JSON number, from 1 to 8 big-endian
//! bytes; `bytes` protobuf `bytes` / JSON lowercase hex; `ip` 4 or 16 bytes / JSON address
//! text; `string` protobuf `string` / JSON string (trailing NULs dropped, invalid UTF-8
//! replaced by U+FFFD). A value whose length its type cannot hold is left out. A `repeat =
//! "all"` entry is a repeated field written unpacked (one key per value, as goflow2 does) and
//! a JSON array. A message's mapped fields take at most [`MAX_EXTRA`] bytes; the values past
//! it are left out.

use super::schema::Schema;
use crate::cursor::be_uint;
use crate::flow::{Addr, FlowRecord};
use crate::mapping::{Entry, Mapped, Mapping, Repeat, Source, ValueType};
use std::fmt::Write as _;
use std::io::Write as _;

/// Most bytes the mapped fields add to one protobuf message (with a message's own < 2 KiB,
/// the whole stays under 2^14: a 2-byte length prefix).
pub const MAX_EXTRA: usize = 8192;

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A value's bytes as its type writes them (`None`: a length the type cannot hold).
fn payload(ty: ValueType, b: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    if !ty.fits(b.len()) {
        return None;
    }
    Some(match ty {
        ValueType::String => {
            let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
            match String::from_utf8_lossy(&b[..end]) {
                std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(s.as_bytes()),
                std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.into_bytes()),
            }
        }
        _ => std::borrow::Cow::Borrowed(b),
    })
}

/// Appends the mapped values as protobuf fields (`out` holds the message they extend).
pub fn write_pb(m: &Mapped<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    for (e, vals) in m.groups() {
        let (key, klen) = e.pb_key();
        for v in vals {
            let Some(p) = payload(e.ty, m.bytes(v)) else {
                continue;
            };
            let before = out.len();
            out.extend_from_slice(&key[..klen]);
            if e.ty == ValueType::Uint {
                varint(be_uint(&p), out);
            } else {
                varint(p.len() as u64, out);
                out.extend_from_slice(&p);
            }
            if out.len() - start > MAX_EXTRA {
                out.truncate(before);
                return;
            }
        }
    }
}

fn json_value(ty: ValueType, b: &[u8], out: &mut Vec<u8>) {
    match ty {
        ValueType::Uint => {
            let _ = write!(out, "{}", be_uint(b));
        }
        ValueType::Bytes => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push(b'"');
            for &c in b {
                out.extend_from_slice(&[HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
            }
            out.push(b'"');
        }
        ValueType::Ip => match Addr::from_slice(b).to_ip() {
            Some(ip) => {
                let _ = write!(out, "\"{ip}\"");
            }
            None => out.extend_from_slice(b"\"\""),
        },
        ValueType::String => {
            let _ = serde_json::to_writer(&mut *out, &*String::from_utf8_lossy(b));
        }
    }
}

/// Adds the mapped values as members of the JSON object that ends `out` (its closing brace
/// is moved after them).
pub fn write_json(m: &Mapped<'_>, out: &mut Vec<u8>) {
    if out.last() != Some(&b'}') {
        return;
    }
    out.pop();
    let mut empty = out.last() == Some(&b'{');
    for (e, vals) in m.groups() {
        let ok: Vec<std::borrow::Cow<'_, [u8]>> = vals
            .iter()
            .filter_map(|v| payload(e.ty, m.bytes(v)))
            .collect();
        if ok.is_empty() {
            continue;
        }
        if !empty {
            out.push(b',');
        }
        empty = false;
        let _ = write!(out, "\"{}\":", e.name);
        if e.repeat == Repeat::All {
            out.push(b'[');
            for (i, p) in ok.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_value(e.ty, p, out);
            }
            out.push(b']');
        } else {
            json_value(e.ty, &ok[0], out);
        }
    }
    out.push(b'}');
}

/// The protobuf field numbers a schema's `FlowMessage` declares (from its `.proto`).
pub fn used_numbers(schema: Schema) -> Vec<u32> {
    let text = match schema {
        Schema::GoflowV2 => include_str!("../../proto/goflow_v2.proto"),
        Schema::GoflowV3 => include_str!("../../proto/goflow_v3.proto"),
        Schema::Goflow2 => include_str!("../../proto/goflow2.proto"),
    };
    // `<type> <name> = <number>;` lines (enum values too: all are small numbers)
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .filter_map(|l| {
            let (_, rest) = l.split_once('=')?;
            rest.trim().trim_end_matches(';').trim().parse().ok()
        })
        .collect()
}

/// The keys the JSON outputs write (every schema's coreflow JSON and goflow2's JSON), found
/// by writing a record whose every field is set.
pub fn used_json_keys() -> Vec<String> {
    let full = full_record();
    let mut keys = Vec::new();
    for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
        let mut buf = Vec::new();
        schema.encode_json(&full, &mut buf);
        if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(&buf) {
            keys.extend(o.keys().cloned());
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

fn full_record() -> FlowRecord {
    let a = Addr::v4([10, 0, 0, 1]);
    let mut r = FlowRecord {
        flow_type: crate::flow::FlowType::Ipfix,
        has_encap: true,
        has_ppp: true,
        ..FlowRecord::default()
    };
    for x in [
        &mut r.sampler_address,
        &mut r.src_addr,
        &mut r.dst_addr,
        &mut r.next_hop,
        &mut r.bgp_next_hop,
        &mut r.mpls_ip,
        &mut r.src_addr_encap,
        &mut r.dst_addr_encap,
    ] {
        *x = a;
    }
    for x in [
        &mut r.time_received_ns,
        &mut r.sampling_rate,
        &mut r.time_flow_start_ns,
        &mut r.time_flow_end_ns,
        &mut r.bytes,
        &mut r.packets,
        &mut r.src_mac,
        &mut r.dst_mac,
    ] {
        *x = 1_700_000_000_000_000_000;
    }
    for x in [
        &mut r.sequence_num,
        &mut r.etype,
        &mut r.proto,
        &mut r.src_port,
        &mut r.dst_port,
        &mut r.in_if,
        &mut r.out_if,
        &mut r.src_vlan,
        &mut r.dst_vlan,
        &mut r.vlan_id,
        &mut r.ingress_vrf_id,
        &mut r.egress_vrf_id,
        &mut r.ip_tos,
        &mut r.forwarding_status,
        &mut r.discard_reason,
        &mut r.ip_ttl,
        &mut r.ip_flags,
        &mut r.tcp_flags,
        &mut r.icmp_type,
        &mut r.icmp_code,
        &mut r.ipv6_flow_label,
        &mut r.fragment_id,
        &mut r.fragment_offset,
        &mut r.flow_direction,
        &mut r.bi_flow_direction,
        &mut r.src_as,
        &mut r.dst_as,
        &mut r.next_hop_as,
        &mut r.src_net,
        &mut r.dst_net,
        &mut r.observation_domain_id,
        &mut r.observation_point_id,
        &mut r.proto_encap,
        &mut r.etype_encap,
        &mut r.ip_tos_encap,
        &mut r.ip_ttl_encap,
        &mut r.ipv6_flow_label_encap,
        &mut r.fragment_id_encap,
        &mut r.fragment_offset_encap,
        &mut r.ppp_address_control,
    ] {
        *x = 1;
    }
    r.as_path_len = 1;
    r.as_path[0] = 1;
    r.communities_len = 1;
    r.communities[0] = 1;
    r.mpls_count = 1;
    r.mpls_labels[0] = 1;
    r.mpls_ttls[0] = 1;
    r.layer_count = 1;
    r.layer_size[0] = 1;
    r
}

/// The `.proto` field declaration of an entry.
fn declaration(e: &Entry) -> String {
    let repeated = if e.repeat == Repeat::All {
        "repeated "
    } else {
        ""
    };
    let packed = if e.repeat == Repeat::All && e.ty == ValueType::Uint {
        " [packed = false]"
    } else {
        ""
    };
    let from = match e.source {
        Source::Element { protocol, pen, id } => {
            let p = match protocol {
                crate::mapping::Protocol::Netflow9 => "NetFlow v9",
                crate::mapping::Protocol::Ipfix => "IPFIX",
                crate::mapping::Protocol::Netflow => "NetFlow v9 / IPFIX",
            };
            if pen != 0 {
                format!("{p} element {id}, enterprise {pen}")
            } else {
                format!("{p} element {id}")
            }
        }
        Source::Sflow {
            layer,
            offset,
            length,
        } => {
            let l = match layer {
                crate::mapping::Layer::Header => "header".to_string(),
                crate::mapping::Layer::Network(None) => "network".to_string(),
                crate::mapping::Layer::Network(Some(v)) => format!("ipv{v}"),
                crate::mapping::Layer::Transport(None) => "transport".to_string(),
                crate::mapping::Layer::Transport(Some(p)) => format!("transport protocol {p}"),
            };
            format!("sFlow {l} bits {offset}+{length}")
        }
    };
    let ip = if e.ty == ValueType::Ip {
        ", an IP address"
    } else {
        ""
    };
    format!(
        "  {repeated}{} {} = {}{packed}; // {from}{ip}",
        e.ty.proto(),
        e.name,
        e.number
    )
}

/// The `.proto` lines to add to the schema's `FlowMessage` for the mapping's fields.
pub fn proto_snippet(schema: Schema, m: &Mapping) -> String {
    let (package, file) = match schema {
        Schema::GoflowV2 => ("flowprotob", "goflow_v2.proto"),
        Schema::GoflowV3 => ("flowprotob", "goflow_v3.proto"),
        Schema::Goflow2 => ("flowpb", "goflow2.proto"),
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// coreflow [[mapping]] fields: add them to `message FlowMessage` of package {package}"
    );
    let _ = writeln!(
        s,
        "// ({} schema, coreflow's {file}); the message's own fields stay as they are.",
        schema.name()
    );
    let _ = writeln!(s, "message FlowMessage {{");
    for e in &m.entries {
        let _ = writeln!(s, "{}", declaration(e));
    }
    let _ = writeln!(s, "}}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{Layer, Protocol, Value};

    fn entry(number: u32, name: &str, ty: ValueType, repeat: Repeat) -> Entry {
        Entry {
            source: Source::Element {
                protocol: Protocol::Ipfix,
                pen: 9,
                id: 95,
            },
            number,
            name: name.into(),
            ty,
            repeat,
        }
    }

    #[test]
    fn values_in_pb_and_json() {
        let m = Mapping {
            entries: vec![
                entry(1000, "app", ValueType::Uint, Repeat::First),
                entry(1001, "raw", ValueType::Bytes, Repeat::All),
                entry(1002, "nat", ValueType::Ip, Repeat::Last),
                entry(1003, "name", ValueType::String, Repeat::First),
                entry(1004, "bad_ip", ValueType::Ip, Repeat::First),
            ],
        };
        let data = [
            0x0d, 0x00, 0x00, 0x05, 0xAB, 0xCD, 10, 0, 0, 9, b'h', b'"', 0, 0, 1, 2, 3,
        ];
        let v = |entry, off, len| Value { entry, off, len };
        let vals = [
            v(0, 0, 4),
            v(1, 4, 1),
            v(1, 5, 1),
            v(2, 6, 4),
            v(3, 10, 4),
            v(4, 14, 3),
        ];
        let mapped = Mapped {
            mapping: &m,
            data: &data,
            vals: &vals,
        };
        let mut pb = Vec::new();
        write_pb(&mapped, &mut pb);
        let want: Vec<u8> = [
            &[0xc0, 0x3e, 0x85, 0x80, 0x80, 0x68][..],
            &[0xca, 0x3e, 1, 0xAB, 0xca, 0x3e, 1, 0xCD],
            &[0xd2, 0x3e, 4, 10, 0, 0, 9],
            &[0xda, 0x3e, 2, b'h', b'"'],
        ]
        .concat();
        assert_eq!(pb, want);
        let mut json = b"{\"Type\":1}".to_vec();
        write_json(&mapped, &mut json);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"Type":1,"app":218103813,"raw":["ab","cd"],"nat":"10.0.0.9","name":"h\""}"#
        );
        let mut json = b"{}".to_vec();
        write_json(&mapped, &mut json);
        assert!(json.starts_with(b"{\"app\":"));
    }

    #[test]
    fn extra_bytes_are_bounded() {
        let m = Mapping {
            entries: vec![entry(1000, "raw", ValueType::Bytes, Repeat::All)],
        };
        let data = vec![7u8; 1024];
        let vals = vec![
            Value {
                entry: 0,
                off: 0,
                len: 1024
            };
            crate::mapping::MAX_VALUES
        ];
        let mapped = Mapped {
            mapping: &m,
            data: &data,
            vals: &vals,
        };
        let mut pb = Vec::new();
        write_pb(&mapped, &mut pb);
        assert!(
            pb.len() <= MAX_EXTRA && pb.len() > MAX_EXTRA - 1100,
            "{}",
            pb.len()
        );
    }

    #[test]
    fn numbers_and_keys_in_use() {
        for s in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
            let n = used_numbers(s);
            assert!(n.contains(&1) && n.len() > 30, "{s:?}: {n:?}");
            assert!(n.iter().all(|&x| x < crate::mapping::MIN_NUMBER));
        }
        let k = used_json_keys();
        for key in [
            "SrcAddr",
            "src_addr",
            "sampler_address",
            "Bytes",
            "layer_stack",
        ] {
            assert!(k.iter().any(|x| x == key), "{key}: {k:?}");
        }
    }

    #[test]
    fn snippet_lines() {
        let mut e = entry(1001, "ports", ValueType::Uint, Repeat::All);
        e.source = Source::Sflow {
            layer: Layer::Transport(Some(6)),
            offset: 0,
            length: 16,
        };
        let m = Mapping {
            entries: vec![entry(1000, "app", ValueType::Uint, Repeat::First), e],
        };
        let s = proto_snippet(Schema::Goflow2, &m);
        assert!(
            s.contains("  uint64 app = 1000; // IPFIX element 95, enterprise 9\n"),
            "{s}"
        );
        assert!(
            s.contains("  repeated uint64 ports = 1001 [packed = false];"),
            "{s}"
        );
    }
}
