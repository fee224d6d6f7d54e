//! Batches against the `Vec` encoders: in-place protobuf, extras, mapped fields, keys.
use super::*;
use crate::flow::{Addr, FlowRecord, FlowType};

/// Messages encoded in place (both framings) are byte for byte what the `Vec` encoders
/// write, whether the length prefix guessed from the previous message is right or not
/// (short and long messages alternating, in runs), across buffer growth and reuse.
#[test]
fn in_place_encoding_matches_vec_encoding() {
    let short = FlowRecord {
        flow_type: FlowType::NetflowV5,
        bytes: 1,
        ..FlowRecord::default()
    };
    let mut long = short;
    long.src_addr = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    long.dst_addr = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    long.sampler_address = Addr::v4([192, 0, 2, 1]);
    long.packets = u64::MAX;
    long.time_flow_start_ns = 1_700_000_000_000_000_000;
    long.time_flow_end_ns = 1_700_000_000_000_000_001;
    long.in_if = 70000;
    long.out_if = 3;
    long.next_hop = long.src_addr;
    long.bgp_next_hop = long.dst_addr;
    long.src_as = 4_200_000_000;
    long.dst_as = 4_200_000_001;
    long.src_mac = 0x0200_5e00_5301;
    long.dst_mac = 0x0200_5e00_5302;
    long.src_port = 65000;
    long.dst_port = 443;
    long.src_vlan = 4000;
    long.dst_vlan = 4001;
    long.ipv6_flow_label = 0xfffff;
    let pattern = [0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 1];
    for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
        for framing in [Framing::Stream, Framing::Bare] {
            let enc = Encoding {
                format: Format::Pb,
                schema,
                framing,
                key: key::KeyMode::None,
                counters: false,
                extras: Extras::default(),
            };
            // starts smaller than one message's room: the buffer grows while in use
            let mut b = Batch::new(0, 16, 4);
            for round in 0..3 {
                b.clear();
                let mut want = Vec::new();
                let mut sizes = Vec::new();
                for (i, &p) in pattern.iter().cycle().take(40 * (round + 1)).enumerate() {
                    let mut r = if p == 1 { long } else { short };
                    r.sequence_num = i as u32;
                    enc.push(&r, &mut b);
                    let before = want.len();
                    enc.encode(&r, &mut want);
                    sizes.push(want.len() - before);
                }
                assert_eq!(b.bytes(), &want[..], "{schema:?} {framing:?} round {round}");
                let got: Vec<usize> = b.messages().map(<[u8]>::len).collect();
                assert_eq!(got, sizes);
                // both prefix lengths were exercised
                if framing == Framing::Stream {
                    assert!(
                        sizes.iter().any(|&n| n < 0x80) && sizes.iter().any(|&n| n > 0x81),
                        "{schema:?}: {sizes:?}"
                    );
                }
            }
        }
    }
}

/// With extras, a batch holds what `extras::encode` writes (the reference, through a
/// `Vec`), in every schema and framing: renormalized protobuf encoded in place, the
/// instance field appended with the length prefix fixed, short messages whose prefix
/// grows to 2 bytes included.
#[test]
fn extras_in_batches_match_the_reference() {
    let inst = extras::Instance::leak("collector-fra1");
    let long_name = extras::Instance::leak(&"x".repeat(120));
    let short = FlowRecord {
        flow_type: FlowType::NetflowV5,
        sampling_rate: 10,
        bytes: 1,
        packets: 1,
        ..FlowRecord::default()
    };
    let mut long = short;
    long.src_addr = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    long.dst_addr = long.src_addr;
    long.bytes = u64::MAX / 3;
    for instance in [None, Some(inst), Some(long_name)] {
        let ex = Extras {
            renormalize: true,
            instance,
        };
        for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
            for format in [Format::Pb, Format::Json] {
                for framing in [Framing::Stream, Framing::Bare] {
                    let enc = Encoding {
                        format,
                        schema,
                        framing,
                        key: key::KeyMode::None,
                        counters: false,
                        extras: ex,
                    };
                    let mut b = Batch::new(0, 16, 4);
                    let mut want = Vec::new();
                    let mut sat = 0;
                    for r in [short, long, long, short, short, long] {
                        enc.push(&r, &mut b);
                        let stream = framing == Framing::Stream;
                        sat += u32::from(extras::encode(
                            ex, format, stream, schema, &r, None, &mut want,
                        ));
                    }
                    assert_eq!(b.bytes(), &want[..], "{schema:?} {format:?} {framing:?}");
                    assert_eq!((b.len(), b.saturated, sat), (6, 3, 3));
                }
            }
        }
    }
}

/// Messages with mapped fields encoded in place are what the `Vec` path writes, across
/// the 1- and 2-byte length prefixes, with the values' fast form or without.
#[test]
fn mapped_messages_in_place_match_vec_encoding() {
    use crate::mapping::{Entry, Mapped, Mapping, Repeat, Source, UintVal, Value, ValueType};
    let m = Mapping {
        entries: (0..2)
            .map(|i| Entry {
                source: Source::Sflow {
                    layer: crate::mapping::Layer::Header,
                    offset: 0,
                    length: 8,
                },
                number: 1000 + i,
                name: format!("m{i}"),
                ty: ValueType::Uint,
                repeat: Repeat::First,
            })
            .collect(),
    };
    let data = [0u8, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
    let vals = [
        Value {
            entry: 0,
            len: 2,
            off: 8,
        },
        Value {
            entry: 1,
            len: 4,
            off: 8,
        },
    ];
    let uints: Vec<UintVal> = vals
        .iter()
        .map(|v| UintVal::of(&m.entries[usize::from(v.entry)], v).unwrap())
        .collect();
    let general = Mapped {
        mapping: &m,
        data: &data,
        vals: &vals,
        uints: &[],
    };
    let fast = Mapped {
        uints: &uints,
        ..general
    };
    let short = FlowRecord {
        flow_type: FlowType::NetflowV5,
        bytes: 1,
        ..FlowRecord::default()
    };
    let mut long = short;
    long.src_addr = Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    long.dst_addr = long.src_addr;
    long.next_hop = long.src_addr;
    long.bgp_next_hop = long.src_addr;
    long.time_flow_start_ns = 1_700_000_000_000_000_000;
    // with renormalization and the instance field too: what `extras::encode` writes
    let both = Extras {
        renormalize: true,
        instance: Some(extras::Instance::leak("collector-fra1")),
    };
    for ex in [Extras::default(), both] {
        for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
            for (format, framing) in [
                (Format::Pb, Framing::Stream),
                (Format::Pb, Framing::Bare),
                (Format::Json, Framing::Stream),
            ] {
                if format == Format::Json && !ex.active() {
                    continue;
                }
                let enc = Encoding {
                    format,
                    schema,
                    framing,
                    key: key::KeyMode::None,
                    counters: false,
                    extras: ex,
                };
                let mut b = Batch::new(0, 16, 4);
                let mut want = Vec::new();
                for (i, r) in [short, long, short, short, long].iter().enumerate() {
                    let mapped = if i % 2 == 0 { &general } else { &fast };
                    enc.push_mapped(r, mapped, &mut b);
                    if ex.active() {
                        let stream = framing == Framing::Stream;
                        extras::encode(ex, format, stream, schema, r, Some(&general), &mut want);
                    } else {
                        enc.encode_mapped(r, &general, &mut want);
                    }
                }
                assert_eq!(b.bytes(), &want[..], "{schema:?} {framing:?} {ex:?}");
            }
        }
    }
}

#[test]
fn batch_messages_and_framing() {
    let rec = FlowRecord {
        flow_type: FlowType::NetflowV5,
        bytes: 1234,
        src_addr: Addr::v4([10, 0, 0, 1]),
        ..FlowRecord::default()
    };
    let mut b = Batch::new(0, 1024, 4);
    let enc = Encoding {
        format: Format::Pb,
        schema: Schema::GoflowV2,
        framing: Framing::Stream,
        key: key::KeyMode::None,
        counters: false,
        extras: Extras::default(),
    };
    b.push_with(|buf| enc.encode(&rec, buf));
    b.push_with(|buf| enc.encode(&rec, buf));
    assert_eq!(b.len(), 2);
    let msgs: Vec<&[u8]> = b.messages().collect();
    assert_eq!(msgs[0], msgs[1]);
    // varint prefix = length of the rest
    assert_eq!(msgs[0][0] as usize, msgs[0].len() - 1);
    let bare = Encoding {
        framing: Framing::Bare,
        ..enc
    };
    let mut b2 = Batch::new(0, 1024, 4);
    b2.push_with(|buf| bare.encode(&rec, buf));
    assert_eq!(b2.bytes(), &msgs[0][1..]);
    let json = Encoding {
        format: Format::Json,
        ..enc
    };
    let mut b3 = Batch::new(0, 1024, 4);
    b3.push_with(|buf| json.encode(&rec, buf));
    assert!(b3.bytes().ends_with(b"}\n"));
    b3.clear();
    assert!(b3.is_empty() && b3.byte_len() == 0);
}

#[test]
fn keyed_batches_and_counters() {
    let rec = FlowRecord {
        sampler_address: Addr::v4([192, 0, 2, 1]),
        ..FlowRecord::default()
    };
    let enc = Encoding {
        format: Format::Pb,
        schema: Schema::GoflowV2,
        framing: Framing::Bare,
        key: key::KeyMode::Exporter,
        counters: true,
        extras: Extras::default(),
    };
    let mut b = Batch::new(0, 1024, 4);
    enc.push(&rec, &mut b);
    let cr = crate::decode::sflow::CounterRecord {
        agent_address: Addr::v4([192, 0, 2, 9]),
        ..Default::default()
    };
    enc.push_counters(&cr, &mut b);
    enc.push(&rec, &mut b);
    let e: Vec<Entry> = b.entries().collect();
    assert_eq!(e.len(), 3);
    assert_eq!(e[0].key, Some(&[192, 0, 2, 1][..]));
    assert_eq!(e[1].key, Some(&[192, 0, 2, 9][..]));
    assert!(!e[0].counter && e[1].counter && !e[2].counter);
    use prost::Message;
    let m = crate::pb::goflow_v2::FlowMessage::decode(e[2].value).unwrap();
    assert_eq!(m.router_addr, vec![192, 0, 2, 1]);
    let c = crate::pb::counters::CounterMessage::decode(e[1].value).unwrap();
    assert_eq!(c.agent_address, vec![192, 0, 2, 9]);
    b.clear();
    let plain = Encoding {
        key: key::KeyMode::None,
        ..enc
    };
    plain.push(&rec, &mut b);
    assert_eq!(b.entries().next().unwrap().key, None);
}
