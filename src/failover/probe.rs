//! HTTP probes of the app: which region answered (every response carries `x-mysfits-region`;
//! `/health` bodies carry `"region"`), how fast, and with what status.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::progress::elapsed_ms;
use crate::wait::{Backoff, Pacing};

pub const REGION_HEADER: &str = "x-mysfits-region";

/// One request's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub status: Option<u16>,
    pub region: Option<String>,
    pub latency_ms: u64,
    /// Transport failure (refused, timed out, DNS), when there was no HTTP answer.
    pub error: Option<String>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

/// An HTTP client for probes and load, with a hard per-request timeout. Every request opens a
/// new connection: Global Accelerator dials and DNS (Route 53) changes move only new
/// connections, and a load balancer keeps an idle one open for 60 s, so a pooled keep-alive
/// connection would stay on the region it first reached and hide the shift being measured. The
/// latency of each answer therefore includes the TCP (and TLS) handshake, as a new user's does.
#[derive(Debug, Clone)]
pub struct Prober {
    client: reqwest::Client,
}

impl Prober {
    pub fn new(request_timeout: Duration) -> Result<Prober> {
        let client = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(request_timeout.min(Duration::from_secs(3)))
            .user_agent(concat!("mysfits/", env!("CARGO_PKG_VERSION")))
            // No idle connection is kept for reuse, and each request asks the server to close.
            .pool_max_idle_per_host(0)
            .http1_only()
            .build()
            .map_err(|error| {
                Error::internal(format!("could not set up the HTTP client: {error}"))
            })?;
        Ok(Prober { client })
    }

    pub async fn probe(&self, url: &str) -> Answer {
        let started = Instant::now();
        let request = self
            .client
            .get(url)
            .header(reqwest::header::CONNECTION, "close");
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let mut region = response
                    .headers()
                    .get(REGION_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_string);
                let body = response.bytes().await.unwrap_or_default();
                if region.is_none() {
                    region = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|json| json.get("region")?.as_str().map(str::to_string));
                }
                Answer {
                    status: Some(status),
                    region,
                    latency_ms: elapsed_ms(started.elapsed()),
                    error: None,
                }
            }
            Err(error) => Answer {
                status: None,
                region: None,
                latency_ms: elapsed_ms(started.elapsed()),
                error: Some(describe_transport_error(&error)),
            },
        }
    }
}

fn describe_transport_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "connection failed".to_string()
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    }
}

/// What probing the entry point showed after a shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verification {
    /// A successful response came from the target region.
    Verified {
        url: String,
        after_ms: u64,
        probes: u32,
    },
    /// The target region never answered within the limit.
    NotVerified {
        url: String,
        probes: u32,
        last: Option<Answer>,
    },
    /// There was nothing to probe.
    Skipped { reason: String },
}

impl Verification {
    /// The verify phase's line, for a failover to `target` that waited at most `limit`.
    pub fn summary(&self, target: &str, limit: Duration) -> String {
        match self {
            Verification::Verified {
                url,
                after_ms,
                probes,
            } => format!(
                "{target} answered at {url} after {:.1}s ({probes} probes)",
                *after_ms as f64 / 1000.0
            ),
            Verification::NotVerified { url, probes, last } => {
                let last = last
                    .as_ref()
                    .map(|answer| match (&answer.status, &answer.error) {
                        (Some(status), _) => format!(
                            "last: HTTP {status} from {}",
                            answer.region.as_deref().unwrap_or("an unknown region")
                        ),
                        (None, Some(error)) => format!("last: {error}"),
                        (None, None) => String::new(),
                    })
                    .unwrap_or_default();
                format!(
                    "{target} did not answer at {url} within {:.0}s ({probes} probes; {last})",
                    limit.as_secs_f64()
                )
            }
            Verification::Skipped { .. } => "skipped (see below)".to_string(),
        }
    }
}

/// How often verification probes the entry point.
const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// Probes `url` until a successful answer comes from `region`, for at most `limit`.
pub async fn wait_for_region(
    prober: &Prober,
    url: &str,
    region: &str,
    limit: Duration,
) -> Verification {
    // A steady 250 ms beat, not a backoff: the time to the first answer from the target is a
    // measured figure of the failover. Running out is not an error: the report says NotVerified.
    let started = Instant::now();
    let mut pacing = Pacing::start(Backoff {
        first: PROBE_INTERVAL,
        growth_percent: 100,
        max: PROBE_INTERVAL,
        limit,
    });
    let mut probes = 0;
    loop {
        let answer = prober.probe(url).await;
        probes += 1;
        if answer.is_success() && answer.region.as_deref() == Some(region) {
            return Verification::Verified {
                url: url.to_string(),
                after_ms: elapsed_ms(started.elapsed()),
                probes,
            };
        }
        if !pacing.pause().await {
            return Verification::NotVerified {
                url: url.to_string(),
                probes,
                last: Some(answer),
            };
        }
    }
}
