//! Exporter allowlists: the CIDR prefixes a listener accepts datagrams from.
//!
//! Parsed once from the configuration (`allow = ["10.0.0.0/8", "2001:db8::/32"]`), checked by
//! the worker for every datagram before it is decoded. An empty list allows every source.
//! IPv4-mapped IPv6 sources (`::ffff:10.1.2.3`, what a dual-stack socket reports) match IPv4
//! prefixes. Addresses are compared as 128-bit integers (IPv4 in the mapped range), so a
//! check is a few masks and compares, no allocation.

use std::net::IpAddr;

/// One prefix: `net` is already masked; IPv4 prefixes live in the IPv4-mapped range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: u128,
    mask: u128,
    /// As written: the address family and the prefix length (for display).
    v4: bool,
    len: u8,
}

const V4_MAPPED: u128 = 0xffff << 32;

fn key(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(a) => V4_MAPPED | u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl Cidr {
    /// Parses `addr/len` or a bare address (a host prefix).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let t = s.trim();
        let (a, l) = match t.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (t, None),
        };
        let ip: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not a CIDR prefix (e.g. \"10.0.0.0/8\")"))?;
        let (v4, max) = match ip {
            IpAddr::V4(_) => (true, 32u8),
            IpAddr::V6(_) => (false, 128u8),
        };
        let len = match l {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max && !l.starts_with('+') => n,
                _ => return Err(format!("{s:?}: prefix length must be 0 to {max}")),
            },
        };
        // the mask over the 128-bit key: IPv4 prefixes also fix the 96 mapped bits
        let bits = u32::from(len) + if v4 { 96 } else { 0 };
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - bits)
        };
        let k = key(ip);
        if k & !mask != 0 {
            return Err(format!(
                "{s:?} has host bits set (did you mean {}?)",
                Cidr {
                    net: k & mask,
                    mask,
                    v4,
                    len
                }
            ));
        }
        Ok(Cidr {
            net: k,
            mask,
            v4,
            len,
        })
    }

    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        key(ip) & self.mask == self.net
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.v4 {
            let a = std::net::Ipv4Addr::from(self.net as u32);
            write!(f, "{a}/{}", self.len)
        } else {
            write!(f, "{}/{}", std::net::Ipv6Addr::from(self.net), self.len)
        }
    }
}

/// A listener's allowlist; empty allows everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList(Vec<Cidr>);

impl AllowList {
    /// Parses every prefix; the error names the first bad one.
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<AllowList, String> {
        list.iter()
            .map(|s| Cidr::parse(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(AllowList)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether datagrams from `ip` are accepted.
    #[inline]
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.0.is_empty() || self.0.iter().any(|c| c.contains(ip))
    }

    /// The prefixes as configured (canonical text).
    pub fn texts(&self) -> Vec<String> {
        self.0.iter().map(|c| c.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_match() {
        let a = AllowList::parse(&["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]).unwrap();
        assert!(a.allows(ip("10.1.2.3")));
        assert!(a.allows(ip("::ffff:10.1.2.3")));
        assert!(!a.allows(ip("11.0.0.1")));
        assert!(a.allows(ip("2001:db8:1::5")));
        assert!(!a.allows(ip("2001:db9::1")));
        assert!(a.allows(ip("192.0.2.7")));
        assert!(!a.allows(ip("192.0.2.8")));
        // an IPv4 prefix does not match an IPv6 address that merely shares low bits
        assert!(!a.allows(ip("::10.1.2.3")));
        assert_eq!(a.texts(), ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]);
        assert!(AllowList::default().allows(ip("1.2.3.4")));
        let all = AllowList::parse(&["0.0.0.0/0"]).unwrap();
        assert!(all.allows(ip("8.8.8.8")) && !all.allows(ip("::1")));
        let all6 = AllowList::parse(&["::/0"]).unwrap();
        assert!(all6.allows(ip("8.8.8.8")) && all6.allows(ip("::1")));
        let mapped = AllowList::parse(&["::ffff:10.0.0.0/104"]).unwrap();
        assert!(mapped.allows(ip("10.9.9.9")));
    }

    #[test]
    fn errors() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0.1/8",
            "nonsense",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "::/129",
            "",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(Cidr::parse("10.0.0.1/8")
            .unwrap_err()
            .contains("10.0.0.0/8"));
    }
}
