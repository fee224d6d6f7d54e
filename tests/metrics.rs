//! The metrics endpoint end to end, on loopback with ephemeral ports: `/metrics` carries
//! GoFlow's names and coreflow's, the loss accounting adds up from `/metrics` alone for a
//! known load (good flows, garbage, truncated datagrams, data without templates),
//! `/templates` lists what the workers learned, `/healthz` answers 200 or 503 with a reason,
//! the exporter label limit folds the rest into `other`, and the logs are rate-limited and
//! JSON when asked. Every wait is bounded.

mod common;

use common::harness::{now_ns, report_field, run_flowgen, Collector, TempDir, COREFLOW, WAIT};
use coreflow_flowgen::{Exporter, GenOptions, GenProtocol};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// coreflow on free ports (one socket per listener), JSON lines into a file (or `output`),
/// metrics on an ephemeral port whose address is learned at start, a config file with `toml`,
/// plus `extra` flags.
fn start(extra: &[&str], output: Option<&Path>, toml: Option<&str>) -> Collector {
    let mut builder = Collector::builder().metrics_endpoint();
    if let Some(path) = output {
        builder = builder.output(path);
    }
    if let Some(toml) = toml {
        builder = builder.config(toml);
    }
    builder.start(extra)
}

/// The HTTP side of the collector: its metrics endpoint.
impl Collector {
    fn get(&self, path: &str) -> (u16, String) {
        http_get(self.metrics_addr(), path)
    }

    fn metrics(&self) -> Metrics {
        let (code, body) = self.get("/metrics");
        assert_eq!(code, 200, "{body}");
        Metrics::parse(&body)
    }

    /// Scrapes until `ok` holds (or panics with the last scrape after the deadline).
    fn wait_metrics(&self, what: &str, ok: impl Fn(&Metrics) -> bool) -> Metrics {
        let deadline = Instant::now() + WAIT;
        loop {
            let m = self.metrics();
            if ok(&m) {
                return m;
            }
            if Instant::now() >= deadline {
                panic!("{what}: never held; last scrape:\n{}", m.text);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_string())
}

/// A parsed Prometheus text page: (name, labels) -> value.
struct Metrics {
    text: String,
    series: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Metrics {
    fn parse(text: &str) -> Metrics {
        let mut series = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (key, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match key.split_once('{') {
                Some((n, rest)) => {
                    let body = rest.strip_suffix('}').unwrap();
                    let mut m = BTreeMap::new();
                    for pair in body.split("\",").filter(|p| !p.is_empty()) {
                        let (k, v) = pair.split_once("=\"").unwrap();
                        m.insert(k.to_string(), v.trim_end_matches('"').to_string());
                    }
                    (n.to_string(), m)
                }
                None => (key.to_string(), BTreeMap::new()),
            };
            let v: f64 = match value {
                "+Inf" => f64::INFINITY,
                "NaN" => f64::NAN,
                v => v.parse().unwrap(),
            };
            series.push((name, labels, v));
        }
        Metrics {
            text: text.to_string(),
            series,
        }
    }

    /// Sum of the series of `name` whose labels include every pair of `want`.
    fn sum(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        self.series
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && want
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(v))
            })
            .map(|s| s.2)
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.series.iter().any(|(n, _, _)| n == name)
    }

    fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .series
            .iter()
            .filter(|(n, _, _)| n == name)
            .filter_map(|(_, l, _)| l.get(label).cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Runs flowgen to the end; the number of records it sent.
fn flowgen(args: &[&str]) -> u64 {
    report_field(&run_flowgen(args), "records")
}

/// Number of data sets (id >= 256) of a NetFlow v9 datagram.
fn v9_data_sets(d: &[u8]) -> u64 {
    let mut off = 20;
    let mut n = 0;
    while off + 4 <= d.len() {
        let id = u16::from_be_bytes([d[off], d[off + 1]]);
        let len = u16::from_be_bytes([d[off + 2], d[off + 3]]) as usize;
        if len < 4 {
            break;
        }
        if id >= 256 {
            n += 1;
        }
        off += len;
    }
    n
}

const GOFLOW_NAMES: [&str; 16] = [
    "flow_traffic_bytes",
    "flow_traffic_packets",
    "flow_traffic_summary_size_bytes",
    "flow_decoder_count",
    "flow_decoder_error_count",
    "flow_summary_decoding_time_us",
    "flow_process_nf_count",
    "flow_process_nf_errors_count",
    "flow_process_nf_flowset_records_sum",
    "flow_process_nf_flowset_sum",
    "flow_process_nf_templates_count",
    "flow_process_nf_delay_summary_seconds",
    "flow_process_sf_count",
    "flow_process_sf_errors_count",
    "flow_process_sf_samples_sum",
    "flow_process_sf_samples_records_sum",
];

#[test]
fn loss_accounting_adds_up_from_metrics_alone() {
    let mut c = start(
        &[],
        None,
        Some("[receive]\nmax_datagram = 2048\n[cluster]\ninstance = \"metrics-test-1\"\n"),
    );
    let nf = c.netflow_addr().to_string();
    let sf = c.sflow_addr().to_string();

    // good flows: NetFlow v9 from 127.0.1.1-2, sFlow from 127.0.1.1
    let v9 = flowgen(&[
        "--protocol",
        "v9",
        "--target",
        &nf,
        "--exporters",
        "2",
        "--count",
        "40",
        "--records",
        "10",
        "--rate",
        "2000",
        "--batch",
        "1",
    ]);
    let sflow = flowgen(&[
        "--protocol",
        "sflow",
        "--target",
        &sf,
        "--count",
        "20",
        "--records",
        "4",
        "--rate",
        "2000",
    ]);
    // data without templates from an exporter that never sent any
    let orphan = UdpSocket::bind("127.0.3.1:0").unwrap();
    let mut opts = GenOptions::new(GenProtocol::V9);
    opts.records = 5;
    let mut e = Exporter::new(7, orphan.local_addr().unwrap().ip(), opts, now_ns());
    let mut sets = 0;
    for _ in 0..5 {
        let mut buf = Vec::new();
        e.build(now_ns(), false, true, &mut buf);
        sets += v9_data_sets(&buf);
        orphan.send_to(&buf, &nf).unwrap();
    }
    assert!(sets >= 5);
    // garbage and oversized datagrams, to both listeners
    let junk = UdpSocket::bind("127.0.4.1:0").unwrap();
    for i in 0..7 {
        let to = if i % 2 == 0 { &nf } else { &sf };
        junk.send_to(b"definitely not a flow datagram", to).unwrap();
    }
    for _ in 0..3 {
        junk.send_to(&[0u8; 4000], &nf).unwrap();
    }
    let good = v9 + sflow;

    let m = c.wait_metrics("every good flow published, nothing in flight", |m| {
        m.sum("coreflow_records_published_total", &[]) == good as f64
            && m.sum("coreflow_records_in_flight", &[]) == 0.0
            && m.sum("coreflow_records_dropped_total", &[("stage", "decode")]) >= (7 + sets) as f64
            && m.sum("coreflow_truncated_datagrams_total", &[]) == 3.0
    });
    let received = m.sum("coreflow_records_received_total", &[]);
    let published = m.sum("coreflow_records_published_total", &[]);
    let dropped = m.sum("coreflow_records_dropped_total", &[]);
    assert_eq!(
        received,
        published + dropped,
        "received = published + dropped"
    );
    let d = |stage: &str, reason: &str| {
        m.sum(
            "coreflow_records_dropped_total",
            &[("stage", stage), ("reason", reason)],
        )
    };
    assert_eq!(d("decode", "unknown_protocol"), 7.0);
    assert_eq!(d("decode", "template_not_found"), sets as f64);
    assert_eq!(d("receive", "truncated"), 3.0);
    assert_eq!(d("kernel", "socket_overflow"), 0.0);
    assert_eq!(d("channel", "queue_full"), 0.0);
    assert_eq!(dropped, (7 + sets + 3) as f64, "nothing else was lost");
    assert_eq!(received, (good + 7 + sets + 3) as f64);
    assert_eq!(m.sum("coreflow_template_misses_total", &[]), sets as f64);
    assert_eq!(
        m.sum("coreflow_flows_decoded_total", &[]),
        good as f64,
        "decoded"
    );
    assert_eq!(
        m.sum("coreflow_output_delivered_total", &[("sink", "file")]),
        good as f64
    );

    // the per-exporter and latency series are published about once a second
    let m = c.wait_metrics("snapshots published", |m| {
        m.sum("coreflow_receive_to_delivery_seconds_count", &[]) == good as f64
            && m.sum(
                "flow_process_nf_count",
                &[("router", "127.0.1.1"), ("version", "9")],
            ) == 20.0
            && m.has("flow_process_nf_errors_count")
            && m.has("flow_process_sf_errors_count")
    });
    for name in GOFLOW_NAMES {
        assert!(m.has(name), "{name} missing:\n{}", m.text);
    }
    assert_eq!(
        m.sum(
            "flow_process_nf_errors_count",
            &[("router", "127.0.3.1"), ("error", "template_not_found")]
        ),
        sets as f64
    );
    assert_eq!(
        m.sum(
            "flow_process_nf_errors_count",
            &[("router", "127.0.4.1"), ("error", "error_version")]
        ) + m.sum(
            "flow_process_sf_errors_count",
            &[("router", "127.0.4.1"), ("error", "error_version")]
        ),
        7.0
    );
    assert_eq!(
        m.sum(
            "flow_traffic_packets",
            &[("remote_ip", "127.0.1.2"), ("type", "NetFlow")]
        ),
        20.0
    );
    assert_eq!(
        m.sum(
            "flow_process_nf_flowset_records_sum",
            &[("version", "9"), ("type", "DataFlowSet")]
        ),
        v9 as f64
    );
    assert!(
        m.sum(
            "flow_process_nf_templates_count",
            &[("router", "127.0.1.1"), ("type", "template")]
        ) >= 1.0
    );
    assert!(
        m.sum(
            "flow_process_nf_templates_count",
            &[("type", "options_template")]
        ) >= 1.0
    );
    assert_eq!(
        m.sum(
            "flow_process_sf_samples_sum",
            &[("router", "127.0.1.1"), ("type", "FlowSample")]
        ),
        sflow as f64
    );
    assert_eq!(m.sum("flow_process_sf_count", &[("version", "5")]), 20.0);
    assert_eq!(
        m.label_values("flow_decoder_count", "name"),
        vec!["NetFlow", "sFlow"]
    );
    assert!(
        m.sum(
            "flow_summary_decoding_time_us_count",
            &[("name", "NetFlow")]
        ) >= 45.0
    );
    assert!(
        m.sum(
            "flow_process_nf_delay_summary_seconds_count",
            &[("router", "127.0.1.1")]
        ) >= 20.0
    );
    assert!(m.sum("coreflow_decode_seconds_count", &[]) >= 65.0);
    assert!(m.sum("coreflow_decode_seconds_quantile", &[("type", "sFlow")]) > 0.0);
    for q in ["0.5", "0.9", "0.99", "0.999"] {
        assert!(
            m.sum(
                "coreflow_receive_to_output_seconds_quantile",
                &[("quantile", q)]
            ) > 0.0
        );
    }
    assert_eq!(m.sum("coreflow_worker_up", &[]), 2.0);
    assert_eq!(m.sum("coreflow_up", &[]), 1.0);
    // the instance name as `collector` (not `instance`, which Prometheus owns); no
    // renormalization, so nothing saturated; the file output has not been reopened
    assert_eq!(
        m.sum("coreflow_build_info", &[("collector", "metrics-test-1")]),
        1.0
    );
    assert_eq!(m.sum("coreflow_renormalize_saturated_total", &[]), 0.0);
    assert!(m.has("coreflow_output_file_reopens_total"));
    assert_eq!(m.sum("coreflow_output_file_reopens_total", &[]), 0.0);

    // every family is documented in docs/metrics.md, and the dashboard only uses existing ones
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = std::fs::read_to_string(root.join("docs/metrics.md")).unwrap();
    let families: Vec<&str> = m
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for f in &families {
        let doc = f
            .strip_suffix("_quantile")
            .map_or(f.to_string(), |_| "_quantile".into());
        assert!(reference.contains(&doc), "{f} is not in docs/metrics.md");
    }
    let dash = std::fs::read_to_string(root.join("tuning/grafana-dashboard.json")).unwrap();
    let _: serde_json::Value = serde_json::from_str(&dash).unwrap();
    for word in dash.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("coreflow_") || word.starts_with("flow_") {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| word.strip_suffix(s))
                .unwrap_or(word);
            assert!(
                families.contains(&word) || families.contains(&base),
                "the dashboard uses {word}, not served"
            );
        }
    }

    // decode errors were logged, rate-limited per reason: at most one line per worker
    let log = c.drain_log().to_vec();
    let bad = log
        .iter()
        .filter(|l| l.contains("not a NetFlow/IPFIX/sFlow payload"))
        .count();
    assert!((1..=2).contains(&bad), "{log:?}");
    assert!(
        log.iter()
            .any(|l| l.contains("unknown_protocol errors suppressed")),
        "{log:?}"
    );
}

#[test]
fn templates_health_and_paths() {
    let c = start(
        &["-metrics.path", "/m", "-templates.path", "/t"],
        None,
        None,
    );
    let nf = c.netflow_addr().to_string();
    flowgen(&[
        "--protocol",
        "ipfix",
        "--target",
        &nf,
        "--count",
        "5",
        "--records",
        "3",
    ]);
    let (code, body) = c.get("/healthz");
    assert_eq!((code, body.trim()), (200, "ok"));
    assert_eq!(c.get("/nope").0, 404);
    assert_eq!(c.get("/metrics").0, 404, "the path is /m");
    let deadline = Instant::now() + WAIT;
    let v: serde_json::Value = loop {
        let (code, body) = c.get("/t");
        assert_eq!(code, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["templates"].as_array().is_some_and(|a| !a.is_empty()) || Instant::now() >= deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let t = &v["templates"].as_array().unwrap();
    let data = t
        .iter()
        .find(|t| t["type"] == "template")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(data["exporter"], "127.0.1.1");
    assert_eq!(data["version"], 10);
    assert_eq!(data["obs_domain_id"], 1);
    assert!(data["template_id"].as_u64().unwrap() >= 256);
    assert!(!data["fields"].as_array().unwrap().is_empty());
    assert!(data["age_seconds"].as_f64().unwrap() >= 0.0);
    assert!(t.iter().any(|t| t["type"] == "options_template"));
    let rates = v["sampling_rates"].as_array().unwrap();
    assert!(
        rates
            .iter()
            .any(|r| r["exporter"] == "127.0.1.1" && r["sampling_rate"] == 1000),
        "{v}"
    );
    let (code, body) = c.get("/m");
    assert_eq!(code, 200);
    assert!(body.contains("# TYPE coreflow_records_received_total counter"));
}

#[test]
fn exporters_beyond_the_limit_fold_into_other() {
    let c = start(&["-metrics.maxexporters", "2"], None, None);
    let nf = c.netflow_addr().to_string();
    flowgen(&[
        "--protocol",
        "v5",
        "--target",
        &nf,
        "--exporters",
        "5",
        "--count",
        "50",
        "--records",
        "2",
        "--batch",
        "1",
    ]);
    let m = c.wait_metrics("all five exporters counted", |m| {
        m.sum("flow_process_nf_count", &[("version", "5")]) == 50.0
    });
    let routers = m.label_values("flow_process_nf_count", "router");
    assert_eq!(routers.len(), 3, "{routers:?} {}", m.text);
    assert!(routers.contains(&"other".to_string()));
    assert_eq!(m.sum("flow_process_nf_count", &[("router", "other")]), 30.0);
    assert_eq!(
        m.label_values("flow_traffic_bytes", "remote_ip").len(),
        3,
        "{}",
        m.text
    );
}

#[test]
fn json_debug_logs_show_each_datagram() {
    let mut c = start(&["-loglevel", "debug", "-logfmt", "json"], None, None);
    let nf = c.netflow_addr().to_string();
    flowgen(&[
        "--protocol",
        "v5",
        "--target",
        &nf,
        "--count",
        "3",
        "--records",
        "2",
    ]);
    let deadline = Instant::now() + WAIT;
    loop {
        let n = c
            .drain_log()
            .iter()
            .filter(|l| l.contains("datagram from 127.0.1.1") && l.contains("netflow_v5"))
            .count();
        if n == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", c.log);
        std::thread::sleep(Duration::from_millis(20));
    }
    for l in &c.log {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"));
        assert!(v["level"].is_string() && v["msg"].is_string() && v["time"].is_string());
    }
}

#[test]
fn healthz_reports_a_blocked_output() {
    // a FIFO nobody reads: the output thread blocks in write once the pipe is full
    let dir = TempDir::new("fifo");
    let fifo = dir.path("fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    use std::os::unix::fs::OpenOptionsExt;
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let c = start(&[], Some(&fifo), None);
    assert_eq!(c.get("/healthz").0, 200);
    let nf = c.netflow_addr().to_string();
    flowgen(&[
        "--protocol",
        "v5",
        "--target",
        &nf,
        "--count",
        "200",
        "--records",
        "30",
        "--rate",
        "5000",
    ]);
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, body) = c.get("/healthz");
        if code == 503 {
            assert!(body.contains("output"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "still {code} {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = c.metrics();
    assert_eq!(m.sum("coreflow_up", &[]), 0.0);
}

#[test]
fn metrics_can_be_turned_off_and_a_bad_address_is_refused() {
    let dir = TempDir::new("off");
    let out = dir.path("o.json");
    let mut child = Command::new(COREFLOW)
        .args([
            "-fport",
            "0",
            "-sport",
            "0",
            "-metrics.addr",
            "off",
            "--output",
        ])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = child.kill();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let _ = child.wait();
    assert!(log.contains("netflow listening on"), "{log}");
    assert!(!log.contains("metrics listening"), "{log}");
    let o = Command::new(COREFLOW)
        .args(["-fport", "0", "-sport", "0", "-metrics.addr", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("metrics.address"));
}

/// One listener on two addresses (two NICs, issue 21): a socket group per address with its
/// own workers, one port picked by the first and shared, the flows sent to each address
/// arrive, and the traffic metrics carry the local address of the socket that received them.
#[test]
fn one_listener_on_two_addresses() {
    let toml = "[netflow]\nport = 0\n\
                [[netflow.bind]]\naddress = \"127.0.0.1\"\nsockets = 2\n\
                [[netflow.bind]]\naddress = \"127.0.0.2\"\n\
                [sflow]\nenabled = false\n";
    let c = Collector::builder()
        .metrics_endpoint()
        .listeners(&[])
        .config(toml)
        .start(&[]);
    let port = c.netflow_addr().port();
    let mut sent = 0;
    for ip in ["127.0.0.1", "127.0.0.2"] {
        sent += flowgen(&[
            "--protocol",
            "v9",
            "--target",
            &format!("{ip}:{port}"),
            "--exporters",
            "3",
            "--count",
            "20",
            "--records",
            "5",
            "--rate",
            "2000",
        ]);
    }
    let locals = ["127.0.0.1", "127.0.0.2"];
    let m = c.wait_metrics("traffic on both addresses", |m| {
        locals
            .iter()
            .all(|ip| m.sum("flow_traffic_bytes", &[("local_ip", ip)]) > 0.0)
    });
    assert_eq!(m.label_values("flow_traffic_bytes", "local_ip"), locals);
    assert_eq!(
        m.label_values("flow_traffic_bytes", "local_port"),
        [port.to_string()]
    );
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{log:?}");
    assert_eq!(flows.len() as u64, sent, "{log:?}");
    // two groups: two sockets on the first address, one on the second
    let listening: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("netflow listening on"))
        .collect();
    assert_eq!(listening.len(), 2, "{log:?}");
    assert!(
        listening[0].contains(&format!("127.0.0.1:{port} with 2 sockets (bind 0,")),
        "{}",
        listening[0]
    );
    assert!(
        listening[1].contains(&format!("127.0.0.2:{port} with 1 socket (bind 1,")),
        "{}",
        listening[1]
    );
}
