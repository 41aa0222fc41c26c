//! Both regions side by side: stacks, services, targets, replica, images, traffic, alarms.
//!
//! [`facts`] asks each region (with short timeouts: a region may be down); [`collect`] asks both
//! regions and the entry point at once; [`StatusReport::text`] lays the answers out in two columns.

pub mod facts;

use serde::Serialize;

use crate::app::SERVICES;
use crate::aws::{Patience, RegionClients};
use crate::config::Config;
use crate::entry::{EntryPoint, EntryState};
use crate::image::push::short_digest;
use crate::stack::StackKind;
use facts::{Lookup, RegionFacts};

/// The whole picture, for people (`text`) and programs (`--output json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub app: String,
    pub entry_point_mode: String,
    pub entry_point: EntryState,
    pub regions: Vec<RegionFacts>,
}

/// Asks both regions and the entry point's control plane, concurrently, each with short timeouts.
pub async fn collect(config: &Config) -> StatusReport {
    let patience = Patience::IMPATIENT;
    let table = config.table_name();
    let entry = EntryPoint::new(config, patience).await;
    let region_futures = config.regions().map(|region| {
        let table = table.clone();
        async move {
            let clients = RegionClients::for_region(config, region, patience).await;
            let other = config
                .regions()
                .find(|other| other.name != region.name)
                .map(|other| other.name.clone());
            facts::gather(
                &clients,
                &Lookup {
                    app: &config.app,
                    table: &table,
                    role: Some(region.role),
                    other_region: other.as_deref(),
                    answer_limit: patience.operation,
                },
            )
            .await
        }
    });
    let (regions, entry_point) = tokio::join!(
        futures::future::join_all(region_futures),
        crate::entry::describe(&entry)
    );
    StatusReport {
        app: config.app.clone(),
        entry_point_mode: entry.mode().to_string(),
        entry_point,
        regions,
    }
}

impl StatusReport {
    /// Two columns (primary | secondary), one row per fact, then the entry point and anything
    /// that was skipped.
    pub fn text(&self) -> String {
        let mut rows: Vec<(String, Vec<String>)> = Vec::new();
        let column = |render: &dyn Fn(&RegionFacts) -> String| -> Vec<String> {
            self.regions.iter().map(render).collect()
        };
        rows.push((
            String::new(),
            column(&|facts| match facts.role {
                Some(role) => format!("{} ({role})", facts.region),
                None => facts.region.clone(),
            }),
        ));
        rows.push((
            "region".into(),
            column(&|facts| match &facts.unreachable {
                Some(_) => "NOT ANSWERING".into(),
                None => "answering".into(),
            }),
        ));
        for kind in StackKind::ALL {
            rows.push((
                format!("{} stack", kind.label()),
                column(&|facts| match facts.stack(kind) {
                    Some(stack) => stack.status.clone().unwrap_or_else(|| "not found".into()),
                    None => "-".into(),
                }),
            ));
        }
        for kind in &SERVICES {
            rows.push((
                kind.name.to_string(),
                column(&|facts| match facts.service(kind) {
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
            ));
            rows.push((
                "  targets".to_string(),
                column(&|facts| match facts
                    .service(kind)
                    .and_then(|service| service.target_group.as_ref())
                {
                    Some(group) if group.total == 0 => "none registered".into(),
                    Some(group) => format!("{}/{} healthy", group.healthy, group.total),
                    None => "-".into(),
                }),
            ));
            rows.push((
                "  image".to_string(),
                column(&|facts| {
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
            ));
        }
        rows.push((
            "table".into(),
            column(&|facts| {
                facts
                    .table
                    .as_ref()
                    .map(|table| table.status.clone())
                    .unwrap_or_else(|| "-".into())
            }),
        ));
        rows.push((
            "  replicas".into(),
            column(&|facts| match &facts.table {
                Some(table) if !table.replicas.is_empty() => table
                    .replicas
                    .iter()
                    .map(|replica| format!("{} {}", replica.region, replica.status))
                    .collect::<Vec<_>>()
                    .join(", "),
                Some(_) => "none".into(),
                None => "-".into(),
            }),
        ));
        rows.push((
            "  replication latency".into(),
            column(&|facts| match &facts.replication {
                Some(replication) => match (replication.latest_ms, replication.maximum_ms) {
                    (Some(latest), Some(maximum)) => format!(
                        "{latest:.0} ms to {} (max {maximum:.0})",
                        replication.receiving_region
                    ),
                    (Some(latest), None) => {
                        format!("{latest:.0} ms to {}", replication.receiving_region)
                    }
                    _ => format!("no data (to {})", replication.receiving_region),
                },
                None => "-".into(),
            }),
        ));
        rows.push((
            "alarms".into(),
            column(&|facts| match &facts.alarms {
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
            }),
        ));
        let description = self.entry_point.description();
        rows.push((
            "traffic".into(),
            column(&|facts| match description
                .and_then(|description| description.region(&facts.region))
            {
                Some(traffic) => match &traffic.health {
                    Some(health) => format!("{} ({})", traffic.share(), health),
                    None => traffic.share(),
                },
                None => "-".into(),
            }),
        ));

        let label_width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
        let value_width = rows
            .iter()
            .flat_map(|(_, values)| values.iter().map(String::len))
            .max()
            .unwrap_or(0);
        let mut text = String::new();
        for (label, values) in &rows {
            let mut line = format!("{label:<label_width$}");
            for value in values {
                line.push_str(&format!("  {value:<value_width$}"));
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text.push_str(&format!(
            "entry point: {}\n",
            self.entry_point.summary(&self.entry_point_mode)
        ));
        if let Some(serving) = description.and_then(|description| description.serving_region()) {
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
