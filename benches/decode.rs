//! Decode + map + encode throughput, per flow record.
//!
//! - `decode_encode/*`: one datagram decoded by a warm `Decoder` (templates already learned),
//!   every flow encoded as GoFlow v2 protobuf (length-delimited) into a pre-grown buffer, the
//!   collector's hot path. NetFlow v5: a 30-record datagram. NetFlow v9 / IPFIX: 30 data
//!   records of a typical 20-field template (5-tuple, bytes, packets, interfaces, times, TOS,
//!   TCP flags, AS, masks, next hops, direction). sFlow: 10 flow samples, each with a 128-byte
//!   Ethernet/IPv4/TCP sampled header.
//! - `encode/*`: one typical record encoded in each schema (protobuf), and as JSON.
//!
//! Throughput is in records (`Throughput::Elements`); all setup is outside the timed closures.
//! The NetFlow v9 / IPFIX / sFlow decoders are stubs until their branches are merged: those
//! benches run (and say so on stderr) but only measure the error path until then.
//!
//! `cargo bench --bench decode`; `cargo test --benches` runs each once as a test.

#[path = "../tests/common/builders.rs"]
mod builders;

use coreflow::decode::Decoder;
use coreflow::flow::{Addr, FlowRecord};
use coreflow::schema::Schema;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::net::IpAddr;

const EXPORTER: [u8; 4] = [192, 0, 2, 1];
/// A realistic receive time (ns since the epoch): its size on the wire matters to the encoders.
const RECV_NS: u64 = 1_700_000_000_123_456_789;

/// A decoder that has seen `warmup`, and the number of flows `data` gives.
fn warm_decoder(name: &str, warmup: &[Vec<u8>], data: &[u8], want: usize) -> Decoder {
    let mut dec = Decoder::default();
    let ip = IpAddr::from(EXPORTER);
    for w in warmup {
        let _ = dec.decode(ip, 1, w, &mut |_: &FlowRecord| {});
    }
    let mut n = 0usize;
    let res = dec.decode(ip, 2, data, &mut |_: &FlowRecord| n += 1);
    if n != want {
        eprintln!(
            "note: {name}: the datagram gave {n} flows, not {want} ({res:?}); this bench \
             measures the error path until the decoder is merged"
        );
    }
    dec
}

/// (name, datagrams that teach the templates, the measured datagram, flows it holds)
type Case = (&'static str, Vec<Vec<u8>>, Vec<u8>, usize);

fn decode_encode(c: &mut Criterion) {
    let header = builders::eth_ipv4_tcp(128);
    let cases: Vec<Case> = vec![
        ("netflow5", vec![], builders::netflow5(30), 30),
        (
            "netflow9",
            vec![builders::netflow9_template(1)],
            builders::netflow9_data(30, 2),
            30,
        ),
        (
            "ipfix",
            vec![builders::ipfix_template(1)],
            builders::ipfix_data(30, 2),
            30,
        ),
        (
            "sflow",
            vec![],
            builders::sflow_flow_samples(10, &header),
            10,
        ),
    ];
    let mut group = c.benchmark_group("decode_encode");
    for (name, warmup, data, per_datagram) in cases {
        let mut dec = warm_decoder(name, &warmup, &data, per_datagram);
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        let ip = IpAddr::from(EXPORTER);
        group.throughput(Throughput::Elements(per_datagram as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                buf.clear();
                let res = dec.decode(ip, RECV_NS, black_box(&data), &mut |r: &FlowRecord| {
                    Schema::GoflowV2.encode_pb_delimited(r, &mut buf)
                });
                black_box((res.is_ok(), buf.len()))
            })
        });
    }
    group.finish();
}

/// A typical NetFlow v9-like record: IPv4 5-tuple, counters, interfaces, times, AS, masks,
/// next hops, sampling.
fn typical_record() -> FlowRecord {
    let mut r = FlowRecord::default();
    Decoder::default()
        .decode(
            IpAddr::from(EXPORTER),
            RECV_NS,
            &builders::netflow5(1),
            &mut |x: &FlowRecord| r = *x,
        )
        .expect("the v5 builder decodes");
    r.bgp_next_hop = Addr::v4([198, 51, 100, 1]);
    r.ingress_vrf_id = 7;
    r.flow_direction = 1;
    r
}

fn encode(c: &mut Criterion) {
    let r = typical_record();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
        group.bench_function(format!("{}/pb", schema.name()), |b| {
            b.iter(|| {
                buf.clear();
                schema.encode_pb_delimited(black_box(&r), &mut buf);
                black_box(buf.len())
            })
        });
    }
    for schema in [Schema::GoflowV2, Schema::Goflow2] {
        group.bench_function(format!("{}/json", schema.name()), |b| {
            b.iter(|| {
                buf.clear();
                schema.encode_json(black_box(&r), &mut buf);
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode_encode, encode);
criterion_main!(benches);
