//! `mysfits build` (owned by the images work; placeholder until it lands).

use std::process::ExitCode;

use crate::cli::BuildArgs;
use crate::config::Config;
use crate::error::{Error, Result};

pub async fn run(_config: &Config, _args: &BuildArgs) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: "build".into(),
        instead: "images are built by `mysfits deploy` in a later version".into(),
    })
}
