//! The app as one region runs it: stacks, services, target health, table and replica, replication
//! latency towards every other region, images, alarms. Status shows these facts, failover decides
//! from them (readiness, scale-up), teardown reads target health through them: this module is the
//! read side of the app model, one [`RegionFacts`] per region.
//!
//! Where each part is read: [`app_stack`] (the stacks, the app stack's outputs and parameters),
//! [`services`] (ECS services, task images, target groups), [`data`] (table, replicas, replication
//! latency, alarms). Gathering never fails: a call that got no answer marks the region unreachable
//! and every later call to it is skipped (and listed), so a region that is down costs one short
//! timeout, not one per call.

mod app_stack;
mod data;
mod services;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::app::Service;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use crate::aws::{RegionClients, error_message};
use crate::stack::StackKind;

use app_stack::read_app_stacks;
use data::{read_alarms, read_replication_latencies, read_table};
use services::read_services;
pub use services::target_group_health;

/// Everything one region said (or did not say).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionFacts {
    pub region: String,
    /// The first region of the app: the table's origin and the dashboard's region.
    pub home: bool,
    /// Why the region counts as down (the first call that got no answer).
    pub unreachable: Option<String>,
    pub stacks: Vec<StackFact>,
    pub services: Vec<ServiceFact>,
    pub table: Option<TableFact>,
    /// The write-region control item as this region's replica has it (`None`: not seeded,
    /// not replicated here yet, or not read).
    pub write_region: Option<crate::writes::ControlSummary>,
    /// Replication from this region to each other region of the app (DynamoDB publishes it in
    /// the sending region, one `ReplicationLatency` per receiving region), in the app's order.
    pub replication: Vec<ReplicationFact>,
    pub alarms: Option<Vec<AlarmFact>>,
    /// The app stack's MaxCount parameter: the most tasks a service may run here.
    pub max_count: Option<u32>,
    /// The app stack's DesiredCount parameter: each service's configured task count, also the
    /// minimum its autoscaling keeps.
    pub desired_count: Option<u32>,
    /// Calls not made or not answered, with why.
    pub skipped: Vec<String>,
    /// Calls that were answered with an error.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackFact {
    pub kind: StackKind,
    pub name: String,
    /// None: the stack does not exist.
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceFact {
    pub kind: &'static Service,
    pub name: String,
    pub cluster: String,
    pub found: bool,
    pub running: i32,
    pub desired: i32,
    pub pending: i32,
    /// Deployments ECS lists; more than one means a deployment is under way.
    pub deployments: usize,
    /// The primary deployment's rollout state (COMPLETED, IN_PROGRESS, FAILED).
    pub rollout: Option<String>,
    pub task_definition: Option<String>,
    pub image: Option<String>,
    pub digest: Option<String>,
    pub target_group: Option<TargetGroupFact>,
}

impl ServiceFact {
    pub fn deployment_in_progress(&self) -> bool {
        self.deployments > 1 || self.rollout.as_deref() == Some("IN_PROGRESS")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetGroupFact {
    pub arn: String,
    pub healthy: usize,
    pub total: usize,
    /// Target count per state (healthy, initial, unhealthy, draining, ...).
    pub states: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableFact {
    pub name: String,
    /// ACTIVE, UPDATING, ... or NOT_FOUND.
    pub status: String,
    pub replicas: Vec<ReplicaFact>,
}

impl TableFact {
    pub fn replica(&self, region: &str) -> Option<&ReplicaFact> {
        self.replicas
            .iter()
            .find(|replica| replica.region == region)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaFact {
    pub region: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicationFact {
    pub receiving_region: String,
    /// Average of the latest minute with data in the last ten, in milliseconds.
    pub latest_ms: Option<f64>,
    pub maximum_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmFact {
    pub name: String,
    pub state: String,
}

/// What to look for in a region.
#[derive(Debug, Clone)]
pub struct Lookup<'a> {
    pub app: &'a str,
    pub table: &'a str,
    /// Whether the region asked is the app's home region.
    pub home: bool,
    /// The app's other regions: replication from here is read towards each of them.
    pub other_regions: &'a [&'a str],
    /// How long the clients wait for an answer (for the "skipped" lines).
    pub answer_limit: Duration,
}

/// Tracks whether the region answers; once it has not, later calls are skipped.
struct Recorder {
    facts: RegionFacts,
    answer_limit: Duration,
    /// Why the region gave no answer (refused, or silent past `answer_limit`), once it has not.
    silence: String,
}

impl Recorder {
    /// Whether a call should still be made; if not, lists it as skipped.
    fn may_call(&mut self, what: &str) -> bool {
        if self.facts.unreachable.is_some() {
            self.skip(what);
            false
        } else {
            true
        }
    }

    fn skip(&mut self, what: &str) {
        self.facts.skipped.push(format!(
            "{what} in {} (region {})",
            self.facts.region, self.silence
        ));
    }

    fn failed<E>(&mut self, what: &str, error: &SdkError<E, HttpResponse>)
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if crate::aws::no_answer(error) {
            self.facts.unreachable = Some(format!("{what}: {}", error_message(error)));
            self.silence = crate::aws::silence(error, self.answer_limit);
            self.skip(what);
        } else {
            self.facts
                .problems
                .push(format!("{what}: {}", short_error(error)));
        }
    }
}

/// The AWS error code and message; for an answer that is no AWS error at all (an emulator that
/// lacks the call), what came back instead of the SDK's whole parse failure.
pub fn short_error<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match crate::aws::service_missing(error) {
        Some(answer) => format!("{answer}: the endpoint does not implement this call"),
        None => error_message(error),
    }
}

/// Asks one region everything status and failover need.
pub async fn gather(clients: &RegionClients, lookup: &Lookup<'_>) -> RegionFacts {
    let mut recorder = Recorder {
        facts: RegionFacts {
            region: clients.region.clone(),
            home: lookup.home,
            ..RegionFacts::default()
        },
        answer_limit: lookup.answer_limit,
        silence: String::new(),
    };
    let app_stack = read_app_stacks(clients, lookup.app, lookup.home, &mut recorder).await;
    recorder.facts.max_count =
        app_stack.count_parameter(crate::app::template::parameter::MAX_COUNT);
    recorder.facts.desired_count =
        app_stack.count_parameter(crate::app::template::parameter::DESIRED_COUNT);
    read_services(clients, lookup.app, &app_stack, &mut recorder).await;
    read_table(clients, lookup.table, &mut recorder).await;
    data::read_write_region(clients, lookup.table, &mut recorder).await;
    read_replication_latencies(clients, lookup, &mut recorder).await;
    read_alarms(clients, lookup.app, &mut recorder).await;
    recorder.facts
}

impl RegionFacts {
    pub fn stack(&self, kind: StackKind) -> Option<&StackFact> {
        self.stacks.iter().find(|stack| stack.kind == kind)
    }

    pub fn service(&self, kind: &'static Service) -> Option<&ServiceFact> {
        self.services.iter().find(|service| service.kind == kind)
    }

    /// Replication from this region to `receiving`, if it was read.
    pub fn replication_to(&self, receiving: &str) -> Option<&ReplicationFact> {
        self.replication
            .iter()
            .find(|replication| replication.receiving_region == receiving)
    }
}
