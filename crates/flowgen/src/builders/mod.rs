//! Hand-built export datagrams (NetFlow v5, NetFlow v9, IPFIX, sFlow v5), pcap files and the
//! stateful fuzz target's input, for coreflow's tests, benches, examples and fuzz seeds: the
//! one place such bytes are built. Every builder is deterministic: record `i` of a datagram
//! always holds the same values ([`field_value`]), so outputs can be compared across runs.
//!
//! The NetFlow v9 / IPFIX datagrams use one "typical" 20-field template: the IPv4 5-tuple,
//! bytes, packets, input/output interface, flow start/end, TOS, TCP flags, source/destination
//! AS, masks, next hop, BGP next hop and direction. [`sflow`] holds the sFlow samples and
//! records to compose any sFlow datagram; [`sflow_flow_samples`] is the typical one.

pub mod sflow;

use std::net::IpAddr;

/// Export time (Unix seconds) written into every header.
pub const EXPORT_SECS: u32 = 1_700_000_000;
/// sysUptime (ms) written into NetFlow headers.
pub const UPTIME_MS: u32 = 3_600_000;
/// Template id of the typical template.
pub const TEMPLATE_ID: u16 = 256;

/// NetFlow v9 field types and lengths of the typical template.
pub const V9_FIELDS: [(u16, u16); 20] = [
    (8, 4),  // IPV4_SRC_ADDR
    (12, 4), // IPV4_DST_ADDR
    (7, 2),  // L4_SRC_PORT
    (11, 2), // L4_DST_PORT
    (4, 1),  // PROTOCOL
    (1, 4),  // IN_BYTES
    (2, 4),  // IN_PKTS
    (10, 4), // INPUT_SNMP
    (14, 4), // OUTPUT_SNMP
    (22, 4), // FIRST_SWITCHED
    (21, 4), // LAST_SWITCHED
    (5, 1),  // SRC_TOS
    (6, 1),  // TCP_FLAGS
    (16, 4), // SRC_AS
    (17, 4), // DST_AS
    (9, 1),  // SRC_MASK
    (13, 1), // DST_MASK
    (15, 4), // IPV4_NEXT_HOP
    (18, 4), // BGP_IPV4_NEXT_HOP
    (61, 1), // DIRECTION
];

/// IPFIX information elements and lengths of the typical template (64-bit counters and
/// flowStart/EndMilliseconds instead of sysUptime offsets).
pub const IPFIX_FIELDS: [(u16, u16); 20] = [
    (8, 4),
    (12, 4),
    (7, 2),
    (11, 2),
    (4, 1),
    (1, 8), // octetDeltaCount
    (2, 8), // packetDeltaCount
    (10, 4),
    (14, 4),
    (152, 8), // flowStartMilliseconds
    (153, 8), // flowEndMilliseconds
    (5, 1),
    (6, 1),
    (16, 4),
    (17, 4),
    (9, 1),
    (13, 1),
    (15, 4),
    (18, 4),
    (61, 1),
];

fn put_be(out: &mut Vec<u8>, v: u64, len: u16) {
    let b = v.to_be_bytes();
    let len = usize::from(len);
    if len <= 8 {
        out.extend_from_slice(&b[8 - len..]);
    } else {
        out.resize(out.len() + len - 8, 0);
        out.extend_from_slice(&b);
    }
}

/// The value record `i` carries for field `ie` (NetFlow v9 type or IPFIX IE).
pub fn field_value(ie: u16, i: u32) -> u64 {
    let export_ms = u64::from(EXPORT_SECS) * 1000;
    match ie {
        8 => u64::from(u32::from_be_bytes([10, 0, (i >> 8) as u8, i as u8])),
        12 => u64::from(u32::from_be_bytes([192, 0, 2, (i % 250) as u8 + 1])),
        7 => 1024 + u64::from(i),
        11 => 443,
        4 => 6,
        1 => 1500 * (u64::from(i) + 1),
        2 => u64::from(i) + 1,
        10 => 3,
        14 => 4,
        22 => u64::from(UPTIME_MS - 10_000),
        21 => u64::from(UPTIME_MS - 1_000),
        152 => export_ms - 10_000,
        153 => export_ms - 1_000,
        5 => 0x20,
        6 => 0x18,
        16 => 65_001,
        17 => 65_002,
        9 => 24,
        13 => 16,
        15 => u64::from(u32::from_be_bytes([192, 0, 2, 254])),
        18 => u64::from(u32::from_be_bytes([198, 51, 100, 1])),
        61 => 0,
        _ => 0,
    }
}

fn record(fields: &[(u16, u16)], i: u32, out: &mut Vec<u8>) {
    for &(ie, len) in fields {
        put_be(out, field_value(ie, i), len);
    }
}

fn pad4(out: &mut Vec<u8>, set_start: usize) {
    while (out.len() - set_start) % 4 != 0 {
        out.push(0);
    }
}

fn close_set(out: &mut [u8], set_start: usize) {
    let len = (out.len() - set_start) as u16;
    out[set_start + 2..set_start + 4].copy_from_slice(&len.to_be_bytes());
}

/// A NetFlow v5 datagram with `n` (1..=30) records; record i has source 10.0.0.i.
pub fn netflow5(n: u16) -> Vec<u8> {
    let mut d = Vec::with_capacity(24 + 48 * usize::from(n));
    d.extend_from_slice(&5u16.to_be_bytes());
    d.extend_from_slice(&n.to_be_bytes());
    d.extend_from_slice(&UPTIME_MS.to_be_bytes());
    d.extend_from_slice(&EXPORT_SECS.to_be_bytes());
    d.extend_from_slice(&0u32.to_be_bytes());
    d.extend_from_slice(&1000u32.to_be_bytes()); // flow sequence
    d.extend_from_slice(&[0, 0]); // engine type, id
    d.extend_from_slice(&(0x4000u16 | 64).to_be_bytes()); // mode 1, interval 64
    for i in 0..u32::from(n) {
        let start = d.len();
        d.resize(start + 48, 0);
        let r = &mut d[start..];
        r[0..4].copy_from_slice(&(field_value(8, i) as u32).to_be_bytes());
        r[4..8].copy_from_slice(&(field_value(12, i) as u32).to_be_bytes());
        r[8..12].copy_from_slice(&(field_value(15, i) as u32).to_be_bytes());
        r[12..14].copy_from_slice(&3u16.to_be_bytes());
        r[14..16].copy_from_slice(&4u16.to_be_bytes());
        r[16..20].copy_from_slice(&(field_value(2, i) as u32).to_be_bytes());
        r[20..24].copy_from_slice(&(field_value(1, i) as u32).to_be_bytes());
        r[24..28].copy_from_slice(&(field_value(22, i) as u32).to_be_bytes());
        r[28..32].copy_from_slice(&(field_value(21, i) as u32).to_be_bytes());
        r[32..34].copy_from_slice(&(field_value(7, i) as u16).to_be_bytes());
        r[34..36].copy_from_slice(&443u16.to_be_bytes());
        r[37] = 0x18;
        r[38] = 6;
        r[39] = 0x20;
        r[40..42].copy_from_slice(&65_001u16.to_be_bytes());
        r[42..44].copy_from_slice(&65_002u16.to_be_bytes());
        r[44] = 24;
        r[45] = 16;
    }
    d
}

fn v9_header(out: &mut Vec<u8>, count: u16, seq: u32) {
    out.extend_from_slice(&9u16.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&UPTIME_MS.to_be_bytes());
    out.extend_from_slice(&EXPORT_SECS.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes()); // source id
}

fn v9_template_set(out: &mut Vec<u8>, template_id: u16, fields: &[(u16, u16)]) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]); // flowset id 0, length patched
    out.extend_from_slice(&template_id.to_be_bytes());
    out.extend_from_slice(&(fields.len() as u16).to_be_bytes());
    for &(t, l) in fields {
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&l.to_be_bytes());
    }
    pad4(out, start);
    close_set(out, start);
}

fn data_set(out: &mut Vec<u8>, template_id: u16, fields: &[(u16, u16)], n: u32) {
    let start = out.len();
    out.extend_from_slice(&template_id.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    for i in 0..n {
        record(fields, i, out);
    }
    pad4(out, start);
    close_set(out, start);
}

/// A NetFlow v9 datagram holding only the typical template.
pub fn netflow9_template(seq: u32) -> Vec<u8> {
    let mut d = Vec::new();
    v9_header(&mut d, 1, seq);
    v9_template_set(&mut d, TEMPLATE_ID, &V9_FIELDS);
    d
}

/// A NetFlow v9 datagram with one data flowset of `n` records of the typical template.
pub fn netflow9_data(n: u32, seq: u32) -> Vec<u8> {
    let mut d = Vec::new();
    v9_header(&mut d, n as u16, seq);
    data_set(&mut d, TEMPLATE_ID, &V9_FIELDS, n);
    d
}

/// A NetFlow v9 datagram with the typical template followed by `n` data records.
pub fn netflow9_template_and_data(n: u32, seq: u32) -> Vec<u8> {
    let mut d = Vec::new();
    v9_header(&mut d, n as u16 + 1, seq);
    v9_template_set(&mut d, TEMPLATE_ID, &V9_FIELDS);
    data_set(&mut d, TEMPLATE_ID, &V9_FIELDS, n);
    d
}

fn ipfix_header(out: &mut Vec<u8>, seq: u32) {
    out.extend_from_slice(&10u16.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // length, patched by ipfix_close
    out.extend_from_slice(&EXPORT_SECS.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes()); // observation domain
}

fn ipfix_close(mut d: Vec<u8>) -> Vec<u8> {
    let len = d.len() as u16;
    d[2..4].copy_from_slice(&len.to_be_bytes());
    d
}

fn ipfix_template_set(out: &mut Vec<u8>, template_id: u16, fields: &[(u16, u16)]) {
    let start = out.len();
    out.extend_from_slice(&2u16.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&template_id.to_be_bytes());
    out.extend_from_slice(&(fields.len() as u16).to_be_bytes());
    for &(t, l) in fields {
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&l.to_be_bytes());
    }
    close_set(out, start);
}

/// An IPFIX message holding only the typical template.
pub fn ipfix_template(seq: u32) -> Vec<u8> {
    let mut d = Vec::new();
    ipfix_header(&mut d, seq);
    ipfix_template_set(&mut d, TEMPLATE_ID, &IPFIX_FIELDS);
    ipfix_close(d)
}

/// An IPFIX message with one data set of `n` records of the typical template.
pub fn ipfix_data(n: u32, seq: u32) -> Vec<u8> {
    let mut d = Vec::new();
    ipfix_header(&mut d, seq);
    data_set(&mut d, TEMPLATE_ID, &IPFIX_FIELDS, n);
    ipfix_close(d)
}

/// An IPFIX message with the typical template followed by `n` data records.
pub fn ipfix_template_and_data(n: u32, seq: u32) -> Vec<u8> {
    let mut d = Vec::new();
    ipfix_header(&mut d, seq);
    ipfix_template_set(&mut d, TEMPLATE_ID, &IPFIX_FIELDS);
    data_set(&mut d, TEMPLATE_ID, &IPFIX_FIELDS, n);
    ipfix_close(d)
}

/// The template of [`ipfix_datalink`] (Juniper inline monitoring's layout): ingress
/// interface, flow direction, dataLinkFrameSize (312), dataLinkFrameSection (315, variable
/// length).
pub const IPFIX_DATALINK_FIELDS: [(u16, u16); 4] = [(10, 4), (61, 1), (312, 2), (315, 65535)];

/// The template id of [`ipfix_datalink`].
pub const DATALINK_TEMPLATE_ID: u16 = 384;

/// An IPFIX message with the packet-section template and `n` records, each carrying `frame`
/// as its dataLinkFrameSection (ingress ifIndex 582 + i, direction 0, frame size 1518).
pub fn ipfix_datalink(n: u32, seq: u32, frame: &[u8]) -> Vec<u8> {
    datalink_message(n, seq, frame, true, false)
}

/// [`ipfix_datalink`] without the template set (an exporter sends it now and then).
pub fn ipfix_datalink_data(n: u32, seq: u32, frame: &[u8]) -> Vec<u8> {
    datalink_message(n, seq, frame, false, false)
}

/// The fields of [`ipfix_datalink_min`]: dataLinkFrameSize (312), dataLinkFrameSection (315).
pub const IPFIX_DATALINK_MIN_FIELDS: [(u16, u16); 2] = [(312, 2), (315, 65535)];

/// [`ipfix_datalink`] with a template of the frame size and the section alone (the
/// benches' like-for-like comparison with an sFlow flow sample), with the template set when
/// `template`.
pub fn ipfix_datalink_min(n: u32, seq: u32, frame: &[u8], template: bool) -> Vec<u8> {
    datalink_message(n, seq, frame, template, true)
}

fn datalink_message(n: u32, seq: u32, frame: &[u8], template: bool, min: bool) -> Vec<u8> {
    let mut d = Vec::new();
    ipfix_header(&mut d, seq);
    if template && min {
        ipfix_template_set(&mut d, DATALINK_TEMPLATE_ID, &IPFIX_DATALINK_MIN_FIELDS);
    } else if template {
        ipfix_template_set(&mut d, DATALINK_TEMPLATE_ID, &IPFIX_DATALINK_FIELDS);
    }
    let start = d.len();
    d.extend_from_slice(&DATALINK_TEMPLATE_ID.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    for i in 0..n {
        if !min {
            d.extend_from_slice(&(582 + i).to_be_bytes());
            d.push(0);
        }
        d.extend_from_slice(&1518u16.to_be_bytes());
        if frame.len() < 255 {
            d.push(frame.len() as u8);
        } else {
            d.push(255);
            d.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        }
        d.extend_from_slice(frame);
    }
    close_set(&mut d, start);
    ipfix_close(d)
}

/// Sampled frames with what exporters put in front of IP (fuzz seeds, benches): EoMPLS with
/// a control word, SRv6 (IPv6 routing header, IPv4 inside), VXLAN; each wraps the IPv4 / TCP
/// packet of [`eth_ipv4_tcp`].
pub fn encapsulated_frames() -> Vec<(&'static str, Vec<u8>)> {
    let inner = eth_ipv4_tcp(80);
    let ip = &inner[14..];
    let eth = |et: u16| {
        let mut v = vec![0xa0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x02, 0, 0, 0, 0, 0x01];
        v.extend_from_slice(&et.to_be_bytes());
        v
    };
    let mut eompls = eth(0x8847);
    eompls.extend_from_slice(&((100u32 << 12) | 64).to_be_bytes());
    eompls.extend_from_slice(&((200u32 << 12) | 0x140).to_be_bytes());
    eompls.extend_from_slice(&[0, 0, 0, 1]);
    eompls.extend_from_slice(&inner);
    let mut srv6 = eth(0x86dd);
    srv6.extend_from_slice(&[0x60, 0, 0, 0]);
    srv6.extend_from_slice(&((24 + ip.len()) as u16).to_be_bytes());
    srv6.extend_from_slice(&[43, 64]);
    srv6.extend_from_slice(&[0xfc; 32]);
    srv6.extend_from_slice(&[4, 2, 4, 0, 0, 0, 0, 0]);
    srv6.extend_from_slice(&[0xfc; 16]);
    srv6.extend_from_slice(ip);
    let mut vxlan = eth(0x0800);
    let udp_len = (8 + 8 + inner.len()) as u16;
    vxlan.extend_from_slice(&[
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
    ]);
    vxlan[16..18].copy_from_slice(&(20 + udp_len).to_be_bytes());
    vxlan.extend_from_slice(&[0xc0, 0x00, 0x12, 0xb5]);
    vxlan.extend_from_slice(&udp_len.to_be_bytes());
    vxlan.extend_from_slice(&[0, 0, 0x08, 0, 0, 0, 0, 0, 42, 0]);
    vxlan.extend_from_slice(&inner);
    vec![("eompls-cw", eompls), ("srv6", srv6), ("vxlan", vxlan)]
}

/// A sampled Ethernet / IPv4 / TCP packet header of exactly `len` (>= 54) bytes: MACs,
/// ethertype 0x0800, a 20-byte IPv4 header (TCP, 10.0.0.1 -> 192.0.2.1), a 20-byte TCP header
/// (1024 -> 443, ACK|PSH), then payload bytes.
pub fn eth_ipv4_tcp(len: usize) -> Vec<u8> {
    assert!(len >= 54, "an Ethernet/IPv4/TCP header needs 54 bytes");
    let mut h = Vec::with_capacity(len);
    h.extend_from_slice(&[0x00, 0x11, 0x22, 0x33, 0x44, 0x55]); // dst MAC
    h.extend_from_slice(&[0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]); // src MAC
    h.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = 1500u16;
    h.extend_from_slice(&[0x45, 0x20]);
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, 6, 0, 0]);
    h.extend_from_slice(&[10, 0, 0, 1]);
    h.extend_from_slice(&[192, 0, 2, 1]);
    h.extend_from_slice(&1024u16.to_be_bytes());
    h.extend_from_slice(&443u16.to_be_bytes());
    h.extend_from_slice(&1u32.to_be_bytes()); // seq
    h.extend_from_slice(&1u32.to_be_bytes()); // ack
    h.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    let mut b = 0u8;
    while h.len() < len {
        h.push(b);
        b = b.wrapping_add(1);
    }
    h
}

/// An sFlow v5 datagram (agent 192.0.2.10, sequence 42, sysUptime [`UPTIME_MS`]) with `n`
/// flow samples (sequence i + 1, source ifIndex 3, rate 1000, pool 1000 * (i + 1), input 3,
/// output 4), each holding one sampled header record (Ethernet, frame length 1518, 4 bytes
/// stripped) carrying `header`.
pub fn sflow_flow_samples(n: u32, header: &[u8]) -> Vec<u8> {
    let record = [sflow::sampled_header_stripped(1, 1518, 4, header)];
    let samples: Vec<Vec<u8>> = (0..n)
        .map(|i| sflow::flow_sample(i + 1, 3, 1000, 1000 * (i + 1), 0, 3, 4, &record))
        .collect();
    sflow::datagram_at(IpAddr::from([192, 0, 2, 10]), 0, 42, UPTIME_MS, &samples)
}

/// The `stateful` fuzz target's input format: a sequence of datagrams, each as
/// `[flags u8][length u16 BE][bytes]`; bit 0 of `flags` picks one of two exporters.
pub fn stateful_input(chunks: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(flags, bytes) in chunks {
        let len = bytes.len().min(usize::from(u16::MAX));
        out.push(flags);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&bytes[..len]);
    }
    out
}

/// A classic pcap file (Ethernet / IPv4 / UDP, microsecond timestamps) holding `payloads`,
/// each sent from `src` port 40000 to 203.0.113.10 port `dst_port`, one second apart.
pub fn pcap_file(src: [u8; 4], dst_port: u16, payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]); // thiszone, sigfigs
    f.extend_from_slice(&65_535u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for (i, p) in payloads.iter().enumerate() {
        let mut frame = Vec::with_capacity(42 + p.len());
        frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
        let ip_len = (20 + 8 + p.len()) as u16;
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&[203, 0, 113, 10]);
        let sum = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum::<u32>();
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&40_000u16.to_be_bytes());
        frame.extend_from_slice(&dst_port.to_be_bytes());
        frame.extend_from_slice(&(8 + p.len() as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]); // no UDP checksum
        frame.extend_from_slice(p);
        f.extend_from_slice(&(EXPORT_SECS + i as u32).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        f.extend_from_slice(&frame);
    }
    f
}
