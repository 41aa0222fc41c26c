//! JSON logs, one object per line on stdout (what CloudWatch Logs and `awslogs` expect), with the
//! request's span fields (`request_id`, `trace_id`: the X-Amzn-Trace-Id, `http.request.method`,
//! `url.path`, the OpenTelemetry names) on every line logged inside
//! it and, when the request is traced ([`crate::telemetry`]: exported and sampled), the
//! OpenTelemetry trace and span ids (`"openTelemetry": {"traceId", "spanId"}`); a request not
//! sampled builds no OpenTelemetry span, so its lines carry the `X-Amzn-Trace-Id` (which the load
//! balancer always sets, and like-service passes on) and the request id only. `RUST_LOG`
//! overrides the default level (info).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The logs alone (no trace export).
pub fn init() {
    // A second initialisation (tests that start several routers) is harmless: keep the first.
    let _ = tracing_subscriber::registry()
        .with(json_layer(false).with_filter(env_filter()))
        .try_init();
}

pub(crate) fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

pub(crate) fn json_layer<S>(opentelemetry_ids: bool) -> json_subscriber::fmt::Layer<S>
where
    S: tracing::Subscriber + for<'lookup> tracing_subscriber::registry::LookupSpan<'lookup>,
{
    json_subscriber::fmt::layer()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_opentelemetry_ids(opentelemetry_ids)
        .with_writer(std::io::stdout)
}
