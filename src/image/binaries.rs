//! Where the service binaries come from: a static `cargo build` of the services, or a directory of
//! binaries built earlier (CI artifacts, tests). Both are checked to be static x86_64 Linux
//! executables, because a dynamic one would fail in the image only at start, with "no such file".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::progress::Events;

use super::{ImageError, SERVICES};

/// The one target the images run on (ECS Fargate x86_64), built with glibc linked in statically.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";
pub const STATIC_RUSTFLAGS: &str = "-C target-feature=+crt-static";

/// Supplies one executable per service, by binary name.
pub trait BinarySource {
    fn binaries(
        &self,
        events: &Events,
        step: &str,
    ) -> impl Future<Output = Result<BTreeMap<&'static str, PathBuf>, ImageError>> + Send;
}

/// Binaries that were built before, found by name in a directory.
#[derive(Debug, Clone)]
pub struct PrebuiltBinaries {
    pub directory: PathBuf,
}

impl BinarySource for PrebuiltBinaries {
    async fn binaries(
        &self,
        _events: &Events,
        _step: &str,
    ) -> Result<BTreeMap<&'static str, PathBuf>, ImageError> {
        let mut found = BTreeMap::new();
        for service in &SERVICES {
            let path = self.directory.join(service.name);
            if !path.is_file() {
                return Err(ImageError::Binary {
                    path,
                    problem: format!("there is no {} binary here", service.name),
                    fix: format!(
                        "build it with `RUSTFLAGS=\"{STATIC_RUSTFLAGS}\" cargo build --release --target {TARGET} -p {}` and pass --prebuilt-binaries target/{TARGET}/release",
                        service.name
                    ),
                });
            }
            found.insert(service.name, path);
        }
        Ok(found)
    }
}

/// `cargo build --release` of the services, static, from the workspace this CLI was built from.
#[derive(Debug, Clone)]
pub struct CargoBuild {
    pub workspace: PathBuf,
    /// Cargo profile: `release` for images; tests may use `dev` to compile faster.
    pub profile: String,
}

impl CargoBuild {
    /// The workspace whose `services/` this binary was compiled next to.
    pub fn from_source_tree() -> CargoBuild {
        CargoBuild {
            workspace: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            profile: "release".to_string(),
        }
    }

    /// The cargo command line, for messages and for running.
    pub fn command_line(&self) -> Vec<String> {
        let mut arguments = vec![
            "build".to_string(),
            "--profile".to_string(),
            self.profile.clone(),
            "--target".to_string(),
            TARGET.to_string(),
            "--message-format=json-render-diagnostics".to_string(),
        ];
        for service in &SERVICES {
            arguments.push("-p".to_string());
            arguments.push(service.name.to_string());
        }
        arguments
    }
}

impl BinarySource for CargoBuild {
    async fn binaries(
        &self,
        events: &Events,
        step: &str,
    ) -> Result<BTreeMap<&'static str, PathBuf>, ImageError> {
        let manifest = self.workspace.join("Cargo.toml");
        if !self.workspace.join("services").is_dir() || !manifest.is_file() {
            return Err(ImageError::Binary {
                path: self.workspace.join("services"),
                problem: "the service sources are not where this mysfits binary was built".into(),
                fix: format!(
                    "run mysfits from its source checkout, or pass --prebuilt-binaries DIR with static builds of {} (MYSFITS_PREBUILT_BINARIES works too)",
                    service_names()
                ),
            });
        }
        let arguments = self.command_line();
        events.note(
            step,
            format!(
                "RUSTFLAGS=\"{STATIC_RUSTFLAGS}\" cargo {}",
                arguments.join(" ")
            ),
        );
        let output = tokio::process::Command::new("cargo")
            .args(&arguments)
            .current_dir(&self.workspace)
            .env("RUSTFLAGS", STATIC_RUSTFLAGS)
            // Takes precedence over RUSTFLAGS: a caller's value would silently drop crt-static.
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| ImageError::Cargo {
                problem: format!("could not run cargo: {source}"),
                fix: "install Rust (https://rustup.rs) or pass --prebuilt-binaries DIR".into(),
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
            return Err(ImageError::Cargo {
                problem: format!(
                    "cargo {} failed ({}):\n{}",
                    arguments.join(" "),
                    output.status,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ),
                fix: format!(
                    "fix the compile error above; a missing target needs `rustup target add {TARGET}`"
                ),
            });
        }
        let executables = executables_from_cargo_messages(&output.stdout);
        let mut found = BTreeMap::new();
        for service in &SERVICES {
            let path = executables
                .get(service.name)
                .cloned()
                .ok_or_else(|| ImageError::Cargo {
                    problem: format!("cargo built no {} executable", service.name),
                    fix: format!(
                        "check that services/{} has a [[bin]] of that name",
                        service.name
                    ),
                })?;
            found.insert(service.name, path);
        }
        Ok(found)
    }
}

/// Executables by target name, from cargo's `--message-format=json` artifact lines.
fn executables_from_cargo_messages(stdout: &[u8]) -> BTreeMap<String, PathBuf> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter_map(|message| {
            let name = message["target"]["name"].as_str()?.to_string();
            let executable = message["executable"].as_str()?;
            Some((name, PathBuf::from(executable)))
        })
        .collect()
}

fn service_names() -> String {
    SERVICES
        .iter()
        .map(|service| service.name)
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Reads a binary and checks that it runs in an image with nothing else in it: an x86_64 Linux
/// ELF executable without a program interpreter (i.e. statically linked).
pub fn read_static_binary(path: &Path) -> Result<Vec<u8>, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Binary {
        path: path.to_path_buf(),
        problem: format!("cannot read it: {source}"),
        fix: "check the path given to --prebuilt-binaries".into(),
    })?;
    let problem = |problem: &str| ImageError::Binary {
        path: path.to_path_buf(),
        problem: problem.to_string(),
        fix: format!(
            "build it static for {TARGET}: RUSTFLAGS=\"{STATIC_RUSTFLAGS}\" cargo build --release --target {TARGET}"
        ),
    };
    let elf = Elf64::parse(&bytes).ok_or_else(|| problem("not a 64-bit little-endian ELF file"))?;
    if elf.machine != ELF_MACHINE_X86_64 {
        return Err(problem("not an x86_64 executable"));
    }
    if elf.has_interpreter {
        return Err(problem(
            "dynamically linked: it needs a loader and shared libraries the image does not have",
        ));
    }
    Ok(bytes)
}

const ELF_MACHINE_X86_64: u16 = 0x3e;
const PROGRAM_HEADER_INTERPRETER: u32 = 3;

/// The two facts of an ELF header the image needs.
struct Elf64 {
    machine: u16,
    has_interpreter: bool,
}

impl Elf64 {
    fn parse(bytes: &[u8]) -> Option<Elf64> {
        let u16_at = |offset: usize| -> Option<u16> {
            Some(u16::from_le_bytes(
                bytes.get(offset..offset + 2)?.try_into().ok()?,
            ))
        };
        let u32_at = |offset: usize| -> Option<u32> {
            Some(u32::from_le_bytes(
                bytes.get(offset..offset + 4)?.try_into().ok()?,
            ))
        };
        let u64_at = |offset: usize| -> Option<u64> {
            Some(u64::from_le_bytes(
                bytes.get(offset..offset + 8)?.try_into().ok()?,
            ))
        };
        // Magic, 64-bit class, little-endian.
        if bytes.get(0..6)? != b"\x7fELF\x02\x01" {
            return None;
        }
        let machine = u16_at(18)?;
        let program_headers = usize::try_from(u64_at(32)?).ok()?;
        let entry_size = usize::from(u16_at(54)?);
        let count = usize::from(u16_at(56)?);
        let mut has_interpreter = false;
        for index in 0..count {
            let kind = u32_at(program_headers.checked_add(index.checked_mul(entry_size)?)?)?;
            has_interpreter |= kind == PROGRAM_HEADER_INTERPRETER;
        }
        Some(Elf64 {
            machine,
            has_interpreter,
        })
    }
}
