//! argv normalisation: GoFlow's spellings rewritten into the one form clap reads, and clap's
//! matches read back in argv order.
//!
//! GoFlow (Go's `flag` package) takes one or two dashes before any name (`-fport 2055`,
//! `--fport=2055`), and a boolean never takes the next argument: a bare `-netflow` is true,
//! `-netflow=false` false, and `-netflow false` leaves `false` as a stray argument. clap
//! knows neither rule, so [`lex`] rewrites every flag into `--<name>=<value>` (a value that
//! starts with `-` included, so clap never has to guess) and remembers how each was typed:
//! errors and `Origins` name the flag as the user spelled it. [`lex`] stops at the first
//! argument it cannot read (not a flag, an unknown flag, a value missing) and hands that
//! error back beside the rewritten prefix; the caller reports it after the errors of the
//! flags before it, so the first error in argv order is the one printed. [`in_order`] reads
//! clap's matches back in argv order: a later flag beats an earlier one for one setting.

use super::flags::{Flag, Kind, FLAGS, REPLAY_FLAGS};
use super::goflow2::REFUSED;
use super::CliError;
use crate::error::ConfigError;
use clap::ArgMatches;

/// A command line rewritten for clap.
#[derive(Debug)]
pub(super) struct Lexed {
    /// The program name (and `replay`), then one `--<name>=<value>` per flag read, then
    /// (`replay`) `--` and the files.
    pub argv: Vec<String>,
    /// Each flag as typed (dashes and name, no value), in argv order.
    pub spelled: Vec<String>,
    /// Why reading stopped early, reported after the flags before it.
    pub stop: Option<CliError>,
}

fn find<'f, T>(flags: &'f [Flag<T>], name: &str) -> Option<&'f Flag<T>> {
    flags.iter().find(|f| f.names.contains(&name))
}

/// The collector's arguments (without the program name): one or two dashes, `-flag value`
/// or `-flag=value`, booleans only ever `-flag` or `-flag=value`.
pub(super) fn lex(args: &[String]) -> Lexed {
    let mut out = Lexed {
        argv: vec!["coreflow".into()],
        spelled: Vec::new(),
        stop: None,
    };
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        let Some(body) = a
            .strip_prefix("--")
            .or_else(|| a.strip_prefix('-'))
            .filter(|b| !b.is_empty() && !b.starts_with('-'))
        else {
            let e = ConfigError::new(
                a.as_str(),
                "unexpected argument (flags start with -; see --help)",
            );
            out.stop = Some(e.into());
            break;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let spelled = &a[..a.len() - body.len() + name.len()];
        let Some(flag) = find(FLAGS, name) else {
            let why = match REFUSED.iter().find(|r| r.0 == name) {
                Some(r) => r.1,
                None => "unknown flag (see --help)",
            };
            out.stop = Some(ConfigError::new(spelled, why).into());
            break;
        };
        let value = match (flag.kind, inline) {
            (_, Some(v)) => v,
            (Kind::Bool, None) => "true",
            (Kind::Value, None) => match rest.next() {
                Some(v) => v.as_str(),
                None => {
                    out.stop = Some(ConfigError::new(spelled, "needs a value").into());
                    break;
                }
            },
        };
        out.argv.push(format!("--{}={value}", flag.names[0]));
        out.spelled.push(spelled.to_string());
    }
    out
}

/// `coreflow replay`'s arguments (after `replay`): an argument starting with `-` (any number
/// of them) is a flag, anything else (`-` included) a file.
pub(super) fn lex_replay(args: &[String]) -> Lexed {
    let mut out = Lexed {
        argv: vec!["coreflow".into(), "replay".into()],
        spelled: Vec::new(),
        stop: None,
    };
    let mut files = Vec::new();
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        if !a.starts_with('-') || a.len() == 1 {
            files.push(a.clone());
            continue;
        }
        let (typed, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (a.as_str(), None),
        };
        let name = typed.trim_start_matches('-');
        let Some(flag) = find(REPLAY_FLAGS, name) else {
            out.stop = Some(CliError::Usage(format!("replay: unknown option {a}")));
            break;
        };
        let value = match (flag.kind, inline) {
            (_, Some(v)) => v,
            (Kind::Bool, None) => "true",
            (Kind::Value, None) => match rest.next() {
                Some(v) => v.as_str(),
                None => {
                    let e = format!("--{} needs a value", flag.names[0]);
                    out.stop = Some(CliError::Usage(e));
                    break;
                }
            },
        };
        out.argv.push(format!("--{}={value}", flag.names[0]));
        out.spelled.push(typed.to_string());
    }
    if !files.is_empty() {
        out.argv.push("--".into());
        out.argv.extend(files);
    }
    out
}

/// The flags clap matched, in argv order, each with its value.
pub(super) fn in_order<'f, T>(m: &ArgMatches, flags: &'f [Flag<T>]) -> Vec<(&'f Flag<T>, String)> {
    let mut seen = Vec::new();
    for f in flags {
        let id = f.names[0];
        if let (Some(at), Ok(Some(values))) = (m.indices_of(id), m.try_get_many::<String>(id)) {
            seen.extend(at.zip(values).map(|(i, v)| (i, f, v.clone())));
        }
    }
    seen.sort_by_key(|&(i, _, _)| i);
    seen.into_iter().map(|(_, f, v)| (f, v)).collect()
}

/// A boolean flag's value, Go's spellings (`1`, `t`, `true`, `0`, `f`, `false`, ...).
pub(super) fn bool_value(spelled: &str, v: &str) -> Result<bool, ConfigError> {
    super::raw::parse_bool(v)
        .ok_or_else(|| ConfigError::new(spelled, format!("{v:?} is not a boolean (true, false)")))
}

/// clap refused the rewritten command line. Every argument it gets has been read already, so
/// this is a bug in the tables; it is still one line and exit status 2.
pub(super) fn clap_error(e: clap::Error) -> CliError {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or("invalid command line");
    let line = line.strip_prefix("error: ").unwrap_or(line);
    CliError::Config(ConfigError::new("command line", line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::flags::{command, FLAGS};
    use crate::cli::tests::args;

    #[test]
    fn goflow_forms_become_one_clap_form() {
        let l = lex(&args(
            "-fport 2055 -netflow=false --faddr -x -sreuse -kafka.brokers=a=b -h=0 --v",
        ));
        assert_eq!(
            l.argv,
            [
                "coreflow",
                "--fport=2055",
                "--netflow=false",
                "--faddr=-x",
                "--sreuse=true",
                "--kafka.out.brokers=a=b",
                "--help=0",
                "--version=true",
            ]
        );
        assert_eq!(
            l.spelled,
            [
                "-fport",
                "-netflow",
                "--faddr",
                "-sreuse",
                "-kafka.brokers",
                "-h",
                "--v"
            ]
        );
        assert!(l.stop.is_none());
        // reading stops at the first argument it cannot read, keeping what came before
        let l = lex(&args("-fport 1 -bogus -sport 2"));
        assert_eq!(l.argv, ["coreflow", "--fport=1"]);
        assert_eq!(
            l.stop.unwrap().to_string(),
            "-bogus: unknown flag (see --help)"
        );
        let l = lex_replay(&args("a --format pb -counters b"));
        assert_eq!(
            l.argv,
            [
                "coreflow",
                "replay",
                "--format=pb",
                "--counters=true",
                "--",
                "a",
                "b"
            ]
        );
    }

    #[test]
    fn matches_come_back_in_argv_order() {
        let l = lex(&args(
            "-sport 1 -fport 2 -kafka.brokers a:1 -sport 3 -kafka.out.brokers b:2 -fport=",
        ));
        let m = command().try_get_matches_from(&l.argv).unwrap();
        let read: Vec<(&str, String)> = in_order(&m, FLAGS)
            .into_iter()
            .map(|(f, v)| (f.names[0], v))
            .collect();
        let want = [
            ("sport", "1"),
            ("fport", "2"),
            ("kafka.out.brokers", "a:1"),
            ("sport", "3"),
            ("kafka.out.brokers", "b:2"),
            ("fport", ""),
        ];
        let want: Vec<(&str, String)> = want.iter().map(|&(f, v)| (f, v.into())).collect();
        assert_eq!(read, want);
    }
}
