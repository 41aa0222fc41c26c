//! Real-AWS answers moto does not give, from the AWS review: stack events over several pages
//! (a rolled-back create's cause is older than its rollback), previews of stacks deploy must
//! recover first, log events that arrive late or behind a page token, and a failover whose source
//! runs more tasks than the target's MaxCount. Modeled with aws-smithy-mocks.

use std::sync::{Arc, Mutex};

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::types::{ChangeSetType, ResourceStatus, StackEvent, StackStatus};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use mysfits::error::Error;
use mysfits::progress::Events;
use mysfits::stack::deploy::{Preview, StackDeployer, delete_failures};

use crate::fixtures::cfn::{STACK_ID, change_set_ready, request, stack, stack_event};

const CAUSE: &str = "Resource handler returned message: \"Invalid parameter at 'ImageTagMutability' \
                     failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, \
                     IMMUTABLE]'\" (HandlerErrorCode: InvalidRequest)";

/// One DescribeStackEvents page, answered to the request with `token` (None: the first page).
fn events_page(
    token: Option<&'static str>,
    next: Option<&'static str>,
    events: Vec<StackEvent>,
) -> Rule {
    mock!(Client::describe_stack_events)
        .match_requests(move |request| request.next_token() == token)
        .then_output(move || {
            DescribeStackEventsOutput::builder()
                .set_stack_events(Some(events.clone()))
                .set_next_token(next.map(str::to_string))
                .build()
        })
}

/// A create through a change set that failed and rolled back, newest first over two pages as
/// CloudFormation pages them: the rollback's DELETE_* events fill page 1, the cause is on page 2.
fn rolled_back_create() -> [Rule; 2] {
    [
        events_page(
            None,
            Some("page-2"),
            vec![
                stack_event("e9", "demo-registry", ResourceStatus::RollbackComplete, ""),
                stack_event("e8", "LikeRepository", ResourceStatus::DeleteComplete, ""),
                stack_event(
                    "e7",
                    "MysfitsRepository",
                    ResourceStatus::DeleteComplete,
                    "",
                ),
                stack_event(
                    "e6",
                    "demo-registry",
                    ResourceStatus::RollbackInProgress,
                    "The following resource(s) failed to create: [LikeRepository, MysfitsRepository]. Rollback requested by user.",
                ),
                stack_event(
                    "e5",
                    "LikeRepository",
                    ResourceStatus::CreateFailed,
                    "Resource creation cancelled",
                ),
            ],
        ),
        events_page(
            Some("page-2"),
            None,
            vec![
                stack_event(
                    "e4",
                    "MysfitsRepository",
                    ResourceStatus::CreateFailed,
                    CAUSE,
                ),
                stack_event("e3", "LikeRepository", ResourceStatus::CreateInProgress, ""),
                stack_event(
                    "e2",
                    "MysfitsRepository",
                    ResourceStatus::CreateInProgress,
                    "",
                ),
                stack_event(
                    "e1",
                    "demo-registry",
                    ResourceStatus::CreateInProgress,
                    "User Initiated",
                ),
                stack_event(
                    "e0",
                    "demo-registry",
                    ResourceStatus::from("REVIEW_IN_PROGRESS"),
                    "User Initiated",
                ),
            ],
        ),
    ]
}

fn missing_stack() -> DescribeStacksError {
    DescribeStacksError::generic(
        ErrorMetadata::builder()
            .code("ValidationError")
            .message("Stack with id demo-registry does not exist")
            .build(),
    )
}

fn any_change_set() -> Rule {
    mock!(Client::create_change_set).then_output(|| {
        CreateChangeSetOutput::builder()
            .id("arn:aws:cloudformation:us-east-1:123456789012:changeSet/mysfits-1/1")
            .stack_id(STACK_ID)
            .build()
    })
}

#[tokio::test]
async fn a_rolled_back_create_names_its_cause_from_an_older_events_page() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .error(missing_stack)
        .output(|| stack(StackStatus::RollbackComplete))
        .repeatedly()
        .build();
    let [page_1, page_2] = rolled_back_create();
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[
            &describe,
            &any_change_set(),
            &change_set_ready(),
            &page_1,
            &page_2,
            &execute
        ]
    );
    let request = request();
    let error = StackDeployer::new(&client, &request, Events::discard(), "registry")
        .deploy()
        .await
        .unwrap_err();
    let Error::Stack {
        status, failures, ..
    } = &error
    else {
        panic!("expected a stack error, got {error}");
    };
    assert_eq!(status, "ROLLBACK_COMPLETE");
    assert_eq!(
        failures
            .iter()
            .map(|failure| failure.logical_id.as_str())
            .collect::<Vec<_>>(),
        ["MysfitsRepository"],
        "the cause on page 2, not the cancellation on page 1: {failures:?}"
    );
    assert!(error.to_string().contains("ImageTagMutability"), "{error}");
    assert!(page_2.num_calls() >= 1, "page 2 must be read");
}

#[tokio::test]
async fn a_failed_delete_names_its_blockers_and_reads_no_page_before_the_delete_started() {
    let page_1 = events_page(
        None,
        Some("page-2"),
        vec![
            stack_event(
                "d9",
                "demo-registry",
                ResourceStatus::DeleteFailed,
                "The following resource(s) failed to delete: [MysfitsRepository]. ",
            ),
            stack_event("d8", "LikeRepository", ResourceStatus::DeleteComplete, ""),
        ],
    );
    let page_2 = events_page(
        Some("page-2"),
        Some("page-3"),
        vec![
            stack_event(
                "d7",
                "MysfitsRepository",
                ResourceStatus::DeleteFailed,
                "Resource handler returned message: \"The repository with name 'demo/mysfits-service' in registry with id '123456789012' cannot be deleted because it still contains images\"",
            ),
            stack_event(
                "d6",
                "MysfitsRepository",
                ResourceStatus::DeleteInProgress,
                "",
            ),
            stack_event(
                "d5",
                "demo-registry",
                ResourceStatus::DeleteInProgress,
                "User Initiated",
            ),
            // An earlier attempt: not this delete's failure.
            stack_event("d4", "demo-registry", ResourceStatus::DeleteFailed, ""),
        ],
    );
    let page_3 = events_page(
        Some("page-3"),
        None,
        vec![stack_event(
            "d3",
            "LikeRepository",
            ResourceStatus::DeleteFailed,
            "an older attempt's reason",
        )],
    );
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&page_1, &page_2, &page_3]
    );
    let failures = delete_failures(&client, STACK_ID).await;
    assert_eq!(
        failures
            .iter()
            .map(|failure| (failure.logical_id.as_str(), failure.status.as_str()))
            .collect::<Vec<_>>(),
        [("MysfitsRepository", "DELETE_FAILED")],
        "{failures:?}"
    );
    assert!(failures[0].reason.contains("still contains images"));
    assert_eq!(page_2.num_calls(), 1);
    assert_eq!(
        page_3.num_calls(),
        0,
        "pages older than the delete's start are not read"
    );
}

#[tokio::test]
async fn a_rolled_back_stack_previews_as_delete_and_create_without_a_change_set() {
    let describe =
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::RollbackComplete));
    let update = mock!(Client::create_change_set)
        .match_requests(|request| request.change_set_type() == Some(&ChangeSetType::Update))
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id("cs")
                .stack_id(STACK_ID)
                .build()
        });
    let any = any_change_set();
    let delete = mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let [page_1, page_2] = rolled_back_create();
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&describe, &update, &any, &delete, &page_1, &page_2]
    );
    let request = request();
    let preview = StackDeployer::new(&client, &request, Events::discard(), "plan")
        .preview()
        .await
        .unwrap();
    assert_eq!(
        update.num_calls(),
        0,
        "AWS refuses an UPDATE change set here"
    );
    assert_eq!(
        any.num_calls(),
        0,
        "no change set at all: a CREATE one needs the stack gone"
    );
    assert_eq!(delete.num_calls(), 0, "plan must not delete the stack");
    let Preview::Recover {
        status,
        action,
        failures,
    } = &preview
    else {
        panic!("expected a recovery preview, got {preview:?}");
    };
    assert_eq!(status, "ROLLBACK_COMPLETE");
    assert!(
        action.contains("deletes it and creates it again"),
        "{action}"
    );
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].reason.contains("ImageTagMutability"));
    assert!(preview.has_changes());
    let json = serde_json::to_value(&preview).unwrap();
    assert_eq!(json["kind"], "recover");
}

#[tokio::test]
async fn a_delete_failed_stack_previews_the_retry_and_its_blockers() {
    let describe = mock!(Client::describe_stacks).then_output(|| stack(StackStatus::DeleteFailed));
    let any = any_change_set();
    let page = events_page(
        None,
        None,
        vec![
            stack_event("d9", "demo-registry", ResourceStatus::DeleteFailed, ""),
            stack_event(
                "d8",
                "MysfitsRepository",
                ResourceStatus::DeleteFailed,
                "cannot be deleted because it still contains images",
            ),
            stack_event("d7", "demo-registry", ResourceStatus::DeleteInProgress, ""),
        ],
    );
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[&describe, &any, &page]
    );
    let request = request();
    let preview = StackDeployer::new(&client, &request, Events::discard(), "plan")
        .preview()
        .await
        .unwrap();
    assert_eq!(any.num_calls(), 0);
    let Preview::Recover {
        action, failures, ..
    } = &preview
    else {
        panic!("expected a recovery preview, got {preview:?}");
    };
    assert!(action.contains("retries the delete"), "{action}");
    assert_eq!(failures[0].logical_id, "MysfitsRepository");
}

#[tokio::test]
async fn a_review_in_progress_stack_previews_a_create_and_keeps_the_stack() {
    let describe =
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::ReviewInProgress));
    let create = mock!(Client::create_change_set)
        .match_requests(|request| request.change_set_type() == Some(&ChangeSetType::Create))
        .then_output(|| {
            CreateChangeSetOutput::builder()
                .id("cs")
                .stack_id(STACK_ID)
                .build()
        });
    let delete_stack =
        mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let delete_change_set =
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        &[
            &describe,
            &create,
            &change_set_ready(),
            &delete_stack,
            &delete_change_set
        ]
    );
    let request = request();
    let preview = StackDeployer::new(&client, &request, Events::discard(), "plan")
        .preview()
        .await
        .unwrap();
    assert!(matches!(preview, Preview::Create { .. }), "{preview:?}");
    assert_eq!(create.num_calls(), 1);
    assert_eq!(
        delete_stack.num_calls(),
        0,
        "the stack was there before the preview"
    );
    assert_eq!(delete_change_set.num_calls(), 1);
}

mod logs {
    use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsOutput;
    use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use mysfits::aws::RegionClients;
    use mysfits::commands::logs::{Follower, LogSource, OVERLAP_MS};

    use super::{Arc, Mutex};

    fn event(id: &str, stream: &str, timestamp: i64) -> FilteredLogEvent {
        FilteredLogEvent::builder()
            .event_id(id)
            .log_stream_name(stream)
            .timestamp(timestamp)
            .ingestion_time(timestamp + 1000)
            .message(format!("line {id}"))
            .build()
    }

    pub(super) fn region_clients(
        region: &str,
        logs: aws_sdk_cloudwatchlogs::Client,
        autoscaling: aws_sdk_applicationautoscaling::Client,
        ecs: aws_sdk_ecs::Client,
    ) -> RegionClients {
        RegionClients {
            region: region.to_string(),
            endpoint_url: None,
            cloudformation: mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &[]),
            cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[]),
            dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[]),
            ecr: mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[]),
            ecs,
            elbv2: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, &[]),
            ec2: mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[]),
            logs,
            autoscaling,
            xray: mock_client!(aws_sdk_xray, RuleMode::MatchAny, &[]),
        }
    }

    #[tokio::test]
    async fn follow_reads_every_page_and_prints_a_late_older_event_once() {
        let starts = Arc::new(Mutex::new(Vec::new()));
        let recorded = starts.clone();
        // Poll 1: an empty first page with a nextToken (FilterLogEvents searches on), then task A's
        // line at 100 s. Poll 2 (from 100 s - overlap): task B's line of 70 s, ingested only now,
        // and A's line again.
        let first_poll_page_1 = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .match_requests(|request| {
                request.next_token().is_none() && request.start_time() == Some(0)
            })
            .then_compute_output(move |request| {
                recorded.lock().unwrap().push(request.start_time());
                FilterLogEventsOutput::builder().next_token("more").build()
            });
        let first_poll_page_2 = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .match_requests(|request| request.next_token() == Some("more"))
            .then_output(|| {
                FilterLogEventsOutput::builder()
                    .events(event("a", "ecs/mysfits-service/aaaaaaaa", 100_000))
                    .build()
            });
        let recorded = starts.clone();
        let second_poll = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .match_requests(|request| {
                request.next_token().is_none() && request.start_time() != Some(0)
            })
            .then_compute_output(move |request| {
                recorded.lock().unwrap().push(request.start_time());
                FilterLogEventsOutput::builder()
                    .events(event("b", "ecs/mysfits-service/bbbbbbbb", 70_000))
                    .events(event("a", "ecs/mysfits-service/aaaaaaaa", 100_000))
                    .build()
            });
        let logs = mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            &[&first_poll_page_1, &first_poll_page_2, &second_poll]
        );
        let regions = [region_clients(
            "us-east-1",
            logs,
            mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &[]),
            mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[]),
        )];
        let mut follower = Follower::new(LogSource::whole_group("/ecs/demo/mysfits-service"), 0);
        follower.watch("us-east-1", 0);
        let first: Vec<String> = follower
            .poll(&regions)
            .await
            .into_iter()
            .map(|line| line.message)
            .collect();
        assert_eq!(first, ["line a"], "the event behind the page token");
        assert_eq!(first_poll_page_2.num_calls(), 1);
        let second: Vec<String> = follower
            .poll(&regions)
            .await
            .into_iter()
            .map(|line| line.message)
            .collect();
        assert_eq!(
            second,
            ["line b"],
            "the late line once, the printed one not again"
        );
        assert_eq!(
            *starts.lock().unwrap(),
            [Some(0), Some(100_000 - OVERLAP_MS)]
        );
        assert!(follower.poll(&regions).await.is_empty());
    }
}

mod failover_scale {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
    use aws_sdk_applicationautoscaling::operation::register_scalable_target::RegisterScalableTargetOutput;
    use aws_sdk_applicationautoscaling::types::{
        ScalableDimension, ScalableTarget, ServiceNamespace,
    };
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_types::DateTime;
    use mysfits::app::SERVICES;
    use mysfits::failover::scale::{plan, restore_minimums, scale};
    use mysfits::progress::Events;
    use mysfits::status::facts::{RegionFacts, ServiceFact};

    use super::logs::region_clients;

    fn facts(region: &str, desired: i32, desired_count: u32, max_count: u32) -> RegionFacts {
        RegionFacts {
            region: region.into(),
            desired_count: Some(desired_count),
            max_count: Some(max_count),
            services: SERVICES
                .iter()
                .map(|kind| ServiceFact {
                    kind,
                    name: mysfits::app::names::ecs_service("demo", kind),
                    cluster: "demo".into(),
                    found: true,
                    running: desired,
                    desired,
                    pending: 0,
                    deployments: 1,
                    rollout: None,
                    task_definition: None,
                    image: None,
                    digest: None,
                    target_group: None,
                })
                .collect(),
            ..RegionFacts::default()
        }
    }

    /// (resource id, MinCapacity, MaxCapacity) of every RegisterScalableTarget call.
    type Registered = Arc<Mutex<Vec<(String, i32, i32)>>>;

    /// Application Auto Scaling that keeps each target's range as RegisterScalableTarget sets it
    /// (an update of an existing target), starting from (min, max) for every service.
    fn autoscaling(
        min: i32,
        max: i32,
        registered: &Registered,
    ) -> aws_sdk_applicationautoscaling::Client {
        let range = Arc::new(Mutex::new((min, max)));
        let current = range.clone();
        let describe = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
            .then_compute_output(move |request| {
                let (min, max) = *current.lock().unwrap();
                let mut output = DescribeScalableTargetsOutput::builder();
                for id in request.resource_ids() {
                    output = output.scalable_targets(
                        ScalableTarget::builder()
                            .service_namespace(ServiceNamespace::Ecs)
                            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                            .resource_id(id)
                            .min_capacity(min)
                            .max_capacity(max)
                            .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
                            .creation_time(DateTime::from_secs(0))
                            .build()
                            .unwrap(),
                    );
                }
                output.build()
            });
        let registered = registered.clone();
        let register = mock!(aws_sdk_applicationautoscaling::Client::register_scalable_target)
            .then_compute_output(move |request| {
                let (min, max) = (
                    request.min_capacity().unwrap_or_default(),
                    request.max_capacity().unwrap_or_default(),
                );
                registered.lock().unwrap().push((
                    request.resource_id().unwrap_or_default().to_string(),
                    min,
                    max,
                ));
                *range.lock().unwrap() = (min, max);
                RegisterScalableTargetOutput::builder().build()
            });
        mock_client!(
            aws_sdk_applicationautoscaling,
            RuleMode::MatchAny,
            &[&describe, &register]
        )
    }

    fn ecs(running: i32) -> aws_sdk_ecs::Client {
        let describe = mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
            let service = |name: &str| {
                Service::builder()
                    .service_name(name)
                    .status("ACTIVE")
                    .desired_count(running)
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
        });
        let update = mock!(aws_sdk_ecs::Client::update_service)
            .then_output(|| UpdateServiceOutput::builder().build());
        mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&describe, &update])
    }

    #[tokio::test]
    async fn a_source_above_the_target_max_count_is_carried_and_the_range_restored_later() {
        // The source runs 10 tasks per service; the target's stack has DesiredCount 1, MaxCount 6.
        let source = facts("us-east-1", 10, 2, 12);
        let target = facts("us-west-2", 1, 1, 6);
        let plan = plan(&source, &target, 2);
        assert!(
            plan.services.iter().all(|service| service.to == 10),
            "the target carries the source's load: {plan:?}"
        );
        assert!(
            plan.capacity_from.contains("MaxCount 6") && plan.capacity_from.contains("raised"),
            "the plan says the maximum is raised: {}",
            plan.capacity_from
        );

        let registered = Arc::default();
        let clients = region_clients(
            "us-west-2",
            mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, &[]),
            autoscaling(1, 6, &registered),
            ecs(10),
        );
        let report = scale(
            &clients,
            &plan,
            Duration::from_secs(5),
            &Events::discard(),
            "scale",
        )
        .await
        .unwrap();
        assert!(report.settled, "{report:?}");
        assert!(
            report.minimums.iter().all(|change| (
                change.from,
                change.to,
                change.max_from,
                change.max_to
            ) == (1, 10, 6, 10)),
            "{:?}",
            report.minimums
        );
        assert!(
            registered
                .lock()
                .unwrap()
                .iter()
                .all(|(_, min, max)| (*min, *max) == (10, 10))
        );

        // Traffic leaves the region again (failback): both bounds go back to the stack's values.
        registered.lock().unwrap().clear();
        let restored = restore_minimums(&clients, &facts("us-west-2", 10, 1, 6))
            .await
            .unwrap();
        assert_eq!(restored.len(), 2, "{restored:?}");
        assert_eq!(
            registered
                .lock()
                .unwrap()
                .iter()
                .map(|(id, min, max)| (id.as_str(), *min, *max))
                .collect::<Vec<_>>(),
            [
                ("service/demo/demo-mysfits-service", 1, 6),
                ("service/demo/demo-like-service", 1, 6)
            ],
            "MinCapacity and MaxCapacity both back to DesiredCount and MaxCount"
        );
    }
}
