//! Route by URL (never by a body field), call the shop, render the outcome.
//!
//! Notify replies are what the provider reads: exactly the channel's ack (`success`) once
//! handled, duplicates included; `fail` otherwise, with 400 for a notification we refuse
//! and 500 for our own trouble, so the provider retries. A `WAIT_BUYER_PAY` changes
//! nothing and gets `202 not-paid`.

use kiosk::channel::Channel;
use kiosk::shop::{NotifyError, NotifyOutcome, ReturnError, ReturnView, Shop};
use kiosk_web::{body_text, pages};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

pub async fn handle<C: Channel>(
    shop: &Shop<C>,
    req: Request,
    now: OffsetDateTime,
) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/');
    let mut segments = path.rsplit('/');
    let (channel, kind) = (segments.next().unwrap_or(""), segments.next().unwrap_or(""));
    if channel != shop.channel.kind().as_str() {
        return kiosk_web::html(
            StatusCode::NOT_FOUND,
            pages::error("Not found", "There is nothing at this address."),
        );
    }
    match (kind, req.method()) {
        ("notify", &Method::POST) => notify(shop, &req, now).await,
        ("return", &Method::GET) => return_page(shop, &req, now).await,
        ("notify" | "return", _) => {
            kiosk_web::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => kiosk_web::html(
            StatusCode::NOT_FOUND,
            pages::error("Not found", "There is nothing at this address."),
        ),
    }
}

async fn notify<C: Channel>(shop: &Shop<C>, req: &Request, now: OffsetDateTime) -> Response<Body> {
    let body = match body_text(req) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(?e, "notify: unreadable body");
            return kiosk_web::text(StatusCode::BAD_REQUEST, "fail");
        }
    };
    match shop.notify(body, now).await {
        // Not a payment: nothing changed. Answered with something other than the ack so
        // the provider keeps telling us until the trade settles (paid or closed).
        Ok(NotifyOutcome::Ignored) => kiosk_web::text(StatusCode::ACCEPTED, "not-paid"),
        Ok(outcome) => {
            tracing::info!(?outcome, "notify handled");
            kiosk_web::text(StatusCode::OK, shop.channel.ack())
        }
        Err(
            e @ (NotifyError::Rejected(_) | NotifyError::UnknownOrder(_) | NotifyError::Refused(_)),
        ) => {
            tracing::warn!(message = kiosk::alarm::NOTIFY_REFUSED, error = %e);
            kiosk_web::text(StatusCode::BAD_REQUEST, "fail")
        }
        Err(e @ NotifyError::Store(_)) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "notify failed; provider will retry");
            kiosk_web::text(StatusCode::INTERNAL_SERVER_ERROR, "fail")
        }
    }
}

async fn return_page<C: Channel>(
    shop: &Shop<C>,
    req: &Request,
    now: OffsetDateTime,
) -> Response<Body> {
    let query = req.uri().query().unwrap_or("");
    match shop.return_page(query, now).await {
        Ok(ReturnView::Paid {
            order,
            download_url,
        }) => kiosk_web::html(
            StatusCode::OK,
            pages::paid(
                &order.product_title,
                order.id.as_str(),
                &download_url,
                order.email.as_str(),
            ),
        ),
        Ok(ReturnView::Confirming { order }) => kiosk_web::html(
            StatusCode::OK,
            pages::confirming(&order.product_title, order.id.as_str()),
        ),
        Ok(ReturnView::Refunded { order }) => kiosk_web::html(
            StatusCode::OK,
            pages::refunded(&order.product_title, order.id.as_str()),
        ),
        Err(e @ ReturnError::Rejected(_)) => {
            tracing::warn!(error = %e, "return refused");
            kiosk_web::html(
                StatusCode::BAD_REQUEST,
                pages::error(
                    "We could not verify this page",
                    "This return link is not a valid one from the payment provider. If you paid, your download link is on its way to your email.",
                ),
            )
        }
        Err(ReturnError::UnknownOrder(_)) => kiosk_web::html(
            StatusCode::NOT_FOUND,
            pages::error(
                "Order not found",
                "We have no record of this order. If you paid, please reply to your receipt email.",
            ),
        ),
        Err(e @ ReturnError::Store(_)) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "return page failed");
            kiosk_web::html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::error(
                    "Something went wrong",
                    "Please refresh this page in a moment.",
                ),
            )
        }
    }
}
