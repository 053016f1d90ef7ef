//! A synthetic register for a region's units: businesses clustered around hot spots, an
//! industry mix like an urban district's, and violation, complaint, annual-report and
//! inspection histories at documented rates. Seeded: the same seed gives the same files.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{Datelike, Days, NaiveDate};
use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{BoundingRect, Coord};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::voronoi::random_point_inside;
use crate::domain::entity::uscc_check_character;
use crate::import::{
    ANNUAL_REPORT_COLUMNS, COMPLAINT_COLUMNS, ENTITY_COLUMNS, INSPECTION_COLUMNS, OFFICER_COLUMNS,
    Unit, VIOLATION_COLUMNS,
};

/// Shares of the industry mix (an urban district: food and retail lead).
const INDUSTRIES: &[(&str, f64, &[&str])] = &[
    (
        "food",
        28.0,
        &[
            "餐馆",
            "小吃店",
            "超市",
            "便利店",
            "面馆",
            "烘焙坊",
            "食品店",
            "热干面馆",
        ],
    ),
    (
        "retail",
        30.0,
        &["服装店", "五金店", "百货商店", "文具店", "鞋店", "电器行"],
    ),
    (
        "services",
        24.0,
        &[
            "理发店",
            "洗衣店",
            "维修部",
            "美容院",
            "摄影店",
            "家政服务部",
        ],
    ),
    ("manufacturing", 5.0, &["加工厂", "制品厂"]),
    ("other", 3.9, &["商行", "经营部"]),
    ("entertainment", 4.0, &["KTV", "酒吧", "棋牌室", "游艺厅"]),
    ("drugs", 2.0, &["大药房", "药店"]),
    ("farm_supplies", 1.0, &["农资店", "种子站"]),
    ("flammable", 0.7, &["加油站", "液化气站"]),
    ("internet_cafe", 0.6, &["网吧"]),
    ("hazardous", 0.8, &["化工商行", "烟花爆竹店"]),
];
const KEY: &[&str] = &[
    "food",
    "drugs",
    "farm_supplies",
    "flammable",
    "internet_cafe",
    "entertainment",
    "hazardous",
];
const NAME_CHARS: &[&str] = &[
    "鑫", "源", "华", "兴", "隆", "福", "盛", "金", "德", "顺", "佳", "美", "新", "恒", "达", "利",
    "和", "泰", "安", "宏", "江", "汉", "楚", "荣",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
    "秀英", "华", "平", "刚",
];
const SKILLS: &[&str] = &[
    "food",
    "drugs",
    "advertising",
    "trademark",
    "contracts",
    "consumer",
    "pricing",
];

/// Rates, per business and year unless said otherwise. Documented in the region README.
pub const VIOLATIONS_PER_YEAR_KEY: f64 = 0.10;
pub const VIOLATIONS_PER_YEAR_OTHER: f64 = 0.05;
pub const COMPLAINTS_PER_YEAR: f64 = 0.08;
pub const SUBSTANTIATED_SHARE: f64 = 0.45;
pub const INSPECTIONS_PER_YEAR: f64 = 1.0;

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn poisson(rng: &mut impl Rng, lambda: f64) -> u32 {
    // Knuth's method: fine for the small means used here.
    let limit = (-lambda).exp();
    let (mut k, mut p) = (0u32, 1.0f64);
    loop {
        p *= rng.random::<f64>();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

fn normal(rng: &mut impl Rng) -> f64 {
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn date_between(rng: &mut impl Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0) as u64;
    from.checked_add_days(Days::new(rng.random_range(0..=span)))
        .unwrap_or(from)
}

/// A valid unified social credit code, unique for `serial`.
fn credit_code(rng: &mut impl Rng, district: &str, serial: u64) -> String {
    let kind = if rng.random_bool(0.6) { "92" } else { "91" };
    let org = format!("{:08}{}", serial % 100_000_000, (serial / 100_000_000) % 10);
    let first17 = format!("{kind}{district}{org}");
    let check = uscc_check_character(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// Options for [`generate`].
#[derive(Debug, Clone)]
pub struct Options {
    pub businesses: usize,
    pub seed: u64,
    pub as_of: NaiveDate,
    pub officers: Option<usize>,
}

/// Writes entities, violations, complaints, annual reports, inspections and officers CSVs
/// into `dir` for the given units. Returns the number of rows written per file.
pub fn generate(units: &[Unit], dir: &Path, options: &Options) -> Result<Vec<(String, usize)>> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let as_of = options.as_of;
    anyhow::ensure!(!units.is_empty(), "the region has no units");

    let (cumulative, total, hotspots) = hot_spots(units, &mut rng);
    let n_officers = options
        .officers
        .unwrap_or((options.businesses / 250).max(8));
    let officer_ids: Vec<String> = (1..=n_officers).map(|i| format!("O{i:05}")).collect();

    let mut files = RegisterFiles::create(dir)?;
    let dates = Dates {
        as_of,
        earliest: NaiveDate::from_ymd_opt(2005, 1, 1).unwrap_or(as_of),
        history_start: as_of.checked_sub_days(Days::new(3 * 365)).unwrap_or(as_of),
    };
    for serial in 0..options.businesses {
        let u = cumulative
            .partition_point(|&c| c < rng.random::<f64>() * total)
            .min(units.len() - 1);
        let (id, industry, registered_on) = write_entity(
            &mut rng,
            &mut files,
            &units[u],
            &hotspots[u],
            serial as u64 + options.seed.wrapping_mul(7919) % 1000,
            &dates,
        )?;
        write_history(
            &mut rng,
            &mut files,
            &id,
            industry,
            registered_on,
            &dates,
            &officer_ids,
        )?;
    }
    files.flush()?;

    write_officers(dir, &mut rng, &officer_ids)?;
    let mut out = Vec::new();
    for (name, n) in [
        "entities.csv",
        "violations.csv",
        "complaints.csv",
        "annual_reports.csv",
        "inspections.csv",
    ]
    .iter()
    .zip(files.counts)
    {
        out.push(((*name).to_owned(), n));
    }
    out.push(("officers.csv".to_owned(), n_officers));
    std::io::stdout().flush().ok();
    Ok(out)
}

/// Commercial intensity per unit (log-normal), as a running total to draw units from, and
/// one to three hot spots in each unit.
fn hot_spots(units: &[Unit], rng: &mut impl Rng) -> (Vec<f64>, f64, Vec<Vec<Coord<f64>>>) {
    let mut cumulative = Vec::with_capacity(units.len());
    let mut total = 0.0;
    let mut hotspots: Vec<Vec<Coord<f64>>> = Vec::with_capacity(units.len());
    for unit in units {
        total += (0.9 * normal(rng)).exp();
        cumulative.push(total);
        let n = rng.random_range(1..=3);
        hotspots.push(
            (0..n)
                .filter_map(|_| random_point_inside(&unit.shape, rng))
                .collect(),
        );
    }
    (cumulative, total, hotspots)
}

/// The dates the whole register shares: the day it runs up to, the earliest registration,
/// and the start of the three years of history.
struct Dates {
    as_of: NaiveDate,
    earliest: NaiveDate,
    history_start: NaiveDate,
}

type CsvFile = csv::Writer<std::io::BufWriter<std::fs::File>>;

/// A CSV file in `dir`, created afresh, with a large buffer.
fn create_csv(dir: &Path, name: &str) -> Result<CsvFile> {
    let path = dir.join(name);
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok(csv::Writer::from_writer(std::io::BufWriter::with_capacity(
        1 << 20,
        file,
    )))
}

/// The five register files (headers written) and the rows written to each, in the order
/// entities, violations, complaints, annual reports, inspections.
struct RegisterFiles {
    entities: CsvFile,
    violations: CsvFile,
    complaints: CsvFile,
    reports: CsvFile,
    inspections: CsvFile,
    counts: [usize; 5],
}

impl RegisterFiles {
    fn create(dir: &Path) -> Result<Self> {
        let mut files = RegisterFiles {
            entities: create_csv(dir, "entities.csv")?,
            violations: create_csv(dir, "violations.csv")?,
            complaints: create_csv(dir, "complaints.csv")?,
            reports: create_csv(dir, "annual_reports.csv")?,
            inspections: create_csv(dir, "inspections.csv")?,
            counts: [0usize; 5],
        };
        files.entities.write_record(ENTITY_COLUMNS)?;
        files.violations.write_record(VIOLATION_COLUMNS)?;
        files.complaints.write_record(COMPLAINT_COLUMNS)?;
        files.reports.write_record(ANNUAL_REPORT_COLUMNS)?;
        files.inspections.write_record(INSPECTION_COLUMNS)?;
        Ok(files)
    }

    fn flush(&mut self) -> Result<()> {
        for w in [
            &mut self.entities,
            &mut self.violations,
            &mut self.complaints,
            &mut self.reports,
            &mut self.inspections,
        ] {
            w.flush()?;
        }
        Ok(())
    }
}

/// One business in `unit`: its credit code, industry, name, licence, position and
/// registration day, written to entities.csv. Returns its id, industry and registration day.
fn write_entity(
    rng: &mut impl Rng,
    files: &mut RegisterFiles,
    unit: &Unit,
    spots: &[Coord<f64>],
    serial: u64,
    dates: &Dates,
) -> Result<(String, &'static str, NaiveDate)> {
    let as_of = dates.as_of;
    let district = unit
        .code
        .get(..6)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("420102");
    let id = credit_code(rng, district, serial);
    let industry_total: f64 = INDUSTRIES.iter().map(|i| i.1).sum();
    let mut roll = rng.random::<f64>() * industry_total;
    let (industry, _, suffixes) = INDUSTRIES
        .iter()
        .find(|(_, share, _)| {
            roll -= share;
            roll <= 0.0
        })
        .unwrap_or(&INDUSTRIES[0]);
    let name = format!(
        "武汉市{}{}{}{}",
        unit.name.trim_end_matches("社区").trim_end_matches("村"),
        pick(rng, NAME_CHARS),
        pick(rng, NAME_CHARS),
        pick(rng, suffixes)
    );
    let licence = match rng.random::<f64>() {
        x if x < 0.965 => "licensed",
        x if x < 0.980 => "unlicensed",
        x if x < 0.986 => "suspended",
        x if x < 0.993 => "revoked",
        _ => "deregistered",
    };
    let location = place(rng, unit, spots);
    let registered_on = date_between(
        rng,
        dates.earliest,
        as_of.checked_sub_days(Days::new(30)).unwrap_or(as_of),
    );
    let (lon, lat) = location.map_or((String::new(), String::new()), |c| {
        (format!("{:.6}", c.x), format!("{:.6}", c.y))
    });
    let address = format!("武汉市{}{}号", unit.name, rng.random_range(1..400));
    files.entities.write_record([
        id.as_str(),
        &name,
        industry,
        licence,
        &lon,
        &lat,
        &address,
        &registered_on.to_string(),
    ])?;
    files.counts[0] += 1;
    Ok((id, *industry, registered_on))
}

/// A business's position: around one of the unit's hot spots, kept inside the unit; one in
/// two thousand has none.
fn place(rng: &mut impl Rng, unit: &Unit, spots: &[Coord<f64>]) -> Option<Coord<f64>> {
    if rng.random_bool(0.0005) {
        return None;
    }
    let rect = unit.shape.bounding_rect();
    let sigma = rect.map_or(0.001, |r| 0.2 * r.width().min(r.height()));
    let mut placed = None;
    for _ in 0..20 {
        let Some(h) = spots.get(rng.random_range(0..spots.len().max(1))) else {
            break;
        };
        let c = Coord {
            x: h.x + sigma * normal(rng),
            y: h.y + sigma * normal(rng),
        };
        if unit.shape.coordinate_position(&c) == CoordPos::Inside {
            placed = Some(c);
            break;
        }
    }
    placed.or_else(|| random_point_inside(&unit.shape, rng))
}

/// A business's history since it registered (at most three years back): violations and
/// complaints at rates scaled by a latent propensity, annual reports, and inspections.
fn write_history(
    rng: &mut impl Rng,
    files: &mut RegisterFiles,
    id: &str,
    industry: &str,
    registered_on: NaiveDate,
    dates: &Dates,
    officer_ids: &[String],
) -> Result<()> {
    let as_of = dates.as_of;
    // A latent propensity: most businesses are careful, a few are not.
    let propensity = match rng.random::<f64>() {
        x if x < 0.80 => 0.5,
        x if x < 0.95 => 2.0,
        _ => 6.0,
    };
    let from = registered_on.max(dates.history_start);
    let years = (as_of - from).num_days() as f64 / 365.0;
    let base = if KEY.contains(&industry) {
        VIOLATIONS_PER_YEAR_KEY
    } else {
        VIOLATIONS_PER_YEAR_OTHER
    };
    write_violations(rng, files, id, base * propensity * years, from, as_of)?;
    write_complaints(rng, files, id, propensity, years, from, as_of)?;
    write_annual_reports(rng, files, id, propensity, registered_on, as_of)?;
    write_inspections(rng, files, id, from, as_of, officer_ids)
}

/// Violations at `mean` over the span, most of them minor.
fn write_violations(
    rng: &mut impl Rng,
    files: &mut RegisterFiles,
    id: &str,
    mean: f64,
    from: NaiveDate,
    as_of: NaiveDate,
) -> Result<()> {
    for _ in 0..poisson(rng, mean) {
        let date = date_between(rng, from, as_of);
        let (severity, suspended, revoked) = match rng.random::<f64>() {
            x if x < 0.60 => ("minor", false, false),
            x if x < 0.92 => ("general", false, false),
            _ => ("serious", rng.random_bool(0.35), rng.random_bool(0.10)),
        };
        let note = pick(
            rng,
            &[
                "无照经营",
                "未亮照经营",
                "过期食品",
                "虚假宣传",
                "计量不准",
                "进货台账缺失",
                "超范围经营",
            ],
        );
        files.violations.write_record([
            id,
            &date.to_string(),
            severity,
            &suspended.to_string(),
            &revoked.to_string(),
            note,
        ])?;
        files.counts[1] += 1;
    }
    Ok(())
}

/// Complaints by channel; the careless are more often found to be right.
fn write_complaints(
    rng: &mut impl Rng,
    files: &mut RegisterFiles,
    id: &str,
    propensity: f64,
    years: f64,
    from: NaiveDate,
    as_of: NaiveDate,
) -> Result<()> {
    for _ in 0..poisson(rng, COMPLAINTS_PER_YEAR * propensity * years) {
        let date = date_between(rng, from, as_of);
        let channel = match rng.random::<f64>() {
            x if x < 0.60 => "12315",
            x if x < 0.85 => "web",
            x if x < 0.90 => "letter",
            _ => "walk_in",
        };
        let substantiated = rng.random_bool((SUBSTANTIATED_SHARE * propensity.sqrt()).min(0.9));
        files.complaints.write_record([
            id,
            &date.to_string(),
            channel,
            &substantiated.to_string(),
        ])?;
        files.counts[2] += 1;
    }
    Ok(())
}

/// One annual report a year (due the next 30 June) for up to the last three years.
fn write_annual_reports(
    rng: &mut impl Rng,
    files: &mut RegisterFiles,
    id: &str,
    propensity: f64,
    registered_on: NaiveDate,
    as_of: NaiveDate,
) -> Result<()> {
    let first_year = registered_on.year().max(as_of.year() - 3);
    for year in first_year..as_of.year() {
        let due = NaiveDate::from_ymd_opt(year + 1, 6, 30).unwrap_or(as_of);
        if due > as_of {
            continue;
        }
        let result = match rng.random::<f64>() * propensity.sqrt() {
            x if x < 0.93 => "pass",
            x if x < 0.96 => "fail",
            _ => "missing",
        };
        files
            .reports
            .write_record([id, &year.to_string(), result])?;
        files.counts[3] += 1;
    }
    Ok(())
}

/// Routine inspections over the last year, by a random officer.
fn write_inspections(
    rng: &mut impl Rng,
    files: &mut RegisterFiles,
    id: &str,
    from: NaiveDate,
    as_of: NaiveDate,
    officer_ids: &[String],
) -> Result<()> {
    for _ in 0..poisson(
        rng,
        INSPECTIONS_PER_YEAR * (as_of - from).num_days().min(365) as f64 / 365.0,
    ) {
        let date = date_between(
            rng,
            from.max(as_of.checked_sub_days(Days::new(365)).unwrap_or(from)),
            as_of,
        );
        let outcome = match rng.random::<f64>() {
            x if x < 0.85 => "ok",
            x if x < 0.94 => "findings",
            x if x < 0.985 => "rectification",
            x if x < 0.997 => "case",
            _ => "refused",
        };
        files.inspections.write_record([
            id,
            &date.to_string(),
            pick(rng, officer_ids).as_str(),
            "routine",
            outcome,
        ])?;
        files.counts[4] += 1;
    }
    Ok(())
}

/// officers.csv: a chief, deputies (one per eight), helpers (one in six) and patrol
/// officers, with years of service, monthly hours, certificates and skills.
fn write_officers(dir: &Path, rng: &mut impl Rng, officer_ids: &[String]) -> Result<()> {
    let n_officers = officer_ids.len();
    let mut officers = create_csv(dir, "officers.csv")?;
    officers.write_record(OFFICER_COLUMNS)?;
    let deputies = n_officers.div_ceil(8);
    let helpers = n_officers / 6;
    for (i, id) in officer_ids.iter().enumerate() {
        let role = if i == 0 {
            "chief"
        } else if i <= deputies {
            "deputy"
        } else if i > n_officers - helpers {
            "helper"
        } else {
            "officer"
        };
        let name = format!("{}{}", pick(rng, SURNAMES), pick(rng, GIVEN));
        let years = if role == "chief" || role == "deputy" {
            rng.random_range(8..30)
        } else {
            rng.random_range(0..25)
        };
        let hours = if role == "officer" {
            rng.random_range(100..=140)
        } else {
            rng.random_range(40..=100)
        };
        let certified = role != "helper" && rng.random_bool(0.95);
        let n_skills = rng.random_range(0..3);
        let skills: Vec<&str> = (0..n_skills).map(|_| *pick(rng, SKILLS)).collect();
        officers.write_record([
            id.as_str(),
            &name,
            role,
            &years.to_string(),
            &hours.to_string(),
            &certified.to_string(),
            &skills.join(";"),
        ])?;
    }
    officers.flush()?;
    Ok(())
}
