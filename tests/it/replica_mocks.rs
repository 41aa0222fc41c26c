//! The DR replica of the table: states moto cannot produce (it accepts ReplicaUpdates and does
//! nothing), checked against modeled DynamoDB responses: UpdateTable's own answer listing the
//! replica CREATING while DescribeTable does not list it yet (eventual consistency), refusals
//! while the table is busy, and the per-replica settings (point-in-time recovery, tags, deletion
//! protection) made in the replica's region once it is ACTIVE.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::describe_continuous_backups::DescribeContinuousBackupsOutput;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use aws_sdk_dynamodb::operation::list_tags_of_resource::ListTagsOfResourceOutput;
use aws_sdk_dynamodb::operation::tag_resource::TagResourceOutput;
use aws_sdk_dynamodb::operation::update_continuous_backups::{
    UpdateContinuousBackupsError, UpdateContinuousBackupsOutput,
};
use aws_sdk_dynamodb::operation::update_table::{UpdateTableError, UpdateTableOutput};
use aws_sdk_dynamodb::types::error::{
    ContinuousBackupsUnavailableException, ResourceInUseException,
};
use aws_sdk_dynamodb::types::{
    ContinuousBackupsDescription, ContinuousBackupsStatus, PointInTimeRecoveryDescription,
    PointInTimeRecoveryStatus, ReplicaDescription, ReplicaStatus, StreamSpecification,
    StreamViewType, TableDescription, TableStatus, Tag,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use mysfits::error::Error;
use mysfits::progress::Events;
use mysfits::table::{ReplicaClients, ReplicaReport, ensure_replica};

const TABLE: &str = "demo-mysfits";
const EAST_ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/demo-mysfits";
const WEST_ARN: &str = "arn:aws:dynamodb:us-west-2:123456789012:table/demo-mysfits";
const LIMIT: Duration = Duration::from_secs(5);

/// The primary table as DescribeTable (or UpdateTable's TableDescription) shows it: streams with
/// both images, as a global table needs.
fn description(
    status: TableStatus,
    replica: Option<ReplicaStatus>,
    deletion_protection: bool,
) -> TableDescription {
    let mut description = TableDescription::builder()
        .table_name(TABLE)
        .table_arn(EAST_ARN)
        .table_status(status)
        .deletion_protection_enabled(deletion_protection)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        );
    if let Some(status) = replica {
        description = description.replicas(
            ReplicaDescription::builder()
                .region_name("us-west-2")
                .replica_status(status)
                .build(),
        );
    }
    description.build()
}

fn table(replica: Option<ReplicaStatus>) -> DescribeTableOutput {
    DescribeTableOutput::builder()
        .table(description(TableStatus::Active, replica, false))
        .build()
}

/// UpdateTable's answer to a replica Create: the table UPDATING, the new replica CREATING.
fn replica_requested() -> UpdateTableOutput {
    UpdateTableOutput::builder()
        .table_description(description(
            TableStatus::Updating,
            Some(ReplicaStatus::Creating),
            false,
        ))
        .build()
}

fn busy() -> UpdateTableError {
    let message =
        "Attempt to change a resource which is still in use: Table is being updated: demo-mysfits";
    UpdateTableError::ResourceInUseException(
        ResourceInUseException::builder()
            .message(message)
            .meta(
                ErrorMetadata::builder()
                    .code("ResourceInUseException")
                    .message(message)
                    .build(),
            )
            .build(),
    )
}

fn backups_unavailable() -> UpdateContinuousBackupsError {
    let message = "Backups are being enabled for the table: demo-mysfits. Please retry later";
    UpdateContinuousBackupsError::ContinuousBackupsUnavailableException(
        ContinuousBackupsUnavailableException::builder()
            .message(message)
            .meta(
                ErrorMetadata::builder()
                    .code("ContinuousBackupsUnavailableException")
                    .message(message)
                    .build(),
            )
            .build(),
    )
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

/// The primary's tags, CloudFormation's reserved aws:* tag among them.
fn primary_tags() -> Rule {
    mock!(Client::list_tags_of_resource)
        .match_requests(|request| request.resource_arn() == Some(EAST_ARN))
        .then_output(|| {
            ListTagsOfResourceOutput::builder()
                .tags(tag("mysfits:app", "demo"))
                .tags(tag("aws:cloudformation:stack-name", "demo-app"))
                .tags(tag("team", "mysfits"))
                .build()
        })
}

fn pitr_enabled() -> UpdateContinuousBackupsOutput {
    UpdateContinuousBackupsOutput::builder()
        .continuous_backups_description(
            ContinuousBackupsDescription::builder()
                .continuous_backups_status(ContinuousBackupsStatus::Enabled)
                .build()
                .unwrap(),
        )
        .build()
}

/// TagResource calls seen: the ARN and its tags.
type Tagged = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

/// The replica region's table (its own ARN) and the calls that set it up there.
struct ReplicaRegion {
    pitr: Rule,
    describe: Rule,
    tag: Rule,
    tagged: Tagged,
    /// DescribeContinuousBackups and ListTagsOfResource of the replica: what is in place.
    backups: Rule,
    listed: Rule,
}

/// DescribeContinuousBackups' answer: backups on, point-in-time recovery `status`.
fn backups_with(status: PointInTimeRecoveryStatus) -> DescribeContinuousBackupsOutput {
    DescribeContinuousBackupsOutput::builder()
        .continuous_backups_description(
            ContinuousBackupsDescription::builder()
                .continuous_backups_status(ContinuousBackupsStatus::Enabled)
                .point_in_time_recovery_description(
                    PointInTimeRecoveryDescription::builder()
                        .point_in_time_recovery_status(status)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
}

/// A new replica: point-in-time recovery off, no tags yet.
fn replica_region(pitr: Rule) -> ReplicaRegion {
    replica_region_with(pitr, PointInTimeRecoveryStatus::Disabled, Vec::new())
}

fn replica_region_with(
    pitr: Rule,
    pitr_status: PointInTimeRecoveryStatus,
    present_tags: Vec<Tag>,
) -> ReplicaRegion {
    let backups = mock!(Client::describe_continuous_backups)
        .match_requests(|request| request.table_name() == Some(TABLE))
        .then_output(move || backups_with(pitr_status.clone()));
    let listed = mock!(Client::list_tags_of_resource)
        .match_requests(|request| request.resource_arn() == Some(WEST_ARN))
        .then_output(move || {
            ListTagsOfResourceOutput::builder()
                .set_tags(Some(present_tags.clone()))
                .build()
        });
    let describe = mock!(Client::describe_table).then_output(|| {
        DescribeTableOutput::builder()
            .table(
                TableDescription::builder()
                    .table_name(TABLE)
                    .table_arn(WEST_ARN)
                    .table_status(TableStatus::Active)
                    .build(),
            )
            .build()
    });
    let tagged: Tagged = Arc::default();
    let captured = tagged.clone();
    let tag = mock!(Client::tag_resource)
        .match_requests(move |request| {
            captured.lock().unwrap().push((
                request.resource_arn().unwrap_or_default().to_string(),
                request
                    .tags()
                    .iter()
                    .map(|tag| (tag.key().to_string(), tag.value().to_string()))
                    .collect(),
            ));
            true
        })
        .then_output(|| TagResourceOutput::builder().build());
    ReplicaRegion {
        pitr,
        describe,
        tag,
        tagged,
        backups,
        listed,
    }
}

async fn ensure(
    primary: &Client,
    replica: &Client,
    endpoint_override: bool,
    events: &Events,
    limit: Duration,
) -> Result<ReplicaReport, Error> {
    ensure_replica(
        &ReplicaClients {
            primary,
            primary_region: "us-east-1",
            replica,
            replica_region: "us-west-2",
            endpoint_override,
        },
        TABLE,
        events,
        "replica",
        limit,
    )
    .await
}

fn no_replica_calls() -> Client {
    mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[])
}

#[tokio::test]
async fn a_new_replica_is_read_from_update_tables_answer_waited_for_and_given_pitr_and_tags() {
    // Right after UpdateTable, DescribeTable does not list the replica yet (eventually
    // consistent): that is "still creating", not "missing".
    let describe = mock!(Client::describe_table)
        .sequence()
        .output(|| table(None))
        .output(|| table(None))
        .output(|| table(Some(ReplicaStatus::Creating)))
        .output(|| table(Some(ReplicaStatus::Active)))
        .build();
    let update = mock!(Client::update_table)
        .match_requests(|request| {
            request.replica_updates().len() == 1
                && request
                    .replica_updates()
                    .first()
                    .and_then(|update| update.create())
                    .map(|create| create.region_name())
                    == Some("us-west-2")
        })
        .sequence()
        .error(busy)
        .output(replica_requested)
        .build();
    let tags = primary_tags();
    let primary = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&describe, &update, &tags]
    );
    let pitr = mock!(Client::update_continuous_backups)
        .match_requests(|request| {
            request.table_name() == Some(TABLE)
                && request
                    .point_in_time_recovery_specification()
                    .is_some_and(|pitr| pitr.point_in_time_recovery_enabled())
        })
        .sequence()
        .error(backups_unavailable)
        .output(pitr_enabled)
        .build();
    let west = replica_region(pitr);
    let replica = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &west.pitr,
            &west.describe,
            &west.tag,
            &west.backups,
            &west.listed
        ]
    );
    let report = ensure(&primary, &replica, false, &Events::discard(), LIMIT)
        .await
        .unwrap();
    assert_eq!(report.status, "ACTIVE");
    assert!(report.created);
    assert_eq!(update.num_calls(), 2, "ResourceInUse is retried");
    assert_eq!(describe.num_calls(), 4);
    assert!(report.point_in_time_recovery);
    assert_eq!(
        west.pitr.num_calls(),
        2,
        "ContinuousBackupsUnavailable is retried in the replica region"
    );
    assert_eq!(
        *west.tagged.lock().unwrap(),
        [(
            WEST_ARN.to_string(),
            vec![
                ("mysfits:app".to_string(), "demo".to_string()),
                ("team".to_string(), "mysfits".to_string())
            ]
        )],
        "the primary's tags (not the reserved aws:* ones) on the replica's own ARN"
    );
    assert_eq!(report.tags_copied, 2);
    assert!(!report.deletion_protection);
}

#[tokio::test]
async fn on_aws_a_replica_missing_from_update_tables_answer_is_an_error_not_unconfirmed() {
    let describe = mock!(Client::describe_table).then_output(|| table(None));
    let update = mock!(Client::update_table).then_output(|| {
        UpdateTableOutput::builder()
            .table_description(description(TableStatus::Updating, None, false))
            .build()
    });
    let primary = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    let error = ensure(
        &primary,
        &no_replica_calls(),
        false,
        &Events::discard(),
        LIMIT,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("its answer lists no replica of demo-mysfits in us-west-2"),
        "{error}"
    );
}

#[tokio::test]
async fn behind_an_endpoint_override_a_replica_that_is_not_listed_is_unconfirmed() {
    let describe = mock!(Client::describe_table).then_output(|| table(None));
    let update = mock!(Client::update_table).then_output(|| UpdateTableOutput::builder().build());
    let primary = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    let (events, mut receiver) = Events::channel();
    let report = ensure(&primary, &no_replica_calls(), true, &events, LIMIT)
        .await
        .unwrap();
    assert_eq!(report.status, "UNCONFIRMED");
    assert!(!report.point_in_time_recovery);
    let notes = crate::util::notes(&mut receiver);
    assert!(
        notes.iter().any(|note| note.contains("lists no replica")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn a_table_still_updating_is_waited_for_before_the_replica_is_requested() {
    let describe = mock!(Client::describe_table)
        .sequence()
        .output(|| {
            DescribeTableOutput::builder()
                .table(description(TableStatus::Updating, None, false))
                .build()
        })
        .output(|| table(None))
        .output(|| table(Some(ReplicaStatus::Active)))
        .build();
    let update = mock!(Client::update_table).then_output(replica_requested);
    let tags = primary_tags();
    let primary = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&describe, &update, &tags]
    );
    let west = replica_region(mock!(Client::update_continuous_backups).then_output(pitr_enabled));
    let replica = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &west.pitr,
            &west.describe,
            &west.tag,
            &west.backups,
            &west.listed
        ]
    );
    let report = ensure(&primary, &replica, false, &Events::discard(), LIMIT)
        .await
        .unwrap();
    assert_eq!((report.status.as_str(), report.created), ("ACTIVE", true));
    assert_eq!(update.num_calls(), 1);
    assert_eq!(describe.num_calls(), 3);
}

#[tokio::test]
async fn an_active_replica_is_not_requested_again_but_gets_pitr_tags_and_deletion_protection() {
    let describe = mock!(Client::describe_table).then_output(|| {
        DescribeTableOutput::builder()
            .table(description(
                TableStatus::Active,
                Some(ReplicaStatus::Active),
                true,
            ))
            .build()
    });
    let create = mock!(Client::update_table).then_output(replica_requested);
    let tags = primary_tags();
    let primary = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&describe, &create, &tags]
    );
    let west = replica_region(mock!(Client::update_continuous_backups).then_output(pitr_enabled));
    let protect = mock!(Client::update_table)
        .match_requests(|request| {
            request.deletion_protection_enabled() == Some(true)
                && request.replica_updates().is_empty()
        })
        .then_output(|| UpdateTableOutput::builder().build());
    let replica = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[
            &west.pitr,
            &west.describe,
            &west.tag,
            &west.backups,
            &west.listed,
            &protect
        ]
    );
    let report = ensure(&primary, &replica, false, &Events::discard(), LIMIT)
        .await
        .unwrap();
    assert!(!report.created);
    assert_eq!(create.num_calls(), 0, "no replica request when it is there");
    assert!(report.point_in_time_recovery && report.deletion_protection);
    assert_eq!(protect.num_calls(), 1);
}

#[tokio::test]
async fn a_table_without_both_stream_images_is_refused_before_dynamodb_does() {
    let describe = mock!(Client::describe_table).then_output(|| {
        let mut described = description(TableStatus::Active, None, false);
        described.stream_specification = None;
        DescribeTableOutput::builder().table(described).build()
    });
    let update = mock!(Client::update_table).then_output(replica_requested);
    let primary = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    let error = ensure(
        &primary,
        &no_replica_calls(),
        false,
        &Events::discard(),
        LIMIT,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("NEW_AND_OLD_IMAGES"), "{error}");
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn a_failed_replica_is_an_error_with_a_next_step() {
    let describe = mock!(Client::describe_table)
        .sequence()
        .output(|| table(Some(ReplicaStatus::Creating)))
        .output(|| table(Some(ReplicaStatus::CreationFailed)))
        .build();
    let primary = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe]);
    let error = ensure(
        &primary,
        &no_replica_calls(),
        false,
        &Events::discard(),
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
async fn a_replica_stuck_creating_gives_up_at_the_limit() {
    let describe =
        mock!(Client::describe_table).then_output(|| table(Some(ReplicaStatus::Creating)));
    let primary = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe]);
    let error = ensure(
        &primary,
        &no_replica_calls(),
        false,
        &Events::discard(),
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

/// A redeploy where the replica is ACTIVE with point-in-time recovery on and every tag of the
/// primary: reads only, no UpdateContinuousBackups, no TagResource, no UpdateTable. A replica
/// missing one tag (or with another value) gets just that one.
#[tokio::test]
async fn a_replica_with_everything_in_place_is_not_written_and_a_missing_tag_is_the_only_write() {
    for (present, expected_writes) in [
        (vec![tag("mysfits:app", "demo"), tag("team", "mysfits")], 0),
        (vec![tag("mysfits:app", "demo"), tag("team", "other")], 1),
    ] {
        let describe =
            mock!(Client::describe_table).then_output(|| table(Some(ReplicaStatus::Active)));
        let create = mock!(Client::update_table).then_output(replica_requested);
        let tags = primary_tags();
        let primary = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            &[&describe, &create, &tags]
        );
        let west = replica_region_with(
            mock!(Client::update_continuous_backups).then_output(pitr_enabled),
            PointInTimeRecoveryStatus::Enabled,
            present,
        );
        let replica = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            &[
                &west.pitr,
                &west.describe,
                &west.tag,
                &west.backups,
                &west.listed
            ]
        );
        let report = ensure(&primary, &replica, false, &Events::discard(), LIMIT)
            .await
            .unwrap();
        assert!(!report.created && report.point_in_time_recovery);
        assert_eq!(
            report.tags_copied, 2,
            "the primary's two copyable tags are on the replica"
        );
        assert_eq!(create.num_calls(), 0);
        assert_eq!(west.pitr.num_calls(), 0, "PITR already on: not written");
        assert_eq!(west.backups.num_calls(), 1);
        assert_eq!(west.tag.num_calls(), expected_writes);
        if expected_writes == 1 {
            assert_eq!(
                west.tagged.lock().unwrap()[0].1,
                vec![("team".to_string(), "mysfits".to_string())],
                "only the tag whose value differs"
            );
        }
    }
}
