//! like-service's HTTP API.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use service_common::layers::{REQUEST_ID_HEADER, TRACE_HEADER, header_text};
use service_common::{ApiError, EdgeSettings, mysfit_id, with_edge_layers};

use crate::upstream::{Forwarded, Upstream};

const SERVICE: &str = "like-service";

#[derive(Clone)]
pub struct AppState {
    pub upstream: Upstream,
    pub edge: EdgeSettings,
}

impl AppState {
    pub fn new(upstream: Upstream, region: impl Into<String>) -> AppState {
        AppState {
            upstream,
            edge: EdgeSettings::new(region),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let edge = state.edge.clone();
    let routes = Router::new()
        .route("/health", get(health))
        .route("/mysfits/{id}/like", post(like))
        .with_state(state);
    with_edge_layers(routes, &edge)
}

/// Shallow on purpose: a like-service task is healthy even while mysfits-service is not, and the
/// load balancer must not drain it for that.
async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "service": SERVICE,
        "version": env!("CARGO_PKG_VERSION"),
        "region": state.edge.region,
        "mysfits_service_url": state.upstream.base_url(),
    }))
}

async fn like(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    mysfit_id::check(&id)?;
    let forwarded = Forwarded {
        request_id: header_text(&headers, &REQUEST_ID_HEADER).to_string(),
        trace_id: header_text(&headers, &TRACE_HEADER).to_string(),
    };
    let mysfit = state.upstream.fulfill_like(&id, &forwarded).await?;
    tracing::debug!(mysfit = %id, "like processed");
    // The mysfit with its new count, as mysfits-service serialized it.
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        mysfit,
    ))
}
