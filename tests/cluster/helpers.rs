//! What the cluster tests share: an instance on the test broker, its `/metrics` and
//! `/templates`, waits, flowgen runs, sums.

use super::common::harness::{exit_summary, Collector, CollectorBuilder};
use super::common::kafka::*;
use serde_json::Value;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A coreflow instance named `name` sharing `topic` on `brokers`: NetFlow on a free port,
/// one worker, flows to a JSON file, metrics on. `extra`: more TOML.
pub fn instance_builder(brokers: &str, topic: &str, name: &str, extra: &str) -> CollectorBuilder {
    Collector::builder()
        .listeners(&["-fport", "0", "-sflow=false", "-fworkers", "1"])
        .metrics_endpoint()
        .wait(WAIT)
        .stop_wait(Duration::from_secs(60))
        .config(&format!(
            "{extra}\n[kafka]\nbrokers = \"{brokers}\"\n\
             [kafka.librdkafka]\n\"reconnect.backoff.max.ms\" = 1000\n\
             [cluster]\ninstance = \"{name}\"\ntemplates_topic = \"{topic}\"\n\
             load_timeout_ms = 20000\n"
        ))
}

pub fn instance(brokers: &str, topic: &str, name: &str) -> Collector {
    instance_builder(brokers, topic, name, "").start(&[])
}

pub fn metrics(c: &Collector) -> String {
    let (code, body) = http_get(c.metrics_addr(), "/metrics");
    assert_eq!(code, 200, "{body}");
    body
}

/// The `/templates` listing.
pub fn listing(c: &Collector) -> Value {
    let (code, body) = http_get(c.metrics_addr(), "/templates");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

pub fn templates(c: &Collector) -> Vec<Value> {
    listing(c)["templates"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits (bounded) until `c` holds at least `n` templates from the cluster and at least
/// `rates` sampling rates; returns the templates.
pub fn wait_cluster_templates(c: &Collector, n: usize, rates: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let l = listing(c);
        let t: Vec<Value> = l["templates"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t["origin"] == "cluster")
            .collect();
        let r = l["sampling_rates"].as_array().map_or(0, Vec::len);
        if t.len() >= n && r >= rates {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} templates, {r} of {rates} rates from the cluster:\n{}",
            t.len(),
            metrics(c)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the instance has read the topic to its end.
pub fn wait_loaded(c: &Collector) {
    let deadline = Instant::now() + WAIT;
    while metric(&metrics(c), "coreflow_cluster_initial_load_completed") != 1 {
        assert!(Instant::now() < deadline, "never loaded: {}", metrics(c));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (flows, bytes, packets) of a JSON lines output.
pub fn sums(flows: &[Value]) -> (u64, u64, u64) {
    let s = |k: &str| flows.iter().map(|f| f[k].as_u64().unwrap()).sum::<u64>();
    (flows.len() as u64, s("Bytes"), s("Packets"))
}

/// SIGTERM, exit 0; the flows it wrote.
pub fn stop_clean(c: Collector) -> Vec<Value> {
    let (status, log, flows) = c.stop();
    assert_eq!(status.code(), Some(0), "{log:?}");
    let _ = exit_summary(&log);
    flows
}

pub fn flowgen_to(c: &Collector, args: &[&str]) -> Sent {
    let t = target_of(c);
    let mut a = vec!["--target", &t];
    a.extend_from_slice(args);
    flowgen(&a)
}

pub fn target_of(c: &Collector) -> String {
    c.listener_addr().to_string()
}

/// Templates (and sampling options) of `exporters` exporters to `c`, no data.
pub fn teach(c: &Collector, protocol: &str, first: u32, exporters: u32) -> Sent {
    let (f, n) = (first.to_string(), exporters.to_string());
    flowgen_to(
        c,
        &[
            "--protocol",
            protocol,
            "--first-exporter",
            &f,
            "--exporters",
            &n,
            "--count",
            &n,
            "--records",
            "1",
            "--template-every",
            "0",
            // one datagram per exporter in turn
            "--batch",
            "1",
        ],
    )
}

/// Data only (no template datagram) from the same exporters to `c`.
pub fn data_only(c: &Collector, protocol: &str, first: u32, exporters: u32, count: u32) -> Sent {
    let (f, n, k) = (first.to_string(), exporters.to_string(), count.to_string());
    flowgen_to(
        c,
        &[
            "--protocol",
            protocol,
            "--first-exporter",
            &f,
            "--exporters",
            &n,
            "--count",
            &k,
            "--records",
            "10",
            "--data-only",
            "true",
            "--seed",
            "7",
        ],
    )
}

/// Waits until A published at least `n` records and B read all A published.
pub fn caught_up(a: &Collector, b: &Collector, n: u64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (ma, mb) = (metrics(a), metrics(b));
        let published = metric(&ma, "coreflow_cluster_records_delivered_total");
        let consumed = metric(&mb, "coreflow_cluster_records_consumed_total");
        if published >= n
            && consumed >= published
            && metric(&mb, "coreflow_cluster_consumer_lag") == 0
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "published {published}, consumed {consumed}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
