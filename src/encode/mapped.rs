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

use super::schema::{put_varint, Schema};
use crate::cursor::be_uint;
use crate::flow::{Addr, FlowRecord};
use crate::mapping::{Entry, Mapped, Mapping, Repeat, Source, ValueType};
use std::fmt::Write as _;
use std::io::Write as _;

/// Most bytes the mapped fields add to one protobuf message (with a message's own < 2 KiB,
/// the whole stays under 2^14: a 2-byte length prefix).
pub const MAX_EXTRA: usize = 8192;

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

/// The field's protobuf key (number and wire type) as varint bytes, and their count.
fn pb_key(e: &Entry) -> ([u8; 5], usize) {
    let wire = if e.ty == ValueType::Uint { 0 } else { 2 };
    let mut out = [0u8; 5];
    let n = put_varint(u64::from(e.number) << 3 | wire, &mut out);
    (out, n)
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Room [`write_pb_into`] needs for every value of `m` (at most [`MAX_EXTRA`]).
#[inline]
pub fn pb_room(m: &Mapped<'_>) -> usize {
    if !m.uints.is_empty() {
        // 2-byte keys and values of at most 10 bytes (fewer than MAX_VALUES of them)
        return 15 * m.uints.len();
    }
    // key <= 5 bytes, length or varint value <= 10, then the bytes (integers: none)
    m.vals
        .iter()
        .map(|v| 15 + usize::from(v.len))
        .sum::<usize>()
        .min(MAX_EXTRA)
}

/// Writes the mapped values as protobuf fields at the start of `out`; returns the bytes
/// written. A value that does not fit in `out` ends the list (with `out` as long as
/// [`pb_room`], that is the [`MAX_EXTRA`] bound).
#[inline]
pub fn write_pb_into(m: &Mapped<'_>, out: &mut [u8]) -> usize {
    if !m.uints.is_empty() {
        return write_uints(m, out);
    }
    let mut p = 0;
    for v in m.vals {
        let Some(e) = m.mapping.entries.get(usize::from(v.entry)) else {
            continue;
        };
        if e.ty == ValueType::Uint {
            // integers, the common case: the key and the value in two stores, no length
            let (end, len) = (v.off as usize + usize::from(v.len), usize::from(v.len));
            if !(1..=8).contains(&len) || end > m.data.len() {
                continue;
            }
            if out.len() < p + 15 {
                break;
            }
            // the 8 bytes that end with the value, masked (else byte by byte)
            let x = if end >= 8 {
                let w: [u8; 8] = m.data[end - 8..end].try_into().expect("8 bytes");
                u64::from_be_bytes(w) & (u64::MAX >> (64 - 8 * len))
            } else {
                be_uint(&m.data[end - len..end])
            };
            let k = u64::from(e.number) << 3;
            if k < 1 << 14 && x < 1 << 21 {
                let key = (k & 0x7f) | 0x80 | ((k >> 7) << 8);
                let o: &mut [u8; 8] = (&mut out[p..p + 8]).try_into().expect("8 bytes");
                p += key_and_small(o, key, x);
            } else {
                p += put_varint(k, &mut out[p..]);
                p += put_varint(x, &mut out[p..]);
            }
            continue;
        }
        let b = m.bytes(v);
        let Some(data) = payload(e.ty, b) else {
            continue;
        };
        let (key, klen) = pb_key(e);
        let need = klen + varint_len(data.len() as u64) + data.len();
        if out.len() - p < need {
            break;
        }
        out[p..p + klen].copy_from_slice(&key[..klen]);
        p += klen;
        p += put_varint(data.len() as u64, &mut out[p..]);
        out[p..p + data.len()].copy_from_slice(&data);
        p += data.len();
    }
    p
}

/// Writes a small integer `x` (below 2^21) after the 2-byte key `key` in one 8-byte store at
/// the start of `o`, as the schemas' own small integers are written; returns the length.
#[inline(always)]
fn key_and_small(o: &mut [u8; 8], key: u64, x: u64) -> usize {
    if x < 0x80 {
        *o = (key | (x << 16)).to_le_bytes();
        3
    } else {
        let three = u64::from(x >= 1 << 14);
        // continuation bit on the first byte, and on the second of a 3-byte value
        let y = (x & 0x7f) | ((x << 1) & 0x7f00) | ((x << 2) & 0x7f_0000) | 0x80 | (three << 15);
        *o = (key | (y << 16)).to_le_bytes();
        4 + three as usize
    }
}

/// [`write_pb_into`] over the fast form of the values ([`crate::mapping::UintVal`]).
#[inline]
fn write_uints(m: &Mapped<'_>, out: &mut [u8]) -> usize {
    let mut p = 0;
    for u in m.uints {
        if out.len() < p + 15 {
            break;
        }
        let end = usize::from(u.end);
        let Some(w) = m.data.get(end.wrapping_sub(8)..end) else {
            continue;
        };
        let x = u64::from_be_bytes(w.try_into().expect("8 bytes")) & (u64::MAX >> u.shift);
        let o: &mut [u8; 8] = (&mut out[p..p + 8]).try_into().expect("8 bytes");
        if x < 1 << 21 {
            p += key_and_small(o, u64::from(u.key), x);
        } else {
            o[..2].copy_from_slice(&u.key.to_le_bytes());
            p += 2 + put_varint(x, &mut out[p + 2..]);
        }
    }
    p
}

/// Appends the mapped values as protobuf fields (`out` holds the message they extend).
pub fn write_pb(m: &Mapped<'_>, out: &mut Vec<u8>) {
    let at = out.len();
    out.resize(at + pb_room(m), 0);
    let n = write_pb_into(m, &mut out[at..]);
    out.truncate(at + n);
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

fn proto_text(schema: Schema) -> &'static str {
    match schema {
        Schema::GoflowV2 => include_str!("../../proto/goflow_v2.proto"),
        Schema::GoflowV3 => include_str!("../../proto/goflow_v3.proto"),
        Schema::Goflow2 => include_str!("../../proto/goflow2.proto"),
    }
}

/// The `<type> <name> = <number>;` declarations of a `.proto` (enum values too), as (name,
/// number).
fn declarations(text: &str) -> impl Iterator<Item = (&str, u32)> {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .filter_map(|l| {
            let (decl, rest) = l.split_once('=')?;
            let n = rest.split(['[', ';']).next()?.trim().parse().ok()?;
            Some((decl.split_whitespace().last()?, n))
        })
}

/// The protobuf field numbers a schema's `FlowMessage` declares (from its `.proto`; enum
/// values too: all are small numbers).
pub fn used_numbers(schema: Schema) -> Vec<u32> {
    declarations(proto_text(schema)).map(|(_, n)| n).collect()
}

/// The keys the JSON outputs write (every schema's coreflow JSON and goflow2's JSON), found
/// by writing a record whose every field is set, and the names the schemas' `.proto` files
/// declare (a mapped field's `.proto` line must not clash with them either).
pub fn used_json_keys() -> Vec<String> {
    let full = full_record();
    let mut keys = Vec::new();
    for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
        keys.extend(declarations(proto_text(schema)).map(|(name, _)| name.to_string()));
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
    use crate::mapping::{Layer, Protocol, UintVal, Value};

    #[test]
    fn pb_keys() {
        let e = |number, ty| Entry {
            source: Source::Sflow {
                layer: Layer::Header,
                offset: 0,
                length: 8,
            },
            number,
            name: "x".into(),
            ty,
            repeat: Repeat::First,
        };
        // 1000 << 3 = 8000 = 0x1f40: varint c0 3e
        assert_eq!(
            pb_key(&e(1000, ValueType::Uint)),
            ([0xc0, 0x3e, 0, 0, 0], 2)
        );
        assert_eq!(pb_key(&e(1000, ValueType::Ip)).0[0], 0xc2);
        assert_eq!(
            pb_key(&e(crate::mapping::MAX_NUMBER, ValueType::Bytes)).1,
            5
        );
    }

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
            uints: &[],
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

    /// The fast form of `uint` values writes the bytes the general writer does.
    #[test]
    fn fast_uints_write_what_the_general_writer_does() {
        let m = Mapping {
            entries: (0..8)
                .map(|i| entry(1000 + i * 100, "x", ValueType::Uint, Repeat::First))
                .collect(),
        };
        for x in [
            0u64,
            1,
            0x7f,
            0x80,
            0x3fff,
            0x4000,
            (1 << 21) - 1,
            1 << 21,
            u64::MAX,
        ] {
            // a record of 16 bytes with the value in its last `len` bytes, for every length
            let mut data = vec![0xAAu8; 8];
            data.extend_from_slice(&x.to_be_bytes());
            let vals: Vec<Value> = (1..=8u16)
                .map(|len| Value {
                    entry: len - 1,
                    len,
                    off: 16 - u32::from(len),
                })
                .collect();
            let uints: Vec<UintVal> = vals
                .iter()
                .map(|v| UintVal::of(&m.entries[usize::from(v.entry)], v).unwrap())
                .collect();
            let general = Mapped {
                mapping: &m,
                data: &data,
                vals: &vals,
                uints: &[],
            };
            let fast = Mapped {
                uints: &uints,
                ..general
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            write_pb(&general, &mut a);
            write_pb(&fast, &mut b);
            assert_eq!(a, b, "{x:#x}");
            assert!(!a.is_empty());
        }
        // no fast form: not a uint, too short a record for the 8-byte window, a 3-byte key
        let v = Value {
            entry: 0,
            len: 2,
            off: 0,
        };
        assert_eq!(UintVal::of(&m.entries[0], &v), None);
        let v = Value { off: 6, ..v };
        assert!(UintVal::of(&m.entries[0], &v).is_some());
        assert_eq!(
            UintVal::of(&entry(2048, "x", ValueType::Uint, Repeat::First), &v),
            None
        );
        assert_eq!(
            UintVal::of(&entry(1000, "x", ValueType::Bytes, Repeat::First), &v),
            None
        );
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
            uints: &[],
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
            // the instance field (1999) is the one number at or above the mapping range's
            // start: entries cannot take it
            assert!(n
                .iter()
                .all(|&x| x < crate::mapping::MIN_NUMBER
                    || x == super::super::extras::INSTANCE_FIELD));
            assert!(n.contains(&super::super::extras::INSTANCE_FIELD));
        }
        let k = used_json_keys();
        for key in [
            // declared in the .proto files, whatever the JSON writes
            "BiFlowDirection",
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
