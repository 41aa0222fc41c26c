//! Probes and drill load must see a traffic shift that, like a Global Accelerator dial or a DNS
//! change, moves only NEW connections. A loopback TCP proxy stands in for the entry point: it
//! picks the backend region when it accepts a connection, and a connection it already has keeps
//! its backend for good. A prober that reuses a pooled keep-alive connection never sees the
//! switch; one that opens a new connection per request sees it at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use mysfits::failover::load::{self, LoadOptions};
use mysfits::failover::probe::{Prober, Verification, wait_for_region};
use tokio::net::{TcpListener, TcpStream};

/// A keep-alive HTTP server that always answers as `region`.
async fn backend(region: &'static str) -> std::net::SocketAddr {
    let app = Router::new().route(
        "/health",
        get(move || async move {
            (
                [("x-mysfits-region", region)],
                axum::Json(serde_json::json!({ "status": "ok", "region": region })),
            )
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// The entry point: new connections go to `second` once `switched` is set, existing ones stay
/// where they were accepted. Counts the connections it accepted.
struct Switch {
    url: String,
    switched: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

async fn switch(first: std::net::SocketAddr, second: std::net::SocketAddr) -> Switch {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let switched = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (flag, count) = (switched.clone(), accepted.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let target = if flag.load(Ordering::SeqCst) {
                second
            } else {
                first
            };
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    Switch {
        url: format!("http://{address}/health"),
        switched,
        accepted,
    }
}

#[tokio::test]
async fn verification_probes_see_a_switch_that_moves_only_new_connections() {
    let entry = switch(backend("us-east-1").await, backend("us-west-2").await).await;
    let prober = Prober::new(Duration::from_secs(2)).unwrap();
    for _ in 0..3 {
        let answer = prober.probe(&entry.url).await;
        assert_eq!(answer.region.as_deref(), Some("us-east-1"), "{answer:?}");
    }
    entry.switched.store(true, Ordering::SeqCst);
    let verification =
        wait_for_region(&prober, &entry.url, "us-west-2", Duration::from_secs(3)).await;
    assert!(
        matches!(verification, Verification::Verified { probes: 1, .. }),
        "the first probe after the switch must reach the new region: {verification:?}"
    );
    assert_eq!(
        entry.accepted.load(Ordering::SeqCst),
        4,
        "every probe opens its own connection"
    );
}

#[tokio::test]
async fn drill_load_sees_a_switch_that_moves_only_new_connections() {
    let entry = switch(backend("us-east-1").await, backend("us-west-2").await).await;
    let prober = Prober::new(Duration::from_secs(2)).unwrap();
    let started = Instant::now();
    let run = tokio::spawn(load::run(
        prober,
        LoadOptions {
            url: entry.url.clone(),
            rate: 20,
            duration: Duration::from_millis(1500),
            max_in_flight: 8,
        },
        started,
    ));
    tokio::time::sleep(Duration::from_millis(600)).await;
    entry.switched.store(true, Ordering::SeqCst);
    let switched_ms = u64::try_from(started.elapsed().as_millis()).unwrap();
    let run = run.await.unwrap();
    let before: Vec<_> = run
        .samples
        .iter()
        .filter(|sample| sample.sent_ms + 50 < switched_ms)
        .collect();
    // A request sent well after the switch (its connection is opened after it) must land on the
    // new region; a pooled client would keep sending over the connections it opened before.
    let after: Vec<_> = run
        .samples
        .iter()
        .filter(|sample| sample.sent_ms > switched_ms + 50)
        .collect();
    assert!(before.len() >= 5 && after.len() >= 5, "{:?}", run.samples);
    assert!(
        before
            .iter()
            .all(|sample| sample.answer.region.as_deref() == Some("us-east-1")),
        "{before:?}"
    );
    assert!(
        after
            .iter()
            .all(|sample| sample.answer.region.as_deref() == Some("us-west-2")),
        "requests after the switch stayed on the old region: {after:?}"
    );
    assert_eq!(entry.accepted.load(Ordering::SeqCst), run.samples.len());
}
