//! The work: tasks, an officer's due list and calendar, recording visits with photos,
//! campaigns, random draws, and the audit log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::{ApiError, ApiJson, AppState, blocking};
use crate::app::views::DueKey;
use crate::domain::access::{Action, grid_scoped};
use crate::domain::campaign::Campaign;
use crate::domain::inspection::Visit;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(due))
        .routes(routes!(due_ics))
        .routes(routes!(escalations))
        .routes(routes!(record_visit))
        .routes(routes!(visit))
        .routes(routes!(photo))
        .routes(routes!(campaigns, create_campaign))
        .routes(routes!(draw))
        .routes(routes!(audit))
        .routes(routes!(coverage))
        .routes(routes!(clears))
        .routes(routes!(assessment))
        .routes(routes!(veto))
        .routes(routes!(bulletin))
}

/// Photo upload, with its own body limit.
pub fn photo_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_photos))
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
    app.require_officer(&auth.caller, &id)?;
    let on = q.on.unwrap_or_else(|| app.clock.today());
    let days = q.days.unwrap_or(1).min(366);
    // A list kept since the last write that could change it is sent without a store turn.
    // One request computes a list not kept; the others asking for it meanwhile wait for it
    // (holding no store turn) and take what it kept.
    let list = match app.kept_due_json(&id, on, days, start) {
        Some(list) => list,
        None => {
            let turn = app.views.due_turn(&DueKey::new(&id, on, days, start));
            let _held = turn.hold().await;
            match app.kept_due_json(&id, on, days, start) {
                Some(list) => list,
                None => blocking(move || app.due_json(&id, on, days, start)).await?,
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
        app.require_officer(&auth.caller, &id)?;
        let on = q.on.unwrap_or_else(|| app.clock.today());
        let list = app.due_list(&id, on, q.days.unwrap_or(30).min(366), None)?;
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
    let list = blocking(move || {
        app.require_officer(&auth.caller, &id)?;
        app.escalated_to(&id)
    })
    .await?;
    Ok(Json(json!({ "escalations": list })))
}

/// Records a visit: checklist, findings, photos, rectification, warning. Closes the tasks
/// it satisfies, re-classifies the business, schedules a follow-up for a notice. Send an
/// `Idempotency-Key` header: a retried submit is answered as the first and writes nothing.
#[utoipa::path(post, path = "/api/inspections", tag = "visits", security(("bearer" = [])),
    request_body(content = Object, description = "a visit (see the Visit type)"),
    responses((status = 201, description = "recorded"), (status = 409, description = "key reused for another request")))]
async fn record_visit(
    State(app): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    auth.app_require(&app, Action::Record)?;
    let visit: Visit = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    let key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::bad_request("Idempotency-Key: 1 to 200 visible characters")
                })
        })
        .transpose()?;
    // Queued to the writing thread: no thread of the runtime waits for the commit.
    let (status, report) = app
        .record_visit_queued(
            &auth.caller,
            visit,
            key.as_deref().map(|k| (k, body.as_ref())),
        )
        .await?;
    // The answer's JSON as written once for the audit entry and the idempotency record.
    Ok((
        StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
        [(header::CONTENT_TYPE, "application/json")],
        report,
    )
        .into_response())
}

/// A recorded visit in full.
#[utoipa::path(get, path = "/api/inspections/{id}", tag = "visits", params(("id" = i64, Path, description = "inspection id")),
    security(("bearer" = [])), responses((status = 200, description = "the visit")))]
async fn visit(
    State(app): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(blocking(move || app.visit(&auth.caller, id)).await?))
}

/// A photo part of a multipart upload, checked: a plain file name and the bytes of a JPEG,
/// PNG or WebP image. An empty part (a form's file input left empty) is `None`.
pub(super) async fn read_photo(
    field: axum::extract::multipart::Field<'_>,
) -> Result<Option<(String, Bytes, &'static str)>, ApiError> {
    let name = field.file_name().unwrap_or("photo").to_owned();
    let bytes = field
        .bytes()
        .await
        .map_err(|e| ApiError::new(e.status(), format!("multipart: {}", e.body_text())))?;
    if bytes.is_empty() {
        return Ok(None);
    }
    crate::domain::inspection::check_photo_name(&name)
        .map_err(|e| ApiError::bad_request(format!("photo name: {e}")))?;
    let kind = sniff(&bytes).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("photo '{name}': not a JPEG, PNG or WebP image"),
        )
    })?;
    Ok(Some((name, bytes, kind)))
}

/// Photo types accepted, by their first bytes.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Uploads photos (multipart, field `photo`, JPEG, PNG or WebP): stored under the data
/// directory by content hash. Returns each photo's SHA-256 to cite in a visit.
#[utoipa::path(post, path = "/api/photos", tag = "visits", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "one or more `photo` parts"),
    responses((status = 201, description = "stored"), (status = 413, description = "too large"), (status = 415, description = "not a photo")))]
async fn upload_photos(
    State(app): State<AppState>,
    auth: Auth,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.app_require(&app, Action::Record)?;
    let mut multipart = multipart
        .map_err(|e| ApiError::new(e.status(), format!("multipart: {}", e.body_text())))?;
    let mut stored = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::new(e.status(), format!("multipart: {}", e.body_text())))?
    {
        if field.name() != Some("photo") {
            return Err(ApiError::bad_request(format!(
                "multipart: unexpected part '{}' (send `photo` parts)",
                field.name().unwrap_or("")
            )));
        }
        stored.extend(read_photo(field).await?);
    }
    if stored.is_empty() {
        return Err(ApiError::bad_request("multipart: no `photo` part"));
    }
    let out = blocking(move || {
        stored
            .into_iter()
            .map(|(name, bytes, kind)| {
                let sha = app.store_photo(&bytes, kind)?;
                Ok(json!({ "sha256": sha, "name": name, "bytes": bytes.len(), "content_type": kind }))
            })
            .collect::<Result<Vec<Value>, crate::app::AppError>>()
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "photos": out }))))
}

/// A stored photo.
#[utoipa::path(get, path = "/api/photos/{sha256}", tag = "visits", params(("sha256" = String, Path, description = "the photo's SHA-256")),
    security(("bearer" = [])), responses((status = 200, description = "the image")))]
async fn photo(
    State(app): State<AppState>,
    auth: Auth,
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    if !crate::domain::inspection::is_sha256(&sha) {
        return Err(ApiError::bad_request("sha256: 64 lowercase hex digits"));
    }
    let (bytes, kind) = blocking(move || {
        app.require(&auth.caller, Action::Read)?;
        let store = app.open_store()?;
        let kind = store
            .read()
            .photo_type(&sha)?
            .ok_or_else(|| crate::store::StoreError::NotFound(format!("photo {sha}")))?;
        if grid_scoped(auth.caller.role) {
            let entities = store.read().photo_entities(&sha)?;
            if !entities
                .iter()
                .any(|e| app.require_entity(&auth.caller, e, Action::Read).is_ok())
            {
                return Err(crate::app::AppError::Forbidden(
                    "the photo is not of a business in your grids".into(),
                ));
            }
        }
        let path = app
            .photo_path(&sha)
            .ok_or_else(|| crate::app::AppError::Io(format!("photo {sha} is missing on disk")))?;
        let bytes = std::fs::read(&path).map_err(|e| crate::app::AppError::Io(e.to_string()))?;
        Ok((bytes, kind))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, kind)], bytes).into_response())
}

/// Special campaigns.
#[utoipa::path(get, path = "/api/campaigns", tag = "campaigns", security(("bearer" = [])),
    responses((status = 200, description = "campaigns")))]
async fn campaigns(State(app): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let list = blocking(move || {
        app.require(&auth.caller, Action::Read)?;
        Ok(app.open_store()?.read().campaigns()?)
    })
    .await?;
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
    auth.app_require(&app, Action::ManageInspections)?;
    let ApiJson(body) = body?;
    let out = blocking(move || {
        let on = body.on.unwrap_or_else(|| app.clock.today());
        app.draw_in_store(&auth.caller, &body.region, body.seed, on, body.days)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
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
    let rows = blocking(move || {
        app.require(&auth.caller, Action::ReadAudit)?;
        Ok(app
            .open_store()?
            .read()
            .audit_log(q.before, q.limit.unwrap_or(100).min(1000))?)
    })
    .await?;
    Ok(Json(json!({ "entries": rows })))
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
    auth.app_require(&app, Action::ReadReports)?;
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
    auth.app_require(&app, Action::ReadReports)?;
    let c = blocking(move || app.clears(&code)).await?;
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
    auth.app_require(&app, Action::ReadReports)?;
    let by: crate::domain::report::Breakdown =
        q.by.as_deref()
            .unwrap_or("grid")
            .parse()
            .map_err(|e: String| ApiError::bad_request(format!("by: {e}")))?;
    let lines = blocking(move || app.assessment(&q.region, q.year, by)).await?;
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
    auth.app_require(&app, Action::ReadReports)?;
    if !matches!(q.kind.as_str(), "dekad" | "month") {
        return Err(ApiError::bad_request("kind: dekad or month"));
    }
    Ok(Json(
        blocking(move || app.bulletin(&q.kind, &q.region, q.start)).await?,
    ))
}
