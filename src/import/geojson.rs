//! GeoJSON region files: the jurisdiction and the base units, checked feature by feature.

use std::collections::HashMap;

use geo::{MultiPolygon, Orient, orient::Direction};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::problem::{ImportError, Location, ProblemKind, Problems};
use crate::spatial::crs::Crs;
use crate::spatial::geometry::{
    GeometryProblem, check_valid, geodesic_area_m2, overlaps, polygon_from_rings,
};

/// Overlaps smaller than this share of the smaller unit's area are not reported: they are
/// the rounding of coordinates (7 decimals is about 1 cm) and the snapping of boolean
/// operations along shared edges, not two units claiming the same ground. 0.01 % of a
/// 0.5 km² community is 50 m²; real overlaps in bad files are thousands of times larger.
pub const OVERLAP_TOLERANCE: f64 = 1e-4;

/// The jurisdiction (辖区).
#[derive(Debug, Clone)]
pub struct Jurisdiction {
    pub code: String,
    pub name: String,
    pub shape: MultiPolygon<f64>,
    pub area_m2: f64,
    pub properties: Map<String, Value>,
}

/// A base unit (基本单元).
#[derive(Debug, Clone)]
pub struct Unit {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent: Option<String>,
    pub dedicated: bool,
    pub shape: MultiPolygon<f64>,
    pub area_m2: f64,
    pub properties: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawGeometry {
    #[serde(rename = "type")]
    kind: String,
    coordinates: Value,
}

fn feature_name(feature: &Value) -> Option<String> {
    let props = feature.get("properties")?;
    props
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| props.get("code").and_then(Value::as_str).map(str::to_owned))
}

/// Reads a Polygon or MultiPolygon geometry, checked and converted to WGS84; outer rings
/// counter-clockwise (the winding boolean operations need to be consistent).
fn read_shape(
    geometry: Option<&Value>,
    crs: Crs,
) -> Result<MultiPolygon<f64>, (ProblemKind, String)> {
    let Some(geometry) = geometry.filter(|g| !g.is_null()) else {
        return Err((
            ProblemKind::InvalidGeometry,
            "feature has no geometry".into(),
        ));
    };
    let raw: RawGeometry = serde_json::from_value(geometry.clone()).map_err(|e| {
        (
            ProblemKind::InvalidGeometry,
            format!("geometry is not GeoJSON: {e}"),
        )
    })?;
    let polygons: Vec<Vec<Vec<Vec<f64>>>> = match raw.kind.as_str() {
        "Polygon" => vec![serde_json::from_value(raw.coordinates).map_err(|e| {
            (
                ProblemKind::InvalidGeometry,
                format!("Polygon coordinates: {e}"),
            )
        })?],
        "MultiPolygon" => serde_json::from_value(raw.coordinates).map_err(|e| {
            (
                ProblemKind::InvalidGeometry,
                format!("MultiPolygon coordinates: {e}"),
            )
        })?,
        other => {
            return Err((
                ProblemKind::InvalidGeometry,
                format!("geometry is a {other}; a Polygon or MultiPolygon is needed"),
            ));
        }
    };
    let convert = |lon: f64, lat: f64| crs.to_wgs84(lon, lat);
    let mut built = Vec::with_capacity(polygons.len());
    for (i, rings) in polygons.iter().enumerate() {
        let polygon = polygon_from_rings(i, rings, &convert).map_err(|p| {
            let kind = match p {
                GeometryProblem::UnclosedRing { .. } => ProblemKind::UnclosedRing,
                GeometryProblem::OutOfRange { .. } => ProblemKind::CoordinatesOutOfRange,
                _ => ProblemKind::InvalidGeometry,
            };
            (kind, p.to_string())
        })?;
        built.push(polygon);
    }
    let shape = MultiPolygon(built).orient(Direction::Default);
    check_valid(&shape).map_err(|p| (ProblemKind::InvalidGeometry, p.to_string()))?;
    Ok(shape)
}

fn parse_json(file: &str, text: &str) -> Result<Value, ImportError> {
    serde_json::from_str(text).map_err(|e| {
        ImportError::single(
            file,
            Location::Line {
                line: e.line() as u64,
                column: None,
            },
            ProblemKind::Syntax,
            e.to_string(),
        )
    })
}

/// Reads `jurisdiction.geojson`: one Feature (or a FeatureCollection of one).
pub fn read_jurisdiction(file: &str, text: &str, crs: Crs) -> Result<Jurisdiction, ImportError> {
    let json = parse_json(file, text)?;
    let feature = match json.get("type").and_then(Value::as_str) {
        Some("Feature") => json.clone(),
        Some("FeatureCollection") => match json
            .get("features")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            Some([one]) => one.clone(),
            other => {
                return Err(ImportError::single(
                    file,
                    Location::File,
                    ProblemKind::BadValue,
                    format!(
                        "the jurisdiction must be one feature, found {}",
                        other.map_or(0, <[Value]>::len)
                    ),
                ));
            }
        },
        _ => {
            return Err(ImportError::single(
                file,
                Location::File,
                ProblemKind::Syntax,
                "not a GeoJSON Feature",
            ));
        }
    };
    let location = Location::Feature {
        index: 0,
        name: feature_name(&feature),
    };
    let mut problems = Problems::default();
    let props = feature
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let code = text_property(&props, &feature, "code");
    let name = props.get("name").and_then(Value::as_str).map(str::to_owned);
    if code.is_none() {
        problems.push(
            file,
            location.clone(),
            ProblemKind::MissingProperty,
            "property `code` is missing",
        );
    }
    if name.is_none() {
        problems.push(
            file,
            location.clone(),
            ProblemKind::MissingProperty,
            "property `name` is missing",
        );
    }
    let shape = match read_shape(feature.get("geometry"), crs) {
        Ok(shape) => Some(shape),
        Err((kind, message)) => {
            problems.push(file, location, kind, message);
            None
        }
    };
    problems.into_result(())?;
    let (Some(code), Some(name), Some(shape)) = (code, name, shape) else {
        unreachable!("every missing part was reported as a problem")
    };
    Ok(Jurisdiction {
        code,
        name,
        area_m2: geodesic_area_m2(&shape),
        shape,
        properties: props,
    })
}

/// A text property; `code` may also come from the feature's `id` member.
fn text_property(props: &Map<String, Value>, feature: &Value, key: &str) -> Option<String> {
    let from = |v: &Value| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    props.get(key).and_then(from).or_else(|| {
        if key == "code" {
            feature.get("id").and_then(from)
        } else {
            None
        }
    })
}

/// Reads `units.geojson`: every feature checked; then overlaps between units.
pub fn read_units(file: &str, text: &str, crs: Crs, problems: &mut Problems) -> Vec<Unit> {
    let json = match parse_json(file, text) {
        Ok(json) => json,
        Err(e) => {
            for p in e.problems {
                problems.push(&p.file, p.location, p.kind, p.message);
            }
            return Vec::new();
        }
    };
    let Some(features) = json.get("features").and_then(Value::as_array) else {
        problems.push(
            file,
            Location::File,
            ProblemKind::Syntax,
            "not a GeoJSON FeatureCollection (no `features` array)",
        );
        return Vec::new();
    };
    let mut units = Vec::with_capacity(features.len());
    let mut feature_of_unit = Vec::with_capacity(features.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, feature) in features.iter().enumerate() {
        let location = Location::Feature {
            index,
            name: feature_name(feature),
        };
        let props = feature
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let shape = match read_shape(feature.get("geometry"), crs) {
            Ok(shape) => Some(shape),
            Err((kind, message)) => {
                problems.push(file, location.clone(), kind, message);
                None
            }
        };
        let code = text_property(&props, feature, "code");
        match &code {
            None => problems.push(
                file,
                location.clone(),
                ProblemKind::MissingProperty,
                "property `code` is missing",
            ),
            Some(code) => {
                if let Some(first) = seen.insert(code.clone(), index) {
                    problems.push(
                        file,
                        location.clone(),
                        ProblemKind::DuplicateCode,
                        format!("code '{code}' is already used by feature {first}"),
                    );
                }
            }
        }
        let name = props.get("name").and_then(Value::as_str).map(str::to_owned);
        if name.is_none() {
            problems.push(
                file,
                location.clone(),
                ProblemKind::MissingProperty,
                "property `name` is missing",
            );
        }
        let kind = match props.get("kind") {
            None | Some(Value::Null) => Some("unit".to_owned()),
            Some(Value::String(k)) if !k.trim().is_empty() => Some(k.clone()),
            Some(other) => {
                problems.push(
                    file,
                    location.clone(),
                    ProblemKind::BadValue,
                    format!("property `kind` must be a word, found {other}"),
                );
                None
            }
        };
        let dedicated = match props.get("dedicated") {
            None | Some(Value::Null) => Some(false),
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                problems.push(
                    file,
                    location.clone(),
                    ProblemKind::BadValue,
                    format!("property `dedicated` must be true or false, found {other}"),
                );
                None
            }
        };
        let parent = props.get("parent").and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        if let (Some(shape), Some(code), Some(name), Some(kind), Some(dedicated)) =
            (shape, code, name, kind, dedicated)
        {
            units.push(Unit {
                code,
                name,
                kind,
                parent,
                dedicated,
                area_m2: geodesic_area_m2(&shape),
                shape,
                properties: props,
            });
            feature_of_unit.push(index);
        }
    }
    if problems.is_empty() {
        let shapes: Vec<MultiPolygon<f64>> = units.iter().map(|u| u.shape.clone()).collect();
        for overlap in overlaps(&shapes, OVERLAP_TOLERANCE) {
            let (a, b) = (&units[overlap.first], &units[overlap.second]);
            problems.push(
                file,
                Location::Feature {
                    index: feature_of_unit[overlap.second],
                    name: Some(b.name.clone()),
                },
                ProblemKind::OverlappingUnits,
                format!(
                    "unit '{}' overlaps unit '{}' (feature {}) by {:.0} m²",
                    b.code, a.code, feature_of_unit[overlap.first], overlap.area_m2
                ),
            );
        }
    }
    units
}
