//! `mysfits iam-policy`: the least-privilege operator policy.

use std::process::ExitCode;

use crate::config::Config;
use crate::error::{Error, Result};

pub async fn run(_config: &Config) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: "iam-policy".into(),
        instead: "see the README for the services the CLI calls".into(),
    })
}
