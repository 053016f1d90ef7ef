//! The HTTP service: the only axum importer. Handlers parse, call the app, and shape JSON.
//! Every API route is declared once with its OpenAPI description (utoipa), so the document
//! at `/openapi.json` cannot leave a route out.

mod auth;
mod error;
mod grids;
mod head_pages;
mod i18n;
mod manager_pages;
mod officer_pages;
mod pages;
mod register;
mod work;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::Auth;
pub use error::ApiError;

use crate::app::App;
use crate::config::Limits;

/// Shared state of the handlers.
pub type AppState = Arc<App>;

/// JSON bodies whose rejections come out in the API's error format.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let status = match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::BAD_REQUEST => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, format!("request body: {}", rejection.body_text()))
}

tokio::task_local! {
    /// Turns for store work in this request's router: `[limits] db_workers` at once.
    static TURNS: Arc<Semaphore>;
}

/// Runs blocking store work off the async threads, keeping the tracing span, once a turn
/// is free; the turn is held until the work ends, even if the request is abandoned.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, crate::app::AppError> + Send + 'static,
) -> Result<T, ApiError> {
    let span = tracing::Span::current();
    let turn = match TURNS.try_with(Arc::clone) {
        Ok(turns) => Some(turns.acquire_owned().await.map_err(|_| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the service is stopping")
        })?),
        Err(_) => None,
    };
    Ok(tokio::task::spawn_blocking(move || {
        let _turn = turn;
        span.in_scope(work)
    })
    .await??)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "gridpatrol", description = "Grid supervision for market regulators: grids, risk classes, patrol plans, visits."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Request ids: a counter per process, carried in `x-request-id` and in every log line.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl MakeRequestId for Counter {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{n:08x}").parse().ok().map(RequestId::new)
    }
}

/// The API routes and their OpenAPI document.
pub fn api(limits: &Limits) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(summary))
        .merge(auth::router())
        .merge(register::router())
        .merge(grids::router())
        .merge(work::router())
        .merge(work::photo_router().layer(DefaultBodyLimit::max(limits.photo_bytes)))
        .split_for_parts()
}

/// The whole service with the default limits.
pub fn router(app: AppState) -> Router {
    router_with(app, &Limits::default())
}

/// The whole service: the API, `/openapi.json`, the index, and the layers every request
/// passes (request id, tracing, timeout, compression, body limit, and turns for store work:
/// `[limits] db_workers` requests at once, the rest queue).
pub fn router_with(app: AppState, limits: &Limits) -> Router {
    let turns = Arc::new(Semaphore::new(limits.db_workers.max(1)));
    let (api, openapi) = api(limits);
    let openapi = Arc::new(openapi);
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/", get(index))
        .route("/map/{region}", get(pages::public_map))
        .route(
            "/login",
            get(officer_pages::login_form).post(officer_pages::login),
        )
        .route("/logout", axum::routing::post(officer_pages::logout))
        .route("/officer", get(officer_pages::due_page))
        .route("/head", get(manager_pages::head_home))
        .route("/manager", get(manager_pages::manager_home))
        .route("/manager/{region}", get(manager_pages::manager_page))
        .route("/head/plan/{region}/{version}", get(head_pages::plan_page))
        .route(
            "/head/plan/{region}/{version}/move",
            axum::routing::post(head_pages::move_unit),
        )
        .route(
            "/head/plan/{region}/{version}/approve",
            axum::routing::post(head_pages::approve),
        )
        .route("/officer/business/{id}", get(officer_pages::business_page))
        .route(
            "/officer/business/{id}/visit",
            axum::routing::post(officer_pages::record_visit)
                .layer(DefaultBodyLimit::max(limits.photo_bytes)),
        )
        .route(
            "/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .merge(api)
        .fallback(|| async { ApiError::not_found("no such route") })
        .with_state(app)
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(limits.request_timeout_secs.max(1)),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", id = %id, method = %request.method(), uri = %request.uri().path())
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, Counter::default()))
        .layer(axum::middleware::from_fn(move |request: Request, next: axum::middleware::Next| {
            TURNS.scope(turns.clone(), next.run(request))
        }))
}

/// Where to start: a browser goes to the public map of the first region; a program gets
/// what the service is and where its document is.
async fn index(State(app): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let wants_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        let first = blocking(move || Ok(app.open_store()?.read().region_codes()?)).await;
        let to = match first.as_deref().map(<[String]>::first) {
            Ok(Some(code)) => format!("/map/{}", pages::url_escape(code)),
            _ => "/login".to_owned(),
        };
        return Redirect::to(&to).into_response();
    }
    Json(json!({
        "service": "gridpatrol",
        "openapi": "/openapi.json",
        "public map": "/map/{region}",
        "pages": ["/officer", "/head", "/manager", "/login"],
        "health": "/healthz",
        "sign in": "POST /api/login {\"username\", \"password\"}",
    }))
    .into_response()
}

/// Liveness and the schema version.
#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, description = "up")))]
async fn healthz(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (written, commits) = app.connections.write_stats();
    let due_lists = app.views.due_lists_computed();
    let version = blocking(move || Ok(app.open_store()?.schema_version()?)).await?;
    Ok(Json(json!({
        "status": "ok",
        "schema_version": version,
        "job_running": crate::jobs::running(),
        // Writes committed since start and the commits that carried them (group commit).
        "writes": { "committed": written, "commits": commits },
        // Officers' due lists computed from the store since start (the rest were sent as kept).
        "due_lists": { "computed": due_lists },
    })))
}

/// Per region: units, businesses, unlocated ones, classes.
#[utoipa::path(get, path = "/api/summary", tag = "service", security(("bearer" = [])),
    responses((status = 200, description = "summary")))]
async fn summary(State(app): State<AppState>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let today = app.clock.today();
    let summary = blocking(move || {
        app.require(&auth.caller, crate::domain::access::Action::Read)?;
        Ok(app.open_store()?.read().summary(today)?)
    })
    .await?;
    Ok(Json(json!({ "as_of": today, "regions": summary.regions })))
}
