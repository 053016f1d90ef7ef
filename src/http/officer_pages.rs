//! The officer's pages, phone-sized and rendered on the server: sign in, today's and this
//! week's due list in route order, a business's card with the reasons for its class, and
//! the 12-item inspection form with photo upload. Plain HTML forms, no script; the session
//! is an `HttpOnly`, `SameSite=Strict` cookie.

use std::fmt::Write as _;

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::auth::{Auth, COOKIE, page_token};
use super::i18n::{Lang, escape, t};
use super::{ApiError, AppState, blocking};
use crate::domain::inspection::CHECKLIST;

fn page(lang: Lang, title: &str, body: &str) -> Html<String> {
    super::pages::document(lang, title, body, "40rem")
}

#[derive(Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The sign-in form.
pub async fn login_form(Query(q): Query<LangQuery>) -> Html<String> {
    let lang = Lang::from_query(q.lang.as_deref());
    login_page(lang, false)
}

fn login_page(lang: Lang, failed: bool) -> Html<String> {
    let error = if failed {
        format!("<p class=\"late\">{}</p>", t(lang, "wrong_login"))
    } else {
        String::new()
    };
    page(
        lang,
        t(lang, "sign_in"),
        &format!(
            "<h1>{title}</h1>{error}<form method=\"post\" action=\"/login\">\
             <input type=\"hidden\" name=\"lang\" value=\"{code}\">\
             <p><label>{user} <input name=\"username\" autocomplete=\"username\" required></label></p>\
             <p><label>{pass} <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
             <p><button>{title}</button></p></form>",
            title = t(lang, "sign_in"),
            user = t(lang, "username"),
            pass = t(lang, "password"),
            code = if lang == Lang::En { "en" } else { "zh" },
        ),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    lang: Option<String>,
}

/// Signs in from the form: the token goes into the session cookie.
pub async fn login(State(app): State<AppState>, Form(f): Form<LoginForm>) -> Response {
    let lang = Lang::from_query(f.lang.as_deref());
    let signed = blocking(move || app.login(&f.username, &f.password)).await;
    match signed {
        Ok(login) => {
            let home = match login.user.role.as_str() {
                "officer" => "/officer",
                "bureau_head" => "/head",
                _ => "/manager",
            };
            let to = format!("{home}?lang={}", if lang == Lang::En { "en" } else { "zh" });
            let mut response = Redirect::to(&to).into_response();
            if let Ok(cookie) = HeaderValue::from_str(&format!(
                "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                login.token
            )) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(_) => (StatusCode::UNAUTHORIZED, login_page(lang, true)).into_response(),
    }
}

/// Signs out: the token is revoked and the cookie cleared.
pub async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = page_token(&headers).map(str::to_owned) {
        let app2 = app.clone();
        let t2 = token.clone();
        if let Ok(caller) = blocking(move || app2.caller(&t2)).await {
            let _ = blocking(move || app.logout(&token, &caller)).await;
        }
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("gp_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

#[derive(Deserialize)]
pub struct DueQuery {
    lang: Option<String>,
    days: Option<u32>,
    recorded: Option<i64>,
    same_day: Option<bool>,
}

/// An officer without a session goes to the sign-in page.
pub(super) fn to_login(e: ApiError) -> Response {
    if e.status == StatusCode::UNAUTHORIZED {
        Redirect::to("/login").into_response()
    } else {
        e.into_response()
    }
}

/// Today's (or this week's) due list in route order, starting from the most urgent stop.
pub async fn due_page(
    State(app): State<AppState>,
    auth: Result<Auth, ApiError>,
    Query(q): Query<DueQuery>,
) -> Response {
    let auth = match auth {
        Ok(a) => a,
        Err(e) => return to_login(e),
    };
    let lang = Lang::from_query(q.lang.as_deref());
    let Some(officer) = auth.caller.officer_id.clone() else {
        return ApiError::new(StatusCode::FORBIDDEN, "this page is an officer's").into_response();
    };
    let days = q.days.unwrap_or(1).clamp(1, 7);
    let caller = auth.caller;
    let list = blocking(move || {
        let today = app.clock.today();
        let ordered = app.due_list(&caller, &officer, today, days, None)?;
        let start = ordered.tasks.iter().find_map(|t| t.location);
        let routed = app.due_list(&caller, &officer, today, days, start)?;
        Ok((today, routed))
    })
    .await;
    let (today, list) = match list {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let l = if lang == Lang::En { "en" } else { "zh" };
    let mut body = format!(
        "<form method=\"post\" action=\"/logout\" style=\"float:right\"><button>{}</button></form>\
         <h1>{}</h1><p><a href=\"/officer?days=1&lang={l}\">{}</a> · <a href=\"/officer?days=7&lang={l}\">{}</a></p>",
        t(lang, "sign_out"),
        t(lang, if days == 1 { "today" } else { "week" }),
        t(lang, "today"),
        t(lang, "week"),
    );
    if let Some(id) = q.recorded {
        let entry = if q.same_day == Some(true) {
            "same_day"
        } else {
            "late_entry"
        };
        let _ = write!(
            body,
            "<p role=\"status\">{} #{id} · {}</p>",
            t(lang, "recorded"),
            t(lang, entry)
        );
    }
    if let Some(m) = list.route_m {
        let _ = write!(body, "<p>{}: {:.1} km</p>", t(lang, "route"), m / 1000.0);
    }
    body.push_str("<ol id=\"due\">");
    for task in &list.tasks {
        let late = task.due_by < today;
        let _ = write!(
            body,
            "<li data-task=\"{id}\"{cls}><a href=\"/officer/business/{entity}?lang={l}\">{name}</a><br>\
             {kind} · {class} {c} · {due} {by}{overdue}<br><small>{address}</small></li>",
            id = task.id,
            cls = if late { " class=\"late\"" } else { "" },
            entity = escape(&task.entity_id),
            name = escape(&task.name),
            kind = t(lang, &task.kind),
            class = t(lang, "class"),
            c = escape(task.class.as_deref().unwrap_or("?")),
            due = t(lang, "due_by"),
            by = task.due_by,
            overdue = if late {
                format!(" · {}", t(lang, "overdue"))
            } else {
                String::new()
            },
            address = escape(&task.address),
        );
    }
    body.push_str("</ol>");
    page(lang, t(lang, "today"), &body).into_response()
}

/// A business's card: class and its reasons, then the inspection form.
pub async fn business_page(
    State(app): State<AppState>,
    auth: Result<Auth, ApiError>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let auth = match auth {
        Ok(a) => a,
        Err(e) => return to_login(e),
    };
    let lang = Lang::from_query(q.lang.as_deref());
    // Readers who record nothing (a manager drilling down) see the card without the form.
    let records = auth.caller.officer_id.is_some()
        && crate::domain::access::allowed(auth.caller.role, crate::domain::access::Action::Record);
    let found = blocking(move || {
        app.require_entity(&auth.caller, &id, crate::domain::access::Action::Read)?;
        let entity = crate::domain::entity::EntityId::parse(&id)
            .map_err(|e| crate::app::AppError::Invalid(format!("id: {e}")))?;
        let detail = app.entity(&entity)?;
        let me = auth.caller.officer_id.clone().unwrap_or_default();
        let tasks = app.tasks_for_entity(&auth.caller, &id)?;
        // Whoever shares the business's tasks with the caller (lead or partner).
        let mut partners: Vec<String> = tasks
            .iter()
            .flat_map(|t| [t.officer_id.clone(), t.partner_id.clone()])
            .flatten()
            .filter(|p| *p != me)
            .collect();
        partners.sort();
        partners.dedup();
        let now = app.clock.now_local();
        Ok((detail, partners, now))
    })
    .await;
    let (detail, partners, now) = match found {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let b = &detail.view.business;
    let l = if lang == Lang::En { "en" } else { "zh" };
    let mut body = format!(
        "<p><a href=\"/{home}?lang={l}\">←</a></p><h1>{}</h1><p>{}</p><p>{}: <strong>{}</strong></p><h2>{}</h2><ul>",
        escape(&b.name),
        escape(&b.address),
        t(lang, "class"),
        detail
            .effective_class
            .map_or_else(|| "?".to_owned(), |c| c.to_string()),
        t(lang, "reasons"),
        home = if records { "officer" } else { "manager" },
    );
    for r in &detail.live.reasons {
        let _ = write!(
            body,
            "<li>{}</li>",
            escape(&crate::domain::risk::reasons_text(std::slice::from_ref(r)))
        );
    }
    body.push_str("</ul>");
    if !records {
        return page(lang, &b.name, &body).into_response();
    }
    let key: String = {
        use rand::RngExt;
        let mut bytes = [0u8; 12];
        rand::rng().fill(&mut bytes);
        crate::app::service::hex(&bytes)
    };
    let _ = write!(
        body,
        "<h2>{title}</h2><form method=\"post\" enctype=\"multipart/form-data\" action=\"/officer/business/{id}/visit?lang={l}\">\
         <input type=\"hidden\" name=\"key\" value=\"{key}\">\
         <p><label>{at} <input type=\"datetime-local\" name=\"visited_at\" value=\"{now}\" required></label></p>\
         <p><label>{partner} <select name=\"partner\" required>",
        title = t(lang, "record_visit"),
        id = escape(&b.id.to_string()),
        at = t(lang, "visited_at"),
        now = now.format("%Y-%m-%dT%H:%M"),
        partner = t(lang, "partner"),
    );
    for p in &partners {
        let _ = write!(body, "<option>{}</option>", escape(p));
    }
    body.push_str("</select></label></p>");
    for (n, item) in CHECKLIST.iter().enumerate() {
        let _ = write!(
            body,
            "<fieldset><legend>{n}. {label}</legend>",
            n = n + 1,
            label = t(lang, item)
        );
        for (value, checked) in [("pass", true), ("fail", false), ("not_applicable", false)] {
            let _ = write!(
                body,
                "<label><input type=\"radio\" name=\"item_{item}\" value=\"{value}\"{c}> {text}</label>",
                c = if checked { " checked" } else { "" },
                text = t(lang, value),
            );
        }
        let _ = write!(
            body,
            "<input name=\"note_{item}\" placeholder=\"{}\"></fieldset>",
            t(lang, "note")
        );
    }
    let _ = write!(
        body,
        "<fieldset><legend>{finding}</legend><label>{severity} <select name=\"finding_severity\">\
         <option value=\"\">{none}</option><option value=\"minor\">{minor}</option><option value=\"general\">{general}</option>\
         <option value=\"serious\">{serious}</option></select></label><textarea name=\"finding_note\"></textarea></fieldset>\
         <fieldset><legend>{rect}</legend><select name=\"rectification\"><option value=\"\">{none}</option>\
         <option value=\"on_the_spot\">{spot}</option><option value=\"notice\">{notice}</option></select>\
         <label>{deadline} <input type=\"date\" name=\"deadline\"></label></fieldset>\
         <fieldset><legend>{warning}</legend><select name=\"warning\"><option value=\"\">{none}</option>\
         <option value=\"issued\">{issued}</option><option value=\"lifted\">{lifted}</option></select></fieldset>\
         <p><label>{photos} <input type=\"file\" name=\"photo\" accept=\"image/jpeg,image/png,image/webp\" multiple></label></p>\
         <p><button>{save}</button></p></form>",
        finding = t(lang, "finding"),
        severity = t(lang, "severity"),
        none = t(lang, "none"),
        minor = t(lang, "minor"),
        general = t(lang, "general"),
        serious = t(lang, "serious"),
        rect = t(lang, "rectification"),
        spot = t(lang, "on_the_spot"),
        notice = t(lang, "notice"),
        deadline = t(lang, "deadline"),
        warning = t(lang, "warning"),
        issued = t(lang, "issued"),
        lifted = t(lang, "lifted"),
        photos = t(lang, "photos"),
        save = t(lang, "save"),
    );
    page(lang, &b.name, &body).into_response()
}

/// Records the visit the form describes (photos first, then the visit, one idempotency key
/// per form so a double tap records once), then back to the due list.
pub async fn record_visit(
    State(app): State<AppState>,
    auth: Result<Auth, ApiError>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let auth = match auth {
        Ok(a) => a,
        Err(e) => return to_login(e),
    };
    match super::visits::record_form_visit(app, auth, id, multipart).await {
        Ok(recorded) => Redirect::to(&format!(
            "/officer?lang={}&recorded={}&same_day={}",
            q.lang.as_deref().unwrap_or("zh"),
            recorded.report.inspection_id,
            recorded.report.same_day
        ))
        .into_response(),
        Err(e) => e.into_response(),
    }
}
