//! The one error type of the CLI. Every variant renders as "what happened: why" followed by what
//! to do next, and maps to a deliberate exit code.

use std::time::Duration;

/// Exit code for any failure (and, for `plan`, for "could not compute the plan").
pub const EXIT_ERROR: u8 = 2;
/// Exit code after Ctrl-C, as shells expect (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag, environment variable or config file value is wrong or missing.
    #[error("{what}\n  fix: {fix}")]
    Config { what: String, fix: String },

    /// No usable AWS credentials (none found, expired, refused) or an unknown profile.
    #[error("{what}\n  fix: {fix}")]
    Credentials { what: String, fix: String },

    /// An AWS API call failed.
    #[error("{operation} in {region} failed: {message}\n  fix: {fix}")]
    Aws {
        operation: String,
        region: String,
        message: String,
        fix: String,
    },

    /// A CloudFormation stack did not reach the state we asked for.
    #[error("stack {stack} in {region} ended in {status}{reasons}\n  fix: {fix}", reasons = format_reasons(.failures))]
    Stack {
        stack: String,
        region: String,
        status: String,
        failures: Vec<ResourceFailure>,
        fix: String,
    },

    /// A bounded wait ran out.
    #[error("gave up waiting for {what} after {waited:?}\n  fix: {fix}")]
    Timeout {
        what: String,
        waited: Duration,
        fix: String,
    },

    /// Building or pushing an image failed.
    #[error(transparent)]
    Image(crate::image::ImageError),

    /// Local file or process IO failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// Several independent steps or calls failed; each is listed.
    #[error("{} failures:\n{}", .0.len(), .0.iter().map(|error| format!("- {error}")).collect::<Vec<_>>().join("\n"))]
    Many(Vec<Error>),

    /// mysfits broke one of its own rules (a plan with a cycle, a step without its input): a bug,
    /// not something the user can fix by changing flags or files.
    #[error(
        "internal error: {what}\n  fix: this is a bug in mysfits; run the command again with -v and report the output (and the command) at https://github.com/mysfits/mysfits/issues"
    )]
    Internal { what: String },

    /// The user pressed Ctrl-C.
    #[error("interrupted\n  fix: run the same command again: it picks up where it stopped")]
    Interrupted,
}

/// One resource CloudFormation reported as failed, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceFailure {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

fn format_reasons(failures: &[ResourceFailure]) -> String {
    failures
        .iter()
        .map(|failure| {
            format!(
                "\n  - {} ({}) {}: {}",
                failure.logical_id, failure.resource_type, failure.status, failure.reason
            )
        })
        .collect()
}

/// A broken invariant of the image builder (a layer that cannot be written in memory, metadata the
/// OCI types refuse) is an internal error like any other; every other image failure keeps its own
/// message and fix.
impl From<crate::image::ImageError> for Error {
    fn from(error: crate::image::ImageError) -> Error {
        use crate::image::ImageError;
        match error {
            ImageError::Layer { what, source } => {
                Error::internal(format!("image builder: {what}: {source}"))
            }
            ImageError::Spec(what) => {
                Error::internal(format!("image builder: invalid image metadata: {what}"))
            }
            other => Error::Image(other),
        }
    }
}

impl Error {
    pub fn config(what: impl Into<String>, fix: impl Into<String>) -> Error {
        Error::Config {
            what: what.into(),
            fix: fix.into(),
        }
    }

    /// A broken invariant of mysfits itself (see [`Error::Internal`]).
    pub fn internal(what: impl Into<String>) -> Error {
        Error::Internal { what: what.into() }
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// The message with its whole cause chain, as printed by `main`.
    pub fn report(&self) -> String {
        let mut text = self.to_string();
        self.append_causes(&mut text);
        text
    }

    /// Appends each cause of the chain that `text` does not already say.
    fn append_causes(&self, text: &mut String) {
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(&format!("\n  caused by: {cause_text}"));
            }
            source = cause.source();
        }
    }

    /// The variant's name as `--output json` reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config",
            Error::Credentials { .. } => "credentials",
            Error::Aws { .. } => "aws",
            Error::Stack { .. } => "stack",
            Error::Timeout { .. } => "timeout",
            Error::Image(_) => "image",
            Error::Io { .. } => "io",
            Error::Many(_) => "many",
            Error::Internal { .. } => "internal",
            Error::Interrupted => "interrupted",
        }
    }

    /// What happened (with its causes) and what to do next, split apart for machine output.
    /// Every message renders its fix last as "\n  fix: ..."; the variants without one get a
    /// fix that fits them.
    pub fn message_and_fix(&self) -> (String, String) {
        if let Error::Many(_) = self {
            return (
                self.report(),
                "fix each failure listed in the message (each names its own fix), then run the command again".to_string(),
            );
        }
        let text = self.to_string();
        let (mut message, fix) = match text.rsplit_once("\n  fix: ") {
            Some((message, fix)) => (message.to_string(), fix.to_string()),
            None => (
                text.clone(),
                "check the file, directory or program named in the message (that it exists, its permissions, free disk space), then run the command again".to_string(),
            ),
        };
        self.append_causes(&mut message);
        (message, fix)
    }

    /// The error as the one JSON document `--output json` prints on stdout when a command fails:
    /// `{"error": {"kind", "message", "fix", "exit_code"}}`, plus operation and region for AWS.
    pub fn to_json(&self) -> serde_json::Value {
        let (message, fix) = self.message_and_fix();
        let mut error = serde_json::json!({
            "kind": self.kind(),
            "message": message,
            "fix": fix,
            "exit_code": self.exit_code(),
        });
        if let Error::Aws {
            operation, region, ..
        } = self
        {
            error["operation"] = operation.as_str().into();
            error["region"] = region.as_str().into();
        }
        serde_json::json!({ "error": error })
    }

    /// True when stdout's reader went away (`mysfits iam-policy | head -1`): the reader got what
    /// it wanted, so the process ends quietly with success, as ripgrep does.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Interrupted => EXIT_INTERRUPTED,
            _ => EXIT_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_builder_invariants_are_internal_errors_and_other_image_errors_keep_their_fix() {
        let spec: Error = crate::image::ImageError::Spec("no media type".into()).into();
        assert_eq!(spec.kind(), "internal");
        assert!(
            spec.to_string()
                .contains("image builder: invalid image metadata: no media type"),
            "{spec}"
        );
        let destination: Error = crate::image::ImageError::Destination {
            what: "bad URI".into(),
            fix: "check the outputs".into(),
        }
        .into();
        assert_eq!(destination.kind(), "image");
        assert!(destination.to_string().contains("fix: check the outputs"));
    }

    #[test]
    fn machine_output_splits_message_and_fix_and_names_the_kind() {
        let aws = Error::Aws {
            operation: "DescribeStacks".into(),
            region: "eu-west-1".into(),
            message: "AccessDenied: no".into(),
            fix: "grant it".into(),
        };
        assert_eq!(
            aws.to_json(),
            serde_json::json!({"error": {
                "kind": "aws",
                "message": "DescribeStacks in eu-west-1 failed: AccessDenied: no",
                "fix": "grant it",
                "exit_code": 2,
                "operation": "DescribeStacks",
                "region": "eu-west-1",
            }})
        );
        let io = Error::io(
            "reading mysfits.yaml",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        let (message, fix) = io.message_and_fix();
        assert_eq!(message, "reading mysfits.yaml: entity not found");
        assert!(fix.starts_with("check the file"), "{fix}");
        assert_eq!(Error::Interrupted.to_json()["error"]["exit_code"], 130);
        assert_eq!(
            Error::Interrupted.message_and_fix(),
            (
                "interrupted".to_string(),
                "run the same command again: it picks up where it stopped".to_string()
            )
        );
        let many = Error::Many(vec![Error::config("a", "b"), Error::Interrupted]);
        assert_eq!(many.kind(), "many");
        assert_eq!(
            many.message_and_fix().0,
            "2 failures:\n- a\n  fix: b\n- interrupted\n  fix: run the same command again: it picks up where it stopped"
        );
    }

    #[test]
    fn only_a_broken_pipe_is_a_quiet_end() {
        let pipe = Error::io(
            "writing the result to stdout",
            std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        );
        assert!(pipe.is_broken_pipe());
        let full = Error::io(
            "writing the result to stdout",
            std::io::Error::from(std::io::ErrorKind::StorageFull),
        );
        assert!(!full.is_broken_pipe());
    }
}
