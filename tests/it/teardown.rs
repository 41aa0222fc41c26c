//! `mysfits teardown` end to end: the real binary deploys the app to moto (two regions, a local
//! OCI registry per region standing in for ECR), tears it down, and its verification is checked
//! against moto's own APIs. moto's CloudFormation deletes leak (shared/TESTBED.md): the first
//! teardown must report those leaks; only the test then removes them, by hand, and a further
//! teardown must find nothing left.

use std::path::Path;

use serde_json::Value;
use testbed::moto::Moto;
use testbed::registry::Registry;

use crate::util::{Mysfits, Run};

const APP: &str = "gone";

/// A file the image builder accepts as a static x86_64 executable (ELF64 header without program
/// headers), distinct per service.
pub(crate) fn fake_binaries(directory: &Path) {
    for (index, service) in ["mysfits-service", "like-service"].iter().enumerate() {
        let mut bytes = vec![0u8; 64];
        bytes[0..6].copy_from_slice(b"\x7fELF\x02\x01");
        bytes[18..20].copy_from_slice(&0x3eu16.to_le_bytes());
        bytes[32..40].copy_from_slice(&64u64.to_le_bytes());
        bytes[54..56].copy_from_slice(&56u16.to_le_bytes());
        bytes.extend((0..4096u32).map(|byte| (byte as u8).wrapping_mul(index as u8 + 3)));
        std::fs::write(directory.join(service), bytes).unwrap();
    }
}

/// Both regions on moto, each region's pushes to its own registry.
fn config(moto: &Moto, east: &Registry, west: &Registry) -> String {
    format!(
        "app: {APP}\nregion: us-east-1\nsecondary_region: us-west-2\nendpoint_url: {}\nregions:\n  \
         us-east-1:\n    registry_url: {}\n    availability_zones: [us-east-1a, us-east-1b]\n  \
         us-west-2:\n    registry_url: {}\n    availability_zones: [us-west-2a, us-west-2b]\n",
        moto.endpoint(),
        east.url(),
        west.url()
    )
}

fn mysfits(moto: &Moto, config: &str, args: &[&str]) -> Run {
    let command = Mysfits::new().envs(moto.client_env());
    let path = command.file("mysfits.yaml", config);
    let mut all = vec!["--config", path.to_str().unwrap()];
    all.extend_from_slice(args);
    command.run(&all)
}

fn teardown(moto: &Moto, config: &str) -> (Run, Value) {
    let run = mysfits(moto, config, &["--output", "json", "teardown", "--yes"]);
    let report: Value = serde_json::from_str(&run.stdout()).unwrap_or_else(|error| {
        panic!(
            "teardown printed no JSON report ({error}):\nstdout:\n{}\nstderr:\n{}",
            run.stdout(),
            run.stderr()
        )
    });
    (run, report)
}

pub(crate) fn remaining(report: &Value) -> Vec<(String, String, String)> {
    report["remaining"]
        .as_array()
        .unwrap()
        .iter()
        .map(|found| {
            (
                found["region"].as_str().unwrap().to_string(),
                found["kind"].as_str().unwrap().to_string(),
                found["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn step_statuses(report: &Value) -> Vec<(String, String)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["label"].as_str().unwrap().to_string(),
                step["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[track_caller]
pub(crate) fn assert_all_steps_done(report: &Value, run: &Run) {
    let not_done: Vec<(String, String)> = step_statuses(report)
        .into_iter()
        .filter(|(_, status)| status != "done")
        .collect();
    assert!(
        not_done.is_empty(),
        "{not_done:?}\n{report:#}\nstderr:\n{}",
        run.stderr()
    );
}

/// What moto does not offer must be reported as not checked, never passed over in silence.
#[track_caller]
fn assert_unavailable_services_are_named(report: &Value) {
    let unverified: Vec<String> = report["unverified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            assert_eq!(entry["service_unavailable"], true, "{entry}");
            entry["what"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        unverified.iter().any(|what| what == "Global Accelerator"),
        "{unverified:?}"
    );
}

/// `name (arn)` or `allocation (ip)` as reported → the part AWS APIs take.
fn api_id(kind: &str, id: &str) -> String {
    match (kind, id.split_once(" (")) {
        ("load_balancer" | "target_group", Some((_, arn))) => arn.trim_end_matches(')').into(),
        ("elastic_ip", Some((allocation, _))) => allocation.into(),
        _ => id.into(),
    }
}

/// Removes, through moto's APIs and in dependency order, exactly what the teardown reported as
/// left behind by moto's stack deletion. Test-only: the product never hides a leak.
async fn clean_motos_leaks(moto: &Moto, leaks: &[(String, String, String)]) {
    const ORDER: [&str; 8] = [
        "ecs_service",
        "ecs_cluster",
        "task_definition",
        "load_balancer",
        "target_group",
        "nat_gateway",
        "elastic_ip",
        "vpc",
    ];
    let mut sorted: Vec<&(String, String, String)> = leaks.iter().collect();
    sorted.sort_by_key(|(_, kind, _)| ORDER.iter().position(|known| known == kind));
    for (region, kind, id) in sorted {
        let sdk = moto.sdk_config(region);
        let id = api_id(kind, id);
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        match kind.as_str() {
            "ecs_service" => {
                ecs.delete_service()
                    .cluster(APP)
                    .service(&id)
                    .force(true)
                    .send()
                    .await
                    .unwrap();
            }
            "ecs_cluster" => {
                ecs.delete_cluster().cluster(&id).send().await.unwrap();
            }
            "task_definition" => {
                ecs.deregister_task_definition()
                    .task_definition(&id)
                    .send()
                    .await
                    .unwrap();
            }
            "load_balancer" => {
                elbv2
                    .delete_load_balancer()
                    .load_balancer_arn(&id)
                    .send()
                    .await
                    .unwrap();
            }
            "target_group" => {
                elbv2
                    .delete_target_group()
                    .target_group_arn(&id)
                    .send()
                    .await
                    .unwrap();
            }
            "nat_gateway" => {
                ec2.delete_nat_gateway()
                    .nat_gateway_id(&id)
                    .send()
                    .await
                    .unwrap();
            }
            "elastic_ip" => {
                let addresses = ec2.describe_addresses().send().await.unwrap();
                let association = addresses
                    .addresses()
                    .iter()
                    .find(|address| address.allocation_id() == Some(id.as_str()))
                    .and_then(|address| address.association_id().map(str::to_string));
                if let Some(association) = association {
                    let _ = ec2
                        .disassociate_address()
                        .association_id(association)
                        .send()
                        .await;
                }
                ec2.release_address()
                    .allocation_id(&id)
                    .send()
                    .await
                    .unwrap();
            }
            "vpc" => delete_vpc(&ec2, &id).await,
            other => panic!("the test does not know how to clean up a leaked {other} ({id})"),
        }
    }
}

/// Deletes a VPC with what moto left inside it.
async fn delete_vpc(ec2: &aws_sdk_ec2::Client, vpc: &str) {
    let in_vpc = || {
        aws_sdk_ec2::types::Filter::builder()
            .name("vpc-id")
            .values(vpc)
            .build()
    };
    let endpoints = ec2
        .describe_vpc_endpoints()
        .filters(in_vpc())
        .send()
        .await
        .unwrap();
    for endpoint in endpoints.vpc_endpoints() {
        ec2.delete_vpc_endpoints()
            .vpc_endpoint_ids(endpoint.vpc_endpoint_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    let gateways = ec2
        .describe_internet_gateways()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("attachment.vpc-id")
                .values(vpc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for gateway in gateways.internet_gateways() {
        let id = gateway.internet_gateway_id().unwrap();
        ec2.detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .unwrap();
        ec2.delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await
            .unwrap();
    }
    let subnets = ec2
        .describe_subnets()
        .filters(in_vpc())
        .send()
        .await
        .unwrap();
    for subnet in subnets.subnets() {
        ec2.delete_subnet()
            .subnet_id(subnet.subnet_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    let tables = ec2
        .describe_route_tables()
        .filters(in_vpc())
        .send()
        .await
        .unwrap();
    for table in tables.route_tables() {
        let main = table
            .associations()
            .iter()
            .any(|association| association.main() == Some(true));
        if !main {
            ec2.delete_route_table()
                .route_table_id(table.route_table_id().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    let groups = ec2
        .describe_security_groups()
        .filters(in_vpc())
        .send()
        .await
        .unwrap();
    for group in groups.security_groups() {
        if group.group_name() != Some("default") {
            ec2.delete_security_group()
                .group_id(group.group_id().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    ec2.delete_vpc().vpc_id(vpc).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server and docker-registry; run scripts/test"]
async fn teardown_removes_the_deployed_app_reports_motos_leaks_and_then_finds_nothing() {
    let moto = Moto::start();
    let east = Registry::start();
    let west = Registry::start();
    let config = config(&moto, &east, &west);
    let binaries = tempfile::tempdir().unwrap();
    fake_binaries(binaries.path());
    mysfits(
        &moto,
        &config,
        &[
            "deploy",
            "--no-seed",
            "--prebuilt-binaries",
            binaries.path().to_str().unwrap(),
        ],
    )
    .assert_success();
    let east_sdk = moto.sdk_config("us-east-1");
    let dynamodb = aws_sdk_dynamodb::Client::new(&east_sdk);
    dynamodb
        .describe_table()
        .table_name(format!("{APP}-mysfits"))
        .send()
        .await
        .expect("deploy created the table");

    let (first, report) = teardown(&moto, &config);
    assert_all_steps_done(&report, &first);
    assert_unavailable_services_are_named(&report);
    // The app itself is gone, as moto's own APIs show.
    for region in ["us-east-1", "us-west-2"] {
        let sdk = moto.sdk_config(region);
        let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
        for stack in [format!("{APP}-app"), format!("{APP}-registry")] {
            let described = cloudformation
                .describe_stacks()
                .stack_name(&stack)
                .send()
                .await;
            assert!(
                described.is_err()
                    || described.unwrap().stacks()[0].stack_status()
                        == Some(&aws_sdk_cloudformation::types::StackStatus::DeleteComplete),
                "{stack} in {region} still exists"
            );
        }
        let ecr = aws_sdk_ecr::Client::new(&sdk);
        assert!(
            ecr.describe_repositories()
                .repository_names(format!("{APP}/mysfits-service"))
                .send()
                .await
                .is_err(),
            "repository in {region} still exists"
        );
    }
    assert!(
        dynamodb
            .describe_table()
            .table_name(format!("{APP}-mysfits"))
            .send()
            .await
            .is_err(),
        "the table was deleted"
    );
    let backup = report["backup"]["arn"]
        .as_str()
        .expect("a backup was taken");
    let backups = dynamodb.list_backups().send().await.unwrap();
    assert!(
        backups
            .backup_summaries()
            .iter()
            .any(|summary| summary.backup_arn() == Some(backup)),
        "the reported backup exists"
    );

    // moto's leaks are reported, and each reported leak really exists.
    let leaks = remaining(&report);
    assert_eq!(
        first.code(),
        2,
        "leaks fail the teardown:\n{}",
        first.stderr()
    );
    assert!(first.stderr().contains("still there"), "{}", first.stderr());
    let kinds: Vec<&str> = leaks.iter().map(|(_, kind, _)| kind.as_str()).collect();
    // The leaks shared/TESTBED.md lists for moto's delete_stack (those moto 5.2 still has).
    for expected in [
        "vpc",
        "nat_gateway",
        "elastic_ip",
        "target_group",
        "task_definition",
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected} not reported: {leaks:#?}"
        );
    }
    let ec2 = aws_sdk_ec2::Client::new(&east_sdk);
    for (region, kind, id) in &leaks {
        if kind == "vpc" && region == "us-east-1" {
            let vpc = ec2.describe_vpcs().vpc_ids(id).send().await.unwrap();
            assert_eq!(vpc.vpcs().len(), 1, "reported VPC {id} exists");
        }
    }

    // Teardown is idempotent: again, every step finishes and the leaks are still named.
    let (second, report) = teardown(&moto, &config);
    assert_all_steps_done(&report, &second);
    let again = remaining(&report);
    assert_eq!(
        again, leaks,
        "with the stacks gone, names, tags and the NAT gateways' VPC and addresses still find every leak"
    );

    // Only now, and only in this test: remove what moto leaked, then nothing may be left.
    clean_motos_leaks(&moto, &again).await;
    let (third, report) = teardown(&moto, &config);
    assert_all_steps_done(&report, &third);
    assert_eq!(remaining(&report), Vec::new(), "{report:#}");
    assert_eq!(third.code(), 0, "{}", third.stderr());
    assert_eq!(report["complete"], true);
}

#[test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
fn teardown_of_a_never_deployed_app_finishes_and_finds_nothing() {
    let moto = Moto::start();
    let config = format!(
        "app: {APP}\nregion: us-east-1\nsecondary_region: us-west-2\nendpoint_url: {}\n",
        moto.endpoint()
    );
    let (run, report) = teardown(&moto, &config);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_all_steps_done(&report, &run);
    assert_eq!(report["complete"], true);
    assert!(report["backup"].is_null(), "no table, no backup");
    assert_eq!(remaining(&report), Vec::new());
    assert_unavailable_services_are_named(&report);
    let text = mysfits(&moto, &config, &["teardown", "--yes"]);
    text.assert_success();
    assert!(
        text.stdout().contains("NOT CHECKED: Global Accelerator"),
        "{}",
        text.stdout()
    );
}

#[test]
fn teardown_without_a_terminal_and_without_yes_refuses_and_deletes_nothing() {
    let run = Mysfits::new().run(&["--region", "us-east-1", "teardown", "--keep-data"]);
    assert_eq!(run.code(), 2);
    let stderr = run.stderr();
    assert!(stderr.contains("stdin is not a terminal"), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
}

/// Both regions on moto, each region's image pushes to a port nobody listens on: a deploy
/// creates the registry stacks and fails at the pushes, before any app stack.
fn pushes_failing_config(moto: &Moto) -> String {
    let dead = testbed::dead_endpoint();
    format!(
        "app: {APP}\nregion: us-east-1\nsecondary_region: us-west-2\nendpoint_url: {}\nregions:\n  \
         us-east-1:\n    registry_url: {dead}\n  us-west-2:\n    registry_url: {dead}\n",
        moto.endpoint()
    )
}

fn deploy_with_fake_binaries(moto: &Moto, config: &str) -> Run {
    let binaries = tempfile::tempdir().unwrap();
    fake_binaries(binaries.path());
    mysfits(
        moto,
        config,
        &[
            "deploy",
            "--no-seed",
            "--prebuilt-binaries",
            binaries.path().to_str().unwrap(),
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn teardown_after_a_failed_deploy_removes_the_half_deployed_app() {
    let moto = Moto::start();
    // Image pushes go to a port nobody listens on: the registry stacks exist, the app stacks
    // never start.
    let config = pushes_failing_config(&moto);
    let deploy = deploy_with_fake_binaries(&moto, &config);
    assert_eq!(
        deploy.code(),
        2,
        "the deploy must fail:\n{}",
        deploy.stderr()
    );
    let cloudformation = aws_sdk_cloudformation::Client::new(&moto.sdk_config("us-west-2"));
    cloudformation
        .describe_stacks()
        .stack_name(format!("{APP}-registry"))
        .send()
        .await
        .expect("the failed deploy left the registry stack");

    let (run, report) = teardown(&moto, &config);
    assert_all_steps_done(&report, &run);
    assert_eq!(remaining(&report), Vec::new(), "{report:#}");
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr().contains(&format!("{APP}-registry deleted")),
        "{}",
        run.stderr()
    );
}

/// Creates a small stack named as auto failover's, standing for one left from a deploy when it
/// was on (moto cannot create the real ones: no Region switch).
async fn leftover_stack(moto: &Moto, region: &str, kind: &str) {
    aws_sdk_cloudformation::Client::new(&moto.sdk_config(region))
        .create_stack()
        .stack_name(format!("{APP}-{kind}"))
        .template_body("Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n")
        .send()
        .await
        .unwrap();
}

async fn stack_exists(moto: &Moto, region: &str, kind: &str) -> bool {
    let described = aws_sdk_cloudformation::Client::new(&moto.sdk_config(region))
        .describe_stacks()
        .stack_name(format!("{APP}-{kind}"))
        .send()
        .await;
    described.is_ok_and(|described| {
        described.stacks().iter().any(|stack| {
            stack.stack_status()
                != Some(&aws_sdk_cloudformation::types::StackStatus::DeleteComplete)
        })
    })
}

/// `auto_failover` turned off after a deploy with it on: `plan` shows the removal of its stacks,
/// a deploy removes them (here one whose pushes fail, so that nothing else is created; the
/// removals start at once and finish), and teardown removes any that are left.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn auto_failover_stacks_left_from_when_it_was_on_are_removed_by_deploy_and_by_teardown() {
    let moto = Moto::start();
    let config = pushes_failing_config(&moto);
    for region in ["us-east-1", "us-west-2"] {
        leftover_stack(&moto, region, "alarms").await;
    }
    leftover_stack(&moto, "us-east-1", "recovery").await;

    let plan = mysfits(&moto, &config, &["plan"]);
    assert_eq!(
        plan.code(),
        1,
        "changes: {}{}",
        plan.stdout(),
        plan.stderr()
    );
    for line in [
        "remove recovery stack us-east-1 (auto_failover is off)",
        "remove alarms stack us-east-1 (auto_failover is off)",
        "remove alarms stack us-west-2 (auto_failover is off)",
    ] {
        assert!(plan.stdout().contains(line), "{line}: {}", plan.stdout());
    }
    assert!(
        stack_exists(&moto, "us-west-2", "alarms").await,
        "plan changes nothing"
    );

    // Only the alarms stacks now (the recovery stack's removal would hold the alarms' back
    // until it is done, and the failing push stops new steps).
    aws_sdk_cloudformation::Client::new(&moto.sdk_config("us-east-1"))
        .delete_stack()
        .stack_name(format!("{APP}-recovery"))
        .send()
        .await
        .unwrap();
    let deploy = deploy_with_fake_binaries(&moto, &config);
    assert_eq!(deploy.code(), 2, "the pushes fail:\n{}", deploy.stderr());
    for region in ["us-east-1", "us-west-2"] {
        assert!(
            !stack_exists(&moto, region, "alarms").await,
            "{region}: {}",
            deploy.stderr()
        );
    }
    assert!(
        deploy.stderr().contains(&format!("{APP}-alarms deleted")),
        "{}",
        deploy.stderr()
    );

    // Teardown with it off removes what is left.
    leftover_stack(&moto, "us-east-1", "recovery").await;
    leftover_stack(&moto, "us-west-2", "alarms").await;
    let (run, report) = teardown(&moto, &config);
    assert_all_steps_done(&report, &run);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        !stack_exists(&moto, "us-east-1", "recovery").await,
        "{}",
        run.stderr()
    );
    assert!(
        !stack_exists(&moto, "us-west-2", "alarms").await,
        "{}",
        run.stderr()
    );
}
