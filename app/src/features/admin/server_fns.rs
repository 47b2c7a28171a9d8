//! Admin server functions: resolve the caller, one services call (which checks the role
//! and the CSRF token), map rows for display in the caller's time zone.

use crate::error::AppError;
use domain::{ApiScope, Role};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRow {
    pub id: i64,
    pub name: String,
    pub scope: ApiScope,
    pub prefix: String,
    pub created: String,
    pub last_used: Option<String>,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub changes: Vec<String>,
    pub ip: String,
}

#[server(prefix = "/rpc", endpoint = "admin/list_users")]
pub async fn list_users() -> Result<Vec<UserRow>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let users = svc.accounts().list_users(&actor).await?;
    Ok(users
        .into_iter()
        .map(|u| UserRow {
            active: u.is_active(),
            created: services::timefmt::format_ms(u.created_at_ms, &actor.time_zone),
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
        })
        .collect())
}

#[server(prefix = "/rpc", endpoint = "admin/create_user")]
pub async fn create_user(
    email: String,
    name: String,
    role: String,
    password: String,
) -> Result<i64, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let input = services::accounts::CreateUser { email, name, role, password };
    Ok(svc.accounts().create_user(&actor, &input).await?.id)
}

#[server(prefix = "/rpc", endpoint = "admin/set_user_role")]
pub async fn set_user_role(user_id: i64, role: String) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.accounts().set_user_role(&actor, user_id, &role).await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin/set_user_disabled")]
pub async fn set_user_disabled(user_id: i64, disabled: bool) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.accounts().set_user_disabled(&actor, user_id, disabled).await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "admin/list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyRow>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let keys = svc.accounts().list_api_keys(&actor).await?;
    let tz = actor.time_zone.clone();
    Ok(keys
        .into_iter()
        .map(|k| ApiKeyRow {
            created: services::timefmt::format_ms(k.created_at_ms, &tz),
            last_used: k.last_used_at_ms.map(|t| services::timefmt::format_ms(t, &tz)),
            revoked: k.revoked_at_ms.is_some(),
            id: k.id,
            name: k.name,
            scope: k.scope,
            prefix: k.prefix,
        })
        .collect())
}

/// Creates a key and returns its secret (shown once).
#[server(prefix = "/rpc", endpoint = "admin/create_api_key")]
pub async fn create_api_key(name: String, scope: String) -> Result<String, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    Ok(svc.accounts().create_api_key(&actor, &name, &scope).await?.secret)
}

#[server(prefix = "/rpc", endpoint = "admin/revoke_api_key")]
pub async fn revoke_api_key(id: i64) -> Result<(), AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    svc.accounts().revoke_api_key(&actor, id).await?;
    Ok(())
}

/// Newest first; `before_id` pages back.
#[server(prefix = "/rpc", endpoint = "admin/audit_log")]
pub async fn audit_log(
    action: Option<String>,
    before_id: Option<i64>,
) -> Result<Vec<AuditRow>, AppError> {
    let (svc, actor) = crate::session::ssr::door().await?;
    let entries = svc.accounts().audit_log(&actor, action, before_id, 50).await?;
    Ok(entries
        .into_iter()
        .map(|v| AuditRow {
            id: v.entry.id,
            at: v.at_display,
            actor: v.entry.actor,
            action: v.entry.action,
            target: v.entry.target,
            before: v.entry.before_json,
            after: v.entry.after_json,
            changes: v.changes,
            ip: v.entry.ip,
        })
        .collect())
}
