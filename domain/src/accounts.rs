//! Accounts: roles and their order, API key scopes, UI locales, and input rules for users.

use crate::errors::FieldErrors;
use serde::{Deserialize, Serialize};

/// What a user may do. Ordered: each role includes the rights of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Product managers: read dashboards.
    Viewer,
    /// Responders and incident commanders: ack alerts, run incidents.
    Responder,
    /// Ops / SRE: edit rules, silences, probes, schedules.
    Editor,
    /// Users, API keys, channels, settings, audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Responder, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// True when this role includes the rights of `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "responder" => Ok(Role::Responder),
            "editor" => Ok(Role::Editor),
            "admin" => Ok(Role::Admin),
            other => {
                Err(format!("unknown role `{other}`: expected viewer, responder, editor or admin"))
            }
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an API key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiScope {
    /// `POST /api/v1/events` and the integration receivers.
    Ingest,
    /// Read-only API access.
    Read,
    /// `POST /api/v1/changes`: deploy scripts recording what they changed.
    Changes,
}

impl ApiScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::Ingest => "ingest",
            ApiScope::Read => "read",
            ApiScope::Changes => "changes",
        }
    }
}

impl std::str::FromStr for ApiScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "ingest" => Ok(ApiScope::Ingest),
            "read" => Ok(ApiScope::Read),
            "changes" => Ok(ApiScope::Changes),
            other => Err(format!("unknown scope `{other}`: expected ingest, read or changes")),
        }
    }
}

/// UI language, chosen per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    /// The BCP 47 tag, as used in `<html lang>` and stored per user.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// Parses a stored tag or an `Accept-Language` entry; `None` if unsupported.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let t = tag.trim().to_ascii_lowercase();
        if t == "en" || t.starts_with("en-") {
            Some(Locale::En)
        } else if t == "zh" || t.starts_with("zh-cn") || t.starts_with("zh-hans") {
            Some(Locale::ZhCn)
        } else {
            None
        }
    }

    /// Picks the first supported language of an `Accept-Language` header (q-values in order
    /// of appearance, which is how browsers send them).
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        header.split(',').filter_map(|part| part.split(';').next()).find_map(Locale::from_tag)
    }
}

/// Longest accepted display name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest accepted password (bounds the hashing cost an attacker can cause).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Normalises an email address for storage and lookup (trimmed, lowercase).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// Checks an email address: one `@`, a non-empty local part and a dotted domain.
pub fn validate_email(errors: &mut FieldErrors, field: &str, email: &str) {
    let email = email.trim();
    if email.is_empty() {
        errors.required(field);
        return;
    }
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if !valid {
        errors.add(field, "must be an email address like name@example.com");
    }
}

/// Checks a display name: present and at most [`MAX_NAME_CHARS`].
pub fn validate_name(errors: &mut FieldErrors, field: &str, name: &str) {
    let n = name.trim().chars().count();
    if n == 0 {
        errors.required(field);
    } else if n > MAX_NAME_CHARS {
        errors.too_long(field, MAX_NAME_CHARS);
    }
}

/// Checks a new password's length.
pub fn validate_password(errors: &mut FieldErrors, field: &str, password: &str) {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        errors.add(field, format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    } else if n > MAX_PASSWORD_CHARS {
        errors.too_long(field, MAX_PASSWORD_CHARS);
    }
}

/// Longest email a sign-in accepts (RFC 5321's path limit), checked before any lookup.
pub const MAX_EMAIL_BYTES: usize = 254;
/// Longest password a sign-in accepts, checked before any hashing: argon2's cost grows
/// with the input, and nobody types more.
pub const MAX_LOGIN_PASSWORD_BYTES: usize = 1024;

/// Where a browser may be sent after signing in: a path on this site, or `None`.
/// Refused: anything not starting with one `/` (`//evil`, `https://evil`), any backslash
/// (browsers read `/\evil` as `//evil`), any control or whitespace character (browsers
/// drop tabs and newlines: `/\t/evil` becomes `//evil`), `/login` itself (a loop), and
/// anything over 2 048 bytes.
pub fn local_redirect(next: &str) -> Option<&str> {
    let mut chars = next.chars();
    let local = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/'))
        && next.len() <= 2048
        && !next.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace())
        && !next.starts_with("/login");
    local.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_include_lower_rights() {
        assert!(Role::Admin.allows(Role::Viewer));
        assert!(Role::Editor.allows(Role::Responder));
        assert!(Role::Responder.allows(Role::Responder));
        assert!(!Role::Viewer.allows(Role::Responder));
        assert!(!Role::Editor.allows(Role::Admin));
        let mut sorted = Role::ALL;
        sorted.sort();
        assert_eq!(sorted, Role::ALL);
    }

    #[test]
    fn roles_parse_and_print() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!(" Admin ".parse::<Role>(), Ok(Role::Admin));
        let err = "root".parse::<Role>().unwrap_err();
        assert!(err.contains("root"), "{err}");
    }

    #[test]
    fn locales_from_tags_and_accept_language() {
        assert_eq!(Locale::from_tag("zh-CN"), Some(Locale::ZhCn));
        assert_eq!(Locale::from_tag("en-US"), Some(Locale::En));
        assert_eq!(Locale::from_tag("fr"), None);
        assert_eq!(Locale::from_accept_language("fr-FR,zh-CN;q=0.9,en;q=0.8"), Some(Locale::ZhCn));
        assert_eq!(Locale::from_accept_language("de"), None);
        assert_eq!(serde_json::to_string(&Locale::ZhCn).ok(), Some("\"zh-CN\"".into()));
    }

    #[test]
    fn email_rules() {
        let cases = [
            ("a@b.co", true),
            ("  Ops@Example.com ", true),
            ("", false),
            ("no-at-sign", false),
            ("a@b", false),
            ("a@@b.com", false),
            ("a b@c.com", false),
            ("@b.com", false),
            ("a@.com", false),
        ];
        for (email, ok) in cases {
            let mut errs = FieldErrors::new();
            validate_email(&mut errs, "email", email);
            assert_eq!(errs.is_empty(), ok, "{email:?}: {errs}");
            if !ok {
                assert_eq!(errs.0[0].field, "email");
            }
        }
        assert_eq!(normalize_email("  Ops@Example.COM "), "ops@example.com");
    }

    #[test]
    fn name_and_password_rules() {
        let mut errs = FieldErrors::new();
        validate_name(&mut errs, "name", "   ");
        validate_password(&mut errs, "password", "short");
        assert_eq!(errs.get("name"), Some("is required"));
        assert_eq!(errs.get("password"), Some("must be at least 10 characters"));
        let mut ok = FieldErrors::new();
        validate_name(&mut ok, "name", "Ada Lovelace");
        validate_password(&mut ok, "password", "correct horse battery");
        assert!(ok.is_empty());
        let mut long = FieldErrors::new();
        validate_name(&mut long, "name", &"x".repeat(101));
        validate_password(&mut long, "password", &"y".repeat(257));
        assert_eq!(long.0.len(), 2);
    }

    #[test]
    fn redirects_after_sign_in_stay_on_site() {
        for ok in ["/", "/alerts?x=1", "/incidents/INC-1#t", "/a/b%2F%2Fc"] {
            assert_eq!(local_redirect(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "https://evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil",
            "evil",
            "/login?next=/",
            "/login",
        ] {
            assert_eq!(local_redirect(bad), None, "{bad:?}");
        }
        assert_eq!(local_redirect(&format!("/{}", "a".repeat(3000))), None);
    }
}
