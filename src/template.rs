//! Shard-local NetFlow v9 / IPFIX template and sampling-rate caches (one per worker, no locks).
//!
//! Templates are keyed by (exporter IP, protocol version, observation domain / source id,
//! template id); the source port is not part of the key, so an exporter that changes its
//! port keeps its templates. Each learned template is compiled once into a decoding plan
//! (`decode::fields::Plan`); a re-sent identical template only refreshes its time, so the
//! steady state allocates nothing. Sampling rates are kept per (exporter, version, domain)
//! and per sampler/selector id within it.
//!
//! Everything is bounded by [`Limits`]: exporters (when the table is full, the least recently
//! used sixteenth is evicted in one pass), templates per exporter (the exporter's least
//! recently used template makes room), fields per template and the total wire size of all
//! templates; templates idle for `template_idle_timeout_s` expire. Every limit hit is counted
//! as `DecodeError::Limit`.

use crate::decode::fields::{Plan, SamplerRates};
use crate::decode::{DatagramSummary, DecodeError, DecodeStats, LimitKind, Limits, TemplateSeen};
use crate::flow::Addr;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

/// Template field length meaning "variable length" (RFC 7011 §7).
pub const VARLEN: u16 = 0xFFFF;

/// One field specifier as the template carried it (`pen` 0: IANA element).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FieldSpec {
    pub id: u16,
    pub len: u16,
    pub pen: u32,
}

/// A learned template and its compiled decoding plan.
#[derive(Debug)]
pub struct Template {
    pub version: u8,
    pub domain: u32,
    pub id: u16,
    pub options: bool,
    pub scope_count: u16,
    pub fields: Box<[FieldSpec]>,
    /// Receive time of the datagram that (last) carried it.
    pub learned_ns: u64,
    /// Receive time of the last data set decoded with it (0: none yet).
    pub used_ns: u64,
    pub(crate) plan: Plan,
    wire_bytes: usize,
}

/// A small fast hasher for the per-exporter maps (keys are integers and the maps are bounded
/// by `Limits`, so hash flooding cannot grow them).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type Fx = BuildHasherDefault<FxHasher>;

#[inline]
pub(crate) fn tkey(version: u8, domain: u32, id: u16) -> u64 {
    (u64::from(version) << 48) | (u64::from(domain) << 16) | u64::from(id)
}

#[inline]
fn dkey(version: u8, domain: u32) -> u64 {
    (u64::from(version) << 32) | u64::from(domain)
}

/// What the cache knows about one (exporter, version, domain).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DomainState {
    /// Last sampling rate learned from options data (or data records carrying one); 0 if none.
    pub sampling_rate: u64,
    /// systemInitTimeMilliseconds from options data (IPFIX 160), 0 if none.
    pub sys_init_ms: u64,
}

/// Per-exporter state.
#[derive(Debug, Default)]
pub struct Exporter {
    last_used: u64,
    pub(crate) templates: HashMap<u64, Template, Fx>,
    pub(crate) rates: Rates,
}

/// Sampling rates and system init times of one exporter, by domain and by sampler id.
#[derive(Debug, Default)]
pub struct Rates {
    domains: HashMap<u64, DomainState, Fx>,
    /// Sampling rate by (domain key, sampler id).
    samplers: HashMap<(u64, u64), u64, Fx>,
    /// A rate or init time changed since the state was last persisted.
    dirty: bool,
}

impl Rates {
    pub(crate) fn domain(&self, version: u8, domain: u32) -> DomainState {
        self.domains
            .get(&dkey(version, domain))
            .copied()
            .unwrap_or_default()
    }

    /// Stores a sampling rate (and/or system init time) learned for the domain and, when
    /// given, for the sampler id. Bounded: beyond `max` domains/samplers new ones are dropped.
    pub(crate) fn store(
        &mut self,
        version: u8,
        domain: u32,
        sampler: Option<u64>,
        rate: Option<u64>,
        sys_init_ms: u64,
        max: usize,
    ) {
        let dk = dkey(version, domain);
        if rate.is_some() || sys_init_ms != 0 {
            let n = self.domains.len();
            let d = match self.domains.get_mut(&dk) {
                Some(d) => Some(d),
                None if n < max => Some(self.domains.entry(dk).or_default()),
                None => None,
            };
            if let Some(d) = d {
                if let Some(r) = rate {
                    self.dirty |= d.sampling_rate != r;
                    d.sampling_rate = r;
                }
                if sys_init_ms != 0 {
                    self.dirty |= d.sys_init_ms != sys_init_ms;
                    d.sys_init_ms = sys_init_ms;
                }
            }
        }
        if let (Some(sid), Some(r)) = (sampler, rate) {
            let n = self.samplers.len();
            match self.samplers.get_mut(&(dk, sid)) {
                Some(v) => {
                    self.dirty |= *v != r;
                    *v = r;
                }
                None if n < max => {
                    self.samplers.insert((dk, sid), r);
                    self.dirty = true;
                }
                None => {}
            }
        }
    }
}

/// The sampler table of one domain, as a data set reads it.
pub(crate) struct DomainSamplers<'a> {
    map: &'a HashMap<(u64, u64), u64, Fx>,
    dk: u64,
}

impl SamplerRates for DomainSamplers<'_> {
    #[inline]
    fn rate(&self, sampler_id: u64) -> Option<u64> {
        if self.map.is_empty() {
            return None;
        }
        self.map.get(&(self.dk, sampler_id)).copied()
    }
}

impl DomainSamplers<'_> {
    pub(crate) fn new(rates: &Rates, version: u8, domain: u32) -> DomainSamplers<'_> {
        DomainSamplers {
            map: &rates.samplers,
            dk: dkey(version, domain),
        }
    }
}

/// Shard-local cache of templates and sampling rates, by exporter.
#[derive(Debug, Default)]
pub struct TemplateCache {
    exporters: HashMap<Addr, Exporter>,
    clock: u64,
    template_bytes: usize,
    /// Templates learned, replaced or removed since the state was last persisted.
    dirty: bool,
    /// Templates dropped after `Limits::template_idle_timeout_s` without use.
    pub(crate) expired: u64,
    /// Reused buffer for the field list of the template being read.
    pub(crate) scratch: Vec<FieldSpec>,
}

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

/// What a template set asks the cache to do with one template record.
pub(crate) struct Learn<'a> {
    pub version: u8,
    pub domain: u32,
    pub id: u16,
    pub options: bool,
    pub scope_count: u16,
    pub fields: &'a [FieldSpec],
    pub now_ns: u64,
}

impl TemplateCache {
    /// Number of exporters held.
    pub fn exporter_count(&self) -> usize {
        self.exporters.len()
    }

    /// Number of templates held, all exporters.
    pub fn template_count(&self) -> usize {
        self.exporters.values().map(|e| e.templates.len()).sum()
    }

    /// Sum of the wire sizes of the templates held.
    pub fn template_bytes(&self) -> usize {
        self.template_bytes
    }

    /// The exporter's state, if it has any (marks it used).
    #[inline]
    pub(crate) fn exporter_mut(&mut self, addr: &Addr) -> Option<&mut Exporter> {
        self.clock += 1;
        let e = self.exporters.get_mut(addr)?;
        e.last_used = self.clock;
        Some(e)
    }

    /// The exporter's state, created if new; when `max_exporters` are held, the least
    /// recently used one is evicted (and the hit counted).
    pub(crate) fn exporter_or_insert(
        &mut self,
        addr: &Addr,
        limits: &Limits,
        stats: &mut DecodeStats,
    ) -> Option<&mut Exporter> {
        if !self.exporters.contains_key(addr) {
            if limits.max_exporters == 0 {
                stats.count(DecodeError::Limit(LimitKind::Exporters));
                return None;
            }
            if self.exporters.len() >= limits.max_exporters {
                stats.count(DecodeError::Limit(LimitKind::Exporters));
                self.evict_lru(limits.max_exporters);
            }
            self.exporters.insert(*addr, Exporter::default());
        }
        self.exporter_mut(addr)
    }

    /// Evicts the least recently used exporters: 1/16 of the table in one pass over it, so
    /// that a flood of new exporters costs amortized O(1) per exporter, not a scan each.
    fn evict_lru(&mut self, max: usize) {
        let n = (max / 16).max(1);
        let mut stamps: Vec<u64> = self.exporters.values().map(|e| e.last_used).collect();
        if stamps.is_empty() {
            return;
        }
        let k = n.min(stamps.len()) - 1;
        let (_, &mut cut, _) = stamps.select_nth_unstable(k);
        let mut freed = 0;
        let mut left = n;
        self.exporters.retain(|_, e| {
            let evict = left > 0 && e.last_used <= cut;
            if evict {
                left -= 1;
                freed += e.templates.values().map(|t| t.wire_bytes).sum::<usize>();
            }
            !evict
        });
        self.template_bytes -= freed;
        self.dirty = true;
    }

    /// Learns (or refreshes, or replaces) one template. Refusals are counted in `stats`.
    pub(crate) fn learn(
        &mut self,
        addr: &Addr,
        t: &Learn<'_>,
        limits: &Limits,
        stats: &mut DecodeStats,
    ) {
        stats.last.template(TemplateSeen {
            version: t.version,
            domain: t.domain,
            id: t.id,
            options: t.options,
        });
        let kind = if t.options {
            DatagramSummary::SET_OPTIONS_TEMPLATE
        } else {
            DatagramSummary::SET_TEMPLATE
        };
        stats.last.set_records[kind] += 1;
        if t.fields.len() > limits.max_fields_per_template {
            stats.count(DecodeError::Limit(LimitKind::FieldsPerTemplate));
            return;
        }
        let key = tkey(t.version, t.domain, t.id);
        let Some(exp) = self.exporter_or_insert(addr, limits, stats) else {
            return;
        };
        if let Some(old) = exp.templates.get_mut(&key) {
            if old.options == t.options
                && old.scope_count == t.scope_count
                && *old.fields == *t.fields
            {
                old.learned_ns = t.now_ns;
                return;
            }
        } else if exp.templates.len() >= limits.max_templates_per_exporter {
            // the exporter's least recently used (re-sent or used) template makes room
            stats.count(DecodeError::Limit(LimitKind::TemplatesPerExporter));
            let victim = exp
                .templates
                .iter()
                .min_by_key(|(_, t)| t.learned_ns.max(t.used_ns))
                .map(|(k, _)| *k);
            let Some(old) = victim.and_then(|k| exp.templates.remove(&k)) else {
                return;
            };
            self.template_bytes -= old.wire_bytes;
            self.dirty = true;
        }
        let plan = match Plan::build(
            t.fields,
            t.options,
            t.scope_count as usize,
            t.version == 9,
            t.id,
        ) {
            Ok(p) => p,
            Err(e) => {
                stats.count(e);
                return;
            }
        };
        let wire_bytes = 4
            + if t.options { 2 } else { 0 }
            + t.fields
                .iter()
                .map(|f| if f.pen != 0 { 8 } else { 4 })
                .sum::<usize>();
        let old_bytes = self
            .exporters
            .get(addr)
            .and_then(|e| e.templates.get(&key))
            .map_or(0, |o| o.wire_bytes);
        if self.template_bytes - old_bytes + wire_bytes > limits.max_template_bytes {
            stats.count(DecodeError::Limit(LimitKind::TemplateBytes));
            return;
        }
        self.template_bytes = self.template_bytes - old_bytes + wire_bytes;
        // `exporter_or_insert` above borrowed self; look the exporter up again
        let Some(exp) = self.exporters.get_mut(addr) else {
            return;
        };
        exp.templates.insert(
            key,
            Template {
                version: t.version,
                domain: t.domain,
                id: t.id,
                options: t.options,
                scope_count: t.scope_count,
                fields: t.fields.into(),
                learned_ns: t.now_ns,
                used_ns: 0,
                plan,
                wire_bytes,
            },
        );
        self.dirty = true;
        stats.templates_learned += 1;
    }

    /// Removes one template (IPFIX withdrawal).
    pub(crate) fn withdraw(&mut self, addr: &Addr, version: u8, domain: u32, id: u16) {
        if let Some(exp) = self.exporters.get_mut(addr) {
            if let Some(t) = exp.templates.remove(&tkey(version, domain, id)) {
                self.template_bytes -= t.wire_bytes;
                self.dirty = true;
            }
        }
    }

    /// Removes every data (or options) template of a domain (IPFIX "withdraw all").
    pub(crate) fn withdraw_all(&mut self, addr: &Addr, version: u8, domain: u32, options: bool) {
        if let Some(exp) = self.exporters.get_mut(addr) {
            let mut freed = 0;
            exp.templates.retain(|_, t| {
                let drop = t.version == version && t.domain == domain && t.options == options;
                if drop {
                    freed += t.wire_bytes;
                }
                !drop
            });
            self.template_bytes -= freed;
            self.dirty |= freed > 0;
        }
    }

    /// Drops every template neither re-sent nor used since `cutoff_ns` (and exporters left
    /// with nothing); returns how many templates went. One pass over the cache: the worker
    /// calls it about once a second.
    pub(crate) fn expire(&mut self, cutoff_ns: u64) -> usize {
        let mut n = 0;
        let mut freed = 0;
        self.exporters.retain(|_, e| {
            e.templates.retain(|_, t| {
                let keep = t.learned_ns.max(t.used_ns) >= cutoff_ns;
                if !keep {
                    n += 1;
                    freed += t.wire_bytes;
                }
                keep
            });
            !e.templates.is_empty() || !e.rates.domains.is_empty() || !e.rates.samplers.is_empty()
        });
        self.template_bytes -= freed;
        if n > 0 {
            self.dirty = true;
            self.expired += n as u64;
        }
        n
    }

    /// Whether anything worth persisting changed since the last call (clears the flags).
    pub(crate) fn take_dirty(&mut self) -> bool {
        let mut d = std::mem::take(&mut self.dirty);
        for e in self.exporters.values_mut() {
            d |= std::mem::take(&mut e.rates.dirty);
        }
        d
    }

    /// Everything worth persisting, by exporter.
    pub fn snapshot(&self) -> Vec<crate::state::ExporterState> {
        use crate::state::{DomainRate, ExporterState, SamplerRate, SavedTemplate};
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
        saved: &[crate::state::ExporterState],
        limits: &Limits,
        stats: &mut DecodeStats,
        now_ns: u64,
    ) -> usize {
        let before = stats.templates_learned;
        let dirty = self.dirty;
        for e in saved {
            let addr = crate::state::addr_of(e.exporter);
            for t in &e.templates {
                let key = tkey(t.version, t.domain, t.id);
                if !matches!(t.version, 9 | 10) {
                    continue;
                }
                self.learn(
                    &addr,
                    &Learn {
                        version: t.version,
                        domain: t.domain,
                        id: t.id,
                        options: t.options,
                        scope_count: t.scope_count,
                        fields: &t.fields,
                        now_ns: t.learned_ns,
                    },
                    limits,
                    stats,
                );
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
                x.rates
                    .store(d.version, d.domain, None, rate, d.sys_init_ms, max);
            }
            for s in &e.samplers {
                x.rates
                    .store(s.version, s.domain, Some(s.sampler), Some(s.rate), 0, max);
            }
            x.rates.dirty = false;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn learn(c: &mut TemplateCache, ip: [u8; 4], id: u16, n: u16, lim: &Limits) -> DecodeStats {
        let fields: Vec<FieldSpec> = (0..n)
            .map(|i| FieldSpec {
                id: 1 + i,
                len: 4,
                pen: 0,
            })
            .collect();
        let mut st = DecodeStats::default();
        c.learn(
            &Addr::v4(ip),
            &Learn {
                version: 10,
                domain: 1,
                id,
                options: false,
                scope_count: 0,
                fields: &fields,
                now_ns: 5,
            },
            lim,
            &mut st,
        );
        st
    }

    #[test]
    fn expire_snapshot_restore() {
        let lim = Limits::default();
        let mut c = TemplateCache::default();
        learn(&mut c, [1, 1, 1, 1], 256, 3, &lim);
        learn(&mut c, [2, 2, 2, 2], 257, 2, &lim);
        c.exporter_mut(&Addr::v4([1, 1, 1, 1]))
            .unwrap()
            .rates
            .store(10, 1, Some(3), Some(100), 0, 10);
        assert!(c.take_dirty());
        assert!(!c.take_dirty());
        let snap = c.snapshot();
        assert_eq!(snap.len(), 2);
        let mut d = TemplateCache::default();
        let mut st = DecodeStats::default();
        assert_eq!(d.restore(&snap, &lim, &mut st, 0), 2);
        assert_eq!(st.templates_learned, 0);
        assert!(!d.take_dirty());
        assert_eq!(d.templates(), c.templates());
        assert_eq!(d.sampling_rates(), c.sampling_rates());
        assert_eq!(d.template_bytes(), c.template_bytes());
        // limits apply on load
        let small = Limits {
            max_exporters: 1,
            ..lim
        };
        let mut e = TemplateCache::default();
        let mut st = DecodeStats::default();
        e.restore(&snap, &small, &mut st, 0);
        assert_eq!(e.exporter_count(), 1);
        assert!(st.limits[LimitKind::Exporters as usize] >= 1);
        // learned at 5 ns: expires with any later cutoff; the exporter with a rate stays
        assert_eq!(c.expire(5), 0);
        assert_eq!(c.expire(6), 2);
        assert!(c.take_dirty());
        assert_eq!(c.template_count(), 0);
        assert_eq!(c.template_bytes(), 0);
        assert_eq!(c.exporter_count(), 1);
        assert_eq!(c.expired, 2);
    }

    #[test]
    fn bounded_and_lru() {
        let lim = Limits {
            max_exporters: 2,
            max_templates_per_exporter: 2,
            max_fields_per_template: 4,
            max_template_bytes: 1000,
            ..Limits::default()
        };
        let mut c = TemplateCache::default();
        assert_eq!(
            learn(&mut c, [1, 1, 1, 1], 256, 2, &lim).templates_learned,
            1
        );
        assert_eq!(
            learn(&mut c, [1, 1, 1, 1], 257, 2, &lim).templates_learned,
            1
        );
        // a third template evicts the exporter's least recently used one
        let st = learn(&mut c, [1, 1, 1, 1], 258, 2, &lim);
        assert_eq!(st.limits[LimitKind::TemplatesPerExporter as usize], 1);
        assert_eq!(st.templates_learned, 1);
        assert_eq!(c.template_count(), 2);
        // identical re-send: refresh, no new learn
        assert_eq!(
            learn(&mut c, [1, 1, 1, 1], 258, 2, &lim).templates_learned,
            0
        );
        let st = learn(&mut c, [1, 1, 1, 1], 258, 5, &lim);
        assert_eq!(st.limits[LimitKind::FieldsPerTemplate as usize], 1);
        learn(&mut c, [2, 2, 2, 2], 256, 1, &lim);
        // touch exporter 1 so that 2 is the least recently used
        c.exporter_mut(&Addr::v4([1, 1, 1, 1]));
        let st = learn(&mut c, [3, 3, 3, 3], 256, 1, &lim);
        assert_eq!(st.limits[LimitKind::Exporters as usize], 1);
        assert_eq!(c.exporter_count(), 2);
        assert!(c.exporter_mut(&Addr::v4([2, 2, 2, 2])).is_none());
        assert_eq!(c.template_count(), 3);
        assert_eq!(c.template_bytes(), 12 + 12 + 8);
        c.withdraw_all(&Addr::v4([1, 1, 1, 1]), 10, 1, false);
        assert_eq!(c.template_bytes(), 8);
        let lim2 = Limits {
            max_template_bytes: 10,
            ..lim
        };
        let st = learn(&mut c, [3, 3, 3, 3], 300, 1, &lim2);
        assert_eq!(st.limits[LimitKind::TemplateBytes as usize], 1);
        assert_eq!(c.templates().len(), 1);
    }
}
