//! The dashboard's static files, compiled into the binary and served under names that
//! carry a hash of their content (`/assets/app.3f9c1a2b7e.css`), so browsers may cache
//! them forever and a new build is fetched at once.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// One embedded file and its hashed path.
pub struct Asset {
    pub body: &'static [u8],
    content_type: &'static str,
    path: LazyLock<String>,
}

impl Asset {
    const fn new(body: &'static [u8], content_type: &'static str, path: fn() -> String) -> Asset {
        Asset {
            body,
            content_type,
            path: LazyLock::new(path),
        }
    }

    /// `/assets/{stem}.{hash}.{ext}`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

fn hashed(stem: &str, ext: &str, body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("/assets/{stem}.{}.{ext}", crate::session::hex(&digest[..5]))
}

pub static CSS: Asset = Asset::new(
    include_bytes!("../assets/app.css"),
    "text/css; charset=utf-8",
    || hashed("app", "css", include_bytes!("../assets/app.css")),
);
pub static JS: Asset = Asset::new(
    include_bytes!("../assets/app.js"),
    "text/javascript; charset=utf-8",
    || hashed("app", "js", include_bytes!("../assets/app.js")),
);
pub static ICON: Asset = Asset::new(
    include_bytes!("../assets/icon.svg"),
    "image/svg+xml",
    || hashed("icon", "svg", include_bytes!("../assets/icon.svg")),
);

static ALL: [&Asset; 3] = [&CSS, &JS, &ICON];

/// `GET /assets/{name}`: the file under its current hashed name, cached for a year;
/// any other name is 404 (an old hash included: its content is gone).
pub async fn serve(Path(name): Path<String>) -> Response {
    let wanted = format!("/assets/{name}");
    let Some(asset) = ALL.iter().find(|a| a.path() == wanted) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash() {
        let path = CSS.path();
        assert!(path.starts_with("/assets/app.") && path.ends_with(".css"));
        assert_eq!(path.len(), "/assets/app..css".len() + 10);
        assert_ne!(CSS.path(), JS.path());
        assert_eq!(hashed("a", "css", b"x"), hashed("a", "css", b"x"));
        assert_ne!(hashed("a", "css", b"x"), hashed("a", "css", b"y"));
    }
}
