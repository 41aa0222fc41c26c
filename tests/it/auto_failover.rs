//! Auto failover's templates as CloudFormation would create them: the alarms of
//! templates/alarms.yaml (the periods, statistics and missing-data treatment
//! docs/auto-failover.md states), the parameters the CLI sends them, and the Region switch plan
//! of templates/recovery.yaml, whose alarm, cluster and service ARNs must name what the alarms
//! and app stacks really create.
//! cfn-lint and checkov check both templates too (scripts/check-templates); moto creates neither
//! alarms nor plans, so these rules are what stands between a typo and a plan that never fires.

use std::collections::{BTreeMap, BTreeSet};

use mysfits::app::SERVICES;
use mysfits::auto_failover::{alarms_parameter, recovery_parameter};
use mysfits::cli::GlobalArgs;
use mysfits::config::{Config, ConfigFile};
use mysfits::stack::StackKind;
use mysfits::stack::outputs::{AppOutputs, ServiceOutputs};
use serde_yaml::Value;

const ALARMS: [&str; 4] = [
    "ErrorRateAlarm",
    "MysfitsNoHealthyTargetsAlarm",
    "LikeNoHealthyTargetsAlarm",
    "ReplicationLatencyAlarm",
];

/// templates/alarms.yaml's resources, in long form.
fn alarms() -> BTreeMap<String, Value> {
    crate::template_rules::template(StackKind::Alarms)["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(id, resource)| (id.as_str().unwrap().to_string(), resource.clone()))
        .collect()
}

/// The longest app name the CLI takes (21 characters).
const LONGEST_APP: &str = "a23456789-123456789-1";

/// The longest app name the CLI takes, two regions, auto failover on.
fn enabled_config() -> Config {
    let file: ConfigFile = serde_yaml::from_str(
        "app: a23456789-123456789-1\nregions: [us-east-1, us-west-2]\nauto_failover: {enabled: true, error_rate_percent: 100, replication_latency_ms: 1000}\n",
    )
    .unwrap();
    Config::resolve(&GlobalArgs::default(), file).unwrap()
}

/// What an app stack reports, with ARNs as ELB writes them.
fn app_outputs(region: &str) -> AppOutputs {
    let elb = format!("arn:aws:elasticloadbalancing:{region}:123456789012");
    AppOutputs {
        stack_name: "a23456789-123456789-1-app".into(),
        region: region.into(),
        load_balancer_arn: format!("{elb}:loadbalancer/app/a23456789-123456789-1/50dc6c495c0c9188"),
        url: None,
        dns_name: None,
        cluster: "a23456789-123456789-1".into(),
        services: SERVICES
            .iter()
            .map(|service| {
                (
                    service,
                    ServiceOutputs {
                        name: mysfits::app::names::ecs_service("a23456789-123456789-1", service),
                        target_group_arn: format!(
                            "{elb}:targetgroup/a23456789-123456789-1-{}/73e2d6bc24d8a067",
                            service.id
                        ),
                        log_group: String::new(),
                    },
                )
            })
            .collect(),
    }
}

/// What the CLI sends the alarms stacks (both regions) and the recovery stack meets every
/// constraint of their templates, as CloudFormation checks them, with the longest app name and
/// the extreme thresholds; each region's peer is the other region; the dimensions are the ends
/// of the ELB ARNs CloudWatch names them by.
#[test]
fn the_alarms_and_recovery_requests_meet_their_templates_constraints() {
    let config = enabled_config();
    let mut requests = Vec::new();
    for (region, peer) in [("us-east-1", "us-west-2"), ("us-west-2", "us-east-1")] {
        let settings = config.region_named(region).unwrap();
        let request =
            mysfits::auto_failover::alarms_request(&config, settings, &app_outputs(region))
                .unwrap();
        assert_eq!(request.region, region);
        assert_eq!(request.parameters[alarms_parameter::PEER_REGION], peer);
        assert_eq!(
            request.parameters[alarms_parameter::LOAD_BALANCER],
            "app/a23456789-123456789-1/50dc6c495c0c9188"
        );
        assert_eq!(
            request.parameters["MysfitsTargetGroupFullName"],
            "targetgroup/a23456789-123456789-1-mysfits/73e2d6bc24d8a067"
        );
        requests.push(request);
    }
    let recovery = mysfits::auto_failover::recovery_request(&config);
    assert_eq!(
        recovery.region, "us-east-1",
        "the plan's stack lives at home"
    );
    assert_eq!(
        recovery.parameters[recovery_parameter::STANDBY_REGION],
        "us-west-2"
    );
    requests.push(recovery);
    for request in requests {
        let declared = crate::aws_limits::declared(request.kind);
        for (name, value) in &request.parameters {
            let spec = declared
                .get(name)
                .unwrap_or_else(|| panic!("{name} is not declared by {:?}", request.kind));
            if let Some(why) = crate::aws_limits::violation(name, spec, value) {
                panic!("{} in {}: {why}", request.stack_name, request.region);
            }
        }
        for (name, spec) in &declared {
            assert!(
                request.parameters.contains_key(name) || spec.get("Default").is_some(),
                "{name} of {:?} is neither sent nor defaulted",
                request.kind
            );
        }
    }
}

#[test]
fn the_app_template_itself_carries_no_alarm() {
    let app = crate::template_rules::template(StackKind::App);
    for (id, resource) in app["Resources"].as_mapping().unwrap() {
        assert_ne!(
            resource["Type"].as_str(),
            Some("AWS::CloudWatch::Alarm"),
            "{id:?}: auto failover's alarms live in templates/alarms.yaml"
        );
    }
    for alarm in ALARMS {
        assert_eq!(
            alarms()[alarm]["Type"].as_str(),
            Some("AWS::CloudWatch::Alarm"),
            "{alarm}"
        );
    }
}

#[test]
fn healthy_host_alarms_watch_each_services_target_group_and_treat_silence_as_failure() {
    let on = alarms();
    let target_group_parameters: Vec<String> = SERVICES
        .iter()
        .map(alarms_parameter::target_group)
        .collect();
    let target_groups: BTreeSet<&str> =
        target_group_parameters.iter().map(String::as_str).collect();
    let mut watched = BTreeSet::new();
    for alarm in ["MysfitsNoHealthyTargetsAlarm", "LikeNoHealthyTargetsAlarm"] {
        let properties = &on[alarm]["Properties"];
        assert_eq!(properties["MetricName"].as_str(), Some("HealthyHostCount"));
        assert_eq!(properties["Namespace"].as_str(), Some("AWS/ApplicationELB"));
        assert_eq!(properties["Statistic"].as_str(), Some("Minimum"));
        assert_eq!(
            properties["ComparisonOperator"].as_str(),
            Some("LessThanThreshold")
        );
        assert_eq!(properties["Threshold"].as_u64(), Some(1));
        assert_eq!(properties["Period"].as_u64(), Some(60));
        assert_eq!(properties["EvaluationPeriods"].as_u64(), Some(2));
        assert_eq!(properties["DatapointsToAlarm"].as_u64(), Some(2));
        assert_eq!(properties["TreatMissingData"].as_str(), Some("breaching"));
        let dimensions: BTreeMap<&str, &Value> = properties["Dimensions"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|dimension| (dimension["Name"].as_str().unwrap(), &dimension["Value"]))
            .collect();
        // HealthyHostCount is published per target group AND load balancer: both dimensions.
        assert_eq!(
            dimensions["LoadBalancer"]["Ref"].as_str(),
            Some(alarms_parameter::LOAD_BALANCER)
        );
        watched.insert(dimensions["TargetGroup"]["Ref"].as_str().unwrap());
    }
    assert_eq!(
        watched, target_groups,
        "one alarm per service's target group"
    );
}

#[test]
fn the_error_rate_counts_the_load_balancers_own_5xx_and_ignores_idle_minutes() {
    let on = alarms();
    let properties = &on["ErrorRateAlarm"]["Properties"];
    assert_eq!(
        properties["Threshold"]["Ref"].as_str(),
        Some(alarms_parameter::ERROR_RATE_PERCENT)
    );
    assert_eq!(properties["EvaluationPeriods"].as_u64(), Some(3));
    assert_eq!(properties["DatapointsToAlarm"].as_u64(), Some(3));
    assert_eq!(
        properties["TreatMissingData"].as_str(),
        Some("notBreaching")
    );
    let queries = properties["Metrics"].as_sequence().unwrap();
    let returned: Vec<&str> = queries
        .iter()
        .filter(|query| query["ReturnData"].as_bool() == Some(true))
        .map(|query| query["Id"].as_str().unwrap())
        .collect();
    assert_eq!(
        returned,
        ["rate"],
        "an alarm on metric math returns exactly one series"
    );
    let metrics: BTreeMap<&str, &str> = queries
        .iter()
        .filter_map(|query| {
            let stat = query.get("MetricStat")?;
            assert_eq!(stat["Period"].as_u64(), Some(60));
            assert_eq!(stat["Stat"].as_str(), Some("Sum"));
            Some((
                query["Id"].as_str().unwrap(),
                stat["Metric"]["MetricName"].as_str().unwrap(),
            ))
        })
        .collect();
    assert_eq!(
        metrics,
        BTreeMap::from([
            ("requests", "RequestCount"),
            ("target5xx", "HTTPCode_Target_5XX_Count"),
            ("lb5xx", "HTTPCode_ELB_5XX_Count"),
        ])
    );
    let expression = queries[0]["Expression"].as_str().unwrap();
    for id in metrics.keys() {
        assert!(expression.contains(id), "{expression} uses {id}");
    }
    // Metric ids: a lowercase letter first, then letters, digits and underscores (GetMetricData).
    for query in queries {
        let id = query["Id"].as_str().unwrap();
        assert!(
            id.starts_with(|first: char| first.is_ascii_lowercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{id}"
        );
    }
}

#[test]
fn the_replication_alarm_watches_what_this_region_sends_to_its_peer() {
    let on = alarms();
    let properties = &on["ReplicationLatencyAlarm"]["Properties"];
    assert_eq!(properties["Namespace"].as_str(), Some("AWS/DynamoDB"));
    assert_eq!(
        properties["MetricName"].as_str(),
        Some("ReplicationLatency")
    );
    assert_eq!(
        properties["TreatMissingData"].as_str(),
        Some("notBreaching")
    );
    assert_eq!(properties["EvaluationPeriods"].as_u64(), Some(5));
    let dimensions: BTreeMap<&str, &Value> = properties["Dimensions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|dimension| (dimension["Name"].as_str().unwrap(), &dimension["Value"]))
        .collect();
    assert_eq!(
        dimensions["TableName"]["Ref"].as_str(),
        Some(alarms_parameter::TABLE_NAME)
    );
    assert_eq!(
        dimensions["ReceivingRegion"]["Ref"].as_str(),
        Some(alarms_parameter::PEER_REGION)
    );
}

/// templates/recovery.yaml in long form.
fn recovery() -> Value {
    crate::template_rules::template(StackKind::Recovery)
}

/// An `Fn::Sub` string with the recovery template's parameters put in, as AWS would see it.
fn substituted(value: &Value, app: &str, primary: &str, standby: &str) -> String {
    let text = value["Fn::Sub"]
        .as_str()
        .unwrap_or_else(|| panic!("{value:?} is not an Fn::Sub"));
    text.replace("${AWS::Partition}", "aws")
        .replace("${AWS::AccountId}", "123456789012")
        .replace("${AppName}", app)
        .replace("${PrimaryRegion}", primary)
        .replace("${StandbyRegion}", standby)
}

#[test]
fn the_recovery_plan_names_the_alarms_clusters_and_services_the_app_stacks_create() {
    let (app, primary, standby) = ("shop", "us-east-1", "us-west-2");
    let template = recovery();
    let declared: BTreeSet<&str> = template["Parameters"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|key| key.as_str().unwrap())
        .collect();
    assert_eq!(
        declared,
        recovery_parameter::ALL.into_iter().collect::<BTreeSet<_>>()
    );
    let plan = &template["Resources"]["RecoveryPlan"]["Properties"];
    assert_eq!(plan["RecoveryApproach"].as_str(), Some("activePassive"));
    assert_eq!(plan["Regions"].as_sequence().unwrap().len(), 2);

    // Every associated alarm is one the app stack creates, in the region its ARN names.
    let app_alarm_names: BTreeSet<String> = ALARMS
        .iter()
        .map(|alarm| {
            alarms()[*alarm]["Properties"]["AlarmName"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .replace("${AppName}", app)
        })
        .collect();
    let associated = plan["AssociatedAlarms"].as_mapping().unwrap();
    let mut trigger_alarms = BTreeSet::new();
    for (key, alarm) in associated {
        let arn = substituted(&alarm["ResourceIdentifier"], app, primary, standby);
        let (prefix, name) = arn.rsplit_once(":alarm:").unwrap();
        assert!(
            prefix == format!("arn:aws:cloudwatch:{primary}:123456789012")
                || prefix == format!("arn:aws:cloudwatch:{standby}:123456789012"),
            "{arn}"
        );
        assert!(
            app_alarm_names.contains(name),
            "{key:?}: {name} is not an app alarm"
        );
        if alarm["AlarmType"].as_str() == Some("trigger") {
            assert!(
                prefix.contains(primary),
                "{key:?}: triggers watch the primary"
            );
            trigger_alarms.insert(key.as_str().unwrap());
        }
    }
    // Every health alarm of the primary triggers the standby's activation; replication never does.
    let triggers = plan["Triggers"].as_sequence().unwrap();
    let triggered: BTreeSet<&str> = triggers
        .iter()
        .flat_map(|trigger| {
            assert_eq!(trigger["Action"].as_str(), Some("activate"));
            assert_eq!(
                trigger["TargetRegion"]["Ref"].as_str(),
                Some("StandbyRegion")
            );
            let conditions = trigger["Conditions"].as_sequence().unwrap();
            assert_eq!(
                conditions.len(),
                1,
                "one alarm per trigger: any of them fires"
            );
            conditions.iter().map(|condition| {
                assert_eq!(condition["Condition"].as_str(), Some("red"));
                condition["AssociatedAlarmName"].as_str().unwrap()
            })
        })
        .collect();
    assert_eq!(triggered, trigger_alarms);
    assert_eq!(triggered.len(), 3);

    // The scaling steps: one per bundled service, with the cluster and service of both regions.
    let workflows = plan["Workflows"].as_sequence().unwrap();
    assert_eq!(workflows.len(), 1);
    assert_eq!(
        workflows[0]["WorkflowTargetAction"].as_str(),
        Some("activate")
    );
    let parallel = &workflows[0]["Steps"][0]["ExecutionBlockConfiguration"]["ParallelConfig"];
    let mut scaled = BTreeSet::new();
    for step in parallel["Steps"].as_sequence().unwrap() {
        assert_eq!(
            step["ExecutionBlockType"].as_str(),
            Some("ECSServiceScaling")
        );
        let config = &step["ExecutionBlockConfiguration"]["EcsCapacityIncreaseConfig"];
        assert_eq!(config["TargetPercent"].as_u64(), Some(100));
        let services = config["Services"].as_sequence().unwrap();
        assert_eq!(
            services.len(),
            2,
            "the schema takes exactly one service per region"
        );
        let mut regions = BTreeSet::new();
        let mut names = BTreeSet::new();
        for service in services {
            let cluster = substituted(&service["ClusterArn"], app, primary, standby);
            let arn = substituted(&service["ServiceArn"], app, primary, standby);
            let region = arn.split(':').nth(3).unwrap().to_string();
            assert_eq!(
                cluster,
                format!("arn:aws:ecs:{region}:123456789012:cluster/{app}")
            );
            let (_, path) = arn.split_once(":service/").unwrap();
            let (cluster_name, service_name) = path.split_once('/').unwrap();
            assert_eq!(cluster_name, mysfits::app::names::cluster(app));
            regions.insert(region);
            names.insert(service_name.to_string());
        }
        assert_eq!(regions, [primary.to_string(), standby.to_string()].into());
        assert_eq!(names.len(), 1, "one service in both regions");
        scaled.extend(names);
    }
    let bundled: BTreeSet<String> = SERVICES
        .iter()
        .map(|service| mysfits::app::names::ecs_service(app, service))
        .collect();
    assert_eq!(scaled, bundled, "every bundled service is scaled");
}

#[test]
fn the_plans_role_trusts_region_switch_only_and_may_touch_the_apps_services_only() {
    let template = recovery();
    let role = &template["Resources"]["PlanExecutionRole"]["Properties"];
    let trust = &role["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(trust.as_sequence().unwrap().len(), 1);
    assert_eq!(
        trust[0]["Principal"]["Service"].as_str(),
        Some("arc-region-switch.amazonaws.com")
    );
    let statements = role["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    let mut granted = BTreeSet::new();
    for statement in statements {
        let actions: Vec<&str> = match &statement["Action"] {
            Value::String(action) => vec![action.as_str()],
            Value::Sequence(actions) => actions.iter().map(|a| a.as_str().unwrap()).collect(),
            other => panic!("{other:?}"),
        };
        for action in &actions {
            granted.insert(action.to_string());
        }
        if actions.contains(&"arc-region-switch:GetPlan") {
            let arn = substituted(&statement["Resource"], "shop", "us-east-1", "us-west-2");
            assert!(arn.contains(":plan/shop-recovery"), "{arn}");
        }
        if actions.contains(&"ecs:UpdateService") {
            for resource in statement["Resource"].as_sequence().unwrap() {
                let arn = substituted(resource, "shop", "us-east-1", "us-west-2");
                assert!(arn.contains(":service/shop/shop-"), "{arn}");
            }
        }
    }
    // What ARC's "complete plan execution role permissions" adds to the blocks' policies:
    // evaluation assumes the role and simulates its policy, and reads the plan and executions.
    for action in [
        "arc-region-switch:GetPlan",
        "arc-region-switch:GetPlanExecution",
        "arc-region-switch:ListPlanExecutions",
        "iam:SimulatePrincipalPolicy",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricStatistics",
    ] {
        assert!(granted.contains(action), "{action} missing: {granted:?}");
    }
    // The plan's name fits ARC's 32 characters with the longest app name.
    let name = template["Resources"]["RecoveryPlan"]["Properties"]["Name"]["Fn::Sub"]
        .as_str()
        .unwrap()
        .replace("${AppName}", LONGEST_APP);
    assert!(name.len() <= 32, "{name}");
}

// ---------- the health Global Accelerator sees ----------

/// `status` shows per region the health Global Accelerator itself reports for the region's load
/// balancer (ListEndpointGroups' EndpointDescriptions: HealthState, and HealthReason, which the
/// API reference gives only for an endpoint that is not healthy: Timeout or Failed), not a
/// probe of ours: that is what decides where GA sends new connections.
#[tokio::test]
async fn the_entry_point_reports_global_accelerators_own_endpoint_health_with_its_reason() {
    use aws_sdk_globalaccelerator::Client;
    use aws_sdk_globalaccelerator::operation::list_accelerators::ListAcceleratorsOutput;
    use aws_sdk_globalaccelerator::operation::list_endpoint_groups::ListEndpointGroupsOutput;
    use aws_sdk_globalaccelerator::operation::list_listeners::ListListenersOutput;
    use aws_sdk_globalaccelerator::types::{
        Accelerator, AcceleratorStatus, EndpointDescription, EndpointGroup, HealthState, Listener,
        PortRange, Protocol,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use mysfits::entry::{Control, EntryPoint, EntryState, describe};

    const ARN: &str = "arn:aws:globalaccelerator::123456789012:accelerator/demo-1";
    let group = |region: &str, dial: f32, state: HealthState, reason: Option<&str>| {
        EndpointGroup::builder()
            .endpoint_group_arn(format!("{ARN}/listener/l1/endpoint-group/{region}"))
            .endpoint_group_region(region)
            .traffic_dial_percentage(dial)
            .endpoint_descriptions(
                EndpointDescription::builder()
                    .endpoint_id(format!(
                        "arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/app/demo/x"
                    ))
                    .weight(128)
                    .health_state(state)
                    .set_health_reason(reason.map(str::to_string))
                    .build(),
            )
            .build()
    };
    let list = mock!(Client::list_accelerators).then_output(|| {
        ListAcceleratorsOutput::builder()
            .accelerators(
                Accelerator::builder()
                    .accelerator_arn(ARN)
                    .name("demo")
                    .enabled(true)
                    .status(AcceleratorStatus::Deployed)
                    .build(),
            )
            .build()
    });
    let listeners = mock!(Client::list_listeners).then_output(|| {
        ListListenersOutput::builder()
            .listeners(
                Listener::builder()
                    .listener_arn(format!("{ARN}/listener/l1"))
                    .protocol(Protocol::Tcp)
                    .port_ranges(PortRange::builder().from_port(80).to_port(80).build())
                    .build(),
            )
            .build()
    });
    let groups = mock!(Client::list_endpoint_groups).then_output(move || {
        ListEndpointGroupsOutput::builder()
            .endpoint_groups(group(
                "us-east-1",
                100.0,
                HealthState::Unhealthy,
                Some("Failed"),
            ))
            // A healthy endpoint carries no reason.
            .endpoint_groups(group("us-west-2", 0.0, HealthState::Healthy, None))
            .build()
    });
    let client = mock_client!(
        aws_sdk_globalaccelerator,
        RuleMode::MatchAny,
        &[
            &list,
            &crate::fixtures::accelerator::tags("demo"),
            &listeners,
            &groups
        ]
    );
    let entry = EntryPoint {
        app: "demo".into(),
        endpoint: None,
        control: Control::GlobalAccelerator(client),
        traffic: Default::default(),
    };
    let EntryState::Present(description) = describe(&entry).await else {
        panic!("the accelerator is there");
    };
    let health = |region: &str| description.region(region).unwrap().health.clone();
    assert_eq!(health("us-east-1").as_deref(), Some("UNHEALTHY: Failed"));
    assert_eq!(health("us-west-2").as_deref(), Some("HEALTHY"));
}

// ---------- status: the plan ----------

const PLAN_ARN: &str = "arn:aws:arc-region-switch::123456789012:plan/shop-recovery:abc123";

fn recovery_stack_described() -> aws_smithy_mocks::Rule {
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
    use aws_sdk_cloudformation::types::{Output, Stack, StackStatus};
    aws_smithy_mocks::mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .match_requests(|request| request.stack_name() == Some("shop-recovery"))
        .then_output(|| {
            DescribeStacksOutput::builder()
                .stacks(
                    Stack::builder()
                        .stack_name("shop-recovery")
                        .stack_status(StackStatus::CreateComplete)
                        .outputs(
                            Output::builder()
                                .output_key("PlanArn")
                                .output_value(PLAN_ARN)
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
}

/// Status reads the plan's ARN from the recovery stack, its evaluation and its newest execution
/// (by start time: the API reference gives no order) from ARC's data plane, and says what it
/// could not read instead of hiding the line.
#[tokio::test]
async fn status_shows_the_plans_evaluation_and_newest_execution() {
    use aws_sdk_arcregionswitch::operation::get_plan_evaluation_status::GetPlanEvaluationStatusOutput;
    use aws_sdk_arcregionswitch::operation::list_plan_executions::ListPlanExecutionsOutput;
    use aws_sdk_arcregionswitch::types::{
        AbbreviatedExecution, EvaluationStatus, ExecutionAction, ExecutionMode, ExecutionState,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;

    let execution = |id: &str, seconds: i64, state: ExecutionState| {
        AbbreviatedExecution::builder()
            .plan_arn(PLAN_ARN)
            .execution_id(id)
            .start_time(DateTime::from_secs(seconds))
            .mode(ExecutionMode::Ungraceful)
            .execution_state(state)
            .execution_action(ExecutionAction::Activate)
            .execution_region("us-west-2")
            .build()
            .unwrap()
    };
    let evaluation = mock!(aws_sdk_arcregionswitch::Client::get_plan_evaluation_status)
        .match_requests(|request| request.plan_arn() == Some(PLAN_ARN))
        .then_output(|| {
            GetPlanEvaluationStatusOutput::builder()
                .plan_arn(PLAN_ARN)
                .evaluation_state(EvaluationStatus::Passed)
                .build()
                .unwrap()
        });
    let executions = mock!(aws_sdk_arcregionswitch::Client::list_plan_executions)
        .match_requests(|request| request.plan_arn() == Some(PLAN_ARN))
        .then_output(move || {
            ListPlanExecutionsOutput::builder()
                .items(execution("older", 1_790_000_000, ExecutionState::Failed))
                .items(execution("newer", 1_790_000_600, ExecutionState::Completed))
                .build()
        });
    let stack = recovery_stack_described();
    let cloudformation = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[&stack]);
    let arc = mock_client!(
        aws_sdk_arcregionswitch,
        RuleMode::MatchAny,
        &[&evaluation, &executions]
    );
    let status = mysfits::auto_failover::status::read(&cloudformation, &arc, "shop").await;
    assert_eq!(status.plan_arn.as_deref(), Some(PLAN_ARN));
    assert_eq!(status.stack_status, "CREATE_COMPLETE");
    assert_eq!(status.evaluation.as_deref(), Some("passed"));
    let last = status.last_execution.as_ref().unwrap();
    assert_eq!(
        (last.id.as_str(), last.state.as_str(), last.region.as_str()),
        ("newer", "completed", "us-west-2")
    );
    assert_eq!(
        status.text(),
        format!(
            "auto failover: plan {PLAN_ARN} (stack CREATE_COMPLETE, evaluation passed), last execution activate us-west-2 completed (ungraceful, 2026-09-21T14:23:20Z)\n"
        )
    );
}

#[tokio::test]
async fn status_says_when_the_plan_is_missing_or_cannot_be_read() {
    use aws_sdk_arcregionswitch::operation::get_plan_evaluation_status::GetPlanEvaluationStatusError;
    use aws_sdk_arcregionswitch::operation::list_plan_executions::ListPlanExecutionsError;
    use aws_sdk_arcregionswitch::types::error::AccessDeniedException;
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    // No recovery stack: DescribeStacks answers ValidationError; ARC is never asked.
    let missing = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("Stack with id shop-recovery does not exist")
                .build(),
        )
    });
    let cloudformation = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[&missing]);
    let arc = mock_client!(aws_sdk_arcregionswitch, RuleMode::MatchAny, &[]);
    let status = mysfits::auto_failover::status::read(&cloudformation, &arc, "shop").await;
    assert!(status.problems.is_empty(), "{status:?}");
    assert_eq!(
        status.text(),
        "auto failover: no plan (stack shop-recovery NOT FOUND)\n"
    );

    // The plan exists, but the operator may not read it.
    let denied = |operation: &str| {
        let message = format!("User is not authorized to perform arc-region-switch:{operation}");
        AccessDeniedException::builder()
            .message(message.clone())
            .meta(
                ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message(message)
                    .build(),
            )
            .build()
            .unwrap()
    };
    let evaluation =
        mock!(aws_sdk_arcregionswitch::Client::get_plan_evaluation_status).then_error(move || {
            GetPlanEvaluationStatusError::AccessDeniedException(denied("GetPlanEvaluationStatus"))
        });
    let executions =
        mock!(aws_sdk_arcregionswitch::Client::list_plan_executions).then_error(move || {
            ListPlanExecutionsError::AccessDeniedException(denied("ListPlanExecutions"))
        });
    let stack = recovery_stack_described();
    let cloudformation = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[&stack]);
    let arc = mock_client!(
        aws_sdk_arcregionswitch,
        RuleMode::MatchAny,
        &[&evaluation, &executions]
    );
    let status = mysfits::auto_failover::status::read(&cloudformation, &arc, "shop").await;
    let text = status.text();
    assert!(
        text.starts_with(&format!(
            "auto failover: plan {PLAN_ARN} (stack CREATE_COMPLETE, evaluation unknown)\n  could not read: "
        )),
        "{text}"
    );
    assert_eq!(status.problems.len(), 2, "{text}");
    assert!(
        text.contains("could not read: GetPlanEvaluationStatus: "),
        "{text}"
    );
    assert!(text.contains("AccessDeniedException"), "{text}");
}
