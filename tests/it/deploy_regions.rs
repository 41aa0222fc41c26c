//! Three regions on the deploy side: the table gets a replica in each region but home, one
//! UpdateTable call per replica (DynamoDB takes one replica change per call, global tables
//! version 2019.11.21), and the second only once the table is ACTIVE again after the first
//! (UpdateTable on a table that is still UPDATING is refused with ResourceInUseException).
//! Modeled DynamoDB answers: moto accepts ReplicaUpdates and does nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::describe_continuous_backups::DescribeContinuousBackupsOutput;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use aws_sdk_dynamodb::operation::list_tags_of_resource::ListTagsOfResourceOutput;
use aws_sdk_dynamodb::operation::update_continuous_backups::UpdateContinuousBackupsOutput;
use aws_sdk_dynamodb::operation::update_table::UpdateTableOutput;
use aws_sdk_dynamodb::types::{
    ReplicaDescription, ReplicaStatus, StreamSpecification, StreamViewType, TableDescription,
    TableStatus,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use mysfits::cli::GlobalArgs;
use mysfits::config::{Config, ConfigFile};
use mysfits::plan::{DeployOptions, StepId, deploy_plan};
use mysfits::progress::Events;
use mysfits::table::{ReplicaClients, ensure_replica};

const TABLE: &str = "demo-mysfits";
const HOME: &str = "us-east-1";
const REGIONS: [&str; 3] = [HOME, "us-west-2", "eu-west-1"];

/// The home table with the given replicas, streams on with both images.
fn table(status: TableStatus, replicas: &[(&str, ReplicaStatus)]) -> TableDescription {
    let mut description = TableDescription::builder()
        .table_name(TABLE)
        .table_arn(format!(
            "arn:aws:dynamodb:{HOME}:123456789012:table/{TABLE}"
        ))
        .table_status(status)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        );
    for (region, status) in replicas {
        description = description.replicas(
            ReplicaDescription::builder()
                .region_name(*region)
                .replica_status(status.clone())
                .build(),
        );
    }
    description.build()
}

fn described(status: TableStatus, replicas: &[(&str, ReplicaStatus)]) -> DescribeTableOutput {
    DescribeTableOutput::builder()
        .table(table(status, replicas))
        .build()
}

/// Every call the home region's table receives, in order.
type Calls = Arc<Mutex<Vec<String>>>;

/// A replica region's table, ready for its per-replica settings (PITR; no tags to copy).
fn replica_region(region: &str) -> Client {
    let arn = format!("arn:aws:dynamodb:{region}:123456789012:table/{TABLE}");
    let describe = mock!(Client::describe_table).then_output(move || {
        DescribeTableOutput::builder()
            .table(
                TableDescription::builder()
                    .table_name(TABLE)
                    .table_arn(arn.clone())
                    .table_status(TableStatus::Active)
                    .build(),
            )
            .build()
    });
    let pitr = mock!(Client::update_continuous_backups)
        .then_output(|| UpdateContinuousBackupsOutput::builder().build());
    let no_tags = mock!(Client::list_tags_of_resource)
        .then_output(|| ListTagsOfResourceOutput::builder().build());
    // A new replica: point-in-time recovery not on yet.
    let backups = mock!(Client::describe_continuous_backups)
        .then_output(|| DescribeContinuousBackupsOutput::builder().build());
    mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&describe, &pitr, &no_tags, &backups]
    )
}

/// The home table through both replica additions. DescribeTable answers in this order:
/// 1. before us-west-2: ACTIVE, no replica
/// 2. waiting for us-west-2: its replica ACTIVE, the table still UPDATING
/// 3. before eu-west-1: still UPDATING (so the next replica must wait)
/// 4. the waiter's first look: still UPDATING
/// 5. the waiter's second look: ACTIVE
/// 6. waiting for eu-west-1: both replicas ACTIVE
fn home_table(calls: &Calls) -> (Rule, Rule, Rule) {
    use ReplicaStatus::{Active, Creating};
    let west_active = || described(TableStatus::Updating, &[("us-west-2", Active)]);
    let logged = calls.clone();
    let describe = mock!(Client::describe_table)
        .match_requests(move |_| {
            logged.lock().unwrap().push("DescribeTable".into());
            true
        })
        .sequence()
        .output(|| described(TableStatus::Active, &[]))
        .output(west_active)
        .output(west_active)
        .output(west_active)
        .output(|| described(TableStatus::Active, &[("us-west-2", Active)]))
        .output(|| {
            described(
                TableStatus::Active,
                &[("us-west-2", Active), ("eu-west-1", Active)],
            )
        })
        .build();
    let logged = calls.clone();
    let update = mock!(Client::update_table)
        .match_requests(move |request| {
            let creates: Vec<&str> = request
                .replica_updates()
                .iter()
                .filter_map(|update| update.create())
                .map(|create| create.region_name())
                .collect();
            logged
                .lock()
                .unwrap()
                .push(format!("UpdateTable {}", creates.join(" + ")));
            true
        })
        .sequence()
        .output(|| {
            UpdateTableOutput::builder()
                .table_description(table(TableStatus::Updating, &[("us-west-2", Creating)]))
                .build()
        })
        .output(|| {
            UpdateTableOutput::builder()
                .table_description(table(
                    TableStatus::Updating,
                    &[("us-west-2", Active), ("eu-west-1", Creating)],
                ))
                .build()
        })
        .build();
    let tags = mock!(Client::list_tags_of_resource)
        .then_output(|| ListTagsOfResourceOutput::builder().build());
    (describe, update, tags)
}

#[tokio::test(start_paused = true)]
async fn three_regions_get_two_replicas_one_update_table_call_each_the_second_after_active() {
    let calls: Calls = Arc::default();
    let (describe, update, tags) = home_table(&calls);
    let home = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&describe, &update, &tags]
    );
    // In the order the plan runs them: the configured order, one after the other.
    for region in &REGIONS[1..] {
        let replica = replica_region(region);
        let report = ensure_replica(
            &ReplicaClients {
                primary: &home,
                primary_region: HOME,
                replica: &replica,
                replica_region: region,
                endpoint_override: false,
            },
            TABLE,
            &Events::discard(),
            &format!("table replica {region}"),
            Duration::from_secs(30 * 60),
        )
        .await
        .unwrap_or_else(|error| panic!("replica in {region}: {error}"));
        assert_eq!((report.status.as_str(), report.created), ("ACTIVE", true));
        assert_eq!(report.region, *region);
    }
    assert_eq!(update.num_calls(), 2, "one UpdateTable per replica");
    assert_eq!(
        *calls.lock().unwrap(),
        [
            "DescribeTable",
            "UpdateTable us-west-2",
            "DescribeTable",
            "DescribeTable",
            "DescribeTable",
            "DescribeTable",
            "UpdateTable eu-west-1",
            "DescribeTable",
        ],
        "each UpdateTable adds one replica; eu-west-1's waits until DescribeTable says ACTIVE"
    );
}

fn config(regions: &[&str]) -> Config {
    let global = GlobalArgs {
        regions: regions.iter().map(|region| region.to_string()).collect(),
        app: Some("demo".into()),
        ..GlobalArgs::default()
    };
    Config::resolve(&global, ConfigFile::default()).unwrap()
}

/// `mysfits plan` for three regions: every region's stacks, both replicas in order (after the
/// data stack, not the home app stack), readable.
#[test]
fn the_three_region_plan_reads_region_by_region() {
    let plan = deploy_plan(&config(&REGIONS), DeployOptions { seed: true });
    plan.validate().unwrap();
    let text = plan.to_string();
    let expected = " 1. build service images
 2. data stack us-east-1
 3. registry stack us-east-1
 4. push images us-east-1  (after: build service images, registry stack us-east-1)
 5. app stack us-east-1  (after: push images us-east-1)
 6. registry stack us-west-2
 7. push images us-west-2  (after: build service images, registry stack us-west-2)
 8. app stack us-west-2  (after: push images us-west-2)
 9. registry stack eu-west-1
10. push images eu-west-1  (after: build service images, registry stack eu-west-1)
11. app stack eu-west-1  (after: push images eu-west-1)
12. table replica us-west-2  (after: data stack us-east-1)
13. table replica eu-west-1  (after: table replica us-west-2)
14. seed catalogue us-east-1  (after: data stack us-east-1)
15. accelerator and listener  (after: registry stack us-east-1)
16. global entry point (global-accelerator)  (after: app stack us-east-1, app stack us-west-2, app stack eu-west-1, accelerator and listener)
17. dashboard us-east-1  (after: app stack us-east-1, app stack us-west-2, app stack eu-west-1, accelerator and listener)
";
    assert_eq!(text, expected);
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        json["steps"][12]["id"],
        serde_json::json!({"action": "replica", "region": "eu-west-1"})
    );
    assert!(
        plan.steps
            .iter()
            .all(|step| !matches!(step.id, StepId::Replica { region } if region == HOME)),
        "no replica in home"
    );
}
