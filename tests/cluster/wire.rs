//! What the cluster tests send by hand: NetFlow v9 with one template id in two layouts, an
//! IPFIX template flood; and the resident memory of a collector.

use super::common::kafka::client;
use rdkafka::producer::{BaseProducer, BaseRecord};

pub const SOURCE_ID: u32 = 5;
pub const TID: u16 = 300;

pub fn v9_header(count: u16, seq: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&9u16.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&60_000u32.to_be_bytes()); // sysUptime
    out.extend_from_slice(&((now_secs()) as u32).to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&SOURCE_ID.to_be_bytes());
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A template datagram: template `TID` with these (type, length) fields.
pub fn v9_template(fields: &[(u16, u16)], seq: u32) -> Vec<u8> {
    let mut d = Vec::new();
    v9_header(1, seq, &mut d);
    d.extend_from_slice(&0u16.to_be_bytes());
    d.extend_from_slice(&((8 + 4 * fields.len()) as u16).to_be_bytes());
    d.extend_from_slice(&TID.to_be_bytes());
    d.extend_from_slice(&(fields.len() as u16).to_be_bytes());
    for (t, l) in fields {
        d.extend_from_slice(&t.to_be_bytes());
        d.extend_from_slice(&l.to_be_bytes());
    }
    d
}

/// A data datagram of records already laid out.
pub fn v9_data(records: &[Vec<u8>], seq: u32) -> Vec<u8> {
    let mut d = Vec::new();
    v9_header(records.len() as u16, seq, &mut d);
    let body: Vec<u8> = records.concat();
    let pad = (4 - (4 + body.len()) % 4) % 4;
    d.extend_from_slice(&TID.to_be_bytes());
    d.extend_from_slice(&((4 + body.len() + pad) as u16).to_be_bytes());
    d.extend_from_slice(&body);
    d.extend(std::iter::repeat_n(0u8, pad));
    d
}

/// One IPFIX datagram of `n` templates with random ids and 40 fields each.
pub fn template_bomb(rng: &mut u64, n: usize, out: &mut Vec<u8>) {
    let fields = 40;
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    out.clear();
    let set_len = 4 + n * (4 + 4 * fields);
    out.extend_from_slice(&10u16.to_be_bytes());
    out.extend_from_slice(&((16 + set_len) as u16).to_be_bytes());
    out.extend_from_slice(&(now_secs() as u32).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&2u16.to_be_bytes());
    out.extend_from_slice(&(set_len as u16).to_be_bytes());
    for _ in 0..n {
        out.extend_from_slice(&(256 + (next() % 60000) as u16).to_be_bytes());
        out.extend_from_slice(&(fields as u16).to_be_bytes());
        for f in 0..fields {
            out.extend_from_slice(&(1 + f as u16).to_be_bytes());
            out.extend_from_slice(&(1 + (next() % 8) as u16).to_be_bytes());
        }
    }
}

pub fn producer(brokers: &str) -> BaseProducer {
    client(brokers, &[]).create().expect("producer")
}

pub fn produce(p: &BaseProducer, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>) {
    let mut r: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic);
    if let Some(k) = key {
        r = r.key(k);
    }
    if let Some(v) = value {
        r = r.payload(v);
    }
    p.send(r).map_err(|(e, _)| e).expect("produce");
}
