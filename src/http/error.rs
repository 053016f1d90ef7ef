//! The one API error type: 4xx carry a useful message, 5xx are logged in full and opaque.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(m) => Self::bad_request(m),
            AppError::Import(e) => Self::bad_request(e.to_string()),
            AppError::Store(StoreError::NotFound(what)) => Self {
                status: StatusCode::NOT_FOUND,
                message: format!("{what} not found"),
            },
            AppError::Store(StoreError::Conflict(m)) => Self {
                status: StatusCode::CONFLICT,
                message: m,
            },
            AppError::Store(StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, m)))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Self {
                    status: StatusCode::CONFLICT,
                    message: format!("constraint violated: {}", m.unwrap_or_default()),
                }
            }
            other => {
                tracing::error!(error = %other, "internal error");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "internal error (logged)".into(),
                }
            }
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        tracing::error!(error = %e, "blocking task failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "internal error (logged)".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}
