//! Where the service binaries come from (prebuilt > --from-source > embedded > the checkout around
//! the current directory > an error naming the three ways), and the layer cache that keeps an
//! unchanged binary from being compressed again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mysfits::image::source::{BinaryOrigin, BinaryRequest, SourceTree, choose, find_workspace};
use mysfits::image::{
    BuildInputs, ImageBuild, ImageMetadata, LayerCache, SERVICES, ServiceBinary, build_images,
};

use crate::teardown::fake_binaries;
use crate::util::Mysfits;

/// A directory shaped like a mysfits checkout: Cargo.toml and services/<name>/Cargo.toml.
fn fake_checkout() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("Cargo.toml"), "[workspace]\n").unwrap();
    for service in &SERVICES {
        let directory = root.path().join("services").join(service.name);
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join("Cargo.toml"), "[package]\n").unwrap();
    }
    std::fs::create_dir_all(root.path().join("src/deep")).unwrap();
    root
}

static EMBEDDED_BYTES: &[u8] = b"embedded";

fn embedded() -> Option<BTreeMap<&'static str, ServiceBinary>> {
    Some(
        SERVICES
            .iter()
            .map(|service| (service.name, ServiceBinary::Embedded(EMBEDDED_BYTES)))
            .collect(),
    )
}

fn request(prebuilt: Option<&Path>, from_source: Option<&Path>) -> BinaryRequest {
    BinaryRequest {
        prebuilt: prebuilt.map(Path::to_path_buf),
        from_source: from_source.map(Path::to_path_buf),
    }
}

#[test]
fn prebuilt_wins_then_from_source_then_embedded_then_the_checkout_around_the_current_directory() {
    let checkout = fake_checkout();
    let other = fake_checkout();
    let inside = checkout.path().join("src/deep");
    let prebuilt = Path::new("/opt/binaries");

    let everything = choose(
        &request(Some(prebuilt), Some(other.path())),
        embedded(),
        &inside,
    )
    .unwrap();
    assert_eq!(
        everything,
        BinaryOrigin::Prebuilt {
            directory: prebuilt.to_path_buf(),
            checkout: Some(checkout.path().to_path_buf()),
        }
    );
    assert_eq!(everything.describe(), "service binaries from /opt/binaries");

    let from_source = choose(&request(None, Some(other.path())), embedded(), &inside).unwrap();
    assert_eq!(
        from_source,
        BinaryOrigin::FromSource {
            workspace: other.path().to_path_buf(),
            how: SourceTree::Asked,
        }
    );
    assert_eq!(
        from_source.describe(),
        format!(
            "building the services from source in {} (--from-source)",
            other.path().display()
        )
    );

    let from_embedded = choose(&request(None, None), embedded(), &inside).unwrap();
    assert_eq!(from_embedded, BinaryOrigin::Embedded(embedded().unwrap()));
    assert_eq!(
        from_embedded.describe(),
        "service binaries embedded in this mysfits"
    );

    let around = choose(&request(None, None), None, &inside).unwrap();
    assert_eq!(
        around,
        BinaryOrigin::FromSource {
            workspace: checkout.path().to_path_buf(),
            how: SourceTree::AroundCurrentDirectory,
        }
    );
    assert_eq!(
        around.describe(),
        format!(
            "building the services from source in {} (the mysfits checkout around the current directory)",
            checkout.path().display()
        )
    );
}

#[test]
fn a_relative_from_source_is_taken_from_the_current_directory() {
    let checkout = fake_checkout();
    let parent = checkout.path().parent().unwrap();
    let name = checkout.path().file_name().unwrap();
    let origin = choose(&request(None, Some(Path::new(name))), None, parent).unwrap();
    assert_eq!(
        origin,
        BinaryOrigin::FromSource {
            workspace: checkout.path().to_path_buf(),
            how: SourceTree::Asked,
        }
    );
}

#[test]
fn the_checkout_is_found_only_with_cargo_toml_and_every_service() {
    let checkout = fake_checkout();
    assert_eq!(
        find_workspace(&checkout.path().join("src/deep")),
        Some(checkout.path().to_path_buf())
    );
    std::fs::remove_file(checkout.path().join("services/like-service/Cargo.toml")).unwrap();
    assert_eq!(find_workspace(&checkout.path().join("src/deep")), None);
    let bare = tempfile::tempdir().unwrap();
    assert_eq!(find_workspace(bare.path()), None);
}

#[test]
fn from_source_that_is_not_a_checkout_is_refused_with_the_whole_message() {
    let elsewhere = tempfile::tempdir().unwrap();
    let error = choose(
        &request(None, Some(elsewhere.path())),
        embedded(),
        Path::new("/"),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} is not a mysfits source checkout: it needs a Cargo.toml and services/mysfits-service and services/like-service\n  \
             fix: pass --from-source the directory of mysfits' own Cargo.toml (a clone of https://github.com/mysfits/mysfits)",
            elsewhere.path().display()
        )
    );
}

fn no_binaries_message(current_dir: &Path) -> String {
    format!(
        "no service binaries to build the images from: this mysfits embeds none, and {} is not inside a mysfits source checkout\n  \
         fix: pass --prebuilt-binaries DIR (static builds of mysfits-service and like-service; MYSFITS_PREBUILT_BINARIES works too), \
         pass --from-source DIR (a mysfits source checkout; needs Rust with the x86_64-unknown-linux-gnu target), \
         or use a mysfits built by scripts/dist, which embeds them",
        current_dir.display()
    )
}

#[test]
fn with_nothing_to_build_from_the_error_names_the_three_ways() {
    let elsewhere = tempfile::tempdir().unwrap();
    let error = choose(&request(None, None), None, elsewhere.path()).unwrap_err();
    assert_eq!(error.to_string(), no_binaries_message(elsewhere.path()));
}

/// The real binary (built without MYSFITS_EMBED_SERVICES, so it embeds nothing) in a directory
/// outside any checkout: `build` refuses before building anything, `deploy` before any AWS call.
#[test]
fn the_cli_outside_a_checkout_without_binaries_says_how_to_get_them() {
    for command in ["build", "deploy"] {
        let mysfits = Mysfits::new();
        let directory = mysfits.file("here", "").parent().unwrap().to_path_buf();
        let directory = directory.canonicalize().unwrap();
        let run = mysfits.run(&["--region", "us-east-1", command]);
        assert_eq!(run.code(), 2, "{command}: {}", run.stderr());
        assert_eq!(
            run.stderr(),
            format!("error: {}\n", no_binaries_message(&directory)),
            "{command}"
        );
    }
}

// ---------------------------------------------------------------- the layer cache

fn inputs() -> BuildInputs {
    BuildInputs {
        ca_bundle: "-----BEGIN CERTIFICATE-----\ncache\n-----END CERTIFICATE-----\n".into(),
        metadata: ImageMetadata {
            source: "https://example.com/mysfits".into(),
            revision: "cache".into(),
            version: "1.0.0".into(),
            created: "1970-01-01T00:00:00Z".into(),
            mtime: 0,
        },
    }
}

fn files(directory: &Path) -> BTreeMap<&'static str, ServiceBinary> {
    SERVICES
        .iter()
        .map(|service| {
            (
                service.name,
                ServiceBinary::File(directory.join(service.name)),
            )
        })
        .collect()
}

async fn build(binaries: &Path, cache: &LayerCache) -> ImageBuild {
    build_images(&files(binaries), &inputs(), cache)
        .await
        .unwrap()
}

fn digests(build: &ImageBuild) -> Vec<String> {
    build
        .images
        .iter()
        .map(|image| image.digest().to_string())
        .collect()
}

/// The cache's entries (`<key>.tar.gz` and `<key>.json` per layer).
fn entries(directory: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    entries
}

#[tokio::test]
async fn a_second_build_reads_every_layer_from_the_cache_and_gives_the_same_digests() {
    let binaries = tempfile::tempdir().unwrap();
    fake_binaries(binaries.path());
    let cache_root = tempfile::tempdir().unwrap();
    let cache = LayerCache::at(&cache_root.path().join("layers"));
    let uncached = build(binaries.path(), &LayerCache::disabled()).await;

    let first = build(binaries.path(), &cache).await;
    assert_eq!(
        (first.layers_from_cache, first.layers_built),
        (0, 3),
        "a base layer and one layer per service"
    );
    assert_eq!(entries(&cache_root.path().join("layers")).len(), 6);
    let second = build(binaries.path(), &cache).await;
    assert_eq!((second.layers_from_cache, second.layers_built), (3, 0));
    assert!(
        second.cache_problems.is_empty(),
        "{:?}",
        second.cache_problems
    );
    assert_eq!(digests(&second), digests(&first));
    assert_eq!(
        digests(&first),
        digests(&uncached),
        "the cache changes no byte"
    );

    // A changed binary: a new layer and a new image for that service only.
    let mysfits = binaries.path().join("mysfits-service");
    let mut bytes = std::fs::read(&mysfits).unwrap();
    bytes.push(1);
    std::fs::write(&mysfits, bytes).unwrap();
    let changed = build(binaries.path(), &cache).await;
    assert_eq!((changed.layers_from_cache, changed.layers_built), (2, 1));
    assert_ne!(changed.images[0].digest(), first.images[0].digest());
    assert_eq!(changed.images[1].digest(), first.images[1].digest());
    assert_eq!(
        digests(&changed),
        digests(&build(binaries.path(), &LayerCache::disabled()).await)
    );
}

#[tokio::test]
async fn a_corrupted_cache_entry_is_rebuilt_with_a_note() {
    let binaries = tempfile::tempdir().unwrap();
    fake_binaries(binaries.path());
    let directory = tempfile::tempdir().unwrap();
    let cache = LayerCache::at(directory.path());
    let first = build(binaries.path(), &cache).await;
    let damaged: Vec<PathBuf> = entries(directory.path())
        .into_iter()
        .filter(|path| path.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    for path in &damaged {
        std::fs::write(path, b"not gzip").unwrap();
    }
    let again = build(binaries.path(), &cache).await;
    assert_eq!((again.layers_from_cache, again.layers_built), (0, 3));
    assert_eq!(digests(&again), digests(&first));
    let mut expected: Vec<String> = damaged
        .iter()
        .map(|path| {
            format!(
                "ignored the cached layer {}: its digest is {}, not {}; building it again",
                path.display(),
                mysfits::image::layer::sha256_digest(b"not gzip"),
                digest_in_entry(path)
            )
        })
        .collect();
    let mut problems = again.cache_problems.clone();
    expected.sort();
    problems.sort();
    assert_eq!(problems, expected);
    // Rewritten: the third build reads them again.
    let third = build(binaries.path(), &cache).await;
    assert_eq!((third.layers_from_cache, third.layers_built), (3, 0));
}

fn digest_in_entry(layer: &Path) -> String {
    let entry = layer.to_string_lossy().replace(".tar.gz", ".json");
    let entry: serde_json::Value = serde_json::from_slice(&std::fs::read(entry).unwrap()).unwrap();
    entry["digest"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_unwritable_cache_is_skipped_with_a_note() {
    let binaries = tempfile::tempdir().unwrap();
    fake_binaries(binaries.path());
    let root = tempfile::tempdir().unwrap();
    // A file where the cache directory should be: nothing can be created under it.
    let blocked = root.path().join("layers");
    std::fs::write(&blocked, "").unwrap();
    let build = build(binaries.path(), &LayerCache::at(&blocked)).await;
    assert_eq!((build.layers_from_cache, build.layers_built), (0, 3));
    assert_eq!(build.images.len(), 2);
    let note = format!(
        "cannot write the layer cache {}: File exists (os error 17); the next build compresses the layers again (fix: make it writable, or set MYSFITS_CACHE_DIR)",
        blocked.display()
    );
    assert_eq!(build.cache_problems, vec![note; 3]);
}

#[test]
fn the_cache_lives_in_mysfits_cache_dir_else_the_xdg_cache_else_home() {
    fn variables(pairs: &[(&str, &str)]) -> Option<PathBuf> {
        LayerCache::from_variables(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.into())
        })
        .directory
    }
    let all = [
        ("MYSFITS_CACHE_DIR", "/m"),
        ("XDG_CACHE_HOME", "/x"),
        ("HOME", "/h"),
    ];
    assert_eq!(variables(&all), Some(PathBuf::from("/m/layers")));
    assert_eq!(
        variables(&all[1..]),
        Some(PathBuf::from("/x/mysfits/layers"))
    );
    assert_eq!(
        variables(&all[2..]),
        Some(PathBuf::from("/h/.cache/mysfits/layers"))
    );
    assert_eq!(
        variables(&[("XDG_CACHE_HOME", ""), ("HOME", "/h")]),
        Some(PathBuf::from("/h/.cache/mysfits/layers")),
        "an empty variable counts as unset"
    );
    assert_eq!(variables(&[]), None);
}
