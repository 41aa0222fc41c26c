//! Benchmark fixtures for scripts/bench-services; see the two binaries. Not used by any test.
