//! Byte builders for sFlow datagrams, for unit tests, benches and fuzz seeds: reachable as
//! `crate::decode::sflow::fixture` from integration tests and benches, so it is not
//! `#[cfg(test)]`. Builders only; nothing here decodes.

use std::net::IpAddr;

/// An Ethernet/IPv4/TCP frame of `len` captured bytes (at least 54): MACs
/// 00:11:22:33:44:55 <- 66:77:88:99:aa:bb, 10.0.0.1:40000 -> 192.0.2.80:443, TOS 0x28,
/// TTL 63, id 0x1234, DF, flags ACK|PSH, payload bytes 0xab.
pub fn eth_ipv4_tcp_header(len: usize) -> Vec<u8> {
    let mut f = vec![
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    ];
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0x28, 0x05, 0xdc, 0x12, 0x34, 0x40, 0x00, 63, 6, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 192, 0, 2, 80]);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&443u16.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x18, 0x01, 0xf5, 0, 0, 0, 0]);
    f.resize(len.max(f.len()), 0xab);
    f.truncate(len);
    f
}

fn put(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_be_bytes());
}

/// `format, length, body` with the body padded to 4 bytes.
pub fn framed(format: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 12);
    put(&mut v, format);
    put(&mut v, body.len() as u32);
    v.extend_from_slice(body);
    v.resize(v.len().next_multiple_of(4), 0);
    v
}

/// A sampled header record (format 1).
pub fn sampled_header(protocol: u32, frame_length: u32, header: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put(&mut b, protocol);
    put(&mut b, frame_length);
    put(&mut b, frame_length.saturating_sub(header.len() as u32));
    put(&mut b, header.len() as u32);
    b.extend_from_slice(header);
    b.resize(b.len().next_multiple_of(4), 0);
    framed(1, &b)
}

/// An extended switch record (format 1001).
pub fn extended_switch(src_vlan: u32, dst_vlan: u32) -> Vec<u8> {
    let mut b = Vec::new();
    for x in [src_vlan, 0, dst_vlan, 0] {
        put(&mut b, x);
    }
    framed(1001, &b)
}

/// An XDR address.
pub fn address(a: IpAddr) -> Vec<u8> {
    let mut b = Vec::new();
    match a {
        IpAddr::V4(a) => {
            put(&mut b, 1);
            b.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            put(&mut b, 2);
            b.extend_from_slice(&a.octets());
        }
    }
    b
}

/// An extended router record (format 1002).
pub fn extended_router(next_hop: IpAddr, src_mask: u32, dst_mask: u32) -> Vec<u8> {
    let mut b = address(next_hop);
    put(&mut b, src_mask);
    put(&mut b, dst_mask);
    framed(1002, &b)
}

/// An extended gateway record (format 1003) with one segment per entry of `path`.
pub fn extended_gateway(
    next_hop: IpAddr,
    router_as: u32,
    src_as: u32,
    path: &[(u32, &[u32])],
    communities: &[u32],
    local_pref: u32,
) -> Vec<u8> {
    let mut b = address(next_hop);
    for x in [router_as, src_as, src_as, path.len() as u32] {
        put(&mut b, x);
    }
    for (t, ases) in path {
        put(&mut b, *t);
        put(&mut b, ases.len() as u32);
        for &a in *ases {
            put(&mut b, a);
        }
    }
    put(&mut b, communities.len() as u32);
    for &c in communities {
        put(&mut b, c);
    }
    put(&mut b, local_pref);
    framed(1003, &b)
}

/// A compact flow sample (format 1) body with the given records.
#[allow(clippy::too_many_arguments)]
pub fn flow_sample(
    seq: u32,
    source_id: u32,
    rate: u32,
    pool: u32,
    drops: u32,
    input: u32,
    output: u32,
    records: &[Vec<u8>],
) -> Vec<u8> {
    let mut b = Vec::new();
    for x in [seq, source_id, rate, pool, drops, input, output] {
        put(&mut b, x);
    }
    put(&mut b, records.len() as u32);
    for r in records {
        b.extend_from_slice(r);
    }
    framed(1, &b)
}

/// A compact counter sample (format 2) body with the given `(format, body)` records.
pub fn counter_sample(seq: u32, source_id: u32, records: &[Vec<u8>]) -> Vec<u8> {
    let mut b = Vec::new();
    put(&mut b, seq);
    put(&mut b, source_id);
    put(&mut b, records.len() as u32);
    for r in records {
        b.extend_from_slice(r);
    }
    framed(2, &b)
}

/// A datagram from `agent` with the given framed samples.
pub fn datagram(agent: IpAddr, sub_agent: u32, seq: u32, samples: &[Vec<u8>]) -> Vec<u8> {
    let mut d = Vec::new();
    put(&mut d, 5);
    d.extend_from_slice(&address(agent));
    for x in [sub_agent, seq, 123_456, samples.len() as u32] {
        put(&mut d, x);
    }
    for s in samples {
        d.extend_from_slice(s);
    }
    d
}

/// The benchmark datagram: one compact flow sample (rate 1024, in 3, out 7) with an
/// extended switch record (VLAN 100 -> 200) and a 128-byte Ethernet/IPv4/TCP header
/// ([`eth_ipv4_tcp_header`], frame length 1518), from agent 192.0.2.1.
pub fn bench_flow_datagram() -> Vec<u8> {
    let header = eth_ipv4_tcp_header(128);
    let records = [extended_switch(100, 200), sampled_header(1, 1518, &header)];
    let s = flow_sample(1, 3, 1024, 1_000_000, 0, 3, 7, &records);
    datagram(IpAddr::from([192, 0, 2, 1]), 0, 42, &[s])
}
