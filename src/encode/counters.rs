//! Every encoder of sFlow counter records: a decoded [`CounterRecord`] becomes a
//! `CounterMessage` (counters.proto, prost) or a JSON object here and nowhere else. The
//! counter structs' fields are not listed here: `for_each_counter_struct!` in
//! `crate::decode::sflow` declares each struct once, and `counter_encoders!` below turns that
//! list into the JSON writer and the prost conversion of every struct. Only the output
//! bytes are this file's contract: JSON keys are the `counters.proto` field names.

use super::Format;
use crate::decode::sflow::{for_each_counter_struct, CounterRecord, Counters};
use crate::decode::sflow::{EthernetCounters, InterfaceCounters, ProcessorCounters, VlanCounters};
use std::io::Write;

/// Writes one counter record in the replay/file output format: a JSON line, or a
/// varint-length-delimited `CounterMessage`.
pub fn encode_counters(rec: &CounterRecord, format: Format, buf: &mut Vec<u8>) {
    match format {
        Format::Json => {
            write_json(rec, buf);
            buf.push(b'\n');
        }
        Format::Pb => {
            use prost::Message;
            // a Vec grows as needed: encoding into it cannot fail
            let _ = to_pb(rec).encode_length_delimited(buf);
        }
    }
}

/// The record as the prost `CounterMessage`.
pub fn to_pb(rec: &CounterRecord) -> crate::pb::counters::CounterMessage {
    use crate::pb::counters::counter_message::{Counters as C, MessageType};
    crate::pb::counters::CounterMessage {
        r#type: MessageType::SflowCounters as i32,
        time_received_ns: rec.time_received_ns,
        agent_address: rec.agent_address.as_slice().to_vec(),
        sub_agent_id: rec.sub_agent_id,
        sequence_num: rec.sequence_num,
        agent_uptime_ms: rec.agent_uptime_ms,
        sample_sequence: rec.sample_sequence,
        source_id_type: rec.source_id_type,
        source_id_index: rec.source_id_index,
        record_format: rec.record_format,
        counters: match rec.counters {
            Counters::None => None,
            Counters::Interface(x) => Some(C::Interface(x.to_pb())),
            Counters::Ethernet(x) => Some(C::Ethernet(x.to_pb())),
            Counters::Vlan(x) => Some(C::Vlan(x.to_pb())),
            Counters::Processor(x) => Some(C::Processor(x.to_pb())),
        },
    }
}

/// The record as one JSON object (no newline); keys are the `counters.proto` field names,
/// every counter is written (zeros included), the agent address as text.
pub fn write_json(rec: &CounterRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"Type\":\"SFLOW_COUNTERS\"");
    let _ = write!(out, ",\"TimeReceivedNs\":{}", rec.time_received_ns);
    if let Some(ip) = rec.agent_address.to_ip() {
        let _ = write!(out, ",\"AgentAddress\":\"{ip}\"");
    }
    let _ = write!(
        out,
        ",\"SubAgentId\":{},\"SequenceNum\":{},\"AgentUptimeMs\":{},\"SampleSequence\":{},\
         \"SourceIdType\":{},\"SourceIdIndex\":{},\"RecordFormat\":{}",
        rec.sub_agent_id,
        rec.sequence_num,
        rec.agent_uptime_ms,
        rec.sample_sequence,
        rec.source_id_type,
        rec.source_id_index,
        rec.record_format
    );
    let key = match &rec.counters {
        Counters::None => None,
        Counters::Interface(_) => Some("Interface"),
        Counters::Ethernet(_) => Some("Ethernet"),
        Counters::Vlan(_) => Some("Vlan"),
        Counters::Processor(_) => Some("Processor"),
    };
    if let Some(key) = key {
        let _ = write!(out, ",\"{key}\":");
    }
    match &rec.counters {
        Counters::None => {}
        Counters::Interface(x) => x.json(out),
        Counters::Ethernet(x) => x.json(out),
        Counters::Vlan(x) => x.json(out),
        Counters::Processor(x) => x.json(out),
    }
    out.push(b'}');
}

/// The encoders of one counter struct, implemented by `counter_encoders!` for each.
trait CounterEncode {
    /// The prost message of the struct (same name, same fields).
    type Pb;
    /// The struct as one JSON object, every field written (zeros included).
    fn json(&self, out: &mut Vec<u8>);
    fn to_pb(self) -> Self::Pb;
}

/// Implements [`CounterEncode`] for one counter struct of `for_each_counter_struct!`. The
/// prost conversion names every field, so the struct and `counters.proto` cannot drift apart
/// without a compile error.
macro_rules! counter_encoders {
    ($(#[$m:meta])* $name:ident, $len:literal, { $( $field:ident : $ty:ident = $key:literal, )* }) => {
        impl CounterEncode for $name {
            type Pb = crate::pb::counters::$name;

            fn json(&self, out: &mut Vec<u8>) {
                out.push(b'{');
                let mut first = true;
                $(
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    let _ = write!(out, "\"{}\":{}", $key, self.$field);
                )*
                let _ = first;
                out.push(b'}');
            }

            fn to_pb(self) -> crate::pb::counters::$name {
                crate::pb::counters::$name { $( $field: self.$field, )* }
            }
        }
    };
}

for_each_counter_struct!(counter_encoders);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::sflow::tests::rich_datagram;
    use crate::decode::{Decoder, FlowSink};
    use crate::flow::FlowRecord;

    #[derive(Default)]
    struct Collect {
        counters: Vec<CounterRecord>,
    }

    impl FlowSink for Collect {
        fn flow(&mut self, _: &FlowRecord) {}
        fn counters(&mut self, rec: &CounterRecord) {
            self.counters.push(*rec);
        }
    }

    /// The counter records of the sFlow decoder's richest test datagram.
    fn decoded_counters() -> Collect {
        let mut out = Collect::default();
        Decoder::default()
            .decode([203, 0, 113, 9].into(), 77, &rich_datagram(), &mut out)
            .unwrap();
        out
    }

    #[test]
    fn counters_json_and_pb() {
        use prost::Message;
        let out = decoded_counters();
        let mut buf = Vec::new();
        for c in &out.counters {
            encode_counters(c, Format::Json, &mut buf);
        }
        let lines: Vec<serde_json::Value> = buf
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["Type"], "SFLOW_COUNTERS");
        assert_eq!(lines[0]["AgentAddress"], "172.16.0.3");
        assert_eq!(lines[0]["SourceIdIndex"], 42);
        assert_eq!(lines[0]["Interface"]["IfInOctets"], 123_456_789_012u64);
        assert_eq!(lines[0]["Interface"]["IfPromiscuousMode"], 0);
        assert_eq!(lines[1]["Ethernet"]["Dot3StatsLateCollisions"], 9);
        assert_eq!(lines[2]["Vlan"]["VlanId"], 300);
        assert_eq!(lines[3]["Processor"]["TotalMemory"], 13_065_256_960u64);

        buf.clear();
        for c in &out.counters {
            encode_counters(c, Format::Pb, &mut buf);
        }
        let mut rest = &buf[..];
        let mut msgs = Vec::new();
        while !rest.is_empty() {
            let m =
                crate::pb::counters::CounterMessage::decode_length_delimited(&mut rest).unwrap();
            msgs.push(m);
        }
        assert_eq!(msgs.len(), 4);
        assert_eq!(msgs[0].r#type, 1000);
        assert_eq!(msgs[0].agent_address, vec![172, 16, 0, 3]);
        use crate::pb::counters::counter_message::Counters as C;
        match &msgs[0].counters {
            Some(C::Interface(i)) => assert_eq!(i.if_out_octets, 987_654_321_098),
            other => panic!("{other:?}"),
        }
        // a FlowMessage decoder reads a CounterMessage without error, as Type 1000
        let mut one = Vec::new();
        to_pb(&out.counters[0]).encode(&mut one).unwrap();
        let f = crate::pb::goflow_v2::FlowMessage::decode(&one[..]).unwrap();
        assert_eq!(f.r#type, 1000);
        assert_eq!(f.bytes, 0);
        let f = crate::pb::goflow2::FlowMessage::decode(&one[..]).unwrap();
        assert_eq!(f.r#type, 1000);
    }
}
