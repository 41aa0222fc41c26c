//! `mysfits teardown`: remove everything the app created and verify nothing is left.

use std::process::ExitCode;

use crate::cli::TeardownArgs;
use crate::config::Config;
use crate::error::{Error, Result};

pub async fn run(_config: &Config, _args: &TeardownArgs) -> Result<ExitCode> {
    Err(Error::NotYetAvailable {
        command: "teardown".into(),
        instead: "delete the app's stacks in the CloudFormation console for now".into(),
    })
}
