//! Teardown: everything the app created, removed in dependency order, then verified gone.
//!
//! The order is the deploy's in reverse, as a DAG run by the same executor (the regions in
//! parallel where nothing forbids it):
//! global entry point (traffic off first) and the auto failover plan's stack (before its alarms
//! could scale a region up again) → dashboard → ECS services scaled to 0 and deleted →
//! Global Accelerator's network interfaces waited for and its security group deleted, per region
//! (see [`interfaces`]) →
//! on-demand backup of the table (writers are stopped now) → the replica in every region but home
//! removed, one at a time (DynamoDB's rules) → ECR images → app stacks (every other region's,
//! then home's, which held the table in deployments made before data stacks) → registry stacks
//! and the data stack → the table itself.
//!
//! Why the table is deleted by teardown and not by its stack: the data template retains it
//! (`DeletionPolicy: RetainExceptOnCreate`), so that `--keep-data` can keep it and so that DynamoDB's 24-hour
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

use crate::app::RegionName;
use crate::aws::{Patience, RegionClients};
use crate::config::{Config, RegionSettings};
use crate::error::{Error, Result};
use crate::plan::{Cancellation, Node, OnCancel, OnFailure, run};
use crate::progress::Events;
use crate::stack::StackKind;

pub use verify::{Found, Unverified};

/// Choices that change what teardown removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TeardownOptions {
    /// Keep the home table and its data (no backup is taken then).
    pub keep_data: bool,
}

/// One step of the teardown plan, keyed by the region it works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TeardownStep {
    /// Global Accelerator (and Route 53 failover records): disabled and deleted.
    EntryPoint,
    /// The CloudWatch dashboard in the home region.
    Dashboard,
    /// What Global Accelerator leaves in a region's VPC: its network interfaces waited for, its
    /// `GlobalAccelerator` security group deleted (both block the app stack's VPC otherwise).
    AcceleratorNetwork { region: RegionName },
    /// Every ECS service of a region scaled to 0, deleted, waited for.
    Services { region: RegionName },
    /// On-demand backup of the home table before it goes.
    Backup,
    /// The table's replica in a region other than home removed from the global table.
    Replica { region: RegionName },
    /// Every image in the region's ECR repositories (one per bundled service).
    Images { region: RegionName },
    /// One stack of one region deleted.
    Stack { region: RegionName, kind: StackKind },
    /// The home table deleted (its stack retains it).
    Table,
    /// The Container Insights log groups ECS created for the region's cluster (no stack owns
    /// them), once the app stack has deleted the cluster.
    InsightsLogs { region: RegionName },
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

/// How a region is named in step labels: its name and whether it is home ("primary", the word
/// the stacks' `mysfits:role` tag carries) or not ("secondary").
fn region_label(region: &RegionSettings) -> String {
    let role = crate::app::region::standing(region.home);
    format!("{} ({role})", region.name)
}

fn app_stack(region: RegionName) -> TeardownStep {
    TeardownStep::Stack {
        region,
        kind: StackKind::App,
    }
}

/// The plan's nodes as they are added.
#[derive(Default)]
struct PlanBuilder {
    nodes: Vec<Node<TeardownStep>>,
}

impl PlanBuilder {
    fn add(&mut self, id: TeardownStep, label: String, depends_on: Vec<TeardownStep>) {
        self.nodes.push(Node {
            id,
            label,
            depends_on,
            on_cancel: OnCancel::Abort,
        });
    }
}

/// The reverse of the deploy plan. Every step may be aborted by Ctrl-C: each one only deletes,
/// and a rerun picks up whatever is still there.
pub fn teardown_plan(config: &Config, options: TeardownOptions) -> TeardownPlan {
    teardown_plan_with(config, options, config.auto_failover.enabled)
}

/// [`teardown_plan`], with auto failover's stacks removed when `auto_failover_stacks`: when it
/// is on, or off but its stacks are still there from a deploy when it was on.
pub fn teardown_plan_with(
    config: &Config,
    options: TeardownOptions,
    auto_failover_stacks: bool,
) -> TeardownPlan {
    let mut plan = PlanBuilder::default();
    let home = config.home();
    plan.add(
        TeardownStep::EntryPoint,
        "global entry point".into(),
        Vec::new(),
    );
    plan.add(
        TeardownStep::Dashboard,
        format!("dashboard {}", home.name),
        vec![TeardownStep::EntryPoint],
    );
    let all_services: Vec<TeardownStep> = config
        .regions()
        .map(|region| TeardownStep::Services {
            region: region.key(),
        })
        .collect();
    // Auto failover's Region switch plan goes first: scaling home's services to 0 fires its
    // alarms, and the plan would then scale the other region up while teardown removes it.
    // The alarms stacks follow the plan (nothing depends on them).
    let mut before_services = vec![TeardownStep::EntryPoint];
    if auto_failover_stacks {
        let recovery = TeardownStep::Stack {
            region: home.key(),
            kind: StackKind::Recovery,
        };
        plan.add(
            recovery,
            format!("{} stack {}", StackKind::Recovery.label(), home.name),
            Vec::new(),
        );
        for region in config.regions() {
            plan.add(
                TeardownStep::Stack {
                    region: region.key(),
                    kind: StackKind::Alarms,
                },
                format!("{} stack {}", StackKind::Alarms.label(), region.name),
                vec![recovery],
            );
        }
        before_services.push(recovery);
    }
    for region in config.regions() {
        plan.add(
            TeardownStep::Services {
                region: region.key(),
            },
            format!("ECS services {}", region_label(region)),
            before_services.clone(),
        );
    }
    if !options.keep_data {
        plan.add(
            TeardownStep::Backup,
            format!("table backup {}", home.name),
            all_services.clone(),
        );
    }
    add_replica_removals(&mut plan, config, &all_services);
    add_regional_cleanups(&mut plan, config);
    add_app_stacks(&mut plan, config, options);
    add_after_app_stacks(&mut plan, config, options);
    TeardownPlan { nodes: plan.nodes }
}

/// The replicas in every region but home, one at a time: DynamoDB takes one UpdateTable at a
/// time per table (the table is UPDATING until the previous one is applied), so each removal
/// waits for the one before it.
fn add_replica_removals(plan: &mut PlanBuilder, config: &Config, all_services: &[TeardownStep]) {
    let mut previous: Option<TeardownStep> = None;
    for region in config.others() {
        let id = TeardownStep::Replica {
            region: region.key(),
        };
        let mut depends_on = all_services.to_vec();
        depends_on.extend(previous);
        plan.add(
            id,
            format!("table replica {}", region_label(region)),
            depends_on,
        );
        previous = Some(id);
    }
}

/// What goes before a region's app stack: Global Accelerator's leftovers in its VPC and the
/// images in its repositories.
fn add_regional_cleanups(plan: &mut PlanBuilder, config: &Config) {
    for region in config.regions() {
        plan.add(
            TeardownStep::AcceleratorNetwork {
                region: region.key(),
            },
            format!("Global Accelerator interfaces {}", region_label(region)),
            vec![TeardownStep::EntryPoint],
        );
    }
    for region in config.regions() {
        plan.add(
            TeardownStep::Images {
                region: region.key(),
            },
            format!("ECR images {}", region_label(region)),
            vec![TeardownStep::Services {
                region: region.key(),
            }],
        );
    }
}

/// The app stacks, every other region's before home's: home's holds the table, the last thing
/// to go, and it goes once every replica is removed.
fn add_app_stacks(plan: &mut PlanBuilder, config: &Config, options: TeardownOptions) {
    for region in config.regions().rev() {
        let key = region.key();
        let mut depends_on = vec![
            TeardownStep::Services { region: key },
            TeardownStep::Images { region: key },
            TeardownStep::Dashboard,
            TeardownStep::AcceleratorNetwork { region: key },
        ];
        if region.home {
            depends_on.extend(config.others().map(|other| TeardownStep::Replica {
                region: other.key(),
            }));
            if !options.keep_data {
                depends_on.push(TeardownStep::Backup);
            }
            depends_on.extend(config.others().map(|other| app_stack(other.key())));
        } else {
            depends_on.push(TeardownStep::Replica { region: key });
        }
        plan.add(
            app_stack(key),
            format!("app stack {}", region_label(region)),
            depends_on,
        );
    }
}

/// What goes once a region's app stack is gone: Container Insights log groups, the registry
/// stack; and, last, the table.
fn add_after_app_stacks(plan: &mut PlanBuilder, config: &Config, options: TeardownOptions) {
    for region in config.regions() {
        plan.add(
            TeardownStep::InsightsLogs {
                region: region.key(),
            },
            format!("Container Insights log groups {}", region_label(region)),
            vec![app_stack(region.key())],
        );
    }
    for region in config.regions().rev() {
        plan.add(
            TeardownStep::Stack {
                region: region.key(),
                kind: StackKind::Registry,
            },
            format!("registry stack {}", region_label(region)),
            vec![
                app_stack(region.key()),
                TeardownStep::Images {
                    region: region.key(),
                },
            ],
        );
    }
    // The data stack retains the table when deleted: it goes after the backup and the replicas,
    // and the table (unless kept) after it, with the DynamoDB API.
    let home = config.home();
    let data_stack = TeardownStep::Stack {
        region: home.key(),
        kind: StackKind::Data,
    };
    let mut depends_on = vec![app_stack(home.key())];
    if !options.keep_data {
        depends_on.push(TeardownStep::Backup);
    }
    depends_on.extend(config.others().map(|other| TeardownStep::Replica {
        region: other.key(),
    }));
    plan.add(
        data_stack,
        format!("{} stack {}", StackKind::Data.label(), region_label(home)),
        depends_on.clone(),
    );
    if !options.keep_data {
        depends_on.push(data_stack);
        plan.add(
            TeardownStep::Table,
            format!("table {} {}", config.table_name(), home.name),
            depends_on,
        );
    }
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
    /// Clients of every region of the app.
    pub clients: BTreeMap<RegionName, RegionClients>,
    pub global: entry::GlobalClients,
    pub events: Events,
    /// Remove auto failover's stacks: it is on, or its stacks are left from when it was.
    pub auto_failover_stacks: bool,
}

/// A step's result: what it hands on, and its one-line summary.
type Stepped = Result<(StepOutput, String)>;

impl Teardown {
    /// Clients for every region of the app and for the global services, honouring endpoint
    /// overrides.
    pub async fn connect(config: &Config, options: TeardownOptions, events: Events) -> Teardown {
        let clients = RegionClients::for_regions(config, Patience::DEPLOY).await;
        // Off, but maybe on at an earlier deploy: its stacks go too. A region that does not
        // answer keeps the steps (they report it like every other step there).
        let auto_failover_stacks = config.auto_failover.enabled
            || crate::auto_failover::leftover_stacks(config, &clients)
                .await
                .map_or(true, |leftovers| !leftovers.is_empty());
        Teardown {
            config: config.clone(),
            options,
            clients,
            global: entry::GlobalClients::connect(config).await,
            events,
            auto_failover_stacks,
        }
    }

    /// Runs the plan, then verifies. Fails only on a bug (invalid plan); everything else is in
    /// the report.
    pub async fn run(self, cancellation: &Cancellation) -> Result<TeardownReport> {
        let plan = teardown_plan_with(&self.config, self.options, self.auto_failover_stacks);
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
        let steps = step_reports(&plan, &outcome);
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
    ) -> Stepped {
        let app = &self.config.app;
        match id {
            TeardownStep::EntryPoint => {
                let zone = entry::FailoverZone::configured(&self.config);
                let removal = entry::remove_entry_point_in(
                    &self.global,
                    zone.as_ref(),
                    app,
                    &self.events,
                    &step,
                )
                .await?;
                let summary = removal.summary();
                Ok((StepOutput::Entry(removal), summary))
            }
            TeardownStep::Dashboard => {
                let clients = self.clients(self.config.home().key())?;
                let summary = removal::delete_dashboard(clients, app, &self.events, &step).await?;
                Ok((StepOutput::Done, summary))
            }
            TeardownStep::AcceleratorNetwork { region } => {
                self.release_accelerator_network(region, &step).await
            }
            TeardownStep::Services { region } => {
                let clients = self.clients(region)?;
                let summary = removal::remove_services(clients, app, &self.events, &step).await?;
                Ok((StepOutput::Done, summary))
            }
            TeardownStep::Backup => self.take_backup(&step).await,
            TeardownStep::Replica { region } => self.remove_replica(region, &step).await,
            TeardownStep::Images { region } => {
                let summary = removal::delete_images(self.clients(region)?, app).await?;
                Ok((StepOutput::Done, summary))
            }
            TeardownStep::Stack { region, kind } => self.delete_stack(region, kind, &step).await,
            TeardownStep::InsightsLogs { region } => {
                let clients = self.clients(region)?;
                let cluster = crate::app::names::cluster(app);
                let summary = insights::delete_insights_log_groups(clients, &cluster).await?;
                Ok((StepOutput::Done, summary))
            }
            TeardownStep::Table => self.delete_table(done, &step).await,
        }
    }

    async fn release_accelerator_network(&self, region: RegionName, step: &str) -> Stepped {
        let clients = self.clients(region)?;
        let stack_name = StackKind::App.stack_name(&self.config.app);
        let summary = match interfaces::stack_vpc(clients, &stack_name).await? {
            Some(vpc) => {
                interfaces::release_accelerator_network(
                    clients,
                    &vpc,
                    &self.events,
                    step,
                    interfaces::INTERFACE_RELEASE_LIMIT,
                )
                .await?
            }
            None => format!("no stack {stack_name}, no VPC to clean"),
        };
        Ok((StepOutput::Done, summary))
    }

    async fn take_backup(&self, step: &str) -> Stepped {
        let home = self.config.home();
        let backup = table::take_backup(
            &self.clients(home.key())?.dynamodb,
            &home.name,
            &self.config.table_name(),
            &self.config.app,
            &self.events,
            step,
            table::BACKUP_WAIT_LIMIT,
        )
        .await?;
        let summary = match &backup {
            Some(backup) => format!("backup {} AVAILABLE", backup.name),
            None => "no table, nothing to back up".into(),
        };
        Ok((StepOutput::Backup(backup), summary))
    }

    async fn remove_replica(&self, region: RegionName, step: &str) -> Stepped {
        let home = self.config.home();
        let removal = table::remove_replica(
            &self.clients(home.key())?.dynamodb,
            &home.name,
            &self.clients(region)?.dynamodb,
            region.as_str(),
            &self.config.table_name(),
            &self.events,
            step,
            table::REPLICA_REMOVAL_LIMIT,
        )
        .await?;
        let summary = removal.summary();
        Ok((StepOutput::Replica(removal), summary))
    }

    async fn delete_stack(&self, region: RegionName, kind: StackKind, step: &str) -> Stepped {
        let clients = self.clients(region)?;
        let app = &self.config.app;
        let stack_name = kind.stack_name(app);
        // The data stack holds the table; so does the home app stack of an older deployment.
        let holds_table = kind == StackKind::Data
            || (kind == StackKind::App && region == self.config.home().key());
        if holds_table && self.options.keep_data {
            removal::ensure_table_is_retained(clients, &stack_name, &self.config).await?;
        }
        let removed = removal::delete_stack(clients, app, &stack_name, &self.events, step).await?;
        let summary = removed.summary(&stack_name);
        let retained = removed.retained;
        Ok((StepOutput::Stack { retained }, summary))
    }

    async fn delete_table(&self, done: &BTreeMap<TeardownStep, StepOutput>, step: &str) -> Stepped {
        // The most recent replica decides when DynamoDB's 24-hour rule lets the table go.
        let replica_created = done
            .values()
            .filter_map(|output| match output {
                StepOutput::Replica(removal) => removal.replica_created,
                _ => None,
            })
            .max_by_key(|created| (created.secs(), created.subsec_nanos()));
        let home = self.config.home();
        let summary = table::delete_table(
            &self.clients(home.key())?.dynamodb,
            &home.name,
            &self.config.table_name(),
            replica_created,
            &self.events,
            step,
            table::REPLICA_REMOVAL_LIMIT,
        )
        .await?;
        Ok((StepOutput::Done, summary))
    }

    fn clients(&self, region: RegionName) -> Result<&RegionClients> {
        self.clients.get(&region).ok_or_else(|| {
            Error::internal(format!(
                "the teardown plan has a step in {region}, which has no clients"
            ))
        })
    }
}

/// Each step's end, in plan order.
fn step_reports(
    plan: &TeardownPlan,
    outcome: &crate::plan::Outcome<TeardownStep, StepOutput>,
) -> Vec<StepReport> {
    plan.nodes
        .iter()
        .map(|node| {
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
            StepReport {
                step: node.id,
                label: node.label.clone(),
                status,
                error,
            }
        })
        .collect()
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

    fn three_regions() -> Config {
        let global = GlobalArgs {
            regions: vec!["us-east-1".into(), "us-west-2".into(), "eu-west-1".into()],
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

    /// Whether `later` (transitively) waits for `earlier`.
    fn runs_after(plan: &TeardownPlan, later: TeardownStep, earlier: TeardownStep) -> bool {
        let mut pending = depends_on(plan, later);
        let mut seen = std::collections::BTreeSet::new();
        while let Some(step) = pending.pop() {
            if step == earlier {
                return true;
            }
            if seen.insert(step) {
                pending.extend(depends_on(plan, step));
            }
        }
        false
    }

    fn region(name: &str) -> RegionName {
        RegionName::new(name)
    }

    #[test]
    fn two_region_teardown_runs_in_reverse_dependency_order() {
        let plan = teardown_plan(&config(Some("us-west-2")), TeardownOptions::default());
        let (east, west) = (region("us-east-1"), region("us-west-2"));
        let primary_app = app_stack(east);
        let secondary_app = app_stack(west);
        assert!(
            depends_on(&plan, TeardownStep::Services { region: east })
                .contains(&TeardownStep::EntryPoint)
        );
        let primary = depends_on(&plan, primary_app);
        for needed in [
            secondary_app,
            TeardownStep::Backup,
            TeardownStep::Replica { region: west },
            TeardownStep::Images { region: east },
            TeardownStep::Dashboard,
        ] {
            assert!(
                primary.contains(&needed),
                "{needed:?} missing in {primary:?}"
            );
        }
        assert!(depends_on(&plan, TeardownStep::Table).contains(&primary_app));
        for (key, app_stack) in [(east, primary_app), (west, secondary_app)] {
            let network = TeardownStep::AcceleratorNetwork { region: key };
            assert!(
                depends_on(&plan, app_stack).contains(&network),
                "the app stack's VPC can only go once Global Accelerator's interfaces and group are gone"
            );
            assert_eq!(depends_on(&plan, network), [TeardownStep::EntryPoint]);
        }
        assert!(
            depends_on(&plan, TeardownStep::Backup)
                .contains(&TeardownStep::Services { region: west }),
            "the backup is taken once every writer is stopped"
        );
        let text = plan.to_string();
        assert!(
            text.contains("registry stack us-west-2 (secondary)  (after: app stack us-west-2 (secondary), ECR images us-west-2 (secondary))"),
            "{text}"
        );
        // The data stack goes after the backup and the replicas; the table after it.
        let data = TeardownStep::Stack {
            region: east,
            kind: StackKind::Data,
        };
        for needed in [TeardownStep::Backup, TeardownStep::Replica { region: west }] {
            assert!(depends_on(&plan, data).contains(&needed), "{plan}");
        }
        assert!(depends_on(&plan, TeardownStep::Table).contains(&data));
        assert!(
            text.contains("data stack us-east-1 (primary)  (after:"),
            "{text}"
        );
        assert_eq!(plan.nodes.len(), 18, "{plan}");
    }

    #[test]
    fn three_region_teardown_removes_every_replica_one_at_a_time_before_the_home_stack() {
        let plan = teardown_plan(&three_regions(), TeardownOptions::default());
        let (east, west, ireland) = (
            region("us-east-1"),
            region("us-west-2"),
            region("eu-west-1"),
        );
        let replicas = [
            TeardownStep::Replica { region: west },
            TeardownStep::Replica { region: ireland },
        ];
        assert!(
            plan.nodes
                .iter()
                .all(|node| node.id != TeardownStep::Replica { region: east }),
            "home holds the table, not a replica: {plan}"
        );
        assert!(
            depends_on(&plan, replicas[1]).contains(&replicas[0]),
            "one UpdateTable replica removal at a time: {plan}"
        );
        for other in [west, ireland] {
            assert!(
                runs_after(&plan, app_stack(east), app_stack(other)),
                "home's app stack goes after {other}'s: {plan}"
            );
            assert!(
                runs_after(
                    &plan,
                    app_stack(other),
                    TeardownStep::Replica { region: other }
                ),
                "{other}'s app stack goes after its replica: {plan}"
            );
            assert!(runs_after(
                &plan,
                TeardownStep::Replica { region: other },
                TeardownStep::Services { region: other }
            ));
            for kind in [
                TeardownStep::Images { region: other },
                TeardownStep::AcceleratorNetwork { region: other },
                TeardownStep::InsightsLogs { region: other },
                TeardownStep::Stack {
                    region: other,
                    kind: StackKind::Registry,
                },
            ] {
                assert!(plan.nodes.iter().any(|node| node.id == kind), "{kind:?}");
            }
        }
        for replica in replicas {
            assert!(runs_after(&plan, TeardownStep::Table, replica), "{plan}");
            assert!(runs_after(&plan, app_stack(east), replica), "{plan}");
        }
        assert!(runs_after(&plan, TeardownStep::Table, app_stack(east)));
        // 2 global + per region (services, network, images, app, insights, registry) + backup,
        // two replicas, data stack, table.
        assert_eq!(plan.nodes.len(), 2 + 6 * 3 + 1 + 2 + 1 + 1, "{plan}");
        let text = plan.to_string();
        assert!(
            text.contains("table replica eu-west-1 (secondary)"),
            "{text}"
        );
    }

    #[test]
    fn the_recovery_plan_goes_before_any_service_so_its_alarms_scale_nothing_up() {
        let file: ConfigFile = serde_yaml::from_str(
            "regions: [us-east-1, us-west-2]\napp: demo\nauto_failover: {enabled: true}\n",
        )
        .expect("yaml");
        let enabled = Config::resolve(&GlobalArgs::default(), file).expect("valid config");
        let plan = teardown_plan(&enabled, TeardownOptions::default());
        let recovery = TeardownStep::Stack {
            region: region("us-east-1"),
            kind: StackKind::Recovery,
        };
        for name in ["us-east-1", "us-west-2"] {
            let services = TeardownStep::Services {
                region: region(name),
            };
            assert!(runs_after(&plan, services, recovery), "{name}");
            let alarms = TeardownStep::Stack {
                region: region(name),
                kind: StackKind::Alarms,
            };
            assert!(runs_after(&plan, alarms, recovery), "{name}");
        }
        let off = teardown_plan(&config(Some("us-west-2")), TeardownOptions::default());
        assert!(off.nodes.iter().all(|node| node.id != recovery));
    }

    #[test]
    fn keep_data_takes_no_backup_and_leaves_the_table() {
        let plan = teardown_plan(&config(None), TeardownOptions { keep_data: true });
        assert!(plan.nodes.iter().all(|node| !matches!(
            node.id,
            TeardownStep::Backup | TeardownStep::Table | TeardownStep::Replica { .. }
        )));
        // The data stack goes (it retains the table, see the template), the table stays.
        let data = TeardownStep::Stack {
            region: region("us-east-1"),
            kind: StackKind::Data,
        };
        assert!(plan.nodes.iter().any(|node| node.id == data), "{plan}");
        assert_eq!(plan.nodes.len(), 9, "{plan}");
    }
}
