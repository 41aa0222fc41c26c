//! Modeled CloudFormation answers shared by the mock-based tests: the registry stack `demo-registry`
//! as deploy asks for it and as DescribeStacks and DescribeStackEvents report it.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::types::{
    Output, Parameter, ResourceStatus, Stack, StackEvent, StackStatus, Tag,
};
use aws_smithy_types::DateTime;
use mysfits::stack::{StackKind, StackRequest};

pub const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo-registry/1";

/// Deploy's request for the registry stack of app `demo`.
pub fn request() -> StackRequest {
    StackRequest {
        kind: StackKind::Registry,
        stack_name: "demo-registry".into(),
        region: "us-east-1".into(),
        parameters: BTreeMap::from([("AppName".to_string(), "demo".to_string())]),
        tags: BTreeMap::from([("mysfits:app".to_string(), "demo".to_string())]),
    }
}

/// The stack in `status`, with the parameters and tags of [`request`] and one output.
pub fn stack(status: StackStatus) -> DescribeStacksOutput {
    DescribeStacksOutput::builder()
        .stacks(
            Stack::builder()
                .stack_name("demo-registry")
                .stack_id(STACK_ID)
                .creation_time(DateTime::from_secs(0))
                .stack_status(status)
                .parameters(
                    Parameter::builder()
                        .parameter_key("AppName")
                        .parameter_value("demo")
                        .build(),
                )
                .tags(Tag::builder().key("mysfits:app").value("demo").build())
                .outputs(
                    Output::builder()
                        .output_key("MysfitsRepositoryName")
                        .output_value("demo/mysfits-service")
                        .build(),
                )
                .build(),
        )
        .build()
}

/// An event of the stack itself (logical id `demo-registry`) or of its repository.
pub fn stack_event(id: &str, logical_id: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    StackEvent::builder()
        .event_id(id)
        .stack_id(STACK_ID)
        .stack_name("demo-registry")
        .logical_resource_id(logical_id)
        .resource_type(if logical_id == "demo-registry" {
            "AWS::CloudFormation::Stack"
        } else {
            "AWS::ECR::Repository"
        })
        .resource_status(status)
        .resource_status_reason(reason)
        .timestamp(DateTime::from_secs(1))
        .build()
}
