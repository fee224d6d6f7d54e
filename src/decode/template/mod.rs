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
//! recently used template makes room), fields per template and the heap the whole cache holds
//! (`max_template_bytes`: least recently used exporters are evicted to make room, keeping
//! headroom for the allocator's slack, see `budget`); templates idle for
//! `template_idle_timeout_s` expire. Every limit hit is counted as `DecodeError::Limit`.
//!
//! The heap is accounted as it is allocated, not as the wire sizes: each template's field list
//! and compiled plan, every hash table's buckets and control bytes (tables only grow, so the
//! largest bucket count seen is kept), each rounded up to the allocator's size class. A
//! template of 40 fields takes about 0.6 KiB of heap against 164 bytes on the wire, so a cap on
//! wire sizes let the real state grow to several times the configured number.

use crate::decode::fields::{Op, Plan, SamplerRates};
use crate::decode::{DatagramSummary, DecodeError, DecodeStats, LimitKind, Limits, TemplateSeen};
use crate::flow::Addr;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::size_of;
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
}

impl Template {
    /// Heap bytes the template holds outside its slot in the exporter's table.
    fn heap(&self) -> usize {
        alloc_size(size_of::<FieldSpec>() * self.fields.len())
            + alloc_size(size_of::<Op>() * self.plan.ops.len())
            + alloc_size(size_of::<Op>() * self.plan.rest.len())
    }
}

/// What the allocator hands out for an `n`-byte request: mimalloc rounds requests up to 8
/// bytes, and above 64 bytes to one of four size classes per power of two. An upper estimate
/// (its classes are counted in words), so that the accounting does not undercount.
pub(crate) fn alloc_size(n: usize) -> usize {
    if n <= 64 {
        return n.next_multiple_of(8);
    }
    let top = usize::BITS - 1 - n.leading_zeros();
    let unit = 1usize << (top - 2);
    n.div_ceil(unit) * unit
}

/// The share of `max_template_bytes` the accounted heap may fill, in sixteenths. The rest is
/// headroom for what per-allocation accounting cannot see: once evictions free templates at
/// random across the allocator's pages, many pages stay resident for the few blocks still
/// live in them (mimalloc returns only whole free pages to the OS), so the resident heap of the
/// state runs above the sum of its allocations. Measured with the fault test's template flood
/// (tests/faults.rs, 8 MiB cap, release, MIMALLOC_PURGE_DELAY=0): the process grew by 1.12 to
/// 1.18 times the accounted budget (9.1 MiB at 16/16, 8.0 to 8.2 MiB at 14/16, 7.5 to 7.8 MiB
/// at 13/16). 13/16 kept it under the cap in release builds on a quiet machine, but a debug
/// build (what `cargo test` runs) with a fuzzer busy on the other core grew 8.2 MiB at 13/16,
/// and 7.7 MiB at 12/16 on a quiet one: 11/16 keeps a margin of about a tenth of the cap.
const BUDGET_SIXTEENTHS: usize = 11;

/// The accounted bytes the state may reach under a cap of `max` bytes, so that its heap with
/// the allocator's slack stays under `max`.
pub(crate) fn budget(max: usize) -> usize {
    max / 16 * BUDGET_SIXTEENTHS + max % 16 * BUDGET_SIXTEENTHS / 16
}

/// Buckets std's `HashMap` (hashbrown) allocates for `cap` entries: a power of two, at most
/// 7/8 full (4 and 8 buckets hold 3 and 7).
fn buckets_for(cap: usize) -> usize {
    match cap {
        0 => 0,
        1..=3 => 4,
        4..=7 => 8,
        _ => cap.saturating_mul(8).div_ceil(7).next_power_of_two(),
    }
}

/// Heap bytes of a hashbrown table of `buckets` entries of `T`: the entries, one control byte
/// each and one trailing group of 16.
fn table_bytes<T>(buckets: usize) -> usize {
    if buckets == 0 {
        return 0;
    }
    alloc_size((buckets * size_of::<T>()).next_multiple_of(16) + buckets + 16)
}

/// The buckets a map has allocated, as far as its `capacity()` tells. Removals leave
/// tombstones that lower `capacity()` without freeing anything and std never shrinks a map
/// by itself, so the largest count seen is the one allocated.
#[derive(Clone, Copy, Debug, Default)]
struct Buckets(usize);

impl Buckets {
    fn seen(&mut self, capacity: usize) -> usize {
        self.0 = self.0.max(buckets_for(capacity));
        self.0
    }
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
    /// Heap bytes accounted to it when it was last re-accounted ([`Exporter::footprint`]).
    bytes: usize,
    /// Sum of its templates' [`Template::heap`].
    template_heap: usize,
    /// Allocated buckets of `templates`, `rates.domains` and `rates.samplers`.
    buckets: [Buckets; 3],
}

impl Exporter {
    /// Heap bytes it holds outside its slot in the exporter table: its three maps' tables and
    /// its templates' field lists and plans.
    fn footprint(&mut self) -> usize {
        let t = self.buckets[0].seen(self.templates.capacity());
        let d = self.buckets[1].seen(self.rates.domains.capacity());
        let s = self.buckets[2].seen(self.rates.samplers.capacity());
        table_bytes::<(u64, Template)>(t)
            + table_bytes::<(u64, DomainState)>(d)
            + table_bytes::<((u64, u64), u64)>(s)
            + self.template_heap
    }

    /// Table bytes that inserting one more template may add (a full table doubles).
    fn template_growth(&self) -> usize {
        if self.templates.len() < self.templates.capacity() {
            return 0;
        }
        let now = self.buckets[0].0;
        let next = if now == 0 { 4 } else { now * 2 };
        table_bytes::<(u64, Template)>(next) - table_bytes::<(u64, Template)>(now)
    }
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
    /// Returns whether a domain or sampler entry was added (the cache then re-accounts the
    /// exporter: [`TemplateCache::rates_grew`]).
    #[must_use]
    pub(crate) fn store(
        &mut self,
        version: u8,
        domain: u32,
        sampler: Option<u64>,
        rate: Option<u64>,
        sys_init_ms: u64,
        max: usize,
    ) -> bool {
        let dk = dkey(version, domain);
        let mut added = false;
        if rate.is_some() || sys_init_ms != 0 {
            let n = self.domains.len();
            let d = match self.domains.get_mut(&dk) {
                Some(d) => Some(d),
                None if n < max => {
                    added = true;
                    Some(self.domains.entry(dk).or_default())
                }
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
                    added = true;
                }
                None => {}
            }
        }
        added
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
    /// Allocated buckets of `exporters`.
    buckets: Buckets,
    /// Sum of the exporters' accounted `bytes`.
    exporter_bytes: usize,
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

    /// Heap bytes of the cache's state, as [`Limits::max_template_bytes`] bounds them: the
    /// exporter table, each exporter's maps and its templates' field lists and plans.
    pub fn template_bytes(&self) -> usize {
        self.exporter_bytes + table_bytes::<(Addr, Exporter)>(self.buckets.0)
    }

    /// Re-accounts one exporter after its maps or templates changed.
    fn reaccount(&mut self, addr: &Addr) {
        if let Some(e) = self.exporters.get_mut(addr) {
            let now = e.footprint();
            self.exporter_bytes = self.exporter_bytes - e.bytes + now;
            e.bytes = now;
        }
    }

    /// Evicts least recently used exporters other than `keep` until `need` more bytes fit
    /// under `budget(max)` (a sixteenth of the table per pass, as for `max_exporters`). Returns
    /// `None` if nothing had to go, else whether the bytes fit now.
    fn make_room(&mut self, keep: &Addr, need: usize, max: usize) -> Option<bool> {
        let max = budget(max);
        if self.template_bytes().saturating_add(need) <= max {
            return None;
        }
        while self.template_bytes().saturating_add(need) > max {
            if self.exporters.len() <= 1 {
                return Some(false);
            }
            self.evict_lru((self.exporters.len() / 16).max(1), Some(keep));
        }
        Some(true)
    }

    /// After a data set added a sampling rate entry to the exporter: re-accounts it and, over
    /// `max_template_bytes`, evicts other exporters (the hit counted).
    pub(crate) fn rates_grew(&mut self, addr: &Addr, limits: &Limits, stats: &mut DecodeStats) {
        self.reaccount(addr);
        if self.make_room(addr, 0, limits.max_template_bytes).is_some() {
            stats.count(DecodeError::Limit(LimitKind::TemplateBytes));
        }
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
                self.evict_lru((limits.max_exporters / 16).max(1), None);
            }
            self.exporters.insert(*addr, Exporter::default());
            self.buckets.seen(self.exporters.capacity());
        }
        self.exporter_mut(addr)
    }

    /// Evicts the `n` least recently used exporters (never `keep`) in one pass over the
    /// table: callers evict a sixteenth of it at a time, so that a flood of new exporters
    /// costs amortized O(1) per exporter, not a scan each.
    fn evict_lru(&mut self, n: usize, keep: Option<&Addr>) {
        let mut stamps: Vec<u64> = self
            .exporters
            .iter()
            .filter(|(a, _)| Some(*a) != keep)
            .map(|(_, e)| e.last_used)
            .collect();
        if stamps.is_empty() || n == 0 {
            return;
        }
        let k = n.min(stamps.len()) - 1;
        let (_, &mut cut, _) = stamps.select_nth_unstable(k);
        let mut freed = 0;
        let mut left = n;
        self.exporters.retain(|a, e| {
            let evict = left > 0 && e.last_used <= cut && Some(a) != keep;
            if evict {
                left -= 1;
                freed += e.bytes;
            }
            !evict
        });
        self.exporter_bytes -= freed;
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
            exp.template_heap -= old.heap();
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
        let new = Template {
            version: t.version,
            domain: t.domain,
            id: t.id,
            options: t.options,
            scope_count: t.scope_count,
            fields: t.fields.into(),
            learned_ns: t.now_ns,
            used_ns: 0,
            plan,
        };
        // `exporter_or_insert` above borrowed self; look the exporter up again
        let Some(exp) = self.exporters.get(addr) else {
            return;
        };
        let (old_heap, growth) = match exp.templates.get(&key) {
            Some(old) => (old.heap(), 0),
            None => (0, exp.template_growth()),
        };
        let need = (new.heap() + growth).saturating_sub(old_heap);
        match self.make_room(addr, need, limits.max_template_bytes) {
            None => {}
            Some(fits) => {
                stats.count(DecodeError::Limit(LimitKind::TemplateBytes));
                if !fits {
                    return;
                }
            }
        }
        let Some(exp) = self.exporters.get_mut(addr) else {
            return;
        };
        exp.template_heap += new.heap();
        if let Some(old) = exp.templates.insert(key, new) {
            exp.template_heap -= old.heap();
        }
        self.reaccount(addr);
        self.dirty = true;
        stats.templates_learned += 1;
    }

    /// Removes one template (IPFIX withdrawal).
    pub(crate) fn withdraw(&mut self, addr: &Addr, version: u8, domain: u32, id: u16) {
        if let Some(exp) = self.exporters.get_mut(addr) {
            if let Some(t) = exp.templates.remove(&tkey(version, domain, id)) {
                exp.template_heap -= t.heap();
                self.reaccount(addr);
                self.dirty = true;
            }
        }
    }

    /// Removes every data (or options) template of a domain (IPFIX "withdraw all").
    pub(crate) fn withdraw_all(&mut self, addr: &Addr, version: u8, domain: u32, options: bool) {
        if let Some(exp) = self.exporters.get_mut(addr) {
            let before = exp.templates.len();
            let mut freed = 0;
            exp.templates.retain(|_, t| {
                let drop = t.version == version && t.domain == domain && t.options == options;
                if drop {
                    freed += t.heap();
                }
                !drop
            });
            exp.template_heap -= freed;
            self.dirty |= exp.templates.len() < before;
            self.reaccount(addr);
        }
    }

    /// Drops every template neither re-sent nor used since `cutoff_ns` (and exporters left
    /// with nothing); returns how many templates went. One pass over the cache: the worker
    /// calls it about once a second.
    pub(crate) fn expire(&mut self, cutoff_ns: u64) -> usize {
        let mut n = 0;
        let mut bytes = 0;
        self.exporters.retain(|_, e| {
            let mut freed = 0;
            e.templates.retain(|_, t| {
                let keep = t.learned_ns.max(t.used_ns) >= cutoff_ns;
                if !keep {
                    n += 1;
                    freed += t.heap();
                }
                keep
            });
            e.template_heap -= freed;
            let keep = !e.templates.is_empty()
                || !e.rates.domains.is_empty()
                || !e.rates.samplers.is_empty();
            if keep {
                e.bytes = e.footprint();
                bytes += e.bytes;
            }
            keep
        });
        self.exporter_bytes = bytes;
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
            self.rates_grew(&addr, limits, stats);
        }
        self.dirty = dirty;
        stats.last = DatagramSummary::default();
        let n = stats.templates_learned - before;
        // loaded, not learned from the wire
        stats.templates_learned = before;
        n as usize
    }

    /// The accounted bytes recomputed from scratch (for the tests: the running sum must
    /// agree with it).
    #[cfg(test)]
    fn recount(&mut self) -> usize {
        let exporters: usize = self.exporters.values_mut().map(|e| e.footprint()).sum();
        exporters + table_bytes::<(Addr, Exporter)>(self.buckets.seen(self.exporters.capacity()))
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
        let added = c
            .exporter_mut(&Addr::v4([1, 1, 1, 1]))
            .unwrap()
            .rates
            .store(10, 1, Some(3), Some(100), 0, 10);
        assert!(added);
        c.rates_grew(&Addr::v4([1, 1, 1, 1]), &lim, &mut DecodeStats::default());
        assert_eq!(c.template_bytes(), c.recount());
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
        assert_eq!(c.template_bytes(), c.recount());
        assert_eq!(c.exporter_count(), 1);
        assert_eq!(c.expired, 2);
    }

    #[test]
    fn bounded_and_lru() {
        let lim = Limits {
            max_exporters: 2,
            max_templates_per_exporter: 2,
            max_fields_per_template: 4,
            max_template_bytes: 1 << 20,
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
        assert_eq!(c.template_bytes(), c.recount());
        let before = c.template_bytes();
        c.withdraw_all(&Addr::v4([1, 1, 1, 1]), 10, 1, false);
        assert!(c.template_bytes() < before);
        assert_eq!(c.template_bytes(), c.recount());
        // a cap that even one exporter exceeds: the others are evicted, the template refused
        let lim2 = Limits {
            max_template_bytes: 10,
            ..lim
        };
        let st = learn(&mut c, [3, 3, 3, 3], 300, 1, &lim2);
        assert_eq!(st.limits[LimitKind::TemplateBytes as usize], 1);
        assert_eq!(st.templates_learned, 0);
        assert_eq!(c.templates().len(), 1);
        assert_eq!(c.exporter_count(), 1);
        assert_eq!(c.template_bytes(), c.recount());
    }

    #[test]
    fn accounts_heap_not_wire_bytes() {
        assert_eq!(alloc_size(0), 0);
        assert_eq!(alloc_size(20), 24);
        assert_eq!(alloc_size(64), 64);
        assert_eq!(alloc_size(65), 80);
        assert_eq!(alloc_size(320), 320);
        assert_eq!(alloc_size(321), 384);
        assert_eq!(
            (buckets_for(3), buckets_for(7), buckets_for(14)),
            (4, 8, 16)
        );
        assert_eq!(
            (buckets_for(15), buckets_for(28), buckets_for(29)),
            (32, 32, 64)
        );
        let lim = Limits::default();
        let mut c = TemplateCache::default();
        learn(&mut c, [1, 1, 1, 1], 256, 40, &lim);
        // 164 bytes on the wire; the field list alone is 320 bytes of heap
        let one = c.template_bytes();
        let fields = 40 * size_of::<FieldSpec>();
        assert!(one > fields + table_bytes::<(Addr, Exporter)>(4), "{one}");
        assert_eq!(one, c.recount());
        // a second template: its field list and plan more, no table growth (4 buckets hold 3)
        learn(&mut c, [1, 1, 1, 1], 257, 40, &lim);
        let two = c.template_bytes();
        assert!(two - one >= fields, "{one} {two}");
        assert_eq!(two, c.recount());
        // tables keep their buckets when entries go
        c.withdraw(&Addr::v4([1, 1, 1, 1]), 10, 1, 257);
        assert_eq!(c.template_bytes(), one);
    }

    #[test]
    fn cap_evicts_least_recently_used_exporters() {
        let lim = Limits::default();
        let mut c = TemplateCache::default();
        for i in 1..=4 {
            learn(&mut c, [10, 0, 0, i], 256, 40, &lim);
        }
        let four = c.template_bytes();
        // the budget keeps headroom under the cap, and is exact for any cap
        assert!(budget(four) < four);
        assert_eq!(budget(16 << 20), 11 << 20);
        assert_eq!(budget(usize::MAX), usize::MAX / 16 * 11 + 15 * 11 / 16);
        // room for about three of them: learning a fifth evicts the least recently used
        // (10.0.0.2 after 10.0.0.1 is touched), never the exporter learning
        let cap = Limits {
            max_template_bytes: four - 1,
            ..lim
        };
        c.exporter_mut(&Addr::v4([10, 0, 0, 1]));
        let st = learn(&mut c, [10, 0, 0, 5], 256, 40, &cap);
        assert_eq!(st.limits[LimitKind::TemplateBytes as usize], 1);
        assert_eq!(st.templates_learned, 1);
        assert!(c.template_bytes() <= budget(cap.max_template_bytes));
        assert_eq!(c.template_bytes(), c.recount());
        assert!(c.exporter_mut(&Addr::v4([10, 0, 0, 2])).is_none());
        assert!(c.exporter_mut(&Addr::v4([10, 0, 0, 1])).is_some());
        assert!(c.exporter_mut(&Addr::v4([10, 0, 0, 5])).is_some());
        // a flood of new exporters never takes the state past the cap
        for i in 0..2000u32 {
            let [_, a, b, d] = (i + 100).to_be_bytes();
            learn(&mut c, [11, a, b, d], 256 + (i % 7) as u16, 40, &cap);
            assert!(
                c.template_bytes() <= budget(cap.max_template_bytes),
                "after {i}"
            );
        }
        assert_eq!(c.template_bytes(), c.recount());
    }
}
