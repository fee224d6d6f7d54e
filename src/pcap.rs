//! Reading UDP datagrams out of pcap and pcapng files, for `coreflow replay` and the tests.
//!
//! Link types: Ethernet (with 802.1Q / QinQ tags), Linux cooked capture v1 and v2, raw IP.
//! Network: IPv4 (unfragmented, options skipped) and IPv6 (extension headers skipped).
//! Everything that is not a complete UDP datagram (TCP, fragments, truncated snaps) is
//! skipped and counted, never an error: captures often mix in BGP/BMP sessions.

use crate::cursor::Cursor;
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
}

const LINKTYPE_NULL: u32 = 0;
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_IPV4: u32 = 228;
const LINKTYPE_IPV6: u32 = 229;
const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Reads every UDP datagram of a pcap or pcapng file, in file order.
pub fn read_udp(data: &[u8]) -> Result<(Vec<UdpDatagram>, PcapStats), PcapError> {
    let mut out = Vec::new();
    let mut stats = PcapStats::default();
    let magic = data.get(..4).ok_or(PcapError::NotPcap)?;
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xc3, 0xd4]
        | [0x4d, 0x3c, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d] => read_pcap(data, &mut out, &mut stats)?,
        [0x0a, 0x0d, 0x0d, 0x0a] => read_pcapng(data, &mut out, &mut stats)?,
        _ => return Err(PcapError::NotPcap),
    }
    Ok((out, stats))
}

fn rd_u32(b: &[u8], le: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    }
}

fn read_pcap(data: &[u8], out: &mut Vec<UdpDatagram>, st: &mut PcapStats) -> Result<(), PcapError> {
    if data.len() < 24 {
        return Err(PcapError::Truncated("file header"));
    }
    let le = data[0] == 0xd4 || data[0] == 0x4d;
    let nanos = matches!(
        data[..4],
        [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d]
    );
    let linktype = rd_u32(&data[20..24], le) & 0x0FFF_FFFF;
    let mut pos = 24;
    while pos < data.len() {
        let h = data
            .get(pos..pos + 16)
            .ok_or(PcapError::Truncated("record header"))?;
        let secs = u64::from(rd_u32(&h[0..4], le));
        let frac = u64::from(rd_u32(&h[4..8], le));
        let incl = rd_u32(&h[8..12], le) as usize;
        let frame = data
            .get(pos + 16..pos + 16 + incl)
            .ok_or(PcapError::Truncated("record"))?;
        let ts_ns = secs * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        st.frames += 1;
        push_frame(linktype, ts_ns, frame, out, st);
        pos += 16 + incl;
    }
    Ok(())
}

fn read_pcapng(
    data: &[u8],
    out: &mut Vec<UdpDatagram>,
    st: &mut PcapStats,
) -> Result<(), PcapError> {
    let mut pos = 0;
    let mut le = true;
    // per interface: (linktype, ts units per second)
    let mut ifaces: Vec<(u32, u64)> = Vec::new();
    while pos + 12 <= data.len() {
        let btype_raw = &data[pos..pos + 4];
        if btype_raw == [0x0a, 0x0d, 0x0d, 0x0a] {
            let bom = data
                .get(pos + 8..pos + 12)
                .ok_or(PcapError::Truncated("section header"))?;
            le = bom == [0x4d, 0x3c, 0x2b, 0x1a];
            ifaces.clear();
        }
        let btype = rd_u32(btype_raw, le);
        let blen = rd_u32(&data[pos + 4..pos + 8], le) as usize;
        if blen < 12 || pos + blen > data.len() {
            return Err(PcapError::Truncated("block"));
        }
        let body = &data[pos + 8..pos + blen - 4];
        match btype {
            1 if body.len() >= 8 => {
                let linktype = u32::from(if le {
                    u16::from_le_bytes([body[0], body[1]])
                } else {
                    u16::from_be_bytes([body[0], body[1]])
                });
                let mut units = 1_000_000u64;
                // options: if_tsresol (code 9)
                let mut o = 8;
                while o + 4 <= body.len() {
                    let code = if le {
                        u16::from_le_bytes([body[o], body[o + 1]])
                    } else {
                        u16::from_be_bytes([body[o], body[o + 1]])
                    };
                    let len = usize::from(if le {
                        u16::from_le_bytes([body[o + 2], body[o + 3]])
                    } else {
                        u16::from_be_bytes([body[o + 2], body[o + 3]])
                    });
                    if code == 0 {
                        break;
                    }
                    if code == 9 && len >= 1 && o + 4 < body.len() {
                        let v = body[o + 4];
                        units = if v & 0x80 == 0 {
                            10u64.saturating_pow(u32::from(v))
                        } else {
                            1u64 << (v & 0x7f).min(63)
                        };
                    }
                    o += 4 + len.div_ceil(4) * 4;
                }
                ifaces.push((linktype, units.max(1)));
            }
            6 if body.len() >= 20 => {
                let ifid = rd_u32(&body[0..4], le) as usize;
                let ts = (u64::from(rd_u32(&body[4..8], le)) << 32)
                    | u64::from(rd_u32(&body[8..12], le));
                let cap = rd_u32(&body[12..16], le) as usize;
                let frame = body
                    .get(20..20 + cap)
                    .ok_or(PcapError::Truncated("packet block"))?;
                st.frames += 1;
                if let Some(&(lt, units)) = ifaces.get(ifid) {
                    let ts_ns = (u128::from(ts) * 1_000_000_000 / u128::from(units)) as u64;
                    push_frame(lt, ts_ns, frame, out, st);
                } else {
                    st.skipped += 1;
                }
            }
            3 if body.len() >= 4 => {
                // simple packet block: interface 0, no timestamp
                st.frames += 1;
                if let Some(&(lt, _)) = ifaces.first() {
                    push_frame(lt, 0, &body[4..], out, st);
                }
            }
            _ => {}
        }
        pos += blen;
    }
    Ok(())
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

    #[test]
    fn classic_pcap_vlan() {
        let frame = eth_ipv4_udp(b"hello");
        let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&65535u32.to_le_bytes());
        file.extend_from_slice(&1u32.to_le_bytes());
        file.extend_from_slice(&10u32.to_le_bytes());
        file.extend_from_slice(&5u32.to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&frame);
        let (d, st) = read_udp(&file).unwrap();
        assert_eq!(st.udp, 1);
        assert_eq!(d[0].payload, b"hello");
        assert_eq!(d[0].src, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(d[0].dst_port, 2003);
        assert_eq!(d[0].ts_ns, 10_000_005_000);
        // every truncation is an error or fewer datagrams, never a panic
        for n in 0..file.len() {
            let _ = read_udp(&file[..n]);
        }
    }
}
