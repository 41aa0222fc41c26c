//! `mysfits plan` and `deploy --dry-run`: the plan's steps, then the change set each stack would
//! get, without changing anything.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;

use crate::app::RegionName;
use crate::aws::{Patience, RegionClients};
use crate::cli::OutputFormat;
use crate::commands::to_json;
use crate::config::{Config, RegionSettings};
use crate::error::Result;
use crate::plan::Plan;
use crate::progress::{Event, Events, Progress, elapsed_ms};
use crate::stack::deploy::{Preview, ResourceChange, StackDeployer, stack_parameters};
use crate::stack::{
    ServiceImages, StackKind, StackRequest, app_request_with, capacity, registry_request,
};

#[derive(Debug, Serialize)]
struct StackPreview {
    stack: String,
    region: String,
    preview: Preview,
}

/// Prints the plan and every stack's preview. Exit 0 no changes, 1 changes. While it reads the
/// change sets, each stack is a live step on stderr, as in deploy.
pub async fn preview(config: &Config, plan: &Plan) -> Result<ExitCode> {
    plan.validate()?;
    let clients = RegionClients::for_regions(config, Patience::DEPLOY).await;
    let progress = Progress::start();
    let previews = preview_stacks(config, &clients, &progress.events).await;
    progress.finish().await;
    let previews = previews?;
    let removals = plan
        .steps
        .iter()
        .any(|step| matches!(step.id, crate::plan::StepId::RemoveStack { .. }));
    let changes = removals || previews.iter().any(|preview| preview.preview.has_changes());
    match config.output {
        OutputFormat::Json => crate::commands::write_stdout(&format!(
            "{}\n",
            to_json(
                &serde_json::json!({ "steps": plan.steps, "stacks": previews, "changes": changes })
            )?
        ))?,
        OutputFormat::Text => crate::commands::write_stdout(&text(plan, &previews))?,
    }
    Ok(if changes {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every stack's preview, region by region, each shown as a step while CloudFormation computes it.
async fn preview_stacks(
    config: &Config,
    clients: &BTreeMap<RegionName, RegionClients>,
    events: &Events,
) -> Result<Vec<StackPreview>> {
    let mut previews = Vec::new();
    for region in config.regions() {
        let recovery = (region.home && config.auto_failover.enabled).then_some(StackKind::Recovery);
        let data = region.home.then_some(StackKind::Data);
        for kind in data.into_iter().chain(StackKind::ALL).chain(recovery) {
            let region_clients = &clients[&region.key()];
            let Some(request) = preview_request(config, region, region_clients, kind).await else {
                continue;
            };
            let step = format!("preview {} ({})", kind.stack_name(&config.app), region.name);
            events.emit(Event::StepStarted { step: step.clone() });
            let started = Instant::now();
            let preview = async {
                let import = if kind == StackKind::Data {
                    crate::stack::data::table_import(config, region_clients).await?
                } else {
                    Vec::new()
                };
                StackDeployer::new(
                    &region_clients.cloudformation,
                    &request,
                    events.clone(),
                    &step,
                )
                .with_import(import)
                .preview()
                .await
            }
            .await;
            let preview = match preview {
                Ok(preview) => preview,
                Err(error) => {
                    events.emit(Event::StepFailed {
                        step,
                        error: error.to_string(),
                    });
                    return Err(error);
                }
            };
            events.emit(Event::StepFinished {
                summary: summary(&preview),
                step,
                elapsed_ms: elapsed_ms(started.elapsed()),
            });
            previews.push(StackPreview {
                stack: request.stack_name.clone(),
                region: region.name.clone(),
                preview,
            });
        }
    }
    Ok(previews)
}

/// The step's one-line result.
fn summary(preview: &Preview) -> String {
    match preview {
        Preview::Unchanged => "no changes".to_string(),
        Preview::Recover { status, .. } => format!("recovers from {status}"),
        Preview::Create { changes } => format!("create: {} resource change(s)", changes.len()),
        Preview::Update { changes } => format!("update: {} resource change(s)", changes.len()),
    }
}

/// The request a deploy would send. The app stack's real image digests are only known after a
/// build; preview with the deployed ones when there are some, so an unchanged app shows as
/// unchanged. `None` for auto failover's alarms stacks: their parameters come from the app
/// stack a deploy is about to update, so they are not previewed; and for a data stack that
/// will take the table over from the app stack.
async fn preview_request(
    config: &Config,
    region: &RegionSettings,
    clients: &RegionClients,
    kind: StackKind,
) -> Option<StackRequest> {
    Some(match kind {
        StackKind::Registry => registry_request(config, region),
        StackKind::App => app_request_with(
            config,
            region,
            &deployed_images(clients, config).await,
            &capacity::read(clients, &config.app).await,
        ),
        StackKind::Recovery => crate::auto_failover::recovery_request(config),
        // Still in the home app stack (an older deployment): the plan's data stack step says
        // that deploy moves it there; the app stack's preview shows it leaving.
        StackKind::Data
            if crate::stack::data::app_stack_has_table(config, clients)
                .await
                .unwrap_or(false) =>
        {
            return None;
        }
        StackKind::Data => crate::stack::data_request(config),
        StackKind::Alarms => return None,
    })
}

fn text(plan: &Plan, previews: &[StackPreview]) -> String {
    let mut text = format!("Steps:\n{plan}\n");
    for preview in previews {
        text.push_str(&format!("{} ({}):\n", preview.stack, preview.region));
        match &preview.preview {
            Preview::Unchanged => text.push_str("  no changes\n"),
            Preview::Recover {
                status,
                action,
                failures,
            } => {
                text.push_str(&format!("  recover from {status}: {action}\n"));
                for failure in failures {
                    text.push_str(&format!(
                        "    {} {} {}: {}\n",
                        failure.status, failure.logical_id, failure.resource_type, failure.reason
                    ));
                }
            }
            Preview::Create { changes } => text.push_str(&change_lines("create stack", changes)),
            Preview::Update { changes } => text.push_str(&change_lines("update stack", changes)),
        }
    }
    text
}

fn change_lines(verb: &str, changes: &[ResourceChange]) -> String {
    let mut text = format!("  {verb}: {} resource change(s)\n", changes.len());
    for change in changes {
        let replacement = match (
            change.replacement.as_deref(),
            change.policy_action.as_deref(),
        ) {
            (_, Some("Retain")) if change.action == "Remove" => {
                " (retained: leaves the stack, not deleted)"
            }
            (Some("True"), _) => " (replacement)",
            (Some("Conditional"), _) => " (may replace)",
            _ => "",
        };
        text.push_str(&format!(
            "    {:<7} {} {}{replacement}\n",
            change.action, change.logical_id, change.resource_type
        ));
    }
    text
}

/// The images the deployed app stack runs now (for previews), or placeholders before the first deploy.
/// The placeholders match the template's image AllowedPattern (`REPOSITORY@sha256:HEX`):
/// CloudFormation checks parameter constraints when it creates a change set, so free text would
/// make `plan` fail on a fresh account.
async fn deployed_images(clients: &RegionClients, config: &Config) -> ServiceImages {
    let stack_name = StackKind::App.stack_name(&config.app);
    let parameters = clients
        .cloudformation
        .describe_stacks()
        .stack_name(&stack_name)
        .send()
        .await
        .ok()
        .and_then(|response| response.stacks().first().map(stack_parameters))
        .unwrap_or_default();
    ServiceImages::from_fn(|service| {
        parameters
            .get(service.image_parameter)
            .cloned()
            .unwrap_or_else(|| image_placeholder(&config.app, service.name))
    })
}

/// An image reference that is built at deploy: not pullable, but valid for the template.
pub fn image_placeholder(app: &str, service: &str) -> String {
    format!("built-at-deploy/{app}/{service}@sha256:{}", "0".repeat(64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        action: &str,
        policy_action: Option<&str>,
        replacement: Option<&str>,
    ) -> ResourceChange {
        ResourceChange {
            action: action.into(),
            logical_id: "Table".into(),
            resource_type: "AWS::DynamoDB::Table".into(),
            replacement: replacement.map(str::to_string),
            policy_action: policy_action.map(str::to_string),
        }
    }

    /// The older app stack's update drops the table from its template: the preview must not read
    /// as "the data is deleted" when CloudFormation's PolicyAction says it is retained.
    #[test]
    fn a_removed_but_retained_resource_says_so() {
        let text = change_lines(
            "update stack",
            &[
                change("Remove", Some("Retain"), None),
                change("Remove", Some("Delete"), None),
                change("Modify", None, Some("True")),
            ],
        );
        assert_eq!(
            text,
            "  update stack: 3 resource change(s)\n    \
             Remove  Table AWS::DynamoDB::Table (retained: leaves the stack, not deleted)\n    \
             Remove  Table AWS::DynamoDB::Table\n    \
             Modify  Table AWS::DynamoDB::Table (replacement)\n"
        );
    }
}
