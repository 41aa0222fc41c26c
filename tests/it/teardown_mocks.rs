//! Teardown paths moto cannot produce, against modeled AWS responses (aws-smithy-mocks): Global
//! Accelerator removal (moto has none) and an endpoint without it, DynamoDB's refusals (24-hour
//! source rule, replication drain), backups that take time, DELETE_FAILED stacks, and the
//! --keep-data guard.

use crate::util::notes;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fixtures::accelerator::tags;
use crate::fixtures::cfn::{stack, stack_event};
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
use aws_sdk_globalaccelerator::operation::update_accelerator::UpdateAcceleratorOutput;
use aws_sdk_globalaccelerator::types::{Accelerator, AcceleratorStatus, EndpointGroup, Listener};
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
        .repeatedly()
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
            "deployed",
            "delete endpoint group",
            "deployed",
            "delete listener",
            "deployed",
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

#[tokio::test(start_paused = true)]
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
        xray: mock_client!(aws_sdk_xray, RuleMode::MatchAny, &[]),
    }
}

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
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

/// A modeled Global Accelerator refusal as the service sends it (HTTP 400 with its code).
fn refusal(code: &'static str, message: &'static str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn two_groups() -> Rule {
    mock!(aws_sdk_globalaccelerator::Client::list_endpoint_groups).then_output(|| {
        ListEndpointGroupsOutput::builder()
            .endpoint_groups(
                EndpointGroup::builder()
                    .endpoint_group_arn(format!("{LISTENER}/endpoint-group/east"))
                    .endpoint_group_region("us-east-1")
                    .build(),
            )
            .endpoint_groups(
                EndpointGroup::builder()
                    .endpoint_group_arn(format!("{LISTENER}/endpoint-group/west"))
                    .endpoint_group_region("us-west-2")
                    .build(),
            )
            .build()
    })
}

fn one_listener() -> Rule {
    mock!(aws_sdk_globalaccelerator::Client::list_listeners).then_output(|| {
        ListListenersOutput::builder()
            .listeners(Listener::builder().listener_arn(LISTENER).build())
            .build()
    })
}

fn global(client: aws_sdk_globalaccelerator::Client) -> GlobalClients {
    GlobalClients {
        globalaccelerator: client,
        route53: route53_without_health_checks(),
        globalaccelerator_endpoint: None,
        route53_endpoint: None,
    }
}

/// Deletes are applied asynchronously: right after the groups are deleted DeleteListener may
/// answer AssociatedEndpointGroupFoundException, right after the listener DeleteAccelerator may
/// answer AssociatedListenerFoundException (or AcceleratorNotDisabledException while the disable
/// is deployed). Each is retried with backoff until it goes through.
#[tokio::test(start_paused = true)]
async fn refusals_while_a_delete_is_being_applied_are_retried_until_it_goes_through() {
    use aws_sdk_globalaccelerator::operation::delete_accelerator::DeleteAcceleratorError;
    use aws_sdk_globalaccelerator::operation::delete_listener::DeleteListenerError;
    use aws_sdk_globalaccelerator::types::error::{
        AcceleratorNotDisabledException, AssociatedEndpointGroupFoundException,
        AssociatedListenerFoundException,
    };
    let describe = mock!(aws_sdk_globalaccelerator::Client::describe_accelerator)
        .sequence()
        .output(|| accelerator(true, AcceleratorStatus::Deployed))
        .output(|| accelerator(false, AcceleratorStatus::Deployed))
        .repeatedly()
        .build();
    let disable = mock!(aws_sdk_globalaccelerator::Client::update_accelerator)
        .then_output(|| UpdateAcceleratorOutput::builder().build());
    let delete_group = mock!(aws_sdk_globalaccelerator::Client::delete_endpoint_group)
        .then_output(|| DeleteEndpointGroupOutput::builder().build());
    let group_still_there = || {
        DeleteListenerError::AssociatedEndpointGroupFoundException(
            AssociatedEndpointGroupFoundException::builder()
                .message("The listener has associated endpoint groups")
                .meta(refusal(
                    "AssociatedEndpointGroupFoundException",
                    "The listener has associated endpoint groups",
                ))
                .build(),
        )
    };
    let delete_listener = mock!(aws_sdk_globalaccelerator::Client::delete_listener)
        .sequence()
        .error(group_still_there)
        .error(group_still_there)
        .output(|| DeleteListenerOutput::builder().build())
        .build();
    let delete_accelerator = mock!(aws_sdk_globalaccelerator::Client::delete_accelerator)
        .sequence()
        .error(|| {
            DeleteAcceleratorError::AcceleratorNotDisabledException(
                AcceleratorNotDisabledException::builder()
                    .message("The accelerator is not disabled")
                    .meta(refusal(
                        "AcceleratorNotDisabledException",
                        "The accelerator is not disabled",
                    ))
                    .build(),
            )
        })
        .error(|| {
            DeleteAcceleratorError::AssociatedListenerFoundException(
                AssociatedListenerFoundException::builder()
                    .message("Cannot delete accelerator because an associated listener was found")
                    .meta(refusal(
                        "AssociatedListenerFoundException",
                        "Cannot delete accelerator because an associated listener was found",
                    ))
                    .build(),
            )
        })
        .output(|| DeleteAcceleratorOutput::builder().build())
        .build();
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &listed_accelerator(),
            &tags("demo"),
            &describe,
            &disable,
            &one_listener(),
            &two_groups(),
            &delete_group,
            &delete_listener,
            &delete_accelerator
        ]
    );
    let removal = remove_entry_point(&global(client), "demo", &Events::discard(), "entry")
        .await
        .unwrap();
    assert_eq!(
        removal.accelerator,
        Removal::Removed {
            names: vec!["demo".into()]
        }
    );
    assert_eq!(delete_listener.num_calls(), 3);
    assert_eq!(delete_accelerator.num_calls(), 3);
}

/// A removal that cannot finish says what is left, by ARN, why the app stacks were not deleted
/// (the ALB is still an endpoint: deleting its stack would fail on the subnets) and that a rerun
/// of teardown resumes.
#[tokio::test(start_paused = true)]
async fn a_removal_that_cannot_finish_names_what_is_left_and_how_to_resume() {
    use aws_sdk_globalaccelerator::operation::delete_listener::DeleteListenerError;
    use aws_sdk_globalaccelerator::types::error::AssociatedEndpointGroupFoundException;
    let describe = mock!(aws_sdk_globalaccelerator::Client::describe_accelerator)
        .then_output(|| accelerator(false, AcceleratorStatus::Deployed));
    let delete_group = mock!(aws_sdk_globalaccelerator::Client::delete_endpoint_group)
        .then_output(|| DeleteEndpointGroupOutput::builder().build());
    // The groups never finish going.
    let delete_listener = mock!(aws_sdk_globalaccelerator::Client::delete_listener)
        .sequence()
        .error(|| {
            DeleteListenerError::AssociatedEndpointGroupFoundException(
                AssociatedEndpointGroupFoundException::builder()
                    .message("The listener has associated endpoint groups")
                    .meta(refusal(
                        "AssociatedEndpointGroupFoundException",
                        "The listener has associated endpoint groups",
                    ))
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let delete_accelerator = mock!(aws_sdk_globalaccelerator::Client::delete_accelerator)
        .then_output(|| DeleteAcceleratorOutput::builder().build());
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &listed_accelerator(),
            &tags("demo"),
            &describe,
            &one_listener(),
            &two_groups(),
            &delete_group,
            &delete_listener,
            &delete_accelerator
        ]
    );
    let error = remove_entry_point(&global(client), "demo", &Events::discard(), "entry")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("AssociatedEndpointGroupFoundException"),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "still there: listener {LISTENER}, accelerator {ACCELERATOR}"
        )),
        "the deleted groups are not listed, the rest is: {error}"
    );
    assert!(error.contains("left the app stacks"), "{error}");
    assert!(error.contains("run `mysfits teardown` again"), "{error}");
    assert_eq!(
        delete_accelerator.num_calls(),
        0,
        "nothing past the failure"
    );
}

/// A delete that never reaches DEPLOYED is bounded: the error says which groups are still there.
#[tokio::test(start_paused = true)]
async fn a_delete_that_is_never_deployed_times_out_naming_what_is_left() {
    // Deployed when looked at and when waited for before the first delete; never again after it.
    let describe = mock!(aws_sdk_globalaccelerator::Client::describe_accelerator)
        .sequence()
        .output(|| accelerator(false, AcceleratorStatus::Deployed))
        .output(|| accelerator(false, AcceleratorStatus::Deployed))
        .output(|| accelerator(false, AcceleratorStatus::InProgress))
        .repeatedly()
        .build();
    let delete_group = mock!(aws_sdk_globalaccelerator::Client::delete_endpoint_group)
        .then_output(|| DeleteEndpointGroupOutput::builder().build());
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &listed_accelerator(),
            &tags("demo"),
            &describe,
            &one_listener(),
            &two_groups(),
            &delete_group,
        ]
    );
    let error = remove_entry_point(&global(client), "demo", &Events::discard(), "entry")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("to be DEPLOYED"), "{error}");
    assert!(
        error.contains(&format!(
            "still there: endpoint group {LISTENER}/endpoint-group/west (us-west-2), listener {LISTENER}, accelerator {ACCELERATOR}"
        )),
        "the east group's delete was accepted, the rest is left: {error}"
    );
    assert_eq!(
        error.matches("fix:").count(),
        1,
        "one piece of advice: {error}"
    );
    assert_eq!(
        delete_group.num_calls(),
        1,
        "the next delete waits for DEPLOYED"
    );
}

// What Global Accelerator leaves in a VPC (client IP preservation): interfaces of type
// global_accelerator_managed in the load balancer's subnets and a security group named
// GlobalAccelerator, which it never deletes.

const VPC: &str = "vpc-0a1b2c3d4e5f60718";
const GA_GROUP: &str = "sg-0ga1234567890abcd";

fn filter_values(filters: &[aws_sdk_ec2::types::Filter], name: &str) -> Vec<String> {
    filters
        .iter()
        .filter(|filter| filter.name() == Some(name))
        .flat_map(|filter| filter.values().to_vec())
        .collect()
}

fn is_ga_interface_query(filters: &[aws_sdk_ec2::types::Filter]) -> bool {
    filter_values(filters, "vpc-id") == [VPC]
        && filter_values(filters, "interface-type") == ["global_accelerator_managed"]
}

fn interface(
    id: &str,
    kind: aws_sdk_ec2::types::NetworkInterfaceType,
    status: aws_sdk_ec2::types::NetworkInterfaceStatus,
    description: &str,
) -> aws_sdk_ec2::types::NetworkInterface {
    aws_sdk_ec2::types::NetworkInterface::builder()
        .network_interface_id(id)
        .interface_type(kind)
        .status(status)
        .description(description)
        .subnet_id("subnet-0public1")
        .vpc_id(VPC)
        .build()
}

fn ga_interface(id: &str) -> aws_sdk_ec2::types::NetworkInterface {
    interface(
        id,
        aws_sdk_ec2::types::NetworkInterfaceType::GlobalAcceleratorManaged,
        aws_sdk_ec2::types::NetworkInterfaceStatus::InUse,
        "Network interface for Global Accelerator",
    )
}

fn interfaces_output(
    list: Vec<aws_sdk_ec2::types::NetworkInterface>,
) -> aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput {
    aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput::builder()
        .set_network_interfaces(Some(list))
        .build()
}

/// DescribeSecurityGroups with filters vpc-id and group-name=GlobalAccelerator.
fn ga_security_group() -> Rule {
    mock!(aws_sdk_ec2::Client::describe_security_groups)
        .match_requests(|request| {
            filter_values(request.filters(), "vpc-id") == [VPC]
                && filter_values(request.filters(), "group-name") == ["GlobalAccelerator"]
        })
        .then_output(|| {
            aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput::builder(
            )
            .security_groups(
                aws_sdk_ec2::types::SecurityGroup::builder()
                    .group_id(GA_GROUP)
                    .group_name("GlobalAccelerator")
                    .vpc_id(VPC)
                    .description("Security group for Global Accelerator")
                    .build(),
            )
            .build()
        })
}

fn dependency_violation() -> aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupError
{
    aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupError::generic(
        ErrorMetadata::builder()
            .code("DependencyViolation")
            .message(format!("resource {GA_GROUP} has a dependent object"))
            .build(),
    )
}

fn clients_with_ec2(
    cloudformation: aws_sdk_cloudformation::Client,
    ec2: aws_sdk_ec2::Client,
) -> RegionClients {
    RegionClients {
        ec2,
        ..region_clients(
            cloudformation,
            mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[]),
        )
    }
}

#[tokio::test(start_paused = true)]
async fn global_accelerator_interfaces_are_waited_for_then_its_security_group_is_deleted() {
    let lingering = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
        .match_requests(|request| is_ga_interface_query(request.filters()))
        .sequence()
        .output(|| interfaces_output(vec![ga_interface("eni-0ga1"), ga_interface("eni-0ga2")]))
        .output(|| interfaces_output(vec![ga_interface("eni-0ga2")]))
        .output(|| interfaces_output(vec![]))
        .repeatedly()
        .build();
    // The group is still attached to an interface being released: DependencyViolation once.
    let delete_group = mock!(aws_sdk_ec2::Client::delete_security_group)
        .match_requests(|request| request.group_id() == Some(GA_GROUP))
        .sequence()
        .error(dependency_violation)
        .output(|| {
            aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupOutput::builder()
                .r#return(true)
                .group_id(GA_GROUP)
                .build()
        })
        .build();
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&lingering, &ga_security_group(), &delete_group]
    );
    let clients = clients_with_ec2(
        mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[]),
        ec2,
    );
    let (events, mut receiver) = Events::channel();
    let summary = mysfits::teardown::interfaces::release_accelerator_network(
        &clients,
        VPC,
        &events,
        "interfaces",
        Duration::from_secs(30 * 60),
    )
    .await
    .unwrap();
    assert_eq!(lingering.num_calls(), 3, "polled until none is left");
    assert_eq!(delete_group.num_calls(), 2, "DependencyViolation retried");
    assert!(
        summary.contains(&format!("deleted security group {GA_GROUP}")),
        "{summary}"
    );
    let notes = notes(&mut receiver);
    assert!(
        notes.iter().any(
            |note| note.contains("release 2 network interface(s)") && note.contains("eni-0ga1")
        ),
        "{notes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn interfaces_that_are_never_released_time_out_with_what_to_do() {
    let lingering = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
        .match_requests(|request| is_ga_interface_query(request.filters()))
        .then_output(|| interfaces_output(vec![ga_interface("eni-0ga1")]));
    let delete_group = mock!(aws_sdk_ec2::Client::delete_security_group).then_output(|| {
        aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupOutput::builder().build()
    });
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&lingering, &ga_security_group(), &delete_group]
    );
    let clients = clients_with_ec2(
        mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[]),
        ec2,
    );
    let error = mysfits::teardown::interfaces::release_accelerator_network(
        &clients,
        VPC,
        &Events::discard(),
        "interfaces",
        Duration::from_secs(30 * 60),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("eni-0ga1") && text.contains(VPC), "{text}");
    assert!(
        text.contains("run `mysfits teardown` again later"),
        "{text}"
    );
    assert_eq!(
        delete_group.num_calls(),
        0,
        "the group waits for its interfaces"
    );
}

fn network_failure(
    id: &str,
    logical_id: &str,
    resource_type: &str,
    reason: &str,
) -> aws_sdk_cloudformation::types::StackEvent {
    aws_sdk_cloudformation::types::StackEvent::builder()
        .event_id(id)
        .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/demo-app/1")
        .stack_name("demo-app")
        .logical_resource_id(logical_id)
        .resource_type(resource_type)
        .resource_status(ResourceStatus::DeleteFailed)
        .resource_status_reason(reason)
        .timestamp(DateTime::from_secs(2))
        .build()
}

fn stack_resource(logical_id: &str, physical_id: &str, resource_type: &str) -> StackResource {
    StackResource::builder()
        .logical_resource_id(logical_id)
        .physical_resource_id(physical_id)
        .resource_type(resource_type)
        .resource_status(ResourceStatus::DeleteFailed)
        .timestamp(DateTime::from_secs(1))
        .build()
}

/// An app stack left DELETE_FAILED by its subnet and VPC (what an earlier teardown, or a
/// `aws cloudformation delete-stack`, leaves while Global Accelerator's interfaces and group are
/// there): teardown finds what blocks them, waits for Global Accelerator's interfaces, deletes its
/// security group and a detached interface left in the subnet, and deletes the stack again.
#[tokio::test(start_paused = true)]
async fn a_vpc_and_subnet_blocked_by_leftover_interfaces_are_cleaned_and_the_stack_deleted() {
    let describe = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::DeleteFailed))
        .output(|| stack(StackStatus::DeleteInProgress))
        .output(|| stack(StackStatus::DeleteComplete))
        .build();
    let events = mock!(aws_sdk_cloudformation::Client::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(network_failure(
                "e3",
                "Vpc",
                "AWS::EC2::VPC",
                &format!("The vpc '{VPC}' has dependencies and cannot be deleted. (Service: Ec2, Status Code: 400, Request ID: 1) (SDK Attempt Count: 1)"),
            ))
            .stack_events(network_failure(
                "e2",
                "PublicSubnet1",
                "AWS::EC2::Subnet",
                "The subnet 'subnet-0public1' has dependencies and cannot be deleted. (Service: Ec2, Status Code: 400, Request ID: 2) (SDK Attempt Count: 1)",
            ))
            .stack_events(stack_event(
                "e1",
                "demo-registry",
                ResourceStatus::DeleteInProgress,
                "User Initiated",
            ))
            .build()
    });
    let resources =
        mock!(aws_sdk_cloudformation::Client::describe_stack_resources).then_output(|| {
            DescribeStackResourcesOutput::builder()
                .stack_resources(stack_resource("Vpc", VPC, "AWS::EC2::VPC"))
                .stack_resources(stack_resource(
                    "PublicSubnet1",
                    "subnet-0public1",
                    "AWS::EC2::Subnet",
                ))
                .build()
        });
    let delete = mock!(aws_sdk_cloudformation::Client::delete_stack)
        .match_requests(|request| request.retain_resources().is_empty())
        .then_output(|| DeleteStackOutput::builder().build());
    let cloudformation = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&describe, &events, &resources, &delete]
    );
    let lingering = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
        .match_requests(|request| is_ga_interface_query(request.filters()))
        .sequence()
        .output(|| interfaces_output(vec![ga_interface("eni-0ga1")]))
        .output(|| interfaces_output(vec![]))
        .repeatedly()
        .build();
    // In the subnet: Global Accelerator's interface (left to it) and a detached one of some
    // other service.
    let in_subnet = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
        .match_requests(|request| {
            filter_values(request.filters(), "subnet-id") == ["subnet-0public1"]
        })
        .then_output(|| {
            interfaces_output(vec![
                ga_interface("eni-0ga1"),
                interface(
                    "eni-0left1",
                    aws_sdk_ec2::types::NetworkInterfaceType::Interface,
                    aws_sdk_ec2::types::NetworkInterfaceStatus::Available,
                    "detached leftover",
                ),
            ])
        });
    let in_vpc = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
        .match_requests(|request| {
            filter_values(request.filters(), "vpc-id") == [VPC]
                && filter_values(request.filters(), "interface-type").is_empty()
        })
        .then_output(|| interfaces_output(vec![]));
    let delete_interface = mock!(aws_sdk_ec2::Client::delete_network_interface)
        .match_requests(|request| request.network_interface_id() == Some("eni-0left1"))
        .then_output(|| {
            aws_sdk_ec2::operation::delete_network_interface::DeleteNetworkInterfaceOutput::builder(
            )
            .build()
        });
    let delete_group = mock!(aws_sdk_ec2::Client::delete_security_group)
        .match_requests(|request| request.group_id() == Some(GA_GROUP))
        .then_output(|| {
            aws_sdk_ec2::operation::delete_security_group::DeleteSecurityGroupOutput::builder()
                .r#return(true)
                .build()
        });
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[
            &lingering,
            &in_subnet,
            &in_vpc,
            &ga_security_group(),
            &delete_interface,
            &delete_group
        ]
    );
    let clients = clients_with_ec2(cloudformation, ec2);
    let (sink, mut receiver) = Events::channel();
    let removed = delete_stack(&clients, "demo", "demo-app", &sink, "app stack")
        .await
        .unwrap();
    assert!(removed.retained.is_empty(), "{:?}", removed.retained);
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(
        delete_group.num_calls(),
        1,
        "the GlobalAccelerator group is deleted"
    );
    assert_eq!(
        delete_interface.num_calls(),
        1,
        "only the detached leftover"
    );
    let notes = notes(&mut receiver);
    assert!(
        notes
            .iter()
            .any(|note| note.contains("deleted detached network interface eni-0left1")),
        "{notes:?}"
    );
}
