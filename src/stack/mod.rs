//! The app's CloudFormation stacks: names, the templates embedded in the binary, their parameters,
//! and the change-set deploy ([`deploy`]) with its event stream ([`events`]), typed outputs
//! ([`outputs`]) and failure extraction ([`failures`]). Waits use the one poller, [`crate::wait`].

pub mod capacity;
pub mod data;
pub mod deploy;
pub mod events;
pub mod failures;
pub mod outputs;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::app::template::parameter;
use crate::app::{SERVICES, Service};
use crate::config::{Config, RegionSettings};
use capacity::RunningCapacity;

/// The stacks the app has in each region, in creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StackKind {
    /// ECR repositories: created first, because images are pushed before the services exist.
    Registry,
    /// Network, load balancer, ECS services and IAM.
    App,
    /// The catalogue table (home region only, like [`StackKind::Recovery`], so not in
    /// [`StackKind::ALL`]): its own stack, made at the start of a deploy, so that the replicas
    /// are added while the app stacks build instead of after the home one.
    Data,
    /// Auto failover's CloudWatch alarms (every region, when enabled).
    Alarms,
    /// Auto failover's ARC Region switch plan (home region only, when enabled). Neither it nor
    /// [`StackKind::Alarms`] is in [`StackKind::ALL`], which lists the stacks every app has.
    Recovery,
}

impl StackKind {
    pub const ALL: [StackKind; 2] = [StackKind::Registry, StackKind::App];

    pub fn label(self) -> &'static str {
        match self {
            StackKind::Registry => "registry",
            StackKind::App => "app",
            StackKind::Data => "data",
            StackKind::Alarms => "alarms",
            StackKind::Recovery => "recovery",
        }
    }

    /// The template, embedded at compile time so the binary needs no files next to it.
    pub fn template(self) -> &'static str {
        match self {
            StackKind::Registry => include_str!("../../templates/registry.yaml"),
            StackKind::App => include_str!("../../templates/app.yaml"),
            StackKind::Data => include_str!("../../templates/data.yaml"),
            StackKind::Alarms => include_str!("../../templates/alarms.yaml"),
            StackKind::Recovery => include_str!("../../templates/recovery.yaml"),
        }
    }

    pub fn stack_name(self, app: &str) -> String {
        crate::app::names::stack(app, self.label())
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

/// Image references (by digest) the app stack runs, one for every bundled service: built only
/// through [`ServiceImages::from_fn`] / [`ServiceImages::try_from_fn`], so none is ever missing.
/// Serialized as `{"mysfits": "...", "like": "..."}` (keyed by service id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ServiceImages(BTreeMap<&'static Service, String>);

impl ServiceImages {
    /// The image of every service in [`SERVICES`], from `image_of`.
    pub fn from_fn(mut image_of: impl FnMut(&'static Service) -> String) -> ServiceImages {
        ServiceImages(
            SERVICES
                .iter()
                .map(|service| (service, image_of(service)))
                .collect(),
        )
    }

    /// As [`ServiceImages::from_fn`], failing with the first error of `image_of`.
    pub fn try_from_fn<E>(
        mut image_of: impl FnMut(&'static Service) -> std::result::Result<String, E>,
    ) -> std::result::Result<ServiceImages, E> {
        let mut images = BTreeMap::new();
        for service in &SERVICES {
            images.insert(service, image_of(service)?);
        }
        Ok(ServiceImages(images))
    }

    /// The image of `service` (every bundled service has one).
    pub fn get(&self, service: &Service) -> &str {
        self.0.get(service).map(String::as_str).unwrap_or_default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static Service, &str)> {
        self.0
            .iter()
            .map(|(service, image)| (*service, image.as_str()))
    }
}

/// The registry stack's request for one region.
pub fn registry_request(config: &Config, region: &RegionSettings) -> StackRequest {
    request(
        config,
        region,
        StackKind::Registry,
        BTreeMap::from([(parameter::APP_NAME.to_string(), config.app.clone())]),
    )
}

/// The data stack's request (the catalogue table), in the home region.
pub fn data_request(config: &Config) -> StackRequest {
    request(
        config,
        config.home(),
        StackKind::Data,
        BTreeMap::from([
            (parameter::APP_NAME.to_string(), config.app.clone()),
            (parameter::TABLE_NAME.to_string(), config.table_name()),
        ]),
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

/// The app stack's request for one region: the same template in every region. The services' counts are the configured ones raised to what `running`
/// says the region runs now ([`capacity`]): a deploy never lowers a region's capacity.
pub fn app_request_with(
    config: &Config,
    region: &RegionSettings,
    images: &ServiceImages,
    running: &RunningCapacity,
) -> StackRequest {
    let mut parameters = BTreeMap::from([
        (parameter::APP_NAME.to_string(), config.app.clone()),
        (parameter::TABLE_NAME.to_string(), config.table_name()),
        // mysfits-service's write region until `deploy` has seeded the control item.
        (
            parameter::HOME_REGION.to_string(),
            config.home().name.clone(),
        ),
        (
            parameter::DESIRED_COUNT.to_string(),
            region.desired_count.to_string(),
        ),
        (
            parameter::MAX_COUNT.to_string(),
            running.max_count(region).to_string(),
        ),
        (
            parameter::TRACING_ENABLED.to_string(),
            config.tracing.enabled.to_string(),
        ),
        (
            parameter::TRACE_SAMPLE_RATIO.to_string(),
            config.tracing.sample_ratio_parameter(),
        ),
    ]);
    for service in &SERVICES {
        parameters.insert(
            service.image_parameter.to_string(),
            images.get(service).to_string(),
        );
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
        parameters.insert(parameter::AVAILABILITY_ZONE_1.to_string(), first.clone());
        parameters.insert(parameter::AVAILABILITY_ZONE_2.to_string(), second.clone());
    }
    if let Some(certificate) = &region.certificate_arn {
        parameters.insert(parameter::CERTIFICATE_ARN.to_string(), certificate.clone());
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
            // Existing stacks carry primary/secondary: home is primary, every other region secondary.
            (
                "mysfits:role".to_string(),
                crate::app::region::standing(region.home).to_string(),
            ),
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
