//! Sampling information elements: what one record says about its sampling rate
//! ([`Sampling`], filled by `apply` through the indexes `S34`..`S310`), and the read-only
//! view of the sampler cache a data set resolves sampler ids through ([`SamplerRates`]).
//! The bottom layer of `fields`: it uses nothing of its siblings.

/// Indexes into [`Sampling::raw`].
pub(super) const S34: u8 = 0; // samplingInterval
pub(super) const S50: u8 = 1; // samplerRandomInterval
pub(super) const S305: u8 = 2; // samplingPacketInterval
pub(super) const S306: u8 = 3; // samplingPacketSpace
pub(super) const S309: u8 = 4; // samplingSize
pub(super) const S310: u8 = 5; // samplingPopulation

/// Sampling IEs seen in one record (options or data).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sampling {
    pub(super) raw: [u64; 6],
    pub(super) present: u8,
    pub sampler_id: Option<u64>,
    pub sys_init_ms: u64,
}

impl Sampling {
    /// The sampling rate these IEs give, if any: (305+306)/305, else 305, else 50, else 34,
    /// else 310/309 (population / size).
    pub fn rate(&self) -> Option<u64> {
        let has = |i: u8| self.present & (1 << i) != 0;
        let v = |i: u8| self.raw[i as usize];
        if has(S305) && v(S305) > 0 {
            if has(S306) {
                return Some(v(S305).saturating_add(v(S306)) / v(S305));
            }
            return Some(v(S305));
        }
        if has(S50) && v(S50) > 0 {
            return Some(v(S50));
        }
        if has(S34) && v(S34) > 0 {
            return Some(v(S34));
        }
        if has(S309) && has(S310) && v(S309) > 0 && v(S310) > 0 {
            return Some(v(S310) / v(S309));
        }
        None
    }
}

/// Sampling rates by sampler id, as a data set sees them (read-only during the set).
pub(crate) trait SamplerRates {
    fn rate(&self, sampler_id: u64) -> Option<u64>;
}
