//! Teardown paths moto cannot produce, against modeled AWS responses (aws-smithy-mocks): Global
//! Accelerator removal (moto has none) and an endpoint without it, DynamoDB's refusals (24-hour
//! source rule, replication drain), backups that take time, DELETE_FAILED stacks, and the
//! --keep-data guard.

use crate::util::notes;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cfn_fixtures::{stack, stack_event};
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stack_resources::DescribeStackResourcesOutput;
use aws_sdk_cloudformation::operation::get_template::GetTemplateOutput;
use aws_sdk_cloudformation::types::{ResourceStatus, StackResource, StackStatus};
use aws_sdk_dynamodb::operation::create_backup::CreateBackupOutput;
use aws_sdk_dynamodb::operation::delete_table::{DeleteTableError, DeleteTableOutput};
use aws_sdk_dynamodb::operation::describe_backup::DescribeBackupOutput;
use aws_sdk_dynamodb::operation::describe_table::{DescribeTableError, DescribeTableOutput};
use aws_sdk_dynamodb::operation::update_table::{UpdateTableError, UpdateTableOutput};
use aws_sdk_dynamodb::types::{
    BackupDescription, BackupDetails, BackupStatus, ReplicaDescription, ReplicaStatus,
    TableDescription,
};
use aws_sdk_ecr::operation::batch_delete_image::BatchDeleteImageOutput;
use aws_sdk_ecr::operation::list_images::ListImagesOutput;
use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_globalaccelerator::operation::delete_accelerator::DeleteAcceleratorOutput;
use aws_sdk_globalaccelerator::operation::delete_endpoint_group::DeleteEndpointGroupOutput;
use aws_sdk_globalaccelerator::operation::delete_listener::DeleteListenerOutput;
use aws_sdk_globalaccelerator::operation::describe_accelerator::DescribeAcceleratorOutput;
use aws_sdk_globalaccelerator::operation::list_accelerators::ListAcceleratorsOutput;
use aws_sdk_globalaccelerator::operation::list_endpoint_groups::ListEndpointGroupsOutput;
use aws_sdk_globalaccelerator::operation::list_listeners::ListListenersOutput;
use aws_sdk_globalaccelerator::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_globalaccelerator::operation::update_accelerator::UpdateAcceleratorOutput;
use aws_sdk_globalaccelerator::types::{
    Accelerator, AcceleratorStatus, EndpointGroup, Listener, Tag,
};
use aws_sdk_route53::operation::list_health_checks::ListHealthChecksOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;
use mysfits::aws::RegionClients;
use mysfits::config::Config;
use mysfits::error::Error;
use mysfits::progress::Events;
use mysfits::teardown::entry::{GlobalClients, Removal, remove_entry_point};
use mysfits::teardown::removal::{delete_stack, ensure_table_is_retained};
use mysfits::teardown::table::{delete_table, remove_replica, take_backup};

const LIMIT: Duration = Duration::from_secs(5);
const ACCELERATOR: &str = "arn:aws:globalaccelerator::123456789012:accelerator/demo";
const LISTENER: &str = "arn:aws:globalaccelerator::123456789012:accelerator/demo/listener/1";

/// Records the order of calls across rules.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn push(&self, call: &str) {
        self.0.lock().unwrap().push(call.to_string());
    }
    fn list(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

pub(crate) fn route53_without_health_checks() -> aws_sdk_route53::Client {
    let list = mock!(aws_sdk_route53::Client::list_health_checks).then_output(|| {
        ListHealthChecksOutput::builder()
            .set_health_checks(Some(Vec::new()))
            .marker("")
            .is_truncated(false)
            .max_items(100)
            .build()
            .unwrap()
    });
    mock_client!(aws_sdk_route53, RuleMode::MatchAny, &[&list])
}

fn accelerator(enabled: bool, status: AcceleratorStatus) -> DescribeAcceleratorOutput {
    DescribeAcceleratorOutput::builder()
        .accelerator(
            Accelerator::builder()
                .accelerator_arn(ACCELERATOR)
                .name("demo")
                .enabled(enabled)
                .status(status)
                .build(),
        )
        .build()
}

fn tags(app: &'static str) -> Rule {
    mock!(aws_sdk_globalaccelerator::Client::list_tags_for_resource).then_output(move || {
        ListTagsForResourceOutput::builder()
            .tags(
                Tag::builder()
                    .key("mysfits:app")
                    .value(app)
                    .build()
                    .unwrap(),
            )
            .build()
    })
}

fn listed_accelerator() -> Rule {
    mock!(aws_sdk_globalaccelerator::Client::list_accelerators).then_output(|| {
        ListAcceleratorsOutput::builder()
            .accelerators(
                Accelerator::builder()
                    .accelerator_arn(ACCELERATOR)
                    .name("demo")
                    .enabled(true)
                    .status(AcceleratorStatus::Deployed)
                    .build(),
            )
            .build()
    })
}

#[tokio::test]
async fn the_accelerator_is_disabled_waited_for_then_emptied_and_deleted_in_order() {
    let calls = Calls::default();
    let (c1, c2, c3, c4, c5) = (
        calls.clone(),
        calls.clone(),
        calls.clone(),
        calls.clone(),
        calls.clone(),
    );
    let describe = mock!(aws_sdk_globalaccelerator::Client::describe_accelerator)
        .sequence()
        .output(|| accelerator(true, AcceleratorStatus::Deployed))
        .output(|| accelerator(false, AcceleratorStatus::InProgress))
        .output(|| accelerator(false, AcceleratorStatus::InProgress))
        .output(move || {
            c1.push("deployed");
            accelerator(false, AcceleratorStatus::Deployed)
        })
        .build();
    let disable = mock!(aws_sdk_globalaccelerator::Client::update_accelerator)
        .match_requests(|request| request.enabled() == Some(false))
        .then_output(move || {
            c2.push("disable");
            UpdateAcceleratorOutput::builder().build()
        });
    let listeners = mock!(aws_sdk_globalaccelerator::Client::list_listeners).then_output(|| {
        ListListenersOutput::builder()
            .listeners(Listener::builder().listener_arn(LISTENER).build())
            .build()
    });
    let groups = mock!(aws_sdk_globalaccelerator::Client::list_endpoint_groups).then_output(|| {
        ListEndpointGroupsOutput::builder()
            .endpoint_groups(
                EndpointGroup::builder()
                    .endpoint_group_arn(format!("{LISTENER}/endpoint-group/east"))
                    .build(),
            )
            .endpoint_groups(
                EndpointGroup::builder()
                    .endpoint_group_arn(format!("{LISTENER}/endpoint-group/west"))
                    .build(),
            )
            .build()
    });
    let delete_group =
        mock!(aws_sdk_globalaccelerator::Client::delete_endpoint_group).then_output(move || {
            c3.push("delete endpoint group");
            DeleteEndpointGroupOutput::builder().build()
        });
    let delete_listener =
        mock!(aws_sdk_globalaccelerator::Client::delete_listener).then_output(move || {
            c4.push("delete listener");
            DeleteListenerOutput::builder().build()
        });
    let delete_accelerator = mock!(aws_sdk_globalaccelerator::Client::delete_accelerator)
        .then_output(move || {
            c5.push("delete accelerator");
            DeleteAcceleratorOutput::builder().build()
        });
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &listed_accelerator(),
            &tags("demo"),
            &describe,
            &disable,
            &listeners,
            &groups,
            &delete_group,
            &delete_listener,
            &delete_accelerator
        ]
    );
    let clients = GlobalClients {
        globalaccelerator: client,
        route53: route53_without_health_checks(),
        globalaccelerator_endpoint: None,
        route53_endpoint: None,
    };
    let removal = remove_entry_point(&clients, "demo", &Events::discard(), "entry")
        .await
        .unwrap();
    assert_eq!(
        removal.accelerator,
        Removal::Removed {
            names: vec!["demo".into()]
        }
    );
    assert_eq!(removal.route53, Removal::NothingFound);
    assert_eq!(
        calls.list(),
        vec![
            "disable",
            "deployed",
            "delete endpoint group",
            "delete endpoint group",
            "delete listener",
            "delete accelerator"
        ]
    );
}

#[tokio::test]
async fn an_accelerator_of_another_app_is_left_alone() {
    let delete = mock!(aws_sdk_globalaccelerator::Client::delete_accelerator)
        .then_output(|| DeleteAcceleratorOutput::builder().build());
    let disable = mock!(aws_sdk_globalaccelerator::Client::update_accelerator)
        .then_output(|| UpdateAcceleratorOutput::builder().build());
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[&listed_accelerator(), &tags("other"), &delete, &disable]
    );
    let clients = GlobalClients {
        globalaccelerator: client,
        route53: route53_without_health_checks(),
        globalaccelerator_endpoint: None,
        route53_endpoint: None,
    };
    let removal = remove_entry_point(&clients, "demo", &Events::discard(), "entry")
        .await
        .unwrap();
    assert_eq!(removal.accelerator, Removal::NothingFound);
    assert_eq!(delete.num_calls() + disable.num_calls(), 0);
}

#[tokio::test]
async fn an_endpoint_without_global_accelerator_is_reported_not_taken_for_nothing_found() {
    // moto answers every Global Accelerator call with an HTML 500 page.
    let list = mock!(aws_sdk_globalaccelerator::Client::list_accelerators)
        .sequence()
        .http_status(
            500,
            Some("<!doctype html><title>500 Internal Server Error</title>".into()),
        )
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_globalaccelerator, RuleMode::MatchAny, &[&list]);
    let clients = GlobalClients {
        globalaccelerator: client,
        route53: route53_without_health_checks(),
        globalaccelerator_endpoint: Some("http://127.0.0.1:5310".into()),
        route53_endpoint: Some("http://127.0.0.1:5310".into()),
    };
    let (events, mut receiver) = Events::channel();
    let removal = remove_entry_point(&clients, "demo", &events, "entry")
        .await
        .unwrap();
    let Removal::Unavailable { endpoint, reason } = &removal.accelerator else {
        panic!("expected unavailable, got {removal:?}");
    };
    assert_eq!(endpoint, "http://127.0.0.1:5310");
    assert!(reason.contains("HTTP 500"), "{reason}");
    assert!(
        removal.summary().contains("NOT AVAILABLE"),
        "{}",
        removal.summary()
    );
    let notes = notes(&mut receiver);
    assert!(
        notes
            .iter()
            .any(|note| note.contains("Global Accelerator is not available")),
        "{notes:?}"
    );
}

/// The same code-less 500 from AWS itself (no endpoint override) is a failure, never "not
/// available": teardown must not report the accelerator as unchecked and carry on.
#[tokio::test]
async fn a_code_less_500_from_aws_itself_is_an_error_not_unavailable() {
    let list = mock!(aws_sdk_globalaccelerator::Client::list_accelerators)
        .sequence()
        .http_status(
            500,
            Some("<!doctype html><title>500 Internal Server Error</title>".into()),
        )
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_globalaccelerator, RuleMode::MatchAny, &[&list]);
    let clients = GlobalClients {
        globalaccelerator: client,
        route53: route53_without_health_checks(),
        globalaccelerator_endpoint: None,
        route53_endpoint: None,
    };
    let error = remove_entry_point(&clients, "demo", &Events::discard(), "entry")
        .await
        .expect_err("an AWS 500 is an error");
    assert!(error.to_string().contains("ListAccelerators"), "{error}");
}

#[tokio::test]
async fn a_real_global_accelerator_service_error_is_an_error_not_unavailable() {
    let list = mock!(aws_sdk_globalaccelerator::Client::list_accelerators).then_error(|| {
        aws_sdk_globalaccelerator::operation::list_accelerators::ListAcceleratorsError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not allowed")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_globalaccelerator, RuleMode::MatchAny, &[&list]);
    let clients = GlobalClients {
        globalaccelerator: client,
        route53: route53_without_health_checks(),
        globalaccelerator_endpoint: None,
        route53_endpoint: None,
    };
    let error = remove_entry_point(&clients, "demo", &Events::discard(), "entry")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("AccessDenied"), "{error}");
}

fn table_with_replica(replica: Option<ReplicaStatus>) -> DescribeTableOutput {
    let mut table = TableDescription::builder()
        .table_name("demo-mysfits")
        .creation_date_time(DateTime::from_secs(1_700_000_000));
    if let Some(status) = replica {
        table = table.replicas(
            ReplicaDescription::builder()
                .region_name("us-west-2")
                .replica_status(status)
                .build(),
        );
    }
    DescribeTableOutput::builder().table(table.build()).build()
}

fn validation(message: &'static str) -> impl Fn() -> UpdateTableError + Send + Sync {
    move || {
        UpdateTableError::generic(
            ErrorMetadata::builder()
                .code("ValidationException")
                .message(message)
                .build(),
        )
    }
}

const SOURCE_LOCK: &str = "Replica cannot be deleted because it has acted as a source region for new replica(s) being added to the table in the last 24 hours.";
const DRAINING: &str = "The last active replica of table: 'demo-mysfits'  in region: 'us-west-2' cannot be deleted until all writes are replicated.";

fn replica_table_client() -> aws_sdk_dynamodb::Client {
    // The replica's own table in us-west-2, created at 2023-11-14T22:13:20Z.
    let describe =
        mock!(aws_sdk_dynamodb::Client::describe_table).then_output(|| table_with_replica(None));
    mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe])
}

#[tokio::test]
async fn the_24_hour_source_rule_is_explained_with_the_earliest_retry_time() {
    let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
        .then_output(|| table_with_replica(Some(ReplicaStatus::Active)));
    let update = mock!(aws_sdk_dynamodb::Client::update_table).then_error(validation(SOURCE_LOCK));
    let primary = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    let error = remove_replica(
        &primary,
        "us-east-1",
        &replica_table_client(),
        "us-west-2",
        "demo-mysfits",
        &Events::discard(),
        "replica",
        LIMIT,
    )
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("for 24 hours"), "{text}");
    assert!(
        text.contains("2023-11-15T22:13:20Z"),
        "the earliest retry is 24 h after the replica's creation: {text}"
    );
    assert_eq!(
        update.num_calls(),
        1,
        "a 24-hour refusal is not retried now"
    );
}

#[tokio::test]
async fn a_draining_last_replica_is_retried_until_it_goes() {
    let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
        .sequence()
        .output(|| table_with_replica(Some(ReplicaStatus::Active)))
        .output(|| table_with_replica(Some(ReplicaStatus::Deleting)))
        .output(|| table_with_replica(None))
        .build();
    let update = mock!(aws_sdk_dynamodb::Client::update_table)
        .sequence()
        .error(validation(DRAINING))
        .output(|| UpdateTableOutput::builder().build())
        .build();
    let primary = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    let (events, mut receiver) = Events::channel();
    let removal = remove_replica(
        &primary,
        "us-east-1",
        &replica_table_client(),
        "us-west-2",
        "demo-mysfits",
        &events,
        "replica",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(removal.removed);
    assert_eq!(
        removal.replica_created,
        Some(DateTime::from_secs(1_700_000_000))
    );
    assert_eq!(update.num_calls(), 2);
    let notes = notes(&mut receiver);
    assert!(
        notes
            .iter()
            .any(|note| note.contains("still replicating writes")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn a_replica_that_keeps_draining_asks_to_retry_later() {
    let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
        .then_output(|| table_with_replica(Some(ReplicaStatus::Active)));
    let update = mock!(aws_sdk_dynamodb::Client::update_table).then_error(validation(DRAINING));
    let primary = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    let error = remove_replica(
        &primary,
        "us-east-1",
        &replica_table_client(),
        "us-west-2",
        "demo-mysfits",
        &Events::discard(),
        "replica",
        Duration::from_millis(100),
    )
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("once all writes have replicated"), "{text}");
    assert!(text.contains("run `mysfits teardown` again"), "{text}");
}

#[tokio::test]
async fn no_replica_listed_means_nothing_to_remove() {
    let describe =
        mock!(aws_sdk_dynamodb::Client::describe_table).then_output(|| table_with_replica(None));
    let update = mock!(aws_sdk_dynamodb::Client::update_table)
        .then_output(|| UpdateTableOutput::builder().build());
    let primary = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    let removal = remove_replica(
        &primary,
        "us-east-1",
        &replica_table_client(),
        "us-west-2",
        "demo-mysfits",
        &Events::discard(),
        "replica",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(!removal.removed);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn deleting_the_source_table_too_early_names_the_retry_time() {
    let delete = mock!(aws_sdk_dynamodb::Client::delete_table).then_error(|| {
        DeleteTableError::generic(
            ErrorMetadata::builder()
                .code("ValidationException")
                .message(SOURCE_LOCK)
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&delete]);
    let error = delete_table(
        &client,
        "us-east-1",
        "demo-mysfits",
        Some(DateTime::from_secs(1_700_000_000)),
        &Events::discard(),
        "table",
        LIMIT,
    )
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("DeleteTable in us-east-1 failed"),
        "{text}"
    );
    assert!(text.contains("2023-11-15T22:13:20Z"), "{text}");
}

#[tokio::test]
async fn the_table_is_deleted_and_waited_for() {
    let delete = mock!(aws_sdk_dynamodb::Client::delete_table)
        .then_output(|| DeleteTableOutput::builder().build());
    let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
        .sequence()
        .output(|| table_with_replica(None))
        .error(|| {
            DescribeTableError::ResourceNotFoundException(
                aws_sdk_dynamodb::types::error::ResourceNotFoundException::builder()
                    .message("Requested resource not found")
                    .meta(
                        ErrorMetadata::builder()
                            .code("ResourceNotFoundException")
                            .build(),
                    )
                    .build(),
            )
        })
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&delete, &describe]);
    let summary = delete_table(
        &client,
        "us-east-1",
        "demo-mysfits",
        None,
        &Events::discard(),
        "table",
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(summary, "table demo-mysfits deleted");
    assert_eq!(describe.num_calls(), 2);
}

fn backup(status: BackupStatus) -> DescribeBackupOutput {
    DescribeBackupOutput::builder()
        .backup_description(
            BackupDescription::builder()
                .backup_details(
                    BackupDetails::builder()
                        .backup_arn("arn:backup/1")
                        .backup_name("demo-teardown")
                        .backup_status(status)
                        .backup_type(aws_sdk_dynamodb::types::BackupType::User)
                        .backup_creation_date_time(DateTime::from_secs(0))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
}

#[tokio::test]
async fn the_backup_is_waited_for_until_available() {
    let describe_table =
        mock!(aws_sdk_dynamodb::Client::describe_table).then_output(|| table_with_replica(None));
    let create = mock!(aws_sdk_dynamodb::Client::create_backup)
        .match_requests(|request| {
            request.table_name() == Some("demo-mysfits")
                && request
                    .backup_name()
                    .is_some_and(|name| name.starts_with("demo-teardown-"))
        })
        .then_output(|| {
            CreateBackupOutput::builder()
                .backup_details(
                    BackupDetails::builder()
                        .backup_arn("arn:backup/1")
                        .backup_name("demo-teardown")
                        .backup_status(BackupStatus::Creating)
                        .backup_type(aws_sdk_dynamodb::types::BackupType::User)
                        .backup_creation_date_time(DateTime::from_secs(0))
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let describe = mock!(aws_sdk_dynamodb::Client::describe_backup)
        .sequence()
        .output(|| backup(BackupStatus::Creating))
        .output(|| backup(BackupStatus::Available))
        .build();
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&describe_table, &create, &describe]
    );
    let info = take_backup(
        &client,
        "us-east-1",
        "demo-mysfits",
        "demo",
        &Events::discard(),
        "backup",
        LIMIT,
    )
    .await
    .unwrap()
    .expect("a backup");
    assert_eq!(info.arn, "arn:backup/1");
    assert_eq!(describe.num_calls(), 2);
}

/// Region clients whose CloudFormation and ECR answer from mocks; other services have no rules.
fn region_clients(
    cloudformation: aws_sdk_cloudformation::Client,
    ecr: aws_sdk_ecr::Client,
) -> RegionClients {
    RegionClients {
        region: "us-east-1".into(),
        endpoint_url: None,
        cloudformation,
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[]),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[]),
        ecr,
        ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[]),
        elbv2: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, &[]),
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[]),
        logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[]),
        autoscaling: mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &[]),
    }
}

#[tokio::test]
async fn delete_failed_is_cleaned_retried_then_deleted_with_the_blockers_retained() {
    let describe = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::CreateComplete))
        .output(|| stack(StackStatus::DeleteInProgress))
        .output(|| stack(StackStatus::DeleteFailed))
        .output(|| stack(StackStatus::DeleteInProgress))
        .output(|| stack(StackStatus::DeleteFailed))
        .output(|| stack(StackStatus::DeleteComplete))
        .build();
    let resources =
        mock!(aws_sdk_cloudformation::Client::describe_stack_resources).then_output(|| {
            DescribeStackResourcesOutput::builder()
                .stack_resources(
                    StackResource::builder()
                        .logical_resource_id("LikeRepository")
                        .physical_resource_id("demo/like-service")
                        .resource_type("AWS::ECR::Repository")
                        .resource_status(ResourceStatus::CreateComplete)
                        .timestamp(DateTime::from_secs(1))
                        .build(),
                )
                .build()
        });
    let events = mock!(aws_sdk_cloudformation::Client::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(stack_event(
                "e2",
                "LikeRepository",
                ResourceStatus::DeleteFailed,
                "The repository with name 'demo/like-service' cannot be deleted because it still contains images",
            ))
            .stack_events(stack_event(
                "e1",
                "demo-registry",
                ResourceStatus::DeleteInProgress,
                "User Initiated",
            ))
            .build()
    });
    let plain_delete = mock!(aws_sdk_cloudformation::Client::delete_stack)
        .match_requests(|request| request.retain_resources().is_empty())
        .then_output(|| DeleteStackOutput::builder().build());
    let retaining_delete = mock!(aws_sdk_cloudformation::Client::delete_stack)
        .match_requests(|request| request.retain_resources() == ["LikeRepository".to_string()])
        .then_output(|| DeleteStackOutput::builder().build());
    let cloudformation = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[
            &describe,
            &resources,
            &events,
            &plain_delete,
            &retaining_delete
        ]
    );
    let list_images = mock!(aws_sdk_ecr::Client::list_images)
        .match_requests(|request| request.repository_name() == Some("demo/like-service"))
        .then_output(|| {
            ListImagesOutput::builder()
                .image_ids(ImageIdentifier::builder().image_digest("sha256:1").build())
                .build()
        });
    let batch_delete = mock!(aws_sdk_ecr::Client::batch_delete_image).then_output(|| {
        BatchDeleteImageOutput::builder()
            .image_ids(ImageIdentifier::builder().image_digest("sha256:1").build())
            .build()
    });
    let ecr = mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[&list_images, &batch_delete]
    );
    let clients = region_clients(cloudformation, ecr);
    let (sink, mut receiver) = Events::channel();
    let removed = delete_stack(&clients, "demo", "demo-registry", &sink, "registry")
        .await
        .unwrap();
    assert_eq!(removed.retained, vec!["LikeRepository".to_string()]);
    assert_eq!(
        plain_delete.num_calls(),
        2,
        "first delete, then one retry after cleaning"
    );
    assert_eq!(retaining_delete.num_calls(), 1);
    assert_eq!(
        batch_delete.num_calls(),
        1,
        "the blocking repository is emptied"
    );
    let notes = notes(&mut receiver);
    assert!(
        notes.iter().any(|note| note.contains("DELETE_FAILED")
            && note.contains("LikeRepository")
            && note.contains("still contains images")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|note| note.contains("LikeRepository retained")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn a_missing_stack_is_already_gone() {
    let describe = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_error(|| {
        aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("Stack with id demo-registry does not exist")
                .build(),
        )
    });
    let delete = mock!(aws_sdk_cloudformation::Client::delete_stack)
        .then_output(|| DeleteStackOutput::builder().build());
    let cloudformation = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&describe, &delete]
    );
    let clients = region_clients(
        cloudformation,
        mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[]),
    );
    let removed = delete_stack(&clients, "demo", "demo-registry", &Events::discard(), "s")
        .await
        .unwrap();
    assert!(removed.already_gone);
    assert_eq!(delete.num_calls(), 0);
}

fn keep_data_config() -> Config {
    let global = mysfits::cli::GlobalArgs {
        region: Some("us-east-1".into()),
        app: Some("demo".into()),
        ..Default::default()
    };
    Config::resolve(&global, mysfits::config::ConfigFile::default()).unwrap()
}

#[tokio::test]
async fn keep_data_refuses_to_delete_a_stack_that_would_delete_the_table() {
    let template = mock!(aws_sdk_cloudformation::Client::get_template).then_output(|| {
        GetTemplateOutput::builder()
            .template_body("Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n")
            .build()
    });
    let clients = region_clients(
        mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[&template]),
        mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[]),
    );
    let error = ensure_table_is_retained(&clients, "demo-app", &keep_data_config())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }));
    let text = error.to_string();
    assert!(text.contains("would delete table demo-mysfits"), "{text}");
    assert!(text.contains("backup"), "{text}");
}

#[tokio::test]
async fn keep_data_accepts_a_retained_table() {
    let template = mock!(aws_sdk_cloudformation::Client::get_template).then_output(|| {
        GetTemplateOutput::builder()
            .template_body(
                "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain\n",
            )
            .build()
    });
    let clients = region_clients(
        mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[&template]),
        mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[]),
    );
    ensure_table_is_retained(&clients, "demo-app", &keep_data_config())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rolled_back_stack_of_a_failed_deploy_is_deleted() {
    let describe = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::RollbackComplete))
        .output(|| stack(StackStatus::DeleteInProgress))
        .output(|| stack(StackStatus::DeleteComplete))
        .build();
    let resources = mock!(aws_sdk_cloudformation::Client::describe_stack_resources)
        .then_output(|| DescribeStackResourcesOutput::builder().build());
    let delete = mock!(aws_sdk_cloudformation::Client::delete_stack)
        .then_output(|| DeleteStackOutput::builder().build());
    let cloudformation = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&describe, &resources, &delete]
    );
    let clients = region_clients(
        cloudformation,
        mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[]),
    );
    let removed = delete_stack(&clients, "demo", "demo-registry", &Events::discard(), "s")
        .await
        .unwrap();
    assert!(!removed.already_gone);
    assert!(removed.retained.is_empty());
    assert_eq!(delete.num_calls(), 1);
}
