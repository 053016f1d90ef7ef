//! Coordinate systems: WGS84 and GCJ-02 (the shifted system of Chinese web maps),
//! with the exact inverse by fixed-point iteration.

use serde::{Deserialize, Serialize};

/// The coordinate system an input's points are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    /// WGS84 longitude/latitude (EPSG:4326), what gridpatrol stores.
    #[default]
    Wgs84,
    /// GCJ-02, the system Chinese web maps (Amap, Tencent) publish.
    Gcj02,
}

impl Crs {
    /// Converts a (lon, lat) in this system to WGS84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => gcj02_to_wgs84(lon, lat),
        }
    }
}

// Krasovsky 1940 ellipsoid, as the GCJ-02 model uses it.
const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;

/// GCJ-02 shifts only points inside this box around China; outside it is the identity.
fn outside_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lon(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// The published GCJ-02 forward model: WGS84 → GCJ-02.
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    use std::f64::consts::PI;
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let dlat = transform_lat(lon - 105.0, lat - 35.0);
    let dlon = transform_lon(lon - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let magic = 1.0 - EE * radlat.sin() * radlat.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (A / sqrt_magic * radlat.cos() * PI);
    (lon + dlon, lat + dlat)
}

/// The exact inverse of [`wgs84_to_gcj02`]: iterates `w ← w − (f(w) − g)` until the forward
/// model reproduces the input to 1e-12 degrees (about 0.1 µm); converges in a few steps
/// because the shift varies slowly.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (mut x, mut y) = (lon, lat);
    for _ in 0..30 {
        let (fx, fy) = wgs84_to_gcj02(x, y);
        let (dx, dy) = (fx - lon, fy - lat);
        x -= dx;
        y -= dy;
        if dx.abs() < 1e-12 && dy.abs() < 1e-12 {
            break;
        }
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_reproduces_the_forward_model() {
        for &(lon, lat) in &[
            (114.3, 30.6),
            (116.397, 39.909),
            (121.47, 31.23),
            (87.6, 43.8),
        ] {
            let (gx, gy) = wgs84_to_gcj02(lon, lat);
            // The shift in China is hundreds of metres.
            assert!((gx - lon).abs() + (gy - lat).abs() > 1e-3);
            let (wx, wy) = gcj02_to_wgs84(gx, gy);
            assert!(
                (wx - lon).abs() < 1e-10 && (wy - lat).abs() < 1e-10,
                "{lon},{lat} -> {wx},{wy}"
            );
        }
    }

    #[test]
    fn outside_china_is_the_identity() {
        assert_eq!(gcj02_to_wgs84(24.94, 60.17), (24.94, 60.17));
    }
}
