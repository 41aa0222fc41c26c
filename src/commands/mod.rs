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

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use serde::Serialize;

use crate::cli::{Cli, Command, OutputFormat};
use crate::config::Config;
use crate::error::{Error, Result};

/// A report as pretty-printed JSON (`--output json`).
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|error| Error::internal(format!("could not write JSON output: {error}")))
}

/// Prints a command's result on stdout: JSON for `--output json`, else `text(report)`.
pub(crate) fn print_report<T: Serialize>(
    output: OutputFormat,
    report: &T,
    text: impl FnOnce(&T) -> String,
) -> Result<()> {
    match output {
        OutputFormat::Json => println!("{}", to_json(report)?),
        OutputFormat::Text => print!("{}", text(report)),
    }
    Ok(())
}

pub async fn dispatch(cli: Cli) -> Result<ExitCode> {
    // Completions need no config: they must work before anything is set up.
    if let Command::Completions(args) = &cli.command {
        let mut command = Cli::command();
        let mut stdout = std::io::stdout().lock();
        clap_complete::generate(args.shell, &mut command, "mysfits", &mut stdout);
        stdout
            .flush()
            .map_err(|error| Error::io("writing completions to stdout", error))?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::load(&cli.global)?;
    match &cli.command {
        Command::Deploy(args) => deploy::deploy(&config, args).await,
        Command::Plan => deploy::plan(&config).await,
        Command::Build(args) => build::run(&config, args).await,
        Command::Status => status::run(&config).await,
        Command::Failover(args) => failover::run(&config, args).await,
        Command::Drill(args) => drill::run(&config, args).await,
        Command::Dashboard(command) => dashboard::run(&config, command).await,
        Command::Teardown(args) => teardown::run(&config, args).await,
        Command::Logs(args) => logs::run(&config, args).await,
        Command::IamPolicy => iam_policy::run(&config).await,
        Command::Completions(_) => unreachable!("handled above"),
    }
}
