//! Gates on the CLI's behaviour under faults (throttling, 503s, slow answers). The IAM policy gates
//! are in `iam_policy.rs`; the fuzzing of the mysfits-service API is in that crate's tests.

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
        // and the write-region control item the seed step adds
        mysfits_catalogue::catalogue::seed_items().len() + 1,
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
