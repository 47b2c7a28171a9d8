//! The route × role matrix: every server function, every page and every `/api/v1` route,
//! called as anonymous, viewer, responder, editor and admin (and with no key, a `read`
//! key, an `ingest` key and a `changes` key), against what the permission table in `domain::access` says
//! each may do. The lists come from the running program (registered server functions,
//! the router's page list, `api::v1::ROUTES`), so a new endpoint without a row fails here.

mod common;

use app::access::{Access, PAGES, RPC};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use domain::{ApiScope, Role};
use std::collections::BTreeSet;

/// Who calls: nobody, or a person of a role (with the session cookie).
struct Who {
    role: Option<Role>,
    cookie: Option<String>,
}

impl Who {
    fn label(&self) -> &'static str {
        self.role.map_or("anonymous", Role::as_str)
    }
}

async fn everyone(app: &common::TestApp) -> Vec<Who> {
    for (email, role) in [("ops@example.com", "responder"), ("sre@example.com", "editor")] {
        common::add_user(&app.services, email, role).await;
    }
    let mut out = vec![Who { role: None, cookie: None }];
    for (email, role) in [
        ("pm@example.com", Role::Viewer),
        ("ops@example.com", Role::Responder),
        ("sre@example.com", Role::Editor),
        ("admin@example.com", Role::Admin),
    ] {
        out.push(Who { role: Some(role), cookie: Some(app.login(email).await) });
    }
    out
}

/// Whether `who` may do what `access` names, by the permission table.
fn allowed(access: Access, who: Option<Role>) -> Result<(), StatusCode> {
    match (access, who) {
        (Access::Public, _) => Ok(()),
        (Access::Needs(_), None) => Err(StatusCode::UNAUTHORIZED),
        (Access::Needs(p), Some(r)) if r.can(p) => Ok(()),
        (Access::Needs(_), Some(_)) => Err(StatusCode::FORBIDDEN),
    }
}

/// Checks `status` against the expectation; a refusal must be exactly 401 or 403 as the
/// table says, an allowed call anything but those two.
fn judge(expect: Result<(), StatusCode>, status: StatusCode) -> bool {
    match expect {
        Ok(()) => status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
        Err(want) => status == want,
    }
}

fn registered_server_functions() -> Vec<(String, Method)> {
    let mut fns: Vec<(String, Method)> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (path.to_owned(), method))
        .collect();
    fns.sort_by(|a, b| a.0.cmp(&b.0));
    fns
}

#[tokio::test]
async fn every_server_function_has_a_row_and_every_row_a_function() {
    let registered: BTreeSet<String> = registered_server_functions()
        .into_iter()
        .map(|(p, _)| {
            p.strip_prefix("/rpc/")
                .unwrap_or_else(|| panic!("{p}: a server function outside /rpc"))
                .to_owned()
        })
        .collect();
    let rows: BTreeSet<String> = RPC.iter().map(|(e, _)| (*e).to_owned()).collect();
    let missing: Vec<_> = registered.difference(&rows).collect();
    let stale: Vec<_> = rows.difference(&registered).collect();
    assert!(missing.is_empty(), "server functions without a row in app::access::RPC: {missing:?}");
    assert!(stale.is_empty(), "rows in app::access::RPC without a server function: {stale:?}");
    println!("{} server functions, each with one row", registered.len());
}

#[tokio::test]
async fn server_functions_answer_each_role_as_the_table_says() {
    let app = common::app().await;
    let callers = everyone(&app).await;
    let mut fns = registered_server_functions();
    // Signing out ends the session the rest of the calls use: last.
    fns.sort_by_key(|(p, _)| p == "/rpc/logout");
    let mut wrong = Vec::new();
    let mut calls = 0;
    let mut ok_answers = 0;
    for (path, method) in &fns {
        let endpoint = path.trim_start_matches("/rpc/");
        let access = app::access::rpc_access(endpoint).expect("row (checked above)");
        for who in &callers {
            let mut b = Request::builder()
                .method(method.clone())
                .uri(path.as_str())
                .header(header::ACCEPT, "application/json")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            if let Some(c) = &who.cookie {
                b = b.header(header::COOKIE, c);
            }
            let res = app.send(b.body(Body::empty()).expect("req")).await;
            calls += 1;
            if res.status == StatusCode::OK {
                ok_answers += 1;
            }
            let expect = allowed(access, who.role);
            if !judge(expect, res.status) {
                wrong.push(format!(
                    "{path} as {}: {} (expected {:?}) {}",
                    who.label(),
                    res.status,
                    expect,
                    res.body.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    println!(
        "{} server functions × {} callers = {calls} calls as the table says ({ok_answers} answered 200; \
         the rest are refusals or argument errors of allowed calls)",
        fns.len(),
        callers.len()
    );
}

/// A page path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "new").replace("{code}", "INC-1")
}

#[tokio::test]
async fn pages_answer_each_role_as_the_table_says() {
    let app = common::app().await;
    let callers = everyone(&app).await;
    let listed: BTreeSet<String> =
        leptos_axum::generate_route_list(app::App).iter().map(|r| r.path().to_owned()).collect();
    let rows: BTreeSet<String> = PAGES.iter().map(|(p, _)| (*p).to_owned()).collect();
    assert_eq!(listed, rows, "the router's pages and app::access::PAGES differ");
    let mut wrong = Vec::new();
    for (path, access) in PAGES {
        let uri = concrete(path);
        for who in &callers {
            let mut b = Request::get(uri.as_str());
            if let Some(c) = &who.cookie {
                b = b.header(header::COOKIE, c);
            }
            let res = app.send(b.body(Body::empty()).expect("req")).await;
            let forbidden_view = res.body.contains("data-testid=\"forbidden\"");
            let fine = match allowed(*access, who.role) {
                // Signed out: every page but the sign-in page sends to it.
                Err(StatusCode::UNAUTHORIZED) => {
                    res.status == StatusCode::SEE_OTHER
                        && res
                            .headers
                            .get(header::LOCATION)
                            .and_then(|l| l.to_str().ok())
                            .is_some_and(|l| l.starts_with("/login?next="))
                }
                // Allowed: the page (a missing incident or schedule may answer 404).
                Ok(()) => {
                    !forbidden_view
                        && (res.status == StatusCode::OK || res.status == StatusCode::NOT_FOUND)
                }
                // Signed in without the permission: the no-access view, with 403.
                Err(_) => res.status == StatusCode::FORBIDDEN && forbidden_view,
            };
            if !fine {
                wrong.push(format!(
                    "{uri} as {}: {} forbidden view: {forbidden_view}",
                    who.label(),
                    res.status
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    println!("{} pages × {} callers as the table says", PAGES.len(), callers.len());
}

#[tokio::test]
async fn rest_routes_answer_each_key_scope_as_the_table_says() {
    let app = common::app().await;
    let system = services::Caller::system("test");
    let mut keys: Vec<(Option<ApiScope>, Option<String>)> = vec![(None, None)];
    for scope in [ApiScope::Read, ApiScope::Ingest, ApiScope::Changes] {
        let key = app
            .services
            .accounts()
            .create_api_key(&system, scope.as_str(), scope.as_str())
            .await
            .expect("key");
        keys.push((Some(scope), Some(key.secret)));
    }
    let mut wrong = Vec::new();
    for route in server::api::v1::ROUTES {
        let uri =
            format!("/api/v1{}", route.path.replace("{code}", "INC-1").replace("{kpi}", "mau"));
        for (scope, secret) in &keys {
            let mut b = Request::builder()
                .method(route.method)
                .uri(uri.as_str())
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(s) = secret {
                b = b.header(header::AUTHORIZATION, format!("Bearer {s}"));
            }
            let body = if route.method == "POST" { "[]" } else { "" };
            let res = app.send(b.body(Body::from(body)).expect("req")).await;
            let expect = match (scope, route.needs) {
                (None, _) => Err(StatusCode::UNAUTHORIZED),
                (Some(_), None) => Ok(()),
                (Some(s), Some(p)) if s.can(p) => Ok(()),
                (Some(_), Some(_)) => Err(StatusCode::FORBIDDEN),
            };
            if !judge(expect, res.status) {
                wrong.push(format!(
                    "{} {uri} with {}: {} (expected {expect:?}) {}",
                    route.method,
                    scope.map_or("no key", ApiScope::as_str),
                    res.status,
                    res.body.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    // Outside the tables: probes and signed links (the token is the credential).
    for (uri, want) in [
        ("/healthz", &[StatusCode::OK][..]),
        ("/readyz", &[StatusCode::OK]),
        ("/metrics", &[StatusCode::OK]),
        ("/ack/not-a-token", &[StatusCode::NOT_FOUND, StatusCode::GONE]),
        ("/ical/not-a-token.ics", &[StatusCode::NOT_FOUND, StatusCode::GONE]),
    ] {
        let res = app.get(uri, None).await;
        if !want.contains(&res.status) {
            wrong.push(format!("GET {uri}: {} (expected {want:?})", res.status));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    println!(
        "{} REST routes × {} keys as the table says, and 5 public or signed-link routes",
        server::api::v1::ROUTES.len(),
        keys.len()
    );
}
