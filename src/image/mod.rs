//! OCI images of the bundled services (owned by the images work; placeholder until it lands).

/// Building or pushing an image failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image build is not available yet")]
    Unavailable,
}
