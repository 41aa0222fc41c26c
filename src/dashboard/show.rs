//! `mysfits dashboard show`: the key metrics of every region as numbers and sparklines, read with
//! GetMetricData from each region's CloudWatch.
//!
//! A region whose stack is missing or whose API does not answer is reported as such and the
//! other regions are still shown: during an outage this view is most needed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{MetricDataQuery, MetricStat, ScanBy};
use aws_smithy_types::DateTime;
use serde::Serialize;

use super::body::Metric;
use super::targets::{RegionTargets, read_app_stack};
use crate::aws::{RegionClients, aws_error};
use crate::config::{Config, RegionSettings};
use crate::error::Result;

/// The time window shown and how it is cut into periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Start of the window, seconds since the epoch, aligned to `period`.
    pub start: i64,
    pub period_seconds: u32,
    pub periods: usize,
}

impl Window {
    /// The last `minutes` ending now, in about a dozen periods (sparklines stay short), each a
    /// whole number of minutes as CloudWatch requires.
    pub fn last(minutes: u32, now: SystemTime) -> Window {
        let minutes = minutes.max(1);
        let period_minutes = minutes.div_ceil(12);
        let period_seconds = period_minutes * 60;
        let periods = minutes.div_ceil(period_minutes) as usize;
        let now = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs() as i64;
        let end = now - now.rem_euclid(i64::from(period_seconds)) + i64::from(period_seconds);
        Window {
            start: end - i64::from(period_seconds) * periods as i64,
            period_seconds,
            periods,
        }
    }

    fn end(&self) -> i64 {
        self.start + i64::from(self.period_seconds) * self.periods as i64
    }

    fn slot(&self, timestamp: i64) -> Option<usize> {
        let offset = timestamp - self.start;
        (offset >= 0 && timestamp < self.end())
            .then(|| (offset / i64::from(self.period_seconds)) as usize)
    }
}

/// One key metric over the window: one value per period, `None` where there was no data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub label: String,
    pub namespace: String,
    pub metric: String,
    pub stat: String,
    pub unit: &'static str,
    pub values: Vec<Option<f64>>,
    /// The newest value in the window.
    pub latest: Option<f64>,
}

/// What one region showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionView {
    pub region: String,
    /// The app's first region (shown as `primary`, the others as `secondary`).
    pub home: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub series: Vec<Series>,
}

/// A metric `show` reads, with how the terminal names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetric {
    pub metric: Metric,
    pub label: String,
    pub unit: &'static str,
}

/// The key metrics of one region: what an operator looks at first, with the replication latency
/// from it to each of `other_regions`.
pub fn key_metrics(targets: &RegionTargets, table: &str, other_regions: &[&str]) -> Vec<KeyMetric> {
    let key = |metric: Metric, label: String, unit: &'static str| KeyMetric {
        metric,
        label,
        unit,
    };
    let mut metrics = vec![
        key(Metric::requests(targets), "requests".into(), ""),
        key(
            Metric::target_responses(targets, 5),
            "target 5XX".into(),
            "",
        ),
        key(
            Metric::response_time(targets, "p50"),
            "response time p50".into(),
            "s",
        ),
        key(
            Metric::response_time(targets, "p99"),
            "response time p99".into(),
            "s",
        ),
    ];
    for service in &targets.services {
        metrics.push(key(
            Metric::healthy_hosts(targets, service),
            format!("healthy {}", service.service.name),
            "",
        ));
    }
    for service in &targets.services {
        metrics.push(key(
            Metric::service_cpu(targets, service),
            format!("cpu {}", service.service.name),
            "%",
        ));
        metrics.push(key(
            Metric::service_memory(targets, service),
            format!("memory {}", service.service.name),
            "%",
        ));
    }
    metrics.push(key(
        Metric::consumed_capacity(table, &targets.region, false),
        "table read units".into(),
        "",
    ));
    metrics.push(key(
        Metric::consumed_capacity(table, &targets.region, true),
        "table write units".into(),
        "",
    ));
    for other in other_regions {
        metrics.push(key(
            Metric::replication_latency(table, &targets.region, other),
            format!("replication to {other}"),
            "ms",
        ));
    }
    metrics
}

/// The sampled trace counts of one region's X-Ray groups (with tracing on).
pub fn trace_metrics(app: &str, region: &str) -> Vec<KeyMetric> {
    crate::app::names::TraceGroup::ALL
        .into_iter()
        .map(|group| KeyMetric {
            metric: Metric::trace_count(app, region, group),
            label: group.label().to_string(),
            unit: "",
        })
        .collect()
}

/// Reads one region: its stack for the names, then all key metrics in one GetMetricData call.
pub async fn region_view(
    config: &Config,
    region: &RegionSettings,
    clients: &RegionClients,
    window: Window,
) -> RegionView {
    let mut view = RegionView {
        region: region.name.clone(),
        home: region.home,
        problem: None,
        series: Vec::new(),
    };
    match read_region(config, region, clients, window).await {
        Ok(series) => view.series = series,
        Err(problem) => view.problem = Some(problem),
    }
    view
}

async fn read_region(
    config: &Config,
    region: &RegionSettings,
    clients: &RegionClients,
    window: Window,
) -> std::result::Result<Vec<Series>, String> {
    let stack = read_app_stack(&clients.cloudformation, &config.app, &region.name)
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| {
            format!(
                "stack {}-app not found in {}: nothing to show; run `mysfits deploy` to create it",
                config.app, region.name
            )
        })?;
    let targets = RegionTargets::from_stack(region, &stack).map_err(|error| error.to_string())?;
    let other_regions: Vec<&str> = config
        .regions()
        .filter(|other| other.name != region.name)
        .map(|other| other.name.as_str())
        .collect();
    let mut metrics = key_metrics(&targets, &config.table_name(), &other_regions);
    if config.tracing.enabled {
        metrics.extend(trace_metrics(&config.app, &region.name));
    }
    read_series(&clients.cloudwatch, &region.name, &metrics, window)
        .await
        .map_err(|error| error.to_string())
}

/// One GetMetricData call (paginated) for all metrics, values placed into the window's periods.
pub async fn read_series(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    region: &str,
    metrics: &[KeyMetric],
    window: Window,
) -> Result<Vec<Series>> {
    let queries: Vec<MetricDataQuery> = metrics
        .iter()
        .enumerate()
        .map(|(index, KeyMetric { metric, .. })| {
            MetricDataQuery::builder()
                .id(format!("m{index}"))
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric.to_sdk())
                        .period(window.period_seconds as i32)
                        .stat(metric.stat)
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();
    let mut series: Vec<Series> = metrics
        .iter()
        .map(
            |KeyMetric {
                 metric,
                 label,
                 unit,
             }| Series {
                label: label.clone(),
                namespace: metric.namespace.to_string(),
                metric: metric.name.to_string(),
                stat: metric.stat.to_string(),
                unit,
                values: vec![None; window.periods],
                latest: None,
            },
        )
        .collect();
    let mut pages = cloudwatch
        .get_metric_data()
        .set_metric_data_queries(Some(queries))
        .start_time(DateTime::from_secs(window.start))
        .end_time(DateTime::from_secs(window.end()))
        .scan_by(ScanBy::TimestampAscending)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| aws_error("GetMetricData", region, &error))?;
        for result in page.metric_data_results() {
            let Some(index) = result
                .id()
                .and_then(|id| id.strip_prefix('m'))
                .and_then(|index| index.parse::<usize>().ok())
                .filter(|index| *index < series.len())
            else {
                continue;
            };
            for (timestamp, value) in result.timestamps().iter().zip(result.values()) {
                if let Some(slot) = window.slot(timestamp.secs()) {
                    series[index].values[slot] = Some(*value);
                }
            }
        }
    }
    for one in &mut series {
        one.latest = one.values.iter().rev().find_map(|value| *value);
    }
    Ok(series)
}

/// Reads every configured region at once.
pub async fn views(
    config: &Config,
    clients: &[(RegionSettings, RegionClients)],
    window: Window,
) -> Vec<RegionView> {
    futures::future::join_all(
        clients
            .iter()
            .map(|(region, clients)| region_view(config, region, clients, window)),
    )
    .await
}

const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per period: the value's height between the series' minimum and maximum (a
/// flat line sits at the bottom), `·` where there was no data.
pub fn sparkline(values: &[Option<f64>]) -> String {
    let present = values.iter().flatten().copied();
    let minimum = present.clone().fold(f64::INFINITY, f64::min);
    let maximum = present.fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|value| match value {
            None => '·',
            Some(value) if maximum > minimum => {
                let position = (value - minimum) / (maximum - minimum) * (SPARK.len() - 1) as f64;
                SPARK[(position.round() as usize).min(SPARK.len() - 1)]
            }
            Some(_) => SPARK[0],
        })
        .collect()
}

pub fn format_value(value: Option<f64>, unit: &str) -> String {
    match value {
        None => "-".to_string(),
        Some(value) if value.fract() == 0.0 && value.abs() < 1e12 => {
            format!("{value:.0}{}", unit_suffix(unit))
        }
        Some(value) if value.abs() < 1.0 => format!("{value:.3}{}", unit_suffix(unit)),
        Some(value) => format!("{value:.1}{}", unit_suffix(unit)),
    }
}

fn unit_suffix(unit: &str) -> String {
    match unit {
        "" => String::new(),
        "%" => "%".to_string(),
        other => format!(" {other}"),
    }
}

/// The terminal rendering: a block per region, one line per metric.
pub fn render_text(views: &[RegionView], window: Window) -> String {
    let mut text = format!(
        "last {} min in {}-min periods, oldest → newest (· = no data)\n",
        window.period_seconds as usize * window.periods / 60,
        window.period_seconds / 60
    );
    for view in views {
        text.push_str(&format!(
            "\n{} ({})\n",
            view.region,
            crate::app::region::standing(view.home)
        ));
        if let Some(problem) = &view.problem {
            text.push_str(&format!("  unavailable: {problem}\n"));
            continue;
        }
        for series in &view.series {
            text.push_str(&format!(
                "  {:<28} {:>12}  {}\n",
                series.label,
                format_value(series.latest, series.unit),
                sparkline(&series.values)
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_to_whole_periods() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_123);
        let window = Window::last(60, now);
        assert_eq!(window.period_seconds, 300);
        assert_eq!(window.periods, 12);
        assert_eq!(window.start % 300, 0);
        assert!(window.end() > 1_000_000_123 && window.end() - 1_000_000_123 <= 300);
        assert_eq!(window.slot(window.start), Some(0));
        assert_eq!(window.slot(window.end() - 1), Some(11));
        assert_eq!(window.slot(window.end()), None);
        let short = Window::last(5, now);
        assert_eq!((short.period_seconds, short.periods), (60, 5));
    }

    #[test]
    fn sparklines_scale_between_minimum_and_maximum() {
        assert_eq!(sparkline(&[Some(0.0), Some(7.0), None]), "▁█·");
        assert_eq!(sparkline(&[Some(3.0), Some(3.0)]), "▁▁");
        assert_eq!(sparkline(&[None, None]), "··");
        assert_eq!(format_value(Some(12.0), ""), "12");
        assert_eq!(format_value(Some(0.0421), "s"), "0.042 s");
        assert_eq!(format_value(Some(55.25), "%"), "55.2%");
        assert_eq!(format_value(None, "%"), "-");
    }
}
