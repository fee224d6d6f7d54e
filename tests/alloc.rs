//! Zero heap allocations per record in steady state (DESIGN.md: "Nothing on the hot path ...
//! allocates per packet or per flow").
//!
//! A counting global allocator wraps the system allocator for this test binary only. Counting
//! is per thread (the test harness runs other tests on other threads), switched on around the
//! measured loop. Each check warms up first (templates learned, output buffer grown), then
//! decodes and encodes many datagrams into the pre-grown buffer and expects no allocation.

mod common;

use common::builders;
use coreflow::decode::Decoder;
use coreflow::encode::schema::Schema;
use coreflow::flow::{Addr, FieldGroups, FlowRecord};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note_alloc() {
    // try_with: the allocator may run while this thread's locals are being torn down
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counting only touches const-initialised thread locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with allocation counting on; returns the number of allocations it made.
fn count_allocs(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(|n| n.get())
}

const EXPORTER: [u8; 4] = [192, 0, 2, 1];
const ROUNDS: usize = 1_000;

/// Decodes `data` (after `warmup` datagrams) and encodes every flow as goflow-v2 protobuf
/// into one buffer; returns (allocations in the measured rounds, flows per datagram).
fn steady_state(warmup: &[Vec<u8>], data: &[u8]) -> (u64, usize) {
    let exporter = IpAddr::from(EXPORTER);
    let mut dec = Decoder::default();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut flows = 0usize;
    for w in warmup {
        let _ = dec.decode(exporter, 1, w, &mut |_: &FlowRecord| {});
    }
    // a few rounds outside the count: anything lazily initialised happens here
    for _ in 0..3 {
        buf.clear();
        flows = 0;
        let _ = dec.decode(exporter, 2, data, &mut |r: &FlowRecord| {
            flows += 1;
            Schema::GoflowV2.encode_pb_delimited(r, &mut buf);
        });
    }
    let per_datagram = flows;
    let allocs = count_allocs(|| {
        for i in 0..ROUNDS {
            buf.clear();
            let _ = dec.decode(exporter, 3 + i as u64, data, &mut |r: &FlowRecord| {
                Schema::GoflowV2.encode_pb_delimited(r, &mut buf);
            });
        }
    });
    (allocs, per_datagram)
}

#[test]
fn counter_sees_allocations() {
    // the harness itself works: a Vec allocation is counted
    let n = count_allocs(|| {
        let v: Vec<u64> = Vec::with_capacity(16);
        std::hint::black_box(&v);
    });
    assert!(n >= 1, "the counting allocator missed an allocation");
}

#[test]
fn netflow5_decode_and_encode_allocate_nothing() {
    let d = builders::netflow5(30);
    let (allocs, flows) = steady_state(&[], &d);
    assert_eq!(flows, 30, "the v5 datagram decodes");
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations for {} records ({} per record)",
        30 * ROUNDS,
        allocs as f64 / (30 * ROUNDS) as f64
    );
}

#[test]
fn json_encoding_into_a_grown_buffer_allocates_nothing() {
    // the replay/file output path: JSON lines into a pre-grown buffer, GoFlow's JSON and
    // goflow2's (every field: addresses, prefixes, lists), IPv4 and IPv6
    let d = builders::netflow5(30);
    let mut recs = Vec::new();
    Decoder::default()
        .decode(IpAddr::from(EXPORTER), 1, &d, &mut |r: &FlowRecord| {
            recs.push(*r)
        })
        .unwrap();
    let mut v6 = recs[0];
    v6.src_addr = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5]);
    v6.dst_addr = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9]);
    v6.src_net = 48;
    v6.groups = FieldGroups::ALL;
    v6.mpls_ip = Addr::v4([192, 0, 2, 9]);
    v6.push_mpls(16001, 64);
    v6.push_as(65001);
    v6.push_community(1);
    v6.push_layer(0, 14);
    recs.push(v6);
    for schema in [Schema::GoflowV2, Schema::Goflow2] {
        let mut buf = Vec::with_capacity(1 << 20);
        for r in &recs {
            schema.encode_json(r, &mut buf);
        }
        let allocs = count_allocs(|| {
            for _ in 0..100 {
                buf.clear();
                for r in &recs {
                    schema.encode_json(r, &mut buf);
                    buf.push(b'\n');
                }
            }
        });
        assert_eq!(
            allocs,
            0,
            "{schema:?}: {allocs} allocations for {} records",
            100 * recs.len()
        );
    }
}

// Learning a template may allocate (once, in the warm-up); decoding data records with a known
// template must not.

#[test]
fn netflow9_data_decode_and_encode_allocate_nothing() {
    let (allocs, flows) = steady_state(
        &[builders::netflow9_template(1)],
        &builders::netflow9_data(30, 2),
    );
    assert_eq!(
        flows, 30,
        "the v9 data datagram decodes with the learned template"
    );
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations for {} records",
        30 * ROUNDS
    );

    // exporters re-send their templates all the time: an identical template refreshed in
    // every datagram must not allocate either
    let (allocs, flows) = steady_state(&[], &builders::netflow9_template_and_data(30, 3));
    assert_eq!(flows, 30);
    assert_eq!(
        allocs, 0,
        "{allocs} allocations with the template re-sent each datagram"
    );
}

#[test]
fn ipfix_data_decode_and_encode_allocate_nothing() {
    let (allocs, flows) =
        steady_state(&[builders::ipfix_template(1)], &builders::ipfix_data(30, 2));
    assert_eq!(
        flows, 30,
        "the IPFIX data datagram decodes with the learned template"
    );
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations for {} records",
        30 * ROUNDS
    );

    let (allocs, flows) = steady_state(&[], &builders::ipfix_template_and_data(30, 3));
    assert_eq!(flows, 30);
    assert_eq!(
        allocs, 0,
        "{allocs} allocations with the template re-sent each datagram"
    );
}

#[test]
fn ipfix_packet_section_decode_and_encode_allocate_nothing() {
    // Juniper-style records carrying the sampled frame (IE 315), parsed by the header walk
    let frame = builders::eth_ipv4_tcp(128);
    let (allocs, flows) = steady_state(&[], &builders::ipfix_datalink(10, 4, &frame));
    assert_eq!(flows, 10);
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations for {} packet-section records",
        10 * ROUNDS
    );
}
