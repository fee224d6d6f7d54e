//! Wires the cluster thread (`cluster.templates_topic`, see `crate::cluster`) into the
//! collector: its Kafka clients are created with the other settings checks, before any socket
//! (a bad setting exits 2); each NetFlow worker gets a [`WorkerLink`] and the thread a
//! [`Route`] per socket group, so a record reaches the worker its exporter steers to; the
//! start waits for the topic's initial load before telling systemd it is ready.

use crate::cli::Settings;
use crate::cluster::record::Record;
use crate::cluster::{ClusterStats, WorkerLink, INBOUND_CAPACITY, OUTBOUND_CAPACITY};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "kafka")]
use crate::cluster::client::{Clients, Cluster, ClusterConfig, Route};

/// Why the cluster could not start: a setting (exit 2) or the machine (exit 1).
#[derive(Debug)]
pub enum RunError {
    Config(crate::error::ConfigError),
    Runtime(anyhow::Error),
}

/// The cluster before its thread starts: the clients, the channels, the routes being built.
pub struct Wiring {
    pub stats: Arc<ClusterStats>,
    pub topic: String,
    instance: Arc<str>,
    tx: Sender<Record>,
    rx: Receiver<Record>,
    #[cfg(feature = "kafka")]
    clients: Clients,
    #[cfg(feature = "kafka")]
    routes: Vec<Route>,
    load_timeout: Duration,
}

/// The running cluster thread.
pub struct Running {
    pub stats: Arc<ClusterStats>,
    pub topic: String,
    #[cfg(feature = "kafka")]
    cluster: Cluster,
    load_timeout: Duration,
}

/// The clients of the templates topic, when one is configured.
pub fn prepare(settings: &Settings) -> Result<Option<Wiring>, RunError> {
    let Some(topic) = settings.cluster.templates_topic.clone() else {
        return Ok(None);
    };
    let instance: Arc<str> = Arc::from(settings.cluster.instance_name());
    let stats = Arc::new(ClusterStats::default());
    let (tx, rx) = crossbeam_channel::bounded::<Record>(OUTBOUND_CAPACITY);
    #[cfg(feature = "kafka")]
    {
        let clients =
            Clients::open(&settings.kafka, &instance, stats.clone()).map_err(|e| match e {
                crate::sink::kafka::producer::OpenError::Config(e) => RunError::Config(e),
                crate::sink::kafka::producer::OpenError::Resolve(e) => {
                    RunError::Runtime(anyhow::anyhow!("cluster: {e}"))
                }
            })?;
        crate::log_info!(
            "cluster: instance {instance}, templates topic {topic} on {}",
            clients.describe()
        );
        Ok(Some(Wiring {
            stats,
            topic,
            instance,
            tx,
            rx,
            clients,
            routes: Vec::new(),
            load_timeout: settings.cluster.load_timeout,
        }))
    }
    #[cfg(not(feature = "kafka"))]
    {
        let _ = (instance, stats, tx, rx);
        Err(RunError::Config(crate::error::ConfigError::new(
            "cluster.templates_topic",
            format!("{topic}: this build has no Kafka client (feature `kafka`)"),
        )))
    }
}

impl Wiring {
    /// A new socket group of the NetFlow listener: its workers follow ([`Wiring::link`]).
    pub fn group(&mut self, steered: bool) {
        #[cfg(feature = "kafka")]
        self.routes.push(Route {
            workers: Vec::new(),
            steered,
        });
        #[cfg(not(feature = "kafka"))]
        let _ = steered;
    }

    /// The link of the next worker of the current group.
    pub fn link(&mut self) -> WorkerLink {
        let (wtx, wrx) = crossbeam_channel::bounded(INBOUND_CAPACITY);
        #[cfg(feature = "kafka")]
        if let Some(r) = self.routes.last_mut() {
            r.workers.push(wtx);
        }
        #[cfg(not(feature = "kafka"))]
        drop(wtx);
        WorkerLink::new(
            self.tx.clone(),
            wrx,
            self.stats.clone(),
            self.instance.clone(),
        )
    }

    /// Starts the thread (the workers hold their links already).
    pub fn start(self) -> Result<Running, RunError> {
        #[cfg(feature = "kafka")]
        {
            let cfg = ClusterConfig {
                topic: self.topic.clone(),
                instance: self.instance,
                load_timeout: self.load_timeout,
            };
            drop(self.tx);
            let cluster =
                Cluster::start(self.clients, cfg, self.rx, self.routes, self.stats.clone())
                    .map_err(|e| RunError::Runtime(e.into()))?;
            Ok(Running {
                stats: self.stats,
                topic: self.topic,
                cluster,
                load_timeout: self.load_timeout,
            })
        }
        #[cfg(not(feature = "kafka"))]
        {
            let _ = (self.tx, self.rx);
            Ok(Running {
                stats: self.stats,
                topic: self.topic,
                load_timeout: self.load_timeout,
            })
        }
    }
}

impl Running {
    /// Waits for the initial load (at most `cluster.load_timeout_ms`, and a little more for
    /// the thread to say so).
    pub fn wait_loaded(&self) {
        #[cfg(feature = "kafka")]
        {
            let _ = self
                .cluster
                .wait_loaded(self.load_timeout + Duration::from_secs(1));
        }
        #[cfg(not(feature = "kafka"))]
        let _ = self.load_timeout;
    }

    /// After the workers have stopped: publishes what they left (bounded), ends, and logs
    /// what it did.
    pub fn stop(self) {
        #[cfg(feature = "kafka")]
        self.cluster.stop();
        let s = &self.stats;
        let g = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let ignored: u64 = crate::cluster::Ignored::ALL
            .iter()
            .map(|&r| s.ignored(r))
            .sum();
        crate::log_info!(
            "cluster: templates topic {}: published={} delivered={} publish_dropped={} \
             consumed={} applied={} ignored={ignored}",
            self.topic,
            g(&s.published),
            g(&s.delivered),
            g(&s.publish_dropped) + g(&s.publish_failed),
            g(&s.consumed),
            g(&s.applied)
        );
    }
}
