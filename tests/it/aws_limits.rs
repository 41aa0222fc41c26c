//! Limits that AWS enforces and moto does not, checked on what the CLI really sends
//! CloudFormation: template bodies, stack names, stack tags, and every parameter value against the
//! template's own constraints (AllowedPattern, AllowedValues, lengths, ranges). See
//! docs/aws-constraints.md for the sources.

use std::collections::BTreeMap;

use mysfits::cli::GlobalArgs;
use mysfits::config::{Config, ConfigFile};
use mysfits::stack::{ServiceImages, StackKind, StackRequest, app_request, registry_request};

/// CreateChangeSet / CreateStack TemplateBody: "Maximum length of 51,200" bytes (larger
/// templates must go through S3 as TemplateURL, which mysfits does not use).
const TEMPLATE_BODY_LIMIT: usize = 51_200;

#[test]
fn every_embedded_template_fits_in_a_template_body() {
    for kind in StackKind::ALL
        .into_iter()
        .chain([StackKind::Alarms, StackKind::Recovery])
    {
        let size = kind.template().len();
        assert!(
            size <= TEMPLATE_BODY_LIMIT,
            "{kind:?} template is {size} bytes; CloudFormation takes at most {TEMPLATE_BODY_LIMIT} in TemplateBody"
        );
    }
}

/// The longest and the shortest app names the CLI accepts.
fn configs() -> Vec<Config> {
    let mut configs = Vec::new();
    for app in ["a1", "a23456789-123456789-1"] {
        for (file, secondary) in [
            ("", Some("us-west-2")),
            ("", None),
            (
                "regions:\n  us-east-1:\n    certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-1111-2222-333344445555\n    availability_zones: [us-east-1a, us-east-1b]\n",
                Some("us-west-2"),
            ),
            // The ratios at the ends of what the config takes, as TraceSampleRatio must accept.
            ("tracing:\n  sample_ratio: 0.000001\n", Some("us-west-2")),
            ("tracing:\n  enabled: false\n  sample_ratio: 1\n", None),
        ] {
            let global = GlobalArgs {
                region: Some("us-east-1".into()),
                secondary_region: secondary.map(str::to_string),
                app: Some(app.into()),
                ..GlobalArgs::default()
            };
            configs.push(
                Config::resolve(&global, serde_yaml::from_str::<ConfigFile>(file).unwrap())
                    .unwrap(),
            );
        }
    }
    configs
}

fn requests(config: &Config) -> Vec<StackRequest> {
    let mut requests = Vec::new();
    for region in config.regions() {
        requests.push(registry_request(config, region));
        let registry = format!(
            "123456789012.dkr.ecr.{}.amazonaws.com/{}",
            region.name, config.app
        );
        let deployed = ServiceImages::from_fn(|service| match service.id {
            "mysfits" => format!("{registry}/mysfits-service@sha256:{}", "a".repeat(64)),
            _ => format!("{registry}/like-service@sha256:{}", "b".repeat(64)),
        });
        // What `plan` sends before the first deploy.
        let planned = ServiceImages::from_fn(|service| match service.id {
            "mysfits" => {
                mysfits::commands::deploy::image_placeholder(&config.app, "mysfits-service")
            }
            _ => mysfits::commands::deploy::image_placeholder(&config.app, "like-service"),
        });
        requests.push(app_request(config, region, &deployed));
        requests.push(app_request(config, region, &planned));
    }
    requests
}

/// CloudFormation stack names: "must start with an alphabetical character and can contain only
/// alphanumeric characters and hyphens", at most 128 characters.
#[test]
fn stack_names_match_cloudformation_rules() {
    let pattern = regex_lite::Regex::new("^[a-zA-Z][-a-zA-Z0-9]{0,127}$").unwrap();
    for config in configs() {
        for request in requests(&config) {
            assert!(
                pattern.is_match(&request.stack_name),
                "stack name {:?}",
                request.stack_name
            );
        }
    }
}

/// Stack tags (CloudFormation Tag): key 1-128, value 1-256 characters, no `aws:` prefix, at most
/// 50 per stack. CloudFormation passes them to every resource that supports tags, and several
/// services are stricter: EC2/ELB/ECS allow letters, digits, spaces and `+-=._:/@`.
#[test]
fn stack_tags_are_within_what_every_tagged_service_accepts() {
    let characters = regex_lite::Regex::new(r"^[A-Za-z0-9 _.:/=+\-@]*$").unwrap();
    for config in configs() {
        for request in requests(&config) {
            assert!(request.tags.len() <= 50, "{:?}", request.tags);
            for (key, value) in &request.tags {
                assert!((1..=128).contains(&key.len()), "tag key {key:?}");
                assert!(
                    (1..=256).contains(&value.len()),
                    "tag {key} value {value:?}"
                );
                assert!(!key.to_lowercase().starts_with("aws:"), "tag key {key:?}");
                assert!(characters.is_match(key), "tag key {key:?}");
                assert!(characters.is_match(value), "tag {key} value {value:?}");
            }
        }
    }
}

type Parameters = BTreeMap<String, serde_yaml::Value>;

pub(crate) fn declared(kind: StackKind) -> Parameters {
    let template: serde_yaml::Value = serde_yaml::from_str(kind.template()).unwrap();
    let parameters = template["Parameters"].as_mapping().unwrap();
    parameters
        .iter()
        .map(|(name, spec)| (name.as_str().unwrap().to_string(), spec.clone()))
        .collect()
}

/// Why `value` breaks parameter `name`'s constraints, as CloudFormation checks them when it
/// creates the change set (AllowedPattern must match the whole value).
pub(crate) fn violation(name: &str, spec: &serde_yaml::Value, value: &str) -> Option<String> {
    let text = |key: &str| spec.get(key).and_then(|value| value.as_str());
    let number = |key: &str| spec.get(key).and_then(|value| value.as_f64());
    if let Some(pattern) = text("AllowedPattern") {
        let whole = regex_lite::Regex::new(&format!("^(?:{pattern})$")).unwrap();
        if !whole.is_match(value) {
            return Some(format!(
                "{name}={value:?} does not match AllowedPattern {pattern}"
            ));
        }
    }
    if let Some(allowed) = spec
        .get("AllowedValues")
        .and_then(|value| value.as_sequence())
    {
        let allowed: Vec<String> = allowed
            .iter()
            .map(|value| match value {
                serde_yaml::Value::String(text) => text.clone(),
                other => serde_yaml::to_string(other).unwrap().trim().to_string(),
            })
            .collect();
        if !allowed.iter().any(|allowed| allowed == value) {
            return Some(format!("{name}={value:?} is not one of {allowed:?}"));
        }
    }
    let length = value.chars().count() as f64;
    if number("MinLength").is_some_and(|min| length < min)
        || number("MaxLength").is_some_and(|max| length > max)
    {
        return Some(format!("{name}={value:?} has a length out of range"));
    }
    if text("Type") == Some("Number") {
        let Ok(parsed) = value.parse::<f64>() else {
            return Some(format!("{name}={value:?} is not a number"));
        };
        if number("MinValue").is_some_and(|min| parsed < min)
            || number("MaxValue").is_some_and(|max| parsed > max)
        {
            return Some(format!("{name}={value:?} is out of range"));
        }
    }
    None
}

#[test]
fn every_parameter_the_cli_sends_meets_the_templates_constraints() {
    for config in configs() {
        for request in requests(&config) {
            let declared = declared(request.kind);
            for (name, value) in &request.parameters {
                let spec = declared
                    .get(name)
                    .unwrap_or_else(|| panic!("{name} is not declared by {:?}", request.kind));
                if let Some(why) = violation(name, spec, value) {
                    panic!("{} in {}: {why}", request.stack_name, request.region);
                }
            }
            // Parameters the CLI leaves out must have a default.
            for (name, spec) in &declared {
                assert!(
                    request.parameters.contains_key(name) || spec.get("Default").is_some(),
                    "{name} of {:?} has no default and is not sent",
                    request.kind
                );
            }
        }
    }
}

/// The checker itself refuses what CloudFormation refuses.
#[test]
fn the_parameter_checker_catches_what_cloudformation_refuses() {
    let app = declared(StackKind::App);
    assert!(violation("MysfitsImage", &app["MysfitsImage"], "(built at deploy)").is_some());
    assert!(violation("AppName", &app["AppName"], "My-App").is_some());
    assert!(violation("AppName", &app["AppName"], "mysfits").is_none());
}

/// The CLI's app-name rule and both templates' AppName constraints agree, and both refuse what
/// ECR refuses in `{app}/mysfits-service` (a separator not followed by a letter or digit).
#[test]
fn app_name_rules_of_the_cli_and_the_templates_agree() {
    let names = [
        ("mysfits", true),
        ("a1", true),
        ("my-app-2", true),
        ("a23456789-123456789-1", true),
        ("a23456789-123456789-12", false),
        ("a", false),
        ("my--app", false),
        ("my-", false),
        ("-my", false),
        ("1app", false),
        ("My-app", false),
        ("my_app", false),
    ];
    for (name, valid) in names {
        assert_eq!(
            mysfits::config::validate_app_name(name).is_ok(),
            valid,
            "CLI on {name:?}"
        );
        for kind in StackKind::ALL {
            let spec = &declared(kind)["AppName"];
            assert_eq!(
                violation("AppName", spec, name).is_none(),
                valid,
                "{kind:?} template on {name:?}"
            );
        }
    }
}
