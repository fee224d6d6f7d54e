//! Oracle test: every sFlow v5 capture in `../shared/captures/sflow5/` decoded by coreflow and
//! compared, sample by sample and field by field, with tshark 4.0's decode of the same bytes
//! (`<case>.pcap.tshark.json`).
//!
//! Flow samples: agent, sequence, sampling rate, interfaces, bytes, addresses, protocol,
//! ports, ethertype, MACs, VLANs, TCP flags, TOS, TTL, ICMP, IPv4 fragment fields, IPv6 flow
//! label, router and gateway records (next hops, masks, AS numbers, AS path, communities).
//! Counter records: every field of the generic interface, Ethernet and processor records.
//!
//! A disagreement fails the test unless it is in [`EXCEPTIONS`], which names the case, the
//! field and the reason; an exception that no longer triggers fails too, so the list stays
//! true. `cargo test --test oracle_sflow -- --nocapture` prints the agreement table.

#[path = "oracle_sflow/fields.rs"]
mod fields;

use coreflow::decode::sflow::CounterRecord;
use coreflow::decode::{Decoder, FlowSink, Limits};
use coreflow::flow::FlowRecord;
use fields::{
    actual_counter, actual_flow, addr_text, each, expect_counter, expect_flow, field_num,
    first_str, ip_text, Fields,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// (case, field, why coreflow and tshark differ there).
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "akvorado-sflow-discard-interface",
        "out_if",
        "output interface format 1 (0x40000001) means 'discarded', its value is a reason \
         code, not an ifIndex: coreflow sets out_if 0 and forwarding_status 131 (dropped, \
         unroutable), tshark shows the raw value 1",
    ),
    (
        "akvorado-sflow-multiple-interfaces",
        "out_if",
        "output interface format 2 (0x80000007) means 'sent to 7 interfaces', not an \
         ifIndex: coreflow sets out_if 0, tshark shows the raw value 7",
    ),
    (
        "akvorado-sflow-1140",
        "src_vlan",
        "the agent sends extended-switch src_vlan 0xFFFFFFFF (unknown); VLAN ids are 12 \
         bits, so coreflow reports 0 (not carried), tshark the raw 4294967295",
    ),
    (
        "akvorado-sflow-1140",
        "dst_vlan",
        "same as src_vlan: extended-switch dst_vlan 0xFFFFFFFF (unknown) becomes 0",
    ),
    (
        "telegraf-sflow-drop",
        "flow_samples",
        "the capture holds a discarded-packet sample (format 5, sFlow drops extension) that \
         tshark 4.0 shows as 'Unknown sample format'; coreflow exports it as a flow with \
         in_if 1, out_if 2 and forwarding_status 131 (reason 1, host unreachable)",
    ),
    (
        "telegraf-sflow",
        "counter_records",
        "after the port-name record (format 1005, length 8) tshark 4.0 does not skip the \
         record body and misreads the next words as a 100BaseVG record of length \
         1701736241 ('eno1'); coreflow skips 1005 by its length and decodes the generic \
         interface record (ifIndex 3) that follows",
    ),
];

fn captures_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures/sflow5");
    d.is_dir().then_some(d)
}

#[derive(Default)]
struct Collect {
    flows: Vec<FlowRecord>,
    counters: Vec<CounterRecord>,
}

impl FlowSink for Collect {
    fn flow(&mut self, rec: &FlowRecord) {
        self.flows.push(*rec);
    }
    fn counters(&mut self, rec: &CounterRecord) {
        self.counters.push(*rec);
    }
}

// ---------------------------------------------------------------------------------------------
// Matching and the table

/// Samples of one datagram key (agent, datagram sequence).
#[derive(Default)]
struct Group {
    expected_flows: Vec<Fields>,
    actual_flows: Vec<Fields>,
    expected_counters: Vec<Fields>,
    actual_counters: Vec<Fields>,
}

#[derive(Default, Debug)]
struct Tally {
    datagrams: usize,
    tshark_flows: usize,
    coreflow_flows: usize,
    tshark_counters: usize,
    coreflow_counters: usize,
    fields: usize,
    agree: usize,
    documented: usize,
    unexpected: Vec<String>,
    used_exceptions: BTreeSet<(&'static str, &'static str)>,
}

impl Tally {
    fn differ(&mut self, case: &str, field: &str, detail: String) {
        match EXCEPTIONS
            .iter()
            .find(|(c, f, _)| *c == case && *f == field)
        {
            Some((c, f, _)) => {
                self.documented += 1;
                self.used_exceptions.insert((c, f));
            }
            None => self.unexpected.push(format!("{case}: {field}: {detail}")),
        }
    }

    /// Pairs each expected item with the unmatched actual one that agrees on most fields,
    /// then compares every expected field.
    fn compare(&mut self, case: &str, what: &str, expected: &[Fields], actual: &[Fields]) {
        let mut used = vec![false; actual.len()];
        for (i, e) in expected.iter().enumerate() {
            let best = actual
                .iter()
                .enumerate()
                .filter(|(j, _)| !used[*j])
                .max_by_key(|(j, a)| {
                    let score = e.iter().filter(|(k, v)| a.get(*k) == Some(*v)).count();
                    (score, usize::MAX - j)
                })
                .map(|(j, _)| j);
            let Some(j) = best else {
                self.differ(
                    case,
                    what,
                    format!(
                        "tshark has {} {what}, coreflow {}",
                        expected.len(),
                        actual.len()
                    ),
                );
                continue;
            };
            used[j] = true;
            for (k, v) in e {
                self.fields += 1;
                let got = actual[j].get(k).cloned().unwrap_or_default();
                if &got == v {
                    self.agree += 1;
                } else {
                    self.differ(
                        case,
                        k,
                        format!("{what} #{i}: tshark {v:?}, coreflow {got:?}"),
                    );
                }
            }
        }
        for (j, u) in used.iter().enumerate() {
            if !u {
                self.differ(
                    case,
                    what,
                    format!(
                        "coreflow has an extra {what} ({} tshark, {} coreflow): {:?}",
                        expected.len(),
                        actual.len(),
                        actual[j]
                    ),
                );
            }
        }
    }
}

fn read_oracle(dir: &Path, case: &str) -> Value {
    let plain = dir.join(format!("{case}.pcap.tshark.json"));
    let gz = dir.join(format!("{case}.pcap.tshark.json.gz"));
    let text = if plain.exists() {
        std::fs::read_to_string(&plain).unwrap()
    } else {
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    serde_json::from_str(&text).unwrap()
}

fn run_case(dir: &Path, case: &str) -> Tally {
    let pcap = std::fs::read(dir.join(format!("{case}.pcap"))).unwrap();
    let mut dec = Decoder::new(Limits::default());
    let mut out = Collect::default();
    coreflow::app::replay::decode_capture(&pcap, &mut dec, &mut out).unwrap();

    let mut groups: BTreeMap<(String, u64), Group> = BTreeMap::new();
    let mut t = Tally::default();
    for pkt in each(&read_oracle(dir, case)) {
        let layers = &pkt["_source"]["layers"];
        let Some(sflows) = layers.get("sflow") else {
            continue;
        };
        for sf in each(sflows) {
            t.datagrams += 1;
            let agent = first_str(sf, "sflow_245.agent")
                .or_else(|| first_str(sf, "sflow_245.agent.v6"))
                .unwrap();
            let seq = field_num(sf, "sflow_245.sequence_number").unwrap();
            let g = groups.entry((ip_text(agent), seq)).or_default();
            for (k, v) in sf.as_object().unwrap() {
                for s in each(v) {
                    if k.starts_with("Flow sample") || k.starts_with("Expanded flow sample") {
                        g.expected_flows.push(expect_flow(agent, seq, s));
                    } else if k.starts_with("Counters sample")
                        || k.starts_with("Expanded counters sample")
                    {
                        let index = field_num(s, "sflow.counters_sample.source_id_index")
                            .or_else(|| field_num(s, "sflow.counters_sample.index"))
                            .unwrap_or(0);
                        for (rk, rv) in s.as_object().unwrap() {
                            for r in each(rv) {
                                if let Some(f) = expect_counter(rk, r, index) {
                                    g.expected_counters.push(f);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    for r in &out.flows {
        let g = groups
            .entry((addr_text(r.sampler_address), u64::from(r.sequence_num)))
            .or_default();
        g.actual_flows.push(actual_flow(r));
    }
    for c in &out.counters {
        let g = groups
            .entry((addr_text(c.agent_address), u64::from(c.sequence_num)))
            .or_default();
        g.actual_counters.push(actual_counter(c));
    }
    for g in groups.values() {
        t.tshark_flows += g.expected_flows.len();
        t.coreflow_flows += g.actual_flows.len();
        t.tshark_counters += g.expected_counters.len();
        t.coreflow_counters += g.actual_counters.len();
        t.compare(case, "flow_samples", &g.expected_flows, &g.actual_flows);
        t.compare(
            case,
            "counter_records",
            &g.expected_counters,
            &g.actual_counters,
        );
    }
    t
}

#[test]
fn sflow_captures_agree_with_tshark() {
    let Some(dir) = captures_dir() else {
        eprintln!(
            "SKIPPED oracle_sflow: no captures at ../shared/captures/sflow5 (relative to the \
             repository root); nothing was compared"
        );
        return;
    };
    let mut cases: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());

    println!(
        "\n{:<38} {:>5} {:>11} {:>11} {:>7} {:>7} {:>5} {:>5}  result",
        "capture", "dgram", "flows ts/cf", "ctrs ts/cf", "fields", "agree", "doc", "bad"
    );
    let mut unexpected = Vec::new();
    let mut used = BTreeSet::new();
    let (mut fields, mut agree) = (0, 0);
    for case in &cases {
        let t = run_case(&dir.join(case), case);
        let result = if !t.unexpected.is_empty() {
            "DISAGREE"
        } else if t.documented > 0 {
            "agree (documented exceptions)"
        } else {
            "agree"
        };
        println!(
            "{:<38} {:>5} {:>5}/{:<5} {:>5}/{:<5} {:>7} {:>7} {:>5} {:>5}  {result}",
            case,
            t.datagrams,
            t.tshark_flows,
            t.coreflow_flows,
            t.tshark_counters,
            t.coreflow_counters,
            t.fields,
            t.agree,
            t.documented,
            t.unexpected.len()
        );
        fields += t.fields;
        agree += t.agree;
        unexpected.extend(t.unexpected);
        used.extend(t.used_exceptions);
    }
    println!("total: {agree}/{fields} fields agree\n");
    println!("documented exceptions:");
    for (c, f, why) in EXCEPTIONS {
        println!("  {c} / {f}: {why}");
    }
    for u in &unexpected {
        println!("UNEXPECTED {u}");
    }
    let stale: Vec<_> = EXCEPTIONS
        .iter()
        .filter(|(c, f, _)| !used.contains(&(*c, *f)))
        .map(|(c, f, _)| format!("{c}/{f}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} undocumented disagreements with tshark (see above)",
        unexpected.len()
    );
    assert!(
        stale.is_empty(),
        "exceptions that no longer trigger: {stale:?}"
    );
    assert!(fields > 500, "suspiciously few fields compared: {fields}");
}

/// Every capture datagram cut at every length and with every byte overwritten: an error or
/// fewer flows/counter records than the whole datagram gives, never a panic.
#[test]
fn sflow_capture_datagrams_truncated_and_corrupted() {
    let Some(dir) = captures_dir() else {
        eprintln!("SKIPPED sflow truncation over captures: no ../shared/captures/sflow5");
        return;
    };
    let mut datagrams = 0;
    for e in std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()) {
        let case = e.file_name().to_string_lossy().into_owned();
        let pcap = std::fs::read(e.path().join(format!("{case}.pcap"))).unwrap();
        let (dgrams, _) = coreflow::pcap::read_udp(&pcap).unwrap();
        for d in &dgrams {
            datagrams += 1;
            let decode = |bytes: &[u8]| {
                let mut dec = Decoder::new(Limits::default());
                let mut out = Collect::default();
                let res = dec.decode(d.src, d.ts_ns, bytes, &mut out);
                (res, out.flows.len() + out.counters.len())
            };
            let (full_res, full) = decode(&d.payload);
            assert!(full_res.is_ok(), "{case}: {full_res:?}");
            // bytes the samples occupy; some fixtures carry trailing bytes after them
            let used = sflow_extent(&d.payload);
            for n in 0..d.payload.len() {
                let (res, got) = decode(&d.payload[..n]);
                assert!(got <= full, "{case}: cut at {n} gave more output");
                if n < used {
                    assert!(
                        res.is_err() || got < full,
                        "{case}: cut at {n} of {used} lost nothing and raised nothing"
                    );
                } else {
                    assert!(res.is_ok() && got == full, "{case}: trailing bytes at {n}");
                }
            }
            for i in 0..d.payload.len() {
                for v in [0x00, 0xff, 0x7f, 0x01, 0x80] {
                    let mut g = d.payload.clone();
                    g[i] = v;
                    let _ = decode(&g);
                }
            }
        }
    }
    assert!(datagrams > 0);
}

/// The length of the datagram's header plus its samples, from their length words alone.
fn sflow_extent(p: &[u8]) -> usize {
    let word = |at: usize| u32::from_be_bytes(p[at..at + 4].try_into().unwrap()) as usize;
    // version, agent type, agent, sub-agent, sequence, uptime, then the sample count
    let mut at = 8 + if word(4) == 2 { 16 } else { 4 } + 12;
    let n = word(at);
    at += 4;
    for _ in 0..n {
        at += 8 + word(at + 4);
    }
    at
}
