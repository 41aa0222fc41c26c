//! Stage 2 of the dist build (scripts/dist): with MYSFITS_EMBED_SERVICES=DIR, `mysfits` embeds the
//! static service binaries in DIR, so `deploy` needs no Rust toolchain and no source tree. Without
//! the variable nothing is embedded and a plain `cargo build` stays fast.

#[path = "src/image/embed_codegen.rs"]
mod embed_codegen;

use std::path::PathBuf;

use embed_codegen::{EMBED_VARIABLE, SERVICE_BINARY_NAMES};

fn main() {
    println!("cargo:rerun-if-env-changed={EMBED_VARIABLE}");
    println!("cargo:rerun-if-changed=src/image/embed_codegen.rs");
    let directory = std::env::var_os(EMBED_VARIABLE)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from);
    if let Some(directory) = &directory {
        for name in SERVICE_BINARY_NAMES {
            println!("cargo:rerun-if-changed={}", directory.join(name).display());
        }
    }
    let revision = directory.as_ref().and_then(|_| git_revision());
    let code = match embed_codegen::generate(directory.as_deref(), revision.as_deref()) {
        Ok(code) => code,
        Err(problem) => {
            eprintln!("error: {problem}");
            std::process::exit(1);
        }
    };
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        eprintln!("error: cargo did not set OUT_DIR for the build script");
        std::process::exit(1);
    };
    let target = PathBuf::from(out_dir).join("embedded_services.rs");
    if let Err(error) = std::fs::write(&target, code) {
        eprintln!("error: cannot write {}: {error}", target.display());
        std::process::exit(1);
    }
}

/// The revision the embedded services were built from: this checkout's HEAD, if it is one.
fn git_revision() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let revision = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !revision.is_empty()).then_some(revision)
}
