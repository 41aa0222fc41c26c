//! The service binaries: a static `cargo build` of the services, a directory of binaries built
//! earlier (CI artifacts, tests), or the ones a dist build embedded (see [`super::source`] for
//! which). All are checked to be static x86_64 Linux executables, because a dynamic one would fail
//! in the image only at start, with "no such file".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::progress::{Event, Events};

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

/// `cargo build` of the services, static, in a mysfits source checkout (`--from-source DIR`, or the
/// checkout around the current directory).
#[derive(Debug, Clone)]
pub struct CargoBuild {
    pub workspace: PathBuf,
    /// Cargo profile: `release` for images; tests may use `dev` to compile faster.
    pub profile: String,
}

impl CargoBuild {
    /// The release build of the services in `workspace`.
    pub fn release(workspace: &Path) -> CargoBuild {
        CargoBuild {
            workspace: workspace.to_path_buf(),
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

    /// Runs cargo, turning its JSON messages into progress events; the executables it built.
    async fn run_cargo(
        &self,
        events: &Events,
        step: &str,
    ) -> Result<BTreeMap<String, PathBuf>, ImageError> {
        let arguments = self.command_line();
        events.note(
            step,
            format!(
                "RUSTFLAGS=\"{STATIC_RUSTFLAGS}\" cargo {}",
                arguments.join(" ")
            ),
        );
        let mut child = tokio::process::Command::new("cargo")
            .args(&arguments)
            .current_dir(&self.workspace)
            .env("RUSTFLAGS", STATIC_RUSTFLAGS)
            // Takes precedence over RUSTFLAGS: a caller's value would silently drop crt-static.
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ImageError::Cargo {
                problem: format!("could not run cargo: {source}"),
                fix: "install Rust (https://rustup.rs), or pass --prebuilt-binaries DIR".into(),
            })?;
        let stderr = child.stderr.take().map(read_all);
        let mut progress = CargoProgress::default();
        if let Some(stdout) = child.stdout.take() {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(message) = progress.observe(&line) {
                    events.emit(Event::Progress {
                        step: step.to_string(),
                        message,
                    });
                }
            }
        }
        let stderr = match stderr {
            Some(task) => task.await.unwrap_or_default(),
            None => String::new(),
        };
        let status = child.wait().await.map_err(|source| ImageError::Cargo {
            problem: format!("cargo did not finish: {source}"),
            fix: "run the cargo command above by hand to see why".into(),
        })?;
        if !status.success() {
            let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
            return Err(ImageError::Cargo {
                problem: format!(
                    "cargo {} failed ({status}):\n{}",
                    arguments.join(" "),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ),
                fix: format!(
                    "fix the compile error above; a missing target needs `rustup target add {TARGET}`"
                ),
            });
        }
        Ok(progress.executables)
    }
}

impl BinarySource for CargoBuild {
    async fn binaries(
        &self,
        events: &Events,
        step: &str,
    ) -> Result<BTreeMap<&'static str, PathBuf>, ImageError> {
        if !super::source::is_workspace(&self.workspace) {
            return Err(ImageError::NotAWorkspace {
                path: self.workspace.clone(),
            });
        }
        let executables = self.run_cargo(events, step).await?;
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

/// Collects a child's stderr in the background, so a chatty cargo never blocks on a full pipe.
fn read_all(mut stream: tokio::process::ChildStderr) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes).await;
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// What cargo's `--message-format=json` lines say: crates compiled so far, and executables.
#[derive(Debug, Default)]
pub struct CargoProgress {
    pub crates: usize,
    pub executables: BTreeMap<String, PathBuf>,
}

impl CargoProgress {
    /// Takes one line of cargo's stdout; a progress message when it finished a crate.
    pub fn observe(&mut self, line: &str) -> Option<String> {
        let message = serde_json::from_str::<serde_json::Value>(line).ok()?;
        if message["reason"] != "compiler-artifact" {
            return None;
        }
        let name = message["target"]["name"].as_str()?;
        // Build scripts are steps of a crate, not crates.
        if message["target"]["kind"][0] == "custom-build" {
            return None;
        }
        if let Some(executable) = message["executable"].as_str() {
            self.executables
                .insert(name.to_string(), PathBuf::from(executable));
        }
        self.crates += 1;
        let crates = if self.crates == 1 { "crate" } else { "crates" };
        Some(format!("compiling: {} {crates} built… {name}", self.crates))
    }
}

/// Reads a binary and checks that it runs in an image with nothing else in it: an x86_64 Linux
/// ELF executable without a program interpreter (i.e. statically linked).
pub fn read_static_binary(path: &Path) -> Result<Vec<u8>, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Binary {
        path: path.to_path_buf(),
        problem: format!("cannot read it: {source}"),
        fix: "check the path given to --prebuilt-binaries".into(),
    })?;
    check_static_binary(path, &bytes)?;
    Ok(bytes)
}

/// Checks that `bytes` (from `path`, for messages) are a static x86_64 Linux executable.
pub fn check_static_binary(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let problem = |problem: &str| ImageError::Binary {
        path: path.to_path_buf(),
        problem: problem.to_string(),
        fix: format!(
            "build it static for {TARGET}: RUSTFLAGS=\"{STATIC_RUSTFLAGS}\" cargo build --release --target {TARGET}"
        ),
    };
    let elf = Elf64::parse(bytes).ok_or_else(|| problem("not a 64-bit little-endian ELF file"))?;
    if elf.machine != ELF_MACHINE_X86_64 {
        return Err(problem("not an x86_64 executable"));
    }
    if elf.has_interpreter {
        return Err(problem(
            "dynamically linked: it needs a loader and shared libraries the image does not have",
        ));
    }
    Ok(())
}

/// One service's executable, as the image build takes it.
#[derive(Clone, PartialEq, Eq)]
pub enum ServiceBinary {
    /// A file: prebuilt, or just built by cargo.
    File(PathBuf),
    /// Embedded in this mysfits by a dist build.
    Embedded(&'static [u8]),
}

/// The path, or the size of embedded bytes (never megabytes of them in a message).
impl std::fmt::Debug for ServiceBinary {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceBinary::File(path) => write!(formatter, "File({})", path.display()),
            ServiceBinary::Embedded(bytes) => write!(formatter, "Embedded({} bytes)", bytes.len()),
        }
    }
}

impl From<PathBuf> for ServiceBinary {
    fn from(path: PathBuf) -> ServiceBinary {
        ServiceBinary::File(path)
    }
}

impl ServiceBinary {
    /// The bytes of `service`'s executable, checked to run in an image with nothing else in it.
    pub fn read_static(&self, service: &str) -> Result<Bytes, ImageError> {
        match self {
            ServiceBinary::File(path) => read_static_binary(path).map(Bytes::from),
            ServiceBinary::Embedded(bytes) => {
                check_static_binary(&Path::new("(embedded)").join(service), bytes)?;
                Ok(Bytes::from_static(bytes))
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_progress_counts_crates_skips_build_scripts_and_keeps_executables() {
        let mut progress = CargoProgress::default();
        let lines = [
            r#"{"reason":"compiler-artifact","target":{"kind":["custom-build"],"name":"build-script-build"},"executable":null}"#,
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"tokio"},"executable":null}"#,
            r#"{"reason":"compiler-message","message":{}}"#,
            "Compiling is not JSON",
            r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"like-service"},"executable":"/t/like-service"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ];
        let messages: Vec<Option<String>> =
            lines.iter().map(|line| progress.observe(line)).collect();
        assert_eq!(
            messages,
            [
                None,
                Some("compiling: 1 crate built… tokio".to_string()),
                None,
                None,
                Some("compiling: 2 crates built… like-service".to_string()),
                None,
            ]
        );
        assert_eq!(
            progress.executables,
            BTreeMap::from([("like-service".to_string(), PathBuf::from("/t/like-service"))])
        );
    }
}
