//! `POST /license/verify` and `GET /license/revoked` (docs/license-format.md, "Online
//! check").
//!
//! Verify takes `{"key": "…", "increment_uses": true}` as JSON, or the same as a form, and
//! answers JSON: for a key the shop issued, 200 `{valid, product, edition, seats, uses,
//! refunded}` (`valid` is false once the order was refunded), with `activated` when an
//! activation was asked for (409 when every seat is taken); for anything else, whether
//! no such key or not a key at all, the same 404 `{"valid": false}`. Over a per-network
//! or the shop-wide allowance: 429, the same for everyone.

use kiosk::licenses::{CheckError, Licenses, Verdict};
use kiosk::net::Network;
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

/// Largest request body accepted: a key and a flag fit in far less.
pub const MAX_BODY: usize = 1024;

/// How long a revocation list may be cached (by the program, or any cache between).
pub const REVOKED_MAX_AGE: u32 = 300;

/// What a verify request says.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    key: String,
    #[serde(default)]
    increment_uses: bool,
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    kiosk_web::json(status, &json!({ "error": { "message": message } }))
}

fn unknown() -> Response<Body> {
    kiosk_web::json(StatusCode::NOT_FOUND, &json!({ "valid": false }))
}

pub async fn handle(licenses: &Licenses, req: Request, now: OffsetDateTime) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    match (req.method(), path.as_str()) {
        (&Method::POST, "/license/verify") => verify(licenses, &req, now).await,
        (&Method::GET, "/license/revoked") => revoked(licenses, &req, now).await,
        (_, "/license/verify") => error(StatusCode::METHOD_NOT_ALLOWED, "use POST"),
        (_, "/license/revoked") => error(StatusCode::METHOD_NOT_ALLOWED, "use GET"),
        _ => error(StatusCode::NOT_FOUND, "no such page"),
    }
}

/// Why a verify request is refused before anything is read: its status and message.
type Refusal = (StatusCode, &'static str);

fn parse(req: &Request) -> Result<VerifyRequest, Refusal> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_BODY {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, "request too large"));
    }
    if kiosk_web::is_json_body(req) {
        return serde_json::from_slice(body).map_err(|_| {
            (
                StatusCode::BAD_REQUEST,
                "expected {\"key\": \"…\", \"increment_uses\": true|false}",
            )
        });
    }
    let text =
        kiosk_web::body_text(req).map_err(|_| (StatusCode::BAD_REQUEST, "the body is not text"))?;
    let form = kiosk::form::parse_form(text)
        .map_err(|_| (StatusCode::BAD_REQUEST, "the body is not a form"))?;
    let key = form
        .get("key")
        .ok_or((StatusCode::BAD_REQUEST, "give the license key as key"))?;
    let increment_uses = match form.get("increment_uses").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err((StatusCode::BAD_REQUEST, "increment_uses is true or false")),
    };
    Ok(VerifyRequest {
        key: key.clone(),
        increment_uses,
    })
}

async fn verify(licenses: &Licenses, req: &Request, now: OffsetDateTime) -> Response<Body> {
    let asked = match parse(req) {
        Ok(a) => a,
        Err((status, message)) => return error(status, message),
    };
    let network = Network::of(kiosk_web::source_ip(req));
    let verdict = kiosk_web::deadline(req)
        .run(licenses.verify(&asked.key, asked.increment_uses, &network, now))
        .await;
    match verdict {
        Some(Ok(Verdict::Unknown)) => unknown(),
        Some(Ok(Verdict::Known { record, activated })) => {
            let mut body = json!({
                "valid": !record.refunded,
                "product": record.product_id.as_str(),
                "edition": record.edition.as_str(),
                "seats": record.seats.get(),
                "uses": record.uses,
                "refunded": record.refunded,
            });
            let mut status = StatusCode::OK;
            if let Some(activated) = activated {
                body["activated"] = json!(activated);
                if !activated && !record.refunded {
                    status = StatusCode::CONFLICT;
                    body["error"] = json!({ "message": "every seat of this license is in use" });
                }
            }
            kiosk_web::json(status, &body)
        }
        Some(Err(CheckError::TooMany)) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many license checks; try again later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            r
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "license check failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "try again in a moment")
        }
        None => error(StatusCode::SERVICE_UNAVAILABLE, "try again in a moment"),
    }
}

async fn revoked(licenses: &Licenses, req: &Request, now: OffsetDateTime) -> Response<Body> {
    match kiosk_web::deadline(req)
        .run(licenses.revocation_list(now))
        .await
    {
        Some(Ok(list)) => {
            let mut r = kiosk_web::text(StatusCode::OK, &list);
            if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={REVOKED_MAX_AGE}")) {
                r.headers_mut().insert(header::CACHE_CONTROL, v);
            }
            r
        }
        Some(Err(CheckError::NoSigner)) => error(
            StatusCode::NOT_FOUND,
            "this shop has no license signing key",
        ),
        Some(Err(e)) => {
            tracing::error!(error = %e, "revocation list failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "try again in a moment")
        }
        None => error(StatusCode::SERVICE_UNAVAILABLE, "try again in a moment"),
    }
}
