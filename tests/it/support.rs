//! Fixtures: a tiny region written to a temp directory, the shared data folder, apps with a
//! fixed clock on a temp database, and a server on port 0.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use gridpatrol::app::{App, Clock};
use gridpatrol::domain::entity::uscc_check_character;
use gridpatrol::domain::policy::Policy;

/// The caller the tests run use cases as: the command line's, which may do everything.
pub fn test_caller() -> gridpatrol::app::access::Caller {
    gridpatrol::app::access::Caller::command_line("test")
}

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// A valid unified social credit code for a serial number.
pub fn code(serial: u32) -> String {
    let first17 = format!("91420102{serial:09}");
    format!("{first17}{}", uscc_check_character(&first17).unwrap())
}

/// `../shared/data`, or `None` with a message when it is absent (the caller skips).
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED {test}: ../shared/data is absent");
        None
    }
}

fn square(x0: f64, y0: f64, w: f64, h: f64) -> String {
    let round = |v: f64| (v * 1e6).round() / 1e6;
    format!(
        "[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]",
        x1 = round(x0 + w),
        y1 = round(y0 + h)
    )
}

/// A region of two units side by side (U1 west, U2 east, sharing the edge lon 114.01),
/// four businesses and a little history.
pub struct TinyRegion {
    pub dir: tempfile::TempDir,
}

pub const JURISDICTION: &str = "jurisdiction.geojson";

impl TinyRegion {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let region = TinyRegion { dir };
        region.write(
            JURISDICTION,
            &format!(
                r#"{{"type":"Feature","properties":{{"code":"tiny","name":"Tiny district"}},"geometry":{{"type":"Polygon","coordinates":{}}}}}"#,
                square(114.0, 30.0, 0.02, 0.01)
            ),
        );
        region.write(
            "units.geojson",
            &units_json(&[("U1", "West", 114.0), ("U2", "East", 114.01)]),
        );
        region.write(
            "entities.csv",
            &format!(
                "id,name,industry,licence,lon,lat,address,registered_on\n\
                 {},Noodle shop,food,licensed,114.005,30.005,1 West Rd,2015-03-01\n\
                 {},Shoe shop,retail,licensed,114.015,30.005,2 East Rd,2018-07-01\n\
                 {},Corner pharmacy,drugs,licensed,114.01,30.005,3 Border Rd,2020-01-15\n\
                 {},Night bar,entertainment,unlicensed,114.019,30.009,,\n",
                code(1),
                code(2),
                code(3),
                code(4)
            ),
        );
        region.write(
            "violations.csv",
            &format!("entity_id,date,severity,suspended,revoked,note\n{},2025-09-01,minor,false,false,expired goods\n", code(2)),
        );
        region.write(
            "complaints.csv",
            &format!(
                "entity_id,date,channel,substantiated\n{},2026-01-10,12315,false\n",
                code(1)
            ),
        );
        region.write(
            "annual_reports.csv",
            &format!(
                "entity_id,year,result\n{},2024,pass\n{},2024,pass\n",
                code(1),
                code(2)
            ),
        );
        region.write(
            "inspections.csv",
            "entity_id,date,officer_id,kind,outcome\n",
        );
        region.write(
            "officers.csv",
            "id,name,role,years_of_service,hours_per_month,certified,skills\n\
             O1,Wang Wei,chief,20,80,true,food\nO2,Li Na,officer,3,120,true,\nO3,Zhang Min,helper,1,60,false,\n",
        );
        region
    }

    /// The tiny region's two units with a generated register in place of its own.
    pub fn generated(businesses: usize, seed: u64, as_of: &str, officers: Option<usize>) -> Self {
        TinyRegion::new().with_register(businesses, seed, as_of, officers)
    }

    /// The bundled 江岸区 outline and its 141 units with a generated register.
    pub fn jiangan(businesses: usize, seed: u64, as_of: &str, officers: Option<usize>) -> Self {
        use gridpatrol::import::{JURISDICTION, UNITS};
        let region = TinyRegion {
            dir: tempfile::tempdir().unwrap(),
        };
        let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("regions/jiangan");
        for file in [JURISDICTION, UNITS] {
            std::fs::copy(bundled.join(file), region.path().join(file)).unwrap();
        }
        // One community made a market (专业市场), for the public map's key markets.
        let units = region.read(UNITS);
        let mut units: serde_json::Value = serde_json::from_str(&units).unwrap();
        units["features"][0]["properties"]["kind"] = "market".into();
        region.write(UNITS, &units.to_string());
        region.with_register(businesses, seed, as_of, officers)
    }

    /// This region's units with a generated register in place of its own.
    fn with_register(
        self,
        businesses: usize,
        seed: u64,
        as_of: &str,
        officers: Option<usize>,
    ) -> Self {
        use gridpatrol::generate::businesses::{Options, generate};
        use gridpatrol::import::{UNITS, read_units_file};
        let units = read_units_file(
            &self.path().join(UNITS),
            gridpatrol::spatial::crs::Crs::Wgs84,
        )
        .unwrap();
        let options = Options {
            businesses,
            seed,
            as_of: date(as_of),
            officers,
        };
        generate(&units, self.path(), &options).unwrap();
        self
    }

    /// Imports this region into the app's database, plans `from`..`to` in `grids` grids,
    /// approves the plan and assigns posts on `from`. Returns the region code and version.
    pub fn plan_and_staff(&self, app: &App, grids: usize, from: &str, to: &str) -> (String, i64) {
        use gridpatrol::app::plan::PlanRequest;
        let code = app
            .import_region(self.path(), gridpatrol::spatial::crs::Crs::Wgs84, "test")
            .unwrap()
            .region;
        let request = PlanRequest {
            grids: Some(grids),
            starts: Some(2),
            ..PlanRequest::new(date(from), date(to))
        };
        let (_, version, _) = app
            .save_patrol_plan(self.path(), &request, "chief")
            .unwrap();
        app.approve_plan(&code, version, "chief").unwrap();
        app.assign_posts(self.path(), date(from), "chief").unwrap();
        (code, version)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.path().join(file), text).unwrap();
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).unwrap()
    }

    /// Replaces text in a file, checking the text was there.
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let text = self.read(file);
        assert!(text.contains(from), "{file} lacks {from:?}");
        self.write(file, &text.replacen(from, to, 1));
    }
}

pub fn units_json(units: &[(&str, &str, f64)]) -> String {
    let features: Vec<String> = units
        .iter()
        .map(|(code, name, x)| {
            format!(
                r#"{{"type":"Feature","properties":{{"code":"{code}","name":"{name}","kind":"community"}},"geometry":{{"type":"Polygon","coordinates":{}}}}}"#,
                square(*x, 30.0, 0.01, 0.01)
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

/// An app on a fresh database file in its own temp directory, with a fixed clock.
pub struct TestApp {
    pub app: App,
    pub _dir: tempfile::TempDir,
}

impl TestApp {
    pub fn new(today: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new(
            dir.path().join("test.db"),
            Policy::default(),
            Clock::fixed_on(date(today)),
        );
        TestApp { app, _dir: dir }
    }

    pub fn at(&self, today: &str) -> App {
        App {
            clock: Clock::fixed_on(date(today)),
            ..self.app.clone()
        }
    }

    pub fn arc(&self) -> Arc<App> {
        Arc::new(self.app.clone())
    }
}
