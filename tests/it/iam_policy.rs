//! Gates on the operator IAM policy (`mysfits iam-policy`): it stays equal to the SDK operations
//! the code calls, grants every CloudFormation handler permission of the templates' resource
//! types (from the trimmed registry schemas in `src/commands/iam_policy/`), and fits IAM's
//! managed policy size.
//!
//! SDK calls are found by their fluent form `.operation_name()` (the SDK builders take no
//! arguments), with the operation names of each SDK crate read from the crate's own sources
//! (located with `cargo metadata`), so nothing here lists operations by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mysfits::commands::iam_policy::{
    MANAGED_POLICY_LIMIT, NOT_NEEDED, PERMISSIONS, Source, handler_permissions, not_needed,
    policies, policy, policy_size, template_permissions, template_resource_types,
};

use crate::util::Mysfits;

/// SDK crate (without `aws-sdk-`) → IAM service prefix. A new SDK crate needs a line here.
const IAM_PREFIXES: &[(&str, &str)] = &[
    ("applicationautoscaling", "application-autoscaling"),
    ("arcregionswitch", "arc-region-switch"),
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
    ("xray", "xray"),
];

/// Receiver names that say which client a call is on (the fields of `RegionClients`).
const CLIENT_FIELDS: &[(&str, &str)] = &[
    ("autoscaling", "applicationautoscaling"),
    // auto failover's status: the ARC Region switch client.
    ("arc", "arcregionswitch"),
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
    ("xray", "xray"),
];

/// The source directory of every AWS SDK crate the workspace depends on, by service.
fn sdk_crates() -> Vec<(String, PathBuf)> {
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
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|package| {
            let service = package["name"].as_str()?.strip_prefix("aws-sdk-")?;
            let manifest = PathBuf::from(package["manifest_path"].as_str()?);
            Some((service.to_string(), manifest.parent()?.join("src")))
        })
        .collect()
}

/// The stems of the `.rs` files in `directory` (none when it does not exist).
fn rust_stems(directory: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect()
}

/// Operation names (snake case) per SDK crate (service).
type Operations = BTreeMap<String, BTreeSet<String>>;
/// Generated waiters per SDK crate: `wait_until_NAME` → the operation (snake case) it polls.
type Waiters = BTreeMap<String, BTreeMap<String, String>>;

/// Operation names (snake case) of every AWS SDK crate the workspace depends on, and its
/// generated waiters (`wait_until_NAME` → the operation the waiter polls), which call an
/// operation without naming it.
fn sdk_operations() -> (Operations, Waiters) {
    let mut operations = Operations::new();
    let mut waiters = Waiters::new();
    for (service, source) in sdk_crates() {
        let names = rust_stems(&source.join("operation"));
        assert!(!names.is_empty(), "{}: no operations", source.display());
        for waiter in rust_stems(&source.join("waiters")) {
            let Ok(text) = std::fs::read_to_string(source.join(format!("waiters/{waiter}.rs")))
            else {
                continue;
            };
            let polled = names
                .iter()
                .find(|operation| text.contains(&format!("crate::operation::{operation}::")));
            if let Some(operation) = polled {
                waiters
                    .entry(service.clone())
                    .or_default()
                    .insert(format!("wait_until_{waiter}"), operation.clone());
            }
        }
        operations.entry(service).or_default().extend(names);
    }
    assert!(
        operations.contains_key("cloudformation"),
        "no SDK crates found"
    );
    assert!(
        waiters.get("route53").is_some_and(|route53| route53
            .get("wait_until_resource_record_sets_changed")
            .map(String::as_str)
            == Some("get_change")),
        "the waiter scan finds what a generated waiter polls: {waiters:?}"
    );
    (operations, waiters)
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
    let (mut operations, waiters) = sdk_operations();
    // A waiter is one more name under which its crate calls the operation it polls.
    for (service, names) in &waiters {
        if let Some(known) = operations.get_mut(service) {
            known.extend(names.keys().cloned());
        }
    }
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
            let operation = waiters
                .get(service)
                .and_then(|names| names.get(&call.name))
                .unwrap_or(&call.name);
            actions
                .entry(format!("{prefix}:{}", pascal_case(operation)))
                .or_default()
                .push(format!("{relative}:{}", call.line));
        }
    }
    actions
}

/// Calls AWS authorizes without any IAM permission, so the policy leaves them out. STS API
/// reference, GetCallerIdentity: "No permissions are required to perform this operation."
const NEEDS_NO_PERMISSION: &[&str] = &["sts:GetCallerIdentity"];

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
        .filter(|(action, _)| !NEEDS_NO_PERMISSION.contains(&action.as_str()))
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

/// Every resource type of `templates/*.yaml` (read from disk, so a new template file counts).
fn types_in_template_files() -> BTreeMap<String, Vec<serde_yaml::Value>> {
    let root = testbed::workspace_root();
    let mut types: BTreeMap<String, Vec<serde_yaml::Value>> = BTreeMap::new();
    for entry in std::fs::read_dir(root.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "yaml") {
            continue;
        }
        let template: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for resource in template["Resources"].as_mapping().unwrap().values() {
            types
                .entry(resource["Type"].as_str().unwrap().to_string())
                .or_default()
                .push(resource["Properties"].clone());
        }
    }
    types
}

#[test]
fn iam_policy_handler_data_has_every_template_resource_type() {
    let in_templates = types_in_template_files();
    let embedded = template_resource_types().unwrap();
    assert_eq!(
        in_templates.keys().cloned().collect::<BTreeSet<_>>(),
        embedded,
        "templates/ and the templates embedded in the binary differ"
    );
    let data = handler_permissions().unwrap();
    let missing: Vec<&String> = in_templates
        .keys()
        .filter(|resource_type| !data.resource_types.contains_key(*resource_type))
        .collect();
    assert!(
        missing.is_empty(),
        "src/commands/iam_policy/cfn-handler-permissions.json lacks {missing:?}: add each type's \
         `handlers` from its CloudFormation registry schema (aws-<service>-<type>.json)"
    );
    // The private service-to-service connection may use either design: both are covered.
    for resource_type in [
        "AWS::ServiceDiscovery::PrivateDnsNamespace",
        "AWS::ServiceDiscovery::HttpNamespace",
        "AWS::ServiceDiscovery::Service",
        "AWS::EC2::SecurityGroupEgress",
    ] {
        assert!(
            data.resource_types.contains_key(resource_type),
            "{resource_type}"
        );
    }
    let source = &data.source;
    let commit = source["commit"].as_str().unwrap();
    assert!(
        commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{source}"
    );
    assert!(source["repository"].as_str().is_some(), "{source}");
    let action_name = |action: &str| {
        action.split_once(':').is_some_and(|(service, name)| {
            !service.is_empty()
                && service
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric())
        })
    };
    for (resource_type, handlers) in &data.resource_types {
        assert!(
            handlers.schema.is_some() || handlers.documentation.is_some(),
            "{resource_type}: no source"
        );
        // (No update handler: every property needs a replacement.)
        for handler in ["create", "read", "delete"] {
            assert!(
                handlers.handlers.contains_key(handler),
                "{resource_type} has no {handler} handler"
            );
        }
        for action in handlers.actions() {
            assert!(
                action_name(action)
                    || not_needed(resource_type, action).is_some_and(|entry| entry.when.is_none()),
                "{resource_type}: {action} is not an IAM action name; leave it out in NOT_NEEDED"
            );
        }
    }
}

/// IAM's action matching: case-insensitive, `*` matching any run of characters.
fn allows(pattern: &str, action: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let action = action.to_ascii_lowercase();
    match pattern.split_once('*') {
        None => pattern == action,
        Some((prefix, rest)) => {
            action.starts_with(prefix)
                && (0..=action.len() - prefix.len())
                    .any(|skip| allows(rest, &action[prefix.len() + skip..]))
        }
    }
}

#[test]
fn iam_action_matching_follows_iam() {
    assert!(allows("ec2:Describe*", "ec2:DescribeVpcs"));
    assert!(allows("ec2:describe*", "EC2:DescribeVpcs"));
    assert!(!allows("ec2:Describe*", "ec2:DeleteVpc"));
    assert!(!allows("ec2:DescribeVpcs", "ec2:DescribeVpcsX"));
    assert!(allows("ec2:*Vpc*", "ec2:CreateVpcEndpoint"));
}

/// Every key (with its value) anywhere under a resource's Properties.
fn has_property(value: &serde_yaml::Value, key: &str, wanted: Option<&str>) -> bool {
    match value {
        serde_yaml::Value::Mapping(mapping) => mapping.iter().any(|(name, inner)| {
            (name.as_str() == Some(key)
                && wanted.is_none_or(|wanted| inner.as_str() == Some(wanted)))
                || has_property(inner, key, wanted)
        }),
        serde_yaml::Value::Sequence(items) => {
            items.iter().any(|item| has_property(item, key, wanted))
        }
        serde_yaml::Value::Tagged(tagged) => has_property(&tagged.value, key, wanted),
        _ => false,
    }
}

#[test]
fn has_property_finds_nested_keys_and_values() {
    let properties: serde_yaml::Value = serde_yaml::from_str(
        "DefaultActions:\n  - Type: authenticate-cognito\n    AuthenticateCognitoConfig: {}\nServiceNamespace: ecs\n",
    )
    .unwrap();
    assert!(has_property(&properties, "AuthenticateCognitoConfig", None));
    assert!(has_property(&properties, "ServiceNamespace", Some("ecs")));
    assert!(!has_property(
        &properties,
        "ServiceNamespace",
        Some("lambda")
    ));
    assert!(!has_property(
        &properties,
        "KinesisStreamSpecification",
        None
    ));
}

/// The operator's policies as the CLI prints them, for an app in eu-west-1 + eu-central-1.
fn printed_policies() -> (serde_json::Value, mysfits::config::Config) {
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
    let printed: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let global = mysfits::cli::GlobalArgs {
        region: Some("eu-west-1".into()),
        secondary_region: Some("eu-central-1".into()),
        app: Some("shop".into()),
        ..Default::default()
    };
    let config = mysfits::config::Config::resolve(&global, Default::default()).unwrap();
    (printed, config)
}

/// Every statement of every printed policy.
fn statements(printed: &serde_json::Value) -> Vec<&serde_json::Value> {
    printed
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|named| named["PolicyDocument"]["Statement"].as_array().unwrap())
        .collect()
}

/// The statements whose actions allow this action.
fn granting<'a>(statements: &[&'a serde_json::Value], action: &str) -> Vec<&'a serde_json::Value> {
    statements
        .iter()
        .copied()
        .filter(|statement| {
            statement["Action"]
                .as_array()
                .unwrap()
                .iter()
                .any(|pattern| allows(pattern.as_str().unwrap(), action))
        })
        .collect()
}

#[test]
fn iam_policy_grants_every_handler_permission_of_the_templates() {
    let (printed, _) = printed_policies();
    let statements = statements(&printed);
    let data = handler_permissions().unwrap();
    let in_templates = types_in_template_files();
    let mut lacking = Vec::new();
    let mut checked = 0;
    for (resource_type, properties) in &in_templates {
        let handlers = &data.resource_types[resource_type];
        for action in handlers.actions() {
            if let Some(entry) = not_needed(resource_type, action) {
                if let Some((key, value)) = entry.when {
                    let users: Vec<&serde_yaml::Value> = properties
                        .iter()
                        .filter(|properties| has_property(properties, key, value))
                        .collect();
                    assert!(
                        users.is_empty(),
                        "a {resource_type} of the templates sets {key}: its handler needs \
                         {action} ({}): remove it from NOT_NEEDED",
                        entry.because
                    );
                }
                continue;
            }
            checked += 1;
            if granting(&statements, action).is_empty() {
                lacking.push(format!("{resource_type}: {action}"));
            }
        }
    }
    // The check saw what the policy builder derives (and the data file is not empty).
    assert_eq!(checked, template_permissions().unwrap().len());
    assert!(checked > 200, "only {checked} handler permissions checked");
    assert!(
        lacking.is_empty(),
        "the printed policies lack these CloudFormation handler permissions:\n  {}",
        lacking.join("\n  ")
    );
    // No stale exclusions: each names handler permissions of its type.
    for entry in NOT_NEEDED {
        let handlers = &data.resource_types[entry.resource_type];
        for action in entry.actions {
            assert!(
                handlers.actions().contains(action),
                "NOT_NEEDED: {} has no handler permission {action}",
                entry.resource_type
            );
        }
    }
}

#[test]
fn iam_policy_fits_managed_policies_and_is_scoped() {
    let (printed, config) = printed_policies();
    assert_eq!(
        printed,
        serde_json::to_value(policies(&config).unwrap()).unwrap()
    );
    let named = printed.as_array().unwrap();
    // A role takes 10 managed policies by default (20 at most).
    assert!((1..=10).contains(&named.len()), "{} policies", named.len());
    for (index, policy) in named.iter().enumerate() {
        assert_eq!(policy["PolicyName"], format!("shop-operator-{}", index + 1));
        let compact: usize = serde_json::to_string(&policy["PolicyDocument"])
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count();
        assert!(
            compact <= MANAGED_POLICY_LIMIT,
            "{}: {compact} characters, over IAM's managed policy limit {MANAGED_POLICY_LIMIT}",
            policy["PolicyName"]
        );
        let sids: Vec<&str> = policy["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|statement| statement["Sid"].as_str().unwrap())
            .collect();
        let unique: BTreeSet<&&str> = sids.iter().collect();
        assert_eq!(unique.len(), sids.len(), "duplicate Sid in {sids:?}");
        for sid in sids {
            assert!(sid.chars().all(|c| c.is_ascii_alphanumeric()), "{sid}");
        }
    }
    // The cut loses nothing: every action of the whole policy is in a printed policy, with
    // the same resources.
    let whole = policy(&config).unwrap();
    assert!(
        policy_size(&whole) > MANAGED_POLICY_LIMIT,
        "the whole policy fits one managed policy now: the cut is not exercised"
    );
    let statements = statements(&printed);
    for statement in &whole.statement {
        for action in &statement.action {
            let found = statements.iter().any(|printed| {
                printed["Resource"] == serde_json::json!(statement.resource)
                    && printed["Action"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|pattern| pattern == action)
            });
            assert!(found, "{action} of {} lost in the cut", statement.sid);
        }
    }
    // Wildcards only for metadata reads.
    for statement in &statements {
        for action in statement["Action"].as_array().unwrap() {
            let action = action.as_str().unwrap();
            if let Some(prefix) = action.strip_suffix('*') {
                let name = prefix.split_once(':').unwrap().1;
                assert!(
                    name == "Describe" || name == "List",
                    "{action}: wildcards only for Describe*/List*"
                );
            }
        }
    }
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
        by_sid("CatalogueTable")["Resource"],
        serde_json::json!([
            "arn:aws:dynamodb:eu-west-1:*:table/shop-mysfits",
            "arn:aws:dynamodb:eu-west-1:*:table/shop-mysfits/*",
            "arn:aws:dynamodb:eu-central-1:*:table/shop-mysfits",
            "arn:aws:dynamodb:eu-central-1:*:table/shop-mysfits/*",
        ])
    );
    assert_eq!(
        by_sid("Dashboard")["Resource"],
        serde_json::json!(["arn:aws:cloudwatch::*:dashboard/shop"])
    );
    // `*` only with a condition that keeps it to the app's regions (or the control plane of
    // Global Accelerator, us-west-2, or of Route 53 and IAM, us-east-1).
    for statement in &statements {
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
    assert_eq!(
        by_sid("PassStackRolesToTasks")["Condition"]["StringEquals"]["iam:PassedToService"],
        // The tasks' roles, and auto failover's plan role to ARC Region switch.
        serde_json::json!(["ecs-tasks.amazonaws.com", "arc-region-switch.amazonaws.com"])
    );
    assert_eq!(
        by_sid("PassStackRolesToTasks")["Action"],
        serde_json::json!(["iam:PassRole"])
    );
}

/// The permissions issue 11 found missing, each where AWS checks it.
#[test]
fn iam_policy_has_what_aws_checks_behind_replicas_deletes_and_tags() {
    let (printed, _) = printed_policies();
    let statements = statements(&printed);
    let sids = |action: &str| -> BTreeSet<String> {
        granting(&statements, action)
            .iter()
            .map(|statement| statement["Sid"].as_str().unwrap().to_string())
            .collect()
    };
    // Adding a replica (global tables "Permissions"): DescribeLimits takes no resource.
    assert!(
        sids("dynamodb:DescribeLimits").contains("NoResourceLevelPermissionsInAppRegions"),
        "{:?}",
        sids("dynamodb:DescribeLimits")
    );
    for action in [
        "dynamodb:CreateTableReplica",
        "dynamodb:DeleteTableReplica",
        "dynamodb:CreateTable",
        "dynamodb:UpdateTable",
    ] {
        assert!(sids(action).contains("CatalogueTable"), "{action}");
    }
    // Deleting the KMS-encrypted repositories (their handler) and table retires KMS grants.
    assert!(!sids("kms:RetireGrant").is_empty());
    let repository = &handler_permissions().unwrap().resource_types["AWS::ECR::Repository"];
    assert!(repository.handlers["delete"].contains(&"kms:RetireGrant".to_string()));
    // Tags on task definitions (CloudFormation's stack tags) and services (PropagateTags,
    // ECS managed tags): ecs:TagResource on the app's task definition families and services.
    let ecs = statements
        .iter()
        .find(|statement| statement["Sid"] == "EcsClusterAndServices")
        .unwrap();
    assert!(
        granting(&[ecs], "ecs:TagResource").len() == 1
            && ecs["Resource"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!(
                    "arn:aws:ecs:eu-west-1:*:task-definition/shop-*:*"
                )),
        "{ecs}"
    );
    // Service-linked roles created on first use in an account.
    let linked = statements
        .iter()
        .find(|statement| statement["Sid"] == "ServiceLinkedRoles")
        .unwrap();
    assert_eq!(
        linked["Action"],
        serde_json::json!(["iam:CreateServiceLinkedRole"])
    );
    let names: BTreeSet<&str> = linked["Condition"]["StringEquals"]["iam:AWSServiceName"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    let mut expected = BTreeSet::from([
        "ecs.amazonaws.com",
        "ecs.application-autoscaling.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
        "globalaccelerator.amazonaws.com",
        "replication.dynamodb.amazonaws.com",
    ]);
    if types_in_template_files()
        .keys()
        .any(|resource_type| resource_type.starts_with("AWS::ServiceDiscovery::"))
    {
        expected.insert("servicediscovery.amazonaws.com");
    }
    assert_eq!(names, expected);
    // CreateAccelerator sends tags: tag on create is authorized as TagResource too
    // (Service Authorization Reference, Global Accelerator), or the first deploy is denied.
    assert!(
        sids("globalaccelerator:TagResource").contains("GlobalAccelerator"),
        "{:?}",
        sids("globalaccelerator:TagResource")
    );
    // Teardown's Global Accelerator cleanup, the replica's settings and Container Insights.
    for action in [
        "dynamodb:ListTagsOfResource",
        "dynamodb:TagResource",
        "dynamodb:UpdateContinuousBackups",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteSecurityGroup",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "logs:DeleteLogGroup",
    ] {
        assert!(!sids(action).is_empty(), "{action}");
    }
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
