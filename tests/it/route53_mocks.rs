//! Route 53 failover swaps checked against modeled Route 53 answers: the change batch a failover
//! sends (moto accepts batches AWS refuses), the wait until INSYNC, and AWS's InvalidChangeBatch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_route53::Client;
use aws_sdk_route53::operation::change_resource_record_sets::{
    ChangeResourceRecordSetsError, ChangeResourceRecordSetsOutput,
};
use aws_sdk_route53::operation::get_change::GetChangeOutput;
use aws_sdk_route53::operation::get_hosted_zone::GetHostedZoneOutput;
use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
use aws_sdk_route53::types::error::InvalidChangeBatch;
use aws_sdk_route53::types::{
    AliasTarget, ChangeAction, ChangeInfo, ChangeStatus, HostedZone, HostedZoneConfig,
    ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use mysfits::entry::{Control, EntryPoint, RegionalLoadBalancer, ShiftOutcome, ensure, shift};
use mysfits::progress::Events;

const ZONE: &str = "Z0123456789ABCDEFGHIJ";
const LIMIT: Duration = Duration::from_secs(10);

/// A failover alias record as ListResourceRecordSets returns it: the name with its trailing dot,
/// the alias target with Route 53's `dualstack.` prefix and trailing dot.
fn listed(region: &str, role: ResourceRecordSetFailover) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name("shop.example.com.")
        .r#type(RrType::A)
        .set_identifier(format!("demo-{region}"))
        .failover(role)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id("Z35SXDOTRQ7X7K")
                .dns_name(format!(
                    "dualstack.demo-{region}.{region}.elb.amazonaws.com."
                ))
                .evaluate_target_health(true)
                .build()
                .unwrap(),
        )
        .health_check_id(format!("hc-{region}"))
        .build()
        .unwrap()
}

fn listing() -> ListResourceRecordSetsOutput {
    ListResourceRecordSetsOutput::builder()
        .resource_record_sets(listed("us-east-1", ResourceRecordSetFailover::Primary))
        .resource_record_sets(listed("us-west-2", ResourceRecordSetFailover::Secondary))
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

fn entry(client: Client) -> EntryPoint {
    EntryPoint {
        app: "demo".into(),
        endpoint: None,
        control: Control::Route53 {
            client,
            hosted_zone_id: ZONE.into(),
            domain: "shop.example.com".into(),
        },
        traffic: Default::default(),
    }
}

/// One load balancer per region, the first one home's.
fn balancers(regions: &[&str]) -> Vec<RegionalLoadBalancer> {
    regions
        .iter()
        .enumerate()
        .map(|(index, region)| RegionalLoadBalancer {
            region: region.to_string(),
            home: index == 0,
            arn: format!(
                "arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/app/demo/1"
            ),
            dns_name: format!("demo.{region}.elb.amazonaws.com"),
            canonical_hosted_zone_id: Some("Z35SXDOTRQ7X7K".into()),
        })
        .collect()
}

type Sent = Arc<Mutex<Vec<(ChangeAction, ResourceRecordSet)>>>;

#[tokio::test(start_paused = true)]
async fn a_failover_swaps_roles_with_exact_deletes_and_creates_in_one_batch_and_waits_for_insync() {
    let list = mock!(Client::list_resource_record_sets).then_output(listing);
    let sent: Sent = Arc::default();
    let captured = sent.clone();
    let change = mock!(Client::change_resource_record_sets)
        .match_requests(move |request| {
            let batch = request.change_batch().unwrap();
            captured
                .lock()
                .unwrap()
                .extend(batch.changes().iter().map(|change| {
                    (
                        change.action().clone(),
                        change.resource_record_set().unwrap().clone(),
                    )
                }));
            request.hosted_zone_id() == Some(ZONE)
        })
        .then_output(|| {
            ChangeResourceRecordSetsOutput::builder()
                .change_info(change_info(ChangeStatus::Pending))
                .build()
        });
    let get_change = mock!(Client::get_change)
        .match_requests(|request| request.id() == Some("C0123456789"))
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
        .build();
    let client = mock_client!(
        aws_sdk_route53,
        RuleMode::MatchAny,
        &[&list, &change, &get_change]
    );
    let outcome = shift(
        &entry(client),
        "us-east-1",
        "us-west-2",
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
    assert_eq!(change.num_calls(), 1, "one atomic change batch");
    assert_eq!(get_change.num_calls(), 2, "waited until INSYNC");
    let sent = sent.lock().unwrap().clone();
    let actions: Vec<&str> = sent.iter().map(|(action, _)| action.as_str()).collect();
    assert_eq!(
        actions,
        ["DELETE", "DELETE", "CREATE", "CREATE"],
        "no UPSERT flips a failover role"
    );
    // A DELETE must carry every value of the existing record, exactly as Route 53 listed it.
    assert_eq!(
        sent[0].1,
        listed("us-east-1", ResourceRecordSetFailover::Primary)
    );
    assert_eq!(
        sent[1].1,
        listed("us-west-2", ResourceRecordSetFailover::Secondary)
    );
    assert_eq!(
        sent[2].1,
        listed("us-east-1", ResourceRecordSetFailover::Secondary)
    );
    assert_eq!(
        sent[3].1,
        listed("us-west-2", ResourceRecordSetFailover::Primary)
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_refused_as_invalid_names_route53s_reason_and_says_to_run_again() {
    let list = mock!(Client::list_resource_record_sets).then_output(listing);
    let change = mock!(Client::change_resource_record_sets).then_error(|| {
        ChangeResourceRecordSetsError::InvalidChangeBatch(
            InvalidChangeBatch::builder()
                .messages(
                    "[Tried to delete resource record set [name='shop.example.com.', type='A', \
                     set-identifier='demo-us-east-1'] but the values provided do not match the current values]",
                )
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_route53, RuleMode::MatchAny, &[&list, &change]);
    let error = shift(
        &entry(client),
        "us-east-1",
        "us-west-2",
        &Events::discard(),
        "shift",
        LIMIT,
    )
    .await
    .unwrap_err()
    .to_string();
    assert_eq!(
        change.num_calls(),
        1,
        "on AWS a refused batch is not resent in another shape"
    );
    assert!(error.contains("InvalidChangeBatch"), "{error}");
    assert!(error.contains("do not match the current values"), "{error}");
    assert!(
        error.contains("changed since they were read") && error.contains("run the command again"),
        "{error}"
    );
}

/// moto refuses a CREATE it has journaled before although the batch deletes the record first;
/// only behind an endpoint override is the swap resent as UPSERTs, and a note says so.
#[tokio::test(start_paused = true)]
async fn behind_an_endpoint_override_a_refused_swap_is_resent_as_upserts_with_a_note() {
    let list = mock!(Client::list_resource_record_sets).then_output(listing);
    let sent: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let captured = sent.clone();
    let change = mock!(Client::change_resource_record_sets)
        .match_requests(move |request| {
            captured.lock().unwrap().push(
                request
                    .change_batch()
                    .unwrap()
                    .changes()
                    .iter()
                    .map(|change| change.action().as_str().to_string())
                    .collect(),
            );
            true
        })
        .sequence()
        .error(|| {
            ChangeResourceRecordSetsError::InvalidChangeBatch(
                InvalidChangeBatch::builder()
                    .message("Tried to create resource record set [name='shop.example.com.', type='A'] but it already exists")
                    .build(),
            )
        })
        .output(|| {
            ChangeResourceRecordSetsOutput::builder()
                .change_info(change_info(ChangeStatus::Insync))
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_route53, RuleMode::MatchAny, &[&list, &change]);
    let mut entry = entry(client);
    entry.endpoint = Some("http://127.0.0.1:5000".into());
    let (events, mut receiver) = Events::channel();
    let outcome = shift(&entry, "us-east-1", "us-west-2", &events, "shift", LIMIT)
        .await
        .unwrap();
    assert!(
        matches!(outcome, ShiftOutcome::Shifted { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        *sent.lock().unwrap(),
        [
            vec!["DELETE", "DELETE", "CREATE", "CREATE"],
            vec!["UPSERT", "UPSERT"]
        ]
    );
    let notes = crate::util::notes(&mut receiver);
    assert!(
        notes.iter().any(|note| note.contains("emulator only")),
        "{notes:?}"
    );
}

/// A change that never gets INSYNC ends in a timeout that says what is still going on; the
/// generated waiter polls at once and then from 30 s on, so a 100 s limit sees only a few polls.
#[tokio::test(start_paused = true)]
async fn a_change_that_stays_pending_times_out_naming_the_wait() {
    let list = mock!(Client::list_resource_record_sets).then_output(listing);
    let change = mock!(Client::change_resource_record_sets).then_output(|| {
        ChangeResourceRecordSetsOutput::builder()
            .change_info(change_info(ChangeStatus::Pending))
            .build()
    });
    let get_change = mock!(Client::get_change)
        .match_requests(|request| request.id() == Some("C0123456789"))
        .then_output(|| {
            GetChangeOutput::builder()
                .change_info(change_info(ChangeStatus::Pending))
                .build()
        });
    let client = mock_client!(
        aws_sdk_route53,
        RuleMode::MatchAny,
        &[&list, &change, &get_change]
    );
    let error = shift(
        &entry(client),
        "us-east-1",
        "us-west-2",
        &Events::discard(),
        "shift",
        Duration::from_secs(100),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("Route 53 change to be INSYNC"), "{error}");
    assert!(error.contains("run the command again later"), "{error}");
    let polls = get_change.num_calls();
    assert!((2..=6).contains(&polls), "{polls} GetChange calls");
}

/// Route 53 failover records are a pair: handed three regions' load balancers, the entry point
/// refuses before any Route 53 call and says what to use instead.
#[tokio::test]
async fn three_load_balancers_are_refused_with_the_fix() {
    let list = mock!(Client::list_resource_record_sets).then_output(listing);
    let client = mock_client!(aws_sdk_route53, RuleMode::MatchAny, &[&list]);
    let balancers = balancers(&["us-east-1", "us-west-2", "eu-west-1"]);
    let error = ensure(
        &entry(client),
        &balancers,
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("exactly two regions") && error.contains("us-east-1, us-west-2, eu-west-1"),
        "{error}"
    );
    assert!(error.contains("Global Accelerator"), "{error}");
    assert_eq!(list.num_calls(), 0, "refused before any call");
}

/// A private hosted zone answers only inside its VPCs: the entry point refuses it before writing
/// any record, and says to use the public zone of the same name.
#[tokio::test]
async fn a_private_hosted_zone_is_refused_before_any_record_is_written() {
    let zone = mock!(Client::get_hosted_zone).then_output(|| {
        GetHostedZoneOutput::builder()
            .hosted_zone(
                HostedZone::builder()
                    .id(format!("/hostedzone/{ZONE}"))
                    .name("example.com.")
                    .caller_reference("zone")
                    .config(HostedZoneConfig::builder().private_zone(true).build())
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let list = mock!(Client::list_resource_record_sets).then_output(listing);
    let client = mock_client!(aws_sdk_route53, RuleMode::MatchAny, &[&zone, &list]);
    let balancers = balancers(&["us-east-1", "us-west-2"]);
    let error = ensure(
        &entry(client),
        &balancers,
        &Events::discard(),
        "entry point",
        LIMIT,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("private zone"), "{error}");
    assert!(error.contains("public zone of example.com"), "{error}");
    assert_eq!(list.num_calls(), 0, "refused before the records are read");
}
