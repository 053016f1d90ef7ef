//! Business endpoints: one business's class with reasons, events that re-classify it at
//! once, and class overrides.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, AppState, blocking};
use crate::app::{EntityDetail, Event};
use crate::domain::entity::EntityId;
use crate::domain::policy::RiskClass;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/businesses", get(list))
        .route("/api/businesses/{id}", get(one))
        .route("/api/businesses/{id}/events", post(record))
        .route(
            "/api/businesses/{id}/override",
            post(set_override).delete(lift_override),
        )
}

fn entity_id(text: &str) -> Result<EntityId, ApiError> {
    EntityId::parse(text).map_err(|e| ApiError::bad_request(format!("id: {e}")))
}

async fn one(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EntityDetail>, ApiError> {
    let id = entity_id(&id)?;
    Ok(Json(blocking(move || app.entity(&id)).await?))
}

#[derive(Deserialize)]
struct ListQuery {
    class: Option<String>,
    region: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(app): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let class = q
        .class
        .as_deref()
        .map(str::parse::<RiskClass>)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let limit = q.limit.unwrap_or(100).min(10_000);
    let rows = blocking(move || app.list_businesses(q.region.as_deref(), class, limit)).await?;
    Ok(Json(json!({ "businesses": rows })))
}

#[derive(Deserialize)]
struct RecordBody {
    actor: String,
    #[serde(flatten)]
    event: Event,
}

async fn record(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecordBody>,
) -> Result<(StatusCode, Json<EntityDetail>), ApiError> {
    let id = entity_id(&id)?;
    let detail = blocking(move || app.record_event(&id, &body.event, &body.actor)).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

#[derive(Deserialize)]
struct OverrideBody {
    class: String,
    reason: String,
    expires_on: NaiveDate,
    actor: String,
}

async fn set_override(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OverrideBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = entity_id(&id)?;
    let class: RiskClass = body
        .class
        .parse()
        .map_err(|e: String| ApiError::bad_request(format!("class: {e}")))?;
    let row =
        blocking(move || app.set_override(&id, class, &body.reason, body.expires_on, &body.actor))
            .await?;
    Ok((StatusCode::CREATED, Json(json!({ "override": row }))))
}

#[derive(Deserialize)]
struct LiftQuery {
    actor: String,
}

async fn lift_override(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LiftQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = entity_id(&id)?;
    let lifted = blocking(move || app.lift_override(&id, &q.actor)).await?;
    match lifted {
        Some(row) => Ok(Json(json!({ "lifted": row }))),
        None => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: "no active override".into(),
        }),
    }
}
