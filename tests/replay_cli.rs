//! The `coreflow replay` command as a user runs it: output formats, schemas, exit codes.
//!
//! Every check runs on a hand-built NetFlow v5 capture (so it needs no shared captures) and,
//! when `../shared/captures` is present, also on a real one. The command's output must be
//! byte for byte what the library produces for the same datagrams, JSON keys must be field
//! names of the schema's `.proto`, and protobuf output must decode with the prost types.
//! goflow2's JSON is checked on a capture of each flow type: goflow2's keys, in its order,
//! each value of the type goflow2 writes there.

mod common;

use common::builders;
use coreflow::decode::Decoder;
use coreflow::encode::schema::Schema;
use coreflow::flow::FlowRecord;
use prost::Message;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn coreflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coreflow"))
        .args(args)
        .output()
        .expect("run the coreflow binary")
}

/// `coreflow replay --format FORMAT --schema goflow2 PCAP`, which must succeed.
fn replay_goflow2(pcap: &Path, format: &str) -> Output {
    let out = coreflow(&[
        "replay",
        "--format",
        format,
        "--schema",
        "goflow2",
        pcap.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}: {:?}\n{}",
        pcap.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A path of its own for each call (tests run in parallel threads of one process).
fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("replay_cli-{}-{n}-{name}", std::process::id()))
}

/// A v5 capture made here: two datagrams (5 and 30 records) from 192.0.2.1.
fn synthetic_capture() -> PathBuf {
    let path = tmp("v5.pcap");
    let pcap = builders::pcap_file(
        [192, 0, 2, 1],
        2055,
        &[builders::netflow5(5), builders::netflow5(30)],
    );
    std::fs::write(&path, pcap).expect("write temporary capture");
    path
}

/// The v5 captures to check: the synthetic one, and a real one when the captures are here.
fn captures() -> Vec<PathBuf> {
    let mut v = vec![synthetic_capture()];
    if let Some(root) = common::captures_root("replay_cli (real capture part)") {
        let cases = common::list_cases(&root, "netflow5");
        if let Some(c) = cases
            .iter()
            .find(|c| c.name == "graylog-nf5-pmacctd")
            .or(cases.first())
        {
            v.push(c.pcap.clone());
        }
    }
    v
}

/// The flows of a capture as the library decodes them (one decoder, file order).
fn library_flows(pcap: &Path) -> Vec<FlowRecord> {
    let data = std::fs::read(pcap).unwrap();
    let mut dec = Decoder::default();
    let mut out = Vec::new();
    coreflow::app::replay::decode_capture(&data, &mut dec, &mut |r: &FlowRecord| out.push(*r))
        .expect("decode_capture");
    out
}

/// Field names of `message FlowMessage` in a `.proto` file (nested enum values excluded).
fn proto_field_names(file: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .expect("read .proto");
    let mut names = BTreeSet::new();
    let mut depth = 0i32;
    let mut in_message = false;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if line.starts_with("message FlowMessage") {
            in_message = true;
        }
        let opens = line.matches('{').count() as i32;
        let closes = line.matches('}').count() as i32;
        if in_message && depth == 1 && line.contains('=') && line.ends_with(';') {
            // `[repeated] type Name = number;`
            let lhs = line.split('=').next().unwrap_or("");
            if let Some(name) = lhs.split_whitespace().last() {
                names.insert(name.to_string());
            }
        }
        depth += opens - closes;
        if in_message && depth == 0 && closes > 0 {
            in_message = false;
        }
    }
    assert!(names.len() > 20, "{file}: found only {names:?}");
    names
}

#[test]
fn json_output_is_the_library_encoding_with_schema_names() {
    let names = proto_field_names("proto/goflow_v2.proto");
    for pcap in captures() {
        let flows = library_flows(&pcap);
        assert!(!flows.is_empty(), "{}: no flows decoded", pcap.display());
        let out = coreflow(&["replay", "--format", "json", pcap.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}: {:?}\n{}",
            pcap.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );

        let mut expected = Vec::new();
        for r in &flows {
            Schema::GoflowV2.encode_json(r, &mut expected);
            expected.push(b'\n');
        }
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&expected),
            "{}: replay --format json differs from the library's goflow-v2 JSON",
            pcap.display()
        );

        let text = String::from_utf8(out.stdout).expect("JSON output is UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), flows.len());
        for (line, r) in lines.iter().zip(&flows) {
            let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            let obj = v.as_object().expect("each line is a JSON object");
            for k in obj.keys() {
                assert!(
                    names.contains(k),
                    "JSON key {k:?} is not a field of goflow_v2.proto FlowMessage"
                );
            }
            assert_eq!(obj["Type"], "NFV5");
            assert_eq!(obj["Bytes"], r.bytes);
            assert_eq!(obj["Packets"], r.packets);
            assert_eq!(
                obj["SrcIP"],
                r.src_addr.to_ip().expect("v5 source").to_string()
            );
            assert_eq!(
                obj["RouterAddr"],
                r.sampler_address.to_ip().expect("exporter").to_string()
            );
        }
    }
}

#[test]
fn pb_goflow2_output_decodes_with_prost() {
    let names = proto_field_names("proto/goflow2.proto");
    assert!(names.contains("src_addr") && names.contains("time_flow_start_ns"));
    for pcap in captures() {
        let flows = library_flows(&pcap);
        let out = replay_goflow2(&pcap, "pb");
        let mut expected = Vec::new();
        for r in &flows {
            Schema::Goflow2.encode_pb_delimited(r, &mut expected);
        }
        assert!(
            out.stdout == expected,
            "{}: replay --format pb --schema goflow2 differs from the library encoding",
            pcap.display()
        );

        let mut buf = &out.stdout[..];
        let mut n = 0;
        while !buf.is_empty() {
            let m = coreflow::pb::goflow2::FlowMessage::decode_length_delimited(&mut buf)
                .expect("a length-delimited goflow2 FlowMessage");
            let r = &flows[n];
            assert_eq!(m.r#type, 2, "NETFLOW_V5");
            assert_eq!(m.src_addr, r.src_addr.as_slice());
            assert_eq!(m.dst_addr, r.dst_addr.as_slice());
            assert_eq!(m.sampler_address, r.sampler_address.as_slice());
            assert_eq!((m.bytes, m.packets), (r.bytes, r.packets));
            assert_eq!(
                (m.src_port, m.dst_port, m.proto),
                (r.src_port, r.dst_port, r.proto)
            );
            assert_eq!((m.in_if, m.out_if), (r.in_if, r.out_if));
            assert_eq!(m.sampling_rate, r.sampling_rate);
            assert_eq!(m.sequence_num, r.sequence_num);
            assert_eq!(m.time_received_ns, r.time_received_ns);
            assert_eq!(m.time_flow_start_ns, r.time_flow_start_ns);
            assert_eq!(m.time_flow_end_ns, r.time_flow_end_ns);
            assert_eq!(m.tcp_flags, r.tcp_flags);
            assert_eq!((m.src_as, m.dst_as), (r.src_as, r.dst_as));
            n += 1;
        }
        assert_eq!(n, flows.len(), "{}: one message per flow", pcap.display());
    }
}

#[test]
fn synthetic_capture_values() {
    // the hand-built capture decodes to what the builder wrote (guards the helpers above)
    let flows = library_flows(&synthetic_capture());
    assert_eq!(flows.len(), 35);
    let r = &flows[5 + 7];
    assert_eq!(r.src_addr.to_ip().unwrap().to_string(), "10.0.0.7");
    assert_eq!(r.bytes, 1500 * 8);
    assert_eq!((r.in_if, r.out_if, r.proto, r.dst_port), (3, 4, 6, 443));
    assert_eq!(r.sampling_rate, 64);
    assert_eq!(r.sampler_address.to_ip().unwrap().to_string(), "192.0.2.1");
}

#[test]
fn unreadable_file_exits_non_zero() {
    let missing = tmp("does-not-exist.pcap");
    let out = coreflow(&["replay", missing.to_str().unwrap()]);
    assert!(!out.status.success(), "{:?}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does-not-exist.pcap"),
        "the error names the file: {err}"
    );

    let garbage = tmp("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture file at all").unwrap();
    let out = coreflow(&["replay", garbage.to_str().unwrap()]);
    assert!(!out.status.success(), "not a pcap: {:?}", out.status);

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = coreflow(&["replay", dir.to_str().unwrap()]);
    assert!(!out.status.success(), "a directory: {:?}", out.status);
}

#[test]
fn usage_errors_exit_2() {
    let pcap = synthetic_capture();
    let p = pcap.to_str().unwrap();
    for args in [
        &["replay", "--schema", "goflow-v9", p][..],
        &["replay", "--schema=nope", p][..],
        &["replay", "--format", "xml", p][..],
        &["replay", "--no-such-flag", p][..],
        &["replay"][..],
    ] {
        let out = coreflow(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        assert!(!out.stderr.is_empty(), "{args:?}: a message on stderr");
    }
}

/// Field names of `message FlowMessage` in declaration order: the keys of goflow2's JSON,
/// in the order goflow2 writes them (its formatter walks the generated Go struct). coreflow's
/// opt-in fields (numbers >= 1000: `collector_instance`, with `output.instance_field`) are
/// not goflow2's and not written by default: left out.
fn proto_fields_in_order(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .expect("read .proto");
    let mut names = Vec::new();
    let mut depth = 0i32;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if depth == 1 && line.contains('=') && line.ends_with(';') {
            let (lhs, rhs) = line.split_once('=').unwrap_or_default();
            let number: u32 = rhs.trim_end_matches(';').trim().parse().unwrap_or(0);
            if number < 1000 {
                names.push(lhs.split_whitespace().last().unwrap().to_string());
            }
        }
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
    }
    names
}

/// The top-level keys of one JSON object line, in the order written.
fn keys_in_order(line: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut de = serde_json::Deserializer::from_str(line);
    struct Keys<'a>(&'a mut Vec<String>);
    impl<'de> serde::de::Visitor<'de> for Keys<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                self.0.push(k);
            }
            Ok(())
        }
    }
    serde::Deserializer::deserialize_map(&mut de, Keys(&mut keys)).expect("a JSON object");
    keys
}

/// Captures of each flow type with what goflow2 names the type: the synthetic v5 capture,
/// and real NetFlow v5/v9, IPFIX (IPv6, MPLS) and sFlow (MACs, VLANs, layers) ones when the
/// shared captures are here.
fn typed_captures() -> Vec<(PathBuf, &'static str)> {
    let mut v: Vec<_> = captures().into_iter().map(|p| (p, "NETFLOW_V5")).collect();
    if let Some(root) = common::captures_root("replay_cli goflow2 JSON (real captures part)") {
        for (dir, case, ty) in [
            ("netflow9", "logstash-nf9-macaddr", "NETFLOW_V9"),
            ("netflow9", "pmacct-101-nf9-cisco", "NETFLOW_V9"),
            ("ipfix", "pmacct-501-ipfix-ipv6-cisco-mpls", "IPFIX"),
            ("ipfix", "akvorado-mpls", "IPFIX"),
            ("sflow5", "lcsflow-flow-eth-vlan", "SFLOW_5"),
            ("sflow5", "tcpdump-sflow-v6", "SFLOW_5"),
        ] {
            let pcap = root.join(dir).join(case).join(format!("{case}.pcap"));
            if pcap.is_file() {
                v.push((pcap, ty));
            } else {
                eprintln!("note: {} is absent, not checked", pcap.display());
            }
        }
    }
    v
}

/// Checks one goflow2 JSON value by the type goflow2's formatter gives its key.
fn check_goflow2_value(k: &str, v: &serde_json::Value, ty: &str, line: &str) {
    use serde_json::Value;
    let ip = |s: &str| s.is_empty() || s.parse::<std::net::IpAddr>().is_ok();
    let ok = match k {
        "type" => v == ty,
        "sampler_address" | "src_addr" | "dst_addr" | "next_hop" | "bgp_next_hop" => {
            v.as_str().is_some_and(ip)
        }
        "src_mac" | "dst_mac" => v.as_str().is_some_and(|s| {
            s.len() == 17
                && s.split(':')
                    .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()))
        }),
        "etype" => matches!(v.as_str(), Some("IPv4" | "IPv6" | "ARP" | "")),
        "proto" => v.as_str().is_some_and(|s| !s.is_empty()),
        "src_net" | "dst_net" => v.as_str().is_some_and(|s| {
            s == "invalid Prefix"
                || s.split_once('/').is_some_and(|(a, n)| {
                    let bits: u32 = n.parse().unwrap_or(999);
                    match a.parse::<std::net::IpAddr>() {
                        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
                        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
                        Err(_) => false,
                    }
                })
        }),
        "bgp_communities" | "as_path" | "mpls_ttl" | "mpls_label" | "layer_size" => {
            v.as_array().is_some_and(|a| {
                a.iter()
                    .all(|x| x.as_u64().is_some_and(|n| n <= u32::MAX.into()))
            })
        }
        "mpls_ip" | "ipv6_routing_header_addresses" => v
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x.as_str().is_some_and(ip))),
        "layer_stack" => v.as_array().is_some_and(|a| {
            a.iter().all(|x| {
                matches!(
                    x.as_str(),
                    Some(
                        "Ethernet"
                            | "IPv4"
                            | "IPv6"
                            | "TCP"
                            | "UDP"
                            | "MPLS"
                            | "Dot1Q"
                            | "ICMP"
                            | "ICMPv6"
                            | "GRE"
                            | "IPv6HeaderRouting"
                            | "IPv6HeaderFragment"
                            | "Geneve"
                            | "Teredo"
                            | "Custom"
                    )
                )
            })
        }),
        // every other field of goflow2's message is an unsigned number
        _ => matches!(v, Value::Number(n) if n.as_u64().is_some()),
    };
    assert!(ok, "{k}: {v} is not what goflow2 writes there\n{line}");
}

/// `replay --format json --schema goflow2`: every line has goflow2's keys (all fields of
/// `flowpb.FlowMessage`, in declaration order, zeros included) and each value has the type
/// goflow2 writes there; the output is the library's goflow2 JSON.
#[test]
fn json_goflow2_has_goflow2_keys_and_value_types() {
    let declared = proto_fields_in_order("proto/goflow2.proto");
    assert_eq!(declared.len(), 50, "{declared:?}");
    for (pcap, ty) in typed_captures() {
        let flows = library_flows(&pcap);
        assert!(!flows.is_empty(), "{}: no flows decoded", pcap.display());
        let out = replay_goflow2(&pcap, "json");
        let mut expected = Vec::new();
        for r in &flows {
            Schema::Goflow2.encode_json(r, &mut expected);
            expected.push(b'\n');
        }
        assert!(
            out.stdout == expected,
            "{}: replay --format json --schema goflow2 differs from the library encoding",
            pcap.display()
        );

        let text = String::from_utf8(out.stdout).expect("JSON output is UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), flows.len(), "{}", pcap.display());
        for (line, r) in lines.iter().zip(&flows) {
            assert_eq!(keys_in_order(line), declared, "{}: {line}", pcap.display());
            let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            for (k, val) in v.as_object().expect("an object") {
                check_goflow2_value(k, val, ty, line);
            }
            assert_eq!(v["bytes"], r.bytes);
            assert_eq!(v["packets"], r.packets);
            assert_eq!(v["time_received_ns"], r.time_received_ns);
            let text_of =
                |a: coreflow::flow::Addr| a.to_ip().map_or(String::new(), |ip| ip.to_string());
            assert_eq!(v["src_addr"], text_of(r.src_addr));
            assert_eq!(v["sampler_address"], text_of(r.sampler_address));
        }
        eprintln!("{}: {} {ty} flows checked", pcap.display(), lines.len());
    }
}
