//! The one formatter for failed SDK calls (`aws::describe`), fed with answers as AWS sends them
//! (aws-smithy-mocks: each service's own JSON or XML error body, a proxy's HTML page), the retry
//! notes, and the real binary against a port where nothing listens.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::operation::create_stack::CreateStackOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use mysfits::aws::aws_error;
use mysfits::progress::{Event, Events};

use crate::util::Mysfits;

fn answer(status: u16, content_type: &str, body: &str) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(body.to_string()),
    );
    response
        .headers_mut()
        .insert("content-type", content_type.to_string());
    response
        .headers_mut()
        .insert("x-amzn-requestid", "5f1c2d3e-0000-4000-8000-000000000001");
    response
}

/// The whole text `main` prints for a failed call.
fn report(error: mysfits::Error) -> String {
    error.report()
}

#[tokio::test]
async fn access_denied_from_ecs_names_the_action_status_and_request_id() {
    let body = r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ecs:CreateService on resource: arn:aws:ecs:us-east-1:123456789012:service/demo/web because no identity-based policy allows the ecs:CreateService action"}"#;
    let rule = mock!(aws_sdk_ecs::Client::create_service)
        .then_http_response(move || answer(400, "application/x-amz-json-1.1", body));
    let ecs = mock_client!(aws_sdk_ecs, [&rule]);
    let error = ecs.create_service().send().await.unwrap_err();
    assert_eq!(
        report(aws_error("CreateService", "us-east-1", &error)),
        "CreateService in us-east-1 failed: AccessDeniedException: User: \
         arn:aws:iam::123456789012:user/dev is not authorized to perform: ecs:CreateService on \
         resource: arn:aws:ecs:us-east-1:123456789012:service/demo/web because no identity-based \
         policy allows the ecs:CreateService action (HTTP 400, request id \
         5f1c2d3e-0000-4000-8000-000000000001)\n  fix: the caller may not call ecs:CreateService: \
         grant it (`mysfits iam-policy` prints the policy the CLI needs) or use a profile that \
         has it"
    );
}

#[tokio::test]
async fn ec2_unauthorized_operation_in_its_xml_shape_is_access_denied_too() {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ec2:DescribeVpcs because no identity-based policy allows the ec2:DescribeVpcs action</Message></Error></Errors><RequestID>0c1d2e3f-4a5b-4c6d-8e7f-000000000002</RequestID></Response>";
    let rule = mock!(aws_sdk_ec2::Client::describe_vpcs)
        .then_http_response(move || answer(403, "text/xml;charset=UTF-8", body));
    let ec2 = mock_client!(aws_sdk_ec2, [&rule]);
    let error = ec2.describe_vpcs().send().await.unwrap_err();
    assert_eq!(
        report(aws_error("DescribeVpcs", "eu-west-1", &error)),
        "DescribeVpcs in eu-west-1 failed: UnauthorizedOperation: You are not authorized to \
         perform this operation. User: arn:aws:iam::123456789012:user/dev is not authorized to \
         perform: ec2:DescribeVpcs because no identity-based policy allows the ec2:DescribeVpcs \
         action (HTTP 403, request id 5f1c2d3e-0000-4000-8000-000000000001)\n  fix: the caller \
         may not call ec2:DescribeVpcs: grant it (`mysfits iam-policy` prints the policy the CLI \
         needs) or use a profile that has it"
    );
}

#[tokio::test]
async fn access_denied_without_the_action_in_its_message_names_it_from_the_operation() {
    let body = r#"<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Access denied</Message></Error><RequestId>7a8b9c0d-0000-4000-8000-000000000003</RequestId></ErrorResponse>"#;
    let rule = mock!(aws_sdk_cloudformation::Client::create_stack)
        .then_http_response(move || answer(403, "text/xml", body));
    let cloudformation = mock_client!(aws_sdk_cloudformation, [&rule]);
    let error = cloudformation.create_stack().send().await.unwrap_err();
    assert_eq!(
        report(aws_error("CreateStack", "us-east-1", &error)),
        "CreateStack in us-east-1 failed: AccessDenied: Access denied (HTTP 403, request id \
         5f1c2d3e-0000-4000-8000-000000000001)\n  fix: the caller may not call \
         cloudformation:CreateStack: grant it (`mysfits iam-policy` prints the policy the CLI \
         needs) or use a profile that has it"
    );
}

#[tokio::test]
async fn expired_credentials_say_how_to_get_new_ones() {
    let body = r#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#;
    let rule = mock!(aws_sdk_ecr::Client::describe_repositories)
        .then_http_response(move || answer(400, "application/x-amz-json-1.1", body));
    let ecr = mock_client!(aws_sdk_ecr, [&rule]);
    let error = ecr.describe_repositories().send().await.unwrap_err();
    assert_eq!(
        report(aws_error("DescribeRepositories", "us-west-2", &error)),
        "DescribeRepositories in us-west-2 failed: ExpiredTokenException: The security token \
         included in the request is expired (HTTP 400, request id \
         5f1c2d3e-0000-4000-8000-000000000001)\n  fix: the AWS credentials are missing, expired \
         or wrong: run `aws sso login` (SSO profiles) or `aws configure`, or choose a profile \
         that has credentials (--profile NAME or AWS_PROFILE=NAME)"
    );
}

const PROXY_PAGE: &str = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";

#[tokio::test]
async fn a_proxys_html_page_is_quoted_short_on_one_line() {
    let rule = mock!(aws_sdk_dynamodb::Client::describe_table)
        .then_http_response(|| answer(503, "text/html", PROXY_PAGE));
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |config| {
        config.retry_config(RetryConfig::disabled())
    });
    let error = dynamodb
        .describe_table()
        .table_name("demo-mysfits")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        report(aws_error("DescribeTable", "us-east-1", &error)),
        "DescribeTable in us-east-1 failed: an answer without an AWS error code (HTTP 503, \
         request id 5f1c2d3e-0000-4000-8000-000000000001); it began: \"<html> <head><title>503 \
         Service Temporarily Unavailable</title></head> <body> <center><h1>503 Service \
         Temporarily Unavailable</h1></center> <hr><center>nginx/1.22.1</center> </body> \
         </html>\"\n  fix: something between here and AWS answered instead of AWS in us-east-1 \
         (a proxy? check HTTPS_PROXY and the network), then run the command again"
    );
}

#[tokio::test]
async fn a_long_unexpected_body_is_cut_at_two_hundred_characters() {
    let page = format!("<html><body>{}</body></html>", "x".repeat(400));
    let rule = mock!(aws_sdk_dynamodb::Client::describe_table)
        .then_http_response(move || answer(502, "text/html", &page));
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |config| {
        config.retry_config(RetryConfig::disabled())
    });
    let error = dynamodb
        .describe_table()
        .table_name("demo-mysfits")
        .send()
        .await
        .unwrap_err();
    let message = mysfits::aws::error_message(&error);
    assert_eq!(
        message,
        format!(
            "an answer without an AWS error code (HTTP 502, request id \
             5f1c2d3e-0000-4000-8000-000000000001); it began: \"<html><body>{}…\"",
            "x".repeat(188)
        )
    );
}

#[tokio::test]
async fn a_missing_resource_points_at_status_and_deploy() {
    let body = r#"{"__type":"ClusterNotFoundException","message":"Cluster not found."}"#;
    let rule = mock!(aws_sdk_ecs::Client::describe_services)
        .then_http_response(move || answer(400, "application/x-amz-json-1.1", body));
    let ecs = mock_client!(aws_sdk_ecs, [&rule]);
    let error = ecs.describe_services().send().await.unwrap_err();
    assert_eq!(
        report(aws_error("DescribeServices", "us-east-1", &error)),
        "DescribeServices in us-east-1 failed: ClusterNotFoundException: Cluster not found. \
         (HTTP 400, request id 5f1c2d3e-0000-4000-8000-000000000001)\n  fix: what \
         DescribeServices names does not exist in us-east-1: check the app name (--app) and the \
         regions; `mysfits status` shows what is deployed, `mysfits deploy` creates it"
    );
}

const THROTTLED: &str = r#"<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>9e8d7c6b-0000-4000-8000-000000000004</RequestId></ErrorResponse>"#;

/// A CloudFormation client as `RegionClients` builds it (refusal final, retry notes), over mocks.
macro_rules! watched_cloudformation {
    ($rule:expr, $attempts:expr) => {
        mock_client!(
            aws_sdk_cloudformation,
            RuleMode::Sequential,
            [$rule],
            |config| config
                .region(aws_types::region::Region::new("us-east-1"))
                .retry_config(RetryConfig::standard().with_max_attempts($attempts))
                .retry_classifier(mysfits::aws::retries::RefusedIsFinal)
                .interceptor(mysfits::aws::retries::RetryNotes)
        )
    };
}

fn collect_sdk_events() -> Arc<Mutex<Vec<Event>>> {
    let (events, mut receiver) = Events::channel();
    mysfits::progress::route_sdk_events(Some(events));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    tokio::spawn(async move {
        while let Some(event) = receiver.recv().await {
            sink.lock().unwrap().push(event);
        }
    });
    seen
}

#[tokio::test(start_paused = true)]
async fn each_retry_is_announced_with_its_attempt_and_reason() {
    let seen = collect_sdk_events();
    let rule = mock!(aws_sdk_cloudformation::Client::create_stack)
        .sequence()
        .http_response(|| answer(400, "text/xml", THROTTLED))
        .http_response(|| answer(503, "text/html", PROXY_PAGE))
        .output(|| CreateStackOutput::builder().stack_id("id").build())
        .build();
    let cloudformation = watched_cloudformation!(&rule, 6);
    cloudformation.create_stack().send().await.unwrap();
    tokio::task::yield_now().await;
    mysfits::progress::route_sdk_events(None);
    let lines: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(mysfits::progress::line)
        .collect();
    assert_eq!(
        lines,
        [
            "retrying CreateStack in us-east-1 (attempt 2 of 6): throttled",
            "retrying CreateStack in us-east-1 (attempt 3 of 6): HTTP 503",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_that_outlasts_the_retries_ends_with_a_fix_and_no_extra_note() {
    let seen = collect_sdk_events();
    let rule = mock!(aws_sdk_cloudformation::Client::create_stack)
        .sequence()
        .http_response(|| answer(400, "text/xml", THROTTLED))
        .times(2)
        .build();
    let cloudformation = watched_cloudformation!(&rule, 2);
    let error = cloudformation.create_stack().send().await.unwrap_err();
    tokio::task::yield_now().await;
    mysfits::progress::route_sdk_events(None);
    assert_eq!(seen.lock().unwrap().len(), 1, "one retry, one note");
    assert_eq!(
        report(aws_error("CreateStack", "us-east-1", &error)),
        "CreateStack in us-east-1 failed: Throttling: Rate exceeded (HTTP 400, request id \
         5f1c2d3e-0000-4000-8000-000000000001)\n  fix: AWS throttled CreateStack in us-east-1 \
         even after retries: wait a minute and run the command again; if it persists, another \
         tool is calling the same API (CloudTrail shows who) or the account needs a higher quota \
         (Service Quotas)"
    );
}

/// `plan` against a port where nothing listens: one attempt per call, no retry budget spent,
/// the refusal named with the address and what to do.
#[test]
fn plan_against_a_refused_port_ends_at_once_naming_the_endpoint() {
    let dead = testbed::dead_endpoint();
    let started = Instant::now();
    let run = Mysfits::new()
        .envs(vec![
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ])
        .run(&["--region", "us-east-1", "--endpoint-url", &dead, "plan"]);
    let took = started.elapsed();
    assert_eq!(run.code(), 2, "{}", run.stderr());
    // The data stack is previewed first (home's); its first call asks whether it has the table.
    let failure = "DescribeStackResource in us-east-1 failed: connection refused (nothing listens \
                   at the endpoint)";
    assert_eq!(
        run.stderr(),
        format!(
            "[preview mysfits-data (us-east-1)] started\n\
             [preview mysfits-data (us-east-1)] FAILED: {failure}\n\
             error: {failure}\n  fix: nothing accepts connections at {dead} (the endpoint for \
             us-east-1): start the emulator or service there, or correct the override \
             (regions.us-east-1.endpoint_url in mysfits.yaml, --endpoint-url, AWS_ENDPOINT_URL)\n"
        )
    );
    assert!(
        took < Duration::from_secs(10),
        "a refused connection is not retried: took {took:?}"
    );
}
