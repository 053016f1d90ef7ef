//! The manager's page: coverage by grid on a map, the report table with drill-down
//! (grid → officer → business), coverage month by month as a chart, the latest monthly
//! bulletin, and downloads (CSV, Excel, GeoJSON). Rendered on the server; no script.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::auth::Auth;
use super::i18n::{Lang, escape, t};
use super::officer_pages::to_login;
use super::pages::{Shape, document, draw, plan_grids, url_escape};
use super::{ApiError, AppState, blocking};
use crate::app::report::TrendPoint;
use crate::domain::access::Action;
use crate::domain::report::{Breakdown, CoverageRow, Period};

/// Months the coverage chart looks back over.
const TREND_MONTHS: u32 = 12;

#[derive(Deserialize)]
pub struct ReportQuery {
    lang: Option<String>,
    /// `2027`, `2027-H1`, `2027-Q1`, `2027-03` or `2027-03-D1`; this month when absent.
    period: Option<String>,
    by: Option<String>,
    /// Drill-down: a grid's officers, or an officer's businesses.
    grid: Option<String>,
    officer: Option<String>,
}

/// The caller, if signed in and allowed to read reports.
fn reader(app: &AppState, auth: Result<Auth, ApiError>) -> Result<Auth, ApiError> {
    let auth = auth?;
    auth.app_require(app, Action::ReadReports)?;
    Ok(auth)
}

/// `/manager`: the first region's report.
pub async fn manager_home(
    State(app): State<AppState>,
    auth: Result<Auth, ApiError>,
    Query(q): Query<ReportQuery>,
) -> Response {
    if let Err(e) = reader(&app, auth) {
        return to_login(e);
    }
    let lang = q.lang.unwrap_or_else(|| "zh".into());
    match blocking(move || Ok(app.open_store()?.read().region_codes()?)).await {
        Ok(codes) => match codes.first() {
            Some(code) => Redirect::to(&format!(
                "/manager/{}?lang={}",
                url_escape(code),
                url_escape(&lang)
            ))
            .into_response(),
            None => ApiError::not_found("no region has been imported").into_response(),
        },
        Err(e) => e.into_response(),
    }
}

/// Everything the page shows, read in one go.
struct Loaded {
    name: String,
    plan: Option<(i64, serde_json::Value)>,
    grid_rows: Vec<CoverageRow>,
    rows: Vec<CoverageRow>,
    trend: Vec<TrendPoint>,
    bulletin: Option<(chrono::NaiveDate, chrono::NaiveDate, serde_json::Value)>,
    officer_names: HashMap<String, String>,
}

/// Green where every business was covered, red where none was, grey where nothing was due.
fn coverage_fill(row: Option<&CoverageRow>) -> String {
    match row {
        Some(r) if r.required > 0 => {
            let c = r.coverage.clamp(0.0, 1.0);
            let (red, green) = if c < 0.5 {
                (224.0, 102.0 + (c / 0.5) * (217.0 - 102.0))
            } else {
                (224.0 - ((c - 0.5) / 0.5) * (224.0 - 106.0), 217.0)
            };
            format!("#{:02x}{:02x}66", red as u8, green as u8)
        }
        _ => "#eeeeee".to_owned(),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The coverage chart: one point a month, only where something was due.
fn trend_chart(points: &[TrendPoint], lang: Lang) -> Markup {
    let (w, h, left, top, bottom) = (640.0, 220.0, 44.0, 10.0, 30.0);
    let plot_h = h - top - bottom;
    let step = if points.len() > 1 {
        (w - left - 20.0) / (points.len() - 1) as f64
    } else {
        0.0
    };
    let x = |i: usize| left + step * i as f64;
    let y = |v: f64| top + (1.0 - v.clamp(0.0, 1.0)) * plot_h;
    let line: String = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.required > 0)
        .map(|(i, p)| format!("{:.1},{:.1} ", x(i), y(p.coverage)))
        .collect();
    html! {
        svg id="trend" viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-label=(t(lang, "trend")) {
            @for v in [0.0, 0.5, 1.0] {
                line x1=(left) x2=(w - 10.0) y1=(format_args!("{:.1}", y(v)))
                    y2=(format_args!("{:.1}", y(v))) stroke="#ddd" {}
                text x=(left - 4.0) y=(format_args!("{:.1}", y(v) + 3.0)) font-size="10"
                    text-anchor="end" { (format_args!("{:.0}%", v * 100.0)) }
            }
            @for (i, p) in points.iter().enumerate() {
                text x=(format_args!("{:.1}", x(i))) y=(h - 12.0) font-size="9"
                    text-anchor="middle" { (p.month) }
                @if p.required > 0 {
                    circle data-month=(p.month) cx=(format_args!("{:.1}", x(i)))
                        cy=(format_args!("{:.1}", y(p.coverage))) r="3.5" fill="#3465a4" {
                        title {
                            (p.month) ": " (t(lang, "coverage")) " " (pct(p.coverage)) " · "
                            (t(lang, "done")) " " (p.done) "/" (p.required)
                        }
                    }
                }
            }
            @if !line.is_empty() {
                polyline points=(line) fill="none" stroke="#3465a4" stroke-width="2" {}
            }
        }
    }
}

/// A bulletin's figures: (label, key in the bulletin's body).
const BULLETIN_FIGURES: [(&str, &str); 6] = [
    ("tasks_due", "tasks_due"),
    ("done", "tasks_done"),
    ("done_on_time", "tasks_done_on_time"),
    ("overdue_now", "tasks_open"),
    ("findings", "violations"),
    ("complaints", "complaints"),
];

/// The latest monthly bulletin: its figures and the top and bottom two.
fn bulletin_section(
    region: &str,
    bulletin: Option<&(chrono::NaiveDate, chrono::NaiveDate, serde_json::Value)>,
    names: &HashMap<String, String>,
    lang: Lang,
) -> Markup {
    let Some((from, to, body)) = bulletin else {
        return html! {
            h2 { (t(lang, "latest_bulletin")) }
            p id="bulletin" { (t(lang, "no_bulletin")) }
        };
    };
    let ranked = |kind: &str, end: &str| -> String {
        body["rankings"][kind][end]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(serde_json::Value::as_str)
            .map(|key| names.get(key).map_or(key, String::as_str))
            .collect::<Vec<_>>()
            .join("、")
    };
    html! {
        h2 { (t(lang, "latest_bulletin")) }
        div id="bulletin" {
            p {
                (from) " – " (to) " · "
                a href={ "/api/bulletins?region=" (url_escape(region)) "&kind=month&start=" (from) } { "JSON" }
            }
            p {
                @for (i, (label, key)) in BULLETIN_FIGURES.iter().enumerate() {
                    @if i > 0 { " · " }
                    (t(lang, label)) ": " (body[*key].as_u64().unwrap_or(0))
                }
            }
            @for (kind, label) in [("grids", "grid"), ("officers", "officer")] {
                p {
                    (t(lang, label)) ": " (t(lang, "top_two")) " " b { (ranked(kind, "top")) }
                    " · " (t(lang, "bottom_two")) " " b { (ranked(kind, "bottom")) }
                }
            }
        }
    }
}

/// The report page of a region.
pub async fn manager_page(
    State(app): State<AppState>,
    auth: Result<Auth, ApiError>,
    Path(region): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Response {
    let caller = match reader(&app, auth) {
        Ok(auth) => auth.caller,
        Err(e) => return to_login(e),
    };
    let lang = Lang::from_query(q.lang.as_deref());
    let today = app.clock.today();
    let period_text = q
        .period
        .clone()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| today.format("%Y-%m").to_string());
    let period: Result<Period, String> = period_text.trim().parse();
    let by: Result<Breakdown, String> = q.by.as_deref().unwrap_or("grid").parse();
    let within = match (&q.grid, &q.officer) {
        (Some(g), _) => Some((Breakdown::Grid, g.clone())),
        (None, Some(o)) => Some((Breakdown::Officer, o.clone())),
        _ => None,
    };
    let (period, by) = match (period, by) {
        (Ok(p), Ok(b)) => (p, b),
        (Err(e), _) => return refused(lang, StatusCode::BAD_REQUEST, &format!("period: {e}")),
        (_, Err(e)) => return refused(lang, StatusCode::BAD_REQUEST, &format!("by: {e}")),
    };
    let (r2, w2) = (region.clone(), within.clone());
    let loaded = blocking(move || {
        let rows = app.coverage_report(
            &caller,
            &r2,
            period,
            by,
            w2.as_ref().map(|(b, v)| (*b, v.as_str())),
        )?;
        let grid_rows = if by == Breakdown::Grid && w2.is_none() {
            rows.clone()
        } else {
            app.coverage_report(&caller, &r2, period, Breakdown::Grid, None)?
        };
        let (name, plan, officer_names) = {
            let store = app.open_store()?;
            let db = store.read();
            let name = db.region_feature(&r2)?["properties"]["name"]
                .as_str()
                .unwrap_or(&r2)
                .to_owned();
            let plan = match db.plan_in_force(&r2)? {
                Some(v) => Some((v, db.plan_geojson(&r2, v)?)),
                None => None,
            };
            let names = db
                .officers(Some(&r2))?
                .into_iter()
                .map(|o| (o.id, o.name))
                .collect();
            (name, plan, names)
        };
        Ok(Loaded {
            name,
            plan,
            grid_rows,
            rows,
            trend: app.coverage_trend(&caller, &r2, TREND_MONTHS)?,
            bulletin: app.latest_bulletin(&caller, "month", &r2)?,
            officer_names,
        })
    })
    .await;
    let data = match loaded {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    // A drill-down into a grid or officer the region does not have is named, not shown empty.
    if let Some((kind, key)) = &within
        && data.rows.iter().all(|r| r.businesses == 0)
    {
        return refused(
            lang,
            StatusCode::NOT_FOUND,
            &format!(
                "{}: no business of '{key}' in region '{region}'",
                kind.as_str()
            ),
        );
    }
    let page = ReportPage {
        lang,
        region: &region,
        period_text: &period_text,
        period,
        by,
        within: within.as_ref().map(|(kind, key)| (*kind, key.as_str())),
        today,
        data: &data,
    };
    document(lang, t(lang, "manager_page"), page.body(), "70rem").into_response()
}

/// The report columns after the key, in order.
const COLUMNS: [&str; 14] = [
    "businesses",
    "required",
    "done",
    "visits",
    "on_time_rate",
    "coverage",
    "overdue_now",
    "never_inspected",
    "same_day_rate",
    "findings",
    "notices_issued",
    "targeted_on_time",
    "hours_needed",
    "hours_available",
];

/// What the report page shows: the request it answers and what was read for it.
struct ReportPage<'a> {
    lang: Lang,
    region: &'a str,
    period_text: &'a str,
    period: Period,
    by: Breakdown,
    /// The drill-down: a grid's officers or an officer's businesses.
    within: Option<(Breakdown, &'a str)>,
    today: chrono::NaiveDate,
    data: &'a Loaded,
}

impl ReportPage<'_> {
    fn l(&self) -> &'static str {
        if self.lang == Lang::En { "en" } else { "zh" }
    }

    /// The drill-down as query parameters.
    fn within_query(&self) -> String {
        match self.within {
            Some((Breakdown::Grid, g)) => format!("&grid={}", url_escape(g)),
            Some((_, o)) => format!("&officer={}", url_escape(o)),
            None => String::new(),
        }
    }

    /// This page in `lang`, for the period, broken down `by`, with `extra` query parameters.
    fn link(&self, lang: &str, by: &str, extra: &str) -> String {
        format!(
            "/manager/{}?lang={lang}&period={}&by={by}{extra}",
            url_escape(self.region),
            url_escape(self.period_text)
        )
    }

    /// This page broken down another way.
    fn here(&self, by: &str, extra: &str) -> String {
        self.link(self.l(), by, extra)
    }

    /// An officer's name and id (the id alone when the roster lacks it).
    fn named(&self, key: &str) -> String {
        self.data
            .officer_names
            .get(key)
            .map_or_else(|| key.to_owned(), |n| format!("{n} ({key})"))
    }

    fn body(&self) -> Markup {
        let lang = self.lang;
        html! {
            (self.header())
            (self.crumbs())
            @if let Some((version, plan)) = &self.data.plan {
                (self.coverage_map(*version, plan))
            }
            (self.report_table())
            h2 { (t(lang, "trend")) }
            (trend_chart(&self.data.trend, lang))
            (bulletin_section(self.region, self.data.bulletin.as_ref(), &self.data.officer_names, lang))
            (self.downloads())
        }
    }

    /// The links, the title and the form choosing the period and the breakdown.
    fn header(&self) -> Markup {
        let (lang, l) = (self.lang, self.l());
        let other = if lang == Lang::En { "zh" } else { "en" };
        html! {
            nav {
                a href={ "/map/" (url_escape(self.region)) "?lang=" (l) } { (t(lang, "map_title")) } " · "
                a href=(self.link(other, self.by.as_str(), &self.within_query())) { (t(lang, "switch")) } " "
                form method="post" action="/logout" style="display:inline" { button { (t(lang, "sign_out")) } }
            }
            h1 { (t(lang, "manager_page")) " · " (self.data.name) }
            form method="get" action={ "/manager/" (url_escape(self.region)) } id="period" {
                input type="hidden" name="lang" value=(l);
                label { (t(lang, "period")) " " input name="period" value=(self.period_text) size="10"; } " "
                label {
                    (t(lang, "breakdown")) " "
                    select name="by" {
                        @for b in Breakdown::ALL {
                            option value=(b.as_str()) selected[b == self.by] { (t(lang, b.as_str())) }
                        }
                    }
                } " "
                button { (t(lang, "show")) }
            }
            p {
                (self.period.from) " – " (self.period.to)
                @if self.period.to >= self.today { " · " b { (t(lang, "in_progress")) } }
            }
        }
    }

    /// Where the drill-down stands.
    fn crumbs(&self) -> Markup {
        let lang = self.lang;
        html! {
            p id="crumbs" {
                a href=(self.here("grid", "")) { (t(lang, "all_grids")) }
                @if let Some((kind, key)) = self.within {
                    " › " (t(lang, kind.as_str())) " "
                    @if kind == Breakdown::Officer { (self.named(key)) } @else { (key) }
                }
            }
        }
    }

    /// The plan's grids coloured by coverage, with a legend.
    fn coverage_map(&self, version: i64, plan: &serde_json::Value) -> Markup {
        let lang = self.lang;
        let by_grid: HashMap<&str, &CoverageRow> = self
            .data
            .grid_rows
            .iter()
            .map(|r| (r.key.as_str(), r))
            .collect();
        let grids = plan_grids(plan);
        let shapes: Vec<Shape<'_>> = grids
            .iter()
            .map(|(code, rings)| {
                let row = by_grid.get(code.as_str()).copied();
                Shape {
                    code,
                    rings,
                    fill: coverage_fill(row),
                    title: match row {
                        Some(r) if r.required > 0 => format!(
                            "{code} {} {} · {} {}/{}",
                            t(lang, "coverage"),
                            pct(r.coverage),
                            t(lang, "done"),
                            r.done,
                            r.required
                        ),
                        _ => format!("{code} {}", t(lang, "nothing_due")),
                    },
                }
            })
            .collect();
        html! {
            h2 { (t(lang, "coverage_map")) }
            svg id="coverage-map" viewBox="0 0 800 500" width="100%" role="img" {
                (draw(&shapes, 800.0, 500.0))
            }
            p class="legend" {
                span style="background:#e06666" { "0%" }
                span style="background:#e0d966" { "50%" }
                span style="background:#6ad966" { "100%" }
                span style="background:#eeeeee" { (t(lang, "nothing_due")) }
                " · " (t(lang, "plan")) " " (version)
            }
        }
    }

    /// The figures of each row of the breakdown, the total last.
    fn report_table(&self) -> Markup {
        let lang = self.lang;
        html! {
            h2 { (t(lang, "report_table")) }
            table id="report" {
                thead { tr {
                    th { (t(lang, self.by.as_str())) }
                    @for key in COLUMNS { th { (t(lang, key)) } }
                } }
                tbody {
                    @for row in &self.data.rows { (self.report_row(row)) }
                }
            }
        }
    }

    /// A row: its key (linked to the next level down) and its figures.
    fn report_row(&self, row: &CoverageRow) -> Markup {
        let total = row.key == "total";
        html! {
            tr data-key=(row.key) class=[total.then_some("total")] {
                td {
                    @let label = self.row_label(row);
                    @match self.drill_down(row) {
                        Some(href) => { a href=(href) { (label) } }
                        None => { (label) }
                    }
                }
                td { (row.businesses) }
                td { (row.required) }
                td { (row.done) }
                td { (row.visits) }
                td { (pct(row.on_time_rate)) }
                td { (pct(row.coverage)) }
                td class=[(row.overdue_now > 0).then_some("late")] { (row.overdue_now) }
                td { (row.never_inspected) }
                td { (pct(row.same_day_rate)) }
                td { (row.findings) }
                td { (row.notices_issued) }
                td { (row.targeted_on_time) "/" (row.targeted) }
                td { (format_args!("{:.1}", row.hours_needed)) }
                td {
                    @match row.hours_available {
                        Some(h) => { (format_args!("{h:.1}")) }
                        None => { "—" }
                    }
                }
            }
        }
    }

    /// What a row's key reads as: the total, the unplaced, an officer's name, a label, a code.
    fn row_label(&self, row: &CoverageRow) -> String {
        let lang = self.lang;
        if row.key == "total" {
            t(lang, "total").to_owned()
        } else if row.key.is_empty() {
            t(lang, "unplaced").to_owned()
        } else if self.by == Breakdown::Officer {
            self.named(&row.key)
        } else if self.by == Breakdown::Class || self.by == Breakdown::Industry {
            t(lang, &row.key).to_owned()
        } else {
            row.key.clone()
        }
    }

    /// Where a row leads: a grid to its officers, an officer to their businesses, a business
    /// to its card; the total and the unplaced nowhere.
    fn drill_down(&self, row: &CoverageRow) -> Option<String> {
        let key = url_escape(&row.key);
        match self.by {
            _ if row.key == "total" || row.key.is_empty() => None,
            Breakdown::Grid => Some(self.here("officer", &format!("&grid={key}"))),
            Breakdown::Officer => Some(self.here("business", &format!("&officer={key}"))),
            Breakdown::Business => Some(format!("/officer/business/{key}?lang={}", self.l())),
            _ => None,
        }
    }

    /// The report as CSV and Excel, and the plan as GeoJSON.
    fn downloads(&self) -> Markup {
        let by = self.by.as_str();
        let report = format!(
            "/api/reports/coverage?region={}&period={}&by={by}{}",
            url_escape(self.region),
            url_escape(self.period_text),
            self.within_query()
        );
        let slug = format!("{}-{}-{by}", self.region, self.period_text).replace(['/', '\\'], "_");
        html! {
            h2 { (t(self.lang, "downloads")) }
            ul id="downloads" {
                li { a download={ (slug) ".csv" } href={ (report) "&format=csv" } { "CSV" } }
                li { a download={ (slug) ".xlsx" } href={ (report) "&format=xlsx" } { "Excel" } }
                @if let Some((version, _)) = &self.data.plan {
                    li {
                        a download={ (self.region) "-grids-" (version) ".geojson" }
                            href={ "/api/regions/" (url_escape(self.region)) "/plans/" (version) } { "GeoJSON" }
                    }
                }
            }
        }
    }
}

/// A page saying what was wrong with the request.
fn refused(lang: Lang, status: StatusCode, message: &str) -> Response {
    let body = html! {
        h1 { (t(lang, "manager_page")) }
        // `escape` also writes quotes as entities (`&#39;`), as this message always has;
        // its output is safe markup.
        p role="alert" class="late" { (PreEscaped(escape(message))) }
        p { a href="/manager" { (t(lang, "back")) } }
    };
    (
        status,
        document(lang, t(lang, "manager_page"), body, "70rem"),
    )
        .into_response()
}

/// `/head`: the plan in force (or the newest) of the first region.
pub async fn head_home(
    State(app): State<AppState>,
    auth: Result<Auth, ApiError>,
    Query(q): Query<ReportQuery>,
) -> Response {
    if let Err(e) = reader(&app, auth) {
        return to_login(e);
    }
    let lang = q.lang.unwrap_or_else(|| "zh".into());
    let found = blocking(move || {
        let store = app.open_store()?;
        let db = store.read();
        for code in db.region_codes()? {
            let version = match db.plan_in_force(&code)? {
                Some(v) => Some(v),
                None => db.plans(&code)?.iter().map(|p| p.version).max(),
            };
            if let Some(v) = version {
                return Ok(Some((code, v)));
            }
        }
        Ok(None)
    })
    .await;
    match found {
        Ok(Some((code, version))) => Redirect::to(&format!(
            "/head/plan/{}/{version}?lang={}",
            url_escape(&code),
            url_escape(&lang)
        ))
        .into_response(),
        Ok(None) => ApiError::not_found("no grid plan has been made yet").into_response(),
        Err(e) => e.into_response(),
    }
}
