//! IPFIX (RFC 7011): a 16-byte message header and sets (2 templates, 3 options templates,
//! >= 256 data).
//!
//! `Header::new_checked` checks the length once; after that no accessor can panic. The rest
//! is read with bounds-checked cursors over the datagram, never copied.
//!
//! - The message `length` bounds the sets; bytes after it are ignored.
//! - All template sets are read before any data set, whatever their order (§8 allows a
//!   collector to receive them in any order within a message).
//! - Templates are keyed by (exporter IP, observation domain, template id). A template
//!   record with field count 0 withdraws the template (§8.1); id 2 or 3 with count 0
//!   withdraws all data or options templates of the domain.
//! - Enterprise-specific elements (E bit + PEN, §3.2) are skipped by length, never an error.
//! - Variable-length elements (§7), reduced-size integers (§6.2) and set padding (§3.3.1)
//!   are handled.

use super::fields::RecCtx;
use super::seq::SeqNote;
use super::sets::{data_passes, is_padding, read_fields, Datagram, Sets};
use super::{DatagramSummary, DecodeError, Decoder, FlowSink, Protocol, Section};
use crate::cursor::Cursor;
use crate::decode::template::Learn;
use crate::flow::{Addr, FieldGroups, FlowRecord, FlowType};
use std::net::IpAddr;

pub const HEADER_LEN: usize = 16;

/// A view of the 16-byte IPFIX message header.
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
    /// Length of the whole message, header included.
    pub fn length(&self) -> u16 {
        self.u16(2)
    }
    /// Export time, seconds since the Unix epoch.
    pub fn export_time(&self) -> u32 {
        self.u32(4)
    }
    /// Data records sent before this message in the domain's stream.
    pub fn sequence(&self) -> u32 {
        self.u32(8)
    }
    pub fn observation_domain(&self) -> u32 {
        self.u32(12)
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
    if h.version() != 10 {
        return Err(DecodeError::BadVersion(u32::from(h.version())));
    }
    let len = h.length() as usize;
    if len < HEADER_LEN {
        return Err(DecodeError::BadLength {
            section: Section::Header,
            value: len as u32,
        });
    }
    if len > payload.len() {
        return Err(DecodeError::Truncated {
            section: Section::Header,
            offset: 0,
            need: len,
            have: payload.len(),
        });
    }
    dec.stats.last.export_secs = h.export_time();
    let addr = Addr::from_ip(exporter);
    let domain = h.observation_domain();
    // the sequence counts data records, per observation domain: the units are known once
    // the data sets are decoded (`Decoder::decode`)
    dec.stats.last.seq = Some(SeqNote {
        domain,
        seq: h.sequence(),
        units: 0,
    });
    let export_ns = u64::from(h.export_time()) * 1_000_000_000;
    let body = &payload[HEADER_LEN..len];

    // pass 1: templates
    let mut frame_err = None;
    for set in Sets::new(body, HEADER_LEN) {
        match set {
            Ok((2, b)) => {
                dec.stats.last.sets[DatagramSummary::SET_TEMPLATE] += 1;
                templates(dec, &addr, domain, recv_ns, b, false)
            }
            Ok((3, b)) => {
                dec.stats.last.sets[DatagramSummary::SET_OPTIONS_TEMPLATE] += 1;
                templates(dec, &addr, domain, recv_ns, b, true)
            }
            Ok((id, _)) if id < 256 => dec.stats.count(DecodeError::BadSetId(id)),
            Ok(_) => {}
            Err(e) => frame_err = Some(e),
        }
    }

    // passes 2 and 3: options data, data
    let d = Datagram {
        proto: Protocol::Ipfix,
        version: 10,
        addr,
        domain,
        body,
        body_offset: HEADER_LEN,
        ctx: RecCtx {
            v9: false,
            export_ns,
            uptime_ms: 0,
            sys_init_ms: 0,
        },
        base: FlowRecord {
            flow_type: FlowType::Ipfix,
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

/// Template set (2): `{template_id, field_count, specifiers}`; options template set (3):
/// `{template_id, field_count, scope_field_count, specifiers}`; field_count 0 withdraws.
fn templates(dec: &mut Decoder, addr: &Addr, domain: u32, now_ns: u64, body: &[u8], options: bool) {
    let section = if options {
        Section::OptionsTemplate
    } else {
        Section::Template
    };
    let mut c = Cursor::new(body);
    let mut fields = std::mem::take(&mut dec.templates.scratch);
    while c.remaining() >= 4 && !is_padding(c.rest()) {
        let (id, count) = match (c.u16(), c.u16()) {
            (Ok(id), Ok(n)) => (id, n),
            _ => break,
        };
        let bad = DecodeError::BadTemplate {
            section,
            template_id: id,
        };
        if count == 0 {
            match id {
                2 if !options => dec.templates.withdraw_all(addr, 10, domain, false),
                3 if options => dec.templates.withdraw_all(addr, 10, domain, true),
                256.. => dec.templates.withdraw(addr, 10, domain, id),
                _ => dec.stats.count(bad),
            }
            continue;
        }
        let scope = if options {
            match c.u16() {
                Ok(s) => s,
                Err(s) => {
                    dec.stats.count(DecodeError::short(section, s));
                    break;
                }
            }
        } else {
            0
        };
        if let Err(s) = read_fields(
            &mut c,
            count as usize,
            true,
            dec.limits.max_fields_per_template,
            &mut fields,
        ) {
            dec.stats.count(DecodeError::short(section, s));
            break;
        }
        if id < 256 || (options && (scope == 0 || scope > count)) {
            dec.stats.count(bad);
            continue;
        }
        let t = Learn {
            version: 10,
            domain,
            id,
            options,
            scope_count: scope,
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
    use crate::decode::fields::ntp_to_unix_ns;
    use crate::decode::nftest::*;
    use crate::decode::spec::VARLEN;

    const SECS: u32 = 1_700_000_000;
    const EXPORT_NS: u64 = SECS as u64 * 1_000_000_000;
    const NTP_OFFSET: u64 = 2_208_988_800;

    /// Reduced-size counters, enterprise and variable-length fields, millisecond times.
    const T256: &[(u16, u16, u32)] = &[
        (8, 4, 0),
        (12, 4, 0),
        (7, 2, 0),
        (11, 2, 0),
        (4, 1, 0),
        (1, 4, 0), // octetDeltaCount reduced from 8 to 4
        (2, 2, 0), // packetDeltaCount reduced to 2
        (10, 4, 0),
        (14, 4, 0),
        (6, 2, 0),
        (152, 8, 0),
        (153, 8, 0),
        (137, 4, 2636), // enterprise: skipped
        (82, VARLEN, 0),
        (5000, VARLEN, 6871), // enterprise variable-length: skipped
        (58, 2, 0),
        (61, 1, 0),
        (89, 4, 0),
        (138, 4, 0),
        (197, 1, 0),
        (54, 4, 0),
        (88, 2, 0),
        (52, 1, 0),
        (176, 1, 0),
        (177, 1, 0),
        (252, 4, 0), // ignored: 10 present
    ];

    fn rec256(i: u8, name: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&[10, 0, 0, i]);
        r.extend_from_slice(&[10, 0, 1, 1]);
        r.extend_from_slice(&5000u16.to_be_bytes());
        r.extend_from_slice(&53u16.to_be_bytes());
        r.push(17);
        r.extend_from_slice(&(70_000 + u32::from(i)).to_be_bytes());
        r.extend_from_slice(&300u16.to_be_bytes());
        r.extend_from_slice(&7u32.to_be_bytes());
        r.extend_from_slice(&8u32.to_be_bytes());
        r.extend_from_slice(&0x0102u16.to_be_bytes());
        r.extend_from_slice(&(EXPORT_NS / 1_000_000 - 5000).to_be_bytes());
        r.extend_from_slice(&(EXPORT_NS / 1_000_000 - 1000).to_be_bytes());
        r.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        if name.len() < 255 {
            r.push(name.len() as u8);
        } else {
            r.push(255);
            r.extend_from_slice(&(name.len() as u16).to_be_bytes());
        }
        r.extend_from_slice(name);
        r.extend_from_slice(&[255, 0, 2, 0xAA, 0xBB]); // 3-byte form for the PEN field
        r.extend_from_slice(&42u16.to_be_bytes());
        r.push(1);
        r.extend_from_slice(&0x4000_0000u32.to_be_bytes());
        r.extend_from_slice(&99u32.to_be_bytes());
        r.push(0x40); // DF
        r.extend_from_slice(&0x1234u32.to_be_bytes());
        r.extend_from_slice(&0u16.to_be_bytes());
        r.push(63);
        r.push(0);
        r.push(0);
        r.extend_from_slice(&555u32.to_be_bytes());
        r
    }

    fn basic() -> Vec<u8> {
        let long = vec![b'n'; 300];
        let mut msg = ipfix(
            SECS,
            1000,
            5,
            &[
                set(2, &ipfix_template(256, T256)),
                set(256, &[rec256(1, b"eth0"), rec256(2, &long)].concat()),
            ],
        );
        msg.extend_from_slice(&[0xFF; 7]); // trailing garbage after `length`: ignored
        msg
    }

    #[test]
    fn template_and_data_in_one_message() {
        let (flows, dec) = run(&[basic()]);
        assert_eq!(dec.stats.error_total(), 0, "{:?}", dec.stats);
        assert_eq!(flows.len(), 2);
        let r = flows[1];
        assert_eq!(r.flow_type, FlowType::Ipfix);
        assert_eq!(
            (r.src_addr, r.dst_addr),
            (Addr::v4([10, 0, 0, 2]), Addr::v4([10, 0, 1, 1]))
        );
        assert_eq!(
            (r.src_port, r.dst_port, r.proto, r.etype),
            (5000, 53, 17, 0x0800)
        );
        assert_eq!((r.bytes, r.packets), (70_002, 300));
        assert_eq!((r.in_if, r.out_if, r.tcp_flags), (7, 8, 0x0102));
        assert_eq!(r.time_flow_start_ns, EXPORT_NS - 5_000_000_000);
        assert_eq!(r.time_flow_end_ns, EXPORT_NS - 1_000_000_000);
        assert_eq!((r.vlan_id, r.src_vlan, r.flow_direction), (42, 42, 1));
        assert_eq!(
            (r.forwarding_status, r.observation_point_id),
            (0x4000_0000, 99)
        );
        assert_eq!(
            (r.ip_flags, r.fragment_id, r.fragment_offset, r.ip_ttl),
            (2, 0x1234, 0, 63)
        );
        assert_eq!((r.sequence_num, r.observation_domain_id), (1000, 5));
        assert_eq!(dec.stats.flows[2], 2);
        let t = dec.templates.templates();
        assert_eq!(
            t[0].fields[12],
            crate::decode::spec::FieldSpec {
                id: 137,
                len: 4,
                pen: 2636
            }
        );
    }

    #[test]
    fn data_before_template() {
        let msg = ipfix(
            SECS,
            1,
            5,
            &[
                set(256, &rec256(1, b"x")),
                set(2, &ipfix_template(256, T256)),
            ],
        );
        let (flows, _) = run(&[msg]);
        assert_eq!(flows.len(), 1);
    }

    #[test]
    fn options_sampling_by_selector() {
        let t300 = ipfix_options_template(300, 1, &[(302, 4, 0), (305, 4, 0), (306, 4, 0)]);
        let t301 = ipfix_options_template(301, 1, &[(302, 4, 0), (310, 4, 0), (309, 4, 0)]);
        let o300 = [
            &7u32.to_be_bytes()[..],
            &1u32.to_be_bytes(),
            &999u32.to_be_bytes(),
        ]
        .concat();
        let o301 = [
            &9u32.to_be_bytes()[..],
            &1000u32.to_be_bytes(),
            &10u32.to_be_bytes(),
        ]
        .concat();
        let t = ipfix_template(263, &[(8, 4, 0), (302, 4, 0), (1, 4, 0)]);
        let rec = |sel: u32| [&[10, 0, 0, 1][..], &sel.to_be_bytes(), &1u32.to_be_bytes()].concat();
        let m1 = ipfix(SECS, 0, 1, &[set(3, &[t300, t301].concat()), set(2, &t)]);
        let m2 = ipfix(
            SECS,
            0,
            1,
            &[
                set(263, &[rec(7), rec(9), rec(99)].concat()),
                set(300, &o300),
                set(301, &o301),
            ],
        );
        let (flows, dec) = run(&[m1, m2]);
        let rates: Vec<u64> = flows.iter().map(|r| r.sampling_rate).collect();
        assert_eq!(rates, vec![1000, 100, 100]);
        assert_eq!(dec.stats.options_records, 2);
        assert_eq!(
            dec.templates
                .templates()
                .iter()
                .filter(|t| t.options)
                .count(),
            2
        );
    }

    #[test]
    fn times_in_every_unit() {
        let ntp = |unix_ns: u64| {
            let s = unix_ns / 1_000_000_000 + NTP_OFFSET;
            let f = ((unix_ns % 1_000_000_000) << 32) / 1_000_000_000;
            (s << 32) | f
        };
        let start = EXPORT_NS - 3_250_000_000;
        let end = EXPORT_NS - 250_000_000;
        type Case = (Vec<(u16, u16, u32)>, Vec<u8>, u64, u64);
        let cases: Vec<Case> = vec![
            (
                vec![(156, 8, 0), (157, 8, 0)],
                [ntp(start).to_be_bytes(), ntp(end).to_be_bytes()].concat(),
                start,
                end,
            ),
            (
                vec![(154, 8, 0), (155, 8, 0)],
                [ntp(start).to_be_bytes(), ntp(end).to_be_bytes()].concat(),
                start,
                end,
            ),
            (
                vec![(150, 4, 0), (151, 4, 0)],
                [(SECS - 3).to_be_bytes(), SECS.to_be_bytes()].concat(),
                EXPORT_NS - 3_000_000_000,
                EXPORT_NS,
            ),
            (
                vec![(158, 4, 0), (159, 4, 0)],
                [3_250_000u32.to_be_bytes(), 250_000u32.to_be_bytes()].concat(),
                start,
                end,
            ),
            (
                // sysUptime times relative to systemInitTimeMilliseconds in the record
                vec![(22, 4, 0), (21, 4, 0), (160, 8, 0)],
                [
                    &1000u32.to_be_bytes()[..],
                    &4000u32.to_be_bytes(),
                    &(EXPORT_NS / 1_000_000 - 4250).to_be_bytes(),
                ]
                .concat(),
                start,
                end,
            ),
            (
                // without 160 they cannot be placed: export time
                vec![(22, 4, 0), (21, 4, 0)],
                [1000u32.to_be_bytes(), 4000u32.to_be_bytes()].concat(),
                EXPORT_NS,
                EXPORT_NS,
            ),
            (
                // a less precise unit next to a more precise one is ignored
                vec![(150, 4, 0), (153, 8, 0), (151, 4, 0), (152, 8, 0)],
                [
                    &0u32.to_be_bytes()[..],
                    &(end / 1_000_000).to_be_bytes(),
                    &0u32.to_be_bytes(),
                    &(start / 1_000_000).to_be_bytes(),
                ]
                .concat(),
                start,
                end,
            ),
        ];
        for (i, (fields, rec, s, e)) in cases.into_iter().enumerate() {
            let mut f = vec![(8, 4, 0)];
            f.extend(fields);
            let msg = ipfix(
                SECS,
                0,
                1,
                &[
                    set(2, &ipfix_template(400, &f)),
                    set(400, &[&[1, 1, 1, 1][..], &rec].concat()),
                ],
            );
            let (flows, _) = run(&[msg]);
            assert_eq!(
                (flows[0].time_flow_start_ns, flows[0].time_flow_end_ns),
                (s, e),
                "case {i}"
            );
        }
        assert_eq!(ntp_to_unix_ns(ntp(start)), start);
    }

    #[test]
    fn system_init_time_from_options() {
        let ot = ipfix_options_template(300, 1, &[(149, 4, 0), (160, 8, 0)]);
        let od = [
            &1u32.to_be_bytes()[..],
            &(EXPORT_NS / 1_000_000 - 10_000).to_be_bytes(),
        ]
        .concat();
        let t = ipfix_template(400, &[(22, 4, 0), (21, 4, 0)]);
        let msg = ipfix(
            SECS,
            0,
            1,
            &[
                set(3, &ot),
                set(2, &t),
                set(
                    400,
                    &[2000u32.to_be_bytes(), 9000u32.to_be_bytes()].concat(),
                ),
                set(300, &od),
            ],
        );
        let (flows, dec) = run(&[msg]);
        assert_eq!(flows[0].time_flow_start_ns, EXPORT_NS - 8_000_000_000);
        assert_eq!(flows[0].time_flow_end_ns, EXPORT_NS - 1_000_000_000);
        assert_eq!(dec.stats.options_records, 1);
    }

    #[test]
    fn ipv6_mpls_physical_interfaces() {
        let t = ipfix_template(
            257,
            &[
                (27, 16, 0),
                (28, 16, 0),
                (62, 16, 0),
                (29, 1, 0),
                (30, 1, 0),
                (139, 2, 0),
                (70, 3, 0),
                (71, 3, 0),
                (72, 3, 0),
                (252, 4, 0),
                (253, 4, 0),
                (56, 6, 0),
                (80, 6, 0),
                (243, 2, 0),
                (254, 2, 0),
                (24, 8, 0),
                (23, 8, 0),
                (18, 4, 0),
                (63, 16, 0),
            ],
        );
        let mut r = Vec::new();
        r.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        r.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        r.extend_from_slice(&[0; 16]); // next hop ::
        r.extend_from_slice(&[48, 64]);
        r.extend_from_slice(&[128, 0]); // echo request
        r.extend_from_slice(&[0x00, 0x01, 0x00]); // 16
        r.extend_from_slice(&[0x00, 0x01, 0x11]); // 17, S
        r.extend_from_slice(&[0, 0, 0]);
        r.extend_from_slice(&1001u32.to_be_bytes());
        r.extend_from_slice(&1002u32.to_be_bytes());
        r.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        r.extend_from_slice(&[2, 0, 0, 0, 0, 2]);
        r.extend_from_slice(&10u16.to_be_bytes());
        r.extend_from_slice(&20u16.to_be_bytes());
        r.extend_from_slice(&3u64.to_be_bytes());
        r.extend_from_slice(&4000u64.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0]); // BGP v4 next hop 0.0.0.0
        r.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        let msg = ipfix(SECS, 0, 1, &[set(2, &t), set(257, &r)]);
        let (flows, _) = run(&[msg]);
        let r = flows[0];
        assert_eq!(r.etype, 0x86dd);
        assert_eq!((r.src_net, r.dst_net), (48, 64));
        assert_eq!((r.icmp_type, r.icmp_code), (128, 0));
        assert_eq!(r.mpls_labels(), &[16, 17]);
        assert_eq!((r.in_if, r.out_if), (1001, 1002));
        assert_eq!((r.src_mac, r.dst_mac), (0x0200_0000_0001, 0x0200_0000_0002));
        assert_eq!((r.vlan_id, r.src_vlan, r.dst_vlan), (10, 10, 20));
        assert_eq!((r.packets, r.bytes), (3, 4000));
        // 15/62 present: 18/63 only fill bgp_next_hop, and the zero v4 one does not hide
        // the v6 one
        assert_eq!(r.next_hop.to_ip().unwrap().to_string(), "::");
        assert_eq!(r.bgp_next_hop.to_ip().unwrap().to_string(), "2001:db8::9");
    }

    #[test]
    fn repeated_elements_outer_then_inner() {
        // Cisco SRv6 / MPLS templates: outer (or IPv6) header fields, then the inner (or
        // IPv4) ones; unused alternatives are zero
        let t = ipfix_template(
            258,
            &[
                (27, 16, 0),
                (28, 16, 0),
                (4, 1, 0),
                (7, 2, 0),
                (8, 4, 0),
                (12, 4, 0),
                (4, 1, 0),
                (7, 2, 0),
            ],
        );
        let v6 = |x: u8| [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, x];
        let encap = [
            &v6(1)[..],
            &v6(2),
            &[4, 0, 0],
            &[10, 0, 0, 1, 10, 0, 0, 2, 17, 4, 0],
        ]
        .concat();
        let only_v4 = [
            &[0u8; 32][..],
            &[0, 0, 0],
            &[10, 0, 0, 3, 10, 0, 0, 4, 6, 0, 80],
        ]
        .concat();
        let only_v6 = [&v6(5)[..], &v6(6), &[17, 0, 53], &[0; 11]].concat();
        let msg = ipfix(
            SECS,
            0,
            1,
            &[set(2, &t), set(258, &[encap, only_v4, only_v6].concat())],
        );
        let (flows, _) = run(&[msg]);
        // the first occurrence (the outer header, as forwarded) stays in the flow fields,
        // the later non-zero one (inside the tunnel) goes to the *_encap fields
        let r = flows[0];
        assert_eq!(r.src_addr.to_ip().unwrap().to_string(), "2001:db8::1");
        assert_eq!(r.dst_addr.to_ip().unwrap().to_string(), "2001:db8::2");
        assert_eq!((r.proto, r.src_port, r.etype), (4, 0, 0x86dd));
        assert!(r.has_encap);
        assert_eq!(
            (r.src_addr_encap, r.dst_addr_encap),
            (Addr::v4([10, 0, 0, 1]), Addr::v4([10, 0, 0, 2]))
        );
        assert_eq!((r.proto_encap, r.etype_encap), (17, 0x0800));
        let r = flows[1];
        assert_eq!(
            (r.src_addr, r.proto, r.src_port, r.etype),
            (Addr::v4([10, 0, 0, 3]), 6, 80, 0x0800)
        );
        assert!(!r.has_encap);
        let r = flows[2];
        assert_eq!(r.src_addr.to_ip().unwrap().to_string(), "2001:db8::5");
        assert_eq!((r.proto, r.src_port, r.etype), (17, 53, 0x86dd));
        assert!(!r.has_encap);
    }

    #[test]
    fn withdrawal_and_domains() {
        let t = ipfix_template(256, &[(8, 4, 0)]);
        let data = set(256, &[1, 2, 3, 4]);
        let learn = ipfix(SECS, 0, 1, &[set(2, &t)]);
        let withdraw = ipfix(SECS, 0, 1, &[set(2, &[1, 0, 0, 0])]);
        let withdraw_all = ipfix(SECS, 0, 1, &[set(2, &[0, 2, 0, 0])]);
        let use_it = ipfix(SECS, 0, 1, std::slice::from_ref(&data));
        let other_domain = ipfix(SECS, 0, 2, &[data]);
        let (flows, dec) = run(&[learn.clone(), use_it.clone(), other_domain.clone()]);
        assert_eq!(flows.len(), 1);
        assert_eq!(dec.stats.records_without_template, 1);
        let (flows, _) = run(&[learn.clone(), withdraw, use_it.clone()]);
        assert_eq!(flows.len(), 0);
        let (flows, dec) = run(&[learn, withdraw_all, use_it]);
        assert_eq!(flows.len(), 0);
        assert_eq!(dec.templates.template_count(), 0);
    }

    #[test]
    fn bad_input_is_counted() {
        let mut dec = Decoder::default();
        let ip = IpAddr::from(EXPORTER);
        let mut sink = |_: &FlowRecord| {};
        // length below the header, and past the datagram
        let mut m = ipfix(SECS, 0, 1, &[]);
        m[3] = 8;
        assert!(matches!(
            dec.decode(ip, 0, &m, &mut sink),
            Err(DecodeError::BadLength { .. })
        ));
        m[3] = 200;
        assert!(matches!(
            dec.decode(ip, 0, &m, &mut sink),
            Err(DecodeError::Truncated { .. })
        ));
        // options template with scope count 0 or above the field count, reserved set id,
        // template id < 256
        let mut o = ipfix_options_template(300, 0, &[(302, 4, 0)]);
        o.extend_from_slice(&ipfix_options_template(301, 2, &[(302, 4, 0)]));
        let m = ipfix(
            SECS,
            0,
            1,
            &[
                set(3, &o),
                set(9, &[1, 2, 3, 4]),
                set(2, &ipfix_template(100, &[(8, 4, 0)])),
            ],
        );
        dec.decode(ip, 0, &m, &mut sink).unwrap();
        assert_eq!(dec.stats.errors[5], 3, "bad_template");
        assert_eq!(dec.stats.errors[6], 1, "bad_set_id");
        // a template whose fields run past its set
        let mut t = ipfix_template(256, &[(8, 4, 0), (12, 4, 0)]);
        t[3] = 9;
        dec.decode(ip, 0, &ipfix(SECS, 0, 1, &[set(2, &t)]), &mut sink)
            .unwrap();
        assert_eq!(dec.stats.errors[2], 2, "truncated");
        // a variable-length record running past its set: the records before it decode
        let t = ipfix_template(257, &[(8, 4, 0), (82, VARLEN, 0)]);
        let recs = [&[1, 1, 1, 1, 1, b'a'][..], &[2, 2, 2, 2, 9, b'b']].concat();
        let mut n = 0;
        let m = ipfix(SECS, 0, 1, &[set(2, &t), set(257, &recs)]);
        dec.decode(ip, 0, &m, &mut |_: &FlowRecord| n += 1).unwrap();
        assert_eq!(n, 1);
        assert_eq!(dec.stats.errors[2], 3, "truncated");
    }

    #[test]
    fn truncation_never_panics() {
        truncation_loop(&[basic()]);
        let t300 = ipfix_options_template(300, 1, &[(302, 4, 0), (305, 4, 0), (306, 4, 0)]);
        let o300 = [
            &7u32.to_be_bytes()[..],
            &1u32.to_be_bytes(),
            &99u32.to_be_bytes(),
        ]
        .concat();
        let t = ipfix_template(263, &[(8, 4, 0), (302, 4, 0), (82, VARLEN, 0), (154, 8, 0)]);
        let r = [
            &[10, 0, 0, 1][..],
            &7u32.to_be_bytes(),
            &[2, b'a', b'b'],
            &[0; 8],
        ]
        .concat();
        truncation_loop(&[
            ipfix(SECS, 0, 1, &[set(3, &t300), set(2, &t)]),
            ipfix(
                SECS,
                0,
                1,
                &[set(300, &o300), set(263, &[r.clone(), r].concat())],
            ),
        ]);
    }

    #[test]
    fn real_captures() {
        let Some(results) = check_captures("ipfix", FlowType::Ipfix) else {
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
    /// dataLinkFrameSection records with what exporters put in front of IP (the frames the
    /// fuzz seeds and benches use): the flow keys come from the packet inside.
    #[test]
    fn datalink_sections_with_encapsulations() {
        use coreflow_flowgen::builders;
        let inner = builders::eth_ipv4_tcp(80);
        for (name, frame) in builders::encapsulated_frames() {
            let d = builders::ipfix_datalink(2, 1, &frame);
            let mut dec = crate::decode::Decoder::default();
            let mut out = Vec::new();
            dec.decode(
                "192.0.2.1".parse().unwrap(),
                EXPORT_NS,
                &d,
                &mut |r: &FlowRecord| out.push(*r),
            )
            .unwrap();
            assert_eq!(out.len(), 2, "{name}");
            let r = out[1];
            assert_eq!((r.in_if, r.bytes, r.packets), (583, 1518, 1), "{name}");
            let (src, proto) = if name == "eompls-cw" {
                (r.src_addr, r.proto)
            } else {
                (r.src_addr_encap, r.proto_encap)
            };
            assert_eq!(src, Addr::v4(inner[26..30].try_into().unwrap()), "{name}");
            assert_eq!(proto, 6, "{name}");
            if name == "eompls-cw" {
                assert_eq!((r.src_port, r.dst_port, r.mpls_count), (1024, 443, 2));
            }
            if name == "vxlan" {
                assert_eq!((r.proto, r.dst_port), (17, 4789));
            }
        }
    }
}
