//! `mysfits status`: both regions side by side, and the entry point in front of them.

use std::process::ExitCode;

use crate::cli::OutputFormat;
use crate::config::Config;
use crate::error::{Error, Result};

pub async fn run(config: &Config) -> Result<ExitCode> {
    let report = crate::status::collect(config).await;
    match config.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|error| Error::config(
                format!("could not write JSON output: {error}"),
                "report this bug"
            ))?
        ),
        OutputFormat::Text => print!("{}", report.text()),
    }
    Ok(ExitCode::SUCCESS)
}
