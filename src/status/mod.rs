//! Every region side by side: stacks, services, targets, replicas, replication, images, traffic,
//! alarms.
//!
//! [`facts`] asks each region (with short timeouts: a region may be down); [`collect`] asks every
//! region and the entry point at once; [`StatusReport::text`] lays the answers out in one column
//! per region, home first.

pub mod facts;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::app::SERVICES;
use crate::app::Service;
use crate::aws::{Patience, RegionClients};
use crate::config::Config;
use crate::entry::{EntryDescription, EntryPoint, EntryState};
use crate::image::push::short_digest;
use crate::stack::StackKind;
use facts::{Lookup, RegionFacts};

/// The whole picture, for people (`text`) and programs (`--output json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub app: String,
    pub entry_point_mode: String,
    pub entry_point: EntryState,
    /// Home first; in JSON an object keyed by region name, in the same order.
    #[serde(serialize_with = "keyed_by_region")]
    pub regions: Vec<RegionFacts>,
    /// Auto failover's Region switch plan (only when `auto_failover` is on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_failover: Option<crate::auto_failover::status::RecoveryStatus>,
}

fn keyed_by_region<S: Serializer>(
    regions: &[RegionFacts],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(regions.len()))?;
    for facts in regions {
        map.serialize_entry(&facts.region, facts)?;
    }
    map.end()
}

/// Asks every region and the entry point's control plane, concurrently, each with short
/// timeouts.
pub async fn collect(config: &Config) -> StatusReport {
    let patience = Patience::IMPATIENT;
    let table = config.table_name();
    let entry = EntryPoint::new(config, patience).await;
    let region_futures = config.regions().map(|region| {
        let table = table.clone();
        async move {
            let clients = RegionClients::for_region(config, region, patience).await;
            let others: Vec<&str> = config
                .regions()
                .filter(|other| other.name != region.name)
                .map(|other| other.name.as_str())
                .collect();
            facts::gather(
                &clients,
                &Lookup {
                    app: &config.app,
                    table: &table,
                    home: region.home,
                    other_regions: &others,
                    answer_limit: patience.operation,
                },
            )
            .await
        }
    });
    let (regions, entry_point, auto_failover) = tokio::join!(
        futures::future::join_all(region_futures),
        crate::entry::describe(&entry),
        recovery_plan(config, patience)
    );
    StatusReport {
        app: config.app.clone(),
        entry_point_mode: entry.mode().to_string(),
        entry_point,
        regions,
        auto_failover,
    }
}

/// Auto failover's plan, read in the home region (its stack is there; ARC's data plane answers
/// in every region of the plan). `None` when auto failover is off.
async fn recovery_plan(
    config: &Config,
    patience: Patience,
) -> Option<crate::auto_failover::status::RecoveryStatus> {
    if !config.auto_failover.enabled {
        return None;
    }
    let sdk_config = crate::aws::sdk_config(config, config.home(), patience).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk_config);
    let arc = aws_sdk_arcregionswitch::Client::new(&sdk_config);
    Some(crate::auto_failover::status::read(&cloudformation, &arc, &config.app).await)
}

/// One line of the table: a label and one cell per region.
type Row = (String, Vec<String>);

impl StatusReport {
    /// One column per region (home first), one row per fact, then the entry point and anything
    /// that was skipped.
    pub fn text(&self) -> String {
        let mut rows = vec![self.row("", |facts| {
            format!(
                "{} ({})",
                facts.region,
                crate::app::region::standing(facts.home)
            )
        })];
        rows.push(self.row("region", |facts| match &facts.unreachable {
            Some(_) => "NOT ANSWERING".into(),
            None => "answering".into(),
        }));
        rows.extend(self.stack_rows());
        for kind in &SERVICES {
            rows.extend(self.service_rows(kind));
        }
        rows.extend(self.table_rows());
        rows.push(self.row("alarms", alarm_cell));
        let description = self.entry_point.description();
        rows.push(self.row("traffic", |facts| traffic_cell(description, facts)));
        let mut text = lay_out(&rows);
        text.push_str(&self.footer(description));
        if let Some(plan) = &self.auto_failover {
            text.push_str(&plan.text());
        }
        text
    }

    fn row(&self, label: &str, cell: impl Fn(&RegionFacts) -> String) -> Row {
        (label.to_string(), self.regions.iter().map(cell).collect())
    }

    fn stack_rows(&self) -> Vec<Row> {
        StackKind::ALL
            .into_iter()
            .chain([StackKind::Data])
            .map(|kind| {
                self.row(&format!("{} stack", kind.label()), |facts| {
                    match facts.stack(kind) {
                        Some(stack) => stack.status.clone().unwrap_or_else(|| "not found".into()),
                        None => "-".into(),
                    }
                })
            })
            .collect()
    }

    /// The service's counts and rollout, its targets' health and the image it runs.
    fn service_rows(&self, kind: &'static Service) -> Vec<Row> {
        vec![
            self.row(kind.name, |facts| match facts.service(kind) {
                Some(service) if service.found => {
                    let mut text = format!(
                        "{}/{} running, {}",
                        service.running,
                        service.desired,
                        service.rollout.as_deref().unwrap_or("no rollout state")
                    );
                    if service.deployment_in_progress() {
                        text.push_str(&format!(" ({} deployments)", service.deployments));
                    }
                    text
                }
                Some(_) => "not found".into(),
                None => "-".into(),
            }),
            self.row("  targets", |facts| {
                match facts
                    .service(kind)
                    .and_then(|service| service.target_group.as_ref())
                {
                    Some(group) if group.total == 0 => "none registered".into(),
                    Some(group) => format!("{}/{} healthy", group.healthy, group.total),
                    None => "-".into(),
                }
            }),
            self.row("  image", |facts| {
                facts
                    .service(kind)
                    .and_then(|service| {
                        service
                            .digest
                            .as_deref()
                            .map(|digest| short_digest(digest).to_string())
                            .or(service.image.clone())
                    })
                    .unwrap_or_else(|| "-".into())
            }),
        ]
    }

    /// The table and its replicas, then one row per receiving region: the latency of writes
    /// made in each column's region until they reach that one.
    fn table_rows(&self) -> Vec<Row> {
        let mut rows = vec![
            self.row("table", |facts| {
                facts
                    .table
                    .as_ref()
                    .map(|table| table.status.clone())
                    .unwrap_or_else(|| "-".into())
            }),
            self.row("  write region", |facts| match &facts.write_region {
                Some(control) => format!(
                    "{} (epoch {}, {})",
                    control.write_region, control.epoch, control.state
                ),
                None => "-".into(),
            }),
            self.row("  replicas", |facts| match &facts.table {
                Some(table) if !table.replicas.is_empty() => table
                    .replicas
                    .iter()
                    .map(|replica| format!("{} {}", replica.region, replica.status))
                    .collect::<Vec<_>>()
                    .join(", "),
                Some(_) => "none".into(),
                None => "-".into(),
            }),
        ];
        if self.regions.len() > 1 {
            for receiving in &self.regions {
                let label = format!("  replication to {}", receiving.region);
                rows.push(self.row(&label, |facts| replication_cell(facts, &receiving.region)));
            }
        }
        rows
    }

    /// The entry point, the serving region, and what was skipped or failed in each region.
    fn footer(&self, description: Option<&EntryDescription>) -> String {
        let mut text = format!(
            "entry point: {}\n",
            self.entry_point.summary(&self.entry_point_mode)
        );
        if let Some(serving) = description.and_then(EntryDescription::serving_region) {
            text.push_str(&format!("serving: {serving}\n"));
        }
        for facts in &self.regions {
            for skipped in &facts.skipped {
                text.push_str(&format!("skipped: {skipped}\n"));
            }
            for problem in &facts.problems {
                text.push_str(&format!("problem in {}: {problem}\n", facts.region));
            }
        }
        text
    }
}

fn replication_cell(facts: &RegionFacts, receiving: &str) -> String {
    if facts.region == receiving {
        return "-".into();
    }
    match facts.replication_to(receiving) {
        Some(replication) => match (replication.latest_ms, replication.maximum_ms) {
            (Some(latest), Some(maximum)) => format!("{latest:.0} ms (max {maximum:.0})"),
            (Some(latest), None) => format!("{latest:.0} ms"),
            _ => "no data".into(),
        },
        None => "-".into(),
    }
}

fn alarm_cell(facts: &RegionFacts) -> String {
    match &facts.alarms {
        Some(alarms) => {
            let firing: Vec<&str> = alarms
                .iter()
                .filter(|alarm| alarm.state == "ALARM")
                .map(|alarm| alarm.name.as_str())
                .collect();
            if firing.is_empty() {
                format!("{} defined, none in ALARM", alarms.len())
            } else {
                format!("ALARM: {}", firing.join(", "))
            }
        }
        None => "-".into(),
    }
}

fn traffic_cell(description: Option<&EntryDescription>, facts: &RegionFacts) -> String {
    match description.and_then(|description| description.region(&facts.region)) {
        Some(traffic) => match &traffic.health {
            Some(health) => format!("{} ({})", traffic.share(), health),
            None => traffic.share(),
        },
        None => "-".into(),
    }
}

/// Labels left-aligned, then each region's cells in a column as wide as its widest cell.
fn lay_out(rows: &[Row]) -> String {
    let label_width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let columns = rows.first().map_or(0, |(_, cells)| cells.len());
    let column_widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|(_, cells)| cells.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for (label, cells) in rows {
        let mut line = format!("{label:<label_width$}");
        for (cell, width) in cells.iter().zip(&column_widths) {
            line.push_str(&format!("  {cell:<width$}"));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::entry::RegionTraffic;
    use facts::{ReplicaFact, ReplicationFact, TableFact};

    const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

    /// A region that answered: its table lists the other two replicas and it read replication
    /// towards each of them (`latest` ms, or no data).
    fn answered(region: &str, home: bool, latest: [Option<f64>; 2]) -> RegionFacts {
        let others: Vec<&str> = REGIONS
            .into_iter()
            .filter(|other| *other != region)
            .collect();
        RegionFacts {
            region: region.into(),
            home,
            table: Some(TableFact {
                name: "demo-mysfits".into(),
                status: "ACTIVE".into(),
                replicas: others
                    .iter()
                    .map(|other| ReplicaFact {
                        region: other.to_string(),
                        status: "ACTIVE".into(),
                    })
                    .collect(),
            }),
            replication: others
                .iter()
                .zip(latest)
                .map(|(other, latest)| ReplicationFact {
                    receiving_region: other.to_string(),
                    latest_ms: latest,
                    maximum_ms: latest.map(|latest| latest * 2.0),
                })
                .collect(),
            ..RegionFacts::default()
        }
    }

    fn three_regions() -> StatusReport {
        let silent = RegionFacts {
            region: "eu-west-1".into(),
            unreachable: Some("DescribeStacks demo-registry: timed out".into()),
            skipped: vec!["DescribeTable in eu-west-1 (region did not answer within 8 s)".into()],
            ..RegionFacts::default()
        };
        let traffic = |region: &str, dial: f32| RegionTraffic {
            region: region.into(),
            target: format!("arn:aws:elasticloadbalancing:{region}:1:loadbalancer/app/demo/1"),
            traffic_dial: Some(dial),
            failover: None,
            weight: None,
            health: Some("HEALTHY".into()),
            health_check_id: None,
        };
        StatusReport {
            app: "demo".into(),
            entry_point_mode: "global-accelerator".into(),
            entry_point: EntryState::Present(EntryDescription {
                mode: "global-accelerator".into(),
                name: "demo".into(),
                id: "arn:aws:globalaccelerator::1:accelerator/abc".into(),
                address: Some("a1.awsglobalaccelerator.com".into()),
                static_ips: Vec::new(),
                status: "DEPLOYED".into(),
                enabled: true,
                regions: vec![
                    traffic("us-east-1", 100.0),
                    traffic("us-west-2", 0.0),
                    traffic("eu-west-1", 0.0),
                ],
            }),
            regions: vec![
                answered("us-east-1", true, [Some(120.0), Some(340.0)]),
                answered("us-west-2", false, [Some(90.0), None]),
                silent,
            ],
            auto_failover: None,
        }
    }

    /// The cell of `label`'s row in each column.
    fn cells<'a>(text: &'a str, label: &str) -> Vec<&'a str> {
        let header = text.lines().next().unwrap();
        let starts: Vec<usize> = REGIONS
            .iter()
            .map(|region| header.find(region).unwrap())
            .collect();
        let line = text
            .lines()
            .find(|line| line.starts_with(label) && line[label.len()..].starts_with("  "))
            .unwrap_or_else(|| panic!("no row {label:?} in\n{text}"));
        starts
            .iter()
            .enumerate()
            .map(|(index, start)| {
                let end = starts.get(index + 1).copied().unwrap_or(line.len());
                line.get(*start..end.min(line.len())).unwrap_or("").trim()
            })
            .collect()
    }

    /// Each replica's control item in its column: during a move the frozen one in the old write
    /// region, the not yet replicated one elsewhere.
    #[test]
    fn the_write_region_is_shown_as_each_replica_has_it() {
        let mut report = three_regions();
        let control = |region: &str, epoch, state: &str| {
            Some(crate::writes::ControlSummary {
                write_region: region.into(),
                epoch,
                state: state.into(),
            })
        };
        report.regions[0].write_region = control("us-east-1", 3, "moving");
        report.regions[1].write_region = control("us-east-1", 3, "active");
        let text = report.text();
        assert_eq!(
            cells(&text, "  write region"),
            [
                "us-east-1 (epoch 3, moving)",
                "us-east-1 (epoch 3, active)",
                "-"
            ],
            "{text}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["regions"]["us-west-2"]["write_region"],
            serde_json::json!({"write_region": "us-east-1", "epoch": 3, "state": "active"})
        );
    }

    #[test]
    fn three_regions_are_three_columns_home_first_with_replication_per_pair() {
        let text = three_regions().text();
        assert_eq!(
            cells(&text, ""),
            [
                "us-east-1 (primary)",
                "us-west-2 (secondary)",
                "eu-west-1 (secondary)"
            ],
            "{text}"
        );
        assert_eq!(
            cells(&text, "region"),
            ["answering", "answering", "NOT ANSWERING"]
        );
        assert_eq!(
            cells(&text, "  replication to us-east-1"),
            ["-", "90 ms (max 180)", "-"],
            "{text}"
        );
        assert_eq!(
            cells(&text, "  replication to us-west-2"),
            ["120 ms (max 240)", "-", "-"]
        );
        assert_eq!(
            cells(&text, "  replication to eu-west-1"),
            ["340 ms (max 680)", "no data", "-"]
        );
        assert_eq!(
            cells(&text, "  replicas"),
            [
                "us-west-2 ACTIVE, eu-west-1 ACTIVE",
                "us-east-1 ACTIVE, eu-west-1 ACTIVE",
                "-"
            ]
        );
        assert_eq!(
            cells(&text, "traffic"),
            [
                "dial 100% (HEALTHY)",
                "dial 0% (HEALTHY)",
                "dial 0% (HEALTHY)"
            ]
        );
        assert!(text.contains("serving: us-east-1\n"), "{text}");
        assert!(
            text.contains("skipped: DescribeTable in eu-west-1 (region did not answer"),
            "{text}"
        );
    }

    #[test]
    fn json_is_keyed_by_region_home_first() {
        let json = serde_json::to_string(&three_regions()).unwrap();
        let positions: Vec<usize> = REGIONS
            .iter()
            .map(|region| json.find(&format!("\"{region}\":{{")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let home = &value["regions"]["us-east-1"];
        assert_eq!(home["home"], true);
        assert_eq!(value["regions"]["us-west-2"]["home"], false);
        let pairs: Vec<(&str, f64)> = home["replication"]
            .as_array()
            .unwrap()
            .iter()
            .map(|fact| {
                (
                    fact["receiving_region"].as_str().unwrap(),
                    fact["latest_ms"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(pairs, [("us-west-2", 120.0), ("eu-west-1", 340.0)]);
        assert!(value["regions"]["eu-west-1"]["unreachable"].is_string());
    }

    #[test]
    fn one_region_has_no_replication_rows() {
        let mut report = three_regions();
        report.regions.truncate(1);
        report.regions[0].replication.clear();
        let text = report.text();
        assert!(!text.contains("replication to"), "{text}");
        assert!(
            text.lines()
                .next()
                .unwrap()
                .ends_with("us-east-1 (primary)")
        );
    }
}
