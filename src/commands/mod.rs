//! One module per subcommand: each validates, executes and renders its result.

pub mod build;
pub mod deploy;

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::error::{Error, Result};

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
        Command::Status => not_yet(
            "status",
            "use the AWS console or `aws cloudformation describe-stacks` for now",
        ),
        Command::Failover(_) => not_yet(
            "failover",
            "shift traffic in the Global Accelerator console for now",
        ),
        Command::Dashboard(_) => not_yet("dashboard", "open CloudWatch in the console for now"),
        Command::Teardown(_) => not_yet(
            "teardown",
            "delete the app's stacks in the CloudFormation console for now",
        ),
        Command::Logs(_) => not_yet(
            "logs",
            "use `aws logs tail /ecs/<app>/mysfits-service --follow` for now",
        ),
        Command::Completions(_) => unreachable!("handled above"),
    }
}

fn not_yet(command: &str, instead: &str) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: command.to_string(),
        instead: instead.to_string(),
    })
}
