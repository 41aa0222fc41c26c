//! Who is calling, before any work: one STS GetCallerIdentity per command (it needs no IAM
//! permission), so that missing, expired or refused credentials stop the command with a message
//! naming where the SDK looked and how to fix it, instead of surfacing as a failure of whatever
//! call happened to come first.
//!
//! STS is regional and a region may be down (failover is run exactly then): the regions are asked
//! in order with short timeouts, the next one is asked as well when an answer is slow, and the
//! first answer wins. A region that gives no answer says nothing about the credentials; when none
//! answers the command goes on and reports its regions' silence itself.
//!
//! The profile files are read here too (as the SDK reads them: `AWS_CONFIG_FILE`,
//! `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and `~/.aws/credentials`), for the
//! profile's region, for refusing a profile no file defines, and for the messages.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::{Patience, connection_refused, error_code, error_message, no_answer, service_missing};
use crate::config::Config;
use crate::error::{Error, Result};

/// How the identity calls wait: a region that does not answer must not hold up the command.
pub const PATIENCE: Patience = Patience::IMPATIENT;

/// After this long without an answer, the next region is asked too.
const HEDGE_AFTER: Duration = Duration::from_secs(2);

/// How much of the SDK's own explanation a message quotes.
const QUOTE_LIMIT: usize = 300;

/// How the profile in effect would give credentials, judged from its keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProfileKind {
    /// No file defines the profile.
    #[default]
    Missing,
    /// `aws_access_key_id` / `aws_secret_access_key`.
    Keys,
    /// IAM Identity Center: `sso_session` or `sso_start_url`.
    Sso,
    /// `credential_process`.
    Process,
    /// `role_arn` (with a source profile, a credential source or a web identity token).
    Role,
    /// Defined, but with none of the keys above (e.g. only `region`).
    NoCredentials,
}

/// Where the SDK's default credential chain will look (environment, profile, web identity, ECS,
/// instance metadata, in that order), as far as the environment and the profile files tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSetup {
    /// The profile in effect: `--profile` / `AWS_PROFILE`, else `default`.
    pub profile: String,
    pub profile_kind: ProfileKind,
    /// The profile's `region`, if it has one.
    pub profile_region: Option<String>,
    pub config_path: PathBuf,
    pub credentials_path: PathBuf,
    /// Every profile the files define, sorted.
    pub known_profiles: Vec<String>,
    /// `AWS_ACCESS_KEY_ID` is set (environment credentials come before any profile).
    pub env_access_key: bool,
    pub env_secret_key: bool,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN` are both set.
    pub web_identity: bool,
    /// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `..._FULL_URI` is set (ECS tasks).
    pub container: bool,
    /// `AWS_EC2_METADATA_DISABLED=true`: the instance metadata service is not asked.
    pub imds_disabled: bool,
}

impl AwsSetup {
    /// Reads the environment and the profile files. `named` is `--profile` / `AWS_PROFILE`
    /// (with what named it, for the message); a name no file defines is refused.
    pub async fn read(named: Option<(&str, &str)>) -> Result<AwsSetup> {
        let env = |key: &str| std::env::var(key).ok().filter(|value| !value.is_empty());
        let profile = named.map_or("default", |(name, _)| name).to_string();
        let sections = aws_config::profile::load(
            &aws_types::os_shim_internal::Fs::real(),
            &aws_types::os_shim_internal::Env::real(),
            &aws_runtime::env_config::file::EnvConfigFiles::default(),
            Some(Cow::Owned(profile.clone())),
        )
        .await
        .map_err(|error| {
            Error::config(
                format!("the AWS profile files cannot be read: {error}"),
                "fix the file and line the message names (`aws configure list` shows what the AWS CLI makes of them)",
            )
        })?;
        let mut known_profiles: Vec<String> = sections.profiles().map(str::to_string).collect();
        known_profiles.sort();
        let found = sections.get_profile(&profile);
        let setup = AwsSetup {
            profile_kind: found.map_or(ProfileKind::Missing, |profile| {
                profile_kind(|key| profile.get(key))
            }),
            profile_region: found.and_then(|profile| profile.get("region").map(str::to_string)),
            profile,
            config_path: profile_file_path(env("AWS_CONFIG_FILE"), ".aws/config"),
            credentials_path: profile_file_path(
                env("AWS_SHARED_CREDENTIALS_FILE"),
                ".aws/credentials",
            ),
            known_profiles,
            env_access_key: env("AWS_ACCESS_KEY_ID").is_some(),
            env_secret_key: env("AWS_SECRET_ACCESS_KEY").is_some(),
            web_identity: env("AWS_WEB_IDENTITY_TOKEN_FILE").is_some()
                && env("AWS_ROLE_ARN").is_some(),
            container: env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
                || env("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some(),
            imds_disabled: env("AWS_EC2_METADATA_DISABLED")
                .is_some_and(|value| value.eq_ignore_ascii_case("true")),
        };
        if let Some((name, source)) = named {
            setup.require_profile(name, source)?;
        }
        Ok(setup)
    }

    /// A profile named on purpose must exist: the SDK would otherwise go on silently with
    /// whatever else it finds (environment keys, instance metadata).
    pub fn require_profile(&self, name: &str, source: &str) -> Result<()> {
        if self.profile_kind != ProfileKind::Missing {
            return Ok(());
        }
        let known = if self.known_profiles.is_empty() {
            "none".to_string()
        } else {
            self.known_profiles.join(", ")
        };
        Err(Error::Credentials {
            what: format!(
                "unknown profile {name:?} ({source}): it is in neither {} nor {}; known profiles: {known}",
                self.config_path.display(),
                self.credentials_path.display()
            ),
            fix: format!(
                "name a known profile with --profile or AWS_PROFILE, or create this one with `aws configure --profile {name}` (access keys) or `aws configure sso --profile {name}` (IAM Identity Center)"
            ),
        })
    }

    /// Where the credentials the SDK sends come from, for messages: environment keys win over
    /// any profile.
    fn credential_source(&self) -> String {
        if self.env_access_key {
            "the environment (AWS_ACCESS_KEY_ID)".to_string()
        } else {
            format!("profile {}", self.profile)
        }
    }

    /// The chain's sources in the SDK's order, each with what it had.
    fn sources_tried(&self) -> Vec<String> {
        let environment = match (self.env_access_key, self.env_secret_key) {
            (true, false) => "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
            (false, true) => "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
            _ => "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
        };
        let profile = match self.profile_kind {
            ProfileKind::Missing => format!(
                "not in {} nor {}",
                self.config_path.display(),
                self.credentials_path.display()
            ),
            _ => format!(
                "in {} / {} but without credentials (no access keys, sso_session, role_arn or credential_process)",
                self.config_path.display(),
                self.credentials_path.display()
            ),
        };
        let web_identity = if self.web_identity {
            "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are set but gave no credentials"
        } else {
            "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set"
        };
        let container = if self.container {
            "the container credentials endpoint is set but gave no credentials"
        } else {
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set"
        };
        let metadata = if self.imds_disabled {
            "turned off by AWS_EC2_METADATA_DISABLED"
        } else {
            "gave no credentials (not an EC2 instance, or one without an instance role)"
        };
        vec![
            format!("environment: {environment}"),
            format!("profile {}: {profile}", self.profile),
            format!("web identity: {web_identity}"),
            format!("ECS container credentials: {container}"),
            format!("EC2 instance metadata (IMDS): {metadata}"),
        ]
    }
}

/// `AWS_CONFIG_FILE` (or the credentials one) as given, else the default under `$HOME`.
fn profile_file_path(given: Option<String>, default: &str) -> PathBuf {
    match given {
        Some(path) => PathBuf::from(path),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("~"))
            .join(default),
    }
}

/// The kind of a profile from its keys, in the order the SDK's profile provider prefers them.
fn profile_kind<'a>(get: impl Fn(&str) -> Option<&'a str>) -> ProfileKind {
    if get("role_arn").is_some() {
        ProfileKind::Role
    } else if get("sso_session").is_some() || get("sso_start_url").is_some() {
        ProfileKind::Sso
    } else if get("credential_process").is_some() {
        ProfileKind::Process
    } else if get("aws_access_key_id").is_some() {
        ProfileKind::Keys
    } else {
        ProfileKind::NoCredentials
    }
}

/// The caller, as STS answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    /// The principal's ARN (a user, or an assumed role's session).
    pub arn: String,
    /// The region whose STS answered.
    pub region: String,
}

/// What one region's STS said, when it said nothing against the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Known(Identity),
    /// No answer about the credentials (refused, timed out, no STS at that endpoint): why.
    Silent(String),
}

/// What the check found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Known(Identity),
    /// No region answered; each `region: why`, in the order asked.
    Unanswered(Vec<String>),
}

/// Asks STS who is calling, `first` (e.g. failover's target) before the app's regions, home
/// first. Credentials that are missing, expired or refused are an error; silence is not.
pub async fn check(config: &Config, first: Option<&str>) -> Result<Outcome> {
    let mut queue = regions_to_ask(config, first).into_iter();
    let mut pending = FuturesUnordered::new();
    let mut silent = Vec::new();
    if let Some(next) = queue.next() {
        pending.push(ask(config, next));
    }
    while !pending.is_empty() {
        tokio::select! {
            Some((region, answer)) = pending.next() => match answer? {
                Answer::Known(identity) => return Ok(Outcome::Known(identity)),
                Answer::Silent(why) => {
                    silent.push(format!("{region}: {why}"));
                    if let Some(next) = queue.next() {
                        pending.push(ask(config, next));
                    }
                }
            },
            () = tokio::time::sleep(HEDGE_AFTER), if queue.len() > 0 => {
                if let Some(next) = queue.next() {
                    pending.push(ask(config, next));
                }
            }
        }
    }
    Ok(Outcome::Unanswered(silent))
}

/// The regions to ask, with their endpoints: `first`, then the app's regions in order. Regions
/// behind the same endpoint override are one server (an emulator): asking it once is enough.
fn regions_to_ask(config: &Config, first: Option<&str>) -> Vec<(String, Option<String>)> {
    let ordered = first
        .and_then(|name| config.region_named(name))
        .into_iter()
        .chain(config.regions());
    let mut asked: Vec<(String, Option<String>)> = Vec::new();
    for region in ordered {
        let duplicate = asked.iter().any(|(name, endpoint)| {
            *name == region.name || (endpoint.is_some() && *endpoint == region.endpoint_url)
        });
        if !duplicate {
            asked.push((region.name.clone(), region.endpoint_url.clone()));
        }
    }
    asked
}

async fn ask(
    config: &Config,
    (region, endpoint): (String, Option<String>),
) -> (String, Result<Answer>) {
    let sdk_config = super::sdk_config_for(
        config.profile.as_deref(),
        &region,
        endpoint.as_deref(),
        PATIENCE,
    )
    .await;
    let client = aws_sdk_sts::Client::new(&sdk_config);
    let answer = caller_identity(&client, &region, &config.aws).await;
    (region, answer)
}

/// One GetCallerIdentity in `region`, its failure judged against `setup`.
pub async fn caller_identity(
    client: &aws_sdk_sts::Client,
    region: &str,
    setup: &AwsSetup,
) -> Result<Answer> {
    match client.get_caller_identity().send().await {
        Ok(output) => Ok(Answer::Known(Identity {
            account: output.account.unwrap_or_default(),
            arn: output.arn.unwrap_or_default(),
            region: region.to_string(),
        })),
        Err(error) => judge(&error, region, setup),
    }
}

/// A failed GetCallerIdentity: a credentials error, or silence (go on without an identity).
fn judge<E>(error: &SdkError<E, HttpResponse>, region: &str, setup: &AwsSetup) -> Result<Answer>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // Credentials are resolved before anything is sent: their failure is a dispatch failure
    // of kind "other" that carries the provider's error.
    if let SdkError::DispatchFailure(failure) = error
        && failure.is_other()
    {
        return Err(credentials_unavailable(
            setup,
            super::describe::find_cause::<CredentialsError>(error),
            error,
        ));
    }
    let answered = || {
        format!(
            "GetCallerIdentity in {region} answered {}",
            error_message(error)
        )
    };
    match error_code(error) {
        Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired") => {
            Err(expired(setup, &answered()))
        }
        Some(
            "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "SignatureDoesNotMatch"
            | "IncompleteSignature"
            | "MissingAuthenticationToken",
        ) => Err(refused(setup, &answered())),
        Some("AccessDenied" | "AccessDeniedException") => Err(Error::Credentials {
            what: format!(
                "AWS denies the credentials from {} even GetCallerIdentity: {}",
                setup.credential_source(),
                answered()
            ),
            fix: "GetCallerIdentity needs no IAM permission, so a policy beyond the principal's own (a service control policy, a VPC endpoint policy) denies it: ask the account's administrator, or use another profile with --profile".to_string(),
        }),
        Some("RegionDisabledException") => Ok(Answer::Silent(
            "STS is not activated in this region for the account".to_string(),
        )),
        _ => Ok(Answer::Silent(silence(error))),
    }
}

/// Why a region said nothing about the credentials.
fn silence<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if connection_refused(error) || no_answer(error) || matches!(error, SdkError::TimeoutError(_)) {
        super::silence(error, PATIENCE.operation)
    } else if let Some(answer) = service_missing(error) {
        format!("no STS at this endpoint ({answer})")
    } else {
        error_message(error)
    }
}

/// The credentials could not be loaded at all.
fn credentials_unavailable(
    setup: &AwsSetup,
    provider_error: Option<&CredentialsError>,
    whole: &(dyn std::error::Error + 'static),
) -> Error {
    // With no keys in the environment and none in the profile, any provider's failure (IMDS
    // answering oddly off EC2, say) means the same: there are no credentials to use.
    let nothing_configured = !setup.env_access_key
        && matches!(
            setup.profile_kind,
            ProfileKind::Missing | ProfileKind::NoCredentials
        );
    let nothing_found = matches!(
        provider_error,
        Some(CredentialsError::CredentialsNotLoaded(_))
    );
    if nothing_configured || (nothing_found && setup.profile_kind != ProfileKind::Sso) {
        let tried: String = setup
            .sources_tried()
            .iter()
            .map(|line| format!("\n  - {line}"))
            .collect();
        return Error::Credentials {
            what: format!("no AWS credentials found; the SDK looked in:{tried}"),
            fix: no_credentials_fix(setup),
        };
    }
    let said = match provider_error {
        Some(provider_error) => quote(&causes(provider_error)),
        None => quote(&causes(whole)),
    };
    let profile = &setup.profile;
    let (what, fix) = match setup.profile_kind {
        ProfileKind::Sso => (
            format!(
                "profile {profile} signs in through IAM Identity Center (SSO), and its session is missing or expired (the SDK said: {said})"
            ),
            format!("run `aws sso login --profile {profile}`, then the command again"),
        ),
        ProfileKind::Process => (
            format!("the credential_process of profile {profile} failed (the SDK said: {said})"),
            "run the profile's credential_process command by hand to see why it fails, or use another profile with --profile".to_string(),
        ),
        _ => (
            format!("the AWS credentials of profile {profile} could not be loaded (the SDK said: {said})"),
            format!(
                "check profile {profile} in {} and {} (`aws configure list --profile {profile}` shows what it resolves to)",
                setup.config_path.display(),
                setup.credentials_path.display()
            ),
        ),
    };
    Error::Credentials { what, fix }
}

fn no_credentials_fix(setup: &AwsSetup) -> String {
    let known = if setup.known_profiles.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", setup.known_profiles.join(", "))
    };
    format!(
        "run `aws configure` to store access keys, or `aws configure sso` and `aws sso login` for IAM Identity Center; or name a configured profile with --profile NAME or AWS_PROFILE=NAME{known}"
    )
}

fn expired(setup: &AwsSetup, answered: &str) -> Error {
    let profile = &setup.profile;
    let fix = if setup.env_access_key {
        "the session in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN is over: export fresh ones, or unset them to use a profile".to_string()
    } else if setup.profile_kind == ProfileKind::Sso {
        format!("run `aws sso login --profile {profile}`, then the command again")
    } else {
        format!(
            "get a new session for profile {profile} (`aws sso login --profile {profile}` for SSO, new keys with `aws configure --profile {profile}`)"
        )
    };
    Error::Credentials {
        what: format!(
            "the AWS credentials from {} have expired: {answered}",
            setup.credential_source()
        ),
        fix,
    }
}

fn refused(setup: &AwsSetup, answered: &str) -> Error {
    let fix = if setup.env_access_key {
        "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (a deleted, deactivated or mistyped key is refused), or unset them to use a profile".to_string()
    } else {
        format!(
            "store working keys with `aws configure --profile {0}` (a deleted, deactivated or mistyped key is refused), or use another profile with --profile",
            setup.profile
        )
    };
    Error::Credentials {
        what: format!(
            "AWS does not accept the credentials from {}: {answered}",
            setup.credential_source()
        ),
        fix,
    }
}

/// An error and its causes, each once, joined by ": " (never the Debug form).
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let line = current.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        cause = current.source();
    }
    text
}

/// The SDK's explanation on one line, bounded.
fn quote(text: &str) -> String {
    super::describe::bounded(&super::describe::one_line(text), QUOTE_LIMIT)
}

/// The lines `-v` (and deploy/teardown on a terminal) print before the work starts.
pub fn banner(config: &Config, outcome: &Outcome) -> String {
    let (account, principal) = match outcome {
        Outcome::Known(identity) => (identity.account.clone(), identity.arn.clone()),
        Outcome::Unanswered(silent) => (
            format!(
                "unknown: no region answered GetCallerIdentity ({})",
                silent.join("; ")
            ),
            "unknown".to_string(),
        ),
    };
    let regions = config
        .regions()
        .map(|region| {
            if region.home {
                format!("{} (home)", region.name)
            } else {
                region.name.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let endpoints = config
        .regions()
        .map(|region| {
            format!(
                "{} {}",
                region.name,
                region.endpoint_url.as_deref().unwrap_or("AWS")
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let config_file = config
        .config_file
        .as_ref()
        .map_or("none".to_string(), |path| path.display().to_string());
    let mut profile = config.aws.profile.clone();
    if config.aws.env_access_key {
        profile.push_str(" (credentials from the environment: AWS_ACCESS_KEY_ID)");
    }
    format!(
        "AWS identity and settings:\n  account      {account}\n  principal    {principal}\n  regions      {regions} (from {})\n  config file  {config_file}\n  endpoints    {endpoints}\n  profile      {profile}\n",
        config.region_source
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_kind_follows_the_key_the_sdk_prefers() {
        let kind = |pairs: &[(&'static str, &'static str)]| {
            let pairs = pairs.to_vec();
            profile_kind(move |key| {
                pairs
                    .iter()
                    .find(|(name, _)| *name == key)
                    .map(|(_, value)| *value)
            })
        };
        assert_eq!(kind(&[("region", "eu-west-1")]), ProfileKind::NoCredentials);
        assert_eq!(kind(&[("aws_access_key_id", "AKIA")]), ProfileKind::Keys);
        assert_eq!(kind(&[("sso_session", "corp")]), ProfileKind::Sso);
        assert_eq!(kind(&[("sso_start_url", "https://x")]), ProfileKind::Sso);
        assert_eq!(kind(&[("credential_process", "x")]), ProfileKind::Process);
        assert_eq!(
            kind(&[("role_arn", "arn"), ("sso_session", "corp")]),
            ProfileKind::Role
        );
    }

    #[test]
    fn a_quote_is_one_bounded_line() {
        assert_eq!(quote("a\n  b\tc"), "a b c");
        let long = "x".repeat(QUOTE_LIMIT + 10);
        assert_eq!(quote(&long).chars().count(), QUOTE_LIMIT + 1);
    }
}
