//! Changes: deploys, configuration changes and feature flags, recorded by deploy scripts
//! (`POST /api/v1/changes`, `vigil changes add`) or by a person, so an incident shows what
//! changed just before it, and charts mark when.

use crate::FieldErrors;
use serde::{Deserialize, Serialize};

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Deploy,
    Config,
    Flag,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 3] = [ChangeKind::Deploy, ChangeKind::Config, ChangeKind::Flag];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Deploy => "deploy",
            ChangeKind::Config => "config",
            ChangeKind::Flag => "flag",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

pub const SERVICE_MAX: usize = 80;
pub const VERSION_MAX: usize = 120;
pub const AUTHOR_MAX: usize = 120;
pub const DESCRIPTION_MAX: usize = 2000;
pub const URL_MAX: usize = 2048;
pub const EXTERNAL_ID_MAX: usize = 120;

/// A change as a client sends it. `at_ms` empty: now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeSpec {
    pub service: String,
    pub kind: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub description: String,
    /// A link to the pipeline run, pull request or flag (http or https only).
    #[serde(default)]
    pub url: String,
    /// When it happened (epoch ms); default now.
    #[serde(default)]
    pub at_ms: Option<i64>,
    /// The client's id for it: sending the same id again records nothing new (a deploy
    /// script that retries does not record its deploy twice).
    #[serde(default)]
    pub id: Option<String>,
}

/// A service name as labels carry it: letters, digits, `_ . - /` and `:`.
pub fn valid_service(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= SERVICE_MAX
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/:".contains(c))
}

impl ChangeSpec {
    /// Trims, checks and returns the kind; errors name the field. `now_ms` bounds the
    /// time: not more than a day ahead, not before 2000.
    pub fn validate(&self, now_ms: i64) -> Result<ChangeKind, FieldErrors> {
        let mut e = FieldErrors::new();
        let service = self.service.trim();
        if service.is_empty() {
            e.add("service", "is required (the service that changed, e.g. checkout)");
        } else if !valid_service(service) {
            e.add(
                "service",
                format!(
                    "at most {SERVICE_MAX} letters, digits and _ . - / : (as its `service` label)"
                ),
            );
        }
        let kind = ChangeKind::parse(&self.kind);
        if kind.is_none() {
            e.add("kind", "must be deploy, config or flag");
        }
        for (name, v, max) in [
            ("version", &self.version, VERSION_MAX),
            ("author", &self.author, AUTHOR_MAX),
            ("description", &self.description, DESCRIPTION_MAX),
        ] {
            if v.chars().count() > max {
                e.too_long(name, max);
            } else if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                e.add(name, "must not contain control characters");
            }
        }
        let url = self.url.trim();
        if !url.is_empty() {
            if url.len() > URL_MAX {
                e.too_long("url", URL_MAX);
            } else if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                e.not_http_url("url");
            }
        }
        if let Some(at) = self.at_ms {
            if at < 946_684_800_000 || at > now_ms + 86_400_000 {
                e.add("at_ms", "must be epoch milliseconds after 2000 and at most a day ahead");
            }
        }
        if let Some(id) = &self.id {
            let id = id.trim();
            if id.is_empty() || id.len() > EXTERNAL_ID_MAX {
                e.add("id", format!("1 to {EXTERNAL_ID_MAX} characters"));
            }
        }
        e.into_result().map(|()| kind.unwrap_or(ChangeKind::Deploy))
    }
}

/// A recorded change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub id: i64,
    pub at_ms: i64,
    pub service: String,
    pub kind: ChangeKind,
    pub version: String,
    pub author: String,
    pub description: String,
    pub url: String,
    /// Who recorded it: an API key's or a person's name.
    pub recorded_by: String,
    pub recorded_at_ms: i64,
    pub external_id: Option<String>,
}

/// How far before an incident its changes are shown.
pub const BEFORE_INCIDENT_MS: i64 = 24 * 3_600_000;

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_564_800_000;

    #[test]
    fn a_change_needs_a_service_and_a_kind_and_rejects_hostile_fields() {
        let ok = ChangeSpec {
            service: "checkout".into(),
            kind: "deploy".into(),
            version: "v1.4.2".into(),
            url: "https://ci.example/runs/1".into(),
            ..Default::default()
        };
        assert_eq!(ok.validate(NOW), Ok(ChangeKind::Deploy));
        let bad = ChangeSpec {
            service: "check out<script>".into(),
            kind: "rollout".into(),
            url: "javascript:alert(1)".into(),
            author: "a\u{0}b".into(),
            at_ms: Some(NOW + 2 * 86_400_000),
            id: Some(String::new()),
            ..Default::default()
        };
        let e = bad.validate(NOW).expect_err("bad");
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["service", "kind", "author", "url", "at_ms", "id"]);
        assert!(ChangeSpec { service: String::new(), ..ok.clone() }.validate(NOW).is_err());
        assert_eq!(ChangeKind::parse("flag"), Some(ChangeKind::Flag));
    }
}
