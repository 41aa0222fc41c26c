//! Every resource name mysfits builds from the app's name, in one place, so that deploy, status,
//! failover, teardown and the dashboard always agree with each other and with the templates.
//!
//! The templates build the same names (`!Sub "${AppName}-..."`); tests/it/app_model.rs checks that
//! both spell them alike.

use super::services::Service;

/// The DynamoDB table (and its replicas) that holds the catalogue.
pub fn table(app: &str) -> String {
    format!("{app}-mysfits")
}

/// The ECS cluster: the app template names it after the app.
pub fn cluster(app: &str) -> String {
    app.to_string()
}

/// The ECS service of one bundled service (`${AppName}-mysfits-service`).
pub fn ecs_service(app: &str, service: &Service) -> String {
    format!("{app}-{}", service.name)
}

/// The ECR repository of one bundled service in every region (`{app}/mysfits-service`).
pub fn repository(app: &str, service: &Service) -> String {
    format!("{app}/{}", service.name)
}

/// The log group a service's containers write to (`/ecs/{app}/mysfits-service`).
pub fn log_group(app: &str, service: &Service) -> String {
    format!("{}{}", log_group_prefix(app), service.name)
}

/// The prefix every service log group of the app starts with.
pub fn log_group_prefix(app: &str) -> String {
    format!("/ecs/{app}/")
}

/// The one multi-region dashboard (in the home region): the app's name, so that several apps in
/// one account do not collide.
pub fn dashboard(app: &str) -> String {
    app.to_string()
}

/// The private DNS namespace (Cloud Map) the services find each other in.
pub fn service_namespace(app: &str) -> String {
    format!("{app}.internal")
}

/// A CloudFormation stack of the app (`{app}-registry`, `{app}-app`).
pub fn stack(app: &str, kind_label: &str) -> String {
    format!("{app}-{kind_label}")
}

/// Application Auto Scaling's resource id of an ECS service (`service/{cluster}/{service}`).
pub fn scalable_target(cluster: &str, ecs_service: &str) -> String {
    format!("service/{cluster}/{ecs_service}")
}

/// The on-demand backup teardown takes before deleting the table (`{app}-teardown-{stamp}`).
pub fn table_backup(app: &str, unix_seconds: u64) -> String {
    format!("{app}-teardown-{unix_seconds}")
}

/// Route 53 mode: the set identifier of one region's failover record.
pub fn record_set_identifier(app: &str, region: &str) -> String {
    format!("{app}-{region}")
}

/// What each of the app's X-Ray groups collects (one per kind in every region, with tracing on):
/// X-Ray publishes each group's trace count to CloudWatch, which the dashboard graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceGroup {
    /// Every trace through the two services.
    Traces,
    /// Traces with a fault (a 5xx) in either service.
    Faults,
    /// Traces where a service took longer than half a second.
    Slow,
}

impl TraceGroup {
    pub const ALL: [TraceGroup; 3] = [TraceGroup::Traces, TraceGroup::Faults, TraceGroup::Slow];

    /// How graphs and `dashboard show` name the group's count.
    pub fn label(self) -> &'static str {
        match self {
            TraceGroup::Traces => "traced requests",
            TraceGroup::Faults => "traced faults",
            TraceGroup::Slow => "traced slow (> 0.5 s)",
        }
    }

    /// The suffix of the group's name.
    pub fn suffix(self) -> &'static str {
        match self {
            TraceGroup::Traces => "traces",
            TraceGroup::Faults => "faults",
            TraceGroup::Slow => "slow",
        }
    }
}

/// An X-Ray group of the app (`{app}-traces`, `{app}-faults`, `{app}-slow`).
pub fn trace_group(app: &str, group: TraceGroup) -> String {
    format!("{app}-{}", group.suffix())
}

/// The managed policies `mysfits iam-policy` prints, numbered from 1.
pub fn operator_policy(app: &str, number: usize) -> String {
    format!("{app}-operator-{number}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::services::SERVICES;

    #[test]
    fn names_are_built_from_the_app_name() {
        let [mysfits, like] = &SERVICES;
        assert_eq!(table("demo"), "demo-mysfits");
        assert_eq!(ecs_service("demo", like), "demo-like-service");
        assert_eq!(repository("demo", mysfits), "demo/mysfits-service");
        assert_eq!(log_group("demo", mysfits), "/ecs/demo/mysfits-service");
        assert!(log_group("demo", like).starts_with(&log_group_prefix("demo")));
        assert_eq!(record_set_identifier("demo", "us-east-1"), "demo-us-east-1");
        assert_eq!(stack("demo", "app"), "demo-app");
        assert_eq!(
            scalable_target(&cluster("demo"), &ecs_service("demo", mysfits)),
            "service/demo/demo-mysfits-service"
        );
        assert_eq!(table_backup("demo", 7), "demo-teardown-7");
        assert_eq!(trace_group("demo", TraceGroup::Faults), "demo-faults");
    }
}
