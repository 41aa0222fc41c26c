//! The HTTP API. Handlers validate input (a 400 that says what to send, never a 500), make one
//! table call and shape the answer; failures map to status codes in [`crate::table::StoreError`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use service_common::{ApiError, EdgeSettings, echo, mysfit_id, with_edge_layers};

use crate::list_cache::ListCache;
use crate::mysfit::{Alignment, Filter, Mysfit};
use crate::table::{MysfitsTable, StoreError};
use crate::website;
use crate::write_region::RETRY_AFTER_SECONDS;

const SERVICE: &str = "mysfits-service";

#[derive(Clone)]
pub struct AppState {
    pub table: Arc<MysfitsTable>,
    pub edge: EdgeSettings,
    /// Kept `GET /mysfits` answers (none unless [`AppState::with_list_cache`]).
    pub lists: Arc<ListCache>,
}

impl AppState {
    pub fn new(table: MysfitsTable, region: impl Into<String>) -> AppState {
        AppState {
            table: Arc::new(table),
            edge: EdgeSettings::new(region),
            lists: Arc::new(ListCache::new(Duration::ZERO)),
        }
    }

    /// Keeps list answers for `time_to_live` (see [`crate::list_cache`]); the state the public
    /// and internal routers share, so a like on one drops what the other keeps.
    pub fn with_list_cache(mut self, time_to_live: Duration) -> AppState {
        self.lists = Arc::new(ListCache::new(time_to_live));
        self
    }
}

/// The public API (`PORT`, behind the load balancer). No fulfill-like: a like counted without
/// the like service would be anyone's to add, so that route is on [`internal_router`] only and
/// answers 404 here like any unknown path.
pub fn router(state: AppState) -> Router {
    let edge = state.edge.clone();
    let routes = Router::new()
        .route("/", get(website::index))
        .route("/images/{size}/{file}", get(website::picture))
        .route("/health", get(health))
        .route("/health/ready", get(ready))
        .route("/mysfits", get(list))
        .route("/mysfits/{id}", get(one))
        .route("/mysfits/{id}/adopt", post(adopt))
        .route("/mysfits/{id}/like", post(like_elsewhere))
        .with_state(state);
    with_edge_layers(routes, &edge)
}

/// Likes are like-service's: the load balancer's path rule sends them there. One that reaches
/// this service (the service run alone, or a rule missing) is told so, not "no such endpoint".
async fn like_elsewhere() -> ApiError {
    ApiError::not_found(
        "likes are taken by like-service, which the load balancer's path rule /mysfits/*/like \
         routes to; this is mysfits-service: open the app through its load balancer (locally: \
         scripts/demo --keep)",
    )
}

/// The internal API (`INTERNAL_PORT`): the like service's `POST /mysfits/{id}/fulfill-like`, and
/// `/health`. In AWS only the service tasks' security group may open this port.
pub fn internal_router(state: AppState) -> Router {
    let edge = state.edge.clone();
    let routes = Router::new()
        .route("/health", get(health))
        .route("/mysfits/{id}/fulfill-like", post(fulfill_like))
        .with_state(state);
    with_edge_layers(routes, &edge)
}

/// Shallow: the process is up and serving. The load balancer's health check, so that a DynamoDB
/// hiccup does not take every task out of service at once.
async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "service": SERVICE,
        "version": env!("CARGO_PKG_VERSION"),
        "region": state.edge.region,
    }))
}

/// Deep: the table exists and is usable from here.
async fn ready(State(state): State<AppState>) -> Response {
    match state.table.check_ready().await {
        Ok(table_status) => Json(json!({
            "status": "ready",
            "service": SERVICE,
            "region": state.edge.region,
            "table": state.table.name(),
            "table_status": table_status,
        }))
        .into_response(),
        Err(error) => {
            let reason = ApiError::from(error).message;
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "service": SERVICE,
                    "region": state.edge.region,
                    "table": state.table.name(),
                    "reason": reason,
                })),
            )
                .into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    filter: Option<String>,
    value: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let filter = parse_filter(query.filter.as_deref(), query.value.as_deref())?;
    if let Some(body) = state.lists.get(filter) {
        return Ok(json_body(body));
    }
    let generation = state.lists.generation();
    let mysfits = state.table.list(filter).await?;
    // Serialized straight from the mysfits: no intermediate JSON tree of copies.
    let body = serde_json::to_vec(&ListBody { mysfits: &mysfits }).map_err(|error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the list could not be written as JSON: {error}"),
        )
    })?;
    let body = bytes::Bytes::from(body);
    state.lists.keep(filter, generation, body.clone());
    Ok(json_body(body))
}

fn json_body(body: bytes::Bytes) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[derive(serde::Serialize)]
struct ListBody<'a> {
    mysfits: &'a [Mysfit],
}

/// `filter` and `value` come together or not at all; both are checked against the known
/// alignments (case-insensitively) so a typo is a 400 naming the choices, not an empty list.
pub fn parse_filter(filter: Option<&str>, value: Option<&str>) -> Result<Option<Filter>, ApiError> {
    let filter = filter.map(str::trim).filter(|text| !text.is_empty());
    let value = value.map(str::trim).filter(|text| !text.is_empty());
    let names = Alignment::ALL.map(Alignment::attribute).join(" or ");
    match (filter, value) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ApiError::bad_request(format!(
            "value= was given without filter: add filter={names}"
        ))),
        (Some(name), value) => {
            let alignment = Alignment::from_name(name).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unknown filter{}: use filter={names}",
                    echo::quoted(name)
                ))
            })?;
            let choices = alignment.values().join(", ");
            let value = value.ok_or_else(|| {
                ApiError::bad_request(format!(
                    "filter={} needs a value: add value= one of {choices}",
                    alignment.attribute()
                ))
            })?;
            let value = alignment.canonical_value(value).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "the value{} is not a {} value: use one of {choices}",
                    echo::quoted(value),
                    alignment.attribute()
                ))
            })?;
            Ok(Some(Filter { alignment, value }))
        }
    }
}

async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Mysfit>, ApiError> {
    mysfit_id::check(&id)?;
    Ok(Json(state.table.get(&id).await?))
}

async fn adopt(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Mysfit>, Response> {
    mysfit_id::check(&id).map_err(IntoResponse::into_response)?;
    let mysfit = state.table.adopt(&id).await.map_err(write_refused)?;
    state.lists.forget();
    tracing::info!(mysfit = %id, "adopted");
    Ok(Json(mysfit))
}

/// The write behind a like; like-service calls it. Answers the mysfit with its new count.
async fn fulfill_like(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Mysfit>, Response> {
    mysfit_id::check(&id).map_err(IntoResponse::into_response)?;
    let mysfit = state.table.like(&id).await.map_err(write_refused)?;
    state.lists.forget();
    tracing::debug!(mysfit = %id, likes = mysfit.likes, "like fulfilled");
    Ok(Json(mysfit))
}

/// A failed write as an answer: one refused because the write region is moving is a 503 with
/// `Retry-After` (nothing was written; the move takes about a second plus the replication lag).
fn write_refused(error: StoreError) -> Response {
    let paused = matches!(error, StoreError::WritesPaused(_));
    let error = ApiError::from(error);
    if paused {
        error.with_retry_after(RETRY_AFTER_SECONDS)
    } else {
        error
    }
    .into_response()
}
