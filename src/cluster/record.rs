//! The records of the templates topic: their key (text, see `proto/cluster.proto`) and value
//! (a `SharedRecord`), built for publishing and checked when read. Everything read is
//! hostile: a key or value this build did not write is an error ([`RecordError`]), counted
//! and skipped by the caller, never a panic.

use crate::decode::spec::FieldSpec;
use crate::pb::cluster::{shared_record, Field, Rate, SharedRecord, Template};
use prost::Message as _;
use std::net::IpAddr;
use std::sync::Arc;

/// `SharedRecord.format` of this layout: "cf" and 1.
pub const FORMAT: u32 = 0x6366_0001;

/// Fields a shared template may carry (the wire allows at most this many in one set).
const MAX_FIELDS: usize = 16_384;

/// What a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Template {
        exporter: IpAddr,
        version: u8,
        domain: u32,
        id: u16,
    },
    /// A sampling rate: by sampler / selector id, or (`None`) the domain's.
    Rate {
        exporter: IpAddr,
        version: u8,
        domain: u32,
        sampler: Option<u64>,
    },
}

/// Why a record was not usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not a record of this format: no key, another program's key, another format number.
    #[error("not a coreflow template record")]
    Foreign,
    /// A coreflow key or value that does not parse, or that disagree.
    #[error("malformed template record")]
    Malformed,
}

impl RecordError {
    pub fn label(self) -> &'static str {
        match self {
            RecordError::Foreign => "foreign",
            RecordError::Malformed => "malformed",
        }
    }
}

impl Key {
    pub fn exporter(&self) -> IpAddr {
        match *self {
            Key::Template { exporter, .. } | Key::Rate { exporter, .. } => exporter,
        }
    }

    /// The record key: `t/<exporter>/<version>/<domain>/<id>` or
    /// `r/<exporter>/<version>/<domain>/<sampler or ->`.
    pub fn encode(&self) -> String {
        match *self {
            Key::Template {
                exporter,
                version,
                domain,
                id,
            } => format!("t/{exporter}/{version}/{domain}/{id}"),
            Key::Rate {
                exporter,
                version,
                domain,
                sampler: Some(s),
            } => format!("r/{exporter}/{version}/{domain}/{s}"),
            Key::Rate {
                exporter,
                version,
                domain,
                sampler: None,
            } => format!("r/{exporter}/{version}/{domain}/-"),
        }
    }

    pub fn parse(key: &[u8]) -> Result<Key, RecordError> {
        let s = std::str::from_utf8(key).map_err(|_| RecordError::Foreign)?;
        let (kind, rest) = match s.split_at_checked(2) {
            Some(("t/", r)) => ('t', r),
            Some(("r/", r)) => ('r', r),
            _ => return Err(RecordError::Foreign),
        };
        let mut parts = rest.split('/');
        let mut next = || parts.next().ok_or(RecordError::Malformed);
        let bad = |_| RecordError::Malformed;
        let exporter: IpAddr = next()?.parse().map_err(|_| RecordError::Malformed)?;
        let version: u8 = next()?.parse().map_err(bad)?;
        let domain: u32 = next()?.parse().map_err(bad)?;
        let last = next()?;
        if parts.next().is_some() || !matches!(version, 9 | 10) {
            return Err(RecordError::Malformed);
        }
        Ok(match kind {
            't' => Key::Template {
                exporter,
                version,
                domain,
                id: last.parse().map_err(bad)?,
            },
            _ => Key::Rate {
                exporter,
                version,
                domain,
                sampler: match last {
                    "-" => None,
                    s => Some(s.parse().map_err(bad)?),
                },
            },
        })
    }
}

/// What a record says (absent in a tombstone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Template {
        options: bool,
        scope_count: u16,
        fields: Vec<FieldSpec>,
    },
    Rate {
        rate: u64,
        sys_init_ms: u64,
    },
}

/// One record, read or to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub key: Key,
    /// The instance that published it (empty for a tombstone: a null value names nobody).
    pub instance: Arc<str>,
    /// When it was learned (a tombstone: the record's timestamp), Unix ns.
    pub learned_ns: u64,
    /// `None`: a tombstone (the template went).
    pub body: Option<Body>,
}

impl Record {
    /// The record value (`None` for a tombstone).
    pub fn value(&self) -> Option<Vec<u8>> {
        let body = self.body.as_ref()?;
        let (exporter, version, domain) = match self.key {
            Key::Template {
                exporter,
                version,
                domain,
                ..
            }
            | Key::Rate {
                exporter,
                version,
                domain,
                ..
            } => (exporter, version, domain),
        };
        let what = match (body, self.key) {
            (
                Body::Template {
                    options,
                    scope_count,
                    fields,
                },
                Key::Template { id, .. },
            ) => shared_record::What::Template(Template {
                id: id.into(),
                options: *options,
                scope_count: (*scope_count).into(),
                fields: fields
                    .iter()
                    .map(|f| Field {
                        id: f.id.into(),
                        length: f.len.into(),
                        enterprise: f.pen,
                    })
                    .collect(),
            }),
            (Body::Rate { rate, sys_init_ms }, Key::Rate { sampler, .. }) => {
                shared_record::What::Rate(Rate {
                    has_sampler: sampler.is_some(),
                    sampler: sampler.unwrap_or(0),
                    rate: *rate,
                    sys_init_ms: *sys_init_ms,
                })
            }
            _ => return None,
        };
        let m = SharedRecord {
            format: FORMAT,
            instance: self.instance.to_string(),
            learned_ns: self.learned_ns,
            exporter: match exporter {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            },
            version: version.into(),
            domain,
            what: Some(what),
        };
        Some(m.encode_to_vec())
    }

    /// Reads one record: `timestamp_ns` is the Kafka record's time (a tombstone's only time).
    pub fn read(
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp_ns: u64,
    ) -> Result<Record, RecordError> {
        let key = Key::parse(key.ok_or(RecordError::Foreign)?)?;
        let Some(value) = value else {
            // rates are never withdrawn: only templates have tombstones
            return match key {
                Key::Template { .. } => Ok(Record {
                    key,
                    instance: Arc::from(""),
                    learned_ns: timestamp_ns,
                    body: None,
                }),
                Key::Rate { .. } => Err(RecordError::Malformed),
            };
        };
        let m = SharedRecord::decode(value).map_err(|_| RecordError::Malformed)?;
        if m.format != FORMAT {
            return Err(RecordError::Foreign);
        }
        let exporter = match m.exporter.len() {
            4 => IpAddr::from(
                <[u8; 4]>::try_from(&m.exporter[..]).map_err(|_| RecordError::Malformed)?,
            ),
            16 => IpAddr::from(
                <[u8; 16]>::try_from(&m.exporter[..]).map_err(|_| RecordError::Malformed)?,
            ),
            _ => return Err(RecordError::Malformed),
        };
        let (kexp, kver, kdom) = match key {
            Key::Template {
                exporter,
                version,
                domain,
                ..
            }
            | Key::Rate {
                exporter,
                version,
                domain,
                ..
            } => (exporter, version, domain),
        };
        if kexp.to_canonical() != exporter.to_canonical()
            || u32::from(kver) != m.version
            || kdom != m.domain
        {
            return Err(RecordError::Malformed);
        }
        let body = match (m.what, key) {
            (Some(shared_record::What::Template(t)), Key::Template { id, .. }) => {
                if t.id != u32::from(id) || t.fields.len() > MAX_FIELDS {
                    return Err(RecordError::Malformed);
                }
                let u16_of = |v: u32| u16::try_from(v).map_err(|_| RecordError::Malformed);
                let fields = t
                    .fields
                    .iter()
                    .map(|f| {
                        Ok(FieldSpec {
                            id: u16_of(f.id)?,
                            len: u16_of(f.length)?,
                            pen: f.enterprise,
                        })
                    })
                    .collect::<Result<Vec<_>, RecordError>>()?;
                let scope_count = u16_of(t.scope_count)?;
                if fields.is_empty() || usize::from(scope_count) > fields.len() {
                    return Err(RecordError::Malformed);
                }
                Body::Template {
                    options: t.options,
                    scope_count,
                    fields,
                }
            }
            (Some(shared_record::What::Rate(r)), Key::Rate { sampler, .. }) => {
                let s = r.has_sampler.then_some(r.sampler);
                if s != sampler || (s.is_some() && r.rate == 0) {
                    return Err(RecordError::Malformed);
                }
                Body::Rate {
                    rate: r.rate,
                    sys_init_ms: r.sys_init_ms,
                }
            }
            _ => return Err(RecordError::Malformed),
        };
        Ok(Record {
            key,
            instance: Arc::from(m.instance.as_str()),
            learned_ns: m.learned_ns,
            body: Some(body),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Record {
        Record {
            key: Key::Template {
                exporter: "192.0.2.7".parse().unwrap(),
                version: 10,
                domain: 3,
                id: 256,
            },
            instance: Arc::from("edge-1"),
            learned_ns: 1_700_000_000_000_000_000,
            body: Some(Body::Template {
                options: true,
                scope_count: 1,
                fields: vec![
                    FieldSpec {
                        id: 149,
                        len: 4,
                        pen: 0,
                    },
                    FieldSpec {
                        id: 12,
                        len: 65535,
                        pen: 29305,
                    },
                ],
            }),
        }
    }

    #[test]
    fn keys_round_trip() {
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        for k in [
            Key::Template {
                exporter: v6,
                version: 9,
                domain: u32::MAX,
                id: 65535,
            },
            Key::Rate {
                exporter: v6,
                version: 10,
                domain: 0,
                sampler: Some(u64::MAX),
            },
            Key::Rate {
                exporter: "10.1.2.3".parse().unwrap(),
                version: 10,
                domain: 7,
                sampler: None,
            },
        ] {
            assert_eq!(Key::parse(k.encode().as_bytes()), Ok(k));
        }
        assert_eq!(
            Key::encode(&template().key),
            "t/192.0.2.7/10/3/256".to_string()
        );
        for (bad, why) in [
            (&b"flows"[..], RecordError::Foreign),
            (b"", RecordError::Foreign),
            (b"\xff\xfe", RecordError::Foreign),
            (b"t/192.0.2.7/10/3", RecordError::Malformed),
            (b"t/192.0.2.7/10/3/256/1", RecordError::Malformed),
            (b"t/192.0.2.7/5/3/256", RecordError::Malformed),
            (b"t/192.0.2.7/10/3/65536", RecordError::Malformed),
            (b"t/not-an-ip/10/3/1", RecordError::Malformed),
            (b"r/192.0.2.7/10/3/x", RecordError::Malformed),
        ] {
            assert_eq!(Key::parse(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn values_round_trip_and_tombstones() {
        let r = template();
        let k = r.key.encode();
        let v = r.value().unwrap();
        assert_eq!(Record::read(Some(k.as_bytes()), Some(&v), 5), Ok(r.clone()));
        let rate = Record {
            key: Key::Rate {
                exporter: "192.0.2.7".parse().unwrap(),
                version: 9,
                domain: 1,
                sampler: None,
            },
            instance: Arc::from("b"),
            learned_ns: 9,
            body: Some(Body::Rate {
                rate: 0,
                sys_init_ms: 77,
            }),
        };
        let kr = rate.key.encode();
        assert_eq!(
            Record::read(Some(kr.as_bytes()), rate.value().as_deref(), 5),
            Ok(rate)
        );
        let t = Record::read(Some(k.as_bytes()), None, 42).unwrap();
        assert_eq!((t.body, t.learned_ns), (None, 42));
        assert_eq!(
            Record::read(Some(kr.as_bytes()), None, 1),
            Err(RecordError::Malformed)
        );
    }

    #[test]
    fn foreign_and_malformed_values_are_refused() {
        let r = template();
        let k = r.key.encode();
        let v = r.value().unwrap();
        assert_eq!(Record::read(None, Some(&v), 0), Err(RecordError::Foreign));
        assert_eq!(
            Record::read(Some(b"some-flow"), Some(&v), 0),
            Err(RecordError::Foreign)
        );
        // another format number
        let mut m = SharedRecord::decode(&v[..]).unwrap();
        m.format = 7;
        assert_eq!(
            Record::read(Some(k.as_bytes()), Some(&m.encode_to_vec()), 0),
            Err(RecordError::Foreign)
        );
        // the key and the value disagree
        let other = Key::Template {
            exporter: "192.0.2.8".parse().unwrap(),
            version: 10,
            domain: 3,
            id: 256,
        }
        .encode();
        assert_eq!(
            Record::read(Some(other.as_bytes()), Some(&v), 0),
            Err(RecordError::Malformed)
        );
        // every truncation is an error or a record, never a panic
        for n in 0..v.len() {
            let _ = Record::read(Some(k.as_bytes()), Some(&v[..n]), 0);
        }
        assert_eq!(
            Record::read(Some(k.as_bytes()), Some(b"\xff\xff\xff"), 0),
            Err(RecordError::Malformed)
        );
        // a field id beyond 16 bits
        let mut m = SharedRecord::decode(&v[..]).unwrap();
        if let Some(shared_record::What::Template(t)) = &mut m.what {
            t.fields[0].id = 70_000;
        }
        assert_eq!(
            Record::read(Some(k.as_bytes()), Some(&m.encode_to_vec()), 0),
            Err(RecordError::Malformed)
        );
    }
}
