//! The sampling rate a data record gets from its sampler / selector: what the options
//! records tshark decoded say about each selectorId (302) / samplerId (48), turned into a rate
//! by the rule docs/schemas.md states (the selector algorithm's own elements first, RFC 5475;
//! without an algorithm, 305/306, then 50, then 34, then 310/309). Written apart from
//! coreflow's code so that the two can disagree.

use super::tshark::{parse_uint, Record};
use std::collections::HashMap;

/// Sampling rate by (observation domain, sampler / selector id), in file order.
#[derive(Default)]
pub struct Samplers(HashMap<(u64, u64), u64>);

fn id(r: &Record) -> Option<u64> {
    r.first("cflow.selector_id")
        .or_else(|| r.first("cflow.sampler_id"))
        .and_then(parse_uint)
}

/// The rate one options record gives.
pub fn rate(r: &Record) -> Option<u64> {
    let u = |k: &str| r.first(k).and_then(parse_uint);
    let count_based = || {
        let n = u("cflow.sampling_packet_interval").filter(|&n| n > 0)?;
        Some(match u("cflow.sampling_packet_space") {
            Some(s) => (n + s) / n,
            None => n,
        })
    };
    let n_of_n = || {
        let n = u("cflow.sampling_size").filter(|&n| n > 0)?;
        let pop = u("cflow.sampling_population").filter(|&n| n > 0)?;
        Some(pop / n)
    };
    let probability = || {
        let p: f64 = r.first("cflow.sampling_probability")?.trim().parse().ok()?;
        (p > 0.0 && p <= 1.0).then(|| (1.0 / p).round() as u64)
    };
    let by_algorithm = match u("cflow.selector_algorithm") {
        Some(1) => count_based(),
        Some(3) => n_of_n(),
        Some(4) => probability(),
        _ => None,
    };
    by_algorithm
        .or_else(count_based)
        .or_else(|| u("cflow.sampler_random_interval").filter(|&v| v > 0))
        .or_else(|| u("cflow.sampling_interval").filter(|&v| v > 0))
        .or_else(n_of_n)
}

impl Samplers {
    /// Learns the rate of an options record that names a sampler.
    pub fn learn(&mut self, r: &Record) {
        if let (Some(id), Some(rate)) = (id(r), rate(r)) {
            self.0.insert((r.header.domain.unwrap_or(0), id), rate);
        }
    }

    /// The rate a data record should carry from its sampler, when it names a known one and
    /// carries no rate of its own (IE 34 is compared on its own).
    pub fn expected(&self, r: &Record) -> Option<u64> {
        if r.has("cflow.sampling_interval") {
            return None;
        }
        self.0.get(&(r.header.domain.unwrap_or(0), id(r)?)).copied()
    }
}
