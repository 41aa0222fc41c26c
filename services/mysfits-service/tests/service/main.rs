//! mysfits-service's own tests: one test binary, modules by concern. like-service's tests
//! (services/like-service/tests) share `support.rs`.

#![allow(clippy::unwrap_used)]

mod api;
mod fuzz;
mod likes;
mod regions;
mod support;
