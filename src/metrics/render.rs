//! `/metrics`: merges the workers' and the output thread's snapshots and counters and renders
//! them in the Prometheus text format (the `prometheus` crate's data model and encoder).
//!
//! Only series with something to say are written (a counter that never moved from zero for an
//! exporter is left out, as GoFlow's never-touched label sets are); the per-worker and
//! accounting series are always written.

use super::Sources;

mod cluster;
mod identity;
mod sequence;
use crate::decode::error::{DecodeReason, Protocol};
use crate::decode::{DatagramSummary, DecodeError, LimitKind};
use crate::telemetry::counters::WorkerCounters;
use crate::telemetry::counters::{ConnectReason, FAIL_REASONS};
use crate::telemetry::exporters::{
    ExporterRow, GoflowKind, KINDS, NF_ERRORS, NF_VERSIONS, SF_ERRORS,
};
use crate::telemetry::hist::{Lat, DECODE_BUCKETS, PIPELINE_BUCKETS, QUANTILES};
use crate::telemetry::probe::WorkerSnapshot;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType, Quantile,
    Summary,
};
use prometheus::TextEncoder;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

const GOFLOW_QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];
fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name((*k).to_string());
            l.set_value((*v).to_string());
            l
        })
        .collect()
}

fn counter(pairs: &[(&str, &str)], v: f64) -> Metric {
    let mut c = Counter::default();
    c.set_value(v);
    let mut m = Metric::from_label(labels(pairs));
    m.set_counter(c);
    m
}

fn gauge(pairs: &[(&str, &str)], v: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(v);
    let mut m = Metric::from_label(labels(pairs));
    m.set_gauge(g);
    m
}

fn summary(pairs: &[(&str, &str)], qs: &[(f64, f64)], sum: f64, count: u64) -> Metric {
    let mut s = Summary::default();
    s.set_quantile(
        qs.iter()
            .map(|&(q, v)| {
                let mut x = Quantile::default();
                x.set_quantile(q);
                x.set_value(v);
                x
            })
            .collect(),
    );
    s.set_sample_sum(sum);
    s.set_sample_count(count);
    let mut m = Metric::from_label(labels(pairs));
    m.set_summary(s);
    m
}

fn histogram(pairs: &[(&str, &str)], lat: &Lat, bounds: &[f64]) -> Metric {
    let mut h = Histogram::default();
    h.set_bucket(
        lat.cumulative(bounds)
            .into_iter()
            .map(|(b, n)| {
                let mut x = Bucket::default();
                x.set_upper_bound(b);
                x.set_cumulative_count(n);
                x
            })
            .collect(),
    );
    h.set_sample_sum(lat.sum_secs());
    h.set_sample_count(lat.count());
    let mut m = Metric::from_label(labels(pairs));
    m.set_histogram(h);
    m
}

/// Collects families; empty ones are left out (the encoder refuses them).
#[derive(Default)]
struct Out(Vec<MetricFamily>);

impl Out {
    fn add(&mut self, name: &str, help: &str, t: MetricType, metrics: Vec<Metric>) {
        if metrics.is_empty() {
            return;
        }
        let mut f = MetricFamily::default();
        f.set_name(name.to_string());
        f.set_help(help.to_string());
        f.set_field_type(t);
        f.set_metric(metrics);
        self.0.push(f);
    }

    fn counters(&mut self, name: &str, help: &str, m: Vec<Metric>) {
        self.add(name, help, MetricType::COUNTER, m);
    }

    fn gauges(&mut self, name: &str, help: &str, m: Vec<Metric>) {
        self.add(name, help, MetricType::GAUGE, m);
    }

    /// A latency histogram and its quantile gauges (`<name>_quantile`).
    fn latency(&mut self, name: &str, help: &str, series: &[(Vec<(&str, &str)>, &Lat)], b: &[f64]) {
        let h = series.iter().map(|(l, lat)| histogram(l, lat, b)).collect();
        self.add(name, help, MetricType::HISTOGRAM, h);
        let mut q = Vec::new();
        for (l, lat) in series {
            for (v, s) in QUANTILES {
                let mut ls = l.clone();
                ls.push(("quantile", s));
                q.push(gauge(&ls, lat.quantile_secs(v)));
            }
        }
        self.gauges(
            &format!("{name}_quantile"),
            &format!("{help} (p50, p90, p99, p999 since start)"),
            q,
        );
    }
}

/// Exporter rows merged over all workers: by router, and traffic by (router, local address).
#[derive(Default)]
struct Merged {
    routers: BTreeMap<Option<IpAddr>, ExporterRow>,
    traffic: BTreeMap<(Option<IpAddr>, Option<SocketAddr>), ExporterRow>,
}

impl Merged {
    fn add(&mut self, row: &ExporterRow, local: Option<SocketAddr>, max: usize) {
        // a router beyond the limit over all workers folds into `other` too
        let known = self.routers.contains_key(&row.ip);
        let key = if known || self.routers.len() < max || row.ip.is_none() {
            row.ip
        } else {
            None
        };
        self.routers
            .entry(key)
            .or_insert_with(|| ExporterRow {
                ip: key,
                ..ExporterRow::default()
            })
            .merge(row);
        let t = self
            .traffic
            .entry((key, local))
            .or_insert_with(|| ExporterRow {
                ip: key,
                ..ExporterRow::default()
            });
        t.port = row.port;
        for (a, b) in t.traffic.iter_mut().zip(row.traffic.iter()) {
            a.packets += b.packets;
            a.bytes += b.bytes;
            a.sizes.merge(&b.sizes);
        }
    }
}

fn router_name(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "other".to_string(), |i| i.to_string())
}

/// Renders `/metrics`. Holds the time of the last render for `coreflow_scrape_seconds`.
#[derive(Default)]
pub struct Renderer {
    last_seconds: f64,
}

impl Renderer {
    pub fn render(&mut self, src: &Sources) -> String {
        let t0 = Instant::now();
        let fams = families(src, self.last_seconds);
        let mut out = String::with_capacity(1 << 16);
        if let Err(e) = TextEncoder::new().encode_utf8(&fams, &mut out) {
            crate::log_error!("metrics: encode: {e}");
        }
        self.last_seconds = t0.elapsed().as_secs_f64();
        out
    }
}

/// Accounting totals over all workers and the output (what `coreflow_records_*` show).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accounting {
    pub flows: u64,
    pub decode_errors: [u64; DecodeReason::COUNT],
    pub truncated: u64,
    /// Datagrams refused by an allowlist.
    pub rejected: u64,
    pub kernel_drops: u64,
    pub channel_dropped: u64,
    pub delivered: u64,
    pub failed: [u64; FAIL_REASONS.len()],
    pub output_dropped: u64,
}

impl Accounting {
    pub fn read(
        workers: &[Arc<WorkerCounters>],
        out: &crate::telemetry::counters::OutputStats,
    ) -> Accounting {
        let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let mut a = Accounting::default();
        for w in workers {
            a.flows += w.flows.iter().map(g).sum::<u64>();
            for (x, y) in a.decode_errors.iter_mut().zip(w.decode_errors.iter()) {
                *x += g(y);
            }
            a.truncated += g(&w.truncated);
            a.rejected += g(&w.rejected);
            a.kernel_drops += g(&w.kernel_drops);
            a.channel_dropped += g(&w.messages_dropped);
        }
        a.delivered = g(&out.delivered);
        for (x, y) in a.failed.iter_mut().zip(out.failed.iter()) {
            *x = g(y);
        }
        a.output_dropped = g(&out.dropped);
        a
    }

    /// Flows decoded plus every unit that could not be decoded (a datagram the kernel
    /// dropped, a truncated datagram, a datagram, set or record refused by the decoder).
    pub fn received(&self) -> u64 {
        self.flows
            + self.decode_errors.iter().sum::<u64>()
            + self.truncated
            + self.rejected
            + self.kernel_drops
    }

    pub fn dropped(&self) -> u64 {
        self.decode_errors.iter().sum::<u64>()
            + self.truncated
            + self.rejected
            + self.kernel_drops
            + self.channel_dropped
            + self.failed.iter().sum::<u64>()
            + self.output_dropped
    }

    /// Flows decoded and not yet delivered or lost (in a batch or in the sink's queue).
    pub fn in_flight(&self) -> u64 {
        self.received()
            .saturating_sub(self.delivered + self.dropped())
    }
}

fn families(src: &Sources, last_scrape: f64) -> Vec<MetricFamily> {
    let mut o = Out::default();
    let snaps: Vec<Arc<WorkerSnapshot>> = src.workers.iter().map(|w| w.snapshot.get()).collect();
    let g = WorkerCounters::get;

    // ---- GoFlow: traffic, decoders, NetFlow and sFlow processing ----
    let mut merged = Merged::default();
    for (w, s) in src.workers.iter().zip(&snaps) {
        for row in &s.exporters {
            merged.add(row, w.local, src.max_exporters);
        }
    }
    let (mut bytes, mut packets, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for ((ip, local), row) in &merged.traffic {
        let rip = router_name(*ip);
        let rport = row.port.to_string();
        let lip = local.map(|a| a.ip().to_string()).unwrap_or_default();
        let lport = local.map(|a| a.port().to_string()).unwrap_or_default();
        for (k, t) in row.traffic.iter().enumerate() {
            if t.packets == 0 {
                continue;
            }
            let l = [
                ("remote_ip", rip.as_str()),
                ("remote_port", rport.as_str()),
                ("local_ip", lip.as_str()),
                ("local_port", lport.as_str()),
                ("type", KINDS[k]),
            ];
            bytes.push(counter(&l, t.bytes as f64));
            packets.push(counter(&l, t.packets as f64));
            let qs: Vec<(f64, f64)> = GOFLOW_QUANTILES
                .iter()
                .map(|&q| (q, t.sizes.quantile(q)))
                .collect();
            sizes.push(summary(&l, &qs, t.sizes.sum() as f64, t.sizes.count()));
        }
    }
    o.counters(
        "flow_traffic_bytes",
        "Bytes received by the application.",
        bytes,
    );
    o.counters(
        "flow_traffic_packets",
        "Packets received by the application.",
        packets,
    );
    o.add(
        "flow_traffic_summary_size_bytes",
        "Summary of packet size.",
        MetricType::SUMMARY,
        sizes,
    );

    let (mut dcount, mut derr) = (Vec::new(), Vec::new());
    let mut dtime: [Lat; GoflowKind::COUNT] = Default::default();
    for (w, s) in src.workers.iter().zip(&snaps) {
        let id = w.id.to_string();
        for k in 0..3 {
            let l = [("worker", id.as_str()), ("name", KINDS[k])];
            if s.decoder_ok[k] > 0 {
                dcount.push(counter(&l, s.decoder_ok[k] as f64));
            }
            if s.decoder_errors[k] > 0 {
                derr.push(counter(&l, s.decoder_errors[k] as f64));
            }
            dtime[k].merge(&s.decode[k]);
        }
    }
    o.counters("flow_decoder_count", "Decoder processed count.", dcount);
    o.counters(
        "flow_decoder_error_count",
        "Decoder processed error count.",
        derr,
    );
    let mut dsum = Vec::new();
    for (k, lat) in dtime.iter().enumerate() {
        if lat.count() == 0 {
            continue;
        }
        let qs: Vec<(f64, f64)> = GOFLOW_QUANTILES
            .iter()
            .map(|&q| (q, lat.quantile_secs(q) * 1e6))
            .collect();
        dsum.push(summary(
            &[("name", KINDS[k])],
            &qs,
            lat.sum_secs() * 1e6,
            lat.count(),
        ));
    }
    o.add(
        "flow_summary_decoding_time_us",
        "Decoding time summary.",
        MetricType::SUMMARY,
        dsum,
    );

    let mut nf_count = Vec::new();
    let mut nf_err = Vec::new();
    let mut fs_rec = Vec::new();
    let mut fs_sum = Vec::new();
    let mut delay = Vec::new();
    let mut tpl = Vec::new();
    let mut sf_count = Vec::new();
    let mut sf_err = Vec::new();
    let mut sf_samples = Vec::new();
    let mut sf_records = Vec::new();
    for (ip, r) in &merged.routers {
        let router = router_name(*ip);
        let rt = router.as_str();
        for (v, ver) in NF_VERSIONS.iter().enumerate() {
            if r.nf_count[v] > 0 {
                nf_count.push(counter(
                    &[("router", rt), ("version", ver)],
                    r.nf_count[v] as f64,
                ));
            }
            let d = &r.delay_ms[v];
            if d.count() > 0 {
                let qs: Vec<(f64, f64)> = GOFLOW_QUANTILES
                    .iter()
                    .map(|&q| (q, d.quantile(q) / 1e3))
                    .collect();
                delay.push(summary(
                    &[("router", rt), ("version", ver)],
                    &qs,
                    d.sum() as f64 / 1e3,
                    d.count(),
                ));
            }
        }
        for (i, e) in NF_ERRORS.iter().enumerate() {
            if r.nf_errors[i] > 0 {
                nf_err.push(counter(
                    &[("router", rt), ("error", e)],
                    r.nf_errors[i] as f64,
                ));
            }
        }
        for (vi, ver) in ["9", "10"].iter().enumerate() {
            for (k, kind) in DatagramSummary::SET_KINDS.iter().enumerate() {
                let l = [("router", rt), ("version", ver), ("type", kind)];
                if r.flowsets[vi][k] > 0 {
                    fs_sum.push(counter(&l, r.flowsets[vi][k] as f64));
                }
                if r.flowset_records[vi][k] > 0 {
                    fs_rec.push(counter(&l, r.flowset_records[vi][k] as f64));
                }
            }
        }
        for (t, n) in &r.templates {
            let (ver, dom, id) = (
                t.version.to_string(),
                t.domain.to_string(),
                t.id.to_string(),
            );
            tpl.push(counter(
                &[
                    ("router", rt),
                    ("version", ver.as_str()),
                    ("obs_domain_id", dom.as_str()),
                    ("template_id", id.as_str()),
                    (
                        "type",
                        if t.options {
                            "options_template"
                        } else {
                            "template"
                        },
                    ),
                ],
                *n as f64,
            ));
        }
        for (i, e) in SF_ERRORS.iter().enumerate() {
            if r.sf_errors[i] > 0 {
                sf_err.push(counter(
                    &[("router", rt), ("error", e)],
                    r.sf_errors[i] as f64,
                ));
            }
        }
        for a in &r.agents {
            let agent = a.agent.map_or_else(|| rt.to_string(), |x| x.to_string());
            let l = [("router", rt), ("agent", agent.as_str()), ("version", "5")];
            if a.datagrams > 0 {
                sf_count.push(counter(&l, a.datagrams as f64));
            }
            for (k, kind) in DatagramSummary::SAMPLE_KINDS.iter().enumerate() {
                let l = [
                    ("router", rt),
                    ("agent", agent.as_str()),
                    ("version", "5"),
                    ("type", kind),
                ];
                if a.samples[k] > 0 {
                    sf_samples.push(counter(&l, a.samples[k] as f64));
                }
                if a.sample_records[k] > 0 {
                    sf_records.push(counter(&l, a.sample_records[k] as f64));
                }
            }
        }
    }
    o.counters("flow_process_nf_count", "NetFlows processed.", nf_count);
    o.counters(
        "flow_process_nf_errors_count",
        "NetFlows processed errors.",
        nf_err,
    );
    o.counters(
        "flow_process_nf_flowset_records_sum",
        "NetFlows FlowSets sum of records.",
        fs_rec,
    );
    o.counters(
        "flow_process_nf_flowset_sum",
        "NetFlows FlowSets sum.",
        fs_sum,
    );
    o.counters(
        "flow_process_nf_templates_count",
        "NetFlows Template count.",
        tpl,
    );
    o.add(
        "flow_process_nf_delay_summary_seconds",
        "NetFlows time difference between time of flow and processing.",
        MetricType::SUMMARY,
        delay,
    );
    o.counters("flow_process_sf_count", "sFlows processed.", sf_count);
    o.counters(
        "flow_process_sf_errors_count",
        "sFlows processed errors.",
        sf_err,
    );
    o.counters(
        "flow_process_sf_samples_sum",
        "SFlows samples sum.",
        sf_samples,
    );
    o.counters(
        "flow_process_sf_samples_records_sum",
        "SFlows samples sum of records.",
        sf_records,
    );

    // ---- coreflow: per worker ----
    let mut per_worker: Vec<(&str, &str, Vec<Metric>)> = vec![
        ("coreflow_datagrams_total", "Datagrams read from the socket (truncated ones included).", vec![]),
        ("coreflow_received_bytes_total", "Payload bytes read from the socket.", vec![]),
        ("coreflow_kernel_drops_total", "Datagrams the kernel dropped because the socket's receive queue was full (SO_RXQ_OVFL).", vec![]),
        ("coreflow_truncated_datagrams_total", "Datagrams larger than receive.max_datagram (MSG_TRUNC): dropped, never parsed.", vec![]),
        ("coreflow_rejected_datagrams_total", "Datagrams from sources outside the listener's allowlist (netflow.allow, sflow.allow): dropped, never parsed.", vec![]),
        ("coreflow_recv_errors_total", "recvmmsg calls that failed.", vec![]),
        ("coreflow_template_misses_total", "NetFlow v9/IPFIX data sets dropped because their template was unknown.", vec![]),
        ("coreflow_templates_learned_total", "Templates learned (new or redefined), data and options.", vec![]),
        ("coreflow_batches_sent_total", "Batches handed to the output thread.", vec![]),
        ("coreflow_batches_dropped_total", "Batches dropped because the output channel was full.", vec![]),
        ("coreflow_batches_allocated_total", "Batches allocated (start-up pool plus growth while the output lagged).", vec![]),
    ];
    let mut decoded = Vec::new();
    let mut flows = Vec::new();
    let mut errors = Vec::new();
    let mut limits = Vec::new();
    let mut up = Vec::new();
    let mut held_t = Vec::new();
    let mut held_e = Vec::new();
    let mut counter_records = Vec::new();
    let mut expired = Vec::new();
    for (w, s) in src.workers.iter().zip(&snaps) {
        let c = &w.counters;
        let id = w.id.to_string();
        let l = [("worker", id.as_str()), ("listener", w.listener.label())];
        let vals = [
            g(&c.datagrams),
            g(&c.bytes),
            g(&c.kernel_drops),
            g(&c.truncated),
            g(&c.rejected),
            g(&c.recv_errors),
            g(&c.records_without_template),
            g(&c.templates_learned),
            g(&c.batches_sent),
            g(&c.batches_dropped),
            g(&c.batches_allocated),
        ];
        for (slot, v) in per_worker.iter_mut().zip(vals) {
            slot.2.push(counter(&l, v as f64));
        }
        for (p, name) in Protocol::LABELS.iter().enumerate() {
            let l = [("worker", id.as_str()), ("protocol", name)];
            decoded.push(counter(&l, g(&c.decoded[p]) as f64));
            flows.push(counter(&l, g(&c.flows[p]) as f64));
        }
        for (i, reason) in DecodeError::REASONS.iter().enumerate() {
            let v = g(&c.decode_errors[i]);
            if v > 0 {
                errors.push(counter(
                    &[("worker", id.as_str()), ("reason", reason)],
                    v as f64,
                ));
            }
        }
        for (i, k) in LimitKind::ALL.iter().enumerate() {
            let v = s.stats.limits[i];
            if v > 0 {
                limits.push(counter(
                    &[("worker", id.as_str()), ("limit", k.label())],
                    v as f64,
                ));
            }
        }
        let alive = !w.exited.load(Ordering::Relaxed);
        up.push(gauge(&l, if alive { 1.0 } else { 0.0 }));
        held_t.push(gauge(&l, s.templates_held as f64));
        held_e.push(gauge(&l, s.exporters_held as f64));
        counter_records.push(counter(&l, s.stats.counter_records as f64));
        expired.push(counter(&l, s.stats.templates_expired as f64));
    }
    for (name, help, m) in per_worker {
        o.counters(name, help, m);
    }
    o.counters(
        "coreflow_decoded_datagrams_total",
        "Datagrams decoded, by protocol.",
        decoded,
    );
    o.counters(
        "coreflow_flows_decoded_total",
        "Flows decoded (one output message each), by protocol.",
        flows,
    );
    o.counters(
        "coreflow_decode_errors_total",
        "Datagrams, sets or records the decoder refused, by reason (one unit each).",
        errors,
    );
    o.counters(
        "coreflow_decode_limits_total",
        "Configured limits hit, by limit.",
        limits,
    );
    o.counters(
        "coreflow_templates_expired_total",
        "Templates dropped after limits.template_idle_timeout_s without being re-sent or used.",
        expired,
    );
    o.counters(
        "coreflow_sflow_counter_records_total",
        "sFlow counter records decoded.",
        counter_records,
    );
    o.gauges("coreflow_worker_up", "1 while the worker thread runs.", up);
    sequence::families(&mut o, src, &merged.routers);
    cluster::families(&mut o, src);
    o.gauges(
        "coreflow_templates",
        "Templates held (all exporters).",
        held_t,
    );
    o.gauges(
        "coreflow_exporters",
        "Exporters held in the template cache.",
        held_e,
    );

    // ---- coreflow: output ----
    let out = &src.output;
    let sink = [("sink", src.sink)];
    let ga = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
    o.counters(
        "coreflow_output_produced_total",
        "Messages given to the sink.",
        vec![counter(&sink, ga(&out.produced))],
    );
    o.counters(
        "coreflow_output_delivered_total",
        "Messages the sink confirmed (file: written; Kafka: acknowledged).",
        vec![counter(&sink, ga(&out.delivered))],
    );
    o.counters(
        "coreflow_output_failed_total",
        "Messages the sink failed to deliver, by reason.",
        FAIL_REASONS
            .iter()
            .zip(out.failed.iter())
            .map(|(r, a)| counter(&[("sink", src.sink), ("reason", r)], ga(a)))
            .collect(),
    );
    o.counters(
        "coreflow_output_connection_errors_total",
        "Errors of the sink's connection, retried by the sink (Kafka: auth, tls, transport).",
        ConnectReason::ALL
            .iter()
            .zip(out.connection_errors.iter())
            .map(|(r, a)| counter(&[("sink", src.sink), ("reason", r.label())], ga(a)))
            .collect(),
    );
    o.counters(
        "coreflow_output_queue_full_total",
        "Times the sink refused a message because its queue was full (Kafka QueueFull).",
        vec![counter(&sink, ga(&out.queue_full))],
    );
    o.counters(
        "coreflow_output_dropped_total",
        "Messages given up without an error (e.g. at the shutdown timeout).",
        vec![counter(&sink, ga(&out.dropped))],
    );
    o.counters(
        "coreflow_output_bytes_total",
        "Bytes of delivered messages.",
        vec![counter(&sink, ga(&out.bytes))],
    );
    o.gauges(
        "coreflow_output_in_flight",
        "Messages given to the sink and not yet delivered or failed.",
        vec![gauge(&sink, out.in_flight() as f64)],
    );
    o.gauges(
        "coreflow_output_queue_depth",
        "Batches waiting in the worker -> output channel.",
        vec![gauge(&[], src.queued() as f64)],
    );
    o.gauges(
        "coreflow_output_queue_capacity",
        "Capacity of the worker -> output channel (batch.channel).",
        vec![gauge(&[], src.queue_capacity as f64)],
    );
    // ---- coreflow: each Kafka producer (kafka.producers) ----
    if !src.producers.is_empty() {
        let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
        let ids: Vec<String> = (0..src.producers.len()).map(|i| i.to_string()).collect();
        let (mut messages, mut records, mut in_flight, mut backing_off) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (k, id) in src.producers.iter().zip(&ids) {
            let p = id.as_str();
            let lost = k.failed_total() + k.dropped_queue_full.load(Ordering::Relaxed);
            for (outcome, v) in [
                ("produced", g(&k.produced)),
                ("delivered", g(&k.delivered)),
                ("failed", lost as f64),
                ("dropped_shutdown", g(&k.dropped_shutdown)),
            ] {
                messages.push(counter(&[("producer", p), ("outcome", outcome)], v));
            }
            for (outcome, v) in [
                ("produced", g(&k.records_produced)),
                ("delivered", g(&k.records_delivered)),
            ] {
                records.push(counter(&[("producer", p), ("outcome", outcome)], v));
            }
            in_flight.push(gauge(&[("producer", p)], g(&k.in_flight)));
            backing_off.push(gauge(&[("producer", p)], g(&k.backing_off)));
        }
        o.counters(
            "coreflow_kafka_messages_total",
            "Flows (and sFlow counter records) per Kafka producer: produced, delivered, failed (failed or dropped on a full queue), dropped_shutdown.",
            messages,
        );
        o.counters(
            "coreflow_kafka_records_total",
            "Kafka records per producer (per-flow: one per flow; batched: many flows each), produced and delivered.",
            records,
        );
        o.gauges(
            "coreflow_kafka_in_flight",
            "Flows inside each producer's librdkafka queue, not yet delivered or failed.",
            in_flight,
        );
        o.gauges(
            "coreflow_kafka_backing_off",
            "1 while the producer's output thread waits for room in a full librdkafka queue.",
            backing_off,
        );
    }
    let health = src.health();
    o.gauges(
        "coreflow_up",
        "1 when /healthz answers 200.",
        vec![gauge(&[], if health.is_ok() { 1.0 } else { 0.0 })],
    );

    // ---- accounting ----
    let counters: Vec<Arc<WorkerCounters>> =
        src.workers.iter().map(|w| w.counters.clone()).collect();
    let a = Accounting::read(&counters, out);
    o.counters(
        "coreflow_records_received_total",
        "Flows decoded plus every unit that could not be decoded: received = published + dropped + in flight.",
        vec![counter(&[], a.received() as f64)],
    );
    o.counters(
        "coreflow_records_published_total",
        "Flows the sink delivered.",
        vec![counter(&[], a.delivered as f64)],
    );
    let mut dropped = vec![
        counter(
            &[("stage", "kernel"), ("reason", "socket_overflow")],
            a.kernel_drops as f64,
        ),
        counter(
            &[("stage", "receive"), ("reason", "truncated")],
            a.truncated as f64,
        ),
        counter(
            &[("stage", "receive"), ("reason", "rejected")],
            a.rejected as f64,
        ),
    ];
    for (i, r) in DecodeError::REASONS.iter().enumerate() {
        dropped.push(counter(
            &[("stage", "decode"), ("reason", r)],
            a.decode_errors[i] as f64,
        ));
    }
    dropped.push(counter(
        &[("stage", "channel"), ("reason", "queue_full")],
        a.channel_dropped as f64,
    ));
    for (i, r) in FAIL_REASONS.iter().enumerate() {
        dropped.push(counter(
            &[("stage", "output"), ("reason", r)],
            a.failed[i] as f64,
        ));
    }
    dropped.push(counter(
        &[("stage", "output"), ("reason", "dropped")],
        a.output_dropped as f64,
    ));
    o.counters(
        "coreflow_records_dropped_total",
        "Records lost, by stage and reason (kernel and receive: datagrams; decode: datagrams, sets or records; channel and output: flows).",
        dropped,
    );
    o.gauges(
        "coreflow_records_in_flight",
        "Flows decoded and not yet delivered or dropped (in a batch, the channel or the sink's queue).",
        vec![gauge(&[], a.in_flight() as f64)],
    );

    // ---- latency ----
    let mut dec_series = Vec::new();
    for (k, lat) in dtime.iter().enumerate() {
        if lat.count() > 0 {
            dec_series.push((vec![("type", KINDS[k])], lat));
        }
    }
    o.latency(
        "coreflow_decode_seconds",
        "Decode time per datagram",
        &dec_series,
        &DECODE_BUCKETS,
    );
    let ol = src.output_latency();
    o.latency(
        "coreflow_receive_to_output_seconds",
        "Kernel receive time -> the output thread takes the batch, per flow",
        &[(vec![("sink", src.sink)], &ol.to_output)],
        &PIPELINE_BUCKETS,
    );
    o.latency(
        "coreflow_receive_to_delivery_seconds",
        "Kernel receive time -> the sink confirmed delivery, per flow",
        &[(vec![("sink", src.sink)], &ol.to_delivery)],
        &PIPELINE_BUCKETS,
    );

    o.gauges("coreflow_metrics_exporters_limit", "Exporters with their own label values (metrics.max_exporters); the rest are router=\"other\".", vec![gauge(&[], src.max_exporters as f64)]);
    o.gauges(
        "coreflow_scrape_seconds",
        "Time the previous /metrics scrape took to render.",
        vec![gauge(&[], last_scrape)],
    );
    o.gauges(
        "coreflow_uptime_seconds",
        "Seconds since start.",
        vec![gauge(&[], src.started.elapsed().as_secs_f64())],
    );
    identity::families(&mut o, src);
    o.0
}
