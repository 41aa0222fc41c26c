//! Is the target region ready to take the traffic? Pure judgement over the facts the source and
//! the target region gave ([`crate::status::facts`]), so every rule is testable without any AWS
//! call. With more than two regions only these two are compared: the others play no part.
//!
//! A check the source region would have to answer (replication latency, image digests) is
//! `Unknown` when the source is down: it is listed, but does not block a failover away from a
//! region that is gone.

use std::fmt;

use serde::Serialize;

use crate::app::{SERVICES, Service};
use crate::stack::StackKind;
use crate::status::facts::RegionFacts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ready,
    NotReady,
    /// Could not be checked (the source region did not answer, no metric data).
    Unknown,
}

impl fmt::Display for Verdict {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Verdict::Ready => "ok",
            Verdict::NotReady => "NOT READY",
            Verdict::Unknown => "unknown",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
}

impl Check {
    fn new(name: impl Into<String>, verdict: Verdict, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            verdict,
            detail: detail.into(),
        }
    }
}

/// Thresholds of the judgement.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub max_replication_latency_ms: f64,
}

/// Every check, in a fixed order: a target that did not answer has only that one.
pub fn assess(source: &RegionFacts, target: &RegionFacts, thresholds: Thresholds) -> Vec<Check> {
    if let Some(reason) = &target.unreachable {
        return vec![Check::new(
            "region answers",
            Verdict::NotReady,
            format!("{} did not answer: {reason}", target.region),
        )];
    }
    let mut checks = vec![app_stack_check(target)];
    for service in &SERVICES {
        checks.push(running_check(target, service));
        checks.push(deployment_check(target, service));
        checks.push(targets_check(target, service));
    }
    checks.push(replica_check(source, target));
    checks.push(latency_check(source, target, thresholds));
    checks.push(images_check(source, target));
    checks
}

/// The target's app stack exists and is settled (no update or rollback under way).
fn app_stack_check(target: &RegionFacts) -> Check {
    let name = "app stack";
    let Some(stack) = target.stack(StackKind::App) else {
        return Check::new(name, Verdict::NotReady, "not looked up");
    };
    match &stack.status {
        Some(status) if status == "UPDATE_ROLLBACK_COMPLETE" => Check::new(
            name,
            Verdict::Ready,
            format!(
                "{} {status} (its last update was rolled back: the version before it serves)",
                stack.name
            ),
        ),
        Some(status) if stack_is_settled(status) => {
            Check::new(name, Verdict::Ready, format!("{} {status}", stack.name))
        }
        Some(status) => Check::new(
            name,
            Verdict::NotReady,
            format!("{} is {status}", stack.name),
        ),
        None => Check::new(
            name,
            Verdict::NotReady,
            format!("{} does not exist in {}", stack.name, target.region),
        ),
    }
}

/// The service runs every task it wants (and wants at least one).
fn running_check(target: &RegionFacts, kind: &'static Service) -> Check {
    let name = kind.name;
    match target.service(kind) {
        Some(service) if !service.found => Check::new(
            name,
            Verdict::NotReady,
            format!(
                "service {} not found in cluster {}",
                service.name, service.cluster
            ),
        ),
        Some(service) if service.desired > 0 && service.running == service.desired => Check::new(
            name,
            Verdict::Ready,
            format!("{}/{} running", service.running, service.desired),
        ),
        // A pilot-light standby (desired_count 0) has nothing running by design: the scale-up
        // starts its tasks and waits for them healthy before traffic moves.
        Some(service) if service.desired == 0 && service.running == 0 && service.pending == 0 => {
            Check::new(name, Verdict::Unknown, PILOT_LIGHT)
        }
        Some(service) => Check::new(
            name,
            Verdict::NotReady,
            format!("{} running, {} desired", service.running, service.desired),
        ),
        None => Check::new(name, Verdict::NotReady, "service not looked up"),
    }
}

/// No deployment of the service is rolling out.
fn deployment_check(target: &RegionFacts, kind: &'static Service) -> Check {
    let name = format!("{} deployment", kind.name);
    match target.service(kind) {
        Some(service) if service.deployment_in_progress() => Check::new(
            name,
            Verdict::NotReady,
            format!(
                "a deployment is in progress ({} deployments, rollout {})",
                service.deployments,
                service.rollout.as_deref().unwrap_or("unknown")
            ),
        ),
        Some(service) if service.found => Check::new(
            name,
            Verdict::Ready,
            format!(
                "settled ({})",
                service.rollout.as_deref().unwrap_or("no rollout state")
            ),
        ),
        _ => Check::new(name, Verdict::NotReady, "no service"),
    }
}

const PILOT_LIGHT: &str =
    "0 tasks wanted (pilot light): the scale-up starts them and waits until they are healthy";

/// The service's target group has at least one healthy target behind the load balancer.
fn targets_check(target: &RegionFacts, kind: &'static Service) -> Check {
    let name = format!("{} targets", kind.name);
    let service = target.service(kind);
    let pilot_light = service.is_some_and(|service| {
        service.found && service.desired == 0 && service.running == 0 && service.pending == 0
    });
    match service.and_then(|service| service.target_group.as_ref()) {
        Some(group) if group.healthy == 0 && pilot_light => {
            Check::new(name, Verdict::Unknown, PILOT_LIGHT)
        }
        Some(group) if group.healthy > 0 => Check::new(
            name,
            Verdict::Ready,
            format!("{}/{} healthy", group.healthy, group.total),
        ),
        Some(group) if group.total == 0 => {
            Check::new(name, Verdict::NotReady, "no targets registered")
        }
        Some(group) => Check::new(
            name,
            Verdict::NotReady,
            format!("0 of {} healthy ({:?})", group.total, group.states),
        ),
        None => Check::new(name, Verdict::NotReady, "target group not found"),
    }
}

/// A stable state: no operation under way. UPDATE_ROLLBACK_COMPLETE and IMPORT_ROLLBACK_COMPLETE
/// count ("a last known stable state includes any status in a *_COMPLETE", RollbackStack API
/// reference): a deploy
/// whose update was rolled back leaves the region serving its previous version, which can take
/// traffic; the image check tells when the versions differ.
fn stack_is_settled(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE"
            | "UPDATE_COMPLETE"
            | "IMPORT_COMPLETE"
            | "UPDATE_ROLLBACK_COMPLETE"
            | "IMPORT_ROLLBACK_COMPLETE"
    )
}

/// The target's table is an ACTIVE replica of the source's. Either side can tell: the source
/// lists the target's replica with its status; the target's own table lists the source.
fn replica_check(source: &RegionFacts, target: &RegionFacts) -> Check {
    let name = "table replica";
    let Some(table) = &target.table else {
        return Check::new(name, Verdict::NotReady, "table not looked up");
    };
    if table.status != "ACTIVE" {
        return Check::new(
            name,
            Verdict::NotReady,
            format!(
                "table {} in {} is {}",
                table.name, target.region, table.status
            ),
        );
    }
    if let Some(replica) = source
        .table
        .as_ref()
        .and_then(|table| table.replica(&target.region))
    {
        return if replica.status == "ACTIVE" {
            Check::new(
                name,
                Verdict::Ready,
                format!("replica in {} ACTIVE", target.region),
            )
        } else {
            Check::new(
                name,
                Verdict::NotReady,
                format!("replica in {} is {}", target.region, replica.status),
            )
        };
    }
    match table.replica(&source.region) {
        Some(peer) if peer.status == "ACTIVE" => Check::new(
            name,
            Verdict::Ready,
            format!(
                "table ACTIVE, replicating with {} ({})",
                source.region, peer.status
            ),
        ),
        Some(peer) => Check::new(
            name,
            Verdict::NotReady,
            format!("replica relation with {} is {}", source.region, peer.status),
        ),
        None => Check::new(
            name,
            Verdict::NotReady,
            format!(
                "table {} in {} is not a replica of {}'s table",
                table.name, target.region, source.region
            ),
        ),
    }
}

fn latency_check(source: &RegionFacts, target: &RegionFacts, thresholds: Thresholds) -> Check {
    let name = "replication latency";
    if source.unreachable.is_some() {
        return Check::new(
            name,
            Verdict::Unknown,
            format!(
                "{} did not answer; its CloudWatch holds the metric",
                source.region
            ),
        );
    }
    match source.replication_to(&target.region) {
        Some(replication) => match replication.latest_ms {
            Some(latency) if latency <= thresholds.max_replication_latency_ms => Check::new(
                name,
                Verdict::Ready,
                format!(
                    "{latency:.0} ms (limit {:.0} ms)",
                    thresholds.max_replication_latency_ms
                ),
            ),
            Some(latency) => Check::new(
                name,
                Verdict::NotReady,
                format!(
                    "{latency:.0} ms {} -> {} exceeds the limit of {:.0} ms: recent writes may be missing in {}",
                    source.region,
                    target.region,
                    thresholds.max_replication_latency_ms,
                    target.region
                ),
            ),
            None => Check::new(
                name,
                Verdict::Unknown,
                "no ReplicationLatency data in the last 10 minutes (no recent writes)",
            ),
        },
        _ => Check::new(
            name,
            Verdict::Unknown,
            source
                .problems
                .iter()
                .find(|problem| problem.contains("ReplicationLatency"))
                .cloned()
                .unwrap_or_else(|| "metric not looked up".into()),
        ),
    }
}

fn images_check(source: &RegionFacts, target: &RegionFacts) -> Check {
    let name = "image digests";
    if source.unreachable.is_some() {
        return Check::new(
            name,
            Verdict::Unknown,
            format!("{} did not answer", source.region),
        );
    }
    let mut differences = Vec::new();
    for kind in &SERVICES {
        let digest = |facts: &RegionFacts| {
            facts
                .service(kind)
                .and_then(|service| service.digest.clone())
        };
        match (digest(source), digest(target)) {
            (Some(left), Some(right)) if left == right => {}
            (Some(left), Some(right)) => differences.push(format!(
                "{}: {} {} vs {} {}",
                kind.name,
                source.region,
                crate::image::push::short_digest(&left),
                target.region,
                crate::image::push::short_digest(&right)
            )),
            (None, _) | (_, None) => differences.push(format!("{}: digest unknown", kind.name)),
        }
    }
    if differences.is_empty() {
        Check::new(
            name,
            Verdict::Ready,
            format!("same digests in {} and {}", source.region, target.region),
        )
    } else {
        Check::new(name, Verdict::NotReady, differences.join("; "))
    }
}

/// The checks as a table for people.
pub fn table(checks: &[Check]) -> String {
    let name_width = checks
        .iter()
        .map(|check| check.name.len())
        .max()
        .unwrap_or(0);
    checks
        .iter()
        .map(|check| {
            format!(
                "  {:<name_width$}  {:<9}  {}\n",
                check.name,
                check.verdict.to_string(),
                check.detail
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::status::facts::{
        ReplicaFact, ReplicationFact, ServiceFact, StackFact, TableFact, TargetGroupFact,
    };

    fn region(name: &str, other: &str) -> RegionFacts {
        RegionFacts {
            region: name.into(),
            stacks: vec![StackFact {
                kind: StackKind::App,
                name: "demo-app".into(),
                status: Some("UPDATE_COMPLETE".into()),
            }],
            services: SERVICES
                .iter()
                .map(|kind| ServiceFact {
                    kind,
                    name: crate::app::names::ecs_service("demo", kind),
                    cluster: "demo".into(),
                    found: true,
                    running: 2,
                    desired: 2,
                    pending: 0,
                    deployments: 1,
                    rollout: Some("COMPLETED".into()),
                    task_definition: Some("td".into()),
                    image: Some(format!("repo@sha256:{}", kind.name)),
                    digest: Some(format!("sha256:{}", kind.name)),
                    target_group: Some(TargetGroupFact {
                        arn: "tg".into(),
                        healthy: 2,
                        total: 2,
                        states: BTreeMap::from([("healthy".into(), 2)]),
                    }),
                })
                .collect(),
            table: Some(TableFact {
                name: "demo-mysfits".into(),
                status: "ACTIVE".into(),
                replicas: vec![ReplicaFact {
                    region: other.into(),
                    status: "ACTIVE".into(),
                }],
            }),
            replication: vec![ReplicationFact {
                receiving_region: other.into(),
                latest_ms: Some(250.0),
                maximum_ms: Some(900.0),
            }],
            ..RegionFacts::default()
        }
    }

    const LIMITS: Thresholds = Thresholds {
        max_replication_latency_ms: 2000.0,
    };

    fn not_ready(checks: &[Check]) -> Vec<&str> {
        checks
            .iter()
            .filter(|check| check.verdict == Verdict::NotReady)
            .map(|check| check.name.as_str())
            .collect()
    }

    #[test]
    fn a_healthy_pair_is_ready() {
        let checks = assess(
            &region("us-east-1", "us-west-2"),
            &region("us-west-2", "us-east-1"),
            LIMITS,
        );
        assert!(not_ready(&checks).is_empty(), "{}", table(&checks));
        assert_eq!(checks.len(), 10);
    }

    #[test]
    fn a_stack_whose_last_update_rolled_back_can_take_traffic_but_one_mid_operation_cannot() {
        let source = region("us-east-1", "us-west-2");
        let with_stack = |status: &str| {
            let mut target = region("us-west-2", "us-east-1");
            target.stacks[0].status = Some(status.into());
            assess(&source, &target, LIMITS)
        };
        let checks = with_stack("UPDATE_ROLLBACK_COMPLETE");
        assert!(not_ready(&checks).is_empty(), "{}", table(&checks));
        assert!(table(&checks).contains("last update was rolled back"));
        for busy in [
            "UPDATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_FAILED",
            "ROLLBACK_COMPLETE",
        ] {
            assert_eq!(not_ready(&with_stack(busy)), ["app stack"], "{busy}");
        }
    }

    #[test]
    fn a_pilot_light_standby_is_scaled_up_by_the_failover_not_refused() {
        let source = region("us-east-1", "us-west-2");
        let mut target = region("us-west-2", "us-east-1");
        for service in &mut target.services {
            service.desired = 0;
            service.running = 0;
            let group = service.target_group.as_mut().unwrap();
            group.healthy = 0;
            group.total = 0;
            group.states.clear();
        }
        let checks = assess(&source, &target, LIMITS);
        assert!(not_ready(&checks).is_empty(), "{}", table(&checks));
        assert!(table(&checks).contains("pilot light"), "{}", table(&checks));
        // Wanting tasks that do not run is still not ready.
        target.services[0].desired = 2;
        let checks = assess(&source, &target, LIMITS);
        assert!(!not_ready(&checks).is_empty(), "{}", table(&checks));
    }

    #[test]
    fn each_missing_condition_is_named() {
        let source = region("us-east-1", "us-west-2");
        let mut target = region("us-west-2", "us-east-1");
        target.services[0].running = 1;
        target.services[1].deployments = 2;
        target.services[1].target_group.as_mut().unwrap().healthy = 0;
        target.stacks[0].status = Some("UPDATE_IN_PROGRESS".into());
        target.services[0].digest = Some("sha256:other".into());
        let checks = assess(&source, &target, LIMITS);
        assert_eq!(
            not_ready(&checks),
            [
                "app stack",
                "mysfits-service",
                "like-service deployment",
                "like-service targets",
                "image digests"
            ],
            "{}",
            table(&checks)
        );
    }

    #[test]
    fn replica_states_and_latency_come_from_the_source_when_it_answers() {
        let mut source = region("us-east-1", "us-west-2");
        source.table.as_mut().unwrap().replicas[0].status = "CREATING".into();
        source.replication[0].latest_ms = Some(9000.0);
        let checks = assess(&source, &region("us-west-2", "us-east-1"), LIMITS);
        assert_eq!(not_ready(&checks), ["table replica", "replication latency"]);
        let text = table(&checks);
        assert!(text.contains("replica in us-west-2 is CREATING"), "{text}");
        assert!(
            text.contains("9000 ms us-east-1 -> us-west-2 exceeds"),
            "{text}"
        );
    }

    #[test]
    fn a_source_that_does_not_answer_leaves_its_checks_unknown_not_failed() {
        let source = RegionFacts {
            region: "us-east-1".into(),
            unreachable: Some("DescribeStacks: connection refused".into()),
            ..RegionFacts::default()
        };
        let checks = assess(&source, &region("us-west-2", "us-east-1"), LIMITS);
        assert!(not_ready(&checks).is_empty(), "{}", table(&checks));
        let unknown: Vec<&str> = checks
            .iter()
            .filter(|check| check.verdict == Verdict::Unknown)
            .map(|check| check.name.as_str())
            .collect();
        assert_eq!(unknown, ["replication latency", "image digests"]);
    }

    #[test]
    fn a_target_table_that_is_not_a_replica_is_not_ready() {
        let source = RegionFacts {
            region: "us-east-1".into(),
            unreachable: Some("down".into()),
            ..RegionFacts::default()
        };
        let mut target = region("us-west-2", "us-east-1");
        target.table.as_mut().unwrap().replicas.clear();
        let checks = assess(&source, &target, LIMITS);
        assert_eq!(not_ready(&checks), ["table replica"]);
        target.table.as_mut().unwrap().status = "NOT_FOUND".into();
        let checks = assess(&source, &target, LIMITS);
        assert!(table(&checks).contains("is NOT_FOUND"));
    }

    /// With three regions the digests of the source and the target are compared, and the
    /// detail names those two, not "both regions" (there are three).
    #[test]
    fn with_three_regions_the_digest_check_names_source_and_target() {
        let source = region("us-east-1", "eu-west-1");
        let target = region("eu-west-1", "us-east-1");
        let checks = assess(&source, &target, LIMITS);
        let digests = checks
            .iter()
            .find(|check| check.name == "image digests")
            .unwrap();
        assert_eq!(digests.verdict, Verdict::Ready);
        assert_eq!(digests.detail, "same digests in us-east-1 and eu-west-1");
        let text = table(&checks);
        assert!(!text.contains("both regions"), "{text}");
    }
}
