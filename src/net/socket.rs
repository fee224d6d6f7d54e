//! Listener sockets: N UDP sockets in one SO_REUSEPORT group, steered by exporter address.
//!
//! Plain SO_REUSEPORT hashes the 4-tuple, so an exporter that changes its source port would
//! move to another socket (another worker, without its templates). A classic BPF program
//! attached to the group (SO_ATTACH_REUSEPORT_CBPF) instead returns a socket index computed
//! from the source address only; [`steer_index`] is the same function in Rust.

use super::{retry_eintr, set_int_opt, SO_ATTACH_REUSEPORT_CBPF, SO_RCVBUFFORCE};
use super::{SO_RXQ_OVFL, SO_TIMESTAMPNS};
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Where a listener binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindAddr {
    /// Every IPv4 and IPv6 address: one dual-stack `[::]` group (IPv4 exporters arrive as
    /// v4-mapped addresses), or `0.0.0.0` where the host has no IPv6.
    Any,
    /// One address (IPv4 or IPv6; `::` is dual-stack as in Go, `0.0.0.0` is IPv4 only).
    Ip(IpAddr),
}

/// What one listener asks of its sockets.
#[derive(Clone, Debug)]
pub struct GroupSpec {
    pub addr: BindAddr,
    pub port: u16,
    /// Sockets in the group (one worker each).
    pub sockets: usize,
    /// Set SO_REUSEPORT even for a single socket (GoFlow's `-freuse`: other processes may
    /// share the port).
    pub reuseport: bool,
    /// Requested receive buffer in bytes (0 leaves the kernel default).
    pub rcvbuf: usize,
    /// Receive timeout so a blocked worker notices shutdown and flushes old batches.
    pub timeout: Duration,
    /// Ask for SO_TIMESTAMPNS receive timestamps.
    pub timestamps: bool,
}

/// What the kernel granted, for the start-up log.
#[derive(Clone, Debug, Default)]
pub struct GroupInfo {
    pub local: Option<SocketAddr>,
    /// Effective receive buffer (as reported by the kernel, which doubles the request).
    pub rcvbuf: usize,
    pub rcvbuf_forced: bool,
    pub steering: bool,
    pub timestamps: bool,
    pub overflow_counter: bool,
    /// Options that could not be set, for a warning.
    pub degraded: Vec<String>,
}

/// Opens and binds the group. The first socket binds (port 0 picks a free port, which the
/// others then join); the steering program is attached once every socket is bound, so
/// socket `i` of the result is index `i` of the group.
pub fn open_group(spec: &GroupSpec) -> io::Result<(Vec<Socket>, GroupInfo)> {
    let mut info = GroupInfo::default();
    let (domain, ip, dual) = match spec.addr {
        BindAddr::Any => match Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)) {
            Ok(_) => (Domain::IPV6, IpAddr::V6(Ipv6Addr::UNSPECIFIED), true),
            Err(_) => {
                info.degraded
                    .push("no IPv6 on this host: listening on IPv4 only".into());
                (Domain::IPV4, IpAddr::V4(Ipv4Addr::UNSPECIFIED), false)
            }
        },
        BindAddr::Ip(ip @ IpAddr::V4(_)) => (Domain::IPV4, ip, false),
        BindAddr::Ip(ip @ IpAddr::V6(v6)) => (Domain::IPV6, ip, v6.is_unspecified()),
    };
    let n = spec.sockets.max(1);
    let reuse = n > 1 || spec.reuseport;
    let mut port = spec.port;
    let mut socks = Vec::with_capacity(n);
    for i in 0..n {
        let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        if domain == Domain::IPV6 {
            // Best effort: a host with bindv6only=1 still gets its IPv6 exporters.
            if let Err(e) = s.set_only_v6(!dual) {
                if i == 0 {
                    info.degraded.push(format!("IPV6_V6ONLY: {e}"));
                }
            }
        }
        if reuse {
            s.set_reuse_port(true)?;
        }
        let (granted, forced) = set_rcvbuf(&s, spec.rcvbuf);
        info.rcvbuf = granted;
        info.rcvbuf_forced = forced;
        s.set_read_timeout(Some(spec.timeout.max(Duration::from_millis(1))))?;
        let fd = s.as_raw_fd();
        info.overflow_counter = set_int_opt(fd, SO_RXQ_OVFL, 1).is_ok();
        info.timestamps = spec.timestamps && set_int_opt(fd, SO_TIMESTAMPNS, 1).is_ok();
        s.bind(&SocketAddr::new(ip, port).into())?;
        if i == 0 {
            let local = s.local_addr()?.as_socket();
            port = local.map(|a| a.port()).unwrap_or(port);
            info.local = local;
        }
        socks.push(s);
    }
    if !info.overflow_counter {
        info.degraded
            .push("SO_RXQ_OVFL unavailable: kernel drops are read at exit only".into());
    }
    if spec.timestamps && !info.timestamps {
        info.degraded
            .push("SO_TIMESTAMPNS unavailable: receive time from the clock".into());
    }
    if n > 1 {
        match attach_steering(&socks[0], n as u32) {
            Ok(()) => info.steering = true,
            Err(e) => info.degraded.push(format!(
                "SO_ATTACH_REUSEPORT_CBPF: {e}: exporters are spread by 4-tuple hash, \
                 templates may miss after a source port change"
            )),
        }
    }
    if spec.rcvbuf > 0 && info.rcvbuf < spec.rcvbuf {
        info.degraded.push(format!(
            "receive buffer {} bytes granted of {} asked (raise net.core.rmem_max or run \
             with CAP_NET_ADMIN)",
            info.rcvbuf, spec.rcvbuf
        ));
    }
    Ok((socks, info))
}

/// SO_RCVBUFFORCE (needs CAP_NET_ADMIN, ignores rmem_max), else SO_RCVBUF (capped by
/// rmem_max). Returns the effective size and whether FORCE worked. The kernel doubles the
/// value it stores (bookkeeping overhead); the request is halved so the result is `bytes`.
fn set_rcvbuf(s: &Socket, bytes: usize) -> (usize, bool) {
    let mut forced = false;
    if bytes > 0 {
        let half = (bytes / 2).min(i32::MAX as usize) as libc::c_int;
        forced = set_int_opt(s.as_raw_fd(), SO_RCVBUFFORCE, half).is_ok();
        if !forced {
            let _ = s.set_recv_buffer_size(bytes / 2);
        }
    }
    (s.recv_buffer_size().unwrap_or(0), forced)
}

/// The socket index the steering program picks for a datagram from `ip`, out of `n`.
/// IPv4 (and v4-mapped IPv6) hashes the 32-bit address; IPv6 the XOR of its four words.
pub fn steer_index(ip: IpAddr, n: u32) -> u32 {
    if n <= 1 {
        return 0;
    }
    let a = match ip.to_canonical() {
        IpAddr::V4(v4) => u32::from(v4),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            (0..4)
                .map(|i| u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]]))
                .fold(0, |acc, w| acc ^ w)
        }
    };
    mix(a) % n
}

#[inline]
fn mix(a: u32) -> u32 {
    (a ^ (a >> 16)).wrapping_mul(STEER_MUL) >> 16
}

const STEER_MUL: u32 = 0x9E37_79B1;

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const BPF_LD: u16 = 0x00;
const BPF_ALU: u16 = 0x04;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_MISC: u16 = 0x07;
const BPF_W: u16 = 0x00;
const BPF_B: u16 = 0x10;
const BPF_ABS: u16 = 0x20;
const BPF_K: u16 = 0x00;
const BPF_X: u16 = 0x08;
const BPF_A: u16 = 0x10;
const BPF_MUL: u16 = 0x20;
const BPF_RSH: u16 = 0x70;
const BPF_MOD: u16 = 0x90;
const BPF_XOR: u16 = 0xa0;
const BPF_JA: u16 = 0x00;
const BPF_JEQ: u16 = 0x10;
const BPF_TAX: u16 = 0x00;
/// Loads relative to the network header (the program runs with data at the UDP payload).
const SKF_NET_OFF: i32 = -0x10_0000;

const fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

const fn net(off: i32) -> u32 {
    (SKF_NET_OFF + off) as u32
}

/// The steering program for `n` sockets: [`steer_index`] over the IP header's source.
pub(crate) fn steering_program(n: u32) -> Vec<libc::sock_filter> {
    vec![
        /* 0 */ stmt(BPF_LD | BPF_B | BPF_ABS, net(0)), // A = version/IHL byte
        /* 1 */ stmt(BPF_ALU | BPF_RSH | BPF_K, 4), // A = IP version
        /* 2 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 6, 2, 0), // IPv6 -> 5
        /* 3 */ stmt(BPF_LD | BPF_W | BPF_ABS, net(12)), // IPv4 source
        /* 4 */ jump(BPF_JMP | BPF_JA, 10, 0, 0), // -> 15
        /* 5 */ stmt(BPF_LD | BPF_W | BPF_ABS, net(8)), // IPv6 source: fold 4 words
        /* 6 */ stmt(BPF_MISC | BPF_TAX, 0),
        /* 7 */ stmt(BPF_LD | BPF_W | BPF_ABS, net(12)),
        /* 8 */ stmt(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 9 */ stmt(BPF_MISC | BPF_TAX, 0),
        /* 10 */ stmt(BPF_LD | BPF_W | BPF_ABS, net(16)),
        /* 11 */ stmt(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 12 */ stmt(BPF_MISC | BPF_TAX, 0),
        /* 13 */ stmt(BPF_LD | BPF_W | BPF_ABS, net(20)),
        /* 14 */ stmt(BPF_ALU | BPF_XOR | BPF_X, 0),
        /* 15 */ stmt(BPF_MISC | BPF_TAX, 0), // mix: X = a
        /* 16 */ stmt(BPF_ALU | BPF_RSH | BPF_K, 16),
        /* 17 */ stmt(BPF_ALU | BPF_XOR | BPF_X, 0), // A = a ^ (a >> 16)
        /* 18 */ stmt(BPF_ALU | BPF_MUL | BPF_K, STEER_MUL),
        /* 19 */ stmt(BPF_ALU | BPF_RSH | BPF_K, 16),
        /* 20 */ stmt(BPF_ALU | BPF_MOD | BPF_K, n),
        /* 21 */
        stmt(BPF_RET | BPF_A, 0), // an index >= n falls back to the kernel's hash
    ]
}

fn attach_steering(s: &Socket, n: u32) -> io::Result<()> {
    let mut prog = steering_program(n);
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    let fd = s.as_raw_fd();
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel copies the
    // program during setsockopt and validates it (an invalid program is EINVAL).
    retry_eintr(|| unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    fn spec(addr: &str, n: usize) -> GroupSpec {
        GroupSpec {
            addr: BindAddr::Ip(addr.parse().unwrap()),
            port: 0,
            sockets: n,
            reuseport: false,
            rcvbuf: 1 << 20,
            timeout: Duration::from_millis(200),
            timestamps: true,
        }
    }

    /// Every datagram of one source address lands on the socket `steer_index` names, whatever
    /// its source port: the CBPF program and the Rust function agree.
    fn check_steering(bind: &str, sources: &[&str]) {
        let n = 3;
        let (socks, info) = open_group(&spec(bind, n)).unwrap();
        assert!(info.steering, "{:?}", info.degraded);
        let dst = info.local.unwrap();
        let mut expect = vec![0usize; n];
        for (k, src) in sources.iter().enumerate() {
            let ip: IpAddr = src.parse().unwrap();
            // four source ports per address
            let to = match ip {
                IpAddr::V4(_) => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), dst.port()),
                IpAddr::V6(_) => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), dst.port()),
            };
            for p in 0..4 {
                let tx = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
                tx.send_to(&[k as u8, p], to).unwrap();
            }
            expect[steer_index(ip, n as u32) as usize] += 4;
        }
        for (i, s) in socks.iter().enumerate() {
            s.set_nonblocking(true).unwrap();
            let u: UdpSocket = s.try_clone().unwrap().into();
            let mut got = 0;
            let mut buf = [0u8; 16];
            while let Ok((_, from)) = u.recv_from(&mut buf) {
                assert_eq!(steer_index(from.ip(), n as u32) as usize, i, "{from}");
                assert!(sources.contains(&from.ip().to_canonical().to_string().as_str()));
                got += 1;
            }
            assert_eq!(got, expect[i], "socket {i}");
        }
    }

    #[test]
    fn steers_ipv4_by_source_address() {
        let srcs: Vec<String> = (1..=12).map(|i| format!("127.0.3.{i}")).collect();
        let srcs: Vec<&str> = srcs.iter().map(String::as_str).collect();
        check_steering("127.0.0.1", &srcs);
    }

    #[test]
    fn steers_dual_stack() {
        // IPv4 exporters on a dual-stack socket (IPv4 header) and ::1 (IPv6 header)
        check_steering("::", &["127.0.4.1", "127.0.4.2", "127.0.4.3", "::1"]);
    }

    #[test]
    fn hash_spreads() {
        let mut per = [0u32; 4];
        for i in 0..256u32 {
            per[steer_index(IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + 2 * i)), 4) as usize] += 1;
        }
        assert!(per.iter().all(|&c| c > 40), "{per:?}");
    }
}
