//! `mysfits deploy` end to end against the local stand-ins: moto for AWS, one Debian
//! docker-registry per region for ECR. Everything is checked through AWS APIs, not through the
//! CLI's own report: stacks, network, load balancers, cluster, services, repositories, table and
//! seed data in the right regions; then a second deploy must change nothing at all.

use testbed::moto::Moto;
use testbed::registry::Registry;

use crate::fixtures::emulator::{deploy, static_service_binaries};

const PRIMARY: &str = "us-east-1";
const SECONDARY: &str = "us-west-2";

/// The config the README's local demo uses, pointed at this test's emulator and registries.
fn config(moto: &Moto, primary_registry: &Registry, secondary_registry: &Registry) -> String {
    format!(
        "app: e2e\nregion: {PRIMARY}\nsecondary_region: {SECONDARY}\nendpoint_url: {}\n\
         regions:\n  {PRIMARY}:\n    registry_url: {}\n    availability_zones: [us-east-1a, us-east-1b]\n\
         \x20 {SECONDARY}:\n    registry_url: {}\n    availability_zones: [us-west-2a, us-west-2b]\n",
        moto.endpoint(),
        primary_registry.url(),
        secondary_registry.url()
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server, docker-registry and a static build of the services; run scripts/test"]
async fn two_region_deploy_creates_everything_and_a_second_deploy_changes_nothing() {
    let binaries = static_service_binaries().await;
    let moto = Moto::start();
    let (primary_registry, secondary_registry) = (Registry::start(), Registry::start());
    let config_text = config(&moto, &primary_registry, &secondary_registry);

    let first = deploy(&moto, &config_text, &binaries);
    assert_eq!(first["changed"], true, "{first:#}");

    for region in [PRIMARY, SECONDARY] {
        let sdk = moto.sdk_config(region);
        let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
        for stack in ["e2e-registry", "e2e-app"] {
            let described = cloudformation
                .describe_stacks()
                .stack_name(stack)
                .send()
                .await
                .unwrap_or_else(|error| panic!("{stack} in {region}: {error:?}"));
            let status = described.stacks()[0].stack_status().unwrap().as_str();
            assert!(status.ends_with("_COMPLETE"), "{stack} {region}: {status}");
        }

        // moto does not tag resources with the stack name: find the VPC through the stack.
        let resources = cloudformation
            .describe_stack_resource()
            .stack_name("e2e-app")
            .logical_resource_id("Vpc")
            .send()
            .await
            .unwrap();
        let vpc_id = resources
            .stack_resource_detail()
            .and_then(|detail| detail.physical_resource_id())
            .unwrap()
            .to_string();
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpcs = ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.unwrap();
        assert_eq!(vpcs.vpcs().len(), 1, "one app VPC in {region}");

        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
        let balancers = elbv2.describe_load_balancers().send().await.unwrap();
        let balancer = balancers
            .load_balancers()
            .iter()
            .find(|balancer| balancer.vpc_id() == vpcs.vpcs()[0].vpc_id())
            .unwrap_or_else(|| panic!("no load balancer in the app VPC of {region}"));
        let target_groups = elbv2
            .describe_target_groups()
            .load_balancer_arn(balancer.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(target_groups.target_groups().len(), 2, "{region}");
        for group in target_groups.target_groups() {
            assert_eq!(group.health_check_path(), Some("/health"), "{region}");
        }

        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let services = ecs
            .describe_services()
            .cluster("e2e")
            .services("e2e-mysfits-service")
            .services("e2e-like-service")
            .send()
            .await
            .unwrap();
        assert_eq!(
            services.services().len(),
            2,
            "{region}: {:?}",
            services.failures()
        );
        // Tracing is on by default: each registered task definition has the service and the
        // collector sidecar, which the service waits for (the template's Fn::If lists resolved).
        for service in services.services() {
            let definition = ecs
                .describe_task_definition()
                .task_definition(service.task_definition().unwrap())
                .send()
                .await
                .unwrap();
            let containers = definition
                .task_definition()
                .unwrap()
                .container_definitions();
            let names: Vec<&str> = containers.iter().filter_map(|c| c.name()).collect();
            assert_eq!(names.len(), 2, "{region}: {names:?}");
            assert_eq!(names[1], "otel-collector", "{region}: {names:?}");
            assert_eq!(containers[1].essential(), Some(false), "{region}");
            let endpoint = containers[0]
                .environment()
                .iter()
                .find(|variable| variable.name() == Some("OTEL_EXPORTER_OTLP_ENDPOINT"))
                .and_then(|variable| variable.value());
            assert_eq!(endpoint, Some("http://127.0.0.1:4318"), "{region}");
        }

        let ecr = aws_sdk_ecr::Client::new(&sdk);
        let repositories = ecr
            .describe_repositories()
            .repository_names("e2e/mysfits-service")
            .repository_names("e2e/like-service")
            .send()
            .await
            .unwrap();
        assert_eq!(repositories.repositories().len(), 2, "{region}");
    }

    // The table lives in the primary region, with the seed catalogue in it.
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config(PRIMARY));
    let table = dynamodb
        .describe_table()
        .table_name("e2e-mysfits")
        .send()
        .await
        .unwrap();
    let indexes: Vec<&str> = table
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .filter_map(|index| index.index_name())
        .collect();
    assert!(
        indexes.contains(&"GoodEvilIndex") && indexes.contains(&"LawChaosIndex"),
        "{indexes:?}"
    );
    let items = dynamodb
        .scan()
        .table_name("e2e-mysfits")
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(
        items.count(),
        13,
        "the seed catalogue has 12 mysfits, and the write-region control item is there"
    );
    assert_eq!(
        first["seed"]["write_region"],
        serde_json::json!({
            "control": {"write_region": "us-east-1", "epoch": 1, "state": "active"},
            "created": true
        }),
        "{first:#}"
    );

    // The same digest was pushed to both regions' registries and handed to both app stacks.
    let regions = first["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 2);
    let digest = |region: &serde_json::Value| {
        region["images"]["mysfits"]
            .as_str()
            .and_then(|reference| reference.split_once('@'))
            .map(|(_, digest)| digest.to_string())
            .unwrap_or_else(|| panic!("no digest reference: {region:#}"))
    };
    assert_eq!(digest(&regions[0]), digest(&regions[1]));

    // A second deploy with nothing changed: no stack updates, no change sets left, no new images.
    let updated_before = last_updated(&moto).await;
    let second = deploy(&moto, &config_text, &binaries);
    assert_eq!(last_updated(&moto).await, updated_before);
    for region in second["regions"].as_array().unwrap() {
        for stack in region["stacks"].as_array().unwrap() {
            assert_eq!(stack["changed"], false, "{second:#}");
        }
    }
    assert_eq!(second["seed"]["inserted"], 0, "{second:#}");
    assert_eq!(
        second["seed"]["write_region"]["created"], false,
        "the control item is never written twice: {second:#}"
    );
    // moto accepts ReplicaUpdates but never lists the replica, so every run asks again and says
    // the replica is UNCONFIRMED; on AWS the replica is listed and nothing is requested twice
    // (modeled in replica_mocks). This is the one difference the emulator forces.
    assert_eq!(second["replica"]["status"], "UNCONFIRMED", "{second:#}");
}

/// Every stack's last-update time in both regions, as CloudFormation reports it.
async fn last_updated(moto: &Moto) -> Vec<(String, Option<String>)> {
    let mut times = Vec::new();
    for region in [PRIMARY, SECONDARY] {
        let cloudformation = aws_sdk_cloudformation::Client::new(&moto.sdk_config(region));
        for stack in ["e2e-registry", "e2e-app"] {
            let described = cloudformation
                .describe_stacks()
                .stack_name(stack)
                .send()
                .await
                .unwrap();
            let stack_description = &described.stacks()[0];
            let change_sets = cloudformation
                .list_change_sets()
                .stack_name(stack)
                .send()
                .await
                .unwrap();
            assert!(
                change_sets.summaries().iter().all(|summary| summary
                    .execution_status()
                    .is_some_and(|status| status.as_str() == "EXECUTE_COMPLETE")),
                "{stack} {region}: a change set was left behind: {:?}",
                change_sets.summaries()
            );
            times.push((
                format!("{region} {stack}"),
                stack_description
                    .last_updated_time()
                    .map(|time| time.to_string()),
            ));
        }
    }
    times
}
