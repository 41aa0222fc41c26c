//! The app stack's names that belong to no single service (those are in [`super::SERVICES`]):
//! its parameters, and the outputs and logical ids of the load balancer and cluster. The
//! only place Rust spells them; tests/it/app_model.rs checks each against templates/app.yaml.

/// Parameters of templates/app.yaml (the registry template takes [`APP_NAME`] only).
pub mod parameter {
    pub const APP_NAME: &str = "AppName";
    pub const TABLE_NAME: &str = "TableName";
    /// The write region before the table has a write-region control item (the home region).
    pub const HOME_REGION: &str = "HomeRegion";
    pub const DESIRED_COUNT: &str = "DesiredCount";
    pub const MAX_COUNT: &str = "MaxCount";
    pub const AVAILABILITY_ZONE_1: &str = "AvailabilityZone1";
    pub const AVAILABILITY_ZONE_2: &str = "AvailabilityZone2";
    pub const CERTIFICATE_ARN: &str = "CertificateArn";
    /// `true`: the collector sidecar in every task (`tracing.enabled`).
    pub const TRACING_ENABLED: &str = "TracingEnabled";
    pub const TRACE_SAMPLE_RATIO: &str = "TraceSampleRatio";

    pub const ALL: [&str; 10] = [
        APP_NAME,
        TABLE_NAME,
        HOME_REGION,
        DESIRED_COUNT,
        MAX_COUNT,
        AVAILABILITY_ZONE_1,
        AVAILABILITY_ZONE_2,
        CERTIFICATE_ARN,
        TRACING_ENABLED,
        TRACE_SAMPLE_RATIO,
    ];
}

/// An output of the app stack and the resource whose physical id stands in for it where a stack
/// reports no outputs (moto, for stacks created by change sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    pub output: &'static str,
    pub resource: &'static str,
}

pub const LOAD_BALANCER_ARN: Output = Output {
    output: "LoadBalancerArn",
    resource: "LoadBalancer",
};
pub const CLUSTER_NAME: Output = Output {
    output: "ClusterName",
    resource: "Cluster",
};
/// The catalogue table's logical id: in the data stack (templates/data.yaml), and in the home
/// app stack of a deployment made before data stacks existed (deploy moves it, see
/// `crate::stack::data`).
pub const TABLE_RESOURCE: &str = "Table";

/// Outputs no physical id stands in for.
pub const LOAD_BALANCER_URL_OUTPUT: &str = "LoadBalancerUrl";
pub const LOAD_BALANCER_DNS_NAME_OUTPUT: &str = "LoadBalancerDnsName";

pub const OUTPUTS: [Output; 2] = [LOAD_BALANCER_ARN, CLUSTER_NAME];
