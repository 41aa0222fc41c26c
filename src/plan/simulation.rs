//! A cold two-region deploy on AWS, simulated: the real plan and the real concurrent executor,
//! each step taking its modeled AWS duration on a paused tokio clock (a 15-minute deploy runs in
//! milliseconds). Global Accelerator is modeled as what it is: a change is accepted at once and
//! deployed to the edge in the background; the entry point step waits until every change so far
//! is DEPLOYED. Reports the wall time, the longest modeled dependency chain and their ratio, for
//! the plan as it is and for the earlier shape (accelerator created with the endpoint groups after
//! the app stacks, dashboard after the entry point).
//!
//! The durations are assumptions of the order AWS shows for these resources, not measurements;
//! change them here to see how the plan behaves. What the simulation checks is the plan and the
//! executor: given those durations, the run takes no longer than the chain they force.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{Cancellation, Plan, StepId, execute};
use crate::progress::Events;
use crate::stack::StackKind;

const fn seconds(value: u64) -> Duration {
    Duration::from_secs(value)
}

/// Modeled durations of a cold deploy's steps.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// Static service builds from a warm cache, and the two images.
    pub build_images: Duration,
    /// Two ECR repositories.
    pub registry_stack: Duration,
    pub push_images: Duration,
    /// The catalogue table (on demand, streams, point-in-time recovery) until ACTIVE.
    pub data_stack: Duration,
    /// VPC, NAT gateways (~2 min), load balancer (~2.5 min), ECS services until stable.
    pub app_stack: Duration,
    /// A replica of a small table until ACTIVE.
    pub replica: Duration,
    pub seed: Duration,
    /// CreateAccelerator / CreateListener / CreateEndpointGroup: accepted at once.
    pub accelerator_call: Duration,
    /// A new accelerator until DEPLOYED.
    pub accelerator_first_deploy: Duration,
    /// Endpoint groups added to a deployed (or deploying) accelerator until DEPLOYED.
    pub endpoint_groups_deploy: Duration,
    pub dashboard: Duration,
}

pub const AWS_MODEL: Model = Model {
    build_images: seconds(20),
    registry_stack: seconds(25),
    push_images: seconds(15),
    data_stack: seconds(30),
    app_stack: seconds(480),
    replica: seconds(240),
    seed: seconds(3),
    accelerator_call: seconds(1),
    accelerator_first_deploy: seconds(240),
    endpoint_groups_deploy: seconds(90),
    dashboard: seconds(1),
};

/// One simulated run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simulated {
    pub wall: Duration,
    pub longest_chain: Duration,
}

impl Simulated {
    pub fn ratio(&self) -> f64 {
        self.wall.as_secs_f64() / self.longest_chain.as_secs_f64()
    }
}

/// The modeled accelerator: when everything written to it so far will be DEPLOYED.
#[derive(Default)]
struct Accelerator {
    deployed_at: Option<Instant>,
}

/// The plan before the accelerator was made ahead: no Accelerator step, the entry point creating
/// it with the endpoint groups, the dashboard after the entry point.
pub fn earlier_shape(plan: &Plan) -> Plan {
    let mut plan = plan.clone();
    plan.steps.retain(|step| step.id != StepId::Accelerator);
    for step in &mut plan.steps {
        step.depends_on.retain(|id| *id != StepId::Accelerator);
        if step.id == StepId::Dashboard {
            step.depends_on = vec![StepId::EntryPoint];
        }
    }
    plan
}

/// The plan before the data stack: the table made by the home app stack, so the replicas and
/// the seed wait for that stack.
pub fn table_in_app_stack(plan: &Plan) -> Plan {
    let mut plan = plan.clone();
    let data = plan
        .steps
        .iter()
        .find(|step| {
            matches!(
                step.id,
                StepId::Stack {
                    kind: StackKind::Data,
                    ..
                }
            )
        })
        .map(|step| step.id);
    let Some(data) = data else {
        return plan;
    };
    let StepId::Stack { region: home, .. } = data else {
        return plan;
    };
    plan.steps.retain(|step| step.id != data);
    for step in &mut plan.steps {
        for dependency in &mut step.depends_on {
            if *dependency == data {
                *dependency = super::app_stack(home);
            }
        }
    }
    plan
}

/// Runs `plan` over `model` on tokio's clock (call it with the clock paused).
pub async fn simulate(plan: &Plan, model: Model) -> Simulated {
    let accelerator = Arc::new(Mutex::new(Accelerator::default()));
    let made_ahead = plan.step(StepId::Accelerator).is_some();
    let started = Instant::now();
    let executed = execute(
        plan,
        &Events::discard(),
        &Cancellation::new(),
        |id, _done: Arc<BTreeMap<StepId, ()>>| {
            let accelerator = accelerator.clone();
            async move {
                run_step(id, model, &accelerator, made_ahead).await;
                Ok(((), String::new()))
            }
        },
    )
    .await
    .expect("a simulated step never fails");
    let wall = started.elapsed();
    assert_eq!(
        executed.timeline.wall_ms,
        crate::progress::elapsed_ms(wall),
        "the deploy's own timeline agrees with the clock"
    );
    Simulated {
        wall,
        longest_chain: longest_chain(plan, model, made_ahead),
    }
}

async fn run_step(id: StepId, model: Model, accelerator: &Mutex<Accelerator>, made_ahead: bool) {
    let sleep = tokio::time::sleep;
    match id {
        StepId::BuildImages => sleep(model.build_images).await,
        // Auto failover's stacks (alarms; a role and a plan) are about the registry stack's size.
        StepId::Stack {
            kind: StackKind::Registry | StackKind::Alarms | StackKind::Recovery,
            ..
        } => sleep(model.registry_stack).await,
        StepId::Stack {
            kind: StackKind::App,
            ..
        } => sleep(model.app_stack).await,
        StepId::Stack {
            kind: StackKind::Data,
            ..
        } => sleep(model.data_stack).await,
        StepId::PushImages { .. } => sleep(model.push_images).await,
        StepId::Replica { .. } => sleep(model.replica).await,
        StepId::SeedTable => sleep(model.seed).await,
        StepId::Dashboard => sleep(model.dashboard).await,
        StepId::RemoveStack { .. } => sleep(model.registry_stack).await,
        StepId::Accelerator => {
            sleep(model.accelerator_call).await;
            accelerator
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .deployed_at = Some(Instant::now() + model.accelerator_first_deploy);
        }
        StepId::EntryPoint => {
            if !made_ahead {
                sleep(model.accelerator_call).await;
            }
            sleep(model.accelerator_call).await;
            let deployed_at = {
                let mut accelerator = accelerator.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                let first = accelerator
                    .deployed_at
                    .unwrap_or(now + model.accelerator_first_deploy);
                let deployed_at = first.max(now + model.endpoint_groups_deploy);
                accelerator.deployed_at = Some(deployed_at);
                deployed_at
            };
            tokio::time::sleep_until(deployed_at).await;
        }
    }
}

/// The longest chain of modeled work the dependencies force (longest path over the DAG), the
/// accelerator's background deployment counted as the edge it is: Accelerator → DEPLOYED → the
/// entry point's end.
fn longest_chain(plan: &Plan, model: Model, made_ahead: bool) -> Duration {
    let duration = |id: StepId| match id {
        StepId::BuildImages => model.build_images,
        StepId::Stack {
            kind: StackKind::Registry | StackKind::Alarms | StackKind::Recovery,
            ..
        } => model.registry_stack,
        StepId::Stack {
            kind: StackKind::App,
            ..
        } => model.app_stack,
        StepId::Stack {
            kind: StackKind::Data,
            ..
        } => model.data_stack,
        StepId::PushImages { .. } => model.push_images,
        StepId::Replica { .. } => model.replica,
        StepId::SeedTable => model.seed,
        StepId::Dashboard => model.dashboard,
        StepId::RemoveStack { .. } => model.registry_stack,
        StepId::Accelerator => model.accelerator_call,
        StepId::EntryPoint if made_ahead => model.accelerator_call + model.endpoint_groups_deploy,
        StepId::EntryPoint => {
            model.accelerator_call * 2
                + model
                    .accelerator_first_deploy
                    .max(model.endpoint_groups_deploy)
        }
    };
    // Steps are listed after their dependencies (validated plans are, see deploy_plan).
    let mut ends: BTreeMap<StepId, Duration> = BTreeMap::new();
    for step in &plan.steps {
        let start = step
            .depends_on
            .iter()
            .map(|dependency| ends[dependency])
            .max()
            .unwrap_or_default();
        let mut end = start + duration(step.id);
        if step.id == StepId::EntryPoint && made_ahead {
            let deployed = ends[&StepId::Accelerator] + model.accelerator_first_deploy;
            end = end.max(deployed);
        }
        ends.insert(step.id, end);
    }
    ends.values().copied().max().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::GlobalArgs;
    use crate::config::{Config, ConfigFile};
    use crate::plan::{DeployOptions, deploy_plan};

    fn two_regions() -> Plan {
        let global = GlobalArgs {
            regions: vec!["us-east-1".into(), "us-west-2".into()],
            ..GlobalArgs::default()
        };
        let config = Config::resolve(&global, ConfigFile::default()).expect("valid config");
        deploy_plan(&config, DeployOptions { seed: true })
    }

    /// Prints the figures (`cargo test -p mysfits simulation -- --nocapture`) and holds the plan
    /// to them: the run is as long as the chain the model forces (goal ≤ 1.05 ×), and making the
    /// accelerator ahead takes its first deployment off the critical path.
    #[tokio::test(start_paused = true)]
    async fn a_cold_two_region_deploy_takes_its_longest_modeled_chain_and_less_than_before() {
        let plan = two_regions();
        let now = simulate(&plan, AWS_MODEL).await;
        let table_in_app = simulate(&table_in_app_stack(&plan), AWS_MODEL).await;
        let before = simulate(&earlier_shape(&table_in_app_stack(&plan)), AWS_MODEL).await;
        println!(
            "simulated cold two-region deploy (modeled AWS durations, paused clock)\n  \
             before:                   wall {:>4} s, longest modeled chain {:>4} s, ratio {:.3}\n  \
             accelerator ahead:        wall {:>4} s, longest modeled chain {:>4} s, ratio {:.3}\n  \
             + data stack at start:    wall {:>4} s, longest modeled chain {:>4} s, ratio {:.3}\n  \
             now / before wall: {:.3}; now / accelerator-ahead wall: {:.3}",
            before.wall.as_secs(),
            before.longest_chain.as_secs(),
            before.ratio(),
            table_in_app.wall.as_secs(),
            table_in_app.longest_chain.as_secs(),
            table_in_app.ratio(),
            now.wall.as_secs(),
            now.longest_chain.as_secs(),
            now.ratio(),
            now.wall.as_secs_f64() / before.wall.as_secs_f64(),
            now.wall.as_secs_f64() / table_in_app.wall.as_secs_f64(),
        );
        for run in [now, table_in_app, before] {
            assert!(run.ratio() <= 1.05, "{run:?}");
        }
        assert!(
            table_in_app.wall < before.wall,
            "{table_in_app:?}, before {before:?}"
        );
        assert!(
            now.wall < table_in_app.wall,
            "now {now:?}, {table_in_app:?}"
        );
        // With the table in the home app stack the replica ended the run (home app stack →
        // replica); made at the start, the replica is ACTIVE long before the app stacks are, and
        // the run ends with the entry point's endpoint groups after the app stacks.
        let app_chain = AWS_MODEL.build_images.max(AWS_MODEL.registry_stack)
            + AWS_MODEL.push_images
            + AWS_MODEL.app_stack;
        assert_eq!(table_in_app.longest_chain, app_chain + AWS_MODEL.replica);
        assert_eq!(
            now.longest_chain,
            app_chain + AWS_MODEL.accelerator_call + AWS_MODEL.endpoint_groups_deploy
        );
    }

    /// A model where the accelerator deploys slower than everything else: the simulation still
    /// ends with the chain, through the accelerator's background deployment.
    #[tokio::test(start_paused = true)]
    async fn a_slow_accelerator_is_the_chain_through_its_background_deployment() {
        let model = Model {
            accelerator_first_deploy: seconds(1200),
            ..AWS_MODEL
        };
        let now = simulate(&two_regions(), model).await;
        assert_eq!(
            now.longest_chain,
            model.registry_stack + model.accelerator_call + model.accelerator_first_deploy
        );
        assert!(now.ratio() <= 1.05, "{now:?}");
    }
}
