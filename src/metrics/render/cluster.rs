//! `/metrics`' cluster families (`cluster.templates_topic`, `crate::cluster`): records
//! published and applied, ignored by reason, the consumer's lag and the initial load.

use super::{counter, gauge, Out};
use crate::cluster::{ClusterStats, Ignored};
use crate::metrics::Sources;
use std::sync::atomic::{AtomicU64, Ordering};

pub(super) fn families(o: &mut Out, src: &Sources) {
    let Some((c, _)) = &src.cluster else {
        return;
    };
    let c: &ClusterStats = c;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let b = |a: &std::sync::atomic::AtomicBool| f64::from(u8::from(a.load(Ordering::Relaxed)));
    o.counters(
        "coreflow_cluster_records_published_total",
        "Template and sampling-rate records given to the producer of the templates topic.",
        vec![counter(&[], g(&c.published))],
    );
    o.counters(
        "coreflow_cluster_records_delivered_total",
        "Template records the broker acknowledged.",
        vec![counter(&[], g(&c.delivered))],
    );
    o.counters(
        "coreflow_cluster_publish_dropped_total",
        "Template changes not published: the workers' channel or journal was full, or the producer refused or failed them.",
        vec![
            counter(&[("stage", "channel")], g(&c.publish_dropped)),
            counter(&[("stage", "producer")], g(&c.publish_failed)),
        ],
    );
    o.counters(
        "coreflow_cluster_records_consumed_total",
        "Records read from the templates topic.",
        vec![counter(&[], g(&c.consumed))],
    );
    o.counters(
        "coreflow_cluster_records_applied_total",
        "Records from the templates topic applied to a worker's cache.",
        vec![counter(&[], g(&c.applied))],
    );
    o.counters(
        "coreflow_cluster_records_ignored_total",
        "Records from the templates topic not applied, by reason.",
        Ignored::ALL
            .iter()
            .map(|&r| counter(&[("reason", r.label())], c.ignored(r) as f64))
            .collect(),
    );
    o.gauges(
        "coreflow_cluster_consumer_lag",
        "Records of the templates topic not read yet, all partitions.",
        vec![gauge(&[], g(&c.lag))],
    );
    o.gauges(
        "coreflow_cluster_initial_load_completed",
        "1 once the templates topic was read to its end (at start, or later after cluster.load_timeout_ms).",
        vec![gauge(&[], b(&c.loaded))],
    );
    o.gauges(
        "coreflow_cluster_initial_load_seconds",
        "How long the start's read of the templates topic took (0 until done).",
        vec![gauge(&[], g(&c.load_ms) / 1e3)],
    );
    o.gauges(
        "coreflow_cluster_broker_up",
        "1 while a broker answers the templates topic's metadata requests.",
        vec![gauge(&[], b(&c.broker_up))],
    );
}
