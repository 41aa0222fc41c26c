//! The change set of a deploy or a preview: created, waited for until ready (or found to have
//! no changes), deleted again by a preview.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter, Tag};
use serde::Serialize;

use super::{CHANGE_SET_POLL, StackDeployer};
use crate::aws::{aws_error, error_code};
use crate::error::{Error, ResourceFailure, Result};
use crate::stack::StackRequest;
use crate::wait::poll;

/// One resource change a change set would make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    pub replacement: Option<String>,
    /// What the resource's DeletionPolicy does on a Remove (`Retain`: it stays, unmanaged).
    pub policy_action: Option<String>,
}

pub(super) struct ChangeSet {
    pub(super) name: String,
    pub(super) changes: Vec<ResourceChange>,
}

/// Where a change set stands after one look.
enum Looked {
    Ready(ChangeSet),
    NoChanges,
}

impl StackDeployer<'_> {
    /// Creates a change set of `change_set_type` and waits until it is ready; `None` when
    /// CloudFormation finds nothing to change.
    pub(super) async fn create_change_set(
        &self,
        change_set_type: ChangeSetType,
    ) -> Result<Option<ChangeSet>> {
        let name = format!(
            "mysfits-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|since| since.as_millis())
                .unwrap_or_default()
        );
        let created = self
            .cloudformation
            .create_change_set()
            .stack_name(&self.request.stack_name)
            .change_set_name(&name)
            .change_set_type(change_set_type)
            .template_body(self.request.kind.template())
            .set_parameters(Some(self.request.cloudformation_parameters()))
            // An import may add no tags (nor outputs) to the stack: the update after it does.
            .set_tags(
                self.import
                    .is_empty()
                    .then(|| self.request.cloudformation_tags()),
            )
            .set_resources_to_import((!self.import.is_empty()).then(|| self.import.clone()))
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
        let looked = poll(
            CHANGE_SET_POLL,
            || self.look_at_change_set(&name),
            |waited| self.timeout("the change set to be ready", waited),
        )
        .await?;
        Ok(match looked {
            Looked::Ready(change_set) => Some(change_set),
            Looked::NoChanges => None,
        })
    }

    /// One DescribeChangeSet: ready, empty (deleted again), failed, or still being created.
    async fn look_at_change_set(&self, name: &str) -> Result<Option<Looked>> {
        let described = self
            .cloudformation
            .describe_change_set()
            .stack_name(&self.request.stack_name)
            .change_set_name(name)
            .send()
            .await
            .map_err(|error| aws_error("DescribeChangeSet", &self.request.region, &error))?;
        match described.status() {
            Some(ChangeSetStatus::CreateComplete) => Ok(Some(Looked::Ready(ChangeSet {
                name: name.to_string(),
                changes: resource_changes(&described),
            }))),
            Some(ChangeSetStatus::Failed) => {
                let reason = described.status_reason().unwrap_or_default().to_string();
                self.delete_change_set(name).await?;
                if is_no_changes_message(&reason) {
                    return Ok(Some(Looked::NoChanges));
                }
                Err(Error::Stack {
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
                })
            }
            _ => Ok(None),
        }
    }

    pub(super) async fn delete_change_set(&self, name: &str) -> Result<()> {
        self.cloudformation
            .delete_change_set()
            .stack_name(&self.request.stack_name)
            .change_set_name(name)
            .send()
            .await
            .map_err(|error| aws_error("DeleteChangeSet", &self.request.region, &error))?;
        Ok(())
    }
}

fn resource_changes(described: &DescribeChangeSetOutput) -> Vec<ResourceChange> {
    described
        .changes()
        .iter()
        .filter_map(|change| change.resource_change())
        .map(|change| ResourceChange {
            action: change
                .action()
                .map(|action| action.as_str().to_string())
                .unwrap_or_default(),
            logical_id: change.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: change.resource_type().unwrap_or_default().to_string(),
            replacement: change
                .replacement()
                .map(|replacement| replacement.as_str().to_string()),
            policy_action: change
                .policy_action()
                .map(|action| action.as_str().to_string()),
        })
        .collect()
}

/// CloudFormation says "no changes" only in prose: "The submitted information didn't contain
/// changes..." for a change set, "No updates are to be performed." for an update.
fn is_no_changes_message(message: &str) -> bool {
    message.contains("didn't contain changes") || message.contains("No updates are to be performed")
}

impl StackRequest {
    /// The parameters as CloudFormation reports them back: ours plus the template's defaults for
    /// the ones we leave out, so that a comparison with the deployed stack is exact.
    pub fn parameters_with_defaults(&self) -> BTreeMap<String, String> {
        let mut parameters = template_defaults(self.kind.template());
        parameters.extend(self.parameters.clone());
        parameters
    }

    fn cloudformation_parameters(&self) -> Vec<Parameter> {
        self.parameters
            .iter()
            .map(|(key, value)| {
                Parameter::builder()
                    .parameter_key(key)
                    .parameter_value(value)
                    .build()
            })
            .collect()
    }

    fn cloudformation_tags(&self) -> Vec<Tag> {
        self.tags
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect()
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
