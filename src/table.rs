//! The catalogue table's replicas (DynamoDB global table, version 2019.11.21): one in every
//! region of the app but home, added one at a time (the deploy plan chains the replica steps in
//! the configured order): UpdateTable takes one replica change per call, and DynamoDB refuses
//! the next one while the table is still UPDATING from the last.
//!
//! Why the replica is added with `UpdateTable ReplicaUpdates` by the CLI rather than an
//! `AWS::DynamoDB::GlobalTable` in the primary stack: the table stays an ordinary
//! `AWS::DynamoDB::Table` (no type change, which could delete it, when a region is added
//! later), adding or removing a region is one API call outside any stack update, and teardown
//! controls the order DynamoDB insists on (a replica that was a source in the last 24 hours cannot
//! be deleted). The cost: CloudFormation does not know the replica, so `status` and `teardown` look
//! it up themselves.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use aws_sdk_dynamodb::types::{
    CreateReplicationGroupMemberAction, PointInTimeRecoverySpecification,
    PointInTimeRecoveryStatus, ReplicaStatus, ReplicationGroupUpdate, StreamViewType,
    TableDescription, TableStatus, Tag,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use crate::aws::{aws_error, error_code, error_message};
use crate::error::{Error, Result};
use crate::progress::Events;
use crate::wait::{self, Backoff, poll, waiter_limit};

/// DynamoDB can take many minutes to create a replica; other tools wait up to 30.
pub const REPLICA_WAIT_LIMIT: Duration = Duration::from_secs(30 * 60);

/// TagResource takes at most 50 tags a call.
const TAGS_PER_CALL: usize = 50;

/// Where the replica stands after `ensure_replica`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaReport {
    pub table: String,
    pub region: String,
    /// ACTIVE, or UNCONFIRMED when an endpoint override (an emulator, which does not replicate)
    /// accepted the request but did not list the replica. From AWS itself that is an error.
    pub status: String,
    /// Whether this run asked DynamoDB to create the replica.
    pub created: bool,
    /// Point-in-time recovery is on for the replica (set in its own region: it is per replica).
    pub point_in_time_recovery: bool,
    /// The primary table's tags put on the replica (tags are per replica too).
    pub tags_copied: usize,
    /// Deletion protection turned on for the replica because the primary has it.
    pub deletion_protection: bool,
}

/// The two regions' DynamoDB clients and where they point.
pub struct ReplicaClients<'a> {
    pub primary: &'a aws_sdk_dynamodb::Client,
    pub primary_region: &'a str,
    /// A client of the replica's region: point-in-time recovery, tags and deletion protection
    /// are set on the replica there.
    pub replica: &'a aws_sdk_dynamodb::Client,
    pub replica_region: &'a str,
    /// Whether the clients use an endpoint override (an emulator) rather than AWS itself.
    pub endpoint_override: bool,
}

/// Makes sure `table` (in the primary region) has an ACTIVE replica in the replica region,
/// creating it if missing and waiting while it is being created, then gives the replica what
/// is per replica: point-in-time recovery, the primary's tags and its deletion protection.
///
/// The replica's status right after creating it comes from UpdateTable's own answer: DescribeTable
/// is eventually consistent and may not list the new replica yet, which while waiting is read as
/// "still creating", not as "missing".
pub async fn ensure_replica(
    clients: &ReplicaClients<'_>,
    table: &str,
    events: &Events,
    step: &str,
    limit: Duration,
) -> Result<ReplicaReport> {
    let started = Instant::now();
    let mut report = ReplicaReport {
        table: table.to_string(),
        region: clients.replica_region.to_string(),
        status: "ACTIVE".into(),
        created: false,
        point_in_time_recovery: false,
        tags_copied: 0,
        deletion_protection: false,
    };
    let described = describe(clients.primary, clients.primary_region, table).await?;
    if replica_of(&described, clients.replica_region).is_none() {
        let listed = request_replica(clients, table, &described, started, limit).await?;
        report.created = true;
        events.note(
            step,
            format!(
                "asked DynamoDB to add a replica of {table} in {}",
                clients.replica_region
            ),
        );
        if !listed {
            events.note(
                step,
                format!(
                    "the DynamoDB endpoint accepted the replica request but lists no replica in {}; \
                     this happens with emulators, which do not replicate. On AWS, check the table's replicas.",
                    clients.replica_region
                ),
            );
            report.status = "UNCONFIRMED".into();
            return Ok(report);
        }
    }
    let described = wait_for_replica(clients, table, described, started, limit).await?;
    replica_settings(clients, table, &described, &mut report, started, limit).await?;
    events.note(
        step,
        format!(
            "replica in {}: point-in-time recovery on, {} tag(s) of the primary{}",
            clients.replica_region,
            report.tags_copied,
            if report.deletion_protection {
                ", deletion protection on"
            } else {
                ""
            }
        ),
    );
    Ok(report)
}
/// Asks DynamoDB for the replica (after the table is ACTIVE: one table change at a time). True
/// when UpdateTable's answer lists it; false when an endpoint override (an emulator) accepted the
/// request without listing it; an error when AWS itself does that.
async fn request_replica(
    clients: &ReplicaClients<'_>,
    table: &str,
    described: &TableDescription,
    started: Instant,
    limit: Duration,
) -> Result<bool> {
    let (primary_region, replica_region) = (clients.primary_region, clients.replica_region);
    check_streams(described, table, primary_region)?;
    // UpdateTable is refused while the table is UPDATING (e.g. from the replica added before).
    if described
        .table_status()
        .is_some_and(|status| status != &TableStatus::Active)
    {
        wait_until_table_active(clients.primary, primary_region, table, started, limit).await?;
    }
    let create = CreateReplicationGroupMemberAction::builder()
        .region_name(replica_region)
        .build()
        .map_err(|error| {
            Error::internal(format!("replica request for {replica_region}: {error}"))
        })?;
    // One replica update per UpdateTable call.
    let update = ReplicationGroupUpdate::builder().create(create).build();
    let answer = send_retrying(
        "UpdateTable (add replica)",
        primary_region,
        &["ResourceInUseException", "LimitExceededException"],
        started,
        limit,
        || {
            clients
                .primary
                .update_table()
                .table_name(table)
                .replica_updates(update.clone())
                .send()
        },
    )
    .await?;
    let listed = answer
        .table_description()
        .and_then(|answered| replica_of(answered, replica_region))
        .is_some();
    if listed || clients.endpoint_override {
        return Ok(listed);
    }
    Err(Error::Aws {
        operation: "UpdateTable (add replica)".into(),
        region: primary_region.to_string(),
        message: format!(
            "DynamoDB accepted the request but its answer lists no replica of {table} in {replica_region}"
        ),
        fix: format!(
            "check `aws dynamodb describe-table --table-name {table} --region {primary_region}` (Replicas), then deploy again"
        ),
    })
}

/// Waits until the replica is ACTIVE, starting from `described`; its final description.
async fn wait_for_replica(
    clients: &ReplicaClients<'_>,
    table: &str,
    described: TableDescription,
    started: Instant,
    limit: Duration,
) -> Result<TableDescription> {
    let (primary_region, replica_region) = (clients.primary_region, clients.replica_region);
    // The first look is at `described`; the next ones describe the table again.
    let first = Mutex::new(Some(described));
    let active = || async {
        let first = first.lock().unwrap_or_else(PoisonError::into_inner).take();
        let described = match first {
            Some(described) => described,
            None => describe(clients.primary, primary_region, table).await?,
        };
        match replica_of(&described, replica_region) {
            Some(ReplicaStatus::Active) => Ok(Some(described)),
            Some(failed) if failed_replica(&failed) => Err(replica_failure(
                &failed,
                table,
                primary_region,
                replica_region,
            )),
            // CREATING, UPDATING, ...; or not listed yet by an eventually consistent DescribeTable.
            _ => Ok(None),
        }
    };
    let backoff = Backoff {
        first: Duration::from_millis(200),
        growth_percent: 160,
        max: Duration::from_secs(15),
        limit: limit.saturating_sub(started.elapsed()),
    };
    poll(backoff, active, |_| Error::Timeout {
        what: format!("the replica of {table} in {replica_region} to become ACTIVE"),
        waited: started.elapsed(),
        fix: "replicas of large tables take long; run deploy again later: it picks up the waiting"
            .into(),
    })
    .await
}

/// Replica states that end the wait: it will never become ACTIVE by itself.
fn failed_replica(status: &ReplicaStatus) -> bool {
    matches!(
        status,
        ReplicaStatus::CreationFailed | ReplicaStatus::InaccessibleEncryptionCredentials
    )
}

fn replica_failure(
    status: &ReplicaStatus,
    table: &str,
    primary_region: &str,
    replica_region: &str,
) -> Error {
    if *status == ReplicaStatus::InaccessibleEncryptionCredentials {
        return Error::Aws {
            operation: "replica creation".into(),
            region: replica_region.to_string(),
            message: "the replica cannot use its KMS key".into(),
            fix: "grant DynamoDB access to the table's KMS key in the replica region, then deploy again".into(),
        };
    }
    Error::Aws {
        operation: "replica creation".into(),
        region: replica_region.to_string(),
        message: format!("the replica of {table} in {replica_region} failed to be created"),
        fix: format!(
            "see `aws dynamodb describe-table --table-name {table} --region {primary_region}` \
             (ReplicaStatusDescription), fix the cause (e.g. a table of that name already exists in \
             {replica_region}), then deploy again"
        ),
    }
}

/// What is per replica, set in the replica's region once it is ACTIVE.
async fn replica_settings(
    clients: &ReplicaClients<'_>,
    table: &str,
    primary: &TableDescription,
    report: &mut ReplicaReport,
    started: Instant,
    limit: Duration,
) -> Result<()> {
    let region = clients.replica_region;
    ensure_point_in_time_recovery(clients, table, started, limit).await?;
    report.point_in_time_recovery = true;

    let replica_described = send_retrying(
        "DescribeTable (replica)",
        region,
        &["ResourceNotFoundException"],
        started,
        limit,
        || clients.replica.describe_table().table_name(table).send(),
    )
    .await?;
    let replica = replica_described
        .table()
        .cloned()
        .unwrap_or_else(|| TableDescription::builder().build());
    let (Some(primary_arn), Some(replica_arn)) = (primary.table_arn(), replica.table_arn()) else {
        return Err(Error::config(
            format!("DescribeTable of {table} returned no table ARN"),
            "deploy again",
        ));
    };
    let tags = copyable_tags(clients.primary, clients.primary_region, primary_arn).await?;
    // Only what the replica lacks: a redeploy with everything in place writes nothing.
    let present = copyable_tags(clients.replica, region, replica_arn).await?;
    let missing: Vec<Tag> = tags
        .iter()
        .filter(|tag| !present.contains(tag))
        .cloned()
        .collect();
    for chunk in missing.chunks(TAGS_PER_CALL) {
        send_retrying(
            "TagResource (replica)",
            region,
            &["ResourceInUseException", "LimitExceededException"],
            started,
            limit,
            || {
                clients
                    .replica
                    .tag_resource()
                    .resource_arn(replica_arn)
                    .set_tags(Some(chunk.to_vec()))
                    .send()
            },
        )
        .await?;
    }
    report.tags_copied = tags.len();

    if primary.deletion_protection_enabled() == Some(true)
        && replica.deletion_protection_enabled() != Some(true)
    {
        send_retrying(
            "UpdateTable (replica deletion protection)",
            region,
            &["ResourceInUseException", "LimitExceededException"],
            started,
            limit,
            || {
                clients
                    .replica
                    .update_table()
                    .table_name(table)
                    .deletion_protection_enabled(true)
                    .send()
            },
        )
        .await?;
        report.deletion_protection = true;
    }
    Ok(())
}

/// A table's tags that may be copied (not the reserved aws:* ones).
async fn copyable_tags(
    client: &aws_sdk_dynamodb::Client,
    region: &str,
    table_arn: &str,
) -> Result<Vec<Tag>> {
    // ListTagsOfResource pages with NextToken (the SDK has no paginator for it).
    let mut tags: Vec<Tag> = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let listed = client
            .list_tags_of_resource()
            .resource_arn(table_arn)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| aws_error("ListTagsOfResource", region, &error))?;
        // aws:* tags (CloudFormation's) are reserved: TagResource refuses them.
        tags.extend(
            listed
                .tags()
                .iter()
                .filter(|tag| !tag.key().starts_with("aws:"))
                .cloned(),
        );
        match listed.next_token() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
            _ => break,
        }
    }
    Ok(tags)
}

/// Point-in-time recovery in the replica's region (it is per replica), switched on unless
/// DescribeContinuousBackups says it is on already (a redeploy writes nothing then).
async fn ensure_point_in_time_recovery(
    clients: &ReplicaClients<'_>,
    table: &str,
    started: Instant,
    limit: Duration,
) -> Result<()> {
    let region = clients.replica_region;
    // Any failure here (the replica still settling, no permission to read) leaves it to the
    // update below, which retries what is transient and reports the rest.
    if let Ok(described) = clients
        .replica
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
    {
        let status = described
            .continuous_backups_description()
            .and_then(|backups| backups.point_in_time_recovery_description())
            .and_then(|pitr| pitr.point_in_time_recovery_status());
        if status == Some(&PointInTimeRecoveryStatus::Enabled) {
            return Ok(());
        }
    }
    // Refused with ContinuousBackupsUnavailable (or TableNotFound) while the replica is still
    // settling in its region: retried until the limit.
    let pitr = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .build()
        .map_err(|error| Error::internal(format!("PITR request: {error}")))?;
    send_retrying(
        "UpdateContinuousBackups (replica)",
        region,
        &[
            "ContinuousBackupsUnavailableException",
            "TableNotFoundException",
            "ResourceNotFoundException",
        ],
        started,
        limit,
        || {
            clients
                .replica
                .update_continuous_backups()
                .table_name(table)
                .point_in_time_recovery_specification(pitr.clone())
                .send()
        },
    )
    .await?;
    Ok(())
}

/// Global tables replicate through streams with both images: say so before DynamoDB refuses.
fn check_streams(described: &TableDescription, table: &str, region: &str) -> Result<()> {
    let streams = described.stream_specification();
    let both_images = streams.is_some_and(|streams| {
        streams.stream_enabled()
            && streams.stream_view_type() == Some(&StreamViewType::NewAndOldImages)
    });
    if both_images {
        return Ok(());
    }
    Err(Error::config(
        format!(
            "table {table} in {region} has {}: a replica needs streams with NEW_AND_OLD_IMAGES",
            streams
                .and_then(|streams| streams.stream_view_type())
                .map(|view| format!("streams of {}", view.as_str()))
                .unwrap_or_else(|| "no stream".into())
        ),
        "deploy the app stack again (its template turns the stream on), then deploy again",
    ))
}

async fn describe(
    client: &aws_sdk_dynamodb::Client,
    region: &str,
    table: &str,
) -> Result<TableDescription> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|error| aws_error("DescribeTable", region, &error))?;
    Ok(described
        .table()
        .cloned()
        .unwrap_or_else(|| TableDescription::builder().build()))
}

/// Waits until the table is ACTIVE again (a change of it still runs: an earlier replica being
/// added, for one) with the SDK's `table_exists` waiter, which succeeds on `Table.TableStatus ==
/// ACTIVE`. Nothing is streamed meanwhile, so the generated waiter is all that is needed.
async fn wait_until_table_active(
    client: &aws_sdk_dynamodb::Client,
    region: &str,
    table: &str,
    started: Instant,
    limit: Duration,
) -> Result<TableDescription> {
    use aws_sdk_dynamodb::client::Waiters;
    use aws_smithy_runtime_api::client::waiters::error::WaiterError;

    let timeout = || Error::Timeout {
        what: format!("table {table} in {region} to be ACTIVE before adding the replica"),
        waited: started.elapsed(),
        fix: "another change of the table is still running; deploy again later".into(),
    };
    let remaining = limit.saturating_sub(started.elapsed());
    if remaining.is_zero() {
        return Err(timeout());
    }
    let waiter = client
        .wait_until_table_exists()
        .table_name(table)
        .wait(remaining);
    let Some(waited) = waiter_limit(remaining, waiter).await else {
        return Err(timeout());
    };
    match waited {
        Ok(done) => Ok(done
            .into_result()
            .ok()
            .and_then(|answer| answer.table)
            .unwrap_or_else(|| TableDescription::builder().build())),
        Err(WaiterError::ExceededMaxWait(_)) => Err(timeout()),
        Err(WaiterError::OperationFailed(failed)) => {
            Err(aws_error("DescribeTable", region, failed.error()))
        }
        Err(other) => Err(Error::Aws {
            operation: "DescribeTable (waiting for ACTIVE)".into(),
            region: region.to_string(),
            message: other.to_string(),
            fix: format!(
                "check `aws dynamodb describe-table --table-name {table} --region {region}`, then deploy again"
            ),
        }),
    }
}

/// Sends until DynamoDB stops refusing with one of `retry_codes` (a change in progress, a
/// replica still settling), backing off, for at most `limit` since `started`.
async fn send_retrying<T, E, F, Fut>(
    operation: &str,
    region: &str,
    retry_codes: &[&str],
    started: Instant,
    limit: Duration,
    send: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let retryable = |error: &SdkError<E, HttpResponse>| {
        error_code(error).is_some_and(|code| retry_codes.contains(&code))
    };
    let backoff = Backoff::doubling(
        Duration::from_millis(500),
        Duration::from_secs(15),
        limit.saturating_sub(started.elapsed()),
    );
    match wait::retry(backoff, send, retryable).await {
        Ok(answer) => Ok(answer),
        Err(error) if retryable(&error) => Err(Error::Timeout {
            what: format!(
                "{operation} in {region} to be accepted (last refusal: {})",
                error_message(&error)
            ),
            waited: started.elapsed(),
            fix: "the table is still busy; run deploy again later: it picks up where it stopped"
                .into(),
        }),
        Err(error) => Err(aws_error(operation, region, &error)),
    }
}

fn replica_of(described: &TableDescription, replica_region: &str) -> Option<ReplicaStatus> {
    described
        .replicas()
        .iter()
        .find(|replica| replica.region_name() == Some(replica_region))
        .map(|replica| {
            replica
                .replica_status()
                .cloned()
                .unwrap_or(ReplicaStatus::Creating)
        })
}
