//! Sampling rates and system init times of one exporter, by domain and by sampler / selector
//! id, and the view of one domain's samplers that a data set reads.

use super::{dkey, DomainState, Fx};
use crate::decode::fields::SamplerRates;
use std::collections::HashMap;

/// Sampling rates and system init times of one exporter, by domain and by sampler id.
#[derive(Debug, Default)]
pub struct Rates {
    pub(super) domains: HashMap<u64, DomainState, Fx>,
    /// Sampling rate by (domain key, sampler id).
    pub(super) samplers: HashMap<(u64, u64), u64, Fx>,
    /// A rate or init time changed since the state was last persisted.
    pub(super) dirty: bool,
    /// A rate or init time changed since the cluster journal last looked
    /// ([`TemplateCache::rates_changed`](super::TemplateCache::rates_changed)).
    pub(crate) fresh: bool,
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
        // `dirty` tells the state writer; what this call changes also tells the journal
        let was_dirty = std::mem::take(&mut self.dirty);
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
        self.fresh |= self.dirty;
        self.dirty |= was_dirty;
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
