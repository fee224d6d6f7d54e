//! flowgen: sends NetFlow v5, v9, IPFIX or sFlow v5 datagrams at a target rate, from many
//! simulated exporters, and prints what it sent (datagrams, records, byte and packet sums) so
//! the output of a collector can be checked against it. `flowgen --help` for the options.
//!
//! Parse ([`coreflow_flowgen::cli`]), send ([`coreflow_flowgen::run`]), print the report
//! line; exit 0 when the run ended, 1 when a socket could not be set up, 2 for a bad command
//! line.

#![deny(unsafe_code)]

use coreflow_flowgen::cli::{self, Command};
use coreflow_flowgen::run;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(a)) => a,
        Ok(Command::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("flowgen: {e}");
            return ExitCode::from(2);
        }
    };
    match run::run(&args) {
        Ok(report) => {
            println!("{report}");
            if let Some(e) = &report.last_error {
                eprintln!(
                    "flowgen: {} datagrams not sent; last error: {e}",
                    report.errors
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flowgen: {e}");
            ExitCode::FAILURE
        }
    }
}
