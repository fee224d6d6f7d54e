//! The histograms behind the latency and size metrics, and the slot a thread publishes its
//! snapshot through.
//!
//! - [`Lat`]: an hdrhistogram of nanoseconds (2 significant digits, 1 ns to 60 s, about 30 KiB)
//!   plus the exact sum, owned by one thread, merged on scrape, exported as a Prometheus
//!   histogram over fixed buckets and as p50/p90/p99/p999 gauges.
//! - [`LogHist`]: power-of-two buckets for the small per-exporter summaries (datagram sizes,
//!   export delay), a few hundred bytes each.
//! - [`Published`]: a `Mutex<Arc<T>>` that only its owner writes, with `try_lock`, so a scrape
//!   never blocks the owner and the owner never waits for a scrape.

use hdrhistogram::Histogram;
use std::sync::{Arc, Mutex};

/// Highest latency the hdrhistogram tracks (larger values are clamped).
pub const LAT_MAX_NS: u64 = 60_000_000_000;

/// The quantiles exported as gauges next to each latency histogram.
pub const QUANTILES: [(f64, &str); 4] =
    [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99"), (0.999, "0.999")];

/// Decode time per datagram: 1 us to 50 ms.
pub const DECODE_BUCKETS: [f64; 14] = [
    1e-6, 2.5e-6, 5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
    50e-3,
];

/// Receive -> output / delivery: 100 us to 60 s.
pub const PIPELINE_BUCKETS: [f64; 18] = [
    100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0,
    2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A latency histogram in nanoseconds with its exact sum.
#[derive(Clone, Debug)]
pub struct Lat {
    h: Histogram<u64>,
    sum_ns: u64,
}

impl Default for Lat {
    fn default() -> Self {
        Lat::new()
    }
}

impl Lat {
    pub fn new() -> Lat {
        Lat {
            h: Histogram::new_with_bounds(1, LAT_MAX_NS, 2).expect("valid hdrhistogram bounds"),
            sum_ns: 0,
        }
    }

    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.h.saturating_record(ns.clamp(1, LAT_MAX_NS));
        self.sum_ns = self.sum_ns.wrapping_add(ns);
    }

    /// Records `n` samples of the same value (one batch of `n` flows).
    #[inline]
    pub fn record_n(&mut self, ns: u64, n: u64) {
        if n == 0 {
            return;
        }
        self.h.saturating_record_n(ns.clamp(1, LAT_MAX_NS), n);
        self.sum_ns = self.sum_ns.wrapping_add(ns.saturating_mul(n));
    }

    pub fn merge(&mut self, o: &Lat) {
        // same bounds on both sides: cannot fail
        let _ = self.h.add(&o.h);
        self.sum_ns = self.sum_ns.wrapping_add(o.sum_ns);
    }

    pub fn count(&self) -> u64 {
        self.h.len()
    }

    pub fn sum_secs(&self) -> f64 {
        self.sum_ns as f64 / 1e9
    }

    /// The value at quantile `q`, in seconds (0 when empty).
    pub fn quantile_secs(&self, q: f64) -> f64 {
        if self.h.is_empty() {
            return 0.0;
        }
        self.h.value_at_quantile(q) as f64 / 1e9
    }

    /// Cumulative counts at each bucket bound (seconds), for a Prometheus histogram.
    pub fn cumulative(&self, bounds: &[f64]) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = bounds.iter().map(|&b| (b, 0)).collect();
        for v in self.h.iter_recorded() {
            let secs = v.value_iterated_to() as f64 / 1e9;
            let n = v.count_at_value();
            // first bound >= value; values above the last bound only reach +Inf
            let i = out.partition_point(|&(b, _)| b < secs);
            if let Some(slot) = out.get_mut(i) {
                slot.1 += n;
            }
        }
        let mut acc = 0;
        for slot in &mut out {
            acc += slot.1;
            slot.1 = acc;
        }
        out
    }
}

/// Power-of-two buckets: bucket 0 holds 0, bucket k holds [2^(k-1), 2^k); the last bucket
/// also holds everything larger. Quantiles interpolate linearly within a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogHist<const N: usize> {
    buckets: [u64; N],
    count: u64,
    sum: u64,
}

impl<const N: usize> Default for LogHist<N> {
    fn default() -> Self {
        LogHist {
            buckets: [0; N],
            count: 0,
            sum: 0,
        }
    }
}

impl<const N: usize> LogHist<N> {
    #[inline]
    pub fn record(&mut self, v: u64) {
        let k = ((64 - v.leading_zeros()) as usize).min(N - 1);
        self.buckets[k] += 1;
        self.count += 1;
        self.sum = self.sum.wrapping_add(v);
    }

    pub fn merge(&mut self, o: &Self) {
        for (a, b) in self.buckets.iter_mut().zip(o.buckets.iter()) {
            *a += b;
        }
        self.count += o.count;
        self.sum = self.sum.wrapping_add(o.sum);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// Estimated value at quantile `q` (0 when empty).
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = (q * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (k, &n) in self.buckets.iter().enumerate() {
            if n == 0 {
                continue;
            }
            if seen + n >= rank {
                if k == 0 {
                    return 0.0;
                }
                let lo = (1u64 << (k - 1)) as f64;
                let hi = lo * 2.0;
                let frac = (rank - seen) as f64 / n as f64;
                return lo + (hi - lo) * frac;
            }
            seen += n;
        }
        0.0
    }
}

/// One thread's latest snapshot, for the metrics thread to read. The owner replaces it with
/// `try_lock` (a held lock means a scrape is copying the `Arc` out: it tries again at the
/// next interval); readers lock only to clone the `Arc`.
#[derive(Debug, Default)]
pub struct Published<T>(Mutex<Arc<T>>);

impl<T> Published<T> {
    pub fn new(v: T) -> Published<T> {
        Published(Mutex::new(Arc::new(v)))
    }

    /// Replaces the snapshot unless a reader holds the lock right now (then `Err(v)`).
    pub fn try_publish(&self, v: T) -> Result<(), T> {
        match self.0.try_lock() {
            Ok(mut g) => {
                *g = Arc::new(v);
                Ok(())
            }
            Err(std::sync::TryLockError::Poisoned(p)) => {
                *p.into_inner() = Arc::new(v);
                Ok(())
            }
            Err(std::sync::TryLockError::WouldBlock) => Err(v),
        }
    }

    /// Replaces the snapshot, waiting for a reader if needed (only at exit).
    pub fn publish(&self, v: T) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(v);
    }

    pub fn get(&self) -> Arc<T> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lat_quantiles_and_buckets() {
        let mut l = Lat::new();
        for us in 1..=1000u64 {
            l.record(us * 1000);
        }
        assert_eq!(l.count(), 1000);
        let p50 = l.quantile_secs(0.5);
        assert!((p50 - 500e-6).abs() < 10e-6, "{p50}");
        let p999 = l.quantile_secs(0.999);
        assert!((p999 - 999e-6).abs() < 15e-6, "{p999}");
        assert!((l.sum_secs() - 0.5005).abs() < 1e-9);
        let b = l.cumulative(&[100e-6, 1e-3, 1.0]);
        assert!((95..=105).contains(&b[0].1), "{b:?}");
        // hdr precision (2 digits): a value on a bound may land just above it
        assert!((990..=1000).contains(&b[1].1), "{b:?}");
        assert_eq!(b[2].1, 1000);
        let mut m = Lat::new();
        m.record_n(2_000_000_000, 10);
        m.merge(&l);
        assert_eq!(m.count(), 1010);
        // above every bound: only +Inf holds them
        assert!((990..=1000).contains(&m.cumulative(&[1.0])[0].1));
        assert_eq!(Lat::new().quantile_secs(0.99), 0.0);
    }

    #[test]
    fn log_hist() {
        let mut h = LogHist::<17>::default();
        assert_eq!(h.quantile(0.5), 0.0);
        for v in [0u64, 1, 100, 100, 100, 1500, 70_000] {
            h.record(v);
        }
        assert_eq!(h.count(), 7);
        assert_eq!(h.sum(), 71_801);
        let p50 = h.quantile(0.5);
        assert!((64.0..=128.0).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99);
        assert!(p99 >= 65_536.0, "{p99}");
        let mut g = h;
        g.merge(&h);
        assert_eq!(g.count(), 14);
    }

    #[test]
    fn published_never_blocks_the_owner() {
        let p = Published::new(1u32);
        let held = p.0.lock().unwrap();
        assert_eq!(p.try_publish(2), Err(2));
        drop(held);
        assert!(p.try_publish(3).is_ok());
        assert_eq!(*p.get(), 3);
    }
}
