//! The sFlow hot path (decode + header parse + map + goflow-v2 encode of one flow sample with
//! a 128-byte Ethernet/IPv4/TCP header) allocates nothing, and how long it takes.
//!
//! `cargo test --release --test sflow_hot_path -- --ignored --nocapture` prints the timing.

use coreflow::decode::sflow::fixture::bench_flow_datagram;
use coreflow::decode::Decoder;
use coreflow::flow::FlowRecord;
use coreflow::schema::Schema;
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

#[test]
#[ignore = "timing; run with --release --ignored"]
fn flow_sample_hot_path_timing() {
    let d = bench_flow_datagram();
    let src: IpAddr = [192, 0, 2, 1].into();
    let mut dec = Decoder::default();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let n = 2_000_000u64;
    for (label, delimited) in [("encode_pb", false), ("encode_pb_delimited", true)] {
        let t = std::time::Instant::now();
        for i in 0..n {
            buf.clear();
            let _ = dec.decode(src, i, std::hint::black_box(&d), &mut |r: &FlowRecord| {
                if delimited {
                    Schema::GoflowV2.encode_pb_delimited(r, &mut buf)
                } else {
                    Schema::GoflowV2.encode_pb(r, &mut buf)
                }
            });
            std::hint::black_box(&buf);
        }
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        println!("sflow flow sample, decode+parse+map+goflow-v2 {label}: {ns:.1} ns/flow");
    }
    let t = std::time::Instant::now();
    for i in 0..n {
        let _ = dec.decode(src, i, std::hint::black_box(&d), &mut |r: &FlowRecord| {
            std::hint::black_box(r);
        });
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!("sflow flow sample, decode+parse+map only: {ns:.1} ns/flow");
}
