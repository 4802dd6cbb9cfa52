//! `GET /kiosk.js`: the overlay checkout script, built into this binary.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// `kiosk.js` (the overlay checkout for the author's pages), built into this binary.
pub const KIOSK_JS: &str = include_str!("../../assets/kiosk.js");

/// The version of [`KIOSK_JS`] this binary serves: its `ETag`, and the `v=` of the URL
/// that may be cached for a year (`/kiosk.js?v={version}`).
pub fn kiosk_js_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| kiosk_web::version_of(KIOSK_JS.as_bytes()))
}

/// `GET /kiosk.js`.
pub(super) fn kiosk_js(req: &Request) -> Response<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return kiosk_web::text(StatusCode::METHOD_NOT_ALLOWED, "use GET");
    }
    kiosk_web::script(req, KIOSK_JS, kiosk_js_version())
}
