//! `moto_server` on a free loopback port, one per test, killed on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_types::region::Region;

/// A running moto server. Dropping it stops the process.
pub struct Moto {
    child: Child,
    port: u16,
}

/// Where the project's set-up script installs moto (`scripts/setup-testenv`), unless
/// `MYSFITS_MOTO_SERVER` names another binary.
pub fn moto_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MYSFITS_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    crate::workspace_root().join(".venv/bin/moto_server")
}

impl Moto {
    /// Starts moto with ECS services reporting their desired count as running, which is what a
    /// healthy Fargate service does on AWS (moto never runs tasks).
    pub fn start() -> Moto {
        Moto::start_with_env(&[("MOTO_ECS_SERVICE_RUNNING", "1")])
    }

    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        crate::require_emulator_tier("moto_server");
        let binary = moto_binary();
        assert!(
            binary.exists(),
            "moto_server not found at {}: run scripts/setup-testenv first (or set MYSFITS_MOTO_SERVER); scripts/test runs the emulator tier with it",
            binary.display()
        );
        let port = crate::free_port();
        let mut command = Command::new(&binary);
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", binary.display()));
        let moto = Moto { child, port };
        moto.wait_until_ready(Duration::from_secs(30));
        moto
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, for `--endpoint-url` and SDK endpoint overrides.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An SDK configuration for `region` that talks to this moto with fixed test credentials.
    pub fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        sdk_config_for(&self.endpoint(), region)
    }

    /// Clears every resource in every region (moto's own reset API).
    pub fn reset(&self) {
        let status = self.raw_request("POST", "/moto-api/reset");
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "moto reset failed: {status}"
        );
    }

    /// Environment for a child process (the `mysfits` binary, a service) so that it reaches this
    /// moto with test credentials and never a real AWS account.
    pub fn client_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_SESSION_TOKEN".into(), "testing".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ]
    }

    fn wait_until_ready(&self, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "moto_server did not listen on port {} within {limit:?}",
            self.port
        );
    }

    fn raw_request(&self, method: &str, path: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).expect("write to moto");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read from moto");
        response
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SDK configuration for `region` at `endpoint` with fixed test credentials.
pub fn sdk_config_for(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                "testing",
                "testing",
                Some("testing".into()),
                None,
                "testbed",
            )),
        )
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}
