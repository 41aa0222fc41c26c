//! mysfits-service's settings, from the environment the task definition sets.

use service_common::env::{ConfigError, Env};
use service_common::telemetry::TracingSettings;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `DDB_TABLE_NAME`: the catalogue table (`{app}-mysfits`).
    pub table: String,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: String,
    /// `AWS_ENDPOINT_URL`: send DynamoDB calls here instead of AWS (an emulator).
    pub endpoint_url: Option<String>,
    /// `PORT`, default 8080: the public API, behind the load balancer.
    pub port: u16,
    /// `INTERNAL_PORT`, default 8081: fulfill-like, for the like service only (the security group
    /// opens it to the service tasks; no load balancer forwards to it).
    pub internal_port: u16,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` and `MYSFITS_TRACE_SAMPLE_RATIO`: trace export, off when
    /// the endpoint is unset.
    pub tracing: TracingSettings,
}

impl Settings {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Settings, ConfigError> {
        let table = env.required(
            "DDB_TABLE_NAME",
            "set DDB_TABLE_NAME to the catalogue table, e.g. DDB_TABLE_NAME=mysfits-mysfits",
        )?;
        let well_formed = (3..=255).contains(&table.len())
            && table
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "_.-".contains(character));
        if !well_formed {
            return Err(ConfigError {
                variable: "DDB_TABLE_NAME",
                problem: format!("is {table:?}, which is not a DynamoDB table name"),
                fix: "use 3 to 255 letters, digits, '_', '-' or '.'".into(),
            });
        }
        let port = env.port()?;
        let internal_port = env.port_named("INTERNAL_PORT", 8081)?;
        if internal_port == port {
            return Err(ConfigError {
                variable: "INTERNAL_PORT",
                problem: format!("is {internal_port}, the same as PORT"),
                fix: "give INTERNAL_PORT (fulfill-like, internal) and PORT (public API) different ports, e.g. 8081 and 8080".into(),
            });
        }
        Ok(Settings {
            table,
            region: env.region()?,
            endpoint_url: env.url("AWS_ENDPOINT_URL")?,
            port,
            internal_port,
            tracing: TracingSettings::from_env(env)?,
        })
    }
}
