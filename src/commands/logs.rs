//! `mysfits logs`: recent lines of one service from both regions' log groups
//! (`/ecs/{app}/<service>`), merged by time and prefixed with the region; `--follow` polls.
//!
//! A region whose log group is missing or whose API does not answer is reported on stderr and the
//! other region is still read: the logs of the surviving region matter most during an outage.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsError;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::Serialize;

use crate::aws::{Patience, RegionClients, aws_error, error_message};
use crate::cli::{LogsArgs, OutputFormat};
use crate::config::Config;
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

/// Reading position in one region: the newest timestamp printed and the events printed at it
/// (several events can share a millisecond; FilterLogEvents' start time is inclusive).
#[derive(Default)]
struct Cursor {
    newest: i64,
    seen_at_newest: HashSet<String>,
}

impl Cursor {
    fn is_new(&self, line: &LogLine) -> bool {
        line.timestamp > self.newest
            || (line.timestamp == self.newest && !self.seen_at_newest.contains(&line.event_id))
    }

    fn advance(&mut self, line: &LogLine) {
        if line.timestamp > self.newest {
            self.newest = line.timestamp;
            self.seen_at_newest.clear();
        }
        self.seen_at_newest.insert(line.event_id.clone());
    }
}

pub async fn run(config: &Config, args: &LogsArgs) -> Result<ExitCode> {
    let group = log_group(&config.app, args.service.label());
    // Impatient clients: a region that is down must not stall the other region's lines.
    let regions: Vec<RegionClients> = RegionClients::for_app(config, Patience::IMPATIENT)
        .await
        .into_values()
        .collect();
    let since = now_millis() - i64::from(args.since) * 60_000;
    let limit = args.limit as usize;

    let mut cursors: BTreeMap<String, Cursor> = BTreeMap::new();
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    let reads = futures::future::join_all(
        regions
            .iter()
            .map(|clients| read_region(clients, &group, since, Some(limit))),
    )
    .await;
    for (clients, read) in regions.iter().zip(reads) {
        match read {
            Ok(region_lines) => {
                cursors.insert(clients.region.clone(), Cursor::default());
                lines.extend(region_lines);
            }
            Err(RegionProblem::MissingGroup(error)) => {
                eprintln!("warning: {}", error.report());
                missing.push(error);
            }
            Err(RegionProblem::Failed(error)) => {
                // Still followed: the region may come back.
                eprintln!("warning: {}", error.report());
                cursors.insert(clients.region.clone(), Cursor::default());
            }
        }
    }
    if missing.len() == regions.len() {
        return Err(if missing.len() == 1 {
            missing.remove(0)
        } else {
            Error::Many(missing)
        });
    }
    lines.sort_by_key(|line| line.timestamp);
    let skip = lines.len().saturating_sub(limit);
    print_lines(config.output, lines.into_iter().skip(skip), &mut cursors)?;
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }

    let interval = Duration::from_secs(args.interval);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(interval) => {}
        }
        let polls = futures::future::join_all(regions.iter().filter_map(|clients| {
            let cursor = cursors.get(&clients.region)?;
            // From the newest line printed on (inclusive, so lines of the same millisecond are
            // not lost); the cursor drops what was printed already.
            let start = if cursor.newest == 0 {
                since
            } else {
                cursor.newest
            };
            Some(read_region(clients, &group, start, None))
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
        fresh.sort_by_key(|line| line.timestamp);
        print_lines(config.output, fresh.into_iter(), &mut cursors)?;
    }
}

fn print_lines(
    output: OutputFormat,
    lines: impl Iterator<Item = LogLine>,
    cursors: &mut BTreeMap<String, Cursor>,
) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let Some(cursor) = cursors.get_mut(&line.region) else {
            continue;
        };
        if !cursor.is_new(&line) {
            continue;
        }
        cursor.advance(&line);
        let text = match output {
            OutputFormat::Text => line.text(),
            OutputFormat::Json => serde_json::to_string(&line).map_err(|error| {
                Error::config(format!("could not write JSON: {error}"), "report this bug")
            })?,
        };
        writeln!(stdout, "{text}").map_err(|error| Error::io("writing to stdout", error))?;
    }
    stdout
        .flush()
        .map_err(|error| Error::io("writing to stdout", error))
}

/// The log group of a service (the app template names them so).
pub fn log_group(app: &str, service: &str) -> String {
    format!("/ecs/{app}/{service}")
}

/// Events of the group from `start` on, oldest first; with `keep_last`, only that many newest.
async fn read_region(
    clients: &RegionClients,
    group: &str,
    start: i64,
    keep_last: Option<usize>,
) -> std::result::Result<Vec<LogLine>, RegionProblem> {
    let mut lines = VecDeque::new();
    let mut pages = clients
        .logs
        .filter_log_events()
        .log_group_name(group)
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
    fn cursor_drops_lines_already_printed_even_at_the_same_millisecond() {
        let mut cursor = Cursor::default();
        for (timestamp, id) in [(5, "a"), (5, "b")] {
            assert!(cursor.is_new(&line(timestamp, id)));
            cursor.advance(&line(timestamp, id));
        }
        assert!(!cursor.is_new(&line(5, "a")));
        assert!(!cursor.is_new(&line(4, "z")));
        assert!(cursor.is_new(&line(5, "c")));
        assert!(cursor.is_new(&line(6, "a")));
    }

    #[test]
    fn lines_carry_region_time_and_task() {
        assert_eq!(
            line(1_700_000_000_000, "a").text(),
            "[us-east-1] 2023-11-14T22:13:20Z 01234567 GET /mysfits 200"
        );
        assert_eq!(log_group("demo", "like-service"), "/ecs/demo/like-service");
    }
}
