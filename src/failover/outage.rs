//! What an unplanned outage (`mysfits drill --kill`) looked like from outside: a watcher that
//! only reads (the entry point's health of the killed region, and with `auto_failover` its
//! alarms) while the load runs, and the analysis of the load's samples around the kill and the
//! revive. Nothing here changes anything: between the kill and the revive, what moves traffic is
//! the entry point's own health checking.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::kill::StoppedService;
use super::load::Sample;
use crate::entry::{EntryPoint, EntryState};
use crate::progress::elapsed_ms;

/// How often the watcher reads. One read of a Route 53 entry point makes a
/// GetHealthCheckStatus per region, and that call has its own bucket of 4 refilled at 1 per
/// second per account (Route 53 "Throttling of API requests"): every 5 s leaves room for
/// `mysfits status` and the console. Health checks run every 10-30 s, so 5 s loses little.
/// DescribeAlarms allows 9 per second per region.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// The entry point's health word for a healthy region (Global Accelerator and Route 53 alike,
/// as `crate::entry` reports them).
const HEALTHY: &str = "HEALTHY";

/// What the watcher saw, each change with its time since the load started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sightings {
    /// The killed region's health as the entry point reports it, at each change (`None`: the
    /// entry point reports none, or could not be read).
    pub health: Vec<(u64, Option<String>)>,
    /// Each alarm that went into ALARM, when first seen so (not those in ALARM at the first read).
    pub alarms: Vec<(u64, String)>,
    /// Alarms already in ALARM at the first read: not caused by the outage.
    pub alarms_at_start: Vec<String>,
    /// Reads of the entry point that reported the region's health.
    pub reads: u32,
    /// Reads that got no health (no answer, throttled, or none reported), and failed alarm reads.
    pub missed_reads: u32,
    pub missed_alarm_reads: u32,
}

impl Sightings {
    fn record_health(&mut self, at_ms: u64, health: Option<String>) {
        if self.health.last().map(|(_, last)| last) != Some(&health) {
            self.health.push((at_ms, health));
        }
    }

    /// First time at or after `from_ms` the region was reported not healthy.
    pub fn unhealthy_from(&self, from_ms: u64) -> Option<(u64, &str)> {
        self.health
            .iter()
            .filter(|(at, _)| *at >= from_ms)
            .find_map(|(at, health)| match health.as_deref() {
                Some(word) if word != HEALTHY => Some((*at, word)),
                _ => None,
            })
    }

    /// First time at or after `from_ms` the region was reported healthy.
    pub fn healthy_from(&self, from_ms: u64) -> Option<u64> {
        // The state seen last before `from_ms` still holds at `from_ms`.
        let holding = self
            .health
            .iter()
            .rev()
            .find(|(at, _)| *at < from_ms)
            .filter(|(_, health)| health.as_deref() == Some(HEALTHY))
            .map(|_| from_ms);
        holding.or_else(|| {
            self.health
                .iter()
                .find(|(at, health)| *at >= from_ms && health.as_deref() == Some(HEALTHY))
                .map(|(at, _)| *at)
        })
    }

    /// Whether the entry point ever reported a health for the region.
    pub fn health_reported(&self) -> bool {
        self.health.iter().any(|(_, health)| health.is_some())
    }
}

/// Reads, every [`WATCH_EVERY`] until `stop` fires, the killed region's health at the entry
/// point and (when `alarms` is set) which of those alarms are in ALARM.
pub struct Watch {
    pub entry: EntryPoint,
    pub region: String,
    /// CloudWatch of the killed region and the alarm names to look at.
    pub alarms: Option<(aws_sdk_cloudwatch::Client, Vec<String>)>,
}

impl Watch {
    pub async fn run(self, started: Instant, stop: CancellationToken) -> Sightings {
        let mut sightings = Sightings::default();
        let mut first = true;
        loop {
            let at = elapsed_ms(started.elapsed());
            let state = crate::entry::describe(&self.entry).await;
            let health = match &state {
                EntryState::Present(description) => description
                    .regions
                    .iter()
                    .find(|traffic| traffic.region == self.region)
                    .and_then(|traffic| traffic.health.clone()),
                _ => None,
            };
            // A read without health is a gap, not a change of health.
            match health {
                Some(health) => {
                    sightings.reads += 1;
                    sightings.record_health(at, Some(health));
                }
                None => sightings.missed_reads += 1,
            }
            if let Some((cloudwatch, names)) = &self.alarms {
                match in_alarm(cloudwatch, names).await {
                    Some(firing) if first => sightings.alarms_at_start = firing,
                    Some(firing) => {
                        for name in firing {
                            let known = sightings.alarms_at_start.contains(&name)
                                || sightings.alarms.iter().any(|(_, seen)| *seen == name);
                            if !known {
                                sightings.alarms.push((at, name));
                            }
                        }
                    }
                    None => sightings.missed_alarm_reads += 1,
                }
            }
            first = false;
            tokio::select! {
                () = stop.cancelled() => return sightings,
                () = tokio::time::sleep(WATCH_EVERY) => {}
            }
        }
    }
}

/// The alarms among `names` in state ALARM; `None` when CloudWatch did not answer (counted as a
/// missed read: the watcher reports what it saw, a gap is not an error).
async fn in_alarm(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    names: &[String],
) -> Option<Vec<String>> {
    let described = cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(names.to_vec()))
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .send()
        .await
        .ok()?;
    Some(
        described
            .metric_alarms()
            .iter()
            .filter_map(|alarm| alarm.alarm_name().map(str::to_string))
            .collect(),
    )
}

/// What the load and the watcher saw around the kill and the revive. Times are since the load
/// started (`*_at_ms`) or since the kill / the revive (`*_after_ms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutageReport {
    pub region: String,
    pub stopped: Vec<StoppedService>,
    pub killed_at_ms: u64,
    pub revived_at_ms: u64,
    /// Requests sent between the kill and the revive, and how many of them failed.
    pub requests: usize,
    pub errors: usize,
    pub first_error_after_ms: Option<u64>,
    /// Whether the entry point reported any health for the region while the drill watched.
    pub health_reported: bool,
    /// The entry point first reported the region not healthy, and with which word.
    pub detected_after_ms: Option<u64>,
    pub detected_as: Option<String>,
    /// The first of the app's alarms in the region in ALARM (`auto_failover` on).
    pub alarm_after_ms: Option<u64>,
    pub alarm: Option<String>,
    pub first_other_answer_after_ms: Option<u64>,
    /// First success after the outage's last error, before the revive (0: no error at all).
    pub recovered_after_ms: Option<u64>,
    /// After the revive: the services ran their counts with healthy targets again.
    pub running_after_revive_ms: Option<u64>,
    pub healthy_after_revive_ms: Option<u64>,
    /// The first success the revived region answered.
    pub back_after_revive_ms: Option<u64>,
    pub errors_after_revive: usize,
}

/// The figures of one outage. `running_after_revive_ms`: how long the services took to run
/// their counts again, if they did within the drill's limit.
pub fn analyse(
    samples: &[Sample],
    stopped: &[StoppedService],
    region: &str,
    (killed_at_ms, revived_at_ms): (u64, u64),
    sightings: &Sightings,
    running_after_revive_ms: Option<u64>,
) -> OutageReport {
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.sent_ms >= killed_at_ms && sample.sent_ms < revived_at_ms)
        .collect();
    let failed = |sample: &&&Sample| !sample.answer.is_success();
    let errors = during.iter().filter(failed).count();
    let first_error_after_ms = during
        .iter()
        .find(failed)
        .map(|sample| sample.sent_ms - killed_at_ms);
    let first_other_answer_after_ms = during
        .iter()
        .find(|sample| {
            sample.answer.is_success()
                && sample
                    .answer
                    .region
                    .as_deref()
                    .is_some_and(|answered| answered != region)
        })
        .map(|sample| sample.sent_ms - killed_at_ms);
    let recovered_after_ms = match during.iter().rev().find(failed) {
        None => Some(0),
        Some(last_error) => during
            .iter()
            .find(|sample| sample.sent_ms > last_error.sent_ms && sample.answer.is_success())
            .map(|sample| sample.sent_ms - killed_at_ms),
    };
    let after: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.sent_ms >= revived_at_ms)
        .collect();
    let back_after_revive_ms = after
        .iter()
        .find(|sample| {
            sample.answer.is_success() && sample.answer.region.as_deref() == Some(region)
        })
        .map(|sample| sample.sent_ms - revived_at_ms);
    let detected = sightings.unhealthy_from(killed_at_ms);
    let alarm = sightings
        .alarms
        .iter()
        .find(|(at, _)| *at >= killed_at_ms)
        .cloned();
    OutageReport {
        region: region.to_string(),
        stopped: stopped.to_vec(),
        killed_at_ms,
        revived_at_ms,
        requests: during.len(),
        errors,
        first_error_after_ms,
        health_reported: sightings.health_reported(),
        detected_after_ms: detected.map(|(at, _)| at - killed_at_ms),
        detected_as: detected.map(|(_, word)| word.to_string()),
        alarm_after_ms: alarm.as_ref().map(|(at, _)| at - killed_at_ms),
        alarm: alarm.map(|(_, name)| name),
        first_other_answer_after_ms,
        recovered_after_ms,
        running_after_revive_ms,
        // Healthy "again" only after it was seen unhealthy.
        healthy_after_revive_ms: detected
            .and_then(|_| sightings.healthy_from(revived_at_ms))
            .map(|at| at - revived_at_ms),
        back_after_revive_ms,
        errors_after_revive: after.iter().filter(failed).count(),
    }
}

fn seconds(milliseconds: Option<u64>, otherwise: &str) -> String {
    milliseconds
        .map(|value| format!("{:.1}s", value as f64 / 1000.0))
        .unwrap_or_else(|| otherwise.to_string())
}

impl OutageReport {
    /// The outage's lines, and beside them the planned failover's figures (`planned`: errors,
    /// first answer from the other region, recovered) for comparison.
    pub fn text(&self, planned: Option<&super::drill::ShiftWindow>) -> String {
        let mut text = format!(
            "  unplanned outage of {} at {:.1}s ({}), revived at {:.1}s:\n",
            self.region,
            self.killed_at_ms as f64 / 1000.0,
            super::kill::summary(&self.stopped),
            self.revived_at_ms as f64 / 1000.0
        );
        let never = "not within the outage";
        let detection = match (&self.detected_as, self.detected_after_ms) {
            (Some(word), Some(after)) => {
                format!(
                    "entry point saw it {word} after {:.1}s",
                    after as f64 / 1000.0
                )
            }
            _ if self.health_reported => "entry point reported it healthy throughout".into(),
            _ => "entry point reported no health for it".into(),
        };
        text.push_str(&format!(
            "    {} requests, {} errors; first error after {}; {detection}; alarm after {}\n",
            self.requests,
            self.errors,
            seconds(self.first_error_after_ms, "none"),
            match (&self.alarm, self.alarm_after_ms) {
                (Some(name), Some(after)) => format!("{:.1}s ({name})", after as f64 / 1000.0),
                _ => "none seen".into(),
            },
        ));
        text.push_str(&format!(
            "    first answer from another region after {}; recovered after {}\n",
            seconds(self.first_other_answer_after_ms, never),
            seconds(self.recovered_after_ms, never),
        ));
        let later = "not within the drill";
        let healthy_again = match self.detected_after_ms {
            Some(_) => format!(
                ", entry point healthy after {}",
                seconds(self.healthy_after_revive_ms, later)
            ),
            None => String::new(),
        };
        text.push_str(&format!(
            "    after the revive: services running after {}{healthy_again}, first answer from {} after {}, {} errors\n",
            seconds(self.running_after_revive_ms, later),
            self.region,
            seconds(self.back_after_revive_ms, later),
            self.errors_after_revive,
        ));
        if let Some(planned) = planned {
            text.push_str(&format!(
                "  planned vs unplanned: errors {} vs {}; first answer from the other region {} vs {}; recovered {} vs {}\n",
                planned.errors,
                self.errors,
                seconds(planned.first_target_answer_after_ms, "never"),
                seconds(self.first_other_answer_after_ms, "never"),
                seconds(planned.recovered_after_ms, "never"),
                seconds(self.recovered_after_ms, "never"),
            ));
        }
        text
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::failover::load::sample;

    fn sightings() -> Sightings {
        let mut sightings = Sightings::default();
        for (at, health) in [
            (0, Some("HEALTHY")),
            (2_000, Some("HEALTHY")),
            (12_000, Some("UNHEALTHY")),
            (20_000, None),
            (22_000, Some("UNHEALTHY")),
            (34_000, Some("HEALTHY")),
        ] {
            sightings.record_health(at, health.map(str::to_string));
        }
        sightings.alarms.push((16_000, "shop-5xx-rate".into()));
        sightings
    }

    #[test]
    fn health_is_kept_as_changes_and_read_from_a_point_in_time() {
        let sightings = sightings();
        assert_eq!(sightings.health.len(), 5, "repeats are not kept");
        assert_eq!(
            sightings.unhealthy_from(10_000),
            Some((12_000, "UNHEALTHY"))
        );
        assert_eq!(sightings.unhealthy_from(23_000), None);
        assert_eq!(sightings.healthy_from(25_000), Some(34_000));
        assert_eq!(
            sightings.healthy_from(1_000),
            Some(1_000),
            "healthy since before the point: healthy at it"
        );
        assert!(sightings.health_reported());
        assert!(!Sightings::default().health_reported());
    }

    #[test]
    fn an_outage_measures_errors_detection_shift_recovery_and_the_way_back() {
        let east = "us-east-1";
        let mut samples = vec![sample(9_000, Some(200), east)];
        // Killed at 10 s: a few good answers from draining tasks, then 503s and refusals until
        // the entry point moves traffic at 15 s.
        samples.push(sample(10_100, Some(200), east));
        samples.push(sample(10_500, Some(503), east));
        samples.push(sample(12_000, None, east));
        samples.push(sample(14_900, Some(503), east));
        samples.push(sample(15_000, Some(200), "us-west-2"));
        samples.push(sample(19_000, Some(200), "us-west-2"));
        // Revived at 25 s; the east region answers again at 36 s.
        samples.push(sample(25_000, Some(200), "us-west-2"));
        samples.push(sample(30_000, Some(503), east));
        samples.push(sample(36_000, Some(200), east));
        let stopped = [StoppedService::new(
            &crate::app::SERVICES[0],
            "shop-mysfits-service",
            "shop",
            2,
            None,
        )];
        let report = analyse(
            &samples,
            &stopped,
            east,
            (10_000, 25_000),
            &sightings(),
            Some(4_000),
        );
        assert_eq!((report.requests, report.errors), (6, 3));
        assert_eq!(report.first_error_after_ms, Some(500));
        assert_eq!(report.detected_after_ms, Some(2_000));
        assert_eq!(report.detected_as.as_deref(), Some("UNHEALTHY"));
        assert_eq!(report.alarm_after_ms, Some(6_000));
        assert_eq!(report.first_other_answer_after_ms, Some(5_000));
        assert_eq!(report.recovered_after_ms, Some(5_000));
        assert_eq!(report.running_after_revive_ms, Some(4_000));
        assert_eq!(report.healthy_after_revive_ms, Some(9_000));
        assert_eq!(report.back_after_revive_ms, Some(11_000));
        assert_eq!(report.errors_after_revive, 1);
        let text = report.text(None);
        assert!(text.contains("3 errors; first error after 0.5s; entry point saw it UNHEALTHY after 2.0s; alarm after 6.0s (shop-5xx-rate)"), "{text}");
        assert!(text.contains("entry point healthy after 9.0s"), "{text}");
        assert!(
            text.contains("first answer from another region after 5.0s"),
            "{text}"
        );

        // Errors until the revive: never recovered, and no other region answered.
        let stuck = analyse(
            &samples[..5],
            &stopped,
            east,
            (10_000, 25_000),
            &Sightings::default(),
            None,
        );
        assert_eq!(stuck.recovered_after_ms, None);
        assert_eq!(stuck.first_other_answer_after_ms, None);
        assert_eq!(stuck.detected_after_ms, None);
        assert_eq!(
            stuck.healthy_after_revive_ms, None,
            "never unhealthy, so not healthy again"
        );
        assert!(!stuck.health_reported);
        let text = stuck.text(None);
        assert!(
            text.contains("entry point reported no health for it"),
            "{text}"
        );
        assert!(!text.contains("entry point healthy after"), "{text}");
        assert!(
            text.contains("first answer from another region after not within the outage"),
            "{text}"
        );
    }
}
