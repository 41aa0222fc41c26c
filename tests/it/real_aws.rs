//! The one test that talks to real AWS: deploy two regions, reach the app through the entry point,
//! fail over, fail back, tear down, and check that nothing is left. Never run in CI: it is
//! `#[ignore]`d and also refuses to start unless `MYSFITS_AWS_E2E=1` and a named profile are set:
//!
//! ```text
//! MYSFITS_AWS_E2E=1 MYSFITS_AWS_E2E_PROFILE=sandbox \
//!   cargo nextest run --run-ignored only -E 'test(real_aws)'
//! ```
//!
//! Optional: MYSFITS_AWS_E2E_REGIONS=us-east-1,us-west-2 (default), MYSFITS_AWS_E2E_APP (default
//! a fresh `e2e-<time>` name, so a run never touches an existing app). Expected duration ~35-45
//! min, cost well under 2 USD (README "Real AWS end-to-end test").

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use serde_json::Value;

struct RealAws {
    profile: String,
    app: String,
    primary: String,
    secondary: String,
}

impl RealAws {
    /// The settings, or why the test does not run.
    fn from_env() -> Result<RealAws, String> {
        if std::env::var("MYSFITS_AWS_E2E").as_deref() != Ok("1") {
            return Err("MYSFITS_AWS_E2E=1 is not set".into());
        }
        let profile = std::env::var("MYSFITS_AWS_E2E_PROFILE")
            .ok()
            .filter(|profile| !profile.is_empty())
            .ok_or("MYSFITS_AWS_E2E_PROFILE must name the AWS profile of a sandbox account")?;
        let regions = std::env::var("MYSFITS_AWS_E2E_REGIONS")
            .unwrap_or_else(|_| "us-east-1,us-west-2".into());
        let (primary, secondary) = regions
            .split_once(',')
            .ok_or("MYSFITS_AWS_E2E_REGIONS must be PRIMARY,SECONDARY")?;
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|error| error.to_string())?
            .as_secs();
        let app = std::env::var("MYSFITS_AWS_E2E_APP")
            .unwrap_or_else(|_| format!("e2e-{}", seconds % 100_000_000));
        Ok(RealAws {
            profile,
            app,
            primary: primary.trim().into(),
            secondary: secondary.trim().into(),
        })
    }

    /// Runs the real binary against the profile's account; no endpoint override may leak in.
    fn mysfits(&self, args: &[&str]) -> (i32, Value, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mysfits"));
        for (key, _) in std::env::vars() {
            if key.starts_with("MYSFITS_") || key.starts_with("AWS_ENDPOINT_URL") {
                command.env_remove(key);
            }
        }
        let output = command
            .env("NO_COLOR", "1")
            .args([
                "--profile",
                &self.profile,
                "--app",
                &self.app,
                "--region",
                &self.primary,
                "--secondary-region",
                &self.secondary,
                "--output",
                "json",
            ])
            .args(args)
            .output()
            .expect("the mysfits binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        eprintln!(
            "mysfits {args:?}: exit {:?}\n{stderr}",
            output.status.code()
        );
        let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        (output.status.code().unwrap_or(-1), json, stdout)
    }
}

/// GET on a NEW connection each time (entry point moves affect new connections only); the region
/// that answered, from the x-mysfits-region header.
async fn answering_region(client: &reqwest::Client, url: &str) -> Option<String> {
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response
        .headers()
        .get("x-mysfits-region")?
        .to_str()
        .ok()
        .map(str::to_string)
}

async fn wait_until_served_by(client: &reqwest::Client, url: &str, region: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        if answering_region(client, url).await.as_deref() == Some(region) {
            eprintln!("{url} served by {region} after {:?}", start.elapsed());
            return;
        }
        assert!(
            start.elapsed() < limit,
            "{url} was not served by {region} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// What the account still holds of the app, asked directly (not through mysfits' own checks).
async fn leftovers(settings: &RealAws) -> Vec<String> {
    let mut left = Vec::new();
    for region in [&settings.primary, &settings.secondary] {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .profile_name(&settings.profile)
            .region(aws_config::Region::new(region.clone()))
            .load()
            .await;
        let stacks = aws_sdk_cloudformation::Client::new(&config)
            .list_stacks()
            .send()
            .await
            .expect("ListStacks answers");
        for stack in stacks.stack_summaries() {
            let deleted =
                stack.stack_status().map(|status| status.as_str()) == Some("DELETE_COMPLETE");
            if !deleted
                && stack
                    .stack_name()
                    .is_some_and(|name| name.starts_with(&settings.app))
            {
                left.push(format!("{region}: stack {:?}", stack.stack_name()));
            }
        }
        let tables = aws_sdk_dynamodb::Client::new(&config)
            .list_tables()
            .send()
            .await
            .expect("ListTables answers");
        for table in tables.table_names() {
            if table.starts_with(&settings.app) {
                left.push(format!("{region}: table {table}"));
            }
        }
        let repositories = aws_sdk_ecr::Client::new(&config)
            .describe_repositories()
            .send()
            .await
            .expect("DescribeRepositories answers");
        for repository in repositories.repositories() {
            if repository
                .repository_name()
                .is_some_and(|name| name.starts_with(&settings.app))
            {
                left.push(format!(
                    "{region}: repository {:?}",
                    repository.repository_name()
                ));
            }
        }
        let vpcs = aws_sdk_ec2::Client::new(&config)
            .describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:mysfits:app")
                    .values(&settings.app)
                    .build(),
            )
            .send()
            .await
            .expect("DescribeVpcs answers");
        for vpc in vpcs.vpcs() {
            left.push(format!("{region}: vpc {:?}", vpc.vpc_id()));
        }
    }
    let control = aws_config::defaults(BehaviorVersion::latest())
        .profile_name(&settings.profile)
        .region(aws_config::Region::new("us-west-2"))
        .load()
        .await;
    let accelerators = aws_sdk_globalaccelerator::Client::new(&control)
        .list_accelerators()
        .send()
        .await
        .expect("ListAccelerators answers");
    for accelerator in accelerators.accelerators() {
        if accelerator
            .name()
            .is_some_and(|name| name.starts_with(&settings.app))
        {
            left.push(format!("accelerator {:?}", accelerator.accelerator_arn()));
        }
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "real AWS: costs money; run with MYSFITS_AWS_E2E=1 MYSFITS_AWS_E2E_PROFILE=NAME"]
async fn real_aws_deploy_failover_failback_teardown_leaves_nothing() {
    let settings = match RealAws::from_env() {
        Ok(settings) => settings,
        Err(why) => panic!("real-AWS test not configured: {why}"),
    };
    let (primary, secondary) = (settings.primary.clone(), settings.secondary.clone());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");

    let (code, report, stdout) = settings.mysfits(&["deploy"]);
    assert_eq!(code, 0, "deploy: {stdout}");
    assert!(report.is_object(), "deploy --output json: {stdout}");

    let (code, status, stdout) = settings.mysfits(&["status"]);
    assert_eq!(code, 0, "status: {stdout}");
    assert_eq!(status["entry_point"]["state"], "present", "{status:#}");
    let address = status["entry_point"]["address"]
        .as_str()
        .expect("the entry point has an address")
        .to_string();
    let catalogue = format!("http://{address}/mysfits");
    // A new accelerator's DNS name and routing take minutes to work.
    wait_until_served_by(&client, &catalogue, &primary, Duration::from_secs(15 * 60)).await;
    let mysfits: Value = client
        .get(&catalogue)
        .send()
        .await
        .expect("catalogue answers")
        .json()
        .await
        .expect("catalogue is JSON");
    assert!(
        mysfits["mysfits"]
            .as_array()
            .is_some_and(|all| all.len() >= 12),
        "seeded catalogue: {mysfits:#}"
    );

    let (code, report, stdout) = settings.mysfits(&["failover", "--to", &secondary]);
    assert_eq!(code, 0, "failover: {stdout}");
    assert_eq!(report["outcome"], "completed", "{report:#}");
    wait_until_served_by(&client, &catalogue, &secondary, Duration::from_secs(5 * 60)).await;

    // A deploy after the failover must keep the serving region's capacity.
    let (code, _, stdout) = settings.mysfits(&["deploy"]);
    assert_eq!(code, 0, "deploy after failover: {stdout}");
    wait_until_served_by(&client, &catalogue, &secondary, Duration::from_secs(60)).await;

    let (code, report, stdout) = settings.mysfits(&["failover"]);
    assert_eq!(code, 0, "failback: {stdout}");
    assert_eq!(report["outcome"], "completed", "{report:#}");
    wait_until_served_by(&client, &catalogue, &primary, Duration::from_secs(5 * 60)).await;

    // Teardown: the source table keeps its 24 h lock after adding the replica, so a same-day
    // teardown may have to wait; mysfits says so. Its own verification must pass.
    let (code, report, stdout) = settings.mysfits(&["teardown", "--yes"]);
    let left = leftovers(&settings).await;
    let source_locked = stdout.contains("24 hours");
    if code == 0 {
        assert!(left.is_empty(), "left after teardown: {left:#?}");
    } else {
        // The one documented exception: DynamoDB keeps the replica's source table for 24 h.
        assert!(source_locked, "teardown failed: {stdout}\n{report:#}");
        let table = format!("{primary}: table {}", settings.app);
        assert!(
            left.iter().all(|what| what.starts_with(&table)),
            "left after teardown besides the 24 h table: {left:#?}"
        );
        eprintln!("table kept by DynamoDB's 24 h rule: run `mysfits teardown` again tomorrow");
    }
}

/// The guard itself: without the switch the test refuses to run and says how to enable it.
#[test]
fn real_aws_test_needs_the_switch_and_a_named_profile() {
    if std::env::var("MYSFITS_AWS_E2E").is_ok() {
        return;
    }
    let why = RealAws::from_env().err().expect("not configured here");
    assert_eq!(why, "MYSFITS_AWS_E2E=1 is not set");
}
