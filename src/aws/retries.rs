//! What every SDK client does about retries beyond the standard strategy: a refused connection is
//! final (nothing listens there, and the standard budget of attempts and backoff only delays the
//! verdict by ~15 s), and each retry is announced as a progress event while it happens.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    FinalizerInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryReason,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::{ErrorKind, RetryConfig};
use aws_types::region::Region;

use crate::progress::Event;

/// A client of SDK crate `$krate` built from an `SdkConfig`, with [`RefusedIsFinal`] and
/// [`RetryNotes`] added.
macro_rules! watched_client {
    ($krate:ident, $sdk_config:expr) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($sdk_config)
                .retry_classifier($crate::aws::retries::RefusedIsFinal)
                .interceptor($crate::aws::retries::RetryNotes)
                .build(),
        )
    };
}
pub(crate) use watched_client;

/// True when the operating system's ConnectionRefused is somewhere in the connector's causes.
pub(crate) fn refused(connector_error: &ConnectorError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(connector_error);
    while let Some(current) = cause {
        if current
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        cause = current.source();
    }
    false
}

fn connector_error(context: &InterceptorContext) -> Option<&ConnectorError> {
    match context.output_or_error()? {
        Err(error) => error.as_connector_error(),
        Ok(_) => None,
    }
}

/// Forbids retrying a refused connection. Timeouts, throttling and 5xx answers keep the standard
/// strategy's retries.
#[derive(Debug, Clone, Copy)]
pub struct RefusedIsFinal;

impl ClassifyRetry for RefusedIsFinal {
    fn classify_retry(&self, context: &InterceptorContext) -> RetryAction {
        if connector_error(context).is_some_and(refused) {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "RefusedIsFinal"
    }
}

/// Emits [`Event::Retry`] after an attempt that failed and will be retried, so a throttled or slow
/// call shows why the command waits instead of a silent pause.
#[derive(Debug, Clone, Copy)]
pub struct RetryNotes;

impl Intercept for RetryNotes {
    fn name(&self) -> &'static str {
        "RetryNotes"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(event) = retry_event(context.inner(), runtime_components, cfg) {
            crate::progress::sdk_event(event);
        }
        Ok(())
    }
}

/// The retry that follows this attempt, if the attempt failed, the classifiers call the failure
/// retryable and attempts are left.
fn retry_event(
    context: &InterceptorContext,
    runtime_components: &RuntimeComponents,
    cfg: &ConfigBag,
) -> Option<Event> {
    let Some(Err(error)) = context.output_or_error() else {
        return None;
    };
    let attempt = cfg.load::<RequestAttempts>()?.attempts();
    let max_attempts = cfg.load::<RetryConfig>()?.max_attempts();
    if attempt >= max_attempts {
        return None;
    }
    let RetryAction::RetryIndicated(RetryReason::RetryableError { kind, .. }) =
        classify(runtime_components, context)
    else {
        return None;
    };
    Some(Event::Retry {
        operation: cfg
            .load::<Metadata>()
            .map_or("call", Metadata::name)
            .to_string(),
        region: cfg
            .load::<Region>()
            .map_or_else(String::new, |region| region.to_string()),
        attempt: attempt + 1,
        max_attempts,
        reason: retry_reason(kind, error, context),
    })
}

/// What the client's classifiers decide, the way the standard strategy runs them: in order,
/// a later decision replacing an earlier one, "forbidden" ending the run.
fn classify(runtime_components: &RuntimeComponents, context: &InterceptorContext) -> RetryAction {
    let mut result = RetryAction::NoActionIndicated;
    for classifier in runtime_components.retry_classifiers() {
        let decision = classifier.classify_retry_v2(context, &result);
        if decision == RetryAction::NoActionIndicated {
            continue;
        }
        result = decision;
        if result == RetryAction::RetryForbidden {
            break;
        }
    }
    result
}

/// A few words on why the attempt failed.
fn retry_reason(
    kind: ErrorKind,
    error: &OrchestratorError<aws_smithy_runtime_api::client::interceptors::context::Error>,
    context: &InterceptorContext,
) -> String {
    let status = context
        .response()
        .map(|response| response.status().as_u16());
    if kind == ErrorKind::ThrottlingError || status == Some(429) {
        return "throttled".to_string();
    }
    if error.is_timeout_error()
        || error
            .as_connector_error()
            .is_some_and(ConnectorError::is_timeout)
    {
        return "no answer in time".to_string();
    }
    if error.as_connector_error().is_some() {
        return "the connection failed".to_string();
    }
    match status {
        Some(status) => format!("HTTP {status}"),
        None => "a transient error".to_string(),
    }
}
