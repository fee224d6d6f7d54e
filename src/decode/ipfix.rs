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
use super::sets::{data_passes, is_padding, read_fields, Datagram, Sets};
use super::{DecodeError, Decoder, FlowSink, Protocol, Section};
use crate::cursor::Cursor;
use crate::flow::{Addr, FlowRecord, FlowType};
use crate::template::Learn;
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
    let addr = Addr::from_ip(exporter);
    let domain = h.observation_domain();
    let export_ns = u64::from(h.export_time()) * 1_000_000_000;
    let body = &payload[HEADER_LEN..len];

    // pass 1: templates
    let mut frame_err = None;
    for set in Sets::new(body, HEADER_LEN) {
        match set {
            Ok((2, b)) => templates(dec, &addr, domain, recv_ns, b, false),
            Ok((3, b)) => templates(dec, &addr, domain, recv_ns, b, true),
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
fn templates(
    dec: &mut Decoder,
    addr: &Addr,
    domain: u32,
    now_ns: u64,
    body: &[u8],
    options: bool,
) {
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
