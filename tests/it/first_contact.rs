//! What a newcomer meets first, through the real binary and without an emulator: a failure with
//! `--output json` is one JSON document on stdout, a closed stdout is a quiet success, nothing
//! writes terminal control codes to a pipe, and `status`/`logs` fail when no region answered (a
//! dead local port: the connection is refused, and named so).

use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::util::{Mysfits, Run};

/// Credentials that let the SDK sign calls without looking anywhere else for them.
fn signing_env() -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
    ]
}

/// The binary with a clean AWS environment like `util::Mysfits`, but with NO_COLOR left as the
/// caller says: `no_color` sets it, otherwise it is removed.
fn bare(no_color: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mysfits"));
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("MYSFITS_") || key == "CI" {
            command.env_remove(key);
        }
    }
    command
        .current_dir(std::env::temp_dir())
        .env_remove("NO_COLOR")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .envs(signing_env());
    if no_color {
        command.env("NO_COLOR", "1");
    }
    command
}

/// Runs with stdout a pipe whose reading end is closed before the program writes anything.
fn run_with_stdout_closed(args: &[&str]) -> (i32, String) {
    let mut child = bare(true)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap().code().unwrap_or(-1), stderr)
}

#[test]
fn a_closed_stdout_ends_iam_policy_and_completions_quietly_with_success() {
    for args in [
        &["--region", "us-east-1", "iam-policy"][..],
        &["completions", "bash"][..],
    ] {
        let (code, stderr) = run_with_stdout_closed(args);
        assert_eq!((code, stderr.as_str()), (0, ""), "{args:?}");
    }
}

#[test]
fn a_failure_with_output_json_is_one_error_document_on_stdout_and_text_on_stderr() {
    let run = Mysfits::new().run(&["--output", "json", "deploy"]);
    assert_eq!(run.code(), 2);
    let fix = "pass --region (e.g. --region us-east-1 --secondary-region us-west-2) or --regions \
               us-east-1,us-west-2, set MYSFITS_REGION or AWS_REGION, list `regions:` in mysfits.yaml, \
               or give the AWS profile a region (`aws configure set region us-east-1`)";
    let document: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(
        document,
        json!({"error": {
            "kind": "config",
            "message": "no region given",
            "fix": fix,
            "exit_code": 2,
        }})
    );
    assert_eq!(
        run.stderr(),
        format!("error: no region given\n  fix: {fix}\n")
    );
}

#[test]
fn an_aws_failure_in_json_names_the_operation_and_region_and_the_refused_connection() {
    let dead = testbed::dead_endpoint();
    let run = Mysfits::new().envs(signing_env()).run(&[
        "--region",
        "us-east-1",
        "--endpoint-url",
        &dead,
        "--output",
        "json",
        "logs",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let document: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let message =
        "FilterLogEvents in us-east-1 failed: connection refused (nothing listens at the endpoint)";
    let fix = format!(
        "nothing accepts connections at {dead} (the endpoint for us-east-1): start the emulator \
         or service there, or correct the override (regions.us-east-1.endpoint_url in \
         mysfits.yaml, --endpoint-url, AWS_ENDPOINT_URL)"
    );
    assert_eq!(
        document,
        json!({"error": {
            "kind": "aws",
            "message": message,
            "fix": fix,
            "exit_code": 2,
            "operation": "FilterLogEvents",
            "region": "us-east-1",
        }})
    );
    assert_eq!(run.stderr(), format!("error: {message}\n  fix: {fix}\n"));
}

fn status_with_no_region_answering(output: &str) -> (Run, String) {
    let dead = testbed::dead_endpoint();
    let run = Mysfits::new().envs(signing_env()).run(&[
        "--regions",
        "us-east-1,eu-west-1",
        "--endpoint-url",
        &dead,
        "--output",
        output,
        "status",
    ]);
    (run, dead)
}

const NO_REGION_ANSWERED: &str = "error: no region answered, so nothing above is known
  - us-east-1: DescribeStacks mysfits-registry: connection refused (nothing listens at the endpoint)
  - eu-west-1: DescribeStacks mysfits-registry: connection refused (nothing listens at the endpoint)
  fix: check the endpoints (--endpoint-url, endpoint_url in mysfits.yaml) and network access; \
with an emulator, start it first; then run `mysfits status` again
";

#[test]
fn status_fails_when_no_region_answered_and_still_prints_its_report() {
    let (json_run, _) = status_with_no_region_answering("json");
    assert_eq!(json_run.code(), 2, "{}", json_run.stderr());
    let report: serde_json::Value = serde_json::from_str(&json_run.stdout()).unwrap();
    assert!(
        report["error"].is_null(),
        "the report, not a second document"
    );
    assert_eq!(
        report["regions"]["eu-west-1"]["skipped"][0],
        "DescribeStacks mysfits-registry in eu-west-1 (region refused the connection)"
    );
    assert_eq!(json_run.stderr(), NO_REGION_ANSWERED);

    let (text_run, _) = status_with_no_region_answering("text");
    assert_eq!(text_run.code(), 2);
    let region_row = text_run.stdout().lines().nth(1).unwrap().to_string();
    assert_eq!(
        region_row.split_whitespace().collect::<Vec<_>>(),
        ["region", "NOT", "ANSWERING", "NOT", "ANSWERING"]
    );
    assert_eq!(text_run.stderr(), NO_REGION_ANSWERED);
}

#[test]
fn nothing_writes_terminal_control_codes_to_a_pipe_with_or_without_no_color() {
    let dead = testbed::dead_endpoint();
    for no_color in [false, true] {
        for args in [
            vec!["--region", "us-east-1", "iam-policy"],
            // -v: the SDK's logs on stderr too.
            vec![
                "-v",
                "--region",
                "us-east-1",
                "--endpoint-url",
                &dead,
                "status",
            ],
            vec!["--region", "useast", "plan"],
        ] {
            let output = bare(no_color).args(&args).output().unwrap();
            assert!(
                !output.stderr.is_empty() || args[0] != "-v",
                "-v logs on stderr: {args:?}"
            );
            for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
                assert!(
                    !bytes.contains(&0x1b),
                    "{args:?} (NO_COLOR {no_color}) wrote ESC on {stream}:\n{}",
                    String::from_utf8_lossy(bytes)
                );
            }
        }
    }
}
