//! The Kafka output against a real broker: `flowgen` (or hand-built datagrams) -> `coreflow`
//! -> broker -> a consumer in the test (rdkafka `BaseConsumer`) that decodes every message
//! with the schema and checks it against what was sent.
//!
//! Needs a broker: `COREFLOW_TEST_KAFKA` (or `KAFKA_BROKERS`) = `host:port`, as
//! `scripts/test` sets after starting nisshi on 127.0.0.1. The outage and late-broker tests
//! start their own broker and also need `COREFLOW_TEST_NISSHI` (the nisshi binary); the SRV
//! test needs `dnsmasq`. Without them those tests print why and pass, so `cargo test` alone
//! stays green. Tests that need no broker (bad settings, SIGTERM during an outage) always
//! run. coreflow runs under the shared harness ([`common::harness`]); the broker control and
//! the consumer are here.

mod common;

use common::harness::{
    exit_summary, report_field as field, run_flowgen, Collector, CollectorBuilder, TempDir,
    COREFLOW,
};
use coreflow::pb::goflow_v2::FlowMessage;
use prost::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);
const PARTITIONS: i32 = 4;

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    format!(
        "cf-{}-{}-{tag}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The test broker, or `None` (with a message) when none is configured.
fn broker(test: &str) -> Option<String> {
    let b = std::env::var("COREFLOW_TEST_KAFKA")
        .or_else(|_| std::env::var("KAFKA_BROKERS"))
        .ok()
        .filter(|s| !s.is_empty());
    if b.is_none() {
        eprintln!(
            "SKIPPED {test}: no broker (set COREFLOW_TEST_KAFKA=host:port; scripts/test starts one)"
        );
    }
    b
}

fn nisshi(test: &str) -> Option<PathBuf> {
    let p = std::env::var_os("COREFLOW_TEST_NISSHI").map(PathBuf::from);
    match p {
        Some(p) if p.exists() => Some(p),
        _ => {
            eprintln!("SKIPPED {test}: COREFLOW_TEST_NISSHI (the nisshi binary) is not set");
            None
        }
    }
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a DNS server on 127.0.0.1:`port` answers an SRV query for `name` within ~3 s.
fn dns_answers(port: u16, name: &str) -> bool {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 33, 0, 1]); // root, type SRV, class IN
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 512];
    for _ in 0..30 {
        let _ = sock.send_to(&q, ("127.0.0.1", port));
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            if n >= 12 && buf[..2] == q[..2] {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// Broker side: topic creation (admin API, driven by a tiny block_on) and a consumer

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread (rdkafka's admin client polls on its own).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park_timeout(Duration::from_millis(50)),
        }
    }
}

fn create_topic(brokers: &str, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let res = block_on(admin.create_topics(
        &[NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1))],
        &opts,
    ))
    .expect("create_topics");
    for r in res {
        r.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

/// One consumed message.
#[derive(Clone, Debug)]
struct Got {
    partition: i32,
    key: Option<Vec<u8>>,
    value: Vec<u8>,
}

/// Reads `topic` from the beginning of every partition (no consumer group join).
struct Reader {
    c: BaseConsumer,
    got: Vec<Got>,
}

impl Reader {
    fn new(brokers: &str, topic: &str) -> Reader {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", unique("reader"))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        c.assign(&tpl).expect("assign");
        Reader { c, got: Vec::new() }
    }

    /// Reads until `n` messages arrived or `wait` passed; returns how many there are.
    fn until(&mut self, n: usize, wait: Duration) -> usize {
        let deadline = Instant::now() + wait;
        while self.got.len() < n && Instant::now() < deadline {
            match self.c.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => self.got.push(Got {
                    partition: m.partition(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().unwrap_or_default().to_vec(),
                }),
                Some(Err(e)) => eprintln!("consumer: {e}"),
                None => {}
            }
        }
        self.got.len()
    }
}

// ---------------------------------------------------------------------------------------------
// coreflow and flowgen

/// coreflow with NetFlow on a free port (one socket), sFlow off, metrics on a free port and no
/// output file: what a test adds says where the flows go. Bounded waits: 30 s to start, 60 s
/// to stop (the Kafka flush on shutdown).
fn collector() -> CollectorBuilder {
    Collector::builder()
        .listeners(&["-fport", "0", "-sflow=false", "-fworkers", "1"])
        .no_output()
        .wait(WAIT)
        .stop_wait(Duration::from_secs(60))
}

/// Where flowgen sends: the collector's one listener.
fn target(c: &Collector) -> String {
    c.listener_addr().to_string()
}

/// SIGTERM and wait (bounded); returns the status, the log and the exit summary line.
fn stop(c: Collector) -> (ExitStatus, Vec<String>, String) {
    let (status, log, _) = c.stop();
    let summary = exit_summary(&log);
    (status, log, summary)
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

#[derive(Debug, Default)]
struct Sent {
    records: u64,
    bytes: u64,
    packets: u64,
}

fn flowgen(args: &[&str]) -> Sent {
    let text = run_flowgen(args);
    assert_eq!(field(&text, "errors"), 0, "{text}");
    Sent {
        records: field(&text, "records"),
        bytes: field(&text, "bytes"),
        packets: field(&text, "packets"),
    }
}

/// Decodes GoFlow v2 messages (plain or varint-prefixed).
fn decode(got: &[Got], varint: bool) -> Vec<FlowMessage> {
    got.iter()
        .map(|g| {
            if varint {
                FlowMessage::decode_length_delimited(&g.value[..])
            } else {
                FlowMessage::decode(&g.value[..])
            }
            .unwrap_or_else(|e| panic!("message does not decode: {e}"))
        })
        .collect()
}

fn check_sums(sent: &Sent, flows: &[FlowMessage]) {
    assert_eq!(flows.len() as u64, sent.records, "flows consumed");
    assert_eq!(
        flows.iter().map(|f| f.bytes).sum::<u64>(),
        sent.bytes,
        "bytes sum"
    );
    assert_eq!(
        flows.iter().map(|f| f.packets).sum::<u64>(),
        sent.packets,
        "packets sum"
    );
}

/// Every flow arrives exactly once, in GoFlow v2's plain framing, with exact sums; the
/// exit summary agrees (delivered = flows, nothing lost).
#[test]
fn every_flow_arrives_plain_goflow_v2() {
    let Some(brokers) = broker("every_flow_arrives_plain_goflow_v2") else {
        return;
    };
    let topic = unique("plain");
    create_topic(&brokers, &topic);
    let c = collector().start(&["-kafka.out.brokers", &brokers, "-kafka.out.topic", &topic]);
    let sent = flowgen(&[
        "--protocol",
        "v9",
        "--target",
        &target(&c),
        "--exporters",
        "4",
        "--count",
        "400",
        "--rate",
        "20000",
        "--template-every",
        "10",
        "--batch",
        "4",
    ]);
    let mut r = Reader::new(&brokers, &topic);
    r.until(sent.records as usize, WAIT);
    let (status, log, summary) = stop(c);
    assert!(status.success(), "{status:?} {log:?}");
    // nothing more arrives later (no duplicates)
    r.until(sent.records as usize + 1, Duration::from_secs(1));
    assert!(r.got.iter().all(|g| g.key.is_none()), "no key by default");
    let flows = decode(&r.got, false);
    check_sums(&sent, &flows);
    let exporters: BTreeSet<Vec<u8>> = flows.iter().map(|f| f.router_addr.clone()).collect();
    assert_eq!(exporters.len(), 4);
    assert_eq!(
        field(&summary, "kafka_delivered"),
        sent.records,
        "{summary}"
    );
    assert_eq!(field(&summary, "flows"), sent.records, "{summary}");
    for zero in [
        "kafka_failed",
        "kafka_dropped_queue_full",
        "kafka_dropped_shutdown",
        "channel_dropped_flows",
    ] {
        assert_eq!(field(&summary, zero), 0, "{summary}");
    }
}

/// `key = "by-exporter"` with varint framing: every message carries its exporter's address
/// as key, one exporter's flows all land in one partition, in sequence order.
#[test]
fn keyed_by_exporter_varint_in_order() {
    let Some(brokers) = broker("keyed_by_exporter_varint_in_order") else {
        return;
    };
    let topic = unique("keyed");
    create_topic(&brokers, &topic);
    let c = collector()
        .config(&format!(
            "[kafka]\nbrokers = \"{brokers}\"\ntopic = \"{topic}\"\nkey = \"by-exporter\"\n\
             framing = \"varint\"\ncompression = \"lz4\"\n"
        ))
        .start(&[]);
    let sent = flowgen(&[
        "--protocol",
        "v9",
        "--target",
        &target(&c),
        "--exporters",
        "8",
        "--count",
        "800",
        "--rate",
        "20000",
        "--template-every",
        "10",
        "--batch",
        "4",
    ]);
    let mut r = Reader::new(&brokers, &topic);
    r.until(sent.records as usize, WAIT);
    let (status, log, _) = stop(c);
    assert!(status.success(), "{status:?} {log:?}");
    let flows = decode(&r.got, true);
    check_sums(&sent, &flows);
    let mut partition_of: BTreeMap<Vec<u8>, i32> = BTreeMap::new();
    let mut last_seq: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
    for (g, f) in r.got.iter().zip(&flows) {
        assert_eq!(
            g.key.as_deref(),
            Some(&f.router_addr[..]),
            "key = exporter address"
        );
        let p = *partition_of
            .entry(f.router_addr.clone())
            .or_insert(g.partition);
        assert_eq!(p, g.partition, "one exporter, one partition");
        let last = last_seq.entry(f.router_addr.clone()).or_insert(0);
        assert!(f.sequence_num >= *last, "in order within the partition");
        *last = f.sequence_num;
    }
    assert_eq!(partition_of.len(), 8);
}

/// GoFlow's `-kafka.hashing`: the key is `[a b c d]-DstAS-` (SamplerAddress,DstAS).
#[test]
fn goflow_hashing_key() {
    let Some(brokers) = broker("goflow_hashing_key") else {
        return;
    };
    let topic = unique("hash");
    create_topic(&brokers, &topic);
    let c = collector().start(&[
        "-kafka.brokers",
        &brokers,
        "-kafka.topic",
        &topic,
        "-kafka.hashing",
    ]);
    let sent = flowgen(&["--protocol", "v5", "--target", &target(&c), "--count", "20"]);
    let mut r = Reader::new(&brokers, &topic);
    r.until(sent.records as usize, WAIT);
    let (status, _, _) = stop(c);
    assert!(status.success());
    let flows = decode(&r.got, false);
    check_sums(&sent, &flows);
    for (g, f) in r.got.iter().zip(&flows) {
        let addr: Vec<String> = f.router_addr.iter().map(u8::to_string).collect();
        let want = format!("[{}]-{}-", addr.join(" "), f.dst_as);
        assert_eq!(g.key.as_deref(), Some(want.as_bytes()));
    }
}

/// A counter sample of an sFlow datagram goes to `counters_topic`, flows to the topic.
#[test]
fn sflow_counters_to_their_own_topic() {
    use coreflow_flowgen::builders::sflow as fixture;
    let Some(brokers) = broker("sflow_counters_to_their_own_topic") else {
        return;
    };
    let (topic, ctopic) = (unique("flows"), unique("counters"));
    create_topic(&brokers, &topic);
    create_topic(&brokers, &ctopic);
    let c = collector()
        .config(&format!(
            "[netflow]\nenabled = false\n[sflow]\nport = 0\n[kafka]\nbrokers = \"{brokers}\"\n\
             topic = \"{topic}\"\ncounters_topic = \"{ctopic}\"\n"
        ))
        .start(&["-netflow=false", "-sflow"]);
    let mut body = vec![0u8; 88];
    body[..4].copy_from_slice(&7u32.to_be_bytes()); // ifIndex 7
    let counters = fixture::counter_sample(1, 7, &[fixture::framed(1, &body)]);
    let agent = std::net::IpAddr::from([192, 0, 2, 1]);
    let dgram = fixture::datagram(agent, 0, 1, &[counters]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(&dgram, c.listener_addr()).unwrap();
    s.send_to(&fixture::bench_flow_datagram(), c.listener_addr())
        .unwrap();
    let mut rc = Reader::new(&brokers, &ctopic);
    let mut rf = Reader::new(&brokers, &topic);
    rc.until(1, WAIT);
    rf.until(1, WAIT);
    let (status, log, _) = stop(c);
    assert!(status.success(), "{log:?}");
    assert_eq!(rc.got.len(), 1);
    assert_eq!(rf.got.len(), 1);
    let cm = coreflow::pb::counters::CounterMessage::decode(&rc.got[0].value[..]).unwrap();
    assert_eq!(cm.agent_address, vec![192, 0, 2, 1]);
    let fm = FlowMessage::decode(&rf.got[0].value[..]).unwrap();
    assert_eq!(fm.bytes, 1518);
}

/// `GET path` on the metrics endpoint: the status code and the body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_string())
}

/// The sum of a metric family's samples in a Prometheus text body.
fn metric(body: &str, name: &str) -> u64 {
    body.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// SIGTERM while no broker answers (the brokers are a closed port on 127.0.0.1, so no broker
/// is needed): the messages wait in flight, `/healthz` reports the stall after 5 s, and the
/// stop waits `shutdown_timeout_ms`, counts every undelivered message as
/// `kafka_dropped_shutdown`, logs the count at warn and exits 0.
#[test]
fn sigterm_during_a_broker_outage_exits_0_with_the_loss_counted() {
    let topic = unique("down");
    // port 1 (tcpmux): nothing listens there, every connection is refused
    let c = collector()
        .metrics_endpoint()
        .config(&format!(
            "[kafka]\nbrokers = \"127.0.0.1:1\"\ntopic = \"{topic}\"\n\
             message_timeout_ms = 600000\nshutdown_timeout_ms = 300\n"
        ))
        .start(&[]);
    let sent = flowgen(&["--protocol", "v5", "--target", &target(&c), "--count", "20"]);
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, body) = http_get(c.metrics_addr(), "/metrics");
        assert_eq!(code, 200, "{body}");
        if metric(&body, "coreflow_output_in_flight") == sent.records {
            assert_eq!(metric(&body, "coreflow_output_delivered_total"), 0);
            break;
        }
        assert!(Instant::now() < deadline, "never all in flight:\n{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // the stall rule: nothing delivered for 5 s with messages in flight
    loop {
        let (code, body) = http_get(c.metrics_addr(), "/healthz");
        if code == 503 {
            assert!(body.contains("delivered nothing"), "{body}");
            break;
        }
        assert_eq!(code, 200, "{body}");
        assert!(Instant::now() < deadline, "/healthz still 200");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, log, summary) = stop(c);
    assert_eq!(status.code(), Some(0), "{log:?}");
    assert_eq!(field(&summary, "flows"), sent.records, "{summary}");
    assert_eq!(
        check_accounting(&summary),
        0,
        "nothing delivered: {summary}"
    );
    assert_eq!(
        field(&summary, "kafka_dropped_shutdown"),
        sent.records,
        "{summary}"
    );
    let warned = format!("{} messages not delivered", sent.records);
    assert!(
        log.iter()
            .any(|l| l.contains("level=warn") && l.contains(&warned)),
        "{log:?}"
    );
}

/// Bad Kafka settings: one line naming the setting, exit status 2, no broker needed.
#[test]
fn bad_kafka_settings_exit_2() {
    let dir = TempDir::new("bad");
    let write = |name: &str, text: &str| {
        let p = dir.path(name);
        std::fs::write(&p, format!("[kafka]\nbrokers = \"127.0.0.1:1\"\n{text}")).unwrap();
        p.to_str().unwrap().to_string()
    };
    let owned = write("a.toml", "[kafka.librdkafka]\n\"linger.ms\" = 5\n");
    let unknown = write(
        "b.toml",
        "[kafka.librdkafka]\n\"no.such.property\" = \"x\"\n",
    );
    let badval = write(
        "c.toml",
        "[kafka.librdkafka]\n\"socket.timeout.ms\" = \"soon\"\n",
    );
    let codec = write("d.toml", "compression = \"brotli\"\n");
    let acks = write("e.toml", "acks = 1\nidempotence = true\n");
    let framing = write(
        "f.toml",
        "framing = \"varint\"\n[output]\nformat = \"json\"\n",
    );
    type Case<'a> = (Vec<&'a str>, &'a str, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (
            vec!["--config", &owned],
            "kafka.librdkafka.\"linger.ms\"",
            vec![],
        ),
        (vec!["--config", &unknown], "no.such.property", vec![]),
        (vec!["--config", &badval], "socket.timeout.ms", vec![]),
        (vec!["--config", &codec], "kafka.compression", vec![]),
        (vec!["--config", &acks], "kafka.acks", vec![]),
        (vec!["--config", &framing], "kafka.framing", vec![]),
        (
            vec!["-kafka.out.brokers", "127.0.0.1:1", "-kafka.key", "Nope"],
            "-kafka.key",
            vec![],
        ),
        (
            vec!["-kafka.out.brokers", "nohost"],
            "kafka.brokers",
            vec![],
        ),
        (
            vec!["-kafka.out.brokers", "127.0.0.1:1", "-kafka.sasl"],
            "KAFKA_SASL_USER",
            vec![("KAFKA_SASL_USER", "")],
        ),
    ];
    for (args, setting, env) in cases {
        let mut all = vec!["-fport", "0", "-sport", "0", "-metrics.addr", "127.0.0.1:0"];
        all.extend_from_slice(&args);
        let out = Command::new(COREFLOW)
            .args(&all)
            .envs(env)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(setting),
            "{args:?} should name {setting}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests with their own broker

/// A nisshi broker on 127.0.0.1:`port`.
struct Broker {
    bin: PathBuf,
    port: u16,
    storage: String,
    child: Option<Child>,
    _dir: TempDir,
}

impl Broker {
    fn new(bin: PathBuf, port: u16, sqlite: bool) -> Broker {
        let dir = TempDir::new("broker");
        let storage = if sqlite {
            // nisshi 0.8.1 resolves the path against its working directory (set below)
            "sqlite:///db.sqlite".to_string()
        } else {
            "memory://nisshi/".to_string()
        };
        Broker {
            bin,
            port,
            storage,
            child: None,
            _dir: dir,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let url = format!("tcp://{}", self.addr());
        let log = std::fs::File::create(self._dir.path("broker.log")).unwrap();
        let child = Command::new(&self.bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args([
                "--storage-engine",
                &self.storage,
                "--group-initial-rebalance-delay",
                "0s",
            ])
            .current_dir(self._dir.root())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start nisshi");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(self.addr()).is_err() {
            assert!(Instant::now() < deadline, "broker did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait for the exit (SIGKILL after 20 s).
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.try_wait().unwrap().is_none() {
                if Instant::now() >= deadline {
                    let _ = c.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Checks received = delivered + counted losses from the exit summary.
fn check_accounting(summary: &str) -> u64 {
    let flows = field(summary, "flows");
    let delivered = field(summary, "kafka_delivered");
    let lost = field(summary, "kafka_failed")
        + field(summary, "kafka_dropped_queue_full")
        + field(summary, "kafka_dropped_shutdown")
        + field(summary, "channel_dropped_flows");
    assert_eq!(
        flows,
        delivered + lost,
        "received = delivered + counted drops: {summary}"
    );
    delivered
}

/// Stop the broker for 10 s under load and start it again: coreflow keeps running, delivers
/// again by itself, and received = delivered + counted drops; with a long message timeout
/// and sqlite storage nothing is lost and nothing duplicated.
#[test]
fn broker_outage_under_load() {
    let Some(bin) = nisshi("broker_outage_under_load") else {
        return;
    };
    let mut b = Broker::new(bin, free_tcp_port(), true);
    b.start();
    let topic = unique("outage");
    create_topic(&b.addr(), &topic);
    let mut c = collector()
        .config(&format!(
            "[kafka]\nbrokers = \"{}\"\ntopic = \"{topic}\"\nmessage_timeout_ms = 120000\n\
             shutdown_timeout_ms = 30000\n[kafka.librdkafka]\n\"reconnect.backoff.max.ms\" = 1000\n",
            b.addr()
        ))
        .start(&[]);
    // 20 s of 500 datagrams/s x 10 records = 100,000 flows
    let target = target(&c);
    let gen = std::thread::spawn(move || {
        flowgen(&[
            "--protocol",
            "v9",
            "--target",
            &target,
            "--exporters",
            "2",
            "--duration",
            "20",
            "--rate",
            "500",
            "--records",
            "10",
            "--template-every",
            "50",
        ])
    });
    std::thread::sleep(Duration::from_secs(4));
    b.stop();
    std::thread::sleep(Duration::from_secs(10));
    assert!(c.is_running(), "coreflow keeps running");
    b.start();
    let sent = gen.join().unwrap();
    c.drain_log();
    let mut r = Reader::new(&b.addr(), &topic);
    r.until(sent.records as usize, Duration::from_secs(60));
    let (status, log, summary) = stop(c);
    eprintln!(
        "outage: flowgen sent {} records; coreflow: {summary}",
        sent.records
    );
    for l in log.iter().filter(|l| l.contains("kafka:")).take(5) {
        eprintln!("outage: {l}");
    }
    let delivered = check_accounting(&summary);
    assert!(status.success(), "{status:?} {log:?}");
    assert_eq!(field(&summary, "flows"), sent.records, "{summary}");
    assert_eq!(
        delivered, sent.records,
        "all delivered after the outage: {summary}"
    );
    r.until(sent.records as usize + 1, Duration::from_secs(2));
    let flows = decode(&r.got, false);
    check_sums(&sent, &flows);
}

/// Brokers unreachable at start: coreflow starts, collects, and delivers once the broker
/// appears.
#[test]
fn broker_appears_after_start() {
    let Some(bin) = nisshi("broker_appears_after_start") else {
        return;
    };
    let mut b = Broker::new(bin, free_tcp_port(), false);
    let topic = unique("late");
    let c = collector().start(&["-kafka.out.brokers", &b.addr(), "-kafka.out.topic", &topic]);
    let sent = flowgen(&["--protocol", "v5", "--target", &target(&c), "--count", "50"]);
    std::thread::sleep(Duration::from_secs(2));
    b.start();
    // topic auto-creation (4 partitions) on the first produce
    let mut r = Reader::new(&b.addr(), &topic);
    r.until(sent.records as usize, WAIT);
    let (status, log, summary) = stop(c);
    assert!(status.success(), "{log:?}");
    check_accounting(&summary);
    assert_eq!(
        field(&summary, "kafka_delivered"),
        sent.records,
        "{summary}"
    );
    check_sums(&sent, &decode(&r.got, false));
}

/// `-kafka.out.srv`: the brokers come from an SRV record served by dnsmasq on loopback.
#[test]
fn brokers_from_srv_record() {
    let Some(brokers) = broker("brokers_from_srv_record") else {
        return;
    };
    let dnsmasq = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(dnsmasq) = dnsmasq else {
        eprintln!("SKIPPED brokers_from_srv_record: dnsmasq is not installed (apt-get install dnsmasq-base)");
        return;
    };
    let (host, port) = brokers.rsplit_once(':').unwrap();
    let name = "_kafka._tcp.coreflow.test";
    // dnsmasq on a free port, answering before coreflow asks: a port taken between
    // free_udp_port() and dnsmasq's bind (tests run in parallel) makes it exit; retry
    let mut started = None;
    for _ in 0..5 {
        let dns_port = free_udp_port();
        let mut dns = Command::new(dnsmasq)
            .args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--user=root",
                &format!("--port={dns_port}"),
                &format!("--srv-host={name},{host},{port}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        if dns_answers(dns_port, name) {
            started = Some((dns, dns_port));
            break;
        }
        let _ = dns.kill();
        let _ = dns.wait();
    }
    let (mut dns, dns_port) = started.expect("dnsmasq answers on some free port");
    let topic = unique("srv");
    create_topic(&brokers, &topic);
    let resolver = format!("127.0.0.1:{dns_port}");
    let c = collector()
        .env(&[("COREFLOW_RESOLVER".to_string(), resolver)])
        .start(&["-kafka.out.srv", name, "-kafka.out.topic", &topic]);

    let sent = flowgen(&["--protocol", "v5", "--target", &target(&c), "--count", "10"]);
    let mut r = Reader::new(&brokers, &topic);
    r.until(sent.records as usize, WAIT);
    let (status, log, _) = stop(c);
    let _ = dns.kill();
    let _ = dns.wait();
    assert!(status.success(), "{log:?}");
    let described = format!("kafka {brokers} (SRV {name})");
    assert!(log.iter().any(|l| l.contains(&described)), "{log:?}");
    check_sums(&sent, &decode(&r.got, false));
}
