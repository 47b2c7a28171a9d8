//! The whole HTTP stack driven with `oneshot`: health, metrics, page guard, sign-in
//! throttling, role and CSRF checks on server functions, the REST error envelope, audit.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::app;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = app().await;
    let h = app.get("/healthz", None).await;
    assert_eq!((h.status, h.body.as_str()), (StatusCode::OK, r#"{"status":"ok"}"#));
    assert_eq!(app.get("/readyz", None).await.status, StatusCode::OK);
    let m = app.get("/metrics", None).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.body
            .contains(r#"vigil_http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{}",
        m.body
    );
    assert!(m.body.contains("vigil_http_request_duration_seconds_bucket"));
    assert_eq!(
        h.headers.get("x-content-type-options").map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
}

#[tokio::test]
async fn pages_need_a_session_and_unknown_pages_are_404() {
    let app = app().await;
    let res = app.get("/admin/audit?x=1", None).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers.get(header::LOCATION).map(|v| v.to_str().unwrap_or("")),
        Some("/login?next=/admin/audit%3Fx%3D1")
    );
    let login = app.get("/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("login-form"), "login page renders");
    let cookie = app.login("pm@example.com").await;
    let home = app.get("/", Some(&cookie)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("/pkg/vigil.js"), "hydration script is linked");
    let missing = app.get("/no-such-page", Some(&cookie)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("not-found"));
}

#[tokio::test]
async fn wrong_passwords_are_throttled_with_retry_after() {
    let app = app().await;
    for i in 0..5 {
        let res = app
            .rpc("login", &[("email", "pm@example.com"), ("password", "wrong wrong wrong")], None)
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {i}: {}", res.body);
    }
    let res = app
        .rpc("login", &[("email", "pm@example.com"), ("password", "correct horse battery")], None)
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    let retry: u64 = res
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry));
    assert!(res.body.contains("RateLimited"), "{}", res.body);
}

#[tokio::test]
async fn a_viewer_gets_403_from_admin_server_functions() {
    let app = app().await;
    let viewer = app.login("pm@example.com").await;
    let res = app.rpc("admin/list_users", &[], Some(&viewer)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let res = app
        .rpc(
            "admin/create_user",
            &[
                ("email", "x@example.com"),
                ("name", "X"),
                ("role", "admin"),
                ("password", "long enough pw"),
            ],
            Some(&viewer),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    // No session at all: 401.
    assert_eq!(app.rpc("admin/list_users", &[], None).await.status, StatusCode::UNAUTHORIZED);
    // The viewer's admin page renders the no-access view.
    let page = app.get("/admin", Some(&viewer)).await;
    assert!(page.body.contains("data-testid=\"forbidden\""), "{}", page.body);
}

#[tokio::test]
async fn cross_site_writes_are_refused_and_writes_land_in_the_audit_log() {
    let app = app().await;
    let admin = app.login("admin@example.com").await;
    let form = "email=new%40example.com&name=New+Person&role=editor&password=long+enough+pw";
    // The admin's own cookie, sent by another site's page: refused before anything runs.
    for (h, v) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "https://evil.example.net"),
    ] {
        let req = Request::post("/rpc/admin/create_user")
            .header(header::HOST, "vigil.example.com")
            .header(h, v)
            .header(header::COOKIE, &admin)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("req");
        let res = app.send(req).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{h}: {v}: {}", res.body);
    }
    assert!(
        app.services.store().user_by_email("new@example.com").await.expect("q").is_none(),
        "nothing written"
    );
    // The same call from the site's own page goes through.
    let req = Request::post("/rpc/admin/create_user")
        .header(header::HOST, "vigil.example.com")
        .header("sec-fetch-site", "same-origin")
        .header(header::ORIGIN, "http://vigil.example.com")
        .header(header::COOKIE, &admin)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("req");
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    // Field errors name the field.
    let res = app
        .rpc(
            "admin/create_user",
            &[("email", "bad"), ("name", "N"), ("role", "viewer"), ("password", "long enough pw")],
            Some(&admin),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("\"field\":\"email\""), "{}", res.body);

    let log = app.rpc("admin/audit_log", &[], Some(&admin)).await;
    assert_eq!(log.status, StatusCode::OK);
    let rows: serde_json::Value = serde_json::from_str(&log.body).expect("json");
    let actions: Vec<&str> =
        rows.as_array().expect("array").iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(actions.first(), Some(&"user.create"), "{actions:?}");
    assert!(actions.contains(&"session.login"));
    assert_eq!(rows[0]["actor"], "admin@example.com");
    assert!(rows[0]["after"].as_str().unwrap_or_default().contains("new@example.com"));
}

#[tokio::test]
async fn cross_origin_server_function_calls_are_refused() {
    let app = app().await;
    let req = Request::post("/rpc/login")
        .header(header::HOST, "vigil.example.com")
        .header(header::ORIGIN, "https://evil.example.net")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("email=pm%40example.com&password=correct+horse+battery"))
        .expect("req");
    assert_eq!(app.send(req).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn rest_api_keys_and_error_envelope() {
    let app = app().await;
    let res = app.get("/api/v1/whoami", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");

    let admin = app.login("admin@example.com").await;
    let res = app
        .rpc("admin/create_api_key", &[("name", "reader"), ("scope", "read")], Some(&admin))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let secret: String = serde_json::from_str(&res.body).expect("secret");
    let req = Request::get("/api/v1/whoami")
        .header(header::AUTHORIZATION, format!("Bearer {secret}"))
        .body(Body::empty())
        .expect("req");
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("\"scope\":\"read\""));

    let missing = app.get("/api/v1/nothing-here", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let body: serde_json::Value = serde_json::from_str(&missing.body).expect("json");
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn language_cookie_drives_server_rendering() {
    let app = app().await;
    let res = app.get("/login", Some("vigil_lang=zh-CN")).await;
    assert!(res.body.contains("lang=\"zh-CN\""), "html lang");
    assert!(res.body.contains("登录 Vigil"), "Chinese text rendered");
    let res = app
        .send(
            Request::get("/login")
                .header(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert!(res.body.contains("登录 Vigil"));
    let res = app.get("/login", None).await;
    assert!(res.body.contains("Sign in to Vigil"));
}

#[tokio::test]
async fn event_ingestion_over_http() {
    let app = app().await;
    let admin = app.login("admin@example.com").await;
    let key_for = |scope: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let res = app
                .rpc("admin/create_api_key", &[("name", scope), ("scope", scope)], Some(&admin))
                .await;
            serde_json::from_str::<String>(&res.body).expect("secret")
        }
    };
    let ingest = key_for("ingest").await;
    let read = key_for("read").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let post = |key: Option<String>, ct: &'static str, body: String| {
        let mut b = Request::post("/api/v1/events").header(header::CONTENT_TYPE, ct);
        if let Some(k) = key {
            b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        b.body(Body::from(body)).expect("req")
    };
    let one = format!(
        r#"[{{"event_id":"h1","event_name":"user_login_success","user_id":"u1","timestamp":{now}}},{{"event_id":"h2","event_name":"bad","user_id":"u1","timestamp":{now}}}]"#
    );

    assert_eq!(
        app.send(post(None, "application/json", one.clone())).await.status,
        StatusCode::UNAUTHORIZED
    );
    let res = app.send(post(Some(read), "application/json", one.clone())).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "a read key cannot ingest");

    let res = app.send(post(Some(ingest.clone()), "application/json", one.clone())).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let report: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!(report["accepted"], 1);
    assert_eq!(report["duplicates"], 0);
    assert_eq!(report["rejected"][0]["index"], 1);
    assert_eq!(report["rejected"][0]["event_id"], "h2");
    assert!(report["rejected"][0]["error"].as_str().unwrap_or_default().starts_with("event_name:"));

    let res = app.send(post(Some(ingest.clone()), "application/json", one)).await;
    let report: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!((report["accepted"].as_u64(), report["duplicates"].as_u64()), (Some(0), Some(1)));

    let nd = format!("{{\"event_id\":\"n1\",\"event_name\":\"user_login_success\",\"user_id\":\"u2\",\"timestamp\":{now}}}\n");
    let res = app.send(post(Some(ingest.clone()), "application/x-ndjson", nd)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    let res = app
        .send(post(Some(ingest.clone()), "application/json", "[{\"event_id\": 1,,}]".into()))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let err: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!(err["error"]["code"], "malformed_json");
    assert!(
        err["error"]["message"].as_str().unwrap_or_default().starts_with("line 1, column"),
        "{}",
        res.body
    );

    let huge = format!("[{}]", "0,".repeat(3 * 1024 * 1024));
    let res = app.send(post(Some(ingest), "application/json", huge)).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body.contains("too_large"));
    assert_eq!(app.services.store().count_events().await.expect("count"), 2);
}

#[tokio::test]
async fn alertmanager_webhook_receiver() {
    let app = app().await;
    let admin = app.login("admin@example.com").await;
    let res = app
        .rpc("admin/create_api_key", &[("name", "alertmanager"), ("scope", "ingest")], Some(&admin))
        .await;
    let key: String = serde_json::from_str(&res.body).expect("secret");
    let post = |body: serde_json::Value, key: Option<&str>| {
        let mut b = Request::post("/api/v1/integrations/alertmanager")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(k) = key {
            b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        b.body(Body::from(body.to_string())).expect("req")
    };
    // Alertmanager's webhook v4, as it sends it.
    let hook = |status: &str, ends: &str| {
        serde_json::json!({
            "version": "4", "groupKey": "{}:{alertname=\"HighCPU\"}", "truncatedAlerts": 0,
            "status": status, "receiver": "vigil", "groupLabels": {"alertname": "HighCPU"},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
            "alerts": [{
                "status": status,
                "labels": {"alertname": "HighCPU", "severity": "P1", "instance": "node-1"},
                "annotations": {"summary": "CPU above 90% for 10 minutes"},
                "startsAt": "2026-11-25T09:00:00Z", "endsAt": ends,
                "generatorURL": "http://prometheus:9090/graph?g0.expr=cpu", "fingerprint": "c0ffee"
            }]
        })
    };
    assert_eq!(
        app.send(post(hook("firing", "0001-01-01T00:00:00Z"), None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let res = app.send(post(hook("firing", "0001-01-01T00:00:00Z"), Some(&key))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("\"firing\":1"), "{}", res.body);

    // Shown beside Vigil's alerts to a viewer.
    let pm = app.login("pm@example.com").await;
    let res = app.rpc("alerts/firing", &[], Some(&pm)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(
        res.body.contains("HighCPU") && res.body.contains("CPU above 90% for 10 minutes"),
        "{}",
        res.body
    );

    // Bad input: named field, nothing stored.
    let mut bad = hook("firing", "");
    bad["version"] = "3".into();
    bad["alerts"][0]["startsAt"] = "yesterday".into();
    let res = app.send(post(bad, Some(&key))).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    let body: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!(body["error"]["code"], "invalid");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, vec!["version", "alerts[0].startsAt"]);
    let res = app.send(post(serde_json::json!("not an object"), Some(&key))).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("malformed_json"), "{}", res.body);

    // Resolved: no longer listed; the calls are in the audit log.
    let res = app.send(post(hook("resolved", "2026-11-25T09:30:00Z"), Some(&key))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app.rpc("alerts/firing", &[], Some(&pm)).await;
    assert!(!res.body.contains("HighCPU"), "{}", res.body);
    let audit = app
        .services
        .store()
        .audit_entries(&store::AuditQuery {
            action_prefix: Some("integration.".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].actor, "api-key:alertmanager");
}

#[tokio::test]
async fn alerts_now_needs_a_read_key() {
    let app = app().await;
    let res = app.get("/api/v1/alerts", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let key = app
        .services
        .accounts()
        .create_api_key(&services::Caller::system("cli"), "reader", "read")
        .await
        .expect("key")
        .secret;
    let res = app
        .send(
            Request::get("/api/v1/alerts")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body, r#"{"alerts":[],"external":[]}"#);
}

#[tokio::test]
async fn probes_api_needs_a_read_key_and_lists_figures() {
    let app = app().await;
    assert_eq!(app.get("/api/v1/probes", None).await.status, StatusCode::UNAUTHORIZED);
    let ingest = app
        .services
        .accounts()
        .create_api_key(&services::Caller::system("cli"), "pusher", "ingest")
        .await
        .expect("key")
        .secret;
    let read = app
        .services
        .accounts()
        .create_api_key(&services::Caller::system("cli"), "reader", "read")
        .await
        .expect("key")
        .secret;
    let get = |key: &str| {
        Request::get("/api/v1/probes")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .expect("req")
    };
    assert_eq!(app.send(get(&ingest)).await.status, StatusCode::FORBIDDEN);
    let p = app
        .services
        .store()
        .create_probe(
            &domain::probe::ProbeSpec::new("API", "http://127.0.0.1:9/health"),
            &store::AuditCtx::system("test", app.services.now_ms()),
        )
        .await
        .expect("probe");
    app.services
        .store()
        .record_probe_results(&[(
            p.id,
            domain::probe::ProbeResult {
                at_ms: app.services.now_ms() - 1000,
                ok: true,
                status: Some(200),
                latency_ms: 12.0,
                error: None,
            },
        )])
        .await
        .expect("result");
    let res = app.send(get(&read)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    let probe = &v["probes"][0];
    assert_eq!(probe["spec"]["name"], "API");
    assert_eq!(probe["availability_24h"], 1.0);
    assert_eq!(probe["last"]["status"], 200);
    assert_eq!(probe["burns"].as_array().map(Vec::len), Some(4));
    assert!(probe.get("chart_svg").is_none(), "no SVG in the API");
}

#[tokio::test]
async fn incidents_api_needs_a_read_key_filters_and_exports() {
    let app = app().await;
    assert_eq!(app.get("/api/v1/incidents", None).await.status, StatusCode::UNAUTHORIZED);
    let read = app
        .services
        .accounts()
        .create_api_key(&services::Caller::system("cli"), "reader", "read")
        .await
        .expect("key")
        .secret;
    let get = |path: &str| {
        Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {read}"))
            .body(Body::empty())
            .expect("req")
    };
    let now = app.services.now_ms();
    let inc = app
        .services
        .store()
        .create_incident(
            &store::NewIncident {
                fields: domain::incident::IncidentFields {
                    title: "Checkout errors".into(),
                    severity: domain::alerting::Severity::P1,
                    ..Default::default()
                },
                detected_at_ms: now - 60_000,
                day: "20261126".into(),
                roles: Default::default(),
                reporter_id: None,
                reporter: "test".into(),
            },
            None,
            &store::AuditCtx::system("test", now),
        )
        .await
        .expect("incident");
    assert_eq!(inc.code, "INC-20261126-001");

    let res = app.send(get("/api/v1/incidents")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!(v["incidents"][0]["code"], "INC-20261126-001");
    assert_eq!(v["incidents"][0]["status"], "detecting");
    assert_eq!(v["incidents"][0]["severity"], "P1");

    let res = app.send(get("/api/v1/incidents?status=done")).await;
    assert_eq!(res.body, r#"{"incidents":[]}"#);
    let res = app.send(get("/api/v1/incidents?severity=P4")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("severity"), "{}", res.body);
    let res = app.send(get("/api/v1/incidents?colour=red")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);

    let res = app.send(get("/api/v1/incidents/INC-20261126-001")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!(v["incident"]["code"], "INC-20261126-001");
    assert_eq!(v["timeline"][0]["kind"], "declared");
    assert_eq!(v["checklist"].as_array().map(Vec::len), Some(5), "P1: five steps");
    assert_eq!(
        app.send(get("/api/v1/incidents/INC-19990101-001")).await.status,
        StatusCode::NOT_FOUND
    );

    let res = app.send(get("/api/v1/incidents/INC-20261126-001/postmortem.md")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.headers[header::CONTENT_TYPE], "text/markdown; charset=utf-8");
    assert!(res.body.starts_with("# 事故复盘报告\n"), "{}", res.body);
    assert!(res.body.contains("| 事故 ID | INC-20261126-001 |"));
}

#[tokio::test]
async fn oncall_api_ack_links_and_calendar_feeds() {
    let app = app().await;
    let svc = &app.services;
    assert_eq!(svc.oncall().load_demo_oncall().await.expect("demo"), 2);
    // Who is on call: read key required.
    assert_eq!(app.get("/api/v1/oncall", None).await.status, StatusCode::UNAUTHORIZED);
    let read = svc
        .accounts()
        .create_api_key(&services::Caller::system("cli"), "reader", "read")
        .await
        .expect("key")
        .secret;
    let res = app
        .send(
            Request::get("/api/v1/oncall")
                .header(header::AUTHORIZATION, format!("Bearer {read}"))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    let names: Vec<&str> = v["schedules"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Primary on-call", "Weekend backup"]);
    assert!(
        v["schedules"][0]["now"]["name"].is_string(),
        "the roster covers every hour: {}",
        res.body
    );

    // A calendar feed behind a secret token; unknown tokens are 404 without a session.
    let schedules = svc.store().schedules().await.expect("schedules");
    let token = "0123456789abcdef0123456789abcdef0123456789abcdef";
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(token.as_bytes()))
    };
    svc.store()
        .rotate_feed(
            store::FeedKind::Schedule,
            schedules[0].id,
            &hash,
            &store::AuditCtx::system("test", svc.now_ms()),
        )
        .await
        .expect("feed");
    let res = app.get(&format!("/ical/{token}.ics"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.headers[header::CONTENT_TYPE], "text/calendar; charset=utf-8");
    assert!(res.body.starts_with("BEGIN:VCALENDAR\r\n"), "{}", res.body);
    assert!(res.body.contains("BEGIN:VEVENT"));
    assert_eq!(app.get("/ical/nope.ics", None).await.status, StatusCode::NOT_FOUND);

    // A signed acknowledgement link: GET only shows it, POST acknowledges.
    let policy = svc.store().escalation_policies().await.expect("policies")[0].id;
    let esc = svc
        .store()
        .start_escalation(
            &store::NewEscalation {
                policy_id: policy,
                target: None,
                subject_key: "rule-1@1".into(),
                rule_id: None,
                title: "Checkout down".into(),
                severity: "P0".into(),
                started_at_ms: svc.now_ms(),
            },
            &store::AuditCtx::system("test", svc.now_ms()),
        )
        .await
        .expect("start")
        .expect("new");
    let user = svc.store().list_users().await.expect("users")[0].id;
    let url = svc.oncall().ack_url(esc.id, user).await.expect("url");
    let path = &url[url.find("/ack/").expect("path")..];
    let res = app.get(path, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("Acknowledge this page?") && res.body.contains("Checkout down"));
    assert!(svc.store().escalation(esc.id).await.expect("esc").is_open(), "GET changes nothing");
    let res = app.send(Request::post(path).body(Body::empty()).expect("req")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("Acknowledged"), "{}", res.body);
    assert!(!svc.store().escalation(esc.id).await.expect("esc").is_open());
    let res = app.get(path, None).await;
    assert!(res.body.contains("Already handled"), "{}", res.body);
    let forged = format!("{}x", &path[..path.len() - 1]);
    assert_eq!(app.get(&forged, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn changes_api_records_once_per_id_names_bad_fields_and_lists() {
    let app = app().await;
    let system = services::Caller::system("cli");
    let key = |scope: &'static str| {
        let app = &app;
        let system = &system;
        async move {
            app.services.accounts().create_api_key(system, scope, scope).await.expect("key").secret
        }
    };
    let (changes, read) = (key("changes").await, key("read").await);
    let post = |secret: &str, body: &str| {
        Request::post("/api/v1/changes")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .expect("req")
    };
    let deploy = r#"{"service":"checkout","kind":"deploy","version":"v1.4.2","author":"ci",
        "description":"Rolls out the new payment client","url":"https://ci.example/runs/42","id":"run-42"}"#;
    let res = app.send(post(&changes, deploy)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let v: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!((v["service"].as_str(), v["kind"].as_str()), (Some("checkout"), Some("deploy")));
    assert_eq!(v["recorded_by"], "api-key:changes");
    // A retry with the same id: 200, the same change, nothing new.
    let again = app.send(post(&changes, deploy)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&again.body).expect("json")["id"],
        v["id"]
    );
    // Hostile or wrong fields are named; a read key may not write.
    let res = app
        .send(post(
            &changes,
            r#"{"service":"checkout","kind":"deploy","url":"javascript:alert(1)"}"#,
        ))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("\"url\""), "{}", res.body);
    let res =
        app.send(post(&changes, r#"{"service":"checkout","kind":"deploy","colour":1}"#)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("colour"), "{}", res.body);
    assert_eq!(app.send(post(&read, deploy)).await.status, StatusCode::FORBIDDEN);
    let flag = r#"{"service":"search","kind":"flag","description":"new ranking on"}"#;
    assert_eq!(app.send(post(&changes, flag)).await.status, StatusCode::CREATED);

    let get = |path: &str| {
        Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {read}"))
            .body(Body::empty())
            .expect("req")
    };
    let res = app.send(get("/api/v1/changes")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(2), "{v}");
    let res = app.send(get("/api/v1/changes?service=checkout&kind=deploy")).await;
    let v: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["changes"][0]["version"], "v1.4.2");
    let res = app.send(get("/api/v1/changes?kind=rollout")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("kind"), "{}", res.body);
}

#[tokio::test]
async fn kpi_api_returns_the_cards_figures_as_json_and_csv() {
    let app = app().await;
    let system = services::Caller::system("cli");
    let secret = |scope: &'static str| {
        let app = &app;
        let system = &system;
        async move {
            app.services.accounts().create_api_key(system, scope, scope).await.expect("key").secret
        }
    };
    let (ingest, read) = (secret("ingest").await, secret("read").await);
    // Today (UTC, the default reporting zone): three payments, two currencies.
    let paid = chrono::Utc::now() - chrono::Duration::seconds(60);
    let today = paid.format("%Y-%m-%d").to_string();
    let now = paid.timestamp_millis() + 60_000;
    let pay = |id: &str, user: &str, amount: f64, currency: &str| {
        serde_json::json!({"event_id": id, "event_name": "subscription_start", "user_id": user,
            "timestamp": now - 60_000,
            "properties": {"plan": "pro", "amount": amount, "currency": currency, "period": "month"}})
    };
    let body = serde_json::json!([
        pay("k1", "a", 30.0, "CNY"),
        pay("k2", "b", 30.0, "CNY"),
        pay("k3", "c", 5.5, "USD")
    ]);
    let res = app
        .send(
            Request::post("/api/v1/events")
                .header(header::AUTHORIZATION, format!("Bearer {ingest}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .expect("req"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let get = |path: String, accept: Option<&'static str>| {
        let mut b = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {read}"));
        if let Some(a) = accept {
            b = b.header(header::ACCEPT, a);
        }
        b.body(Body::empty()).expect("req")
    };

    // The catalogue lists every dashboard KPI, with what the segmented ones need.
    let res = app.send(get("/api/v1/kpis".into(), None)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let cat: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    let keys: Vec<&str> =
        cat["kpis"].as_array().expect("list").iter().filter_map(|k| k["key"].as_str()).collect();
    for k in [
        "retention_d1",
        "stickiness",
        "churn",
        "arpa",
        "ltv",
        "mrr",
        "nps",
        "feature_penetration",
        "funnel_conversion",
    ] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }

    // Revenue today, JSON: CNY leads (two of three payments), USD beside it.
    let q = format!("from={today}&to={today}");
    let res = app.send(get(format!("/api/v1/kpis/revenue?{q}"), None)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    assert_eq!(v["value"], 60.0);
    assert_eq!(v["currency"], "CNY");
    assert_eq!(v["other_currencies"], serde_json::json!([["USD", 5.5]]));
    assert_eq!(v["series"].as_array().map(Vec::len), Some(1));

    // The same as CSV (by format, and by Accept): the range row carries the card's value.
    for (path, accept) in [
        (format!("/api/v1/kpis/revenue?{q}&format=csv"), None),
        (format!("/api/v1/kpis/revenue?{q}"), Some("text/csv")),
    ] {
        let res = app.send(get(path, accept)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(res.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv"));
        let lines: Vec<&str> = res.body.lines().collect();
        assert_eq!(lines[0], "kpi,period,from,to,value,previous,change_pct,unit,currency");
        assert!(
            lines[1].starts_with(&format!("revenue,range,{today},{today},60,")),
            "{}",
            res.body
        );
        assert!(lines[1].ends_with(",money,CNY"), "{}", res.body);
        assert_eq!(lines[2], format!("revenue,range,{today},{today},5.5,,,money,USD"));
        assert_eq!(lines[3], format!("revenue,day,{today},{today},60,,,money,CNY"));
    }

    // The dashboard's card says the same.
    let cookie = app.login("pm@example.com").await;
    let res = app
        .rpc(
            "dash/business",
            &[
                ("q[range]", "custom"),
                ("q[from]", &today),
                ("q[to]", &today),
                ("q[granularity]", "day"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let dash: serde_json::Value = serde_json::from_str(&res.body).expect("json");
    let card = dash["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .find(|c| c["key"] == "revenue")
        .expect("revenue card")
        .clone();
    assert_eq!(card["value"], "60.00 CNY");
    assert_eq!(card["others"], serde_json::json!(["5.50 USD"]));
    // …and the card's CSV link (the browser's session, no key) gives the API's CSV.
    let csv = app.get(&format!("/export/kpis/revenue?{q}"), Some(&cookie)).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert!(
        csv.body
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&format!("revenue,range,{today},{today},60,"))),
        "{}",
        csv.body
    );
    assert!(csv.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap_or_default()
        .contains("attachment"));
    // The cohort table's and a funnel's CSV links.
    let cohorts = app.get(&format!("/export/cohorts?{q}"), Some(&cookie)).await;
    assert_eq!(cohorts.status, StatusCode::OK, "{}", cohorts.body);
    assert!(cohorts.body.starts_with("cohort_day,size,d1,d2,d3,d7,d14,d30\n"), "{}", cohorts.body);
    let funnel = app
        .get(
            &format!("/export/funnel?{q}&segment=subscription_start,subscription_renew&window=24"),
            Some(&cookie),
        )
        .await;
    assert_eq!(funnel.status, StatusCode::OK, "{}", funnel.body);
    let rows: Vec<&str> = funnel.body.lines().collect();
    assert_eq!(rows[0], "step,event,users,from_start,from_previous,drop_off");
    assert_eq!(rows[1], "1,subscription_start,3,1,1,false", "{}", funnel.body);
    assert_eq!(rows[2], "2,subscription_renew,0,0,0,true", "{}", funnel.body);
    let bad =
        app.get(&format!("/export/funnel?{q}&segment=a_b_c,d_e_f&window=0"), Some(&cookie)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(bad.body.contains("\"window\""), "{}", bad.body);
    let signed_out = app.get(&format!("/export/kpis/revenue?{q}"), None).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER, "to the sign-in page");

    // Bad requests name the parameter.
    for (path, field) in [
        (format!("/api/v1/kpis/nope?{q}"), "kpi"),
        (format!("/api/v1/kpis/revenue?{q}&granularity=hour"), "granularity"),
        ("/api/v1/kpis/revenue?from=yesterday".to_owned(), "from"),
        (format!("/api/v1/kpis/feature_penetration?{q}"), "segment"),
        (format!("/api/v1/kpis/revenue?{q}&segment=x"), "segment"),
        (format!("/api/v1/kpis/revenue?{q}&format=xml"), "format"),
        (format!("/api/v1/kpis/revenue?{q}&colour=red"), "query"),
    ] {
        let res = app.send(get(path.clone(), None)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{path}: {}", res.body);
        assert!(res.body.contains(&format!("\"{field}\"")), "{path}: {}", res.body);
    }
    // An ingest key may not read KPIs.
    let res = app
        .send(
            Request::get("/api/v1/kpis")
                .header(header::AUTHORIZATION, format!("Bearer {ingest}"))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}
