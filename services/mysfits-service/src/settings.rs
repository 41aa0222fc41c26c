//! mysfits-service's settings, from the environment the task definition sets.

use service_common::env::{ConfigError, Env};
use service_common::telemetry::TracingSettings;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `DDB_TABLE_NAME`: the catalogue table (`{app}-mysfits`).
    pub table: String,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: String,
    /// `MYSFITS_HOME_REGION`, default the local region: where writes go while the table has no
    /// write-region control item yet (the deploy seeds one naming this region).
    pub home_region: String,
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
    /// `CATALOGUE_CACHE_MS`, default 1000, 0 to 60000: how long a `GET /mysfits` answer is kept
    /// (0: never); writes through this task drop it at once.
    pub list_cache: std::time::Duration,
}

/// The default time a list answer is kept, and the most `CATALOGUE_CACHE_MS` may ask for.
pub const LIST_CACHE_DEFAULT_MS: u64 = 1_000;
pub const LIST_CACHE_MAX_MS: u64 = 60_000;

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
        let region = env.region()?;
        let home_region = match env.optional("MYSFITS_HOME_REGION") {
            None => region.clone(),
            Some(home) => {
                let home = home.trim().to_string();
                let well_formed = !home.is_empty()
                    && home.len() <= 32
                    && home.chars().all(|character| {
                        character.is_ascii_lowercase()
                            || character.is_ascii_digit()
                            || character == '-'
                    });
                if !well_formed {
                    return Err(ConfigError {
                        variable: "MYSFITS_HOME_REGION",
                        problem: format!("is {home:?}, which is not an AWS region name"),
                        fix: "set it to the region that takes writes first, e.g. MYSFITS_HOME_REGION=us-east-1, or unset it".into(),
                    });
                }
                home
            }
        };
        Ok(Settings {
            table,
            home_region,
            region,
            endpoint_url: env.url("AWS_ENDPOINT_URL")?,
            port,
            internal_port,
            tracing: TracingSettings::from_env(env)?,
            list_cache: list_cache(env)?,
        })
    }
}

fn list_cache<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<std::time::Duration, ConfigError> {
    let Some(text) = env.optional("CATALOGUE_CACHE_MS") else {
        return Ok(std::time::Duration::from_millis(LIST_CACHE_DEFAULT_MS));
    };
    match text.trim().parse::<u64>() {
        Ok(milliseconds) if milliseconds <= LIST_CACHE_MAX_MS => {
            Ok(std::time::Duration::from_millis(milliseconds))
        }
        _ => Err(ConfigError {
            variable: "CATALOGUE_CACHE_MS",
            problem: format!(
                "is {text:?}, not a number of milliseconds from 0 to {LIST_CACHE_MAX_MS}"
            ),
            fix: format!(
                "set CATALOGUE_CACHE_MS to e.g. {LIST_CACHE_DEFAULT_MS} (0 keeps no list answers), or unset it"
            ),
        }),
    }
}
