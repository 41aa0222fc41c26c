//! What failed in a stack's latest operation, from its events: for deploy errors, for `plan`'s
//! recovery preview and for teardown's notes about what blocks a delete.

use std::collections::HashSet;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{ResourceStatus, StackEvent};

use crate::error::ResourceFailure;

/// The resources that failed in the stack's latest operation, oldest first, without the
/// "cancelled" noise when a real cause exists. The cause of a rolled-back create is older than
/// all of the rollback's DELETE_* events, so every page back to the operation's start is read.
pub async fn operation_failures(cloudformation: &Client, stack: &str) -> Vec<ResourceFailure> {
    let events = latest_operation_events(cloudformation, stack).await;
    let mut seen = HashSet::new();
    let mut failures: Vec<ResourceFailure> = events
        .iter()
        .rev()
        .filter(|event| {
            event
                .resource_status()
                .is_some_and(|status| status.as_str().ends_with("_FAILED"))
                && !is_stack_itself(event)
        })
        .filter(|event| seen.insert(event.logical_resource_id().unwrap_or_default().to_string()))
        .map(resource_failure)
        .collect();
    if failures
        .iter()
        .any(|failure| !is_cancellation(&failure.reason))
    {
        failures.retain(|failure| !is_cancellation(&failure.reason));
    }
    failures.truncate(5);
    failures
}

/// The resources whose deletion failed in the stack's latest delete attempt, with CloudFormation's
/// reasons (e.g. "The repository ... cannot be deleted because it still contains images").
pub async fn delete_failures(cloudformation: &Client, stack: &str) -> Vec<ResourceFailure> {
    let events = latest_operation_events(cloudformation, stack).await;
    let mut seen = HashSet::new();
    events
        .iter()
        .filter(|event| {
            !is_stack_itself(event)
                && event.resource_status() == Some(&ResourceStatus::DeleteFailed)
        })
        .filter(|event| seen.insert(event.logical_resource_id().unwrap_or_default().to_string()))
        .map(resource_failure)
        .collect()
}

/// The most DescribeStackEvents pages read for one operation. A page holds up to 1 MB of events
/// (about a hundred); an operation on our stacks makes a few hundred at most, and a stack with a
/// long history must not cost hundreds of calls for an error message.
const OPERATION_EVENT_PAGES: usize = 10;

/// The events of the stack's latest operation, newest first, down to and including the stack's
/// own CREATE/UPDATE/DELETE/IMPORT_IN_PROGRESS event that started it. DescribeStackEvents
/// answers newest first, paginated with NextToken: pages older than that start are not read.
/// Event trouble never fails the caller: what was read so far is returned.
async fn latest_operation_events(cloudformation: &Client, stack: &str) -> Vec<StackEvent> {
    let mut pages = cloudformation
        .describe_stack_events()
        .stack_name(stack)
        .into_paginator()
        .send();
    let mut events = Vec::new();
    for _ in 0..OPERATION_EVENT_PAGES {
        let Some(Ok(page)) = pages.next().await else {
            break;
        };
        for event in page.stack_events() {
            events.push(event.clone());
            if is_operation_start(event) {
                return events;
            }
        }
    }
    events
}

/// An event of the stack itself (not of a resource, nor of a nested stack, which has a logical
/// id of its own).
fn is_stack_itself(event: &StackEvent) -> bool {
    event.resource_type() == Some("AWS::CloudFormation::Stack")
        && event.logical_resource_id().is_some()
        && event.logical_resource_id() == event.stack_name()
}

/// The stack's own event that starts an operation. The rollback and cleanup phases
/// (ROLLBACK_IN_PROGRESS, UPDATE_ROLLBACK_IN_PROGRESS, *_CLEANUP_IN_PROGRESS) belong to the
/// operation they end, so they are not starts.
fn is_operation_start(event: &StackEvent) -> bool {
    is_stack_itself(event)
        && matches!(
            event.resource_status(),
            Some(
                ResourceStatus::CreateInProgress
                    | ResourceStatus::UpdateInProgress
                    | ResourceStatus::DeleteInProgress
                    | ResourceStatus::ImportInProgress
            )
        )
}

fn resource_failure(event: &StackEvent) -> ResourceFailure {
    ResourceFailure {
        logical_id: event.logical_resource_id().unwrap_or_default().to_string(),
        resource_type: event.resource_type().unwrap_or_default().to_string(),
        status: event
            .resource_status()
            .map(|status| status.as_str().to_string())
            .unwrap_or_default(),
        reason: event
            .resource_status_reason()
            .unwrap_or_default()
            .to_string(),
    }
}

/// ": blocked by A (reason), B (reason)" for a note, or nothing.
pub fn named_failures(failures: &[ResourceFailure]) -> String {
    if failures.is_empty() {
        return String::new();
    }
    let named: Vec<String> = failures
        .iter()
        .map(|failure| format!("{} ({})", failure.logical_id, failure.reason))
        .collect();
    format!("; blocked by {}", named.join(", "))
}

fn is_cancellation(reason: &str) -> bool {
    reason.contains("Resource creation cancelled") || reason.contains("Resource update cancelled")
}
