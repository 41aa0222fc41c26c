//! like-service: calls a real mysfits-service router on a loopback port, and stand-in upstreams
//! that fail, stall or refuse connections to prove the 404/502/504 and retry rules.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use http::{HeaderMap, Request, StatusCode};

#[path = "../../mysfits-service/tests/service/support.rs"]
mod support;

#[path = "service/browser.rs"]
mod browser;

#[path = "service/otlp.rs"]
mod otlp;

#[path = "service/traces.rs"]
mod traces;

use support::*;

/// Serves `router` on a free loopback port; returns its base URL. The server ends with the test's
/// runtime.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

fn like_router(upstream_url: &str, attempt_timeout: Duration) -> Router {
    let upstream = like_service::Upstream::new(upstream_url, attempt_timeout).unwrap();
    like_service::router(like_service::AppState::new(upstream, REGION))
}

#[test]
fn settings_come_from_the_environment_and_bad_values_name_the_variable() {
    let like = like_service::Settings::from_env(&env(&[
        ("AWS_REGION", "us-east-1"),
        ("MYSFITS_SERVICE_URL", "http://alb.example/"),
        ("MYSFITS_SERVICE_TIMEOUT_MS", "750"),
    ]))
    .unwrap();
    assert_eq!(like.mysfits_service_url, "http://alb.example");
    assert_eq!(like.upstream_timeout, Duration::from_millis(750));
    let error = like_service::Settings::from_env(&env(&[("AWS_REGION", "us-east-1")]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("MYSFITS_SERVICE_URL is not set"), "{error}");
    let error = like_service::Settings::from_env(&env(&[
        ("AWS_REGION", "us-east-1"),
        ("MYSFITS_SERVICE_URL", "alb.example"),
    ]))
    .unwrap_err()
    .to_string();
    assert!(error.contains("http://alb.example"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn concurrent_likes_through_like_service_add_exactly_n() {
    const LIKES: usize = 40;
    let (_moto, _proxy, client) = seeded_one_at_a_time().await;
    let mysfits = mysfits_router(client.clone());
    let mysfits_url = serve(internal_router(client)).await;
    let likes = like_router(&mysfits_url, Duration::from_secs(5));

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..LIKES {
        let likes = likes.clone();
        tasks.spawn(async move { send(&likes, "POST", "/mysfits/pollen/like").await });
    }
    let mut counts_seen = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        let reply = reply.unwrap();
        reply.expect(StatusCode::OK);
        counts_seen.push(reply.body["likes"].as_u64().unwrap());
    }
    // A like is a transaction (no values returned) followed by a consistent read in the write
    // region: each answer counts its own like and maybe others' made meanwhile, never fewer.
    counts_seen.sort_unstable();
    assert!(
        counts_seen
            .iter()
            .enumerate()
            .all(|(rank, count)| *count > rank as u64 && *count <= LIKES as u64),
        "the n-th lowest count seen includes at least n likes: {counts_seen:?}"
    );
    let pollen = send(&mysfits, "GET", "/mysfits/pollen").await;
    assert_eq!(pollen.body["likes"], LIKES as u64);
    let others = send(&mysfits, "GET", "/mysfits/grimsby").await;
    assert_eq!(others.body["likes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn like_service_forwards_404_and_the_callers_ids() {
    let (_moto, client) = seeded().await;
    let mysfits_url = serve(internal_router(client)).await;
    let likes = like_router(&mysfits_url, Duration::from_secs(5));
    send(&likes, "POST", "/mysfits/nobody/like")
        .await
        .expect_error(StatusCode::NOT_FOUND, "no mysfit with id \"nobody\"");
    send(&likes, "POST", "/mysfits/bad%20id/like")
        .await
        .expect_error_body(
            StatusCode::BAD_REQUEST,
            "the mysfit id in the path is not valid: use 1 to 64 letters, digits, '-' or '_'",
        );
    send(&likes, "GET", "/mysfits/bramble/like")
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED, "GET");
    let health = send(&likes, "GET", "/health").await;
    health.expect(StatusCode::OK);
    assert_eq!(health.body["region"], REGION);

    // A stand-in upstream that records the ids it was sent.
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let recorder = {
        let seen = seen.clone();
        Router::new().route(
            "/mysfits/{id}/fulfill-like",
            post(move |headers: HeaderMap| async move {
                let text = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                seen.lock()
                    .unwrap()
                    .push((text("x-request-id"), text("x-amzn-trace-id")));
                axum::Json(serde_json::json!({"mysfitId": "bramble", "likes": 7}))
            }),
        )
    };
    let likes = like_router(&serve(recorder).await, Duration::from_secs(5));
    let reply = send_request(
        &likes,
        Request::post("/mysfits/bramble/like")
            .header("x-request-id", "abc-123")
            .header(
                "x-amzn-trace-id",
                "Root=1-00000000-000000000000000000000001",
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["likes"], 7);
    assert_eq!(reply.headers["x-request-id"], "abc-123");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(
            "abc-123".to_string(),
            "Root=1-00000000-000000000000000000000001".to_string()
        )]
    );
}

/// A stand-in upstream answering `status` with a JSON error, counting the calls it gets.
async fn failing_upstream(status: StatusCode) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = Router::new().route(
        "/mysfits/{id}/fulfill-like",
        post(move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (
                status,
                axum::Json(serde_json::json!({"error": "table on fire"})),
            )
        }),
    );
    (serve(router).await, calls)
}

#[tokio::test]
async fn like_service_maps_upstream_failures_and_retries_only_when_safe() {
    // 500: the like may have been counted; reported as 502 at once, not retried.
    let (url, calls) = failing_upstream(StatusCode::INTERNAL_SERVER_ERROR).await;
    send(
        &like_router(&url, Duration::from_secs(2)),
        "POST",
        "/mysfits/bramble/like",
    )
    .await
    .expect_error_body(
        StatusCode::BAD_GATEWAY,
        "mysfits-service answered 500 Internal Server Error: table on fire",
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // 503: nothing was written upstream; retried, then 502.
    let (url, calls) = failing_upstream(StatusCode::SERVICE_UNAVAILABLE).await;
    send(
        &like_router(&url, Duration::from_secs(2)),
        "POST",
        "/mysfits/bramble/like",
    )
    .await
    .expect_error_body(
        StatusCode::BAD_GATEWAY,
        "mysfits-service is unavailable: table on fire (after 3 attempts)",
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        like_service::upstream::MAX_ATTEMPTS as usize
    );

    // 503 with Retry-After (writes paused while the write region moves): passed on as it is,
    // header included, after one attempt (a retry within milliseconds would be refused too).
    let paused_calls = Arc::new(AtomicUsize::new(0));
    let counted = paused_calls.clone();
    let paused = serve(Router::new().route(
        "/mysfits/{id}/fulfill-like",
        post(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", "1")],
                    axum::Json(serde_json::json!({
                        "error": "writes are paused: a write-region move is under way"
                    })),
                )
            }
        }),
    ))
    .await;
    let reply = send(
        &like_router(&paused, Duration::from_secs(2)),
        "POST",
        "/mysfits/bramble/like",
    )
    .await;
    reply.expect_error_body(
        StatusCode::SERVICE_UNAVAILABLE,
        "mysfits-service is unavailable: writes are paused: a write-region move is under way",
    );
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(paused_calls.load(Ordering::SeqCst), 1);

    // Nothing listening: retried, then 502; the internal address is in the log, not the answer.
    let dead = testbed::dead_endpoint();
    send(
        &like_router(&dead, Duration::from_secs(2)),
        "POST",
        "/mysfits/bramble/like",
    )
    .await
    .expect_error_body(
        StatusCode::BAD_GATEWAY,
        "mysfits-service cannot be reached (no connection) (after 3 attempts)",
    );

    // A 200 that is not JSON is the upstream's fault.
    let garbage =
        serve(Router::new().route("/mysfits/{id}/fulfill-like", post(|| async { "not json" })))
            .await;
    send(
        &like_router(&garbage, Duration::from_secs(2)),
        "POST",
        "/mysfits/bramble/like",
    )
    .await
    .expect_error_body(
        StatusCode::BAD_GATEWAY,
        "mysfits-service answered 200 without a JSON body",
    );

    // A proxy's HTML page in front of mysfits-service is not pasted into the answer.
    let html = serve(Router::new().route(
        "/mysfits/{id}/fulfill-like",
        post(|| async {
            (
                StatusCode::BAD_GATEWAY,
                axum::response::Html("<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"),
            )
        }),
    ))
    .await;
    send(
        &like_router(&html, Duration::from_secs(2)),
        "POST",
        "/mysfits/bramble/like",
    )
    .await
    .expect_error_body(
        StatusCode::BAD_GATEWAY,
        "mysfits-service answered 502 Bad Gateway without a JSON error (its body is in like-service's log)",
    );
}

#[tokio::test]
async fn a_slow_upstream_is_a_504_after_one_attempt() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let slow = serve(Router::new().route(
        "/mysfits/{id}/fulfill-like",
        post(move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(5)).await;
            axum::Json(serde_json::json!({"likes": 1}))
        }),
    ))
    .await;
    let started = std::time::Instant::now();
    send(
        &like_router(&slow, Duration::from_millis(200)),
        "POST",
        "/mysfits/bramble/like",
    )
    .await
    .expect_error_body(
        StatusCode::GATEWAY_TIMEOUT,
        "mysfits-service did not answer within 200 ms; the like may or may not have been counted",
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the attempt timeout applies"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a timed-out like is never retried"
    );
}
