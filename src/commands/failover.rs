//! `mysfits failover`: checked, measured regional failover and failback.

use std::process::ExitCode;
use std::time::Duration;

use super::print_report;
use crate::aws::{Patience, RegionClients};
use crate::cli::FailoverArgs;
use crate::config::Config;
use crate::entry::{CONTROL_PATIENCE, EntryDescription, EntryPoint, EntryState};
use crate::error::{Error, Result};
use crate::failover::readiness::Thresholds;
use crate::failover::{self, Failover, FailoverOptions, FailoverReport, Outcome, Side};
use crate::progress::Progress;

pub async fn run(config: &Config, args: &FailoverArgs) -> Result<ExitCode> {
    // Every input is checked before the first AWS call.
    let regions = app_regions(config)?;
    if let Some(to) = &args.to {
        failover::validate_target(&regions, to)?;
    }
    if let Some(url) = &args.verify_url {
        validate_http_url(url, "--verify-url")?;
    }
    super::identity_first(config, args.to.as_deref(), super::Banner::Verbose).await?;
    let entry = EntryPoint::new(config, CONTROL_PATIENCE).await;
    // Two regions and --to: the source is the other one, so the readiness phase reads the entry
    // point, alongside the regions' facts (its control plane may be slow to say it is gone).
    let entry_state = if args.to.is_none() || regions.len() > 2 {
        Some(crate::entry::describe(&entry).await)
    } else {
        None
    };
    let split = entry_state
        .as_ref()
        .and_then(EntryState::description)
        .map(EntryDescription::split);
    let direction = failover::choose_direction(&regions, args.to.as_deref(), split.as_ref())?;
    let mut failover = prepare(config, &direction.source, &direction.target, entry).await?;
    failover.entry_state = entry_state;
    failover.direction_note = direction.assumption;
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

/// The app's region names in configured order (home first); failover needs at least two.
pub fn app_regions(config: &Config) -> Result<Vec<&str>> {
    let regions = config.region_names();
    if regions.len() < 2 {
        return Err(failover::needs_two_regions());
    }
    Ok(regions)
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
        config.region_named(name).cloned().ok_or_else(|| {
            Error::config(
                format!("{name} is not one of the app's regions"),
                format!("pass --to with one of {}", config.region_names().join(", ")),
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
        direction_note: None,
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
