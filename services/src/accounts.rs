//! Accounts and access: sign-in with throttling, sessions, users, API keys, preferences and
//! reading the audit log. Every write checks the caller's role here, on the server.

use crate::Caller;
use crate::Result;
use crate::{timefmt, ServiceError};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use domain::accounts::{
    normalize_email, validate_email, validate_name, validate_password, MAX_EMAIL_BYTES,
    MAX_LOGIN_PASSWORD_BYTES,
};
use domain::{ApiScope, FieldErrors, Locale, Permission, Role};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::{ApiKey, AuditCtx, AuditEntry, AuditQuery, NewApiKey, NewSession, NewUser, User};

/// A successful sign-in: the cookie value to set and who signed in.
#[derive(Debug, Clone)]
pub struct LoginOk {
    pub session_token: String,
    pub user: User,
    pub expires_at_ms: i64,
}

/// A new API key: the secret is returned exactly once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    pub secret: String,
}

/// One audit entry prepared for display in a user's time zone.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub entry: AuditEntry,
    pub at_display: String,
    /// Short `field: old → new` lines for the fields that changed.
    pub changes: Vec<String>,
}

/// Top-level fields that differ between `before` and `after` (JSON objects), as
/// `field: old → new` (or `field = value` when there is no before). Bookkeeping fields are
/// left out; long values are shortened.
pub fn summarize_change(before: Option<&str>, after: Option<&str>) -> Vec<String> {
    use serde_json::{Map, Value};
    const NOISE: [&str; 3] = ["id", "created_at_ms", "updated_at_ms"];
    let parse = |s: Option<&str>| -> Map<String, Value> {
        s.and_then(|s| serde_json::from_str::<Value>(s).ok())
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
    };
    let short = |v: &Value| {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Null => "∅".to_owned(),
            other => other.to_string(),
        };
        if s.chars().count() > 60 {
            format!("{}…", s.chars().take(59).collect::<String>())
        } else {
            s
        }
    };
    let (b, a) = (parse(before), parse(after));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !NOISE.contains(&k.as_str()))
        .filter_map(|k| match (b.get(k), a.get(k)) {
            (Some(old), Some(new)) if old != new => {
                Some(format!("{k}: {} → {}", short(old), short(new)))
            }
            (None, Some(new)) if before.is_none() => Some(format!("{k} = {}", short(new))),
            (Some(old), None) => Some(format!("{k}: {} → ∅", short(old))),
            _ => None,
        })
        .collect()
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// SHA-256 of a high-entropy secret (session token, API key), hex. Secrets with 256 bits
/// of entropy need no slow hash; passwords do (argon2id below).
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// How long a password hash waits for a free core before the request is refused with
/// "retry in 1 s" (429): a flood of sign-ins must not queue up behind the CPU.
const HASH_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

fn argon2_hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("hashing password: {e}")))
}

fn argon2_verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

impl crate::Accounts<'_> {
    /// Runs one argon2 computation off the async runtime, at most one per core at a time
    /// (the `hash_permits` semaphore). When every core stays busy for [`HASH_WAIT`], the
    /// caller gets `RateLimited(1)` instead of a place in an unbounded queue.
    async fn with_hash_permit<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let permit = match tokio::time::timeout(
            HASH_WAIT,
            self.hash_permits.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            _ => return Err(ServiceError::RateLimited(1)),
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    /// Hashes a password with argon2id (default OWASP parameters).
    pub(crate) async fn hash_password(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.with_hash_permit(move || argon2_hash(&password)).await?
    }

    async fn verify_password(&self, password: &str, hash: &str) -> Result<bool> {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.with_hash_permit(move || argon2_verify(&password, &hash)).await
    }
}

/// A valid hash of a random password, verified against when the email is unknown so that
/// unknown and known accounts take the same time to refuse.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$dmlnaWwtZHVtbXktc2FsdA$2kXK0m3JhJ3pqYB7Zb7m4cC9r1G8y9Z2m0o4c3x1m2Q";

/// Input to create a user (admin page, CLI, bootstrap).
#[derive(Debug, Clone, Default)]
pub struct CreateUser {
    pub email: String,
    pub name: String,
    pub role: String,
    pub password: String,
}

impl crate::Accounts<'_> {
    // ---------------------------------------------------------------- sessions

    /// Signs in with email and password. Throttled per account and IP: after too many
    /// failures inside the window, answers `RateLimited` without checking the password.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ip: &str,
        user_agent: &str,
    ) -> Result<LoginOk> {
        // Lengths first: nothing longer is looked up, hashed, throttled or audited.
        let mut errs = FieldErrors::new();
        if email.len() > MAX_EMAIL_BYTES {
            errs.too_long("email", MAX_EMAIL_BYTES);
        }
        if password.len() > MAX_LOGIN_PASSWORD_BYTES {
            errs.add("password", format!("must be at most {MAX_LOGIN_PASSWORD_BYTES} bytes"));
        }
        errs.into_result()?;
        let email = normalize_email(email);
        let mut errs = FieldErrors::new();
        if email.is_empty() {
            errs.required("email");
        }
        if password.is_empty() {
            errs.required("password");
        }
        errs.into_result()?;

        let now = self.now_ms();
        let key = format!("{email}|{ip}");
        if let Some(retry_ms) = self.lock_failures()?.check(&key, now) {
            return Err(ServiceError::RateLimited(
                u64::try_from((retry_ms + 999) / 1000).unwrap_or(1),
            ));
        }

        let found = self.store.user_by_email(&email).await?;
        let ok = match &found {
            Some(u) => {
                self.verify_password(password, &u.password_hash).await? && u.user.is_active()
            }
            None => {
                let _ = self.verify_password(password, DUMMY_HASH).await?;
                false
            }
        };
        let ctx = AuditCtx {
            user_id: found.as_ref().map(|u| u.user.id),
            actor: email.clone(),
            ip: ip.to_owned(),
            at_ms: now,
        };
        let Some(found) = found.filter(|_| ok) else {
            self.lock_failures()?.record_failure(&key, now);
            self.store
                .audit_event(&ctx, "session.login_failed", &format!("email:{email}"), None)
                .await?;
            return Err(ServiceError::Unauthorized);
        };
        self.lock_failures()?.reset(&key);

        let token = random_hex(32);
        let expires_at_ms = now + self.auth.session_ttl_ms;
        let session = NewSession {
            token_hash: sha256_hex(&token),
            user_id: found.user.id,
            expires_at_ms,
            ip: ip.to_owned(),
            user_agent: user_agent.chars().take(300).collect(),
        };
        self.store.create_session(&session, &found.user, &ctx).await?;
        Ok(LoginOk { session_token: token, user: found.user, expires_at_ms })
    }

    fn lock_failures(&self) -> Result<std::sync::MutexGuard<'_, domain::ratelimit::FailureWindow>> {
        self.login_failures
            .lock()
            .map_err(|_| ServiceError::Internal("login throttle lock poisoned".into()))
    }

    /// Resolves a session cookie to the signed-in actor (sliding its expiry).
    pub async fn session_actor(&self, token: &str, ip: &str) -> Result<Option<Caller>> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let now = self.now_ms();
        let hash = sha256_hex(token);
        let Some(s) = self.store.session_user(&hash, now).await? else {
            return Ok(None);
        };
        // Slide the expiry at most once a minute to keep reads cheap.
        if now - s.last_seen_at_ms > 60_000 {
            self.store.touch_session(&hash, now, now + self.auth.session_ttl_ms).await?;
        }
        Ok(Some(Caller {
            principal: crate::Principal::User {
                user_id: s.user_id,
                role: s.role,
                session_hash: hash,
            },
            email: s.email,
            name: s.name,
            locale: s.locale,
            time_zone: s.time_zone,
            ip: ip.to_owned(),
        }))
    }

    /// Signs out: ends the session of `token` (cross-site requests never get here: the
    /// server's cross-origin guard refuses them).
    pub async fn logout(&self, actor: &Caller, token: &str) -> Result<()> {
        let user_id = actor.person()?;
        self.store.delete_session(&sha256_hex(token), user_id, &self.audit_ctx(actor)).await?;
        Ok(())
    }

    // ---------------------------------------------------------------- users

    /// Validates and creates a user (the CLI and first-start bootstrap call it as
    /// [`Caller::system`]).
    pub async fn create_user(&self, actor: &Caller, input: &CreateUser) -> Result<User> {
        actor.require(Permission::ManageUsers)?;
        let mut errs = FieldErrors::new();
        validate_email(&mut errs, "email", &input.email);
        validate_name(&mut errs, "name", &input.name);
        validate_password(&mut errs, "password", &input.password);
        let role = match input.role.parse::<Role>() {
            Ok(r) => Some(r),
            Err(msg) => {
                errs.add("role", msg);
                None
            }
        };
        errs.into_result()?;
        let role = role.ok_or_else(|| ServiceError::required("role"))?;
        let new = NewUser {
            email: normalize_email(&input.email),
            name: input.name.trim().to_owned(),
            role,
            password_hash: self.hash_password(&input.password).await?,
            locale: Locale::En,
            time_zone: "UTC".into(),
        };
        let ctx = self.audit_ctx(actor);
        self.store.create_user(&new, &ctx).await.map_err(|e| match e {
            store::StoreError::Conflict(_) => {
                let mut e = FieldErrors::new();
                e.taken("email", "is already used by another account");
                ServiceError::Invalid(e)
            }
            other => other.into(),
        })
    }

    /// Creates the first admin when no enabled admin exists, whoever else does (`vigil
    /// demo` adds a team without passwords before the first `serve`). Returns the password
    /// (to print once) when an admin was created, `None` otherwise. When `email` is taken
    /// by an account that is not an enabled admin, nothing is created and the error says
    /// how to make one.
    pub async fn bootstrap_admin(
        &self,
        email: &str,
        password: Option<&str>,
    ) -> Result<Option<String>> {
        if self.store.count_active_admins().await? > 0 {
            return Ok(None);
        }
        let password = password.map(str::to_owned).unwrap_or_else(|| random_hex(9));
        let user = CreateUser {
            email: email.into(),
            name: "Administrator".into(),
            role: "admin".into(),
            password: password.clone(),
        };
        match self.create_user(&Caller::system("cli"), &user).await {
            Ok(_) => Ok(Some(password)),
            // Another replica bootstrapped concurrently: it printed the password.
            Err(ServiceError::Invalid(_)) if self.store.count_active_admins().await? > 0 => {
                Ok(None)
            }
            Err(ServiceError::Invalid(e)) => Err(ServiceError::invalid(
                "admin_email",
                format!(
                    "no enabled admin exists and the first-start admin cannot be created ({e}); \
                     set VIGIL_ADMIN_EMAIL to a free address, or run \
                     `vigil user add --role admin --email …`"
                ),
            )),
            Err(e) => Err(e),
        }
    }

    pub async fn list_users(&self, actor: &Caller) -> Result<Vec<User>> {
        actor.require(Permission::ManageUsers)?;
        Ok(self.store.list_users().await?)
    }

    /// Changes a user's role. The last enabled admin cannot be demoted.
    pub async fn set_user_role(&self, actor: &Caller, user_id: i64, role: &str) -> Result<User> {
        actor.require(Permission::ManageUsers)?;
        let role: Role = role.parse().map_err(|m: String| ServiceError::invalid("role", m))?;
        let current = self.store.user_by_id(user_id).await?;
        if current.role == Role::Admin
            && role != Role::Admin
            && current.is_active()
            && self.store.count_active_admins().await? <= 1
        {
            return Err(ServiceError::invalid("role", "the last admin cannot be demoted"));
        }
        Ok(self.store.set_user_role(user_id, role, &self.audit_ctx(actor)).await?)
    }

    /// Disables or re-enables a user. Admins cannot disable themselves.
    pub async fn set_user_disabled(
        &self,
        actor: &Caller,
        user_id: i64,
        disabled: bool,
    ) -> Result<User> {
        actor.require(Permission::ManageUsers)?;
        if disabled && Some(user_id) == actor.user_id() {
            return Err(ServiceError::invalid("user", "you cannot disable your own account"));
        }
        Ok(self.store.set_user_disabled(user_id, disabled, &self.audit_ctx(actor)).await?)
    }

    /// Sets the caller's own language and time zone.
    pub async fn set_preferences(
        &self,
        actor: &Caller,
        locale: &str,
        time_zone: &str,
    ) -> Result<User> {
        actor.require(Permission::ManageOwnAccount)?;
        let mut errs = FieldErrors::new();
        let locale = Locale::from_tag(locale);
        if locale.is_none() {
            errs.add("locale", "must be en or zh-CN");
        }
        let time_zone = time_zone.trim();
        if !timefmt::is_valid_time_zone(time_zone) {
            errs.add("time_zone", "must be an IANA time zone such as Asia/Shanghai or UTC");
        }
        errs.into_result()?;
        Ok(self
            .store
            .set_user_preferences(
                actor.person()?,
                locale.unwrap_or_default(),
                time_zone,
                &self.audit_ctx(actor),
            )
            .await?)
    }

    /// Changes the caller's own password after checking the current one.
    pub async fn change_password(
        &self,
        actor: &Caller,
        current: &str,
        new_password: &str,
    ) -> Result<()> {
        actor.require(Permission::ManageOwnAccount)?;
        let mut errs = FieldErrors::new();
        validate_password(&mut errs, "new_password", new_password);
        let found = self.store.user_by_email(&actor.email).await?.ok_or(ServiceError::NotFound)?;
        if current.len() > MAX_LOGIN_PASSWORD_BYTES
            || !self.verify_password(current, &found.password_hash).await?
        {
            errs.add("current_password", "is not your current password");
        }
        errs.into_result()?;
        let hash = self.hash_password(new_password).await?;
        // Every other session of this user ends: whoever else knew the old password is
        // signed out everywhere.
        self.store
            .set_user_password_hash(
                actor.person()?,
                &hash,
                actor.session_hash(),
                &self.audit_ctx(actor),
            )
            .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- API keys

    /// Creates an API key; the secret (`vgl_…`) is in the answer and nowhere else.
    pub async fn create_api_key(
        &self,
        actor: &Caller,
        name: &str,
        scope: &str,
    ) -> Result<CreatedApiKey> {
        actor.require(Permission::ManageApiKeys)?;
        let mut errs = FieldErrors::new();
        validate_name(&mut errs, "name", name);
        let scope = match scope.parse::<ApiScope>() {
            Ok(s) => Some(s),
            Err(m) => {
                errs.add("scope", m);
                None
            }
        };
        errs.into_result()?;
        let scope = scope.ok_or_else(|| ServiceError::required("scope"))?;
        self.insert_api_key(name, scope, actor.user_id(), &self.audit_ctx(actor)).await
    }

    /// Generates a key, stores its hash, returns the secret (shown once).
    async fn insert_api_key(
        &self,
        name: &str,
        scope: ApiScope,
        created_by: Option<i64>,
        ctx: &AuditCtx,
    ) -> Result<CreatedApiKey> {
        let secret = format!("vgl_{}", random_hex(24));
        let key = self
            .store
            .create_api_key(
                &NewApiKey {
                    name: name.trim().to_owned(),
                    scope,
                    prefix: secret.chars().take(12).collect(),
                    token_hash: sha256_hex(&secret),
                    created_by,
                },
                ctx,
            )
            .await?;
        Ok(CreatedApiKey { key, secret })
    }

    pub async fn list_api_keys(&self, actor: &Caller) -> Result<Vec<ApiKey>> {
        actor.require(Permission::ManageApiKeys)?;
        Ok(self.store.list_api_keys().await?)
    }

    pub async fn revoke_api_key(&self, actor: &Caller, id: i64) -> Result<ApiKey> {
        actor.require(Permission::ManageApiKeys)?;
        Ok(self.store.revoke_api_key(id, &self.audit_ctx(actor)).await?)
    }

    /// The caller holding the `Bearer` key `secret`, calling from `ip`: `Unauthorized`
    /// when the key is unknown, revoked or its creator disabled. What the key may do is
    /// checked by each service method against its scope.
    pub async fn authenticate_api_key(&self, secret: &str, ip: &str) -> Result<Caller> {
        if !secret.starts_with("vgl_") || secret.len() > 128 {
            return Err(ServiceError::Unauthorized);
        }
        let key = self
            .store
            .api_key_by_hash(&sha256_hex(secret))
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        let now = self.now_ms();
        if key.last_used_at_ms.is_none_or(|t| now - t > 60_000) {
            self.store.touch_api_key(key.id, now).await?;
        }
        Ok(Caller::api_key(key.id, &key.name, key.scope, ip))
    }

    // ---------------------------------------------------------------- audit

    /// Reads the audit log (admins only), times formatted in the actor's zone.
    pub async fn audit_log(
        &self,
        actor: &Caller,
        action_prefix: Option<String>,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditView>> {
        actor.require(Permission::ViewAudit)?;
        let entries = self
            .store
            .audit_entries(&AuditQuery {
                action_prefix: action_prefix.filter(|p| !p.trim().is_empty()),
                before_id,
                limit,
            })
            .await?;
        Ok(entries
            .into_iter()
            .map(|entry| AuditView {
                at_display: timefmt::format_ms(entry.at_ms, &actor.time_zone),
                changes: summarize_change(
                    entry.before_json.as_deref(),
                    entry.after_json.as_deref(),
                ),
                entry,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_summaries_list_changed_fields_only() {
        let before = r#"{"id":3,"role":"viewer","name":"Pat","updated_at_ms":1}"#;
        let after = r#"{"id":3,"role":"editor","name":"Pat","updated_at_ms":2}"#;
        assert_eq!(summarize_change(Some(before), Some(after)), ["role: viewer → editor"]);
        let created =
            summarize_change(None, Some(r#"{"id":1,"email":"a@b.co","disabled_at_ms":null}"#));
        assert_eq!(created, ["disabled_at_ms = ∅", "email = a@b.co"]);
        assert!(summarize_change(None, None).is_empty());
        let long = format!(r#"{{"ua":"{}"}}"#, "x".repeat(100));
        assert!(summarize_change(None, Some(&long))[0].ends_with('…'));
    }

    #[test]
    fn dummy_hash_is_a_valid_argon2_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
