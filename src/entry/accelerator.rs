//! Global Accelerator mode: accelerator `{app}` (tagged `mysfits:app`), listener TCP 80 and 443,
//! one endpoint group per region with the region's ALB. Which region serves is the traffic dials.

use std::time::{Duration, Instant};

use aws_sdk_globalaccelerator::Client;
use aws_sdk_globalaccelerator::types::{
    Accelerator, AcceleratorStatus, ClientAffinity, EndpointConfiguration, EndpointGroup,
    IpAddressType, Listener, PortRange, Protocol, Tag,
};

use super::{
    CallError, DIAL_SERVING, DIAL_STANDBY, EntryDescription, EntryPoint, RegionTraffic,
    RegionalLoadBalancer, ShiftOutcome, wait_until,
};
use crate::aws::error_code;
use aws_sdk_globalaccelerator::operation::list_tags_for_resource::ListTagsForResourceError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::config::{APP_TAG, Role};
use crate::error::Error;
use crate::progress::{Events, elapsed_ms};

const PORT: i32 = 80;
/// HTTPS: answered by the load balancers of regions with a certificate (refused elsewhere).
const HTTPS_PORT: i32 = 443;
const ACCELERATOR_NOT_FOUND: &str = "AcceleratorNotFoundException";
/// Global Accelerator's default endpoint weight.
const WEIGHT: i32 = 128;

type Outcome<T> = std::result::Result<T, CallError>;

/// The app's accelerator, listener and endpoint groups as they are now.
struct Existing {
    accelerator: Accelerator,
    listener: Option<Listener>,
    groups: Vec<EndpointGroup>,
}

impl Existing {
    fn arn(&self) -> &str {
        self.accelerator.accelerator_arn().unwrap_or_default()
    }

    fn group(&self, region: &str) -> Option<&EndpointGroup> {
        self.groups
            .iter()
            .find(|group| group.endpoint_group_region() == Some(region))
    }
}

pub(super) async fn ensure(
    entry: &EntryPoint,
    client: &Client,
    load_balancers: &[RegionalLoadBalancer],
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<(EntryDescription, Vec<String>)> {
    let mut actions = Vec::new();
    let accelerator = match find_accelerator(entry, client).await? {
        Some(accelerator) => accelerator,
        None => {
            let created = client
                .create_accelerator()
                .name(&entry.app)
                .ip_address_type(IpAddressType::Ipv4)
                .enabled(true)
                // The same token for the same app: a retried or re-run deploy cannot create a
                // second accelerator.
                .idempotency_token(format!("mysfits-{}-accelerator", entry.app))
                .tags(tag(APP_TAG, &entry.app)?)
                .tags(tag("Name", &entry.app)?)
                .send()
                .await
                .map_err(|error| entry.call_error("CreateAccelerator", &error))?;
            actions.push("created accelerator".to_string());
            events.note(step, format!("created accelerator {}", entry.app));
            created.accelerator().cloned().ok_or_else(|| {
                CallError::failed(Error::config(
                    "CreateAccelerator returned no accelerator",
                    "run deploy again",
                ))
            })?
        }
    };
    let accelerator_arn = accelerator
        .accelerator_arn()
        .unwrap_or_default()
        .to_string();
    if accelerator.enabled() == Some(false) {
        client
            .update_accelerator()
            .accelerator_arn(&accelerator_arn)
            .enabled(true)
            .send()
            .await
            .map_err(|error| entry.call_error("UpdateAccelerator", &error))?;
        actions.push("enabled accelerator".to_string());
    }

    let listener = match find_listener(entry, client, &accelerator_arn).await? {
        Some(listener) => listener,
        None => {
            let created = client
                .create_listener()
                .accelerator_arn(&accelerator_arn)
                .protocol(Protocol::Tcp)
                .set_port_ranges(Some(port_ranges()))
                .client_affinity(ClientAffinity::None)
                .idempotency_token(format!("mysfits-{}-listener-{PORT}", entry.app))
                .send()
                .await
                .map_err(|error| entry.call_error("CreateListener", &error))?;
            actions.push(format!("created listener TCP {PORT} and {HTTPS_PORT}"));
            created.listener().cloned().ok_or_else(|| {
                CallError::failed(Error::config(
                    "CreateListener returned no listener",
                    "run deploy again",
                ))
            })?
        }
    };
    let listener_arn = listener.listener_arn().unwrap_or_default().to_string();
    // A listener of an earlier version forwards port 80 only.
    if !has_port(&listener, HTTPS_PORT) {
        client
            .update_listener()
            .listener_arn(&listener_arn)
            .protocol(Protocol::Tcp)
            .set_port_ranges(Some(port_ranges()))
            .client_affinity(
                listener
                    .client_affinity()
                    .cloned()
                    .unwrap_or(ClientAffinity::None),
            )
            .send()
            .await
            .map_err(|error| entry.call_error("UpdateListener", &error))?;
        actions.push(format!("listener now forwards TCP {PORT} and {HTTPS_PORT}"));
    }
    let groups = list_groups(entry, client, &listener_arn).await?;

    for balancer in load_balancers {
        let endpoint = EndpointConfiguration::builder()
            .endpoint_id(&balancer.arn)
            .weight(WEIGHT)
            .client_ip_preservation_enabled(true)
            .build();
        match groups
            .iter()
            .find(|group| group.endpoint_group_region() == Some(balancer.region.as_str()))
        {
            None => {
                // A new entry point serves from the primary; the secondary stands by.
                let dial = match balancer.role {
                    Role::Primary => DIAL_SERVING,
                    Role::Secondary => DIAL_STANDBY,
                };
                client
                    .create_endpoint_group()
                    .listener_arn(&listener_arn)
                    .endpoint_group_region(&balancer.region)
                    .traffic_dial_percentage(dial)
                    .endpoint_configurations(endpoint)
                    .idempotency_token(format!("mysfits-{}-group-{}", entry.app, balancer.region))
                    .send()
                    .await
                    .map_err(|error| entry.call_error("CreateEndpointGroup", &error))?;
                actions.push(format!(
                    "created endpoint group {} (dial {dial:.0}%)",
                    balancer.region
                ));
            }
            Some(group) => {
                let endpoints: Vec<&str> = group
                    .endpoint_descriptions()
                    .iter()
                    .filter_map(|endpoint| endpoint.endpoint_id())
                    .collect();
                if endpoints != [balancer.arn.as_str()] {
                    // Only the endpoint changes: the dial stays where a failover may have put it.
                    client
                        .update_endpoint_group()
                        .endpoint_group_arn(group.endpoint_group_arn().unwrap_or_default())
                        .endpoint_configurations(endpoint)
                        .send()
                        .await
                        .map_err(|error| entry.call_error("UpdateEndpointGroup", &error))?;
                    actions.push(format!(
                        "pointed endpoint group {} at {}",
                        balancer.region, balancer.arn
                    ));
                }
            }
        }
    }
    for group in &groups {
        let region = group.endpoint_group_region().unwrap_or_default();
        if !load_balancers
            .iter()
            .any(|balancer| balancer.region == region)
        {
            events.note(
                step,
                format!(
                    "endpoint group {region} belongs to no configured region; `mysfits teardown` removes it"
                ),
            );
        }
    }
    if actions.is_empty() {
        // Nothing written: what was read above is the entry point as it is.
        let existing = Existing {
            accelerator,
            listener: Some(listener),
            groups,
        };
        return Ok((description(&existing), actions));
    }
    let waited = wait_deployed(entry, client, &accelerator_arn, wait_limit).await?;
    events.note(
        step,
        format!("accelerator DEPLOYED after {:.1}s", waited.as_secs_f64()),
    );
    let existing = load(entry, client).await?.ok_or_else(|| {
        CallError::failed(Error::config("the accelerator vanished", "deploy again"))
    })?;
    Ok((description(&existing), actions))
}

pub(super) async fn describe(
    entry: &EntryPoint,
    client: &Client,
) -> Outcome<Option<EntryDescription>> {
    Ok(load(entry, client)
        .await?
        .map(|existing| description(&existing)))
}

pub(super) async fn shift(
    entry: &EntryPoint,
    client: &Client,
    from: &str,
    to: &str,
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<ShiftOutcome> {
    let existing = load(entry, client).await?.ok_or_else(|| {
        CallError::failed(Error::config(
            format!("there is no accelerator named {}", entry.app),
            "run `mysfits deploy` to create the entry point",
        ))
    })?;
    let Some(target) = existing.group(to) else {
        return Err(CallError::failed(Error::config(
            format!("accelerator {} has no endpoint group in {to}", entry.app),
            "run `mysfits deploy` so both regions get an endpoint group",
        )));
    };
    let target_dial = target.traffic_dial_percentage().unwrap_or(DIAL_SERVING);
    let source = existing.group(from);
    let source_dial = source.and_then(EndpointGroup::traffic_dial_percentage);
    if target_dial >= DIAL_SERVING && source_dial.is_none_or(|dial| dial <= DIAL_STANDBY) {
        return Ok(ShiftOutcome::AlreadyServing);
    }
    let started = Instant::now();
    let mut actions = Vec::new();
    // Target up first, source down after: the app never has less than one region's capacity.
    if target_dial < DIAL_SERVING {
        set_dial(entry, client, target, DIAL_SERVING).await?;
        wait_deployed(entry, client, existing.arn(), wait_limit).await?;
        actions.push(format!("{to} dial {target_dial:.0}% -> {DIAL_SERVING:.0}%"));
        events.note(step, format!("{to} dial at {DIAL_SERVING:.0}%, DEPLOYED"));
    }
    if let (Some(source), Some(dial)) = (source, source_dial)
        && dial > DIAL_STANDBY
    {
        set_dial(entry, client, source, DIAL_STANDBY).await?;
        wait_deployed(entry, client, existing.arn(), wait_limit).await?;
        actions.push(format!("{from} dial {dial:.0}% -> {DIAL_STANDBY:.0}%"));
        events.note(step, format!("{from} dial at {DIAL_STANDBY:.0}%, DEPLOYED"));
    }
    Ok(ShiftOutcome::Shifted {
        actions,
        control_plane_ms: elapsed_ms(started.elapsed()),
    })
}

/// Disables the accelerator, waits until that is deployed, deletes the endpoint groups of every
/// listener, the listeners, then the accelerator: the only order Global Accelerator accepts.
/// Whatever is already gone (a rerun after an interruption) is skipped.
pub(super) async fn remove_by_arn(
    entry: &EntryPoint,
    client: &Client,
    arn: &str,
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<Vec<String>> {
    let described = match client
        .describe_accelerator()
        .accelerator_arn(arn)
        .send()
        .await
    {
        Ok(described) => described,
        Err(error) if error_code(&error) == Some(ACCELERATOR_NOT_FOUND) => return Ok(Vec::new()),
        Err(error) => return Err(entry.call_error("DescribeAccelerator", &error)),
    };
    let name = described
        .accelerator()
        .and_then(Accelerator::name)
        .unwrap_or(arn)
        .to_string();
    let mut removed = Vec::new();
    // AWS deletes only a disabled accelerator whose last change is deployed.
    if described.accelerator().and_then(Accelerator::enabled) != Some(false) {
        client
            .update_accelerator()
            .accelerator_arn(arn)
            .enabled(false)
            .send()
            .await
            .map_err(|error| entry.call_error("UpdateAccelerator", &error))?;
        events.note(
            step,
            format!(
                "disabled accelerator {name}; AWS deploys that worldwide before it can be deleted"
            ),
        );
    }
    wait_deployed(entry, client, arn, wait_limit).await?;
    for listener in all_listeners(entry, client, arn).await? {
        let listener_arn = listener.listener_arn().unwrap_or_default();
        for group in list_groups(entry, client, listener_arn).await? {
            match client
                .delete_endpoint_group()
                .endpoint_group_arn(group.endpoint_group_arn().unwrap_or_default())
                .send()
                .await
            {
                Err(error) if error_code(&error) != Some("EndpointGroupNotFoundException") => {
                    return Err(entry.call_error("DeleteEndpointGroup", &error));
                }
                _ => removed.push(format!(
                    "endpoint group {}",
                    group.endpoint_group_region().unwrap_or_default()
                )),
            }
        }
        match client
            .delete_listener()
            .listener_arn(listener_arn)
            .send()
            .await
        {
            Err(error) if error_code(&error) != Some("ListenerNotFoundException") => {
                return Err(entry.call_error("DeleteListener", &error));
            }
            _ => removed.push("listener".to_string()),
        }
    }
    match client
        .delete_accelerator()
        .accelerator_arn(arn)
        .send()
        .await
    {
        Err(error) if error_code(&error) != Some(ACCELERATOR_NOT_FOUND) => {
            return Err(entry.call_error("DeleteAccelerator", &error));
        }
        _ => removed.push(format!("accelerator {name}")),
    }
    events.note(step, format!("deleted accelerator {name}"));
    Ok(removed)
}

/// The accelerator named `{app}` carrying the tag `mysfits:app={app}`. One of that name without
/// the tag is somebody else's: an error rather than a silent takeover.
async fn find_accelerator(entry: &EntryPoint, client: &Client) -> Outcome<Option<Accelerator>> {
    let accelerators: Vec<Accelerator> = client
        .list_accelerators()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|error| entry.call_error("ListAccelerators", &error))?;
    for accelerator in accelerators {
        if accelerator.name() != Some(entry.app.as_str()) {
            continue;
        }
        let arn = accelerator.accelerator_arn().unwrap_or_default();
        let ours = tagged_for(client, arn, &entry.app)
            .await
            .map_err(|error| entry.call_error("ListTagsForResource", &error))?;
        if !ours {
            return Err(CallError::failed(Error::config(
                format!(
                    "an accelerator named {} exists ({arn}) but mysfits did not create it (no mysfits:app tag)",
                    entry.app
                ),
                "use another --app name, or delete or tag that accelerator yourself",
            )));
        }
        return Ok(Some(accelerator));
    }
    Ok(None)
}

/// Whether the accelerator carries the tag `mysfits:app={app}`.
pub(crate) async fn tagged_for(
    client: &Client,
    arn: &str,
    app: &str,
) -> Result<bool, SdkError<ListTagsForResourceError, HttpResponse>> {
    let tags = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await?;
    Ok(tags
        .tags()
        .iter()
        .any(|tag| tag.key() == APP_TAG && tag.value() == app))
}

async fn all_listeners(
    entry: &EntryPoint,
    client: &Client,
    accelerator_arn: &str,
) -> Outcome<Vec<Listener>> {
    client
        .list_listeners()
        .accelerator_arn(accelerator_arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|error| entry.call_error("ListListeners", &error))
}

/// The app's listener: TCP on port 80.
async fn find_listener(
    entry: &EntryPoint,
    client: &Client,
    accelerator_arn: &str,
) -> Outcome<Option<Listener>> {
    Ok(all_listeners(entry, client, accelerator_arn)
        .await?
        .into_iter()
        .find(|listener| listener.protocol() == Some(&Protocol::Tcp) && has_port(listener, PORT)))
}

async fn list_groups(
    entry: &EntryPoint,
    client: &Client,
    listener_arn: &str,
) -> Outcome<Vec<EndpointGroup>> {
    client
        .list_endpoint_groups()
        .listener_arn(listener_arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|error| entry.call_error("ListEndpointGroups", &error))
}

async fn load(entry: &EntryPoint, client: &Client) -> Outcome<Option<Existing>> {
    let Some(accelerator) = find_accelerator(entry, client).await? else {
        return Ok(None);
    };
    let arn = accelerator
        .accelerator_arn()
        .unwrap_or_default()
        .to_string();
    let listener = find_listener(entry, client, &arn).await?;
    let groups = match &listener {
        Some(listener) => {
            list_groups(entry, client, listener.listener_arn().unwrap_or_default()).await?
        }
        None => Vec::new(),
    };
    Ok(Some(Existing {
        accelerator,
        listener,
        groups,
    }))
}

fn description(existing: &Existing) -> EntryDescription {
    let accelerator = &existing.accelerator;
    let mut regions: Vec<RegionTraffic> = existing
        .groups
        .iter()
        .map(|group| {
            let endpoint = group.endpoint_descriptions().first();
            RegionTraffic {
                region: group
                    .endpoint_group_region()
                    .unwrap_or_default()
                    .to_string(),
                target: endpoint
                    .and_then(|endpoint| endpoint.endpoint_id())
                    .unwrap_or_default()
                    .to_string(),
                traffic_dial: Some(group.traffic_dial_percentage().unwrap_or(DIAL_SERVING)),
                failover: None,
                health: endpoint
                    .and_then(|endpoint| endpoint.health_state())
                    .map(|state| state.as_str().to_string()),
                health_check_id: None,
            }
        })
        .collect();
    regions.sort_by(|left, right| left.region.cmp(&right.region));
    EntryDescription {
        mode: crate::config::EntryPointMode::GlobalAccelerator
            .label()
            .into(),
        name: accelerator.name().unwrap_or_default().to_string(),
        id: existing.arn().to_string(),
        address: accelerator.dns_name().map(str::to_string),
        static_ips: accelerator
            .ip_sets()
            .iter()
            .flat_map(|set| set.ip_addresses().iter().cloned())
            .collect(),
        status: if existing.listener.is_none() {
            "NO_LISTENER".to_string()
        } else {
            accelerator
                .status()
                .map(|status| status.as_str().to_string())
                .unwrap_or_else(|| "UNKNOWN".into())
        },
        enabled: accelerator.enabled().unwrap_or(false),
        regions,
    }
}

async fn set_dial(
    entry: &EntryPoint,
    client: &Client,
    group: &EndpointGroup,
    dial: f32,
) -> Outcome<()> {
    client
        .update_endpoint_group()
        .endpoint_group_arn(group.endpoint_group_arn().unwrap_or_default())
        .traffic_dial_percentage(dial)
        .send()
        .await
        .map_err(|error| entry.call_error("UpdateEndpointGroup", &error))?;
    Ok(())
}

/// Waits until the accelerator's last change is deployed to the edge.
async fn wait_deployed(
    entry: &EntryPoint,
    client: &Client,
    arn: &str,
    limit: Duration,
) -> Outcome<Duration> {
    wait_until(
        &format!("accelerator {} to be DEPLOYED", entry.app),
        limit,
        "Global Accelerator is still deploying the change; run the command again later, it picks up where it stopped",
        || async {
            let described = client
                .describe_accelerator()
                .accelerator_arn(arn)
                .send()
                .await
                .map_err(|error| entry.call_error("DescribeAccelerator", &error))?;
            Ok(described
                .accelerator()
                .and_then(Accelerator::status)
                .is_some_and(|status| *status == AcceleratorStatus::Deployed))
        },
    )
    .await
}

/// The listener's ports: HTTP, and HTTPS for regions whose load balancer has a certificate.
fn port_ranges() -> Vec<PortRange> {
    [PORT, HTTPS_PORT]
        .into_iter()
        .map(|port| PortRange::builder().from_port(port).to_port(port).build())
        .collect()
}

fn has_port(listener: &Listener, port: i32) -> bool {
    listener.port_ranges().iter().any(|range| {
        range.from_port().is_some_and(|from| from <= port)
            && range.to_port().is_some_and(|to| port <= to)
    })
}

fn tag(key: &str, value: &str) -> Outcome<Tag> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|error| {
            CallError::failed(Error::config(
                format!("tag {key}: {error}"),
                "report this bug",
            ))
        })
}
