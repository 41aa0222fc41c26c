//! Trace export (service_common::telemetry) against a real OTLP/HTTP receiver on loopback
//! (`otlp.rs`): one trace across like-service, mysfits-service and the DynamoDB call; the load
//! balancer's `X-Amzn-Trace-Id` continued; a dead or stalled collector changing no answer; and, on
//! the real binary, nothing exported without an endpoint, the buffer flushed at SIGTERM, trace ids
//! in the log lines and a bad sample ratio refused at start-up.
//!
//! Both services run in this one process, each router under its own subscriber (its own
//! `service.name`), as `telemetry::build` allows.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client as DynamoDb;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use mysfits_service::catalogue::seed_items;
use service_common::telemetry::{self, Telemetry, TracingSettings};
use tracing::instrument::WithSubscriber;

use super::otlp::{CLIENT, Receiver, SERVER};
use super::support::*;
use super::{like_router, serve};

/// An ALB-style header continued from a caller that sampled the request.
const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const TRACE_ID: &str = "5759e988bd862e3fe1be46a994272793";
const CALLER_SPAN: &str = "53995c3f42cd8ad8";

fn exporting(receiver: &Receiver, service: &'static str, sample_ratio: f64) -> Telemetry {
    let settings = TracingSettings {
        endpoint: Some(receiver.endpoint.clone()),
        sample_ratio,
    };
    let telemetry = telemetry::build(service, REGION, &settings).unwrap();
    assert!(telemetry.is_exporting());
    telemetry
}

/// `router` with every request handled under `telemetry`'s subscriber.
fn under(router: Router, telemetry: &Telemetry) -> Router {
    let dispatch = telemetry.dispatch().clone();
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let dispatch = dispatch.clone();
            async move { next.run(request).await }.with_subscriber(dispatch)
        },
    ))
}

/// Flushes what `telemetry` buffered (the shutdown path of the services' `main`).
async fn shut_down(telemetry: Telemetry) {
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
}

/// DynamoDB answering a like as it does: no control item in the local replica yet (GetItem
/// answers no item), the `TransactWriteItems` (control check + `ADD Likes 1`) with the capacity
/// it consumed (`ReturnConsumedCapacity: TOTAL`: one entry per table; a transactional write
/// costs two write units per item of up to 1 KB, and the control check is an item), then the
/// consistent read back of the mysfit. Only a transaction that asks for the capacity matches.
fn dynamodb_liking_pollen() -> DynamoDb {
    let mut pollen = seed_items()
        .into_iter()
        .find(|mysfit| mysfit.id == "pollen")
        .unwrap();
    pollen.likes = 1;
    let item = pollen.to_item();
    let is_control = |key: Option<&std::collections::HashMap<String, AttributeValue>>| {
        key.and_then(|key| key.get("MysfitId"))
            == Some(&AttributeValue::S(
                mysfits_service::write_region::CONTROL_ID.into(),
            ))
    };
    let no_control_item = mock!(DynamoDb::get_item)
        .match_requests(move |input| is_control(input.key()))
        .then_output(|| GetItemOutput::builder().build());
    let transaction = mock!(DynamoDb::transact_write_items)
        .match_requests(|input| {
            input.transact_items().len() == 2
                && input.return_consumed_capacity() == Some(&ReturnConsumedCapacity::Total)
        })
        .then_output(|| {
            TransactWriteItemsOutput::builder()
                .consumed_capacity(
                    ConsumedCapacity::builder()
                        .table_name(TABLE)
                        .capacity_units(4.0)
                        .write_capacity_units(4.0)
                        .build(),
                )
                .build()
        });
    let read_back = mock!(DynamoDb::get_item)
        .match_requests(move |input| {
            !is_control(input.key()) && input.consistent_read() == Some(true)
        })
        .then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(item.clone()))
                .build()
        });
    mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&no_control_item, &transaction, &read_back]
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_like_is_one_trace_through_both_services_down_to_dynamodb() {
    one_trace_through_both_services(dynamodb_liking_pollen(), Some("4")).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn a_like_is_one_trace_through_both_services_down_to_dynamodb_in_moto() {
    let (_moto, client) = seeded().await;
    // moto reports no consumed capacity for a transaction (DynamoDB does, per table): the
    // figure is checked on the modeled answer above only.
    one_trace_through_both_services(client, None).await;
}

/// like-service in front of mysfits-service (over `dynamodb`), each exporting to `receiver` at
/// `sample_ratio`: the like router, mysfits-service's URL and the two services' telemetry
/// (like-service's first).
async fn both_services(
    receiver: &Receiver,
    dynamodb: DynamoDb,
    sample_ratio: f64,
) -> (Router, String, Telemetry, Telemetry) {
    let like_telemetry = exporting(receiver, "like-service", sample_ratio);
    let mysfits_telemetry = exporting(receiver, "mysfits-service", sample_ratio);
    let mysfits_url = serve(under(internal_router(dynamodb), &mysfits_telemetry)).await;
    let likes = under(
        like_router(&mysfits_url, Duration::from_secs(5)),
        &like_telemetry,
    );
    (likes, mysfits_url, like_telemetry, mysfits_telemetry)
}

/// A like of `mysfit` through `likes`, the caller sending `header` (name, value) when given;
/// the reply must be a 200.
async fn like_with(likes: &Router, mysfit: &str, header: Option<(&str, String)>) -> Reply {
    let mut request = http::Request::post(format!("/mysfits/{mysfit}/like"));
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let reply = send_request(likes, request.body(Body::empty()).unwrap()).await;
    reply.expect(StatusCode::OK);
    reply
}

/// A like through like-service and mysfits-service (over `dynamodb`, where pollen has no like
/// yet) under a caller's sampled X-Ray context: one trace, each span the child of the one
/// before (mysfits-service's three DynamoDB calls — control item, transaction, read back — all
/// children of its server span). `capacity` is what DynamoDB's answer says the write consumed (`None`: any figure).
async fn one_trace_through_both_services(dynamodb: DynamoDb, capacity: Option<&str>) {
    let receiver = Receiver::start().await;
    // The default ratio (0.1): the caller's "Sampled=1" decides, not the ratio.
    let (likes, mysfits_url, like_telemetry, mysfits_telemetry) =
        both_services(&receiver, dynamodb, telemetry::DEFAULT_SAMPLE_RATIO).await;
    let reply = like_with(
        &likes,
        "pollen",
        Some((
            "x-amzn-trace-id",
            format!("Root={ROOT};Parent={CALLER_SPAN};Sampled=1"),
        )),
    )
    .await;
    assert_eq!(reply.body["likes"], 1);
    shut_down(like_telemetry).await;
    shut_down(mysfits_telemetry).await;

    let spans = receiver.spans();
    assert!(
        spans.iter().all(|span| span.trace_id == TRACE_ID),
        "one trace, the caller's: {spans:#?}"
    );
    let like_server = receiver.span("like-service", "POST /mysfits/{id}/like");
    let like_client = receiver.span("like-service", "POST /mysfits/{id}/fulfill-like");
    let mysfits_server = receiver.span("mysfits-service", "POST /mysfits/{id}/fulfill-like");
    let dynamodb = receiver.span("mysfits-service", "DynamoDB.TransactWriteItems");
    assert_eq!(spans.len(), 6, "{spans:#?}");
    let reads: Vec<_> = spans
        .iter()
        .filter(|span| span.name == "DynamoDB.GetItem")
        .collect();
    assert_eq!(reads.len(), 2, "the control item and the read back");

    assert_eq!(like_server.kind, SERVER);
    assert_eq!(like_server.parent_span_id, CALLER_SPAN);
    assert_eq!(like_server.attributes["http.route"], "/mysfits/{id}/like");
    assert_eq!(like_server.attributes["http.request.method"], "POST");
    assert_eq!(like_server.attributes["http.response.status_code"], "200");
    assert_eq!(like_server.resource["cloud.region"], REGION);

    assert_eq!(like_client.kind, CLIENT);
    assert_eq!(like_client.parent_span_id, like_server.span_id);
    assert_eq!(
        like_client.attributes["url.full"],
        format!("{mysfits_url}/mysfits/pollen/fulfill-like")
    );
    assert_eq!(like_client.attributes["http.response.status_code"], "200");

    assert_eq!(mysfits_server.kind, SERVER);
    assert_eq!(mysfits_server.parent_span_id, like_client.span_id);
    assert_eq!(
        mysfits_server.attributes["http.route"],
        "/mysfits/{id}/fulfill-like"
    );
    assert_eq!(mysfits_server.resource["cloud.region"], REGION);

    assert_eq!(dynamodb.kind, CLIENT);
    assert_eq!(dynamodb.parent_span_id, mysfits_server.span_id);
    for read in &reads {
        assert_eq!(read.parent_span_id, mysfits_server.span_id);
    }
    assert_eq!(dynamodb.attributes["rpc.system"], "aws-api");
    assert_eq!(dynamodb.attributes["rpc.service"], "DynamoDB");
    assert_eq!(dynamodb.attributes["rpc.method"], "TransactWriteItems");
    assert_eq!(dynamodb.attributes["aws.dynamodb.table_names"], TABLE);
    if let Some(capacity) = capacity {
        assert_eq!(
            dynamodb.attributes["aws.dynamodb.consumed_capacity"],
            capacity
        );
    }
    assert!(spans.iter().all(|span| span.status != 2), "no errors");
}

/// A stand-in mysfits-service recording the trace headers it is sent.
async fn recording_upstream() -> (String, std::sync::Arc<std::sync::Mutex<Vec<HeaderMap>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorder = {
        let seen = seen.clone();
        Router::new().route(
            "/mysfits/{id}/fulfill-like",
            post(move |headers: HeaderMap| async move {
                seen.lock().unwrap().push(headers);
                axum::Json(serde_json::json!({"mysfitId": "bramble", "likes": 7}))
            }),
        )
    };
    (serve(recorder).await, seen)
}

/// A 5xx marks the server span as an error (through the trace layer's failure event) and its
/// status code is an attribute, even when the service itself logs nothing: here the upstream
/// answers a JSON 500, which like-service passes on as a 502 without a warning.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_error_answered_without_an_error_log_marks_the_server_span() {
    let receiver = Receiver::start().await;
    let telemetry = exporting(&receiver, "like-service", 1.0);
    let failing = Router::new().route(
        "/mysfits/{id}/fulfill-like",
        post(|| async {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(serde_json::json!({"error": "the table is sick"})),
            )
        }),
    );
    let upstream = serve(failing).await;
    let likes = under(like_router(&upstream, Duration::from_secs(5)), &telemetry);
    let request = http::Request::post("/mysfits/bramble/like").body(Body::empty());
    let reply = send_request(&likes, request.unwrap()).await;
    assert!(reply.status.is_server_error(), "{:?}", reply.status);
    shut_down(telemetry).await;

    let server = receiver.span("like-service", "POST /mysfits/{id}/like");
    assert_eq!(
        server.attributes["http.response.status_code"],
        reply.status.as_u16().to_string()
    );
    assert_eq!(server.status, 2, "a 5xx is an error");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_load_balancers_root_only_trace_id_is_continued_and_passed_on() {
    let receiver = Receiver::start().await;
    let telemetry = exporting(&receiver, "like-service", 1.0);
    let (upstream, seen) = recording_upstream().await;
    let likes = under(like_router(&upstream, Duration::from_secs(5)), &telemetry);
    // What an ALB adds to a request that came without one: a Root, no Parent, no Sampled.
    let reply = like_with(
        &likes,
        "bramble",
        Some(("x-amzn-trace-id", format!("Root={ROOT}"))),
    )
    .await;
    assert_eq!(reply.body["likes"], 7);
    assert_eq!(
        reply.headers["x-amzn-trace-id"],
        format!("Root={ROOT}"),
        "echoed as received"
    );
    shut_down(telemetry).await;

    let server = receiver.span("like-service", "POST /mysfits/{id}/like");
    assert_eq!(server.trace_id, TRACE_ID);
    assert_eq!(server.parent_span_id, "", "the trace starts here");
    let client = receiver.span("like-service", "POST /mysfits/{id}/fulfill-like");
    assert_eq!(client.trace_id, TRACE_ID);
    let headers = seen.lock().unwrap()[0].clone();
    assert_eq!(
        headers["traceparent"],
        format!("00-{TRACE_ID}-{}-01", client.span_id)
    );
    assert_eq!(
        headers["x-amzn-trace-id"],
        format!("Root={ROOT};Parent={};Sampled=1", client.span_id)
    );
}

/// The trace id, span id and flags of a `traceparent` (`00-<trace>-<span>-<flags>`), shape checked.
fn traceparent_parts(header: &str) -> (String, String, String) {
    let parts: Vec<&str> = header.split('-').collect();
    assert_eq!(parts.len(), 4, "{header}");
    assert_eq!(parts[0], "00", "{header}");
    assert_eq!(parts[1].len(), 32, "{header}");
    assert_eq!(parts[2].len(), 16, "{header}");
    assert_ne!(parts[2], "0000000000000000", "{header}");
    (parts[1].into(), parts[2].into(), parts[3].into())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_not_sampled_exports_nothing_and_tells_the_next_service_not_to_record() {
    let receiver = Receiver::start().await;
    let telemetry = exporting(&receiver, "like-service", 0.0);
    let (upstream, seen) = recording_upstream().await;
    let likes = under(like_router(&upstream, Duration::from_secs(5)), &telemetry);
    // The load balancer's root-only header, then no header at all, then a root-only header
    // claiming "sampled" (no Parent: no context to follow, as the SDK reads it): all left to our
    // ratio, 0.
    for header in [
        Some(format!("Root={ROOT}")),
        None,
        Some(format!("Root={ROOT};Sampled=1")),
    ] {
        like_with(
            &likes,
            "bramble",
            header.map(|value| ("x-amzn-trace-id", value)),
        )
        .await;
    }
    shut_down(telemetry).await;
    assert_eq!(receiver.spans().len(), 0, "{:#?}", receiver.spans());

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    // The load balancer's trace id is kept, marked not sampled in both formats.
    let (trace_id, span_id, flags) = traceparent_parts(seen[0]["traceparent"].to_str().unwrap());
    assert_eq!((trace_id.as_str(), flags.as_str()), (TRACE_ID, "00"));
    assert_eq!(
        seen[0]["x-amzn-trace-id"],
        format!("Root={ROOT};Parent={span_id};Sampled=0")
    );
    // A trace id of our own (X-Ray's form: its first 8 digits are the time), not sampled.
    let (trace_id, _, flags) = traceparent_parts(seen[1]["traceparent"].to_str().unwrap());
    assert_ne!(trace_id, TRACE_ID);
    assert_eq!(flags, "00");
    let x_ray_seconds = u64::from_str_radix(&trace_id[..8], 16).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(x_ray_seconds) < 600, "{trace_id}");
    assert!(
        seen[1]["x-amzn-trace-id"]
            .to_str()
            .unwrap()
            .ends_with(";Sampled=0")
    );
    let (trace_id, _, flags) = traceparent_parts(seen[2]["traceparent"].to_str().unwrap());
    assert_eq!((trace_id.as_str(), flags.as_str()), (TRACE_ID, "00"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trace_the_caller_did_not_sample_leaves_no_fragment_in_either_service() {
    // Each service records every trace it starts (ratio 1), yet follows the caller's "no".
    let receiver = Receiver::start().await;
    let (likes, _, like_telemetry, mysfits_telemetry) =
        both_services(&receiver, dynamodb_liking_pollen(), 1.0).await;
    let reply = like_with(
        &likes,
        "pollen",
        Some(("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-00"))),
    )
    .await;
    assert_eq!(reply.body["likes"], 1);
    shut_down(like_telemetry).await;
    shut_down(mysfits_telemetry).await;
    assert_eq!(receiver.spans().len(), 0, "{:#?}", receiver.spans());
}

#[tokio::test(flavor = "multi_thread")]
async fn health_checks_are_never_traced() {
    let receiver = Receiver::start().await;
    let telemetry = exporting(&receiver, "like-service", 1.0);
    let (upstream, _) = recording_upstream().await;
    let likes = under(like_router(&upstream, Duration::from_secs(5)), &telemetry);
    for _ in 0..3 {
        send(&likes, "GET", "/health").await.expect(StatusCode::OK);
    }
    // A like next to them is recorded: the ratio is 1.
    send(&likes, "POST", "/mysfits/bramble/like")
        .await
        .expect(StatusCode::OK);
    shut_down(telemetry).await;
    let names: Vec<String> = receiver.spans().into_iter().map(|span| span.name).collect();
    assert_eq!(
        names.iter().filter(|name| name.contains("health")).count(),
        0,
        "{names:?}"
    );
    assert!(
        names.contains(&"POST /mysfits/{id}/like".to_string()),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_or_stalled_collector_changes_no_answer_and_shutdown_still_ends() {
    // Connections accepted by the kernel and never answered: each export waits out its timeout.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stalled_endpoint = format!("http://{}", stalled.local_addr().unwrap());
    for endpoint in [testbed::dead_endpoint(), stalled_endpoint] {
        let settings = TracingSettings {
            endpoint: Some(endpoint.clone()),
            sample_ratio: 1.0,
        };
        let telemetry = telemetry::build("like-service", REGION, &settings).unwrap();
        let (upstream, _) = recording_upstream().await;
        let likes = under(like_router(&upstream, Duration::from_secs(5)), &telemetry);
        let started = Instant::now();
        // More spans than one export batch (512), so exports run while requests are served.
        for _ in 0..300 {
            let reply = send(&likes, "POST", "/mysfits/bramble/like").await;
            reply.expect(StatusCode::OK);
            assert_eq!(
                reply.body,
                serde_json::json!({"mysfitId": "bramble", "likes": 7})
            );
        }
        // A generous bound: one export waiting inline would take 2 s (EXPORT_TIMEOUT).
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{endpoint}: 300 likes took {:?}",
            started.elapsed()
        );
        let stopping = Instant::now();
        shut_down(telemetry).await;
        assert!(
            stopping.elapsed() < telemetry::SHUTDOWN_WAIT + Duration::from_secs(2),
            "{endpoint}: shutdown took {:?}",
            stopping.elapsed()
        );
    }
}

/// The like-service binary on a free port, its upstream a port where nothing listens.
fn like_service_binary(extra: &[(&str, &str)]) -> (Child, String) {
    let port = testbed::free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_like-service"));
    command
        .env_clear()
        .env("AWS_REGION", REGION)
        .env("MYSFITS_SERVICE_URL", testbed::dead_endpoint())
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in extra {
        command.env(name, value);
    }
    (command.spawn().unwrap(), format!("http://127.0.0.1:{port}"))
}

/// Waits for `/health`, asks for one like (502: the upstream is down), stops the process with
/// SIGTERM and returns its log (stdout).
async fn one_like_then_sigterm(mut child: Child, url: &str) -> String {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(reply) = client.get(format!("{url}/health")).send().await
            && reply.status() == StatusCode::OK
        {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "like-service exited");
        assert!(started.elapsed() < Duration::from_secs(10), "never healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reply = client
        .post(format!("{url}/mysfits/bramble/like"))
        .header("x-amzn-trace-id", format!("Root={ROOT}"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_GATEWAY);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || {
        let _ = &mut child;
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "exit after SIGTERM: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_exports_only_with_an_endpoint_flushes_at_sigterm_and_logs_the_ids() {
    let receiver = Receiver::start().await;
    // No OTEL_EXPORTER_OTLP_ENDPOINT: nothing is exported, even with the OTLP library's own
    // per-signal variable pointing at the receiver.
    let traces_url = format!("{}/v1/traces", receiver.endpoint);
    let (child, url) = like_service_binary(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces_url),
        ("MYSFITS_TRACE_SAMPLE_RATIO", "1"),
    ]);
    let log = one_like_then_sigterm(child, &url).await;
    assert_eq!(receiver.requests(), 0, "no exporter without the endpoint");
    assert!(!log.contains("openTelemetry"), "{log}");

    // With it: the spans are buffered (for up to a minute here) and exported at SIGTERM.
    let (child, url) = like_service_binary(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint),
        ("MYSFITS_TRACE_SAMPLE_RATIO", "1"),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
    ]);
    let log = one_like_then_sigterm(child, &url).await;
    assert!(receiver.requests() >= 1, "flushed at SIGTERM");
    let server = receiver.span("like-service", "POST /mysfits/{id}/like");
    assert_eq!(server.trace_id, TRACE_ID);
    assert_eq!(server.attributes["http.response.status_code"], "502");
    assert_eq!(server.status, 2, "a 5xx marks the server span as an error");
    let attempts: Vec<_> = receiver
        .spans()
        .into_iter()
        .filter(|span| span.name == "POST /mysfits/{id}/fulfill-like")
        .collect();
    assert_eq!(
        attempts.len(),
        like_service::upstream::MAX_ATTEMPTS as usize
    );
    assert!(attempts.iter().all(|span| span.status == 2));
    // The warning logged inside the request carries its trace and span ids (the request's: the
    // logs, at info, do not see the debug-level client span).
    let warning: serde_json::Value = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["fields"]["message"] == "calling mysfits-service failed")
        .unwrap_or_else(|| panic!("no upstream warning in {log}"));
    assert_eq!(warning["openTelemetry"]["traceId"], TRACE_ID);
    assert_eq!(warning["openTelemetry"]["spanId"], server.span_id);
}

#[test]
fn a_bad_sample_ratio_stops_the_binary_before_it_listens() {
    let output = Command::new(env!("CARGO_BIN_EXE_like-service"))
        .env_clear()
        .env("AWS_REGION", REGION)
        .env("MYSFITS_SERVICE_URL", "http://127.0.0.1:9")
        .env("PORT", testbed::free_port().to_string())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
        .env("MYSFITS_TRACE_SAMPLE_RATIO", "10%")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "like-service: bad environment: MYSFITS_TRACE_SAMPLE_RATIO is \"10%\", not a number \
         from 0 to 1\nfix: set MYSFITS_TRACE_SAMPLE_RATIO to a share of requests to trace from 0 \
         to 1 (e.g. 0.1), or unset it for 0.1\n"
    );
}
