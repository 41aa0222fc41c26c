//! Global Accelerator mode: accelerator `{app}` (tagged `mysfits:app`), listener TCP 80 and 443,
//! one endpoint group per region with the region's ALB. Which region serves is the traffic dials.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_globalaccelerator::Client;
use aws_sdk_globalaccelerator::types::{
    Accelerator, AcceleratorStatus, ClientAffinity, EndpointConfiguration, EndpointDescription,
    EndpointGroup, HealthCheckProtocol, IpAddressType, Listener, PortRange, Protocol, Tag,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use sha2::{Digest, Sha256};

use super::{
    CallError, DIAL_SERVING, DIAL_STANDBY, EntryDescription, EntryPoint, RegionTraffic,
    RegionalLoadBalancer, ShiftOutcome, TrafficSplit,
};
use crate::aws::error_code;
use aws_sdk_globalaccelerator::operation::list_tags_for_resource::ListTagsForResourceError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::config::APP_TAG;
use crate::error::Error;
use crate::progress::{Events, elapsed_ms};
use crate::wait::{self, Backoff};

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

/// The accelerator and its listener as [`prepare`] left them, with what it wrote.
#[derive(Debug, Clone)]
pub struct Prepared {
    accelerator: Accelerator,
    listener: Listener,
    actions: Vec<String>,
}

impl Prepared {
    pub fn accelerator_arn(&self) -> &str {
        self.accelerator.accelerator_arn().unwrap_or_default()
    }

    pub fn actions(&self) -> &[String] {
        &self.actions
    }
}

/// Creates or completes the accelerator, its listener and one endpoint group per load balancer
/// ([`prepare`] then [`complete`]), the home load balancer making the creation unique.
pub(super) async fn ensure(
    entry: &EntryPoint,
    client: &Client,
    load_balancers: &[RegionalLoadBalancer],
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<(EntryDescription, Vec<String>)> {
    let home = load_balancers
        .iter()
        .find(|balancer| balancer.home)
        .map(|balancer| balancer.arn.as_str())
        .unwrap_or_default();
    let prepared = prepare(entry, client, home, events, step).await?;
    complete(
        entry,
        client,
        prepared,
        load_balancers,
        events,
        step,
        wait_limit,
    )
    .await
}

/// The accelerator (created if missing, enabled if disabled) and its listener, which need no
/// load balancer: deploy makes them while the app stacks are still building, so that the
/// accelerator's first deployment to the edge runs beside them. Nothing is waited for here:
/// Global Accelerator takes a listener or endpoint group on an accelerator still IN_PROGRESS.
/// `creation` makes the creation's idempotency token unique (something new with every app).
pub(super) async fn prepare(
    entry: &EntryPoint,
    client: &Client,
    creation: &str,
    events: &Events,
    step: &str,
) -> Outcome<Prepared> {
    let mut actions = Vec::new();
    let accelerator = ensure_accelerator(entry, client, creation, &mut actions).await?;
    if !actions.is_empty() {
        events.note(step, format!("{} {}", actions.join(", "), entry.app));
    }
    let accelerator_arn = accelerator
        .accelerator_arn()
        .unwrap_or_default()
        .to_string();
    let listener = ensure_listener(entry, client, &accelerator_arn, &mut actions).await?;
    Ok(Prepared {
        accelerator,
        listener,
        actions,
    })
}

/// One endpoint group per load balancer on the [`prepare`]d listener, then one wait until the
/// accelerator is DEPLOYED if anything was written (here or by `prepare`): its status covers the
/// listener and endpoint groups too (IN_PROGRESS until every change is deployed).
pub(super) async fn complete(
    entry: &EntryPoint,
    client: &Client,
    prepared: Prepared,
    load_balancers: &[RegionalLoadBalancer],
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<(EntryDescription, Vec<String>)> {
    let Prepared {
        accelerator,
        listener,
        mut actions,
    } = prepared;
    let accelerator_arn = accelerator
        .accelerator_arn()
        .unwrap_or_default()
        .to_string();
    let listener_arn = listener.listener_arn().unwrap_or_default().to_string();
    let groups = list_groups(entry, client, &listener_arn).await?;
    // Groups created now start with the configured split; existing ones keep their dials.
    let initial = TrafficSplit::configured(&entry.traffic, load_balancers);
    for balancer in load_balancers {
        let existing = groups
            .iter()
            .find(|group| group.endpoint_group_region() == Some(balancer.region.as_str()));
        let group = GroupTarget {
            listener_arn: &listener_arn,
            balancer,
            initial_dial: initial.dial(&balancer.region),
        };
        actions.extend(ensure_group(entry, client, &group, existing).await?);
    }
    note_foreign_groups(&groups, load_balancers, events, step);
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
    // By its ARN: ListAccelerators may not list an accelerator created a moment ago.
    let existing = load_by_arn(entry, client, &accelerator_arn)
        .await?
        .ok_or_else(|| {
            CallError::failed(Error::config(
                format!("accelerator {accelerator_arn} vanished while it was being deployed"),
                "run `mysfits deploy` again",
            ))
        })?;
    Ok((description(&existing), actions))
}

/// The app's accelerator, created if missing and enabled if disabled.
async fn ensure_accelerator(
    entry: &EntryPoint,
    client: &Client,
    creation: &str,
    actions: &mut Vec<String>,
) -> Outcome<Accelerator> {
    let accelerator = match find_accelerator(entry, client).await? {
        Some(accelerator) => accelerator,
        None => {
            let created = client
                .create_accelerator()
                .name(&entry.app)
                .ip_address_type(IpAddressType::Ipv4)
                .enabled(true)
                // Unique to this creation (`creation` is new with every app: its home load
                // balancer, or its home registry stack), the same for every retry of it.
                .idempotency_token(idempotency_token("accelerator", &[&entry.app, creation]))
                .tags(tag(APP_TAG, &entry.app)?)
                .tags(tag("Name", &entry.app)?)
                .send()
                .await
                .map_err(|error| entry.call_error("CreateAccelerator", &error))?;
            actions.push("created accelerator".to_string());
            return created.accelerator().cloned().ok_or_else(|| {
                CallError::failed(Error::config(
                    "CreateAccelerator returned no accelerator",
                    "run deploy again",
                ))
            });
        }
    };
    if accelerator.enabled() == Some(false) {
        client
            .update_accelerator()
            .accelerator_arn(accelerator.accelerator_arn().unwrap_or_default())
            .enabled(true)
            .send()
            .await
            .map_err(|error| entry.call_error("UpdateAccelerator", &error))?;
        actions.push("enabled accelerator".to_string());
    }
    Ok(accelerator)
}

/// The app's listener (TCP 80 and 443), created if missing; one of an earlier version that
/// forwards port 80 only gets 443 added.
async fn ensure_listener(
    entry: &EntryPoint,
    client: &Client,
    accelerator_arn: &str,
    actions: &mut Vec<String>,
) -> Outcome<Listener> {
    let Some(listener) = find_listener(entry, client, accelerator_arn).await? else {
        let created = client
            .create_listener()
            .accelerator_arn(accelerator_arn)
            .protocol(Protocol::Tcp)
            .set_port_ranges(Some(port_ranges()))
            .client_affinity(ClientAffinity::None)
            .idempotency_token(idempotency_token(
                "listener",
                &[accelerator_arn, &format!("TCP {PORT} {HTTPS_PORT}")],
            ))
            .send()
            .await
            .map_err(|error| entry.call_error("CreateListener", &error))?;
        actions.push(format!("created listener TCP {PORT} and {HTTPS_PORT}"));
        return created.listener().cloned().ok_or_else(|| {
            CallError::failed(Error::config(
                "CreateListener returned no listener",
                "run deploy again",
            ))
        });
    };
    if !has_port(&listener, HTTPS_PORT) {
        client
            .update_listener()
            .listener_arn(listener.listener_arn().unwrap_or_default())
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
    Ok(listener)
}

/// One region's endpoint group as deploy wants it.
struct GroupTarget<'a> {
    listener_arn: &'a str,
    balancer: &'a RegionalLoadBalancer,
    /// The dial of a group created now (from [`TrafficSplit::configured`]).
    initial_dial: f32,
}

/// Creates the region's endpoint group, or points an existing one at the region's load balancer
/// (keeping its dial where a failover may have put it). Returns what was done.
async fn ensure_group(
    entry: &EntryPoint,
    client: &Client,
    wanted: &GroupTarget<'_>,
    existing: Option<&EndpointGroup>,
) -> Outcome<Option<String>> {
    let balancer = wanted.balancer;
    let endpoint = EndpointConfiguration::builder()
        .endpoint_id(&balancer.arn)
        .weight(WEIGHT)
        .client_ip_preservation_enabled(true)
        .build();
    let Some(group) = existing else {
        let dial = wanted.initial_dial;
        client
            .create_endpoint_group()
            .listener_arn(wanted.listener_arn)
            .endpoint_group_region(&balancer.region)
            .traffic_dial_percentage(dial)
            .endpoint_configurations(endpoint)
            .idempotency_token(idempotency_token(
                "group",
                &[wanted.listener_arn, &balancer.region, &balancer.arn],
            ))
            .send()
            .await
            .map_err(|error| entry.call_error("CreateEndpointGroup", &error))?;
        return Ok(Some(format!(
            "created endpoint group {} (dial {dial:.0}%)",
            balancer.region
        )));
    };
    let endpoints: Vec<&str> = group
        .endpoint_descriptions()
        .iter()
        .filter_map(|endpoint| endpoint.endpoint_id())
        .collect();
    if endpoints == [balancer.arn.as_str()] {
        return Ok(None);
    }
    let dial = group.traffic_dial_percentage().unwrap_or(DIAL_SERVING);
    update_group(entry, client, group, dial, vec![endpoint]).await?;
    Ok(Some(format!(
        "pointed endpoint group {} at {}",
        balancer.region, balancer.arn
    )))
}

/// Endpoint groups of regions the app no longer has are left alone (teardown removes them).
fn note_foreign_groups(
    groups: &[EndpointGroup],
    load_balancers: &[RegionalLoadBalancer],
    events: &Events,
    step: &str,
) {
    for group in groups {
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
}

pub(super) async fn describe(
    entry: &EntryPoint,
    client: &Client,
) -> Outcome<Option<EntryDescription>> {
    Ok(load(entry, client)
        .await?
        .map(|existing| description(&existing)))
}

/// Makes `to` the only serving group: its dial up to 100 % first, then every other group with a
/// dial above 0 down to 0 %, each write waited for until DEPLOYED. Groups at 0 % are not written.
pub(super) async fn shift(
    entry: &EntryPoint,
    client: &Client,
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
            "run `mysfits deploy` so every region gets an endpoint group",
        )));
    };
    let target_dial = dial_of(target);
    let sources: Vec<&EndpointGroup> = existing
        .groups
        .iter()
        .filter(|group| group.endpoint_group_region() != Some(to) && dial_of(group) > DIAL_STANDBY)
        .collect();
    if target_dial >= DIAL_SERVING && sources.is_empty() {
        return Ok(ShiftOutcome::AlreadyServing);
    }
    let started = tokio::time::Instant::now();
    let mut actions = Vec::new();
    // Target up first, sources down after: the app never has less than one region's capacity.
    let mut moves = Vec::new();
    if target_dial < DIAL_SERVING {
        moves.push((target, DIAL_SERVING));
    }
    moves.extend(sources.into_iter().map(|source| (source, DIAL_STANDBY)));
    for (group, dial) in moves {
        let region = group.endpoint_group_region().unwrap_or_default();
        set_dial(entry, client, group, dial).await?;
        wait_deployed(entry, client, existing.arn(), wait_limit).await?;
        actions.push(format!(
            "{region} dial {:.0}% -> {dial:.0}%",
            dial_of(group)
        ));
        events.note(step, format!("{region} dial at {dial:.0}%, DEPLOYED"));
    }
    Ok(ShiftOutcome::Shifted {
        actions,
        control_plane_ms: elapsed_ms(started.elapsed()),
    })
}

/// Sets every group's dial to its weight in `split` (groups of regions it does not name keep
/// theirs): the rising dials first, one UpdateEndpointGroup per group, then one wait until the
/// accelerator is DEPLOYED (its status covers every group's change); then the falling dials and
/// a second wait. Groups whose dial does not change are not written.
pub(super) async fn set_split(
    entry: &EntryPoint,
    client: &Client,
    split: &TrafficSplit,
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
    for (region, _) in split.weights() {
        if existing.group(region.as_str()).is_none() {
            return Err(CallError::failed(Error::config(
                format!(
                    "accelerator {} has no endpoint group in {region}",
                    entry.app
                ),
                "run `mysfits deploy` so every region gets an endpoint group",
            )));
        }
    }
    let mut rising = Vec::new();
    let mut falling = Vec::new();
    for (region, weight) in split.weights() {
        let Some(group) = existing.group(region.as_str()) else {
            continue;
        };
        let wanted = f32::from(weight);
        let current = dial_of(group);
        if wanted > current {
            rising.push((group, current, wanted));
        } else if wanted < current {
            falling.push((group, current, wanted));
        }
    }
    if rising.is_empty() && falling.is_empty() {
        return Ok(ShiftOutcome::AlreadyServing);
    }
    let started = tokio::time::Instant::now();
    let mut actions = Vec::new();
    // Up first, down after: the regions that take more are serving before the others take less.
    for moves in [rising, falling] {
        if moves.is_empty() {
            continue;
        }
        for (group, _, dial) in &moves {
            set_dial(entry, client, group, *dial).await?;
        }
        let waited = wait_deployed(entry, client, existing.arn(), wait_limit).await?;
        for (group, from, to) in &moves {
            let region = group.endpoint_group_region().unwrap_or_default();
            actions.push(format!("{region} dial {from:.0}% -> {to:.0}%"));
            events.note(
                step,
                format!(
                    "{region} dial at {to:.0}%, DEPLOYED after {:.1}s",
                    waited.as_secs_f64()
                ),
            );
        }
    }
    Ok(ShiftOutcome::Shifted {
        actions,
        control_plane_ms: elapsed_ms(started.elapsed()),
    })
}

/// A group's dial; an omitted one is 100 (Global Accelerator's default).
fn dial_of(group: &EndpointGroup) -> f32 {
    group.traffic_dial_percentage().unwrap_or(DIAL_SERVING)
}

/// Global Accelerator answers these while an earlier change is still being applied (a listener
/// whose endpoint groups are still going, an accelerator whose disabling is not deployed yet):
/// the same call succeeds a little later.
const STILL_APPLYING: [&str; 3] = [
    "AssociatedEndpointGroupFoundException",
    "AssociatedListenerFoundException",
    "AcceleratorNotDisabledException",
];

/// Disables the accelerator and waits until that is deployed, then deletes each endpoint group,
/// each listener and the accelerator, waiting until the accelerator is DEPLOYED again after each
/// delete (Global Accelerator applies deletes asynchronously) and retrying a delete refused
/// because the previous one is still being applied. Whatever is already gone (a rerun after an
/// interruption) is skipped.
///
/// A failure names what is left, by ARN, and that a rerun of teardown resumes from there.
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
    let mut left = Leftovers {
        accelerator: arn.to_string(),
        listeners: Vec::new(),
        groups: Vec::new(),
        removed: BTreeSet::new(),
    };
    let mut removed = Vec::new();
    let outcome = remove_parts(
        entry,
        client,
        &described,
        &name,
        &mut left,
        &mut removed,
        events,
        step,
        wait_limit,
    )
    .await;
    match outcome {
        Ok(()) => {
            events.note(step, format!("deleted accelerator {name}"));
            Ok(removed)
        }
        Err(CallError::Unavailable { endpoint, reason }) => {
            Err(CallError::Unavailable { endpoint, reason })
        }
        Err(CallError::Unreachable { error, .. } | CallError::Failed(error)) => {
            Err(CallError::failed(left.error(&name, &error)))
        }
    }
}

/// What a removal found, and which of it is already gone: what an error reports as left.
struct Leftovers {
    accelerator: String,
    listeners: Vec<String>,
    /// (ARN, region)
    groups: Vec<(String, String)>,
    removed: BTreeSet<String>,
}

impl Leftovers {
    fn error(&self, name: &str, cause: &Error) -> Error {
        // The cause's own advice is replaced by the one below.
        let cause = cause.to_string();
        let cause = cause.lines().next().unwrap_or_default();
        let mut still = Vec::new();
        for (group, region) in &self.groups {
            if !self.removed.contains(group) {
                still.push(format!("endpoint group {group} ({region})"));
            }
        }
        for listener in &self.listeners {
            if !self.removed.contains(listener) {
                still.push(format!("listener {listener}"));
            }
        }
        still.push(format!("accelerator {}", self.accelerator));
        Error::config(
            format!(
                "accelerator {name} was not fully removed: {cause}\n  still there: {}\n  \
                 teardown left the app stacks, ECS services and dashboard alone: while an endpoint \
                 group lists a region's load balancer, Global Accelerator keeps its network \
                 interfaces in that load balancer's subnets, and deleting the stack would fail on \
                 its subnets and VPC",
                still.join(", ")
            ),
            format!(
                "run `mysfits teardown` again: it resumes with what is left (or look at `aws \
                 globalaccelerator describe-accelerator --accelerator-arn {} --region {}`)",
                self.accelerator,
                crate::aws::GLOBAL_ACCELERATOR_REGION
            ),
        )
    }
}

#[allow(clippy::too_many_arguments)]
async fn remove_parts(
    entry: &EntryPoint,
    client: &Client,
    described: &aws_sdk_globalaccelerator::operation::describe_accelerator::DescribeAcceleratorOutput,
    name: &str,
    left: &mut Leftovers,
    removed: &mut Vec<String>,
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<()> {
    let arn = left.accelerator.clone();
    if !disable(entry, client, &arn, described, name, events, step).await? {
        return Ok(());
    }
    wait_deployed(entry, client, &arn, wait_limit).await?;
    let groups_of = inventory(entry, client, left).await?;
    for (listener_arn, groups) in groups_of {
        for group in groups {
            let group_arn = group.endpoint_group_arn().unwrap_or_default().to_string();
            let region = group.endpoint_group_region().unwrap_or_default();
            let deleted = retry_while_applying(wait_limit, || {
                client
                    .delete_endpoint_group()
                    .endpoint_group_arn(&group_arn)
                    .send()
            })
            .await;
            match deleted {
                Ok(_) => {}
                Err(error) if error_code(&error) == Some("EndpointGroupNotFoundException") => {}
                Err(error) => return Err(entry.call_error("DeleteEndpointGroup", &error)),
            }
            // Accepted: it goes, even if the wait below gives up.
            left.removed.insert(group_arn);
            wait_deployed(entry, client, &arn, wait_limit).await?;
            removed.push(format!("endpoint group {region}"));
            events.note(step, format!("deleted endpoint group {region}, DEPLOYED"));
        }
        let deleted = retry_while_applying(wait_limit, || {
            client.delete_listener().listener_arn(&listener_arn).send()
        })
        .await;
        match deleted {
            Ok(_) => {}
            Err(error) if error_code(&error) == Some("ListenerNotFoundException") => {}
            Err(error) => return Err(entry.call_error("DeleteListener", &error)),
        }
        left.removed.insert(listener_arn);
        wait_deployed(entry, client, &arn, wait_limit).await?;
        removed.push("listener".to_string());
    }
    let deleted = retry_while_applying(wait_limit, || {
        client.delete_accelerator().accelerator_arn(&arn).send()
    })
    .await;
    match deleted {
        Ok(_) => {}
        Err(error) if error_code(&error) == Some(ACCELERATOR_NOT_FOUND) => {}
        Err(error) => return Err(entry.call_error("DeleteAccelerator", &error)),
    }
    removed.push(format!("accelerator {name}"));
    Ok(())
}

/// Disables the accelerator (AWS deletes only a disabled accelerator whose last change is
/// deployed). False: it is gone already.
async fn disable(
    entry: &EntryPoint,
    client: &Client,
    arn: &str,
    described: &aws_sdk_globalaccelerator::operation::describe_accelerator::DescribeAcceleratorOutput,
    name: &str,
    events: &Events,
    step: &str,
) -> Outcome<bool> {
    if described.accelerator().and_then(Accelerator::enabled) == Some(false) {
        return Ok(true);
    }
    match client
        .update_accelerator()
        .accelerator_arn(arn)
        .enabled(false)
        .send()
        .await
    {
        Ok(_) => {}
        Err(error) if error_code(&error) == Some(ACCELERATOR_NOT_FOUND) => return Ok(false),
        Err(error) => return Err(entry.call_error("UpdateAccelerator", &error)),
    }
    events.note(
        step,
        format!("disabled accelerator {name}; AWS deploys that worldwide before it can be deleted"),
    );
    Ok(true)
}

/// Every listener of the accelerator with its endpoint groups, recorded in `left` (what an error
/// names as still there).
async fn inventory(
    entry: &EntryPoint,
    client: &Client,
    left: &mut Leftovers,
) -> Outcome<Vec<(String, Vec<EndpointGroup>)>> {
    let listeners = all_listeners(entry, client, &left.accelerator).await?;
    let mut groups_of = Vec::new();
    for listener in &listeners {
        let listener_arn = listener.listener_arn().unwrap_or_default().to_string();
        let groups = list_groups(entry, client, &listener_arn).await?;
        left.listeners.push(listener_arn.clone());
        left.groups.extend(groups.iter().map(|group| {
            (
                group.endpoint_group_arn().unwrap_or_default().to_string(),
                group
                    .endpoint_group_region()
                    .unwrap_or_default()
                    .to_string(),
            )
        }));
        groups_of.push((listener_arn, groups));
    }
    Ok(groups_of)
}

/// Sends `call` again, with growing delays (1 s to 30 s, at most `limit` in all), while Global
/// Accelerator refuses it because an earlier change is still being applied.
async fn retry_while_applying<T, E, F, Fut>(
    limit: Duration,
    call: F,
) -> std::result::Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
{
    let backoff = Backoff::doubling(Duration::from_secs(1), Duration::from_secs(30), limit);
    wait::retry(backoff, call, |error| {
        error_code(error).is_some_and(|code| STILL_APPLYING.contains(&code))
    })
    .await
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

/// The accelerator `arn` with its listener and groups, read by ARN (no ListAccelerators, which is
/// eventually consistent right after a create).
async fn load_by_arn(entry: &EntryPoint, client: &Client, arn: &str) -> Outcome<Option<Existing>> {
    let accelerator = match client
        .describe_accelerator()
        .accelerator_arn(arn)
        .send()
        .await
    {
        Ok(described) => described.accelerator().cloned(),
        Err(error) if error_code(&error) == Some(ACCELERATOR_NOT_FOUND) => None,
        Err(error) => return Err(entry.call_error("DescribeAccelerator", &error)),
    };
    let Some(accelerator) = accelerator else {
        return Ok(None);
    };
    let listener = find_listener(entry, client, arn).await?;
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

/// The health Global Accelerator itself sees for an endpoint (for an ALB: the load balancer's
/// target health), with its reason when it is not healthy (e.g. `UNHEALTHY: ...`).
fn endpoint_health(
    endpoint: &aws_sdk_globalaccelerator::types::EndpointDescription,
) -> Option<String> {
    let state = endpoint.health_state()?.as_str().to_string();
    match endpoint.health_reason() {
        Some(reason) if state != "HEALTHY" && !reason.is_empty() => {
            Some(format!("{state}: {reason}"))
        }
        _ => Some(state),
    }
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
                weight: None,
                health: endpoint.and_then(endpoint_health),
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

/// Sets a group's dial, keeping its endpoints.
async fn set_dial(
    entry: &EntryPoint,
    client: &Client,
    group: &EndpointGroup,
    dial: f32,
) -> Outcome<()> {
    let endpoints = group
        .endpoint_descriptions()
        .iter()
        .map(endpoint_configuration)
        .collect();
    update_group(entry, client, group, dial, endpoints).await
}

/// The configuration that keeps an endpoint as it is.
fn endpoint_configuration(endpoint: &EndpointDescription) -> EndpointConfiguration {
    EndpointConfiguration::builder()
        .set_endpoint_id(endpoint.endpoint_id().map(str::to_string))
        .set_weight(endpoint.weight())
        .set_client_ip_preservation_enabled(endpoint.client_ip_preservation_enabled())
        .build()
}

/// The one way an endpoint group is updated. UpdateEndpointGroup applies its defaults to what it
/// is not sent (an omitted TrafficDialPercentage is 100, omitted health-check settings go back to
/// TCP on the listener port every 30 s with threshold 3): every update therefore carries the dial,
/// the endpoints and the group's current health-check settings and port overrides.
async fn update_group(
    entry: &EntryPoint,
    client: &Client,
    group: &EndpointGroup,
    dial: f32,
    endpoints: Vec<EndpointConfiguration>,
) -> Outcome<()> {
    let protocol = group.health_check_protocol().cloned();
    // A path is only valid for HTTP(S) health checks.
    let path = matches!(
        protocol,
        Some(HealthCheckProtocol::Http | HealthCheckProtocol::Https)
    )
    .then(|| group.health_check_path().map(str::to_string))
    .flatten();
    let overrides = group.port_overrides();
    client
        .update_endpoint_group()
        .endpoint_group_arn(group.endpoint_group_arn().unwrap_or_default())
        .traffic_dial_percentage(dial)
        .set_endpoint_configurations(Some(endpoints))
        .set_health_check_protocol(protocol)
        .set_health_check_port(group.health_check_port())
        .set_health_check_path(path)
        .set_health_check_interval_seconds(group.health_check_interval_seconds())
        .set_threshold_count(group.threshold_count())
        .set_port_overrides((!overrides.is_empty()).then(|| overrides.to_vec()))
        .send()
        .await
        .map_err(|error| entry.call_error("UpdateEndpointGroup", &error))?;
    Ok(())
}

/// An idempotency token for one creation: `mysfits-{kind}-` and 32 hex digits of a SHA-256 of
/// what identifies that creation (e.g. the primary load balancer, new with every app stack, for
/// the accelerator; the listener's ARN for an endpoint group). Retries of the same creation send
/// the same token, so Global Accelerator answers with what the first attempt created; a new
/// creation after a teardown sends a new one, so it never gets the deleted resource back.
/// Global Accelerator allows up to 255 characters.
pub fn idempotency_token(kind: &str, identity: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    for part in identity {
        hasher.update([0]);
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("mysfits-{kind}-{hex}")
}

/// Waits until the accelerator's last change is deployed to the edge: every Global Accelerator
/// wait (it has no SDK waiters) is this [`wait::poll`]. DescribeAccelerator says IN_PROGRESS until
/// every change to the accelerator, its listeners and endpoint groups is deployed, then DEPLOYED.
/// Delays grow from 100 ms to 10 s, for at most `limit`. Returns how long it took.
async fn wait_deployed(
    entry: &EntryPoint,
    client: &Client,
    arn: &str,
    limit: Duration,
) -> Outcome<Duration> {
    let started = tokio::time::Instant::now();
    let backoff = Backoff::doubling(Duration::from_millis(100), Duration::from_secs(10), limit);
    let deployed = || async {
        let described = client
            .describe_accelerator()
            .accelerator_arn(arn)
            .send()
            .await
            .map_err(|error| entry.call_error("DescribeAccelerator", &error))?;
        let status = described.accelerator().and_then(Accelerator::status);
        Ok(status
            .is_some_and(|status| *status == AcceleratorStatus::Deployed)
            .then_some(()))
    };
    wait::poll(backoff, deployed, |waited| {
        CallError::failed(Error::Timeout {
            what: format!("accelerator {} to be DEPLOYED", entry.app),
            waited,
            fix: "Global Accelerator is still deploying the change; run the command again later, it picks up where it stopped".into(),
        })
    })
    .await?;
    Ok(started.elapsed())
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
        .map_err(|error| CallError::failed(Error::internal(format!("tag {key}: {error}"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_globalaccelerator::operation::delete_listener::{
        DeleteListenerError, DeleteListenerOutput,
    };
    use aws_sdk_globalaccelerator::types::error::{
        AssociatedEndpointGroupFoundException, ListenerNotFoundException,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    const LISTENER: &str =
        "arn:aws:globalaccelerator::123456789012:accelerator/1234abcd/listener/0123vxyz";
    const LIMIT: Duration = Duration::from_secs(60);

    /// What DeleteListener answers while the listener's endpoint group is still being removed.
    fn group_still_there() -> DeleteListenerError {
        let message = "Listener has associated endpoint groups";
        DeleteListenerError::AssociatedEndpointGroupFoundException(
            AssociatedEndpointGroupFoundException::builder()
                .message(message)
                .meta(
                    ErrorMetadata::builder()
                        .code("AssociatedEndpointGroupFoundException")
                        .message(message)
                        .build(),
                )
                .build(),
        )
    }

    fn listener_gone() -> DeleteListenerError {
        let message = "Listener not found";
        DeleteListenerError::ListenerNotFoundException(
            ListenerNotFoundException::builder()
                .message(message)
                .meta(
                    ErrorMetadata::builder()
                        .code("ListenerNotFoundException")
                        .message(message)
                        .build(),
                )
                .build(),
        )
    }

    async fn delete_listener(client: &Client) -> Result<(), String> {
        retry_while_applying(LIMIT, || {
            client.delete_listener().listener_arn(LISTENER).send()
        })
        .await
        .map(|_| ())
        .map_err(|error| error_code(&error).unwrap_or_default().to_string())
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_still_being_applied_is_retried_until_accepted() {
        let delete = mock!(Client::delete_listener)
            .sequence()
            .error(group_still_there)
            .times(2)
            .output(|| DeleteListenerOutput::builder().build())
            .build();
        let client = mock_client!(aws_sdk_globalaccelerator, RuleMode::Sequential, &[&delete]);
        let started = tokio::time::Instant::now();
        assert_eq!(delete_listener(&client).await, Ok(()));
        assert_eq!(delete.num_calls(), 3);
        assert_eq!(started.elapsed(), Duration::from_secs(1 + 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_past_the_limit_is_answered_and_other_errors_at_once() {
        let refused = mock!(Client::delete_listener).then_error(group_still_there);
        let client = mock_client!(aws_sdk_globalaccelerator, RuleMode::MatchAny, &[&refused]);
        let started = tokio::time::Instant::now();
        assert_eq!(
            delete_listener(&client).await,
            Err("AssociatedEndpointGroupFoundException".to_string())
        );
        assert_eq!(
            started.elapsed(),
            LIMIT,
            "retried up to the limit, not past it"
        );

        let gone = mock!(Client::delete_listener).then_error(listener_gone);
        let client = mock_client!(aws_sdk_globalaccelerator, RuleMode::MatchAny, &[&gone]);
        assert_eq!(
            delete_listener(&client).await,
            Err("ListenerNotFoundException".to_string())
        );
        assert_eq!(gone.num_calls(), 1, "not a change being applied: no retry");
    }
}
