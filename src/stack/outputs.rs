//! What a deployed stack reports: its outputs and physical resources ([`StackResult`]), and the
//! same read once into typed values ([`AppOutputs`], [`RegistryOutputs`]) with the emulator
//! fallback in one place: where a stack reports no Outputs (moto, for a stack created by a change
//! set), the physical id of the resource an output names stands in for it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::app::{SERVICES, Service, template};
use crate::error::{Error, Result};

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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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

/// What the app stack of one region reports, read once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppOutputs {
    pub stack_name: String,
    pub region: String,
    pub load_balancer_arn: String,
    /// `http://<ALB DNS name>` when the stack reports it (no physical id stands in for it).
    pub url: Option<String>,
    pub dns_name: Option<String>,
    /// The ECS cluster's name.
    pub cluster: String,
    pub services: BTreeMap<&'static Service, ServiceOutputs>,
}

/// One bundled service in one region's app stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceOutputs {
    /// The ECS service's name.
    pub name: String,
    pub target_group_arn: String,
    pub log_group: String,
}

/// What the registry stack of one region reports: each service's repository, as a URI (from the
/// outputs) or a repository name (a physical id, when the stack reports no outputs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryOutputs {
    pub repositories: BTreeMap<&'static Service, String>,
}

impl StackResult {
    /// The app stack's outputs, typed; an error names the first value the stack lacks.
    pub fn app_outputs(&self) -> Result<AppOutputs> {
        AppOutputs::from_stack(self)
    }

    /// The registry stack's outputs, typed.
    pub fn registry_outputs(&self) -> Result<RegistryOutputs> {
        RegistryOutputs::from_stack(self)
    }

    fn required_output(&self, output: template::Output) -> Result<&str> {
        self.required(output.output, output.resource)
    }

    /// An output, or the physical id of `logical_id`; an error when the stack has neither.
    fn required(&self, output: &str, logical_id: &str) -> Result<&str> {
        self.value(output, logical_id).ok_or_else(|| {
            Error::config(
                format!(
                    "stack {} in {} has neither the output {output} nor the resource {logical_id}",
                    self.stack_name, self.region
                ),
                "the stack is not a complete mysfits stack: run `mysfits deploy`, then try again",
            )
        })
    }
}

impl AppOutputs {
    pub fn from_stack(stack: &StackResult) -> Result<AppOutputs> {
        let load_balancer_arn = stack
            .required_output(template::LOAD_BALANCER_ARN)?
            .to_string();
        let cluster = last_segment(stack.required_output(template::CLUSTER_NAME)?).to_string();
        let mut services = BTreeMap::new();
        for service in &SERVICES {
            services.insert(service, ServiceOutputs::from_stack(stack, service)?);
        }
        Ok(AppOutputs {
            stack_name: stack.stack_name.clone(),
            region: stack.region.clone(),
            load_balancer_arn,
            url: stack
                .outputs
                .get(template::LOAD_BALANCER_URL_OUTPUT)
                .cloned(),
            dns_name: stack
                .outputs
                .get(template::LOAD_BALANCER_DNS_NAME_OUTPUT)
                .cloned(),
            cluster,
            services,
        })
    }

    pub fn service(&self, service: &Service) -> Option<&ServiceOutputs> {
        self.services.get(service)
    }
}

impl ServiceOutputs {
    fn from_stack(stack: &StackResult, service: &Service) -> Result<ServiceOutputs> {
        Ok(ServiceOutputs {
            // The output is the name; the physical id is the service's ARN, ending in the name.
            name: last_segment(
                stack.required(service.service_name_output, service.service_resource)?,
            )
            .to_string(),
            target_group_arn: stack
                .required(
                    service.target_group_arn_output,
                    service.target_group_resource,
                )?
                .to_string(),
            log_group: stack
                .required(service.log_group_name_output, service.log_group_resource)?
                .to_string(),
        })
    }
}

impl RegistryOutputs {
    pub fn from_stack(stack: &StackResult) -> Result<RegistryOutputs> {
        let mut repositories = BTreeMap::new();
        for service in &SERVICES {
            let repository =
                stack.required(service.repository_uri_output, service.repository_resource)?;
            repositories.insert(service, repository.to_string());
        }
        Ok(RegistryOutputs { repositories })
    }

    /// The repository of `service`: a URI, or a name to look the URI up by.
    pub fn repository(&self, service: &Service) -> Option<&str> {
        self.repositories.get(service).map(String::as_str)
    }
}

/// The name at the end of an ARN (`.../service/cluster/name` → `name`), or the value itself.
fn last_segment(value: &str) -> &str {
    value.rsplit('/').next().unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(physical_id: &str) -> PhysicalResource {
        PhysicalResource {
            physical_id: physical_id.to_string(),
            resource_type: String::new(),
            status: "CREATE_COMPLETE".to_string(),
        }
    }

    fn app_stack(outputs: &[(&str, &str)], resources: &[(&str, &str)]) -> StackResult {
        StackResult {
            stack_name: "demo-app".into(),
            region: "eu-west-1".into(),
            stack_id: "id".into(),
            status: "CREATE_COMPLETE".into(),
            changed: true,
            outputs: outputs
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            resources: resources
                .iter()
                .map(|(key, value)| (key.to_string(), resource(value)))
                .collect(),
        }
    }

    #[test]
    fn without_outputs_the_physical_ids_stand_in_and_arns_give_names() {
        let mut resources = vec![
            (
                "LoadBalancer",
                "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/demo/abc",
            ),
            ("Cluster", "demo"),
        ];
        let physical: Vec<(String, String)> = SERVICES
            .iter()
            .flat_map(|service| {
                [
                    (
                        service.service_resource.to_string(),
                        format!("arn:aws:ecs:eu-west-1:1:service/demo/demo-{}", service.name),
                    ),
                    (
                        service.target_group_resource.to_string(),
                        format!(
                            "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/{}/1",
                            service.id
                        ),
                    ),
                    (
                        service.log_group_resource.to_string(),
                        format!("/ecs/demo/{}", service.name),
                    ),
                ]
            })
            .collect();
        resources.extend(
            physical
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        );
        let outputs = app_stack(&[], &resources).app_outputs().expect("complete");
        assert_eq!(outputs.cluster, "demo");
        assert_eq!(outputs.url, None);
        let like = outputs.service(&SERVICES[1]).expect("like");
        assert_eq!(like.name, "demo-like-service");
        assert_eq!(like.log_group, "/ecs/demo/like-service");
    }

    #[test]
    fn outputs_win_and_a_missing_value_is_named() {
        let error = app_stack(&[("LoadBalancerArn", "arn")], &[])
            .app_outputs()
            .expect_err("incomplete");
        assert!(
            error
                .to_string()
                .contains("neither the output ClusterName nor the resource Cluster"),
            "{error}"
        );
        let registry = app_stack(
            &[
                (
                    "MysfitsRepositoryUri",
                    "1.dkr.ecr.eu-west-1.amazonaws.com/demo/mysfits-service",
                ),
                (
                    "LikeRepositoryUri",
                    "1.dkr.ecr.eu-west-1.amazonaws.com/demo/like-service",
                ),
            ],
            &[("MysfitsRepository", "demo/mysfits-service")],
        )
        .registry_outputs()
        .expect("registry");
        assert_eq!(
            registry.repository(&SERVICES[0]),
            Some("1.dkr.ecr.eu-west-1.amazonaws.com/demo/mysfits-service")
        );
    }
}
