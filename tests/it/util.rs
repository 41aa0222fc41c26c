//! Runs the real `mysfits` binary in a temporary directory with a clean environment; compares
//! rendered JSON with the golden files in tests/golden/.

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    #[track_caller]
    pub fn assert_success(&self) -> &Run {
        assert_eq!(
            self.code(),
            0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// A `mysfits` command in its own temp directory (so no stray mysfits.yaml is picked up), with
/// AWS and MYSFITS variables of the calling shell removed.
pub struct Mysfits {
    command: Command,
    directory: tempfile::TempDir,
}

impl Mysfits {
    pub fn new() -> Mysfits {
        let directory = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_mysfits"));
        command.current_dir(directory.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") || key.starts_with("MYSFITS_") {
                command.env_remove(key);
            }
        }
        command
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("NO_COLOR", "1")
            // Layers cached by one test never reach the developer's own cache.
            .env("MYSFITS_CACHE_DIR", directory.path().join(".cache"));
        Mysfits { command, directory }
    }

    /// Writes a file into the command's working directory and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.directory.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn envs(mut self, pairs: Vec<(String, String)>) -> Mysfits {
        self.command.envs(pairs);
        self
    }

    pub fn run(mut self, args: &[&str]) -> Run {
        let output = self.command.args(args).output().unwrap();
        Run { output }
    }
}

/// The notes (progress remarks) sent so far on an event channel, in order.
pub fn notes(
    receiver: &mut tokio::sync::mpsc::UnboundedReceiver<mysfits::progress::Event>,
) -> Vec<String> {
    let mut notes = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        if let mysfits::progress::Event::Note { message, .. } = event {
            notes.push(message);
        }
    }
    notes
}

/// Compares `actual` with `tests/golden/NAME.json` and shows a line diff when they differ.
/// `UPDATE_GOLDEN=1` rewrites the file instead: review the rewrite with `git diff tests/golden`.
#[track_caller]
pub fn assert_golden(name: &str, actual: &serde_json::Value) {
    let path = testbed::workspace_root()
        .join("tests/golden")
        .join(format!("{name}.json"));
    let rendered = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1 once", path.display()));
    pretty_assertions::assert_str_eq!(
        expected,
        rendered,
        "{name} differs from {} (< golden, > now; UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}
