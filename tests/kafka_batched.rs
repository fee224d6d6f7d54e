//! Batched Kafka messages (`kafka.messages = "batched"`) against a real broker, and the
//! ClickHouse path of both modes checked with ClickHouse's own parser.
//!
//! Needs the test broker (`COREFLOW_TEST_KAFKA`, see tests/kafka.rs); the outage test also
//! `COREFLOW_TEST_NISSHI`; the ClickHouse tests `COREFLOW_TEST_PYTHON`, a Python with the
//! `chdb` package (ClickHouse embedded), which `scripts/test` installs. Without them the
//! tests print why and pass.

mod common;

use common::harness::{report_field as field, TempDir};
use common::kafka::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// flowgen: NetFlow v9, `exporters` exporters, 30 records per datagram.
fn send_v9(target: &str, exporters: &str, count: &str) -> Sent {
    flowgen(&[
        "--protocol",
        "v9",
        "--target",
        target,
        "--exporters",
        exporters,
        "--count",
        count,
        "--records",
        "30",
        "--rate",
        "2000",
        "--template-every",
        "10",
    ])
}

fn kafka_config(brokers: &str, topic: &str, extra: &str) -> String {
    format!("[kafka]\nbrokers = \"{brokers}\"\ntopic = \"{topic}\"\n{extra}")
}

/// Every flow arrives exactly once with exact sums, many flows per Kafka message, no value
/// over `max_message_bytes`; the exit summary agrees and counts fewer Kafka records than
/// flows.
#[test]
fn batched_every_flow_arrives() {
    let Some(brokers) = broker("batched_every_flow_arrives") else {
        return;
    };
    let topic = unique("batched");
    create_topic(&brokers, &topic);
    let max = 4096;
    let c = collector()
        .config(&kafka_config(
            &brokers,
            &topic,
            &format!(
                "messages = \"batched\"\nmax_message_bytes = {max}\n\
                 [cluster]\ninstance = \"batched-1\"\n"
            ),
        ))
        .start(&[]);
    let sent = send_v9(&target(&c), "4", "200");
    let (status, log, summary) = stop(c);
    assert!(status.success(), "{status:?} {log:?}");
    let records = field(&summary, "kafka_records");
    assert!(records > 1 && records * 10 < sent.records, "{summary}");
    let mut r = Reader::new(&brokers, &topic);
    r.until(records as usize, WAIT);
    // nothing more arrives (no duplicates)
    r.until(records as usize + 1, Duration::from_secs(1));
    assert_eq!(r.got.len() as u64, records);
    assert!(r
        .got
        .iter()
        .all(|g| g.key.is_none() && g.value.len() <= max));
    // kafka.instance_header, on by default with batched messages: each record names the
    // collector
    assert!(r
        .got
        .iter()
        .all(|g| g.header("coreflow-instance") == Some(&b"batched-1"[..])));
    check_sums(&sent, &decode_all(&r.got, true));
    assert_eq!(check_accounting(&summary), sent.records, "{summary}");
}

/// Keyed by exporter: every flow of a Kafka message has the message's key, one exporter's
/// flows are in one partition, in order.
#[test]
fn batched_keyed_by_exporter() {
    let Some(brokers) = broker("batched_keyed_by_exporter") else {
        return;
    };
    let topic = unique("batched-keyed");
    create_topic(&brokers, &topic);
    let c = collector()
        .config(&kafka_config(
            &brokers,
            &topic,
            "messages = \"batched\"\nkey = \"by-exporter\"\nmax_message_bytes = 8192\n",
        ))
        .start(&[]);
    let sent = send_v9(&target(&c), "8", "160");
    let (status, log, summary) = stop(c);
    assert!(status.success(), "{status:?} {log:?}");
    let records = field(&summary, "kafka_records") as usize;
    let mut r = Reader::new(&brokers, &topic);
    r.until(records, WAIT);
    let mut all = Vec::new();
    let mut partition_of: BTreeMap<Vec<u8>, i32> = BTreeMap::new();
    let mut last_seq: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
    for g in &r.got {
        let flows = decode_all(std::slice::from_ref(g), true);
        assert!(!flows.is_empty());
        for f in &flows {
            assert_eq!(
                g.key.as_deref(),
                Some(&f.router_addr[..]),
                "key of every flow"
            );
            let p = *partition_of
                .entry(f.router_addr.clone())
                .or_insert(g.partition);
            assert_eq!(p, g.partition, "one exporter, one partition");
            let last = last_seq.entry(f.router_addr.clone()).or_insert(0);
            assert!(f.sequence_num >= *last, "in order");
            *last = f.sequence_num;
        }
        all.extend(flows);
    }
    assert_eq!(partition_of.len(), 8);
    check_sums(&sent, &all);
}

/// JSON in batched mode: newline-delimited objects, many per Kafka message.
#[test]
fn batched_json_lines() {
    let Some(brokers) = broker("batched_json_lines") else {
        return;
    };
    let topic = unique("batched-json");
    create_topic(&brokers, &topic);
    let c = collector()
        .config(&format!(
            "{}[output]\nformat = \"json\"\n",
            kafka_config(&brokers, &topic, "messages = \"batched\"\n")
        ))
        .start(&[]);
    let sent = send_v9(&target(&c), "2", "40");
    let (status, log, summary) = stop(c);
    assert!(status.success(), "{status:?} {log:?}");
    let records = field(&summary, "kafka_records") as usize;
    let mut r = Reader::new(&brokers, &topic);
    r.until(records, WAIT);
    let (mut n, mut bytes, mut packets) = (0u64, 0u64, 0u64);
    for g in &r.got {
        let text = std::str::from_utf8(&g.value).unwrap();
        assert!(text.ends_with('\n'), "every object ends its line");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            n += 1;
            bytes += v["Bytes"].as_u64().unwrap();
            packets += v["Packets"].as_u64().unwrap();
        }
    }
    assert!(r.got.len() < n as usize);
    assert_eq!(
        (n, bytes, packets),
        (sent.records, sent.bytes, sent.packets)
    );
}

/// The broker stopped for 10 s under load, batched: nothing lost, nothing duplicated.
#[test]
fn batched_broker_outage_under_load() {
    outage_under_load(
        "batched_broker_outage_under_load",
        "messages = \"batched\"\n",
    );
}

/// SIGTERM during an outage, batched: every flow counted as dropped at shutdown, exit 0.
#[test]
fn batched_sigterm_during_a_broker_outage() {
    sigterm_during_outage("messages = \"batched\"\n");
}

// ---------------------------------------------------------------------------------------------
// ClickHouse

/// The Python with chdb, or `None` (with a message).
fn clickhouse_python(test: &str) -> Option<String> {
    let py = std::env::var("COREFLOW_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if py.is_none() {
        eprintln!(
            "SKIPPED {test}: COREFLOW_TEST_PYTHON (a Python with chdb) is not set; scripts/test \
             installs it"
        );
    }
    py
}

/// Writes each consumed Kafka value to its own file and has ClickHouse read them through the
/// docs' tables with `format`: returns (rows, bytes, packets).
fn clickhouse_sums(py: &str, got: &[Got], format: &str) -> (u64, u64, u64) {
    let dir = TempDir::new("clickhouse");
    for (i, g) in got.iter().enumerate() {
        std::fs::write(dir.path(&format!("m{i:06}.bin")), &g.value).unwrap();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(py)
        .arg(root.join("tests/clickhouse/check.py"))
        .arg(root.join("docs/kafka-clickhouse.md"))
        .arg(root.join("proto/goflow_v2.proto"))
        .arg(format)
        .arg(dir.path("*.bin"))
        .output()
        .expect("run tests/clickhouse/check.py");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ClickHouse refused: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<u64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    (v[0], v[1], v[2])
}

/// coreflow -> broker -> consumer -> ClickHouse's parser, with the docs' tables: the row count
/// and the sums of Bytes and Packets are what flowgen sent.
fn clickhouse_case(test: &str, extra: &str, format: &str) {
    let Some(brokers) = broker(test) else {
        return;
    };
    let Some(py) = clickhouse_python(test) else {
        return;
    };
    let topic = unique("clickhouse");
    create_topic(&brokers, &topic);
    let c = collector()
        .config(&kafka_config(&brokers, &topic, extra))
        .start(&[]);
    let sent = send_v9(&target(&c), "3", "30");
    let (status, log, summary) = stop(c);
    assert!(status.success(), "{status:?} {log:?}");
    let records = field(&summary, "kafka_records") as usize;
    let mut r = Reader::new(&brokers, &topic);
    assert_eq!(r.until(records, WAIT), records, "{summary}");
    assert_eq!(
        clickhouse_sums(&py, &r.got, format),
        (sent.records, sent.bytes, sent.packets),
        "{test}: ClickHouse's rows and sums"
    );
}

#[test]
fn clickhouse_reads_batched_messages_as_protobuf() {
    clickhouse_case(
        "clickhouse_reads_batched_messages_as_protobuf",
        "messages = \"batched\"\n",
        "Protobuf",
    );
}

#[test]
fn clickhouse_reads_varint_per_flow_messages_as_protobuf() {
    clickhouse_case(
        "clickhouse_reads_varint_per_flow_messages_as_protobuf",
        "framing = \"varint\"\n",
        "Protobuf",
    );
}

#[test]
fn clickhouse_reads_plain_per_flow_messages_as_protobuf_single() {
    clickhouse_case(
        "clickhouse_reads_plain_per_flow_messages_as_protobuf_single",
        "",
        "ProtobufSingle",
    );
}

/// `kafka.producers = 2` with two workers: every flow arrives with exact sums, each producer
/// has its own metrics, and their sums are the output totals.
#[test]
fn two_producers_deliver_every_flow() {
    let Some(brokers) = broker("two_producers_deliver_every_flow") else {
        return;
    };
    let topic = unique("producers");
    create_topic(&brokers, &topic);
    let c = collector()
        .listeners(&["-fport", "0", "-sflow=false", "-fworkers", "2"])
        .metrics_endpoint()
        .config(&kafka_config(
            &brokers,
            &topic,
            "messages = \"batched\"\nproducers = 2\n",
        ))
        .start(&[]);
    let sent = send_v9(&target(&c), "8", "160");
    let mut r = Reader::new(&brokers, &topic);
    let deadline = std::time::Instant::now() + WAIT;
    let body = loop {
        let (code, body) = http_get(c.metrics_addr(), "/metrics");
        assert_eq!(code, 200, "{body}");
        if metric(&body, "coreflow_output_delivered_total") == sent.records {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all delivered:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for p in ["0", "1"] {
        let series =
            format!("coreflow_kafka_messages_total{{producer=\"{p}\",outcome=\"delivered\"}}");
        assert!(body.contains(&series), "{series} missing:\n{body}");
    }
    let per_producer: u64 = body
        .lines()
        .filter(|l| {
            l.starts_with("coreflow_kafka_messages_total{") && l.contains("outcome=\"delivered\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(per_producer, sent.records, "{body}");
    let (status, log, summary) = stop(c);
    assert!(status.success(), "{status:?} {log:?}");
    let records = field(&summary, "kafka_records") as usize;
    r.until(records, WAIT);
    check_sums(&sent, &decode_all(&r.got, true));
    assert_eq!(check_accounting(&summary), sent.records, "{summary}");
}
