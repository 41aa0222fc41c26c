//! `mysfits dashboard create|show|delete`: the multi-region CloudWatch dashboard, in the home
//! region, graphing every region.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::SystemTime;

use serde::Serialize;

use super::{print_report, to_json};
use crate::app::region::standing;
use crate::aws::{Patience, RegionClients};
use crate::cli::{DashboardCommand, OutputFormat};
use crate::config::Config;
use crate::dashboard::show::{RegionView, Window, render_text, views};
use crate::dashboard::targets::read_app_stack;
use crate::dashboard::{
    AcceleratorLookup, DashboardReport, console_url, dashboard_name, delete, deployed_body, ensure,
    find_accelerator,
};
use crate::entry::EntryPoint;
use crate::error::{Error, Result};
use crate::stack::StackKind;

pub async fn run(config: &Config, command: &DashboardCommand) -> Result<ExitCode> {
    if !matches!(command, DashboardCommand::Delete) {
        super::identity_first(config, None, super::Banner::Verbose).await?;
    }
    match command {
        DashboardCommand::Create => create(config).await,
        DashboardCommand::Show(args) => show(config, args.minutes).await,
        DashboardCommand::Delete => remove(config).await,
    }
}

async fn create(config: &Config) -> Result<ExitCode> {
    let mut home_cloudwatch = None;
    let mut stacks = Vec::new();
    for region in config.regions() {
        let clients = RegionClients::for_region(config, region, Patience::DEPLOY).await;
        match read_app_stack(&clients.cloudformation, &config.app, &region.name).await? {
            Some(stack) => stacks.push(stack),
            None => {
                return Err(Error::config(
                    format!(
                        "stack {} not found in {} ({}): the dashboard has nothing to graph there",
                        StackKind::App.stack_name(&config.app),
                        region.name,
                        standing(region.home)
                    ),
                    "run `mysfits deploy` first, then `mysfits dashboard create`",
                ));
            }
        }
        if region.home {
            home_cloudwatch = Some(clients.cloudwatch);
        }
    }
    let home_cloudwatch =
        home_cloudwatch.ok_or_else(|| Error::internal("the configuration has no home region"))?;
    let entry = EntryPoint::new(config, Patience::IMPATIENT).await;
    let accelerator = match find_accelerator(&entry).await {
        AcceleratorLookup::Found(accelerator) => Some(accelerator.arn),
        AcceleratorLookup::Absent => None,
        AcceleratorLookup::Unknown(reason) => {
            eprintln!(
                "note: Global Accelerator could not be checked ({reason}); the dashboard leaves out its flows"
            );
            None
        }
    };
    let stack_refs: Vec<_> = stacks.iter().collect();
    let report = ensure(
        config,
        &home_cloudwatch,
        &stack_refs,
        accelerator.as_deref(),
    )
    .await?;
    print_report(config.output, &report, create_text)?;
    Ok(ExitCode::SUCCESS)
}

fn create_text(report: &DashboardReport) -> String {
    let mut text = format!(
        "dashboard {} in {} {} (regions: {}{})\n{}\n",
        report.name,
        report.region,
        if report.changed {
            "written"
        } else {
            "unchanged"
        },
        report.regions.join(", "),
        if report.accelerator.is_some() {
            ", Global Accelerator"
        } else {
            ""
        },
        report.url
    );
    for warning in &report.warnings {
        text.push_str(&format!("warning: {warning}\n"));
    }
    text
}

#[derive(Debug, Serialize)]
struct ShowReport {
    dashboard: String,
    region: String,
    /// False when `dashboard create` has not run (the metrics exist regardless).
    dashboard_exists: bool,
    url: String,
    window: Window,
    regions: Vec<RegionView>,
}

async fn show(config: &Config, minutes: u32) -> Result<ExitCode> {
    let window = Window::last(minutes, SystemTime::now());
    // A region in trouble must not hold up the view of the other one: impatient clients.
    let mut clients = Vec::new();
    for region in config.regions() {
        clients.push((
            region.clone(),
            RegionClients::for_region(config, region, Patience::IMPATIENT).await,
        ));
    }
    let name = dashboard_name(config);
    let home = &config.home().name;
    // Regions are in the configured order: home is the first.
    let home_cloudwatch = &clients[0].1.cloudwatch;
    let (exists, regions) = futures::join!(
        deployed_body(home_cloudwatch, &name, home),
        views(config, &clients, window)
    );
    let report = ShowReport {
        dashboard: name.clone(),
        region: home.clone(),
        dashboard_exists: matches!(exists, Ok(Some(_))),
        url: console_url(home, &name),
        window,
        regions,
    };
    if report.regions.iter().all(|region| region.problem.is_some()) {
        let problems: Vec<String> = report
            .regions
            .iter()
            .filter_map(|region| {
                region
                    .problem
                    .as_ref()
                    .map(|problem| format!("{}: {problem}", region.region))
            })
            .collect();
        return Err(Error::config(
            format!("no region could be shown:\n  {}", problems.join("\n  ")),
            "deploy the app with `mysfits deploy`, or check the endpoints and credentials",
        ));
    }
    match config.output {
        OutputFormat::Json => super::write_stdout(&format!("{}\n", to_json(&report)?))?,
        OutputFormat::Text => {
            let note = if report.dashboard_exists {
                report.url.clone()
            } else {
                "(the dashboard itself is not created yet: `mysfits dashboard create`)".to_string()
            };
            super::write_stdout(&format!(
                "dashboard {} in {}: {note}\n{}",
                report.dashboard,
                report.region,
                render_text(&report.regions, window)
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn remove(config: &Config) -> Result<ExitCode> {
    let name = dashboard_name(config);
    let region = &config.home().name;
    if !config.assume_yes {
        confirm(&format!("Delete dashboard {name} in {region}?")).await?;
    }
    super::identity_first(config, None, super::Banner::Verbose).await?;
    let clients = RegionClients::for_region(config, config.home(), Patience::DEPLOY).await;
    let deleted = delete(config, &clients.cloudwatch).await?;
    match config.output {
        OutputFormat::Json => super::write_stdout(&format!(
            "{}\n",
            to_json(
                &serde_json::json!({ "dashboard": name, "region": region, "deleted": deleted })
            )?
        ))?,
        OutputFormat::Text if deleted => {
            super::write_stdout(&format!("dashboard {name} in {region} deleted\n"))?
        }
        OutputFormat::Text => super::write_stdout(&format!(
            "dashboard {name} in {region} does not exist; nothing to delete\n"
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; without one, refuses rather than guessing.
async fn confirm(question: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::config(
            format!("{question} needs a confirmation, and there is no terminal to ask on"),
            "pass --yes to confirm",
        ));
    }
    eprint!("{question} [y/N] ");
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|error| Error::io("reading the answer", std::io::Error::other(error)))?
    .map_err(|error| Error::io("reading the answer", error))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(Error::config(
            "not confirmed: nothing was deleted",
            "answer y, or pass --yes",
        ))
    }
}
