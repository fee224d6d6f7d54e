//! The receive floor: one socket, blocking `recvmmsg` into the same buffers coreflow's
//! workers use, counting datagrams and doing nothing else. Its CPU time per datagram is the
//! least any collector built on this kernel path can spend.
//!
//! ```text
//! cargo run --release --example recv_floor -- PORT SECONDS [COALESCE_US, default 10000]
//! flowgen --protocol v5 --records 30 --rate 33333 --duration 10 --target 127.0.0.1:PORT
//! ```

use coreflow::net::recv::RecvBatch;
use coreflow::net::socket::{open_group, BindAddr, GroupSpec};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().and_then(|p| p.parse().ok()).unwrap_or(20555);
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    // the same pause coreflow's workers take after a short batch (receive.coalesce_us)
    let coalesce_us: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let spec = GroupSpec {
        addr: BindAddr::Any,
        port,
        sockets: 1,
        reuseport: false,
        rcvbuf: 32 << 20,
        timeout: Duration::from_millis(100),
        timestamps: true,
    };
    let (socks, _info) = open_group(&spec).expect("bind");
    let fd = socks[0].as_raw_fd();
    let mut batch = RecvBatch::new(64, 65535);
    eprintln!("recv_floor listening on {port}");
    let (mut datagrams, mut bytes) = (0u64, 0u64);
    let c0 = cpu_seconds();
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if let Ok(n) = batch.recv(fd, false) {
            for i in 0..n {
                bytes += batch.get(i).data.len() as u64;
            }
            datagrams += n as u64;
            if n < batch.capacity() / 2 && coalesce_us > 0 {
                std::thread::sleep(Duration::from_micros(coalesce_us));
            }
        }
    }
    let cpu = cpu_seconds() - c0;
    println!(
        "recv_floor datagrams={datagrams} bytes={bytes} cpu_s={cpu:.2} us_per_datagram={:.3}",
        cpu * 1e6 / datagrams.max(1) as f64
    );
}
