//! `mysfits drill`: fail over and back while bounded load runs, then say what users would have
//! seen: errors, latency percentiles, when the target region first answered after each shift and
//! how long it took until requests succeeded again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::kill::{self, Outage};
use super::load::{self, LoadOptions, LoadRun, Sample};
use super::outage::{OutageReport, Sightings, Watch};
use super::probe::Prober;
use super::{Failover, FailoverOptions, FailoverReport, Outcome};
use crate::cancel::Cancellation;
use crate::error::{Error, Result};
use crate::progress::{Event, Events, elapsed_ms};
use crate::status::facts::{self, Lookup};

/// When each step starts at the earliest, as a share of the duration: the failover (load before
/// it is the baseline), the failback, and with `--kill` the kill and the revive.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    failover: f64,
    failback: f64,
    kill: f64,
    revive: f64,
}

const PLANNED_ONLY: Schedule = Schedule {
    failover: 0.2,
    failback: 0.6,
    kill: 1.0,
    revive: 1.0,
};

/// With `--kill`: the planned round trip first (its figures are the comparison), then the outage
/// over the second half, with a quarter of the duration after the revive to see the way back.
const WITH_KILL: Schedule = Schedule {
    failover: 0.1,
    failback: 0.3,
    kill: 0.5,
    revive: 0.75,
};
/// Requests in flight at most: a region that hangs cannot pile up unbounded work.
const MAX_IN_FLIGHT: usize = 256;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Drill {
    pub url: String,
    pub rate: u32,
    pub duration: Duration,
    /// Home to the drill's other region.
    pub there: Failover,
    /// That region back to home.
    pub back: Failover,
    pub options: FailoverOptions,
    /// `--kill`: after the round trip, stop the region `back` ends in.
    pub kill: Option<Kill>,
}

/// The unplanned part of a drill: the region `back` returned to (its clients and settings are
/// the ones used) is stopped and later revived; in between the drill only reads.
#[derive(Debug, Clone)]
pub struct Kill {
    /// The app's alarms in that region to watch (`auto_failover` on), by name.
    pub alarms: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencySummary {
    pub successes: u64,
    pub p50_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
}

/// What the load saw around one traffic shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftWindow {
    pub to: String,
    /// When the failover command started and ended, since the load started.
    pub started_ms: u64,
    pub finished_ms: u64,
    /// Requests sent from the shift's start until the next shift (or the end of the load).
    pub requests: usize,
    pub errors: usize,
    /// From the shift's start to the first successful answer from the target region.
    pub first_target_answer_after_ms: Option<u64>,
    /// From the shift's start to the first success after the window's last error (0: no error).
    pub recovered_after_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillReport {
    pub url: String,
    pub rate: u32,
    pub duration_ms: u64,
    pub requests: usize,
    pub errors: usize,
    pub dropped: u64,
    pub latency: LatencySummary,
    /// Successful answers per serving region.
    pub answers_by_region: BTreeMap<String, usize>,
    pub shifts: Vec<ShiftWindow>,
    pub failovers: Vec<FailoverReport>,
    /// `--kill`: what the unplanned outage looked like.
    pub outage: Option<OutageReport>,
    pub notes: Vec<String>,
}

impl DrillReport {
    pub fn text(&self) -> String {
        let mut text = format!(
            "drill against {} at {} req/s for {:.0}s\n",
            self.url,
            self.rate,
            self.duration_ms as f64 / 1000.0
        );
        text.push_str(&format!(
            "  requests {}  errors {}  dropped {}\n",
            self.requests, self.errors, self.dropped
        ));
        text.push_str(&format!(
            "  latency of successes: p50 {} ms  p99 {} ms  max {} ms\n",
            self.latency.p50_ms, self.latency.p99_ms, self.latency.max_ms
        ));
        let regions: Vec<String> = self
            .answers_by_region
            .iter()
            .map(|(region, count)| format!("{region} {count}"))
            .collect();
        text.push_str(&format!("  answers by region: {}\n", regions.join(", ")));
        for shift in &self.shifts {
            text.push_str(&format!(
                "  shift to {} at {:.1}s (failover took {:.1}s): {} requests, {} errors, first answer from {} after {}, recovered after {}\n",
                shift.to,
                shift.started_ms as f64 / 1000.0,
                (shift.finished_ms - shift.started_ms) as f64 / 1000.0,
                shift.requests,
                shift.errors,
                shift.to,
                seconds(shift.first_target_answer_after_ms),
                seconds(shift.recovered_after_ms),
            ));
        }
        for failover in &self.failovers {
            for phase in &failover.phases {
                text.push_str(&format!(
                    "    {} -> {} {:<9} {:>6.1}s  {}\n",
                    failover.source,
                    failover.target,
                    phase.name,
                    phase.elapsed_ms as f64 / 1000.0,
                    phase.result
                ));
            }
            for skipped in &failover.skipped {
                text.push_str(&format!("    skipped: {skipped}\n"));
            }
        }
        if let Some(outage) = &self.outage {
            text.push_str(&outage.text(self.shifts.first()));
        }
        for note in &self.notes {
            text.push_str(&format!("  note: {note}\n"));
        }
        text
    }
}

fn seconds(milliseconds: Option<u64>) -> String {
    milliseconds
        .map(|value| format!("{:.1}s", value as f64 / 1000.0))
        .unwrap_or_else(|| "never (within the load)".into())
}

/// Runs the load, fails over and back on the schedule (each step as soon as the one before is
/// done, if later), with `--kill` then stops the region and revives it, and analyses what the
/// load saw. The failback runs even when the load has ended, so the drill leaves traffic where
/// it found it; an outage it made is undone also when a later step fails or on Ctrl-C.
pub async fn run(
    drill: &Drill,
    events: &Events,
    cancellation: &Cancellation,
) -> Result<DrillReport> {
    let schedule = if drill.kill.is_some() {
        WITH_KILL
    } else {
        PLANNED_ONLY
    };
    let prober = Prober::new(REQUEST_TIMEOUT)?;
    let started = Instant::now();
    let load = tokio::spawn(load::run(
        prober,
        LoadOptions {
            url: drill.url.clone(),
            rate: drill.rate,
            duration: drill.duration,
            max_in_flight: MAX_IN_FLIGHT,
        },
        started,
    ));
    let mut steps = match steps(drill, schedule, started, events, cancellation).await {
        Ok(steps) => steps,
        Err(error) => {
            load.abort();
            return Err(error);
        }
    };
    let load_run = load
        .await
        .map_err(|error| Error::internal(format!("the load task stopped: {error}")));
    let outage = match steps.outage.take() {
        Some(mut made) => {
            made.stop_watching.cancel();
            let sightings = (&mut made.watcher).await.unwrap_or_default();
            Some((made, sightings))
        }
        None => None,
    };
    Ok(analyse(drill, load_run?, steps, outage))
}

/// What the drill's steps did, for the analysis.
struct Steps {
    /// Each shift: its target region, and when it started and ended since the load started.
    windows: Vec<(String, u64, u64)>,
    failovers: Vec<FailoverReport>,
    notes: Vec<String>,
    outage: Option<MadeOutage>,
}

/// An outage made and undone, with the watcher still reading until the load ends.
struct MadeOutage {
    outage: Outage,
    killed_at_ms: u64,
    revived_at_ms: u64,
    running_after_revive_ms: Option<u64>,
    watcher: tokio::task::JoinHandle<Sightings>,
    stop_watching: CancellationToken,
}

/// Sleeps until `due` after `started`, or fails at Ctrl-C.
async fn wait_until(due: Duration, started: Instant, cancellation: &Cancellation) -> Result<()> {
    if let Some(wait) = due.checked_sub(started.elapsed()) {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancellation.cancelled() => return Err(Error::Interrupted),
        }
    }
    Ok(())
}

async fn steps(
    drill: &Drill,
    schedule: Schedule,
    started: Instant,
    events: &Events,
    cancellation: &Cancellation,
) -> Result<Steps> {
    let mut steps = Steps {
        windows: Vec::new(),
        failovers: Vec::new(),
        notes: vec![
            "every request opened a new connection (a traffic shift moves only new ones), so latencies include the connection setup".to_string(),
        ],
        outage: None,
    };
    for (failover, at) in [
        (&drill.there, schedule.failover),
        (&drill.back, schedule.failback),
    ] {
        wait_until(drill.duration.mul_f64(at), started, cancellation).await?;
        let shift_started = elapsed_ms(started.elapsed());
        let report = tokio::select! {
            report = super::run(failover, &drill.options, events) => report?,
            () = cancellation.cancelled() => return Err(Error::Interrupted),
        };
        if report.outcome == Outcome::Refused {
            return Err(Error::config(
                format!(
                    "the drill's failover to {} was refused: not ready ({})",
                    report.target,
                    report
                        .not_ready()
                        .iter()
                        .map(|check| format!("{}: {}", check.name, check.detail))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                "fix what is not ready (see `mysfits failover --dry-run`), or pass --force",
            ));
        }
        let shift_finished = elapsed_ms(started.elapsed());
        if Duration::from_millis(shift_finished) > drill.duration {
            steps.notes.push(format!(
                "the shift to {} ended after the load ({:.1}s > {:.0}s): lengthen --duration to measure it fully",
                report.target,
                shift_finished as f64 / 1000.0,
                drill.duration.as_secs_f64()
            ));
        }
        steps
            .windows
            .push((report.target.clone(), shift_started, shift_finished));
        steps.failovers.push(report);
    }
    if let Some(kill) = &drill.kill {
        steps.outage =
            Some(make_outage(drill, kill, schedule, started, events, cancellation).await?);
    }
    Ok(steps)
}

/// Stops the region the failback returned to, waits, gives it back and waits (at most the
/// drill's timeout) until it runs again. Between the stop and the revive it only reads.
async fn make_outage(
    drill: &Drill,
    kill: &Kill,
    schedule: Schedule,
    started: Instant,
    events: &Events,
    cancellation: &Cancellation,
) -> Result<MadeOutage> {
    let side = &drill.back.target;
    let clients = &side.clients;
    let region = clients.region.clone();
    let step = format!("outage {region}");
    wait_until(drill.duration.mul_f64(schedule.kill), started, cancellation).await?;
    let phase_started = Instant::now();
    events.emit(Event::StepStarted { step: step.clone() });
    let peer = drill.back.source.settings.name.clone();
    let found = facts::gather(
        clients,
        &Lookup {
            app: &drill.back.app,
            table: &drill.back.table,
            home: side.settings.home,
            other_regions: &[peer.as_str()],
            answer_limit: side.answer_limit,
        },
    )
    .await;
    if let Some(reason) = &found.unreachable {
        return Err(Error::config(
            format!("{region} did not answer before the kill: {reason}; nothing was stopped"),
            format!(
                "check {region}'s endpoint and credentials (`mysfits status`), then run the drill again"
            ),
        ));
    }
    let mut outage = Outage::of(&found)?;
    let stop_watching = CancellationToken::new();
    // Every return below but the last ends the watcher with it.
    let watching = stop_watching.clone().drop_guard();
    let watcher = tokio::spawn(
        Watch {
            entry: drill.back.entry.clone(),
            region: region.clone(),
            alarms: kill
                .alarms
                .clone()
                .map(|names| (clients.cloudwatch.clone(), names)),
        }
        .run(started, stop_watching.clone()),
    );
    let killed_at_ms = elapsed_ms(started.elapsed());
    // Not raced against Ctrl-C: a call dropped halfway would leave a change unrecorded.
    let mut outcome = kill::stop(clients, &mut outage, events, &step).await;
    if outcome.is_ok() {
        events.note(
            &step,
            format!(
                "{region} stopped ({}); mysfits now only reads until the revive",
                outage.summary()
            ),
        );
        outcome = wait_until(
            drill.duration.mul_f64(schedule.revive),
            started,
            cancellation,
        )
        .await;
        if outcome.is_err() {
            events.note(
                &step,
                format!("Ctrl-C: giving {region} its services back first (a second Ctrl-C exits at once and leaves them stopped; the commands printed above give them back)"),
            );
        }
    }
    let revived_at_ms = elapsed_ms(started.elapsed());
    let restored = kill::restore(clients, &outage, events, &step).await;
    if let Err(error) = restored {
        return Err(Error::config(
            format!("the drill could not give {region} its services back: {error}"),
            format!("set them back by hand: {}", outage.restore_commands()),
        ));
    }
    outcome?;
    let settle = tokio::select! {
        settle = kill::wait_restored(clients, &outage, drill.options.timeout) => settle,
        () = cancellation.cancelled() => Err(Error::Interrupted),
    };
    let settle = settle?;
    events.emit(Event::StepFinished {
        step,
        summary: if settle.settled {
            format!("revived: {}", settle.observed.join("; "))
        } else {
            format!(
                "revived, not settled within {:.0}s: {}",
                drill.options.timeout.as_secs_f64(),
                settle.observed.join("; ")
            )
        },
        elapsed_ms: elapsed_ms(phase_started.elapsed()),
    });
    watching.disarm();
    Ok(MadeOutage {
        outage,
        killed_at_ms,
        revived_at_ms,
        running_after_revive_ms: settle.settled.then_some(settle.waited_ms),
        watcher,
        stop_watching,
    })
}

fn analyse(
    drill: &Drill,
    load_run: LoadRun,
    steps: Steps,
    outage: Option<(MadeOutage, Sightings)>,
) -> DrillReport {
    let samples = &load_run.samples;
    let windows = &steps.windows;
    let mut notes = steps.notes;
    let errors = samples
        .iter()
        .filter(|sample| !sample.answer.is_success())
        .count();
    let mut answers_by_region = BTreeMap::new();
    for sample in samples.iter().filter(|sample| sample.answer.is_success()) {
        *answers_by_region
            .entry(
                sample
                    .answer
                    .region
                    .clone()
                    .unwrap_or_else(|| "unknown".into()),
            )
            .or_insert(0) += 1;
    }
    // A shift's window ends where the next shift, or the outage, begins.
    let outage_start = outage
        .as_ref()
        .map(|(made, _)| made.killed_at_ms)
        .unwrap_or(u64::MAX);
    let shifts = windows
        .iter()
        .enumerate()
        .map(|(index, (to, started_ms, finished_ms))| {
            let until = windows
                .get(index + 1)
                .map(|(_, next, _)| *next)
                .unwrap_or(outage_start);
            shift_window(samples, to, *started_ms, *finished_ms, until)
        })
        .collect();
    let outage = outage.map(|(made, sightings)| {
        let report = super::outage::analyse(
            samples,
            &made.outage.services,
            &made.outage.region,
            (made.killed_at_ms, made.revived_at_ms),
            &sightings,
            made.running_after_revive_ms,
        );
        notes.extend(outage_notes(drill, &report, &sightings));
        report
    });
    DrillReport {
        url: drill.url.clone(),
        rate: drill.rate,
        duration_ms: elapsed_ms(drill.duration),
        requests: samples.len(),
        errors,
        dropped: load_run.dropped,
        latency: latency_summary(samples),
        answers_by_region,
        shifts,
        failovers: steps.failovers,
        outage,
        notes,
    }
}

/// What the reader of an outage's figures should know about them.
fn outage_notes(drill: &Drill, report: &OutageReport, sightings: &Sightings) -> Vec<String> {
    let mut notes = vec![format!(
        "between the kill and the revive mysfits only read (the entry point's health{}); what moved the traffic was the entry point's own health checking",
        if drill
            .kill
            .as_ref()
            .is_some_and(|kill| kill.alarms.is_some())
        {
            ", the alarms"
        } else {
            ""
        }
    )];
    if sightings.health_reported() && report.detected_after_ms.is_none() {
        notes.push(format!(
            "the entry point reported {} healthy throughout ({} reads): its health checks did not see the outage (on an emulator they are not run)",
            report.region, sightings.reads
        ));
    }
    if sightings.missed_reads > 0 {
        notes.push(format!(
            "{} of {} reads of the entry point gave no health for {} (no answer or throttled): gaps, not changes",
            sightings.missed_reads,
            sightings.missed_reads + sightings.reads,
            report.region
        ));
    }
    if sightings.missed_alarm_reads > 0 {
        notes.push(format!(
            "{} reads of the alarms failed (DescribeAlarms, e.g. not allowed): an alarm may have fired unseen",
            sightings.missed_alarm_reads
        ));
    }
    if !sightings.alarms_at_start.is_empty() {
        notes.push(format!(
            "already in ALARM before the kill, so not counted: {}",
            sightings.alarms_at_start.join(", ")
        ));
    }
    if !sightings.health_reported() {
        notes.push(format!(
            "the entry point reported no health for {} ({} reads): detection is seen only in the load's answers",
            report.region, sightings.reads
        ));
    }
    if report.first_other_answer_after_ms.is_none() {
        notes.push(format!(
            "no other region answered within the {:.0}s outage: health checks need about interval x threshold (Global Accelerator and Route 53: 30 s x 3 by default) to move traffic; lengthen --duration",
            (report.revived_at_ms - report.killed_at_ms) as f64 / 1000.0
        ));
    }
    notes
}

/// Percentiles of the successful requests' latencies (1 ms to 60 s, 3 significant digits).
pub fn latency_summary(samples: &[Sample]) -> LatencySummary {
    let mut summary = LatencySummary {
        successes: 0,
        p50_ms: 0,
        p99_ms: 0,
        max_ms: 0,
    };
    let Ok(mut histogram) = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000, 3) else {
        return summary;
    };
    for sample in samples.iter().filter(|sample| sample.answer.is_success()) {
        histogram.saturating_record(sample.answer.latency_ms.max(1));
    }
    summary.successes = histogram.len();
    if !histogram.is_empty() {
        summary.p50_ms = histogram.value_at_quantile(0.5);
        summary.p99_ms = histogram.value_at_quantile(0.99);
        summary.max_ms = histogram.max();
    }
    summary
}

/// The samples sent from `started_ms` until `until_ms`, judged for one shift.
pub fn shift_window(
    samples: &[Sample],
    to: &str,
    started_ms: u64,
    finished_ms: u64,
    until_ms: u64,
) -> ShiftWindow {
    let window: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.sent_ms >= started_ms && sample.sent_ms < until_ms)
        .collect();
    let errors: Vec<&&Sample> = window
        .iter()
        .filter(|sample| !sample.answer.is_success())
        .collect();
    let first_target_answer_after_ms = window
        .iter()
        .find(|sample| sample.answer.is_success() && sample.answer.region.as_deref() == Some(to))
        .map(|sample| sample.sent_ms - started_ms);
    let recovered_after_ms = match errors.last() {
        None => Some(0),
        Some(last_error) => window
            .iter()
            .find(|sample| sample.sent_ms > last_error.sent_ms && sample.answer.is_success())
            .map(|sample| sample.sent_ms - started_ms),
    };
    ShiftWindow {
        to: to.to_string(),
        started_ms,
        finished_ms,
        requests: window.len(),
        errors: errors.len(),
        first_target_answer_after_ms,
        recovered_after_ms,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::failover::load::sample;

    #[test]
    fn a_window_measures_first_target_answer_and_recovery() {
        let samples = vec![
            sample(900, Some(200), "us-east-1"),
            sample(1000, Some(200), "us-east-1"),
            sample(1100, None, "us-east-1"),
            sample(1200, Some(503), "us-east-1"),
            sample(1300, Some(200), "us-west-2"),
            sample(1400, Some(200), "us-west-2"),
            sample(5000, Some(200), "us-east-1"),
        ];
        let window = shift_window(&samples, "us-west-2", 1000, 2000, 5000);
        assert_eq!(window.requests, 5);
        assert_eq!(window.errors, 2);
        assert_eq!(window.first_target_answer_after_ms, Some(300));
        assert_eq!(window.recovered_after_ms, Some(300));

        let clean = shift_window(&samples, "us-east-1", 5000, 6000, u64::MAX);
        assert_eq!((clean.errors, clean.recovered_after_ms), (0, Some(0)));
        assert_eq!(clean.first_target_answer_after_ms, Some(0));

        let never = shift_window(&samples[..4], "us-west-2", 1000, 2000, u64::MAX);
        assert_eq!(never.first_target_answer_after_ms, None);
        assert_eq!(never.recovered_after_ms, None);
    }
}
