//! flowgen's send loop: one connected UDP socket per simulated exporter, datagrams built in
//! batches and sent with `sendmmsg`, paced to `--rate`, for `--count` datagrams or
//! `--duration`; the [`Report`] sums what the kernel accepted.
//!
//! A send error (ECONNREFUSED with nobody listening, ENOBUFS...) loses that batch's remaining
//! datagrams, counted in [`Report::errors`], and the run goes on; only a socket that cannot be
//! set up ends it early ([`run`] returns `Err`). Runs in the calling thread, so coreflow's
//! tests call it in-process, several at once.

use crate::cli::Args;
use crate::exporter::{Exporter, GenOptions, Sent};
use crate::send::SendBatch;
use socket2::{Domain, Protocol, Socket, Type};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What a run sent.
#[derive(Clone, Debug)]
pub struct Report {
    pub protocol: &'static str,
    pub exporters: usize,
    /// What the kernel accepted.
    pub sent: Sent,
    /// Built but not sent on purpose (`--skip-every`): the exporters' sequence numbers
    /// advanced over them.
    pub skipped: Sent,
    /// Datagrams built but not sent (a send error).
    pub errors: u64,
    /// The last send error, when there was one.
    pub last_error: Option<String>,
    pub seconds: f64,
}

impl fmt::Display for Report {
    /// The line flowgen prints on stdout: `flowgen: protocol=.. exporters=.. datagrams=..
    /// records=.. bytes=.. packets=.. wire_bytes=.. errors=.. seconds=.. datagrams_per_s=..
    /// records_per_s=..` (scripts and tests read it by key).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.sent;
        write!(
            f,
            "flowgen: protocol={} exporters={} datagrams={} records={} bytes={} packets={} \
             wire_bytes={} errors={} seconds={:.3} datagrams_per_s={:.0} records_per_s={:.0} \
             skipped={} skipped_records={}",
            self.protocol,
            self.exporters,
            s.datagrams,
            s.records,
            s.bytes,
            s.packets,
            s.wire_bytes,
            self.errors,
            self.seconds,
            s.datagrams as f64 / self.seconds.max(1e-9),
            s.records as f64 / self.seconds.max(1e-9),
            self.skipped.datagrams,
            self.skipped.records,
        )
    }
}

/// Source address of exporter `i` for `target`.
fn source_for(i: u32, target: SocketAddr) -> SocketAddr {
    match target.ip() {
        IpAddr::V4(t) if t.is_loopback() => {
            // 127.0.1.1, 127.0.1.2, ... 127.0.1.250, 127.0.2.1, ...
            let ip = Ipv4Addr::new(127, 0, (1 + i / 250) as u8, (1 + i % 250) as u8);
            SocketAddr::new(IpAddr::V4(ip), 0)
        }
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        IpAddr::V6(t) if t.is_loopback() => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Sends what `args` asks for and reports it. `Err`: an exporter's socket could not be set up
/// (the message flowgen prints after `flowgen: `); nothing was sent then.
pub fn run(args: &Args) -> Result<Report, String> {
    let target = args.target.unwrap_or_else(|| {
        SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            args.protocol.default_port(),
        )
    });
    let opts = GenOptions {
        protocol: args.protocol,
        records: args.records.unwrap_or(args.protocol.default_records()),
        template_every: args.template_every,
        sampling_rate: args.sampling_rate,
        seed: args.seed,
        first_sequence: args.first_sequence,
    };
    let count = match (args.count, args.duration) {
        (Some(c), _) => c,
        (None, Some(_)) => u64::MAX,
        (None, None) => 1000,
    };

    let mut socks = Vec::new();
    let mut exporters = Vec::new();
    let t0 = now_ns();
    for i in args.first_exporter..args.first_exporter + args.exporters {
        let src = source_for(i, target);
        let s = Socket::new(
            Domain::for_address(target),
            Type::DGRAM,
            Some(Protocol::UDP),
        )
        .and_then(|s| s.set_send_buffer_size(4 << 20).map(|_| s))
        .and_then(|s| s.bind(&src.into()).map(|_| s))
        .and_then(|s| s.connect(&target.into()).map(|_| s))
        .map_err(|e| format!("exporter {i}: cannot send from {src} to {target}: {e}"))?;
        let ip = s
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.ip())
            .unwrap_or(src.ip());
        exporters.push(Exporter::new(i, ip, opts, t0));
        socks.push(s);
    }

    let mut sender = SendBatch::new();
    let mut buf: Vec<u8> = Vec::with_capacity(args.batch * 4096);
    let mut ends: Vec<usize> = Vec::with_capacity(args.batch);
    let mut per: Vec<Sent> = Vec::with_capacity(args.batch);
    let mut total = Sent::default();
    let mut skipped = Sent::default();
    let mut attempted = 0u64;
    let mut errors = 0u64;
    let mut last_error: Option<String> = None;
    let start = Instant::now();
    let deadline = args.duration.map(|d| start + d);
    let mut e = 0usize;
    loop {
        let now = Instant::now();
        if attempted >= count || deadline.is_some_and(|d| now >= d) {
            break;
        }
        let room = if args.rate > 0.0 {
            let due = (now.duration_since(start).as_secs_f64() * args.rate) as u64 + 1;
            due.saturating_sub(attempted)
        } else {
            u64::MAX
        };
        if room == 0 {
            let next = start + Duration::from_secs_f64((attempted as f64) / args.rate);
            let wait = next.saturating_duration_since(now);
            std::thread::sleep(wait.clamp(Duration::from_micros(20), Duration::from_millis(5)));
            continue;
        }
        let k = (args.batch as u64).min(room).min(count - attempted) as usize;
        buf.clear();
        ends.clear();
        per.clear();
        let t = now_ns();
        for _ in 0..k {
            let at = buf.len();
            let s = if args.data_only {
                exporters[e].build(t, false, true, &mut buf)
            } else {
                exporters[e].datagram(t, &mut buf)
            };
            if args.skip_every > 0 && exporters[e].datagrams % args.skip_every == 0 {
                buf.truncate(at);
                skipped.add(&s);
                continue;
            }
            per.push(s);
            ends.push(buf.len());
        }
        attempted += k as u64;
        let k = per.len();
        let fd = socks[e].as_raw_fd();
        let mut done = 0;
        while done < k {
            let from = if done == 0 { 0 } else { ends[done - 1] };
            let rel: Vec<usize> = ends[done..].iter().map(|x| x - from).collect();
            match sender.send(fd, &buf[from..], &rel) {
                Ok(0) => break,
                Ok(m) => {
                    for s in &per[done..done + m] {
                        total.add(s);
                    }
                    done += m;
                }
                Err(err) => {
                    // ECONNREFUSED (nobody listening), ENOBUFS...: these datagrams are lost
                    errors += (k - done) as u64;
                    last_error = Some(err.to_string());
                    break;
                }
            }
        }
        e = (e + 1) % exporters.len();
    }
    Ok(Report {
        protocol: args.protocol.name(),
        exporters: exporters.len(),
        sent: total,
        skipped,
        errors,
        last_error,
        seconds: start.elapsed().as_secs_f64(),
    })
}
