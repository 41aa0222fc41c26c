//! What Global Accelerator leaves in a region's VPC, and other network interfaces that keep a
//! subnet or VPC from being deleted.
//!
//! With client IP preservation (the app's ALB endpoints have it on), Global Accelerator creates
//! one network interface of type `global_accelerator_managed` in each subnet of the load balancer
//! and a security group named `GlobalAccelerator` in the VPC. It removes the interfaces some time
//! after the accelerator (or the endpoint) is gone, and never removes the security group: the
//! AWS guide says to delete it yourself once the accelerator is deleted. Until both are gone the
//! app stack's subnets and VPC cannot be deleted (DependencyViolation, the stack DELETE_FAILED).
//!
//! So teardown, once the entry point is removed, waits in every app region until the VPC has no
//! such interface, deletes the group (retrying DependencyViolation while an interface lingers),
//! and only then deletes the app stack. A DELETE_FAILED stack whose VPC, subnet or security group
//! failed gets the same cleanup, plus the removal of detached interfaces left in its subnets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, NetworkInterface, NetworkInterfaceStatus, NetworkInterfaceType};

use crate::aws::{RegionClients, aws_error, error_code};
use crate::error::{Error, Result};
use crate::progress::Events;
use crate::wait::{Backoff, poll, retry};

/// The security group Global Accelerator creates in each VPC with an endpoint that preserves
/// client IP addresses.
pub const GLOBAL_ACCELERATOR_GROUP: &str = "GlobalAccelerator";

/// AWS publishes no bound on how long Global Accelerator takes to release its interfaces after
/// the accelerator is deleted; minutes are usual.
pub const INTERFACE_RELEASE_LIMIT: Duration = Duration::from_secs(30 * 60);

const FIRST_DELAY: Duration = Duration::from_secs(5);
const MAX_DELAY: Duration = Duration::from_secs(30);

/// One EC2 filter with one value (`vpc-id`, `subnet-id`, `group-id`, ...).
pub fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// The network interfaces matching `filters`.
async fn interfaces(
    clients: &RegionClients,
    filters: Vec<Filter>,
) -> Result<Vec<NetworkInterface>> {
    clients
        .ec2
        .describe_network_interfaces()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|error| aws_error("DescribeNetworkInterfaces", &clients.region, &error))
}

fn interface_id(interface: &NetworkInterface) -> &str {
    interface.network_interface_id().unwrap_or_default()
}

/// Waits (at most `limit`) until VPC `vpc_id` has no Global Accelerator interface left, then
/// deletes the `GlobalAccelerator` security group of the VPC. Returns a summary.
pub async fn release_accelerator_network(
    clients: &RegionClients,
    vpc_id: &str,
    events: &Events,
    step: &str,
    limit: Duration,
) -> Result<String> {
    let started = tokio::time::Instant::now();
    let released = wait_released(clients, vpc_id, events, step, limit).await?;
    let interfaces_note = match released {
        Some(count) => format!(
            "Global Accelerator released {count} interface(s) after {:.0}s",
            started.elapsed().as_secs_f64()
        ),
        None => "no Global Accelerator interfaces".to_string(),
    };
    let groups = accelerator_groups(clients, vpc_id).await?;
    for group in &groups {
        let left = limit.saturating_sub(started.elapsed());
        delete_group(clients, group, vpc_id, events, step, left).await?;
    }
    Ok(match groups.as_slice() {
        [] => {
            format!("{interfaces_note}, no {GLOBAL_ACCELERATOR_GROUP} security group in {vpc_id}")
        }
        _ => format!(
            "{interfaces_note}, deleted security group {} ({GLOBAL_ACCELERATOR_GROUP}) of {vpc_id}",
            groups.join(", ")
        ),
    })
}

/// Waits (at most `limit`) until VPC `vpc_id` has no Global Accelerator interface left, noting
/// the ones still there whenever they change: how many were last seen, `None` if there were none.
async fn wait_released(
    clients: &RegionClients,
    vpc_id: &str,
    events: &Events,
    step: &str,
    limit: Duration,
) -> Result<Option<usize>> {
    let region = &clients.region;
    let last_seen: Mutex<Option<Vec<String>>> = Mutex::new(None);
    let released = || async {
        let lingering = accelerator_interfaces(clients, vpc_id).await?;
        if lingering.is_empty() {
            return Ok(Some(()));
        }
        let mut seen = last_seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.as_ref() != Some(&lingering) {
            events.note(
                step,
                format!(
                    "waiting for Global Accelerator to release {} network interface(s) in {vpc_id} ({}); it does so some time after the accelerator is gone",
                    lingering.len(),
                    lingering.join(", ")
                ),
            );
            *seen = Some(lingering);
        }
        Ok(None)
    };
    let backoff = Backoff::doubling(FIRST_DELAY, MAX_DELAY, limit);
    poll(backoff, released, |waited| {
        let seen = last_seen.lock().unwrap_or_else(PoisonError::into_inner);
        Error::Timeout {
            what: format!(
                "Global Accelerator to release its network interfaces {} in {vpc_id} ({region})",
                seen.as_deref().unwrap_or_default().join(", ")
            ),
            waited,
            fix: format!(
                "Global Accelerator removes them some time after the accelerator is deleted: run `mysfits teardown` again later \
                 (`aws ec2 describe-network-interfaces --filters Name=vpc-id,Values={vpc_id} Name=interface-type,Values=global_accelerator_managed --region {region}`)"
            ),
        }
    })
    .await?;
    let seen = last_seen
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Ok(seen.map(|seen| seen.len()))
}

/// The ids of the Global Accelerator interfaces in VPC `vpc_id`.
async fn accelerator_interfaces(clients: &RegionClients, vpc_id: &str) -> Result<Vec<String>> {
    let found = interfaces(
        clients,
        vec![
            filter("vpc-id", vpc_id),
            filter(
                "interface-type",
                NetworkInterfaceType::GlobalAcceleratorManaged.as_str(),
            ),
        ],
    )
    .await?;
    Ok(found
        .iter()
        .map(|interface| interface_id(interface).to_string())
        .collect())
}

/// The ids of the `GlobalAccelerator` security groups of the VPC (one at most, in practice).
async fn accelerator_groups(clients: &RegionClients, vpc_id: &str) -> Result<Vec<String>> {
    let groups: Vec<aws_sdk_ec2::types::SecurityGroup> = clients
        .ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("group-name", GLOBAL_ACCELERATOR_GROUP))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|error| aws_error("DescribeSecurityGroups", &clients.region, &error))?;
    Ok(groups
        .iter()
        .filter_map(|group| group.group_id().map(str::to_string))
        .collect())
}

/// Deletes one security group, retrying DependencyViolation (an interface that still uses it is
/// being released) for at most `limit`.
async fn delete_group(
    clients: &RegionClients,
    group_id: &str,
    vpc_id: &str,
    events: &Events,
    step: &str,
    limit: Duration,
) -> Result<()> {
    let region = &clients.region;
    let noted = AtomicBool::new(false);
    let send = || async {
        let answer = clients
            .ec2
            .delete_security_group()
            .group_id(group_id)
            .send()
            .await;
        if let Err(error) = &answer
            && error_code(error) == Some("DependencyViolation")
            && !noted.swap(true, Ordering::Relaxed)
        {
            events.note(
                step,
                format!(
                    "security group {group_id} ({GLOBAL_ACCELERATOR_GROUP}) of {vpc_id} is still in use; retrying until its interfaces are gone"
                ),
            );
        }
        answer
    };
    let backoff = Backoff::doubling(FIRST_DELAY, MAX_DELAY, limit);
    let in_use = |error: &_| error_code(error) == Some("DependencyViolation");
    match retry(backoff, send, in_use).await {
        Ok(_) => Ok(()),
        Err(error) if error_code(&error) == Some("InvalidGroup.NotFound") => Ok(()),
        Err(error) => {
            let mut failure = aws_error("DeleteSecurityGroup", region, &error);
            if let Error::Aws { fix, .. } = &mut failure {
                *fix = format!(
                    "see what still uses it (`aws ec2 describe-network-interfaces --filters Name=group-id,Values={group_id} --region {region}`), then run `mysfits teardown` again"
                );
            }
            Err(failure)
        }
    }
}

/// Deletes the detached (`available`) network interfaces matching `filters` (leftovers of
/// services that create interfaces in the app's subnets) and names the ones still in use. Global
/// Accelerator's own interfaces are left to it. What it did and what still blocks are notes.
pub async fn remove_detached_interfaces(
    clients: &RegionClients,
    scope: &str,
    filters: Vec<Filter>,
    events: &Events,
    step: &str,
) -> Result<()> {
    for interface in interfaces(clients, filters).await? {
        let id = interface_id(&interface);
        let kind = interface
            .interface_type()
            .map(|kind| kind.as_str())
            .unwrap_or("interface");
        let description = interface.description().unwrap_or_default();
        if interface.interface_type() == Some(&NetworkInterfaceType::GlobalAcceleratorManaged) {
            continue;
        }
        if interface.status() != Some(&NetworkInterfaceStatus::Available) {
            events.note(
                step,
                format!(
                    "network interface {id} ({kind}, {description:?}) is still in use in {scope}; it blocks the deletion until the service that owns it releases it"
                ),
            );
            continue;
        }
        match clients
            .ec2
            .delete_network_interface()
            .network_interface_id(id)
            .send()
            .await
        {
            Ok(_) => events.note(
                step,
                format!("deleted detached network interface {id} ({kind}, {description:?}) left in {scope}"),
            ),
            Err(error) if error_code(&error) == Some("InvalidNetworkInterfaceID.NotFound") => {}
            Err(error) => events.note(
                step,
                format!(
                    "could not delete network interface {id} in {scope}: {}",
                    aws_error("DeleteNetworkInterface", &clients.region, &error)
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or_default()
                ),
            ),
        }
    }
    Ok(())
}

/// The VPC of stack `stack_name`; None when there is no such stack (or it has no VPC).
pub async fn stack_vpc(clients: &RegionClients, stack_name: &str) -> Result<Option<String>> {
    let described = match clients
        .cloudformation
        .describe_stack_resources()
        .stack_name(stack_name)
        .send()
        .await
    {
        Ok(described) => described,
        Err(error) if error_code(&error) == Some("ValidationError") => return Ok(None),
        Err(error) => {
            return Err(aws_error("DescribeStackResources", &clients.region, &error));
        }
    };
    Ok(described
        .stack_resources()
        .iter()
        .find(|resource| resource.resource_type() == Some("AWS::EC2::VPC"))
        .and_then(|resource| resource.physical_resource_id())
        .map(str::to_string))
}
