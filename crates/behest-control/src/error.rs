//! What a control-plane service answers when it says no: one enum, converted into the
//! contract's HTTP error in exactly one place ([`From<ControlError> for ApiError`]), so
//! the JSON API, the dashboard and `--demo` refuse the same things the same way.

use behest_core::settings::{FieldError, SettingsRejection};
use behest_core::ErrorCode;
use behest_http::ApiError;
use behest_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Fields that failed validation, every one named.
    #[error("{}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// A refusal with its code (`PROJECT_LIMIT_REACHED`, `NO_DRAFT`, `not_found`, ...).
    #[error("{message}")]
    Refused {
        code: ErrorCode,
        message: String,
        param: Option<String>,
    },
    /// Not now: come back after `retry_after` seconds (a login delay, a full queue).
    #[error("{message}")]
    RetryLater {
        code: ErrorCode,
        message: String,
        retry_after: u64,
    },
    /// The store failed; the caller gets a bare "internal error".
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else that is our fault.
    #[error("{0}")]
    Internal(String),
}

pub type ControlResult<T> = Result<T, ControlError>;

impl ControlError {
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> ControlError {
        ControlError::Refused {
            code,
            message: message.into(),
            param: None,
        }
    }

    /// One invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> ControlError {
        ControlError::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn not_found(message: impl Into<String>) -> ControlError {
        ControlError::refused(ErrorCode::NotFound, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ControlError {
        ControlError::refused(ErrorCode::Forbidden, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ControlError {
        ControlError::refused(ErrorCode::InvalidToken, message)
    }

    pub fn retry_later(
        code: ErrorCode,
        message: impl Into<String>,
        retry_after: u64,
    ) -> ControlError {
        ControlError::RetryLater {
            code,
            message: message.into(),
            retry_after: retry_after.max(1),
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> ControlError {
        ControlError::Internal(cause.to_string())
    }

    /// Names the field a refusal is about.
    pub fn with_param(self, field: impl Into<String>) -> ControlError {
        match self {
            ControlError::Refused { code, message, .. } => ControlError::Refused {
                code,
                message,
                param: Some(field.into()),
            },
            other => other,
        }
    }

    /// The code the caller will see.
    pub fn code(&self) -> ErrorCode {
        match self {
            ControlError::Invalid(_) => ErrorCode::ValidationError,
            ControlError::Refused { code, .. } | ControlError::RetryLater { code, .. } => *code,
            ControlError::Store(_) | ControlError::Internal(_) => ErrorCode::InternalError,
        }
    }
}

/// 403 `OBJECT_LIMIT_REACHED`, naming the limit (its configuration key) and its value.
pub fn object_limit(name: &str, limit: usize, what: &str) -> ControlError {
    ControlError::refused(
        ErrorCode::ObjectLimitReached,
        format!("limit reached: at most {limit} {what} ({name})"),
    )
    .with_param(name)
}

impl From<SettingsRejection> for ControlError {
    fn from(rejection: SettingsRejection) -> ControlError {
        let message = rejection.to_string();
        match rejection {
            SettingsRejection::NoDeployedSnapshot => {
                ControlError::refused(ErrorCode::NoDeployedSnapshot, message)
            }
            SettingsRejection::NoDraft => ControlError::refused(ErrorCode::NoDraft, message),
            SettingsRejection::NoModel => ControlError::not_found(message),
            SettingsRejection::Invalid(errors) => ControlError::Invalid(errors),
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(err: ControlError) -> ApiError {
        match err {
            // One 400 for every violation: `param` lists the fields, `message` says what
            // is wrong with each.
            ControlError::Invalid(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
                ApiError::validation(fields.join(","), messages.join("; "))
            }
            ControlError::Refused {
                code,
                message,
                param,
            } => ApiError {
                code,
                message,
                param,
                retry_after: None,
            },
            ControlError::RetryLater {
                code,
                message,
                retry_after,
            } => ApiError {
                code,
                message,
                param: None,
                retry_after: Some(retry_after),
            },
            ControlError::Store(err) => ApiError::internal(err),
            ControlError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_and_violations_keep_their_codes_and_fields() {
        let api: ApiError = ControlError::from(SettingsRejection::NoDraft).into();
        assert_eq!((api.code, api.status().as_u16()), (ErrorCode::NoDraft, 409));
        let api: ApiError = ControlError::Invalid(vec![
            FieldError::new("rpm_limit", "too low"),
            FieldError::new("pii_mode", "unknown"),
        ])
        .into();
        assert_eq!(api.param.as_deref(), Some("rpm_limit,pii_mode"));
        assert_eq!(api.status().as_u16(), 400);
        let api: ApiError = ControlError::internal("db password=hunter2 refused").into();
        assert!(!api.message.contains("hunter2"));
    }
}
