//! The collector end to end, on loopback: `flowgen` (or hand-built datagrams) -> `coreflow`
//! (file sink, JSON lines) -> every flow checked against what was sent. Every wait is bounded.
//!
//! The v9/IPFIX/sFlow cases need the decoders of the `nf` and `sflow` branches; they are
//! `` until those are merged (run with `--include-ignored`).

mod common;

use common::harness::{
    exit_summary, now_ns, report_field, run_flowgen, Collector, TempDir, COREFLOW,
};
use coreflow_flowgen::{Exporter, GenOptions, GenProtocol};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What flowgen reported sending.
#[derive(Debug, Default)]
struct Sent {
    datagrams: u64,
    records: u64,
    bytes: u64,
    packets: u64,
    errors: u64,
}

fn flowgen(args: &[&str]) -> Sent {
    let report = run_flowgen(args);
    Sent {
        datagrams: report_field(&report, "datagrams"),
        records: report_field(&report, "records"),
        bytes: report_field(&report, "bytes"),
        packets: report_field(&report, "packets"),
        errors: report_field(&report, "errors"),
    }
}

fn sum(flows: &[Value], key: &str) -> u64 {
    flows.iter().map(|f| f[key].as_u64().unwrap_or(0)).sum()
}

/// Every record sent came out once, with exact byte and packet sums, and nothing was lost on
/// the way (the exit summary has no drop of any kind).
fn check_all_arrived(sent: &Sent, flows: &[Value], log: &[String]) {
    assert_eq!(sent.errors, 0, "flowgen send errors");
    assert_eq!(
        flows.len() as u64,
        sent.records,
        "flows written; log: {log:?}"
    );
    assert_eq!(sum(flows, "Bytes"), sent.bytes, "byte sum");
    assert_eq!(sum(flows, "Packets"), sent.packets, "packet sum");
    let summary = exit_summary(log);
    for zero in [
        "kernel_drops=0",
        "sequence_gaps=0",
        "truncated=0",
        "channel_dropped_flows=0",
        "write_failed=0",
        "decode_errors=0",
    ] {
        assert!(summary.contains(zero), "{zero} in {summary}");
    }
    assert!(
        summary.contains(&format!("datagrams={} ", sent.datagrams)),
        "{summary}"
    );
}

fn run_protocol(protocol: &str, sockets: usize, exporters: usize, count: usize) {
    let c = Collector::builder().sockets(sockets).start(&[]);
    let target = if protocol == "sflow" {
        c.sflow_addr()
    } else {
        c.netflow_addr()
    }
    .to_string();
    let (e, n) = (exporters.to_string(), count.to_string());
    let sent = flowgen(&[
        "--protocol",
        protocol,
        "--target",
        &target,
        "--exporters",
        &e,
        "--count",
        &n,
        "--rate",
        "20000",
        "--template-every",
        "10",
        // small sendmmsg batches: every exporter sends, whatever the count
        "--batch",
        "4",
    ]);
    c.wait_lines(sent.records as usize);
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{status:?} {log:?}");
    check_all_arrived(&sent, &flows, &log);
    let routers: BTreeSet<&str> = flows
        .iter()
        .filter_map(|f| f["RouterAddr"].as_str())
        .collect();
    assert_eq!(routers.len(), exporters, "{routers:?}");
}

#[test]
fn v5_every_flow_arrives_1_socket() {
    run_protocol("v5", 1, 4, 200);
}

#[test]
fn v5_every_flow_arrives_2_sockets() {
    run_protocol("v5", 2, 8, 400);
}

#[test]
fn v5_every_flow_arrives_4_sockets() {
    run_protocol("v5", 4, 16, 400);
}

#[test]

fn v9_every_flow_arrives() {
    for sockets in [1, 2, 4] {
        run_protocol("v9", sockets, 8, 200);
    }
}

#[test]

fn ipfix_every_flow_arrives() {
    for sockets in [1, 2, 4] {
        run_protocol("ipfix", sockets, 8, 200);
    }
}

#[test]

fn sflow_every_sample_arrives() {
    for sockets in [1, 2, 4] {
        run_protocol("sflow", sockets, 8, 200);
    }
}

/// v5 sequence numbers count flows: per exporter, the datagrams' sequences are 0, 30, 60...
/// each carried by 30 flows; times are the kernel's receive time.
#[test]
fn v5_sequences_and_receive_time() {
    let c = Collector::builder().sockets(2).start(&[]);
    let sent = flowgen(&[
        "--target",
        &c.netflow_addr().to_string(),
        "--exporters",
        "3",
        "--count",
        "30",
    ]);
    c.wait_lines(sent.records as usize);
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{log:?}");
    check_all_arrived(&sent, &flows, &log);
    let mut per: BTreeMap<(String, u64), usize> = BTreeMap::new();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for f in &flows {
        let key = (
            f["RouterAddr"].as_str().unwrap().to_string(),
            f["SequenceNum"].as_u64().unwrap_or(0),
        );
        *per.entry(key).or_default() += 1;
        let t = f["TimeRecvd"].as_u64().unwrap();
        assert!(t + 60 >= now && t <= now + 1, "TimeRecvd {t}");
        assert_eq!(f["Type"], "NFV5");
    }
    for ((_, seq), n) in &per {
        assert_eq!(*n, 30);
        assert_eq!(seq % 30, 0);
    }
    assert_eq!(per.len(), 30);
}

/// The dual-stack listener takes IPv6 exporters too.
#[test]
fn v5_over_ipv6() {
    let c = Collector::builder().sockets(2).start(&[]);
    let target = format!("[::1]:{}", c.netflow_port);
    let sent = flowgen(&["--target", &target, "--exporters", "2", "--count", "20"]);
    c.wait_lines(sent.records as usize);
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{log:?}");
    check_all_arrived(&sent, &flows, &log);
    assert!(flows.iter().all(|f| f["RouterAddr"] == "::1"));
}

/// Templates from one source port, data from others: the CBPF program steers by address only,
/// so the data reaches the worker that learned the templates.
fn templates_follow_exporter(protocol: GenProtocol) {
    let c = Collector::builder().sockets(2).start(&[]);
    let dst = c.netflow_addr();
    let mut expected = 0u64;
    let mut bytes = 0u64;
    let now = now_ns();
    let opts = GenOptions {
        template_every: 0,
        ..GenOptions::new(protocol)
    };
    for i in 0..8u32 {
        let ip: IpAddr = format!("127.0.5.{}", i + 1).parse().unwrap();
        let mut e = Exporter::new(i, ip, opts, now);
        let mut d = Vec::new();
        // templates (and sampling options) from one port...
        e.build(now, true, false, &mut d);
        let a = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
        a.send_to(&d, dst).unwrap();
        drop(a);
        std::thread::sleep(Duration::from_millis(20));
        // ...data from three others
        for _ in 0..3 {
            let b = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
            d.clear();
            let s = e.build(now, false, true, &mut d);
            expected += s.records;
            bytes += s.bytes;
            b.send_to(&d, dst).unwrap();
        }
    }
    c.wait_lines(expected as usize);
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{log:?}");
    assert_eq!(flows.len() as u64, expected, "{log:?}");
    assert_eq!(sum(&flows, "Bytes"), bytes);
    assert!(flows.iter().all(|f| f["SamplingRate"] == 1000));
}

#[test]

fn v9_exporter_changing_source_port_keeps_its_templates() {
    templates_follow_exporter(GenProtocol::V9);
}

#[test]

fn ipfix_exporter_changing_source_port_keeps_its_templates() {
    templates_follow_exporter(GenProtocol::Ipfix);
}

/// SIGTERM right after a burst: batches that are neither full nor old (flush_ms is long) are
/// flushed at shutdown, datagrams already queued on the sockets are drained first, and the
/// exit status is 0.
#[test]
fn sigterm_after_burst_writes_everything() {
    let c = Collector::builder()
        .sockets(2)
        .config("[batch]\nflush_ms = 10000\nmessages = 100000\nbytes = 67108864\n")
        .start(&[]);
    let sent = flowgen(&[
        "--target",
        &c.netflow_addr().to_string(),
        "--exporters",
        "8",
        "--count",
        "500",
    ]);
    // no wait: stop at once
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{status:?} {log:?}");
    check_all_arrived(&sent, &flows, &log);
}

/// Oversized and junk datagrams are counted, never fatal; good ones around them still decode.
#[test]
fn junk_and_oversized_datagrams_are_counted() {
    let c = Collector::builder()
        .sockets(1)
        .config("[receive]\nmax_datagram = 1500\n")
        .start(&[]);
    let dst = c.netflow_addr();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(&[0u8; 3000], dst).unwrap(); // truncated
    tx.send_to(b"definitely not netflow", dst).unwrap(); // unknown protocol
    tx.send_to(&[0, 5, 0, 30, 1, 2], dst).unwrap(); // v5 header cut short
    let sent = flowgen(&["--target", &c.netflow_addr().to_string(), "--count", "10"]);
    c.wait_lines(sent.records as usize);
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{log:?}");
    assert_eq!(flows.len() as u64, sent.records);
    let summary = exit_summary(&log);
    assert!(summary.contains("datagrams=13 "), "{summary}");
    assert!(summary.contains("truncated=1 "), "{summary}");
    assert!(summary.contains("decode_errors=2 "), "{summary}");
    assert!(summary.contains("unknown_protocol=1"), "{summary}");
}

/// An allowlist that leaves the sender out drops its datagrams before decoding, counts them
/// (exit summary) and keeps the other listener open to everyone; one that includes it decodes.
#[test]
fn allowlist_rejects_other_exporters() {
    let c = Collector::builder()
        .sockets(1)
        .config("[netflow]\nallow = [\"10.0.0.0/8\", \"2001:db8::/32\"]\n")
        .start(&[]);
    flowgen(&["--target", &c.netflow_addr().to_string(), "--count", "10"]);
    let sent = flowgen(&[
        "--target",
        &c.sflow_addr().to_string(),
        "--protocol",
        "sflow",
        "--count",
        "5",
    ]);
    c.wait_lines(sent.records as usize);
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{log:?}");
    assert_eq!(flows.len() as u64, sent.records, "only the sFlow samples");
    let summary = exit_summary(&log);
    assert!(summary.contains("rejected=10 "), "{summary}");
    assert!(summary.contains("decode_errors=0 "), "{summary}");

    let c = Collector::builder()
        .sockets(1)
        .config("[netflow]\nallow = [\"127.0.0.0/8\"]\n")
        .start(&[]);
    let sent = flowgen(&["--target", &c.netflow_addr().to_string(), "--count", "10"]);
    c.wait_lines(sent.records as usize);
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{log:?}");
    assert_eq!(flows.len() as u64, sent.records);
    let summary = exit_summary(&log);
    assert!(summary.contains("rejected=0 "), "{summary}");
}

/// Any invalid setting: exit status 2, one line naming it, before any socket is opened (the
/// port it would use is held by the test, so a bind attempt would fail with another error).
#[test]
fn bad_config_exits_2_naming_the_setting() {
    let held = UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let dir = TempDir::new("cfg");
    let write = |name: &str, text: &str| {
        let p = dir.path(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let empty_cores = write("a.toml", "[netflow]\ncores = []\n");
    let unknown_key = write("b.toml", "[netflow]\nsockts = 2\n");
    let bad_type = write("c.toml", "[output]\nformat = 3\n");
    let missing = dir.path("missing.toml").to_str().unwrap().to_string();
    let bad_cidr = write("d.toml", "[sflow]\nallow = [\"10.0.0.0/33\"]\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-fport", "70000"], "-fport"),
        (vec!["-fport=abc"], "-fport"),
        (vec!["--schema", "goflow9"], "output.schema"),
        (vec!["--format=xml"], "output.format"),
        (vec!["-fworkers", "0"], "-fworkers"),
        (vec!["-netflow=maybe"], "-netflow"),
        (vec!["-loglevel", "chatty"], "-loglevel"),
        (vec!["-nosuchflag"], "-nosuchflag"),
        (vec!["--config", &empty_cores], "netflow.cores"),
        (vec!["--config", &unknown_key], "sockts"),
        (vec!["--config", &bad_type], "output.format"),
        (vec!["--config", &missing], "--config"),
        (vec!["--config", &bad_cidr], "sflow.allow"),
        (vec!["-sport", &port, "-fport", &port], "sflow.port"),
        (vec!["-netflow=false", "-sflow=false"], "disabled"),
        (vec!["--output", "/nonexistent-dir/x/y.json"], "output.file"),
        (
            vec!["-kafka.out.brokers", "127.0.0.1:9092", "-kafka.key", "Nope"],
            "-kafka.key",
        ),
    ];
    for (args, setting) in cases {
        let mut all = vec!["-fport", port.as_str(), "-sport", "0"];
        all.extend_from_slice(&args);
        let out = Command::new(COREFLOW).args(&all).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(setting),
            "{args:?} should name {setting}: {err}"
        );
        assert!(!err.contains("in use"), "{args:?} opened a socket: {err}");
    }
}

#[test]
fn check_config_prints_effective_settings() {
    let out = Command::new(COREFLOW)
        .args([
            "--check-config",
            "-fworkers",
            "2",
            "--format",
            "pb",
            "-sflow=false",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("sockets = 2"), "{text}");
    assert!(text.contains("format = \"pb\""), "{text}");
    // the printed settings load back
    let dir = TempDir::new("cfg");
    let p = dir.path("eff.toml");
    std::fs::write(&p, &text).unwrap();
    let s = coreflow::cli::load_file(&p).unwrap();
    assert_eq!(s.netflow.workers(), 2);
    assert!(!s.sflow.enabled);
}

#[test]
fn help_and_version() {
    for (flag, want) in [
        ("--help", "SYNOPSIS"),
        ("-h", "EXIT STATUS"),
        ("-v", "coreflow "),
        ("--version", "coreflow "),
    ] {
        let out = Command::new(COREFLOW).arg(flag).output().unwrap();
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(want),
            "{flag}"
        );
    }
    // -v prints one line, the name and version, as GoFlow's -v does ("GoFlow v2.1.0")
    let out = Command::new(COREFLOW).arg("-v").output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("coreflow {}\n", env!("CARGO_PKG_VERSION"))
    );
    // the manual page has its sections
    let out = Command::new(COREFLOW).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "FILES",
        "SIGNALS",
        "EXIT STATUS",
        "EXAMPLES",
    ] {
        assert!(help.lines().any(|l| l == section), "{section}");
    }
}

/// goflow2's `-format bin` on a goflow2 command line: every flow arrives as a
/// varint-length-delimited goflow2 `FlowMessage` (what goflow2's consumers read).
#[test]
fn goflow2_format_bin_decodes_as_goflow2_flowpb() {
    use prost::Message;
    let dir = TempDir::new("goflow2-bin");
    let out = dir.path("flows.bin");
    let c = Collector::builder()
        .listeners(&["-listen", "netflow://127.0.0.1:0"])
        .no_output()
        .start(&[
            "-transport",
            "file",
            "-transport.file",
            out.to_str().unwrap(),
            "-format",
            "bin",
        ]);
    let sent = flowgen(&[
        "--target",
        &c.netflow_addr().to_string(),
        "--exporters",
        "2",
        "--count",
        "10",
    ]);
    let decode = || {
        let bytes = std::fs::read(&out).unwrap_or_default();
        let mut buf = &bytes[..];
        let mut msgs = Vec::new();
        while !buf.is_empty() {
            match coreflow::pb::goflow2::FlowMessage::decode_length_delimited(&mut buf) {
                Ok(m) => msgs.push(m),
                Err(_) => break, // a message still being written
            }
        }
        msgs
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while (decode().len() as u64) < sent.records && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, log, _) = c.stop();
    assert!(status.success(), "{log:?}");
    let msgs = decode();
    assert_eq!(msgs.len() as u64, sent.records, "{log:?}");
    assert_eq!(
        msgs.iter().map(|m| m.bytes).sum::<u64>(),
        sent.bytes,
        "bytes"
    );
    assert_eq!(
        msgs.iter().map(|m| m.packets).sum::<u64>(),
        sent.packets,
        "packets"
    );
    let now = now_ns();
    for m in &msgs {
        assert_eq!(m.r#type, 2, "NETFLOW_V5");
        assert_eq!(m.sampler_address.len(), 4);
        assert!(m.time_received_ns <= now && m.time_received_ns + 60_000_000_000 > now);
    }
}
