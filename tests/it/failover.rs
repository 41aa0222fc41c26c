//! Failover, failback and drill.
//!
//! - `mocked`: the whole run (readiness, scale, shift, writes, verify) over modeled responses for what moto
//!   lacks: Global Accelerator dials and DynamoDB replica states, ReplicationLatency data.
//! - `emulator`: Route 53 failover records and ECS scaling against moto.
//! - `end_to_end`: the real binary after a real two-region deploy to moto: status, refused and
//!   forced failover, failback, the primary region at a dead port, and a drill under load. Every
//!   HTTP probe goes to a loopback server that reports a region, never to a DNS name.

use std::time::Duration;

use axum::Router;
use axum::routing::get;

/// A loopback server answering like the app's services do: header `x-mysfits-region` and a
/// `/health` body with `"region"`, where the region comes from `region()` at each request.
async fn region_server<F, Fut>(region: F) -> String
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = String> + Send,
{
    let app = Router::new().route(
        "/health",
        get(move || {
            let region = region.clone();
            async move {
                let region = region().await;
                (
                    [("x-mysfits-region", region.clone())],
                    axum::Json(serde_json::json!({ "status": "ok", "region": region })),
                )
            }
        }),
    );
    serve_health(app).await
}

/// Serves `app` on a loopback port; its `/health` URL.
async fn serve_health(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/health")
}

async fn fixed_region_server(region: &'static str) -> String {
    region_server(move || async move { region.to_string() }).await
}

const LIMIT: Duration = Duration::from_secs(10);

mod mocked {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
    use aws_sdk_applicationautoscaling::operation::register_scalable_target::RegisterScalableTargetOutput;
    use aws_sdk_applicationautoscaling::types::{
        ScalableDimension, ScalableTarget, ServiceNamespace,
    };
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
    use aws_sdk_cloudformation::types::{Output, Parameter, Stack, StackStatus};
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::get_metric_statistics::GetMetricStatisticsOutput;
    use aws_sdk_cloudwatch::types::Datapoint;
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
    use aws_sdk_dynamodb::operation::scan::ScanOutput;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    use aws_sdk_dynamodb::types::{
        ReplicaDescription, ReplicaStatus, TableDescription, TableStatus,
    };
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service};
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
    use aws_sdk_elasticloadbalancingv2::types::{
        TargetHealth, TargetHealthDescription, TargetHealthStateEnum,
    };
    use aws_sdk_globalaccelerator::operation::describe_accelerator::DescribeAcceleratorOutput;
    use aws_sdk_globalaccelerator::operation::list_accelerators::ListAcceleratorsOutput;
    use aws_sdk_globalaccelerator::operation::list_endpoint_groups::ListEndpointGroupsOutput;
    use aws_sdk_globalaccelerator::operation::list_listeners::ListListenersOutput;
    use aws_sdk_globalaccelerator::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_globalaccelerator::operation::update_endpoint_group::UpdateEndpointGroupOutput;
    use aws_sdk_globalaccelerator::types::{
        Accelerator, AcceleratorStatus, EndpointGroup, Listener, PortRange, Protocol,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;
    use mysfits::aws::RegionClients;
    use mysfits::config::RegionSettings;
    use mysfits::entry::{Control, EntryPoint, EntryState, ShiftOutcome};
    use mysfits::failover::readiness::{Thresholds, Verdict};
    use mysfits::failover::{Failover, FailoverOptions, Outcome, Side, run};
    use mysfits::progress::Events;
    use mysfits_catalogue::write_region::{Control as WriteRegionControl, ControlState};

    use super::{LIMIT, fixed_region_server};

    const EAST: &str = "us-east-1";
    const WEST: &str = "us-west-2";

    /// Every rule a region's clients answer with; kept so tests can count calls.
    struct RegionRules {
        rules: Vec<Rule>,
        /// (resource id, MinCapacity) of every RegisterScalableTarget call.
        minimums: Arc<Mutex<Vec<(String, i32)>>>,
    }

    impl RegionRules {
        fn minimums(&self) -> Vec<(String, i32)> {
            self.minimums.lock().unwrap().clone()
        }
    }

    /// Both services' scalable targets with `min` (max 6), and a recorder of minimum changes.
    fn autoscaling(min: i32, minimums: &Arc<Mutex<Vec<(String, i32)>>>) -> [Rule; 2] {
        let minimums = minimums.clone();
        [
            mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
                .then_compute_output(move |request| {
                    let mut output = DescribeScalableTargetsOutput::builder();
                    for id in request.resource_ids() {
                        output = output.scalable_targets(
                            ScalableTarget::builder()
                                .service_namespace(ServiceNamespace::Ecs)
                                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                                .resource_id(id)
                                .min_capacity(min)
                                .max_capacity(6)
                                .role_arn("arn:role")
                                .creation_time(DateTime::from_secs(0))
                                .build()
                                .unwrap(),
                        );
                    }
                    output.build()
                }),
            mock!(aws_sdk_applicationautoscaling::Client::register_scalable_target)
                .then_compute_output(move |request| {
                    minimums.lock().unwrap().push((
                        request.resource_id().unwrap_or_default().to_string(),
                        request.min_capacity().unwrap_or_default(),
                    ));
                    RegisterScalableTargetOutput::builder().build()
                }),
        ]
    }

    fn stack() -> Rule {
        mock!(aws_sdk_cloudformation::Client::describe_stacks).then_output(|| {
            let output = |key: &str, value: &str| {
                Output::builder()
                    .output_key(key)
                    .output_value(value)
                    .build()
            };
            let parameter = |key: &str, value: &str| {
                Parameter::builder()
                    .parameter_key(key)
                    .parameter_value(value)
                    .build()
            };
            DescribeStacksOutput::builder()
                .stacks(
                    Stack::builder()
                        .stack_name("demo-app")
                        .creation_time(DateTime::from_secs(0))
                        .stack_status(StackStatus::UpdateComplete)
                        .outputs(output("MysfitsTargetGroupArn", "tg/mysfits"))
                        .outputs(output("LikeTargetGroupArn", "tg/like"))
                        .outputs(output("ClusterName", "demo"))
                        .parameters(parameter("MaxCount", "6"))
                        .parameters(parameter("DesiredCount", "1"))
                        .parameters(parameter("MysfitsImage", "repo/mysfits@sha256:aaa"))
                        .parameters(parameter("LikeImage", "repo/like@sha256:bbb"))
                        .build(),
                )
                .build()
        })
    }

    fn services(desired: i32, running: i32) -> DescribeServicesOutput {
        let service = |name: &str| {
            Service::builder()
                .service_name(name)
                .status("ACTIVE")
                .desired_count(desired)
                .running_count(running)
                .deployments(
                    Deployment::builder()
                        .status("PRIMARY")
                        .rollout_state(DeploymentRolloutState::Completed)
                        .build(),
                )
                .build()
        };
        DescribeServicesOutput::builder()
            .services(service("demo-mysfits-service"))
            .services(service("demo-like-service"))
            .build()
    }

    fn target_health(healthy: usize) -> DescribeTargetHealthOutput {
        let mut output = DescribeTargetHealthOutput::builder();
        for index in 0..healthy {
            output = output.target_health_descriptions(
                TargetHealthDescription::builder()
                    .target(
                        aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                            .id(format!("10.0.0.{index}"))
                            .build(),
                    )
                    .target_health(
                        TargetHealth::builder()
                            .state(TargetHealthStateEnum::Healthy)
                            .build(),
                    )
                    .build(),
            );
        }
        output.build()
    }

    fn table(peer: &str, status: ReplicaStatus) -> Rule {
        let peer = peer.to_string();
        mock!(aws_sdk_dynamodb::Client::describe_table).then_output(move || {
            DescribeTableOutput::builder()
                .table(
                    TableDescription::builder()
                        .table_name("demo-mysfits")
                        .table_status(TableStatus::Active)
                        .replicas(
                            ReplicaDescription::builder()
                                .region_name(&peer)
                                .replica_status(status.clone())
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
    }

    fn latency(milliseconds: Option<f64>) -> Rule {
        mock!(aws_sdk_cloudwatch::Client::get_metric_statistics)
            .match_requests(|request| {
                request.metric_name() == Some("ReplicationLatency")
                    && request.namespace() == Some("AWS/DynamoDB")
                    && request
                        .dimensions()
                        .iter()
                        .any(|dimension| dimension.name() == Some("ReceivingRegion"))
            })
            .then_output(move || {
                let mut output = GetMetricStatisticsOutput::builder();
                if let Some(value) = milliseconds {
                    output = output.datapoints(
                        Datapoint::builder()
                            .timestamp(DateTime::from_secs(1_000))
                            .average(value)
                            .maximum(value * 2.0)
                            .build(),
                    );
                }
                output.build()
            })
    }

    /// The write-region control item as a region's replica has it (epoch 1).
    fn control_item(region: &'static str, state: ControlState) -> Rule {
        mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(
                    WriteRegionControl {
                        write_region: region.into(),
                        epoch: 1,
                        state,
                    }
                    .to_item(),
                ))
                .build()
        })
    }

    /// Every mysfit's version (one mysfit), the same in both replicas.
    fn versions() -> Rule {
        mock!(aws_sdk_dynamodb::Client::scan).then_output(|| {
            ScanOutput::builder()
                .items(std::collections::HashMap::from([
                    (
                        "MysfitId".to_string(),
                        aws_sdk_dynamodb::types::AttributeValue::S("bramble".into()),
                    ),
                    (
                        "Version".to_string(),
                        aws_sdk_dynamodb::types::AttributeValue::N("2".into()),
                    ),
                ]))
                .count(1)
                .build()
        })
    }

    fn alarms() -> Rule {
        mock!(aws_sdk_cloudwatch::Client::describe_alarms)
            .then_output(|| DescribeAlarmsOutput::builder().build())
    }

    fn clients(region: &str, rules: &RegionRules) -> RegionClients {
        // The rules are in a fixed order per service (see source_rules / target_rules).
        RegionClients {
            region: region.to_string(),
            endpoint_url: None,
            cloudformation: mock_client!(
                aws_sdk_cloudformation,
                RuleMode::MatchAny,
                &rules.rules[0..1]
            ),
            ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &rules.rules[1..3]),
            elbv2: mock_client!(
                aws_sdk_elasticloadbalancingv2,
                RuleMode::MatchAny,
                &rules.rules[3..4]
            ),
            dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &{
                // The table's description, then the write region's control item (index 9 on).
                let mut table_rules = rules.rules[4..5].to_vec();
                table_rules.extend(rules.rules[9..].iter().cloned());
                table_rules
            }),
            cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &rules.rules[5..7]),
            ecr: mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[]),
            ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[]),
            logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[]),
            autoscaling: mock_client!(
                aws_sdk_applicationautoscaling,
                RuleMode::MatchAny,
                &rules.rules[7..9]
            ),
            xray: mock_client!(aws_sdk_xray, RuleMode::MatchAny, &[]),
        }
    }

    /// The source region: 3 tasks per service, healthy, replicating to the target; its
    /// autoscaling minimum is 3, above its configured DesiredCount of 1, as after a failover to it.
    fn source_rules(replica: ReplicaStatus, latency_ms: Option<f64>) -> RegionRules {
        let minimums = Arc::default();
        let [scalable_targets, register] = autoscaling(3, &minimums);
        RegionRules {
            minimums,
            rules: vec![
                stack(),
                mock!(aws_sdk_ecs::Client::describe_services).then_output(|| services(3, 3)),
                mock!(aws_sdk_ecs::Client::update_service)
                    .then_output(|| UpdateServiceOutput::builder().build()),
                mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
                    .then_output(|| target_health(3)),
                table(WEST, replica),
                latency(latency_ms),
                alarms(),
                scalable_targets,
                register,
                // The write region: us-east-1 active at epoch 1, frozen by the move.
                control_item(EAST, ControlState::Active),
                mock!(aws_sdk_dynamodb::Client::update_item)
                    .then_output(|| UpdateItemOutput::builder().build()),
                versions(),
            ],
        }
    }

    /// The target region: a warm standby of one task per service (autoscaling minimum 1) that
    /// scales up when asked.
    fn target_rules(desired_counts: Arc<Mutex<Vec<i32>>>) -> RegionRules {
        let minimums = Arc::default();
        let [scalable_targets, register] = autoscaling(1, &minimums);
        RegionRules {
            minimums,
            rules: vec![
                stack(),
                mock!(aws_sdk_ecs::Client::describe_services)
                    .sequence()
                    .output(|| services(1, 1))
                    .output(|| services(3, 1))
                    .output(|| services(3, 3))
                    .repeatedly()
                    .build(),
                mock!(aws_sdk_ecs::Client::update_service).then_compute_output(move |request| {
                    desired_counts
                        .lock()
                        .unwrap()
                        .push(request.desired_count().unwrap_or_default());
                    UpdateServiceOutput::builder().build()
                }),
                mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
                    .sequence()
                    .output(|| target_health(1))
                    .times(4)
                    .output(|| target_health(3))
                    .repeatedly()
                    .build(),
                table(EAST, ReplicaStatus::Active),
                latency(None),
                alarms(),
                scalable_targets,
                register,
                // The replica has the frozen control item and the same versions: switched.
                control_item(EAST, ControlState::Moving),
                versions(),
                mock!(aws_sdk_dynamodb::Client::put_item)
                    .then_output(|| PutItemOutput::builder().build()),
            ],
        }
    }

    fn group(region: &str, dial: f32) -> EndpointGroup {
        EndpointGroup::builder()
            .endpoint_group_arn(format!("arn:group/{region}"))
            .endpoint_group_region(region)
            .traffic_dial_percentage(dial)
            .build()
    }

    struct Accelerated {
        entry: EntryPoint,
        dial_writes: Rule,
        /// "REGION -> DIAL" of every endpoint group update, in order.
        writes: Arc<Mutex<Vec<String>>>,
    }

    fn accelerator() -> Accelerated {
        accelerator_with(&[(EAST, 100.0), (WEST, 0.0)])
    }

    /// The app's accelerator with one endpoint group per (region, dial).
    fn accelerator_with(dials: &[(&'static str, f32)]) -> Accelerated {
        let dials = dials.to_vec();
        let accelerator = || {
            Accelerator::builder()
                .accelerator_arn("arn:accelerator/demo")
                .name("demo")
                .enabled(true)
                .status(AcceleratorStatus::Deployed)
                .dns_name("a1.awsglobalaccelerator.com")
                .build()
        };
        let list =
            mock!(aws_sdk_globalaccelerator::Client::list_accelerators).then_output(move || {
                ListAcceleratorsOutput::builder()
                    .accelerators(accelerator())
                    .build()
            });
        let tags =
            mock!(aws_sdk_globalaccelerator::Client::list_tags_for_resource).then_output(|| {
                ListTagsForResourceOutput::builder()
                    .tags(
                        aws_sdk_globalaccelerator::types::Tag::builder()
                            .key("mysfits:app")
                            .value("demo")
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let listeners =
            mock!(aws_sdk_globalaccelerator::Client::list_listeners).then_output(|| {
                ListListenersOutput::builder()
                    .listeners(
                        Listener::builder()
                            .listener_arn("arn:listener")
                            .protocol(Protocol::Tcp)
                            .port_ranges(PortRange::builder().from_port(80).to_port(80).build())
                            .build(),
                    )
                    .build()
            });
        let groups =
            mock!(aws_sdk_globalaccelerator::Client::list_endpoint_groups).then_output(move || {
                ListEndpointGroupsOutput::builder()
                    .set_endpoint_groups(Some(
                        dials
                            .iter()
                            .map(|(region, dial)| group(region, *dial))
                            .collect(),
                    ))
                    .build()
            });
        let writes: Arc<Mutex<Vec<String>>> = Arc::default();
        let dial_writes = {
            let writes = writes.clone();
            mock!(aws_sdk_globalaccelerator::Client::update_endpoint_group).then_compute_output(
                move |request| {
                    let arn = request.endpoint_group_arn().unwrap_or_default();
                    writes.lock().unwrap().push(format!(
                        "{} -> {:?}",
                        arn.trim_start_matches("arn:group/"),
                        request.traffic_dial_percentage()
                    ));
                    UpdateEndpointGroupOutput::builder().build()
                },
            )
        };
        let describe =
            mock!(aws_sdk_globalaccelerator::Client::describe_accelerator).then_output(move || {
                DescribeAcceleratorOutput::builder()
                    .accelerator(accelerator())
                    .build()
            });
        let client = mock_client!(
            aws_sdk_globalaccelerator,
            RuleMode::MatchAny,
            &[&list, &tags, &listeners, &groups, &dial_writes, &describe]
        );
        Accelerated {
            entry: EntryPoint {
                app: "demo".into(),
                endpoint: None,
                control: Control::GlobalAccelerator(client),
                traffic: Default::default(),
            },
            dial_writes,
            writes,
        }
    }

    fn settings(name: &str, home: bool, desired_count: u32) -> RegionSettings {
        RegionSettings {
            name: name.into(),
            home,
            // Transitional field of the config, derived from `home` there too.
            endpoint_url: None,
            registry_url: None,
            availability_zones: None,
            desired_count,
            max_count: 6,
            certificate_arn: None,
        }
    }

    fn failover(source: RegionClients, target: RegionClients, entry: EntryPoint) -> Failover {
        Failover {
            app: "demo".into(),
            table: "demo-mysfits".into(),
            source: Side {
                settings: settings(EAST, true, 2),
                clients: source,
                answer_limit: Duration::from_secs(8),
            },
            target: Side {
                settings: settings(WEST, false, 1),
                clients: target,
                answer_limit: Duration::from_secs(30),
            },
            entry,
            fallback_capacity: 2,
            entry_state: None,
            direction_note: None,
        }
    }

    fn options(verify_url: Option<String>) -> FailoverOptions {
        FailoverOptions {
            dry_run: false,
            force: false,
            thresholds: Thresholds {
                max_replication_latency_ms: 2000.0,
            },
            timeout: LIMIT,
            verify_url,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ready_target_is_scaled_to_the_source_capacity_shifted_and_verified() {
        let desired = Arc::new(Mutex::new(Vec::new()));
        let source = source_rules(ReplicaStatus::Active, Some(180.0));
        let target = target_rules(desired.clone());
        let accelerated = accelerator();
        let failover = failover(
            clients(EAST, &source),
            clients(WEST, &target),
            accelerated.entry.clone(),
        );
        let url = fixed_region_server(WEST).await;
        let report = run(&failover, &options(Some(url)), &Events::discard())
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Completed, "{}", report.text());
        assert!(
            report
                .checks
                .iter()
                .all(|check| check.verdict == Verdict::Ready),
            "{}",
            report.text()
        );
        assert_eq!(
            *desired.lock().unwrap(),
            [3, 3],
            "source capacity, both services"
        );
        let both = |min: i32| {
            vec![
                ("service/demo/demo-mysfits-service".to_string(), min),
                ("service/demo/demo-like-service".to_string(), min),
            ]
        };
        assert_eq!(
            target.minimums(),
            both(3),
            "target tracking must not scale the target back in below the source capacity"
        );
        assert_eq!(
            source.minimums(),
            both(1),
            "the region traffic left gets its configured minimum (DesiredCount) back"
        );
        assert!(report.scale.as_ref().unwrap().settled);
        assert_eq!(
            accelerated.dial_writes.num_calls(),
            2,
            "target up, source down"
        );
        assert!(matches!(report.shift, Some(ShiftOutcome::Shifted { .. })));
        let phases: Vec<&str> = report
            .phases
            .iter()
            .map(|phase| phase.name.as_str())
            .collect();
        assert_eq!(phases, ["readiness", "scale", "shift", "writes", "verify"]);
        let writes = report.writes.as_ref().unwrap();
        assert_eq!(
            (writes.from.as_str(), writes.to.as_str(), writes.epoch_after),
            (EAST, WEST, 2),
            "the write region moved with the traffic"
        );
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let text = report.text();
        assert!(text.contains("total"), "{text}");
        assert!(
            text.contains("us-west-2 demo-mysfits-service 1 -> 3 (raised)")
                && text.contains("us-east-1 demo-like-service 3 -> 1 (restored)"),
            "{text}"
        );
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    }

    /// Three regions, home serving: a failover to us-west-2 raises its dial and lowers home's; the
    /// third region's group (dial 0) is never written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_three_regions_only_the_source_and_target_dials_move() {
        let desired = Arc::new(Mutex::new(Vec::new()));
        let source = source_rules(ReplicaStatus::Active, Some(180.0));
        let target = target_rules(desired.clone());
        let accelerated = accelerator_with(&[(EAST, 100.0), (WEST, 0.0), ("eu-west-1", 0.0)]);
        let failover = failover(
            clients(EAST, &source),
            clients(WEST, &target),
            accelerated.entry.clone(),
        );
        let url = fixed_region_server(WEST).await;
        let report = run(&failover, &options(Some(url)), &Events::discard())
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Completed, "{}", report.text());
        assert_eq!(
            *accelerated.writes.lock().unwrap(),
            ["us-west-2 -> Some(100.0)", "us-east-1 -> Some(0.0)"]
        );
        assert!(
            report
                .text()
                .contains("us-west-2 dial 0% -> 100%, us-east-1 dial 100% -> 0%"),
            "{}",
            report.text()
        );
    }

    #[tokio::test]
    async fn a_replica_still_creating_refuses_the_failover_and_changes_nothing() {
        let desired = Arc::new(Mutex::new(Vec::new()));
        let source = source_rules(ReplicaStatus::Creating, Some(180.0));
        let target = target_rules(desired.clone());
        let accelerated = accelerator();
        let failover = failover(
            clients(EAST, &source),
            clients(WEST, &target),
            accelerated.entry.clone(),
        );
        let report = run(&failover, &options(None), &Events::discard())
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Refused);
        let not_ready: Vec<&str> = report
            .not_ready()
            .iter()
            .map(|check| check.name.as_str())
            .collect();
        assert!(not_ready.contains(&"table replica"), "{}", report.text());
        assert!(report.text().contains("replica in us-west-2 is CREATING"));
        assert!(desired.lock().unwrap().is_empty(), "no scale-up");
        assert!(target.minimums().is_empty() && source.minimums().is_empty());
        assert_eq!(accelerated.dial_writes.num_calls(), 0, "no dial change");
    }

    #[tokio::test]
    async fn an_entry_point_read_before_the_run_is_not_asked_again() {
        // `mysfits failover` without --to reads the entry point to choose the direction; when its
        // control plane is silent, asking again would cost a second timeout.
        let source = source_rules(ReplicaStatus::Active, Some(180.0));
        let target = target_rules(Arc::default());
        let mut failover = failover(
            clients(EAST, &source),
            clients(WEST, &target),
            accelerator().entry,
        );
        let read_before = EntryState::Unreachable {
            reason: "ListAccelerators: no answer within 10 s".into(),
        };
        failover.entry_state = Some(read_before.clone());
        let mut dry_run = options(None);
        dry_run.dry_run = true;
        let report = run(&failover, &dry_run, &Events::discard()).await.unwrap();
        assert_eq!(
            report.entry_point, read_before,
            "the mocked accelerator answers, so a second read would show it"
        );
    }

    #[tokio::test]
    async fn replication_latency_over_the_limit_is_not_ready() {
        let source = source_rules(ReplicaStatus::Active, Some(12_000.0));
        let target = target_rules(Arc::default());
        let failover = failover(
            clients(EAST, &source),
            clients(WEST, &target),
            accelerator().entry,
        );
        let mut dry_run = options(None);
        dry_run.dry_run = true;
        let report = run(&failover, &dry_run, &Events::discard()).await.unwrap();
        assert_eq!(report.outcome, Outcome::DryRun);
        let latency = report
            .checks
            .iter()
            .find(|check| check.name == "replication latency")
            .unwrap();
        assert_eq!(latency.verdict, Verdict::NotReady);
        assert!(latency.detail.contains("12000 ms"), "{}", latency.detail);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_the_source_down_the_failover_goes_on_and_lists_what_it_skipped() {
        let dead = testbed::dead_endpoint();
        let source = RegionClients::new(&testbed::moto::sdk_config_for(&dead, EAST));
        let desired = Arc::new(Mutex::new(Vec::new()));
        let target = target_rules(desired.clone());
        let accelerated = accelerator();
        let failover = failover(source, clients(WEST, &target), accelerated.entry.clone());
        let url = fixed_region_server(WEST).await;
        let report = run(&failover, &options(Some(url)), &Events::discard())
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Completed, "{}", report.text());
        assert!(
            report.skipped.iter().any(|line| line
                .contains("DescribeStacks demo-app in us-east-1 (region refused the connection)")),
            "{:?}",
            report.skipped
        );
        let unknown: Vec<&str> = report
            .checks
            .iter()
            .filter(|check| check.verdict == Verdict::Unknown)
            .map(|check| check.name.as_str())
            .collect();
        assert_eq!(unknown, ["replication latency", "image digests"]);
        assert_eq!(
            *desired.lock().unwrap(),
            [2, 2],
            "the source's configured capacity stands in for its desired count"
        );
        assert_eq!(target.minimums().len(), 2);
        assert!(
            report
                .skipped
                .iter()
                .any(|line| line.starts_with("autoscaling minimum of us-east-1: not checked")),
            "{:?}",
            report.skipped
        );
        assert!(
            report
                .scale_plan
                .as_ref()
                .unwrap()
                .capacity_from
                .contains("did not answer")
        );
        assert_eq!(accelerated.dial_writes.num_calls(), 2);
    }
}

mod emulator {
    use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
    use aws_sdk_route53::types::{ResourceRecordSetFailover, RrType};
    use mysfits::aws::RegionClients;
    use mysfits::entry::{
        Control, EntryPoint, EntryState, RegionalLoadBalancer, ShiftOutcome, describe, ensure,
        shift,
    };
    use mysfits::failover::scale::{ScalePlan, ServiceScale, scale};
    use mysfits::progress::Events;
    use mysfits::teardown::entry::{GlobalClients, Removal, remove_entry_point};
    use testbed::moto::Moto;

    use super::LIMIT;

    fn balancer(region: &str, home: bool) -> RegionalLoadBalancer {
        RegionalLoadBalancer {
            region: region.into(),
            home,
            arn: format!(
                "arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/app/r53/1"
            ),
            dns_name: format!("r53-{region}.{region}.elb.amazonaws.com"),
            canonical_hosted_zone_id: Some("Z35SXDOTRQ7X7K".into()),
        }
    }

    async fn records(client: &aws_sdk_route53::Client, zone: &str) -> Vec<(String, String)> {
        let listed = client
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .send()
            .await
            .unwrap();
        let mut found: Vec<(String, String)> = listed
            .resource_record_sets()
            .iter()
            .filter(|record| record.r#type() == &RrType::A)
            .map(|record| {
                (
                    record.set_identifier().unwrap_or_default().to_string(),
                    record
                        .failover()
                        .map(ResourceRecordSetFailover::as_str)
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        found.sort();
        found
    }

    #[tokio::test]
    #[ignore = "emulator tier: needs moto_server; run scripts/test"]
    async fn route53_records_are_created_kept_swapped_and_removed() {
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
        let entry = EntryPoint {
            app: "r53".into(),
            endpoint: Some(moto.endpoint()),
            control: Control::Route53 {
                client: client.clone(),
                hosted_zone_id: zone.clone(),
                domain: "shop.example.test".into(),
            },
            traffic: Default::default(),
        };
        let balancers = [balancer("us-east-1", true), balancer("us-west-2", false)];

        let created = ensure(&entry, &balancers, &Events::discard(), "entry", LIMIT)
            .await
            .unwrap();
        assert!(created.changed, "{created:?}");
        assert_eq!(
            records(&client, &zone).await,
            [
                ("r53-us-east-1".to_string(), "PRIMARY".to_string()),
                ("r53-us-west-2".to_string(), "SECONDARY".to_string())
            ]
        );
        let checks = client.list_health_checks().send().await.unwrap();
        assert_eq!(checks.health_checks().len(), 2);
        assert!(checks.health_checks().iter().all(|check| {
            let config = check.health_check_config().unwrap();
            config.resource_path() == Some("/health") && config.request_interval() == Some(10)
        }));

        let again = ensure(&entry, &balancers, &Events::discard(), "entry", LIMIT)
            .await
            .unwrap();
        assert!(!again.changed, "a redeploy writes nothing: {again:?}");
        assert_eq!(
            client
                .list_health_checks()
                .send()
                .await
                .unwrap()
                .health_checks()
                .len(),
            2,
            "no health check leaks"
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
            matches!(shifted, ShiftOutcome::Shifted { .. }),
            "{shifted:?}"
        );
        assert_eq!(
            records(&client, &zone).await,
            [
                ("r53-us-east-1".to_string(), "SECONDARY".to_string()),
                ("r53-us-west-2".to_string(), "PRIMARY".to_string())
            ]
        );
        let EntryState::Present(description) = describe(&entry).await else {
            panic!("records exist");
        };
        assert_eq!(description.serving_region(), Some("us-west-2"));
        let after_failover = ensure(&entry, &balancers, &Events::discard(), "entry", LIMIT)
            .await
            .unwrap();
        assert!(
            !after_failover.changed,
            "a deploy after a failover must not fail back"
        );
        assert_eq!(
            shift(
                &entry,
                "us-east-1",
                "us-west-2",
                &Events::discard(),
                "shift",
                LIMIT
            )
            .await
            .unwrap(),
            ShiftOutcome::AlreadyServing
        );

        // Teardown's removal finds the records through the app's tagged health checks.
        let clients = GlobalClients {
            globalaccelerator: mysfits::entry::global_accelerator_client(
                &moto.sdk_config("us-west-2"),
            ),
            route53: client.clone(),
            globalaccelerator_endpoint: Some(moto.endpoint()),
            route53_endpoint: Some(moto.endpoint()),
        };
        let removed = remove_entry_point(&clients, "r53", &Events::discard(), "entry")
            .await
            .unwrap();
        assert!(
            matches!(&removed.route53, Removal::Removed { .. }),
            "{removed:?}"
        );
        assert!(records(&client, &zone).await.is_empty());
        assert!(
            client
                .list_health_checks()
                .send()
                .await
                .unwrap()
                .health_checks()
                .is_empty()
        );
        assert_eq!(describe(&entry).await, EntryState::Absent);
    }

    #[tokio::test]
    #[ignore = "emulator tier: needs moto_server; run scripts/test"]
    async fn a_domain_outside_the_zone_and_a_foreign_record_are_refused() {
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
        let entry = |domain: &str| EntryPoint {
            app: "r53".into(),
            endpoint: Some(moto.endpoint()),
            control: Control::Route53 {
                client: client.clone(),
                hosted_zone_id: zone.clone(),
                domain: domain.into(),
            },
            traffic: Default::default(),
        };
        let balancers = [balancer("us-east-1", true)];
        let outside = ensure(
            &entry("shop.other.test"),
            &balancers,
            &Events::discard(),
            "e",
            LIMIT,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(outside.contains("is not inside hosted zone"), "{outside}");

        let plain = aws_sdk_route53::types::ResourceRecordSet::builder()
            .name("taken.example.test")
            .r#type(RrType::A)
            .ttl(60)
            .resource_records(
                aws_sdk_route53::types::ResourceRecord::builder()
                    .value("192.0.2.1")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        client
            .change_resource_record_sets()
            .hosted_zone_id(&zone)
            .change_batch(
                aws_sdk_route53::types::ChangeBatch::builder()
                    .changes(
                        aws_sdk_route53::types::Change::builder()
                            .action(aws_sdk_route53::types::ChangeAction::Create)
                            .resource_record_set(plain)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let taken = ensure(
            &entry("taken.example.test"),
            &balancers,
            &Events::discard(),
            "e",
            LIMIT,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(taken.contains("mysfits does not manage"), "{taken}");
    }

    #[tokio::test]
    #[ignore = "emulator tier: needs moto_server; run scripts/test"]
    async fn ecs_services_are_scaled_up_and_waited_for_on_moto() {
        let moto = Moto::start_with_env(&[("MOTO_ECS_SERVICE_RUNNING", "3")]);
        let clients = RegionClients::new(&moto.sdk_config("us-west-2"));
        clients
            .ecs
            .create_cluster()
            .cluster_name("demo")
            .send()
            .await
            .unwrap();
        clients
            .ecs
            .register_task_definition()
            .family("demo")
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name("app")
                    .image("repo@sha256:abc")
                    .memory(512)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        for name in ["demo-mysfits-service", "demo-like-service"] {
            clients
                .ecs
                .create_service()
                .cluster("demo")
                .service_name(name)
                .task_definition("demo")
                .desired_count(1)
                .send()
                .await
                .unwrap();
        }
        // The mysfits service has target tracking as the app stack sets it up (min 1, max 2);
        // the like service has none.
        clients
            .autoscaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id("service/demo/demo-mysfits-service")
            .min_capacity(1)
            .max_capacity(2)
            .send()
            .await
            .unwrap();
        let plan = ScalePlan {
            services: mysfits::app::SERVICES
                .iter()
                .map(|kind| ServiceScale {
                    kind,
                    name: mysfits::app::names::ecs_service("demo", kind),
                    cluster: "demo".into(),
                    from: 1,
                    to: 3,
                    target_group_arn: None,
                })
                .collect(),
            capacity_from: "test".into(),
        };
        let report = scale(&clients, &plan, LIMIT, &Events::discard(), "scale")
            .await
            .unwrap();
        assert!(report.settled, "{report:?}");
        let described = clients
            .ecs
            .describe_services()
            .cluster("demo")
            .services("demo-mysfits-service")
            .services("demo-like-service")
            .send()
            .await
            .unwrap();
        assert!(
            described
                .services()
                .iter()
                .all(|service| service.desired_count() == 3),
            "{:?}",
            described.services()
        );
        let targets = clients
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .send()
            .await
            .unwrap();
        let ranges: Vec<(&str, i32, i32)> = targets
            .scalable_targets()
            .iter()
            .map(|target| {
                (
                    target.resource_id(),
                    target.min_capacity(),
                    target.max_capacity(),
                )
            })
            .collect();
        assert_eq!(
            ranges,
            [("service/demo/demo-mysfits-service", 3, 3)],
            "the minimum follows the new count, the maximum is raised to allow it"
        );
        assert_eq!(report.minimums.len(), 1, "{report:?}");
        assert_eq!(report.without_autoscaling, ["demo-like-service"]);
    }
}

mod end_to_end {

    use testbed::moto::Moto;
    use testbed::registry::Registry;

    use std::time::Duration;

    use axum::Router;
    use axum::routing::get;

    use super::{fixed_region_server, region_server, serve_health};
    use crate::fixtures::emulator::static_service_binaries;
    use crate::util::{Mysfits, Run};

    const PRIMARY: &str = "us-east-1";
    const SECONDARY: &str = "us-west-2";
    const DOMAIN: &str = "shop.example.test";

    fn config(
        moto: &Moto,
        zone: &str,
        registries: (&Registry, &Registry),
        primary_endpoint: Option<&str>,
    ) -> String {
        let primary_endpoint = primary_endpoint
            .map(|endpoint| format!("    endpoint_url: {endpoint}\n"))
            .unwrap_or_default();
        format!(
            "app: fo\nregion: {PRIMARY}\nsecondary_region: {SECONDARY}\nendpoint_url: {}\n\
             entry_point:\n  mode: route53\n  hosted_zone_id: {zone}\n  domain: {DOMAIN}\n\
             regions:\n  {PRIMARY}:\n{primary_endpoint}    registry_url: {}\n    availability_zones: [us-east-1a, us-east-1b]\n    desired_count: 2\n\
             \x20 {SECONDARY}:\n    registry_url: {}\n    availability_zones: [us-west-2a, us-west-2b]\n    desired_count: 1\n",
            moto.endpoint(),
            registries.0.url(),
            registries.1.url()
        )
    }

    fn mysfits(moto: &Moto, config_text: &str, args: &[&str]) -> Run {
        let mysfits = Mysfits::new();
        let path = mysfits.file("mysfits.yaml", config_text);
        let mut full = vec!["--config", path.to_str().unwrap()];
        full.extend_from_slice(args);
        mysfits.envs(moto.client_env()).run(&full)
    }

    fn json(run: &Run) -> serde_json::Value {
        serde_json::from_str(&run.stdout()).unwrap_or_else(|error| {
            panic!("no JSON ({error}):\n{}\n{}", run.stdout(), run.stderr())
        })
    }

    /// The region whose failover record is PRIMARY, as Route 53 (moto) has it now.
    async fn primary_record(client: &aws_sdk_route53::Client, zone: &str) -> String {
        let listed = client
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .send()
            .await
            .unwrap();
        listed
            .resource_record_sets()
            .iter()
            .find(|record| {
                record.failover()
                    == Some(&aws_sdk_route53::types::ResourceRecordSetFailover::Primary)
            })
            .and_then(|record| record.set_identifier())
            .map(|identifier| identifier.trim_start_matches("fo-").to_string())
            .unwrap_or_default()
    }

    async fn secondary_desired(moto: &Moto) -> Vec<i32> {
        desired(&aws_sdk_ecs::Client::new(&moto.sdk_config(SECONDARY))).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "emulator tier: needs moto_server, docker-registry and a static build of the services; run scripts/test"]
    async fn deploy_status_failover_failback_primary_down_and_drill_through_the_real_binary() {
        let binaries = static_service_binaries().await;
        let moto = Moto::start_with_env(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
        let registries = (Registry::start(), Registry::start());
        let route53 = aws_sdk_route53::Client::new(&moto.sdk_config(PRIMARY));
        let zone = route53
            .create_hosted_zone()
            .name("example.test")
            .caller_reference("e2e")
            .send()
            .await
            .unwrap()
            .hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_string();
        let healthy = config(&moto, &zone, (&registries.0, &registries.1), None);

        // Deploy creates the failover records after both app stacks.
        let deployed = mysfits(
            &moto,
            &healthy,
            &[
                "--output",
                "json",
                "deploy",
                "--prebuilt-binaries",
                binaries.to_str().unwrap(),
            ],
        );
        deployed.assert_success();
        assert_eq!(primary_record(&route53, &zone).await, PRIMARY);

        // Status: both regions side by side, the entry point serving from the primary.
        let status = mysfits(&moto, &healthy, &["--output", "json", "status"]);
        status.assert_success();
        let status = json(&status);
        assert_eq!(status["entry_point"]["state"], "present", "{status:#}");
        for region in [PRIMARY, SECONDARY] {
            let facts = &status["regions"][region];
            assert_eq!(facts["region"], region);
            assert!(facts["unreachable"].is_null(), "{facts:#}");
            assert_eq!(facts["stacks"][1]["status"], "CREATE_COMPLETE", "{facts:#}");
            assert_eq!(facts["services"].as_array().unwrap().len(), 2, "{facts:#}");
        }
        let text = mysfits(&moto, &healthy, &["status"]);
        text.assert_success();
        assert!(
            text.stdout().contains("PRIMARY record"),
            "{}",
            text.stdout()
        );
        assert!(
            text.stdout().contains("serving: us-east-1"),
            "{}",
            text.stdout()
        );

        // moto does not replicate tables nor register targets: the secondary is not ready, and a
        // failover without --force changes nothing.
        let refused = mysfits(&moto, &healthy, &["failover", "--to", SECONDARY]);
        assert_eq!(
            refused.code(),
            2,
            "{}{}",
            refused.stdout(),
            refused.stderr()
        );
        assert!(
            refused.stdout().contains("table replica"),
            "{}",
            refused.stdout()
        );
        assert!(
            refused.stderr().contains("or pass --force"),
            "{}",
            refused.stderr()
        );
        assert_eq!(primary_record(&route53, &zone).await, PRIMARY);
        assert_eq!(secondary_desired(&moto).await, [1, 1]);

        // Forced: scaled to the primary's capacity, records swapped, verified through a server
        // that answers as us-west-2.
        let west = fixed_region_server(SECONDARY).await;
        let forced = mysfits(
            &moto,
            &healthy,
            &[
                "--output",
                "json",
                "failover",
                "--to",
                SECONDARY,
                "--force",
                "--timeout",
                "2",
                "--verify-url",
                &west,
            ],
        );
        forced.assert_success();
        let report = json(&forced);
        assert_eq!(report["outcome"], "completed", "{report:#}");
        assert_eq!(primary_record(&route53, &zone).await, SECONDARY);
        assert_eq!(secondary_desired(&moto).await, [2, 2]);

        // Failback: no --to, the region not serving is the target.
        let east = fixed_region_server(PRIMARY).await;
        let back = mysfits(
            &moto,
            &healthy,
            &[
                "failover",
                "--force",
                "--timeout",
                "2",
                "--verify-url",
                &east,
            ],
        );
        back.assert_success();
        assert!(
            back.stdout().contains("failover us-west-2 -> us-east-1"),
            "{}",
            back.stdout()
        );
        assert_eq!(primary_record(&route53, &zone).await, PRIMARY);

        // The primary region stops answering (its endpoint is a dead port). Route 53's control
        // plane is us-east-1 too, so the record change is skipped and the report says that health
        // checks move DNS; everything else goes on against the secondary alone.
        let dead = testbed::dead_endpoint();
        let down = config(&moto, &zone, (&registries.0, &registries.1), Some(&dead));
        let status = mysfits(&moto, &down, &["status"]);
        status.assert_success();
        assert!(
            status.stdout().contains("NOT ANSWERING"),
            "{}",
            status.stdout()
        );
        let outage = mysfits(
            &moto,
            &down,
            &[
                "failover",
                "--to",
                SECONDARY,
                "--force",
                "--timeout",
                "2",
                "--verify-url",
                &west,
            ],
        );
        outage.assert_success();
        let stdout = outage.stdout();
        assert!(
            stdout.contains("failover us-east-1 -> us-west-2 (route53): done"),
            "{stdout}"
        );
        assert!(
            stdout.contains(
                "skipped: DescribeStacks fo-app in us-east-1 (region refused the connection)"
            ),
            "{stdout}"
        );
        assert!(
            stdout.contains("Route 53 still answers by health checks"),
            "{stdout}"
        );
        assert!(
            stdout.contains("configured desired_count of us-east-1 (2)"),
            "{stdout}"
        );
        for phase in ["readiness", "scale", "shift", "verify", "total"] {
            assert!(stdout.contains(&format!("  {phase} ")), "{phase}: {stdout}");
        }

        // Drill under load against a loopback server that answers as whichever region Route 53
        // says is PRIMARY: the load sees the traffic move to the secondary and back.
        let following = {
            let route53 = route53.clone();
            let zone = zone.clone();
            region_server(move || {
                let route53 = route53.clone();
                let zone = zone.clone();
                async move { primary_record(&route53, &zone).await }
            })
            .await
        };
        let drill = mysfits(
            &moto,
            &healthy,
            &[
                "--output",
                "json",
                "drill",
                "--duration",
                "8",
                "--rate",
                "20",
                "--target",
                &following,
                "--force",
                "--timeout",
                "2",
            ],
        );
        drill.assert_success();
        let report = json(&drill);
        assert_eq!(report["errors"], 0, "{report:#}");
        assert!(report["requests"].as_u64().unwrap() >= 100, "{report:#}");
        assert!(
            report["answers_by_region"][SECONDARY].as_u64().unwrap() > 0,
            "{report:#}"
        );
        assert!(
            report["answers_by_region"][PRIMARY].as_u64().unwrap() > 0,
            "{report:#}"
        );
        assert!(
            report["shifts"][0]["first_target_answer_after_ms"].is_u64(),
            "{report:#}"
        );
        assert!(report["latency"]["p99_ms"].is_u64(), "{report:#}");
        assert_eq!(
            primary_record(&route53, &zone).await,
            PRIMARY,
            "the drill fails back"
        );

        // --kill of the region that serves no traffic is refused before anything changes.
        let idle = mysfits(&moto, &healthy, &["drill", "--kill", SECONDARY]);
        assert_eq!(idle.code(), 2, "{}{}", idle.stdout(), idle.stderr());
        assert!(
            idle.stderr().contains(
                "--kill us-west-2: us-west-2 serves no traffic now (the entry point sends it to us-east-1)"
            ),
            "{}",
            idle.stderr()
        );
        assert!(
            idle.stderr().contains("`mysfits failover --to us-west-2`"),
            "{}",
            idle.stderr()
        );

        // The unplanned outage: after the planned round trip the drill stops the primary's
        // services for real and only watches. The loopback server plays the entry point's health
        // routing: it answers as the PRIMARY record's region while that region runs services,
        // 503 for a second once it runs none (detection), then as the other region.
        let east_ecs = aws_sdk_ecs::Client::new(&moto.sdk_config(PRIMARY));
        let east_scaling = aws_sdk_applicationautoscaling::Client::new(&moto.sdk_config(PRIMARY));
        let desired_before = desired(&east_ecs).await;
        // moto's CloudFormation creates no scalable targets: register them as the app stack
        // does on AWS (min = desired 2, max 4), with scheduled scaling suspended for one of them
        // by its operator, which the revive must keep.
        for (service, scheduled_suspended) in
            [("fo-mysfits-service", true), ("fo-like-service", false)]
        {
            east_scaling
                .register_scalable_target()
                .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
                .scalable_dimension(
                    aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount,
                )
                .resource_id(format!("service/fo/{service}"))
                .min_capacity(2)
                .max_capacity(4)
                .suspended_state(
                    aws_sdk_applicationautoscaling::types::SuspendedState::builder()
                        .dynamic_scaling_in_suspended(false)
                        .dynamic_scaling_out_suspended(false)
                        .scheduled_scaling_suspended(scheduled_suspended)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
        let targets_before = scalable_targets(&east_scaling).await;
        assert_eq!(targets_before.len(), 2, "{targets_before:?}");
        let health_routed =
            health_routed_server(route53.clone(), zone.clone(), east_ecs.clone()).await;
        let killed = mysfits(
            &moto,
            &healthy,
            &[
                "--output",
                "json",
                "drill",
                "--kill",
                PRIMARY,
                "--duration",
                "24",
                "--rate",
                "20",
                "--target",
                &health_routed,
                "--force",
                "--timeout",
                "2",
            ],
        );
        killed.assert_success();
        let report = json(&killed);
        let outage = &report["outage"];
        assert_eq!(outage["region"], PRIMARY, "{report:#}");
        let stopped: Vec<(&str, i64)> = outage["stopped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|service| {
                (
                    service["name"].as_str().unwrap(),
                    service["desired_before"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            stopped,
            [("fo-mysfits-service", 2), ("fo-like-service", 2)],
            "{report:#}"
        );
        assert!(outage["errors"].as_u64().unwrap() > 0, "{report:#}");
        assert!(outage["first_error_after_ms"].is_u64(), "{report:#}");
        let shifted = outage["first_other_answer_after_ms"].as_u64().unwrap();
        assert!(
            shifted >= 900,
            "the other region answers only after the detection delay: {report:#}"
        );
        assert!(outage["recovered_after_ms"].is_u64(), "{report:#}");
        // moto runs no health checks: Route 53 reports the region healthy throughout, which the
        // report states rather than calling it "healthy again".
        assert!(outage["detected_after_ms"].is_null(), "{report:#}");
        assert!(outage["healthy_after_revive_ms"].is_null(), "{report:#}");
        assert!(
            report["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|note| note.as_str().unwrap().contains("healthy throughout")),
            "{report:#}"
        );
        assert!(
            killed
                .stderr()
                .contains("fo-mysfits-service: autoscaling back to 2-4, suspension as it was"),
            "{}",
            killed.stderr()
        );
        assert!(
            outage["back_after_revive_ms"].is_u64(),
            "the revived region answers again: {report:#}"
        );
        assert_eq!(report["shifts"].as_array().unwrap().len(), 2, "{report:#}");
        assert_eq!(report["shifts"][0]["errors"], 0, "planned: {report:#}");
        assert!(
            report["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|note| note.as_str().unwrap().contains("mysfits only read")),
            "{report:#}"
        );
        assert_eq!(
            desired(&east_ecs).await,
            desired_before,
            "the services are given back"
        );
        assert_eq!(
            scalable_targets(&east_scaling).await,
            targets_before,
            "the scalable targets are given back as they were"
        );
        assert_eq!(primary_record(&route53, &zone).await, PRIMARY);
    }

    /// The desired counts of both services in a region.
    async fn desired(ecs: &aws_sdk_ecs::Client) -> Vec<i32> {
        let described = ecs
            .describe_services()
            .cluster("fo")
            .services("fo-mysfits-service")
            .services("fo-like-service")
            .send()
            .await
            .unwrap();
        described
            .services()
            .iter()
            .map(|service| service.desired_count())
            .collect()
    }

    /// Each ECS scalable target: resource id, range, suspension.
    async fn scalable_targets(
        scaling: &aws_sdk_applicationautoscaling::Client,
    ) -> Vec<(String, i32, i32, String)> {
        let described = scaling
            .describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .send()
            .await
            .unwrap();
        described
            .scalable_targets()
            .iter()
            .map(|target| {
                (
                    target.resource_id().to_string(),
                    target.min_capacity(),
                    target.max_capacity(),
                    format!("{:?}", target.suspended_state()),
                )
            })
            .collect()
    }

    /// A loopback server that routes like health-checked failover records: as the PRIMARY
    /// record's region while its services run (desired > 0 in moto), 503 for a second after they
    /// are first seen stopped, then as the other region. State is read every 200 ms in the
    /// background, not per request, so the drill's load does not load moto.
    async fn health_routed_server(
        route53: aws_sdk_route53::Client,
        zone: String,
        east_ecs: aws_sdk_ecs::Client,
    ) -> String {
        use std::sync::{Arc, Mutex};
        use std::time::Instant;
        #[derive(Default)]
        struct Seen {
            primary: String,
            east_down_since: Option<Instant>,
        }
        let seen: Arc<Mutex<Seen>> = Arc::default();
        {
            let seen = seen.clone();
            let first = primary_record(&route53, &zone).await;
            seen.lock().unwrap().primary = first;
            tokio::spawn(async move {
                loop {
                    let primary = primary_record(&route53, &zone).await;
                    let east_down = desired(&east_ecs).await.iter().all(|count| *count == 0);
                    {
                        let mut seen = seen.lock().unwrap();
                        seen.primary = primary;
                        seen.east_down_since = match (east_down, seen.east_down_since) {
                            (true, since) => since.or_else(|| Some(Instant::now())),
                            (false, _) => None,
                        };
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
        let app = Router::new().route(
            "/health",
            get(move || {
                let seen = seen.clone();
                async move {
                    let (primary, down_since) = {
                        let seen = seen.lock().unwrap();
                        (seen.primary.clone(), seen.east_down_since)
                    };
                    let region = match (primary.as_str(), down_since) {
                        (PRIMARY, Some(since)) if since.elapsed() < Duration::from_secs(1) => {
                            return (
                                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                                [("x-mysfits-region", PRIMARY.to_string())],
                                axum::Json(serde_json::json!({ "status": "no healthy target" })),
                            );
                        }
                        (PRIMARY, Some(_)) => SECONDARY.to_string(),
                        _ => primary,
                    };
                    (
                        axum::http::StatusCode::OK,
                        [("x-mysfits-region", region.clone())],
                        axum::Json(serde_json::json!({ "status": "ok", "region": region })),
                    )
                }
            }),
        );
        serve_health(app).await
    }
}

mod inputs {
    use crate::util::Mysfits;

    /// Bad flags are refused before any AWS call (the endpoint is a dead port), naming the fix.
    #[test]
    fn bad_failover_and_drill_inputs_name_the_flag_and_the_fix() {
        let dead = testbed::dead_endpoint();
        let cases: [(&[&str], &str, &str); 8] = [
            (
                &["failover", "--to", "us-west-2"],
                "needs a second region",
                "--secondary-region",
            ),
            (
                &[
                    "--secondary-region",
                    "us-west-2",
                    "failover",
                    "--to",
                    "eu-west-3",
                ],
                "--to eu-west-3 is not one of the app's regions",
                "pass --to us-east-1 or --to us-west-2",
            ),
            (
                &[
                    "--secondary-region",
                    "us-west-2",
                    "failover",
                    "--verify-url",
                    "ftp://x",
                ],
                "--verify-url \"ftp://x\" is not an http(s) URL",
                "http://HOST",
            ),
            (
                &["--secondary-region", "us-west-2", "drill", "--rate", "0"],
                "--rate 0 is out of range",
                "use 1 to 500",
            ),
            (
                &[
                    "--secondary-region",
                    "us-west-2",
                    "drill",
                    "--duration",
                    "1",
                ],
                "--duration 1 is out of range",
                "use 5 to 3600 seconds",
            ),
            (
                &[
                    "--secondary-region",
                    "us-west-2",
                    "drill",
                    "--kill",
                    "eu-west-3",
                ],
                "--kill eu-west-3 is not one of the app's regions (us-east-1, us-west-2)",
                "name one of them: --kill us-east-1",
            ),
            (
                &[
                    "--secondary-region",
                    "us-west-2",
                    "drill",
                    "--kill",
                    "us-west-2",
                    "--to",
                    "us-west-2",
                ],
                "--to us-west-2 is the region --kill stops",
                "name another region: --to us-east-1",
            ),
            (
                &[
                    "--secondary-region",
                    "us-west-2",
                    "drill",
                    "--target",
                    "not a url",
                ],
                "--target \"not a url\" is not an http(s) URL",
                "http://HOST",
            ),
        ];
        for (args, what, fix) in cases {
            let mut full = vec!["--region", "us-east-1", "--endpoint-url", &dead];
            full.extend_from_slice(args);
            let run = Mysfits::new().run(&full);
            assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
            let stderr = run.stderr();
            assert!(stderr.contains(what), "{args:?}: {stderr}");
            assert!(stderr.contains(fix), "{args:?}: {stderr}");
        }
        // Three regions (home first): --to names every region, drill keeps home for the end.
        let three: [(&[&str], &str, &str); 2] = [
            (
                &["failover", "--to", "ap-south-1"],
                "--to ap-south-1 is not one of the app's regions (us-east-1, us-west-2, eu-west-1)",
                "pass --to us-east-1, --to us-west-2 or --to eu-west-1",
            ),
            (
                &["drill", "--to", "us-east-1"],
                "--to us-east-1 is the home region",
                "--to us-west-2",
            ),
        ];
        for (args, what, fix) in three {
            let mut full = vec![
                "--regions",
                "us-east-1,us-west-2,eu-west-1",
                "--endpoint-url",
                &dead,
            ];
            full.extend_from_slice(args);
            let run = Mysfits::new().run(&full);
            assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
            let stderr = run.stderr();
            assert!(stderr.contains(what), "{args:?}: {stderr}");
            assert!(stderr.contains(fix), "{args:?}: {stderr}");
        }
    }
}
