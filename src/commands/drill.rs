//! `mysfits drill`: failover and failback under load, measured.

use std::process::ExitCode;
use std::time::Duration;

use super::failover::{app_regions, prepare, validate_http_url};
use super::print_report;
use crate::cancel::Cancellation;
use crate::cli::DrillArgs;
use crate::config::Config;
use crate::entry::{CONTROL_PATIENCE, EntryPoint};
use crate::error::{Error, Result};
use crate::failover::FailoverOptions;
use crate::failover::drill::{self, Drill, Kill};
use crate::failover::readiness::Thresholds;
use crate::progress::Progress;

/// Bounds that keep a drill a drill, not a load test.
const MAX_RATE: u32 = 500;
const DURATION_SECONDS: std::ops::RangeInclusive<u64> = 5..=3600;

/// How long the load runs by default: a minute for the planned round trip; ten with `--kill`,
/// whose outage must outlast the health checks (30 s x 3 by default) and the way back.
const DEFAULT_DURATION: u64 = 60;
const DEFAULT_DURATION_WITH_KILL: u64 = 600;

pub async fn run(config: &Config, args: &DrillArgs) -> Result<ExitCode> {
    let regions = app_regions(config)?;
    // There and back: from the start region (home, or the one --kill stops) to the named region
    // (or the first other one), then back; with --kill, the start region then fails.
    let start = match &args.kill {
        Some(kill) => regions
            .iter()
            .find(|region| **region == kill.as_str())
            .copied()
            .ok_or_else(|| {
                Error::config(
                    format!(
                        "--kill {kill} is not one of the app's regions ({})",
                        regions.join(", ")
                    ),
                    format!("name one of them: --kill {}", regions[0]),
                )
            })?,
        None => regions[0],
    };
    let other = regions
        .iter()
        .copied()
        .find(|region| *region != start)
        .unwrap_or(regions[1]);
    let away = match &args.to {
        Some(to) => crate::failover::validate_target(&regions, to)?,
        None => other,
    };
    if away == start {
        return Err(match &args.kill {
            Some(_) => Error::config(
                format!(
                    "--to {away} is the region --kill stops: the drill fails over from it and back before the kill"
                ),
                format!("name another region: --to {other}"),
            ),
            None => Error::config(
                format!("--to {away} is the home region, where the drill starts and ends"),
                format!("name another region: --to {other}"),
            ),
        });
    }
    if !(1..=MAX_RATE).contains(&args.rate) {
        return Err(Error::config(
            format!("--rate {} is out of range", args.rate),
            format!("use 1 to {MAX_RATE} requests per second"),
        ));
    }
    let duration = args.duration.unwrap_or(if args.kill.is_some() {
        DEFAULT_DURATION_WITH_KILL
    } else {
        DEFAULT_DURATION
    });
    if !DURATION_SECONDS.contains(&duration) {
        return Err(Error::config(
            format!("--duration {duration} is out of range"),
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
    let state = if args.target.is_none() || args.kill.is_some() {
        Some(crate::entry::describe(&entry).await)
    } else {
        None
    };
    if let (Some(_), Some(description)) = (
        &args.kill,
        state.as_ref().and_then(|state| state.description()),
    ) {
        let split = description.split();
        if split.weight(start) == 0 {
            let serving: Vec<String> = split
                .serving()
                .iter()
                .map(|region| region.as_str().to_string())
                .collect();
            return Err(Error::config(
                format!(
                    "--kill {start}: {start} serves no traffic now (the entry point sends it to {})",
                    if serving.is_empty() {
                        "no region".to_string()
                    } else {
                        serving.join(", ")
                    }
                ),
                format!(
                    "kill a region that serves{}, or move traffic first: `mysfits failover --to {start}`",
                    serving
                        .first()
                        .map(|region| format!(" (--kill {region})"))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    let url = match (&args.target, &state) {
        (Some(url), _) => url.clone(),
        (None, Some(state)) => crate::failover::entry_address(&entry, state).map_err(|reason| {
            Error::config(
                format!("no URL to send load to: {reason}"),
                "deploy first, or pass --target URL (e.g. a load balancer or a local test server)",
            )
        })?,
        (None, None) => {
            return Err(Error::internal("the entry point was not read"));
        }
    };
    let drill = Drill {
        url: url.clone(),
        rate: args.rate,
        duration: Duration::from_secs(duration),
        there: prepare(config, start, away, entry.clone()).await?,
        back: prepare(config, away, start, entry).await?,
        options: FailoverOptions {
            dry_run: false,
            force: args.force,
            thresholds: Thresholds {
                max_replication_latency_ms: f64::from(args.max_replication_latency_ms),
            },
            timeout: Duration::from_secs(args.timeout.max(1)),
            verify_url: Some(url),
        },
        kill: args.kill.as_ref().map(|_| Kill {
            alarms: config
                .auto_failover
                .enabled
                .then(|| crate::auto_failover::failure_alarm_names(&config.app)),
        }),
    };
    let progress = Progress::start();
    let cancellation = Cancellation::new();
    let ctrl_c = cancellation.on_ctrl_c(&progress.events, "drill");
    let result = drill::run(&drill, &progress.events, &cancellation).await;
    drop(ctrl_c);
    progress.finish().await;
    let report = result?;
    print_report(config.output, &report, |report| report.text())?;
    Ok(ExitCode::SUCCESS)
}
