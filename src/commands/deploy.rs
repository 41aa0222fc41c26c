//! `mysfits deploy` and `mysfits plan`: the deploy plan executed, or previewed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;

use super::{print_report, to_json};
use crate::aws::{Patience, RegionClients, aws_error};
use crate::cli::{DeployArgs, OutputFormat};
use crate::config::{Config, Role};
use crate::dashboard::DashboardReport;
use crate::entry::{EntryPoint, EntryReport, RegionalLoadBalancer};
use crate::error::{Error, Result};
use crate::plan::{DeployOptions, Plan, StepId, deploy_plan, execute};
use crate::progress::Events;
use crate::progress::Progress;
use crate::stack::deploy::{Preview, StackDeployer, StackResult, stack_parameters};
use crate::stack::{ServiceImages, StackKind, app_request_with, capacity, registry_request};
use crate::table::{REPLICA_WAIT_LIMIT, ReplicaClients, ReplicaReport, ensure_replica};

mod images;

/// What one finished step hands on to later steps and to the final report.
#[derive(Debug, Clone)]
pub enum StepOutput {
    Images(Arc<images::BuiltImages>),
    Stack(Box<StackResult>),
    Pushed(ServiceImages),
    Replica(ReplicaReport),
    Seeded { inserted: usize, existing: usize },
    EntryPoint(EntryReport),
    Dashboard(DashboardReport),
}

/// Everything the steps share: the config and one set of clients per region.
struct DeployContext {
    config: Config,
    clients: BTreeMap<Role, RegionClients>,
    events: Events,
    prebuilt_binaries: Option<PathBuf>,
}

pub async fn deploy(config: &Config, args: &DeployArgs) -> Result<ExitCode> {
    let options = DeployOptions {
        seed: !args.no_seed,
    };
    let plan = deploy_plan(config, options);
    if args.dry_run {
        return preview(config, &plan).await;
    }
    let clients = RegionClients::for_app(config, Patience::DEPLOY).await;
    let progress = Progress::start();
    let events = progress.events.clone();
    let context = Arc::new(DeployContext {
        config: config.clone(),
        clients: clients.clone(),
        events: events.clone(),
        prebuilt_binaries: args.prebuilt_binaries.clone(),
    });
    let cancellation = crate::plan::Cancellation::new();
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
        async move { context.run(id, step, &done).await }
    })
    .await;
    drop(ctrl_c);
    drop(events);
    drop(context);
    progress.finish().await;
    let outputs = result?;
    let report = DeployReport::new(config, &clients, &outputs).await;
    print_report(config.output, &report, DeployReport::text)?;
    Ok(ExitCode::SUCCESS)
}

/// `mysfits plan`: the steps, then each stack's change set. Exit 0 no changes, 1 changes.
pub async fn plan(config: &Config) -> Result<ExitCode> {
    let plan = deploy_plan(config, DeployOptions { seed: true });
    preview(config, &plan).await
}

async fn preview(config: &Config, plan: &Plan) -> Result<ExitCode> {
    plan.validate()?;
    let clients = RegionClients::for_app(config, Patience::DEPLOY).await;
    let mut previews = Vec::new();
    for region in config.regions() {
        let region_clients = &clients[&region.role];
        for kind in StackKind::ALL {
            // The app stack's real image digests are only known after a build; preview with the
            // deployed ones when there are some, so an unchanged app shows as unchanged.
            let request = match kind {
                StackKind::Registry => registry_request(config, region),
                StackKind::App => app_request_with(
                    config,
                    region,
                    &deployed_images(region_clients, config).await,
                    &capacity::read(region_clients, &config.app).await,
                ),
            };
            let preview = StackDeployer::new(
                &region_clients.cloudformation,
                &request,
                Events::discard(),
                "plan",
            )
            .preview()
            .await?;
            previews.push(StackPreview {
                stack: request.stack_name.clone(),
                region: region.name.clone(),
                preview,
            });
        }
    }
    let changes = previews.iter().any(|preview| preview.preview.has_changes());
    match config.output {
        OutputFormat::Json => println!(
            "{}",
            to_json(
                &serde_json::json!({ "steps": plan.steps, "stacks": previews, "changes": changes })
            )?
        ),
        OutputFormat::Text => {
            println!("Steps:\n{plan}");
            for preview in &previews {
                println!("{} ({}):", preview.stack, preview.region);
                match &preview.preview {
                    Preview::Unchanged => println!("  no changes"),
                    Preview::Recover {
                        status,
                        action,
                        failures,
                    } => {
                        println!("  recover from {status}: {action}");
                        for failure in failures {
                            println!(
                                "    {} {} {}: {}",
                                failure.status,
                                failure.logical_id,
                                failure.resource_type,
                                failure.reason
                            );
                        }
                    }
                    Preview::Create { changes } | Preview::Update { changes } => {
                        let verb = if matches!(preview.preview, Preview::Create { .. }) {
                            "create stack"
                        } else {
                            "update stack"
                        };
                        println!("  {verb}: {} resource change(s)", changes.len());
                        for change in changes {
                            let replacement = match change.replacement.as_deref() {
                                Some("True") => " (replacement)",
                                Some("Conditional") => " (may replace)",
                                _ => "",
                            };
                            println!(
                                "    {:<7} {} {}{replacement}",
                                change.action, change.logical_id, change.resource_type
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(if changes {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Debug, Serialize)]
struct StackPreview {
    stack: String,
    region: String,
    preview: Preview,
}

/// The images the deployed app stack runs now (for previews), or placeholders before the first deploy.
/// The placeholders match the template's image AllowedPattern (`REPOSITORY@sha256:HEX`):
/// CloudFormation checks parameter constraints when it creates a change set, so free text would
/// make `plan` fail on a fresh account.
async fn deployed_images(clients: &RegionClients, config: &Config) -> ServiceImages {
    let stack_name = StackKind::App.stack_name(&config.app);
    let parameters = clients
        .cloudformation
        .describe_stacks()
        .stack_name(&stack_name)
        .send()
        .await
        .ok()
        .and_then(|response| response.stacks().first().map(stack_parameters))
        .unwrap_or_default();
    ServiceImages {
        mysfits: parameters
            .get("MysfitsImage")
            .cloned()
            .unwrap_or_else(|| image_placeholder(&config.app, "mysfits-service")),
        like: parameters
            .get("LikeImage")
            .cloned()
            .unwrap_or_else(|| image_placeholder(&config.app, "like-service")),
    }
}

/// An image reference that is built at deploy: not pullable, but valid for the template.
pub fn image_placeholder(app: &str, service: &str) -> String {
    format!("built-at-deploy/{app}/{service}@sha256:{}", "0".repeat(64))
}

impl DeployContext {
    /// Runs step `id`, labelled `step` in progress and messages.
    async fn run(
        &self,
        id: StepId,
        step: String,
        done: &BTreeMap<StepId, StepOutput>,
    ) -> Result<(StepOutput, String)> {
        match id {
            StepId::BuildImages => {
                let built = images::build(
                    &self.config,
                    self.prebuilt_binaries.as_deref(),
                    &self.events,
                    &step,
                )
                .await?;
                let summary = built.summary();
                Ok((StepOutput::Images(Arc::new(built)), summary))
            }
            StepId::Stack {
                role,
                kind: StackKind::Registry,
            } => {
                let region = self.region(role)?;
                let request = registry_request(&self.config, region);
                self.deploy_stack(role, &request, &step).await
            }
            StepId::PushImages { role } => {
                let Some(StepOutput::Images(built)) = done.get(&StepId::BuildImages) else {
                    return Err(missing_input(&step, "built images"));
                };
                let Some(StepOutput::Stack(registry)) = done.get(&StepId::Stack {
                    role,
                    kind: StackKind::Registry,
                }) else {
                    return Err(missing_input(&step, "registry stack"));
                };
                let region = self.region(role)?;
                let pushed = images::push(
                    built,
                    registry,
                    region,
                    &self.clients[&role],
                    &self.events,
                    &step,
                )
                .await?;
                Ok((StepOutput::Pushed(pushed.images), pushed.summary))
            }
            StepId::Stack {
                role,
                kind: StackKind::App,
            } => {
                let Some(StepOutput::Pushed(images)) = done.get(&StepId::PushImages { role })
                else {
                    return Err(missing_input(&step, "pushed images"));
                };
                let region = self.region(role)?;
                // Read right before the stack update: what the region runs now is the floor.
                let running = capacity::read(&self.clients[&role], &self.config.app).await;
                for note in running.notes(&self.config.app, region) {
                    self.events.note(&step, note);
                }
                let request = app_request_with(&self.config, region, images, &running);
                self.deploy_stack(role, &request, &step).await
            }
            StepId::Replica { role } => {
                let region = self.region(role)?;
                let primary = &self.clients[&Role::Primary];
                let replica = &self.clients[&role];
                let clients = ReplicaClients {
                    primary: &primary.dynamodb,
                    primary_region: &self.config.primary().name,
                    replica: &replica.dynamodb,
                    replica_region: &region.name,
                    endpoint_override: primary.endpoint_url.is_some()
                        || replica.endpoint_url.is_some(),
                };
                let report = ensure_replica(
                    &clients,
                    &self.config.table_name(),
                    &self.events,
                    &step,
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
            StepId::EntryPoint => {
                let mut load_balancers = Vec::new();
                let apps = app_stacks(&self.config, done, &step)?;
                for (region, app) in self.config.regions().zip(apps) {
                    load_balancers.push(
                        RegionalLoadBalancer::from_app_stack(
                            &self.clients[&region.role],
                            region.home,
                            app,
                        )
                        .await?,
                    );
                }
                let entry = EntryPoint::new(&self.config, Patience::DEPLOY).await;
                let report = crate::entry::ensure(
                    &entry,
                    &load_balancers,
                    &self.events,
                    &step,
                    crate::entry::DEPLOY_WAIT_LIMIT,
                )
                .await?;
                let summary = report.summary();
                Ok((StepOutput::EntryPoint(report), summary))
            }
            StepId::Dashboard => {
                let app_stacks = app_stacks(&self.config, done, &step)?;
                let accelerator = match done.get(&StepId::EntryPoint) {
                    Some(StepOutput::EntryPoint(entry))
                        if matches!(
                            self.config.entry_point.mode,
                            crate::config::EntryPointMode::GlobalAccelerator
                        ) =>
                    {
                        entry
                            .state
                            .description()
                            .map(|description| description.id.clone())
                    }
                    _ => None,
                };
                let report = crate::dashboard::ensure(
                    &self.config,
                    &self.clients[&Role::Primary].cloudwatch,
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
                        &step,
                        format!("CloudWatch says about the dashboard: {warning}"),
                    );
                }
                Ok((StepOutput::Dashboard(report), summary))
            }
            StepId::SeedTable => {
                let table = self.config.table_name();
                let report = mysfits_service::catalogue::seed_catalogue(
                    &self.clients[&Role::Primary].dynamodb,
                    &table,
                )
                .await
                .map_err(|error| Error::Aws {
                    operation: "seeding the catalogue".into(),
                    region: self.config.primary().name.clone(),
                    message: error.to_string(),
                    fix: format!(
                        "check that table {table} exists and is ACTIVE, then deploy again"
                    ),
                })?;
                let summary = format!(
                    "{} mysfits added, {} already there",
                    report.inserted, report.already_present
                );
                Ok((
                    StepOutput::Seeded {
                        inserted: report.inserted,
                        existing: report.already_present,
                    },
                    summary,
                ))
            }
        }
    }

    async fn deploy_stack(
        &self,
        role: Role,
        request: &crate::stack::StackRequest,
        step: &str,
    ) -> Result<(StepOutput, String)> {
        let result = StackDeployer::new(
            &self.clients[&role].cloudformation,
            request,
            self.events.clone(),
            step,
        )
        .deploy()
        .await?;
        let summary = if result.changed {
            format!("{} {}", result.stack_name, result.status)
        } else {
            format!("{} unchanged", result.stack_name)
        };
        Ok((StepOutput::Stack(Box::new(result)), summary))
    }

    fn region(&self, role: Role) -> Result<&crate::config::RegionSettings> {
        self.config.region(role).ok_or_else(|| {
            Error::config(
                format!("the plan has a {role} step but no {role} region is configured"),
                "pass --secondary-region",
            )
        })
    }
}

/// The app stack of every region (in `config.regions()` order), as earlier steps left them.
fn app_stacks<'a>(
    config: &Config,
    done: &'a BTreeMap<StepId, StepOutput>,
    step: &str,
) -> Result<Vec<&'a StackResult>> {
    config
        .regions()
        .map(|region| {
            match done.get(&StepId::Stack {
                role: region.role,
                kind: StackKind::App,
            }) {
                Some(StepOutput::Stack(app)) => Ok(app.as_ref()),
                _ => Err(missing_input(step, "app stack")),
            }
        })
        .collect()
}

fn missing_input(step: &str, what: &str) -> Error {
    Error::internal(format!(
        "deploy step {step} started without its input ({what})"
    ))
}

/// The result of a deploy, for people (text) and programs (`--output json`).
#[derive(Debug, Serialize)]
pub struct DeployReport {
    pub app: String,
    pub changed: bool,
    pub regions: Vec<RegionReport>,
    pub table: String,
    pub replica: Option<ReplicaReport>,
    pub seed: Option<SeedReport>,
    pub entry_point: Option<EntryReport>,
    pub dashboard: Option<DashboardReport>,
}

#[derive(Debug, Serialize)]
pub struct RegionReport {
    pub region: String,
    pub role: Role,
    pub url: Option<String>,
    pub stacks: Vec<StackSummary>,
    pub images: Option<ServiceImages>,
}

#[derive(Debug, Serialize)]
pub struct StackSummary {
    pub name: String,
    pub id: String,
    pub status: String,
    pub changed: bool,
}

#[derive(Debug, Serialize)]
pub struct SeedReport {
    pub inserted: usize,
    pub existing: usize,
}

impl DeployReport {
    async fn new(
        config: &Config,
        clients: &BTreeMap<Role, RegionClients>,
        outputs: &BTreeMap<StepId, StepOutput>,
    ) -> DeployReport {
        let mut regions = Vec::new();
        let mut changed = false;
        for region in config.regions() {
            let mut stacks = Vec::new();
            let mut url = None;
            for kind in StackKind::ALL {
                if let Some(StepOutput::Stack(result)) = outputs.get(&StepId::Stack {
                    role: region.role,
                    kind,
                }) {
                    changed |= result.changed;
                    stacks.push(StackSummary {
                        name: result.stack_name.clone(),
                        id: result.stack_id.clone(),
                        status: result.status.clone(),
                        changed: result.changed,
                    });
                    if kind == StackKind::App {
                        url = load_balancer_url(&clients[&region.role], result).await;
                    }
                }
            }
            let images = match outputs.get(&StepId::PushImages { role: region.role }) {
                Some(StepOutput::Pushed(images)) => Some(images.clone()),
                _ => None,
            };
            regions.push(RegionReport {
                region: region.name.clone(),
                role: region.role,
                url,
                stacks,
                images,
            });
        }
        let replica = outputs.values().find_map(|output| match output {
            StepOutput::Replica(report) => Some(report.clone()),
            _ => None,
        });
        changed |= replica.as_ref().is_some_and(|replica| replica.created);
        let seed = outputs.values().find_map(|output| match output {
            StepOutput::Seeded { inserted, existing } => Some(SeedReport {
                inserted: *inserted,
                existing: *existing,
            }),
            _ => None,
        });
        changed |= seed.as_ref().is_some_and(|seed| seed.inserted > 0);
        let entry_point = outputs.values().find_map(|output| match output {
            StepOutput::EntryPoint(report) => Some(report.clone()),
            _ => None,
        });
        changed |= entry_point.as_ref().is_some_and(|entry| entry.changed);
        let dashboard = outputs.values().find_map(|output| match output {
            StepOutput::Dashboard(report) => Some(report.clone()),
            _ => None,
        });
        changed |= dashboard
            .as_ref()
            .is_some_and(|dashboard| dashboard.changed);
        DeployReport {
            app: config.app.clone(),
            changed,
            regions,
            table: config.table_name(),
            replica,
            seed,
            entry_point,
            dashboard,
        }
    }

    fn text(&self) -> String {
        let mut text = String::new();
        text.push_str(&format!(
            "{} {}\n",
            self.app,
            if self.changed {
                "deployed"
            } else {
                "is up to date (no changes)"
            }
        ));
        for region in &self.regions {
            text.push_str(&format!(
                "  {} ({}): {}\n",
                region.region,
                region.role,
                region.url.as_deref().unwrap_or("no endpoint yet")
            ));
        }
        if let Some(replica) = &self.replica {
            text.push_str(&format!(
                "  table {} replica in {}: {}\n",
                self.table, replica.region, replica.status
            ));
        }
        if let Some(entry) = &self.entry_point {
            text.push_str(&format!(
                "  global entry point: {}\n",
                entry.state.summary(&entry.mode)
            ));
        }
        if let Some(dashboard) = &self.dashboard {
            text.push_str(&format!("  dashboard: {}\n", dashboard.url));
        }
        text
    }
}

/// `http://<ALB DNS name>` of an app stack: from its output, or from the load balancer itself when
/// the stack reports no outputs.
pub async fn load_balancer_url(clients: &RegionClients, app: &StackResult) -> Option<String> {
    if let Some(url) = app.outputs.get("LoadBalancerUrl") {
        return Some(url.clone());
    }
    let arn = app.value("LoadBalancerArn", "LoadBalancer")?;
    let described = clients
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await
        .map_err(|error| {
            tracing::debug!(
                "{}",
                aws_error("DescribeLoadBalancers", &clients.region, &error)
            )
        })
        .ok()?;
    described
        .load_balancers()
        .first()
        .and_then(|balancer| balancer.dns_name())
        .map(|dns| format!("http://{dns}"))
}
