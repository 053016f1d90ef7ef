//! Crash safety: the real server, a stream of visit submits, SIGKILL at random moments, a
//! restart each time. Every acknowledged submit is stored exactly once, and nothing that was
//! not acknowledged is half-written.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gridpatrol::domain::access::UserRole;
use gridpatrol::domain::inspection::CHECKLIST;
use gridpatrol::store::{BusinessSearch, Store};
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use crate::support::{TestApp, TinyRegion};

const KILLS: usize = 20;

/// The server's process, killed when dropped: a failing assertion leaves no server behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `gridpatrol serve` on a free port; returns the server and its address.
fn start(db: &std::path::Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridpatrol"))
        .args([
            "--db",
            db.to_str().unwrap(),
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    // Keep draining standard output so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    (Server(child), addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_visits_survive_sigkill_exactly_once() {
    // The server runs on the real clock, so the app that signs in (and dates the token's
    // expiry) does too.
    let today = chrono::Local::now().date_naive();
    let t = TestApp::new(&today.to_string());
    let region = TinyRegion::jiangan(120, 3, &today.to_string(), Some(12));
    let to = today + chrono::Duration::days(90);
    let (code, version) = region.plan_and_staff(&t.app, 3, &today.to_string(), &to.to_string());
    let store = Store::open(&t.app.db_path).unwrap();
    let officer = store.read().open_posts(&code, version, "A").unwrap()["G01"].clone();
    let partner = store.read().open_posts(&code, version, "B").unwrap()["G01"].clone();
    let businesses: Vec<String> = store
        .read()
        .search_businesses(
            &BusinessSearch {
                grid: Some("G01".into()),
                limit: 50,
                ..BusinessSearch::default()
            },
            today,
        )
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    drop(store);
    t.app
        .add_user(
            "walker",
            "kill test password",
            UserRole::Officer,
            Some(&officer),
            "test",
        )
        .unwrap();
    let token = t.app.login("walker", "kill test password").unwrap().token;

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let visited_at = (chrono::Local::now() - chrono::Duration::minutes(5))
        .naive_local()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let submit = |n: usize| {
        let body = json!({
            "entity_id": businesses[n % businesses.len()],
            "officers": [officer, partner],
            "visited_at": visited_at,
            "checklist": CHECKLIST.iter().map(|i| json!({ "item": i, "result": "pass", "note": format!("submit {n}") })).collect::<Vec<_>>(),
        });
        (format!("submit-{n}"), body)
    };
    // key → inspection id, for every 201 the client saw.
    let mut acknowledged: BTreeMap<String, i64> = BTreeMap::new();
    let mut attempted: BTreeSet<String> = BTreeSet::new();
    let mut next = 0;
    for _ in 0..KILLS {
        let (mut child, addr) = start(&t.app.db_path);
        // Submits in flight from several connections; the kill lands among them.
        let mut inflight = tokio::task::JoinSet::new();
        let burst = rng.random_range(4..12);
        for _ in 0..burst {
            let (key, body) = submit(next);
            next += 1;
            attempted.insert(key.clone());
            let (client, url, token) = (
                client.clone(),
                format!("http://{addr}/api/inspections"),
                token.clone(),
            );
            inflight.spawn(async move {
                let answer = client
                    .post(url)
                    .bearer_auth(token)
                    .header("idempotency-key", &key)
                    .json(&body)
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status() == 201 => {
                        let v: Value = r.json().await.ok()?;
                        Some((key, v["inspection_id"].as_i64()?))
                    }
                    _ => None,
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..120))).await;
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        while let Some(done) = inflight.join_next().await {
            if let Some((key, id)) = done.unwrap() {
                acknowledged.insert(key, id);
            }
        }
    }

    // After the last crash, on a fresh start: everything acknowledged is there exactly once,
    // every stored visit is whole (its idempotency record and audit entry came with it).
    let (mut child, addr) = start(&t.app.db_path);
    let store = Store::open(&t.app.db_path).unwrap();
    for (key, id) in &acknowledged {
        let visit = store.read().visit(*id).unwrap();
        assert_eq!(visit["recorded_by"], "walker", "{key}");
    }
    // Retrying every submit that was attempted gives each exactly one stored visit: the
    // acknowledged ones answer with their first id, the lost ones are made now, once.
    let mut ids = BTreeSet::new();
    for n in 0..next {
        let (key, body) = submit(n);
        let r = client
            .post(format!("http://{addr}/api/inspections"))
            .bearer_auth(&token)
            .header("idempotency-key", &key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{key}");
        let v: Value = r.json().await.unwrap();
        let id = v["inspection_id"].as_i64().unwrap();
        if let Some(first) = acknowledged.get(&key) {
            assert_eq!(*first, id, "{key} answered with its first visit");
        }
        assert!(ids.insert(id), "{key}: one visit per submit");
    }
    let (_, audit) = (0, store.read().audit_log(None, 100_000).unwrap());
    let recorded = audit
        .iter()
        .filter(|e| e.action == "visit recorded")
        .count();
    assert_eq!(recorded, next, "one audit entry per stored visit");
    let stored: usize = ids
        .iter()
        .filter(|id| store.read().visit(**id).is_ok())
        .count();
    assert_eq!(stored, next);
    assert!(
        acknowledged.len() >= KILLS,
        "the test acknowledged {} submits across {KILLS} crashes: too few to mean anything",
        acknowledged.len()
    );
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert_eq!(attempted.len(), next);
    eprintln!(
        "{KILLS} SIGKILLs: {} submits, {} acknowledged, {} lost in flight and made once on retry",
        next,
        acknowledged.len(),
        next - acknowledged.len()
    );
}
