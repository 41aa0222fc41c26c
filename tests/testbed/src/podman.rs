//! Runs an image with podman the way `shared/TESTBED.md` says works on these machines: as root in
//! a private mount namespace with the cgroup2 mount hidden, host networking, explicit rlimits.
//! Podman's storage lives in a temp dir of its own, so a test leaves no image or container behind.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A container started with `podman run`; dropping it stops it and removes its storage.
pub struct Container {
    child: Child,
    name: String,
    storage: tempfile::TempDir,
}

impl Container {
    /// Pulls `image` (`host:port/repository@sha256:...`, plain http, basic auth `credentials`)
    /// and runs it with `env`.
    pub fn run(image: &str, credentials: &str, env: &[(&str, String)]) -> Container {
        crate::require_emulator_tier("podman");
        let storage = tempfile::tempdir().expect("podman storage dir");
        let name = format!("mysfits-test-{}-{}", std::process::id(), crate::free_port());
        let mut podman = vec!["podman".to_string()];
        podman.extend(storage_flags(storage.path()));
        // Podman 4.3 (Debian 12) takes registry credentials on pull, not on run.
        let mut pull = podman.clone();
        pull.extend(
            [
                "pull",
                "--quiet",
                "--tls-verify=false",
                "--creds",
                credentials,
                image,
            ]
            .map(str::to_string),
        );
        let mut run = podman;
        run.extend(
            [
                "run",
                "--rm",
                "--name",
                &name,
                "--network=host",
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=4096:4096",
            ]
            .map(str::to_string),
        );
        for (key, value) in env {
            run.push("--env".into());
            run.push(format!("{key}={value}"));
        }
        run.push(image.to_string());
        let script = format!(
            "umount /sys/fs/cgroup/unified 2>/dev/null; {} >/dev/null && exec {}",
            shell_words(&pull),
            shell_words(&run)
        );
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(storage.path().join("podman.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("start unshare + podman");
        Container {
            child,
            name,
            storage,
        }
    }

    /// Podman's and the container's output so far, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.storage.path().join("podman.log")).unwrap_or_default()
    }

    /// Waits until `GET path` on 127.0.0.1:`port` answers, and returns the status code and body.
    /// Panics with podman's log when nothing answers within `limit` or the container exits.
    pub fn wait_for_http(&mut self, port: u16, path: &str, limit: Duration) -> (u16, String) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(response) = http_get(port, path) {
                return response;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the container exited ({status}) before answering:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "nothing answered on port {port} within {limit:?}:\n{}",
            self.log()
        );
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // SIGTERM to `podman run` is proxied to the container; --rm then removes it.
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // In case --rm did not get to run: remove the container and every image, then the storage
        // (in a private mount namespace, so no overlay mount outlives it).
        let mut cleanup = vec!["podman".to_string()];
        cleanup.extend(storage_flags(self.storage.path()));
        let flags = shell_words(&cleanup);
        let script = format!(
            "umount /sys/fs/cgroup/unified 2>/dev/null; {flags} rm -f {} >/dev/null 2>&1; {flags} rmi -af >/dev/null 2>&1; true",
            self.name
        );
        let _ = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn storage_flags(directory: &std::path::Path) -> Vec<String> {
    vec![
        "--root".into(),
        directory.join("root").display().to_string(),
        "--runroot".into(),
        directory.join("run").display().to_string(),
    ]
}

/// Single-quoted words for `sh -c`.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A plain HTTP/1.1 GET: the status code and body, or None when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Some((status, body))
}
