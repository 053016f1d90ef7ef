//! The manager's page: coverage by grid on a map, the report table with drill-down
//! (grid → officer → business), coverage month by month as a chart, the latest monthly
//! bulletin, and downloads (CSV, Excel, GeoJSON). Rendered on the server; no script.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
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
fn trend_chart(points: &[TrendPoint], lang: Lang) -> String {
    let (w, h, left, top, bottom) = (640.0, 220.0, 44.0, 10.0, 30.0);
    let plot_h = h - top - bottom;
    let step = if points.len() > 1 {
        (w - left - 20.0) / (points.len() - 1) as f64
    } else {
        0.0
    };
    let x = |i: usize| left + step * i as f64;
    let y = |v: f64| top + (1.0 - v.clamp(0.0, 1.0)) * plot_h;
    let mut svg = format!(
        "<svg id=\"trend\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
        t(lang, "trend")
    );
    for v in [0.0, 0.5, 1.0] {
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{:.0}%</text>",
            w - 10.0,
            left - 4.0,
            y(v) + 3.0,
            v * 100.0,
            y = y(v),
        );
    }
    let mut line = String::new();
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
            x(i),
            h - 12.0,
            escape(&p.month)
        );
        if p.required == 0 {
            continue;
        }
        let _ = write!(line, "{:.1},{:.1} ", x(i), y(p.coverage));
        let _ = write!(
            svg,
            "<circle data-month=\"{month}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#3465a4\">\
             <title>{month}: {} {} · {} {}/{}</title></circle>",
            x(i),
            y(p.coverage),
            t(lang, "coverage"),
            pct(p.coverage),
            t(lang, "done"),
            p.done,
            p.required,
            month = escape(&p.month),
        );
    }
    if !line.is_empty() {
        let _ = write!(
            svg,
            "<polyline points=\"{line}\" fill=\"none\" stroke=\"#3465a4\" stroke-width=\"2\"/>"
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The latest monthly bulletin: its figures and the top and bottom two.
fn bulletin_section(
    region: &str,
    bulletin: Option<&(chrono::NaiveDate, chrono::NaiveDate, serde_json::Value)>,
    names: &HashMap<String, String>,
    lang: Lang,
) -> String {
    let mut out = format!("<h2>{}</h2>", t(lang, "latest_bulletin"));
    let Some((from, to, body)) = bulletin else {
        let _ = write!(out, "<p id=\"bulletin\">{}</p>", t(lang, "no_bulletin"));
        return out;
    };
    let n = |k: &str| body[k].as_u64().unwrap_or(0);
    let _ = write!(
        out,
        "<div id=\"bulletin\"><p>{from} – {to} · <a href=\"/api/bulletins?region={r}&amp;kind=month&amp;start={from}\">JSON</a></p>\
         <p>{}: {} · {}: {} · {}: {} · {}: {} · {}: {} · {}: {}</p>",
        t(lang, "tasks_due"),
        n("tasks_due"),
        t(lang, "done"),
        n("tasks_done"),
        t(lang, "done_on_time"),
        n("tasks_done_on_time"),
        t(lang, "overdue_now"),
        n("tasks_open"),
        t(lang, "findings"),
        n("violations"),
        t(lang, "complaints"),
        n("complaints"),
        r = url_escape(region),
    );
    for (kind, label) in [("grids", "grid"), ("officers", "officer")] {
        let list = |k: &str| -> String {
            body["rankings"][kind][k]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(serde_json::Value::as_str)
                .map(|key| escape(names.get(key).map_or(key, String::as_str)))
                .collect::<Vec<_>>()
                .join("、")
        };
        let _ = write!(
            out,
            "<p>{}: {} <b>{}</b> · {} <b>{}</b></p>",
            t(lang, label),
            t(lang, "top_two"),
            list("top"),
            t(lang, "bottom_two"),
            list("bottom"),
        );
    }
    out.push_str("</div>");
    out
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
    let l = if lang == Lang::En { "en" } else { "zh" };
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
    let r = url_escape(&region);
    let period_q = url_escape(&period_text);
    let within_q = match &within {
        Some((Breakdown::Grid, g)) => format!("&grid={}", url_escape(g)),
        Some((_, o)) => format!("&officer={}", url_escape(o)),
        None => String::new(),
    };
    let here = |by: &str, extra: &str| {
        format!("/manager/{r}?lang={l}&period={period_q}&by={by}{extra}").replace('&', "&amp;")
    };
    let named = |key: &str| {
        data.officer_names
            .get(key)
            .map_or_else(|| key.to_owned(), |n| format!("{n} ({key})"))
    };
    let mut body = format!(
        "<nav><a href=\"/map/{r}?lang={l}\">{map}</a> · <a href=\"{switch_href}\">{switch}</a> \
         <form method=\"post\" action=\"/logout\" style=\"display:inline\"><button>{out}</button></form></nav>\
         <h1>{title} · {name}</h1>\
         <form method=\"get\" action=\"/manager/{r}\" id=\"period\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">\
         <label>{period_label} <input name=\"period\" value=\"{period_v}\" size=\"10\"></label> \
         <label>{by_label} <select name=\"by\">",
        map = t(lang, "map_title"),
        switch_href = format!(
            "/manager/{r}?lang={}&period={period_q}&by={}{within_q}",
            if lang == Lang::En { "zh" } else { "en" },
            by.as_str()
        )
        .replace('&', "&amp;"),
        switch = t(lang, "switch"),
        out = t(lang, "sign_out"),
        title = t(lang, "manager_page"),
        name = escape(&data.name),
        period_label = t(lang, "period"),
        period_v = escape(&period_text),
        by_label = t(lang, "breakdown"),
    );
    for b in Breakdown::ALL {
        let _ = write!(
            body,
            "<option value=\"{v}\"{sel}>{label}</option>",
            v = b.as_str(),
            sel = if b == by { " selected" } else { "" },
            label = t(lang, b.as_str()),
        );
    }
    let _ = write!(
        body,
        "</select></label> <button>{}</button></form><p>{} – {}{}</p>",
        t(lang, "show"),
        period.from,
        period.to,
        if period.to >= today {
            format!(" · <b>{}</b>", t(lang, "in_progress"))
        } else {
            String::new()
        }
    );
    // Where the drill-down stands.
    let _ = write!(
        body,
        "<p id=\"crumbs\"><a href=\"{}\">{}</a>",
        here("grid", ""),
        t(lang, "all_grids")
    );
    if let Some((kind, key)) = &within {
        let _ = write!(
            body,
            " › {} {}",
            t(lang, kind.as_str()),
            escape(&if *kind == Breakdown::Officer {
                named(key)
            } else {
                key.clone()
            })
        );
    }
    body.push_str("</p>");
    // The coverage map.
    if let Some((version, plan)) = &data.plan {
        let by_grid: HashMap<&str, &CoverageRow> =
            data.grid_rows.iter().map(|r| (r.key.as_str(), r)).collect();
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
        let _ = write!(
            body,
            "<h2>{}</h2><svg id=\"coverage-map\" viewBox=\"0 0 800 500\" width=\"100%\" role=\"img\">{}</svg>",
            t(lang, "coverage_map"),
            draw(&shapes, 800.0, 500.0)
        );
        let _ = write!(
            body,
            "<p class=\"legend\"><span style=\"background:#e06666\">0%</span>\
             <span style=\"background:#e0d966\">50%</span><span style=\"background:#6ad966\">100%</span>\
             <span style=\"background:#eeeeee\">{}</span> · {} {version}</p>",
            t(lang, "nothing_due"),
            t(lang, "plan"),
        );
    }
    // The table.
    let _ = write!(
        body,
        "<h2>{}</h2><table id=\"report\"><thead><tr><th>{}</th>",
        t(lang, "report_table"),
        t(lang, by.as_str())
    );
    for key in [
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
    ] {
        let _ = write!(body, "<th>{}</th>", t(lang, key));
    }
    body.push_str("</tr></thead><tbody>");
    for row in &data.rows {
        let total = row.key == "total";
        let label = if total {
            t(lang, "total").to_owned()
        } else if row.key.is_empty() {
            t(lang, "unplaced").to_owned()
        } else if by == Breakdown::Officer {
            named(&row.key)
        } else if by == Breakdown::Class || by == Breakdown::Industry {
            t(lang, &row.key).to_owned()
        } else {
            row.key.clone()
        };
        let link = match by {
            _ if total || row.key.is_empty() => None,
            Breakdown::Grid => Some(here("officer", &format!("&grid={}", url_escape(&row.key)))),
            Breakdown::Officer => Some(here(
                "business",
                &format!("&officer={}", url_escape(&row.key)),
            )),
            Breakdown::Business => Some(format!(
                "/officer/business/{}?lang={l}",
                url_escape(&row.key)
            )),
            _ => None,
        };
        let key_cell = match link {
            Some(href) => format!("<a href=\"{href}\">{}</a>", escape(&label)),
            None => escape(&label),
        };
        let _ = write!(
            body,
            "<tr data-key=\"{key}\"{cls}><td>{key_cell}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td{late}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{:.1}</td><td>{}</td></tr>",
            row.businesses,
            row.required,
            row.done,
            row.visits,
            pct(row.on_time_rate),
            pct(row.coverage),
            row.overdue_now,
            row.never_inspected,
            pct(row.same_day_rate),
            row.findings,
            row.notices_issued,
            row.targeted_on_time,
            row.targeted,
            row.hours_needed,
            row.hours_available
                .map_or_else(|| "—".to_owned(), |h| format!("{h:.1}")),
            key = escape(&row.key),
            cls = if total { " class=\"total\"" } else { "" },
            late = if row.overdue_now > 0 {
                " class=\"late\""
            } else {
                ""
            },
        );
    }
    body.push_str("</tbody></table>");
    let _ = write!(
        body,
        "<h2>{}</h2>{}",
        t(lang, "trend"),
        trend_chart(&data.trend, lang)
    );
    body.push_str(&bulletin_section(
        &region,
        data.bulletin.as_ref(),
        &data.officer_names,
        lang,
    ));
    let report = format!(
        "/api/reports/coverage?region={r}&period={period_q}&by={}{within_q}",
        by.as_str()
    )
    .replace('&', "&amp;");
    let slug = format!("{region}-{period_text}-{}", by.as_str()).replace(['/', '\\'], "_");
    let _ = write!(
        body,
        "<h2>{}</h2><ul id=\"downloads\"><li><a download=\"{slug}.csv\" href=\"{report}&amp;format=csv\">CSV</a></li>\
         <li><a download=\"{slug}.xlsx\" href=\"{report}&amp;format=xlsx\">Excel</a></li>",
        t(lang, "downloads"),
        slug = escape(&slug),
    );
    if let Some((version, _)) = &data.plan {
        let _ = write!(
            body,
            "<li><a download=\"{}-grids-{version}.geojson\" href=\"/api/regions/{r}/plans/{version}\">GeoJSON</a></li>",
            escape(&region)
        );
    }
    body.push_str("</ul>");
    document(lang, t(lang, "manager_page"), &body, "70rem").into_response()
}

/// A page saying what was wrong with the request.
fn refused(lang: Lang, status: StatusCode, message: &str) -> Response {
    (
        status,
        document(
            lang,
            t(lang, "manager_page"),
            &format!(
                "<h1>{}</h1><p role=\"alert\" class=\"late\">{}</p><p><a href=\"/manager\">{}</a></p>",
                t(lang, "manager_page"),
                escape(message),
                t(lang, "back")
            ),
            "70rem",
        ),
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
