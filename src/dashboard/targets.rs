//! The names CloudWatch metrics are keyed by, found from the app stacks.
//!
//! ALB metrics take the load balancer's and target group's "full names" (`app/NAME/ID`,
//! `targetgroup/NAME/ID`). The template could export them with GetAtt, but moto leaves those
//! attributes unresolved, so they are cut out of the ARNs here, which works the same everywhere.

use aws_sdk_cloudformation::Client;

use crate::app::{SERVICES, Service, template};
use crate::aws::{aws_error, error_code};
use crate::config::RegionSettings;
use crate::error::{Error, Result};
use crate::stack::StackKind;
use crate::stack::deploy::{PhysicalResource, StackResult, stack_outputs};

/// What the dashboard graphs in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionTargets {
    pub region: String,
    /// The app's first region, where the dashboard lives.
    pub home: bool,
    /// `app/NAME/ID`
    pub load_balancer: String,
    pub cluster: String,
    /// One per bundled service, in the table's order.
    pub services: Vec<ServiceTargets>,
}

/// The names one bundled service's metrics are keyed by in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTargets {
    pub service: &'static Service,
    /// `targetgroup/NAME/ID`
    pub target_group: String,
    /// The ECS service's name.
    pub ecs_service: String,
}

impl RegionTargets {
    /// The names in one region, from its deployed app stack (outputs, or else the physical ids
    /// of the resources, which is all a stack created by a change set has in moto).
    pub fn from_stack(region: &RegionSettings, stack: &StackResult) -> Result<RegionTargets> {
        let outputs = stack.app_outputs()?;
        let load_balancer =
            load_balancer_dimension(&outputs.load_balancer_arn).ok_or_else(|| {
                not_an_arn(
                    stack,
                    template::LOAD_BALANCER_ARN.resource,
                    &outputs.load_balancer_arn,
                    "a load balancer",
                )
            })?;
        let services = SERVICES
            .iter()
            .map(|service| {
                let Some(found) = outputs.service(service) else {
                    return Err(Error::internal(format!(
                        "the typed outputs of {} lack {}",
                        stack.stack_name, service.name
                    )));
                };
                let target_group =
                    target_group_dimension(&found.target_group_arn).ok_or_else(|| {
                        not_an_arn(
                            stack,
                            service.target_group_resource,
                            &found.target_group_arn,
                            "a target group",
                        )
                    })?;
                Ok(ServiceTargets {
                    service,
                    target_group,
                    ecs_service: found.name.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RegionTargets {
            region: region.name.clone(),
            home: region.home,
            load_balancer,
            cluster: outputs.cluster,
            services,
        })
    }

    /// `primary` for home, `secondary` for the others: the words the dashboard has always shown.
    pub fn standing(&self) -> &'static str {
        crate::app::region::standing(self.home)
    }
}

fn not_an_arn(stack: &StackResult, logical_id: &str, value: &str, what: &str) -> Error {
    Error::config(
        format!(
            "{logical_id} of stack {} in {} is {value:?}, which is not the ARN of {what}",
            stack.stack_name, stack.region
        ),
        "the stack was changed outside mysfits: run `mysfits deploy` to restore it",
    )
}

/// The accelerator in front of every region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accelerator {
    pub arn: String,
    /// The `Accelerator` dimension of its metrics: the id at the end of the ARN.
    pub id: String,
}

impl Accelerator {
    pub fn from_arn(arn: &str) -> Option<Accelerator> {
        let id = arn.split_once(":accelerator/")?.1;
        (!id.is_empty() && !id.contains('/')).then(|| Accelerator {
            arn: arn.to_string(),
            id: id.to_string(),
        })
    }
}

/// `arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID` → `app/NAME/ID`.
pub fn load_balancer_dimension(arn: &str) -> Option<String> {
    let full_name = arn.split_once(":loadbalancer/")?.1;
    let parts: Vec<&str> = full_name.split('/').collect();
    match parts.as_slice() {
        ["app", name, id] if !name.is_empty() && !id.is_empty() => Some(full_name.to_string()),
        _ => None,
    }
}

/// `arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID` → `targetgroup/NAME/ID`.
pub fn target_group_dimension(arn: &str) -> Option<String> {
    let rest = arn.split_once(":targetgroup/")?.1;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [name, id] if !name.is_empty() && !id.is_empty() => Some(format!("targetgroup/{rest}")),
        _ => None,
    }
}

/// The app stack of one region as deployed now, or `None` when there is no such stack.
pub async fn read_app_stack(
    cloudformation: &Client,
    app: &str,
    region: &str,
) -> Result<Option<StackResult>> {
    let stack_name = StackKind::App.stack_name(app);
    let stacks = match cloudformation
        .describe_stacks()
        .stack_name(&stack_name)
        .send()
        .await
    {
        Ok(response) => response,
        // CloudFormation says "Stack with id X does not exist" as a ValidationError.
        Err(error)
            if error_code(&error) == Some("ValidationError")
                && aws_sdk_cloudformation::error::ProvideErrorMetadata::message(&error)
                    .is_some_and(|message| message.contains("does not exist")) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(aws_error("DescribeStacks", region, &error)),
    };
    let Some(stack) = stacks.stacks().first() else {
        return Ok(None);
    };
    if stack
        .stack_status()
        .is_some_and(|status| status.as_str() == "DELETE_COMPLETE")
    {
        return Ok(None);
    }
    let resources = cloudformation
        .describe_stack_resources()
        .stack_name(&stack_name)
        .send()
        .await
        .map_err(|error| aws_error("DescribeStackResources", region, &error))?;
    let outputs = stack_outputs(stack);
    Ok(Some(StackResult {
        stack_name,
        region: region.to_string(),
        stack_id: stack.stack_id().unwrap_or_default().to_string(),
        status: stack
            .stack_status()
            .map(|status| status.as_str().to_string())
            .unwrap_or_default(),
        changed: false,
        outputs,
        resources: resources
            .stack_resources()
            .iter()
            .filter_map(PhysicalResource::from_stack_resource)
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_come_from_arns() {
        assert_eq!(
            load_balancer_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/demo/50dc6c495c0c9188"
            )
            .as_deref(),
            Some("app/demo/50dc6c495c0c9188")
        );
        assert_eq!(
            target_group_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/demo-mysfits/73e2d6bc24d8a067"
            )
            .as_deref(),
            Some("targetgroup/demo-mysfits/73e2d6bc24d8a067")
        );
        assert_eq!(
            load_balancer_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/demo/1"
            ),
            None
        );
        assert_eq!(load_balancer_dimension("demo"), None);
        assert_eq!(target_group_dimension("targetgroup/demo"), None);
        assert_eq!(
            Accelerator::from_arn(
                "arn:aws:globalaccelerator::123456789012:accelerator/1234abcd-abcd-1234-abcd-1234abcdefgh"
            )
            .map(|accelerator| accelerator.id),
            Some("1234abcd-abcd-1234-abcd-1234abcdefgh".to_string())
        );
        assert_eq!(
            Accelerator::from_arn("arn:aws:globalaccelerator::1:other/x"),
            None
        );
    }
}
