//! A real OTLP/HTTP receiver on loopback for the trace tests: `POST /v1/traces` with an
//! `ExportTraceServiceRequest` in protobuf, decoded with the OpenTelemetry protocol's own types and
//! kept for the test to read. A receiver fixture, like a collector's OTLP receiver, not a stand-in
//! for any AWS service.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use http::StatusCode;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;

/// One span as received, with its resource's `service.name`.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub service: String,
    pub resource: HashMap<String, String>,
    pub name: String,
    /// 1 internal, 2 server, 3 client (the protocol's `SpanKind`).
    pub kind: i32,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub attributes: HashMap<String, String>,
    /// 0 unset, 1 ok, 2 error.
    pub status: i32,
}

pub const SERVER: i32 = 2;
pub const CLIENT: i32 = 3;

pub struct Receiver {
    pub endpoint: String,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    requests: Arc<Mutex<usize>>,
}

impl Receiver {
    /// Listens on a free loopback port; the server ends with the test's runtime.
    pub async fn start() -> Receiver {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(0));
        let router = {
            let spans = spans.clone();
            let requests = requests.clone();
            Router::new().route(
                "/v1/traces",
                post(move |headers: http::HeaderMap, body: Bytes| async move {
                    *requests.lock().unwrap() += 1;
                    assert_eq!(headers["content-type"], "application/x-protobuf");
                    let Ok(export) = ExportTraceServiceRequest::decode(body) else {
                        return (StatusCode::BAD_REQUEST, Vec::new());
                    };
                    spans.lock().unwrap().extend(received(export));
                    let answer = ExportTraceServiceResponse::default().encode_to_vec();
                    (StatusCode::OK, answer)
                }),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver {
            endpoint: format!("http://{address}"),
            spans,
            requests,
        }
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().unwrap().clone()
    }

    /// Export requests received, decodable or not.
    pub fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }

    /// The one span named `name` from `service`.
    #[track_caller]
    pub fn span(&self, service: &str, name: &str) -> ReceivedSpan {
        let spans = self.spans();
        let matching: Vec<_> = spans
            .iter()
            .filter(|span| span.service == service && span.name == name)
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "one {service} span {name:?} among {:#?}",
            spans
                .iter()
                .map(|span| (&span.service, &span.name))
                .collect::<Vec<_>>()
        );
        matching[0].clone()
    }
}

fn received(export: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut spans = Vec::new();
    for resource_spans in export.resource_spans {
        let resource = resource_spans
            .resource
            .map(|resource| attributes(&resource.attributes))
            .unwrap_or_default();
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                spans.push(ReceivedSpan {
                    service: service.clone(),
                    resource: resource.clone(),
                    name: span.name,
                    kind: span.kind,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: attributes(&span.attributes),
                    status: span.status.map(|status| status.code).unwrap_or_default(),
                });
            }
        }
    }
    spans
}

/// Attribute values as text (numbers in their usual form), enough for the assertions.
fn attributes(pairs: &[KeyValue]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|pair| {
            let value = match pair.value.as_ref().and_then(|value| value.value.as_ref()) {
                Some(Value::StringValue(text)) => text.clone(),
                Some(Value::IntValue(number)) => number.to_string(),
                Some(Value::DoubleValue(number)) => number.to_string(),
                Some(Value::BoolValue(flag)) => flag.to_string(),
                other => format!("{other:?}"),
            };
            (pair.key.clone(), value)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
