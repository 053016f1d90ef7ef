//! Recording visits (the JSON API, and the officer page's form turned into the same
//! input), reading one back, and photos (uploaded by content hash).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::{ApiError, AppState, blocking};
use crate::domain::access::Action;
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
    // The early refusal, before the body is read; the use case checks the same action.
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
    let recorded = app
        .record_visit_queued(
            &auth.caller,
            visit,
            key.as_deref().map(|k| (k, body.as_ref())),
        )
        .await?;
    // The answer's JSON as written once for the audit entry and the idempotency record.
    Ok((
        StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::CREATED),
        [(header::CONTENT_TYPE, "application/json")],
        recorded.json,
    )
        .into_response())
}

/// Records the visit the officer page's form describes, through the same use case and the
/// same queued writer as `POST /api/inspections`: its photos are stored first, then the form
/// becomes the same [`Visit`] the API reads, keyed by the form's own idempotency key (a
/// form submitted twice records once).
pub(super) async fn record_form_visit(
    app: AppState,
    auth: Auth,
    entity_id: String,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<crate::app::service::RecordedVisit, ApiError> {
    // The early refusal, before the body is read; the use case checks the same action.
    auth.app_require(&app, Action::Record)?;
    let form = VisitForm::read(multipart).await?;
    let caller = auth.caller.clone();
    let (visit, key) = {
        let app = app.clone();
        blocking(move || form.into_visit(&app, &caller, entity_id)).await?
    };
    let body = serde_json::to_vec(&visit)
        .map_err(|e| ApiError::from(crate::app::AppError::Io(format!("visit as JSON: {e}"))))?;
    Ok(app
        .record_visit_queued(&auth.caller, visit, Some((&key, &body)))
        .await?)
}

/// The inspection form's fields and photos, as sent.
struct VisitForm {
    fields: std::collections::HashMap<String, String>,
    photos: Vec<(String, Bytes, &'static str)>,
}

impl VisitForm {
    async fn read(
        multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    ) -> Result<VisitForm, ApiError> {
        let mut multipart = multipart
            .map_err(|e| ApiError::new(e.status(), format!("multipart: {}", e.body_text())))?;
        let mut form = VisitForm {
            fields: std::collections::HashMap::new(),
            photos: Vec::new(),
        };
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::new(e.status(), format!("multipart: {}", e.body_text())))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "photo" {
                form.photos.extend(read_photo(field).await?);
            } else {
                let text = field.text().await.map_err(|e| {
                    ApiError::new(e.status(), format!("multipart: {}", e.body_text()))
                })?;
                form.fields.insert(name, text);
            }
        }
        Ok(form)
    }

    fn get(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map(String::as_str)
            .unwrap_or("")
            .trim()
    }

    /// The visit the form describes, its photos stored, and its idempotency key (blocking:
    /// photos are written to disk).
    fn into_visit(
        self,
        app: &crate::app::App,
        caller: &crate::app::access::Caller,
        entity_id: String,
    ) -> Result<(Visit, String), crate::app::AppError> {
        use crate::app::AppError::Invalid;
        use crate::domain::inspection::{
            CHECKLIST, ChecklistItem, Finding, ItemResult, PhotoRef, Rectification, Warning,
        };
        let visited_at =
            chrono::NaiveDateTime::parse_from_str(self.get("visited_at"), "%Y-%m-%dT%H:%M")
                .map_err(|_| Invalid("visited_at: a date and time".into()))?;
        let mut checklist = Vec::new();
        for item in CHECKLIST {
            let result = match self.get(&format!("item_{item}")) {
                "pass" => ItemResult::Pass,
                "fail" => ItemResult::Fail,
                "not_applicable" => ItemResult::NotApplicable,
                other => {
                    return Err(Invalid(format!(
                        "item_{item}: '{other}' is not pass, fail or not_applicable"
                    )));
                }
            };
            checklist.push(ChecklistItem {
                item: item.to_owned(),
                result,
                note: self.get(&format!("note_{item}")).to_owned(),
            });
        }
        let findings = match self.get("finding_severity") {
            "" => Vec::new(),
            s => vec![Finding {
                severity: s
                    .parse()
                    .map_err(|e: String| Invalid(format!("finding_severity: {e}")))?,
                note: self.get("finding_note").to_owned(),
                case: false,
            }],
        };
        let rectification = match self.get("rectification") {
            "" => None,
            "on_the_spot" => Some(Rectification::OnTheSpot),
            "notice" => Some(Rectification::Notice {
                deadline: self
                    .get("deadline")
                    .parse()
                    .map_err(|_| Invalid("deadline: a date".into()))?,
            }),
            other => return Err(Invalid(format!("rectification: '{other}'"))),
        };
        let warning = match self.get("warning") {
            "" => None,
            "issued" => Some(Warning::Issued),
            "lifted" => Some(Warning::Lifted),
            other => return Err(Invalid(format!("warning: '{other}'"))),
        };
        let key = format!("page-{}", self.get("key"));
        let me = caller.officer_id.clone().unwrap_or_default();
        let partner = self.get("partner").to_owned();
        let mut photos = Vec::new();
        for (name, bytes, kind) in self.photos {
            let sha256 = app.store_photo(caller, &bytes, kind)?;
            photos.push(PhotoRef { sha256, name });
        }
        let visit = Visit {
            entity_id,
            officers: vec![me, partner],
            visited_at,
            checklist,
            findings,
            rectification,
            warning,
            photos,
            extra_items: Vec::new(),
        };
        Ok((visit, key))
    }
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
                let sha = app.store_photo(&auth.caller, &bytes, kind)?;
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
    let (bytes, kind) = blocking(move || app.photo(&auth.caller, &sha)).await?;
    Ok(([(header::CONTENT_TYPE, kind)], bytes).into_response())
}
