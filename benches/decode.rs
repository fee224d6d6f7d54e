//! Decode + map + encode throughput, per flow record.
//!
//! - `decode_encode/*`: one datagram decoded by a warm `Decoder` (templates already learned),
//!   every flow encoded as GoFlow v2 protobuf (length-delimited) into a batch, the way a
//!   worker does (`Encoding::push`): the collector's hot path. NetFlow v5: a 30-record datagram. NetFlow v9 / IPFIX: 30 data
//!   records of a typical 20-field template (5-tuple, bytes, packets, interfaces, times, TOS,
//!   TCP flags, AS, masks, next hops, direction). sFlow: 10 flow samples, each with a 128-byte
//!   Ethernet/IPv4/TCP sampled header.
//! - `flowgen/*`: the same, over the datagrams `flowgen` sends (16 exporters, 30 records per
//!   NetFlow datagram, 8 samples per sFlow datagram; one round of one datagram per exporter
//!   per iteration). Its flows vary from record to record (ports, counters, AS numbers,
//!   address families) as real traffic does, where the hand-built datagrams above repeat one
//!   shape: closer to what `tuning/measure.sh` loads a worker with.
//! - `encode/*`: one typical record encoded in each schema (protobuf), and as JSON.
//!
//! Throughput is in records (`Throughput::Elements`); all setup is outside the timed closures.
//! The NetFlow v9 / IPFIX / sFlow decoders are stubs until their branches are merged: those
//! benches run (and say so on stderr) but only measure the error path until then.
//!
//! `cargo bench --bench decode`; `cargo test --benches` runs each once as a test.

use coreflow::decode::Decoder;
use coreflow::encode::batch::{Batch, BatchWriter, Encoding, Framing};
use coreflow::encode::key::KeyMode;
use coreflow::encode::schema::Schema;
use coreflow::encode::Format;
use coreflow::flow::{Addr, FieldGroups, FlowRecord};
use coreflow_flowgen::builders;
use coreflow_flowgen::{Exporter, GenOptions, GenProtocol};
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

/// What a worker encodes with: GoFlow v2 protobuf, length-delimited, no key (the file sink).
const ENCODING: Encoding = Encoding {
    format: Format::Pb,
    schema: Schema::GoflowV2,
    framing: Framing::Stream,
    key: KeyMode::None,
    counters: false,
    extras: coreflow::encode::extras::Extras {
        renormalize: false,
        instance: None,
    },
};

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
        let mut batch = Batch::new(0, 320 << 10, 1024);
        let ip = IpAddr::from(EXPORTER);
        group.throughput(Throughput::Elements(per_datagram as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                batch.clear();
                let mut sink = BatchWriter {
                    encoding: &ENCODING,
                    batch: &mut batch,
                    flows: 0,
                };
                let res = dec.decode(ip, RECV_NS, black_box(&data), &mut sink);
                black_box((res.is_ok(), batch.byte_len()))
            })
        });
    }
    group.finish();
}

/// Datagrams of a `flowgen` run: `rounds` rounds of one datagram per exporter (16
/// exporters), templates and sampling options first (v9/IPFIX).
fn flowgen_datagrams(protocol: GenProtocol, rounds: u64) -> Vec<(IpAddr, Vec<u8>)> {
    let opts = GenOptions::new(protocol);
    let mut exporters: Vec<Exporter> = (0..16u8)
        .map(|i| {
            Exporter::new(
                u32::from(i),
                IpAddr::from([127, 0, 1, i + 1]),
                opts,
                RECV_NS,
            )
        })
        .collect();
    let mut out = Vec::new();
    for round in 0..rounds {
        for e in exporters.iter_mut() {
            let mut d = Vec::new();
            e.datagram(RECV_NS + round * 1_000_000, &mut d);
            out.push((e.ip, d));
        }
    }
    out
}

fn flowgen(c: &mut Criterion) {
    let mut group = c.benchmark_group("flowgen");
    for protocol in [
        GenProtocol::V5,
        GenProtocol::V9,
        GenProtocol::Ipfix,
        GenProtocol::Sflow,
    ] {
        // the first round carries the templates; the measured one is the next (data only)
        let all = flowgen_datagrams(protocol, 2);
        let (first, measured) = all.split_at(16);
        let mut dec = Decoder::default();
        for (ip, d) in first {
            let _ = dec.decode(*ip, RECV_NS, d, &mut |_: &FlowRecord| {});
        }
        let mut per_round = 0u64;
        for (ip, d) in measured {
            let _ = dec.decode(*ip, RECV_NS, d, &mut |_: &FlowRecord| per_round += 1);
        }
        let mut batch = Batch::new(0, 320 << 10, 1024);
        group.throughput(Throughput::Elements(per_round));
        group.bench_function(protocol.name(), |b| {
            b.iter(|| {
                batch.clear();
                for (ip, d) in measured {
                    let mut sink = BatchWriter {
                        encoding: &ENCODING,
                        batch: &mut batch,
                        flows: 0,
                    };
                    let _ = dec.decode(*ip, RECV_NS, black_box(d), &mut sink);
                }
                black_box(batch.byte_len())
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
    // fields a v5 record does not have: the groups a v9 template with them would give
    r.groups = FieldGroups(FieldGroups::BGP | FieldGroups::MISC);
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

criterion_group!(benches, decode_encode, flowgen, encode);
criterion_main!(benches);
