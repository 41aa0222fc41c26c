//! The bundled services as data: one entry per service, with every name the templates, the image
//! build, status, failover, teardown and the dashboard use for it.
//!
//! Adding a service is one entry here plus its section in templates/registry.yaml and
//! templates/app.yaml; tests/it/app_model.rs checks every entry against both templates.

use std::cmp::Ordering;
use std::fmt;

use serde::{Serialize, Serializer};

/// One bundled service. Compared, ordered and serialized by its short `id`.
#[derive(Debug)]
pub struct Service {
    /// Short id in JSON output and `logs --service` aliases (e.g. `mysfits`).
    pub id: &'static str,
    /// The binary, the image's entrypoint, the ECR repository suffix and the ECS service suffix.
    pub name: &'static str,
    /// The port the load balancer's target group sends to.
    pub port: u16,
    /// The liveness route of the load balancer's health check (no dependency behind it).
    pub health_path: &'static str,
    /// Registry stack: the repository's logical id and its URI output.
    pub repository_resource: &'static str,
    pub repository_uri_output: &'static str,
    /// App stack: parameters that carry this service's image and task counts.
    pub image_parameter: &'static str,
    pub desired_count_parameter: &'static str,
    pub min_capacity_parameter: &'static str,
    /// App stack: logical ids.
    pub service_resource: &'static str,
    pub target_group_resource: &'static str,
    pub log_group_resource: &'static str,
    pub scalable_target_resource: &'static str,
    /// App stack: outputs.
    pub service_name_output: &'static str,
    pub target_group_arn_output: &'static str,
    pub log_group_name_output: &'static str,
}

/// The services that become images and ECS services, in a fixed order (images, status rows,
/// dashboard widgets follow it).
pub static SERVICES: [Service; 2] = [
    Service {
        id: "mysfits",
        name: "mysfits-service",
        port: 8080,
        health_path: "/health",
        repository_resource: "MysfitsRepository",
        repository_uri_output: "MysfitsRepositoryUri",
        image_parameter: "MysfitsImage",
        desired_count_parameter: "MysfitsDesiredCount",
        min_capacity_parameter: "MysfitsMinCapacity",
        service_resource: "MysfitsService",
        target_group_resource: "MysfitsTargetGroup",
        log_group_resource: "MysfitsLogGroup",
        scalable_target_resource: "MysfitsScalableTarget",
        service_name_output: "MysfitsServiceName",
        target_group_arn_output: "MysfitsTargetGroupArn",
        log_group_name_output: "MysfitsLogGroupName",
    },
    Service {
        id: "like",
        name: "like-service",
        port: 8080,
        health_path: "/health",
        repository_resource: "LikeRepository",
        repository_uri_output: "LikeRepositoryUri",
        image_parameter: "LikeImage",
        desired_count_parameter: "LikeDesiredCount",
        min_capacity_parameter: "LikeMinCapacity",
        service_resource: "LikeService",
        target_group_resource: "LikeTargetGroup",
        log_group_resource: "LikeLogGroup",
        scalable_target_resource: "LikeScalableTarget",
        service_name_output: "LikeServiceName",
        target_group_arn_output: "LikeTargetGroupArn",
        log_group_name_output: "LikeLogGroupName",
    },
];

/// Every bundled service, in table order.
pub fn all() -> impl DoubleEndedIterator<Item = &'static Service> + Clone {
    SERVICES.iter()
}

/// The service with this binary name (`mysfits-service`) or short id (`mysfits`).
pub fn named(name: &str) -> Option<&'static Service> {
    SERVICES
        .iter()
        .find(|service| service.name == name || service.id == name)
}

/// The service names as a list for messages ("mysfits-service, like-service").
pub fn name_list() -> String {
    SERVICES
        .iter()
        .map(|service| service.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl PartialEq for Service {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Service {}

impl PartialOrd for Service {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Table order, so maps keyed by service list them as the table does.
impl Ord for Service {
    fn cmp(&self, other: &Self) -> Ordering {
        let position = |service: &Service| SERVICES.iter().position(|entry| entry == service);
        position(self)
            .cmp(&position(other))
            .then(self.id.cmp(other.id))
    }
}

impl std::hash::Hash for Service {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl Serialize for Service {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_found_both_ways() {
        for service in all() {
            assert_eq!(named(service.name), Some(service));
            assert_eq!(named(service.id), Some(service));
            assert_eq!(all().filter(|other| other.id == service.id).count(), 1);
            assert_eq!(all().filter(|other| other.name == service.name).count(), 1);
        }
        assert_eq!(named("nosuch-service"), None);
        assert_eq!(name_list(), "mysfits-service, like-service");
        let mut sorted: Vec<&Service> = all().rev().collect();
        sorted.sort();
        assert_eq!(sorted, all().collect::<Vec<_>>(), "ordered as in the table");
    }
}
