//! The command line and the configuration file, validated into the [`Settings`] the
//! collector runs on, or into another [`Command`] (`replay`, help, version, ...).
//!
//! Two stages. The TOML file (`--config`) parses into a [`RawConfig`] (every key optional,
//! unknown keys rejected), the flags are set on top of it (a flag beats the file, the file
//! beats the default), and [`Settings::from_raw`] validates the result. The flags are
//! clap's (`flags`), after GoFlow's spellings (`-netflow=false`, `-fport 2055`,
//! `-kafka.out.brokers ...`) have been rewritten for it; GoFlow unit files keep working.
//! goflow2's flags (`-listen`, `-transport*`, `-format bin`, `-addr`) are read by `goflow2`
//! into the same keys.
//!
//! Contract with `main`: any invalid flag or setting is one [`CliError`], printed as
//! `coreflow: <setting>: <message>` on one line with exit status 2, before any socket is
//! opened. The setting is named as the user wrote it: the flag as typed (`-fport`), with
//! its TOML key once the value has been read (`-fport (netflow.port)`), or the key, or the
//! file and line. When several arguments are wrong, the first in argv order is reported.
//!
//! Layering: this module reads from lower ones (decode limits, output settings, logging
//! levels, schemas); nothing below the binary and the collector imports it.

mod effective;
mod flags;
mod goflow2;
mod help;
mod lex;
mod raw;
mod replay_cmd;
mod settings;
mod validate_limits;
mod validate_listen;
mod validate_mapping;
mod validate_output;
mod validate_security;
mod validate_telemetry;

pub use crate::error::ConfigError;
pub use crate::sink::settings::{KafkaSettings, OutputSettings, SinkSettings};
pub use effective::DEFAULT_CONFIG;
pub use flags::{help, replay_help};
pub use raw::{
    RawBatch, RawCluster, RawConfig, RawKafka, RawKey, RawLimits, RawListener, RawLog, RawMapping,
    RawMetrics, RawOutput, RawReceive, RawScalar,
};
pub use settings::{
    ranges, valid_instance, BatchSettings, ClusterSettings, ListenerKind, ListenerSettings,
    LogSettings, MetricsSettings, Origins, ReceiveSettings, Settings, DEFAULT_BROKERS,
};
pub use validate_listen::parse_bind_addr;

use flags::{Target, FLAGS};
pub use replay_cmd::ReplayOptions;
use std::fmt;
use std::path::{Path, PathBuf};

/// What the command line asks for.
#[derive(Clone, Debug)]
pub enum Command {
    Run(Box<Settings>),
    CheckConfig(Box<Settings>),
    Help,
    Version,
    /// `--print-default-config`: [`DEFAULT_CONFIG`] on stdout.
    PrintDefaultConfig,
    /// `--print-mapping-proto`: the `.proto` lines of the settings' `[[mapping]]` fields.
    PrintMappingProto(Box<Settings>),
    /// `coreflow replay FILE...`.
    Replay(ReplayOptions),
    /// `coreflow replay --help`.
    ReplayHelp,
}

/// A command line that cannot run: one line after `coreflow: `, exit status 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// An invalid flag or setting, `setting: message`.
    Config(ConfigError),
    /// A `replay` usage error, the whole line.
    Usage(String),
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Config(e)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Config(e) => e.fmt(f),
            CliError::Usage(line) => f.write_str(line),
        }
    }
}

impl std::error::Error for CliError {}

/// Parses the command line (without the program name) into a [`Command`]: for the
/// collector, the flags set on top of the `--config` file and validated (machine checks such
/// as the cores come later, [`Settings::resolve`]).
pub fn parse_args(args: &[String]) -> Result<Command, CliError> {
    if args.first().is_some_and(|a| a == "replay") {
        return replay_cmd::parse(&args[1..]);
    }
    let lexed = lex::lex(args);
    let m = flags::command()
        .try_get_matches_from(&lexed.argv)
        .map_err(lex::clap_error)?;
    let (mut config, mut check, mut help, mut version) = (None, false, false, false);
    let mut print_default = false;
    let mut print_proto = false;
    let mut sets = Vec::new();
    let mut g2 = goflow2::Goflow2::default();
    let read = lex::in_order(&m, FLAGS);
    debug_assert_eq!(read.len(), lexed.spelled.len());
    for ((flag, v), spelled) in read.into_iter().zip(lexed.spelled) {
        match flag.target {
            Target::Key(key) => sets.push((key, spelled, v)),
            Target::Config => config = Some(PathBuf::from(v)),
            Target::CheckConfig => check = lex::bool_value(&spelled, &v)?,
            Target::Help => help = lex::bool_value(&spelled, &v)?,
            Target::Version => version = lex::bool_value(&spelled, &v)?,
            Target::PrintDefaultConfig => print_default = lex::bool_value(&spelled, &v)?,
            Target::PrintMappingProto => print_proto = lex::bool_value(&spelled, &v)?,
            Target::Ignored => {}
            Target::Goflow2(g) => g2.push(g, spelled, v),
        }
    }
    if let Some(e) = lexed.stop {
        return Err(e);
    }
    if help {
        return Ok(Command::Help);
    }
    if version {
        return Ok(Command::Version);
    }
    if print_default {
        return Ok(Command::PrintDefaultConfig);
    }
    let mut raw = match &config {
        Some(p) => RawConfig::from_file(p)?,
        None => RawConfig::default(),
    };
    let mut origins = Origins::default();
    // the file, then what goflow2's flags imply (one flag, several keys: errors name the
    // key too), then the flags that name their key
    for (key, flag, v) in g2.implied()? {
        raw.set(key, &format!("{flag} ({key})"), &v)?;
        origins.set(key, flag);
    }
    for (key, flag, v) in sets {
        raw.set(key, &flag, &v)?;
        origins.set(key, flag);
    }
    g2.fill_defaults(&mut raw, &mut origins)?;
    let settings = Box::new(Settings::from_raw(&raw, &origins)?);
    if print_proto {
        if settings.mapping.is_none() {
            return Err(ConfigError::new(
                "--print-mapping-proto",
                "no [[mapping]] entries in the configuration (give --config FILE)",
            )
            .into());
        }
        return Ok(Command::PrintMappingProto(settings));
    }
    Ok(if check {
        Command::CheckConfig(settings)
    } else {
        Command::Run(settings)
    })
}

/// Loads and validates a config file alone (no flags, no machine checks).
pub fn load_file(path: &Path) -> Result<Settings, ConfigError> {
    Settings::from_raw(&RawConfig::from_file(path)?, &Origins::default())
}

#[cfg(test)]
mod tests;
