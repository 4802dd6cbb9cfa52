//! Route, parse the token (a string that cannot be a token is a 404 without touching
//! DynamoDB), call `Downloads`, render. GET and HEAD never spend a download: mail
//! scanners and link previews fetch links. A request not answered within its deadline
//! ([`kiosk::deadline`]) gets a 503 "try again" page rather than the gateway's bare
//! one. (Only a DynamoDB that stalls for seconds gets there; a download spent just
//! before the cut counts without its link reaching the buyer, as with any lost reply.)

use kiosk::downloads::{DownloadError, Downloads};
use kiosk::form::parse_form;
use kiosk::resend::{Network, Resent};
use kiosk::{DownloadToken, Email};
use kiosk_web::{body_text, pages};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;
use time::macros::format_description;

fn date(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

pub async fn handle(app: &Downloads, req: Request, now: OffsetDateTime) -> Response<Body> {
    match kiosk_web::deadline(&req).run(route(app, &req, now)).await {
        Some(resp) => resp,
        None => {
            tracing::error!("download: out of time");
            kiosk_web::html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::error("Something went wrong", "Please try again in a moment."),
            )
        }
    }
}

async fn route(app: &Downloads, req: &Request, now: OffsetDateTime) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/');
    let mut segments = path.rsplit('/');
    let (last, parent) = (segments.next().unwrap_or(""), segments.next().unwrap_or(""));
    if parent != "download" {
        return kiosk_web::html(StatusCode::NOT_FOUND, pages::not_found_link());
    }
    if last == "resend" {
        return match *req.method() {
            Method::POST => resend(app, req, now).await,
            _ => kiosk_web::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        };
    }
    let Ok(token) = DownloadToken::parse(last) else {
        return kiosk_web::html(StatusCode::NOT_FOUND, pages::not_found_link());
    };
    match *req.method() {
        Method::GET | Method::HEAD => landing(app, &token, now).await,
        Method::POST => download(app, &token, now).await,
        _ => kiosk_web::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

fn error_page(app: &Downloads, e: DownloadError) -> Response<Body> {
    match e {
        DownloadError::NotFound => kiosk_web::html(StatusCode::NOT_FOUND, pages::not_found_link()),
        DownloadError::Gone { why, grant } => kiosk_web::html(
            StatusCode::GONE,
            pages::gone(
                why,
                &grant.product_title,
                grant.order_id.as_str(),
                app.config.sender_email.as_str(),
                grant.expires_at.map(date).as_deref(),
            ),
        ),
        e => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "download failed");
            kiosk_web::html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::error("Something went wrong", "Please try again in a moment."),
            )
        }
    }
}

async fn landing(app: &Downloads, token: &DownloadToken, now: OffsetDateTime) -> Response<Body> {
    match app.landing(token, now).await {
        Ok(g) => kiosk_web::html(
            StatusCode::OK,
            pages::download(
                &g.product_title,
                &g.edition,
                g.downloads_left,
                g.download_limit,
                g.expires_at.map(date).as_deref(),
                token.expose(),
            ),
        ),
        Err(e) => error_page(app, e),
    }
}

async fn download(app: &Downloads, token: &DownloadToken, now: OffsetDateTime) -> Response<Body> {
    match app.download(token, now).await {
        Ok((_, url)) => kiosk_web::see_other(&url),
        Err(e) => error_page(app, e),
    }
}

async fn resend(app: &Downloads, req: &Request, now: OffsetDateTime) -> Response<Body> {
    let email = body_text(req)
        .ok()
        .and_then(|b| parse_form(b).ok())
        .and_then(|mut f| f.remove("email"))
        .map(|e| Email::parse(&e));
    let email = match email {
        Some(Ok(e)) => e,
        Some(Err(e)) => {
            return kiosk_web::html(
                StatusCode::BAD_REQUEST,
                pages::error("Please check the address", &e.to_string()),
            );
        }
        None => {
            return kiosk_web::html(
                StatusCode::BAD_REQUEST,
                pages::error(
                    "Please enter your email",
                    "We need the address you bought with.",
                ),
            );
        }
    };
    let network = Network::of(kiosk_web::source_ip(req));
    match app.resend(&email, &network, now).await {
        // Depends on the requester's network alone, never on the address.
        Ok(Resent::TooManyFromNetwork) => {
            return kiosk_web::html(
                StatusCode::TOO_MANY_REQUESTS,
                pages::error(
                    "Too many requests",
                    "There have been too many link requests from your network. Please try again in an hour.",
                ),
            );
        }
        Ok(outcome) => tracing::info!(?outcome, "resend"),
        Err(e) => tracing::error!(error = %e, "resend failed"),
    }
    // Same page whatever happened: the response must not tell whether the address bought.
    kiosk_web::html(StatusCode::OK, pages::resend_sent())
}
