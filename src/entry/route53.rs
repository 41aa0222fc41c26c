//! Route 53 mode: at the configured domain, one failover alias record per region (set identifier
//! `{app}-{region}`), PRIMARY for the serving region and SECONDARY for the standby, each with an
//! HTTP health check of its ALB's `/health`. Which region serves is the PRIMARY record; when its
//! health check fails, Route 53 answers with the SECONDARY by itself. A failover pair has exactly
//! two members: more regions are refused (the config refuses them first; this is the last guard).
//!
//! With `entry_point.traffic: active-active` the records are weighted instead (same set
//! identifiers, health checks and aliases with EvaluateTargetHealth): each region gets weight /
//! sum of weights of the answers, and a record whose health check fails is left out. Route 53
//! refuses failover and weighted records side by side at one name, so a deploy that changes the
//! policy replaces every record in ONE change batch (the DELETEs of the old records, then the
//! CREATEs of the new), which Route 53 applies atomically.

use std::time::Duration;

use aws_sdk_route53::Client;
use aws_sdk_route53::operation::change_resource_record_sets::{
    ChangeResourceRecordSetsError, ChangeResourceRecordSetsOutput,
};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, HealthCheckConfig,
    HealthCheckType, ResourceRecordSet, ResourceRecordSetFailover, RrType, Tag, TagResourceType,
};

use crate::app::RegionName;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::waiters::error::WaiterError;

use aws_sdk_route53::client::Waiters;

use super::{
    CallError, EntryDescription, EntryPoint, RegionTraffic, RegionalLoadBalancer, ShiftOutcome,
    TrafficSplit,
};
use crate::app::names;
use crate::config::APP_TAG;
use crate::error::Error;
use crate::progress::{Events, elapsed_ms};

/// Health check settings: fast detection (10 s × 3 ≈ 30 s) of the path every service answers.
const HEALTH_PATH: &str = "/health";
const HEALTH_INTERVAL_SECONDS: i32 = 10;
const HEALTH_FAILURE_THRESHOLD: i32 = 3;

type Outcome<T> = std::result::Result<T, CallError>;

#[allow(clippy::too_many_arguments)]
pub(super) async fn ensure(
    entry: &EntryPoint,
    client: &Client,
    zone: &str,
    domain: &str,
    load_balancers: &[RegionalLoadBalancer],
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<(EntryDescription, Vec<String>)> {
    refuse_more_than_a_pair(load_balancers)?;
    check_zone(entry, client, zone, domain).await?;
    let existing = our_records(entry, client, zone, domain).await?;
    let initial = TrafficSplit::configured(&entry.traffic, load_balancers);
    let kind = RecordKind::of_policy(entry);
    // Records of the other kind (the policy changed) are all replaced in one batch.
    let converting = existing
        .iter()
        .any(|record| RecordKind::of_record(record) != Some(kind));
    let mut actions = Vec::new();
    let mut deletes = Vec::new();
    let mut changes = Vec::new();
    let mut upserts = Vec::new();
    let mut replaced_health_checks = Vec::new();
    if converting {
        for record in &existing {
            deletes.push(change(ChangeAction::Delete, record.clone())?);
        }
        actions.push(format!(
            "replaced {} record(s) by {} records",
            existing.len(),
            kind.label()
        ));
    }
    for balancer in load_balancers {
        let set_identifier = names::record_set_identifier(&entry.app, &balancer.region);
        let current = existing
            .iter()
            .find(|record| record.set_identifier() == Some(set_identifier.as_str()));
        let wanted =
            wanted_record(entry, client, domain, balancer, current, kind, &initial).await?;
        actions.extend(wanted.actions);
        replaced_health_checks.extend(wanted.replaced_health_check);
        if let Some(record) = wanted.write {
            upserts.push(change(ChangeAction::Upsert, record.clone())?);
            let action = if converting {
                ChangeAction::Create
            } else {
                ChangeAction::Upsert
            };
            changes.push(change(action, record)?);
        }
    }
    if converting {
        deletes.extend(changes);
        changes = deletes;
    }
    if !changes.is_empty() {
        let comment = format!("mysfits deploy of {}", entry.app);
        let waited = if converting {
            submit_replacing(
                entry, client, zone, changes, upserts, &comment, events, step, wait_limit,
            )
            .await?
        } else {
            submit(entry, client, zone, changes, &comment, wait_limit).await?
        };
        events.note(
            step,
            format!("Route 53 records INSYNC after {:.1}s", waited.as_secs_f64()),
        );
    }
    for id in replaced_health_checks {
        delete_health_check(entry, client, &id).await?;
        actions.push(format!("deleted replaced health check {id}"));
    }
    let description = describe(entry, client, zone, domain)
        .await?
        .ok_or_else(|| {
            CallError::failed(Error::config(
                format!("the records at {domain} vanished right after they were written"),
                "deploy again",
            ))
        })?;
    Ok((description, actions))
}

/// A failover record pair is PRIMARY and SECONDARY: a third region has no role to take.
fn refuse_more_than_a_pair(load_balancers: &[RegionalLoadBalancer]) -> Outcome<()> {
    if load_balancers.len() <= 2 {
        return Ok(());
    }
    let regions: Vec<&str> = load_balancers
        .iter()
        .map(|balancer| balancer.region.as_str())
        .collect();
    Err(CallError::failed(Error::config(
        format!(
            "the Route 53 entry point takes exactly two regions (a PRIMARY and a SECONDARY failover record), and {} were given: {}",
            regions.len(),
            regions.join(", ")
        ),
        "use the Global Accelerator entry point (remove `mode: route53` from entry_point:) for more than two regions, or configure two regions",
    )))
}

/// Which routing policy the app's records use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordKind {
    /// PRIMARY and SECONDARY (`traffic: active-passive`).
    Failover,
    /// A weight per region (`traffic: active-active`).
    Weighted,
}

impl RecordKind {
    fn of_policy(entry: &EntryPoint) -> RecordKind {
        if entry.traffic.is_active_active() {
            RecordKind::Weighted
        } else {
            RecordKind::Failover
        }
    }

    fn of_record(record: &ResourceRecordSet) -> Option<RecordKind> {
        if record.failover().is_some() {
            Some(RecordKind::Failover)
        } else if record.weight().is_some() {
            Some(RecordKind::Weighted)
        } else {
            None
        }
    }

    fn label(self) -> &'static str {
        match self {
            RecordKind::Failover => "failover",
            RecordKind::Weighted => "weighted",
        }
    }
}

/// One record's routing: its failover role or its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Routing {
    Failover(ResourceRecordSetFailover),
    Weighted(i64),
}

impl Routing {
    fn of_record(record: &ResourceRecordSet) -> Option<Routing> {
        match (record.failover(), record.weight()) {
            (Some(role), _) => Some(Routing::Failover(role.clone())),
            (None, Some(weight)) => Some(Routing::Weighted(weight)),
            (None, None) => None,
        }
    }

    /// "PRIMARY", "SECONDARY", "weight 50".
    fn label(&self) -> String {
        match self {
            Routing::Failover(role) => role.as_str().to_string(),
            Routing::Weighted(weight) => format!("weight {weight}"),
        }
    }
}

/// What one region's record should be, and what it takes to get there.
struct WantedRecord {
    /// The record to UPSERT, if it differs from what is there.
    write: Option<ResourceRecordSet>,
    actions: Vec<String>,
    /// A health check that no longer checks the region's load balancer, deleted after the write.
    replaced_health_check: Option<String>,
}

async fn wanted_record(
    entry: &EntryPoint,
    client: &Client,
    domain: &str,
    balancer: &RegionalLoadBalancer,
    current: Option<&ResourceRecordSet>,
    kind: RecordKind,
    initial: &TrafficSplit,
) -> Outcome<WantedRecord> {
    let mut actions = Vec::new();
    let mut replaced_health_check = None;
    let current_check = current.and_then(ResourceRecordSet::health_check_id);
    let health_check_id = match current_check {
        Some(id) if health_check_targets(entry, client, id, &balancer.dns_name).await? => {
            id.to_string()
        }
        _ => {
            let id = create_health_check(entry, client, balancer).await?;
            actions.push(format!("created health check for {}", balancer.region));
            replaced_health_check = current_check.map(str::to_string);
            id
        }
    };
    // An existing record of the wanted kind keeps its role or weight, so a deploy after a
    // failover (or `mysfits traffic set`) does not move traffic back.
    let kept = current
        .filter(|record| RecordKind::of_record(record) == Some(kind))
        .and_then(Routing::of_record);
    let initial_weight = initial.weight(&balancer.region);
    let routing = kept.unwrap_or(match kind {
        RecordKind::Failover if initial_weight > 0 => {
            Routing::Failover(ResourceRecordSetFailover::Primary)
        }
        RecordKind::Failover => Routing::Failover(ResourceRecordSetFailover::Secondary),
        RecordKind::Weighted => Routing::Weighted(i64::from(initial_weight)),
    });
    let zone_id = balancer.canonical_hosted_zone_id.as_deref().ok_or_else(|| {
        CallError::failed(Error::config(
            format!(
                "load balancer {} reports no canonical hosted zone, which a Route 53 alias needs",
                balancer.arn
            ),
            "wait until the load balancer is active, then deploy again",
        ))
    })?;
    let set_identifier = names::record_set_identifier(&entry.app, &balancer.region);
    let wanted = record(
        domain,
        &set_identifier,
        &routing,
        zone_id,
        &balancer.dns_name,
        &health_check_id,
    )?;
    if current.is_some_and(|current| same_record(current, &wanted)) {
        return Ok(WantedRecord {
            write: None,
            actions,
            replaced_health_check,
        });
    }
    actions.push(format!(
        "{} {} record for {}",
        if current.is_some() {
            "updated"
        } else {
            "created"
        },
        routing.label(),
        balancer.region
    ));
    Ok(WantedRecord {
        write: Some(wanted),
        actions,
        replaced_health_check,
    })
}

pub(super) async fn describe(
    entry: &EntryPoint,
    client: &Client,
    zone: &str,
    domain: &str,
) -> Outcome<Option<EntryDescription>> {
    let records = our_records(entry, client, zone, domain).await?;
    if records.is_empty() {
        return Ok(None);
    }
    let prefix = format!("{}-", entry.app);
    let mut regions = Vec::new();
    for record in &records {
        let health_check_id = record.health_check_id().map(str::to_string);
        let health = match &health_check_id {
            Some(id) => health_check_status(client, id).await,
            None => None,
        };
        regions.push(RegionTraffic {
            region: record
                .set_identifier()
                .unwrap_or_default()
                .trim_start_matches(&prefix)
                .to_string(),
            target: record
                .alias_target()
                .map(|alias| normalize(alias.dns_name()))
                .unwrap_or_default(),
            traffic_dial: None,
            failover: record.failover().map(|role| role.as_str().to_string()),
            weight: record
                .weight()
                .map(|weight| u8::try_from(weight.clamp(0, 255)).unwrap_or(u8::MAX)),
            health,
            health_check_id,
        });
    }
    regions.sort_by(|left, right| left.region.cmp(&right.region));
    Ok(Some(EntryDescription {
        mode: "route53".into(),
        name: domain.to_string(),
        id: zone.to_string(),
        address: Some(domain.to_string()),
        static_ips: Vec::new(),
        status: "INSYNC".into(),
        enabled: true,
        regions,
    }))
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn shift(
    entry: &EntryPoint,
    client: &Client,
    zone: &str,
    domain: &str,
    to: &str,
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<ShiftOutcome> {
    let records = our_records(entry, client, zone, domain).await?;
    let target_identifier = names::record_set_identifier(&entry.app, to);
    if records
        .iter()
        .any(|record| RecordKind::of_record(record) == Some(RecordKind::Weighted))
    {
        // Weighted records: the target's weight to 100, every other region's to 0.
        let prefix = format!("{}-", entry.app);
        let split = TrafficSplit::from_weights(records.iter().map(|record| {
            let region = record
                .set_identifier()
                .unwrap_or_default()
                .trim_start_matches(&prefix);
            let weight = if region == to { TrafficSplit::ALL } else { 0 };
            (RegionName::new(region), weight)
        }));
        return set_weights(
            entry, client, zone, &records, &split, events, step, wait_limit,
        )
        .await;
    }
    let Some(target) = records
        .iter()
        .find(|record| record.set_identifier() == Some(target_identifier.as_str()))
    else {
        return Err(CallError::failed(Error::config(
            format!("{domain} has no failover record for {to}"),
            "run `mysfits deploy` to create the entry point's records",
        )));
    };
    if target.failover() == Some(&ResourceRecordSetFailover::Primary) {
        return Ok(ShiftOutcome::AlreadyServing);
    }
    let swap = RoleSwap::to(&records, &target_identifier)?;
    let started = tokio::time::Instant::now();
    let comment = format!("mysfits failover of {} to {to}", entry.app);
    let mut sent = send_batch(client, zone, swap.changes, &comment).await?;
    // moto refuses a CREATE it has journaled before even when the same batch deletes the record
    // first (AWS applies the batch in order and accepts it): only behind an endpoint override,
    // the swap is sent again as UPSERTs, and the note says so.
    if let (Some(endpoint), Err(error)) = (&entry.endpoint, &sent)
        && matches!(
            error.as_service_error(),
            Some(ChangeResourceRecordSetsError::InvalidChangeBatch(_))
        )
    {
        events.note(
            step,
            format!(
                "the endpoint at {endpoint} refused deleting and re-creating the records in one batch, which Route 53 \
                 accepts; sent the roles as UPSERTs instead (emulator only)"
            ),
        );
        sent = send_batch(client, zone, swap.upserts, &comment).await?;
    }
    let submitted = sent.map_err(|error| batch_error(entry, zone, &error))?;
    wait_for_change(entry, client, &submitted, wait_limit).await?;
    events.note(step, format!("{to} record is PRIMARY, INSYNC"));
    Ok(ShiftOutcome::Shifted {
        actions: swap.actions,
        control_plane_ms: elapsed_ms(started.elapsed()),
    })
}

/// Moves the records to `split`: weighted records get their new weights (one UPSERT each, in
/// one batch); failover records can only send everything to one region, so a split with exactly
/// one serving region becomes a failover to it and any other split is refused.
#[allow(clippy::too_many_arguments)]
pub(super) async fn set_split(
    entry: &EntryPoint,
    client: &Client,
    zone: &str,
    domain: &str,
    split: &TrafficSplit,
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<ShiftOutcome> {
    let records = our_records(entry, client, zone, domain).await?;
    if records.is_empty() {
        return Err(CallError::failed(Error::config(
            format!("{domain} has no records of {}", entry.app),
            "run `mysfits deploy` to create the entry point's records",
        )));
    }
    let weighted = records
        .iter()
        .all(|record| RecordKind::of_record(record) == Some(RecordKind::Weighted));
    if weighted {
        return set_weights(
            entry, client, zone, &records, split, events, step, wait_limit,
        )
        .await;
    }
    let serving = split.serving();
    match serving.as_slice() {
        [only] if split.weight(only.as_str()) == TrafficSplit::ALL => {
            shift(
                entry,
                client,
                zone,
                domain,
                only.as_str(),
                events,
                step,
                wait_limit,
            )
            .await
        }
        _ => Err(CallError::failed(Error::config(
            format!(
                "{domain} has failover records, which send all traffic to one region; {} needs weighted records",
                split.text()
            ),
            "set `traffic: active-active` under entry_point: in mysfits.yaml and run `mysfits deploy` (it replaces the failover records by weighted ones in one change batch), or give one region 100 and the others 0",
        ))),
    }
}

/// UPSERTs the weighted records whose weight differs from `split` (regions it does not name keep
/// theirs), in one change batch (atomic: no answer ever sees half the change), waited for until
/// INSYNC.
#[allow(clippy::too_many_arguments)]
async fn set_weights(
    entry: &EntryPoint,
    client: &Client,
    zone: &str,
    records: &[ResourceRecordSet],
    split: &TrafficSplit,
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<ShiftOutcome> {
    let mut changes = Vec::new();
    let mut actions = Vec::new();
    for (region, weight) in split.weights() {
        let identifier = names::record_set_identifier(&entry.app, region.as_str());
        let Some(record) = records
            .iter()
            .find(|record| record.set_identifier() == Some(identifier.as_str()))
        else {
            return Err(CallError::failed(Error::config(
                format!("the entry point has no weighted record for {region}"),
                "run `mysfits deploy` to create the entry point's records",
            )));
        };
        let wanted = i64::from(weight);
        let current = record.weight().unwrap_or_default();
        if current == wanted {
            continue;
        }
        let mut changed = record.clone();
        changed.weight = Some(wanted);
        changes.push(change(ChangeAction::Upsert, changed)?);
        actions.push(format!("{region} weight {current} -> {wanted}"));
    }
    if changes.is_empty() {
        return Ok(ShiftOutcome::AlreadyServing);
    }
    let started = tokio::time::Instant::now();
    let comment = format!("mysfits traffic of {}: {}", entry.app, split.text());
    let waited = submit(entry, client, zone, changes, &comment, wait_limit).await?;
    events.note(
        step,
        format!(
            "weights {}, INSYNC after {:.1}s",
            split.text(),
            waited.as_secs_f64()
        ),
    );
    Ok(ShiftOutcome::Shifted {
        actions,
        control_plane_ms: elapsed_ms(started.elapsed()),
    })
}

/// The change batch that makes one record PRIMARY and the other SECONDARY.
///
/// Both roles swap in one change batch: Route 53 applies it atomically, so there is never a
/// moment with two PRIMARY records or none. Each record is deleted exactly as
/// ListResourceRecordSets returned it (a DELETE must match every value of the existing record)
/// and created again with its new role; UPSERTs that flip the failover roles of a pair have been
/// reported to be refused as an invalid request.
struct RoleSwap {
    /// The DELETEs, then the CREATEs.
    changes: Vec<Change>,
    /// The same swap as UPSERTs, for an emulator that refuses the batch above.
    upserts: Vec<Change>,
    actions: Vec<String>,
}

impl RoleSwap {
    fn to(records: &[ResourceRecordSet], target_identifier: &str) -> Outcome<RoleSwap> {
        let mut deletes = Vec::new();
        let mut creates = Vec::new();
        let mut upserts = Vec::new();
        let mut actions = Vec::new();
        for record in records {
            let role = if record.set_identifier() == Some(target_identifier) {
                ResourceRecordSetFailover::Primary
            } else {
                ResourceRecordSetFailover::Secondary
            };
            if record.failover() == Some(&role) {
                continue;
            }
            actions.push(format!(
                "{} -> {}",
                record.set_identifier().unwrap_or_default(),
                role.as_str()
            ));
            let mut changed = record.clone();
            changed.failover = Some(role);
            deletes.push(change(ChangeAction::Delete, record.clone())?);
            upserts.push(change(ChangeAction::Upsert, changed.clone())?);
            creates.push(change(ChangeAction::Create, changed)?);
        }
        deletes.extend(creates);
        Ok(RoleSwap {
            changes: deletes,
            upserts,
            actions,
        })
    }
}

/// DNS names as Route 53 returns them (trailing dot, maybe `dualstack.`) compared as written.
fn normalize(name: &str) -> String {
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    lower
        .strip_prefix("dualstack.")
        .map(str::to_string)
        .unwrap_or(lower)
}

async fn check_zone(entry: &EntryPoint, client: &Client, zone: &str, domain: &str) -> Outcome<()> {
    let hosted_zone = client
        .get_hosted_zone()
        .id(zone)
        .send()
        .await
        .map_err(|error| match entry.call_error("GetHostedZone", &error) {
            CallError::Failed(_)
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_no_such_hosted_zone()) =>
            {
                CallError::failed(Error::config(
                    format!("Route 53 hosted zone {zone} does not exist"),
                    "set entry_point.hosted_zone_id to a zone of this account (`aws route53 list-hosted-zones`)",
                ))
            }
            other => other,
        })?;
    let zone_name = hosted_zone
        .hosted_zone()
        .map(|zone| normalize(zone.name()))
        .unwrap_or_default();
    if domain != zone_name && !domain.ends_with(&format!(".{zone_name}")) {
        return Err(CallError::failed(Error::config(
            format!("entry_point.domain {domain} is not inside hosted zone {zone} ({zone_name})"),
            format!(
                "use a name that ends in {zone_name}, or the id of the zone that holds {domain}"
            ),
        )));
    }
    // A private zone answers only inside its VPCs: the records would be written and in sync,
    // and no client on the internet (nor failover's probes) would ever resolve them.
    let private = hosted_zone
        .hosted_zone()
        .and_then(|zone| zone.config())
        .is_some_and(|config| config.private_zone());
    if private {
        return Err(CallError::failed(Error::config(
            format!(
                "Route 53 hosted zone {zone} ({zone_name}) is a private zone: it answers only inside its VPCs"
            ),
            format!(
                "set entry_point.hosted_zone_id to the public zone of {zone_name} (`aws route53 list-hosted-zones-by-name --dns-name {zone_name}` lists both halves of a split-horizon name)"
            ),
        )));
    }
    Ok(())
}

/// The app's failover records at `domain` (A records with set identifier `{app}-REGION`). Any
/// other A record there is an error: the domain is not free for the app.
async fn our_records(
    entry: &EntryPoint,
    client: &Client,
    zone: &str,
    domain: &str,
) -> Outcome<Vec<ResourceRecordSet>> {
    let listed = client
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(domain)
        .start_record_type(RrType::A)
        .max_items(20)
        .send()
        .await
        .map_err(|error| entry.call_error("ListResourceRecordSets", &error))?;
    let prefix = format!("{}-", entry.app);
    let mut ours = Vec::new();
    for record in listed.resource_record_sets() {
        if normalize(record.name()) != domain || record.r#type() != &RrType::A {
            continue;
        }
        match record.set_identifier() {
            Some(identifier) if identifier.starts_with(&prefix) => ours.push(record.clone()),
            other => {
                return Err(CallError::failed(Error::config(
                    format!(
                        "{domain} already has an A record mysfits does not manage (set identifier {})",
                        other.unwrap_or("none")
                    ),
                    "choose another entry_point.domain, or delete that record",
                )));
            }
        }
    }
    Ok(ours)
}

fn record(
    domain: &str,
    set_identifier: &str,
    routing: &Routing,
    zone_id: &str,
    dns_name: &str,
    health_check_id: &str,
) -> Outcome<ResourceRecordSet> {
    let alias = AliasTarget::builder()
        .hosted_zone_id(zone_id)
        .dns_name(dns_name)
        .evaluate_target_health(true)
        .build()
        .map_err(build_error)?;
    let builder = ResourceRecordSet::builder()
        .name(domain)
        .r#type(RrType::A)
        .set_identifier(set_identifier);
    let builder = match routing {
        Routing::Failover(role) => builder.failover(role.clone()),
        Routing::Weighted(weight) => builder.weight(*weight),
    };
    builder
        .alias_target(alias)
        .health_check_id(health_check_id)
        .build()
        .map_err(build_error)
}

fn same_record(current: &ResourceRecordSet, wanted: &ResourceRecordSet) -> bool {
    let alias = |record: &ResourceRecordSet| {
        record.alias_target().map(|alias| {
            (
                alias.hosted_zone_id().to_string(),
                normalize(alias.dns_name()),
                alias.evaluate_target_health(),
            )
        })
    };
    current.failover() == wanted.failover()
        && current.weight() == wanted.weight()
        && current.health_check_id() == wanted.health_check_id()
        && alias(current) == alias(wanted)
}

fn change(action: ChangeAction, record: ResourceRecordSet) -> Outcome<Change> {
    Change::builder()
        .action(action)
        .resource_record_set(record)
        .build()
        .map_err(build_error)
}

/// Sends one change batch and waits until Route 53 reports it INSYNC.
async fn submit(
    entry: &EntryPoint,
    client: &Client,
    zone: &str,
    changes: Vec<Change>,
    comment: &str,
    wait_limit: Duration,
) -> Outcome<Duration> {
    let submitted = send_batch(client, zone, changes, comment)
        .await?
        .map_err(|error| batch_error(entry, zone, &error))?;
    wait_for_change(entry, client, &submitted, wait_limit).await
}

/// Sends a batch that DELETEs records and CREATEs their replacements (another routing policy at
/// the same name) and waits until INSYNC. moto refuses a CREATE of a set identifier it has
/// journaled even when the same batch deletes it first (AWS applies the batch in order and
/// accepts it): only behind an endpoint override, the new records are sent again as UPSERTs.
#[allow(clippy::too_many_arguments)]
async fn submit_replacing(
    entry: &EntryPoint,
    client: &Client,
    zone: &str,
    changes: Vec<Change>,
    upserts: Vec<Change>,
    comment: &str,
    events: &Events,
    step: &str,
    wait_limit: Duration,
) -> Outcome<Duration> {
    let mut sent = send_batch(client, zone, changes, comment).await?;
    if let (Some(endpoint), Err(error)) = (&entry.endpoint, &sent)
        && matches!(
            error.as_service_error(),
            Some(ChangeResourceRecordSetsError::InvalidChangeBatch(_))
        )
    {
        events.note(
            step,
            format!(
                "the endpoint at {endpoint} refused replacing the records in one batch, which Route 53 accepts; \
                 sent the new records as UPSERTs instead (emulator only)"
            ),
        );
        sent = send_batch(client, zone, upserts, comment).await?;
    }
    let submitted = sent.map_err(|error| batch_error(entry, zone, &error))?;
    wait_for_change(entry, client, &submitted, wait_limit).await
}

type BatchResult = std::result::Result<
    ChangeResourceRecordSetsOutput,
    SdkError<ChangeResourceRecordSetsError, HttpResponse>,
>;

/// Sends one change batch; the outer error is a batch that could not be built.
async fn send_batch(
    client: &Client,
    zone: &str,
    changes: Vec<Change>,
    comment: &str,
) -> Outcome<BatchResult> {
    let batch = ChangeBatch::builder()
        .set_changes(Some(changes))
        .comment(comment)
        .build()
        .map_err(build_error)?;
    Ok(client
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await)
}

fn batch_error(
    entry: &EntryPoint,
    zone: &str,
    error: &SdkError<ChangeResourceRecordSetsError, HttpResponse>,
) -> CallError {
    match error.as_service_error() {
        Some(ChangeResourceRecordSetsError::InvalidChangeBatch(refused)) => {
            let mut reasons: Vec<&str> = refused.messages().iter().map(String::as_str).collect();
            reasons.extend(refused.message());
            CallError::failed(Error::config(
                format!(
                    "Route 53 refused the change batch for zone {zone} (InvalidChangeBatch): {}",
                    reasons.join("; ")
                ),
                "the records probably changed since they were read (another deploy or failover, or a change by hand); \
                 run the command again: it reads the records anew",
            ))
        }
        _ => entry.call_error("ChangeResourceRecordSets", error),
    }
}

/// Waits until Route 53 reports the submitted change INSYNC, with the SDK's generated
/// `resource_record_sets_changed` waiter (GetChange until `ChangeInfo.Status` is INSYNC; first
/// poll at once, then from 30 s on, its last poll at `wait_limit`). The waiter's limit runs on
/// the client's clock; tokio's clock bounds it too (a moment later, so that the waiter's own last
/// poll comes first), so that a test with a paused clock and a fixed client clock ends.
async fn wait_for_change(
    entry: &EntryPoint,
    client: &Client,
    submitted: &ChangeResourceRecordSetsOutput,
    wait_limit: Duration,
) -> Outcome<Duration> {
    let Some(info) = submitted.change_info() else {
        return Ok(Duration::ZERO);
    };
    if info.status() == &ChangeStatus::Insync {
        return Ok(Duration::ZERO);
    }
    let started = tokio::time::Instant::now();
    let waiter = client
        .wait_until_resource_record_sets_changed()
        .id(info.id())
        .wait(wait_limit);
    let timeout = || {
        CallError::failed(Error::Timeout {
            what: "the Route 53 change to be INSYNC".into(),
            waited: started.elapsed(),
            fix: "Route 53 is still propagating; run the command again later".into(),
        })
    };
    match crate::wait::waiter_limit(wait_limit + Duration::from_secs(1), waiter).await {
        Some(Ok(_)) => Ok(started.elapsed()),
        Some(Err(WaiterError::ExceededMaxWait(_))) | None => Err(timeout()),
        Some(Err(WaiterError::OperationFailed(failed))) => {
            Err(entry.call_error("GetChange", failed.error()))
        }
        Some(Err(other)) => Err(CallError::failed(Error::internal(format!(
            "waiting for Route 53 change {} failed: {other}",
            info.id()
        )))),
    }
}

/// Whether an existing health check still checks this load balancer.
async fn health_check_targets(
    entry: &EntryPoint,
    client: &Client,
    id: &str,
    dns_name: &str,
) -> Outcome<bool> {
    match client.get_health_check().health_check_id(id).send().await {
        Ok(found) => Ok(found
            .health_check()
            .and_then(|check| check.health_check_config())
            .and_then(HealthCheckConfig::fully_qualified_domain_name)
            .is_some_and(|name| normalize(name) == normalize(dns_name))),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|service| service.is_no_such_health_check()) =>
        {
            Ok(false)
        }
        Err(error) => Err(entry.call_error("GetHealthCheck", &error)),
    }
}

async fn create_health_check(
    entry: &EntryPoint,
    client: &Client,
    balancer: &RegionalLoadBalancer,
) -> Outcome<String> {
    let config = HealthCheckConfig::builder()
        .r#type(HealthCheckType::Http)
        .fully_qualified_domain_name(&balancer.dns_name)
        .port(80)
        .resource_path(HEALTH_PATH)
        .request_interval(HEALTH_INTERVAL_SECONDS)
        .failure_threshold(HEALTH_FAILURE_THRESHOLD)
        .build()
        .map_err(build_error)?;
    // The caller reference must be new for a new check; the ALB name and the time make it so.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let created = client
        .create_health_check()
        .caller_reference(format!("{}-{}-{nanos}", entry.app, balancer.region))
        .health_check_config(config)
        .send()
        .await
        .map_err(|error| entry.call_error("CreateHealthCheck", &error))?;
    let id = created
        .health_check()
        .map(|check| check.id().to_string())
        .ok_or_else(|| {
            CallError::failed(Error::config(
                "CreateHealthCheck returned no health check",
                "deploy again",
            ))
        })?;
    client
        .change_tags_for_resource()
        .resource_type(TagResourceType::Healthcheck)
        .resource_id(&id)
        .add_tags(
            Tag::builder()
                .key("Name")
                .value(format!("{} {}", entry.app, balancer.region))
                .build(),
        )
        .add_tags(Tag::builder().key(APP_TAG).value(&entry.app).build())
        .send()
        .await
        .map_err(|error| entry.call_error("ChangeTagsForResource", &error))?;
    Ok(id)
}

async fn delete_health_check(entry: &EntryPoint, client: &Client, id: &str) -> Outcome<()> {
    match client
        .delete_health_check()
        .health_check_id(id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|service| service.is_no_such_health_check()) =>
        {
            Ok(())
        }
        Err(error) => Err(entry.call_error("DeleteHealthCheck", &error)),
    }
}

/// HEALTHY when more than 18 % of Route 53's checkers succeed, UNHEALTHY otherwise; None if
/// unknown.
async fn health_check_status(client: &Client, id: &str) -> Option<String> {
    let status = client
        .get_health_check_status()
        .health_check_id(id)
        .send()
        .await
        .ok()?;
    let observations = status.health_check_observations();
    if observations.is_empty() {
        return None;
    }
    let successes = observations
        .iter()
        .filter(|observation| {
            observation
                .status_report()
                .and_then(|report| report.status())
                .is_some_and(|text| text.starts_with("Success"))
        })
        .count();
    // Route 53's own rule: healthy while more than 18 % of its health checkers report the
    // endpoint healthy ("How Amazon Route 53 determines whether a health check is healthy").
    Some(if successes * 100 > observations.len() * 18 {
        "HEALTHY".into()
    } else {
        "UNHEALTHY".into()
    })
}

fn build_error(error: aws_smithy_types::error::operation::BuildError) -> CallError {
    CallError::failed(Error::internal(format!(
        "could not build a Route 53 request: {error}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_route53::operation::get_health_check_status::GetHealthCheckStatusOutput;
    use aws_sdk_route53::types::{HealthCheckObservation, StatusReport};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    /// `successes` of `checkers` health checkers report Success, the rest a failure, as
    /// GetHealthCheckStatus words them.
    async fn status_with(successes: usize, checkers: usize) -> Option<String> {
        let rule = mock!(aws_sdk_route53::Client::get_health_check_status).then_output(move || {
            let mut output = GetHealthCheckStatusOutput::builder()
                .set_health_check_observations(Some(Vec::new()));
            for index in 0..checkers {
                let status = if index < successes {
                    "Success: HTTP Status Code 200, OK"
                } else {
                    "Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: 192.0.2.10"
                };
                output = output.health_check_observations(
                    HealthCheckObservation::builder()
                        .ip_address(format!("15.177.{index}.1"))
                        .status_report(StatusReport::builder().status(status).build())
                        .build(),
                );
            }
            output.build().expect("observations")
        });
        let client = mock_client!(aws_sdk_route53, RuleMode::MatchAny, &[&rule]);
        health_check_status(&client, "abcdef11-2222-3333-4444-555555fedcba").await
    }

    #[tokio::test]
    async fn healthy_while_more_than_18_percent_of_checkers_say_so_as_route_53_decides() {
        // 16 checkers: 3 of them is 18.75 % (> 18 %: healthy), 2 is 12.5 % (unhealthy).
        assert_eq!(status_with(3, 16).await.as_deref(), Some("HEALTHY"));
        assert_eq!(status_with(2, 16).await.as_deref(), Some("UNHEALTHY"));
        // Exactly 18 % is not more than 18 %.
        assert_eq!(status_with(9, 50).await.as_deref(), Some("UNHEALTHY"));
        assert_eq!(status_with(16, 16).await.as_deref(), Some("HEALTHY"));
        assert_eq!(status_with(0, 0).await, None, "no observation, no verdict");
    }
}
