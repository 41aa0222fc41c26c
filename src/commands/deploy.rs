//! `mysfits deploy` and `mysfits plan`.

use std::process::ExitCode;

use crate::cli::DeployArgs;
use crate::config::Config;
use crate::error::{Error, Result};

pub async fn deploy(_config: &Config, _args: &DeployArgs) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: "deploy".into(),
        instead: "the deploy engine is being built".into(),
    })
}

pub async fn plan(_config: &Config) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: "plan".into(),
        instead: "the deploy engine is being built".into(),
    })
}
