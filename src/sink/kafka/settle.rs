//! Delivery accounting without a delivery report per message (per-flow mode).
//!
//! With `delivery.report.only.error`, librdkafka reports failed messages only: a message
//! that leaves its queue without a report was acknowledged. So `delivered = produced -
//! reported (failed or purged) - in flight`, where in flight is librdkafka's own count of
//! the messages it still holds. That count can briefly include a pending error report as
//! one more item, which makes the difference a lower bound for a moment, never more than
//! the truth; the delivered counter only moves up to it, and is exact once nothing is
//! pending. Saving the report of every delivered message saves its event, its callback
//! and the message's destruction on the output thread.
//!
//! The receive-to-delivery latency and the delivered bytes then come per batch: every
//! batch handed to librdkafka is remembered as (messages produced up to its end, its
//! receive time, its bytes), and when the settled count (delivered + reported) passes that
//! end, the batch's messages are recorded with the latency of that moment. Batches are
//! settled in produce order, so a batch counts as delivered when as many messages as were
//! produced up to its end have left librdkafka (across partitions not necessarily its own
//! messages): exact in count, approximate in time by at most the spread of the partitions.
//! At most [`MAX_BATCHES`] batches are remembered; beyond that (a long broker outage) new
//! batches are not timed, and their bytes are added when the last remembered batch settles.

use std::collections::VecDeque;

/// Batches remembered for latency and bytes (64k x 32 bytes = 2 MiB at most).
pub const MAX_BATCHES: usize = 65_536;

#[derive(Clone, Copy, Debug)]
struct Pending {
    /// `produced` after the batch's last message.
    end: u64,
    received_us: u64,
    messages: u64,
    bytes: u64,
}

/// Batches produced and not yet settled, oldest first.
#[derive(Debug, Default)]
pub struct Settler {
    pending: VecDeque<Pending>,
    /// Bytes of batches that were not remembered (the queue was full), added with the next
    /// settled one.
    untracked_bytes: u64,
}

/// What settled since the last call: messages with their latency, and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub bytes: u64,
}

impl Settler {
    /// A batch whose messages were produced: `end` is the `produced` counter after them.
    pub fn produced(&mut self, end: u64, received_us: u64, messages: u64, bytes: u64) {
        if messages == 0 {
            return;
        }
        if self.pending.len() >= MAX_BATCHES {
            self.untracked_bytes += bytes;
            return;
        }
        self.pending.push_back(Pending {
            end,
            received_us,
            messages,
            bytes,
        });
    }

    /// Settles every batch whose end is at or below `settled` (delivered + reported), calling
    /// `latency(us, messages)` for each; returns the bytes settled.
    pub fn settle(
        &mut self,
        settled: u64,
        now_us: u64,
        mut latency: impl FnMut(u64, u64),
    ) -> Settled {
        let mut out = Settled::default();
        while let Some(p) = self.pending.front() {
            if p.end > settled {
                break;
            }
            latency(now_us.saturating_sub(p.received_us), p.messages);
            out.bytes += p.bytes;
            self.pending.pop_front();
            if self.pending.is_empty() {
                out.bytes += std::mem::take(&mut self.untracked_bytes);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_settle_in_order_when_the_count_passes_their_end() {
        let mut s = Settler::default();
        s.produced(10, 100, 10, 1000);
        s.produced(15, 200, 5, 500);
        let mut lat = Vec::new();
        assert_eq!(s.settle(9, 1000, |us, n| lat.push((us, n))).bytes, 0);
        assert_eq!(s.settle(12, 1100, |us, n| lat.push((us, n))).bytes, 1000);
        assert_eq!(s.settle(15, 1300, |us, n| lat.push((us, n))).bytes, 500);
        assert_eq!(lat, [(1000, 10), (1100, 5)]);
    }

    #[test]
    fn the_queue_is_bounded_and_bytes_are_not_lost() {
        let mut s = Settler::default();
        for i in 0..MAX_BATCHES as u64 + 10 {
            s.produced(i + 1, 0, 1, 2);
        }
        assert_eq!(s.pending.len(), MAX_BATCHES);
        let mut n = 0;
        let got = s.settle(u64::MAX, 1, |_, m| n += m);
        assert_eq!(n, MAX_BATCHES as u64);
        assert_eq!(got.bytes, 2 * (MAX_BATCHES as u64 + 10));
    }
}
