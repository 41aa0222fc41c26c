//! `mysfits status`: every region side by side (home first), and the entry point in front of them.

use std::process::ExitCode;

use super::print_report;
use crate::config::Config;
use crate::error::Result;
use crate::status::StatusReport;

pub async fn run(config: &Config) -> Result<ExitCode> {
    let report = crate::status::collect(config).await;
    print_report(config.output, &report, StatusReport::text)?;
    Ok(ExitCode::SUCCESS)
}
