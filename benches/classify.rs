//! In-memory classification throughput: 1 M generated businesses with their records,
//! classified on one core. Run with `cargo bench --bench classify`; BUSINESSES=N to change
//! the size. Prints the peak memory of the process at the end.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use divan::counter::ItemsCount;
use gridpatrol::domain::entity::{Business, Records};
use gridpatrol::domain::policy::Policy;
use gridpatrol::domain::risk::{class_only, classify};
use gridpatrol::generate::businesses::{Options, generate};
use gridpatrol::import::{UNITS, read_region, read_units_file};
use gridpatrol::spatial::crs::Crs;

fn businesses() -> usize {
    std::env::var("BUSINESSES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}

/// The generated register, made once (seeded) under bench-data/ and read back.
fn register() -> &'static (Vec<Business>, Vec<Records>) {
    static DATA: std::sync::OnceLock<(Vec<Business>, Vec<Records>)> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let n = businesses();
        let dir: PathBuf = root.join(format!("bench-data/classify-{n}"));
        if !dir.join("entities.csv").exists() {
            std::fs::create_dir_all(&dir).expect("bench-data is writable");
            for file in ["jurisdiction.geojson", UNITS] {
                std::fs::copy(root.join("regions/jiangan").join(file), dir.join(file))
                    .expect("the demo region is there");
            }
            let units = read_units_file(&dir.join(UNITS), Crs::Wgs84).expect("units");
            let options = Options {
                businesses: n,
                seed: 11,
                as_of: as_of(),
                officers: None,
            };
            generate(&units, &dir, &options).expect("generated");
        }
        let region = read_region(&dir, Crs::Wgs84, &Policy::default())
            .expect("the generated region imports");
        let records: usize = region
            .records
            .iter()
            .map(|r| {
                r.violations.len()
                    + r.complaints.len()
                    + r.annual_reports.len()
                    + r.inspections.len()
            })
            .sum();
        eprintln!(
            "register: {} businesses, {records} records",
            region.businesses.len()
        );
        (region.businesses, region.records)
    })
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date")
}

/// Full classification: class, reasons and the dates it changes.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn classify_with_reasons(bencher: divan::Bencher) {
    let (businesses, records) = register();
    let policy = Policy::default();
    bencher
        .counter(ItemsCount::new(businesses.len()))
        .bench(|| {
            let mut d = 0usize;
            for (b, r) in businesses.iter().zip(records) {
                d += usize::from(
                    classify(b, r, as_of(), &policy).class
                        == gridpatrol::domain::policy::RiskClass::D,
                );
            }
            d
        });
}

/// The class alone (the fast path used to find change dates).
#[divan::bench(sample_count = 5, sample_size = 1)]
fn class_only_fast_path(bencher: divan::Bencher) {
    let (businesses, records) = register();
    let policy = Policy::default();
    bencher
        .counter(ItemsCount::new(businesses.len()))
        .bench(|| {
            businesses
                .iter()
                .zip(records)
                .filter(|(b, r)| {
                    class_only(b, r, as_of(), &policy) == gridpatrol::domain::policy::RiskClass::D
                })
                .count()
        });
}

fn main() {
    register();
    divan::main();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM")) {
        eprintln!("peak memory of the bench process ({line})");
    }
}
