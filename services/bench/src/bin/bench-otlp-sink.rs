//! TIMING FIXTURE ONLY — never used by a test of behaviour. The collector stand-in of
//! scripts/bench-services' tracing-on runs: `POST /v1/traces` (OTLP/HTTP protobuf) is decoded to
//! count the spans and answered 200, as the ADOT collector's OTLP receiver answers; `GET /counts`
//! tells how many export requests and spans arrived. One thread, so it stays out of the way of the
//! services it times.
//!
//!     bench-otlp-sink PORT

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    spans: AtomicU64,
}

async fn receive(State(counts): State<Arc<Counts>>, body: Bytes) -> Response {
    counts.requests.fetch_add(1, Ordering::Relaxed);
    let Ok(export) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let spans: usize = export
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    counts.spans.fetch_add(spans as u64, Ordering::Relaxed);
    let mut response = ExportTraceServiceResponse::default()
        .encode_to_vec()
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    response
}

async fn counts(State(counts): State<Arc<Counts>>) -> String {
    format!(
        "{{\"requests\": {}, \"spans\": {}}}",
        counts.requests.load(Ordering::Relaxed),
        counts.spans.load(Ordering::Relaxed)
    )
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [port] = arguments.as_slice() else {
        eprintln!("usage: bench-otlp-sink PORT");
        std::process::exit(2);
    };
    let app = axum::Router::new()
        .route("/v1/traces", post(receive))
        .route("/counts", get(counts))
        .with_state(Arc::new(Counts::default()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
            .await
            .expect("the sink's port is free");
        axum::serve(listener, app).await.expect("the sink serves");
    });
}
