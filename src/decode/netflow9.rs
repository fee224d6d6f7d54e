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
use super::sets::{data_passes, is_padding, read_fields, Datagram, Sets};
use super::{DecodeError, Decoder, FlowSink, Protocol, Section};
use crate::cursor::Cursor;
use crate::flow::{Addr, FlowRecord, FlowType};
use crate::template::Learn;
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
    let addr = Addr::from_ip(exporter);
    let domain = h.source_id();
    let export_ns = u64::from(h.unix_secs()) * 1_000_000_000;
    let body = &payload[HEADER_LEN..];

    // pass 1: templates
    let mut frame_err = None;
    for set in Sets::new(body, HEADER_LEN) {
        match set {
            Ok((0, b)) => templates(dec, &addr, domain, recv_ns, b),
            Ok((1, b)) => options_templates(dec, &addr, domain, recv_ns, b),
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
            dec.stats.count(DecodeError::short(Section::OptionsTemplate, s));
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
