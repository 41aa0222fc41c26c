//! Teardown: everything the app created, removed in dependency order, then verified gone.
//!
//! The order is the deploy's in reverse, as a DAG run by the same executor (both regions in
//! parallel where nothing forbids it):
//! global entry point (traffic off first) → dashboard → ECS services scaled to 0 and deleted →
//! Global Accelerator's network interfaces waited for and its security group deleted, per region
//! (see [`interfaces`]) →
//! on-demand backup of the table (writers are stopped now) → DR replica removed (DynamoDB's rules)
//! → ECR images → app stacks (secondary, then primary) → registry stacks → the table itself.
//!
//! Why the table is deleted by teardown and not by its stack: the app template retains it
//! (`DeletionPolicy: Retain`), so that `--keep-data` can keep it and so that DynamoDB's 24-hour
//! rule for a replica's source table never leaves the whole stack in DELETE_FAILED.
//!
//! A failed step skips only what depends on it; then [`verify`] lists, service by service, what
//! is still there. Anything listed fails the command, whatever the steps said: the emulator's
//! deletes leak (see shared/TESTBED.md) and so can AWS's.

pub mod entry;
pub mod insights;
pub mod interfaces;
pub mod removal;
pub mod table;
pub mod verify;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::aws::{Patience, RegionClients};
use crate::config::{Config, Role};
use crate::error::{Error, Result};
use crate::plan::{Cancellation, Node, OnCancel, OnFailure, run};
use crate::progress::Events;
use crate::stack::StackKind;

pub use verify::{Found, Unverified};

/// Choices that change what teardown removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TeardownOptions {
    /// Keep the primary table and its data (no backup is taken then).
    pub keep_data: bool,
}

/// One step of the teardown plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TeardownStep {
    /// Global Accelerator (and Route 53 failover records): disabled and deleted.
    EntryPoint,
    /// The CloudWatch dashboard in the primary region.
    Dashboard,
    /// What Global Accelerator leaves in a region's VPC: its network interfaces waited for, its
    /// `GlobalAccelerator` security group deleted (both block the app stack's VPC otherwise).
    AcceleratorNetwork { role: Role },
    /// Both ECS services of a region scaled to 0, deleted, waited for.
    Services { role: Role },
    /// On-demand backup of the primary table before it goes.
    Backup,
    /// The DR replica removed from the global table.
    Replica { role: Role },
    /// Every image in the region's two ECR repositories.
    Images { role: Role },
    /// One stack of one region deleted.
    Stack { role: Role, kind: StackKind },
    /// The primary table deleted (its stack retains it).
    Table,
    /// The Container Insights log groups ECS created for the region's cluster (no stack owns
    /// them), once the app stack has deleted the cluster.
    InsightsLogs { role: Role },
}

/// The teardown steps for a config, as data: printable and testable without IO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeardownPlan {
    pub nodes: Vec<Node<TeardownStep>>,
}

impl fmt::Display for TeardownPlan {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::plan::write_nodes(&self.nodes, formatter)
    }
}

/// The reverse of the deploy plan. Every step may be aborted by Ctrl-C: each one only deletes,
/// and a rerun picks up whatever is still there.
pub fn teardown_plan(config: &Config, options: TeardownOptions) -> TeardownPlan {
    let mut nodes = Vec::new();
    let mut add = |id: TeardownStep, label: String, depends_on: Vec<TeardownStep>| {
        nodes.push(Node {
            id,
            label,
            depends_on,
            on_cancel: OnCancel::Abort,
        });
    };
    let roles: Vec<(Role, String)> = config
        .regions()
        .map(|region| (region.role, region.name.clone()))
        .collect();
    let replica = config.secondary().map(|secondary| {
        (
            TeardownStep::Replica {
                role: Role::Secondary,
            },
            secondary,
        )
    });
    add(
        TeardownStep::EntryPoint,
        "global entry point".into(),
        Vec::new(),
    );
    add(
        TeardownStep::Dashboard,
        format!("dashboard {}", config.primary().name),
        vec![TeardownStep::EntryPoint],
    );
    let all_services: Vec<TeardownStep> = roles
        .iter()
        .map(|(role, _)| TeardownStep::Services { role: *role })
        .collect();
    for (role, name) in &roles {
        add(
            TeardownStep::Services { role: *role },
            format!("ECS services {name} ({role})"),
            vec![TeardownStep::EntryPoint],
        );
    }
    if !options.keep_data {
        add(
            TeardownStep::Backup,
            format!("table backup {}", config.primary().name),
            all_services.clone(),
        );
    }
    if let Some((id, secondary)) = &replica {
        add(
            *id,
            format!("table replica {} ({})", secondary.name, Role::Secondary),
            all_services.clone(),
        );
    }
    for (role, name) in &roles {
        add(
            TeardownStep::AcceleratorNetwork { role: *role },
            format!("Global Accelerator interfaces {name} ({role})"),
            vec![TeardownStep::EntryPoint],
        );
    }
    for (role, name) in &roles {
        add(
            TeardownStep::Images { role: *role },
            format!("ECR images {name} ({role})"),
            vec![TeardownStep::Services { role: *role }],
        );
    }
    let app_stack = |role| TeardownStep::Stack {
        role,
        kind: StackKind::App,
    };
    // Secondary first: the primary holds the table, the last thing to go.
    for (role, name) in roles.iter().rev() {
        let mut depends_on = vec![
            TeardownStep::Services { role: *role },
            TeardownStep::Images { role: *role },
            TeardownStep::Dashboard,
            TeardownStep::AcceleratorNetwork { role: *role },
        ];
        if let Some((id, _)) = &replica {
            depends_on.push(*id);
        }
        if *role == Role::Primary {
            if !options.keep_data {
                depends_on.push(TeardownStep::Backup);
            }
            if config.secondary().is_some() {
                depends_on.push(app_stack(Role::Secondary));
            }
        }
        add(
            app_stack(*role),
            format!("app stack {name} ({role})"),
            depends_on,
        );
    }
    for (role, name) in &roles {
        add(
            TeardownStep::InsightsLogs { role: *role },
            format!("Container Insights log groups {name} ({role})"),
            vec![app_stack(*role)],
        );
    }
    for (role, name) in roles.iter().rev() {
        add(
            TeardownStep::Stack {
                role: *role,
                kind: StackKind::Registry,
            },
            format!("registry stack {name} ({role})"),
            vec![app_stack(*role), TeardownStep::Images { role: *role }],
        );
    }
    if !options.keep_data {
        let mut depends_on = vec![app_stack(Role::Primary), TeardownStep::Backup];
        if let Some((id, _)) = &replica {
            depends_on.push(*id);
        }
        add(
            TeardownStep::Table,
            format!("table {} {}", config.table_name(), config.primary().name),
            depends_on,
        );
    }
    TeardownPlan { nodes }
}

/// What a finished step hands to later steps and to the report.
#[derive(Debug, Clone)]
pub enum StepOutput {
    Done,
    Entry(entry::EntryRemoval),
    Backup(Option<table::BackupInfo>),
    Replica(table::ReplicaRemoval),
    /// The logical ids CloudFormation had to retain.
    Stack {
        retained: Vec<String>,
    },
}

/// How one step ended.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: TeardownStep,
    pub label: String,
    /// done, failed, skipped (a step it needs did not finish) or stopped (Ctrl-C).
    pub status: &'static str,
    pub error: Option<String>,
}

/// The result of a teardown, for people (text) and programs (`--output json`).
#[derive(Debug, Serialize)]
pub struct TeardownReport {
    pub app: String,
    /// Every step finished and verification found nothing left.
    pub complete: bool,
    pub interrupted: bool,
    pub steps: Vec<StepReport>,
    pub backup: Option<table::BackupInfo>,
    /// Kept on purpose (`--keep-data`).
    pub kept: Vec<Found>,
    /// Still there after teardown: each one fails the command.
    pub remaining: Vec<Found>,
    /// What could not be checked, and why (e.g. a service the endpoint does not offer).
    pub unverified: Vec<Unverified>,
}

/// Everything the steps share.
pub struct Teardown {
    pub config: Config,
    pub options: TeardownOptions,
    pub clients: BTreeMap<Role, RegionClients>,
    pub global: entry::GlobalClients,
    pub events: Events,
}

impl Teardown {
    /// Clients for every region of the app and for the global services, honouring endpoint
    /// overrides.
    pub async fn connect(config: &Config, options: TeardownOptions, events: Events) -> Teardown {
        Teardown {
            config: config.clone(),
            options,
            clients: RegionClients::for_app(config, Patience::DEPLOY).await,
            global: entry::GlobalClients::connect(config).await,
            events,
        }
    }

    /// Runs the plan, then verifies. Fails only on a bug (invalid plan); everything else is in
    /// the report.
    pub async fn run(self, cancellation: &Cancellation) -> Result<TeardownReport> {
        let plan = teardown_plan(&self.config, self.options);
        let labels: Arc<BTreeMap<TeardownStep, String>> = Arc::new(
            plan.nodes
                .iter()
                .map(|node| (node.id, node.label.clone()))
                .collect(),
        );
        // What the stacks own now: after they are gone, verification still knows where to look.
        let recorded = verify::stack_inventory(&self).await;
        let this = Arc::new(self);
        let outcome = run(
            &plan.nodes,
            OnFailure::SkipDependents,
            &this.events,
            cancellation,
            |id, done| {
                let this = this.clone();
                let step = labels[&id].clone();
                async move { this.step(id, step, &done).await }
            },
        )
        .await?;

        let mut steps = Vec::new();
        for node in &plan.nodes {
            let failure = outcome.failures.iter().find(|(id, _)| *id == node.id);
            let (status, error) = if outcome.outputs.contains_key(&node.id) {
                ("done", None)
            } else if let Some((_, error)) = failure {
                ("failed", Some(error.to_string()))
            } else if outcome.stopped.contains(&node.id) {
                ("stopped", None)
            } else {
                ("skipped", None)
            };
            steps.push(StepReport {
                step: node.id,
                label: node.label.clone(),
                status,
                error,
            });
        }
        let backup = outcome.outputs.values().find_map(|output| match output {
            StepOutput::Backup(backup) => backup.clone(),
            _ => None,
        });
        let verification = verify::verify(&this, &recorded).await;
        let complete = !outcome.interrupted
            && steps.iter().all(|step| step.status == "done")
            && verification.remaining.is_empty()
            && verification
                .unverified
                .iter()
                .all(|unverified| unverified.service_unavailable);
        Ok(TeardownReport {
            app: this.config.app.clone(),
            complete,
            interrupted: outcome.interrupted,
            steps,
            backup,
            kept: verification.kept,
            remaining: verification.remaining,
            unverified: verification.unverified,
        })
    }

    /// Runs step `id`, labelled `step` in progress and messages.
    async fn step(
        &self,
        id: TeardownStep,
        step: String,
        done: &BTreeMap<TeardownStep, StepOutput>,
    ) -> Result<(StepOutput, String)> {
        let app = &self.config.app;
        match id {
            TeardownStep::EntryPoint => {
                let removal =
                    entry::remove_entry_point(&self.global, app, &self.events, &step).await?;
                let summary = removal.summary();
                Ok((StepOutput::Entry(removal), summary))
            }
            TeardownStep::Dashboard => {
                let clients = self.clients(Role::Primary)?;
                let summary = removal::delete_dashboard(clients, app, &self.events, &step).await?;
                Ok((StepOutput::Done, summary))
            }
            TeardownStep::AcceleratorNetwork { role } => {
                let clients = self.clients(role)?;
                let stack_name = StackKind::App.stack_name(app);
                let summary = match interfaces::stack_vpc(clients, &stack_name).await? {
                    Some(vpc) => {
                        interfaces::release_accelerator_network(
                            clients,
                            &vpc,
                            &self.events,
                            &step,
                            interfaces::INTERFACE_RELEASE_LIMIT,
                        )
                        .await?
                    }
                    None => format!("no stack {stack_name}, no VPC to clean"),
                };
                Ok((StepOutput::Done, summary))
            }
            TeardownStep::Services { role } => {
                let summary =
                    removal::remove_services(self.clients(role)?, app, &self.events, &step).await?;
                Ok((StepOutput::Done, summary))
            }
            TeardownStep::Backup => {
                let backup = table::take_backup(
                    &self.clients(Role::Primary)?.dynamodb,
                    &self.config.primary().name,
                    &self.config.table_name(),
                    app,
                    &self.events,
                    &step,
                    table::BACKUP_WAIT_LIMIT,
                )
                .await?;
                let summary = match &backup {
                    Some(backup) => format!("backup {} AVAILABLE", backup.name),
                    None => "no table, nothing to back up".into(),
                };
                Ok((StepOutput::Backup(backup), summary))
            }
            TeardownStep::Replica { role } => {
                let replica_region = self.region_name(role)?;
                let removal = table::remove_replica(
                    &self.clients(Role::Primary)?.dynamodb,
                    &self.config.primary().name,
                    &self.clients(role)?.dynamodb,
                    &replica_region,
                    &self.config.table_name(),
                    &self.events,
                    &step,
                    table::REPLICA_REMOVAL_LIMIT,
                )
                .await?;
                let summary = removal.summary();
                Ok((StepOutput::Replica(removal), summary))
            }
            TeardownStep::Images { role } => {
                let summary = removal::delete_images(self.clients(role)?, app).await?;
                Ok((StepOutput::Done, summary))
            }
            TeardownStep::Stack { role, kind } => {
                let clients = self.clients(role)?;
                let stack_name = kind.stack_name(app);
                if kind == StackKind::App && role == Role::Primary && self.options.keep_data {
                    removal::ensure_table_is_retained(clients, &stack_name, &self.config).await?;
                }
                let removed =
                    removal::delete_stack(clients, app, &stack_name, &self.events, &step).await?;
                let summary = removed.summary(&stack_name);
                Ok((
                    StepOutput::Stack {
                        retained: removed.retained,
                    },
                    summary,
                ))
            }
            TeardownStep::InsightsLogs { role } => {
                let summary =
                    insights::delete_insights_log_groups(self.clients(role)?, app).await?;
                Ok((StepOutput::Done, summary))
            }
            TeardownStep::Table => {
                let replica_created = done.values().find_map(|output| match output {
                    StepOutput::Replica(removal) => removal.replica_created,
                    _ => None,
                });
                let summary = table::delete_table(
                    &self.clients(Role::Primary)?.dynamodb,
                    &self.config.primary().name,
                    &self.config.table_name(),
                    replica_created,
                    &self.events,
                    &step,
                    table::REPLICA_REMOVAL_LIMIT,
                )
                .await?;
                Ok((StepOutput::Done, summary))
            }
        }
    }

    fn clients(&self, role: Role) -> Result<&RegionClients> {
        self.clients.get(&role).ok_or_else(|| {
            Error::config(
                format!("the teardown plan has a {role} step but no {role} region is configured"),
                "pass --secondary-region",
            )
        })
    }

    fn region_name(&self, role: Role) -> Result<String> {
        Ok(self.clients(role)?.region.clone())
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
            app: Some("demo".into()),
            ..GlobalArgs::default()
        };
        Config::resolve(&global, ConfigFile::default()).expect("valid config")
    }

    fn depends_on(plan: &TeardownPlan, id: TeardownStep) -> Vec<TeardownStep> {
        plan.nodes
            .iter()
            .find(|node| node.id == id)
            .map(|node| node.depends_on.clone())
            .unwrap_or_else(|| panic!("{id:?} not in the plan"))
    }

    #[test]
    fn two_region_teardown_runs_in_reverse_dependency_order() {
        let plan = teardown_plan(&config(Some("us-west-2")), TeardownOptions::default());
        let primary_app = TeardownStep::Stack {
            role: Role::Primary,
            kind: StackKind::App,
        };
        let secondary_app = TeardownStep::Stack {
            role: Role::Secondary,
            kind: StackKind::App,
        };
        assert!(
            depends_on(
                &plan,
                TeardownStep::Services {
                    role: Role::Primary
                }
            )
            .contains(&TeardownStep::EntryPoint)
        );
        let primary = depends_on(&plan, primary_app);
        for needed in [
            secondary_app,
            TeardownStep::Backup,
            TeardownStep::Replica {
                role: Role::Secondary,
            },
            TeardownStep::Images {
                role: Role::Primary,
            },
            TeardownStep::Dashboard,
        ] {
            assert!(
                primary.contains(&needed),
                "{needed:?} missing in {primary:?}"
            );
        }
        assert!(depends_on(&plan, TeardownStep::Table).contains(&primary_app));
        for (role, app_stack) in [
            (Role::Primary, primary_app),
            (Role::Secondary, secondary_app),
        ] {
            let network = TeardownStep::AcceleratorNetwork { role };
            assert!(
                depends_on(&plan, app_stack).contains(&network),
                "the app stack's VPC can only go once Global Accelerator's interfaces and group are gone"
            );
            assert_eq!(depends_on(&plan, network), [TeardownStep::EntryPoint]);
        }
        assert!(
            depends_on(&plan, TeardownStep::Backup).contains(&TeardownStep::Services {
                role: Role::Secondary
            }),
            "the backup is taken once every writer is stopped"
        );
        let text = plan.to_string();
        assert!(
            text.contains("registry stack us-west-2 (secondary)  (after: app stack us-west-2 (secondary), ECR images us-west-2 (secondary))"),
            "{text}"
        );
    }

    #[test]
    fn keep_data_takes_no_backup_and_leaves_the_table() {
        let plan = teardown_plan(&config(None), TeardownOptions { keep_data: true });
        assert!(plan.nodes.iter().all(|node| !matches!(
            node.id,
            TeardownStep::Backup | TeardownStep::Table | TeardownStep::Replica { .. }
        )));
        assert_eq!(plan.nodes.len(), 8, "{plan}");
    }
}
