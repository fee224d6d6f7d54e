//! coreflow binary: parse, validate, start, wait, map the result to an exit code.
//!
//! Exit status: 0 on success (a clean stop, where every flow received was delivered or
//! counted as lost; `--check-config`, `--help`, `--version`, `replay`), 1 for a runtime
//! failure (could not start, the output failed for good, a thread stopped unexpectedly, a
//! second signal), 2 for an invalid command line or setting, always as one line
//! `coreflow: ...` on stderr.

use coreflow::app::collector::{self, RunError};
use coreflow::cli::ReplayOptions;
use coreflow::cli::{self, Command};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("coreflow: {msg}");
    ExitCode::from(2)
}

fn replay(opts: &ReplayOptions) -> ExitCode {
    match coreflow::app::replay::run(opts) {
        Ok(s) => {
            eprintln!(
                "replay: {} datagrams, {} flows, {} counter records, {} non-UDP frames skipped",
                s.datagrams, s.flows, s.counter_records, s.skipped_frames
            );
            if s.renormalize_saturated > 0 {
                eprintln!(
                    "replay: {} flows with saturated counters (renormalize)",
                    s.renormalize_saturated
                );
            }
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

fn main() -> ExitCode {
    // first, before the heap grows: with huge pages the limits would not bound resident memory
    coreflow::net::disable_transparent_huge_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse_args(&args) {
        Err(e) => usage_error(&e.to_string()),
        Ok(Command::Help) => {
            println!("{}", cli::help());
            ExitCode::SUCCESS
        }
        Ok(Command::ReplayHelp) => {
            println!("{}", cli::replay_help());
            ExitCode::SUCCESS
        }
        Ok(Command::PrintDefaultConfig) => {
            print!("{}", cli::DEFAULT_CONFIG);
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("coreflow {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Replay(opts)) => replay(&opts),
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
