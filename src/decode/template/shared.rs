//! What the cluster topic needs from the cache (`cluster.templates_topic`): where each template
//! came from ([`Origin`]), a journal of what the wire changed ([`Change`], taken by the worker
//! between receive batches and published by the cluster thread), and applying what other
//! instances learned ([`TemplateCache::apply_template`], [`TemplateCache::apply_removal`],
//! [`TemplateCache::apply_rate`]).
//!
//! The rules, each for a reason:
//! - Only what this instance learned from the wire is journaled: a record applied from the
//!   topic (or loaded from the state file) is never published again, so records do not echo
//!   between instances.
//! - A record does not replace a template learned later (by its `learned_ns`, the receive time
//!   on the instance that learned it): an exporter's redefinition wins over an older copy
//!   that arrives late. An exporter re-sending a template refreshes its time, so the wire keeps
//!   winning for the exporters an instance hears.
//! - A tombstone does not remove a template this instance used for data within
//!   [`TOMBSTONE_GRACE_NS`] before the tombstone was published, nor one it learned from the
//!   wire after it: when an exporter moves, its old instance expires the template while the
//!   new one is decoding with it.
//! - A template from the topic does not expire on idle here: it lives as long as its publisher
//!   keeps it (the publisher's tombstone removes it) or until a limit makes room, so that a
//!   standby instance still holds it when the exporter fails over to it hours later.
//! - Records go through the normal learn path, so `[limits]` apply and their hits are counted;
//!   an exporter known only from the topic is not made recent (`last_used` is kept, 0 for a new
//!   one), so when the cache is full those go first and the exporters this instance hears stay.

use super::*;
use std::sync::Arc;

/// Changes held between two worker loops at most; beyond, they are counted and not
/// published (`journal_dropped`). A loop takes them all, so this is only reached by a
/// flood within one receive batch.
pub const JOURNAL_MAX: usize = 16_384;

/// A tombstone leaves a template this instance decoded data with in the last minute.
pub const TOMBSTONE_GRACE_NS: u64 = 60_000_000_000;

/// Where a template came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// Learned from the exporter's datagrams by this instance.
    #[default]
    Wire,
    /// Loaded from `--state-dir` at start.
    State,
    /// Applied from the cluster topic: which instance learned it, and when it was applied
    /// here (never 0; such a template does not expire on idle).
    Cluster { instance: Arc<str>, applied_ns: u64 },
}

impl Origin {
    /// `wire`, `state` or `cluster`.
    pub fn label(&self) -> &'static str {
        match self {
            Origin::Wire => "wire",
            Origin::State => "state",
            Origin::Cluster { .. } => "cluster",
        }
    }

    /// The instance a cluster record came from.
    pub fn instance(&self) -> Option<&str> {
        match self {
            Origin::Cluster { instance, .. } => Some(instance),
            _ => None,
        }
    }

    /// When a cluster record was applied here (0 for other origins).
    pub fn applied_ns(&self) -> u64 {
        match self {
            Origin::Cluster { applied_ns, .. } => *applied_ns,
            _ => 0,
        }
    }
}

/// Why a template went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    Withdrawn,
    Expired,
    Evicted,
}

/// One change the wire made to the cache, for the cluster topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A template learned or redefined (`key`: the cache's template key; its definition is
    /// read from the cache when the journal is taken).
    Learned { addr: Addr, key: u64 },
    /// A template withdrawn, expired or evicted.
    Removed {
        addr: Addr,
        version: u8,
        domain: u32,
        id: u16,
        why: Removal,
    },
    /// A sampling rate or system init time of the domain changed.
    Rates {
        addr: Addr,
        version: u8,
        domain: u32,
    },
}

/// What applying one record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// The cache already held the same.
    Unchanged,
    /// The cache holds something learned later.
    Stale,
    /// A limit refused it (counted with the decode errors as for the wire).
    Limit,
    /// Not a NetFlow v9 / IPFIX definition this cache can hold.
    Invalid,
}

fn push(journal: &mut Option<Vec<Change>>, dropped: &mut u64, c: Change) {
    if let Some(j) = journal {
        if j.len() < JOURNAL_MAX {
            j.push(c);
        } else {
            *dropped += 1;
        }
    }
}

/// Journals the removal of `t` if this instance learned it from the wire.
pub(super) fn note_removed(
    journal: &mut Option<Vec<Change>>,
    dropped: &mut u64,
    addr: &Addr,
    t: &Template,
    why: Removal,
) {
    if matches!(t.origin, Origin::Wire) {
        push(
            journal,
            dropped,
            Change::Removed {
                addr: *addr,
                version: t.version,
                domain: t.domain,
                id: t.id,
                why,
            },
        );
    }
}

impl TemplateCache {
    /// Starts recording changes (a cluster topic is configured).
    pub fn enable_journal(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    pub(super) fn note(&mut self, c: Change) {
        push(&mut self.journal, &mut self.journal_dropped, c);
    }

    /// A data or options set changed the domain's rates (the wire path only).
    pub(crate) fn rates_changed(&mut self, addr: &Addr, version: u8, domain: u32) {
        if matches!(self.origin, Origin::Wire) {
            self.note(Change::Rates {
                addr: *addr,
                version,
                domain,
            });
        }
    }

    /// Moves the journal into `out` (nothing when it is off).
    pub fn take_changes(&mut self, out: &mut Vec<Change>) {
        if let Some(j) = &mut self.journal {
            out.append(j);
        }
    }

    /// Changes not journaled because the journal was full.
    pub fn journal_dropped(&self) -> u64 {
        self.journal_dropped
    }

    /// The definition of one held template.
    pub fn saved(&self, addr: &Addr, key: u64) -> Option<SavedTemplate> {
        let t = self.exporters.get(addr)?.templates.get(&key)?;
        Some(SavedTemplate {
            version: t.version,
            domain: t.domain,
            id: t.id,
            options: t.options,
            scope_count: t.scope_count,
            fields: t.fields.to_vec(),
            learned_ns: t.learned_ns,
            used_ns: t.used_ns,
        })
    }

    /// The domain's rates: (sampler id or `None` for the domain, rate, system init time).
    pub fn domain_rates(
        &self,
        addr: &Addr,
        version: u8,
        domain: u32,
    ) -> Vec<(Option<u64>, u64, u64)> {
        let Some(e) = self.exporters.get(addr) else {
            return Vec::new();
        };
        let dk = dkey(version, domain);
        let mut v = Vec::new();
        if let Some(d) = e.rates.domains.get(&dk) {
            v.push((None, d.sampling_rate, d.sys_init_ms));
        }
        for (&(k, sid), &rate) in &e.rates.samplers {
            if k == dk {
                v.push((Some(sid), rate, 0));
            }
        }
        v
    }

    /// Applies a template another instance learned (see the module's rules).
    pub fn apply_template(
        &mut self,
        addr: &Addr,
        t: &SavedTemplate,
        origin: Origin,
        limits: &Limits,
        stats: &mut DecodeStats,
    ) -> Applied {
        if !matches!(t.version, 9 | 10) || t.scope_count as usize > t.fields.len() {
            return Applied::Invalid;
        }
        let key = tkey(t.version, t.domain, t.id);
        let last_used = self.exporters.get(addr).map(|e| e.last_used);
        if let Some(old) = self
            .exporters
            .get_mut(addr)
            .and_then(|e| e.templates.get_mut(&key))
        {
            if old.options == t.options
                && old.scope_count == t.scope_count
                && *old.fields == *t.fields
            {
                return Applied::Unchanged;
            }
            if old.learned_ns > t.learned_ns {
                return Applied::Stale;
            }
        }
        let before = stats.templates_learned;
        let wire = std::mem::replace(&mut self.origin, origin);
        self.learn(addr, &t.as_learn(), limits, stats);
        self.origin = wire;
        let learned = stats.templates_learned > before;
        // applied, not learned from the wire; and no datagram summary of its own
        stats.templates_learned = before;
        stats.last = DatagramSummary::default();
        if let Some(e) = self.exporters.get_mut(addr) {
            e.last_used = last_used.unwrap_or(0);
        }
        if learned {
            Applied::Applied
        } else {
            Applied::Limit
        }
    }

    /// Applies a tombstone published at `published_ns` (see the module's rules).
    pub fn apply_removal(
        &mut self,
        addr: &Addr,
        version: u8,
        domain: u32,
        id: u16,
        published_ns: u64,
    ) -> Applied {
        let key = tkey(version, domain, id);
        let Some(e) = self.exporters.get_mut(addr) else {
            return Applied::Unchanged;
        };
        let Some(t) = e.templates.get(&key) else {
            return Applied::Unchanged;
        };
        let learned_later = matches!(t.origin, Origin::Wire) && t.learned_ns > published_ns;
        let in_use = t.used_ns != 0 && t.used_ns.saturating_add(TOMBSTONE_GRACE_NS) > published_ns;
        if learned_later || in_use {
            return Applied::Stale;
        }
        if let Some(t) = e.templates.remove(&key) {
            e.template_heap -= t.heap();
        }
        self.reaccount(addr);
        self.dirty = true;
        Applied::Applied
    }

    /// Applies a sampling rate (`rate` 0: only the system init time) another instance learned.
    #[allow(clippy::too_many_arguments)]
    pub fn apply_rate(
        &mut self,
        addr: &Addr,
        version: u8,
        domain: u32,
        sampler: Option<u64>,
        rate: u64,
        sys_init_ms: u64,
        limits: &Limits,
        stats: &mut DecodeStats,
    ) -> Applied {
        if !matches!(version, 9 | 10) || (sampler.is_some() && rate == 0) {
            return Applied::Invalid;
        }
        let last_used = self.exporters.get(addr).map(|e| e.last_used);
        let max = limits.max_templates_per_exporter;
        let Some(x) = self.exporter_or_insert(addr, limits, stats) else {
            return Applied::Limit;
        };
        let rate = (rate != 0).then_some(rate);
        let added = x
            .rates
            .store(version, domain, sampler, rate, sys_init_ms, max);
        let changed = std::mem::take(&mut x.rates.fresh);
        x.last_used = last_used.unwrap_or(0);
        if added {
            self.rates_grew(addr, limits, stats);
        }
        if changed {
            Applied::Applied
        } else if sampler.is_some()
            && !added
            && self
                .domain_rates(addr, version, domain)
                .iter()
                .all(|r| r.0 != sampler)
        {
            Applied::Limit
        } else {
            Applied::Unchanged
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(n: u16) -> Vec<FieldSpec> {
        (0..n)
            .map(|i| FieldSpec {
                id: 1 + i,
                len: 4,
                pen: 0,
            })
            .collect()
    }

    fn saved(id: u16, n: u16, learned_ns: u64) -> SavedTemplate {
        SavedTemplate {
            version: 10,
            domain: 1,
            id,
            options: false,
            scope_count: 0,
            fields: fields(n),
            learned_ns,
            used_ns: 0,
        }
    }

    fn from(name: &str) -> Origin {
        Origin::Cluster {
            instance: name.into(),
            applied_ns: 5,
        }
    }

    fn learn(c: &mut TemplateCache, addr: &Addr, id: u16, n: u16, now_ns: u64) {
        let f = fields(n);
        let mut st = DecodeStats::default();
        c.learn(
            addr,
            &Learn {
                version: 10,
                domain: 1,
                id,
                options: false,
                scope_count: 0,
                fields: &f,
                now_ns,
            },
            &Limits::default(),
            &mut st,
        );
    }

    #[test]
    fn the_wire_is_journaled_applied_records_are_not() {
        let mut c = TemplateCache::default();
        c.enable_journal();
        let a = Addr::v4([192, 0, 2, 1]);
        let b = Addr::v4([192, 0, 2, 2]);
        learn(&mut c, &a, 256, 3, 100);
        // a re-sent identical template is no change
        learn(&mut c, &a, 256, 3, 200);
        let mut st = DecodeStats::default();
        let l = Limits::default();
        assert_eq!(
            c.apply_template(&b, &saved(300, 2, 150), from("x"), &l, &mut st),
            Applied::Applied
        );
        assert_eq!(
            st.templates_learned, 0,
            "applied, not learned from the wire"
        );
        c.withdraw(&a, 10, 1, 256);
        let mut out = Vec::new();
        c.take_changes(&mut out);
        assert_eq!(
            out,
            vec![
                Change::Learned {
                    addr: a,
                    key: tkey(10, 1, 256)
                },
                Change::Removed {
                    addr: a,
                    version: 10,
                    domain: 1,
                    id: 256,
                    why: Removal::Withdrawn
                }
            ]
        );
        // the applied template does not expire here (its publisher's tombstone removes it),
        // and nothing of it is published
        c.expire(u64::MAX);
        out.clear();
        c.take_changes(&mut out);
        assert!(out.is_empty(), "{out:?}");
        let t = c.templates();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].origin, "cluster");
    }

    #[test]
    fn an_older_record_does_not_replace_a_later_wire_template() {
        let mut c = TemplateCache::default();
        let a = Addr::v4([192, 0, 2, 1]);
        let l = Limits::default();
        let mut st = DecodeStats::default();
        learn(&mut c, &a, 256, 3, 1_000);
        // published before the wire taught this instance its layout: stale
        assert_eq!(
            c.apply_template(&a, &saved(256, 5, 900), from("x"), &l, &mut st),
            Applied::Stale
        );
        assert_eq!(c.saved(&a, tkey(10, 1, 256)).unwrap().fields.len(), 3);
        // the same layout: nothing to do
        assert_eq!(
            c.apply_template(&a, &saved(256, 3, 2_000), from("x"), &l, &mut st),
            Applied::Unchanged
        );
        // a redefinition published later wins
        assert_eq!(
            c.apply_template(&a, &saved(256, 5, 3_000), from("x"), &l, &mut st),
            Applied::Applied
        );
        let t = c.templates();
        assert_eq!(t[0].fields.len(), 5);
        assert_eq!(t[0].origin, "cluster");
        assert_eq!(t[0].instance.as_deref(), Some("x"));
    }

    #[test]
    fn tombstones_leave_templates_in_use() {
        let mut c = TemplateCache::default();
        let a = Addr::v4([192, 0, 2, 1]);
        let l = Limits::default();
        let mut st = DecodeStats::default();
        c.apply_template(&a, &saved(256, 3, 1_000), from("x"), &l, &mut st);
        c.apply_template(&a, &saved(257, 3, 1_000), from("x"), &l, &mut st);
        let e = c.exporters.get_mut(&a).unwrap();
        e.templates.get_mut(&tkey(10, 1, 257)).unwrap().used_ns = 5_000_000_000;
        assert_eq!(
            c.apply_removal(&a, 10, 1, 256, 10_000_000_000),
            Applied::Applied
        );
        // used for data 5 s before the tombstone: kept
        assert_eq!(
            c.apply_removal(&a, 10, 1, 257, 10_000_000_000),
            Applied::Stale
        );
        assert_eq!(c.apply_removal(&a, 10, 1, 999, 1), Applied::Unchanged);
        assert_eq!(c.template_count(), 1);
        assert_eq!(c.template_bytes(), c.recount());
    }

    #[test]
    fn limits_apply_and_cluster_exporters_go_first() {
        let mut c = TemplateCache::default();
        let l = Limits {
            max_exporters: 16,
            max_fields_per_template: 4,
            ..Limits::default()
        };
        let mut st = DecodeStats::default();
        let own = Addr::v4([10, 0, 0, 1]);
        learn(&mut c, &own, 256, 3, 1);
        let a = Addr::v4([192, 0, 2, 1]);
        assert_eq!(
            c.apply_template(&a, &saved(256, 5, 1), from("x"), &l, &mut st),
            Applied::Limit
        );
        // a flood of exporters from the topic: the one this instance hears stays
        for i in 0..100u8 {
            let x = Addr::v4([198, 51, 100, i]);
            c.apply_template(&x, &saved(256, 3, 1), from("x"), &l, &mut st);
        }
        assert!(c.exporter_count() <= 16);
        assert!(c.saved(&own, tkey(10, 1, 256)).is_some());
        assert_eq!(
            c.apply_template(&a, &saved(256, 3, 1), Origin::Wire, &l, &mut st),
            Applied::Applied
        );
        let bad = SavedTemplate {
            version: 5,
            ..saved(256, 3, 1)
        };
        assert_eq!(
            c.apply_template(&a, &bad, from("x"), &l, &mut st),
            Applied::Invalid
        );
    }

    #[test]
    fn rates_are_journaled_from_the_wire_only() {
        let mut c = TemplateCache::default();
        c.enable_journal();
        let a = Addr::v4([192, 0, 2, 1]);
        let l = Limits::default();
        let mut st = DecodeStats::default();
        assert_eq!(
            c.apply_rate(&a, 10, 1, Some(3), 100, 0, &l, &mut st),
            Applied::Applied
        );
        assert_eq!(
            c.apply_rate(&a, 10, 1, Some(3), 100, 0, &l, &mut st),
            Applied::Unchanged
        );
        assert_eq!(
            c.apply_rate(&a, 10, 1, None, 64, 7, &l, &mut st),
            Applied::Applied
        );
        let mut out = Vec::new();
        c.take_changes(&mut out);
        assert!(out.is_empty());
        let mut r = c.domain_rates(&a, 10, 1);
        r.sort();
        assert_eq!(r, vec![(None, 64, 7), (Some(3), 100, 0)]);
        c.rates_changed(&a, 10, 1);
        c.take_changes(&mut out);
        assert_eq!(out.len(), 1);
    }
}
