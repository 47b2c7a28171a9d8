//! Validation errors that name the offending field, shared by the API and the UI.

use serde::{Deserialize, Serialize};

/// Why a field is invalid, as a stable code: programs branch on it and the UI words it in
/// the user's language. `Other` carries its reason only in the English `message`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Empty or missing.
    Required,
    /// Longer than `limit` characters.
    TooLong,
    /// Not an `http://` or `https://` address.
    NotHttpUrl,
    /// A time that must not be in the future is.
    InTheFuture,
    /// An end that is not after its start.
    NotAfterStart,
    /// Already used by another record (an email, a name).
    Taken,
    #[default]
    Other,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Required => "required",
            Reason::TooLong => "too_long",
            Reason::NotHttpUrl => "not_http_url",
            Reason::InTheFuture => "in_the_future",
            Reason::NotAfterStart => "not_after_start",
            Reason::Taken => "taken",
            Reason::Other => "other",
        }
    }
}

/// One invalid input: which field, why as a stable [`Reason`] (with its `limit` where it
/// has one), and an English sentence a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(default)]
    pub reason: Reason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// All invalid fields of one input. Empty means valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// A field error whose reason is only in its (English) message.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.push(field, Reason::Other, None, message.into());
    }

    fn push(&mut self, field: &str, reason: Reason, limit: Option<u64>, message: String) {
        self.0.push(FieldError { field: field.to_owned(), message, reason, limit });
    }

    /// `field` is empty or missing.
    pub fn required(&mut self, field: &str) {
        self.push(field, Reason::Required, None, "is required".into());
    }

    /// `field` is longer than `max` characters.
    pub fn too_long(&mut self, field: &str, max: usize) {
        self.push(
            field,
            Reason::TooLong,
            Some(max as u64),
            format!("must be at most {max} characters"),
        );
    }

    /// `field` is not an http(s) address.
    pub fn not_http_url(&mut self, field: &str) {
        self.push(field, Reason::NotHttpUrl, None, "must be an http:// or https:// address".into());
    }

    /// `field` is a time in the future that must not be.
    pub fn in_the_future(&mut self, field: &str) {
        self.push(field, Reason::InTheFuture, None, "must not be in the future".into());
    }

    /// `field` (an end) is not after its start.
    pub fn not_after_start(&mut self, field: &str) {
        self.push(field, Reason::NotAfterStart, None, "must be after the start".into());
    }

    /// `field` holds a value another record already uses; `message` says which.
    pub fn taken(&mut self, field: &str, message: impl Into<String>) {
        self.push(field, Reason::Taken, None, message.into());
    }

    /// The whole error of `field`, if that field is invalid.
    pub fn error_of(&self, field: &str) -> Option<&FieldError> {
        self.0.iter().find(|e| e.field == field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, if that field is invalid.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.error_of(field).map(|e| e.message.as_str())
    }

    /// A form's parse errors followed by `checked`'s validation errors for the fields that
    /// parsed (a field is not reported twice); the value when there are none.
    pub fn then_validate<T>(
        mut self,
        value: T,
        checked: Result<(), FieldErrors>,
    ) -> Result<T, FieldErrors> {
        if let Err(more) = checked {
            for f in more.0 {
                if self.get(&f.field).is_none() {
                    self.0.push(f);
                }
            }
        }
        self.into_result().map(|()| value)
    }

    /// `Ok(())` when nothing was added, the errors otherwise.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> =
            self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_and_finds_errors_by_field() {
        let mut errs = FieldErrors::new();
        assert!(errs.clone().into_result().is_ok());
        errs.add("email", "is required");
        errs.add("role", "must be one of viewer, responder, editor, admin");
        assert_eq!(errs.get("email"), Some("is required"));
        assert_eq!(errs.get("name"), None);
        assert_eq!(
            errs.to_string(),
            "email: is required; role: must be one of viewer, responder, editor, admin"
        );
        assert!(errs.into_result().is_err());
    }

    #[test]
    fn reasons_are_stable_codes_on_the_wire() {
        let mut errs = FieldErrors::new();
        errs.required("name");
        errs.too_long("title", 200);
        errs.add("role", "must be one of viewer, responder, editor, admin");
        let json = serde_json::to_value(&errs).expect("json");
        assert_eq!(
            json,
            serde_json::json!([
                {"field": "name", "message": "is required", "reason": "required"},
                {"field": "title", "message": "must be at most 200 characters", "reason": "too_long", "limit": 200},
                {"field": "role", "message": "must be one of viewer, responder, editor, admin", "reason": "other"},
            ])
        );
        // An older peer without reasons still parses (as `other`).
        let old: FieldError =
            serde_json::from_str(r#"{"field":"x","message":"is required"}"#).expect("old");
        assert_eq!(old.reason, Reason::Other);
        assert_eq!(Reason::TooLong.as_str(), "too_long");
    }
}
