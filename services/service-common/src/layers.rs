//! The middleware every response of both services goes through, outermost first:
//! request id (`x-request-id`, kept from the caller when it is a short token, else made up; echoed
//! back), a tracing span with
//! that id and the caller's `X-Amzn-Trace-Id` (echoed back; when traces are exported and the
//! request is sampled, decided once as it enters, the OpenTelemetry server span, continuing the
//! caller's trace), the region header and JSON error
//! bodies, CORS, the request-body limit, and the request timeout.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use tower_http::LatencyUnit;
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::propagate_header::PropagateHeaderLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::error::ErrorMessage;
use crate::{echo, telemetry};

/// Every response carries the region that served it: after a failover this is how a caller (and
/// the website) sees which region answered.
pub const REGION_HEADER: HeaderName = HeaderName::from_static("x-mysfits-region");
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Set by the Application Load Balancer; forwarded to upstream calls and logged.
pub const TRACE_HEADER: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// The service's own requests are small: ids in the path, no bodies worth more than this.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;
/// Above the DynamoDB client's own operation timeout and like-service's upstream budget, so a
/// dependency's timeout is reported as such before this backstop fires.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct EdgeSettings {
    pub region: String,
    pub body_limit: usize,
    pub request_timeout: Duration,
}

impl EdgeSettings {
    pub fn new(region: impl Into<String>) -> EdgeSettings {
        EdgeSettings {
            region: region.into(),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

#[derive(Clone)]
struct Envelope {
    region: HeaderValue,
    body_limit: usize,
    request_timeout: Duration,
}

/// Wraps a service's routes in the shared middleware stack.
pub fn with_edge_layers(router: Router, settings: &EdgeSettings) -> Router {
    let envelope = Envelope {
        region: HeaderValue::from_str(&settings.region)
            .unwrap_or_else(|_| HeaderValue::from_static("invalid-region")),
        body_limit: settings.body_limit,
        request_timeout: settings.request_timeout,
    };
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE, REQUEST_ID_HEADER])
        .expose_headers([REQUEST_ID_HEADER, REGION_HEADER])
        .max_age(Duration::from_secs(600));
    let trace = TraceLayer::new_for_http()
        .make_span_with(request_span)
        .on_request(())
        .on_response(
            DefaultOnResponse::new()
                // Per request: off at the default level (RUST_LOG=debug shows it), off the hot path.
                .level(tracing::Level::DEBUG)
                .latency_unit(LatencyUnit::Micros),
        );
    // Innermost first: each `Router::layer` wraps everything added before it.
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        .layer(cors)
        .layer(axum::middleware::from_fn_with_state(
            envelope,
            shape_response,
        ))
        .layer(PropagateHeaderLayer::new(TRACE_HEADER))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(trace)
        .layer(axum::middleware::from_fn(decide_tracing))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
        .layer(axum::middleware::from_fn(drop_unsafe_request_id))
}

/// A caller's request id is echoed in the response header, the error body and every log line:
/// one that is not a short token (see [`echo::is_token`]) is dropped, and a fresh one is made.
async fn drop_unsafe_request_id(mut request: Request, next: Next) -> Response {
    if !echo::is_token(header_text(request.headers(), &REQUEST_ID_HEADER)) {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    next.run(request).await
}

/// The value of `name` in `headers`, or "" when absent or not text.
pub fn header_text<'a>(headers: &'a http::HeaderMap, name: &HeaderName) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// Decides once, where a request enters, whether it is traced (see [`telemetry::decide`]); with
/// tracing off this is one atomic load.
async fn decide_tracing(request: Request, next: Next) -> Response {
    if !telemetry::enabled() {
        return next.run(request).await;
    }
    match telemetry::decide(request.headers(), request.uri().path()) {
        Some(decision) => telemetry::with_decision(decision, next.run(request)).await,
        None => next.run(request).await,
    }
}

fn request_span<B>(request: &http::Request<B>) -> tracing::Span {
    if !telemetry::recording() {
        // Tracing off, or a request not sampled: the span the logs need, and no more.
        return tracing::info_span!(
            target: telemetry::UNRECORDED_TARGET,
            "request",
            http.request.method = %request.method(),
            url.path = %request.uri().path(),
            request_id = header_text(request.headers(), &REQUEST_ID_HEADER),
            trace_id = header_text(request.headers(), &TRACE_HEADER),
        );
    }
    // The server span: named by route template (`/mysfits/{id}`, never the id itself, so spans
    // group by endpoint), with the OpenTelemetry HTTP attributes X-Ray maps to its segment. The
    // logs read the same fields as from the span above: each field is an attribute to export.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
        request_id = header_text(request.headers(), &REQUEST_ID_HEADER),
        trace_id = header_text(request.headers(), &TRACE_HEADER),
        otel.name = %format_args!("{} {}", request.method(), route.unwrap_or("unmatched")),
        otel.kind = "server",
        http.route = route,
    );
    telemetry::continue_trace(&span);
    span
}

async fn shape_response(
    State(envelope): State<Envelope>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = header_text(request.headers(), &REQUEST_ID_HEADER).to_string();
    let method = request.method().clone();
    let path = echo::path(request.uri().path());
    let mut response = next.run(request).await;
    let status = response.status();
    if telemetry::recording() {
        // Inside the request span (the trace layer is outside this one); after the timeout and
        // body-limit layers, so their 503 and 413 are recorded too. Set on the OpenTelemetry span
        // alone: recorded as a `tracing` field, the log layer would format the span's fields
        // again. A 5xx needs no status here: the trace layer's failure event (level ERROR) in
        // the span marks it as an error.
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        tracing::Span::current()
            .set_attribute("http.response.status_code", i64::from(status.as_u16()));
    }
    let is_json = header_text(response.headers(), &CONTENT_TYPE).starts_with("application/json");
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let fallback = match status {
            StatusCode::NOT_FOUND => format!("no such endpoint: {method} {path}"),
            StatusCode::METHOD_NOT_ALLOWED => format!("method {method} is not allowed on {path}"),
            StatusCode::PAYLOAD_TOO_LARGE => format!(
                "request body is larger than the limit of {} bytes",
                envelope.body_limit
            ),
            StatusCode::SERVICE_UNAVAILABLE => format!(
                "request did not finish within {} s",
                envelope.request_timeout.as_secs_f32()
            ),
            _ => status.canonical_reason().unwrap_or("error").to_string(),
        };
        response = json_error(response, &request_id, fallback).await;
    }
    response
        .headers_mut()
        .insert(REGION_HEADER, envelope.region.clone());
    response
}

/// Rewrites an error response as `{"error": ..., "request_id": ...}`. The message is the
/// handler's [`ErrorMessage`], else the plain-text body (axum's rejections explain themselves),
/// else `fallback`.
async fn json_error(response: Response, request_id: &str, fallback: String) -> Response {
    let (mut parts, body) = response.into_parts();
    let message = match parts.extensions.remove::<ErrorMessage>() {
        Some(ErrorMessage(message)) => message,
        None => {
            let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            if text.is_empty() { fallback } else { text }
        }
    };
    let body = serde_json::json!({ "error": message, "request_id": request_id });
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(body.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::{ApiError, mysfit_id};

    async fn checked(
        axum::extract::Path(id): axum::extract::Path<String>,
    ) -> Result<&'static str, ApiError> {
        mysfit_id::check(&id)?;
        Ok("ok")
    }

    fn router() -> Router {
        let routes = Router::new().route("/mysfits/{id}", get(checked));
        with_edge_layers(routes, &EdgeSettings::new("eu-west-1"))
    }

    /// The status, the `x-request-id` header and the whole body of the answer to GET `uri`.
    async fn get_with_request_id(uri: &str, request_id: &str) -> (StatusCode, String, String) {
        let request = http::Request::builder()
            .uri(uri)
            .header(REQUEST_ID_HEADER, request_id)
            .body(Body::empty())
            .unwrap();
        let response = router().oneshot(request).await.unwrap();
        let status = response.status();
        let echoed = header_text(response.headers(), &REQUEST_ID_HEADER).to_string();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, echoed, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_token_request_id_is_kept_and_echoed_in_the_error_body() {
        let (status, echoed, body) = get_with_request_id("/mysfits/a%20b", "caller-1").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(echoed, "caller-1");
        assert_eq!(
            body,
            r#"{"error":"the mysfit id in the path is not valid: use 1 to 64 letters, digits, '-' or '_'","request_id":"caller-1"}"#
        );
    }

    #[tokio::test]
    async fn an_unsafe_request_id_is_replaced_not_echoed() {
        for unsafe_id in ["x".repeat(65), "two words".to_string(), "a\"b".to_string()] {
            let (status, echoed, body) = get_with_request_id("/nowhere", &unsafe_id).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_ne!(echoed, unsafe_id);
            assert!(echo::is_token(&echoed), "a fresh id: {echoed:?}");
            assert_eq!(
                body,
                format!(r#"{{"error":"no such endpoint: GET /nowhere","request_id":"{echoed}"}}"#)
            );
        }
    }

    #[tokio::test]
    async fn a_long_path_is_cut_in_the_error_body() {
        let long = format!("/{}", "p".repeat(300));
        let (_, _, body) = get_with_request_id(&long, "r1").await;
        assert_eq!(
            body,
            format!(
                r#"{{"error":"no such endpoint: GET /{}…","request_id":"r1"}}"#,
                "p".repeat(127)
            )
        );
    }
}
