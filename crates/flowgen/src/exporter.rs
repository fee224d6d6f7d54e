//! Simulated exporters: the datagrams flowgen sends, and those coreflow's end-to-end tests
//! and benches build in-process.
//!
//! An [`Exporter`] builds valid NetFlow v5, NetFlow v9 (templates, an options template with
//! the sampling interval, data), IPFIX (the same) and sFlow v5 datagrams (flow samples with a
//! sampled Ethernet/IPv4-or-IPv6/TCP-or-UDP header) with protocol-correct sequence numbers,
//! from a seeded generator, so a run is reproducible and every byte and packet it sent can be
//! summed ([`Sent`]) and compared with what a collector wrote. Each datagram is appended to
//! the caller's buffer, so a send loop can batch many into one.

use std::net::IpAddr;

/// Which protocol an exporter speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenProtocol {
    V5,
    V9,
    Ipfix,
    Sflow,
}

impl GenProtocol {
    pub fn parse(s: &str) -> Option<GenProtocol> {
        match s.to_ascii_lowercase().as_str() {
            "v5" | "5" | "netflow5" | "nf5" | "netflow_v5" => Some(GenProtocol::V5),
            "v9" | "9" | "netflow9" | "nf9" | "netflow_v9" => Some(GenProtocol::V9),
            "ipfix" | "v10" | "10" => Some(GenProtocol::Ipfix),
            "sflow" | "sflow5" | "sflow_v5" => Some(GenProtocol::Sflow),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GenProtocol::V5 => "v5",
            GenProtocol::V9 => "v9",
            GenProtocol::Ipfix => "ipfix",
            GenProtocol::Sflow => "sflow",
        }
    }

    /// The port collectors listen on for it.
    pub fn default_port(self) -> u16 {
        match self {
            GenProtocol::Sflow => 6343,
            _ => 2055,
        }
    }

    /// Records (sFlow: samples) per datagram unless told otherwise.
    pub fn default_records(self) -> usize {
        match self {
            GenProtocol::Sflow => 8,
            _ => 30,
        }
    }

    /// The most records that fit one datagram of at most 65,507 bytes.
    pub fn max_records(self) -> usize {
        match self {
            GenProtocol::V5 => (65_507 - V5_HEADER) / V5_RECORD,
            GenProtocol::V9 => 1_000,
            GenProtocol::Ipfix => 900,
            GenProtocol::Sflow => 500,
        }
    }
}

/// What the generated datagrams carry.
#[derive(Clone, Copy, Debug)]
pub struct GenOptions {
    pub protocol: GenProtocol,
    /// Data records (sFlow: flow samples) per datagram.
    pub records: usize,
    /// v9/IPFIX: templates and options (sampling) are sent in the first datagram and then
    /// every this many datagrams of an exporter. 0: only in the first.
    pub template_every: u64,
    pub sampling_rate: u32,
    pub seed: u64,
    /// Where the header sequence numbers start (0; near 2^32 to test a wrap).
    pub first_sequence: u32,
}

impl GenOptions {
    pub fn new(protocol: GenProtocol) -> GenOptions {
        GenOptions {
            protocol,
            records: protocol.default_records(),
            template_every: 100,
            sampling_rate: 1000,
            seed: 1,
            first_sequence: 0,
        }
    }
}

/// What one datagram (or a run) carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub datagrams: u64,
    /// Flow records (sFlow: flow samples): one output message each.
    pub records: u64,
    /// Sum of the byte counters (sFlow: frame lengths).
    pub bytes: u64,
    /// Sum of the packet counters (sFlow: 1 per sample).
    pub packets: u64,
    /// Wire bytes of the datagrams.
    pub wire_bytes: u64,
}

impl Sent {
    pub fn add(&mut self, o: &Sent) {
        self.datagrams += o.datagrams;
        self.records += o.records;
        self.bytes += o.bytes;
        self.packets += o.packets;
        self.wire_bytes += o.wire_bytes;
    }
}

const V5_HEADER: usize = 24;
const V5_RECORD: usize = 48;

/// v9/IPFIX template ids.
pub const TEMPLATE_V4: u16 = 256;
pub const TEMPLATE_V6: u16 = 257;
pub const TEMPLATE_OPTIONS: u16 = 258;

/// NetFlow v9 template 256 (IPv4): (type, length).
const V9_FIELDS_V4: &[(u16, u16)] = &[
    (8, 4),  // IPV4_SRC_ADDR
    (12, 4), // IPV4_DST_ADDR
    (15, 4), // IPV4_NEXT_HOP
    (1, 4),  // IN_BYTES
    (2, 4),  // IN_PKTS
    (4, 1),  // PROTOCOL
    (5, 1),  // SRC_TOS
    (6, 1),  // TCP_FLAGS
    (7, 2),  // L4_SRC_PORT
    (11, 2), // L4_DST_PORT
    (10, 2), // INPUT_SNMP
    (14, 2), // OUTPUT_SNMP
    (16, 2), // SRC_AS
    (17, 2), // DST_AS
    (9, 1),  // SRC_MASK
    (13, 1), // DST_MASK
    (22, 4), // FIRST_SWITCHED
    (21, 4), // LAST_SWITCHED
];

/// NetFlow v9 template 257 (IPv6).
const V9_FIELDS_V6: &[(u16, u16)] = &[
    (27, 16), // IPV6_SRC_ADDR
    (28, 16), // IPV6_DST_ADDR
    (1, 8),   // IN_BYTES (8 bytes)
    (2, 8),   // IN_PKTS
    (4, 1),   // PROTOCOL
    (7, 2),   // L4_SRC_PORT
    (11, 2),  // L4_DST_PORT
    (10, 4),  // INPUT_SNMP (4 bytes)
    (14, 4),  // OUTPUT_SNMP
    (22, 4),  // FIRST_SWITCHED
    (21, 4),  // LAST_SWITCHED
];

/// IPFIX template 256 (IPv4).
const IPFIX_FIELDS_V4: &[(u16, u16)] = &[
    (8, 4),   // sourceIPv4Address
    (12, 4),  // destinationIPv4Address
    (15, 4),  // ipNextHopIPv4Address
    (1, 8),   // octetDeltaCount
    (2, 8),   // packetDeltaCount
    (4, 1),   // protocolIdentifier
    (5, 1),   // ipClassOfService
    (6, 2),   // tcpControlBits
    (7, 2),   // sourceTransportPort
    (11, 2),  // destinationTransportPort
    (10, 4),  // ingressInterface
    (14, 4),  // egressInterface
    (16, 4),  // bgpSourceAsNumber
    (17, 4),  // bgpDestinationAsNumber
    (9, 1),   // sourceIPv4PrefixLength
    (13, 1),  // destinationIPv4PrefixLength
    (152, 8), // flowStartMilliseconds
    (153, 8), // flowEndMilliseconds
];

/// IPFIX template 257 (IPv6).
const IPFIX_FIELDS_V6: &[(u16, u16)] = &[
    (27, 16), // sourceIPv6Address
    (28, 16), // destinationIPv6Address
    (1, 8),   // octetDeltaCount
    (2, 8),   // packetDeltaCount
    (4, 1),   // protocolIdentifier
    (7, 2),   // sourceTransportPort
    (11, 2),  // destinationTransportPort
    (10, 4),  // ingressInterface
    (14, 4),  // egressInterface
    (152, 8), // flowStartMilliseconds
    (153, 8), // flowEndMilliseconds
];

/// xorshift64*: small, fast, reproducible.
#[derive(Clone, Copy, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, never zero
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `lo..=hi`.
    #[inline]
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// One flow's worth of random fields.
#[derive(Clone, Copy, Debug)]
struct Flow {
    v6: bool,
    src4: [u8; 4],
    dst4: [u8; 4],
    src6: [u8; 16],
    dst6: [u8; 16],
    next_hop: [u8; 4],
    bytes: u64,
    packets: u64,
    proto: u8,
    tos: u8,
    tcp_flags: u8,
    src_port: u16,
    dst_port: u16,
    in_if: u16,
    out_if: u16,
    src_as: u16,
    dst_as: u16,
    src_mask: u8,
    dst_mask: u8,
    /// ms before the export time.
    end_ago_ms: u32,
    duration_ms: u32,
}

impl Flow {
    fn random(r: &mut Rng, v6: bool) -> Flow {
        let a = r.next_u64();
        let b = r.next_u64();
        let c = r.next_u64();
        let packets = r.range(1, 1000);
        let proto = if a & 3 == 0 { 17 } else { 6 };
        let mut src6 = [0u8; 16];
        let mut dst6 = [0u8; 16];
        src6[..8].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0]);
        src6[8..].copy_from_slice(&b.to_be_bytes());
        dst6[..8].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0]);
        dst6[8..].copy_from_slice(&c.to_be_bytes());
        Flow {
            v6,
            src4: [10, (b >> 8) as u8, (b >> 16) as u8, (b >> 24) as u8 | 1],
            dst4: [192, 168, (c >> 8) as u8, (c >> 16) as u8 | 1],
            src6,
            dst6,
            next_hop: [172, 16, 0, (a >> 8) as u8 | 1],
            bytes: packets * r.range(40, 1500),
            packets,
            proto,
            tos: (a >> 16) as u8 & 0xfc,
            tcp_flags: if proto == 6 {
                (a >> 24) as u8 & 0x3f | 0x10
            } else {
                0
            },
            src_port: (a >> 32) as u16 | 1024,
            dst_port: [80u16, 443, 53, 22, 8080][(a >> 48) as usize % 5],
            in_if: (b >> 40) as u16 % 64 + 1,
            out_if: (c >> 40) as u16 % 64 + 1,
            src_as: (b >> 48) as u16 | 1,
            dst_as: (c >> 48) as u16 | 1,
            src_mask: 8 + (a >> 56) as u8 % 25,
            dst_mask: 8 + (a >> 60) as u8 % 25,
            end_ago_ms: r.range(0, 1000) as u32,
            duration_ms: r.range(0, 60_000) as u32,
        }
    }
}

#[inline]
fn put16(o: &mut Vec<u8>, v: u16) {
    o.extend_from_slice(&v.to_be_bytes());
}
#[inline]
fn put32(o: &mut Vec<u8>, v: u32) {
    o.extend_from_slice(&v.to_be_bytes());
}
#[inline]
fn put64(o: &mut Vec<u8>, v: u64) {
    o.extend_from_slice(&v.to_be_bytes());
}
fn set16(o: &mut [u8], at: usize, v: u16) {
    o[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// One simulated exporter: its address, clocks, sequence counters and random stream.
#[derive(Clone, Debug)]
pub struct Exporter {
    pub ip: IpAddr,
    /// v9 source id / IPFIX observation domain / sFlow sub-agent and source index.
    pub domain: u32,
    opts: GenOptions,
    rng: Rng,
    /// Datagrams built so far (v9 and sFlow sequence).
    pub datagrams: u64,
    /// Data records (flows, samples) built so far (v5 and IPFIX sequence).
    pub records: u64,
    /// IPFIX options data records built so far (data records too: in the IPFIX sequence).
    pub options_records: u64,
    /// Boot time, ns since the epoch (sysUptime origin).
    boot_ns: u64,
}

impl Exporter {
    /// Exporter `index` of a run, at `ip`; `now_ns` sets its clock (boot one hour earlier).
    pub fn new(index: u32, ip: IpAddr, opts: GenOptions, now_ns: u64) -> Exporter {
        Exporter {
            ip,
            domain: index + 1,
            opts,
            rng: Rng::new(opts.seed ^ (u64::from(index) << 32 | u64::from(index))),
            datagrams: 0,
            records: 0,
            options_records: 0,
            boot_ns: now_ns.saturating_sub(3_600_000_000_000),
        }
    }

    /// Whether the next datagram carries the templates.
    pub fn templates_due(&self) -> bool {
        self.datagrams == 0
            || (self.opts.template_every > 0 && self.datagrams % self.opts.template_every == 0)
    }

    /// Appends the next datagram to `out`, exported at `now_ns`. v9/IPFIX include the
    /// templates when due.
    pub fn datagram(&mut self, now_ns: u64, out: &mut Vec<u8>) -> Sent {
        let t = self.templates_due();
        self.build(now_ns, t, true, out)
    }

    /// Appends a v9/IPFIX datagram with only the templates and the sampling options (no data),
    /// or, with `templates = false`, a data-only datagram.
    pub fn build(&mut self, now_ns: u64, templates: bool, data: bool, out: &mut Vec<u8>) -> Sent {
        let start = out.len();
        let mut s = match self.opts.protocol {
            GenProtocol::V5 => self.v5(now_ns, out),
            GenProtocol::V9 => self.v9(now_ns, templates, data, out),
            GenProtocol::Ipfix => self.ipfix(now_ns, templates, data, out),
            GenProtocol::Sflow => self.sflow(now_ns, out),
        };
        self.datagrams += 1;
        self.records += s.records;
        s.datagrams = 1;
        s.wire_bytes = (out.len() - start) as u64;
        s
    }

    /// A header sequence number: `n` (datagrams or records so far) from `first_sequence`,
    /// modulo 2^32.
    fn seq(&self, n: u64) -> u32 {
        self.opts.first_sequence.wrapping_add(n as u32)
    }

    fn uptime_ms(&self, now_ns: u64) -> u32 {
        ((now_ns.saturating_sub(self.boot_ns)) / 1_000_000) as u32
    }

    fn v5(&mut self, now_ns: u64, o: &mut Vec<u8>) -> Sent {
        let n = self.opts.records.clamp(1, GenProtocol::V5.max_records());
        let uptime = self.uptime_ms(now_ns);
        put16(o, 5);
        put16(o, n as u16);
        put32(o, uptime);
        put32(o, (now_ns / 1_000_000_000) as u32);
        put32(o, (now_ns % 1_000_000_000) as u32);
        put32(o, self.seq(self.records));
        o.push(0); // engine type
        o.push(self.domain as u8); // engine id
        put16(o, 0x4000 | (self.opts.sampling_rate.min(0x3FFF) as u16));
        let mut s = Sent::default();
        for _ in 0..n {
            let f = Flow::random(&mut self.rng, false);
            let last = uptime.wrapping_sub(f.end_ago_ms);
            let first = last.wrapping_sub(f.duration_ms);
            let (bytes, packets) = (f.bytes as u32, f.packets as u32);
            o.extend_from_slice(&f.src4);
            o.extend_from_slice(&f.dst4);
            o.extend_from_slice(&f.next_hop);
            put16(o, f.in_if);
            put16(o, f.out_if);
            put32(o, packets);
            put32(o, bytes);
            put32(o, first);
            put32(o, last);
            put16(o, f.src_port);
            put16(o, f.dst_port);
            o.push(0);
            o.push(f.tcp_flags);
            o.push(f.proto);
            o.push(f.tos);
            put16(o, f.src_as);
            put16(o, f.dst_as);
            o.push(f.src_mask);
            o.push(f.dst_mask);
            put16(o, 0);
            s.records += 1;
            s.bytes += u64::from(bytes);
            s.packets += u64::from(packets);
        }
        s
    }

    /// Which template the next data set uses: one datagram in four carries IPv6 flows.
    fn data_v6(&self) -> bool {
        self.datagrams % 4 == 3
    }

    fn v9(&mut self, now_ns: u64, templates: bool, data: bool, o: &mut Vec<u8>) -> Sent {
        let start = o.len();
        let uptime = self.uptime_ms(now_ns);
        put16(o, 9);
        put16(o, 0); // count, patched
        put32(o, uptime);
        put32(o, (now_ns / 1_000_000_000) as u32);
        put32(o, self.seq(self.datagrams));
        put32(o, self.domain);
        let mut count = 0u16;
        if templates {
            // template flowset: both data templates
            let fs = o.len();
            put16(o, 0);
            put16(o, 0);
            for (id, fields) in [(TEMPLATE_V4, V9_FIELDS_V4), (TEMPLATE_V6, V9_FIELDS_V6)] {
                put16(o, id);
                put16(o, fields.len() as u16);
                for &(t, l) in fields {
                    put16(o, t);
                    put16(o, l);
                }
                count += 1;
            }
            let len = (o.len() - fs) as u16;
            set16(o, fs + 2, len);
            // options template flowset: scope System (1, 4 bytes); SAMPLING_INTERVAL (34, 4),
            // SAMPLING_ALGORITHM (35, 1)
            let fs = o.len();
            put16(o, 1);
            put16(o, 0);
            put16(o, TEMPLATE_OPTIONS);
            put16(o, 4); // scope length in bytes
            put16(o, 8); // option length in bytes
            put16(o, 1);
            put16(o, 4);
            put16(o, 34);
            put16(o, 4);
            put16(o, 35);
            put16(o, 1);
            pad4(o, fs);
            let len = (o.len() - fs) as u16;
            set16(o, fs + 2, len);
            count += 1;
            // options data
            let fs = o.len();
            put16(o, TEMPLATE_OPTIONS);
            put16(o, 0);
            put32(o, 0); // system scope
            put32(o, self.opts.sampling_rate);
            o.push(2); // random
            pad4(o, fs);
            let len = (o.len() - fs) as u16;
            set16(o, fs + 2, len);
            count += 1;
        }
        let mut s = Sent::default();
        if data {
            let v6 = self.data_v6();
            let n = self.opts.records.clamp(1, GenProtocol::V9.max_records());
            let fs = o.len();
            put16(o, if v6 { TEMPLATE_V6 } else { TEMPLATE_V4 });
            put16(o, 0);
            for _ in 0..n {
                let f = Flow::random(&mut self.rng, v6);
                let last = uptime.wrapping_sub(f.end_ago_ms);
                let first = last.wrapping_sub(f.duration_ms);
                if v6 {
                    o.extend_from_slice(&f.src6);
                    o.extend_from_slice(&f.dst6);
                    put64(o, f.bytes);
                    put64(o, f.packets);
                    o.push(f.proto);
                    put16(o, f.src_port);
                    put16(o, f.dst_port);
                    put32(o, u32::from(f.in_if));
                    put32(o, u32::from(f.out_if));
                    put32(o, first);
                    put32(o, last);
                    s.bytes += f.bytes;
                    s.packets += f.packets;
                } else {
                    let (bytes, packets) = (f.bytes as u32, f.packets as u32);
                    o.extend_from_slice(&f.src4);
                    o.extend_from_slice(&f.dst4);
                    o.extend_from_slice(&f.next_hop);
                    put32(o, bytes);
                    put32(o, packets);
                    o.push(f.proto);
                    o.push(f.tos);
                    o.push(f.tcp_flags);
                    put16(o, f.src_port);
                    put16(o, f.dst_port);
                    put16(o, f.in_if);
                    put16(o, f.out_if);
                    put16(o, f.src_as);
                    put16(o, f.dst_as);
                    o.push(f.src_mask);
                    o.push(f.dst_mask);
                    put32(o, first);
                    put32(o, last);
                    s.bytes += u64::from(bytes);
                    s.packets += u64::from(packets);
                }
                s.records += 1;
                count += 1;
            }
            pad4(o, fs);
            let len = (o.len() - fs) as u16;
            set16(o, fs + 2, len);
        }
        set16(o, start + 2, count);
        s
    }

    fn ipfix(&mut self, now_ns: u64, templates: bool, data: bool, o: &mut Vec<u8>) -> Sent {
        let start = o.len();
        put16(o, 10);
        put16(o, 0); // length, patched
        put32(o, (now_ns / 1_000_000_000) as u32);
        put32(o, self.seq(self.records + self.options_records));
        put32(o, self.domain);
        if templates {
            let fs = o.len();
            put16(o, 2);
            put16(o, 0);
            for (id, fields) in [
                (TEMPLATE_V4, IPFIX_FIELDS_V4),
                (TEMPLATE_V6, IPFIX_FIELDS_V6),
            ] {
                put16(o, id);
                put16(o, fields.len() as u16);
                for &(t, l) in fields {
                    put16(o, t);
                    put16(o, l);
                }
            }
            let len = (o.len() - fs) as u16;
            set16(o, fs + 2, len);
            // options template: scope observationDomainId (149, 4); samplingInterval (34, 4),
            // samplingAlgorithm (35, 1)
            let fs = o.len();
            put16(o, 3);
            put16(o, 0);
            put16(o, TEMPLATE_OPTIONS);
            put16(o, 3); // field count
            put16(o, 1); // scope field count
            put16(o, 149);
            put16(o, 4);
            put16(o, 34);
            put16(o, 4);
            put16(o, 35);
            put16(o, 1);
            let len = (o.len() - fs) as u16;
            set16(o, fs + 2, len);
            let fs = o.len();
            put16(o, TEMPLATE_OPTIONS);
            put16(o, 0);
            put32(o, self.domain);
            put32(o, self.opts.sampling_rate);
            o.push(2);
            let len = (o.len() - fs) as u16;
            set16(o, fs + 2, len);
            self.options_records += 1;
        }
        let mut s = Sent::default();
        if data {
            let v6 = self.data_v6();
            let n = self.opts.records.clamp(1, GenProtocol::Ipfix.max_records());
            let now_ms = now_ns / 1_000_000;
            let fs = o.len();
            put16(o, if v6 { TEMPLATE_V6 } else { TEMPLATE_V4 });
            put16(o, 0);
            for _ in 0..n {
                let f = Flow::random(&mut self.rng, v6);
                let end = now_ms - u64::from(f.end_ago_ms);
                let begin = end - u64::from(f.duration_ms);
                if v6 {
                    o.extend_from_slice(&f.src6);
                    o.extend_from_slice(&f.dst6);
                } else {
                    o.extend_from_slice(&f.src4);
                    o.extend_from_slice(&f.dst4);
                    o.extend_from_slice(&f.next_hop);
                }
                put64(o, f.bytes);
                put64(o, f.packets);
                o.push(f.proto);
                if !v6 {
                    o.push(f.tos);
                    put16(o, u16::from(f.tcp_flags));
                }
                put16(o, f.src_port);
                put16(o, f.dst_port);
                put32(o, u32::from(f.in_if));
                put32(o, u32::from(f.out_if));
                if !v6 {
                    put32(o, u32::from(f.src_as));
                    put32(o, u32::from(f.dst_as));
                    o.push(f.src_mask);
                    o.push(f.dst_mask);
                }
                put64(o, begin);
                put64(o, end);
                s.records += 1;
                s.bytes += f.bytes;
                s.packets += f.packets;
            }
            let len = (o.len() - fs) as u16;
            set16(o, fs + 2, len);
        }
        let len = (o.len() - start) as u16;
        set16(o, start + 2, len);
        s
    }

    fn sflow(&mut self, now_ns: u64, o: &mut Vec<u8>) -> Sent {
        let n = self.opts.records.clamp(1, GenProtocol::Sflow.max_records());
        put32(o, 5);
        match self.ip.to_canonical() {
            IpAddr::V4(a) => {
                put32(o, 1);
                o.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                put32(o, 2);
                o.extend_from_slice(&a.octets());
            }
        }
        put32(o, self.domain); // sub agent id
        put32(o, self.seq(self.datagrams));
        put32(o, self.uptime_ms(now_ns));
        put32(o, n as u32);
        let mut s = Sent::default();
        let mut hdr = [0u8; 128];
        for i in 0..n {
            let v6 = self.rng.next_u64() % 4 == 0;
            let f = Flow::random(&mut self.rng, v6);
            let frame_len = (f.bytes / f.packets).clamp(64 + 40, 1518) as u16;
            let hl = sampled_header(&f, frame_len, &mut hdr);
            let frame_len = u32::from(frame_len);
            let seq = (self.records + i as u64) as u32;
            let record_len = 16 + hl.div_ceil(4) * 4;
            let sample_len = 32 + 8 + record_len;
            put32(o, 1); // flow_sample
            put32(o, sample_len as u32);
            put32(o, seq);
            put32(o, self.domain & 0x00FF_FFFF); // source id: ifIndex type 0
            put32(o, self.opts.sampling_rate);
            put32(o, seq.wrapping_mul(self.opts.sampling_rate)); // sample pool
            put32(o, 0); // drops
            put32(o, u32::from(f.in_if));
            put32(o, u32::from(f.out_if));
            put32(o, 1); // one flow record
            put32(o, 1); // sampled_header
            put32(o, record_len as u32);
            put32(o, 1); // ETHERNET-ISO88023
            put32(o, frame_len);
            put32(o, 4); // FCS stripped
            put32(o, hl as u32);
            o.extend_from_slice(&hdr[..hl]);
            o.resize(o.len() + (hl.div_ceil(4) * 4 - hl), 0);
            s.records += 1;
            s.bytes += u64::from(frame_len);
            s.packets += 1;
        }
        s
    }
}

fn pad4(o: &mut Vec<u8>, from: usize) {
    while (o.len() - from) % 4 != 0 {
        o.push(0);
    }
}

/// Writes Ethernet + IPv4/IPv6 + TCP/UDP headers of `f` into `out`; returns their length.
/// `frame` is the original frame length including the 4-byte FCS.
fn sampled_header(f: &Flow, frame: u16, out: &mut [u8; 128]) -> usize {
    let mut o: Vec<u8> = Vec::with_capacity(128);
    o.extend_from_slice(&[0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e]); // dst mac
    o.extend_from_slice(&[0x00, 0x0c, 0x29, 0x01, 0x02, f.in_if as u8]); // src mac
    let l4_len: u16 = if f.proto == 6 { 20 } else { 8 };
    if f.v6 {
        put16(&mut o, 0x86DD);
        put32(&mut o, 0x6000_0000 | u32::from(f.tos) << 20);
        put16(&mut o, frame.saturating_sub(14 + 4 + 40).max(l4_len));
        o.push(f.proto);
        o.push(64);
        o.extend_from_slice(&f.src6);
        o.extend_from_slice(&f.dst6);
    } else {
        put16(&mut o, 0x0800);
        let ip = o.len();
        o.push(0x45);
        o.push(f.tos);
        put16(&mut o, frame.saturating_sub(14 + 4).max(20 + l4_len));
        put16(&mut o, f.src_port ^ f.dst_port); // id
        put16(&mut o, 0x4000); // DF
        o.push(64);
        o.push(f.proto);
        put16(&mut o, 0);
        o.extend_from_slice(&f.src4);
        o.extend_from_slice(&f.dst4);
        let sum = checksum(&o[ip..ip + 20]);
        set16(&mut o, ip + 10, sum);
    }
    put16(&mut o, f.src_port);
    put16(&mut o, f.dst_port);
    if f.proto == 6 {
        put32(&mut o, 1); // seq
        put32(&mut o, 0); // ack
        o.push(5 << 4);
        o.push(f.tcp_flags);
        put16(&mut o, 65535);
        put16(&mut o, 0);
        put16(&mut o, 0);
    } else {
        put16(
            &mut o,
            frame
                .saturating_sub(14 + 4 + if f.v6 { 40 } else { 20 })
                .max(8),
        );
        put16(&mut o, 0);
    }
    out[..o.len()].copy_from_slice(&o);
    o.len()
}

fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000_000_000;

    fn exporter(p: GenProtocol) -> Exporter {
        Exporter::new(0, "127.0.1.1".parse().unwrap(), GenOptions::new(p), NOW)
    }

    #[test]
    fn datagrams_are_well_formed() {
        for p in [GenProtocol::V9, GenProtocol::Ipfix, GenProtocol::Sflow] {
            let mut e = exporter(p);
            for _ in 0..8 {
                let mut d = Vec::new();
                e.datagram(NOW, &mut d);
                match p {
                    GenProtocol::Ipfix => {
                        assert_eq!(u16::from_be_bytes([d[2], d[3]]) as usize, d.len())
                    }
                    GenProtocol::V9 => {
                        // flowset lengths tile the datagram
                        let mut off = 20;
                        while off < d.len() {
                            let len = u16::from_be_bytes([d[off + 2], d[off + 3]]) as usize;
                            assert!(len >= 4 && len % 4 == 0);
                            off += len;
                        }
                        assert_eq!(off, d.len());
                    }
                    _ => assert_eq!(d.len() % 4, 0, "XDR is 4-byte aligned"),
                }
            }
        }
    }

    #[test]
    fn reproducible() {
        let mut a = exporter(GenProtocol::Sflow);
        let mut b = exporter(GenProtocol::Sflow);
        let (mut da, mut db) = (Vec::new(), Vec::new());
        assert_eq!(a.datagram(NOW, &mut da), b.datagram(NOW, &mut db));
        assert_eq!(da, db);
    }
}
