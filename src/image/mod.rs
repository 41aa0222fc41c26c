//! OCI images of the bundled services, built and pushed without a Docker engine.
//!
//! Each image is two layers on nothing ("scratch"): a base layer with the CA bundle and
//! `/etc/passwd` for the non-root user (the same bytes for both services, so a registry stores it
//! once per repository and a push of a changed service skips it), and a layer with the one static
//! binary. Everything is reproducible: the same binaries, CA bundle and metadata give the same
//! digests, so an unchanged service is never pushed twice and the app stack sees no change.
//!
//! - [`source`]: which service binaries a run uses (flags, embedded, the checkout around us)
//! - [`binaries`]: the static service binaries (cargo, a directory, or [`embedded`] by build.rs)
//! - [`layer`]: reproducible tar + gzip layers, kept between runs by [`cache`]
//! - [`manifest`]: image config and manifest as canonical JSON
//! - [`ecr`]: registry credentials and repository URIs from the ECR API
//! - [`push`]: the registry push (oci-client), skipping what is already there

pub mod binaries;
pub mod cache;
#[cfg(test)]
mod embed_codegen;
pub mod embedded;
pub mod layer;
pub mod manifest;
pub mod push;
pub mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;

pub use binaries::{BinarySource, CargoBuild, PrebuiltBinaries, ServiceBinary};
pub use cache::LayerCache;
pub use push::{Destination, PushReport, push_images};
pub use source::{BinaryOrigin, BinaryRequest};

use cache::CachedLayer;
use layer::Layer;

/// The bundled services that become images (name = binary = entrypoint, port): the app's table.
pub use crate::app::{SERVICES, Service};

/// Where the build machine keeps the CA bundle the images carry.
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The non-root user (and group) of the images.
pub const USER_ID: u32 = 65532;

/// Building or pushing an image failed. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("service binary {path}: {problem}\n  fix: {fix}")]
    Binary {
        path: PathBuf,
        problem: String,
        fix: String,
    },

    #[error("static build of the services failed: {problem}\n  fix: {fix}")]
    Cargo { problem: String, fix: String },

    #[error(
        "no service binaries to build the images from: this mysfits embeds none, and {current_dir} is not inside a mysfits source checkout\n  fix: pass --prebuilt-binaries DIR (static builds of mysfits-service and like-service; MYSFITS_PREBUILT_BINARIES works too), pass --from-source DIR (a mysfits source checkout; needs Rust with the x86_64-unknown-linux-gnu target), or use a mysfits built by scripts/dist, which embeds them"
    )]
    NoBinaries { current_dir: PathBuf },

    #[error(
        "{path} is not a mysfits source checkout: it needs a Cargo.toml and services/mysfits-service and services/like-service\n  fix: pass --from-source the directory of mysfits' own Cargo.toml (a clone of https://github.com/mysfits/mysfits)"
    )]
    NotAWorkspace { path: PathBuf },

    #[error(
        "this mysfits embeds the service binaries {embedded}, but its services are {expected}\n  fix: rebuild it with scripts/dist, which embeds every service"
    )]
    EmbeddedSet { embedded: String, expected: String },

    #[error(
        "cannot read the CA bundle {path}: {source}\n  fix: install the CA certificates (Debian/Ubuntu: apt-get install ca-certificates), the images need them for HTTPS to AWS"
    )]
    CaBundle {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "SOURCE_DATE_EPOCH={value:?} is not a number of seconds since 1970\n  fix: set it to e.g. $(git log -1 --format=%ct), or unset it (images then carry the date 1970-01-01)"
    )]
    SourceDateEpoch { value: String },

    /// A broken invariant (the CLI reports it as an internal error, see `crate::Error`).
    #[error("{what}: {source}")]
    Layer {
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// A broken invariant (the CLI reports it as an internal error, see `crate::Error`).
    #[error("invalid image metadata: {0}")]
    Spec(String),

    #[error("{what}\n  fix: {fix}")]
    Destination { what: String, fix: String },

    #[error("{operation} in registry {registry} failed: {message}\n  fix: {fix}")]
    Registry {
        operation: String,
        registry: String,
        message: String,
        fix: String,
    },
}

/// Content-addressed bytes: a layer, a config or a manifest. Cheap to clone.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob {
    pub media_type: &'static str,
    pub digest: String,
    pub data: Bytes,
}

impl Blob {
    pub fn new(media_type: &'static str, data: impl Into<Bytes>) -> Blob {
        let data = data.into();
        Blob {
            media_type,
            digest: layer::sha256_digest(&data),
            data,
        }
    }

    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Blob({} {} bytes)", self.digest, self.data.len())
    }
}

/// One service's image, ready to push.
#[derive(Debug, Clone)]
pub struct Image {
    pub service: &'static str,
    pub version: String,
    pub layers: Vec<Blob>,
    pub config: Blob,
    pub manifest: Blob,
}

impl Image {
    /// The manifest digest: the image's identity in every registry.
    pub fn digest(&self) -> &str {
        &self.manifest.digest
    }

    /// Layers and config: the blobs a registry must have before it takes the manifest.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        self.layers.iter().chain(std::iter::once(&self.config))
    }

    /// What a registry stores and a runtime downloads: compressed layers, config and manifest.
    pub fn compressed_size(&self) -> u64 {
        self.blobs().map(Blob::size).sum::<u64>() + self.manifest.size()
    }

    /// A tag derived from the content (`<version>-<first 12 hex digits of the digest>`).
    pub fn tag(&self) -> String {
        let hex = self.digest().trim_start_matches("sha256:");
        format!("{}-{}", self.version, hex.get(..12).unwrap_or(hex))
    }

    pub fn summary(&self) -> ImageSummary {
        ImageSummary {
            service: self.service.to_string(),
            digest: self.digest().to_string(),
            tag: self.tag(),
            compressed_bytes: self.compressed_size(),
            layers: self
                .layers
                .iter()
                .map(|layer| layer.digest.clone())
                .collect(),
        }
    }
}

/// An image for people and for `--output json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSummary {
    pub service: String,
    pub digest: String,
    pub tag: String,
    pub compressed_bytes: u64,
    pub layers: Vec<String>,
}

/// The labels and dates every image carries (OCI annotation keys `org.opencontainers.image.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMetadata {
    pub source: String,
    pub revision: String,
    pub version: String,
    /// RFC 3339; also the mtime of every file in the layers.
    pub created: String,
    pub mtime: u64,
}

impl ImageMetadata {
    /// From this build of mysfits, the git revision of the service sources (when known, see
    /// [`BinaryOrigin::revision`]) and `SOURCE_DATE_EPOCH` (the reproducible-builds convention;
    /// default 1970-01-01).
    pub fn detect(revision: Option<String>) -> Result<ImageMetadata, ImageError> {
        let mtime = match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(value) => value
                .trim()
                .parse::<u64>()
                .map_err(|_| ImageError::SourceDateEpoch { value })?,
            Err(_) => 0,
        };
        Ok(ImageMetadata {
            source: env!("CARGO_PKG_REPOSITORY").to_string(),
            revision: revision.unwrap_or_else(|| "unknown".to_string()),
            version: env!("CARGO_PKG_VERSION").to_string(),
            created: rfc3339(mtime)?,
            mtime,
        })
    }
}

fn rfc3339(seconds: u64) -> Result<String, ImageError> {
    i64::try_from(seconds)
        .ok()
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .ok_or_else(|| ImageError::SourceDateEpoch {
            value: seconds.to_string(),
        })
}

/// Every input of an image build other than the binaries.
#[derive(Debug, Clone)]
pub struct BuildInputs {
    pub ca_bundle: Bytes,
    pub metadata: ImageMetadata,
}

impl BuildInputs {
    /// The build machine's CA bundle and the detected metadata.
    pub fn detect(revision: Option<String>) -> Result<BuildInputs, ImageError> {
        let path = Path::new(HOST_CA_BUNDLE);
        let ca_bundle = std::fs::read(path).map_err(|source| ImageError::CaBundle {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(BuildInputs {
            ca_bundle: ca_bundle.into(),
            metadata: ImageMetadata::detect(revision)?,
        })
    }
}

/// The base layer every service image shares: CA bundle, users, `/tmp`, the user's home.
pub fn base_layer(inputs: &BuildInputs, cache: &LayerCache) -> Result<CachedLayer, ImageError> {
    let passwd = format!(
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{USER_ID}:{USER_ID}:nonroot:/home/nonroot:/sbin/nologin\n"
    );
    let group = format!("root:x:0:\nnonroot:x:{USER_ID}:\n");
    let file = |path: &str, contents: Bytes| layer::File {
        path: path.to_string(),
        contents,
        mode: 0o644,
        owner: 0,
    };
    cache.layer(
        &[
            file(manifest::CA_BUNDLE_PATH, inputs.ca_bundle.clone()),
            file("etc/passwd", passwd.into()),
            file("etc/group", group.into()),
        ],
        &[
            layer::Directory {
                path: "tmp".into(),
                mode: 0o1777,
                owner: 0,
            },
            layer::Directory {
                path: "home/nonroot".into(),
                mode: 0o755,
                owner: USER_ID,
            },
        ],
        inputs.metadata.mtime,
    )
}

/// The layer with one service binary at `/<name>`.
pub fn binary_layer(
    service: &Service,
    binary: Bytes,
    mtime: u64,
    cache: &LayerCache,
) -> Result<CachedLayer, ImageError> {
    cache.layer(
        &[layer::File {
            path: service.name.to_string(),
            contents: binary,
            mode: 0o755,
            owner: 0,
        }],
        &[],
        mtime,
    )
}

/// Every service's image, and how many of their layers the cache supplied.
#[derive(Debug)]
pub struct ImageBuild {
    pub images: Vec<Image>,
    pub layers_from_cache: usize,
    pub layers_built: usize,
    /// Notes about a cache that could not be used (the build went on without it).
    pub cache_problems: Vec<String>,
}

/// Builds every service's image from its binary. Compression (the slow part) runs on the
/// blocking pool, one layer per thread, unless the cache has the layer already.
pub async fn build_images(
    binaries: &BTreeMap<&'static str, ServiceBinary>,
    inputs: &BuildInputs,
    cache: &LayerCache,
) -> Result<ImageBuild, ImageError> {
    let inputs = Arc::new(inputs.clone());
    let base = {
        let (inputs, cache) = (inputs.clone(), cache.clone());
        tokio::task::spawn_blocking(move || base_layer(&inputs, &cache))
    };
    let mut binary_layers = Vec::new();
    for service in &SERVICES {
        let binary = binaries
            .get(service.name)
            .cloned()
            .ok_or_else(|| ImageError::Binary {
                path: PathBuf::from(service.name),
                problem: "no binary was supplied for this service".into(),
                fix: "pass --prebuilt-binaries DIR holding both service binaries".into(),
            })?;
        let (mtime, cache) = (inputs.metadata.mtime, cache.clone());
        binary_layers.push(tokio::task::spawn_blocking(move || {
            let bytes = binary.read_static(service.name)?;
            binary_layer(service, bytes, mtime, &cache)
        }));
    }
    let base = join_blocking(base).await?;
    let mut build = ImageBuild {
        images: Vec::new(),
        layers_from_cache: 0,
        layers_built: 0,
        cache_problems: Vec::new(),
    };
    build.count(&base);
    for (service, binary_layer) in SERVICES.iter().zip(binary_layers) {
        let binary_layer = join_blocking(binary_layer).await?;
        build.count(&binary_layer);
        let image = assemble(service, &base.layer, &binary_layer.layer, &inputs.metadata)?;
        build.images.push(image);
    }
    Ok(build)
}

impl ImageBuild {
    fn count(&mut self, layer: &CachedLayer) {
        if layer.from_cache {
            self.layers_from_cache += 1;
        } else {
            self.layers_built += 1;
        }
        self.cache_problems.extend(layer.problems.iter().cloned());
    }
}

/// Config and manifest around a service's layers.
pub fn assemble(
    service: &Service,
    base: &Layer,
    binary: &Layer,
    metadata: &ImageMetadata,
) -> Result<Image, ImageError> {
    let layers = [base, binary];
    let config = manifest::config(service, &layers, metadata)?;
    let manifest_blob = manifest::manifest(&config, &layers)?;
    Ok(Image {
        service: service.name,
        version: metadata.version.clone(),
        layers: layers.iter().map(|layer| layer.blob.clone()).collect(),
        config,
        manifest: manifest_blob,
    })
}

async fn join_blocking<T>(
    task: tokio::task::JoinHandle<Result<T, ImageError>>,
) -> Result<T, ImageError> {
    task.await.map_err(|error| ImageError::Layer {
        what: "a layer build task stopped".into(),
        source: std::io::Error::other(error.to_string()),
    })?
}

/// `7.1 MB`, `210 KB`, `512 B` (decimal units, as registries and consoles show sizes).
pub fn human_bytes(bytes: u64) -> String {
    let value = bytes as f64;
    if bytes >= 1_000_000 {
        format!("{:.1} MB", value / 1_000_000.0)
    } else if bytes >= 1_000 {
        format!("{:.0} KB", value / 1_000.0)
    } else {
        format!("{bytes} B")
    }
}

/// Builds both service images from the binaries of `origin` (see [`source::choose`]), telling
/// `events` where they came from and what the layer cache saved.
pub async fn build_service_images(
    origin: &BinaryOrigin,
    events: &crate::progress::Events,
    step: &str,
) -> Result<Vec<Image>, ImageError> {
    events.note(step, origin.describe());
    let binaries = origin.binaries(events, step).await?;
    let inputs = BuildInputs::detect(origin.revision())?;
    let cache = LayerCache::from_environment();
    let build = build_images(&binaries, &inputs, &cache).await?;
    for problem in &build.cache_problems {
        events.note(step, problem.clone());
    }
    if let Some(directory) = &cache.directory {
        events.note(
            step,
            format!(
                "layers: {} from the cache ({}), {} compressed",
                build.layers_from_cache,
                directory.display(),
                build.layers_built
            ),
        );
    }
    Ok(build.images)
}

/// One line for a region's push: what went up and what was already there.
pub fn push_summary(reports: &[PushReport]) -> String {
    let uploaded: u64 = reports.iter().map(|report| report.bytes_uploaded).sum();
    let skipped: u64 = reports.iter().map(|report| report.bytes_skipped).sum();
    let present = reports
        .iter()
        .filter(|report| report.already_present)
        .count();
    if present == reports.len() {
        format!(
            "{} images already present, nothing uploaded ({} skipped)",
            reports.len(),
            human_bytes(skipped)
        )
    } else {
        format!(
            "{} images: {} uploaded, {} skipped (already there)",
            reports.len(),
            human_bytes(uploaded),
            human_bytes(skipped)
        )
    }
}
