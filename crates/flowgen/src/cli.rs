//! flowgen's command line: argv -> [`Args`] (clap derive), or help, or the one-line error
//! that flowgen prints after `flowgen: ` before exiting with status 2.
//!
//! Every option takes a value, as `--name VALUE` or `--name=VALUE`; GoFlow-style single-dash
//! long options (`-rate 100`) work too, and the last of a repeated option wins. Arguments are
//! read in order and the first problem is the one reported: a bad value (`--rate: "x" is not a
//! rate >= 0`), an option missing its value (`--rate needs a value`), an unknown option
//! (`unknown option --x (see --help)`) or a word that is no option (`unexpected argument
//! "x"`); `-h`/`--help` (either dash form) prints the help once the arguments before it
//! parsed. [`normalise`] rewrites argv into `--name=VALUE` words for clap, which parses and
//! validates the values in order (each parser's error is the whole message) and renders the
//! help.

use crate::exporter::GenProtocol;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use std::net::SocketAddr;
use std::time::Duration;

/// The most simulated exporters of one run (their numbers included: `--first-exporter` +
/// `--exporters`), so that their loopback source addresses stay distinct.
pub const MAX_EXPORTERS: u32 = 60_000;

const USAGE: &str = "\
flowgen [--protocol v5|v9|ipfix|sflow] [--target ADDR:PORT] [--rate PPS]
               [--count N | --duration SECS] [--exporters N] [--records N] [OPTIONS]";

const OUTPUT: &str = "\
OUTPUT
    One line on stdout: protocol, exporters, datagrams, records, bytes and packets (sums of
    the flows' counters, as a collector reports them), wire bytes, send errors, seconds and
    the achieved rates. Sequence numbers follow each protocol (v5: flows, v9: datagrams,
    IPFIX: data records, sFlow: datagrams and samples) so a collector can measure loss.

    Options may also be written with one dash (-rate 100) and as --name=VALUE.
    Exit status: 0 when the run ended (send errors are counted, not fatal), 1 when a socket
    could not be set up, 2 for a bad command line.";

/// The options, with their defaults. `-h` and `--help` print the same text: one line per
/// option (the lines of a doc comment kept as written), then what flowgen prints and its exit
/// statuses.
#[derive(Parser, Clone, Debug)]
#[command(
    name = "flowgen",
    about = "flowgen - NetFlow v5/v9, IPFIX and sFlow v5 load generator",
    long_about = None,
    override_usage = USAGE,
    after_help = OUTPUT,
    args_override_self = true,
    disable_version_flag = true
)]
pub struct Args {
    /// v5, v9, ipfix or sflow
    #[arg(long, value_name = "P", default_value = "v5", value_parser = protocol)]
    pub protocol: GenProtocol,

    /// Where to send [default: 127.0.0.1:2055; 127.0.0.1:6343 for sflow]
    #[arg(long, value_name = "ADDR:PORT", value_parser = target)]
    pub target: Option<SocketAddr>,

    /// Datagrams per second, 0 = as fast as possible
    #[arg(long, value_name = "PPS", default_value = "0", value_parser = rate)]
    pub rate: f64,

    /// Datagrams to send in all, skipped ones included [default: 1000
    /// unless --duration is given]
    #[arg(long, value_name = "N", value_parser = count_u64("count"))]
    pub count: Option<u64>,

    /// Send for this long (may be fractional)
    #[arg(long, value_name = "SECS", value_parser = duration)]
    pub duration: Option<Duration>,

    /// Simulated exporters, each with its own socket: distinct source
    /// addresses 127.0.1.1, 127.0.1.2, ... when the target is IPv4
    /// loopback, distinct source ports otherwise
    #[arg(long, verbatim_doc_comment, value_name = "N", default_value = "1", value_parser = exporters)]
    pub exporters: u32,

    /// Number the exporters from K (their addresses, ids and flows),
    /// so several flowgen processes can simulate distinct exporters
    #[arg(long, verbatim_doc_comment, value_name = "K", default_value = "0", value_parser = first_exporter)]
    pub first_exporter: u32,

    /// Flow records per datagram; sFlow: flow samples [default: 30; sflow 8]
    #[arg(long, value_name = "N", value_parser = records)]
    pub records: Option<usize>,

    /// v9/IPFIX: resend templates and sampling options every K
    /// datagrams of an exporter, 0 = first datagram only
    #[arg(long, verbatim_doc_comment, value_name = "K", default_value = "100", value_parser = count_u64("template-every"))]
    pub template_every: u64,

    /// v9/IPFIX: true = data only, never a template or options
    /// template (an exporter that moved to another collector)
    #[arg(long, verbatim_doc_comment, value_name = "BOOL", default_value = "false", action = clap::ArgAction::Set, value_parser = data_only)]
    pub data_only: bool,

    /// Sampling rate announced (v5 header, v9/IPFIX options,
    /// sFlow samples)
    #[arg(long, verbatim_doc_comment, value_name = "R", default_value = "1000", value_parser = sampling_rate)]
    pub sampling_rate: u32,

    /// Seed of the flow contents
    #[arg(long, value_name = "S", default_value = "1", value_parser = seed)]
    pub seed: u64,

    /// Build every Nth datagram of an exporter but do not send it
    /// (its sequence numbers are used, as if lost on the way), 0 = none
    #[arg(long, verbatim_doc_comment, value_name = "N", default_value = "0", value_parser = skip_every)]
    pub skip_every: u64,

    /// Header sequence numbers start here (e.g. 4294967290 to
    /// test a wrap)
    #[arg(long, verbatim_doc_comment, value_name = "S", default_value = "0", value_parser = first_sequence)]
    pub first_sequence: u32,

    /// Datagrams per sendmmsg call
    #[arg(long, value_name = "B", default_value = "32", value_parser = batch)]
    pub batch: usize,
}

/// What a command line asks for.
#[derive(Clone, Debug)]
pub enum Command {
    /// Send.
    Run(Args),
    /// Print this help (on stdout) and exit 0.
    Help(String),
}

/// Parses flowgen's arguments (without the program name). `Err` is the message flowgen prints
/// after `flowgen: ` before exiting with status 2.
pub fn parse<I, S>(argv: I) -> Result<Command, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let argv: Vec<String> = argv.into_iter().map(Into::into).collect();
    let known: Vec<String> = Args::command()
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| *l != "help")
        .map(str::to_string)
        .collect();
    let (mut words, stop) = normalise(&argv, &known);
    if matches!(stop, Some(Stop::Help)) {
        words.push("-h".into());
    }
    let args = match Args::try_parse_from(std::iter::once("flowgen".to_string()).chain(words)) {
        Ok(a) => a,
        Err(e) if e.kind() == ErrorKind::DisplayHelp => {
            return Ok(Command::Help(e.render().to_string()))
        }
        // a value parser's message is the whole message (the option and the value included)
        Err(e) if e.kind() == ErrorKind::ValueValidation => {
            return Err(std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.to_string()))
        }
        Err(e) => return Err(e.to_string().trim_end().to_string()),
    };
    if let Some(Stop::Error(e)) = stop {
        return Err(e);
    }
    if args.first_exporter + args.exporters > MAX_EXPORTERS {
        return Err(format!(
            "--first-exporter + --exporters: at most {MAX_EXPORTERS} exporters"
        ));
    }
    if let Some(r) = args.records {
        if r > args.protocol.max_records() {
            return Err(format!(
                "--records: at most {} for {} (one datagram)",
                args.protocol.max_records(),
                args.protocol.name()
            ));
        }
    }
    Ok(Command::Run(args))
}

/// Where [`normalise`] stopped before the end of argv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// At `-h`/`--help`: what follows is not read.
    Help,
    /// At a word that is no known option with a value: the error to report once the options
    /// before it parsed.
    Error(String),
}

/// Rewrites `argv` into `--name=VALUE` words, one per option, for the `known` long option
/// names (`help` aside). `-name`, `--name VALUE` and `--name=VALUE` are all accepted; the
/// value is taken as written, leading dash included. Stops at help or at the first word that
/// is not an option of `known` with its value.
pub fn normalise(argv: &[String], known: &[String]) -> (Vec<String>, Option<Stop>) {
    let mut out = Vec::with_capacity(argv.len());
    let mut i = 0;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return (
                out,
                Some(Stop::Error(format!("unexpected argument {arg:?}"))),
            );
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if name == "h" || name == "help" {
            return (out, Some(Stop::Help));
        }
        let value = match inline {
            Some(v) => v,
            None => match argv.get(i) {
                Some(v) => {
                    i += 1;
                    v.as_str()
                }
                None => return (out, Some(Stop::Error(format!("--{name} needs a value")))),
            },
        };
        if !known.iter().any(|k| k == name) {
            return (
                out,
                Some(Stop::Error(format!("unknown option --{name} (see --help)"))),
            );
        }
        out.push(format!("--{name}={value}"));
    }
    (out, None)
}

fn bad(name: &str, value: &str, what: &str) -> String {
    format!("--{name}: {value:?} is not {what}")
}

fn data_only(v: &str) -> Result<bool, String> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad("data-only", v, "true or false")),
    }
}

fn protocol(v: &str) -> Result<GenProtocol, String> {
    GenProtocol::parse(v).ok_or_else(|| bad("protocol", v, "v5, v9, ipfix or sflow"))
}

fn target(v: &str) -> Result<SocketAddr, String> {
    v.parse()
        .map_err(|_| bad("target", v, "ADDR:PORT (e.g. 127.0.0.1:2055, [::1]:2055)"))
}

fn rate(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r >= 0.0)
        .ok_or_else(|| bad("rate", v, "a rate >= 0"))
}

fn count_u64(
    name: &'static str,
) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |v| v.parse().map_err(|_| bad(name, v, "a count"))
}

fn duration(v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e7)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| bad("duration", v, "a number of seconds"))
}

fn exporters(v: &str) -> Result<u32, String> {
    v.parse()
        .ok()
        .filter(|n| (1..=MAX_EXPORTERS).contains(n))
        .ok_or_else(|| bad("exporters", v, "1 to 60000"))
}

fn first_exporter(v: &str) -> Result<u32, String> {
    v.parse()
        .ok()
        .filter(|n| *n < MAX_EXPORTERS)
        .ok_or_else(|| bad("first-exporter", v, "0 to 59999"))
}

fn records(v: &str) -> Result<usize, String> {
    v.parse()
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| bad("records", v, "a count >= 1"))
}

fn sampling_rate(v: &str) -> Result<u32, String> {
    v.parse().map_err(|_| bad("sampling-rate", v, "a rate"))
}

fn seed(v: &str) -> Result<u64, String> {
    v.parse().map_err(|_| bad("seed", v, "an integer"))
}

fn skip_every(v: &str) -> Result<u64, String> {
    v.parse()
        .ok()
        .filter(|&n| n != 1)
        .ok_or_else(|| bad("skip-every", v, "0 or a count >= 2"))
}

fn first_sequence(v: &str) -> Result<u32, String> {
    v.parse()
        .map_err(|_| bad("first-sequence", v, "0 to 4294967295"))
}

fn batch(v: &str) -> Result<usize, String> {
    v.parse()
        .ok()
        .filter(|n| (1..=1024).contains(n))
        .ok_or_else(|| bad("batch", v, "1 to 1024"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(argv: &[&str]) -> Args {
        match parse(argv.iter().copied()) {
            Ok(Command::Run(a)) => a,
            other => panic!("{argv:?}: {other:?}"),
        }
    }

    fn err(argv: &[&str]) -> String {
        match parse(argv.iter().copied()) {
            Err(e) => e,
            other => panic!("{argv:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let a = run(&[]);
        assert_eq!(a.protocol, GenProtocol::V5);
        assert_eq!(a.target, None);
        assert_eq!(a.rate, 0.0);
        assert_eq!((a.count, a.duration, a.records), (None, None, None));
        assert_eq!((a.exporters, a.first_exporter), (1, 0));
        assert_eq!(
            (a.template_every, a.sampling_rate, a.seed, a.batch),
            (100, 1000, 1, 32)
        );
    }

    #[test]
    fn every_spelling() {
        for argv in [
            &["--protocol", "ipfix", "--rate", "2.5"][..],
            &["-protocol", "ipfix", "-rate", "2.5"],
            &["--protocol=ipfix", "-rate=2.5"],
            &["--protocol", "v5", "--protocol", "IPFIX", "--rate=2.5"],
        ] {
            let a = run(argv);
            assert_eq!((a.protocol, a.rate), (GenProtocol::Ipfix, 2.5), "{argv:?}");
        }
        let a = run(&[
            "--target",
            "[::1]:9995",
            "--count",
            "7",
            "--duration",
            "0.5",
            "--exporters",
            "3",
            "--first-exporter",
            "10",
            "--records",
            "2",
            "--template-every",
            "0",
            "--sampling-rate",
            "64",
            "--seed",
            "9",
            "--batch",
            "1",
        ]);
        assert_eq!(a.target, Some("[::1]:9995".parse().unwrap()));
        assert_eq!(a.count, Some(7));
        assert_eq!(a.duration, Some(Duration::from_millis(500)));
        assert_eq!((a.exporters, a.first_exporter, a.records), (3, 10, Some(2)));
        assert_eq!(
            (a.template_every, a.sampling_rate, a.seed, a.batch),
            (0, 64, 9, 1)
        );
    }

    #[test]
    fn error_messages() {
        let cases: &[(&[&str], &str)] = &[
            (&["--rate", "-1"], r#"--rate: "-1" is not a rate >= 0"#),
            (&["-rate=x"], r#"--rate: "x" is not a rate >= 0"#),
            (
                &["--protocol", "v7"],
                r#"--protocol: "v7" is not v5, v9, ipfix or sflow"#,
            ),
            (
                &["--target", "localhost"],
                r#"--target: "localhost" is not ADDR:PORT (e.g. 127.0.0.1:2055, [::1]:2055)"#,
            ),
            (&["--count", "-3"], r#"--count: "-3" is not a count"#),
            (
                &["--duration", "inf"],
                r#"--duration: "inf" is not a number of seconds"#,
            ),
            (
                &["--exporters", "0"],
                r#"--exporters: "0" is not 1 to 60000"#,
            ),
            (
                &["--first-exporter", "60000"],
                r#"--first-exporter: "60000" is not 0 to 59999"#,
            ),
            (&["--records", "0"], r#"--records: "0" is not a count >= 1"#),
            (&["--records="], r#"--records: "" is not a count >= 1"#),
            (
                &["--template-every", "x"],
                r#"--template-every: "x" is not a count"#,
            ),
            (
                &["--sampling-rate", "x"],
                r#"--sampling-rate: "x" is not a rate"#,
            ),
            (&["--seed", "x"], r#"--seed: "x" is not an integer"#),
            (&["--batch", "1025"], r#"--batch: "1025" is not 1 to 1024"#),
            (
                &["--skip-every", "1"],
                r#"--skip-every: "1" is not 0 or a count >= 2"#,
            ),
            (
                &["--first-sequence", "-1"],
                r#"--first-sequence: "-1" is not 0 to 4294967295"#,
            ),
            (&["--rate"], "--rate needs a value"),
            (&["--version", "1"], "unknown option --version (see --help)"),
            (&["--bogus"], "--bogus needs a value"),
            (&["v5"], r#"unexpected argument "v5""#),
            (
                &["--first-exporter", "59999", "--exporters", "2"],
                "--first-exporter + --exporters: at most 60000 exporters",
            ),
            (
                &["--protocol", "sflow", "--records", "501"],
                "--records: at most 500 for sflow (one datagram)",
            ),
            // the first problem in argv order is the one reported
            (
                &["--rate", "x", "--bogus", "1"],
                r#"--rate: "x" is not a rate >= 0"#,
            ),
            (
                &["--bogus", "1", "--rate", "x"],
                "unknown option --bogus (see --help)",
            ),
            (
                &["--rate", "x", "--help"],
                r#"--rate: "x" is not a rate >= 0"#,
            ),
        ];
        for (argv, want) in cases {
            assert_eq!(err(argv), *want, "{argv:?}");
        }
    }

    #[test]
    fn help() {
        for argv in [
            &["-h"][..],
            &["--help"],
            &["-help"],
            &["--rate", "5", "--help", "--bogus"],
        ] {
            match parse(argv.iter().copied()) {
                Ok(Command::Help(h)) => {
                    assert!(h.contains("--template-every <K>"), "{h}");
                    assert!(h.contains("OUTPUT"), "{h}");
                }
                other => panic!("{argv:?}: {other:?}"),
            }
        }
    }
}
