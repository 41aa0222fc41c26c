//! Load for scripts/bench-services: one URL, keep-alive connections, for a fixed time, either at a
//! fixed rate (open loop: request i leaves at start + i/rate whether or not earlier ones have
//! answered, so a stall shows in p99 instead of slowing the load) or as fast as `--connections` closed loops go (`--rate 0`). Prints one JSON
//! line: requests, seconds, achieved req/s, errors (transport or non-2xx), p50/p99/max in µs.
//!
//!     bench-load URL METHOD RATE SECONDS CONNECTIONS

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

struct Totals {
    latency: Histogram<u64>,
    errors: u64,
}

async fn one(client: &reqwest::Client, url: &str, method: &reqwest::Method) -> bool {
    match client.request(method.clone(), url).send().await {
        Ok(response) => {
            let ok = response.status().is_success();
            response.bytes().await.is_ok() && ok
        }
        Err(_) => false,
    }
}

fn record(totals: &Mutex<Totals>, since: Instant, ok: bool) {
    let micros = since.elapsed().as_micros() as u64;
    let mut totals = totals.lock().expect("no panics while holding the lock");
    totals.latency.saturating_record(micros.max(1));
    if !ok {
        totals.errors += 1;
    }
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [url, method, rate, seconds, connections] = arguments.as_slice() else {
        eprintln!(
            "usage: bench-load URL METHOD RATE SECONDS CONNECTIONS (RATE 0: as fast as possible)"
        );
        std::process::exit(2);
    };
    let method: reqwest::Method = method.parse().expect("an HTTP method");
    let rate: f64 = rate.parse().expect("RATE is a number");
    let duration = Duration::from_secs_f64(seconds.parse().expect("SECONDS is a number"));
    let connections: usize = connections.parse().expect("CONNECTIONS is a number");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let totals = Arc::new(Mutex::new(Totals {
        latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        errors: 0,
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections.max(1) * 4)
        .build()
        .expect("an HTTP client");
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        if rate > 0.0 {
            let interval = Duration::from_secs_f64(1.0 / rate);
            let mut due = started;
            while due < started + duration {
                tokio::time::sleep_until(due.into()).await;
                // Timed from when the request left (the timer wakes up to 1 ms late: the
                // driver's lateness, not the service's), still without waiting for earlier ones.
                let sent = Instant::now();
                let (client, url, method, totals) =
                    (client.clone(), url.clone(), method.clone(), totals.clone());
                tasks.spawn(async move {
                    let ok = one(&client, &url, &method).await;
                    record(&totals, sent, ok);
                });
                due += interval;
                while tasks.try_join_next().is_some() {}
            }
        } else {
            for _ in 0..connections.max(1) {
                let (client, url, method, totals) =
                    (client.clone(), url.clone(), method.clone(), totals.clone());
                tasks.spawn(async move {
                    while started.elapsed() < duration {
                        let sent = Instant::now();
                        let ok = one(&client, &url, &method).await;
                        record(&totals, sent, ok);
                    }
                });
            }
        }
        while tasks.join_next().await.is_some() {}
    });
    let elapsed = started.elapsed().as_secs_f64();
    let totals = totals.lock().expect("no panics while holding the lock");
    let requests = totals.latency.len();
    println!(
        "{{\"requests\": {requests}, \"seconds\": {elapsed:.3}, \"rps\": {:.1}, \"errors\": {}, \"p50_us\": {}, \"p99_us\": {}, \"max_us\": {}}}",
        requests as f64 / elapsed,
        totals.errors,
        totals.latency.value_at_quantile(0.50),
        totals.latency.value_at_quantile(0.99),
        totals.latency.max(),
    );
}
