//! Server functions of the account feature: each resolves the caller, then makes one
//! services call.

use crate::error::AppError;
use leptos::prelude::*;

/// Signs in; sets the session and language cookies. Returns where to go next.
#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<String, AppError> {
    use crate::i18n::LANG_COOKIE;
    use crate::session::{cookies, ssr, SESSION_COOKIE};
    let svc = ssr::services()?;
    let parts = use_context::<http::request::Parts>().ok_or(AppError::Internal)?;
    let ip = ssr::client_ip(&parts.extensions);
    let ua = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let ok = svc.accounts().login(&email, &password, &ip, &ua).await?;
    let max_age = (ok.expires_at_ms - svc.now_ms()) / 1000;
    cookies::set(cookies::build(SESSION_COOKIE, &ok.session_token, true, Some(max_age)));
    cookies::set(cookies::build(LANG_COOKIE, ok.user.locale.tag(), false, Some(365 * 86_400)));
    // Only paths on this site: never redirect to another site after sign-in.
    let next = next.as_deref().and_then(domain::accounts::local_redirect).unwrap_or("/").to_owned();
    Ok(next)
}

/// Signs out the current session.
#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::session::{cookies, ssr, SESSION_COOKIE};
    let (svc, actor) = ssr::door().await?;
    let parts = use_context::<http::request::Parts>().ok_or(AppError::Internal)?;
    let token = ssr::session_token(&parts.headers).unwrap_or_default();
    svc.accounts().logout(&actor, &token).await?;
    cookies::set(cookies::build(SESSION_COOKIE, "", true, Some(0)));
    Ok(())
}

/// Sets the UI language: stored on the account when signed in, and in a cookie.
#[server(prefix = "/rpc", endpoint = "set_language")]
pub async fn set_language(locale: String) -> Result<(), AppError> {
    use crate::i18n::LANG_COOKIE;
    use crate::session::{cookies, ssr};
    let Some(tag) = domain::Locale::from_tag(&locale) else {
        return Err(services::ServiceError::invalid("locale", "must be en or zh-CN").into());
    };
    if let Some(actor) = ssr::current_actor().await? {
        let tz = actor.time_zone.clone();
        ssr::services()?.accounts().set_preferences(&actor, tag.tag(), &tz).await?;
    }
    cookies::set(cookies::build(LANG_COOKIE, tag.tag(), false, Some(365 * 86_400)));
    Ok(())
}

/// Saves language and time zone.
#[server(prefix = "/rpc", endpoint = "save_preferences")]
pub async fn save_preferences(locale: String, time_zone: String) -> Result<(), AppError> {
    use crate::i18n::LANG_COOKIE;
    use crate::session::{cookies, ssr};
    let (svc, actor) = ssr::door().await?;
    let user = svc.accounts().set_preferences(&actor, &locale, &time_zone).await?;
    cookies::set(cookies::build(LANG_COOKIE, user.locale.tag(), false, Some(365 * 86_400)));
    Ok(())
}

/// Changes the caller's password.
#[server(prefix = "/rpc", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.accounts().change_password(&actor, &current_password, &new_password).await?;
    Ok(())
}

/// Common time zones for the picker (any IANA name is accepted).
#[server(prefix = "/rpc", endpoint = "time_zones")]
pub async fn time_zones() -> Result<Vec<String>, AppError> {
    Ok(services::timefmt::COMMON_TIME_ZONES.iter().map(|s| (*s).to_owned()).collect())
}
