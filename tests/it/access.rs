//! The permission matrix of the application layer, called directly (no HTTP): each use case
//! of accounts, businesses, grids, posts and the roster, for each role (an officer in and
//! out of their grids), allowed or refused as `every_route_for_every_role` expects of its
//! route. A use case that forgot its check fails here, whatever its handler does.

use std::collections::BTreeSet;

use gridpatrol::app::access::Caller;
use gridpatrol::app::{App, AppError};
use gridpatrol::domain::access::UserRole;
use gridpatrol::domain::entity::{EntityId, Officer, Role};
use gridpatrol::store::{BusinessSearch, Store};

use crate::support::{TestApp, TinyRegion, date};

/// Admin, bureau head, manager, officer (in the order of the expectations below).
fn callers(officer: &str) -> [Caller; 4] {
    let caller = |username: &str, role, officer_id: Option<&str>| Caller {
        user_id: 1,
        username: username.to_owned(),
        role,
        officer_id: officer_id.map(str::to_owned),
    };
    [
        caller("admin", UserRole::Admin, None),
        caller("head", UserRole::BureauHead, None),
        caller("manager", UserRole::Manager, None),
        caller("officer", UserRole::Officer, Some(officer)),
    ]
}

/// Whether a use case's answer is a refusal; any other error means it was allowed through.
fn refused<T>(answer: Result<T, AppError>) -> bool {
    matches!(answer, Err(AppError::Forbidden(_)))
}

#[test]
fn every_use_case_for_every_role() {
    let t = TestApp::new("2027-01-20");
    let region = TinyRegion::jiangan(400, 5, "2026-12-31", Some(24));
    let (code, version) = region.plan_and_staff(&t.app, 6, "2027-01-01", "2027-12-31");
    let store = Store::open(&t.app.db_path).unwrap();
    let a_posts = store.read().open_posts(&code, version, "A").unwrap();
    let officer = a_posts["G01"].clone();
    let held: BTreeSet<String> = store
        .read()
        .officer_grids(&officer)
        .unwrap()
        .into_iter()
        .map(|(_, g)| g)
        .collect();
    let in_grid = |grid: &str| -> EntityId {
        let found = store
            .read()
            .search_businesses(
                &BusinessSearch {
                    grid: Some(grid.into()),
                    limit: 1,
                    ..BusinessSearch::default()
                },
                date("2027-01-20"),
            )
            .unwrap();
        EntityId::parse(&found[0].id).unwrap()
    };
    let own = in_grid("G01");
    let elsewhere = a_posts.keys().find(|g| !held.contains(*g)).unwrap();
    let other = in_grid(elsewhere);
    let app: &App = &t.app;
    let roster_entry = Officer {
        id: "X1".into(),
        name: "Xu".into(),
        role: Role::Officer,
        years_of_service: 2,
        hours_per_month: 100.0,
        certified: true,
        skills: Vec::new(),
    };

    // (use case, [admin, bureau head, manager, officer] allowed)
    type Case<'a> = (&'a str, Box<dyn Fn(&Caller) -> bool + 'a>, [bool; 4]);
    let all = [true; 4];
    let cases: Vec<Case> = vec![
        ("summary", Box::new(|c| refused(app.summary(c))), all),
        ("me", Box::new(|c| refused(app.me(c))), all),
        (
            "users",
            Box::new(|c| refused(app.users(c))),
            [true, false, false, false],
        ),
        (
            "search_businesses",
            Box::new(|c| refused(app.search_businesses(c, BusinessSearch::default()))),
            all,
        ),
        (
            "business (own grid)",
            Box::new(|c| refused(app.business(c, &own))),
            all,
        ),
        (
            "business (another grid)",
            Box::new(|c| refused(app.business(c, &other))),
            [true, true, true, false],
        ),
        (
            "tasks_for_entity (own grid)",
            Box::new(|c| refused(app.tasks_for_entity(c, own.as_str()))),
            all,
        ),
        (
            "tasks_for_entity (another grid)",
            Box::new(|c| refused(app.tasks_for_entity(c, other.as_str()))),
            [true, true, true, false],
        ),
        ("regions", Box::new(|c| refused(app.summary(c))), all),
        (
            "region_outline",
            Box::new(|c| refused(app.region_outline(c, &code))),
            all,
        ),
        (
            "region_units",
            Box::new(|c| refused(app.region_units(c, &code))),
            all,
        ),
        ("plans", Box::new(|c| refused(app.plans(c, &code))), all),
        (
            "plan_map",
            Box::new(|c| refused(app.plan_map(c, &code, version))),
            all,
        ),
        ("areas", Box::new(|c| refused(app.areas(c, &code))), all),
        (
            "posts_in_force",
            Box::new(|c| refused(app.posts_in_force(c, &code))),
            all,
        ),
        ("roster", Box::new(|c| refused(app.roster(c))), all),
        (
            "save_officer",
            Box::new(|c| refused(app.save_officer(c, &code, &roster_entry))),
            [true, true, false, false],
        ),
    ];
    for (name, call, allowed) in &cases {
        for (caller, allowed) in callers(&officer).iter().zip(allowed) {
            assert_eq!(
                !call(caller),
                *allowed,
                "{name} as {}: allowed should be {allowed}",
                caller.role
            );
        }
    }
}
