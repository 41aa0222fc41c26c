//! `mysfits drill --kill REGION`: a real regional outage, made by us and undone by us, with
//! nothing of ours acting in between, so that what moves the traffic is what would move it in a
//! real outage: the entry point's health checking (Global Accelerator's endpoint health, or the
//! Route 53 records' health checks) and, with `auto_failover`, the alarms and the Region switch
//! plan.
//!
//! The outage is every ECS service of the region at desired count 0: the load balancer has no
//! target left, answers 503, its target groups report no healthy host, and the entry point's
//! health check fails, as when the region's compute fails. The services' target tracking would
//! scale them straight back to their minimum, so first each scalable target is held: minimum 0
//! and dynamic and scheduled scaling suspended (Application Auto Scaling's SuspendedState,
//! RegisterScalableTarget). What each service had before (desired count, range, suspension) is
//! recorded first and put back by [`restore`], also when the drill fails or is interrupted
//! halfway: an outage that is only half made is undone the same way.

use std::time::Duration;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace, SuspendedState};
use serde::Serialize;

use crate::app::Service;
use crate::aws::{RegionClients, aws_error};
use crate::error::Result;
use crate::progress::Events;
use crate::status::facts::RegionFacts;

use super::scale::{self, ScalePlan, ServiceScale, Settle};

/// A service's scalable target as it was before the outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScalingBefore {
    pub min: i32,
    pub max: i32,
    pub dynamic_scaling_in_suspended: bool,
    pub dynamic_scaling_out_suspended: bool,
    pub scheduled_scaling_suspended: bool,
}

impl ScalingBefore {
    /// Its suspension as RegisterScalableTarget takes it.
    fn suspended_state(&self) -> SuspendedState {
        SuspendedState::builder()
            .dynamic_scaling_in_suspended(self.dynamic_scaling_in_suspended)
            .dynamic_scaling_out_suspended(self.dynamic_scaling_out_suspended)
            .scheduled_scaling_suspended(self.scheduled_scaling_suspended)
            .build()
    }

    fn any_suspended(&self) -> bool {
        self.dynamic_scaling_in_suspended
            || self.dynamic_scaling_out_suspended
            || self.scheduled_scaling_suspended
    }

    /// As [`stop`] leaves a target: minimum 0, every kind of scaling suspended.
    fn held(&self) -> bool {
        self.min == 0
            && self.dynamic_scaling_in_suspended
            && self.dynamic_scaling_out_suspended
            && self.scheduled_scaling_suspended
    }
}

/// One service the outage stopped, with what it gets back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoppedService {
    pub name: String,
    pub cluster: String,
    pub desired_before: i32,
    /// `None`: the service has no scalable target (nothing to hold or give back).
    pub scaling_before: Option<ScalingBefore>,
    /// Its scalable target was held (minimum 0, scaling suspended).
    #[serde(skip)]
    held: bool,
    /// Its desired count was set to 0.
    #[serde(skip)]
    stopped: bool,
    #[serde(skip)]
    target_group_arn: Option<String>,
    #[serde(skip)]
    kind: &'static Service,
}

/// What [`stop`] did in one region: enough to undo it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outage {
    pub region: String,
    pub services: Vec<StoppedService>,
}

impl Outage {
    /// One line: each service and the count it had.
    pub fn summary(&self) -> String {
        summary(&self.services)
    }

    /// The counts [`restore`] gives back, as a plan to wait for.
    fn restore_plan(&self) -> ScalePlan {
        ScalePlan {
            services: self
                .services
                .iter()
                .map(|service| ServiceScale {
                    kind: service.kind,
                    name: service.name.clone(),
                    cluster: service.cluster.clone(),
                    from: 0,
                    to: service.desired_before,
                    target_group_arn: service.target_group_arn.clone(),
                })
                .collect(),
            capacity_from: format!("the counts {} had before the outage", self.region),
        }
    }
}

/// Which changes a list of commands covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// Every change [`stop`] would make (printed before it makes any).
    All,
    /// The changes it made.
    Changed,
}

/// Each stopped service and the count it had, on one line.
pub fn summary(services: &[StoppedService]) -> String {
    services
        .iter()
        .map(|service| format!("{} {} -> 0", service.name, service.desired_before))
        .collect::<Vec<_>>()
        .join(", ")
}

fn resource_id(service: &StoppedService) -> String {
    crate::app::names::scalable_target(&service.cluster, &service.name)
}

/// Reads each found service's scalable target (range and suspension).
async fn scaling_before(
    clients: &RegionClients,
    services: &[StoppedService],
) -> Result<Vec<Option<ScalingBefore>>> {
    let described = clients
        .autoscaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .set_resource_ids(Some(services.iter().map(resource_id).collect()))
        .send()
        .await
        .map_err(|error| aws_error("DescribeScalableTargets", &clients.region, &error))?;
    Ok(services
        .iter()
        .map(|service| {
            let id = resource_id(service);
            let target = described
                .scalable_targets()
                .iter()
                .find(|target| target.resource_id() == id)?;
            let suspended = target.suspended_state();
            let flag = |read: fn(&SuspendedState) -> Option<bool>| {
                suspended.and_then(read).unwrap_or(false)
            };
            Some(ScalingBefore {
                min: target.min_capacity(),
                max: target.max_capacity(),
                dynamic_scaling_in_suspended: flag(SuspendedState::dynamic_scaling_in_suspended),
                dynamic_scaling_out_suspended: flag(SuspendedState::dynamic_scaling_out_suspended),
                scheduled_scaling_suspended: flag(SuspendedState::scheduled_scaling_suspended),
            })
        })
        .collect())
}

/// A change AWS did not confirm: the error, and whether it may have been applied anyway (no
/// answer, e.g. a timeout after the request was sent; an error answer means it was not).
struct Unconfirmed {
    error: crate::error::Error,
    maybe_applied: bool,
}

async fn register(
    clients: &RegionClients,
    service: &StoppedService,
    min: i32,
    max: i32,
    suspended: SuspendedState,
) -> std::result::Result<(), Unconfirmed> {
    clients
        .autoscaling
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(resource_id(service))
        .min_capacity(min)
        .max_capacity(max)
        .suspended_state(suspended)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| Unconfirmed {
            maybe_applied: !matches!(
                error,
                aws_sdk_applicationautoscaling::error::SdkError::ServiceError(_)
            ),
            error: aws_error("RegisterScalableTarget", &clients.region, &error),
        })
}

async fn set_desired(
    clients: &RegionClients,
    service: &StoppedService,
    count: i32,
) -> std::result::Result<(), Unconfirmed> {
    clients
        .ecs
        .update_service()
        .cluster(&service.cluster)
        .service(&service.name)
        .desired_count(count)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| Unconfirmed {
            maybe_applied: !matches!(error, aws_sdk_ecs::error::SdkError::ServiceError(_)),
            error: aws_error("UpdateService", &clients.region, &error),
        })
}

impl StoppedService {
    /// A service to stop, with the count it runs now.
    pub fn new(
        kind: &'static Service,
        name: impl Into<String>,
        cluster: impl Into<String>,
        desired_before: i32,
        target_group_arn: Option<String>,
    ) -> StoppedService {
        StoppedService {
            name: name.into(),
            cluster: cluster.into(),
            desired_before,
            scaling_before: None,
            held: false,
            stopped: false,
            target_group_arn,
            kind,
        }
    }
}

impl Outage {
    /// The outage to make in the region `facts` describes: every service of the app found there.
    pub fn of(facts: &RegionFacts) -> Result<Outage> {
        let services: Vec<StoppedService> = facts
            .services
            .iter()
            .filter(|service| service.found)
            .map(|service| {
                StoppedService::new(
                    service.kind,
                    service.name.clone(),
                    service.cluster.clone(),
                    service.desired,
                    service.target_group.as_ref().map(|group| group.arn.clone()),
                )
            })
            .collect();
        if services.is_empty() {
            return Err(crate::error::Error::config(
                format!("{} runs no service of the app to stop", facts.region),
                "deploy first (`mysfits deploy`), or name a region that runs the app",
            ));
        }
        Ok(Outage {
            region: facts.region.clone(),
            services,
        })
    }

    /// The AWS CLI commands that put back what [`stop`] changed, for when [`restore`] could not.
    pub fn restore_commands(&self) -> String {
        self.commands(Which::Changed)
    }

    fn commands(&self, which: Which) -> String {
        let all = which == Which::All;
        let mut commands = Vec::new();
        for service in &self.services {
            if all || service.stopped {
                commands.push(format!(
                    "aws ecs update-service --region {} --cluster {} --service {} --desired-count {}",
                    self.region, service.cluster, service.name, service.desired_before
                ));
            }
            if let (true, Some(before)) = (all || service.held, service.scaling_before) {
                commands.push(format!(
                    "aws application-autoscaling register-scalable-target --region {} --service-namespace ecs --scalable-dimension ecs:service:DesiredCount --resource-id {} --min-capacity {} --max-capacity {} --suspended-state DynamicScalingInSuspended={},DynamicScalingOutSuspended={},ScheduledScalingSuspended={}",
                    self.region,
                    resource_id(service),
                    before.min,
                    before.max,
                    before.dynamic_scaling_in_suspended,
                    before.dynamic_scaling_out_suspended,
                    before.scheduled_scaling_suspended
                ));
            }
        }
        commands.join("; ")
    }

    /// Whether [`stop`] changed anything that [`restore`] has to give back.
    pub fn changed_anything(&self) -> bool {
        self.services
            .iter()
            .any(|service| service.held || service.stopped)
    }
}

/// Stops every service of `outage`: holds its scalable target (minimum 0, scaling suspended),
/// then sets its desired count to 0. `outage` records each change as it is sent, so that after
/// an error [`restore`] undoes exactly what may have been done.
pub async fn stop(
    clients: &RegionClients,
    outage: &mut Outage,
    events: &Events,
    step: &str,
) -> Result<()> {
    let before = scaling_before(clients, &outage.services).await?;
    for (service, before) in outage.services.iter_mut().zip(before) {
        service.scaling_before = before;
    }
    if let Some(held) = outage.services.iter().find(|service| {
        service.desired_before == 0 && service.scaling_before.is_some_and(|before| before.held())
    }) {
        return Err(crate::error::Error::config(
            format!(
                "{} in {} runs 0 tasks with its autoscaling held (minimum 0, all scaling suspended), as an interrupted `drill --kill` leaves it; what it had before is not known here",
                held.name, outage.region
            ),
            format!(
                "give it back first: aws ecs update-service --region {region} --cluster {cluster} --service {name} --desired-count N; aws application-autoscaling register-scalable-target --region {region} --service-namespace ecs --scalable-dimension ecs:service:DesiredCount --resource-id {id} --min-capacity N --max-capacity MAX --suspended-state DynamicScalingInSuspended=false,DynamicScalingOutSuspended=false,ScheduledScalingSuspended=false (N: the region's desired_count in mysfits.yaml, MAX: its max_count); then run the drill again",
                region = outage.region,
                cluster = held.cluster,
                name = held.name,
                id = resource_id(held),
            ),
        ));
    }
    if outage
        .services
        .iter()
        .all(|service| service.desired_before == 0)
    {
        return Err(crate::error::Error::config(
            format!(
                "{} runs no task of the app: there is nothing to stop",
                outage.region
            ),
            "kill a region that serves (see `mysfits status`)",
        ));
    }
    events.note(
        step,
        format!(
            "if the drill is cut off before the revive, these give the services back: {}",
            outage.commands(Which::All)
        ),
    );
    let held = SuspendedState::builder()
        .dynamic_scaling_in_suspended(true)
        .dynamic_scaling_out_suspended(true)
        .scheduled_scaling_suspended(true)
        .build();
    // Each change is recorded before it is sent: one that AWS applied without confirming (a
    // timeout) is then given back too; one AWS refused is taken off the record again.
    for index in 0..outage.services.len() {
        if let Some(before) = outage.services[index].scaling_before {
            outage.services[index].held = true;
            if let Err(failed) = register(
                clients,
                &outage.services[index],
                0,
                before.max,
                held.clone(),
            )
            .await
            {
                outage.services[index].held = failed.maybe_applied;
                return Err(failed.error);
            }
            events.note(
                step,
                format!(
                    "{}: autoscaling held (minimum {} -> 0, scaling suspended)",
                    outage.services[index].name, before.min
                ),
            );
        }
        outage.services[index].stopped = true;
        if let Err(failed) = set_desired(clients, &outage.services[index], 0).await {
            outage.services[index].stopped = failed.maybe_applied;
            return Err(failed.error);
        }
        events.note(
            step,
            format!(
                "{}: desired {} -> 0",
                outage.services[index].name, outage.services[index].desired_before
            ),
        );
    }
    Ok(())
}

/// Gives every service what [`stop`] took: its desired count first, then its scalable target's
/// range and suspension as they were. Tries every service even when one fails, and returns the
/// first error after that.
pub async fn restore(
    clients: &RegionClients,
    outage: &Outage,
    events: &Events,
    step: &str,
) -> Result<()> {
    let mut first_error = None;
    for service in &outage.services {
        if service.stopped {
            match set_desired(clients, service, service.desired_before).await {
                Ok(()) => events.note(
                    step,
                    format!("{}: desired 0 -> {}", service.name, service.desired_before),
                ),
                Err(failed) => {
                    first_error.get_or_insert(failed.error);
                }
            }
        }
        if let (true, Some(before)) = (service.held, service.scaling_before) {
            match register(
                clients,
                service,
                before.min,
                before.max,
                before.suspended_state(),
            )
            .await
            {
                Ok(()) => events.note(
                    step,
                    format!(
                        "{}: autoscaling back to {}-{}, {}",
                        service.name,
                        before.min,
                        before.max,
                        if before.any_suspended() {
                            "suspension as it was"
                        } else {
                            "scaling resumed"
                        }
                    ),
                ),
                Err(failed) => {
                    first_error.get_or_insert(failed.error);
                }
            }
        }
    }
    match first_error {
        None => Ok(()),
        Some(error) => Err(error),
    }
}

/// Waits (at most `limit`) until the restored services run their counts with healthy targets.
pub async fn wait_restored(
    clients: &RegionClients,
    outage: &Outage,
    limit: Duration,
) -> Result<Settle> {
    scale::wait_settled(clients, &outage.restore_plan(), limit).await
}
