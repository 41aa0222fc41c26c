//! The app model (src/app) against the templates: every entry of `app::SERVICES` names resources,
//! parameters and outputs that exist in templates/registry.yaml and templates/app.yaml, the names
//! in `app::names` are spelled as the templates build them, and every per-service resource of the
//! templates belongs to an entry. Adding a service means one table entry plus its template
//! sections; this test says what is missing when one of the two is forgotten.

use std::collections::BTreeSet;

use mysfits::app::{SERVICES, Service, names};
use mysfits::stack::StackKind;
use serde_yaml::Value;

fn template(kind: StackKind) -> Value {
    serde_yaml::from_str(kind.template()).expect("templates are YAML")
}

fn section<'a>(template: &'a Value, name: &str) -> &'a serde_yaml::Mapping {
    template
        .get(name)
        .and_then(Value::as_mapping)
        .unwrap_or_else(|| panic!("template has no {name} section"))
}

fn keys(mapping: &serde_yaml::Mapping) -> BTreeSet<String> {
    mapping
        .keys()
        .filter_map(|key| key.as_str().map(str::to_string))
        .collect()
}

fn resource<'a>(template: &'a Value, logical_id: &str) -> &'a Value {
    section(template, "Resources")
        .get(logical_id)
        .unwrap_or_else(|| panic!("no resource {logical_id}"))
}

fn resource_type(template: &Value, logical_id: &str) -> String {
    resource(template, logical_id)["Type"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A `!Sub "..."` (or plain string) property with `${AppName}` put in as `app`.
fn substituted(value: &Value, app: &str) -> Option<String> {
    let text = match value {
        Value::Tagged(tagged) if tagged.tag == "!Sub" => tagged.value.as_str()?,
        Value::String(text) => text.as_str(),
        _ => return None,
    };
    Some(text.replace("${AppName}", app))
}

fn property<'a>(template: &'a Value, logical_id: &str, path: &[&str]) -> &'a Value {
    let mut value = &resource(template, logical_id)["Properties"];
    for key in path {
        value = &value[*key];
    }
    value
}

#[test]
fn every_service_entry_names_what_the_templates_declare() {
    let registry = template(StackKind::Registry);
    let app = template(StackKind::App);
    let app_parameters = keys(section(&app, "Parameters"));
    let app_outputs = keys(section(&app, "Outputs"));
    let registry_outputs = keys(section(&registry, "Outputs"));
    for service in &SERVICES {
        let name = service.name;
        assert_eq!(
            resource_type(&registry, service.repository_resource),
            "AWS::ECR::Repository",
            "{name}"
        );
        assert!(
            registry_outputs.contains(service.repository_uri_output),
            "{name}: registry output {}",
            service.repository_uri_output
        );
        for parameter in [
            service.image_parameter,
            service.desired_count_parameter,
            service.min_capacity_parameter,
        ] {
            assert!(
                app_parameters.contains(parameter),
                "{name}: app parameter {parameter}"
            );
        }
        for (logical_id, kind) in [
            (service.service_resource, "AWS::ECS::Service"),
            (
                service.target_group_resource,
                "AWS::ElasticLoadBalancingV2::TargetGroup",
            ),
            (service.log_group_resource, "AWS::Logs::LogGroup"),
            (
                service.scalable_target_resource,
                "AWS::ApplicationAutoScaling::ScalableTarget",
            ),
        ] {
            assert_eq!(
                resource_type(&app, logical_id),
                kind,
                "{name}: {logical_id}"
            );
        }
        for output in [
            service.service_name_output,
            service.target_group_arn_output,
            service.log_group_name_output,
        ] {
            assert!(app_outputs.contains(output), "{name}: app output {output}");
        }
    }
}

#[test]
fn names_and_ports_are_spelled_as_the_templates_build_them() {
    let registry = template(StackKind::Registry);
    let app = template(StackKind::App);
    let app_name = "demo";
    for service in &SERVICES {
        let check = |template: &Value, logical_id: &str, path: &[&str], expected: String| {
            assert_eq!(
                substituted(property(template, logical_id, path), app_name),
                Some(expected),
                "{}: {logical_id}.{}",
                service.name,
                path.join(".")
            );
        };
        check(
            &registry,
            service.repository_resource,
            &["RepositoryName"],
            names::repository(app_name, service),
        );
        check(
            &app,
            service.service_resource,
            &["ServiceName"],
            names::ecs_service(app_name, service),
        );
        check(
            &app,
            service.log_group_resource,
            &["LogGroupName"],
            names::log_group(app_name, service),
        );
        check(
            &app,
            service.target_group_resource,
            &["HealthCheckPath"],
            service.health_path.to_string(),
        );
        assert_eq!(
            property(&app, service.target_group_resource, &["Port"]).as_u64(),
            Some(u64::from(service.port)),
            "{}: target group port",
            service.name
        );
        let balancers = property(&app, service.service_resource, &["LoadBalancers"]);
        assert_eq!(
            balancers[0]["ContainerName"].as_str(),
            Some(service.name),
            "{}: the load balancer sends to the container named after the service",
            service.name
        );
        assert_eq!(
            balancers[0]["ContainerPort"].as_u64(),
            Some(u64::from(service.port))
        );
    }
    let cluster_name = property(&app, "Cluster", &["ClusterName"]);
    assert!(
        matches!(cluster_name, Value::Tagged(tagged) if tagged.tag == "!Ref" && tagged.value.as_str() == Some("AppName")),
        "the cluster is named by !Ref AppName: {cluster_name:?}"
    );
    assert_eq!(names::cluster(app_name), app_name);
    assert_eq!(
        substituted(property(&app, "ServiceNamespace", &["Name"]), app_name),
        Some(names::service_namespace(app_name))
    );
}

/// The X-Ray groups the dashboard graphs exist in the app template under the names it reads, only
/// with tracing on, and each one's filter covers every bundled service (a service added later
/// would otherwise be missing from the traced view without any error).
#[test]
fn trace_groups_are_named_as_the_dashboard_reads_them_and_cover_every_service() {
    let app = template(StackKind::App);
    let app_name = "demo";
    let mut found = BTreeSet::new();
    for (logical_id, resource) in section(&app, "Resources") {
        if resource["Type"].as_str() != Some("AWS::XRay::Group") {
            continue;
        }
        let logical_id = logical_id.as_str().unwrap_or_default();
        assert_eq!(
            resource["Condition"].as_str(),
            Some("TracingOn"),
            "{logical_id}"
        );
        let name = substituted(&resource["Properties"]["GroupName"], app_name)
            .unwrap_or_else(|| panic!("{logical_id}: GroupName"));
        let filter = resource["Properties"]["FilterExpression"]
            .as_str()
            .unwrap_or_default();
        for service in &SERVICES {
            assert!(
                filter.contains(&format!("service(\"{}\")", service.name)),
                "{logical_id}: the filter {filter:?} leaves out {}",
                service.name
            );
        }
        found.insert(name);
    }
    let expected: BTreeSet<String> = names::TraceGroup::ALL
        .into_iter()
        .map(|group| names::trace_group(app_name, group))
        .collect();
    assert_eq!(found, expected);
}

/// The reverse direction: a service added to the templates but not to the table would be built,
/// pushed, watched and torn down by nobody.
#[test]
fn every_per_service_resource_of_the_templates_has_a_table_entry() {
    let covered = |pick: fn(&Service) -> &'static str| -> BTreeSet<String> {
        SERVICES
            .iter()
            .map(|service| pick(service).to_string())
            .collect()
    };
    let of_type = |template: &Value, kind: &str| -> BTreeSet<String> {
        section(template, "Resources")
            .iter()
            .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
            .filter_map(|(id, _)| id.as_str().map(str::to_string))
            .collect()
    };
    let registry = template(StackKind::Registry);
    let app = template(StackKind::App);
    assert_eq!(
        of_type(&registry, "AWS::ECR::Repository"),
        covered(|service| service.repository_resource)
    );
    assert_eq!(
        of_type(&app, "AWS::ECS::Service"),
        covered(|service| service.service_resource)
    );
    assert_eq!(
        of_type(&app, "AWS::ElasticLoadBalancingV2::TargetGroup"),
        covered(|service| service.target_group_resource)
    );
    assert_eq!(
        of_type(&app, "AWS::ApplicationAutoScaling::ScalableTarget"),
        covered(|service| service.scalable_target_resource)
    );
    let image_parameters: BTreeSet<String> = keys(section(&app, "Parameters"))
        .into_iter()
        .filter(|parameter| parameter.ends_with("Image"))
        .collect();
    assert_eq!(image_parameters, covered(|service| service.image_parameter));
}

/// The app stack's own names (parameters, and the outputs and resources of the load balancer,
/// cluster and table) as `app::template` spells them.
#[test]
fn the_app_stacks_own_names_are_the_templates() {
    use mysfits::app::template;
    let app = template(StackKind::App);
    let parameters = keys(section(&app, "Parameters"));
    for parameter in template::parameter::ALL {
        assert!(parameters.contains(parameter), "app parameter {parameter}");
    }
    let per_service: BTreeSet<&str> = SERVICES
        .iter()
        .flat_map(|service| {
            [
                service.image_parameter,
                service.desired_count_parameter,
                service.min_capacity_parameter,
            ]
        })
        .collect();
    let covered: BTreeSet<&str> = template::parameter::ALL
        .into_iter()
        .chain(per_service)
        .collect();
    let declared: BTreeSet<&str> = parameters.iter().map(String::as_str).collect();
    assert_eq!(
        declared, covered,
        "every app parameter is named by app::template or app::SERVICES"
    );
    let outputs = keys(section(&app, "Outputs"));
    for output in template::OUTPUTS {
        assert!(
            outputs.contains(output.output),
            "app output {}",
            output.output
        );
        assert!(
            section(&app, "Resources").contains_key(output.resource),
            "resource {}",
            output.resource
        );
    }
    for output in [
        template::LOAD_BALANCER_URL_OUTPUT,
        template::LOAD_BALANCER_DNS_NAME_OUTPUT,
    ] {
        assert!(outputs.contains(output), "app output {output}");
    }
}
