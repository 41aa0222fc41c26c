//! `mysfits drill`: failover and failback under load, measured.

use std::process::ExitCode;
use std::time::Duration;

use super::failover::{app_regions, prepare, validate_http_url};
use super::print_report;
use crate::cli::DrillArgs;
use crate::config::Config;
use crate::entry::{CONTROL_PATIENCE, EntryPoint};
use crate::error::{Error, Result};
use crate::failover::FailoverOptions;
use crate::failover::drill::{self, Drill};
use crate::failover::readiness::Thresholds;
use crate::progress::Progress;

/// Bounds that keep a drill a drill, not a load test.
const MAX_RATE: u32 = 500;
const DURATION_SECONDS: std::ops::RangeInclusive<u64> = 5..=3600;

pub async fn run(config: &Config, args: &DrillArgs) -> Result<ExitCode> {
    let regions = app_regions(config)?;
    // There and back: home to the named region (or the first other one), then home again.
    let home = regions[0];
    let away = match &args.to {
        Some(to) => crate::failover::validate_target(&regions, to)?,
        None => regions[1],
    };
    if away == home {
        return Err(Error::config(
            format!("--to {away} is the home region, where the drill starts and ends"),
            format!("name another region: --to {}", regions[1]),
        ));
    }
    if !(1..=MAX_RATE).contains(&args.rate) {
        return Err(Error::config(
            format!("--rate {} is out of range", args.rate),
            format!("use 1 to {MAX_RATE} requests per second"),
        ));
    }
    if !DURATION_SECONDS.contains(&args.duration) {
        return Err(Error::config(
            format!("--duration {} is out of range", args.duration),
            format!(
                "use {} to {} seconds",
                DURATION_SECONDS.start(),
                DURATION_SECONDS.end()
            ),
        ));
    }
    if let Some(url) = &args.target {
        validate_http_url(url, "--target")?;
    }
    super::identity_first(config, Some(away), super::Banner::Verbose).await?;
    let entry = EntryPoint::new(config, CONTROL_PATIENCE).await;
    let url = match &args.target {
        Some(url) => {
            validate_http_url(url, "--target")?;
            url.clone()
        }
        None => {
            let state = crate::entry::describe(&entry).await;
            crate::failover::entry_address(&entry, &state).map_err(|reason| {
                Error::config(
                    format!("no URL to send load to: {reason}"),
                    "deploy first, or pass --target URL (e.g. a load balancer or a local test server)",
                )
            })?
        }
    };
    let drill = Drill {
        url: url.clone(),
        rate: args.rate,
        duration: Duration::from_secs(args.duration),
        there: prepare(config, home, away, entry.clone()).await?,
        back: prepare(config, away, home, entry).await?,
        options: FailoverOptions {
            dry_run: false,
            force: args.force,
            thresholds: Thresholds {
                max_replication_latency_ms: f64::from(args.max_replication_latency_ms),
            },
            timeout: Duration::from_secs(args.timeout.max(1)),
            verify_url: Some(url),
        },
    };
    let progress = Progress::start();
    let result = drill::run(&drill, &progress.events).await;
    progress.finish().await;
    let report = result?;
    print_report(config.output, &report, |report| report.text())?;
    Ok(ExitCode::SUCCESS)
}
