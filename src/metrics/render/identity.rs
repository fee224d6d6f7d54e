//! `/metrics`' families of the collector's identity and of what `[output]` adds to the data
//! path: build info (with the instance name), renormalization saturations, and the file
//! output's reopens and rotations.

use super::{counter, gauge, Out};
use crate::metrics::Sources;
use crate::telemetry::counters::WorkerCounters;
use std::sync::atomic::Ordering;

pub(super) fn families(o: &mut Out, src: &Sources) {
    let saturated: u64 = src
        .workers
        .iter()
        .map(|w| WorkerCounters::get(&w.counters.renormalize_saturated))
        .sum();
    o.counters(
        "coreflow_renormalize_saturated_total",
        "Flows whose bytes or packets times the sampling rate passed 2^64-1 and were set to it (output.renormalize).",
        vec![counter(&[], saturated as f64)],
    );
    if src.sink == "file" {
        let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
        let out = &src.output;
        o.counters(
            "coreflow_output_file_reopens_total",
            "Times SIGHUP reopened the output file.",
            vec![counter(&[], g(&out.file_reopens))],
        );
        o.counters(
            "coreflow_output_file_rotations_total",
            "Times the built-in rotation (output.rotate_*) renamed the output file and started a new one.",
            vec![counter(&[], g(&out.file_rotations))],
        );
        o.counters(
            "coreflow_output_file_reopen_errors_total",
            "Reopens or rotations that failed; the output kept writing the file it had.",
            vec![counter(&[], g(&out.file_reopen_errors))],
        );
    }
    // `collector`, not `instance`: Prometheus sets `instance` on every scraped series (the
    // target) and renames a scraped `instance` label to `exported_instance`
    o.gauges(
        "coreflow_build_info",
        "Version of the running binary; collector is the instance name ([cluster] instance, else the host name).",
        vec![gauge(
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("collector", src.instance.as_str()),
            ],
            1.0,
        )],
    );
}
