//! The deploy plan as data: steps with dependencies (a DAG), built from the config alone so it can
//! be printed (`mysfits plan`) and tested without any IO. [`execute`] runs it concurrently.

mod executor;

pub use executor::{Cancellation, Node, OnCancel, OnFailure, Outcome, execute, run, write_nodes};

use std::fmt;

use serde::Serialize;

use crate::config::{Config, Role};
use crate::error::Result;
use crate::stack::StackKind;

/// What a step does; also its identity in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StepId {
    /// Compile the services and assemble their OCI images (once, for both regions).
    BuildImages,
    /// Create or update one stack in one region.
    Stack { role: Role, kind: StackKind },
    /// Push the images into the region's ECR repositories.
    PushImages { role: Role },
    /// Add the DR region's replica to the table (DynamoDB global table).
    Replica { role: Role },
    /// Load the seed catalogue into the table.
    SeedTable,
    /// Create or align the global traffic entry point with every region's load balancer.
    EntryPoint,
    /// Create or update the multi-region CloudWatch dashboard (in the primary region).
    Dashboard,
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

/// The steps of `mysfits deploy` for this config.
///
/// Per region: registry stack → image push → app stack. The image build is shared. The table
/// lives in the primary app stack; the replica and the seed data need it.
pub fn deploy_plan(config: &Config, options: DeployOptions) -> Plan {
    let mut steps = vec![Step {
        id: StepId::BuildImages,
        label: "build service images".to_string(),
        region: None,
        depends_on: Vec::new(),
    }];
    for region in config.regions() {
        let role = region.role;
        let registry = StepId::Stack {
            role,
            kind: StackKind::Registry,
        };
        let push = StepId::PushImages { role };
        steps.push(Step {
            id: registry,
            label: format!(
                "{} stack {} ({})",
                StackKind::Registry.label(),
                region.name,
                role
            ),
            region: Some(region.name.clone()),
            depends_on: Vec::new(),
        });
        steps.push(Step {
            id: push,
            label: format!("push images {} ({})", region.name, role),
            region: Some(region.name.clone()),
            depends_on: vec![StepId::BuildImages, registry],
        });
        steps.push(Step {
            id: StepId::Stack {
                role,
                kind: StackKind::App,
            },
            label: format!(
                "{} stack {} ({})",
                StackKind::App.label(),
                region.name,
                role
            ),
            region: Some(region.name.clone()),
            depends_on: vec![push],
        });
    }
    let primary_app = StepId::Stack {
        role: Role::Primary,
        kind: StackKind::App,
    };
    if let Some(secondary) = config.secondary() {
        steps.push(Step {
            id: StepId::Replica {
                role: Role::Secondary,
            },
            label: format!("table replica {} ({})", secondary.name, Role::Secondary),
            region: Some(secondary.name.clone()),
            depends_on: vec![primary_app],
        });
    }
    if options.seed {
        steps.push(Step {
            id: StepId::SeedTable,
            label: format!(
                "seed catalogue {} ({})",
                config.primary().name,
                Role::Primary
            ),
            region: Some(config.primary().name.clone()),
            depends_on: vec![primary_app],
        });
    }
    steps.push(Step {
        id: StepId::EntryPoint,
        label: format!("global entry point ({})", config.entry_point.mode.label()),
        region: None,
        depends_on: config
            .regions()
            .map(|region| StepId::Stack {
                role: region.role,
                kind: StackKind::App,
            })
            .collect(),
    });
    // After the entry point: the dashboard shows the accelerator's flows when there is one.
    steps.push(Step {
        id: StepId::Dashboard,
        label: format!("dashboard {} ({})", config.primary().name, Role::Primary),
        region: Some(config.primary().name.clone()),
        depends_on: vec![StepId::EntryPoint],
    });
    Plan { steps }
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
                    StepId::Stack {
                        kind: StackKind::Registry | StackKind::App,
                        ..
                    } => OnCancel::WindDown,
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

    fn config(secondary: Option<&str>) -> Config {
        let global = GlobalArgs {
            region: Some("us-east-1".into()),
            secondary_region: secondary.map(str::to_string),
            ..GlobalArgs::default()
        };
        Config::resolve(&global, ConfigFile::default()).expect("valid config")
    }

    #[test]
    fn two_region_plan_pushes_before_app_stacks_and_replicates_after_the_primary_table() {
        let plan = deploy_plan(&config(Some("us-west-2")), DeployOptions { seed: true });
        plan.validate().expect("valid DAG");
        assert_eq!(plan.steps.len(), 11);
        let app_secondary = plan
            .step(StepId::Stack {
                role: Role::Secondary,
                kind: StackKind::App,
            })
            .expect("secondary app stack");
        assert_eq!(
            app_secondary.depends_on,
            vec![StepId::PushImages {
                role: Role::Secondary
            }]
        );
        assert_eq!(app_secondary.region.as_deref(), Some("us-west-2"));
        let replica = plan
            .step(StepId::Replica {
                role: Role::Secondary,
            })
            .expect("replica");
        assert_eq!(
            replica.depends_on,
            vec![StepId::Stack {
                role: Role::Primary,
                kind: StackKind::App
            }]
        );
        let entry = plan.step(StepId::EntryPoint).expect("entry point");
        assert_eq!(entry.depends_on.len(), 2, "after both app stacks");
        let dashboard = plan.step(StepId::Dashboard).expect("dashboard");
        assert_eq!(dashboard.depends_on, vec![StepId::EntryPoint]);
        assert_eq!(dashboard.region.as_deref(), Some("us-east-1"));
        let text = plan.to_string();
        assert!(text.contains("push images us-west-2 (secondary)  (after: build service images, registry stack us-west-2 (secondary))"), "{text}");
    }

    #[test]
    fn single_region_plan_has_no_replica_and_seed_is_optional() {
        let plan = deploy_plan(&config(None), DeployOptions { seed: false });
        plan.validate().expect("valid DAG");
        assert_eq!(plan.steps.len(), 6);
        assert!(
            plan.steps
                .iter()
                .all(|step| !matches!(step.id, StepId::Replica { .. } | StepId::SeedTable))
        );
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
