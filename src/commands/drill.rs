//! `mysfits drill`: failover and failback under load, measured.

use std::process::ExitCode;

use crate::cli::DrillArgs;
use crate::config::Config;
use crate::error::{Error, Result};

pub async fn run(_config: &Config, _args: &DrillArgs) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: "drill".into(),
        instead: "run `mysfits failover` under your own load for now".into(),
    })
}
