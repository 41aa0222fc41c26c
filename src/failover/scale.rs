//! Scale-up of the target region before traffic arrives: each service to the source's capacity,
//! then wait until the tasks run and the load balancer calls them healthy.
//!
//! The desired count alone would not last: each service's target tracking (Application Auto
//! Scaling) keeps it between MinCapacity and MaxCapacity, and with a standby's minimum it scales
//! the region back in while the traffic is still arriving. So the minimum is raised first, and
//! the region traffic left gets its configured minimum back once the shift is done.
//!
//! The source's load is what the target must carry, so its count is not capped at the target's
//! MaxCount: where it is above, the autoscaling maximum is raised along with the minimum (and the
//! plan says so), and both return to the stack's DesiredCount and MaxCount when traffic leaves
//! the region again, so that no raised range stays behind as drift from the stack.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use serde::Serialize;

use crate::app::SERVICES;
use crate::app::Service;
use crate::aws::{RegionClients, aws_error};
use crate::error::Result;
use crate::progress::{Events, elapsed_ms};
use crate::status::facts::{RegionFacts, target_group_health};
use crate::wait::{Backoff, Pacing};

/// One service's scale-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceScale {
    pub kind: &'static Service,
    pub name: String,
    pub cluster: String,
    pub from: i32,
    pub to: i32,
    pub target_group_arn: Option<String>,
}

/// What the target will be scaled to, and where the numbers come from (and, when the source
/// runs more than the target's MaxCount allows, that the target's maximum is raised for it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScalePlan {
    pub services: Vec<ServiceScale>,
    pub capacity_from: String,
}

/// The source's desired counts when it answers, also above the target stack's MaxCount (the
/// target must carry the source's load; its autoscaling maximum is raised for it); otherwise
/// `fallback` (the configured capacity of the source region) capped at the target's MaxCount.
/// Never scales the target down.
pub fn plan(source: &RegionFacts, target: &RegionFacts, fallback: u32) -> ScalePlan {
    let source_answered = source.unreachable.is_none();
    let fallback = i32::try_from(fallback).unwrap_or(i32::MAX).min(
        target
            .max_count
            .and_then(|max| i32::try_from(max).ok())
            .unwrap_or(i32::MAX),
    );
    let mut used_fallback = false;
    let mut services = Vec::new();
    for kind in &SERVICES {
        let Some(service) = target.service(kind).filter(|service| service.found) else {
            continue;
        };
        let wanted = match source
            .service(kind)
            .filter(|service| service.found && service.desired > 0)
        {
            Some(source_service) => source_service.desired,
            None => {
                used_fallback = true;
                fallback
            }
        };
        services.push(ServiceScale {
            kind,
            name: service.name.clone(),
            cluster: service.cluster.clone(),
            from: service.desired,
            to: wanted.max(service.desired),
            target_group_arn: service.target_group.as_ref().map(|group| group.arn.clone()),
        });
    }
    let above_max: Vec<String> = target
        .max_count
        .and_then(|max| i32::try_from(max).ok())
        .map(|max| {
            services
                .iter()
                .filter(|service| service.to > max)
                .map(|service| format!("{} {}", service.name, service.to))
                .collect()
        })
        .unwrap_or_default();
    let mut capacity_from = match (used_fallback, source_answered) {
        (false, _) => format!("desired counts of {}", source.region),
        (true, false) => format!(
            "configured desired_count of {} ({fallback}), as it did not answer",
            source.region
        ),
        (true, true) => format!(
            "configured desired_count of {} ({fallback}), as it runs no such service",
            source.region
        ),
    };
    if let (false, Some(max)) = (above_max.is_empty(), target.max_count) {
        capacity_from.push_str(&format!(
            "; above MaxCount {max} of {} ({}): its autoscaling maximum is raised to carry the \
             load and returns to {max} when traffic leaves it",
            target.region,
            above_max.join(", ")
        ));
    }
    ScalePlan {
        services,
        capacity_from,
    }
}

/// How the scale-up went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScaleReport {
    pub plan: ScalePlan,
    /// Whether every service reached its count with healthy targets within the limit.
    pub settled: bool,
    pub waited_ms: u64,
    /// Each service's last observed state.
    pub observed: Vec<String>,
    /// Autoscaling minimums raised to the new counts.
    pub minimums: Vec<MinimumChange>,
    /// Services without a scalable target: their desired count is all there is to raise.
    pub without_autoscaling: Vec<String>,
}

impl ScaleReport {
    /// The scale phase's line: settled or not, and what each service showed last.
    pub fn summary(&self) -> String {
        if self.settled {
            format!("settled: {}", self.observed.join("; "))
        } else {
            format!(
                "not settled after {:.0}s: {}",
                self.waited_ms as f64 / 1000.0,
                self.observed.join("; ")
            )
        }
    }
}

/// A service's autoscaling range (Application Auto Scaling MinCapacity, and MaxCapacity where it
/// had to move too) that failover changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MinimumChange {
    pub region: String,
    pub service: String,
    /// The minimum.
    pub from: i32,
    pub to: i32,
    /// The maximum before and after (equal when it did not change).
    pub max_from: i32,
    pub max_to: i32,
}

/// A service's scalable target as Application Auto Scaling has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    min: i32,
    max: i32,
}

/// Application Auto Scaling's name for an ECS service.
fn resource_id(cluster: &str, service: &str) -> String {
    crate::app::names::scalable_target(cluster, service)
}

/// The scalable targets of `services` (cluster, name), by resource id; a service without one is
/// missing from the map.
async fn scalable_targets(
    clients: &RegionClients,
    services: &[(String, String)],
) -> Result<BTreeMap<String, Range>> {
    let described = clients
        .autoscaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .set_resource_ids(Some(
            services
                .iter()
                .map(|(cluster, name)| resource_id(cluster, name))
                .collect(),
        ))
        .send()
        .await
        .map_err(|error| aws_error("DescribeScalableTargets", &clients.region, &error))?;
    Ok(described
        .scalable_targets()
        .iter()
        .map(|target| {
            (
                target.resource_id().to_string(),
                Range {
                    min: target.min_capacity(),
                    max: target.max_capacity(),
                },
            )
        })
        .collect())
}

/// Sets the range of each service (cluster, name) for which `new_range(name, current)` says so.
/// RegisterScalableTarget on an existing target updates it; both bounds are always sent, so that
/// the pair is checked (MinCapacity <= MaxCapacity) as one. Returns the changes and the services
/// that have no scalable target.
async fn set_ranges(
    clients: &RegionClients,
    services: &[(String, String)],
    new_range: impl Fn(&str, Range) -> Option<Range>,
) -> Result<(Vec<MinimumChange>, Vec<String>)> {
    if services.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let targets = scalable_targets(clients, services).await?;
    let mut changes = Vec::new();
    let mut without_target = Vec::new();
    for (cluster, name) in services {
        let id = resource_id(cluster, name);
        let Some(range) = targets.get(&id).copied() else {
            without_target.push(name.clone());
            continue;
        };
        let Some(wanted) = new_range(name, range).filter(|wanted| *wanted != range) else {
            continue;
        };
        clients
            .autoscaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(&id)
            .min_capacity(wanted.min)
            .max_capacity(wanted.max)
            .send()
            .await
            .map_err(|error| aws_error("RegisterScalableTarget", &clients.region, &error))?;
        changes.push(MinimumChange {
            region: clients.region.clone(),
            service: name.clone(),
            from: range.min,
            to: wanted.min,
            max_from: range.max,
            max_to: wanted.max,
        });
    }
    Ok((changes, without_target))
}

/// Raises each planned service's autoscaling minimum to its new count, so that target tracking
/// cannot scale the region back in below the capacity it is about to serve with; the maximum is
/// raised along where the new count is above it.
async fn raise_minimums(
    clients: &RegionClients,
    plan: &ScalePlan,
) -> Result<(Vec<MinimumChange>, Vec<String>)> {
    let services: Vec<(String, String)> = plan
        .services
        .iter()
        .map(|service| (service.cluster.clone(), service.name.clone()))
        .collect();
    let wanted: BTreeMap<&str, i32> = plan
        .services
        .iter()
        .map(|service| (service.name.as_str(), service.to))
        .collect();
    set_ranges(clients, &services, |name, current| {
        let to = wanted.get(name).copied().filter(|to| *to > current.min)?;
        Some(Range {
            min: to,
            max: current.max.max(to),
        })
    })
    .await
}

/// Gives the region traffic left its configured range back where an earlier failover raised it:
/// the minimum to the app stack's DesiredCount, the maximum to its MaxCount. After a failback the
/// standby returns to standby size as target tracking scales it in, and no raised maximum stays
/// as drift from the stack. Nothing to do where the range is within the configured one.
pub async fn restore_minimums(
    clients: &RegionClients,
    facts: &RegionFacts,
) -> Result<Vec<MinimumChange>> {
    let configured_min = facts
        .desired_count
        .and_then(|count| i32::try_from(count).ok());
    let configured_max = facts.max_count.and_then(|count| i32::try_from(count).ok());
    if configured_min.is_none() && configured_max.is_none() {
        return Ok(Vec::new());
    }
    let services: Vec<(String, String)> = facts
        .services
        .iter()
        .filter(|service| service.found)
        .map(|service| (service.cluster.clone(), service.name.clone()))
        .collect();
    let (changes, _) = set_ranges(clients, &services, |_, current| {
        restored_range(current, configured_min, configured_max)
    })
    .await?;
    Ok(changes)
}

/// The range a region gets back: a minimum above the configured count lowered to it, a maximum
/// above the configured MaxCount lowered to it (never below the minimum, which AWS refuses).
fn restored_range(current: Range, min: Option<i32>, max: Option<i32>) -> Option<Range> {
    let min = min.filter(|min| current.min > *min).unwrap_or(current.min);
    let max = max
        .filter(|max| current.max > *max)
        .unwrap_or(current.max)
        .max(min);
    let restored = Range { min, max };
    (restored != current).then_some(restored)
}

/// Raises autoscaling minimums and desired counts, then waits (at most `limit`) until every
/// service runs its count and its target group has that many healthy targets.
pub async fn scale(
    clients: &RegionClients,
    plan: &ScalePlan,
    limit: Duration,
    events: &Events,
    step: &str,
) -> Result<ScaleReport> {
    let (minimums, without_autoscaling) = raise_minimums(clients, plan).await?;
    for change in &minimums {
        let maximum = if change.max_to == change.max_from {
            String::new()
        } else {
            format!(
                ", maximum {} -> {} (above the stack's MaxCount until traffic leaves)",
                change.max_from, change.max_to
            )
        };
        events.note(
            step,
            format!(
                "{} autoscaling minimum {} -> {}{maximum}",
                change.service, change.from, change.to
            ),
        );
    }
    for service in plan
        .services
        .iter()
        .filter(|service| service.to > service.from)
    {
        clients
            .ecs
            .update_service()
            .cluster(&service.cluster)
            .service(&service.name)
            .desired_count(service.to)
            .send()
            .await
            .map_err(|error| aws_error("UpdateService", &clients.region, &error))?;
        events.note(
            step,
            format!(
                "{} desired {} -> {}",
                service.name, service.from, service.to
            ),
        );
    }
    let settle = wait_settled(clients, plan, limit).await?;
    Ok(ScaleReport {
        plan: plan.clone(),
        settled: settle.settled,
        waited_ms: settle.waited_ms,
        observed: settle.observed,
        minimums,
        without_autoscaling,
    })
}

/// How a wait for the planned counts ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settle {
    /// Every service runs its planned count, in one deployment, with that many healthy targets.
    pub settled: bool,
    pub waited_ms: u64,
    /// One line per service, as last seen.
    pub observed: Vec<String>,
}

/// Waits (at most `limit`) until every service of `plan` runs its `to` count and its target
/// group has that many healthy targets. Not `wait::poll`: reaching the limit unsettled is a
/// report (the caller says what is missing), not an error.
pub async fn wait_settled(
    clients: &RegionClients,
    plan: &ScalePlan,
    limit: Duration,
) -> Result<Settle> {
    let mut pacing = Pacing::start(Backoff::doubling(
        Duration::from_millis(200),
        Duration::from_secs(10),
        limit,
    ));
    loop {
        let (settled, observed) = observe(clients, plan).await?;
        if settled || !pacing.pause().await {
            return Ok(Settle {
                settled,
                waited_ms: elapsed_ms(pacing.waited()),
                observed,
            });
        }
    }
}

async fn observe(clients: &RegionClients, plan: &ScalePlan) -> Result<(bool, Vec<String>)> {
    let mut settled = true;
    let mut observed = Vec::new();
    let Some(cluster) = plan.services.first().map(|service| service.cluster.clone()) else {
        return Ok((true, observed));
    };
    let described = clients
        .ecs
        .describe_services()
        .cluster(&cluster)
        .set_services(Some(
            plan.services
                .iter()
                .map(|service| service.name.clone())
                .collect(),
        ))
        .send()
        .await
        .map_err(|error| aws_error("DescribeServices", &clients.region, &error))?;
    for service in &plan.services {
        let current = described
            .services()
            .iter()
            .find(|described| described.service_name() == Some(service.name.as_str()));
        let running = current.map(|current| current.running_count()).unwrap_or(0);
        let deployments = current
            .map(|current| current.deployments().len())
            .unwrap_or(0);
        let mut line = format!("{}: {running}/{} running", service.name, service.to);
        let mut service_settled = running >= service.to && deployments <= 1;
        if let Some(arn) = &service.target_group_arn {
            let group = target_group_health(clients, arn)
                .await
                .map_err(|error| aws_error("DescribeTargetHealth", &clients.region, &error))?;
            line.push_str(&format!(
                ", {}/{} targets healthy",
                group.healthy, service.to
            ));
            service_settled &= i32::try_from(group.healthy).unwrap_or(i32::MAX) >= service.to;
        }
        settled &= service_settled;
        observed.push(line);
    }
    Ok((settled, observed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::status::facts::ServiceFact;

    fn facts(region: &str, desired: i32, max_count: Option<u32>) -> RegionFacts {
        RegionFacts {
            region: region.into(),
            max_count,
            services: SERVICES
                .iter()
                .map(|kind| ServiceFact {
                    kind,
                    name: crate::app::names::ecs_service("demo", kind),
                    cluster: "demo".into(),
                    found: true,
                    running: desired,
                    desired,
                    pending: 0,
                    deployments: 1,
                    rollout: None,
                    task_definition: None,
                    image: None,
                    digest: None,
                    target_group: None,
                })
                .collect(),
            ..RegionFacts::default()
        }
    }

    #[test]
    fn the_target_gets_the_source_capacity_and_is_never_scaled_down() {
        let plan = plan(
            &facts("us-east-1", 3, None),
            &facts("us-west-2", 1, Some(6)),
            2,
        );
        assert_eq!(
            plan.services
                .iter()
                .map(|service| (service.from, service.to))
                .collect::<Vec<_>>(),
            [(1, 3), (1, 3)]
        );
        assert_eq!(plan.capacity_from, "desired counts of us-east-1");
        let bigger_target = super::plan(
            &facts("us-east-1", 2, None),
            &facts("us-west-2", 4, None),
            2,
        );
        assert!(bigger_target.services.iter().all(|service| service.to == 4));
    }

    #[test]
    fn a_silent_source_falls_back_to_its_configured_count_capped_at_max_count() {
        let silent = RegionFacts {
            region: "us-east-1".into(),
            unreachable: Some("down".into()),
            ..RegionFacts::default()
        };
        let plan = plan(&silent, &facts("us-west-2", 1, Some(3)), 5);
        assert!(
            plan.services.iter().all(|service| service.to == 3),
            "{plan:?}"
        );
        assert!(
            plan.capacity_from.contains("as it did not answer"),
            "{}",
            plan.capacity_from
        );
    }
}
