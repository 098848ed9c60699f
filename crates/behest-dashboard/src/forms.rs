//! A posted HTML form (`application/x-www-form-urlencoded`), read into name/value pairs
//! so that repeated names and absent checkboxes keep their meaning, and the session's
//! CSRF check run before anything else.

use crate::page::PageError;
use crate::session::SignedIn;
use axum::body::Body;
use axum::extract::{FromRequest, Request};

/// The largest form the dashboard accepts (a settings form with a full blocklist and
/// system prompt fits many times over).
const MAX_FORM_BYTES: usize = 256 * 1024;

#[derive(Debug, Default)]
pub struct FormData {
    pairs: Vec<(String, String)>,
}

impl FormData {
    pub fn parse(body: &[u8]) -> Result<FormData, PageError> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(|pairs| FormData { pairs })
            .map_err(|_| PageError::Message("the form could not be read".into()))
    }

    /// The last value of `name` (a checkbox sends a hidden `false` then `true`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The trimmed value, `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Refuses the form unless it carries the session's CSRF token.
    pub fn check(&self, who: &SignedIn) -> Result<(), PageError> {
        who.check_csrf(self.get("_csrf"))
    }
}

impl FormData {
    /// Reads and parses a form body of at most [`MAX_FORM_BYTES`].
    pub async fn read(body: Body) -> Result<FormData, PageError> {
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| PageError::Message("the form is too large or was cut off".into()))?;
        FormData::parse(&bytes)
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = PageError;

    async fn from_request(req: Request, _: &S) -> Result<Self, PageError> {
        FormData::read(req.into_body()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_wins_and_blanks_are_absent() {
        let form =
            FormData::parse(b"memory_enabled=false&memory_enabled=true&name=+&a=%C3%A9").unwrap();
        assert_eq!(form.get("memory_enabled"), Some("true"));
        assert_eq!(form.text("name"), None);
        assert_eq!(form.text("a").as_deref(), Some("é"));
        assert_eq!(form.get("missing"), None);
    }
}
