//! The middleware every response of both services goes through, outermost first:
//! request id (`x-request-id`, kept from the caller or made up, echoed back), a tracing span with
//! that id and the caller's `X-Amzn-Trace-Id` (echoed back), the region header and JSON error
//! bodies, CORS, the request-body limit, and the request timeout.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
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
                .level(tracing::Level::INFO)
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
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
}

/// The value of `name` in `headers`, or "" when absent or not text.
pub fn header_text<'a>(headers: &'a http::HeaderMap, name: &HeaderName) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

fn request_span<B>(request: &http::Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = header_text(request.headers(), &REQUEST_ID_HEADER),
        trace_id = header_text(request.headers(), &TRACE_HEADER),
    )
}

async fn shape_response(
    State(envelope): State<Envelope>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = header_text(request.headers(), &REQUEST_ID_HEADER).to_string();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let mut response = next.run(request).await;
    let status = response.status();
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
