//! Golden tests: the exact parameters and tags each stack gets per scenario. A change to what
//! the CLI sends CloudFormation shows up here as a diff. `UPDATE_GOLDEN=1` rewrites the files.

use std::collections::BTreeMap;

use mysfits::cli::GlobalArgs;
use mysfits::config::{Config, ConfigFile};
use mysfits::stack::{
    ServiceImages, StackKind, app_request, declared_parameters, registry_request,
};

fn config(file: &str, secondary: Option<&str>) -> Config {
    let global = GlobalArgs {
        region: Some("us-east-1".into()),
        secondary_region: secondary.map(str::to_string),
        app: Some("demo".into()),
        ..GlobalArgs::default()
    };
    Config::resolve(&global, serde_yaml::from_str::<ConfigFile>(file).unwrap()).unwrap()
}

fn images() -> ServiceImages {
    ServiceImages {
        mysfits: "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/mysfits-service@sha256:aaaa"
            .into(),
        like: "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/like-service@sha256:bbbb".into(),
    }
}

fn check(name: &str, actual: &serde_json::Value) {
    let path = testbed::workspace_root()
        .join("tests/golden")
        .join(format!("{name}.json"));
    let rendered = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1 once", path.display()));
    assert_eq!(expected, rendered, "{name} differs from {}", path.display());
}

fn scenario(config: &Config) -> serde_json::Value {
    let mut stacks = BTreeMap::new();
    for region in config.regions() {
        let registry = registry_request(config, region);
        let app = app_request(config, region, &images());
        for request in [registry, app] {
            let declared = declared_parameters(request.kind);
            for parameter in request.parameters.keys() {
                assert!(
                    declared.contains(parameter),
                    "{parameter} is not a parameter of {:?}'s template",
                    request.kind
                );
            }
            stacks.insert(
                format!("{} {}", region.name, request.stack_name),
                serde_json::to_value(&request).unwrap(),
            );
        }
    }
    serde_json::to_value(stacks).unwrap()
}

#[test]
fn parameters_of_a_two_region_deploy() {
    check(
        "two-regions",
        &scenario(&config(
            "regions:\n  us-west-2:\n    availability_zones: [us-west-2a, us-west-2c]\n",
            Some("us-west-2"),
        )),
    );
}

#[test]
fn parameters_of_a_single_region_deploy_with_custom_counts() {
    check(
        "single-region",
        &scenario(&config(
            "regions:\n  us-east-1:\n    desired_count: 3\n    max_count: 9\n",
            None,
        )),
    );
}

#[test]
fn every_template_resource_has_a_description_for_the_progress_view() {
    for kind in StackKind::ALL {
        let template: serde_yaml::Value = serde_yaml::from_str(kind.template()).unwrap();
        let resources = template["Resources"].as_mapping().unwrap();
        assert!(!resources.is_empty(), "{kind:?} has no resources");
        let described = mysfits::stack::resource_descriptions(kind);
        for logical_id in resources.keys() {
            let logical_id = logical_id.as_str().unwrap();
            assert!(
                described.contains_key(logical_id),
                "{kind:?}: {logical_id} has no Metadata.Description"
            );
        }
    }
}
