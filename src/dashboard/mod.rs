//! The multi-region CloudWatch dashboard: body built from typed structs ([`body`]), names found
//! from the app stacks ([`targets`]), created or updated by [`ensure`], read back as numbers in the
//! terminal by [`show`], removed by [`delete`].
//!
//! One dashboard ([`crate::app::names::dashboard`]) lives in the home region; every metric names
//! its own region, so it graphs every region (and the accelerator, whose metrics live in
//! us-west-2) side by side.

pub mod body;
pub mod show;
pub mod targets;

use aws_sdk_cloudwatch::operation::get_dashboard::GetDashboardError;
use serde::Serialize;

use crate::aws::aws_error;
use crate::config::Config;
use crate::entry::{Control, EntryPoint, EntryState};
use crate::error::{Error, Result};
use crate::stack::deploy::StackResult;

pub use body::{DashboardBody, DashboardInput, build};
pub use targets::{Accelerator, RegionTargets, ServiceTargets};

/// What `ensure` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DashboardReport {
    pub name: String,
    pub region: String,
    /// False when the deployed body was already the one we would write.
    pub changed: bool,
    pub regions: Vec<String>,
    pub accelerator: Option<String>,
    pub url: String,
    /// CloudWatch's warnings about the body (it rejects outright errors).
    pub warnings: Vec<String>,
}

/// The dashboard's name (see [`crate::app::names::dashboard`]).
pub fn dashboard_name(config: &Config) -> String {
    crate::app::names::dashboard(&config.app)
}

/// Where to open the dashboard in the console.
pub fn console_url(region: &str, name: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{name}"
    )
}

/// The dashboard's input from the app stacks as deploy left them (one per configured region, in
/// any order) and the accelerator's ARN if the app has one.
pub fn input_from_stacks(
    config: &Config,
    app_stacks: &[&StackResult],
    accelerator_arn: Option<&str>,
) -> Result<DashboardInput> {
    let mut regions = Vec::new();
    for region in config.regions() {
        let stack = app_stacks
            .iter()
            .find(|stack| stack.region == region.name)
            .ok_or_else(|| {
                Error::config(
                    format!(
                        "the dashboard needs the app stack of {} ({}), which is not deployed",
                        region.name,
                        crate::app::region::standing(region.home)
                    ),
                    "run `mysfits deploy` first, then `mysfits dashboard create`",
                )
            })?;
        regions.push(RegionTargets::from_stack(region, stack)?);
    }
    let accelerator = match accelerator_arn {
        None => None,
        Some(arn) => Some(Accelerator::from_arn(arn).ok_or_else(|| {
            Error::config(
                format!("{arn:?} is not the ARN of a Global Accelerator accelerator"),
                "pass the AcceleratorArn as ListAccelerators reports it",
            )
        })?),
    };
    Ok(DashboardInput {
        app: config.app.clone(),
        table: config.table_name(),
        regions,
        accelerator,
        tracing: config.tracing.enabled,
    })
}

/// Creates or updates the dashboard so it matches the deployed app. Idempotent: an unchanged
/// body is not written again. This is the step deploy runs after the app stacks (and the entry
/// point, whose accelerator ARN it takes when there is one).
pub async fn ensure(
    config: &Config,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    app_stacks: &[&StackResult],
    accelerator_arn: Option<&str>,
) -> Result<DashboardReport> {
    let input = input_from_stacks(config, app_stacks, accelerator_arn)?;
    put(config, cloudwatch, &input).await
}

/// Writes the body for `input` unless the deployed one is the same.
pub async fn put(
    config: &Config,
    cloudwatch: &aws_sdk_cloudwatch::Client,
    input: &DashboardInput,
) -> Result<DashboardReport> {
    let name = dashboard_name(config);
    let region = config.home().name.clone();
    let body = serde_json::to_value(build(input)).map_err(|error| {
        Error::internal(format!("could not serialize the dashboard body: {error}"))
    })?;
    let deployed = deployed_body(cloudwatch, &name, &region).await?;
    let mut report = DashboardReport {
        name: name.clone(),
        region: region.clone(),
        changed: false,
        regions: input
            .regions
            .iter()
            .map(|targets| targets.region.clone())
            .collect(),
        accelerator: input
            .accelerator
            .as_ref()
            .map(|accelerator| accelerator.arn.clone()),
        url: console_url(&region, &name),
        warnings: Vec::new(),
    };
    if deployed.as_ref() == Some(&body) {
        return Ok(report);
    }
    let response = cloudwatch
        .put_dashboard()
        .dashboard_name(&name)
        .dashboard_body(body.to_string())
        .send()
        .await
        .map_err(|error| refused_dashboard(&region, &error))?;
    report.changed = true;
    report.warnings = response
        .dashboard_validation_messages()
        .iter()
        .map(|message| {
            format!(
                "{}: {}",
                message.data_path().unwrap_or("body"),
                message.message().unwrap_or_default()
            )
        })
        .collect();
    Ok(report)
}

/// PutDashboard's failure, with the validation messages CloudWatch sends along when it refuses
/// the body (`DashboardInvalidInputError`: each names the body's data path and the problem).
fn refused_dashboard(
    region: &str,
    error: &aws_sdk_cloudwatch::error::SdkError<
        aws_sdk_cloudwatch::operation::put_dashboard::PutDashboardError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> Error {
    let mut failure = aws_error("PutDashboard", region, error);
    if let Some(
        aws_sdk_cloudwatch::operation::put_dashboard::PutDashboardError::DashboardInvalidInputError(
            invalid,
        ),
    ) = error.as_service_error()
        && let Error::Aws { message, .. } = &mut failure
    {
        for detail in invalid.dashboard_validation_messages() {
            message.push_str(&format!(
                "\n  {}: {}",
                detail.data_path().unwrap_or("body"),
                detail.message().unwrap_or_default()
            ));
        }
    }
    failure
}

/// The body of the deployed dashboard, or `None` when there is none.
pub async fn deployed_body(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    name: &str,
    region: &str,
) -> Result<Option<serde_json::Value>> {
    match cloudwatch.get_dashboard().dashboard_name(name).send().await {
        // A body that is not JSON (edited by hand into something odd) is simply replaced.
        Ok(response) => Ok(response
            .dashboard_body()
            .and_then(|text| serde_json::from_str(text).ok())),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(GetDashboardError::is_dashboard_not_found_error) =>
        {
            Ok(None)
        }
        Err(error) => Err(aws_error("GetDashboard", region, &error)),
    }
}

/// Deletes the dashboard; false when there was none.
pub async fn delete(config: &Config, cloudwatch: &aws_sdk_cloudwatch::Client) -> Result<bool> {
    let name = dashboard_name(config);
    let region = &config.home().name;
    if deployed_body(cloudwatch, &name, region).await?.is_none() {
        return Ok(false);
    }
    cloudwatch
        .delete_dashboards()
        .dashboard_names(&name)
        .send()
        .await
        .map_err(|error| aws_error("DeleteDashboards", region, &error))?;
    Ok(true)
}

/// Whether the app has an accelerator, as far as we could tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceleratorLookup {
    Found(Accelerator),
    Absent,
    /// The control plane did not answer usefully (no permission, unreachable, an emulator
    /// without Global Accelerator): the dashboard goes on without the flows graph.
    Unknown(String),
}

/// The app's accelerator as the entry point finds it (named like the app and tagged as ours, at
/// the entry point's control endpoint): the lookup deploy's dashboard step gets from its entry
/// point step. In Route 53 mode the app has no accelerator, whatever else the account holds.
pub async fn find_accelerator(entry: &EntryPoint) -> AcceleratorLookup {
    if !matches!(entry.control, Control::GlobalAccelerator(_)) {
        return AcceleratorLookup::Absent;
    }
    let state = crate::entry::describe(entry).await;
    match &state {
        EntryState::Present(description) => match Accelerator::from_arn(&description.id) {
            Some(accelerator) => AcceleratorLookup::Found(accelerator),
            None => AcceleratorLookup::Unknown(format!(
                "{:?} is not an accelerator ARN",
                description.id
            )),
        },
        EntryState::Absent => AcceleratorLookup::Absent,
        EntryState::Unavailable { .. } => AcceleratorLookup::Unknown(state.summary(entry.mode())),
        // A refusal (an accelerator of that name that is not ours) arrives here too.
        EntryState::Unreachable { reason } => AcceleratorLookup::Unknown(reason.clone()),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatch::error::SdkError;
    use aws_sdk_cloudwatch::operation::put_dashboard::PutDashboardError;
    use aws_sdk_cloudwatch::types::DashboardValidationMessage;
    use aws_sdk_cloudwatch::types::error::DashboardInvalidInputError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    /// A refused body names each of CloudWatch's validation messages (data path and problem),
    /// not only the top-level "The input for the dashboard is invalid".
    #[test]
    fn a_refused_dashboard_body_names_cloudwatchs_validation_messages() {
        let message = "The dashboard body is invalid, there are 1 validation errors";
        let invalid = DashboardInvalidInputError::builder()
            .message(message)
            .dashboard_validation_messages(
                DashboardValidationMessage::builder()
                    .data_path("/widgets/3/properties/metrics/0")
                    .message("Should NOT have more than 4 items")
                    .build(),
            )
            .meta(
                ErrorMetadata::builder()
                    .code("InvalidParameterInput")
                    .message(message)
                    .build(),
            )
            .build();
        let error = SdkError::service_error(
            PutDashboardError::DashboardInvalidInputError(invalid),
            HttpResponse::new(400.try_into().expect("a valid status"), SdkBody::empty()),
        );
        let text = refused_dashboard("us-east-1", &error).to_string();
        assert!(
            text.contains("/widgets/3/properties/metrics/0: Should NOT have more than 4 items"),
            "{text}"
        );
    }
}
