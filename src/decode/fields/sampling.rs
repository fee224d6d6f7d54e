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
pub(super) const S304: u8 = 6; // selectorAlgorithm
pub(super) const S311: u8 = 7; // samplingProbability (stored as f64 bits)

/// Sampling IEs seen in one record (options or data).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sampling {
    pub(super) raw: [u64; 8],
    pub(super) present: u8,
    pub sampler_id: Option<u64>,
    pub sys_init_ms: u64,
}

impl Sampling {
    /// The sampling rate these IEs give, if any. With a selectorAlgorithm (304) the
    /// elements that algorithm defines decide (RFC 5475 / RFC 7014, IANA PSAMP registry):
    /// 1 systematic count-based: (305 + 306) / 305 (305 alone: 305); 3 random n-out-of-N:
    /// 310 / 309; 4 uniform probabilistic: 1 / 311, rounded. Without an algorithm, or when
    /// the algorithm's elements are missing or zero, or for an algorithm that defines no
    /// packet rate (time-based, hash, filtering): (305+306)/305, else 305, else 50, else 34,
    /// else 310/309 (population / size).
    pub fn rate(&self) -> Option<u64> {
        if self.has(S304) {
            let by_algorithm = match self.v(S304) {
                1 => self.count_based(),
                3 => self.n_out_of_n(),
                4 => self.probability(),
                _ => None,
            };
            if by_algorithm.is_some() {
                return by_algorithm;
            }
        }
        if let Some(r) = self.count_based() {
            return Some(r);
        }
        if self.has(S50) && self.v(S50) > 0 {
            return Some(self.v(S50));
        }
        if self.has(S34) && self.v(S34) > 0 {
            return Some(self.v(S34));
        }
        self.n_out_of_n()
    }

    #[inline]
    fn has(&self, i: u8) -> bool {
        self.present & (1 << i) != 0
    }

    #[inline]
    fn v(&self, i: u8) -> u64 {
        self.raw[i as usize]
    }

    /// Systematic count-based: `305` packets selected out of every `305 + 306`.
    fn count_based(&self) -> Option<u64> {
        let n = self.v(S305);
        if !self.has(S305) || n == 0 {
            return None;
        }
        if self.has(S306) {
            return Some(n.saturating_add(self.v(S306)) / n);
        }
        Some(n)
    }

    /// Random n-out-of-N: `309` packets out of every `310`.
    fn n_out_of_n(&self) -> Option<u64> {
        let (n, pop) = (self.v(S309), self.v(S310));
        (self.has(S309) && self.has(S310) && n > 0 && pop > 0).then(|| pop / n)
    }

    /// Uniform probabilistic: each packet selected with probability `311` (0 < p <= 1).
    fn probability(&self) -> Option<u64> {
        let p = f64::from_bits(self.v(S311));
        if !(self.has(S311) && p > 0.0 && p <= 1.0) {
            return None;
        }
        Some((1.0 / p).round() as u64)
    }
}

/// Sampling rates by sampler id, as a data set sees them (read-only during the set).
pub(crate) trait SamplerRates {
    fn rate(&self, sampler_id: u64) -> Option<u64>;
}
