//! Import: every class of bad input is named by file and place and changes nothing; good
//! input is located and re-imports idempotently; real data from ../shared/data.

use gridpatrol::app::AppError;
use gridpatrol::import::{ImportError, Location, ProblemKind};
use gridpatrol::spatial::crs::{Crs, gcj02_to_wgs84, wgs84_to_gcj02};
use gridpatrol::store::Store;

use crate::support::{TestApp, TinyRegion, code, shared_data};

fn dump(t: &TestApp) -> Vec<String> {
    Store::open(&t.app.db_path).unwrap().dump().unwrap()
}

/// Imports the good tiny region, breaks it, imports again: the error must be of `kind`,
/// its first problem must read `first`, and the database must be exactly as before.
fn rejected(break_it: impl FnOnce(&TinyRegion), kind: ProblemKind, first: &str) -> ImportError {
    let t = TestApp::new("2026-06-15");
    let region = TinyRegion::new();
    t.app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    let before = dump(&t);
    break_it(&region);
    let err = match t.app.import_region(region.path(), Crs::Wgs84, "test") {
        Err(AppError::Import(e)) => e,
        other => panic!("expected an import error, got {other:?}"),
    };
    let problem = err.first().unwrap();
    assert_eq!(problem.kind, kind, "{err}");
    assert_eq!(problem.to_string(), first, "{err}");
    assert_eq!(dump(&t), before, "a rejected import changed the database");
    err
}

#[test]
fn bad_date_names_file_line_and_column() {
    rejected(
        |r| r.edit("entities.csv", "2018-07-01", "2018-13-01"),
        ProblemKind::BadDate,
        "entities.csv:3: column registered_on: '2018-13-01' is not a date (expected YYYY-MM-DD)",
    );
    rejected(
        |r| r.edit("violations.csv", "2025-09-01", "01/09/2025"),
        ProblemKind::BadDate,
        "violations.csv:2: column date: '01/09/2025' is not a date (expected YYYY-MM-DD)",
    );
}

#[test]
fn unknown_industry_lists_the_known_ones() {
    let err = rejected(
        |r| r.edit("entities.csv", ",retail,", ",shoes,"),
        ProblemKind::UnknownIndustry,
        "entities.csv:3: column industry: unknown industry 'shoes' (the policy lists: food, drugs, farm_supplies, flammable, internet_cafe, entertainment, hazardous, retail, services, manufacturing, other)",
    );
    assert_eq!(err.total, 1);
}

#[test]
fn a_wrong_credit_code_check_character_is_caught() {
    let good = code(2);
    let mut bad = good.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    let message = format!(
        "entities.csv:3: column id: identifier '{bad}' looks like a unified social credit code: check character is '{}' but GB 32100-2015 gives '{last}'",
        bad.chars().last().unwrap()
    );
    rejected(
        |r| r.edit("entities.csv", &good, &bad),
        ProblemKind::BadCreditCode,
        &message,
    );
}

#[test]
fn coordinates_out_of_range_are_named() {
    rejected(
        |r| r.edit("entities.csv", "114.015,30.005", "214.015,30.005"),
        ProblemKind::CoordinatesOutOfRange,
        "entities.csv:3: column lon: longitude 214.015 is outside −180..180",
    );
    rejected(
        |r| r.edit("units.geojson", "[114.01,30]", "[114.01,95]"),
        ProblemKind::CoordinatesOutOfRange,
        "units.geojson: feature 0 (West): coordinate (114.01, 95) is out of range (longitude −180..180, latitude −90..90)",
    );
}

#[test]
fn an_unclosed_ring_is_named_by_feature() {
    // Drop the closing position of the first unit's ring.
    rejected(
        |r| r.edit("units.geojson", "[114,30.01],[114,30]]]", "[114,30.01]]]"),
        ProblemKind::UnclosedRing,
        "units.geojson: feature 0 (West): ring 0 of polygon 0 is not closed (first point (114.0, 30.0), last (114.0, 30.01))",
    );
}

#[test]
fn a_self_intersecting_polygon_is_invalid() {
    // Swap two corners of the east unit: a bow tie.
    rejected(
        |r| {
            r.edit(
                "units.geojson",
                "[[[114.01,30],[114.02,30],[114.02,30.01],[114.01,30.01]",
                "[[[114.01,30],[114.02,30.01],[114.02,30],[114.01,30.01]",
            )
        },
        ProblemKind::InvalidGeometry,
        "units.geojson: feature 1 (East): invalid polygon: polygon at index 0 is invalid: exterior ring has a self-intersection",
    );
}

#[test]
fn duplicate_unit_codes_are_refused() {
    rejected(
        |r| r.edit("units.geojson", r#""code":"U2""#, r#""code":"U1""#),
        ProblemKind::DuplicateCode,
        "units.geojson: feature 1 (East): code 'U1' is already used by feature 0",
    );
}

#[test]
fn overlapping_units_are_refused() {
    // Move the east unit half a cell west, onto the west unit.
    rejected(
        |r| {
            r.write(
                "units.geojson",
                &crate::support::units_json(&[("U1", "West", 114.0), ("U2", "East", 114.005)]),
            )
        },
        ProblemKind::OverlappingUnits,
        "units.geojson: feature 1 (East): unit 'U2' overlaps unit 'U1' (feature 0) by 534761 m²",
    );
}

#[test]
fn records_for_unknown_businesses_and_duplicates_are_refused() {
    rejected(
        |r| r.edit("violations.csv", &code(2), "osm:n1"),
        ProblemKind::UnknownEntity,
        "violations.csv:2: column entity_id: entity 'osm:n1' is not in entities.csv",
    );
    let line = format!("{},Shoe shop", code(2));
    rejected(
        |r| r.edit("entities.csv", &line, &format!("{},Shoe shop", code(1))),
        ProblemKind::DuplicateId,
        &format!(
            "entities.csv:3: column id: entity '{}' appears twice",
            code(1)
        ),
    );
    rejected(
        |r| r.write("officers.csv", "id,name\nO1,Wang\n"),
        ProblemKind::MissingColumn,
        "officers.csv:1: header lacks column(s) role, years_of_service, hours_per_month, certified, skills (it has: id,name)",
    );
}

#[test]
fn every_problem_is_counted_in_one_run() {
    let err = rejected(
        |r| {
            r.edit("entities.csv", "2018-07-01", "yesterday");
            r.edit("entities.csv", ",drugs,", ",potions,");
            r.edit("violations.csv", "minor", "tiny");
        },
        ProblemKind::BadDate,
        "entities.csv:3: column registered_on: 'yesterday' is not a date (expected YYYY-MM-DD)",
    );
    assert_eq!(err.total, 3, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("3 problem(s): 1 bad value, 1 bad date, 1 unknown industry"),
        "{text}"
    );
}

#[test]
fn a_good_import_locates_everyone_and_a_point_on_a_shared_edge_goes_to_the_first_code() {
    let t = TestApp::new("2026-06-15");
    let region = TinyRegion::new();
    let report = t
        .app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    assert_eq!((report.units, report.businesses, report.located), (2, 4, 4));
    let pharmacy = t
        .app
        .entity(&gridpatrol::domain::entity::EntityId::parse(&code(3)).unwrap())
        .unwrap();
    assert_eq!(
        pharmacy.view.unit_code.as_deref(),
        Some("U1"),
        "lon 114.01 is the U1/U2 edge: U1 sorts first"
    );
    let east = t
        .app
        .entity(&gridpatrol::domain::entity::EntityId::parse(&code(2)).unwrap())
        .unwrap();
    assert_eq!(east.view.unit_code.as_deref(), Some("U2"));
}

#[test]
fn unlocated_businesses_are_kept_and_reported() {
    let t = TestApp::new("2026-06-15");
    let region = TinyRegion::new();
    region.edit("entities.csv", "114.019,30.009", "114.5,30.009");
    region.edit("entities.csv", "114.005,30.005", ",");
    let report = t
        .app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    assert_eq!(report.businesses, 4);
    assert_eq!(report.located, 2);
    let why: Vec<&str> = report.unlocated.iter().map(|u| u.2.as_str()).collect();
    assert_eq!(
        why,
        vec!["no coordinates", "(114.5, 30.009) is outside every unit"]
    );
    let summary = Store::open(&t.app.db_path)
        .unwrap()
        .read()
        .summary(crate::support::date("2026-06-15"))
        .unwrap();
    assert_eq!(summary.regions[0].unlocated, 2);
    assert_eq!(summary.regions[0].businesses, 4);
}

#[test]
fn importing_the_same_region_twice_changes_nothing() {
    let t = TestApp::new("2026-06-15");
    let region = TinyRegion::new();
    t.app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    let first: Vec<String> = dump(&t)
        .into_iter()
        .filter(|r| !r.starts_with("audit_log"))
        .collect();
    t.app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    let second: Vec<String> = dump(&t)
        .into_iter()
        .filter(|r| !r.starts_with("audit_log"))
        .collect();
    assert_eq!(first, second);
    // A shorter history file trims the imported rows.
    region.write(
        "violations.csv",
        "entity_id,date,severity,suspended,revoked,note\n",
    );
    t.app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    assert!(dump(&t).iter().all(|r| !r.starts_with("violations:")));
}

#[test]
fn gcj02_inputs_are_converted_to_wgs84() {
    let t = TestApp::new("2026-06-15");
    let region = TinyRegion::new();
    // Rewrite every coordinate of the tiny region in GCJ-02.
    for file in ["jurisdiction.geojson", "units.geojson"] {
        let mut json: serde_json::Value = serde_json::from_str(&region.read(file)).unwrap();
        shift_coordinates(&mut json);
        region.write(file, &json.to_string());
    }
    let (gx, gy) = wgs84_to_gcj02(114.015, 30.005);
    region.edit("entities.csv", "114.015,30.005", &format!("{gx},{gy}"));
    t.app
        .import_region(region.path(), Crs::Gcj02, "test")
        .unwrap();
    let shoe = t
        .app
        .entity(&gridpatrol::domain::entity::EntityId::parse(&code(2)).unwrap())
        .unwrap();
    let (lon, lat) = shoe.view.business.location.unwrap();
    assert!(
        (lon - 114.015).abs() < 1e-9 && (lat - 30.005).abs() < 1e-9,
        "{lon},{lat}"
    );
    assert_eq!(shoe.view.unit_code.as_deref(), Some("U2"));
}

fn shift_coordinates(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Array(items)
            if items.len() == 2 && items.iter().all(serde_json::Value::is_number) =>
        {
            let (x, y) = wgs84_to_gcj02(items[0].as_f64().unwrap(), items[1].as_f64().unwrap());
            *value = serde_json::json!([x, y]);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(shift_coordinates),
        serde_json::Value::Object(map) => map.values_mut().for_each(shift_coordinates),
        _ => {}
    }
}

#[test]
fn gcj02_inverse_matches_the_published_wuhan_pairs() {
    let Some(data) = shared_data("gcj02_inverse_matches_the_published_wuhan_pairs") else {
        return;
    };
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(data.join("china/boundaries").join(name)).unwrap(),
        )
        .unwrap()
    };
    let (wgs, gcj) = (
        read("wuhan_districts.wgs84.geojson"),
        read("wuhan_districts.gcj02.geojson"),
    );
    let mut pairs = 0;
    for (fw, fg) in wgs["features"]
        .as_array()
        .unwrap()
        .iter()
        .zip(gcj["features"].as_array().unwrap())
    {
        assert_eq!(fw["properties"]["adcode"], fg["properties"]["adcode"]);
        let ring_w = &fw["geometry"]["coordinates"][0][0];
        let ring_g = &fg["geometry"]["coordinates"][0][0];
        for (pw, pg) in ring_w
            .as_array()
            .unwrap()
            .iter()
            .zip(ring_g.as_array().unwrap())
            .step_by(25)
        {
            let (x, y) = gcj02_to_wgs84(pg[0].as_f64().unwrap(), pg[1].as_f64().unwrap());
            let (ex, ey) = (pw[0].as_f64().unwrap(), pw[1].as_f64().unwrap());
            // The published file has 6 decimals: agree to within its rounding (≈ 5 cm).
            assert!(
                (x - ex).abs() <= 5.1e-7 && (y - ey).abs() <= 5.1e-7,
                "gcj {pg} -> ({x}, {y}), published {pw}"
            );
            pairs += 1;
        }
    }
    assert!(pairs > 100, "{pairs} pairs checked");
}

#[test]
fn helsinki_places_all_1206_businesses() {
    let Some(data) = shared_data("helsinki_places_all_1206_businesses") else {
        return;
    };
    let t = TestApp::new("2026-06-15");
    let report = t
        .app
        .import_region(&data.join("regions/helsinki"), Crs::Wgs84, "test")
        .unwrap();
    assert_eq!(report.businesses, 1206);
    assert_eq!(report.located, 1206, "unlocated: {:?}", report.unlocated);
    assert!(report.unlocated.is_empty());
}

#[test]
fn the_echarts_districts_are_rejected_at_the_first_invalid_feature() {
    let Some(data) = shared_data("the_echarts_districts_are_rejected_at_the_first_invalid_feature")
    else {
        return;
    };
    let t = TestApp::new("2026-06-15");
    let region = TinyRegion::new();
    std::fs::copy(
        data.join("china/bad/echarts_wuhan_districts.geojson"),
        region.path().join("units.geojson"),
    )
    .unwrap();
    let err = match t.app.import_region(region.path(), Crs::Gcj02, "test") {
        Err(AppError::Import(e)) => e,
        other => panic!("expected rejection, got {other:?}"),
    };
    let first = err.first().unwrap();
    assert_eq!(first.kind, ProblemKind::InvalidGeometry, "{err}");
    assert!(
        matches!(&first.location, Location::Feature { index: 0, name: Some(name) } if name == "江岸区"),
        "{err}"
    );
    assert!(
        first
            .to_string()
            .starts_with("units.geojson: feature 0 (江岸区): invalid polygon:"),
        "{first}"
    );
    assert!(dump(&t).is_empty(), "nothing may be written");
}

#[test]
fn the_store_gives_back_every_business_with_exactly_its_own_records() {
    use gridpatrol::generate::businesses::{Options, generate};
    use gridpatrol::import::{UNITS, read_region, read_units_file};
    let t = TestApp::new("2026-06-15");
    let region = TinyRegion::new();
    let units = read_units_file(&region.path().join(UNITS), Crs::Wgs84).unwrap();
    let options = Options {
        businesses: 400,
        seed: 3,
        as_of: crate::support::date("2026-06-01"),
        officers: None,
    };
    generate(&units, region.path(), &options).unwrap();
    let files = read_region(region.path(), Crs::Wgs84, &t.app.policy).unwrap();
    t.app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    let mut with_records = 0;
    for (business, records) in files.businesses.iter().zip(&files.records) {
        let stored = t.app.entity(&business.id).unwrap();
        let sort = |r: &gridpatrol::domain::entity::Records| {
            let mut r = r.clone();
            r.violations.sort_by_key(|v| (v.date, v.note.clone()));
            r.complaints.sort_by_key(|c| (c.date, c.channel.clone()));
            r.annual_reports.sort_by_key(|a| a.year);
            r.inspections
                .sort_by_key(|i| (i.date, i.officer_id.clone()));
            r
        };
        assert_eq!(sort(&stored.view.records), sort(records), "{}", business.id);
        let pure = gridpatrol::domain::risk::classify(
            business,
            records,
            crate::support::date("2026-06-15"),
            &t.app.policy,
        );
        assert_eq!(
            stored.view.computed.as_ref().map(|c| c.class),
            Some(pure.class),
            "{}",
            business.id
        );
        with_records +=
            usize::from(!records.violations.is_empty() || !records.complaints.is_empty());
    }
    assert!(
        with_records > 20,
        "the generated history has violations and complaints ({with_records})"
    );
}
