//! `mysfits teardown`: confirm, remove everything the app created in every region (the teardown
//! plan), verify nothing is left, report.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use super::print_report;
use crate::cli::TeardownArgs;
use crate::config::Config;
use crate::error::{EXIT_ERROR, Error, Result};
use crate::plan::Cancellation;
use crate::progress::Progress;
use crate::stack::StackKind;
use crate::teardown::{Teardown, TeardownOptions, TeardownReport};

pub async fn run(config: &Config, args: &TeardownArgs) -> Result<ExitCode> {
    let options = TeardownOptions {
        keep_data: args.keep_data,
    };
    refuse_without_terminal(config, options)?;
    // Who is about to delete, shown before the prompt asks for the app's name.
    super::identity_first(config, None, super::Banner::AlsoOnTerminal).await?;
    confirm(config, options).await?;
    let progress = Progress::start();
    let cancellation = Cancellation::new();
    let ctrl_c = cancellation.on_ctrl_c(&progress.events, "teardown");
    let teardown = Teardown::connect(config, options, progress.events.clone()).await;
    let report = teardown.run(&cancellation).await;
    drop(ctrl_c);
    progress.finish().await;
    let report = report?;
    print_report(config.output, &report, text)?;
    if report.interrupted {
        return Err(Error::Interrupted);
    }
    if report.complete {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("error: {}", incomplete(&report));
    Ok(ExitCode::from(EXIT_ERROR))
}

/// What teardown is about to do, as the prompt states it: every region by name.
pub fn prompt_text(config: &Config, options: TeardownOptions) -> String {
    let app = &config.app;
    let table = config.table_name();
    let home = &config.home().name;
    let regions: Vec<String> = config
        .regions()
        .map(|region| {
            let role = crate::app::region::standing(region.home);
            format!("{} ({role})", region.name)
        })
        .collect();
    let mut text = format!("This deletes app `{app}` everywhere it runs:\n");
    text.push_str(&format!(
        "  - global entry point: Global Accelerator and Route 53 failover records tagged mysfits:app={app}\n"
    ));
    text.push_str(&format!(
        "  - CloudWatch dashboard `{}` in {home}\n",
        crate::app::names::dashboard(app)
    ));
    text.push_str(&format!(
        "  - in {}: ECS services, ECR images, stacks {} and {} (network, load balancer, cluster, logs, repositories)\n",
        and_list(&regions),
        StackKind::App.stack_name(app),
        StackKind::Registry.stack_name(app)
    ));
    let others: Vec<String> = config.others().map(|region| region.name.clone()).collect();
    if !others.is_empty() {
        let replicas = if others.len() == 1 {
            "the replica"
        } else {
            "the replicas"
        };
        text.push_str(&format!(
            "  - {replicas} of table {table} in {}\n",
            and_list(&others)
        ));
    }
    if options.keep_data {
        text.push_str(&format!(
            "  - table {table} in {home} is KEPT with its data (--keep-data; no backup is taken)\n"
        ));
    } else {
        text.push_str(&format!(
            "  - table {table} in {home}: an on-demand backup is taken first (kept until you delete it), then the table is deleted; pass --keep-data to keep the table instead\n"
        ));
    }
    text
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [first @ .., last] => format!("{} and {last}", first.join(", ")),
    }
}

/// Without --yes the confirmation needs a terminal: refused before anything else happens.
fn refuse_without_terminal(config: &Config, options: TeardownOptions) -> Result<()> {
    if !config.assume_yes && !std::io::stdin().is_terminal() {
        return Err(Error::config(
            "teardown needs a confirmation, and stdin is not a terminal to ask on",
            format!(
                "run it in a terminal, or pass --yes to confirm deleting app `{}`{}",
                config.app,
                if options.keep_data {
                    ""
                } else {
                    " (its table is backed up first)"
                }
            ),
        ));
    }
    Ok(())
}

/// Asks for the app's name on a terminal (unless --yes was given).
async fn confirm(config: &Config, options: TeardownOptions) -> Result<()> {
    if config.assume_yes {
        return Ok(());
    }
    let prompt = format!(
        "{}Type the app name ({}) to confirm: ",
        prompt_text(config, options),
        config.app
    );
    let answer = tokio::task::spawn_blocking(move || {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(prompt.as_bytes());
        let _ = stderr.flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|error| Error::config(format!("the prompt failed: {error}"), "pass --yes"))?
    .map_err(|error| Error::io("reading the confirmation from stdin", error))?;
    if answer.trim() == config.app {
        Ok(())
    } else {
        Err(Error::config(
            format!(
                "teardown cancelled: the answer {:?} is not the app name {:?}; nothing was deleted",
                answer.trim(),
                config.app
            ),
            "run teardown again and type the app name exactly, or pass --yes",
        ))
    }
}

fn text(report: &TeardownReport) -> String {
    let mut text = String::new();
    if report.complete && report.unverified.is_empty() {
        text.push_str(&format!(
            "{}: teardown complete, verified: nothing of the app is left\n",
            report.app
        ));
    } else if report.complete {
        text.push_str(&format!(
            "{}: teardown complete, verified: nothing of the app is left where it could be checked (see NOT CHECKED)\n",
            report.app
        ));
    } else if report.interrupted {
        text.push_str(&format!("{}: teardown interrupted\n", report.app));
    } else {
        text.push_str(&format!("{}: teardown INCOMPLETE\n", report.app));
    }
    for step in &report.steps {
        if let Some(error) = &step.error {
            text.push_str(&format!(
                "  failed: {}: {}\n",
                step.label,
                error.replace('\n', "\n    ")
            ));
        } else if step.status != "done" {
            text.push_str(&format!("  {}: {}\n", step.status, step.label));
        }
    }
    if let Some(backup) = &report.backup {
        text.push_str(&format!(
            "  backup of {} in {}: {} ({})\n",
            backup.table, backup.region, backup.name, backup.arn
        ));
    }
    for kept in &report.kept {
        text.push_str(&format!(
            "  kept (--keep-data): {} {} in {}\n",
            kept.kind, kept.id, kept.region
        ));
    }
    if !report.remaining.is_empty() {
        text.push_str("  still there:\n");
        for found in &report.remaining {
            text.push_str(&format!(
                "    {:<10} {:<16} {}\n",
                found.region, found.kind, found.id
            ));
        }
    }
    for unverified in &report.unverified {
        text.push_str(&format!(
            "  NOT CHECKED: {} ({}): {}\n",
            unverified.what, unverified.region, unverified.reason
        ));
    }
    text
}

fn incomplete(report: &TeardownReport) -> String {
    let failed = report
        .steps
        .iter()
        .filter(|step| step.status == "failed")
        .count();
    let unchecked = report
        .unverified
        .iter()
        .filter(|unverified| !unverified.service_unavailable)
        .count();
    format!(
        "teardown of {} is incomplete: {} resource(s) still there, {failed} step(s) failed, {unchecked} check(s) could not be made\n  fix: see the list above; fix what the failed steps name and run `mysfits teardown` again (it picks up what is left)",
        report.app,
        report.remaining.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::GlobalArgs;
    use crate::config::ConfigFile;

    fn config(regions: &[&str]) -> Config {
        let global = GlobalArgs {
            regions: regions.iter().map(|region| region.to_string()).collect(),
            app: Some("demo".into()),
            ..GlobalArgs::default()
        };
        Config::resolve(&global, ConfigFile::default()).expect("valid config")
    }

    #[test]
    fn the_prompt_names_both_regions_and_the_replica() {
        let text = prompt_text(
            &config(&["us-east-1", "us-west-2"]),
            TeardownOptions::default(),
        );
        assert!(
            text.contains("  - in us-east-1 (primary) and us-west-2 (secondary): ECS services, ECR images, stacks demo-app and demo-registry"),
            "{text}"
        );
        assert!(
            text.contains("  - the replica of table demo-mysfits in us-west-2\n"),
            "{text}"
        );
        assert!(
            text.contains("CloudWatch dashboard `demo` in us-east-1"),
            "{text}"
        );
    }

    #[test]
    fn the_prompt_names_every_region_and_every_replica() {
        let text = prompt_text(
            &config(&["us-east-1", "us-west-2", "eu-west-1"]),
            TeardownOptions { keep_data: true },
        );
        assert!(
            text.contains(
                "  - in us-east-1 (primary), us-west-2 (secondary) and eu-west-1 (secondary): "
            ),
            "{text}"
        );
        assert!(
            text.contains("  - the replicas of table demo-mysfits in us-west-2 and eu-west-1\n"),
            "{text}"
        );
        assert!(
            text.contains("table demo-mysfits in us-east-1 is KEPT"),
            "{text}"
        );
    }

    #[test]
    fn one_region_has_no_replica_to_name() {
        let text = prompt_text(&config(&["us-east-1"]), TeardownOptions::default());
        assert!(!text.contains("replica"), "{text}");
        assert!(text.contains("  - in us-east-1 (primary): "), "{text}");
    }
}
