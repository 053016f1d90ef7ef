//! The public responsibility map (辖区监管责任制示意图): grids with their boundaries, the
//! responsible officer, the area and its deputy, and the key industries — no business-level
//! data.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{App, AppError};

/// One grid as the public sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicGrid {
    pub code: String,
    pub name: String,
    /// Outer rings of the grid's polygons, lon/lat.
    pub rings: Vec<Vec<(f64, f64)>>,
    /// The A-post officer (网格责任人) and their partners.
    pub officer: Option<String>,
    pub partners: Vec<String>,
    pub area: Option<String>,
    pub deputy: Option<String>,
    /// Businesses of key industries in the grid, by industry.
    pub key_industries: BTreeMap<String, usize>,
    /// The grid's markets (专业市场) and other dedicated units, by name.
    pub key_markets: Vec<String>,
}

/// The public map of a region.
#[derive(Debug, Clone, Serialize)]
pub struct PublicMap {
    pub region: String,
    pub name: String,
    pub plan_version: Option<i64>,
    pub grids: Vec<PublicGrid>,
}

impl App {
    /// The public map of a region's plan in force.
    pub fn public_map(&self, region: &str) -> Result<PublicMap, AppError> {
        let store = self.open_store()?;
        let db = store.read();
        let outline = db.region_feature(region)?;
        let name = outline["properties"]["name"]
            .as_str()
            .unwrap_or(region)
            .to_owned();
        let Some(version) = db.plan_in_force(region)? else {
            return Ok(PublicMap {
                region: region.to_owned(),
                name,
                plan_version: None,
                grids: Vec::new(),
            });
        };
        let names: HashMap<String, String> = db
            .officers(Some(region))?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        let named = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
        let mut area_of: HashMap<String, (String, Option<String>)> = HashMap::new();
        for a in db.areas(region)? {
            for g in &a.grids {
                area_of.insert(g.clone(), (a.code.clone(), a.deputy.clone()));
            }
        }
        let mut key: HashMap<String, BTreeMap<String, usize>> = HashMap::new();
        for (_, industry, _, grid, _) in db.placed_businesses(region)? {
            if let Some(grid) = grid
                && self.policy.classification.is_key_industry(&industry)
            {
                *key.entry(grid).or_default().entry(industry).or_default() += 1;
            }
        }
        let markets = db.markets(region)?;
        let plan = db.plan_geojson(region, version)?;
        let grids = plan["features"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|f| {
                let p = &f["properties"];
                let code = p["code"].as_str().unwrap_or_default().to_owned();
                let rings = outer_rings(f);
                let (area, deputy) = area_of.get(&code).map_or((None, None), |(a, d)| {
                    (Some(a.clone()), d.as_deref().map(named))
                });
                PublicGrid {
                    name: p["name"].as_str().unwrap_or_default().to_owned(),
                    rings,
                    officer: p["a_post"].as_str().map(named),
                    partners: p["b_posts"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|b| b.as_str().map(named))
                        .collect(),
                    area,
                    deputy,
                    key_industries: key.remove(&code).unwrap_or_default(),
                    key_markets: p["units"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|u| markets.get(u.as_str()?).cloned())
                        .collect(),
                    code,
                }
            })
            .collect();
        Ok(PublicMap {
            region: region.to_owned(),
            name,
            plan_version: Some(version),
            grids,
        })
    }
}

/// The outer rings (lon/lat) of a GeoJSON Polygon or MultiPolygon feature's polygons.
pub fn outer_rings(feature: &serde_json::Value) -> Vec<Vec<(f64, f64)>> {
    let coordinates = &feature["geometry"]["coordinates"];
    let polygons: Vec<&serde_json::Value> = if feature["geometry"]["type"] == "Polygon" {
        vec![coordinates]
    } else {
        coordinates
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    polygons
        .into_iter()
        .filter_map(|polygon| polygon.get(0)?.as_array())
        .map(|ring| {
            ring.iter()
                .filter_map(|c| Some((c.get(0)?.as_f64()?, c.get(1)?.as_f64()?)))
                .collect()
        })
        .collect()
}
