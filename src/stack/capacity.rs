//! The task counts a deploy gives the app stack: never fewer than a region runs now.
//!
//! CloudFormation sends an `AWS::ECS::Service`'s `DesiredCount` to ECS on every update that
//! touches the service (each image change), and a scalable target's `MinCapacity` to Application
//! Auto Scaling whenever it changes. With the configured count in both, a deploy after a
//! failover would shrink the region now serving the traffic to standby size, and undo the
//! minimum `mysfits failover` raised (it sets it through the API, outside the stack). So before
//! building the parameters the deploy reads each service's desired count (ECS DescribeServices)
//! and its registered minimum (DescribeScalableTargets), and passes at least those. A region
//! without the app yet, or one that does not answer, gets the configured counts (then the stack
//! update cannot go through either, or there is nothing to keep).

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use serde::Serialize;

use crate::app::Service;
use crate::app::{SERVICES, names};
use crate::aws::{RegionClients, aws_error, error_code};
use crate::config::RegionSettings;

/// The counts CloudFormation's parameters must not go below: `MaxValue` of the template's count
/// parameters.
const MOST_TASKS: i32 = 100;

/// What one service runs now, as far as AWS told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ServiceCapacity {
    /// ECS desiredCount of the ACTIVE service.
    pub desired: Option<i32>,
    /// Application Auto Scaling MinCapacity of its scalable target.
    pub min_capacity: Option<i32>,
}

/// What a region's services run now. Empty (the configured counts apply) before the first
/// deploy, or when the region did not answer (`unread` says why).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunningCapacity {
    pub services: BTreeMap<&'static Service, ServiceCapacity>,
    pub unread: Option<String>,
}

/// The counts one service gets from a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServiceCounts {
    /// The ECS service's DesiredCount.
    pub desired: u32,
    /// The scalable target's MinCapacity.
    pub min_capacity: u32,
}

impl RunningCapacity {
    /// The counts for `kind`: the configured count, raised to what runs now and to the registered
    /// minimum (a service never runs below its minimum for long: autoscaling scales it out).
    pub fn counts(&self, kind: &'static Service, region: &RegionSettings) -> ServiceCounts {
        let configured = i32::try_from(region.desired_count).unwrap_or(MOST_TASKS);
        let current = self.services.get(&kind).copied().unwrap_or_default();
        let min_capacity = configured.max(current.min_capacity.unwrap_or(0));
        let desired = min_capacity.max(current.desired.unwrap_or(0));
        let clamp = |count: i32| u32::try_from(count.clamp(0, MOST_TASKS)).unwrap_or(0);
        ServiceCounts {
            desired: clamp(desired),
            min_capacity: clamp(min_capacity),
        }
    }

    /// The scalable targets' MaxCapacity: the configured most, or a minimum above it (a failover
    /// raises the maximum along with the minimum; MinCapacity above MaxCapacity is refused).
    pub fn max_count(&self, region: &RegionSettings) -> u32 {
        SERVICES
            .iter()
            .map(|kind| self.counts(kind, region).min_capacity)
            .fold(region.max_count, u32::max)
    }

    /// Lines for the progress view: each service kept above its configured count, or why the
    /// configured counts are used.
    pub fn notes(&self, app: &str, region: &RegionSettings) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(reason) = &self.unread {
            notes.push(if self.services.is_empty() {
                format!(
                    "could not read the running task counts ({reason}); using the configured desired_count {}",
                    region.desired_count
                )
            } else {
                format!(
                    "could not read the autoscaling minimums ({reason}); keeping the running counts"
                )
            });
        }
        notes.extend(SERVICES
            .iter()
            .filter_map(|kind| {
                let counts = self.counts(kind, region);
                (counts.desired > region.desired_count || counts.min_capacity > region.desired_count)
                    .then(|| {
                        format!(
                            "{} keeps {} tasks, autoscaling minimum {} (configured {}): a deploy never lowers what a region runs",
                            names::ecs_service(app, kind),
                            counts.desired,
                            counts.min_capacity,
                            region.desired_count
                        )
                    })
            }));
        notes
    }
}

/// Reads what the app's services in one region run now (cluster and service names are the
/// template's: the app name, `{app}-mysfits-service`, `{app}-like-service`).
pub async fn read(clients: &RegionClients, app: &str) -> RunningCapacity {
    let names: Vec<(&'static Service, String)> = SERVICES
        .iter()
        .map(|kind| (kind, names::ecs_service(app, kind)))
        .collect();
    let described = match clients
        .ecs
        .describe_services()
        .cluster(app)
        .set_services(Some(names.iter().map(|(_, name)| name.clone()).collect()))
        .send()
        .await
    {
        Ok(described) => described,
        // No cluster: the app stack does not exist yet here.
        Err(error) if error_code(&error) == Some("ClusterNotFoundException") => {
            return RunningCapacity::default();
        }
        Err(error) => {
            return RunningCapacity {
                services: BTreeMap::new(),
                unread: Some(aws_error("DescribeServices", &clients.region, &error).to_string()),
            };
        }
    };
    let mut services: BTreeMap<&'static Service, ServiceCapacity> = BTreeMap::new();
    for (kind, name) in &names {
        // A deleted service stays listed as INACTIVE (or DRAINING) for a while: not running.
        if let Some(service) = described.services().iter().find(|service| {
            service.service_name() == Some(name.as_str()) && service.status() == Some("ACTIVE")
        }) {
            services.entry(*kind).or_default().desired = Some(service.desired_count());
        }
    }
    if services.is_empty() {
        return RunningCapacity::default();
    }
    let cluster = crate::app::names::cluster(app);
    let resource_id = |name: &str| crate::app::names::scalable_target(&cluster, name);
    let targets = match clients
        .autoscaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .set_resource_ids(Some(
            names.iter().map(|(_, name)| resource_id(name)).collect(),
        ))
        .send()
        .await
    {
        Ok(targets) => targets,
        Err(error) => {
            // The desired counts are known; without the minimums the configured one is the floor
            // there, which the desired counts above still keep the running tasks from going below.
            return RunningCapacity {
                services,
                unread: Some(
                    aws_error("DescribeScalableTargets", &clients.region, &error).to_string(),
                ),
            };
        }
    };
    for (kind, name) in &names {
        let id = resource_id(name);
        if let Some(target) = targets
            .scalable_targets()
            .iter()
            .find(|target| target.resource_id() == id)
        {
            services.entry(*kind).or_default().min_capacity = Some(target.min_capacity());
        }
    }
    RunningCapacity {
        services,
        unread: None,
    }
}
