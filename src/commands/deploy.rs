//! `mysfits deploy` and `mysfits plan`: the deploy plan executed, or previewed.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use super::print_report;
use crate::app::RegionName;
use crate::aws::{Patience, RegionClients};
use crate::cli::DeployArgs;
use crate::config::{Config, RegionSettings};
use crate::dashboard::DashboardReport;
use crate::entry::{EntryPoint, EntryReport, RegionalLoadBalancer};
use crate::error::{Error, Result};
use crate::plan::{
    Cancellation, DeployOptions, StepId, add_leftover_removals, app_stack, deploy_plan, execute,
    take_table_from_app_stack,
};
use crate::progress::{Events, Progress};
use crate::stack::deploy::{StackDeployer, StackResult};
use crate::stack::{
    ServiceImages, StackKind, StackRequest, app_request_with, capacity, registry_request,
};
use crate::table::{REPLICA_WAIT_LIMIT, ReplicaClients, ReplicaReport, ensure_replica};

mod images;
pub use images::push_to_region;
mod preview;
mod report;

pub use preview::image_placeholder;
pub use report::{DeployReport, RegionReport, SeedReport, StackSummary, load_balancer_url};

/// What one finished step hands on to later steps and to the final report.
#[derive(Debug, Clone)]
pub enum StepOutput {
    Images(Arc<images::BuiltImages>),
    Stack(Box<StackResult>),
    Pushed(ServiceImages),
    Replica(ReplicaReport),
    Seeded {
        inserted: usize,
        existing: usize,
        /// The write-region control item, created in the home region or found there.
        write_region: crate::writes::SeedOutcome,
    },
    /// The accelerator and listener made ahead (`None`: Route 53 mode or no such service).
    Accelerator(Option<crate::entry::accelerator::Prepared>),
    EntryPoint(EntryReport),
    Dashboard(DashboardReport),
    /// A stack the config no longer asks for was deleted.
    Removed,
}

/// What the steps of one run have handed on so far.
type Done = BTreeMap<StepId, StepOutput>;

/// A step's output and its one-line summary.
type Finished = (StepOutput, String);

/// Everything the steps share: the config and one set of clients per region.
struct DeployContext {
    config: Config,
    clients: BTreeMap<RegionName, RegionClients>,
    events: Events,
    binaries: crate::image::BinaryOrigin,
    /// The entry point's client, made by the first step that needs it (accelerator or entry point).
    entry_point: tokio::sync::OnceCell<EntryPoint>,
}

pub async fn deploy(config: &Config, args: &DeployArgs) -> Result<ExitCode> {
    let options = DeployOptions {
        seed: !args.no_seed,
    };
    if args.dry_run {
        super::identity_first(config, None, super::Banner::AlsoOnTerminal).await?;
        let plan = plan_with_leftovers(config, options).await;
        return preview::preview(config, &plan).await;
    }
    // Inputs first: a missing binary source is refused before any AWS call.
    let binaries = images::choose_binaries(args)?;
    super::identity_first(config, None, super::Banner::AlsoOnTerminal).await?;
    let clients = RegionClients::for_regions(config, Patience::DEPLOY).await;
    let plan = plan_with_leftovers(config, options).await;
    let progress = Progress::start();
    let events = progress.events.clone();
    let context = Arc::new(DeployContext {
        config: config.clone(),
        clients: clients.clone(),
        events: events.clone(),
        binaries,
        entry_point: tokio::sync::OnceCell::new(),
    });
    let cancellation = Cancellation::new();
    let ctrl_c = cancellation.on_ctrl_c(&events, "deploy");
    let labels: Arc<BTreeMap<StepId, String>> = Arc::new(
        plan.steps
            .iter()
            .map(|step| (step.id, step.label.clone()))
            .collect(),
    );
    let result = execute(&plan, &events, &cancellation, |id, done| {
        let context = context.clone();
        let step = labels[&id].clone();
        async move { context.run(id, &step, &done).await }
    })
    .await;
    drop(ctrl_c);
    drop(events);
    drop(context);
    progress.finish().await;
    let executed = result?;
    let report = DeployReport::new(config, &clients, &executed.outputs, executed.timeline).await;
    print_report(config.output, &report, DeployReport::text)?;
    Ok(ExitCode::SUCCESS)
}

/// `mysfits plan`: the steps, then each stack's change set. Exit 0 no changes, 1 changes.
pub async fn plan(config: &Config) -> Result<ExitCode> {
    super::identity_first(config, None, super::Banner::Verbose).await?;
    let plan = plan_with_leftovers(config, DeployOptions { seed: true }).await;
    preview::preview(config, &plan).await
}

/// The deploy plan with the removal of auto failover stacks the config no longer asks for, and
/// the table's move out of the home app stack when it is still there (an older deployment).
/// Looked up with impatient clients, and a region that does not answer counts as having neither:
/// its own steps then report it, with their step's name, as in any deploy.
async fn plan_with_leftovers(config: &Config, options: DeployOptions) -> crate::plan::Plan {
    let mut plan = deploy_plan(config, options);
    let clients = RegionClients::for_regions(config, Patience::IMPATIENT).await;
    if !config.auto_failover.enabled
        && let Ok(leftovers) = crate::auto_failover::leftover_stacks(config, &clients).await
    {
        add_leftover_removals(&mut plan, &leftovers);
    }
    let home = config.home().key();
    if let Some(home_clients) = clients.get(&home)
        && let Ok(true) = crate::stack::data::app_stack_has_table(config, home_clients).await
    {
        take_table_from_app_stack(&mut plan, home);
    }
    plan
}

impl DeployContext {
    /// Runs step `id`, labelled `step` in progress and messages.
    async fn run(&self, id: StepId, step: &str, done: &Done) -> Result<Finished> {
        match id {
            StepId::BuildImages => self.build_images(step).await,
            StepId::Stack {
                region,
                kind: StackKind::Registry,
            } => {
                let request = registry_request(&self.config, self.region(region)?);
                self.deploy_stack(region, &request, step).await
            }
            StepId::Stack {
                region,
                kind: StackKind::Data,
            } => self.deploy_data_stack(region, step).await,
            StepId::PushImages { region } => self.push_images(region, step, done).await,
            StepId::Stack {
                region,
                kind: StackKind::App,
            } => self.deploy_app_stack(region, step, done).await,
            StepId::Stack {
                region,
                kind: StackKind::Alarms,
            } => {
                let Some(StepOutput::Stack(app)) = done.get(&app_stack(region)) else {
                    return Err(missing_input(step, "app stack"));
                };
                let request = crate::auto_failover::alarms_request(
                    &self.config,
                    self.region(region)?,
                    &app.app_outputs()?,
                )?;
                self.deploy_stack(region, &request, step).await
            }
            StepId::Stack {
                region,
                kind: StackKind::Recovery,
            } => {
                let request = crate::auto_failover::recovery_request(&self.config);
                self.deploy_stack(region, &request, step).await
            }
            StepId::Replica { region } => self.add_replica(region, step).await,
            StepId::Accelerator => self.prepare_accelerator(step, done).await,
            StepId::EntryPoint => self.ensure_entry_point(step, done).await,
            StepId::Dashboard => self.ensure_dashboard(step, done).await,
            StepId::SeedTable => self.seed_table().await,
            StepId::RemoveStack { region, kind } => self.remove_stack(region, kind, step).await,
        }
    }

    /// Deletes a stack the config no longer asks for, with teardown's deletion (waits until it
    /// is gone, cleans what blocks a failed delete).
    async fn remove_stack(
        &self,
        region: RegionName,
        kind: StackKind,
        step: &str,
    ) -> Result<Finished> {
        let clients = self.clients.get(&region).ok_or_else(|| {
            Error::internal(format!(
                "the deploy plan removes a stack in {region}, which has no clients"
            ))
        })?;
        let stack_name = kind.stack_name(&self.config.app);
        let removed = crate::teardown::removal::delete_stack(
            clients,
            &self.config.app,
            &stack_name,
            &self.events,
            step,
        )
        .await?;
        Ok((StepOutput::Removed, removed.summary(&stack_name)))
    }

    async fn build_images(&self, step: &str) -> Result<Finished> {
        let built = images::build(&self.binaries, &self.events, step).await?;
        let summary = built.summary();
        Ok((StepOutput::Images(Arc::new(built)), summary))
    }

    async fn push_images(&self, region: RegionName, step: &str, done: &Done) -> Result<Finished> {
        let Some(StepOutput::Images(built)) = done.get(&StepId::BuildImages) else {
            return Err(missing_input(step, "built images"));
        };
        let Some(StepOutput::Stack(registry)) = done.get(&StepId::Stack {
            region,
            kind: StackKind::Registry,
        }) else {
            return Err(missing_input(step, "registry stack"));
        };
        let pushed = images::push(
            built,
            registry,
            self.region(region)?,
            self.clients(region)?,
            &self.events,
            step,
        )
        .await?;
        Ok((StepOutput::Pushed(pushed.images), pushed.summary))
    }

    async fn deploy_app_stack(
        &self,
        region: RegionName,
        step: &str,
        done: &Done,
    ) -> Result<Finished> {
        let Some(StepOutput::Pushed(images)) = done.get(&StepId::PushImages { region }) else {
            return Err(missing_input(step, "pushed images"));
        };
        let settings = self.region(region)?;
        // Read right before the stack update: what the region runs now is the floor.
        let running = capacity::read(self.clients(region)?, &self.config.app).await;
        for note in running.notes(&self.config.app, settings) {
            self.events.note(step, note);
        }
        let request = app_request_with(&self.config, settings, images, &running);
        self.deploy_stack(region, &request, step).await
    }

    /// Adds `region`'s replica of the home table. The plan runs these one at a time.
    async fn add_replica(&self, region: RegionName, step: &str) -> Result<Finished> {
        let home = self.config.home();
        let home_clients = self.clients(home.key())?;
        let replica = self.clients(region)?;
        let clients = ReplicaClients {
            primary: &home_clients.dynamodb,
            primary_region: &home.name,
            replica: &replica.dynamodb,
            replica_region: region.as_str(),
            endpoint_override: home_clients.endpoint_url.is_some()
                || replica.endpoint_url.is_some(),
        };
        let report = ensure_replica(
            &clients,
            &self.config.table_name(),
            &self.events,
            step,
            REPLICA_WAIT_LIMIT,
        )
        .await?;
        let summary = format!(
            "replica in {} {}{}",
            report.region,
            report.status,
            if report.created { " (created)" } else { "" }
        );
        Ok((StepOutput::Replica(report), summary))
    }

    async fn ensure_entry_point(&self, step: &str, done: &Done) -> Result<Finished> {
        let mut load_balancers = Vec::new();
        for (region, app) in self
            .config
            .regions()
            .zip(app_stacks(&self.config, done, step)?)
        {
            load_balancers.push(
                // The entry point still takes the transitional role (its module switches later).
                RegionalLoadBalancer::from_app_stack(self.clients(region.key())?, region.home, app)
                    .await?,
            );
        }
        let entry = self.entry_point().await;
        let prepared = match done.get(&StepId::Accelerator) {
            Some(StepOutput::Accelerator(prepared)) => prepared.clone(),
            _ => None,
        };
        let report = crate::entry::ensure_prepared(
            entry,
            prepared,
            &load_balancers,
            &self.events,
            step,
            crate::entry::DEPLOY_WAIT_LIMIT,
        )
        .await?;
        let summary = report.summary();
        Ok((StepOutput::EntryPoint(report), summary))
    }

    async fn prepare_accelerator(&self, step: &str, done: &Done) -> Result<Finished> {
        let home = self.config.home().key();
        let Some(StepOutput::Stack(registry)) = done.get(&StepId::Stack {
            region: home,
            kind: StackKind::Registry,
        }) else {
            return Err(missing_input(step, "home registry stack"));
        };
        let entry = self.entry_point().await;
        let prepared = crate::entry::prepare(entry, &registry.stack_id, &self.events, step).await?;
        let summary = match &prepared {
            Some(prepared) if prepared.actions().is_empty() => {
                format!("accelerator {} in place", self.config.app)
            }
            Some(prepared) => prepared.actions().join(", "),
            None => "not available here".to_string(),
        };
        Ok((StepOutput::Accelerator(prepared), summary))
    }

    async fn ensure_dashboard(&self, step: &str, done: &Done) -> Result<Finished> {
        let app_stacks = app_stacks(&self.config, done, step)?;
        let accelerator = match done.get(&StepId::Accelerator) {
            Some(StepOutput::Accelerator(Some(prepared))) => {
                Some(prepared.accelerator_arn().to_string())
            }
            _ => None,
        };
        let report = crate::dashboard::ensure(
            &self.config,
            &self.clients(self.config.home().key())?.cloudwatch,
            &app_stacks,
            accelerator.as_deref(),
        )
        .await?;
        let summary = format!(
            "dashboard {} {}",
            report.name,
            if report.changed {
                "written"
            } else {
                "unchanged"
            }
        );
        for warning in &report.warnings {
            self.events.note(
                step,
                format!("CloudWatch says about the dashboard: {warning}"),
            );
        }
        Ok((StepOutput::Dashboard(report), summary))
    }

    async fn seed_table(&self) -> Result<Finished> {
        let table = self.config.table_name();
        let home = self.config.home();
        let report = mysfits_catalogue::catalogue::seed_catalogue(
            &self.clients(home.key())?.dynamodb,
            &table,
        )
        .await
        .map_err(|error| Error::Aws {
            operation: "seeding the catalogue".into(),
            region: home.name.clone(),
            message: error.to_string(),
            fix: format!("check that table {table} exists and is ACTIVE, then deploy again"),
        })?;
        // The write region starts as the home region; a control item already there (a move
        // since) is left as it is.
        let write_region = crate::writes::seed(crate::writes::Replica {
            region: &home.name,
            client: &self.clients(home.key())?.dynamodb,
            table: &table,
        })
        .await?;
        let summary = format!(
            "{} mysfits added, {} already there; write region {} (epoch {}{})",
            report.inserted,
            report.already_present,
            write_region.control.write_region,
            write_region.control.epoch,
            if write_region.created { ", new" } else { "" }
        );
        let seeded = StepOutput::Seeded {
            inserted: report.inserted,
            existing: report.already_present,
            write_region,
        };
        Ok((seeded, summary))
    }

    /// The data stack: created with the table, or taking over a table that exists outside it.
    async fn deploy_data_stack(&self, region: RegionName, step: &str) -> Result<Finished> {
        let clients = self.clients(region)?;
        finished_stack(
            crate::stack::data::deploy(&self.config, clients, self.events.clone(), step).await?,
        )
    }

    async fn deploy_stack(
        &self,
        region: RegionName,
        request: &StackRequest,
        step: &str,
    ) -> Result<Finished> {
        let result = StackDeployer::new(
            &self.clients(region)?.cloudformation,
            request,
            self.events.clone(),
            step,
        )
        .deploy()
        .await?;
        finished_stack(result)
    }

    async fn entry_point(&self) -> &EntryPoint {
        self.entry_point
            .get_or_init(|| EntryPoint::new(&self.config, Patience::DEPLOY))
            .await
    }

    fn region(&self, region: RegionName) -> Result<&RegionSettings> {
        self.config.region_of(region).ok_or_else(|| {
            Error::internal(format!(
                "the plan has a step in {region}, which is not configured"
            ))
        })
    }

    fn clients(&self, region: RegionName) -> Result<&RegionClients> {
        self.clients
            .get(&region)
            .ok_or_else(|| Error::internal(format!("no AWS clients were made for {region}")))
    }
}

/// The app stack of every region (in `config.regions()` order), as earlier steps left them.
fn app_stacks<'a>(config: &Config, done: &'a Done, step: &str) -> Result<Vec<&'a StackResult>> {
    config
        .regions()
        .map(|region| match done.get(&app_stack(region.key())) {
            Some(StepOutput::Stack(app)) => Ok(app.as_ref()),
            _ => Err(missing_input(step, "app stack")),
        })
        .collect()
}

fn missing_input(step: &str, what: &str) -> Error {
    Error::internal(format!(
        "deploy step {step} started without its input ({what})"
    ))
}

/// A deployed stack as a step's output and summary.
fn finished_stack(result: StackResult) -> Result<Finished> {
    let summary = if result.changed {
        format!("{} {}", result.stack_name, result.status)
    } else {
        format!("{} unchanged", result.stack_name)
    };
    Ok((StepOutput::Stack(Box::new(result)), summary))
}
