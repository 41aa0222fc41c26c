//! `mysfits traces`: X-Ray's service map of every region side by side (home first) over
//! `--since`, and with `--slowest N` the slowest traces as waterfalls. The report is printed
//! whatever answered; when no region gave its map the command fails (exit 2), as `status` does.

use std::process::ExitCode;

use super::print_report;
use crate::aws::{Patience, RegionClients};
use crate::cli::TracesArgs;
use crate::config::Config;
use crate::error::{EXIT_ERROR, Result};
use crate::traces::{RegionXray, TracesReport, Window};

pub async fn run(config: &Config, args: &TracesArgs) -> Result<ExitCode> {
    super::identity_first(config, None, super::Banner::Verbose).await?;
    let mut regions = Vec::new();
    for region in config.regions() {
        let clients = RegionClients::for_region(config, region, Patience::IMPATIENT).await;
        regions.push(RegionXray {
            region: region.name.clone(),
            home: region.home,
            client: clients.xray,
        });
    }
    let window = Window::ending_now(args.since);
    let report = crate::traces::collect(&regions, window, args.slowest).await;
    print_report(config.output, &report, TracesReport::text)?;
    match report.no_region_answered() {
        Some(failure) => {
            eprintln!("error: {failure}");
            Ok(ExitCode::from(EXIT_ERROR))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}
