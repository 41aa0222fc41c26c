//! The image config (entrypoint, user, port, labels) and the manifest that ties config and layers
//! together, both written as canonical JSON so equal images have equal digests.

use std::collections::HashMap;

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, ImageConfigurationBuilder, ImageManifestBuilder, MediaType,
    Os, RootFsBuilder,
};
use serde::Serialize;

use super::layer::Layer;
use super::{Blob, ImageError, ImageMetadata, Service};

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The user the services run as: not root, and the uid distroless images use (65532).
pub const USER: &str = "65532:65532";

/// Where the image keeps the CA bundle (Debian's path, which rustls' native root loading and
/// OpenSSL-style lookups both know).
pub const CA_BUNDLE_PATH: &str = "etc/ssl/certs/ca-certificates.crt";

/// The config blob of one service's image.
pub fn config(
    service: &Service,
    layers: &[&Layer],
    metadata: &ImageMetadata,
) -> Result<Blob, ImageError> {
    let labels: HashMap<String, String> = [
        ("org.opencontainers.image.title", service.name.to_string()),
        ("org.opencontainers.image.source", metadata.source.clone()),
        (
            "org.opencontainers.image.revision",
            metadata.revision.clone(),
        ),
        ("org.opencontainers.image.version", metadata.version.clone()),
        ("org.opencontainers.image.created", metadata.created.clone()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    let runtime = ConfigBuilder::default()
        .user(USER)
        .entrypoint(vec![format!("/{}", service.name)])
        .exposed_ports(vec![format!("{}/tcp", service.port)])
        .env(vec![
            "PATH=/".to_string(),
            format!("PORT={}", service.port),
            format!("SSL_CERT_FILE=/{CA_BUNDLE_PATH}"),
        ])
        .working_dir("/")
        .labels(labels)
        .stop_signal("SIGTERM")
        .build()
        .map_err(spec_error)?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(
            layers
                .iter()
                .map(|layer| layer.diff_id.clone())
                .collect::<Vec<_>>(),
        )
        .build()
        .map_err(spec_error)?;
    let configuration = ImageConfigurationBuilder::default()
        .created(metadata.created.clone())
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .config(runtime)
        .rootfs(rootfs)
        .build()
        .map_err(spec_error)?;
    Ok(Blob::new(
        CONFIG_MEDIA_TYPE,
        canonical_json(&configuration)?,
    ))
}

/// The manifest blob: config and layers by descriptor.
pub fn manifest(config: &Blob, layers: &[&Layer]) -> Result<Blob, ImageError> {
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(config, MediaType::ImageConfig)?)
        .layers(
            layers
                .iter()
                .map(|layer| descriptor(&layer.blob, MediaType::ImageLayerGzip))
                .collect::<Result<Vec<_>, _>>()?,
        )
        .build()
        .map_err(spec_error)?;
    Ok(Blob::new(MANIFEST_MEDIA_TYPE, canonical_json(&manifest)?))
}

fn descriptor(blob: &Blob, media_type: MediaType) -> Result<Descriptor, ImageError> {
    let digest = blob
        .digest
        .parse::<oci_spec::image::Digest>()
        .map_err(spec_error)?;
    Ok(Descriptor::new(media_type, blob.size(), digest))
}

/// JSON with sorted keys and no insignificant whitespace: the labels are a HashMap, so plain
/// serialization would order them differently from run to run.
fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ImageError> {
    let mut bytes = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut bytes, olpc_cjson::CanonicalFormatter::new());
    value
        .serialize(&mut serializer)
        .map_err(|error| ImageError::Spec(error.to_string()))?;
    Ok(bytes)
}

fn spec_error(error: impl std::fmt::Display) -> ImageError {
    ImageError::Spec(error.to_string())
}
