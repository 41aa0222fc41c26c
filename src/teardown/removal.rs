//! The regional removals: dashboard, ECS services, ECR images and stacks (with DELETE_FAILED
//! handled). Each one is idempotent: what is already gone counts as removed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{StackStatus, TemplateStage};
use aws_sdk_ecr::types::ImageIdentifier;

use super::interfaces;
use crate::app::{SERVICES, names};
use crate::aws::{RegionClients, aws_error, error_code};
use crate::config::Config;
use crate::error::{Error, ResourceFailure, Result};
use crate::progress::Events;
use crate::stack::deploy::{PhysicalResource, Poll, delete_failures, named_failures};

/// Deleting services waits for their tasks to drain; AWS allows minutes, not hours.
const SERVICE_DRAIN_LIMIT: Duration = Duration::from_secs(20 * 60);

/// The ECR repositories the registry stack creates.
pub fn repository_names(app: &str) -> [String; 2] {
    [
        format!("{app}/mysfits-service"),
        format!("{app}/like-service"),
    ]
}

/// Deletes the dashboard `{app}` (in the primary region's client).
/// An endpoint without CloudWatch's current protocol (the emulator answers 404) is reported as
/// such in the summary and by verification, not taken for "no dashboard".
pub async fn delete_dashboard(
    clients: &RegionClients,
    app: &str,
    events: &Events,
    step: &str,
) -> Result<String> {
    match dashboard_exists(clients, app).await? {
        Ok(true) => {}
        Ok(false) => return Ok(format!("no dashboard {app}")),
        Err(reason) => {
            events.note(
                step,
                format!(
                    "CloudWatch dashboards are not available at this endpoint ({reason}): dashboard {app} could not be looked for or deleted; on AWS this would be an error"
                ),
            );
            return Ok(format!(
                "CloudWatch dashboards NOT AVAILABLE at the endpoint, dashboard {app} not checked"
            ));
        }
    }
    match clients
        .cloudwatch
        .delete_dashboards()
        .dashboard_names(app)
        .send()
        .await
    {
        Ok(_) => Ok(format!("dashboard {app} deleted")),
        Err(error) if is_dashboard_not_found(error_code(&error)) => {
            Ok(format!("no dashboard {app}"))
        }
        Err(error) => Err(aws_error("DeleteDashboards", &clients.region, &error)),
    }
}

/// Whether the dashboard `{app}` exists; `Err(reason)` when the endpoint override does not offer
/// CloudWatch dashboards (nothing could be checked).
pub async fn dashboard_exists(
    clients: &RegionClients,
    app: &str,
) -> Result<std::result::Result<bool, String>> {
    match clients
        .cloudwatch
        .list_dashboards()
        .dashboard_name_prefix(app)
        .send()
        .await
    {
        Ok(listed) => Ok(Ok(listed
            .dashboard_entries()
            .iter()
            .any(|entry| entry.dashboard_name() == Some(app)))),
        Err(error) => {
            if clients.endpoint_url.is_some()
                && let Some(reason) = crate::aws::service_missing(&error)
            {
                return Ok(Err(reason));
            }
            Err(aws_error("ListDashboards", &clients.region, &error))
        }
    }
}

fn is_dashboard_not_found(code: Option<&str>) -> bool {
    matches!(code, Some("ResourceNotFound" | "DashboardNotFoundError"))
}

/// Scales every service of cluster `{app}` to 0, deletes it and waits until ECS reports it
/// INACTIVE, so that the stack deletion never races draining tasks.
pub async fn remove_services(
    clients: &RegionClients,
    app: &str,
    events: &Events,
    step: &str,
) -> Result<String> {
    let region = &clients.region;
    let Some(active) = active_services(clients, app).await? else {
        return Ok(format!("no cluster {app}, no services"));
    };
    if active.is_empty() {
        return Ok("no services".into());
    }
    for service in &active {
        let scaled = clients
            .ecs
            .update_service()
            .cluster(app)
            .service(service)
            .desired_count(0)
            .send()
            .await;
        if let Err(error) = scaled
            && !is_service_gone(error_code(&error))
        {
            return Err(aws_error("UpdateService (desired count 0)", region, &error));
        }
        let deleted = clients
            .ecs
            .delete_service()
            .cluster(app)
            .service(service)
            .force(true)
            .send()
            .await;
        if let Err(error) = deleted
            && !is_service_gone(error_code(&error))
        {
            return Err(aws_error("DeleteService", region, &error));
        }
    }
    events.note(
        step,
        format!(
            "scaled to 0 and deleted {}; waiting until their tasks have drained",
            active.join(", ")
        ),
    );
    let started = Instant::now();
    let mut delay = Poll::STACK.first;
    loop {
        match active_services(clients, app).await? {
            None => break,
            Some(still) if still.is_empty() => break,
            Some(still) => {
                if started.elapsed() > SERVICE_DRAIN_LIMIT {
                    return Err(Error::Timeout {
                        what: format!("ECS services {} to drain in {region}", still.join(", ")),
                        waited: started.elapsed(),
                        fix: format!(
                            "see `aws ecs describe-services --cluster {app} --services {} --region {region}` (events), then run teardown again",
                            still.join(" ")
                        ),
                    });
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Poll::STACK.max);
    }
    Ok(format!("{} service(s) deleted and drained", active.len()))
}

/// Names of the services of cluster `{app}` that are not INACTIVE yet (ACTIVE or DRAINING), or
/// None when there is no such cluster.
pub async fn active_services(clients: &RegionClients, app: &str) -> Result<Option<Vec<String>>> {
    let region = &clients.region;
    let listed = clients
        .ecs
        .list_services()
        .cluster(app)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let mut arns: Vec<String> = match listed {
        Ok(arns) => arns,
        Err(error) if error_code(&error) == Some("ClusterNotFoundException") => return Ok(None),
        Err(error) => return Err(aws_error("ListServices", region, &error)),
    };
    // ListServices omits DRAINING services on AWS: ask for the app's own names as well.
    for name in SERVICES
        .iter()
        .map(|service| names::ecs_service(app, service))
    {
        if !arns.iter().any(|arn| arn.ends_with(&format!("/{name}"))) {
            arns.push(name);
        }
    }
    let mut active = Vec::new();
    for chunk in arns.chunks(10) {
        let described = match clients
            .ecs
            .describe_services()
            .cluster(app)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await
        {
            Ok(described) => described,
            Err(error) if error_code(&error) == Some("ClusterNotFoundException") => {
                return Ok(None);
            }
            Err(error) => return Err(aws_error("DescribeServices", region, &error)),
        };
        for service in described.services() {
            if service.status() != Some("INACTIVE")
                && let Some(name) = service.service_name()
            {
                active.push(name.to_string());
            }
        }
    }
    Ok(Some(active))
}

fn is_service_gone(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("ServiceNotFoundException" | "ServiceNotActiveException")
    )
}

/// Deletes every image in the app's two repositories of this region.
pub async fn delete_images(clients: &RegionClients, app: &str) -> Result<String> {
    let mut deleted = 0;
    let mut repositories = 0;
    for repository in repository_names(app) {
        if let Some(count) = empty_repository(clients, &repository).await? {
            repositories += 1;
            deleted += count;
        }
    }
    Ok(match repositories {
        0 => "no repositories".into(),
        _ => format!("{deleted} image(s) deleted from {repositories} repositories"),
    })
}

/// Deletes every image of one repository; None when the repository does not exist.
pub async fn empty_repository(clients: &RegionClients, repository: &str) -> Result<Option<usize>> {
    let region = &clients.region;
    let listed = clients
        .ecr
        .list_images()
        .repository_name(repository)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let images: Vec<ImageIdentifier> = match listed {
        Ok(images) => images,
        Err(error) if error_code(&error) == Some("RepositoryNotFoundException") => return Ok(None),
        Err(error) => return Err(aws_error("ListImages", region, &error)),
    };
    let mut deleted = 0;
    for chunk in images.chunks(100) {
        let response = clients
            .ecr
            .batch_delete_image()
            .repository_name(repository)
            .set_image_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|error| aws_error("BatchDeleteImage", region, &error))?;
        deleted += response.image_ids().len();
        let failures: Vec<String> = response
            .failures()
            .iter()
            .filter(|failure| {
                failure.failure_code().map(|code| code.as_str()) != Some("ImageNotFound")
            })
            .map(|failure| {
                format!(
                    "{}: {}",
                    failure
                        .failure_code()
                        .map(|code| code.as_str())
                        .unwrap_or("failure"),
                    failure.failure_reason().unwrap_or_default()
                )
            })
            .collect();
        if !failures.is_empty() {
            return Err(Error::Aws {
                operation: "BatchDeleteImage".into(),
                region: region.clone(),
                message: format!("{repository}: {}", failures.join("; ")),
                fix: "fix what the message names, then run teardown again".into(),
            });
        }
    }
    Ok(Some(deleted))
}

/// What a stack deletion did.
#[derive(Debug, Clone, Default)]
pub struct StackRemoved {
    pub already_gone: bool,
    /// Logical ids CloudFormation could not delete and was told to retain.
    pub retained: Vec<String>,
}

impl StackRemoved {
    pub fn summary(&self, stack: &str) -> String {
        if self.already_gone {
            format!("no stack {stack}")
        } else if self.retained.is_empty() {
            format!("{stack} deleted")
        } else {
            format!(
                "{stack} deleted, retaining {} (checked below)",
                self.retained.join(", ")
            )
        }
    }
}

/// Deletes a stack and waits until it is gone.
///
/// DELETE_FAILED (now or left by an earlier run): the blocking resources are named, what blocks
/// them is cleaned when we know how (images in a repository, services in a cluster) and the delete
/// is retried; if the same resources block it again, the stack is deleted with them retained
/// (the only way CloudFormation lets a DELETE_FAILED stack go) and verification reports whatever
/// of them is still there.
pub async fn delete_stack(
    clients: &RegionClients,
    app: &str,
    stack_name: &str,
    events: &Events,
    step: &str,
) -> Result<StackRemoved> {
    let cloudformation = &clients.cloudformation;
    let region = &clients.region;
    let Some((stack_id, mut status)) = describe_stack(clients, stack_name).await? else {
        return Ok(StackRemoved {
            already_gone: true,
            ..StackRemoved::default()
        });
    };
    if status.as_str().ends_with("_IN_PROGRESS")
        && status != StackStatus::DeleteInProgress
        && status != StackStatus::ReviewInProgress
    {
        events.note(
            step,
            format!(
                "{stack_name} is busy ({}); waiting for it to settle before deleting it",
                status.as_str()
            ),
        );
        match wait_until_settled(clients, &stack_id, stack_name).await? {
            None => {
                return Ok(StackRemoved {
                    already_gone: true,
                    ..StackRemoved::default()
                });
            }
            Some(settled) => status = settled,
        }
    }
    if status == StackStatus::DeleteFailed {
        let failures = delete_failures(cloudformation, &stack_id).await;
        events.note(
            step,
            format!(
                "an earlier delete of {stack_name} failed{}; cleaning what blocks it and deleting again",
                named_failures(&failures)
            ),
        );
        let physical_ids = stack_resources(clients, &stack_id)
            .await
            .into_iter()
            .collect();
        clean_blockers(clients, app, &failures, &physical_ids, events, step).await?;
    }
    let mut retained: Vec<String> = Vec::new();
    let mut attempt = 0;
    loop {
        if status != StackStatus::DeleteInProgress
            && let Err(error) = cloudformation
                .delete_stack()
                .stack_name(&stack_id)
                .set_retain_resources((!retained.is_empty()).then(|| retained.clone()))
                .send()
                .await
        {
            // AWS accepts the request and fails later, as DELETE_FAILED; an emulator may delete
            // synchronously and fail the call half-way. What counts is where the stack ends up.
            let refusal = aws_error("DeleteStack", region, &error);
            match describe_stack(clients, &stack_id).await? {
                None => {
                    events.note(
                        step,
                        format!(
                            "DeleteStack reported an error, yet {stack_name} is gone; verification below shows what it left: {}",
                            refusal.to_string().lines().next().unwrap_or_default()
                        ),
                    );
                    return Ok(StackRemoved {
                        already_gone: false,
                        retained,
                    });
                }
                Some((_, StackStatus::DeleteFailed)) if attempt < 2 => {}
                Some(_) => return Err(refusal),
            }
        }
        match wait_until_settled(clients, &stack_id, stack_name).await? {
            None | Some(StackStatus::DeleteComplete) => {
                return Ok(StackRemoved {
                    already_gone: false,
                    retained,
                });
            }
            Some(settled) => status = settled,
        }
        let failures = delete_failures(cloudformation, &stack_id).await;
        if status != StackStatus::DeleteFailed || attempt == 2 {
            return Err(Error::Stack {
                stack: stack_name.to_string(),
                region: region.clone(),
                status: status.as_str().to_string(),
                failures,
                fix: format!(
                    "remove the named resources by hand (`aws cloudformation describe-stack-events --stack-name {stack_name} --region {region}`), then run teardown again"
                ),
            });
        }
        if attempt == 0 {
            events.note(
                step,
                format!(
                    "{stack_name} could not be deleted (DELETE_FAILED{}); cleaning what blocks it and deleting again",
                    named_failures(&failures)
                ),
            );
            let physical_ids = stack_resources(clients, &stack_id)
                .await
                .into_iter()
                .collect();
            clean_blockers(clients, app, &failures, &physical_ids, events, step).await?;
        } else {
            retained = failures
                .iter()
                .map(|failure| failure.logical_id.clone())
                .collect();
            events.note(
                step,
                format!(
                    "{stack_name} is still blocked{}; deleting it with {} retained, verification below shows whether they are still there",
                    named_failures(&failures),
                    retained.join(", ")
                ),
            );
        }
        attempt += 1;
    }
}

/// Removes what commonly blocks a resource's deletion, for the resource types we know: images in
/// a repository, services in a cluster, and for a VPC, subnet or security group what Global
/// Accelerator leaves in the VPC and detached network interfaces left in it.
async fn clean_blockers(
    clients: &RegionClients,
    app: &str,
    failures: &[ResourceFailure],
    physical_ids: &BTreeMap<String, PhysicalResource>,
    events: &Events,
    step: &str,
) -> Result<()> {
    let vpc = physical_ids
        .values()
        .find(|resource| resource.resource_type == "AWS::EC2::VPC")
        .map(|resource| resource.physical_id.clone());
    let mut network_released = false;
    for failure in failures {
        let physical_id = physical_ids
            .get(&failure.logical_id)
            .map(|resource| resource.physical_id.clone())
            .unwrap_or_default();
        let resource_type = failure.resource_type.as_str();
        match resource_type {
            "AWS::ECR::Repository" if !physical_id.is_empty() => {
                if let Some(count) = empty_repository(clients, &physical_id).await? {
                    events.note(
                        step,
                        format!("deleted {count} image(s) left in repository {physical_id}"),
                    );
                }
            }
            "AWS::ECS::Cluster" | "AWS::ECS::Service" => {
                remove_services(clients, app, events, step).await?;
            }
            "AWS::EC2::VPC" | "AWS::EC2::Subnet" | "AWS::EC2::SecurityGroup" => {
                if !network_released && let Some(vpc) = &vpc {
                    let summary = interfaces::release_accelerator_network(
                        clients,
                        vpc,
                        events,
                        step,
                        interfaces::INTERFACE_RELEASE_LIMIT,
                    )
                    .await?;
                    events.note(step, summary);
                    network_released = true;
                }
                let scope = match resource_type {
                    "AWS::EC2::Subnet" => Some(("subnet-id", physical_id.clone())),
                    "AWS::EC2::SecurityGroup" => Some(("group-id", physical_id.clone())),
                    _ => vpc.clone().map(|vpc| ("vpc-id", vpc)),
                };
                if let Some((name, id)) = scope.filter(|(_, id)| !id.is_empty()) {
                    interfaces::remove_detached_interfaces(
                        clients,
                        &id,
                        vec![interfaces::filter(name, &id)],
                        events,
                        step,
                    )
                    .await?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The stack's id and status, or None when it does not exist (or is DELETE_COMPLETE).
async fn describe_stack(
    clients: &RegionClients,
    stack: &str,
) -> Result<Option<(String, StackStatus)>> {
    let described = match clients
        .cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
    {
        Ok(described) => described,
        Err(error) if error_code(&error) == Some("ValidationError") => return Ok(None),
        Err(error) => return Err(aws_error("DescribeStacks", &clients.region, &error)),
    };
    Ok(described.stacks().first().and_then(|found| {
        let status = found.stack_status()?.clone();
        (status != StackStatus::DeleteComplete)
            .then(|| (found.stack_id().unwrap_or(stack).to_string(), status))
    }))
}

/// Polls until no operation is in progress; None when the stack is gone.
async fn wait_until_settled(
    clients: &RegionClients,
    stack_id: &str,
    stack_name: &str,
) -> Result<Option<StackStatus>> {
    let started = Instant::now();
    let mut delay = Poll::STACK.first;
    loop {
        let Some((_, status)) = describe_stack(clients, stack_id).await? else {
            return Ok(None);
        };
        if !status.as_str().ends_with("_IN_PROGRESS") || status == StackStatus::ReviewInProgress {
            return Ok(Some(status));
        }
        if started.elapsed() > Poll::STACK.limit {
            return Err(Error::Timeout {
                what: format!(
                    "stack {stack_name} to finish {} in {}",
                    status.as_str(),
                    clients.region
                ),
                waited: started.elapsed(),
                fix: format!(
                    "look at `aws cloudformation describe-stack-events --stack-name {stack_name} --region {}`, then run teardown again",
                    clients.region
                ),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Poll::STACK.max);
    }
}

/// The stack's physical resources by logical id: for the inventory that verification checks
/// after the stacks are gone, and for cleaning what blocks a DELETE_FAILED stack. Best effort: a
/// failure here must not stop the deletion.
pub(super) async fn stack_resources(
    clients: &RegionClients,
    stack_id: &str,
) -> Vec<(String, PhysicalResource)> {
    let Ok(described) = clients
        .cloudformation
        .describe_stack_resources()
        .stack_name(stack_id)
        .send()
        .await
    else {
        return Vec::new();
    };
    described
        .stack_resources()
        .iter()
        .filter_map(PhysicalResource::from_stack_resource)
        .collect()
}

/// With `--keep-data`, the primary app stack may only be deleted if its deployed template
/// retains the table; otherwise deleting the stack would delete the data the user asked to keep.
pub async fn ensure_table_is_retained(
    clients: &RegionClients,
    stack_name: &str,
    config: &Config,
) -> Result<()> {
    let template = match clients
        .cloudformation
        .get_template()
        .stack_name(stack_name)
        .template_stage(TemplateStage::Original)
        .send()
        .await
    {
        Ok(template) => template,
        Err(error) if error_code(&error) == Some("ValidationError") => return Ok(()),
        Err(error) => return Err(aws_error("GetTemplate", &clients.region, &error)),
    };
    let body = template.template_body().unwrap_or_default();
    let parsed: serde_yaml::Value = serde_yaml::from_str(body).unwrap_or_default();
    let Some(table) = parsed
        .get("Resources")
        .and_then(|resources| resources.get("Table"))
    else {
        return Ok(());
    };
    let policy = table
        .get("DeletionPolicy")
        .and_then(|policy| policy.as_str())
        .unwrap_or("Delete");
    if matches!(policy, "Retain" | "RetainExceptOnCreate") {
        return Ok(());
    }
    Err(Error::config(
        format!(
            "--keep-data: deleting stack {stack_name} in {} would delete table {} (its deployed template has DeletionPolicy {policy} for the table)",
            clients.region,
            config.table_name()
        ),
        "deploy once with this version of mysfits (its template retains the table), then run teardown --keep-data again; \
         or run teardown without --keep-data, which takes an on-demand backup first",
    ))
}
