//! Observability commands. The multi-region dashboard: golden bodies for one, two and three
//! regions (fixed ARNs), and `dashboard create/show/delete` end to end against moto with metric
//! data put there first. `mysfits logs`: every region's lines merged, `--in` picking some, missing
//! groups, `--follow`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use mysfits::app::names::TraceGroup;
use mysfits::cli::GlobalArgs;
use mysfits::config::{Config, ConfigFile};
use mysfits::dashboard::{build, input_from_stacks};
use mysfits::stack::deploy::{PhysicalResource, StackResult};
use testbed::moto::Moto;

use crate::util::{Mysfits, assert_golden};

fn config(secondary: Option<&str>) -> Config {
    let global = GlobalArgs {
        region: Some("us-east-1".into()),
        secondary_region: secondary.map(str::to_string),
        app: Some("demo".into()),
        ..GlobalArgs::default()
    };
    Config::resolve(&global, ConfigFile::default()).unwrap()
}

fn resource(physical_id: &str, resource_type: &str) -> PhysicalResource {
    PhysicalResource {
        physical_id: physical_id.into(),
        resource_type: resource_type.into(),
        status: "CREATE_COMPLETE".into(),
    }
}

/// An app stack as deploy reports it. `with_outputs: false` is what moto gives for stacks made by
/// a change set: resources only, so every name must come from a physical id.
fn app_stack(region: &str, load_balancer_id: &str, with_outputs: bool) -> StackResult {
    let elb = format!("arn:aws:elasticloadbalancing:{region}:123456789012");
    let load_balancer = format!("{elb}:loadbalancer/app/demo/{load_balancer_id}");
    let mysfits_group = format!("{elb}:targetgroup/demo-mysfits/{load_balancer_id}aa");
    let like_group = format!("{elb}:targetgroup/demo-like/{load_balancer_id}bb");
    let ecs = format!("arn:aws:ecs:{region}:123456789012");
    let mut outputs = BTreeMap::new();
    if with_outputs {
        outputs.insert("LoadBalancerArn".to_string(), load_balancer.clone());
        outputs.insert("MysfitsTargetGroupArn".to_string(), mysfits_group.clone());
        outputs.insert("LikeTargetGroupArn".to_string(), like_group.clone());
        outputs.insert("ClusterName".to_string(), "demo".to_string());
        outputs.insert(
            "MysfitsServiceName".to_string(),
            "demo-mysfits-service".to_string(),
        );
        outputs.insert(
            "LikeServiceName".to_string(),
            "demo-like-service".to_string(),
        );
    }
    for service in &mysfits::app::SERVICES {
        if with_outputs {
            outputs.insert(
                service.log_group_name_output.to_string(),
                mysfits::app::names::log_group("demo", service),
            );
        }
    }
    let mut resources = BTreeMap::from([
        (
            "LoadBalancer".to_string(),
            resource(&load_balancer, "AWS::ElasticLoadBalancingV2::LoadBalancer"),
        ),
        (
            "MysfitsTargetGroup".to_string(),
            resource(&mysfits_group, "AWS::ElasticLoadBalancingV2::TargetGroup"),
        ),
        (
            "LikeTargetGroup".to_string(),
            resource(&like_group, "AWS::ElasticLoadBalancingV2::TargetGroup"),
        ),
        ("Cluster".to_string(), resource("demo", "AWS::ECS::Cluster")),
        (
            "MysfitsService".to_string(),
            resource(
                &format!("{ecs}:service/demo/demo-mysfits-service"),
                "AWS::ECS::Service",
            ),
        ),
        (
            "LikeService".to_string(),
            resource(
                &format!("{ecs}:service/demo/demo-like-service"),
                "AWS::ECS::Service",
            ),
        ),
    ]);
    // A log group's physical id is its name.
    for service in &mysfits::app::SERVICES {
        resources.insert(
            service.log_group_resource.to_string(),
            resource(
                &mysfits::app::names::log_group("demo", service),
                "AWS::Logs::LogGroup",
            ),
        );
    }
    StackResult {
        stack_name: "demo-app".into(),
        region: region.into(),
        stack_id: format!("arn:aws:cloudformation:{region}:123456789012:stack/demo-app/1"),
        status: "CREATE_COMPLETE".into(),
        changed: false,
        outputs,
        resources,
    }
}

/// Every metric line of a body as (namespace, name, dimensions..., options).
fn metric_lines(body: &serde_json::Value) -> Vec<Vec<serde_json::Value>> {
    body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|widget| widget["properties"]["metrics"].as_array())
        .flatten()
        .map(|line| line.as_array().unwrap().clone())
        .collect()
}

#[test]
fn dashboard_body_golden_two_regions_with_accelerator() {
    let config = config(Some("us-west-2"));
    let primary = app_stack("us-east-1", "1111111111111111", false);
    let secondary = app_stack("us-west-2", "2222222222222222", true);
    let input = input_from_stacks(
        &config,
        &[&secondary, &primary],
        Some("arn:aws:globalaccelerator::123456789012:accelerator/0a1b2c3d-0000-4000-8000-123456789abc"),
    )
    .unwrap();
    let body = serde_json::to_value(build(&input)).unwrap();
    assert_golden("dashboard-two-regions", &body);

    // What the golden file must keep true, whatever the layout becomes.
    let lines = metric_lines(&body);
    for line in &lines {
        let options = line.last().unwrap();
        assert!(
            options["region"].is_string(),
            "metric without region: {line:?}"
        );
        assert_eq!(
            line.len() % 2,
            1,
            "dimension names and values pair up: {line:?}"
        );
    }
    let dimension_values: Vec<&str> = lines
        .iter()
        .flat_map(|line| line[2..line.len() - 1].iter())
        .filter_map(|value| value.as_str())
        .collect();
    assert!(dimension_values.contains(&"app/demo/1111111111111111"));
    assert!(dimension_values.contains(&"app/demo/2222222222222222"));
    assert!(dimension_values.contains(&"targetgroup/demo-like/2222222222222222bb"));
    assert!(dimension_values.contains(&"demo-mysfits-service"));
    assert!(dimension_values.contains(&"0a1b2c3d-0000-4000-8000-123456789abc"));
    assert!(
        !dimension_values
            .iter()
            .any(|value| value.starts_with("arn:")),
        "dimensions take full names, never ARNs"
    );
    for widget in body["widgets"].as_array().unwrap() {
        let (x, width) = (
            widget["x"].as_u64().unwrap(),
            widget["width"].as_u64().unwrap(),
        );
        assert!(x + width <= 24, "widget off the grid: {widget}");
    }
}

#[test]
fn dashboard_body_golden_one_region() {
    let config = config(None);
    let primary = app_stack("us-east-1", "1111111111111111", true);
    let input = input_from_stacks(&config, &[&primary], None).unwrap();
    let body = serde_json::to_value(build(&input)).unwrap();
    assert_golden("dashboard-one-region", &body);
    let lines = metric_lines(&body);
    let names: Vec<&str> = lines.iter().filter_map(|line| line[1].as_str()).collect();
    assert!(
        !names.contains(&"ReplicationLatency"),
        "no replica, no latency"
    );
    assert!(!names.contains(&"NewFlowCount"), "no accelerator, no flows");
    for expected in [
        "RequestCount",
        "HTTPCode_Target_2XX_Count",
        "HTTPCode_Target_4XX_Count",
        "HTTPCode_Target_5XX_Count",
        "TargetResponseTime",
        "HealthyHostCount",
        "CPUUtilization",
        "MemoryUtilization",
        "ConsumedReadCapacityUnits",
        "ConsumedWriteCapacityUnits",
    ] {
        assert!(names.contains(&expected), "{expected} missing");
    }
}

/// With tracing on, both regions' X-Ray group counts are graphed (each read in its own region, by
/// the group names the template creates); with tracing off there are no such groups and no graphs.
#[test]
fn dashboard_graphs_the_trace_groups_of_every_region_only_with_tracing_on() {
    let mut config = config(Some("us-west-2"));
    let primary = app_stack("us-east-1", "1111111111111111", true);
    let secondary = app_stack("us-west-2", "2222222222222222", true);
    for enabled in [true, false] {
        config.tracing.enabled = enabled;
        let input = input_from_stacks(&config, &[&primary, &secondary], None).unwrap();
        let body = serde_json::to_value(build(&input)).unwrap();
        let traced: Vec<(String, String)> = metric_lines(&body)
            .iter()
            .filter(|line| line[0] == "AWS/X-Ray")
            .map(|line| {
                assert_eq!(line[1], "ApproximateTraceCount");
                assert_eq!(line[2], "GroupName");
                let region = line.last().unwrap()["region"].as_str().unwrap();
                (region.to_string(), line[3].as_str().unwrap().to_string())
            })
            .collect();
        if !enabled {
            assert!(traced.is_empty(), "{traced:?}");
            continue;
        }
        for region in ["us-east-1", "us-west-2"] {
            for group in TraceGroup::ALL {
                let name = mysfits::app::names::trace_group("demo", group);
                assert!(
                    traced.contains(&(region.to_string(), name.clone())),
                    "{region} {name} missing from {traced:?}"
                );
            }
        }
    }
}

fn three_regions() -> Config {
    let global = GlobalArgs {
        regions: vec!["us-east-1".into(), "us-west-2".into(), "eu-west-1".into()],
        app: Some("demo".into()),
        ..GlobalArgs::default()
    };
    Config::resolve(&global, ConfigFile::default()).unwrap()
}

#[test]
fn dashboard_body_golden_three_regions() {
    let config = three_regions();
    let stacks = [
        app_stack("eu-west-1", "3333333333333333", true),
        app_stack("us-east-1", "1111111111111111", false),
        app_stack("us-west-2", "2222222222222222", true),
    ];
    let input = input_from_stacks(
        &config,
        &stacks.iter().collect::<Vec<_>>(),
        Some("arn:aws:globalaccelerator::123456789012:accelerator/0a1b2c3d-0000-4000-8000-123456789abc"),
    )
    .unwrap();
    let body = serde_json::to_value(build(&input)).unwrap();
    assert_golden("dashboard-three-regions", &body);

    let widgets = body["widgets"].as_array().unwrap();
    let title = widgets[0]["properties"]["markdown"].as_str().unwrap();
    assert!(
        title.contains("primary **us-east-1** · secondary **us-west-2** · secondary **eu-west-1**"),
        "{title}"
    );
    let responses: Vec<&serde_json::Value> = widgets
        .iter()
        .filter(|widget| {
            widget["properties"]["title"]
                .as_str()
                .is_some_and(|title| title.starts_with("Target responses"))
        })
        .collect();
    assert_eq!(responses.len(), 3, "one graph per region");
    assert!(responses.iter().all(|widget| widget["width"] == 8));
    for widget in widgets {
        assert_eq!(
            widget["properties"]["region"]
                .as_str()
                .unwrap_or("us-east-1"),
            "us-east-1"
        );
        let (x, width) = (
            widget["x"].as_u64().unwrap(),
            widget["width"].as_u64().unwrap(),
        );
        assert!(x + width <= 24, "widget off the grid: {widget}");
    }
    let lines = metric_lines(&body);
    let named = |name: &str| -> Vec<&Vec<serde_json::Value>> {
        lines.iter().filter(|line| line[1] == name).collect()
    };
    let pairs: Vec<(String, String)> = named("ReplicationLatency")
        .iter()
        .map(|line| {
            let options = line.last().unwrap();
            (
                options["region"].as_str().unwrap().to_string(),
                line[5].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let regions = ["us-east-1", "us-west-2", "eu-west-1"];
    let every_pair: Vec<(String, String)> = regions
        .iter()
        .flat_map(|source| {
            regions
                .iter()
                .filter(move |receiving| receiving != &source)
                .map(move |receiving| (source.to_string(), receiving.to_string()))
        })
        .collect();
    assert_eq!(
        pairs, every_pair,
        "published in the source, per receiving region"
    );
    assert_eq!(
        named("HealthyHostCount").len(),
        6,
        "every service in every region"
    );
    assert_eq!(named("CPUUtilization").len(), 6);
    assert_eq!(named("RequestCount").len(), 3);
    let text = body.to_string();
    assert!(text.contains("\"app/demo/3333333333333333\""), "{text}");
    assert!(
        text.contains("\"targetgroup/demo-like/3333333333333333bb\""),
        "{text}"
    );
}

#[test]
fn dashboard_show_reads_replication_towards_each_other_region() {
    use mysfits::dashboard::show::key_metrics;
    let config = three_regions();
    let stacks = [
        app_stack("us-east-1", "1111111111111111", true),
        app_stack("us-west-2", "2222222222222222", true),
        app_stack("eu-west-1", "3333333333333333", true),
    ];
    let input = input_from_stacks(&config, &stacks.iter().collect::<Vec<_>>(), None).unwrap();
    let home = &input.regions[0];
    assert!(home.home && !input.regions[1].home);
    let metrics = key_metrics(home, &input.table, &["us-west-2", "eu-west-1"]);
    let replication: Vec<(&str, &str, String)> = metrics
        .iter()
        .filter(|key| key.metric.name == "ReplicationLatency")
        .map(|key| {
            (
                key.label.as_str(),
                key.metric.region.as_str(),
                key.metric.dimensions[1].1.clone(),
            )
        })
        .collect();
    assert_eq!(
        replication,
        [
            (
                "replication to us-west-2",
                "us-east-1",
                "us-west-2".to_string()
            ),
            (
                "replication to eu-west-1",
                "us-east-1",
                "eu-west-1".to_string()
            ),
        ]
    );
    let healthy: Vec<&str> = metrics
        .iter()
        .filter(|key| key.label.starts_with("healthy "))
        .map(|key| key.label.as_str())
        .collect();
    assert_eq!(healthy, ["healthy mysfits-service", "healthy like-service"]);
}

#[test]
fn dashboard_input_names_what_is_missing() {
    let config = config(Some("us-west-2"));
    let primary = app_stack("us-east-1", "1111111111111111", true);
    let missing_region = input_from_stacks(&config, &[&primary], None).unwrap_err();
    assert!(
        missing_region.to_string().contains("us-west-2")
            && missing_region.to_string().contains("mysfits deploy"),
        "{missing_region}"
    );
    let mut broken = app_stack("us-west-2", "2222222222222222", false);
    broken.resources.remove("LoadBalancer");
    let error = input_from_stacks(&config, &[&primary, &broken], None).unwrap_err();
    assert!(
        error.to_string().contains("LoadBalancerArn") && error.to_string().contains("LoadBalancer"),
        "{error}"
    );
    let mut not_arn = app_stack("us-west-2", "2222222222222222", false);
    not_arn
        .resources
        .get_mut("MysfitsTargetGroup")
        .unwrap()
        .physical_id = "demo-mysfits".into();
    let error = input_from_stacks(&config, &[&primary, &not_arn], None).unwrap_err();
    assert!(
        error.to_string().contains("not the ARN of a target group"),
        "{error}"
    );
}

/// Deploys the real app stack (embedded template, through the CLI's change-set deployer) in
/// `region` and returns the load balancer's full name. Through a change set moto reports no
/// outputs: the dashboard must find every name from the physical resources.
async fn deploy_app_stack(moto: &Moto, config: &Config, region_name: &str) -> String {
    use mysfits::progress::Events;
    use mysfits::stack::deploy::StackDeployer;
    use mysfits::stack::{ServiceImages, app_request};

    let region = config
        .regions()
        .find(|region| region.name == region_name)
        .unwrap();
    let registry = format!("123456789012.dkr.ecr.{region_name}.amazonaws.com/demo");
    let images = ServiceImages::from_fn(|service| match service.id {
        "mysfits" => format!("{registry}/mysfits-service@sha256:{}", "a".repeat(64)),
        _ => format!("{registry}/like-service@sha256:{}", "b".repeat(64)),
    });
    let request = app_request(config, region, &images);
    let cloudformation = aws_sdk_cloudformation::Client::new(&moto.sdk_config(region_name));
    let stack = StackDeployer::new(&cloudformation, &request, Events::discard(), "app")
        .deploy()
        .await
        .unwrap();
    let arn = stack.value("LoadBalancerArn", "LoadBalancer").unwrap();
    arn.split_once(":loadbalancer/").unwrap().1.to_string()
}

fn datum(name: &str, dimensions: &[(&str, &str)], value: f64, age: Duration) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(name)
        .set_dimensions(Some(
            dimensions
                .iter()
                .map(|(name, value)| Dimension::builder().name(*name).value(*value).build())
                .collect(),
        ))
        .value(value)
        .timestamp((SystemTime::now() - age).into())
        .build()
}

fn run(moto: &Moto, args: &[&str]) -> crate::util::Run {
    let mut full = vec![
        "--region",
        "us-east-1",
        "--secondary-region",
        "us-west-2",
        "--app",
        "demo",
    ];
    full.extend_from_slice(args);
    Mysfits::new().envs(moto.client_env()).run(&full)
}

fn series<'a>(view: &'a serde_json::Value, label: &str) -> &'a serde_json::Value {
    view["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|series| series["label"] == label)
        .unwrap_or_else(|| panic!("no series {label} in {view}"))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn dashboard_create_show_delete_against_moto() {
    let moto = Moto::start();
    // Before any stack: create refuses and says what to do.
    let refused = run(&moto, &["dashboard", "create"]);
    assert_eq!(refused.code(), 2, "{}", refused.stderr());
    assert!(
        refused.stderr().contains("mysfits deploy"),
        "{}",
        refused.stderr()
    );

    let two_regions = config(Some("us-west-2"));
    let primary_balancer = deploy_app_stack(&moto, &two_regions, "us-east-1").await;
    let secondary_balancer = deploy_app_stack(&moto, &two_regions, "us-west-2").await;

    let created = run(&moto, &["--output", "json", "dashboard", "create"]);
    created.assert_success();
    let report: serde_json::Value = serde_json::from_str(&created.stdout()).unwrap();
    assert_eq!(report["changed"], true);
    assert_eq!(
        report["regions"],
        serde_json::json!(["us-east-1", "us-west-2"])
    );

    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.sdk_config("us-east-1"));
    let stored = cloudwatch
        .get_dashboard()
        .dashboard_name("demo")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(stored.dashboard_body().unwrap()).unwrap();
    let text = body.to_string();
    assert!(text.contains(&format!("\"{primary_balancer}\"")), "{text}");
    assert!(
        text.contains(&format!("\"{secondary_balancer}\"")),
        "{text}"
    );
    assert_eq!(
        text.matches("\"targetgroup/").count(),
        4,
        "one per service and region: {text}"
    );
    assert!(text.contains("\"demo-like-service\""), "{text}");

    let again = run(&moto, &["dashboard", "create"]);
    again.assert_success();
    assert!(again.stdout().contains("unchanged"), "{}", again.stdout());

    // Metric data in both regions, as ALB, ECS and DynamoDB would publish it.
    let minute = Duration::from_secs(60);
    let primary_metrics = cloudwatch.clone();
    let secondary_metrics = aws_sdk_cloudwatch::Client::new(&moto.sdk_config("us-west-2"));
    primary_metrics
        .put_metric_data()
        .namespace("AWS/ApplicationELB")
        .metric_data(datum(
            "RequestCount",
            &[("LoadBalancer", &primary_balancer)],
            40.0,
            2 * minute,
        ))
        .metric_data(datum(
            "RequestCount",
            &[("LoadBalancer", &primary_balancer)],
            2.0,
            2 * minute,
        ))
        .metric_data(datum(
            "HTTPCode_Target_5XX_Count",
            &[("LoadBalancer", &primary_balancer)],
            3.0,
            2 * minute,
        ))
        .send()
        .await
        .unwrap();
    primary_metrics
        .put_metric_data()
        .namespace("AWS/ECS")
        .metric_data(datum(
            "CPUUtilization",
            &[
                ("ClusterName", "demo"),
                ("ServiceName", "demo-mysfits-service"),
            ],
            37.5,
            2 * minute,
        ))
        .send()
        .await
        .unwrap();
    primary_metrics
        .put_metric_data()
        .namespace("AWS/DynamoDB")
        .metric_data(datum(
            "ReplicationLatency",
            &[
                ("TableName", "demo-mysfits"),
                ("ReceivingRegion", "us-west-2"),
            ],
            180.0,
            2 * minute,
        ))
        .send()
        .await
        .unwrap();
    secondary_metrics
        .put_metric_data()
        .namespace("AWS/ApplicationELB")
        .metric_data(datum(
            "RequestCount",
            &[("LoadBalancer", &secondary_balancer)],
            7.0,
            2 * minute,
        ))
        .send()
        .await
        .unwrap();

    let shown = run(&moto, &["--output", "json", "dashboard", "show"]);
    shown.assert_success();
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout()).unwrap();
    assert_eq!(shown["dashboard_exists"], true);
    let primary = &shown["regions"][0];
    let secondary = &shown["regions"][1];
    assert_eq!(primary["region"], "us-east-1");
    assert_eq!(series(primary, "requests")["latest"], 42.0);
    assert_eq!(series(primary, "target 5XX")["latest"], 3.0);
    assert_eq!(series(primary, "cpu mysfits-service")["latest"], 37.5);
    assert_eq!(
        series(primary, "cpu like-service")["latest"],
        serde_json::Value::Null
    );
    assert_eq!(series(primary, "replication to us-west-2")["latest"], 180.0);
    assert_eq!(series(secondary, "requests")["latest"], 7.0);
    assert_eq!(
        series(secondary, "target 5XX")["latest"],
        serde_json::Value::Null
    );

    let text = run(&moto, &["dashboard", "show"]);
    text.assert_success();
    let text = text.stdout();
    assert!(text.contains("us-west-2 (secondary)"), "{text}");
    let requests_line = text
        .lines()
        .find(|line| line.trim_start().starts_with("requests"))
        .unwrap();
    assert!(
        requests_line.contains("42") && requests_line.contains('▁'),
        "{text}"
    );

    // A DR region without the stack (moto cannot delete the real app stack: its VPC "has
    // dependencies"; a region never deployed to is the same case): the primary is still shown,
    // the other region says why not.
    let degraded = Mysfits::new().envs(moto.client_env()).run(&[
        "--region",
        "us-east-1",
        "--secondary-region",
        "eu-west-1",
        "--app",
        "demo",
        "dashboard",
        "show",
    ]);
    degraded.assert_success();
    let degraded = degraded.stdout();
    assert!(
        degraded.contains("stack demo-app not found in eu-west-1")
            && degraded.contains("mysfits deploy"),
        "{degraded}"
    );
    assert!(degraded.contains("42"), "{degraded}");

    // Deleting asks for confirmation; with --yes it goes, and a second delete is a no-op.
    let unconfirmed = run(&moto, &["dashboard", "delete"]);
    assert_eq!(unconfirmed.code(), 2);
    assert!(
        unconfirmed.stderr().contains("--yes"),
        "{}",
        unconfirmed.stderr()
    );
    run(&moto, &["dashboard", "delete", "--yes"]).assert_success();
    let listed = cloudwatch.list_dashboards().send().await.unwrap();
    assert!(listed.dashboard_entries().is_empty());
    let second = run(&moto, &["dashboard", "delete", "--yes"]);
    second.assert_success();
    assert!(
        second.stdout().contains("does not exist"),
        "{}",
        second.stdout()
    );
}

/// Lines of the service whose group this is, in a stream of its container named as ECS names
/// it: `prefix/container/task-id`, the prefix being the service's name.
async fn put_log_lines(moto: &Moto, region: &str, group: &str, lines: &[(&str, Duration)]) {
    let service = group.rsplit('/').next().unwrap();
    let stream = format!("{service}/{service}/0123456789abcdef0123456789abcdef");
    put_stream_lines(moto, region, group, &stream, lines).await;
}

async fn put_stream_lines(
    moto: &Moto,
    region: &str,
    group: &str,
    stream: &str,
    lines: &[(&str, Duration)],
) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config(region));
    let _ = logs.create_log_group().log_group_name(group).send().await;
    let _ = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    let mut request = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream);
    for (message, age) in lines {
        let timestamp = (SystemTime::now() - *age)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        request = request.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .message(*message)
                .timestamp(timestamp)
                .build()
                .unwrap(),
        );
    }
    request.send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn logs_merge_both_regions_and_name_missing_groups() {
    let moto = Moto::start();
    let group = "/ecs/demo/mysfits-service";
    let second = Duration::from_secs(1);
    put_log_lines(
        &moto,
        "us-east-1",
        group,
        &[("east first", 60 * second), ("east third", 30 * second)],
    )
    .await;
    put_log_lines(&moto, "us-west-2", group, &[("west second", 45 * second)]).await;
    // The tracing collector writes to the same group, in streams of its own prefix.
    put_stream_lines(
        &moto,
        "us-east-1",
        group,
        "otel-collector/otel-collector/fedcba9876543210fedcba9876543210",
        &[("collector started", 50 * second)],
    )
    .await;

    let collector = run(&moto, &["logs", "--collector"]);
    collector.assert_success();
    let collector: Vec<String> = collector.stdout().lines().map(str::to_string).collect();
    assert_eq!(collector.len(), 1, "{collector:?}");
    assert!(
        collector[0].contains(" fedcba98 ") && collector[0].ends_with("collector started"),
        "{collector:?}"
    );

    let listed = run(&moto, &["logs"]);
    listed.assert_success();
    let lines: Vec<String> = listed.stdout().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("[us-east-1] ") && lines[0].ends_with("east first"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("[us-west-2] ") && lines[1].ends_with("west second"),
        "{lines:?}"
    );
    assert!(lines[2].ends_with("east third"), "{lines:?}");
    assert!(lines[0].contains(" 01234567 "), "task id shown: {lines:?}");

    // --in picks regions: only the west's line.
    let west = run(&moto, &["logs", "--in", "us-west-2"]);
    west.assert_success();
    let west: Vec<String> = west.stdout().lines().map(str::to_string).collect();
    assert_eq!(west.len(), 1, "{west:?}");
    assert!(
        west[0].starts_with("[us-west-2] ") && west[0].ends_with("west second"),
        "{west:?}"
    );
    let both = run(&moto, &["logs", "--in", "us-west-2,us-east-1"]);
    both.assert_success();
    assert_eq!(both.stdout().lines().count(), 3, "{}", both.stdout());

    let json = run(&moto, &["--output", "json", "logs", "--limit", "1"]);
    json.assert_success();
    let only: serde_json::Value = serde_json::from_str(json.stdout().trim()).unwrap();
    assert_eq!(only["message"], "east third");
    assert_eq!(only["region"], "us-east-1");

    let unknown = run(&moto, &["logs", "--service", "cart-service"]);
    assert_eq!(unknown.code(), 2);
    assert!(
        unknown.stderr().contains("cart-service") && unknown.stderr().contains("like-service"),
        "{}",
        unknown.stderr()
    );

    let missing = run(&moto, &["logs", "--service", "like-service"]);
    assert_eq!(missing.code(), 2, "{}", missing.stdout());
    assert!(
        missing
            .stderr()
            .contains("log group /ecs/demo/like-service not found in us-west-2")
            && missing.stderr().contains("fix:"),
        "{}",
        missing.stderr()
    );

    // One region without the group: its absence is reported, the other region still shown.
    aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config("us-west-2"))
        .delete_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    let partial = run(&moto, &["logs"]);
    partial.assert_success();
    assert_eq!(partial.stdout().lines().count(), 2, "{}", partial.stdout());
    assert!(
        partial.stderr().contains("not found in us-west-2"),
        "{}",
        partial.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server; run scripts/test"]
async fn logs_follow_prints_new_lines_once() {
    use std::io::BufRead;

    let moto = Moto::start();
    let group = "/ecs/demo/like-service";
    put_log_lines(
        &moto,
        "us-east-1",
        group,
        &[("before", Duration::from_secs(5))],
    )
    .await;
    put_log_lines(
        &moto,
        "us-west-2",
        group,
        &[("west before", Duration::from_secs(4))],
    )
    .await;

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mysfits"))
        .args([
            "--region",
            "us-east-1",
            "--secondary-region",
            "us-west-2",
            "--app",
            "demo",
            "logs",
            "--service",
            "like-service",
            "--follow",
            "--interval",
            "1",
        ])
        .envs(moto.client_env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let next = || receiver.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(next().ends_with("before"));
    assert!(next().ends_with("west before"));
    put_log_lines(&moto, "us-west-2", group, &[("west after", Duration::ZERO)]).await;
    let followed = next();
    assert!(
        followed.starts_with("[us-west-2] ") && followed.ends_with("west after"),
        "{followed}"
    );
    // Several more polls: nothing printed twice.
    std::thread::sleep(Duration::from_millis(2500));
    let repeated: Vec<String> = receiver.try_iter().collect();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(repeated.is_empty(), "printed again: {repeated:?}");
}
