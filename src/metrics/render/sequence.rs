//! `/metrics`' sequence-gap families (`decode::seq`): per worker and protocol, per exporter,
//! and the flows in the kernel's drops.

use super::{counter, gauge, router_name, Out};
use crate::decode::error::Protocol;
use crate::decode::seq::UNITS;
use crate::metrics::Sources;
use crate::telemetry::counters::WorkerCounters;
use crate::telemetry::exporters::ExporterRow;
use prometheus::proto::Metric;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Sequence-gap accounting (`decode::seq`) per worker and protocol seen and per exporter with
/// gaps, and the flows in the kernel's drops, per worker.
pub(super) fn families(
    o: &mut Out,
    src: &Sources,
    routers: &BTreeMap<Option<IpAddr>, ExporterRow>,
) {
    let (mut eg, mut em) = (Vec::new(), Vec::new());
    for (ip, r) in routers {
        let router = router_name(*ip);
        for (p, name) in Protocol::LABELS.iter().enumerate() {
            if r.seq_gaps[p] > 0 {
                let l = [("router", router.as_str()), ("protocol", name)];
                eg.push(counter(&l, r.seq_gaps[p] as f64));
                let lu = [l[0], l[1], ("unit", UNITS[p])];
                em.push(counter(&lu, r.seq_missing[p] as f64));
            }
        }
    }
    o.counters(
        "coreflow_exporter_sequence_gaps_total",
        "Sequence gaps per exporter (router=\"other\" beyond metrics.max_exporters), by protocol.",
        eg,
    );
    o.counters(
        "coreflow_exporter_sequence_missing_total",
        "Units missing in those gaps per exporter, in each protocol's unit.",
        em,
    );
    let g = WorkerCounters::get;
    let (mut gaps, mut missing, mut late) = (Vec::new(), Vec::new(), Vec::new());
    let (mut resyncs, mut kflows): (Vec<Metric>, Vec<Metric>) = (Vec::new(), Vec::new());
    for w in &src.workers {
        let c = &w.counters;
        let id = w.id.to_string();
        let l = [("worker", id.as_str()), ("listener", w.listener.label())];
        kflows.push(gauge(&l, c.kernel_dropped_flows() as f64));
        for (p, name) in Protocol::LABELS.iter().enumerate() {
            // the protocols this worker has seen (any listener may get any protocol)
            if g(&c.decoded[p]) == 0 && g(&c.seq_gaps[p]) == 0 {
                continue;
            }
            let l = [l[0], l[1], ("protocol", name)];
            gaps.push(counter(&l, g(&c.seq_gaps[p]) as f64));
            let lu = [l[0], l[1], l[2], ("unit", UNITS[p])];
            missing.push(counter(&lu, g(&c.seq_missing[p]) as f64));
            late.push(counter(&l, g(&c.seq_late[p]) as f64));
            resyncs.push(counter(&l, g(&c.seq_resyncs[p]) as f64));
        }
    }
    o.counters(
        "coreflow_sequence_gaps_total",
        "Gaps in exporters' sequence numbers (loss between exporter and host), by protocol.",
        gaps,
    );
    o.counters("coreflow_sequence_missing_total", "Units missing in those gaps, in each protocol's unit: v5 flows, v9 datagrams, IPFIX data records, sFlow datagrams.", missing);
    o.counters(
        "coreflow_sequence_late_total",
        "Datagrams that arrived behind their stream's sequence (reordered or duplicated).",
        late,
    );
    o.counters(
        "coreflow_sequence_resyncs_total",
        "Streams resynced without counting a gap (exporter restart, a jump).",
        resyncs,
    );
    o.gauges("coreflow_kernel_dropped_flows_estimate", "Flows the kernel's dropped datagrams likely held: coreflow_kernel_drops_total times the worker's flows per datagram.", kflows);
}
