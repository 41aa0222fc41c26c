//! The image steps of deploy: build once, push to each region's registry (crate::image). The plan
//! runs one push step per region, concurrently; both push the same bytes, so the digests match.

use crate::aws::RegionClients;
use crate::config::{Config, RegionSettings};
use crate::error::{Error, Result};
use crate::image::{self, Image, PushReport, push::short_digest};
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

pub async fn build(
    _config: &Config,
    prebuilt: Option<&std::path::Path>,
    events: &Events,
    step: &str,
) -> Result<BuiltImages> {
    let images = image::build_service_images(prebuilt, events, step).await?;
    Ok(BuiltImages { images })
}

/// The registry stack's output (or, where outputs are missing, its repository's physical id,
/// which is the repository name) for each service, in the order of `image::SERVICES`.
const REPOSITORY_OUTPUTS: [(&str, &str, &str); 2] = [
    (
        "mysfits-service",
        "MysfitsRepositoryUri",
        "MysfitsRepository",
    ),
    ("like-service", "LikeRepositoryUri", "LikeRepository"),
];

pub async fn push(
    built: &BuiltImages,
    registry: &StackResult,
    region: &RegionSettings,
    clients: &RegionClients,
    events: &Events,
    step: &str,
) -> Result<Pushed> {
    let mut uris = Vec::new();
    for image in &built.images {
        let (_, output, logical_id) = REPOSITORY_OUTPUTS
            .iter()
            .find(|(service, _, _)| *service == image.service)
            .ok_or_else(|| {
                Error::internal(format!(
                    "no registry repository is declared for {}",
                    image.service
                ))
            })?;
        let value = registry.value(output, logical_id).ok_or_else(|| {
            Error::config(
                format!(
                    "stack {} in {} has neither output {output} nor resource {logical_id}",
                    registry.stack_name, registry.region
                ),
                "check templates/registry.yaml declares them, then run `mysfits deploy` again",
            )
        })?;
        let uri = if image::ecr::is_repository_uri(value) {
            value.to_string()
        } else {
            image::ecr::repository_uri(&clients.ecr, &region.name, value).await?
        };
        uris.push(uri);
    }
    let reports = image::push_to_region(
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
    let reference = |service: &str| {
        reports
            .iter()
            .find(|report| report.service == service)
            .map(|report| report.image.clone())
            .ok_or_else(|| Error::internal(format!("no image of {service} was pushed")))
    };
    Ok(ServiceImages {
        mysfits: reference("mysfits-service")?,
        like: reference("like-service")?,
    })
}
