//! What one region says about the app: stacks, services, target health, table and replica,
//! replication latency, images, alarms. Gathering never fails: a call that got no answer marks the
//! region unreachable and every later call to it is skipped (and listed), so a region that is down
//! costs one short timeout, not one per call.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use crate::app::{SERVICES, names};
use crate::aws::{RegionClients, error_code, error_message};
use crate::config::Role;
use crate::stack::StackKind;

/// A bundled service (an entry of [`crate::app::SERVICES`]).
pub type ServiceKind = &'static crate::app::Service;

/// Everything one region said (or did not say).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionFacts {
    pub region: String,
    pub role: Option<Role>,
    /// Why the region counts as down (the first call that got no answer).
    pub unreachable: Option<String>,
    pub stacks: Vec<StackFact>,
    pub services: Vec<ServiceFact>,
    pub table: Option<TableFact>,
    /// Replication from this region to the other one (published in this region's CloudWatch).
    pub replication: Option<ReplicationFact>,
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
    pub kind: ServiceKind,
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
    pub role: Option<Role>,
    /// The app's other region: the receiving region of replication from here.
    pub other_region: Option<&'a str>,
    /// How long the clients wait for an answer (for the "skipped" lines).
    pub answer_limit: Duration,
}

/// Tracks whether the region answers; once it has not, later calls are skipped.
struct Recorder {
    facts: RegionFacts,
    answer_limit: Duration,
}

impl Recorder {
    /// Whether a call should still be made; if not, lists it as skipped.
    fn may_call(&mut self, what: &str) -> bool {
        if self.facts.unreachable.is_some() {
            self.facts.skipped.push(format!(
                "{what} in {} (region did not answer within {} s)",
                self.facts.region,
                self.answer_limit.as_secs()
            ));
            false
        } else {
            true
        }
    }

    fn failed<E>(&mut self, what: &str, error: &SdkError<E, HttpResponse>)
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if crate::aws::no_answer(error) {
            self.facts.unreachable = Some(format!("{what}: {}", error_message(error)));
            self.facts.skipped.push(format!(
                "{what} in {} (region did not answer within {} s)",
                self.facts.region,
                self.answer_limit.as_secs()
            ));
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
            role: lookup.role,
            ..RegionFacts::default()
        },
        answer_limit: lookup.answer_limit,
    };
    let mut app_stack = AppStack::default();
    for kind in StackKind::ALL {
        let name = kind.stack_name(lookup.app);
        if !recorder.may_call(&format!("DescribeStacks {name}")) {
            continue;
        }
        match clients
            .cloudformation
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
        {
            Ok(described) => {
                let stack = described.stacks().first();
                if kind == StackKind::App
                    && let Some(stack) = stack
                {
                    app_stack.outputs = crate::stack::deploy::stack_outputs(stack);
                    app_stack.parameters = crate::stack::deploy::stack_parameters(stack);
                    app_stack.exists = true;
                }
                recorder.facts.stacks.push(StackFact {
                    kind,
                    name,
                    status: stack
                        .and_then(|stack| stack.stack_status())
                        .map(|status| status.as_str().to_string()),
                });
            }
            Err(error) if error_code(&error) == Some("ValidationError") => {
                recorder.facts.stacks.push(StackFact {
                    kind,
                    name,
                    status: None,
                });
            }
            Err(error) => recorder.failed(&format!("DescribeStacks {name}"), &error),
        }
    }
    if app_stack.exists
        && app_stack.needs_resources()
        && recorder.may_call("DescribeStackResources")
    {
        match clients
            .cloudformation
            .describe_stack_resources()
            .stack_name(StackKind::App.stack_name(lookup.app))
            .send()
            .await
        {
            Ok(described) => {
                app_stack.resources = described
                    .stack_resources()
                    .iter()
                    .filter_map(|resource| {
                        Some((
                            resource.logical_resource_id()?.to_string(),
                            resource.physical_resource_id()?.to_string(),
                        ))
                    })
                    .collect();
            }
            Err(error) => recorder.failed("DescribeStackResources", &error),
        }
    }
    let count = |name: &str| {
        app_stack
            .parameters
            .get(name)
            .and_then(|count| count.parse().ok())
    };
    recorder.facts.max_count = count("MaxCount");
    recorder.facts.desired_count = count("DesiredCount");

    services(clients, lookup, &app_stack, &mut recorder).await;
    table(clients, lookup, &mut recorder).await;
    replication(clients, lookup, &mut recorder).await;
    alarms(clients, lookup, &mut recorder).await;
    recorder.facts
}

/// The app stack's outputs, parameters and (when outputs are missing) physical resource ids.
#[derive(Debug, Default)]
struct AppStack {
    exists: bool,
    outputs: BTreeMap<String, String>,
    parameters: BTreeMap<String, String>,
    resources: BTreeMap<String, String>,
}

impl AppStack {
    /// moto reports no outputs for stacks created by change sets; then physical ids stand in.
    fn needs_resources(&self) -> bool {
        !self.outputs.contains_key("MysfitsTargetGroupArn")
            || !self.outputs.contains_key("LikeTargetGroupArn")
    }

    fn value(&self, output: &str, logical_id: &str) -> Option<&str> {
        self.outputs
            .get(output)
            .or_else(|| self.resources.get(logical_id))
            .map(String::as_str)
    }
}

async fn services(
    clients: &RegionClients,
    lookup: &Lookup<'_>,
    app_stack: &AppStack,
    recorder: &mut Recorder,
) {
    let cluster = app_stack
        .outputs
        .get("ClusterName")
        .cloned()
        .unwrap_or_else(|| lookup.app.to_string());
    let names: Vec<(ServiceKind, String)> = SERVICES
        .iter()
        .map(|kind| {
            (
                kind,
                app_stack
                    .outputs
                    .get(kind.service_name_output)
                    .cloned()
                    .unwrap_or_else(|| names::ecs_service(lookup.app, kind)),
            )
        })
        .collect();
    if !recorder.may_call("DescribeServices") {
        return;
    }
    let described = match clients
        .ecs
        .describe_services()
        .cluster(&cluster)
        .set_services(Some(names.iter().map(|(_, name)| name.clone()).collect()))
        .send()
        .await
    {
        Ok(described) => described,
        Err(error) => {
            if error
                .as_service_error()
                .is_some_and(|service| service.is_cluster_not_found_exception())
            {
                recorder
                    .facts
                    .problems
                    .push(format!("ECS cluster {cluster} not found"));
            } else {
                recorder.failed("DescribeServices", &error);
            }
            return;
        }
    };
    for (kind, name) in names {
        let service = described.services().iter().find(|service| {
            service.service_name() == Some(name.as_str())
                && service.status().is_none_or(|status| status != "INACTIVE")
        });
        let mut fact = ServiceFact {
            kind,
            name: name.clone(),
            cluster: cluster.clone(),
            found: service.is_some(),
            running: service.map(|service| service.running_count()).unwrap_or(0),
            desired: service.map(|service| service.desired_count()).unwrap_or(0),
            pending: service.map(|service| service.pending_count()).unwrap_or(0),
            deployments: service
                .map(|service| service.deployments().len())
                .unwrap_or(0),
            rollout: service.and_then(|service| {
                service
                    .deployments()
                    .iter()
                    .find(|deployment| deployment.status() == Some("PRIMARY"))
                    .and_then(|deployment| deployment.rollout_state())
                    .map(|state| state.as_str().to_string())
            }),
            task_definition: service
                .and_then(|service| service.task_definition())
                .map(str::to_string),
            image: None,
            digest: None,
            target_group: None,
        };
        if let Some(task_definition) = &fact.task_definition
            && recorder.may_call("DescribeTaskDefinition")
        {
            match clients
                .ecs
                .describe_task_definition()
                .task_definition(task_definition)
                .send()
                .await
            {
                Ok(described) => {
                    fact.image = described
                        .task_definition()
                        .and_then(|definition| definition.container_definitions().first())
                        .and_then(|container| container.image())
                        .map(str::to_string);
                }
                Err(error) => recorder.failed("DescribeTaskDefinition", &error),
            }
        }
        if fact.image.is_none() {
            fact.image = app_stack.parameters.get(kind.image_parameter).cloned();
        }
        fact.digest = fact
            .image
            .as_deref()
            .and_then(|image| image.split_once('@'))
            .map(|(_, digest)| digest.to_string());
        let (output, logical_id) = (kind.target_group_arn_output, kind.target_group_resource);
        if let Some(arn) = app_stack.value(output, logical_id) {
            fact.target_group = target_group(clients, arn, recorder).await;
        }
        recorder.facts.services.push(fact);
    }
}

/// The health of one target group's targets.
pub async fn target_group_health(
    clients: &RegionClients,
    arn: &str,
) -> Result<TargetGroupFact, SdkError<aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthError, HttpResponse>>
{
    let described = clients
        .elbv2
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await?;
    let mut states = BTreeMap::new();
    for target in described.target_health_descriptions() {
        let state = target
            .target_health()
            .and_then(|health| health.state())
            .map(|state| state.as_str().to_string())
            .unwrap_or_else(|| "unknown".into());
        *states.entry(state).or_insert(0) += 1;
    }
    Ok(TargetGroupFact {
        arn: arn.to_string(),
        healthy: states.get("healthy").copied().unwrap_or(0),
        total: described.target_health_descriptions().len(),
        states,
    })
}

async fn target_group(
    clients: &RegionClients,
    arn: &str,
    recorder: &mut Recorder,
) -> Option<TargetGroupFact> {
    if !recorder.may_call("DescribeTargetHealth") {
        return None;
    }
    match target_group_health(clients, arn).await {
        Ok(fact) => Some(fact),
        Err(error) => {
            recorder.failed("DescribeTargetHealth", &error);
            None
        }
    }
}

async fn table(clients: &RegionClients, lookup: &Lookup<'_>, recorder: &mut Recorder) {
    if !recorder.may_call("DescribeTable") {
        return;
    }
    match clients
        .dynamodb
        .describe_table()
        .table_name(lookup.table)
        .send()
        .await
    {
        Ok(described) => {
            let table = described.table();
            recorder.facts.table = Some(TableFact {
                name: lookup.table.to_string(),
                status: table
                    .and_then(|table| table.table_status())
                    .map(|status| status.as_str().to_string())
                    .unwrap_or_else(|| "UNKNOWN".into()),
                replicas: table
                    .map(|table| table.replicas())
                    .unwrap_or_default()
                    .iter()
                    .map(|replica| ReplicaFact {
                        region: replica.region_name().unwrap_or_default().to_string(),
                        status: replica
                            .replica_status()
                            .map(|status| status.as_str().to_string())
                            .unwrap_or_else(|| "UNKNOWN".into()),
                    })
                    .collect(),
            });
        }
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|service| service.is_resource_not_found_exception()) =>
        {
            recorder.facts.table = Some(TableFact {
                name: lookup.table.to_string(),
                status: "NOT_FOUND".into(),
                replicas: Vec::new(),
            });
        }
        Err(error) => recorder.failed("DescribeTable", &error),
    }
}

/// DynamoDB publishes `ReplicationLatency` in the sending region, per receiving region.
async fn replication(clients: &RegionClients, lookup: &Lookup<'_>, recorder: &mut Recorder) {
    let Some(receiving) = lookup.other_region else {
        return;
    };
    if !recorder.may_call("GetMetricStatistics ReplicationLatency") {
        return;
    }
    let now = SystemTime::now();
    let start = now
        .checked_sub(Duration::from_secs(10 * 60))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    match clients
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/DynamoDB")
        .metric_name("ReplicationLatency")
        .dimensions(dimension("TableName", lookup.table))
        .dimensions(dimension("ReceivingRegion", receiving))
        .start_time(start.into())
        .end_time(now.into())
        .period(60)
        .statistics(Statistic::Average)
        .statistics(Statistic::Maximum)
        .send()
        .await
    {
        Ok(statistics) => {
            let latest = statistics
                .datapoints()
                .iter()
                .max_by_key(|point| point.timestamp().map(|time| time.as_nanos()));
            recorder.facts.replication = Some(ReplicationFact {
                receiving_region: receiving.to_string(),
                latest_ms: latest.and_then(|point| point.average()),
                maximum_ms: latest.and_then(|point| point.maximum()),
            });
        }
        Err(error) => recorder.failed("GetMetricStatistics ReplicationLatency", &error),
    }
}

async fn alarms(clients: &RegionClients, lookup: &Lookup<'_>, recorder: &mut Recorder) {
    if !recorder.may_call("DescribeAlarms") {
        return;
    }
    match clients
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(lookup.app)
        .send()
        .await
    {
        Ok(described) => {
            recorder.facts.alarms = Some(
                described
                    .metric_alarms()
                    .iter()
                    .map(|alarm| AlarmFact {
                        name: alarm.alarm_name().unwrap_or_default().to_string(),
                        state: alarm
                            .state_value()
                            .map(|state| state.as_str().to_string())
                            .unwrap_or_else(|| "UNKNOWN".into()),
                    })
                    .collect(),
            );
        }
        Err(error) => recorder.failed("DescribeAlarms", &error),
    }
}

impl RegionFacts {
    pub fn stack(&self, kind: StackKind) -> Option<&StackFact> {
        self.stacks.iter().find(|stack| stack.kind == kind)
    }

    pub fn service(&self, kind: ServiceKind) -> Option<&ServiceFact> {
        self.services.iter().find(|service| service.kind == kind)
    }
}
