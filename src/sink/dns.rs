//! A tiny DNS client for one job: the SRV record of `-kafka.out.srv` (GoFlow's
//! `net.LookupSRV("", "", name)`), asked over UDP of the first `nameserver` in
//! `/etc/resolv.conf`, or of `COREFLOW_RESOLVER` (`ip:port`) when set. Runs once at start-up.
//! Answers are parsed with bounds checks; compression pointers are followed a bounded number
//! of times.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One SRV target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvTarget {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// Without the trailing dot.
    pub target: String,
}

impl SrvTarget {
    /// `host:port`, with brackets around an IPv6 literal.
    pub fn host_port(&self) -> String {
        match self.target.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]:{}", self.target, self.port),
            _ => format!("{}:{}", self.target, self.port),
        }
    }
}

/// The resolver to ask: `COREFLOW_RESOLVER` (`ip:port` or `ip`), else the first nameserver
/// of `/etc/resolv.conf`.
pub fn resolver() -> io::Result<SocketAddr> {
    if let Ok(v) = std::env::var("COREFLOW_RESOLVER") {
        return parse_server(&v).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("COREFLOW_RESOLVER={v:?} is not ip[:port]"),
            )
        });
    }
    let text = std::fs::read_to_string("/etc/resolv.conf")?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .find_map(|s| parse_server(s.trim()))
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no nameserver in /etc/resolv.conf"))
}

fn parse_server(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

const TYPE_SRV: u16 = 33;

/// Builds the query for `name` (type SRV, class IN, recursion desired).
pub fn query(id: u16, name: &str) -> io::Result<Vec<u8>> {
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is not a DNS name"),
            ));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&TYPE_SRV.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Ok(q)
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad DNS answer: {msg}"))
}

fn u16_at(m: &[u8], at: usize) -> io::Result<u16> {
    m.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| bad("short"))
}

/// Reads a (possibly compressed) name at `at`; returns it and the offset after it in place.
fn read_name(m: &[u8], mut at: usize) -> io::Result<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    for _ in 0..64 {
        let len = *m.get(at).ok_or_else(|| bad("short name"))? as usize;
        match len {
            0 => {
                return Ok((name, end.unwrap_or(at + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let ptr = (u16_at(m, at)? & 0x3fff) as usize;
                end.get_or_insert(at + 2);
                at = ptr;
            }
            l if l < 64 => {
                let label = m
                    .get(at + 1..at + 1 + l)
                    .ok_or_else(|| bad("short label"))?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(label));
                at += 1 + l;
            }
            _ => return Err(bad("label type")),
        }
    }
    Err(bad("name too long or looping"))
}

/// Parses the SRV answers of a response to query `id`, sorted by priority, then weight
/// (highest first).
pub fn parse_response(id: u16, m: &[u8]) -> io::Result<Vec<SrvTarget>> {
    if u16_at(m, 0)? != id {
        return Err(bad("id mismatch"));
    }
    let flags = u16_at(m, 2)?;
    if flags & 0x8000 == 0 {
        return Err(bad("not a response"));
    }
    match flags & 0x000f {
        0 => {}
        3 => {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no such name (NXDOMAIN)",
            ))
        }
        rc => return Err(io::Error::other(format!("DNS error rcode {rc}"))),
    }
    let (qd, an) = (u16_at(m, 4)?, u16_at(m, 6)?);
    let mut at = 12;
    for _ in 0..qd {
        at = read_name(m, at)?.1 + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        at = read_name(m, at)?.1;
        let rtype = u16_at(m, at)?;
        let rdlen = u16_at(m, at + 8)? as usize;
        let rdata = at + 10;
        if m.len() < rdata + rdlen {
            return Err(bad("short record"));
        }
        if rtype == TYPE_SRV && rdlen >= 7 {
            out.push(SrvTarget {
                priority: u16_at(m, rdata)?,
                weight: u16_at(m, rdata + 2)?,
                port: u16_at(m, rdata + 4)?,
                target: read_name(m, rdata + 6)?.0,
            });
        }
        at = rdata + rdlen;
    }
    if out.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no SRV records"));
    }
    out.sort_by(|a, b| a.priority.cmp(&b.priority).then(b.weight.cmp(&a.weight)));
    Ok(out)
}

/// Asks `server` for the SRV records of `name` (3 tries of `timeout` each).
pub fn resolve_srv(
    name: &str,
    server: SocketAddr,
    timeout: Duration,
) -> io::Result<Vec<SrvTarget>> {
    let id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u16 ^ std::process::id() as u16)
        .unwrap_or(0x5a5a);
    let q = query(id, name)?;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let sock = UdpSocket::bind(bind)?;
    sock.connect(server)?;
    sock.set_read_timeout(Some(timeout))?;
    let mut buf = [0u8; 4096];
    let mut last = io::Error::new(io::ErrorKind::TimedOut, "no answer");
    for _ in 0..3 {
        sock.send(&q)?;
        loop {
            match sock.recv(&mut buf) {
                // a stray datagram with another id: keep waiting for ours
                Ok(n) if u16_at(&buf[..n], 0).ok() != Some(id) => continue,
                Ok(n) => return parse_response(id, &buf[..n]),
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response with the question and two SRV answers, the second target compressed.
    fn response(id: u16) -> Vec<u8> {
        let mut m = query(id, "_kafka._tcp.example.com").unwrap();
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = 2; // ANCOUNT
        for (prio, port, target) in [
            (20u16, 9093u16, &b"\x02k2\xc0\x18"[..]),
            (10, 9092, b"\x0210\x010\x010\x011\x00"),
        ] {
            m.extend_from_slice(&[0xc0, 12]); // name -> question
            m.extend_from_slice(&TYPE_SRV.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            m.extend_from_slice(&((6 + target.len()) as u16).to_be_bytes());
            m.extend_from_slice(&prio.to_be_bytes());
            m.extend_from_slice(&5u16.to_be_bytes());
            m.extend_from_slice(&port.to_be_bytes());
            m.extend_from_slice(target);
        }
        m
    }

    #[test]
    fn parses_srv_answers() {
        let m = response(7);
        let t = parse_response(7, &m).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].host_port(), "10.0.0.1:9092");
        // offset 0x18 = 24: "example.com" inside the question
        assert_eq!(t[1].host_port(), "k2.example.com:9093");
        assert!(parse_response(8, &m).is_err());
        for n in 0..m.len() {
            assert!(parse_response(7, &m[..n]).is_err());
        }
    }

    #[test]
    fn names_and_servers() {
        assert!(query(1, "a..b").is_err());
        assert_eq!(
            parse_server("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_server("::1"), Some("[::1]:53".parse().unwrap()));
        let t = SrvTarget {
            priority: 0,
            weight: 0,
            port: 1,
            target: "::1".into(),
        };
        assert_eq!(t.host_port(), "[::1]:1");
    }
}
