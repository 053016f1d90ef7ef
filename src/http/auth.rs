//! Signing in and out, the caller behind a bearer token, and accounts.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::{Json, http::header};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, ApiJson, AppState, blocking};
use crate::app::service::Caller;
use crate::domain::access::{Action, UserRole};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(users, add_user))
}

/// The signed-in caller, from `Authorization: Bearer <token>`.
pub struct Auth {
    pub caller: Caller,
    pub token: String,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .or_else(|| page_token(&parts.headers))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "sign in first: POST /api/login, then send Authorization: Bearer <token>",
                )
            })?
            .to_owned();
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::unauthorized("the token is malformed"));
        }
        // A session kept in memory needs no turn at the store.
        let caller = match app.kept_caller(&token) {
            Some(caller) => caller,
            None => {
                let (app, t) = (app.clone(), token.clone());
                blocking(move || app.caller(&t)).await?
            }
        };
        Ok(Auth { caller, token })
    }
}

/// The name of the cookie the web pages sign in with.
pub const COOKIE: &str = "gp_token";

/// The token of the pages' cookie (`HttpOnly`, `SameSite=Strict`), if sent.
pub fn page_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

impl Auth {
    /// Refuses the request before its body is read when the role may not do this at all.
    pub fn app_require(&self, app: &AppState, action: Action) -> Result<(), ApiError> {
        Ok(app.require(&self.caller, action)?)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

/// Signs in: returns a bearer token and when it expires.
#[utoipa::path(post, path = "/api/login", tag = "accounts", request_body = LoginBody,
    responses((status = 200, description = "token"), (status = 401, description = "wrong name or password")))]
async fn login(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<Value>, ApiError> {
    let login = blocking(move || app.login(&body.username, &body.password)).await?;
    Ok(Json(json!({
        "token": login.token,
        "expires_at": login.expires_at,
        "user": login.user,
    })))
}

/// Signs out: the token stops working at once.
#[utoipa::path(post, path = "/api/logout", tag = "accounts", security(("bearer" = [])),
    responses((status = 204, description = "signed out")))]
async fn logout(State(app): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    blocking(move || app.logout(&auth.token, &auth.caller)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the token belongs to, and the grids where they hold a post.
#[utoipa::path(get, path = "/api/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "the caller")))]
async fn me(State(app): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let me = blocking(move || app.me(&auth.caller)).await?;
    Ok(Json(json!({ "user": me.user, "grids": me.grids })))
}

/// Every account (admins).
#[utoipa::path(get, path = "/api/users", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "accounts")))]
async fn users(State(app): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let users = blocking(move || app.users(&auth.caller)).await?;
    Ok(Json(json!({ "users": users })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
    role: String,
    officer_id: Option<String>,
}

/// Adds an account (admins).
#[utoipa::path(post, path = "/api/users", tag = "accounts", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, description = "created")))]
async fn add_user(
    State(app): State<AppState>,
    auth: Auth,
    body: Result<ApiJson<NewUser>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.app_require(&app, Action::ManageUsers)?;
    let ApiJson(body) = body?;
    let id = blocking(move || {
        app.require(&auth.caller, Action::ManageUsers)?;
        let role: UserRole = body
            .role
            .parse()
            .map_err(|e: String| crate::app::AppError::Invalid(format!("role: {e}")))?;
        app.add_user(
            &body.username,
            &body.password,
            role,
            body.officer_id.as_deref(),
            &auth.caller.username,
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}
