//! The end-to-end harness shared by the collector, fault and metrics tests: a temporary
//! directory, a running `coreflow` on ephemeral ports (its stderr read on a thread, its ports
//! learned from the "listening on" lines, stopped with SIGTERM), and the `flowgen` runner with
//! the `key=value` parsing of its report and of coreflow's exit summary. Every wait is bounded.
//! flowgen runs in-process (the flowgen crate's command line and send loop, a dev-dependency),
//! so a test always sends with the flowgen of its own build.
//! The Kafka tests use it too, with their own listeners and no output file.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const COREFLOW: &str = env!("CARGO_BIN_EXE_coreflow");
/// How long a wait lasts unless a test asks for another bound ([`CollectorBuilder::wait`]).
pub const WAIT: Duration = Duration::from_secs(20);

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        // tests run in parallel threads of one process: the counter keeps their dirs apart
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "coreflow-test-{}-{}-{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn root(&self) -> &Path {
        &self.0
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How to start a [`Collector`]: `-fport 0 -sport 0 -metrics.addr 127.0.0.1:0 --output <file>`
/// (ephemeral ports: tests run in parallel), plus or instead of which the options below say.
pub struct CollectorBuilder {
    listeners: Option<Vec<String>>,
    sockets: Option<usize>,
    config: Option<String>,
    output: Option<PathBuf>,
    no_output: bool,
    env: Vec<(String, String)>,
    wait_for_metrics_endpoint: bool,
    wait: Duration,
    stop_wait: Option<Duration>,
}

impl CollectorBuilder {
    /// These flags instead of `-fport 0 -sport 0` (e.g. NetFlow only); start is then done once
    /// the first listener is bound ([`Collector::listener_addr`]) rather than both.
    pub fn listeners(mut self, flags: &[&str]) -> Self {
        self.listeners = Some(flags.iter().map(|s| s.to_string()).collect());
        self
    }

    /// `-fworkers n -sworkers n`: `n` sockets per listener.
    pub fn sockets(mut self, n: usize) -> Self {
        self.sockets = Some(n);
        self
    }

    /// A config file with this text, passed as `--config` before the extra flags.
    pub fn config(mut self, toml: &str) -> Self {
        self.config = Some(toml.to_string());
        self
    }

    /// Writes to `path` instead of a file in the collector's own temporary directory.
    pub fn output(mut self, path: &Path) -> Self {
        self.output = Some(path.to_path_buf());
        self
    }

    /// No `--output` flag: coreflow writes where its other flags say (e.g. Kafka), and
    /// [`Collector::output`] names a file that never appears.
    pub fn no_output(mut self) -> Self {
        self.no_output = true;
        self
    }

    /// Extra environment for the process (e.g. the shipped systemd unit's).
    pub fn env(mut self, env: &[(String, String)]) -> Self {
        self.env = env.to_vec();
        self
    }

    /// Start only counts as done once the metrics endpoint's address is logged
    /// ([`Collector::metrics_addr`]).
    pub fn metrics_endpoint(mut self) -> Self {
        self.wait_for_metrics_endpoint = true;
        self
    }

    /// The bound of every wait of this collector (start, [`Collector::wait_lines`], stop).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The bound of the wait for the exit after SIGTERM, when it differs from
    /// [`CollectorBuilder::wait`] (e.g. a Kafka flush on shutdown).
    pub fn stop_wait(mut self, wait: Duration) -> Self {
        self.stop_wait = Some(wait);
        self
    }

    /// Starts coreflow with `extra` flags last and waits until both listeners are bound (the
    /// first, with [`CollectorBuilder::listeners`]).
    pub fn start(self, extra: &[&str]) -> Collector {
        let dir = TempDir::new("run");
        let output = self.output.unwrap_or_else(|| dir.path("flows.json"));
        let both = self.listeners.is_none();
        let mut args: Vec<String> = self
            .listeners
            .unwrap_or_else(|| ["-fport", "0", "-sport", "0"].map(String::from).to_vec());
        if let Some(n) = self.sockets {
            let n = n.to_string();
            args.extend(["-fworkers".into(), n.clone(), "-sworkers".into(), n]);
        }
        args.extend(["-metrics.addr", "127.0.0.1:0"].map(String::from));
        if !self.no_output {
            args.push("--output".into());
            args.push(output.to_str().unwrap().into());
        }
        if let Some(toml) = &self.config {
            let p = dir.path("c.toml");
            std::fs::write(&p, toml).unwrap();
            args.push("--config".into());
            args.push(p.to_str().unwrap().into());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(COREFLOW)
            .args(&args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start coreflow");
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut c = Collector {
            child,
            output,
            netflow_port: 0,
            sflow_port: 0,
            metrics_endpoint: None,
            stderr: rx,
            log: Vec::new(),
            wait: self.wait,
            stop_wait: self.stop_wait.unwrap_or(self.wait),
            _dir: dir,
        };
        let deadline = Instant::now() + c.wait;
        let bound = |c: &Collector| {
            if both {
                c.netflow_port != 0 && c.sflow_port != 0
            } else {
                c.netflow_port != 0 || c.sflow_port != 0
            }
        };
        while !bound(&c) || (self.wait_for_metrics_endpoint && c.metrics_endpoint.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = c
                .stderr
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("coreflow did not start: {:?}", c.log));
            if let Some(a) = addr_after(&line, "netflow listening on ") {
                c.netflow_port = a.port();
            }
            if let Some(a) = addr_after(&line, "sflow listening on ") {
                c.sflow_port = a.port();
            }
            if let Some(a) = addr_after(&line, "metrics listening on ") {
                c.metrics_endpoint = Some(a);
            }
            c.log.push(line);
        }
        c
    }
}

/// The address logged right after `what` in `line`.
fn addr_after(line: &str, what: &str) -> Option<SocketAddr> {
    let rest = line.split(what).nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// A running `coreflow` writing JSON lines to `output`, killed on drop.
pub struct Collector {
    child: Child,
    pub output: PathBuf,
    pub netflow_port: u16,
    pub sflow_port: u16,
    metrics_endpoint: Option<SocketAddr>,
    stderr: mpsc::Receiver<String>,
    /// Its stderr lines so far (see [`Collector::drain_log`]).
    pub log: Vec<String>,
    wait: Duration,
    stop_wait: Duration,
    _dir: TempDir,
}

impl Collector {
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder {
            listeners: None,
            sockets: None,
            config: None,
            output: None,
            no_output: false,
            env: Vec::new(),
            wait_for_metrics_endpoint: false,
            wait: WAIT,
            stop_wait: None,
        }
    }

    /// Starts with the defaults and `extra` flags.
    pub fn start(extra: &[&str]) -> Collector {
        Collector::builder().start(extra)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmRSS, VmHWM) of the collector's process, in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let f = |k: &str| -> u64 {
            s.lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (f("VmRSS:"), f("VmHWM:"))
    }

    pub fn netflow_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.netflow_port)
    }

    pub fn sflow_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.sflow_port)
    }

    /// The listener of a collector with one ([`CollectorBuilder::listeners`]): NetFlow's when
    /// bound, else sFlow's.
    pub fn listener_addr(&self) -> SocketAddr {
        if self.netflow_port != 0 {
            self.netflow_addr()
        } else {
            self.sflow_addr()
        }
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The metrics endpoint, known when the builder asked for
    /// [`CollectorBuilder::metrics_endpoint`].
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_endpoint
            .expect("start with .metrics_endpoint() to learn the metrics address")
    }

    /// Moves the stderr lines read since the last call into [`Collector::log`].
    pub fn drain_log(&mut self) -> &[String] {
        while let Ok(l) = self.stderr.try_recv() {
            self.log.push(l);
        }
        &self.log
    }

    /// Lines written to the output so far.
    pub fn lines(&self) -> usize {
        std::fs::read(&self.output)
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .unwrap_or(0)
    }

    /// Waits until the output holds at least `n` lines (or the deadline passes).
    pub fn wait_lines(&self, n: usize) -> usize {
        let deadline = Instant::now() + self.wait;
        loop {
            let got = self.lines();
            if got >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait for the exit (bounded); returns the status, the whole log and the
    /// flows written.
    pub fn stop(mut self) -> (ExitStatus, Vec<String>, Vec<Value>) {
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let deadline = Instant::now() + self.stop_wait;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("coreflow did not stop after SIGTERM: {:?}", self.log);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            self.log.push(l);
        }
        let flows = read_flows(&self.output);
        (status, std::mem::take(&mut self.log), flows)
    }

    /// SIGKILL, as `kill -9` would: no shutdown of any kind.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON lines of an output file (none when it does not exist).
pub fn read_flows(p: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The exit summary line of a log.
pub fn exit_summary(log: &[String]) -> String {
    log.iter()
        .find(|l| l.contains("stopped after"))
        .cloned()
        .unwrap_or_else(|| panic!("no summary: {log:?}"))
}

/// `key=value` from a line of such pairs (the exit summary, flowgen's report); the value may be
/// followed by punctuation and the pair preceded by `[`. `None` when the key is absent.
pub fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|kv| kv.trim_start_matches('[').strip_prefix(&format!("{key}=")))
        .map(|v| {
            v.trim_end_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .unwrap()
        })
}

/// [`field`] of an exit summary, 0 when absent (a counter that never moved).
pub fn summary_field(summary: &str, key: &str) -> u64 {
    field(summary, key).unwrap_or(0)
}

/// [`field`] of a line that must have it: flowgen's report, or an exit summary whose every
/// counter is asserted on (the Kafka tests).
pub fn report_field(report: &str, key: &str) -> u64 {
    field(report, key).unwrap_or_else(|| panic!("no {key}= in {report:?}"))
}

/// Runs flowgen with these arguments to the end, in this process; its report line
/// (`flowgen: protocol=.. datagrams=.. records=.. ...`, what the binary prints on stdout).
/// Panics on a bad command line or a socket that cannot be set up.
pub fn run_flowgen(args: &[&str]) -> String {
    use coreflow_flowgen::cli;
    let parsed = match cli::parse(args.iter().copied()) {
        Ok(cli::Command::Run(a)) => a,
        Ok(cli::Command::Help(_)) => panic!("flowgen {args:?}: help asked for"),
        Err(e) => panic!("flowgen {args:?}: {e}"),
    };
    let report =
        coreflow_flowgen::run::run(&parsed).unwrap_or_else(|e| panic!("flowgen {args:?}: {e}"));
    format!("{report}\n")
}

/// [`run_flowgen`] on a thread of its own; its report line when it ends.
pub fn run_flowgen_in_background(args: Vec<String>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_flowgen(&args)
    })
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}
