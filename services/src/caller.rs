//! The [`Caller`]: who is asking, built once at each edge (a server function from the
//! session cookie, a REST route from the API key, a background loop as
//! [`Caller::system`]) and passed to every service method that acts for someone. The
//! method checks the [`Permission`] of its action with [`Caller::require`] first thing.

use crate::Result;
use crate::ServiceError;
use domain::{ApiScope, Locale, Permission, Role};
use store::AuditCtx;

/// On whose authority a call runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Nobody signed in: every permission check answers `Unauthorized`.
    Anonymous,
    /// A signed-in person, through a session.
    User {
        user_id: i64,
        role: Role,
        /// SHA-256 of the session token (which session to keep when the password
        /// changes).
        session_hash: String,
    },
    /// A program with an API key.
    ApiKey { key_id: i64, scope: ApiScope },
    /// Vigil itself: the engine loops, start-up and the command line on the server.
    System,
}

/// A request's caller. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    /// Who, as the audit log names them: a person's email, `api-key:<name>` or the
    /// system task (`cli`, `engine`, …).
    pub email: String,
    /// Display name (a person's name, the key's name, the task).
    pub name: String,
    pub locale: Locale,
    /// IANA zone that times are shown in (`UTC` for programs).
    pub time_zone: String,
    /// Client IP as the edge determined it (empty for the system).
    pub ip: String,
}

impl Caller {
    /// Nobody signed in, from `ip`.
    pub fn anonymous(ip: &str) -> Self {
        Self {
            principal: Principal::Anonymous,
            email: String::new(),
            name: String::new(),
            locale: Locale::default(),
            time_zone: "UTC".into(),
            ip: ip.to_owned(),
        }
    }

    /// Vigil itself, doing `task` (the audit log names the task).
    pub fn system(task: &str) -> Self {
        Self {
            principal: Principal::System,
            email: task.to_owned(),
            name: task.to_owned(),
            locale: Locale::default(),
            time_zone: "UTC".into(),
            ip: String::new(),
        }
    }

    /// A program holding API key `key_id` named `name`.
    pub fn api_key(key_id: i64, name: &str, scope: ApiScope, ip: &str) -> Self {
        Self {
            principal: Principal::ApiKey { key_id, scope },
            email: format!("api-key:{name}"),
            name: name.to_owned(),
            locale: Locale::default(),
            time_zone: "UTC".into(),
            ip: ip.to_owned(),
        }
    }

    /// `Unauthorized` for nobody, `Forbidden` unless the role or key scope holds `p`
    /// (the table is [`domain::access`]); the system may do everything.
    pub fn require(&self, p: Permission) -> Result<()> {
        let allowed = match &self.principal {
            Principal::Anonymous => return Err(ServiceError::Unauthorized),
            Principal::User { role, .. } => role.can(p),
            Principal::ApiKey { scope, .. } => scope.can(p),
            Principal::System => true,
        };
        if allowed {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(p))
        }
    }

    /// Whether `require(p)` would pass (for deciding what to show, not to guard).
    pub fn can(&self, p: Permission) -> bool {
        self.require(p).is_ok()
    }

    /// The person calling, if a person is.
    /// The API key calling, if it is one.
    pub fn api_key_id(&self) -> Option<i64> {
        match &self.principal {
            Principal::ApiKey { key_id, .. } => Some(*key_id),
            _ => None,
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        match &self.principal {
            Principal::User { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }

    /// The person calling, or `Unauthorized` (for actions on one's own account).
    pub fn person(&self) -> Result<i64> {
        self.user_id().ok_or(ServiceError::Unauthorized)
    }

    /// The person's role, if a person is calling.
    pub fn role(&self) -> Option<Role> {
        match &self.principal {
            Principal::User { role, .. } => Some(*role),
            _ => None,
        }
    }

    /// The hash of the session this caller signed in with (a person), else nothing.
    pub fn session_hash(&self) -> Option<&str> {
        match &self.principal {
            Principal::User { session_hash, .. } => Some(session_hash),
            _ => None,
        }
    }

    /// This caller as the author of an audited write at `at_ms`.
    pub(crate) fn audit(&self, at_ms: i64) -> AuditCtx {
        AuditCtx { user_id: self.user_id(), actor: self.email.clone(), ip: self.ip.clone(), at_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(role: Role) -> Caller {
        Caller {
            principal: Principal::User { user_id: 7, role, session_hash: "h".into() },
            ..Caller::anonymous("10.0.0.1")
        }
    }

    #[test]
    fn each_principal_is_checked_against_the_domain_table() {
        let p = Permission::EditRules;
        assert!(matches!(Caller::anonymous("1.2.3.4").require(p), Err(ServiceError::Unauthorized)));
        assert!(matches!(
            person(Role::Responder).require(p),
            Err(ServiceError::Forbidden(Permission::EditRules))
        ));
        assert!(person(Role::Editor).require(p).is_ok());
        let key = Caller::api_key(1, "ci", ApiScope::Read, "");
        assert!(key.require(Permission::ViewIncidents).is_ok());
        assert!(key.require(p).is_err());
        assert!(Caller::system("engine").require(Permission::ManageUsers).is_ok());
        assert_eq!(key.audit(5).actor, "api-key:ci");
        assert_eq!(key.user_id(), None);
        assert_eq!(person(Role::Viewer).audit(5).user_id, Some(7));
    }
}
