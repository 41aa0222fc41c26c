//! The result of a deploy, for people (text) and programs (`--output json`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::StepOutput;
use crate::app::RegionName;
use crate::aws::{RegionClients, aws_error};
use crate::config::{Config, RegionSettings};
use crate::dashboard::DashboardReport;
use crate::entry::EntryReport;
use crate::plan::{StepId, Timeline};
use crate::stack::deploy::StackResult;
use crate::stack::{ServiceImages, StackKind};
use crate::table::ReplicaReport;

#[derive(Debug, Serialize)]
pub struct DeployReport {
    pub app: String,
    pub changed: bool,
    pub regions: Vec<RegionReport>,
    pub table: String,
    /// The first replica (the only one with two regions), as before there were more.
    pub replica: Option<ReplicaReport>,
    /// Every region's replica but home's, in the configured order.
    pub replicas: Vec<ReplicaReport>,
    pub seed: Option<SeedReport>,
    pub entry_point: Option<EntryReport>,
    pub dashboard: Option<DashboardReport>,
    /// When each step ran, and the chain of steps that bounded the wall time.
    pub timeline: Timeline,
}

#[derive(Debug, Serialize)]
pub struct RegionReport {
    pub region: String,
    /// The home region: the table's origin and the dashboard.
    pub home: bool,
    pub url: Option<String>,
    pub stacks: Vec<StackSummary>,
    pub images: Option<ServiceImages>,
}

#[derive(Debug, Serialize)]
pub struct StackSummary {
    pub name: String,
    pub id: String,
    pub status: String,
    pub changed: bool,
}

#[derive(Debug, Serialize)]
pub struct SeedReport {
    pub inserted: usize,
    pub existing: usize,
    /// The write-region control item after the deploy (created when `created`).
    pub write_region: crate::writes::SeedOutcome,
}

impl DeployReport {
    pub(super) async fn new(
        config: &Config,
        clients: &BTreeMap<RegionName, RegionClients>,
        outputs: &BTreeMap<StepId, StepOutput>,
        timeline: Timeline,
    ) -> DeployReport {
        let mut regions = Vec::new();
        for region in config.regions() {
            regions.push(RegionReport::new(region, clients.get(&region.key()), outputs).await);
        }
        let replicas: Vec<ReplicaReport> = config
            .others()
            .filter_map(|region| {
                match outputs.get(&StepId::Replica {
                    region: region.key(),
                }) {
                    Some(StepOutput::Replica(report)) => Some(report.clone()),
                    _ => None,
                }
            })
            .collect();
        let seed = outputs.values().find_map(|output| match output {
            StepOutput::Seeded {
                inserted,
                existing,
                write_region,
            } => Some(SeedReport {
                inserted: *inserted,
                existing: *existing,
                write_region: write_region.clone(),
            }),
            _ => None,
        });
        let entry_point = outputs.values().find_map(|output| match output {
            StepOutput::EntryPoint(report) => Some(report.clone()),
            _ => None,
        });
        let dashboard = outputs.values().find_map(|output| match output {
            StepOutput::Dashboard(report) => Some(report.clone()),
            _ => None,
        });
        let changed = regions
            .iter()
            .flat_map(|region| &region.stacks)
            .any(|stack| stack.changed)
            || replicas.iter().any(|replica| replica.created)
            || seed
                .as_ref()
                .is_some_and(|seed| seed.inserted > 0 || seed.write_region.created)
            || entry_point.as_ref().is_some_and(|entry| entry.changed)
            || dashboard
                .as_ref()
                .is_some_and(|dashboard| dashboard.changed);
        DeployReport {
            app: config.app.clone(),
            changed,
            regions,
            table: config.table_name(),
            replica: replicas.first().cloned(),
            replicas,
            seed,
            entry_point,
            dashboard,
            timeline,
        }
    }

    pub(super) fn text(&self) -> String {
        let mut text = format!(
            "{} {}\n",
            self.app,
            if self.changed {
                "deployed"
            } else {
                "is up to date (no changes)"
            }
        );
        for region in &self.regions {
            text.push_str(&format!(
                "  {}{}: {}\n",
                region.region,
                if region.home { " (home)" } else { "" },
                region.url.as_deref().unwrap_or("no endpoint yet")
            ));
        }
        for replica in &self.replicas {
            text.push_str(&format!(
                "  table {} replica in {}: {}\n",
                self.table, replica.region, replica.status
            ));
        }
        if let Some(entry) = &self.entry_point {
            text.push_str(&format!(
                "  global entry point: {}\n",
                entry.state.summary(&entry.mode)
            ));
        }
        if let Some(dashboard) = &self.dashboard {
            text.push_str(&format!("  dashboard: {}\n", dashboard.url));
        }
        if let Some(line) = self.timeline.bounded_by_line() {
            text.push_str(&format!("  {line}\n"));
        }
        text
    }
}

impl RegionReport {
    async fn new(
        region: &RegionSettings,
        clients: Option<&RegionClients>,
        outputs: &BTreeMap<StepId, StepOutput>,
    ) -> RegionReport {
        let mut stacks = Vec::new();
        let mut url = None;
        let data = region.home.then_some(StackKind::Data);
        for kind in data.into_iter().chain(StackKind::ALL) {
            let id = StepId::Stack {
                region: region.key(),
                kind,
            };
            let Some(StepOutput::Stack(result)) = outputs.get(&id) else {
                continue;
            };
            stacks.push(StackSummary {
                name: result.stack_name.clone(),
                id: result.stack_id.clone(),
                status: result.status.clone(),
                changed: result.changed,
            });
            if let (StackKind::App, Some(clients)) = (kind, clients) {
                url = load_balancer_url(clients, result).await;
            }
        }
        let images = match outputs.get(&StepId::PushImages {
            region: region.key(),
        }) {
            Some(StepOutput::Pushed(images)) => Some(images.clone()),
            _ => None,
        };
        RegionReport {
            region: region.name.clone(),
            home: region.home,
            url,
            stacks,
            images,
        }
    }
}

/// `http://<ALB DNS name>` of an app stack: from its output, or from the load balancer itself when
/// the stack reports no outputs.
pub async fn load_balancer_url(clients: &RegionClients, app: &StackResult) -> Option<String> {
    let outputs = app
        .app_outputs()
        .map_err(|error| tracing::debug!("{error}"))
        .ok()?;
    if let Some(url) = outputs.url {
        return Some(url);
    }
    let described = clients
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(&outputs.load_balancer_arn)
        .send()
        .await
        .map_err(|error| {
            tracing::debug!(
                "{}",
                aws_error("DescribeLoadBalancers", &clients.region, &error)
            )
        })
        .ok()?;
    described
        .load_balancers()
        .first()
        .and_then(|balancer| balancer.dns_name())
        .map(|dns| format!("http://{dns}"))
}
