//! What AWS itself checks in the templates and neither cfn-lint nor the emulator does: the
//! characters and lengths EC2 accepts in security-group descriptions and the name limits of
//! resources named after the app (with the longest app name the CLI allows), and the order in
//! which CloudFormation may create an ECS service behind a load balancer, in both listener modes.

use std::collections::{BTreeMap, BTreeSet};

use mysfits::stack::StackKind;
use serde_yaml::Value;

/// The longest app name the templates' AllowedPattern (and the CLI) accept: 21 characters.
const LONGEST_APP: &str = "a-------------------1";

/// A template with every short-form tag (`!Ref`, `!Sub`, `!GetAtt` ...) turned into its long form.
pub(crate) fn template(kind: StackKind) -> Value {
    long_form(serde_yaml::from_str(kind.template()).unwrap())
}

fn long_form(value: Value) -> Value {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = long_form(tagged.value);
            let key = match tag {
                "Ref" | "Condition" => tag.to_string(),
                _ => format!("Fn::{tag}"),
            };
            let inner = match (tag, inner) {
                ("GetAtt", Value::String(path)) => Value::Sequence(
                    path.splitn(2, '.')
                        .map(|part| Value::String(part.to_string()))
                        .collect(),
                ),
                (_, inner) => inner,
            };
            let mut mapping = serde_yaml::Mapping::new();
            mapping.insert(Value::String(key), inner);
            Value::Mapping(mapping)
        }
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(long_form).collect()),
        Value::Mapping(mapping) => Value::Mapping(
            mapping
                .into_iter()
                .map(|(key, value)| (key, long_form(value)))
                .collect(),
        ),
        other => other,
    }
}

/// A string property's value as AWS receives it: a literal, the app name, or an `Fn::Sub` of it.
fn rendered(value: &Value, what: &str) -> String {
    if let Some(text) = value.as_str() {
        return text.to_string();
    }
    if value.get("Ref").and_then(Value::as_str) == Some("AppName") {
        return LONGEST_APP.to_string();
    }
    let Some(text) = value.get("Fn::Sub").and_then(Value::as_str) else {
        panic!("{what}: {value:?} is neither a string nor an Fn::Sub this test can render");
    };
    let rendered = text.replace("${AppName}", LONGEST_APP);
    assert!(
        !rendered.contains("${"),
        "{what}: {text:?} substitutes more than AppName; teach this test its longest value"
    );
    rendered
}

/// EC2's rule for security-group rule descriptions and GroupDescription (EC2 API reference,
/// IpRange / IpPermission / CreateSecurityGroup): a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*,
/// at most 255 characters. Anything else fails the stack with InvalidParameterValue.
fn ec2_description_problem(text: &str) -> Option<String> {
    const ALLOWED: &str = " ._-:/()#,@[]+=&;{}!$*";
    let bad: BTreeSet<char> = text
        .chars()
        .filter(|character| !character.is_ascii_alphanumeric() && !ALLOWED.contains(*character))
        .collect();
    if !bad.is_empty() {
        return Some(format!("characters EC2 refuses: {bad:?}"));
    }
    (text.chars().count() > 255).then(|| format!("{} characters, over 255", text.chars().count()))
}

#[test]
fn ec2_accepts_every_security_group_description() {
    let mut checked = 0;
    for kind in StackKind::ALL {
        let template = template(kind);
        for (logical_id, resource) in template["Resources"].as_mapping().unwrap() {
            let logical_id = logical_id.as_str().unwrap();
            let properties = &resource["Properties"];
            let mut descriptions = Vec::new();
            match resource["Type"].as_str().unwrap() {
                "AWS::EC2::SecurityGroup" => {
                    descriptions.push(("GroupDescription", &properties["GroupDescription"]));
                    for list in ["SecurityGroupIngress", "SecurityGroupEgress"] {
                        for rule in properties[list].as_sequence().into_iter().flatten() {
                            if !rule["Description"].is_null() {
                                descriptions.push((list, &rule["Description"]));
                            }
                        }
                    }
                }
                "AWS::EC2::SecurityGroupIngress" | "AWS::EC2::SecurityGroupEgress" => {
                    if !properties["Description"].is_null() {
                        descriptions.push(("Description", &properties["Description"]));
                    }
                }
                _ => continue,
            }
            for (property, value) in descriptions {
                let what = format!("{kind:?} {logical_id}.{property}");
                let text = rendered(value, &what);
                if let Some(problem) = ec2_description_problem(&text) {
                    panic!("{what} = {text:?}: {problem}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "only {checked} descriptions found");
}

#[test]
fn the_description_rule_refuses_what_ec2_refuses() {
    assert!(ec2_description_problem("the load balancer's public name").is_some());
    assert!(ec2_description_problem("caf\u{e9}").is_some());
    assert!(ec2_description_problem(&"a".repeat(256)).is_some());
    assert!(ec2_description_problem(&"a".repeat(255)).is_none());
    assert!(
        ec2_description_problem("AWS APIs (ECR, DynamoDB) over HTTPS: 443/tcp #1 @[x]+=&;{}!$*")
            .is_none()
    );
}

/// A name rule from the resource's API reference: most characters, and which characters.
struct NameRule {
    resource_type: &'static str,
    property: &'static str,
    max: usize,
    allowed: fn(char) -> bool,
    reference: &'static str,
}

fn name_rules() -> Vec<NameRule> {
    fn alnum_hyphen(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '-'
    }
    fn alnum_hyphen_underscore(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '-' || c == '_'
    }
    vec![
        NameRule {
            resource_type: "AWS::ElasticLoadBalancingV2::LoadBalancer",
            property: "Name",
            max: 32,
            allowed: alnum_hyphen,
            reference: "ELBv2 CreateLoadBalancer Name",
        },
        NameRule {
            resource_type: "AWS::ElasticLoadBalancingV2::TargetGroup",
            property: "Name",
            max: 32,
            allowed: alnum_hyphen,
            reference: "ELBv2 CreateTargetGroup Name",
        },
        NameRule {
            resource_type: "AWS::ECS::Cluster",
            property: "ClusterName",
            max: 255,
            allowed: alnum_hyphen_underscore,
            reference: "ECS CreateCluster clusterName",
        },
        NameRule {
            resource_type: "AWS::ECS::Service",
            property: "ServiceName",
            max: 255,
            allowed: alnum_hyphen_underscore,
            reference: "ECS CreateService serviceName",
        },
        NameRule {
            resource_type: "AWS::ECS::TaskDefinition",
            property: "Family",
            max: 255,
            allowed: alnum_hyphen_underscore,
            reference: "ECS RegisterTaskDefinition family",
        },
        NameRule {
            resource_type: "AWS::Logs::LogGroup",
            property: "LogGroupName",
            max: 512,
            allowed: |c| c.is_ascii_alphanumeric() || "._-/#".contains(c),
            reference: "CloudWatch Logs CreateLogGroup logGroupName",
        },
        NameRule {
            resource_type: "AWS::ApplicationAutoScaling::ScalingPolicy",
            property: "PolicyName",
            max: 256,
            allowed: |c| c.is_ascii_graphic() && !"|:/".contains(c),
            reference: "Application Auto Scaling PutScalingPolicy PolicyName",
        },
        NameRule {
            resource_type: "AWS::ECR::Repository",
            property: "RepositoryName",
            max: 256,
            allowed: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c),
            reference: "ECR CreateRepository repositoryName",
        },
        NameRule {
            resource_type: "AWS::ServiceDiscovery::PrivateDnsNamespace",
            property: "Name",
            max: 253,
            allowed: |c| c.is_ascii_alphanumeric() || c == '-' || c == '.',
            reference: "Cloud Map CreatePrivateDnsNamespace Name (a DNS name)",
        },
        NameRule {
            resource_type: "AWS::ServiceDiscovery::Service",
            property: "Name",
            max: 63,
            allowed: alnum_hyphen_underscore,
            reference: "Cloud Map CreateService Name (one DNS label for A records)",
        },
        NameRule {
            resource_type: "AWS::XRay::Group",
            property: "GroupName",
            max: 32,
            allowed: alnum_hyphen,
            reference: "X-Ray CreateGroup GroupName",
        },
        NameRule {
            resource_type: "AWS::IAM::Role",
            property: "Description",
            max: 1000,
            allowed: |c| c.is_ascii_graphic() || c == ' ',
            reference: "IAM CreateRole Description",
        },
    ]
}

#[test]
fn names_built_from_the_longest_app_name_fit_their_limits() {
    let rules = name_rules();
    let mut checked = 0;
    for kind in StackKind::ALL {
        let template = template(kind);
        for (logical_id, resource) in template["Resources"].as_mapping().unwrap() {
            let logical_id = logical_id.as_str().unwrap();
            let resource_type = resource["Type"].as_str().unwrap();
            for rule in rules
                .iter()
                .filter(|rule| rule.resource_type == resource_type)
            {
                let value = &resource["Properties"][rule.property];
                if value.is_null() {
                    continue;
                }
                let what = format!("{kind:?} {logical_id}.{}", rule.property);
                let text = rendered(value, &what);
                assert!(
                    text.chars().count() <= rule.max && text.chars().all(rule.allowed),
                    "{what} = {text:?}: over {} characters or a character it does not allow ({})",
                    rule.max,
                    rule.reference
                );
                if resource_type == "AWS::ServiceDiscovery::PrivateDnsNamespace" {
                    assert!(
                        text.split('.').all(|label| (1..=63).contains(&label.len())),
                        "{what} = {text:?}: a DNS label is empty or over 63 characters"
                    );
                }
                checked += 1;
            }
            // Name tags: EC2 and ELB tag values are at most 256 characters.
            for tag in resource["Properties"]["Tags"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                if tag["Key"].as_str() == Some("Name") {
                    let text = rendered(&tag["Value"], &format!("{logical_id} Name tag"));
                    assert!(
                        text.chars().count() <= 256,
                        "{logical_id} Name tag {text:?}"
                    );
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} names found");
}

// ---------- creation order of the ECS services ----------

/// The template's resources as CloudFormation sees them with `parameters`: conditions evaluated,
/// resources whose condition is false gone, Fn::If replaced by the branch taken.
struct Rendered {
    resources: BTreeMap<String, Value>,
    declared: BTreeSet<String>,
}

fn render_app(parameters: &[(&str, &str)]) -> Rendered {
    let template = template(StackKind::App);
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for (name, declaration) in template["Parameters"].as_mapping().unwrap() {
        if let Some(default) = declaration["Default"].as_str() {
            values.insert(name.as_str().unwrap().to_string(), default.to_string());
        }
    }
    for (name, value) in parameters {
        values.insert(name.to_string(), value.to_string());
    }
    let conditions = &template["Conditions"];
    let holds: BTreeMap<String, bool> = conditions
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(name, condition)| {
            (
                name.as_str().unwrap().to_string(),
                crate::golden::evaluate(condition, conditions, &values),
            )
        })
        .collect();
    let declared = template["Resources"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|key| key.as_str().unwrap().to_string())
        .collect();
    let resources = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| {
            resource["Condition"]
                .as_str()
                .is_none_or(|condition| holds[condition])
        })
        .map(|(logical_id, resource)| {
            (
                logical_id.as_str().unwrap().to_string(),
                choose_branches(resource, &holds),
            )
        })
        .collect();
    Rendered {
        resources,
        declared,
    }
}

fn choose_branches(value: &Value, holds: &BTreeMap<String, bool>) -> Value {
    match value {
        Value::Mapping(mapping) => {
            if let Some(arguments) = mapping.get("Fn::If").and_then(Value::as_sequence) {
                let condition = arguments[0].as_str().unwrap();
                let branch = if holds[condition] {
                    &arguments[1]
                } else {
                    &arguments[2]
                };
                return choose_branches(branch, holds);
            }
            Value::Mapping(
                mapping
                    .iter()
                    .map(|(key, value)| (key.clone(), choose_branches(value, holds)))
                    .filter(|(_, value)| !is_no_value(value))
                    .collect(),
            )
        }
        Value::Sequence(items) => Value::Sequence(
            items
                .iter()
                .map(|item| choose_branches(item, holds))
                .filter(|item| !is_no_value(item))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `Ref: AWS::NoValue`: CloudFormation drops the list item or property that holds it.
fn is_no_value(value: &Value) -> bool {
    value.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue")
}

/// Logical ids a value refers to (Ref, GetAtt, `${X}` / `${X.Attr}` in Sub), parameters and
/// pseudo parameters included.
fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Mapping(mapping) => {
            if let Some(name) = mapping.get("Ref").and_then(Value::as_str) {
                found.insert(name.to_string());
            }
            if let Some(target) = mapping.get("Fn::GetAtt").and_then(Value::as_sequence) {
                found.insert(target[0].as_str().unwrap().to_string());
            }
            if let Some(sub) = mapping.get("Fn::Sub") {
                let text = sub
                    .as_str()
                    .or_else(|| sub.as_sequence().and_then(|parts| parts[0].as_str()))
                    .unwrap_or_default();
                for piece in text.split("${").skip(1) {
                    if let Some(name) = piece.split('}').next() {
                        found.insert(name.split('.').next().unwrap().to_string());
                    }
                }
            }
            for value in mapping.values() {
                references(value, found);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

/// The resources `logical_id` waits for: its DependsOn and the resources it refers to.
fn dependencies(rendered: &Rendered, logical_id: &str) -> BTreeSet<String> {
    let resource = &rendered.resources[logical_id];
    let mut found = BTreeSet::new();
    match &resource["DependsOn"] {
        Value::String(name) => {
            found.insert(name.clone());
        }
        Value::Sequence(names) => {
            found.extend(names.iter().map(|name| name.as_str().unwrap().to_string()));
        }
        _ => {}
    }
    references(&resource["Properties"], &mut found);
    found
        .into_iter()
        .filter(|name| rendered.declared.contains(name))
        .collect()
}

/// Whether a listener or listener rule forwards to `target_group` (its default actions or
/// actions, Fn::If already decided).
fn attaches(resource: &Value, target_group: &str) -> bool {
    let actions = match resource["Type"].as_str() {
        Some("AWS::ElasticLoadBalancingV2::Listener") => &resource["Properties"]["DefaultActions"],
        Some("AWS::ElasticLoadBalancingV2::ListenerRule") => &resource["Properties"]["Actions"],
        _ => return false,
    };
    actions.as_sequence().into_iter().flatten().any(|action| {
        action["Type"].as_str() == Some("forward") && {
            let mut found = BTreeSet::new();
            references(action, &mut found);
            found.contains(target_group)
        }
    })
}

/// CreateService with a load balancer fails ("target group ... does not have an associated load
/// balancer") unless the target group is already attached by a listener or rule; CloudFormation
/// creates everything not ordered by a dependency in parallel. And a DependsOn or Ref naming a
/// resource whose condition is false is a template error. Both modes: HTTP only, and HTTPS
/// (where the HTTP listener's default action redirects and forwards nowhere).
#[test]
fn each_service_waits_for_what_attaches_its_target_groups_in_both_modes() {
    for (mode, parameters) in [
        ("HTTP only", vec![]),
        (
            "HTTPS",
            vec![(
                "CertificateArn",
                "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-000000000000",
            )],
        ),
    ] {
        let rendered = render_app(&parameters);
        for (logical_id, resource) in &rendered.resources {
            for dependency in dependencies(&rendered, logical_id) {
                assert!(
                    rendered.resources.contains_key(&dependency),
                    "{mode}: {logical_id} depends on or refers to {dependency}, which this mode does not create"
                );
            }
            if resource["Type"].as_str() != Some("AWS::ECS::Service") {
                continue;
            }
            let mut waits_for = BTreeSet::new();
            let mut todo = vec![logical_id.clone()];
            while let Some(next) = todo.pop() {
                for dependency in dependencies(&rendered, &next) {
                    if waits_for.insert(dependency.clone()) {
                        todo.push(dependency);
                    }
                }
            }
            let target_groups: Vec<String> = resource["Properties"]["LoadBalancers"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|balancer| {
                    balancer["TargetGroupArn"]["Ref"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{logical_id}: TargetGroupArn is not a Ref"))
                        .to_string()
                })
                .collect();
            assert!(
                !target_groups.is_empty(),
                "{logical_id} has no load balancer"
            );
            for target_group in target_groups {
                assert!(
                    waits_for
                        .iter()
                        .any(|waited| attaches(&rendered.resources[waited], &target_group)),
                    "{mode}: {logical_id} may be created before anything attaches {target_group} \
                     to the load balancer (it waits for {waits_for:?})"
                );
            }
        }
    }
}

// ---------- tracing: the collector sidecar ----------

/// Fargate's task sizes for 0.25 vCPU (the app's): 512, 1024 or 2048 MiB.
const FARGATE_256_MEMORY: [&str; 3] = ["512", "1024", "2048"];

/// With tracing on, every task runs the ADOT collector beside the service: pinned to an exact
/// version, not essential (a collector that stops never stops the service), started before the
/// service (DependsOn START, not HEALTHY: a collector that never turns healthy must not keep the
/// service from starting), its memory capped inside a valid Fargate size, and the service told
/// where to send OTLP; the task role may then write trace segments and nothing more. With
/// tracing off none of it exists.
#[test]
fn tracing_adds_a_pinned_non_essential_collector_and_the_xray_write_permission_only_when_on() {
    for enabled in ["true", "false"] {
        let rendered = render_app(&[("TracingEnabled", enabled), ("TraceSampleRatio", "0.25")]);
        let policies = &rendered.resources["TaskRole"]["Properties"]["Policies"];
        let trace_policy = policies
            .as_sequence()
            .unwrap()
            .iter()
            .find(|policy| policy["PolicyName"].as_str() == Some("write-traces"));
        for task in ["MysfitsTaskDefinition", "LikeTaskDefinition"] {
            let properties = &rendered.resources[task]["Properties"];
            let containers = properties["ContainerDefinitions"].as_sequence().unwrap();
            let service = &containers[0];
            let environment: BTreeMap<&str, &Value> = service["Environment"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|variable| (variable["Name"].as_str().unwrap(), &variable["Value"]))
                .collect();
            if enabled == "false" {
                assert_eq!(containers.len(), 1, "{task}: no sidecar with tracing off");
                assert!(
                    !environment.contains_key("OTEL_EXPORTER_OTLP_ENDPOINT"),
                    "{task}"
                );
                assert!(service.get("DependsOn").is_none(), "{task}");
                assert!(
                    trace_policy.is_none(),
                    "no X-Ray permission with tracing off"
                );
                continue;
            }
            assert_eq!(containers.len(), 2, "{task}");
            let collector = &containers[1];
            let image = collector["Image"].as_str().unwrap();
            let (repository, version) = image.rsplit_once(':').unwrap();
            assert_eq!(
                repository,
                "public.ecr.aws/aws-observability/aws-otel-collector"
            );
            assert!(
                version.starts_with('v')
                    && version[1..].split('.').count() == 3
                    && version[1..]
                        .split('.')
                        .all(|part| part.parse::<u32>().is_ok()),
                "{task}: the collector is pinned to an exact version, not {version}"
            );
            assert_eq!(collector["Essential"].as_bool(), Some(false), "{task}");
            assert_eq!(
                service["DependsOn"][0]["ContainerName"], collector["Name"],
                "{task}"
            );
            assert_eq!(service["DependsOn"][0]["Condition"].as_str(), Some("START"));
            assert_eq!(collector["HealthCheck"]["Command"][0].as_str(), Some("CMD"));
            assert_eq!(
                environment["OTEL_EXPORTER_OTLP_ENDPOINT"].as_str(),
                Some("http://127.0.0.1:4318"),
                "{task}: the collector's OTLP/HTTP port on the task's own loopback"
            );
            assert_eq!(
                environment["MYSFITS_TRACE_SAMPLE_RATIO"]["Ref"].as_str(),
                Some("TraceSampleRatio")
            );
            assert_eq!(properties["Cpu"].as_str(), Some("256"));
            let memory = properties["Memory"].as_str().unwrap();
            assert!(FARGATE_256_MEMORY.contains(&memory), "{task}: {memory}");
            let collector_memory = collector["Memory"].as_u64().unwrap();
            assert!(
                collector_memory * 2 <= memory.parse::<u64>().unwrap(),
                "{task}: the collector may take at most half of the task's {memory} MiB"
            );
            let log_group = &collector["LogConfiguration"]["Options"]["awslogs-group"];
            assert_eq!(
                log_group, &service["LogConfiguration"]["Options"]["awslogs-group"],
                "{task}: the collector logs where the execution role may write"
            );
        }
        if enabled == "true" {
            let statements =
                trace_policy.expect("write-traces policy")["PolicyDocument"]["Statement"]
                    .as_sequence()
                    .unwrap();
            assert_eq!(statements.len(), 1);
            assert_eq!(
                statements[0]["Action"].as_str(),
                Some("xray:PutTraceSegments")
            );
        }
    }
}
