//! Product events (埋点): the rules every ingested event must pass (SPEC §1, Ingestion).
//! Each rule names the field it is about, so a rejected event tells the sender what to fix.

use serde::{Deserialize, Serialize};

/// Longest `event_id` / `user_id`, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Largest serialized `properties` object, in bytes.
pub const MAX_PROPERTIES_BYTES: usize = 8 * 1024;
/// How far in the future a timestamp may be (clock skew), in ms.
pub const MAX_FUTURE_MS: i64 = 5 * 60 * 1000;
/// Most events in one request.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;

/// Where an event was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Web,
    Mobile,
    Miniprogram,
    Api,
}

impl Platform {
    pub fn parse(s: &str) -> Option<Platform> {
        match s {
            "web" => Some(Platform::Web),
            "mobile" => Some(Platform::Mobile),
            "miniprogram" => Some(Platform::Miniprogram),
            "api" => Some(Platform::Api),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Web => "web",
            Platform::Mobile => "mobile",
            Platform::Miniprogram => "miniprogram",
            Platform::Api => "api",
        }
    }
}

/// Checks an id field: present, 1–128 characters.
pub fn check_id(field: &str, value: &str) -> Result<(), String> {
    let n = value.chars().count();
    if n == 0 {
        Err(format!("{field}: must not be empty"))
    } else if n > MAX_ID_CHARS {
        Err(format!("{field}: must be at most {MAX_ID_CHARS} characters (got {n})"))
    } else {
        Ok(())
    }
}

/// Two-part names that the SPEC's own tracking plan uses (`subscription_{action}`); every
/// other name needs at least three parts.
pub const TRACKING_PLAN_TWO_PART: [&str; 4] =
    ["subscription_start", "subscription_renew", "subscription_cancel", "subscription_expire"];

/// `{module}_{action}_{object}`: lowercase `[a-z0-9]` parts, at least three, joined by `_`
/// (plus the tracking plan's `subscription_*` events).
pub fn check_event_name(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('_').collect();
    let well_formed = name.len() <= 128
        && (parts.len() >= 3 || TRACKING_PLAN_TWO_PART.contains(&name))
        && parts.iter().all(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "event_name: `{name}` must look like module_action_object (lowercase a-z, 0-9, at least three parts joined by _)"
        ))
    }
}

/// The timestamp (ms) must lie in `[now − max_age, now + 5 min]`.
pub fn check_timestamp(ts_ms: i64, now_ms: i64, max_age_ms: i64) -> Result<(), String> {
    if ts_ms > now_ms + MAX_FUTURE_MS {
        Err(format!(
            "timestamp: {ts_ms} is more than 5 minutes in the future (server time {now_ms})"
        ))
    } else if ts_ms < now_ms - max_age_ms {
        Err(format!(
            "timestamp: {ts_ms} is older than the raw-event retention ({} days)",
            max_age_ms / 86_400_000
        ))
    } else {
        Ok(())
    }
}

/// The serialized `properties` object must be at most 8 KiB.
pub fn check_properties_size(serialized_len: usize) -> Result<(), String> {
    if serialized_len > MAX_PROPERTIES_BYTES {
        Err(format!(
            "properties: {serialized_len} bytes serialized, more than the {MAX_PROPERTIES_BYTES} allowed"
        ))
    } else {
        Ok(())
    }
}

/// The module part of a `feature_{action}_{feature}` event's feature: the last part.
pub fn feature_of(event_name: &str) -> Option<&str> {
    let rest = event_name.strip_prefix("feature_")?;
    let (_, feature) = rest.split_once('_')?;
    (!feature.is_empty()).then_some(feature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names() {
        for ok in ["user_register_success", "ai_dialog_end", "feature_use_export_pdf", "a1_b2_c3"] {
            assert!(check_event_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "login",
            "user_login",
            "User_Login_Done",
            "user__login",
            "user_login_",
            "user-login-ok",
            "用户_登录_成功",
        ] {
            let e = check_event_name(bad).expect_err(bad);
            assert!(e.starts_with("event_name:"), "{e}");
        }
    }

    #[test]
    fn ids_timestamps_properties() {
        assert!(check_id("event_id", "e1").is_ok());
        assert!(check_id("event_id", "").expect_err("empty").starts_with("event_id:"));
        assert!(check_id("user_id", &"u".repeat(129)).expect_err("long").contains("128"));
        let now = 1_800_000_000_000;
        let day = 86_400_000;
        assert!(check_timestamp(now, now, 30 * day).is_ok());
        assert!(check_timestamp(now + 5 * 60 * 1000, now, 30 * day).is_ok(), "exactly 5 min ahead");
        assert!(check_timestamp(now + 5 * 60 * 1000 + 1, now, 30 * day)
            .expect_err("future")
            .contains("future"));
        assert!(check_timestamp(now - 31 * day, now, 30 * day)
            .expect_err("old")
            .contains("30 days"));
        assert!(check_properties_size(8192).is_ok());
        assert!(check_properties_size(8193).expect_err("big").starts_with("properties:"));
    }

    #[test]
    fn features_and_platforms() {
        assert_eq!(feature_of("feature_use_export"), Some("export"));
        assert_eq!(feature_of("feature_open_dark_mode"), Some("dark_mode"));
        assert_eq!(feature_of("user_register_success"), None);
        assert_eq!(Platform::parse("miniprogram").map(Platform::as_str), Some("miniprogram"));
        assert_eq!(Platform::parse("ios"), None);
    }
}
