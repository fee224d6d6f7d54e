//! `[[mapping]]` end to end, through the binary (`coreflow replay --config FILE`):
//!
//! - vendor elements of real captures (Cisco NBAR application ids, ntop nProbe L7 protocols
//!   in NetFlow v9 and IPFIX, Ixia enterprise strings and addresses, a Juniper element the
//!   template repeats) mapped to fields and compared, flow by flow, with tshark's value of
//!   the same element (`<case>.pcap.tshark.json`, read with the NetFlow oracle's reader);
//! - sFlow sampled-header bits (the header's first bytes, the IPv4 addresses, the IHL nibble,
//!   the ports) compared, sample by sample, with the header bytes and fields tshark shows;
//! - the `.proto` lines `coreflow --print-mapping-proto` prints, added to each schema's
//!   `.proto` and compiled (protox), decode the protobuf messages (prost-reflect) to the same
//!   mapped values as the JSON output;
//! - a bad entry is one line naming it, exit status 2 (collector, replay, proto printer).
//!
//! The captures are in `../shared/captures`; without them the capture checks skip with a
//! message (the CLI checks still run).

mod common;
#[path = "mapping/sflow.rs"]
mod sflow;
#[path = "oracle_netflow/tshark.rs"]
mod tshark;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn coreflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coreflow"))
        .args(args)
        .output()
        .expect("run the coreflow binary")
}

/// Writes `text` to a file of this test process and returns its path.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coreflow-mapping-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `coreflow replay --config CONFIG --schema SCHEMA --format FORMAT PCAP`: stdout.
fn replay(config: &Path, schema: &str, format: &str, pcap: &Path) -> Vec<u8> {
    let out = coreflow(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--schema",
        schema,
        "--format",
        format,
        pcap.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "replay {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("a JSON object per line"))
        .collect()
}

/// How tshark shows the element, as the JSON output writes it.
#[derive(Clone, Copy)]
enum Shown {
    /// A decimal or 0x number: a JSON number.
    Uint,
    /// Cisco's application id as tshark splits it (engine id, 3-byte selector): a number.
    AppId,
    /// Text: a JSON string.
    Text,
    /// Juniper's common-properties element as tshark splits it: a 6-bit property id (the
    /// key, here the CPID) over a 26-bit value (`cflow.pie.juniper.resiliency.cpdesc`).
    JuniperProperty,
}

struct ElementCase {
    case: &'static str,
    toml: &'static str,
    /// (JSON key, tshark key, how tshark shows it)
    checks: &'static [(&'static str, &'static str, Shown)],
}

const ELEMENT_CASES: &[ElementCase] = &[
    ElementCase {
        case: "netflow9/logstash-nf9-cisco-nbar",
        toml: r#"
[[mapping]]
source = "netflow9"
field = 95
number = 1000
name = "app_id"
type = "uint"
"#,
        checks: &[("app_id", "cflow.appl_id.selector_id", Shown::AppId)],
    },
    ElementCase {
        case: "netflow9/logstash-nf9-nprobe-dpi",
        toml: r#"
[[mapping]]
source = "netflow9"
field = 57590
number = 1000
name = "ntop_l7_proto"
type = "uint"

[[mapping]]
source = "netflow"
field = 95
number = 1001
name = "app_id"
type = "uint"
"#,
        checks: &[
            ("ntop_l7_proto", "cflow.pie.ntop.l7_proto", Shown::Uint),
            ("app_id", "cflow.appl_id.selector_id", Shown::AppId),
        ],
    },
    ElementCase {
        case: "ipfix/telegraf-ipfix-pen35632",
        toml: r#"
[[mapping]]
source = "ipfix"
pen = 35632
field = 118
number = 1000
name = "ntop_l7_proto"
type = "uint"

[[mapping]]
source = "ipfix"
pen = 35632
field = 123
number = 1001
name = "client_latency_ms"
type = "uint"
"#,
        checks: &[
            ("ntop_l7_proto", "cflow.pie.ntop.l7_proto", Shown::Uint),
            (
                "client_latency_ms",
                "cflow.pie.ntop.client_nw_latency_ms",
                Shown::Uint,
            ),
        ],
    },
    ElementCase {
        case: "ipfix/logstash-ipfix-ixia",
        toml: r#"
[[mapping]]
source = "ipfix"
pen = 3054
field = 110
number = 1000
name = "ixia_app_id"
type = "uint"

[[mapping]]
source = "ipfix"
pen = 3054
field = 111
number = 1001
name = "ixia_app_name"
type = "string"

[[mapping]]
source = "ipfix"
pen = 3054
field = 186
number = 1002
name = "ixia_src_as_name"
type = "string"

[[mapping]]
source = "ipfix"
pen = 3054
field = 193
number = 1003
name = "ixia_threat_ip"
type = "ip"
"#,
        checks: &[
            (
                "ixia_app_id",
                "cflow.pie.ixia.l7-application-id",
                Shown::Uint,
            ),
            (
                "ixia_app_name",
                "cflow.pie.ixia.l7-application-name",
                Shown::Text,
            ),
            (
                "ixia_src_as_name",
                "cflow.pie.ixia.src-as-name",
                Shown::Text,
            ),
            ("ixia_threat_ip", "cflow.pie.ixia.threat-ipv4", Shown::Text),
        ],
    },
    ElementCase {
        case: "ipfix/akvorado-ipfix-juniper-cpid",
        // the template carries enterprise element 137 six times; the first is the CPID
        toml: r#"
[[mapping]]
source = "ipfix"
pen = 2636
field = 137
number = 1000
name = "juniper_cpid"
type = "uint"
"#,
        checks: &[(
            "juniper_cpid",
            "cflow.pie.juniper.resiliency.cpid",
            Shown::JuniperProperty,
        )],
    },
];

/// What tshark's record says the JSON value is.
fn expected(r: &tshark::Record, key: &str, shown: Shown) -> Option<Value> {
    let v = r.first(key)?;
    Some(match shown {
        Shown::Uint => Value::from(tshark::parse_uint(v).expect("a number")),
        Shown::AppId => {
            let engine = tshark::parse_uint(r.first("cflow.appl_id.classification_engine_id")?)?;
            let selector = u64::from_str_radix(&v.replace(':', ""), 16).ok()?;
            Value::from(engine << 24 | selector)
        }
        Shown::Text => Value::from(v),
        Shown::JuniperProperty => {
            let desc = tshark::parse_uint(r.first("cflow.pie.juniper.resiliency.cpdesc")?)?;
            Value::from(tshark::parse_uint(v)? << 26 | desc)
        }
    })
}

#[test]
fn vendor_elements_match_tshark() {
    let Some(root) = common::captures_root("vendor_elements_match_tshark") else {
        return;
    };
    for c in ELEMENT_CASES {
        let (proto, name) = c.case.split_once('/').unwrap();
        let dir = root.join(proto).join(name);
        let pcap = dir.join(format!("{name}.pcap"));
        let oracle = tshark::parse(&common::read_maybe_gz(
            &dir.join(format!("{name}.pcap.tshark.json")),
        ))
        .unwrap_or_else(|e| panic!("{}: {e}", c.case));
        let records: Vec<&tshark::Record> = oracle
            .records()
            .filter(|r| {
                matches!(
                    r.kind,
                    tshark::RecordKind::Data | tshark::RecordKind::DataUnknownTemplate
                )
            })
            .collect();
        let config = temp_file(&format!("{name}.toml"), c.toml);
        for schema in ["goflow2", "goflow-v2"] {
            let flows = json_lines(&replay(&config, schema, "json", &pcap));
            assert_eq!(flows.len(), records.len(), "{}: flows", c.case);
            let mut compared = 0;
            for (i, (ours, theirs)) in flows.iter().zip(&records).enumerate() {
                for &(key, tkey, shown) in c.checks {
                    let want = expected(theirs, tkey, shown);
                    assert_eq!(
                        ours.get(key),
                        want.as_ref(),
                        "{} ({schema}) flow {i}: {key} vs tshark {tkey}",
                        c.case
                    );
                    compared += usize::from(want.is_some());
                }
            }
            assert!(compared > 0, "{}: nothing compared", c.case);
            eprintln!(
                "{} ({schema}): {compared} mapped values agree with tshark",
                c.case
            );
        }
    }
}

/// `repeat = "all"` takes every occurrence the template carries (Juniper's element 137, six
/// times, of 4 and 2 bytes), `last` the last; as bytes, each is what tshark's template says.
#[test]
fn repeated_vendor_element() {
    let Some(root) = common::captures_root("repeated_vendor_element") else {
        return;
    };
    let name = "akvorado-ipfix-juniper-cpid";
    let pcap = root.join("ipfix").join(name).join(format!("{name}.pcap"));
    let config = temp_file(
        "juniper-all.toml",
        r#"
[[mapping]]
source = "ipfix"
pen = 2636
field = 137
number = 1000
name = "juniper_all"
type = "bytes"
repeat = "all"

[[mapping]]
source = "ipfix"
pen = 2636
field = 137
number = 1001
name = "juniper_last"
type = "bytes"
repeat = "last"
"#,
    );
    let flows = json_lines(&replay(&config, "goflow2", "json", &pcap));
    assert!(!flows.is_empty());
    for f in &flows {
        let all = f["juniper_all"].as_array().expect("a list");
        let lens: Vec<usize> = all.iter().map(|v| v.as_str().unwrap().len() / 2).collect();
        assert_eq!(lens, [4, 2, 4, 4, 4, 4], "{f}");
        // the CPID property (id 1 in the top 6 bits, tshark's `cpid` 0x00000001)
        assert_eq!(all[0], "04000000");
        assert_eq!(f["juniper_last"], all[5]);
    }
}

/// The entries the proto test maps: every type, `all`, an enterprise element.
const PROTO_TOML: &str = r#"
[[mapping]]
source = "ipfix"
pen = 3054
field = 110
number = 1000
name = "ixia_app_id"
type = "uint"

[[mapping]]
source = "ipfix"
pen = 3054
field = 111
number = 1001
name = "ixia_app_name"
type = "string"

[[mapping]]
source = "ipfix"
pen = 3054
field = 193
number = 1002
name = "ixia_threat_ip"
type = "ip"

[[mapping]]
source = "ipfix"
field = 7
number = 5000
name = "ports_all"
type = "uint"
repeat = "all"

[[mapping]]
source = "ipfix"
pen = 3054
field = 186
number = 100000
name = "ixia_src_as_raw"
type = "bytes"
repeat = "all"
"#;

/// `schema`'s `.proto` with the printed field lines added to its `FlowMessage`.
fn proto_with(schema: &str, file: &str, printed: &str) -> String {
    let fields: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains(" = "))
        .collect();
    assert!(!fields.is_empty(), "{printed}");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("proto")
            .join(file),
    )
    .unwrap();
    let start = text.find("message FlowMessage {").expect(schema);
    // the message's closing brace (nested enums have their own)
    let mut depth = 0;
    let mut end = None;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = Some(start + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = end.expect("the message's end");
    format!("{}{}\n{}", &text[..end], fields.join("\n"), &text[end..])
}

/// Splits varint-delimited messages.
fn delimited(mut b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (mut n, mut shift, mut i) = (0usize, 0, 0);
        loop {
            let x = b[i];
            n |= usize::from(x & 0x7f) << shift;
            shift += 7;
            i += 1;
            if x & 0x80 == 0 {
                break;
            }
        }
        out.push(&b[i..i + n]);
        b = &b[i + n..];
    }
    out
}

/// A mapped value of a decoded message as the JSON output writes it.
fn as_json(v: &prost_reflect::Value, ip: bool) -> Value {
    use prost_reflect::Value as V;
    match v {
        V::U64(n) => Value::from(*n),
        V::String(s) => Value::from(s.as_str()),
        V::Bytes(b) if ip => Value::from(match b.len() {
            4 => std::net::IpAddr::from(<[u8; 4]>::try_from(&b[..]).unwrap()).to_string(),
            _ => std::net::IpAddr::from(<[u8; 16]>::try_from(&b[..]).unwrap()).to_string(),
        }),
        V::Bytes(b) => Value::from(b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        V::List(l) => Value::Array(l.iter().map(|x| as_json(x, ip)).collect()),
        other => panic!("unexpected value {other:?}"),
    }
}

/// The printed `.proto` lines, compiled into each schema, decode the protobuf output: every
/// mapped field at its number and type, with the value the JSON output shows.
#[test]
fn printed_proto_decodes_the_messages() {
    let Some(root) = common::captures_root("printed_proto_decodes_the_messages") else {
        return;
    };
    let name = "logstash-ipfix-ixia";
    let pcap = root.join("ipfix").join(name).join(format!("{name}.pcap"));
    let config = temp_file("proto.toml", PROTO_TOML);
    for (schema, file) in [
        ("goflow-v2", "goflow_v2.proto"),
        ("goflow-v3", "goflow_v3.proto"),
        ("goflow2", "goflow2.proto"),
    ] {
        let out = coreflow(&[
            "--print-mapping-proto",
            "--config",
            config.to_str().unwrap(),
            "--schema",
            schema,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout).unwrap();
        let dir =
            std::env::temp_dir().join(format!("coreflow-mapping-{}-{schema}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), proto_with(schema, file, &printed)).unwrap();
        let pool = protox::Compiler::new([&dir])
            .unwrap()
            .open_file(file)
            .unwrap_or_else(|e| panic!("{schema}: the printed lines do not compile: {e:?}"))
            .descriptor_pool();
        let desc = pool
            .all_messages()
            .find(|m| m.name() == "FlowMessage")
            .unwrap();
        let pb = replay(&config, schema, "pb", &pcap);
        let json = json_lines(&replay(&config, schema, "json", &pcap));
        let msgs = delimited(&pb);
        assert_eq!(msgs.len(), json.len(), "{schema}");
        let mut seen = 0;
        for (m, j) in msgs.iter().zip(&json) {
            let msg = prost_reflect::DynamicMessage::decode(desc.clone(), *m)
                .unwrap_or_else(|e| panic!("{schema}: {e}"));
            // nothing left unknown: every field of the message is declared
            assert_eq!(msg.unknown_fields().count(), 0, "{schema}");
            for key in [
                "ixia_app_id",
                "ixia_app_name",
                "ixia_threat_ip",
                "ports_all",
                "ixia_src_as_raw",
            ] {
                let f = desc.get_field_by_name(key).unwrap();
                let want = j.get(key).cloned().unwrap_or(Value::Null);
                let got = if msg.has_field(&f) {
                    as_json(&msg.get_field(&f), key.ends_with("_ip"))
                } else if f.is_list() {
                    Value::Null
                } else {
                    // proto3 has no presence for scalars: a zero is what the JSON shows
                    as_json(&msg.get_field(&f), false)
                };
                let want = match (&want, &got) {
                    (Value::Null, Value::Number(n)) if n.as_u64() == Some(0) => got.clone(),
                    _ => want,
                };
                assert_eq!(got, want, "{schema}: {key}");
                seen += usize::from(!want.is_null());
            }
        }
        assert!(seen > 0, "{schema}: no mapped value");
        eprintln!("{schema}: {seen} mapped values decoded with the printed .proto lines");
    }
}

/// A bad entry is one line that names it, exit status 2: for the collector, for `replay
/// --config` and for `--print-mapping-proto` (which also wants entries).
#[test]
fn bad_mapping_is_one_line_and_exit_2() {
    let bad = temp_file(
        "bad.toml",
        r#"
[[mapping]]
source = "ipfix"
field = 95
number = 1000
name = "app"
type = "uint"

[[mapping]]
source = "sflow"
offset = 40000
length = 8
number = 1001
name = "x"
type = "uint"
"#,
    );
    let reused = temp_file(
        "reused.toml",
        r#"
[[mapping]]
source = "ipfix"
field = 95
number = 1000
name = "app"
type = "uint"

[[mapping]]
source = "ipfix"
field = 96
number = 1000
name = "app_name"
type = "string"
"#,
    );
    let unknown_type = temp_file(
        "type.toml",
        "[[mapping]]\nsource = \"netflow9\"\nfield = 95\nnumber = 1000\nname = \"a\"\ntype = \"float\"\n",
    );
    let empty = temp_file("empty.toml", "");
    let b = bad.to_str().unwrap();
    let r = reused.to_str().unwrap();
    let t = unknown_type.to_str().unwrap();
    let e = empty.to_str().unwrap();
    for (args, want) in [
        (
            vec!["--check-config", "--config", b],
            "coreflow: mapping[1].offset: 40000 is out of range (0 to 32767)",
        ),
        (
            vec!["--config", r],
            "coreflow: mapping[1].number: 1000 is also mapping[0]'s number",
        ),
        (
            vec!["replay", "--config", t, "x.pcap"],
            "coreflow: mapping[0].type: unknown type \"float\" (uint, bytes, ip, string)",
        ),
        (
            vec!["--print-mapping-proto", "--config", e],
            "coreflow: --print-mapping-proto: no [[mapping]] entries in the configuration \
             (give --config FILE)",
        ),
    ] {
        let out = coreflow(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{want}\n"),
            "{args:?}"
        );
    }
}

/// `--check-config` writes the entries back as TOML that validates to the same entries.
#[test]
fn check_config_round_trips_the_entries() {
    let config = temp_file("round.toml", PROTO_TOML);
    let out = coreflow(&["--check-config", "--config", config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("[[mapping]]").count(), 5, "{text}");
    let again = temp_file("again.toml", &text);
    let out = coreflow(&["--print-mapping-proto", "--config", again.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let proto = String::from_utf8(out.stdout).unwrap();
    assert!(
        proto.contains("  repeated uint64 ports_all = 5000 [packed = false];"),
        "{proto}"
    );
    assert!(proto.contains("  string ixia_app_name = 1001;"), "{proto}");
}

/// The example of docs/configuration.md's "Field mapping" validates, and the `.proto` lines
/// shown there are what `--print-mapping-proto` prints for it.
#[test]
fn documented_example_is_true() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .unwrap();
    let section = &doc[doc.find("## Field mapping").expect("the section")..];
    let block = |fence: &str| {
        let start = section.find(fence).expect(fence) + fence.len();
        let end = start + section[start..].find("```").unwrap();
        section[start..end].to_string()
    };
    let config = temp_file("doc.toml", &block("```toml\n"));
    let out = coreflow(&[
        "--print-mapping-proto",
        "--config",
        config.to_str().unwrap(),
        "--schema",
        "goflow2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), block("```proto\n"));
}

/// The collector itself (workers, batches, file sink): flowgen's IPFIX and sFlow through a
/// running coreflow with entries over both; every flow carries its mapped fields, equal to
/// the fields coreflow decodes from the same bytes (ports).
#[test]
fn collector_writes_mapped_fields() {
    use common::harness::{report_field, run_flowgen, Collector};
    let c = Collector::builder().config(
        r#"
[[mapping]]
source = "netflow"
field = 7
number = 1000
name = "mapped_src_port"
type = "uint"

[[mapping]]
source = "sflow"
layer = "transport"
offset = 16
length = 16
number = 1001
name = "mapped_dst_port"
type = "uint"
"#,
    );
    let c = c.start(&["--schema", "goflow2"]);
    let mut records = 0;
    for (proto, target) in [("ipfix", c.netflow_addr()), ("sflow", c.sflow_addr())] {
        let report = run_flowgen(&[
            "--protocol",
            proto,
            "--target",
            &target.to_string(),
            "--exporters",
            "2",
            "--count",
            "20",
            "--rate",
            "2000",
            "--template-every",
            "5",
        ]);
        records += report_field(&report, "records");
    }
    c.wait_lines(records as usize);
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{status:?} {log:?}");
    assert_eq!(flows.len() as u64, records, "{log:?}");
    let (mut ipfix, mut sflow) = (0, 0);
    for f in &flows {
        match f["type"].as_str() {
            Some("IPFIX") => {
                assert_eq!(f["mapped_src_port"], f["src_port"], "{f}");
                ipfix += 1;
            }
            Some("SFLOW_5") if f["proto"] == "TCP" || f["proto"] == "UDP" => {
                assert_eq!(f["mapped_dst_port"], f["dst_port"], "{f}");
                sflow += 1;
            }
            _ => {}
        }
    }
    assert!(ipfix > 0 && sflow > 0, "{ipfix} {sflow}");
}
