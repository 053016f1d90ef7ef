//! The HTTP service: the only axum importer. Handlers parse, call the app, and shape JSON.
//! Every API route is declared once with its OpenAPI description (utoipa), so the document
//! at `/openapi.json` cannot leave a route out.

mod audit;
mod auth;
mod businesses;
mod campaigns;
mod error;
mod grids;
mod head_pages;
mod i18n;
mod manager_pages;
mod officer_pages;
mod pages;
mod reports;
mod tasks;
mod visits;

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
use tracing::Instrument;
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

/// The API routes and their OpenAPI document.
pub fn api(limits: &Limits) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(summary))
        .merge(auth::router())
        .merge(businesses::router())
        .merge(grids::router())
        .merge(tasks::router())
        .merge(visits::router())
        .merge(campaigns::router())
        .merge(audit::router())
        .merge(reports::router())
        .merge(visits::photo_router().layer(DefaultBodyLimit::max(limits.photo_bytes)))
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
    let (api, openapi) = api(limits);
    let openapi = Arc::new(openapi);
    let routes = Router::new()
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
        .layer(DefaultBodyLimit::max(limits.body_bytes));
    passing(routes, limits)
}

/// The layers around every route: compression, then [`observe`].
fn passing(routes: Router, limits: &Limits) -> Router {
    let passage = Arc::new(Passage {
        turns: Arc::new(Semaphore::new(limits.db_workers.max(1))),
        requests: AtomicU64::new(0),
        timeout: Duration::from_secs(limits.request_timeout_secs.max(1)),
    });
    routes
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(
            move |request: Request, next: axum::middleware::Next| {
                observe(Arc::clone(&passage), request, next)
            },
        ))
}

/// What every request passes through in [`observe`].
struct Passage {
    /// Turns for store work: `[limits] db_workers` at once.
    turns: Arc<Semaphore>,
    /// The last request id given.
    requests: AtomicU64,
    timeout: Duration,
}

/// Every request's passage, in one layer: its id (the client's `x-request-id`, else the
/// next of a counter per process) on the request, in its tracing span and on the response;
/// its turns for store work; its timeout (408, problem+json); and a log line when it is
/// answered (a 5xx at error, the rest at debug) with the time it took. One layer in place
/// of four (tower-http's request id, propagation, trace and timeout): a request answered
/// from memory spent more time in them than in its handler. The timer is armed only if the
/// request does not finish at its first poll.
async fn observe(
    passage: Arc<Passage>,
    mut request: Request,
    next: axum::middleware::Next,
) -> Response {
    let header = axum::http::HeaderName::from_static("x-request-id");
    let id = match request.headers().get(&header) {
        Some(id) => id.clone(),
        None => {
            let n = passage.requests.fetch_add(1, Ordering::Relaxed) + 1;
            let id = axum::http::HeaderValue::from_str(&format!("{n:08x}"))
                .unwrap_or_else(|_| axum::http::HeaderValue::from_static("-"));
            request.headers_mut().insert(header.clone(), id.clone());
            id
        }
    };
    let span = tracing::info_span!(
        "request",
        id = %id.to_str().unwrap_or("-"),
        method = %request.method(),
        uri = %request.uri().path(),
    );
    let started = std::time::Instant::now();
    let run = TURNS.scope(Arc::clone(&passage.turns), next.run(request));
    let answered = tokio::time::timeout(passage.timeout, run)
        .instrument(span.clone())
        .await;
    let mut response = answered.unwrap_or_else(|_| {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request took longer than {} s and was given up",
                passage.timeout.as_secs()
            ),
        )
        .into_response()
    });
    response.headers_mut().insert(header, id);
    let (status, ms) = (
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1e3,
    );
    if response.status().is_server_error() {
        tracing::error!(parent: &span, status, latency_ms = ms, "response failed");
    } else {
        tracing::debug!(parent: &span, status, latency_ms = ms, "answered");
    }
    response
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
    let summary = blocking(move || app.summary(&auth.caller)).await?;
    Ok(Json(json!({ "as_of": today, "regions": summary.regions })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every answer carries a request id (the client's own, else a new one each time); a
    /// request running past `[limits] request_timeout_secs` is given up with a 408 that
    /// says so, as problem+json; a server error is answered opaque. A real server on port 0.
    #[tokio::test]
    async fn every_request_has_an_id_and_a_timeout() {
        let limits = Limits {
            request_timeout_secs: 1,
            ..Limits::default()
        };
        let routes = Router::new()
            .route("/fast", get(|| async { "ok" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route(
                "/broken",
                get(|| async { ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "x") }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(axum::serve(listener, passing(routes, &limits)).into_future());
        let client = reqwest::Client::new();
        let get = |path: &str, id: Option<&str>| {
            let mut request = client.get(format!("http://{addr}{path}"));
            if let Some(id) = id {
                request = request.header("x-request-id", id);
            }
            request.send()
        };
        let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
        let (first, second) = (
            get("/fast", None).await.unwrap(),
            get("/fast", None).await.unwrap(),
        );
        assert_eq!(first.status(), 200);
        assert_ne!(id(&first), id(&second), "a new id each time");
        let own = get("/fast", Some("client-7")).await.unwrap();
        assert_eq!(id(&own), "client-7", "the client's id is kept");

        let started = std::time::Instant::now();
        let slow = get("/slow", Some("slow-1")).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "given up at the timeout"
        );
        assert_eq!(slow.status(), 408);
        assert_eq!(id(&slow), "slow-1");
        assert_eq!(slow.headers()["content-type"], "application/problem+json");
        let body: Value = slow.json().await.unwrap();
        assert!(
            body["detail"].as_str().unwrap().contains("longer than 1 s"),
            "{body}"
        );
        let broken = get("/broken", None).await.unwrap();
        assert_eq!(broken.status(), 500);
        assert!(broken.headers().contains_key("x-request-id"));
        server.abort();
    }
}
