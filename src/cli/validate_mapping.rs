//! `[[mapping]]` entries validated into a [`Mapping`], and written back for
//! `--check-config`. Each error names the entry and its key (`mapping[2].type: ...`).
//!
//! An entry reads a NetFlow v9 field (`source = "netflow9"`), an IPFIX element
//! (`source = "ipfix"`, with `pen` for an enterprise element), either (`source = "netflow"`)
//! or bits of an sFlow sampled header (`source = "sflow"`, `layer`, `offset`, `length`, in
//! bits unless `unit = "bytes"`), and writes it at protobuf field `number` (>= 1000, unused
//! by every schema and by the other entries) and JSON key `name` (a proto identifier, not a
//! key of any JSON output nor a field of any schema, unused by the other entries) as `type` (uint, bytes, ip, string),
//! taking the `repeat` occurrence (first, last, all) of an element a record carries more than
//! once.

use super::raw::{RawMapping, RawScalar};
use crate::encode::mapped::{used_json_keys, used_numbers};
use crate::encode::schema::Schema;
use crate::error::ConfigError;
use crate::mapping::{
    Entry, Layer, Mapping, Protocol, Repeat, Source, ValueType, MAX_ENTRIES, MAX_NUMBER,
    MAX_SFLOW_BITS, MAX_VALUE_LEN, MIN_NUMBER,
};

/// Validates the entries (`None` when there are none).
pub(super) fn mapping(raw: &[RawMapping]) -> Result<Option<std::sync::Arc<Mapping>>, ConfigError> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.len() > MAX_ENTRIES {
        return Err(ConfigError::new(
            "mapping",
            format!("{} entries, at most {MAX_ENTRIES}", raw.len()),
        ));
    }
    let keys = used_json_keys();
    let numbers: Vec<(Schema, Vec<u32>)> = [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2]
        .into_iter()
        .map(|s| (s, used_numbers(s)))
        .collect();
    let mut entries: Vec<Entry> = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let e = entry(i, r)?;
        let err = |key: &str, msg: String| ConfigError::new(format!("mapping[{i}].{key}"), msg);
        if let Some((s, _)) = numbers.iter().find(|(_, n)| n.contains(&e.number)) {
            return Err(err(
                "number",
                format!("{} is a field of the {} schema", e.number, s.name()),
            ));
        }
        if let Some(j) = entries.iter().position(|o| o.number == e.number) {
            return Err(err(
                "number",
                format!("{} is also mapping[{j}]'s number", e.number),
            ));
        }
        if keys.contains(&e.name) {
            return Err(err(
                "name",
                format!(
                    "{:?} is a key or field name the outputs already use",
                    e.name
                ),
            ));
        }
        if let Some(j) = entries.iter().position(|o| o.name == e.name) {
            return Err(err(
                "name",
                format!("{:?} is also mapping[{j}]'s name", e.name),
            ));
        }
        entries.push(e);
    }
    Ok(Some(std::sync::Arc::new(Mapping { entries })))
}

fn entry(i: usize, r: &RawMapping) -> Result<Entry, ConfigError> {
    let err = |key: &str, msg: String| ConfigError::new(format!("mapping[{i}].{key}"), msg);
    let int = |key: &str, v: Option<i64>, min: i64, max: i64| -> Result<i64, ConfigError> {
        let v = v.ok_or_else(|| err(key, "missing".into()))?;
        if v < min || v > max {
            return Err(err(key, format!("{v} is out of range ({min} to {max})")));
        }
        Ok(v)
    };
    let source = r.source.as_deref().ok_or_else(|| {
        err(
            "source",
            "missing (netflow9, ipfix, netflow or sflow)".into(),
        )
    })?;
    let element = |protocol| -> Result<Source, ConfigError> {
        for (key, set) in [
            ("layer", r.layer.is_some()),
            ("offset", r.offset.is_some()),
            ("length", r.length.is_some()),
            ("unit", r.unit.is_some()),
        ] {
            if set {
                return Err(err(key, format!("is for sflow entries, not {source}")));
            }
        }
        let id = int("field", r.field, 1, 65535)? as u16;
        let pen = match (protocol, r.pen) {
            (Protocol::Netflow9, Some(_)) => {
                return Err(err(
                    "pen",
                    "NetFlow v9 fields have no enterprise number".into(),
                ))
            }
            (_, pen) => int("pen", Some(pen.unwrap_or(0)), 0, u32::MAX.into())? as u32,
        };
        if protocol != Protocol::Netflow9 && pen != 0 && id > 0x7FFF {
            return Err(err(
                "field",
                format!("{id}: an enterprise element id is 15 bits (at most 32767)"),
            ));
        }
        Ok(Source::Element { protocol, pen, id })
    };
    let src = match source {
        "netflow9" | "netflowv9" => element(Protocol::Netflow9)?,
        "ipfix" => element(Protocol::Ipfix)?,
        "netflow" => element(Protocol::Netflow)?,
        "sflow" => {
            for (key, set) in [("field", r.field.is_some()), ("pen", r.pen.is_some())] {
                if set {
                    return Err(err(key, "is for netflow9/ipfix entries, not sflow".into()));
                }
            }
            let layer = layer(r.layer.as_ref()).map_err(|m| err("layer", m))?;
            let scale = match r.unit.as_deref() {
                None | Some("bits") => 1,
                Some("bytes") => 8,
                Some(u) => return Err(err("unit", format!("unknown unit {u:?} (bits, bytes)"))),
            };
            let max = i64::from(MAX_SFLOW_BITS) / scale;
            let offset = int("offset", Some(r.offset.unwrap_or(0)), 0, max - 1)? * scale;
            let length = int("length", r.length, 1, (MAX_VALUE_LEN * 8) as i64 / scale)? * scale;
            if offset + length > i64::from(MAX_SFLOW_BITS) {
                return Err(err(
                    "offset",
                    format!(
                        "offset + length is {} bits, past the {} bits of header coreflow reads",
                        offset + length,
                        MAX_SFLOW_BITS
                    ),
                ));
            }
            Source::Sflow {
                layer,
                offset: offset as u32,
                length: length as u32,
            }
        }
        s => {
            return Err(err(
                "source",
                format!("unknown source {s:?} (netflow9, ipfix, netflow, sflow)"),
            ))
        }
    };
    let ty_text =
        r.ty.as_deref()
            .ok_or_else(|| err("type", format!("missing ({})", ValueType::NAMES.join(", "))))?;
    let ty = ValueType::parse(ty_text).ok_or_else(|| {
        err(
            "type",
            format!("unknown type {ty_text:?} ({})", ValueType::NAMES.join(", ")),
        )
    })?;
    if let Source::Sflow { length, .. } = src {
        let ok = match ty {
            ValueType::Uint => length <= 64,
            ValueType::Ip => length == 32 || length == 128,
            _ => true,
        };
        if !ok {
            return Err(err(
                "length",
                format!("{length} bits cannot be a {ty_text} (uint: at most 64, ip: 32 or 128)"),
            ));
        }
    }
    let repeat = match r.repeat.as_deref() {
        None => Repeat::First,
        Some(s) => Repeat::parse(s).ok_or_else(|| {
            err(
                "repeat",
                format!("unknown value {s:?} ({})", Repeat::NAMES.join(", ")),
            )
        })?,
    };
    let number = int(
        "number",
        r.number,
        i64::from(MIN_NUMBER),
        i64::from(MAX_NUMBER),
    )? as u32;
    if (19000..=19999).contains(&number) {
        return Err(err(
            "number",
            format!("{number}: 19000 to 19999 are reserved by protobuf"),
        ));
    }
    let name = r
        .name
        .clone()
        .ok_or_else(|| err("name", "missing".into()))?;
    let ident = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64;
    if !ident {
        return Err(err(
            "name",
            format!("{name:?} is not a field name (letters, digits and _, at most 64)"),
        ));
    }
    Ok(Entry {
        source: src,
        number,
        name,
        ty,
        repeat,
    })
}

/// `layer`: a name or goflow2 v1's number.
fn layer(v: Option<&RawScalar>) -> Result<Layer, String> {
    let text = match v {
        None => return Ok(Layer::Header),
        Some(RawScalar::Int(n)) => n.to_string(),
        Some(RawScalar::Str(s)) => s.clone(),
        Some(RawScalar::Bool(b)) => b.to_string(),
    };
    Ok(match text.as_str() {
        "0" | "header" => Layer::Header,
        "3" | "network" | "ip" => Layer::Network(None),
        "ipv4" => Layer::Network(Some(4)),
        "ipv6" => Layer::Network(Some(6)),
        "4" | "transport" => Layer::Transport(None),
        "tcp" => Layer::Transport(Some(6)),
        "udp" => Layer::Transport(Some(17)),
        "icmp" => Layer::Transport(Some(1)),
        "icmpv6" => Layer::Transport(Some(58)),
        s => {
            return Err(format!(
                "unknown layer {s:?} (header or 0, network/ip or 3, ipv4, ipv6, transport or 4, \
                 tcp, udp, icmp, icmpv6)"
            ))
        }
    })
}

/// The entries as TOML entries (`--check-config`), which validate to the same mapping.
pub(super) fn to_raw(m: &Mapping) -> Vec<RawMapping> {
    m.entries
        .iter()
        .map(|e| {
            let mut r = RawMapping {
                number: Some(e.number.into()),
                name: Some(e.name.clone()),
                ty: Some(ValueType::NAMES[e.ty as usize].into()),
                repeat: Some(Repeat::NAMES[e.repeat as usize].into()),
                ..RawMapping::default()
            };
            match e.source {
                Source::Element { protocol, pen, id } => {
                    r.source = Some(
                        match protocol {
                            Protocol::Netflow9 => "netflow9",
                            Protocol::Ipfix => "ipfix",
                            Protocol::Netflow => "netflow",
                        }
                        .into(),
                    );
                    r.field = Some(id.into());
                    if protocol != Protocol::Netflow9 {
                        r.pen = Some(pen.into());
                    }
                }
                Source::Sflow {
                    layer,
                    offset,
                    length,
                } => {
                    r.source = Some("sflow".into());
                    let name = match layer {
                        Layer::Header => "header",
                        Layer::Network(None) => "network",
                        Layer::Network(Some(4)) => "ipv4",
                        Layer::Network(Some(_)) => "ipv6",
                        Layer::Transport(None) => "transport",
                        Layer::Transport(Some(6)) => "tcp",
                        Layer::Transport(Some(17)) => "udp",
                        Layer::Transport(Some(1)) => "icmp",
                        Layer::Transport(Some(_)) => "icmpv6",
                    };
                    r.layer = Some(RawScalar::Str(name.into()));
                    r.offset = Some(offset.into());
                    r.length = Some(length.into());
                }
            }
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Option<std::sync::Arc<Mapping>>, String> {
        let raw: super::super::raw::RawConfig =
            toml::from_str(toml_text).map_err(|e| e.to_string())?;
        mapping(&raw.mapping).map_err(|e| e.to_string())
    }

    const GOOD: &str = r#"
[[mapping]]
source = "ipfix"
field = 95
pen = 9
number = 1000
name = "app_id"
type = "bytes"

[[mapping]]
source = "netflow"
field = 225
number = 1001
name = "nat_src"
type = "ip"
repeat = "last"

[[mapping]]
source = "sflow"
layer = "udp"
offset = 2
length = 2
unit = "bytes"
number = 1002
name = "udp_dst"
type = "uint"
repeat = "all"
"#;

    #[test]
    fn good_entries_and_their_round_trip() {
        let m = parse(GOOD).unwrap().unwrap();
        assert_eq!(m.entries.len(), 3);
        assert_eq!(
            m.entries[2].source,
            Source::Sflow {
                layer: Layer::Transport(Some(17)),
                offset: 16,
                length: 16
            }
        );
        assert_eq!(m.entries[1].repeat, Repeat::Last);
        let back = mapping(&to_raw(&m)).unwrap().unwrap();
        assert_eq!(*back, *m);
        assert_eq!(parse("").unwrap(), None);
    }

    /// Each bad entry is one error naming the entry and its key.
    #[test]
    fn bad_entries_name_the_entry() {
        let ent = |source: &str, field: &str, number: &str, name: &str, ty: &str| {
            format!(
                "[[mapping]]\nsource = \"{source}\"\nfield = {field}\nnumber = {number}\n\
                 name = \"{name}\"\ntype = \"{ty}\"\n"
            )
        };
        let first = ent("ipfix", "95", "1000", "a", "uint");
        let cases = [
            (
                ent("ipfix", "1", "1001", "b", "float"),
                "mapping[1].type: unknown type \"float\"",
            ),
            (
                ent("ipfix", "1", "1000", "b", "uint"),
                "mapping[1].number: 1000 is also mapping[0]'s",
            ),
            (
                ent("ipfix", "1", "5", "b", "uint"),
                "mapping[1].number: 5 is out of range",
            ),
            (
                ent("ipfix", "1", "1001", "a", "uint"),
                "mapping[1].name: \"a\" is also mapping[0]'s",
            ),
            (
                ent("ipfix", "1", "1001", "SrcAddr", "uint"),
                "mapping[1].name: \"SrcAddr\" is a key",
            ),
            (
                ent("ipfix", "1", "1001", "src_addr", "uint"),
                "mapping[1].name: \"src_addr\" is a key",
            ),
            (
                ent("ipfix", "1", "1001", "b-c", "uint"),
                "mapping[1].name: \"b-c\" is not a field",
            ),
            (
                ent("nf5", "1", "1001", "b", "uint"),
                "mapping[1].source: unknown source",
            ),
            (
                ent("ipfix", "70000", "1001", "b", "uint"),
                "mapping[1].field: 70000 is out of range",
            ),
        ];
        for (second, want) in cases {
            let e = parse(&format!("{first}\n{second}")).unwrap_err();
            assert!(e.starts_with(want), "{second}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let sflow = "[[mapping]]\nsource = \"sflow\"\nnumber = 1000\nname = \"a\"\n";
        for (extra, want) in [
            (
                "type = \"uint\"\nlength = 8\noffset = 40000",
                "mapping[0].offset: 40000 is out of range",
            ),
            (
                "type = \"uint\"\nlength = 128",
                "mapping[0].length: 128 bits cannot be a uint",
            ),
            (
                "type = \"ip\"\nlength = 24",
                "mapping[0].length: 24 bits cannot be a ip",
            ),
            (
                "type = \"uint\"\nlength = 8\nlayer = \"l7\"",
                "mapping[0].layer: unknown layer",
            ),
            (
                "type = \"uint\"\nlength = 8\nfield = 3",
                "mapping[0].field: is for netflow9/ipfix",
            ),
            (
                "type = \"uint\"\nlength = 8\nunit = \"words\"",
                "mapping[0].unit: unknown unit",
            ),
            ("type = \"uint\"", "mapping[0].length: missing"),
            ("length = 8", "mapping[0].type: missing"),
            (
                "type = \"uint\"\nlength = 8\nrepeat = \"some\"",
                "mapping[0].repeat: unknown value",
            ),
        ] {
            let e = parse(&format!("{sflow}{extra}\n")).unwrap_err();
            assert!(e.starts_with(want), "{extra}: {e}");
        }
        let e = parse("[[mapping]]\nsource = \"netflow9\"\nfield = 1\npen = 9\nnumber = 1000\nname = \"a\"\ntype = \"uint\"\n").unwrap_err();
        assert!(e.starts_with("mapping[0].pen: NetFlow v9"), "{e}");
        let e = parse("[[mapping]]\nsource = \"ipfix\"\nfield = 1\nnumber = 19500\nname = \"a\"\ntype = \"uint\"\n").unwrap_err();
        assert!(e.starts_with("mapping[0].number: 19500"), "{e}");
    }
}
