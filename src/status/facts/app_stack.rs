//! The app's stacks in one region: whether each exists and its status, and the app stack's
//! outputs and parameters (with physical resource ids where outputs are missing).

use std::collections::BTreeMap;

use super::{Recorder, StackFact};
use crate::app::SERVICES;
use crate::aws::{RegionClients, error_code};
use crate::stack::StackKind;
use crate::stack::deploy::{PhysicalResource, StackResult, stack_outputs, stack_parameters};

/// The app stack's outputs, parameters and (when outputs are missing) physical resource ids,
/// held as the deploy holds a stack ([`StackResult`]) so the emulator fallback is the one in
/// [`StackResult::value`].
#[derive(Debug, Default)]
pub(super) struct AppStack {
    exists: bool,
    pub(super) deployed: StackResult,
    pub(super) parameters: BTreeMap<String, String>,
}

impl AppStack {
    /// moto reports no outputs for stacks created by change sets; then physical ids stand in.
    fn needs_resources(&self) -> bool {
        self.exists
            && SERVICES.iter().any(|service| {
                !self
                    .deployed
                    .outputs
                    .contains_key(service.target_group_arn_output)
            })
    }

    /// The output, or else the physical id of the resource it names.
    pub(super) fn value(&self, output: &str, logical_id: &str) -> Option<&str> {
        self.deployed.value(output, logical_id)
    }

    /// A task count parameter (`MaxCount`, `DesiredCount`) of the app stack.
    pub(super) fn count_parameter(&self, name: &str) -> Option<u32> {
        self.parameters
            .get(name)
            .and_then(|count| count.parse().ok())
    }
}

/// Describes every stack of the app (recording each one's status) and returns what the app stack
/// holds.
pub(super) async fn read_app_stacks(
    clients: &RegionClients,
    app: &str,
    home: bool,
    recorder: &mut Recorder,
) -> AppStack {
    let mut app_stack = AppStack::default();
    // The data stack (the table) is home's only.
    let data = home.then_some(StackKind::Data);
    for kind in StackKind::ALL.into_iter().chain(data) {
        let name = kind.stack_name(app);
        if !recorder.may_call(&format!("DescribeStacks {name}")) {
            continue;
        }
        match clients
            .cloudformation
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
        {
            Ok(described) => {
                let stack = described.stacks().first();
                if kind == StackKind::App
                    && let Some(stack) = stack
                {
                    app_stack.deployed.outputs = stack_outputs(stack);
                    app_stack.parameters = stack_parameters(stack);
                    app_stack.exists = true;
                }
                let status = stack
                    .and_then(|stack| stack.stack_status())
                    .map(|status| status.as_str().to_string());
                recorder.facts.stacks.push(StackFact { kind, name, status });
            }
            // CloudFormation says "Stack with id X does not exist" as a ValidationError.
            Err(error) if error_code(&error) == Some("ValidationError") => {
                recorder.facts.stacks.push(StackFact {
                    kind,
                    name,
                    status: None,
                });
            }
            Err(error) => recorder.failed(&format!("DescribeStacks {name}"), &error),
        }
    }
    if app_stack.needs_resources() {
        read_physical_ids(clients, app, &mut app_stack, recorder).await;
    }
    app_stack
}

async fn read_physical_ids(
    clients: &RegionClients,
    app: &str,
    app_stack: &mut AppStack,
    recorder: &mut Recorder,
) {
    if !recorder.may_call("DescribeStackResources") {
        return;
    }
    match clients
        .cloudformation
        .describe_stack_resources()
        .stack_name(StackKind::App.stack_name(app))
        .send()
        .await
    {
        Ok(described) => {
            app_stack.deployed.resources = described
                .stack_resources()
                .iter()
                .filter_map(PhysicalResource::from_stack_resource)
                .collect();
        }
        Err(error) => recorder.failed("DescribeStackResources", &error),
    }
}
