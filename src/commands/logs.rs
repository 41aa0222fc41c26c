//! `mysfits logs`: recent lines of one service from the log groups of every region (or those
//! `--in` names), [`crate::app::names::log_group`], merged by time and prefixed with the region;
//! `--follow` polls.
//!
//! A region whose log group is missing or whose API does not answer is reported on stderr and the
//! other regions are still read: the logs of the surviving regions matter most during an outage.
//!
//! FilterLogEvents sorts by event time, not by arrival: an event of another stream (task) can
//! arrive after a newer one was printed (the awslogs driver sends in batches, and PutLogEvents
//! accepts events up to 14 days old). So each poll reads again from [`OVERLAP_MS`] before the
//! newest line printed and drops what was printed by event id.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsError;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::Serialize;

use crate::aws::{Patience, RegionClients, aws_error, error_message};
use crate::cli::{LogsArgs, OutputFormat};
use crate::config::{Config, RegionSettings};
use crate::error::{Error, Result};

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub region: String,
    /// Milliseconds since the epoch, as CloudWatch Logs stores it.
    pub timestamp: i64,
    pub stream: String,
    pub message: String,
    #[serde(skip)]
    event_id: String,
}

impl LogLine {
    fn text(&self) -> String {
        let time = DateTime::from_millis(self.timestamp)
            .fmt(Format::DateTime)
            .unwrap_or_else(|_| self.timestamp.to_string());
        format!(
            "[{}] {time} {} {}",
            self.region,
            short_stream(&self.stream),
            self.message.trim_end()
        )
    }
}

/// ECS streams are `prefix/container/TASK-ID`; the task id's first block tells tasks apart.
fn short_stream(stream: &str) -> &str {
    let task = stream.rsplit('/').next().unwrap_or(stream);
    task.get(..8).unwrap_or(task)
}

/// Why a region gave no lines.
enum RegionProblem {
    /// The log group does not exist there.
    MissingGroup(Error),
    /// Anything else (unreachable, throttled beyond retries, no permission).
    Failed(Error),
}

/// How far before the newest printed line each poll reads again, for events that arrive late
/// (batched by the log driver, or from a task whose clock or upload lags): those arriving later
/// than this after a newer line was printed are missed.
pub const OVERLAP_MS: i64 = 60_000;

/// Reading position in one region: the newest timestamp printed, and the ids of the events
/// printed within [`OVERLAP_MS`] of it (the ones a poll can return again), so that memory stays
/// bounded by what one overlap window holds.
#[derive(Debug, Default)]
struct Cursor {
    /// Lines older than this are not printed (the first read kept only the newest `--limit`).
    floor: i64,
    newest: i64,
    printed: HashMap<String, i64>,
}

impl Cursor {
    fn with_floor(floor: i64) -> Self {
        Cursor {
            floor,
            ..Cursor::default()
        }
    }

    /// Where the next poll starts (inclusive): `since` before anything was printed.
    fn start(&self, since: i64) -> i64 {
        if self.newest == 0 {
            since.max(self.floor)
        } else {
            (self.newest - OVERLAP_MS).max(since).max(self.floor)
        }
    }

    fn is_new(&self, line: &LogLine) -> bool {
        line.timestamp >= self.floor && !self.printed.contains_key(&line.event_id)
    }

    fn advance(&mut self, line: &LogLine) {
        self.newest = self.newest.max(line.timestamp);
        self.printed.insert(line.event_id.clone(), line.timestamp);
    }

    /// Drops the ids no later poll can return: none starts before newest - OVERLAP_MS.
    fn forget_old(&mut self) {
        let horizon = self.newest - OVERLAP_MS;
        self.printed.retain(|_, timestamp| *timestamp >= horizon);
    }
}

/// Which lines of a service's log group: its own container's, or its tracing collector's. Both
/// write to the same group; ECS names each stream `prefix/container/task-id` with the prefix of
/// the container's log configuration (templates/app.yaml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    pub group: String,
    /// Only streams whose name starts with this (`None`: every stream).
    pub stream_prefix: Option<String>,
}

/// The `awslogs-stream-prefix` of the tracing collector sidecar.
pub const COLLECTOR_STREAM_PREFIX: &str = "otel-collector";

impl LogSource {
    /// The service's own lines (`--collector`: its collector's instead).
    pub fn of(app: &str, service: &crate::app::Service, collector: bool) -> LogSource {
        let prefix = if collector {
            COLLECTOR_STREAM_PREFIX
        } else {
            service.name
        };
        LogSource {
            group: crate::app::names::log_group(app, service),
            stream_prefix: Some(format!("{prefix}/")),
        }
    }

    /// Every stream of `group`.
    pub fn whole_group(group: &str) -> LogSource {
        LogSource {
            group: group.to_string(),
            stream_prefix: None,
        }
    }

    fn takes(&self, stream: &str) -> bool {
        self.stream_prefix
            .as_deref()
            .is_none_or(|prefix| stream.starts_with(prefix))
    }
}

/// Follows one log group in several regions: which lines are new, where each poll starts.
pub struct Follower {
    source: LogSource,
    since: i64,
    cursors: BTreeMap<String, Cursor>,
}

impl Follower {
    /// Follows `source` from `since` (milliseconds since the epoch) in no region yet.
    pub fn new(source: LogSource, since: i64) -> Self {
        Follower {
            source,
            since,
            cursors: BTreeMap::new(),
        }
    }

    /// Adds `region`, whose lines older than `floor` are never printed.
    pub fn watch(&mut self, region: &str, floor: i64) {
        self.cursors
            .insert(region.to_string(), Cursor::with_floor(floor));
    }

    /// The lines of watched regions not taken yet, oldest first; they count as printed.
    pub fn take_new(&mut self, mut lines: Vec<LogLine>) -> Vec<LogLine> {
        lines.sort_by_key(|line| line.timestamp);
        let new = lines
            .into_iter()
            .filter(|line| {
                let Some(cursor) = self.cursors.get_mut(&line.region) else {
                    return false;
                };
                if !cursor.is_new(line) {
                    return false;
                }
                cursor.advance(line);
                true
            })
            .collect();
        for cursor in self.cursors.values_mut() {
            cursor.forget_old();
        }
        new
    }

    /// One poll of every watched region (each from [`OVERLAP_MS`] before its newest line, every
    /// page): the new lines, oldest first. A region that fails is reported on stderr and read
    /// again at the next poll.
    pub async fn poll(&mut self, regions: &[RegionClients]) -> Vec<LogLine> {
        let polls = futures::future::join_all(regions.iter().filter_map(|clients| {
            let start = self.cursors.get(&clients.region)?.start(self.since);
            Some(read_region(clients, &self.source, start, None))
        }))
        .await;
        let mut fresh = Vec::new();
        for poll in polls {
            match poll {
                Ok(region_lines) => fresh.extend(region_lines),
                Err(RegionProblem::MissingGroup(error) | RegionProblem::Failed(error)) => {
                    eprintln!("warning: {}", error.report());
                }
            }
        }
        self.take_new(fresh)
    }
}

/// The regions `--in` names, in the app's order; every region when it names none.
pub fn chosen_regions<'a>(config: &'a Config, names: &[String]) -> Result<Vec<&'a RegionSettings>> {
    if let Some(unknown) = names
        .iter()
        .find(|name| config.region_named(name).is_none())
    {
        return Err(Error::config(
            format!(
                "--in {unknown}: {unknown} is not one of the app's regions ({})",
                config.region_names().join(", ")
            ),
            "pass one of the app's regions to --in, or leave --in out to read every region",
        ));
    }
    Ok(config
        .regions()
        .filter(|region| names.is_empty() || names.contains(&region.name))
        .collect())
}

pub async fn run(config: &Config, args: &LogsArgs) -> Result<ExitCode> {
    let source = LogSource::of(&config.app, args.service, args.collector);
    // Impatient clients: a region that is down must not stall the other regions' lines.
    let chosen = chosen_regions(config, &args.in_regions)?;
    let first = chosen.first().map(|region| region.name.as_str());
    super::identity_first(config, first, super::Banner::Verbose).await?;
    let mut regions = Vec::new();
    for region in chosen {
        regions.push(RegionClients::for_region(config, region, Patience::IMPATIENT).await);
    }
    let since = now_millis() - i64::from(args.since) * 60_000;
    let limit = args.limit as usize;

    let reads = futures::future::join_all(
        regions
            .iter()
            .map(|clients| read_region(clients, &source, since, Some(limit))),
    )
    .await;
    let (mut lines, watched) = first_read(&regions, reads)?;
    lines.sort_by_key(|line| line.timestamp);
    let skip = lines.len().saturating_sub(limit);
    // Only the newest `limit` lines are shown: what is older than the first of them (and may
    // have been left out) stays out when later polls read that time again.
    let floor = match lines.get(skip) {
        Some(first) if skip > 0 || lines.len() >= limit => first.timestamp,
        _ => since,
    };
    let mut follower = Follower::new(source, since);
    for region in &watched {
        follower.watch(region, floor);
    }
    let shown = follower.take_new(lines.split_off(skip));
    print_lines(config.output, &shown)?;
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }

    let interval = Duration::from_secs(args.interval);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(interval) => {}
        }
        let fresh = follower.poll(&regions).await;
        print_lines(config.output, &fresh)?;
    }
}

/// The lines of the first read and the regions to follow. A region whose group is missing is
/// left out, one that failed otherwise is still followed (it may come back); each is a warning
/// on stderr. When no region could be read at all the command fails with every reason.
fn first_read(
    regions: &[RegionClients],
    reads: Vec<std::result::Result<Vec<LogLine>, RegionProblem>>,
) -> Result<(Vec<LogLine>, Vec<String>)> {
    let mut lines = Vec::new();
    let mut watched = Vec::new();
    let mut failures = Vec::new();
    for (clients, read) in regions.iter().zip(reads) {
        match read {
            Ok(region_lines) => {
                watched.push(clients.region.clone());
                lines.extend(region_lines);
            }
            Err(RegionProblem::MissingGroup(error)) => failures.push(error),
            Err(RegionProblem::Failed(error)) => {
                watched.push(clients.region.clone());
                failures.push(error);
            }
        }
    }
    if failures.len() == regions.len() {
        return Err(if failures.len() == 1 {
            failures.remove(0)
        } else {
            Error::Many(failures)
        });
    }
    for failure in &failures {
        eprintln!("warning: {}", failure.report());
    }
    Ok((lines, watched))
}

fn print_lines(output: OutputFormat, lines: &[LogLine]) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let text = match output {
            OutputFormat::Text => line.text(),
            OutputFormat::Json => serde_json::to_string(line)
                .map_err(|error| Error::internal(format!("could not write JSON: {error}")))?,
        };
        writeln!(stdout, "{text}").map_err(|error| Error::io("writing to stdout", error))?;
    }
    stdout
        .flush()
        .map_err(|error| Error::io("writing to stdout", error))
}

/// Events of the source from `start` on, oldest first, from every page (a page may be empty and
/// still carry a nextToken: the search goes on); with `keep_last`, only that many newest. The
/// stream prefix is sent (CloudWatch Logs then searches only those streams) and applied again
/// here, because an emulator may ignore it.
async fn read_region(
    clients: &RegionClients,
    source: &LogSource,
    start: i64,
    keep_last: Option<usize>,
) -> std::result::Result<Vec<LogLine>, RegionProblem> {
    let group = source.group.as_str();
    let mut lines = VecDeque::new();
    let mut pages = clients
        .logs
        .filter_log_events()
        .log_group_name(group)
        .set_log_stream_name_prefix(source.stream_prefix.clone())
        .start_time(start)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| {
            if error
                .as_service_error()
                .is_some_and(FilterLogEventsError::is_resource_not_found_exception)
            {
                RegionProblem::MissingGroup(Error::config(
                    format!(
                        "log group {group} not found in {}: {}",
                        clients.region,
                        error_message(&error)
                    ),
                    "check --app and the regions, or deploy the app with `mysfits deploy` (it creates the log groups)",
                ))
            } else {
                RegionProblem::Failed(aws_error("FilterLogEvents", &clients.region, &error))
            }
        })?;
        for event in page.events() {
            if !source.takes(event.log_stream_name().unwrap_or_default()) {
                continue;
            }
            lines.push_back(LogLine {
                region: clients.region.clone(),
                timestamp: event.timestamp().unwrap_or_default(),
                stream: event.log_stream_name().unwrap_or_default().to_string(),
                message: event.message().unwrap_or_default().to_string(),
                event_id: event.event_id().unwrap_or_default().to_string(),
            });
            if let Some(keep) = keep_last
                && lines.len() > keep
            {
                lines.pop_front();
            }
        }
    }
    Ok(lines.into())
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(timestamp: i64, id: &str) -> LogLine {
        LogLine {
            region: "us-east-1".into(),
            timestamp,
            stream: "ecs/mysfits-service/0123456789abcdef".into(),
            message: "GET /mysfits 200\n".into(),
            event_id: id.into(),
        }
    }

    #[test]
    fn lines_already_printed_are_dropped_even_at_the_same_millisecond() {
        let mut follower = Follower::new(LogSource::whole_group("/ecs/demo/mysfits-service"), 0);
        follower.watch("us-east-1", 0);
        let taken = follower.take_new(vec![line(5, "a"), line(5, "b")]);
        assert_eq!(taken.len(), 2);
        assert!(
            follower
                .take_new(vec![line(5, "a"), line(5, "b"), line(5, "c"), line(6, "d")])
                .iter()
                .map(|line| line.event_id.as_str())
                .eq(["c", "d"])
        );
    }

    #[test]
    fn a_late_older_event_is_printed_once_and_in_time_order() {
        // Task A's line at 100 s was printed; task B's line of 70 s (and one of 130 s) arrive
        // only now, after the driver's next batch.
        let mut follower = Follower::new(LogSource::whole_group("/ecs/demo/mysfits-service"), 0);
        follower.watch("us-east-1", 0);
        assert_eq!(follower.take_new(vec![line(100_000, "a")]).len(), 1);
        let start = follower.cursors["us-east-1"].start(0);
        assert_eq!(
            start,
            100_000 - OVERLAP_MS,
            "the poll reads the overlap again"
        );
        // FilterLogEvents from `start` returns, sorted by event time, the late ones and `a` again.
        let polled = vec![line(130_000, "c"), line(70_000, "b"), line(100_000, "a")];
        let taken: Vec<_> = follower
            .take_new(polled.clone())
            .into_iter()
            .map(|line| (line.timestamp, line.event_id))
            .collect();
        assert_eq!(
            taken,
            [(70_000, "b".to_string()), (130_000, "c".to_string())]
        );
        assert!(follower.take_new(polled).is_empty(), "each line once");
    }

    #[test]
    fn ids_outside_the_overlap_are_forgotten_and_the_limit_floor_holds() {
        let mut follower = Follower::new(LogSource::whole_group("/ecs/demo/mysfits-service"), 0);
        follower.watch("us-east-1", 50);
        assert!(follower.take_new(vec![line(40, "skipped")]).is_empty());
        let many: Vec<LogLine> = (0..1000)
            .map(|second| line(second * 1000, &format!("e{second}")))
            .collect();
        follower.take_new(many);
        let cursor = &follower.cursors["us-east-1"];
        assert_eq!(cursor.newest, 999_000);
        assert!(
            cursor.printed.len() <= 61,
            "only the overlap window is remembered: {}",
            cursor.printed.len()
        );
    }

    #[test]
    fn lines_carry_region_time_and_task() {
        assert_eq!(
            line(1_700_000_000_000, "a").text(),
            "[us-east-1] 2023-11-14T22:13:20Z 01234567 GET /mysfits 200"
        );
    }
}
