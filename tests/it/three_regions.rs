//! Three regions end to end through the real binary on the local stand-ins (moto for AWS, one
//! Debian docker-registry per region for ECR): deploy creates the stacks in all three and asks for
//! a replica in both non-home regions, status shows three columns home first, the dashboard covers
//! all three, failover checks readiness towards either other region and, forced, scales either
//! one up, and teardown removes the app from all three. moto lacks Global Accelerator and global
//! tables: the entry point is reported unavailable and replicas UNCONFIRMED here; the three-region accelerator, shift and replica
//! calls are pinned by entry_mocks, failover (mocked) and deploy_regions / teardown_regions.

use serde_json::Value;
use testbed::moto::Moto;
use testbed::registry::Registry;

use crate::teardown::{assert_all_steps_done, fake_binaries};
use crate::util::{Mysfits, Run};

const APP: &str = "tri";
const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

/// The regions as a list in the file, home first, each with its own registry.
fn config(moto: &Moto, registries: &[Registry; 3]) -> String {
    let mut text = format!("app: {APP}\nendpoint_url: {}\nregions:\n", moto.endpoint());
    for (region, registry) in REGIONS.iter().zip(registries) {
        text.push_str(&format!(
            "  - name: {region}\n    registry_url: {}\n    availability_zones: [{region}a, {region}b]\n",
            registry.url()
        ));
    }
    text
}

fn mysfits(moto: &Moto, config: &str, args: &[&str]) -> Run {
    let command = Mysfits::new().envs(moto.client_env());
    let path = command.file("mysfits.yaml", config);
    let mut all = vec!["--config", path.to_str().unwrap()];
    all.extend_from_slice(args);
    command.run(&all)
}

fn json(run: &Run, what: &str) -> Value {
    serde_json::from_str(&run.stdout()).unwrap_or_else(|error| {
        panic!(
            "{what} printed no JSON ({error}):\nstdout:\n{}\nstderr:\n{}",
            run.stdout(),
            run.stderr()
        )
    })
}

async fn stack_status(moto: &Moto, region: &str, stack: &str) -> Option<String> {
    let cloudformation = aws_sdk_cloudformation::Client::new(&moto.sdk_config(region));
    let described = cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .ok()?;
    described.stacks()[0]
        .stack_status()
        .map(|status| status.as_str().to_string())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server and docker-registry; run scripts/test"]
async fn three_regions_deploy_show_fail_over_and_tear_down() {
    let moto = Moto::start();
    let registries = [Registry::start(), Registry::start(), Registry::start()];
    let config = config(&moto, &registries);
    let binaries = tempfile::tempdir().unwrap();
    fake_binaries(binaries.path());
    let prebuilt = binaries.path().to_str().unwrap();

    let run = mysfits(
        &moto,
        &config,
        &[
            "--output",
            "json",
            "deploy",
            "--prebuilt-binaries",
            prebuilt,
        ],
    );
    run.assert_success();
    let deployed = json(&run, "deploy");
    let deployed_regions: Vec<&str> = deployed["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|region| region["region"].as_str().unwrap())
        .collect();
    assert_eq!(deployed_regions, REGIONS, "{deployed:#}");
    let replicas: Vec<&str> = deployed["replicas"]
        .as_array()
        .unwrap_or_else(|| panic!("no replicas in {deployed:#}"))
        .iter()
        .map(|replica| replica["region"].as_str().unwrap())
        .collect();
    assert_eq!(replicas, ["us-west-2", "eu-west-1"], "{deployed:#}");

    // Through moto's own APIs: both stacks, both repositories and both services in every region,
    // the table in home.
    for region in REGIONS {
        for stack in [format!("{APP}-registry"), format!("{APP}-app")] {
            let status = stack_status(&moto, region, &stack).await;
            assert!(
                status
                    .as_deref()
                    .is_some_and(|status| status.ends_with("_COMPLETE")),
                "{stack} in {region}: {status:?}"
            );
        }
        let sdk = moto.sdk_config(region);
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let services = ecs
            .describe_services()
            .cluster(APP)
            .services(format!("{APP}-mysfits-service"))
            .services(format!("{APP}-like-service"))
            .send()
            .await
            .unwrap();
        assert_eq!(services.services().len(), 2, "{region}");
        let ecr = aws_sdk_ecr::Client::new(&sdk);
        let repositories = ecr
            .describe_repositories()
            .repository_names(format!("{APP}/mysfits-service"))
            .repository_names(format!("{APP}/like-service"))
            .send()
            .await
            .unwrap();
        assert_eq!(repositories.repositories().len(), 2, "{region}");
    }
    let home_dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config(REGIONS[0]));
    home_dynamodb
        .describe_table()
        .table_name(format!("{APP}-mysfits"))
        .send()
        .await
        .expect("the table is created in home");

    // The dashboard lives in home and covers all three regions.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.sdk_config(REGIONS[0]));
    let dashboard = cloudwatch
        .get_dashboard()
        .dashboard_name(APP)
        .send()
        .await
        .expect("deploy created the dashboard in home");
    let body = dashboard.dashboard_body().unwrap_or_default();
    for region in REGIONS {
        assert!(body.contains(region), "{region} missing from the dashboard");
    }

    // status: one column per region, home first, every stack found.
    let run = mysfits(&moto, &config, &["--output", "json", "status"]);
    let status = json(&run, "status");
    let columns: Vec<&String> = status["regions"]
        .as_object()
        .unwrap_or_else(|| panic!("status regions: {status:#}"))
        .keys()
        .collect();
    assert_eq!(columns, REGIONS, "{status:#}");
    for region in REGIONS {
        let stacks = status["regions"][region]["stacks"].as_array().unwrap();
        assert!(
            stacks.iter().all(|stack| stack["status"]
                .as_str()
                .is_some_and(|status| status.ends_with("_COMPLETE"))),
            "{region}: {stacks:#?}"
        );
    }
    let text = mysfits(&moto, &config, &["status"]).stdout();
    let header = text.lines().find(|line| line.contains(REGIONS[0])).unwrap();
    let positions: Vec<usize> = REGIONS
        .iter()
        .map(|region| header.find(region).unwrap_or_else(|| panic!("{header}")))
        .collect();
    assert!(positions.is_sorted(), "columns home first: {header}");

    // failover towards either other region: readiness is checked for that region by name.
    for target in &REGIONS[1..] {
        let run = mysfits(
            &moto,
            &config,
            &["--output", "json", "failover", "--to", target, "--dry-run"],
        );
        let report = json(&run, "failover --dry-run");
        assert_eq!(report["target"], *target, "{report:#}\n{}", run.stderr());
        assert_ne!(report["source"], *target, "{report:#}");
    }
    // A forced failover to either: the target's services are scaled to home's counts (moto
    // registers no healthy targets, so the scale-up never settles and the short timeout ends it;
    // without Global Accelerator the shift is skipped and said so).
    for target in &REGIONS[1..] {
        let run = mysfits(
            &moto,
            &config,
            &[
                "--output",
                "json",
                "failover",
                "--to",
                target,
                "--force",
                "--timeout",
                "3",
            ],
        );
        let report = json(&run, "failover --force");
        assert_eq!(report["target"], *target, "{report:#}");
        assert_eq!(report["shift"]["outcome"], "skipped", "{report:#}");
        let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config(target));
        let services = ecs
            .describe_services()
            .cluster(APP)
            .services(format!("{APP}-mysfits-service"))
            .services(format!("{APP}-like-service"))
            .send()
            .await
            .unwrap();
        for service in services.services() {
            assert_eq!(
                service.desired_count(),
                2,
                "{target}: {:?} scaled to home's count",
                service.service_name()
            );
        }
    }
    // An unknown region is refused before any call, naming the app's regions.
    let refused = mysfits(&moto, &config, &["failover", "--to", "ap-south-1"]);
    assert_eq!(refused.code(), 2);
    assert!(
        REGIONS
            .iter()
            .all(|region| refused.stderr().contains(region)),
        "{}",
        refused.stderr()
    );

    // teardown: every step of all three regions finishes; no app stack or repository is left.
    let run = mysfits(&moto, &config, &["--output", "json", "teardown", "--yes"]);
    let report = json(&run, "teardown");
    assert_all_steps_done(&report, &run);
    let labels: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|step| step["label"].as_str())
        .collect();
    for region in &REGIONS[1..] {
        assert!(
            labels
                .iter()
                .any(|label| label.contains("replica") && label.contains(region)),
            "no replica removal for {region}: {labels:#?}"
        );
    }
    for region in REGIONS {
        for stack in [format!("{APP}-registry"), format!("{APP}-app")] {
            let status = stack_status(&moto, region, &stack).await;
            assert!(
                status.is_none() || status.as_deref() == Some("DELETE_COMPLETE"),
                "{stack} in {region} is still there: {status:?}"
            );
        }
        let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config(region));
        assert!(
            ecr.describe_repositories()
                .repository_names(format!("{APP}/mysfits-service"))
                .send()
                .await
                .is_err(),
            "repository in {region} still exists"
        );
    }
    // What moto's stack deletion leaks is reported per region, in the app's regions only.
    for leak in report["remaining"].as_array().unwrap() {
        let region = leak["region"].as_str().unwrap();
        assert!(REGIONS.contains(&region), "{leak}");
    }
}
