//! Regional failover and failback: readiness, scale-up, traffic shift, verification, report.
//!
//! One run moves traffic from a source region to a target region in five timed phases:
//! 1. readiness: both regions' facts (the source with short timeouts: it may be down) judged by
//!    [`readiness::assess`]; not ready means refuse, unless forced;
//! 2. scale: the target's services to the source's capacity, waited for until healthy;
//! 3. shift: the entry point sends new traffic to the target ([`crate::entry::shift`]);
//! 4. verify: the entry point is probed until a response comes from the target region;
//! 5. the report, with the time of every phase.
//!
//! Nothing here needs the source region: each call to it fails within seconds when it is down,
//! and what was skipped is listed. Failback is the same run with the regions swapped.

pub mod drill;
pub mod load;
pub mod probe;
pub mod readiness;
pub mod scale;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::RegionClients;
use crate::config::RegionSettings;
use crate::entry::{EntryPoint, EntryState, ShiftOutcome};
use crate::error::{Error, Result};
use crate::progress::{Event, Events, elapsed_ms};
use crate::status::facts::{self, Lookup, RegionFacts};
use probe::{Prober, Verification};
use readiness::{Check, Thresholds, Verdict};
use scale::{MinimumChange, ScalePlan, ScaleReport};

/// One region taking part in a failover.
#[derive(Debug, Clone)]
pub struct Side {
    pub settings: RegionSettings,
    pub clients: RegionClients,
    /// How long its clients wait for an answer (for the "skipped" lines).
    pub answer_limit: Duration,
}

/// Everything a failover run needs.
#[derive(Debug, Clone)]
pub struct Failover {
    pub app: String,
    pub table: String,
    pub source: Side,
    pub target: Side,
    pub entry: EntryPoint,
    /// Tasks per service when the source cannot say how many it runs (its configured count).
    pub fallback_capacity: u32,
    /// The entry point as read just before the run (to choose the direction), so that the
    /// readiness phase does not ask a possibly silent control plane a second time. `None`: the
    /// readiness phase reads it.
    pub entry_state: Option<EntryState>,
}

#[derive(Debug, Clone)]
pub struct FailoverOptions {
    pub dry_run: bool,
    pub force: bool,
    pub thresholds: Thresholds,
    /// Limit for the scale-up wait, the entry point's deployment and the verification.
    pub timeout: Duration,
    /// Probe this URL instead of the entry point's address.
    pub verify_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Traffic moved (or already was there) and the target answered through the entry point.
    Completed,
    /// Traffic moved, but something could not be confirmed (listed in warnings).
    CompletedUnverified,
    /// The target is not ready and --force was not given: nothing was changed.
    Refused,
    /// --dry-run: checks only.
    DryRun,
}

/// One timed phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    pub name: String,
    pub elapsed_ms: u64,
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailoverReport {
    pub source: String,
    pub target: String,
    pub mode: String,
    pub outcome: Outcome,
    pub forced: bool,
    pub checks: Vec<Check>,
    pub entry_point: EntryState,
    pub scale_plan: Option<ScalePlan>,
    pub scale: Option<ScaleReport>,
    pub shift: Option<ShiftOutcome>,
    pub verification: Option<Verification>,
    /// Autoscaling minimums of the region traffic left, returned to its configured count.
    pub restored_minimums: Vec<MinimumChange>,
    pub phases: Vec<Phase>,
    /// Calls to a region that did not answer, and steps left out because of it.
    pub skipped: Vec<String>,
    pub warnings: Vec<String>,
    pub total_ms: u64,
}

impl FailoverReport {
    pub fn not_ready(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|check| check.verdict == Verdict::NotReady)
            .collect()
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut text = format!(
            "failover {} -> {} ({}){}\n",
            self.source,
            self.target,
            self.mode,
            match self.outcome {
                Outcome::Completed => ": done",
                Outcome::CompletedUnverified => ": done, not verified",
                Outcome::Refused => ": REFUSED, target not ready",
                Outcome::DryRun => ": dry run, nothing changed",
            }
        );
        text.push_str(&format!("readiness of {}:\n", self.target));
        text.push_str(&readiness::table(&self.checks));
        if self.forced && !self.not_ready().is_empty() {
            text.push_str("  (--force: went on although not ready)\n");
        }
        if let Some(plan) = &self.scale_plan {
            text.push_str(&format!("scale plan (from {}):\n", plan.capacity_from));
            for service in &plan.services {
                text.push_str(&format!(
                    "  {} {} -> {}\n",
                    service.name, service.from, service.to
                ));
            }
        }
        if !self.phases.is_empty() {
            text.push_str("phases:\n");
            let width = self
                .phases
                .iter()
                .map(|phase| phase.name.len())
                .max()
                .unwrap_or(0);
            for phase in &self.phases {
                text.push_str(&format!(
                    "  {:<width$}  {:>7.1}s  {}\n",
                    phase.name,
                    phase.elapsed_ms as f64 / 1000.0,
                    phase.result
                ));
            }
            text.push_str(&format!(
                "  {:<width$}  {:>7.1}s\n",
                "total",
                self.total_ms as f64 / 1000.0
            ));
        }
        let raised = self.scale.iter().flat_map(|scale| &scale.minimums);
        let changes: Vec<String> = raised
            .map(|change| ("raised", change))
            .chain(
                self.restored_minimums
                    .iter()
                    .map(|change| ("restored", change)),
            )
            .map(|(how, change)| {
                format!(
                    "  {} {} {} -> {} ({how})\n",
                    change.region, change.service, change.from, change.to
                )
            })
            .collect();
        if !changes.is_empty() {
            text.push_str("autoscaling minimum:\n");
            text.push_str(&changes.concat());
        }
        if let Some(scale) = self
            .scale
            .as_ref()
            .filter(|scale| !scale.without_autoscaling.is_empty())
        {
            text.push_str(&format!(
                "no scalable target for {} in {}: only the desired count was raised\n",
                scale.without_autoscaling.join(", "),
                self.target
            ));
        }
        for skipped in &self.skipped {
            text.push_str(&format!("skipped: {skipped}\n"));
        }
        for warning in &self.warnings {
            text.push_str(&format!("warning: {warning}\n"));
        }
        text
    }
}

/// Picks source and target: `--to` if given (must be one of the app's regions), else the region
/// that does not serve now according to the entry point.
pub fn choose_direction(
    regions: [&str; 2],
    to: Option<&str>,
    serving: Option<&str>,
) -> Result<(String, String)> {
    let [first, second] = regions;
    let target = match to {
        Some(to) if to == first || to == second => to,
        Some(to) => {
            return Err(Error::config(
                format!("--to {to} is not one of the app's regions ({first}, {second})"),
                format!("pass --to {first} or --to {second}"),
            ));
        }
        None => match serving {
            Some(serving) if serving == first => second,
            Some(serving) if serving == second => first,
            _ => {
                return Err(Error::config(
                    "cannot tell which region serves now (the entry point is missing, unavailable or splits traffic)",
                    format!("name the target: --to {first} or --to {second}"),
                ));
            }
        },
    };
    let source = if target == first { second } else { first };
    Ok((source.to_string(), target.to_string()))
}

/// Runs the phases; see the module documentation.
pub async fn run(
    failover: &Failover,
    options: &FailoverOptions,
    events: &Events,
) -> Result<FailoverReport> {
    let started = Instant::now();
    let source_name = failover.source.settings.name.clone();
    let target_name = failover.target.settings.name.clone();
    let mut report = FailoverReport {
        source: source_name.clone(),
        target: target_name.clone(),
        mode: failover.entry.mode().to_string(),
        outcome: Outcome::DryRun,
        forced: options.force,
        checks: Vec::new(),
        entry_point: EntryState::Absent,
        scale_plan: None,
        scale: None,
        shift: None,
        verification: None,
        restored_minimums: Vec::new(),
        phases: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        total_ms: 0,
    };

    // 1. readiness
    let phase = PhaseClock::start(events, "readiness");
    let (source_facts, target_facts, entry_state) = tokio::join!(
        gather(failover, &failover.source, &target_name),
        gather(failover, &failover.target, &source_name),
        async {
            match &failover.entry_state {
                Some(state) => state.clone(),
                None => crate::entry::describe(&failover.entry).await,
            }
        },
    );
    report.skipped.extend(source_facts.skipped.iter().cloned());
    report.skipped.extend(target_facts.skipped.iter().cloned());
    report.checks = readiness::assess(&source_facts, &target_facts, options.thresholds);
    report.entry_point = entry_state;
    let plan = scale::plan(&source_facts, &target_facts, failover.fallback_capacity);
    report.scale_plan = Some(plan.clone());
    let failing = report.not_ready().len();
    let summary = if failing == 0 {
        format!("{target_name} is ready")
    } else {
        format!("{failing} check(s) not ready")
    };
    report.phases.push(phase.finish(events, summary));

    if failing > 0 && !options.force && !options.dry_run {
        report.outcome = Outcome::Refused;
        report.total_ms = elapsed_ms(started.elapsed());
        return Ok(report);
    }
    if options.dry_run {
        report.outcome = Outcome::DryRun;
        report.total_ms = elapsed_ms(started.elapsed());
        return Ok(report);
    }

    // 2. scale
    let phase = PhaseClock::start(events, "scale");
    let scaled = scale::scale(
        &failover.target.clients,
        &plan,
        options.timeout,
        events,
        "scale",
    )
    .await?;
    let summary = if scaled.settled {
        format!("settled: {}", scaled.observed.join("; "))
    } else {
        format!(
            "not settled after {:.0}s: {}",
            scaled.waited_ms as f64 / 1000.0,
            scaled.observed.join("; ")
        )
    };
    if !scaled.settled {
        if !options.force {
            report.phases.push(phase.fail(events, &summary));
            report.scale = Some(scaled);
            return Err(Error::Timeout {
                what: format!("{target_name}'s services to run healthy at the new capacity"),
                waited: options.timeout,
                fix: format!(
                    "traffic was NOT shifted; see `mysfits status` for what is missing, then run failover again \
                     (--timeout for a longer wait, --force to shift anyway): {}",
                    report
                        .phases
                        .last()
                        .map(|phase| phase.result.as_str())
                        .unwrap_or_default()
                ),
            });
        }
        report.warnings.push(format!(
            "scale-up did not settle (--force: went on): {summary}"
        ));
    }
    report.scale = Some(scaled);
    report.phases.push(phase.finish(events, summary));

    // 3. shift
    let phase = PhaseClock::start(events, "shift");
    let shifted = crate::entry::shift(
        &failover.entry,
        &source_name,
        &target_name,
        events,
        "shift",
        options.timeout,
    )
    .await;
    let shifted = match shifted {
        Ok(shifted) => shifted,
        Err(error) => {
            report.phases.push(phase.fail(events, &error.to_string()));
            return Err(error);
        }
    };
    let summary = match &shifted {
        ShiftOutcome::Shifted {
            actions,
            control_plane_ms,
        } => format!(
            "{} (control plane {:.1}s)",
            actions.join(", "),
            *control_plane_ms as f64 / 1000.0
        ),
        ShiftOutcome::AlreadyServing => format!("{target_name} already receives the traffic"),
        ShiftOutcome::Skipped { reason } => {
            report.skipped.push(format!("traffic shift: {reason}"));
            "skipped (see below)".to_string()
        }
    };
    report.shift = Some(shifted);
    report.phases.push(phase.finish(events, summary));

    // 4. verify
    let phase = PhaseClock::start(events, "verify");
    let url = match &options.verify_url {
        Some(url) => Ok(url.clone()),
        None => entry_address(&failover.entry, &report.entry_point),
    };
    let verification = match url {
        Ok(url) => {
            let prober = Prober::new(Duration::from_secs(5))?;
            probe::wait_for_region(&prober, &url, &target_name, options.timeout).await
        }
        Err(reason) => Verification::Skipped {
            reason: format!("{reason}; pass --verify-url to probe another URL"),
        },
    };
    let summary = match &verification {
        Verification::Verified {
            url,
            after_ms,
            probes,
        } => format!(
            "{target_name} answered at {url} after {:.1}s ({probes} probes)",
            *after_ms as f64 / 1000.0
        ),
        Verification::NotVerified { url, probes, last } => {
            let last = last
                .as_ref()
                .map(|answer| match (&answer.status, &answer.error) {
                    (Some(status), _) => format!(
                        "last: HTTP {status} from {}",
                        answer.region.as_deref().unwrap_or("an unknown region")
                    ),
                    (None, Some(error)) => format!("last: {error}"),
                    (None, None) => String::new(),
                })
                .unwrap_or_default();
            let text = format!(
                "{target_name} did not answer at {url} within {:.0}s ({probes} probes; {last})",
                options.timeout.as_secs_f64()
            );
            report.warnings.push(text.clone());
            text
        }
        Verification::Skipped { reason } => {
            report.skipped.push(format!("verification: {reason}"));
            "skipped (see below)".to_string()
        }
    };
    report.verification = Some(verification);
    report.phases.push(phase.finish(events, summary));

    // The region traffic left goes back to its configured minimum (it was raised when traffic
    // came to it). Best effort: the failover itself is done.
    if source_facts.unreachable.is_some() {
        report.skipped.push(format!(
            "autoscaling minimum of {source_name}: not checked, it did not answer (the next \
             failover away from it restores it)"
        ));
    } else {
        match scale::restore_minimums(&failover.source.clients, &source_facts).await {
            Ok(changes) => {
                for change in &changes {
                    events.note(
                        "restore",
                        format!(
                            "{} autoscaling minimum {} -> {} in {}",
                            change.service, change.from, change.to, change.region
                        ),
                    );
                }
                report.restored_minimums = changes;
            }
            Err(error) => report.warnings.push(format!(
                "autoscaling minimum of {source_name} not restored: {error}"
            )),
        }
    }

    report.outcome = if matches!(report.verification, Some(Verification::Verified { .. })) {
        Outcome::Completed
    } else {
        Outcome::CompletedUnverified
    };
    report.total_ms = elapsed_ms(started.elapsed());
    Ok(report)
}

/// The URL that reaches the app through the entry point, or why there is none. An entry point
/// managed through an endpoint override (an emulator) has names nobody can resolve: probing them
/// would only ask a DNS server about a name that does not exist.
pub fn entry_address(
    entry: &EntryPoint,
    state: &EntryState,
) -> std::result::Result<String, String> {
    if let Some(endpoint) = &entry.endpoint {
        return Err(format!(
            "the entry point is managed at {endpoint}, an endpoint override, so its address is not probed"
        ));
    }
    state
        .description()
        .and_then(|description| description.address.as_deref())
        .map(|address| format!("http://{address}/health"))
        .ok_or_else(|| {
            format!(
                "the entry point has no address to probe ({})",
                state.summary(entry.mode())
            )
        })
}

async fn gather(failover: &Failover, side: &Side, other_region: &str) -> RegionFacts {
    facts::gather(
        &side.clients,
        &Lookup {
            app: &failover.app,
            table: &failover.table,
            home: side.settings.home,
            other_regions: &[other_region],
            answer_limit: side.answer_limit,
        },
    )
    .await
}

/// Times one phase and reports it as a progress step.
struct PhaseClock {
    name: &'static str,
    started: Instant,
}

impl PhaseClock {
    fn start(events: &Events, name: &'static str) -> PhaseClock {
        events.emit(Event::StepStarted {
            step: name.to_string(),
        });
        PhaseClock {
            name,
            started: Instant::now(),
        }
    }

    fn finish(self, events: &Events, result: String) -> Phase {
        let elapsed = elapsed_ms(self.started.elapsed());
        events.emit(Event::StepFinished {
            step: self.name.to_string(),
            summary: result.clone(),
            elapsed_ms: elapsed,
        });
        Phase {
            name: self.name.to_string(),
            elapsed_ms: elapsed,
            result,
        }
    }

    fn fail(self, events: &Events, error: &str) -> Phase {
        events.emit(Event::StepFailed {
            step: self.name.to_string(),
            error: error.to_string(),
        });
        Phase {
            name: self.name.to_string(),
            elapsed_ms: elapsed_ms(self.started.elapsed()),
            result: format!("FAILED: {error}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_named_or_the_region_not_serving() {
        let regions = ["us-east-1", "us-west-2"];
        assert_eq!(
            choose_direction(regions, Some("us-west-2"), None).unwrap(),
            ("us-east-1".to_string(), "us-west-2".to_string())
        );
        assert_eq!(
            choose_direction(regions, None, Some("us-west-2")).unwrap(),
            ("us-west-2".to_string(), "us-east-1".to_string())
        );
        let unknown = choose_direction(regions, None, None)
            .unwrap_err()
            .to_string();
        assert!(
            unknown.contains("--to us-east-1 or --to us-west-2"),
            "{unknown}"
        );
        let stranger = choose_direction(regions, Some("eu-west-1"), None)
            .unwrap_err()
            .to_string();
        assert!(
            stranger.contains("not one of the app's regions"),
            "{stranger}"
        );
    }
}
