//! The one list of error codes clients see. Each code has exactly one HTTP status, one
//! OpenAI error `type` and one log level, given by the exhaustive matches below; the
//! HTTP edge renders them, metrics label by them, and nothing matches errors by string.

use std::fmt;

/// How loudly a failure is logged when it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// The caller's own mistake (bad field, expired token): routine.
    Debug,
    /// A policy said no (rate limit, budget, guard, kill switch): worth counting.
    Info,
    /// Something outside us failed (a provider, the live state).
    Warn,
    /// Our own fault.
    Error,
}

macro_rules! error_codes {
    ($($(#[$meta:meta])* $variant:ident => $wire:literal, $status:literal, $kind:literal, $level:ident;)+) => {
        /// A code in the contract's error body (`error.code`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$meta])* $variant),+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The spelling in `error.code`. A few situations share one spelling (the
            /// provider's 400, 429 and 5xx are all `upstream_error`) but not a status.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $wire),+ }
            }

            /// The HTTP status this code is answered with.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status),+ }
            }

            /// OpenAI's error `type` family, which the OpenAI SDKs branch on.
            pub fn openai_type(self) -> &'static str {
                match self { $(ErrorCode::$variant => $kind),+ }
            }

            pub fn log_level(self) -> LogLevel {
                match self { $(ErrorCode::$variant => LogLevel::$level),+ }
            }
        }
    };
}

error_codes! {
    // 400: the request itself is wrong.
    ValidationError => "validation_error", 400, "invalid_request_error", Debug;
    InvalidRequest => "invalid_request", 400, "invalid_request_error", Debug;
    MissingModel => "MISSING_MODEL", 400, "invalid_request_error", Debug;
    UnknownModel => "UNKNOWN_MODEL", 400, "invalid_request_error", Debug;
    DnsNotFailed => "DNS_NOT_FAILED", 400, "invalid_request_error", Debug;
    UnsupportedProvider => "UNSUPPORTED_PROVIDER", 400, "invalid_request_error", Debug;
    InvalidKeyFormat => "INVALID_KEY_FORMAT", 400, "invalid_request_error", Debug;
    InvalidBaseUrl => "INVALID_BASE_URL", 400, "invalid_request_error", Info;
    /// The provider refused the request as malformed (its 400/404/413/422).
    UpstreamRejected => "upstream_error", 400, "invalid_request_error", Info;
    // 401: who are you?
    InvalidToken => "invalid_token", 401, "authentication_error", Debug;
    TokenExpired => "token_expired", 401, "authentication_error", Debug;
    // 402: out of budget.
    QuotaExceeded => "quota_exceeded", 402, "insufficient_quota", Info;
    // 403: known, but not allowed.
    Forbidden => "forbidden", 403, "permission_error", Debug;
    ProjectLimitReached => "PROJECT_LIMIT_REACHED", 403, "permission_error", Info;
    ByoakRequiresPro => "BYOAK_REQUIRES_PRO", 403, "permission_error", Debug;
    /// A quota on free objects (tenants per user, API keys per project, signing keys
    /// per tenant); the message names the limit.
    ObjectLimitReached => "OBJECT_LIMIT_REACHED", 403, "permission_error", Info;
    // 404, 405
    NotFound => "not_found", 404, "not_found_error", Debug;
    TenantNotFound => "TENANT_NOT_FOUND", 404, "not_found_error", Debug;
    MethodNotAllowed => "method_not_allowed", 405, "invalid_request_error", Debug;
    // 409: the state does not allow it.
    EmailTaken => "email_taken", 409, "invalid_request_error", Debug;
    Conflict => "conflict", 409, "invalid_request_error", Debug;
    TierLimitReached => "TIER_LIMIT_REACHED", 409, "invalid_request_error", Debug;
    TierNameTaken => "TIER_NAME_TAKEN", 409, "invalid_request_error", Debug;
    NoDeployedSnapshot => "NO_DEPLOYED_SNAPSHOT", 409, "invalid_request_error", Debug;
    NoDraft => "NO_DRAFT", 409, "invalid_request_error", Debug;
    // 413, 415
    PayloadTooLarge => "payload_too_large", 413, "invalid_request_error", Debug;
    UnsupportedMediaType => "unsupported_media_type", 415, "invalid_request_error", Debug;
    // 422: understood, but not possible with this configuration.
    ProviderNotConfigured => "PROVIDER_NOT_CONFIGURED", 422, "invalid_request_error", Debug;
    KeyValidationFailed => "KEY_VALIDATION_FAILED", 422, "invalid_request_error", Info;
    // 429: too many.
    RateLimited => "rate_limited", 429, "rate_limit_error", Info;
    /// The provider's own rate limit, passed on with its `Retry-After`.
    UpstreamRateLimited => "upstream_error", 429, "rate_limit_error", Warn;
    // 451: the guard said no.
    ContentBlocked => "content_blocked", 451, "invalid_request_error", Info;
    PiiBlocked => "pii_blocked", 451, "invalid_request_error", Info;
    // 5xx
    InternalError => "internal_error", 500, "api_error", Error;
    UpstreamError => "upstream_error", 502, "api_error", Warn;
    LiveSyncFailed => "LIVE_SYNC_FAILED", 502, "api_error", Error;
    KillSwitch => "kill_switch", 503, "api_error", Info;
    /// The shared counters are away and the project's budgets fail closed.
    BudgetUnavailable => "budget_unavailable", 503, "api_error", Warn;
    NotReady => "not_ready", 503, "api_error", Info;
    /// Work this process bounds (password hashing) is at its limit; retry shortly.
    Overloaded => "overloaded", 503, "api_error", Warn;
    ServerShuttingDown => "server_shutting_down", 503, "api_error", Info;
    UpstreamTimeout => "upstream_timeout", 504, "api_error", Warn;
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_code_has_a_status_matching_its_family() {
        for code in ErrorCode::ALL {
            let status = code.status();
            assert!((400..600).contains(&status), "{code:?}");
            match code.openai_type() {
                "authentication_error" => assert_eq!(status, 401, "{code:?}"),
                "permission_error" => assert_eq!(status, 403, "{code:?}"),
                "rate_limit_error" => assert_eq!(status, 429, "{code:?}"),
                "api_error" => assert!(status >= 500, "{code:?}"),
                _ => assert!(status < 500, "{code:?}"),
            }
            if status >= 500 {
                assert!(code.log_level() >= LogLevel::Info, "{code:?}");
            }
        }
    }

    #[test]
    fn a_shared_spelling_never_shares_a_status() {
        let mut seen: HashMap<(&str, u16), ErrorCode> = HashMap::new();
        for code in ErrorCode::ALL {
            let previous = seen.insert((code.as_str(), code.status()), *code);
            assert!(previous.is_none(), "{code:?} duplicates {previous:?}");
        }
        assert_eq!(ErrorCode::UpstreamRejected.as_str(), "upstream_error");
        assert_eq!(ErrorCode::RateLimited.status(), 429);
        assert_eq!(ErrorCode::KillSwitch.status(), 503);
        assert_eq!(ErrorCode::QuotaExceeded.status(), 402);
    }
}
