//! coreflow against an independent decoder: every NetFlow v5, NetFlow v9 and IPFIX capture
//! under `../shared/captures` is replayed through `coreflow::app::replay::decode_capture` (one
//! `Decoder` per capture, frames in file order) and each data record is compared, field by
//! field, with what Wireshark's tshark decoded from the same bytes (`<case>.pcap.tshark.json`).
//!
//! Run with `cargo test --test oracle_netflow -- --nocapture` to see the per-capture table.
//!
//! How records are matched: each pcap frame is fed to `decode_capture` on its own (as a
//! one-record pcap, same decoder), so coreflow's records are grouped by frame number exactly
//! like tshark's. Within a frame, tshark's records come in set order, options records are
//! dropped (they are not flows: their template, learned from the JSON's template sets, is an
//! options template), and data sets tshark could not decode are kept as gaps. When coreflow
//! returns the same number of records they are paired in order; when it returns more and the
//! frame has one gap, the surplus sits at the gap (a data set whose template comes later in
//! the same datagram: tshark cannot decode it, coreflow may, see the captures README);
//! otherwise records are paired in order by their 5-tuple.
//!
//! What is compared (when tshark shows the field for that record):
//! - core, required to agree 100% for every capture not marked malformed: source and
//!   destination address, ports, protocol, bytes, packets, input and output interface;
//! - also: TOS, TCP flags, AS numbers, prefix lengths, next hop, BGP next hop, MACs, VLANs,
//!   VRF ids, sampling rate (v5 header / IE 34 in the record), flow start/end times,
//!   sequence number, exporter address, receive time and flow type; for encapsulated packets
//!   (a template repeating the 5-tuple IEs, or both IPv4 and IPv6 addresses set) the other
//!   header's addresses, protocol and TOS in the `*_encap` fields
//!   ([`expect::FLOW_IS_INNER_HEADER`]).
//!
//! tshark shows every template field, and the JSON's template sets say which IE each value
//! came from, so values are located by template position (see `expect::pick`). Where
//! tshark's decode still cannot say which value is the flow's (a key repeated more often than
//! the template explains, two zero addresses of both families, absolute times of several
//! precisions), the expectation is one of them and the others are "alternates": matching an
//! alternate is reported, not failed. Every other disagreement fails the test unless the
//! exception table below names the case, the field and the reason; an exception that is no
//! longer needed fails too. Captures tshark marks malformed are compared, but their
//! disagreements are only reported.

mod common;
#[path = "oracle_netflow/counters.rs"]
mod counters;
#[path = "oracle_netflow/expect.rs"]
mod expect;
#[path = "oracle_netflow/fields.rs"]
mod fields;
#[path = "oracle_netflow/frame.rs"]
mod frame;
#[path = "oracle_netflow/sampling.rs"]
mod sampling;
#[path = "oracle_netflow/tshark.rs"]
mod tshark;

use common::Case;
use coreflow::decode::{DecodeError, Decoder, Limits};
use coreflow::flow::FlowRecord;
use expect::{epoch_time, same};
use fields::FIELDS;
use std::collections::HashMap;
use std::fmt::Write as _;
use tshark::{Frame, Item, Oracle, Record, RecordKind};

/// Protocol folders whose disagreements fail the test. The others are compared and reported
/// only. The NetFlow v9 / IPFIX decoders are stubs on this branch; the lead adds
/// `"netflow9"` and `"ipfix"` here when merging them (a one-line change).
const PROTOCOLS_REQUIRED: &[&str] = &["netflow5", "netflow9", "ipfix"];

/// Protocol folders compared with the oracle.
const PROTOCOLS: &[&str] = &["netflow5", "netflow9", "ipfix"];

/// Pseudo-field for records tshark decoded and coreflow did not.
const MISSING_RECORDS: &str = "records:missing";
/// Pseudo-field for records coreflow decoded and tshark did not (outside no-template sets).
const EXTRA_RECORDS: &str = "records:extra";

/// A known, legitimate disagreement between coreflow and tshark.
struct Exception {
    /// `protocol/case` as in the captures README.
    case: &'static str,
    /// A field name of [`fields::FIELDS`], or [`MISSING_RECORDS`] / [`EXTRA_RECORDS`].
    field: &'static str,
    /// Why coreflow is right (with the RFC / specification section).
    reason: &'static str,
    /// A `DecodeError` reason coreflow must have counted for this capture (a dropped
    /// datagram must be visible in the metrics, never silent).
    counted_error: Option<&'static str>,
}

const EXCEPTIONS: &[Exception] = &[
    Exception {
        case: "netflow5/logstash-nf5-invalid",
        field: MISSING_RECORDS,
        reason: "both datagrams claim more records in the header count (55582, 163) than the \
                 30 present; NetFlow v5 (Cisco export format, reference/protocols.md 6.1: count \
                 = records in this datagram, 1-30) gives no way to tell which bytes are records, \
                 so coreflow drops the datagram and counts bad_count; tshark dissects the 30 \
                 records that fit",
        counted_error: Some("bad_count"),
    },
    // NetFlow v9 datagrams whose header count is smaller than the records they hold. RFC 3954
    // section 5.1 defines count as the total of template, options and data records in the
    // packet, so these exporters' counts are wrong; the FlowSet Length fields (5.2, 5.3)
    // delimit every set unambiguously and chain to the end of each datagram. coreflow reads
    // every flowset present; tshark stops after `count` records.
    Exception {
        case: "netflow9/graylog-nf9",
        field: EXTRA_RECORDS,
        reason: "frame 1: header count 1, but 5 flowsets (templates 1024 and 2048, an options \
                 template, options data, 1 data record); tshark never learns template 2048 \
                 (so frames 7 and 9 are 'no template' for it), coreflow does (RFC 3954 5.1)",
        counted_error: None,
    },
    Exception {
        case: "netflow9/graylog-nf9-dat1",
        field: EXTRA_RECORDS,
        reason: "frame 1: header count 2 covers the two template records only; a data flowset \
                 of template 1024 (2 records) follows (RFC 3954 5.1)",
        counted_error: None,
    },
    Exception {
        case: "netflow9/logstash-nf9-invalid",
        field: EXTRA_RECORDS,
        reason: "header count 2 covers the two templates; an options template (22 bytes: not \
                 padded to 4, which RFC 3954 5.3 only recommends), options data and data \
                 flowsets of templates 2048 and 1024 follow, their lengths chaining exactly to \
                 the end of the datagram; coreflow decodes the 2 data records (RFC 3954 5.1)",
        counted_error: None,
    },
];

// ---------------------------------------------------------------------------------------------
// per-capture comparison

#[derive(Default)]
struct Report {
    case: String,
    required: bool,
    malformed_case: bool,
    frames: usize,
    tshark_flows: usize,
    tshark_options: usize,
    no_template_sets: usize,
    ours: usize,
    compared_records: usize,
    fields_compared: usize,
    core_compared: usize,
    core_agreeing: usize,
    mismatches: usize,
    excepted: usize,
    alternates: usize,
    malformed_mismatches: usize,
    missing: usize,
    extra_at_gaps: usize,
    extra: usize,
    /// Records tshark shows without one of the core fields (e.g. no L3 fields at all).
    core_absent: usize,
    /// Records whose absolute flow time tshark shows as 1970-01-01 (zero: not carried).
    epoch_times: usize,
    /// Fields whose mismatches an exception explained.
    excepted_fields: Vec<&'static str>,
    errors: Vec<(&'static str, u64)>,
    /// Problems that fail the test (for required protocols).
    failures: Vec<String>,
    /// Problems of the tshark JSON reader itself: fail whatever the protocol.
    walker_failures: Vec<String>,
    /// Details shown for information only.
    notes: Vec<String>,
}

fn exception(case: &str, field: &str) -> Option<&'static Exception> {
    EXCEPTIONS
        .iter()
        .find(|e| e.case == case && e.field == field)
}

/// Frame numbers (empty: the whole file) and the coreflow records decoded from them.
type Group = (Vec<u32>, Vec<FlowRecord>);

/// The coreflow records of each frame of the capture, decoded with one decoder in file order.
fn decode_by_frame(pcap: &[u8], dec: &mut Decoder) -> Result<Vec<Group>, String> {
    let mut groups = Vec::new();
    match common::split_classic_pcap(pcap) {
        Some((header, records)) => {
            for (i, rec) in records.iter().enumerate() {
                let mut one = Vec::with_capacity(header.len() + rec.len());
                one.extend_from_slice(header);
                one.extend_from_slice(rec);
                let mut out = Vec::new();
                coreflow::app::replay::decode_capture(&one, dec, &mut |r: &FlowRecord| {
                    // the encoders skip the field groups a record's hint clears
                    assert!(
                        r.groups_hold(),
                        "frame {}: field outside groups {r:?}",
                        i + 1
                    );
                    out.push(*r)
                })
                .map_err(|e| format!("frame {}: {e}", i + 1))?;
                groups.push((vec![i as u32 + 1], out));
            }
        }
        None => {
            // not a classic pcap: one group for the whole file, matched in order
            let mut out = Vec::new();
            coreflow::app::replay::decode_capture(pcap, dec, &mut |r: &FlowRecord| {
                assert!(r.groups_hold(), "field outside groups {r:?}");
                out.push(*r)
            })
            .map_err(|e| e.to_string())?;
            groups.push((Vec::new(), out));
        }
    }
    Ok(groups)
}

fn is_flow(r: &Record) -> bool {
    matches!(
        r.kind,
        RecordKind::V5 | RecordKind::Data | RecordKind::DataUnknownTemplate
    )
}

/// The 5-tuple part of a pairing key: every core key field tshark shows must agree.
fn key_matches(r: &Record, fr: &Frame, ours: &FlowRecord) -> bool {
    FIELDS
        .iter()
        .filter(|f| {
            matches!(
                f.name,
                "src_addr" | "dst_addr" | "src_port" | "dst_port" | "proto"
            )
        })
        .all(|f| match (f.oracle)(r, fr) {
            Some(Ok(e)) => {
                let v = (f.ours)(ours);
                same(e.val, v, e.tol_ns) || e.alternates.contains(&v)
            }
            _ => true,
        })
}

fn compare_pair(rep: &mut Report, r: &Record, fr: &Frame, ours: &FlowRecord) {
    rep.compared_records += 1;
    if epoch_time(r, "cflow.abstimestart") || epoch_time(r, "cflow.abstimeend") {
        rep.epoch_times += 1;
    }
    // the counter rule, on every record that holds a counter it reads
    if counters::applies(r) {
        rep.fields_compared += 1;
        for m in counters::check(r, ours) {
            rep.mismatches += 1;
            rep.failures.push(m);
        }
    }
    // a record carrying the sampled packet has every flow key inside it
    let has_frame = frame::view(r).is_some();
    for f in FIELDS {
        let e = match (f.oracle)(r, fr) {
            None => {
                if f.core {
                    rep.core_absent += 1;
                    if has_frame && !matches!(f.name, "in_if" | "out_if") {
                        rep.failures.push(format!(
                            "frame {} set {} record {}: {}: not found in the packet section \
                             tshark dissects",
                            r.frame, r.set, r.index, f.name
                        ));
                    }
                }
                continue;
            }
            Some(Err(msg)) => {
                rep.failures.push(format!(
                    "frame {} set {} record {}: {}: {msg}",
                    r.frame, r.set, r.index, f.name
                ));
                continue;
            }
            Some(Ok(e)) => e,
        };
        rep.fields_compared += 1;
        if f.core {
            rep.core_compared += 1;
        }
        let v = (f.ours)(ours);
        if same(e.val, v, e.tol_ns) {
            if f.core {
                rep.core_agreeing += 1;
            }
            continue;
        }
        let what = format!(
            "frame {} set {} (id {}) record {}: {}: tshark {} coreflow {}",
            r.frame, r.set, r.set_id, r.index, f.name, e.val, v
        );
        if e.alternates.iter().any(|&a| same(a, v, e.tol_ns)) {
            rep.alternates += 1;
            if f.core {
                rep.core_agreeing += 1;
            }
            rep.notes
                .push(format!("{what} (matches another value tshark shows)"));
        } else if r.malformed {
            rep.malformed_mismatches += 1;
            rep.notes
                .push(format!("{what} (record tshark marks malformed)"));
        } else if let Some(x) = exception(&rep.case, f.name) {
            rep.excepted += 1;
            rep.excepted_fields.push(f.name);
            if f.core && !rep.malformed_case {
                rep.failures.push(format!(
                    "{what}: excepted ({}) but core fields must agree 100% for a capture not \
                     marked malformed",
                    x.reason
                ));
            }
        } else {
            rep.mismatches += 1;
            rep.failures.push(what);
        }
    }
}

fn compare_case(case: &Case, manifest: Option<&serde_json::Value>) -> Report {
    let id = case.id();
    let mut rep = Report {
        case: id.clone(),
        required: PROTOCOLS_REQUIRED.contains(&case.protocol.as_str()),
        malformed_case: manifest
            .and_then(|m| m.get("tshark_malformed"))
            .and_then(|v| v.as_u64())
            .is_some_and(|n| n > 0),
        ..Report::default()
    };
    let Some(oracle_path) = &case.oracle else {
        rep.failures
            .push("no <case>.pcap.tshark.json(.gz) beside the capture".to_string());
        return rep;
    };
    let oracle: Oracle = match tshark::parse(&common::read_maybe_gz(oracle_path)) {
        Ok(o) => o,
        Err(e) => {
            rep.failures.push(e);
            return rep;
        }
    };
    check_walker(&mut rep, &oracle, manifest);

    let pcap = std::fs::read(&case.pcap).expect("read capture");
    let mut dec = Decoder::new(Limits::default());
    let groups = match decode_by_frame(&pcap, &mut dec) {
        Ok(g) => g,
        Err(e) => {
            rep.failures.push(format!("decode_capture: {e}"));
            return rep;
        }
    };
    // the same capture in one call must give the same records
    let mut whole = Vec::new();
    let mut dec2 = Decoder::new(Limits::default());
    coreflow::app::replay::decode_capture(&pcap, &mut dec2, &mut |r: &FlowRecord| whole.push(*r))
        .expect("whole-file decode_capture");
    let per_frame: Vec<FlowRecord> = groups.iter().flat_map(|(_, v)| v.iter().copied()).collect();
    if whole != per_frame {
        rep.failures.push(format!(
            "decoding frame by frame gave {} records, the whole file at once {} (or different \
             values)",
            per_frame.len(),
            whole.len()
        ));
    }
    rep.errors = DecodeError::REASONS
        .iter()
        .zip(dec.stats.errors.iter())
        .filter(|(_, &n)| n > 0)
        .map(|(r, &n)| (*r, n))
        .collect();

    let frames_by_number: HashMap<u32, &Frame> =
        oracle.frames.iter().map(|f| (f.number, f)).collect();
    rep.frames = oracle.frames.len();
    rep.tshark_flows = oracle.records().filter(|r| is_flow(r)).count();
    rep.tshark_options = oracle.count(RecordKind::Options);
    rep.no_template_sets = oracle.no_template_sets();
    rep.ours = per_frame.len();

    let mut samplers = sampling::Samplers::default();
    for (numbers, ours) in &groups {
        let frames: Vec<&Frame> = if numbers.is_empty() {
            oracle.frames.iter().collect()
        } else {
            numbers
                .iter()
                .filter_map(|n| frames_by_number.get(n).copied())
                .collect()
        };
        // tshark's flows of these frames in order, with the positions of undecodable sets
        let mut ts: Vec<(&Record, &Frame)> = Vec::new();
        let mut gaps: Vec<usize> = Vec::new();
        for fr in &frames {
            for item in &fr.items {
                match item {
                    Item::Record(r) if is_flow(r) => ts.push((r, fr)),
                    Item::Record(r) => samplers.learn(r),
                    Item::NoTemplate(_) => gaps.push(ts.len()),
                }
            }
        }
        let frame_label = numbers
            .first()
            .map_or_else(|| "all frames".to_string(), |n| format!("frame {n}"));
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut extra: Vec<usize> = Vec::new();
        let mut missing: Vec<usize> = Vec::new();
        if ours.len() == ts.len() {
            pairs = (0..ts.len()).map(|i| (i, i)).collect();
        } else if gaps.len() == 1 && ours.len() > ts.len() {
            let g = ours.len() - ts.len();
            let p = gaps[0];
            pairs.extend((0..p).map(|i| (i, i)));
            extra.extend(p..p + g);
            pairs.extend((p..ts.len()).map(|i| (i, i + g)));
        } else {
            let mut cursor = 0;
            for (ti, (r, fr)) in ts.iter().enumerate() {
                match (cursor..ours.len()).find(|&j| key_matches(r, fr, &ours[j])) {
                    Some(j) => {
                        extra.extend(cursor..j);
                        pairs.push((ti, j));
                        cursor = j + 1;
                    }
                    None => missing.push(ti),
                }
            }
            extra.extend(cursor..ours.len());
        }
        for &(ti, oi) in &pairs {
            let (r, fr) = ts[ti];
            compare_pair(&mut rep, r, fr, &ours[oi]);
            // the rate of the sampler / selector the record names, from its options record
            if let Some(want) = samplers.expected(r) {
                rep.fields_compared += 1;
                if ours[oi].sampling_rate != want {
                    rep.mismatches += 1;
                    rep.failures.push(format!(
                        "frame {} set {} (id {}) record {}: sampling_rate of its selector: \
                         options record says {want}, coreflow {}",
                        r.frame, r.set, r.set_id, r.index, ours[oi].sampling_rate
                    ));
                }
            }
        }
        // on a capture tshark marks malformed, its record counts are information only
        let malformed_case = rep.malformed_case;
        let problem = |rep: &mut Report, msg: String| {
            if malformed_case {
                rep.notes
                    .push(format!("{msg} (capture tshark marks malformed)"));
            } else {
                rep.failures.push(msg);
            }
        };
        rep.missing += missing.len();
        if !missing.is_empty() && exception(&id, MISSING_RECORDS).is_none() {
            let (r, _) = ts[missing[0]];
            let msg = format!(
                "{frame_label}: {} record(s) tshark decoded are missing from coreflow's output \
                 (first: set {} id {} record {})",
                missing.len(),
                r.set,
                r.set_id,
                r.index
            );
            problem(&mut rep, msg);
        }
        if !extra.is_empty() {
            if !gaps.is_empty() {
                rep.extra_at_gaps += extra.len();
                rep.notes.push(format!(
                    "{frame_label}: coreflow decoded {} record(s) of data set(s) tshark could \
                     not (no template known to tshark: defined later in the datagram or beyond \
                     its header count, or sent from another source port, which tshark keys \
                     templates by); not compared",
                    extra.len()
                ));
            } else {
                rep.extra += extra.len();
                if exception(&id, EXTRA_RECORDS).is_none() {
                    let msg = format!(
                        "{frame_label}: coreflow decoded {} record(s) tshark does not show",
                        extra.len()
                    );
                    problem(&mut rep, msg);
                }
            }
        }
    }

    // exceptions must be used, and a dropped datagram must be counted
    for x in EXCEPTIONS.iter().filter(|x| x.case == id) {
        let used = match x.field {
            MISSING_RECORDS => rep.missing > 0,
            EXTRA_RECORDS => rep.extra > 0,
            f => rep.excepted_fields.contains(&f),
        };
        if !used {
            rep.failures.push(format!(
                "exception for {} is not needed any more: remove it from EXCEPTIONS",
                x.field
            ));
        }
        if let Some(reason) = x.counted_error {
            if !rep.errors.iter().any(|(r, n)| *r == reason && *n > 0) {
                rep.failures.push(format!(
                    "exception for {}: coreflow should have counted a {reason} error",
                    x.field
                ));
            }
        }
    }
    rep
}

/// The walker's own check: tshark's record counts as the manifest states them.
fn check_walker(rep: &mut Report, oracle: &Oracle, manifest: Option<&serde_json::Value>) {
    let unknown = oracle.count(RecordKind::DataUnknownTemplate);
    if unknown > 0 {
        rep.notes.push(format!(
            "{unknown} data record(s) whose template the JSON does not define (compared as data)"
        ));
    }
    let Some(m) = manifest else {
        rep.notes
            .push("no manifest entry: walker counts not cross-checked".to_string());
        return;
    };
    let checks = [
        ("nf_v5_records", oracle.count(RecordKind::V5)),
        ("nf_data_records", oracle.count(RecordKind::Data) + unknown),
        ("nf_options_records", oracle.count(RecordKind::Options)),
        ("undecodable_no_template", oracle.no_template_sets()),
    ];
    for (key, ours) in checks {
        if let Some(want) = m.get(key).and_then(|v| v.as_u64()) {
            if want != ours as u64 {
                // a walker bug, independent of the decoders: always fails
                rep.walker_failures.push(format!(
                    "tshark JSON walker: {key} = {ours}, manifest says {want}"
                ));
            }
        }
    }
}

fn load_manifest(root: &std::path::Path) -> HashMap<String, serde_json::Value> {
    let Ok(bytes) = std::fs::read(root.join("manifest.json")) else {
        eprintln!("note: no manifest.json; walker counts will not be cross-checked");
        return HashMap::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("manifest.json is JSON");
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| Some((e.get("path")?.as_str()?.to_string(), e.clone())))
                .collect()
        })
        .unwrap_or_default()
}

fn print_table(reports: &[Report]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:<60} {:>4} {:>6} {:>5} {:>6} {:>6} {:>7} {:>9} {:>5} {:>5} {:>5} {:>5} {:>5}  decode errors",
        "case",
        "req",
        "tshark",
        "opts",
        "ours",
        "paired",
        "fields",
        "core%",
        "mism",
        "exc",
        "alt",
        "miss",
        "extra",
    );
    for r in reports {
        let core = if r.core_compared == 0 {
            "-".to_string()
        } else {
            format!(
                "{:.2}",
                100.0 * r.core_agreeing as f64 / r.core_compared as f64
            )
        };
        let errors: Vec<String> = r.errors.iter().map(|(k, n)| format!("{k}={n}")).collect();
        let _ = writeln!(
            s,
            "{:<60} {:>4} {:>6} {:>5} {:>6} {:>6} {:>7} {:>9} {:>5} {:>5} {:>5} {:>5} {:>5}  {}",
            format!(
                "{}{}",
                r.case,
                if r.malformed_case { " (malformed)" } else { "" }
            ),
            if r.required { "yes" } else { "no" },
            r.tshark_flows,
            r.tshark_options,
            r.ours,
            r.compared_records,
            r.fields_compared,
            core,
            r.mismatches + r.malformed_mismatches,
            r.excepted,
            r.alternates,
            r.missing,
            r.extra + r.extra_at_gaps,
            errors.join(" ")
        );
    }
    let sum = |f: fn(&Report) -> usize| reports.iter().map(f).sum::<usize>();
    let _ = writeln!(
        s,
        "total: {} captures, {} tshark flows, {} paired, {} fields compared, {} mismatches \
         ({} on records tshark marks malformed), {} excepted, {} alternates, {} missing, {} \
         extra ({} at no-template sets), {} core values tshark does not show, {} records with \
         a zero (1970) absolute time not compared",
        reports.len(),
        sum(|r| r.tshark_flows),
        sum(|r| r.compared_records),
        sum(|r| r.fields_compared),
        sum(|r| r.mismatches + r.malformed_mismatches),
        sum(|r| r.malformed_mismatches),
        sum(|r| r.excepted),
        sum(|r| r.alternates),
        sum(|r| r.missing),
        sum(|r| r.extra + r.extra_at_gaps),
        sum(|r| r.extra_at_gaps),
        sum(|r| r.core_absent),
        sum(|r| r.epoch_times),
    );
    s
}

#[test]
fn oracle_netflow() {
    let Some(root) = common::captures_root("oracle_netflow") else {
        return;
    };
    for x in EXCEPTIONS {
        assert!(
            x.field == MISSING_RECORDS
                || x.field == EXTRA_RECORDS
                || FIELDS.iter().any(|f| f.name == x.field),
            "EXCEPTIONS names an unknown field {:?}",
            x.field
        );
        assert!(!x.reason.is_empty(), "every exception needs a reason");
    }
    let manifest = load_manifest(&root);
    let cases: Vec<Case> = PROTOCOLS
        .iter()
        .flat_map(|p| common::list_cases(&root, p))
        .collect();
    for x in EXCEPTIONS {
        assert!(
            cases.iter().any(|c| c.id() == x.case),
            "EXCEPTIONS names a capture that does not exist: {}",
            x.case
        );
    }
    // two threads: the big gzipped oracles dominate the run time
    let half = cases.len().div_ceil(2);
    let (a, b) = cases.split_at(half);
    let run = |cs: &[Case]| -> Vec<Report> {
        cs.iter()
            .map(|c| compare_case(c, manifest.get(&c.id())))
            .collect()
    };
    let reports: Vec<Report> = std::thread::scope(|s| {
        let hb = s.spawn(|| run(b));
        let mut ra = run(a);
        ra.extend(hb.join().expect("oracle worker thread"));
        ra
    });

    println!("{}", print_table(&reports));
    let mut failed = Vec::new();
    for r in &reports {
        let shown = 20;
        if !r.notes.is_empty() {
            println!("{}: {} note(s)", r.case, r.notes.len());
            for n in r.notes.iter().take(shown) {
                println!("    {n}");
            }
            if r.notes.len() > shown {
                println!("    ... {} more", r.notes.len() - shown);
            }
        }
        if !r.walker_failures.is_empty() {
            println!("FAIL {}: tshark JSON reader", r.case);
            for f in &r.walker_failures {
                println!("    {f}");
            }
            failed.push(r.case.clone());
        }
        if !r.failures.is_empty() {
            let head = if r.required {
                "FAIL"
            } else {
                "not required yet"
            };
            println!("{head} {}: {} problem(s)", r.case, r.failures.len());
            for f in r.failures.iter().take(shown) {
                println!("    {f}");
            }
            if r.failures.len() > shown {
                println!("    ... {} more", r.failures.len() - shown);
            }
            if r.required {
                failed.push(r.case.clone());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "coreflow disagrees with tshark on {} capture(s) without an exception: {:?} (run with \
         --nocapture for the details)",
        failed.len(),
        failed
    );
}
