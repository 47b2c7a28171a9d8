//! Browser sessions. The cookie carries a random token; only its SHA-256 is stored, so a
//! leaked database does not leak live sessions.

use crate::audit::{self, AuditCtx};
use crate::users::User;
use crate::{Result, Store};
use domain::{Locale, Role};
use sqlx::Row;

/// Input for [`Store::create_session`].
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: i64,
    pub expires_at_ms: i64,
    pub ip: String,
    pub user_agent: String,
}

/// A live session with its (enabled) user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub locale: Locale,
    pub time_zone: String,
    pub expires_at_ms: i64,
    pub last_seen_at_ms: i64,
}

impl Store {
    /// Stores a new session and audits the sign-in.
    pub async fn create_session(&self, s: &NewSession, user: &User, ctx: &AuditCtx) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms, last_seen_at_ms, ip, user_agent)
             VALUES ($1, $2, $3, $4, $3, $5, $6)",
        )
        .bind(&s.token_hash)
        .bind(s.user_id)
        .bind(ctx.at_ms)
        .bind(s.expires_at_ms)
        .bind(&s.ip)
        .bind(&s.user_agent)
        .execute(&mut *tx)
        .await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "session.login",
            &format!("user:{}", user.id),
            None,
            Some(&serde_json::json!({"email": user.email, "user_agent": s.user_agent})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session for `token_hash` if it is unexpired and its user enabled.
    pub async fn session_user(&self, token_hash: &str, now_ms: i64) -> Result<Option<SessionUser>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.name, u.role, u.locale, u.time_zone,
                    s.expires_at_ms, s.last_seen_at_ms
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at_ms > $2 AND u.disabled_at_ms IS NULL",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let role: String = r.try_get("role")?;
            let locale: String = r.try_get("locale")?;
            Ok(SessionUser {
                user_id: r.try_get("id")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                role: role.parse().map_err(crate::StoreError::Corrupt)?,
                locale: Locale::from_tag(&locale).unwrap_or_default(),
                time_zone: r.try_get("time_zone")?,
                expires_at_ms: r.try_get("expires_at_ms")?,
                last_seen_at_ms: r.try_get("last_seen_at_ms")?,
            })
        })
        .transpose()
    }

    /// Slides a session's expiry forward (not audited: bookkeeping, not a user write).
    pub async fn touch_session(
        &self,
        token_hash: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at_ms = $2, expires_at_ms = $3 WHERE token_hash = $1",
        )
        .bind(token_hash)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a session and audits the sign-out. Ending an unknown session is not an error.
    pub async fn delete_session(
        &self,
        token_hash: &str,
        user_id: i64,
        ctx: &AuditCtx,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        if res.rows_affected() > 0 {
            audit::append::<(), ()>(
                &mut tx,
                ctx,
                "session.logout",
                &format!("user:{user_id}"),
                None,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes expired sessions; returns how many.
    pub async fn delete_expired_sessions(&self, now_ms: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
