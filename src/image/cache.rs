//! Gzip'd layers kept between runs, keyed by a hash of their recipe and input bytes
//! ([`layer::recipe_key`]): an unchanged binary is not compressed again. The cache only ever saves
//! time: an entry that cannot be read or does not match its digest is rebuilt, a directory that
//! cannot be written is skipped, each with a note, never an error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::layer::{self, Directory, File, LAYER_MEDIA_TYPE, Layer};
use super::{Blob, ImageError};

/// Where layers are cached; `None` disables the cache (no home directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCache {
    pub directory: Option<PathBuf>,
}

/// A layer and how the cache served it.
#[derive(Debug)]
pub struct CachedLayer {
    pub layer: Layer,
    pub from_cache: bool,
    /// Why the cache was bypassed (unreadable or corrupted entry, unwritable directory).
    pub problems: Vec<String>,
}

/// What sits next to a cached `.tar.gz`: the digests the layer is used by.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    digest: String,
    diff_id: String,
}

impl LayerCache {
    /// `$MYSFITS_CACHE_DIR/layers`, else `$XDG_CACHE_HOME/mysfits/layers`, else
    /// `~/.cache/mysfits/layers`.
    pub fn from_environment() -> LayerCache {
        LayerCache::from_variables(|name| std::env::var_os(name))
    }

    pub fn from_variables(variable: impl Fn(&str) -> Option<OsString>) -> LayerCache {
        let set = |name: &str| {
            variable(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        let directory = set("MYSFITS_CACHE_DIR")
            .or_else(|| set("XDG_CACHE_HOME").map(|cache| cache.join("mysfits")))
            .or_else(|| set("HOME").map(|home| home.join(".cache").join("mysfits")))
            .map(|root| root.join("layers"));
        LayerCache { directory }
    }

    pub fn at(directory: &Path) -> LayerCache {
        LayerCache {
            directory: Some(directory.to_path_buf()),
        }
    }

    pub fn disabled() -> LayerCache {
        LayerCache { directory: None }
    }

    /// The layer of these inputs: from the cache when it holds a sound copy, else built (and
    /// stored for next time).
    pub fn layer(
        &self,
        files: &[File],
        directories: &[Directory],
        mtime: u64,
    ) -> Result<CachedLayer, ImageError> {
        let Some(directory) = &self.directory else {
            return Ok(CachedLayer {
                layer: layer::build(files, directories, mtime)?,
                from_cache: false,
                problems: Vec::new(),
            });
        };
        let key = layer::recipe_key(files, directories, mtime);
        let mut problems = Vec::new();
        match load(directory, &key) {
            Ok(Some(layer)) => {
                return Ok(CachedLayer {
                    layer,
                    from_cache: true,
                    problems,
                });
            }
            Ok(None) => {}
            Err(problem) => problems.push(problem),
        }
        let layer = layer::build(files, directories, mtime)?;
        if let Err(problem) = store(directory, &key, &layer) {
            problems.push(problem);
        }
        Ok(CachedLayer {
            layer,
            from_cache: false,
            problems,
        })
    }
}

fn entry_paths(directory: &Path, key: &str) -> (PathBuf, PathBuf) {
    (
        directory.join(format!("{key}.tar.gz")),
        directory.join(format!("{key}.json")),
    )
}

/// A cached layer; `Ok(None)` when there is none, `Err` (a note) when the entry is unusable.
fn load(directory: &Path, key: &str) -> Result<Option<Layer>, String> {
    let (data_path, entry_path) = entry_paths(directory, key);
    let entry_text = match std::fs::read(&entry_path) {
        Ok(text) => text,
        // No entry, or no cache directory (a file in its place: the write says so).
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(error) => return Err(unusable(&entry_path, &error.to_string())),
    };
    let entry: Entry = serde_json::from_slice(&entry_text)
        .map_err(|error| unusable(&entry_path, &error.to_string()))?;
    let data =
        std::fs::read(&data_path).map_err(|error| unusable(&data_path, &error.to_string()))?;
    let blob = Blob::new(LAYER_MEDIA_TYPE, data);
    if blob.digest != entry.digest {
        return Err(unusable(
            &data_path,
            &format!("its digest is {}, not {}", blob.digest, entry.digest),
        ));
    }
    Ok(Some(Layer {
        blob,
        diff_id: entry.diff_id,
    }))
}

fn unusable(path: &Path, why: &str) -> String {
    format!(
        "ignored the cached layer {}: {why}; building it again",
        path.display()
    )
}

/// Writes the layer, then its entry, each through a temporary file and a rename, so a reader
/// (another mysfits running now) never sees half an entry.
fn store(directory: &Path, key: &str, layer: &Layer) -> Result<(), String> {
    let (data_path, entry_path) = entry_paths(directory, key);
    let entry = Entry {
        digest: layer.blob.digest.clone(),
        diff_id: layer.diff_id.clone(),
    };
    std::fs::create_dir_all(directory)
        .and_then(|()| write_atomically(&data_path, &layer.blob.data))
        .and_then(|()| write_atomically(&entry_path, &serde_json::to_vec(&entry)?))
        .map_err(|error| cannot_write(directory, &error.to_string()))
}

fn cannot_write(directory: &Path, why: &str) -> String {
    format!(
        "cannot write the layer cache {}: {why}; the next build compresses the layers again (fix: make it writable, or set MYSFITS_CACHE_DIR)",
        directory.display()
    )
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}
