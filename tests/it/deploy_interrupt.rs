//! Ctrl-C during deploy and recovery from DELETE_FAILED: the stack side against modeled
//! CloudFormation responses (an injected cancellation stands in for the signal), and the real
//! binary receiving SIGINT while a stack call is in flight.

use crate::util::notes;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::fixtures::cfn::{STACK_ID, request, stack, stack_event};
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::cancel_update_stack::CancelUpdateStackOutput;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stack_resources::DescribeStackResourcesOutput;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::operation::get_template::GetTemplateOutput;
use aws_sdk_cloudformation::types::{ChangeSetStatus, ChangeSetType, ResourceStatus, StackStatus};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use mysfits::error::Error;
use mysfits::plan::Cancellation;
use mysfits::progress::Events;
use mysfits::stack::deploy::StackDeployer;

fn no_events() -> Rule {
    mock!(Client::describe_stack_events)
        .then_output(|| DescribeStackEventsOutput::builder().build())
}

fn change_set_ready() -> Rule {
    mock!(Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .build()
    })
}

fn change_set(kind: ChangeSetType) -> Rule {
    mock!(Client::create_change_set)
        .match_requests(move |request| request.change_set_type() == Some(&kind))
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id("cs")
                .stack_id(STACK_ID)
                .build()
        })
}

fn resources() -> Rule {
    mock!(Client::describe_stack_resources)
        .then_output(|| DescribeStackResourcesOutput::builder().build())
}

/// Cancels `cancellation` after `delay`, as the Ctrl-C listener would.
fn interrupt_after(cancellation: &Cancellation, delay: Duration) {
    let cancellation = cancellation.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        cancellation.cancel();
    });
}

#[tokio::test]
async fn ctrl_c_during_an_update_cancels_it_and_waits_for_the_rollback() {
    let cancelled = Arc::new(AtomicBool::new(false));
    let seen = cancelled.clone();
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::UpdateComplete))
        .output(move || {
            stack(if seen.load(Ordering::SeqCst) {
                StackStatus::UpdateRollbackComplete
            } else {
                StackStatus::UpdateInProgress
            })
        })
        .repeatedly()
        .build();
    let template = mock!(Client::get_template).then_output(|| {
        GetTemplateOutput::builder()
            .template_body("an older template")
            .build()
    });
    let flag = cancelled.clone();
    let cancel = mock!(Client::cancel_update_stack).then_output(move || {
        flag.store(true, Ordering::SeqCst);
        CancelUpdateStackOutput::builder().build()
    });
    let delete = mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[
            &describe,
            &template,
            &change_set(ChangeSetType::Update),
            &change_set_ready(),
            &execute,
            &cancel,
            &delete,
            &no_events(),
            &resources()
        ]
    );
    let cancellation = Cancellation::new();
    interrupt_after(&cancellation, Duration::from_millis(400));
    let (events, mut receiver) = Events::channel();
    let request = request();
    let result = StackDeployer::new(&client, &request, events, "registry")
        .with_cancellation(cancellation)
        .deploy()
        .await;
    assert!(matches!(result, Err(Error::Interrupted)), "{result:?}");
    assert_eq!(execute.num_calls(), 1);
    assert_eq!(
        cancel.num_calls(),
        1,
        "the in-flight update must be cancelled"
    );
    assert_eq!(delete.num_calls(), 0, "an updated stack is never deleted");
    let notes = notes(&mut receiver);
    assert!(
        notes
            .iter()
            .any(|note| note.contains("cancelling the update of demo-registry")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|note| note.contains("UPDATE_ROLLBACK_COMPLETE") && note.contains("resume")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn ctrl_c_during_a_create_of_this_run_deletes_the_half_created_stack() {
    let deleted = Arc::new(AtomicBool::new(false));
    let seen = deleted.clone();
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .error(|| {
            aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("ValidationError")
                    .message("Stack with id demo-registry does not exist")
                    .build(),
            )
        })
        .output(move || {
            stack(if seen.load(Ordering::SeqCst) {
                StackStatus::DeleteComplete
            } else {
                StackStatus::CreateInProgress
            })
        })
        .repeatedly()
        .build();
    let flag = deleted.clone();
    let delete = mock!(Client::delete_stack).then_output(move || {
        flag.store(true, Ordering::SeqCst);
        DeleteStackOutput::builder().build()
    });
    let cancel = mock!(Client::cancel_update_stack)
        .then_output(|| CancelUpdateStackOutput::builder().build());
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[
            &describe,
            &change_set(ChangeSetType::Create),
            &change_set_ready(),
            &execute,
            &delete,
            &cancel,
            &no_events(),
            &resources()
        ]
    );
    let cancellation = Cancellation::new();
    interrupt_after(&cancellation, Duration::from_millis(400));
    let (events, mut receiver) = Events::channel();
    let request = request();
    let result = StackDeployer::new(&client, &request, events, "registry")
        .with_cancellation(cancellation)
        .deploy()
        .await;
    assert!(matches!(result, Err(Error::Interrupted)), "{result:?}");
    assert_eq!(delete.num_calls(), 1, "the stack this run created must go");
    assert_eq!(
        cancel.num_calls(),
        0,
        "a create cannot be cancelled, only deleted"
    );
    let notes = notes(&mut receiver);
    assert!(
        notes
            .iter()
            .any(|note| note.contains("deleting demo-registry, which this run was creating")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn ctrl_c_while_waiting_for_an_earlier_runs_operation_writes_nothing() {
    let describe =
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateInProgress));
    let delete = mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let cancel = mock!(Client::cancel_update_stack)
        .then_output(|| CancelUpdateStackOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&describe, &delete, &cancel, &no_events()]
    );
    let cancellation = Cancellation::new();
    interrupt_after(&cancellation, Duration::from_millis(300));
    let request = request();
    let result = StackDeployer::new(&client, &request, Events::discard(), "registry")
        .with_cancellation(cancellation)
        .deploy()
        .await;
    assert!(matches!(result, Err(Error::Interrupted)), "{result:?}");
    assert_eq!(
        delete.num_calls() + cancel.num_calls(),
        0,
        "an operation this run did not start is left alone"
    );
}

fn delete_failed_events() -> Rule {
    mock!(Client::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(stack_event(
                "e3",
                "demo-registry",
                ResourceStatus::DeleteFailed,
                "The following resource(s) failed to delete: [LikeRepository].",
            ))
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
            .stack_events(stack_event(
                "e0",
                "MysfitsRepository",
                ResourceStatus::CreateFailed,
                "an old failure from long ago",
            ))
            .build()
    })
}

#[tokio::test]
async fn delete_failed_is_retried_with_the_blockers_named_then_created_again() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::DeleteFailed))
        .output(|| stack(StackStatus::DeleteInProgress))
        .output(|| stack(StackStatus::DeleteComplete))
        .output(|| stack(StackStatus::CreateComplete))
        .repeatedly()
        .build();
    let delete = mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[
            &describe,
            &delete,
            &change_set(ChangeSetType::Create),
            &change_set_ready(),
            &execute,
            &delete_failed_events(),
            &resources()
        ]
    );
    let (events, mut receiver) = Events::channel();
    let request = request();
    let result = StackDeployer::new(&client, &request, events, "registry")
        .deploy()
        .await
        .unwrap();
    assert!(result.changed);
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(execute.num_calls(), 1);
    let notes = notes(&mut receiver);
    let note = notes
        .iter()
        .find(|note| note.contains("DELETE_FAILED"))
        .unwrap_or_else(|| panic!("no DELETE_FAILED note in {notes:?}"));
    assert!(
        note.contains("LikeRepository") && note.contains("still contains images"),
        "{note}"
    );
    assert!(
        !note.contains("MysfitsRepository"),
        "only the latest delete attempt's failures are named: {note}"
    );
}

#[tokio::test]
async fn delete_failed_again_is_an_error_naming_the_blocking_resources() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::DeleteFailed))
        .output(|| stack(StackStatus::DeleteInProgress))
        .output(|| stack(StackStatus::DeleteFailed))
        .repeatedly()
        .build();
    let delete = mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&describe, &delete, &delete_failed_events()]
    );
    let request = request();
    let error = StackDeployer::new(&client, &request, Events::discard(), "registry")
        .deploy()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("DELETE_FAILED"), "{message}");
    assert!(
        message.contains("LikeRepository") && message.contains("still contains images"),
        "{message}"
    );
    assert!(message.contains("mysfits teardown"), "{message}");
}

/// A TCP endpoint that accepts connections and never answers: every AWS call hangs there, like a
/// stack operation that takes long.
fn silent_endpoint() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    (listener, endpoint)
}

/// Starts `mysfits deploy` against an endpoint that never answers and returns once the registry
/// stack step is under way (its first CloudFormation call is hanging).
fn deploy_in_flight(
    endpoint: &str,
    directory: &std::path::Path,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mysfits"));
    command.current_dir(directory);
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("MYSFITS_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .args([
            "--region",
            "us-east-1",
            "--app",
            "sigint",
            "--endpoint-url",
            endpoint,
            "deploy",
            "--prebuilt-binaries",
            directory.to_str().unwrap(),
        ])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = receiver
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("deploy printed that the registry stack step started");
        if line.contains("registry stack") && line.contains("started") {
            break;
        }
    }
    // Give the step a moment to reach its (hanging) first call.
    std::thread::sleep(Duration::from_millis(300));
    (child, receiver)
}

fn sigint(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Every line the reader thread still delivers: it may lag behind the process's exit, so wait for
/// the pipe's end (the thread then drops its sender) rather than take what has arrived so far.
fn remaining_lines(receiver: &std::sync::mpsc::Receiver<String>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lines = Vec::new();
    while let Ok(line) = receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        lines.push(line);
    }
    lines
}

fn wait_with_limit(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn sigint_stops_a_running_deploy_with_exit_code_130() {
    let (_listener, endpoint) = silent_endpoint();
    let directory = tempfile::tempdir().unwrap();
    let (mut child, stderr) = deploy_in_flight(&endpoint, directory.path());
    sigint(&child);
    // The hanging call's own timeout is 30 s: exiting well before shows the step was stopped.
    let code = wait_with_limit(&mut child, Duration::from_secs(10));
    let stderr = remaining_lines(&stderr);
    assert_eq!(
        code,
        Some(130),
        "deploy must exit 130 soon after Ctrl-C: {stderr:#?}"
    );
    let stderr = stderr.join("\n");
    assert!(stderr.contains("Ctrl-C: stopping"), "{stderr}");
    assert!(stderr.contains("stopped by Ctrl-C"), "{stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("run the same command again"),
        "{stderr}"
    );
}
