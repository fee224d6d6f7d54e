//! The sFlow hot path (decode + header parse + map + goflow-v2 encode of one flow sample with
//! a 128-byte Ethernet/IPv4/TCP header) allocates nothing, and how long it takes.
//!
//! `cargo test --release --test sflow_hot_path -- --ignored --nocapture` prints the timing.

use coreflow::decode::Decoder;
use coreflow::encode::schema::Schema;
use coreflow::flow::FlowRecord;
use coreflow_flowgen::builders::sflow::bench_flow_datagram;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;

/// Counts allocations made by the current thread (other test threads do not disturb it).
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// const-initialised thread-local `Cell`, which never allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn flow_sample_decode_map_encode_does_not_allocate() {
    let d = bench_flow_datagram();
    let src: IpAddr = [192, 0, 2, 1].into();
    let mut dec = Decoder::default();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut flows = 0u64;
    // warm-up: anything lazily set up happens here
    dec.decode(src, 1, &d, &mut |r: &FlowRecord| {
        Schema::GoflowV2.encode_pb(r, &mut buf)
    })
    .unwrap();
    let before = allocs();
    for i in 0..1000 {
        buf.clear();
        dec.decode(src, i, &d, &mut |r: &FlowRecord| {
            flows += 1;
            Schema::GoflowV2.encode_pb(r, &mut buf)
        })
        .unwrap();
    }
    assert_eq!(allocs() - before, 0, "allocations on the hot path");
    assert_eq!(flows, 1000);
    // the varint-delimited framing the file/Kafka outputs use
    let before = allocs();
    for i in 0..1000 {
        buf.clear();
        dec.decode(src, i, &d, &mut |r: &FlowRecord| {
            Schema::GoflowV2.encode_pb_delimited(r, &mut buf)
        })
        .unwrap();
    }
    assert_eq!(allocs() - before, 0, "allocations with delimited framing");
    assert!(buf.len() > 80, "{}", buf.len());
}

/// The fastest of `trials` runs of `iters` calls, in ns per call: on a shared machine the
/// minimum is the run that was not preempted.
fn min_ns(trials: usize, iters: u64, mut f: impl FnMut(u64)) -> f64 {
    (0..trials)
        .map(|_| {
            let t = std::time::Instant::now();
            for i in 0..iters {
                f(i);
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
#[ignore = "timing; run with --release --ignored"]
fn flow_sample_hot_path_timing() {
    let d = bench_flow_datagram();
    let src: IpAddr = [192, 0, 2, 1].into();
    let mut dec = Decoder::default();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let ns = min_ns(200, 20_000, |i| {
        let _ = dec.decode(src, i, std::hint::black_box(&d), &mut |r: &FlowRecord| {
            std::hint::black_box(r);
        });
    });
    println!("sflow flow sample, decode+parse+map only: {ns:.1} ns/flow");
    let ns = min_ns(200, 20_000, |i| {
        buf.clear();
        let _ = dec.decode(src, i, std::hint::black_box(&d), &mut |r: &FlowRecord| {
            Schema::GoflowV2.encode_pb(r, &mut buf)
        });
        std::hint::black_box(&buf);
    });
    println!("sflow flow sample, decode+parse+map+goflow-v2 encode_pb: {ns:.1} ns/flow");
    let ns = min_ns(200, 20_000, |i| {
        buf.clear();
        let _ = dec.decode(src, i, std::hint::black_box(&d), &mut |r: &FlowRecord| {
            Schema::GoflowV2.encode_pb_delimited(r, &mut buf)
        });
        std::hint::black_box(&buf);
    });
    println!("sflow flow sample, decode+parse+map+goflow-v2 delimited: {ns:.1} ns/flow");
    let mut r = FlowRecord::default();
    let ns = min_ns(200, 20_000, |_| {
        buf.clear();
        r.bytes += 1;
        Schema::GoflowV2.encode_pb(std::hint::black_box(&r), &mut buf);
        std::hint::black_box(&buf);
    });
    println!("(goflow-v2 encode_pb of a mostly empty record alone: {ns:.1} ns)");
    println!("size_of FlowRecord = {}", std::mem::size_of::<FlowRecord>());
}

#[test]
#[ignore = "timing; run with --release --ignored"]
fn netflow5_reference_timing() {
    // calibration on the same machine: NetFlow v5, one 48-byte record, decode+map only
    let mut d = vec![0u8; 24 + 48];
    d[1] = 5;
    d[3] = 1;
    let src: IpAddr = [192, 0, 2, 1].into();
    let mut dec = Decoder::default();
    let ns = min_ns(200, 20_000, |i| {
        let _ = dec.decode(src, i, std::hint::black_box(&d), &mut |r: &FlowRecord| {
            std::hint::black_box(r);
        });
    });
    println!("netflow v5, one record, decode+map only: {ns:.1} ns/flow");
}
