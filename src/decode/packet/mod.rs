//! Sampled packet headers (sFlow raw packet header; IPFIX / NetFlow v9 packet sections:
//! dataLinkFrameSection 315, layer2packetSectionData 104, ipHeaderPacketSection 313,
//! mplsLabelStackSection 316) parsed into a
//! [`FlowRecord`](crate::flow::FlowRecord), zero-copy over the captured bytes.
//!
//! Each fixed header is a typed view over borrowed bytes whose constructor checks the length
//! once (`new_checked`); after that no accessor can panic. The parser walks Ethernet, 802.1Q /
//! QinQ, LLC/SNAP, PPP and Cisco HDLC, MPLS, IPv4 (options, fragments), IPv6 (extension
//! headers incl. fragment and routing), GRE and IP-in-IP tunnels, then TCP, UDP, ICMP and
//! ICMPv6, with what exporters put in front of IP: MPLS stacks followed by IP or by an
//! Ethernet pseudowire (control word or none, RFC 4385/4448), IPv6 routing headers (SRv6),
//! VXLAN (UDP 4789) and Ethernet in IPv6 (143). A header cut anywhere (sFlow agents send the first 128 bytes or so) stops the walk
//! cleanly: every field read before the cut is kept, nothing after it is guessed.
//!
//! Where the fields go:
//! - The first IP header fills the main fields (addresses, proto, tos, ttl, fragment, flow
//!   label) and its transport header fills ports, TCP flags and ICMP type/code.
//! - A second IP header behind GRE, IP-in-IP or IPv6-in-IP fills the `*_encap` fields and
//!   sets `has_encap` (GoFlow v3 convention: the main fields describe the packet as the router
//!   forwarded it, the encap fields the packet inside the tunnel). Its transport header only
//!   shows in the layer stack, so ports never come from a different packet than `proto`.
//! - MACs and the ethertype come from the outermost Ethernet header; `vlan_id` from the outer
//!   802.1Q tag; MPLS labels from the first label stack.
//! - `layer_stack` / `layer_size` (goflow2) record every layer met, with the bytes of that
//!   layer present in the capture.
//!
//! `wire` holds the protocol numbers and the typed views of the fixed headers; `walk` the
//! walk over them, which uses `wire` and nothing else.

mod walk;
mod wire;

#[cfg(test)]
mod encap_tests;
#[cfg(test)]
pub(crate) mod tests;

pub use walk::{offsets, parse, parse_ethernet, parse_ip, Offsets, Parsed};
pub use wire::{ethertype, header_protocol, ipproto, mac, EthernetHeader, Ipv4Header, Ipv6Header};
