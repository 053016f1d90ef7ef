//! The command line: parses arguments and runs one command. Errors come back as `anyhow`
//! and are printed by `main` to standard error with a non-zero exit.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::app::access::Caller;
use crate::app::{App, Clock, ImportReport};
use crate::domain::entity::EntityId;
use crate::domain::policy::{Policy, RiskClass};
use crate::domain::risk::{classify, reasons_text};
use crate::import::read_region;
use crate::jobs;
use crate::spatial::crs::Crs;
use crate::store::BusinessFilter;

#[derive(Debug, Parser)]
#[command(
    name = "gridpatrol",
    version,
    about = "Grid supervision for market regulators"
)]
pub struct Cli {
    /// The database file [default: gridpatrol.db; `demo`: gridpatrol-demo.db; `serve`:
    /// the configuration's `db`].
    #[arg(long, global = true, env = "GRIDPATROL_DB")]
    pub db: Option<PathBuf>,
    /// A policy file laid over the shipped defaults (see policy.toml).
    #[arg(long, global = true, env = "GRIDPATROL_POLICY")]
    pub policy: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Add an account. The password is read from the first line of standard input with
    /// `--password-stdin`; otherwise a random one is made and printed once.
    Add {
        #[arg(long)]
        username: String,
        /// admin, bureau_head, manager or officer.
        #[arg(long)]
        role: crate::domain::access::UserRole,
        /// The officer on the roster this account is (required for `officer`).
        #[arg(long)]
        officer: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts.
    List,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import a region directory (SPEC §8 files) into the database, all or nothing.
    Import {
        #[arg(long)]
        region: PathBuf,
        /// The coordinate system of every coordinate in the region's files.
        #[arg(long, value_enum, default_value_t = Crs::Wgs84)]
        crs: Crs,
        /// Who imports (for the audit log).
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// Classify a region's businesses without a database; prints CSV `entity_id,class,reasons`.
    Classify {
        #[arg(long)]
        region: PathBuf,
        #[arg(long)]
        as_of: NaiveDate,
        #[arg(long, value_enum, default_value_t = Crs::Wgs84)]
        crs: Crs,
    },
    /// Re-classify businesses in the database (all of them, or only those due for review).
    Reclassify {
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Only businesses whose classification is due for review (what the nightly job does).
        #[arg(long)]
        due_only: bool,
    },
    /// Set or lift a class override (a bureau head's decision, audited).
    Override {
        #[arg(long)]
        entity: String,
        #[arg(long, required_unless_present = "lift")]
        class: Option<RiskClass>,
        #[arg(long, required_unless_present = "lift")]
        reason: Option<String>,
        /// Last day the override holds.
        #[arg(long, required_unless_present = "lift")]
        until: Option<NaiveDate>,
        #[arg(long)]
        by: String,
        #[arg(long)]
        lift: bool,
    },
    /// Serve the API and pages, with the scheduled jobs.
    Serve {
        /// Address to listen on [default: the configuration's `bind`, 127.0.0.1:8080].
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// A TOML configuration (bind, db, data_dir, [limits], [auth], [jobs] cron
        /// expressions); `GRIDPATROL_<KEY>` variables override it, sections joined by `__`.
        #[arg(long, env = "GRIDPATROL_CONFIG")]
        config: Option<PathBuf>,
        /// Cron expression (six fields, seconds first) of the nightly re-classification
        /// (overrides `jobs.nightly_reclassify`).
        #[arg(long, env = "GRIDPATROL_NIGHTLY_CRON")]
        nightly_cron: Option<String>,
    },
    /// A coverage report over a period: required visits, done, on time, overdue, never
    /// inspected, coverage, same-day entry, findings, notices, targeted leads, hours; by grid,
    /// officer, area, class, industry or business. CSV (default), JSON, or Excel with a sheet
    /// per breakdown and Chinese headers (`--format xlsx --out FILE`).
    Report(ReportArgs),
    /// The three clears (三清): units in exactly one grid, a full chain for every grid, every
    /// business located and classified. Lists what is missing; exits 1 when anything is.
    Clears {
        #[arg(long)]
        region: Option<String>,
    },
    /// Manage accounts of the service.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Build a fresh database from the bundled demo region, run the pipeline, and serve it.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// The region to import (default: the bundled Jiang'an district).
        #[arg(long)]
        region: Option<PathBuf>,
        /// Build the database and exit without serving.
        #[arg(long)]
        no_serve: bool,
        /// Months of patrol work replayed before today (from the first of the month), so
        /// the reports and bulletins have a past; 0 starts the plan today.
        #[arg(long, default_value_t = 2)]
        history_months: u32,
    },
    /// Write a synthetic register (businesses, records, officers) for a region's units.
    Generate {
        #[arg(long)]
        region: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        businesses: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The date the history runs up to (default today).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        #[arg(long)]
        officers: Option<usize>,
    },
    /// Divide a region (or a graph file) into K contiguous, workload-balanced, compact grids.
    /// The last line of standard output is one JSON object with the plan's measures.
    Partition(PartitionArgs),
    /// Plan routine patrols for a region: grids, A-post and B-post officers, and dated tasks
    /// as CSV `date,entity_id,grid,officer_id,partner_id,kind,due_by,covers,period_start` on
    /// standard output.
    Plan(PlanArgs),
    /// Give the grids of the region's plan in force their A-post and B-post officers as of a
    /// day: existing posts are kept unless a rule (certificate, rotation limit) or the
    /// balance says otherwise; every change is listed with its reason and stored.
    Assign {
        #[arg(long)]
        region: PathBuf,
        #[arg(long)]
        on: Option<NaiveDate>,
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// A random draw (双随机): businesses per class share and inspector pairs at random, with a
    /// recorded seed so that the draw can be replayed; CSV on standard output.
    Draw {
        #[arg(long)]
        region: PathBuf,
        /// The day of the draw (classes as of it; default today).
        #[arg(long)]
        on: Option<NaiveDate>,
        /// Days the inspections may take.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// The seed; printed in every row so that the draw can be replayed and audited.
        #[arg(long)]
        seed: u64,
    },
    /// An officer's due list from the stored tasks: overdue first, then targeted, then by due
    /// date and class; or as a route from a start point. Optionally an iCalendar feed.
    Due {
        #[arg(long)]
        officer: String,
        /// First day (default today).
        #[arg(long)]
        on: Option<NaiveDate>,
        /// How many days from the first (1 = a day, 7 = a week).
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// Order as a route from this point: `LON,LAT`.
        #[arg(long, value_parser = parse_point)]
        start: Option<(f64, f64)>,
        /// Write the list as an iCalendar (.ics) feed to this file.
        #[arg(long)]
        ics: Option<PathBuf>,
    },
    /// List a region's stored grid plans, or approve a draft (a bureau head's decision).
    Plans {
        #[arg(long)]
        region: String,
        /// Approve this draft version: it comes into force and the plan in force is retired.
        #[arg(long, requires = "by")]
        approve: Option<i64>,
        #[arg(long)]
        by: Option<String>,
    },
    /// Benchmark the point locator: index the units, locate every point of a CSV with
    /// `lon,lat` columns, repeat, print medians as JSON (used by scripts/bench-locate.sh).
    #[command(hide = true)]
    BenchLocate {
        #[arg(long)]
        units: PathBuf,
        #[arg(long)]
        points: PathBuf,
        #[arg(long, default_value_t = 5)]
        repeat: usize,
    },
    /// Write jurisdiction.geojson and units.geojson: real division names and codes inside
    /// real district outlines, with synthetic (Voronoi) unit boundaries.
    GenerateUnits {
        /// GeoJSON with district outlines (properties.adcode).
        #[arg(long)]
        outline: PathBuf,
        /// Division codes JSON (districts → streets → communities).
        #[arg(long)]
        divisions: PathBuf,
        /// District codes to include, comma separated, or `all`.
        #[arg(long)]
        districts: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

// `report`: the period, the breakdown, the format and where to write.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The region (default: the only one in the database).
    #[arg(long)]
    pub region: Option<String>,
    /// 2027, 2027-H1, 2027-Q1, 2027-03 or 2027-03-D1 (a 旬).
    #[arg(long)]
    pub period: crate::domain::report::Period,
    #[arg(long, default_value = "grid")]
    pub by: crate::domain::report::Breakdown,
    /// csv, json or xlsx.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Where to write (standard output when absent; required for xlsx).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Drill-down: only this grid's businesses …
    #[arg(long)]
    pub grid: Option<String>,
    /// … or only this officer's.
    #[arg(long)]
    pub officer: Option<String>,
}

// `plan`: the region, the days, and how the grids are made or kept.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[arg(long)]
    pub region: PathBuf,
    #[arg(long)]
    pub from: NaiveDate,
    #[arg(long)]
    pub to: NaiveDate,
    /// Number of grids (default: one per certified officer).
    #[arg(long)]
    pub grids: Option<usize>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Partitioning starts (default sized to the region).
    #[arg(long)]
    pub starts: Option<usize>,
    /// Keep this grid plan instead of partitioning: a grids GeoJSON (as `partition
    /// --out` writes) or a CSV `unit,grid`.
    #[arg(long, conflicts_with = "grids")]
    pub grid_plan: Option<PathBuf>,
    /// Also store the grids (as the next draft plan) and the tasks in the database; the
    /// region must have been imported.
    #[arg(long)]
    pub save: bool,
    /// A special campaign (JSON: name, from, to, and optional industries, classes, grids,
    /// areas, checklist); may be given several times. Routine visits due in its window
    /// are merged into its visits.
    #[arg(long)]
    pub campaign: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PartitionArgs {
    /// A region directory: units from its polygons, workload from its register.
    #[arg(long, conflicts_with = "graph")]
    pub region: Option<PathBuf>,
    /// A NetworkX adjacency JSON or a GeoJSON with LIST_ADJACENT.
    #[arg(long)]
    pub graph: Option<PathBuf>,
    /// The node attribute that holds the weight (with --graph).
    #[arg(long)]
    pub weight: Option<String>,
    #[arg(long)]
    pub grids: usize,
    #[arg(long, default_value_t = 0.05)]
    pub tolerance: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The current plan (a grids GeoJSON this command wrote, or a `unit,grid` CSV): redraw
    /// it for the new weights, moving as few units as the balance allows.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Store the plan (with --region) in the database as the region's next draft version.
    #[arg(long, requires = "region")]
    pub save: bool,
    /// Multilevel starts (the best plan wins); default sized to the graph.
    #[arg(long)]
    pub starts: Option<usize>,
    /// Grids GeoJSON (with --region) or a `unit,grid` CSV (with --graph).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Crs::Wgs84)]
    pub crs: Crs,
    /// Classify the register as of this date for the workload (default today).
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
}

/// `LON,LAT` as two numbers in range.
fn parse_point(text: &str) -> Result<(f64, f64), String> {
    let (lon, lat) = text
        .split_once(',')
        .ok_or_else(|| format!("'{text}' is not LON,LAT"))?;
    let lon: f64 = lon
        .trim()
        .parse()
        .map_err(|_| format!("'{lon}' is not a longitude"))?;
    let lat: f64 = lat
        .trim()
        .parse()
        .map_err(|_| format!("'{lat}' is not a latitude"))?;
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(format!("({lon}, {lat}) is out of range"));
    }
    Ok((lon, lat))
}

fn load_policy(path: Option<&Path>) -> Result<Policy> {
    match path {
        None => Ok(Policy::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading policy {}", p.display()))?;
            Policy::from_toml_str(&text).with_context(|| format!("policy {}", p.display()))
        }
    }
}

/// Runs the parsed command: opens the app on the database and policy named, then hands the
/// command to its function.
pub fn run(cli: Cli) -> Result<()> {
    let explicit_db = cli.db.is_some();
    let app = open_app(cli.db.as_deref(), cli.policy.as_deref())?;
    match cli.command {
        Command::Import { region, crs, actor } => import(&app, &region, crs, &actor),
        Command::Classify { region, as_of, crs } => {
            classify_region(&region, as_of, crs, &app.policy)
        }
        Command::Reclassify { as_of, due_only } => reclassify(&app, as_of, due_only),
        Command::Override {
            entity,
            class,
            reason,
            until,
            by,
            lift,
        } => override_class(&app, &entity, class, reason, until, &by, lift),
        Command::Serve {
            bind,
            config,
            nightly_cron,
        } => serve_command(app, explicit_db, bind, config.as_deref(), nightly_cron),
        Command::Report(args) => report(&app, args),
        Command::Clears { region } => clears(&app, region),
        Command::User { action } => match action {
            UserAction::Add {
                username,
                role,
                officer,
                password_stdin,
            } => add_user(&app, &username, role, officer.as_deref(), password_stdin),
            UserAction::List => list_users(&app),
        },
        Command::Demo {
            bind,
            region,
            no_serve,
            history_months,
        } => demo(app, explicit_db, bind, region, no_serve, history_months),
        Command::Generate {
            region,
            businesses,
            seed,
            as_of,
            officers,
        } => generate(&app, &region, businesses, seed, as_of, officers),
        Command::Partition(args) => partition_command(&args, &app),
        Command::Assign { region, on, by } => assign(&app, &region, on, &by),
        Command::Draw {
            region,
            on,
            days,
            seed,
        } => draw(&app, &region, on, days, seed),
        Command::Due {
            officer,
            on,
            days,
            start,
            ics,
        } => due(&app, &officer, on, days, start, ics.as_deref()),
        Command::Plan(args) => plan(&app, args),
        Command::Plans {
            region,
            approve,
            by,
        } => plans(&app, &region, approve, by.as_deref()),
        Command::BenchLocate {
            units,
            points,
            repeat,
        } => bench_locate(&units, &points, repeat),
        Command::GenerateUnits {
            outline,
            divisions,
            districts,
            out,
            seed,
        } => generate_units(&outline, &divisions, &districts, &out, seed),
    }
}

/// The app on the database named (default `gridpatrol.db`) with the policy named laid over
/// the defaults; nothing is opened until a command needs the store.
fn open_app(db: Option<&Path>, policy: Option<&Path>) -> Result<App> {
    let policy = load_policy(policy)?;
    Ok(App::new(
        db.map_or_else(|| PathBuf::from("gridpatrol.db"), Path::to_path_buf),
        policy,
        Clock::System,
    ))
}

/// A CSV writer on standard output, buffered.
fn stdout_csv() -> csv::Writer<std::io::BufWriter<std::io::StdoutLock<'static>>> {
    csv::Writer::from_writer(std::io::BufWriter::new(std::io::stdout().lock()))
}

/// Writes a file a command was asked for and says so on standard error.
fn write_output(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// `import`: the region into the database, all or nothing, then what it held.
fn import(app: &App, region: &Path, crs: Crs, actor: &str) -> Result<()> {
    let report = app.import_region(region, crs, actor)?;
    print_import_report(&report);
    Ok(())
}

/// `reclassify`: every business, or (`--due-only`) those due for review as the nightly job does.
fn reclassify(app: &App, as_of: Option<NaiveDate>, due_only: bool) -> Result<()> {
    let report = if due_only {
        app.nightly_reclassify(as_of.unwrap_or_else(|| app.clock.today()))?
    } else {
        app.reclassify(&BusinessFilter::All, as_of, "reclassify")?
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// `override`: sets a class override, or (`--lift`) lifts the active one.
fn override_class(
    app: &App,
    entity: &str,
    class: Option<RiskClass>,
    reason: Option<String>,
    until: Option<NaiveDate>,
    by: &str,
    lift: bool,
) -> Result<()> {
    let id = EntityId::parse(entity).with_context(|| "--entity")?;
    if lift {
        match app.lift_override(&id, by)? {
            Some(row) => println!("lifted: {}", serde_json::to_string(&row)?),
            None => bail!("business '{id}' has no active override"),
        }
    } else {
        let (Some(class), Some(reason), Some(until)) = (class, reason, until) else {
            bail!("--class, --reason and --until are needed to set an override");
        };
        let row = app.set_override(&id, class, &reason, until, by)?;
        println!("set: {}", serde_json::to_string(&row)?);
    }
    Ok(())
}

/// `serve`: the configuration (file, environment, then flags) decides the address, the
/// database, the photo directory and the caches; the store is opened before serving.
fn serve_command(
    app: App,
    explicit_db: bool,
    bind: Option<SocketAddr>,
    config: Option<&Path>,
    nightly_cron: Option<String>,
) -> Result<()> {
    let mut config =
        crate::config::Config::load(config, std::env::vars()).map_err(anyhow::Error::msg)?;
    if let Some(bind) = bind {
        config.bind = bind;
    }
    if let Some(cron) = nightly_cron {
        config.jobs.nightly_reclassify = cron;
    }
    let db_path = match (explicit_db, &config.db) {
        (false, Some(db)) => db.clone(),
        _ => app.db_path,
    };
    let app = App::with_settings(db_path, app.policy, app.clock, config.app_settings());
    app.open_store()?;
    // Open the writing connection now rather than on the first request's thread.
    app.connections.generation(&app.db_path, "");
    serve(app, config, None)
}

/// `report`: the coverage report in the format asked for, to a file or standard output.
fn report(app: &App, args: ReportArgs) -> Result<()> {
    use crate::domain::report::Breakdown;
    let ReportArgs {
        region,
        period,
        by,
        format,
        out,
        grid,
        officer,
    } = args;
    let region = only_region(app, region)?;
    let within = match (&grid, &officer) {
        (Some(g), _) => Some((Breakdown::Grid, g.as_str())),
        (None, Some(o)) => Some((Breakdown::Officer, o.as_str())),
        _ => None,
    };
    let bytes = match format.as_str() {
        "csv" => App::coverage_csv(&app.coverage_report(
            &Caller::command_line("cli"),
            &region,
            period,
            by,
            within,
        )?)
        .into_bytes(),
        "json" => serde_json::to_vec_pretty(&app.coverage_report(
            &Caller::command_line("cli"),
            &region,
            period,
            by,
            within,
        )?)?,
        "xlsx" => {
            anyhow::ensure!(out.is_some(), "--format xlsx needs --out FILE");
            app.coverage_xlsx(&Caller::command_line("cli"), &region, period, by, within)?
        }
        other => bail!("--format: '{other}' is not csv, json or xlsx"),
    };
    match out {
        Some(path) => write_output(&path, bytes)?,
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}

/// `clears`: the three clears as JSON; an error (exit 1) when anything is missing.
fn clears(app: &App, region: Option<String>) -> Result<()> {
    let region = only_region(app, region)?;
    let c = app.clears(&Caller::command_line("cli"), &region)?;
    println!("{}", serde_json::to_string_pretty(&c)?);
    let missing = c.units_without_grid.len()
        + c.units_in_two_grids.len()
        + c.grids_without_a_post.len()
        + c.grids_without_b_post.len()
        + c.grids_without_deputy.len()
        + usize::from(!c.has_chief)
        + c.unlocated_businesses.len()
        + c.unclassified_businesses.len();
    if missing > 0 {
        bail!("{missing} things missing for the three clears of {region}");
    }
    Ok(())
}

/// `user add`: the password from standard input, or a random one printed once.
fn add_user(
    app: &App,
    username: &str,
    role: crate::domain::access::UserRole,
    officer: Option<&str>,
    password_stdin: bool,
) -> Result<()> {
    let (password, shown) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (new_password(), true)
    };
    app.add_user(username, &password, role, officer, "cli")?;
    if shown {
        println!("added {username} ({role}); password (shown once): {password}");
    } else {
        println!("added {username} ({role})");
    }
    Ok(())
}

/// `user list`: one account a line, tab-separated.
fn list_users(app: &App) -> Result<()> {
    for u in app.users(&Caller::command_line("cli"))? {
        println!(
            "{}\t{}\t{}{}",
            u.username,
            u.role,
            u.officer_id.unwrap_or_default(),
            if u.disabled { "\tdisabled" } else { "" }
        );
    }
    Ok(())
}

/// `generate`: a synthetic register for the region's units, written into its directory.
fn generate(
    app: &App,
    region: &Path,
    businesses: usize,
    seed: u64,
    as_of: Option<NaiveDate>,
    officers: Option<usize>,
) -> Result<()> {
    let units = crate::import::read_units_file(&region.join(crate::import::UNITS), Crs::Wgs84)?;
    let options = crate::generate::businesses::Options {
        businesses,
        seed,
        as_of: as_of.unwrap_or_else(|| app.clock.today()),
        officers,
    };
    eprintln!(
        "generating {businesses} businesses over {} units (seed {seed}, as of {})…",
        units.len(),
        options.as_of
    );
    for (file, rows) in crate::generate::businesses::generate(&units, region, &options)? {
        println!("{file}: {rows} rows");
    }
    Ok(())
}

/// `assign`: posts for the plan in force, every change with its reason, then the balance.
fn assign(app: &App, region: &Path, on: Option<NaiveDate>, by: &str) -> Result<()> {
    let report = app.assign_posts(region, on.unwrap_or_else(|| app.clock.today()), by)?;
    for (grid, from, to, why) in &report.changes {
        println!(
            "{grid}: {} -> {}  ({why})",
            from.as_deref().unwrap_or("-"),
            to.as_deref().unwrap_or("-")
        );
    }
    println!(
        "plan {} of {}: {} posts changed; load max {:.3}, mean {:.3} (A-post workload ÷ patrol hours)",
        report.plan_version,
        report.region,
        report.changes.len(),
        report.max_load,
        report.mean_load
    );
    for gap in &report.gaps {
        println!("gap: {gap}");
    }
    Ok(())
}

/// `draw`: the random draw as CSV, the seed in every row.
fn draw(app: &App, region: &Path, on: Option<NaiveDate>, days: u32, seed: u64) -> Result<()> {
    let on = on.unwrap_or_else(|| app.clock.today());
    let (lines, blocked) =
        crate::app::plan::random_draw_region(region, on, days, seed, &app.policy)?;
    let mut out = stdout_csv();
    out.write_record([
        "entity_id",
        "class",
        "officer_id",
        "partner_id",
        "due_by",
        "drawn_on",
        "seed",
    ])?;
    for l in &lines {
        out.write_record([
            l.entity_id.as_str(),
            l.class.as_str(),
            &l.officer_id,
            &l.partner_id,
            &l.due_by.to_string(),
            &on.to_string(),
            &seed.to_string(),
        ])?;
    }
    out.flush()?;
    eprintln!(
        "{} businesses drawn (seed {seed}); {} left out for want of an inspector pair free of conflicts",
        lines.len(),
        blocked.len()
    );
    Ok(())
}

/// `due`: an officer's due list, one task a line, and optionally its iCalendar feed.
fn due(
    app: &App,
    officer: &str,
    on: Option<NaiveDate>,
    days: u32,
    start: Option<(f64, f64)>,
    ics: Option<&Path>,
) -> Result<()> {
    let list = app.due_list(
        &Caller::command_line("cli"),
        officer,
        on.unwrap_or_else(|| app.clock.today()),
        days,
        start,
    )?;
    let today = app.clock.today();
    for t in &list.tasks {
        let overdue = if t.due_by < today { " OVERDUE" } else { "" };
        println!(
            "{}  by {}  {}  {:<9} {}  {}  {}{overdue}",
            t.due_on,
            t.due_by,
            t.class.as_deref().unwrap_or("?"),
            t.kind,
            t.entity_id,
            t.name,
            t.address
        );
    }
    match list.route_m {
        Some(m) => println!("{} tasks; route {:.1} km", list.tasks.len(), m / 1000.0),
        None => println!("{} tasks", list.tasks.len()),
    }
    if let Some(path) = ics {
        write_output(path, app.due_list_ics(&list))?;
    }
    Ok(())
}

/// `plan`: the patrol plan (saved as a draft with `--save`), its tasks as CSV on standard
/// output and what it says about staffing on standard error.
fn plan(app: &App, args: PlanArgs) -> Result<()> {
    let PlanArgs {
        region,
        from,
        to,
        grids,
        seed,
        starts,
        grid_plan,
        save,
        campaign,
    } = args;
    let campaigns = read_campaigns(&campaign)?;
    let request = crate::app::plan::PlanRequest {
        from,
        to,
        grids,
        grid_plan,
        seed,
        starts,
        campaigns,
    };
    let plan = if save {
        let (plan, version, written) = app.save_patrol_plan(&region, &request, "cli")?;
        eprintln!(
            "saved draft grid plan {version} and {written} tasks in {}",
            app.db_path.display()
        );
        plan
    } else {
        let (plan, graph) =
            crate::app::plan::plan_region_with_graph(&region, &request, &app.policy)?;
        // The process ends soon: the register need not be freed row by row.
        std::mem::forget(graph);
        plan
    };
    write_tasks_csv(&plan, from, to)?;
    tracing::info!("plan: written");
    print_plan_summary(&plan);
    print_staffing(&plan);
    // The process ends here: millions of tasks need not be freed one by one.
    std::mem::forget(plan);
    Ok(())
}

/// The `--campaign` files, each a campaign whose window runs forwards.
fn read_campaigns(files: &[PathBuf]) -> Result<Vec<crate::domain::campaign::Campaign>> {
    let mut campaigns = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading campaign {}", file.display()))?;
        let c: crate::domain::campaign::Campaign =
            serde_json::from_str(&text).with_context(|| format!("campaign {}", file.display()))?;
        anyhow::ensure!(
            c.from <= c.to,
            "campaign {}: from {} is after to {}",
            file.display(),
            c.from,
            c.to
        );
        campaigns.push(c);
    }
    Ok(campaigns)
}

/// The plan's tasks as CSV on standard output, in the plan's order.
fn write_tasks_csv(
    plan: &crate::app::plan::PatrolPlan,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<()> {
    let mut out = stdout_csv();
    out.write_record([
        "date",
        "entity_id",
        "grid",
        "officer_id",
        "partner_id",
        "kind",
        "due_by",
        "covers",
        "period_start",
    ])?;
    // Every date of the plan is in its range: format each day once, not per task.
    let days: Vec<String> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| d.to_string())
        .collect();
    let text_of = |d: NaiveDate| -> std::borrow::Cow<'_, str> {
        usize::try_from((d - from).num_days())
            .ok()
            .and_then(|i| days.get(i))
            .map_or_else(|| d.to_string().into(), |s| s.as_str().into())
    };
    let mut covers = String::new();
    for t in &plan.tasks {
        use std::fmt::Write as _;
        covers.clear();
        write!(covers, "{}", t.covers)?;
        out.write_record([
            &*text_of(t.date),
            &t.entity_id,
            &t.grid,
            &t.officer_id,
            &t.partner_id,
            t.kind,
            &text_of(t.due_by),
            &covers,
            &text_of(t.period_start),
        ])?;
    }
    out.flush()?;
    Ok(())
}

/// The plan in numbers on standard error: tasks and daily load, then the staffing it needs.
fn print_plan_summary(plan: &crate::app::plan::PatrolPlan) {
    let (max, mean): (usize, f64) = plan
        .daily_load
        .values()
        .fold((0, 0.0), |(m, s), &(_, mx, mn)| (m.max(mx), s + mn));
    eprintln!(
        "{} tasks for {} officers ({} routine visits merged into special or targeted ones); busiest day {} tasks, mean {:.1} a working day; {} obligations already met; {} unlocated businesses left out",
        plan.tasks.len(),
        plan.daily_load.len(),
        plan.merged,
        max,
        mean / plan.daily_load.len().max(1) as f64,
        plan.already_satisfied,
        plan.unlocated
    );
    let st = &plan.staffing;
    eprintln!(
        "{} areas; staffing: the visits need {:.0} h, patrol officers have {:.0} h: {} officers needed, {} on the roster",
        plan.structure.areas.len(),
        st.station_needed_hours,
        st.station_available_hours,
        st.officers_needed,
        st.officers_on_roster
    );
    // The tightest areas first; the whole list is in the saved plan and the API.
    let mut areas: Vec<&(String, f64, f64)> = st.areas.iter().collect();
    areas.sort_by(|a, b| (a.2 - a.1).total_cmp(&(b.2 - b.1)));
    for (code, needed, have) in areas.iter().take(10) {
        eprintln!(
            "  area {code}: needs {needed:.0} h, its group has {have:.0} h ({:+.0} h)",
            have - needed
        );
    }
    if areas.len() > 10 {
        eprintln!("  … and {} more areas", areas.len() - 10);
    }
}

/// Where the plan falls short, on standard error: gaps in the chain of responsibility, visits
/// with no A-post officer, and the grids whose A-post officer has too few hours.
fn print_staffing(plan: &crate::app::plan::PatrolPlan) {
    if !plan.structure.gaps.is_empty() {
        eprintln!(
            "{} gaps in the chain of responsibility:",
            plan.structure.gaps.len()
        );
        for gap in plan.structure.gaps.iter().take(10) {
            eprintln!("  {gap}");
        }
    }
    if plan.unassigned > 0 {
        eprintln!(
            "{} visits owed in grids with no A-post officer (not planned)",
            plan.unassigned
        );
    }
    let mut short: Vec<(&String, f64, f64)> = plan
        .hours
        .iter()
        .filter(|(_, (need, have))| need > have)
        .map(|(g, &(need, have))| (g, need, have))
        .collect();
    short.sort_by(|a, b| (b.1 - b.2).total_cmp(&(a.1 - a.2)));
    if !short.is_empty() {
        let total: f64 = short.iter().map(|(_, need, have)| need - have).sum();
        eprintln!(
            "{} grids need more hours than their A-post officer has ({total:.0} h in all); the largest shortfalls:",
            short.len()
        );
        for (grid, need, have) in short.iter().take(10) {
            eprintln!(
                "  {grid}: needs {need:.0} h, its A-post officer has {have:.0} h (short {:.0} h)",
                need - have
            );
        }
    }
}

/// `plans`: approves a draft when asked, then lists the region's plans.
fn plans(app: &App, region: &str, approve: Option<i64>, by: Option<&str>) -> Result<()> {
    if let Some(version) = approve {
        app.approve_plan(region, version, by.unwrap_or_default())?;
        println!("plan {version} of {region} approved");
    }
    for p in app.plans(&Caller::command_line("cli"), region)? {
        println!(
            "{} v{} {:<8} {} grids, created {}{}",
            p.region_code,
            p.version,
            p.status,
            p.grids,
            p.created_at,
            p.approved_by
                .map(|b| format!(", approved by {b}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `generate-units`: the districts asked for (`all`: every one in the divisions file).
fn generate_units(
    outline: &Path,
    divisions: &Path,
    districts: &str,
    out: &Path,
    seed: u64,
) -> Result<()> {
    let codes: Vec<String> = if districts == "all" {
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(divisions)?)?;
        json["districts"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|x| x["code"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        districts.split(',').map(|s| s.trim().to_owned()).collect()
    };
    let n = crate::generate::build_units(outline, divisions, &codes, out, seed)?;
    println!("wrote {n} units to {}", out.display());
    Ok(())
}

/// `classify`: no database, no server; CSV on standard output in input order.
fn classify_region(dir: &Path, as_of: NaiveDate, crs: Crs, policy: &Policy) -> Result<()> {
    let region = read_region(dir, crs, policy)?;
    let stdout = std::io::stdout();
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(stdout.lock()));
    out.write_record(["entity_id", "class", "reasons"])?;
    for (business, records) in region.businesses.iter().zip(&region.records) {
        let c = classify(business, records, as_of, policy);
        out.write_record([
            business.id.as_str(),
            c.class.as_str(),
            &reasons_text(&c.reasons),
        ])?;
    }
    out.flush()?;
    Ok(())
}

fn print_import_report(report: &ImportReport) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "imported region {} ({}) in {:.1} s",
        report.region, report.name, report.seconds
    );
    for (file, rows) in &report.rows_per_file {
        let _ = writeln!(out, "  {file:<22} {rows:>9} rows");
    }
    let _ = writeln!(out, "  units                  {:>9}", report.units);
    let _ = writeln!(
        out,
        "  businesses located     {:>9} of {}",
        report.located, report.businesses
    );
    let classes: Vec<String> = report
        .classes
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "  classes as of {}  {} ({} changed)",
        report.as_of,
        classes.join(", "),
        report.class_changes
    );
    if !report.unlocated.is_empty() {
        let _ = writeln!(
            out,
            "  UNLOCATED businesses: {} (kept, not in any grid until fixed)",
            report.unlocated.len()
        );
        for (id, name, why) in report.unlocated.iter().take(20) {
            let _ = writeln!(out, "    {id}  {name}: {why}");
        }
        if report.unlocated.len() > 20 {
            let _ = writeln!(
                out,
                "    … {} more: GET /api/businesses?unlocated",
                report.unlocated.len() - 20
            );
        }
    }
}

/// The bundled demo region: `regions/jiangan` beside the binary's sources or the working directory.
fn bundled_region() -> PathBuf {
    let local = PathBuf::from("regions/jiangan");
    if local.exists() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("regions/jiangan")
    }
}

fn demo(
    mut app: App,
    explicit_db: bool,
    bind: SocketAddr,
    region: Option<PathBuf>,
    no_serve: bool,
    history_months: u32,
) -> Result<()> {
    let region = region.unwrap_or_else(bundled_region);
    if !explicit_db {
        app.db_path = PathBuf::from("gridpatrol-demo.db");
    }
    remove_database(&app.db_path)?;
    eprintln!(
        "demo: building a fresh database {} from {}",
        app.db_path.display(),
        region.display()
    );
    let report = app.import_region(&region, Crs::Wgs84, "demo")?;
    print_import_report(&report);
    let version = demo_pipeline(&mut app, &region, &report.region, history_months)?;
    let demo = demo_accounts(&app, &report.region, version)?;
    if no_serve {
        println!("demo accounts (passwords shown once):");
        for (name, role, password) in &demo.users {
            println!("  {name:<10} {role:<12} {password}");
        }
        return Ok(());
    }
    let config = crate::config::Config {
        bind,
        ..crate::config::Config::default()
    };
    serve(app, config, Some(&demo))
}

/// The demo starts afresh: the old database goes (the store knows its side files).
fn remove_database(db_path: &Path) -> Result<()> {
    crate::store::remove_database(db_path)
        .with_context(|| format!("removing the old demo database {}", db_path.display()))
}

/// The whole pipeline: grids and a year of tasks, the plan approved, posts assigned, and the
/// tasks re-planned onto the post holders — from the first of the month `history_months`
/// back, whose work is then replayed through the real use cases. Returns the plan's version.
fn demo_pipeline(
    app: &mut App,
    region: &Path,
    region_code: &str,
    history_months: u32,
) -> Result<i64> {
    let today = app.clock.today();
    let start = if history_months == 0 {
        today
    } else {
        crate::app::schedule::month_of(today)
            .0
            .checked_sub_months(chrono::Months::new(history_months))
            .unwrap_or(today)
    };
    let year = start
        .checked_add_days(chrono::Days::new(364))
        .unwrap_or(start);
    let request = crate::app::plan::PlanRequest::new(start, year);
    let (plan, version, written) = app.save_patrol_plan(region, &request, "demo")?;
    app.approve_plan(region_code, version, "demo")?;
    let posts = app.assign_posts(region, start, "demo")?;
    let replanned = app.replan(&Caller::command_line("demo"), region_code, start)?;
    eprintln!(
        "demo: {} grids (plan {version}, approved), {written} tasks from {start} to {year}; posts for {} grids ({} gaps); re-planned onto the post holders: {} moved, {} new",
        plan.grids,
        plan.grids - posts.gaps.len().min(plan.grids),
        posts.gaps.len(),
        replanned.moved,
        replanned.created
    );
    if start < today {
        replay_demo_history(app, region_code, start, today)?;
    }
    Ok(version)
}

/// The demo's past, from `start` to `today`, replayed through the real use cases; then the
/// plan re-planned and the overdue tasks escalated as the jobs would.
fn replay_demo_history(
    app: &mut App,
    region_code: &str,
    start: NaiveDate,
    today: NaiveDate,
) -> Result<()> {
    let began = std::time::Instant::now();
    let history = app.replay_history(
        region_code,
        &crate::app::demo::HistoryOptions::new(start, today),
    )?;
    let replanned = app.replan(&Caller::command_line("demo"), region_code, today)?;
    let escalated = app.escalate_overdue(&Caller::command_line("demo"), today)?;
    eprintln!(
        "demo: replayed {start} to {today} in {:.1} s: {} visits ({} late, {} entered the next day), {} missed, {} findings, {} rectification notices, {} bulletins frozen ({} tasks without staff, {} visits refused); re-planned ({} new tasks), {} overdue tasks escalated",
        began.elapsed().as_secs_f64(),
        history.visits,
        history.late_visits,
        history.entered_late,
        history.missed,
        history.findings,
        history.notices,
        history.snapshots,
        history.unstaffed,
        history.refused,
        replanned.created,
        escalated.len(),
    );
    Ok(())
}

/// One account per role, each with a random password; the officer is the A-post holder of
/// the first grid.
fn demo_accounts(app: &App, region_code: &str, version: i64) -> Result<DemoInfo> {
    let posts = app
        .open_store()?
        .read()
        .open_posts(region_code, version, "A")?;
    let officer = posts.values().min().cloned();
    let mut users = Vec::new();
    for (name, role) in [
        ("admin", crate::domain::access::UserRole::Admin),
        ("head", crate::domain::access::UserRole::BureauHead),
        ("manager", crate::domain::access::UserRole::Manager),
        ("officer", crate::domain::access::UserRole::Officer),
    ] {
        let password = new_password();
        let officer_id = (role == crate::domain::access::UserRole::Officer)
            .then(|| officer.clone())
            .flatten();
        app.add_user(name, &password, role, officer_id.as_deref(), "demo")?;
        users.push((name.to_owned(), role.to_string(), password));
    }
    Ok(DemoInfo {
        region: region_code.to_owned(),
        users,
        officer,
    })
}

/// What the demo prints: its accounts and an officer with tasks.
struct DemoInfo {
    region: String,
    users: Vec<(String, String, String)>,
    officer: Option<String>,
}

/// Ctrl-C or SIGTERM: stop taking connections and let requests in flight finish. The
/// handlers are installed when this is called (before the server says it is up), so a
/// signal that comes at once is not lost.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down: finishing requests in flight");
    })
}

/// The region a command means: the one named, or the only one in the database.
fn only_region(app: &App, region: Option<String>) -> Result<String> {
    if let Some(r) = region {
        return Ok(r);
    }
    let codes = app.open_store()?.read().region_codes()?;
    match codes.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("the database has no region: import one first"),
        many => bail!(
            "--region: the database has {} regions ({})",
            many.len(),
            many.join(", ")
        ),
    }
}

/// A random password for a new account, shown once.
fn new_password() -> String {
    use rand::RngExt;
    let mut bytes = [0u8; 9];
    rand::rng().fill(&mut bytes);
    crate::app::service::hex(&bytes)
}

fn serve(app: App, config: crate::config::Config, demo: Option<&DemoInfo>) -> Result<()> {
    let jobs = config.jobs.parse().map_err(anyhow::Error::msg)?;
    let bind = config.bind;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding {bind}"))?;
        let addr = listener.local_addr()?;
        let shutdown = shutdown_signal()?;
        let app = Arc::new(app);
        tokio::spawn(jobs::run_scheduler(app.clone(), jobs));
        println!("gridpatrol is serving on http://{addr}/  (Ctrl-C or SIGTERM stops it)");
        if let Some(demo) = demo {
            println!("  open:           http://{addr}/map/{}  (the public responsibility map, linking each role's page)", demo.region);
            println!("  officer:        http://{addr}/officer  (phone-sized due list and inspection form)");
            println!("  bureau head:    http://{addr}/head     (the grid plan on a map, moves, approval)");
            println!("  manager:        http://{addr}/manager  (coverage map, drill-down, trend, downloads)");
            println!("  demo accounts (passwords shown once):");
            for (name, role, password) in &demo.users {
                println!("    {name:<10} {role:<12} {password}");
            }
            if let Some(officer) = &demo.officer {
                println!("  an officer's week as JSON: http://{addr}/api/officers/{officer}/due?days=7 (as `officer`)");
            }
        }
        println!("  API document:   http://{addr}/openapi.json");
        println!("  health:         http://{addr}/healthz");
        println!("  sign in (API):  POST http://{addr}/api/login {{\"username\": …, \"password\": …}}");
        let router = crate::http::router_with(app, &config.limits);
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `bench-locate`: index build and point location timed separately, each a median of runs.
fn bench_locate(units_file: &Path, points_file: &Path, repeat: usize) -> Result<()> {
    use crate::spatial::locate::UnitLocator;
    use std::time::Instant;
    let units = crate::import::read_units_file(units_file, Crs::Wgs84)?;
    let mut order: Vec<usize> = (0..units.len()).collect();
    order.sort_by(|&a, &b| units[a].code.cmp(&units[b].code));
    let mut reader = csv::Reader::from_path(points_file)
        .with_context(|| format!("reading {}", points_file.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{} has no {name} column", points_file.display()))
    };
    let (lon, lat) = (col("lon")?, col("lat")?);
    let mut points = Vec::new();
    for record in reader.records() {
        let record = record?;
        let x = record.get(lon).and_then(|v| v.parse::<f64>().ok());
        let y = record.get(lat).and_then(|v| v.parse::<f64>().ok());
        points.push(x.zip(y));
    }
    let repeat = repeat.max(1);
    let (mut build, mut locate_parallel, mut locate_single) = (Vec::new(), Vec::new(), Vec::new());
    let mut located = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        let locator = UnitLocator::new(order.iter().map(|&i| units[i].shape.clone()).collect());
        build.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let found = locator.locate_all(&points);
        locate_parallel.push(started.elapsed().as_secs_f64());
        located = found.iter().filter(|f| f.is_some()).count();
        let started = Instant::now();
        let single = points
            .iter()
            .filter(|p| p.and_then(|(x, y)| locator.locate(x, y)).is_some())
            .count();
        locate_single.push(started.elapsed().as_secs_f64());
        anyhow::ensure!(
            single == located,
            "single-threaded and parallel location disagree"
        );
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{}",
        serde_json::json!({
            "units": units.len(), "points": points.len(), "located": located, "runs": repeat, "threads": threads,
            "build_median_s": median(build), "locate_median_s": median(locate_parallel),
            "locate_single_thread_median_s": median(locate_single),
        })
    );
    Ok(())
}

/// `partition`: a plan for a region (workload from its register) or a graph file; with
/// `--from`, a redraw of an existing plan that moves as little as it can.
pub fn partition_command(args: &PartitionArgs, app: &App) -> Result<()> {
    use crate::domain::partition::PartitionOptions;
    use std::time::Instant;
    let started = Instant::now();
    let (graph, region) = partition_input(args, app)?;
    let options = PartitionOptions {
        grids: args.grids,
        tolerance: args.tolerance,
        seed: args.seed,
        starts: args.starts,
    };
    eprintln!(
        "{} units, {} adjacencies; {} {} grids at ±{:.2} %…",
        graph.len(),
        graph.edge_count(),
        if args.from.is_some() {
            "redrawing"
        } else {
            "partitioning into"
        },
        args.grids,
        args.tolerance * 100.0
    );
    let businesses_in = |u: usize| {
        region
            .as_ref()
            .map_or(0, |r| r.classes[u].iter().sum::<usize>())
    };
    let (assignment, metrics, infeasible, moved) =
        partition_or_redraw(args, &graph, &options, businesses_in)?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(why) = &infeasible {
        print_infeasibility(why);
    }
    if args.save
        && let Some(rg) = &region
    {
        let measures = serde_json::json!({
            "grids": metrics.grids, "max_over": metrics.max_over, "max_under": metrics.max_under,
            "connected": metrics.connected, "cut_edges": metrics.cut_edges, "pp_mean": metrics.pp_mean,
            "pp_min": metrics.pp_min, "tolerance": args.tolerance, "seed": args.seed,
        });
        let grids = crate::app::grid_summaries(rg, &assignment, args.grids);
        let version = app.save_plan(&rg.region.jurisdiction.code, &grids, &measures, "cli")?;
        println!(
            "saved as draft plan {version} of region {} in {}",
            rg.region.jurisdiction.code,
            app.db_path.display()
        );
    }
    if let Some(out) = &args.out {
        write_partition(out, region.as_ref(), &graph, &assignment, args.grids)?;
    }
    let mut line = serde_json::json!({
        "grids": metrics.grids, "max_over": metrics.max_over, "max_under": metrics.max_under,
        "connected": metrics.connected, "cut_edges": metrics.cut_edges, "pp_mean": metrics.pp_mean,
        "pp_min": metrics.pp_min, "seconds": seconds,
    });
    if let Some(moved) = &moved {
        line["moved_units"] = moved.len().into();
        line["moved_businesses"] = moved
            .iter()
            .map(|&(u, _, _)| businesses_in(u))
            .sum::<usize>()
            .into();
    }
    println!("{line}");
    Ok(())
}

/// What `partition` divides: a region's unit graph (workload from its register, classes as
/// of `--as-of`), or a graph file weighted by the attribute named.
fn partition_input(
    args: &PartitionArgs,
    app: &App,
) -> Result<(
    crate::domain::partition::UnitGraph,
    Option<crate::app::RegionGraph>,
)> {
    let (policy, today) = (&app.policy, app.clock.today());
    Ok(match (&args.region, &args.graph) {
        (Some(dir), None) => {
            let rg = crate::app::region_graph(dir, args.crs, policy, args.as_of.unwrap_or(today))?;
            (rg.graph.clone(), Some(rg))
        }
        (None, Some(file)) => {
            let weight = args
                .weight
                .as_deref()
                .context("--graph needs --weight ATTR")?;
            (crate::import::graph::read_graph(file, weight)?, None)
        }
        _ => bail!("give either --region DIR or --graph FILE --weight ATTR"),
    })
}

/// A plan's grid per unit, its measures, why the tolerance failed (if it did) and, for a
/// redraw, the units moved (unit, from grid, to grid).
type PartitionOutcome = (
    Vec<usize>,
    crate::domain::partition::PlanMetrics,
    Option<crate::domain::partition::Infeasibility>,
    Option<Vec<(usize, usize, usize)>>,
);

/// Partitions afresh, or (`--from`) redraws the plan given and prints each unit it moves.
fn partition_or_redraw(
    args: &PartitionArgs,
    graph: &crate::domain::partition::UnitGraph,
    options: &crate::domain::partition::PartitionOptions,
    businesses_in: impl Fn(usize) -> usize,
) -> Result<PartitionOutcome> {
    use crate::domain::partition::{partition, redraw};
    Ok(match &args.from {
        None => {
            let r = partition(graph, options)?;
            (r.assignment, r.metrics, r.infeasible, None)
        }
        Some(from) => {
            let (current, labels) = crate::app::read_plan(from, graph)?;
            anyhow::ensure!(
                labels.len() == args.grids,
                "{} has {} grids but --grids is {}",
                from.display(),
                labels.len(),
                args.grids
            );
            let r = redraw(graph, &current, options)?;
            for &(u, a, b) in &r.moved {
                println!(
                    "moved {} ({} businesses): {} -> {}",
                    graph.codes[u],
                    businesses_in(u),
                    labels[a],
                    labels[b]
                );
            }
            (r.assignment, r.metrics, r.infeasible, Some(r.moved))
        }
    })
}

/// Why the tolerance was not met, with up to 20 of the units that block it.
fn print_infeasibility(why: &crate::domain::partition::Infeasibility) {
    let shown: Vec<&str> = why
        .blocking_units
        .iter()
        .take(20)
        .map(String::as_str)
        .collect();
    println!(
        "tolerance not attainable: {}; blocking units: {}",
        why.reason,
        if shown.is_empty() {
            "none singled out".to_owned()
        } else {
            shown.join(", ")
        }
    );
}

/// `--out`: the grids as GeoJSON for a region, or a `unit,grid` CSV for a graph file.
fn write_partition(
    out: &Path,
    region: Option<&crate::app::RegionGraph>,
    graph: &crate::domain::partition::UnitGraph,
    assignment: &[usize],
    grids: usize,
) -> Result<()> {
    match region {
        Some(rg) => crate::app::write_grids_geojson(out, rg, assignment, grids)?,
        None => {
            let mut w = csv::Writer::from_path(out)?;
            w.write_record(["unit", "grid"])?;
            for (u, g) in assignment.iter().enumerate() {
                w.write_record([graph.codes[u].as_str(), &format!("G{:02}", g + 1)])?;
            }
            w.flush()?;
        }
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}
