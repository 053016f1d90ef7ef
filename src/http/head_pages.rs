//! The bureau head's plan page: the grid plan on a map coloured by workload deviation, the
//! grids with their posts, moving a unit between grids (contiguity and balance re-checked by
//! the same use case as the API), and approving the plan.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Auth;
use super::i18n::{Lang, t};
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
    let editable = status == "draft" && crate::domain::access::allowed(head, Action::ManageGrids);
    let page = PlanPage {
        region: &region,
        version,
        status: &status,
        lang,
    };
    document(
        lang,
        t(lang, "plan_page"),
        page.body(&plan, &q, editable),
        "70rem",
    )
    .into_response()
}

/// What the plan page is about: the plan, its state, the page's language.
struct PlanPage<'a> {
    region: &'a str,
    version: i64,
    status: &'a str,
    lang: Lang,
}

/// Each grid's workload and how far it lies from the mean.
struct Workloads {
    loads: Vec<f64>,
    mean: f64,
}

impl Workloads {
    fn of(features: &[serde_json::Value]) -> Self {
        let loads: Vec<f64> = features
            .iter()
            .map(|f| f["properties"]["workload"].as_f64().unwrap_or(0.0))
            .collect();
        let mean = loads.iter().sum::<f64>() / loads.len().max(1) as f64;
        Workloads { loads, mean }
    }

    /// Above (+) or below (−) the mean, as a fraction of it.
    fn deviation(&self, w: f64) -> f64 {
        if self.mean > 0.0 {
            w / self.mean - 1.0
        } else {
            0.0
        }
    }
}

impl PlanPage<'_> {
    /// The heading, the answer to the last move or approval, the map, the table and (for a
    /// draft the caller may change) the forms.
    fn body(&self, plan: &serde_json::Value, q: &PlanQuery, editable: bool) -> Markup {
        let lang = self.lang;
        let features = plan["features"].as_array().cloned().unwrap_or_default();
        let loads = Workloads::of(&features);
        html! {
            h1 { (t(lang, "plan_page")) " " (self.version) " · " (self.region) }
            p { (t(lang, "status")) ": " (t(lang, self.status)) }
            @if let Some(done) = &q.done {
                p role="status" { (done) }
            }
            @if let Some(error) = &q.error {
                p role="alert" class="late" { (t(lang, "refused")) ": " (error) }
            }
            (deviation_map(plan, &loads))
            (self.grid_table(&features, &loads))
            @if editable {
                (self.forms())
            }
        }
    }

    /// Each grid's workload, deviation, posts and units.
    fn grid_table(&self, features: &[serde_json::Value], loads: &Workloads) -> Markup {
        let lang = self.lang;
        html! {
            table {
                thead { tr {
                    @for key in ["grid", "workload", "deviation", "officer", "partners", "units"] {
                        th { (t(lang, key)) }
                    }
                } }
                tbody {
                    @for (f, &w) in features.iter().zip(&loads.loads) {
                        @let p = &f["properties"];
                        @let code = p["code"].as_str().unwrap_or_default();
                        tr data-grid=(code) {
                            td { (code) }
                            td { (format_args!("{w:.0}")) }
                            td { (format_args!("{:+.1}%", loads.deviation(w) * 100.0)) }
                            td { (p["a_post"].as_str().unwrap_or("—")) }
                            td { (strings(&p["b_posts"]).join(", ")) }
                            td { (strings(&p["units"]).join(" ")) }
                        }
                    }
                }
            }
        }
    }

    /// Moving a unit to another grid, and approving the plan.
    fn forms(&self) -> Markup {
        let lang = self.lang;
        let l = if lang == Lang::En { "en" } else { "zh" };
        let action = |what: &str| {
            format!(
                "/head/plan/{}/{}/{what}?lang={l}",
                self.region, self.version
            )
        };
        html! {
            h2 { (t(lang, "move_unit")) }
            form method="post" action=(action("move")) {
                label { (t(lang, "unit")) " " input name="unit" required; } " "
                label { (t(lang, "to_grid")) " " input name="to_grid" required; }
                label { input type="checkbox" name="accept_imbalance" value="true"; " " (t(lang, "accept_imbalance")) } " "
                button { (t(lang, "move")) }
            }
            form method="post" action=(action("approve")) {
                button { (t(lang, "approve")) }
            }
        }
    }
}

/// The plan's grids coloured by how far their workload lies from the mean.
fn deviation_map(plan: &serde_json::Value, loads: &Workloads) -> Markup {
    let grids = plan_grids(plan);
    let shapes: Vec<Shape<'_>> = grids
        .iter()
        .zip(&loads.loads)
        .map(|((code, rings), &w)| Shape {
            code,
            rings,
            fill: deviation_fill(loads.deviation(w)),
            title: format!("{code} {:+.1}%", loads.deviation(w) * 100.0),
        })
        .collect();
    html! {
        svg viewBox="0 0 800 600" width="100%" role="img" { (draw(&shapes, 800.0, 600.0)) }
    }
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
