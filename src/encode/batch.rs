//! Batches of encoded messages, the unit a worker hands to the output thread, and the
//! [`Encoding`] that fills them the way the configured sink wants.

use super::counters;
use super::extras::{self, Extras};
use super::key;
use super::schema::{PrefixCache, Schema, PB_ROOM};
use super::Format;
use crate::flow::Flow;
use std::time::Instant;

/// How messages are laid out in a batch's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Ready to write to a stream: JSON objects each followed by `\n`, or protobuf messages
    /// each preceded by its varint length. The file sink writes the buffer as it is.
    Stream,
    /// Bare messages (JSON without newline, protobuf without prefix), one per `ends` entry:
    /// what a message broker wants (one Kafka record per message).
    Bare,
}

/// How much of a batch's buffer is zeroed at a time as it first fills.
const GROW_STEP: usize = 64 << 10;

/// Encoded messages: one buffer and the end offset of each message in it; for Kafka also a
/// key per message (when a key mode is configured) and which messages are sFlow counter
/// records (they may go to their own topic).
#[derive(Debug)]
pub struct Batch {
    /// The worker that owns this batch (where it goes back when written).
    pub worker: usize,
    /// Kernel receive time of the first flow put in it (ns since the epoch; 0 unknown): the
    /// start of the receive -> output / delivery latencies.
    pub recv_ns: u64,
    /// The messages, in `buf[..used]`. Every byte of `buf` is initialized (zeroed once, when
    /// the batch grows): protobuf messages are encoded straight into its free room, which
    /// must be initialized memory to be handed out as an array without `unsafe`.
    buf: Vec<u8>,
    used: usize,
    /// Messages that are not encoded in place (JSON, counter records) are written here
    /// first, then copied in.
    staging: Vec<u8>,
    /// Whether the last delimited message was shorter than 128 bytes (a 1-byte length
    /// prefix): where the next one is encoded before its length is known.
    short: bool,
    /// The protobuf encoder's cache of the leading fields of the last message.
    prefix: PrefixCache,
    ends: Vec<u32>,
    /// Keys, one per message when keyed (`key_ends` parallel to `ends`), else empty.
    keys: Vec<u8>,
    key_ends: Vec<u32>,
    /// Indices of the messages that are counter records, ascending.
    counters: Vec<u32>,
    /// Flows whose renormalized bytes or packets saturated (`output.renormalize`): the
    /// worker adds them to its counters when it ships the batch.
    pub saturated: u32,
    /// When the datagram of the batch's first message was received (for the
    /// receive-to-delivery latency).
    pub received: Instant,
}

/// A batch as offsets: message `i` is `bytes[ends[i - 1]..ends[i]]` (from 0 for the first),
/// its key (when `key_ends` is not empty) `keys[key_ends[i - 1]..key_ends[i]]`.
#[derive(Clone, Copy, Debug)]
pub struct Parts<'a> {
    pub bytes: &'a [u8],
    pub ends: &'a [u32],
    pub keys: &'a [u8],
    /// Empty when the batch carries no keys, else one per message.
    pub key_ends: &'a [u32],
    /// Indices of the sFlow counter records, ascending.
    pub counters: &'a [u32],
}

impl<'a> Parts<'a> {
    /// Byte range of message `i`.
    #[inline]
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        start..self.ends[i] as usize
    }

    /// Key of message `i` (`None` when the batch carries no keys).
    #[inline]
    pub fn key(&self, i: usize) -> Option<&'a [u8]> {
        if self.key_ends.is_empty() {
            return None;
        }
        let start = if i == 0 {
            0
        } else {
            self.key_ends[i - 1] as usize
        };
        Some(&self.keys[start..self.key_ends[i] as usize])
    }
}

/// One message of a batch, as the Kafka sink sees it.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub value: &'a [u8],
    /// `None` when the batch carries no keys.
    pub key: Option<&'a [u8]>,
    /// An sFlow counter record rather than a flow.
    pub counter: bool,
}

impl Batch {
    pub fn new(worker: usize, bytes: usize, messages: usize) -> Batch {
        Batch {
            worker,
            recv_ns: 0,
            // reserved, not zeroed: the buffer is zeroed as it fills (`grow`), so a batch
            // makes resident only what its messages use
            buf: Vec::with_capacity(bytes.max(PB_ROOM + 2)),
            used: 0,
            staging: Vec::new(),
            short: false,
            prefix: PrefixCache::default(),
            ends: Vec::with_capacity(messages),
            keys: Vec::new(),
            key_ends: Vec::new(),
            counters: Vec::new(),
            saturated: 0,
            received: Instant::now(),
        }
    }

    /// The free room at `at` as an array of `N` bytes, growing (and zeroing) the buffer
    /// when it is short, with the batch's protobuf prefix cache. The buffer keeps its length
    /// when the batch is cleared, so a batch is zeroed once, as its first fill goes, and
    /// never again while it is reused.
    #[inline(always)]
    fn room<const N: usize>(&mut self, at: usize) -> (&mut [u8; N], &mut PrefixCache) {
        if self.buf.len() < at + N {
            self.grow(at + N);
        }
        let room = (&mut self.buf[at..at + N])
            .try_into()
            .expect("the buffer holds `at + N` bytes");
        (room, &mut self.prefix)
    }

    /// Zeroes the buffer up to at least `need` bytes, in steps of [`GROW_STEP`] (within the
    /// reserved capacity, so without a reallocation while the batch stays under its size).
    #[cold]
    fn grow(&mut self, need: usize) {
        let len = need.max(self.buf.len() + GROW_STEP);
        self.buf.resize(len, 0);
    }

    #[inline(always)]
    fn end_message(&mut self, end: usize) {
        self.used = end;
        self.ends.push(end as u32);
    }

    /// Appends one message: `encode` writes it into a staging buffer, which is copied in.
    #[inline]
    pub fn push_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        let mut staging = std::mem::take(&mut self.staging);
        staging.clear();
        encode(&mut staging);
        let at = self.used;
        let end = at + staging.len();
        if self.buf.len() < end {
            self.grow(end);
        }
        self.buf[at..end].copy_from_slice(&staging);
        self.staging = staging;
        self.end_message(end);
    }

    /// Appends the record as one protobuf message, encoded in place.
    #[inline]
    pub fn push_pb<R: Flow>(&mut self, schema: Schema, rec: &R) {
        let at = self.used;
        let (room, cache) = self.room::<PB_ROOM>(at);
        let n = schema.encode_pb_into(rec, room, cache);
        self.end_message(at + n);
    }

    /// Appends the record as a varint length and one protobuf message, encoded in place.
    /// The length prefix is 1 or 2 bytes (messages are < 2^14 bytes), known only after
    /// encoding: the message is written after a prefix of the length the previous one had,
    /// and moved by one byte in the rare case that guess was wrong.
    #[inline]
    pub fn push_pb_delimited<R: Flow>(&mut self, schema: Schema, rec: &R) {
        let at = self.used;
        let guess = if self.short { 1 } else { 2 };
        let (room, cache) = self.room::<{ PB_ROOM + 2 }>(at);
        let body: &mut [u8; PB_ROOM] = (&mut room[guess..guess + PB_ROOM])
            .try_into()
            .expect("PB_ROOM bytes after the prefix");
        let n = schema.encode_pb_into(rec, body, cache);
        let short = n < 0x80;
        let prefix = if short { 1 } else { 2 };
        if prefix != guess {
            room.copy_within(guess..guess + n, prefix);
        }
        if short {
            room[0] = n as u8;
        } else {
            room[0] = (n as u8) | 0x80;
            room[1] = (n >> 7) as u8;
        }
        self.short = short;
        self.end_message(at + prefix + n);
    }

    /// Appends `tail` to the message pushed last (a protobuf field after the message's own),
    /// fixing its varint length prefix when `delimited` (it may grow from 1 byte to 2).
    pub fn extend_last(&mut self, tail: &[u8], delimited: bool) {
        let Some(&end) = self.ends.last() else {
            return;
        };
        let end = end as usize;
        let start = match self.ends.len() {
            1 => 0,
            n => self.ends[n - 2] as usize,
        };
        let need = end + tail.len() + 1;
        if self.buf.len() < need {
            self.grow(need);
        }
        let new_end = if delimited {
            let (n, plen) = if self.buf[start] < 0x80 {
                (self.buf[start] as usize, 1)
            } else {
                (
                    (self.buf[start] & 0x7f) as usize | (self.buf[start + 1] as usize) << 7,
                    2,
                )
            };
            let total = n + tail.len();
            let new_plen = if total < 0x80 { 1 } else { 2 };
            if new_plen != plen {
                self.buf.copy_within(start + plen..end, start + new_plen);
            }
            if new_plen == 1 {
                self.buf[start] = total as u8;
            } else {
                self.buf[start] = (total as u8) | 0x80;
                self.buf[start + 1] = (total >> 7) as u8;
            }
            self.short = new_plen == 1;
            let body_end = start + new_plen + n;
            self.buf[body_end..body_end + tail.len()].copy_from_slice(tail);
            body_end + tail.len()
        } else {
            self.buf[end..end + tail.len()].copy_from_slice(tail);
            end + tail.len()
        };
        self.used = new_end;
        *self.ends.last_mut().expect("a message") = new_end as u32;
    }

    /// Appends the record as one protobuf message (with a varint length when `delimited`),
    /// encoded in place, followed by its `[[mapping]]` fields. With them a message may pass
    /// 128 bytes where the record alone would not: the length prefix is settled after both.
    pub fn push_pb_mapped<R: Flow>(
        &mut self,
        schema: Schema,
        rec: &R,
        m: &crate::mapping::Mapped<'_>,
        delimited: bool,
    ) {
        let at = self.used;
        let pre = if delimited { 2 } else { 0 };
        // the message's room, then the mapped fields' (written after the message, wherever
        // it ends)
        let extra = super::mapped::pb_room(m);
        let need = at + pre + PB_ROOM + extra;
        if self.buf.len() < need {
            self.grow(need);
        }
        let body: &mut [u8; PB_ROOM] = (&mut self.buf[at + pre..at + pre + PB_ROOM])
            .try_into()
            .expect("PB_ROOM bytes after the prefix");
        let n = schema.encode_pb_into(rec, body, &mut self.prefix);
        let start = at + pre + n;
        let e = super::mapped::write_pb_into(m, &mut self.buf[start..start + extra]);
        // MAX_MESSAGE + MAX_EXTRA < 2^14: a 1- or 2-byte length
        let total = n + e;
        let mut end = at + pre + total;
        if delimited {
            if total < 0x80 {
                self.buf.copy_within(at + 2..end, at + 1);
                self.buf[at] = total as u8;
                end -= 1;
            } else {
                self.buf[at] = (total as u8) | 0x80;
                self.buf[at + 1] = (total >> 7) as u8;
            }
            self.short = total < 0x80;
        }
        self.end_message(end);
    }

    /// Appends one message and its key: `key` writes the key bytes. Use for every message of
    /// a batch or for none.
    #[inline]
    pub fn push_keyed(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>),
        key: impl FnOnce(&mut Vec<u8>),
    ) {
        self.push_with(encode);
        self.push_key(key);
    }

    /// Adds the key of the message pushed last: `key` writes its bytes. Use for every
    /// message of a batch or for none.
    #[inline]
    pub fn push_key(&mut self, key: impl FnOnce(&mut Vec<u8>)) {
        key(&mut self.keys);
        self.key_ends.push(self.keys.len() as u32);
    }

    /// Marks the message pushed last as an sFlow counter record.
    #[inline]
    pub fn mark_counter(&mut self) {
        if let Some(i) = self.ends.len().checked_sub(1) {
            self.counters.push(i as u32);
        }
    }

    /// The whole buffer (all messages with their framing).
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.used]
    }

    /// The messages one by one (each with its framing, if any).
    pub fn messages(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0usize;
        self.ends.iter().map(move |&e| {
            let m = &self.buf[start..e as usize];
            start = e as usize;
            m
        })
    }

    /// The batch's raw parts, for a sink that regroups messages (batched Kafka messages).
    pub fn parts(&self) -> Parts<'_> {
        Parts {
            bytes: &self.buf[..self.used],
            ends: &self.ends,
            keys: &self.keys,
            key_ends: if self.key_ends.len() == self.ends.len() {
                &self.key_ends
            } else {
                &[]
            },
            counters: &self.counters,
        }
    }

    /// The messages with their keys and kinds.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        let keyed = self.key_ends.len() == self.ends.len() && !self.ends.is_empty();
        let (mut start, mut kstart) = (0usize, 0usize);
        let mut next_counter = self.counters.iter().copied().peekable();
        self.ends.iter().enumerate().map(move |(i, &e)| {
            let value = &self.buf[start..e as usize];
            start = e as usize;
            let key = if keyed {
                let ke = self.key_ends[i] as usize;
                let k = &self.keys[kstart..ke];
                kstart = ke;
                Some(k)
            } else {
                None
            };
            let counter = next_counter.next_if_eq(&(i as u32)).is_some();
            Entry {
                value,
                key,
                counter,
            }
        })
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn byte_len(&self) -> usize {
        self.used
    }

    pub fn clear(&mut self) {
        self.recv_ns = 0;
        // the bytes stay: they are initialized room for the next messages
        self.used = 0;
        self.ends.clear();
        self.keys.clear();
        self.key_ends.clear();
        self.counters.clear();
        self.saturated = 0;
    }
}

/// How a worker encodes each flow for the chosen sink.
#[derive(Clone, Copy, Debug)]
pub struct Encoding {
    pub format: Format,
    pub schema: Schema,
    pub framing: Framing,
    /// The Kafka key of each message (`KeyMode::None`: batches carry no keys).
    pub key: key::KeyMode,
    /// Encode sFlow counter records too (else the worker drops them).
    pub counters: bool,
    /// Renormalization and the instance field (`Extras::default()`: neither).
    pub extras: Extras,
}

impl Encoding {
    #[inline]
    pub fn encode(&self, rec: &crate::flow::FlowRecord, buf: &mut Vec<u8>) {
        match (self.format, self.framing) {
            (Format::Pb, Framing::Stream) => self.schema.encode_pb_delimited(rec, buf),
            (Format::Pb, Framing::Bare) => self.schema.encode_pb(rec, buf),
            (Format::Json, framing) => {
                self.schema.encode_json(rec, buf);
                if framing == Framing::Stream {
                    buf.push(b'\n');
                }
            }
        }
    }

    /// Encodes one sFlow counter record (`CounterMessage`) with the same format and framing.
    pub fn encode_counters(&self, rec: &crate::decode::sflow::CounterRecord, buf: &mut Vec<u8>) {
        match (self.format, self.framing) {
            (Format::Json, Framing::Bare) => counters::write_json(rec, buf),
            (Format::Pb, Framing::Bare) => {
                use prost::Message;
                // a Vec grows as needed: encoding into it cannot fail
                let _ = counters::to_pb(rec).encode(buf);
            }
            (format, Framing::Stream) => counters::encode_counters(rec, format, buf),
        }
    }

    /// Appends one flow to `batch`, with its key when a key mode is set.
    #[inline]
    pub fn push(&self, rec: &crate::flow::FlowRecord, batch: &mut Batch) {
        if self.extras.active() {
            return self.push_extras(rec, None, batch);
        }
        match (self.format, self.framing) {
            (Format::Pb, Framing::Stream) => batch.push_pb_delimited(self.schema, rec),
            (Format::Pb, Framing::Bare) => batch.push_pb(self.schema, rec),
            (Format::Json, _) => batch.push_with(|buf| self.encode(rec, buf)),
        }
        if !self.key.is_none() {
            batch.push_key(|k| self.key.write(rec, k));
        }
    }

    /// Appends one flow with renormalization or the instance field (`extras`), out of the
    /// hot path's way: a renormalized copy of the record, encoded as any other (protobuf in
    /// place, with its `[[mapping]]` values if any), then the instance field appended to the
    /// message.
    #[cold]
    #[inline(never)]
    fn push_extras(
        &self,
        rec: &crate::flow::FlowRecord,
        mapped: Option<&crate::mapping::Mapped<'_>>,
        batch: &mut Batch,
    ) {
        let mut r = *rec;
        if self.extras.renormalize {
            batch.saturated += u32::from(extras::renormalize(&mut r));
        }
        let stream = self.framing == Framing::Stream;
        match self.format {
            Format::Pb => {
                match mapped {
                    Some(m) => batch.push_pb_mapped(self.schema, &r, m, stream),
                    None if stream => batch.push_pb_delimited(self.schema, &r),
                    None => batch.push_pb(self.schema, &r),
                }
                if let Some(i) = self.extras.instance {
                    batch.extend_last(i.pb(), stream);
                }
            }
            Format::Json => {
                // renormalized above: the JSON writer only adds the instance
                let only_instance = Extras {
                    renormalize: false,
                    instance: self.extras.instance,
                };
                batch.push_with(|buf| {
                    extras::encode(
                        only_instance,
                        Format::Json,
                        stream,
                        self.schema,
                        &r,
                        mapped,
                        buf,
                    );
                });
            }
        }
        if !self.key.is_none() {
            // renormalization does not touch the key fields
            batch.push_key(|k| self.key.write(&r, k));
        }
    }

    /// Encodes one flow with its `[[mapping]]` values, as [`Encoding::encode`] does.
    pub fn encode_mapped(
        &self,
        rec: &crate::flow::FlowRecord,
        m: &crate::mapping::Mapped<'_>,
        buf: &mut Vec<u8>,
    ) {
        match (self.format, self.framing) {
            (Format::Pb, Framing::Stream) => {
                let mut msg = Vec::new();
                self.schema.encode_pb(rec, &mut msg);
                super::mapped::write_pb(m, &mut msg);
                let n = msg.len();
                if n < 0x80 {
                    buf.push(n as u8);
                } else {
                    buf.extend_from_slice(&[(n as u8) | 0x80, (n >> 7) as u8]);
                }
                buf.extend_from_slice(&msg);
            }
            (Format::Pb, Framing::Bare) => {
                self.schema.encode_pb(rec, buf);
                super::mapped::write_pb(m, buf);
            }
            (Format::Json, framing) => {
                self.schema.encode_json(rec, buf);
                super::mapped::write_json(m, buf);
                if framing == Framing::Stream {
                    buf.push(b'\n');
                }
            }
        }
    }

    /// Appends one flow with its `[[mapping]]` values to `batch`, keyed as [`Encoding::push`]
    /// does.
    pub fn push_mapped(
        &self,
        rec: &crate::flow::FlowRecord,
        m: &crate::mapping::Mapped<'_>,
        batch: &mut Batch,
    ) {
        if self.extras.active() {
            return self.push_extras(rec, Some(m), batch);
        }
        match (self.format, self.framing) {
            (Format::Pb, framing) => {
                batch.push_pb_mapped(self.schema, rec, m, framing == Framing::Stream)
            }
            (Format::Json, _) => batch.push_with(|buf| self.encode_mapped(rec, m, buf)),
        }
        if !self.key.is_none() {
            batch.push_key(|k| self.key.write(rec, k));
        }
    }

    /// Appends one flow read through [`Flow`] (a decoder's in-place view) to `batch`:
    /// protobuf without keys (or extras) is encoded straight from it; anything else from the
    /// record it makes.
    #[inline]
    pub fn push_flow<R: Flow>(&self, flow: &R, batch: &mut Batch) {
        let plain = self.key.is_none() && !self.extras.active();
        match (self.format, self.framing, plain) {
            (Format::Pb, Framing::Stream, true) => batch.push_pb_delimited(self.schema, flow),
            (Format::Pb, Framing::Bare, true) => batch.push_pb(self.schema, flow),
            _ => self.push(&flow.to_record(), batch),
        }
    }

    /// Appends one counter record to `batch` (keyed by the agent address when keys are on).
    pub fn push_counters(&self, rec: &crate::decode::sflow::CounterRecord, batch: &mut Batch) {
        if self.key.is_none() {
            batch.push_with(|buf| self.encode_counters(rec, buf));
        } else {
            batch.push_keyed(
                |buf| self.encode_counters(rec, buf),
                |k| k.extend_from_slice(rec.agent_address.as_slice()),
            );
        }
        batch.mark_counter();
    }
}

/// A [`FlowSink`](crate::decode::FlowSink) that encodes every flow into a batch, as a
/// worker does (flows a decoder reads in place included): for benchmarks and tools.
pub struct BatchWriter<'a> {
    pub encoding: &'a Encoding,
    pub batch: &'a mut Batch,
    pub flows: u64,
}

impl crate::decode::FlowSink for BatchWriter<'_> {
    #[inline]
    fn flow(&mut self, rec: &crate::flow::FlowRecord) {
        self.flows += 1;
        self.encoding.push(rec, self.batch);
    }
    #[inline]
    fn flow_of<F: Flow>(&mut self, flow: &F) {
        self.flows += 1;
        self.encoding.push_flow(flow, self.batch);
    }
    #[inline]
    fn flow_mapped(&mut self, rec: &crate::flow::FlowRecord, m: &crate::mapping::Mapped<'_>) {
        self.flows += 1;
        self.encoding.push_mapped(rec, m, self.batch);
    }
}

#[cfg(test)]
mod tests;
