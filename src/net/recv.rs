//! `recvmmsg` into buffers allocated once.
//!
//! A [`RecvBatch`] owns `n` receive buffers of `max_datagram + 1` bytes (one more than the
//! largest datagram accepted, so a larger one is seen as truncated), their source-address
//! slots, their control-message buffers and the `mmsghdr` array pointing at all of them.
//! Nothing is allocated after [`RecvBatch::new`], which also makes every page of the buffers
//! resident (fixed memory belongs in the start-up RSS). Each received datagram is read back
//! through [`RecvBatch::get`], which parses the source address and the control messages
//! (receive timestamp, drop counter) from plain bytes.

use super::{retry_eintr, SO_RXQ_OVFL, SO_TIMESTAMPNS};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Control buffer per datagram: room for SCM_TIMESTAMPNS (16 + 16) and SO_RXQ_OVFL (16 + 8),
/// with slack for options a future kernel adds.
const CTRL_WORDS: usize = 16;
const CTRL_LEN: usize = CTRL_WORDS * 8;
const STORAGE_LEN: usize = std::mem::size_of::<libc::sockaddr_storage>();

/// One received datagram, borrowed from the batch.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    pub src: SocketAddr,
    /// The payload (empty when `truncated`).
    pub data: &'a [u8],
    /// The datagram was larger than the buffer (MSG_TRUNC): never parse it.
    pub truncated: bool,
    /// Kernel receive time, ns since the Unix epoch (SO_TIMESTAMPNS).
    pub timestamp_ns: Option<u64>,
    /// The socket's cumulative drop counter when this datagram was queued (SO_RXQ_OVFL).
    pub drops: Option<u32>,
}

/// `len` zero bytes, every page of them resident. A large zeroed allocation comes straight from
/// the OS as untouched zero pages, which would be faulted in one by one as datagrams first land
/// in them: a burst would then grow the process (and take page faults on the hot path) long
/// after start. Touching each page here puts this fixed memory in the start-up RSS.
fn prefaulted(len: usize) -> Vec<u8> {
    const PAGE: usize = 4096;
    let mut v = vec![0u8; len];
    let p = v.as_mut_ptr();
    for off in (0..len).step_by(PAGE) {
        // Volatile: a plain store of 0 into memory known to be zeroed may be removed by the
        // optimizer, which would leave the page untouched.
        // SAFETY: `off < len`, so `p + off` is inside the allocation of `len` bytes `v` owns,
        // and `v` is not otherwise borrowed while `p` is used.
        unsafe { std::ptr::write_volatile(p.add(off), 0) };
    }
    v
}

/// Buffers and headers for one `recvmmsg` call of up to `n` datagrams.
pub struct RecvBatch {
    bufs: Vec<u8>,
    stride: usize,
    buf_len: usize,
    names: Vec<libc::sockaddr_storage>,
    ctrl: Vec<[u64; CTRL_WORDS]>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    /// Datagrams filled by the last call.
    len: usize,
}

impl RecvBatch {
    /// `n` buffers (at least 1) of `max_datagram + 1` bytes each.
    pub fn new(n: usize, max_datagram: usize) -> RecvBatch {
        let n = n.max(1);
        let buf_len = max_datagram + 1;
        // Round the stride up to a cache line, plus one line so consecutive buffers do not all
        // start at the same page offset (they would share L1 sets).
        let stride = buf_len.div_ceil(64) * 64 + 64;
        // SAFETY: sockaddr_storage is a plain C struct for which all-zero bytes are valid.
        let zero_name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut b = RecvBatch {
            bufs: prefaulted(n * stride),
            stride,
            buf_len,
            names: vec![zero_name; n],
            ctrl: vec![[0u64; CTRL_WORDS]; n],
            iovs: Vec::with_capacity(n),
            hdrs: Vec::with_capacity(n),
            len: 0,
        };
        for i in 0..n {
            b.iovs.push(libc::iovec {
                iov_base: b.bufs[i * stride..].as_mut_ptr().cast(),
                iov_len: buf_len,
            });
        }
        for i in 0..n {
            // SAFETY: mmsghdr is a plain C struct for which all-zero bytes are valid.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_name = (&mut b.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = STORAGE_LEN as libc::socklen_t;
            h.msg_hdr.msg_iov = &mut b.iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = b.ctrl[i].as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = CTRL_LEN as _;
            b.hdrs.push(h);
        }
        b
    }

    /// Capacity in datagrams.
    pub fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// Datagrams filled by the last successful [`recv`](Self::recv).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Receives up to `capacity` datagrams: blocks (up to the socket's SO_RCVTIMEO) for the
    /// first, then takes what is queued (MSG_WAITFORONE). `nonblocking` never waits (used to
    /// drain the queue at shutdown). A timeout is `ErrorKind::WouldBlock`.
    pub fn recv(&mut self, fd: RawFd, nonblocking: bool) -> io::Result<usize> {
        // The kernel overwrites the in/out lengths of the headers it filled last time.
        for h in &mut self.hdrs[..self.len] {
            h.msg_hdr.msg_namelen = STORAGE_LEN as libc::socklen_t;
            h.msg_hdr.msg_controllen = CTRL_LEN as _;
            h.msg_hdr.msg_flags = 0;
        }
        self.len = 0;
        let flags = libc::MSG_WAITFORONE | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
        let hdrs = self.hdrs.as_mut_ptr();
        let n = self.hdrs.len() as libc::c_uint;
        // SAFETY: every header points into buffers owned by `self` (iovecs, names, control
        // buffers) with the lengths they were allocated with; `self` is borrowed mutably for
        // the whole call so none of them can move or be read meanwhile; a null timeout is
        // allowed.
        let got = retry_eintr(|| unsafe {
            libc::recvmmsg(fd, hdrs, n, flags as _, std::ptr::null_mut())
        })?;
        self.len = got as usize;
        Ok(self.len)
    }

    /// The `i`-th datagram of the last call (`i < len()`).
    pub fn get(&self, i: usize) -> Datagram<'_> {
        let h = &self.hdrs[i];
        let truncated = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        let len = (h.msg_len as usize).min(self.buf_len);
        let data = if truncated {
            &[][..]
        } else {
            &self.bufs[i * self.stride..i * self.stride + len]
        };
        let name_len = (h.msg_hdr.msg_namelen as usize).min(STORAGE_LEN);
        let src = parse_sockaddr(&storage_bytes(&self.names[i])[..name_len])
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        // size_t on glibc, socklen_t on musl
        #[allow(clippy::unnecessary_cast)]
        let ctrl_len = (h.msg_hdr.msg_controllen as usize).min(CTRL_LEN);
        let (timestamp_ns, drops) = parse_cmsgs(&ctrl_bytes(&self.ctrl[i])[..ctrl_len]);
        Datagram {
            src,
            data,
            truncated,
            timestamp_ns,
            drops,
        }
    }
}

fn storage_bytes(s: &libc::sockaddr_storage) -> &[u8] {
    // SAFETY: sockaddr_storage is plain old data with no padding-sensitive invariants; any
    // byte of it may be read as u8, and the slice borrows `s` for its lifetime.
    unsafe { std::slice::from_raw_parts((s as *const libc::sockaddr_storage).cast(), STORAGE_LEN) }
}

fn ctrl_bytes(c: &[u64; CTRL_WORDS]) -> &[u8] {
    // SAFETY: a u64 array has no padding; reading it as bytes is always valid.
    unsafe { std::slice::from_raw_parts(c.as_ptr().cast(), CTRL_LEN) }
}

/// Parses a `sockaddr_in`/`sockaddr_in6` from its bytes (family in host order, port and
/// address in network order).
pub(crate) fn parse_sockaddr(b: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes(b.get(0..2)?.try_into().ok()?);
    let port = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?);
    match i32::from(family) {
        libc::AF_INET => {
            let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let flow = u32::from_be_bytes(b.get(4..8)?.try_into().ok()?);
            let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            let scope = u32::from_ne_bytes(b.get(24..28)?.try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            )))
        }
        _ => None,
    }
}

const HDR: usize = std::mem::size_of::<libc::cmsghdr>();
const ALIGN: usize = std::mem::size_of::<usize>();

/// Walks the control messages (`cmsghdr` = len: usize, level: i32, type: i32, data aligned
/// to usize) and returns (receive time in ns, cumulative drop counter).
pub(crate) fn parse_cmsgs(b: &[u8]) -> (Option<u64>, Option<u32>) {
    let (mut ts, mut drops) = (None, None);
    let mut off = 0usize;
    while let Some(h) = b.get(off..off + HDR) {
        let len = usize::from_ne_bytes(h[..ALIGN].try_into().expect("usize width"));
        let level = i32::from_ne_bytes(h[ALIGN..ALIGN + 4].try_into().expect("4 bytes"));
        let kind = i32::from_ne_bytes(h[ALIGN + 4..ALIGN + 8].try_into().expect("4 bytes"));
        if len < HDR {
            break;
        }
        let Some(data) = b.get(off + HDR..off + len) else {
            break;
        };
        if level == libc::SOL_SOCKET {
            if kind == SO_TIMESTAMPNS && data.len() >= 16 {
                let sec = i64::from_ne_bytes(data[..8].try_into().expect("8 bytes"));
                let nsec = i64::from_ne_bytes(data[8..16].try_into().expect("8 bytes"));
                if sec >= 0 && (0..1_000_000_000).contains(&nsec) {
                    ts = Some(sec as u64 * 1_000_000_000 + nsec as u64);
                }
            } else if kind == SO_RXQ_OVFL && data.len() >= 4 {
                drops = Some(u32::from_ne_bytes(data[..4].try_into().expect("4 bytes")));
            }
        }
        off = match off.checked_add(len.div_ceil(ALIGN) * ALIGN) {
            Some(o) => o,
            None => break,
        };
    }
    (ts, drops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::socket::{open_group, BindAddr, GroupSpec};
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    #[test]
    fn receives_batch_with_timestamps_and_truncation() {
        let (socks, info) = open_group(&GroupSpec {
            addr: BindAddr::Ip("127.0.0.1".parse().unwrap()),
            port: 0,
            sockets: 1,
            reuseport: false,
            rcvbuf: 0,
            timeout: Duration::from_millis(100),
            timestamps: true,
        })
        .unwrap();
        let dst = info.local.unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"hello", dst).unwrap();
        tx.send_to(&[7u8; 100], dst).unwrap(); // larger than the 64-byte limit below
        tx.send_to(&[1u8; 64], dst).unwrap(); // exactly the limit
        let mut rb = RecvBatch::new(8, 64);
        let fd = socks[0].as_raw_fd();
        let mut got = Vec::new();
        while got.len() < 3 {
            let n = rb.recv(fd, false).unwrap();
            for i in 0..n {
                let d = rb.get(i);
                got.push((d.data.to_vec(), d.truncated, d.timestamp_ns, d.drops, d.src));
            }
        }
        assert_eq!(got[0].0, b"hello");
        assert!(!got[0].1 && got[1].1 && !got[2].1);
        assert_eq!(got[2].0.len(), 64);
        assert!(got[0].2.unwrap() > 1_600_000_000_000_000_000);
        // the drop counter is only attached once the socket has dropped something
        assert_eq!(got[0].3.unwrap_or(0), 0);
        assert_eq!(got[0].4, tx.local_addr().unwrap());
        // nothing left: a timeout is WouldBlock, a nonblocking call too
        let e = rb.recv(fd, false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let e = rb.recv(fd, true).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn cmsg_parser_is_bounded() {
        // garbage of every length never panics
        let junk: Vec<u8> = (0..200u32).map(|i| (i * 37) as u8).collect();
        for n in 0..junk.len() {
            let _ = parse_cmsgs(&junk[..n]);
            let _ = parse_sockaddr(&junk[..n]);
        }
        // a zero-length header stops the walk
        assert_eq!(parse_cmsgs(&[0u8; 64]), (None, None));
    }
}
