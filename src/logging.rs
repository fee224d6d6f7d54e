//! coreflow's logger: a `log::Log` on stderr in GoFlow's two formats (`-logfmt normal|json`),
//! and a rate limiter for messages that could come once per datagram.
//!
//! `normal` is logrus' text layout: `time="2024-05-01T12:00:00Z" level=info msg="..."`;
//! `json` is one object per line: `{"level":"info","msg":"...","time":"..."}`.
//!
//! The `log` crate is the facade: [`init`] installs this logger and sets `log`'s maximum
//! level, so records from other crates (rdkafka's, for one) come out in the same format, with
//! their target before the message. The `log_*!` macros are `log::log!` with coreflow's
//! [`Level`] (logrus' level names); the level check before anything is formatted is
//! `log`'s, one atomic load. Before [`init`] nothing is logged (`log`'s default). serde_json
//! writes the JSON line and quotes the text format's message; humantime formats the time.

#[doc(hidden)]
pub use log;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    pub const NAMES: [&'static str; 5] = ["error", "warn", "info", "debug", "trace"];

    /// Accepts logrus' names (GoFlow's `-loglevel`): panic and fatal log as error.
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "panic" | "fatal" | "error" => Some(Level::Error),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debug),
            "trace" => Some(Level::Trace),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        Level::NAMES[self as usize - 1]
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Normal,
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s {
            "normal" | "text" => Some(LogFormat::Normal),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Normal => "normal",
            LogFormat::Json => "json",
        }
    }
}

impl Level {
    /// The `log` crate's level of the same name.
    #[inline]
    pub const fn to_log(self) -> log::Level {
        match self {
            Level::Error => log::Level::Error,
            Level::Warn => log::Level::Warn,
            Level::Info => log::Level::Info,
            Level::Debug => log::Level::Debug,
            Level::Trace => log::Level::Trace,
        }
    }
}

static JSON: AtomicBool = AtomicBool::new(false);

/// Installs the logger (once per process; later calls change only the level and the format).
pub fn init(level: Level, format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
    let _ = log::set_logger(&Stderr);
    log::set_max_level(level.to_log().to_level_filter());
}

#[inline]
pub fn enabled(level: Level) -> bool {
    level.to_log() <= log::max_level()
}

/// Logs one record from coreflow (use the `log_*!` macros).
pub fn write(level: Level, args: fmt::Arguments<'_>) {
    log::logger().log(
        &log::Record::builder()
            .level(level.to_log())
            .target(module_path!())
            .args(args)
            .build(),
    );
}

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(
            JSON.load(Ordering::Relaxed),
            record.level(),
            &message(record),
            SystemTime::now(),
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// The record's message; another crate's begins with its target (`tiny_http: ...`).
fn message(record: &log::Record<'_>) -> String {
    let target = record.target();
    if target == "coreflow" || target.starts_with("coreflow::") {
        record.args().to_string()
    } else {
        format!("{target}: {}", record.args())
    }
}

/// One log line, with its newline.
fn format_line(json: bool, level: log::Level, msg: &str, time: SystemTime) -> String {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        level: &'a str,
        msg: &'a str,
        time: &'a str,
    }
    // log::Level's discriminants are Level's: Error = 1 ..= Trace = 5
    let level = Level::NAMES[level as usize - 1];
    let time = rfc3339(time);
    let mut line = if json {
        let line = Line {
            level,
            msg,
            time: &time,
        };
        serde_json::to_string(&line).unwrap_or_default()
    } else {
        let msg = serde_json::to_string(msg).unwrap_or_default();
        format!("time=\"{time}\" level={level} msg={msg}")
    };
    line.push('\n');
    line
}

/// `2024-05-01T12:00:00Z` (UTC, seconds; clamped to years 1970..=9999).
pub fn rfc3339(t: SystemTime) -> String {
    const MAX: Duration = Duration::from_secs(253_402_300_799); // 9999-12-31T23:59:59Z
    let t = t.clamp(UNIX_EPOCH, UNIX_EPOCH + MAX);
    humantime::format_rfc3339_seconds(t).to_string()
}

#[macro_export]
macro_rules! log_at {
    ($lvl:expr, $($arg:tt)*) => {
        $crate::logging::log::log!($crate::logging::Level::to_log($lvl), $($arg)*)
    };
}

#[macro_export]
macro_rules! log_error { ($($arg:tt)*) => { $crate::log_at!($crate::logging::Level::Error, $($arg)*) }; }
#[macro_export]
macro_rules! log_warn { ($($arg:tt)*) => { $crate::log_at!($crate::logging::Level::Warn, $($arg)*) }; }
#[macro_export]
macro_rules! log_info { ($($arg:tt)*) => { $crate::log_at!($crate::logging::Level::Info, $($arg)*) }; }
#[macro_export]
macro_rules! log_debug { ($($arg:tt)*) => { $crate::log_at!($crate::logging::Level::Debug, $($arg)*) }; }

/// Lets one message through per interval and counts the ones it held back, so a flood of bad
/// datagrams becomes one log line a minute, not one per datagram.
#[derive(Debug)]
pub struct RateLimit {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    pub fn new(interval: Duration) -> RateLimit {
        RateLimit {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` when a message may be logged now (`n` were suppressed since the last one).
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.duration_since(t) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        let t = UNIX_EPOCH + Duration::from_secs(1_714_564_800 + 3_661);
        assert_eq!(rfc3339(t), "2024-05-01T13:01:01Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00Z"
        );
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(rfc3339(far), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn line_formats() {
        let t = UNIX_EPOCH + Duration::from_secs(1_714_564_800);
        let msg = "datagram from 192.0.2.1: \"bad\" \\ count\nnext\u{1}";
        assert_eq!(
            format_line(false, log::Level::Warn, msg, t),
            "time=\"2024-05-01T12:00:00Z\" level=warn msg=\"datagram from 192.0.2.1: \\\"bad\\\" \\\\ count\\nnext\\u0001\"\n"
        );
        assert_eq!(
            format_line(true, log::Level::Info, "started", t),
            "{\"level\":\"info\",\"msg\":\"started\",\"time\":\"2024-05-01T12:00:00Z\"}\n"
        );
        let v: serde_json::Value =
            serde_json::from_str(&format_line(true, log::Level::Error, msg, t)).unwrap();
        assert_eq!(v["msg"], msg);
        assert_eq!(v["level"], "error");
    }

    #[test]
    fn facade() {
        init(Level::Info, LogFormat::Normal);
        assert!(enabled(Level::Info) && !enabled(Level::Debug));
        assert_eq!(log::max_level(), log::LevelFilter::Info);
        init(Level::Debug, LogFormat::Normal);
        assert!(enabled(Level::Debug) && !enabled(Level::Trace));
        init(Level::Info, LogFormat::Normal);
        let args = format_args!("Server listening on {}", 80);
        let rec = |target| message(&log::Record::builder().target(target).args(args).build());
        assert_eq!(rec("coreflow::worker"), "Server listening on 80");
        assert_eq!(rec("tiny_http"), "tiny_http: Server listening on 80");
    }

    #[test]
    fn rate_limit() {
        let mut r = RateLimit::new(Duration::from_secs(60));
        let t = Instant::now();
        assert_eq!(r.allow(t), Some(0));
        assert_eq!(r.allow(t), None);
        assert_eq!(r.allow(t), None);
        assert_eq!(r.allow(t + Duration::from_secs(61)), Some(2));
    }

    #[test]
    fn levels() {
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("fatal"), Some(Level::Error));
        assert_eq!(Level::parse("loud"), None);
        assert_eq!(Level::Debug.name(), "debug");
    }
}
