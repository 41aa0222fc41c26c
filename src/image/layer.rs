//! Reproducible image layers: a tar of files with fixed metadata, gzip-compressed with a fixed
//! header, so the same files always give the same bytes and therefore the same digest.

use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

use super::{Blob, ImageError};

/// The OCI media type of a gzip-compressed layer.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// gzip's "unknown" operating system byte: keeps the layer identical whoever builds it.
const GZIP_OS_UNKNOWN: u8 = 255;

/// One file of a layer.
#[derive(Debug, Clone)]
pub struct File {
    /// Path inside the image, without the leading slash (`etc/passwd`).
    pub path: String,
    pub contents: Bytes,
    pub mode: u32,
    pub owner: u32,
}

/// A directory of a layer that needs other than root-owned 0755 (e.g. `tmp`, a home directory).
#[derive(Debug, Clone)]
pub struct Directory {
    pub path: String,
    pub mode: u32,
    pub owner: u32,
}

/// A compressed layer with the digest of its uncompressed tar (the config's `diff_id`).
#[derive(Debug, Clone)]
pub struct Layer {
    pub blob: Blob,
    pub diff_id: String,
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256:");
    for byte in hash {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Builds a layer from files and directories. Parent directories are added as root-owned 0755;
/// entries are written in path order with the same mtime, so input order never matters.
pub fn build(files: &[File], directories: &[Directory], mtime: u64) -> Result<Layer, ImageError> {
    enum Entry<'a> {
        Directory { mode: u32, owner: u32 },
        File(&'a File),
    }
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    for file in files {
        let mut parent = std::path::Path::new(&file.path).parent();
        while let Some(directory) = parent.filter(|path| !path.as_os_str().is_empty()) {
            entries
                .entry(format!("{}/", directory.display()))
                .or_insert(Entry::Directory {
                    mode: 0o755,
                    owner: 0,
                });
            parent = directory.parent();
        }
        entries.insert(file.path.clone(), Entry::File(file));
    }
    for directory in directories {
        entries.insert(
            format!("{}/", directory.path.trim_end_matches('/')),
            Entry::Directory {
                mode: directory.mode,
                owner: directory.owner,
            },
        );
    }

    let mut tar = tar::Builder::new(Vec::new());
    for (path, entry) in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(mtime);
        let (mode, owner, contents): (u32, u32, &[u8]) = match entry {
            Entry::Directory { mode, owner } => {
                header.set_entry_type(tar::EntryType::Directory);
                (*mode, *owner, &[])
            }
            Entry::File(file) => {
                header.set_entry_type(tar::EntryType::Regular);
                (file.mode, file.owner, &file.contents)
            }
        };
        header.set_mode(mode);
        header.set_uid(u64::from(owner));
        header.set_gid(u64::from(owner));
        header.set_size(contents.len() as u64);
        tar.append_data(&mut header, path, contents)
            .map_err(|source| ImageError::Layer {
                what: format!("adding {path} to a layer"),
                source,
            })?;
    }
    let tar = tar.into_inner().map_err(|source| ImageError::Layer {
        what: "finishing a layer's tar".into(),
        source,
    })?;
    let diff_id = sha256_digest(&tar);

    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNKNOWN)
        .write(
            Vec::with_capacity(tar.len() / 2),
            Compression::new(COMPRESSION_LEVEL),
        );
    let compressed = encoder
        .write_all(&tar)
        .and_then(|()| encoder.finish())
        .map_err(|source| ImageError::Layer {
            what: "compressing a layer".into(),
            source,
        })?;
    Ok(Layer {
        blob: Blob::new(LAYER_MEDIA_TYPE, compressed),
        diff_id,
    })
}

/// zlib level 6: within a few percent of level 9 on service binaries at about a third of the time.
const COMPRESSION_LEVEL: u32 = 6;

/// Bump when the bytes [`build`] makes from the same inputs change (tar format, compression), so
/// cached layers of the old recipe are not reused.
const RECIPE_VERSION: &str = "mysfits layer recipe 1";

/// The cache key of a layer: a hash of everything [`build`] makes it from. The same key means the
/// same layer bytes.
pub fn recipe_key(files: &[File], directories: &[Directory], mtime: u64) -> String {
    let mut recipe = Sha256::new();
    recipe.update(format!(
        "{RECIPE_VERSION}\ngzip {COMPRESSION_LEVEL}\nmtime {mtime}\n"
    ));
    for file in files {
        recipe.update(format!(
            "file {:?} {:o} {} {} {}\n",
            file.path,
            file.mode,
            file.owner,
            file.contents.len(),
            sha256_digest(&file.contents)
        ));
    }
    for directory in directories {
        recipe.update(format!(
            "directory {:?} {:o} {}\n",
            directory.path, directory.mode, directory.owner
        ));
    }
    let digest = recipe.finalize();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}
