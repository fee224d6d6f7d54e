//! What `[output]` does to flows and files (issue 19): renormalization on real captures
//! (`coreflow replay --config`) and on flowgen's load with a sampling rate, the instance
//! field, and the file output's rotation (SIGHUP after a rename, as logrotate does, and the
//! built-in rotation by size) under load: the union of the files is what flowgen sent, every
//! message whole, none twice.

mod common;

use common::harness::{exit_summary, report_field, run_flowgen, Collector, TempDir};
use coreflow::pb::goflow_v2::FlowMessage;
use prost::Message;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn coreflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coreflow"))
        .args(args)
        .output()
        .expect("run the coreflow binary")
}

/// `coreflow replay --format json PCAP [--config FILE]`: its JSON lines.
fn replay(pcap: &Path, config: Option<&Path>) -> Vec<Value> {
    let mut args = vec!["replay", "--format", "json"];
    if let Some(c) = config {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    args.push(pcap.to_str().unwrap());
    let out = coreflow(&args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

/// Every capture of every protocol, replayed with and without `renormalize = true`: each flow
/// with a rate above 1 has bytes and packets times that rate and a rate of 1; every other
/// field, and every flow without a rate, is unchanged. So the sums are the sampled sums times
/// the rates.
#[test]
fn renormalize_real_captures() {
    let Some(root) = common::captures_root("renormalize_real_captures") else {
        return;
    };
    let dir = TempDir::new("renorm");
    let cfg = dir.path("renorm.toml");
    std::fs::write(&cfg, "[output]\nrenormalize = true\n").unwrap();
    let mut sampled_by_protocol: BTreeMap<&str, u64> = BTreeMap::new();
    for protocol in common::ALL_PROTOCOLS {
        for case in common::list_cases(&root, protocol) {
            let plain = replay(&case.pcap, None);
            let renorm = replay(&case.pcap, Some(&cfg));
            assert_eq!(plain.len(), renorm.len(), "{}", case.id());
            let (mut want_bytes, mut got_bytes) = (0u128, 0u128);
            for (p, r) in plain.iter().zip(&renorm) {
                let rate = u(p, "SamplingRate");
                let mut expect = p.clone();
                if rate > 1 {
                    *sampled_by_protocol.entry(protocol).or_default() += 1;
                    let m = expect.as_object_mut().unwrap();
                    for k in ["Bytes", "Packets"] {
                        let v = u(p, k).saturating_mul(rate);
                        if v == 0 {
                            m.remove(k);
                        } else {
                            m.insert(k.into(), v.into());
                        }
                    }
                    m.insert("SamplingRate".into(), 1.into());
                }
                assert_eq!(r, &expect, "{}", case.id());
                want_bytes += u128::from(u(p, "Bytes")) * u128::from(rate.max(1));
                got_bytes += u128::from(u(r, "Bytes"));
            }
            assert_eq!(got_bytes, want_bytes, "{}: byte sum", case.id());
        }
    }
    // sampled flows of every protocol were seen (sFlow always carries a rate; v5 in its
    // header; v9/IPFIX through options data)
    for p in common::ALL_PROTOCOLS {
        assert!(
            sampled_by_protocol.get(p).copied().unwrap_or(0) > 0,
            "{sampled_by_protocol:?}"
        );
    }
    eprintln!("sampled flows renormalized: {sampled_by_protocol:?}");
}

/// `replay --config` validates the file as the collector does, and the collector its flags:
/// one line naming the setting, exit 2.
#[test]
fn config_errors_name_the_setting() {
    let dir = TempDir::new("renorm-bad");
    let cfg = dir.path("bad.toml");
    std::fs::write(&cfg, "[output]\nrenormalize = \"yes\"\n").unwrap();
    let out = coreflow(&["replay", "--config", cfg.to_str().unwrap(), "x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("renormalize"), "{err}");
    std::fs::write(&cfg, "[output]\nfile = \"/tmp/x\"\nrotate_bytes = 1\n").unwrap();
    let out = coreflow(&["replay", "--config", cfg.to_str().unwrap(), "x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("coreflow: output.rotate_bytes: "), "{err}");
    // the collector: a flag's error names the flag and its key; rotation refuses what is
    // not a regular file (it would rename /dev/null), before any socket is opened
    for (args, want) in [
        (
            vec!["-output.rotate_interval_s", "60"],
            "coreflow: -output.rotate_interval_s (output.rotate_interval_s): rotation needs an \
             output file",
        ),
        (
            vec!["--output", "/dev/null", "-output.rotate_bytes", "100000"],
            "coreflow: output.file: cannot open /dev/null: not a regular file",
        ),
        (
            vec!["-kafka.instance_header=maybe"],
            "coreflow: -kafka.instance_header: \"maybe\" is not a boolean",
        ),
    ] {
        let out = coreflow(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(want), "{args:?}: {err}");
    }
}

fn flowgen(args: &[&str]) -> (u64, u64, u64) {
    let report = run_flowgen(args);
    assert_eq!(report_field(&report, "errors"), 0, "{report}");
    (
        report_field(&report, "records"),
        report_field(&report, "bytes"),
        report_field(&report, "packets"),
    )
}

/// flowgen with `--sampling-rate 100` in each protocol, coreflow with `-output.renormalize`
/// and `-output.instance_field`: the byte and packet sums are flowgen's times 100, every flow
/// says rate 1 and names the collector.
#[test]
fn renormalize_flowgen_load() {
    for protocol in ["v5", "v9", "ipfix", "sflow"] {
        let c = Collector::builder().sockets(1).start(&[
            "-output.renormalize",
            "-output.instance_field",
            "-cluster.instance",
            "renorm-test",
        ]);
        let target = if protocol == "sflow" {
            c.sflow_addr()
        } else {
            c.netflow_addr()
        }
        .to_string();
        let (records, bytes, packets) = flowgen(&[
            "--protocol",
            protocol,
            "--target",
            &target,
            "--exporters",
            "4",
            "--count",
            "200",
            "--rate",
            "20000",
            "--sampling-rate",
            "100",
            "--batch",
            "4",
        ]);
        c.wait_lines(records as usize);
        let (status, log, flows) = c.stop();
        assert!(status.success(), "{log:?}");
        assert_eq!(flows.len() as u64, records, "{protocol}: {log:?}");
        let sum = |k: &str| flows.iter().map(|f| u(f, k)).sum::<u64>();
        assert_eq!(sum("Bytes"), bytes * 100, "{protocol}");
        assert_eq!(sum("Packets"), packets * 100, "{protocol}");
        assert!(
            flows.iter().all(|f| u(f, "SamplingRate") == 1),
            "{protocol}"
        );
        assert!(
            flows
                .iter()
                .all(|f| f["CollectorInstance"] == "renorm-test"),
            "{protocol}"
        );
        assert!(
            exit_summary(&log).contains("kernel_drops=0"),
            "{}",
            exit_summary(&log)
        );
    }
}

/// The varint-delimited messages of one file: every message whole (the file ends exactly at
/// a message's end).
fn messages(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    let mut rest = &data[..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let n = prost::encoding::decode_varint(&mut rest)
            .unwrap_or_else(|e| panic!("{}: bad length: {e}", path.display()))
            as usize;
        assert!(
            n <= rest.len(),
            "{}: a message cut short ({n} > {} bytes left)",
            path.display(),
            rest.len()
        );
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

fn kill(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Under ~200k records/s: 20 logrotate-style rotations (rename, then SIGHUP) and at least 20
/// built-in rotations by size. The union of every file holds each record flowgen sent exactly
/// once (count, byte and packet sums), every message whole.
#[test]
fn rotation_by_sighup_and_size_under_load() {
    let dir = TempDir::new("rotate");
    let out = dir.path("flows.pb");
    let c = Collector::builder()
        .sockets(2)
        .output(&out)
        .config("[receive]\nrcvbuf = 33554432\n")
        .start(&[
            "--format",
            "pb",
            "-output.rotate_bytes",
            "1000000",
            "-output.rotate_pattern",
            &format!("{}/size-{{seq}}.pb", dir.root().display()),
        ]);
    let target = c.netflow_addr().to_string();
    // 200k records/s: v5, 30 records a datagram, 6667 datagrams/s, for 3 s
    let gen = common::harness::run_flowgen_in_background(
        [
            "--protocol",
            "v5",
            "--target",
            &target,
            "--exporters",
            "8",
            "--rate",
            "6667",
            "--count",
            "20000",
            "--batch",
            "8",
        ]
        .map(String::from)
        .to_vec(),
    );
    let pid = c.pid();
    let start = Instant::now();
    let mut hup = 0;
    while hup < 20 {
        std::thread::sleep(Duration::from_millis(100));
        // logrotate's postrotate: the file is renamed, then the collector told
        if out.exists() {
            std::fs::rename(&out, dir.path(&format!("hup-{hup}.pb"))).unwrap();
            kill(pid, "HUP");
            hup += 1;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no output file");
    }
    let report = gen.join().unwrap();
    let (records, bytes, packets) = (
        report_field(&report, "records"),
        report_field(&report, "bytes"),
        report_field(&report, "packets"),
    );
    // wait until every record is in some file, then stop
    let deadline = Instant::now() + Duration::from_secs(60);
    let files = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir.root())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pb"))
            .collect();
        v.sort();
        v
    };
    let count = |fs: &[PathBuf]| -> u64 {
        fs.iter()
            .map(|f| std::fs::read(f).map(|d| d.len() as u64).unwrap_or(0))
            .sum()
    };
    let mut last = 0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        let n = count(&files());
        if n == last && n > 0 {
            break;
        }
        last = n;
    }
    let (status, log, _) = c.stop();
    assert!(status.success(), "{log:?}");
    let summary = exit_summary(&log);
    let fs = files();
    let hups = fs
        .iter()
        .filter(|f| f.file_name().unwrap().to_string_lossy().starts_with("hup-"))
        .count();
    let sized = fs
        .iter()
        .filter(|f| {
            f.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("size-")
        })
        .count();
    assert_eq!(hups, 20, "{fs:?}");
    assert!(sized >= 20, "{sized} size rotations: {fs:?}");
    let mut seen = HashSet::new();
    let (mut n, mut b, mut p) = (0u64, 0u64, 0u64);
    for f in &fs {
        for m in messages(f) {
            let flow = FlowMessage::decode(&m[..]).expect("a whole message");
            n += 1;
            b += flow.bytes;
            p += flow.packets;
            assert!(seen.insert(m), "{}: a message written twice", f.display());
        }
    }
    assert_eq!(
        (n, b, p),
        (records, bytes, packets),
        "{summary}\nfiles: {fs:?}"
    );
    let reopened = log
        .iter()
        .filter(|l| l.contains("reopened (SIGHUP)"))
        .count();
    assert_eq!(reopened, 20, "{log:?}");
}

/// The shipped logrotate configuration's way, with logrotate itself (skipped when it is not
/// installed): `logrotate -f` three times under load, `postrotate` sending SIGHUP. Every flow
/// flowgen sent is in exactly one of the files.
#[test]
fn logrotate_postrotate_sighup() {
    let Some(logrotate) = ["/usr/sbin/logrotate", "/sbin/logrotate"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        eprintln!("SKIP logrotate_postrotate_sighup: logrotate is not installed");
        return;
    };
    let dir = TempDir::new("logrotate");
    let out = dir.path("flows.json");
    let c = Collector::builder().sockets(1).output(&out).start(&[]);
    let conf = dir.path("lr.conf");
    std::fs::write(
        &conf,
        format!(
            "{} {{\n  rotate 10\n  missingok\n  nocreate\n  nocopytruncate\n  \
             postrotate\n    kill -HUP {}\n  endscript\n}}\n",
            out.display(),
            c.pid()
        ),
    )
    .unwrap();
    let target = c.netflow_addr().to_string();
    let gen = common::harness::run_flowgen_in_background(
        [
            "--protocol",
            "v5",
            "--target",
            &target,
            "--exporters",
            "4",
            "--rate",
            "2000",
            "--count",
            "3000",
        ]
        .map(String::from)
        .to_vec(),
    );
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        let st = Command::new(logrotate)
            .args(["-f", "-s"])
            .arg(dir.path("state"))
            .arg(&conf)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let report = gen.join().unwrap();
    let records = report_field(&report, "records");
    let count_lines = || -> usize {
        (0..=3)
            .map(|i| {
                let p = if i == 0 {
                    out.clone()
                } else {
                    dir.path(&format!("flows.json.{i}"))
                };
                std::fs::read_to_string(p)
                    .unwrap_or_default()
                    .lines()
                    .count()
            })
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_lines() < records as usize && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, log, _) = c.stop();
    assert!(status.success(), "{log:?}");
    let mut lines = HashSet::new();
    let mut n = 0;
    for i in 0..=3 {
        let p = if i == 0 {
            out.clone()
        } else {
            dir.path(&format!("flows.json.{i}"))
        };
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        assert!(text.is_empty() || text.ends_with('\n'), "{}", p.display());
        for l in text.lines() {
            let _: Value = serde_json::from_str(l).expect("a whole JSON line");
            assert!(lines.insert(l.to_string()), "a line written twice");
            n += 1;
        }
        if i > 0 {
            assert!(p.exists(), "rotation {i} missing");
        }
    }
    assert_eq!(n, records, "{log:?}");
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("reopened (SIGHUP)"))
            .count(),
        3,
        "{log:?}"
    );
}
