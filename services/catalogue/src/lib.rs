//! The Mythical Mysfits item and its DynamoDB form (`mysfit`), and the seed catalogue that the
//! `mysfits` CLI loads into a new table (`catalogue`). A crate of its own so that the CLI links
//! these and not mysfits-service's HTTP server, middleware and OpenTelemetry exporter.

pub mod catalogue;
pub mod mysfit;
