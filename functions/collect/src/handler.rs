//! `POST /t`: one page view from `kiosk.js` (a JSON [`kiosk::collect::Beacon`], sent as
//! `text/plain` so the browser needs no preflight). Only the shop's own sites
//! (`EMBED_ORIGINS`, by the browser's `Origin`) are counted; the answer is the visitor's
//! variants, readable by that origin alone. Nothing is written on any error.

use kiosk::collect::{Beacon, CollectError, Collector, Sender};
use kiosk::config::CollectConfig;
use kiosk::net::Network;
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use time::OffsetDateTime;

/// Largest beacon accepted: ten products and five tests fit in well under 1 KiB.
pub const MAX_BEACON: usize = 4 * 1024;

fn reply(status: StatusCode, value: serde_json::Value, origin: Option<&str>) -> Response<Body> {
    let mut r = kiosk_web::json(status, &value);
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(v) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    r
}

fn refuse(status: StatusCode, message: &str, origin: Option<&str>) -> Response<Body> {
    reply(status, json!({ "error": { "message": message } }), origin)
}

pub async fn handle(
    collector: &Collector,
    config: &CollectConfig,
    req: Request,
    now: OffsetDateTime,
) -> Response<Body> {
    let origin = kiosk_web::header_str(&req, header::ORIGIN)
        .and_then(|o| config.site(o))
        .map(str::to_owned);
    let Some(site) = origin.as_deref() else {
        // Not one of the shop's pages (or not a browser): nothing to count, no answer.
        return refuse(StatusCode::FORBIDDEN, "not a page of this shop", None);
    };
    if req.method() != Method::POST {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "use POST", Some(site));
    }
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_BEACON {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "beacon too large",
            Some(site),
        );
    }
    let beacon: Beacon = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("not a beacon: {e}"),
                Some(site),
            );
        }
    };
    let from = Sender {
        network: Network::of(kiosk_web::source_ip(&req)),
        user_agent: kiosk_web::header_str(&req, header::USER_AGENT),
        site,
        opted_out: kiosk::visit::opted_out(
            kiosk_web::header_str(&req, header::HeaderName::from_static("sec-gpc")),
            kiosk_web::header_str(&req, header::HeaderName::from_static("dnt")),
        ),
    };
    match kiosk_web::deadline(&req)
        .run(collector.collect(beacon, &from, now))
        .await
    {
        Some(Ok(answer)) => {
            let variants: serde_json::Map<String, serde_json::Value> = answer
                .variants
                .iter()
                .map(|(t, v)| (t.to_string(), json!(v.as_str())))
                .collect();
            reply(
                StatusCode::OK,
                json!({
                    "variants": variants,
                    "counted": answer.counted,
                    // The variants, signed: the page passes it to checkout when it showed
                    // them (kiosk::abtest).
                    "token": answer.token.as_ref().map(|t| t.as_str()),
                }),
                Some(site),
            )
        }
        Some(Err(CollectError::Invalid(m))) => refuse(StatusCode::BAD_REQUEST, &m, Some(site)),
        Some(Err(CollectError::TooMany)) => refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many page views from this network",
            Some(site),
        ),
        Some(Err(e @ CollectError::Store(_))) => {
            tracing::error!(error = %kiosk::error_chain(&e), "collect failed");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "try again", Some(site))
        }
        None => {
            tracing::error!("collect: out of time");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "try again", Some(site))
        }
    }
}
