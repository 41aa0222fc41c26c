//! `mysfits status`: both regions side by side.

use std::process::ExitCode;

use crate::config::Config;
use crate::error::{Error, Result};

pub async fn run(_config: &Config) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: "status".into(),
        instead: "use `aws cloudformation describe-stacks` in each region for now".into(),
    })
}
