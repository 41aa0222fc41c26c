//! Which service binaries the images are built from. In order: `--prebuilt-binaries DIR`, then
//! `--from-source DIR`, then the binaries a dist build embedded, then a build of the mysfits
//! checkout around the current directory; with none of these, an error naming the three ways.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::embedded::{EMBEDDED_REVISION, embedded_binaries};
use super::{BinarySource, CargoBuild, ImageError, PrebuiltBinaries, SERVICES, ServiceBinary};
use crate::progress::Events;

/// The binary flags of `deploy` and `build`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryRequest {
    pub prebuilt: Option<PathBuf>,
    pub from_source: Option<PathBuf>,
}

/// Where this run's service binaries come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryOrigin {
    Prebuilt {
        directory: PathBuf,
        /// The checkout around the current directory, for the images' revision label.
        checkout: Option<PathBuf>,
    },
    FromSource {
        workspace: PathBuf,
        how: SourceTree,
    },
    Embedded(BTreeMap<&'static str, ServiceBinary>),
}

/// How the source tree to build was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceTree {
    /// `--from-source DIR`.
    Asked,
    /// The checkout the current directory is in.
    AroundCurrentDirectory,
}

/// Picks the origin from the flags, whether this binary embeds the services, and the current
/// directory. Only looks at the file system (no build yet), so a deploy can refuse before it starts.
pub fn choose(
    request: &BinaryRequest,
    embedded: Option<BTreeMap<&'static str, ServiceBinary>>,
    current_dir: &Path,
) -> Result<BinaryOrigin, ImageError> {
    if let Some(directory) = &request.prebuilt {
        return Ok(BinaryOrigin::Prebuilt {
            directory: directory.clone(),
            checkout: find_workspace(current_dir),
        });
    }
    if let Some(workspace) = &request.from_source {
        let workspace = current_dir.join(workspace);
        if !is_workspace(&workspace) {
            return Err(ImageError::NotAWorkspace { path: workspace });
        }
        return Ok(BinaryOrigin::FromSource {
            workspace,
            how: SourceTree::Asked,
        });
    }
    if let Some(binaries) = embedded {
        return Ok(BinaryOrigin::Embedded(binaries));
    }
    match find_workspace(current_dir) {
        Some(workspace) => Ok(BinaryOrigin::FromSource {
            workspace,
            how: SourceTree::AroundCurrentDirectory,
        }),
        None => Err(ImageError::NoBinaries {
            current_dir: current_dir.to_path_buf(),
        }),
    }
}

/// [`choose`] for this process: its embedded binaries and its current directory.
pub fn choose_for_this_process(request: &BinaryRequest) -> Result<BinaryOrigin, ImageError> {
    // Without a current directory (deleted under us) there is no checkout around it either.
    let current_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    choose(request, embedded_binaries()?, &current_dir)
}

impl BinaryOrigin {
    /// What the progress shows about the choice.
    pub fn describe(&self) -> String {
        match self {
            BinaryOrigin::Prebuilt { directory, .. } => {
                format!("service binaries from {}", directory.display())
            }
            BinaryOrigin::FromSource { workspace, how } => format!(
                "building the services from source in {} ({})",
                workspace.display(),
                match how {
                    SourceTree::Asked => "--from-source",
                    SourceTree::AroundCurrentDirectory =>
                        "the mysfits checkout around the current directory",
                }
            ),
            BinaryOrigin::Embedded(_) => "service binaries embedded in this mysfits".to_string(),
        }
    }

    /// The binaries, building them first when they come from source.
    pub async fn binaries(
        &self,
        events: &Events,
        step: &str,
    ) -> Result<BTreeMap<&'static str, ServiceBinary>, ImageError> {
        let files = match self {
            BinaryOrigin::Prebuilt { directory, .. } => {
                PrebuiltBinaries {
                    directory: directory.clone(),
                }
                .binaries(events, step)
                .await?
            }
            BinaryOrigin::FromSource { workspace, .. } => {
                CargoBuild::release(workspace)
                    .binaries(events, step)
                    .await?
            }
            BinaryOrigin::Embedded(binaries) => return Ok(binaries.clone()),
        };
        Ok(files
            .into_iter()
            .map(|(name, path)| (name, ServiceBinary::File(path)))
            .collect())
    }

    /// The git revision the images are labelled with (`org.opencontainers.image.revision`).
    pub fn revision(&self) -> Option<String> {
        match self {
            BinaryOrigin::Prebuilt { checkout, .. } => checkout.as_deref().and_then(git_revision),
            BinaryOrigin::FromSource { workspace, .. } => git_revision(workspace),
            BinaryOrigin::Embedded(_) => EMBEDDED_REVISION.map(str::to_string),
        }
    }
}

/// A mysfits source checkout: a Cargo.toml next to `services/<name>` of every service.
pub fn is_workspace(directory: &Path) -> bool {
    directory.join("Cargo.toml").is_file()
        && SERVICES.iter().all(|service| {
            directory
                .join("services")
                .join(service.name)
                .join("Cargo.toml")
                .is_file()
        })
}

/// The nearest mysfits checkout at or above `start`.
pub fn find_workspace(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|directory| is_workspace(directory))
        .map(Path::to_path_buf)
}

/// HEAD of the git checkout at `tree`, if it is one.
pub fn git_revision(tree: &Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(tree)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let revision = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !revision.is_empty()).then_some(revision)
}
