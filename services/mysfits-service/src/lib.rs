//! mysfits-service: the catalogue of Mythical Mysfits in DynamoDB behind a small JSON API, plus the
//! website that uses it. like-service calls `POST /mysfits/{id}/fulfill-like` on the internal
//! port ([`internal_router`]; the public [`router`] answers it 404); the `mysfits`
//! CLI seeds the table through [`catalogue::seed_catalogue`].
//!
//! Modules by concern: `settings` (environment), `mysfit` (the item and its DynamoDB form),
//! `table` (every DynamoDB call and how its failures map to HTTP), `catalogue` (seed data),
//! `like_queue` (likes that share one write), `routes` (handlers), `website` (the embedded page and its pictures), `write_region` (the one
//! region that takes writes, and the control item that says which).

pub mod like_queue;
pub mod list_cache;
pub mod routes;
pub mod settings;
pub mod table;
pub mod website;

// The item and the seed catalogue live in mysfits-catalogue (the CLI links that crate only).
pub use mysfits_catalogue::{catalogue, mysfit, write_region};
pub use routes::{AppState, internal_router, router};
pub use settings::Settings;
pub use table::{MysfitsTable, dynamodb_client};
