//! Route, parse the token (a string that cannot be a token is a 404 without touching
//! DynamoDB), call `Downloads`, render. GET and HEAD never spend a download: mail
//! scanners and link previews fetch links. A request not answered within its deadline
//! ([`kiosk::deadline`]) gets a 503 "try again" page rather than the gateway's bare
//! one. (Only a DynamoDB that stalls for seconds gets there; a download spent just
//! before the cut counts without its link reaching the buyer, as with any lost reply.)

use kiosk::downloads::{DownloadError, Downloads, Served};
use kiosk::form::parse_form;
use kiosk::i18n::Lang;
use kiosk::resend::{Network, Resent};
use kiosk::{DownloadToken, Email};
use kiosk_web::{body_text, pages};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

/// The language of a page about no grant we could read: the visitor's browser's.
fn visitor_lang(app: &Downloads, req: &Request) -> Lang {
    kiosk_web::request_lang(req, None, app.config().default_lang)
}

/// A grant's pages speak its order's language.
fn grant_lang(app: &Downloads, grant: &kiosk::Grant) -> Lang {
    Lang::of_purchase(grant.lang, app.config().default_lang)
}

pub async fn handle(app: &Downloads, req: Request, now: OffsetDateTime) -> Response<Body> {
    match kiosk_web::deadline(&req).run(route(app, &req, now)).await {
        Some(resp) => resp,
        None => {
            tracing::error!("download: out of time");
            kiosk_web::html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::error(visitor_lang(app, &req), "error-title", "error-try-again"),
            )
        }
    }
}

async fn route(app: &Downloads, req: &Request, now: OffsetDateTime) -> Response<Body> {
    let path = req.uri().path().trim_end_matches('/');
    let mut segments = path.rsplit('/');
    let (last, parent) = (segments.next().unwrap_or(""), segments.next().unwrap_or(""));
    if parent != "download" {
        return kiosk_web::html(
            StatusCode::NOT_FOUND,
            pages::not_found_link(visitor_lang(app, req)),
        );
    }
    if last == "resend" {
        return match *req.method() {
            Method::POST => resend(app, req, now).await,
            _ => kiosk_web::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        };
    }
    let Ok(token) = DownloadToken::parse(last) else {
        return kiosk_web::html(
            StatusCode::NOT_FOUND,
            pages::not_found_link(visitor_lang(app, req)),
        );
    };
    match *req.method() {
        Method::GET | Method::HEAD => landing(app, req, &token, now).await,
        Method::POST => download(app, req, &token, now).await,
        _ => kiosk_web::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

fn error_page(app: &Downloads, req: &Request, e: DownloadError) -> Response<Body> {
    match e {
        DownloadError::NotFound => kiosk_web::html(
            StatusCode::NOT_FOUND,
            pages::not_found_link(visitor_lang(app, req)),
        ),
        DownloadError::Gone { why, grant } => {
            let lang = grant_lang(app, &grant);
            kiosk_web::html(
                StatusCode::GONE,
                pages::gone(
                    lang,
                    why,
                    &grant.product_title,
                    grant.order_id.as_str(),
                    app.config().help().as_str(),
                    grant.expires_at.map(|t| lang.datetime(t)).as_deref(),
                ),
            )
        }
        e => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "download failed");
            kiosk_web::html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::error(visitor_lang(app, req), "error-title", "error-try-again"),
            )
        }
    }
}

async fn landing(
    app: &Downloads,
    req: &Request,
    token: &DownloadToken,
    now: OffsetDateTime,
) -> Response<Body> {
    match app.landing(token, now).await {
        Ok(g) => download_page(app, &g, None),
        Err(e) => error_page(app, req, e),
    }
}

/// The landing page of `g`; `preparing`: the file whose stamped copy is being made.
fn download_page(app: &Downloads, g: &kiosk::Grant, preparing: Option<usize>) -> Response<Body> {
    let lang = grant_lang(app, g);
    let files: Vec<pages::DownloadFile<'_>> = g
        .files
        .iter()
        .zip(&g.downloads_left)
        .map(|(f, &left)| pages::DownloadFile {
            name: &f.name,
            size: f.size,
            left,
        })
        .collect();
    let expires = g.expires_at.map(|t| lang.datetime(t));
    kiosk_web::html(
        StatusCode::OK,
        pages::download(&pages::DownloadPage {
            lang,
            title: &g.product_title,
            edition: g.edition.as_str(),
            files: &files,
            limit: g.download_limit,
            expires: expires.as_deref(),
            token: g.token.expose(),
            stamped: g.stamp && g.files.has_pdf(),
            preparing: preparing
                .and_then(|i| g.files.get(i))
                .map(|f| f.name.as_str()),
            license: g
                .license
                .as_ref()
                .map(|l| (l.key.expose(), l.signed.as_deref())),
        }),
    )
}

/// Which file a download asks for: the form's `file` (its position on the page); none
/// (a page from before several files): the first. `None`: not a position.
fn file_asked(req: &Request) -> Option<usize> {
    let form = body_text(req)
        .ok()
        .and_then(|b| parse_form(b).ok())
        .unwrap_or_default();
    match form.get("file") {
        None => Some(0),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|&i| i < kiosk::product::MAX_FILES),
    }
}

async fn download(
    app: &Downloads,
    req: &Request,
    token: &DownloadToken,
    now: OffsetDateTime,
) -> Response<Body> {
    let Some(file) = file_asked(req) else {
        return error_page(app, req, DownloadError::NotFound);
    };
    match app.download(token, file, now).await {
        Ok(Served::Url { grant, url }) => kiosk_web::see_other(grant_lang(app, &grant), &url),
        // Nothing spent: the page says the copy is being made and reloads itself.
        Ok(Served::Preparing { grant, file }) => download_page(app, &grant, Some(file)),
        Err(e) => error_page(app, req, e),
    }
}

/// "Email me my links": the form's `lang` (the page it was on) is the language of the
/// answer and of the mail.
async fn resend(app: &Downloads, req: &Request, now: OffsetDateTime) -> Response<Body> {
    let mut form = body_text(req)
        .ok()
        .and_then(|b| parse_form(b).ok())
        .unwrap_or_default();
    let lang = kiosk_web::request_lang(
        req,
        form.get("lang").map(String::as_str),
        app.config().default_lang,
    );
    let email = match form.remove("email").map(|e| Email::parse(&e)) {
        Some(Ok(e)) => e,
        Some(Err(e)) => {
            tracing::info!(error = %e, "resend: not an address");
            return kiosk_web::html(
                StatusCode::BAD_REQUEST,
                pages::error(lang, "resend-bad-email-title", "resend-bad-email-body"),
            );
        }
        None => {
            return kiosk_web::html(
                StatusCode::BAD_REQUEST,
                pages::error(lang, "resend-no-email-title", "resend-no-email-body"),
            );
        }
    };
    let network = Network::of(kiosk_web::source_ip(req));
    match app.resend(&email, &network, lang, now).await {
        // Depends on the requester's network alone, never on the address.
        Ok(Resent::TooManyFromNetwork) => {
            return kiosk_web::html(
                StatusCode::TOO_MANY_REQUESTS,
                pages::error(lang, "resend-too-many-title", "resend-too-many-body"),
            );
        }
        Ok(outcome) => tracing::info!(?outcome, "resend"),
        Err(e) => tracing::error!(error = %e, "resend failed"),
    }
    // Same page whatever happened: the response must not tell whether the address bought.
    kiosk_web::html(StatusCode::OK, pages::resend_sent(lang))
}
