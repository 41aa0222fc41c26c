//! Bounded, open-loop HTTP load: requests leave at a fixed rate whether or not earlier ones have
//! answered (so a stalled region shows up as errors and latency, not as fewer requests), with a
//! cap on requests in flight and a hard stop after the duration.
//!
//! Why not a load-testing framework: the drill needs every response's serving region and send
//! time relative to the traffic shifts, a constant arrival rate, and no runtime or CLI of its own;
//! goose (the maintained Rust framework) runs closed-loop users under its own controller and pulls
//! a second HTTP stack. This is one tokio interval over the reqwest client already compiled in,
//! with latencies summarised by hdrhistogram.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

use super::probe::{Answer, Prober};
use crate::progress::elapsed_ms;

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub url: String,
    /// Requests per second.
    pub rate: u32,
    pub duration: Duration,
    /// Requests allowed in flight at once; a tick beyond it is counted as dropped.
    pub max_in_flight: usize,
}

/// One request: when it left (since the load started) and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub sent_ms: u64,
    pub answer: Answer,
}

/// A sample as the drill's analyses see one: `status` None is a connection failure.
#[cfg(test)]
pub(crate) fn sample(sent_ms: u64, status: Option<u16>, region: &str) -> Sample {
    Sample {
        sent_ms,
        answer: Answer {
            status,
            region: Some(region.into()),
            latency_ms: 5,
            error: status.is_none().then(|| "connection failed".to_string()),
        },
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadRun {
    pub samples: Vec<Sample>,
    /// Ticks with no request sent because too many were in flight.
    pub dropped: u64,
}

/// Runs the load from `started` for `options.duration`, then waits for requests in flight (each
/// bounded by the prober's timeout).
pub async fn run(prober: Prober, options: LoadOptions, started: Instant) -> LoadRun {
    let mut samples = Vec::new();
    let mut in_flight = JoinSet::new();
    let mut dropped = 0;
    let period = Duration::from_secs_f64(1.0 / f64::from(options.rate.max(1)));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = u64::from(options.rate).saturating_mul(options.duration.as_secs().max(1));
    for _ in 0..total {
        ticks.tick().await;
        if started.elapsed() >= options.duration {
            break;
        }
        while let Some(done) = in_flight.try_join_next() {
            samples.extend(done.ok());
        }
        if in_flight.len() >= options.max_in_flight {
            dropped += 1;
            continue;
        }
        let prober = prober.clone();
        let url = options.url.clone();
        in_flight.spawn(async move {
            let sent_ms = elapsed_ms(started.elapsed());
            let answer = prober.probe(&url).await;
            Sample { sent_ms, answer }
        });
    }
    while let Some(done) = in_flight.join_next().await {
        samples.extend(done.ok());
    }
    samples.sort_by_key(|sample| sample.sent_ms);
    LoadRun { samples, dropped }
}
