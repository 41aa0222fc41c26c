//! The app's ECS services in one region: counts, rollout, the image each runs, and the health of
//! the targets behind its load balancer target group.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::Service as EcsService;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use super::app_stack::AppStack;
use super::{Recorder, ServiceFact, TargetGroupFact};
use crate::app::Service;
use crate::app::{SERVICES, names};
use crate::aws::RegionClients;

/// Describes every bundled service in one call, then each one's image and target health.
pub(super) async fn read_services(
    clients: &RegionClients,
    app: &str,
    app_stack: &AppStack,
    recorder: &mut Recorder,
) {
    let cluster = app_stack
        .deployed
        .outputs
        .get(crate::app::template::CLUSTER_NAME.output)
        .cloned()
        .unwrap_or_else(|| names::cluster(app));
    let names: Vec<(&'static Service, String)> = SERVICES
        .iter()
        .map(|kind| {
            let name = app_stack
                .deployed
                .outputs
                .get(kind.service_name_output)
                .cloned()
                .unwrap_or_else(|| names::ecs_service(app, kind));
            (kind, name)
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
        // A deleted service stays listed as INACTIVE for a while: it counts as not found.
        let service = described.services().iter().find(|service| {
            service.service_name() == Some(name.as_str())
                && service.status().is_none_or(|status| status != "INACTIVE")
        });
        let mut fact = service_fact(kind, name, &cluster, service);
        fact.image = match &fact.task_definition {
            Some(task_definition) => task_image(clients, task_definition, recorder).await,
            None => None,
        }
        .or_else(|| app_stack.parameters.get(kind.image_parameter).cloned());
        fact.digest = fact
            .image
            .as_deref()
            .and_then(|image| image.split_once('@'))
            .map(|(_, digest)| digest.to_string());
        if let Some(arn) = app_stack.value(kind.target_group_arn_output, kind.target_group_resource)
        {
            fact.target_group = target_group(clients, arn, recorder).await;
        }
        recorder.facts.services.push(fact);
    }
}

/// What DescribeServices said about one service (`None`: not there).
fn service_fact(
    kind: &'static Service,
    name: String,
    cluster: &str,
    service: Option<&EcsService>,
) -> ServiceFact {
    ServiceFact {
        kind,
        name,
        cluster: cluster.to_string(),
        found: service.is_some(),
        running: service.map(EcsService::running_count).unwrap_or(0),
        desired: service.map(EcsService::desired_count).unwrap_or(0),
        pending: service.map(EcsService::pending_count).unwrap_or(0),
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
    }
}

/// The image of the task definition's first container.
async fn task_image(
    clients: &RegionClients,
    task_definition: &str,
    recorder: &mut Recorder,
) -> Option<String> {
    if !recorder.may_call("DescribeTaskDefinition") {
        return None;
    }
    match clients
        .ecs
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await
    {
        Ok(described) => described
            .task_definition()
            .and_then(|definition| definition.container_definitions().first())
            .and_then(|container| container.image())
            .map(str::to_string),
        Err(error) => {
            recorder.failed("DescribeTaskDefinition", &error);
            None
        }
    }
}

/// The health of one target group's targets.
pub async fn target_group_health(
    clients: &RegionClients,
    arn: &str,
) -> Result<TargetGroupFact, SdkError<DescribeTargetHealthError, HttpResponse>> {
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
