//! sFlow counter records as decoded: [`CounterRecord`] (one record with the datagram and
//! sample it came in), [`Counters`] (which record type it is), and one struct per record type
//! coreflow exports, with its length and reader on the wire. Nothing here encodes.
//!
//! The field list of every counter struct is declared once, in `for_each_counter_struct!`:
//! this file turns it into the structs and their readers, the encoders (a layer above) into
//! their JSON and protobuf encoders, so a counter cannot be read without being encoded (nor
//! encoded without being read), and the prost conversion names every field, so the Rust
//! structs and `counters.proto` cannot drift apart without a compile error.

use crate::cursor::{Cursor, Short};
use crate::flow::Addr;

/// One sFlow counter record with the datagram and sample it came in. `Copy`, no heap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterRecord {
    pub time_received_ns: u64,
    /// The agent (the datagram source when the agent address type is 0).
    pub agent_address: Addr,
    pub sub_agent_id: u32,
    /// Datagram sequence number.
    pub sequence_num: u32,
    pub agent_uptime_ms: u32,
    /// Counter sample sequence number.
    pub sample_sequence: u32,
    pub source_id_type: u32,
    pub source_id_index: u32,
    /// `enterprise << 12 | format` of the record.
    pub record_format: u32,
    pub counters: Counters,
}

/// The counter record types coreflow exports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Counters {
    #[default]
    None,
    Interface(InterfaceCounters),
    Ethernet(EthernetCounters),
    Vlan(VlanCounters),
    Processor(ProcessorCounters),
}

/// Every counter struct coreflow exports, each declared once: doc, name (also the name of its
/// prost message in `counters.proto`), length of the record body on the wire, and its fields
/// in wire order (XDR `unsigned int` / `unsigned hyper`), each with its JSON key (= the proto
/// field name). `$cb` is a macro called once per struct with
/// `$(#[doc])* Name, LEN, { field: u32 | u64 = "Key", ... }`: `counter_struct!` below declares
/// the structs and their readers, the encoders' layer their encoders.
macro_rules! for_each_counter_struct {
    ($cb:ident) => {
        $cb!(
            /// Generic interface counters (format 1).
            InterfaceCounters, 88, {
            if_index: u32 = "IfIndex",
            if_type: u32 = "IfType",
            if_speed: u64 = "IfSpeed",
            if_direction: u32 = "IfDirection",
            if_status: u32 = "IfStatus",
            if_in_octets: u64 = "IfInOctets",
            if_in_ucast_pkts: u32 = "IfInUcastPkts",
            if_in_multicast_pkts: u32 = "IfInMulticastPkts",
            if_in_broadcast_pkts: u32 = "IfInBroadcastPkts",
            if_in_discards: u32 = "IfInDiscards",
            if_in_errors: u32 = "IfInErrors",
            if_in_unknown_protos: u32 = "IfInUnknownProtos",
            if_out_octets: u64 = "IfOutOctets",
            if_out_ucast_pkts: u32 = "IfOutUcastPkts",
            if_out_multicast_pkts: u32 = "IfOutMulticastPkts",
            if_out_broadcast_pkts: u32 = "IfOutBroadcastPkts",
            if_out_discards: u32 = "IfOutDiscards",
            if_out_errors: u32 = "IfOutErrors",
            if_promiscuous_mode: u32 = "IfPromiscuousMode",
        });

        $cb!(
            /// Ethernet interface counters (format 2).
            EthernetCounters, 52, {
            dot3_stats_alignment_errors: u32 = "Dot3StatsAlignmentErrors",
            dot3_stats_fcs_errors: u32 = "Dot3StatsFCSErrors",
            dot3_stats_single_collision_frames: u32 = "Dot3StatsSingleCollisionFrames",
            dot3_stats_multiple_collision_frames: u32 = "Dot3StatsMultipleCollisionFrames",
            dot3_stats_sqe_test_errors: u32 = "Dot3StatsSQETestErrors",
            dot3_stats_deferred_transmissions: u32 = "Dot3StatsDeferredTransmissions",
            dot3_stats_late_collisions: u32 = "Dot3StatsLateCollisions",
            dot3_stats_excessive_collisions: u32 = "Dot3StatsExcessiveCollisions",
            dot3_stats_internal_mac_transmit_errors: u32 = "Dot3StatsInternalMacTransmitErrors",
            dot3_stats_carrier_sense_errors: u32 = "Dot3StatsCarrierSenseErrors",
            dot3_stats_frame_too_longs: u32 = "Dot3StatsFrameTooLongs",
            dot3_stats_internal_mac_receive_errors: u32 = "Dot3StatsInternalMacReceiveErrors",
            dot3_stats_symbol_errors: u32 = "Dot3StatsSymbolErrors",
        });

        $cb!(
            /// VLAN counters (format 5).
            VlanCounters, 28, {
            vlan_id: u32 = "VlanId",
            octets: u64 = "Octets",
            ucast_pkts: u32 = "UcastPkts",
            multicast_pkts: u32 = "MulticastPkts",
            broadcast_pkts: u32 = "BroadcastPkts",
            discards: u32 = "Discards",
        });

        $cb!(
            /// Processor information (format 1001); CPU in hundredths of a percent.
            ProcessorCounters, 28, {
            cpu5s: u32 = "Cpu5s",
            cpu1m: u32 = "Cpu1m",
            cpu5m: u32 = "Cpu5m",
            total_memory: u64 = "TotalMemory",
            free_memory: u64 = "FreeMemory",
        });
    };
}
pub(crate) use for_each_counter_struct;

/// Declares one counter struct of `for_each_counter_struct!` with its wire length and reader.
macro_rules! counter_struct {
    ($(#[$m:meta])* $name:ident, $len:literal, { $( $field:ident : $ty:ident = $key:literal, )* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name { $( pub $field: $ty, )* }

        impl $name {
            /// Bytes of the record body on the wire.
            pub const LEN: usize = $len;

            /// Reads the record body in wire order.
            pub fn read(c: &mut Cursor<'_>) -> Result<Self, Short> {
                Ok($name { $( $field: c.$ty()?, )* })
            }
        }
    };
}

for_each_counter_struct!(counter_struct);
