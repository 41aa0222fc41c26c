//! Test-only harness shared by the CLI's and the services' integration tests.
//!
//! It starts the stand-ins described in `shared/TESTBED.md` on free loopback ports and stops them
//! when the handle is dropped, so every test gets its own clean emulator. Nothing here reaches AWS.

pub mod faults;
pub mod moto;
pub mod podman;
pub mod registry;

use std::net::TcpListener;
use std::path::PathBuf;

/// The workspace root, found from this crate's manifest directory (tests/testbed).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A loopback port with nothing listening on it: for tests of an unreachable region.
pub fn dead_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// scripts/test runs the fast tier with `MYSFITS_TEST_TIER=fast`: a test that starts an outside
/// program there lacks its emulator-tier mark, which `tests/it/tiers.rs` checks statically too.
fn require_emulator_tier(program: &str) {
    if std::env::var("MYSFITS_TEST_TIER").is_ok_and(|tier| tier == "fast") {
        panic!(
            "this test starts {program}, which the fast tier (MYSFITS_TEST_TIER=fast) does not \
             have: mark it #[ignore = \"emulator tier: needs {program}; run scripts/test\"]"
        );
    }
}
