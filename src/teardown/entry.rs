//! Removal of the global entry point: the Global Accelerator named and tagged `{app}` (control
//! plane in us-west-2) and, for the Route 53 mode, the failover records tied to the app's tagged
//! health checks. Teardown removes these first so that no traffic reaches what goes next.
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

use crate::aws::{
    GLOBAL_ACCELERATOR_REGION, Patience, aws_error, error_code, sdk_config_for, service_missing,
};
use crate::config::{APP_TAG, Config, ROUTE53_CONTROL_REGION};
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

/// Removes the app's accelerators and Route 53 failover records.
pub async fn remove_entry_point(
    clients: &GlobalClients,
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
    let route53 = remove_failover_records(clients, app, events, step).await?;
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
    };
    let mut names = Vec::new();
    for (arn, name) in found {
        crate::entry::remove_accelerator(&entry, &arn, events, step, ACCELERATOR_DEPLOY_LIMIT)
            .await?;
        names.push(name);
    }
    Ok(Removal::Removed { names })
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

/// Deletes the failover records that use the app's health checks (and their failover partners
/// of the same name and type), then the health checks.
async fn remove_failover_records(
    clients: &GlobalClients,
    app: &str,
    events: &Events,
    step: &str,
) -> Result<Removal> {
    let client = &clients.route53;
    let health_checks = match find_health_checks(clients, app).await? {
        Ok(found) => found,
        Err(unavailable) => return Ok(unavailable),
    };
    if health_checks.is_empty() {
        return Ok(Removal::NothingFound);
    }
    let mut removed = Vec::new();
    let zones = client
        .list_hosted_zones()
        .send()
        .await
        .map_err(|error| aws_error("ListHostedZones", ROUTE53_CONTROL_REGION, &error))?;
    for zone in zones.hosted_zones() {
        let records = all_records(client, zone.id()).await?;
        let anchors: Vec<(String, RrType)> = records
            .iter()
            .filter(|record| {
                record
                    .health_check_id()
                    .is_some_and(|id| health_checks.iter().any(|ours| ours == id))
            })
            .map(|record| (record.name().to_string(), record.r#type().clone()))
            .collect();
        let doomed: Vec<ResourceRecordSet> = records
            .into_iter()
            .filter(|record| {
                record.failover().is_some()
                    && anchors
                        .iter()
                        .any(|(name, kind)| record.name() == name && record.r#type() == kind)
            })
            .collect();
        if doomed.is_empty() {
            continue;
        }
        let mut batch = ChangeBatch::builder();
        for record in &doomed {
            batch = batch.changes(
                Change::builder()
                    .action(ChangeAction::Delete)
                    .resource_record_set(record.clone())
                    .build()
                    .map_err(|error| {
                        Error::config(format!("Route 53 change: {error}"), "report this bug")
                    })?,
            );
        }
        client
            .change_resource_record_sets()
            .hosted_zone_id(zone.id())
            .change_batch(batch.build().map_err(|error| {
                Error::config(format!("Route 53 change: {error}"), "report this bug")
            })?)
            .send()
            .await
            .map_err(|error| {
                aws_error("ChangeResourceRecordSets", ROUTE53_CONTROL_REGION, &error)
            })?;
        removed.extend(doomed.iter().map(|record| {
            format!(
                "{} {} ({})",
                record.name(),
                record.r#type().as_str(),
                record.set_identifier().unwrap_or("-")
            )
        }));
    }
    for id in &health_checks {
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
    events.note(step, format!("removed {}", removed.join(", ")));
    Ok(Removal::Removed { names: removed })
}

async fn all_records(
    client: &aws_sdk_route53::Client,
    zone: &str,
) -> Result<Vec<ResourceRecordSet>> {
    let mut records = Vec::new();
    let (mut name, mut kind, mut identifier) = (None, None, None);
    loop {
        let listed = client
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .set_start_record_name(name)
            .set_start_record_type(kind)
            .set_start_record_identifier(identifier)
            .send()
            .await
            .map_err(|error| aws_error("ListResourceRecordSets", ROUTE53_CONTROL_REGION, &error))?;
        records.extend(listed.resource_record_sets().iter().cloned());
        if !listed.is_truncated() {
            return Ok(records);
        }
        name = listed.next_record_name().map(str::to_string);
        kind = listed.next_record_type().cloned();
        identifier = listed.next_record_identifier().map(str::to_string);
    }
}
