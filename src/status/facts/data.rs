//! The app's data and alarms in one region: the table and its replicas, how long writes made here
//! take to reach each other region, and the app's CloudWatch alarms.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::operation::get_metric_statistics::GetMetricStatisticsError;
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_dynamodb::types::TableDescription;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use super::{AlarmFact, Lookup, Recorder, ReplicaFact, ReplicationFact, TableFact};
use crate::aws::RegionClients;

/// How far back replication latency is looked for: the latest minute with data counts.
const REPLICATION_WINDOW: Duration = Duration::from_secs(10 * 60);

pub(super) async fn read_table(clients: &RegionClients, table: &str, recorder: &mut Recorder) {
    if !recorder.may_call("DescribeTable") {
        return;
    }
    match clients
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
    {
        Ok(described) => {
            recorder.facts.table = Some(table_fact(table, described.table()));
        }
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|service| service.is_resource_not_found_exception()) =>
        {
            recorder.facts.table = Some(TableFact {
                name: table.to_string(),
                status: "NOT_FOUND".into(),
                replicas: Vec::new(),
            });
        }
        Err(error) => recorder.failed("DescribeTable", &error),
    }
}

/// The write-region control item in this region's replica (a consistent read there). A missing
/// table is said by the table's own row, not again here.
pub(super) async fn read_write_region(
    clients: &RegionClients,
    table: &str,
    recorder: &mut Recorder,
) {
    if !recorder.may_call("GetItem (write region)") {
        return;
    }
    let result = clients
        .dynamodb
        .get_item()
        .table_name(table)
        .set_key(Some(mysfits_catalogue::write_region::Control::key()))
        .consistent_read(true)
        .send()
        .await;
    match result {
        Ok(output) => {
            recorder.facts.write_region = output
                .item()
                .and_then(|item| mysfits_catalogue::write_region::Control::from_item(item).ok())
                .map(|control| crate::writes::ControlSummary::from(&control));
        }
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|service| service.is_resource_not_found_exception()) => {}
        Err(error) => recorder.failed("GetItem (write region)", &error),
    }
}

fn table_fact(name: &str, table: Option<&TableDescription>) -> TableFact {
    TableFact {
        name: name.to_string(),
        status: table
            .and_then(|table| table.table_status())
            .map(|status| status.as_str().to_string())
            .unwrap_or_else(|| "UNKNOWN".into()),
        replicas: table
            .map(|table| table.replicas())
            .unwrap_or_default()
            .iter()
            .map(|replica| ReplicaFact {
                region: replica.region_name().unwrap_or_default().to_string(),
                status: replica
                    .replica_status()
                    .map(|status| status.as_str().to_string())
                    .unwrap_or_else(|| "UNKNOWN".into()),
            })
            .collect(),
    }
}

/// DynamoDB publishes `ReplicationLatency` in the sending region, dimensioned by `TableName` and
/// `ReceivingRegion`: one read per other region of the app, in the app's order.
pub(super) async fn read_replication_latencies(
    clients: &RegionClients,
    lookup: &Lookup<'_>,
    recorder: &mut Recorder,
) {
    for receiving in lookup.other_regions {
        let what = format!("GetMetricStatistics ReplicationLatency to {receiving}");
        if !recorder.may_call(&what) {
            continue;
        }
        match replication_to(clients, lookup.table, receiving).await {
            Ok(fact) => recorder.facts.replication.push(fact),
            Err(error) => recorder.failed(&what, &error),
        }
    }
}

async fn replication_to(
    clients: &RegionClients,
    table: &str,
    receiving: &str,
) -> Result<ReplicationFact, SdkError<GetMetricStatisticsError, HttpResponse>> {
    let now = SystemTime::now();
    let start = now
        .checked_sub(REPLICATION_WINDOW)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    let statistics = clients
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/DynamoDB")
        .metric_name("ReplicationLatency")
        .dimensions(dimension("TableName", table))
        .dimensions(dimension("ReceivingRegion", receiving))
        .start_time(start.into())
        .end_time(now.into())
        .period(60)
        .statistics(Statistic::Average)
        .statistics(Statistic::Maximum)
        .send()
        .await?;
    // Datapoints come in no particular order.
    let latest = statistics
        .datapoints()
        .iter()
        .max_by_key(|point| point.timestamp().map(|time| time.as_nanos()));
    Ok(ReplicationFact {
        receiving_region: receiving.to_string(),
        latest_ms: latest.and_then(|point| point.average()),
        maximum_ms: latest.and_then(|point| point.maximum()),
    })
}

pub(super) async fn read_alarms(clients: &RegionClients, app: &str, recorder: &mut Recorder) {
    if !recorder.may_call("DescribeAlarms") {
        return;
    }
    match clients
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(app)
        .send()
        .await
    {
        Ok(described) => {
            recorder.facts.alarms = Some(
                described
                    .metric_alarms()
                    .iter()
                    .map(|alarm| AlarmFact {
                        name: alarm.alarm_name().unwrap_or_default().to_string(),
                        state: alarm
                            .state_value()
                            .map(|state| state.as_str().to_string())
                            .unwrap_or_else(|| "UNKNOWN".into()),
                    })
                    .collect(),
            );
        }
        Err(error) => recorder.failed("DescribeAlarms", &error),
    }
}
