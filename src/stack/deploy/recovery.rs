//! The states an earlier run can leave a stack in, and what deploy (and `plan`) do about them:
//! wait out an operation in progress, delete a failed create, continue a stuck rollback, retry
//! a failed delete.

use aws_sdk_cloudformation::types::{StackStatus, TemplateStage};

use super::{Existing, Preview, STACK_POLL, StackDeployer};
use crate::aws::aws_error;
use crate::error::{Error, Result};
use crate::stack::events::newest_event_id;
use crate::stack::failures::{delete_failures, named_failures, operation_failures};
use crate::wait::poll;

impl StackDeployer<'_> {
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
        let change_set_type = self.change_set_type(creating);
        let created = self.create_change_set(change_set_type).await;
        if created.is_err() && existing.is_none() {
            // The refused change set made an empty REVIEW_IN_PROGRESS stack: a preview leaves
            // nothing behind, so it goes (best effort: the refusal is the error to report).
            let _ = self
                .cloudformation
                .delete_stack()
                .stack_name(&self.request.stack_name)
                .send()
                .await;
        }
        let Some(change_set) = created? else {
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
    pub(super) async fn recovery_preview(&self, existing: &Existing) -> Option<Preview> {
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
                operation_failures(self.cloudformation, &self.request.stack_name).await,
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
                operation_failures(self.cloudformation, &self.request.stack_name).await,
            ),
            _ => return None,
        };
        Some(Preview::Recover {
            status,
            action,
            failures,
        })
    }

    /// Waits out an operation in progress on the stack and recovers from the states that block
    /// an update, as a deploy does first; for decisions that need the stack at rest.
    pub async fn settle(&self) -> Result<()> {
        self.settled_existing().await.map(|_| ())
    }

    /// The current stack, after waiting out an operation in progress and recovering from the
    /// states that block an update.
    pub(super) async fn settled_existing(&self) -> Result<Option<Existing>> {
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
            let newest = newest_event_id(self.cloudformation, &self.request.stack_name).await;
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
                let newest = newest_event_id(self.cloudformation, &self.request.stack_name).await;
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

    pub(super) async fn delete_and_wait(&self, existing: &Existing) -> Result<()> {
        self.cloudformation
            .delete_stack()
            .stack_name(&existing.stack_id)
            .send()
            .await
            .map_err(|error| aws_error("DeleteStack", &self.request.region, &error))?;
        poll(
            STACK_POLL,
            || self.deleted(&existing.stack_id),
            |waited| self.timeout("the failed stack to be deleted", waited),
        )
        .await
    }

    /// One look at a stack being deleted: `Some` once it is gone, an error when it failed.
    async fn deleted(&self, stack_id: &str) -> Result<Option<()>> {
        let response = self
            .cloudformation
            .describe_stacks()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|error| aws_error("DescribeStacks", &self.request.region, &error))?;
        let status = response
            .stacks()
            .first()
            .and_then(|stack| stack.stack_status().cloned());
        match status {
            None | Some(StackStatus::DeleteComplete) => Ok(Some(())),
            Some(StackStatus::DeleteFailed) => Err(Error::Stack {
                stack: self.request.stack_name.clone(),
                region: self.request.region.clone(),
                status: "DELETE_FAILED".into(),
                failures: operation_failures(self.cloudformation, &self.request.stack_name).await,
                fix: "remove the named resources by hand (or run `mysfits teardown`), then deploy again".into(),
            }),
            Some(_) => Ok(None),
        }
    }

    /// True when the deployed template, parameters and tags are exactly what we would send: then
    /// there is nothing to do and nothing is written.
    pub(super) async fn matches_deployed(&self, existing: &Existing) -> Result<bool> {
        if !super::SUCCEEDED.contains(&existing.status) {
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
}
