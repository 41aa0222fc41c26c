//! What the two bundled services share, so that both behave the same at the edges: settings read
//! from the environment with errors that say what to set, JSON logs on stdout, one middleware
//! stack (request ids, `X-Amzn-Trace-Id`, region header, CORS, body limit, timeout, JSON error
//! bodies) and a server loop that drains in-flight requests on SIGTERM.

pub mod echo;
pub mod env;
pub mod error;
pub mod layers;
pub mod logging;
pub mod mysfit_id;
pub mod server;
pub mod telemetry;

pub use error::ApiError;
pub use layers::{EdgeSettings, with_edge_layers};
