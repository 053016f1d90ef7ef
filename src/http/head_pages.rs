//! The bureau head's plan page: the grid plan on a map coloured by workload deviation, the
//! grids with their posts, moving a unit between grids (contiguity and balance re-checked by
//! the same use case as the API), and approving the plan.

use std::fmt::Write as _;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::auth::Auth;
use super::i18n::{Lang, escape, t};
use super::pages::{Shape, document, draw, plan_grids, url_escape};
use super::{ApiError, AppState, blocking};
use crate::domain::access::Action;

#[derive(Deserialize)]
pub struct PlanQuery {
    lang: Option<String>,
    /// A message after a move or an approval.
    done: Option<String>,
    error: Option<String>,
}

/// The strings of a JSON array (none when it is not one).
fn strings(value: &serde_json::Value) -> Vec<&str> {
    value
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect()
}

/// Blue under the mean workload, red over it, white on it.
fn deviation_fill(deviation: f64) -> String {
    let d = (deviation.abs() / 0.2).min(1.0);
    let shade = (255.0 - 120.0 * d) as u8;
    if deviation >= 0.0 {
        format!("#ff{shade:02x}{shade:02x}")
    } else {
        format!("#{shade:02x}{shade:02x}ff")
    }
}

/// The plan page.
pub async fn plan_page(
    State(app): State<AppState>,
    auth: Result<Auth, ApiError>,
    Path((region, version)): Path<(String, i64)>,
    Query(q): Query<PlanQuery>,
) -> Response {
    let auth = match auth {
        Ok(a) => a,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            return Redirect::to("/login").into_response();
        }
        Err(e) => return e.into_response(),
    };
    if let Err(e) = auth.app_require(&app, Action::ReadReports) {
        return e.into_response();
    }
    let lang = Lang::from_query(q.lang.as_deref());
    let (r2, head) = (region.clone(), auth.caller.role);
    let loaded = blocking(move || {
        let store = app.open_store()?;
        let db = store.read();
        let plan = db.plan_geojson(&r2, version)?;
        let status = db.plan_status(&r2, version)?;
        Ok((plan, status))
    })
    .await;
    let (plan, status) = match loaded {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let features = plan["features"].as_array().cloned().unwrap_or_default();
    let loads: Vec<f64> = features
        .iter()
        .map(|f| f["properties"]["workload"].as_f64().unwrap_or(0.0))
        .collect();
    let mean = loads.iter().sum::<f64>() / loads.len().max(1) as f64;
    let deviation = |w: f64| if mean > 0.0 { w / mean - 1.0 } else { 0.0 };
    let grids = plan_grids(&plan);
    let shapes: Vec<Shape<'_>> = grids
        .iter()
        .zip(&loads)
        .map(|((code, rings), &w)| Shape {
            code,
            rings,
            fill: deviation_fill(deviation(w)),
            title: format!("{code} {:+.1}%", deviation(w) * 100.0),
        })
        .collect();
    let l = if lang == Lang::En { "en" } else { "zh" };
    let mut body = format!(
        "<h1>{title} {version} · {region}</h1><p>{status_label}: {status}</p>",
        title = t(lang, "plan_page"),
        region = escape(&region),
        status_label = t(lang, "status"),
        status = t(lang, &status),
    );
    if let Some(done) = &q.done {
        let _ = write!(body, "<p role=\"status\">{}</p>", escape(done));
    }
    if let Some(error) = &q.error {
        let _ = write!(
            body,
            "<p role=\"alert\" class=\"late\">{}: {}</p>",
            t(lang, "refused"),
            escape(error)
        );
    }
    let _ = write!(
        body,
        "<svg viewBox=\"0 0 800 600\" width=\"100%\" role=\"img\">{}</svg>",
        draw(&shapes, 800.0, 600.0)
    );
    let _ = write!(
        body,
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        t(lang, "grid"),
        t(lang, "workload"),
        t(lang, "deviation"),
        t(lang, "officer"),
        t(lang, "partners"),
        t(lang, "units"),
    );
    for (f, &w) in features.iter().zip(&loads) {
        let p = &f["properties"];
        let (units, partners) = (strings(&p["units"]), strings(&p["b_posts"]));
        let _ = write!(
            body,
            "<tr data-grid=\"{code}\"><td>{code}</td><td>{w:.0}</td><td>{dev:+.1}%</td><td>{a}</td><td>{b}</td><td>{units}</td></tr>",
            code = escape(p["code"].as_str().unwrap_or_default()),
            dev = deviation(w) * 100.0,
            a = escape(p["a_post"].as_str().unwrap_or("—")),
            b = escape(&partners.join(", ")),
            units = escape(&units.join(" ")),
        );
    }
    body.push_str("</tbody></table>");
    if status == "draft" && crate::domain::access::allowed(head, Action::ManageGrids) {
        let _ = write!(
            body,
            "<h2>{move_unit}</h2><form method=\"post\" action=\"/head/plan/{region}/{version}/move?lang={l}\">\
             <label>{unit} <input name=\"unit\" required></label> <label>{to} <input name=\"to_grid\" required></label>\
             <label><input type=\"checkbox\" name=\"accept_imbalance\" value=\"true\"> {accept}</label> <button>{mv}</button></form>\
             <form method=\"post\" action=\"/head/plan/{region}/{version}/approve?lang={l}\"><button>{approve}</button></form>",
            move_unit = t(lang, "move_unit"),
            region = escape(&region),
            unit = t(lang, "unit"),
            to = t(lang, "to_grid"),
            accept = t(lang, "accept_imbalance"),
            mv = t(lang, "move"),
            approve = t(lang, "approve"),
        );
    }
    document(lang, t(lang, "plan_page"), &body, "70rem").into_response()
}

#[derive(Deserialize)]
pub struct MoveForm {
    unit: String,
    to_grid: String,
    accept_imbalance: Option<bool>,
}

#[derive(Deserialize)]
pub struct LangOnly {
    lang: Option<String>,
}

fn back(region: &str, version: i64, lang: Option<&str>, key: &str, text: &str) -> Response {
    let text: String = url_escape(text);
    Redirect::to(&format!(
        "/head/plan/{}/{version}?lang={}&{key}={text}",
        url_escape(region),
        lang.unwrap_or("zh")
    ))
    .into_response()
}

/// The caller, if signed in and allowed to manage grids; else the answer to give.
fn may_manage(app: &AppState, auth: Result<Auth, ApiError>) -> Result<Auth, ApiError> {
    let auth = auth?;
    auth.app_require(app, Action::ManageGrids)?;
    Ok(auth)
}

/// Moves a unit from the form; the page says what happened.
pub async fn move_unit(
    State(app): State<AppState>,
    auth: Result<Auth, ApiError>,
    Path((region, version)): Path<(String, i64)>,
    Query(q): Query<LangOnly>,
    Form(f): Form<MoveForm>,
) -> Response {
    let auth = match may_manage(&app, auth) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let r2 = region.clone();
    let moved = blocking(move || {
        app.move_unit(
            &r2,
            version,
            f.unit.trim(),
            f.to_grid.trim(),
            f.accept_imbalance.unwrap_or(false),
            &auth.caller.username,
        )
    })
    .await;
    match moved {
        Ok(result) => {
            let text = format!(
                "{} {} → {} ({:+.1}%)",
                result["unit"].as_str().unwrap_or_default(),
                result["from"]["grid"].as_str().unwrap_or_default(),
                result["to"]["grid"].as_str().unwrap_or_default(),
                result["to"]["deviation"].as_f64().unwrap_or(0.0) * 100.0
            );
            back(&region, version, q.lang.as_deref(), "done", &text)
        }
        Err(e) if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN => {
            back(&region, version, q.lang.as_deref(), "error", &e.message)
        }
        Err(e) => e.into_response(),
    }
}

/// Approves the plan from the page.
pub async fn approve(
    State(app): State<AppState>,
    auth: Result<Auth, ApiError>,
    Path((region, version)): Path<(String, i64)>,
    Query(q): Query<LangOnly>,
) -> Response {
    let auth = match may_manage(&app, auth) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let r2 = region.clone();
    match blocking(move || app.approve_plan(&r2, version, &auth.caller.username)).await {
        Ok(()) => back(&region, version, q.lang.as_deref(), "done", "approved"),
        Err(e) => back(&region, version, q.lang.as_deref(), "error", &e.message),
    }
}
