//! The functional core: pure, deterministic, synchronous rules. No IO, no clock, no async,
//! no database: callers pass every fact and the date in, and get decisions out.

pub mod access;
pub mod assessment;
pub mod assign;
pub mod campaign;
pub mod entity;
pub mod inspection;
pub mod multilevel;
pub mod partition;
pub mod policy;
pub mod report;
pub mod risk;
pub mod route;
pub mod schedule;
