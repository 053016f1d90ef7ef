//! One way to record a visit: the officer page's form and `POST /api/inspections` go
//! through the same use case and the same queued writer, with the same checks and answer.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridpatrol::domain::inspection::CHECKLIST;
use serde_json::Value;

use crate::http::Service;

/// The inspection form as the officer's page sends it (multipart), every item passed.
pub(crate) fn form(key: &str, visited_at: &str, partner: &str) -> (String, String) {
    let boundary = "FORMBOUNDARY";
    let mut form = String::new();
    let mut field = |name: &str, value: &str| {
        form.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    };
    field("key", key);
    field("visited_at", visited_at);
    field("partner", partner);
    for item in CHECKLIST {
        field(&format!("item_{item}"), "pass");
        field(&format!("note_{item}"), "");
    }
    for name in [
        "finding_severity",
        "finding_note",
        "rectification",
        "deadline",
        "warning",
    ] {
        field(name, "");
    }
    form.push_str(&format!("--{boundary}--\r\n"));
    (form, format!("multipart/form-data; boundary={boundary}"))
}

async fn post_form(
    s: &Service,
    entity: &str,
    key: &str,
    visited_at: &str,
) -> (StatusCode, Option<String>, Value) {
    let (body, content_type) = form(key, visited_at, &s.partner);
    let request = Request::builder()
        .method("POST")
        .uri(format!("/officer/business/{entity}/visit"))
        .header("authorization", format!("Bearer {}", s.tokens["officer"]))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let (status, headers, bytes) = s.send(request).await;
    let location = headers
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (
        status,
        location,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The service's count of writes committed by the writing thread.
async fn committed(s: &Service) -> u64 {
    let (_, health) = s.call(None, "GET", "/healthz", None).await;
    health["writes"]["committed"].as_u64().unwrap()
}

#[tokio::test]
async fn the_form_and_the_api_record_a_visit_the_same_way() {
    let s = Service::new();
    // The same bad visit (dated after now) through both: the same refusal, word for word.
    let (form_status, _, form_answer) = post_form(&s, &s.own, "k1", "2027-01-25T10:00").await;
    let (api_status, api_answer) = s
        .call(
            Some("officer"),
            "POST",
            "/api/inspections",
            Some(s.visit(&s.own, "2027-01-25T10:00:00")),
        )
        .await;
    assert_eq!(form_status, api_status, "{form_answer} vs {api_answer}");
    assert!(api_status.is_client_error(), "{api_answer}");
    assert_eq!(form_answer["detail"], api_answer["detail"]);
    // A business outside the officer's grids: the same refusal too.
    let (form_status, _, form_answer) = post_form(&s, &s.other, "k2", "2027-01-20T09:00").await;
    let (api_status, api_answer) = s
        .call(
            Some("officer"),
            "POST",
            "/api/inspections",
            Some(s.visit(&s.other, "2027-01-20T09:00:00")),
        )
        .await;
    assert_eq!(form_status, StatusCode::FORBIDDEN);
    assert_eq!(form_status, api_status);
    assert_eq!(form_answer["detail"], api_answer["detail"]);

    // A good form: recorded through the writing thread (one write committed there), and
    // answered with the report the API would give (its inspection, the same day).
    let before = committed(&s).await;
    let (status, location, _) = post_form(&s, &s.own, "k3", "2027-01-20T10:15").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    assert_eq!(
        committed(&s).await,
        before + 1,
        "the form's visit went through the queue"
    );
    let inspection: i64 = location
        .split("recorded=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(location.ends_with("same_day=true"), "{location}");
    let (_, audit) = s.call(Some("admin"), "GET", "/api/audit", None).await;
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "visit recorded")
        .unwrap();
    assert_eq!(entry["detail"]["after"]["inspection_id"], inspection);
    assert_eq!(entry["detail"]["after"]["entity_id"], s.own.as_str());
    assert_eq!(entry["detail"]["after"]["same_day"], true);

    // The same form again (same key): the same answer, nothing written.
    let (_, again, _) = post_form(&s, &s.own, "k3", "2027-01-20T10:15").await;
    assert_eq!(again.as_deref(), Some(location.as_str()));
    let (_, audit_after) = s.call(Some("admin"), "GET", "/api/audit", None).await;
    let visits = |a: &Value| {
        a["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "visit recorded")
            .count()
    };
    assert_eq!(
        visits(&audit_after),
        visits(&audit),
        "the resubmitted form wrote nothing"
    );
    let (status, stored) = s
        .call(
            Some("officer"),
            "GET",
            &format!("/api/inspections/{inspection}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
}
