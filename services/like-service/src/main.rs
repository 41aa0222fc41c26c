//! like-service: reads its settings from the environment (stopping with a message naming the
//! variable when one is wrong), then serves until SIGTERM. See the library for the API.

use std::process::ExitCode;

use like_service::{AppState, Settings, Upstream, router};
use service_common::env::process_env;
use service_common::telemetry;

const SERVICE: &str = "like-service";

// One thread: a Fargate task of 0.25 vCPU gains nothing from more workers, and one thread saves
// the cross-thread wake-ups (futex, park/unpark) of each request (scripts/bench-services).
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let settings = match Settings::from_env(&process_env()) {
        Ok(settings) => settings,
        Err(error) => {
            service_common::logging::init();
            return service_common::server::cannot_start(SERVICE, &error);
        }
    };
    let telemetry = match telemetry::init(SERVICE, &settings.region, &settings.tracing) {
        Ok(telemetry) => telemetry,
        Err(error) => return service_common::server::cannot_start(SERVICE, &error),
    };
    let upstream = match Upstream::new(&settings.mysfits_service_url, settings.upstream_timeout) {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::error!(%error, "cannot build the HTTP client");
            eprintln!("like-service: cannot build the HTTP client: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        region = %settings.region,
        mysfits_service_url = %settings.mysfits_service_url,
        upstream_timeout_ms = settings.upstream_timeout.as_millis() as u64,
        traces_to = settings.tracing.endpoint.as_deref().unwrap_or("(off)"),
        trace_sample_ratio = settings.tracing.sample_ratio,
        "starting"
    );
    let state = AppState::new(upstream, &settings.region);
    let exit = service_common::server::run(router(state), settings.port, SERVICE).await;
    telemetry.shutdown();
    exit
}
