//! Heap accounting of the template cache: what the allocator hands out per request and what
//! std's hash tables allocate, so that `max_template_bytes` bounds the real heap, not the wire
//! sizes.

use std::mem::size_of;

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
pub(super) fn buckets_for(cap: usize) -> usize {
    match cap {
        0 => 0,
        1..=3 => 4,
        4..=7 => 8,
        _ => cap.saturating_mul(8).div_ceil(7).next_power_of_two(),
    }
}

/// Heap bytes of a hashbrown table of `buckets` entries of `T`: the entries, one control byte
/// each and one trailing group of 16.
pub(super) fn table_bytes<T>(buckets: usize) -> usize {
    if buckets == 0 {
        return 0;
    }
    alloc_size((buckets * size_of::<T>()).next_multiple_of(16) + buckets + 16)
}

/// The buckets a map has allocated, as far as its `capacity()` tells. Removals leave
/// tombstones that lower `capacity()` without freeing anything and std never shrinks a map
/// by itself, so the largest count seen is the one allocated.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Buckets(pub(super) usize);

impl Buckets {
    pub(super) fn seen(&mut self, capacity: usize) -> usize {
        self.0 = self.0.max(buckets_for(capacity));
        self.0
    }
}
