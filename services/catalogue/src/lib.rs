//! The Mythical Mysfits item and its DynamoDB form (`mysfit`), the seed catalogue that the
//! `mysfits` CLI loads into a new table (`catalogue`), and the write-region control item both the
//! service and the CLI read and write (`write_region`). A crate of its own so that the CLI links
//! these and not mysfits-service's HTTP server, middleware and OpenTelemetry exporter.

pub mod catalogue;
pub mod mysfit;
pub mod write_region;
