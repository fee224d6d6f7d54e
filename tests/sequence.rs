//! Sequence-gap accounting end to end: flowgen skips every Nth datagram on purpose (its
//! sequence numbers advance as if sent) and coreflow counts exactly those gaps, in each
//! protocol's unit (v5 flows, v9 datagrams, IPFIX data records, sFlow datagrams), in
//! `/metrics` and in the exit summary; an exporter that restarts (sequence back to 0) or whose
//! sequence wraps past 2^32 gives none. Every wait is bounded.

mod common;

use common::harness::{exit_summary, report_field, run_flowgen, summary_field, Collector};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const PROTOCOLS: [&str; 4] = ["v5", "v9", "ipfix", "sflow"];

/// The `protocol` label and the missing unit of flowgen's protocol name.
fn labels(protocol: &str) -> (&'static str, &'static str) {
    match protocol {
        "v5" => ("netflow_v5", "flows"),
        "v9" => ("netflow_v9", "datagrams"),
        "ipfix" => ("ipfix", "records"),
        _ => ("sflow_v5", "datagrams"),
    }
}

fn start() -> Collector {
    Collector::builder()
        .sockets(1)
        .metrics_endpoint()
        .start(&[])
}

/// Runs flowgen from exporter 0 to the collector's listener; its report line.
fn send(c: &Collector, protocol: &str, extra: &[&str]) -> String {
    let target = if protocol == "sflow" {
        c.sflow_addr()
    } else {
        c.netflow_addr()
    }
    .to_string();
    let mut args = vec![
        "--protocol",
        protocol,
        "--target",
        &target,
        "--count",
        "95",
        "--rate",
        "20000",
        "--batch",
        "4",
    ];
    args.extend_from_slice(extra);
    let report = run_flowgen(&args);
    assert_eq!(report_field(&report, "errors"), 0, "{report}");
    report
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// The sum of the series of `name` (over the workers) whose label set includes every
/// `label="value"`; there must be one.
fn series(page: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    let hits: Vec<f64> = page
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| {
            want.iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert!(!hits.is_empty(), "{name} {want:?} in\n{page}");
    hits.iter().sum()
}

/// The sum of every series of `name`.
fn total(page: &str, name: &str) -> u64 {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum::<f64>() as u64
}

/// Waits until the collector has written the flows of flowgen's `reports`, scrapes `/metrics`
/// once the worker published them (counters and per-exporter rows), stops the collector;
/// (the scrape, the exit summary).
fn finish(c: Collector, reports: &[&str]) -> (String, String) {
    let sum = |k| reports.iter().map(|r| report_field(r, k)).sum::<u64>();
    let (flows, datagrams) = (sum("records"), sum("datagrams"));
    c.wait_lines(flows as usize);
    // the workers publish their counters and exporter rows about once a second
    let mut page = String::new();
    for _ in 0..100 {
        page = http_get(c.metrics_addr(), "/metrics");
        if total(&page, "coreflow_flows_decoded_total") >= flows
            && total(&page, "flow_traffic_packets") >= datagrams
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, log, _) = c.stop();
    assert!(status.success(), "{status:?} {log:?}");
    (page, exit_summary(&log))
}

#[test]
fn skipped_datagrams_are_exact_gaps_in_each_protocols_unit() {
    for protocol in PROTOCOLS {
        let c = start();
        // 95 datagrams, the 10th, 20th, ... 90th not sent: 9 gaps, each followed by a datagram
        let report = send(&c, protocol, &["--skip-every", "10"]);
        let skipped = report_field(&report, "skipped");
        let skipped_records = report_field(&report, "skipped_records");
        assert_eq!(skipped, 9, "{report}");
        let (label, unit) = labels(protocol);
        let missing = if unit == "datagrams" {
            skipped
        } else {
            skipped_records
        };
        let (page, summary) = finish(c, &[&report]);
        assert_eq!(summary_field(&summary, "kernel_drops"), 0, "{summary}");
        assert_eq!(summary_field(&summary, "sequence_gaps"), 9, "{summary}");
        assert_eq!(
            summary_field(&summary, &format!("{label}_gaps")),
            9,
            "{summary}"
        );
        assert_eq!(
            summary_field(&summary, &format!("{label}_missing_{unit}")),
            missing,
            "{protocol}: {summary}"
        );
        let p = [("protocol", label)];
        assert_eq!(series(&page, "coreflow_sequence_gaps_total", &p), 9.0);
        let pu = [("protocol", label), ("unit", unit)];
        assert_eq!(
            series(&page, "coreflow_sequence_missing_total", &pu),
            missing as f64,
            "{protocol}"
        );
        assert_eq!(series(&page, "coreflow_sequence_late_total", &p), 0.0);
        assert_eq!(series(&page, "coreflow_sequence_resyncs_total", &p), 0.0);
        // per exporter: flowgen's exporter 0 sends from 127.0.1.1
        let r = [("router", "127.0.1.1"), ("protocol", label)];
        let e = "coreflow_exporter_sequence_gaps_total";
        assert_eq!(series(&page, e, &r), 9.0, "{protocol}");
        let e = "coreflow_exporter_sequence_missing_total";
        assert_eq!(series(&page, e, &r), missing as f64, "{protocol}");
    }
}

#[test]
fn an_exporter_restart_is_no_gap() {
    for protocol in PROTOCOLS {
        let c = start();
        // the same exporter twice: the second run starts its sequence at 0 again
        let first = send(&c, protocol, &[]);
        let second = send(&c, protocol, &[]);
        let (page, summary) = finish(c, &[&first, &second]);
        assert_eq!(summary_field(&summary, "sequence_gaps"), 0, "{summary}");
        let (label, _) = labels(protocol);
        let p = [("protocol", label)];
        assert_eq!(series(&page, "coreflow_sequence_gaps_total", &p), 0.0);
        assert_eq!(series(&page, "coreflow_sequence_late_total", &p), 0.0);
        assert_eq!(
            series(&page, "coreflow_sequence_resyncs_total", &p),
            1.0,
            "{protocol}"
        );
        assert!(!page.contains("coreflow_exporter_sequence_gaps_total{"));
    }
}

#[test]
fn a_sequence_wrap_is_no_gap() {
    for protocol in PROTOCOLS {
        let c = start();
        // 2^32 - 40 units before the wrap: v9/sFlow wrap after 40 datagrams, v5/IPFIX after
        // 40 flows (the second datagram)
        let report = send(&c, protocol, &["--first-sequence", "4294967256"]);
        let (page, summary) = finish(c, &[&report]);
        assert_eq!(summary_field(&summary, "sequence_gaps"), 0, "{summary}");
        let (label, _) = labels(protocol);
        let p = [("protocol", label)];
        assert_eq!(series(&page, "coreflow_sequence_gaps_total", &p), 0.0);
        assert_eq!(series(&page, "coreflow_sequence_late_total", &p), 0.0);
        assert_eq!(series(&page, "coreflow_sequence_resyncs_total", &p), 0.0);
    }
}
