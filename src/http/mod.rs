//! The HTTP service: the only axum importer. Handlers parse, call the app, and shape DTOs.

mod error;
mod register;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub use error::ApiError;

use crate::app::App;

/// Shared state of the handlers.
pub type AppState = Arc<App>;

/// JSON bodies whose rejections come out in the API's error format.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(ApiError::bad_request(json_rejection_text(&rejection))),
        }
    }
}

fn json_rejection_text(rejection: &JsonRejection) -> String {
    format!("request body: {}", rejection.body_text())
}

/// Runs blocking store work off the async threads, keeping the tracing span.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, crate::app::AppError> + Send + 'static,
) -> Result<T, ApiError> {
    let span = tracing::Span::current();
    Ok(tokio::task::spawn_blocking(move || span.in_scope(work)).await??)
}

/// The whole service.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/", get(summary))
        .route("/healthz", get(healthz))
        .merge(register::router())
        .with_state(app)
}

async fn healthz(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let version = blocking(move || Ok(app.open_store()?.schema_version()?)).await?;
    Ok(Json(json!({ "status": "ok", "schema_version": version })))
}

async fn summary(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let today = app.clock.today();
    let summary = blocking(move || Ok(app.open_store()?.read().summary(today)?)).await?;
    Ok(Json(json!({
        "service": "gridpatrol",
        "as_of": today,
        "regions": summary.regions,
        "links": {
            "health": "/healthz",
            "business": "/api/businesses/{id}",
            "businesses of a class": "/api/businesses?class=D&limit=50",
        },
    })))
}
