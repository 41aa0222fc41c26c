//! The catalogue table's disaster-recovery replica (DynamoDB global table, version 2019.11.21).
//!
//! Why the replica is added with `UpdateTable ReplicaUpdates` by the CLI rather than an
//! `AWS::DynamoDB::GlobalTable` in the primary stack: the table stays an ordinary
//! `AWS::DynamoDB::Table` (no type change, which could delete it, when a secondary region is added
//! later), adding or removing the DR region is one API call outside any stack update, and teardown
//! controls the order DynamoDB insists on (a replica that was a source in the last 24 hours cannot
//! be deleted). The cost: CloudFormation does not know the replica, so `status` and `teardown` look
//! it up themselves.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    CreateReplicationGroupMemberAction, ReplicaStatus, ReplicationGroupUpdate,
};
use serde::Serialize;

use crate::aws::aws_error;
use crate::error::{Error, Result};
use crate::progress::Events;

/// DynamoDB can take many minutes to create a replica; other tools wait up to 30.
pub const REPLICA_WAIT_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Where the replica stands after `ensure_replica`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaReport {
    pub table: String,
    pub region: String,
    /// ACTIVE, or UNCONFIRMED when the endpoint accepted the request but never listed the replica
    /// (emulators do this: they do not replicate).
    pub status: String,
    /// Whether this run asked DynamoDB to create the replica.
    pub created: bool,
}

/// Makes sure `table` (in the primary region of `primary`) has an ACTIVE replica in
/// `replica_region`, creating it if missing and waiting while it is being created.
pub async fn ensure_replica(
    primary: &aws_sdk_dynamodb::Client,
    primary_region: &str,
    table: &str,
    replica_region: &str,
    events: &Events,
    step: &str,
    limit: Duration,
) -> Result<ReplicaReport> {
    let mut created = false;
    if replica_status(primary, primary_region, table, replica_region)
        .await?
        .is_none()
    {
        let create = CreateReplicationGroupMemberAction::builder()
            .region_name(replica_region)
            .build()
            .map_err(|error| {
                Error::config(
                    format!("replica request for {replica_region}: {error}"),
                    "report this bug",
                )
            })?;
        primary
            .update_table()
            .table_name(table)
            .replica_updates(ReplicationGroupUpdate::builder().create(create).build())
            .send()
            .await
            .map_err(|error| aws_error("UpdateTable (add replica)", primary_region, &error))?;
        created = true;
        events.note(
            step,
            format!("asked DynamoDB to add a replica of {table} in {replica_region}"),
        );
    }
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match replica_status(primary, primary_region, table, replica_region).await? {
            Some(ReplicaStatus::Active) => {
                return Ok(ReplicaReport {
                    table: table.to_string(),
                    region: replica_region.to_string(),
                    status: "ACTIVE".into(),
                    created,
                });
            }
            None => {
                events.note(
                    step,
                    format!(
                        "the DynamoDB endpoint accepted the replica request but lists no replica in {replica_region}; \
                         this happens with emulators, which do not replicate. On AWS, check the table's replicas."
                    ),
                );
                return Ok(ReplicaReport {
                    table: table.to_string(),
                    region: replica_region.to_string(),
                    status: "UNCONFIRMED".into(),
                    created,
                });
            }
            Some(ReplicaStatus::CreationFailed) => {
                return Err(Error::Aws {
                    operation: "replica creation".into(),
                    region: replica_region.to_string(),
                    message: format!(
                        "the replica of {table} in {replica_region} failed to be created"
                    ),
                    fix: format!(
                        "see `aws dynamodb describe-table --table-name {table} --region {primary_region}` \
                         (ReplicaStatusDescription), fix the cause (e.g. a table of that name already exists in \
                         {replica_region}), then deploy again"
                    ),
                });
            }
            Some(ReplicaStatus::InaccessibleEncryptionCredentials) => {
                return Err(Error::Aws {
                    operation: "replica creation".into(),
                    region: replica_region.to_string(),
                    message: "the replica cannot use its KMS key".into(),
                    fix: "grant DynamoDB access to the table's KMS key in the replica region, then deploy again".into(),
                });
            }
            Some(_) => {}
        }
        if started.elapsed() > limit {
            return Err(Error::Timeout {
                what: format!("the replica of {table} in {replica_region} to become ACTIVE"),
                waited: started.elapsed(),
                fix: "replicas of large tables take long; run deploy again later: it picks up the waiting".into(),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay.mul_f32(1.6)).min(Duration::from_secs(15));
    }
}

/// The status of the replica in `replica_region`, or None if the table lists no such replica.
pub async fn replica_status(
    client: &aws_sdk_dynamodb::Client,
    region: &str,
    table: &str,
    replica_region: &str,
) -> Result<Option<ReplicaStatus>> {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|error| aws_error("DescribeTable", region, &error))?;
    Ok(described
        .table()
        .map(|table| table.replicas())
        .unwrap_or_default()
        .iter()
        .find(|replica| replica.region_name() == Some(replica_region))
        .map(|replica| {
            replica
                .replica_status()
                .cloned()
                .unwrap_or(ReplicaStatus::Creating)
        }))
}
