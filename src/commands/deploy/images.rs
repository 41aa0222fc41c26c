//! The image steps of deploy: build once, push to each region's registry (crate::image). The plan
//! runs one push step per region, concurrently; all push the same bytes, so the digests match.

use crate::app;
use crate::aws::RegionClients;
use crate::cli::DeployArgs;
use crate::config::RegionSettings;
use crate::error::{Error, Result};
use crate::image::push::{Destination, push_images, short_digest};
use crate::image::{self, BinaryOrigin, BinaryRequest, Image, PushReport};
use crate::progress::Events;
use crate::stack::ServiceImages;
use crate::stack::deploy::StackResult;

#[derive(Debug)]
pub struct BuiltImages {
    pub images: Vec<Image>,
}

impl BuiltImages {
    pub fn summary(&self) -> String {
        self.images
            .iter()
            .map(|image| {
                format!(
                    "{} {} {}",
                    image.service,
                    short_digest(image.digest()),
                    image::human_bytes(image.compressed_size())
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub struct Pushed {
    pub images: ServiceImages,
    pub summary: String,
}

/// Where this deploy's service binaries come from; decided before anything is deployed, so a
/// machine with none refuses at once.
pub fn choose_binaries(args: &DeployArgs) -> Result<BinaryOrigin> {
    Ok(image::source::choose_for_this_process(&BinaryRequest {
        prebuilt: args.prebuilt_binaries.clone(),
        from_source: args.from_source.clone(),
    })?)
}

pub async fn build(origin: &BinaryOrigin, events: &Events, step: &str) -> Result<BuiltImages> {
    let images = image::build_service_images(origin, events, step).await?;
    Ok(BuiltImages { images })
}

/// Pushes the built images to the repositories the region's registry stack made (one per
/// service, [`crate::app::Service::repository_uri_output`]).
pub async fn push(
    built: &BuiltImages,
    registry: &StackResult,
    region: &RegionSettings,
    clients: &RegionClients,
    events: &Events,
    step: &str,
) -> Result<Pushed> {
    let repositories = registry.registry_outputs()?;
    let mut uris = Vec::new();
    for image in &built.images {
        let repository = app::services::named(image.service)
            .and_then(|service| repositories.repository(service))
            .ok_or_else(|| {
                Error::internal(format!(
                    "no registry repository is declared for {}",
                    image.service
                ))
            })?;
        let uri = if crate::aws::ecr::is_repository_uri(repository) {
            repository.to_string()
        } else {
            crate::aws::ecr::repository_uri(&clients.ecr, &region.name, repository).await?
        };
        uris.push(uri);
    }
    let reports = push_to_region(
        &built.images,
        &uris,
        region.registry_url.as_deref(),
        &clients.ecr,
        &region.name,
        events,
        step,
    )
    .await?;
    Ok(Pushed {
        images: service_images(&reports)?,
        summary: image::push_summary(&reports),
    })
}

fn service_images(reports: &[PushReport]) -> Result<ServiceImages> {
    ServiceImages::try_from_fn(|service| {
        reports
            .iter()
            .find(|report| report.service == service.name)
            .map(|report| report.image.clone())
            .ok_or_else(|| Error::internal(format!("no image of {service} was pushed")))
    })
}

/// Pushes the images to one region: credentials from ECR, then each image to its repository
/// (`repository_uris` in the order of `images`), or to the same path in `registry_url`.
pub async fn push_to_region(
    images: &[Image],
    repository_uris: &[String],
    registry_url: Option<&str>,
    ecr: &aws_sdk_ecr::Client,
    region: &str,
    events: &Events,
    step: &str,
) -> Result<Vec<PushReport>> {
    let destinations = repository_uris
        .iter()
        .map(|uri| Destination::new(uri, registry_url))
        .collect::<Result<Vec<_>, _>>()?;
    let credentials = crate::aws::ecr::registry_credentials(ecr, region).await?;
    let images: Vec<&Image> = images.iter().collect();
    Ok(push_images(&images, &destinations, &credentials, events, step).await?)
}
