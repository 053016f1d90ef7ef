//! The one API error type, answered as `application/problem+json` (RFC 9457): 4xx say what
//! is wrong and where, 5xx are logged in full and opaque.

use axum::http::{HeaderValue, StatusCode, header};
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
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// The request is well-formed but wrong: names the field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged)")
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(m) => Self::bad_request(m),
            AppError::Unauthorized(m) => Self::unauthorized(m),
            AppError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, m),
            AppError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            AppError::Import(e) => Self::bad_request(e.to_string()),
            AppError::Store(StoreError::NotFound(what)) => {
                Self::not_found(format!("{what} not found"))
            }
            AppError::Store(StoreError::Conflict(m)) => Self::new(StatusCode::CONFLICT, m),
            AppError::Store(StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, m)))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Self::new(
                    StatusCode::CONFLICT,
                    format!("constraint violated: {}", m.unwrap_or_default()),
                )
            }
            other => {
                tracing::error!(error = %other, "internal error");
                Self::internal()
            }
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        tracing::error!(error = %e, "blocking task failed");
        Self::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("error");
        let body = json!({
            "type": "about:blank",
            "title": title,
            "status": self.status.as_u16(),
            "detail": self.message,
        });
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
