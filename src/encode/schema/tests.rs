//! The encoders checked against prost: every layout decodes with the prost-generated types
//! of `crate::pb`, varints and the cached prefix come out byte for byte as prost writes
//! them, and the JSON form carries GoFlow's keys and value formats.

use super::map::NS;
use super::writer::PREFIX;
use super::Schema;
use crate::flow::{layer, Addr, FlowRecord, FlowType};
use crate::pb;
use prost::Message;

fn sample() -> FlowRecord {
    let mut r = FlowRecord {
        flow_type: FlowType::NetflowV9,
        time_received_ns: 1_700_000_000_123_456_789,
        time_flow_start_ns: 1_699_999_990_000_000_000,
        time_flow_end_ns: 1_699_999_999_000_000_000,
        sequence_num: 42,
        sampling_rate: 1000,
        sampler_address: Addr::v4([192, 0, 2, 1]),
        src_addr: Addr::v4([10, 0, 0, 1]),
        dst_addr: Addr::v6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        bytes: 1500,
        packets: 3,
        proto: 6,
        src_port: 443,
        dst_port: 51000,
        src_mac: 0x0011_2233_4455,
        etype: 0x86dd,
        ip_flags: 2,
        bi_flow_direction: 1,
        flow_direction: 1,
        ingress_vrf_id: 7,
        ..Default::default()
    };
    r.push_mpls(16001, 64);
    r.push_mpls(24000, 63);
    r.push_as(65001);
    r.push_as(65002);
    r.push_layer(layer::ETHERNET, 14);
    r.push_layer(layer::IPV6, 40);
    r
}

#[test]
fn v2_round_trips_through_prost() {
    let r = sample();
    let mut buf = Vec::new();
    Schema::GoflowV2.encode_pb(&r, &mut buf);
    let m = pb::goflow_v2::FlowMessage::decode(&buf[..]).unwrap();
    assert_eq!(m.r#type, 9);
    assert_eq!(m.time_recvd, 1_700_000_000);
    assert_eq!(m.time_received_ns, r.time_received_ns);
    assert_eq!(m.time_flow, 1_699_999_999);
    assert_eq!(m.time_flow_start, 1_699_999_990);
    assert_eq!(m.src_ip, vec![10, 0, 0, 1]);
    assert_eq!(m.dst_ip.len(), 16);
    assert_eq!(m.i_pversion, 4);
    assert_eq!(m.router_addr, vec![192, 0, 2, 1]);
    assert_eq!((m.bytes, m.packets, m.proto), (1500, 3, 6));
    assert_eq!((m.src_port, m.dst_port), (443, 51000));
    assert_eq!(m.src_mac, 0x0011_2233_4455);
    assert_eq!(m.ingress_vrf_id, 7);
    assert!(m.has_mpls);
    assert_eq!((m.mpls_count, m.mpls1_label, m.mpls1ttl), (2, 16001, 64));
    assert_eq!((m.mpls_last_label, m.mpls_last_ttl), (24000, 63));
    assert_eq!(m.as_path, vec![65001, 65002]);
    assert_eq!(
        (m.bi_flow_direction, m.ip_flags, m.flow_direction),
        (1, 2, 1)
    );
}

#[test]
fn v3_and_goflow2_round_trip() {
    let r = sample();
    let mut buf = Vec::new();
    Schema::GoflowV3.encode_pb(&r, &mut buf);
    let m = pb::goflow_v3::FlowMessage::decode(&buf[..]).unwrap();
    assert_eq!(m.r#type, 3);
    assert_eq!(m.time_flow_start, 1_699_999_990);
    assert_eq!(m.time_flow_end, 1_699_999_999);
    assert_eq!(m.ingress_vrf_id, 7);
    assert_eq!(m.bi_flow_direction, 1);
    assert_eq!(m.sampler_address, vec![192, 0, 2, 1]);

    buf.clear();
    Schema::Goflow2.encode_pb(&r, &mut buf);
    let m = pb::goflow2::FlowMessage::decode(&buf[..]).unwrap();
    assert_eq!(m.r#type, 3);
    assert_eq!(m.time_flow_start_ns, r.time_flow_start_ns);
    assert_eq!(m.mpls_label, vec![16001, 24000]);
    assert_eq!(m.mpls_ttl, vec![64, 63]);
    assert_eq!(m.ip_flags, 2);
    assert_eq!(m.layer_stack, vec![0, 2]);
    assert_eq!(m.layer_size, vec![14, 40]);
}

#[test]
fn varints_match_prost() {
    let mut vals = vec![
        0u64,
        1,
        127,
        128,
        300,
        16383,
        16384,
        u64::from(u32::MAX),
        u64::MAX,
        // bit patterns that catch a group moved to the wrong byte
        0x5555_5555_5555_5555,
        0xAAAA_AAAA_AAAA_AAAA,
        0x0123_4567_89AB_CDEF,
        0xFEDC_BA98_7654_3210,
        0x00F0_F0F0_F0F0_F0F0,
        1_700_000_000_123_456_789,
    ];
    for shift in 0..64 {
        vals.push(1u64 << shift);
        vals.push((1u64 << shift) - 1);
        vals.push((1u64 << shift) + 1);
    }
    for v in vals {
        let r = FlowRecord {
            bytes: v,
            packets: v,
            ..Default::default()
        };
        let mut buf = Vec::new();
        Schema::GoflowV2.encode_pb(&r, &mut buf);
        let m = pb::goflow_v2::FlowMessage::decode(&buf[..]).unwrap();
        assert_eq!((m.bytes, m.packets), (v, v), "{v:#x}");
        let expect = pb::goflow_v2::FlowMessage {
            bytes: v,
            packets: v,
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(buf, expect, "{v:#x}");
    }
}

/// The cached leading fields come out as if encoded afresh, whichever prefix field
/// changes between records and whichever schema wrote the cache last.
#[test]
fn prefix_cache_matches_fresh_encoding() {
    fn fresh(schema: Schema, r: &FlowRecord) -> Vec<u8> {
        PREFIX.with_borrow_mut(|p| p.schema = 0);
        let mut b = Vec::new();
        schema.encode_pb(r, &mut b);
        b
    }
    let base = sample();
    let mut records = vec![base, base];
    let mut r = base;
    r.sequence_num += 1;
    records.push(r);
    r.time_received_ns += 1_000_000_000;
    records.push(r);
    r.sampling_rate = 0;
    records.push(r);
    r.flow_type = FlowType::Ipfix;
    records.push(r);
    r.sampling_rate = u64::MAX;
    r.sequence_num = u32::MAX;
    r.time_received_ns = u64::MAX;
    records.push(r);
    records.push(FlowRecord::default());
    records.push(base);
    for schemas in [
        [Schema::GoflowV2, Schema::GoflowV2, Schema::GoflowV3],
        [Schema::Goflow2, Schema::GoflowV3, Schema::GoflowV2],
    ] {
        for r in &records {
            for schema in schemas {
                let mut b = Vec::new();
                schema.encode_pb(r, &mut b);
                assert_eq!(b, fresh(schema, r), "{schema:?}");
                let m = pb::goflow_v2::FlowMessage::decode(&b[..]).unwrap();
                assert_eq!(m.sequence_num, r.sequence_num);
                assert_eq!(m.sampling_rate, r.sampling_rate);
            }
        }
    }
}

/// Random records (each field zero or not, small or large), encoded back to back so the
/// prefix cache and the end-time copy are in play: each message is what prost writes for
/// the same values (canonical field order and varints), in every schema.
#[test]
fn random_records_encode_canonically() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut pick = move || {
        let x = next();
        match x % 4 {
            0 => 0,
            1 => x >> 57,
            2 => x >> 40,
            _ => x >> (x % 64),
        }
    };
    let base = sample();
    for i in 0..2000 {
        let mut r = base;
        r.time_received_ns = if i % 3 == 0 {
            pick()
        } else {
            base.time_received_ns
        };
        r.time_flow_end_ns = pick();
        r.time_flow_start_ns = pick();
        r.sampling_rate = if i % 5 == 0 {
            pick()
        } else {
            base.sampling_rate
        };
        r.sequence_num = (i / 7) as u32;
        r.bytes = pick();
        r.packets = pick();
        r.src_port = pick() as u32;
        r.icmp_type = pick() as u32;
        r.egress_vrf_id = pick() as u32;
        r.ipv6_flow_label_encap = pick() as u32;
        r.has_encap = pick() % 2 == 1;
        r.mpls_count = (pick() % 3) as u8;
        r.observation_domain_id = pick() as u32;
        for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
            let mut b = Vec::new();
            schema.encode_pb(&r, &mut b);
            let again = match schema {
                Schema::GoflowV2 => {
                    let m = pb::goflow_v2::FlowMessage::decode(&b[..]).unwrap();
                    assert_eq!(m.time_flow, r.time_flow_end_ns / NS);
                    assert_eq!(m.time_flow_end, r.time_flow_end_ns / NS);
                    assert_eq!(m.time_received_ns, r.time_received_ns);
                    assert_eq!(m.egress_vrf_id, r.egress_vrf_id);
                    m.encode_to_vec()
                }
                Schema::GoflowV3 => pb::goflow_v3::FlowMessage::decode(&b[..])
                    .unwrap()
                    .encode_to_vec(),
                Schema::Goflow2 => {
                    let m = pb::goflow2::FlowMessage::decode(&b[..]).unwrap();
                    assert_eq!(m.time_received_ns, r.time_received_ns);
                    m.encode_to_vec()
                }
            };
            assert_eq!(b, again, "{schema:?} record {i}");
        }
    }
}

#[test]
fn delimited_prefix() {
    let r = sample();
    let mut buf = vec![0xAA];
    Schema::GoflowV2.encode_pb_delimited(&r, &mut buf);
    let m = pb::goflow_v2::FlowMessage::decode_length_delimited(&buf[1..]).unwrap();
    assert_eq!(m.bytes, 1500);
}

#[test]
fn json_keys_and_values() {
    let r = sample();
    let mut buf = Vec::new();
    Schema::GoflowV2.encode_json(&r, &mut buf);
    let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(v["Type"], "NFV9");
    assert_eq!(v["SrcIP"], "10.0.0.1");
    assert_eq!(v["DstIP"], "2001:db8::1");
    assert_eq!(v["SrcMac"], "00:11:22:33:44:55");
    assert_eq!(v["Bytes"], 1500);
    assert_eq!(v["AsPath"], serde_json::json!([65001, 65002]));
    assert!(v.get("DstMac").is_none());

    buf.clear();
    Schema::Goflow2.encode_json(&r, &mut buf);
    let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(v["type"], "NETFLOW_V9");
    assert_eq!(v["layer_stack"], serde_json::json!(["Ethernet", "IPv6"]));
}

#[test]
fn discard_reason_in_v2_pb_and_json() {
    // an sFlow discarded-packet sample without a sampled header: interfaces and the reason
    let r = FlowRecord {
        flow_type: FlowType::SFlow5,
        in_if: 3,
        packets: 1,
        forwarding_status: 137,
        discard_reason: 257,
        ..Default::default()
    };
    let mut buf = Vec::new();
    Schema::GoflowV2.encode_pb(&r, &mut buf);
    let m = pb::goflow_v2::FlowMessage::decode(&buf[..]).unwrap();
    assert_eq!(
        (m.forwarding_status, m.discard_reason, m.src_if),
        (137, 257, 3)
    );
    buf.clear();
    Schema::GoflowV2.encode_json(&r, &mut buf);
    let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(
        (v["DiscardReason"].as_u64(), v["ForwardingStatus"].as_u64()),
        (Some(257), Some(137))
    );
}
