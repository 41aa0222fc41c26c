//! Identity first: STS GetCallerIdentity failures as AWS sends them (modeled with
//! aws-smithy-mocks: the query protocol's XML error bodies and status codes), and through the
//! real binary an unknown profile and a machine without credentials, with their whole messages.

use std::process::Command;

use aws_sdk_sts::Client;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use mysfits::aws::identity::{Answer, AwsSetup, Identity, ProfileKind, caller_identity};

/// An STS error response as AWS sends it (awsQuery protocol).
fn sts_error(status: u16, code: &'static str, message: &'static str) -> Client {
    let rule = mock!(Client::get_caller_identity).then_http_response(move || {
        Response::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    \
                 <Type>Sender</Type>\n    <Code>{code}</Code>\n    <Message>{message}</Message>\n  \
                 </Error>\n  <RequestId>4d3c1a5e-0000-4000-8000-000000000000</RequestId>\n</ErrorResponse>\n"
            )),
        )
    });
    mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[&rule])
}

fn profile_setup(kind: ProfileKind) -> AwsSetup {
    AwsSetup {
        profile: "dev".into(),
        profile_kind: kind,
        config_path: "/home/me/.aws/config".into(),
        credentials_path: "/home/me/.aws/credentials".into(),
        known_profiles: vec!["dev".into()],
        ..AwsSetup::default()
    }
}

async fn failure(client: &Client, setup: &AwsSetup) -> String {
    let error = caller_identity(client, "us-east-1", setup)
        .await
        .expect_err("a credentials error");
    assert_eq!(error.kind(), "credentials");
    error.to_string()
}

#[tokio::test]
async fn an_expired_sso_session_says_aws_sso_login_for_the_profile() {
    let client = sts_error(
        400,
        "ExpiredToken",
        "The security token included in the request is expired",
    );
    assert_eq!(
        failure(&client, &profile_setup(ProfileKind::Sso)).await,
        "the AWS credentials from profile dev have expired: GetCallerIdentity in us-east-1 \
         answered ExpiredToken: The security token included in the request is expired (HTTP 400)\n  \
         fix: run `aws sso login --profile dev`, then the command again"
    );
    let environment = AwsSetup {
        env_access_key: true,
        env_secret_key: true,
        ..profile_setup(ProfileKind::Keys)
    };
    assert_eq!(
        failure(&client, &environment).await,
        "the AWS credentials from the environment (AWS_ACCESS_KEY_ID) have expired: \
         GetCallerIdentity in us-east-1 answered ExpiredToken: The security token included in \
         the request is expired (HTTP 400)\n  fix: the session in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY \
         / AWS_SESSION_TOKEN is over: export fresh ones, or unset them to use a profile"
    );
}

#[tokio::test]
async fn an_unknown_access_key_is_refused_with_how_to_store_working_keys() {
    let client = sts_error(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    );
    assert_eq!(
        failure(&client, &profile_setup(ProfileKind::Keys)).await,
        "AWS does not accept the credentials from profile dev: GetCallerIdentity in us-east-1 \
         answered InvalidClientTokenId: The security token included in the request is invalid. (HTTP 403)\n  \
         fix: store working keys with `aws configure --profile dev` (a deleted, deactivated or \
         mistyped key is refused), or use another profile with --profile"
    );
}

#[tokio::test]
async fn access_denied_names_a_policy_beyond_the_principal() {
    let client = sts_error(
        403,
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: \
         sts:GetCallerIdentity with an explicit deny in a service control policy",
    );
    assert_eq!(
        failure(&client, &profile_setup(ProfileKind::Keys)).await,
        "AWS denies the credentials from profile dev even GetCallerIdentity: GetCallerIdentity \
         in us-east-1 answered AccessDenied: User: arn:aws:iam::123456789012:user/ops is not \
         authorized to perform: sts:GetCallerIdentity with an explicit deny in a service control \
         policy (HTTP 403)\n  fix: GetCallerIdentity needs no IAM permission, so a policy beyond the \
         principal's own (a service control policy, a VPC endpoint policy) denies it: ask the \
         account's administrator, or use another profile with --profile"
    );
}

#[tokio::test]
async fn a_region_where_sts_is_off_is_silence_not_a_credentials_error() {
    let client = sts_error(
        403,
        "RegionDisabledException",
        "STS is not activated in this region for account:123456789012. Your account \
         administrator can activate STS in this region using the IAM Console.",
    );
    let answer = caller_identity(&client, "eu-south-2", &profile_setup(ProfileKind::Keys))
        .await
        .unwrap();
    assert_eq!(
        answer,
        Answer::Silent("STS is not activated in this region for the account".into())
    );
}

#[tokio::test]
async fn the_answer_names_account_and_principal() {
    let rule = mock!(Client::get_caller_identity).then_output(|| {
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder()
            .account("123456789012")
            .arn("arn:aws:sts::123456789012:assumed-role/ops/me")
            .user_id("AROAEXAMPLE:me")
            .build()
    });
    let client = mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[&rule]);
    let answer = caller_identity(&client, "us-west-2", &AwsSetup::default())
        .await
        .unwrap();
    assert_eq!(
        answer,
        Answer::Known(Identity {
            account: "123456789012".into(),
            arn: "arn:aws:sts::123456789012:assumed-role/ops/me".into(),
            region: "us-west-2".into(),
        })
    );
}

/// The binary with HOME in a temp dir, no AWS variables but AWS_EC2_METADATA_DISABLED, and a
/// dead endpoint (nothing may be sent: credentials come first).
fn without_credentials(home: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mysfits"));
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("MYSFITS_") {
            command.env_remove(key);
        }
    }
    command
        .current_dir(home)
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

#[test]
fn an_unknown_profile_is_refused_with_the_known_ones() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/config"),
        "[default]\nregion = eu-west-1\n\n[profile dev]\nsso_session = corp\n",
    )
    .unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        "[ci]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n",
    )
    .unwrap();
    let output = without_credentials(home.path())
        .args(["--region", "us-east-1", "--profile", "nosuch", "status"])
        .output()
        .unwrap();
    let root = home.path().display();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: unknown profile \"nosuch\" (--profile): it is in neither {root}/.aws/config \
             nor {root}/.aws/credentials; known profiles: ci, default, dev\n  fix: name a known \
             profile with --profile or AWS_PROFILE, or create this one with `aws configure \
             --profile nosuch` (access keys) or `aws configure sso --profile nosuch` (IAM \
             Identity Center)\n"
        )
    );
    // The same through AWS_PROFILE, the files moved by AWS_CONFIG_FILE.
    let moved = home.path().join("elsewhere");
    std::fs::rename(home.path().join(".aws/config"), &moved).unwrap();
    let output = without_credentials(home.path())
        .env("AWS_PROFILE", "dev")
        .env("AWS_CONFIG_FILE", &moved)
        .args(["--region", "us-east-1", "status"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("unknown profile"),
        "dev is in AWS_CONFIG_FILE: {stderr}"
    );
}

#[test]
fn no_credentials_anywhere_lists_what_was_tried_and_the_fix() {
    let home = tempfile::tempdir().unwrap();
    let output = without_credentials(home.path())
        .args([
            "--region",
            "us-east-1",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "status",
        ])
        .output()
        .unwrap();
    let root = home.path().display();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: no AWS credentials found; the SDK looked in:\n  \
             - environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set\n  \
             - profile default: not in {root}/.aws/config nor {root}/.aws/credentials\n  \
             - web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set\n  \
             - ECS container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and \
             AWS_CONTAINER_CREDENTIALS_FULL_URI are not set\n  \
             - EC2 instance metadata (IMDS): turned off by AWS_EC2_METADATA_DISABLED\n  \
             fix: run `aws configure` to store access keys, or `aws configure sso` and `aws sso \
             login` for IAM Identity Center; or name a configured profile with --profile NAME or \
             AWS_PROFILE=NAME\n"
        )
    );
}

#[test]
fn the_region_falls_back_to_aws_region_and_verbose_shows_the_settings() {
    let home = tempfile::tempdir().unwrap();
    let dead = testbed::dead_endpoint();
    let output = without_credentials(home.path())
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["--endpoint-url", &dead, "-v", "status"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let banner = format!(
        "AWS identity and settings:\n  account      unknown: no region answered \
         GetCallerIdentity (eu-west-1: refused the connection)\n  principal    unknown\n  \
         regions      eu-west-1 (home) (from AWS_REGION)\n  config file  none\n  \
         endpoints    eu-west-1 {dead}\n  profile      default (credentials \
         from the environment: AWS_ACCESS_KEY_ID)\n"
    );
    assert!(stderr.contains(&banner), "{stderr}");
}
