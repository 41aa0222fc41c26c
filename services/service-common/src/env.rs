//! Settings from environment variables, read once at start-up. A bad value stops the service
//! before it listens, with a message naming the variable and what to set it to: a task that
//! cannot work should fail its deployment, not its first request.

use std::fmt;

/// A setting that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "bad environment: {} {}\nfix: {}",
            self.variable, self.problem, self.fix
        )
    }
}

impl std::error::Error for ConfigError {}

/// Environment lookups over any source (the process environment, or a map in tests).
pub struct Env<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

/// The process environment.
pub fn process_env() -> Env<impl Fn(&str) -> Option<String>> {
    Env::new(|name| std::env::var(name).ok())
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn new(lookup: F) -> Env<F> {
        Env { lookup }
    }

    /// The value, with surrounding blanks removed; blank counts as unset.
    pub fn optional(&self, variable: &str) -> Option<String> {
        (self.lookup)(variable)
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
    }

    pub fn required(&self, variable: &'static str, fix: &str) -> Result<String, ConfigError> {
        self.optional(variable).ok_or_else(|| ConfigError {
            variable,
            problem: "is not set".into(),
            fix: fix.into(),
        })
    }

    /// `AWS_REGION`, or the older `AWS_DEFAULT_REGION`: the region the service reports in its
    /// `x-mysfits-region` header and talks to.
    pub fn region(&self) -> Result<String, ConfigError> {
        let region = self
            .optional("AWS_REGION")
            .or_else(|| self.optional("AWS_DEFAULT_REGION"))
            .ok_or_else(|| ConfigError {
                variable: "AWS_REGION",
                problem: "is not set (nor AWS_DEFAULT_REGION)".into(),
                fix: "set AWS_REGION to the region this task runs in, e.g. AWS_REGION=us-east-1"
                    .into(),
            })?;
        let well_formed = region.chars().all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-'
        }) && region.contains('-');
        if !well_formed {
            return Err(ConfigError {
                variable: "AWS_REGION",
                problem: format!("is {region:?}, which is not a region name"),
                fix: "set AWS_REGION to a region name such as us-east-1".into(),
            });
        }
        Ok(region)
    }

    /// `PORT`, default 8080.
    pub fn port(&self) -> Result<u16, ConfigError> {
        self.port_named("PORT", 8080)
    }

    /// A TCP port from `variable`, `default` when unset.
    pub fn port_named(&self, variable: &'static str, default: u16) -> Result<u16, ConfigError> {
        match self.optional(variable) {
            None => Ok(default),
            Some(text) => text
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| ConfigError {
                    variable,
                    problem: format!("is {text:?}, not a port number"),
                    fix: format!(
                        "set {variable} to a number from 1 to 65535, or unset it for {default}"
                    ),
                }),
        }
    }

    /// An optional `http(s)://` URL.
    pub fn url(&self, variable: &'static str) -> Result<Option<String>, ConfigError> {
        match self.optional(variable) {
            None => Ok(None),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Some(url.trim_end_matches('/').to_string()))
            }
            Some(url) => Err(ConfigError {
                variable,
                problem: format!("is {url:?}, which is not an http:// or https:// URL"),
                fix: format!("set {variable} to a full URL, e.g. http://{url}"),
            }),
        }
    }

    /// An optional duration in milliseconds.
    pub fn milliseconds(
        &self,
        variable: &'static str,
        default: u64,
    ) -> Result<std::time::Duration, ConfigError> {
        let milliseconds = match self.optional(variable) {
            None => default,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|value| *value > 0)
                .ok_or_else(|| ConfigError {
                    variable,
                    problem: format!("is {text:?}, not a positive number of milliseconds"),
                    fix: format!("set {variable} to e.g. {default}, or unset it"),
                })?,
        };
        Ok(std::time::Duration::from_millis(milliseconds))
    }
}
