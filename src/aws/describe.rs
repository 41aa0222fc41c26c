//! The one formatter for failed SDK calls. Whatever the SDK returns (an AWS error, an HTML page
//! from a proxy, a refused connection, missing credentials) becomes one line saying what the
//! endpoint answered — AWS error code and message, HTTP status, request id, or a short excerpt of
//! a body that is no AWS error — and a fix chosen by the cause. Never the SDK's Debug form: it
//! holds whole HTTP responses and credential-chain internals, kilobytes per line.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

/// How many characters of an unexpected answer's body a message quotes.
const EXCERPT_CHARS: usize = 200;
/// How many characters of a transport failure's cause chain a message quotes.
const CHAIN_CHARS: usize = 300;

/// What kind of failure a call met, sorted by what the user can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// No credentials, or credentials AWS refuses (expired, unknown key, bad signature).
    Credentials,
    /// The endpoint's host turned the connection down: nothing listens there.
    Refused,
    /// No answer in time (connect, attempt or operation limit).
    Timeout,
    /// The connection failed otherwise (DNS, TLS, reset).
    Network,
    /// AWS throttled the call, even after the SDK's retries.
    Throttled,
    /// The caller lacks a permission; the IAM action when it is known.
    AccessDenied { action: Option<String> },
    /// The resource the call names does not exist.
    NotFound,
    /// AWS failed on its side (HTTP 5xx with an AWS error code).
    ServiceFault,
    /// An answer that is no AWS error (an HTML page, an empty body, something unreadable).
    Unexpected,
    /// The request could not be built (a region or endpoint the SDK refuses, or a bug).
    Construction,
    /// Any other AWS error: its code and message say what is wrong.
    Service,
}

/// A failed call, taken apart. [`CallFailure::message`] and [`CallFailure::fix`] are what users
/// read; the fields are there for tests and callers that sort failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    pub operation: String,
    pub region: String,
    /// The endpoint override the region's clients use; `None` for AWS itself.
    pub endpoint: Option<String>,
    pub cause: Cause,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub aws_message: Option<String>,
    pub request_id: Option<String>,
    /// The start of a body that is no AWS error, on one line.
    pub excerpt: Option<String>,
    /// For failures without an answer: what the transport said, on one line.
    pub detail: Option<String>,
}

/// Endpoint overrides by region, recorded where the SDK configurations are built, so that a
/// message about a refused connection can name the address that refused it.
static ENDPOINTS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

pub(crate) fn remember_endpoint(region: &str, endpoint: Option<&str>) {
    if let Ok(mut endpoints) = ENDPOINTS.lock() {
        match endpoint {
            Some(endpoint) => endpoints.insert(region.to_string(), endpoint.to_string()),
            None => endpoints.remove(region),
        };
    }
}

fn endpoint_of(region: &str) -> Option<String> {
    ENDPOINTS.lock().ok()?.get(region).cloned()
}

impl CallFailure {
    /// Takes a failed call apart.
    pub fn new<E>(operation: &str, region: &str, error: &SdkError<E, HttpResponse>) -> CallFailure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut failure = CallFailure {
            operation: operation.to_string(),
            region: region.to_string(),
            endpoint: endpoint_of(region),
            cause: Cause::Service,
            status: error.raw_response().map(|raw| raw.status().as_u16()),
            code: None,
            aws_message: None,
            request_id: error.request_id().map(str::to_string),
            excerpt: None,
            detail: None,
        };
        match error {
            SdkError::ServiceError(service_error) => {
                let meta = service_error.err().meta();
                failure.code = meta.code().map(str::to_string);
                failure.aws_message = meta.message().map(one_line);
                failure.request_id = failure.request_id.or(meta.request_id().map(str::to_string));
                failure.cause = failure.service_cause::<E>();
                if failure.code.is_none() {
                    failure.excerpt = body_excerpt(service_error.raw());
                }
            }
            SdkError::ResponseError(response_error) => {
                failure.cause = Cause::Unexpected;
                failure.detail = Some(cause_chain(error));
                failure.excerpt = body_excerpt(response_error.raw());
            }
            SdkError::TimeoutError(_) => {
                failure.cause = Cause::Timeout;
                failure.detail = Some(cause_chain(error));
            }
            SdkError::DispatchFailure(dispatch) => {
                failure.cause = if has_cause::<
                    aws_credential_types::provider::error::CredentialsError,
                >(error)
                {
                    Cause::Credentials
                } else if super::connection_refused(error) {
                    Cause::Refused
                } else if dispatch.is_timeout() {
                    Cause::Timeout
                } else if dispatch.is_io() {
                    Cause::Network
                } else {
                    Cause::Construction
                };
                failure.detail = Some(cause_chain(error));
            }
            _ => {
                failure.cause = Cause::Construction;
                failure.detail = Some(cause_chain(error));
            }
        }
        failure
    }

    /// Sorts an AWS error by its code (and status for the codes that say little).
    fn service_cause<E: 'static>(&self) -> Cause {
        let code = self.code.as_deref().unwrap_or_default();
        let status = self.status.unwrap_or_default();
        match code {
            "" => Cause::Unexpected,
            "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "SignatureDoesNotMatch"
            | "InvalidSignatureException"
            | "AuthFailure"
            | "MissingAuthenticationToken"
            | "IncompleteSignature" => Cause::Credentials,
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "AuthorizationError"
            | "UnauthorizedException" => Cause::AccessDenied {
                action: self.denied_action::<E>(),
            },
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "ProvisionedThroughputExceededException"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "TransactionInProgressException" => Cause::Throttled,
            _ if status == 429 => Cause::Throttled,
            _ if code.ends_with("NotFound")
                || code.ends_with("NotFoundException")
                || code.starts_with("NoSuch") =>
            {
                Cause::NotFound
            }
            _ if status >= 500 => Cause::ServiceFault,
            _ => Cause::Service,
        }
    }

    /// The IAM action that was denied: as AWS names it in the message ("... is not authorized to
    /// perform: ecs:CreateService ..."), else the service's prefix and the operation.
    fn denied_action<E: 'static>(&self) -> Option<String> {
        let named = self.aws_message.as_deref().and_then(|message| {
            let (_, after) = message.split_once("perform: ")?;
            let action = after.split_whitespace().next()?;
            Some(action.trim_end_matches([',', '.', ';']).to_string())
        });
        named.or_else(|| {
            let prefix = iam_prefix(std::any::type_name::<E>())?;
            Some(format!("{prefix}:{}", self.operation))
        })
    }

    /// What the endpoint answered, or why there was no answer, on one line.
    pub fn message(&self) -> String {
        let answer = self.answer_details();
        match (&self.cause, &self.code) {
            (Cause::Refused, _) => {
                "connection refused (nothing listens at the endpoint)".to_string()
            }
            (Cause::Credentials, None) => {
                format!("no usable AWS credentials: {}", self.detail_text())
            }
            (Cause::Timeout, _) => format!("no answer in time: {}", self.detail_text()),
            (Cause::Network, _) => format!("the connection failed: {}", self.detail_text()),
            (Cause::Construction, _) => {
                format!("the request could not be sent: {}", self.detail_text())
            }
            (_, Some(code)) => match &self.aws_message {
                Some(message) if !message.is_empty() => format!("{code}: {message} ({answer})"),
                _ => format!("{code} ({answer})"),
            },
            (_, None) => {
                let what = match self.detail.as_deref() {
                    Some(detail) => format!("an answer the SDK could not read ({detail})"),
                    None => "an answer without an AWS error code".to_string(),
                };
                match &self.excerpt {
                    Some(excerpt) => format!("{what} ({answer}); it began: {excerpt}"),
                    None => format!("{what} ({answer}, empty body)"),
                }
            }
        }
    }

    /// "HTTP 400, request id X": what identifies the answer.
    fn answer_details(&self) -> String {
        let status = self
            .status
            .map(|status| format!("HTTP {status}"))
            .unwrap_or_else(|| "no HTTP status".to_string());
        match &self.request_id {
            Some(id) => format!("{status}, request id {id}"),
            None => status,
        }
    }

    fn detail_text(&self) -> &str {
        self.detail.as_deref().unwrap_or("no detail")
    }

    /// The endpoint's name for fixes: the override, or AWS's own endpoint in the region.
    fn endpoint_name(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => format!("AWS's endpoint in {}", self.region),
        }
    }

    /// What to do next, chosen by the cause.
    pub fn fix(&self) -> String {
        self.transport_fix().unwrap_or_else(|| self.answer_fix())
    }

    /// The fix for a call that got no answer (or could not be sent), `None` when it got one.
    fn transport_fix(&self) -> Option<String> {
        let region = &self.region;
        Some(match &self.cause {
            Cause::Credentials => "the AWS credentials are missing, expired or wrong: run `aws sso \
                 login` (SSO profiles) or `aws configure`, or choose a profile that has credentials \
                 (--profile NAME or AWS_PROFILE=NAME)"
                .to_string(),
            Cause::Refused => match &self.endpoint {
                Some(endpoint) => format!(
                    "nothing accepts connections at {endpoint} (the endpoint for {region}): start \
                     the emulator or service there, or correct the override \
                     (regions.{region}.endpoint_url in mysfits.yaml, --endpoint-url, AWS_ENDPOINT_URL)"
                ),
                None => format!(
                    "the connection to AWS in {region} was refused: check network access and any \
                     proxy (HTTPS_PROXY), and that {region} is a region your account uses"
                ),
            },
            Cause::Timeout => format!(
                "{} did not answer in time: check network access to it; if AWS is degraded in \
                 {region} (https://health.aws.amazon.com/health/status), wait and run the command again",
                self.endpoint_name()
            ),
            Cause::Network => format!(
                "check network access to {}: DNS, proxy settings (HTTPS_PROXY), firewall; then run \
                 the command again",
                self.endpoint_name()
            ),
            Cause::Construction => format!(
                "check the region name ({region}) and the endpoint override, if any; if both are \
                 right, this is a bug in mysfits: report it with the output of -v"
            ),
            _ => return None,
        })
    }

    /// The fix for an answer the endpoint gave.
    fn answer_fix(&self) -> String {
        let region = &self.region;
        match &self.cause {
            Cause::Throttled => format!(
                "AWS throttled {} in {region} even after retries: wait a minute and run the command \
                 again; if it persists, another tool is calling the same API (CloudTrail shows \
                 who) or the account needs a higher quota (Service Quotas)",
                self.operation
            ),
            Cause::AccessDenied { action } => format!(
                "the caller may not call {}: grant it (`mysfits iam-policy` prints the policy the \
                 CLI needs) or use a profile that has it",
                action.as_deref().unwrap_or(&self.operation)
            ),
            Cause::NotFound => format!(
                "what {} names does not exist in {region}: check the app name (--app) and the \
                 regions; `mysfits status` shows what is deployed, `mysfits deploy` creates it",
                self.operation
            ),
            Cause::ServiceFault => format!(
                "AWS failed on its side in {region} even after retries: run the command again in a \
                 few minutes (https://health.aws.amazon.com/health/status shows outages)"
            ),
            Cause::Unexpected => match &self.endpoint {
                Some(endpoint) => format!(
                    "{endpoint} did not answer like AWS: check that the override for {region} \
                     points at the AWS API or an emulator that implements {}",
                    self.operation
                ),
                None => format!(
                    "something between here and AWS answered instead of AWS in {region} (a proxy? \
                     check HTTPS_PROXY and the network), then run the command again"
                ),
            },
            _ => "fix what the message names and run the command again; -v shows every call"
                .to_string(),
        }
    }

    /// The crate error: "{operation} in {region} failed: {message}" and the fix.
    pub fn into_error(self) -> crate::error::Error {
        crate::error::Error::Aws {
            message: self.message(),
            fix: self.fix(),
            operation: self.operation,
            region: self.region,
        }
    }
}

/// The crate error for a generated waiter that failed other than by running out of time (which
/// callers word themselves): the failed poll's call, the failure state it saw, or a waiter that
/// could not run (a bug).
pub fn waiter_error<O, E>(
    operation: &str,
    region: &str,
    error: &aws_smithy_runtime_api::client::waiters::error::WaiterError<O, E>,
) -> crate::error::Error
where
    O: std::fmt::Debug + 'static,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_smithy_runtime_api::client::waiters::error::WaiterError;
    match error {
        WaiterError::OperationFailed(failed) => {
            CallFailure::new(operation, region, failed.error()).into_error()
        }
        WaiterError::FailureState(state) => {
            let seen = match state.final_poll().as_result() {
                Err(service_error) => match service_error.meta().code() {
                    Some(code) => format!(
                        ": {code}: {}",
                        service_error.meta().message().unwrap_or_default()
                    ),
                    None => String::new(),
                },
                Ok(_) => String::new(),
            };
            crate::error::Error::Aws {
                operation: operation.to_string(),
                region: region.to_string(),
                message: one_line(&format!(
                    "the resource reached a state it cannot leave{seen}"
                )),
                fix: "see the resource's events in the AWS console or CLI (-v shows every call), \
                      fix what they name, then run the command again"
                    .to_string(),
            }
        }
        other => crate::error::Error::internal(format!(
            "the waiter for {operation} in {region} could not run: {}",
            cause_chain(other)
        )),
    }
}

/// The IAM prefix of the SDK crate an error type comes from (`aws_sdk_ecs::...` → `ecs`).
fn iam_prefix(type_name: &str) -> Option<&'static str> {
    let krate = type_name.strip_prefix("aws_sdk_")?.split("::").next()?;
    Some(match krate {
        "applicationautoscaling" => "application-autoscaling",
        "cloudformation" => "cloudformation",
        "cloudwatch" => "cloudwatch",
        "cloudwatchlogs" => "logs",
        "dynamodb" => "dynamodb",
        "ec2" => "ec2",
        "ecr" => "ecr",
        "ecs" => "ecs",
        "elasticloadbalancingv2" => "elasticloadbalancing",
        "globalaccelerator" => "globalaccelerator",
        "route53" => "route53",
        "sts" => "sts",
        "xray" => "xray",
        _ => return None,
    })
}

/// True when some error in the chain is a `T`.
fn has_cause<T: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    find_cause::<T>(error).is_some()
}

/// The first error in the chain (the error itself, then its sources) that is a `T`.
pub(crate) fn find_cause<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        cause = current.source();
    }
    None
}

/// The Display texts of an error's causes joined with ": ", leaving out the SDK's generic
/// wrappers ("dispatch failure", "io error") and texts the previous one already says; bounded.
fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    const GENERIC: [&str; 8] = [
        "dispatch failure",
        "io error",
        "other",
        "timeout",
        "user error",
        "request has timed out",
        "response error",
        "failed to construct request",
    ];
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(error);
    while let Some(current) = cause {
        let text = one_line(&current.to_string());
        let said = parts.last().is_some_and(|last| last.contains(&text));
        if !text.is_empty() && !GENERIC.contains(&text.as_str()) && !said {
            parts.push(text);
        }
        cause = current.source();
    }
    if parts.is_empty() {
        return "no detail".to_string();
    }
    bounded(&parts.join(": "), CHAIN_CHARS)
}

/// The start of a response body, quoted on one line, or `None` when it is empty or streamed.
fn body_excerpt(response: &HttpResponse) -> Option<String> {
    let bytes = response.body().bytes()?;
    let text = one_line(&String::from_utf8_lossy(bytes));
    (!text.is_empty()).then(|| format!("\"{}\"", bounded(&text, EXCERPT_CHARS)))
}

/// The text with control characters dropped and runs of whitespace made one space.
pub(crate) fn one_line(text: &str) -> String {
    text.split(|character: char| character.is_whitespace() || character.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `limit` characters, "…" marking a cut.
pub(crate) fn bounded(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_drops_control_characters_and_folds_whitespace() {
        assert_eq!(
            one_line("<html>\r\n\t<b>x</b>\u{1b}[0m  y\u{7}"),
            "<html> <b>x</b> [0m y"
        );
        assert_eq!(bounded("abcdef", 3), "abc…");
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("ééé", 2), "éé…");
    }

    #[test]
    fn iam_prefixes_follow_the_crate_of_the_error_type() {
        assert_eq!(
            iam_prefix("aws_sdk_ecs::operation::create_service::CreateServiceError"),
            Some("ecs")
        );
        assert_eq!(
            iam_prefix("aws_sdk_elasticloadbalancingv2::operation::x::XError"),
            Some("elasticloadbalancing")
        );
        assert_eq!(
            iam_prefix("aws_sdk_cloudwatchlogs::operation::y::YError"),
            Some("logs")
        );
        assert_eq!(iam_prefix("std::io::Error"), None);
    }
}
