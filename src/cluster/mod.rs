//! Templates and sampling rates shared between collector instances through a compacted Kafka
//! topic (`cluster.templates_topic`), so that any instance behind an anycast / ECMP / L4
//! balancer decodes any exporter from its first data datagram (docs/scaling-out.md).
//!
//! - A worker journals what the wire changed in its template cache
//!   (`decode::template::Change`) and, between receive batches, hands each change to the
//!   cluster thread with `try_send` on one bounded channel ([`WorkerLink::exchange`]): a full
//!   channel drops the change and counts it, the worker never waits.
//! - The cluster thread ([`client`]) owns a Kafka producer and a consumer. It publishes the
//!   changes ([`record`]: key = exporter, version, domain, template id or sampler; value = a
//!   `SharedRecord`, none for a tombstone), reads every partition of the topic from the
//!   beginning (no consumer group: each instance needs the whole state) and hands each record
//!   to the worker the exporter's address steers to (`net::socket::steer_index`, as the
//!   kernel's socket steering) on that worker's bounded channel.
//! - The worker applies what it finds on its channel between receive batches, through the
//!   cache's normal learn path (`[limits]` apply), without journaling it again.
//!
//! The counters are shared atomics ([`ClusterStats`]): they move when a record is published or
//! applied, never per datagram.

#[cfg(feature = "kafka")]
pub mod client;
pub mod record;

use crate::decode::template::{addr_of, Applied, Change, Origin, SavedTemplate};
use crate::decode::Decoder;
use crossbeam_channel::{Receiver, Sender};
use record::{Body, Key, Record};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Why a record read from the topic was not applied (the `reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// The worker holds the same.
    Unchanged,
    /// The worker holds something learned later, or uses the template a tombstone names.
    Stale,
    /// A `[limits]` bound refused it.
    Limit,
    /// A coreflow record that does not parse or is inconsistent.
    Malformed,
    /// Not a coreflow record.
    Foreign,
    /// Published by this instance (read back after the initial load).
    Own,
    /// The worker's channel stayed full.
    QueueFull,
}

impl Ignored {
    pub const COUNT: usize = 7;
    pub const ALL: [Ignored; Ignored::COUNT] = [
        Ignored::Unchanged,
        Ignored::Stale,
        Ignored::Limit,
        Ignored::Malformed,
        Ignored::Foreign,
        Ignored::Own,
        Ignored::QueueFull,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Ignored::Unchanged => "unchanged",
            Ignored::Stale => "stale",
            Ignored::Limit => "limit",
            Ignored::Malformed => "malformed",
            Ignored::Foreign => "foreign",
            Ignored::Own => "own",
            Ignored::QueueFull => "queue_full",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The cluster's counters and gauges, read by `/metrics` and `/healthz`.
#[derive(Debug, Default)]
pub struct ClusterStats {
    /// Records handed to the producer.
    pub published: AtomicU64,
    /// Records the broker acknowledged.
    pub delivered: AtomicU64,
    /// Records the producer gave up on (delivery failure, its queue full).
    pub publish_failed: AtomicU64,
    /// Changes dropped before the producer: a full channel from the workers, a full journal.
    pub publish_dropped: AtomicU64,
    /// Records read from the topic.
    pub consumed: AtomicU64,
    /// Records applied by a worker.
    pub applied: AtomicU64,
    ignored: [AtomicU64; Ignored::COUNT],
    /// Records behind the end of the topic, all partitions.
    pub lag: AtomicU64,
    /// The topic was read to its end once (at start, or later after a timed-out start).
    pub loaded: AtomicBool,
    /// Seconds the start's read of the topic took (0 until loaded).
    pub load_ms: AtomicU64,
    /// The last metadata request reached a broker.
    pub broker_up: AtomicBool,
    /// Since when no broker answered (clock ms, 0 while one does).
    pub broker_down_since_ms: AtomicU64,
}

impl ClusterStats {
    pub fn ignore(&self, why: Ignored) {
        self.ignored[why.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn ignored(&self, why: Ignored) -> u64 {
        self.ignored[why.index()].load(Ordering::Relaxed)
    }

    /// The `/healthz` line: the cluster never fails the check (an instance decodes with what
    /// it holds), it only says how it stands.
    pub fn health_line(&self, topic: &str) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        if !self.broker_up.load(Ordering::Relaxed) {
            let since = g(&self.broker_down_since_ms);
            let secs = if since == 0 {
                0.0
            } else {
                crate::telemetry::clock_ms_now().saturating_sub(since) as f64 / 1e3
            };
            return format!(
                "cluster: no broker reachable for the templates topic {topic} ({secs:.0} s); \
                 decoding with the templates held, publishing resumes when it returns"
            );
        }
        format!(
            "cluster: templates topic {topic}: {}, lag {}",
            if self.loaded.load(Ordering::Relaxed) {
                "loaded"
            } else {
                "loading"
            },
            g(&self.lag)
        )
    }
}

/// Records on a worker's channel at most (the cluster thread waits briefly for room): about
/// what a worker applies per loop, so records wait in librdkafka's bounded queue, not here.
pub const INBOUND_CAPACITY: usize = 1024;
/// Changes on the channel from the workers at most.
pub const OUTBOUND_CAPACITY: usize = 65_536;
/// Records a worker applies per loop at most, so a burst (the start's load) cannot hold
/// its socket for long: the rest waits for the next loop.
const APPLY_PER_LOOP: usize = 1024;

/// What a worker holds of the cluster.
pub struct WorkerLink {
    /// Changes to publish (shared by every worker).
    pub tx: Sender<Record>,
    /// Records for this worker.
    pub rx: Receiver<Record>,
    pub stats: Arc<ClusterStats>,
    /// This instance's name (on what it publishes).
    pub instance: Arc<str>,
    changes: Vec<Change>,
    journal_dropped: u64,
}

impl WorkerLink {
    pub fn new(
        tx: Sender<Record>,
        rx: Receiver<Record>,
        stats: Arc<ClusterStats>,
        instance: Arc<str>,
    ) -> WorkerLink {
        WorkerLink {
            tx,
            rx,
            stats,
            instance,
            changes: Vec::new(),
            journal_dropped: 0,
        }
    }

    /// Records wait on the channel (the worker then reads its socket without blocking).
    #[inline]
    pub fn pending(&self) -> bool {
        !self.rx.is_empty()
    }

    /// Between receive batches: publishes what the wire changed, applies what arrived.
    /// Costs one empty-vector check and one empty-channel check when nothing happened.
    #[inline]
    pub fn exchange(&mut self, dec: &mut Decoder) {
        dec.templates.take_changes(&mut self.changes);
        if !self.changes.is_empty() {
            self.publish(dec);
        }
        if !self.rx.is_empty() {
            self.apply(dec);
        }
    }

    #[cold]
    fn publish(&mut self, dec: &mut Decoder) {
        let now_ns = crate::telemetry::now_ns();
        let mut changes = std::mem::take(&mut self.changes);
        for c in changes.drain(..) {
            match c {
                Change::Learned { addr, key } => {
                    let (Some(ip), Some(t)) = (addr.to_ip(), dec.templates.saved(&addr, key))
                    else {
                        continue;
                    };
                    self.send(template_record(ip, &t, self.instance.clone()));
                }
                Change::Removed {
                    addr,
                    version,
                    domain,
                    id,
                    ..
                } => {
                    let Some(exporter) = addr.to_ip() else {
                        continue;
                    };
                    self.send(Record {
                        key: Key::Template {
                            exporter,
                            version,
                            domain,
                            id,
                        },
                        instance: self.instance.clone(),
                        learned_ns: now_ns,
                        body: None,
                    });
                }
                Change::Rates {
                    addr,
                    version,
                    domain,
                } => {
                    let Some(exporter) = addr.to_ip() else {
                        continue;
                    };
                    for (sampler, rate, sys_init_ms) in
                        dec.templates.domain_rates(&addr, version, domain)
                    {
                        self.send(Record {
                            key: Key::Rate {
                                exporter,
                                version,
                                domain,
                                sampler,
                            },
                            instance: self.instance.clone(),
                            learned_ns: now_ns,
                            body: Some(Body::Rate { rate, sys_init_ms }),
                        });
                    }
                }
            }
        }
        self.changes = changes;
        let jd = dec.templates.journal_dropped();
        if jd > self.journal_dropped {
            self.stats
                .publish_dropped
                .fetch_add(jd - self.journal_dropped, Ordering::Relaxed);
            self.journal_dropped = jd;
        }
    }

    fn send(&self, r: Record) {
        if self.tx.try_send(r).is_err() {
            self.stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[cold]
    fn apply(&mut self, dec: &mut Decoder) {
        let now_ns = crate::telemetry::now_ns();
        for r in self.rx.try_iter().take(APPLY_PER_LOOP) {
            let outcome = apply(dec, &r, now_ns);
            match outcome {
                Applied::Applied => {
                    self.stats.applied.fetch_add(1, Ordering::Relaxed);
                }
                Applied::Unchanged => self.stats.ignore(Ignored::Unchanged),
                Applied::Stale => self.stats.ignore(Ignored::Stale),
                Applied::Limit => self.stats.ignore(Ignored::Limit),
                Applied::Invalid => self.stats.ignore(Ignored::Malformed),
            }
        }
    }
}

/// The record of a template the wire taught this instance.
pub fn template_record(
    exporter: std::net::IpAddr,
    t: &SavedTemplate,
    instance: Arc<str>,
) -> Record {
    Record {
        key: Key::Template {
            exporter,
            version: t.version,
            domain: t.domain,
            id: t.id,
        },
        instance,
        learned_ns: t.learned_ns,
        body: Some(Body::Template {
            options: t.options,
            scope_count: t.scope_count,
            fields: t.fields.clone(),
        }),
    }
}

/// Applies one record to the worker's cache.
pub fn apply(dec: &mut Decoder, r: &Record, now_ns: u64) -> Applied {
    let addr = addr_of(r.key.exporter());
    let Decoder {
        templates,
        stats,
        limits,
        ..
    } = dec;
    match (r.key, &r.body) {
        (
            Key::Template {
                version,
                domain,
                id,
                ..
            },
            None,
        ) => templates.apply_removal(&addr, version, domain, id, r.learned_ns),
        (
            Key::Template {
                version,
                domain,
                id,
                ..
            },
            Some(Body::Template {
                options,
                scope_count,
                fields,
            }),
        ) => {
            let t = SavedTemplate {
                version,
                domain,
                id,
                options: *options,
                scope_count: *scope_count,
                fields: fields.clone(),
                learned_ns: r.learned_ns,
                used_ns: 0,
            };
            let origin = Origin::Cluster {
                instance: r.instance.clone(),
                applied_ns: now_ns,
            };
            templates.apply_template(&addr, &t, origin, limits, stats)
        }
        (
            Key::Rate {
                version,
                domain,
                sampler,
                ..
            },
            Some(Body::Rate { rate, sys_init_ms }),
        ) => templates.apply_rate(
            &addr,
            version,
            domain,
            sampler,
            *rate,
            *sys_init_ms,
            limits,
            stats,
        ),
        _ => Applied::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::spec::FieldSpec;
    use crate::decode::template::Learn;
    use crate::decode::Limits;
    use crate::flow::Addr;

    fn link() -> (WorkerLink, Receiver<Record>, Sender<Record>) {
        let (out_tx, out_rx) = crossbeam_channel::bounded(4);
        let (in_tx, in_rx) = crossbeam_channel::bounded(4);
        let l = WorkerLink::new(
            out_tx,
            in_rx,
            Arc::new(ClusterStats::default()),
            Arc::from("me"),
        );
        (l, out_rx, in_tx)
    }

    fn learn(dec: &mut Decoder, addr: &Addr, id: u16, n: u16) {
        let f: Vec<FieldSpec> = (0..n)
            .map(|i| FieldSpec {
                id: 1 + i,
                len: 4,
                pen: 0,
            })
            .collect();
        let Decoder {
            templates,
            stats,
            limits,
            ..
        } = dec;
        templates.learn(
            addr,
            &Learn {
                version: 10,
                domain: 2,
                id,
                options: false,
                scope_count: 0,
                fields: &f,
                now_ns: 1_000,
            },
            limits,
            stats,
        );
    }

    #[test]
    fn the_wire_is_published_and_records_applied_without_echo() {
        let mut dec = Decoder::new(Limits::default());
        dec.templates.enable_journal();
        let (mut l, out, inbound) = link();
        let a = Addr::v4([192, 0, 2, 1]);
        learn(&mut dec, &a, 256, 3);
        l.exchange(&mut dec);
        let r = out.try_recv().expect("published");
        assert_eq!(r.key.encode(), "t/192.0.2.1/10/2/256");
        assert_eq!(&*r.instance, "me");
        assert_eq!(r.learned_ns, 1_000);
        // a record of another instance: applied, and not published again
        let mut other = r.clone();
        other.key = Key::Template {
            exporter: "192.0.2.9".parse().unwrap(),
            version: 10,
            domain: 2,
            id: 300,
        };
        other.instance = Arc::from("them");
        inbound.send(other).unwrap();
        assert!(l.pending());
        l.exchange(&mut dec);
        assert!(!l.pending());
        assert!(out.try_recv().is_err(), "no echo");
        assert_eq!(l.stats.applied.load(Ordering::Relaxed), 1);
        let t = dec.templates.templates();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].origin, "cluster");
        assert_eq!(t[1].instance.as_deref(), Some("them"));
        // the same again: unchanged; a tombstone: removed; a full channel: counted
        let again = inbound.clone();
        let mut rec = t_record(&dec, "192.0.2.9", 300);
        again.send(rec.clone()).unwrap();
        rec.body = None;
        rec.learned_ns = u64::MAX / 2;
        again.send(rec).unwrap();
        l.exchange(&mut dec);
        assert_eq!(l.stats.ignored(Ignored::Unchanged), 1);
        assert_eq!(dec.templates.template_count(), 1);
        for id in 400..410 {
            learn(&mut dec, &a, id, 2);
        }
        l.exchange(&mut dec);
        assert_eq!(l.stats.publish_dropped.load(Ordering::Relaxed), 6);
    }

    fn t_record(dec: &Decoder, ip: &str, id: u16) -> Record {
        let exporter: std::net::IpAddr = ip.parse().unwrap();
        let key = crate::decode::template::tkey(10, 2, id);
        let t = dec.templates.saved(&addr_of(exporter), key).unwrap();
        template_record(exporter, &t, Arc::from("them"))
    }
}
