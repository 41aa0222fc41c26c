//! `mysfits status` through the real binary against moto: a region that does not answer is shown
//! as such (with what was skipped) instead of failing the command, Global Accelerator, which
//! moto lacks, is reported as unavailable at that endpoint, and three regions are three columns
//! with replication latency read for every pair. The deployed case is checked in failover.rs's
//! end-to-end test.

use testbed::moto::Moto;

use crate::util::Mysfits;

fn status(moto: &Moto, config: &str, args: &[&str]) -> crate::util::Run {
    let mysfits = Mysfits::new();
    let path = mysfits.file("mysfits.yaml", config);
    let mut full = vec!["--config", path.to_str().unwrap()];
    full.extend_from_slice(args);
    mysfits.envs(moto.client_env()).run(&full)
}

#[test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
fn a_silent_region_is_shown_not_answering_and_every_skipped_call_is_listed() {
    let moto = Moto::start();
    let dead = testbed::dead_endpoint();
    let config = format!(
        "app: quiet\nregion: us-east-1\nsecondary_region: eu-west-1\nendpoint_url: {}\n\
         regions:\n  eu-west-1:\n    endpoint_url: {dead}\n",
        moto.endpoint()
    );
    let run = status(&moto, &config, &["--output", "json", "status"]);
    run.assert_success();
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let primary = &report["regions"]["us-east-1"];
    assert_eq!(primary["region"], "us-east-1");
    assert!(primary["unreachable"].is_null(), "{primary:#}");
    assert!(
        primary["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|stack| stack["status"].is_null()),
        "nothing deployed: {primary:#}"
    );
    let secondary = &report["regions"]["eu-west-1"];
    assert_eq!(secondary["region"], "eu-west-1");
    assert!(secondary["unreachable"].is_string(), "{secondary:#}");
    let skipped: Vec<&str> = secondary["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    for call in [
        "DescribeStacks quiet-app",
        "DescribeServices",
        "DescribeTable",
    ] {
        assert!(
            skipped.iter().any(|line| line.starts_with(call)
                && line.ends_with("in eu-west-1 (region refused the connection)")),
            "{call}: {skipped:?}"
        );
    }

    let text = status(&moto, &config, &["status"]);
    text.assert_success();
    let stdout = text.stdout();
    let header = stdout.lines().next().unwrap();
    assert!(
        header.contains("us-east-1 (primary)") && header.contains("eu-west-1 (secondary)"),
        "{stdout}"
    );
    assert!(stdout.contains("NOT ANSWERING"), "{stdout}");
    assert!(
        stdout.contains("skipped: DescribeTable in eu-west-1"),
        "{stdout}"
    );
}

#[test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
fn global_accelerator_on_an_emulator_is_reported_unavailable_at_that_endpoint() {
    let moto = Moto::start();
    let config = format!(
        "app: quiet\nregion: us-east-1\nsecondary_region: us-west-2\nendpoint_url: {}\n",
        moto.endpoint()
    );
    let run = status(&moto, &config, &["--output", "json", "status"]);
    run.assert_success();
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["entry_point_mode"], "global-accelerator");
    assert_eq!(report["entry_point"]["state"], "unavailable", "{report:#}");
    assert_eq!(report["entry_point"]["endpoint"], moto.endpoint());

    let text = status(&moto, &config, &["status"]);
    assert!(
        text.stdout()
            .contains("entry point: global-accelerator: unavailable at this endpoint"),
        "{}",
        text.stdout()
    );
}

/// Puts one ReplicationLatency datum in `source` for writes received by `receiving`, as DynamoDB
/// publishes it (in the sending region, dimensioned by table and receiving region).
async fn put_replication_latency(moto: &Moto, source: &str, receiving: &str, milliseconds: f64) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    aws_sdk_cloudwatch::Client::new(&moto.sdk_config(source))
        .put_metric_data()
        .namespace("AWS/DynamoDB")
        .metric_data(
            MetricDatum::builder()
                .metric_name("ReplicationLatency")
                .dimensions(dimension("TableName", "trio-mysfits"))
                .dimensions(dimension("ReceivingRegion", receiving))
                .value(milliseconds)
                .unit(StandardUnit::Milliseconds)
                .timestamp(
                    (std::time::SystemTime::now() - std::time::Duration::from_secs(120)).into(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn three_regions_are_three_columns_with_replication_for_every_pair() {
    let moto = Moto::start();
    put_replication_latency(&moto, "us-east-1", "us-west-2", 120.0).await;
    put_replication_latency(&moto, "us-east-1", "eu-west-1", 340.0).await;
    put_replication_latency(&moto, "eu-west-1", "us-east-1", 75.0).await;
    let config = format!(
        "app: trio\nendpoint_url: {}\nregions:\n  - us-east-1\n  - us-west-2\n  - eu-west-1\n",
        moto.endpoint()
    );

    let run = status(&moto, &config, &["--output", "json", "status"]);
    run.assert_success();
    let stdout = run.stdout();
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let regions = report["regions"].as_object().unwrap();
    assert_eq!(regions.len(), 3, "{report:#}");
    let order: Vec<usize> = ["us-east-1", "us-west-2", "eu-west-1"]
        .iter()
        .map(|region| stdout.find(&format!("\"{region}\": {{")).unwrap())
        .collect();
    assert!(
        order[0] < order[1] && order[1] < order[2],
        "home first: {stdout}"
    );
    let replication = |source: &str| -> Vec<(String, serde_json::Value)> {
        report["regions"][source]["replication"]
            .as_array()
            .unwrap()
            .iter()
            .map(|fact| {
                (
                    fact["receiving_region"].as_str().unwrap().to_string(),
                    fact["latest_ms"].clone(),
                )
            })
            .collect()
    };
    let pair = |receiving: &str, latest: serde_json::Value| (receiving.to_string(), latest);
    assert_eq!(
        replication("us-east-1"),
        [
            pair("us-west-2", 120.0.into()),
            pair("eu-west-1", 340.0.into())
        ]
    );
    assert_eq!(
        replication("us-west-2"),
        [
            pair("us-east-1", serde_json::Value::Null),
            pair("eu-west-1", serde_json::Value::Null)
        ]
    );
    assert_eq!(
        replication("eu-west-1"),
        [
            pair("us-east-1", 75.0.into()),
            pair("us-west-2", serde_json::Value::Null)
        ]
    );
    assert_eq!(report["regions"]["us-east-1"]["home"], true);
    assert_eq!(report["regions"]["eu-west-1"]["home"], false);

    let text = status(&moto, &config, &["status"]);
    text.assert_success();
    let stdout = text.stdout();
    let header = stdout.lines().next().unwrap();
    let columns: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect();
    assert_eq!(
        columns,
        [
            "us-east-1 (primary)",
            "us-west-2 (secondary)",
            "eu-west-1 (secondary)"
        ],
        "{stdout}"
    );
    let row = |label: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row: {stdout}"))
            .split("  ")
            .map(str::trim)
            .filter(|cell| !cell.is_empty())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("  replication to us-east-1"),
        ["replication to us-east-1", "-", "no data", "75 ms (max 75)"],
        "{stdout}"
    );
    assert_eq!(
        row("  replication to eu-west-1"),
        [
            "replication to eu-west-1",
            "340 ms (max 340)",
            "no data",
            "-"
        ],
        "{stdout}"
    );
}
