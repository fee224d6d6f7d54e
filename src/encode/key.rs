//! Kafka message keys, computed by the worker from the `FlowRecord` at encode time (so the
//! output thread never decodes a message again).
//!
//! - [`KeyMode::None`]: no key; librdkafka spreads the messages over the partitions (GoFlow's
//!   default).
//! - [`KeyMode::Fields`]: GoFlow's `-kafka.hashing` key: for each configured field its value
//!   as Go's `fmt.Sprintf("%v-")` prints it (`[10 0 0 1]-65000-` for `SamplerAddress,DstAS`);
//!   the partitioner hashes it, so equal field values land in one partition.
//! - [`KeyMode::Exporter`]: the exporter's address bytes (4 or 16), so one exporter's flows
//!   keep their order in one partition.
//!
//! Everything here is `Copy` and allocation-free: a field list is at most [`MAX_KEY_FIELDS`]
//! indices into one static table.

use crate::flow::{Addr, FlowRecord, FlowType};
use std::io::Write;

/// Most fields in a key.
pub const MAX_KEY_FIELDS: usize = 8;

type Writer = fn(&FlowRecord, &mut Vec<u8>);

fn int(buf: &mut Vec<u8>, v: u64) {
    let _ = write!(buf, "{v}");
}

/// Go prints a `[]byte` with `%v` as `[10 0 0 1]`.
fn bytes(buf: &mut Vec<u8>, a: &Addr) {
    buf.push(b'[');
    for (i, b) in a.as_slice().iter().enumerate() {
        if i > 0 {
            buf.push(b' ');
        }
        let _ = write!(buf, "{b}");
    }
    buf.push(b']');
}

fn secs(ns: u64) -> u64 {
    ns / 1_000_000_000
}

fn type_name(t: FlowType) -> &'static str {
    match t {
        FlowType::Unknown => "FLOWUNKNOWN",
        FlowType::SFlow5 => "SFLOW_5",
        FlowType::NetflowV5 => "NETFLOW_V5",
        FlowType::NetflowV9 => "NETFLOW_V9",
        FlowType::Ipfix => "IPFIX",
    }
}

macro_rules! key_fields {
    ($( $name:literal => |$r:ident, $b:ident| $body:expr, )*) => {
        /// (GoFlow field name, writer of its `%v` text), in GoFlow v2's field order.
        const FIELDS: &[(&str, Writer)] = &[ $( ($name, |$r: &FlowRecord, $b: &mut Vec<u8>| $body), )* ];
    };
}

key_fields! {
    "Type" => |r, b| b.extend_from_slice(type_name(r.flow_type).as_bytes()),
    "TimeReceived" => |r, b| int(b, secs(r.time_received_ns)),
    "SequenceNum" => |r, b| int(b, r.sequence_num.into()),
    "SamplingRate" => |r, b| int(b, r.sampling_rate),
    "FlowDirection" => |r, b| int(b, r.flow_direction.into()),
    "SamplerAddress" => |r, b| bytes(b, &r.sampler_address),
    // GoFlow v2's name for the same field
    "RouterAddr" => |r, b| bytes(b, &r.sampler_address),
    "TimeFlowStart" => |r, b| int(b, secs(r.time_flow_start_ns)),
    "TimeFlowEnd" => |r, b| int(b, secs(r.time_flow_end_ns)),
    "Bytes" => |r, b| int(b, r.bytes),
    "Packets" => |r, b| int(b, r.packets),
    "SrcAddr" => |r, b| bytes(b, &r.src_addr),
    "DstAddr" => |r, b| bytes(b, &r.dst_addr),
    "Etype" => |r, b| int(b, r.etype.into()),
    "Proto" => |r, b| int(b, r.proto.into()),
    "SrcPort" => |r, b| int(b, r.src_port.into()),
    "DstPort" => |r, b| int(b, r.dst_port.into()),
    "InIf" => |r, b| int(b, r.in_if.into()),
    "OutIf" => |r, b| int(b, r.out_if.into()),
    "SrcMac" => |r, b| int(b, r.src_mac),
    "DstMac" => |r, b| int(b, r.dst_mac),
    "SrcVlan" => |r, b| int(b, r.src_vlan.into()),
    "DstVlan" => |r, b| int(b, r.dst_vlan.into()),
    "VlanId" => |r, b| int(b, r.vlan_id.into()),
    "IngressVrfID" => |r, b| int(b, r.ingress_vrf_id.into()),
    "EgressVrfID" => |r, b| int(b, r.egress_vrf_id.into()),
    "IPTos" => |r, b| int(b, r.ip_tos.into()),
    "ForwardingStatus" => |r, b| int(b, r.forwarding_status.into()),
    "IPTTL" => |r, b| int(b, r.ip_ttl.into()),
    "TCPFlags" => |r, b| int(b, r.tcp_flags.into()),
    "IcmpType" => |r, b| int(b, r.icmp_type.into()),
    "IcmpCode" => |r, b| int(b, r.icmp_code.into()),
    "IPv6FlowLabel" => |r, b| int(b, r.ipv6_flow_label.into()),
    "FragmentId" => |r, b| int(b, r.fragment_id.into()),
    "FragmentOffset" => |r, b| int(b, r.fragment_offset.into()),
    "BiFlowDirection" => |r, b| int(b, r.bi_flow_direction.into()),
    "SrcAS" => |r, b| int(b, r.src_as.into()),
    "DstAS" => |r, b| int(b, r.dst_as.into()),
    "NextHop" => |r, b| bytes(b, &r.next_hop),
    "NextHopAS" => |r, b| int(b, r.next_hop_as.into()),
    "SrcNet" => |r, b| int(b, r.src_net.into()),
    "DstNet" => |r, b| int(b, r.dst_net.into()),
}

/// GoFlow v3's `-kafka.key` default.
pub const GOFLOW_DEFAULT_KEY: &str = "SamplerAddress,DstAS";

/// A list of key fields (indices into the field table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyFields {
    len: u8,
    idx: [u8; MAX_KEY_FIELDS],
}

impl KeyFields {
    /// Parses field names (GoFlow's spelling, case-insensitive). The error is one line that
    /// names the bad field and lists the known ones.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<KeyFields, String> {
        let mut k = KeyFields {
            len: 0,
            idx: [0; MAX_KEY_FIELDS],
        };
        for n in names {
            let n = n.trim();
            if n.is_empty() {
                continue;
            }
            let Some(i) = FIELDS.iter().position(|(f, _)| f.eq_ignore_ascii_case(n)) else {
                return Err(format!(
                    "unknown key field {n:?} (known: {})",
                    FIELDS.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                ));
            };
            if k.len as usize == MAX_KEY_FIELDS {
                return Err(format!("more than {MAX_KEY_FIELDS} key fields"));
            }
            k.idx[k.len as usize] = i as u8;
            k.len += 1;
        }
        if k.len == 0 {
            return Err("empty key field list".into());
        }
        Ok(k)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.idx[..self.len as usize]
            .iter()
            .map(|&i| FIELDS[i as usize].0)
    }

    /// Appends GoFlow's key text for `r`.
    #[inline]
    pub fn write(&self, r: &FlowRecord, buf: &mut Vec<u8>) {
        for &i in &self.idx[..self.len as usize] {
            (FIELDS[i as usize].1)(r, buf);
            buf.push(b'-');
        }
    }
}

/// Which key each Kafka message gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyMode {
    #[default]
    None,
    /// The exporter's address bytes.
    Exporter,
    /// GoFlow's hashing key over these fields.
    Fields(KeyFields),
}

impl KeyMode {
    /// Appends the key of a flow (nothing for [`KeyMode::None`]).
    #[inline]
    pub fn write(&self, r: &FlowRecord, buf: &mut Vec<u8>) {
        match self {
            KeyMode::None => {}
            KeyMode::Exporter => buf.extend_from_slice(r.sampler_address.as_slice()),
            KeyMode::Fields(f) => f.write(r, buf),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, KeyMode::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goflow_key_text() {
        let r = FlowRecord {
            sampler_address: Addr::v4([10, 0, 0, 1]),
            dst_as: 65000,
            flow_type: FlowType::NetflowV9,
            ..FlowRecord::default()
        };
        let k = KeyFields::parse(GOFLOW_DEFAULT_KEY.split(',')).unwrap();
        let mut b = Vec::new();
        k.write(&r, &mut b);
        assert_eq!(b, b"[10 0 0 1]-65000-");
        let k = KeyFields::parse(["type", "Proto"]).unwrap();
        b.clear();
        k.write(&r, &mut b);
        assert_eq!(b, b"NETFLOW_V9-0-");
        assert_eq!(k.names().collect::<Vec<_>>(), ["Type", "Proto"]);
        b.clear();
        KeyMode::Exporter.write(&r, &mut b);
        assert_eq!(b, [10, 0, 0, 1]);
        assert!(KeyFields::parse(["Nope"]).unwrap_err().contains("Nope"));
        assert!(KeyFields::parse([""]).is_err());
        assert!(KeyFields::parse(["Proto"; 9]).is_err());
    }
}
