//! The CLI's integration tests: one test binary (debug test binaries are large), modules by concern.
//! They run the real `mysfits` binary and check results through AWS APIs of a local moto_server.

#![allow(clippy::unwrap_used)]

mod cli;
mod examples;
mod golden;
mod images;
mod replica_mocks;
mod stack_mocks;
mod util;
