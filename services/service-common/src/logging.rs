//! JSON logs, one object per line on stdout (what CloudWatch Logs and `awslogs` expect), with the
//! request's span fields (request id, trace id, method, path) on every line logged inside it.
//! `RUST_LOG` overrides the default level (info).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second initialisation (tests that start several routers) is harmless: keep the first.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stdout)
        .try_init();
}
