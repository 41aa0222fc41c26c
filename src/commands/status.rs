//! `mysfits status`: every region side by side (home first), and the entry point in front of them.
//! The report is printed whatever answered; when no region answered at all the command fails
//! (exit 2), so a script cannot take a blank report for a healthy app.

use std::process::ExitCode;

use super::print_report;
use crate::config::Config;
use crate::error::{EXIT_ERROR, Result};
use crate::status::StatusReport;

pub async fn run(config: &Config) -> Result<ExitCode> {
    super::identity_first(config, None, super::Banner::Verbose).await?;
    let report = crate::status::collect(config).await;
    print_report(config.output, &report, StatusReport::text)?;
    match no_region_answered(&report) {
        Some(failure) => {
            eprintln!("error: {failure}");
            Ok(ExitCode::from(EXIT_ERROR))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The failure to report when every region is NOT ANSWERING (each with why), else `None`.
pub fn no_region_answered(report: &StatusReport) -> Option<String> {
    let reasons = report
        .regions
        .iter()
        .map(|facts| {
            facts
                .unreachable
                .as_ref()
                .map(|why| format!("\n  - {}: {why}", facts.region))
        })
        .collect::<Option<String>>()?;
    Some(format!(
        "no region answered, so nothing above is known{reasons}\n  fix: check the endpoints \
         (--endpoint-url, endpoint_url in mysfits.yaml) and network access; with an emulator, \
         start it first; then run `mysfits status` again"
    ))
}
