//! `mysfits status` through the real binary against moto: a region that does not answer is shown
//! as such (with what was skipped) instead of failing the command, and Global Accelerator, which
//! moto lacks, is reported as unavailable at that endpoint. The deployed case is checked in
//! failover.rs's end-to-end test.

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
    let primary = &report["regions"][0];
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
    let secondary = &report["regions"][1];
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
                && line.ends_with("in eu-west-1 (region did not answer within 8 s)")),
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
