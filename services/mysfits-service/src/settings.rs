//! mysfits-service's settings, from the environment the task definition sets.

use service_common::env::{ConfigError, Env};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `DDB_TABLE_NAME`: the catalogue table (`{app}-mysfits`).
    pub table: String,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: String,
    /// `AWS_ENDPOINT_URL`: send DynamoDB calls here instead of AWS (an emulator).
    pub endpoint_url: Option<String>,
    /// `PORT`, default 8080.
    pub port: u16,
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
        Ok(Settings {
            table,
            region: env.region()?,
            endpoint_url: env.url("AWS_ENDPOINT_URL")?,
            port: env.port()?,
        })
    }
}
