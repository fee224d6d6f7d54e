//! NetFlow v9 (RFC 3954): a 20-byte header and flowsets (0 templates, 1 options templates,
//! >= 256 data).
//!
//! `Header::new_checked` checks the length once; after that no accessor can panic. The rest
//! is read with bounds-checked cursors over the datagram, never copied.
//!
//! - All template flowsets of a datagram are read before any data flowset, whatever their
//!   order, so data that precedes its template in the same datagram decodes.
//! - Templates are keyed by (exporter IP, source id, template id); the port is not part of the
//!   key. A redefinition replaces the old template.
//! - The header `count` (records of all kinds) is not used for bounds: flowset lengths are.
//!   A wrong count is not an error.
//! - Field length 65535 is accepted as variable length with the IPFIX encoding (1-byte
//!   length, or 255 + 2-byte length). RFC 3954 has no such thing, but H3C sends it.
//! - Options templates give scope and option lengths in bytes; scope fields are scope types
//!   (System, Interface, ...), not field types, and are never mapped.
//! - FIRST/LAST_SWITCHED (22/21) are sysUptime milliseconds: flow time = export time -
//!   (sysUptime - t), with the 32-bit wrap handled. IPFIX time IEs (150-159) in v9 templates
//!   are read as in IPFIX.

use super::fields::RecCtx;
use super::seq::SeqNote;
use super::sets::{data_passes, is_padding, read_fields, Datagram, Sets};
use super::{DatagramSummary, DecodeError, Decoder, FlowSink, Protocol, Section};
use crate::cursor::Cursor;
use crate::decode::template::Learn;
use crate::flow::{Addr, FieldGroups, FlowRecord, FlowType};
use std::net::IpAddr;

pub const HEADER_LEN: usize = 20;

/// A view of the 20-byte v9 header.
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
    /// Records of all kinds in the datagram, as the exporter counted them (not trusted).
    pub fn count(&self) -> u16 {
        self.u16(2)
    }
    pub fn sys_uptime_ms(&self) -> u32 {
        self.u32(4)
    }
    pub fn unix_secs(&self) -> u32 {
        self.u32(8)
    }
    /// Export packets sent so far (packets, unlike IPFIX).
    pub fn sequence(&self) -> u32 {
        self.u32(12)
    }
    pub fn source_id(&self) -> u32 {
        self.u32(16)
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
    if h.version() != 9 {
        return Err(DecodeError::BadVersion(u32::from(h.version())));
    }
    dec.stats.last.export_secs = h.unix_secs();
    let addr = Addr::from_ip(exporter);
    let domain = h.source_id();
    // the sequence counts export packets, per source id
    dec.stats.last.seq = Some(SeqNote {
        domain,
        seq: h.sequence(),
        units: 1,
    });
    let export_ns = u64::from(h.unix_secs()) * 1_000_000_000;
    let body = &payload[HEADER_LEN..];

    // pass 1: templates
    let mut frame_err = None;
    for set in Sets::new(body, HEADER_LEN) {
        match set {
            Ok((0, b)) => {
                dec.stats.last.sets[DatagramSummary::SET_TEMPLATE] += 1;
                templates(dec, &addr, domain, recv_ns, b)
            }
            Ok((1, b)) => {
                dec.stats.last.sets[DatagramSummary::SET_OPTIONS_TEMPLATE] += 1;
                options_templates(dec, &addr, domain, recv_ns, b)
            }
            Ok((id, _)) if id < 256 => dec.stats.count(DecodeError::BadSetId(id)),
            Ok(_) => {}
            Err(e) => frame_err = Some(e),
        }
    }

    // passes 2 and 3: options data, data
    let d = Datagram {
        proto: Protocol::NetflowV9,
        version: 9,
        addr,
        domain,
        body,
        body_offset: HEADER_LEN,
        ctx: RecCtx {
            v9: true,
            export_ns,
            uptime_ms: h.sys_uptime_ms(),
            sys_init_ms: 0,
        },
        base: FlowRecord {
            flow_type: FlowType::NetflowV9,
            time_received_ns: recv_ns,
            sequence_num: h.sequence(),
            sampler_address: addr,
            observation_domain_id: domain,
            time_flow_start_ns: export_ns,
            time_flow_end_ns: export_ns,
            // each data set adds its template's groups (`Plan::groups`)
            groups: FieldGroups::NONE,
            ..FlowRecord::default()
        },
    };
    let res = data_passes(dec, &d, sink);
    match (frame_err, res) {
        (None, r) => r,
        (Some(e), Ok(())) => Err(e),
        (Some(e), Err(l)) => {
            dec.stats.count(e);
            Err(l)
        }
    }
}

/// Template flowset: `{template_id, field_count, {type, length} * field_count} *`.
fn templates(dec: &mut Decoder, addr: &Addr, domain: u32, now_ns: u64, body: &[u8]) {
    let mut c = Cursor::new(body);
    let mut fields = std::mem::take(&mut dec.templates.scratch);
    while c.remaining() >= 4 && !is_padding(c.rest()) {
        let (id, count) = match (c.u16(), c.u16()) {
            (Ok(id), Ok(n)) => (id, n),
            _ => break,
        };
        let bad = DecodeError::BadTemplate {
            section: Section::Template,
            template_id: id,
        };
        if let Err(s) = read_fields(
            &mut c,
            count as usize,
            false,
            dec.limits.max_fields_per_template,
            &mut fields,
        ) {
            dec.stats.count(DecodeError::short(Section::Template, s));
            break;
        }
        if id < 256 || count == 0 {
            dec.stats.count(bad);
            continue;
        }
        let t = Learn {
            version: 9,
            domain,
            id,
            options: false,
            scope_count: 0,
            fields: &fields,
            now_ns,
        };
        dec.templates.learn(addr, &t, &dec.limits, &mut dec.stats);
    }
    dec.templates.scratch = fields;
}

/// Options template flowset: `{template_id, scope_length, option_length, scope fields,
/// option fields} *`, lengths in bytes.
fn options_templates(dec: &mut Decoder, addr: &Addr, domain: u32, now_ns: u64, body: &[u8]) {
    let mut c = Cursor::new(body);
    let mut fields = std::mem::take(&mut dec.templates.scratch);
    while c.remaining() >= 6 && !is_padding(c.rest()) {
        let (id, scope_len, opt_len) = match (c.u16(), c.u16(), c.u16()) {
            (Ok(id), Ok(s), Ok(o)) => (id, s as usize, o as usize),
            _ => break,
        };
        if scope_len % 4 != 0 || opt_len % 4 != 0 {
            // the field specifiers cannot be found again: the rest of the set is lost
            dec.stats.count(DecodeError::BadLength {
                section: Section::OptionsTemplate,
                value: (scope_len + opt_len) as u32,
            });
            break;
        }
        let count = (scope_len + opt_len) / 4;
        if let Err(s) = read_fields(
            &mut c,
            count,
            false,
            dec.limits.max_fields_per_template,
            &mut fields,
        ) {
            dec.stats
                .count(DecodeError::short(Section::OptionsTemplate, s));
            break;
        }
        if id < 256 || count == 0 {
            dec.stats.count(DecodeError::BadTemplate {
                section: Section::OptionsTemplate,
                template_id: id,
            });
            continue;
        }
        let t = Learn {
            version: 9,
            domain,
            id,
            options: true,
            scope_count: (scope_len / 4) as u16,
            fields: &fields,
            now_ns,
        };
        dec.templates.learn(addr, &t, &dec.limits, &mut dec.stats);
    }
    dec.templates.scratch = fields;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::nftest::*;
    use crate::decode::spec::VARLEN;
    use crate::decode::{LimitKind, Limits};

    const SECS: u32 = 1_700_000_000;
    const EXPORT_NS: u64 = SECS as u64 * 1_000_000_000;

    /// 20 fields, 51-byte records.
    const T256: &[(u16, u16)] = &[
        (8, 4),
        (12, 4),
        (15, 4),
        (7, 2),
        (11, 2),
        (4, 1),
        (6, 1),
        (5, 1),
        (1, 4),
        (2, 4),
        (10, 2),
        (14, 2),
        (16, 4),
        (17, 4),
        (9, 1),
        (13, 1),
        (22, 4),
        (21, 4),
        (61, 1),
        (89, 1),
    ];

    fn rec256(i: u8, first: u32, last: u32) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&[10, 0, 0, i]);
        r.extend_from_slice(&[192, 168, 0, 1]);
        r.extend_from_slice(&[10, 0, 0, 254]);
        r.extend_from_slice(&1234u16.to_be_bytes());
        r.extend_from_slice(&443u16.to_be_bytes());
        r.extend_from_slice(&[6, 0x12, 0x20]);
        r.extend_from_slice(&(1000 + u32::from(i)).to_be_bytes());
        r.extend_from_slice(&10u32.to_be_bytes());
        r.extend_from_slice(&3u16.to_be_bytes());
        r.extend_from_slice(&4u16.to_be_bytes());
        r.extend_from_slice(&65001u32.to_be_bytes());
        r.extend_from_slice(&65002u32.to_be_bytes());
        r.extend_from_slice(&[24, 16]);
        r.extend_from_slice(&first.to_be_bytes());
        r.extend_from_slice(&last.to_be_bytes());
        r.extend_from_slice(&[1, 0x40]);
        r
    }

    fn data(id: u16, recs: &[Vec<u8>]) -> Vec<u8> {
        set(id, &recs.concat())
    }

    fn basic() -> Vec<u8> {
        v9(
            4,
            100_000,
            SECS,
            42,
            7,
            &[
                set(0, &v9_template(256, T256)),
                data(
                    256,
                    &[
                        rec256(1, 90_000, 99_000),
                        rec256(2, 90_000, 99_000),
                        rec256(3, 0, 100_000),
                    ],
                ),
            ],
        )
    }

    #[test]
    fn template_and_data_in_one_datagram() {
        let (flows, dec) = run(&[basic()]);
        assert_eq!(flows.len(), 3);
        let r = flows[1];
        assert_eq!(r.flow_type, FlowType::NetflowV9);
        assert_eq!(r.src_addr, Addr::v4([10, 0, 0, 2]));
        assert_eq!(r.dst_addr, Addr::v4([192, 168, 0, 1]));
        assert_eq!(r.next_hop, Addr::v4([10, 0, 0, 254]));
        assert_eq!(r.etype, 0x0800);
        assert_eq!((r.src_port, r.dst_port, r.proto), (1234, 443, 6));
        assert_eq!((r.tcp_flags, r.ip_tos), (0x12, 0x20));
        assert_eq!((r.bytes, r.packets), (1002, 10));
        assert_eq!((r.in_if, r.out_if), (3, 4));
        assert_eq!(
            (r.src_as, r.dst_as, r.src_net, r.dst_net),
            (65001, 65002, 24, 16)
        );
        assert_eq!((r.flow_direction, r.forwarding_status), (1, 0x40));
        assert_eq!(r.time_flow_start_ns, EXPORT_NS - 10_000_000_000);
        assert_eq!(r.time_flow_end_ns, EXPORT_NS - 1_000_000_000);
        assert_eq!(flows[2].time_flow_start_ns, EXPORT_NS - 100_000_000_000);
        assert_eq!(flows[2].time_flow_end_ns, EXPORT_NS);
        assert_eq!((r.sequence_num, r.observation_domain_id), (42, 7));
        assert_eq!(r.sampler_address, Addr::v4(EXPORTER));
        assert_eq!(r.time_received_ns, RECV_NS);
        assert_eq!(r.sampling_rate, 0);
        assert_eq!(dec.stats.flows[1], 3);
        assert_eq!(dec.stats.templates_learned, 1);
        assert_eq!(dec.stats.error_total(), 0);
        // a re-sent identical template is not learned again
        let (_, dec) = run(&[basic(), basic()]);
        assert_eq!(dec.stats.templates_learned, 1);
        let t = dec.templates.templates();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].version, t[0].domain, t[0].template_id), (9, 7, 256));
        assert_eq!(t[0].fields.len(), 20);
    }

    #[test]
    fn data_before_template_and_wrong_count() {
        let d = v9(
            99, // wrong count: not fatal
            100_000,
            SECS,
            1,
            7,
            &[
                data(256, &[rec256(1, 90_000, 99_000)]),
                set(0, &v9_template(256, T256)),
            ],
        );
        let (flows, dec) = run(&[d]);
        assert_eq!(flows.len(), 1);
        assert_eq!(dec.stats.error_total(), 0);
    }

    #[test]
    fn uptime_wrap() {
        // sysUptime wrapped to 1000 ms; the flow started 2 s before export
        let d = v9(
            2,
            1000,
            SECS,
            1,
            0,
            &[
                set(0, &v9_template(256, T256)),
                data(256, &[rec256(1, u32::MAX - 999, 500)]),
            ],
        );
        let (flows, _) = run(&[d]);
        assert_eq!(flows[0].time_flow_start_ns, EXPORT_NS - 2_000_000_000);
        assert_eq!(flows[0].time_flow_end_ns, EXPORT_NS - 500_000_000);
    }

    #[test]
    fn options_sampling_by_sampler_id() {
        let opt_t = v9_options_template(300, &[(1, 4)], &[(48, 1), (34, 4)]);
        let mut opt_d = Vec::new();
        for (sid, rate) in [(1u8, 100u32), (2, 1000)] {
            opt_d.extend_from_slice(&[0, 0, 0, 0, sid]);
            opt_d.extend_from_slice(&rate.to_be_bytes());
        }
        let t = v9_template(258, &[(8, 4), (48, 1), (1, 4)]);
        let rec = |sid: u8| [&[10, 0, 0, sid][..], &[sid], &100u32.to_be_bytes()].concat();
        // data first, options after it, templates last: the passes put them in order
        let d = v9(
            6,
            0,
            SECS,
            1,
            0,
            &[
                data(258, &[rec(1), rec(2), rec(3)]),
                set(300, &opt_d),
                set(1, &opt_t),
                set(0, &t),
            ],
        );
        let (flows, dec) = run(std::slice::from_ref(&d));
        let rates: Vec<u64> = flows.iter().map(|r| r.sampling_rate).collect();
        // sampler 3 is unknown: the domain's rate (last learned) applies
        assert_eq!(rates, vec![100, 1000, 1000]);
        assert_eq!(dec.stats.options_records, 2);
        assert_eq!(dec.stats.flows[1], 3);
        let s = dec.templates.sampling_rates();
        assert_eq!(s.len(), 3);
        assert!(s.iter().any(|x| x.sampler_id == Some(1) && x.rate == 100));
        assert!(s.iter().any(|x| x.sampler_id.is_none() && x.rate == 1000));
        // a later datagram of another source id knows no rate
        let d2 = v9(1, 0, SECS, 2, 9, &[set(0, &t), data(258, &[rec(1)])]);
        let mut dec = Decoder::default();
        let flows = run_with(&mut dec, &[d, d2]);
        assert_eq!(flows[3].sampling_rate, 0);
    }

    #[test]
    fn sampling_interval_in_data_records() {
        // Huawei: IE 34 inside the data records; stored for the domain
        let t = v9_template(260, &[(8, 4), (34, 4), (1, 4)]);
        let r = [
            &[10, 0, 0, 1][..],
            &512u32.to_be_bytes(),
            &9u32.to_be_bytes(),
        ]
        .concat();
        let d1 = v9(2, 0, SECS, 1, 0, &[set(0, &t), data(260, &[r])]);
        let d2 = v9(
            2,
            100_000,
            SECS,
            2,
            0,
            &[
                set(0, &v9_template(256, T256)),
                data(256, &[rec256(1, 1, 2)]),
            ],
        );
        let (flows, _) = run(&[d1, d2]);
        assert_eq!(flows[0].sampling_rate, 512);
        assert_eq!(flows[1].sampling_rate, 512);
    }

    #[test]
    fn h3c_variable_length_fields() {
        let t = v9_template(259, &[(8, 4), (82, VARLEN), (1, 4), (83, VARLEN), (12, 4)]);
        let long = vec![b'x'; 300];
        let r1 = [
            &[10, 0, 0, 1][..],
            &[3],
            b"abc",
            &7u32.to_be_bytes(),
            &[255, 1, 44], // 3-byte form: 300
            &long,
            &[10, 0, 0, 2],
        ]
        .concat();
        let r2 = [
            &[10, 0, 0, 3][..],
            &[0],
            &8u32.to_be_bytes(),
            &[1],
            b"z",
            &[10, 0, 0, 4],
        ]
        .concat();
        let d = v9(3, 0, SECS, 1, 0, &[set(0, &t), data(259, &[r1, r2])]);
        let (flows, dec) = run(&[d]);
        assert_eq!(dec.stats.error_total(), 0);
        assert_eq!(flows.len(), 2);
        assert_eq!(
            (flows[0].bytes, flows[0].dst_addr),
            (7, Addr::v4([10, 0, 0, 2]))
        );
        assert_eq!(
            (flows[1].bytes, flows[1].dst_addr),
            (8, Addr::v4([10, 0, 0, 4]))
        );
    }

    #[test]
    fn layer2_mpls_and_ipv6() {
        let t = v9_template(
            261,
            &[
                (27, 16),
                (28, 16),
                (62, 16),
                (63, 16),
                (31, 3),
                (56, 6),
                (57, 6),
                (58, 2),
                (59, 2),
                (70, 3),
                (71, 3),
                (72, 3),
                (47, 4),
                (32, 2),
                (4, 1),
                (23, 4),
                (24, 4),
                (52, 1),
                (54, 2),
                (88, 2),
                (234, 4),
                (235, 4),
                (239, 1),
            ],
        );
        let mut r = Vec::new();
        r.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        r.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        r.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        r.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
        r.extend_from_slice(&[0x01, 0x23, 0x45]);
        r.extend_from_slice(&[0, 1, 2, 3, 4, 5]);
        r.extend_from_slice(&[6, 7, 8, 9, 10, 11]);
        r.extend_from_slice(&100u16.to_be_bytes());
        r.extend_from_slice(&200u16.to_be_bytes());
        r.extend_from_slice(&[0x01, 0x00, 0x10]); // label 4097, exp 0, S 0
        r.extend_from_slice(&[0x00, 0x02, 0x01]); // label 32, S 1
        r.extend_from_slice(&[0, 0, 0]); // none
        r.extend_from_slice(&[10, 9, 9, 9]);
        r.extend_from_slice(&[3, 1]); // ICMP type 3 code 1
        r.push(58);
        r.extend_from_slice(&5000u32.to_be_bytes());
        r.extend_from_slice(&50u32.to_be_bytes());
        r.push(64);
        r.extend_from_slice(&77u16.to_be_bytes());
        r.extend_from_slice(&185u16.to_be_bytes());
        r.extend_from_slice(&11u32.to_be_bytes());
        r.extend_from_slice(&12u32.to_be_bytes());
        r.push(2);
        let d = v9(2, 0, SECS, 1, 0, &[set(0, &t), data(261, &[r])]);
        let (flows, _) = run(&[d]);
        let r = flows[0];
        assert_eq!(r.etype, 0x86dd);
        assert_eq!(r.src_addr.to_ip().unwrap().to_string(), "2001:db8::1");
        assert_eq!(r.next_hop.to_ip().unwrap().to_string(), "fe80::9");
        assert_eq!(r.bgp_next_hop.to_ip().unwrap().to_string(), "2001:db8::3");
        assert_eq!(r.ipv6_flow_label, 0x12345);
        assert_eq!((r.src_mac, r.dst_mac), (0x0001_0203_0405, 0x0607_0809_0a0b));
        assert_eq!((r.vlan_id, r.src_vlan, r.dst_vlan), (100, 100, 200));
        assert_eq!(r.mpls_labels(), &[4097, 32]);
        assert_eq!(r.mpls_ttls(), &[0, 0]);
        assert_eq!(r.mpls_ip, Addr::v4([10, 9, 9, 9]));
        assert_eq!((r.icmp_type, r.icmp_code, r.proto), (3, 1, 58));
        assert_eq!((r.bytes, r.packets, r.ip_ttl), (5000, 50, 64));
        assert_eq!((r.fragment_id, r.fragment_offset), (77, 185));
        assert_eq!(
            (r.ingress_vrf_id, r.egress_vrf_id, r.bi_flow_direction),
            (11, 12, 2)
        );
        // no time fields: start = end = export time
        assert_eq!(
            (r.time_flow_start_ns, r.time_flow_end_ns),
            (EXPORT_NS, EXPORT_NS)
        );
    }

    #[test]
    fn redefinition_replaces() {
        let d1 = basic();
        let t2 = v9_template(256, &[(12, 4), (1, 4)]);
        let r = [&[1, 2, 3, 4][..], &55u32.to_be_bytes()].concat();
        let d2 = v9(2, 0, SECS, 2, 7, &[set(0, &t2), data(256, &[r])]);
        let (flows, dec) = run(&[d1, d2]);
        assert_eq!(flows.len(), 4);
        assert_eq!(
            (flows[3].bytes, flows[3].dst_addr),
            (55, Addr::v4([1, 2, 3, 4]))
        );
        assert_eq!(dec.stats.templates_learned, 2);
        assert_eq!(dec.templates.template_count(), 1);
    }

    #[test]
    fn bad_input_is_counted() {
        // flowset length below 4: the datagram stops there, the valid part before it decodes
        let mut d = basic();
        d.extend_from_slice(&[1, 0, 0, 2, 9, 9, 9, 9]);
        let (flows, dec) = run(&[d]);
        assert_eq!(flows.len(), 3);
        assert_eq!(
            dec.stats.errors[DecodeError::BadLength {
                section: Section::FlowSet,
                value: 0
            }
            .index()],
            1
        );

        // template id < 256, field count 0 and zero-length records are rejected, the rest
        // of the set is read
        let mut ts = v9_template(5, &[(8, 4)]);
        ts.extend_from_slice(&v9_template(300, &[]));
        ts.extend_from_slice(&v9_template(301, &[(8, 0), (12, 0)]));
        ts.extend_from_slice(&v9_template(256, T256));
        let d = v9(
            1,
            100_000,
            SECS,
            1,
            7,
            &[
                set(0, &ts),
                data(300, &[vec![1, 2, 3, 4]]),
                data(256, &[rec256(1, 1, 2)]),
            ],
        );
        let (flows, dec) = run(&[d]);
        assert_eq!(flows.len(), 1);
        assert_eq!(dec.stats.errors[5], 3, "bad_template");
        assert_eq!(dec.stats.errors[7], 1, "template_not_found");
        assert_eq!(dec.stats.records_without_template, 1);

        // options template lengths must be multiples of 4
        let mut ot = v9_options_template(300, &[(1, 4)], &[(34, 4)]);
        ot[3] = 5;
        let (_, dec) = run(&[v9(1, 0, SECS, 1, 0, &[set(1, &ot)])]);
        assert_eq!(dec.stats.errors[3], 1, "bad_length");

        // reserved flowset ids are skipped and counted
        let d = v9(
            1,
            100_000,
            SECS,
            1,
            7,
            &[set(7, &[1, 2, 3, 4]), set(0, &v9_template(256, T256))],
        );
        let (_, dec) = run(&[d]);
        assert_eq!(dec.stats.errors[6], 1, "bad_set_id");
        assert_eq!(dec.stats.templates_learned, 1);
    }

    #[test]
    fn limits_are_counted() {
        let mut dec = Decoder::new(Limits {
            max_records_per_datagram: 2,
            ..Limits::default()
        });
        let flows = run_with(&mut dec, &[basic()]);
        assert_eq!(flows.len(), 2);
        assert_eq!(dec.stats.limits[LimitKind::RecordsPerDatagram as usize], 1);

        let mut dec = Decoder::new(Limits {
            max_fields_per_template: 19,
            ..Limits::default()
        });
        let flows = run_with(&mut dec, &[basic()]);
        assert_eq!(flows.len(), 0);
        assert_eq!(dec.stats.limits[LimitKind::FieldsPerTemplate as usize], 1);
        assert_eq!(dec.stats.records_without_template, 1);
    }

    #[test]
    fn truncation_never_panics() {
        truncation_loop(&[basic()]);
        let t = v9_template(259, &[(8, 4), (82, VARLEN), (1, 4)]);
        let r = [
            &[10, 0, 0, 1][..],
            &[255, 0, 3],
            b"abc",
            &7u32.to_be_bytes(),
        ]
        .concat();
        let opt_t = v9_options_template(300, &[(1, 4)], &[(48, 1), (34, 4)]);
        let opt_d = [&[0, 0, 0, 0, 1][..], &100u32.to_be_bytes()].concat();
        truncation_loop(&[
            v9(2, 0, SECS, 1, 0, &[set(1, &opt_t), set(0, &t)]),
            v9(
                2,
                0,
                SECS,
                1,
                0,
                &[set(300, &opt_d), data(259, &[r.clone(), r])],
            ),
        ]);
    }

    /// (template datagram, data datagram of 30 records of the 20-field template)
    fn perf_fixture() -> (Vec<u8>, Vec<u8>) {
        let recs: Vec<Vec<u8>> = (0..30).map(|i| rec256(i, 90_000, 99_000)).collect();
        (
            v9(1, 100_000, SECS, 1, 7, &[set(0, &v9_template(256, T256))]),
            v9(30, 100_000, SECS, 2, 7, &[data(256, &recs)]),
        )
    }

    /// Runs `f` `iters` times and returns ns per record (30 records per call).
    fn per_record(iters: u64, mut f: impl FnMut()) -> f64 {
        for _ in 0..iters / 100 {
            f();
        }
        let t = std::time::Instant::now();
        for _ in 0..iters {
            f();
        }
        t.elapsed().as_nanos() as f64 / (iters * 30) as f64
    }

    fn perf_iters() -> u64 {
        std::env::var("PERF_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000)
    }

    /// Decode + map + encode to goflow-v2 protobuf, 30 records of a 20-field template.
    /// `cargo test --release --lib perf_v9 -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn perf_v9_full() {
        use crate::encode::{Encoder, Format};
        let (t, d) = perf_fixture();
        let mut dec = Decoder::default();
        run_with(&mut dec, &[t]);
        let mut enc = Encoder::new(Format::Pb, crate::encode::schema::Schema::default(), false);
        let ip = IpAddr::from(EXPORTER);
        let ns = per_record(perf_iters(), || {
            enc.buf.clear();
            dec.decode(ip, RECV_NS, std::hint::black_box(&d), &mut enc)
                .unwrap();
        });
        eprintln!("perf_v9_full: {ns:.1} ns/record decode+map+encode (goflow-v2 pb)");
    }

    /// Decode + map only.
    #[test]
    #[ignore]
    fn perf_v9_decode() {
        let (t, d) = perf_fixture();
        let mut dec = Decoder::default();
        run_with(&mut dec, &[t]);
        let ip = IpAddr::from(EXPORTER);
        let mut n = 0u64;
        let ns = per_record(perf_iters(), || {
            dec.decode(
                ip,
                RECV_NS,
                std::hint::black_box(&d),
                &mut |r: &FlowRecord| n += std::hint::black_box(r).bytes,
            )
            .unwrap();
        });
        eprintln!(
            "perf_v9_decode: {ns:.1} ns/record decode+map ({n}, FlowRecord {} bytes)",
            std::mem::size_of::<FlowRecord>()
        );
    }

    /// Encode only (the same 30 records), for comparison.
    #[test]
    #[ignore]
    fn perf_v9_encode() {
        use crate::encode::{Encoder, Format};
        let (t, d) = perf_fixture();
        let recs = run(&[t, d]).0;
        let mut enc = Encoder::new(Format::Pb, crate::encode::schema::Schema::default(), false);
        let ns = per_record(perf_iters(), || {
            enc.buf.clear();
            for r in &recs {
                crate::decode::FlowSink::flow(&mut enc, std::hint::black_box(r));
            }
        });
        eprintln!("perf_v9_encode: {ns:.1} ns/record encode only (goflow-v2 pb)");
    }

    #[test]
    fn real_captures() {
        let Some(results) = check_captures("netflow9", FlowType::NetflowV9) else {
            return;
        };
        assert!(!results.is_empty());
        let mut bad = Vec::new();
        for r in &results {
            eprintln!(
                "{:45} flows {:5} (manifest {:5}, expected {:5})  options {:4} (manifest {:4})  no-template {} errors {}",
                r.case, r.flows, r.manifest, r.expected, r.options, r.manifest_options, r.no_template, r.errors
            );
            if r.flows != r.expected {
                bad.push(r.case.clone());
            }
        }
        assert!(bad.is_empty(), "record counts differ: {bad:?}");
    }
}
