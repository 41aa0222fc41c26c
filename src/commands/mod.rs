//! One module per subcommand: each validates, executes and renders its result.

pub mod build;
pub mod dashboard;
pub mod deploy;
pub mod drill;
pub mod failover;
pub mod iam_policy;
pub mod logs;
pub mod status;
pub mod teardown;
pub mod traces;
pub mod traffic;

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::cli::{Cli, Command, OutputFormat};
use crate::config::Config;
use crate::error::{Error, Result};

/// A report as pretty-printed JSON (`--output json`).
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|error| Error::internal(format!("could not write JSON output: {error}")))
}

/// Set once a command has written its report on stdout: a failure after that (teardown left
/// something, failover refused) is already described there, and stdout must stay one document.
static REPORT_WRITTEN: AtomicBool = AtomicBool::new(false);

/// Prints a command's result on stdout: JSON for `--output json`, else `text(report)`.
pub(crate) fn print_report<T: Serialize>(
    output: OutputFormat,
    report: &T,
    text: impl FnOnce(&T) -> String,
) -> Result<()> {
    let rendered = match output {
        OutputFormat::Json => to_json(report)? + "\n",
        OutputFormat::Text => text(report),
    };
    write_stdout(&rendered)?;
    REPORT_WRITTEN.store(true, Ordering::Relaxed);
    Ok(())
}

/// Writes to stdout without panicking when its reader is gone (a BrokenPipe comes back as an
/// [`Error::Io`] that [`fail`] turns into a quiet exit).
pub(crate) fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|error| Error::io("writing the result to stdout", error))
}

/// How a failed command ends: the message on stderr; with `--output json` also the error as one
/// JSON document on stdout, unless the command's own report is already there. A closed stdout
/// (`| head -1`) is no failure: the reader had what it wanted.
pub fn fail(output: OutputFormat, error: &Error) -> ExitCode {
    if error.is_broken_pipe() {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {}", error.report());
    if output == OutputFormat::Json && !REPORT_WRITTEN.load(Ordering::Relaxed) {
        // Best effort: if stdout is gone too, stderr already holds the message.
        let _ = write_stdout(&format!("{:#}\n", error.to_json()));
    }
    ExitCode::from(error.exit_code())
}

/// Whether a command shows who it acts as even without `-v`: deploy and teardown on a terminal,
/// where a wrong account is expensive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Banner {
    Verbose,
    AlsoOnTerminal,
}

/// Identity first: one STS GetCallerIdentity before the command's first AWS call (`first` is
/// asked before the app's regions, e.g. failover's target). Bad credentials end the command
/// here; regions that do not answer do not (the command reports them).
pub(crate) async fn identity_first(
    config: &Config,
    first: Option<&str>,
    banner: Banner,
) -> Result<()> {
    use std::io::IsTerminal;

    let outcome = crate::aws::identity::check(config, first).await?;
    if let crate::aws::identity::Outcome::Unanswered(silent) = &outcome {
        tracing::debug!(
            "caller identity unknown, no region answered: {}",
            silent.join("; ")
        );
    }
    let on_terminal = banner == Banner::AlsoOnTerminal && std::io::stderr().is_terminal();
    if config.verbose > 0 || on_terminal {
        eprint!("{}", crate::aws::identity::banner(config, &outcome));
    }
    Ok(())
}

pub async fn dispatch(cli: Cli) -> Result<ExitCode> {
    // Completions need no config: they must work before anything is set up.
    if let Command::Completions(args) = &cli.command {
        let mut command = crate::cli::command();
        // Rendered first: clap_complete panics when its writer fails (a closed pipe).
        let mut script = Vec::new();
        clap_complete::generate(args.shell, &mut command, "mysfits", &mut script);
        write_stdout(&String::from_utf8_lossy(&script))?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::load(&cli.global).await?;
    match &cli.command {
        Command::Deploy(args) => deploy::deploy(&config, args).await,
        Command::Plan => deploy::plan(&config).await,
        Command::Build(args) => build::run(&config, args).await,
        Command::Status => status::run(&config).await,
        Command::Failover(args) => failover::run(&config, args).await,
        Command::Traffic(args) => traffic::run(&config, args).await,
        Command::Drill(args) => drill::run(&config, args).await,
        Command::Dashboard(command) => dashboard::run(&config, command).await,
        Command::Teardown(args) => teardown::run(&config, args).await,
        Command::Logs(args) => logs::run(&config, args).await,
        Command::Traces(args) => traces::run(&config, args).await,
        Command::IamPolicy => iam_policy::run(&config).await,
        Command::Completions(_) => unreachable!("handled above"),
    }
}
