//! Validation errors that name the offending field, shared by the API and the UI.

use serde::{Deserialize, Serialize};

/// One invalid input: which field, and why (a sentence a user can act on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// All invalid fields of one input. Empty means valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, if that field is invalid.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
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
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
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
}
