//! The catalogue table at teardown: on-demand backup, removal of the replicas (one per region
//! other than home, one UpdateTable at a time: while the table is UPDATING DynamoDB takes no
//! other UpdateTable), deletion.
//!
//! DynamoDB refuses some deletions for a while, and says so only in a ValidationException's
//! message (there is no dedicated error code), so those two documented messages are classified
//! here, together with the code:
//! - a table that was the source for adding a replica cannot be deleted for 24 hours
//!   ("... has acted as a source region for new replica(s) being added to the table in the last
//!   24 hours");
//! - the last replica cannot be deleted until all writes have replicated ("... cannot be deleted
//!   until all writes are replicated").
//!
//! The first is final for a day: teardown says when to retry. The second drains by itself: it is
//! retried for a while, then reported the same way.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    BackupStatus, DeleteReplicationGroupMemberAction, ReplicationGroupUpdate, TableStatus,
};
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::Serialize;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::{aws_error, error_code, error_message};
use crate::error::{Error, Result};
use crate::progress::Events;
use crate::wait::{Backoff, poll, waiter_limit};

/// On-demand backups of small tables take seconds; large ones minutes.
pub const BACKUP_WAIT_LIMIT: Duration = Duration::from_secs(30 * 60);
/// Removing a replica (and waiting out replication) can take many minutes.
pub const REPLICA_REMOVAL_LIMIT: Duration = Duration::from_secs(30 * 60);
/// DynamoDB's rule for a replica's source table.
const SOURCE_LOCK: Duration = Duration::from_secs(24 * 60 * 60);

/// The backup teardown took before the table went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupInfo {
    pub name: String,
    pub arn: String,
    pub table: String,
    pub region: String,
}

/// Why DynamoDB refused to delete a table or a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The table was the source for adding a replica less than 24 hours ago.
    SourceWithin24Hours,
    /// The last replica still has writes to replicate.
    ReplicationDraining,
    /// Another change to the table is in progress.
    Busy,
}

/// Classifies a refused DynamoDB deletion by error code and the documented message.
pub fn classify_refusal(code: Option<&str>, message: &str) -> Option<Refusal> {
    match code {
        Some("ValidationException") if message.contains("acted as a source region") => {
            Some(Refusal::SourceWithin24Hours)
        }
        Some("ValidationException")
            if message.contains("cannot be deleted until all writes are replicated") =>
        {
            Some(Refusal::ReplicationDraining)
        }
        Some("ResourceInUseException") => Some(Refusal::Busy),
        _ => None,
    }
}

/// Takes an on-demand backup of `table` and waits until it is AVAILABLE; None when there is no
/// table (nothing to lose).
pub async fn take_backup(
    client: &aws_sdk_dynamodb::Client,
    region: &str,
    table: &str,
    app: &str,
    events: &Events,
    step: &str,
    limit: Duration,
) -> Result<Option<BackupInfo>> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => {}
        Err(error) if error_code(&error) == Some("ResourceNotFoundException") => return Ok(None),
        Err(error) => return Err(aws_error("DescribeTable", region, &error)),
    }
    let (name, arn) = create_backup(client, region, table, app).await?;
    events.note(
        step,
        format!("backing up {table} as {name} before it is deleted"),
    );
    let backoff = Backoff::doubling(Duration::from_millis(200), Duration::from_secs(10), limit);
    let available = || async {
        let described = client
            .describe_backup()
            .backup_arn(&arn)
            .send()
            .await
            .map_err(|error| aws_error("DescribeBackup", region, &error))?;
        let status = described
            .backup_description()
            .and_then(|description| description.backup_details())
            .map(|details| details.backup_status().clone());
        match status {
            Some(BackupStatus::Available) => Ok(Some(())),
            Some(BackupStatus::Deleted) => Err(Error::Aws {
                operation: "CreateBackup".into(),
                region: region.to_string(),
                message: format!("backup {name} of {table} was deleted while being created"),
                fix: "run teardown again; the table has not been touched".into(),
            }),
            _ => Ok(None),
        }
    };
    poll(backoff, available, |waited| Error::Timeout {
        what: format!("backup {name} of {table} to become AVAILABLE in {region}"),
        waited,
        fix: "large tables take long to back up; run teardown again later (the table is kept until a backup is available)".into(),
    })
    .await?;
    Ok(Some(BackupInfo {
        name,
        arn,
        table: table.to_string(),
        region: region.to_string(),
    }))
}

/// Starts an on-demand backup named after the app and the time; its name and ARN.
async fn create_backup(
    client: &aws_sdk_dynamodb::Client,
    region: &str,
    table: &str,
    app: &str,
) -> Result<(String, String)> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default();
    let name = crate::app::names::table_backup(app, stamp);
    let created = client
        .create_backup()
        .table_name(table)
        .backup_name(&name)
        .send()
        .await
        .map_err(|error| {
            let mut error = aws_error("CreateBackup", region, &error);
            if let Error::Aws { fix, .. } = &mut error {
                *fix = format!(
                    "nothing was deleted from the table; fix the cause and run teardown again, or pass --keep-data to keep {table}"
                );
            }
            error
        })?;
    let arn = created
        .backup_details()
        .map(|details| details.backup_arn().to_string())
        .unwrap_or_default();
    Ok((name, arn))
}

/// What became of the replica in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaRemoval {
    pub region: String,
    /// True when the table listed the replica and it was removed; false when there was none.
    pub removed: bool,
    /// When the replica's table was created (for DynamoDB's 24-hour rule on the source table).
    #[serde(skip)]
    pub replica_created: Option<DateTime>,
}

impl ReplicaRemoval {
    pub fn summary(&self) -> String {
        if self.removed {
            format!("replica in {} removed", self.region)
        } else {
            format!("the table lists no replica in {}", self.region)
        }
    }
}

/// Removes the replica in `replica_region` from the global table (UpdateTable ReplicaUpdates
/// Delete, sent to the primary) and waits until it is gone.
#[allow(clippy::too_many_arguments)]
pub async fn remove_replica(
    primary: &aws_sdk_dynamodb::Client,
    primary_region: &str,
    replica: &aws_sdk_dynamodb::Client,
    replica_region: &str,
    table: &str,
    events: &Events,
    step: &str,
    limit: Duration,
) -> Result<ReplicaRemoval> {
    let removal = |removed, replica_created| ReplicaRemoval {
        region: replica_region.to_string(),
        removed,
        replica_created,
    };
    if !lists_replica(primary, primary_region, table, replica_region).await? {
        return Ok(removal(false, None));
    }
    let replica_created = replica
        .describe_table()
        .table_name(table)
        .send()
        .await
        .ok()
        .and_then(|described| described.table()?.creation_date_time().cloned());
    let started = tokio::time::Instant::now();
    let update = ReplicationGroupUpdate::builder()
        .delete(
            DeleteReplicationGroupMemberAction::builder()
                .region_name(replica_region)
                .build()
                .map_err(|error| {
                    Error::internal(format!(
                        "replica removal request for {replica_region}: {error}"
                    ))
                })?,
        )
        .build();
    let refusals = Refusals {
        operation: "UpdateTable (remove replica)",
        region: primary_region,
        table,
        replica_created,
        events,
        step,
        limit,
    };
    refusals
        .send_until_accepted(|| async {
            primary
                .update_table()
                .table_name(table)
                .replica_updates(update.clone())
                .send()
                .await
                .map(|_| ())
        })
        .await?;
    events.note(
        step,
        format!("asked DynamoDB to remove the replica of {table} in {replica_region}"),
    );
    let remaining = limit.saturating_sub(started.elapsed());
    wait_until_replica_gone(primary, primary_region, table, replica_region, remaining).await?;
    Ok(removal(true, replica_created))
}

/// Polls until the replica is no longer listed and the table is ACTIVE again: only then does
/// DynamoDB take the next UpdateTable (the next region's replica removal).
async fn wait_until_replica_gone(
    primary: &aws_sdk_dynamodb::Client,
    primary_region: &str,
    table: &str,
    replica_region: &str,
    limit: Duration,
) -> Result<()> {
    let backoff = Backoff::doubling(Duration::from_millis(500), Duration::from_secs(15), limit);
    let removed = || async {
        let state = replica_state(primary, primary_region, table, replica_region).await?;
        Ok((!state.listed && state.table_settled).then_some(()))
    };
    poll(backoff, removed, |waited| Error::Timeout {
        what: format!(
            "the replica of {table} in {replica_region} to be removed (and the table to be ACTIVE again)"
        ),
        waited,
        fix: "DynamoDB is still removing it; run teardown again later: it picks up the waiting".into(),
    })
    .await
}

/// What the home table says about one replica.
struct ReplicaState {
    /// The table lists a replica in the region (in any state).
    listed: bool,
    /// The table is ACTIVE (no update in progress) or gone.
    table_settled: bool,
}

/// The table's replica in `replica_region` as the home table describes it.
async fn replica_state(
    client: &aws_sdk_dynamodb::Client,
    region: &str,
    table: &str,
    replica_region: &str,
) -> Result<ReplicaState> {
    match client.describe_table().table_name(table).send().await {
        Ok(described) => {
            let description = described.table();
            let listed = description
                .map(|table| table.replicas())
                .unwrap_or_default()
                .iter()
                .any(|replica| replica.region_name() == Some(replica_region));
            // An answer without a status (as an emulator may give) is taken as settled.
            let table_settled = description
                .and_then(|table| table.table_status())
                .is_none_or(|status| *status == TableStatus::Active);
            Ok(ReplicaState {
                listed,
                table_settled,
            })
        }
        Err(error) if error_code(&error) == Some("ResourceNotFoundException") => Ok(ReplicaState {
            listed: false,
            table_settled: true,
        }),
        Err(error) => Err(aws_error("DescribeTable", region, &error)),
    }
}

/// Whether the table in the home region lists a replica in `replica_region` (in any state).
async fn lists_replica(
    client: &aws_sdk_dynamodb::Client,
    region: &str,
    table: &str,
    replica_region: &str,
) -> Result<bool> {
    match client.describe_table().table_name(table).send().await {
        Ok(described) => Ok(described
            .table()
            .map(|table| table.replicas())
            .unwrap_or_default()
            .iter()
            .any(|replica| replica.region_name() == Some(replica_region))),
        Err(error) if error_code(&error) == Some("ResourceNotFoundException") => Ok(false),
        Err(error) => Err(aws_error("DescribeTable", region, &error)),
    }
}

/// Deletes the table (after its stack let go of it) and waits until it is gone.
#[allow(clippy::too_many_arguments)]
pub async fn delete_table(
    client: &aws_sdk_dynamodb::Client,
    region: &str,
    table: &str,
    replica_created: Option<DateTime>,
    events: &Events,
    step: &str,
    limit: Duration,
) -> Result<String> {
    let started = tokio::time::Instant::now();
    let refusals = Refusals {
        operation: "DeleteTable",
        region,
        table,
        replica_created,
        events,
        step,
        limit,
    };
    let existed = refusals
        .send_until_accepted(|| async {
            match client.delete_table().table_name(table).send().await {
                Ok(_) => Ok(true),
                Err(error) if error_code(&error) == Some("ResourceNotFoundException") => Ok(false),
                Err(error) => Err(error),
            }
        })
        .await?;
    if !existed {
        return Ok(format!("no table {table}"));
    }
    // The SDK's table_not_exists waiter: done on ResourceNotFoundException, polling otherwise.
    let remaining = limit.saturating_sub(started.elapsed());
    let waiter = client
        .wait_until_table_not_exists()
        .table_name(table)
        .wait(remaining);
    let timeout = |waited| Error::Timeout {
        what: format!("table {table} to be deleted in {region}"),
        waited,
        fix: "run teardown again later: it picks up the waiting".into(),
    };
    match waiter_limit(remaining, waiter).await {
        Some(Ok(_)) => Ok(format!("table {table} deleted")),
        None | Some(Err(WaiterError::ExceededMaxWait(_))) => Err(timeout(started.elapsed())),
        Some(Err(WaiterError::OperationFailed(failed))) => {
            Err(aws_error("DescribeTable", region, failed.error()))
        }
        Some(Err(other)) => Err(crate::aws::describe::waiter_error(
            "DescribeTable",
            region,
            &other,
        )),
    }
}

/// A table change that DynamoDB may refuse for a while (replication draining, another change in
/// progress: waited out until `limit`) or for a day (a replica that was a source in the last 24 h:
/// explained with the earliest retry time).
struct Refusals<'a> {
    operation: &'static str,
    region: &'a str,
    table: &'a str,
    replica_created: Option<DateTime>,
    events: &'a Events,
    step: &'a str,
    limit: Duration,
}

impl Refusals<'_> {
    async fn send_until_accepted<T, E, F, Fut>(&self, mut send: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let backoff =
            Backoff::doubling(Duration::from_secs(2), Duration::from_secs(30), self.limit);
        // The last refusal waited out, for the error once the limit has passed.
        let last_refusal: Mutex<Option<(String, Refusal)>> = Mutex::new(None);
        let attempt = || {
            let sent = send();
            async {
                let error = match sent.await {
                    Ok(accepted) => return Ok(Some(accepted)),
                    Err(error) => error,
                };
                let message = error_message(&error);
                match classify_refusal(error_code(&error), &message) {
                    Some(Refusal::SourceWithin24Hours) => Err(source_lock_error(
                        self.operation,
                        self.region,
                        self.table,
                        &message,
                        self.replica_created,
                    )),
                    Some(refusal @ (Refusal::ReplicationDraining | Refusal::Busy)) => {
                        self.events
                            .note(self.step, waiting_note(refusal, self.table));
                        *last_refusal
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                            Some((message, refusal));
                        Ok(None)
                    }
                    None => Err(aws_error(self.operation, self.region, &error)),
                }
            }
        };
        poll(backoff, attempt, |_| {
            let (message, refusal) = last_refusal
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take()
                .unwrap_or_else(|| ("refused".into(), Refusal::Busy));
            retry_later_error(self.operation, self.region, self.table, &message, refusal)
        })
        .await
    }
}

fn waiting_note(refusal: Refusal, table: &str) -> String {
    match refusal {
        Refusal::ReplicationDraining => format!(
            "DynamoDB is still replicating writes of {table}; the last replica can only go once they are replicated: waiting"
        ),
        _ => format!("{table} is busy with another change; waiting"),
    }
}

/// The 24-hour rule: final until then, so say when to come back.
fn source_lock_error(
    operation: &str,
    region: &str,
    table: &str,
    message: &str,
    replica_created: Option<DateTime>,
) -> Error {
    let earliest = replica_created
        .and_then(|created| {
            let retry = DateTime::from_secs(created.secs() + SOURCE_LOCK.as_secs() as i64);
            Some(format!(
                "at {} (24 hours after the replica was added at {})",
                retry.fmt(Format::DateTime).ok()?,
                created.fmt(Format::DateTime).ok()?
            ))
        })
        .unwrap_or_else(|| "24 hours after the replica was added (DynamoDB does not report when; check the replica's creation time)".to_string());
    Error::Aws {
        operation: operation.to_string(),
        region: region.to_string(),
        message: format!(
            "{message}. DynamoDB does not let a table that was the source of a new replica be deleted for 24 hours; table {table} stays until then"
        ),
        fix: format!(
            "run `mysfits teardown` again {earliest} at the earliest; everything that does not depend on the table is removed now"
        ),
    }
}

fn retry_later_error(
    operation: &str,
    region: &str,
    table: &str,
    message: &str,
    refusal: Refusal,
) -> Error {
    let why = match refusal {
        Refusal::ReplicationDraining => {
            "the last replica can only be deleted once all writes have replicated, and they still had not"
        }
        _ => "the table stayed busy with another change",
    };
    Error::Aws {
        operation: operation.to_string(),
        region: region.to_string(),
        message: format!("{message} ({why}); table {table} stays for now"),
        fix: "run `mysfits teardown` again in a few minutes: it picks up where it stopped".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_classified_by_code_and_documented_message() {
        assert_eq!(
            classify_refusal(
                Some("ValidationException"),
                "ValidationException: Replica cannot be deleted because it has acted as a source region for new replica(s) being added to the table in the last 24 hours."
            ),
            Some(Refusal::SourceWithin24Hours)
        );
        assert_eq!(
            classify_refusal(
                Some("ValidationException"),
                "The last active replica of table: 'demo-mysfits'  in region: 'us-west-2' cannot be deleted until all writes are replicated."
            ),
            Some(Refusal::ReplicationDraining)
        );
        assert_eq!(
            classify_refusal(Some("ResourceInUseException"), "in use"),
            Some(Refusal::Busy)
        );
        assert_eq!(
            classify_refusal(Some("AccessDeniedException"), "acted as a source region"),
            None,
            "the message alone classifies nothing"
        );
        assert_eq!(
            classify_refusal(Some("ValidationException"), "bad key"),
            None
        );
    }

    #[test]
    fn the_source_lock_error_names_the_earliest_retry_time() {
        let created = DateTime::from_secs(1_700_000_000);
        let error = source_lock_error(
            "DeleteTable",
            "us-east-1",
            "demo-mysfits",
            "ValidationException: ...",
            Some(created),
        );
        let text = error.to_string();
        assert!(text.contains("at 2023-11-15T22:13:20Z"), "{text}");
        assert!(text.contains("run `mysfits teardown` again"), "{text}");
    }
}
