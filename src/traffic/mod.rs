//! Moving the entry point's traffic split between regions: `mysfits traffic set`.
//!
//! A run gives some regions new weights (0-100) in four timed phases, the same as failover's:
//! 1. readiness: every region whose share rises is judged against the region serving most now
//!    (its capacity is the measure) by failover's own readiness phase; not ready means refuse,
//!    unless forced;
//! 2. scale: each of those regions scaled to that capacity by failover's scale phase, waited for
//!    until healthy (so a region taking a share can take all of it if the others fail);
//! 3. shift: [`crate::entry::set_split`], rising weights first, then falling ones;
//! 4. verify: the entry point probed until every region with a weight above 0 has answered.
//!
//! Regions whose share does not rise are not checked or scaled: they keep what they run. A
//! measure region whose weight falls to 0 gets its configured autoscaling minimum back after the
//! change, as the region a failover leaves does.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::app::RegionName;
use crate::entry::{EntryPoint, EntryState, ShiftOutcome, TrafficSplit};
use crate::error::{Error, Result};
use crate::failover::probe::{Answer, Prober};
use crate::failover::readiness::{self, Check, Verdict};
use crate::failover::scale::{MinimumChange, ScalePlan, ScaleReport};
use crate::failover::{
    self, Failover, FailoverOptions, FailoverReport, Outcome, Phase, PhaseClock,
};
use crate::progress::{Events, elapsed_ms};
use crate::wait::{Backoff, Pacing};

/// Parses `REGION=WEIGHT` arguments against the app's `regions`: each region once, each weight a
/// whole number 0-100, and not every region at 0. Nothing here calls AWS.
pub fn parse_weights(arguments: &[String], regions: &[&str]) -> Result<Vec<(RegionName, u8)>> {
    let mut weights: Vec<(RegionName, u8)> = Vec::new();
    for argument in arguments {
        let Some((region, weight)) = argument.split_once('=') else {
            return Err(Error::config(
                format!("{argument:?} is not REGION=WEIGHT"),
                "write each region and its weight with =, e.g. `mysfits traffic set us-east-1=50 us-west-2=50`",
            ));
        };
        let region = region.trim();
        if !regions.contains(&region) {
            return Err(Error::config(
                format!(
                    "{region:?} in {argument:?} is not one of the app's regions ({})",
                    regions.join(", ")
                ),
                format!(
                    "give weights to the app's regions only, e.g. {}=50",
                    regions[0]
                ),
            ));
        }
        let weight = weight
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|weight| *weight <= TrafficSplit::ALL)
            .ok_or_else(|| {
                Error::config(
                    format!(
                        "the weight in {argument:?} is not a whole number from 0 to 100"
                    ),
                    format!("write e.g. {region}=50 (100 keeps all the traffic that reaches {region}, 0 sends none there)"),
                )
            })?;
        let key = RegionName::new(region);
        if weights.iter().any(|(named, _)| *named == key) {
            return Err(Error::config(
                format!("{region} is given twice"),
                "give each region one weight",
            ));
        }
        weights.push((key, weight));
    }
    if weights.len() == regions.len() && weights.iter().all(|(_, weight)| *weight == 0) {
        return Err(Error::config(
            "every region would get weight 0: no region would take new connections",
            "give at least one region a weight above 0 (to stop the app, use `mysfits teardown`)",
        ));
    }
    Ok(weights)
}

/// The split after the change: `current` for every app region (0 where it has none), with the
/// `changes` applied. Refused when no region would serve.
pub fn target_split(
    current: &TrafficSplit,
    changes: &[(RegionName, u8)],
    regions: &[&str],
) -> Result<TrafficSplit> {
    let mut weights: BTreeMap<RegionName, u8> = regions
        .iter()
        .map(|region| (RegionName::new(region), current.weight(region)))
        .collect();
    for (region, weight) in changes {
        weights.insert(*region, *weight);
    }
    let split = TrafficSplit::from_weights(weights);
    if split.serving().is_empty() {
        return Err(Error::config(
            format!("with {} no region would take new connections", split.text()),
            "give at least one region a weight above 0",
        ));
    }
    Ok(split)
}

/// The regions whose weight rises from `from` to `to`, each with the region whose capacity it
/// is scaled to: the one with the largest weight now among the others (ties: the first in the
/// configured order), else the first other region.
pub fn rising(from: &TrafficSplit, to: &TrafficSplit, regions: &[&str]) -> Vec<(String, String)> {
    regions
        .iter()
        .filter(|region| to.weight(region) > from.weight(region))
        .map(|region| {
            let others = regions.iter().filter(|other| *other != region);
            let measure = others
                .fold(None::<&&str>, |best, other| match best {
                    Some(best) if from.weight(best) >= from.weight(other) => Some(best),
                    _ => Some(other),
                })
                .copied()
                .unwrap_or(region);
            (region.to_string(), measure.to_string())
        })
        .collect()
}

/// One region whose share rises: what was checked and scaled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RisingRegion {
    pub region: String,
    /// The region whose capacity it is checked and scaled against.
    pub capacity_from: String,
    pub checks: Vec<Check>,
    pub scale_plan: Option<ScalePlan>,
    pub scale: Option<ScaleReport>,
}

/// What probing the entry point showed after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum SplitVerification {
    /// Every serving region answered successfully.
    Verified {
        url: String,
        after_ms: u64,
        probes: u32,
        /// Successful answers per region.
        answered: BTreeMap<String, u32>,
        /// Serving regions this client cannot see ([`Need::AnyOne`]): not required.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        not_seen: Vec<String>,
    },
    /// Some serving region never answered within the limit.
    NotVerified {
        url: String,
        probes: u32,
        answered: BTreeMap<String, u32>,
        missing: Vec<String>,
        last: Option<Answer>,
    },
    Skipped {
        reason: String,
    },
}

impl SplitVerification {
    pub fn summary(&self, limit: Duration) -> String {
        let counts = |answered: &BTreeMap<String, u32>| {
            answered
                .iter()
                .map(|(region, count)| format!("{region} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            SplitVerification::Verified {
                url,
                after_ms,
                probes,
                answered,
                not_seen,
            } if !not_seen.is_empty() => format!(
                "answered at {url} after {:.1}s ({probes} probes: {}); {} not seen from here: \
                 Global Accelerator gives a region at dial 100 all of its nearest clients, so \
                 one client sees one such region",
                *after_ms as f64 / 1000.0,
                counts(answered),
                not_seen.join(", ")
            ),
            SplitVerification::Verified {
                url,
                after_ms,
                probes,
                answered,
                ..
            } => format!(
                "every serving region answered at {url} after {:.1}s ({probes} probes: {})",
                *after_ms as f64 / 1000.0,
                counts(answered)
            ),
            SplitVerification::NotVerified {
                url,
                probes,
                answered,
                missing,
                ..
            } => format!(
                "{} did not answer at {url} within {:.0}s ({probes} probes: {})",
                missing.join(", "),
                limit.as_secs_f64(),
                if answered.is_empty() {
                    "none succeeded".to_string()
                } else {
                    counts(answered)
                }
            ),
            SplitVerification::Skipped { .. } => "skipped (see below)".to_string(),
        }
    }
}

/// How often verification probes the entry point.
const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// Which of the serving regions one client must see through the entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Every,
    /// Global Accelerator with a serving region at dial 100: "the percentage is applied only to
    /// the traffic that is already directed to this endpoint group" (its endpoint group docs),
    /// so a client nearest a region at 100 reaches that region only.
    AnyOne,
}

impl Need {
    /// What a client can check after `split` is set on `entry`.
    pub fn for_split(entry: &EntryPoint, split: &TrafficSplit) -> Need {
        let serving = split.serving();
        let accelerator = matches!(entry.control, crate::entry::Control::GlobalAccelerator(_));
        if accelerator
            && serving.len() > 1
            && serving
                .iter()
                .any(|region| split.weight(region.as_str()) == TrafficSplit::ALL)
        {
            Need::AnyOne
        } else {
            Need::Every
        }
    }
}

/// Probes `url` (each probe a new connection) until every region of `regions` has answered
/// successfully (the `x-mysfits-region` header names it), or any one with [`Need::AnyOne`], for
/// at most `limit`.
pub async fn wait_for_regions(
    prober: &Prober,
    url: &str,
    regions: &[String],
    need: Need,
    limit: Duration,
) -> SplitVerification {
    let started = Instant::now();
    let mut pacing = Pacing::start(Backoff {
        first: PROBE_INTERVAL,
        growth_percent: 100,
        max: PROBE_INTERVAL,
        limit,
    });
    let mut answered: BTreeMap<String, u32> = BTreeMap::new();
    let mut probes = 0;
    loop {
        let answer = prober.probe(url).await;
        probes += 1;
        if answer.is_success()
            && let Some(region) = &answer.region
        {
            *answered.entry(region.clone()).or_default() += 1;
        }
        let missing: Vec<String> = regions
            .iter()
            .filter(|region| !answered.contains_key(*region))
            .cloned()
            .collect();
        let enough = match need {
            Need::Every => missing.is_empty(),
            Need::AnyOne => missing.len() < regions.len(),
        };
        if enough {
            return SplitVerification::Verified {
                url: url.to_string(),
                after_ms: elapsed_ms(started.elapsed()),
                probes,
                answered,
                not_seen: missing,
            };
        }
        if !pacing.pause().await {
            return SplitVerification::NotVerified {
                url: url.to_string(),
                probes,
                answered,
                missing,
                last: Some(answer),
            };
        }
    }
}

/// Everything a `traffic set` run needs.
#[derive(Debug, Clone)]
pub struct TrafficMove {
    pub entry: EntryPoint,
    /// The entry point as read before the run.
    pub entry_state: EntryState,
    pub from: TrafficSplit,
    pub to: TrafficSplit,
    /// One failover-shaped pair per rising region: source = the region whose capacity is the
    /// measure, target = the rising region.
    pub rising: Vec<Failover>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrafficReport {
    pub mode: String,
    pub from: TrafficSplit,
    pub to: TrafficSplit,
    pub outcome: Outcome,
    pub forced: bool,
    pub rising: Vec<RisingRegion>,
    pub entry_point: EntryState,
    pub shift: Option<ShiftOutcome>,
    pub verification: Option<SplitVerification>,
    /// Autoscaling minimums of regions whose weight fell to 0, returned to their configured count.
    pub restored_minimums: Vec<MinimumChange>,
    pub phases: Vec<Phase>,
    pub skipped: Vec<String>,
    pub warnings: Vec<String>,
    pub total_ms: u64,
}

impl TrafficReport {
    pub fn not_ready(&self) -> Vec<&Check> {
        self.rising
            .iter()
            .flat_map(|region| &region.checks)
            .filter(|check| check.verdict == Verdict::NotReady)
            .collect()
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut text = format!(
            "traffic {} -> {} ({}){}\n",
            self.from.text(),
            self.to.text(),
            self.mode,
            match self.outcome {
                Outcome::Completed => ": done",
                Outcome::CompletedUnverified => ": done, not verified",
                Outcome::Refused => ": REFUSED, a region is not ready",
                Outcome::DryRun => ": dry run, nothing changed",
            }
        );
        for region in &self.rising {
            text.push_str(&format!(
                "readiness of {} (capacity of {}):\n",
                region.region, region.capacity_from
            ));
            text.push_str(&readiness::table(&region.checks));
            if let Some(plan) = &region.scale_plan {
                text.push_str(&format!("scale plan of {}:\n", region.region));
                for service in &plan.services {
                    text.push_str(&format!(
                        "  {} {} -> {}\n",
                        service.name, service.from, service.to
                    ));
                }
            }
        }
        if self.rising.is_empty() {
            text.push_str("no region's share rises: nothing to check or scale\n");
        }
        if self.forced && !self.not_ready().is_empty() {
            text.push_str("  (--force: went on although not ready)\n");
        }
        text.push_str(&crate::failover::phases_text(&self.phases, self.total_ms));
        for change in &self.restored_minimums {
            text.push_str(&format!(
                "autoscaling minimum of {} in {}: {} -> {} (restored), maximum {}\n",
                change.service, change.region, change.from, change.to, change.max_to
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

/// Runs the phases; see the module documentation.
pub async fn run(
    change: &TrafficMove,
    options: &FailoverOptions,
    events: &Events,
) -> Result<TrafficReport> {
    let started = Instant::now();
    let mut report = TrafficReport {
        mode: change.entry.mode().to_string(),
        from: change.from.clone(),
        to: change.to.clone(),
        outcome: Outcome::DryRun,
        forced: options.force,
        rising: Vec::new(),
        entry_point: change.entry_state.clone(),
        shift: None,
        verification: None,
        restored_minimums: Vec::new(),
        phases: Vec::new(),
        skipped: Vec::new(),
        warnings: Vec::new(),
        total_ms: 0,
    };
    // Phase 1, for each rising region: failover's readiness phase, against the measure region.
    let mut failovers = Vec::new();
    for failover in &change.rising {
        let mut part = FailoverReport::new(failover, options);
        let source_facts = failover::readiness_phase(failover, options, events, &mut part).await;
        report.rising.push(RisingRegion {
            region: part.target.clone(),
            capacity_from: part.source.clone(),
            checks: part.checks.clone(),
            scale_plan: part.scale_plan.clone(),
            scale: None,
        });
        collect(&mut report, &mut part, "readiness");
        failovers.push((failover, part, source_facts));
    }
    let not_ready = !report.not_ready().is_empty();
    if options.dry_run || (not_ready && !options.force) {
        report.outcome = if options.dry_run {
            Outcome::DryRun
        } else {
            Outcome::Refused
        };
        report.total_ms = elapsed_ms(started.elapsed());
        return Ok(report);
    }
    // Phase 2: failover's scale phase for each rising region.
    for (index, (failover, part, _)) in failovers.iter_mut().enumerate() {
        let scaled = failover::scale_phase(failover, options, events, part).await;
        report.rising[index].scale = part.scale.clone();
        collect(&mut report, part, "scale");
        scaled?;
    }
    // Phase 3: the split.
    let phase = PhaseClock::start(events, "shift");
    let shifted =
        crate::entry::set_split(&change.entry, &change.to, events, "shift", options.timeout).await;
    let shifted = match shifted {
        Ok(shifted) => shifted,
        Err(error) => {
            report.phases.push(phase.fail(events, &error.to_string()));
            return Err(error);
        }
    };
    let summary = match &shifted {
        ShiftOutcome::AlreadyServing => format!("the split already is {}", change.to.text()),
        ShiftOutcome::Skipped { reason } => {
            report.skipped.push(format!("traffic change: {reason}"));
            "skipped (see below)".to_string()
        }
        shifted => shifted.summary(""),
    };
    report.phases.push(phase.finish(events, summary));
    report.shift = Some(shifted);
    // Phase 4: every serving region answers through the entry point.
    let phase = PhaseClock::start(events, "verify");
    let url = match &options.verify_url {
        Some(url) => Ok(url.clone()),
        None => failover::entry_address(&change.entry, &change.entry_state),
    };
    let serving: Vec<String> = change
        .to
        .serving()
        .iter()
        .map(|region| region.to_string())
        .collect();
    let verification = match url {
        Ok(url) => {
            let prober = Prober::new(Duration::from_secs(5))?;
            // The dial rule is the accelerator's: another URL is probed for every region.
            let need = match options.verify_url {
                Some(_) => Need::Every,
                None => Need::for_split(&change.entry, &change.to),
            };
            wait_for_regions(&prober, &url, &serving, need, options.timeout).await
        }
        Err(reason) => SplitVerification::Skipped {
            reason: format!("{reason}; pass --verify-url to probe another URL"),
        },
    };
    let summary = verification.summary(options.timeout);
    match &verification {
        SplitVerification::NotVerified { .. } => report.warnings.push(summary.clone()),
        SplitVerification::Skipped { reason } => {
            report.skipped.push(format!("verification: {reason}"));
        }
        SplitVerification::Verified { .. } => {}
    }
    // A region this client cannot reach (behind a region at dial 100) is neither seen nor
    // known to be down: done, verified in part, and the summary says why.
    report.outcome = match &verification {
        SplitVerification::Verified { not_seen, .. } if not_seen.is_empty() => Outcome::Completed,
        _ => Outcome::CompletedUnverified,
    };
    report.verification = Some(verification);
    report.phases.push(phase.finish(events, summary));
    // Measure regions that no longer serve: their configured minimum back (best effort).
    let mut restored = Vec::new();
    for (failover, part, source_facts) in &mut failovers {
        let source = failover.source.settings.name.clone();
        if change.to.weight(&source) > 0 || restored.contains(&source) {
            continue;
        }
        failover::restore_source_minimums(failover, source_facts, events, part).await;
        report.restored_minimums.append(&mut part.restored_minimums);
        report.skipped.append(&mut part.skipped);
        report.warnings.append(&mut part.warnings);
        restored.push(source);
    }
    report.total_ms = elapsed_ms(started.elapsed());
    Ok(report)
}

/// Moves what failover's phase added to `part` into the traffic report, its phases named after
/// the region (`readiness us-west-2`).
fn collect(report: &mut TrafficReport, part: &mut FailoverReport, name: &str) {
    let region = part.target.clone();
    for mut phase in part.phases.drain(..) {
        if phase.name == name {
            phase.name = format!("{name} {region}");
        }
        report.phases.push(phase);
    }
    report.skipped.append(&mut part.skipped);
    report.warnings.append(&mut part.warnings);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TWO: [&str; 2] = ["us-east-1", "us-west-2"];
    const THREE: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| word.to_string()).collect()
    }

    fn split(pairs: &[(&str, u8)]) -> TrafficSplit {
        TrafficSplit::from_weights(
            pairs
                .iter()
                .map(|(region, weight)| (RegionName::new(region), *weight)),
        )
    }

    #[test]
    fn weights_parse_per_region_and_bad_ones_say_what_to_write() {
        assert_eq!(
            parse_weights(&args(&["us-east-1=50", "us-west-2=0"]), &TWO).unwrap(),
            vec![
                (RegionName::new("us-east-1"), 50),
                (RegionName::new("us-west-2"), 0)
            ]
        );
        let error = |words: &[&str]| parse_weights(&args(words), &TWO).unwrap_err().to_string();
        for (words, expected) in [
            (&["us-east-1"][..], "\"us-east-1\" is not REGION=WEIGHT"),
            (
                &["a=b"][..],
                "\"a\" in \"a=b\" is not one of the app's regions (us-east-1, us-west-2)",
            ),
            (
                &["us-east-1=101"][..],
                "the weight in \"us-east-1=101\" is not a whole number from 0 to 100",
            ),
            (&["us-east-1=-1"][..], "is not a whole number from 0 to 100"),
            (
                &["us-east-1=5.5"][..],
                "is not a whole number from 0 to 100",
            ),
            (
                &["us-east-1=50", "us-east-1=50"][..],
                "us-east-1 is given twice",
            ),
            (
                &["us-east-1=0", "us-west-2=0"][..],
                "every region would get weight 0",
            ),
        ] {
            let message = error(words);
            assert!(message.contains(expected), "{words:?}: {message}");
        }
    }

    #[test]
    fn behind_global_accelerator_a_region_at_dial_100_is_seen_by_its_nearest_clients_only() {
        let config = aws_sdk_globalaccelerator::Config::builder()
            .behavior_version(aws_sdk_globalaccelerator::config::BehaviorVersion::latest())
            .region(aws_sdk_globalaccelerator::config::Region::new("us-west-2"))
            .build();
        let accelerator = EntryPoint {
            app: "demo".into(),
            endpoint: None,
            control: crate::entry::Control::GlobalAccelerator(
                aws_sdk_globalaccelerator::Client::from_conf(config),
            ),
            traffic: Default::default(),
        };
        let need = |pairs: &[(&str, u8)]| Need::for_split(&accelerator, &split(pairs));
        assert_eq!(
            need(&[("us-east-1", 100), ("us-west-2", 100)]),
            Need::AnyOne
        );
        assert_eq!(need(&[("us-east-1", 100), ("us-west-2", 30)]), Need::AnyOne);
        assert_eq!(need(&[("us-east-1", 50), ("us-west-2", 50)]), Need::Every);
        assert_eq!(need(&[("us-east-1", 100), ("us-west-2", 0)]), Need::Every);
    }

    #[test]
    fn the_target_keeps_unnamed_regions_and_refuses_a_split_nobody_serves() {
        let current = split(&[("us-east-1", 100), ("us-west-2", 0), ("eu-west-1", 0)]);
        let to = target_split(&current, &[(RegionName::new("eu-west-1"), 50)], &THREE).unwrap();
        assert_eq!(to.text(), "eu-west-1=50 us-east-1=100 us-west-2=0");
        let error = target_split(&current, &[(RegionName::new("us-east-1"), 0)], &THREE)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no region would take new connections"),
            "{error}"
        );
    }

    #[test]
    fn rising_regions_are_measured_against_the_region_serving_most() {
        let from = split(&[("us-east-1", 100), ("us-west-2", 0), ("eu-west-1", 20)]);
        let to = split(&[("us-east-1", 50), ("us-west-2", 50), ("eu-west-1", 20)]);
        assert_eq!(
            rising(&from, &to, &THREE),
            vec![("us-west-2".to_string(), "us-east-1".to_string())],
            "us-east-1 falls and eu-west-1 stays: neither is checked"
        );
        let from = split(&[("us-east-1", 0), ("us-west-2", 0)]);
        let to = split(&[("us-east-1", 50), ("us-west-2", 50)]);
        assert_eq!(
            rising(&from, &to, &TWO),
            vec![
                ("us-east-1".to_string(), "us-west-2".to_string()),
                ("us-west-2".to_string(), "us-east-1".to_string())
            ]
        );
    }
}
