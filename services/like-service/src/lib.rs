//! like-service: `POST /mysfits/{id}/like` takes a like and has mysfits-service record it
//! (`POST {MYSFITS_SERVICE_URL}/mysfits/{id}/fulfill-like`), with a timeout per attempt, bounded
//! retries where a retry cannot double-count, and upstream failures reported as 404/502/504.
//!
//! Modules: `settings` (environment), `upstream` (the call to mysfits-service and what its
//! failures mean), `routes` (handlers).

pub mod routes;
pub mod settings;
pub mod upstream;

pub use routes::{AppState, router};
pub use settings::Settings;
pub use upstream::Upstream;
