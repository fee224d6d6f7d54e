//! Fault tests on loopback, each bounded in time: a template flood from many spoofed
//! exporters, garbage and mangled captures alongside a legitimate stream, and `kill -9` with
//! a restart from the persisted state. `COREFLOW_FAULT_SECONDS` sets how long the garbage is
//! sent (default 10 in CI; the full run is 60).

mod common;

use common::harness::{
    exit_summary, now_ns, report_field, run_flowgen_in_background, summary_field, Collector,
    TempDir,
};
use coreflow_flowgen::{Exporter, GenOptions, GenProtocol};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// The bound of every wait in these tests, the collector's included (the harness default is
/// 20 s).
const WAIT: Duration = Duration::from_secs(30);

/// The two-bind state test runs alone: while the other tests here ran beside it, its second
/// address's worker sometimes received nothing for 30 s (cause not found; alone it always
/// passes). The others share the lock and run side by side as before.
static ALONE: RwLock<()> = RwLock::new(());

fn beside_others() -> RwLockReadGuard<'static, ()> {
    ALONE.read().unwrap_or_else(|e| e.into_inner())
}

/// coreflow on free ports with `extra` flags, every wait bounded by [`WAIT`].
fn start(extra: &[&str]) -> Collector {
    Collector::builder().wait(WAIT).start(extra)
}

/// SIGTERM, the exit status checked; the whole log and the flows written.
fn stop_expecting_exit_0(c: Collector) -> (Vec<String>, Vec<Value>) {
    let (status, log, flows) = c.stop();
    assert!(status.success(), "{log:?}");
    (log, flows)
}

/// The `Environment=` settings of the shipped unit (systemd/coreflow.service), so that a test
/// runs coreflow in the environment it is deployed with.
fn unit_environment() -> Vec<(String, String)> {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/coreflow.service");
    std::fs::read_to_string(unit)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Environment="))
        .flat_map(|v| v.split_whitespace())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One IPFIX datagram of `n` templates with random ids and `fields` fields each.
fn template_bomb(rng: &mut u64, n: usize, fields: usize, out: &mut Vec<u8>) {
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    out.clear();
    let set_len = 4 + n * (4 + 4 * fields);
    let total = 16 + set_len;
    out.extend_from_slice(&10u16.to_be_bytes());
    out.extend_from_slice(&(total as u16).to_be_bytes());
    out.extend_from_slice(&(now_ns() / 1_000_000_000).to_be_bytes()[4..]);
    out.extend_from_slice(&0u32.to_be_bytes()); // sequence
    out.extend_from_slice(&((next() as u32) % 16).to_be_bytes()); // domain
    out.extend_from_slice(&2u16.to_be_bytes());
    out.extend_from_slice(&(set_len as u16).to_be_bytes());
    for _ in 0..n {
        out.extend_from_slice(&(256 + (next() % 60000) as u16).to_be_bytes());
        out.extend_from_slice(&(fields as u16).to_be_bytes());
        for f in 0..fields {
            out.extend_from_slice(&(1 + f as u16).to_be_bytes());
            out.extend_from_slice(&(1 + (next() % 8) as u16).to_be_bytes());
        }
    }
}

/// A template flood from 4000 spoofed exporters (127.20.0.1 and up), each sending 32 random
/// templates of 40 fields, while a legitimate exporter streams: the resident memory the
/// process gains (VmHWM minus VmRSS before the flood) stays within `max_template_bytes` x
/// workers (one NetFlow worker holds all the state here), and every legitimate flow is
/// decoded.
///
/// Uncapped, the flood's state would be about 4000 x 16 templates x 0.7 KiB = 44 MiB
/// (`max_exporters` is left at its default of 10000, so only the byte cap binds).
#[test]
fn template_flood_keeps_memory_bounded_and_legit_decoding() {
    let _shared = beside_others();
    let cap_bytes: u64 = 8 << 20;
    let workers = 1;
    let metrics_rows = 64;
    let config = format!(
        "[netflow]\nsockets = {workers}\n\
         [limits]\nmax_templates_per_exporter = 16\n\
         max_fields_per_template = 64\nmax_template_bytes = {cap_bytes}\n\
         [metrics]\nmax_exporters = {metrics_rows}\n"
    );
    // The shipped unit's environment (MIMALLOC_PURGE_DELAY=0: freed pages go back to the OS at
    // once instead of staying resident for mimalloc's default 1 s), as deployed.
    let c = Collector::builder()
        .wait(WAIT)
        .config(&config)
        .env(&unit_environment())
        .start(&[]);
    let target = c.netflow_addr().to_string();
    // the legitimate exporter first, so its templates are in
    let legit = run_flowgen_in_background(vec![
        "--target".into(),
        target.clone(),
        "--protocol".into(),
        "ipfix".into(),
        "--rate".into(),
        "200".into(),
        "--duration".into(),
        "7".into(),
    ]);
    c.wait_lines(1);
    // The per-exporter metrics rows are not template state: they have their own bound
    // (`[metrics] max_exporters`, then one `other` row) and are filled before the baseline, by
    // an empty IPFIX message (header only: no template state, no flows) from as many more
    // addresses. Otherwise the flood's first exporters would fill them and their growth would
    // be charged to the cap. (A flood exporter's row would also list its 32 templates, under
    // 1 KiB each: those lists are left to the flood.)
    let mut empty = Vec::new();
    empty.extend_from_slice(&10u16.to_be_bytes());
    empty.extend_from_slice(&16u16.to_be_bytes());
    empty.extend_from_slice(&(now_ns() / 1_000_000_000).to_be_bytes()[4..]);
    empty.extend_from_slice(&0u32.to_be_bytes()); // sequence
    empty.extend_from_slice(&0u32.to_be_bytes()); // domain
    for i in 0..metrics_rows {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 21, 0, 1)) + i);
        let s = UdpSocket::bind(SocketAddr::new(IpAddr::V4(ip), 0)).unwrap();
        s.send_to(&empty, c.netflow_addr()).unwrap();
    }
    // the worker copies its rows into its metrics snapshot about once a second: let that
    // copy be made with every row in it
    std::thread::sleep(Duration::from_millis(1500));
    let (rss0, _) = c.memory_kib();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut d = Vec::new();
    let t0 = Instant::now();
    let mut sent = 0u64;
    let n: u32 = std::env::var("COREFLOW_FLOOD_EXPORTERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000);
    for i in 0..n {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 20, 0, 1)) + i);
        let s = UdpSocket::bind(SocketAddr::new(IpAddr::V4(ip), 0)).unwrap();
        template_bomb(&mut rng, 32, 40, &mut d);
        s.send_to(&d, c.netflow_addr()).unwrap();
        sent += 1;
        if i % 64 == 63 {
            // paced so the receive queue never overflows: the legitimate stream must get in
            std::thread::sleep(Duration::from_millis(15));
        }
        assert!(t0.elapsed() < WAIT, "flood took too long");
    }
    let line = legit.join().unwrap();
    let records = report_field(&line, "records");
    c.wait_lines(records as usize);
    let (rss, hwm) = c.memory_kib();
    let (log, flows) = stop_expecting_exit_0(c);
    let summary = exit_summary(&log);
    // What the flood made resident, against the configured cap: the receive buffers are
    // resident from start (coreflow touches them when a worker starts), the metrics rows are
    // full before the baseline (above), freed pages are returned at once (the unit's
    // MIMALLOC_PURGE_DELAY=0), and the template budget keeps headroom under the cap for the
    // pages evictions leave partly used (`template::budget`). So all the flood may add is the
    // template state, bounded by the cap, and the little the rest of the process does
    // meanwhile (the `other` metrics row's template list, the eviction pass's scratch).
    let growth = hwm.saturating_sub(rss0);
    let cap_kib = workers * cap_bytes / 1024;
    eprintln!(
        "flood: {sent} datagrams from {n} exporters; VmRSS before {rss0} KiB, after {rss} KiB, \
         VmHWM {hwm} KiB: growth {growth} KiB, cap {cap_kib} KiB (max_template_bytes {} KiB \
         x {workers} worker)",
        cap_bytes / 1024
    );
    assert!(growth <= cap_kib, "growth {growth} KiB > cap {cap_kib} KiB");
    assert_eq!(flows.len() as u64, records, "{summary}");
    assert_eq!(summary_field(&summary, "kernel_drops"), 0, "{summary}");
    assert_eq!(
        summary_field(&summary, "template_not_found"),
        0,
        "{summary}"
    );
    assert!(summary_field(&summary, "limit") > 0, "{summary}");
}

/// Every payload of every capture in ../shared/captures (skipped if absent).
fn capture_payloads() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(mut bytes) = std::fs::read(&path) else {
                continue;
            };
            if path.extension().is_some_and(|x| x == "gz") {
                use std::io::Read;
                let mut v = Vec::new();
                if flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_end(&mut v)
                    .is_err()
                {
                    continue;
                }
                bytes = v;
            }
            if let Ok((d, _)) = coreflow::pcap::read_udp(&bytes) {
                out.extend(d.into_iter().map(|d| d.payload).filter(|p| p.len() > 4));
            }
        }
    }
    out
}

/// Random garbage, truncated and bit-flipped copies of every capture, sent from another
/// address for `COREFLOW_FAULT_SECONDS` (10 by default), while a legitimate IPFIX stream is
/// sent alongside: no crash, and every legitimate flow is decoded.
#[test]
fn garbage_and_mangled_captures_do_not_disturb_a_legit_stream() {
    let _shared = beside_others();
    let secs: f64 = std::env::var("COREFLOW_FAULT_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let mut payloads = capture_payloads();
    if payloads.is_empty() {
        eprintln!("no captures in ../shared/captures: garbage only");
    }
    payloads.truncate(5000);
    let c = start(&[]);
    let target = c.netflow_addr().to_string();
    let legit = run_flowgen_in_background(vec![
        "--target".into(),
        target,
        "--protocol".into(),
        "ipfix".into(),
        "--rate".into(),
        "200".into(),
        "--duration".into(),
        format!("{secs}"),
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let dst = c.netflow_addr();
    let st = stop.clone();
    let junk = std::thread::spawn(move || {
        let s = UdpSocket::bind("127.0.9.9:0").unwrap();
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut n = 0u64;
        let mut buf = Vec::new();
        while !st.load(Ordering::Relaxed) {
            for _ in 0..32 {
                buf.clear();
                let kind = next() % 3;
                if kind == 0 || payloads.is_empty() {
                    let len = (next() % 1500) as usize;
                    buf.extend((0..len).map(|_| next() as u8));
                    // a plausible version half the time, so the decoders go deeper
                    if len >= 4 && next() % 2 == 0 {
                        let v = [5u8, 9, 10][(next() % 3) as usize];
                        buf[0] = 0;
                        buf[1] = v;
                    }
                } else {
                    let p = &payloads[(next() % payloads.len() as u64) as usize];
                    if kind == 1 {
                        buf.extend_from_slice(&p[..(next() % p.len() as u64) as usize]);
                    } else {
                        buf.extend_from_slice(p);
                        for _ in 0..1 + next() % 8 {
                            let i = (next() % buf.len() as u64) as usize;
                            buf[i] ^= 1 << (next() % 8);
                        }
                    }
                }
                let _ = s.send_to(&buf, dst);
                n += 1;
            }
            // paced (about 30k/s at most) so the legitimate stream is never dropped by a
            // full receive queue on a loaded CI machine
            std::thread::sleep(Duration::from_millis(1));
        }
        n
    });
    let line = legit.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let junk_sent = junk.join().unwrap();
    let records = report_field(&line, "records");
    // junk can decode to flows too: wait for the legitimate exporter's own
    let legit_in = |c: &Collector| {
        std::fs::read_to_string(&c.output)
            .unwrap_or_default()
            .matches("\"RouterAddr\":\"127.0.1.1\"")
            .count() as u64
    };
    let deadline = Instant::now() + WAIT;
    while legit_in(&c) < records && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (log, flows) = stop_expecting_exit_0(c);
    let summary = exit_summary(&log);
    let legit_flows = flows
        .iter()
        // (sFlow junk reports its agent address, which a capture may have set to this one)
        .filter(|f| f["RouterAddr"] == "127.0.1.1" && f["Type"] == "IPFIX")
        .count() as u64;
    eprintln!(
        "garbage: {junk_sent} junk datagrams in {secs} s; legit {records} flows sent, \
         {legit_flows} decoded ({} flows out in all); flowgen: {line}; {summary}",
        flows.len()
    );
    assert_eq!(summary_field(&summary, "kernel_drops"), 0, "{summary}");
    assert_eq!(report_field(&line, "errors"), 0, "{line}");
    assert_eq!(legit_flows, records, "{summary}");
}

/// Builds one exporter's templates datagram and data-only datagrams (IPFIX or v9).
fn exporters(n: u32, now: u64) -> Vec<(IpAddr, Exporter)> {
    (0..n)
        .map(|i| {
            let ip: IpAddr = format!("127.0.7.{}", i + 1).parse().unwrap();
            let proto = if i % 2 == 0 {
                GenProtocol::Ipfix
            } else {
                GenProtocol::V9
            };
            let opts = GenOptions {
                template_every: 0,
                ..GenOptions::new(proto)
            };
            (ip, Exporter::new(i, ip, opts, now))
        })
        .collect()
}

/// After a restart: one data datagram from every exporter to `dst`, no template resent. Every
/// record decodes from the persisted templates (no `template_not_found`); returns the log and
/// the flows of the stopped collector.
fn decodes_from_persisted_templates(
    c: Collector,
    dst: SocketAddr,
    ex: &mut [(IpAddr, Exporter)],
    socks: &[UdpSocket],
) -> (Vec<String>, Vec<Value>) {
    let mut d = Vec::new();
    let mut expected = 0;
    for ((_, e), s) in ex.iter_mut().zip(socks) {
        d.clear();
        expected += e.build(now_ns(), false, true, &mut d).records;
        s.send_to(&d, dst).unwrap();
    }
    c.wait_lines(expected as usize);
    let (log, flows) = stop_expecting_exit_0(c);
    let summary = exit_summary(&log);
    eprintln!(
        "restart: {expected} records sent after restart, {} decoded; {summary}",
        flows.len()
    );
    assert_eq!(flows.len() as u64, expected, "{summary}");
    assert_eq!(
        summary_field(&summary, "template_not_found"),
        0,
        "{summary}"
    );
    (log, flows)
}

/// `kill -9` under load, restart with the same state directory (and another number of
/// workers): the first data datagram of every exporter decodes, no template resent, with
/// its sampling rate.
#[test]
fn kill9_then_restart_decodes_from_persisted_templates() {
    let _shared = beside_others();
    let state = TempDir::new("state");
    let sd = state.root().to_str().unwrap().to_string();
    let now = now_ns();
    let mut ex = exporters(8, now);
    let c = start(&["-fworkers", "2", "--state-dir", &sd]);
    let dst = c.netflow_addr();
    let mut d = Vec::new();
    let mut socks = Vec::new();
    for (ip, e) in ex.iter_mut() {
        let s = UdpSocket::bind(SocketAddr::new(*ip, 0)).unwrap();
        d.clear();
        e.build(now, true, false, &mut d);
        s.send_to(&d, dst).unwrap();
        socks.push(s);
    }
    // under load: data from every exporter while the state is written and the process killed
    let deadline = Instant::now() + WAIT;
    let mut saved = 0;
    while saved < 8 {
        for ((_, e), s) in ex.iter_mut().zip(&socks) {
            d.clear();
            e.build(now_ns(), false, true, &mut d);
            s.send_to(&d, dst).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        saved = (0..2)
            .filter_map(|w| std::fs::read(state.path(&format!("netflow-{w}.json"))).ok())
            .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
            .map(|v| {
                v["exporters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| !e["templates"].as_array().unwrap().is_empty())
                    .filter(|e| !e["domains"].as_array().unwrap().is_empty())
                    .count()
            })
            .sum::<usize>();
        assert!(Instant::now() < deadline, "state not written: {saved}");
    }
    assert!(c.lines() > 0);
    c.kill9();

    let c = start(&["-fworkers", "3", "--state-dir", &sd]);
    let dst = c.netflow_addr();
    let (log, flows) = decodes_from_persisted_templates(c, dst, &mut ex, &socks);
    assert!(log.iter().any(|l| l.contains("loaded")), "{log:?}");
    assert!(
        flows.iter().all(|f| f["SamplingRate"] == 1000),
        "rates lost"
    );
    // the files now follow the 3 workers
    assert!(state.path("netflow-2.json").exists() || state.path("netflow-1.json").exists());
}

/// A corrupt or incompatible state file is reported and ignored, never fatal.
#[test]
fn corrupt_state_file_is_ignored() {
    let _shared = beside_others();
    let state = TempDir::new("state");
    std::fs::write(state.path("netflow-0.json"), b"{\"magic\": \"nope\"").unwrap();
    std::fs::write(
        state.path("netflow-1.json"),
        b"{\"magic\":\"coreflow-state\",\"version\":999}",
    )
    .unwrap();
    let c = start(&["--state-dir", state.root().to_str().unwrap()]);
    let (log, _) = stop_expecting_exit_0(c);
    let warned = log.iter().filter(|l| l.contains("ignored")).count();
    assert_eq!(warned, 2, "{log:?}");
}

/// State with two binds (`[[netflow.bind]]`): the workers are numbered across the binds, so
/// the second address's worker writes `netflow-2.json` (not a file of the first group), and
/// after a restart an exporter that sends to the second address decodes its first data
/// datagram from the persisted templates.
#[test]
fn state_files_of_two_binds_do_not_clash() {
    let _alone = ALONE.write().unwrap_or_else(|e| e.into_inner());
    let state = TempDir::new("state");
    let sd = state.root().to_str().unwrap().to_string();
    let toml = "[netflow]\nport = 0\n\
                [[netflow.bind]]\naddress = \"127.0.0.1\"\nsockets = 2\n\
                [[netflow.bind]]\naddress = \"127.0.0.2\"\n\
                [sflow]\nenabled = false\n";
    let collector = || {
        Collector::builder()
            .wait(WAIT)
            .listeners(&[])
            .config(toml)
            .start(&["--state-dir", &sd])
    };
    let now = now_ns();
    let mut ex = exporters(4, now);
    let c = collector();
    let dst = SocketAddr::new("127.0.0.2".parse().unwrap(), c.netflow_addr().port());
    let mut d = Vec::new();
    let mut socks = Vec::new();
    for (ip, e) in ex.iter_mut() {
        let s = UdpSocket::bind(SocketAddr::new(*ip, 0)).unwrap();
        d.clear();
        e.build(now, true, false, &mut d);
        s.send_to(&d, dst).unwrap();
        socks.push(s);
    }
    // the templates are written within about a second of being learned: wait for them (the
    // datagrams are resent while waiting, as the other tests here flood loopback)
    let file = state.path("netflow-2.json");
    let deadline = Instant::now() + WAIT;
    loop {
        let held = std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .map_or(0, |v| v["exporters"].as_array().map_or(0, Vec::len));
        if held == 4 {
            break;
        }
        // another test's flood on loopback may have dropped them: send again
        for ((_, e), s) in ex.iter_mut().zip(&socks) {
            d.clear();
            e.build(now, true, false, &mut d);
            s.send_to(&d, dst).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "state not written: {held} exporters"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (log, _) = stop_expecting_exit_0(c);
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["worker"], 2, "{log:?}");
    assert_eq!(v["exporters"].as_array().unwrap().len(), 4, "{v}");

    let c = collector();
    let dst = SocketAddr::new("127.0.0.2".parse().unwrap(), c.netflow_addr().port());
    decodes_from_persisted_templates(c, dst, &mut ex, &socks);
}
