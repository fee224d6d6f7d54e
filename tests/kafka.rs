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

use common::harness::{report_field as field, TempDir, COREFLOW};
use common::kafka::*;
use coreflow::pb::goflow_v2::FlowMessage;
use prost::Message as _;
use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Every flow arrives exactly once, in GoFlow v2's plain framing, with exact sums, each with
/// the `coreflow-instance` header; the exit summary agrees (delivered = flows, nothing lost).
#[test]
fn every_flow_arrives_plain_goflow_v2() {
    let Some(brokers) = broker("every_flow_arrives_plain_goflow_v2") else {
        return;
    };
    let topic = unique("plain");
    create_topic(&brokers, &topic);
    let c = collector().start(&[
        "-kafka.out.brokers",
        &brokers,
        "-kafka.out.topic",
        &topic,
        "-cluster.instance",
        "collector-test-1",
        "-kafka.instance_header",
    ]);
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
    // every record names the collector in its header, and only there (no field by default)
    for g in &r.got {
        assert_eq!(
            g.header("coreflow-instance"),
            Some(&b"collector-test-1"[..]),
            "{:?}",
            g.headers
        );
    }
    let flows = decode(&r.got, false);
    check_sums(&sent, &flows);
    assert!(flows.iter().all(|f| f.collector_instance.is_empty()));
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
    // kafka.instance_header is off by default: no header
    assert!(r.got.iter().all(|g| g.headers.is_empty()));
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

/// SIGTERM while no broker answers (the brokers are a closed port on 127.0.0.1, so no broker
/// is needed): the messages wait in flight, `/healthz` reports the stall after 5 s, and the
/// stop waits `shutdown_timeout_ms`, counts every undelivered message as
/// `kafka_dropped_shutdown`, logs the count at warn and exits 0.
#[test]
fn sigterm_during_a_broker_outage_exits_0_with_the_loss_counted() {
    sigterm_during_outage("");
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
    let batched_plain = write("g.toml", "messages = \"batched\"\nframing = \"plain\"\n");
    let mode = write("h.toml", "messages = \"bulk\"\n");
    let max = write(
        "i.toml",
        "messages = \"batched\"\nmax_message_bytes = 2000000\n",
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
        (vec!["--config", &batched_plain], "kafka.framing", vec![]),
        (vec!["--config", &mode], "kafka.messages", vec![]),
        (vec!["--config", &max], "kafka.max_message_bytes", vec![]),
        (
            vec!["-kafka.out.brokers", "127.0.0.1:1", "-kafka.producers", "0"],
            "kafka.producers",
            vec![],
        ),
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

/// Stop the broker for 10 s under load and start it again: coreflow keeps running, delivers
/// again by itself, and received = delivered + counted drops; with a long message timeout
/// and sqlite storage nothing is lost and nothing duplicated.
#[test]
fn broker_outage_under_load() {
    outage_under_load("broker_outage_under_load", "");
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
