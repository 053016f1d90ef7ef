//! An officer's tasks: the due list (kept, gzipped once, with an entity tag), the
//! calendar feed and escalations.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::{ApiError, AppState, blocking};
use crate::app::views::DueKey;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(due))
        .routes(routes!(due_ics))
        .routes(routes!(escalations))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DueQuery {
    /// First day (default today).
    on: Option<NaiveDate>,
    /// Days from `on` (1 = the day, 7 = the week).
    days: Option<u32>,
    /// `lon,lat` to order the list as a route from there.
    start: Option<String>,
}

fn parse_start(text: Option<&str>) -> Result<Option<(f64, f64)>, ApiError> {
    text.map(|s| {
        let (lon, lat) = s
            .split_once(',')
            .ok_or_else(|| ApiError::bad_request("start: expected lon,lat"))?;
        let lon: f64 = lon
            .trim()
            .parse()
            .map_err(|_| ApiError::bad_request("start: bad longitude"))?;
        let lat: f64 = lat
            .trim()
            .parse()
            .map_err(|_| ApiError::bad_request("start: bad latitude"))?;
        if !((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)) {
            return Err(ApiError::bad_request("start: coordinates out of range"));
        }
        Ok((lon, lat))
    })
    .transpose()
}

/// An officer's due list: overdue first, then targeted, then due date and class, or a route.
#[utoipa::path(get, path = "/api/officers/{id}/due", tag = "tasks", params(("id" = String, Path, description = "officer id"), DueQuery),
    security(("bearer" = [])), responses((status = 200, description = "the due list")))]
async fn due(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<DueQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let start = parse_start(q.start.as_deref())?;
    let on = q.on.unwrap_or_else(|| app.clock.today());
    let days = q.days.unwrap_or(1).min(366);
    // A list kept since the last write that could change it is sent without a store turn.
    // One request computes a list not kept; the others asking for it meanwhile wait for it
    // (holding no store turn) and take what it kept.
    let caller = auth.caller;
    let list = match app.kept_due_json(&caller, &id, on, days, start)? {
        Some(list) => list,
        None => {
            let turn = app.views.due_turn(&DueKey::new(&id, on, days, start));
            let _held = turn.hold().await;
            match app.kept_due_json(&caller, &id, on, days, start)? {
                Some(list) => list,
                None => blocking(move || app.due_json(&caller, &id, on, days, start)).await?,
            }
        }
    };
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == list.etag || tag.trim() == "*");
    let etag = [
        (header::ETAG, list.etag.clone()),
        (header::CACHE_CONTROL, "private, no-cache".to_owned()),
        (header::VARY, "accept-encoding".to_owned()),
    ];
    if not_modified {
        return Ok((StatusCode::NOT_MODIFIED, etag).into_response());
    }
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            parts.next().is_some_and(|c| c.trim() == "gzip") && parts.all(|q| q.trim() != "q=0")
        });
    if gzip {
        // Sent as gzipped once for every caller of this list (the compression layer leaves
        // a body with its own encoding alone).
        let body = match list.gzipped() {
            Some(body) => body,
            None => {
                let list = std::sync::Arc::clone(&list);
                tokio::task::spawn_blocking(move || list.gzip()).await?
            }
        };
        return Ok((
            etag,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            body,
        )
            .into_response());
    }
    Ok((
        etag,
        [(header::CONTENT_TYPE, "application/json")],
        list.json.clone(),
    )
        .into_response())
}

/// An officer's tasks as an iCalendar feed.
#[utoipa::path(get, path = "/api/officers/{id}/due.ics", tag = "tasks", params(("id" = String, Path, description = "officer id"), DueQuery),
    security(("bearer" = [])), responses((status = 200, description = "text/calendar")))]
async fn due_ics(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<DueQuery>,
) -> Result<Response, ApiError> {
    let text = blocking(move || {
        let on = q.on.unwrap_or_else(|| app.clock.today());
        let list = app.due_list(&auth.caller, &id, on, q.days.unwrap_or(30).min(366), None)?;
        Ok(app.due_list_ics(&list))
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        text,
    )
        .into_response())
}

/// Overdue tasks escalated to an officer (a deputy's late list).
#[utoipa::path(get, path = "/api/officers/{id}/escalations", tag = "tasks", params(("id" = String, Path, description = "officer id")),
    security(("bearer" = [])), responses((status = 200, description = "escalated tasks")))]
async fn escalations(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let list = blocking(move || app.escalated_to(&auth.caller, &id)).await?;
    Ok(Json(json!({ "escalations": list })))
}
