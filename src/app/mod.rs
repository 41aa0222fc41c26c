//! The app's shape as data: its bundled services ([`services`]) and the names of everything built
//! from the app's name ([`names`]). The regions are data too: [`crate::config::Config::regions`],
//! the first one is home (the table's origin and the dashboard).

pub mod names;
pub mod region;
pub mod services;
pub mod template;

pub use region::RegionName;
pub use services::{SERVICES, Service};
