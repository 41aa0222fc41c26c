//! Change-set deploys of one stack in one region, with the stack's events streamed as progress.
//!
//! Flow: look at the stack's current state (recovering from states an earlier run left behind),
//! skip everything when the deployed template and parameters already match, otherwise create a
//! change set, treat "no changes" as success, execute it and follow the stack until it settles.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, ResourceStatus, StackEvent, StackStatus,
    Tag, TemplateStage,
};
use serde::Serialize;

use super::StackRequest;
use crate::aws::{aws_error, error_code};
use crate::error::{Error, ResourceFailure, Result};
use crate::plan::Cancellation;
use crate::progress::first_line;
use crate::progress::{Event, Events};

/// Adaptive polling: quick first looks (an emulator answers at once), then slower (AWS takes
/// minutes), bounded by a limit after which the wait gives up with an actionable error.
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    pub first: Duration,
    pub max: Duration,
    pub limit: Duration,
}

impl Poll {
    pub const STACK: Poll = Poll {
        first: Duration::from_millis(200),
        max: Duration::from_secs(5),
        limit: Duration::from_secs(60 * 60),
    };
    pub const CHANGE_SET: Poll = Poll {
        first: Duration::from_millis(100),
        max: Duration::from_secs(3),
        limit: Duration::from_secs(10 * 60),
    };

    fn next_delay(&self, current: Duration) -> Duration {
        (current.mul_f32(1.6)).min(self.max)
    }
}

/// A physical resource of a deployed stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhysicalResource {
    pub physical_id: String,
    pub resource_type: String,
    pub status: String,
}

impl PhysicalResource {
    /// A resource as DescribeStackResources lists it, with its logical id; `None` while it has
    /// no physical id yet.
    pub fn from_stack_resource(
        resource: &aws_sdk_cloudformation::types::StackResource,
    ) -> Option<(String, PhysicalResource)> {
        Some((
            resource.logical_resource_id()?.to_string(),
            PhysicalResource {
                physical_id: resource.physical_resource_id()?.to_string(),
                resource_type: resource.resource_type().unwrap_or_default().to_string(),
                status: resource
                    .resource_status()
                    .map(|status| status.as_str().to_string())
                    .unwrap_or_default(),
            },
        ))
    }
}

/// A stack's parameters by key (those with a value).
pub fn stack_parameters(stack: &aws_sdk_cloudformation::types::Stack) -> BTreeMap<String, String> {
    stack
        .parameters()
        .iter()
        .filter_map(|parameter| {
            Some((
                parameter.parameter_key()?.to_string(),
                parameter.parameter_value()?.to_string(),
            ))
        })
        .collect()
}

/// A stack's outputs by key.
pub fn stack_outputs(stack: &aws_sdk_cloudformation::types::Stack) -> BTreeMap<String, String> {
    stack
        .outputs()
        .iter()
        .filter_map(|output| {
            Some((
                output.output_key()?.to_string(),
                output.output_value()?.to_string(),
            ))
        })
        .collect()
}

/// What a deploy left behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackResult {
    pub stack_name: String,
    pub region: String,
    pub stack_id: String,
    pub status: String,
    pub changed: bool,
    pub outputs: BTreeMap<String, String>,
    pub resources: BTreeMap<String, PhysicalResource>,
}

impl StackResult {
    /// An output value, or else the physical id of the resource it names: emulators (and stacks
    /// created by change sets in moto) may report no Outputs although every resource exists.
    pub fn value(&self, output: &str, logical_id: &str) -> Option<&str> {
        self.outputs.get(output).map(String::as_str).or_else(|| {
            self.resources
                .get(logical_id)
                .map(|resource| resource.physical_id.as_str())
        })
    }
}

/// One resource change a change set would make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    pub replacement: Option<String>,
}

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
        }
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
        let newest_event = self.newest_event_id().await;
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
        match settled.status {
            StackStatus::CreateComplete | StackStatus::UpdateComplete => {
                self.result(&settled.stack_id, true).await
            }
            ref status => Err(self.failure(&settled, status.clone(), "").await),
        }
    }

    /// Everything before the change set executes: recover the stack's state, compare, and
    /// create the change set (or find there is nothing to do).
    async fn prepare(&self) -> Result<Prepared> {
        let existing = self.settled_existing().await?;
        if let Some(existing) = &existing
            && self.matches_deployed(existing).await?
        {
            return Ok(Prepared::Done(Box::new(
                self.result(&existing.stack_id, false).await?,
            )));
        }
        let creating = match &existing {
            None => true,
            Some(existing) => existing.status == StackStatus::ReviewInProgress,
        };
        let change_set_type = if creating {
            ChangeSetType::Create
        } else {
            ChangeSetType::Update
        };
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
        let newest = self.newest_event_id().await;
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

    /// The change set deploy would execute, without executing it. Leaves nothing behind.
    ///
    /// A stack in a state deploy recovers from first (see `settled_existing`) gets no change set:
    /// CloudFormation refuses an UPDATE change set for it, and a CREATE one needs the stack gone.
    /// The preview says what deploy will do instead.
    pub async fn preview(&self) -> Result<Preview> {
        let existing = self.describe().await?;
        if let Some(existing) = &existing {
            if existing.status.as_str().ends_with("_IN_PROGRESS")
                && existing.status != StackStatus::ReviewInProgress
            {
                return Err(Error::config(
                    format!(
                        "stack {} in {} is busy ({})",
                        self.request.stack_name,
                        self.request.region,
                        existing.status.as_str()
                    ),
                    "wait for the running operation to finish, then plan again",
                ));
            }
            if let Some(recover) = self.recovery_preview(existing).await {
                return Ok(recover);
            }
            if self.matches_deployed(existing).await? {
                return Ok(Preview::Unchanged);
            }
        }
        // A REVIEW_IN_PROGRESS stack (no resources yet, e.g. from a run stopped before its
        // change set executed) takes a CREATE change set as a missing one does.
        let reviewing = existing
            .as_ref()
            .is_some_and(|existing| existing.status == StackStatus::ReviewInProgress);
        let creating = existing.is_none() || reviewing;
        let change_set_type = if creating {
            ChangeSetType::Create
        } else {
            ChangeSetType::Update
        };
        let Some(change_set) = self.create_change_set(change_set_type).await? else {
            return Ok(Preview::Unchanged);
        };
        let changes = change_set.changes;
        if existing.is_none() {
            // A CREATE change set makes an empty REVIEW_IN_PROGRESS stack: remove it again.
            self.cloudformation
                .delete_stack()
                .stack_name(&self.request.stack_name)
                .send()
                .await
                .map_err(|error| aws_error("DeleteStack", &self.request.region, &error))?;
        } else {
            // The stack was there before the preview (deploy uses it): only the change set goes.
            self.delete_change_set(&change_set.name).await?;
        }
        Ok(if creating {
            Preview::Create { changes }
        } else {
            Preview::Update { changes }
        })
    }

    /// What deploy does first with a stack in a state it recovers from (the same decisions as
    /// `settled_existing`), or `None` when a change set can be made as it is.
    async fn recovery_preview(&self, existing: &Existing) -> Option<Preview> {
        let status = existing.status.as_str().to_string();
        let (action, failures) = match existing.status {
            StackStatus::RollbackComplete
            | StackStatus::RollbackFailed
            | StackStatus::CreateFailed => (
                format!(
                    "an earlier create failed and left the stack in {status}, which can only be \
                     deleted: deploy deletes it and creates it again (every resource anew); fix \
                     the failures below first or the create fails the same way"
                ),
                self.failed_resources().await,
            ),
            StackStatus::DeleteFailed => (
                "an earlier delete failed (DELETE_FAILED): deploy retries the delete, then \
                 creates the stack again; remove what blocked the delete (below) first, or run \
                 `mysfits teardown`"
                    .to_string(),
                delete_failures(self.cloudformation, &self.request.stack_name).await,
            ),
            StackStatus::UpdateRollbackFailed => (
                "an earlier update could not roll back (UPDATE_ROLLBACK_FAILED): deploy continues \
                 the rollback (ContinueUpdateRollback), then updates the stack; resources that \
                 cannot roll back (below) must be fixed by hand or skipped with \
                 `aws cloudformation continue-update-rollback --resources-to-skip`"
                    .to_string(),
                self.failed_resources().await,
            ),
            _ => return None,
        };
        Some(Preview::Recover {
            status,
            action,
            failures,
        })
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

    /// The current stack, after waiting out an operation in progress and recovering from the
    /// states that block an update.
    async fn settled_existing(&self) -> Result<Option<Existing>> {
        let Some(mut existing) = self.describe().await? else {
            return Ok(None);
        };
        if existing.status.as_str().ends_with("_IN_PROGRESS")
            && existing.status != StackStatus::ReviewInProgress
        {
            self.events.note(
                &self.step,
                format!(
                    "stack is busy ({}), probably from an earlier run; waiting for it to settle",
                    existing.status.as_str()
                ),
            );
            let newest = self.newest_event_id().await;
            existing = self.follow_until_settled(newest).await?;
        }
        match existing.status {
            StackStatus::RollbackComplete
            | StackStatus::RollbackFailed
            | StackStatus::CreateFailed => {
                self.events.note(
                    &self.step,
                    format!(
                        "an earlier create failed and left the stack in {}, which can only be deleted: deleting and creating it again",
                        existing.status.as_str()
                    ),
                );
                self.delete_and_wait(&existing).await?;
                Ok(None)
            }
            StackStatus::UpdateRollbackFailed => {
                self.events.note(
                    &self.step,
                    "an earlier update could not roll back (UPDATE_ROLLBACK_FAILED): continuing the rollback first",
                );
                self.cloudformation
                    .continue_update_rollback()
                    .stack_name(&self.request.stack_name)
                    .send()
                    .await
                    .map_err(|error| {
                        aws_error("ContinueUpdateRollback", &self.request.region, &error)
                    })?;
                let newest = self.newest_event_id().await;
                let settled = self.follow_until_settled(newest).await?;
                if settled.status == StackStatus::UpdateRollbackComplete {
                    Ok(Some(settled))
                } else {
                    let status = settled.status.clone();
                    Err(self
                        .failure(
                            &settled,
                            status,
                            "resources that cannot roll back must be fixed by hand or skipped with \
                             `aws cloudformation continue-update-rollback --resources-to-skip`",
                        )
                        .await)
                }
            }
            StackStatus::DeleteFailed => {
                let blockers = delete_failures(self.cloudformation, &self.request.stack_name).await;
                self.events.note(
                    &self.step,
                    format!(
                        "an earlier delete failed (DELETE_FAILED{}): retrying the delete, then creating the stack again",
                        named_failures(&blockers)
                    ),
                );
                self.delete_and_wait(&existing).await?;
                Ok(None)
            }
            _ => Ok(Some(existing)),
        }
    }

    async fn delete_and_wait(&self, existing: &Existing) -> Result<()> {
        self.cloudformation
            .delete_stack()
            .stack_name(&existing.stack_id)
            .send()
            .await
            .map_err(|error| aws_error("DeleteStack", &self.request.region, &error))?;
        let started = Instant::now();
        let mut delay = Poll::STACK.first;
        loop {
            let response = self
                .cloudformation
                .describe_stacks()
                .stack_name(&existing.stack_id)
                .send()
                .await
                .map_err(|error| aws_error("DescribeStacks", &self.request.region, &error))?;
            let status = response
                .stacks()
                .first()
                .and_then(|stack| stack.stack_status().cloned());
            match status {
                None | Some(StackStatus::DeleteComplete) => return Ok(()),
                Some(StackStatus::DeleteFailed) => {
                    return Err(Error::Stack {
                        stack: self.request.stack_name.clone(),
                        region: self.request.region.clone(),
                        status: "DELETE_FAILED".into(),
                        failures: self.failed_resources().await,
                        fix: "remove the named resources by hand (or run `mysfits teardown`), then deploy again".into(),
                    });
                }
                Some(_) => {}
            }
            if started.elapsed() > Poll::STACK.limit {
                return Err(self.timeout("the failed stack to be deleted", started.elapsed()));
            }
            tokio::time::sleep(delay).await;
            delay = Poll::STACK.next_delay(delay);
        }
    }

    /// True when the deployed template, parameters and tags are exactly what we would send: then
    /// there is nothing to do and nothing is written.
    async fn matches_deployed(&self, existing: &Existing) -> Result<bool> {
        if !matches!(
            existing.status,
            StackStatus::CreateComplete | StackStatus::UpdateComplete
        ) {
            return Ok(false);
        }
        if existing.parameters != self.request.parameters_with_defaults()
            || existing.tags != self.request.tags
        {
            return Ok(false);
        }
        let template = self
            .cloudformation
            .get_template()
            .stack_name(&self.request.stack_name)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|error| aws_error("GetTemplate", &self.request.region, &error))?;
        Ok(template.template_body() == Some(self.request.kind.template()))
    }

    async fn create_change_set(&self, change_set_type: ChangeSetType) -> Result<Option<ChangeSet>> {
        let name = format!(
            "mysfits-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|since| since.as_millis())
                .unwrap_or_default()
        );
        let parameters: Vec<Parameter> = self
            .request
            .parameters
            .iter()
            .map(|(key, value)| {
                Parameter::builder()
                    .parameter_key(key)
                    .parameter_value(value)
                    .build()
            })
            .collect();
        let tags: Vec<Tag> = self
            .request
            .tags
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect();
        let created = self
            .cloudformation
            .create_change_set()
            .stack_name(&self.request.stack_name)
            .change_set_name(&name)
            .change_set_type(change_set_type)
            .template_body(self.request.kind.template())
            .set_parameters(Some(parameters))
            .set_tags(Some(tags))
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .description("mysfits deploy")
            .send()
            .await;
        if let Err(error) = &created
            && error_code(error) == Some("ValidationError")
            && is_no_changes_message(&crate::aws::error_message(error))
        {
            return Ok(None);
        }
        created.map_err(|error| aws_error("CreateChangeSet", &self.request.region, &error))?;

        let started = Instant::now();
        let mut delay = Poll::CHANGE_SET.first;
        loop {
            let described = self
                .cloudformation
                .describe_change_set()
                .stack_name(&self.request.stack_name)
                .change_set_name(&name)
                .send()
                .await
                .map_err(|error| aws_error("DescribeChangeSet", &self.request.region, &error))?;
            match described.status() {
                Some(ChangeSetStatus::CreateComplete) => {
                    let changes = described
                        .changes()
                        .iter()
                        .filter_map(|change| change.resource_change())
                        .map(|change| ResourceChange {
                            action: change
                                .action()
                                .map(|action| action.as_str().to_string())
                                .unwrap_or_default(),
                            logical_id: change
                                .logical_resource_id()
                                .unwrap_or_default()
                                .to_string(),
                            resource_type: change.resource_type().unwrap_or_default().to_string(),
                            replacement: change
                                .replacement()
                                .map(|replacement| replacement.as_str().to_string()),
                        })
                        .collect();
                    return Ok(Some(ChangeSet { name, changes }));
                }
                Some(ChangeSetStatus::Failed) => {
                    let reason = described.status_reason().unwrap_or_default().to_string();
                    self.delete_change_set(&name).await?;
                    if is_no_changes_message(&reason) {
                        return Ok(None);
                    }
                    return Err(Error::Stack {
                        stack: self.request.stack_name.clone(),
                        region: self.request.region.clone(),
                        status: "change set FAILED".into(),
                        failures: vec![ResourceFailure {
                            logical_id: self.request.stack_name.clone(),
                            resource_type: "AWS::CloudFormation::ChangeSet".into(),
                            status: "FAILED".into(),
                            reason,
                        }],
                        fix: "the template or a parameter was rejected; fix what the reason names and deploy again"
                            .into(),
                    });
                }
                _ => {}
            }
            if started.elapsed() > Poll::CHANGE_SET.limit {
                return Err(self.timeout("the change set to be ready", started.elapsed()));
            }
            tokio::time::sleep(delay).await;
            delay = Poll::CHANGE_SET.next_delay(delay);
        }
    }

    async fn delete_change_set(&self, name: &str) -> Result<()> {
        self.cloudformation
            .delete_change_set()
            .stack_name(&self.request.stack_name)
            .change_set_name(name)
            .send()
            .await
            .map_err(|error| aws_error("DeleteChangeSet", &self.request.region, &error))?;
        Ok(())
    }

    /// Polls the stack until no operation is in progress, emitting its new events as it goes.
    async fn follow_until_settled(&self, mut newest_seen: Option<String>) -> Result<Existing> {
        let started = Instant::now();
        let mut delay = Poll::STACK.first;
        let descriptions = super::resource_descriptions(self.request.kind);
        loop {
            newest_seen = self.emit_new_events(newest_seen, &descriptions).await;
            let Some(existing) = self.describe().await? else {
                return Err(Error::Stack {
                    stack: self.request.stack_name.clone(),
                    region: self.request.region.clone(),
                    status: "DELETED".into(),
                    failures: Vec::new(),
                    fix: "the stack disappeared while we waited for it (deleted by someone else?); deploy again".into(),
                });
            };
            if !existing.status.as_str().ends_with("_IN_PROGRESS") {
                self.emit_new_events(newest_seen, &descriptions).await;
                return Ok(existing);
            }
            if started.elapsed() > Poll::STACK.limit {
                return Err(self.timeout(
                    &format!(
                        "stack {} to finish {}",
                        self.request.stack_name,
                        existing.status.as_str()
                    ),
                    started.elapsed(),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = Poll::STACK.next_delay(delay);
        }
    }

    async fn newest_event_id(&self) -> Option<String> {
        let response = self
            .cloudformation
            .describe_stack_events()
            .stack_name(&self.request.stack_name)
            .send()
            .await
            .ok()?;
        response
            .stack_events()
            .first()
            .and_then(|event| event.event_id().map(str::to_string))
    }

    /// Emits the events newer than `newest_seen` (oldest first); returns the new newest id.
    /// Event trouble never fails a deploy: the stack status is what decides.
    async fn emit_new_events(
        &self,
        newest_seen: Option<String>,
        descriptions: &BTreeMap<String, String>,
    ) -> Option<String> {
        let Ok(response) = self
            .cloudformation
            .describe_stack_events()
            .stack_name(&self.request.stack_name)
            .send()
            .await
        else {
            return newest_seen;
        };
        let events = response.stack_events();
        let mut fresh = Vec::new();
        for event in events {
            if event.event_id().is_some() && event.event_id() == newest_seen.as_deref() {
                break;
            }
            fresh.push(event);
        }
        for event in fresh.iter().rev() {
            let logical_id = event.logical_resource_id().unwrap_or_default().to_string();
            self.events.emit(Event::Resource {
                step: self.step.clone(),
                description: descriptions.get(&logical_id).cloned(),
                logical_id,
                resource_type: event.resource_type().unwrap_or_default().to_string(),
                status: event
                    .resource_status()
                    .map(|status| status.as_str().to_string())
                    .unwrap_or_default(),
                reason: event.resource_status_reason().map(str::to_string),
            });
        }
        events
            .first()
            .and_then(|event| event.event_id().map(str::to_string))
            .or(newest_seen)
    }

    /// The resources that failed in the stack's latest operation, oldest first, without the
    /// "cancelled" noise when a real cause exists. The cause of a rolled-back create is older than
    /// all of the rollback's DELETE_* events, so every page back to the operation's start is read.
    async fn failed_resources(&self) -> Vec<ResourceFailure> {
        let events = latest_operation_events(self.cloudformation, &self.request.stack_name).await;
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
            .filter(|event| {
                seen.insert(event.logical_resource_id().unwrap_or_default().to_string())
            })
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

    async fn failure(&self, settled: &Existing, status: StackStatus, fix: &str) -> Error {
        let mut failures = self.failed_resources().await;
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

struct ChangeSet {
    name: String,
    changes: Vec<ResourceChange>,
}

/// CloudFormation says "no changes" only in prose: "The submitted information didn't contain
/// changes..." for a change set, "No updates are to be performed." for an update.
fn is_no_changes_message(message: &str) -> bool {
    message.contains("didn't contain changes") || message.contains("No updates are to be performed")
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

impl StackRequest {
    /// The parameters as CloudFormation reports them back: ours plus the template's defaults for
    /// the ones we leave out, so that a comparison with the deployed stack is exact.
    pub fn parameters_with_defaults(&self) -> BTreeMap<String, String> {
        let mut parameters = template_defaults(self.kind.template());
        parameters.extend(self.parameters.clone());
        parameters
    }
}

fn template_defaults(template: &str) -> BTreeMap<String, String> {
    let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(template) else {
        return BTreeMap::new();
    };
    let Some(parameters) = value
        .get("Parameters")
        .and_then(|parameters| parameters.as_mapping())
    else {
        return BTreeMap::new();
    };
    parameters
        .iter()
        .filter_map(|(name, declaration)| {
            let default = declaration.get("Default")?;
            let text = match default {
                serde_yaml::Value::String(text) => text.clone(),
                serde_yaml::Value::Number(number) => number.to_string(),
                serde_yaml::Value::Bool(flag) => flag.to_string(),
                _ => return None,
            };
            Some((name.as_str()?.to_string(), text))
        })
        .collect()
}
