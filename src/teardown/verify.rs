//! Proof that teardown worked: what is still there, service by service, found with describe
//! calls — by the app's names, by its tags (`mysfits:app`, and the `aws:cloudformation:stack-name`
//! tag CloudFormation adds), and by the physical ids the stacks reported before they were deleted
//! (a stack delete that "succeeds" but leaves resources behind is caught that way).
//!
//! A check that cannot be made is listed as unverified with its reason; one that failed (an API
//! error) fails the teardown like a leftover does, one whose service the endpoint does not offer
//! (an emulator without Global Accelerator) is reported but does not.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Filter, NatGateway};
use futures::future::join_all;
use serde::Serialize;

use super::Teardown;
use super::entry::{FailoverZone, Removal, find_accelerators, find_health_checks, find_records};
use super::insights::{log_group_prefix, log_groups_under};
use super::removal::{active_services, dashboard_exists, stack_resources};
use crate::app::{SERVICES, names};
use crate::aws::{RegionClients, aws_error, error_code};
use crate::config::APP_TAG;
use crate::error::{Error, Result};
use crate::stack::StackKind;
use crate::stack::deploy::PhysicalResource;

/// Something of the app that still exists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Found {
    /// Region, or "global".
    pub region: String,
    /// vpc, nat_gateway, elastic_ip, load_balancer, target_group, ecs_cluster, ecs_service,
    /// task_definition, ecr_repository, dynamodb_table, log_group, dashboard, stack,
    /// accelerator, health_check.
    pub kind: String,
    pub id: String,
}

/// A check that could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unverified {
    pub what: String,
    pub region: String,
    pub reason: String,
    /// The endpoint does not offer this service at all (reported, not a failure).
    pub service_unavailable: bool,
}

/// The verification's findings.
#[derive(Debug, Default)]
pub struct Verification {
    pub remaining: Vec<Found>,
    pub kept: Vec<Found>,
    pub unverified: Vec<Unverified>,
}

/// The physical resources of the app's stacks in every region, per region name. Best effort: a
/// stack that cannot be described contributes nothing (names and tags still find its resources).
pub async fn stack_inventory(teardown: &Teardown) -> BTreeMap<String, Vec<PhysicalResource>> {
    let mut inventory = BTreeMap::new();
    for clients in teardown.clients.values() {
        let mut resources = Vec::new();
        for kind in StackKind::ALL.into_iter().chain([StackKind::Data]) {
            let stack_name = kind.stack_name(&teardown.config.app);
            resources.extend(
                stack_resources(clients, &stack_name)
                    .await
                    .into_iter()
                    .map(|(_, resource)| resource),
            );
        }
        inventory.insert(clients.region.clone(), resources);
    }
    inventory
}

/// Checks every region (in parallel) and the global services.
pub async fn verify(
    teardown: &Teardown,
    recorded: &BTreeMap<String, Vec<PhysicalResource>>,
) -> Verification {
    let mut verification = Verification::default();
    let home = teardown.config.home();
    let regional = teardown.clients.iter().map(|(region, clients)| {
        let recorded = recorded.get(&clients.region).cloned().unwrap_or_default();
        let is_home = *region == home.key();
        async move { region_findings(teardown, is_home, clients, &recorded).await }
    });
    for (found, unverified) in join_all(regional).await {
        for item in found {
            let kept = teardown.options.keep_data
                && item.kind == "dynamodb_table"
                && item.region == home.name;
            if kept {
                verification.kept.push(item);
            } else {
                verification.remaining.push(item);
            }
        }
        verification.unverified.extend(unverified);
    }
    global_findings(teardown, &mut verification).await;
    verification.remaining.sort();
    verification.remaining.dedup();
    verification
}

/// The entry point's global resources: accelerators, Route 53 health checks and the app's
/// records in the configured zone.
async fn global_findings(teardown: &Teardown, verification: &mut Verification) {
    let app = &teardown.config.app;
    if let Some(zone) = FailoverZone::configured(&teardown.config) {
        match find_records(&teardown.global, &zone).await {
            Ok(records) => verification
                .remaining
                .extend(records.into_iter().map(|id| Found {
                    region: "global".into(),
                    kind: "dns_record".into(),
                    id,
                })),
            Err(error) => {
                verification
                    .unverified
                    .push(failed_check("Route 53 records", "global", &error))
            }
        }
    }
    match find_accelerators(&teardown.global, app).await {
        Ok(Ok(accelerators)) => {
            verification
                .remaining
                .extend(accelerators.into_iter().map(|(arn, name)| Found {
                    region: "global".into(),
                    kind: "accelerator".into(),
                    id: format!("{name} ({arn})"),
                }))
        }
        Ok(Err(unavailable)) => verification
            .unverified
            .push(unavailable_entry("Global Accelerator", &unavailable)),
        Err(error) => {
            verification
                .unverified
                .push(failed_check("Global Accelerator", "global", &error))
        }
    }
    match find_health_checks(&teardown.global, app).await {
        Ok(Ok(checks)) => verification
            .remaining
            .extend(checks.into_iter().map(|id| Found {
                region: "global".into(),
                kind: "health_check".into(),
                id,
            })),
        Ok(Err(unavailable)) => verification
            .unverified
            .push(unavailable_entry("Route 53 health checks", &unavailable)),
        Err(error) => {
            verification
                .unverified
                .push(failed_check("Route 53 health checks", "global", &error))
        }
    }
}

fn unavailable_entry(what: &str, removal: &Removal) -> Unverified {
    let reason = match removal {
        Removal::Unavailable { endpoint, reason } => {
            format!("not available at {endpoint} ({reason})")
        }
        _ => "not available".into(),
    };
    Unverified {
        what: what.into(),
        region: "global".into(),
        reason,
        service_unavailable: true,
    }
}

fn failed_check(what: &str, region: &str, error: &Error) -> Unverified {
    Unverified {
        what: what.into(),
        region: region.into(),
        reason: error
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        service_unavailable: false,
    }
}

/// The physical ids of one resource type among those the stacks reported.
fn recorded_of(recorded: &[PhysicalResource], resource_type: &str) -> Vec<String> {
    recorded
        .iter()
        .filter(|resource| resource.resource_type == resource_type)
        .map(|resource| resource.physical_id.clone())
        .collect()
}

/// One check's name and what it found (or why it could not look).
type Check<'a> = (&'a str, Result<Vec<Found>>);

/// Every check of one region; a failing check becomes an unverified entry, the others still run.
/// The dashboard is looked for in home only.
async fn region_findings(
    teardown: &Teardown,
    is_home: bool,
    clients: &RegionClients,
    recorded: &[PhysicalResource],
) -> (Vec<Found>, Vec<Unverified>) {
    let app = &teardown.config.app;
    let region = clients.region.as_str();
    let mut checks = network_checks(clients, app, recorded).await;
    checks.extend(service_checks(teardown, clients, recorded).await);
    let mut remaining = Vec::new();
    let mut unverified = Vec::new();
    if is_home {
        match dashboard(clients, app).await {
            Ok(Ok(found)) => remaining.extend(found),
            Ok(Err(reason)) => unverified.push(Unverified {
                what: "CloudWatch dashboard".into(),
                region: region.to_string(),
                reason: format!("not available at this endpoint ({reason})"),
                service_unavailable: true,
            }),
            Err(error) => unverified.push(failed_check("CloudWatch dashboard", region, &error)),
        }
    }
    for (what, result) in checks {
        match result {
            Ok(found) => remaining.extend(found),
            Err(error) => unverified.push(failed_check(what, region, &error)),
        }
    }
    (remaining, unverified)
}

/// VPCs, NAT gateways, Elastic IPs, load balancers and target groups: found through the VPCs,
/// so nothing past the VPC lookup runs when it fails.
async fn network_checks<'a>(
    clients: &RegionClients,
    app: &str,
    recorded: &[PhysicalResource],
) -> Vec<Check<'a>> {
    const NETWORK: &str = "VPC, NAT gateways, Elastic IPs";
    let (vpc_ids, tagged_gateways) =
        match vpcs(clients, app, &recorded_of(recorded, "AWS::EC2::VPC")).await {
            Ok(found) => found,
            Err(error) => return vec![(NETWORK, Err(error))],
        };
    let mut checks: Vec<Check<'a>> = vec![(NETWORK, Ok(found(&clients.region, "vpc", &vpc_ids)))];
    // The NAT gateways' addresses lead to their Elastic IPs when nothing else does.
    let mut addresses = recorded_of(recorded, "AWS::EC2::EIP");
    let recorded_gateways = recorded_of(recorded, "AWS::EC2::NatGateway");
    match nat_gateways(clients, tagged_gateways, &vpc_ids, &recorded_gateways).await {
        Ok((gateways, allocations)) => {
            checks.push((NETWORK, Ok(gateways)));
            addresses.extend(allocations);
        }
        Err(error) => checks.push((NETWORK, Err(error))),
    }
    checks.push((NETWORK, elastic_ips(clients, app, &addresses).await));
    let mut recorded_balancing = recorded_of(recorded, "AWS::ElasticLoadBalancingV2::LoadBalancer");
    recorded_balancing.extend(recorded_of(
        recorded,
        "AWS::ElasticLoadBalancingV2::TargetGroup",
    ));
    checks.push((
        "load balancers and target groups",
        load_balancing(clients, app, &vpc_ids, &recorded_balancing).await,
    ));
    checks
}

/// Stacks, ECS, ECR, the table and log groups.
async fn service_checks<'a>(
    teardown: &Teardown,
    clients: &RegionClients,
    recorded: &[PhysicalResource],
) -> Vec<Check<'a>> {
    let app = &teardown.config.app;
    let clusters = recorded_of(recorded, "AWS::ECS::Cluster");
    vec![
        ("CloudFormation stacks", stacks(clients, app).await),
        (
            "ECS cluster and services",
            ecs(clients, app, &clusters).await,
        ),
        (
            "ECS task definitions",
            task_definitions(
                clients,
                app,
                &recorded_of(recorded, "AWS::ECS::TaskDefinition"),
            )
            .await,
        ),
        ("ECR repositories", repositories(clients, app).await),
        (
            "DynamoDB table",
            table(clients, &teardown.config.table_name()).await,
        ),
        (
            "CloudWatch log groups",
            log_groups(clients, app, &recorded_of(recorded, "AWS::Logs::LogGroup")).await,
        ),
        (
            "Container Insights log groups",
            insights_log_groups(clients, app, &clusters).await,
        ),
    ]
}

fn found(region: &str, kind: &str, ids: &[String]) -> Vec<Found> {
    ids.iter()
        .map(|id| Found {
            region: region.to_string(),
            kind: kind.to_string(),
            id: id.clone(),
        })
        .collect()
}

fn tag_filter(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// Matches resources whose `name` (e.g. `vpc-id`) is any of `ids`.
fn id_filter(name: &str, ids: Vec<String>) -> Filter {
    Filter::builder().name(name).set_values(Some(ids)).build()
}

/// The tag filters that find the app's network resources: the app tag, or the tag CloudFormation
/// puts on everything of the app stack.
fn app_filters(app: &str) -> [Filter; 2] {
    [
        tag_filter(APP_TAG, app),
        tag_filter(
            "aws:cloudformation:stack-name",
            &StackKind::App.stack_name(app),
        ),
    ]
}

/// The app's VPCs: tagged for it, reported by its stack, or holding a subnet or NAT gateway that
/// is tagged for it (templates may tag only some resources; moto drops stack-level tags). Also
/// the NAT gateways tagged for the app that were seen on the way (not deleted).
async fn vpcs(
    clients: &RegionClients,
    app: &str,
    recorded: &[String],
) -> Result<(Vec<String>, Vec<NatGateway>)> {
    let region = &clients.region;
    let mut ids = BTreeSet::new();
    let mut tagged_gateways = Vec::new();
    let mut queries: Vec<Filter> = app_filters(app).into_iter().collect();
    if !recorded.is_empty() {
        queries.push(id_filter("vpc-id", recorded.to_vec()));
    }
    for filter in queries {
        let described = clients
            .ec2
            .describe_vpcs()
            .filters(filter)
            .send()
            .await
            .map_err(|error| aws_error("DescribeVpcs", region, &error))?;
        ids.extend(
            described
                .vpcs()
                .iter()
                .filter_map(|vpc| vpc.vpc_id().map(str::to_string)),
        );
    }
    for filter in app_filters(app) {
        let subnets = clients
            .ec2
            .describe_subnets()
            .filters(filter.clone())
            .send()
            .await
            .map_err(|error| aws_error("DescribeSubnets", region, &error))?;
        ids.extend(
            subnets
                .subnets()
                .iter()
                .filter_map(|subnet| subnet.vpc_id().map(str::to_string)),
        );
        let gateways = clients
            .ec2
            .describe_nat_gateways()
            .filter(filter)
            .send()
            .await
            .map_err(|error| aws_error("DescribeNatGateways", region, &error))?;
        for gateway in gateways.nat_gateways() {
            if gateway.state().map(|state| state.as_str()) != Some("deleted") {
                ids.extend(gateway.vpc_id().map(str::to_string));
                tagged_gateways.push(gateway.clone());
            }
        }
    }
    // A VPC that was deleted meanwhile is not found by the filters above; one found through a
    // subnet or gateway is confirmed to exist here.
    if ids.is_empty() {
        return Ok((Vec::new(), tagged_gateways));
    }
    let confirmed = clients
        .ec2
        .describe_vpcs()
        .filters(id_filter("vpc-id", ids.into_iter().collect()))
        .send()
        .await
        .map_err(|error| aws_error("DescribeVpcs", region, &error))?;
    let vpc_ids = confirmed
        .vpcs()
        .iter()
        .filter_map(|vpc| vpc.vpc_id().map(str::to_string))
        .collect();
    Ok((vpc_ids, tagged_gateways))
}

/// The app's NAT gateways (the tagged ones [`vpcs`] saw, those in its VPCs and those its stack
/// reported) and their addresses' allocation ids.
async fn nat_gateways(
    clients: &RegionClients,
    tagged: Vec<NatGateway>,
    vpc_ids: &[String],
    recorded: &[String],
) -> Result<(Vec<Found>, Vec<String>)> {
    let region = &clients.region;
    let mut queries: Vec<Filter> = Vec::new();
    if !vpc_ids.is_empty() {
        queries.push(id_filter("vpc-id", vpc_ids.to_vec()));
    }
    if !recorded.is_empty() {
        queries.push(id_filter("nat-gateway-id", recorded.to_vec()));
    }
    let mut gateways = tagged;
    for filter in queries {
        let described = clients
            .ec2
            .describe_nat_gateways()
            .filter(filter)
            .send()
            .await
            .map_err(|error| aws_error("DescribeNatGateways", region, &error))?;
        gateways.extend(
            described
                .nat_gateways()
                .iter()
                .filter(|gateway| gateway.state().map(|state| state.as_str()) != Some("deleted"))
                .cloned(),
        );
    }
    let mut ids = BTreeSet::new();
    let mut allocations = BTreeSet::new();
    for gateway in &gateways {
        ids.extend(gateway.nat_gateway_id().map(str::to_string));
        allocations.extend(
            gateway
                .nat_gateway_addresses()
                .iter()
                .filter_map(|address| address.allocation_id().map(str::to_string)),
        );
    }
    Ok((
        found(region, "nat_gateway", &ids.into_iter().collect::<Vec<_>>()),
        allocations.into_iter().collect(),
    ))
}

/// Elastic IPs of the app: tagged for it, reported by its stack (by address or allocation id),
/// or held by one of its NAT gateways. An account has few addresses: all are listed and matched
/// here rather than filtered by the endpoint.
async fn elastic_ips(clients: &RegionClients, app: &str, known: &[String]) -> Result<Vec<Found>> {
    let region = &clients.region;
    let described = clients
        .ec2
        .describe_addresses()
        .send()
        .await
        .map_err(|error| aws_error("DescribeAddresses", region, &error))?;
    let stack_name = StackKind::App.stack_name(app);
    let ids: Vec<String> = described
        .addresses()
        .iter()
        .filter(|address| {
            let tagged = address
                .tags()
                .iter()
                .any(|tag| marks_app(tag.key(), tag.value(), app, &stack_name));
            let known_id = [address.allocation_id(), address.public_ip()]
                .into_iter()
                .flatten()
                .any(|id| known.iter().any(|ours| ours == id));
            tagged || known_id
        })
        .filter_map(
            |address| match (address.allocation_id(), address.public_ip()) {
                (Some(allocation), Some(ip)) => Some(format!("{allocation} ({ip})")),
                (Some(allocation), None) => Some(allocation.to_string()),
                (None, ip) => ip.map(str::to_string),
            },
        )
        .collect();
    Ok(found(region, "elastic_ip", &ids))
}

/// A tag that marks a resource as the app's: ours, or CloudFormation's for the app stack.
fn marks_app(key: Option<&str>, value: Option<&str>, app: &str, stack_name: &str) -> bool {
    match (key, value) {
        (Some(APP_TAG), Some(value)) => value == app,
        (Some("aws:cloudformation:stack-name"), Some(value)) => value == stack_name,
        _ => false,
    }
}

/// A load balancer or target group: ARN, name, VPC.
type Balancing = (String, String, Option<String>);

/// Every load balancer and target group of the region.
async fn all_load_balancing(clients: &RegionClients) -> Result<(Vec<Balancing>, Vec<Balancing>)> {
    let region = &clients.region;
    let balancers = clients
        .elbv2
        .describe_load_balancers()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|error| aws_error("DescribeLoadBalancers", region, &error))?
        .iter()
        .filter_map(|balancer| {
            Some((
                balancer.load_balancer_arn()?.to_string(),
                balancer
                    .load_balancer_name()
                    .unwrap_or_default()
                    .to_string(),
                balancer.vpc_id().map(str::to_string),
            ))
        })
        .collect();
    let groups = clients
        .elbv2
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|error| aws_error("DescribeTargetGroups", region, &error))?
        .iter()
        .filter_map(|group| {
            Some((
                group.target_group_arn()?.to_string(),
                group.target_group_name().unwrap_or_default().to_string(),
                group.vpc_id().map(str::to_string),
            ))
        })
        .collect();
    Ok((balancers, groups))
}

/// The ARNs among `arns` whose tags mark them as the app's.
async fn tagged_for_app(
    clients: &RegionClients,
    app: &str,
    arns: &[String],
) -> Result<BTreeSet<String>> {
    let mut tagged = BTreeSet::new();
    let stack_name = StackKind::App.stack_name(app);
    for chunk in arns.chunks(20) {
        let described = clients
            .elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|error| aws_error("DescribeTags", &clients.region, &error))?;
        for description in described.tag_descriptions() {
            let ours = description
                .tags()
                .iter()
                .any(|tag| marks_app(tag.key(), tag.value(), app, &stack_name));
            if ours && let Some(arn) = description.resource_arn() {
                tagged.insert(arn.to_string());
            }
        }
    }
    Ok(tagged)
}

/// Load balancers and target groups of the app: in one of its VPCs, tagged for it, or reported
/// by its stack.
async fn load_balancing(
    clients: &RegionClients,
    app: &str,
    vpc_ids: &[String],
    recorded: &[String],
) -> Result<Vec<Found>> {
    let region = &clients.region;
    let (balancers, groups) = all_load_balancing(clients).await?;
    let all_arns: Vec<String> = balancers
        .iter()
        .chain(groups.iter())
        .map(|(arn, _, _)| arn.clone())
        .collect();
    let tagged = tagged_for_app(clients, app, &all_arns).await?;
    let is_ours = |arn: &str, vpc: &Option<String>| {
        tagged.contains(arn)
            || recorded.iter().any(|id| id == arn)
            || vpc
                .as_ref()
                .is_some_and(|vpc| vpc_ids.iter().any(|ours| ours == vpc))
    };
    let mut findings = Vec::new();
    for (kind, found_here) in [("load_balancer", &balancers), ("target_group", &groups)] {
        for (arn, name, vpc) in found_here {
            if is_ours(arn, vpc) {
                findings.extend(found(region, kind, &[format!("{name} ({arn})")]));
            }
        }
    }
    Ok(findings)
}

async fn stacks(clients: &RegionClients, app: &str) -> Result<Vec<Found>> {
    let mut findings = Vec::new();
    // The data stack is home's, but one left in any region is found too.
    for kind in StackKind::ALL.into_iter().chain([StackKind::Data]) {
        let name = kind.stack_name(app);
        match clients
            .cloudformation
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
        {
            Ok(described) => {
                for stack in described.stacks() {
                    let status = stack
                        .stack_status()
                        .map(|status| status.as_str())
                        .unwrap_or_default();
                    if status != "DELETE_COMPLETE" {
                        findings.extend(found(
                            &clients.region,
                            "stack",
                            &[format!("{name} ({status})")],
                        ));
                    }
                }
            }
            Err(error) if error_code(&error) == Some("ValidationError") => {}
            Err(error) => return Err(aws_error("DescribeStacks", &clients.region, &error)),
        }
    }
    Ok(findings)
}

async fn ecs(clients: &RegionClients, app: &str, recorded: &[String]) -> Result<Vec<Found>> {
    let region = &clients.region;
    let mut clusters: BTreeSet<String> = recorded.iter().cloned().collect();
    clusters.insert(names::cluster(app));
    let described = clients
        .ecs
        .describe_clusters()
        .set_clusters(Some(clusters.into_iter().collect()))
        .send()
        .await
        .map_err(|error| aws_error("DescribeClusters", region, &error))?;
    let mut findings = Vec::new();
    for cluster in described.clusters() {
        if cluster.status() != Some("INACTIVE") {
            findings.extend(found(
                region,
                "ecs_cluster",
                &[cluster.cluster_name().unwrap_or_default().to_string()],
            ));
        }
    }
    if let Some(services) = active_services(clients, app).await? {
        findings.extend(found(region, "ecs_service", &services));
    }
    Ok(findings)
}

async fn task_definitions(
    clients: &RegionClients,
    app: &str,
    recorded: &[String],
) -> Result<Vec<Found>> {
    let region = &clients.region;
    let mut arns = BTreeSet::new();
    let families: Vec<String> = clients
        .ecs
        .list_task_definition_families()
        .family_prefix(app)
        .status(aws_sdk_ecs::types::TaskDefinitionFamilyStatus::Active)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|error| aws_error("ListTaskDefinitionFamilies", region, &error))?
        .into_iter()
        .filter(|family| family.starts_with(&format!("{app}-")))
        .collect();
    for family in families {
        let listed = clients
            .ecs
            .list_task_definitions()
            .family_prefix(&family)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send()
            .await
            .map_err(|error| aws_error("ListTaskDefinitions", region, &error))?;
        arns.extend(listed.task_definition_arns().iter().cloned());
    }
    for arn in recorded {
        match clients
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
        {
            Ok(described) => {
                let active = described
                    .task_definition()
                    .and_then(|definition| definition.status())
                    .is_some_and(|status| status.as_str() == "ACTIVE");
                if active {
                    arns.insert(arn.clone());
                }
            }
            Err(error) if error_code(&error) == Some("ClientException") => {}
            Err(error) => {
                return Err(aws_error("DescribeTaskDefinition", region, &error));
            }
        }
    }
    Ok(found(
        region,
        "task_definition",
        &arns.into_iter().collect::<Vec<_>>(),
    ))
}

async fn repositories(clients: &RegionClients, app: &str) -> Result<Vec<Found>> {
    let mut findings = Vec::new();
    for name in SERVICES
        .iter()
        .map(|service| names::repository(app, service))
    {
        match clients
            .ecr
            .describe_repositories()
            .repository_names(&name)
            .send()
            .await
        {
            Ok(_) => findings.extend(found(&clients.region, "ecr_repository", &[name])),
            Err(error) if error_code(&error) == Some("RepositoryNotFoundException") => {}
            Err(error) => {
                return Err(aws_error("DescribeRepositories", &clients.region, &error));
            }
        }
    }
    Ok(findings)
}

async fn table(clients: &RegionClients, table: &str) -> Result<Vec<Found>> {
    match clients
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
    {
        Ok(_) => Ok(found(
            &clients.region,
            "dynamodb_table",
            &[table.to_string()],
        )),
        Err(error) if error_code(&error) == Some("ResourceNotFoundException") => Ok(Vec::new()),
        Err(error) => Err(aws_error("DescribeTable", &clients.region, &error)),
    }
}

async fn log_groups(clients: &RegionClients, app: &str, recorded: &[String]) -> Result<Vec<Found>> {
    let region = &clients.region;
    let mut prefixes: BTreeSet<String> = recorded.iter().cloned().collect();
    prefixes.insert(names::log_group_prefix(app));
    let mut groups = BTreeSet::new();
    for prefix in prefixes {
        groups.extend(
            log_groups_under(clients, &prefix)
                .await?
                .into_iter()
                .filter(|name| prefix.ends_with('/') || *name == prefix),
        );
    }
    Ok(found(
        region,
        "log_group",
        &groups.into_iter().collect::<Vec<_>>(),
    ))
}

/// The log groups ECS created for the app's clusters (by name, and any its stacks reported).
async fn insights_log_groups(
    clients: &RegionClients,
    app: &str,
    recorded_clusters: &[String],
) -> Result<Vec<Found>> {
    let mut clusters: BTreeSet<String> = recorded_clusters
        .iter()
        // A cluster's physical id is its name; an ARN ends in `cluster/NAME`.
        .map(|id| id.rsplit('/').next().unwrap_or(id).to_string())
        .collect();
    clusters.insert(names::cluster(app));
    let mut groups = BTreeSet::new();
    for cluster in clusters {
        groups.extend(log_groups_under(clients, &log_group_prefix(&cluster)).await?);
    }
    Ok(found(
        &clients.region,
        "log_group",
        &groups.into_iter().collect::<Vec<_>>(),
    ))
}

async fn dashboard(
    clients: &RegionClients,
    app: &str,
) -> Result<std::result::Result<Vec<Found>, String>> {
    Ok(dashboard_exists(clients, app).await?.map(|exists| {
        if exists {
            found(&clients.region, "dashboard", &[names::dashboard(app)])
        } else {
            Vec::new()
        }
    }))
}
