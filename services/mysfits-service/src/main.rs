//! mysfits-service: reads its settings from the environment (stopping with a message naming the
//! variable when one is wrong), then serves until SIGTERM: the public API on `PORT`, fulfill-like
//! on `INTERNAL_PORT`. See the library for the API.

use std::process::ExitCode;

use mysfits_service::{AppState, MysfitsTable, Settings, dynamodb_client, internal_router, router};
use service_common::env::process_env;
use service_common::telemetry;

const SERVICE: &str = "mysfits-service";

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
    tracing::info!(
        table = %settings.table,
        region = %settings.region,
        home_region = %settings.home_region,
        endpoint_url = settings.endpoint_url.as_deref().unwrap_or("(AWS)"),
        traces_to = settings.tracing.endpoint.as_deref().unwrap_or("(off)"),
        trace_sample_ratio = settings.tracing.sample_ratio,
        "starting"
    );
    let client = dynamodb_client(&settings.region, settings.endpoint_url.as_deref()).await;
    let table = MysfitsTable::new(client, &settings.table).with_home_region(&settings.home_region);
    let state = AppState::new(table, &settings.region).with_list_cache(settings.list_cache);
    let exit = service_common::server::run_all(
        vec![
            (router(state.clone()), settings.port, "PORT"),
            (
                internal_router(state),
                settings.internal_port,
                "INTERNAL_PORT",
            ),
        ],
        SERVICE,
    )
    .await;
    telemetry.shutdown();
    exit
}
