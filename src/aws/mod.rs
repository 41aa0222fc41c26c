//! AWS access: one SDK configuration per region, built in one place, and typed error classifiers.
//!
//! Endpoint precedence for a region: the config file's `regions.<name>.endpoint_url`, then
//! `--endpoint-url` / `AWS_ENDPOINT_URL`, then AWS itself. Every client gets explicit timeouts so
//! a region that does not answer costs seconds, not minutes.

pub mod describe;
pub mod ecr;
pub mod identity;
pub mod retries;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use std::collections::BTreeMap;

use crate::app::RegionName;
use crate::config::{Config, RegionSettings};
use crate::error::Error;
use retries::watched_client;

pub use crate::app::region::GLOBAL_ACCELERATOR_REGION;

/// How patient the clients are. Deploys wait for slow control planes; failover must not.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
    pub max_attempts: u32,
}

impl Patience {
    pub const DEPLOY: Patience = Patience {
        connect: Duration::from_secs(5),
        attempt: Duration::from_secs(30),
        operation: Duration::from_secs(120),
        max_attempts: 6,
    };
    /// For calls to a region that may be down: fail within seconds and let the caller go on.
    pub const IMPATIENT: Patience = Patience {
        connect: Duration::from_secs(2),
        attempt: Duration::from_secs(4),
        operation: Duration::from_secs(8),
        max_attempts: 2,
    };
}

/// The SDK configuration for one region of the app.
pub async fn sdk_config(config: &Config, region: &RegionSettings, patience: Patience) -> SdkConfig {
    sdk_config_for(
        config.profile.as_deref(),
        &region.name,
        region.endpoint_url.as_deref(),
        patience,
    )
    .await
}

/// The SDK configuration for any region (e.g. us-west-2 for Global Accelerator).
pub async fn sdk_config_for(
    profile: Option<&str>,
    region: &str,
    endpoint_url: Option<&str>,
    patience: Patience,
) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .retry_config(RetryConfig::standard().with_max_attempts(patience.max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(patience.connect)
                .operation_attempt_timeout(patience.attempt)
                .operation_timeout(patience.operation)
                .build(),
        );
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let loaded = loader.load().await;
    describe::remember_endpoint(region, loaded.endpoint_url());
    loaded
}

/// Stops retries of an HTML error page from an endpoint override: an emulator without the
/// service (moto answers Global Accelerator with an HTML "500 Internal Server Error") gives the
/// same page on every attempt, and retrying it only delays the "unavailable" verdict. Throttling
/// and other AWS-shaped errors keep their retries. Only for clients behind an endpoint override:
/// from AWS itself an HTML 5xx (a load balancer in front of the API) is worth retrying.
#[derive(Debug, Clone, Copy)]
pub struct EmulatorLacksService;

impl ClassifyRetry for EmulatorLacksService {
    fn classify_retry(&self, context: &InterceptorContext) -> RetryAction {
        let html_error = context.response().is_some_and(|response| {
            response.status().as_u16() >= 500
                && response
                    .headers()
                    .get("content-type")
                    .is_some_and(|kind| kind.starts_with("text/html"))
        });
        if html_error {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "EmulatorLacksService"
    }
}

/// One client per AWS service for one region.
#[derive(Clone, Debug)]
pub struct RegionClients {
    pub region: String,
    /// The endpoint override the clients use (an emulator), `None` for AWS itself.
    pub endpoint_url: Option<String>,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Application Auto Scaling: the services' scalable targets (failover raises their minimum).
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    /// X-Ray: the service map and traces the services' collector sidecars send (`mysfits traces`).
    pub xray: aws_sdk_xray::Client,
}

impl RegionClients {
    pub fn new(sdk_config: &SdkConfig) -> RegionClients {
        let region = sdk_config
            .region()
            .map(|region| region.to_string())
            .unwrap_or_default();
        RegionClients {
            region,
            endpoint_url: sdk_config.endpoint_url().map(str::to_string),
            cloudformation: watched_client!(aws_sdk_cloudformation, sdk_config),
            cloudwatch: watched_client!(aws_sdk_cloudwatch, sdk_config),
            dynamodb: watched_client!(aws_sdk_dynamodb, sdk_config),
            ecr: watched_client!(aws_sdk_ecr, sdk_config),
            ecs: watched_client!(aws_sdk_ecs, sdk_config),
            elbv2: watched_client!(aws_sdk_elasticloadbalancingv2, sdk_config),
            ec2: watched_client!(aws_sdk_ec2, sdk_config),
            logs: watched_client!(aws_sdk_cloudwatchlogs, sdk_config),
            autoscaling: watched_client!(aws_sdk_applicationautoscaling, sdk_config),
            xray: watched_client!(aws_sdk_xray, sdk_config),
        }
    }

    /// Clients for every region of the app, keyed by region.
    pub async fn for_regions(
        config: &Config,
        patience: Patience,
    ) -> BTreeMap<RegionName, RegionClients> {
        let mut clients = BTreeMap::new();
        for region in config.regions() {
            clients.insert(
                region.key(),
                RegionClients::for_region(config, region, patience).await,
            );
        }
        clients
    }

    pub async fn for_region(
        config: &Config,
        region: &RegionSettings,
        patience: Patience,
    ) -> RegionClients {
        RegionClients::new(&sdk_config(config, region, patience).await)
    }
}

/// The AWS error code of a failed call (e.g. `ValidationError`), if the service sent one.
pub fn error_code<E, R>(error: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(service_error) => service_error.err().code(),
        _ => None,
    }
}

/// What the endpoint answered (AWS error code and message, HTTP status, request id), or why
/// there was no answer: [`describe::CallFailure::message`].
pub fn error_message<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    describe::CallFailure::new("", "", error).message()
}

/// True when the endpoint's host turned the connection down (a dead port, an emulator that is
/// not running): the SDK reports it as an IO dispatch failure whose cause chain holds the
/// operating system's ConnectionRefused.
pub fn connection_refused<E, R>(error: &SdkError<E, R>) -> bool {
    let SdkError::DispatchFailure(failure) = error else {
        return false;
    };
    failure.as_connector_error().is_some_and(retries::refused)
}

/// Why a region gave no answer, for the lines that list what was skipped because of it:
/// "refused the connection", or "did not answer within N s" (the clients' limit).
pub fn silence<E, R>(error: &SdkError<E, R>, answer_limit: std::time::Duration) -> String {
    if connection_refused(error) {
        "refused the connection".to_string()
    } else {
        format!("did not answer within {} s", answer_limit.as_secs())
    }
}

/// True when the call never got an answer from the service (dead endpoint, timeout): the region
/// is unreachable rather than saying no.
pub fn is_unreachable<E, R>(error: &SdkError<E, R>) -> bool {
    matches!(
        error,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
    )
}

/// True when the endpoint gave no answer in time (refused or timed-out connection). Unlike
/// [`is_unreachable`] it leaves out failures before sending (e.g. no credentials), which say
/// nothing about the endpoint.
pub fn no_answer<E, R>(error: &SdkError<E, R>) -> bool {
    match error {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(failure) => failure.is_io() || failure.is_timeout(),
        _ => false,
    }
}

/// What the endpoint answered when the answer is no AWS error at all: an HTTP 404 or 5xx without
/// an error code (or with a generic one an emulator gives), or an answer the SDK cannot read.
/// That is how an emulator that lacks a service answers (moto: an HTML "500 Internal Server
/// Error" page for Global Accelerator). `None` for any other failure. Only meaningful behind an
/// endpoint override: from AWS itself such an answer is a real failure.
pub fn service_missing<E>(error: &SdkError<E, HttpResponse>) -> Option<String>
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(service_error) => {
            let status = service_error.raw().status().as_u16();
            let generic = matches!(
                error_code(error),
                None | Some("InternalFailure" | "NotImplemented" | "UnknownOperationException")
            );
            ((status >= 500 || status == 404) && generic)
                .then(|| format!("HTTP {status} without an AWS error"))
        }
        SdkError::ResponseError(_) => Some("an unreadable answer".to_string()),
        _ => None,
    }
}

/// Wraps a failed SDK call into the crate error, with a fix chosen by the cause
/// ([`describe::CallFailure`]).
pub fn aws_error<E>(operation: &str, region: &str, error: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    describe::CallFailure::new(operation, region, error).into_error()
}
