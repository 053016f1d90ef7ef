//! Synthetic data, seeded and documented as synthetic: unit geometry for real division
//! names inside a real outline, and a register of businesses with realistic industry mix,
//! spatial clustering and history rates, up to millions of businesses for benchmarks.

pub mod businesses;
pub mod voronoi;

use std::path::Path;

use anyhow::{Context, Result, bail};
use geo::{MultiPolygon, Orient, orient::Direction};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct Divisions {
    source: String,
    districts: Vec<District>,
}

#[derive(Debug, Deserialize)]
struct District {
    code: String,
    name: String,
    streets: Vec<Street>,
}

#[derive(Debug, Deserialize)]
struct Street {
    code: String,
    name: String,
    kind: String,
    villages: Vec<Village>,
}

#[derive(Debug, Deserialize)]
struct Village {
    code: String,
    name: String,
    kind: String,
}

fn multipolygon_of(geometry: &Value) -> Result<MultiPolygon<f64>> {
    let g: geo_types::Geometry<f64> = geometry_from_json(geometry)?;
    let mp = match g {
        geo_types::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        geo_types::Geometry::MultiPolygon(mp) => mp,
        _ => bail!("outline is not a polygon"),
    };
    Ok(mp.orient(Direction::Default))
}

fn geometry_from_json(geometry: &Value) -> Result<geo_types::Geometry<f64>> {
    let kind = geometry
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ring = |r: &Value| -> Result<geo_types::LineString<f64>> {
        let pts: Vec<[f64; 2]> = r
            .as_array()
            .context("ring")?
            .iter()
            .map(|p| Ok([p[0].as_f64().context("x")?, p[1].as_f64().context("y")?]))
            .collect::<Result<_>>()?;
        Ok(geo_types::LineString::from(
            pts.into_iter().map(|[x, y]| (x, y)).collect::<Vec<_>>(),
        ))
    };
    let polygon = |p: &Value| -> Result<geo_types::Polygon<f64>> {
        let mut rings: Vec<_> = p
            .as_array()
            .context("polygon")?
            .iter()
            .map(ring)
            .collect::<Result<_>>()?;
        if rings.is_empty() {
            bail!("empty polygon");
        }
        let ext = rings.remove(0);
        Ok(geo_types::Polygon::new(ext, rings))
    };
    let coords = geometry.get("coordinates").context("coordinates")?;
    Ok(match kind {
        "Polygon" => geo_types::Geometry::Polygon(polygon(coords)?),
        "MultiPolygon" => geo_types::Geometry::MultiPolygon(MultiPolygon(
            coords
                .as_array()
                .context("multipolygon")?
                .iter()
                .map(polygon)
                .collect::<Result<_>>()?,
        )),
        other => bail!("geometry type {other} is not a polygon"),
    })
}

pub fn geometry_to_json(shape: &MultiPolygon<f64>) -> Value {
    let round = |v: f64| (v * 1e7).round() / 1e7;
    let polygons: Vec<Value> = shape
        .0
        .iter()
        .map(|p| {
            let rings: Vec<Value> = std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|r| {
                    Value::Array(
                        r.coords()
                            .map(|c| json!([round(c.x), round(c.y)]))
                            .collect(),
                    )
                })
                .collect();
            Value::Array(rings)
        })
        .collect();
    json!({ "type": "MultiPolygon", "coordinates": polygons })
}

fn unit_kind(chinese_kind: &str, name: &str) -> &'static str {
    if chinese_kind.contains("村") || name.ends_with('村') {
        "village"
    } else {
        "community"
    }
}

/// Builds `jurisdiction.geojson` and `units.geojson` in `out` for the given districts:
/// each district's real outline is divided into its real streets, and each street into its
/// real communities and villages, with synthetic (Voronoi) boundaries.
pub fn build_units(
    outline_file: &Path,
    divisions_file: &Path,
    district_codes: &[String],
    out: &Path,
    seed: u64,
) -> Result<usize> {
    let outlines: Value = serde_json::from_str(
        &std::fs::read_to_string(outline_file)
            .with_context(|| format!("reading {}", outline_file.display()))?,
    )?;
    let divisions: Divisions = serde_json::from_str(
        &std::fs::read_to_string(divisions_file)
            .with_context(|| format!("reading {}", divisions_file.display()))?,
    )?;
    let outline_source = outlines
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut units = Vec::new();
    let mut outlines_used: Vec<MultiPolygon<f64>> = Vec::new();
    let mut names = Vec::new();
    let features = outlines
        .get("features")
        .and_then(Value::as_array)
        .context("outline file has no features")?;
    for code in district_codes {
        let district = divisions
            .districts
            .iter()
            .find(|d| &d.code == code)
            .with_context(|| format!("district {code} is not in {}", divisions_file.display()))?;
        let feature = features
            .iter()
            .find(|f| f.pointer("/properties/adcode").and_then(Value::as_str) == Some(code))
            .with_context(|| {
                format!(
                    "district {code} has no outline in {}",
                    outline_file.display()
                )
            })?;
        let outline = multipolygon_of(feature.get("geometry").context("geometry")?)?;
        names.push(district.name.clone());
        let streets = voronoi::divide(&outline, district.streets.len(), &mut rng);
        for (street, street_shape) in district.streets.iter().zip(&streets) {
            let communities = voronoi::divide(street_shape, street.villages.len(), &mut rng);
            for (village, shape) in street.villages.iter().zip(communities) {
                if shape.0.is_empty() {
                    bail!("community {} got no area; try another --seed", village.code);
                }
                units.push(json!({
                    "type": "Feature",
                    "properties": {
                        "code": village.code, "name": village.name,
                        "kind": unit_kind(&village.kind, &village.name),
                        "parent": street.code, "parent_name": street.name, "parent_kind": street.kind,
                        "district": district.code, "dedicated": false, "synthetic_geometry": true,
                    },
                    "geometry": geometry_to_json(&shape),
                }));
            }
        }
        outlines_used.push(outline);
    }
    // Neighbouring districts share edges: their union, not their list, is one valid shape.
    let jurisdiction = match outlines_used.as_slice() {
        [one] => one.clone(),
        many => geo::unary_union(many.iter()),
    };
    let (code, name) = if district_codes.len() == 1 {
        (district_codes[0].clone(), names[0].clone())
    } else {
        (
            format!(
                "{}-{}",
                divisions.districts.first().map_or("", |d| &d.code[..4]),
                district_codes.len()
            ),
            names.join("、"),
        )
    };
    std::fs::create_dir_all(out)?;
    let provenance = format!(
        "outline: {outline_source}; division names and codes: {}; unit boundaries are synthetic (seeded Voronoi, seed {seed})",
        divisions.source
    );
    let jurisdiction_json = json!({
        "type": "Feature",
        "properties": { "code": code, "name": name, "source": provenance },
        "geometry": geometry_to_json(&jurisdiction),
    });
    std::fs::write(
        out.join("jurisdiction.geojson"),
        serde_json::to_string(&jurisdiction_json)?,
    )?;
    let collection = json!({ "type": "FeatureCollection", "name": format!("{name} base units"), "source": provenance, "features": units });
    std::fs::write(
        out.join("units.geojson"),
        serde_json::to_string(&collection)?,
    )?;
    Ok(units.len())
}
