//! flowgen: sends NetFlow v5, v9, IPFIX or sFlow v5 datagrams at a target rate, from many
//! simulated exporters, and prints what it sent (datagrams, records, byte and packet sums) so
//! the output of a collector can be checked against it.

use coreflow::flowgen::{Exporter, GenOptions, GenProtocol, Sent};
use coreflow::net::send::SendBatch;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HELP: &str = "\
flowgen - NetFlow v5/v9, IPFIX and sFlow v5 load generator

USAGE
    flowgen [--protocol v5|v9|ipfix|sflow] [--target ADDR:PORT] [--rate PPS]
            [--count N | --duration SECS] [--exporters N] [--records N] [OPTIONS]

    --protocol P         v5, v9, ipfix or sflow (v5)
    --target ADDR:PORT   where to send (127.0.0.1:2055; :6343 for sflow)
    --rate PPS           datagrams per second, 0 = as fast as possible (0)
    --count N            datagrams to send in all (1000 unless --duration is given)
    --duration SECS      send for this long (may be fractional)
    --exporters N        simulated exporters, each with its own socket: distinct source
                         addresses 127.0.1.1, 127.0.1.2, ... when the target is IPv4
                         loopback, distinct source ports otherwise (1)
    --first-exporter K   number the exporters from K (their addresses, ids and flows), so
                         several flowgen processes can simulate distinct exporters (0)
    --records N          flow records per datagram; sFlow: flow samples (30; sflow 8)
    --template-every K   v9/IPFIX: resend templates and sampling options every K
                         datagrams of an exporter, 0 = first datagram only (100)
    --sampling-rate R    sampling rate announced (v5 header, v9/IPFIX options, sFlow) (1000)
    --seed S             seed of the flow contents (1)
    --batch B            datagrams per sendmmsg call (32)
    -h, --help           this text

OUTPUT
    One line on stdout: protocol, exporters, datagrams, records, bytes and packets (sums of
    the flows' counters, as a collector reports them), wire bytes, send errors, seconds and
    the achieved rates. Sequence numbers follow each protocol (v5: flows, v9: datagrams,
    IPFIX: data records, sFlow: datagrams and samples) so a collector can measure loss.";

struct Args {
    protocol: GenProtocol,
    target: Option<SocketAddr>,
    rate: f64,
    count: Option<u64>,
    duration: Option<Duration>,
    exporters: u32,
    first: u32,
    records: Option<usize>,
    template_every: u64,
    sampling_rate: u32,
    seed: u64,
    batch: usize,
}

fn parse(argv: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args {
        protocol: GenProtocol::V5,
        target: None,
        rate: 0.0,
        count: None,
        duration: None,
        exporters: 1,
        first: 0,
        records: None,
        template_every: 100,
        sampling_rate: 1000,
        seed: 1,
        batch: 32,
    };
    let mut i = 0;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        let body = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .ok_or_else(|| format!("unexpected argument {arg:?}"))?;
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if name == "h" || name == "help" {
            return Ok(None);
        }
        let val = match inline {
            Some(v) => v,
            None => {
                i += 1;
                argv.get(i - 1)
                    .cloned()
                    .ok_or_else(|| format!("--{name} needs a value"))?
            }
        };
        let bad = |what: &str| format!("--{name}: {val:?} is not {what}");
        match name {
            "protocol" => {
                a.protocol =
                    GenProtocol::parse(&val).ok_or_else(|| bad("v5, v9, ipfix or sflow"))?
            }
            "target" => {
                a.target = Some(
                    val.parse()
                        .map_err(|_| bad("ADDR:PORT (e.g. 127.0.0.1:2055, [::1]:2055)"))?,
                )
            }
            "rate" => {
                a.rate = val
                    .parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r >= 0.0)
                    .ok_or_else(|| bad("a rate >= 0"))?
            }
            "count" => a.count = Some(val.parse().map_err(|_| bad("a count"))?),
            "duration" => {
                let s = val
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e7)
                    .ok_or_else(|| bad("a number of seconds"))?;
                a.duration = Some(Duration::from_secs_f64(s));
            }
            "exporters" => {
                a.exporters = val
                    .parse()
                    .ok()
                    .filter(|n| (1..=60_000).contains(n))
                    .ok_or_else(|| bad("1 to 60000"))?
            }
            "first-exporter" => {
                a.first = val
                    .parse()
                    .ok()
                    .filter(|n| *n < 60_000)
                    .ok_or_else(|| bad("0 to 59999"))?
            }
            "records" => {
                a.records = Some(
                    val.parse()
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| bad("a count >= 1"))?,
                )
            }
            "template-every" => a.template_every = val.parse().map_err(|_| bad("a count"))?,
            "sampling-rate" => a.sampling_rate = val.parse().map_err(|_| bad("a rate"))?,
            "seed" => a.seed = val.parse().map_err(|_| bad("an integer"))?,
            "batch" => {
                a.batch = val
                    .parse()
                    .ok()
                    .filter(|n| (1..=1024).contains(n))
                    .ok_or_else(|| bad("1 to 1024"))?
            }
            _ => return Err(format!("unknown option --{name} (see --help)")),
        }
    }
    if a.first + a.exporters > 60_000 {
        return Err("--first-exporter + --exporters: at most 60000 exporters".into());
    }
    if let Some(r) = a.records {
        if r > a.protocol.max_records() {
            return Err(format!(
                "--records: at most {} for {} (one datagram)",
                a.protocol.max_records(),
                a.protocol.name()
            ));
        }
    }
    Ok(Some(a))
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

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&argv) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("flowgen: {e}");
            return ExitCode::from(2);
        }
    };
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
    };
    let count = match (args.count, args.duration) {
        (Some(c), _) => c,
        (None, Some(_)) => u64::MAX,
        (None, None) => 1000,
    };

    let mut socks = Vec::new();
    let mut exporters = Vec::new();
    let t0 = now_ns();
    for i in args.first..args.first + args.exporters {
        let src = source_for(i, target);
        let s = match Socket::new(
            Domain::for_address(target),
            Type::DGRAM,
            Some(Protocol::UDP),
        )
        .and_then(|s| s.set_send_buffer_size(4 << 20).map(|_| s))
        .and_then(|s| s.bind(&src.into()).map(|_| s))
        .and_then(|s| s.connect(&target.into()).map(|_| s))
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("flowgen: exporter {i}: cannot send from {src} to {target}: {e}");
                return ExitCode::FAILURE;
            }
        };
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
            per.push(exporters[e].datagram(t, &mut buf));
            ends.push(buf.len());
        }
        attempted += k as u64;
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
    let secs = start.elapsed().as_secs_f64();
    println!(
        "flowgen: protocol={} exporters={} datagrams={} records={} bytes={} packets={} \
         wire_bytes={} errors={} seconds={:.3} datagrams_per_s={:.0} records_per_s={:.0}",
        args.protocol.name(),
        exporters.len(),
        total.datagrams,
        total.records,
        total.bytes,
        total.packets,
        total.wire_bytes,
        errors,
        secs,
        total.datagrams as f64 / secs.max(1e-9),
        total.records as f64 / secs.max(1e-9),
    );
    if let Some(e) = last_error {
        eprintln!("flowgen: {errors} datagrams not sent; last error: {e}");
    }
    ExitCode::SUCCESS
}
