//! Shared setup of the services scenario tests: a fresh SQLite store and a fake clock.

use services::events::EventSettings;
use services::{AuthSettings, FakeClock, Services};
use std::sync::Arc;

/// 2026-11-25T09:35:12Z.
pub const NOW: i64 = 1_795_599_312_000;

/// Services on a new SQLite database (migrated), the clock at [`NOW`], days in `tz`.
#[allow(dead_code)] // not every test binary that shares this module uses it
pub async fn services_at(tag: &str, tz: chrono_tz::Tz) -> Services {
    let (store, _dir) = store::testing::sqlite_store(&format!("vigil-{tag}")).await;
    Services::new(store, Arc::new(FakeClock::at(NOW)), AuthSettings::default())
        .with_event_settings(EventSettings { reporting_tz: tz, ..Default::default() })
}

/// Creates a user with `role`, signs in and returns the session's actor.
#[allow(dead_code)] // not every test binary that shares this module uses it
pub async fn signed_in(svc: &Services, email: &str, role: &str) -> services::Caller {
    svc.accounts()
        .create_user(
            &services::Caller::system("test"),
            &services::accounts::CreateUser {
                email: email.into(),
                name: email.into(),
                role: role.into(),
                password: "correct horse battery".into(),
            },
        )
        .await
        .expect("create user");
    let ok = svc
        .accounts()
        .login(email, "correct horse battery", "10.0.0.9", "test")
        .await
        .expect("login");
    svc.accounts()
        .session_actor(&ok.session_token, "10.0.0.9")
        .await
        .expect("session")
        .expect("actor")
}

/// Serves `app` on a free loopback port for the rest of the test; returns its address.
#[allow(dead_code)] // not every test binary that shares this module uses it
pub async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A local Feishu-style receiver that keeps every body it is sent.
#[allow(dead_code)] // not every test binary that shares this module uses it
pub async fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>) {
    use axum::routing::post;
    let got: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let g = g.clone();
            async move {
                g.lock().expect("lock").push(v);
                axum::Json(serde_json::json!({"code": 0, "msg": "success"}))
            }
        }),
    );
    let addr = serve(app).await;
    (format!("http://{addr}/hook"), got)
}

/// Ingests `events` (a JSON array) as the system would; panics on a refusal.
#[allow(dead_code)] // not every test binary that shares this module uses it
pub async fn ingest(
    svc: &services::Services,
    events: &(impl serde::Serialize + ?Sized),
) -> services::events::IngestReport {
    let body = serde_json::to_vec(events).expect("json");
    svc.events()
        .ingest_events(&services::Caller::system("test"), &body, false)
        .await
        .expect("ingest")
}
