//! `mysfits`: deploy and operate the Mythical Mysfits app on AWS in several regions.
//!
//! Module map (one concern each):
//! - [`cli`]: clap definitions only, no IO.
//! - [`config`]: flags + environment + `mysfits.yaml` turned into one validated [`config::Config`].
//! - [`error`]: the one error type; every message says what happened and what to do next.
//! - [`aws`]: SDK configuration per region in one place (endpoint overrides, timeouts, retries).
//! - [`stack`]: stack names, the embedded templates, change-set deploys and their event stream.
//! - [`plan`]: the deploy plan as data (a DAG) and the executor that runs it concurrently.
//! - [`image`]: OCI images of the bundled services, built without Docker, pushed to ECR.
//! - [`progress`]: renderers fed by events (terminal tree, plain lines, JSON).
//! - [`table`]: the catalogue table's replicas (global table).
//! - [`entry`]: the global traffic entry point (Global Accelerator, or Route 53 failover or weighted records).
//! - [`status`]: what is deployed and how healthy it is, every region side by side.
//! - [`auto_failover`]: alarms and the ARC Region switch plan that fail over without a human.
//! - [`failover`]: readiness checks, scale-up, traffic shift, verification, drill.
//! - [`traffic`]: moving the split between regions (active-active weights), checked like failover.
//! - [`teardown`]: removal in dependency order and verification that nothing is left.
//! - [`dashboard`]: the multi-region CloudWatch dashboard.
//! - [`traces`]: X-Ray's service map of every region and the slowest traces as waterfalls.
//! - [`writes`]: the write region (the one region that takes adoptions and likes) and its fenced move.
//! - [`wait`]: the one poller (backoff on tokio's clock) and the bound for SDK waiters.
//! - [`cancel`]: Ctrl-C for one run (tokio-util's CancellationToken), shared by executor and steps.
//! - [`app`]: the app model: the services table, resource names, region keys.
//! - [`commands`]: one file per subcommand, gluing the above together.

pub mod app;
pub mod auto_failover;
pub mod aws;
pub mod cancel;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod entry;
pub mod error;
pub mod failover;
pub mod image;
pub mod plan;
pub mod progress;
pub mod stack;
pub mod status;
pub mod table;
pub mod teardown;
pub mod traces;
pub mod traffic;
pub mod wait;
pub mod writes;

use std::process::ExitCode;

pub use error::{Error, Result};

/// Runs one parsed command line and says how the process should exit.
pub async fn run(cli: cli::Cli) -> Result<ExitCode> {
    commands::dispatch(cli).await
}

/// Logs go to stderr so that stdout stays clean for data (`--output json`); coloured only on a
/// terminal without NO_COLOR, and a closed stderr is no reason to panic.
pub fn init_tracing(verbosity: u8) {
    use std::io::IsTerminal;

    let default_level = match verbosity {
        // The SDK's credential chain logs each provider's failure at WARN with a Debug dump; the
        // identity check reports the outcome in words instead.
        0 => "warn,aws_config=error",
        1 => "info,mysfits=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MYSFITS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(progress::terminal_styling(std::io::stderr().is_terminal()))
        .log_internal_errors(false)
        .try_init();
}
