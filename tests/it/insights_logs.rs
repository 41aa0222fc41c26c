//! Container Insights log groups on moto: ECS itself creates
//! `/aws/ecs/containerinsights/<cluster>/performance` (no stack owns it), so the test creates
//! them the way ECS would; teardown must delete them in every region and its verification must
//! list any that are still there, through every page of DescribeLogGroups.

use std::collections::BTreeMap;

use mysfits::app::RegionName;
use mysfits::aws::RegionClients;
use mysfits::cli::GlobalArgs;
use mysfits::config::{Config, ConfigFile};
use mysfits::progress::Events;
use mysfits::teardown::entry::GlobalClients;
use mysfits::teardown::verify::verify;
use mysfits::teardown::{Teardown, TeardownOptions};
use serde_json::Value;
use testbed::moto::Moto;

use crate::teardown::{assert_all_steps_done, remaining};
use crate::util::Mysfits;

const APP: &str = "insights";

async fn create_log_group(moto: &Moto, region: &str, name: &str) {
    aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config(region))
        .create_log_group()
        .log_group_name(name)
        .send()
        .await
        .unwrap();
}

async fn log_groups(moto: &Moto, region: &str, prefix: &str) -> Vec<String> {
    aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config(region))
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap()
        .iter()
        .filter_map(|group| group.log_group_name().map(str::to_string))
        .collect()
}

#[tokio::test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn teardown_deletes_the_container_insights_log_groups_ecs_left_in_every_region() {
    let moto = Moto::start();
    let ours = format!("/aws/ecs/containerinsights/{APP}/performance");
    // Another cluster whose name starts like ours: not the app's.
    let other = format!("/aws/ecs/containerinsights/{APP}-other/performance");
    for region in ["us-east-1", "us-west-2"] {
        create_log_group(&moto, region, &ours).await;
        create_log_group(&moto, region, &other).await;
    }
    let config = format!(
        "app: {APP}\nregion: us-east-1\nsecondary_region: us-west-2\nendpoint_url: {}\n",
        moto.endpoint()
    );
    let command = Mysfits::new().envs(moto.client_env());
    let path = command.file("mysfits.yaml", &config);
    let run = command.run(&[
        "--config",
        path.to_str().unwrap(),
        "--output",
        "json",
        "teardown",
        "--yes",
    ]);
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_all_steps_done(&report, &run);
    assert_eq!(remaining(&report), Vec::new(), "{report:#}");
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let labels: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|step| step["label"].as_str())
        .collect();
    for region in ["us-east-1", "us-west-2"] {
        assert!(
            labels
                .iter()
                .any(|label| label.starts_with("Container Insights log groups")
                    && label.contains(region)),
            "{labels:?}"
        );
        assert_eq!(
            log_groups(&moto, region, "/aws/ecs/containerinsights/").await,
            std::slice::from_ref(&other),
            "the app's group is gone in {region}, the other cluster's is left alone"
        );
    }
}

#[tokio::test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn verification_lists_container_insights_log_groups_left_behind_across_pages() {
    let moto = Moto::start();
    // More than one page of DescribeLogGroups (50 a page).
    let mut expected = Vec::new();
    for index in 0..55 {
        let name = format!("/aws/ecs/containerinsights/{APP}/group-{index:02}");
        create_log_group(&moto, "us-west-2", &name).await;
        expected.push(name);
    }
    let global = GlobalArgs {
        region: Some("us-east-1".into()),
        secondary_region: Some("us-west-2".into()),
        app: Some(APP.into()),
        endpoint_url: Some(moto.endpoint()),
        ..GlobalArgs::default()
    };
    let config = Config::resolve(&global, ConfigFile::default()).unwrap();
    let east = moto.sdk_config("us-east-1");
    let teardown = Teardown {
        config,
        options: TeardownOptions::default(),
        clients: BTreeMap::from([
            (RegionName::new("us-east-1"), RegionClients::new(&east)),
            (
                RegionName::new("us-west-2"),
                RegionClients::new(&moto.sdk_config("us-west-2")),
            ),
        ]),
        global: GlobalClients {
            globalaccelerator: mysfits::entry::global_accelerator_client(&east),
            route53: aws_sdk_route53::Client::new(&east),
            globalaccelerator_endpoint: Some(moto.endpoint()),
            route53_endpoint: Some(moto.endpoint()),
        },
        events: Events::discard(),
        auto_failover_stacks: false,
    };
    let verification = verify(&teardown, &BTreeMap::new()).await;
    let found: Vec<String> = verification
        .remaining
        .iter()
        .filter(|found| found.kind == "log_group" && found.region == "us-west-2")
        .map(|found| found.id.clone())
        .collect();
    assert_eq!(found, expected, "{:?}", verification.remaining);
}
