//! Removal of the global entry point: the Global Accelerator named and tagged `{app}` (control
//! plane in us-west-2) and, for the Route 53 mode, the app's failover records in the configured
//! zone and its tagged health checks. Teardown removes these first so that no traffic reaches
//! what goes next.
//!
//! An endpoint that does not offer a service at all (an emulator without Global Accelerator
//! answers HTTP 500 with no AWS error) is reported as such ([`Removal::Unavailable`]), never as
//! "nothing found": nothing could be checked there.

use std::time::Duration;

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType, TagResourceType,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use crate::app::names::record_set_identifier;
use crate::aws::{
    GLOBAL_ACCELERATOR_REGION, Patience, aws_error, error_code, sdk_config_for, service_missing,
};
use crate::config::{APP_TAG, Config, EntryPointMode, ROUTE53_CONTROL_REGION};
use crate::entry::accelerator::tagged_for;
use crate::entry::{Control, EntryPoint};
use crate::error::{Error, Result};
use crate::progress::Events;

/// Disabling an accelerator propagates worldwide; AWS publishes no bound, other tools wait 30 min.
pub const ACCELERATOR_DEPLOY_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Clients of the app's global services, each at its control-plane region.
#[derive(Debug, Clone)]
pub struct GlobalClients {
    pub globalaccelerator: aws_sdk_globalaccelerator::Client,
    pub route53: aws_sdk_route53::Client,
    /// The endpoint overrides of the two clients (an emulator), `None` for AWS itself.
    pub globalaccelerator_endpoint: Option<String>,
    pub route53_endpoint: Option<String>,
}

impl GlobalClients {
    /// The configured entry point's control endpoint for its own service; for the other one,
    /// the endpoint override of the app's region of that name, else home's (so that an
    /// emulator setup never sends a call to AWS), else AWS itself. Both services are checked
    /// whatever the mode: the mode may have changed since the deploy.
    pub async fn connect(config: &Config) -> GlobalClients {
        let entry_point = &config.entry_point;
        let endpoint_for = |region: &str| {
            if entry_point.mode.control_region() == region {
                return entry_point.control_endpoint.clone();
            }
            config
                .regions()
                .find(|settings| settings.name == region)
                .unwrap_or(config.home())
                .endpoint_url
                .clone()
        };
        let patience = Patience::DEPLOY;
        let accelerator_endpoint = endpoint_for(GLOBAL_ACCELERATOR_REGION);
        let route53_endpoint = endpoint_for(ROUTE53_CONTROL_REGION);
        let profile = config.profile.as_deref();
        GlobalClients {
            globalaccelerator: crate::entry::global_accelerator_client(
                &sdk_config_for(
                    profile,
                    GLOBAL_ACCELERATOR_REGION,
                    accelerator_endpoint.as_deref(),
                    patience,
                )
                .await,
            ),
            route53: crate::entry::route53_client(
                &sdk_config_for(
                    profile,
                    ROUTE53_CONTROL_REGION,
                    route53_endpoint.as_deref(),
                    patience,
                )
                .await,
            ),
            globalaccelerator_endpoint: accelerator_endpoint,
            route53_endpoint,
        }
    }
}

/// What one global service's removal found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Removal {
    Removed {
        names: Vec<String>,
    },
    NothingFound,
    /// The endpoint does not offer the service: nothing was checked or removed.
    Unavailable {
        endpoint: String,
        reason: String,
    },
}

impl Removal {
    fn describe(&self, service: &str) -> String {
        match self {
            Removal::Removed { names } => format!("{service}: removed {}", names.join(", ")),
            Removal::NothingFound => format!("{service}: none found"),
            Removal::Unavailable { endpoint, .. } => {
                format!("{service}: NOT AVAILABLE at {endpoint}, not checked")
            }
        }
    }
}

/// What the entry-point step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryRemoval {
    pub accelerator: Removal,
    pub route53: Removal,
}

impl EntryRemoval {
    pub fn summary(&self) -> String {
        format!(
            "{}; {}",
            self.accelerator.describe("Global Accelerator"),
            self.route53.describe("Route 53 failover records")
        )
    }
}

/// The unavailable verdict for a failed call behind an endpoint override that does not offer the
/// service; `None` (a real failure) for AWS itself or any other answer.
fn unavailable<E>(endpoint: &Option<String>, error: &SdkError<E, HttpResponse>) -> Option<Removal>
where
    E: ProvideErrorMetadata,
{
    let endpoint = endpoint.as_ref()?;
    Some(Removal::Unavailable {
        endpoint: endpoint.clone(),
        reason: service_missing(error)?,
    })
}

/// Where the app's Route 53 failover records are: the configured zone, at the configured domain,
/// one record per region with set identifier `{app}-{region}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverZone {
    /// The zone id without the `/hostedzone/` prefix.
    pub hosted_zone_id: String,
    /// Lower case, without the trailing dot.
    pub domain: String,
    /// The set identifiers of the app's records, one per configured region.
    pub set_identifiers: Vec<String>,
}

impl FailoverZone {
    /// The record carries one of the app's set identifiers.
    fn has_set_identifier(&self, record: &ResourceRecordSet) -> bool {
        record
            .set_identifier()
            .is_some_and(|id| self.set_identifiers.iter().any(|ours| ours == id))
    }

    /// The zone of the config's route53 entry point; `None` in global-accelerator mode, where
    /// records left by an earlier Route 53 deploy can only be found through every zone.
    pub fn configured(config: &Config) -> Option<FailoverZone> {
        let EntryPointMode::Route53 {
            hosted_zone_id,
            domain,
        } = &config.entry_point.mode
        else {
            return None;
        };
        Some(FailoverZone {
            hosted_zone_id: hosted_zone_id.clone(),
            domain: domain.clone(),
            set_identifiers: config
                .regions()
                .map(|region| record_set_identifier(&config.app, &region.name))
                .collect(),
        })
    }
}

/// Removes the app's accelerators and Route 53 failover records, looking for the records in
/// every hosted zone (no zone is configured: global-accelerator mode).
pub async fn remove_entry_point(
    clients: &GlobalClients,
    app: &str,
    events: &Events,
    step: &str,
) -> Result<EntryRemoval> {
    remove_entry_point_in(clients, None, app, events, step).await
}

/// Removes the app's accelerators and Route 53 failover records; the records are looked for in
/// `zone` when one is configured (route53 mode always has one), else in every hosted zone.
pub async fn remove_entry_point_in(
    clients: &GlobalClients,
    zone: Option<&FailoverZone>,
    app: &str,
    events: &Events,
    step: &str,
) -> Result<EntryRemoval> {
    let accelerator = remove_accelerators(clients, app, events, step).await?;
    if let Removal::Unavailable { endpoint, reason } = &accelerator {
        events.note(
            step,
            format!(
                "Global Accelerator is not available at {endpoint} ({reason}): no accelerator could be looked for or removed there; on AWS this would be an error"
            ),
        );
    }
    let route53 = remove_failover_records(clients, zone, app, events, step).await?;
    Ok(EntryRemoval {
        accelerator,
        route53,
    })
}

/// The app's accelerators (ARN, name): tagged `mysfits:app={app}`. Unavailable when the endpoint
/// has no Global Accelerator.
pub async fn find_accelerators(
    clients: &GlobalClients,
    app: &str,
) -> Result<std::result::Result<Vec<(String, String)>, Removal>> {
    let client = &clients.globalaccelerator;
    let listed = client
        .list_accelerators()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let accelerators = match listed {
        Ok(accelerators) => accelerators,
        Err(error) => {
            if let Some(unavailable) = unavailable(&clients.globalaccelerator_endpoint, &error) {
                return Ok(Err(unavailable));
            }
            return Err(aws_error(
                "ListAccelerators",
                GLOBAL_ACCELERATOR_REGION,
                &error,
            ));
        }
    };
    let mut found = Vec::new();
    for accelerator in &accelerators {
        let (Some(arn), name) = (accelerator.accelerator_arn(), accelerator.name()) else {
            continue;
        };
        if tagged_for(client, arn, app)
            .await
            .map_err(|error| aws_error("ListTagsForResource", GLOBAL_ACCELERATOR_REGION, &error))?
        {
            found.push((arn.to_string(), name.unwrap_or(arn).to_string()));
        }
    }
    Ok(Ok(found))
}

async fn remove_accelerators(
    clients: &GlobalClients,
    app: &str,
    events: &Events,
    step: &str,
) -> Result<Removal> {
    let found = match find_accelerators(clients, app).await? {
        Ok(found) => found,
        Err(unavailable) => return Ok(unavailable),
    };
    if found.is_empty() {
        return Ok(Removal::NothingFound);
    }
    // The entry point's own removal, pointed at each accelerator found by tag.
    let entry = EntryPoint {
        app: app.to_string(),
        endpoint: clients.globalaccelerator_endpoint.clone(),
        control: Control::GlobalAccelerator(clients.globalaccelerator.clone()),
        traffic: Default::default(),
    };
    let mut names = Vec::new();
    for (arn, name) in found {
        crate::entry::remove_accelerator(&entry, &arn, events, step, ACCELERATOR_DEPLOY_LIMIT)
            .await?;
        names.push(name);
    }
    Ok(Removal::Removed { names })
}

/// The app's failover or weighted records still at the configured zone's domain (by set
/// identifier), as `name set-identifier`; a zone that no longer exists holds none.
pub async fn find_records(clients: &GlobalClients, zone: &FailoverZone) -> Result<Vec<String>> {
    let Some(records) = records_at_domain(&clients.route53, zone).await? else {
        return Ok(Vec::new());
    };
    Ok(records
        .iter()
        .filter(|record| is_routed(record) && zone.has_set_identifier(record))
        .map(|record| {
            format!(
                "{} {}",
                record.name(),
                record.set_identifier().unwrap_or_default()
            )
        })
        .collect())
}

/// Every A record at the zone's domain (all pages); `None` when the zone does not exist.
async fn records_at_domain(
    client: &aws_sdk_route53::Client,
    zone: &FailoverZone,
) -> Result<Option<Vec<ResourceRecordSet>>> {
    let start = (zone.domain.clone(), RrType::A);
    let at_domain = |name: &str, kind: &RrType| dns_name(name) == zone.domain && *kind == RrType::A;
    match list_records(client, &zone.hosted_zone_id, Some(start), at_domain).await {
        Ok(records) => Ok(Some(records)),
        Err(ListError::NoSuchZone) => Ok(None),
        Err(ListError::Failed(error)) => Err(error),
    }
}

/// Health checks tagged `mysfits:app={app}`; Unavailable when the endpoint has no Route 53.
pub async fn find_health_checks(
    clients: &GlobalClients,
    app: &str,
) -> Result<std::result::Result<Vec<String>, Removal>> {
    let client = &clients.route53;
    let listed = client
        .list_health_checks()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let ids: Vec<String> = match listed {
        Ok(checks) => checks.iter().map(|check| check.id().to_string()).collect(),
        Err(error) => {
            if let Some(unavailable) = unavailable(&clients.route53_endpoint, &error) {
                return Ok(Err(unavailable));
            }
            return Err(aws_error(
                "ListHealthChecks",
                ROUTE53_CONTROL_REGION,
                &error,
            ));
        }
    };
    let mut ours = Vec::new();
    for chunk in ids.chunks(10) {
        let tagged = client
            .list_tags_for_resources()
            .resource_type(TagResourceType::Healthcheck)
            .set_resource_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|error| aws_error("ListTagsForResources", ROUTE53_CONTROL_REGION, &error))?;
        for set in tagged.resource_tag_sets() {
            let is_ours = set
                .tags()
                .iter()
                .any(|tag| tag.key() == Some(APP_TAG) && tag.value() == Some(app));
            if is_ours && let Some(id) = set.resource_id() {
                ours.push(id.to_string());
            }
        }
    }
    Ok(Ok(ours))
}

/// Deletes the app's failover records, then its health checks. With a configured zone: the
/// records at its domain that carry one of the app's set identifiers or health checks. Without
/// one (global-accelerator mode; route53 mode always has a zone): in every hosted zone, the
/// failover records using the app's health checks and their partners of the same name and type.
async fn remove_failover_records(
    clients: &GlobalClients,
    zone: Option<&FailoverZone>,
    app: &str,
    events: &Events,
    step: &str,
) -> Result<Removal> {
    let client = &clients.route53;
    let health_checks = match find_health_checks(clients, app).await? {
        Ok(found) => found,
        Err(unavailable) => return Ok(unavailable),
    };
    let mut removed = match zone {
        Some(zone) => remove_records_at_domain(client, zone, &health_checks, events, step).await?,
        None if health_checks.is_empty() => Vec::new(),
        None => remove_records_in_every_zone(client, &health_checks).await?,
    };
    removed.extend(delete_health_checks(client, &health_checks).await?);
    if removed.is_empty() {
        return Ok(Removal::NothingFound);
    }
    events.note(step, format!("removed {}", removed.join(", ")));
    Ok(Removal::Removed { names: removed })
}

/// The app's records at the configured domain: A failover or weighted records with one of its
/// set identifiers or health checks. Other records there (another app's) stay. A zone that does not
/// exist holds nothing to remove.
async fn remove_records_at_domain(
    client: &aws_sdk_route53::Client,
    zone: &FailoverZone,
    health_checks: &[String],
    events: &Events,
    step: &str,
) -> Result<Vec<String>> {
    let Some(records) = records_at_domain(client, zone).await? else {
        events.note(
            step,
            format!(
                "hosted zone {} does not exist: no failover records to remove there",
                zone.hosted_zone_id
            ),
        );
        return Ok(Vec::new());
    };
    let ours = records
        .into_iter()
        .filter(|record| {
            is_routed(record)
                && (zone.has_set_identifier(record) || uses_health_check(record, health_checks))
        })
        .collect();
    delete_records(client, &zone.hosted_zone_id, ours).await
}

/// Looks through every hosted zone (all pages of ListHostedZones) for failover records using the
/// app's health checks, and deletes them with their failover partners of the same name and type
/// (weighted records only with the app's health checks).
async fn remove_records_in_every_zone(
    client: &aws_sdk_route53::Client,
    health_checks: &[String],
) -> Result<Vec<String>> {
    let zones = client
        .list_hosted_zones()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|error| aws_error("ListHostedZones", ROUTE53_CONTROL_REGION, &error))?;
    let mut removed = Vec::new();
    for zone in &zones {
        let records = match list_records(client, zone.id(), None, |_, _| true).await {
            Ok(records) => records,
            // Deleted since it was listed: nothing of ours left in it.
            Err(ListError::NoSuchZone) => continue,
            Err(ListError::Failed(error)) => return Err(error),
        };
        let anchors: Vec<(String, RrType)> = records
            .iter()
            .filter(|record| uses_health_check(record, health_checks))
            .map(|record| (record.name().to_string(), record.r#type().clone()))
            .collect();
        // A failover record's partner (the other half of the pair at that name) is the app's
        // even when its health check is gone: a name holds one PRIMARY and one SECONDARY. A
        // weighted set may hold anyone's records, so a weighted record goes only with one of
        // the app's health checks.
        let doomed = records
            .into_iter()
            .filter(|record| {
                uses_health_check(record, health_checks)
                    || (record.failover().is_some()
                        && anchors
                            .iter()
                            .any(|(name, kind)| record.name() == name && record.r#type() == kind))
            })
            .collect();
        removed.extend(delete_records(client, zone.id(), doomed).await?);
    }
    Ok(removed)
}

/// A record of the kinds the app writes at its domain: failover records (active-passive) or
/// weighted ones (`entry_point.traffic: active-active`), both with the app's set identifiers.
fn is_routed(record: &ResourceRecordSet) -> bool {
    record.failover().is_some() || record.weight().is_some()
}

fn uses_health_check(record: &ResourceRecordSet, health_checks: &[String]) -> bool {
    record
        .health_check_id()
        .is_some_and(|id| health_checks.iter().any(|ours| ours == id))
}

/// A record name as configured domains are written: lower case, without the trailing dot.
fn dns_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Deletes `records` (exactly as listed: a DELETE must repeat every value) in one change batch,
/// which Route 53 applies all or nothing; returns their descriptions.
async fn delete_records(
    client: &aws_sdk_route53::Client,
    zone: &str,
    records: Vec<ResourceRecordSet>,
) -> Result<Vec<String>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let change_error = |error| Error::internal(format!("Route 53 change batch: {error}"));
    let mut batch = ChangeBatch::builder();
    for record in &records {
        batch = batch.changes(
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(record.clone())
                .build()
                .map_err(change_error)?,
        );
    }
    client
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch.build().map_err(change_error)?)
        .send()
        .await
        .map_err(|error| aws_error("ChangeResourceRecordSets", ROUTE53_CONTROL_REGION, &error))?;
    Ok(records
        .iter()
        .map(|record| {
            format!(
                "{} {} ({})",
                record.name(),
                record.r#type().as_str(),
                record.set_identifier().unwrap_or("-")
            )
        })
        .collect())
}

/// Deletes the health checks; one already gone counts as deleted.
async fn delete_health_checks(
    client: &aws_sdk_route53::Client,
    health_checks: &[String],
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for id in health_checks {
        match client
            .delete_health_check()
            .health_check_id(id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(error) if error_code(&error) == Some("NoSuchHealthCheck") => {}
            Err(error) => {
                return Err(aws_error(
                    "DeleteHealthCheck",
                    ROUTE53_CONTROL_REGION,
                    &error,
                ));
            }
        }
        removed.push(format!("health check {id}"));
    }
    Ok(removed)
}

/// Why a zone's records could not be listed.
enum ListError {
    NoSuchZone,
    Failed(Error),
}

/// The zone's records from `start` (name and type; the zone's first record when `None`) that
/// are `wanted`, every page of them: ListResourceRecordSets returns at most 300 records a call,
/// sorted by name (labels reversed), then type; a truncated answer names the next record (and,
/// within one name and type of failover records, its set identifier). Listing stops at the
/// first next record that is not wanted: records of one name and type are contiguous.
async fn list_records(
    client: &aws_sdk_route53::Client,
    zone: &str,
    start: Option<(String, RrType)>,
    wanted: impl Fn(&str, &RrType) -> bool,
) -> std::result::Result<Vec<ResourceRecordSet>, ListError> {
    let mut records = Vec::new();
    let (mut name, mut kind) = start.unzip();
    let mut identifier = None;
    loop {
        let listed = client
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .set_start_record_name(name)
            .set_start_record_type(kind)
            .set_start_record_identifier(identifier)
            .send()
            .await
            .map_err(|error| {
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_no_such_hosted_zone())
                {
                    ListError::NoSuchZone
                } else {
                    ListError::Failed(aws_error(
                        "ListResourceRecordSets",
                        ROUTE53_CONTROL_REGION,
                        &error,
                    ))
                }
            })?;
        records.extend(
            listed
                .resource_record_sets()
                .iter()
                .filter(|record| wanted(record.name(), record.r#type()))
                .cloned(),
        );
        let next = listed.next_record_name().zip(listed.next_record_type());
        match next {
            Some((next_name, next_kind))
                if listed.is_truncated() && wanted(next_name, next_kind) =>
            {
                name = Some(next_name.to_string());
                kind = Some(next_kind.clone());
                identifier = listed.next_record_identifier().map(str::to_string);
            }
            _ => return Ok(records),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::GlobalArgs;
    use crate::config::ConfigFile;

    fn config(entry_point: &str) -> Config {
        let global = GlobalArgs {
            regions: vec!["us-east-1".into(), "us-west-2".into()],
            ..GlobalArgs::default()
        };
        let file: ConfigFile =
            serde_yaml::from_str(&format!("app: demo\n{entry_point}")).expect("valid yaml");
        Config::resolve(&global, file).expect("valid config")
    }

    #[test]
    fn route53_mode_names_the_zone_domain_and_a_set_identifier_per_region() {
        let zone = FailoverZone::configured(&config(
            "entry_point:\n  mode: route53\n  hosted_zone_id: /hostedzone/Z0ABC\n  domain: Shop.Example.com.\n",
        ));
        assert_eq!(
            zone,
            Some(FailoverZone {
                hosted_zone_id: "Z0ABC".into(),
                domain: "shop.example.com".into(),
                set_identifiers: vec!["demo-us-east-1".into(), "demo-us-west-2".into()],
            })
        );
        assert_eq!(FailoverZone::configured(&config("")), None);
    }

    #[test]
    fn listed_names_compare_with_the_configured_domain() {
        assert_eq!(dns_name("Shop.Example.COM."), "shop.example.com");
    }
}
