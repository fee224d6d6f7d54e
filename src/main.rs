//! coreflow binary: parse, validate, start, wait, map the result to an exit code.

use coreflow::app::replay::ReplayOptions;
use coreflow::encode::schema::Schema;
use coreflow::encode::Format;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("coreflow: {msg}");
    ExitCode::from(2)
}

fn replay_main(args: &[String]) -> ExitCode {
    let mut opts = ReplayOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let flag = flag.trim_start_matches('-');
        let mut value = |name: &str| -> Result<String, ExitCode> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| usage_error(&format!("--{name} needs a value")))
        };
        match flag {
            "format" => match value("format").map(|v| (Format::parse(&v), v)) {
                Ok((Some(f), _)) => opts.format = f,
                Ok((None, v)) => {
                    return usage_error(&format!("--format: unknown format {v:?} (json, pb)"))
                }
                Err(c) => return c,
            },
            "schema" => match value("schema").map(|v| (Schema::parse(&v), v)) {
                Ok((Some(s), _)) => opts.schema = s,
                Ok((None, v)) => {
                    return usage_error(&format!(
                        "--schema: unknown schema {v:?} ({})",
                        Schema::NAMES.join(", ")
                    ))
                }
                Err(c) => return c,
            },
            "counters" => opts.counters = true,
            "h" | "help" => {
                println!("{REPLAY_HELP}");
                return ExitCode::SUCCESS;
            }
            _ if a.starts_with('-') && a.len() > 1 => {
                return usage_error(&format!("replay: unknown option {a}"))
            }
            _ => opts.files.push(a.into()),
        }
    }
    if opts.files.is_empty() {
        return usage_error("replay: no capture files given (coreflow replay FILE...)");
    }
    match coreflow::app::replay::run(&opts) {
        Ok(s) => {
            eprintln!(
                "replay: {} datagrams, {} flows, {} counter records, {} non-UDP frames skipped",
                s.datagrams, s.flows, s.counter_records, s.skipped_frames
            );
            for (reason, n) in &s.errors {
                eprintln!("replay: {n} undecodable ({reason})");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("coreflow: {e}");
            ExitCode::FAILURE
        }
    }
}

const REPLAY_HELP: &str = "\
coreflow replay [--format json|pb] [--schema goflow-v2|goflow-v3|goflow2] [--counters] FILE...

Decodes the NetFlow v5/v9, IPFIX and sFlow v5 datagrams of pcap/pcapng captures (protocol
detected from each UDP payload, template state per exporter IP, in file order) and writes
every flow to stdout: JSON lines (default) or varint-length-delimited protobuf.
Undecodable datagrams are counted by reason on stderr; they never stop the run.";

fn collect_main(args: &[String]) -> ExitCode {
    use coreflow::app::collector::{self, RunError};
    use coreflow::config::{self, Command};
    match config::parse_args(args) {
        Err(e) => usage_error(&e.to_string()),
        Ok(Command::Help) => {
            println!("{}", config::HELP);
            ExitCode::SUCCESS
        }
        Ok(Command::PrintDefaultConfig) => {
            print!("{}", config::DEFAULT_CONFIG);
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("coreflow {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::CheckConfig(s)) => match collector::check(&s) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(&e.to_string()),
        },
        Ok(Command::Run(s)) => match collector::run(&s) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(RunError::Config(e)) => usage_error(&e.to_string()),
            Err(RunError::Runtime(e)) => {
                eprintln!("coreflow: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn main() -> ExitCode {
    // first, before the heap grows: with huge pages the limits would not bound resident memory
    coreflow::net::disable_transparent_huge_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("replay") => replay_main(&args[1..]),
        _ => collect_main(&args),
    }
}
