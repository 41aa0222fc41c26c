//! `mysfits failover`: checked, measured regional failover and failback.

use std::process::ExitCode;
use std::time::Duration;

use super::print_report;
use crate::aws::{Patience, RegionClients};
use crate::cli::FailoverArgs;
use crate::config::{Config, RegionSettings};
use crate::entry::{CONTROL_PATIENCE, EntryPoint, EntryState};
use crate::error::{Error, Result};
use crate::failover::readiness::Thresholds;
use crate::failover::{self, Failover, FailoverOptions, FailoverReport, Outcome, Side};
use crate::progress::Progress;

pub async fn run(config: &Config, args: &FailoverArgs) -> Result<ExitCode> {
    let secondary = two_regions(config)?;
    if let Some(url) = &args.verify_url {
        validate_http_url(url, "--verify-url")?;
    }
    let entry = EntryPoint::new(config, CONTROL_PATIENCE).await;
    let entry_state = match &args.to {
        Some(_) => None,
        None => Some(crate::entry::describe(&entry).await),
    };
    let serving = entry_state
        .as_ref()
        .and_then(EntryState::description)
        .and_then(|description| description.serving_region());
    let (source, target) = failover::choose_direction(
        [&config.primary().name, &secondary.name],
        args.to.as_deref(),
        serving,
    )?;
    let mut failover = prepare(config, &source, &target, entry).await?;
    failover.entry_state = entry_state;
    let options = FailoverOptions {
        dry_run: args.dry_run,
        force: args.force,
        thresholds: Thresholds {
            max_replication_latency_ms: f64::from(args.max_replication_latency_ms),
        },
        timeout: Duration::from_secs(args.timeout.max(1)),
        verify_url: args.verify_url.clone(),
    };
    let progress = Progress::start();
    let result = failover::run(&failover, &options, &progress.events).await;
    progress.finish().await;
    let report = result?;
    print_report(config.output, &report, FailoverReport::text)?;
    if report.outcome == Outcome::Refused {
        return Err(Error::config(
            format!(
                "{} is not ready to take the traffic: {} check(s) failed (listed above); nothing was changed",
                report.target,
                report.not_ready().len()
            ),
            "fix what the table names and run failover again, or pass --force to shift anyway",
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The secondary region; failover needs two.
pub fn two_regions(config: &Config) -> Result<&RegionSettings> {
    config.secondary().ok_or_else(|| {
        Error::config(
            "failover needs a secondary region, and none is configured",
            "pass --secondary-region (or set secondary_region in mysfits.yaml) and deploy to it first",
        )
    })
}

/// Clients for a failover from `source` to `target`: the source's with short timeouts (it may be
/// down), the target's with the normal ones.
pub async fn prepare(
    config: &Config,
    source: &str,
    target: &str,
    entry: EntryPoint,
) -> Result<Failover> {
    let settings = |name: &str| {
        config
            .regions()
            .find(|region| region.name == name)
            .cloned()
            .ok_or_else(|| {
                Error::config(
                    format!("{name} is not one of the app's regions"),
                    "pass --to with the primary or the secondary region",
                )
            })
    };
    let source_settings = settings(source)?;
    let target_settings = settings(target)?;
    let source_patience = Patience::IMPATIENT;
    let target_patience = Patience::DEPLOY;
    Ok(Failover {
        app: config.app.clone(),
        table: config.table_name(),
        fallback_capacity: source_settings.desired_count,
        source: Side {
            clients: RegionClients::for_region(config, &source_settings, source_patience).await,
            answer_limit: source_patience.operation,
            settings: source_settings,
        },
        target: Side {
            clients: RegionClients::for_region(config, &target_settings, target_patience).await,
            answer_limit: target_patience.operation,
            settings: target_settings,
        },
        entry,
        entry_state: None,
    })
}

pub fn validate_http_url(url: &str, flag: &str) -> Result<()> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(())
        }
        _ => Err(Error::config(
            format!("{flag} {url:?} is not an http(s) URL"),
            "write it as http://HOST[:PORT]/PATH, e.g. http://127.0.0.1:8080/health",
        )),
    }
}
