//! Debian's `docker-registry` on a free loopback port with basic auth, killed on drop.
//!
//! It stands in for one region's ECR registry: the same distribution API, and basic auth with the
//! user and password that ECR's GetAuthorizationToken hands out (moto: `AWS` /
//! `<account>-auth-token`), so the CLI's real auth flow is exercised end to end.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The credentials moto's GetAuthorizationToken returns for its fixed account.
pub const MOTO_ECR_USER: &str = "AWS";
pub const MOTO_ECR_PASSWORD: &str = "123456789012-auth-token";

/// A running registry. Dropping it stops the process and removes its storage.
pub struct Registry {
    child: Child,
    port: u16,
    user: String,
    password: String,
    directory: tempfile::TempDir,
}

impl Registry {
    /// A registry that accepts moto's ECR credentials.
    pub fn start() -> Registry {
        Registry::start_with_credentials(MOTO_ECR_USER, MOTO_ECR_PASSWORD)
    }

    pub fn start_with_credentials(user: &str, password: &str) -> Registry {
        crate::require_emulator_tier("docker-registry");
        let directory = tempfile::tempdir().expect("registry temp dir");
        let hash = bcrypt::hash(password, 4).expect("bcrypt hash");
        std::fs::write(
            directory.path().join("htpasswd"),
            format!("{user}:{hash}\n"),
        )
        .expect("write htpasswd");
        let port = crate::free_port();
        let config = directory.path().join("config.yml");
        std::fs::write(&config, config_yaml(directory.path(), port)).expect("write config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(directory.path().join("registry.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .unwrap_or_else(|error| {
                panic!("starting docker-registry: {error} (run scripts/setup-testenv first)")
            });
        let registry = Registry {
            child,
            port,
            user: user.to_string(),
            password: password.to_string(),
            directory,
        };
        registry.wait_until_ready(Duration::from_secs(20));
        registry
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, the registry host of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`, for `regions.<r>.registry_url` in mysfits.yaml.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `user:password`, as skopeo's and podman's `--creds` take it.
    pub fn credentials(&self) -> String {
        format!("{}:{}", self.user, self.password)
    }

    /// The registry's own log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.directory.path().join("registry.log")).unwrap_or_default()
    }

    /// How many blob uploads the registry completed so far: the final `PUT` of an upload
    /// session answered 201, as the registry's own request log tells.
    pub fn completed_blob_uploads(&self) -> usize {
        self.log()
            .lines()
            .filter(|line| {
                line.contains("msg=\"response completed\"")
                    && line.contains("http.request.method=PUT")
                    && line.contains("/blobs/uploads/")
                    && line.contains("http.response.status=201")
            })
            .count()
    }

    /// `skopeo inspect` of an image reference (`repository@sha256:...` or `repository:tag`) in
    /// this registry: the parsed JSON, raw config when `config` is true.
    pub fn inspect(&self, reference: &str, config: bool) -> serde_json::Value {
        let mut command = Command::new("skopeo");
        command.args([
            "inspect",
            "--tls-verify=false",
            "--creds",
            &self.credentials(),
        ]);
        if config {
            command.arg("--config");
        }
        let output = command
            .arg(format!("docker://{}/{reference}", self.host()))
            .output()
            .expect("run skopeo");
        assert!(
            output.status.success(),
            "skopeo inspect {reference} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("skopeo prints JSON")
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
            "docker-registry did not listen on port {} within {limit:?}: {}",
            self.port,
            self.log()
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Filesystem storage in the temp dir, deletes allowed, htpasswd auth, access log on stderr.
fn config_yaml(directory: &Path, port: u16) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: info\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n\
         auth:\n  htpasswd:\n    realm: ecr-stand-in\n    path: {htpasswd}\n",
        storage = directory.join("storage").display(),
        htpasswd = directory.join("htpasswd").display(),
    )
}
