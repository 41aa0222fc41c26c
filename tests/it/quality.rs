//! Gates on the CLI's behaviour under faults (throttling, 503s, slow answers) and fuzzing of the
//! mysfits-service API. The IAM policy gates are in `iam_policy.rs`.

use crate::util::Mysfits;

// --- resilience: the CLI against throttling, 503s and slow answers ---------------------------

use std::time::Duration;

use testbed::faults::{FaultCounts, FaultProxy, Schedule};
use testbed::moto::Moto;

/// A third of all calls faulted: throttled, 503 or delayed by turns.
const FAULTS: Schedule = Schedule {
    every: 3,
    delay: Duration::from_millis(700),
};

/// moto's client environment with the proxy as the AWS endpoint.
fn through_proxy(moto: &Moto, proxy: &FaultProxy) -> Vec<(String, String)> {
    moto.client_env()
        .into_iter()
        .map(|(key, value)| {
            if key == "AWS_ENDPOINT_URL" {
                (key, proxy.endpoint())
            } else {
                (key, value)
            }
        })
        .collect()
}

#[track_caller]
fn assert_faults_injected(counts: &FaultCounts) {
    assert!(
        counts.throttled > 0 && counts.unavailable > 0 && counts.delayed > 0,
        "the proxy injected too little to prove anything: {counts:?}"
    );
}

#[test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
fn plan_survives_throttling_unavailable_and_slow_calls() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint(), FAULTS);
    let run = Mysfits::new().envs(through_proxy(&moto, &proxy)).run(&[
        "--region",
        "us-east-1",
        "--secondary-region",
        "us-west-2",
        "--app",
        "faults",
        "plan",
    ]);
    // Exit 1: changes to make (nothing is deployed); 2 would be a failure.
    assert_eq!(
        run.code(),
        1,
        "stdout:\n{}\nstderr:\n{}\nproxy: {:?}",
        run.stdout(),
        run.stderr(),
        proxy.counts()
    );
    assert!(
        run.stdout().contains("faults-app (us-west-2)"),
        "{}",
        run.stdout()
    );
    let counts = proxy.counts();
    eprintln!("fault proxy during plan: {counts:?}");
    assert_faults_injected(&counts);
    assert!(
        counts.faults_by_service.contains_key("cloudformation"),
        "{counts:?}"
    );
}

/// The real `mysfits deploy` of both regions through the proxy: every step (stacks, ECR auth,
/// table replica, seed) retries what AWS would throttle and waits out slow answers.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server, docker-registry and a static build of the services; run scripts/test"]
async fn deploy_and_teardown_survive_throttling_unavailable_and_slow_calls() {
    use mysfits::image::binaries::{BinarySource, CargoBuild};
    use testbed::registry::Registry;

    let binaries = CargoBuild {
        workspace: testbed::workspace_root(),
        profile: "dev".to_string(),
    }
    .binaries(&mysfits::progress::Events::discard(), "build")
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    let binaries = binaries["mysfits-service"].parent().unwrap().to_path_buf();
    let moto = Moto::start();
    let proxy = FaultProxy::start(&moto.endpoint(), FAULTS);
    let (primary_registry, secondary_registry) = (Registry::start(), Registry::start());
    let config_text = format!(
        "app: faults\nregion: us-east-1\nsecondary_region: us-west-2\n\
         regions:\n  us-east-1:\n    registry_url: {}\n    availability_zones: [us-east-1a, us-east-1b]\n\
         \x20 us-west-2:\n    registry_url: {}\n    availability_zones: [us-west-2a, us-west-2b]\n",
        primary_registry.url(),
        secondary_registry.url()
    );
    // The real binary with this config, every AWS call through the proxy.
    let mysfits_through_proxy = |args: &[&str]| {
        let mysfits = Mysfits::new();
        let config = mysfits.file("mysfits.yaml", &config_text);
        let mut all = vec!["--config", config.to_str().unwrap(), "--output", "json"];
        all.extend_from_slice(args);
        mysfits.envs(through_proxy(&moto, &proxy)).run(&all)
    };
    let run = mysfits_through_proxy(&["deploy", "--prebuilt-binaries", binaries.to_str().unwrap()]);
    assert_eq!(
        run.code(),
        0,
        "stdout:\n{}\nstderr:\n{}\nproxy: {:?}",
        run.stdout(),
        run.stderr(),
        proxy.counts()
    );
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["changed"], true, "{report:#}");

    // Checked behind the proxy's back: everything is there, in both regions.
    for region in ["us-east-1", "us-west-2"] {
        let cloudformation = aws_sdk_cloudformation::Client::new(&moto.sdk_config(region));
        for stack in ["faults-registry", "faults-app"] {
            let described = cloudformation
                .describe_stacks()
                .stack_name(stack)
                .send()
                .await
                .unwrap_or_else(|error| panic!("{stack} in {region}: {error:?}"));
            let status = described.stacks()[0].stack_status().unwrap().as_str();
            assert!(status.ends_with("_COMPLETE"), "{stack} {region}: {status}");
        }
    }
    let items = aws_sdk_dynamodb::Client::new(&moto.sdk_config("us-east-1"))
        .scan()
        .table_name("faults-mysfits")
        .send()
        .await
        .unwrap();
    assert_eq!(
        items.count() as usize,
        mysfits_service::catalogue::seed_items().len(),
        "the seed catalogue is complete despite the faults"
    );
    let counts = proxy.counts();
    eprintln!("fault proxy during deploy: {counts:?}");
    assert_faults_injected(&counts);
    for service in ["cloudformation", "ecr", "dynamodb"] {
        assert!(
            counts.faults_by_service.contains_key(service),
            "no fault reached {service}: {counts:?}"
        );
    }

    // Teardown through the same proxy: every step finishes, and what is left is only what moto's
    // half-way synchronous DeleteStack leaks (its VPC DependencyViolation stops it; which
    // resources come after that varies, see tests/it/teardown.rs), never something that
    // teardown removes with its own calls and a fault could have made it skip.
    let teardown = mysfits_through_proxy(&["teardown", "--yes"]);
    let report: serde_json::Value =
        serde_json::from_str(&teardown.stdout()).unwrap_or_else(|error| {
            panic!(
                "teardown printed no report ({error}):\n{}",
                teardown.stderr()
            )
        });
    crate::teardown::assert_all_steps_done(&report, &teardown);
    let removed_by_teardown_itself = [
        "ecs_service",
        "ecr_repository",
        "dynamodb_table",
        "dashboard",
        "stack",
        "accelerator",
        "health_check",
    ];
    for (region, kind, id) in crate::teardown::remaining(&report) {
        assert!(
            !removed_by_teardown_itself.contains(&kind.as_str()),
            "{kind} {id} in {region} left behind: {report:#}\nstderr:\n{}",
            teardown.stderr()
        );
    }
    for region in ["us-east-1", "us-west-2"] {
        let cloudformation = aws_sdk_cloudformation::Client::new(&moto.sdk_config(region));
        let stacks = cloudformation.describe_stacks().send().await.unwrap();
        for stack in stacks.stacks() {
            assert_eq!(
                stack.stack_status().map(|status| status.as_str()),
                Some("DELETE_COMPLETE"),
                "{:?} in {region}",
                stack.stack_name()
            );
        }
    }
    let table = aws_sdk_dynamodb::Client::new(&moto.sdk_config("us-east-1"))
        .describe_table()
        .table_name("faults-mysfits")
        .send()
        .await;
    assert!(table.is_err(), "the table is gone");
    let after = proxy.counts();
    eprintln!("fault proxy after teardown: {after:?}");
    assert!(
        after.throttled > counts.throttled
            && after.unavailable > counts.unavailable
            && after.delayed > counts.delayed,
        "teardown met every kind of fault: {counts:?} then {after:?}"
    );
}

/// The proxy's throttling errors are the ones the SDK knows as throttling for each protocol
/// (awsQuery, EC2 query, awsJson): otherwise the tests above would prove nothing about retries.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn fault_proxy_speaks_each_protocols_throttling_error() {
    use aws_config::retry::RetryConfig;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;

    let moto = Moto::start();
    // Every second call faulted; by turns: 2 throttled, 4 unavailable, 6 delayed, 8 throttled...
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        Schedule {
            every: 2,
            delay: Duration::from_millis(10),
        },
    );
    let sdk = testbed::moto::sdk_config_for(&proxy.endpoint(), "us-east-1");
    let no_retries = RetryConfig::disabled();
    let cloudformation = aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(&sdk)
            .retry_config(no_retries.clone())
            .build(),
    );
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .retry_config(no_retries.clone())
            .build(),
    );
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&sdk)
            .retry_config(no_retries)
            .build(),
    );

    cloudformation.list_stacks().send().await.unwrap(); // 1
    let throttled = cloudformation.list_stacks().send().await.unwrap_err(); // 2
    assert_eq!(throttled.code(), Some("Throttling"), "{throttled:?}");
    dynamodb.list_tables().send().await.unwrap(); // 3
    let unavailable = dynamodb.list_tables().send().await.unwrap_err(); // 4
    assert_eq!(
        unavailable
            .raw_response()
            .map(|response| response.status().as_u16()),
        Some(503)
    );
    ec2.describe_vpcs().send().await.unwrap(); // 5
    ec2.describe_vpcs().send().await.unwrap(); // 6: delayed, then answered
    ec2.describe_vpcs().send().await.unwrap(); // 7
    let throttled = ec2.describe_vpcs().send().await.unwrap_err(); // 8
    assert_eq!(
        throttled.code(),
        Some("RequestLimitExceeded"),
        "{throttled:?}"
    );
    for _ in 9..=13 {
        let _ = dynamodb.list_tables().send().await;
    }
    let throttled = dynamodb.list_tables().send().await.unwrap_err(); // 14
    assert_eq!(
        throttled.code(),
        Some("ThrottlingException"),
        "{throttled:?}"
    );

    let counts = proxy.counts();
    assert_eq!(
        (
            counts.calls,
            counts.throttled,
            counts.unavailable,
            counts.delayed
        ),
        (14, 3, 2, 2)
    );
    assert_eq!(counts.faults_by_service["ec2"], 2);
}

// --- fuzzing the mysfits-service API: never a 5xx, nothing corrupted -------------------------

mod fuzz {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::AttributeValue;
    use axum::body::Body;
    use http::Request;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use tower::ServiceExt;

    use testbed::moto::Moto;

    const REGION: &str = "eu-west-1";
    const TABLE: &str = "fuzz-mysfits";

    /// One request as the fuzzer makes it.
    #[derive(Debug, Clone)]
    struct Call {
        method: &'static str,
        path: String,
        content_type: Option<&'static str>,
        body: Vec<u8>,
    }

    /// Percent-encodes everything but unreserved characters, so any string becomes a valid URI
    /// part (the server sees the original string after decoding).
    fn encode(text: &str) -> String {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (byte as char).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect()
    }

    /// Ids: real ones (so valid calls happen too), near misses, and anything at all.
    fn ids(real: Vec<String>) -> impl Strategy<Value = String> {
        let near: Vec<String> = real
            .iter()
            .flat_map(|id| {
                [
                    id.to_uppercase(),
                    format!("{id} "),
                    format!("{id}x"),
                    id[..id.len() / 2].to_string(),
                ]
            })
            .collect();
        prop_oneof![
            3 => proptest::sample::select(real),
            1 => proptest::sample::select(near),
            2 => any::<String>(),
            1 => "[a-z0-9-]{0,3000}",
            1 => Just(String::new()),
            1 => Just("..".to_string()),
            1 => Just("%00".to_string()),
        ]
    }

    fn query_words() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec![
                "GoodEvil", "LawChaos", "goodevil", "Good", "Evil", "Neutral", "Lawful", "Chaotic",
                "", " ",
            ])
            .prop_map(str::to_string),
            any::<String>(),
        ]
    }

    fn calls(real: Vec<String>) -> impl Strategy<Value = Call> {
        let method = proptest::sample::select(vec![
            "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
        ]);
        let path = prop_oneof![
            ids(real.clone()).prop_map(|id| format!("/mysfits/{}", encode(&id))),
            ids(real.clone()).prop_map(|id| format!("/mysfits/{}/adopt", encode(&id))),
            ids(real).prop_map(|id| format!("/mysfits/{}/fulfill-like", encode(&id))),
            (
                proptest::option::of(query_words()),
                proptest::option::of(query_words())
            )
                .prop_map(|(filter, value)| {
                    let mut query = Vec::new();
                    if let Some(filter) = filter {
                        query.push(format!("filter={}", encode(&filter)));
                    }
                    if let Some(value) = value {
                        query.push(format!("value={}", encode(&value)));
                    }
                    format!("/mysfits?{}", query.join("&"))
                }),
            "[a-zA-Z0-9/._~%-]{0,64}".prop_map(|path| format!("/{path}")),
            (any::<String>(), any::<String>()).prop_map(|(size, file)| format!(
                "/images/{}/{}",
                encode(&size),
                encode(&file)
            )),
            Just("/health".to_string()),
            Just("/health/ready".to_string()),
            Just("/".to_string()),
        ];
        let content_type = proptest::option::of(proptest::sample::select(vec![
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
        ]));
        let body = prop_oneof![
            Just(Vec::new()),
            proptest::collection::vec(any::<u8>(), 0..512),
            Just(br#"{"Likes": 1000, "Adopted": true, "MysfitId": "x"}"#.to_vec()),
        ];
        (method, path, content_type, body).prop_map(|(method, path, content_type, body)| Call {
            method,
            path,
            content_type,
            body,
        })
    }

    fn snapshot(
        items: &[HashMap<String, AttributeValue>],
    ) -> HashMap<String, HashMap<String, AttributeValue>> {
        items
            .iter()
            .map(|item| {
                let id = item["MysfitId"].as_s().unwrap().clone();
                (id, item.clone())
            })
            .collect()
    }

    async fn scan(
        client: &aws_sdk_dynamodb::Client,
    ) -> HashMap<String, HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut pages = client
            .scan()
            .table_name(TABLE)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            items.push(item.unwrap());
        }
        snapshot(&items)
    }

    /// Arbitrary methods, paths, ids, filters and bodies against the real router over a seeded
    /// table: no answer is a 5xx, and afterwards every item is exactly as seeded except Likes
    /// (up by the number of accepted likes) and Adopted (true after an accepted adoption).
    #[test]
    #[ignore = "emulator tier: needs moto_server; run scripts/test"]
    fn mysfits_service_never_answers_5xx_and_corrupts_nothing() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let moto = Moto::start();
        let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config(REGION));
        runtime.block_on(crate::services::create_table(&client, TABLE));
        runtime
            .block_on(mysfits_service::catalogue::seed_catalogue(&client, TABLE))
            .unwrap();
        let before = runtime.block_on(scan(&client));
        let real: Vec<String> = before.keys().cloned().collect();
        let router = mysfits_service::router(mysfits_service::AppState::new(
            mysfits_service::MysfitsTable::new(client.clone(), TABLE),
            REGION,
        ));

        let accepted_likes = std::cell::RefCell::new(HashMap::<String, i64>::new());
        let accepted_adoptions = std::cell::RefCell::new(HashMap::<String, bool>::new());
        let mut runner = TestRunner::new(Config {
            cases: 400,
            failure_persistence: None,
            ..Config::default()
        });
        let outcome = runner.run(&calls(real.clone()), |call| {
            let mut request = Request::builder().method(call.method).uri(&call.path);
            if let Some(content_type) = call.content_type {
                request = request.header("content-type", content_type);
            }
            let request = request
                .body(Body::from(call.body.clone()))
                .map_err(|error| TestCaseError::fail(format!("{call:?}: {error}")))?;
            let response = runtime.block_on(router.clone().oneshot(request)).unwrap();
            let status = response.status();
            let body = runtime
                .block_on(axum::body::to_bytes(response.into_body(), 1 << 22))
                .unwrap();
            prop_assert!(
                !status.is_server_error(),
                "{} {} answered {status}: {}",
                call.method,
                call.path,
                String::from_utf8_lossy(&body)
            );
            if call.method == "POST" && status.is_success() {
                let answered: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let id = answered["mysfitId"].as_str().map(str::to_string);
                if let Some(id) = id {
                    if call.path.ends_with("/fulfill-like") {
                        *accepted_likes.borrow_mut().entry(id).or_default() += 1;
                    } else if call.path.ends_with("/adopt") {
                        accepted_adoptions.borrow_mut().insert(id, true);
                    }
                }
            }
            Ok(())
        });
        if let Err(failure) = outcome {
            panic!("{failure}");
        }

        let after = runtime.block_on(scan(&client));
        assert_eq!(
            after.keys().collect::<std::collections::BTreeSet<_>>(),
            before.keys().collect::<std::collections::BTreeSet<_>>(),
            "items were added or removed"
        );
        let number = |item: &HashMap<String, AttributeValue>, key: &str| -> i64 {
            item.get(key)
                .and_then(|value| value.as_n().ok())
                .map(|text| text.parse().unwrap())
                .unwrap_or(0)
        };
        let flag = |item: &HashMap<String, AttributeValue>| {
            item.get("Adopted")
                .and_then(|value| value.as_bool().ok())
                .copied()
                .unwrap_or(false)
        };
        let (likes, adoptions) = (accepted_likes.borrow(), accepted_adoptions.borrow());
        let mut changed_items = 0;
        for (id, old) in &before {
            let new = &after[id];
            let unchanged = |item: &HashMap<String, AttributeValue>| {
                let mut rest = item.clone();
                rest.remove("Likes");
                rest.remove("Adopted");
                rest
            };
            assert_eq!(
                unchanged(new),
                unchanged(old),
                "{id}: fields other than Likes/Adopted changed"
            );
            let liked = likes.get(id).copied().unwrap_or(0);
            assert_eq!(
                number(new, "Likes"),
                number(old, "Likes") + liked,
                "{id}: Likes"
            );
            assert_eq!(
                flag(new),
                flag(old) || adoptions.get(id).copied().unwrap_or(false),
                "{id}: Adopted"
            );
            if liked > 0 || flag(new) != flag(old) {
                changed_items += 1;
            }
        }
        assert!(
            changed_items > 0,
            "no valid like or adoption happened: the fuzzer did not reach the writes"
        );
    }
}
