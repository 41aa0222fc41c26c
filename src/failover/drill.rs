//! `mysfits drill`: fail over and back while bounded load runs, then say what users would have
//! seen: errors, latency percentiles, when the target region first answered after each shift and
//! how long it took until requests succeeded again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::load::{self, LoadOptions, LoadRun, Sample};
use super::probe::Prober;
use super::{Failover, FailoverOptions, FailoverReport, Outcome};
use crate::error::{Error, Result};
use crate::progress::{Events, elapsed_ms};

/// When the failover starts, as a share of the duration (load before it is the baseline).
const FAILOVER_AT: f64 = 0.2;
/// When the failback starts at the earliest.
const FAILBACK_AT: f64 = 0.6;
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

/// Runs the load, fails over at 20 % of the duration and back at 60 % (or as soon as the
/// failover is done, if later), then analyses what the load saw. The failback runs even when the
/// load has ended, so the drill leaves traffic where it found it.
pub async fn run(drill: &Drill, events: &Events) -> Result<DrillReport> {
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
    let mut failovers = Vec::new();
    let mut windows = Vec::new();
    let mut notes = vec![
        "every request opened a new connection (a traffic shift moves only new ones), so latencies include the connection setup".to_string(),
    ];
    for (failover, at) in [(&drill.there, FAILOVER_AT), (&drill.back, FAILBACK_AT)] {
        let due = drill.duration.mul_f64(at);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let shift_started = elapsed_ms(started.elapsed());
        let report = match super::run(failover, &drill.options, events).await {
            Ok(report) => report,
            Err(error) => {
                load.abort();
                return Err(error);
            }
        };
        if report.outcome == Outcome::Refused {
            load.abort();
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
            notes.push(format!(
                "the shift to {} ended after the load ({:.1}s > {:.0}s): lengthen --duration to measure it fully",
                report.target,
                shift_finished as f64 / 1000.0,
                drill.duration.as_secs_f64()
            ));
        }
        windows.push((report.target.clone(), shift_started, shift_finished));
        failovers.push(report);
    }
    let load_run = load
        .await
        .map_err(|error| Error::internal(format!("the load task stopped: {error}")))?;
    Ok(analyse(drill, load_run, &windows, failovers, notes))
}

fn analyse(
    drill: &Drill,
    load_run: LoadRun,
    windows: &[(String, u64, u64)],
    failovers: Vec<FailoverReport>,
    notes: Vec<String>,
) -> DrillReport {
    let samples = &load_run.samples;
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
    let shifts = windows
        .iter()
        .enumerate()
        .map(|(index, (to, started_ms, finished_ms))| {
            let until = windows
                .get(index + 1)
                .map(|(_, next, _)| *next)
                .unwrap_or(u64::MAX);
            shift_window(samples, to, *started_ms, *finished_ms, until)
        })
        .collect();
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
        failovers,
        notes,
    }
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
    use crate::failover::probe::Answer;

    fn sample(sent_ms: u64, status: Option<u16>, region: &str) -> Sample {
        Sample {
            sent_ms,
            answer: Answer {
                status,
                region: Some(region.into()),
                latency_ms: 5,
                error: status.is_none().then(|| "connection failed".to_string()),
            },
        }
    }

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
