//! Decodes and encodes flowgen datagrams in a loop (for callgrind / perf).
//! `hotloop PROTO ROUNDS [SCHEMA [json]]` (SCHEMA: v2, v3, goflow2; protobuf unless `json`)
//!
//! PROTO: v5, v9, ipfix, sflow (flowgen's exporters), or `ipfix-frame` / `sflow-frame`: the
//! same 128-byte Ethernet / IPv4 / TCP header, 10 per datagram, as IPFIX dataLinkFrameSection
//! (IE 315) records (the template in the first datagram of each exporter only) or as sFlow
//! flow samples (what one sampled packet costs either way); `ipfix-frame-min`: the IPFIX
//! records with the frame size and the section alone (312 + 315).
use coreflow::decode::Decoder;
use coreflow::encode::batch::{Batch, BatchWriter, Encoding, Framing};
use coreflow::encode::key::KeyMode;
use coreflow::encode::schema::Schema;
use coreflow::encode::Format;
use coreflow::flow::FlowRecord;
use coreflow_flowgen::{Exporter, GenOptions, GenProtocol};
use std::net::IpAddr;

const RECV_NS: u64 = 1_700_000_000_123_456_789;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let proto_arg = args.get(1).map(String::as_str).unwrap_or("v5");
    let protocol = match proto_arg {
        "v9" => GenProtocol::V9,
        "ipfix" => GenProtocol::Ipfix,
        "sflow" => GenProtocol::Sflow,
        _ => GenProtocol::V5,
    };
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let schema = match args.get(3).map(String::as_str) {
        Some("v3") => Schema::GoflowV3,
        Some("goflow2") => Schema::Goflow2,
        _ => Schema::GoflowV2,
    };
    let format = match args.get(4).map(String::as_str) {
        Some("json") => Format::Json,
        _ => Format::Pb,
    };
    let enc = Encoding {
        format,
        schema,
        framing: Framing::Stream,
        key: KeyMode::None,
        counters: false,
        // RENORMALIZE=1: output.renormalize on; INSTANCE=name: output.instance_field on
        extras: coreflow::encode::extras::Extras {
            renormalize: std::env::var_os("RENORMALIZE").is_some(),
            instance: std::env::var("INSTANCE")
                .ok()
                .map(|n| coreflow::encode::extras::Instance::leak(&n)),
        },
    };
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
    let mut data = Vec::new();
    let distinct: u64 = std::env::var("DISTINCT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    for round in 0..=distinct {
        for e in exporters.iter_mut() {
            let mut d = Vec::new();
            e.datagram(RECV_NS + round * 1_000_000, &mut d);
            data.push((e.ip, d));
        }
    }
    if proto_arg == "ipfix-frame" || proto_arg == "sflow-frame" || proto_arg == "ipfix-frame-min" {
        let frame = coreflow_flowgen::builders::eth_ipv4_tcp(128);
        data.clear();
        for round in 0..=distinct {
            for i in 0..16u8 {
                let d = if proto_arg == "ipfix-frame-min" {
                    coreflow_flowgen::builders::ipfix_datalink_min(
                        10,
                        round as u32,
                        &frame,
                        round == 0,
                    )
                } else if proto_arg == "ipfix-frame" && round == 0 {
                    coreflow_flowgen::builders::ipfix_datalink(10, 0, &frame)
                } else if proto_arg == "ipfix-frame" {
                    coreflow_flowgen::builders::ipfix_datalink_data(10, round as u32, &frame)
                } else {
                    coreflow_flowgen::builders::sflow_flow_samples(10, &frame)
                };
                data.push((IpAddr::from([127, 0, 1, i + 1]), d));
            }
        }
    }
    let mut dec = Decoder::default();
    for (ip, d) in &data[..16] {
        let _ = dec.decode(*ip, RECV_NS, d, &mut |_: &FlowRecord| {});
    }
    let nb: usize = std::env::var("NB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut batches: Vec<Batch> = (0..nb).map(|_| Batch::new(0, 320 << 10, 4096)).collect();
    let mut bi = 0;
    let mut total = 0usize;
    let mut records = 0u64;
    let sleep_us: u64 = std::env::var("SLEEP_US")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let burst: usize = std::env::var("BURST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let mut since = 0usize;
    for _ in 0..rounds {
        for (ip, d) in &data[16..] {
            since += 1;
            if sleep_us > 0 && since >= burst {
                since = 0;
                std::thread::sleep(std::time::Duration::from_micros(sleep_us));
            }
            if batches[bi].byte_len() > 250 << 10 {
                total += batches[bi].byte_len();
                batches[bi].clear();
                bi = (bi + 1) % nb;
            }
            let mut sink = BatchWriter {
                encoding: &enc,
                batch: &mut batches[bi],
                flows: 0,
            };
            let _ = dec.decode(*ip, RECV_NS, std::hint::black_box(d), &mut sink);
            records += sink.flows;
        }
    }
    println!("records={records} bytes={}", total + batches[bi].byte_len());
}
