//! NetFlow v5: a 24-byte header and `count` fixed 48-byte records (Cisco layout).
//!
//! `Header::new_checked` checks the length once; after that no accessor can panic.

use super::fields::uptime_to_ns;
use super::seq::SeqNote;
use super::{DecodeError, Decoder, FlowSink, LimitKind, Section};
use crate::flow::{Addr, FieldGroups, Flow, FlowRecord, FlowType};
use std::net::IpAddr;

pub const HEADER_LEN: usize = 24;
pub const RECORD_LEN: usize = 48;

/// A view of the 24-byte v5 header.
#[derive(Clone, Copy)]
pub struct Header<'a>(&'a [u8; HEADER_LEN]);

impl<'a> Header<'a> {
    pub fn new_checked(b: &'a [u8]) -> Result<Self, DecodeError> {
        match b.get(..HEADER_LEN) {
            Some(h) => Ok(Header(h.try_into().expect("slice of HEADER_LEN"))),
            None => Err(DecodeError::Truncated {
                section: Section::Header,
                offset: 0,
                need: HEADER_LEN,
                have: b.len(),
            }),
        }
    }
    #[inline]
    fn u16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.0[at], self.0[at + 1]])
    }
    #[inline]
    fn u32(&self, at: usize) -> u32 {
        u32::from_be_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
    }
    pub fn version(&self) -> u16 {
        self.u16(0)
    }
    pub fn count(&self) -> u16 {
        self.u16(2)
    }
    pub fn sys_uptime_ms(&self) -> u32 {
        self.u32(4)
    }
    pub fn unix_secs(&self) -> u32 {
        self.u32(8)
    }
    pub fn unix_nsecs(&self) -> u32 {
        self.u32(12)
    }
    pub fn flow_sequence(&self) -> u32 {
        self.u32(16)
    }
    pub fn engine_type(&self) -> u8 {
        self.0[20]
    }
    pub fn engine_id(&self) -> u8 {
        self.0[21]
    }
    /// The low 14 bits of the sampling field: the interval.
    pub fn sampling_interval(&self) -> u16 {
        self.u16(22) & 0x3FFF
    }
    /// The top 2 bits of the sampling field: the sampling mode.
    pub fn sampling_mode(&self) -> u8 {
        (self.u16(22) >> 14) as u8
    }
}

/// What the records of one v5 datagram share.
#[derive(Clone, Copy, Debug)]
pub struct V5Datagram {
    time_received_ns: u64,
    sequence_num: u32,
    sampling_rate: u64,
    sampler_address: Addr,
    export_ns: u64,
    uptime_ms: u32,
}

/// One v5 record read in place, as a [`Flow`]: each field is read from the record's 48
/// bytes when asked for, the fields v5 does not carry are constants (zero), so an encoder
/// generic over `Flow` drops them at compile time, and no [`FlowRecord`] is filled for a
/// sink that encodes it directly.
#[derive(Clone, Copy)]
pub struct V5Flow<'a> {
    d: &'a V5Datagram,
    r: &'a [u8; RECORD_LEN],
}

impl V5Flow<'_> {
    #[inline(always)]
    fn u16at(&self, i: usize) -> u32 {
        u32::from(u16::from_be_bytes([self.r[i], self.r[i + 1]]))
    }
    #[inline(always)]
    fn u32at(&self, i: usize) -> u32 {
        u32::from_be_bytes([self.r[i], self.r[i + 1], self.r[i + 2], self.r[i + 3]])
    }
    #[inline(always)]
    fn v4at(&self, i: usize) -> Addr {
        Addr::v4([self.r[i], self.r[i + 1], self.r[i + 2], self.r[i + 3]])
    }
}

/// The accessors of the fields v5 carries, each an expression of the view (named by the
/// first ident).
macro_rules! present {
    ($v5:ident; $($name:ident: $ty:ty = $v:expr;)*) => {$(
        #[inline(always)]
        fn $name(&self) -> $ty {
            let $v5 = self;
            $v
        }
    )*};
}

/// The accessors whose value is the same for every v5 record: its type and its ether type
/// (IPv4).
macro_rules! fixed {
    ($($name:ident: $ty:ty = $v:expr;)*) => {$(
        #[inline(always)]
        fn $name(&self) -> $ty {
            $v
        }
    )*};
}

impl Flow for V5Flow<'_> {
    present! {
        v5;
        time_received_ns: u64 = v5.d.time_received_ns;
        sequence_num: u32 = v5.d.sequence_num;
        sampling_rate: u64 = v5.d.sampling_rate;
        sampler_address: Addr = v5.d.sampler_address;
        time_flow_start_ns: u64 = uptime_to_ns(v5.d.export_ns, v5.d.uptime_ms, v5.u32at(24));
        time_flow_end_ns: u64 = uptime_to_ns(v5.d.export_ns, v5.d.uptime_ms, v5.u32at(28));
        src_addr: Addr = v5.v4at(0);
        dst_addr: Addr = v5.v4at(4);
        next_hop: Addr = v5.v4at(8);
        in_if: u32 = v5.u16at(12);
        out_if: u32 = v5.u16at(14);
        packets: u64 = u64::from(v5.u32at(16));
        bytes: u64 = u64::from(v5.u32at(20));
        src_port: u32 = v5.u16at(32);
        dst_port: u32 = v5.u16at(34);
        tcp_flags: u32 = u32::from(v5.r[37]);
        proto: u32 = u32::from(v5.r[38]);
        ip_tos: u32 = u32::from(v5.r[39]);
        src_as: u32 = v5.u16at(40);
        dst_as: u32 = v5.u16at(42);
        src_net: u32 = u32::from(v5.r[44]);
        dst_net: u32 = u32::from(v5.r[45]);
    }
    // the fields v5 carries at a fixed value; every other accessor keeps its "not carried"
    // default (see `Flow`)
    fixed! {
        flow_type: FlowType = FlowType::NetflowV5;
        etype: u32 = 0x0800;
    }
    #[inline(always)]
    fn may_hold(&self, _groups: u8) -> bool {
        // a v5 record has none of the seldom-carried fields
        false
    }
    fn groups_hold(&self) -> bool {
        true
    }
    fn to_record(&self) -> FlowRecord {
        FlowRecord {
            flow_type: FlowType::NetflowV5,
            time_received_ns: self.d.time_received_ns,
            sequence_num: self.d.sequence_num,
            sampling_rate: self.d.sampling_rate,
            sampler_address: self.d.sampler_address,
            time_flow_start_ns: self.time_flow_start_ns(),
            time_flow_end_ns: self.time_flow_end_ns(),
            bytes: self.bytes(),
            packets: self.packets(),
            src_addr: self.src_addr(),
            dst_addr: self.dst_addr(),
            next_hop: self.next_hop(),
            etype: 0x0800,
            proto: self.proto(),
            src_port: self.src_port(),
            dst_port: self.dst_port(),
            in_if: self.in_if(),
            out_if: self.out_if(),
            ip_tos: self.ip_tos(),
            tcp_flags: self.tcp_flags(),
            src_as: self.src_as(),
            dst_as: self.dst_as(),
            src_net: self.src_net(),
            dst_net: self.dst_net(),
            groups: FieldGroups::NONE,
            ..FlowRecord::default()
        }
    }
}

pub fn decode<S: FlowSink>(
    dec: &mut Decoder,
    exporter: IpAddr,
    recv_ns: u64,
    payload: &[u8],
    sink: &mut S,
) -> Result<(), DecodeError> {
    let h = Header::new_checked(payload)?;
    if h.version() != 5 {
        return Err(DecodeError::BadVersion(u32::from(h.version())));
    }
    let count = h.count() as usize;
    let body = &payload[HEADER_LEN..];
    // The count must agree with the bytes present; trailing bytes beyond `count` records
    // (padding some exporters add) are allowed, missing ones are not.
    if count == 0 || count * RECORD_LEN > body.len() {
        return Err(DecodeError::BadCount {
            section: Section::Header,
            value: count as u32,
        });
    }
    if count > dec.limits.max_records_per_datagram {
        return Err(DecodeError::Limit(LimitKind::RecordsPerDatagram));
    }
    dec.stats.last.export_secs = h.unix_secs();
    // the sequence counts flows, per engine
    dec.stats.last.seq = Some(SeqNote {
        domain: u32::from(h.engine_type()) << 8 | u32::from(h.engine_id()),
        seq: h.flow_sequence(),
        units: count as u32,
    });
    let export_ns =
        u64::from(h.unix_secs()) * 1_000_000_000 + u64::from(h.unix_nsecs().min(999_999_999));
    let d = V5Datagram {
        time_received_ns: recv_ns,
        sequence_num: h.flow_sequence(),
        sampling_rate: u64::from(h.sampling_interval()),
        sampler_address: Addr::from_ip(exporter),
        export_ns,
        uptime_ms: h.sys_uptime_ms(),
    };
    for chunk in body.chunks_exact(RECORD_LEN).take(count) {
        let r: &[u8; RECORD_LEN] = chunk.try_into().expect("chunks_exact");
        sink.flow_of(&V5Flow { d: &d, r });
    }
    dec.stats.flows[super::Protocol::NetflowV5.index()] += count as u64;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A v5 datagram with `n` records; record i has src 10.0.0.i, 100*i bytes.
    pub fn datagram(n: u16) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&5u16.to_be_bytes());
        d.extend_from_slice(&n.to_be_bytes());
        d.extend_from_slice(&100_000u32.to_be_bytes()); // uptime ms
        d.extend_from_slice(&1_700_000_000u32.to_be_bytes());
        d.extend_from_slice(&0u32.to_be_bytes());
        d.extend_from_slice(&77u32.to_be_bytes()); // sequence
        d.extend_from_slice(&[1, 2]);
        d.extend_from_slice(&(0x4000u16 | 100).to_be_bytes()); // mode 1, interval 100
        for i in 0..n {
            let mut r = [0u8; RECORD_LEN];
            r[0..4].copy_from_slice(&[10, 0, 0, i as u8]);
            r[4..8].copy_from_slice(&[192, 168, 1, 1]);
            r[12..14].copy_from_slice(&3u16.to_be_bytes());
            r[14..16].copy_from_slice(&4u16.to_be_bytes());
            r[16..20].copy_from_slice(&2u32.to_be_bytes());
            r[20..24].copy_from_slice(&(100 * u32::from(i)).to_be_bytes());
            r[24..28].copy_from_slice(&90_000u32.to_be_bytes());
            r[28..32].copy_from_slice(&99_000u32.to_be_bytes());
            r[32..34].copy_from_slice(&1234u16.to_be_bytes());
            r[34..36].copy_from_slice(&80u16.to_be_bytes());
            r[37] = 0x12;
            r[38] = 6;
            r[44] = 24;
            d.extend_from_slice(&r);
        }
        d
    }

    #[test]
    fn decodes_records() {
        let mut dec = Decoder::default();
        let mut out = Vec::new();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        dec.decode(ip, 5, &datagram(3), &mut |r: &FlowRecord| out.push(*r))
            .unwrap();
        assert_eq!(out.len(), 3);
        let r = out[2];
        assert_eq!(r.src_addr, Addr::v4([10, 0, 0, 2]));
        assert_eq!(r.bytes, 200);
        assert_eq!(r.sampling_rate, 100);
        assert_eq!((r.in_if, r.out_if, r.proto, r.tcp_flags), (3, 4, 6, 0x12));
        assert_eq!(r.time_flow_end_ns, 1_699_999_999_000_000_000);
        assert_eq!(r.time_flow_start_ns, 1_699_999_990_000_000_000);
        assert_eq!(r.sampler_address, Addr::v4([192, 0, 2, 1]));
    }

    /// Encodes every record twice: straight from the in-place view, and from the record the
    /// view makes (what every other sink gets).
    struct BothWays {
        schema: crate::encode::schema::Schema,
        cache: crate::encode::schema::PrefixCache,
        records: Vec<FlowRecord>,
        mismatches: usize,
    }

    impl FlowSink for BothWays {
        fn flow(&mut self, rec: &FlowRecord) {
            self.records.push(*rec);
        }
        fn flow_of<F: Flow>(&mut self, flow: &F) {
            use crate::encode::schema::PB_ROOM;
            let mut a = [0u8; PB_ROOM];
            let mut b = [0u8; PB_ROOM];
            let rec = flow.to_record();
            let n = self.schema.encode_pb_into(flow, &mut a, &mut self.cache);
            let m = self.schema.encode_pb_into(&rec, &mut b, &mut self.cache);
            if a[..n] != b[..m] {
                self.mismatches += 1;
            }
            self.records.push(rec);
        }
    }

    #[test]
    fn view_encodes_as_the_record() {
        // random records (a quarter of their bytes zero, so fields are often 0 and
        // varints of every length), random headers (uptime wraps included), each schema
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        use crate::encode::schema::Schema;
        for schema in [Schema::GoflowV2, Schema::GoflowV3, Schema::Goflow2] {
            let mut sink = BothWays {
                schema,
                cache: Default::default(),
                records: Vec::new(),
                mismatches: 0,
            };
            let mut dec = Decoder::default();
            for _ in 0..200 {
                let mut d = datagram(30);
                for b in d[4..].iter_mut() {
                    let v = next();
                    *b = if v & 3 == 0 { 0 } else { (v >> 8) as u8 };
                }
                let ip = IpAddr::from([10, 1, (next() & 1) as u8, 1]);
                dec.decode(ip, next() >> 4, &d, &mut sink).unwrap();
            }
            assert_eq!(sink.records.len(), 200 * 30);
            assert_eq!(sink.mismatches, 0, "{}", schema.name());
        }
    }

    #[test]
    fn uptime_wrap() {
        // uptime wrapped to 1000 ms; the flow ended at u32::MAX - 999 (2 s before export)
        let t = uptime_to_ns(10_000_000_000, 1000, u32::MAX - 999);
        assert_eq!(t, 8_000_000_000);
    }

    #[test]
    fn truncation_never_panics() {
        let d = datagram(5);
        let mut dec = Decoder::default();
        for n in 0..d.len() {
            let mut c = 0;
            let res = dec.decode(
                IpAddr::from([127, 0, 0, 1]),
                0,
                &d[..n],
                &mut |_: &FlowRecord| c += 1,
            );
            if n < HEADER_LEN + 5 * RECORD_LEN {
                assert!(res.is_err() || n < 4, "len {n}");
                assert_eq!(c, 0);
            }
        }
    }
}
