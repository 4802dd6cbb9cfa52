//! Translate a checkout request into [`Checkout::start`] and its result into a response:
//! `303` to the payment page for forms, `{order_id, pay_url}` for JSON clients; errors as
//! an HTML page or JSON per `Accept`. Nothing is written on any error. A checkout not
//! finished within the request's deadline ([`kiosk::deadline`]) answers 503 "try again" (an order it wrote meanwhile stays pending and expires).

use kiosk::channel::{ChannelError, Device};
use kiosk::checkout::{BuyPage, Checkout, CheckoutError, CheckoutRequest};
use kiosk::form::parse_form;
use kiosk::order::{ChannelKind, Source};
use kiosk::{Email, ProductId};
use kiosk_web::{BodyError, body_text, header_str, is_json_body, pages, wants_json};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

/// A client error, naming the field when there is one.
#[derive(Debug)]
struct Problem {
    status: StatusCode,
    field: Option<&'static str>,
    message: String,
}

impl Problem {
    fn field(field: &'static str, message: impl Into<String>) -> Self {
        Problem {
            status: StatusCode::BAD_REQUEST,
            field: Some(field),
            message: message.into(),
        }
    }
    fn status(status: StatusCode, message: impl Into<String>) -> Self {
        Problem {
            status,
            field: None,
            message: message.into(),
        }
    }
}

#[derive(Deserialize, Default)]
struct JsonBody {
    product_id: Option<String>,
    email: Option<String>,
    device: Option<String>,
    channel: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    /// The page that linked to the hosted buy page (which itself sends no referrer).
    referrer: Option<String>,
}

fn parse(req: &Request) -> Result<CheckoutRequest, Problem> {
    if req.method() != Method::POST {
        return Err(Problem::status(StatusCode::METHOD_NOT_ALLOWED, "use POST"));
    }
    let text = body_text(req).map_err(|e| match e {
        BodyError::TooLarge => Problem::status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body is larger than 16 KiB",
        ),
        BodyError::NotUtf8 => Problem::status(StatusCode::BAD_REQUEST, "request body is not UTF-8"),
    })?;
    let body: JsonBody = if is_json_body(req) {
        serde_json::from_str(text).map_err(|e| {
            Problem::status(
                StatusCode::BAD_REQUEST,
                format!("request body is not valid JSON: {e}"),
            )
        })?
    } else {
        let mut f = parse_form(text)
            .map_err(|e| Problem::status(StatusCode::BAD_REQUEST, e.to_string()))?;
        JsonBody {
            product_id: f.remove("product_id"),
            email: f.remove("email"),
            device: f.remove("device"),
            channel: f.remove("channel"),
            utm_source: f.remove("utm_source"),
            utm_medium: f.remove("utm_medium"),
            utm_campaign: f.remove("utm_campaign"),
            referrer: f.remove("referrer"),
        }
    };
    let product_id = body
        .product_id
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Problem::field("product_id", "product_id is required"))?;
    let product_id = ProductId::parse(product_id.trim())
        .map_err(|e| Problem::field("product_id", e.to_string()))?;
    let email = body
        .email
        .ok_or_else(|| Problem::field("email", "email is required"))?;
    let email = Email::parse(&email).map_err(|e| Problem::field("email", e.to_string()))?;
    let device = Device::choose(body.device.as_deref(), header_str(req, header::USER_AGENT))
        .map_err(|m| Problem::field("device", m))?;
    let channel = match body.channel.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(c.parse::<ChannelKind>().map_err(|_| {
            Problem::field(
                "channel",
                format!("channel must be \"alipay\" or \"stripe\", got {c:?}"),
            )
        })?),
    };
    let source = Source {
        utm_source: Source::field(body.utm_source.as_deref()),
        utm_medium: Source::field(body.utm_medium.as_deref()),
        utm_campaign: Source::field(body.utm_campaign.as_deref()),
        referrer: Source::field(
            body.referrer
                .as_deref()
                .or_else(|| header_str(req, header::REFERER)),
        ),
    };
    Ok(CheckoutRequest {
        product_id,
        email,
        device,
        channel,
        source,
        network: kiosk::resend::Network::of(kiosk_web::source_ip(req)),
    })
}

fn problem_response(req: &Request, p: &Problem) -> Response<Body> {
    if wants_json(req) {
        kiosk_web::json(
            p.status,
            &json!({ "error": { "field": p.field, "message": p.message } }),
        )
    } else {
        let title = match p.status {
            StatusCode::NOT_FOUND => "Product not found",
            StatusCode::TOO_MANY_REQUESTS => "Too many checkouts",
            StatusCode::PAYLOAD_TOO_LARGE => "Request too large",
            s if s.is_server_error() => "Something went wrong",
            _ => "Please check your details",
        };
        kiosk_web::html(p.status, pages::error(title, &p.message))
    }
}

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
        return buy_page(shop, &req, id).await;
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
        match deadline.run(checkout(shop, &req, now)).await {
            Some(resp) => resp,
            None => {
                tracing::error!("checkout: out of time");
                out_of_time(json)
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

/// `kiosk.js` (the overlay checkout for the author's pages), built into this binary.
pub const KIOSK_JS: &str = include_str!("../assets/kiosk.js");

/// The version of [`KIOSK_JS`] this binary serves: its `ETag`, and the `v=` of the URL
/// that may be cached for a year (`/kiosk.js?v={version}`).
pub fn kiosk_js_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| kiosk_web::version_of(KIOSK_JS.as_bytes()))
}

/// `GET /kiosk.js`.
fn kiosk_js(req: &Request) -> Response<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return kiosk_web::text(StatusCode::METHOD_NOT_ALLOWED, "use GET");
    }
    kiosk_web::script(req, KIOSK_JS, kiosk_js_version())
}

/// `GET /buy/{product_id}`: the hosted buy page, rendered from the product as stored.
/// The `utm_*` parameters of its URL and the page that linked to it (`Referer`) ride
/// along as hidden fields, since the buy page itself sends no referrer.
///
/// `?embed={origin}` (what `kiosk.js` adds) asks for the page in its overlay: when
/// `origin` is one the shop allows (`EMBED_ORIGINS`), that origin alone may frame it and
/// the page talks to it with `postMessage`; any other value gets the ordinary page,
/// which no site may frame.
async fn buy_page(shop: &Checkout, req: &Request, id: &str) -> Response<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return kiosk_web::html(
            StatusCode::METHOD_NOT_ALLOWED,
            pages::error("Use the Buy Now button", "This page is only for viewing."),
        );
    }
    let page = match lookup(shop, req, id).await {
        Ok(page) => page,
        Err(Missing::NotFound) => {
            return kiosk_web::html(
                StatusCode::NOT_FOUND,
                pages::error(
                    "Product not found",
                    "There is no such product in this shop.",
                ),
            );
        }
        Err(Missing::Failed) => {
            return kiosk_web::html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::error("Something went wrong", "Please try again in a moment."),
            );
        }
        Err(Missing::OutOfTime) => return out_of_time(false),
    };
    let query = parse_form(req.uri().query().unwrap_or("")).unwrap_or_default();
    let embed = query
        .get("embed")
        .and_then(|o| shop.embed_origin(o))
        .map(str::to_owned);
    let mut hidden: Vec<(&str, String)> = ["utm_source", "utm_medium", "utm_campaign"]
        .into_iter()
        .filter_map(|k| Source::field(query.get(k).map(String::as_str)).map(|v| (k, v)))
        .collect();
    if let Some(r) = Source::field(header_str(req, header::REFERER)) {
        hidden.push(("referrer", r));
    }
    let hidden: Vec<(&str, &str)> = hidden.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let channels: Vec<(&str, &str)> = page
        .channels
        .iter()
        .map(|k| match k {
            ChannelKind::Alipay => ("alipay", "Alipay"),
            ChannelKind::Stripe => ("stripe", "Card"),
        })
        .collect();
    let product = &page.product;
    let price = buyer_price(product.price());
    let file = &product.file().name;
    let kind = file
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_uppercase())
        .filter(|ext| !ext.is_empty() && ext.len() <= 8)
        .unwrap_or_else(|| "File".to_owned());
    let html = pages::buy(&pages::BuyForm {
        product_id: product.id().as_str(),
        title: product.title(),
        price: &price,
        edition: product.edition().as_str(),
        file_kind: &kind,
        downloads: product.download_limit(),
        action: &page.checkout_url,
        channels: &channels,
        hidden: &hidden,
        embed: embed.as_deref(),
    });
    match &embed {
        Some(host) => kiosk_web::html_embedded(StatusCode::OK, html, host),
        None => kiosk_web::html(StatusCode::OK, html),
    }
}

/// `GET /products/{product_id}`: the product's public facts as JSON, for a page that
/// shows the live price (`data-kiosk-price`): any origin may read it (nothing private,
/// no credentials), and it is never cached, so a price changed with `kiosk` shows at once.
async fn product_json(shop: &Checkout, req: &Request, id: &str) -> Response<Body> {
    let reply = |status, value: serde_json::Value| {
        let mut r = kiosk_web::json(status, &value);
        r.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::HeaderValue::from_static("*"),
        );
        r
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "error": { "field": null, "message": "use GET" } }),
        );
    }
    let retry = json!({ "error": { "field": null, "message": "please try again in a moment" } });
    let page = match lookup(shop, req, id).await {
        Ok(page) => page,
        Err(Missing::NotFound) => {
            return reply(
                StatusCode::NOT_FOUND,
                json!({ "error": { "field": "product_id", "message": "no such product" } }),
            );
        }
        Err(Missing::Failed) => return reply(StatusCode::INTERNAL_SERVER_ERROR, retry),
        Err(Missing::OutOfTime) => return reply(StatusCode::SERVICE_UNAVAILABLE, retry),
    };
    let p = &page.product;
    let channels: Vec<&str> = page.channels.iter().map(|k| k.as_str()).collect();
    reply(
        StatusCode::OK,
        json!({
            "id": p.id().as_str(),
            "title": p.title(),
            "price": p.price().to_decimal(),
            "currency": p.price().currency().code(),
            "display_price": buyer_price(p.price()),
            "edition": p.edition().as_str(),
            "downloads": p.download_limit(),
            "channels": channels,
            "buy_url": page.buy_url,
        }),
    )
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

/// A price as buyers read it: the currency's sign and the amount (`¥9.00`, `$12.50`).
fn buyer_price(m: kiosk::Money) -> String {
    let sign = match m.currency() {
        kiosk::Currency::Cny => "¥",
        kiosk::Currency::Usd => "$",
        kiosk::Currency::Eur => "€",
        kiosk::Currency::Gbp => "£",
    };
    format!("{sign}{}", m.to_decimal())
}

/// The reply when checkout did not finish within the request's deadline (a slow
/// provider or store): nothing the buyer must undo; an order written meanwhile stays
/// pending and expires like any unpaid one.
fn out_of_time(json: bool) -> Response<Body> {
    let message = "We could not start your checkout in time. Please try again in a moment.";
    if json {
        kiosk_web::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "error": { "field": null, "message": message } }),
        )
    } else {
        kiosk_web::html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::error("Something went wrong", message),
        )
    }
}

async fn checkout(shop: &Checkout, req: &Request, now: OffsetDateTime) -> Response<Body> {
    let parsed = match parse(req) {
        Ok(r) => r,
        Err(p) => return problem_response(req, &p),
    };
    match shop.start(parsed, now).await {
        Ok(started) if wants_json(req) => kiosk_web::json(
            StatusCode::OK,
            &json!({ "order_id": started.order_id.as_str(), "pay_url": started.pay_url }),
        ),
        Ok(started) => kiosk_web::see_other(&started.pay_url),
        Err(CheckoutError::UnknownProduct(id)) => problem_response(
            req,
            &Problem {
                status: StatusCode::NOT_FOUND,
                field: Some("product_id"),
                message: format!("there is no product {id}"),
            },
        ),
        Err(CheckoutError::Channel(ChannelError::Currency(c))) => problem_response(
            req,
            &Problem::field(
                "channel",
                format!(
                    "this product is priced in {c}, which this payment method cannot take; choose another"
                ),
            ),
        ),
        Err(CheckoutError::TooMany) => problem_response(
            req,
            &Problem::status(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many checkouts were started from your network in the last hour. Please try again later; nothing was charged.",
            ),
        ),
        Err(CheckoutError::ChannelOff(name)) => problem_response(
            req,
            &Problem::field(
                "channel",
                format!("this shop does not take payments through {name}"),
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), "checkout failed");
            problem_response(
                req,
                &Problem::status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "We could not start your checkout. Please try again in a moment.",
                ),
            )
        }
    }
}
