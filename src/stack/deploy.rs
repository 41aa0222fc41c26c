//! Change-set deploys of one stack in one region, with the stack's events streamed as progress.
//!
//! Flow: look at the stack's current state (recovering from states an earlier run left behind,
//! [`recovery`]), skip everything when the deployed template and parameters already match,
//! otherwise create a change set ([`change_set`]), treat "no changes" as success, execute it and
//! follow the stack until it settles ([`super::events`]).
//!
//! The stack's outputs ([`super::outputs`]) and failure extraction ([`super::failures`]) live
//! next door; their items are re-exported here, where the other modules have always imported
//! them from. Every wait is [`crate::wait::poll`] with the delays below.

mod change_set;
mod recovery;

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{ChangeSetType, ResourceToImport, StackStatus};
use serde::Serialize;

pub use super::failures::{delete_failures, named_failures};
pub use super::outputs::{
    AppOutputs, PhysicalResource, RegistryOutputs, ServiceOutputs, StackResult, stack_outputs,
    stack_parameters,
};
pub use change_set::ResourceChange;

use super::StackRequest;
use super::events::{EventStream, newest_event_id};
use super::failures::operation_failures;
use crate::aws::{aws_error, error_code};
use crate::cancel::Cancellation;
use crate::error::{Error, ResourceFailure, Result};
use crate::progress::Events;
use crate::progress::first_line;
use crate::wait::{Backoff, poll};
use change_set::ChangeSet;

/// How a stack operation is waited for: quick first looks (an emulator answers at once), then
/// every 5 s, for at most an hour (what a stack of the app may take on AWS).
pub const STACK_POLL: Backoff = Backoff {
    first: Duration::from_millis(200),
    growth_percent: 160,
    max: Duration::from_secs(5),
    limit: Duration::from_secs(60 * 60),
};

/// How a change set is waited for until it is ready (seconds, on AWS).
pub const CHANGE_SET_POLL: Backoff = Backoff {
    first: Duration::from_millis(100),
    growth_percent: 160,
    max: Duration::from_secs(3),
    limit: Duration::from_secs(10 * 60),
};

/// What `plan` shows for one stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Preview {
    /// Template and parameters match what is deployed.
    Unchanged,
    Create {
        changes: Vec<ResourceChange>,
    },
    Update {
        changes: Vec<ResourceChange>,
    },
    /// An earlier run left the stack in a state no change set can be made for (ROLLBACK_COMPLETE
    /// can only be deleted, for one): deploy recovers first, as `action` says; the failures that
    /// left it so tell what to fix before deploying.
    Recover {
        status: String,
        action: String,
        failures: Vec<ResourceFailure>,
    },
}

impl Preview {
    pub fn has_changes(&self) -> bool {
        !matches!(self, Preview::Unchanged)
    }
}

/// The stack as CloudFormation describes it now.
#[derive(Debug, Clone)]
struct Existing {
    stack_id: String,
    status: StackStatus,
    reason: Option<String>,
    parameters: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    outputs: BTreeMap<String, String>,
}

/// Follows one stack in one region.
pub struct StackDeployer<'a> {
    cloudformation: &'a Client,
    request: &'a StackRequest,
    events: Events,
    step: String,
    cancellation: Option<Cancellation>,
    /// Existing resources the change set takes over (an IMPORT change set) instead of creating.
    import: Vec<ResourceToImport>,
}

/// Where a deploy stands once its change set is ready.
enum Prepared {
    /// Nothing to execute: the stack already is what was asked for.
    Done(Box<StackResult>),
    Execute {
        change_set: ChangeSet,
        /// The change set creates the stack (so Ctrl-C deletes it rather than rolling back).
        creating: bool,
    },
}

/// Stack statuses that end a successful operation of ours.
const SUCCEEDED: [StackStatus; 3] = [
    StackStatus::CreateComplete,
    StackStatus::UpdateComplete,
    StackStatus::ImportComplete,
];

impl<'a> StackDeployer<'a> {
    pub fn new(
        cloudformation: &'a Client,
        request: &'a StackRequest,
        events: Events,
        step: &str,
    ) -> Self {
        StackDeployer {
            cloudformation,
            request,
            events,
            step: step.to_string(),
            cancellation: None,
            import: Vec::new(),
        }
    }

    /// IMPORT when there is something to take over, else CREATE for a stack not there yet (or
    /// REVIEW_IN_PROGRESS, which has no resources), else UPDATE; for deploy and preview alike.
    fn change_set_type(&self, creating: bool) -> ChangeSetType {
        if !self.import.is_empty() {
            ChangeSetType::Import
        } else if creating {
            ChangeSetType::Create
        } else {
            ChangeSetType::Update
        }
    }

    /// Takes `resources` over into the stack (an IMPORT change set, which may neither create
    /// nor change anything else) instead of creating or updating it.
    pub fn with_import(mut self, resources: Vec<ResourceToImport>) -> Self {
        self.import = resources;
        self
    }

    /// Watches `cancellation` instead of the plan step's own ([`Cancellation::current`]).
    pub fn with_cancellation(mut self, cancellation: Cancellation) -> Self {
        self.cancellation = Some(cancellation);
        self
    }

    /// Creates or updates the stack; returns its outputs and resources.
    ///
    /// On Ctrl-C before the change set runs, it stops at once (nothing to undo); while a change
    /// set runs, an update is cancelled (CancelUpdateStack, CloudFormation rolls it back) and a
    /// stack this run was creating is deleted, so that the next deploy starts from a known state.
    pub async fn deploy(&self) -> Result<StackResult> {
        let cancellation = self
            .cancellation
            .clone()
            .unwrap_or_else(Cancellation::current);
        let prepared = tokio::select! {
            prepared = self.prepare() => prepared?,
            () = cancellation.cancelled() => return Err(Error::Interrupted),
        };
        let (change_set, creating) = match prepared {
            Prepared::Done(result) => return Ok(*result),
            Prepared::Execute {
                change_set,
                creating,
            } => (change_set, creating),
        };
        let newest_event = newest_event_id(self.cloudformation, &self.request.stack_name).await;
        self.cloudformation
            .execute_change_set()
            .stack_name(&self.request.stack_name)
            .change_set_name(&change_set.name)
            .send()
            .await
            .map_err(|error| aws_error("ExecuteChangeSet", &self.request.region, &error))?;
        let settled = tokio::select! {
            settled = self.follow_until_settled(newest_event) => settled?,
            () = cancellation.cancelled() => return Err(self.wind_down(creating).await),
        };
        if SUCCEEDED.contains(&settled.status) {
            return self.result(&settled.stack_id, true).await;
        }
        let fix = match settled.status {
            StackStatus::ImportRollbackComplete => {
                "the import was rolled back: the resources stay as they were, outside the stack; \
                 fix what the reason names and deploy again, which imports them again"
            }
            StackStatus::ImportRollbackFailed => {
                "the import could not be rolled back: fix the resource the reason names (its data \
                 is not deleted: the template retains it), delete the stack in the console or with \
                 `aws cloudformation delete-stack`, then deploy again, which imports it again"
            }
            _ => "",
        };
        Err(self.failure(&settled, settled.status.clone(), fix).await)
    }

    /// Everything before the change set executes: recover the stack's state, compare, and
    /// create the change set (or find there is nothing to do).
    async fn prepare(&self) -> Result<Prepared> {
        let existing = self.settled_existing().await?;
        if let Some(existing) = &existing
            && self.matches_deployed(existing).await?
        {
            // Just described and settled: no second DescribeStacks for the unchanged stack.
            return Ok(Prepared::Done(Box::new(
                self.result_of(existing.clone(), "", false).await?,
            )));
        }
        let creating = match &existing {
            None => true,
            Some(existing) => existing.status == StackStatus::ReviewInProgress,
        };
        let change_set_type = self.change_set_type(creating);
        // Ctrl-C during an import leaves the stack alone: deleting it is not worth the risk to
        // the resources it is taking over, and the next deploy resumes the import.
        let creating = creating && self.import.is_empty();
        match self.create_change_set(change_set_type).await? {
            Some(change_set) => Ok(Prepared::Execute {
                change_set,
                creating,
            }),
            None => {
                let stack_id = existing
                    .map(|existing| existing.stack_id)
                    .unwrap_or_default();
                Ok(Prepared::Done(Box::new(
                    self.result(&stack_id, false).await?,
                )))
            }
        }
    }

    /// Undoes the change set in flight after Ctrl-C; always ends the deploy as interrupted, with
    /// what happened told as notes (a second Ctrl-C exits without waiting for this).
    async fn wind_down(&self, creating: bool) -> Error {
        let stack = &self.request.stack_name;
        if !self.import.is_empty() {
            // CancelUpdateStack applies to updates only; an import runs to its end.
            self.events.note(
                &self.step,
                format!("Ctrl-C: the import into {stack} goes on in CloudFormation (it cannot be cancelled); the next deploy carries on from where it ends"),
            );
            return Error::Interrupted;
        }
        if creating {
            self.events.note(
                &self.step,
                format!("Ctrl-C: deleting {stack}, which this run was creating, so that the next deploy starts clean"),
            );
            let deleted = match self.describe().await {
                Ok(Some(existing)) => self.delete_and_wait(&existing).await,
                Ok(None) => Ok(()),
                Err(error) => Err(error),
            };
            match deleted {
                Ok(()) => self.events.note(
                    &self.step,
                    format!("{stack} deleted; run deploy again to resume"),
                ),
                Err(error) => self.events.note(
                    &self.step,
                    format!(
                        "could not delete {stack}: {}; the next deploy finishes the job",
                        first_line(&error.to_string())
                    ),
                ),
            }
            return Error::Interrupted;
        }
        self.events.note(
            &self.step,
            format!("Ctrl-C: cancelling the update of {stack}; CloudFormation rolls it back to its last working state"),
        );
        let newest = newest_event_id(self.cloudformation, &self.request.stack_name).await;
        if let Err(error) = self
            .cloudformation
            .cancel_update_stack()
            .stack_name(stack)
            .send()
            .await
        {
            // Typically the update finished a moment ago: then there is nothing to cancel.
            self.events.note(
                &self.step,
                format!(
                    "CancelUpdateStack was refused ({}); waiting for the stack to settle",
                    crate::aws::error_message(&error)
                ),
            );
        }
        match self.follow_until_settled(newest).await {
            Ok(settled) => self.events.note(
                &self.step,
                format!(
                    "{stack} is {}; run deploy again to resume",
                    settled.status.as_str()
                ),
            ),
            Err(error) => self.events.note(
                &self.step,
                format!("{stack} did not settle: {}", first_line(&error.to_string())),
            ),
        }
        Error::Interrupted
    }

    async fn describe(&self) -> Result<Option<Existing>> {
        let response = match self
            .cloudformation
            .describe_stacks()
            .stack_name(&self.request.stack_name)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) if error_code(&error) == Some("ValidationError") => return Ok(None),
            Err(error) => return Err(aws_error("DescribeStacks", &self.request.region, &error)),
        };
        let Some(stack) = response.stacks().first() else {
            return Ok(None);
        };
        let status = stack
            .stack_status()
            .cloned()
            .unwrap_or(StackStatus::CreateInProgress);
        if status == StackStatus::DeleteComplete {
            return Ok(None);
        }
        Ok(Some(Existing {
            stack_id: stack.stack_id().unwrap_or_default().to_string(),
            status,
            reason: stack.stack_status_reason().map(str::to_string),
            parameters: stack
                .parameters()
                .iter()
                .filter_map(|parameter| {
                    Some((
                        parameter.parameter_key()?.to_string(),
                        parameter.parameter_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            tags: stack
                .tags()
                .iter()
                .filter_map(|tag| Some((tag.key()?.to_string(), tag.value()?.to_string())))
                .collect(),
            outputs: stack_outputs(stack),
        }))
    }

    /// Polls the stack until no operation is in progress, emitting its new events as it goes.
    async fn follow_until_settled(&self, newest_seen: Option<String>) -> Result<Existing> {
        let stream = EventStream {
            cloudformation: self.cloudformation,
            stack: &self.request.stack_name,
            events: &self.events,
            step: &self.step,
            descriptions: super::resource_descriptions(self.request.kind),
        };
        let newest_seen = Mutex::new(newest_seen);
        // The status of the last look, for the error at the limit.
        let in_progress = Mutex::new(String::new());
        let look = || async {
            let seen = newest_seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let seen = stream.emit_new(seen).await;
            let Some(existing) = self.describe().await? else {
                return Err(Error::Stack {
                    stack: self.request.stack_name.clone(),
                    region: self.request.region.clone(),
                    status: "DELETED".into(),
                    failures: Vec::new(),
                    fix: "the stack disappeared while we waited for it (deleted by someone else?); deploy again".into(),
                });
            };
            if existing.status.as_str().ends_with("_IN_PROGRESS") {
                *newest_seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
                *in_progress.lock().unwrap_or_else(PoisonError::into_inner) =
                    existing.status.as_str().to_string();
                return Ok(None);
            }
            stream.emit_new(seen).await;
            Ok(Some(existing))
        };
        poll(STACK_POLL, look, |waited| {
            let status = in_progress.lock().unwrap_or_else(PoisonError::into_inner);
            let what = format!("stack {} to finish {status}", self.request.stack_name);
            self.timeout(&what, waited)
        })
        .await
    }

    async fn failure(&self, settled: &Existing, status: StackStatus, fix: &str) -> Error {
        let mut failures = operation_failures(self.cloudformation, &self.request.stack_name).await;
        if failures.is_empty()
            && let Some(reason) = &settled.reason
        {
            failures.push(ResourceFailure {
                logical_id: self.request.stack_name.clone(),
                resource_type: "AWS::CloudFormation::Stack".into(),
                status: status.as_str().to_string(),
                reason: reason.clone(),
            });
        }
        let fix = if !fix.is_empty() {
            fix.to_string()
        } else if status == StackStatus::RollbackComplete {
            "fix the first failing resource above and deploy again: the rolled-back stack is deleted and created anew"
                .to_string()
        } else {
            "fix the first failing resource above and deploy again; the stack was rolled back to its last working state"
                .to_string()
        };
        Error::Stack {
            stack: self.request.stack_name.clone(),
            region: self.request.region.clone(),
            status: status.as_str().to_string(),
            failures,
            fix,
        }
    }

    fn timeout(&self, what: &str, waited: Duration) -> Error {
        Error::Timeout {
            what: format!("{what} in {}", self.request.region),
            waited,
            fix: format!(
                "look at the stack's events (`aws cloudformation describe-stack-events --stack-name {} --region {}`), then deploy again: it resumes",
                self.request.stack_name, self.request.region
            ),
        }
    }

    async fn result(&self, stack_id: &str, changed: bool) -> Result<StackResult> {
        let existing = self.describe().await?.ok_or_else(|| Error::Stack {
            stack: self.request.stack_name.clone(),
            region: self.request.region.clone(),
            status: "MISSING".into(),
            failures: Vec::new(),
            fix: "the stack vanished right after deploy; deploy again".into(),
        })?;
        self.result_of(existing, stack_id, changed).await
    }

    /// The result from a description of the stack as it is now, and its resources.
    async fn result_of(
        &self,
        existing: Existing,
        stack_id: &str,
        changed: bool,
    ) -> Result<StackResult> {
        let resources = self
            .cloudformation
            .describe_stack_resources()
            .stack_name(&self.request.stack_name)
            .send()
            .await
            .map_err(|error| aws_error("DescribeStackResources", &self.request.region, &error))?;
        Ok(StackResult {
            stack_name: self.request.stack_name.clone(),
            region: self.request.region.clone(),
            stack_id: if stack_id.is_empty() {
                existing.stack_id.clone()
            } else {
                stack_id.to_string()
            },
            status: existing.status.as_str().to_string(),
            changed,
            outputs: existing.outputs,
            resources: resources
                .stack_resources()
                .iter()
                .filter_map(|resource| {
                    Some((
                        resource.logical_resource_id()?.to_string(),
                        PhysicalResource {
                            physical_id: resource
                                .physical_resource_id()
                                .unwrap_or_default()
                                .to_string(),
                            resource_type: resource.resource_type().unwrap_or_default().to_string(),
                            status: resource
                                .resource_status()
                                .map(|status| status.as_str().to_string())
                                .unwrap_or_default(),
                        },
                    ))
                })
                .collect(),
        })
    }
}
