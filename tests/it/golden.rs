//! Golden tests: the exact parameters and tags each stack gets per scenario, and the templates'
//! resources and outputs per role. A change to what the CLI sends CloudFormation, or to what the
//! templates create, shows up here as a diff. `UPDATE_GOLDEN=1` rewrites the files. Also: the
//! templates deploy through the CLI's deployer into the emulator.

use std::collections::BTreeMap;

use crate::util::assert_golden;
use mysfits::cli::GlobalArgs;
use mysfits::config::{Config, ConfigFile};
use mysfits::stack::{
    ServiceImages, StackKind, app_request, data_request, declared_parameters, registry_request,
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

/// Each region's app stack runs the images of that region's repositories (same digests): the
/// execution role may only pull from its own region.
fn images(region: &str) -> ServiceImages {
    let registry = format!("123456789012.dkr.ecr.{region}.amazonaws.com/demo");
    ServiceImages::from_fn(|service| match service.id {
        "mysfits" => format!("{registry}/mysfits-service@sha256:{}", "a".repeat(64)),
        _ => format!("{registry}/like-service@sha256:{}", "b".repeat(64)),
    })
}

fn scenario(config: &Config) -> serde_json::Value {
    let mut stacks = BTreeMap::new();
    for region in config.regions() {
        let registry = registry_request(config, region);
        let app = app_request(config, region, &images(&region.name));
        let data = region.home.then(|| data_request(config));
        for request in data.into_iter().chain([registry, app]) {
            let declared = declared_parameters(request.kind);
            for (parameter, value) in &request.parameters {
                assert!(
                    declared.contains(parameter),
                    "{parameter} is not a parameter of {:?}'s template",
                    request.kind
                );
                assert_parameter_accepted(request.kind, parameter, value);
            }
            stacks.insert(
                format!("{} {}", region.name, request.stack_name),
                serde_json::to_value(&request).unwrap(),
            );
        }
    }
    serde_json::to_value(stacks).unwrap()
}

/// The value passes the template's AllowedValues and MinValue/MaxValue, as CloudFormation checks
/// before creating anything.
fn assert_parameter_accepted(kind: StackKind, parameter: &str, value: &str) {
    let template: serde_yaml::Value = serde_yaml::from_str(kind.template()).unwrap();
    let declaration = &template["Parameters"][parameter];
    if let Some(allowed) = declaration["AllowedValues"].as_sequence() {
        assert!(
            allowed
                .iter()
                .any(|candidate| candidate.as_str() == Some(value)),
            "{kind:?}: {parameter}={value:?} is not among {allowed:?}"
        );
    }
    if declaration["Type"].as_str() == Some("Number") {
        let number: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("{kind:?}: {parameter}={value:?} is not a number"));
        if let Some(minimum) = declaration["MinValue"].as_f64() {
            assert!(
                number >= minimum,
                "{kind:?}: {parameter}={value} < {minimum}"
            );
        }
        if let Some(maximum) = declaration["MaxValue"].as_f64() {
            assert!(
                number <= maximum,
                "{kind:?}: {parameter}={value} > {maximum}"
            );
        }
    }
}

#[test]
fn parameters_of_a_two_region_deploy() {
    assert_golden(
        "two-regions",
        &scenario(&config(
            "regions:\n  us-west-2:\n    availability_zones: [us-west-2a, us-west-2c]\n",
            Some("us-west-2"),
        )),
    );
}

#[test]
fn parameters_of_a_single_region_deploy_with_custom_counts() {
    assert_golden(
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

/// The resources (logical id → type) and outputs each app role gets, with the template's
/// conditions evaluated for the role's parameters. A renamed logical id, a resource that appears
/// or vanishes, or a table in the DR region shows up here as a diff.
#[test]
fn template_resources_and_outputs_per_role() {
    let mut inventory = BTreeMap::new();
    for (label, kind, parameters) in [
        ("registry", StackKind::Registry, BTreeMap::new()),
        ("data (home)", StackKind::Data, BTreeMap::new()),
        ("app (every region)", StackKind::App, BTreeMap::new()),
    ] {
        inventory.insert(label, rendered_inventory(kind, &parameters));
    }
    assert_golden(
        "template-inventory",
        &serde_json::to_value(&inventory).unwrap(),
    );
}

/// What other parts of the CLI rely on (CONTRACT.md): these logical ids and outputs must exist.
#[test]
fn templates_keep_the_contracted_logical_ids_and_outputs() {
    let registry = rendered_inventory(StackKind::Registry, &BTreeMap::new());
    for logical_id in ["MysfitsRepository", "LikeRepository"] {
        assert!(
            registry["resources"].get(logical_id).is_some(),
            "registry lacks {logical_id}"
        );
    }
    for output in [
        "MysfitsRepositoryName",
        "MysfitsRepositoryUri",
        "LikeRepositoryName",
        "LikeRepositoryUri",
    ] {
        assert!(
            has_output(&registry, output),
            "registry lacks output {output}"
        );
    }
    let data = rendered_inventory(StackKind::Data, &BTreeMap::new());
    assert_eq!(
        data["resources"]
            .as_object()
            .map(|resources| resources.len()),
        Some(1),
        "the data stack holds the table only: {data}"
    );
    assert_eq!(data["resources"]["Table"], "AWS::DynamoDB::Table");
    {
        let app = rendered_inventory(StackKind::App, &BTreeMap::new());
        for logical_id in [
            "Vpc",
            "LoadBalancer",
            "Listener",
            "MysfitsTargetGroup",
            "LikeTargetGroup",
            "Cluster",
            "MysfitsService",
            "LikeService",
            "MysfitsTaskDefinition",
            "LikeTaskDefinition",
            "MysfitsLogGroup",
            "LikeLogGroup",
            "TaskRole",
            "ExecutionRole",
        ] {
            assert!(
                app["resources"].get(logical_id).is_some(),
                "app lacks {logical_id}"
            );
        }
        assert!(
            app["resources"].get("Table").is_none(),
            "the table is the data stack's"
        );
        for output in [
            "LoadBalancerUrl",
            "LoadBalancerArn",
            "LoadBalancerDnsName",
            "MysfitsTargetGroupArn",
            "LikeTargetGroupArn",
            "ClusterName",
            "MysfitsServiceName",
            "LikeServiceName",
            "VpcId",
            "MysfitsLogGroupName",
            "LikeLogGroupName",
        ] {
            assert!(has_output(&app, output), "app lacks output {output}");
        }
    }
}

fn has_output(inventory: &serde_json::Value, output: &str) -> bool {
    inventory["outputs"]
        .as_array()
        .is_some_and(|outputs| outputs.iter().any(|name| name == output))
}

/// Resources and outputs of a template whose conditions hold for `parameters` (others at their
/// defaults).
fn rendered_inventory(kind: StackKind, parameters: &BTreeMap<&str, &str>) -> serde_json::Value {
    let template: serde_yaml::Value = serde_yaml::from_str(kind.template()).unwrap();
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    if let Some(declared) = template["Parameters"].as_mapping() {
        for (name, declaration) in declared {
            if let Some(default) = declaration["Default"].as_str() {
                values.insert(name.as_str().unwrap().to_string(), default.to_string());
            }
        }
    }
    for (name, value) in parameters {
        values.insert(name.to_string(), value.to_string());
    }
    let conditions = &template["Conditions"];
    let holds = |entry: &serde_yaml::Value| match entry["Condition"].as_str() {
        None => true,
        Some(name) => evaluate(&conditions[name], conditions, &values),
    };
    let resources: BTreeMap<&str, &str> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| holds(resource))
        .map(|(logical_id, resource)| {
            (
                logical_id.as_str().unwrap(),
                resource["Type"].as_str().unwrap(),
            )
        })
        .collect();
    let outputs: Vec<&str> = template["Outputs"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, output)| holds(output))
        .map(|(name, _)| name.as_str().unwrap())
        .collect();
    serde_json::json!({ "resources": resources, "outputs": outputs })
}

/// Evaluates the long-form condition functions the templates use.
pub(crate) fn evaluate(
    condition: &serde_yaml::Value,
    conditions: &serde_yaml::Value,
    values: &BTreeMap<String, String>,
) -> bool {
    let operand = |value: &serde_yaml::Value| -> String {
        match value.get("Ref").and_then(|name| name.as_str()) {
            Some(name) => values
                .get(name)
                .unwrap_or_else(|| panic!("condition refers to {name}, which has no value"))
                .clone(),
            None => value.as_str().expect("a string operand").to_string(),
        }
    };
    let arguments = |name: &str| condition[name].as_sequence().cloned();
    if let Some(pair) = arguments("Fn::Equals") {
        operand(&pair[0]) == operand(&pair[1])
    } else if let Some(inner) = arguments("Fn::Not") {
        !evaluate(&inner[0], conditions, values)
    } else if let Some(all) = arguments("Fn::And") {
        all.iter().all(|inner| evaluate(inner, conditions, values))
    } else if let Some(any) = arguments("Fn::Or") {
        any.iter().any(|inner| evaluate(inner, conditions, values))
    } else if let Some(name) = condition["Condition"].as_str() {
        evaluate(&conditions[name], conditions, values)
    } else {
        panic!("unsupported condition {condition:?}: write conditions in long form")
    }
}

/// Both templates deploy through the CLI's own change-set deployer into the emulator, primary and
/// DR region, and every resource other parts of the CLI look up resolves (by output, or by the
/// physical id of its logical resource where the emulator reports no outputs). Catches template
/// features the emulator cannot evaluate (Fn::Cidr, short-form !Condition, outputs that refer to
/// types it skips), which static linting does not.
#[tokio::test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn templates_deploy_in_the_emulator_in_both_regions() {
    use mysfits::aws::RegionClients;
    use mysfits::progress::Events;
    use mysfits::stack::deploy::StackDeployer;

    let moto = testbed::moto::Moto::start();
    // The primary leaves the zones to the template (its first two; the emulator lists us-east-1's
    // whatever the region, which is right here), the DR region names them.
    let config = config(
        "regions:\n  us-west-2:\n    availability_zones: [us-west-2a, us-west-2b]\n",
        Some("us-west-2"),
    );
    for region in config.regions() {
        let clients = RegionClients::new(&moto.sdk_config(&region.name));
        let registry_request = registry_request(&config, region);
        let registry = StackDeployer::new(
            &clients.cloudformation,
            &registry_request,
            Events::discard(),
            "registry",
        )
        .deploy()
        .await
        .unwrap_or_else(|error| panic!("registry in {}: {error}", region.name));
        for (output, logical_id, expected) in [
            (
                "MysfitsRepositoryName",
                "MysfitsRepository",
                "demo/mysfits-service",
            ),
            ("LikeRepositoryName", "LikeRepository", "demo/like-service"),
        ] {
            assert_eq!(registry.value(output, logical_id), Some(expected));
        }

        let app_request = app_request(&config, region, &images(&region.name));
        let app = StackDeployer::new(
            &clients.cloudformation,
            &app_request,
            Events::discard(),
            "app",
        )
        .deploy()
        .await
        .unwrap_or_else(|error| panic!("app in {}: {error}", region.name));
        assert_eq!(app.status, "CREATE_COMPLETE", "{}", region.name);
        let again = StackDeployer::new(
            &clients.cloudformation,
            &app_request,
            Events::discard(),
            "app",
        )
        .deploy()
        .await
        .unwrap();
        assert!(
            !again.changed,
            "{}: a second deploy with the same template and parameters (defaults included) must be a no-op",
            region.name
        );
        for (output, logical_id) in [
            ("VpcId", "Vpc"),
            ("LoadBalancerArn", "LoadBalancer"),
            ("MysfitsTargetGroupArn", "MysfitsTargetGroup"),
            ("LikeTargetGroupArn", "LikeTargetGroup"),
            ("ClusterName", "Cluster"),
            ("MysfitsServiceName", "MysfitsService"),
            ("LikeServiceName", "LikeService"),
            ("MysfitsLogGroupName", "MysfitsLogGroup"),
            ("LikeLogGroupName", "LikeLogGroup"),
        ] {
            assert!(
                app.value(output, logical_id)
                    .is_some_and(|value| !value.is_empty()),
                "{}: neither output {output} nor resource {logical_id}: {:?}",
                region.name,
                app.resources.keys().collect::<Vec<_>>()
            );
        }
        assert_eq!(app.value("ClusterName", "Cluster"), Some("demo"));
        assert!(
            !app.resources.contains_key("Table"),
            "{}: the table is the data stack's",
            region.name
        );
        if region.home {
            let data_request = data_request(&config);
            let data = StackDeployer::new(
                &clients.cloudformation,
                &data_request,
                Events::discard(),
                "data",
            )
            .deploy()
            .await
            .unwrap_or_else(|error| panic!("data stack: {error}"));
            assert_eq!(data.status, "CREATE_COMPLETE");
            assert_eq!(data.value("TableName", "Table"), Some("demo-mysfits"));
        }

        let subnets = clients
            .ec2
            .describe_subnets()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(app.value("VpcId", "Vpc").unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let mut zones: Vec<&str> = subnets
            .subnets()
            .iter()
            .filter_map(|subnet| subnet.availability_zone())
            .collect();
        zones.sort_unstable();
        zones.dedup();
        assert_eq!(
            zones,
            [format!("{}a", region.name), format!("{}b", region.name)],
            "subnets in the configured zones"
        );
        let services = clients
            .ecs
            .describe_services()
            .cluster("demo")
            .services("demo-mysfits-service")
            .services("demo-like-service")
            .send()
            .await
            .unwrap();
        assert_eq!(services.services().len(), 2, "{}", region.name);
    }
    let table = RegionClients::new(&moto.sdk_config("us-east-1"))
        .dynamodb
        .describe_table()
        .table_name("demo-mysfits")
        .send()
        .await
        .unwrap();
    let table = table.table().unwrap();
    let mut indexes: Vec<&str> = table
        .global_secondary_indexes()
        .iter()
        .filter_map(|index| index.index_name())
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, ["GoodEvilIndex", "LawChaosIndex"]);
    assert_eq!(
        table
            .stream_specification()
            .and_then(|stream| stream.stream_view_type())
            .map(|view| view.as_str()),
        Some("NEW_AND_OLD_IMAGES")
    );
}

/// With a certificate the port-80 listener redirects to HTTPS except `/health`, the like rule moves
/// to the HTTPS listener, and both listeners answer fulfill-like (the like service's internal
/// call, never through the load balancer) with a fixed 404 (checked through the ELB API).
#[tokio::test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn with_a_certificate_http_redirects_to_https_except_health_and_fulfill_like_is_404() {
    use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, ProtocolEnum};
    use mysfits::aws::RegionClients;
    use mysfits::progress::Events;
    use mysfits::stack::deploy::StackDeployer;

    let moto = testbed::moto::Moto::start();
    let certificate = moto_certificate(&moto.endpoint()).await;
    let config = config(
        &format!("regions:\n  us-east-1:\n    certificate_arn: {certificate}\n"),
        None,
    );
    let clients = RegionClients::new(&moto.sdk_config("us-east-1"));
    let request = app_request(&config, config.home(), &images("us-east-1"));
    assert_eq!(
        request.parameters.get("CertificateArn").map(String::as_str),
        Some(certificate.as_str())
    );
    let app = StackDeployer::new(&clients.cloudformation, &request, Events::discard(), "app")
        .deploy()
        .await
        .unwrap_or_else(|error| panic!("app with a certificate: {error}"));
    let balancer = app.value("LoadBalancerArn", "LoadBalancer").unwrap();
    let listeners = clients
        .elbv2
        .describe_listeners()
        .load_balancer_arn(balancer)
        .send()
        .await
        .unwrap();
    let by_port = |port: i32| {
        listeners
            .listeners()
            .iter()
            .find(|listener| listener.port() == Some(port))
            .unwrap_or_else(|| panic!("no listener on {port}: {listeners:?}"))
    };
    let http = by_port(80);
    let redirect = &http.default_actions()[0];
    assert_eq!(redirect.r#type(), Some(&ActionTypeEnum::Redirect));
    let redirect_to = redirect.redirect_config().unwrap();
    assert_eq!(
        (redirect_to.protocol(), redirect_to.port()),
        (Some("HTTPS"), Some("443"))
    );
    let https = by_port(443);
    assert_eq!(https.protocol(), Some(&ProtocolEnum::Https));
    assert_eq!(
        https.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
    assert_eq!(
        https.certificates()[0].certificate_arn(),
        Some(certificate.as_str())
    );
    assert_eq!(
        rule_paths(&clients.elbv2, http.listener_arn().unwrap()).await,
        [
            ("/health".to_string(), "forward".to_string()),
            (
                "/mysfits/*/fulfill-like".to_string(),
                "fixed-response 404".to_string()
            ),
        ],
        "only the probe stays on HTTP; fulfill-like is refused"
    );
    assert_eq!(
        rule_paths(&clients.elbv2, https.listener_arn().unwrap()).await,
        [
            (
                "/mysfits/*/fulfill-like".to_string(),
                "fixed-response 404".to_string()
            ),
            ("/mysfits/*/like".to_string(), "forward".to_string()),
        ]
    );
}

/// Without a certificate the one public listener refuses fulfill-like too.
#[tokio::test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn without_a_certificate_the_public_listener_answers_404_for_fulfill_like() {
    use mysfits::aws::RegionClients;
    use mysfits::progress::Events;
    use mysfits::stack::deploy::StackDeployer;

    let moto = testbed::moto::Moto::start();
    let config = config("", None);
    let clients = RegionClients::new(&moto.sdk_config("us-east-1"));
    let request = app_request(&config, config.home(), &images("us-east-1"));
    let app = StackDeployer::new(&clients.cloudformation, &request, Events::discard(), "app")
        .deploy()
        .await
        .unwrap_or_else(|error| panic!("app: {error}"));
    let listeners = clients
        .elbv2
        .describe_listeners()
        .load_balancer_arn(app.value("LoadBalancerArn", "LoadBalancer").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(listeners.listeners().len(), 1, "{listeners:?}");
    assert_eq!(
        rule_paths(
            &clients.elbv2,
            listeners.listeners()[0].listener_arn().unwrap()
        )
        .await,
        [
            ("/health".to_string(), "forward".to_string()),
            (
                "/mysfits/*/fulfill-like".to_string(),
                "fixed-response 404".to_string()
            ),
            ("/mysfits/*/like".to_string(), "forward".to_string()),
        ]
    );
}

/// The path patterns of a listener's rules with what each rule does (`forward`, or
/// `fixed-response <status>`), sorted.
async fn rule_paths(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    listener: &str,
) -> Vec<(String, String)> {
    let rules = elbv2
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .unwrap();
    let mut paths: Vec<(String, String)> = rules
        .rules()
        .iter()
        .filter(|rule| rule.is_default() != Some(true))
        .flat_map(|rule| {
            let action = rule
                .actions()
                .iter()
                .map(|action| match action.fixed_response_config() {
                    Some(fixed) => {
                        format!("fixed-response {}", fixed.status_code().unwrap_or_default())
                    }
                    None => action
                        .r#type()
                        .map(|kind| kind.as_str().to_string())
                        .unwrap_or_default(),
                })
                .collect::<Vec<_>>()
                .join(",");
            rule.conditions()
                .iter()
                .flat_map(|condition| {
                    condition
                        .path_pattern_config()
                        .map(|config| config.values().to_vec())
                        .unwrap_or_else(|| condition.values().to_vec())
                })
                .map(move |path| (path, action.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    paths.sort();
    paths
}

/// A certificate in moto's ACM (the load balancer checks that it exists), requested with a plain
/// awsJson call: the workspace has no ACM SDK, and moto reads the service from the credential scope.
async fn moto_certificate(endpoint: &str) -> String {
    let answer = reqwest::Client::new()
        .post(endpoint)
        .header("X-Amz-Target", "CertificateManager.RequestCertificate")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/acm/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(r#"{"DomainName":"mysfits.example.com"}"#)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    answer["CertificateArn"]
        .as_str()
        .unwrap_or_else(|| panic!("no certificate from moto: {answer}"))
        .to_string()
}
