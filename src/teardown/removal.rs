//! The regional removals: dashboard, ECS services, ECR images and stacks (with DELETE_FAILED
//! handled). Each one is idempotent: what is already gone counts as removed.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudformation::client::Waiters as _;
use aws_sdk_cloudformation::types::{StackStatus, TemplateStage};
use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_ecs::client::Waiters as _;
use aws_smithy_runtime_api::client::waiters::error::WaiterError;

use super::interfaces;
use crate::app::{SERVICES, names};
use crate::aws::{RegionClients, aws_error, error_code};
use crate::config::Config;
use crate::error::{Error, ResourceFailure, Result};
use crate::progress::Events;
use crate::stack::deploy::{PhysicalResource, STACK_POLL, delete_failures, named_failures};
use crate::wait::{Backoff, poll, waiter_limit};

/// Deleting services waits for their tasks to drain; AWS allows minutes, not hours.
const SERVICE_DRAIN_LIMIT: Duration = Duration::from_secs(20 * 60);

/// Deletes the app's dashboard (with the home region's clients).
/// An endpoint without CloudWatch's current protocol (the emulator answers 404) is reported as
/// such in the summary and by verification, not taken for "no dashboard".
pub async fn delete_dashboard(
    clients: &RegionClients,
    app: &str,
    events: &Events,
    step: &str,
) -> Result<String> {
    let dashboard = names::dashboard(app);
    match dashboard_exists(clients, app).await? {
        Ok(true) => {}
        Ok(false) => return Ok(format!("no dashboard {dashboard}")),
        Err(reason) => {
            events.note(
                step,
                format!(
                    "CloudWatch dashboards are not available at this endpoint ({reason}): dashboard {dashboard} could not be looked for or deleted; on AWS this would be an error"
                ),
            );
            return Ok(format!(
                "CloudWatch dashboards NOT AVAILABLE at the endpoint, dashboard {dashboard} not checked"
            ));
        }
    }
    match clients
        .cloudwatch
        .delete_dashboards()
        .dashboard_names(&dashboard)
        .send()
        .await
    {
        Ok(_) => Ok(format!("dashboard {dashboard} deleted")),
        Err(error) if is_dashboard_not_found(error_code(&error)) => {
            Ok(format!("no dashboard {dashboard}"))
        }
        Err(error) => Err(aws_error("DeleteDashboards", &clients.region, &error)),
    }
}

/// Whether the app's dashboard exists; `Err(reason)` when the endpoint override does not offer
/// CloudWatch dashboards (nothing could be checked).
pub async fn dashboard_exists(
    clients: &RegionClients,
    app: &str,
) -> Result<std::result::Result<bool, String>> {
    let dashboard = names::dashboard(app);
    match clients
        .cloudwatch
        .list_dashboards()
        .dashboard_name_prefix(&dashboard)
        .send()
        .await
    {
        Ok(listed) => Ok(Ok(listed
            .dashboard_entries()
            .iter()
            .any(|entry| entry.dashboard_name() == Some(dashboard.as_str())))),
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

/// Scales every service of the app's cluster to 0, deletes it and waits until ECS reports it
/// INACTIVE, so that the stack deletion never races draining tasks.
pub async fn remove_services(
    clients: &RegionClients,
    app: &str,
    events: &Events,
    step: &str,
) -> Result<String> {
    let cluster = names::cluster(app);
    let Some(active) = active_services(clients, app).await? else {
        return Ok(format!("no cluster {cluster}, no services"));
    };
    if active.is_empty() {
        return Ok("no services".into());
    }
    for service in &active {
        scale_down_and_delete(clients, &cluster, service).await?;
    }
    events.note(
        step,
        format!(
            "scaled to 0 and deleted {}; waiting until their tasks have drained",
            active.join(", ")
        ),
    );
    let started = tokio::time::Instant::now();
    for service in &active {
        let remaining = SERVICE_DRAIN_LIMIT.saturating_sub(started.elapsed());
        wait_until_inactive(clients, &cluster, service, remaining).await?;
    }
    Ok(format!("{} service(s) deleted and drained", active.len()))
}

/// Desired count 0, then delete (forced: a service behind a load balancer would refuse
/// otherwise while tasks run). One already gone counts as deleted.
async fn scale_down_and_delete(
    clients: &RegionClients,
    cluster: &str,
    service: &str,
) -> Result<()> {
    let region = &clients.region;
    let scaled = clients
        .ecs
        .update_service()
        .cluster(cluster)
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
        .cluster(cluster)
        .service(service)
        .force(true)
        .send()
        .await;
    if let Err(error) = deleted
        && !is_service_gone(error_code(&error))
    {
        return Err(aws_error("DeleteService", region, &error));
    }
    Ok(())
}

/// The SDK's services_inactive waiter for one service. It succeeds when ANY described service
/// is INACTIVE, hence one service per call; it fails on a MISSING service, which for a service
/// just deleted means it is gone already, as does a cluster that no longer exists.
async fn wait_until_inactive(
    clients: &RegionClients,
    cluster: &str,
    service: &str,
    limit: Duration,
) -> Result<()> {
    let region = &clients.region;
    let waiter = clients
        .ecs
        .wait_until_services_inactive()
        .cluster(cluster)
        .services(service)
        .wait(limit);
    match waiter_limit(limit, waiter).await {
        Some(Ok(_)) | Some(Err(WaiterError::FailureState(_))) => Ok(()),
        Some(Err(WaiterError::OperationFailed(failed)))
            if error_code(failed.error()) == Some("ClusterNotFoundException") =>
        {
            Ok(())
        }
        Some(Err(WaiterError::OperationFailed(failed))) => {
            Err(aws_error("DescribeServices", region, failed.error()))
        }
        None | Some(Err(WaiterError::ExceededMaxWait(_))) => Err(Error::Timeout {
            what: format!("ECS service {service} to drain in {region}"),
            waited: SERVICE_DRAIN_LIMIT,
            fix: format!(
                "see `aws ecs describe-services --cluster {cluster} --services {service} --region {region}` (events), then run teardown again"
            ),
        }),
        Some(Err(other)) => Err(crate::aws::describe::waiter_error(
            "DescribeServices",
            region,
            &other,
        )),
    }
}

/// Names of the services of the app's cluster that are not INACTIVE yet (ACTIVE or DRAINING),
/// or None when there is no such cluster.
pub async fn active_services(clients: &RegionClients, app: &str) -> Result<Option<Vec<String>>> {
    let region = &clients.region;
    let cluster = names::cluster(app);
    let listed = clients
        .ecs
        .list_services()
        .cluster(&cluster)
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
            .cluster(&cluster)
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

/// Deletes every image in the app's repositories of this region (one per bundled service).
pub async fn delete_images(clients: &RegionClients, app: &str) -> Result<String> {
    let mut deleted = 0;
    let mut repositories = 0;
    for repository in SERVICES
        .iter()
        .map(|service| names::repository(app, service))
    {
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
    let gone = StackRemoved {
        already_gone: true,
        ..StackRemoved::default()
    };
    let Some((stack_id, status)) = describe_stack(clients, stack_name).await? else {
        return Ok(gone);
    };
    let stack = StackToDelete {
        clients,
        app,
        stack_id: &stack_id,
        stack_name,
        events,
        step,
    };
    let Some(status) = stack.settle(status).await? else {
        return Ok(gone);
    };
    if status == StackStatus::DeleteFailed {
        let failures = delete_failures(&clients.cloudformation, &stack_id).await;
        events.note(
            step,
            format!(
                "an earlier delete of {stack_name} failed{}; cleaning what blocks it and deleting again",
                named_failures(&failures)
            ),
        );
        stack.clean_blockers(&failures).await?;
    }
    stack.delete_until_gone(status).await
}

/// One stack being deleted, and what its deletion reports to.
struct StackToDelete<'a> {
    clients: &'a RegionClients,
    app: &'a str,
    stack_id: &'a str,
    stack_name: &'a str,
    events: &'a Events,
    step: &'a str,
}

impl StackToDelete<'_> {
    /// A stack busy with another operation is waited for first; None when it went meanwhile.
    async fn settle(&self, status: StackStatus) -> Result<Option<StackStatus>> {
        let busy = status.as_str().ends_with("_IN_PROGRESS")
            && status != StackStatus::DeleteInProgress
            && status != StackStatus::ReviewInProgress;
        if !busy {
            return Ok(Some(status));
        }
        self.events.note(
            self.step,
            format!(
                "{} is busy ({}); waiting for it to settle before deleting it",
                self.stack_name,
                status.as_str()
            ),
        );
        wait_until_settled(self.clients, self.stack_id, self.stack_name).await
    }

    async fn clean_blockers(&self, failures: &[ResourceFailure]) -> Result<()> {
        let physical_ids = stack_resources(self.clients, self.stack_id)
            .await
            .into_iter()
            .collect();
        clean_blockers(
            self.clients,
            self.app,
            failures,
            &physical_ids,
            self.events,
            self.step,
        )
        .await
    }

    /// Deletes (up to three times: plain, after cleaning, with the blockers retained) and waits.
    async fn delete_until_gone(&self, mut status: StackStatus) -> Result<StackRemoved> {
        let mut retained: Vec<String> = Vec::new();
        for attempt in 0..3 {
            let removed = || StackRemoved {
                already_gone: false,
                retained: retained.clone(),
            };
            if status != StackStatus::DeleteInProgress
                && self.request_delete(&retained, attempt).await?
            {
                return Ok(removed());
            }
            match wait_until_deleted(self.clients, self.stack_id, self.stack_name).await? {
                None | Some(StackStatus::DeleteComplete) => return Ok(removed()),
                Some(settled) => status = settled,
            }
            let failures = delete_failures(&self.clients.cloudformation, self.stack_id).await;
            if status != StackStatus::DeleteFailed || attempt == 2 {
                return Err(self.stuck(&status, failures));
            }
            if attempt == 0 {
                self.events.note(
                    self.step,
                    format!(
                        "{} could not be deleted (DELETE_FAILED{}); cleaning what blocks it and deleting again",
                        self.stack_name,
                        named_failures(&failures)
                    ),
                );
                self.clean_blockers(&failures).await?;
            } else {
                retained = failures
                    .iter()
                    .map(|failure| failure.logical_id.clone())
                    .collect();
                self.events.note(
                    self.step,
                    format!(
                        "{} is still blocked{}; deleting it with {} retained, verification below shows whether they are still there",
                        self.stack_name,
                        named_failures(&failures),
                        retained.join(", ")
                    ),
                );
            }
        }
        Err(Error::internal(
            "stack deletion ran out of attempts without an outcome",
        ))
    }

    /// Sends DeleteStack; true when the stack is gone although the call failed.
    async fn request_delete(&self, retained: &[String], attempt: usize) -> Result<bool> {
        let Err(error) = self
            .clients
            .cloudformation
            .delete_stack()
            .stack_name(self.stack_id)
            .set_retain_resources((!retained.is_empty()).then(|| retained.to_vec()))
            .send()
            .await
        else {
            return Ok(false);
        };
        // AWS accepts the request and fails later, as DELETE_FAILED; an emulator may delete
        // synchronously and fail the call half-way. What counts is where the stack ends up.
        let refusal = aws_error("DeleteStack", &self.clients.region, &error);
        match describe_stack(self.clients, self.stack_id).await? {
            None => {
                self.events.note(
                    self.step,
                    format!(
                        "DeleteStack reported an error, yet {} is gone; verification below shows what it left: {}",
                        self.stack_name,
                        refusal.to_string().lines().next().unwrap_or_default()
                    ),
                );
                Ok(true)
            }
            Some((_, StackStatus::DeleteFailed)) if attempt < 2 => Ok(false),
            Some(_) => Err(refusal),
        }
    }

    fn stuck(&self, status: &StackStatus, failures: Vec<ResourceFailure>) -> Error {
        let (stack, region) = (self.stack_name, &self.clients.region);
        Error::Stack {
            stack: stack.to_string(),
            region: region.clone(),
            status: status.as_str().to_string(),
            failures,
            fix: format!(
                "remove the named resources by hand (`aws cloudformation describe-stack-events --stack-name {stack} --region {region}`), then run teardown again"
            ),
        }
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
pub(crate) async fn describe_stack(
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

/// Polls until no operation is in progress; None when the stack is gone. (No SDK waiter
/// covers "any operation finished": each waits for one outcome.)
async fn wait_until_settled(
    clients: &RegionClients,
    stack_id: &str,
    stack_name: &str,
) -> Result<Option<StackStatus>> {
    // The stack's delays, doubling.
    let backoff = Backoff {
        growth_percent: 200,
        ..STACK_POLL
    };
    let settled = || async {
        let Some((_, status)) = describe_stack(clients, stack_id).await? else {
            return Ok(Some(None));
        };
        let settled =
            !status.as_str().ends_with("_IN_PROGRESS") || status == StackStatus::ReviewInProgress;
        Ok(settled.then_some(Some(status)))
    };
    poll(backoff, settled, |waited| Error::Timeout {
        what: format!(
            "stack {stack_name} to finish its operation in progress in {}",
            clients.region
        ),
        waited,
        fix: stack_events_fix(stack_name, &clients.region),
    })
    .await
}

fn stack_events_fix(stack_name: &str, region: &str) -> String {
    format!(
        "look at `aws cloudformation describe-stack-events --stack-name {stack_name} --region {region}`, then run teardown again"
    )
}

/// The SDK's stack_delete_complete waiter (nothing is streamed while a stack is deleted): None
/// when the stack is gone, else the status it failed in (DELETE_FAILED, or one that shows the
/// delete never started).
async fn wait_until_deleted(
    clients: &RegionClients,
    stack_id: &str,
    stack_name: &str,
) -> Result<Option<StackStatus>> {
    let region = &clients.region;
    let limit = STACK_POLL.limit;
    let waiter = clients
        .cloudformation
        .wait_until_stack_delete_complete()
        .stack_name(stack_id)
        .wait(limit);
    match waiter_limit(limit, waiter).await {
        Some(Ok(_)) => Ok(None),
        Some(Err(WaiterError::FailureState(failure))) => {
            let status = failure
                .final_poll()
                .as_result()
                .ok()
                .and_then(|described| described.stacks().first()?.stack_status().cloned());
            match status {
                Some(status) => Ok(Some(status)),
                None => Ok(describe_stack(clients, stack_id)
                    .await?
                    .map(|(_, status)| status)),
            }
        }
        Some(Err(WaiterError::OperationFailed(failed))) => {
            Err(aws_error("DescribeStacks", region, failed.error()))
        }
        None | Some(Err(WaiterError::ExceededMaxWait(_))) => Err(Error::Timeout {
            what: format!("stack {stack_name} to be deleted in {region}"),
            waited: limit,
            fix: stack_events_fix(stack_name, region),
        }),
        Some(Err(other)) => Err(crate::aws::describe::waiter_error(
            "DescribeStacks",
            region,
            &other,
        )),
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

/// With `--keep-data`, a stack holding the table (the data stack, or the home app stack of an
/// older deployment) may only be deleted if its deployed template retains the table; otherwise deleting the stack would delete the data the user asked to keep.
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
        .and_then(|resources| resources.get(crate::app::template::TABLE_RESOURCE))
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
