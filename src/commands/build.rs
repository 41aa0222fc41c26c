//! `mysfits build [--push]`: the service images, built without a Docker engine; with `--push`,
//! pushed to ECR in every region of the app at the same time. Without `--push`
//! nothing talks to AWS.

use std::process::ExitCode;
use std::time::Instant;

use futures::future::join_all;
use serde::Serialize;

use super::print_report;
use crate::aws::{Patience, RegionClients};
use crate::cli::BuildArgs;
use crate::config::{Config, RegionSettings};
use crate::error::{Error, Result};
use crate::image::{self, BinaryRequest, Image, ImageSummary, PushReport, human_bytes};
use crate::progress::Progress;
use crate::progress::{Event, Events, elapsed_ms};

#[derive(Debug, Serialize)]
struct BuildReport {
    images: Vec<ImageSummary>,
    pushes: Vec<RegionPush>,
}

#[derive(Debug, Serialize)]
struct RegionPush {
    region: String,
    /// The home region (the table's origin and the dashboard).
    home: bool,
    images: Vec<PushReport>,
}

pub async fn run(config: &Config, args: &BuildArgs) -> Result<ExitCode> {
    if args.push {
        // Before the build, which can take minutes: credentials that cannot push fail now.
        super::identity_first(config, None, super::Banner::Verbose).await?;
    }
    let progress = Progress::start();
    let result = build_and_push(config, args, &progress.events).await;
    progress.finish().await;
    let report = result?;
    print_report(config.output, &report, text)?;
    Ok(ExitCode::SUCCESS)
}

async fn build_and_push(config: &Config, args: &BuildArgs, events: &Events) -> Result<BuildReport> {
    let step = "build service images";
    let origin = image::source::choose_for_this_process(&BinaryRequest {
        prebuilt: args.prebuilt_binaries.clone(),
        from_source: args.from_source.clone(),
    })?;
    let images = run_step(events, step, async {
        let images = image::build_service_images(&origin, events, step).await?;
        let summary = images
            .iter()
            .map(|image| format!("{} {}", image.service, human_bytes(image.compressed_size())))
            .collect::<Vec<_>>()
            .join(", ");
        Ok((images, summary))
    })
    .await?;
    let mut pushes = Vec::new();
    if args.push {
        let results = join_all(
            config
                .regions()
                .map(|region| push_region(config, region, &images, events)),
        )
        .await;
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok(push) => pushes.push(push),
                Err(error) => errors.push(error),
            }
        }
        match errors.len() {
            0 => {}
            1 => return Err(errors.remove(0)),
            _ => return Err(Error::Many(errors)),
        }
    }
    Ok(BuildReport {
        images: images.iter().map(Image::summary).collect(),
        pushes,
    })
}

async fn push_region(
    config: &Config,
    region: &RegionSettings,
    images: &[Image],
    events: &Events,
) -> Result<RegionPush> {
    let step = format!("push images {}", region.name);
    let reports = run_step(events, &step, async {
        let clients = RegionClients::for_region(config, region, Patience::DEPLOY).await;
        let mut uris = Vec::new();
        for image in images {
            let service = crate::app::services::named(image.service).ok_or_else(|| {
                Error::internal(format!("{} is not a bundled service", image.service))
            })?;
            let name = crate::app::names::repository(&config.app, service);
            uris.push(crate::aws::ecr::repository_uri(&clients.ecr, &region.name, &name).await?);
        }
        let reports = crate::commands::deploy::push_to_region(
            images,
            &uris,
            region.registry_url.as_deref(),
            &clients.ecr,
            &region.name,
            events,
            &step,
        )
        .await?;
        let summary = image::push_summary(&reports);
        Ok((reports, summary))
    })
    .await?;
    Ok(RegionPush {
        region: region.name.clone(),
        home: region.home,
        images: reports,
    })
}

/// Runs one step with started/finished/failed events around it.
async fn run_step<T>(
    events: &Events,
    step: &str,
    work: impl Future<Output = Result<(T, String)>>,
) -> Result<T> {
    events.emit(Event::StepStarted {
        step: step.to_string(),
    });
    let started = Instant::now();
    match work.await {
        Ok((value, summary)) => {
            events.emit(Event::StepFinished {
                step: step.to_string(),
                summary,
                elapsed_ms: elapsed_ms(started.elapsed()),
            });
            Ok(value)
        }
        Err(error) => {
            events.emit(Event::StepFailed {
                step: step.to_string(),
                error: error.to_string(),
            });
            Err(error)
        }
    }
}

fn text(report: &BuildReport) -> String {
    let mut text = String::new();
    for image in &report.images {
        text.push_str(&format!(
            "{:<16} {}  {:>8}\n",
            image.service,
            image.digest,
            human_bytes(image.compressed_bytes)
        ));
    }
    for push in &report.pushes {
        text.push_str(&format!(
            "{}{}:\n",
            push.region,
            if push.home { " (home)" } else { "" }
        ));
        for image in &push.images {
            let what = if image.already_present {
                "already present".to_string()
            } else {
                format!(
                    "pushed, {} uploaded, {} already there",
                    human_bytes(image.bytes_uploaded),
                    human_bytes(image.bytes_skipped)
                )
            };
            text.push_str(&format!("  {}  {what}\n", image.image));
        }
    }
    text
}
