//! `mysfits failover`: checked, measured regional failover and failback.

use std::process::ExitCode;

use crate::cli::FailoverArgs;
use crate::config::Config;
use crate::error::{Error, Result};

pub async fn run(_config: &Config, _args: &FailoverArgs) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: "failover".into(),
        instead: "shift traffic in the Global Accelerator console for now".into(),
    })
}
