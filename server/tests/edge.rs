//! The limits every request meets at the edge, one test each (the body limit's memory
//! test is alone in `body_limit.rs`, so that no other test shares its process): the bound
//! on password hashing, `/metrics` label
//! cardinality and its token, `X-Forwarded-For` only through trusted proxies, redirects
//! after sign-in, and the security headers.

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use common::{app, app_with, serve, urlencode, TestApp};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends a raw HTTP/1.1 request over TCP; returns the status code and the whole answer.
async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(body).await.expect("body");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text)
}

/// 200 sign-ins at once (wrong passwords, each an argon2 verification) must not starve
/// `/healthz`: hashing runs at most one per core and the rest are told to retry (429).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_parallel_sign_ins_do_not_starve_healthz() {
    let app = app_with(&[("VIGIL_LOGIN_MAX_FAILURES", "1000")]).await;
    let addr = serve(&app).await;
    let storm: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(async move {
                let body = format!(
                    "email={}&password=wrong-password-{i}",
                    urlencode(&format!("user{i}@example.com"))
                );
                let head = format!(
                    "POST /rpc/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                raw(addr, &head, body.as_bytes()).await.0
            })
        })
        .collect();
    // Health checks while the storm runs.
    let mut worst = std::time::Duration::ZERO;
    for _ in 0..10 {
        let t = std::time::Instant::now();
        let (code, _) = raw(
            addr,
            &format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
            b"",
        )
        .await;
        assert_eq!(code, 200);
        worst = worst.max(t.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for t in storm {
        *codes.entry(t.await.expect("task")).or_default() += 1;
    }
    println!("200 parallel sign-ins: answers {codes:?}; slowest /healthz meanwhile {worst:?}");
    assert_eq!(codes.values().sum::<usize>(), 200);
    assert!(codes.keys().all(|c| *c == 401 || *c == 429), "only refusals: {codes:?}");
    assert!(codes.get(&429).copied().unwrap_or(0) > 0, "saturated hashing answers 429");
    // A liveness bound, not a speed target: starved, a health check waits for the
    // hashing queue (seconds to minutes); served, it answers in milliseconds.
    assert!(worst < std::time::Duration::from_secs(2), "/healthz took {worst:?} during the storm");
}

/// Every series of `vigil_http_requests_total` (one line each).
fn request_series(metrics: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with("vigil_http_requests_total{"))
        .map(|l| l.rsplit_once(' ').map_or(l, |(k, _)| k).to_owned())
        .collect()
}

/// Random paths and methods do not add series: 10 000 of them leave the count fixed.
#[tokio::test]
async fn metrics_series_stay_fixed_whatever_paths_clients_invent() {
    let app = app().await;
    let methods = ["GET", "POST", "PROPFIND", "BREW", "DELETE"];
    let path = |i: usize| match i % 4 {
        0 => format!("/rpc/no_such_fn_{i}"),
        1 => format!("/api/v1/nothing/{i}"),
        2 => format!("/pkg/x{i}.js"),
        _ => format!("/rpc/x{i}?q={i}"),
    };
    let send = |i: usize| {
        let req = Request::builder()
            .method(methods[i % methods.len()])
            .uri(path(i))
            .body(Body::empty())
            .expect("req");
        app.send(req)
    };
    for i in 0..100 {
        send(i).await;
    }
    let before = request_series(&app.get("/metrics", None).await.body);
    for i in 100..10_000 {
        send(i).await;
    }
    let after = request_series(&app.get("/metrics", None).await.body);
    println!(
        "metrics: {} request series after 100 random requests, {} after 10 000",
        before.len(),
        after.len()
    );
    // /metrics itself adds its own series on the first read.
    assert!(after.len() <= before.len() + 1, "series grew: {before:#?} → {after:#?}");
    assert!(after.iter().all(|s| !s.contains("no_such_fn") && !s.contains("BREW")));
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token() {
    let token = "0123456789abcdef-metrics";
    let app = app_with(&[("VIGIL_METRICS_TOKEN", token)]).await;
    assert_eq!(app.get("/metrics", None).await.status, StatusCode::UNAUTHORIZED);
    let wrong = Request::get("/metrics")
        .header(header::AUTHORIZATION, "Bearer nope")
        .body(Body::empty())
        .expect("req");
    assert_eq!(app.send(wrong).await.status, StatusCode::UNAUTHORIZED);
    let right = Request::get("/metrics")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("req");
    let res = app.send(right).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("vigil_build_info"));
}

/// A failed sign-in from `peer`, claiming `forwarded` in `X-Forwarded-For`.
async fn failed_login(app: &TestApp, peer: &str, forwarded: &str) -> StatusCode {
    let mut req = Request::post("/rpc/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header("x-forwarded-for", forwarded)
        .body(Body::from("email=pm%40example.com&password=not-the-password"))
        .expect("req");
    req.extensions_mut()
        .insert(ConnectInfo(format!("{peer}:40000").parse::<SocketAddr>().expect("peer")));
    app.send(req).await.status
}

/// The throttle counts the real peer: a client that sends a new `X-Forwarded-For` with
/// every try is still locked out after five failures. Behind a trusted proxy, the hop the
/// proxy adds is the client.
#[tokio::test]
async fn a_forged_forwarded_for_does_not_reset_the_throttle() {
    let app = app().await;
    for i in 0..5 {
        let s = failed_login(&app, "203.0.113.7", &format!("10.9.8.{i}")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "try {i}");
    }
    assert_eq!(
        failed_login(&app, "203.0.113.7", "10.9.8.200").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another real client is not affected.
    assert_eq!(failed_login(&app, "203.0.113.8", "10.9.8.1").await, StatusCode::UNAUTHORIZED);

    let behind = app_with(&[("VIGIL_TRUSTED_PROXIES", "10.0.0.0/8")]).await;
    for i in 0..5 {
        // Clients forge hops on the left; the proxy (10.0.0.2) appends the real one.
        let s = failed_login(&behind, "10.0.0.2", &format!("6.6.6.{i}, 198.51.100.9")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "try {i}");
    }
    assert_eq!(
        failed_login(&behind, "10.0.0.2", "1.1.1.1, 198.51.100.9").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        failed_login(&behind, "10.0.0.2", "198.51.100.10").await,
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy"
    );
}

/// After sign-in, only paths on this site are followed.
#[tokio::test]
async fn redirects_after_sign_in_stay_on_site() {
    let app = app().await;
    for (next, want) in [
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/alerts?x=1", "/alerts?x=1"),
    ] {
        let res = app
            .rpc(
                "login",
                &[
                    ("email", "pm@example.com"),
                    ("password", "correct horse battery"),
                    ("next", next),
                ],
                None,
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let went: String = serde_json::from_str(&res.body).expect("json string");
        assert_eq!(went, want, "next={next:?}");
    }
}

/// Over-long sign-in fields are refused by length (422 naming the field).
#[tokio::test]
async fn over_long_sign_in_fields_are_refused_by_name() {
    let app = app().await;
    let long_email = format!("{}@example.com", "a".repeat(400));
    let res =
        app.rpc("login", &[("email", &long_email), ("password", "whatever-pass")], None).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("email"), "{}", res.body);
    let long_pw = "x".repeat(2000);
    let res = app.rpc("login", &[("email", "pm@example.com"), ("password", &long_pw)], None).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("password"), "{}", res.body);
}

#[tokio::test]
async fn hsts_only_when_the_public_url_is_https() {
    let plain = app().await;
    let res = plain.get("/healthz", None).await;
    assert!(res.headers.get(header::STRICT_TRANSPORT_SECURITY).is_none());
    let tls = app_with(&[("VIGIL_PUBLIC_URL", "https://vigil.example.com")]).await;
    let res = tls.get("/healthz", None).await;
    assert_eq!(
        res.headers.get(header::STRICT_TRANSPORT_SECURITY).and_then(|v| v.to_str().ok()),
        Some("max-age=31536000; includeSubDomains")
    );
}

/// Pages carry a Content-Security-Policy whose nonce is the one on the page's inline
/// hydration script; everything else gets a policy without scripts. Both forbid framing.
#[tokio::test]
async fn pages_carry_a_csp_with_the_hydration_scripts_nonce() {
    let app = app().await;
    let page = app.get("/login", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .expect("a CSP on the login page")
        .to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a nonce in the policy");
    assert!(nonce.len() >= 16, "{csp}");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"));
    assert!(!csp.contains("'unsafe-eval'") && !csp.contains("script-src 'self' 'unsafe-inline'"));
    // Every inline script of the page carries that nonce.
    let scripts: Vec<&str> = page.body.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "the page has its hydration script");
    for s in &scripts {
        let tag = s.split('>').next().unwrap_or_default();
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "script without the nonce: <script{tag}>"
        );
    }
    // A second render gets another nonce.
    let again = app.get("/login", None).await;
    let csp2 = again.headers[header::CONTENT_SECURITY_POLICY].to_str().expect("csp");
    assert_ne!(csp, csp2, "a fresh nonce per response");
    // JSON answers get the no-script policy.
    let health = app.get("/healthz", None).await;
    let csp = health.headers[header::CONTENT_SECURITY_POLICY].to_str().expect("csp");
    assert!(csp.contains("script-src 'none'") && csp.contains("frame-ancestors 'none'"));
}
