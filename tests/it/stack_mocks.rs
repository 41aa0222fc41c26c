//! Stack deploy paths moto cannot produce (rollback states, failed change sets, real failure
//! reasons), checked against modeled CloudFormation responses (aws-smithy-mocks).

use crate::fixtures::cfn::{STACK_ID, change_set_ready, request, stack};
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stack_resources::DescribeStackResourcesOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::operation::get_template::GetTemplateOutput;
use aws_sdk_cloudformation::types::{
    ChangeSetStatus, ResourceStatus, StackEvent, StackResource, StackStatus,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;
use mysfits::error::Error;
use mysfits::progress::Events;
use mysfits::stack::StackKind;
use mysfits::stack::deploy::{Preview, StackDeployer};

fn event(id: &str, logical_id: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    StackEvent::builder()
        .event_id(id)
        .stack_id(STACK_ID)
        .stack_name("demo-registry")
        .logical_resource_id(logical_id)
        .resource_type("AWS::ECR::Repository")
        .resource_status(status)
        .resource_status_reason(reason)
        .timestamp(DateTime::from_secs(1))
        .build()
}

fn resources() -> Rule {
    mock!(Client::describe_stack_resources).then_output(|| {
        DescribeStackResourcesOutput::builder()
            .stack_resources(
                StackResource::builder()
                    .logical_resource_id("MysfitsRepository")
                    .physical_resource_id("demo/mysfits-service")
                    .resource_type("AWS::ECR::Repository")
                    .resource_status(ResourceStatus::CreateComplete)
                    .timestamp(DateTime::from_secs(1))
                    .build(),
            )
            .build()
    })
}

#[tokio::test]
async fn rollback_complete_stack_is_deleted_then_created_again() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::RollbackComplete))
        .output(|| stack(StackStatus::DeleteComplete))
        .output(|| stack(StackStatus::CreateInProgress))
        .output(|| stack(StackStatus::CreateComplete))
        .repeatedly()
        .build();
    let delete = mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let create = mock!(Client::create_change_set)
        .match_requests(|request| {
            request.change_set_type() == Some(&aws_sdk_cloudformation::types::ChangeSetType::Create)
        })
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id("cs")
                .stack_id(STACK_ID)
                .build()
        });
    let events = mock!(Client::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(event(
                "e2",
                "MysfitsRepository",
                ResourceStatus::CreateComplete,
                "",
            ))
            .build()
    });
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[
            &describe,
            &delete,
            &create,
            &change_set_ready(),
            &events,
            &execute,
            &resources()
        ]
    );
    let (sink, mut receiver) = Events::channel();
    let request = request();
    let result = StackDeployer::new(&client, &request, sink, "registry")
        .deploy()
        .await
        .unwrap();
    assert!(result.changed);
    assert_eq!(result.status, "CREATE_COMPLETE");
    assert_eq!(
        delete.num_calls(),
        1,
        "the rolled-back stack must be deleted first"
    );
    assert_eq!(execute.num_calls(), 1);
    assert_eq!(
        result.value("MysfitsRepositoryName", "MysfitsRepository"),
        Some("demo/mysfits-service")
    );
    let notes = crate::util::notes(&mut receiver);
    assert!(
        notes
            .iter()
            .any(|note| note.contains("ROLLBACK_COMPLETE") && note.contains("deleting")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn failed_update_names_the_first_real_cause_not_the_cancellations() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::UpdateComplete))
        .output(|| stack(StackStatus::UpdateRollbackInProgress))
        .output(|| stack(StackStatus::UpdateRollbackComplete))
        .repeatedly()
        .build();
    let template = mock!(Client::get_template).then_output(|| {
        GetTemplateOutput::builder()
            .template_body("an older template")
            .build()
    });
    let create = mock!(Client::create_change_set).then_output(|| {
        CreateChangeSetOutput::builder()
            .id("cs")
            .stack_id(STACK_ID)
            .build()
    });
    let events = mock!(Client::describe_stack_events).then_output(|| {
        // Newest first, as CloudFormation returns them.
        DescribeStackEventsOutput::builder()
            .stack_events(event(
                "e3",
                "LikeRepository",
                ResourceStatus::UpdateFailed,
                "Resource update cancelled",
            ))
            .stack_events(event(
                "e2",
                "MysfitsRepository",
                ResourceStatus::UpdateFailed,
                "Invalid parameter at 'imageTagMutability'",
            ))
            .stack_events(event(
                "e1",
                "MysfitsRepository",
                ResourceStatus::UpdateInProgress,
                "",
            ))
            .build()
    });
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[
            &describe,
            &template,
            &create,
            &change_set_ready(),
            &events,
            &execute,
            &resources()
        ]
    );
    let request = request();
    let error = StackDeployer::new(&client, &request, Events::discard(), "registry")
        .deploy()
        .await
        .unwrap_err();
    let Error::Stack {
        status, failures, ..
    } = &error
    else {
        panic!("expected a stack error, got {error}");
    };
    assert_eq!(status, "UPDATE_ROLLBACK_COMPLETE");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].logical_id, "MysfitsRepository");
    let message = error.to_string();
    assert!(message.contains("imageTagMutability"), "{message}");
    assert!(message.contains("fix:"), "{message}");
}

#[tokio::test]
async fn a_change_set_without_changes_is_no_change_and_is_cleaned_up() {
    let describe =
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateComplete));
    let template = mock!(Client::get_template).then_output(|| {
        GetTemplateOutput::builder()
            .template_body("whitespace differs")
            .build()
    });
    let create = mock!(Client::create_change_set).then_output(|| {
        CreateChangeSetOutput::builder()
            .id("cs")
            .stack_id(STACK_ID)
            .build()
    });
    let failed = mock!(Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::Failed)
            .status_reason(
                "The submitted information didn't contain changes. Submit different information to create a change set.",
            )
            .build()
    });
    let delete =
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[
            &describe,
            &template,
            &create,
            &failed,
            &delete,
            &execute,
            &resources()
        ]
    );
    let request = request();
    let result = StackDeployer::new(&client, &request, Events::discard(), "registry")
        .deploy()
        .await
        .unwrap();
    assert!(!result.changed);
    assert_eq!(
        delete.num_calls(),
        1,
        "the empty change set must be deleted"
    );
    assert_eq!(execute.num_calls(), 0);
}

#[tokio::test]
async fn identical_template_and_parameters_make_no_writes() {
    let describe =
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateComplete));
    let template = mock!(Client::get_template).then_output(|| {
        GetTemplateOutput::builder()
            .template_body(StackKind::Registry.template())
            .build()
    });
    let create = mock!(Client::create_change_set).then_output(|| {
        CreateChangeSetOutput::builder()
            .id("cs")
            .stack_id(STACK_ID)
            .build()
    });
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&describe, &template, &create, &resources()]
    );
    let request = request();
    let deployer = StackDeployer::new(&client, &request, Events::discard(), "registry");
    assert!(!deployer.deploy().await.unwrap().changed);
    assert_eq!(
        (describe.num_calls(), template.num_calls()),
        (1, 1),
        "an unchanged stack is described once and its template read once"
    );
    assert_eq!(deployer.preview().await.unwrap(), Preview::Unchanged);
    assert_eq!(create.num_calls(), 0, "no change set may be created");
}

#[tokio::test]
async fn update_rollback_failed_is_continued_before_updating() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::UpdateRollbackFailed))
        .output(|| stack(StackStatus::UpdateRollbackComplete))
        .output(|| stack(StackStatus::UpdateComplete))
        .repeatedly()
        .build();
    let continue_rollback = mock!(Client::continue_update_rollback).then_output(|| {
        aws_sdk_cloudformation::operation::continue_update_rollback::ContinueUpdateRollbackOutput::builder().build()
    });
    let create = mock!(Client::create_change_set)
        .match_requests(|request| {
            request.change_set_type() == Some(&aws_sdk_cloudformation::types::ChangeSetType::Update)
        })
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id("cs")
                .stack_id(STACK_ID)
                .build()
        });
    let events = mock!(Client::describe_stack_events)
        .then_output(|| DescribeStackEventsOutput::builder().build());
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[
            &describe,
            &continue_rollback,
            &create,
            &change_set_ready(),
            &events,
            &execute,
            &resources()
        ]
    );
    let request = request();
    let result = StackDeployer::new(&client, &request, Events::discard(), "registry")
        .deploy()
        .await
        .unwrap();
    assert_eq!(continue_rollback.num_calls(), 1);
    assert_eq!(execute.num_calls(), 1);
    assert!(result.changed);
}

#[tokio::test]
async fn a_missing_stack_previews_as_create_and_leaves_nothing_behind() {
    let describe = mock!(Client::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("Stack with id demo-registry does not exist")
                .build(),
        )
    });
    let create = mock!(Client::create_change_set).then_output(|| {
        CreateChangeSetOutput::builder()
            .id("cs")
            .stack_id(STACK_ID)
            .build()
    });
    let delete = mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&describe, &create, &change_set_ready(), &delete]
    );
    let request = request();
    let preview = StackDeployer::new(&client, &request, Events::discard(), "registry")
        .preview()
        .await
        .unwrap();
    let Preview::Create { changes } = preview else {
        panic!("expected a create preview, got {preview:?}");
    };
    assert_eq!(changes[0].logical_id, "MysfitsRepository");
    assert_eq!(
        delete.num_calls(),
        1,
        "the REVIEW_IN_PROGRESS stack of the preview must be removed"
    );
}
