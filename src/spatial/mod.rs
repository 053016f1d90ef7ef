//! Geometry with geo and rstar: coordinate systems, polygon checks and measures, point
//! location. Every function here says what happens on a boundary.

pub mod adjacency;
pub mod crs;
pub mod geometry;
pub mod locate;
