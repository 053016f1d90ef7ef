//! Special campaigns and random draws (双随机).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::{ApiError, ApiJson, AppState, blocking};
use crate::domain::access::Action;
use crate::domain::campaign::Campaign;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(campaigns, create_campaign))
        .routes(routes!(draw))
}

/// Special campaigns.
#[utoipa::path(get, path = "/api/campaigns", tag = "campaigns", security(("bearer" = [])),
    responses((status = 200, description = "campaigns")))]
async fn campaigns(State(app): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let list = blocking(move || app.campaigns(&auth.caller)).await?;
    Ok(Json(json!({ "campaigns": list })))
}

#[derive(Deserialize, ToSchema)]
struct CampaignBody {
    region: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    campaign: Campaign,
}

/// Orders a special campaign: a task for every matching business, routine visits in the
/// window merged into it (bureau heads).
#[utoipa::path(post, path = "/api/campaigns", tag = "campaigns", security(("bearer" = [])), request_body = CampaignBody,
    responses((status = 201, description = "created with its tasks")))]
async fn create_campaign(
    State(app): State<AppState>,
    auth: Auth,
    body: Result<ApiJson<CampaignBody>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // The early refusal, before the body is read; the use case checks the same action.
    auth.app_require(&app, Action::ManageInspections)?;
    let ApiJson(body) = body?;
    let out =
        blocking(move || app.create_campaign(&auth.caller, &body.region, &body.campaign)).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DrawBody {
    region: String,
    seed: u64,
    on: Option<NaiveDate>,
    #[serde(default = "thirty")]
    days: u32,
}

fn thirty() -> u32 {
    30
}

/// A random draw (双随机): businesses per class share, inspector pairs at random, from a
/// recorded seed (bureau heads).
#[utoipa::path(post, path = "/api/draws", tag = "campaigns", security(("bearer" = [])), request_body = DrawBody,
    responses((status = 201, description = "the draw and its tasks")))]
async fn draw(
    State(app): State<AppState>,
    auth: Auth,
    body: Result<ApiJson<DrawBody>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // The early refusal, before the body is read; the use case checks the same action.
    auth.app_require(&app, Action::ManageInspections)?;
    let ApiJson(body) = body?;
    let out = blocking(move || {
        let on = body.on.unwrap_or_else(|| app.clock.today());
        app.draw_in_store(&auth.caller, &body.region, body.seed, on, body.days)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}
