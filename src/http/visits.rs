//! Recording visits, reading one back, and photos (uploaded by content hash).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::{ApiError, AppState, blocking};
use crate::domain::access::{Action, grid_scoped};
use crate::domain::inspection::Visit;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(record_visit))
        .routes(routes!(visit))
        .routes(routes!(photo))
}

/// Photo upload, with its own body limit.
pub fn photo_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_photos))
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
