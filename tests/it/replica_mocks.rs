//! The DR replica of the table: states moto cannot produce (it accepts ReplicaUpdates and does
//! nothing), checked against modeled DynamoDB responses.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use aws_sdk_dynamodb::operation::update_table::UpdateTableOutput;
use aws_sdk_dynamodb::types::{ReplicaDescription, ReplicaStatus, TableDescription};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use mysfits::error::Error;
use mysfits::progress::Events;
use mysfits::table::ensure_replica;

fn table(replica: Option<ReplicaStatus>) -> DescribeTableOutput {
    let mut description = TableDescription::builder().table_name("demo-mysfits");
    if let Some(status) = replica {
        description = description.replicas(
            ReplicaDescription::builder()
                .region_name("us-west-2")
                .replica_status(status)
                .build(),
        );
    }
    DescribeTableOutput::builder()
        .table(description.build())
        .build()
}

const LIMIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_missing_replica_is_created_and_waited_for() {
    let describe = mock!(Client::describe_table)
        .sequence()
        .output(|| table(None))
        .output(|| table(Some(ReplicaStatus::Creating)))
        .output(|| table(Some(ReplicaStatus::Creating)))
        .output(|| table(Some(ReplicaStatus::Active)))
        .build();
    let update = mock!(Client::update_table)
        .match_requests(|request| {
            request
                .replica_updates()
                .first()
                .and_then(|update| update.create())
                .map(|create| create.region_name())
                == Some("us-west-2")
        })
        .then_output(|| UpdateTableOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    let report = ensure_replica(
        &client,
        "us-east-1",
        "demo-mysfits",
        "us-west-2",
        &Events::discard(),
        "replica",
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(report.status, "ACTIVE");
    assert!(report.created);
    assert_eq!(update.num_calls(), 1);
    assert_eq!(describe.num_calls(), 4);
}

#[tokio::test]
async fn an_active_replica_is_left_alone() {
    let describe = mock!(Client::describe_table).then_output(|| table(Some(ReplicaStatus::Active)));
    let update = mock!(Client::update_table).then_output(|| UpdateTableOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    let report = ensure_replica(
        &client,
        "us-east-1",
        "demo-mysfits",
        "us-west-2",
        &Events::discard(),
        "replica",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(!report.created);
    assert_eq!(
        update.num_calls(),
        0,
        "no write when the replica is already there"
    );
}

#[tokio::test]
async fn a_failed_replica_is_an_error_with_a_next_step() {
    let describe = mock!(Client::describe_table)
        .sequence()
        .output(|| table(Some(ReplicaStatus::Creating)))
        .output(|| table(Some(ReplicaStatus::CreationFailed)))
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe]);
    let error = ensure_replica(
        &client,
        "us-east-1",
        "demo-mysfits",
        "us-west-2",
        &Events::discard(),
        "replica",
        LIMIT,
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("failed to be created"), "{message}");
    assert!(
        message.contains("describe-table --table-name demo-mysfits --region us-east-1"),
        "{message}"
    );
}

#[tokio::test]
async fn a_replica_that_never_appears_is_reported_unconfirmed_not_hidden() {
    let describe = mock!(Client::describe_table).then_output(|| table(None));
    let update = mock!(Client::update_table).then_output(|| UpdateTableOutput::builder().build());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    let (events, mut receiver) = Events::channel();
    let report = ensure_replica(
        &client,
        "us-east-1",
        "demo-mysfits",
        "us-west-2",
        &events,
        "replica",
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(report.status, "UNCONFIRMED");
    let notes = crate::util::notes(&mut receiver);
    assert!(
        notes.iter().any(|note| note.contains("lists no replica")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn a_replica_stuck_creating_gives_up_at_the_limit() {
    let describe =
        mock!(Client::describe_table).then_output(|| table(Some(ReplicaStatus::Creating)));
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe]);
    let error = ensure_replica(
        &client,
        "us-east-1",
        "demo-mysfits",
        "us-west-2",
        &Events::discard(),
        "replica",
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    assert!(
        error.to_string().contains("run deploy again later"),
        "{error}"
    );
}
