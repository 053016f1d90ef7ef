//! The integration tests: one binary, real SQLite files, a real server on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod access_work;
mod classify;
mod cli;
mod durability;
mod dynamic;
mod http;
mod import;
mod jobs;
mod partition;
mod plan;
mod store;
mod support;
mod tidy;
mod visit_form;
