//! What `status` says of auto failover's Region switch plan: its stack, its last evaluation and
//! its latest execution. The plan's ARN comes from the recovery stack's outputs (home region);
//! the evaluation and the executions from ARC's data plane in the home region
//! (GetPlanEvaluationStatus, ListPlanExecutions: data plane, answered in every region of the
//! plan, ARC user guide "Region switch API operations"), so this works while us-east-1's
//! control plane does not.

use aws_sdk_arcregionswitch::types::AbbreviatedExecution;
use serde::Serialize;

use crate::stack::StackKind;
use crate::status::facts::short_error;

/// The plan as status shows it; every field that could not be read is said so, not hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryStatus {
    pub stack: String,
    /// CloudFormation's status of the recovery stack, or `NOT FOUND`.
    pub stack_status: String,
    pub plan_arn: Option<String>,
    /// `passed`, `warning`, ... (ARC evaluates the plan after each change and every 30 min).
    pub evaluation: Option<String>,
    /// The most recent execution (by start time) in the first page the service answers.
    pub last_execution: Option<ExecutionSummary>,
    /// Calls that failed, with their short error.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecutionSummary {
    pub id: String,
    /// `activate`/`deactivate`.
    pub action: String,
    /// The region the execution activated or deactivated.
    pub region: String,
    /// `completed`, `inProgress`, `failed`, ...
    pub state: String,
    /// `graceful`/`ungraceful`/`practice`.
    pub mode: String,
    /// RFC 3339.
    pub started: String,
}

/// Reads the plan's stack (with `cloudformation`, home region) and the plan (with `arc`, a
/// client of ARC Region switch in the home region).
pub async fn read(
    cloudformation: &aws_sdk_cloudformation::Client,
    arc: &aws_sdk_arcregionswitch::Client,
    app: &str,
) -> RecoveryStatus {
    let stack = StackKind::Recovery.stack_name(app);
    let mut status = RecoveryStatus {
        stack: stack.clone(),
        stack_status: "NOT FOUND".into(),
        plan_arn: None,
        evaluation: None,
        last_execution: None,
        problems: Vec::new(),
    };
    match cloudformation
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
    {
        Ok(described) => {
            if let Some(found) = described.stacks().first() {
                status.stack_status = found
                    .stack_status()
                    .map(|state| state.as_str().to_string())
                    .unwrap_or_default();
                status.plan_arn = crate::stack::outputs::stack_outputs(found)
                    .get(super::PLAN_ARN_OUTPUT)
                    .cloned();
            }
        }
        // DescribeStacks answers ValidationError "Stack with id X does not exist".
        Err(error)
            if error
                .as_service_error()
                .and_then(|service| service.meta().code())
                == Some("ValidationError") => {}
        Err(error) => status
            .problems
            .push(format!("DescribeStacks: {}", short_error(&error))),
    }
    let Some(plan_arn) = status.plan_arn.clone() else {
        return status;
    };
    match arc
        .get_plan_evaluation_status()
        .plan_arn(&plan_arn)
        .send()
        .await
    {
        Ok(evaluation) => {
            status.evaluation = evaluation
                .evaluation_state()
                .map(|state| state.as_str().to_string());
        }
        Err(error) => status
            .problems
            .push(format!("GetPlanEvaluationStatus: {}", short_error(&error))),
    }
    match arc.list_plan_executions().plan_arn(&plan_arn).send().await {
        Ok(listed) => {
            status.last_execution = listed
                .items()
                .iter()
                .max_by_key(|execution| execution.start_time().as_nanos())
                .map(summary);
        }
        Err(error) => status
            .problems
            .push(format!("ListPlanExecutions: {}", short_error(&error))),
    }
    status
}

fn summary(execution: &AbbreviatedExecution) -> ExecutionSummary {
    ExecutionSummary {
        id: execution.execution_id().to_string(),
        action: execution.execution_action().as_str().to_string(),
        region: execution.execution_region().to_string(),
        state: execution.execution_state().as_str().to_string(),
        mode: execution.mode().as_str().to_string(),
        started: execution
            .start_time()
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default(),
    }
}

impl RecoveryStatus {
    fn failed(&self, operation: &str) -> bool {
        self.problems
            .iter()
            .any(|problem| problem.starts_with(&format!("{operation}:")))
    }

    /// One line for the status text, e.g. `auto failover: plan arn:... (stack CREATE_COMPLETE,
    /// evaluation passed), last execution activate us-west-2 completed (ungraceful, 2026-...)`.
    pub fn text(&self) -> String {
        let mut text = match &self.plan_arn {
            Some(arn) => format!(
                "auto failover: plan {arn} (stack {}, evaluation {})",
                self.stack_status,
                self.evaluation.as_deref().unwrap_or("unknown")
            ),
            None => format!(
                "auto failover: no plan (stack {} {})",
                self.stack, self.stack_status
            ),
        };
        match &self.last_execution {
            Some(execution) => text.push_str(&format!(
                ", last execution {} {} {} ({}, {})",
                execution.action,
                execution.region,
                execution.state,
                execution.mode,
                execution.started
            )),
            None if self.plan_arn.is_some() && !self.failed("ListPlanExecutions") => {
                text.push_str(", never executed")
            }
            None => {}
        }
        for problem in &self.problems {
            text.push_str(&format!("\n  could not read: {problem}"));
        }
        text.push('\n');
        text
    }
}
