//! NetFlow v5: a 24-byte header and `count` fixed 48-byte records (Cisco layout).
//!
//! `Header::new_checked` checks the length once; after that no accessor can panic.

use super::{proto_index, DecodeError, Decoder, FlowSink, LimitKind, Section};
use crate::flow::{Addr, FieldGroups, FlowRecord, FlowType};
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

/// Export time minus (sysUptime - t) in ns, with the 32-bit uptime wrap handled: a
/// switched-time a little "after" the uptime is a flow that started before the counter wrapped.
#[inline]
pub(crate) fn uptime_to_ns(export_ns: u64, uptime_ms: u32, t_ms: u32) -> u64 {
    let ago_ms = uptime_ms.wrapping_sub(t_ms);
    // A difference in the top half of the u32 range means t is after the export uptime
    // (clock skew between line cards): treat it as "now" rather than 49 days ago.
    let ago_ms = if ago_ms > u32::MAX / 2 { 0 } else { ago_ms };
    export_ns.saturating_sub(u64::from(ago_ms) * 1_000_000)
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
    let export_ns =
        u64::from(h.unix_secs()) * 1_000_000_000 + u64::from(h.unix_nsecs().min(999_999_999));
    let uptime = h.sys_uptime_ms();
    let mut rec = FlowRecord {
        flow_type: FlowType::NetflowV5,
        time_received_ns: recv_ns,
        sequence_num: h.flow_sequence(),
        sampling_rate: u64::from(h.sampling_interval()),
        sampler_address: Addr::from_ip(exporter),
        etype: 0x0800,
        // a v5 record has none of the seldom-carried fields
        groups: FieldGroups::NONE,
        ..FlowRecord::default()
    };
    for chunk in body.chunks_exact(RECORD_LEN).take(count) {
        let r: &[u8; RECORD_LEN] = chunk.try_into().expect("chunks_exact");
        let u16at = |i: usize| u32::from(u16::from_be_bytes([r[i], r[i + 1]]));
        let u32at = |i: usize| u32::from_be_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
        rec.src_addr = Addr::v4([r[0], r[1], r[2], r[3]]);
        rec.dst_addr = Addr::v4([r[4], r[5], r[6], r[7]]);
        rec.next_hop = Addr::v4([r[8], r[9], r[10], r[11]]);
        rec.in_if = u16at(12);
        rec.out_if = u16at(14);
        rec.packets = u64::from(u32at(16));
        rec.bytes = u64::from(u32at(20));
        rec.time_flow_start_ns = uptime_to_ns(export_ns, uptime, u32at(24));
        rec.time_flow_end_ns = uptime_to_ns(export_ns, uptime, u32at(28));
        rec.src_port = u16at(32);
        rec.dst_port = u16at(34);
        rec.tcp_flags = u32::from(r[37]);
        rec.proto = u32::from(r[38]);
        rec.ip_tos = u32::from(r[39]);
        rec.src_as = u16at(40);
        rec.dst_as = u16at(42);
        rec.src_net = u32::from(r[44]);
        rec.dst_net = u32::from(r[45]);
        sink.flow(&rec);
    }
    dec.stats.flows[proto_index(super::Protocol::NetflowV5)] += count as u64;
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
