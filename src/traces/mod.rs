//! X-Ray's view of the app: each region's service map (client → like-service → mysfits-service →
//! DynamoDB) with request counts, error and fault rates and p50/p99 latency, side by side, home
//! first; and with `--slowest N` the slowest traces of the window, across regions, as waterfalls.
//!
//! The ADOT collector sidecar of each task sends the services' spans to X-Ray in the task's own
//! region, so every region is asked on its own ([`collect`]). A region that does not answer is
//! shown NOT ANSWERING (as `status` shows it) and the others are still read.
//!
//! Figures come from GetServiceGraph's `SummaryStatistics` (TotalCount, ErrorStatistics = 4xx,
//! FaultStatistics = 5xx, TotalResponseTime = the sum of response times in seconds) and
//! `ResponseTimeHistogram` (entries of a response time in seconds and how many requests took
//! it); percentiles are read from the histogram by nearest rank ([`percentile`]).

mod waterfall;

use std::time::Duration;

use aws_sdk_xray::types::{HistogramEntry, TimeRangeType};
use aws_smithy_types::DateTime;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::aws::{aws_error, error_message};
pub use waterfall::{Span, TraceView};

/// The widest window: six hours, the X-Ray console's documented maximum for a custom range (the
/// GetTraceSummaries reference states none), and one window serves both the map and the slowest
/// traces.
pub const LONGEST_SINCE: Duration = Duration::from_secs(6 * 3600);
/// The narrowest window: X-Ray aggregates the service graph by the minute.
pub const SHORTEST_SINCE: Duration = Duration::from_secs(60);
/// The most traces `--slowest` prints: each is a waterfall of up to [`waterfall::MOST_SPANS`]
/// lines.
pub const MOST_SLOWEST: u32 = 20;
/// BatchGetTraces takes 1 to 5 trace ids per call (API reference, TraceIds).
pub const TRACE_IDS_PER_CALL: usize = 5;
/// GetTraceSummaries pages read per region for `--slowest` (the first page holds the most
/// recent traces): a busy region's window can hold thousands of traces; past this the slowest
/// are chosen among the pages read, and the report says so.
pub const MOST_SUMMARY_PAGES: usize = 20;
/// GetServiceGraph pages read per region (the app has a handful of services: one page in
/// practice; the bound only stops an endpoint that keeps sending a token).
const MOST_GRAPH_PAGES: usize = 50;

/// `--since`: how far back to look, a number and a unit (s, m, h), between
/// [`SHORTEST_SINCE`] and [`LONGEST_SINCE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since(pub Duration);

impl Since {
    pub fn parse(text: &str) -> Result<Since, String> {
        let text = text.trim();
        let digits = text.chars().take_while(char::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        if number.is_empty() {
            return Err("write a number and a unit: 90s, 15m or 2h".to_string());
        }
        let seconds_per_unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "" => return Err(format!("no unit: write {number}m for minutes (s, m or h)")),
            other => return Err(format!("unknown unit {other:?}: use s, m or h (e.g. 15m)")),
        };
        let amount: u64 = number
            .parse()
            .map_err(|_| format!("{number} is too large"))?;
        let seconds = amount.saturating_mul(seconds_per_unit);
        if seconds < SHORTEST_SINCE.as_secs() || seconds > LONGEST_SINCE.as_secs() {
            return Err(
                "must be from 1m to 6h (X-Ray's trace summaries take at most a 6-hour window)"
                    .to_string(),
            );
        }
        Ok(Since(Duration::from_secs(seconds)))
    }

    /// "15m", "90s", "2h": as short as the value allows.
    pub fn label(self) -> String {
        let seconds = self.0.as_secs();
        if seconds.is_multiple_of(3600) {
            format!("{}h", seconds / 3600)
        } else if seconds.is_multiple_of(60) {
            format!("{}m", seconds / 60)
        } else {
            format!("{seconds}s")
        }
    }
}

/// The window every region is asked about: the same instants for all.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: Since,
    pub end: DateTime,
}

impl Window {
    pub fn ending_now(since: Since) -> Window {
        Window {
            since,
            end: DateTime::from(std::time::SystemTime::now()),
        }
    }

    pub fn start(&self) -> DateTime {
        DateTime::from_secs(self.end.secs() - self.since.0.as_secs() as i64)
    }
}

/// One region to ask.
#[derive(Debug, Clone)]
pub struct RegionXray {
    pub region: String,
    pub home: bool,
    pub client: aws_sdk_xray::Client,
}

/// The whole report, for people ([`TracesReport::text`]) and programs (`--output json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracesReport {
    pub since: String,
    pub since_seconds: u64,
    /// Home first; in JSON an object keyed by region name, in the same order.
    #[serde(serialize_with = "keyed_by_region")]
    pub regions: Vec<RegionMap>,
    /// With `--slowest N`: the slowest traces of all regions, slowest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slowest: Option<Vec<TraceView>>,
    /// What limited the slowest traces (pages not read, traces X-Ray did not return).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn keyed_by_region<S: Serializer>(regions: &[RegionMap], serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(regions.len()))?;
    for region in regions {
        map.serialize_entry(&region.region, region)?;
    }
    map.end()
}

/// One region's service map.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionMap {
    #[serde(skip)]
    pub region: String,
    pub home: bool,
    /// Why the region counts as down: the call that got no answer.
    pub unreachable: Option<String>,
    /// An answer that was an error (no permission, throttled): the message and its fix.
    pub problem: Option<String>,
    /// Every node X-Ray lists, in tree order (parents before children).
    pub services: Vec<ServiceNode>,
}

/// One node of the map (a service of ours, or a downstream such as DynamoDB).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceNode {
    pub name: String,
    /// X-Ray's type: e.g. `AWS::ECS::Fargate`, `AWS::DynamoDB`, `remote`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Services that received requests from outside the traced graph (the client's edge).
    pub root: bool,
    /// Depth in the tree under the client (0 for a root).
    pub depth: usize,
    pub requests: i64,
    pub ok: i64,
    /// 4xx answers, throttles among them.
    pub errors: i64,
    pub throttles: i64,
    /// 5xx answers.
    pub faults: i64,
    pub error_rate: Option<f64>,
    pub fault_rate: Option<f64>,
    pub average_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The names of the nodes it calls.
    pub calls: Vec<String>,
}

/// The `p`-th percentile (0 < p ≤ 100) of a response-time histogram, in milliseconds, by nearest
/// rank: entries sorted by time, the first whose running count reaches ⌈p/100 · total⌉. X-Ray
/// gives each entry's time (seconds) and count; no interpolation between entries.
pub fn percentile(histogram: &[HistogramEntry], p: f64) -> Option<f64> {
    let mut entries: Vec<(f64, i64)> = histogram
        .iter()
        .filter(|entry| entry.count > 0)
        .map(|entry| (entry.value, i64::from(entry.count)))
        .collect();
    entries.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: i64 = entries.iter().map(|(_, count)| count).sum();
    if total == 0 {
        return None;
    }
    let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (seconds, count) in entries {
        seen += count;
        if seen >= rank {
            return Some(seconds * 1000.0);
        }
    }
    None
}

/// Asks every region for its map (and, with `slowest`, for its slowest traces), concurrently.
pub async fn collect(regions: &[RegionXray], window: Window, slowest: Option<u32>) -> TracesReport {
    let maps = futures::future::join_all(regions.iter().map(|region| map_of(region, window))).await;
    let mut notes = Vec::new();
    let slowest = match slowest {
        Some(count) => {
            let answering: Vec<&RegionXray> = regions
                .iter()
                .zip(&maps)
                .filter(|(_, map)| map.unreachable.is_none() && map.problem.is_none())
                .map(|(region, _)| region)
                .collect();
            Some(waterfall::slowest(&answering, window, count as usize, &mut notes).await)
        }
        None => None,
    };
    TracesReport {
        since: window.since.label(),
        since_seconds: window.since.0.as_secs(),
        regions: maps,
        slowest,
        notes,
    }
}

/// One region's service map: every GetServiceGraph page over the window.
pub async fn map_of(region: &RegionXray, window: Window) -> RegionMap {
    let mut map = RegionMap {
        region: region.region.clone(),
        home: region.home,
        ..RegionMap::default()
    };
    let mut services = Vec::new();
    let mut next_token: Option<String> = None;
    for _ in 0..MOST_GRAPH_PAGES {
        let answer = region
            .client
            .get_service_graph()
            .start_time(window.start())
            .end_time(window.end)
            .set_next_token(next_token.take())
            .send()
            .await;
        match answer {
            Ok(page) => {
                services.extend(page.services().iter().cloned());
                match page.next_token() {
                    Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                    _ => break,
                }
            }
            Err(error) if crate::aws::no_answer(&error) => {
                map.unreachable = Some(format!("GetServiceGraph: {}", error_message(&error)));
                return map;
            }
            Err(error) => {
                map.problem =
                    Some(aws_error("GetServiceGraph", &region.region, &error).to_string());
                return map;
            }
        }
    }
    map.services = tree(&services);
    map
}

/// The nodes in tree order: roots (by name), each followed by what it calls, depth first. A node
/// reached twice (two callers) is listed under each; a cycle is cut where it repeats.
fn tree(services: &[aws_sdk_xray::types::Service]) -> Vec<ServiceNode> {
    let by_reference = |id: i32| {
        services
            .iter()
            .find(|service| service.reference_id == Some(id))
    };
    let callees = |service: &aws_sdk_xray::types::Service| -> Vec<&aws_sdk_xray::types::Service> {
        let mut called: Vec<&aws_sdk_xray::types::Service> = service
            .edges()
            .iter()
            .filter_map(|edge| edge.reference_id.and_then(by_reference))
            .collect();
        called.sort_by(|a, b| a.name.cmp(&b.name));
        called.dedup_by(|a, b| a.reference_id == b.reference_id);
        called
    };
    // X-Ray lists the callers from outside as a node of type "client": the text draws it as the
    // tree's top, so it is no node of its own and what it calls are the roots.
    let is_client =
        |service: &aws_sdk_xray::types::Service| service.r#type.as_deref() == Some("client");
    let called_by_someone: Vec<i32> = services
        .iter()
        .filter(|service| !is_client(service))
        .flat_map(|service| service.edges().iter().filter_map(|edge| edge.reference_id))
        .collect();
    let mut roots: Vec<&aws_sdk_xray::types::Service> = services
        .iter()
        .filter(|service| !is_client(service))
        .filter(|service| {
            service.root == Some(true)
                || service
                    .reference_id
                    .is_none_or(|id| !called_by_someone.contains(&id))
        })
        .collect();
    roots.sort_by(|a, b| a.name.cmp(&b.name));
    let mut nodes = Vec::new();
    let mut stack: Vec<(&aws_sdk_xray::types::Service, usize, Vec<Option<i32>>)> = roots
        .into_iter()
        .rev()
        .map(|root| (root, 0, Vec::new()))
        .collect();
    while let Some((service, depth, mut path)) = stack.pop() {
        path.push(service.reference_id);
        let called = callees(service);
        nodes.push(node(service, depth, &called));
        for callee in called.into_iter().rev() {
            if !path.contains(&callee.reference_id) {
                stack.push((callee, depth + 1, path.clone()));
            }
        }
    }
    nodes
}

fn node(
    service: &aws_sdk_xray::types::Service,
    depth: usize,
    called: &[&aws_sdk_xray::types::Service],
) -> ServiceNode {
    let statistics = service.summary_statistics();
    let errors = statistics
        .and_then(|stats| stats.error_statistics())
        .and_then(|errors| errors.total_count)
        .unwrap_or(0);
    let throttles = statistics
        .and_then(|stats| stats.error_statistics())
        .and_then(|errors| errors.throttle_count)
        .unwrap_or(0);
    let faults = statistics
        .and_then(|stats| stats.fault_statistics())
        .and_then(|faults| faults.total_count)
        .unwrap_or(0);
    let ok = statistics.and_then(|stats| stats.ok_count).unwrap_or(0);
    let requests = statistics
        .and_then(|stats| stats.total_count)
        .unwrap_or(ok + errors + faults);
    let rate = |count: i64| (requests > 0).then(|| count as f64 / requests as f64);
    let histogram = service.response_time_histogram();
    ServiceNode {
        name: service
            .name
            .clone()
            .unwrap_or_else(|| "(unnamed)".to_string()),
        kind: service.r#type.clone(),
        root: depth == 0,
        depth,
        requests,
        ok,
        errors,
        throttles,
        faults,
        error_rate: rate(errors),
        fault_rate: rate(faults),
        average_ms: statistics
            .and_then(|stats| stats.total_response_time)
            .filter(|_| requests > 0)
            .map(|total| total * 1000.0 / requests as f64),
        p50_ms: percentile(histogram, 50.0),
        p99_ms: percentile(histogram, 99.0),
        calls: called
            .iter()
            .filter_map(|callee| callee.name.clone())
            .collect(),
    }
}

/// Milliseconds, short: "12 ms", "1.2 ms", "-".
fn milliseconds(value: Option<f64>) -> String {
    match value {
        Some(ms) if ms < 10.0 => format!("{ms:.1} ms"),
        Some(ms) => format!("{ms:.0} ms"),
        None => "-".to_string(),
    }
}

fn percent(rate: Option<f64>) -> String {
    rate.map(|rate| format!("{:.1}%", rate * 100.0))
        .unwrap_or_else(|| "-".to_string())
}

impl RegionMap {
    /// The region's column: a header, then the tree under "client".
    fn column(&self, since: &str) -> Vec<String> {
        let mut lines = vec![format!(
            "{} ({})",
            self.region,
            crate::app::region::standing(self.home)
        )];
        if self.unreachable.is_some() {
            lines.push("NOT ANSWERING".to_string());
            return lines;
        }
        if self.problem.is_some() {
            lines.push("no map (see the problem below)".to_string());
            return lines;
        }
        if self.services.is_empty() {
            lines.push(format!("no traces in the last {since}"));
            return lines;
        }
        lines.push("client".to_string());
        for service in &self.services {
            let indent = "   ".repeat(service.depth);
            lines.push(format!(
                "{indent}└─ {}",
                crate::aws::describe::bounded(&service.name, 32)
            ));
            lines.push(format!(
                "{indent}   {} req, err {}, fault {}",
                service.requests,
                percent(service.error_rate),
                percent(service.fault_rate)
            ));
            lines.push(format!(
                "{indent}   p50 {}, p99 {}",
                milliseconds(service.p50_ms),
                milliseconds(service.p99_ms)
            ));
        }
        lines
    }
}

impl TracesReport {
    /// The regions' maps side by side (home first), what went wrong per region, then the
    /// slowest traces one under the other.
    pub fn text(&self) -> String {
        let columns: Vec<Vec<String>> = self
            .regions
            .iter()
            .map(|region| region.column(&self.since))
            .collect();
        let widths: Vec<usize> = columns
            .iter()
            .map(|lines| {
                lines
                    .iter()
                    .map(|line| line.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let height = columns.iter().map(Vec::len).max().unwrap_or(0);
        let mut text = format!("traced requests, last {}\n", self.since);
        for row in 0..height {
            let mut line = String::new();
            for (column, width) in columns.iter().zip(&widths) {
                let cell = column.get(row).map(String::as_str).unwrap_or("");
                let pad = width.saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 4));
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        for region in &self.regions {
            if let Some(why) = &region.unreachable {
                text.push_str(&format!("not answering: {}: {why}\n", region.region));
            }
            if let Some(problem) = &region.problem {
                text.push_str(&format!("problem in {}: {problem}\n", region.region));
            }
        }
        if let Some(slowest) = &self.slowest {
            text.push('\n');
            if slowest.is_empty() {
                text.push_str(&format!("no traces to show in the last {}\n", self.since));
            }
            for trace in slowest {
                text.push_str(&trace.text());
                text.push('\n');
            }
        }
        for note in &self.notes {
            text.push_str(&format!("note: {note}\n"));
        }
        text
    }

    /// The failure to report when no region gave a map, else `None`.
    pub fn no_region_answered(&self) -> Option<String> {
        let reasons = self
            .regions
            .iter()
            .map(|region| {
                region
                    .unreachable
                    .as_ref()
                    .or(region.problem.as_ref())
                    .map(|why| format!("\n  - {}: {why}", region.region))
            })
            .collect::<Option<String>>()?;
        Some(format!(
            "no region gave its service map, so nothing above is known{reasons}\n  fix: fix what \
             each region's line names (endpoints: --endpoint-url, endpoint_url in mysfits.yaml; \
             permissions: `mysfits iam-policy`), then run `mysfits traces` again"
        ))
    }
}

/// TimeRangeType for the slowest traces: by trace start, so a trace is in the window when it
/// began there (its id carries that time).
pub(crate) const SUMMARY_TIME_RANGE: TimeRangeType = TimeRangeType::TraceId;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(seconds: f64, count: i32) -> HistogramEntry {
        HistogramEntry::builder()
            .value(seconds)
            .count(count)
            .build()
    }

    #[test]
    fn percentiles_are_nearest_rank_over_the_histogram_in_milliseconds() {
        // 100 requests: 50 at 10 ms, 49 at 20 ms, 1 at 900 ms; unsorted as X-Ray may send them.
        let histogram = [entry(0.02, 49), entry(0.9, 1), entry(0.01, 50)];
        assert_eq!(percentile(&histogram, 50.0), Some(10.0));
        assert_eq!(percentile(&histogram, 99.0), Some(20.0));
        assert_eq!(percentile(&histogram, 100.0), Some(900.0));
        assert_eq!(percentile(&[entry(0.5, 0)], 50.0), None);
        assert_eq!(percentile(&[], 99.0), None);
    }

    #[test]
    fn since_takes_a_number_and_a_unit_within_xrays_window() {
        assert_eq!(Since::parse("15m"), Ok(Since(Duration::from_secs(900))));
        assert_eq!(Since::parse("90s").map(Since::label), Ok("90s".to_string()));
        assert_eq!(Since::parse("6h").map(Since::label), Ok("6h".to_string()));
        assert_eq!(
            Since::parse("15"),
            Err("no unit: write 15m for minutes (s, m or h)".to_string())
        );
        assert!(Since::parse("7h").unwrap_err().contains("from 1m to 6h"));
        assert!(Since::parse("30s").unwrap_err().contains("from 1m to 6h"));
        assert!(
            Since::parse("2d")
                .unwrap_err()
                .contains("unknown unit \"d\"")
        );
        assert!(
            Since::parse("m")
                .unwrap_err()
                .contains("a number and a unit")
        );
        assert!(Since::parse("99999999999999999999h").is_err());
    }
}
