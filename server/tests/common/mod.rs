//! The whole HTTP stack driven with `oneshot`, shared by the server's test binaries.

use app::session::cookies::CookiePolicy;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use server::metrics::Metrics;
use server::{build_router, AppState, Config};
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    #[allow(dead_code)] // not every test binary that shares this module uses it
    pub services: services::Services,
}

/// The whole stack on a fresh SQLite database, with an admin and a viewer.
#[allow(dead_code)] // not every test binary that shares this module uses it
pub async fn app() -> TestApp {
    app_with(&[]).await
}

/// The same with extra `VIGIL_*` settings.
pub async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    let dir = store::testing::temp_dir("vigil-http");
    let mut vars = vec![("VIGIL_DATA_DIR".to_owned(), dir.display().to_string())];
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let config = Config::from_sources(None, &vars).expect("config");
    let store = server::wiring::open_store(&config).await.expect("store");
    let services = server::wiring::services_for(&config, store);
    for (email, role) in [("admin@example.com", "admin"), ("pm@example.com", "viewer")] {
        add_user(&services, email, role).await;
    }
    let state = AppState {
        services: services.clone(),
        leptos: server::cli::leptos_options(&config),
        metrics: Metrics::default(),
        cookie_policy: CookiePolicy::default(),
        max_body_bytes: config.max_body_bytes,
        edge: config.edge_policy(),
    };
    TestApp { router: build_router(state), services }
}

pub struct Res {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl TestApp {
    #[allow(dead_code)]
    pub async fn send(&self, req: Request<Body>) -> Res {
        let res = self.router.clone().oneshot(req).await.expect("response");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        Res { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    #[allow(dead_code)]
    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Res {
        let mut b = Request::get(path);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::empty()).expect("req")).await
    }

    /// Calls a server function the way the browser does (form-encoded POST).
    #[allow(dead_code)]
    pub async fn rpc(&self, name: &str, form: &[(&str, &str)], cookie: Option<&str>) -> Res {
        let body: String =
            form.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        let mut b = Request::post(format!("/rpc/{name}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::from(body)).expect("req")).await
    }

    /// Signs in; returns the session cookie pair.
    #[allow(dead_code)]
    pub async fn login(&self, email: &str) -> String {
        let res = self
            .rpc("login", &[("email", email), ("password", "correct horse battery")], None)
            .await;
        assert_eq!(res.status, StatusCode::OK, "login: {}", res.body);
        let cookies: Vec<String> = res
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let session =
            cookies.iter().find(|c| c.starts_with("vigil_session=")).expect("session cookie");
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
        assert!(!session.contains("Secure"), "plain http in tests: {session}");
        session.split(';').next().expect("pair").to_owned()
    }
}

#[allow(unused_imports)]
pub use app::components::urlencode;

/// Serves `app` on a loopback port (with peer addresses, as `vigil serve` does).
#[allow(dead_code)] // not every test binary that shares this module uses it
pub async fn serve(app: &TestApp) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app.router.clone();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    addr
}

/// Adds a person with `role` (password "correct horse battery"), as the CLI would.
pub async fn add_user(services: &services::Services, email: &str, role: &str) {
    services
        .accounts()
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
        .expect("user");
}
