//! `mysfits logs`: recent log lines of a service.

use std::process::ExitCode;

use crate::cli::LogsArgs;
use crate::config::Config;
use crate::error::{Error, Result};

pub async fn run(_config: &Config, _args: &LogsArgs) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: "logs".into(),
        instead: "use `aws logs tail /ecs/<app>/mysfits-service --follow` for now".into(),
    })
}
