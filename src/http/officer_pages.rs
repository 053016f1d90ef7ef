//! The officer's pages, phone-sized and rendered on the server: sign in, today's and this
//! week's due list in route order, a business's card with the reasons for its class, and
//! the 12-item inspection form with photo upload. Plain HTML forms, no script; the session
//! is an `HttpOnly`, `SameSite=Strict` cookie.

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Auth, COOKIE, page_token};
use super::i18n::{Lang, t};
use super::{ApiError, AppState, blocking};
use crate::app::EntityDetail;
use crate::app::plan::DueList;
use crate::domain::inspection::CHECKLIST;

fn page(lang: Lang, title: &str, body: Markup) -> Markup {
    super::pages::document(lang, title, body, "40rem")
}

#[derive(Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The sign-in form.
pub async fn login_form(Query(q): Query<LangQuery>) -> Markup {
    let lang = Lang::from_query(q.lang.as_deref());
    login_page(lang, false)
}

fn login_page(lang: Lang, failed: bool) -> Markup {
    let body = html! {
        h1 { (t(lang, "sign_in")) }
        @if failed {
            p class="late" { (t(lang, "wrong_login")) }
        }
        form method="post" action="/login" {
            input type="hidden" name="lang" value=(if lang == Lang::En { "en" } else { "zh" });
            p { label {
                (t(lang, "username")) " "
                input name="username" autocomplete="username" required;
            } }
            p { label {
                (t(lang, "password")) " "
                input name="password" type="password" autocomplete="current-password" required;
            } }
            p { button { (t(lang, "sign_in")) } }
        }
    };
    page(lang, t(lang, "sign_in"), body)
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
    page(
        lang,
        t(lang, "today"),
        due_body(lang, days, &q, today, &list),
    )
    .into_response()
}

/// The due list: the day or week it covers, the visit just recorded, the route's length,
/// and each task with its business, class and deadline.
fn due_body(
    lang: Lang,
    days: u32,
    q: &DueQuery,
    today: chrono::NaiveDate,
    list: &DueList,
) -> Markup {
    let l = if lang == Lang::En { "en" } else { "zh" };
    html! {
        form method="post" action="/logout" style="float:right" { button { (t(lang, "sign_out")) } }
        h1 { (t(lang, if days == 1 { "today" } else { "week" })) }
        p {
            a href={ "/officer?days=1&lang=" (l) } { (t(lang, "today")) } " · "
            a href={ "/officer?days=7&lang=" (l) } { (t(lang, "week")) }
        }
        @if let Some(id) = q.recorded {
            @let entry = if q.same_day == Some(true) { "same_day" } else { "late_entry" };
            p role="status" { (t(lang, "recorded")) " #" (id) " · " (t(lang, entry)) }
        }
        @if let Some(m) = list.route_m {
            p { (t(lang, "route")) ": " (format_args!("{:.1}", m / 1000.0)) " km" }
        }
        ol id="due" {
            @for task in &list.tasks {
                @let late = task.due_by < today;
                li data-task=(task.id) class=[late.then_some("late")] {
                    a href={ "/officer/business/" (task.entity_id) "?lang=" (l) } { (task.name) }
                    br;
                    (t(lang, &task.kind)) " · " (t(lang, "class")) " "
                    (task.class.as_deref().unwrap_or("?")) " · " (t(lang, "due_by")) " " (task.due_by)
                    @if late { " · " (t(lang, "overdue")) }
                    br;
                    small { (task.address) }
                }
            }
        }
    }
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
    let form = records.then(|| {
        let key: String = {
            use rand::RngExt;
            let mut bytes = [0u8; 12];
            rand::rng().fill(&mut bytes);
            crate::app::service::hex(&bytes)
        };
        visit_form(&b.id.to_string(), &key, now, &partners, lang)
    });
    let body = html! {
        (business_card(&detail, records, lang))
        @if let Some(form) = form { (form) }
    };
    page(lang, &b.name, body).into_response()
}

/// A business's name, address, class and the reasons for it; back to the reader's list.
fn business_card(detail: &EntityDetail, records: bool, lang: Lang) -> Markup {
    let b = &detail.view.business;
    let l = if lang == Lang::En { "en" } else { "zh" };
    let home = if records { "officer" } else { "manager" };
    html! {
        p { a href={ "/" (home) "?lang=" (l) } { "←" } }
        h1 { (b.name) }
        p { (b.address) }
        p {
            (t(lang, "class")) ": "
            strong { (detail.effective_class.map_or_else(|| "?".to_owned(), |c| c.to_string())) }
        }
        h2 { (t(lang, "reasons")) }
        ul {
            @for r in &detail.live.reasons {
                li { (crate::domain::risk::reasons_text(std::slice::from_ref(r))) }
            }
        }
    }
}

/// The inspection form: when and with whom, the twelve checklist items, the outcome, photos.
/// `key` makes a double tap record once.
fn visit_form(
    id: &str,
    key: &str,
    now: chrono::NaiveDateTime,
    partners: &[String],
    lang: Lang,
) -> Markup {
    let l = if lang == Lang::En { "en" } else { "zh" };
    html! {
        h2 { (t(lang, "record_visit")) }
        form method="post" enctype="multipart/form-data" action={ "/officer/business/" (id) "/visit?lang=" (l) } {
            input type="hidden" name="key" value=(key);
            p { label {
                (t(lang, "visited_at")) " "
                input type="datetime-local" name="visited_at" value=(now.format("%Y-%m-%dT%H:%M")) required;
            } }
            p { label {
                (t(lang, "partner")) " "
                select name="partner" required {
                    @for p in partners { option { (p) } }
                }
            } }
            @for (n, item) in CHECKLIST.iter().enumerate() {
                (checklist_item(n + 1, item, lang))
            }
            (outcome(lang))
            p { label {
                (t(lang, "photos")) " "
                input type="file" name="photo" accept="image/jpeg,image/png,image/webp" multiple;
            } }
            p { button { (t(lang, "save")) } }
        }
    }
}

/// One checklist item: pass (the default), fail or not applicable, and a note.
fn checklist_item(n: usize, item: &str, lang: Lang) -> Markup {
    html! {
        fieldset {
            legend { (n) ". " (t(lang, item)) }
            @for (value, checked) in [("pass", true), ("fail", false), ("not_applicable", false)] {
                label {
                    input type="radio" name={ "item_" (item) } value=(value) checked[checked];
                    " " (t(lang, value))
                }
            }
            input name={ "note_" (item) } placeholder=(t(lang, "note"));
        }
    }
}

/// A choice of `values` named `name`, "none" first.
fn choice(name: &str, values: &[&str], lang: Lang) -> Markup {
    html! {
        select name=(name) {
            option value="" { (t(lang, "none")) }
            @for v in values { option value=(v) { (t(lang, v)) } }
        }
    }
}

/// What came of the visit: a finding, its rectification, a warning.
fn outcome(lang: Lang) -> Markup {
    html! {
        fieldset {
            legend { (t(lang, "finding")) }
            label { (t(lang, "severity")) " " (choice("finding_severity", &["minor", "general", "serious"], lang)) }
            textarea name="finding_note" {}
        }
        fieldset {
            legend { (t(lang, "rectification")) }
            (choice("rectification", &["on_the_spot", "notice"], lang))
            label { (t(lang, "deadline")) " " input type="date" name="deadline"; }
        }
        fieldset {
            legend { (t(lang, "warning")) }
            (choice("warning", &["issued", "lifted"], lang))
        }
    }
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
