//! The app's CloudFormation stacks: names, the templates embedded in the binary, their parameters,
//! and the change-set deploy with its event stream ([`deploy`]).

pub mod capacity;
pub mod deploy;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::app::SERVICES;
use crate::config::{Config, RegionSettings, Role};
use capacity::RunningCapacity;

/// The stacks the app has in each region, in creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StackKind {
    /// ECR repositories: created first, because images are pushed before the services exist.
    Registry,
    /// Network, load balancer, ECS services, table (primary) and IAM.
    App,
}

impl StackKind {
    pub const ALL: [StackKind; 2] = [StackKind::Registry, StackKind::App];

    pub fn label(self) -> &'static str {
        match self {
            StackKind::Registry => "registry",
            StackKind::App => "app",
        }
    }

    /// The template, embedded at compile time so the binary needs no files next to it.
    pub fn template(self) -> &'static str {
        match self {
            StackKind::Registry => include_str!("../../templates/registry.yaml"),
            StackKind::App => include_str!("../../templates/app.yaml"),
        }
    }

    pub fn stack_name(self, app: &str) -> String {
        format!("{app}-{}", self.label())
    }
}

/// Everything needed to create or update one stack in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackRequest {
    pub kind: StackKind,
    pub stack_name: String,
    pub region: String,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

/// Image references (by digest) the app stack runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceImages {
    pub mysfits: String,
    pub like: String,
}

/// The registry stack's request for one region.
pub fn registry_request(config: &Config, region: &RegionSettings) -> StackRequest {
    request(
        config,
        region,
        StackKind::Registry,
        BTreeMap::from([("AppName".to_string(), config.app.clone())]),
    )
}

/// The app stack's request for one region with the configured counts only (no region state
/// known: before the first deploy, and for golden files).
pub fn app_request(
    config: &Config,
    region: &RegionSettings,
    images: &ServiceImages,
) -> StackRequest {
    app_request_with(config, region, images, &RunningCapacity::default())
}

/// The app stack's request for one region: the same template in both regions, told apart by
/// `IsSecondary` only. The services' counts are the configured ones raised to what `running`
/// says the region runs now ([`capacity`]): a deploy never lowers a region's capacity.
pub fn app_request_with(
    config: &Config,
    region: &RegionSettings,
    images: &ServiceImages,
    running: &RunningCapacity,
) -> StackRequest {
    let mut parameters = BTreeMap::from([
        ("AppName".to_string(), config.app.clone()),
        (
            "IsSecondary".to_string(),
            (region.role == Role::Secondary).to_string(),
        ),
        ("TableName".to_string(), config.table_name()),
        ("MysfitsImage".to_string(), images.mysfits.clone()),
        ("LikeImage".to_string(), images.like.clone()),
        ("DesiredCount".to_string(), region.desired_count.to_string()),
        (
            "MaxCount".to_string(),
            running.max_count(region).to_string(),
        ),
    ]);
    for service in &SERVICES {
        let counts = running.counts(service, region);
        parameters.insert(
            service.desired_count_parameter.to_string(),
            counts.desired.to_string(),
        );
        parameters.insert(
            service.min_capacity_parameter.to_string(),
            counts.min_capacity.to_string(),
        );
    }
    if let Some([first, second]) = &region.availability_zones {
        parameters.insert("AvailabilityZone1".to_string(), first.clone());
        parameters.insert("AvailabilityZone2".to_string(), second.clone());
    }
    if let Some(certificate) = &region.certificate_arn {
        parameters.insert("CertificateArn".to_string(), certificate.clone());
    }
    request(config, region, StackKind::App, parameters)
}

fn request(
    config: &Config,
    region: &RegionSettings,
    kind: StackKind,
    parameters: BTreeMap<String, String>,
) -> StackRequest {
    let (tag_key, tag_value) = config.app_tag();
    StackRequest {
        kind,
        stack_name: kind.stack_name(&config.app),
        region: region.name.clone(),
        parameters,
        tags: BTreeMap::from([
            (tag_key.to_string(), tag_value.to_string()),
            ("mysfits:role".to_string(), region.role.to_string()),
        ]),
    }
}

/// Human descriptions of a template's resources, from each resource's `Metadata.Description`,
/// for the progress view.
pub fn resource_descriptions(kind: StackKind) -> BTreeMap<String, String> {
    let Ok(template) = serde_yaml::from_str::<serde_yaml::Value>(kind.template()) else {
        return BTreeMap::new();
    };
    let Some(resources) = template
        .get("Resources")
        .and_then(|value| value.as_mapping())
    else {
        return BTreeMap::new();
    };
    resources
        .iter()
        .filter_map(|(logical_id, resource)| {
            let description = resource.get("Metadata")?.get("Description")?.as_str()?;
            Some((logical_id.as_str()?.to_string(), description.to_string()))
        })
        .collect()
}

/// The parameter names a template declares: a request may only use these.
pub fn declared_parameters(kind: StackKind) -> Vec<String> {
    serde_yaml::from_str::<serde_yaml::Value>(kind.template())
        .ok()
        .and_then(|template| {
            template
                .get("Parameters")
                .and_then(|value| value.as_mapping())
                .map(|parameters| {
                    parameters
                        .keys()
                        .filter_map(|key| key.as_str().map(str::to_string))
                        .collect()
                })
        })
        .unwrap_or_default()
}
