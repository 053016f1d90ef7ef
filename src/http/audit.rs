//! The append-only audit log.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::{ApiError, AppState, blocking};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Entries older than this id (paging).
    before: Option<i64>,
    limit: Option<usize>,
}

/// The append-only audit log, newest first (admins and bureau heads).
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, description = "entries")))]
async fn audit(
    State(app): State<AppState>,
    auth: Auth,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows =
        blocking(move || app.audit_log(&auth.caller, q.before, q.limit.unwrap_or(100))).await?;
    Ok(Json(json!({ "entries": rows })))
}
