//! Places and people: regions and their units, grid plans (draft, edit by moving a unit,
//! approve, publish), areas, posts and assignment runs, and the roster.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::{ApiError, ApiJson, AppState, blocking};
use crate::domain::access::Action;
use crate::domain::entity::{Officer, Role};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(regions))
        .routes(routes!(region))
        .routes(routes!(units))
        .routes(routes!(plans, draft))
        .routes(routes!(plan))
        .routes(routes!(move_unit))
        .routes(routes!(approve))
        .routes(routes!(publish))
        .routes(routes!(areas))
        .routes(routes!(posts))
        .routes(routes!(assignment))
        .routes(routes!(officers, save_officer))
}

/// Every imported region (jurisdiction).
#[utoipa::path(get, path = "/api/regions", tag = "places", security(("bearer" = [])),
    responses((status = 200, description = "regions")))]
async fn regions(State(app): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let summary = blocking(move || app.summary(&auth.caller)).await?;
    Ok(Json(json!({ "regions": summary.regions })))
}

/// A region's outline (GeoJSON Feature).
#[utoipa::path(get, path = "/api/regions/{code}", tag = "places", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code")),
    responses((status = 200, description = "GeoJSON Feature")))]
async fn region(
    State(app): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        blocking(move || app.region_outline(&auth.caller, &code)).await?,
    ))
}

/// A region's base units (GeoJSON FeatureCollection).
#[utoipa::path(get, path = "/api/regions/{code}/units", tag = "places", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code")),
    responses((status = 200, description = "GeoJSON FeatureCollection")))]
async fn units(
    State(app): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        blocking(move || app.region_units(&auth.caller, &code)).await?,
    ))
}

/// A region's grid plans (draft, approved, retired).
#[utoipa::path(get, path = "/api/regions/{code}/plans", tag = "grids", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code")),
    responses((status = 200, description = "plans")))]
async fn plans(
    State(app): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let plans = blocking(move || app.plans(&auth.caller, &code)).await?;
    Ok(Json(json!({ "plans": plans })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DraftBody {
    grids: usize,
    #[serde(default = "one")]
    seed: u64,
}

fn one() -> u64 {
    1
}

/// Drafts a new plan: the region partitioned into contiguous, balanced grids.
#[utoipa::path(post, path = "/api/regions/{code}/plans", tag = "grids", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code")), request_body = DraftBody,
    responses((status = 201, description = "draft saved")))]
async fn draft(
    State(app): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
    body: Result<ApiJson<DraftBody>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.app_require(&app, Action::ManageGrids)?;
    let ApiJson(body) = body?;
    let (version, metrics) = blocking(move || {
        app.require(&auth.caller, Action::ManageGrids)?;
        app.draft_plan(&code, body.grids, body.seed, &auth.caller.username)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "version": version, "metrics": metrics })),
    ))
}

/// A plan's grids with their units and post holders (GeoJSON FeatureCollection).
#[utoipa::path(get, path = "/api/regions/{code}/plans/{version}", tag = "grids", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code"), ("version" = i64, Path, description = "plan version")),
    responses((status = 200, description = "GeoJSON FeatureCollection")))]
async fn plan(
    State(app): State<AppState>,
    auth: Auth,
    Path((code, version)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        blocking(move || app.plan_map(&auth.caller, &code, version)).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    unit: String,
    to_grid: String,
    #[serde(default)]
    accept_imbalance: bool,
}

/// Edits a draft: moves a unit to a neighbouring grid, contiguity and balance re-checked.
#[utoipa::path(post, path = "/api/regions/{code}/plans/{version}/moves", tag = "grids", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code"), ("version" = i64, Path, description = "plan version")),
    request_body = MoveBody,
    responses((status = 200, description = "moved; the two grids' workloads")))]
async fn move_unit(
    State(app): State<AppState>,
    auth: Auth,
    Path((code, version)): Path<(String, i64)>,
    body: Result<ApiJson<MoveBody>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    auth.app_require(&app, Action::ManageGrids)?;
    let ApiJson(body) = body?;
    Ok(Json(
        blocking(move || {
            app.require(&auth.caller, Action::ManageGrids)?;
            app.move_unit(
                &code,
                version,
                &body.unit,
                &body.to_grid,
                body.accept_imbalance,
                &auth.caller.username,
            )
        })
        .await?,
    ))
}

/// Approves a draft: it comes into force and the plan before it is retired.
#[utoipa::path(post, path = "/api/regions/{code}/plans/{version}/approve", tag = "grids", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code"), ("version" = i64, Path, description = "plan version")),
    responses((status = 200, description = "approved")))]
async fn approve(
    State(app): State<AppState>,
    auth: Auth,
    Path((code, version)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        app.require(&auth.caller, Action::ManageGrids)?;
        app.approve_plan(&code, version, &auth.caller.username)
    })
    .await?;
    Ok(Json(json!({ "approved": version })))
}

/// Publishes an approved plan to the officers.
#[utoipa::path(post, path = "/api/regions/{code}/plans/{version}/publish", tag = "grids", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code"), ("version" = i64, Path, description = "plan version")),
    responses((status = 200, description = "published")))]
async fn publish(
    State(app): State<AppState>,
    auth: Auth,
    Path((code, version)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    let changed = blocking(move || {
        app.require(&auth.caller, Action::ManageGrids)?;
        app.publish_plan(&code, version, &auth.caller.username)
    })
    .await?;
    Ok(Json(json!({ "published": version, "changed": changed })))
}

/// A region's areas (片区) with their deputies and grids.
#[utoipa::path(get, path = "/api/regions/{code}/areas", tag = "grids", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code")),
    responses((status = 200, description = "areas")))]
async fn areas(
    State(app): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let areas = blocking(move || app.areas(&auth.caller, &code)).await?;
    Ok(Json(json!({ "areas": areas })))
}

/// The open posts of the plan in force: grid → A-post and B-post officers.
#[utoipa::path(get, path = "/api/regions/{code}/posts", tag = "grids", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code")),
    responses((status = 200, description = "posts")))]
async fn posts(
    State(app): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let posts = blocking(move || app.posts_in_force(&auth.caller, &code)).await?;
    Ok(Json(json!({
        "plan_version": posts.plan_version,
        "a_posts": posts.a_posts,
        "b_posts": posts.b_posts,
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    on: Option<NaiveDate>,
}

/// Runs an assignment: posts for the plan in force, existing ones kept unless a rule or the
/// balance says otherwise; every change with its reason.
#[utoipa::path(post, path = "/api/regions/{code}/assignments", tag = "grids", security(("bearer" = [])),
    params(("code" = String, Path, description = "region code")), request_body = AssignBody,
    responses((status = 201, description = "the run's changes and load balance")))]
async fn assignment(
    State(app): State<AppState>,
    auth: Auth,
    Path(code): Path<String>,
    body: Result<ApiJson<AssignBody>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.app_require(&app, Action::ManageGrids)?;
    let ApiJson(body) = body?;
    let report = blocking(move || {
        app.require(&auth.caller, Action::ManageGrids)?;
        let on = body.on.unwrap_or_else(|| app.clock.today());
        app.assign_posts_in_store(&code, on, &auth.caller.username)
            .map_err(|e| match e.downcast::<crate::app::AppError>() {
                Ok(app_error) => app_error,
                Err(other) => crate::app::AppError::Invalid(format!("{other:#}")),
            })
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(report).unwrap_or_default()),
    ))
}

/// The roster.
#[utoipa::path(get, path = "/api/officers", tag = "people", security(("bearer" = [])),
    responses((status = 200, description = "officers")))]
async fn officers(State(app): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let officers = blocking(move || app.roster(&auth.caller)).await?;
    Ok(Json(json!({ "officers": officers })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OfficerBody {
    region: String,
    id: String,
    name: String,
    /// chief, deputy, officer or helper.
    role: String,
    years_of_service: u32,
    hours_per_month: f64,
    certified: bool,
    #[serde(default)]
    skills: Vec<String>,
}

/// Adds or changes an officer on a region's roster (bureau heads).
#[utoipa::path(post, path = "/api/officers", tag = "people", security(("bearer" = [])), request_body = OfficerBody,
    responses((status = 201, description = "saved")))]
async fn save_officer(
    State(app): State<AppState>,
    auth: Auth,
    body: Result<ApiJson<OfficerBody>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.app_require(&app, Action::ManageGrids)?;
    let ApiJson(body) = body?;
    let role: Role = body
        .role
        .parse()
        .map_err(|e: String| ApiError::bad_request(format!("role: {e}")))?;
    let officer = Officer {
        id: body.id,
        name: body.name,
        role,
        years_of_service: body.years_of_service,
        hours_per_month: body.hours_per_month,
        certified: body.certified,
        skills: body.skills,
    };
    let saved = officer.clone();
    blocking(move || app.save_officer(&auth.caller, &body.region, &officer)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "officer": saved }))))
}
