//! Batched Kafka messages (`kafka.messages = "batched"`): how a worker's batch is cut into
//! Kafka messages that each hold many flows.
//!
//! In batched mode the workers encode with [`Framing::Stream`](crate::encode::batch::Framing)
//! (varint-delimited protobuf, or JSON objects each ending in `\n`), so any run of
//! consecutive messages of a batch is already a valid batched value: the common case (no
//! keys, no sFlow counter records) hands librdkafka slices of the batch's own buffer, cut at
//! message boundaries so that none exceeds `max_message_bytes`, with no copy on our side.
//!
//! With keys, every flow of a Kafka message must share its key, and sFlow counter records go
//! to their own topic: the batch's messages are then ordered by (counter record, key, index)
//! and each group of equal (counter record, key) becomes one or more Kafka messages. A group
//! whose flows are not adjacent in the buffer is copied into one scratch buffer first. The
//! index is the last sort key, so flows keep their order within a key, and an unstable sort
//! (no allocation) gives the same result as a stable one. The scratch vectors are reused: no
//! allocation per batch once they have grown.

use crate::encode::batch::Parts;

/// One batched Kafka message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// The flows, each with its framing (varint prefix or trailing newline).
    pub value: &'a [u8],
    /// The key every flow of the message shares (`None`: the batch is not keyed).
    pub key: Option<&'a [u8]>,
    /// sFlow counter records rather than flows (they go to `counters_topic`).
    pub counter: bool,
    /// How many flows (or counter records) the value holds.
    pub flows: u32,
}

/// Reusable buffers of the batched-message cutter (one per output thread).
#[derive(Debug, Default)]
pub struct Chunker {
    order: Vec<u32>,
    counter: Vec<bool>,
    scratch: Vec<u8>,
}

impl Chunker {
    /// Calls `emit` for each Kafka message the batch makes: every value at most `max` bytes
    /// unless a single flow is larger, every flow in exactly one value.
    pub fn cut(&mut self, p: Parts<'_>, max: usize, mut emit: impl FnMut(Chunk<'_>)) {
        let n = p.ends.len();
        if n == 0 {
            return;
        }
        if p.key_ends.is_empty() && p.counters.is_empty() {
            // runs of adjacent flows, cut by size: slices of the batch itself
            let mut first = 0;
            while first < n {
                let start = p.range(first).start;
                let mut last = first;
                while last + 1 < n && p.range(last + 1).end - start <= max {
                    last += 1;
                }
                emit(Chunk {
                    value: &p.bytes[start..p.range(last).end],
                    key: None,
                    counter: false,
                    flows: (last - first + 1) as u32,
                });
                first = last + 1;
            }
            return;
        }
        self.counter.clear();
        self.counter.resize(n, false);
        for &c in p.counters {
            if let Some(slot) = self.counter.get_mut(c as usize) {
                *slot = true;
            }
        }
        self.order.clear();
        self.order.extend(0..n as u32);
        let counter = &self.counter;
        self.order.sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            (counter[a], p.key(a), a).cmp(&(counter[b], p.key(b), b))
        });
        let mut g = 0;
        while g < n {
            let head = self.order[g] as usize;
            let (is_counter, key) = (self.counter[head], p.key(head));
            // the group: equal (counter, key), within `max` bytes
            let mut size = p.range(head).len();
            let mut adjacent = true;
            let mut end = g + 1;
            while end < n {
                let i = self.order[end] as usize;
                let len = p.range(i).len();
                if self.counter[i] != is_counter || p.key(i) != key || size + len > max {
                    break;
                }
                adjacent &= i == self.order[end - 1] as usize + 1;
                size += len;
                end += 1;
            }
            let value = if adjacent {
                let last = self.order[end - 1] as usize;
                &p.bytes[p.range(head).start..p.range(last).end]
            } else {
                self.scratch.clear();
                for &i in &self.order[g..end] {
                    self.scratch
                        .extend_from_slice(&p.bytes[p.range(i as usize)]);
                }
                &self.scratch[..]
            };
            emit(Chunk {
                value,
                key,
                counter: is_counter,
                flows: (end - g) as u32,
            });
            g = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch as parts: messages "m0\n", "m1\n", ...
    struct Fake {
        bytes: Vec<u8>,
        ends: Vec<u32>,
        keys: Vec<u8>,
        key_ends: Vec<u32>,
        counters: Vec<u32>,
    }

    impl Fake {
        fn new(msgs: &[&str], keys: Option<&[&str]>, counters: &[u32]) -> Fake {
            let mut f = Fake {
                bytes: Vec::new(),
                ends: Vec::new(),
                keys: Vec::new(),
                key_ends: Vec::new(),
                counters: counters.to_vec(),
            };
            for (i, m) in msgs.iter().enumerate() {
                f.bytes.extend_from_slice(m.as_bytes());
                f.ends.push(f.bytes.len() as u32);
                if let Some(k) = keys {
                    f.keys.extend_from_slice(k[i].as_bytes());
                    f.key_ends.push(f.keys.len() as u32);
                }
            }
            f
        }

        fn parts(&self) -> Parts<'_> {
            Parts {
                bytes: &self.bytes,
                ends: &self.ends,
                keys: &self.keys,
                key_ends: &self.key_ends,
                counters: &self.counters,
            }
        }
    }

    fn cut(f: &Fake, max: usize) -> Vec<(String, Option<String>, bool, u32)> {
        let mut out = Vec::new();
        Chunker::default().cut(f.parts(), max, |c| {
            out.push((
                String::from_utf8(c.value.to_vec()).unwrap(),
                c.key.map(|k| String::from_utf8(k.to_vec()).unwrap()),
                c.counter,
                c.flows,
            ))
        });
        out
    }

    #[test]
    fn unkeyed_runs_are_cut_by_size() {
        let f = Fake::new(&["a\n", "bb\n", "c\n", "dddd\n", "e\n"], None, &[]);
        let got = cut(&f, 6);
        let values: Vec<&str> = got.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(values, ["a\nbb\n", "c\n", "dddd\n", "e\n"]);
        assert_eq!(got.iter().map(|c| c.3).sum::<u32>(), 5);
        // everything fits: one message
        assert_eq!(cut(&f, 1000).len(), 1);
        // a flow larger than max still goes, alone
        let got = cut(&f, 1);
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn keyed_flows_are_grouped_per_key_in_order() {
        let f = Fake::new(
            &["1\n", "2\n", "3\n", "4\n", "5\n"],
            Some(&["b", "a", "b", "a", "b"]),
            &[],
        );
        let got = cut(&f, 1000);
        assert_eq!(
            got,
            vec![
                ("2\n4\n".into(), Some("a".into()), false, 2),
                ("1\n3\n5\n".into(), Some("b".into()), false, 3),
            ]
        );
        // size limit within a key
        let got = cut(&f, 4);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].0, "1\n3\n");
        assert_eq!(got[2].0, "5\n");
    }

    #[test]
    fn counter_records_are_their_own_messages() {
        let f = Fake::new(&["f1\n", "c1\n", "f2\n", "c2\n"], None, &[1, 3]);
        let got = cut(&f, 1000);
        assert_eq!(
            got,
            vec![
                ("f1\nf2\n".into(), None, false, 2),
                ("c1\nc2\n".into(), None, true, 2),
            ]
        );
    }

    #[test]
    fn every_flow_is_in_exactly_one_message() {
        // pseudo-random keys and sizes, every max
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            seed >> 16
        };
        let mut msgs = Vec::new();
        let mut keys = Vec::new();
        for i in 0..200 {
            msgs.push(format!("{i}:{}\n", "x".repeat((next() % 20) as usize)));
            keys.push(format!("k{}", next() % 5));
        }
        let m: Vec<&str> = msgs.iter().map(String::as_str).collect();
        let k: Vec<&str> = keys.iter().map(String::as_str).collect();
        for keyed in [false, true] {
            let f = Fake::new(&m, keyed.then_some(&k[..]), &[3, 50, 199]);
            for max in [1, 10, 64, 1000, 100_000] {
                let got = cut(&f, max);
                let mut seen: Vec<usize> = Vec::new();
                for (value, key, _, flows) in &got {
                    let lines: Vec<&str> = value.lines().collect();
                    assert_eq!(lines.len() as u32, *flows);
                    assert!(value.len() <= max || *flows == 1);
                    let mut prev = None;
                    for l in lines {
                        let i: usize = l.split(':').next().unwrap().parse().unwrap();
                        if keyed {
                            assert_eq!(key.as_deref(), Some(keys[i].as_str()));
                        }
                        // order kept within a message
                        assert!(prev < Some(i));
                        prev = Some(i);
                        seen.push(i);
                    }
                }
                seen.sort();
                assert_eq!(seen, (0..200).collect::<Vec<_>>());
            }
        }
    }
}
