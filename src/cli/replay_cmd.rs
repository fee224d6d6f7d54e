//! `coreflow replay [--config FILE] [--format F] [--schema S] [--counters] FILE...`: the
//! subcommand's arguments, read into [`ReplayOptions`].
//!
//! Flags are read in argv order: `--help` shows the help as soon as it is reached, a bad
//! `--format` or `--schema` is reported where it stands, an unknown option or a missing
//! value after them, and no file at all last. Every error is one line, exit status 2; the
//! lines are the ones this command has always printed (`--format needs a value` included).

use super::flags::{self, ReplayTarget, FILES, REPLAY_FLAGS};
use super::lex;
use super::{CliError, Command};
use crate::encode::schema::Schema;
use crate::encode::Format;

/// What `coreflow replay` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// `--config FILE`, validated as the collector would (an invalid setting is one line
    /// naming it, exit 2): replay applies what changes the flows (`[output] renormalize`,
    /// `instance_field`); format and schema stay `--format` and `--schema`'s.
    pub settings: Option<Box<super::Settings>>,
    pub format: Format,
    pub schema: Schema,
    pub counters: bool,
    pub files: Vec<std::path::PathBuf>,
}

/// Parses what follows `coreflow replay`.
pub(super) fn parse(args: &[String]) -> Result<Command, CliError> {
    let lexed = lex::lex_replay(args);
    let m = flags::command()
        .try_get_matches_from(&lexed.argv)
        .map_err(lex::clap_error)?;
    let Some(m) = m.subcommand_matches("replay") else {
        return Err(CliError::Usage("replay: cannot read the arguments".into()));
    };
    let mut opts = ReplayOptions::default();
    let read = lex::in_order(m, REPLAY_FLAGS);
    debug_assert_eq!(read.len(), lexed.spelled.len());
    for ((flag, v), spelled) in read.into_iter().zip(&lexed.spelled) {
        match flag.target {
            ReplayTarget::Help => {
                if lex::bool_value(spelled, &v)? {
                    return Ok(Command::ReplayHelp);
                }
            }
            ReplayTarget::Format => {
                opts.format = Format::parse(&v).ok_or_else(|| {
                    CliError::Usage(format!("--format: unknown format {v:?} (json, pb)"))
                })?
            }
            ReplayTarget::Schema => {
                opts.schema = Schema::parse(&v).ok_or_else(|| {
                    CliError::Usage(format!(
                        "--schema: unknown schema {v:?} ({})",
                        Schema::NAMES.join(", ")
                    ))
                })?
            }
            ReplayTarget::Counters => opts.counters = lex::bool_value(spelled, &v)?,
            ReplayTarget::Config => {
                opts.settings = Some(Box::new(super::load_file(std::path::Path::new(&v))?))
            }
        }
    }
    if let Some(e) = lexed.stop {
        return Err(e);
    }
    if let Some(files) = m.get_many::<String>(FILES) {
        opts.files = files.map(Into::into).collect();
    }
    if opts.files.is_empty() {
        return Err(CliError::Usage(
            "replay: no capture files given (coreflow replay FILE...)".into(),
        ));
    }
    Ok(Command::Replay(opts))
}
