//! Unit tests of the template compiler, the slots and the value readers.

use super::apply::Aux;
use super::kind::Kind;
use super::op::{window_shift, Val};
use super::plan::Plan;
use super::sampling::{Sampling, S305, S306, S309, S310, S34, S50};
use super::slots::{apply_slots, Slots, SLOT_KINDS};
use super::time::{ntp_to_unix_ns, TimeSrc, NTP_UNIX_OFFSET};
use crate::cursor::be_uint;
use crate::decode::spec::{FieldSpec, VARLEN};
use crate::flow::{Addr, FlowRecord};

fn f(id: u16, len: u16) -> FieldSpec {
    FieldSpec { id, len, pen: 0 }
}

#[test]
fn kind_table_in_order() {
    for (i, k) in Kind::ALL.iter().enumerate() {
        assert_eq!(*k as usize, i);
        assert_eq!(Kind::from_u8(i as u8), *k);
    }
    assert_eq!(Kind::from_u8(200), Kind::Skip);
}

#[test]
fn slots_take_windowed_integer_fields_once() {
    // IN_BYTES at 0..4 (no 8-byte window), IPV4_SRC_ADDR, L4_SRC_PORT at 8..10,
    // L4_DST_PORT at 10..12, L4_SRC_PORT again (a repetition), IN_PKTS at 14..18
    let fields = [f(1, 4), f(8, 4), f(7, 2), f(11, 2), f(7, 2), f(2, 4)];
    let p = Plan::build(&fields, false, 0, true, 256).unwrap();
    let slot = |k: Kind| SLOT_KINDS.iter().position(|&s| s == k).unwrap();
    assert_eq!(p.slots.end[slot(Kind::Bytes)], 0);
    assert_eq!(p.slots.end[slot(Kind::SrcPort)], 10);
    assert_eq!(p.slots.end[slot(Kind::DstPort)], 12);
    assert_eq!(p.slots.end[slot(Kind::Packets)], 18);
    assert_eq!(p.slots.shift[slot(Kind::Packets)], 32);
    let rest: Vec<_> = p.rest.iter().map(|o| o.kind).collect();
    assert_eq!(rest, [Kind::Bytes, Kind::SrcAddr, Kind::Dup]);
    assert_eq!(p.ops.len(), 6);
    // the slot table follows the field list it is written with
    let mut rec = FlowRecord::default();
    let r = [0, 0, 0, 7, 10, 0, 0, 1, 0, 80, 1, 187, 0, 53, 0, 0, 0, 9];
    apply_slots(&mut rec, &mut Aux::default(), &r, &p.slots);
    assert_eq!(
        (rec.src_port, rec.dst_port, rec.packets, rec.bytes),
        (80, 443, 9, 0)
    );
    // a repetition keeps the addresses in template order, through `apply`
    assert_eq!(p.slots.addr, [(0, 0); 3]);
    // a variable-length template has none: its fields move from record to record
    let var = Plan::build(&[f(7, 2), f(82, VARLEN)], false, 0, true, 257).unwrap();
    assert_eq!(var.slots, Slots::default());
    assert!(var.rest.is_empty());
}

#[test]
fn slots_take_addresses_and_times_without_repetitions() {
    // IPV4_SRC_ADDR 0..4, IPV6_DST_ADDR 4..20, IPV4_NEXT_HOP 20..24, octets 24..32,
    // flowStartMilliseconds 32..40, flowEndMilliseconds 40..48
    let fields = [f(8, 4), f(28, 16), f(15, 4), f(1, 8), f(152, 8), f(153, 8)];
    let p = Plan::build(&fields, false, 0, false, 256).unwrap();
    assert!(p.rest.is_empty(), "{:?}", p.rest);
    assert_eq!(p.slots.addr, [(0, 4), (4, 16), (20, 4)]);
    assert_eq!(p.slots.addr_etype, 0x86dd);
    assert_eq!(p.slots.times, [(40, 0), (48, 0)]);
    let mut r = [0u8; 48];
    r[..4].copy_from_slice(&[192, 0, 2, 1]);
    r[4] = 0x20;
    r[20..24].copy_from_slice(&[10, 0, 0, 1]);
    r[31] = 100;
    r[39] = 5;
    r[47] = 6;
    let (mut rec, mut aux) = (FlowRecord::default(), Aux::default());
    apply_slots(&mut rec, &mut aux, &r, &p.slots);
    assert_eq!(rec.src_addr, Addr::v4([192, 0, 2, 1]));
    assert_eq!(rec.dst_addr.as_slice()[0], 0x20);
    assert_eq!(rec.next_hop, Addr::v4([10, 0, 0, 1]));
    assert_eq!(
        (rec.etype, rec.bytes, aux.start, aux.end),
        (0x86dd, 100, 5, 6)
    );
}

#[test]
fn window_reads_any_length() {
    let r = [9u8, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8];
    for off in 0..r.len() {
        for len in 1..=(r.len() - off).min(8) {
            let x = Val {
                r: &r,
                off,
                len,
                shift: window_shift(off + len, len),
            };
            assert_eq!(x.uint(), be_uint(&r[off..off + len]), "{off} {len}");
        }
    }
}

#[test]
fn precedence_at_compile_time() {
    let p = Plan::build(&[f(23, 4), f(1, 4), f(24, 4)], false, 0, false, 256).unwrap();
    let kinds: Vec<_> = p.ops.iter().map(|o| (o.kind, o.off)).collect();
    // postOctetDeltaCount beside octetDeltaCount: the alternative when IE 1 is zero
    assert_eq!(
        kinds,
        vec![(Kind::AltCounter, 0), (Kind::Bytes, 4), (Kind::Packets, 8)]
    );
    let p = Plan::build(&[f(18, 4)], false, 0, false, 256).unwrap();
    assert_eq!(p.ops[0].kind, Kind::BgpNextHopBoth);
    let p = Plan::build(&[f(18, 4), f(15, 4)], false, 0, false, 256).unwrap();
    assert_eq!(p.ops[0].kind, Kind::BgpNextHop);
    // the most precise time wins, the other is skipped
    let p = Plan::build(&[f(150, 4), f(152, 8), f(153, 8)], false, 0, false, 256).unwrap();
    assert_eq!(p.start, TimeSrc::Millis as u8);
    assert_eq!(p.ops.len(), 2);
}

#[test]
fn rejects_empty_and_oversized() {
    assert!(Plan::build(&[], false, 0, false, 256).is_err());
    assert!(Plan::build(&[f(1, 0)], false, 0, false, 256).is_err());
    assert!(Plan::build(&[f(1, 65000), f(2, 1000)], false, 0, false, 256).is_err());
    let p = Plan::build(
        &[f(1, 4), f(82, VARLEN), f(3, 4), f(4, 1)],
        false,
        0,
        false,
        256,
    )
    .unwrap();
    assert!(!p.fixed);
    assert_eq!(p.min_len, 10);
    // skip(4 of 82's neighbours merged): bytes, var skip, skip 4, proto
    assert_eq!(p.ops.len(), 4);
}

#[test]
fn sampling_rate_rules() {
    let mut s = Sampling::default();
    assert_eq!(s.rate(), None);
    let set = |s: &mut Sampling, i: u8, v: u64| {
        s.raw[i as usize] = v;
        s.present |= 1 << i;
    };
    set(&mut s, S310, 1000);
    set(&mut s, S309, 10);
    assert_eq!(s.rate(), Some(100));
    set(&mut s, S34, 7);
    assert_eq!(s.rate(), Some(7));
    set(&mut s, S50, 9);
    assert_eq!(s.rate(), Some(9));
    set(&mut s, S305, 1);
    assert_eq!(s.rate(), Some(1));
    set(&mut s, S306, 999);
    assert_eq!(s.rate(), Some(1000));
}

#[test]
fn ntp() {
    // 2024-01-01T00:00:00.5Z
    let v = ((1_704_067_200u64 + NTP_UNIX_OFFSET) << 32) | 0x8000_0000;
    assert_eq!(ntp_to_unix_ns(v), 1_704_067_200_500_000_000);
    assert_eq!(ntp_to_unix_ns(0), 0);
}
