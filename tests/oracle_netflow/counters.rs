//! The counter rule (docs/schemas.md "Bytes and packets"), checked on every record of every
//! capture from what tshark shows, written apart from coreflow's code:
//! - octetDeltaCount (1), else, where it is zero or absent, postOctetDeltaCount (23);
//! - only when the template has neither: octetTotalCount (85);
//! - only when it has none of those: initiatorOctets (231) + responderOctets (232);
//!
//! and the same for packets (2, 24, 86, 298 + 299). The rule depends on which elements the
//! template holds and, for 1/23, on the value of 1, never on the record's place in its set,
//! so two records of one template with the same counters present get the same rule, and no
//! record reports zero bytes while its IE 23 is non-zero.

use super::expect::{uint, Val};
use super::tshark::Record;
use coreflow::flow::FlowRecord;

struct Counters {
    main: (&'static [&'static str], u16),
    post: (&'static [&'static str], u16),
    total: (&'static [&'static str], u16),
    parts: [(&'static [&'static str], u16); 2],
}

const OCTETS: Counters = Counters {
    main: (&["cflow.octets", "cflow.octets64"], 1),
    post: (
        &[
            "cflow.post_octets",
            "cflow.post_octets64",
            "cflow.octets_out",
        ],
        23,
    ),
    total: (&["cflow.permanent_octets"], 85),
    parts: [
        (&["cflow.initiator_octets"], 231),
        (&["cflow.responder_octets"], 232),
    ],
};

const PACKETS: Counters = Counters {
    main: (&["cflow.packets", "cflow.packets64"], 2),
    post: (
        &[
            "cflow.post_packets",
            "cflow.post_packets64",
            "cflow.packets_out",
        ],
        24,
    ),
    total: (&["cflow.permanent_packets"], 86),
    parts: [
        (&["cflow.initiator_packets"], 298),
        (&["cflow.responder_packets"], 299),
    ],
};

/// The template holds the PEN-0 element `ie`.
fn holds(r: &Record, ie: u16) -> bool {
    r.template.as_ref().is_some_and(|t| {
        t.fields
            .iter()
            .any(|f| f.ie == ie && f.pen == 0 && !f.scope)
    })
}

/// The value of one element, when tshark shows it without ambiguity (`Err`: ambiguous).
fn value(r: &Record, (keys, ie): (&[&str], u16)) -> Result<Option<u64>, ()> {
    match uint(r, keys, ie) {
        None => Ok(None),
        Some(Ok(e)) if e.alternates.is_empty() => match e.val {
            Val::U(v) => Ok(Some(v)),
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

/// What the rule gives for one record (`None`: the record holds no counter of this kind,
/// or tshark's values are ambiguous).
fn expected(r: &Record, c: &Counters) -> Option<u64> {
    if holds(r, c.main.1) || holds(r, c.post.1) {
        let main = value(r, c.main).ok()?.unwrap_or(0);
        if main != 0 || !holds(r, c.post.1) {
            return holds(r, c.main.1).then_some(main);
        }
        return value(r, c.post).ok()?;
    }
    if holds(r, c.total.1) {
        return value(r, c.total).ok()?;
    }
    if c.parts.iter().any(|p| holds(r, p.1)) {
        let mut sum = 0u64;
        for p in c.parts {
            sum = sum.saturating_add(value(r, p).ok()?.unwrap_or(0));
        }
        return Some(sum);
    }
    None
}

/// The rule's disagreements with coreflow's record, as messages.
pub fn check(r: &Record, ours: &FlowRecord) -> Vec<String> {
    let mut out = Vec::new();
    if r.template.is_none() {
        return out;
    }
    for (what, c, got) in [
        ("bytes", &OCTETS, ours.bytes),
        ("packets", &PACKETS, ours.packets),
    ] {
        if let Some(want) = expected(r, c) {
            if want != got {
                out.push(format!(
                    "frame {} set {} (id {}) record {}: {what} by the counter rule: {want}, \
                     coreflow {got}",
                    r.frame, r.set, r.set_id, r.index
                ));
            }
        }
    }
    out
}

/// Whether the record holds a counter the rule reads.
pub fn applies(r: &Record) -> bool {
    [&OCTETS, &PACKETS].iter().any(|c| {
        [c.main.1, c.post.1, c.total.1, c.parts[0].1, c.parts[1].1]
            .iter()
            .any(|&ie| holds(r, ie))
    })
}
