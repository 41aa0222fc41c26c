//! The deploy plan as data: steps with dependencies (a DAG), built from the config alone so it can
//! be printed (`mysfits plan`) and tested without any IO. [`execute`] runs it concurrently.

mod executor;
#[cfg(test)]
mod simulation;
mod timeline;

pub use executor::{
    Cancellation, Executed, Node, OnCancel, OnFailure, Outcome, execute, run, write_nodes,
};
pub use timeline::{StepSpan, TimedStep, Timeline, bounding_chain, human};

use std::fmt;

use serde::Serialize;

use crate::app::RegionName;
use crate::config::{Config, EntryPointMode, RegionSettings};
use crate::error::Result;
use crate::stack::StackKind;

/// What a step does; also its identity in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepId {
    /// Compile the services and assemble their OCI images (once, for every region).
    BuildImages,
    /// Create or update one stack in one region.
    Stack { region: RegionName, kind: StackKind },
    /// Push the images into the region's ECR repositories.
    PushImages { region: RegionName },
    /// Add this (non-home) region's replica to the table (DynamoDB global table).
    Replica { region: RegionName },
    /// Load the seed catalogue into the table (in the home region).
    SeedTable,
    /// Create the accelerator and its listener (Global Accelerator mode), which need no load
    /// balancer: its minutes-long first deployment then runs beside the app stacks.
    Accelerator,
    /// Create or align the global traffic entry point with every region's load balancer.
    EntryPoint,
    /// Create or update the multi-region CloudWatch dashboard (in the home region).
    Dashboard,
    /// Delete a stack the config no longer asks for (auto failover's, once it is turned off).
    RemoveStack { region: RegionName, kind: StackKind },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub id: StepId,
    pub label: String,
    pub region: Option<String>,
    pub depends_on: Vec<StepId>,
}

/// A validated DAG of steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// Choices that change the shape of a deploy plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeployOptions {
    pub seed: bool,
}

impl fmt::Display for Plan {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        executor::write_nodes(&self.nodes(), formatter)
    }
}

/// The app stack step of a region.
pub fn app_stack(region: RegionName) -> StepId {
    StepId::Stack {
        region,
        kind: StackKind::App,
    }
}

/// The data stack step (the catalogue table), in the home region.
pub fn data_stack(home: RegionName) -> StepId {
    StepId::Stack {
        region: home,
        kind: StackKind::Data,
    }
}

/// A deployment made before data stacks has the table in its home app stack: the data stack
/// then takes it over (an import) after the app stack's update has let go of it (the table is
/// retained, never deleted, when a template stops naming it), instead of at the start.
pub fn take_table_from_app_stack(plan: &mut Plan, home: RegionName) {
    if let Some(step) = plan
        .steps
        .iter_mut()
        .find(|step| step.id == data_stack(home))
    {
        step.label = format!("{} (moves the table out of the app stack)", step.label);
        step.depends_on.push(app_stack(home));
    }
}

/// A region's alarms stack step (auto failover).
pub fn alarms_stack(region: RegionName) -> StepId {
    StepId::Stack {
        region,
        kind: StackKind::Alarms,
    }
}

/// The recovery stack step (auto failover), in the home region.
pub fn recovery_stack(home: RegionName) -> StepId {
    StepId::Stack {
        region: home,
        kind: StackKind::Recovery,
    }
}

/// The steps of `mysfits deploy` for this config.
///
/// Per region: registry stack → image push → app stack. The image build is shared. The table
/// is the home region's data stack, made at the start beside the registry stacks (no app stack
/// needs it to exist: the services' health check does not read it). The seed data needs it, and
/// so do the replicas, which are added while the app stacks build, one after the other in the
/// configured order: DynamoDB takes one replica change per UpdateTable call and refuses the next
/// while the table is still UPDATING from the last.
pub fn deploy_plan(config: &Config, options: DeployOptions) -> Plan {
    let mut steps = vec![Step {
        id: StepId::BuildImages,
        label: "build service images".to_string(),
        region: None,
        depends_on: Vec::new(),
    }];
    let home = config.home();
    steps.push(Step {
        id: data_stack(home.key()),
        label: format!("{} stack {}", StackKind::Data.label(), home.name),
        region: Some(home.name.clone()),
        depends_on: Vec::new(),
    });
    for region in config.regions() {
        steps.extend(region_steps(region));
    }
    steps.extend(replica_steps(config));
    if options.seed {
        steps.push(Step {
            id: StepId::SeedTable,
            label: format!("seed catalogue {}", home.name),
            region: Some(home.name.clone()),
            depends_on: vec![data_stack(home.key())],
        });
    }
    let app_stacks: Vec<StepId> = config
        .regions()
        .map(|region| app_stack(region.key()))
        .collect();
    // The accelerator's creation token comes from the home registry stack (new with every app).
    let accelerator = matches!(config.entry_point.mode, EntryPointMode::GlobalAccelerator);
    if accelerator {
        steps.push(Step {
            id: StepId::Accelerator,
            label: "accelerator and listener".to_string(),
            region: None,
            depends_on: vec![StepId::Stack {
                region: home.key(),
                kind: StackKind::Registry,
            }],
        });
    }
    let with_accelerator = |mut depends_on: Vec<StepId>| {
        if accelerator {
            depends_on.push(StepId::Accelerator);
        }
        depends_on
    };
    steps.push(Step {
        id: StepId::EntryPoint,
        label: format!("global entry point ({})", config.entry_point.mode.label()),
        region: None,
        depends_on: with_accelerator(app_stacks.clone()),
    });
    // Auto failover: each region's alarms watch its app stack's load balancer; the Region
    // switch plan names both regions' services and alarms, so it comes after every alarm stack.
    // Beside the entry point, which neither touches.
    if config.auto_failover.enabled {
        let alarm_stacks: Vec<StepId> = config
            .regions()
            .map(|region| alarms_stack(region.key()))
            .collect();
        for region in config.regions() {
            steps.push(Step {
                id: alarms_stack(region.key()),
                label: format!("{} stack {}", StackKind::Alarms.label(), region.name),
                region: Some(region.name.clone()),
                depends_on: vec![app_stack(region.key())],
            });
        }
        steps.push(Step {
            id: recovery_stack(home.key()),
            label: format!("{} stack {}", StackKind::Recovery.label(), home.name),
            region: Some(home.name.clone()),
            depends_on: alarm_stacks,
        });
    }
    // Beside the entry point's endpoint groups, not after them: the dashboard needs the
    // accelerator's id (for its flow graphs), not its endpoint groups.
    steps.push(Step {
        id: StepId::Dashboard,
        label: format!("dashboard {}", home.name),
        region: Some(home.name.clone()),
        depends_on: with_accelerator(app_stacks),
    });
    Plan { steps }
}

/// Adds the removal of auto failover's stacks that exist although the config turned it off
/// (`leftovers`, found by [`crate::auto_failover::leftover_stacks`]): the recovery stack first,
/// whose plan names the alarms, then the alarms stacks. Beside everything else: nothing of the
/// app depends on them.
pub fn add_leftover_removals(plan: &mut Plan, leftovers: &[(RegionName, String, StackKind)]) {
    let recovery = leftovers
        .iter()
        .find(|(_, _, kind)| *kind == StackKind::Recovery)
        .map(|(region, _, kind)| StepId::RemoveStack {
            region: *region,
            kind: *kind,
        });
    for kind in [StackKind::Recovery, StackKind::Alarms] {
        for (region, name, _) in leftovers.iter().filter(|(_, _, found)| *found == kind) {
            plan.steps.push(Step {
                id: StepId::RemoveStack {
                    region: *region,
                    kind,
                },
                label: format!(
                    "remove {} stack {name} (auto_failover is off)",
                    kind.label()
                ),
                region: Some(name.clone()),
                depends_on: match (kind, recovery) {
                    (StackKind::Alarms, Some(recovery)) => vec![recovery],
                    _ => Vec::new(),
                },
            });
        }
    }
}

/// Registry stack, image push and app stack of one region.
fn region_steps(region: &RegionSettings) -> [Step; 3] {
    let key = region.key();
    let registry = StepId::Stack {
        region: key,
        kind: StackKind::Registry,
    };
    let push = StepId::PushImages { region: key };
    let step = |id, label: String, depends_on| Step {
        id,
        label,
        region: Some(region.name.clone()),
        depends_on,
    };
    [
        step(
            registry,
            format!("{} stack {}", StackKind::Registry.label(), region.name),
            Vec::new(),
        ),
        step(
            push,
            format!("push images {}", region.name),
            vec![StepId::BuildImages, registry],
        ),
        step(
            app_stack(key),
            format!("{} stack {}", StackKind::App.label(), region.name),
            vec![push],
        ),
    ]
}

/// One replica step per region but home, chained in the configured order: the first waits for
/// the data stack (the table), each next one for the replica before it.
fn replica_steps(config: &Config) -> Vec<Step> {
    let mut after = data_stack(config.home().key());
    config
        .others()
        .map(|region| {
            let id = StepId::Replica {
                region: region.key(),
            };
            let step = Step {
                id,
                label: format!("table replica {}", region.name),
                region: Some(region.name.clone()),
                depends_on: vec![after],
            };
            after = id;
            step
        })
        .collect()
}

impl Plan {
    /// Checks that every dependency exists, ids are unique and there is no cycle.
    pub fn validate(&self) -> Result<()> {
        executor::validate(&self.nodes(), "deploy plan")
    }

    /// The steps as the executor runs them: stack steps wind down on Ctrl-C (CloudFormation
    /// is asked to cancel or clean up), all others are dropped.
    pub fn nodes(&self) -> Vec<Node<StepId>> {
        self.steps
            .iter()
            .map(|step| Node {
                id: step.id,
                label: step.label.clone(),
                depends_on: step.depends_on.clone(),
                on_cancel: match step.id {
                    StepId::Stack { .. } => OnCancel::WindDown,
                    _ => OnCancel::Abort,
                },
            })
            .collect()
    }

    pub fn step(&self, id: StepId) -> Option<&Step> {
        self.steps.iter().find(|step| step.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::GlobalArgs;
    use crate::config::ConfigFile;

    fn config(regions: &[&str]) -> Config {
        let global = GlobalArgs {
            regions: regions.iter().map(|region| region.to_string()).collect(),
            ..GlobalArgs::default()
        };
        Config::resolve(&global, ConfigFile::default()).expect("valid config")
    }

    fn key(name: &str) -> RegionName {
        RegionName::new(name)
    }

    #[test]
    fn leftover_auto_failover_stacks_are_removed_recovery_first_beside_everything_else() {
        let config = config(&["us-east-1", "us-west-2"]);
        let remove = |region: &str, kind| StepId::RemoveStack {
            region: key(region),
            kind,
        };
        let mut plan = deploy_plan(&config, DeployOptions { seed: true });
        let steps = plan.steps.len();
        add_leftover_removals(
            &mut plan,
            &[
                (key("us-west-2"), "us-west-2".into(), StackKind::Alarms),
                (key("us-east-1"), "us-east-1".into(), StackKind::Recovery),
                (key("us-east-1"), "us-east-1".into(), StackKind::Alarms),
            ],
        );
        plan.validate().expect("valid DAG");
        assert_eq!(plan.steps.len(), steps + 3);
        let recovery = plan
            .step(remove("us-east-1", StackKind::Recovery))
            .expect("recovery removal");
        assert!(recovery.depends_on.is_empty(), "starts at once");
        assert_eq!(
            recovery.label,
            "remove recovery stack us-east-1 (auto_failover is off)"
        );
        for region in ["us-east-1", "us-west-2"] {
            let alarms = plan
                .step(remove(region, StackKind::Alarms))
                .expect("alarms removal");
            assert_eq!(
                alarms.depends_on,
                vec![remove("us-east-1", StackKind::Recovery)],
                "the plan that names the alarms goes first"
            );
        }

        let mut alarms_only = deploy_plan(&config, DeployOptions { seed: true });
        add_leftover_removals(
            &mut alarms_only,
            &[(key("us-west-2"), "us-west-2".into(), StackKind::Alarms)],
        );
        let alarms = alarms_only
            .step(remove("us-west-2", StackKind::Alarms))
            .expect("alarms removal");
        assert!(alarms.depends_on.is_empty());
    }

    #[test]
    fn auto_failover_adds_alarms_per_region_and_the_recovery_stack_at_home_after_them() {
        let off = deploy_plan(
            &config(&["us-east-1", "us-west-2"]),
            DeployOptions { seed: true },
        );
        assert!(off.step(recovery_stack(key("us-east-1"))).is_none());
        let file: ConfigFile = serde_yaml::from_str(
            "regions: [us-east-1, us-west-2]\nauto_failover: {enabled: true}\n",
        )
        .expect("yaml");
        let on = deploy_plan(
            &Config::resolve(&GlobalArgs::default(), file).expect("valid config"),
            DeployOptions { seed: true },
        );
        on.validate().expect("valid DAG");
        let recovery = on
            .step(recovery_stack(key("us-east-1")))
            .expect("recovery stack");
        assert_eq!(recovery.region.as_deref(), Some("us-east-1"));
        assert_eq!(
            recovery.depends_on,
            vec![
                alarms_stack(key("us-east-1")),
                alarms_stack(key("us-west-2"))
            ]
        );
        for region in ["us-east-1", "us-west-2"] {
            let alarms = on.step(alarms_stack(key(region))).expect("alarms stack");
            assert_eq!(alarms.region.as_deref(), Some(region));
            assert_eq!(alarms.depends_on, vec![app_stack(key(region))]);
        }
        assert_eq!(on.steps.len(), off.steps.len() + 3);
    }

    #[test]
    fn two_region_plan_pushes_before_app_stacks_and_replicates_after_the_home_table() {
        let plan = deploy_plan(
            &config(&["us-east-1", "us-west-2"]),
            DeployOptions { seed: true },
        );
        plan.validate().expect("valid DAG");
        assert_eq!(plan.steps.len(), 13);
        // The table's stack starts at once, beside the registry stacks; the seed needs only it.
        let data = plan.step(data_stack(key("us-east-1"))).expect("data stack");
        assert!(data.depends_on.is_empty(), "{data:?}");
        assert_eq!(data.region.as_deref(), Some("us-east-1"));
        assert!(plan.step(data_stack(key("us-west-2"))).is_none());
        let seed = plan.step(StepId::SeedTable).expect("seed");
        assert_eq!(seed.depends_on, vec![data_stack(key("us-east-1"))]);
        let app_west = plan.step(app_stack(key("us-west-2"))).expect("app stack");
        assert_eq!(
            app_west.depends_on,
            vec![StepId::PushImages {
                region: key("us-west-2")
            }]
        );
        assert_eq!(app_west.region.as_deref(), Some("us-west-2"));
        let replica = plan
            .step(StepId::Replica {
                region: key("us-west-2"),
            })
            .expect("replica");
        // Added while the app stacks build, not after the home one.
        assert_eq!(replica.depends_on, vec![data_stack(key("us-east-1"))]);
        // The accelerator and listener start as soon as the home registry stack is there (its
        // stack id makes the creation token), long before any load balancer exists.
        let accelerator = plan.step(StepId::Accelerator).expect("accelerator");
        assert_eq!(
            accelerator.depends_on,
            vec![StepId::Stack {
                region: key("us-east-1"),
                kind: StackKind::Registry
            }]
        );
        let entry = plan.step(StepId::EntryPoint).expect("entry point");
        let after_stacks_and_accelerator = vec![
            app_stack(key("us-east-1")),
            app_stack(key("us-west-2")),
            StepId::Accelerator,
        ];
        assert_eq!(entry.depends_on, after_stacks_and_accelerator);
        // Beside the endpoint groups, not after them.
        let dashboard = plan.step(StepId::Dashboard).expect("dashboard");
        assert_eq!(dashboard.depends_on, after_stacks_and_accelerator);
        assert_eq!(dashboard.region.as_deref(), Some("us-east-1"));
        let text = plan.to_string();
        assert!(
            text.contains(
                "push images us-west-2  (after: build service images, registry stack us-west-2)"
            ),
            "{text}"
        );
    }

    #[test]
    fn three_region_plan_has_stacks_everywhere_and_replicas_one_after_the_other() {
        let plan = deploy_plan(
            &config(&["us-east-1", "us-west-2", "eu-west-1"]),
            DeployOptions { seed: true },
        );
        plan.validate().expect("valid DAG");
        // build + data + 3 × (registry, push, app) + 2 replicas + seed + accelerator + entry +
        // dashboard
        assert_eq!(plan.steps.len(), 17);
        for region in ["us-east-1", "us-west-2", "eu-west-1"] {
            for kind in StackKind::ALL {
                let stack = plan
                    .step(StepId::Stack {
                        region: key(region),
                        kind,
                    })
                    .unwrap_or_else(|| panic!("{kind:?} stack in {region}"));
                assert_eq!(stack.region.as_deref(), Some(region));
            }
        }
        let replicas: Vec<&Step> = plan
            .steps
            .iter()
            .filter(|step| matches!(step.id, StepId::Replica { .. }))
            .collect();
        assert_eq!(
            replicas.iter().map(|step| step.id).collect::<Vec<_>>(),
            [
                StepId::Replica {
                    region: key("us-west-2")
                },
                StepId::Replica {
                    region: key("eu-west-1")
                }
            ],
            "a replica in every region but home, in the configured order"
        );
        // Sequential: the second waits for the first, so no two UpdateTable calls overlap.
        assert_eq!(replicas[0].depends_on, vec![data_stack(key("us-east-1"))]);
        assert_eq!(replicas[1].depends_on, vec![replicas[0].id]);
        let entry = plan.step(StepId::EntryPoint).expect("entry point");
        assert_eq!(
            entry.depends_on,
            [
                app_stack(key("us-east-1")),
                app_stack(key("us-west-2")),
                app_stack(key("eu-west-1")),
                StepId::Accelerator
            ]
        );
        let seed = plan.step(StepId::SeedTable).expect("seed");
        assert_eq!(seed.region.as_deref(), Some("us-east-1"));
        let text = plan.to_string();
        assert!(
            text.contains(
                "17. dashboard us-east-1  (after: app stack us-east-1, app stack us-west-2, app stack eu-west-1, accelerator and listener)"
            ),
            "{text}"
        );
        assert!(
            text.contains("table replica eu-west-1  (after: table replica us-west-2)"),
            "{text}"
        );
    }

    /// An older deployment (table in the home app stack): the data stack takes the table over
    /// only once the app stack's update has let go of it, and the replicas and seed wait for that.
    #[test]
    fn a_table_still_in_the_app_stack_moves_to_the_data_stack_after_the_app_stack_update() {
        let mut plan = deploy_plan(
            &config(&["us-east-1", "us-west-2"]),
            DeployOptions { seed: true },
        );
        take_table_from_app_stack(&mut plan, key("us-east-1"));
        plan.validate().expect("valid DAG");
        let data = plan.step(data_stack(key("us-east-1"))).expect("data stack");
        assert_eq!(data.depends_on, vec![app_stack(key("us-east-1"))]);
        assert_eq!(
            data.label,
            "data stack us-east-1 (moves the table out of the app stack)"
        );
        let replica = plan
            .step(StepId::Replica {
                region: key("us-west-2"),
            })
            .expect("replica");
        assert_eq!(replica.depends_on, vec![data_stack(key("us-east-1"))]);
    }

    #[test]
    fn single_region_plan_has_no_replica_and_seed_is_optional() {
        let plan = deploy_plan(&config(&["us-east-1"]), DeployOptions { seed: false });
        plan.validate().expect("valid DAG");
        assert_eq!(plan.steps.len(), 8);
        assert!(
            plan.steps
                .iter()
                .all(|step| !matches!(step.id, StepId::Replica { .. } | StepId::SeedTable))
        );
    }

    #[test]
    fn route53_mode_has_nothing_to_make_ahead_and_the_dashboard_waits_only_for_the_app_stacks() {
        let global = GlobalArgs {
            regions: vec!["us-east-1".into(), "us-west-2".into()],
            ..GlobalArgs::default()
        };
        let file: ConfigFile = serde_yaml::from_str(
            "entry_point:\n  mode: route53\n  hosted_zone_id: Z0ABC\n  domain: mysfits.example.com\n",
        )
        .expect("valid yaml");
        let plan = deploy_plan(
            &Config::resolve(&global, file).expect("valid config"),
            DeployOptions { seed: true },
        );
        plan.validate().expect("valid DAG");
        assert!(plan.step(StepId::Accelerator).is_none());
        let app_stacks = vec![app_stack(key("us-east-1")), app_stack(key("us-west-2"))];
        let entry = plan.step(StepId::EntryPoint).expect("entry point");
        assert_eq!(entry.depends_on, app_stacks);
        let dashboard = plan.step(StepId::Dashboard).expect("dashboard");
        assert_eq!(dashboard.depends_on, app_stacks);
    }

    #[test]
    fn cycles_and_unknown_dependencies_are_rejected() {
        let step = |id, depends_on| Step {
            id,
            label: format!("{id:?}"),
            region: None,
            depends_on,
        };
        let cycle = Plan {
            steps: vec![
                step(StepId::BuildImages, vec![StepId::SeedTable]),
                step(StepId::SeedTable, vec![StepId::BuildImages]),
            ],
        };
        assert!(
            cycle
                .validate()
                .expect_err("cycle")
                .to_string()
                .contains("cycle")
        );
        let unknown = Plan {
            steps: vec![step(StepId::SeedTable, vec![StepId::BuildImages])],
        };
        assert!(
            unknown
                .validate()
                .expect_err("unknown")
                .to_string()
                .contains("not in the plan")
        );
    }
}
