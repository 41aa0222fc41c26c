//! `drill --kill`: the outage it makes and undoes, against modeled Application Auto Scaling and
//! ECS answers. Pinned: each scalable target is held (RegisterScalableTarget with MinCapacity 0,
//! MaxCapacity unchanged, all three SuspendedState flags true) before its service goes to 0, so
//! target tracking cannot scale it back; the restore gives back the desired count first and then
//! the range and suspension exactly as read; after a failure midway only what was done is undone.

use std::sync::{Arc, Mutex};

use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
use aws_sdk_applicationautoscaling::operation::register_scalable_target::RegisterScalableTargetOutput;
use aws_sdk_applicationautoscaling::types::{
    ScalableDimension, ScalableTarget, ServiceNamespace, SuspendedState,
};
use aws_sdk_ecs::operation::update_service::{UpdateServiceError, UpdateServiceOutput};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;
use mysfits::app::SERVICES;
use mysfits::aws::RegionClients;
use mysfits::failover::kill::{Outage, StoppedService, restore, stop};
use mysfits::progress::Events;

type Calls = Arc<Mutex<Vec<String>>>;

/// An ECS scalable target as DescribeScalableTargets returns it: (min, max) and the
/// suspension flags (dynamic in, dynamic out, scheduled).
fn target(id: &str, (min, max): (i32, i32), suspended: [bool; 3]) -> ScalableTarget {
    ScalableTarget::builder()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(id)
        .min_capacity(min)
        .max_capacity(max)
        .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
        .creation_time(DateTime::from_secs(0))
        .suspended_state(
            SuspendedState::builder()
                .dynamic_scaling_in_suspended(suspended[0])
                .dynamic_scaling_out_suspended(suspended[1])
                .scheduled_scaling_suspended(suspended[2])
                .build(),
        )
        .build()
        .unwrap()
}

/// The mysfits service's target as the app stack makes it, with scheduled scaling suspended
/// by its operator (to see that the restore keeps that); the like service's target min 1 max 4.
fn scalable_targets() -> Rule {
    mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets).then_compute_output(
        |request| {
            assert_eq!(request.service_namespace(), Some(&ServiceNamespace::Ecs));
            assert_eq!(
                request.scalable_dimension(),
                Some(&ScalableDimension::EcsServiceDesiredCount)
            );
            DescribeScalableTargetsOutput::builder()
                .scalable_targets(target(
                    "service/shop/shop-mysfits-service",
                    (2, 6),
                    [false, false, true],
                ))
                .scalable_targets(target(
                    "service/shop/shop-like-service",
                    (1, 4),
                    [false, false, false],
                ))
                .build()
        },
    )
}

fn registrations(calls: &Calls) -> Rule {
    let calls = calls.clone();
    mock!(aws_sdk_applicationautoscaling::Client::register_scalable_target).then_compute_output(
        move |request| {
            let suspended = request.suspended_state().unwrap();
            calls.lock().unwrap().push(format!(
                "register {} {}-{} suspended {}/{}/{}",
                request.resource_id().unwrap(),
                request.min_capacity().unwrap(),
                request.max_capacity().unwrap(),
                suspended.dynamic_scaling_in_suspended().unwrap(),
                suspended.dynamic_scaling_out_suspended().unwrap(),
                suspended.scheduled_scaling_suspended().unwrap(),
            ));
            RegisterScalableTargetOutput::builder().build()
        },
    )
}

fn updates(calls: &Calls) -> Rule {
    let calls = calls.clone();
    mock!(aws_sdk_ecs::Client::update_service).then_compute_output(move |request| {
        calls.lock().unwrap().push(format!(
            "update {}/{} desired {}",
            request.cluster().unwrap(),
            request.service().unwrap(),
            request.desired_count().unwrap()
        ));
        UpdateServiceOutput::builder().build()
    })
}

/// UpdateService of the like service denied, as IAM denies it (the first time only).
fn like_update_denied(calls: &Calls) -> Rule {
    let calls = calls.clone();
    mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(|request| request.service() == Some("shop-like-service"))
        .then_error(move || {
            calls
                .lock()
                .unwrap()
                .push("update shop/shop-like-service denied".into());
            UpdateServiceError::AccessDeniedException(
                aws_sdk_ecs::types::error::AccessDeniedException::builder()
                    .message("User: arn:aws:iam::123456789012:user/ops is not authorized to perform: ecs:UpdateService")
                    .meta(
                        ErrorMetadata::builder()
                            .code("AccessDeniedException")
                            .message("User: arn:aws:iam::123456789012:user/ops is not authorized to perform: ecs:UpdateService")
                            .build(),
                    )
                    .build(),
            )
        })
}

fn clients(ecs: &[&Rule], autoscaling: &[&Rule]) -> RegionClients {
    crate::fixtures::scaling::ecs_and_scaling_clients("us-east-1", ecs, autoscaling)
}

/// The calls a restore of `outage` makes, in order.
async fn restored(clients: &RegionClients, outage: &Outage, calls: &Calls) -> Vec<String> {
    calls.lock().unwrap().clear();
    restore(clients, outage, &Events::discard(), "outage")
        .await
        .unwrap();
    calls.lock().unwrap().clone()
}

fn outage() -> Outage {
    Outage {
        region: "us-east-1".into(),
        services: vec![
            StoppedService::new(&SERVICES[0], "shop-mysfits-service", "shop", 2, None),
            StoppedService::new(&SERVICES[1], "shop-like-service", "shop", 3, None),
        ],
    }
}

#[tokio::test]
async fn kill_holds_autoscaling_before_stopping_and_restore_gives_back_exactly_what_was_read() {
    let calls = Calls::default();
    let (described, registered, updated) =
        (scalable_targets(), registrations(&calls), updates(&calls));
    let clients = clients(&[&updated], &[&described, &registered]);
    let mut outage = outage();
    stop(&clients, &mut outage, &Events::discard(), "outage")
        .await
        .unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        [
            "register service/shop/shop-mysfits-service 0-6 suspended true/true/true",
            "update shop/shop-mysfits-service desired 0",
            "register service/shop/shop-like-service 0-4 suspended true/true/true",
            "update shop/shop-like-service desired 0",
        ],
        "each target held (minimum 0, maximum kept, all scaling suspended) before its service stops"
    );
    assert_eq!(described.num_calls(), 1, "one read for both services");
    assert!(outage.changed_anything());
    assert_eq!(
        outage.summary(),
        "shop-mysfits-service 2 -> 0, shop-like-service 3 -> 0"
    );

    assert_eq!(
        restored(&clients, &outage, &calls).await,
        [
            "update shop/shop-mysfits-service desired 2",
            "register service/shop/shop-mysfits-service 2-6 suspended false/false/true",
            "update shop/shop-like-service desired 3",
            "register service/shop/shop-like-service 1-4 suspended false/false/false",
        ],
        "the count first, then range and suspension as they were (scheduled scaling stays suspended)"
    );
}

#[tokio::test]
async fn a_kill_that_fails_midway_is_undone_for_what_it_did_and_names_the_denied_call() {
    let calls = Calls::default();
    let (described, registered) = (scalable_targets(), registrations(&calls));
    let (denied, updated) = (like_update_denied(&calls), updates(&calls));
    let clients = clients(&[&denied, &updated], &[&described, &registered]);
    let mut outage = outage();
    let error = stop(&clients, &mut outage, &Events::discard(), "outage")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("UpdateService"), "{error}");
    assert!(error.contains("not authorized"), "{error}");
    assert_eq!(
        calls.lock().unwrap().last().unwrap(),
        "update shop/shop-like-service denied"
    );
    let commands = outage.restore_commands();
    assert!(
        commands.contains("--service shop-mysfits-service --desired-count 2"),
        "{commands}"
    );
    assert!(
        !commands.contains("--service shop-like-service"),
        "the like service was never stopped: {commands}"
    );
    assert!(
        commands.contains("--resource-id service/shop/shop-like-service --min-capacity 1 --max-capacity 4 --suspended-state DynamicScalingInSuspended=false,DynamicScalingOutSuspended=false,ScheduledScalingSuspended=false"),
        "its target was held, so it is given back: {commands}"
    );

    assert_eq!(
        restored(&clients, &outage, &calls).await,
        [
            "update shop/shop-mysfits-service desired 2",
            "register service/shop/shop-mysfits-service 2-6 suspended false/false/true",
            "register service/shop/shop-like-service 1-4 suspended false/false/false",
        ],
        "the like service's count was never changed, so it is not written"
    );
}

/// A region an interrupted drill left stopped (0 tasks, minimum 0, all scaling suspended) is
/// refused: "restoring" it would give back exactly that. Nothing is written.
#[tokio::test]
async fn a_region_left_held_by_an_interrupted_drill_is_refused_with_the_commands_to_fix_it() {
    let calls = Calls::default();
    let described = mock!(aws_sdk_applicationautoscaling::Client::describe_scalable_targets)
        .then_output(|| {
            DescribeScalableTargetsOutput::builder()
                .scalable_targets(target(
                    "service/shop/shop-mysfits-service",
                    (0, 6),
                    [true, true, true],
                ))
                .build()
        });
    let (registered, updated) = (registrations(&calls), updates(&calls));
    let clients = clients(&[&updated], &[&described, &registered]);
    let mut outage = Outage {
        region: "us-east-1".into(),
        services: vec![StoppedService::new(
            &SERVICES[0],
            "shop-mysfits-service",
            "shop",
            0,
            None,
        )],
    };
    let error = stop(&clients, &mut outage, &Events::discard(), "outage")
        .await
        .unwrap_err();
    let (what, fix) = error.message_and_fix();
    assert!(
        what.contains("shop-mysfits-service in us-east-1 runs 0 tasks with its autoscaling held"),
        "{what}"
    );
    assert!(
        fix.contains("--resource-id service/shop/shop-mysfits-service --min-capacity N"),
        "{fix}"
    );
    assert!(calls.lock().unwrap().is_empty(), "nothing written");
    assert!(!outage.changed_anything());
}

/// Before the first change the drill states how to undo it by hand (for a second Ctrl-C or a
/// lost machine), with every service's values as read.
#[tokio::test]
async fn the_commands_that_undo_the_kill_are_printed_before_the_first_change() {
    let calls = Calls::default();
    let (described, registered, updated) =
        (scalable_targets(), registrations(&calls), updates(&calls));
    let clients = clients(&[&updated], &[&described, &registered]);
    let (events, mut received) = Events::channel();
    let mut outage = outage();
    stop(&clients, &mut outage, &events, "outage")
        .await
        .unwrap();
    drop(events);
    let mut notes = Vec::new();
    while let Some(event) = received.recv().await {
        if let mysfits::progress::Event::Note { message, .. } = event {
            notes.push(message);
        }
    }
    let first = &notes[0];
    assert!(
        first.starts_with("if the drill is cut off before the revive"),
        "{notes:?}"
    );
    for command in [
        "aws ecs update-service --region us-east-1 --cluster shop --service shop-mysfits-service --desired-count 2",
        "aws ecs update-service --region us-east-1 --cluster shop --service shop-like-service --desired-count 3",
        "--resource-id service/shop/shop-mysfits-service --min-capacity 2 --max-capacity 6 --suspended-state DynamicScalingInSuspended=false,DynamicScalingOutSuspended=false,ScheduledScalingSuspended=true",
    ] {
        assert!(first.contains(command), "{command}: {first}");
    }
    assert!(notes[1].contains("autoscaling held"), "{notes:?}");
}
