//! The service: every route for every role, recording a visit in full, hostile input, the
//! audit log, and a real server on port 0.

use std::collections::{BTreeSet, HashMap};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gridpatrol::domain::access::UserRole;
use gridpatrol::domain::inspection::CHECKLIST;
use gridpatrol::http::router;
use gridpatrol::store::{BusinessSearch, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{TestApp, TinyRegion, date};

/// A planned region with an account per role: the officer holds grid G01's A-post, the
/// second officer another grid's.
pub struct Service {
    pub t: TestApp,
    _region: TinyRegion,
    pub region: String,
    pub tokens: HashMap<&'static str, String>,
    /// The officer's id, a business in their grid, one outside it.
    pub officer: String,
    pub partner: String,
    pub second: String,
    pub own: String,
    pub other: String,
}

pub const PASSWORD: &str = "correct horse battery";

impl Service {
    pub fn new() -> Self {
        let t = TestApp::new("2027-01-20");
        let region = TinyRegion::jiangan(400, 5, "2026-12-31", Some(24));
        let (code, version) = region.plan_and_staff(&t.app, 6, "2027-01-01", "2027-12-31");
        t.app
            .replan(&crate::support::test_caller(), &code, date("2027-01-20"))
            .unwrap();
        let store = Store::open(&t.app.db_path).unwrap();
        let a = store.read().open_posts(&code, version, "A").unwrap();
        let b = store.read().open_posts(&code, version, "B").unwrap();
        let officer = a["G01"].clone();
        let partner = b["G01"].clone();
        // The second officer holds no post in the first officer's grids, and the other way.
        let held = |o: &str| -> BTreeSet<String> {
            store
                .read()
                .officer_grids(o)
                .unwrap()
                .into_iter()
                .map(|(_, g)| g)
                .collect()
        };
        let mine = held(&officer);
        let (second, theirs) = a
            .values()
            .map(|o| (o.clone(), held(o)))
            .find(|(o, g)| *o != officer && *o != partner && g.is_disjoint(&mine))
            .expect("an officer with no post in G01's group");
        let in_grid = |g: &str| {
            store
                .read()
                .search_businesses(
                    &BusinessSearch {
                        grid: Some(g.into()),
                        limit: 1,
                        ..BusinessSearch::default()
                    },
                    date("2027-01-20"),
                )
                .unwrap()[0]
                .id
                .clone()
        };
        let other_grid = theirs.iter().next().unwrap().clone();
        let (own, other) = (in_grid("G01"), in_grid(&other_grid));
        let accounts = [
            ("admin", UserRole::Admin, None),
            ("head", UserRole::BureauHead, None),
            ("manager", UserRole::Manager, None),
            ("officer", UserRole::Officer, Some(officer.as_str())),
            ("officer2", UserRole::Officer, Some(second.as_str())),
        ];
        for (name, role, o) in accounts {
            t.app.add_user(name, PASSWORD, role, o, "test").unwrap();
        }
        let tokens = accounts
            .iter()
            .map(|(name, _, _)| (*name, t.app.login(name, PASSWORD).unwrap().token))
            .collect();
        Service {
            t,
            _region: region,
            region: code,
            tokens,
            officer,
            partner,
            second,
            own,
            other,
        }
    }

    pub async fn call(
        &self,
        who: Option<&str>,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.raw(who, method, uri, body.map(|b| b.to_string()), &[])
            .await
    }

    /// A request through the service: status, headers, body.
    pub async fn send(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = router(self.t.arc()).oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        (status, headers, bytes.to_vec())
    }

    /// A page as `who` sees it: status, where it redirects, the HTML.
    pub async fn page(&self, who: Option<&str>, uri: &str) -> (StatusCode, Option<String>, String) {
        let mut request = Request::builder().uri(uri);
        if let Some(who) = who {
            request = request.header("authorization", format!("Bearer {}", self.tokens[who]));
        }
        let (status, headers, bytes) = self.send(request.body(Body::empty()).unwrap()).await;
        let location = headers
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (
            status,
            location,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    pub async fn raw(
        &self,
        who: Option<&str>,
        method: &str,
        uri: &str,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(who) = who {
            request = request.header("authorization", format!("Bearer {}", self.tokens[who]));
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request
            .body(body.map_or_else(Body::empty, Body::from))
            .unwrap();
        let (status, _, bytes) = self.send(request).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Drafts a plan of `grids` grids through the API as the bureau head; its version.
    pub async fn draft(&self, grids: usize) -> i64 {
        let (status, draft) = self
            .call(
                Some("head"),
                "POST",
                &format!("/api/regions/{}/plans", self.region),
                Some(json!({ "grids": grids })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{draft}");
        draft["version"].as_i64().unwrap()
    }

    /// A plan's number of grids and the units of its first grid, through the API.
    pub async fn grids_and_first_units(&self, version: i64) -> (usize, Vec<String>) {
        let uri = format!("/api/regions/{}/plans/{version}", self.region);
        let (_, grids) = self.call(Some("head"), "GET", &uri, None).await;
        let features = grids["features"].as_array().unwrap();
        let units = features[0]["properties"]["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_owned())
            .collect();
        (features.len(), units)
    }

    /// Every business of the register (a thousand at most), riskiest first.
    pub fn businesses(&self) -> Vec<gridpatrol::store::BusinessLine> {
        Store::open(&self.t.app.db_path)
            .unwrap()
            .read()
            .search_businesses(
                &BusinessSearch {
                    limit: 1000,
                    ..BusinessSearch::default()
                },
                date("2027-01-20"),
            )
            .unwrap()
    }

    pub fn dump(&self) -> Vec<String> {
        Store::open(&self.t.app.db_path).unwrap().dump().unwrap()
    }

    /// The officer records a visit to their own business on the test day; its report.
    pub async fn record_own_visit(&self) -> Value {
        let visit = self.visit(&self.own, "2027-01-20T09:30:00");
        let (status, recorded) = self
            .call(Some("officer"), "POST", "/api/inspections", Some(visit))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{recorded}");
        recorded
    }

    /// A clean visit by the officer and their partner to a business of their grid.
    pub fn visit(&self, entity: &str, at: &str) -> Value {
        json!({
            "entity_id": entity,
            "officers": [self.officer, self.partner],
            "visited_at": at,
            "checklist": CHECKLIST.iter().map(|i| json!({ "item": i, "result": "pass" })).collect::<Vec<_>>(),
        })
    }
}

const ROLES: [&str; 4] = ["admin", "head", "manager", "officer"];

/// A route to call: method, path template, concrete path, body, and the status expected
/// for an anonymous caller, admin, bureau head, manager and officer.
type Row = (&'static str, &'static str, String, Option<Value>, [u16; 5]);

/// Every route of the OpenAPI document, for anonymous callers and each role.
#[tokio::test]
async fn every_route_for_every_role() {
    let s = Service::new();
    let (r, own, other, o) = (&s.region, &s.own, &s.other, &s.officer);
    let o2 = s.second.clone();
    // Writes carry an invalid body: a role that may write gets 422 (validation), one that
    // may not gets 403 before the body is read, an anonymous caller 401.
    let bad = Some(json!({ "nonsense": true }));
    // (method, path template, concrete path, body, [anonymous, admin, head, manager, officer])
    let rows: Vec<Row> = vec![
        (
            "get",
            "/healthz",
            "/healthz".into(),
            None,
            [200, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/summary",
            "/api/summary".into(),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "post",
            "/api/login",
            "/api/login".into(),
            Some(json!({ "username": "nobody", "password": "x" })),
            [401, 401, 401, 401, 401],
        ),
        (
            "get",
            "/api/me",
            "/api/me".into(),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/users",
            "/api/users".into(),
            None,
            [401, 200, 403, 403, 403],
        ),
        (
            "post",
            "/api/users",
            "/api/users".into(),
            bad.clone(),
            [401, 422, 403, 403, 403],
        ),
        (
            "get",
            "/api/businesses",
            "/api/businesses".into(),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/businesses/{id}",
            format!("/api/businesses/{own}"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/businesses/{id}",
            format!("/api/businesses/{other}"),
            None,
            [401, 200, 200, 200, 403],
        ),
        (
            "get",
            "/api/businesses/{id}/tasks",
            format!("/api/businesses/{own}/tasks"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/businesses/{id}/tasks",
            format!("/api/businesses/{other}/tasks"),
            None,
            [401, 200, 200, 200, 403],
        ),
        (
            "post",
            "/api/businesses/{id}/events",
            format!("/api/businesses/{own}/events"),
            bad.clone(),
            [401, 422, 422, 403, 422],
        ),
        (
            "post",
            "/api/businesses/{id}/override",
            format!("/api/businesses/{own}/override"),
            bad.clone(),
            [401, 422, 422, 403, 403],
        ),
        (
            "delete",
            "/api/businesses/{id}/override",
            format!("/api/businesses/{own}/override"),
            None,
            [401, 404, 404, 403, 403],
        ),
        (
            "post",
            "/api/complaints",
            "/api/complaints".into(),
            bad.clone(),
            [401, 422, 422, 403, 422],
        ),
        (
            "get",
            "/api/regions",
            "/api/regions".into(),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/regions/{code}",
            format!("/api/regions/{r}"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/regions/{code}/units",
            format!("/api/regions/{r}/units"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/regions/{code}/plans",
            format!("/api/regions/{r}/plans"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "post",
            "/api/regions/{code}/plans",
            format!("/api/regions/{r}/plans"),
            bad.clone(),
            [401, 422, 422, 403, 403],
        ),
        (
            "get",
            "/api/regions/{code}/plans/{version}",
            format!("/api/regions/{r}/plans/1"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "post",
            "/api/regions/{code}/plans/{version}/moves",
            format!("/api/regions/{r}/plans/1/moves"),
            bad.clone(),
            [401, 422, 422, 403, 403],
        ),
        (
            "post",
            "/api/regions/{code}/plans/{version}/approve",
            format!("/api/regions/{r}/plans/99/approve"),
            None,
            [401, 404, 404, 403, 403],
        ),
        (
            "post",
            "/api/regions/{code}/plans/{version}/publish",
            format!("/api/regions/{r}/plans/99/publish"),
            None,
            [401, 404, 404, 403, 403],
        ),
        (
            "get",
            "/api/regions/{code}/areas",
            format!("/api/regions/{r}/areas"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/regions/{code}/posts",
            format!("/api/regions/{r}/posts"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "post",
            "/api/regions/{code}/assignments",
            format!("/api/regions/{r}/assignments"),
            bad.clone(),
            [401, 422, 422, 403, 403],
        ),
        (
            "get",
            "/api/officers",
            "/api/officers".into(),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "post",
            "/api/officers",
            "/api/officers".into(),
            bad.clone(),
            [401, 422, 422, 403, 403],
        ),
        (
            "get",
            "/api/officers/{id}/due",
            format!("/api/officers/{o}/due"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/officers/{id}/due",
            format!("/api/officers/{o2}/due"),
            None,
            [401, 200, 200, 200, 403],
        ),
        (
            "get",
            "/api/officers/{id}/due.ics",
            format!("/api/officers/{o}/due.ics"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "get",
            "/api/officers/{id}/escalations",
            format!("/api/officers/{o}/escalations"),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "post",
            "/api/inspections",
            "/api/inspections".into(),
            bad.clone(),
            [401, 422, 422, 403, 422],
        ),
        (
            "get",
            "/api/inspections/{id}",
            "/api/inspections/999999".into(),
            None,
            [401, 404, 404, 404, 404],
        ),
        (
            "post",
            "/api/photos",
            "/api/photos".into(),
            None,
            [401, 400, 400, 403, 400],
        ),
        (
            "get",
            "/api/photos/{sha256}",
            format!("/api/photos/{}", "0".repeat(64)),
            None,
            [401, 404, 404, 404, 404],
        ),
        (
            "get",
            "/api/campaigns",
            "/api/campaigns".into(),
            None,
            [401, 200, 200, 200, 200],
        ),
        (
            "post",
            "/api/campaigns",
            "/api/campaigns".into(),
            bad.clone(),
            [401, 422, 422, 403, 403],
        ),
        (
            "post",
            "/api/draws",
            "/api/draws".into(),
            bad.clone(),
            [401, 422, 422, 403, 403],
        ),
        (
            "get",
            "/api/audit",
            "/api/audit".into(),
            None,
            [401, 200, 200, 403, 403],
        ),
        (
            "post",
            "/api/logout",
            "/api/logout".into(),
            None,
            [401, 204, 204, 204, 204],
        ),
        (
            "get",
            "/api/reports/coverage",
            format!("/api/reports/coverage?region={r}&period=2027-Q1"),
            None,
            [401, 200, 200, 200, 403],
        ),
        (
            "get",
            "/api/regions/{code}/clears",
            format!("/api/regions/{r}/clears"),
            None,
            [401, 200, 200, 200, 403],
        ),
        (
            "get",
            "/api/assessment",
            format!("/api/assessment?region={r}&year=2027"),
            None,
            [401, 200, 200, 200, 403],
        ),
        (
            "post",
            "/api/assessment/vetoes",
            "/api/assessment/vetoes".into(),
            bad.clone(),
            [401, 422, 422, 403, 403],
        ),
        (
            "get",
            "/api/bulletins",
            format!("/api/bulletins?region={r}&kind=month&start=2026-12-01"),
            None,
            [401, 404, 404, 404, 403],
        ),
    ];

    let mut covered = BTreeSet::new();
    for (method, template, path, body, expected) in &rows {
        covered.insert((method.to_string(), template.to_string()));
        for (k, who) in std::iter::once(None)
            .chain(ROLES.iter().map(Some))
            .enumerate()
        {
            // Logging out spends the token: every role logs out with a token of its own.
            let mut s_tokens = None;
            if *template == "/api/logout"
                && let Some(w) = who
            {
                s_tokens = Some(s.t.app.login(w, PASSWORD).unwrap().token);
            }
            let (status, answer) = match s_tokens {
                Some(token) => {
                    let h = format!("Bearer {token}");
                    s.raw(
                        None,
                        &method.to_uppercase(),
                        path,
                        None,
                        &[("authorization", &h)],
                    )
                    .await
                }
                None => {
                    s.call(who.copied(), &method.to_uppercase(), path, body.clone())
                        .await
                }
            };
            assert_eq!(
                status.as_u16(),
                expected[k],
                "{method} {path} as {}: {answer}",
                who.unwrap_or(&"anonymous")
            );
            if status.is_client_error() {
                assert!(
                    answer["detail"].is_string(),
                    "{method} {path} as {who:?}: problem+json: {answer}"
                );
            }
        }
    }

    // The table walks every route of the document, and the document has every route.
    let (_, doc) = s.call(None, "GET", "/openapi.json", None).await;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    assert_eq!(
        documented, covered,
        "routes in the document vs routes tested"
    );
}

#[tokio::test]
async fn a_visit_closes_its_tasks_reclassifies_schedules_the_follow_up_and_retries_are_no_ops() {
    let s = Service::new();
    let (_, tasks) = s
        .call(
            Some("officer"),
            "GET",
            &format!("/api/businesses/{}/tasks", s.own),
            None,
        )
        .await;
    // The routine task whose window holds the visit day is one the visit closes; a window
    // not yet begun stays open.
    let open: Vec<&Value> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "open")
        .collect();
    let holds = |t: &&&Value| {
        t["period_start"].as_str().unwrap() <= "2027-01-20"
            && t["due_by"].as_str().unwrap() >= "2027-01-20"
    };
    let this_window: Vec<i64> = open
        .iter()
        .filter(holds)
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        this_window.len(),
        1,
        "one routine window holds the day: {open:?}"
    );
    // A window already past unvisited is made up by the visit, the oldest first.
    let mut missed: Vec<&&Value> = open
        .iter()
        .filter(|t| t["due_by"].as_str().unwrap() < "2027-01-20")
        .collect();
    missed.sort_by_key(|t| (t["due_by"].as_str().unwrap(), t["id"].as_i64().unwrap()));
    let mut expected: Vec<i64> = this_window
        .iter()
        .copied()
        .chain(missed.first().map(|t| t["id"].as_i64().unwrap()))
        .collect();
    expected.sort_unstable();
    let later: Vec<i64> = open
        .iter()
        .filter(|t| t["period_start"].as_str().unwrap() > "2027-01-20")
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert!(!later.is_empty());

    // A finding and a rectification notice: class goes up, a follow-up is due on the deadline.
    let mut visit = s.visit(&s.own, "2027-01-20T09:30:00");
    visit["checklist"][4]["result"] = json!("fail");
    visit["checklist"][4]["note"] = json!("no purchase ledger");
    visit["findings"] = json!([{ "severity": "general", "note": "no purchase ledger" }]);
    visit["rectification"] = json!({ "kind": "notice", "deadline": "2027-02-03" });
    visit["warning"] = json!("issued");
    let body = visit.to_string();
    let key = [("idempotency-key", "visit-1")];
    let before_count = s.dump().len();
    let (status, first) = s
        .raw(
            Some("officer"),
            "POST",
            "/api/inspections",
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["outcome"], "rectification");
    assert_eq!(first["same_day"], true);
    let (_, now) = s
        .call(
            Some("officer"),
            "GET",
            &format!("/api/businesses/{}", s.own),
            None,
        )
        .await;
    assert_eq!(
        first["class"], now["computed"]["class"],
        "re-classified in the same step"
    );
    assert!(
        now["records"]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["note"] == "no purchase ledger"),
        "the finding is on the record"
    );
    let closed: Vec<i64> = first["closed_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(
        closed, expected,
        "the visit closes the task of its window and the oldest missed one, once"
    );
    for id in &later {
        assert!(
            !closed.contains(id),
            "task {id} of a later window stays open"
        );
    }
    let follow_up = first["follow_up_task"].as_i64().unwrap();
    let (_, tasks) = s
        .call(
            Some("officer"),
            "GET",
            &format!("/api/businesses/{}/tasks", s.own),
            None,
        )
        .await;
    let f = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == follow_up)
        .unwrap();
    assert_eq!(
        (f["kind"].as_str(), f["due_on"].as_str()),
        (Some("follow_up"), Some("2027-02-03"))
    );

    // The same submit again (a retry after a lost answer): the same answer, nothing written.
    let after_first = s.dump();
    let (status, again) = s
        .raw(
            Some("officer"),
            "POST",
            "/api/inspections",
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, first);
    assert_eq!(s.dump(), after_first);
    assert!(after_first.len() > before_count);
    // A retry is answered as JSON, the first answer's text (kept as text, not rebuilt).
    let json_post = |body: String, key: Option<&str>| {
        let mut request = Request::builder()
            .method("POST")
            .uri("/api/inspections")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", s.tokens["officer"]));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        s.send(request.body(Body::from(body)).unwrap())
    };
    let (status, headers, bytes) = json_post(body.clone(), Some("visit-1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), first);
    assert_eq!(s.dump(), after_first);
    // The key reused for another request is refused.
    let other = s.visit(&s.own, "2027-01-20T10:00:00").to_string();
    let (status, _) = s
        .raw(
            Some("officer"),
            "POST",
            "/api/inspections",
            Some(other),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The visit in full, and a visit entered days later is flagged.
    let (_, stored) = s
        .call(
            Some("manager"),
            "GET",
            &format!("/api/inspections/{}", first["inspection_id"]),
            None,
        )
        .await;
    assert_eq!(stored["checklist"][0].as_array().unwrap().len(), 12);
    assert_eq!(stored["warning"], "issued");
    let (status, headers, bytes) =
        json_post(s.visit(&s.own, "2027-01-17T15:00:00").to_string(), None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["content-type"], "application/json");
    let late: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(late["same_day"], false);

    // The audit log has the visit with who and what.
    let (_, audit) = s
        .call(Some("head"), "GET", "/api/audit?limit=500", None)
        .await;
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["action"] == "visit recorded"
                && e["detail"]["after"]["inspection_id"] == first["inspection_id"]
        })
        .expect("the visit is in the audit log");
    assert_eq!(entry["actor"], "officer");
    assert_eq!(entry["subject"], s.own.as_str());
    assert_eq!(entry["detail"]["visit"]["warning"], "issued");
}

/// The day after a routine window closed unvisited, a visit in the next window pays the
/// missed one (late) and counts for its own: the officer's list loses the overdue stop they
/// went for, not only the task of the new period (a monthly class's windows touch, so a
/// missed month would otherwise stay owed for ever).
#[tokio::test]
async fn a_late_visit_makes_up_the_oldest_missed_window_and_counts_for_its_own() {
    let s = Service::new();
    let routine = |app: &gridpatrol::app::App| -> Vec<gridpatrol::store::TaskRow> {
        let mut tasks: Vec<_> = app
            .tasks_for_entity(&crate::support::test_caller(), &s.own)
            .unwrap()
            .into_iter()
            .filter(|t| t.kind == "routine")
            .collect();
        tasks.sort_by_key(|t| (t.due_by, t.id));
        tasks
    };
    let tasks = routine(&s.t.app);
    let missed = tasks[0].clone();
    let current = tasks
        .iter()
        .find(|t| t.period_start.is_some_and(|p| p > missed.due_by))
        .expect("a routine window after the first")
        .clone();
    let day = current.period_start.unwrap();
    assert_eq!(day, missed.due_by.succ_opt().unwrap(), "{tasks:?}");
    // A third window, when the horizon holds one, is not the visit's to close.
    let beyond: Vec<i64> = tasks
        .iter()
        .filter(|t| t.period_start.is_some_and(|p| p > current.due_by))
        .map(|t| t.id)
        .collect();

    // The service on that day, the officer signed in again.
    let later = std::sync::Arc::new(s.t.at(&day.to_string()));
    let token = later.login("officer", PASSWORD).unwrap().token;
    let call = |method: &str, uri: String, body: Option<Value>| {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let app = later.clone();
        async move {
            let response = router(app).oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
                .await
                .unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let due = || {
        call(
            "GET",
            format!("/api/officers/{}/due?on={day}&days=1", s.officer),
            None,
        )
    };
    let listed = |list: &Value| -> Vec<i64> {
        list["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    let (status, before) = due().await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert!(
        listed(&before).contains(&missed.id),
        "the missed window is on the list, overdue: {before}"
    );

    let visit = s.visit(&s.own, &format!("{day}T09:30:00"));
    let (status, recorded) = call("POST", "/api/inspections".into(), Some(visit)).await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let mut closed = vec![missed.id, current.id];
    closed.sort_unstable();
    assert_eq!(recorded["closed_tasks"], json!(closed), "{recorded}");

    let after: std::collections::HashMap<i64, String> = routine(&later)
        .into_iter()
        .map(|t| (t.id, t.status))
        .collect();
    assert_eq!(after[&missed.id], "done", "the missed window, made up late");
    assert_eq!(after[&current.id], "done", "the window holding the day");
    for id in &beyond {
        assert_eq!(after[id], "open", "a window not yet begun stays owed");
    }
    let (_, now) = due().await;
    assert!(
        !listed(&now).contains(&missed.id) && !listed(&now).contains(&current.id),
        "the visited business's stops left the list: {now}"
    );
}

#[tokio::test]
async fn a_visit_needs_two_certified_officers_including_the_caller() {
    let s = Service::new();
    let before = s.dump();
    let mut visit = s.visit(&s.own, "2027-01-20T09:00:00");
    visit["officers"] = json!([s.officer]);
    let (status, body) = s
        .call(Some("officer"), "POST", "/api/inspections", Some(visit))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"].as_str().unwrap().starts_with("officers:"),
        "{body}"
    );
    let mut visit = s.visit(&s.own, "2027-01-20T09:00:00");
    visit["officers"] = json!([s.partner, "O99999"]);
    let (status, body) = s
        .call(Some("officer"), "POST", "/api/inspections", Some(visit))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("must be one of them"),
        "{body}"
    );
    let mut visit = s.visit(&s.own, "2027-01-20T09:00:00");
    visit["checklist"].as_array_mut().unwrap().pop();
    let (status, _) = s
        .call(Some("officer"), "POST", "/api/inspections", Some(visit))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.dump(), before, "nothing written");
}

#[tokio::test]
async fn hostile_input_is_refused_with_the_right_status_and_changes_nothing() {
    let s = Service::new();
    let before = s.dump();
    let post = |who: Option<&'static str>, uri: &'static str, body: &str| {
        s.raw(who, "POST", uri, Some(body.to_owned()), &[])
    };
    // Malformed JSON, wrong types.
    let (status, body) = post(Some("officer"), "/api/inspections", "{\"entity_id\": ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = post(
        Some("head"),
        "/api/complaints",
        "{\"entity_id\": 7, \"date\": true, \"substantiated\": \"yes\"}",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post(Some("head"), "/api/complaints", "not json at all").await;
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status}"
    );
    // A huge body.
    let huge = format!(
        "{{\"username\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(2 << 20)
    );
    let (status, _) = post(None, "/api/login", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // A tampered token, a malformed one, none.
    let mut tampered = s.tokens["admin"].clone();
    let last = if tampered.ends_with('0') { "1" } else { "0" };
    tampered.replace_range(63.., last);
    for auth in [
        format!("Bearer {tampered}"),
        "Bearer nonsense".into(),
        "Basic YWRtaW46eA==".into(),
    ] {
        let (status, body) = s
            .raw(None, "GET", "/api/users", None, &[("authorization", &auth)])
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth}: {body}");
    }
    // An officer touching another grid's business.
    let (status, _) = s
        .call(
            Some("officer"),
            "POST",
            "/api/inspections",
            Some(s.visit(&s.other, "2027-01-20T09:00:00")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let complaint = json!({ "entity_id": s.other, "date": "2027-01-19", "substantiated": true });
    let (status, _) = s
        .call(Some("officer"), "POST", "/api/complaints", Some(complaint))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Path traversal in a photo's name, in a visit and in an upload.
    let mut visit = s.visit(&s.own, "2027-01-20T09:00:00");
    visit["photos"] = json!([{ "sha256": "a".repeat(64), "name": "../../etc/passwd" }]);
    let (status, body) = s
        .call(Some("officer"), "POST", "/api/inspections", Some(visit))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("photos[0].name"),
        "{body}"
    );
    let (status, _) = s
        .call(
            Some("admin"),
            "GET",
            "/api/photos/..%2F..%2Fetc%2Fpasswd",
            None,
        )
        .await;
    assert!(status.is_client_error());
    assert_eq!(s.dump(), before, "nothing changed");

    // SQL-looking text is data: stored verbatim, and searching for it finds it literally.
    let sql = "x'); DROP TABLE businesses; --";
    let event = json!({ "type": "complaint", "date": "2027-01-19", "channel": sql, "substantiated": false });
    let (status, _) = s
        .call(
            Some("head"),
            "POST",
            &format!("/api/businesses/{}/events", s.own),
            Some(event),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, detail) = s
        .call(
            Some("head"),
            "GET",
            &format!("/api/businesses/{}", s.own),
            None,
        )
        .await;
    assert!(
        detail["records"]["complaints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["channel"] == sql)
    );
    let (status, found) = s
        .call(
            Some("head"),
            "GET",
            "/api/businesses?q=%25%27%3B%20DROP",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["businesses"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn photos_are_stored_by_content_and_checked() {
    let s = Service::new();
    let boundary = "XBOUNDARY";
    let jpeg: Vec<u8> = [&[0xFF, 0xD8, 0xFF, 0xE0][..], b"fake jpeg body"].concat();
    let part = |name: &str, bytes: &[u8]| {
        let mut b = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n"
        )
        .into_bytes();
        b.extend_from_slice(bytes);
        b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        b
    };
    let upload = |body: Vec<u8>| {
        let request = Request::builder()
            .method("POST")
            .uri("/api/photos")
            .header("authorization", format!("Bearer {}", s.tokens["officer"]))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap();
        router(s.t.arc()).oneshot(request)
    };
    let response = upload(part("门头.jpg", &jpeg)).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = serde_json::from_slice(
        &axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap(),
    )
    .unwrap();
    let sha = body["photos"][0]["sha256"].as_str().unwrap().to_owned();
    let file = s.t.app.photo_path(&sha).expect("stored under its hash");
    assert_eq!(std::fs::read(file).unwrap(), jpeg);
    // Not an image; a traversal name.
    let response = upload(part("x.jpg", b"#!/bin/sh\nrm -rf /")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let response = upload(part("../../x.jpg", &jpeg)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Cited by a visit and read back.
    let mut visit = s.visit(&s.own, "2027-01-20T11:00:00");
    visit["photos"] = json!([{ "sha256": sha, "name": "门头.jpg" }]);
    let (status, report) = s
        .call(Some("officer"), "POST", "/api/inspections", Some(visit))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let (_, stored) = s
        .call(
            Some("officer"),
            "GET",
            &format!("/api/inspections/{}", report["inspection_id"]),
            None,
        )
        .await;
    assert_eq!(stored["photos"][0]["name"], "门头.jpg");
    // The other grid's officer may not see it.
    let (status, _) = s
        .call(Some("officer2"), "GET", &format!("/api/photos/{sha}"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn complaints_open_targeted_tasks_and_campaigns_reach_every_match() {
    let s = Service::new();
    let complaint = json!({ "entity_id": s.own, "date": "2027-01-20", "channel": "12315", "substantiated": true });
    let (status, body) = s
        .call(Some("officer"), "POST", "/api/complaints", Some(complaint))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["targeted_task"]["due_by"], "2027-01-27");
    assert_eq!(body["targeted_task"]["officer_id"], s.officer.as_str());
    let (_, due) = s
        .call(
            Some("officer"),
            "GET",
            &format!("/api/officers/{}/due?days=7", s.officer),
            None,
        )
        .await;
    let upcoming: Vec<&Value> = due["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["due_by"].as_str().unwrap() >= "2027-01-20")
        .collect();
    assert_eq!(
        upcoming[0]["kind"], "targeted",
        "overdue first, then targeted: {due}"
    );

    let campaign = json!({
        "region": s.region, "name": "spring food safety", "from": "2027-03-01", "to": "2027-03-31",
        "industries": ["food"], "checklist": ["cold chain records"],
    });
    let (status, made) = s
        .call(Some("head"), "POST", "/api/campaigns", Some(campaign))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let food = s
        .businesses()
        .into_iter()
        .filter(|b| b.industry == "food")
        .count();
    assert_eq!(made["tasks"].as_u64().unwrap() as usize, food);
    let (_, list) = s.call(Some("manager"), "GET", "/api/campaigns", None).await;
    assert_eq!(list["campaigns"][0]["checklist"][0], "cold chain records");
}

#[tokio::test]
async fn a_draft_is_edited_by_moving_a_unit_then_approved_and_published() {
    let s = Service::new();
    let version = s.draft(3).await;
    let (grids, units) = s.grids_and_first_units(version).await;
    assert_eq!(grids, 3);
    // Try every unit of G01 into every other grid: some moves are refused (not touching,
    // splitting, unbalancing) with a reason, and forced moves that keep grids whole pass.
    let mut moved = false;
    let mut reasons = BTreeSet::new();
    'outer: for unit in &units {
        for target in ["G02", "G03"] {
            let (status, body) = s
                .call(
                    Some("head"),
                    "POST",
                    &format!("/api/regions/{}/plans/{version}/moves", s.region),
                    Some(json!({ "unit": unit, "to_grid": target, "accept_imbalance": true })),
                )
                .await;
            if status == StatusCode::OK {
                assert_eq!(body["to"]["grid"], target);
                moved = true;
                break 'outer;
            }
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
            reasons.insert(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .split(':')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    assert!(moved, "a unit could move: {reasons:?}");
    let (status, _) = s
        .call(
            Some("head"),
            "POST",
            &format!("/api/regions/{}/plans/{version}/publish", s.region),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "only an approved plan is published"
    );
    let (status, _) = s
        .call(
            Some("head"),
            "POST",
            &format!("/api/regions/{}/plans/{version}/approve", s.region),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .call(
            Some("head"),
            "POST",
            &format!("/api/regions/{}/plans/{version}/publish", s.region),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .call(
            Some("head"),
            "POST",
            &format!("/api/regions/{}/plans/{version}/moves", s.region),
            Some(json!({ "unit": units[0], "to_grid": "G02" })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an approved plan is not edited"
    );
    let (status, run) = s
        .call(
            Some("head"),
            "POST",
            &format!("/api/regions/{}/assignments", s.region),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(run["plan_version"], version);
}

#[tokio::test]
async fn the_audit_log_is_append_only() {
    let s = Service::new();
    let store = Store::open(&s.t.app.db_path).unwrap();
    let err = store.read().audit_log(None, 1).map(|_| ());
    drop(store);
    assert!(err.is_ok());
    // The store refuses to change or remove an entry (a trigger), whatever asks.
    let raw = rusqlite::Connection::open(&s.t.app.db_path).unwrap();
    assert!(
        raw.execute("UPDATE audit_log SET actor = 'nobody'", [])
            .is_err()
    );
    assert!(raw.execute("DELETE FROM audit_log", []).is_err());
    let (_, audit) = s.call(Some("admin"), "GET", "/api/audit", None).await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "user added")
    );
}

#[tokio::test]
async fn a_real_server_on_port_zero_with_request_ids_and_compression() {
    let s = Service::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, router(s.t.arc())).into_future());
    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://{addr}/api/login"))
        .json(&json!({ "username": "manager", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = client
        .get(format!("http://{addr}/api/regions/{}/units", s.region))
        .bearer_auth(&token)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    server.abort();
}

#[tokio::test]
async fn coverage_reports_add_up_drill_down_and_download() {
    let s = Service::new();
    let (status, _) = s
        .call(
            Some("officer"),
            "POST",
            "/api/inspections",
            Some(s.visit(&s.own, "2027-01-20T09:00:00")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let base = format!("/api/reports/coverage?region={}&period=2027-01", s.region);
    let (status, report) = s.call(Some("manager"), "GET", &base, None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = report["rows"].as_array().unwrap();
    let total = rows.last().unwrap();
    assert_eq!(total["key"], "total");
    let sum = |field: &str| {
        rows[..rows.len() - 1]
            .iter()
            .map(|r| r[field].as_u64().unwrap())
            .sum::<u64>()
    };
    for field in ["businesses", "required", "done", "visits", "overdue_now"] {
        assert_eq!(
            sum(field),
            total[field].as_u64().unwrap(),
            "{field}: the grids add up to the total"
        );
    }
    // Required = the tasks not cancelled whose deadline falls in January.
    let store = Store::open(&s.t.app.db_path).unwrap();
    let facts = store
        .read()
        .report_facts(&s.region, date("2027-01-01"), date("2027-01-31"))
        .unwrap();
    assert_eq!(
        total["required"].as_u64().unwrap() as usize,
        facts.tasks.len()
    );
    assert!(total["done"].as_u64().unwrap() >= 1);
    assert_eq!(total["visits"], 1);
    assert_eq!(total["same_day_rate"], 1.0);
    // Staffing: each grid's A-post officer's hours in January against the visits' hours.
    let officer_hours =
        s.t.app
            .open_store()
            .unwrap()
            .read()
            .officers(None)
            .unwrap()
            .into_iter()
            .find(|o| o.id == s.officer)
            .unwrap()
            .hours_per_month;
    let g01 = rows.iter().find(|r| r["key"] == "G01").unwrap();
    let expected = officer_hours * 31.0 / 30.44;
    assert!((g01["hours_available"].as_f64().unwrap() - expected).abs() < 1e-6);
    assert!(g01["hours_needed"].as_f64().unwrap() > 0.0);

    // Drill-down: G01's officers, then one officer's businesses.
    let (_, by_officer) = s
        .call(
            Some("manager"),
            "GET",
            &format!("{base}&by=officer&grid=G01"),
            None,
        )
        .await;
    let keys: Vec<&str> = by_officer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec![s.officer.as_str(), "total"]);
    let (_, by_business) = s
        .call(
            Some("manager"),
            "GET",
            &format!("{base}&by=business&officer={}", s.officer),
            None,
        )
        .await;
    assert!(
        by_business["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == s.own.as_str())
    );

    // CSV with the interface's columns; Excel with a sheet per breakdown.
    let request = |uri: String| {
        Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {}", s.tokens["head"]))
            .body(Body::empty())
            .unwrap()
    };
    let response = router(s.t.arc())
        .oneshot(request(format!("{base}&format=csv")))
        .await
        .unwrap();
    let csv = String::from_utf8(
        axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(csv.starts_with("key,businesses,required,done,done_on_time,on_time_rate,overdue_now,never_inspected,covered,coverage,visits,same_day_rate,findings,notices_issued,follow_ups,follow_ups_on_time,targeted,targeted_on_time,hours_needed,hours_available\n"));
    let response = router(s.t.arc())
        .oneshot(request(format!("{base}&format=xlsx")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let xlsx = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    assert!(xlsx.starts_with(b"PK\x03\x04"), "a zip");
    let names = String::from_utf8_lossy(&xlsx);
    assert!(
        names.contains("xl/worksheets/sheet6.xml") && !names.contains("sheet7.xml"),
        "six sheets"
    );

    let (status, body) = s
        .call(Some("manager"), "GET", &format!("{base}&by=street"), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().unwrap().starts_with("by:"));
    let (status, _) = s
        .call(
            Some("manager"),
            "GET",
            &format!("/api/reports/coverage?region={}&period=2027-Q5", s.region),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_three_clears_list_what_is_missing() {
    let s = Service::new();
    let (_, body) = s
        .call(
            Some("manager"),
            "GET",
            &format!("/api/regions/{}/clears", s.region),
            None,
        )
        .await;
    let checks = &body["checks"];
    assert_eq!(checks["units_without_grid"], json!([]));
    assert_eq!(checks["units_in_two_grids"], json!([]));
    assert_eq!(checks["grids_without_a_post"], json!([]));
    assert_eq!(checks["has_chief"], true);
    // Businesses without a place are named, not hidden.
    let unlocated = checks["unlocated_businesses"].as_array().unwrap().len();
    let expected =
        s.t.app
            .open_store()
            .unwrap()
            .read()
            .unlocated(&s.region)
            .unwrap()
            .len();
    assert_eq!(unlocated, expected);
    let clear = unlocated == 0
        && checks["grids_without_b_post"] == json!([])
        && checks["grids_without_deputy"] == json!([])
        && checks["unclassified_businesses"] == json!([]);
    assert_eq!(body["clear"], clear);

    // A fresh region with no plan: every unit lacks a grid.
    let t = TestApp::new("2027-01-20");
    let region = TinyRegion::new();
    t.app
        .import_region(region.path(), gridpatrol::spatial::crs::Crs::Wgs84, "test")
        .unwrap();
    let c = t
        .app
        .clears(&crate::support::test_caller(), "tiny")
        .unwrap();
    assert_eq!(c.units_without_grid.len(), 2);
    assert_eq!(c.plan_version, None);
}

#[tokio::test]
async fn bulletins_rank_and_the_assessment_grades_with_a_veto() {
    let s = Service::new();
    // A month later the monthly job freezes January with its rankings.
    let later = s.t.at("2027-02-02");
    let schedule = gridpatrol::jobs::parse_schedule(
        &gridpatrol::jobs::JobSchedules::default().monthly_snapshot,
    )
    .unwrap();
    let runs =
        gridpatrol::jobs::run_if_due(&later, gridpatrol::jobs::Job::MonthlySnapshot, &schedule)
            .unwrap();
    assert_eq!(runs.len(), 1);
    let uri = format!(
        "/api/bulletins?region={}&kind=month&start=2027-01-01",
        s.region
    );
    let (status, bulletin) = s.call(Some("manager"), "GET", &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{bulletin}");
    let grids = &bulletin["rankings"]["grids"];
    let ranked = grids["ranked"].as_array().unwrap();
    assert_eq!(ranked.len(), 6, "six grids ranked");
    assert!(
        ranked
            .windows(2)
            .all(|w| w[0]["score"].as_f64() >= w[1]["score"].as_f64())
    );
    assert_eq!(grids["top"][0], ranked[0]["key"]);
    assert_eq!(grids["bottom"][1], ranked[5]["key"]);
    assert!(bulletin["tasks_due"].as_u64().unwrap() > 0);

    // The year's assessment; a veto makes a grid unqualified whatever its score.
    let uri = format!("/api/assessment?region={}&year=2027", s.region);
    let (_, before) = s.call(Some("head"), "GET", &uri, None).await;
    let lines = before["assessment"].as_array().unwrap();
    assert_eq!(lines.len(), 6);
    let g = lines
        .iter()
        .find(|l| l["subject"] == "G02")
        .unwrap()
        .clone();
    let veto = json!({ "region": s.region, "subject": "G02", "year": 2027, "reason": "major food poisoning case" });
    let (status, _) = s
        .call(Some("head"), "POST", "/api/assessment/vetoes", Some(veto))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, after) = s.call(Some("head"), "GET", &uri, None).await;
    let lines = after["assessment"].as_array().unwrap();
    let vetoed = lines.iter().find(|l| l["subject"] == "G02").unwrap();
    assert_eq!(vetoed["grade"], "unqualified");
    assert_eq!(
        vetoed["score"], g["score"],
        "the score stands; the grade falls"
    );
    assert_eq!(vetoed["veto"][0], "major food poisoning case");
    let empty = json!({ "region": s.region, "subject": "G03", "year": 2027, "reason": "  " });
    let (status, _) = s
        .call(Some("head"), "POST", "/api/assessment/vetoes", Some(empty))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_roster_is_kept_through_the_api_with_before_and_after_in_the_audit() {
    let s = Service::new();
    let officer = json!({
        "region": s.region, "id": "O90001", "name": "Zhou Xin", "role": "officer",
        "years_of_service": 1, "hours_per_month": 96.0, "certified": true, "skills": ["food"],
    });
    let (status, body) = s
        .call(Some("head"), "POST", "/api/officers", Some(officer.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut changed = officer.clone();
    changed["years_of_service"] = json!(2);
    let (status, _) = s
        .call(Some("head"), "POST", "/api/officers", Some(changed))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, roster) = s.call(Some("officer"), "GET", "/api/officers", None).await;
    let zhou = roster["officers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "O90001")
        .unwrap();
    assert_eq!(zhou["years_of_service"], 2);
    let (_, audit) = s.call(Some("admin"), "GET", "/api/audit", None).await;
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "officer saved" && e["detail"]["before"]["years_of_service"] == 1)
        .expect("the change is audited with before and after");
    assert_eq!(entry["detail"]["after"]["years_of_service"], 2);
    assert_eq!(entry["actor"], "head");
    let mut bad = officer;
    bad["role"] = json!("sheriff");
    let (status, _) = s
        .call(Some("head"), "POST", "/api/officers", Some(bad))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_public_map_shows_grids_and_who_is_responsible_without_business_data() {
    let s = Service::new();
    let app = s.t.arc();
    let page = |uri: String| {
        let app = app.clone();
        async move {
            let response = router(app)
                .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
                .await
                .unwrap();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    let (status, html) = page(format!("/map/{}", s.region)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("辖区监管责任制示意图"));
    assert_eq!(
        html.matches("<path data-grid=").count(),
        6,
        "one shape per grid"
    );
    let roster = s.t.app.open_store().unwrap().read().officers(None).unwrap();
    let name = &roster.iter().find(|o| o.id == s.officer).unwrap().name;
    assert!(
        html.contains(name.as_str()),
        "the responsible officer is named"
    );
    // The market is named in its grid's row, as a key market.
    let units =
        s.t.app
            .open_store()
            .unwrap()
            .read()
            .markets(&s.region)
            .unwrap();
    assert_eq!(units.len(), 1);
    let market = units.values().next().unwrap();
    let row = html
        .split("<tr data-grid=")
        .find_map(|r| {
            r.split("</tr>")
                .next()
                .filter(|r| r.contains(market.as_str()))
        })
        .expect("the market's grid row");
    assert!(
        row.ends_with(&format!("<td>{market}</td>")),
        "in the key-markets column: {row}"
    );
    // No business-level data, nothing loaded from elsewhere, no script.
    let businesses = s.businesses();
    for b in &businesses {
        assert!(
            !html.contains(&b.id) && !html.contains(&b.name),
            "{} is not on the public map",
            b.id
        );
    }
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    let (_, english) = page(format!("/map/{}?lang=en", s.region)).await;
    assert!(
        english.contains("Supervision responsibility map")
            && english.contains("Responsible officer")
    );
    let (status, _) = page("/map/nowhere".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_officer_signs_in_on_the_pages_records_a_visit_and_the_due_list_changes() {
    let s = Service::new();
    let app = s.t.arc();
    let send = |request: Request<Body>| {
        let app = app.clone();
        async move {
            let response = router(app).oneshot(request).await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
                .await
                .unwrap();
            (
                status,
                headers,
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        }
    };
    let get = |uri: &str, cookie: Option<&str>| {
        let mut r = Request::builder().uri(uri);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.body(Body::empty()).unwrap()
    };
    let (status, headers, _) = send(get("/officer", None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/login");
    let (status, _, _) = send(
        Request::builder()
            .method("POST")
            .uri("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("username=officer&password=wrong"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let body = format!("username=officer&password={}", PASSWORD.replace(' ', "+"));
    let (status, headers, _) = send(
        Request::builder()
            .method("POST")
            .uri("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set = headers["set-cookie"].to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
    let cookie = set.split(';').next().unwrap().to_owned();

    let (status, _, week) = send(get("/officer?days=7", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    let tasks_before = week.matches("<li data-task=").count();
    assert!(tasks_before > 0);
    // The first business on the list: its card, its form.
    let first = week
        .split("/officer/business/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (status, _, card) = send(get(&format!("/officer/business/{first}"), Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        card.matches("<fieldset><legend>").count(),
        12 + 3,
        "12 items, finding, rectification, warning"
    );
    let key = card
        .split("name=\"key\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let partner = card
        .split("<option>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();

    let (form, content_type) = crate::visit_form::form(&key, "2027-01-20T10:15", &partner);
    let post = || {
        Request::builder()
            .method("POST")
            .uri(format!("/officer/business/{first}/visit"))
            .header("cookie", &cookie)
            .header("content-type", &content_type)
            .body(Body::from(form.clone()))
            .unwrap()
    };
    let (status, headers, body) = send(post()).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let location = headers["location"].to_str().unwrap().to_owned();
    assert!(location.contains("same_day=true"), "{location}");
    // A double tap: the same form again records nothing new.
    let (_, again, _) = send(post()).await;
    assert_eq!(again["location"].to_str().unwrap(), location);

    let (_, _, after) = send(get(&location, Some(&cookie))).await;
    assert!(after.contains("role=\"status\""));
    assert!(
        after.matches("<li data-task=").count() < tasks_before,
        "the visited business's task left the list"
    );
    let (status, _, _) = send(get(
        &format!("/officer/business/{}", s.other),
        Some(&cookie),
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_bureau_head_moves_a_unit_and_approves_on_the_plan_page() {
    let s = Service::new();
    let version = s.draft(3).await;
    let app = s.t.arc();
    let send = |method: &str, uri: String, who: &str, form: Option<String>| {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", s.tokens[who]))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.map_or_else(Body::empty, Body::from))
            .unwrap();
        let app = app.clone();
        async move {
            let response = router(app).oneshot(request).await.unwrap();
            let status = response.status();
            let location = response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
                .await
                .unwrap();
            (
                status,
                location,
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        }
    };
    let page = format!("/head/plan/{}/{version}", s.region);
    let (status, _, html) = send("GET", page.clone(), "head", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("<path data-grid=").count(), 3);
    assert!(
        html.contains("/move") && html.contains("/approve"),
        "a draft can be edited"
    );
    let (status, _, _) = send("GET", page.clone(), "officer", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(
        "POST",
        format!("{page}/move"),
        "manager",
        Some("unit=x&to_grid=G02".into()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "managers change nothing");

    // A refused move comes back with the reason.
    let (status, location, _) = send(
        "POST",
        format!("{page}/move"),
        "head",
        Some("unit=NOPE&to_grid=G02".into()),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = location.unwrap();
    assert!(location.contains("error="), "{location}");
    let (_, _, html) = send("GET", location, "head", None).await;
    assert!(html.contains("role=\"alert\"") && html.contains("NOPE"));

    // A move that keeps every grid whole goes through.
    let (_, units) = s.grids_and_first_units(version).await;
    let mut moved = None;
    'outer: for unit in &units {
        for target in ["G02", "G03"] {
            let form = format!("unit={unit}&to_grid={target}&accept_imbalance=true");
            let (_, location, _) = send("POST", format!("{page}/move"), "head", Some(form)).await;
            let location = location.unwrap();
            if location.contains("done=") {
                moved = Some(location);
                break 'outer;
            }
        }
    }
    let (_, _, html) = send("GET", moved.expect("a unit moved"), "head", None).await;
    assert!(html.contains("role=\"status\""));
    let (_, location, _) = send("POST", format!("{page}/approve"), "head", None).await;
    let (_, _, html) = send("GET", location.unwrap(), "head", None).await;
    assert!(html.contains("已批准") || html.contains("approved"));
    assert!(!html.contains("/move"), "an approved plan is not edited");
}

/// The numbers in a row of the manager's table, cell by cell after the key.
fn table_row(html: &str, key: &str) -> Vec<String> {
    let row = html
        .split(&format!("<tr data-key=\"{key}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no row {key}"))
        .split("</tr>")
        .next()
        .unwrap();
    row.split("<td")
        .skip(2)
        .map(|cell| {
            let text = cell.split_once('>').unwrap().1;
            text.split("</td>").next().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_manager_page_maps_coverage_drills_down_charts_months_and_links_downloads() {
    let s = Service::new();
    let (status, location, _) = s.page(None, "/manager").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/login"));
    let (status, _, _) = s.page(Some("officer"), "/manager").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, location, _) = s.page(Some("manager"), "/manager").await;
    assert_eq!(
        location.as_deref(),
        Some(format!("/manager/{}?lang=zh", s.region).as_str())
    );

    let (status, _) = s
        .call(
            Some("officer"),
            "POST",
            "/api/inspections",
            Some(s.visit(&s.own, "2027-01-20T09:00:00")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // A month's bulletin frozen, as the monthly job does.
    s.t.app
        .take_snapshots(
            &crate::support::test_caller(),
            "month",
            (date("2026-12-01"), date("2026-12-31")),
        )
        .unwrap();

    let page = format!("/manager/{}?period=2027-01&lang=en", s.region);
    let (status, _, html) = s.page(Some("manager"), &page).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    // The map: one shape per grid, coloured by coverage.
    assert_eq!(html.matches("<path data-grid=").count(), 6);
    // The table says what the API says.
    let (_, report) = s
        .call(
            Some("manager"),
            "GET",
            &format!("/api/reports/coverage?region={}&period=2027-01", s.region),
            None,
        )
        .await;
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(html.matches("<tr data-key=").count(), rows.len());
    for row in rows {
        let key = row["key"].as_str().unwrap();
        let cells = table_row(&html, key);
        for (i, field) in ["businesses", "required", "done"].iter().enumerate() {
            assert_eq!(cells[i], row[field].to_string(), "{key} {field}");
        }
    }
    let total = rows.last().unwrap();
    assert!(total["done"].as_u64().unwrap() >= 1);
    // The chart's month, read in one go over the year, is the month's report.
    let trend =
        s.t.app
            .coverage_trend(&crate::support::test_caller(), &s.region, 12)
            .unwrap();
    assert_eq!(trend.len(), 12);
    let january = trend.iter().find(|p| p.month == "2027-01").unwrap();
    assert_eq!(
        (january.required as u64, january.done as u64),
        (
            total["required"].as_u64().unwrap(),
            total["done"].as_u64().unwrap()
        )
    );
    assert_eq!(january.coverage, total["coverage"].as_f64().unwrap());
    // Drill-down: the grid's row leads to its officers, an officer's to their businesses.
    let to_officers = html
        .split("<tr data-key=\"G01\"")
        .nth(1)
        .unwrap()
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(to_officers.contains("by=officer") && to_officers.contains("grid=G01"));
    let (status, _, officers) = s.page(Some("manager"), &to_officers).await;
    assert_eq!(status, StatusCode::OK);
    assert!(officers.contains(&format!("<tr data-key=\"{}\"", s.officer)));
    assert!(
        !officers.contains(&format!("<tr data-key=\"{}\"", s.second)),
        "only G01's officers"
    );
    let to_businesses = officers
        .split(&format!("<tr data-key=\"{}\"", s.officer))
        .nth(1)
        .unwrap()
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(to_businesses.contains("by=business"));
    let (_, _, businesses) = s.page(Some("manager"), &to_businesses).await;
    assert!(businesses.contains(&format!("<tr data-key=\"{}\"", s.own)));
    // A business's card, for a manager without the form they could not send.
    let (status, _, card) = s
        .page(Some("manager"), &format!("/officer/business/{}", s.own))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(card.contains("<h1>") && !card.contains("<form method=\"post\" enctype"));
    assert!(!businesses.contains(&format!("<tr data-key=\"{}\"", s.other)));
    // The chart: twelve months, a point where something was due.
    let chart = html.split("<svg id=\"trend\"").nth(1).unwrap();
    let chart = chart.split("</svg>").next().unwrap();
    assert!(chart.contains(">2027-01<") && chart.contains(">2026-02<"));
    assert!(chart.contains("<circle data-month=\"2027-01\""));
    assert!(
        !chart.contains("<circle data-month=\"2026-06\""),
        "nothing was due then"
    );
    // The latest bulletin and the downloads.
    assert!(
        html.contains("2026-12-01 – 2026-12-31"),
        "the December bulletin"
    );
    for link in ["format=csv", "format=xlsx", "/plans/"] {
        assert!(html.contains(link), "{link}");
    }
    let csv_link = format!(
        "/api/reports/coverage?region={}&period=2027-01&by=grid&format=csv",
        s.region
    );
    assert!(html.contains(&csv_link.replace('&', "&amp;")));
    // A mistyped period is named, not guessed.
    let (status, _, html) = s
        .page(
            Some("manager"),
            &format!("/manager/{}?period=2027-13", s.region),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("period:"), "{html}");
    let (status, _, _) = s.page(Some("manager"), "/manager/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, html) = s
        .page(
            Some("manager"),
            &format!("/manager/{}?by=officer&grid=G99", s.region),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        html.contains("grid: no business of &#39;G99&#39;"),
        "{html}"
    );
}

#[tokio::test]
async fn each_role_lands_on_its_page_after_signing_in_and_the_map_links_them() {
    let s = Service::new();
    for (user, home) in [
        ("officer", "/officer"),
        ("head", "/head"),
        ("manager", "/manager"),
        ("admin", "/manager"),
    ] {
        let request = Request::builder()
            .method("POST")
            .uri("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "username={user}&password={}",
                PASSWORD.replace(' ', "+")
            )))
            .unwrap();
        let (status, headers, _) = s.send(request).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(
            headers["location"].to_str().unwrap(),
            format!("{home}?lang=zh"),
            "{user}"
        );
    }
    let (_, location, _) = s.page(Some("head"), "/head").await;
    let location = location.unwrap();
    assert!(
        location.starts_with(&format!("/head/plan/{}/", s.region)),
        "{location}"
    );
    let (status, _, _) = s.page(Some("head"), &location).await;
    assert_eq!(status, StatusCode::OK);
    // A browser opening the service lands on the public map.
    let request = Request::builder()
        .uri("/")
        .header("accept", "text/html,application/xhtml+xml")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = s.send(request).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers["location"].to_str().unwrap(),
        format!("/map/{}", s.region)
    );
    let (_, _, map) = s.page(None, &format!("/map/{}", s.region)).await;
    for link in ["/officer", "/head", "/manager", "/login"] {
        assert!(map.contains(&format!("href=\"{link}?lang=zh\"")), "{link}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_store_worker_still_answers_many_requests_at_once() {
    let s = Service::new();
    let limits = gridpatrol::config::Limits {
        db_workers: 1,
        ..gridpatrol::config::Limits::default()
    };
    let router = gridpatrol::http::router_with(s.t.arc(), &limits);
    let mut requests = Vec::new();
    for i in 0..40 {
        let (who, method, uri, body) = match i % 4 {
            0 => (
                "manager",
                "GET",
                format!("/api/officers/{}/due?days=7", s.officer),
                None,
            ),
            1 => (
                "manager",
                "GET",
                format!("/api/reports/coverage?region={}&period=2027-01", s.region),
                None,
            ),
            2 => (
                "officer",
                "POST",
                "/api/inspections".to_owned(),
                Some(
                    s.visit(&s.own, &format!("2027-01-20T08:{:02}:00", i))
                        .to_string(),
                ),
            ),
            _ => ("head", "GET", "/api/summary".to_owned(), None),
        };
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", s.tokens[who]))
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, Body::from))
            .unwrap();
        let router = router.clone();
        requests.push(tokio::spawn(async move {
            router.oneshot(request).await.unwrap().status()
        }));
    }
    let statuses = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let mut out = Vec::new();
        for r in requests {
            out.push(r.await.unwrap());
        }
        out
    })
    .await
    .expect("every request is answered: store work waits its turn, it never deadlocks");
    assert!(statuses.iter().all(|s| s.is_success()), "{statuses:?}");
}

/// Requests for a due list that is not kept compute it once between them: the first
/// computes it, the others wait for it and take what it kept (after a round of visits,
/// every phone of a grid may ask at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_a_list_not_kept_compute_it_once_between_them() {
    let s = Service::new();
    let uri = format!("/api/officers/{}/due?on=2027-01-01&days=366", s.officer);
    let computed = || async {
        let (_, health) = s.call(None, "GET", "/healthz", None).await;
        health["due_lists"]["computed"].as_u64().unwrap()
    };
    let before = computed().await;
    // `n` requests at once; their entity tags.
    let at_once = |n: usize| {
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..n {
            let request = Request::builder()
                .uri(uri.clone())
                .header("authorization", format!("Bearer {}", s.tokens["officer"]))
                .body(Body::empty())
                .unwrap();
            requests.spawn(router(s.t.arc()).oneshot(request));
        }
        async move {
            let mut tags = Vec::new();
            while let Some(answer) = requests.join_next().await {
                let response = answer.unwrap().unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                tags.push(response.headers()["etag"].to_str().unwrap().to_owned());
            }
            tags
        }
    };
    // The requests arrive while the list is being computed (the test holds the turn).
    let key = gridpatrol::app::views::DueKey::new(&s.officer, date("2027-01-01"), 366, None);
    let turn = s.t.app.views.due_turn(&key);
    let held = turn.hold().await;
    let answers = at_once(12);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(held);
    let tags = answers.await;
    assert_eq!(tags.len(), 12);
    assert!(tags.iter().all(|t| *t == tags[0]), "{tags:?}");
    assert_eq!(
        computed().await,
        before + 1,
        "one computation for twelve requests"
    );

    // A visit makes the list stale: the next requests compute it once again.
    s.record_own_visit().await;
    let again = at_once(6).await;
    assert!(
        again.iter().all(|t| *t == again[0] && *t != tags[0]),
        "{again:?}"
    );
    assert_eq!(computed().await, before + 2);
}

/// The due list is kept in memory between requests, as JSON with an entity tag, and is never
/// older than the last write that could change it: a visit recorded here, or a write from
/// another process on the same database. A logout ends the kept session at once.
#[tokio::test]
async fn the_kept_due_list_follows_every_write_that_changes_it() {
    let s = Service::new();
    let uri = format!("/api/officers/{}/due?on=2027-01-01&days=366", s.officer);
    let get = |tag: Option<String>| {
        let mut request = Request::builder()
            .uri(uri.clone())
            .header("authorization", format!("Bearer {}", s.tokens["officer"]));
        if let Some(tag) = tag {
            request = request.header("if-none-match", tag);
        }
        s.send(request.body(Body::empty()).unwrap())
    };
    let task_ids = |body: &[u8]| -> Vec<(i64, String)> {
        let list: Value = serde_json::from_slice(body).unwrap();
        list["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["id"].as_i64().unwrap(),
                    t["entity_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let (status, headers, body) = get(None).await;
    assert_eq!(status, StatusCode::OK);
    let first_tag = headers["etag"].to_str().unwrap().to_owned();
    let first = task_ids(&body);
    assert!(first.iter().any(|(_, e)| *e == s.own), "{first:?}");

    // Unchanged: 304 with the same tag and no body, and the same bytes when asked plainly.
    let (status, headers, body) = get(Some(first_tag.clone())).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers["etag"].to_str().unwrap(), first_tag);
    assert!(body.is_empty());

    // A visit recorded through the service closes the business's task: the list changes.
    let recorded = s.record_own_visit().await;
    let closed: Vec<i64> = recorded["closed_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect();
    assert!(!closed.is_empty());
    let (_, health) = s.call(None, "GET", "/healthz", None).await;
    let committed = health["writes"]["committed"].as_u64().unwrap();
    assert!(committed >= 1, "{health}");
    assert!(health["writes"]["commits"].as_u64().unwrap() <= committed);
    let (status, headers, body) = get(Some(first_tag.clone())).await;
    assert_eq!(status, StatusCode::OK, "a changed list is sent again");
    let second_tag = headers["etag"].to_str().unwrap().to_owned();
    assert_ne!(second_tag, first_tag);
    let second = task_ids(&body);
    assert!(
        second.iter().all(|(id, _)| !closed.contains(id)),
        "{second:?}"
    );

    // Another process (another app on the same file, with its own connections) records a
    // visit to another business of the list: noticed within a moment.
    let (_, elsewhere) = second
        .iter()
        .find(|(_, e)| *e != s.own)
        .cloned()
        .expect("another business on the list");
    let outside = gridpatrol::app::App::new(
        s.t.app.db_path.clone(),
        s.t.app.policy.clone(),
        s.t.app.clock,
    );
    let caller = outside.caller(&s.tokens["officer"]).unwrap();
    let visit: gridpatrol::domain::inspection::Visit =
        serde_json::from_value(s.visit(&elsewhere, "2027-01-20T10:30:00")).unwrap();
    outside.record_visit(&caller, visit, None).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (status, _, body) = get(Some(second_tag.clone())).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the outside write made the kept list stale"
    );
    assert!(
        task_ids(&body).iter().all(|(_, e)| *e != elsewhere)
            || task_ids(&body).len() < second.len(),
        "the visited business's task is closed"
    );

    // Asked for gzip, the same list comes gzipped (once for every caller), same tag.
    let (_, _, plain) = get(None).await;
    let request = Request::builder()
        .uri(uri.clone())
        .header("authorization", format!("Bearer {}", s.tokens["officer"]))
        .header("accept-encoding", "br;q=0.5, gzip")
        .body(Body::empty())
        .unwrap();
    let (status, headers, zipped) = s.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(
        zipped.len() * 3 < plain.len(),
        "{} of {}",
        zipped.len(),
        plain.len()
    );
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(zipped.as_slice()),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, plain);

    // Signing out ends the session now, though it was kept.
    let (status, _) = s.call(Some("officer"), "POST", "/api/logout", None).await;
    assert!(status.is_success(), "{status}");
    let (status, _, _) = get(None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The businesses of grid G01 (the officer's), by id.
fn g01(s: &Service) -> Vec<String> {
    Store::open(&s.t.app.db_path)
        .unwrap()
        .read()
        .search_businesses(
            &BusinessSearch {
                grid: Some("G01".into()),
                limit: 1000,
                ..BusinessSearch::default()
            },
            date("2027-01-20"),
        )
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect()
}

/// What recording a visit checks before it writes (the business is in a grid where the
/// caller holds a post, every officer is on the roster and certified) is kept in memory
/// between requests; a change to the roster or to the posts counts from the next request.
#[tokio::test]
async fn the_checks_of_a_visit_follow_roster_and_post_changes_at_once() {
    let s = Service::new();
    let submit = |who: &'static str, visit: Value| {
        let s = &s;
        async move {
            s.call(Some(who), "POST", "/api/inspections", Some(visit))
                .await
        }
    };
    let (status, body) = submit("officer", s.visit(&s.own, "2027-01-19T09:00:00")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The partner's certificate is withdrawn through the API: refused at once.
    let (_, roster) = s.call(Some("head"), "GET", "/api/officers", None).await;
    let mut partner = roster["officers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == s.partner.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{} on the roster: {roster}", s.partner));
    let mut certify = |certified: bool| {
        partner["certified"] = json!(certified);
        let mut body = partner.clone();
        body["region"] = json!(s.region);
        body
    };
    let (status, body) = s
        .call(Some("head"), "POST", "/api/officers", Some(certify(false)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = submit("officer", s.visit(&s.own, "2027-01-19T10:00:00")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("holds no enforcement certificate"),
        "{body}"
    );
    let (status, _) = s
        .call(Some("head"), "POST", "/api/officers", Some(certify(true)))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = submit("officer", s.visit(&s.own, "2027-01-19T11:00:00")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // G01's A-post passes to the second officer (a write of the app, as an assignment
    // run makes): the first may no longer record there, the second may.
    let version: i64 = rusqlite::Connection::open(&s.t.app.db_path)
        .unwrap()
        .query_row(
            "SELECT plan_version FROM grids WHERE code = 'G01' ORDER BY plan_version DESC",
            [],
            |r| r.get(0),
        )
        .unwrap();
    s.t.app
        .open_store()
        .unwrap()
        .write(|db| {
            db.set_post(
                &s.region,
                version,
                "G01",
                "A",
                Some(&s.second),
                date("2027-01-20"),
            )
        })
        .unwrap();
    let (status, body) = submit("officer", s.visit(&s.own, "2027-01-19T12:00:00")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let mut theirs = s.visit(&s.own, "2027-01-19T13:00:00");
    theirs["officers"] = json!([s.second, s.partner]);
    let (status, body) = submit("officer2", theirs).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A visit with no finding and no refusal cannot change a business's class, so recording
/// one may confirm the stored class without classifying again, but only a class stored
/// under the app's policy and before its review date. Otherwise the visit classifies
/// again, as any other does.
#[tokio::test]
async fn a_visit_confirms_a_stored_class_only_under_its_policy_and_before_its_review() {
    let s = Service::new();
    let schedule = gridpatrol::jobs::parse_schedule("0 0 2 * * *").unwrap();
    // The nightly run records the policy the stored classes were computed under.
    gridpatrol::jobs::run_nightly_if_due(&s.t.app, &schedule)
        .unwrap()
        .unwrap();
    let caller = s.t.app.caller(&s.tokens["officer"]).unwrap();
    let visit = |id: &str, at: &str| -> gridpatrol::domain::inspection::Visit {
        serde_json::from_value(s.visit(id, at)).unwrap()
    };
    let stored = |id: &str| -> (Option<String>, Option<String>) {
        rusqlite::Connection::open(&s.t.app.db_path)
            .unwrap()
            .query_row(
                "SELECT class, class_review_on FROM businesses WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    let businesses = g01(&s);

    // Under a stricter policy than the stored classes were computed under: classified again.
    let mut stricter = s.t.at("2027-01-20");
    stricter.policy =
        gridpatrol::domain::policy::Policy::from_toml_str("[classification]\nwindow_days = 30\n")
            .unwrap();
    let strict = businesses
        .iter()
        .find(|id| {
            let id = gridpatrol::domain::entity::EntityId::parse(id).unwrap();
            stricter.entity(&id).unwrap().live.class != s.t.app.entity(&id).unwrap().live.class
        })
        .expect("a business of G01 the stricter policy classes otherwise");
    let eid = gridpatrol::domain::entity::EntityId::parse(strict).unwrap();
    let report = stricter
        .record_visit(&caller, visit(strict, "2027-01-20T09:00:00"), None)
        .unwrap()
        .json;
    let report: Value = serde_json::from_str(&report).unwrap();
    let expected = stricter.entity(&eid).unwrap().live.class;
    assert_eq!(report["class"], expected.as_str(), "{report}");
    assert_eq!(stored(strict).0.as_deref(), Some(expected.as_str()));

    // On or after its review date: classified again, and a later review date stored.
    let (id, review) = businesses
        .iter()
        .filter(|b| *b != strict)
        .find_map(|b| stored(b).1.map(|r| (b.clone(), r)))
        .expect("a business of G01 with a review date");
    let later = s.t.at(&review);
    let report = later
        .record_visit(&caller, visit(&id, &format!("{review}T09:00:00")), None)
        .unwrap()
        .json;
    let report: Value = serde_json::from_str(&report).unwrap();
    let eid = gridpatrol::domain::entity::EntityId::parse(&id).unwrap();
    assert_eq!(
        report["class"],
        later.entity(&eid).unwrap().live.class.as_str()
    );
    let (_, after) = stored(&id);
    assert!(
        after.as_ref().is_none_or(|a| *a > review),
        "reviewed on {review}: stored review date {after:?}"
    );

    // Before it, under the same policy: the stored class is the answer, and nothing about
    // the class is written.
    let quiet = businesses
        .iter()
        .find(|b| **b != id && *b != strict && stored(b).0.is_some())
        .unwrap();
    let before = stored(quiet);
    let history = |id: &str| -> i64 {
        rusqlite::Connection::open(&s.t.app.db_path)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM class_history WHERE entity_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };
    let written = history(quiet);
    let report =
        s.t.app
            .record_visit(&caller, visit(quiet, "2027-01-20T10:00:00"), None)
            .unwrap()
            .json;
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["class"].as_str(), before.0.as_deref());
    assert_eq!(stored(quiet), before);
    assert_eq!(history(quiet), written);
}
