//! Service images: reproducible layers and configs, pushes to a real registry (Debian's
//! docker-registry with basic auth, standing in for ECR) checked with skopeo and the registry's own
//! access log, the ECR auth token flow against modeled responses, and the real mysfits-service
//! image run with podman.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use aws_sdk_ecr::operation::describe_repositories::{
    DescribeRepositoriesError, DescribeRepositoriesOutput,
};
use aws_sdk_ecr::operation::get_authorization_token::{
    GetAuthorizationTokenError, GetAuthorizationTokenOutput,
};
use aws_sdk_ecr::types::{AuthorizationData, Repository};
use aws_smithy_mocks::{mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;
use base64::Engine;
use mysfits::aws::ecr::{
    RegistryCredentials, is_repository_uri, registry_credentials, repository_uri,
};
use mysfits::image::{
    self, BinarySource, BuildInputs, CargoBuild, Destination, Image, ImageError, ImageMetadata,
    LayerCache, SERVICES, ServiceBinary, build_images, push_images,
};
use mysfits::progress::Events;
use serde_json::Value;
use testbed::moto::Moto;
use testbed::registry::{MOTO_ECR_PASSWORD, MOTO_ECR_USER, Registry};

use crate::util::{Mysfits, Run};

// ---------------------------------------------------------------- helpers

/// A file the image builder accepts as a static x86_64 executable: an ELF64 header without
/// program headers (so no interpreter), followed by `size` pseudo-random bytes from `seed`.
fn fake_static_binary(seed: u64, size: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; 64];
    bytes[0..6].copy_from_slice(b"\x7fELF\x02\x01");
    bytes[18..20].copy_from_slice(&0x3eu16.to_le_bytes());
    bytes[32..40].copy_from_slice(&64u64.to_le_bytes());
    bytes[54..56].copy_from_slice(&56u16.to_le_bytes());
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    bytes.extend((0..size).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // Half the bytes constant, so the layer compresses a little, like a real binary.
        if state.is_multiple_of(2) {
            0
        } else {
            (state >> 24) as u8
        }
    }));
    bytes
}

/// A directory with both service binaries, distinct per service.
fn binaries_directory(seed: u64) -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    for (index, service) in SERVICES.iter().enumerate() {
        std::fs::write(
            directory.path().join(service.name),
            fake_static_binary(seed + index as u64, 300_000),
        )
        .unwrap();
    }
    directory
}

fn binary_paths(directory: &Path) -> BTreeMap<&'static str, ServiceBinary> {
    SERVICES
        .iter()
        .map(|service| (service.name, directory.join(service.name).into()))
        .collect()
}

/// The images of `binaries`, without the layer cache (tests/it/binary_sources.rs pins it).
async fn build_uncached(
    binaries: &BTreeMap<&'static str, ServiceBinary>,
    inputs: &BuildInputs,
) -> Result<Vec<Image>, ImageError> {
    Ok(build_images(binaries, inputs, &LayerCache::disabled())
        .await?
        .images)
}

fn inputs() -> BuildInputs {
    BuildInputs {
        ca_bundle: "-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n".into(),
        metadata: ImageMetadata {
            source: "https://example.com/mysfits".into(),
            revision: "0123456789abcdef".into(),
            version: "1.2.3".into(),
            created: "1970-01-01T00:00:00Z".into(),
            mtime: 0,
        },
    }
}

async fn build(directory: &Path) -> Vec<Image> {
    build_uncached(&binary_paths(directory), &inputs())
        .await
        .unwrap()
}

fn image<'a>(images: &'a [Image], service: &str) -> &'a Image {
    images
        .iter()
        .find(|image| image.service == service)
        .unwrap()
}

/// (path, mode, uid, gid, mtime, size) of every entry of a gzip-compressed tar layer.
fn layer_entries(blob: &image::Blob) -> Vec<(String, u32, u64, u64, u64, u64)> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&blob.data[..])
        .read_to_end(&mut tar)
        .unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let header = entry.header();
            (
                entry.path().unwrap().display().to_string(),
                header.mode().unwrap(),
                header.uid().unwrap(),
                header.gid().unwrap(),
                header.mtime().unwrap(),
                header.size().unwrap(),
            )
        })
        .collect()
}

fn layer_file(blob: &image::Blob, path: &str) -> String {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&blob.data[..])
        .read_to_end(&mut tar)
        .unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().display().to_string() == path {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            return text;
        }
    }
    panic!("{path} is not in the layer");
}

/// `mysfits.yaml` sending AWS calls to moto and each region's pushes to its registry.
fn push_config(moto: &Moto, registries: &[(&str, &Registry)]) -> String {
    let mut yaml = format!("endpoint_url: {}\nregions:\n", moto.endpoint());
    for (region, registry) in registries {
        yaml.push_str(&format!(
            "  {region}:\n    registry_url: {}\n",
            registry.url()
        ));
    }
    yaml
}

async fn create_repositories(moto: &Moto, region: &str, app: &str) -> Vec<String> {
    let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config(region));
    let mut uris = Vec::new();
    for service in &SERVICES {
        let created = ecr
            .create_repository()
            .repository_name(format!("{app}/{}", service.name))
            .send()
            .await
            .unwrap();
        uris.push(
            created
                .repository()
                .and_then(|repository| repository.repository_uri())
                .unwrap()
                .to_string(),
        );
    }
    uris
}

fn run_build(moto: &Moto, config: &str, binaries: &Path, regions: &[&str]) -> Run {
    let mysfits = Mysfits::new().envs(moto.client_env());
    let config_path = mysfits.file("mysfits.yaml", config);
    let mut args = vec![
        "--config".to_string(),
        config_path.display().to_string(),
        "--region".to_string(),
        regions[0].to_string(),
    ];
    if let Some(secondary) = regions.get(1) {
        args.push("--secondary-region".into());
        args.push(secondary.to_string());
    }
    args.extend(
        [
            "--output",
            "json",
            "build",
            "--push",
            "--prebuilt-binaries",
            &binaries.display().to_string(),
        ]
        .map(str::to_string),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    mysfits.run(&args)
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout())
        .unwrap_or_else(|error| panic!("{error}: {}\n{}", run.stdout(), run.stderr()))
}

/// The push report of `service` in `region` from `build --push --output json`.
fn pushed<'a>(report: &'a Value, region: &str, service: &str) -> &'a Value {
    report["pushes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|push| push["region"] == region)
        .and_then(|push| {
            push["images"]
                .as_array()
                .unwrap()
                .iter()
                .find(|image| image["service"] == service)
        })
        .unwrap_or_else(|| panic!("no push of {service} in {region}: {report:#}"))
}

// ---------------------------------------------------------------- building

#[tokio::test]
async fn the_same_inputs_give_the_same_digests() {
    let binaries = binaries_directory(1);
    let first = build(binaries.path()).await;
    let second = build(binaries.path()).await;
    for (one, other) in first.iter().zip(&second) {
        assert_eq!(one.digest(), other.digest(), "{}", one.service);
        assert_eq!(one.config, other.config);
        assert_eq!(one.layers, other.layers);
    }
    // Both services share the base layer byte for byte.
    assert_eq!(first[0].layers[0], first[1].layers[0]);
    assert_ne!(first[0].digest(), first[1].digest());
}

#[tokio::test]
async fn a_changed_binary_changes_only_its_own_layer() {
    let binaries = binaries_directory(1);
    let before = build(binaries.path()).await;
    std::fs::write(
        binaries.path().join("mysfits-service"),
        fake_static_binary(99, 300_000),
    )
    .unwrap();
    let after = build(binaries.path()).await;
    let (old, new) = (
        image(&before, "mysfits-service"),
        image(&after, "mysfits-service"),
    );
    assert_eq!(old.layers[0], new.layers[0], "base layer must not change");
    assert_ne!(old.layers[1].digest, new.layers[1].digest);
    assert_ne!(old.config.digest, new.config.digest, "diff_ids changed");
    assert_ne!(old.digest(), new.digest());
    let (old_like, new_like) = (
        image(&before, "like-service"),
        image(&after, "like-service"),
    );
    assert_eq!(old_like.digest(), new_like.digest());
}

#[tokio::test]
async fn layers_carry_fixed_metadata_and_a_non_root_user() {
    let binaries = binaries_directory(1);
    let mut inputs = inputs();
    inputs.metadata.mtime = 1_700_000_000;
    let images = build_uncached(&binary_paths(binaries.path()), &inputs)
        .await
        .unwrap();
    let service = image(&images, "mysfits-service");
    let base = layer_entries(&service.layers[0]);
    let paths: Vec<&str> = base.iter().map(|entry| entry.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "etc/",
            "etc/group",
            "etc/passwd",
            "etc/ssl/",
            "etc/ssl/certs/",
            "etc/ssl/certs/ca-certificates.crt",
            "home/nonroot/",
            "tmp/"
        ]
    );
    for (path, mode, uid, gid, mtime, _) in &base {
        assert_eq!(*mtime, 1_700_000_000, "{path}");
        let expected_owner = if path == "home/nonroot/" { 65532 } else { 0 };
        assert_eq!((*uid, *gid), (expected_owner, expected_owner), "{path}");
        if path == "tmp/" {
            assert_eq!(*mode, 0o1777);
        }
    }
    assert!(
        layer_file(&service.layers[0], "etc/passwd")
            .contains("nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin")
    );
    assert_eq!(
        layer_file(&service.layers[0], "etc/ssl/certs/ca-certificates.crt"),
        "-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"
    );
    let binary = layer_entries(&service.layers[1]);
    assert_eq!(binary.len(), 1);
    assert_eq!(binary[0].0, "mysfits-service");
    assert_eq!(binary[0].1, 0o755);
    assert_eq!(binary[0].5, 64 + 300_000);

    let config: Value = serde_json::from_slice(&service.config.data).unwrap();
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(config["config"]["Entrypoint"][0], "/mysfits-service");
    assert!(config["config"]["ExposedPorts"]["8080/tcp"].is_object());
    let labels = &config["config"]["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://example.com/mysfits"
    );
    assert_eq!(
        labels["org.opencontainers.image.revision"],
        "0123456789abcdef"
    );
    assert_eq!(labels["org.opencontainers.image.version"], "1.2.3");
    assert_eq!(
        config["rootfs"]["diff_ids"].as_array().unwrap().len(),
        2,
        "{config:#}"
    );
    let manifest: Value = serde_json::from_slice(&service.manifest.data).unwrap();
    assert_eq!(manifest["config"]["digest"], service.config.digest.as_str());
    assert_eq!(
        manifest["layers"][1]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(service.tag(), format!("1.2.3-{}", &service.digest()[7..19]));
}

#[test]
fn source_date_epoch_sets_the_date_and_must_be_a_number() {
    let binaries = binaries_directory(1);
    let build_with = |epoch: &str| {
        Mysfits::new()
            .envs(vec![("SOURCE_DATE_EPOCH".to_string(), epoch.to_string())])
            .run(&[
                "--region",
                "us-east-1",
                "--output",
                "json",
                "build",
                "--prebuilt-binaries",
                &binaries.path().display().to_string(),
            ])
    };
    let bad = build_with("yesterday");
    assert_eq!(bad.code(), 2);
    assert!(
        bad.stderr().contains("SOURCE_DATE_EPOCH=\"yesterday\""),
        "{}",
        bad.stderr()
    );
    assert!(bad.stderr().contains("fix:"), "{}", bad.stderr());

    let dated = build_with("1700000000");
    dated.assert_success();
    let undated = build_with("0");
    undated.assert_success();
    assert_ne!(json(&dated)["images"], json(&undated)["images"]);
    assert_eq!(json(&undated)["images"], json(&build_with("0"))["images"]);
}

#[tokio::test]
async fn binaries_that_cannot_run_in_the_image_are_refused_with_a_fix() {
    let directory = tempfile::tempdir().unwrap();
    // The test executable itself is a dynamically linked ELF.
    let dynamic = std::env::current_exe().unwrap();
    std::fs::copy(&dynamic, directory.path().join("mysfits-service")).unwrap();
    std::fs::write(directory.path().join("like-service"), "#!/bin/sh\n").unwrap();
    let error = build_uncached(&binary_paths(directory.path()), &inputs())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("dynamically linked") || message.contains("not a 64-bit"),
        "{message}"
    );
    assert!(message.contains("crt-static"), "{message}");

    let script = image::binaries::read_static_binary(&directory.path().join("like-service"))
        .unwrap_err()
        .to_string();
    assert!(
        script.contains("not a 64-bit little-endian ELF"),
        "{script}"
    );

    let missing = image::PrebuiltBinaries {
        directory: directory.path().join("nowhere"),
    }
    .binaries(&Events::discard(), "build")
    .await
    .unwrap_err()
    .to_string();
    assert!(
        missing.contains("there is no mysfits-service binary"),
        "{missing}"
    );
    assert!(missing.contains("--prebuilt-binaries"), "{missing}");
}

#[test]
fn the_static_cargo_build_targets_linux_gnu_with_both_services() {
    let build = CargoBuild::release(&testbed::workspace_root());
    assert_eq!(build.profile, "release");
    let line = build.command_line().join(" ");
    assert!(
        line.starts_with("build --profile release --target x86_64-unknown-linux-gnu"),
        "{line}"
    );
    assert!(
        line.contains("-p mysfits-service -p like-service"),
        "{line}"
    );
    assert_eq!(
        image::binaries::STATIC_RUSTFLAGS,
        "-C target-feature=+crt-static"
    );
}

// ---------------------------------------------------------------- destinations and ECR auth

#[test]
fn destinations_keep_the_ecr_uri_and_follow_registry_url() {
    let uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo/mysfits-service";
    let on_aws = Destination::new(uri, None).unwrap();
    assert_eq!(on_aws.host, "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    assert_eq!(on_aws.repository, "demo/mysfits-service");
    assert!(!on_aws.plain_http);

    let local = Destination::new(uri, Some("http://127.0.0.1:5000/")).unwrap();
    assert_eq!(local.host, "127.0.0.1:5000");
    assert_eq!(local.repository, "demo/mysfits-service");
    assert!(local.plain_http);
    assert_eq!(local.repository_uri, uri);

    let error = Destination::new(uri, Some("ftp://registry"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("registry_url") && error.contains("fix:"),
        "{error}"
    );
    assert!(Destination::new("no-host", None).is_err());

    assert!(is_repository_uri(uri));
    assert!(is_repository_uri("127.0.0.1:5000/demo/like-service"));
    assert!(!is_repository_uri("demo/like-service"));
}

fn token_output(token: &str) -> GetAuthorizationTokenOutput {
    GetAuthorizationTokenOutput::builder()
        .authorization_data(
            AuthorizationData::builder()
                .authorization_token(token)
                .proxy_endpoint("https://123456789012.dkr.ecr.us-east-1.amazonaws.com")
                .build(),
        )
        .build()
}

#[tokio::test]
async fn ecr_auth_tokens_become_basic_credentials() {
    let encoded = base64::engine::general_purpose::STANDARD.encode("AWS:s3cr:et");
    let token = mock!(aws_sdk_ecr::Client::get_authorization_token)
        .then_output(move || token_output(&encoded));
    let client = mock_client!(aws_sdk_ecr, [&token]);
    let credentials = registry_credentials(&client, "us-east-1").await.unwrap();
    assert_eq!(
        credentials,
        RegistryCredentials {
            username: "AWS".into(),
            password: "s3cr:et".into()
        }
    );
    assert!(
        !format!("{credentials:?}").contains("s3cr"),
        "password leaks into Debug"
    );
    assert_eq!(token.num_calls(), 1);
}

#[tokio::test]
async fn unusable_ecr_auth_answers_are_named() {
    for (token, why) in [
        ("%%%", "not base64"),
        (
            base64::engine::general_purpose::STANDARD
                .encode("no-colon")
                .leak() as &str,
            "not `user:password`",
        ),
    ] {
        let token = token.to_string();
        let rule = mock!(aws_sdk_ecr::Client::get_authorization_token)
            .then_output(move || token_output(&token));
        let client = mock_client!(aws_sdk_ecr, [&rule]);
        let error = registry_credentials(&client, "us-east-1")
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(why), "{error}");
        assert!(error.contains("ecr:GetAuthorizationToken"), "{error}");
        assert!(error.contains("fix:"), "{error}");
    }

    let empty = mock!(aws_sdk_ecr::Client::get_authorization_token)
        .then_output(|| GetAuthorizationTokenOutput::builder().build());
    let client = mock_client!(aws_sdk_ecr, [&empty]);
    let error = registry_credentials(&client, "us-east-1")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("no authorization token"), "{error}");
}

#[tokio::test]
async fn ecr_auth_denied_points_at_the_iam_policy() {
    let denied = mock!(aws_sdk_ecr::Client::get_authorization_token).then_error(|| {
        GetAuthorizationTokenError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not authorized to perform: ecr:GetAuthorizationToken")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_ecr, [&denied]);
    let error = registry_credentials(&client, "eu-west-1")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("eu-west-1"), "{error}");
    assert!(error.contains("AccessDeniedException"), "{error}");
    assert!(error.contains("mysfits iam-policy"), "{error}");
}

#[tokio::test]
async fn repository_uris_come_from_ecr_and_a_missing_one_says_deploy() {
    let found = mock!(aws_sdk_ecr::Client::describe_repositories).then_output(|| {
        DescribeRepositoriesOutput::builder()
            .repositories(
                Repository::builder()
                    .repository_name("demo/like-service")
                    .repository_uri("1234.dkr.ecr.us-east-1.amazonaws.com/demo/like-service")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_ecr, [&found]);
    assert_eq!(
        repository_uri(&client, "us-east-1", "demo/like-service")
            .await
            .unwrap(),
        "1234.dkr.ecr.us-east-1.amazonaws.com/demo/like-service"
    );

    let missing = mock!(aws_sdk_ecr::Client::describe_repositories).then_error(|| {
        DescribeRepositoriesError::RepositoryNotFoundException(
            aws_sdk_ecr::types::error::RepositoryNotFoundException::builder()
                .message("The repository does not exist")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_ecr, [&missing]);
    let error = repository_uri(&client, "us-east-1", "demo/like-service")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("demo/like-service does not exist in us-east-1"),
        "{error}"
    );
    assert!(error.contains("mysfits deploy"), "{error}");
}

// ---------------------------------------------------------------- pushing (real registry)

#[test]
fn build_without_push_prints_digests_and_talks_to_no_aws() {
    let binaries = binaries_directory(1);
    let run = || {
        Mysfits::new()
            // Any AWS call would fail against a dead endpoint.
            .envs(vec![(
                "AWS_ENDPOINT_URL".to_string(),
                testbed::dead_endpoint(),
            )])
            .run(&[
                "--region",
                "us-east-1",
                "--output",
                "json",
                "build",
                "--prebuilt-binaries",
                &binaries.path().display().to_string(),
            ])
    };
    let first = run();
    first.assert_success();
    let report = json(&first);
    let images = report["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    for image in images {
        assert!(image["digest"].as_str().unwrap().starts_with("sha256:"));
        assert!(image["compressed_bytes"].as_u64().unwrap() > 100_000);
    }
    assert_eq!(report["pushes"].as_array().unwrap().len(), 0);
    assert_eq!(json(&run())["images"], report["images"], "not reproducible");

    let text = Mysfits::new().run(&[
        "--region",
        "us-east-1",
        "build",
        "--prebuilt-binaries",
        &binaries.path().display().to_string(),
    ]);
    text.assert_success();
    assert!(
        text.stdout().contains("mysfits-service"),
        "{}",
        text.stdout()
    );
    assert!(
        text.stdout()
            .contains(images[0]["digest"].as_str().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server and docker-registry; run scripts/test"]
async fn push_reaches_both_regions_by_digest_and_a_second_push_uploads_nothing() {
    let moto = Moto::start();
    let east = Registry::start();
    let west = Registry::start();
    let east_uris = create_repositories(&moto, "us-east-1", "mysfits").await;
    create_repositories(&moto, "us-west-2", "mysfits").await;
    let config = push_config(&moto, &[("us-east-1", &east), ("us-west-2", &west)]);
    let binaries = binaries_directory(7);
    let regions = ["us-east-1", "us-west-2"];

    let first = run_build(&moto, &config, binaries.path(), &regions);
    first.assert_success();
    let report = json(&first);
    for service in ["mysfits-service", "like-service"] {
        let east_push = pushed(&report, "us-east-1", service);
        let west_push = pushed(&report, "us-west-2", service);
        assert_eq!(east_push["digest"], west_push["digest"], "{service}");
        assert_eq!(east_push["already_present"], false);
        assert_eq!(east_push["blobs_uploaded"], 3, "{east_push:#}");
        assert!(east_push["bytes_uploaded"].as_u64().unwrap() > 100_000);
    }
    // The app stack gets ECR's repository URI with the digest, never a tag.
    let mysfits_push = pushed(&report, "us-east-1", "mysfits-service");
    let digest = mysfits_push["digest"].as_str().unwrap().to_string();
    assert_eq!(
        mysfits_push["image"].as_str().unwrap(),
        format!("{}@{digest}", east_uris[0])
    );
    assert!(first.stderr().contains("uploaded"), "{}", first.stderr());

    for registry in [&east, &west] {
        let reference = format!("mysfits/mysfits-service@{digest}");
        let inspected = registry.inspect(&reference, false);
        assert_eq!(inspected["Digest"], digest.as_str());
        assert_eq!(inspected["Os"], "linux");
        assert_eq!(inspected["Architecture"], "amd64");
        assert_eq!(inspected["Layers"].as_array().unwrap().len(), 2);
        let config = registry.inspect(&reference, true);
        assert_eq!(config["config"]["User"], "65532:65532");
        assert_eq!(config["config"]["Entrypoint"][0], "/mysfits-service");
        assert!(config["config"]["ExposedPorts"]["8080/tcp"].is_object());
        let labels = &config["config"]["Labels"];
        assert_eq!(
            labels["org.opencontainers.image.source"],
            env!("CARGO_PKG_REPOSITORY")
        );
        assert_eq!(
            labels["org.opencontainers.image.version"],
            env!("CARGO_PKG_VERSION")
        );
        assert!(
            !labels["org.opencontainers.image.revision"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    let uploads_after_first = (east.completed_blob_uploads(), west.completed_blob_uploads());
    // 2 images x (base layer + binary layer + config) per registry.
    assert_eq!(uploads_after_first, (6, 6), "{}", east.log());

    // Unchanged images: skipped as a whole, nothing uploaded anywhere.
    let second = run_build(&moto, &config, binaries.path(), &regions);
    second.assert_success();
    let report = json(&second);
    for region in regions {
        for service in ["mysfits-service", "like-service"] {
            let push = pushed(&report, region, service);
            assert_eq!(push["already_present"], true, "{push:#}");
            assert_eq!(push["bytes_uploaded"], 0);
        }
    }
    assert_eq!(
        (east.completed_blob_uploads(), west.completed_blob_uploads()),
        uploads_after_first
    );
    assert!(
        second.stderr().contains("push skipped"),
        "{}",
        second.stderr()
    );

    // One changed binary: its layer and config go up; the shared base layer and the unchanged
    // service stay where they are.
    std::fs::write(
        binaries.path().join("mysfits-service"),
        fake_static_binary(1000, 300_000),
    )
    .unwrap();
    let third = run_build(&moto, &config, binaries.path(), &regions);
    third.assert_success();
    let report = json(&third);
    for region in regions {
        let changed = pushed(&report, region, "mysfits-service");
        assert_eq!(changed["blobs_uploaded"], 2, "{changed:#}");
        assert_eq!(changed["blobs_skipped"], 1, "{changed:#}");
        assert_ne!(changed["digest"], digest.as_str());
        assert_eq!(
            pushed(&report, region, "like-service")["already_present"],
            true
        );
    }
    assert_eq!(
        (east.completed_blob_uploads(), west.completed_blob_uploads()),
        (8, 8)
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server and docker-registry; run scripts/test"]
async fn a_registry_that_refuses_the_ecr_credentials_fails_with_a_fix() {
    let moto = Moto::start();
    let registry = Registry::start_with_credentials(MOTO_ECR_USER, "another-password");
    create_repositories(&moto, "us-east-1", "mysfits").await;
    let config = push_config(&moto, &[("us-east-1", &registry)]);
    let binaries = binaries_directory(1);
    let run = run_build(&moto, &config, binaries.path(), &["us-east-1"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("refused the credentials"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains(&registry.host()), "{}", run.stderr());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs moto_server and docker-registry; run scripts/test"]
async fn pushing_before_the_repositories_exist_says_to_deploy() {
    let moto = Moto::start();
    let registry = Registry::start();
    let config = push_config(&moto, &[("us-east-1", &registry)]);
    let binaries = binaries_directory(1);
    let run = run_build(&moto, &config, binaries.path(), &["us-east-1"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("ECR repository mysfits/mysfits-service does not exist in us-east-1"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("mysfits deploy"), "{}", run.stderr());
    assert_eq!(registry.completed_blob_uploads(), 0);
}

// ---------------------------------------------------------------- running the images

/// A std-only HTTP server that answers with what a container sees: its uid, the CA bundle, the
/// region. Compiled static by rustc in a second, so the runtime check does not wait for cargo.
const PROBE_SERVER: &str = r#"
use std::io::{Read, Write};
fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let listener = std::net::TcpListener::bind(format!("0.0.0.0:{port}")).unwrap();
    for stream in listener.incoming() {
        let mut stream = stream.unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let uid = status.lines().find(|line| line.starts_with("Uid:")).unwrap_or("");
        let body = format!(
            "uid={} ca={} passwd={} region={}",
            uid.split_whitespace().nth(1).unwrap_or("?"),
            std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists(),
            std::fs::read_to_string("/etc/passwd").unwrap_or_default().contains("nonroot:x:65532"),
            std::env::var("AWS_REGION").unwrap_or_default(),
        );
        let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    }
}
"#;

/// Pushes `image` to a fresh registry and runs it with podman; returns the answer to `GET path`.
async fn run_with_podman(image: &Image, path: &str) -> (u16, String) {
    let registry = Registry::start();
    let destination = Destination::new(
        &format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/mysfits/{}",
            image.service
        ),
        Some(&registry.url()),
    )
    .unwrap();
    let credentials = RegistryCredentials {
        username: MOTO_ECR_USER.into(),
        password: MOTO_ECR_PASSWORD.into(),
    };
    let reports = push_images(
        &[image],
        &[destination],
        &credentials,
        &Events::discard(),
        "push",
    )
    .await
    .unwrap_or_else(|error: ImageError| panic!("{error}"));
    let port = testbed::free_port();
    let mut container = testbed::podman::Container::run(
        &reports[0].pushed_to,
        &registry.credentials(),
        &[
            ("PORT", port.to_string()),
            ("DDB_TABLE_NAME", "mysfits-test".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ],
    );
    let answer = container.wait_for_http(port, path, Duration::from_secs(120));
    assert_eq!(answer.0, 200, "{}\n{}", answer.1, container.log());
    answer
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs docker-registry and podman; run scripts/test"]
async fn an_image_runs_under_podman_as_the_non_root_user_with_the_ca_bundle() {
    let directory = tempfile::tempdir().unwrap();
    let source = directory.path().join("probe.rs");
    std::fs::write(&source, PROBE_SERVER).unwrap();
    let compiled = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .args([
            "-O",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "strip=symbols",
        ])
        .args(["--target", image::binaries::TARGET, "-o"])
        .arg(directory.path().join("mysfits-service"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(compiled.success());
    std::fs::copy(
        directory.path().join("mysfits-service"),
        directory.path().join("like-service"),
    )
    .unwrap();
    let inputs = BuildInputs::detect(None).unwrap();
    let images = build_uncached(&binary_paths(directory.path()), &inputs)
        .await
        .unwrap();
    let (_, body) = run_with_podman(image(&images, "mysfits-service"), "/").await;
    assert_eq!(body, "uid=65532 ca=true passwd=true region=us-east-1");
}

/// The real mysfits-service, built static by the CLI's own cargo seam (dev profile: the same
/// flags and target as release, minutes faster to compile), pushed, pulled and run by podman.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "emulator tier: needs docker-registry, podman and a static build of the services; run scripts/test"]
async fn the_mysfits_service_image_runs_under_podman_and_answers_health() {
    let workspace = testbed::workspace_root();
    let cargo = CargoBuild {
        workspace: workspace.clone(),
        profile: "dev".to_string(),
    };
    let binaries = cargo
        .binaries(&Events::discard(), "build")
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let inputs = BuildInputs::detect(image::source::git_revision(&workspace)).unwrap();
    let binaries = binaries
        .into_iter()
        .map(|(name, path)| (name, ServiceBinary::File(path)))
        .collect();
    let images = build_uncached(&binaries, &inputs).await.unwrap();
    let (_, body) = run_with_podman(image(&images, "mysfits-service"), "/health").await;
    assert!(body.contains("us-east-1"), "{body}");
}
