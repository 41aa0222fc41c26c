//! TIMING FIXTURE ONLY — never used by a test of behaviour. A loopback stand-in for DynamoDB that
//! answers the catalogue service's calls (Scan, Query, GetItem, TransactWriteItems, DescribeTable, picked
//! by `X-Amz-Target`) with answers recorded once at start-up from the seed catalogue, in DynamoDB's
//! JSON 1.0 wire form (item answers with the `ConsumedCapacity` the service asks for), over
//! keep-alive HTTP/1. It does no conditions, no counting and no checks of
//! the signature: it exists so that scripts/bench-services can load the services at rates the
//! real emulator (moto, ~30 req/s, closing every connection) cannot serve, and measure the
//! services' own CPU per request. Its own cost is a lookup and a copy of pre-built bytes.
//!
//!     bench-dynamodb-stub PORT TABLE [LATENCY_MS]
//!
//! LATENCY_MS (default 0) holds every answer that long before it is sent, as DynamoDB's own
//! few-millisecond service time would: the services then see the waits (and the likes that
//! meet in one write) of a real table, at the stub's CPU cost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use mysfits_service::catalogue::seed_items;
use mysfits_service::mysfit::{self, Alignment};
use serde_json::{Map, Value, json};

/// The recorded answers, keyed by what the request asks.
struct Recorded {
    scan: Bytes,
    /// (index name, alignment value) → Query answer
    query: HashMap<(String, String), Bytes>,
    /// id → GetItem answer (`{"Item": ...}`)
    get: HashMap<String, Bytes>,
    /// TransactWriteItems answer (the control check and the mysfit's update: `{"ConsumedCapacity": [...]}`)
    transaction: Bytes,
    /// GetItem of a key that has no item (the write-region control item: not seeded here)
    no_item: Bytes,
    describe: Bytes,
    not_found: Bytes,
    /// How long each answer is held (the modeled service time of the table).
    latency: Duration,
}

fn wire(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => json!({ "S": text }),
        AttributeValue::N(number) => json!({ "N": number }),
        AttributeValue::Bool(flag) => json!({ "BOOL": flag }),
        other => panic!("the seed catalogue has no attribute like {other:?}"),
    }
}

fn record(table: &str, latency: Duration) -> Recorded {
    let items: Vec<(String, Value)> = seed_items()
        .iter()
        .map(|seed| {
            let item: Map<String, Value> = seed
                .to_item()
                .iter()
                .map(|(name, value)| (name.clone(), wire(value)))
                .collect();
            (seed.id.clone(), Value::Object(item))
        })
        .collect();
    let bytes = |value: Value| Bytes::from(value.to_string());
    // The service asks for `ReturnConsumedCapacity: TOTAL` on item calls (for its trace spans).
    let capacity = json!({ "TableName": table, "CapacityUnits": 1.0 });
    let page = |selected: Vec<&Value>| {
        let count = selected.len();
        bytes(json!({ "Items": selected, "Count": count, "ScannedCount": count }))
    };
    let mut query = HashMap::new();
    for alignment in Alignment::ALL {
        for value in alignment.values() {
            let selected = items
                .iter()
                .filter(|(_, item)| item[alignment.attribute()]["S"] == value)
                .map(|(_, item)| item)
                .collect();
            query.insert(
                (alignment.index().to_string(), value.to_string()),
                page(selected),
            );
        }
    }
    Recorded {
        scan: page(items.iter().map(|(_, item)| item).collect()),
        query,
        get: items
            .iter()
            .map(|(id, item)| {
                let answer = json!({ "Item": item, "ConsumedCapacity": capacity });
                (id.clone(), bytes(answer))
            })
            .collect(),
        transaction: bytes(json!({
            "ConsumedCapacity": [{ "TableName": table, "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0 }]
        })),
        no_item: bytes(json!({})),
        describe: bytes(json!({ "Table": { "TableName": table, "TableStatus": "ACTIVE" } })),
        not_found: bytes(json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
            "message": "the benchmark stub has no answer recorded for this request"
        })),
        latency,
    }
}

async fn answer(
    State(recorded): State<Arc<Recorded>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let key_id = || request["Key"][mysfit::ID]["S"].as_str().unwrap_or("");
    let found = match target.strip_prefix("DynamoDB_20120810.").unwrap_or("") {
        "Scan" => Some(&recorded.scan),
        "Query" => {
            let index = request["IndexName"].as_str().unwrap_or("").to_string();
            let value = request["ExpressionAttributeValues"][":value"]["S"]
                .as_str()
                .unwrap_or("")
                .to_string();
            recorded.query.get(&(index, value))
        }
        "GetItem" => Some(recorded.get.get(key_id()).unwrap_or(&recorded.no_item)),
        "TransactWriteItems" => Some(&recorded.transaction),
        "DescribeTable" => Some(&recorded.describe),
        _ => None,
    };
    let (status, body) = match found {
        Some(body) => (StatusCode::OK, body.clone()),
        None => (StatusCode::BAD_REQUEST, recorded.not_found.clone()),
    };
    if !recorded.latency.is_zero() {
        tokio::time::sleep(recorded.latency).await;
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

fn usage() -> ! {
    eprintln!("usage: bench-dynamodb-stub PORT TABLE [LATENCY_MS: 0 to 1000, default 0]");
    std::process::exit(2);
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let (port, table, latency) = match arguments.as_slice() {
        [port, table] => (port, table, "0"),
        [port, table, latency] => (port, table, latency.as_str()),
        _ => usage(),
    };
    let Ok(latency) = latency.parse::<f64>() else {
        usage()
    };
    if !(0.0..=1000.0).contains(&latency) {
        usage()
    }
    let recorded = Arc::new(record(table, Duration::from_secs_f64(latency / 1000.0)));
    let app = axum::Router::new().fallback(answer).with_state(recorded);
    // One thread: the stub must stay out of the way of the services it times.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
            .await
            .expect("the stub's port is free");
        axum::serve(listener, app).await.expect("the stub serves");
    });
}
