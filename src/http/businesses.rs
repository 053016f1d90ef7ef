//! Business endpoints: search, one business with class, reasons, records, history and
//! tasks; events that re-classify at once; complaints that open a targeted task; overrides.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::{ApiError, ApiJson, AppState, blocking};
use crate::app::Event;
use crate::domain::access::Action;
use crate::domain::entity::{Complaint, EntityId};
use crate::domain::policy::RiskClass;
use crate::store::BusinessSearch;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(tasks))
        .routes(routes!(record))
        .routes(routes!(complaint))
        .routes(routes!(set_override, lift_override))
}

fn entity_id(text: &str) -> Result<EntityId, ApiError> {
    EntityId::parse(text).map_err(|e| ApiError::bad_request(format!("id: {e}")))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// A, B, C or D.
    class: Option<String>,
    region: Option<String>,
    /// Part of the name or credit code.
    q: Option<String>,
    /// A grid code of the plan in force.
    grid: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Businesses, riskiest first; officers see those of their own grids.
#[utoipa::path(get, path = "/api/businesses", tag = "businesses", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, description = "businesses")))]
async fn list(
    State(app): State<AppState>,
    auth: Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let class = q
        .class
        .as_deref()
        .map(str::parse::<RiskClass>)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("class: {e}")))?;
    let search = BusinessSearch {
        region: q.region,
        class,
        text: q.q.filter(|t| !t.is_empty()),
        grid: q.grid,
        // Set by the use case from the caller.
        officer_scope: None,
        limit: q.limit.unwrap_or(100).min(10_000),
        offset: q.offset.unwrap_or(0),
    };
    let rows = blocking(move || app.search_businesses(&auth.caller, search)).await?;
    Ok(Json(json!({ "businesses": rows })))
}

/// One business: class in force, reasons, override, history, records.
#[utoipa::path(get, path = "/api/businesses/{id}", tag = "businesses", security(("bearer" = [])),
    params(("id" = String, Path, description = "unified social credit code")),
    responses((status = 200, description = "the business"), (status = 404, description = "unknown")))]
async fn one(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = entity_id(&id)?;
    let detail = blocking(move || app.business(&auth.caller, &id)).await?;
    Ok(Json(serde_json::to_value(detail).unwrap_or_default()))
}

/// Every task of a business.
#[utoipa::path(get, path = "/api/businesses/{id}/tasks", tag = "businesses", security(("bearer" = [])),
    params(("id" = String, Path, description = "unified social credit code")),
    responses((status = 200, description = "tasks")))]
async fn tasks(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = entity_id(&id)?;
    let tasks = blocking(move || app.tasks_for_entity(&auth.caller, id.as_str())).await?;
    Ok(Json(json!({ "tasks": tasks })))
}

#[derive(Deserialize, ToSchema)]
struct RecordBody {
    /// Ignored: the record is made in the caller's name.
    #[allow(dead_code)]
    actor: Option<String>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    event: Event,
}

/// Records a violation, complaint, annual report, licence change or inspection; the
/// business is re-classified at once.
#[utoipa::path(post, path = "/api/businesses/{id}/events", tag = "businesses", security(("bearer" = [])),
    params(("id" = String, Path, description = "unified social credit code")), request_body = RecordBody,
    responses((status = 201, description = "recorded; the business as it is now")))]
async fn record(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: Result<ApiJson<RecordBody>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.app_require(&app, Action::Record)?;
    let ApiJson(body) = body?;
    let id = entity_id(&id)?;
    let detail = blocking(move || {
        app.require_entity(&auth.caller, id.as_str(), Action::Record)?;
        app.record_event(&id, &body.event, &auth.caller.username)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(detail).unwrap_or_default()),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ComplaintBody {
    entity_id: String,
    date: NaiveDate,
    #[serde(default)]
    channel: String,
    substantiated: bool,
}

/// Takes in a complaint or lead: recorded, the business re-classified, and a targeted task
/// due within the policy deadline opened for the grid's A-post officer.
#[utoipa::path(post, path = "/api/complaints", tag = "businesses", security(("bearer" = [])), request_body = ComplaintBody,
    responses((status = 201, description = "recorded, with the targeted task")))]
async fn complaint(
    State(app): State<AppState>,
    auth: Auth,
    body: Result<ApiJson<ComplaintBody>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.app_require(&app, Action::Record)?;
    let ApiJson(body) = body?;
    let id = entity_id(&body.entity_id)?;
    let (detail, tasks) = blocking(move || {
        app.require_entity(&auth.caller, id.as_str(), Action::Record)?;
        let event = Event::Complaint(Complaint {
            date: body.date,
            channel: body.channel,
            substantiated: body.substantiated,
        });
        let detail = app.record_event(&id, &event, &auth.caller.username)?;
        let tasks: Vec<_> = app
            .tasks_for_entity(&auth.caller, id.as_str())?
            .into_iter()
            .filter(|t| t.kind == "targeted" && t.status == "open")
            .collect();
        Ok((detail, tasks))
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "business": detail, "targeted_task": tasks.last() })),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    class: String,
    reason: String,
    expires_on: NaiveDate,
    /// Ignored: the override is set in the caller's name.
    #[allow(dead_code)]
    actor: Option<String>,
}

/// Overrides a business's class with a written reason until a date (bureau heads).
#[utoipa::path(post, path = "/api/businesses/{id}/override", tag = "businesses", security(("bearer" = [])),
    params(("id" = String, Path, description = "unified social credit code")), request_body = OverrideBody,
    responses((status = 201, description = "set")))]
async fn set_override(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: Result<ApiJson<OverrideBody>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.app_require(&app, Action::ManageInspections)?;
    let ApiJson(body) = body?;
    let id = entity_id(&id)?;
    let class: RiskClass = body
        .class
        .parse()
        .map_err(|e: String| ApiError::bad_request(format!("class: {e}")))?;
    let row = blocking(move || {
        app.require(&auth.caller, Action::ManageInspections)?;
        app.set_override(
            &id,
            class,
            &body.reason,
            body.expires_on,
            &auth.caller.username,
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "override": row }))))
}

/// Lifts a business's active override (bureau heads).
#[utoipa::path(delete, path = "/api/businesses/{id}/override", tag = "businesses", security(("bearer" = [])),
    params(("id" = String, Path, description = "unified social credit code")),
    responses((status = 200, description = "lifted"), (status = 404, description = "no active override")))]
async fn lift_override(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = entity_id(&id)?;
    let lifted = blocking(move || {
        app.require(&auth.caller, Action::ManageInspections)?;
        app.lift_override(&id, &auth.caller.username)
    })
    .await?;
    match lifted {
        Some(row) => Ok(Json(json!({ "lifted": row }))),
        None => Err(ApiError::not_found("no active override")),
    }
}
