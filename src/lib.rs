//! gridpatrol: grid supervision for market regulators. It divides a jurisdiction into
//! supervision grids, classifies every business into risk classes A/B/C/D, plans patrols,
//! records inspections and reports coverage.
//!
//! Modules in reading order: the pure [`domain`] decides; [`spatial`] does geometry;
//! [`import`] turns region files into domain values; [`store`] is the only SQL;
//! [`app`] joins store and domain and reads the clock; [`http`] serves it; [`jobs`] runs
//! the scheduled work; [`generate`] makes synthetic regions; [`cli`] is the command line;
//! [`par`] splits slices over the cores.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod generate;
pub mod http;
pub mod import;
pub mod jobs;
pub mod par;
pub mod spatial;
pub mod store;
