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
        by_sid("CatalogueTable")["Resource"][3],
        "arn:aws:dynamodb:eu-central-1:*:table/shop-mysfits"
    );
    assert_eq!(
        by_sid("Dashboard")["Resource"],
        serde_json::json!(["arn:aws:cloudwatch::*:dashboard/shop"])
    );
    // `*` only with a condition that keeps it to the app's regions (or GA's control plane).
    for statement in statements {
        if statement["Resource"] == serde_json::json!(["*"]) {
            let regions = &statement["Condition"]["StringEquals"]["aws:RequestedRegion"];
            assert!(
                *regions == serde_json::json!(["eu-west-1", "eu-central-1"])
                    || *regions == "us-west-2",
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
