//! Teardown with three regions, against modeled AWS responses (aws-smithy-mocks): the table's
//! replicas in both other regions removed one UpdateTable at a time (DynamoDB refuses another
//! UpdateTable while the table is UPDATING), ECS services waited for with the SDK's
//! services_inactive waiter, and verification looking in every region.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use aws_sdk_dynamodb::operation::update_table::UpdateTableOutput;
use aws_sdk_dynamodb::types::{ReplicaDescription, ReplicaStatus, TableDescription, TableStatus};
use aws_sdk_ecs::operation::delete_service::DeleteServiceOutput;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::list_services::ListServicesOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use aws_sdk_ecs::types::{Failure, Service};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;
use mysfits::app::RegionName;
use mysfits::aws::RegionClients;
use mysfits::cli::GlobalArgs;
use mysfits::config::{Config, ConfigFile};
use mysfits::progress::Events;
use mysfits::teardown::entry::GlobalClients;
use mysfits::teardown::removal::remove_services;
use mysfits::teardown::table::remove_replica;
use mysfits::teardown::verify::verify;
use mysfits::teardown::{Teardown, TeardownOptions};

use crate::teardown_mocks::route53_without_health_checks;

const HOME: &str = "us-east-1";
const OTHERS: [&str; 2] = ["us-west-2", "eu-west-1"];
const TABLE: &str = "demo-mysfits";
const LIMIT: Duration = Duration::from_secs(60);

/// The home table as DescribeTable reports it: its status and the replicas it lists.
fn home_table(status: TableStatus, replicas: &[(&str, ReplicaStatus)]) -> DescribeTableOutput {
    let mut table = TableDescription::builder()
        .table_name(TABLE)
        .table_status(status)
        .creation_date_time(DateTime::from_secs(1_700_000_000));
    for (region, replica_status) in replicas {
        table = table.replicas(
            ReplicaDescription::builder()
                .region_name(*region)
                .replica_status(replica_status.clone())
                .build(),
        );
    }
    DescribeTableOutput::builder().table(table.build()).build()
}

/// A replica's own table (its creation time feeds DynamoDB's 24-hour rule).
fn replica_client() -> aws_sdk_dynamodb::Client {
    let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
        .then_output(|| home_table(TableStatus::Active, &[]));
    mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe])
}

#[tokio::test(start_paused = true)]
async fn both_replicas_are_removed_one_update_at_a_time_with_the_table_active_in_between() {
    use ReplicaStatus::{Active, Deleting};
    // What the home table says, call after call: the first removal is applied (us-west-2
    // DELETING, then gone while the table is still UPDATING, then ACTIVE), then the second.
    let timeline: Arc<Mutex<Vec<String>>> = Arc::default();
    let states = [
        (
            TableStatus::Active,
            vec![(OTHERS[0], Active), (OTHERS[1], Active)],
        ),
        (
            TableStatus::Updating,
            vec![(OTHERS[0], Deleting), (OTHERS[1], Active)],
        ),
        (TableStatus::Updating, vec![(OTHERS[1], Active)]),
        (TableStatus::Active, vec![(OTHERS[1], Active)]),
        (TableStatus::Active, vec![(OTHERS[1], Active)]),
        (TableStatus::Updating, vec![(OTHERS[1], Deleting)]),
        (TableStatus::Updating, vec![]),
        (TableStatus::Active, vec![]),
    ];
    let mut describe = mock!(aws_sdk_dynamodb::Client::describe_table).sequence();
    for (status, replicas) in states {
        let timeline = timeline.clone();
        describe = describe.output(move || {
            timeline
                .lock()
                .unwrap()
                .push(format!("describe {}", status.as_str()));
            home_table(status.clone(), &replicas)
        });
    }
    let describe = describe.build();
    let update_timeline = timeline.clone();
    let update = mock!(aws_sdk_dynamodb::Client::update_table)
        .match_requests(|request| {
            request.replica_updates().len() == 1
                && request.replica_updates()[0].create().is_none()
                && request.replica_updates()[0].delete().is_some()
        })
        .then_output(move || {
            update_timeline.lock().unwrap().push("update".into());
            UpdateTableOutput::builder().build()
        });
    let home = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&describe, &update]);
    // In the plan's order: the second removal starts once the first has finished.
    for region in OTHERS {
        let removal = remove_replica(
            &home,
            HOME,
            &replica_client(),
            region,
            TABLE,
            &Events::discard(),
            "replica",
            LIMIT,
        )
        .await
        .unwrap();
        assert!(removal.removed, "{region}");
        assert_eq!(removal.region, region);
    }
    assert_eq!(update.num_calls(), 2, "one UpdateTable per replica");
    assert_eq!(describe.num_calls(), 8);
    let timeline = timeline.lock().unwrap().clone();
    let updates: Vec<usize> = timeline
        .iter()
        .enumerate()
        .filter(|(_, event)| *event == "update")
        .map(|(index, _)| index)
        .collect();
    for index in updates {
        assert_eq!(
            timeline[index - 1],
            "describe ACTIVE",
            "every UpdateTable is sent while the table is ACTIVE: {timeline:?}"
        );
    }
    assert_eq!(
        timeline.last().map(String::as_str),
        Some("describe ACTIVE"),
        "the last removal waits for the table to be ACTIVE again: {timeline:?}"
    );
}

/// A service as DescribeServices reports it.
fn service(name: &str, status: &str) -> Service {
    Service::builder().service_name(name).status(status).build()
}

#[tokio::test(start_paused = true)]
async fn services_are_waited_for_until_inactive_and_a_missing_one_counts_as_gone() {
    let (mysfits, like) = ("demo-mysfits-service", "demo-like-service");
    let list = mock!(aws_sdk_ecs::Client::list_services).then_output(move || {
        ListServicesOutput::builder()
            .service_arns(format!(
                "arn:aws:ecs:us-east-1:123456789012:service/demo/{mysfits}"
            ))
            .service_arns(format!(
                "arn:aws:ecs:us-east-1:123456789012:service/demo/{like}"
            ))
            .build()
    });
    // active_services' look, then the waiter for each service: mysfits drains, like is MISSING.
    let describe = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(move || {
            DescribeServicesOutput::builder()
                .services(service(mysfits, "ACTIVE"))
                .services(service(like, "ACTIVE"))
                .build()
        })
        .output(move || {
            DescribeServicesOutput::builder()
                .services(service(mysfits, "DRAINING"))
                .build()
        })
        .output(move || {
            DescribeServicesOutput::builder()
                .services(service(mysfits, "DRAINING"))
                .build()
        })
        .output(move || {
            DescribeServicesOutput::builder()
                .services(service(mysfits, "INACTIVE"))
                .build()
        })
        .output(move || {
            DescribeServicesOutput::builder()
                .failures(
                    Failure::builder()
                        .arn(format!(
                            "arn:aws:ecs:us-east-1:123456789012:service/demo/{like}"
                        ))
                        .reason("MISSING")
                        .build(),
                )
                .build()
        })
        .build();
    let scale = mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(|request| request.desired_count() == Some(0))
        .then_output(|| UpdateServiceOutput::builder().build());
    let delete = mock!(aws_sdk_ecs::Client::delete_service)
        .match_requests(|request| request.force() == Some(true))
        .then_output(|| DeleteServiceOutput::builder().build());
    let ecs = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        &[&list, &describe, &scale, &delete]
    );
    let mut clients = empty_region(HOME, Presence::default());
    clients.ecs = ecs;
    let started = tokio::time::Instant::now();
    let summary = remove_services(&clients, "demo", &Events::discard(), "services")
        .await
        .unwrap();
    assert_eq!(summary, "2 service(s) deleted and drained");
    assert_eq!((scale.num_calls(), delete.num_calls()), (2, 2));
    assert_eq!(describe.num_calls(), 5, "the waiter polled until INACTIVE");
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "the waiter's own delay (15 s at least between polls) ran on the paused clock: {:?}",
        started.elapsed()
    );
}

/// What one mocked region still holds.
#[derive(Default, Clone, Copy)]
struct Presence {
    table: bool,
    app_stack: bool,
}

fn validation_error(message: &'static str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code("ValidationError")
        .message(message)
        .build()
}

/// Rules answering every call verification makes in a region, for a region that holds only
/// what `presence` says.
fn region_rules(presence: Presence) -> (Vec<Rule>, Rule, Vec<Rule>) {
    let stacks = if presence.app_stack {
        mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .match_requests(|request| request.stack_name() == Some("demo-app"))
            .then_output(|| {
                crate::fixtures::cfn::stack(
                    aws_sdk_cloudformation::types::StackStatus::DeleteFailed,
                )
            })
    } else {
        mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .match_requests(|request| request.stack_name() == Some("demo-app"))
            .then_error(|| {
                aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError::generic(
                    validation_error("Stack with id demo-app does not exist"),
                )
            })
    };
    let registry_stack = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .match_requests(|request| request.stack_name() == Some("demo-registry"))
        .then_error(|| {
            aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError::generic(
                validation_error("Stack with id demo-registry does not exist"),
            )
        });
    let table = if presence.table {
        mock!(aws_sdk_dynamodb::Client::describe_table)
            .then_output(|| home_table(TableStatus::Active, &[]))
    } else {
        mock!(aws_sdk_dynamodb::Client::describe_table).then_error(|| {
            aws_sdk_dynamodb::operation::describe_table::DescribeTableError::generic(
                ErrorMetadata::builder()
                    .code("ResourceNotFoundException")
                    .message("Requested resource not found")
                    .build(),
            )
        })
    };
    let ec2 = vec![
        mock!(aws_sdk_ec2::Client::describe_vpcs).then_output(|| {
            aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput::builder().build()
        }),
        mock!(aws_sdk_ec2::Client::describe_subnets).then_output(|| {
            aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput::builder().build()
        }),
        mock!(aws_sdk_ec2::Client::describe_nat_gateways).then_output(|| {
            aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput::builder()
                .build()
        }),
        mock!(aws_sdk_ec2::Client::describe_addresses).then_output(|| {
            aws_sdk_ec2::operation::describe_addresses::DescribeAddressesOutput::builder().build()
        }),
    ];
    let data_stack = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .match_requests(|request| request.stack_name() == Some("demo-data"))
        .then_error(|| {
            aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError::generic(
                validation_error("Stack with id demo-data does not exist"),
            )
        });
    (vec![stacks, registry_stack, data_stack], table, ec2)
}

/// Region clients answering verification's calls for a region that holds only `presence`.
fn empty_region(region: &str, presence: Presence) -> RegionClients {
    let (stacks, table, ec2) = region_rules(presence);
    let stack_rules: Vec<&Rule> = stacks.iter().collect();
    let ec2_rules: Vec<&Rule> = ec2.iter().collect();
    let balancers = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers)
        .then_output(|| {
            aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput::builder().build()
        });
    let groups = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups)
        .then_output(|| {
            aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput::builder().build()
        });
    let clusters = mock!(aws_sdk_ecs::Client::describe_clusters).then_output(|| {
        aws_sdk_ecs::operation::describe_clusters::DescribeClustersOutput::builder().build()
    });
    let no_cluster = mock!(aws_sdk_ecs::Client::list_services).then_error(|| {
        aws_sdk_ecs::operation::list_services::ListServicesError::generic(
            ErrorMetadata::builder()
                .code("ClusterNotFoundException")
                .message("Cluster not found.")
                .build(),
        )
    });
    let families = mock!(aws_sdk_ecs::Client::list_task_definition_families).then_output(|| {
        aws_sdk_ecs::operation::list_task_definition_families::ListTaskDefinitionFamiliesOutput::builder().build()
    });
    let repositories = mock!(aws_sdk_ecr::Client::describe_repositories).then_error(|| {
        aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesError::generic(
            ErrorMetadata::builder()
                .code("RepositoryNotFoundException")
                .message("The repository does not exist")
                .build(),
        )
    });
    let log_groups = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_output(|| {
        aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput::builder()
            .build()
    });
    let dashboards = mock!(aws_sdk_cloudwatch::Client::list_dashboards).then_output(|| {
        aws_sdk_cloudwatch::operation::list_dashboards::ListDashboardsOutput::builder()
            .dashboard_entries(
                aws_sdk_cloudwatch::types::DashboardEntry::builder()
                    .dashboard_name("demo")
                    .build(),
            )
            .build()
    });
    RegionClients {
        region: region.into(),
        endpoint_url: None,
        cloudformation: mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &stack_rules),
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&dashboards]),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&table]),
        ecr: mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&repositories]),
        ecs: mock_client!(
            aws_sdk_ecs,
            RuleMode::MatchAny,
            &[&clusters, &no_cluster, &families]
        ),
        elbv2: mock_client!(
            aws_sdk_elasticloadbalancingv2,
            RuleMode::MatchAny,
            &[&balancers, &groups]
        ),
        ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &ec2_rules),
        logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[&log_groups]),
        autoscaling: mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &[]),
        xray: mock_client!(aws_sdk_xray, RuleMode::MatchAny, &[]),
    }
}

fn three_region_config() -> Config {
    let global = GlobalArgs {
        regions: [HOME, OTHERS[0], OTHERS[1]]
            .iter()
            .map(|region| region.to_string())
            .collect(),
        app: Some("demo".into()),
        ..GlobalArgs::default()
    };
    Config::resolve(&global, ConfigFile::default()).unwrap()
}

#[tokio::test]
async fn verification_looks_in_all_three_regions_and_for_the_dashboard_in_home_only() {
    let no_accelerators =
        mock!(aws_sdk_globalaccelerator::Client::list_accelerators).then_output(|| {
            aws_sdk_globalaccelerator::operation::list_accelerators::ListAcceleratorsOutput::builder()
                .build()
        });
    let global = GlobalClients {
        globalaccelerator: mock_client!(
            aws_sdk_globalaccelerator,
            RuleMode::MatchAny,
            &[&no_accelerators]
        ),
        route53: route53_without_health_checks(),
        globalaccelerator_endpoint: None,
        route53_endpoint: None,
    };
    // us-west-2 kept its app stack (DELETE_FAILED), eu-west-1 its replica's table; every region's
    // CloudWatch answers that a dashboard `demo` exists, but only home's is asked.
    let clients = BTreeMap::from([
        (
            RegionName::new(HOME),
            empty_region(HOME, Presence::default()),
        ),
        (
            RegionName::new(OTHERS[0]),
            empty_region(
                OTHERS[0],
                Presence {
                    app_stack: true,
                    ..Presence::default()
                },
            ),
        ),
        (
            RegionName::new(OTHERS[1]),
            empty_region(
                OTHERS[1],
                Presence {
                    table: true,
                    ..Presence::default()
                },
            ),
        ),
    ]);
    let teardown = Teardown {
        config: three_region_config(),
        options: TeardownOptions::default(),
        clients,
        global,
        events: Events::discard(),
        auto_failover_stacks: false,
    };
    let verification = verify(&teardown, &BTreeMap::new()).await;
    assert!(
        verification.unverified.is_empty(),
        "{:?}",
        verification.unverified
    );
    let remaining: Vec<(String, String, String)> = verification
        .remaining
        .iter()
        .map(|found| (found.region.clone(), found.kind.clone(), found.id.clone()))
        .collect();
    assert_eq!(
        remaining,
        [
            ("eu-west-1".into(), "dynamodb_table".into(), TABLE.into()),
            ("us-east-1".into(), "dashboard".into(), "demo".into()),
            (
                "us-west-2".into(),
                "stack".into(),
                "demo-app (DELETE_FAILED)".into()
            ),
        ]
    );
}
