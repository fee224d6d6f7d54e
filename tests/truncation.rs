//! Damaged datagrams never panic a decoder and never poison its state.
//!
//! For every UDP datagram of every capture under `../shared/captures` (all four protocols),
//! plus a few hand-built ones that need no captures:
//! - **truncation**: the datagram cut at every length (for long datagrams and captures with
//!   many datagrams, a deterministic sample; `COREFLOW_TRUNCATION_FULL=1` tries everything) is
//!   decoded by a decoder that has seen the capture's earlier datagrams. It must not panic,
//!   every record it yields must equal the record at the same position of the intact decode
//!   (a cut cannot invent or change flows), and the intact datagram decoded right after it must
//!   give exactly what it gave in a clean run (the cut did not poison template state);
//! - **bit flips**: a bounded, deterministic set of single-bit flips and byte overwrites (the
//!   header and first set headers, then pseudo-random positions). Decoding must not panic. A
//!   flipped datagram may legitimately teach the decoder something (a data set id flipped to 2
//!   is a template set), so afterwards the capture's intact datagrams up to this one are
//!   replayed, and the intact datagram must then decode as in a clean run (sampling rate
//!   aside: flipped options data may set the rate of a sampler the capture never describes).

mod common;

use common::builders;
use coreflow::decode::{DecodeError, Decoder, Limits, Protocol};
use coreflow::flow::FlowRecord;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Datagrams up to this length are cut at every length.
const FULL_CUT_LEN: usize = 256;
/// Cut lengths tried on a longer datagram (all of the first 64 and last 32, the rest evenly).
const CUTS_LONG: usize = 192;
/// Captures with more datagrams than this are sampled (the first 6, the rest evenly).
const MAX_DATAGRAMS: usize = 16;
/// Mutations per datagram.
const FLIPS: usize = 48;

type Outcome = (Result<Protocol, DecodeError>, Vec<FlowRecord>);

fn full() -> bool {
    std::env::var("COREFLOW_TRUNCATION_FULL").is_ok_and(|v| v != "0" && !v.is_empty())
}

/// Decodes one payload; a panic becomes `Err(message)`.
fn decode(dec: &mut Decoder, src: IpAddr, ts: u64, payload: &[u8]) -> Result<Outcome, String> {
    let mut out = Vec::new();
    catch_unwind(AssertUnwindSafe(|| {
        let r = dec.decode(src, ts, payload, &mut |r: &FlowRecord| out.push(*r));
        (r, std::mem::take(&mut out))
    }))
    .map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".to_string())
    })
}

fn cut_lengths(n: usize) -> Vec<usize> {
    if n <= FULL_CUT_LEN || full() {
        return (0..n).collect();
    }
    let mut v: Vec<usize> = (0..64).collect();
    let middle = CUTS_LONG - 64 - 32;
    for k in 0..middle {
        v.push(64 + (n - 96) * k / middle);
    }
    v.extend(n - 32..n);
    v.sort_unstable();
    v.dedup();
    v
}

fn selected(n: usize) -> Vec<usize> {
    if n <= MAX_DATAGRAMS || full() {
        return (0..n).collect();
    }
    let mut v: Vec<usize> = (0..6).collect();
    let rest = MAX_DATAGRAMS - 6;
    for k in 0..rest {
        v.push(6 + (n - 7) * k / (rest - 1));
    }
    v.dedup();
    v
}

/// xorshift64*: deterministic positions for the bit flips.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The `k`-th mutation of `d` (deterministic): positions 0..24 first (headers and the first
/// set/sample headers), then pseudo-random ones; a single-bit flip, a byte inverted, or a byte
/// set to 0x00 / 0xFF (the boundary values of lengths and counts).
fn mutate(d: &[u8], k: usize, rng: &mut Rng) -> Vec<u8> {
    let mut m = d.to_vec();
    if m.is_empty() {
        return m;
    }
    let r = rng.next();
    let pos = if k < 24 {
        k % m.len()
    } else {
        (r % m.len() as u64) as usize
    };
    match k % 4 {
        0 | 1 => m[pos] ^= 1 << ((r >> 32) % 8),
        2 => m[pos] = !m[pos],
        _ => m[pos] = if (r >> 40) & 1 == 0 { 0x00 } else { 0xFF },
    }
    m
}

fn without_sampling(v: &[FlowRecord]) -> Vec<FlowRecord> {
    v.iter()
        .map(|r| FlowRecord {
            sampling_rate: 0,
            ..*r
        })
        .collect()
}

struct Dgram {
    src: IpAddr,
    ts: u64,
    payload: Vec<u8>,
}

/// Runs both checks over one sequence of datagrams; returns the problems found.
fn check_sequence(name: &str, dgrams: &[Dgram]) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut decodes = 0usize;
    let limits = Limits::default();

    // the clean run
    let mut reference: Vec<Outcome> = Vec::with_capacity(dgrams.len());
    let mut dec = Decoder::new(limits);
    for (i, d) in dgrams.iter().enumerate() {
        match decode(&mut dec, d.src, d.ts, &d.payload) {
            Ok(o) => reference.push(o),
            Err(p) => {
                problems.push(format!("{name}: datagram {i} (intact) panicked: {p}"));
                return (problems, decodes);
            }
        }
    }
    let sel = selected(dgrams.len());

    // truncation, on a decoder that follows the capture
    let mut dec = Decoder::new(limits);
    for (i, d) in dgrams.iter().enumerate() {
        if sel.contains(&i) {
            let (_, ref_recs) = &reference[i];
            for len in cut_lengths(d.payload.len()) {
                decodes += 2;
                let cut = match decode(&mut dec, d.src, d.ts, &d.payload[..len]) {
                    Ok(o) => o,
                    Err(p) => {
                        problems.push(format!(
                            "{name}: datagram {i} cut to {len} of {} bytes panicked: {p}",
                            d.payload.len()
                        ));
                        return (problems, decodes);
                    }
                };
                if cut.1.len() > ref_recs.len() || cut.1[..] != ref_recs[..cut.1.len()] {
                    problems.push(format!(
                        "{name}: datagram {i} cut to {len} of {} bytes gave {} record(s) that \
                         are not a prefix of the {} intact ones",
                        d.payload.len(),
                        cut.1.len(),
                        ref_recs.len()
                    ));
                }
                match decode(&mut dec, d.src, d.ts, &d.payload) {
                    Ok(o) if o == reference[i] => {}
                    Ok(o) => problems.push(format!(
                        "{name}: datagram {i} decodes differently after a copy cut to {len} \
                         bytes: {:?} with {} record(s), clean run {:?} with {}",
                        o.0,
                        o.1.len(),
                        reference[i].0,
                        ref_recs.len()
                    )),
                    Err(p) => {
                        problems.push(format!(
                            "{name}: datagram {i} (intact, after a cut copy) panicked: {p}"
                        ));
                        return (problems, decodes);
                    }
                }
                if problems.len() > 20 {
                    return (problems, decodes);
                }
            }
        }
        decodes += 1;
        if let Err(p) = decode(&mut dec, d.src, d.ts, &d.payload) {
            problems.push(format!("{name}: datagram {i} (intact) panicked: {p}"));
            return (problems, decodes);
        }
    }

    // bit flips
    let mut dec = Decoder::new(limits);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((dgrams.len() as u64) << 17));
    for (i, d) in dgrams.iter().enumerate() {
        decodes += 1;
        if let Err(p) = decode(&mut dec, d.src, d.ts, &d.payload) {
            problems.push(format!("{name}: datagram {i} (intact) panicked: {p}"));
            return (problems, decodes);
        }
        if !sel.contains(&i) {
            continue;
        }
        for k in 0..FLIPS {
            let m = mutate(&d.payload, k, &mut rng);
            decodes += 1;
            if let Err(p) = decode(&mut dec, d.src, d.ts, &m) {
                problems.push(format!(
                    "{name}: datagram {i} mutation {k} panicked: {p}\n    bytes: {}",
                    hex(&m)
                ));
                return (problems, decodes);
            }
        }
        // re-teach from intact datagrams, then the intact one must decode as in the clean run
        let mut last = None;
        for (j, dj) in dgrams.iter().enumerate().take(i + 1) {
            decodes += 1;
            match decode(&mut dec, dj.src, dj.ts, &dj.payload) {
                Ok(o) => last = Some(o),
                Err(p) => {
                    problems.push(format!(
                        "{name}: datagram {j} (intact, after mutations of {i}) panicked: {p}"
                    ));
                    return (problems, decodes);
                }
            }
        }
        let o = last.expect("at least datagram i");
        let (ref_res, ref_recs) = &reference[i];
        if o.0 != *ref_res || without_sampling(&o.1) != without_sampling(ref_recs) {
            problems.push(format!(
                "{name}: datagram {i} decodes differently after bit-flipped copies (and a \
                 replay of the intact datagrams): {:?} with {} record(s), clean run {:?} with {}",
                o.0,
                o.1.len(),
                ref_res,
                ref_recs.len()
            ));
        }
    }
    (problems, decodes)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn synthetic() -> Vec<Dgram> {
    let src: IpAddr = "192.0.2.1".parse().unwrap();
    let header = builders::eth_ipv4_tcp(128);
    [
        builders::netflow5(5),
        builders::netflow9_template_and_data(3, 1),
        builders::netflow9_data(5, 2),
        builders::ipfix_template_and_data(3, 1),
        builders::ipfix_data(5, 4),
        builders::sflow_flow_samples(2, &header),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, payload)| Dgram {
        src,
        ts: 1_700_000_000_000_000_000 + i as u64,
        payload,
    })
    .collect()
}

#[test]
fn synthetic_datagrams_survive_truncation_and_bit_flips() {
    let (problems, _) = check_sequence("synthetic", &synthetic());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn captures_survive_truncation_and_bit_flips() {
    let Some(root) = common::captures_root("truncation") else {
        return;
    };
    let cases: Vec<common::Case> = common::ALL_PROTOCOLS
        .iter()
        .flat_map(|p| common::list_cases(&root, p))
        .collect();
    assert!(!cases.is_empty(), "no captures under {}", root.display());
    let run = |cs: &[common::Case]| -> Vec<(String, usize, usize, Vec<String>)> {
        cs.iter()
            .map(|c| {
                let dgrams: Vec<Dgram> = common::datagrams(&c.pcap)
                    .into_iter()
                    .map(|d| Dgram {
                        src: d.src,
                        ts: d.ts_ns,
                        payload: d.payload,
                    })
                    .collect();
                let (problems, decodes) = check_sequence(&c.id(), &dgrams);
                (c.id(), dgrams.len(), decodes, problems)
            })
            .collect()
    };
    // interleave so both threads get big and small captures
    let (a, b): (Vec<_>, Vec<_>) = cases
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let a: Vec<common::Case> = a.into_iter().map(|(_, c)| c).collect();
    let b: Vec<common::Case> = b.into_iter().map(|(_, c)| c).collect();
    let results = std::thread::scope(|s| {
        let hb = s.spawn(|| run(&b));
        let mut ra = run(&a);
        ra.extend(hb.join().expect("truncation worker"));
        ra
    });
    let mut all = Vec::new();
    let (mut dgrams, mut decodes) = (0, 0);
    for (id, n, d, problems) in results {
        dgrams += n;
        decodes += d;
        if !problems.is_empty() {
            println!("{id}: {} problem(s)", problems.len());
        }
        all.extend(problems);
    }
    println!(
        "truncation/bit flips: {} captures, {dgrams} datagrams, {decodes} decode calls{}",
        cases.len(),
        if full() { " (full)" } else { " (sampled)" }
    );
    assert!(all.is_empty(), "{}", all.join("\n"));
}
