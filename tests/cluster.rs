//! Templates and sampling rates shared through the templates topic (`cluster.templates_topic`,
//! docs/scaling-out.md), against a real broker: several coreflow instances on loopback, each
//! on its own port and writing its flows to its own file; an exporter's templates go to one
//! instance and its data to the others.
//!
//! Needs a broker: `COREFLOW_TEST_KAFKA` (or `KAFKA_BROKERS`), as `scripts/test` sets after
//! starting nisshi; the outage test starts its own from `COREFLOW_TEST_NISSHI`. Without them
//! the tests print why and pass. The tests of this file run one at a time (each starts up to
//! three collectors), every wait is bounded, all traffic is on 127.0.0.1.

mod common;
#[path = "cluster/helpers.rs"]
mod helpers;
#[path = "cluster/wire.rs"]
mod wire;

use common::harness::{run_flowgen, Collector};
use common::kafka::*;
use coreflow::cluster::record::{Body, Key, Record};
use coreflow::decode::spec::FieldSpec;
use helpers::*;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use wire::*;

/// Three instances; an exporter's templates go to A, then its data alone to B and to C:
/// every record B and C receive decodes (exact sums, the sampling rate A learned), and B and C
/// never learned a template from the wire.
#[test]
fn templates_learned_on_one_instance_decode_on_the_others() {
    let _one = alone();
    let Some(brokers) = broker("templates_learned_on_one_instance_decode_on_the_others") else {
        return;
    };
    let topic = unique("templates");
    create_topic(&brokers, &topic);
    let a = instance(&brokers, &topic, "a");
    let mut b = instance(&brokers, &topic, "b");
    let mut c = instance(&brokers, &topic, "c");
    // 2 NetFlow v9 and 2 IPFIX exporters: 3 templates each (IPv4, IPv6, options)
    teach(&a, "v9", 0, 2);
    teach(&a, "ipfix", 2, 2);
    for x in [&b, &c] {
        let t = wait_cluster_templates(x, 12, 4);
        assert!(t.iter().all(|t| t["instance"] == "a"), "{t:?}");
    }
    let mut sent = Vec::new();
    for x in [&b, &c] {
        let mut s = data_only(x, "v9", 0, 2, 20);
        let s2 = data_only(x, "ipfix", 2, 2, 20);
        s.records += s2.records;
        s.bytes += s2.bytes;
        s.packets += s2.packets;
        sent.push(s);
    }
    // (the harness returns once the ports are bound; the load completes a little later)
    for x in [&mut b, &mut c] {
        let t0 = Instant::now();
        while metric(&metrics(x), "coreflow_cluster_initial_load_completed") != 1 {
            if t0.elapsed() > Duration::from_secs(10) {
                panic!("not loaded: {:#?}", x.drain_log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for x in [&b, &c] {
        let m = metrics(x);
        assert_eq!(metric(&m, "coreflow_templates_learned_total"), 0, "{m}");
        assert!(
            metric(&m, "coreflow_cluster_records_applied_total") >= 16,
            "{m}"
        );
        assert_eq!(
            metric(&m, "coreflow_cluster_initial_load_completed"),
            1,
            "{m}"
        );
    }
    let (code, health) = http_get(b.metrics_addr(), "/healthz");
    assert_eq!(code, 200, "{health}");
    assert!(health.contains("cluster: templates topic"), "{health}");
    let wire = templates(&a);
    assert!(wire.iter().all(|t| t["origin"] == "wire"), "{wire:?}");
    assert!(metric(&metrics(&a), "coreflow_cluster_records_published_total") >= 16);
    for (x, s) in [b, c].into_iter().zip(sent) {
        let flows = stop_clean(x);
        assert_eq!(sums(&flows), (s.records, s.bytes, s.packets));
        // the rate came from A's options data
        assert!(
            flows.iter().all(|f| f["SamplingRate"] == 1000),
            "{:?}",
            flows.first()
        );
    }
    stop_clean(a);
}

/// How long a template learned on A takes to be applied on B: the p99 over 900 templates
/// (300 exporters) sent over about 3 s, from A's kernel receive time to B's apply time.
#[test]
fn propagation_p99_within_one_second() {
    let _one = alone();
    let Some(brokers) = broker("propagation_p99_within_one_second") else {
        return;
    };
    let topic = unique("propagation");
    create_topic(&brokers, &topic);
    let a = instance(&brokers, &topic, "a");
    let b = instance(&brokers, &topic, "b");
    wait_loaded(&b);
    flowgen_to(
        &a,
        &[
            "--protocol",
            "ipfix",
            "--first-exporter",
            "100",
            "--exporters",
            "300",
            "--count",
            "300",
            "--rate",
            "100",
            "--records",
            "1",
            "--template-every",
            "0",
            "--batch",
            "1",
        ],
    );
    let t = wait_cluster_templates(&b, 900, 0);
    let mut lat: Vec<u64> = t
        .iter()
        .map(|t| {
            t["applied_ns"]
                .as_u64()
                .unwrap()
                .saturating_sub(t["learned_ns"].as_u64().unwrap())
        })
        .collect();
    lat.sort_unstable();
    let q = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1e6;
    eprintln!(
        "propagation A -> B over {} templates: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        q(0.5),
        q(0.99),
        q(1.0)
    );
    assert!(q(0.99) <= 1000.0, "p99 {:.1} ms", q(0.99));
    stop_clean(b);
    stop_clean(a);
}

/// A template redefined on A (same id, new fields) reaches B, and B decodes the new layout.
#[test]
fn a_redefinition_reaches_the_others() {
    let _one = alone();
    let Some(brokers) = broker("a_redefinition_reaches_the_others") else {
        return;
    };
    let topic = unique("redefine");
    create_topic(&brokers, &topic);
    let a = instance(&brokers, &topic, "a");
    let b = instance(&brokers, &topic, "b");
    wait_loaded(&b);
    let exporter = UdpSocket::bind(SocketAddr::new(Ipv4Addr::new(127, 0, 3, 9).into(), 0)).unwrap();
    // layout 1: IN_BYTES (1) 4 bytes, IN_PKTS (2) 4 bytes
    exporter
        .send_to(&v9_template(&[(1, 4), (2, 4)], 1), a.listener_addr())
        .unwrap();
    let t = wait_cluster_templates(&b, 1, 0);
    assert_eq!(t[0]["fields"].as_array().unwrap().len(), 2, "{t:?}");
    let rec1 = |bytes: u32, pkts: u32| [bytes.to_be_bytes(), pkts.to_be_bytes()].concat();
    exporter
        .send_to(
            &v9_data(&[rec1(1000, 10), rec1(2000, 20)], 2),
            b.listener_addr(),
        )
        .unwrap();
    // layout 2, published later: PROTOCOL (4) 1 byte, IN_PKTS 4 bytes, IN_BYTES 8 bytes
    std::thread::sleep(Duration::from_millis(20));
    exporter
        .send_to(
            &v9_template(&[(4, 1), (2, 4), (1, 8)], 3),
            a.listener_addr(),
        )
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let t = templates(&b);
        if t.len() == 1 && t[0]["fields"].as_array().unwrap().len() == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no redefinition on B: {t:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let rec2 = |bytes: u64, pkts: u32| {
        [
            vec![6u8],
            pkts.to_be_bytes().to_vec(),
            bytes.to_be_bytes().to_vec(),
        ]
        .concat()
    };
    exporter
        .send_to(
            &v9_data(&[rec2(5_000_000_000, 7), rec2(3, 1), rec2(4, 2)], 4),
            b.listener_addr(),
        )
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while metric(&metrics(&b), "coreflow_flows_decoded_total") < 5 {
        assert!(Instant::now() < deadline, "{}", metrics(&b));
        std::thread::sleep(Duration::from_millis(50));
    }
    let m = metrics(&b);
    assert_eq!(metric(&m, "coreflow_template_misses_total"), 0, "{m}");
    let flows = stop_clean(b);
    assert_eq!(
        sums(&flows),
        (5, 1000 + 2000 + 5_000_000_000 + 3 + 4, 10 + 20 + 7 + 1 + 2)
    );
    assert!(flows[2..].iter().all(|f| f["Proto"] == 6), "{flows:?}");
    stop_clean(a);
}

/// `kill -9` of A while B and C decode under load: they keep decoding every record; A started
/// again (no state directory) reads the topic before it is ready and decodes its first data
/// datagram.
#[test]
fn kill9_of_one_instance_and_a_restart_with_empty_state() {
    let _one = alone();
    let Some(brokers) = broker("kill9_of_one_instance_and_a_restart_with_empty_state") else {
        return;
    };
    let topic = unique("kill9");
    create_topic(&brokers, &topic);
    let a = instance(&brokers, &topic, "a");
    let b = instance(&brokers, &topic, "b");
    let c = instance(&brokers, &topic, "c");
    teach(&a, "ipfix", 10, 3);
    wait_cluster_templates(&b, 9, 3);
    wait_cluster_templates(&c, 9, 3);
    // A keeps learning (new exporters' templates) while B and C take data only
    let ta = target_of(&a);
    // (its sends fail once A is gone: not counted against anything)
    let teach_more = std::thread::spawn(move || {
        run_flowgen(&[
            "--target",
            &ta,
            "--protocol",
            "ipfix",
            "--first-exporter",
            "20",
            "--exporters",
            "50",
            "--rate",
            "100",
            "--duration",
            "3",
            "--records",
            "1",
        ])
    });
    let (tb, tc) = (target_of(&b), target_of(&c));
    let load = |t: String| {
        std::thread::spawn(move || {
            flowgen(&[
                "--target",
                &t,
                "--protocol",
                "ipfix",
                "--first-exporter",
                "10",
                "--exporters",
                "3",
                "--rate",
                "300",
                "--duration",
                "3",
                "--records",
                "10",
                "--data-only",
                "true",
            ])
        })
    };
    let (lb, lc) = (load(tb), load(tc));
    std::thread::sleep(Duration::from_millis(1500));
    a.kill9();
    teach_more.join().unwrap();
    let (sb, sc) = (lb.join().unwrap(), lc.join().unwrap());
    // A again, same name, nothing on disk: the topic is all it has
    let a2 = instance(&brokers, &topic, "a");
    wait_loaded(&a2);
    assert!(templates(&a2).len() >= 9);
    let s1 = data_only(&a2, "ipfix", 10, 3, 3);
    let deadline = Instant::now() + WAIT;
    while metric(&metrics(&a2), "coreflow_flows_decoded_total") < s1.records {
        assert!(Instant::now() < deadline, "{}", metrics(&a2));
        std::thread::sleep(Duration::from_millis(50));
    }
    let m = metrics(&a2);
    assert_eq!(metric(&m, "coreflow_template_misses_total"), 0, "{m}");
    assert_eq!(sums(&stop_clean(a2)), (s1.records, s1.bytes, s1.packets));
    for (x, s) in [(b, sb), (c, sc)] {
        let m = metrics(&x);
        assert_eq!(metric(&m, "coreflow_template_misses_total"), 0, "{m}");
        assert_eq!(sums(&stop_clean(x)), (s.records, s.bytes, s.packets));
    }
}

/// A flood of templates from 2000 spoofed exporters on A (64,000 templates, about 45 MiB of
/// state uncapped) reaches B through the topic: B's template state stays under its
/// `max_template_bytes` (8 MiB): its resident memory grows by the cap and a fixed allowance
/// for the Kafka consumer's buffers at most (see below), the cap's evictions are counted, and
/// B keeps decoding its own exporter (which it hears, so its templates are not the ones
/// evicted).
#[test]
fn a_template_flood_on_one_instance_stays_within_the_others_limits() {
    let _one = alone();
    let Some(brokers) = broker("a_template_flood_on_one_instance_stays_within_the_others_limits")
    else {
        return;
    };
    let topic = unique("flood");
    create_topic(&brokers, &topic);
    let cap: u64 = std::env::var("COREFLOW_CLUSTER_FLOOD_CAP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8 << 20);
    let a = instance(&brokers, &topic, "a");
    let b = instance_builder(
        &brokers,
        &topic,
        "b",
        &format!("[limits]\nmax_template_bytes = {cap}\n"),
    )
    .env(&[("MIMALLOC_PURGE_DELAY".into(), "0".into())])
    .start(&[]);
    wait_loaded(&b);
    // B's own exporter, templates and data, all along
    let tb = target_of(&b);
    let own = std::thread::spawn(move || {
        flowgen(&[
            "--target",
            &tb,
            "--protocol",
            "ipfix",
            "--first-exporter",
            "30",
            "--rate",
            "200",
            "--duration",
            "6",
            "--records",
            "10",
            "--template-every",
            "20",
        ])
    });
    // A warm-up through the same path from one exporter (at most its 1024 templates of
    // state): the Kafka client's buffers and the threads' heaps are touched before the
    // baseline, so that what the flood adds is the template state.
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut d = Vec::new();
    let warm = UdpSocket::bind(SocketAddr::new(Ipv4Addr::new(127, 22, 255, 1).into(), 0)).unwrap();
    for i in 0..200 {
        template_bomb(&mut rng, 32, &mut d);
        warm.send_to(&d, a.listener_addr()).unwrap();
        if i % 64 == 63 {
            std::thread::sleep(Duration::from_millis(15));
        }
    }
    caught_up(&a, &b, 5_000);
    std::thread::sleep(Duration::from_millis(500));
    let (rss0, _) = b.memory_kib();
    for i in 0..2000u32 {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 22, 0, 1)) + i);
        let s = UdpSocket::bind(SocketAddr::new(IpAddr::V4(ip), 0)).unwrap();
        template_bomb(&mut rng, 32, &mut d);
        s.send_to(&d, a.listener_addr()).unwrap();
        if i % 64 == 63 {
            std::thread::sleep(Duration::from_millis(15));
        }
    }
    let sent = own.join().unwrap();
    caught_up(&a, &b, 60_000);
    std::thread::sleep(Duration::from_millis(500));
    let (rss, hwm) = b.memory_kib();
    let m = metrics(&b);
    let growth = rss.saturating_sub(rss0);
    let peak = hwm.saturating_sub(rss0);
    eprintln!(
        "flood via the topic: B VmRSS before {rss0} KiB, after {rss} KiB, VmHWM {hwm} KiB: \
         growth {growth} KiB (peak {peak} KiB), cap {} KiB; B applied {}, ignored (limit) {}",
        cap / 1024,
        metric(&m, "coreflow_cluster_records_applied_total"),
        m.lines()
            .find(|l| l.contains("reason=\"limit\""))
            .unwrap_or("")
    );
    // What stays is the template state, bounded by the cap, and what the Kafka consumer's
    // bounded buffers (1 MiB of prefetch, 1 MiB fetch responses) and the allocators leave
    // resident, which is not proportional to the cap: over the cap, measured (2-core machine,
    // busy) at an 8 MiB cap 0 to 1.2 MiB (debug) and 1.2 to 5.1 MiB (release); at 1 MiB, 1.9
    // (debug) and 3.9 MiB (release). The bound asserted allows 6 MiB for it; the peak 8 MiB.
    let allowed = cap / 1024 + 6 * 1024;
    assert!(
        growth <= allowed,
        "growth {growth} KiB > cap {} KiB + 6 MiB",
        cap / 1024
    );
    assert!(
        peak <= cap / 1024 + 8 * 1024,
        "peak {peak} KiB > cap {} KiB + 8 MiB",
        cap / 1024
    );
    assert!(metric(&m, "coreflow_decode_limits_total") > 0, "{m}");
    assert_eq!(metric(&m, "coreflow_template_misses_total"), 0, "{m}");
    assert_eq!(
        sums(&stop_clean(b)),
        (sent.records, sent.bytes, sent.packets)
    );
    stop_clean(a);
}

/// The broker stopped for 10 s under load: every instance keeps decoding what the wire
/// delivers (exact sums), `/healthz` stays 200 and says the broker is away, and what A learns
/// during the outage reaches B once the broker is back.
#[test]
fn broker_away_for_ten_seconds() {
    let _one = alone();
    let Some(bin) = nisshi("broker_away_for_ten_seconds") else {
        return;
    };
    let mut br = Broker::new(bin, free_tcp_port(), true);
    br.start();
    let brokers = br.addr();
    let topic = unique("away");
    create_topic(&brokers, &topic);
    let a = instance(&brokers, &topic, "a");
    let b = instance(&brokers, &topic, "b");
    // the teaching datagrams carry a data record each: A's sums count them
    let t1 = teach(&a, "v9", 40, 2);
    wait_cluster_templates(&b, 6, 2);
    let (ta, tb) = (target_of(&a), target_of(&b));
    let la = std::thread::spawn(move || {
        flowgen(&[
            "--target",
            &ta,
            "--protocol",
            "v9",
            "--first-exporter",
            "40",
            "--exporters",
            "2",
            "--rate",
            "200",
            "--duration",
            "16",
            "--records",
            "10",
        ])
    });
    let lb = std::thread::spawn(move || {
        flowgen(&[
            "--target",
            &tb,
            "--protocol",
            "v9",
            "--first-exporter",
            "40",
            "--exporters",
            "2",
            "--rate",
            "200",
            "--duration",
            "16",
            "--records",
            "10",
            "--data-only",
            "true",
        ])
    });
    std::thread::sleep(Duration::from_secs(2));
    br.stop();
    // a new exporter's templates reach A while the broker is away
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, body) = http_get(b.metrics_addr(), "/healthz");
        assert_eq!(code, 200, "{body}");
        if body.contains("no broker reachable") {
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let t2 = teach(&a, "ipfix", 60, 1);
    std::thread::sleep(Duration::from_secs(8));
    for x in [&a, &b] {
        let (code, body) = http_get(x.metrics_addr(), "/healthz");
        assert_eq!(code, 200, "{body}");
        assert_eq!(metric(&metrics(x), "coreflow_cluster_broker_up"), 0);
    }
    br.start();
    // published once the broker is back: B gets the IPFIX exporter's 3 templates
    wait_cluster_templates(&b, 9, 3);
    let (mut sa, sb) = (la.join().unwrap(), lb.join().unwrap());
    for t in [t1, t2] {
        sa.records += t.records;
        sa.bytes += t.bytes;
        sa.packets += t.packets;
    }
    let (code, body) = http_get(b.metrics_addr(), "/healthz");
    assert_eq!(code, 200, "{body}");
    for (x, s) in [(a, sa), (b, sb)] {
        let m = metrics(&x);
        assert_eq!(metric(&m, "coreflow_template_misses_total"), 0, "{m}");
        assert_eq!(metric(&m, "coreflow_kernel_drops_total"), 0, "{m}");
        assert_eq!(sums(&stop_clean(x)), (s.records, s.bytes, s.packets));
    }
}

/// Records of other programs and broken ones on the topic are counted and skipped; the
/// instance starts, stays healthy and applies the good records around them.
#[test]
fn malformed_and_foreign_records_are_counted_and_ignored() {
    let _one = alone();
    let Some(brokers) = broker("malformed_and_foreign_records_are_counted_and_ignored") else {
        return;
    };
    let topic = unique("foreign");
    create_topic(&brokers, &topic);
    let good = Record {
        key: Key::Template {
            exporter: "192.0.2.44".parse().unwrap(),
            version: 10,
            domain: 1,
            id: 400,
        },
        instance: "elsewhere".into(),
        learned_ns: 1,
        body: Some(Body::Template {
            options: false,
            scope_count: 0,
            fields: vec![FieldSpec {
                id: 1,
                len: 8,
                pen: 0,
            }],
        }),
    };
    let key = good.key.encode();
    let p = producer(&brokers);
    produce(&p, &topic, Some(b"hello"), Some(b"world"));
    produce(&p, &topic, None, Some(b"no key"));
    produce(&p, &topic, Some(key.as_bytes()), Some(b"\xff\xff\xff\xff"));
    produce(&p, &topic, Some(b"t/192.0.2.44/10/1"), Some(b""));
    produce(&p, &topic, Some(key.as_bytes()), good.value().as_deref());
    p.flush(Duration::from_secs(10)).unwrap();
    let b = instance(&brokers, &topic, "b");
    wait_loaded(&b);
    wait_cluster_templates(&b, 1, 0);
    let m = metrics(&b);
    let ignored = |r: &str| {
        m.lines()
            .find(|l| {
                l.starts_with("coreflow_cluster_records_ignored_total")
                    && l.contains(&format!("reason=\"{r}\""))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    assert_eq!(ignored("foreign"), 2, "{m}");
    assert_eq!(ignored("malformed"), 2, "{m}");
    assert_eq!(
        metric(&m, "coreflow_cluster_records_applied_total"),
        1,
        "{m}"
    );
    let (code, body) = http_get(b.metrics_addr(), "/healthz");
    assert_eq!(code, 200, "{body}");
    stop_clean(b);
}

/// The initial load of 100,000 templates (20,000 exporters x 5): the time it took is printed
/// (`coreflow_cluster_initial_load_seconds`); every template is applied before the instance
/// reports ready. The bound asserted is loose (debug builds, a shared machine); the figure
/// to compare with the 5 s goal is a release build's
/// (`cargo test --release --test cluster initial_load -- --nocapture`).
#[test]
fn initial_load_of_100k_templates() {
    let _one = alone();
    let Some(brokers) = broker("initial_load_of_100k_templates") else {
        return;
    };
    let topic = unique("load");
    create_topic(&brokers, &topic);
    let n: u32 = std::env::var("COREFLOW_CLUSTER_LOAD_TEMPLATES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let p: BaseProducer = client(
        &brokers,
        &[
            ("queue.buffering.max.messages", "1000000"),
            ("linger.ms", "20"),
        ],
    )
    .create()
    .unwrap();
    let fields: Vec<FieldSpec> = (0..10)
        .map(|i| FieldSpec {
            id: 1 + i,
            len: 4,
            pen: 0,
        })
        .collect();
    let t0 = Instant::now();
    for i in 0..n {
        let r = Record {
            key: Key::Template {
                exporter: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i / 5)),
                version: 10,
                domain: 0,
                id: 256 + (i % 5) as u16,
            },
            instance: "loader".into(),
            learned_ns: 1,
            body: Some(Body::Template {
                options: false,
                scope_count: 0,
                fields: fields.clone(),
            }),
        };
        let k = r.key.encode();
        let v = r.value().unwrap();
        loop {
            match p.send(
                BaseRecord::<'_, [u8], [u8]>::to(&topic)
                    .key(k.as_bytes())
                    .payload(&v),
            ) {
                Ok(()) => break,
                Err(_) => {
                    p.poll(Duration::from_millis(10));
                }
            }
        }
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(60)).unwrap();
    eprintln!(
        "produced {n} template records in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let b = instance_builder(
        &brokers,
        &topic,
        "b",
        "[limits]\nmax_exporters = 100000\nmax_template_bytes = 1073741824\n",
    )
    .start(&[]);
    wait_loaded(&b);
    let m = metrics(&b);
    let secs = m
        .lines()
        .find_map(|l| l.strip_prefix("coreflow_cluster_initial_load_seconds "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap();
    let deadline = Instant::now() + WAIT;
    // (the worker publishes its template count about once a second)
    while metric(&metrics(&b), "coreflow_templates") < u64::from(n) {
        assert!(Instant::now() < deadline, "{}", metrics(&b));
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "initial load: {n} templates read in {secs:.2} s; held: {}",
        metric(&metrics(&b), "coreflow_templates")
    );
    assert_eq!(metric(&metrics(&b), "coreflow_templates"), u64::from(n));
    assert!(secs < 60.0, "{secs} s");
    stop_clean(b);
}

/// An empty topic is read at once: the instance reports the load completed.
#[test]
fn an_empty_topic_loads_at_once() {
    let _one = alone();
    let Some(brokers) = broker("an_empty_topic_loads_at_once") else {
        return;
    };
    let topic = unique("empty");
    create_topic(&brokers, &topic);
    let b = instance(&brokers, &topic, "b");
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&metrics(&b), "coreflow_cluster_initial_load_completed") != 1 {
        if Instant::now() >= deadline {
            let (_, log, _) = b.stop();
            panic!("not loaded: {log:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop_clean(b);
}

/// No broker at start (a closed port): the instance reports ready once its load timeout
/// passed, `/healthz` says 200 and why, and it decodes from the wire as without a topic.
#[test]
fn no_broker_at_start_is_not_fatal() {
    let _one = alone();
    let c = Collector::builder()
        .listeners(&["-fport", "0", "-sflow=false", "-fworkers", "1"])
        .metrics_endpoint()
        .wait(WAIT)
        .config(
            "[kafka]\nbrokers = \"127.0.0.1:1\"\n\
             [cluster]\ninstance = \"alone\"\ntemplates_topic = \"t\"\nload_timeout_ms = 500\n",
        )
        .start(&[]);
    let sent = flowgen_to(
        &c,
        &["--protocol", "ipfix", "--count", "20", "--records", "5"],
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, body) = http_get(c.metrics_addr(), "/healthz");
        assert_eq!(code, 200, "{body}");
        if body.contains("no broker reachable") {
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let m = metrics(&c);
    assert_eq!(
        metric(&m, "coreflow_cluster_initial_load_completed"),
        0,
        "{m}"
    );
    let (status, log, flows) = c.stop();
    assert_eq!(status.code(), Some(0), "{log:?}");
    assert!(
        log.iter().any(|l| l.contains("was not read to its end")),
        "{log:?}"
    );
    assert_eq!(sums(&flows), (sent.records, sent.bytes, sent.packets));
}
