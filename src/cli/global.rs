//! Global options ([`GlobalArgs`]) where they mean something. They are accepted before the command
//! (`mysfits --output json status`) and after it (`mysfits status --output json`), but each
//! command offers, in its help and its completions, only the ones it reads: `--yes` where a command
//! asks for confirmation, `--output` where it has a JSON report, `--profile`/`--endpoint-url` where
//! it calls AWS, none on `completions`. clap's `global = true` would put every one on every command,
//! so the definitions are copied onto each command ([`GLOBAL_OPTIONS`]) and what was given after
//! the command is folded into [`Cli::global`] ([`try_parse_from`]).

use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, CommandFactory, FromArgMatches};

use super::{Cli, GlobalArgs, OutputFormat};

/// Which AWS account and regions, the app and the config file, and `-v`: every command that reads
/// the config.
const APP: &[&str] = &[
    "region",
    "secondary_region",
    "regions",
    "app",
    "config",
    "verbose",
];
/// How AWS is reached: commands that call AWS.
const AWS: &[&str] = &["profile", "endpoint_url"];
/// `--output`: commands with a JSON report.
const OUTPUT: &[&str] = &["output"];
/// `--yes`: commands that ask for confirmation (teardown, dashboard delete).
const CONFIRM: &[&str] = &["yes"];

/// The global options of every command, by its path of subcommand names. `iam-policy` reads only
/// the app's regions and names (its policy is JSON in any case); `completions` reads nothing.
pub(super) const GLOBAL_OPTIONS: &[(&[&str], &[&[&str]])] = &[
    (&["deploy"], &[APP, AWS, OUTPUT]),
    (&["plan"], &[APP, AWS, OUTPUT]),
    (&["status"], &[APP, AWS, OUTPUT]),
    (&["failover"], &[APP, AWS, OUTPUT]),
    (&["traffic"], &[APP, AWS, OUTPUT]),
    (&["traffic", "set"], &[APP, AWS, OUTPUT]),
    (&["dashboard", "create"], &[APP, AWS, OUTPUT]),
    (&["dashboard", "show"], &[APP, AWS, OUTPUT]),
    (&["dashboard", "delete"], &[APP, AWS, OUTPUT, CONFIRM]),
    (&["teardown"], &[APP, AWS, OUTPUT, CONFIRM]),
    (&["build"], &[APP, AWS, OUTPUT]),
    (&["logs"], &[APP, AWS, OUTPUT]),
    (&["traces"], &[APP, AWS, OUTPUT]),
    (&["drill"], &[APP, AWS, OUTPUT]),
    (&["iam-policy"], &[APP]),
    (&["completions"], &[]),
];

/// The whole command line: [`Cli`] with each command's global options and examples.
pub fn command() -> clap::Command {
    let options = GlobalArgs::augment_args(clap::Command::new("mysfits"));
    GLOBAL_OPTIONS
        .iter()
        .fold(Cli::command(), |command, (path, sets)| {
            let chosen: Vec<Arg> = options
                .get_arguments()
                .filter(|arg| sets.iter().any(|set| set.contains(&arg.get_id().as_str())))
                .cloned()
                .collect();
            with_args(command, path, chosen)
        })
}

fn with_args(command: clap::Command, path: &[&str], args: Vec<Arg>) -> clap::Command {
    match path {
        [] => command.args(args),
        [name, rest @ ..] => command.mut_subcommand(*name, |sub| with_args(sub, rest, args)),
    }
}

/// Parses the process's arguments; on an error prints it (or the help) and exits as clap does.
pub fn parse() -> Cli {
    try_parse_from(std::env::args_os()).unwrap_or_else(|error| error.exit())
}

/// Parses `args` (the program name first). A global option given before a command that does not
/// take it is refused as clap refuses it after the command.
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut command = command();
    let matches = command.try_get_matches_from_mut(args)?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(|error| error.format(&mut command))?;
    let (leaf_command, leaf_matches) = leaf(&command, &matches);
    refuse_options_the_command_ignores(&command, &matches, leaf_command)?;
    fold_options_given_after_the_command(&mut cli.global, leaf_command, leaf_matches);
    Ok(cli)
}

/// The innermost subcommand that was run, as defined and as parsed.
fn leaf<'a>(
    mut command: &'a clap::Command,
    mut matches: &'a ArgMatches,
) -> (&'a clap::Command, &'a ArgMatches) {
    while let Some((name, sub_matches)) = matches.subcommand() {
        match command.find_subcommand(name) {
            Some(sub_command) => (command, matches) = (sub_command, sub_matches),
            None => break,
        }
    }
    (command, matches)
}

fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

fn takes(command: &clap::Command, id: &str) -> bool {
    command.get_arguments().any(|arg| arg.get_id() == id)
}

fn refuse_options_the_command_ignores(
    top: &clap::Command,
    matches: &ArgMatches,
    leaf_command: &clap::Command,
) -> Result<(), clap::Error> {
    let ignored = top.get_arguments().find(|arg| {
        let id = arg.get_id().as_str();
        [APP, AWS, OUTPUT, CONFIRM].concat().contains(&id)
            && given(matches, id)
            && !takes(leaf_command, id)
    });
    match ignored {
        None => Ok(()),
        Some(arg) => {
            let name = leaf_command
                .get_bin_name()
                .unwrap_or(leaf_command.get_name())
                .to_string();
            let message = format!(
                "unexpected argument '--{}' found: `{name}` does not take it",
                arg.get_long().unwrap_or_default()
            );
            Err(leaf_command
                .clone()
                .error(ErrorKind::UnknownArgument, message))
        }
    }
}

/// Options given after the command win over the same ones given before it (or set in the
/// environment). The three region options go together, so that `--regions` before the command and
/// `--region` after it do not mix.
fn fold_options_given_after_the_command(
    global: &mut GlobalArgs,
    command: &clap::Command,
    matches: &ArgMatches,
) {
    let after = |id: &str| takes(command, id) && given(matches, id);
    let string = |id: &str| matches.get_one::<String>(id).cloned();
    if ["region", "secondary_region", "regions"]
        .into_iter()
        .any(after)
    {
        global.region = string("region");
        global.secondary_region = string("secondary_region");
        global.regions = matches
            .get_many::<String>("regions")
            .map(|names| names.cloned().collect())
            .unwrap_or_default();
    }
    if after("app") {
        global.app = string("app");
    }
    if after("profile") {
        global.profile = string("profile");
    }
    if after("endpoint_url") {
        global.endpoint_url = string("endpoint_url");
    }
    if after("config") {
        global.config = matches.get_one::<std::path::PathBuf>("config").cloned();
    }
    if after("output") {
        global.output = matches
            .get_one::<OutputFormat>("output")
            .copied()
            .unwrap_or_default();
    }
    if after("yes") {
        global.yes = true;
    }
    if after("verbose") {
        global.verbose = global.verbose.saturating_add(matches.get_count("verbose"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command is listed in [`GLOBAL_OPTIONS`], so a new one cannot silently take none.
    #[test]
    fn every_command_says_which_global_options_it_takes() {
        fn leaves(command: &clap::Command, path: Vec<String>, found: &mut Vec<Vec<String>>) {
            let subcommands: Vec<_> = command.get_subcommands().collect();
            // A command that runs without a subcommand too (`traffic`) takes options itself.
            let runs_alone = !command.is_subcommand_required_set() && !path.is_empty();
            if subcommands.is_empty() || runs_alone {
                found.push(path.clone());
            }
            if subcommands.is_empty() {
                return;
            }
            for sub in subcommands {
                let mut longer = path.clone();
                longer.push(sub.get_name().to_string());
                leaves(sub, longer, found);
            }
        }
        let mut found = Vec::new();
        leaves(&Cli::command(), Vec::new(), &mut found);
        let listed: Vec<Vec<String>> = GLOBAL_OPTIONS
            .iter()
            .map(|(path, _)| path.iter().map(|name| name.to_string()).collect())
            .collect();
        assert_eq!(found, listed);
    }

    #[test]
    fn options_after_the_command_win_and_before_it_still_work() {
        let cli = try_parse_from([
            "mysfits",
            "--output",
            "json",
            "--regions",
            "a-b-1,c-d-2",
            "-v",
            "status",
            "--region",
            "us-east-1",
            "-v",
            "--app",
            "demo",
        ])
        .expect("parses");
        assert_eq!(cli.global.output, OutputFormat::Json);
        assert_eq!(cli.global.region.as_deref(), Some("us-east-1"));
        assert!(cli.global.regions.is_empty());
        assert_eq!(cli.global.app.as_deref(), Some("demo"));
        assert_eq!(cli.global.verbose, 2);
        let before =
            try_parse_from(["mysfits", "--yes", "--profile", "p", "teardown"]).expect("parses");
        assert!(before.global.yes);
        assert_eq!(before.global.profile.as_deref(), Some("p"));
    }
}
