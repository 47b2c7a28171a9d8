//! Users: local accounts with an argon2id password hash (hashing happens in `services`).

use crate::audit::{self, AuditCtx};
use crate::{one_row, Result, Store, StoreError};
use domain::{Locale, Role};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A user as shown and audited (never carries the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub locale: Locale,
    pub time_zone: String,
    pub disabled_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl User {
    pub fn is_active(&self) -> bool {
        self.disabled_at_ms.is_none()
    }
}

/// A user together with its password hash, for sign-in only.
#[derive(Debug, Clone)]
pub struct UserWithHash {
    pub user: User,
    pub password_hash: String,
}

/// Input for [`Store::create_user`]; the email is expected normalised and validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub locale: Locale,
    pub time_zone: String,
}

/// A value bound after `$1` (id) and `$2` (updated_at_ms) in [`Store::update_user`].
enum Arg {
    Text(String),
    OptInt(Option<i64>),
}

const USER_COLUMNS: &str =
    "id, email, name, role, locale, time_zone, disabled_at_ms, created_at_ms, updated_at_ms";

fn user_from_row(r: &AnyRow) -> Result<User> {
    let role: String = r.try_get("role")?;
    let locale: String = r.try_get("locale")?;
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: role.parse().map_err(StoreError::Corrupt)?,
        locale: Locale::from_tag(&locale).unwrap_or_default(),
        time_zone: r.try_get("time_zone")?,
        disabled_at_ms: r.try_get("disabled_at_ms")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
    })
}

async fn fetch_user(conn: &mut AnyConnection, id: i64) -> Result<User> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    user_from_row(&row)
}

impl Store {
    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
    }

    /// Creates a user; `Conflict` when the email is taken.
    pub async fn create_user(&self, new: &NewUser, ctx: &AuditCtx) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, name, role, password_hash, locale, time_zone, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(&new.email)
        .bind(&new.name)
        .bind(new.role.as_str())
        .bind(&new.password_hash)
        .bind(new.locale.tag())
        .bind(&new.time_zone)
        .bind(ctx.at_ms)
        .fetch_one(&mut *tx)
        .await?;
        let user = fetch_user(&mut tx, id).await?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "user.create",
            &format!("user:{id}"),
            None,
            Some(&user),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<User> {
        let mut conn = self.pool.acquire().await?;
        fetch_user(&mut conn, id).await
    }

    /// Looks a user up by (normalised) email, with the password hash.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserWithHash>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(UserWithHash {
                user: user_from_row(&r)?,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    /// All users, by email.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Number of enabled admins (to refuse removing the last one).
    pub async fn count_active_admins(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at_ms IS NULL",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Applies one `UPDATE users SET … WHERE id = $1` and audits before/after.
    async fn update_user(
        &self,
        id: i64,
        ctx: &AuditCtx,
        action: &str,
        set_sql: &str,
        args: Vec<Arg>,
    ) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        let before = fetch_user(&mut tx, id).await?;
        let sql = format!("UPDATE users SET {set_sql}, updated_at_ms = $2 WHERE id = $1");
        let mut q = sqlx::query(&sql).bind(id).bind(ctx.at_ms);
        for arg in args {
            q = match arg {
                Arg::Text(s) => q.bind(s),
                Arg::OptInt(i) => q.bind(i),
            };
        }
        one_row(q.execute(&mut *tx).await?)?;
        let after = fetch_user(&mut tx, id).await?;
        audit::append(&mut tx, ctx, action, &format!("user:{id}"), Some(&before), Some(&after))
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn set_user_role(&self, id: i64, role: Role, ctx: &AuditCtx) -> Result<User> {
        self.update_user(id, ctx, "user.role", "role = $3", vec![Arg::Text(role.as_str().into())])
            .await
    }

    pub async fn set_user_name(&self, id: i64, name: &str, ctx: &AuditCtx) -> Result<User> {
        self.update_user(id, ctx, "user.name", "name = $3", vec![Arg::Text(name.into())]).await
    }

    /// Disables (and signs out) or re-enables a user.
    pub async fn set_user_disabled(&self, id: i64, disabled: bool, ctx: &AuditCtx) -> Result<User> {
        let at = disabled.then_some(ctx.at_ms);
        let action = if disabled { "user.disable" } else { "user.enable" };
        let user =
            self.update_user(id, ctx, action, "disabled_at_ms = $3", vec![Arg::OptInt(at)]).await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(user)
    }

    pub async fn set_user_preferences(
        &self,
        id: i64,
        locale: Locale,
        time_zone: &str,
        ctx: &AuditCtx,
    ) -> Result<User> {
        self.update_user(
            id,
            ctx,
            "user.preferences",
            "locale = $3, time_zone = $4",
            vec![Arg::Text(locale.tag().into()), Arg::Text(time_zone.into())],
        )
        .await
    }

    /// Replaces the password hash; the audit entry records that it changed, not the hash.
    /// Sets a user's password hash and, in the same transaction, ends every session of
    /// that user except `keep_session` (the token hash of the session that made the
    /// change; `None` ends them all). Returns how many sessions were ended.
    pub async fn set_user_password_hash(
        &self,
        id: i64,
        hash: &str,
        keep_session: Option<&str>,
        ctx: &AuditCtx,
    ) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        one_row(
            sqlx::query("UPDATE users SET password_hash = $2, updated_at_ms = $3 WHERE id = $1")
                .bind(id)
                .bind(hash)
                .bind(ctx.at_ms)
                .execute(&mut *tx)
                .await?,
        )?;
        audit::append::<(), _>(
            &mut tx,
            ctx,
            "user.password",
            &format!("user:{id}"),
            None,
            Some(&serde_json::json!({"password": "changed"})),
        )
        .await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(id)
            .bind(keep_session.unwrap_or(""))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(ended)
    }
}
