//! Gates that read the source: the operator IAM policy (`mysfits iam-policy`) stays equal to the
//! SDK operations the code calls and covers every resource type of the templates.
//!
//! SDK calls are found by their fluent form `.operation_name()` (the SDK builders take no
//! arguments), with the operation names of each SDK crate read from the crate's own sources
//! (located with `cargo metadata`), so nothing here lists operations by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mysfits::commands::iam_policy::{PERMISSIONS, ROLE_INLINE_POLICY_LIMIT, Source, policy};

use crate::util::Mysfits;

/// SDK crate (without `aws-sdk-`) → IAM service prefix. A new SDK crate needs a line here.
const IAM_PREFIXES: &[(&str, &str)] = &[
    ("applicationautoscaling", "application-autoscaling"),
    ("cloudformation", "cloudformation"),
    ("cloudwatch", "cloudwatch"),
    ("cloudwatchlogs", "logs"),
    ("dynamodb", "dynamodb"),
    ("ec2", "ec2"),
    ("ecr", "ecr"),
    ("ecs", "ecs"),
    ("elasticloadbalancingv2", "elasticloadbalancing"),
    ("globalaccelerator", "globalaccelerator"),
    ("route53", "route53"),
    ("sts", "sts"),
];

/// Receiver names that say which client a call is on (the fields of `RegionClients`).
const CLIENT_FIELDS: &[(&str, &str)] = &[
    ("autoscaling", "applicationautoscaling"),
    ("cloudformation", "cloudformation"),
    ("cloudwatch", "cloudwatch"),
    ("logs", "cloudwatchlogs"),
    ("dynamodb", "dynamodb"),
    ("ec2", "ec2"),
    ("ecr", "ecr"),
    ("ecs", "ecs"),
    ("elbv2", "elasticloadbalancingv2"),
    ("globalaccelerator", "globalaccelerator"),
    ("route53", "route53"),
    ("sts", "sts"),
];

/// Operation names (snake case) of every AWS SDK crate the workspace depends on.
fn sdk_operations() -> BTreeMap<String, BTreeSet<String>> {
    // Only the host's dependencies: the others (other platforms) may not be downloaded.
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: ").map(str::to_string))
        .unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(testbed::workspace_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut operations = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        let Some(service) = name.strip_prefix("aws-sdk-") else {
            continue;
        };
        let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap());
        let directory = manifest.parent().unwrap().join("src/operation");
        let names: BTreeSet<String> = std::fs::read_dir(&directory)
            .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                (path.extension()? == "rs")
                    .then(|| path.file_stem()?.to_str().map(str::to_string))?
            })
            .collect();
        operations
            .entry(service.to_string())
            .or_insert_with(BTreeSet::new)
            .extend(names);
    }
    assert!(
        operations.contains_key("cloudformation"),
        "no SDK crates found"
    );
    operations
}

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

fn is_identifier(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_'
}

/// A call `.name()` in the code, with the identifiers of its receiver chain
/// (`self.cloudformation` → `["self", "cloudformation"]`, `foo().bar` → `["bar"]`).
struct Call {
    name: String,
    receiver: Vec<String>,
    line: usize,
}

fn calls(text: &str) -> Vec<Call> {
    let code: String = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let characters: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut index = 0;
    while index + 2 < characters.len() {
        if characters[index] != '.' {
            index += 1;
            continue;
        }
        let start = index + 1;
        let mut end = start;
        while end < characters.len() && is_identifier(characters[end]) {
            end += 1;
        }
        let is_call = end > start
            && characters[start].is_ascii_lowercase()
            && characters.get(end) == Some(&'(')
            && characters.get(end + 1) == Some(&')');
        if is_call {
            let name: String = characters[start..end].iter().collect();
            let line = characters[..index].iter().filter(|c| **c == '\n').count() + 1;
            found.push(Call {
                name,
                receiver: receiver(&characters, index),
                line,
            });
        }
        index = end.max(index + 1);
    }
    found
}

/// Walks back from the dot before a call over `ident . ident . ...` (whitespace allowed).
fn receiver(characters: &[char], dot: usize) -> Vec<String> {
    let mut identifiers = Vec::new();
    let mut position = dot;
    loop {
        while position > 0 && characters[position - 1].is_whitespace() {
            position -= 1;
        }
        let end = position;
        while position > 0 && is_identifier(characters[position - 1]) {
            position -= 1;
        }
        if position == end {
            break;
        }
        identifiers.push(characters[position..end].iter().collect());
        while position > 0 && characters[position - 1].is_whitespace() {
            position -= 1;
        }
        if position > 0 && characters[position - 1] == '.' {
            position -= 1;
        } else {
            break;
        }
    }
    identifiers.reverse();
    identifiers
}

fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut characters = word.chars();
            characters
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + characters.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Every SDK operation called in `src/`, as IAM actions, with where each is called.
fn called_actions() -> BTreeMap<String, Vec<String>> {
    let operations = sdk_operations();
    let prefixes: BTreeMap<&str, &str> = IAM_PREFIXES.iter().copied().collect();
    let fields: BTreeMap<&str, &str> = CLIENT_FIELDS.iter().copied().collect();
    let root = testbed::workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut actions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let relative = file.strip_prefix(&root).unwrap().display().to_string();
        // The SDKs a file can reach: crates it names, and client fields it uses.
        let mut reachable: BTreeSet<&str> = operations
            .keys()
            .map(String::as_str)
            .filter(|service| text.contains(&format!("aws_sdk_{service}")))
            .collect();
        for (field, service) in &fields {
            if text.contains(&format!(".{field}")) {
                reachable.insert(service);
            }
        }
        for call in calls(&text) {
            let candidates: Vec<&str> = operations
                .iter()
                .filter(|(_, names)| names.contains(&call.name))
                .map(|(service, _)| service.as_str())
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let named = call
                .receiver
                .iter()
                .rev()
                .find_map(|identifier| fields.get(identifier.as_str()).copied());
            let service = match named {
                Some(service) if candidates.contains(&service) => service,
                Some(_) => continue,
                None => {
                    let in_reach: Vec<&str> = candidates
                        .iter()
                        .copied()
                        .filter(|service| reachable.contains(service))
                        .collect();
                    match in_reach.as_slice() {
                        [] => continue,
                        [service] => *service,
                        several => panic!(
                            "{relative}:{}: .{}() could be an operation of {several:?}: name the \
                             receiver after its client (e.g. `cloudformation`, `route53`)",
                            call.line, call.name
                        ),
                    }
                }
            };
            let prefix = prefixes.get(service).unwrap_or_else(|| {
                panic!("aws-sdk-{service} has no IAM prefix in IAM_PREFIXES (tests/it/quality.rs)")
            });
            actions
                .entry(format!("{prefix}:{}", pascal_case(&call.name)))
                .or_default()
                .push(format!("{relative}:{}", call.line));
        }
    }
    actions
}

#[test]
fn iam_policy_lists_exactly_the_sdk_operations_the_code_calls() {
    let called = called_actions();
    assert!(
        called.contains_key("cloudformation:CreateChangeSet")
            && called.contains_key("cloudwatch:PutDashboard")
            && called.contains_key("logs:FilterLogEvents"),
        "the scan misses known calls: {called:?}"
    );
    let declared: BTreeSet<&str> = PERMISSIONS
        .iter()
        .filter(|permission| permission.source == Source::Sdk)
        .map(|permission| permission.action)
        .collect();
    let missing: Vec<String> = called
        .iter()
        .filter(|(action, _)| !declared.contains(action.as_str()))
        .map(|(action, places)| format!("{action} (called at {})", places.join(", ")))
        .collect();
    let unused: Vec<&&str> = declared
        .iter()
        .filter(|action| !called.contains_key(**action))
        .collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "src/commands/iam_policy.rs PERMISSIONS is out of date.\n\
         add a `sdk(\"service:Action\", Scope)` line for each call:\n  {}\n\
         remove the lines no code calls any more:\n  {unused:?}",
        missing.join("\n  ")
    );
}

#[test]
fn iam_policy_covers_every_template_resource_type() {
    let root = testbed::workspace_root();
    let mut in_templates = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "yaml") {
            continue;
        }
        let template: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for resource in template["Resources"].as_mapping().unwrap().values() {
            in_templates.insert(resource["Type"].as_str().unwrap().to_string());
        }
    }
    let covered: BTreeSet<String> = PERMISSIONS
        .iter()
        .filter_map(|permission| match permission.source {
            Source::Template(resource_type) => Some(resource_type.to_string()),
            _ => None,
        })
        .collect();
    let uncovered: Vec<&String> = in_templates.difference(&covered).collect();
    let stale: Vec<&String> = covered.difference(&in_templates).collect();
    assert!(
        uncovered.is_empty() && stale.is_empty(),
        "resource types without permissions: {uncovered:?}; permissions for types no template has: {stale:?}"
    );
}

#[test]
fn iam_policy_document_is_scoped_and_fits() {
    for permission in PERMISSIONS {
        let (service, action) = permission.action.split_once(':').unwrap();
        assert!(
            !service.is_empty()
                && action.starts_with(|character: char| character.is_ascii_uppercase())
                && !action.contains('*'),
            "{} is not a single named action",
            permission.action
        );
    }
    let run = Mysfits::new().run(&[
        "--region",
        "eu-west-1",
        "--secondary-region",
        "eu-central-1",
        "--app",
        "shop",
        "iam-policy",
    ]);
    run.assert_success();
    let document: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let config = {
        let global = mysfits::cli::GlobalArgs {
            region: Some("eu-west-1".into()),
            secondary_region: Some("eu-central-1".into()),
            app: Some("shop".into()),
            ..Default::default()
        };
        mysfits::config::Config::resolve(&global, Default::default()).unwrap()
    };
    assert_eq!(document, serde_json::to_value(policy(&config)).unwrap());
    let compact: usize = run.stdout().chars().filter(|c| !c.is_whitespace()).count();
    assert!(
        compact <= ROLE_INLINE_POLICY_LIMIT,
        "{compact} characters: over IAM's inline role policy limit"
    );
    let statements = document["Statement"].as_array().unwrap();
    let by_sid = |sid: &str| {
        statements
            .iter()
            .find(|statement| statement["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid}"))
    };
    assert_eq!(
        by_sid("AppStacks")["Resource"][0],
        "arn:aws:cloudformation:eu-west-1:*:stack/shop-*/*"
    );
    assert_eq!(
        by_sid("CatalogueTable")["Resource"][4],
        "arn:aws:dynamodb:eu-central-1:*:table/shop-mysfits"
    );
    assert_eq!(
        by_sid("Dashboard")["Resource"],
        serde_json::json!(["arn:aws:cloudwatch::*:dashboard/shop"])
    );
    // `*` only with a condition that keeps it to the app's regions (or the control plane of
    // Global Accelerator, us-west-2, or of Route 53, us-east-1).
    for statement in statements {
        if statement["Resource"] == serde_json::json!(["*"]) {
            let regions = &statement["Condition"]["StringEquals"]["aws:RequestedRegion"];
            assert!(
                *regions == serde_json::json!(["eu-west-1", "eu-central-1"])
                    || *regions == "us-west-2"
                    || *regions == "us-east-1",
                "unbounded `*`: {statement}"
            );
        }
    }
    let all_actions: BTreeSet<&str> = statements
        .iter()
        .flat_map(|statement| statement["Action"].as_array().unwrap())
        .filter_map(|action| action.as_str())
        .collect();
    assert!(all_actions.contains("iam:PassRole"));
    assert_eq!(
        by_sid("PassStackRolesToTasks")["Condition"]["StringEquals"]["iam:PassedToService"],
        "ecs-tasks.amazonaws.com"
    );
}

#[test]
fn sdk_call_scanner_finds_receivers() {
    let found = calls(
        "let a = self\n    .cloudformation\n    .describe_stacks()\n    .stack_name(x);\n\
         // client.delete_stack()\n\
         match client.get_change().id(x) {}\n\
         foo(bar).list_things()",
    );
    let summary: Vec<(String, Vec<String>)> = found
        .into_iter()
        .map(|call| (call.name, call.receiver))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "describe_stacks".to_string(),
                vec!["self".to_string(), "cloudformation".to_string()]
            ),
            ("get_change".to_string(), vec!["client".to_string()]),
            ("list_things".to_string(), Vec::new()),
        ]
    );
    assert_eq!(pascal_case("get_metric_data"), "GetMetricData");
}

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
