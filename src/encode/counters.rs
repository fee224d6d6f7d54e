//! sFlow counter records as `CounterMessage` (counters.proto) or JSON.

use super::Format;
use crate::decode::sflow::CounterRecord;

/// Writes one counter record in the replay/file output format: a JSON line, or a
/// varint-length-delimited `CounterMessage`.
pub fn encode_counters(rec: &CounterRecord, format: Format, buf: &mut Vec<u8>) {
    match format {
        Format::Json => {
            rec.write_json(buf);
            buf.push(b'\n');
        }
        Format::Pb => {
            use prost::Message;
            // a Vec grows as needed: encoding into it cannot fail
            let _ = rec.to_pb().encode_length_delimited(buf);
        }
    }
}
