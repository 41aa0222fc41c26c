//! `mysfits dashboard`: the multi-region CloudWatch dashboard.

use std::process::ExitCode;

use crate::cli::DashboardCommand;
use crate::config::Config;
use crate::error::{Error, Result};

pub async fn run(_config: &Config, _args: &DashboardCommand) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: "dashboard".into(),
        instead: "open CloudWatch in the console for now".into(),
    })
}
