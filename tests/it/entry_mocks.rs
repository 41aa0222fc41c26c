//! The Global Accelerator entry point, which moto lacks (it answers 500), checked against modeled
//! Global Accelerator responses (aws-smithy-mocks): create, idempotent re-deploy, dial shifts in
//! the right order, removal in the order AWS insists on, and an emulator that lacks the service.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_globalaccelerator::Client;
use aws_sdk_globalaccelerator::operation::create_accelerator::CreateAcceleratorOutput;
use aws_sdk_globalaccelerator::operation::create_endpoint_group::CreateEndpointGroupOutput;
use aws_sdk_globalaccelerator::operation::create_listener::CreateListenerOutput;
use aws_sdk_globalaccelerator::operation::delete_accelerator::DeleteAcceleratorOutput;
use aws_sdk_globalaccelerator::operation::delete_endpoint_group::DeleteEndpointGroupOutput;
use aws_sdk_globalaccelerator::operation::delete_listener::DeleteListenerOutput;
use aws_sdk_globalaccelerator::operation::describe_accelerator::DescribeAcceleratorOutput;
use aws_sdk_globalaccelerator::operation::list_accelerators::ListAcceleratorsOutput;
use aws_sdk_globalaccelerator::operation::list_endpoint_groups::ListEndpointGroupsOutput;
use aws_sdk_globalaccelerator::operation::list_listeners::ListListenersOutput;
use aws_sdk_globalaccelerator::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_globalaccelerator::operation::update_accelerator::UpdateAcceleratorOutput;
use aws_sdk_globalaccelerator::operation::update_endpoint_group::UpdateEndpointGroupOutput;
use aws_sdk_globalaccelerator::operation::update_listener::UpdateListenerOutput;
use aws_sdk_globalaccelerator::types::{
    Accelerator, AcceleratorStatus, EndpointDescription, EndpointGroup, HealthCheckProtocol,
    HealthState, IpSet, Listener, PortRange, Protocol,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use mysfits::dashboard::{AcceleratorLookup, find_accelerator};
use mysfits::entry::{
    Control, EntryPoint, EntryState, RegionalLoadBalancer, ShiftOutcome,
    accelerator::idempotency_token, describe, ensure, ensure_prepared, prepare, shift,
};
use mysfits::teardown::entry::{GlobalClients, Removal, remove_entry_point};

use crate::fixtures::accelerator;
use crate::teardown_mocks::route53_without_health_checks;
use mysfits::progress::Events;

const ACCELERATOR_ARN: &str = "arn:aws:globalaccelerator::123456789012:accelerator/demo-1";
const LISTENER_ARN: &str = "arn:aws:globalaccelerator::123456789012:accelerator/demo-1/listener/l1";
const EAST_ALB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/demo/east";
const WEST_ALB: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/demo/west";
const LIMIT: Duration = Duration::from_secs(10);

fn accelerator(status: AcceleratorStatus, enabled: bool) -> Accelerator {
    Accelerator::builder()
        .accelerator_arn(ACCELERATOR_ARN)
        .name("demo")
        .enabled(enabled)
        .status(status)
        .dns_name("a1234.awsglobalaccelerator.com")
        .ip_sets(
            IpSet::builder()
                .ip_addresses("75.2.0.1")
                .ip_addresses("99.83.0.1")
                .build(),
        )
        .build()
}

fn listener() -> Listener {
    Listener::builder()
        .listener_arn(LISTENER_ARN)
        .protocol(Protocol::Tcp)
        .port_ranges(PortRange::builder().from_port(80).to_port(80).build())
        .port_ranges(PortRange::builder().from_port(443).to_port(443).build())
        .build()
}

fn ports(ranges: &[PortRange]) -> Vec<(Option<i32>, Option<i32>)> {
    ranges
        .iter()
        .map(|range| (range.from_port(), range.to_port()))
        .collect()
}

fn group(region: &str, dial: f32, endpoint: &str) -> EndpointGroup {
    EndpointGroup::builder()
        .endpoint_group_arn(format!("{LISTENER_ARN}/endpoint-group/{region}"))
        .endpoint_group_region(region)
        .traffic_dial_percentage(dial)
        .endpoint_descriptions(
            EndpointDescription::builder()
                .endpoint_id(endpoint)
                .weight(128)
                .health_state(HealthState::Healthy)
                .build(),
        )
        .build()
}

fn accelerators(list: Vec<Accelerator>) -> ListAcceleratorsOutput {
    ListAcceleratorsOutput::builder()
        .set_accelerators(Some(list))
        .build()
}

fn listeners(list: Vec<Listener>) -> ListListenersOutput {
    ListListenersOutput::builder()
        .set_listeners(Some(list))
        .build()
}

fn groups(list: Vec<EndpointGroup>) -> ListEndpointGroupsOutput {
    ListEndpointGroupsOutput::builder()
        .set_endpoint_groups(Some(list))
        .build()
}

fn describe_sequence(statuses: &[AcceleratorStatus]) -> Rule {
    let mut sequence = mock!(Client::describe_accelerator).sequence();
    for status in statuses {
        let status = status.clone();
        sequence = sequence.output(move || {
            DescribeAcceleratorOutput::builder()
                .accelerator(accelerator(status.clone(), true))
                .build()
        });
    }
    sequence
        .output(|| {
            DescribeAcceleratorOutput::builder()
                .accelerator(accelerator(AcceleratorStatus::Deployed, true))
                .build()
        })
        .repeatedly()
        .build()
}

fn entry(client: Client, endpoint: Option<&str>) -> EntryPoint {
    EntryPoint {
        app: "demo".into(),
        endpoint: endpoint.map(str::to_string),
        control: Control::GlobalAccelerator(client),
        traffic: Default::default(),
    }
}

fn load_balancers(west_arn: &str) -> Vec<RegionalLoadBalancer> {
    vec![
        RegionalLoadBalancer {
            region: "us-east-1".into(),
            home: true,
            arn: EAST_ALB.into(),
            dns_name: "demo-east.us-east-1.elb.amazonaws.com".into(),
            canonical_hosted_zone_id: Some("Z35SXDOTRQ7X7K".into()),
        },
        RegionalLoadBalancer {
            region: "us-west-2".into(),
            home: false,
            arn: west_arn.into(),
            dns_name: "demo-west.us-west-2.elb.amazonaws.com".into(),
            canonical_hosted_zone_id: Some("Z1H1FL5HABSF5".into()),
        },
    ]
}

/// Writes in the order they reached "AWS".
type Log = Arc<Mutex<Vec<String>>>;

fn logged(log: &Log, entry: String) {
    log.lock().unwrap().push(entry);
}

#[tokio::test]
async fn a_new_accelerator_serves_from_the_primary_and_is_waited_for_until_deployed() {
    let list = mock!(Client::list_accelerators)
        .sequence()
        .output(|| accelerators(vec![]))
        .output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]))
        .repeatedly()
        .build();
    let create = mock!(Client::create_accelerator)
        .match_requests(|request| {
            request.name() == Some("demo")
                && request.enabled() == Some(true)
                && request
                    .tags()
                    .iter()
                    .any(|tag| tag.key() == "mysfits:app" && tag.value() == "demo")
                && request
                    .idempotency_token()
                    .is_some_and(|token| token.starts_with("mysfits-accelerator-"))
        })
        .then_output(|| {
            CreateAcceleratorOutput::builder()
                .accelerator(accelerator(AcceleratorStatus::InProgress, true))
                .build()
        });
    let list_listeners = mock!(Client::list_listeners)
        .sequence()
        .output(|| listeners(vec![]))
        .output(|| listeners(vec![listener()]))
        .repeatedly()
        .build();
    let create_listener = mock!(Client::create_listener)
        .match_requests(|request| {
            request.protocol() == Some(&Protocol::Tcp)
                && ports(request.port_ranges()) == [(Some(80), Some(80)), (Some(443), Some(443))]
        })
        .then_output(|| CreateListenerOutput::builder().listener(listener()).build());
    let list_groups = mock!(Client::list_endpoint_groups)
        .sequence()
        .output(|| groups(vec![]))
        .output(|| {
            groups(vec![
                group("us-east-1", 100.0, EAST_ALB),
                group("us-west-2", 0.0, WEST_ALB),
            ])
        })
        .repeatedly()
        .build();
    let primary_group = mock!(Client::create_endpoint_group)
        .match_requests(|request| {
            request.endpoint_group_region() == Some("us-east-1")
                && request.traffic_dial_percentage() == Some(100.0)
                && request.endpoint_configurations()[0].endpoint_id() == Some(EAST_ALB)
        })
        .then_output(|| CreateEndpointGroupOutput::builder().build());
    let secondary_group = mock!(Client::create_endpoint_group)
        .match_requests(|request| {
            request.endpoint_group_region() == Some("us-west-2")
                && request.traffic_dial_percentage() == Some(0.0)
                && request.endpoint_configurations()[0].endpoint_id() == Some(WEST_ALB)
        })
        .then_output(|| CreateEndpointGroupOutput::builder().build());
    let describe_accelerator =
        describe_sequence(&[AcceleratorStatus::InProgress, AcceleratorStatus::InProgress]);
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
            &primary_group,
            &secondary_group,
            &describe_accelerator,
        ]
    );
    let report = ensure(
        &entry(client, None),
        &load_balancers(WEST_ALB),
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(report.changed, "{report:?}");
    assert_eq!(create.num_calls(), 1);
    assert_eq!(create_listener.num_calls(), 1);
    assert_eq!(
        (primary_group.num_calls(), secondary_group.num_calls()),
        (1, 1)
    );
    assert_eq!(
        describe_accelerator.num_calls(),
        4,
        "waited through IN_PROGRESS until DEPLOYED, then read back by ARN"
    );
    let EntryState::Present(description) = &report.state else {
        panic!("{report:?}");
    };
    assert_eq!(description.serving_region(), Some("us-east-1"));
    assert_eq!(
        description.address.as_deref(),
        Some("a1234.awsglobalaccelerator.com")
    );
    assert_eq!(description.static_ips, ["75.2.0.1", "99.83.0.1"]);
    assert!(
        report.summary().contains("created accelerator"),
        "{}",
        report.summary()
    );
}

#[tokio::test]
async fn a_redeploy_after_failover_keeps_the_dials_and_only_repoints_a_changed_load_balancer() {
    let list = mock!(Client::list_accelerators)
        .then_output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]));
    let list_listeners = mock!(Client::list_listeners).then_output(|| listeners(vec![listener()]));
    // After a failover: the secondary serves.
    let list_groups = mock!(Client::list_endpoint_groups).then_output(|| {
        groups(vec![
            group("us-east-1", 0.0, EAST_ALB),
            group("us-west-2", 100.0, WEST_ALB),
        ])
    });
    let update = mock!(Client::update_endpoint_group)
        .match_requests(|request| {
            // The serving group's dial is sent as it is: an omitted dial would mean 100.
            request.traffic_dial_percentage() == Some(100.0)
                && request.endpoint_configurations()[0].endpoint_id() == Some("arn:new-west")
        })
        .then_output(|| UpdateEndpointGroupOutput::builder().build());
    let create_group = mock!(Client::create_endpoint_group)
        .then_output(|| CreateEndpointGroupOutput::builder().build());
    let describe_accelerator = describe_sequence(&[]);
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &list,
            &accelerator::tags("demo"),
            &list_listeners,
            &list_groups,
            &update,
            &create_group,
            &describe_accelerator,
        ]
    );
    let entry = entry(client, None);

    let unchanged = ensure(
        &entry,
        &load_balancers(WEST_ALB),
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(!unchanged.changed, "{unchanged:?}");
    assert_eq!(
        update.num_calls() + create_group.num_calls(),
        0,
        "no writes"
    );
    assert_eq!(
        unchanged.state.description().unwrap().serving_region(),
        Some("us-west-2"),
        "the failed-over split is kept"
    );

    let repointed = ensure(
        &entry,
        &load_balancers("arn:new-west"),
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(repointed.changed);
    assert_eq!(update.num_calls(), 1, "endpoint changed, dial untouched");
    assert_eq!(create_group.num_calls(), 0);
}

/// A listener made before HTTPS support forwards port 80 only: 443 is added, nothing else moves.
#[tokio::test]
async fn a_listener_without_the_https_port_gets_it_and_keeps_the_rest() {
    let list = mock!(Client::list_accelerators)
        .then_output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]));
    let http_only = || {
        Listener::builder()
            .listener_arn(LISTENER_ARN)
            .protocol(Protocol::Tcp)
            .port_ranges(PortRange::builder().from_port(80).to_port(80).build())
            .build()
    };
    let list_listeners =
        mock!(Client::list_listeners).then_output(move || listeners(vec![http_only()]));
    let list_groups = mock!(Client::list_endpoint_groups).then_output(|| {
        groups(vec![
            group("us-east-1", 100.0, EAST_ALB),
            group("us-west-2", 0.0, WEST_ALB),
        ])
    });
    let update_listener = mock!(Client::update_listener)
        .match_requests(|request| {
            request.listener_arn() == Some(LISTENER_ARN)
                && ports(request.port_ranges()) == [(Some(80), Some(80)), (Some(443), Some(443))]
        })
        .then_output(|| UpdateListenerOutput::builder().listener(listener()).build());
    let update_group = mock!(Client::update_endpoint_group)
        .then_output(|| UpdateEndpointGroupOutput::builder().build());
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &list,
            &accelerator::tags("demo"),
            &list_listeners,
            &list_groups,
            &update_listener,
            &update_group,
            &describe_sequence(&[]),
        ]
    );
    let report = ensure(
        &entry(client, None),
        &load_balancers(WEST_ALB),
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(report.changed);
    assert_eq!(update_listener.num_calls(), 1);
    assert_eq!(update_group.num_calls(), 0, "the dials and endpoints stay");
    assert!(
        report.actions.iter().any(|action| action.contains("443")),
        "{:?}",
        report.actions
    );
}

#[tokio::test]
async fn a_shift_raises_the_target_dial_before_lowering_the_source_and_waits_for_each() {
    let log: Log = Arc::default();
    let list = mock!(Client::list_accelerators)
        .then_output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]));
    let list_listeners = mock!(Client::list_listeners).then_output(|| listeners(vec![listener()]));
    let list_groups = mock!(Client::list_endpoint_groups).then_output(|| {
        groups(vec![
            group("us-east-1", 100.0, EAST_ALB),
            group("us-west-2", 0.0, WEST_ALB),
        ])
    });
    let update = {
        let log = log.clone();
        mock!(Client::update_endpoint_group).then_compute_output(move |request| {
            let arn = request.endpoint_group_arn().unwrap_or_default();
            let region = arn.rsplit('/').next().unwrap_or_default();
            logged(
                &log,
                format!("{region} -> {:?}", request.traffic_dial_percentage()),
            );
            UpdateEndpointGroupOutput::builder().build()
        })
    };
    let describe_accelerator = {
        let log = log.clone();
        let calls = Arc::new(Mutex::new(0usize));
        mock!(Client::describe_accelerator).then_compute_output(move |_| {
            let mut count = calls.lock().unwrap();
            *count += 1;
            // Each write is IN_PROGRESS on the first look and DEPLOYED on the second.
            let status = if *count % 2 == 1 {
                AcceleratorStatus::InProgress
            } else {
                logged(&log, "DEPLOYED".into());
                AcceleratorStatus::Deployed
            };
            DescribeAcceleratorOutput::builder()
                .accelerator(accelerator(status, true))
                .build()
        })
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
    let outcome = shift(
        &entry(client, None),
        "us-east-1",
        "us-west-2",
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(
        matches!(&outcome, ShiftOutcome::Shifted { actions, .. } if actions.len() == 2),
        "{outcome:?}"
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "us-west-2 -> Some(100.0)",
            "DEPLOYED",
            "us-east-1 -> Some(0.0)",
            "DEPLOYED"
        ]
    );
}

#[tokio::test]
async fn a_shift_to_the_serving_region_writes_nothing() {
    let list = mock!(Client::list_accelerators)
        .then_output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]));
    let list_listeners = mock!(Client::list_listeners).then_output(|| listeners(vec![listener()]));
    let list_groups = mock!(Client::list_endpoint_groups).then_output(|| {
        groups(vec![
            group("us-east-1", 0.0, EAST_ALB),
            group("us-west-2", 100.0, WEST_ALB),
        ])
    });
    let update = mock!(Client::update_endpoint_group)
        .then_output(|| UpdateEndpointGroupOutput::builder().build());
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &list,
            &accelerator::tags("demo"),
            &list_listeners,
            &list_groups,
            &update
        ]
    );
    let outcome = shift(
        &entry(client, None),
        "us-east-1",
        "us-west-2",
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(outcome, ShiftOutcome::AlreadyServing);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn removal_disables_waits_then_deletes_groups_listener_and_accelerator_in_that_order() {
    let log: Log = Arc::default();
    let list = mock!(Client::list_accelerators)
        .sequence()
        .output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]))
        .output(|| accelerators(vec![]))
        .repeatedly()
        .build();
    let list_listeners = mock!(Client::list_listeners).then_output(|| listeners(vec![listener()]));
    let list_groups = mock!(Client::list_endpoint_groups).then_output(|| {
        groups(vec![
            group("us-east-1", 100.0, EAST_ALB),
            group("us-west-2", 0.0, WEST_ALB),
        ])
    });
    let disable = {
        let log = log.clone();
        mock!(Client::update_accelerator).then_compute_output(move |request| {
            logged(&log, format!("enabled={:?}", request.enabled()));
            UpdateAcceleratorOutput::builder().build()
        })
    };
    // Enabled when first looked at, then disabled and deployed.
    let describe_accelerator = {
        let (first, later) = (log.clone(), log.clone());
        mock!(Client::describe_accelerator)
            .sequence()
            .output(move || {
                logged(&first, "describe".into());
                DescribeAcceleratorOutput::builder()
                    .accelerator(accelerator(AcceleratorStatus::Deployed, true))
                    .build()
            })
            .output(move || {
                logged(&later, "describe".into());
                DescribeAcceleratorOutput::builder()
                    .accelerator(accelerator(AcceleratorStatus::Deployed, false))
                    .build()
            })
            .repeatedly()
            .build()
    };
    let delete_group = {
        let log = log.clone();
        mock!(Client::delete_endpoint_group).then_compute_output(move |request| {
            let arn = request.endpoint_group_arn().unwrap_or_default();
            logged(
                &log,
                format!(
                    "delete group {}",
                    arn.rsplit('/').next().unwrap_or_default()
                ),
            );
            DeleteEndpointGroupOutput::builder().build()
        })
    };
    let delete_listener = {
        let log = log.clone();
        mock!(Client::delete_listener).then_compute_output(move |_| {
            logged(&log, "delete listener".into());
            DeleteListenerOutput::builder().build()
        })
    };
    let delete_accelerator = {
        let log = log.clone();
        mock!(Client::delete_accelerator).then_compute_output(move |_| {
            logged(&log, "delete accelerator".into());
            DeleteAcceleratorOutput::builder().build()
        })
    };
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &list,
            &accelerator::tags("demo"),
            &list_listeners,
            &list_groups,
            &disable,
            &describe_accelerator,
            &delete_group,
            &delete_listener,
            &delete_accelerator,
        ]
    );
    // Teardown's removal: the accelerator found by its tag, then the entry point's own removal.
    let clients = GlobalClients {
        globalaccelerator: client,
        route53: route53_without_health_checks(),
        globalaccelerator_endpoint: None,
        route53_endpoint: None,
    };
    let report = remove_entry_point(&clients, "demo", &Events::discard(), "entry point")
        .await
        .unwrap();
    assert!(
        matches!(&report.accelerator, Removal::Removed { .. }),
        "{report:?}"
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "describe",
            "enabled=Some(false)",
            "describe",
            "delete group us-east-1",
            "describe",
            "delete group us-west-2",
            "describe",
            "delete listener",
            "describe",
            "delete accelerator"
        ],
        "each delete is waited for until DEPLOYED before the next one"
    );
    let again = remove_entry_point(&clients, "demo", &Events::discard(), "entry point")
        .await
        .unwrap();
    assert_eq!(
        again.accelerator,
        Removal::NothingFound,
        "a second teardown finds nothing"
    );
}

#[tokio::test]
async fn an_accelerator_of_that_name_without_our_tag_is_not_taken_over() {
    let list = mock!(Client::list_accelerators)
        .then_output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]));
    let tags = mock!(Client::list_tags_for_resource)
        .then_output(|| ListTagsForResourceOutput::builder().build());
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[&list, &tags]
    );
    let error = ensure(
        &entry(client, None),
        &load_balancers(WEST_ALB),
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("mysfits did not create it"), "{message}");
    assert!(message.contains("use another --app name"), "{message}");
}

/// What moto sends for every Global Accelerator call.
fn moto_500() -> Rule {
    mock!(Client::list_accelerators)
        .sequence()
        .http_status(
            500,
            Some("<!doctype html><title>500 Internal Server Error</title><h1>Internal Server Error</h1>".into()),
        )
        .repeatedly()
        .build()
}

#[tokio::test]
async fn an_endpoint_without_global_accelerator_is_reported_unavailable_and_deploy_goes_on() {
    let rule = moto_500();
    let client = mock_client!(aws_sdk_globalaccelerator, RuleMode::MatchAny, &[&rule]);
    let entry = entry(client, Some("http://127.0.0.1:5310"));
    let report = ensure(
        &entry,
        &load_balancers(WEST_ALB),
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(!report.changed);
    assert!(
        matches!(&report.state, EntryState::Unavailable { endpoint, .. } if endpoint == "http://127.0.0.1:5310"),
        "{report:?}"
    );
    assert!(
        report.summary().contains("unavailable at this endpoint"),
        "{}",
        report.summary()
    );
    assert!(matches!(
        describe(&entry).await,
        EntryState::Unavailable { .. }
    ));
    let removed = remove_entry_point(
        &GlobalClients {
            globalaccelerator: mock_client!(
                aws_sdk_globalaccelerator,
                RuleMode::MatchAny,
                &[&rule]
            ),
            route53: route53_without_health_checks(),
            globalaccelerator_endpoint: Some("http://127.0.0.1:5310".into()),
            route53_endpoint: Some("http://127.0.0.1:5310".into()),
        },
        "demo",
        &Events::discard(),
        "entry point",
    )
    .await
    .unwrap();
    assert!(
        matches!(removed.accelerator, Removal::Unavailable { .. }),
        "{removed:?}"
    );
    let shifted = shift(
        &entry,
        "us-east-1",
        "us-west-2",
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(
        matches!(shifted, ShiftOutcome::Skipped { .. }),
        "{shifted:?}"
    );
}

#[tokio::test]
async fn the_same_500_from_aws_itself_is_an_error_not_unavailable() {
    let rule = moto_500();
    let client = mock_client!(aws_sdk_globalaccelerator, RuleMode::MatchAny, &[&rule]);
    let error = ensure(
        &entry(client, None),
        &load_balancers(WEST_ALB),
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("ListAccelerators in us-west-2 failed"),
        "{error}"
    );
}

#[tokio::test]
async fn a_control_plane_that_does_not_answer_skips_the_shift_and_says_health_routing_takes_over() {
    let dead = testbed::dead_endpoint();
    let client = Client::new(&testbed::moto::sdk_config_for(&dead, "us-west-2"));
    let outcome = shift(
        &entry(client, Some(&dead)),
        "us-east-1",
        "us-west-2",
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    let ShiftOutcome::Skipped { reason } = outcome else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("did not answer"), "{reason}");
    assert!(reason.contains("whatever the dials say"), "{reason}");
}

#[tokio::test]
async fn dashboard_create_graphs_only_the_accelerator_tagged_as_ours() {
    let list = mock!(Client::list_accelerators)
        .then_output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]));
    let listed = mock!(Client::list_listeners).then_output(|| listeners(vec![listener()]));
    let grouped = mock!(Client::list_endpoint_groups)
        .then_output(|| groups(vec![group("us-east-1", 100.0, EAST_ALB)]));
    let tags = accelerator::tags("demo");
    let ours = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[&list, &tags, &listed, &grouped]
    );
    match find_accelerator(&entry(ours, None)).await {
        AcceleratorLookup::Found(found) => assert_eq!(found.arn, ACCELERATOR_ARN),
        other => panic!("expected our accelerator, got {other:?}"),
    }

    // The same name without our tag: not graphed, and the note says why.
    let untagged = mock!(Client::list_tags_for_resource)
        .then_output(|| ListTagsForResourceOutput::builder().build());
    let foreign = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[&list, &untagged]
    );
    match find_accelerator(&entry(foreign, None)).await {
        AcceleratorLookup::Unknown(reason) => {
            assert!(reason.contains("mysfits did not create it"), "{reason}")
        }
        other => panic!("expected the foreign accelerator to be left out, got {other:?}"),
    }

    // Route 53 mode: no accelerator belongs to the app, and nothing is asked (no rules: any
    // call would fail the test).
    let route53 = EntryPoint {
        app: "demo".into(),
        endpoint: None,
        control: Control::Route53 {
            client: mock_client!(aws_sdk_route53, RuleMode::MatchAny, &[]),
            hosted_zone_id: "Z0ABC".into(),
            domain: "shop.example.test".into(),
        },
        traffic: Default::default(),
    };
    assert_eq!(find_accelerator(&route53).await, AcceleratorLookup::Absent);
}

fn captured<T: Clone>(log: &Arc<Mutex<Vec<T>>>) -> Vec<T> {
    log.lock().unwrap().clone()
}

/// A group as a user or an earlier version may have tuned it: HTTP health checks on /health
/// every 10 s, threshold 2.
fn tuned_group(region: &str, dial: f32, endpoint: &str) -> EndpointGroup {
    let mut tuned = group(region, dial, endpoint);
    tuned.health_check_protocol = Some(HealthCheckProtocol::Http);
    tuned.health_check_path = Some("/health".into());
    tuned.health_check_port = Some(80);
    tuned.health_check_interval_seconds = Some(10);
    tuned.threshold_count = Some(2);
    tuned
}

/// UpdateEndpointGroup applies its defaults to what it is not sent: an omitted dial is 100 (a
/// standby region would take all its share of traffic), omitted health checks go back to TCP
/// every 30 s. Every update the code sends, on deploy and on failover, carries the dial, the
/// endpoints and the group's health-check settings.
#[tokio::test]
async fn every_endpoint_group_update_carries_the_dial_the_endpoints_and_the_health_checks() {
    let sent: Arc<Mutex<Vec<aws_sdk_globalaccelerator::operation::update_endpoint_group::UpdateEndpointGroupInput>>> =
        Arc::default();
    let list = mock!(Client::list_accelerators)
        .then_output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]));
    let list_listeners = mock!(Client::list_listeners).then_output(|| listeners(vec![listener()]));
    let list_groups = mock!(Client::list_endpoint_groups).then_output(|| {
        groups(vec![
            tuned_group("us-east-1", 100.0, EAST_ALB),
            tuned_group("us-west-2", 0.0, WEST_ALB),
        ])
    });
    let update = {
        let sent = sent.clone();
        mock!(Client::update_endpoint_group).then_compute_output(move |request| {
            sent.lock().unwrap().push(request.clone());
            UpdateEndpointGroupOutput::builder().build()
        })
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
            &describe_sequence(&[]),
        ]
    );
    let entry = entry(client, None);
    // Deploy with a replaced standby load balancer: the standby's endpoint changes.
    ensure(
        &entry,
        &load_balancers("arn:new-west"),
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap();
    // Failover: both dials change.
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

    let requests = captured(&sent);
    let summary: Vec<(String, Option<f32>, Vec<Option<String>>)> = requests
        .iter()
        .map(|request| {
            (
                request
                    .endpoint_group_arn()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                request.traffic_dial_percentage(),
                request
                    .endpoint_configurations()
                    .iter()
                    .map(|endpoint| endpoint.endpoint_id().map(str::to_string))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            // The repointed standby keeps its 0 %.
            (
                "us-west-2".to_string(),
                Some(0.0),
                vec![Some("arn:new-west".to_string())]
            ),
            // The shift keeps each group's endpoint.
            (
                "us-west-2".to_string(),
                Some(100.0),
                vec![Some(WEST_ALB.to_string())]
            ),
            (
                "us-east-1".to_string(),
                Some(0.0),
                vec![Some(EAST_ALB.to_string())]
            ),
        ]
    );
    for request in &requests {
        for endpoint in request.endpoint_configurations() {
            assert_eq!(endpoint.weight(), Some(128), "{request:?}");
        }
        assert_eq!(
            (
                request.health_check_protocol(),
                request.health_check_path(),
                request.health_check_port(),
                request.health_check_interval_seconds(),
                request.threshold_count(),
            ),
            (
                Some(&HealthCheckProtocol::Http),
                Some("/health"),
                Some(80),
                Some(10),
                Some(2)
            ),
            "the group's health checks are sent as they are: {request:?}"
        );
    }
}

/// Global Accelerator's IdempotencyToken: at most 255 characters (API reference); kept to
/// letters, digits and '-'.
fn assert_token_is_valid(token: &str) {
    assert!(!token.is_empty() && token.len() <= 255, "{token}");
    assert!(
        token
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '-'),
        "{token}"
    );
}

/// Tokens are remembered for a while: a fixed token per app would, after a teardown, return the
/// deleted accelerator (or a parameter mismatch). Each creation gets its own token, and retries
/// of the same creation (a rerun after a timeout) send the same one. ListAccelerators never lists
/// the new accelerator here (it is eventually consistent right after a create): deploy reads it
/// back by ARN.
#[tokio::test]
async fn idempotency_tokens_are_unique_per_creation_and_the_same_for_its_retries() {
    let tokens: Arc<Mutex<Vec<(&'static str, String)>>> = Arc::default();
    let list = mock!(Client::list_accelerators).then_output(|| accelerators(vec![]));
    let create = {
        let tokens = tokens.clone();
        mock!(Client::create_accelerator).then_compute_output(move |request| {
            tokens.lock().unwrap().push((
                "accelerator",
                request.idempotency_token().unwrap_or_default().to_string(),
            ));
            CreateAcceleratorOutput::builder()
                .accelerator(accelerator(AcceleratorStatus::InProgress, true))
                .build()
        })
    };
    let list_listeners = mock!(Client::list_listeners).then_output(|| listeners(vec![]));
    let create_listener = {
        let tokens = tokens.clone();
        mock!(Client::create_listener).then_compute_output(move |request| {
            tokens.lock().unwrap().push((
                "listener",
                request.idempotency_token().unwrap_or_default().to_string(),
            ));
            CreateListenerOutput::builder().listener(listener()).build()
        })
    };
    let list_groups = mock!(Client::list_endpoint_groups).then_output(|| groups(vec![]));
    let create_group = {
        let tokens = tokens.clone();
        mock!(Client::create_endpoint_group).then_compute_output(move |request| {
            tokens.lock().unwrap().push((
                "group",
                request.idempotency_token().unwrap_or_default().to_string(),
            ));
            CreateEndpointGroupOutput::builder().build()
        })
    };
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &list,
            &create,
            &list_listeners,
            &create_listener,
            &list_groups,
            &create_group,
            &describe_sequence(&[]),
        ]
    );
    let entry = entry(client, None);
    let deploy = |balancers: Vec<RegionalLoadBalancer>| {
        let entry = entry.clone();
        let tokens = tokens.clone();
        async move {
            tokens.lock().unwrap().clear();
            let report = ensure(&entry, &balancers, &Events::discard(), "entry point", LIMIT)
                .await
                .unwrap();
            assert!(report.changed, "{report:?}");
            captured(&tokens)
        }
    };
    let first = deploy(load_balancers(WEST_ALB)).await;
    assert_eq!(
        first.iter().map(|(kind, _)| *kind).collect::<Vec<_>>(),
        ["accelerator", "listener", "group", "group"]
    );
    for (_, token) in &first {
        assert_token_is_valid(token);
    }
    assert_ne!(first[2].1, first[3].1, "one token per region's group");

    let retried = deploy(load_balancers(WEST_ALB)).await;
    assert_eq!(
        retried, first,
        "a retry of the same creation sends the same tokens"
    );

    // After a teardown the app stacks (and their load balancers) are new.
    let mut redeployed = load_balancers(
        "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/demo/west2",
    );
    redeployed[0].arn =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/demo/east2".into();
    let after_teardown = deploy(redeployed).await;
    assert_ne!(
        after_teardown[0].1, first[0].1,
        "a new creation does not reuse the deleted accelerator's token"
    );
    assert_ne!(after_teardown[2].1, first[2].1);
    assert_ne!(after_teardown[3].1, first[3].1);
}

const EU_ALB: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/demo/eu";

/// (region, dial, endpoint) of a CreateEndpointGroup call.
type CreatedGroup = (String, Option<f32>, String);

/// Three regions: home (us-east-1) first, then us-west-2 and eu-west-1.
fn three_load_balancers() -> Vec<RegionalLoadBalancer> {
    let mut balancers = load_balancers(WEST_ALB);
    balancers.push(RegionalLoadBalancer {
        region: "eu-west-1".into(),
        home: false,
        arn: EU_ALB.into(),
        dns_name: "demo-eu.eu-west-1.elb.amazonaws.com".into(),
        canonical_hosted_zone_id: Some("Z32O12XQLNTSW2".into()),
    });
    balancers
}

#[tokio::test]
async fn three_regions_get_one_endpoint_group_each_home_at_100_and_the_others_at_0() {
    let list = mock!(Client::list_accelerators)
        .sequence()
        .output(|| accelerators(vec![]))
        .output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]))
        .repeatedly()
        .build();
    let create = mock!(Client::create_accelerator).then_output(|| {
        CreateAcceleratorOutput::builder()
            .accelerator(accelerator(AcceleratorStatus::InProgress, true))
            .build()
    });
    let list_listeners = mock!(Client::list_listeners)
        .sequence()
        .output(|| listeners(vec![]))
        .output(|| listeners(vec![listener()]))
        .repeatedly()
        .build();
    let create_listener = mock!(Client::create_listener)
        .then_output(|| CreateListenerOutput::builder().listener(listener()).build());
    let list_groups = mock!(Client::list_endpoint_groups)
        .sequence()
        .output(|| groups(vec![]))
        .output(|| {
            groups(vec![
                group("us-east-1", 100.0, EAST_ALB),
                group("us-west-2", 0.0, WEST_ALB),
                group("eu-west-1", 0.0, EU_ALB),
            ])
        })
        .repeatedly()
        .build();
    let created: Arc<Mutex<Vec<CreatedGroup>>> = Arc::default();
    let create_group = {
        let created = created.clone();
        mock!(Client::create_endpoint_group).then_compute_output(move |request| {
            created.lock().unwrap().push((
                request
                    .endpoint_group_region()
                    .unwrap_or_default()
                    .to_string(),
                request.traffic_dial_percentage(),
                request.endpoint_configurations()[0]
                    .endpoint_id()
                    .unwrap_or_default()
                    .to_string(),
            ));
            CreateEndpointGroupOutput::builder().build()
        })
    };
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
            &describe_sequence(&[AcceleratorStatus::InProgress]),
        ]
    );
    let report = ensure(
        &entry(client, None),
        &three_load_balancers(),
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap();
    assert_eq!(
        captured(&created),
        [
            ("us-east-1".to_string(), Some(100.0), EAST_ALB.to_string()),
            ("us-west-2".to_string(), Some(0.0), WEST_ALB.to_string()),
            ("eu-west-1".to_string(), Some(0.0), EU_ALB.to_string()),
        ]
    );
    let description = report.state.description().unwrap();
    assert_eq!(description.serving_region(), Some("us-east-1"));
    let split = description.split();
    assert_eq!(
        (
            split.weight("us-east-1"),
            split.weight("us-west-2"),
            split.weight("eu-west-1")
        ),
        (100, 0, 0)
    );
}

/// Dial writes of a shift, in order, with the DEPLOYED waits between them.
async fn shift_log(existing: Vec<EndpointGroup>, to: &str) -> (ShiftOutcome, Vec<String>) {
    let log: Log = Arc::default();
    let list = mock!(Client::list_accelerators)
        .then_output(|| accelerators(vec![accelerator(AcceleratorStatus::Deployed, true)]));
    let list_listeners = mock!(Client::list_listeners).then_output(|| listeners(vec![listener()]));
    let list_groups =
        mock!(Client::list_endpoint_groups).then_output(move || groups(existing.clone()));
    let update = {
        let log = log.clone();
        mock!(Client::update_endpoint_group).then_compute_output(move |request| {
            let arn = request.endpoint_group_arn().unwrap_or_default();
            let region = arn.rsplit('/').next().unwrap_or_default();
            logged(
                &log,
                format!("{region} -> {:?}", request.traffic_dial_percentage()),
            );
            UpdateEndpointGroupOutput::builder().build()
        })
    };
    let describe_accelerator = {
        let log = log.clone();
        mock!(Client::describe_accelerator).then_compute_output(move |_| {
            logged(&log, "DEPLOYED".into());
            DescribeAcceleratorOutput::builder()
                .accelerator(accelerator(AcceleratorStatus::Deployed, true))
                .build()
        })
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
    let outcome = shift(
        &entry(client, None),
        "us-east-1",
        to,
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap();
    let writes = log.lock().unwrap().clone();
    (outcome, writes)
}

#[tokio::test]
async fn a_shift_to_the_third_region_moves_source_and_target_and_leaves_the_idle_region_alone() {
    let (outcome, writes) = shift_log(
        vec![
            group("us-east-1", 100.0, EAST_ALB),
            group("us-west-2", 0.0, WEST_ALB),
            group("eu-west-1", 0.0, EU_ALB),
        ],
        "eu-west-1",
    )
    .await;
    assert_eq!(
        writes,
        [
            "eu-west-1 -> Some(100.0)",
            "DEPLOYED",
            "us-east-1 -> Some(0.0)",
            "DEPLOYED"
        ],
        "us-west-2 (dial 0) is never written"
    );
    assert!(
        matches!(&outcome, ShiftOutcome::Shifted { actions, .. }
            if actions == &["eu-west-1 dial 0% -> 100%", "us-east-1 dial 100% -> 0%"]),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_shift_out_of_a_split_lowers_every_serving_region_after_raising_the_target() {
    let (_, writes) = shift_log(
        vec![
            group("us-east-1", 50.0, EAST_ALB),
            group("us-west-2", 50.0, WEST_ALB),
            group("eu-west-1", 0.0, EU_ALB),
        ],
        "eu-west-1",
    )
    .await;
    assert_eq!(
        writes,
        [
            "eu-west-1 -> Some(100.0)",
            "DEPLOYED",
            "us-east-1 -> Some(0.0)",
            "DEPLOYED",
            "us-west-2 -> Some(0.0)",
            "DEPLOYED"
        ]
    );
}

/// Deploy's split: the accelerator and listener are made while the app stacks build (no load
/// balancer yet, nothing waited for, the creation token from the home registry stack), then the
/// endpoint groups go onto that listener once the load balancers exist, and one wait covers it
/// all. The second half never lists accelerators (ListAccelerators may not show one created a
/// moment ago; listing would then create a second one): it works from what the first returned.
#[tokio::test]
async fn the_accelerator_made_ahead_gets_its_endpoint_groups_later_without_being_looked_up_again() {
    const REGISTRY_STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo-registry/0a1b2c3d-1111-2222-3333-444455556666";
    let list = mock!(Client::list_accelerators).then_output(|| accelerators(vec![]));
    let token = idempotency_token("accelerator", &["demo", REGISTRY_STACK]);
    let expected_token = token.clone();
    let create = mock!(Client::create_accelerator)
        .match_requests(move |request| request.idempotency_token() == Some(expected_token.as_str()))
        .then_output(|| {
            CreateAcceleratorOutput::builder()
                .accelerator(accelerator(AcceleratorStatus::InProgress, true))
                .build()
        });
    let list_listeners = mock!(Client::list_listeners)
        .sequence()
        .output(|| listeners(vec![]))
        .output(|| listeners(vec![listener()]))
        .repeatedly()
        .build();
    let create_listener = mock!(Client::create_listener)
        .then_output(|| CreateListenerOutput::builder().listener(listener()).build());
    let list_groups = mock!(Client::list_endpoint_groups)
        .sequence()
        .output(|| groups(vec![]))
        .output(|| {
            groups(vec![
                group("us-east-1", 100.0, EAST_ALB),
                group("us-west-2", 0.0, WEST_ALB),
            ])
        })
        .repeatedly()
        .build();
    let create_group = mock!(Client::create_endpoint_group)
        .match_requests(|request| request.listener_arn() == Some(LISTENER_ARN))
        .then_output(|| CreateEndpointGroupOutput::builder().build());
    let describe_accelerator = describe_sequence(&[AcceleratorStatus::InProgress]);
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
    let entry = entry(client, None);
    let prepared = prepare(&entry, REGISTRY_STACK, &Events::discard(), "accelerator")
        .await
        .unwrap()
        .expect("Global Accelerator mode prepares an accelerator");
    assert_eq!(prepared.accelerator_arn(), ACCELERATOR_ARN);
    assert_eq!(
        (create.num_calls(), create_listener.num_calls()),
        (1, 1),
        "accelerator and listener made ahead"
    );
    assert_eq!(
        create_group.num_calls(),
        0,
        "no endpoint group before the load balancers"
    );
    assert_eq!(
        describe_accelerator.num_calls(),
        0,
        "nothing waited for ahead"
    );

    let report = ensure_prepared(
        &entry,
        Some(prepared),
        &load_balancers(WEST_ALB),
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap();
    assert!(report.changed);
    assert_eq!(create_group.num_calls(), 2);
    assert_eq!(
        list.num_calls(),
        1,
        "accelerators listed once, ahead, never after the create"
    );
    assert_eq!(create.num_calls(), 1, "never a second accelerator");
    assert_eq!(
        describe_accelerator.num_calls(),
        3,
        "one wait through IN_PROGRESS until DEPLOYED, then read back by ARN"
    );
    assert!(
        report.summary().contains("created accelerator"),
        "the report tells what the first half did too: {}",
        report.summary()
    );
    let EntryState::Present(description) = &report.state else {
        panic!("{report:?}");
    };
    assert_eq!(description.serving_region(), Some("us-east-1"));
}
