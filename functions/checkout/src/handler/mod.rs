//! Translate a checkout request into [`Checkout::start`] and its result into a response:
//! `303` to the payment page for forms, `{order_id, pay_url}` for JSON clients; errors as
//! an HTML page or JSON per `Accept`. Nothing is written on any error. A checkout not
//! finished within the request's deadline ([`kiosk::deadline`]) answers 503 "try again" (an order it wrote meanwhile stays pending and expires).

//!
//! One module per route, each with what only it uses: `checkout` (`POST /checkout`, its
//! body, its problems), `buy_page` (`GET /buy/{id}`), `products` (`GET /products/{id}`),
//! `kiosk_js` (`GET /kiosk.js`); this file dispatches and holds what two routes share.

mod buy_page;
mod checkout;
mod kiosk_js;
mod products;

pub use kiosk_js::{KIOSK_JS, kiosk_js_version};

use buy_page::buy_page;
use checkout::checkout;
use kiosk_js::kiosk_js;
use products::product_json;

use kiosk::ProductId;
use kiosk::checkout::{BuyPage, Checkout};
use kiosk::i18n::Lang;
use kiosk_web::{header_str, pages, request_lang, wants_json};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use time::OffsetDateTime;

/// CORS for a shop page on another origin that calls checkout with `fetch` (JSON): the
/// origins in `CORS_ALLOWED_ORIGINS` get their preflight answered and
/// `Access-Control-Allow-Origin` on every reply; any other origin gets no CORS header, so
/// its browser keeps the reply from its script. No credentials are involved (checkout
/// uses no cookies), so none are allowed.
pub async fn handle(shop: &Checkout, req: Request, now: OffsetDateTime) -> Response<Body> {
    if req.uri().path() == "/kiosk.js" {
        return kiosk_js(&req);
    }
    if let Some(id) = req.uri().path().strip_prefix("/buy/") {
        // Boxed: the page's future is large, and callers nest it in their own.
        return Box::pin(buy_page(shop, &req, id, now)).await;
    }
    if let Some(id) = req.uri().path().strip_prefix("/products/") {
        return product_json(shop, &req, id).await;
    }
    let origin = header_str(&req, header::ORIGIN)
        .filter(|o| {
            shop.cors_origins()
                .iter()
                .any(|a| a.eq_ignore_ascii_case(o))
        })
        .map(str::to_owned);
    let mut resp = if req.method() == Method::OPTIONS {
        let status = if origin.is_some() {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        let mut r = kiosk_web::text(status, "");
        if origin.is_some() {
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                header::HeaderValue::from_static("POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                header::HeaderValue::from_static("content-type, accept"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                header::HeaderValue::from_static("600"),
            );
        }
        r
    } else {
        let deadline = kiosk_web::deadline(&req);
        let json = wants_json(&req);
        match deadline.run(Box::pin(checkout(shop, &req, now))).await {
            Some(resp) => resp,
            None => {
                tracing::error!("checkout: out of time");
                out_of_time(request_lang(&req, None, shop.default_lang()), json)
            }
        }
    };
    if !shop.cors_origins().is_empty() {
        resp.headers_mut()
            .append(header::VARY, header::HeaderValue::from_static("Origin"));
    }
    if let Some(value) = origin.and_then(|o| header::HeaderValue::from_str(&o).ok()) {
        resp.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    resp
}

/// Why a product's page or facts cannot be shown.
enum Missing {
    NotFound,
    Failed,
    OutOfTime,
}

/// The product `id` (from the path) as the buy page and its JSON show it, read within
/// the request's deadline; a malformed id is simply not found.
async fn lookup(shop: &Checkout, req: &Request, id: &str) -> Result<BuyPage, Missing> {
    let id = ProductId::parse(id).map_err(|_| Missing::NotFound)?;
    match kiosk_web::deadline(req).run(shop.buy_page(&id)).await {
        Some(Ok(Some(page))) => Ok(page),
        Some(Ok(None)) => Err(Missing::NotFound),
        Some(Err(e)) => {
            tracing::error!(error = %kiosk::error_chain(&e), "product lookup failed");
            Err(Missing::Failed)
        }
        None => Err(Missing::OutOfTime),
    }
}

/// The reply when checkout did not finish within the request's deadline (a slow
/// provider or store): nothing the buyer must undo; an order written meanwhile stays
/// pending and expires like any unpaid one.
fn out_of_time(lang: Lang, json: bool) -> Response<Body> {
    if json {
        let message = "We could not start your checkout in time. Please try again in a moment.";
        kiosk_web::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "error": { "field": null, "message": message } }),
        )
    } else {
        kiosk_web::html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::error(lang, "error-title", "checkout-out-of-time"),
        )
    }
}
