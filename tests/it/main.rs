//! The CLI's integration tests: one test binary (debug test binaries are large), modules by concern.
//! They run the real `mysfits` binary and check results through AWS APIs of a local moto_server.

#![allow(clippy::unwrap_used)]

mod app_model;
mod auto_failover;
mod aws_limits;
mod aws_review_mocks;
mod binary_sources;
mod cli;
mod dashboard;
mod data_stack;
mod deploy_capacity;
mod deploy_e2e;
mod deploy_interrupt;
mod deploy_regions;
mod drill_kill;
mod entry_mocks;
mod examples;
mod failover;
mod first_contact;
mod fixtures;
mod fresh_connections;
mod golden;
mod help;
mod iam_policy;
mod identity;
mod images;
mod insights_logs;
mod quality;
mod real_aws;
mod replica_mocks;
mod route53_mocks;
mod route53_teardown;
mod sdk_errors;
mod stack_mocks;
mod status;
mod teardown;
mod teardown_mocks;
mod teardown_regions;
mod template_rules;
mod three_regions;
mod tiers;
mod traces;
mod traces_mocks;
mod traffic;
mod util;
mod writes;
mod writes_mocks;
