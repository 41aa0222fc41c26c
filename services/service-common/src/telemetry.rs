//! OpenTelemetry traces through `tracing`, exported as OTLP over HTTP/protobuf to a collector
//! (in AWS the ADOT sidecar on `127.0.0.1:4318`), and the JSON logs of [`crate::logging`] with the
//! trace and span ids on every line.
//!
//! Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then there is no exporter, no OpenTelemetry
//! layer and no extra span, only the JSON logs. On, spans go to a bounded queue that a batch
//! processor drains from its own thread: a dead or slow collector costs dropped spans, never a
//! request's time. Ids are X-Ray-compatible (the first 32 bits of a trace id are its start time,
//! which X-Ray requires); the context travels as W3C `traceparent` and X-Ray `X-Amzn-Trace-Id`,
//! so the load balancer's trace id is continued.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Link, SpanContext, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_aws::trace::XrayPropagator;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, IdGenerator, RandomIdGenerator, Sampler,
    SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample,
};
use tracing::Dispatch;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;

use crate::env::{ConfigError, Env};
use crate::logging;

pub const ENDPOINT_VARIABLE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const SAMPLE_RATIO_VARIABLE: &str = "MYSFITS_TRACE_SAMPLE_RATIO";
/// One request in ten: enough for a service map and latency percentiles at the app's rates, at a
/// fraction of the export cost (scripts/bench-services).
pub const DEFAULT_SAMPLE_RATIO: f64 = 0.1;
/// Spans waiting for export; past this they are dropped, not queued without bound.
pub const MAX_QUEUE: usize = 2048;
/// How long a span may wait for its batch: short, so few spans are held in memory (the default,
/// 5 s, holds five times as many for the same export cost).
pub const EXPORT_DELAY: Duration = Duration::from_secs(1);
/// How long one export may take before it is given up (the collector is local: a slow one is sick).
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long shutdown waits for the buffered spans to leave: well inside the ECS stop timeout.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// Tracing settings, from the environment like the services' other settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TracingSettings {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (e.g. `http://127.0.0.1:4318`): traces go to
    /// `<endpoint>/v1/traces`. Unset or empty: tracing is off.
    pub endpoint: Option<String>,
    /// `MYSFITS_TRACE_SAMPLE_RATIO`, 0 to 1 (default [`DEFAULT_SAMPLE_RATIO`]): the share of new
    /// traces recorded; a caller's sampling decision is followed.
    pub sample_ratio: f64,
}

impl TracingSettings {
    pub const OFF: TracingSettings = TracingSettings {
        endpoint: None,
        sample_ratio: DEFAULT_SAMPLE_RATIO,
    };

    pub fn from_env<F: Fn(&str) -> Option<String>>(
        env: &Env<F>,
    ) -> Result<TracingSettings, ConfigError> {
        let endpoint = env.url(ENDPOINT_VARIABLE)?;
        let sample_ratio = match env.optional(SAMPLE_RATIO_VARIABLE) {
            None => DEFAULT_SAMPLE_RATIO,
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|ratio| (0.0..=1.0).contains(ratio))
                .ok_or_else(|| ConfigError {
                    variable: SAMPLE_RATIO_VARIABLE,
                    problem: format!("is {text:?}, not a number from 0 to 1"),
                    fix: format!(
                        "set {SAMPLE_RATIO_VARIABLE} to a share of requests to trace from 0 to 1 \
                         (e.g. 0.1), or unset it for {DEFAULT_SAMPLE_RATIO}"
                    ),
                })?,
        };
        Ok(TracingSettings {
            endpoint,
            sample_ratio,
        })
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether this process exports traces: the middleware adds its OpenTelemetry span fields and
/// propagation headers only then.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// What [`init`] set up; [`Telemetry::shutdown`] flushes it.
#[must_use = "call shutdown() when the server has stopped, to flush the buffered spans"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    dispatch: Dispatch,
}

#[derive(Debug)]
pub struct TelemetryError(String);

impl std::fmt::Display for TelemetryError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for TelemetryError {}

/// Sets up the JSON logs and, when `settings` has an endpoint, the trace export of `service`
/// (its `service.name`) in `region` (`cloud.region`), for the whole process. A second call in one
/// process keeps the first subscriber.
pub fn init(
    service: &'static str,
    region: &str,
    settings: &TracingSettings,
) -> Result<Telemetry, TelemetryError> {
    let telemetry = build(service, region, settings)?;
    let _ = tracing::dispatcher::set_global_default(telemetry.dispatch.clone());
    Ok(telemetry)
}

/// What [`init`] installs, not installed: the subscriber is [`Telemetry::dispatch`]. Tests run
/// both services in one process, each under its own (`WithSubscriber::with_subscriber`).
pub fn build(
    service: &'static str,
    region: &str,
    settings: &TracingSettings,
) -> Result<Telemetry, TelemetryError> {
    let Some(endpoint) = settings.endpoint.as_deref() else {
        let subscriber = tracing_subscriber::registry()
            .with(logging::json_layer(false).with_filter(logging::env_filter()));
        return Ok(Telemetry {
            provider: None,
            dispatch: Dispatch::new(subscriber),
        });
    };
    let traces_url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(&traces_url)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|error| {
            TelemetryError(format!(
                "cannot export traces to {traces_url}: {error} (fix: set {ENDPOINT_VARIABLE} to \
                 the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318, or unset it)"
            ))
        })?;
    // The SDK reads the standard OTEL_BSP_* variables itself; only its defaults change here.
    let mut batch = BatchConfigBuilder::default();
    if std::env::var_os("OTEL_BSP_MAX_QUEUE_SIZE").is_none() {
        batch = batch.with_max_queue_size(MAX_QUEUE);
    }
    if std::env::var_os("OTEL_BSP_SCHEDULE_DELAY").is_none() {
        batch = batch.with_scheduled_delay(EXPORT_DELAY);
    }
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch.build())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(ContinuingSampler::new(settings.sample_ratio))
        .with_id_generator(ContinuingIdGenerator::default())
        .with_resource(
            Resource::builder_empty()
                .with_service_name(service)
                .with_attribute(KeyValue::new("cloud.region", region.to_string()))
                .with_attribute(KeyValue::new("cloud.provider", "aws"))
                .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                .build(),
        )
        .build();
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        // Per span, these cost clock reads on every enter and exit (busy/idle times) and five
        // attributes (source location, thread) that say nothing the span name does not.
        .with_tracked_inactivity(false)
        // Making a span's OpenTelemetry context current on every enter (each poll of a request)
        // serves other OpenTelemetry instrumentation, which these services have none of: a
        // child's parent is the current `tracing` span, and `inject` reads the span it is given.
        .with_context_activation(false)
        .with_location(false)
        .with_threads(false)
        .with_filter(
            // Cached per call site (it reads only the metadata); the hint lets `trace!` call
            // sites (the AWS SDK has many) be skipped by a level comparison.
            tracing_subscriber::filter::filter_fn(exported)
                .with_max_level_hint(tracing_subscriber::filter::LevelFilter::DEBUG),
        );
    let subscriber = tracing_subscriber::registry()
        .with(logging::json_layer(true).with_filter(logging::env_filter()))
        .with(otel_layer)
        // Found by its type (see `decide`), never called: filtered OFF so it keeps the level hint
        // and the call-site interest the layers above computed (an unfiltered layer would make
        // every `trace!` in hyper and the SDK a per-call check).
        .with(
            EntrySampler {
                sampler: ContinuingSampler::new(settings.sample_ratio),
                ids: RandomIdGenerator::default(),
                propagator: propagator(),
            }
            .with_filter(tracing_subscriber::filter::LevelFilter::OFF),
        );
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Telemetry {
        provider: Some(provider),
        dispatch: Dispatch::new(subscriber),
    })
}

/// `X-Amzn-Trace-Id` and W3C `traceparent`, read and written together; traceparent last, so it
/// wins when a request has both: between our own services it is the one to follow (it carries
/// the sampling decision); X-Amzn-Trace-Id is what the load balancer sends. Held by each
/// subscriber's [`EntrySampler`], not the global propagator, which every use would read through
/// a lock.
fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(XrayPropagator::default()),
        Box::new(TraceContextPropagator::new()),
    ])
}

/// What becomes an OpenTelemetry span or span event: our spans (the server span is `info`, the
/// client and DynamoDB spans `debug`) and warnings and errors. The AWS SDK's own spans (`debug`)
/// stay out: our DynamoDB span has what they have plus the table and the consumed capacity. So
/// does the request span of a request that is not recorded ([`UNRECORDED_TARGET`]).
fn exported(metadata: &tracing::Metadata<'_>) -> bool {
    if metadata.target() == UNRECORDED_TARGET {
        return false;
    }
    let ours = ["service_common", "mysfits_service", "like_service"]
        .iter()
        .any(|krate| metadata.target().starts_with(krate));
    if metadata.is_span() {
        *metadata.level() <= tracing::Level::INFO
            || (ours && *metadata.level() <= tracing::Level::DEBUG)
    } else {
        *metadata.level() <= tracing::Level::WARN
    }
}

impl Telemetry {
    /// Whether traces are exported.
    pub fn is_exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// The logs and, when exporting, the OpenTelemetry layer, as one subscriber.
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }

    /// Exports what is buffered, waiting at most [`SHUTDOWN_WAIT`]: the server has stopped, so
    /// blocking this thread delays nothing but the exit.
    pub fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        if let Err(error) = provider.shutdown_with_timeout(SHUTDOWN_WAIT) {
            tracing::warn!(%error, "buffered spans were not all exported at shutdown");
        }
    }
}

/// The sampling decision for one request, made once where it enters (see [`decide`]) and kept
/// for everything it does: a request that is not recorded builds no OpenTelemetry span at all,
/// neither its server span nor its client and DynamoDB spans, so it costs what it costs with
/// tracing off (the bench in scripts/bench-services measures this).
#[derive(Debug, Clone)]
pub enum RequestTrace {
    /// Recorded: the server span continues `parent` when it is a valid caller context, else it
    /// starts the trace `root` (the load balancer's root id, or a new one).
    Recorded { parent: Context, root: TraceId },
    /// Not recorded. `downstream` is what calls to another service carry (the trace id, flags
    /// "not sampled"), so that service does not record a fragment of this trace either; empty
    /// for a health check, which calls nothing.
    Unrecorded { downstream: SpanContext },
}

tokio::task_local! {
    static REQUEST_TRACE: RequestTrace;
}

/// Whether `path` is a health check (`/health`, `/health/ready`), never traced: the load
/// balancer's and the container's checks every few seconds would crowd the service map and
/// dilute the sampled share of real requests.
pub fn is_health_check(path: &str) -> bool {
    path == "/health" || path.starts_with("/health/")
}

/// The target of the request span of a request that is not recorded (and of every request with
/// tracing off): [`exported`] keeps it out of the OpenTelemetry layer by its metadata alone.
pub const UNRECORDED_TARGET: &str = "service_common::unrecorded";

/// The decision for a request with these `headers` on `path`, by the sampler of the current
/// subscriber (each service's own, see [`build`]); `None` when that subscriber exports nothing.
pub fn decide(headers: &http::HeaderMap, path: &str) -> Option<RequestTrace> {
    with_entry_sampler(|sampler| sampler.decide(headers, path))
}

/// `with` applied to the current subscriber's [`EntrySampler`]; `None` when that subscriber
/// exports nothing.
fn with_entry_sampler<T>(mut with: impl FnMut(&EntrySampler) -> T) -> Option<T> {
    tracing::dispatcher::get_default(|dispatch| {
        dispatch.downcast_ref::<EntrySampler>().map(&mut with)
    })
}

impl EntrySampler {
    fn decide(&self, headers: &http::HeaderMap, path: &str) -> RequestTrace {
        if is_health_check(path) {
            return RequestTrace::Unrecorded {
                downstream: SpanContext::empty_context(),
            };
        }
        let parent = self.propagator.extract(&HeaderExtractor(headers));
        // A caller's trace id, or the load balancer's: its header has a `Root` but no `Parent`,
        // which OpenTelemetry counts as no context at all, but the X-Ray propagator keeps the id.
        let (has_caller, root) = {
            let span = parent.span();
            let context = span.span_context();
            let trace_id = context.trace_id();
            (
                context.is_valid(),
                Some(trace_id).filter(|trace_id| *trace_id != TraceId::INVALID),
            )
        };
        // Only a valid caller context is a parent: [`continue_trace`] starts the span without the
        // other kind (a root-only X-Ray header yields one with no span id), so the SDK then
        // samples by the ratio, and so must this.
        let parent = if has_caller { parent } else { Context::new() };
        // Without either, the trace starts here with a new id.
        let trace_id = root.unwrap_or_else(|| xray_trace_id(&self.ids));
        // The same sampler, parent and trace id as the SDK's own check when the span starts, so
        // the two always agree.
        let decision = self
            .sampler
            .should_sample(
                Some(&parent),
                trace_id,
                "request",
                &SpanKind::Server,
                &[],
                &[],
            )
            .decision;
        match decision {
            SamplingDecision::RecordAndSample | SamplingDecision::RecordOnly => {
                RequestTrace::Recorded {
                    parent,
                    root: trace_id,
                }
            }
            SamplingDecision::Drop => RequestTrace::Unrecorded {
                downstream: SpanContext::new(
                    trace_id,
                    self.ids.new_span_id(),
                    TraceFlags::default(),
                    false,
                    TraceState::default(),
                ),
            },
        }
    }
}

/// Runs `request` (the rest of a request's handling) under `decision`, which [`recording`],
/// [`continue_trace`] and [`inject`] read.
pub async fn with_decision<F: std::future::Future>(
    decision: RequestTrace,
    request: F,
) -> F::Output {
    REQUEST_TRACE.scope(decision, request).await
}

/// What work done for a request on another task (a batch of writes several requests share)
/// needs to be traced as that request's: its sampling decision, its span and the subscriber it is
/// handled under (tests run each service under its own).
#[derive(Clone)]
pub struct RequestContext {
    decision: Option<RequestTrace>,
    span: tracing::Span,
    dispatch: Dispatch,
}

impl RequestContext {
    /// The context of the request being handled (outside a request: no decision, the current
    /// span and subscriber).
    pub fn current() -> RequestContext {
        RequestContext {
            decision: REQUEST_TRACE.try_with(Clone::clone).ok(),
            span: tracing::Span::current(),
            dispatch: tracing::dispatcher::get_default(Clone::clone),
        }
    }

    /// Whether the request is recorded (see [`recording`]).
    pub fn is_recorded(&self) -> bool {
        matches!(self.decision, Some(RequestTrace::Recorded { .. }))
    }

    /// Runs `work` as part of the request: under its decision, inside its span, with its
    /// subscriber.
    pub async fn run<F: std::future::Future>(self, work: F) -> F::Output {
        use tracing::Instrument;
        use tracing::instrument::WithSubscriber;
        let work = work.instrument(self.span).with_subscriber(self.dispatch);
        match self.decision {
            Some(decision) => REQUEST_TRACE.scope(decision, work).await,
            None => work.await,
        }
    }
}

/// Whether the request being handled is recorded: its code builds client and DynamoDB spans only
/// then. Outside a request (a background task), whether traces are exported at all.
pub fn recording() -> bool {
    REQUEST_TRACE
        .try_with(|decision| matches!(decision, RequestTrace::Recorded { .. }))
        .unwrap_or_else(|_| enabled())
}

/// Makes `span` (the server span of a recorded request) continue the caller's trace, or start
/// the one [`decide`] chose.
pub fn continue_trace(span: &tracing::Span) {
    let recorded = REQUEST_TRACE.try_with(|decision| match decision {
        RequestTrace::Recorded { parent, root } => Some((parent.clone(), *root)),
        RequestTrace::Unrecorded { .. } => None,
    });
    let Ok(Some((parent, root))) = recorded else {
        return;
    };
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
        return;
    }
    CONTINUED_TRACE_ID.with(|continued| continued.set(Some(root)));
    // Starts the OpenTelemetry span now, while the id generator has the root id to hand.
    let _ = span.context();
    CONTINUED_TRACE_ID.with(|continued| continued.set(None));
}

/// The trace context for a call to another service into `headers` (`traceparent` and
/// `X-Amzn-Trace-Id`): `span`'s when the request is recorded, else the "not sampled" context
/// [`decide`] made for it.
pub fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
    let unrecorded = REQUEST_TRACE
        .try_with(|decision| match decision {
            RequestTrace::Unrecorded { downstream } => Some(downstream.clone()),
            RequestTrace::Recorded { .. } => None,
        })
        .ok()
        .flatten();
    let context = match unrecorded {
        Some(downstream) if !downstream.is_valid() => return,
        Some(downstream) => Context::new().with_remote_span_context(downstream),
        None => span.context(),
    };
    with_entry_sampler(|sampler| {
        sampler
            .propagator
            .inject_context(&context, &mut HeaderInjector(headers));
    });
}

/// The subscriber's sampler and propagator, found by [`decide`] and [`inject`] through the
/// dispatch (a layer that does nothing else): each service in one test process has its own.
struct EntrySampler {
    sampler: ContinuingSampler,
    ids: RandomIdGenerator,
    propagator: TextMapCompositePropagator,
}

impl<S: tracing::Subscriber> Layer<S> for EntrySampler {}

thread_local! {
    /// A trace id to use for the span being started on this thread (see [`continue_trace`]).
    static CONTINUED_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// X-Ray ids, except a trace id [`continue_trace`] has set for the span it is starting.
#[derive(Debug, Default)]
struct ContinuingIdGenerator {
    random: RandomIdGenerator,
}

impl IdGenerator for ContinuingIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        CONTINUED_TRACE_ID
            .with(Cell::get)
            .unwrap_or_else(|| xray_trace_id(&self.random))
    }

    fn new_span_id(&self) -> opentelemetry::trace::SpanId {
        self.random.new_span_id()
    }
}

/// An X-Ray-compatible trace id: the start time in seconds in the first 32 bits, 96 random bits
/// after it (what `opentelemetry_aws`'s `XrayIdGenerator` makes, without its two hex strings).
fn xray_trace_id(random: &RandomIdGenerator) -> TraceId {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let random_bits = u128::from_be_bytes(random.new_trace_id().to_bytes()) & ((1 << 96) - 1);
    TraceId::from((u128::from(seconds as u32) << 96) | random_bits)
}

/// Parent-based, with the ratio for new traces, and for a caller whose X-Ray header left the
/// decision to us (no `Sampled`, or `Sampled=?`: the X-Ray propagator marks that "deferred",
/// which the parent-based sampler alone would read as "not sampled").
#[derive(Debug, Clone)]
struct ContinuingSampler {
    ratio: Sampler,
    parent_based: Sampler,
}

const DEFERRED: TraceFlags = TraceFlags::new(0x02);

impl ContinuingSampler {
    fn new(ratio: f64) -> ContinuingSampler {
        ContinuingSampler {
            ratio: Sampler::TraceIdRatioBased(ratio),
            parent_based: Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))),
        }
    }
}

impl ShouldSample for ContinuingSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let deferred = parent_context.is_some_and(|context| {
            let span = context.span();
            let parent = span.span_context();
            parent.is_remote()
                && !parent.is_sampled()
                && parent.trace_flags() & DEFERRED == DEFERRED
        });
        let sampler = if deferred {
            &self.ratio
        } else {
            &self.parent_based
        };
        sampler.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<TracingSettings, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        TracingSettings::from_env(&Env::new(move |name| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        }))
    }

    #[test]
    fn unset_or_empty_endpoint_is_off_and_the_ratio_defaults() {
        assert_eq!(settings(&[]).unwrap(), TracingSettings::OFF);
        assert_eq!(
            settings(&[(ENDPOINT_VARIABLE, "  ")]).unwrap(),
            TracingSettings::OFF
        );
        let on = settings(&[
            (ENDPOINT_VARIABLE, "http://127.0.0.1:4318/"),
            (SAMPLE_RATIO_VARIABLE, "1"),
        ])
        .unwrap();
        assert_eq!(on.endpoint.as_deref(), Some("http://127.0.0.1:4318"));
        assert_eq!(on.sample_ratio, 1.0);
    }

    #[test]
    fn a_bad_ratio_names_the_variable_the_value_and_the_range() {
        for bad in ["1.5", "-0.1", "ten", "NaN"] {
            let error = settings(&[(SAMPLE_RATIO_VARIABLE, bad)])
                .unwrap_err()
                .to_string();
            assert_eq!(
                error,
                format!(
                    "bad environment: MYSFITS_TRACE_SAMPLE_RATIO is {bad:?}, not a number from 0 \
                     to 1\nfix: set MYSFITS_TRACE_SAMPLE_RATIO to a share of requests to trace \
                     from 0 to 1 (e.g. 0.1), or unset it for 0.1"
                )
            );
        }
        let error = settings(&[(ENDPOINT_VARIABLE, "127.0.0.1:4318")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{error}");
    }

    #[test]
    fn new_trace_ids_start_with_the_time_in_seconds_and_end_in_random_bits() {
        let random = RandomIdGenerator::default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ids: Vec<u128> = (0..64)
            .map(|_| u128::from_be_bytes(xray_trace_id(&random).to_bytes()))
            .collect();
        for id in &ids {
            let seconds = u64::try_from(id >> 96).unwrap();
            assert!(seconds.abs_diff(now) <= 1, "{id:032x}");
        }
        let low: std::collections::HashSet<u128> =
            ids.iter().map(|id| id & ((1 << 96) - 1)).collect();
        assert_eq!(low.len(), ids.len(), "96 random bits each");
    }

    #[test]
    fn a_deferred_xray_decision_is_ours_and_an_explicit_one_is_followed() {
        let never = ContinuingSampler::new(0.0);
        let always = ContinuingSampler::new(1.0);
        let trace_id = TraceId::from(0x5f0a_0000_1234_u128);
        let parent = |header: &str| {
            Context::new().with_remote_span_context(
                opentelemetry_aws::trace::xray_propagator::span_context_from_str(header).unwrap(),
            )
        };
        let decide = |sampler: &ContinuingSampler, context: &Context| {
            sampler
                .should_sample(Some(context), trace_id, "x", &SpanKind::Server, &[], &[])
                .decision
        };
        use opentelemetry_sdk::trace::SamplingDecision::{Drop, RecordAndSample};
        let root = "Root=1-5f0a0000-000000000000000000001234;Parent=53995c3f42cd8ad8";
        assert_eq!(decide(&always, &parent(root)), RecordAndSample);
        assert_eq!(decide(&never, &parent(root)), Drop);
        let sampled = format!("{root};Sampled=1");
        assert_eq!(decide(&never, &parent(&sampled)), RecordAndSample);
        let not_sampled = format!("{root};Sampled=0");
        assert_eq!(decide(&always, &parent(&not_sampled)), Drop);
    }
}
