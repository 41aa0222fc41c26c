//! The data stack taking the table over (an IMPORT change set), which moto does not model:
//! modeled CloudFormation and DynamoDB answers (aws-smithy-mocks), errors as AWS words them.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stack_resource::{
    DescribeStackResourceError, DescribeStackResourceOutput,
};
use aws_sdk_cloudformation::operation::describe_stack_resources::DescribeStackResourcesOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, ChangeSetStatus, ChangeSetType, ResourceStatus, StackResource,
    StackResourceDetail, StackStatus,
};
use aws_sdk_dynamodb::operation::describe_table::{DescribeTableError, DescribeTableOutput};
use aws_sdk_dynamodb::types::{TableDescription, TableStatus};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;
use mysfits::aws::RegionClients;
use mysfits::cli::GlobalArgs;
use mysfits::config::{Config, ConfigFile};
use mysfits::progress::Events;
use mysfits::stack::data::table_import;
use mysfits::stack::data_request;
use mysfits::stack::deploy::StackDeployer;

use crate::fixtures::cfn::{STACK_ID, stack};

const TABLE: &str = "demo-mysfits";

fn config() -> Config {
    let global = GlobalArgs {
        region: Some("us-east-1".into()),
        app: Some("demo".into()),
        ..GlobalArgs::default()
    };
    Config::resolve(&global, ConfigFile::default()).expect("valid config")
}

fn region_clients(cloudformation: Client, dynamodb: aws_sdk_dynamodb::Client) -> RegionClients {
    RegionClients {
        region: "us-east-1".into(),
        endpoint_url: None,
        cloudformation,
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[]),
        dynamodb,
        ecr: mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[]),
        ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[]),
        elbv2: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, &[]),
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[]),
        logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[]),
        autoscaling: mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &[]),
        xray: mock_client!(aws_sdk_xray, RuleMode::MatchAny, &[]),
    }
}

/// DescribeStackResource of `Table` in `stack`: found (CREATE_COMPLETE), or the ValidationError
/// AWS answers for a missing stack and for a stack without that logical id.
fn table_in(stack: &'static str, found: bool) -> Rule {
    table_in_status(stack, found.then_some(ResourceStatus::CreateComplete))
}

/// As [`table_in`], the resource in `status` when there is one.
fn table_in_status(stack: &'static str, status: Option<ResourceStatus>) -> Rule {
    let rule = mock!(Client::describe_stack_resource).match_requests(move |request| {
        request.stack_name() == Some(stack) && request.logical_resource_id() == Some("Table")
    });
    if let Some(status) = status {
        rule.then_output(move || {
            DescribeStackResourceOutput::builder()
                .stack_resource_detail(
                    StackResourceDetail::builder()
                        .stack_name(stack)
                        .logical_resource_id("Table")
                        .physical_resource_id(TABLE)
                        .resource_type("AWS::DynamoDB::Table")
                        .resource_status(status.clone())
                        .last_updated_timestamp(DateTime::from_secs(1))
                        .build(),
                )
                .build()
        })
    } else {
        rule.then_error(move || {
            DescribeStackResourceError::generic(
                ErrorMetadata::builder()
                    .code("ValidationError")
                    .message(format!("Stack '{stack}' does not exist"))
                    .build(),
            )
        })
    }
}

fn table_exists(exists: bool) -> Rule {
    table_status(exists.then_some(TableStatus::Active))
}

/// DescribeTable of the table: in `status`, or ResourceNotFoundException.
fn table_status(status: Option<TableStatus>) -> Rule {
    let rule = mock!(aws_sdk_dynamodb::Client::describe_table)
        .match_requests(|request| request.table_name() == Some(TABLE));
    if let Some(status) = status {
        rule.then_output(move || {
            DescribeTableOutput::builder()
                .table(
                    TableDescription::builder()
                        .table_name(TABLE)
                        .table_status(status.clone())
                        .build(),
                )
                .build()
        })
    } else {
        rule.then_error(|| {
            DescribeTableError::generic(
                ErrorMetadata::builder()
                    .code("ResourceNotFoundException")
                    .message(format!(
                        "Requested resource not found: Table: {TABLE} not found"
                    ))
                    .build(),
            )
        })
    }
}

/// What DescribeStacks answers for a stack that does not exist.
fn no_data_stack() -> DescribeStacksError {
    DescribeStacksError::generic(
        ErrorMetadata::builder()
            .code("ValidationError")
            .message("Stack with id demo-data does not exist")
            .build(),
    )
}

fn change_set_created(id: &str) -> CreateChangeSetOutput {
    CreateChangeSetOutput::builder()
        .id(id)
        .stack_id(STACK_ID)
        .build()
}

async fn import_for(in_data: bool, in_app: bool, exists: bool) -> mysfits::error::Result<usize> {
    let data = table_in("demo-data", in_data);
    let app = table_in("demo-app", in_app);
    let table = table_exists(exists);
    let clients = region_clients(
        mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[&data, &app]),
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&table]),
    );
    table_import(&config(), &clients)
        .await
        .map(|import| import.len())
}

#[tokio::test]
async fn the_table_is_imported_only_when_it_exists_outside_every_stack() {
    // The data stack has it: a plain update, nothing to import (and nothing else asked).
    assert_eq!(import_for(true, false, true).await.unwrap(), 0);
    // A fresh account: the data stack creates it.
    assert_eq!(import_for(false, false, false).await.unwrap(), 0);
    // Outside any stack (moved out of the app stack, or left by a stopped teardown): imported.
    assert_eq!(import_for(false, false, true).await.unwrap(), 1);
}

#[tokio::test]
async fn the_resource_to_import_names_the_table_by_its_primary_identifier() {
    let data = table_in("demo-data", false);
    let app = table_in("demo-app", false);
    let table = table_exists(true);
    let clients = region_clients(
        mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[&data, &app]),
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&table]),
    );
    let import = table_import(&config(), &clients).await.unwrap();
    let [resource] = import.as_slice() else {
        panic!("one resource: {import:?}");
    };
    assert_eq!(resource.resource_type(), Some("AWS::DynamoDB::Table"));
    assert_eq!(resource.logical_resource_id(), Some("Table"));
    // AWS::DynamoDB::Table's primaryIdentifier is /properties/TableName.
    assert_eq!(
        resource
            .resource_identifier()
            .and_then(|identifier| identifier.get("TableName"))
            .map(String::as_str),
        Some(TABLE)
    );
}

/// A table in DELETING (a teardown's DeleteTable under way) is neither imported nor created.
#[tokio::test]
async fn a_table_being_deleted_is_refused_with_the_way_out() {
    let data = table_in("demo-data", false);
    let app = table_in("demo-app", false);
    let deleting = table_status(Some(TableStatus::Deleting));
    let clients = region_clients(
        mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[&data, &app]),
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&deleting]),
    );
    let error = table_import(&config(), &clients)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("table demo-mysfits in us-east-1 is being deleted"),
        "{error}"
    );
    assert!(error.contains("then run `mysfits deploy` again"), "{error}");
}

/// A data stack whose import of the table rolled back does not hold it: it is imported again.
#[tokio::test]
async fn a_table_whose_import_rolled_back_is_imported_again() {
    let rolled_back = table_in_status("demo-data", Some(ResourceStatus::ImportRollbackComplete));
    let app = table_in("demo-app", false);
    let table = table_exists(true);
    let clients = region_clients(
        mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            &[&rolled_back, &app]
        ),
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&table]),
    );
    assert_eq!(table_import(&config(), &clients).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_table_still_in_the_app_stack_is_refused_with_the_way_out() {
    let error = import_for(false, true, true).await.unwrap_err().to_string();
    assert!(
        error.contains("table demo-mysfits is still managed by stack demo-app in us-east-1"),
        "{error}"
    );
    assert!(error.contains("run `mysfits deploy` again"), "{error}");
}

/// The data stack's deploy with the table outside every stack: an IMPORT change set naming it
/// (no tags: an import may add none), IMPORT_IN_PROGRESS → IMPORT_COMPLETE, then an UPDATE that
/// brings the stack's tags.
#[tokio::test]
async fn a_table_outside_the_stacks_is_imported_then_the_stack_updated_to_its_tags() {
    let config = config();
    let data = table_in("demo-data", false);
    let app = table_in("demo-app", false);
    let table = table_exists(true);
    // The first look settles the stack before the decision, the second is the import's own.
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .error(no_data_stack)
        .error(no_data_stack)
        .output(|| stack(StackStatus::ImportInProgress))
        .output(|| stack(StackStatus::ImportComplete))
        .output(|| stack(StackStatus::ImportComplete))
        .output(|| stack(StackStatus::ImportComplete))
        .output(|| stack(StackStatus::UpdateInProgress))
        .output(|| stack(StackStatus::UpdateComplete))
        .repeatedly()
        .build();
    let import = mock!(Client::create_change_set)
        .match_requests(|request| {
            request.change_set_type() == Some(&ChangeSetType::Import)
                && request.tags().is_empty()
                && request.resources_to_import().len() == 1
                && request.resources_to_import()[0]
                    .resource_identifier()
                    .and_then(|identifier| identifier.get("TableName"))
                    .is_some_and(|name| name == TABLE)
                && request.template_body().is_some_and(|body| {
                    body.contains("Type: AWS::DynamoDB::Table")
                        && body.contains("DeletionPolicy: RetainExceptOnCreate")
                        && !body.contains("\nOutputs:")
                })
        })
        .then_output(|| change_set_created("cs-import"));
    let update = mock!(Client::create_change_set)
        .match_requests(|request| {
            request.change_set_type() == Some(&ChangeSetType::Update)
                && request.resources_to_import().is_empty()
                && request
                    .tags()
                    .iter()
                    .any(|tag| tag.key() == Some("mysfits:app") && tag.value() == Some("demo"))
        })
        .then_output(|| change_set_created("cs-update"));
    let ready = mock!(Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .changes(
                Change::builder()
                    .resource_change(
                        aws_sdk_cloudformation::types::ResourceChange::builder()
                            .action(ChangeAction::Import)
                            .logical_resource_id("Table")
                            .resource_type("AWS::DynamoDB::Table")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let events = mock!(Client::describe_stack_events)
        .then_output(|| DescribeStackEventsOutput::builder().build());
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let resources = mock!(Client::describe_stack_resources).then_output(|| {
        DescribeStackResourcesOutput::builder()
            .stack_resources(
                StackResource::builder()
                    .logical_resource_id("Table")
                    .physical_resource_id(TABLE)
                    .resource_type("AWS::DynamoDB::Table")
                    .resource_status(ResourceStatus::ImportComplete)
                    .timestamp(DateTime::from_secs(1))
                    .build(),
            )
            .build()
    });
    let clients = region_clients(
        mock_client!(
            aws_sdk_cloudformation,
            RuleMode::MatchAny,
            &[
                &data, &app, &describe, &import, &update, &ready, &events, &execute, &resources
            ]
        ),
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&table]),
    );
    let (sink, mut receiver) = Events::channel();
    let result = mysfits::stack::data::deploy(&config, &clients, sink, "data")
        .await
        .unwrap();
    assert_eq!(import.num_calls(), 1, "one IMPORT change set");
    assert_eq!(update.num_calls(), 1, "then one UPDATE for the tags");
    assert_eq!(execute.num_calls(), 2);
    assert!(result.changed);
    assert_eq!(result.status, "UPDATE_COMPLETE");
    assert_eq!(result.value("TableName", "Table"), Some(TABLE));
    let notes = crate::util::notes(&mut receiver);
    assert!(
        notes
            .iter()
            .any(|note| note.contains("exists outside the data stack: importing it")),
        "{notes:?}"
    );
}

/// An import that fails (e.g. the template does not match the table) rolls back: the error says
/// the table stayed as it was and what to do.
#[tokio::test]
async fn a_rolled_back_import_says_the_table_is_untouched() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .error(no_data_stack)
        .output(|| stack(StackStatus::ImportRollbackComplete))
        .repeatedly()
        .build();
    let create = mock!(Client::create_change_set)
        .match_requests(|request| request.change_set_type() == Some(&ChangeSetType::Import))
        .then_output(|| change_set_created("cs"));
    let ready = crate::fixtures::cfn::change_set_ready();
    let events = mock!(Client::describe_stack_events)
        .then_output(|| DescribeStackEventsOutput::builder().build());
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&describe, &create, &ready, &events, &execute]
    );
    let request = data_request(&config());
    let import = vec![
        aws_sdk_cloudformation::types::ResourceToImport::builder()
            .resource_type("AWS::DynamoDB::Table")
            .logical_resource_id("Table")
            .resource_identifier("TableName", TABLE)
            .build(),
    ];
    let error = StackDeployer::new(&client, &request, Events::discard(), "data")
        .with_import(import)
        .deploy()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("IMPORT_ROLLBACK_COMPLETE"), "{error}");
    assert!(
        error.contains("the import was rolled back: the resources stay as they were"),
        "{error}"
    );
}
