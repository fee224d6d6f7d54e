//! The hasher of the per-exporter maps. std's SipHash costs more than the lookups it guards
//! here, and it buys nothing: the keys are integers and every map is bounded by `Limits`, so
//! hash flooding cannot grow them.

use std::hash::Hasher;

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
