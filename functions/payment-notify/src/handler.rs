//! Route by URL (never by a body field), call the shop, render the outcome.
//!
//! `/notify/{channel}` and `/return/{channel}` go to the configured channel of that name
//! (404 for any other). Notify replies are what the provider reads: exactly the channel's
//! ack (Alipay's `success`, Stripe's any 2xx) once handled, duplicates and event types
//! Kiosk does not use included; `fail` otherwise, with 400 for a notification we refuse
//! and 500 for our own trouble, so the provider retries. A notification that is not a
//! payment yet (`WAIT_BUYER_PAY`, a Stripe session completed unpaid) changes nothing and
//! is acknowledged too: anything but the ack makes Alipay resend it about eight times
//! over a day for nothing, and the payment itself arrives as its own notification.
//!
//! Each request runs within its deadline ([`kiosk::deadline`]): a return page the
//! provider (or the store) is too slow for becomes the self-refreshing confirming page,
//! never the gateway's 503; a notification not handled in time answers `fail` (500), so
//! the provider sends it again.

use kiosk::channel::Channel;
use kiosk::i18n::Lang;
use kiosk::shop::{NotifyError, ReturnError, ReturnView, Shop};
use kiosk_web::pages;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

/// Largest notification accepted. Alipay's are under 2 KiB; a Stripe event carries the
/// whole object it is about (a charge with its payment details is several KiB), so the
/// limit is wider than the other functions' 16 KiB, and still far from a real attack's.
pub const MAX_NOTIFY_BODY: usize = 64 * 1024;

pub async fn handle(shop: &Shop, req: Request, now: OffsetDateTime) -> Response<Body> {
    let deadline = kiosk_web::deadline(&req);
    let is_notify = req.method() == Method::POST;
    match deadline.run(route(shop, &req, now)).await {
        Some(resp) => resp,
        None if is_notify => {
            tracing::error!("notify: out of time; the provider will send it again");
            kiosk_web::text(StatusCode::INTERNAL_SERVER_ERROR, "fail")
        }
        None => {
            tracing::warn!("return: out of time; showing the confirming page");
            kiosk_web::html(
                StatusCode::OK,
                pages::confirming_later(visitor_lang(shop, &req)),
            )
        }
    }
}

async fn route(shop: &Shop, req: &Request, now: OffsetDateTime) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/');
    let mut segments = path.rsplit('/');
    let (channel, kind) = (segments.next().unwrap_or(""), segments.next().unwrap_or(""));
    let Some(ch) = shop.channel_named(channel) else {
        return kiosk_web::html(
            StatusCode::NOT_FOUND,
            pages::error(visitor_lang(shop, req), "not-found-title", "not-found-body"),
        );
    };
    match (kind, req.method()) {
        ("notify", &Method::POST) => notify(shop, channel, ch.ack(), req, now).await,
        ("return", &Method::GET) => return_page(shop, channel, req, now).await,
        ("notify" | "return", _) => {
            kiosk_web::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => kiosk_web::html(
            StatusCode::NOT_FOUND,
            pages::error(visitor_lang(shop, req), "not-found-title", "not-found-body"),
        ),
    }
}

async fn notify(
    shop: &Shop,
    channel: &str,
    ack: &'static str,
    req: &Request,
    now: OffsetDateTime,
) -> Response<Body> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > MAX_NOTIFY_BODY {
        tracing::warn!(len = body.len(), "notify: body too large");
        return kiosk_web::text(StatusCode::PAYLOAD_TOO_LARGE, "fail");
    }
    match shop.notify(channel, body, req.headers(), now).await {
        Ok(outcome) => {
            tracing::info!(?outcome, "notify handled");
            kiosk_web::text(StatusCode::OK, ack)
        }
        Err(e @ NotifyError::NoChannel(_)) => {
            tracing::warn!(error = %e);
            kiosk_web::text(StatusCode::NOT_FOUND, "fail")
        }
        Err(
            e @ (NotifyError::Rejected(_)
            | NotifyError::UnknownOrder(_)
            | NotifyError::WrongChannel { .. }
            | NotifyError::NotTheOrders { .. }
            | NotifyError::Refused(_)),
        ) => {
            // Only events that claim to be ours get here: other integrations' objects on
            // the same provider account are acknowledged as irrelevant above.
            tracing::warn!(message = kiosk::alarm::NOTIFY_REFUSED, error = %kiosk::error_chain(&e));
            kiosk_web::text(StatusCode::BAD_REQUEST, "fail")
        }
        Err(e @ (NotifyError::Store(_) | NotifyError::Provider(_))) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "notify failed; provider will retry");
            kiosk_web::text(StatusCode::INTERNAL_SERVER_ERROR, "fail")
        }
    }
}

/// Whole minutes until `expires_at`, rounded up (0 once it has passed).
fn minutes_left(expires_at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let seconds = (expires_at - now).whole_seconds();
    if seconds <= 0 { 0 } else { (seconds + 59) / 60 }
}

/// The language of a page about no order we could read: the visitor's browser's.
fn visitor_lang(shop: &Shop, req: &Request) -> Lang {
    kiosk_web::request_lang(req, None, shop.config().default_lang)
}

async fn return_page(
    shop: &Shop,
    channel: &str,
    req: &Request,
    now: OffsetDateTime,
) -> Response<Body> {
    let query = req.uri().query().unwrap_or("");
    match shop.return_page(channel, query, now).await {
        Ok(ReturnView::Paid {
            order,
            download_url,
        }) => kiosk_web::html(
            StatusCode::OK,
            pages::paid(
                kiosk::i18n::Lang::of_purchase(order.lang, shop.config().default_lang),
                &order.product_title,
                order.id.as_str(),
                &download_url,
                order.email.as_str(),
                shop.config().help().as_str(),
            ),
        ),
        Ok(ReturnView::Confirming { order }) => {
            let lang = kiosk::i18n::Lang::of_purchase(order.lang, shop.config().default_lang);
            let html = match order.pay_code.as_deref() {
                // A payment the shop shows itself (WeChat Pay's Native QR code).
                Some(code_url) => pages::pay_by_qr(&pages::PayByQr {
                    lang,
                    product_title: &order.product_title,
                    amount: &lang.price(order.amount),
                    order_id: order.id.as_str(),
                    code_url,
                    minutes_left: minutes_left(order.expires_at, now),
                    help: shop.config().help().as_str(),
                }),
                None => pages::confirming(
                    lang,
                    &order.product_title,
                    order.id.as_str(),
                    shop.config().help().as_str(),
                ),
            };
            kiosk_web::html(StatusCode::OK, html)
        }
        Ok(ReturnView::Refunded { order }) => kiosk_web::html(
            StatusCode::OK,
            pages::refunded(
                kiosk::i18n::Lang::of_purchase(order.lang, shop.config().default_lang),
                &order.product_title,
                order.id.as_str(),
                shop.config().help().as_str(),
            ),
        ),
        Err(e @ ReturnError::Rejected(_)) => {
            tracing::warn!(error = %kiosk::error_chain(&e), "return refused");
            kiosk_web::html(
                StatusCode::BAD_REQUEST,
                pages::error(
                    visitor_lang(shop, req),
                    "return-invalid-title",
                    "return-invalid-body",
                ),
            )
        }
        Err(e @ ReturnError::Provider(_)) => {
            tracing::warn!(error = %e, source = ?std::error::Error::source(&e), "return: provider unavailable");
            kiosk_web::html(
                StatusCode::OK,
                pages::confirming_later(visitor_lang(shop, req)),
            )
        }
        Err(ReturnError::UnknownOrder(_) | ReturnError::NoChannel(_)) => kiosk_web::html(
            StatusCode::NOT_FOUND,
            pages::error(
                visitor_lang(shop, req),
                "order-not-found-title",
                "order-not-found-body",
            ),
        ),
        Err(e @ ReturnError::Store(_)) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "return page failed");
            kiosk_web::html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::error(visitor_lang(shop, req), "error-title", "error-refresh"),
            )
        }
    }
}
