//! Pushing built images to one region's registry with oci-client: nothing is sent that the
//! registry already has (whole image by manifest digest, then each blob), and the manifest is
//! pushed as the exact bytes that were hashed, so the digest the app stack runs is the one built.

use std::time::Duration;

use futures::future::try_join_all;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Serialize;

use crate::progress::Events;

use super::{Blob, Image, ImageError, human_bytes};

/// Basic-auth credentials for one region's registry.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &"(hidden)")
            .finish()
    }
}

/// Where one image goes in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `host[:port]` the blobs and the manifest are sent to.
    pub host: String,
    /// Repository path inside the registry (`mysfits/mysfits-service`).
    pub repository: String,
    /// True for an `http://` stand-in registry (`regions.<r>.registry_url`).
    pub plain_http: bool,
    /// The repository URI ECR reports; the app stack gets `<repository_uri>@<digest>`.
    pub repository_uri: String,
}

impl Destination {
    /// The destination of a repository URI (`<registry host>/<path>`), or of the same path in the
    /// registry at `registry_url` when one stands in for ECR.
    pub fn new(
        repository_uri: &str,
        registry_url: Option<&str>,
    ) -> Result<Destination, ImageError> {
        let (uri_host, repository) = repository_uri
            .split_once('/')
            .filter(|(host, path)| !host.is_empty() && !path.is_empty())
            .ok_or_else(|| ImageError::Destination {
                what: format!("repository URI {repository_uri:?} is not <registry host>/<name>"),
                fix: format!(
                    "check the registry stack's outputs {}",
                    crate::app::SERVICES
                        .iter()
                        .map(|service| service.repository_uri_output)
                        .collect::<Vec<_>>()
                        .join(" / ")
                ),
            })?;
        let (host, plain_http) = match registry_url {
            None => (uri_host.to_string(), false),
            Some(url) => {
                let (plain_http, rest) = if let Some(rest) = url.strip_prefix("http://") {
                    (true, rest)
                } else if let Some(rest) = url.strip_prefix("https://") {
                    (false, rest)
                } else {
                    return Err(registry_url_error(url));
                };
                let host = rest.trim_end_matches('/');
                if host.is_empty() || host.contains('/') {
                    return Err(registry_url_error(url));
                }
                (host.to_string(), plain_http)
            }
        };
        Ok(Destination {
            host,
            repository: repository.to_string(),
            plain_http,
            repository_uri: repository_uri.to_string(),
        })
    }

    /// `<host>/<repository>`, for messages.
    pub fn location(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }
}

fn registry_url_error(url: &str) -> ImageError {
    ImageError::Destination {
        what: format!("registry_url {url:?} is not http(s)://host[:port]"),
        fix: "set regions.<region>.registry_url to the registry's base URL, e.g. http://127.0.0.1:5000"
            .into(),
    }
}

/// What a push did for one image in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushReport {
    pub service: String,
    pub digest: String,
    /// `<repository URI>@<digest>`: what the app stack runs.
    pub image: String,
    /// Where the bytes went (differs from `image` when a stand-in registry is used).
    pub pushed_to: String,
    /// The image was there already: nothing was uploaded.
    pub already_present: bool,
    pub blobs_uploaded: usize,
    pub blobs_skipped: usize,
    pub bytes_uploaded: u64,
    pub bytes_skipped: u64,
}

impl PushReport {
    /// The report of `image` at `destination` before anything was checked or sent.
    fn nothing_sent(image: &Image, destination: &Destination) -> PushReport {
        let digest = image.digest().to_string();
        PushReport {
            service: image.service.to_string(),
            image: format!("{}@{digest}", destination.repository_uri),
            pushed_to: format!("{}@{digest}", destination.location()),
            digest,
            already_present: false,
            blobs_uploaded: 0,
            blobs_skipped: 0,
            bytes_uploaded: 0,
            bytes_skipped: 0,
        }
    }
}

/// Pushes each image to its destination (same order), all images concurrently.
pub async fn push_images(
    images: &[&Image],
    destinations: &[Destination],
    credentials: &RegistryCredentials,
    events: &Events,
    step: &str,
) -> Result<Vec<PushReport>, ImageError> {
    let plain_http_hosts: Vec<String> = destinations
        .iter()
        .filter(|destination| destination.plain_http)
        .map(|destination| destination.host.clone())
        .collect();
    let client = Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(plain_http_hosts),
        // ECR rejects chunked uploads in parts under 5 MiB (oci-client uses 4 MiB chunks): one
        // PUT per blob works on ECR and on every distribution registry.
        use_monolithic_push: true,
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(120)),
        ..ClientConfig::default()
    });
    let auth = RegistryAuth::Basic(credentials.username.clone(), credentials.password.clone());
    try_join_all(
        images.iter().zip(destinations).map(|(image, destination)| {
            push_image(&client, &auth, image, destination, events, step)
        }),
    )
    .await
}

/// One image to one destination: skipped whole when the registry has its manifest, otherwise
/// the missing blobs, then the manifest, confirmed by its digest.
async fn push_image(
    client: &Client,
    auth: &RegistryAuth,
    image: &Image,
    destination: &Destination,
    events: &Events,
    step: &str,
) -> Result<PushReport, ImageError> {
    let digest = image.digest().to_string();
    let by_digest = Reference::with_digest(
        destination.host.clone(),
        destination.repository.clone(),
        digest.clone(),
    );
    let mut report = PushReport::nothing_sent(image, destination);
    if manifest_exists(client, auth, &by_digest)
        .await
        .map_err(|error| registry_error("checking for the image", destination, error))?
    {
        report.already_present = true;
        report.blobs_skipped = image.layers.len() + 1;
        report.bytes_skipped = image.blobs().map(Blob::size).sum();
        events.note(
            step,
            format!(
                "{} {} already in {}: push skipped",
                image.service,
                short_digest(&digest),
                destination.location()
            ),
        );
        return Ok(report);
    }
    upload_missing_blobs(client, image, destination, &by_digest, &mut report).await?;
    push_manifest(client, auth, image, destination, &by_digest).await?;
    events.note(
        step,
        format!(
            "{} {} pushed to {}: {} uploaded ({} blobs), {} already there ({} blobs)",
            image.service,
            short_digest(&digest),
            destination.location(),
            human_bytes(report.bytes_uploaded),
            report.blobs_uploaded,
            human_bytes(report.bytes_skipped),
            report.blobs_skipped,
        ),
    );
    Ok(report)
}

/// Uploads, concurrently, each blob (layers and config) the registry does not have yet, and
/// counts what was uploaded and what was already there into `report`.
async fn upload_missing_blobs(
    client: &Client,
    image: &Image,
    destination: &Destination,
    by_digest: &Reference,
    report: &mut PushReport,
) -> Result<(), ImageError> {
    let uploads = try_join_all(image.blobs().map(|blob| async {
        let present = client
            .blob_exists(by_digest, &blob.digest)
            .await
            .map_err(|error| registry_error("checking for a blob", destination, error))?;
        if !present {
            client
                .push_blob(by_digest, blob.data.clone(), &blob.digest)
                .await
                .map_err(|error| registry_error("uploading a blob", destination, error))?;
        }
        Ok::<_, ImageError>((blob.size(), !present))
    }))
    .await?;
    for (size, uploaded) in uploads {
        if uploaded {
            report.blobs_uploaded += 1;
            report.bytes_uploaded += size;
        } else {
            report.blobs_skipped += 1;
            report.bytes_skipped += size;
        }
    }
    Ok(())
}

/// Pushes the manifest under its content tag as the exact bytes that were hashed, then checks
/// that the registry has it under the built digest (a registry that rewrites manifests would
/// make the app stack run something else).
async fn push_manifest(
    client: &Client,
    auth: &RegistryAuth,
    image: &Image,
    destination: &Destination,
    by_digest: &Reference,
) -> Result<(), ImageError> {
    // The tag names the content (it contains the digest), so it never moves: the repositories
    // are tag-immutable. The registry stack's lifecycle rule keeps the 30 most recently pushed
    // images; a skipped push keeps an old image's push time (see the README's limits).
    let by_tag = Reference::with_tag(
        destination.host.clone(),
        destination.repository.clone(),
        image.tag(),
    );
    let content_type = image
        .manifest
        .media_type
        .parse()
        .map_err(|_| ImageError::Spec("manifest media type is not a header value".into()))?;
    client
        .push_manifest_raw(&by_tag, image.manifest.data.clone(), content_type)
        .await
        .map_err(|error| registry_error("pushing the manifest", destination, error))?;
    if !manifest_exists(client, auth, by_digest)
        .await
        .map_err(|error| registry_error("checking the pushed image", destination, error))?
    {
        return Err(ImageError::Registry {
            operation: "checking the pushed image".into(),
            registry: destination.location(),
            message: format!(
                "the registry accepted the manifest but has no image {}",
                image.digest()
            ),
            fix: "the registry changed the manifest; push to a registry that stores manifests as sent (ECR, distribution)".into(),
        });
    }
    Ok(())
}

/// Whether the registry has a manifest with exactly this digest.
async fn manifest_exists(
    client: &Client,
    auth: &RegistryAuth,
    by_digest: &Reference,
) -> Result<bool, OciDistributionError> {
    match client.fetch_manifest_digest(by_digest, auth).await {
        Ok(_) => Ok(true),
        Err(error) if is_not_found(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

fn is_not_found(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().all(|error| {
                matches!(
                    error.code,
                    OciErrorCode::ManifestUnknown | OciErrorCode::NotFound
                )
            })
        }
        _ => false,
    }
}

/// Turns an oci-client failure into the crate's "what happened + fix" form.
fn registry_error(
    operation: &str,
    destination: &Destination,
    error: OciDistributionError,
) -> ImageError {
    let location = destination.location();
    let fix = match &error {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => {
            "the registry refused the credentials from ecr:GetAuthorizationToken: check the caller may push to ECR (`mysfits iam-policy`) and that registry_url points at this region's registry".to_string()
        }
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|error| error.code == OciErrorCode::NameUnknown) =>
        {
            format!(
                "repository {} does not exist: run `mysfits deploy` (it creates the registry stack first)",
                destination.repository
            )
        }
        OciDistributionError::RegistryError { envelope, .. }
            if envelope.errors.iter().any(|error| {
                matches!(error.code, OciErrorCode::Denied | OciErrorCode::Unauthorized)
            }) =>
        {
            "the caller may not push to this repository: `mysfits iam-policy` prints the permissions needed".to_string()
        }
        // ECR answers a refused upload (InitiateLayerUpload, UploadLayerPart, PutImage) with
        // 403 and an OCI `DENIED` body, which oci-client passes on as a server error on the
        // POST/PUT path, and a refused blob HEAD as a bare 401/403 status.
        OciDistributionError::ServerError { code: 401, .. } => {
            "the registry refused the token from ecr:GetAuthorizationToken (expired or for another registry): run the command again for a new one, and check that registry_url points at this region's registry".to_string()
        }
        OciDistributionError::ServerError { code: 403, .. } => {
            "the registry refused this request: the caller may not push to this repository (a permission, a permissions boundary or a service control policy): `mysfits iam-policy` prints the permissions needed".to_string()
        }
        OciDistributionError::RequestError(request)
            if request
                .status()
                .is_some_and(|status| status.as_u16() == 403) =>
        {
            "the registry refused this request: the caller may not push to this repository (ecr:BatchCheckLayerAvailability and the upload actions): `mysfits iam-policy` prints the permissions needed".to_string()
        }
        OciDistributionError::RequestError(request) if request.is_connect() || request.is_timeout() => {
            format!(
                "check network access to {} and any regions.<region>.registry_url (scheme http:// or https:// must match the registry)",
                destination.host
            )
        }
        _ => "run the command again (pushes resume: blobs already there are skipped); -v shows every request".to_string(),
    };
    ImageError::Registry {
        operation: operation.to_string(),
        registry: location,
        message: error_chain(&error),
        fix,
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    text
}

/// `sha256:0123456789ab`: 12 hex digits tell images apart in progress lines and tables.
pub fn short_digest(digest: &str) -> &str {
    match digest.split_once(':') {
        Some((algorithm, hex)) => &digest[..algorithm.len() + 1 + hex.len().min(12)],
        None => digest,
    }
}

#[cfg(test)]
mod registry_error_tests {
    use super::*;

    fn destination() -> Destination {
        Destination {
            host: "123456789012.dkr.ecr.us-east-1.amazonaws.com".into(),
            repository: "demo/like-service".into(),
            plain_http: false,
            repository_uri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/like-service".into(),
        }
    }

    /// ECR's refusal of an upload, as oci-client passes it on: the fix points at the
    /// permissions, not at running the command again.
    #[test]
    fn a_refused_upload_points_at_the_permissions() {
        let refused = OciDistributionError::ServerError {
            code: 403,
            url: "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/demo/like-service/blobs/uploads/".into(),
            message: r#"{"errors":[{"code":"DENIED","message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:InitiateLayerUpload"}]}"#.into(),
        };
        let error = registry_error("uploading a blob", &destination(), refused).to_string();
        assert!(error.contains("mysfits iam-policy"), "{error}");
        assert!(error.contains("ecr:InitiateLayerUpload"), "{error}");
        assert!(!error.contains("run the command again"), "{error}");

        let expired = OciDistributionError::ServerError {
            code: 401,
            url: "https://registry/v2/".into(),
            message: "unauthorized".into(),
        };
        let error = registry_error("uploading a blob", &destination(), expired).to_string();
        assert!(error.contains("ecr:GetAuthorizationToken"), "{error}");

        let other = OciDistributionError::ServerError {
            code: 500,
            url: "https://registry/v2/".into(),
            message: "internal".into(),
        };
        let error = registry_error("uploading a blob", &destination(), other).to_string();
        assert!(error.contains("run the command again"), "{error}");
    }
}
