//! What a sample says about its interfaces: the compact and expanded `interface` encodings
//! (ifIndex, discarded with a reason, multiple, reserved), the ifIndex a flow keeps, and the
//! mapping of a discard reason to a NetFlow v9 / IPFIX forwarding status. A leaf: only flow
//! samples read it.

use crate::flow::FlowRecord;

/// An interface as the sample carries it: the top two bits of a compact `interface` (or the
/// `format` word of an expanded one) say what the value means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    /// An ifIndex (0 unknown, 0x3FFFFFFF the agent itself / internal).
    Index(u32),
    /// The packet was discarded; the value is the reason code.
    Discarded(u32),
    /// Sent to several interfaces (0: an unknown number).
    Multiple(u32),
    /// Format 3, reserved.
    Unknown(u32),
}

impl Interface {
    #[inline]
    pub fn compact(v: u32) -> Interface {
        Interface::expanded(v >> 30, v & 0x3fff_ffff)
    }

    #[inline]
    pub fn expanded(format: u32, value: u32) -> Interface {
        match format {
            0 => Interface::Index(value),
            1 => Interface::Discarded(value),
            2 => Interface::Multiple(value),
            _ => Interface::Unknown(value),
        }
    }

    /// The ifIndex for `in_if`/`out_if`: only format 0 is one.
    #[inline]
    pub fn if_index(self) -> u32 {
        match self {
            Interface::Index(v) => v,
            _ => 0,
        }
    }
}

/// A discard reason (sFlow drops extension: 0-255 ICMP unreachable codes, 256+ named
/// reasons) as a NetFlow v9 / IPFIX forwarding status (RFC 7270: 0b10xxxxxx = dropped).
pub fn drop_forwarding_status(reason: u32) -> u32 {
    match reason {
        // net/host unreachable, destination network/host unknown, blackhole route
        0 | 1 | 6 | 7 | 269 => 131,
        // protocol/port unreachable: the packet was for the agent itself
        2 | 3 => 141,
        // fragmentation needed and DF set, packet too big
        4 | 262 => 133,
        // administratively prohibited, ACL
        9 | 10 | 13 | 258 => 129,
        // TTL exceeded
        257 => 137,
        // RED
        260 => 139,
        // rate limit / traffic shaping
        261 => 138,
        // IP header corrupted
        275 => 134,
        _ => 128,
    }
}

/// A flow's `in_if`/`out_if` from its sample's interfaces; an output discarded with a reason
/// also sets its `forwarding_status` and `discard_reason`.
#[inline]
pub(super) fn set_interfaces(rec: &mut FlowRecord, input: Interface, output: Interface) {
    rec.in_if = input.if_index();
    rec.out_if = output.if_index();
    if let Interface::Discarded(reason) = output {
        rec.forwarding_status = drop_forwarding_status(reason);
        rec.discard_reason = reason;
    }
}
