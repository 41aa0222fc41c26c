//! like-service's settings, from the environment the task definition sets.

use std::time::Duration;

use service_common::env::{ConfigError, Env};
use service_common::telemetry::TracingSettings;

/// Default limit on one attempt of the upstream call.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_millis(2000);

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`): reported in `x-mysfits-region`.
    pub region: String,
    /// `MYSFITS_SERVICE_URL`: the base URL of mysfits-service's internal port (no trailing `/`),
    /// in AWS `http://mysfits-service.<app>.internal:8081` (service discovery in the VPC).
    pub mysfits_service_url: String,
    /// `MYSFITS_SERVICE_TIMEOUT_MS`: limit on one upstream attempt (default 2000).
    pub upstream_timeout: Duration,
    /// `PORT`, default 8080.
    pub port: u16,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` and `MYSFITS_TRACE_SAMPLE_RATIO`: trace export, off when
    /// the endpoint is unset.
    pub tracing: TracingSettings,
}

impl Settings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Settings, ConfigError> {
        let mysfits_service_url = env.url("MYSFITS_SERVICE_URL")?.ok_or_else(|| ConfigError {
            variable: "MYSFITS_SERVICE_URL",
            problem: "is not set".into(),
            fix: "set MYSFITS_SERVICE_URL to mysfits-service's internal port (INTERNAL_PORT), e.g. http://mysfits-service.mysfits.internal:8081".into(),
        })?;
        Ok(Settings {
            region: env.region()?,
            mysfits_service_url,
            upstream_timeout: env.milliseconds(
                "MYSFITS_SERVICE_TIMEOUT_MS",
                DEFAULT_UPSTREAM_TIMEOUT.as_millis() as u64,
            )?,
            port: env.port()?,
            tracing: TracingSettings::from_env(env)?,
        })
    }
}
