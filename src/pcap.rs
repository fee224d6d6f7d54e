//! Reading UDP datagrams out of pcap and pcapng files, for `coreflow replay` and the tests.
//!
//! The file formats are read by `pcap-parser` (rusticata; maintained, fuzzed, zero-copy:
//! every frame is a slice of the file, nothing is copied until a UDP payload is kept). It
//! knows classic pcap in both byte orders, with micro- or nanosecond timestamps and the
//! modified (Kuznetsov) record header, and pcapng with any number of sections, interfaces and
//! either byte order. Its length checks are ours to trust: a file cut short is an error.
//!
//! Own code remains for two things the crate does not do:
//! - the frame inside: link layer, IP and UDP headers, parsed here with [`Cursor`]
//!   (pcap-parser's `data` feature only strips the cooked-capture headers: it leaves Ethernet
//!   and its VLAN tags to the caller and reads the BSD loopback family in one byte order);
//! - the pcapng timestamp unit, from the interface's raw `if_tsresol` (the crate's
//!   `ts_resolution()` rejects every power-of-two resolution in 0.17).
//!
//! Link types: Ethernet (with 802.1Q / QinQ tags), Linux cooked capture v1 and v2, BSD
//! loopback, raw IP. Network: IPv4 (unfragmented, options skipped) and IPv6 (extension
//! headers skipped). Everything that is not a complete UDP datagram (TCP, fragments, truncated
//! snaps) is skipped and counted, never an error: captures often mix in BGP/BMP sessions.

use crate::cursor::Cursor;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{nom, LegacyPcapBlock, PcapBlockOwned, PcapHeader, PcapNGSlice};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One UDP datagram found in a capture.
#[derive(Clone, Debug)]
pub struct UdpDatagram {
    /// Capture timestamp, ns since the epoch.
    pub ts_ns: u64,
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
    pub payload: Vec<u8>,
}

/// Frames read, and what became of them: `frames == udp + skipped`.
#[derive(Debug, Default, Clone, Copy)]
pub struct PcapStats {
    pub frames: u64,
    pub udp: u64,
    pub skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("not a pcap or pcapng file")]
    NotPcap,
    #[error("file truncated inside the {0}")]
    Truncated(&'static str),
    #[error("malformed {0}")]
    Malformed(&'static str),
}

impl PcapError {
    fn from_nom<E>(e: nom::Err<E>, what: &'static str) -> PcapError {
        match e {
            nom::Err::Incomplete(_) => PcapError::Truncated(what),
            nom::Err::Error(_) | nom::Err::Failure(_) => PcapError::Malformed(what),
        }
    }
}

const LINKTYPE_NULL: u32 = 0;
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_IPV4: u32 = 228;
const LINKTYPE_IPV6: u32 = 229;
const LINKTYPE_LINUX_SLL2: u32 = 276;

const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Reads every UDP datagram of a pcap or pcapng file, in file order.
pub fn read_udp(data: &[u8]) -> Result<(Vec<UdpDatagram>, PcapStats), PcapError> {
    let mut out = Vec::new();
    let mut stats = PcapStats::default();
    match pcap_parser::parse_pcap_header(data) {
        Ok((records, header)) => read_pcap(&header, records, &mut out, &mut stats)?,
        Err(nom::Err::Incomplete(_)) if data.len() >= 4 => {
            return Err(PcapError::Truncated("file header"))
        }
        Err(_) if data.starts_with(&PCAPNG_MAGIC) => {
            let blocks = PcapNGSlice::from_slice(data)
                .map_err(|e| PcapError::from_nom(e, "section header"))?;
            read_pcapng(blocks, &mut out, &mut stats)?;
        }
        Err(_) => return Err(PcapError::NotPcap),
    }
    Ok((out, stats))
}

fn read_pcap(
    header: &PcapHeader,
    mut records: &[u8],
    out: &mut Vec<UdpDatagram>,
    st: &mut PcapStats,
) -> Result<(), PcapError> {
    type ParseRecord =
        fn(&[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, pcap_parser::PcapError<&[u8]>>;
    let parse: ParseRecord = if header.is_modified_format() {
        pcap_parser::parse_pcap_frame_modified
    } else if header.is_bigendian() {
        pcap_parser::parse_pcap_frame_be
    } else {
        pcap_parser::parse_pcap_frame
    };
    let nanos = header.is_nanosecond_precision();
    // the top bits of the link type field hold the FCS length, not the link type
    let linktype = header.network.0 as u32 & 0x0FFF_FFFF;
    while !records.is_empty() {
        let (rest, r) = parse(records).map_err(|e| {
            let what = if records.len() < 16 {
                "record header"
            } else {
                "record"
            };
            PcapError::from_nom(e, what)
        })?;
        let frac = u64::from(r.ts_usec);
        let ts_ns = u64::from(r.ts_sec) * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        st.frames += 1;
        push_frame(linktype, ts_ns, r.data, out, st);
        records = rest;
    }
    Ok(())
}

/// A pcapng interface: its link type and timestamp units per second.
struct Interface {
    linktype: u32,
    units: u64,
}

fn read_pcapng(
    blocks: PcapNGSlice<'_>,
    out: &mut Vec<UdpDatagram>,
    st: &mut PcapStats,
) -> Result<(), PcapError> {
    // interface ids count from 0 in each section
    let mut ifaces: Vec<Interface> = Vec::new();
    for block in blocks {
        let PcapBlockOwned::NG(block) = block.map_err(|e| PcapError::from_nom(e, "block"))? else {
            continue;
        };
        match block {
            Block::SectionHeader(_) => ifaces.clear(),
            Block::InterfaceDescription(idb) => ifaces.push(Interface {
                linktype: u32::from(idb.linktype.0 as u16),
                units: ts_units(idb.if_tsresol),
            }),
            Block::EnhancedPacket(epb) => {
                st.frames += 1;
                match ifaces.get(epb.if_id as usize) {
                    Some(i) => {
                        let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let ns = u128::from(ts) * 1_000_000_000 / u128::from(i.units);
                        let ts_ns = u64::try_from(ns).unwrap_or(u64::MAX);
                        push_frame(i.linktype, ts_ns, epb.packet_data(), out, st);
                    }
                    None => st.skipped += 1,
                }
            }
            // simple packet block: interface 0, no timestamp
            Block::SimplePacket(spb) => {
                st.frames += 1;
                match ifaces.first() {
                    Some(i) => push_frame(i.linktype, 0, spb.packet_data(), out, st),
                    None => st.skipped += 1,
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Timestamp units per second of pcapng's `if_tsresol` (default 6: microseconds): a power of
/// ten, or of two when the top bit is set.
fn ts_units(tsresol: u8) -> u64 {
    let units = if tsresol & 0x80 == 0 {
        10u64.saturating_pow(u32::from(tsresol))
    } else {
        1u64 << (tsresol & 0x7f).min(63)
    };
    units.max(1)
}

fn push_frame(
    linktype: u32,
    ts_ns: u64,
    frame: &[u8],
    out: &mut Vec<UdpDatagram>,
    st: &mut PcapStats,
) {
    match parse_frame(linktype, frame) {
        Some((src, dst, sp, dp, payload)) => {
            st.udp += 1;
            out.push(UdpDatagram {
                ts_ns,
                src,
                src_port: sp,
                dst,
                dst_port: dp,
                payload: payload.to_vec(),
            });
        }
        None => st.skipped += 1,
    }
}

type Udp<'a> = (IpAddr, IpAddr, u16, u16, &'a [u8]);

fn parse_frame(linktype: u32, frame: &[u8]) -> Option<Udp<'_>> {
    let mut c = Cursor::new(frame);
    let ethertype = match linktype {
        LINKTYPE_ETHERNET => {
            c.skip(12).ok()?;
            let mut et = c.u16().ok()?;
            while et == 0x8100 || et == 0x88a8 || et == 0x9100 {
                c.skip(2).ok()?;
                et = c.u16().ok()?;
            }
            et
        }
        LINKTYPE_LINUX_SLL => {
            c.skip(14).ok()?;
            c.u16().ok()?
        }
        LINKTYPE_LINUX_SLL2 => {
            let et = c.u16().ok()?;
            c.skip(18).ok()?;
            et
        }
        LINKTYPE_NULL => {
            let fam = c.array::<4>().ok()?;
            match u32::from_le_bytes(fam).min(u32::from_be_bytes(fam)) {
                2 => 0x0800,
                24 | 28 | 30 => 0x86dd,
                _ => return None,
            }
        }
        LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_IPV6 => match c.rest().first()? >> 4 {
            4 => 0x0800,
            6 => 0x86dd,
            _ => return None,
        },
        _ => return None,
    };
    match ethertype {
        0x0800 => {
            let vihl = c.u8().ok()?;
            let ihl = usize::from(vihl & 0x0f) * 4;
            if vihl >> 4 != 4 || ihl < 20 {
                return None;
            }
            c.skip(1).ok()?;
            let total = usize::from(c.u16().ok()?);
            c.skip(2).ok()?;
            let frag = c.u16().ok()?;
            // a fragment (MF set or offset > 0) is not a whole datagram
            if frag & 0x3fff != 0 {
                return None;
            }
            c.skip(1).ok()?;
            let proto = c.u8().ok()?;
            c.skip(2).ok()?;
            let src = Ipv4Addr::from(c.array::<4>().ok()?);
            let dst = Ipv4Addr::from(c.array::<4>().ok()?);
            c.skip(ihl - 20).ok()?;
            if proto != 17 || total < ihl {
                return None;
            }
            let l4 = c.bytes((total - ihl).min(c.remaining())).ok()?;
            udp(IpAddr::V4(src), IpAddr::V4(dst), l4)
        }
        0x86dd => {
            let first = c.u32().ok()?;
            if first >> 28 != 6 {
                return None;
            }
            let plen = usize::from(c.u16().ok()?);
            let mut next = c.u8().ok()?;
            c.skip(1).ok()?;
            let src = Ipv6Addr::from(c.array::<16>().ok()?);
            let dst = Ipv6Addr::from(c.array::<16>().ok()?);
            let mut p = c.sub(plen.min(c.remaining())).ok()?;
            // hop-by-hop, routing, destination options; a fragment header means skip
            for _ in 0..8 {
                match next {
                    0 | 43 | 60 => {
                        next = p.u8().ok()?;
                        let len = usize::from(p.u8().ok()?) * 8 + 6;
                        p.skip(len).ok()?;
                    }
                    _ => break,
                }
            }
            if next != 17 {
                return None;
            }
            udp(IpAddr::V6(src), IpAddr::V6(dst), p.rest())
        }
        _ => None,
    }
}

fn udp(src: IpAddr, dst: IpAddr, l4: &[u8]) -> Option<Udp<'_>> {
    let mut c = Cursor::new(l4);
    let sp = c.u16().ok()?;
    let dp = c.u16().ok()?;
    let len = usize::from(c.u16().ok()?);
    c.skip(2).ok()?;
    if len < 8 || len - 8 > c.remaining() {
        return None; // snapped or lying length: not a complete datagram
    }
    Some((src, dst, sp, dp, &c.rest()[..len - 8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0, 10, 0x08, 0x00]);
        let total = 20 + 8 + payload.len();
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend_from_slice(&[192, 0, 2, 1, 203, 0, 113, 10]);
        let ul = 8 + payload.len();
        f.extend_from_slice(&[0x08, 0x07, 0x07, 0xd3, (ul >> 8) as u8, ul as u8, 0, 0]);
        f.extend_from_slice(payload);
        f
    }

    /// A classic pcap file of `frames`, little- or big-endian, micro- or nanosecond stamps.
    fn pcap(be: bool, nanos: bool, frames: &[&[u8]]) -> Vec<u8> {
        let w32 = |f: &mut Vec<u8>, v: u32| {
            f.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() })
        };
        let mut file = Vec::new();
        w32(&mut file, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        let version = if be { [0, 2, 0, 4] } else { [2, 0, 4, 0] };
        file.extend_from_slice(&version);
        file.extend_from_slice(&[0; 8]);
        w32(&mut file, 65535);
        w32(&mut file, 1);
        for frame in frames {
            w32(&mut file, 10);
            w32(&mut file, 5);
            w32(&mut file, frame.len() as u32);
            w32(&mut file, frame.len() as u32);
            file.extend_from_slice(frame);
        }
        file
    }

    /// A pcapng file: section header, an Ethernet interface with nanosecond stamps, an
    /// enhanced packet block at `ts_ns` and a simple packet block with the same frame.
    fn pcapng(be: bool, ts_ns: u64, frame: &[u8]) -> Vec<u8> {
        let w32 = |f: &mut Vec<u8>, v: u32| {
            f.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() })
        };
        let w16 = |f: &mut Vec<u8>, v: u16| {
            f.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() })
        };
        let mut padded = frame.to_vec();
        padded.resize(frame.len().div_ceil(4) * 4, 0);
        let mut f = Vec::new();
        // section header block
        f.extend_from_slice(&PCAPNG_MAGIC);
        w32(&mut f, 28);
        w32(&mut f, 0x1a2b_3c4d);
        w16(&mut f, 1);
        w16(&mut f, 0);
        f.extend_from_slice(&[0xff; 8]);
        w32(&mut f, 28);
        // interface description block: Ethernet, if_tsresol = 9
        w32(&mut f, 1);
        w32(&mut f, 32);
        w16(&mut f, 1);
        w16(&mut f, 0);
        w32(&mut f, 65535);
        w16(&mut f, 9);
        w16(&mut f, 1);
        f.extend_from_slice(&[9, 0, 0, 0]);
        w32(&mut f, 0);
        w32(&mut f, 32);
        // enhanced packet block
        let len = 32 + padded.len() as u32;
        w32(&mut f, 6);
        w32(&mut f, len);
        w32(&mut f, 0);
        w32(&mut f, (ts_ns >> 32) as u32);
        w32(&mut f, ts_ns as u32);
        w32(&mut f, frame.len() as u32);
        w32(&mut f, frame.len() as u32);
        f.extend_from_slice(&padded);
        w32(&mut f, len);
        // simple packet block
        let len = 16 + padded.len() as u32;
        w32(&mut f, 3);
        w32(&mut f, len);
        w32(&mut f, frame.len() as u32);
        f.extend_from_slice(&padded);
        w32(&mut f, len);
        f
    }

    /// Every truncation is an error or fewer datagrams, never a panic; so is every byte
    /// overwritten with 0x00 or 0xff.
    fn hostile_variants_do_not_panic(file: &[u8]) {
        for n in 0..file.len() {
            let _ = read_udp(&file[..n]);
        }
        let mut f = file.to_vec();
        for i in 0..f.len() {
            let orig = f[i];
            for b in [0x00, 0xff, orig ^ 0x80] {
                f[i] = b;
                let _ = read_udp(&f);
            }
            f[i] = orig;
        }
    }

    #[test]
    fn classic_pcap_vlan() {
        let frame = eth_ipv4_udp(b"hello");
        let file = pcap(false, false, &[&frame]);
        let (d, st) = read_udp(&file).unwrap();
        assert_eq!(st.udp, 1);
        assert_eq!(d[0].payload, b"hello");
        assert_eq!(d[0].src, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(d[0].dst_port, 2003);
        assert_eq!(d[0].ts_ns, 10_000_005_000);
        hostile_variants_do_not_panic(&file);
    }

    #[test]
    fn classic_pcap_big_endian_nanoseconds() {
        let frame = eth_ipv4_udp(b"hello");
        let file = pcap(true, true, &[&frame, b"not a frame", &frame]);
        let (d, st) = read_udp(&file).unwrap();
        assert_eq!((st.frames, st.udp, st.skipped), (3, 2, 1));
        assert_eq!(d[1].payload, b"hello");
        assert_eq!(d[1].ts_ns, 10_000_000_005);
        assert!(matches!(
            read_udp(&file[..file.len() - 1]),
            Err(PcapError::Truncated("record"))
        ));
        assert!(matches!(
            read_udp(&file[..10]),
            Err(PcapError::Truncated("file header"))
        ));
        assert!(matches!(read_udp(b"GIF89a"), Err(PcapError::NotPcap)));
    }

    #[test]
    fn pcapng_both_byte_orders() {
        let frame = eth_ipv4_udp(b"hello!");
        let ts = 1_714_564_800_123_456_789;
        for be in [false, true] {
            let file = pcapng(be, ts, &frame);
            let (d, st) = read_udp(&file).unwrap();
            assert_eq!((st.frames, st.udp, st.skipped), (2, 2, 0), "be={be}");
            assert_eq!(d[0].payload, b"hello!");
            assert_eq!(d[0].ts_ns, ts);
            assert_eq!(d[0].dst, "203.0.113.10".parse::<IpAddr>().unwrap());
            assert_eq!(d[1].payload, b"hello!");
            assert_eq!(d[1].ts_ns, 0);
            assert!(matches!(
                read_udp(&file[..file.len() - 2]),
                Err(PcapError::Truncated("block"))
            ));
            hostile_variants_do_not_panic(&file);
        }
    }

    #[test]
    fn pcapng_timestamp_units() {
        assert_eq!(ts_units(6), 1_000_000);
        assert_eq!(ts_units(9), 1_000_000_000);
        assert_eq!(ts_units(0x80 | 10), 1024);
        assert_eq!(ts_units(0xff), 1 << 63);
        assert_eq!(ts_units(0x7f), u64::MAX);
    }
}
