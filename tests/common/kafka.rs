//! Kafka helpers of the integration tests (tests/kafka.rs, tests/kafka_batched.rs): the test
//! broker (`COREFLOW_TEST_KAFKA`, or a nisshi of a test's own from `COREFLOW_TEST_NISSHI`),
//! topic creation, a consumer that reads every partition from the beginning, coreflow with
//! one NetFlow worker, flowgen, and the checks on what arrived.

use super::harness::{
    exit_summary, report_field as field, run_flowgen, Collector, CollectorBuilder, TempDir,
};
use coreflow::pb::goflow_v2::FlowMessage;
use prost::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(30);
pub const PARTITIONS: i32 = 4;

pub static NEXT: AtomicUsize = AtomicUsize::new(0);

pub fn unique(tag: &str) -> String {
    format!(
        "cf-{}-{}-{tag}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The test broker, or `None` (with a message) when none is configured.
pub fn broker(test: &str) -> Option<String> {
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

pub fn nisshi(test: &str) -> Option<PathBuf> {
    let p = std::env::var_os("COREFLOW_TEST_NISSHI").map(PathBuf::from);
    match p {
        Some(p) if p.exists() => Some(p),
        _ => {
            eprintln!("SKIPPED {test}: COREFLOW_TEST_NISSHI (the nisshi binary) is not set");
            None
        }
    }
}

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a DNS server on 127.0.0.1:`port` answers an SRV query for `name` within ~3 s.
pub fn dns_answers(port: u16, name: &str) -> bool {
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

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// Broker side: topic creation (admin API, driven by a tiny block_on) and a consumer

pub struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread (rdkafka's admin client polls on its own).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
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

/// librdkafka settings of the test's own clients for `brokers`, plus `extra` (TLS, SASL).
pub fn client(brokers: &str, extra: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c
}

pub fn create_topic(brokers: &str, topic: &str) {
    create_topic_with(&client(brokers, &[]), topic);
}

/// Creates `topic` with [`PARTITIONS`] partitions through a client made from `c`.
pub fn create_topic_with(c: &ClientConfig, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = c.create().expect("admin client");
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
pub struct Got {
    pub partition: i32,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// The record's headers, in order (name, value; a null value is empty).
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Got {
    /// The value of header `name`, if the record has one.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Reads `topic` from the beginning of every partition (no consumer group join).
pub struct Reader {
    pub c: BaseConsumer,
    pub got: Vec<Got>,
}

impl Reader {
    pub fn new(brokers: &str, topic: &str) -> Reader {
        Reader::with(&client(brokers, &[]), topic)
    }

    /// A reader whose client is made from `c` (brokers, TLS, SASL).
    pub fn with(c: &ClientConfig, topic: &str) -> Reader {
        let c: BaseConsumer = c
            .clone()
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
    pub fn until(&mut self, n: usize, wait: Duration) -> usize {
        let deadline = Instant::now() + wait;
        while self.got.len() < n && Instant::now() < deadline {
            match self.c.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => self.got.push(Got {
                    partition: m.partition(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().unwrap_or_default().to_vec(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                                .collect()
                        })
                        .unwrap_or_default(),
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
pub fn collector() -> CollectorBuilder {
    Collector::builder()
        .listeners(&["-fport", "0", "-sflow=false", "-fworkers", "1"])
        .no_output()
        .wait(WAIT)
        .stop_wait(Duration::from_secs(60))
}

/// Where flowgen sends: the collector's one listener.
pub fn target(c: &Collector) -> String {
    c.listener_addr().to_string()
}

/// SIGTERM and wait (bounded); returns the status, the log and the exit summary line.
pub fn stop(c: Collector) -> (ExitStatus, Vec<String>, String) {
    let (status, log, _) = c.stop();
    let summary = exit_summary(&log);
    (status, log, summary)
}

pub fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

#[derive(Debug, Default)]
pub struct Sent {
    pub records: u64,
    pub bytes: u64,
    pub packets: u64,
}

pub fn flowgen(args: &[&str]) -> Sent {
    let text = run_flowgen(args);
    assert_eq!(field(&text, "errors"), 0, "{text}");
    Sent {
        records: field(&text, "records"),
        bytes: field(&text, "bytes"),
        packets: field(&text, "packets"),
    }
}

/// Decodes every GoFlow v2 message of every Kafka message: one bare message each
/// (`delimited` false) or varint-delimited messages, one or many each.
pub fn decode_all(got: &[Got], delimited: bool) -> Vec<FlowMessage> {
    if !delimited {
        return decode(got, false);
    }
    let mut out = Vec::new();
    for g in got {
        let mut buf = &g.value[..];
        while !buf.is_empty() {
            let f = FlowMessage::decode_length_delimited(&mut buf)
                .unwrap_or_else(|e| panic!("message does not decode: {e}"));
            out.push(f);
        }
    }
    out
}

/// Decodes GoFlow v2 messages (plain or varint-prefixed).
pub fn decode(got: &[Got], varint: bool) -> Vec<FlowMessage> {
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

pub fn check_sums(sent: &Sent, flows: &[FlowMessage]) {
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

/// `GET path` on the metrics endpoint: the status code and the body.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
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
pub fn metric(body: &str, name: &str) -> u64 {
    body.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

// ---------------------------------------------------------------------------------------------
// Tests with their own broker

/// A nisshi broker on 127.0.0.1:`port`.
pub struct Broker {
    pub bin: PathBuf,
    pub port: u16,
    pub storage: String,
    pub child: Option<Child>,
    pub _dir: TempDir,
}

impl Broker {
    pub fn new(bin: PathBuf, port: u16, sqlite: bool) -> Broker {
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

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn start(&mut self) {
        self.start_with(None, false);
    }

    /// Starts it, with TLS when `tls` (certificate, key) and authentication required when
    /// `auth` (which needs sqlite storage: the users are kept there); waits for the port.
    pub fn start_with(&mut self, tls: Option<(&std::path::Path, &std::path::Path)>, auth: bool) {
        let url = format!("tcp://{}", self.addr());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self._dir.path("broker.log"))
            .unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.args([
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
        ]);
        if let Some((cert, key)) = tls {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if auth {
            cmd.arg("--authentication");
        }
        let child = cmd
            .current_dir(self._dir.root())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start nisshi");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(self.addr()).is_err() {
            assert!(
                Instant::now() < deadline,
                "nisshi did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the broker logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path("broker.log")).unwrap_or_default()
    }

    /// `nisshi user create` against the running broker (started without authentication).
    pub fn create_user(&self, mechanism: &str, name: &str, password: &str) {
        let out = Command::new(&self.bin)
            .args([
                "user",
                "create",
                "--broker",
                &format!("tcp://{}", self.addr()),
            ])
            .args(["--mechanism", mechanism, name, password])
            .current_dir(self._dir.root())
            .output()
            .unwrap();
        assert!(out.status.success(), "user create: {out:?}");
    }

    /// SIGTERM and wait for the exit (SIGKILL after 20 s).
    pub fn stop(&mut self) {
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
pub fn check_accounting(summary: &str) -> u64 {
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

/// SIGTERM while no broker answers (the brokers are a closed port on 127.0.0.1, so no broker
/// is needed): the messages wait in flight, `/healthz` reports the stall after 5 s, and the
/// stop waits `shutdown_timeout_ms`, counts every undelivered message as
/// `kafka_dropped_shutdown`, logs the count at warn and exits 0.
/// `extra`: more `[kafka]` lines (the message mode).
pub fn sigterm_during_outage(extra: &str) {
    let topic = unique("down");
    // port 1 (tcpmux): nothing listens there, every connection is refused
    let c = collector()
        .metrics_endpoint()
        .config(&format!(
            "[kafka]\nbrokers = \"127.0.0.1:1\"\ntopic = \"{topic}\"\n\
             message_timeout_ms = 600000\nshutdown_timeout_ms = 300\n{extra}"
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

/// Stop the broker for 10 s under load and start it again: coreflow keeps running, delivers
/// again by itself, and received = delivered + counted drops; with a long message timeout
/// and sqlite storage nothing is lost and nothing duplicated.
/// `extra`: more `[kafka]` lines (the message mode).
pub fn outage_under_load(test: &str, extra: &str) {
    let Some(bin) = nisshi(test) else {
        return;
    };
    let mut b = Broker::new(bin, free_tcp_port(), true);
    b.start();
    let topic = unique("outage");
    create_topic(&b.addr(), &topic);
    let mut c = collector()
        .config(&format!(
            "[kafka]\nbrokers = \"{}\"\ntopic = \"{topic}\"\nmessage_timeout_ms = 120000\n\
             shutdown_timeout_ms = 30000\n{extra}[kafka.librdkafka]\n\"reconnect.backoff.max.ms\" = 1000\n",
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
    let flows = decode_all(&r.got, !extra.is_empty());
    check_sums(&sent, &flows);
}
