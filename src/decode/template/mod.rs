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

use crate::decode::fields::{MapPlan, Op, Plan};
use crate::decode::spec::FieldSpec;
use crate::decode::{DatagramSummary, DecodeError, DecodeStats, LimitKind, Limits, TemplateSeen};
use crate::flow::Addr;

mod alloc;
mod hash;
mod rates;
mod shared;
mod snapshot;
#[cfg(test)]
mod tests;

use alloc::{alloc_size, budget, table_bytes, Buckets};
pub use hash::FxHasher;
pub(crate) use rates::DomainSamplers;
pub use rates::Rates;
pub use shared::{Applied, Change, Origin, Removal, JOURNAL_MAX};
pub use snapshot::{
    addr_of, DomainRate, ExporterState, SamplerRate, SamplingInfo, SavedTemplate, TemplateInfo,
};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::mem::size_of;

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
    /// Where it came from (the wire, the state file, another instance).
    pub origin: Origin,
    pub(crate) plan: Plan,
}

impl Template {
    /// Heap bytes the template holds outside its slot in the exporter's table.
    fn heap(&self) -> usize {
        alloc_size(size_of::<FieldSpec>() * self.fields.len())
            + alloc_size(size_of::<Op>() * self.plan.ops.len())
            + alloc_size(size_of::<Op>() * self.plan.rest.len())
            + self.plan.map.as_ref().map_or(0, |m| {
                alloc_size(size_of::<MapPlan>()) + alloc_size(m.heap())
            })
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
    /// The `[[mapping]]` entries compiled into every data template learned (`None`: none).
    pub(crate) mapping: Option<std::sync::Arc<crate::mapping::Mapping>>,
    /// The origin `learn` gives what it stores: the wire, except while state or a cluster
    /// record is being applied.
    origin: Origin,
    /// With a cluster topic: what changed since the worker last took it (`take_changes`).
    /// `None` (the default): nothing is recorded.
    journal: Option<Vec<Change>>,
    /// Changes not recorded because the journal was full.
    pub(crate) journal_dropped: u64,
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
        let journal = &mut self.journal;
        let jdrop = &mut self.journal_dropped;
        self.exporters.retain(|a, e| {
            let evict = left > 0 && e.last_used <= cut && Some(a) != keep;
            if evict {
                left -= 1;
                freed += e.bytes;
                for t in e.templates.values() {
                    shared::note_removed(journal, jdrop, a, t, Removal::Evicted);
                }
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
        let from_wire = matches!(self.origin, Origin::Wire);
        let Some(exp) = self.exporter_or_insert(addr, limits, stats) else {
            return;
        };
        if let Some(old) = exp.templates.get_mut(&key) {
            if old.options == t.options
                && old.scope_count == t.scope_count
                && *old.fields == *t.fields
            {
                old.learned_ns = t.now_ns;
                if from_wire && !matches!(old.origin, Origin::Wire) {
                    // the exporter confirmed it: it is this instance's own now
                    old.origin = Origin::Wire;
                }
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
            shared::note_removed(
                &mut self.journal,
                &mut self.journal_dropped,
                addr,
                &old,
                Removal::Evicted,
            );
        }
        let plan = match Plan::build(
            t.fields,
            t.options,
            t.scope_count as usize,
            t.version == 9,
            t.id,
        ) {
            Ok(mut p) => {
                if let (false, Some(m)) = (t.options, &self.mapping) {
                    p.map = MapPlan::build(t.fields, t.version == 9, m).map(Box::new);
                }
                p
            }
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
            origin: self.origin.clone(),
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
        if matches!(self.origin, Origin::Wire) {
            self.note(Change::Learned { addr: *addr, key });
        }
    }

    /// Removes one template (IPFIX withdrawal).
    pub(crate) fn withdraw(&mut self, addr: &Addr, version: u8, domain: u32, id: u16) {
        if let Some(exp) = self.exporters.get_mut(addr) {
            if let Some(t) = exp.templates.remove(&tkey(version, domain, id)) {
                exp.template_heap -= t.heap();
                self.reaccount(addr);
                self.dirty = true;
                shared::note_removed(
                    &mut self.journal,
                    &mut self.journal_dropped,
                    addr,
                    &t,
                    Removal::Withdrawn,
                );
            }
        }
    }

    /// Removes every data (or options) template of a domain (IPFIX "withdraw all").
    pub(crate) fn withdraw_all(&mut self, addr: &Addr, version: u8, domain: u32, options: bool) {
        if let Some(exp) = self.exporters.get_mut(addr) {
            let before = exp.templates.len();
            let mut freed = 0;
            let journal = &mut self.journal;
            let jdrop = &mut self.journal_dropped;
            exp.templates.retain(|_, t| {
                let drop = t.version == version && t.domain == domain && t.options == options;
                if drop {
                    freed += t.heap();
                    shared::note_removed(journal, jdrop, addr, t, Removal::Withdrawn);
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
        let journal = &mut self.journal;
        let jdrop = &mut self.journal_dropped;
        self.exporters.retain(|a, e| {
            let mut freed = 0;
            e.templates.retain(|_, t| {
                // a template from the cluster topic lives as long as its publisher keeps it
                // (its tombstone removes it) or a limit makes room: a standby instance keeps
                // what it would need after a failover, however long it waits
                let keep = matches!(t.origin, Origin::Cluster { .. })
                    || t.learned_ns.max(t.used_ns) >= cutoff_ns;
                if !keep {
                    n += 1;
                    freed += t.heap();
                    shared::note_removed(journal, jdrop, a, t, Removal::Expired);
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

    /// The accounted bytes recomputed from scratch (for the tests: the running sum must
    /// agree with it).
    #[cfg(test)]
    fn recount(&mut self) -> usize {
        let exporters: usize = self.exporters.values_mut().map(|e| e.footprint()).sum();
        exporters + table_bytes::<(Addr, Exporter)>(self.buckets.seen(self.exporters.capacity()))
    }
}
