//! Who is signed in: the `Me` the UI shows, and (on the server) the `services::Caller` of
//! the current request, built once from its session cookie.

use crate::error::AppError;
use domain::{Locale, Permission, Role};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Name of the session cookie (HttpOnly, SameSite=Lax).
pub const SESSION_COOKIE: &str = "vigil_session";

/// The signed-in user as the UI sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub locale: Locale,
    pub time_zone: String,
}

impl Me {
    /// Whether to offer `p` (the server decides; this only hides what would be refused).
    pub fn can(&self, p: Permission) -> bool {
        self.role.can(p)
    }
}

/// The current user, or `None` when signed out.
#[server(prefix = "/rpc", endpoint = "me")]
pub async fn get_me() -> Result<Option<Me>, AppError> {
    Ok(ssr::current_actor().await?.and_then(|a| {
        Some(Me {
            user_id: a.user_id()?,
            role: a.role()?,
            email: a.email,
            name: a.name,
            locale: a.locale,
            time_zone: a.time_zone,
        })
    }))
}

/// The `Me` resource provided at the root.
pub type MeResource = Resource<Result<Option<Me>, AppError>>;

pub fn use_me() -> MeResource {
    expect_context::<MeResource>()
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Server-side helpers for server functions.
    use super::SESSION_COOKIE;
    use crate::error::AppError;
    use crate::i18n::cookie_value;
    use leptos::prelude::*;
    use services::{Caller, Services};

    /// The services facade, provided as context by the server.
    pub fn services() -> Result<Services, AppError> {
        use_context::<Services>().ok_or(AppError::Internal)
    }

    /// The request's client IP as set by the server's connect-info layer.
    pub fn client_ip(extensions: &http::Extensions) -> String {
        extensions.get::<ClientIp>().map(|c| c.0.clone()).unwrap_or_default()
    }

    /// Client IP, inserted into request extensions by the server.
    #[derive(Debug, Clone)]
    pub struct ClientIp(pub String);

    /// The session token from the request's cookies.
    pub fn session_token(headers: &http::HeaderMap) -> Option<String> {
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| cookie_value(c, SESSION_COOKIE))
    }

    /// The signed-in person of this request, if any: the caller the server's door built
    /// for this request (one session lookup per request), else resolved here.
    pub async fn current_actor() -> Result<Option<Caller>, AppError> {
        let Some(parts) = use_context::<http::request::Parts>() else {
            return Ok(None);
        };
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.user_id().is_some().then(|| caller.clone()));
        }
        let Some(token) = session_token(&parts.headers) else {
            return Ok(None);
        };
        let ip = client_ip(&parts.extensions);
        Ok(services()?.accounts().session_actor(&token, &ip).await?)
    }

    /// The caller of this request: the signed-in person, or nobody (whom every service
    /// method refuses with 401). Server functions pass it to one service method, which
    /// checks the permission of its action.
    /// What every server function starts with: the services and who is calling.
    pub async fn door() -> Result<(Services, Caller), AppError> {
        Ok((services()?, caller().await?))
    }

    pub async fn caller() -> Result<Caller, AppError> {
        match current_actor().await? {
            Some(a) => Ok(a),
            None => {
                let ip = use_context::<http::request::Parts>()
                    .map(|p| client_ip(&p.extensions))
                    .unwrap_or_default();
                Ok(Caller::anonymous(&ip))
            }
        }
    }
}

#[cfg(feature = "ssr")]
pub mod cookies {
    //! Building `Set-Cookie` values for the session and language cookies.
    use leptos::prelude::*;

    /// Whether cookies get the `Secure` flag: set by the server from its public URL.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct CookiePolicy {
        pub secure: bool,
    }

    fn secure(parts: Option<&http::request::Parts>) -> bool {
        let policy = use_context::<CookiePolicy>().unwrap_or_default();
        let forwarded_https = parts
            .and_then(|p| p.headers.get("x-forwarded-proto"))
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
        policy.secure || forwarded_https
    }

    /// `name=value; Path=/; SameSite=Lax[; HttpOnly][; Secure][; Max-Age=N]`.
    pub fn build(name: &str, value: &str, http_only: bool, max_age_secs: Option<i64>) -> String {
        let parts = use_context::<http::request::Parts>();
        let mut c = format!("{name}={value}; Path=/; SameSite=Lax");
        if http_only {
            c.push_str("; HttpOnly");
        }
        if secure(parts.as_ref()) {
            c.push_str("; Secure");
        }
        if let Some(age) = max_age_secs {
            c.push_str(&format!("; Max-Age={age}"));
        }
        c
    }

    /// Appends a `Set-Cookie` header to the current server-function response.
    pub fn set(cookie: String) {
        if let (Some(opts), Ok(v)) =
            (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(&cookie))
        {
            opts.append_header(http::header::SET_COOKIE, v);
        }
    }
}
