//! A reader for tshark's `-T json` decode of NetFlow v5/v9 and IPFIX, written for this test.
//!
//! tshark's JSON is a list of frames, `_source.layers` holds one object per protocol layer.
//! The NetFlow layer is `cflow` (an object, or a list when a frame holds several PDUs).
//! Inside it:
//! - NetFlow v5: header keys plus one `"pdu i/N"` object per record;
//! - NetFlow v9 / IPFIX: header keys plus one `"FlowSet n [id=..] ..."` (v9) or
//!   `"Set n [id=..] ..."` (IPFIX) object per set. Template sets hold `"Template (Id = ..)"`
//!   or `"Options Template (Id = ..)"` objects with one `"Field (i/n): NAME"` object per field;
//!   data sets hold `"Flow n"` objects (sometimes `"Flow n (label)"`), or, when tshark had no
//!   template, a `"Data (N bytes), no template found"` expert item.
//!
//! Quirks handled here: with `--no-duplicate-keys` a key repeated in one object becomes a JSON
//! list (e.g. `cflow.octets: ["62", "128"]` for a forward and a reverse IE); without that
//! option keys repeat. Both are read into the same ordered multimap. Sub-trees (`*_tree`,
//! `Forwarding Status`, ...) are flattened into the record. Options data sets look exactly
//! like data sets: their kind comes from the template they name (`cflow.template_frame` + set
//! id), learned from the template sets of the same JSON.

#![allow(dead_code)] // a general reader: not every accessor is used by every check

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;

/// A JSON value that keeps object keys in order, duplicates included.
#[derive(Debug, Clone)]
pub enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    pub fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(v) => v.iter().find(|(k, _)| k == key).map(|(_, x)| x),
            _ => None,
        }
    }

    /// The text of a string or number, the first element's for a list.
    pub fn text(&self) -> Option<&str> {
        match self {
            J::Str(s) | J::Num(s) => Some(s),
            J::Arr(v) => v.first().and_then(J::text),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, J)] {
        match self {
            J::Obj(v) => v,
            _ => &[],
        }
    }

    /// The objects this value stands for: itself, or each object of a list.
    pub fn objects(&self) -> Vec<&J> {
        match self {
            J::Obj(_) => vec![self],
            J::Arr(v) => v.iter().flat_map(J::objects).collect(),
            _ => Vec::new(),
        }
    }

    /// The text of `key` in this object, looking into nested objects too (first match).
    pub fn find_text(&self, key: &str) -> Option<&str> {
        for (k, v) in self.entries() {
            if k == key {
                if let Some(t) = v.text() {
                    return Some(t);
                }
            }
        }
        for (_, v) in self.entries() {
            for o in v.objects() {
                if let Some(t) = o.find_text(key) {
                    return Some(t);
                }
            }
        }
        None
    }
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        d.deserialize_any(JVisitor)
    }
}

struct JVisitor;

impl<'de> Visitor<'de> for JVisitor {
    type Value = J;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<J, E> {
        Ok(J::Null)
    }
    fn visit_none<E>(self) -> Result<J, E> {
        Ok(J::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<J, E> {
        Ok(J::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<J, E> {
        Ok(J::Num(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<J, E> {
        Ok(J::Num(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<J, E> {
        Ok(J::Num(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<J, E> {
        Ok(J::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<J, E> {
        Ok(J::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = a.next_element::<J>()? {
            v.push(x);
        }
        Ok(J::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<J, A::Error> {
        let mut v = Vec::new();
        while let Some((k, x)) = m.next_entry::<String, J>()? {
            v.push((k, x));
        }
        Ok(J::Obj(v))
    }
}

/// Header values of one NetFlow/IPFIX PDU.
#[derive(Debug, Clone, Default)]
pub struct Header {
    pub version: u16,
    /// v5/v9 sysUptime in ms.
    pub sysuptime_ms: Option<u64>,
    /// v5/v9 unix_secs, IPFIX export time.
    pub export_secs: Option<u64>,
    /// v5 unix_nsecs.
    pub export_nsecs: Option<u64>,
    pub sequence: Option<u64>,
    /// v9 source id / IPFIX observation domain id.
    pub domain: Option<u64>,
    /// v5 sampling interval (low 14 bits of the header field).
    pub v5_sample_rate: Option<u64>,
}

/// One field of a template as tshark shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateField {
    pub ie: u16,
    pub pen: u32,
    pub scope: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Data,
    Options,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub id: u16,
    pub kind: TemplateKind,
    pub fields: Vec<TemplateField>,
    pub frame: u32,
    pub domain: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A NetFlow v5 record.
    V5,
    /// A data record of a (known) data template.
    Data,
    /// A data record whose template kind could not be found in the JSON; treated as data.
    DataUnknownTemplate,
    /// An options data record: not a flow.
    Options,
}

/// One record tshark decoded, its fields flattened to an ordered multimap of texts.
#[derive(Debug, Clone)]
pub struct Record {
    pub frame: u32,
    /// Index of the cflow PDU within the frame.
    pub pdu: usize,
    /// Index of the set within the PDU (v5: 0).
    pub set: usize,
    /// Index of the record within the set.
    pub index: usize,
    pub set_id: u16,
    pub kind: RecordKind,
    pub header: Rc<Header>,
    pub exporter: Option<IpAddr>,
    pub template: Option<Rc<Template>>,
    pub fields: Vec<(String, String)>,
    /// tshark flagged something inside this record as malformed.
    pub malformed: bool,
}

impl Record {
    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn first(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == key)
    }

    /// Where `key` sits in the template, when the record's template is known: (position of
    /// the first PEN-0 field with IE `ie`, which occurrence of `key` belongs to it). The
    /// occurrence index is only trusted when the number of values of `key` equals the number
    /// of template fields with that IE (any PEN: RFC 5103 reverse IEs share tshark's field
    /// name); otherwise it is `None` (ambiguous).
    pub fn template_slot(&self, key: &str, ie: u16) -> Option<(usize, Option<usize>)> {
        let t = self.template.as_ref()?;
        let pos = t
            .fields
            .iter()
            .position(|f| f.ie == ie && f.pen == 0 && !f.scope)?;
        let same_ie: Vec<usize> = t
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.ie == ie && !f.scope)
            .map(|(i, _)| i)
            .collect();
        let n = self.all(key).len();
        let occ = if n == same_ie.len() {
            same_ie.iter().position(|&i| i == pos)
        } else {
            None
        };
        Some((pos, occ))
    }
}

/// A data set tshark could not decode (no template), kept for alignment.
#[derive(Debug, Clone)]
pub struct NoTemplateSet {
    pub frame: u32,
    pub pdu: usize,
    pub set: usize,
    pub set_id: u16,
}

/// What one frame holds, in order.
#[derive(Debug, Clone)]
pub enum Item {
    Record(Record),
    NoTemplate(NoTemplateSet),
}

#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub number: u32,
    pub exporter: Option<IpAddr>,
    pub time_ns: Option<u64>,
    pub items: Vec<Item>,
}

/// The whole decode of one capture.
#[derive(Debug, Default)]
pub struct Oracle {
    pub frames: Vec<Frame>,
    pub templates_seen: usize,
    pub options_templates_seen: usize,
}

impl Oracle {
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.frames.iter().flat_map(|f| {
            f.items.iter().filter_map(|i| match i {
                Item::Record(r) => Some(r),
                Item::NoTemplate(_) => None,
            })
        })
    }

    pub fn count(&self, kind: RecordKind) -> usize {
        self.records().filter(|r| r.kind == kind).count()
    }

    pub fn no_template_sets(&self) -> usize {
        self.frames
            .iter()
            .flat_map(|f| &f.items)
            .filter(|i| matches!(i, Item::NoTemplate(_)))
            .count()
    }
}

// ---------------------------------------------------------------------------------------------
// value parsers

/// Decimal or `0x` hexadecimal unsigned integer.
pub fn parse_uint(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// `"944948.659000000"` (seconds with a fraction) as nanoseconds.
pub fn parse_secs_ns(s: &str) -> Option<u64> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: u64 = int.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut f = frac.to_string();
    while f.len() < 9 {
        f.push('0');
    }
    let ns: u64 = f.parse().ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(ns)
}

/// `"00:e0:1c:3c:17:c2"` as the low 48 bits of a u64.
pub fn parse_mac(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut v = 0u64;
    for p in parts {
        v = (v << 8) | u64::from(u8::from_str_radix(p, 16).ok()?);
    }
    Some(v)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    // Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let d = i64::from(d);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// tshark's absolute time, `"Oct  5, 2009 06:06:07.492059999 UTC"`, as ns since the epoch.
/// Only UTC is accepted (the oracle was written with TZ=UTC); anything else is `None`.
pub fn parse_abs_time(s: &str) -> Option<u64> {
    let mut it = s.split_whitespace();
    let mon = it.next()?;
    let day = it.next()?.trim_end_matches(',');
    let year = it.next()?;
    let hms = it.next()?;
    if it.next()? != "UTC" || it.next().is_some() {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| *x == mon)? as u32 + 1;
    let d: u32 = day.parse().ok()?;
    let y: i64 = year.parse().ok()?;
    let (hm, sec) = hms.rsplit_once(':')?;
    let (h, mi) = hm.split_once(':')?;
    let h: u64 = h.parse().ok()?;
    let mi: u64 = mi.parse().ok()?;
    let sec_ns = parse_secs_ns(sec)?;
    let days = days_from_civil(y, m, d);
    if days < 0 {
        return None;
    }
    Some(days as u64 * 86_400_000_000_000 + (h * 3600 + mi * 60) * 1_000_000_000 + sec_ns)
}

// ---------------------------------------------------------------------------------------------
// the walker

fn set_id_from_name(name: &str) -> Option<u16> {
    let rest = &name[name.find("[id=")? + 4..];
    rest[..rest.find(']')?].parse().ok()
}

fn is_flow_key(k: &str) -> bool {
    // "Flow 3", "Flow 1 (https)"
    k.strip_prefix("Flow ")
        .is_some_and(|r| r.bytes().next().is_some_and(|b| b.is_ascii_digit()))
}

fn is_set_key(k: &str) -> bool {
    k.starts_with("FlowSet ") || k.starts_with("Set ")
}

fn is_template_key(k: &str) -> Option<TemplateKind> {
    if k.starts_with("Options Template (Id") {
        Some(TemplateKind::Options)
    } else if k.starts_with("Template (Id") {
        Some(TemplateKind::Data)
    } else {
        None
    }
}

/// Flattens a record object into (key, text) pairs, in order; reports `_ws.malformed`.
fn flatten(o: &J, out: &mut Vec<(String, String)>, malformed: &mut bool) {
    for (k, v) in o.entries() {
        if k == "_ws.malformed" {
            *malformed = true;
        }
        flatten_value(k, v, out, malformed);
    }
}

fn flatten_value(k: &str, v: &J, out: &mut Vec<(String, String)>, malformed: &mut bool) {
    match v {
        J::Str(s) | J::Num(s) => out.push((k.to_string(), s.clone())),
        J::Arr(items) => {
            for x in items {
                flatten_value(k, x, out, malformed);
            }
        }
        J::Obj(_) => flatten(v, out, malformed),
        J::Null | J::Bool(_) => {}
    }
}

fn contains_key(o: &J, pred: &dyn Fn(&str) -> bool) -> bool {
    o.entries()
        .iter()
        .any(|(k, v)| pred(k) || v.objects().iter().any(|c| contains_key(c, pred)))
}

fn parse_template(kind: TemplateKind, o: &J, frame: u32, domain: Option<u64>) -> Option<Template> {
    let id = o
        .get("cflow.template_id")
        .and_then(J::text)
        .and_then(parse_uint)? as u16;
    let mut fields = Vec::new();
    for (k, v) in o.entries() {
        if !k.starts_with("Field (") {
            continue;
        }
        for f in v.objects() {
            let scope_type = f.get("cflow.scope_field_type").and_then(J::text);
            let ie = f
                .entries()
                .iter()
                .find(|(fk, _)| {
                    fk == "cflow.template_field_type"
                        || fk.starts_with("cflow.template_ipfix_field_type")
                })
                .and_then(|(_, x)| x.text())
                .or(scope_type)
                .and_then(parse_uint)
                .unwrap_or(0) as u16;
            let pen = f
                .get("cflow.template_ipfix_field_pen")
                .and_then(J::text)
                .and_then(parse_uint)
                .unwrap_or(0) as u32;
            let scope = scope_type.is_some() || k.contains("[Scope]");
            fields.push(TemplateField {
                ie: ie & 0x7fff,
                pen,
                scope,
            });
        }
    }
    Some(Template {
        id,
        kind,
        fields,
        frame,
        domain,
    })
}

fn parse_header(c: &J) -> Header {
    let u = |k: &str| c.find_text(k).and_then(parse_uint);
    Header {
        version: u("cflow.version").unwrap_or(0) as u16,
        sysuptime_ms: c
            .get("cflow.sysuptime")
            .and_then(J::text)
            .and_then(parse_secs_ns)
            .map(|ns| ns / 1_000_000),
        export_secs: u("cflow.unix_secs").or_else(|| u("cflow.exporttime")),
        export_nsecs: u("cflow.unix_nsecs"),
        sequence: c
            .get("cflow.sequence")
            .and_then(J::text)
            .and_then(parse_uint),
        domain: c
            .get("cflow.source_id")
            .or_else(|| c.get("cflow.od_id"))
            .and_then(J::text)
            .and_then(parse_uint),
        v5_sample_rate: c
            .get("cflow.samplerate")
            .and_then(J::text)
            .and_then(parse_uint),
    }
}

fn frame_exporter(layers: &J) -> Option<IpAddr> {
    for (layer, key) in [("ip", "ip.src"), ("ipv6", "ipv6.src")] {
        if let Some(l) = layers.get(layer) {
            if let Some(o) = l.objects().first() {
                if let Some(ip) = o.get(key).and_then(J::text).and_then(|s| s.parse().ok()) {
                    return Some(ip);
                }
            }
        }
    }
    None
}

/// Template definitions seen so far, to classify data sets.
#[derive(Default)]
struct Templates {
    by_frame: HashMap<(u32, u16), Vec<Rc<Template>>>,
    latest: HashMap<(Option<IpAddr>, Option<u64>, u16), Rc<Template>>,
}

impl Templates {
    fn learn(&mut self, exporter: Option<IpAddr>, t: Template) {
        let t = Rc::new(t);
        self.by_frame
            .entry((t.frame, t.id))
            .or_default()
            .push(t.clone());
        self.latest.insert((exporter, t.domain, t.id), t);
    }

    fn find(
        &self,
        template_frame: Option<u32>,
        exporter: Option<IpAddr>,
        domain: Option<u64>,
        id: u16,
    ) -> Option<Rc<Template>> {
        if let Some(f) = template_frame {
            if let Some(v) = self.by_frame.get(&(f, id)) {
                return v
                    .iter()
                    .rev()
                    .find(|t| t.domain == domain)
                    .or_else(|| v.last())
                    .cloned();
            }
        }
        self.latest.get(&(exporter, domain, id)).cloned()
    }
}

/// Reads a tshark JSON decode (the bytes of `<case>.pcap.tshark.json`).
pub fn parse(json: &[u8]) -> Result<Oracle, String> {
    let root: J = serde_json::from_slice(json).map_err(|e| format!("tshark JSON: {e}"))?;
    let frames_json: Vec<&J> = match &root {
        J::Arr(v) => v.iter().collect(),
        J::Obj(_) => vec![&root], // a single frame written as an object
        _ => return Err("tshark JSON: top level is neither a list nor an object".into()),
    };
    let mut oracle = Oracle::default();
    let mut templates = Templates::default();
    for (fi, fj) in frames_json.into_iter().enumerate() {
        let layers = fj
            .get("_source")
            .and_then(|s| s.get("layers"))
            .or_else(|| fj.get("layers"))
            .ok_or_else(|| format!("frame {}: no _source.layers", fi + 1))?;
        let frame_obj = layers.get("frame");
        let number = frame_obj
            .and_then(|f| f.find_text("frame.number"))
            .and_then(parse_uint)
            .map_or(fi as u32 + 1, |n| n as u32);
        let time_ns = frame_obj
            .and_then(|f| f.find_text("frame.time_epoch"))
            .and_then(parse_secs_ns);
        let exporter = frame_exporter(layers);
        let mut frame = Frame {
            number,
            exporter,
            time_ns,
            items: Vec::new(),
        };
        let pdus = layers.get("cflow").map(J::objects).unwrap_or_default();
        for (pi, c) in pdus.into_iter().enumerate() {
            let header = Rc::new(parse_header(c));
            let mut set_index = 0usize;
            for (k, v) in c.entries() {
                if k.starts_with("pdu ") {
                    // NetFlow v5 (also v1/v7) record
                    for (ri, o) in v.objects().into_iter().enumerate() {
                        let mut fields = Vec::new();
                        let mut malformed = false;
                        flatten(o, &mut fields, &mut malformed);
                        frame.items.push(Item::Record(Record {
                            frame: number,
                            pdu: pi,
                            set: 0,
                            index: k
                                .strip_prefix("pdu ")
                                .and_then(|r| r.split('/').next())
                                .and_then(|n| n.parse::<usize>().ok())
                                .map_or(ri, |n| n.saturating_sub(1)),
                            set_id: 0,
                            kind: RecordKind::V5,
                            header: header.clone(),
                            exporter,
                            template: None,
                            fields,
                            malformed,
                        }));
                    }
                    continue;
                }
                if !is_set_key(k) {
                    continue;
                }
                for set in v.objects() {
                    let si = set_index;
                    set_index += 1;
                    let set_id = set
                        .get("cflow.flowset_id")
                        .and_then(J::text)
                        .and_then(parse_uint)
                        .map(|x| x as u16)
                        .or_else(|| set_id_from_name(k))
                        .unwrap_or(0);
                    // template definitions
                    let mut had_template = false;
                    for (tk, tv) in set.entries() {
                        if let Some(mut kind) = is_template_key(tk) {
                            if set_id == 1 || set_id == 3 || k.contains("(Options Template)") {
                                kind = TemplateKind::Options;
                            }
                            for to in tv.objects() {
                                if let Some(t) = parse_template(kind, to, number, header.domain) {
                                    had_template = true;
                                    match t.kind {
                                        TemplateKind::Data => oracle.templates_seen += 1,
                                        TemplateKind::Options => oracle.options_templates_seen += 1,
                                    }
                                    templates.learn(exporter, t);
                                }
                            }
                        }
                    }
                    if had_template || set_id < 256 {
                        continue;
                    }
                    let no_template = contains_key(set, &|x: &str| {
                        x.contains("no template found") || x == "cflow.no_template_found"
                    });
                    let flows: Vec<(&String, &J)> = set
                        .entries()
                        .iter()
                        .filter(|(fk, _)| is_flow_key(fk))
                        .map(|(fk, fv)| (fk, fv))
                        .collect();
                    if no_template && flows.is_empty() {
                        frame.items.push(Item::NoTemplate(NoTemplateSet {
                            frame: number,
                            pdu: pi,
                            set: si,
                            set_id,
                        }));
                        continue;
                    }
                    let template_frame = set
                        .get("cflow.template_frame")
                        .and_then(J::text)
                        .and_then(parse_uint)
                        .map(|x| x as u32);
                    let template = templates.find(template_frame, exporter, header.domain, set_id);
                    let mut ri = 0;
                    for (_, fv) in flows {
                        for o in fv.objects() {
                            let mut fields = Vec::new();
                            let mut malformed = false;
                            flatten(o, &mut fields, &mut malformed);
                            let kind = match template.as_ref().map(|t| t.kind) {
                                Some(TemplateKind::Data) => RecordKind::Data,
                                Some(TemplateKind::Options) => RecordKind::Options,
                                None if fields
                                    .iter()
                                    .any(|(fk, _)| fk.starts_with("cflow.scope")) =>
                                {
                                    RecordKind::Options
                                }
                                None => RecordKind::DataUnknownTemplate,
                            };
                            frame.items.push(Item::Record(Record {
                                frame: number,
                                pdu: pi,
                                set: si,
                                index: ri,
                                set_id,
                                kind,
                                header: header.clone(),
                                exporter,
                                template: template.clone(),
                                fields,
                                malformed,
                            }));
                            ri += 1;
                        }
                    }
                }
            }
        }
        oracle.frames.push(frame);
    }
    Ok(oracle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values() {
        assert_eq!(parse_uint("0x1b"), Some(27));
        assert_eq!(parse_uint(" 42 "), Some(42));
        assert_eq!(parse_secs_ns("944948.659000000"), Some(944_948_659_000_000));
        assert_eq!(parse_secs_ns("33"), Some(33_000_000_000));
        assert_eq!(parse_mac("00:e0:1c:3c:17:c2"), Some(0x00e0_1c3c_17c2));
        assert_eq!(
            parse_abs_time("Jan  1, 1970 00:00:01.5 UTC"),
            Some(1_500_000_000)
        );
        // 2009-10-05 06:06:07.492059999 UTC
        assert_eq!(
            parse_abs_time("Oct  5, 2009 06:06:07.492059999 UTC"),
            Some(1_254_722_767_492_059_999)
        );
        assert_eq!(parse_abs_time("Oct  5, 2009 06:06:07.4 CEST"), None);
    }

    #[test]
    fn keeps_order_and_duplicates() {
        let j: J = serde_json::from_str(r#"{"b":1,"a":"x","b":[2,3]}"#).unwrap();
        let keys: Vec<&str> = j.entries().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
        let mut out = Vec::new();
        let mut m = false;
        flatten(&j, &mut out, &mut m);
        let b: Vec<&str> = out
            .iter()
            .filter(|(k, _)| k == "b")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(b, ["1", "2", "3"]);
    }
}
