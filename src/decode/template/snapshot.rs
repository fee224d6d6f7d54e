//! The cache's state as values: what `--state-dir` persists ([`ExporterState`] and its parts,
//! serialized by the state-file layer above) and what `/templates` lists ([`TemplateInfo`],
//! [`SamplingInfo`]). The cache defines these shapes; the layers above only carry them.

use super::*;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One template, as the `/templates` endpoint lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TemplateInfo {
    pub exporter: IpAddr,
    pub version: u8,
    pub domain: u32,
    pub template_id: u16,
    pub options: bool,
    pub scope_fields: u16,
    pub fields: Vec<FieldSpec>,
    pub learned_ns: u64,
    /// `wire`, `state` (loaded from `--state-dir`) or `cluster` (from the templates topic).
    pub origin: &'static str,
    /// The instance that learned it, for `cluster`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// When it was applied here, for `cluster` (Unix ns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_ns: Option<u64>,
}

/// One known sampling rate (`sampler_id` None: the domain-wide rate).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SamplingInfo {
    pub exporter: IpAddr,
    pub version: u8,
    pub domain: u32,
    pub sampler_id: Option<u64>,
    pub rate: u64,
}

/// One persisted template definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedTemplate {
    /// 9 (NetFlow v9) or 10 (IPFIX).
    pub version: u8,
    pub domain: u32,
    pub id: u16,
    pub options: bool,
    pub scope_count: u16,
    pub fields: Vec<FieldSpec>,
    pub learned_ns: u64,
    #[serde(default)]
    pub used_ns: u64,
}

impl SavedTemplate {
    /// The template as the cache's learn path takes it, learned when it was first learned.
    pub(crate) fn as_learn(&self) -> Learn<'_> {
        Learn {
            version: self.version,
            domain: self.domain,
            id: self.id,
            options: self.options,
            scope_count: self.scope_count,
            fields: &self.fields,
            now_ns: self.learned_ns,
        }
    }
}

/// A domain-wide sampling rate / system init time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRate {
    pub version: u8,
    pub domain: u32,
    pub sampling_rate: u64,
    pub sys_init_ms: u64,
}

/// A sampling rate by sampler / selector id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplerRate {
    pub version: u8,
    pub domain: u32,
    pub sampler: u64,
    pub rate: u64,
}

/// Everything persisted about one exporter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExporterState {
    pub exporter: IpAddr,
    pub templates: Vec<SavedTemplate>,
    pub domains: Vec<DomainRate>,
    pub samplers: Vec<SamplerRate>,
}

/// The cache key of an exporter address.
pub fn addr_of(ip: IpAddr) -> Addr {
    match ip.to_canonical() {
        IpAddr::V4(a) => Addr::v4(a.octets()),
        IpAddr::V6(a) => Addr::v6(a.octets()),
    }
}

impl TemplateCache {
    /// Everything worth persisting, by exporter.
    pub fn snapshot(&self) -> Vec<ExporterState> {
        let mut v: Vec<ExporterState> = self
            .exporters
            .iter()
            .filter_map(|(a, e)| {
                let mut templates: Vec<SavedTemplate> = e
                    .templates
                    .values()
                    .map(|t| SavedTemplate {
                        version: t.version,
                        domain: t.domain,
                        id: t.id,
                        options: t.options,
                        scope_count: t.scope_count,
                        fields: t.fields.to_vec(),
                        learned_ns: t.learned_ns,
                        used_ns: t.used_ns,
                    })
                    .collect();
                templates.sort_by_key(|t| (t.version, t.domain, t.id));
                let mut domains: Vec<DomainRate> = e
                    .rates
                    .domains
                    .iter()
                    .map(|(&dk, d)| DomainRate {
                        version: (dk >> 32) as u8,
                        domain: dk as u32,
                        sampling_rate: d.sampling_rate,
                        sys_init_ms: d.sys_init_ms,
                    })
                    .collect();
                domains.sort_by_key(|d| (d.version, d.domain));
                let mut samplers: Vec<SamplerRate> = e
                    .rates
                    .samplers
                    .iter()
                    .map(|(&(dk, sampler), &rate)| SamplerRate {
                        version: (dk >> 32) as u8,
                        domain: dk as u32,
                        sampler,
                        rate,
                    })
                    .collect();
                samplers.sort_by_key(|s| (s.version, s.domain, s.sampler));
                Some(ExporterState {
                    exporter: a.to_ip()?,
                    templates,
                    domains,
                    samplers,
                })
            })
            .collect();
        v.sort_by_key(|e| e.exporter);
        v
    }

    /// Re-learns persisted state through the normal learn path (limits apply, their hits are
    /// counted); returns the templates learned. Their idle time starts again at `now_ns` (a
    /// refresh or a use is not persisted by itself). Does not mark the cache dirty.
    pub fn restore(
        &mut self,
        saved: &[ExporterState],
        limits: &Limits,
        stats: &mut DecodeStats,
        now_ns: u64,
    ) -> usize {
        let before = stats.templates_learned;
        let dirty = self.dirty;
        let wire = std::mem::replace(&mut self.origin, Origin::State);
        for e in saved {
            let addr = addr_of(e.exporter);
            for t in &e.templates {
                let key = tkey(t.version, t.domain, t.id);
                if !matches!(t.version, 9 | 10) {
                    continue;
                }
                self.learn(&addr, &t.as_learn(), limits, stats);
                if let Some(x) = self
                    .exporters
                    .get_mut(&addr)
                    .and_then(|x| x.templates.get_mut(&key))
                {
                    x.used_ns = t.used_ns.max(now_ns);
                }
            }
            if e.domains.is_empty() && e.samplers.is_empty() {
                continue;
            }
            let Some(x) = self.exporter_or_insert(&addr, limits, stats) else {
                continue;
            };
            let max = limits.max_templates_per_exporter;
            for d in &e.domains {
                let rate = (d.sampling_rate != 0).then_some(d.sampling_rate);
                let _ = x
                    .rates
                    .store(d.version, d.domain, None, rate, d.sys_init_ms, max);
            }
            for s in &e.samplers {
                let _ = x
                    .rates
                    .store(s.version, s.domain, Some(s.sampler), Some(s.rate), 0, max);
            }
            x.rates.dirty = false;
            x.rates.fresh = false;
            self.rates_grew(&addr, limits, stats);
        }
        self.origin = wire;
        self.dirty = dirty;
        stats.last = DatagramSummary::default();
        let n = stats.templates_learned - before;
        // loaded, not learned from the wire
        stats.templates_learned = before;
        n as usize
    }

    /// Every template held, for the `/templates` endpoint.
    pub fn templates(&self) -> Vec<TemplateInfo> {
        let mut v: Vec<TemplateInfo> = self
            .exporters
            .iter()
            .flat_map(|(a, e)| {
                e.templates.values().map(move |t| TemplateInfo {
                    exporter: a.to_ip().unwrap_or(IpAddr::from([0, 0, 0, 0])),
                    version: t.version,
                    domain: t.domain,
                    template_id: t.id,
                    options: t.options,
                    scope_fields: t.scope_count,
                    fields: t.fields.to_vec(),
                    learned_ns: t.learned_ns,
                    origin: t.origin.label(),
                    instance: t.origin.instance().map(str::to_string),
                    applied_ns: t.origin.instance().map(|_| t.origin.applied_ns()),
                })
            })
            .collect();
        v.sort_by(|a, b| {
            (a.exporter, a.version, a.domain, a.template_id).cmp(&(
                b.exporter,
                b.version,
                b.domain,
                b.template_id,
            ))
        });
        v
    }

    /// Every sampling rate known (domain-wide and per sampler id).
    pub fn sampling_rates(&self) -> Vec<SamplingInfo> {
        let mut v = Vec::new();
        for (a, e) in &self.exporters {
            let exporter = a.to_ip().unwrap_or(IpAddr::from([0, 0, 0, 0]));
            for (&dk, d) in &e.rates.domains {
                if d.sampling_rate != 0 {
                    v.push(SamplingInfo {
                        exporter,
                        version: (dk >> 32) as u8,
                        domain: dk as u32,
                        sampler_id: None,
                        rate: d.sampling_rate,
                    });
                }
            }
            for (&(dk, sid), &rate) in &e.rates.samplers {
                v.push(SamplingInfo {
                    exporter,
                    version: (dk >> 32) as u8,
                    domain: dk as u32,
                    sampler_id: Some(sid),
                    rate,
                });
            }
        }
        v.sort_by(|a, b| {
            (a.exporter, a.version, a.domain, a.sampler_id).cmp(&(
                b.exporter,
                b.version,
                b.domain,
                b.sampler_id,
            ))
        });
        v
    }
}
