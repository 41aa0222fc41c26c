//! The image steps of deploy: build once, push to each region's registry (wired to crate::image).

use crate::aws::RegionClients;
use crate::config::{Config, RegionSettings};
use crate::error::{Error, Result};
use crate::progress::Events;
use crate::stack::ServiceImages;
use crate::stack::deploy::StackResult;

#[derive(Debug)]
pub struct BuiltImages;

impl BuiltImages {
    pub fn summary(&self) -> String {
        String::new()
    }
}

pub struct Pushed {
    pub images: ServiceImages,
    pub summary: String,
}

pub async fn build(
    _config: &Config,
    _prebuilt: Option<&std::path::Path>,
    _events: &Events,
    _step: &str,
) -> Result<BuiltImages> {
    Err(Error::NotYetAvailable {
        command: "deploy (image build)".into(),
        instead: "wait for the image work".into(),
    })
}

pub async fn push(
    _built: &BuiltImages,
    _registry: &StackResult,
    _region: &RegionSettings,
    _clients: &RegionClients,
    _events: &Events,
    _step: &str,
) -> Result<Pushed> {
    Err(Error::NotYetAvailable {
        command: "deploy (image push)".into(),
        instead: "wait for the image work".into(),
    })
}
