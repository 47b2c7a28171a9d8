//! The probe form as typed, and its conversion to and from a `ProbeSpec`; every problem is
//! reported against the input it came from.

use crate::features::alerts::form::{format_labels, parse_labels};
use domain::alerting::{format_duration, parse_duration, Labels};
use domain::probe::ProbeSpec;
use domain::FieldErrors;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeForm {
    pub name: String,
    pub url: String,
    pub method: String,
    pub interval: String,
    pub timeout: String,
    pub expected_status: String,
    pub labels: String,
    pub enabled: bool,
}

impl Default for ProbeForm {
    fn default() -> Self {
        ProbeForm::from_spec(&ProbeSpec::new("", "https://"))
    }
}

impl ProbeForm {
    pub fn from_spec(s: &ProbeSpec) -> ProbeForm {
        ProbeForm {
            name: s.name.clone(),
            url: s.url.clone(),
            method: s.method.clone(),
            interval: format_duration(s.interval_ms),
            timeout: format_duration(s.timeout_ms),
            expected_status: s.expected_status.clone(),
            labels: format_labels(&s.labels),
            enabled: s.enabled,
        }
    }

    pub fn to_spec(&self) -> Result<ProbeSpec, FieldErrors> {
        let mut e = FieldErrors::new();
        let mut dur = |field: &str, s: &str| {
            parse_duration(s).unwrap_or_else(|m| {
                e.add(field, m);
                -1
            })
        };
        let interval_ms = dur("interval", &self.interval);
        let timeout_ms = dur("timeout", &self.timeout);
        let labels = parse_labels(&self.labels).unwrap_or_else(|m| {
            e.add("labels", m);
            Labels::new()
        });
        let spec = ProbeSpec {
            name: self.name.trim().to_owned(),
            url: self.url.trim().to_owned(),
            method: self.method.trim().to_ascii_uppercase(),
            interval_ms,
            timeout_ms,
            expected_status: self.expected_status.trim().to_owned(),
            labels,
            enabled: self.enabled,
        };
        // Domain rules, without repeating a field that already failed to parse.
        let checked = spec.validate();
        e.then_validate(spec, checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_named_errors() {
        let f = ProbeForm {
            name: "API".into(),
            url: "https://api.example.com/health".into(),
            labels: "service=api".into(),
            ..ProbeForm::default()
        };
        let spec = f.to_spec().expect("valid");
        assert_eq!(spec.interval_ms, 60_000);
        assert_eq!(ProbeForm::from_spec(&spec).to_spec(), Ok(spec));
        let bad = ProbeForm {
            interval: "soon".into(),
            url: "api".into(),
            expected_status: "abc".into(),
            ..f
        };
        let e = bad.to_spec().expect_err("invalid");
        for field in ["interval", "url", "expected_status"] {
            assert!(e.get(field).is_some(), "{field}: {e}");
        }
    }
}
