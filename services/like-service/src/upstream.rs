//! The call to mysfits-service that records a like.
//!
//! A like is not idempotent (`ADD Likes 1`), so it is retried only when the upstream surely did
//! not apply it: the connection could not be made, or the answer was 503, which mysfits-service
//! gives only when DynamoDB was not reached or throttled (and a load balancer gives when it has no
//! healthy target). A 503 with `Retry-After` (writes paused while the write region moves) is
//! passed on as it is, header included, without retrying. A timeout or any other failure is reported at once, never retried: the like
//! may have been counted.

use std::time::Duration;

use axum::body::Bytes;
use http::StatusCode;
use service_common::ApiError;
use service_common::layers::{REQUEST_ID_HEADER, TRACE_HEADER};
use service_common::telemetry;
use tracing::Instrument;

/// Attempts per like, including the first.
pub const MAX_ATTEMPTS: u32 = 3;
/// Pause before the second attempt; doubled before each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Below the load balancer's default idle timeout (60 s), so a pooled connection is not reused
/// just as the balancer closes it.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// mysfits-service, as seen from like-service.
#[derive(Debug, Clone)]
pub struct Upstream {
    client: reqwest::Client,
    base_url: String,
    attempt_timeout: Duration,
}

/// Caller context forwarded upstream so both services' logs share the ids.
#[derive(Debug, Clone, Default)]
pub struct Forwarded {
    pub request_id: String,
    pub trace_id: String,
}

impl Upstream {
    pub fn new(base_url: &str, attempt_timeout: Duration) -> Result<Upstream, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .user_agent(concat!("like-service/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Upstream {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            attempt_timeout,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Records one like on mysfit `id` (already validated) and returns the mysfit as
    /// mysfits-service answered it, with its new like count.
    pub async fn fulfill_like(&self, id: &str, forwarded: &Forwarded) -> Result<Bytes, ApiError> {
        let url = format!("{}/mysfits/{id}/fulfill-like", self.base_url);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.attempt(&url, forwarded).await {
                Attempt::Done(result) => return result,
                Attempt::Retryable(error) if attempt < MAX_ATTEMPTS => {
                    tracing::warn!(mysfit = %id, attempt, error = %error.message, "upstream not reached; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Attempt::Retryable(error) => {
                    return Err(ApiError::bad_gateway(format!(
                        "{} (after {MAX_ATTEMPTS} attempts)",
                        error.message
                    )));
                }
            }
        }
    }

    async fn attempt(&self, url: &str, forwarded: &Forwarded) -> Attempt {
        // The client span of this attempt (none unless the request is recorded): its context
        // goes upstream as `traceparent` and `X-Amzn-Trace-Id`.
        let span = if !telemetry::recording() {
            tracing::Span::none()
        } else {
            tracing::debug_span!(
            "upstream",
            otel.name = "POST /mysfits/{id}/fulfill-like",
            otel.kind = "client",
            http.request.method = "POST",
            url.full = %url,
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            error.r#type = tracing::field::Empty,
            )
        };
        let attempt = self
            .attempt_in(url, forwarded, &span)
            .instrument(span.clone())
            .await;
        if let Attempt::Done(Err(error)) | Attempt::Retryable(error) = &attempt {
            span.record("otel.status_code", "ERROR");
            span.record("error.type", error.status.as_str());
        }
        attempt
    }

    async fn attempt_in(&self, url: &str, forwarded: &Forwarded, span: &tracing::Span) -> Attempt {
        let mut request = self.client.post(url).timeout(self.attempt_timeout);
        if !forwarded.request_id.is_empty() {
            request = request.header(REQUEST_ID_HEADER, &forwarded.request_id);
        }
        if telemetry::enabled() {
            let mut headers = http::HeaderMap::new();
            telemetry::inject(span, &mut headers);
            request = request.headers(headers);
        } else if !forwarded.trace_id.is_empty() {
            request = request.header(TRACE_HEADER, &forwarded.trace_id);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return self.transport_failure(error),
        };
        span.record("http.response.status_code", response.status().as_u16());
        let status = response.status();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.trim().parse::<u64>().ok());
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return self.transport_failure(error),
        };
        if status == StatusCode::OK {
            // Passed on as it came: checked to be JSON, not rebuilt.
            return Attempt::Done(
                match serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
                    Ok(_) => Ok(body),
                    Err(_) => Err(ApiError::bad_gateway(
                        "mysfits-service answered 200 without a JSON body",
                    )),
                },
            );
        }
        let json = serde_json::from_slice::<serde_json::Value>(&body).ok();
        let upstream_message = json.as_ref().and_then(error_message);
        if status != StatusCode::OK && upstream_message.is_none() {
            // A load balancer's or proxy's HTML page, say: logged for the operator, not handed
            // to the caller, who can do nothing with it.
            let excerpt: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            tracing::warn!(url = %url, %status, body = %excerpt, "upstream answered without a JSON error");
        }
        let said = |upstream_message: Option<String>| match upstream_message {
            Some(message) => format!(": {message}"),
            None => " without a JSON error (its body is in like-service's log)".to_string(),
        };
        match status {
            StatusCode::NOT_FOUND => Attempt::Done(Err(match upstream_message {
                Some(message) => ApiError::not_found(message),
                None => ApiError::bad_gateway(format!(
                    "mysfits-service answered {status}{}",
                    said(None)
                )),
            })),
            // Writes paused while the write region moves: nothing was recorded, and the caller
            // is told when to come back (a retry within milliseconds would be refused too).
            StatusCode::SERVICE_UNAVAILABLE if retry_after.is_some() => {
                Attempt::Done(Err(ApiError::unavailable(format!(
                    "mysfits-service is unavailable{}",
                    said(upstream_message)
                ))
                .with_retry_after(retry_after.unwrap_or(1))))
            }
            StatusCode::SERVICE_UNAVAILABLE => Attempt::Retryable(ApiError::bad_gateway(format!(
                "mysfits-service is unavailable{}",
                said(upstream_message)
            ))),
            _ => Attempt::Done(Err(ApiError::bad_gateway(format!(
                "mysfits-service answered {status}{}",
                said(upstream_message)
            )))),
        }
    }

    /// The caller is told what kind of failure it was; the upstream's address (internal) and the
    /// library's wording of the cause go to the log only.
    fn transport_failure(&self, error: reqwest::Error) -> Attempt {
        tracing::warn!(url = %self.base_url, error = %error_chain(&error), "calling mysfits-service failed");
        if error.is_connect() {
            return Attempt::Retryable(ApiError::bad_gateway(
                "mysfits-service cannot be reached (no connection)",
            ));
        }
        if error.is_timeout() {
            return Attempt::Done(Err(ApiError::gateway_timeout(format!(
                "mysfits-service did not answer within {} ms; the like may or may not have been counted",
                self.attempt_timeout.as_millis()
            ))));
        }
        Attempt::Done(Err(ApiError::bad_gateway(
            "calling mysfits-service failed before it answered; the like may or may not have been counted",
        )))
    }
}

/// The `error` of mysfits-service's JSON error body, when it is one line of at most
/// [`MAX_UPSTREAM_MESSAGE`] characters (mysfits-service's own messages are).
fn error_message(body: &serde_json::Value) -> Option<String> {
    let message = body.get("error")?.as_str()?;
    let plain =
        message.chars().count() <= MAX_UPSTREAM_MESSAGE && !message.chars().any(char::is_control);
    plain.then(|| message.to_string())
}

/// Longest upstream error message passed on to the caller.
const MAX_UPSTREAM_MESSAGE: usize = 300;

enum Attempt {
    Done(Result<Bytes, ApiError>),
    /// Nothing was recorded upstream; another attempt is safe.
    Retryable(ApiError),
}

/// The error and its causes on one line ("error sending request: connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
