//! sFlow sampled-header bits mapped and compared, sample by sample, with the header bytes and
//! the fields tshark shows (part of the `mapping` test).

use super::{common, json_lines, replay, temp_file};
use serde_json::Value;

#[test]
fn sflow_header_bits_match_tshark() {
    let Some(root) = common::captures_root("sflow_header_bits_match_tshark") else {
        return;
    };
    let config = temp_file(
        "sflow.toml",
        r#"
[[mapping]]
source = "sflow"
layer = "header"
offset = 0
length = 14
unit = "bytes"
number = 1000
name = "head14"
type = "bytes"

[[mapping]]
source = "sflow"
layer = "ipv4"
offset = 96
length = 64
number = 1001
name = "ip_addrs"
type = "bytes"

[[mapping]]
source = "sflow"
layer = "ipv4"
offset = 4
length = 4
number = 1002
name = "ihl"
type = "uint"

[[mapping]]
source = "sflow"
layer = "tcp"
offset = 0
length = 32
number = 1003
name = "tcp_ports"
type = "uint"

[[mapping]]
source = "sflow"
layer = "udp"
offset = 0
length = 32
number = 1004
name = "udp_ports"
type = "uint"
"#,
    );
    let mut compared = 0;
    for case in common::list_cases(&root, "sflow5") {
        let Some(oracle) = &case.oracle else { continue };
        let frames: Value = serde_json::from_slice(&common::read_maybe_gz(oracle)).unwrap();
        let mut ours: Vec<String> = json_lines(&replay(&config, "goflow2", "json", &case.pcap))
            .iter()
            .filter(|f| f.get("head14").is_some())
            .map(|f| {
                format!(
                    "{} {} {} {} {}",
                    f["head14"], f["ip_addrs"], f["ihl"], f["tcp_ports"], f["udp_ports"]
                )
            })
            .collect();
        let mut theirs = Vec::new();
        for frame in frames.as_array().unwrap() {
            let Some(sflow) = frame["_source"]["layers"].get("sflow") else {
                continue;
            };
            for s in samples(sflow) {
                let Some(h) = s.get("Raw packet header") else {
                    continue;
                };
                let Some(hex) = tshark_str(h, "sflow_245.header") else {
                    continue;
                };
                let bytes: Vec<u8> = hex
                    .split(':')
                    .map(|b| u8::from_str_radix(b, 16).unwrap())
                    .collect();
                if bytes.len() < 14 {
                    continue;
                }
                theirs.push(expected_header(h, &bytes));
            }
        }
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{}", case.id());
        compared += theirs.len();
    }
    assert!(compared > 10, "only {compared} sampled headers compared");
    eprintln!("{compared} sampled headers: mapped bits agree with tshark");
}

/// Every flow sample of an sFlow layer (tshark repeats keys as arrays).
fn samples(sflow: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for layer in each(sflow) {
        let Some(o) = layer.as_object() else { continue };
        for (k, v) in o {
            if k.starts_with("Flow sample") || k.starts_with("Expanded flow sample") {
                out.extend(each(v));
            }
        }
    }
    out
}

fn each(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

fn tshark_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v.get(key)? {
        Value::String(s) => Some(s),
        Value::Array(a) => a.first()?.as_str(),
        _ => None,
    }
}

/// The mapped values of one sample as tshark shows its header: the first 14 bytes, the first
/// IPv4 header's addresses and IHL (tshark's `ip.*` of the header tree), the TCP or UDP
/// ports as one 32-bit number (`tcp.srcport`, `tcp.dstport`, or UDP's).
fn expected_header(h: &Value, bytes: &[u8]) -> String {
    let hex = |b: &[u8]| {
        let s: String = b.iter().map(|x| format!("{x:02x}")).collect();
        Value::from(s)
    };
    let tree = h.get("sflow_245.header_tree");
    let find = |k: &str| tree.and_then(|t| find_str(t, k));
    let first_ip = |k: &str| find(k).map(|s| s.parse::<std::net::Ipv4Addr>().unwrap().octets());
    let (addrs, ihl) = match (first_ip("ip.src"), first_ip("ip.dst"), find("ip.hdr_len")) {
        (Some(s), Some(d), Some(l)) => (
            hex(&[s, d].concat()),
            Value::from(l.parse::<u64>().unwrap() / 4),
        ),
        _ => (Value::Null, Value::Null),
    };
    let ports = |t: &str| match (find(&format!("{t}.srcport")), find(&format!("{t}.dstport"))) {
        (Some(sp), Some(dp)) => {
            Value::from(sp.parse::<u64>().unwrap() << 16 | dp.parse::<u64>().unwrap())
        }
        _ => Value::Null,
    };
    format!(
        "{} {addrs} {ihl} {} {}",
        hex(&bytes[..14]),
        ports("tcp"),
        ports("udp")
    )
}

/// The first value of `key` anywhere under `v` (depth first, in document order).
fn find_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v {
        Value::Object(o) => {
            if let Some(s) = o.get(key).and_then(|x| match x {
                Value::String(s) => Some(s.as_str()),
                Value::Array(a) => a.first().and_then(Value::as_str),
                _ => None,
            }) {
                return Some(s);
            }
            o.values().find_map(|x| find_str(x, key))
        }
        Value::Array(a) => a.iter().find_map(|x| find_str(x, key)),
        _ => None,
    }
}
