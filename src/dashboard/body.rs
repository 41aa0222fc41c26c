//! The dashboard body as typed structs, serialized to the JSON CloudWatch expects
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html>).
//!
//! Why typed: a typo in a hand-written JSON body is accepted by PutDashboard and shows up as an
//! empty graph weeks later; here every widget is built from the same [`Metric`] constructors that
//! `mysfits dashboard show` queries, so the graphs and the terminal view cannot drift apart.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use super::targets::{Accelerator, RegionTargets, ServiceTargets};
use crate::app::names::{self, TraceGroup};
use crate::aws::GLOBAL_ACCELERATOR_REGION;

/// The grid CloudWatch lays widgets on is 24 units wide.
const GRID_WIDTH: u8 = 24;
const GRAPH_HEIGHT: u8 = 6;
const TITLE_HEIGHT: u8 = 2;
/// One-minute graphs: ALB and ECS publish every minute.
const GRAPH_PERIOD_SECONDS: u32 = 60;

/// The whole dashboard, as PutDashboard takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardBody {
    /// Relative start of the default time range (ISO 8601 duration, negative).
    pub start: String,
    /// `inherit`: graphs keep their own one-minute period when the user zooms out.
    pub period_override: String,
    pub widgets: Vec<Widget>,
}

/// One widget with its place on the grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Widget {
    #[serde(flatten)]
    pub content: WidgetContent,
    pub x: u8,
    pub y: u16,
    pub width: u8,
    pub height: u8,
}

/// What a widget shows; serialized as `"type"` plus `"properties"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "properties", rename_all = "lowercase")]
pub enum WidgetContent {
    Text(TextProperties),
    Metric(MetricProperties),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextProperties {
    pub markdown: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricProperties {
    pub title: String,
    pub view: String,
    pub stacked: bool,
    /// The widget's default region; every metric also names its own, which is what lets one
    /// dashboard in the home region graph every region.
    pub region: String,
    pub period: u32,
    pub stat: String,
    pub metrics: Vec<Metric>,
    pub y_axis: YAxis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YAxis {
    pub left: AxisRange,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AxisRange {
    pub min: u32,
}

/// One metric line: namespace, name, dimensions, and where and how to read it.
///
/// Serialized in CloudWatch's array form
/// `[namespace, name, dim1, value1, ..., {"region": ..., "label": ..., "stat": ...}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub namespace: &'static str,
    pub name: &'static str,
    pub dimensions: Vec<(&'static str, String)>,
    pub region: String,
    pub label: String,
    pub stat: &'static str,
}

impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut sequence = serializer.serialize_seq(Some(3 + self.dimensions.len() * 2))?;
        sequence.serialize_element(self.namespace)?;
        sequence.serialize_element(self.name)?;
        for (name, value) in &self.dimensions {
            sequence.serialize_element(name)?;
            sequence.serialize_element(value)?;
        }
        sequence.serialize_element(&MetricOptions(self))?;
        sequence.end()
    }
}

struct MetricOptions<'a>(&'a Metric);

impl Serialize for MetricOptions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("region", &self.0.region)?;
        map.serialize_entry("label", &self.0.label)?;
        map.serialize_entry("stat", self.0.stat)?;
        map.end()
    }
}

/// The metrics of the app, one constructor per graphed quantity. `show` uses the same ones.
impl Metric {
    fn new(
        namespace: &'static str,
        name: &'static str,
        dimensions: Vec<(&'static str, String)>,
        region: &str,
        label: String,
        stat: &'static str,
    ) -> Metric {
        Metric {
            namespace,
            name,
            dimensions,
            region: region.to_string(),
            label,
            stat,
        }
    }

    pub fn requests(targets: &RegionTargets) -> Metric {
        Metric::new(
            "AWS/ApplicationELB",
            "RequestCount",
            vec![("LoadBalancer", targets.load_balancer.clone())],
            &targets.region,
            format!("{} requests", targets.region),
            "Sum",
        )
    }

    /// Responses of the targets by class: `code` is 2, 4 or 5.
    pub fn target_responses(targets: &RegionTargets, code: u8) -> Metric {
        let name = match code {
            2 => "HTTPCode_Target_2XX_Count",
            4 => "HTTPCode_Target_4XX_Count",
            _ => "HTTPCode_Target_5XX_Count",
        };
        Metric::new(
            "AWS/ApplicationELB",
            name,
            vec![("LoadBalancer", targets.load_balancer.clone())],
            &targets.region,
            format!("{} {code}XX", targets.region),
            "Sum",
        )
    }

    /// Target response time at a percentile (`p50`, `p99`).
    pub fn response_time(targets: &RegionTargets, percentile: &'static str) -> Metric {
        Metric::new(
            "AWS/ApplicationELB",
            "TargetResponseTime",
            vec![("LoadBalancer", targets.load_balancer.clone())],
            &targets.region,
            format!("{} {percentile}", targets.region),
            percentile,
        )
    }

    pub fn healthy_hosts(targets: &RegionTargets, service: &ServiceTargets) -> Metric {
        Metric::new(
            "AWS/ApplicationELB",
            "HealthyHostCount",
            vec![
                ("TargetGroup", service.target_group.clone()),
                ("LoadBalancer", targets.load_balancer.clone()),
            ],
            &targets.region,
            format!("{} {}", targets.region, service.service.name),
            "Minimum",
        )
    }

    pub fn service_cpu(targets: &RegionTargets, service: &ServiceTargets) -> Metric {
        Metric::ecs(targets, service, "CPUUtilization")
    }

    pub fn service_memory(targets: &RegionTargets, service: &ServiceTargets) -> Metric {
        Metric::ecs(targets, service, "MemoryUtilization")
    }

    fn ecs(targets: &RegionTargets, service: &ServiceTargets, name: &'static str) -> Metric {
        Metric::new(
            "AWS/ECS",
            name,
            vec![
                ("ClusterName", targets.cluster.clone()),
                ("ServiceName", service.ecs_service.clone()),
            ],
            &targets.region,
            format!("{} {}", targets.region, service.service.name),
            "Average",
        )
    }

    /// Consumed capacity of the table (or its replica) in one region: `write` or read.
    pub fn consumed_capacity(table: &str, region: &str, write: bool) -> Metric {
        let (name, kind) = if write {
            ("ConsumedWriteCapacityUnits", "write")
        } else {
            ("ConsumedReadCapacityUnits", "read")
        };
        Metric::new(
            "AWS/DynamoDB",
            name,
            vec![("TableName", table.to_string())],
            region,
            format!("{region} {kind}"),
            "Sum",
        )
    }

    /// How long writes made in `source` take to reach `receiving` (published in `source`).
    pub fn replication_latency(table: &str, source: &str, receiving: &str) -> Metric {
        Metric::new(
            "AWS/DynamoDB",
            "ReplicationLatency",
            vec![
                ("TableName", table.to_string()),
                ("ReceivingRegion", receiving.to_string()),
            ],
            source,
            format!("{source} → {receiving}"),
            "Average",
        )
    }

    /// New client flows through the accelerator (its metrics live in the control-plane region).
    pub fn accelerator_flows(accelerator: &Accelerator) -> Metric {
        Metric::new(
            "AWS/GlobalAccelerator",
            "NewFlowCount",
            vec![("Accelerator", accelerator.id.clone())],
            GLOBAL_ACCELERATOR_REGION,
            "new flows".to_string(),
            "Sum",
        )
    }

    pub fn accelerator_bytes_in(accelerator: &Accelerator) -> Metric {
        Metric::new(
            "AWS/GlobalAccelerator",
            "ProcessedBytesIn",
            vec![("Accelerator", accelerator.id.clone())],
            GLOBAL_ACCELERATOR_REGION,
            "bytes in".to_string(),
            "Sum",
        )
    }

    /// Sampled traces of one of the app's X-Ray groups in one region: X-Ray publishes each
    /// group's count every minute, the only trace-derived metric CloudWatch has on its own.
    pub fn trace_count(app: &str, region: &str, group: TraceGroup) -> Metric {
        Metric::new(
            "AWS/X-Ray",
            "ApproximateTraceCount",
            vec![("GroupName", names::trace_group(app, group))],
            region,
            format!("{region} {}", group.label()),
            "Sum",
        )
    }

    /// The metric as the CloudWatch SDK names it (for GetMetricData).
    pub fn to_sdk(&self) -> aws_sdk_cloudwatch::types::Metric {
        aws_sdk_cloudwatch::types::Metric::builder()
            .namespace(self.namespace)
            .metric_name(self.name)
            .set_dimensions(Some(
                self.dimensions
                    .iter()
                    .map(|(name, value)| {
                        aws_sdk_cloudwatch::types::Dimension::builder()
                            .name(*name)
                            .value(value)
                            .build()
                    })
                    .collect(),
            ))
            .build()
    }
}

/// What the dashboard covers: the app's regions (home first), its table and, when there is
/// one, its accelerator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardInput {
    pub app: String,
    pub table: String,
    pub regions: Vec<RegionTargets>,
    pub accelerator: Option<Accelerator>,
    /// Whether the services are traced (the app stacks then hold the X-Ray groups it graphs).
    pub tracing: bool,
}

impl DashboardInput {
    fn home_region(&self) -> &str {
        self.regions
            .first()
            .map(|targets| targets.region.as_str())
            .unwrap_or_default()
    }
}

/// The dashboard for `input`: rows of graphs, each row split evenly across the grid.
pub fn build(input: &DashboardInput) -> DashboardBody {
    let rows = Rows { input };
    DashboardBody {
        start: "-PT3H".to_string(),
        period_override: "inherit".to_string(),
        widgets: lay_out(vec![
            vec![WidgetContent::Text(TextProperties {
                markdown: title_markdown(input),
            })],
            rows.traffic(),
            rows.target_responses(),
            rows.health(),
            rows.ecs(),
            rows.table(),
            rows.traces(),
        ]),
    }
}

/// The rows of the dashboard, top to bottom; every graph's lines cover every region.
struct Rows<'a> {
    input: &'a DashboardInput,
}

impl Rows<'_> {
    /// A time series graph whose default region is home (each metric names its own).
    fn graph(
        &self,
        title: &str,
        stat: &'static str,
        stacked: bool,
        metrics: Vec<Metric>,
    ) -> WidgetContent {
        WidgetContent::Metric(MetricProperties {
            title: title.to_string(),
            view: "timeSeries".to_string(),
            stacked,
            region: self.input.home_region().to_string(),
            period: GRAPH_PERIOD_SECONDS,
            stat: stat.to_string(),
            metrics,
            y_axis: YAxis {
                left: AxisRange { min: 0 },
            },
        })
    }

    fn per_region(&self, metric: impl Fn(&RegionTargets) -> Vec<Metric>) -> Vec<Metric> {
        self.input.regions.iter().flat_map(metric).collect()
    }

    fn per_service(&self, metric: fn(&RegionTargets, &ServiceTargets) -> Metric) -> Vec<Metric> {
        self.per_region(|targets| {
            targets
                .services
                .iter()
                .map(|service| metric(targets, service))
                .collect()
        })
    }

    fn traffic(&self) -> Vec<WidgetContent> {
        vec![
            self.graph(
                "Requests per region (stacked)",
                "Sum",
                true,
                self.per_region(|targets| vec![Metric::requests(targets)]),
            ),
            self.graph(
                "Target response time p50 / p99 (seconds)",
                "p99",
                false,
                self.per_region(|targets| {
                    vec![
                        Metric::response_time(targets, "p50"),
                        Metric::response_time(targets, "p99"),
                    ]
                }),
            ),
        ]
    }

    /// One graph per region: its targets' 2XX, 4XX and 5XX responses.
    fn target_responses(&self) -> Vec<WidgetContent> {
        self.input
            .regions
            .iter()
            .map(|targets| {
                self.graph(
                    &format!(
                        "Target responses {} ({})",
                        targets.region,
                        targets.standing()
                    ),
                    "Sum",
                    false,
                    [2, 4, 5]
                        .into_iter()
                        .map(|code| Metric::target_responses(targets, code))
                        .collect(),
                )
            })
            .collect()
    }

    /// Healthy targets, and the accelerator's flows when the app has one.
    fn health(&self) -> Vec<WidgetContent> {
        let mut row = vec![self.graph(
            "Healthy targets",
            "Minimum",
            false,
            self.per_service(Metric::healthy_hosts),
        )];
        if let Some(accelerator) = &self.input.accelerator {
            row.push(self.graph(
                "Global Accelerator flows",
                "Sum",
                false,
                vec![
                    Metric::accelerator_flows(accelerator),
                    Metric::accelerator_bytes_in(accelerator),
                ],
            ));
        }
        row
    }

    fn ecs(&self) -> Vec<WidgetContent> {
        vec![
            self.graph(
                "ECS CPU utilization (%)",
                "Average",
                false,
                self.per_service(Metric::service_cpu),
            ),
            self.graph(
                "ECS memory utilization (%)",
                "Average",
                false,
                self.per_service(Metric::service_memory),
            ),
        ]
    }

    /// Consumed capacity per region and, with more than one region, replication latency.
    fn table(&self) -> Vec<WidgetContent> {
        let table = &self.input.table;
        let mut row = vec![self.graph(
            &format!("DynamoDB {table} consumed capacity"),
            "Sum",
            false,
            self.per_region(|targets| {
                vec![
                    Metric::consumed_capacity(table, &targets.region, false),
                    Metric::consumed_capacity(table, &targets.region, true),
                ]
            }),
        )];
        if self.input.regions.len() > 1 {
            row.push(self.graph(
                "DynamoDB replication latency (ms)",
                "Average",
                false,
                self.replication_latencies(),
            ));
        }
        row
    }

    /// With tracing on: sampled traces per region, and those with a fault or slower than half a
    /// second (the X-Ray groups' counts; a share of the sampled requests, not every request).
    fn traces(&self) -> Vec<WidgetContent> {
        if !self.input.tracing {
            return Vec::new();
        }
        let app = &self.input.app;
        let counts = |groups: &[TraceGroup]| {
            self.per_region(|targets| {
                groups
                    .iter()
                    .map(|group| Metric::trace_count(app, &targets.region, *group))
                    .collect()
            })
        };
        vec![
            self.graph(
                "Traced requests per region (sampled, X-Ray)",
                "Sum",
                false,
                counts(&[TraceGroup::Traces]),
            ),
            self.graph(
                "Traces with a fault / slower than 0.5 s (X-Ray)",
                "Sum",
                false,
                counts(&[TraceGroup::Faults, TraceGroup::Slow]),
            ),
        ]
    }

    /// Latency is published by the region the write came from, per receiving region: every
    /// ordered pair matters, since after a failover writes come from another region than home.
    fn replication_latencies(&self) -> Vec<Metric> {
        let regions = &self.input.regions;
        regions
            .iter()
            .flat_map(|source| {
                regions
                    .iter()
                    .filter(move |receiving| receiving.region != source.region)
                    .map(move |receiving| {
                        Metric::replication_latency(
                            &self.input.table,
                            &source.region,
                            &receiving.region,
                        )
                    })
            })
            .collect()
    }
}

fn title_markdown(input: &DashboardInput) -> String {
    let regions = input
        .regions
        .iter()
        .map(|targets| format!("{} **{}**", targets.standing(), targets.region))
        .collect::<Vec<_>>()
        .join(" · ");
    let entry = match &input.accelerator {
        Some(accelerator) => format!(" · Global Accelerator `{}`", accelerator.id),
        None => String::new(),
    };
    format!(
        "# Mythical Mysfits `{}`\n{regions} · table `{}`{entry} · made by `mysfits dashboard create`",
        input.app, input.table
    )
}

/// Places rows top to bottom; the widgets of a row share the width evenly.
fn lay_out(rows: Vec<Vec<WidgetContent>>) -> Vec<Widget> {
    let mut widgets = Vec::new();
    let mut y: u16 = 0;
    for row in rows {
        if row.is_empty() {
            continue;
        }
        let height = match row.first() {
            Some(WidgetContent::Text(_)) => TITLE_HEIGHT,
            _ => GRAPH_HEIGHT,
        };
        let count = u8::try_from(row.len())
            .unwrap_or(GRID_WIDTH)
            .min(GRID_WIDTH);
        let width = GRID_WIDTH / count;
        for (index, content) in row.into_iter().enumerate() {
            let index = u8::try_from(index).unwrap_or(0);
            widgets.push(Widget {
                content,
                x: index * width,
                y,
                width,
                height,
            });
        }
        y += u16::from(height);
    }
    widgets
}
