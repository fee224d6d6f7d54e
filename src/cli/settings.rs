//! Stage two of the configuration: the validated [`Settings`] the collector runs on.
//!
//! [`Settings::from_raw`] turns a [`RawConfig`] into settings that are in range and mean
//! something, section by section (`validate_listen`, `validate_output`, `validate_limits`,
//! `validate_telemetry`), in a fixed order so that the first invalid setting is the one
//! reported. Each error names the TOML key, or `flag (key)` when a flag set it
//! ([`Origins`]). Nothing here looks at the machine; [`Settings::resolve`] checks the core
//! lists against the cores this process may use, later, at start-up and in `--check-config`.

use super::raw::RawConfig;
use crate::decode::Limits;
use crate::error::ConfigError;
use crate::logging::{Level, LogFormat};
use crate::net::socket::BindAddr;
use crate::pipeline::allow::AllowList;
use crate::sink::settings::{KafkaSettings, OutputSettings};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::labels::ListenerKind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSettings {
    pub kind: ListenerKind,
    pub enabled: bool,
    /// 0 binds a free port (logged at start).
    pub port: u16,
    /// One or more addresses, each its own SO_REUSEPORT group (at least one): `address`,
    /// `sockets` and `cores`, or the `[[<listener>.bind]]` list.
    pub binds: Vec<BindSettings>,
    /// The binds came from a `bind` list (errors and `--check-config` name them so).
    pub bind_list: bool,
    pub reuseport: bool,
    /// Exporters accepted (empty: all).
    pub allow: AllowList,
}

/// One address of a listener: its socket group and the cores of its workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindSettings {
    pub address: BindAddr,
    pub sockets: usize,
    /// As configured; `None` spreads the workers over the available cores.
    pub cores: Option<Vec<usize>>,
}

impl ListenerSettings {
    /// Workers (= sockets) over all binds.
    pub fn workers(&self) -> usize {
        self.binds.iter().map(|b| b.sockets).sum()
    }

    /// The setting that names bind `i`'s `key` (`netflow.cores`, or `netflow.bind[1].cores`
    /// when the list was used).
    pub fn bind_key(&self, i: usize, key: &str) -> String {
        if self.binds.len() == 1 && !self.bind_list {
            format!("{}.{key}", self.kind.label())
        } else {
            format!("{}.bind[{i}].{key}", self.kind.label())
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveSettings {
    /// Datagrams per recvmmsg call.
    pub batch: usize,
    /// Largest datagram accepted; larger ones are counted as truncated and dropped.
    pub max_datagram: usize,
    /// Socket receive buffer in bytes (0: kernel default).
    pub rcvbuf: usize,
    pub timestamps: bool,
    /// After a recvmmsg call that returned less than half a batch, wait this long before the
    /// next one so datagrams accumulate (fewer wake-ups per datagram at moderate rates).
    pub coalesce: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Messages per batch before it is handed to the output thread.
    pub messages: usize,
    /// Bytes per batch before it is handed over.
    pub bytes: usize,
    /// Age after which a partly filled batch is handed over (also the receive timeout).
    pub flush: Duration,
    /// Capacity of the channel to the output thread, in batches.
    pub channel: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    pub level: Level,
    pub format: LogFormat,
}

/// The metrics endpoint (GoFlow's flags plus the exporter label limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `[host]:port`; `""` or `off` disables the endpoint and the per-exporter accounting.
    pub address: String,
    pub path: String,
    pub templates_path: String,
    /// Exporters with their own label values; the rest are counted as `other`.
    pub max_exporters: usize,
    /// The exporter-toolkit web config (TLS, client CA, basic-auth users), checked when the
    /// settings are validated; `None`: plain HTTP without a password.
    pub web_config: Option<PathBuf>,
}

impl MetricsSettings {
    pub fn enabled(&self) -> bool {
        !(self.address.is_empty() || self.address == "off")
    }
}

/// Everything the collector runs on, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub netflow: ListenerSettings,
    pub sflow: ListenerSettings,
    pub receive: ReceiveSettings,
    pub batch: BatchSettings,
    pub output: OutputSettings,
    pub limits: Limits,
    /// `--state-dir`: templates and sampling rates persisted there.
    pub state_dir: Option<PathBuf>,
    pub log: LogSettings,
    pub kafka: KafkaSettings,
    pub metrics: MetricsSettings,
    pub cluster: ClusterSettings,
    /// `[[mapping]]` entries (`None`: none).
    pub mapping: Option<std::sync::Arc<crate::mapping::Mapping>>,
}

pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092,[::1]:9092";

/// Which flag (if any) set each config key, so errors name what the user typed.
#[derive(Clone, Debug, Default)]
pub struct Origins(HashMap<&'static str, String>);

impl Origins {
    /// Records that `flag` (as typed) set `key`; the last flag for a key wins.
    pub fn set(&mut self, key: &'static str, flag: impl Into<String>) {
        self.0.insert(key, flag.into());
    }

    /// `key`, or `flag (key)` when a flag set it.
    fn name(&self, key: &'static str) -> String {
        match self.0.get(key) {
            Some(flag) => format!("{flag} ({key})"),
            None => key.to_string(),
        }
    }
}

/// `[cluster]`: the collector's name and the shared templates topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterSettings {
    /// As configured; `None` means the host name ([`ClusterSettings::instance_name`]).
    pub instance: Option<String>,
    /// The compacted topic templates and sampling rates are shared through; `None`: off.
    pub templates_topic: Option<String>,
    /// How long the start waits for the topic to be read before reporting ready.
    pub load_timeout: Duration,
}

impl ClusterSettings {
    /// The name this collector publishes and stamps on its flows: `instance`, else the host
    /// name (`/proc/sys/kernel/hostname`), else `coreflow`.
    pub fn instance_name(&self) -> String {
        if let Some(i) = &self.instance {
            return i.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| valid_instance(h))
            .unwrap_or_else(|| "coreflow".into())
    }
}

/// An instance name: 1 to 255 bytes of letters, digits and `.-_:` (it goes into Kafka headers,
/// label values and record keys, so nothing that needs quoting).
pub fn valid_instance(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
}

/// The validation helpers every section shares: errors named after their origin, integers
/// checked against their range.
pub(super) struct V<'a> {
    pub(super) origins: &'a Origins,
}

impl V<'_> {
    pub(super) fn err(&self, key: &'static str, msg: impl Into<String>) -> ConfigError {
        ConfigError::new(self.origins.name(key), msg)
    }

    pub(super) fn int(
        &self,
        key: &'static str,
        v: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        let v = v.unwrap_or(default);
        if v < min || v > max {
            return Err(self.err(key, format!("{v} is out of range ({min} to {max})")));
        }
        Ok(v)
    }
}

impl Settings {
    /// Validates the raw configuration (no access to the machine: see [`Settings::resolve`]).
    pub fn from_raw(raw: &RawConfig, origins: &Origins) -> Result<Settings, ConfigError> {
        let v = V { origins };
        let (netflow, sflow) = v.listeners(raw)?;
        let receive = v.receive(&raw.receive)?;
        let batch = v.batch(&raw.batch)?;
        let (format, schema) = v.encoding(&raw.output)?;
        let kafka = v.kafka(&raw.kafka)?;
        let output = v.output(&raw.output, format, schema, &kafka)?;
        let limits = v.limits(&raw.limits)?;
        let state_dir = v.state_dir(raw.state_dir.as_deref())?;
        let log = v.log(&raw.log)?;
        let metrics = v.metrics(&raw.metrics)?;
        let cluster = v.cluster(&raw.cluster)?;
        let mapping = super::validate_mapping::mapping(&raw.mapping)?;
        Ok(Settings {
            netflow,
            sflow,
            receive,
            batch,
            output,
            limits,
            state_dir,
            log,
            kafka,
            metrics,
            cluster,
            mapping,
        })
    }

    /// The enabled listeners, NetFlow first.
    pub fn listeners(&self) -> impl Iterator<Item = &ListenerSettings> {
        [&self.netflow, &self.sflow]
            .into_iter()
            .filter(|l| l.enabled)
    }

    /// Checks the settings against this machine and fixes the core of every worker: the
    /// worker `i` of a bind with a core list runs on `cores[i % len]`; workers without a list
    /// are spread over the available cores in order (`auto_cores`), NetFlow's first.
    /// Returns one core list per enabled listener, in worker order (bind 0's workers first).
    pub fn resolve(&self, available: &[usize]) -> Result<Vec<Vec<usize>>, ConfigError> {
        if available.is_empty() {
            return Ok(self.listeners().map(|l| vec![0; l.workers()]).collect());
        }
        let unlisted = self
            .listeners()
            .flat_map(|l| &l.binds)
            .filter(|b| b.cores.is_none())
            .map(|b| b.sockets)
            .sum();
        let pool = auto_cores(available, unlisted);
        let mut next = 0usize;
        let mut out = Vec::new();
        for l in self.listeners() {
            let mut cores = Vec::with_capacity(l.workers());
            for (bi, b) in l.binds.iter().enumerate() {
                match &b.cores {
                    Some(list) => {
                        if let Some(bad) = list.iter().find(|c| !available.contains(c)) {
                            return Err(ConfigError::new(
                                l.bind_key(bi, "cores"),
                                format!(
                                    "core {bad} is not available here (cores {})",
                                    ranges(available)
                                ),
                            ));
                        }
                        cores.extend((0..b.sockets).map(|i| list[i % list.len()]));
                    }
                    None => cores.extend((0..b.sockets).map(|_| {
                        let c = pool[next % pool.len()];
                        next += 1;
                        c
                    })),
                }
            }
            out.push(cores);
        }
        Ok(out)
    }
}

/// The cores that workers without a core list are spread over: every available core, less
/// core 0 when there are more cores than such workers. Core 0 typically takes the interrupts
/// the kernel does not spread (and the timer, RCU and other housekeeping work pinned there),
/// so a receive worker on it competes with them; with at least as many workers as cores,
/// every core is used, as before.
pub fn auto_cores(available: &[usize], workers: usize) -> Vec<usize> {
    if available.len() > workers && available.contains(&0) {
        available.iter().copied().filter(|&c| c != 0).collect()
    } else {
        available.to_vec()
    }
}

/// `host:port`, `:port` or `[v6]:port`.
pub(super) fn looks_like_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok()
                && (host.is_empty()
                    || !host.contains(':')
                    || (host.starts_with('[') && host.ends_with(']')))
        }
        None => false,
    }
}

/// `0-3,8` for the log and errors.
pub fn ranges(ids: &[usize]) -> String {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::tests::run;

    #[test]
    fn cores_resolve() {
        let s = run("-fworkers 3 -sworkers 2");
        let c = s.resolve(&[0, 1]).unwrap();
        assert_eq!(c, vec![vec![0, 1, 0], vec![1, 0]]);
        let raw = RawConfig::from_toml("[sflow]\ncores = [5]\n", "t").unwrap();
        let s = Settings::from_raw(&raw, &Origins::default()).unwrap();
        let e = s.resolve(&[0, 1]).unwrap_err();
        assert_eq!(e.setting, "sflow.cores");
        // more cores than unlisted workers: core 0 is left out
        let s = run("-fworkers 2 -sworkers 1");
        assert_eq!(s.resolve(&[0, 1, 2, 3]).unwrap(), vec![vec![1, 2], vec![3]]);
        // as many workers as cores (or more): every core, as before
        assert_eq!(s.resolve(&[0, 1, 2]).unwrap(), vec![vec![0, 1], vec![2]]);
        // configured lists do not count and are taken as written (core 0 included)
        let raw = RawConfig::from_toml("[netflow]\ncores = [0]\n", "t").unwrap();
        let s = Settings::from_raw(&raw, &Origins::default()).unwrap();
        assert_eq!(s.resolve(&[0, 1, 2]).unwrap(), vec![vec![0], vec![1]]);
        assert_eq!(auto_cores(&[1, 2], 1), vec![1, 2]);
        assert_eq!(auto_cores(&[0, 1], 2), vec![0, 1]);
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }
}
