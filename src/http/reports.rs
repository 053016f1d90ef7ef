//! Reports: coverage (JSON, CSV, Excel), the three clears, the assessment and its
//! vetoes, and frozen bulletins.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::{ApiError, ApiJson, AppState, blocking};
use crate::domain::access::Action;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(coverage))
        .routes(routes!(clears))
        .routes(routes!(assessment))
        .routes(routes!(veto))
        .routes(routes!(bulletin))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CoverageQuery {
    region: String,
    /// 2027, 2027-H1, 2027-Q1, 2027-03 or 2027-03-D1 (a 旬).
    period: String,
    /// grid, officer, area, class, industry or business.
    by: Option<String>,
    /// Drill-down: only businesses of this grid …
    grid: Option<String>,
    /// … or of this officer's grid.
    officer: Option<String>,
    /// json (default), csv or xlsx.
    format: Option<String>,
}

/// Coverage over a period by grid, officer, area, class, industry or business: required
/// visits, done, on time, overdue now, never inspected, coverage, same-day entry, findings,
/// notices and follow-ups, targeted leads closed in time, hours needed. JSON, CSV or Excel.
#[utoipa::path(get, path = "/api/reports/coverage", tag = "reports", params(CoverageQuery), security(("bearer" = [])),
    responses((status = 200, description = "the report")))]
async fn coverage(
    State(app): State<AppState>,
    auth: Auth,
    Query(q): Query<CoverageQuery>,
) -> Result<Response, ApiError> {
    use crate::domain::report::{Breakdown, Period};
    let period: Period = q
        .period
        .parse()
        .map_err(|e: String| ApiError::bad_request(format!("period: {e}")))?;
    let by: Breakdown =
        q.by.as_deref()
            .unwrap_or("grid")
            .parse()
            .map_err(|e: String| ApiError::bad_request(format!("by: {e}")))?;
    let within = match (q.grid, q.officer) {
        (Some(g), _) => Some((Breakdown::Grid, g)),
        (None, Some(o)) => Some((Breakdown::Officer, o)),
        _ => None,
    };
    let format = q.format.unwrap_or_else(|| "json".into());
    let region = q.region;
    match format.as_str() {
        "json" | "csv" => {
            let rows = blocking(move || {
                app.coverage_report(
                    &auth.caller,
                    &region,
                    period,
                    by,
                    within.as_ref().map(|(b, v)| (*b, v.as_str())),
                )
            })
            .await?;
            if format == "csv" {
                Ok((
                    [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                    crate::app::App::coverage_csv(&rows),
                )
                    .into_response())
            } else {
                Ok(Json(json!({ "period": period, "by": by, "rows": rows })).into_response())
            }
        }
        "xlsx" => {
            let bytes = blocking(move || {
                app.coverage_xlsx(
                    &auth.caller,
                    &region,
                    period,
                    by,
                    within.as_ref().map(|(b, v)| (*b, v.as_str())),
                )
            })
            .await?;
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"coverage.xlsx\"",
                    ),
                ],
                bytes,
            )
                .into_response())
        }
        other => Err(ApiError::bad_request(format!(
            "format: '{other}' is not json, csv or xlsx"
        ))),
    }
}

/// The three clears (三清): every unit in exactly one grid, every grid with a full chain of
/// responsibility, every business located and classified; what is missing, listed.
#[utoipa::path(get, path = "/api/regions/{code}/clears", tag = "reports", params(("code" = String, Path, description = "region code")),
    security(("bearer" = [])), responses((status = 200, description = "the checks")))]
async fn clears(
    State(app): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = blocking(move || app.clears(&auth.caller, &code)).await?;
    let clear = c.units_without_grid.is_empty()
        && c.units_in_two_grids.is_empty()
        && c.grids_without_a_post.is_empty()
        && c.grids_without_b_post.is_empty()
        && c.grids_without_deputy.is_empty()
        && c.has_chief
        && c.unlocated_businesses.is_empty()
        && c.unclassified_businesses.is_empty();
    Ok(Json(json!({ "clear": clear, "checks": c })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AssessmentQuery {
    region: String,
    year: i32,
    /// grid (default), officer or area.
    by: Option<String>,
}

/// The year's assessment (考核): quarters that have ended and the year scored by the
/// efficacy coefficient method, combined 40/60 (policy), graded, vetoes applied.
#[utoipa::path(get, path = "/api/assessment", tag = "reports", params(AssessmentQuery), security(("bearer" = [])),
    responses((status = 200, description = "scores and grades")))]
async fn assessment(
    State(app): State<AppState>,
    auth: Auth,
    Query(q): Query<AssessmentQuery>,
) -> Result<Json<Value>, ApiError> {
    let by: crate::domain::report::Breakdown =
        q.by.as_deref()
            .unwrap_or("grid")
            .parse()
            .map_err(|e: String| ApiError::bad_request(format!("by: {e}")))?;
    let lines = blocking(move || app.assessment(&auth.caller, &q.region, q.year, by)).await?;
    Ok(Json(json!({ "assessment": lines })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VetoBody {
    region: String,
    /// A grid code or an officer id.
    subject: String,
    year: i32,
    reason: String,
}

/// Flags a major incident: a one-vote veto (一票否决) on a grid's or officer's year
/// (bureau heads).
#[utoipa::path(post, path = "/api/assessment/vetoes", tag = "reports", security(("bearer" = [])), request_body = VetoBody,
    responses((status = 201, description = "set")))]
async fn veto(
    State(app): State<AppState>,
    auth: Auth,
    body: Result<ApiJson<VetoBody>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // The early refusal, before the body is read; the use case checks the same action.
    auth.app_require(&app, Action::ManageInspections)?;
    let ApiJson(body) = body?;
    let id = blocking(move || {
        app.set_veto(
            &auth.caller,
            &body.region,
            &body.subject,
            body.year,
            &body.reason,
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BulletinQuery {
    region: String,
    /// dekad (旬) or month.
    kind: String,
    /// The first day of the period.
    start: NaiveDate,
}

/// A frozen 旬 statistics or monthly bulletin (月通报): the figures, and the grids and
/// officers ranked with the top two and bottom two named.
#[utoipa::path(get, path = "/api/bulletins", tag = "reports", params(BulletinQuery), security(("bearer" = [])),
    responses((status = 200, description = "the bulletin"), (status = 404, description = "not frozen (yet)")))]
async fn bulletin(
    State(app): State<AppState>,
    auth: Auth,
    Query(q): Query<BulletinQuery>,
) -> Result<Json<Value>, ApiError> {
    if !matches!(q.kind.as_str(), "dekad" | "month") {
        return Err(ApiError::bad_request("kind: dekad or month"));
    }
    Ok(Json(
        blocking(move || app.bulletin(&auth.caller, &q.kind, &q.region, q.start)).await?,
    ))
}
