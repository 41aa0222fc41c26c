//! A deploy never lowers what a region runs: after a failover raised a region's services (ECS
//! desired count) and their autoscaling minimums (Application Auto Scaling, outside the stack),
//! the next deploy's stack parameters keep both, so the stack update CloudFormation sends (every
//! image change updates the services) cannot shrink the region now serving the traffic.
//!
//! - `mocked`: the parameters from modeled DescribeServices / DescribeScalableTargets answers,
//!   including the region without the app and the region that does not answer.
//! - `emulator`: the real binary against moto: deploy, raise the counts as failover does, deploy
//!   a changed image, and the ECS services still want the raised counts (moto's CloudFormation
//!   skips scalable targets, so their minimum is checked in the stack's parameters).

mod mocked {
    use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
    use aws_sdk_applicationautoscaling::types::{
        ScalableDimension, ScalableTarget, ServiceNamespace,
    };
    use aws_sdk_ecs::operation::describe_services::{
        DescribeServicesError, DescribeServicesOutput,
    };
    use aws_sdk_ecs::types::Service;
    use aws_smithy_mocks::{Rule, mock};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::DateTime;
    use aws_smithy_types::body::SdkBody;
    use mysfits::aws::RegionClients;
    use mysfits::config::RegionSettings;
    use mysfits::stack::capacity::{self, RunningCapacity};
    use mysfits::stack::{ServiceImages, app_request, app_request_with};

    const REGION: &str = "us-west-2";

    fn clients(ecs: &[Rule], autoscaling: &[Rule]) -> RegionClients {
        crate::fixtures::scaling::ecs_and_scaling_clients(
            REGION,
            &ecs.iter().collect::<Vec<_>>(),
            &autoscaling.iter().collect::<Vec<_>>(),
        )
    }

    /// The DR region as configured: 1 task per service at rest, at most 4.
    fn standby() -> RegionSettings {
        RegionSettings {
            name: REGION.into(),
            home: false,
            endpoint_url: None,
            registry_url: None,
            availability_zones: None,
            desired_count: 1,
            max_count: 4,
            certificate_arn: None,
        }
    }

    fn config() -> mysfits::config::Config {
        let global = mysfits::cli::GlobalArgs {
            region: Some("us-east-1".into()),
            secondary_region: Some(REGION.into()),
            app: Some("demo".into()),
            ..mysfits::cli::GlobalArgs::default()
        };
        mysfits::config::Config::resolve(
            &global,
            serde_yaml::from_str(
                "regions:\n  us-west-2:\n    desired_count: 1\n    max_count: 4\n",
            )
            .unwrap(),
        )
        .unwrap()
    }

    fn images() -> ServiceImages {
        ServiceImages::from_fn(|service| match service.id {
            "mysfits" => format!("repo/mysfits-service@sha256:{}", "c".repeat(64)),
            _ => format!("repo/like-service@sha256:{}", "d".repeat(64)),
        })
    }

    /// Both services ACTIVE with these desired counts (mysfits, like), as ECS describes them.
    fn described_services(mysfits: i32, like: i32) -> Rule {
        mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
            let service = |name: &str, desired: i32| {
                Service::builder()
                    .service_name(name)
                    .cluster_arn("arn:aws:ecs:us-west-2:123456789012:cluster/demo")
                    .status("ACTIVE")
                    .desired_count(desired)
                    .running_count(desired)
                    .build()
            };
            DescribeServicesOutput::builder()
                .services(service("demo-mysfits-service", mysfits))
                .services(service("demo-like-service", like))
                .build()
        })
    }

    /// The scalable targets as failover leaves them: MinCapacity raised, MaxCapacity along.
    fn scalable_targets(mysfits_min: i32, like_min: i32) -> Rule {
        mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets).then_output(
            move || {
                let target = |service: &str, min: i32| {
                    ScalableTarget::builder()
                        .service_namespace(ServiceNamespace::Ecs)
                        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                        .resource_id(format!("service/demo/{service}"))
                        .min_capacity(min)
                        .max_capacity(min.max(4))
                        .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
                        .creation_time(DateTime::from_secs(0))
                        .build()
                        .unwrap()
                };
                DescribeScalableTargetsOutput::builder()
                    .scalable_targets(target("demo-mysfits-service", mysfits_min))
                    .scalable_targets(target("demo-like-service", like_min))
                    .build()
            },
        )
    }

    fn counts(request: &mysfits::stack::StackRequest) -> Vec<(&str, &str)> {
        [
            "DesiredCount",
            "MysfitsDesiredCount",
            "LikeDesiredCount",
            "MysfitsMinCapacity",
            "LikeMinCapacity",
            "MaxCount",
        ]
        .into_iter()
        .map(|name| (name, request.parameters[name].as_str()))
        .collect()
    }

    #[tokio::test]
    async fn a_deploy_after_a_failover_keeps_the_raised_counts_and_minimums() {
        // After a failover to the standby: mysfits runs 6 with minimum 6 (above the configured
        // MaxCount 4, so failover raised the maximum too), like runs 3 with minimum 2 (target
        // tracking added one since).
        let ecs = [described_services(6, 3)];
        let autoscaling = [scalable_targets(6, 2)];
        let clients = clients(&ecs, &autoscaling);
        let running = capacity::read(&clients, "demo").await;
        assert_eq!(running.unread, None);
        let config = config();
        let region = config.region_named(REGION).unwrap();
        assert_eq!(region, &standby());
        let request = app_request_with(&config, region, &images(), &running);
        assert_eq!(
            counts(&request),
            [
                ("DesiredCount", "1"),
                ("MysfitsDesiredCount", "6"),
                ("LikeDesiredCount", "3"),
                ("MysfitsMinCapacity", "6"),
                ("LikeMinCapacity", "2"),
                ("MaxCount", "6"),
            ],
            "configured count for failover's restore, the running counts for the services"
        );
        let notes = running.notes("demo", region);
        assert!(
            notes
                .iter()
                .any(|note| note.contains("demo-mysfits-service keeps 6 tasks")),
            "{notes:?}"
        );
        // The configured counts alone (what the stack had before) would have shrunk the region.
        assert_eq!(
            counts(&app_request(&config, region, &images()))[1..5],
            [
                ("MysfitsDesiredCount", "1"),
                ("LikeDesiredCount", "1"),
                ("MysfitsMinCapacity", "1"),
                ("LikeMinCapacity", "1"),
            ]
        );
        assert_eq!(ecs[0].num_calls(), 1);
        assert_eq!(autoscaling[0].num_calls(), 1);
    }

    #[tokio::test]
    async fn a_region_running_less_than_configured_gets_the_configured_counts() {
        let ecs = [described_services(0, 1)];
        let autoscaling = [scalable_targets(0, 1)];
        let running = capacity::read(&clients(&ecs, &autoscaling), "demo").await;
        let config = config();
        let request = app_request_with(
            &config,
            config.region_named(REGION).unwrap(),
            &images(),
            &running,
        );
        assert_eq!(
            counts(&request)[1..],
            [
                ("MysfitsDesiredCount", "1"),
                ("LikeDesiredCount", "1"),
                ("MysfitsMinCapacity", "1"),
                ("LikeMinCapacity", "1"),
                ("MaxCount", "4"),
            ]
        );
    }

    /// Before the first deploy ECS answers ClusterNotFoundException (HTTP 400): the configured
    /// counts, and no Application Auto Scaling call.
    #[tokio::test]
    async fn a_region_without_the_app_gets_the_configured_counts() {
        let ecs = [
            mock!(aws_sdk_ecs::Client::describe_services).then_error(|| {
                DescribeServicesError::ClusterNotFoundException(
                    aws_sdk_ecs::types::error::ClusterNotFoundException::builder()
                        .message("Cluster not found.")
                        .meta(
                            aws_smithy_types::error::ErrorMetadata::builder()
                                .code("ClusterNotFoundException")
                                .message("Cluster not found.")
                                .build(),
                        )
                        .build(),
                )
            }),
        ];
        let autoscaling = [scalable_targets(9, 9)];
        let running = capacity::read(&clients(&ecs, &autoscaling), "demo").await;
        assert_eq!(running, RunningCapacity::default());
        assert_eq!(autoscaling[0].num_calls(), 0);
        assert!(running.notes("demo", &standby()).is_empty());
    }

    /// A region whose ECS endpoint answers 503 on every attempt: the configured counts, and a
    /// note that says the counts could not be read.
    #[tokio::test]
    async fn a_region_that_does_not_answer_gets_the_configured_counts_and_a_note() {
        let ecs = [mock!(aws_sdk_ecs::Client::describe_services)
            .sequence()
            .http_response(|| {
                aws_smithy_runtime_api::http::Response::new(
                    StatusCode::try_from(503).unwrap(),
                    SdkBody::from("Service Unavailable"),
                )
            })
            .times(10)
            .build()];
        let autoscaling = [scalable_targets(9, 9)];
        let running = capacity::read(&clients(&ecs, &autoscaling), "demo").await;
        assert!(running.services.is_empty(), "{running:?}");
        let reason = running.unread.clone().expect("the failure is kept");
        assert!(reason.contains("DescribeServices"), "{reason}");
        let notes = running.notes("demo", &standby());
        assert!(
            notes[0].contains("using the configured desired_count 1"),
            "{notes:?}"
        );
        assert_eq!(
            running.counts(&mysfits::app::SERVICES[0], &standby()),
            capacity::ServiceCounts {
                desired: 1,
                min_capacity: 1
            }
        );
    }
}

mod emulator {
    use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
    use testbed::moto::Moto;
    use testbed::registry::Registry;

    use crate::fixtures::emulator::{deploy, static_service_binaries};

    const REGION: &str = "us-east-1";

    async fn desired_counts(ecs: &aws_sdk_ecs::Client) -> Vec<(String, i32)> {
        let described = ecs
            .describe_services()
            .cluster("cap")
            .services("cap-mysfits-service")
            .services("cap-like-service")
            .send()
            .await
            .unwrap();
        let mut counts: Vec<(String, i32)> = described
            .services()
            .iter()
            .map(|service| {
                (
                    service.service_name().unwrap().to_string(),
                    service.desired_count(),
                )
            })
            .collect();
        counts.sort();
        counts
    }

    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "emulator tier: needs moto_server, docker-registry and a static build of the services; run scripts/test"]
    async fn a_deploy_of_a_new_image_after_a_failover_keeps_the_serving_regions_count() {
        let built = static_service_binaries().await;
        let moto = Moto::start();
        let registry = Registry::start();
        let config_text = format!(
            "app: cap\nregion: {REGION}\nendpoint_url: {}\n\
             regions:\n  {REGION}:\n    registry_url: {}\n    availability_zones: [us-east-1a, us-east-1b]\n    desired_count: 1\n",
            moto.endpoint(),
            registry.url()
        );
        let first = deploy(&moto, &config_text, &built);
        assert_eq!(first["changed"], true, "{first:#}");
        let sdk = moto.sdk_config(REGION);
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        assert_eq!(
            desired_counts(&ecs).await,
            [
                ("cap-like-service".to_string(), 1),
                ("cap-mysfits-service".to_string(), 1)
            ]
        );

        // What `mysfits failover` does to the region it moves traffic to: minimum, then count.
        let autoscaling = aws_sdk_applicationautoscaling::Client::new(&sdk);
        for service in ["cap-mysfits-service", "cap-like-service"] {
            autoscaling
                .register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .resource_id(format!("service/cap/{service}"))
                .min_capacity(5)
                .max_capacity(5)
                .send()
                .await
                .unwrap();
            ecs.update_service()
                .cluster("cap")
                .service(service)
                .desired_count(5)
                .send()
                .await
                .unwrap();
        }

        // A new image of the like service: a changed binary changes its layer and digest.
        let changed = tempfile::tempdir().unwrap();
        for binary in ["mysfits-service", "like-service"] {
            std::fs::copy(built.join(binary), changed.path().join(binary)).unwrap();
        }
        let mut like = std::fs::OpenOptions::new()
            .append(true)
            .open(changed.path().join("like-service"))
            .unwrap();
        std::io::Write::write_all(&mut like, b"\0changed").unwrap();
        drop(like);
        let second = deploy(&moto, &config_text, changed.path());
        let app = second["regions"][0]["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|stack| stack["name"] == "cap-app")
            .unwrap_or_else(|| panic!("{second:#}"));
        assert_eq!(
            app["changed"], true,
            "the new image updates the stack: {second:#}"
        );
        assert_ne!(
            first["regions"][0]["images"]["like"], second["regions"][0]["images"]["like"],
            "a new like-service image"
        );

        assert_eq!(
            desired_counts(&ecs).await,
            [
                ("cap-like-service".to_string(), 5),
                ("cap-mysfits-service".to_string(), 5)
            ],
            "the stack update kept the counts failover set"
        );
        let stack = aws_sdk_cloudformation::Client::new(&sdk)
            .describe_stacks()
            .stack_name("cap-app")
            .send()
            .await
            .unwrap();
        let parameters = mysfits::stack::deploy::stack_parameters(&stack.stacks()[0]);
        for (name, value) in [
            ("DesiredCount", "1"),
            ("MysfitsDesiredCount", "5"),
            ("LikeDesiredCount", "5"),
            ("MysfitsMinCapacity", "5"),
            ("LikeMinCapacity", "5"),
            ("MaxCount", "5"),
        ] {
            assert_eq!(
                parameters.get(name).map(String::as_str),
                Some(value),
                "{name}: {parameters:?}"
            );
        }
    }
}
