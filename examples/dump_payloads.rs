//! Writes fuzz seed corpora: `dump_payloads CAPTURES_DIR CORPUS_DIR`.
//!
//! For each capture under CAPTURES_DIR (`<protocol>/<case>/<case>.pcap`, the shared captures;
//! a missing folder is fine) it writes the UDP payloads, a few per capture, into
//! `CORPUS_DIR/<target>/` by detected protocol (netflow5, netflow9, ipfix, sflow); for
//! NetFlow v9 / IPFIX the first datagrams of each capture again as one `stateful` input; the
//! sampled packet headers of sFlow flow samples for `sflow_header`. Hand-built datagrams are
//! added to every corpus, so the corpora are never empty. Identical inputs are written once.
//! Used by `scripts/fuzz-seed`.

use coreflow::decode::Protocol;
use coreflow_flowgen::builders;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Payloads kept per capture and target (the first ones carry the templates).
const PER_CAPTURE: usize = 6;
/// Datagrams of a capture put into its `stateful` seed.
const STATEFUL_DATAGRAMS: usize = 8;
/// Seeds larger than this are skipped (libFuzzer's -max_len follows the corpus).
const MAX_SEED: usize = 16 * 1024;

struct Corpus {
    root: PathBuf,
    seen: HashSet<(String, Vec<u8>)>,
    written: usize,
}

impl Corpus {
    fn add(&mut self, target: &str, name: &str, bytes: &[u8]) {
        if bytes.is_empty() || bytes.len() > MAX_SEED {
            return;
        }
        if !self.seen.insert((target.to_string(), bytes.to_vec())) {
            return;
        }
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus folder");
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        std::fs::write(dir.join(safe), bytes).expect("write seed");
        self.written += 1;
    }
}

fn target_of(p: &[u8]) -> Option<&'static str> {
    Some(match Protocol::detect(p)? {
        Protocol::NetflowV5 => "netflow5",
        Protocol::NetflowV9 => "netflow9",
        Protocol::Ipfix => "ipfix",
        Protocol::SflowV5 => "sflow",
    })
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The sampled headers (flow record format 1) of the flow samples of an sFlow v5 datagram.
fn sflow_headers(d: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let Some(addr_type) = be32(d, 4) else {
        return out;
    };
    let mut pos = match addr_type {
        1 => 8 + 4,
        2 => 8 + 16,
        _ => return out,
    } + 12; // sub agent, sequence, uptime
    let Some(samples) = be32(d, pos) else {
        return out;
    };
    pos += 4;
    for _ in 0..samples.min(64) {
        let (Some(format), Some(len)) = (be32(d, pos), be32(d, pos + 4)) else {
            break;
        };
        let body = pos + 8;
        let end = body + len as usize;
        let Some(sample) = d.get(body..end) else {
            break;
        };
        let records_at = match format & 0xfff {
            1 => 28,
            3 => 40,
            _ => {
                pos = end;
                continue;
            }
        };
        let mut rp = records_at + 4;
        for _ in 0..be32(sample, records_at).unwrap_or(0).min(64) {
            let (Some(rf), Some(rl)) = (be32(sample, rp), be32(sample, rp + 4)) else {
                break;
            };
            if rf == 1 {
                if let Some(hl) = be32(sample, rp + 8 + 12) {
                    if let Some(h) = sample.get(rp + 24..rp + 24 + hl as usize) {
                        out.push(h);
                    }
                }
            }
            rp += 8 + rl as usize;
        }
        pos = end;
    }
    out
}

fn captures(root: &Path) -> Vec<(String, PathBuf)> {
    let mut v = Vec::new();
    for proto in ["netflow5", "netflow9", "ipfix", "sflow5"] {
        let Ok(rd) = std::fs::read_dir(root.join(proto)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pcap = e.path().join(format!("{name}.pcap"));
            if pcap.is_file() {
                v.push((name, pcap));
            }
        }
    }
    v.sort();
    v
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [captures_dir, corpus_dir] = &args[..] else {
        eprintln!("usage: dump_payloads CAPTURES_DIR CORPUS_DIR");
        std::process::exit(2);
    };
    let mut corpus = Corpus {
        root: PathBuf::from(corpus_dir),
        seen: HashSet::new(),
        written: 0,
    };

    let header = builders::eth_ipv4_tcp(128);
    let synthetic = [
        ("netflow5", "synthetic-5", builders::netflow5(5)),
        (
            "netflow9",
            "synthetic-td",
            builders::netflow9_template_and_data(3, 1),
        ),
        (
            "ipfix",
            "synthetic-td",
            builders::ipfix_template_and_data(3, 1),
        ),
        (
            "sflow",
            "synthetic-2",
            builders::sflow_flow_samples(2, &header),
        ),
        ("sflow_header", "synthetic-eth-ipv4-tcp", header.clone()),
        (
            "sflow_header",
            "synthetic-eth-ipv4-tcp-54",
            builders::eth_ipv4_tcp(54),
        ),
    ];
    for (t, n, b) in &synthetic {
        corpus.add(t, n, b);
    }
    // frames with what exporters put in front of IP, as sFlow headers (first byte: header
    // protocol 1, Ethernet) and as IPFIX dataLinkFrameSection records
    for (n, frame) in builders::encapsulated_frames() {
        let mut h = vec![1u8];
        h.extend_from_slice(&frame);
        corpus.add("sflow_header", &format!("synthetic-{n}"), &h);
        corpus.add(
            "ipfix",
            &format!("synthetic-datalink-{n}"),
            &builders::ipfix_datalink(2, 1, &frame),
        );
    }
    let stateful = builders::stateful_input(&[
        (0, &builders::netflow9_template(1)),
        (0, &builders::netflow9_data(3, 2)),
        (1, &builders::ipfix_template(1)),
        (1, &builders::ipfix_data(3, 2)),
    ]);
    corpus.add("stateful", "synthetic-v9-ipfix", &stateful);

    let root = Path::new(captures_dir);
    let caps = captures(root);
    if caps.is_empty() {
        eprintln!(
            "dump_payloads: no captures under {} (only hand-built seeds)",
            root.display()
        );
    }
    for (name, pcap) in caps {
        let data = std::fs::read(&pcap).expect("read capture");
        let Ok((dgrams, _)) = coreflow::pcap::read_udp(&data) else {
            eprintln!("dump_payloads: {} is not readable, skipped", pcap.display());
            continue;
        };
        let mut per_target: Vec<(&str, usize)> = Vec::new();
        let mut chunks: Vec<(u8, &[u8])> = Vec::new();
        for (i, d) in dgrams.iter().enumerate() {
            let Some(t) = target_of(&d.payload) else {
                continue;
            };
            let count = match per_target.iter_mut().find(|(x, _)| *x == t) {
                Some((_, c)) => c,
                None => {
                    per_target.push((t, 0));
                    &mut per_target.last_mut().unwrap().1
                }
            };
            if *count < PER_CAPTURE {
                *count += 1;
                corpus.add(t, &format!("{name}-{i}"), &d.payload);
            }
            if (t == "netflow9" || t == "ipfix") && chunks.len() < STATEFUL_DATAGRAMS {
                chunks.push((0, &d.payload));
            }
            if t == "sflow" {
                for (k, h) in sflow_headers(&d.payload).into_iter().take(4).enumerate() {
                    corpus.add("sflow_header", &format!("{name}-{i}-{k}"), h);
                }
            }
        }
        while chunks.len() > 1 && builders::stateful_input(&chunks).len() > MAX_SEED {
            chunks.pop();
        }
        if !chunks.is_empty() {
            corpus.add("stateful", &name, &builders::stateful_input(&chunks));
        }
    }
    println!(
        "dump_payloads: {} seed files under {}",
        corpus.written,
        corpus.root.display()
    );
}
