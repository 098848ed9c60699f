//! Small checks on request fields shared by several handlers.

use crate::error::{ControlError, ControlResult};

/// A required, trimmed, non-empty name of at most `max` characters.
pub fn required_name(value: Option<String>, field: &str, max: usize) -> ControlResult<String> {
    let value = value.unwrap_or_default();
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ControlError::invalid(field, format!("{field} is required")));
    }
    optional_name(Some(trimmed.to_owned()), field, max).map(|v| v.unwrap_or_default())
}

/// An optional name: trimmed, at most `max` characters, no control characters.
pub fn optional_name(
    value: Option<String>,
    field: &str,
    max: usize,
) -> ControlResult<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    let trimmed = value.trim();
    if trimmed.chars().count() > max {
        return Err(ControlError::invalid(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ControlError::invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            required_name(Some("  Acme ".into()), "name", 10).unwrap(),
            "Acme"
        );
        assert_eq!(
            match required_name(None, "name", 10) {
                Err(ControlError::Invalid(errors)) => errors[0].field.clone(),
                other => format!("{other:?}"),
            },
            "name"
        );
        assert!(required_name(Some("   ".into()), "name", 10).is_err());
        assert!(required_name(Some("x".repeat(11)), "name", 10).is_err());
        assert!(optional_name(Some("a\u{0}b".into()), "name", 10).is_err());
        assert_eq!(optional_name(Some(" ".into()), "name", 10).unwrap(), None);
    }
}
