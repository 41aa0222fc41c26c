//! `mysfits traffic`: the entry point's split between regions; `mysfits traffic set`: move it,
//! checked and measured like a failover.

use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use super::print_report;
use crate::cli::{TrafficArgs, TrafficCommand, TrafficSetArgs};
use crate::config::Config;
use crate::entry::{CONTROL_PATIENCE, EntryPoint, EntryState, TrafficSplit};
use crate::error::{Error, Result};
use crate::failover::readiness::Thresholds;
use crate::failover::{FailoverOptions, Outcome};
use crate::progress::Progress;
use crate::traffic::{self, TrafficMove, TrafficReport};

pub async fn run(config: &Config, args: &TrafficArgs) -> Result<ExitCode> {
    match &args.command {
        None => show(config).await,
        Some(TrafficCommand::Set(set_args)) => set(config, set_args).await,
    }
}

/// What `mysfits traffic` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrafficView {
    pub mode: String,
    /// `entry_point.traffic` as configured (what a new entry point starts with).
    pub policy: String,
    pub split: Option<TrafficSplit>,
    pub entry_point: EntryState,
}

impl TrafficView {
    pub fn text(&self) -> String {
        let mut text = format!(
            "{}\npolicy for a new entry point: {}\n",
            self.entry_point.summary(&self.mode),
            self.policy
        );
        for region in self
            .entry_point
            .description()
            .into_iter()
            .flat_map(|description| &description.regions)
        {
            text.push_str(&format!(
                "  {:<16} {:<18} {:<10} {}\n",
                region.region,
                region.share(),
                region.health.as_deref().unwrap_or("-"),
                region.target
            ));
        }
        text
    }
}

async fn show(config: &Config) -> Result<ExitCode> {
    super::identity_first(config, None, super::Banner::Verbose).await?;
    let entry = EntryPoint::new(config, CONTROL_PATIENCE).await;
    let state = crate::entry::describe(&entry).await;
    let view = TrafficView {
        mode: entry.mode().to_string(),
        policy: config.entry_point.traffic.label().to_string(),
        split: state.description().map(|description| description.split()),
        entry_point: state,
    };
    print_report(config.output, &view, TrafficView::text)?;
    Ok(ExitCode::SUCCESS)
}

async fn set(config: &Config, args: &TrafficSetArgs) -> Result<ExitCode> {
    // Every input is checked before the first AWS call.
    let regions = super::failover::app_regions(config)?;
    let changes = traffic::parse_weights(&args.weights, &regions)?;
    if let Some(url) = &args.verify_url {
        super::failover::validate_http_url(url, "--verify-url")?;
    }
    super::identity_first(config, None, super::Banner::Verbose).await?;
    let entry = EntryPoint::new(config, CONTROL_PATIENCE).await;
    let entry_state = crate::entry::describe(&entry).await;
    let Some(description) = entry_state.description() else {
        return Err(Error::config(
            format!(
                "the entry point's split cannot be read: {}",
                entry_state.summary(entry.mode())
            ),
            "run `mysfits deploy` to create the entry point, or `mysfits status` to see what is wrong",
        ));
    };
    let from = description.split();
    let to = traffic::target_split(&from, &changes, &regions)?;
    let mut rising = Vec::new();
    for (target, source) in traffic::rising(&from, &to, &regions) {
        let mut failover =
            super::failover::prepare(config, &source, &target, entry.clone()).await?;
        failover.entry_state = Some(entry_state.clone());
        rising.push(failover);
    }
    let change = TrafficMove {
        entry,
        entry_state,
        from,
        to,
        rising,
    };
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
    let result = traffic::run(&change, &options, &progress.events).await;
    progress.finish().await;
    let report = result?;
    print_report(config.output, &report, TrafficReport::text)?;
    if report.outcome == Outcome::Refused {
        return Err(Error::config(
            format!(
                "{} check(s) failed (listed above): a region whose share rises is not ready; nothing was changed",
                report.not_ready().len()
            ),
            "fix what the table names and run `mysfits traffic set` again, or pass --force to move anyway",
        ));
    }
    Ok(ExitCode::SUCCESS)
}
