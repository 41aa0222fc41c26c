//! Regional failover and failback: readiness, scale-up, traffic shift, verification, report.
//!
//! One run moves traffic from a source region (the one serving now, from the entry point's traffic
//! split) to a target region (any other of the app's regions, see [`choose_direction`]) in five
//! timed phases:
//! 1. readiness: the source's and the target's facts (the source with short timeouts: it may be down) judged by
//!    [`readiness::assess`]; not ready means refuse, unless forced;
//! 2. scale: the target's services to the source's capacity, waited for until healthy;
//! 3. shift: the entry point sends new traffic to the target ([`crate::entry::shift`]);
//! 4. writes: the write region (the one region that takes adoptions and likes) moves from the
//!    source to the target, fenced ([`crate::writes::move_write_region`]); `--force` moves it
//!    even when the source does not answer (writes it had not replicated may be lost);
//! 5. verify: the entry point is probed until a response comes from the target region;
//! 6. the report, with the time of every phase.
//!
//! Nothing here needs the source region: each call to it fails within seconds when it is down,
//! and what was skipped is listed. Failback is the same run with the regions swapped. Regions
//! that neither serve nor take the traffic are not touched.

pub mod drill;
pub mod kill;
pub mod load;
pub mod outage;
pub mod probe;
pub mod readiness;
pub mod scale;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::RegionClients;
use crate::config::RegionSettings;
use crate::entry::{EntryPoint, EntryState, ShiftOutcome, TrafficSplit};
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
    /// A note on how the direction was chosen ([`Direction::assumption`]), for the report.
    pub direction_note: Option<String>,
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
    /// The write region's move (`None`: not attempted, e.g. a dry run).
    pub writes: Option<crate::writes::MoveReport>,
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
    pub(crate) fn new(failover: &Failover, options: &FailoverOptions) -> FailoverReport {
        FailoverReport {
            source: failover.source.settings.name.clone(),
            target: failover.target.settings.name.clone(),
            mode: failover.entry.mode().to_string(),
            outcome: Outcome::DryRun,
            forced: options.force,
            checks: Vec::new(),
            entry_point: EntryState::Absent,
            scale_plan: None,
            scale: None,
            shift: None,
            writes: None,
            verification: None,
            restored_minimums: Vec::new(),
            phases: Vec::new(),
            skipped: Vec::new(),
            warnings: failover.direction_note.iter().cloned().collect(),
            total_ms: 0,
        }
    }

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
        text.push_str(&self.phases_text());
        text.push_str(&self.autoscaling_text());
        for skipped in &self.skipped {
            text.push_str(&format!("skipped: {skipped}\n"));
        }
        for warning in &self.warnings {
            text.push_str(&format!("warning: {warning}\n"));
        }
        text
    }

    /// Each phase with its time, and the total.
    fn phases_text(&self) -> String {
        phases_text(&self.phases, self.total_ms)
    }

    /// Autoscaling ranges raised in the target and restored in the source, and services that
    /// have no scalable target.
    fn autoscaling_text(&self) -> String {
        let mut text = String::new();
        let raised = self.scale.iter().flat_map(|scale| &scale.minimums);
        let changes: Vec<String> = raised
            .map(|change| range_change_line(change, "raised"))
            .chain(
                self.restored_minimums
                    .iter()
                    .map(|change| range_change_line(change, "restored")),
            )
            .collect();
        if !changes.is_empty() {
            text.push_str("autoscaling minimum and maximum:\n");
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
        text
    }
}

/// One service's autoscaling change: the minimum, then the maximum (raised above the stack's
/// MaxCount when the source ran more, restored with the minimum; one number when unchanged).
fn range_change_line(change: &MinimumChange, how: &str) -> String {
    let maximum = if change.max_from == change.max_to {
        format!("maximum {}", change.max_to)
    } else {
        format!("maximum {} -> {}", change.max_from, change.max_to)
    };
    format!(
        "  {} {} {} -> {} ({how}), {maximum}\n",
        change.region, change.service, change.from, change.to
    )
}

/// Where a failover run moves traffic from and to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Direction {
    pub source: String,
    pub target: String,
    /// Set when the source is a guess: more than two regions and no traffic split to read it
    /// from. Goes into the report's warnings.
    pub assumption: Option<String>,
}

/// Picks source and target among the app's `regions` (configured order, home first).
///
/// Target: `--to` if given (it must be one of the regions); otherwise, with two regions, the one
/// that does not serve now; with more, the home region when it does not serve (failback), and
/// `--to` is required when home serves (any other region could be meant).
///
/// Source: the region serving now according to the `split`, when that is one region other than
/// the target. Otherwise (the split is unknown, e.g. the control plane does not answer, or the
/// target already serves): with two regions the other one; with more, home (or, when home is the
/// target, the first other region), and the direction says it assumed that.
pub fn choose_direction(
    regions: &[&str],
    to: Option<&str>,
    split: Option<&TrafficSplit>,
) -> Result<Direction> {
    let [home, second, ..] = regions else {
        return Err(needs_two_regions());
    };
    let serving = split.and_then(TrafficSplit::serving_region);
    let target = match to {
        Some(to) => validate_target(regions, to)?,
        None => default_target(regions, serving.map(|region| region.as_str()))?,
    };
    if let Some(serving) = serving.filter(|serving| *serving != target) {
        return Ok(Direction {
            source: serving.to_string(),
            target: target.to_string(),
            assumption: None,
        });
    }
    let source = if target == *home { *second } else { *home };
    let assumption = (regions.len() > 2 && serving.is_none()).then(|| {
        format!(
            "the entry point's traffic split could not be read, so {source} was taken as the region serving now (its capacity is the scale-up's measure)"
        )
    });
    Ok(Direction {
        source: source.to_string(),
        target: target.to_string(),
        assumption,
    })
}

/// The error for an app with fewer than two regions.
pub fn needs_two_regions() -> Error {
    Error::config(
        "failover needs a second region, and only one is configured",
        "pass --secondary-region (or list a second region under regions: in mysfits.yaml) and deploy to it first",
    )
}

/// `to` if it is one of the app's regions.
pub fn validate_target<'a>(regions: &[&'a str], to: &str) -> Result<&'a str> {
    regions
        .iter()
        .find(|region| **region == to)
        .copied()
        .ok_or_else(|| {
            Error::config(
                format!(
                    "--to {to} is not one of the app's regions ({})",
                    regions.join(", ")
                ),
                format!("pass {}", to_flags(regions)),
            )
        })
}

/// The target when `--to` is not given; see [`choose_direction`].
fn default_target<'a>(regions: &[&'a str], serving: Option<&str>) -> Result<&'a str> {
    let Some(serving) = serving else {
        return Err(Error::config(
            "cannot tell which region serves now (the entry point is missing, unavailable or splits traffic)",
            format!("name the target: {}", to_flags(regions)),
        ));
    };
    let others: Vec<&str> = regions
        .iter()
        .copied()
        .filter(|region| *region != serving)
        .collect();
    match (regions, others.as_slice()) {
        (_, [only]) => Ok(only),
        ([home, ..], _) if *home != serving => Ok(home),
        _ => Err(Error::config(
            format!(
                "{serving} serves now and the app has {} other regions: which one should take the traffic?",
                others.len()
            ),
            format!("name the target: {}", to_flags(&others)),
        )),
    }
}

/// "--to a or --to b", "--to a, --to b or --to c".
fn to_flags(regions: &[&str]) -> String {
    let flags: Vec<String> = regions
        .iter()
        .map(|region| format!("--to {region}"))
        .collect();
    match flags.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => flags.concat(),
    }
}

/// Runs the phases; see the module documentation.
pub async fn run(
    failover: &Failover,
    options: &FailoverOptions,
    events: &Events,
) -> Result<FailoverReport> {
    let started = Instant::now();
    let mut report = FailoverReport::new(failover, options);
    let source_facts = readiness_phase(failover, options, events, &mut report).await;
    let not_ready = !report.not_ready().is_empty();
    if options.dry_run {
        report
            .phases
            .push(planned_writes_move(&source_facts, &report.target));
    }
    if options.dry_run || (not_ready && !options.force) {
        report.outcome = if options.dry_run {
            Outcome::DryRun
        } else {
            Outcome::Refused
        };
        report.total_ms = elapsed_ms(started.elapsed());
        return Ok(report);
    }
    scale_phase(failover, options, events, &mut report).await?;
    shift_phase(failover, options, events, &mut report).await?;
    writes_phase(failover, options, events, &mut report).await;
    verify_phase(failover, options, events, &mut report).await?;
    restore_source_minimums(failover, &source_facts, events, &mut report).await;
    report.outcome = if matches!(report.verification, Some(Verification::Verified { .. })) {
        Outcome::Completed
    } else {
        Outcome::CompletedUnverified
    };
    report.total_ms = elapsed_ms(started.elapsed());
    Ok(report)
}

/// What the writes phase would do, from the source's replica as the readiness phase read it
/// (a dry run changes nothing, so the move is described, not timed).
fn planned_writes_move(source_facts: &RegionFacts, target: &str) -> Phase {
    let result = match &source_facts.write_region {
        Some(control) if control.write_region == target && control.state == "active" => {
            format!(
                "write region already {target} (epoch {}): nothing to move",
                control.epoch
            )
        }
        Some(control) => format!(
            "would move the write region {} (epoch {}, {}) -> {target}",
            control.write_region, control.epoch, control.state
        ),
        None if source_facts.unreachable.is_some() => format!(
            "{} does not answer: the move would need --force (writes it had not replicated may be lost)",
            source_facts.region
        ),
        None => format!(
            "no control item in {}: the move would create it frozen there, then switch to {target}",
            source_facts.region
        ),
    };
    Phase {
        name: "writes".into(),
        elapsed_ms: 0,
        result,
    }
}

/// Phase 1: the source's and the target's facts and the entry point, judged; the scale plan. Returns the
/// source's facts (the restore at the end needs them).
pub(crate) async fn readiness_phase(
    failover: &Failover,
    options: &FailoverOptions,
    events: &Events,
    report: &mut FailoverReport,
) -> RegionFacts {
    let phase = PhaseClock::start(events, "readiness");
    let (source_facts, target_facts, entry_state) = tokio::join!(
        gather(failover, &failover.source, &failover.target),
        gather(failover, &failover.target, &failover.source),
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
    report.scale_plan = Some(scale::plan(
        &source_facts,
        &target_facts,
        failover.fallback_capacity,
    ));
    let failing = report.not_ready().len();
    let summary = if failing == 0 {
        format!("{} is ready", report.target)
    } else {
        format!("{failing} check(s) not ready")
    };
    report.phases.push(phase.finish(events, summary));
    source_facts
}

/// Phase 2: the target's services to the planned counts, waited for until healthy. Not settled
/// is an error (traffic not shifted) unless forced.
pub(crate) async fn scale_phase(
    failover: &Failover,
    options: &FailoverOptions,
    events: &Events,
    report: &mut FailoverReport,
) -> Result<()> {
    let phase = PhaseClock::start(events, "scale");
    let plan = report
        .scale_plan
        .clone()
        .ok_or_else(|| Error::internal("the scale phase ran without a scale plan"))?;
    let scaled = scale::scale(
        &failover.target.clients,
        &plan,
        options.timeout,
        events,
        "scale",
    )
    .await?;
    let summary = scaled.summary();
    let settled = scaled.settled;
    report.scale = Some(scaled);
    if !settled && !options.force {
        report.phases.push(phase.fail(events, &summary));
        return Err(Error::Timeout {
            what: format!(
                "{}'s services to run healthy at the new capacity",
                report.target
            ),
            waited: options.timeout,
            fix: format!(
                "traffic was NOT shifted; see `mysfits status` for what is missing, then run failover again \
                 (--timeout for a longer wait, --force to shift anyway): FAILED: {summary}"
            ),
        });
    }
    if !settled {
        report.warnings.push(format!(
            "scale-up did not settle (--force: went on): {summary}"
        ));
    }
    report.phases.push(phase.finish(events, summary));
    Ok(())
}

/// Phase 3: the entry point sends new connections to the target.
async fn shift_phase(
    failover: &Failover,
    options: &FailoverOptions,
    events: &Events,
    report: &mut FailoverReport,
) -> Result<()> {
    let phase = PhaseClock::start(events, "shift");
    let shifted = crate::entry::shift(
        &failover.entry,
        &report.source,
        &report.target,
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
    if let ShiftOutcome::Skipped { reason } = &shifted {
        report.skipped.push(format!("traffic shift: {reason}"));
    }
    report
        .phases
        .push(phase.finish(events, shifted.summary(&report.target)));
    report.shift = Some(shifted);
    Ok(())
}

/// Phase 4: the write region moves to the target. A move that is refused (the source's replica
/// is not drained in time, or the source does not answer and the run is not forced) leaves the
/// write region where it was: traffic has moved, writes still go (across regions) to the old
/// write region, which the report warns about.
async fn writes_phase(
    failover: &Failover,
    options: &FailoverOptions,
    events: &Events,
    report: &mut FailoverReport,
) {
    let phase = PhaseClock::start(events, "writes");
    let moved = crate::writes::move_write_region(
        crate::writes::Replica {
            region: &report.source,
            client: &failover.source.clients.dynamodb,
            table: &failover.table,
        },
        crate::writes::Replica {
            region: &report.target,
            client: &failover.target.clients.dynamodb,
            table: &failover.table,
        },
        crate::writes::MoveOptions {
            force: options.force,
        },
    )
    .await;
    match moved {
        Ok(moved) => {
            let summary = moved.summary();
            if let Some(warning) = &moved.warning {
                report.warnings.push(warning.clone());
            }
            report.writes = Some(moved);
            report.phases.push(phase.finish(events, summary));
        }
        Err(error) => {
            report.warnings.push(format!(
                "the write region was not moved to {}: {error}",
                report.target
            ));
            report.phases.push(phase.fail(events, &error.to_string()));
        }
    }
}

/// Phase 5: the entry point (or `--verify-url`) probed until the target answers.
async fn verify_phase(
    failover: &Failover,
    options: &FailoverOptions,
    events: &Events,
    report: &mut FailoverReport,
) -> Result<()> {
    let phase = PhaseClock::start(events, "verify");
    let url = match &options.verify_url {
        Some(url) => Ok(url.clone()),
        None => entry_address(&failover.entry, &report.entry_point),
    };
    let verification = match url {
        Ok(url) => {
            let prober = Prober::new(Duration::from_secs(5))?;
            probe::wait_for_region(&prober, &url, &report.target, options.timeout).await
        }
        Err(reason) => Verification::Skipped {
            reason: format!("{reason}; pass --verify-url to probe another URL"),
        },
    };
    let summary = verification.summary(&report.target, options.timeout);
    match &verification {
        Verification::NotVerified { .. } => report.warnings.push(summary.clone()),
        Verification::Skipped { reason } => {
            report.skipped.push(format!("verification: {reason}"));
        }
        Verification::Verified { .. } => {}
    }
    report.verification = Some(verification);
    report.phases.push(phase.finish(events, summary));
    Ok(())
}

/// The region traffic left goes back to its configured minimum (it was raised when traffic came
/// to it). Best effort: the failover itself is done.
pub(crate) async fn restore_source_minimums(
    failover: &Failover,
    source_facts: &RegionFacts,
    events: &Events,
    report: &mut FailoverReport,
) {
    let source = &report.source;
    if source_facts.unreachable.is_some() {
        report.skipped.push(format!(
            "autoscaling minimum of {source}: not checked, it did not answer (the next \
             failover away from it restores it)"
        ));
        return;
    }
    match scale::restore_minimums(&failover.source.clients, source_facts).await {
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
            "autoscaling minimum of {source} not restored: {error}"
        )),
    }
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

/// One side's facts; replication latency is looked up towards the other side.
async fn gather(failover: &Failover, side: &Side, other: &Side) -> RegionFacts {
    facts::gather(
        &side.clients,
        &Lookup {
            app: &failover.app,
            table: &failover.table,
            home: side.settings.home,
            other_regions: &[other.settings.name.as_str()],
            answer_limit: side.answer_limit,
        },
    )
    .await
}

/// Times one phase and reports it as a progress step.
pub(crate) struct PhaseClock {
    name: &'static str,
    started: Instant,
}

impl PhaseClock {
    pub(crate) fn start(events: &Events, name: &'static str) -> PhaseClock {
        events.emit(Event::StepStarted {
            step: name.to_string(),
        });
        PhaseClock {
            name,
            started: Instant::now(),
        }
    }

    pub(crate) fn finish(self, events: &Events, result: String) -> Phase {
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

    pub(crate) fn fail(self, events: &Events, error: &str) -> Phase {
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

/// Each phase with its time, and the total, as failover and `traffic set` print them; nothing
/// when no phase ran.
pub(crate) fn phases_text(phases: &[Phase], total_ms: u64) -> String {
    if phases.is_empty() {
        return String::new();
    }
    let width = phases
        .iter()
        .map(|phase| phase.name.len())
        .max()
        .unwrap_or(0)
        .max("total".len());
    let mut text = "phases:\n".to_string();
    for phase in phases {
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
        total_ms as f64 / 1000.0
    ));
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::entry::{RegionalLoadBalancer, TrafficSplit};

    const TWO: [&str; 2] = ["us-east-1", "us-west-2"];
    const THREE: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

    /// The split of a new entry point over `regions` whose first is home, then moved to `serving`.
    fn serving(regions: &[&str], serving: &str) -> TrafficSplit {
        let balancers: Vec<RegionalLoadBalancer> = regions
            .iter()
            .map(|region| RegionalLoadBalancer {
                region: region.to_string(),
                home: *region == serving,
                arn: format!("arn:{region}"),
                dns_name: format!("{region}.elb"),
                canonical_hosted_zone_id: None,
            })
            .collect();
        TrafficSplit::initial(&balancers)
    }

    fn pair(direction: Direction) -> (String, String) {
        (direction.source, direction.target)
    }

    #[test]
    fn the_target_is_named_or_the_region_not_serving() {
        let split = serving(&TWO, "us-west-2");
        assert_eq!(
            pair(choose_direction(&TWO, Some("us-west-2"), None).unwrap()),
            ("us-east-1".to_string(), "us-west-2".to_string())
        );
        assert_eq!(
            pair(choose_direction(&TWO, None, Some(&split)).unwrap()),
            ("us-west-2".to_string(), "us-east-1".to_string())
        );
        let unknown = choose_direction(&TWO, None, None).unwrap_err().to_string();
        assert!(
            unknown.contains("--to us-east-1 or --to us-west-2"),
            "{unknown}"
        );
        let stranger = choose_direction(&TWO, Some("eu-west-1"), None)
            .unwrap_err()
            .to_string();
        assert!(
            stranger.contains("not one of the app's regions (us-east-1, us-west-2)"),
            "{stranger}"
        );
        let alone = choose_direction(&TWO[..1], Some("us-west-2"), None)
            .unwrap_err()
            .to_string();
        assert!(alone.contains("needs a second region"), "{alone}");
    }

    #[test]
    fn with_three_regions_the_source_is_the_serving_one_and_the_idle_third_stays_out() {
        let home_serves = serving(&THREE, "us-east-1");
        let direction = choose_direction(&THREE, Some("eu-west-1"), Some(&home_serves)).unwrap();
        assert_eq!(
            direction,
            Direction {
                source: "us-east-1".into(),
                target: "eu-west-1".into(),
                assumption: None
            }
        );
        // After a failover to eu-west-1, failback (no --to) goes home, from eu-west-1.
        let third_serves = serving(&THREE, "eu-west-1");
        assert_eq!(
            pair(choose_direction(&THREE, None, Some(&third_serves)).unwrap()),
            ("eu-west-1".to_string(), "us-east-1".to_string())
        );
        // From eu-west-1 to us-west-2: the source is what serves, not home.
        assert_eq!(
            pair(choose_direction(&THREE, Some("us-west-2"), Some(&third_serves)).unwrap()),
            ("eu-west-1".to_string(), "us-west-2".to_string())
        );
    }

    #[test]
    fn with_three_regions_and_home_serving_the_target_must_be_named() {
        let home_serves = serving(&THREE, "us-east-1");
        let error = choose_direction(&THREE, None, Some(&home_serves))
            .unwrap_err()
            .to_string();
        assert!(error.contains("us-east-1 serves now"), "{error}");
        assert!(
            error.contains("--to us-west-2 or --to eu-west-1"),
            "{error}"
        );
        let stranger = choose_direction(&THREE, Some("ap-south-1"), None)
            .unwrap_err()
            .to_string();
        assert!(
            stranger.contains("(us-east-1, us-west-2, eu-west-1)"),
            "{stranger}"
        );
        assert!(
            stranger.contains("--to us-east-1, --to us-west-2 or --to eu-west-1"),
            "{stranger}"
        );
    }

    #[test]
    fn with_three_regions_and_no_split_home_is_assumed_to_serve_and_that_is_said() {
        let direction = choose_direction(&THREE, Some("eu-west-1"), None).unwrap();
        assert_eq!(direction.source, "us-east-1");
        assert!(
            direction
                .assumption
                .as_deref()
                .is_some_and(|note| note.contains("us-east-1 was taken as the region serving now")),
            "{direction:?}"
        );
        let home = choose_direction(&THREE, Some("us-east-1"), None).unwrap();
        assert_eq!(home.source, "us-west-2", "the first other region");
        // Two regions: the other one, as always, with nothing to say about it.
        assert_eq!(
            choose_direction(&TWO, Some("us-west-2"), None)
                .unwrap()
                .assumption,
            None
        );
    }

    fn range(
        region: &str,
        service: &str,
        minimum: (i32, i32),
        maximum: (i32, i32),
    ) -> MinimumChange {
        MinimumChange {
            region: region.into(),
            service: service.into(),
            from: minimum.0,
            to: minimum.1,
            max_from: maximum.0,
            max_to: maximum.1,
        }
    }

    #[test]
    fn a_dry_run_says_what_the_writes_phase_would_do() {
        let mut source = RegionFacts {
            region: "us-east-1".into(),
            ..RegionFacts::default()
        };
        assert_eq!(
            planned_writes_move(&source, "us-west-2").result,
            "no control item in us-east-1: the move would create it frozen there, then switch to us-west-2"
        );
        source.write_region = Some(crate::writes::ControlSummary {
            write_region: "us-east-1".into(),
            epoch: 3,
            state: "active".into(),
        });
        assert_eq!(
            planned_writes_move(&source, "us-west-2").result,
            "would move the write region us-east-1 (epoch 3, active) -> us-west-2"
        );
        assert_eq!(
            planned_writes_move(&source, "us-east-1").result,
            "write region already us-east-1 (epoch 3): nothing to move"
        );
        let silent = RegionFacts {
            region: "us-east-1".into(),
            unreachable: Some("down".into()),
            ..RegionFacts::default()
        };
        assert_eq!(
            planned_writes_move(&silent, "us-west-2").result,
            "us-east-1 does not answer: the move would need --force (writes it had not replicated may be lost)"
        );
    }

    /// The text names the maximum next to the minimum: raised above the stack's MaxCount in the
    /// target, returned in the source, a single number where it did not move.
    #[test]
    fn the_text_report_shows_the_raised_and_restored_maximum() {
        let report = FailoverReport {
            source: "us-east-1".into(),
            target: "us-west-2".into(),
            mode: "global-accelerator".into(),
            outcome: Outcome::Completed,
            forced: false,
            checks: Vec::new(),
            entry_point: EntryState::Absent,
            scale_plan: None,
            scale: Some(ScaleReport {
                plan: ScalePlan {
                    services: Vec::new(),
                    capacity_from: "us-east-1".into(),
                },
                settled: true,
                waited_ms: 0,
                observed: Vec::new(),
                minimums: vec![
                    range("us-west-2", "demo-mysfits-service", (1, 6), (4, 6)),
                    range("us-west-2", "demo-like-service", (1, 2), (4, 4)),
                ],
                without_autoscaling: Vec::new(),
            }),
            shift: None,
            writes: None,
            verification: None,
            restored_minimums: vec![range("us-east-1", "demo-mysfits-service", (6, 2), (6, 4))],
            phases: Vec::new(),
            skipped: Vec::new(),
            warnings: Vec::new(),
            total_ms: 0,
        };
        let text = report.text();
        for line in [
            "  us-west-2 demo-mysfits-service 1 -> 6 (raised), maximum 4 -> 6\n",
            "  us-west-2 demo-like-service 1 -> 2 (raised), maximum 4\n",
            "  us-east-1 demo-mysfits-service 6 -> 2 (restored), maximum 6 -> 4\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
    }
}
