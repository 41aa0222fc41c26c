//! Traffic splits (`entry_point.traffic: active-active`, `mysfits traffic set`): Global
//! Accelerator dial writes checked against modeled answers (which dials, in what order, the
//! DEPLOYED waits between, errors), Route 53 weighted records (the one change batch that replaces
//! failover records, the weights UPSERTed, the INSYNC wait), and the real binary refusing bad
//! input before any AWS call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_globalaccelerator::operation::describe_accelerator::DescribeAcceleratorOutput;
use aws_sdk_globalaccelerator::operation::list_accelerators::ListAcceleratorsOutput;
use aws_sdk_globalaccelerator::operation::list_endpoint_groups::ListEndpointGroupsOutput;
use aws_sdk_globalaccelerator::operation::list_listeners::ListListenersOutput;
use aws_sdk_globalaccelerator::operation::update_endpoint_group::{
    UpdateEndpointGroupError, UpdateEndpointGroupOutput,
};
use aws_sdk_globalaccelerator::types::error::InvalidArgumentException;
use aws_sdk_globalaccelerator::types::{
    Accelerator, AcceleratorStatus, EndpointDescription, EndpointGroup, HealthState, Listener,
    PortRange, Protocol,
};
use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
use aws_sdk_route53::operation::get_change::GetChangeOutput;
use aws_sdk_route53::operation::get_health_check::GetHealthCheckOutput;
use aws_sdk_route53::operation::get_health_check_status::GetHealthCheckStatusOutput;
use aws_sdk_route53::operation::get_hosted_zone::GetHostedZoneOutput;
use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
use aws_sdk_route53::types::{
    AliasTarget, ChangeAction, ChangeInfo, ChangeStatus, HealthCheck, HealthCheckConfig,
    HealthCheckObservation, HealthCheckType, HostedZone, ResourceRecordSet,
    ResourceRecordSetFailover, RrType, StatusReport,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use mysfits::app::RegionName;
use mysfits::config::TrafficPolicy;
use mysfits::entry::{
    Control, EntryPoint, RegionalLoadBalancer, ShiftOutcome, TrafficSplit, describe, ensure,
    set_split, shift,
};
use mysfits::progress::Events;

use crate::fixtures::accelerator;
use crate::util::Mysfits;

const ACCELERATOR_ARN: &str = "arn:aws:globalaccelerator::123456789012:accelerator/demo-1";
const LISTENER_ARN: &str = "arn:aws:globalaccelerator::123456789012:accelerator/demo-1/listener/l1";
const LIMIT: Duration = Duration::from_secs(10);

fn alb(region: &str) -> String {
    format!("arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/app/demo/{region}")
}

fn split(pairs: &[(&str, u8)]) -> TrafficSplit {
    TrafficSplit::from_weights(
        pairs
            .iter()
            .map(|(region, weight)| (RegionName::new(region), *weight)),
    )
}

fn active_active(pairs: &[(&str, u8)]) -> TrafficPolicy {
    TrafficPolicy::ActiveActive {
        weights: pairs
            .iter()
            .map(|(region, weight)| (region.to_string(), *weight))
            .collect(),
    }
}

// ---- Global Accelerator ----

fn deployed_accelerator() -> Accelerator {
    Accelerator::builder()
        .accelerator_arn(ACCELERATOR_ARN)
        .name("demo")
        .enabled(true)
        .status(AcceleratorStatus::Deployed)
        .dns_name("a1234.awsglobalaccelerator.com")
        .build()
}

fn group(region: &str, dial: f32) -> EndpointGroup {
    EndpointGroup::builder()
        .endpoint_group_arn(format!("{LISTENER_ARN}/endpoint-group/{region}"))
        .endpoint_group_region(region)
        .traffic_dial_percentage(dial)
        .endpoint_descriptions(
            EndpointDescription::builder()
                .endpoint_id(alb(region))
                .weight(128)
                .client_ip_preservation_enabled(true)
                .health_state(HealthState::Healthy)
                .build(),
        )
        .build()
}

type Log = Arc<Mutex<Vec<String>>>;

/// A modeled accelerator with `existing` groups; every UpdateEndpointGroup and every
/// DescribeAccelerator (the DEPLOYED wait) is logged in the order it arrived. `refuse` makes
/// UpdateEndpointGroup answer InvalidArgumentException.
fn accelerator_client(existing: Vec<EndpointGroup>, log: &Log, refuse: bool) -> EntryPoint {
    let list = mock!(aws_sdk_globalaccelerator::Client::list_accelerators).then_output(|| {
        ListAcceleratorsOutput::builder()
            .accelerators(deployed_accelerator())
            .build()
    });
    let list_listeners =
        mock!(aws_sdk_globalaccelerator::Client::list_listeners).then_output(|| {
            ListListenersOutput::builder()
                .listeners(
                    Listener::builder()
                        .listener_arn(LISTENER_ARN)
                        .protocol(Protocol::Tcp)
                        .port_ranges(PortRange::builder().from_port(80).to_port(80).build())
                        .port_ranges(PortRange::builder().from_port(443).to_port(443).build())
                        .build(),
                )
                .build()
        });
    let list_groups =
        mock!(aws_sdk_globalaccelerator::Client::list_endpoint_groups).then_output(move || {
            ListEndpointGroupsOutput::builder()
                .set_endpoint_groups(Some(existing.clone()))
                .build()
        });
    let update = {
        let log = log.clone();
        let rule = mock!(aws_sdk_globalaccelerator::Client::update_endpoint_group).match_requests(
            move |request| {
                let arn = request.endpoint_group_arn().unwrap_or_default();
                let region = arn.rsplit('/').next().unwrap_or_default();
                let endpoints: Vec<String> = request
                    .endpoint_configurations()
                    .iter()
                    .map(|endpoint| {
                        format!(
                            "{}@{:?}",
                            endpoint.endpoint_id().unwrap_or_default(),
                            endpoint.weight()
                        )
                    })
                    .collect();
                log.lock().unwrap().push(format!(
                    "{region} -> {:?} [{}]",
                    request.traffic_dial_percentage(),
                    endpoints.join(",")
                ));
                true
            },
        );
        if refuse {
            rule.then_error(|| {
                UpdateEndpointGroupError::InvalidArgumentException(
                    InvalidArgumentException::builder()
                        .message("TrafficDialPercentage must be between 0 and 100")
                        .meta(
                            ErrorMetadata::builder()
                                .code("InvalidArgumentException")
                                .message("TrafficDialPercentage must be between 0 and 100")
                                .build(),
                        )
                        .build(),
                )
            })
        } else {
            rule.then_output(|| UpdateEndpointGroupOutput::builder().build())
        }
    };
    let describe_accelerator = {
        let log = log.clone();
        mock!(aws_sdk_globalaccelerator::Client::describe_accelerator).then_compute_output(
            move |_| {
                log.lock().unwrap().push("DEPLOYED".into());
                DescribeAcceleratorOutput::builder()
                    .accelerator(deployed_accelerator())
                    .build()
            },
        )
    };
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &list,
            &accelerator::tags("demo"),
            &list_listeners,
            &list_groups,
            &update,
            &describe_accelerator,
        ]
    );
    EntryPoint {
        app: "demo".into(),
        endpoint: None,
        control: Control::GlobalAccelerator(client),
        traffic: TrafficPolicy::ActivePassive,
    }
}

fn entry_of(pairs: &[(&str, f32)], log: &Log) -> EntryPoint {
    accelerator_client(
        pairs
            .iter()
            .map(|(region, dial)| group(region, *dial))
            .collect(),
        log,
        false,
    )
}

#[tokio::test]
async fn a_split_raises_dials_first_waits_then_lowers_and_keeps_each_groups_endpoint() {
    let log: Log = Arc::default();
    let entry = entry_of(
        &[
            ("us-east-1", 100.0),
            ("us-west-2", 0.0),
            ("eu-west-1", 30.0),
        ],
        &log,
    );
    let outcome = set_split(
        &entry,
        &split(&[("us-east-1", 50), ("us-west-2", 50), ("eu-west-1", 30)]),
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(
        log.lock().unwrap().clone(),
        [
            format!("us-west-2 -> Some(50.0) [{}@Some(128)]", alb("us-west-2")),
            "DEPLOYED".to_string(),
            format!("us-east-1 -> Some(50.0) [{}@Some(128)]", alb("us-east-1")),
            "DEPLOYED".to_string(),
        ],
        "the rising dial is deployed before the falling one is written; eu-west-1 (unchanged) is never written"
    );
    assert!(
        matches!(&outcome, ShiftOutcome::Shifted { actions, .. }
            if actions == &["us-west-2 dial 0% -> 50%", "us-east-1 dial 100% -> 50%"]),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn several_rising_dials_share_one_wait() {
    let log: Log = Arc::default();
    let entry = entry_of(
        &[("us-east-1", 100.0), ("us-west-2", 0.0), ("eu-west-1", 0.0)],
        &log,
    );
    set_split(
        &entry,
        &split(&[("us-west-2", 100), ("eu-west-1", 100)]),
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    let writes: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|line| line.split(" [").next().unwrap().to_string())
        .collect();
    assert_eq!(
        writes,
        [
            "eu-west-1 -> Some(100.0)",
            "us-west-2 -> Some(100.0)",
            "DEPLOYED"
        ],
        "both rising dials (in region name order), one wait; us-east-1 is not named: its dial stays"
    );
}

#[tokio::test]
async fn the_split_in_place_writes_nothing_and_a_refused_update_is_an_error_without_a_wait() {
    let log: Log = Arc::default();
    let entry = entry_of(&[("us-east-1", 50.0), ("us-west-2", 50.0)], &log);
    let outcome = set_split(
        &entry,
        &split(&[("us-east-1", 50), ("us-west-2", 50)]),
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(outcome, ShiftOutcome::AlreadyServing);
    assert!(log.lock().unwrap().is_empty());

    let log: Log = Arc::default();
    let entry = accelerator_client(
        vec![group("us-east-1", 100.0), group("us-west-2", 0.0)],
        &log,
        true,
    );
    let error = set_split(
        &entry,
        &split(&[("us-east-1", 50), ("us-west-2", 50)]),
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("UpdateEndpointGroup"), "{error}");
    assert!(error.contains("InvalidArgumentException"), "{error}");
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "one refused write, no wait and no falling dial after it"
    );

    let log: Log = Arc::default();
    let entry = entry_of(&[("us-east-1", 100.0), ("us-west-2", 0.0)], &log);
    let error = set_split(
        &entry,
        &split(&[("eu-west-1", 50)]),
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("no endpoint group in eu-west-1"), "{error}");
    assert!(log.lock().unwrap().is_empty(), "nothing written");
}

#[tokio::test]
async fn failover_from_an_even_split_raises_the_target_then_evacuates_the_other() {
    let log: Log = Arc::default();
    let entry = entry_of(&[("us-east-1", 50.0), ("us-west-2", 50.0)], &log);
    shift(
        &entry,
        "us-east-1",
        "us-west-2",
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    let writes: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|line| line.split(" [").next().unwrap().to_string())
        .collect();
    assert_eq!(
        writes,
        [
            "us-west-2 -> Some(100.0)",
            "DEPLOYED",
            "us-east-1 -> Some(0.0)",
            "DEPLOYED"
        ]
    );
}

/// Deploy of a new accelerator under `traffic: active-active`: each endpoint group is created
/// with its configured dial (70 and 30 here), not the active-passive 100 / 0.
#[tokio::test]
async fn a_new_accelerator_gets_its_groups_with_the_configured_dials() {
    use aws_sdk_globalaccelerator::Client;
    use aws_sdk_globalaccelerator::operation::create_accelerator::CreateAcceleratorOutput;
    use aws_sdk_globalaccelerator::operation::create_endpoint_group::CreateEndpointGroupOutput;
    use aws_sdk_globalaccelerator::operation::create_listener::CreateListenerOutput;
    let listener = || {
        Listener::builder()
            .listener_arn(LISTENER_ARN)
            .protocol(Protocol::Tcp)
            .port_ranges(PortRange::builder().from_port(80).to_port(80).build())
            .port_ranges(PortRange::builder().from_port(443).to_port(443).build())
            .build()
    };
    let list =
        mock!(Client::list_accelerators).then_output(|| ListAcceleratorsOutput::builder().build());
    let create = mock!(Client::create_accelerator).then_output(|| {
        CreateAcceleratorOutput::builder()
            .accelerator(deployed_accelerator())
            .build()
    });
    let list_listeners = mock!(Client::list_listeners)
        .sequence()
        .output(|| ListListenersOutput::builder().build())
        .output(move || ListListenersOutput::builder().listeners(listener()).build())
        .repeatedly()
        .build();
    let create_listener = mock!(Client::create_listener)
        .then_output(move || CreateListenerOutput::builder().listener(listener()).build());
    let list_groups = mock!(Client::list_endpoint_groups)
        .sequence()
        .output(|| ListEndpointGroupsOutput::builder().build())
        .output(|| {
            ListEndpointGroupsOutput::builder()
                .endpoint_groups(group("us-east-1", 70.0))
                .endpoint_groups(group("us-west-2", 30.0))
                .build()
        })
        .repeatedly()
        .build();
    let created: Log = Arc::default();
    let create_group = {
        let created = created.clone();
        mock!(Client::create_endpoint_group)
            .match_requests(move |request| {
                created.lock().unwrap().push(format!(
                    "{} {:?}",
                    request.endpoint_group_region().unwrap_or_default(),
                    request.traffic_dial_percentage()
                ));
                true
            })
            .then_output(|| CreateEndpointGroupOutput::builder().build())
    };
    let describe_accelerator = mock!(Client::describe_accelerator).then_output(|| {
        DescribeAcceleratorOutput::builder()
            .accelerator(deployed_accelerator())
            .build()
    });
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &list,
            &accelerator::tags("demo"),
            &create,
            &list_listeners,
            &create_listener,
            &list_groups,
            &create_group,
            &describe_accelerator,
        ]
    );
    let entry = EntryPoint {
        app: "demo".into(),
        endpoint: None,
        control: Control::GlobalAccelerator(client),
        traffic: active_active(&[("us-east-1", 70), ("us-west-2", 30)]),
    };
    let balancers: Vec<RegionalLoadBalancer> = ["us-east-1", "us-west-2"]
        .iter()
        .map(|region| RegionalLoadBalancer {
            region: region.to_string(),
            home: *region == "us-east-1",
            arn: alb(region),
            dns_name: format!("demo-{region}.{region}.elb.amazonaws.com"),
            canonical_hosted_zone_id: Some("Z35SXDOTRQ7X7K".into()),
        })
        .collect();
    let report = ensure(&entry, &balancers, &Events::discard(), "entry", LIMIT)
        .await
        .unwrap();
    assert_eq!(
        created.lock().unwrap().clone(),
        ["us-east-1 Some(70.0)", "us-west-2 Some(30.0)"]
    );
    assert_eq!(
        report.state.description().unwrap().split().text(),
        "us-east-1=70 us-west-2=30"
    );
}

#[test]
fn a_new_entry_point_starts_with_the_configured_split() {
    let balancers: Vec<RegionalLoadBalancer> = ["us-east-1", "us-west-2"]
        .iter()
        .map(|region| RegionalLoadBalancer {
            region: region.to_string(),
            home: *region == "us-east-1",
            arn: alb(region),
            dns_name: format!("demo-{region}.{region}.elb.amazonaws.com"),
            canonical_hosted_zone_id: Some("Z35SXDOTRQ7X7K".into()),
        })
        .collect();
    assert_eq!(
        TrafficSplit::configured(&TrafficPolicy::ActivePassive, &balancers).text(),
        "us-east-1=100 us-west-2=0"
    );
    assert_eq!(
        TrafficSplit::configured(
            &active_active(&[("us-east-1", 70), ("us-west-2", 30)]),
            &balancers
        )
        .text(),
        "us-east-1=70 us-west-2=30"
    );
}

// ---- Route 53 ----

const ZONE: &str = "Z0123456789ABCDEFGHIJ";
const DOMAIN: &str = "shop.example.com";

fn elb_name(region: &str) -> String {
    format!("demo-{region}.{region}.elb.amazonaws.com")
}

/// An alias record as ListResourceRecordSets returns it (trailing dots, `dualstack.`).
fn record(region: &str, routing: Result<ResourceRecordSetFailover, i64>) -> ResourceRecordSet {
    let builder = ResourceRecordSet::builder()
        .name(format!("{DOMAIN}."))
        .r#type(RrType::A)
        .set_identifier(format!("demo-{region}"));
    let builder = match routing {
        Ok(role) => builder.failover(role),
        Err(weight) => builder.weight(weight),
    };
    builder
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id("Z35SXDOTRQ7X7K")
                .dns_name(format!("dualstack.{}.", elb_name(region)))
                .evaluate_target_health(true)
                .build()
                .unwrap(),
        )
        .health_check_id(format!("hc-{region}"))
        .build()
        .unwrap()
}

fn listing(records: Vec<ResourceRecordSet>) -> ListResourceRecordSetsOutput {
    ListResourceRecordSetsOutput::builder()
        .set_resource_record_sets(Some(records))
        .is_truncated(false)
        .max_items(20)
        .build()
        .unwrap()
}

fn change_info(status: ChangeStatus) -> ChangeInfo {
    ChangeInfo::builder()
        .id("/change/C0123456789")
        .status(status)
        .submitted_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
        .build()
        .unwrap()
}

type Sent = Arc<Mutex<Vec<Vec<(ChangeAction, ResourceRecordSet)>>>>;

/// A modeled hosted zone whose ListResourceRecordSets answers `listings` in turn (the last one
/// again and again), whose health checks check the regions' load balancers, and whose changes
/// are PENDING once, then INSYNC. Every change batch is kept in `sent`.
fn route53_entry(
    listings: Vec<Vec<ResourceRecordSet>>,
    sent: &Sent,
    traffic: TrafficPolicy,
) -> (EntryPoint, aws_smithy_mocks::Rule) {
    let mut sequence = mock!(aws_sdk_route53::Client::list_resource_record_sets).sequence();
    let last = listings.last().cloned().unwrap_or_default();
    for records in listings {
        sequence = sequence.output(move || listing(records.clone()));
    }
    let list = sequence
        .output(move || listing(last.clone()))
        .repeatedly()
        .build();
    let zone = mock!(aws_sdk_route53::Client::get_hosted_zone).then_output(|| {
        GetHostedZoneOutput::builder()
            .hosted_zone(
                HostedZone::builder()
                    .id(format!("/hostedzone/{ZONE}"))
                    .name("example.com.")
                    .caller_reference("zone")
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let health_check =
        mock!(aws_sdk_route53::Client::get_health_check).then_compute_output(|request| {
            let id = request.health_check_id().unwrap_or_default().to_string();
            let region = id.trim_start_matches("hc-").to_string();
            GetHealthCheckOutput::builder()
                .health_check(
                    HealthCheck::builder()
                        .id(id)
                        .caller_reference("check")
                        .health_check_version(1)
                        .health_check_config(
                            HealthCheckConfig::builder()
                                .r#type(HealthCheckType::Http)
                                .fully_qualified_domain_name(elb_name(&region))
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let health_status = mock!(aws_sdk_route53::Client::get_health_check_status).then_output(|| {
        GetHealthCheckStatusOutput::builder()
            .health_check_observations(
                HealthCheckObservation::builder()
                    .status_report(
                        StatusReport::builder()
                            .status("Success: HTTP Status Code 200, OK")
                            .build(),
                    )
                    .build(),
            )
            .build()
            .unwrap()
    });
    let captured = sent.clone();
    let change = mock!(aws_sdk_route53::Client::change_resource_record_sets)
        .match_requests(move |request| {
            let batch = request.change_batch().unwrap();
            captured.lock().unwrap().push(
                batch
                    .changes()
                    .iter()
                    .map(|change| {
                        (
                            change.action().clone(),
                            change.resource_record_set().unwrap().clone(),
                        )
                    })
                    .collect(),
            );
            request.hosted_zone_id() == Some(ZONE)
        })
        .then_output(|| {
            ChangeResourceRecordSetsOutput::builder()
                .change_info(change_info(ChangeStatus::Pending))
                .build()
        });
    let get_change = mock!(aws_sdk_route53::Client::get_change)
        .sequence()
        .output(|| {
            GetChangeOutput::builder()
                .change_info(change_info(ChangeStatus::Pending))
                .build()
        })
        .output(|| {
            GetChangeOutput::builder()
                .change_info(change_info(ChangeStatus::Insync))
                .build()
        })
        .repeatedly()
        .build();
    let client = mock_client!(
        aws_sdk_route53,
        RuleMode::MatchAny,
        &[
            &list,
            &zone,
            &health_check,
            &health_status,
            &change,
            &get_change
        ]
    );
    let entry = EntryPoint {
        app: "demo".into(),
        endpoint: None,
        control: Control::Route53 {
            client,
            hosted_zone_id: ZONE.into(),
            domain: DOMAIN.into(),
        },
        traffic,
    };
    (entry, get_change)
}

fn balancers() -> Vec<RegionalLoadBalancer> {
    ["us-east-1", "us-west-2"]
        .iter()
        .map(|region| RegionalLoadBalancer {
            region: region.to_string(),
            home: *region == "us-east-1",
            arn: alb(region),
            dns_name: elb_name(region),
            canonical_hosted_zone_id: Some("Z35SXDOTRQ7X7K".into()),
        })
        .collect()
}

fn failover_pair() -> Vec<ResourceRecordSet> {
    vec![
        record("us-east-1", Ok(ResourceRecordSetFailover::Primary)),
        record("us-west-2", Ok(ResourceRecordSetFailover::Secondary)),
    ]
}

#[tokio::test(start_paused = true)]
async fn going_active_active_replaces_the_failover_records_in_one_batch_of_deletes_then_creates() {
    let sent: Sent = Arc::default();
    let weighted = vec![record("us-east-1", Err(60)), record("us-west-2", Err(40))];
    let (entry, get_change) = route53_entry(
        vec![failover_pair(), weighted],
        &sent,
        active_active(&[("us-east-1", 60), ("us-west-2", 40)]),
    );
    let report = ensure(&entry, &balancers(), &Events::discard(), "entry", LIMIT)
        .await
        .unwrap();
    let batches = sent.lock().unwrap().clone();
    assert_eq!(
        batches.len(),
        1,
        "ONE change batch: Route 53 applies it atomically"
    );
    let batch = &batches[0];
    let actions: Vec<&str> = batch.iter().map(|(action, _)| action.as_str()).collect();
    assert_eq!(
        actions,
        ["DELETE", "DELETE", "CREATE", "CREATE"],
        "Route 53 refuses failover and weighted records side by side: the old go first"
    );
    // Each DELETE carries the record exactly as listed (a DELETE must match every value).
    assert_eq!(batch[0].1, failover_pair()[0]);
    assert_eq!(batch[1].1, failover_pair()[1]);
    for ((_, created), (region, weight)) in batch[2..]
        .iter()
        .zip([("us-east-1", 60), ("us-west-2", 40)])
    {
        assert_eq!(
            created.set_identifier(),
            Some(format!("demo-{region}").as_str())
        );
        assert_eq!(created.weight(), Some(weight));
        assert_eq!(
            created.failover(),
            None,
            "no failover role on a weighted record"
        );
        assert_eq!(
            created.health_check_id(),
            Some(format!("hc-{region}").as_str())
        );
        let alias = created.alias_target().unwrap();
        assert!(alias.evaluate_target_health());
        assert_eq!(alias.dns_name(), elb_name(region));
    }
    assert!(get_change.num_calls() >= 2, "waited until INSYNC");
    assert!(report.changed, "{report:?}");
    let description = report.state.description().unwrap();
    assert_eq!(description.split().text(), "us-east-1=60 us-west-2=40");
    assert_eq!(
        description.region("us-west-2").unwrap().share(),
        "weight 40"
    );
}

#[tokio::test(start_paused = true)]
async fn a_redeploy_keeps_weights_that_traffic_set_moved() {
    let sent: Sent = Arc::default();
    let moved = vec![record("us-east-1", Err(10)), record("us-west-2", Err(90))];
    let (entry, _) = route53_entry(
        vec![moved],
        &sent,
        active_active(&[("us-east-1", 50), ("us-west-2", 50)]),
    );
    let report = ensure(&entry, &balancers(), &Events::discard(), "entry", LIMIT)
        .await
        .unwrap();
    assert!(sent.lock().unwrap().is_empty(), "nothing written");
    assert!(!report.changed, "{report:?}");
    assert_eq!(
        report.state.description().unwrap().split().text(),
        "us-east-1=10 us-west-2=90"
    );
}

#[tokio::test(start_paused = true)]
async fn weighted_records_get_new_weights_in_one_upsert_batch_and_failover_moves_all_to_one() {
    let sent: Sent = Arc::default();
    let (entry, get_change) = route53_entry(
        vec![vec![
            record("us-east-1", Err(100)),
            record("us-west-2", Err(0)),
        ]],
        &sent,
        active_active(&[]),
    );
    let outcome = set_split(
        &entry,
        &split(&[("us-east-1", 50), ("us-west-2", 50)]),
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(
        matches!(&outcome, ShiftOutcome::Shifted { actions, .. }
            if actions == &["us-east-1 weight 100 -> 50", "us-west-2 weight 0 -> 50"]),
        "{outcome:?}"
    );
    assert_eq!(get_change.num_calls(), 2, "waited until INSYNC");
    {
        let batches = sent.lock().unwrap();
        assert_eq!(batches.len(), 1);
        let upserts: Vec<(String, Option<i64>)> = batches[0]
            .iter()
            .map(|(action, record)| {
                assert_eq!(action, &ChangeAction::Upsert);
                (
                    record.set_identifier().unwrap().to_string(),
                    record.weight(),
                )
            })
            .collect();
        assert_eq!(
            upserts,
            [
                ("demo-us-east-1".to_string(), Some(50)),
                ("demo-us-west-2".to_string(), Some(50))
            ]
        );
    }

    // failover --to us-west-2 on weighted records: us-west-2 takes 100, us-east-1 0.
    let sent: Sent = Arc::default();
    let (entry, _) = route53_entry(
        vec![vec![
            record("us-east-1", Err(50)),
            record("us-west-2", Err(50)),
        ]],
        &sent,
        active_active(&[]),
    );
    shift(
        &entry,
        "us-east-1",
        "us-west-2",
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    let weights: Vec<Option<i64>> = sent.lock().unwrap()[0]
        .iter()
        .map(|(_, record)| record.weight())
        .collect();
    assert_eq!(weights, [Some(0), Some(100)]);
}

#[tokio::test(start_paused = true)]
async fn failover_records_take_a_one_region_split_and_refuse_an_even_one_with_the_fix() {
    let sent: Sent = Arc::default();
    let (entry, _) = route53_entry(vec![failover_pair()], &sent, TrafficPolicy::ActivePassive);
    let error = set_split(
        &entry,
        &split(&[("us-east-1", 50), ("us-west-2", 50)]),
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("has failover records"), "{error}");
    assert!(error.contains("traffic: active-active"), "{error}");
    assert!(sent.lock().unwrap().is_empty(), "nothing written");

    let outcome = set_split(
        &entry,
        &split(&[("us-east-1", 0), ("us-west-2", 100)]),
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, ShiftOutcome::Shifted { .. }),
        "{outcome:?}"
    );
    let batches = sent.lock().unwrap().clone();
    let roles: Vec<(String, Option<String>)> = batches[0]
        .iter()
        .map(|(action, record)| {
            (
                action.as_str().to_string(),
                record.failover().map(|role| role.as_str().to_string()),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("DELETE".to_string(), Some("PRIMARY".to_string())),
            ("DELETE".to_string(), Some("SECONDARY".to_string())),
            ("CREATE".to_string(), Some("SECONDARY".to_string())),
            ("CREATE".to_string(), Some("PRIMARY".to_string())),
        ],
        "the failover role swap"
    );
    // describe reads failover records as before.
    let state = describe(&entry).await;
    assert_eq!(
        state.description().unwrap().split().text(),
        "us-east-1=100 us-west-2=0"
    );
}

// ---- the real binary ----

/// Bad input ends `traffic set` before any AWS call: the endpoint is a port nobody listens on,
/// so a call would show as a connection error instead of the message.
#[test]
fn bad_weights_are_refused_before_any_aws_call() {
    for (args, expected) in [
        (
            &["us-east-1=101"][..],
            "the weight in \"us-east-1=101\" is not a whole number from 0 to 100",
        ),
        (
            &["a=b"][..],
            "\"a\" in \"a=b\" is not one of the app's regions (us-east-1, us-west-2)",
        ),
        (&["us-east-1"][..], "\"us-east-1\" is not REGION=WEIGHT"),
        (&["eu-west-1=50"][..], "not one of the app's regions"),
        (
            &["us-east-1=50", "us-east-1=60"][..],
            "us-east-1 is given twice",
        ),
        (
            &["us-east-1=0", "us-west-2=0"][..],
            "every region would get weight 0",
        ),
    ] {
        let mut words = vec![
            "traffic",
            "set",
            "--regions",
            "us-east-1,us-west-2",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ];
        words.extend(args);
        let started = std::time::Instant::now();
        let run = Mysfits::new()
            .envs(vec![
                ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ])
            .run(&words);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
        assert!(
            run.stderr().contains(expected),
            "{args:?}: {}",
            run.stderr()
        );
        assert!(
            !run.stderr().contains("127.0.0.1:9"),
            "no AWS call was tried: {}",
            run.stderr()
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{args:?}");
    }
}

#[test]
fn bad_traffic_settings_in_the_config_file_are_refused_with_the_fix() {
    let mysfits = Mysfits::new();
    let config = mysfits.file(
        "mysfits.yaml",
        "regions: [us-east-1, us-west-2]\nentry_point:\n  mode: global-accelerator\n  traffic: active-active\n  weights: {us-east-1: 50, eu-west-1: 50}\n",
    );
    let run = mysfits.run(&["traffic", "--config", config.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("entry_point.weights names eu-west-1, which is not one of the app's regions"),
        "{}",
        run.stderr()
    );
}

// ---- verification through a loopback entry point ----

/// A loopback "entry point" that answers from each region in turn, as the app's services do
/// (header `x-mysfits-region`).
async fn alternating_server(regions: &'static [&'static str]) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let next = next.clone();
            async move {
                let region = regions[next.fetch_add(1, Ordering::Relaxed) % regions.len()];
                ([("x-mysfits-region", region)], "ok")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/health")
}

#[tokio::test]
async fn verification_waits_until_every_serving_region_has_answered() {
    use mysfits::failover::probe::Prober;
    use mysfits::traffic::{Need, SplitVerification, wait_for_regions};
    let prober = Prober::new(Duration::from_secs(2)).unwrap();
    let both = alternating_server(&["us-east-1", "us-west-2"]).await;
    let serving = vec!["us-east-1".to_string(), "us-west-2".to_string()];
    let verified = wait_for_regions(
        &prober,
        &both,
        &serving,
        Need::Every,
        Duration::from_secs(5),
    )
    .await;
    let SplitVerification::Verified {
        probes, answered, ..
    } = &verified
    else {
        panic!("{verified:?}");
    };
    assert_eq!(*probes, 2, "one answer from each region is enough");
    assert_eq!(answered.get("us-east-1"), Some(&1));
    assert_eq!(answered.get("us-west-2"), Some(&1));

    let east_only = alternating_server(&["us-east-1"]).await;
    let missing = wait_for_regions(
        &prober,
        &east_only,
        &serving,
        Need::Every,
        Duration::from_secs(1),
    )
    .await;
    let SplitVerification::NotVerified {
        missing, answered, ..
    } = &missing
    else {
        panic!("{missing:?}");
    };
    assert_eq!(missing, &["us-west-2".to_string()]);
    assert!(answered.get("us-east-1").is_some_and(|count| *count >= 2));

    // Behind Global Accelerator with both dials at 100, a client sees its nearest region only.
    let nearest = wait_for_regions(
        &prober,
        &east_only,
        &serving,
        Need::AnyOne,
        Duration::from_secs(5),
    )
    .await;
    let SplitVerification::Verified { not_seen, .. } = &nearest else {
        panic!("{nearest:?}");
    };
    assert_eq!(not_seen, &["us-west-2".to_string()]);
    assert!(
        nearest
            .summary(Duration::from_secs(5))
            .contains("us-west-2 not seen from here"),
        "{}",
        nearest.summary(Duration::from_secs(5))
    );
}

// ---- Route 53 weighted records on moto ----

#[tokio::test]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn route53_failover_records_become_weighted_and_take_a_split_on_moto() {
    use testbed::moto::Moto;
    let moto = Moto::start();
    let client = aws_sdk_route53::Client::new(&moto.sdk_config("us-east-1"));
    let zone = client
        .create_hosted_zone()
        .name("example.test")
        .caller_reference("zone")
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let entry = |traffic: TrafficPolicy| EntryPoint {
        app: "r53".into(),
        endpoint: Some(moto.endpoint()),
        control: Control::Route53 {
            client: client.clone(),
            hosted_zone_id: zone.clone(),
            domain: "shop.example.test".into(),
        },
        traffic,
    };
    let balancers: Vec<RegionalLoadBalancer> = ["us-east-1", "us-west-2"]
        .iter()
        .map(|region| RegionalLoadBalancer {
            region: region.to_string(),
            home: *region == "us-east-1",
            arn: alb(region),
            dns_name: format!("r53-{region}.{region}.elb.amazonaws.com"),
            canonical_hosted_zone_id: Some("Z35SXDOTRQ7X7K".into()),
        })
        .collect();
    let (events, mut receiver) = Events::channel();
    let passive = ensure(
        &entry(TrafficPolicy::ActivePassive),
        &balancers,
        &events,
        "entry",
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(
        passive.state.description().unwrap().split().text(),
        "us-east-1=100 us-west-2=0"
    );
    let active = entry(active_active(&[("us-east-1", 100), ("us-west-2", 0)]));
    let converted = ensure(&active, &balancers, &events, "entry", LIMIT)
        .await
        .unwrap();
    // The one batch of DELETEs and CREATEs went through as it is (no UPSERT fallback).
    let notes = crate::util::notes(&mut receiver);
    assert!(
        !notes.iter().any(|note| note.contains("UPSERTs instead")),
        "{notes:?}"
    );
    let description = converted.state.description().unwrap();
    assert!(
        description
            .regions
            .iter()
            .all(|region| region.failover.is_none() && region.weight.is_some()),
        "{description:?}"
    );
    let moved = set_split(
        &active,
        &split(&[("us-east-1", 50), ("us-west-2", 50)]),
        &events,
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(matches!(moved, ShiftOutcome::Shifted { .. }), "{moved:?}");
    let again = ensure(&active, &balancers, &events, "entry", LIMIT)
        .await
        .unwrap();
    assert!(
        !again.changed,
        "a redeploy keeps the moved weights: {again:?}"
    );
    assert_eq!(
        describe(&active)
            .await
            .description()
            .unwrap()
            .split()
            .text(),
        "us-east-1=50 us-west-2=50"
    );
    let listed = client
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap();
    let a_records: Vec<(Option<i64>, bool)> = listed
        .resource_record_sets()
        .iter()
        .filter(|record| record.r#type() == &RrType::A)
        .map(|record| (record.weight(), record.failover().is_some()))
        .collect();
    assert_eq!(
        a_records,
        [(Some(50), false), (Some(50), false)],
        "no failover record left beside the weighted ones"
    );
}

// ---- the real binary, end to end on moto (Route 53 mode) ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "emulator tier: needs moto_server, docker-registry and a static build of the services; run scripts/test"]
async fn deploy_active_active_then_traffic_set_and_failover_through_the_real_binary() {
    use crate::fixtures::emulator::static_service_binaries;
    use testbed::moto::Moto;
    use testbed::registry::Registry;

    let binaries = static_service_binaries().await;
    let moto = Moto::start_with_env(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let registries = (Registry::start(), Registry::start());
    let route53 = aws_sdk_route53::Client::new(&moto.sdk_config("us-east-1"));
    let zone = route53
        .create_hosted_zone()
        .name("example.test")
        .caller_reference("traffic-e2e")
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let config = format!(
        "app: tr\nregion: us-east-1\nsecondary_region: us-west-2\nendpoint_url: {}\n\
         entry_point:\n  mode: route53\n  hosted_zone_id: {zone}\n  domain: shop.example.test\n\
         \x20 traffic: active-active\n  weights: {{us-east-1: 100, us-west-2: 0}}\n\
         regions:\n  us-east-1:\n    registry_url: {}\n    availability_zones: [us-east-1a, us-east-1b]\n    desired_count: 2\n\
         \x20 us-west-2:\n    registry_url: {}\n    availability_zones: [us-west-2a, us-west-2b]\n    desired_count: 1\n",
        moto.endpoint(),
        registries.0.url(),
        registries.1.url()
    );
    let run = |args: &[&str]| {
        let mysfits = Mysfits::new();
        let path = mysfits.file("mysfits.yaml", &config);
        let mut full = vec!["--config", path.to_str().unwrap()];
        full.extend_from_slice(args);
        mysfits.envs(moto.client_env()).run(&full)
    };
    let json = |run: &crate::util::Run| -> serde_json::Value {
        serde_json::from_str(&run.stdout()).unwrap_or_else(|error| {
            panic!("no JSON ({error}):\n{}\n{}", run.stdout(), run.stderr())
        })
    };
    let weights = || async {
        let listed = route53
            .list_resource_record_sets()
            .hosted_zone_id(&zone)
            .send()
            .await
            .unwrap();
        listed
            .resource_record_sets()
            .iter()
            .filter(|record| record.r#type() == &RrType::A)
            .map(|record| {
                assert!(record.failover().is_none(), "{record:?}");
                (
                    record.set_identifier().unwrap_or_default().to_string(),
                    record.weight(),
                )
            })
            .collect::<Vec<_>>()
    };

    run(&["deploy", "--prebuilt-binaries", binaries.to_str().unwrap()]).assert_success();
    assert_eq!(
        weights().await,
        [
            ("tr-us-east-1".to_string(), Some(100)),
            ("tr-us-west-2".to_string(), Some(0))
        ],
        "a new entry point has the configured weights, as weighted records"
    );

    let shown = run(&["traffic", "--output", "json"]);
    shown.assert_success();
    let shown = json(&shown);
    assert_eq!(shown["policy"], "active-active", "{shown:#}");
    assert_eq!(shown["split"]["weights"]["us-west-2"], 0, "{shown:#}");
    let text = run(&["traffic"]);
    text.assert_success();
    assert!(text.stdout().contains("weight 100"), "{}", text.stdout());

    // moto does not replicate tables: us-west-2 (rising) is not ready, nothing changes.
    let refused = run(&["traffic", "set", "us-east-1=50", "us-west-2=50"]);
    assert_eq!(
        refused.code(),
        2,
        "{}{}",
        refused.stdout(),
        refused.stderr()
    );
    assert!(
        refused
            .stdout()
            .contains("readiness of us-west-2 (capacity of us-east-1)"),
        "{}",
        refused.stdout()
    );
    assert!(refused.stderr().contains("--force"), "{}", refused.stderr());
    assert_eq!(weights().await[1].1, Some(0));

    // Forced: scaled, weights moved in one batch, verified through a server answering from both.
    let both = alternating_server(&["us-east-1", "us-west-2"]).await;
    let moved = run(&[
        "--output",
        "json",
        "traffic",
        "set",
        "us-east-1=50",
        "us-west-2=50",
        "--force",
        "--timeout",
        "5",
        "--verify-url",
        &both,
    ]);
    moved.assert_success();
    let report = json(&moved);
    assert_eq!(report["outcome"], "completed", "{report:#}");
    assert_eq!(report["verification"]["result"], "verified", "{report:#}");
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|phase| phase["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        ["readiness us-west-2", "scale us-west-2", "shift", "verify"],
        "{report:#}"
    );
    assert_eq!(
        weights().await,
        [
            ("tr-us-east-1".to_string(), Some(50)),
            ("tr-us-west-2".to_string(), Some(50))
        ]
    );

    // A redeploy keeps the moved weights.
    run(&["deploy", "--prebuilt-binaries", binaries.to_str().unwrap()]).assert_success();
    assert_eq!(weights().await[0].1, Some(50));

    // failover --to us-west-2 evacuates us-east-1: 0 / 100.
    let west = alternating_server(&["us-west-2"]).await;
    run(&[
        "failover",
        "--to",
        "us-west-2",
        "--force",
        "--timeout",
        "5",
        "--verify-url",
        &west,
    ])
    .assert_success();
    assert_eq!(
        weights().await,
        [
            ("tr-us-east-1".to_string(), Some(0)),
            ("tr-us-west-2".to_string(), Some(100))
        ]
    );

    // Back with traffic set: us-east-1 rises (checked and scaled against us-west-2), us-west-2
    // falls to 0 and gets its configured autoscaling minimum back (moto's CloudFormation makes
    // no scalable targets, so there is nothing to lower here: the list is empty).
    let east = alternating_server(&["us-east-1"]).await;
    let back = run(&[
        "--output",
        "json",
        "traffic",
        "set",
        "us-east-1=100",
        "us-west-2=0",
        "--force",
        "--timeout",
        "5",
        "--verify-url",
        &east,
    ]);
    back.assert_success();
    let report = json(&back);
    assert_eq!(report["outcome"], "completed", "{report:#}");
    assert_eq!(report["rising"][0]["region"], "us-east-1", "{report:#}");
    assert_eq!(
        report["rising"][0]["capacity_from"], "us-west-2",
        "{report:#}"
    );
    assert!(report["restored_minimums"].is_array(), "{report:#}");
    assert_eq!(
        weights().await,
        [
            ("tr-us-east-1".to_string(), Some(100)),
            ("tr-us-west-2".to_string(), Some(0))
        ]
    );
}
